"""LLaDA2 logits from the official classes of inclusionAI/dInfer python/dinfer/model/modeling_llada2_moe.py
(imported unchanged through hf_shim.load_dinfer_llada2): LLaDA2MoeRMSNorm, LLaDA2MoeRotaryEmbedding,
LLaDA2MoeAttention (eager), LLaDA2MoeGate, LLaDA2MoeMLP, each loaded with the checkpoint's tensors.

Only the glue is ours: dInfer's LLaDA2MoeSparseMoeBlock runs on vLLM's FusedMoE, so the sparse block's combine
(Σ_k topk_weight · expert(x) + shared_experts(x), as LLaDA2MoeSparseMoeBlock.moe_infer in the Hugging Face copy
does) and the layer loop of LLaDA2MoeDecoderLayer / LLaDA2MoeModel (pre-norm residual blocks, final norm,
lm_head) are written here.
"""
import torch
import torch.nn.functional as F

import hf_shim


def _load(module, w, prefix):
    state = {k[len(prefix):]: v for k, v in w.items() if k.startswith(prefix)}
    module.load_state_dict(state, strict=True)
    return module.eval()


def forward(mod, cfg_json, w, input_ids, mask01, position_ids, routing=None):
    cfg = hf_shim.ShimConfig(cfg_json)
    C, eps = cfg.hidden_size, cfg.rms_norm_eps
    norm = lambda prefix: _load(mod.LLaDA2MoeRMSNorm(C, eps=eps), w, prefix)
    x = F.embedding(input_ids, w["model.word_embeddings.weight"])
    B, T = input_ids.shape
    mask = mod._prepare_4d_causal_attention_mask(mask01, (B, T), x, 0)  # 0/1 → additive, as the eager path does
    cos, sin = mod.LLaDA2MoeRotaryEmbedding(cfg)(x, position_ids)
    with torch.no_grad():
        for i in range(cfg.num_hidden_layers):
            p = f"model.layers.{i}."
            attn = _load(mod.LLaDA2MoeAttention(cfg, layer_idx=i), w, p + "attention.")
            a = attn(norm(p + "input_layernorm.")(x), attention_mask=mask, position_ids=position_ids, position_embeddings=(cos, sin))[0]
            x = x + a
            h = norm(p + "post_attention_layernorm.")(x)
            if cfg.num_experts is None or i < cfg.first_k_dense_replace:
                x = x + _load(mod.LLaDA2MoeMLP(cfg, cfg.intermediate_size), w, p + "mlp.")(h)
                continue
            idx, weight, logits = _load(mod.LLaDA2MoeGate(cfg), w, p + "mlp.gate.")(h)
            if routing is not None:
                routing.append((idx, logits))
            experts = [_load(mod.LLaDA2MoeMLP(cfg, cfg.moe_intermediate_size), w, f"{p}mlp.experts.{e}.") for e in range(cfg.num_experts)]
            flat = h.reshape(-1, C)
            y = torch.zeros_like(flat)
            for n in range(flat.shape[0]):
                for k in range(idx.shape[1]):
                    y[n] += weight[n, k] * experts[int(idx[n, k])](flat[n])
            if cfg.num_shared_experts is not None:
                shared = _load(mod.LLaDA2MoeMLP(cfg, cfg.moe_intermediate_size * cfg.num_shared_experts), w, p + "mlp.shared_experts.")
                y = y + shared(flat)
            x = x + y.view(B, T, C)
        x = norm("model.norm.")(x)
        head = w["model.word_embeddings.weight" if cfg.tie_word_embeddings else "lm_head.weight"]
        return F.linear(x, head).float()
