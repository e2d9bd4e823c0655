// Held-out likelihood, comparable across a diffusion model and its AR twin:
//   diffusion — an upper bound on −log p(x) by LLaDA's Monte-Carlo estimator (get_log_likelihood.py,
//               dllm-reference.md §1.4): k ~ U{1..L}; the b rows of a batch get stratified mask counts
//               (k + j·L/b) mod L (+1), random positions; each row's Σ masked CE · L / k_j; averaged over
//               rows and over mcNum batches
//   AR        — the exact −log p(x) = Σ −log p(x_i | x_<i) from one causal forward
//   block diffusion — the NELBO Σ_b bound(block b | clean blocks < b) (BD3-LM): per block the same estimator,
//               k ~ U{1..m} of its m scored tokens masked (stratified over the batch rows), Σ CE · m / k; all
//               blocks of a row in one forward over [x_t ⊕ x_0] (model/block-diffusion.ts)
// Both in nats per token; bits per byte = nats·tokens / (bytes · ln 2).
import type { Denoiser } from '../sampler/types.js';

export interface Uniform {
  uniform(): number;
}

/** −log-softmax of logits row (V) at `target`, in float64 */
export function nll(logits: Float32Array, o: number, V: number, target: number): number {
  let m = -Infinity;
  for (let v = 0; v < V; v++) m = Math.max(m, logits[o + v]!);
  let z = 0;
  for (let v = 0; v < V; v++) z += Math.exp(logits[o + v]! - m);
  return m + Math.log(z) - logits[o + target]!;
}

/** Monte-Carlo ELBO bound on −log p(x) in nats for one sequence x (L) */
export async function diffusionNll(model: Denoiser, x: Int32Array, mcNum: number, batch: number, rng: Uniform): Promise<number> {
  const L = x.length,
    V = model.vocabSize,
    mask = model.specials.mask;
  let total = 0;
  for (let m = 0; m < mcNum; m++) {
    const k0 = Math.floor(rng.uniform() * L); // k − 1, k ~ U{1..L}
    const tokens = new Int32Array(batch * L);
    const counts: number[] = [];
    for (let b = 0; b < batch; b++) {
      const k = ((k0 + Math.floor((b * L) / batch)) % L) + 1; // stratified mask counts in 1..L
      counts.push(k);
      // k random positions: a partial Fisher–Yates shuffle
      const pos = Int32Array.from({ length: L }, (_, i) => i);
      for (let i = 0; i < k; i++) {
        const j = i + Math.floor(rng.uniform() * (L - i));
        [pos[i], pos[j]] = [pos[j]!, pos[i]!];
      }
      tokens.set(x, b * L);
      for (let i = 0; i < k; i++) tokens[b * L + pos[i]!] = mask;
    }
    const logits = await model.denoise({ tokens, B: batch, T: L });
    for (let b = 0; b < batch; b++) {
      let s = 0;
      for (let i = 0; i < L; i++) if (tokens[b * L + i] === mask) s += nll(logits, (b * L + i) * V, V, x[i]!);
      total += (s * L) / counts[b]!;
    }
  }
  return total / (mcNum * batch);
}

/** exact −log p(x[1..]) given x[0] in nats, from causal logits (L, V) of x */
export function causalNll(logits: Float32Array, x: Int32Array, V: number): number {
  let s = 0;
  for (let i = 0; i + 1 < x.length; i++) s += nll(logits, i * V, V, x[i + 1]!);
  return s;
}

/** fixed windows of L + 1 tokens from held-out token streams (one per document, in order), at most `max` */
export function windows(docs: readonly Int32Array[], L: number, max: number): Int32Array[] {
  const out: Int32Array[] = [];
  for (const d of docs) {
    for (let s = 0; s + L + 1 <= d.length && out.length < max; s += L + 1) out.push(d.slice(s, s + L + 1));
    if (out.length >= max) break;
  }
  return out;
}

export interface PplSummary {
  windows: number;
  tokens: number;
  bytes: number;
  natsPerToken: number;
  bitsPerByte: number;
}

/**
 * whole documents, every token scored: each document (its tokens after `bos`, the separator the training
 * streams put before every document) is cut into windows of at most L + 1 tokens that chain — a window
 * starts with the previous window's last token — so window by window the scored tokens are exactly the
 * document's. Models with different tokenizers then score the same bytes (the `windows` above do not: L
 * tokens of one tokenizer are more or fewer bytes than L of another).
 */
export function documentWindows(docs: readonly Int32Array[], bos: number, L: number, maxDocs: number): Int32Array[] {
  const out: Int32Array[] = [];
  for (const d of docs.slice(0, maxDocs)) {
    const x = new Int32Array(d.length + 1); // (1 + tokens) the separator, then the document
    x[0] = bos;
    x.set(d, 1);
    for (let s = 0; s + 1 < x.length; s += L) out.push(x.slice(s, Math.min(x.length, s + L + 1)));
  }
  return out;
}

/**
 * nats per token and bits per byte over windows that each score all tokens but their first (AR: given the
 * ones before; diffusion: the ELBO bound of those tokens). Bytes are those of the scored text, so models
 * with different tokenizers compare in bits per byte.
 */
export function pplSummary(natsTotal: number, nWindows: number, tokens: number, bytes: number): PplSummary {
  return { windows: nWindows, tokens, bytes, natsPerToken: natsTotal / tokens, bitsPerByte: natsTotal / (bytes * Math.LN2) };
}

export interface BlockDiffusionScorer {
  vocabSize: number;
  mask: number;
  bdSize: number; // L
  /** the row of [x_t ⊕ x_0] (2n rows) whose logits predict token i */
  targetRow(i: number, n: number): number;
  /** logits (B·R, V) of rows `rows` (indices into B·2n) of the forward over tokens (B, 2n) */
  logits(tokens: Int32Array, B: number, n: number, rows: Int32Array): Promise<Float32Array>;
}

/** Monte-Carlo NELBO bound on −log p(x[1..] | x[0]) in nats for one window x (n) of a block-diffusion model */
export async function blockDiffusionNll(
  m: BlockDiffusionScorer,
  x: Int32Array,
  mcNum: number,
  batch: number,
  rng: Uniform,
): Promise<number> {
  const n = x.length,
    V = m.vocabSize,
    L = m.bdSize;
  const rows = new Int32Array(batch * (n - 1)); // row r·(n−1) + i − 1 predicts token i of batch row r
  for (let r = 0; r < batch; r++) for (let i = 1; i < n; i++) rows[r * (n - 1) + i - 1] = r * 2 * n + m.targetRow(i, n);
  let total = 0;
  for (let it = 0; it < mcNum; it++) {
    const tokens = new Int32Array(batch * 2 * n);
    const weight = new Float64Array(batch * n); // m / k on the masked tokens of x_t, else 0
    for (let r = 0; r < batch; r++) {
      tokens.set(x, r * 2 * n);
      tokens.set(x, r * 2 * n + n);
    }
    for (let b0 = 0; b0 < n; b0 += L) {
      const first = Math.max(1, b0), // token 0 is the context, never scored
        size = Math.min(n, b0 + L) - first;
      if (size <= 0) continue;
      const k0 = Math.floor(rng.uniform() * size);
      for (let r = 0; r < batch; r++) {
        const k = ((k0 + Math.floor((r * size) / batch)) % size) + 1; // stratified mask counts in 1..size
        const pos = Int32Array.from({ length: size }, (_, i) => first + i);
        for (let i = 0; i < k; i++) {
          const j = i + Math.floor(rng.uniform() * (size - i));
          [pos[i], pos[j]] = [pos[j]!, pos[i]!];
          tokens[r * 2 * n + pos[i]!] = m.mask;
          weight[r * n + pos[i]!] = size / k;
        }
      }
    }
    const logits = await m.logits(tokens, batch, n, rows);
    for (let r = 0; r < batch; r++)
      for (let i = 1; i < n; i++) {
        const w = weight[r * n + i]!;
        if (w > 0) total += w * nll(logits, (r * (n - 1) + i - 1) * V, V, x[i]!);
      }
  }
  return total / (mcNum * batch);
}
