// Which proposals to commit this step. Candidates are the masked positions of the current block (ascending
// position), each with its proposed token and confidence. Every rule orders candidates by confidence, ties to
// the lower position (torch.topk leaves tie order unspecified; a fixed rule makes traces reproducible).
//   fixedCount  — LLaDA generate.py: the top k, k from the linear schedule (schedule.ts transferCounts)
//   thresholdCount — Fast-dLLM get_transfer_index(threshold): the most confident always, then every other
//                 candidate with confidence ≥ τ
//   factorCount — Fast-dLLM get_transfer_index_dynamic: sorted c_(0) ≥ c_(1) ≥ …, bar_n = 1 − f/(n + 2) for the
//                 (n+1)-th token and −1 for the first; commit up to the first failure — with the upstream quirk
//                 that a failure at the LAST candidate still commits all of them (`top_i == len − 1` branch)
//   thresholdOrCount — LLaDA2 (LLaDA2MoeModelLM.generate, modeling_llada2_moe.py): every candidate with
//                 confidence > τ (strictly) when at least k pass, else the top k; k from transferCounts(block
//                 length, steps), so with steps = block length (its defaults 32 / 32) k = 1 and the rule is
//                 Fast-dLLM's threshold but for > vs ≥
//   sampleWithoutReplacement — Dream alg_temp > 0: torch.multinomial(softmax(conf/alg_temp), k) without
//                 replacement, drawn the way ATen does it: keys p/E with E ~ Exp(1), keep the k largest
import type { DecodeRng } from './rng.js';

export interface Candidate {
  position: number;
  token: number;
  confidence: number;
}

/** candidates sorted by confidence descending, ties by lower position */
export function byConfidence(c: readonly Candidate[]): Candidate[] {
  return [...c].sort((a, b) => b.confidence - a.confidence || a.position - b.position || 0);
}

/** k (generate.py: topk with k = num_transfer_tokens[i]) */
export function fixedCount(sorted: readonly Candidate[], k: number): number {
  return Math.min(k, sorted.length);
}

/** Fast-dLLM threshold: 1 + #{j ≥ 1 : c_(j) ≥ τ} (a prefix, since `sorted` is descending) */
export function thresholdCount(sorted: readonly Candidate[], tau: number): number {
  if (sorted.length === 0) return 0;
  let k = 1;
  while (k < sorted.length && sorted[k]!.confidence >= tau) k++;
  return k;
}

/** LLaDA2: #{c > τ} when that is ≥ k (the candidates above τ are a prefix of `sorted`), else min(k, #candidates) */
export function thresholdOrCount(sorted: readonly Candidate[], tau: number, k: number): number {
  let high = 0;
  while (high < sorted.length && sorted[high]!.confidence > tau) high++;
  return high >= k ? high : Math.min(k, sorted.length);
}

/** Fast-dLLM factor rule, line for line after get_transfer_index_dynamic (see the file header for the quirk) */
export function factorCount(sorted: readonly Candidate[], factor: number): number {
  const m = sorted.length;
  if (m === 0) return 0;
  let top = 0;
  for (top = 0; top < m; top++) {
    const bar = top === 0 ? -1 : 1 - factor / (top + 2); // threshs[top] = 1 − factor/(n+1) with n = top+1
    if (sorted[top]!.confidence < bar) break;
  }
  if (top === m) top = m - 1; // Python's for-loop leaves top_i at the last index when nothing breaks
  if (top === 0 || top === m - 1) top += 1;
  return top;
}

/**
 * k positions sampled without replacement with weights softmax(conf / algTemp) over the candidates (Dream
 * alg_temp > 0). Draws one uniform per candidate in ascending position order. Returns candidate indices.
 */
export function sampleWithoutReplacement(c: readonly Candidate[], k: number, algTemp: number, rng: DecodeRng): number[] {
  let max = -Infinity;
  for (const x of c) if (x.confidence / algTemp > max) max = x.confidence / algTemp;
  const w = c.map((x) => (max === -Infinity ? 1 : Math.exp(x.confidence / algTemp - max))); // all −∞: uniform
  const keys = w.map((wi) => wi / -Math.log(rng.uniform()));
  const idx = c.map((_, i) => i).sort((a, b) => keys[b]! - keys[a]! || c[a]!.position - c[b]!.position);
  return idx.slice(0, Math.min(k, c.length));
}
