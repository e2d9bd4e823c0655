"""Reference forward pass of the three families, in plain torch (no transformers), written from the published
architectures so the fixtures do not depend on any modeling file:

  LLaMA-style pre-norm block:  h = x + Wo·Attn(RoPE(Wq·n1(x)), RoPE(Wk·n1(x)), Wv·n1(x))
                               y = h + Wdown·(silu(Wgate·n2(h)) * Wup·n2(h))
  logits = Whead · n_final(y)

  RMSNorm in f32:    w * x * rsqrt(mean(x^2) + eps)                    (HF LlamaRMSNorm / Qwen2RMSNorm,
                                                                         LLaDA's RMSLayerNorm)
  RoPE, rotate-half: inv_freq = 1 / theta^(arange(0, D, 2) / D), angle = position * inv_freq,
                     x*cos(cat(a, a)) + rotate_half(x)*sin(cat(a, a)), rotate_half(x) = cat(-x2, x1)
                     (HF apply_rotary_pos_emb; LLaDA's RotaryEmbedding is the same formula)
  attention:         softmax(Q Kᵀ / sqrt(D) + mask) V, GQA = kv head j serves query heads
                     j*H/Hkv .. (j+1)*H/Hkv - 1 (HF repeat_kv, LLaDA's repeat_interleave)
  biases:            Dream (Qwen2) has biases on q, k, v only; LLaDA and Llama have none.

Shapes use the glossary: B batch, T tokens, C width, H heads, Hkv kv heads, D head dim, F FFN, V vocab, L layers.
"""
import math

import torch

# checkpoint tensor names per layout (src/model/params.ts holds the same table for the TypeScript engine):
# LLaDA from modeling_llada.py (LLaDAModel.transformer = {wte, blocks, ln_f, ff_out}); Qwen2/Llama from transformers
LLADA_NAMES = dict(
    embed="model.transformer.wte.weight", layer="model.transformer.blocks.{i}.", attn_norm="attn_norm.weight",
    q="q_proj.weight", k="k_proj.weight", v="v_proj.weight", o="attn_out.weight", ffn_norm="ff_norm.weight",
    gate="ff_proj.weight", up="up_proj.weight", down="ff_out.weight",
    final_norm="model.transformer.ln_f.weight", head="model.transformer.ff_out.weight")
QWEN_LLAMA_NAMES = dict(
    embed="model.embed_tokens.weight", layer="model.layers.{i}.", attn_norm="input_layernorm.weight",
    q="self_attn.q_proj.weight", k="self_attn.k_proj.weight", v="self_attn.v_proj.weight",
    bq="self_attn.q_proj.bias", bk="self_attn.k_proj.bias", bv="self_attn.v_proj.bias", o="self_attn.o_proj.weight",
    ffn_norm="post_attention_layernorm.weight", gate="mlp.gate_proj.weight", up="mlp.up_proj.weight",
    down="mlp.down_proj.weight", final_norm="model.norm.weight", head="lm_head.weight")


def rms_norm(x, w, eps):
    """x (..., C) any float dtype, w (C,); normalised in (at least) f32 as every family does."""
    x32 = x if x.dtype == torch.float64 else x.float()
    var = x32.pow(2).mean(-1, keepdim=True)
    return w * (x32 * torch.rsqrt(var + eps)).to(x.dtype)


def rotate_half(x):
    """x (..., D) -> cat(-x[D/2:], x[:D/2])"""
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope(x, positions, theta):
    """x (B, H, T, D), positions (B, T) int -> x rotated by each row's own positions.
    Tables in f32 as HF computes them (f64 when x is f64: the exact reference)."""
    D = x.shape[-1]
    ft = torch.float64 if x.dtype == torch.float64 else torch.float32
    inv_freq = 1.0 / (theta ** (torch.arange(0, D, 2, dtype=torch.int64).to(ft) / D))  # (D/2,)
    angles = positions.to(ft)[..., None] * inv_freq  # (B, T, D/2)
    emb = torch.cat((angles, angles), dim=-1)  # (B, T, D)
    cos, sin = emb.cos()[:, None].to(x.dtype), emb.sin()[:, None].to(x.dtype)  # (B, 1, T, D)
    return x * cos + rotate_half(x) * sin


def attention_allowed(attention_mask, causal):
    """(B, T) 0/1 -> (B, 1, T, T) bool: query i may attend key j iff key j is not padding (and j <= i if causal)."""
    B, T = attention_mask.shape
    allowed = attention_mask.bool()[:, None, None, :].expand(B, 1, T, T)
    if causal:
        allowed = allowed & torch.ones(T, T, dtype=torch.bool).tril()
    return allowed


def block_diffusion_allowed(n, block, device=None):
    """(2n, 2n) bool, BD3-LM's block_diff_mask over [x_t ⊕ x_0] (round2-reference.md §2.1): a noisy query of
    block b sees the noisy keys of block b and the clean keys of blocks < b; a clean query sees the clean keys
    of blocks <= b; clean queries never see noisy keys."""
    idx = torch.arange(2 * n, device=device)
    clean = idx >= n
    blk = (idx - n * clean.long()) // block
    bq, bk, cq, ck = blk[:, None], blk[None, :], clean[:, None], clean[None, :]
    diag = (bq == bk) & (cq == ck)
    offset = (bq > bk) & ck & ~cq
    causal = (bq >= bk) & ck & cq
    return diag | offset | causal


def forward(weights, spec, input_ids, attention_mask, position_ids, dtype=torch.float32, allowed_override=None):
    """weights: {hf name: tensor}; spec: the family's dims and names (make_fixtures.FAMILIES).
    allowed_override: a (T, T) bool attention mask that replaces the family's causal or bidirectional one
    (block diffusion training).

    Returns logits (B, T, V) in `dtype`. Rows whose attention_mask is 0 (padding) are zero-filled: the models
    leave them undefined (a causal padded query sees no key at all), so no test may compare them.
    """
    n = spec["names"]
    C, H, Hkv, L = spec["hidden"], spec["heads"], spec["kv_heads"], spec["layers"]
    D = C // H
    B, T = input_ids.shape
    w = {k: v.to(dtype) for k, v in weights.items()}
    full = bool(attention_mask.all())  # no padding: nothing to mask (bidirectional) or zero-fill (training batches)
    allowed = None if full and not spec["causal"] else attention_allowed(attention_mask, spec["causal"])  # (B, 1, T, T)
    if allowed_override is not None:  # replaces the family's mask (causal or none); padding still applies
        allowed = allowed_override[None, None] if full else attention_allowed(attention_mask, False) & allowed_override[None, None]

    def linear(x, name, bias=None):
        y = x @ w[name].T
        return y + w[bias] if bias is not None else y

    x = w[n["embed"]][input_ids.long()]  # (B, T, C)
    for i in range(L):
        p = n["layer"].format(i=i)
        h = rms_norm(x, w[p + n["attn_norm"]], spec["eps"])  # (B, T, C)
        bias = (lambda k: p + n[k]) if spec["qkv_bias"] else (lambda k: None)
        q = linear(h, p + n["q"], bias("bq")).view(B, T, H, D).transpose(1, 2)  # (B, H, T, D)
        k = linear(h, p + n["k"], bias("bk")).view(B, T, Hkv, D).transpose(1, 2)  # (B, Hkv, T, D)
        v = linear(h, p + n["v"], bias("bv")).view(B, T, Hkv, D).transpose(1, 2)  # (B, Hkv, T, D)
        q, k = rope(q, position_ids, spec["rope_theta"]), rope(k, position_ids, spec["rope_theta"])
        k = k.repeat_interleave(H // Hkv, dim=1)  # (B, H, T, D)
        v = v.repeat_interleave(H // Hkv, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(D)  # (B, H, T, T)
        if allowed is not None:
            scores = scores.masked_fill(~allowed, float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        if allowed is not None:
            probs = probs.nan_to_num(0.0)  # fully masked (padding) rows -> 0
        att = (probs @ v).transpose(1, 2).reshape(B, T, C)  # (B, T, C)
        x = x + linear(att, p + n["o"])
        h = rms_norm(x, w[p + n["ffn_norm"]], spec["eps"])
        gate, up = linear(h, p + n["gate"]), linear(h, p + n["up"])  # (B, T, F)
        x = x + linear(torch.nn.functional.silu(gate) * up, p + n["down"])
    x = rms_norm(x, w[n["final_norm"]], spec["eps"])
    logits = linear(x, n["head"])  # (B, T, V)
    if full:
        return logits
    return torch.where(attention_mask[..., None].bool(), logits, torch.zeros((), dtype=dtype))
