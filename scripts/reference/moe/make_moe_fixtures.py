"""Regenerate test/fixtures/lladamoe and test/fixtures/llada2: tiny random mixture-of-experts checkpoints in
the official Hugging Face layouts (config.json + 2 safetensors shards + model.safetensors.index.json, tokenizer
files) and the PyTorch logits they give.

    /usr/bin/python3 scripts/reference/moe/make_moe_fixtures.py /tmp/modeling_lladamoe.py /tmp/modeling_llada2_moe.py

The two official files are fetched to /tmp at fixture-making time and never committed:
  InfiniTensor/InfiniLM modeling_lladamoe.py at 0a7e522 (a copy of inclusionAI's LLaDA-MoE remote code)
  inclusionAI/dInfer python/dinfer/model/modeling_llada2_moe.py at fce4e32

  lladamoe  logits from the official modeling_lladamoe.py, imported unchanged through hf_shim.py (stand-ins for
            the few transformers names it imports; no transformers is installed here)
  llada2    logits from the official classes of dInfer's modeling_llada2_moe.py (llada2_official.py: attention,
            RoPE, norms, gate, MLPs official; the sparse combine and the layer loop ours, since dInfer's block
            needs vLLM), cross-checked against llada2_reference.py, our step-by-step reimplementation of the
            Hugging Face modeling_llada2_moe.py (max |difference| recorded in MANIFEST.json)

Each checkpoint exercises: GQA (4 heads, 2 kv heads), a dense first layer, a shared expert, expert bias, q/k
norms, attention biases, sharded weights; llada2 also fused q/k/v, partial RoPE (half of head_dim) and
group-limited routing. Seeds are searched until every routing decision (top-k cut, group cut) has a margin
> 1e-3, and until the expert bias (and, for llada2, the group limit) changes at least one token's choice, so
the fixture shows each rule matters and float noise cannot flip a choice.
"""
import json
import os
import platform
import sys
import tempfile

import numpy
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import hf_layout as hf  # noqa: E402
import hf_shim  # noqa: E402
import llada2_official  # noqa: E402
import llada2_reference  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures")
R = hf.REGULAR_TOKENS  # 280 regular tokens; specials after them
# LLaDA-MoE / LLaDA2 generate() defaults: eos_id 156892, mask_id 156895 (keyword defaults of the official
# generate(), not in config.json); shrunk here keeping their order and gap
SPECIALS = {"<|endoftext|>": R, "<|mask|>": R + 3}
EOS, MASK = R, R + 3
VOCAB = 288
B, T, BLOCK = 2, 12, 4  # inputs (B, T); llada2 attends block-causally in blocks of 4, as its generate() does
MARGIN = 1e-3
WEIGHT_STD, ROUTER_STD, BIAS_STD = 0.1, 0.5, 0.05
CHAT_TEMPLATE = ("{% for m in messages %}<role>{{ m['role'] }}</role>{{ m['content'] }}{% endfor %}"
                 "{% if add_generation_prompt %}<role>assistant</role>{% endif %}")  # a placeholder, not the models'

COMMON = {"vocab_size": VOCAB, "hidden_size": 32, "num_hidden_layers": 3, "num_attention_heads": 4,
          "num_key_value_heads": 2, "hidden_act": "silu", "max_position_embeddings": 64, "initializer_range": 0.02,
          "use_cache": False, "pad_token_id": EOS, "eos_token_id": EOS, "tie_word_embeddings": False,
          "rope_scaling": None, "attention_dropout": 0.0, "output_router_logits": False, "torch_dtype": "float32"}
CONFIGS = {
    # configuration_lladamoe.py LLaDAConfig's field set; norm_topk_prob true on purpose: the official block
    # hard-codes norm_topk_prob = False and never reads the key
    "lladamoe": {"architectures": ["LLaDAMoEModelLM"], "model_type": "llada", **COMMON, "bos_token_id": None,
                 "dense_intermediate_size": 48, "expert_intermediate_size": 16, "shared_expert_intermediate_size": 16,
                 "rms_norm_eps": 1e-5, "rope_theta": 50000.0, "partial_rotary_factor": 1.0, "attention_bias": True,
                 "clip_qkv": None, "num_experts_per_tok": 2, "num_experts": 8, "router_aux_loss_coef": 0.01,
                 "norm_topk_prob": True, "qk_layernorm": True, "moe_layer_freq": [0, 1, 1],
                 "moe_router_enable_expert_bias": True, "moe_router_score_function": "softmax",
                 "routed_scaling_factor": 1, "router_num_group": None, "router_topk_group": None},
    # LLaDA2MoeConfig's field set (dInfer configuration_llada2_moe.py)
    "llada2": {"architectures": ["LLaDA2MoeModelLM"], "model_type": "llada2_moe", **COMMON, "head_dim": 8,
               "intermediate_size": 48, "use_qkv_bias": True, "use_qk_norm": True, "use_bias": True,
               "rms_norm_eps": 1e-6, "norm_head": False, "embedding_dropout": 0.0, "output_dropout": 0.0,
               "rope_theta": 600000.0, "use_sliding_window": False, "sliding_window": 4096, "max_window_layers": 28,
               "num_experts": 12, "num_shared_experts": 1, "num_experts_per_tok": 3, "n_group": 3, "topk_group": 2,
               "routed_scaling_factor": 2.5, "moe_intermediate_size": 8, "first_k_dense_replace": 1,
               "partial_rotary_factor": 0.5, "score_function": "sigmoid", "moe_router_enable_expert_bias": True,
               "norm_topk_prob": True},
}
SEEDS = {"lladamoe": 4004, "llada2": 5005}
CROSS_CHECK = {}


def llada2_shapes(c):
    C, H, Hkv, D, V = c["hidden_size"], c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"], c["vocab_size"]
    s = {"model.word_embeddings.weight": (V, C), "model.norm.weight": (C,), "lm_head.weight": (V, C)}
    mlp = lambda p, F: {p + "gate_proj.weight": (F, C), p + "up_proj.weight": (F, C), p + "down_proj.weight": (C, F)}
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        s.update({p + "input_layernorm.weight": (C,), p + "post_attention_layernorm.weight": (C,),
                  p + "attention.query_key_value.weight": ((H + 2 * Hkv) * D, C), p + "attention.query_key_value.bias": ((H + 2 * Hkv) * D,),
                  p + "attention.query_layernorm.weight": (D,), p + "attention.key_layernorm.weight": (D,),
                  p + "attention.dense.weight": (C, H * D), p + "attention.dense.bias": (C,)})
        if i < c["first_k_dense_replace"]:
            s.update(mlp(p + "mlp.", c["intermediate_size"]))
            continue
        s.update({p + "mlp.gate.weight": (c["num_experts"], C), p + "mlp.gate.expert_bias": (c["num_experts"],)})
        for e in range(c["num_experts"]):
            s.update(mlp(f"{p}mlp.experts.{e}.", c["moe_intermediate_size"]))
        s.update(mlp(p + "mlp.shared_experts.", c["moe_intermediate_size"] * c["num_shared_experts"]))
    return s


def random_weights(shapes, seed):
    g = torch.Generator().manual_seed(seed)
    out = {}
    for name in sorted(shapes):
        shape = shapes[name]
        x = torch.randn(shape, generator=g, dtype=torch.float64)
        if name.endswith("norm.weight") or name.endswith("layernorm.weight"):
            x = 1 + 0.1 * x
        elif "expert_bias" in name:
            x = BIAS_STD * x
        elif name.endswith(".bias"):
            x = BIAS_STD * x
        elif name.endswith("mlp.gate.weight"):
            x = ROUTER_STD * x
        else:
            x = WEIGHT_STD * x
        out[name] = x.float().contiguous()
    return out


def make_inputs(seed):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, R, (B, T), generator=g, dtype=torch.int64)
    ids[0, -3:] = MASK  # a canvas still being unmasked
    ids[1, 5:8] = MASK
    pos = torch.arange(T, dtype=torch.int64)[None].expand(B, T).contiguous()
    return ids, pos


def topk_set(x, k):
    return [frozenset(r) for r in torch.topk(x, k, dim=-1)[1].tolist()]


def kth_margin(x, k):  # per row: k-th largest − (k+1)-th largest
    s = torch.sort(x, dim=-1, descending=True)[0]
    return s[:, k - 1] - s[:, k]


def routing_stats(fam, c, layers):
    """layers: [(logits (N, E), bias (E))]; margins and how often each rule changes a choice"""
    K = c["num_experts_per_tok"]
    stats = {"min_margin": float("inf"), "bias_changes": 0, "group_changes": 0, "layers": len(layers)}
    for logits, bias in layers:
        logits, bias = logits.double(), bias.double()
        if fam == "lladamoe":
            p = torch.softmax(logits, dim=-1)
            s = p + bias
            stats["min_margin"] = min(stats["min_margin"], float(kth_margin(s, K).min()))
            stats["bias_changes"] += sum(a != b for a, b in zip(topk_set(p, K), topk_set(s, K)))
            continue
        G, TG, E = c["n_group"], c["topk_group"], c["num_experts"]
        sig = torch.sigmoid(logits)

        def grouped(choose):
            gs = choose.view(-1, G, E // G).topk(2, dim=-1)[0].sum(-1)
            keep = torch.zeros_like(gs).scatter_(1, torch.topk(gs, TG, dim=-1)[1], 1).bool()
            allowed = keep[:, :, None].expand(-1, G, E // G).reshape(-1, E)
            return gs, choose.masked_fill(~allowed, float("-inf"))

        gs, masked = grouped(sig + bias)
        stats["min_margin"] = min(stats["min_margin"], float(kth_margin(gs, TG).min()), float(kth_margin(masked, K).min()))
        stats["group_changes"] += sum(a != b for a, b in zip(topk_set(sig + bias, K), topk_set(masked, K)))
        stats["bias_changes"] += sum(a != b for a, b in zip(topk_set(grouped(sig)[1], K), topk_set(masked, K)))
    return stats


def run_lladamoe(official, c, w, ids, pos):
    model = official.LLaDAMoEModelLM(hf_shim.ShimConfig(c)).eval()
    model.load_state_dict(w, strict=True)  # the official module tree names every tensor
    caught = []
    for i, layer in enumerate(model.model.layers):
        if c["moe_layer_freq"][i]:
            layer.mlp.gate.register_forward_hook(lambda m, inp, out, i=i: caught.append((i, out.detach())))
    with torch.no_grad():
        logits = model(input_ids=ids, position_ids=pos).logits.float()
    layers = [(lg, w[f"model.layers.{i}.mlp.expert_bias"]) for i, lg in caught]
    # the choice LLaDAMoESparseMoeBlock.forward makes: topk(softmax(logits) + expert_bias)
    chosen = {i: torch.topk(torch.softmax(lg, dim=1, dtype=torch.float) + w[f"model.layers.{i}.mlp.expert_bias"],
                            c["num_experts_per_tok"], dim=-1)[1] for i, lg in caught}
    return logits, layers, chosen, None


def run_llada2(official2, c, w, ids, pos):
    blocks = torch.arange(T) // BLOCK
    mask01 = (blocks[None, :] <= blocks[:, None]).float()[None, None].expand(B, 1, T, T)  # generate()'s block mask
    routing, ours = [], []
    with torch.no_grad():
        logits = llada2_official.forward(official2, c, w, ids, mask01, pos, routing)
        mine = llada2_reference.forward(w, c, ids, mask01, pos, ours)
    CROSS_CHECK["llada2_reference_max_abs_diff"] = float((mine - logits).abs().max())
    assert CROSS_CHECK["llada2_reference_max_abs_diff"] < 1e-5, CROSS_CHECK
    assert all(torch.equal(a[0], b[0]) for a, b in zip(routing, ours)), "reimplementation routes differently"
    moe_layers = [i for i in range(c["num_hidden_layers"]) if i >= c["first_k_dense_replace"]]
    layers = [(lg, w[f"model.layers.{i}.mlp.gate.expert_bias"]) for i, (_, lg) in zip(moe_layers, routing)]
    chosen = {i: idx for i, (idx, _) in zip(moe_layers, routing)}
    return logits, layers, chosen, mask01


def write(path, data, files):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    files[os.path.basename(path)] = {"bytes": len(data), "sha256": hf.sha256(data)}


def build(fam, official, official2):
    c = CONFIGS[fam]
    if fam == "lladamoe":
        shapes = {k: tuple(v.shape) for k, v in official.LLaDAMoEModelLM(hf_shim.ShimConfig(c)).state_dict().items()}
    else:
        shapes = llada2_shapes(c)
    seed = SEEDS[fam]
    for attempt in range(200):
        w = random_weights(shapes, seed + attempt)
        ids, pos = make_inputs(seed + attempt + 10_000)
        logits, layers, chosen, mask01 = run_lladamoe(official, c, w, ids, pos) if fam == "lladamoe" else run_llada2(official2, c, w, ids, pos)
        st = routing_stats(fam, c, layers)
        if st["min_margin"] > MARGIN and st["bias_changes"] > 0 and (fam == "lladamoe" or st["group_changes"] > 0):
            break
    else:
        raise SystemExit(f"{fam}: no seed with routing margins > {MARGIN} in 200 tries")
    d = os.path.join(OUT, fam)
    files = {}
    ref = {"input_ids": ids.int(), "position_ids": pos.int(), "logits": logits.contiguous()}
    for i, idx in chosen.items():
        ref[f"routing.{i}.experts"] = idx.int().contiguous()  # (B·T, K) the official choice, best first
    meta = {"family": fam, "logits": "raw model output (B, T, V) in f32, every row valid",
            "position_ids": "0..T-1 in every row",
            "routing": "routing.{layer}.experts (B*T, K): the experts the official code chose per token"}
    if fam == "lladamoe":
        meta["attention"] = "bidirectional, no mask (modeling_lladamoe.py sets attention_mask to None)"
        meta["source"] = "official modeling_lladamoe.py through hf_shim.py"
    else:
        ref["attention_mask"] = mask01[:, 0].int().contiguous()  # (B, T, T) 1 = attend
        meta["attention"] = f"block-causal, blocks of {BLOCK}: query i attends key j iff j // {BLOCK} <= i // {BLOCK} (generate()'s mask)"
        meta["block_length"] = str(BLOCK)
        meta["source"] = "official dInfer modeling_llada2_moe.py classes through llada2_official.py"
    write(os.path.join(d, "reference.safetensors"), hf.safetensors_bytes(ref, meta), files)
    write(os.path.join(d, "config.json"), hf.dumps(c), files)
    write(os.path.join(d, "generation_config.json"), hf.dumps({"eos_token_id": EOS, "mask_token_id": MASK, "pad_token_id": EOS}), files)
    write(os.path.join(d, "tokenizer.json"), hf.dumps(hf.tokenizer_json("llama3", SPECIALS)), files)
    tc = {"added_tokens_decoder": hf.added_tokens_decoder(SPECIALS), "chat_template": CHAT_TEMPLATE, "eos_token": "<|endoftext|>",
          "mask_token": "<|mask|>", "pad_token": "<|endoftext|>", "model_max_length": 64, "tokenizer_class": "PreTrainedTokenizerFast"}
    write(os.path.join(d, "tokenizer_config.json"), hf.dumps(tc), files)
    cut = "model.layers.2."  # shard 1: embedding, layers 0-1; shard 2: layer 2, final norm, head
    names = sorted(w)
    first = [n for n in names if n.startswith("model.layers.") and not n.startswith(cut) or "embeddings" in n or "embed_tokens" in n]
    shards = {"model-00001-of-00002.safetensors": {n: w[n] for n in first},
              "model-00002-of-00002.safetensors": {n: w[n] for n in names if n not in first}}
    for file, ts in shards.items():
        write(os.path.join(d, file), hf.safetensors_bytes(ts, {"format": "pt"}), files)
    write(os.path.join(d, "model.safetensors.index.json"), hf.shard_index(shards).encode(), files)
    manifest = {
        "generator": "scripts/reference/moe/make_moe_fixtures.py",
        "command": "/usr/bin/python3 scripts/reference/moe/make_moe_fixtures.py /tmp/modeling_lladamoe.py /tmp/modeling_llada2_moe.py",
        "official_sources": {"lladamoe": "InfiniTensor/InfiniLM modeling_lladamoe.py @ 0a7e522",
                             "llada2": "inclusionAI/dInfer python/dinfer/model/modeling_llada2_moe.py @ fce4e32"},
        "reference": meta["source"], "python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
        "seed_weights": seed + attempt, "seed_inputs": seed + attempt + 10_000, "weight_std": WEIGHT_STD,
        "router_std": ROUTER_STD, "bias_std": BIAS_STD, "routing": st, **({"cross_check": dict(CROSS_CHECK)} if fam == "llada2" else {}), "files": dict(sorted(files.items())),
        "total_bytes": sum(f["bytes"] for f in files.values()),
    }
    with open(os.path.join(d, "MANIFEST.json"), "w") as f:
        f.write(json.dumps(manifest, indent=2) + "\n")
    print(f"{fam}: seed {seed + attempt}, routing {st}, {manifest['total_bytes']} bytes")


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    torch.set_num_threads(1)
    root = tempfile.mkdtemp(prefix="dllm-moe-shim-")
    hf_shim.write_shim(root)
    official = hf_shim.load_official(root, "lladamoe_official", sys.argv[1], "configuration_lladamoe", "LLaDAConfig")
    official2 = hf_shim.load_dinfer_llada2(root, sys.argv[2])
    for fam in CONFIGS:
        build(fam, official, official2)


if __name__ == "__main__":
    main()
