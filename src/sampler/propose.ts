// Token proposals for one masked position: from its logits row (V), pick x0 and score it.
//   proposeLlada — LLaDA generate.py `add_gumbel_noise` + argmax, confidence p(x0) = softmax(logits)[x0]
//                  (Fast-dLLM `get_transfer_index` takes that softmax in float64, as we do)
//   proposeDream — Dream generation_utils.py `sample_tokens`: logits/τ → top_p → top_k → softmax; sample
//                  (τ > 0) or argmax; confidence p(x0), or top1 − top2 (topk_margin), or Σ p·log(p + 1e−10)
//                  (entropy), all under the tempered, filtered distribution
// Banned ids (the mask id always, EOS under `logits_eos_inf`, EOS/EoT in a fixed-length infill middle) get
// logit −∞ before anything else, as generate.py does for `logits_eos_inf`. Ties go to the lowest id
// (torch.argmax returns the first maximum). Randomness comes from the caller's DecodeRng, in a fixed order
// that scripts/reference/samplers/common.py mirrors.
import type { DecodeRng } from './rng.js';
import type { ConfidenceKind } from './decoders.js';

export interface Proposal {
  token: number;
  confidence: number;
}

/** (V) float64 copy of one logits row with banned ids at −∞ */
export function rowLogits(logits: Float32Array, offset: number, V: number, banned: readonly number[], out: Float64Array): Float64Array {
  for (let v = 0; v < V; v++) out[v] = logits[offset + v]!;
  for (const b of banned) if (b >= 0 && b < V) out[b] = -Infinity;
  return out;
}

/** a model whose weights are broken gives NaN logits; decoding them would commit garbage ids, so stop and say so */
export function checkLogits(logits: Float32Array, where: string): void {
  for (let i = 0; i < logits.length; i++) {
    if (logits[i] !== logits[i])
      throw new Error(
        `${where}: the model produced NaN logits (at ${i} of ${logits.length}); its weights or inputs are broken — check model.safetensors (e.g. an f16 overflow) before decoding`,
      );
  }
}

/** token → how often it occurs in ids[from, to), skipping `skip` (the mask id); the penalties' c[j] */
export function tokenCounts(ids: ArrayLike<number>, from: number, to: number, skip: number): Map<number, number> {
  const c = new Map<number, number>();
  for (let i = from; i < to; i++) {
    const t = ids[i]!;
    if (t !== skip) c.set(t, (c.get(t) ?? 0) + 1);
  }
  return c;
}

/** OpenAI's presence / frequency penalties, in place: l[j] −= c[j]·frequency + (c[j] > 0)·presence */
export function penalize(l: Float64Array, counts: ReadonlyMap<number, number>, presence: number, frequency: number): Float64Array {
  if (presence === 0 && frequency === 0) return l;
  for (const [t, n] of counts) if (t >= 0 && t < l.length) l[t] = l[t]! - (n * frequency + presence);
  return l;
}

function argmax(x: Float64Array): number {
  let best = 0;
  for (let v = 1; v < x.length; v++) if (x[v]! > x[best]!) best = v;
  return best;
}

/** softmax(l)[k] in float64, max-subtracted */
function softmaxAt(l: Float64Array, k: number): number {
  let max = -Infinity;
  for (let v = 0; v < l.length; v++) if (l[v]! > max) max = l[v]!;
  let z = 0;
  for (let v = 0; v < l.length; v++) z += Math.exp(l[v]! - max);
  return Math.exp(l[k]! - max) / z;
}

/**
 * LLaDA: x0 = argmax(exp(l) / (−log u)^τ) with u ~ U(0,1) per vocabulary entry, in float64 — generate.py's
 * add_gumbel_noise literally (an exact sample of softmax(l/τ); float64 because low-precision Gumbel-max hurts
 * generation quality, arXiv:2409.02908). τ = 0 is argmax. Draws V uniforms when τ > 0, none otherwise.
 * Returns the untempered probability p(x0) as confidence (generate.py's `low_confidence`).
 */
export function proposeLlada(l: Float64Array, temperature: number, rng: DecodeRng): Proposal {
  const V = l.length;
  let token: number;
  if (temperature === 0) token = argmax(l);
  else {
    token = 0;
    let best = -Infinity;
    for (let v = 0; v < V; v++) {
      const score = Math.exp(l[v]!) / Math.pow(-Math.log(rng.uniform()), temperature);
      if (score > best) {
        best = score;
        token = v;
      }
    }
    // exp over/underflow can leave every score 0 or ∞ (logits beyond ±709); then fall back to argmax, never a banned id
    if (l[token] === -Infinity || !(best > 0 && best < Infinity)) token = argmax(l);
  }
  return { token, confidence: softmaxAt(l, token) };
}

export type DreamConfidence = ConfidenceKind; // decoders.ts: the table names each decoder's kind

/** scratch for proposeDream, reused across positions */
export class DreamScratch {
  readonly probs: Float64Array;
  readonly order: Int32Array;
  constructor(readonly V: number) {
    this.probs = new Float64Array(V);
    this.order = new Int32Array(V);
  }
}

/**
 * Dream sample_tokens on one row. `l` is modified in place (tempered, filtered). Categorical sampling uses one
 * uniform by inverse CDF in vocabulary order (torch's Categorical draw is not reproducible across languages;
 * any exact sampler of the same distribution is faithful).
 */
export function proposeDream(
  l: Float64Array,
  temperature: number,
  topP: number,
  topK: number,
  kind: DreamConfidence,
  rng: DecodeRng,
  sc: DreamScratch,
): Proposal {
  const V = l.length,
    p = sc.probs;
  if (temperature > 0) for (let v = 0; v < V; v++) l[v] = l[v]! / temperature;
  if (topP < 1) filterTopP(l, topP, sc);
  if (topK > 0) filterTopK(l, Math.min(topK, V), sc);
  softmaxInto(l, p);
  let token: number;
  if (temperature > 0) token = sampleCategorical(p, rng.uniform());
  else token = argmax(p);
  let confidence = p[token]!;
  if (kind === 'margin') {
    let a = -Infinity,
      b = -Infinity; // top-2 probabilities (top1 − top2, whatever x0 was)
    for (let v = 0; v < V; v++) {
      const x = p[v]!;
      if (x > a) {
        b = a;
        a = x;
      } else if (x > b) b = x;
    }
    confidence = a - (b === -Infinity ? 0 : b);
  } else if (kind === 'negEntropy') {
    confidence = 0;
    for (let v = 0; v < V; v++) confidence += p[v]! * Math.log(p[v]! + 1e-10); // sample_tokens' epsilon
  }
  return { token, confidence };
}

export function softmaxInto(l: Float64Array, out: Float64Array): void {
  let max = -Infinity;
  for (let v = 0; v < l.length; v++) if (l[v]! > max) max = l[v]!;
  let z = 0;
  for (let v = 0; v < l.length; v++) {
    const e = Math.exp(l[v]! - max);
    out[v] = e;
    z += e;
  }
  for (let v = 0; v < l.length; v++) out[v] = out[v]! / z;
}

/** smallest v with u < Σ_{w≤v} p_w; rounding at the top end falls back to the last v with p > 0 */
export function sampleCategorical(p: Float64Array, u: number): number {
  let c = 0,
    last = 0;
  for (let v = 0; v < p.length; v++) {
    if (p[v]! <= 0) continue;
    c += p[v]!;
    last = v;
    if (u < c) return v;
  }
  return last;
}

/** indices sorted by value descending, ties by lower index (a stable sort, as the references' data never tie) */
function sortDesc(l: Float64Array, order: Int32Array): void {
  for (let v = 0; v < l.length; v++) order[v] = v;
  order.sort((a, b) => l[b]! - l[a]! || a - b);
}

/** Dream top_p_logits: drop tokens once the cumulative probability (sorted) exceeds p, always keeping the first */
function filterTopP(l: Float64Array, topP: number, sc: DreamScratch): void {
  const V = l.length,
    order = sc.order,
    p = sc.probs;
  sortDesc(l, order);
  softmaxInto(l, p);
  let cum = 0;
  let removeNext = false; // "shift the indices to the right to keep the first token above the threshold"
  for (let j = 0; j < V; j++) {
    const v = order[j]!;
    const remove = j > 0 && removeNext;
    cum += p[v]!;
    removeNext = cum > topP;
    if (remove) l[v] = -Infinity; // torch fills finfo.min; its softmax weight is 0 all the same
  }
}

/** Dream top_k_logits: remove every logit below the k-th largest (ties with it survive) */
function filterTopK(l: Float64Array, k: number, sc: DreamScratch): void {
  sortDesc(l, sc.order);
  const kth = l[sc.order[k - 1]!]!;
  for (let v = 0; v < l.length; v++) if (l[v]! < kth) l[v] = -Infinity;
}

/** classifier-free guidance (generate.py): un + (s + 1)·(cond − un), in float32 as PyTorch computes it */
export function guide(cond: Float32Array, un: Float32Array, scale: number): Float32Array {
  const f = Math.fround,
    s1 = f(scale + 1),
    out = new Float32Array(cond.length);
  for (let i = 0; i < cond.length; i++) out[i] = f(un[i]! + f(s1 * f(cond[i]! - un[i]!)));
  return out;
}
