"""LLaDA and Fast-dLLM decoding, re-implemented in numpy line by line after the upstream code:

  generate            ML-GSAI/LLaDA generate.py `generate` (@ b7e6c35): semi-AR blocks, get_num_transfer_tokens,
                      add_gumbel_noise in float64, low_confidence / random remasking, CFG, logits_eos_inf,
                      confidence_eos_eot_inf — the last one as INTENDED (EOS and EoT get -inf confidence; the
                      upstream line writes a dead tensor for EOS, LLaDA issue #137)
  generate_fast       NVlabs/Fast-dLLM llada/generate.py `generate` (@ 24cc59e) with `get_transfer_index`
                      (threshold) and, from later Fast-dLLM code, `get_transfer_index_dynamic` (factor)

Departures, each needed for a reproducible cross-language trace and none changing the algorithm:
  * randomness: torch.rand_like / torch.rand are replaced by per-row common.Rng streams, drawn in the order
    the TypeScript loop draws them (Gumbel noise for the masked positions of the current block, position by
    position, V uniforms each; then one uniform per such position for `random` remasking). Noise at other
    positions is never read by the algorithm, so it is left out.
  * torch.topk's tie order is unspecified: candidates are ordered by confidence, ties to the lower position,
    and only the masked positions of the current block are candidates (equivalent to upstream whenever the
    top-k does not reach into -inf entries, which the intended EOS/EoT suppression makes possible).
  * the softmax for confidences is taken in float64 (as Fast-dLLM's get_transfer_index and LLaDA's app.py do).
"""
import numpy as np

from common import softmax64, tok_idx


def get_num_transfer_tokens(mask_count, steps):
    """generate.py get_num_transfer_tokens for one row"""
    base, rem = divmod(int(mask_count), steps)
    out = [base] * steps
    for i in range(rem):
        out[i] += 1
    return out


def propose(logits, temperature, remasking, rng, cands, margins, where):
    """x0 and confidence for the candidate positions of one row: add_gumbel_noise + argmax, softmax(logits)[x0]"""
    V = logits.shape[-1]
    x0, conf = {}, {}
    for p in cands:
        l = logits[p].astype(np.float64)
        if temperature == 0:
            scores = l
            margins.argmax(scores, f'{where} argmax@{p}')
        else:
            noise = np.array([rng.uniform() for _ in range(V)], dtype=np.float64)
            scores = np.exp(l) / (-np.log(noise)) ** temperature  # add_gumbel_noise, float64
            margins.argmax(scores, f'{where} gumbel@{p}', log=True)
        x0[p] = int(np.argmax(scores))
        conf[p] = float(softmax64(l)[x0[p]])
    if remasking == 'random':
        for p in cands:
            conf[p] = rng.uniform()
    elif remasking != 'low_confidence':
        raise NotImplementedError(remasking)
    return x0, conf


def order(cands, conf):
    return sorted(cands, key=lambda p: (-conf[p], p))


def select(rule, ranked, conf, k, threshold, factor, margins, where):
    """how many of the ranked candidates to commit"""
    vals = [conf[p] for p in ranked]
    if rule == 'fixed':  # generate.py: topk(confidence, k=num_transfer_tokens[j, i])
        margins.cut(vals, k, where)
        return min(k, len(ranked))
    if rule == 'threshold':  # Fast-dLLM get_transfer_index: keep select_index[0], drop others below threshold
        n = 1
        for j in range(1, len(vals)):
            if np.isfinite(vals[j]):
                margins.add(vals[j] - threshold, f'{where} tau@{j}')
            if vals[j] >= threshold:
                n = j + 1
        return n
    if rule == 'factor':  # Fast-dLLM get_transfer_index_dynamic, loop and quirk as written upstream
        m = len(vals)
        threshs = [1 - factor / (n + 1) for n in range(1, m + 1)]
        threshs[0] = -1
        top_i = 0
        for top_i in range(m):
            if np.isfinite(vals[top_i]):
                margins.add(vals[top_i] - threshs[top_i], f'{where} factor@{top_i}')
            if vals[top_i] < threshs[top_i]:
                break
        if top_i == 0 or top_i == m - 1:
            top_i += 1
        return top_i
    raise ValueError(rule)


def generate(model, prompts, pad, rngs, steps, gen_length, block_length, temperature=0., cfg_scale=0.,
             remasking='low_confidence', mask_id=None, eos=None, eot=None, logits_eos_inf=False,
             confidence_eos_eot_inf=False, rule='fixed', threshold=0.9, factor=1.0):
    """LLaDA generate.py `generate` (rule='fixed') and Fast-dLLM's threshold / factor loops. Returns (x, trace, nfe)."""
    from common import left_pad, Margins
    margins = Margins()
    prompt, attention_mask = left_pad(prompts, pad)
    B, P = prompt.shape
    x = np.full((B, P + gen_length), mask_id, dtype=np.int64)
    x[:, :P] = prompt
    padded = bool((attention_mask == 0).any())
    if padded:
        attention_mask = np.concatenate([attention_mask, np.ones((B, gen_length), dtype=np.int64)], axis=1)
        positions = tok_idx(attention_mask)
    else:
        attention_mask, positions = None, None
    prompt_index = x != mask_id
    assert gen_length % block_length == 0
    num_blocks = gen_length // block_length
    if rule == 'fixed':
        assert steps % num_blocks == 0
        steps = steps // num_blocks
    trace, nfe, step_of_row = [], 0, [0] * B
    for num_block in range(num_blocks):
        s, e = P + num_block * block_length, P + (num_block + 1) * block_length
        num_transfer_tokens = [get_num_transfer_tokens((x[b, s:e] == mask_id).sum(), steps) for b in range(B)] if rule == 'fixed' else None
        i = 0
        while True:
            if rule == 'fixed' and i == steps:
                break
            if rule != 'fixed' and (x[:, s:e] == mask_id).sum() == 0:
                break
            nfe += 1
            if cfg_scale > 0.:
                un_x = x.copy()
                un_x[prompt_index] = mask_id
                x_ = np.concatenate([x, un_x], axis=0)
                am = None if attention_mask is None else np.concatenate([attention_mask, attention_mask], axis=0)
                ps = None if positions is None else np.concatenate([positions, positions], axis=0)
                logits = model(x_, am, ps)
                logits, un_logits = logits[:B], logits[B:]
                s1 = np.float32(cfg_scale + 1)
                logits = un_logits + s1 * (logits - un_logits)  # float32, as torch computes it
            else:
                logits = model(x, attention_mask, positions)
            logits = logits.copy()
            if logits_eos_inf:
                logits[:, :, eos] = -np.inf
            for b in range(B):
                cands = [p for p in range(s, e) if x[b, p] == mask_id]
                if not cands:
                    continue
                where = f'row {b} block {num_block} step {i}'
                x0, conf = propose(logits[b], temperature, remasking, rngs[b], cands, margins, where)
                if confidence_eos_eot_inf:  # intended semantics (LLaDA issue #137)
                    for p in cands:
                        if x0[p] in (eos, eot):
                            conf[p] = -np.inf
                ranked = order(cands, conf)
                k = select(rule, ranked, conf, num_transfer_tokens[b][i] if rule == 'fixed' else 0, threshold, factor, margins, where)
                chosen = sorted(ranked[:k])
                assert chosen, f'{where}: a step that commits nothing (choose steps <= block masks)'
                for p in chosen:
                    x[b, p] = x0[p]
                trace.append(dict(row=b, step=step_of_row[b], block=num_block,
                                  committed=[[p - P, x0[p], conf[p]] for p in chosen]))
                step_of_row[b] += 1
            i += 1
    return x[:, P:], trace, nfe, margins
