"""Regenerate test/fixtures: tiny random checkpoints in each family's exact Hugging Face layout, plus reference
logits from the plain-torch forward in tiny_transformer.py.

    /usr/bin/python3 scripts/reference/make_fixtures.py        (Debian python3-torch; no transformers, no network)

Sources for names and fields (see README.md in this folder):
  llada  LLaDA-8B config.json field set and modeling_llada.py module names (LLaDAModel.transformer = {wte, blocks,
         ln_f, ff_out}; LLaDALlamaBlock = attn_norm, q_proj, k_proj, v_proj, attn_out, ff_norm, ff_proj (gate),
         up_proj, ff_out (down)); token ids of docs/dllm-reference.md §1.2, shrunk
  dream  Qwen2 module names (Dream = Qwen2 with full attention), Dream config.json fields (model_type "Dream",
         DreamModel, mask_token_id); §3.1-3.2 (shifted logits, tok_idx positions)
  llama  transformers LlamaForCausalLM module names and LlamaConfig fields; Llama-3 special tokens
"""
import json
import os
import platform
import sys

import numpy
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_layout as hf  # noqa: E402
from tiny_transformer import LLADA_NAMES, QWEN_LLAMA_NAMES, forward  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "test", "fixtures")
R = hf.REGULAR_TOKENS  # 280: 256 byte tokens + 24 merges; special tokens from here on

# Llama-3 chat template (LLaDA-8B-Instruct ships the same one: <BOS><|start_header_id|>role<|end_header_id|>\n\n
# content<|eot_id|> ..., dllm-reference.md §1.2); Qwen2 ChatML with Qwen's default system prompt for Dream (§3.1)
LLAMA3_TEMPLATE = ("{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
                   "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'+ message['content'] | trim + "
                   "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
                   "{{ content }}{% endfor %}{% if add_generation_prompt %}"
                   "{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}")
CHATML_TEMPLATE = ("{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
                   "{{ '<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n' }}{% endif %}"
                   "{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
                   "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}")

FAMILIES = {
    "llada": dict(
        names=LLADA_NAMES, hidden=64, heads=4, kv_heads=4, layers=2, ffn=96, vocab=300, rope_theta=500000.0,
        eps=1e-5, qkv_bias=False, causal=False, seed=1001, positions="absolute", tokenizer_style="llama3",
        # LLaDA ids keep their order: bos 126080 < eos 126081 < mask 126336 < headers 126346-7 < eot 126348
        specials={"<|startoftext|>": R, "<|endoftext|>": R + 1, "<|mdm_mask|>": R + 10,
                  "<|start_header_id|>": R + 12, "<|end_header_id|>": R + 13, "<|eot_id|>": R + 14},
        bos="<|startoftext|>", eos="<|endoftext|>", pad="<|endoftext|>", mask="<|mdm_mask|>", first="<|startoftext|>"),
    "dream": dict(
        names=QWEN_LLAMA_NAMES, hidden=64, heads=4, kv_heads=2, layers=2, ffn=88, vocab=304, rope_theta=1000000.0,
        eps=1e-6, qkv_bias=True, causal=False, seed=2002, positions="cumsum", tokenizer_style="qwen2", shards=2,
        # Qwen/Dream order: <|endoftext|> 151643, <|im_start|> 151644, <|im_end|> 151645, <|beginoftext|> 151665,
        # <|mask|> 151666; the embedding has spare rows past the tokenizer, as Qwen2.5's 152064 does
        specials={"<|endoftext|>": R, "<|im_start|>": R + 1, "<|im_end|>": R + 2, "<|beginoftext|>": R + 4,
                  "<|mask|>": R + 5},
        bos="<|beginoftext|>", eos="<|endoftext|>", pad="<|endoftext|>", mask="<|mask|>", first="<|im_start|>"),
    "llama": dict(
        names=QWEN_LLAMA_NAMES, hidden=64, heads=4, kv_heads=2, layers=2, ffn=80, vocab=288, rope_theta=10000.0,
        eps=1e-5, qkv_bias=False, causal=True, seed=3003, positions="cumsum", tokenizer_style="llama3",
        specials={"<|begin_of_text|>": R, "<|end_of_text|>": R + 1, "<|start_header_id|>": R + 2,
                  "<|end_header_id|>": R + 3, "<|eot_id|>": R + 4},
        bos="<|begin_of_text|>", eos="<|end_of_text|>", pad="<|end_of_text|>", mask=None, first="<|begin_of_text|>"),
}
# extra dtype variants of one family: same weights rounded to the dtype, their own logits
VARIANTS = {"llama-f16": ("llama", torch.float16), "llama-bf16": ("llama", torch.bfloat16)}
TORCH_DTYPE_NAME = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}
ROW_LENGTHS = (11, 7)  # batch of 2, the second left-padded to 11
WEIGHT_STD = 0.1  # large enough that every layer moves the logits visibly


def ids(spec, name):
    return spec["specials"][name] if name else None


def parameter_shapes(s):
    """(hf name, shape, kind) in the family's module order"""
    n, C, F, V = s["names"], s["hidden"], s["ffn"], s["vocab"]
    D = C // s["heads"]
    out = [(n["embed"], (V, C), "matrix")]
    for i in range(s["layers"]):
        p = n["layer"].format(i=i)
        out += [(p + n["attn_norm"], (C,), "norm"), (p + n["q"], (s["heads"] * D, C), "matrix"),
                (p + n["k"], (s["kv_heads"] * D, C), "matrix"), (p + n["v"], (s["kv_heads"] * D, C), "matrix")]
        if s["qkv_bias"]:
            out += [(p + n["bq"], (s["heads"] * D,), "bias"), (p + n["bk"], (s["kv_heads"] * D,), "bias"),
                    (p + n["bv"], (s["kv_heads"] * D,), "bias")]
        out += [(p + n["o"], (C, s["heads"] * D), "matrix"), (p + n["ffn_norm"], (C,), "norm"),
                (p + n["gate"], (F, C), "matrix"), (p + n["up"], (F, C), "matrix"), (p + n["down"], (C, F), "matrix")]
    return out + [(n["final_norm"], (C,), "norm"), (n["head"], (V, C), "matrix")]


def random_weights(s):
    g = torch.Generator().manual_seed(s["seed"])
    w = {}
    for name, shape, kind in parameter_shapes(s):
        x = torch.randn(shape, generator=g, dtype=torch.float32) * WEIGHT_STD
        w[name] = x + 1.0 if kind == "norm" else x  # norms near 1, not exactly 1, so a skipped norm weight shows
    return w


def make_inputs(s):
    """input_ids / attention_mask / position_ids (B, T) int32"""
    g = torch.Generator().manual_seed(s["seed"] + 1)
    T = max(ROW_LENGTHS)
    pad, first, mask = ids(s, s["pad"]), ids(s, s["first"]), ids(s, s["mask"])
    rows, masks = [], []
    for n in ROW_LENGTHS:
        body = torch.randint(0, R, (n - 1,), generator=g).tolist()
        if mask is not None:  # a diffusion canvas: prompt, then masked positions to fill
            k = (n - 1) // 2
            body = body[: n - 1 - k] + [mask] * k
        rows.append([pad] * (T - n) + [first] + body)
        masks.append([0] * (T - n) + [1] * n)
    input_ids, attention_mask = torch.tensor(rows, dtype=torch.int32), torch.tensor(masks, dtype=torch.int32)
    if s["positions"] == "absolute":  # modeling_llada.py: RoPE over 0..T-1 whatever the padding
        position_ids = torch.arange(T, dtype=torch.int32).expand(len(ROW_LENGTHS), T).contiguous()
    else:  # Dream generate / HF generate: cumsum(mask) - 1, padding set to 1
        position_ids = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 1).to(torch.int32)
    return input_ids, attention_mask, position_ids


POSITION_RULE = {
    "absolute": "position_ids[b, i] = i for every row, padding included (modeling_llada.py RotaryEmbedding)",
    "cumsum": "position_ids = cumsum(attention_mask) - 1, 1 at padding (Dream generation_utils tok_idx, HF generate)",
}


def config_json(fam, s, dtype):
    sp = s["specials"]
    if fam == "llada":  # the LLaDA-8B config.json field set, tiny values
        return {
            "activation_type": "silu", "alibi": False, "alibi_bias_max": 8.0, "architectures": ["LLaDAModelLM"],
            "attention_dropout": 0.0, "attention_layer_norm": False, "attention_layer_norm_with_affine": True,
            "auto_map": {"AutoConfig": "configuration_llada.LLaDAConfig",
                         "AutoModelForCausalLM": "modeling_llada.LLaDAModelLM", "AutoModel": "modeling_llada.LLaDAModelLM"},
            "bias_for_layer_norm": False, "block_group_size": 1, "block_type": "llama", "d_model": s["hidden"],
            "embedding_dropout": 0.0, "embedding_size": s["vocab"], "eos_token_id": sp[s["eos"]],
            "flash_attention": False, "include_bias": False, "include_qkv_bias": False, "init_cutoff_factor": None,
            "init_device": "meta", "init_fn": "mitchell", "init_std": 0.02, "input_emb_norm": False,
            "layer_norm_type": "rms", "layer_norm_with_affine": True, "mask_token_id": sp[s["mask"]],
            "max_sequence_length": 128, "mlp_hidden_size": s["ffn"], "mlp_ratio": 4, "model_type": "llada",
            "multi_query_attention": None, "n_heads": s["heads"], "n_kv_heads": s["kv_heads"], "n_layers": s["layers"],
            "pad_token_id": sp[s["pad"]], "precision": "amp_bf16", "residual_dropout": 0.0, "rms_norm_eps": s["eps"],
            "rope": True, "rope_full_precision": True, "rope_theta": s["rope_theta"], "scale_logits": False,
            "torch_dtype": TORCH_DTYPE_NAME[dtype], "transformers_version": "4.46.3", "use_cache": False,
            "vocab_size": s["vocab"], "weight_tying": False}
    common = {
        "attention_dropout": 0.0, "bos_token_id": sp[s["bos"] if fam == "llama" else s["eos"]],
        "eos_token_id": sp[s["eos"]], "hidden_act": "silu", "hidden_size": s["hidden"], "initializer_range": 0.02,
        "intermediate_size": s["ffn"], "max_position_embeddings": 128, "num_attention_heads": s["heads"],
        "num_hidden_layers": s["layers"], "num_key_value_heads": s["kv_heads"], "rms_norm_eps": s["eps"],
        "rope_scaling": None, "rope_theta": s["rope_theta"], "tie_word_embeddings": False,
        "torch_dtype": TORCH_DTYPE_NAME[dtype], "use_cache": True, "vocab_size": s["vocab"]}
    if fam == "dream":  # Qwen2 fields + Dream's; bos = eos = pad = <|endoftext|> as in Qwen2.5 / Dream config.json
        return {**common, "architectures": ["DreamModel"],
                "auto_map": {"AutoConfig": "configuration_dream.DreamConfig", "AutoModel": "modeling_dream.DreamModel"},
                "mask_token_id": sp[s["mask"]], "max_window_layers": s["layers"], "model_type": "Dream",
                "pad_token_id": sp[s["pad"]], "sliding_window": None, "transformers_version": "4.46.2",
                "use_sliding_window": False}
    return {**common, "architectures": ["LlamaForCausalLM"], "attention_bias": False, "head_dim": s["hidden"] // s["heads"],
            "mlp_bias": False, "model_type": "llama", "pretraining_tp": 1, "transformers_version": "4.46.2"}


def tokenizer_config_json(fam, s):
    sp = s["specials"]
    tc = {"added_tokens_decoder": hf.added_tokens_decoder(sp), "bos_token": s["bos"],
          "chat_template": CHATML_TEMPLATE if fam == "dream" else LLAMA3_TEMPLATE, "clean_up_tokenization_spaces": False,
          "eos_token": s["eos"], "model_max_length": 128, "pad_token": s["pad"],
          "tokenizer_class": "Qwen2Tokenizer" if fam == "dream" else "PreTrainedTokenizerFast"}
    if fam == "dream":  # Qwen2.5 has no bos token; Dream adds <|beginoftext|> and <|mask|>
        tc.update({"bos_token": None, "mask_token": s["mask"], "errors": "replace", "split_special_tokens": False})
    if fam == "llama":  # Llama-3 adds <|begin_of_text|> in its post-processor; it has no pad token of its own
        tc["model_input_names"] = ["input_ids", "attention_mask"]
    return tc


def generation_config_json(fam, s):
    sp = s["specials"]
    if fam == "llama":  # Llama-3-Instruct stops on <|end_of_text|> or <|eot_id|>
        return {"bos_token_id": sp[s["bos"]], "eos_token_id": [sp[s["eos"]], sp["<|eot_id|>"]],
                "transformers_version": "4.46.2"}
    return {"_from_model_config": True, "bos_token_id": sp[s["bos"] if fam == "llada" else s["eos"]],
            "eos_token_id": sp[s["eos"]], "pad_token_id": sp[s["pad"]],
            "transformers_version": "4.46.3" if fam == "llada" else "4.46.2"}


def write(path, data, manifest):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    manifest[os.path.relpath(path, OUT)] = {"bytes": len(data), "sha256": hf.sha256(data)}


def build(folder, fam, dtype, files):
    s = FAMILIES[fam]
    d = os.path.join(OUT, folder)
    stored = {k: v.to(dtype) for k, v in random_weights(s).items()}  # what the checkpoint holds
    input_ids, attention_mask, position_ids = make_inputs(s)
    logits = forward(stored, s, input_ids, attention_mask, position_ids, torch.float32)  # (B, T, V)
    exact = forward(stored, s, input_ids, attention_mask, position_ids, torch.float64)
    f64_diff = float((logits.double() - exact).abs().max())
    ref = {"input_ids": input_ids, "attention_mask": attention_mask, "position_ids": position_ids, "logits": logits}
    meta = {
        "family": fam, "checkpoint_dtype": hf.TORCH_DTYPES[dtype],
        "attention": ("causal: query i attends key j iff j <= i and attention_mask[b, j] == 1" if s["causal"] else
                      "bidirectional: query i attends key j iff attention_mask[b, j] == 1"),
        "position_ids": POSITION_RULE[s["positions"]],
        "logits": "raw model output (B, T, V) in f32 from the stored weights widened to f32; rows where "
                  "attention_mask == 0 are zero-filled (undefined in the models: compare only valid rows)",
        "f64_max_abs_diff": f"{f64_diff:.3e}",
    }
    if fam == "dream":
        ref["logits_shifted"] = torch.cat([logits[:, :1], logits[:, :-1]], dim=1)
        meta["logits"] += "; Dream: logits[b, i] predicts token i+1 (AR-initialised)"
        meta["logits_shifted"] = ("Dream generate's view, torch.cat([logits[:, :1], logits[:, :-1]], dim=1): "
                                  "logits_shifted[b, i] predicts token i")
    write(os.path.join(d, "reference.safetensors"), hf.safetensors_bytes(ref, meta), files)
    write(os.path.join(d, "config.json"), hf.dumps(config_json(fam, s, dtype)), files)
    write(os.path.join(d, "generation_config.json"), hf.dumps(generation_config_json(fam, s)), files)
    write(os.path.join(d, "tokenizer.json"),
          hf.dumps(hf.tokenizer_json(s["tokenizer_style"], s["specials"], s["bos"] if fam == "llama" else None)), files)
    write(os.path.join(d, "tokenizer_config.json"), hf.dumps(tokenizer_config_json(fam, s)), files)
    n_shards = s.get("shards", 1)
    if n_shards == 1:
        write(os.path.join(d, "model.safetensors"), hf.safetensors_bytes(stored, {"format": "pt"}), files)
    else:  # split at a layer boundary: embedding + first half of the layers, then the rest
        first = s["names"]["layer"].format(i=s["layers"] // 2)
        order = [name for name, _, _ in parameter_shapes(s)]
        cut = next(i for i, name in enumerate(order) if name.startswith(first))
        parts = [order[:cut], order[cut:]]
        shards = {f"model-{k + 1:05d}-of-{n_shards:05d}.safetensors": {n: stored[n] for n in part}
                  for k, part in enumerate(parts)}
        for file, ts in shards.items():
            write(os.path.join(d, file), hf.safetensors_bytes(ts, {"format": "pt"}), files)
        write(os.path.join(d, "model.safetensors.index.json"), hf.shard_index(shards).encode(), files)
    return {"family": fam, "dtype": hf.TORCH_DTYPES[dtype], "seed_weights": s["seed"], "seed_inputs": s["seed"] + 1,
            "weight_std": WEIGHT_STD, "dims": {k: s[k] for k in ("layers", "hidden", "heads", "kv_heads", "ffn", "vocab")},
            "rope_theta": s["rope_theta"], "rms_norm_eps": s["eps"], "shards": n_shards,
            "input_shape": list(input_ids.shape), "logits_shape": list(logits.shape), "row_lengths": list(ROW_LENGTHS),
            "f64_max_abs_diff": f64_diff}


def main():
    torch.set_num_threads(1)  # one summation order, so a rerun on the same machine is byte-identical
    files, fixtures = {}, {}
    for fam in FAMILIES:
        fixtures[fam] = build(fam, fam, torch.float32, files)
    for folder, (fam, dtype) in VARIANTS.items():
        fixtures[folder] = build(folder, fam, dtype, files)
    here = os.path.dirname(os.path.abspath(__file__))
    sources = {f"scripts/reference/{f}": hf.sha256(open(os.path.join(here, f), "rb").read())
               for f in sorted(os.listdir(here)) if f.endswith(".py")}
    manifest = {
        "generator": "scripts/reference/make_fixtures.py", "command": "/usr/bin/python3 scripts/reference/make_fixtures.py",
        "generator_sha256": sources, "python": platform.python_version(), "torch": torch.__version__,
        "numpy": numpy.__version__, "fixtures": fixtures, "files": dict(sorted(files.items())),
        "total_bytes": sum(f["bytes"] for f in files.values()),
    }
    with open(os.path.join(OUT, "MANIFEST.json"), "w") as f:
        f.write(json.dumps(manifest, indent=2) + "\n")
    print(f"wrote {len(files)} files, {manifest['total_bytes']} bytes, under {os.path.relpath(OUT, ROOT)}")
    for name, fx in fixtures.items():
        print(f"  {name:11s} {fx['dtype']:4s} logits {fx['logits_shape']}  |f32 - f64| max {fx['f64_max_abs_diff']:.2e}")


if __name__ == "__main__":
    main()
