"""LLaDA2 (LLaDA2MoeModelLM) forward pass in plain torch, written here step by step after the official
modeling_llada2_moe.py (inclusionAI; the copy read is sajadn/Megatron-Bridge modeling_llada2_moe.py, whose gate
matches inclusionAI/dInfer python/dinfer/model/modeling_llada2_moe.py). The official file could not be run here
(no copy of it could be fetched onto this machine; dInfer's needs vllm), so this is our reimplementation, one
function per official class, for the fixtures only. State-dict names are the official ones.

  rms_norm        LLaDA2MoeRMSNorm: f32 x · rsqrt(mean(x²) + eps), times weight
  rope_cos_sin    LLaDA2MoeRotaryEmbedding + transformers' default init: dim = int(head_dim · partial_rotary_factor),
                  inv_freq = 1 / theta^(arange(0, dim, 2) / dim), emb = cat(freqs, freqs)
  apply_rope      apply_rotary_pos_emb: rotate_half on the first `dim` of each head, the rest passed through
  attention       LLaDA2MoeAttention (eager): fused query_key_value split q | k | v per head, query/key_layernorm,
                  RoPE, repeat_kv, softmax(q·kᵀ/√D + additive mask) in f32, dense
  gate            LLaDA2MoeGate.forward + group_limited_topk
  sparse_moe      LLaDA2MoeSparseMoeBlock.forward (eval: moe_infer) + shared_experts
  forward         LLaDA2MoeModel + lm_head; the 4D 0/1 mask is turned additive as
                  _prepare_4d_causal_attention_mask does for a 4D mask (1 − m, then finfo.min where nonzero)
"""
import math

import torch
import torch.nn.functional as F


def rms_norm(x, w, eps):
    h = x.float()
    h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return w * h.to(x.dtype)


def rope_cos_sin(cfg, position_ids):
    head_dim = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    dim = int(head_dim * cfg.get("partial_rotary_factor", 1.0))
    inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    freqs = position_ids[:, :, None].float() * inv_freq[None, None, :]  # (B, T, dim/2)
    emb = torch.cat((freqs, freqs), dim=-1)
    return emb.cos(), emb.sin()  # (B, T, dim)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def apply_rope(x, cos, sin):  # x (B, heads, T, D); cos, sin (B, T, dim)
    cos, sin = cos[:, None], sin[:, None]
    dim = cos.shape[-1]
    rot, rest = x[..., :dim], x[..., dim:]
    return torch.cat((rot * cos + rotate_half(rot) * sin, rest), dim=-1)


def attention(w, p, cfg, x, mask, cos, sin):
    B, T, C = x.shape
    H, Hkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    D = cfg.get("head_dim") or C // H
    qkv = F.linear(x, w[p + "attention.query_key_value.weight"], w.get(p + "attention.query_key_value.bias"))
    qkv = qkv.view(B, T, H + 2 * Hkv, D)
    q, k, v = (t.transpose(1, 2) for t in qkv.split([H, Hkv, Hkv], dim=-2))
    q = rms_norm(q, w[p + "attention.query_layernorm.weight"], cfg["rms_norm_eps"])
    k = rms_norm(k, w[p + "attention.key_layernorm.weight"], cfg["rms_norm_eps"])
    q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    k = k.repeat_interleave(H // Hkv, dim=1)
    v = v.repeat_interleave(H // Hkv, dim=1)
    scores = q @ k.transpose(2, 3) / math.sqrt(D) + mask
    probs = torch.softmax(scores, dim=-1, dtype=torch.float32).to(q.dtype)
    out = (probs @ v).transpose(1, 2).reshape(B, T, H * D)
    return F.linear(out, w[p + "attention.dense.weight"], w.get(p + "attention.dense.bias"))


def mlp(w, p, x):
    return F.linear(F.silu(F.linear(x, w[p + "gate_proj.weight"])) * F.linear(x, w[p + "up_proj.weight"]), w[p + "down_proj.weight"])


def gate(w, p, cfg, h):
    """(topk_idx (N, K), topk_weight (N, K), logits (N, E))"""
    E, K, G, TG = cfg["num_experts"], cfg["num_experts_per_tok"], cfg["n_group"], cfg["topk_group"]
    h = h.reshape(-1, h.shape[-1])  # (N, C)
    logits = F.linear(h.float(), w[p + "mlp.gate.weight"].float())
    scores = torch.sigmoid(logits.float()).type_as(logits)
    choose = scores + w[p + "mlp.gate.expert_bias"]
    N = choose.shape[0]
    group_scores = choose.view(N, G, -1).topk(2, dim=-1)[0].sum(dim=-1)  # (N, G): best two per group
    kept = torch.topk(group_scores, k=TG, dim=-1, sorted=False)[1]
    group_mask = torch.zeros_like(group_scores).scatter_(1, kept, 1)
    expert_mask = group_mask.unsqueeze(-1).expand(N, G, E // G).reshape(N, -1)
    idx = torch.topk(choose.masked_fill(~expert_mask.bool(), float("-inf")), k=K, dim=-1)[1]
    chosen = torch.gather(scores, 1, idx).type_as(logits)
    weight = chosen / (chosen.sum(dim=-1, keepdim=True) + 1e-20) if K > 1 else chosen
    return idx, weight * cfg["routed_scaling_factor"], logits


def sparse_moe(w, p, cfg, x):
    B, T, C = x.shape
    idx, weight, logits = gate(w, p, cfg, x)
    flat = x.view(-1, C)
    out = torch.zeros(flat.shape[0], idx.shape[1], C, dtype=x.dtype)
    for e in range(cfg["num_experts"]):  # moe_infer: each expert once over the rows routed to it
        rows, slots = torch.where(idx == e)
        if rows.numel():
            out[rows, slots] = mlp(w, f"{p}mlp.experts.{e}.", flat[rows])
    y = (out * weight.unsqueeze(-1)).sum(dim=1).view(B, T, C)
    if cfg["num_shared_experts"] is not None:
        y = y + mlp(w, p + "mlp.shared_experts.", x)
    return y, idx, logits


def forward(w, cfg, input_ids, mask01, position_ids, routing=None):
    """logits (B, T, V); mask01 (B, 1, T, T) with 1 = attend; routing: list to append (idx, logits) per MoE layer"""
    x = F.embedding(input_ids, w["model.word_embeddings.weight"])
    inverted = 1.0 - mask01.to(x.dtype)
    mask = inverted.masked_fill(inverted.bool(), torch.finfo(x.dtype).min)
    cos, sin = rope_cos_sin(cfg, position_ids)
    eps = cfg["rms_norm_eps"]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x = x + attention(w, p, cfg, rms_norm(x, w[p + "input_layernorm.weight"], eps), mask, cos, sin)
        h = rms_norm(x, w[p + "post_attention_layernorm.weight"], eps)
        if cfg["num_experts"] is not None and i >= cfg["first_k_dense_replace"]:
            y, idx, logits = sparse_moe(w, p, cfg, h)
            if routing is not None:
                routing.append((idx, logits))
        else:
            y = mlp(w, p + "mlp.", h)
        x = x + y
    x = rms_norm(x, w["model.norm.weight"], eps)
    return F.linear(x, w["model.word_embeddings.weight" if cfg["tie_word_embeddings"] else "lm_head.weight"]).float()
