"""Dream `diffusion_generate`, re-implemented in numpy line by line after HKUNLP/Dream generation_utils.py
(`_sample` and `sample_tokens`, as vendored in NVlabs/Fast-dLLM dream/model/generation_utils.py @ 24cc59e):
algorithms origin, maskgit_plus, topk_margin, entropy; alg_temp; eps schedule (timesteps =
torch.linspace(1, eps, steps + 1)); temperature, top_p, top_k.

Departures, each needed for a reproducible cross-language trace and none changing the algorithm:
  * the fake model returns logits already aligned to positions, so the shift-by-one line (done by our model
    adapter, not by the sampler) is left out;
  * randomness comes from per-row common.Rng streams in the TypeScript loop's order: origin draws one uniform
    per masked position (torch.rand), then one per moving position to sample its token; the confidence
    algorithms draw one uniform per masked position for the Categorical sample (temperature > 0), then, with
    alg_temp > 0, one per masked position for torch.multinomial without replacement, which ATen implements
    as top-k of p / E with E ~ Exp(1) — here E = -log(u);
  * the Categorical sample is an inverse-CDF draw in vocabulary order (an exact sampler of the same law);
  * torch.linspace and the schedule arithmetic run in float32 as in torch (linspace after ATen's CPU kernel:
    the first half counts up from start, the second half down from end);
  * top-k ties: lower position first; softmaxes in float64.
"""
import numpy as np

from common import softmax64, tok_idx, left_pad, Margins

f32 = np.float32


def linspace_f32(start, end, n):
    """torch.linspace(start, end, n) in float32 (ATen RangeFactoriesKernel.cpp linspace_kernel)"""
    start, end = f32(start), f32(end)
    step = f32(f32(end - start) / f32(n - 1))
    half = n // 2
    return [f32(start + f32(step * f32(i))) if i < half else f32(end - f32(step * f32(n - i - 1))) for i in range(n)]


def top_p_logits(logits, top_p):
    order = sorted(range(len(logits)), key=lambda v: (-logits[v], v))
    probs = softmax64(logits[order])
    cum = np.cumsum(probs)
    remove = cum > top_p
    remove[1:] = remove[:-1].copy()  # shift right: keep the first token above the threshold
    remove[0] = False
    out = logits.copy()
    out[np.array(order)[remove]] = -np.inf  # torch fills finfo.min: softmax weight 0 either way
    return out


def top_k_logits(logits, top_k):
    top_k = min(top_k, len(logits))
    kth = np.sort(logits)[::-1][top_k - 1]
    out = logits.copy()
    out[logits < kth] = -np.inf
    return out


def sample_tokens(logits, temperature, top_p, top_k, rng, margins, where, margin_confidence=False, neg_entropy=False):
    """sample_tokens for ONE position's logits (V,) → (confidence, x0)"""
    l = logits.astype(np.float64)
    if temperature > 0:
        l = l / temperature
    if top_p is not None and top_p < 1:
        l = top_p_logits(l, top_p)
    if top_k is not None:
        l = top_k_logits(l, top_k)
    probs = softmax64(l)
    if temperature > 0:
        u = rng.uniform()
        margins.categorical(probs, u, f'{where} categorical')
        c, x0 = 0.0, None
        for v in range(len(probs)):
            if probs[v] <= 0:
                continue
            c += probs[v]
            last = v
            if u < c:
                x0 = v
                break
        x0 = last if x0 is None else x0
        confidence = probs[x0]
    else:
        margins.argmax(probs, f'{where} argmax')
        x0 = int(np.argmax(probs))
        confidence = probs[x0]
    if margin_confidence:
        sp = np.sort(probs)[::-1]
        confidence = sp[0] - sp[1]
    if neg_entropy:
        confidence = float(np.sum(probs * np.log(probs + 1e-10)))
    return float(confidence), int(x0)


def diffusion_generate(model, prompts, pad, rngs, max_new_tokens, steps, eps=1e-3, alg='origin', alg_temp=None,
                       temperature=0.0, top_p=None, top_k=None, mask_token_id=None):
    """Dream `_sample`. Returns (generated span (B, G), trace, per-row steps, margins)."""
    margins = Margins()
    input_ids, attention_mask = left_pad(prompts, pad)
    B, P = input_ids.shape
    x = np.concatenate([input_ids, np.full((B, max_new_tokens), mask_token_id, dtype=np.int64)], axis=1)
    if (attention_mask == 0).any():
        attention_mask = np.concatenate([attention_mask, np.ones((B, max_new_tokens), dtype=np.int64)], axis=1)
        positions = tok_idx(attention_mask)
    else:
        attention_mask, positions = None, None
    timesteps = linspace_f32(1, eps, steps + 1)
    trace, row_steps = [], [0] * B
    for i in range(steps):
        mask_index = x == mask_token_id
        logits = model(x, attention_mask, positions)
        t, s = timesteps[i], timesteps[i + 1]
        where = f'step {i}'
        if alg == 'origin':
            p_transfer = f32(f32(1) - f32(s / t)) if i < steps - 1 else 1
            for b in range(B):
                cands = [p for p in range(x.shape[1]) if mask_index[b, p]]
                if not cands:  # nothing left to decide: the TypeScript loop makes no call for this row
                    continue
                row_steps[b] += 1
                moving = []
                for p in cands:  # torch.rand(*x0.shape) < p_transfer
                    u = rngs[b].uniform()
                    margins.add(u - float(p_transfer), f'{where} row {b} origin@{p}')
                    if u < p_transfer:
                        moving.append(p)
                committed = []
                for p in moving:
                    conf, tok = sample_tokens(logits[b, p], temperature, top_p, top_k, rngs[b], margins, f'{where} row {b}@{p}')
                    x[b, p] = tok
                    committed.append([p - P, tok, conf])
                trace.append(dict(row=b, step=row_steps[b] - 1, block=0, committed=committed))
            continue
        kind = dict(margin_confidence=alg == 'topk_margin', neg_entropy=alg == 'entropy')
        if alg not in ('maskgit_plus', 'topk_margin', 'entropy'):
            raise RuntimeError(f'Unknown alg: {alg}')
        num_mask_token = f32(f32(mask_index.sum()) / f32(B))
        frac = f32(f32(1) - f32(s / t))
        number_transfer_tokens = int(f32(num_mask_token * frac)) if i < steps - 1 else int(num_mask_token)
        for b in range(B):
            cands = [p for p in range(x.shape[1]) if mask_index[b, p]]
            if not cands:
                continue
            row_steps[b] += 1
            conf, x0 = {}, {}
            for p in cands:
                conf[p], x0[p] = sample_tokens(logits[b, p], temperature, top_p, top_k, rngs[b], margins, f'{where} row {b}@{p}', **kind)
            chosen = []
            if number_transfer_tokens > 0:
                if alg_temp is None or alg_temp == 0:
                    ranked = sorted(cands, key=lambda p: (-conf[p], p))
                    margins.cut([conf[p] for p in ranked], number_transfer_tokens, f'{where} row {b} topk')
                    chosen = ranked[:number_transfer_tokens]
                else:
                    w = softmax64(np.array([conf[p] / alg_temp for p in cands]))
                    keys = {p: w[j] / -np.log(rngs[b].uniform()) for j, p in enumerate(cands)}
                    ranked = sorted(cands, key=lambda p: (-keys[p], p))
                    margins.cut([keys[p] for p in ranked], number_transfer_tokens, f'{where} row {b} multinomial')
                    chosen = ranked[:number_transfer_tokens]
            for p in sorted(chosen):
                x[b, p] = x0[p]
            trace.append(dict(row=b, step=row_steps[b] - 1, block=0, committed=[[p - P, x0[p], conf[p]] for p in sorted(chosen)]))
    return x[:, P:], trace, row_steps, margins
