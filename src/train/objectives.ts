// Training objectives: each turns a batch of clean token windows into (model input, targets, weights) for
// the weighted cross-entropy kernel. Loss = Σ losses / normaliser.
//   mdm — LLaDA pre-training (GUIDELINES.md): t ~ U(0,1), p = (1−ε)·t + ε per sequence, each token masked
//         with probability p, CE on masked tokens weighted 1/p, normalised by B·L.
//         With shifted logits (Dream, dllm-reference.md §3.2; the `dream` layout adapted from AR weights),
//         the masked token i is scored at row i − 1 and token 0 stays clean (shiftTargets).
//   sft — LLaDA SFT: the prompt is never masked; the loss is normalised by the answer length per sequence.
//   ar  — next-token prediction: input x[0..L-2], target x[1..L-1], mean over B·(L−1) tokens.
//   bd  — block diffusion (BD3-LM, arXiv 2503.09573 §3; round2-reference.md §2.1): the window is cut into
//         blocks of `bdSize`, each block masked at its own level p, and the model reads [x_t ⊕ x_0] under
//         the 'blockDiffusion' attention mask (noisy block b sees itself and the clean blocks < b), so every
//         block's MDM loss is conditioned on clean context, as at decoding with an exact block cache.
//         CE on the masked tokens of x_t weighted 1/p, normalised by B·L (the NELBO per token).
import { bdTargetRow } from '../model/block-diffusion.js';
import type { Rng } from './rng.js';

export { bdTargetRow };

export type Objective = 'mdm' | 'sft' | 'ar' | 'bd';

/** ε of p = (1−ε)t + ε: LLaDA GUIDELINES.md uses 1e-3 so no sequence is left unmasked */
export const MDM_EPS = 1e-3;

/** t ~ U[lo, hi] before p = (1−ε)t + ε: [0, 1] is the ELBO's; a narrower range is BD3-LM's clipped schedule
 *  (round2-reference.md §2.1), e.g. [0.5, 1] for distillation's heavier masking (training only: validation uses [0, 1]) */
export interface MaskRange {
  lo: number;
  hi: number;
}
export const FULL_RANGE: MaskRange = Object.freeze({ lo: 0, hi: 1 });
const level = (u: number, r: MaskRange): number => (1 - MDM_EPS) * (r.lo + (r.hi - r.lo) * u) + MDM_EPS;

export interface PreparedBatch {
  input: Int32Array; // (B, T) model input
  targets: Int32Array; // (B, T) −1 where no loss
  weights: Float32Array; // (B, T) per-token loss weight
  B: number;
  T: number;
  normaliser: number; // divide Σ losses by this
  predicted: number; // tokens that carry loss (for tokens/s and the per-token loss)
  /** bd only: the input is [x_t ⊕ x_0] (B, 2L) read under this mask, both halves at positions 0..L−1 */
  blockDiffusion?: number;
}

/**
 * Masked diffusion (LLaDA Eq. 3 / GUIDELINES.md forward_process): clean (B, L) → masked input, targets on
 * masked tokens only, weight 1/p. `maskId` comes from the tokenizer, never a literal.
 */
export function prepareMdm(
  clean: Int32Array,
  B: number,
  L: number,
  maskId: number,
  rng: Rng,
  promptLengths?: Int32Array,
  range: MaskRange = FULL_RANGE,
): PreparedBatch {
  const input = Int32Array.from(clean);
  const targets = new Int32Array(B * L).fill(-1);
  const weights = new Float32Array(B * L);
  let predicted = 0;
  let normaliser = B * L;
  if (promptLengths) normaliser = 0;
  for (let b = 0; b < B; b++) {
    const p = level(rng.uniform(), range);
    const start = promptLengths ? promptLengths[b]! : 0;
    // SFT: loss per sequence is normalised by its answer length; fold that into the weight
    const seqNorm = promptLengths ? Math.max(1, L - start) : 1;
    for (let i = start; i < L; i++) {
      if (rng.uniform() >= p) continue;
      const j = b * L + i;
      input[j] = maskId;
      targets[j] = clean[j]!;
      weights[j] = 1 / p / seqNorm;
      predicted++;
    }
  }
  if (promptLengths) normaliser = B; // Σ_b (Σ_answer CE/p)/answerLen, averaged over the batch
  return { input, targets, weights, B, T: L, normaliser, predicted };
}

/**
 * Dream's shifted logits (arXiv 2508.15487 §2; dllm-reference.md §3.2): the logits at row i − 1 predict token i,
 * as the AR weights they start from were trained. A masked batch (B, L) from prepareMdm → the same input with
 * token 0 of each row unmasked (no row predicts it) and every target and weight moved one row earlier.
 */
export function shiftTargets(b: PreparedBatch, clean: Int32Array): PreparedBatch {
  const { B, T: L } = b;
  const targets = new Int32Array(B * L).fill(-1),
    weights = new Float32Array(B * L),
    input = Int32Array.from(b.input);
  let predicted = b.predicted;
  for (let r = 0; r < B; r++) {
    const j0 = r * L;
    if (b.targets[j0]! >= 0) predicted--;
    input[j0] = clean[j0]!;
    targets.set(b.targets.subarray(j0 + 1, j0 + L), j0);
    weights.set(b.weights.subarray(j0 + 1, j0 + L), j0);
  }
  return { ...b, input, targets, weights, predicted };
}

/** next-token prediction over windows of L+1 clean tokens: (B, L+1) → input/targets (B, L) */
export function prepareAr(clean: Int32Array, B: number, Lp1: number): PreparedBatch {
  const L = Lp1 - 1;
  const input = new Int32Array(B * L),
    targets = new Int32Array(B * L);
  for (let b = 0; b < B; b++) {
    input.set(clean.subarray(b * Lp1, b * Lp1 + L), b * L);
    targets.set(clean.subarray(b * Lp1 + 1, (b + 1) * Lp1), b * L);
  }
  return { input, targets, weights: new Float32Array(B * L).fill(1), B, T: L, normaliser: B * L, predicted: B * L };
}

/**
 * Block diffusion (BD3-LM's vectorised training input with Fast-dLLM v2's shifted targets): clean (B, L) →
 * input (B, 2L) = [x_t ⊕ x_0], one mask level p = (1−ε)t + ε per block of `bdSize` (BD3-LM `_sample_t`
 * draws one t per block; its antithetic stratification is left out), token 0 never masked (nothing predicts
 * it), each masked token scored at bdTargetRow weighted 1/p. Normalised by B·L: the NELBO per token.
 * `complement` (Fast-dLLM v2's training forward, LLaDA2.0's complementary masking): each window also gives
 * the row masked where the first is not, so every token (but token 0) is scored once per pair; that row's
 * level is 1 − p (weight 1/(1 − p)), an antithetic draw. Output (2B, 2L): window b at rows 2b, 2b+1; the NELBO
 * is the mean of the two estimates (normaliser 2B·L).
 */
export function prepareBd(
  clean: Int32Array,
  B: number,
  L: number,
  bdSize: number,
  maskId: number,
  rng: Rng,
  range: MaskRange = FULL_RANGE,
  complement = false,
): PreparedBatch {
  if (!(bdSize >= 1)) throw new Error(`prepareBd: bdSize must be ≥ 1, got ${bdSize}`);
  const T = 2 * L,
    copies = complement ? 2 : 1,
    R = B * copies; // rows out
  const input = new Int32Array(R * T); // (R, 2L): x_t then x_0
  const targets = new Int32Array(R * T).fill(-1);
  const weights = new Float32Array(R * T);
  let predicted = 0;
  const score = (r: number, i: number, token: number, p: number) => {
    input[r * T + i] = maskId;
    const j = r * T + bdTargetRow(i, L, bdSize);
    targets[j] = token;
    weights[j] = 1 / p;
    predicted++;
  };
  for (let b = 0; b < B; b++) {
    const row = clean.subarray(b * L, (b + 1) * L);
    const r = b * copies; // the row of x_t; r + 1 holds its complement
    for (let c = 0; c < copies; c++) {
      input.set(row, (r + c) * T);
      input.set(row, (r + c) * T + L);
    }
    let p = 1;
    for (let i = 0; i < L; i++) {
      if (i % bdSize === 0) p = level(rng.uniform(), range);
      if (i === 0) continue; // no draw: the stream is the same with and without `complement`
      if (rng.uniform() < p) score(r, i, row[i]!, p);
      else if (complement) score(r + 1, i, row[i]!, 1 - p);
    }
  }
  return { input, targets, weights, B: R, T, normaliser: R * L, predicted, blockDiffusion: bdSize };
}
