// A Transformer seen as the sampler's Denoiser (sampler/types.ts, satisfied structurally: model/ does not
// import sampler/). It aligns logits so that row i scores the token AT position i — Dream predicts i+1 from
// i (dllm-reference.md §3.2: logits = cat([l[:, :1], l[:, :-1]])) — and it implements Fast-dLLM's block
// caches (arXiv 2505.22618 §2.3) as a wrapper, never as a second decoding loop:
//   none   — every call is a full forward (exact; the default, for parity with the references)
//   prefix — at a block's first step, a full forward fills the K/V cache and gives that step's logits; later
//            steps recompute only the block and everything after it, reading the prefix from the cache
//   dual   — as prefix, but later steps recompute only the block; prefix and suffix come from the cache
// Cached modes are approximate: keys outside the recomputed rows are those of the block's first step.
import { defaultPositions, type ForwardModel, type KVCache } from './forward.js';

export type CacheMode = 'none' | 'prefix' | 'dual';

export interface DenoiseRequest {
  tokens: Int32Array; // (B, T)
  B: number;
  T: number;
  positions?: Int32Array; // (B, T)
  keyValid?: Uint8Array | null; // (B, T)
  region?: { start: number; end: number; blockStart: boolean };
}

export interface Specials { mask: number; eos: number | null; eot: number | null; pad: number | null; }

export class DiffusionLM {
  readonly vocabSize: number;
  /** rows of the model computed so far (a cost counter: full forward of T rows adds B·T) */
  rowsComputed = 0;
  private cache: KVCache | null = null;

  constructor(readonly model: ForwardModel, readonly specials: Specials, readonly cacheMode: CacheMode = 'none') {
    this.vocabSize = model.config.vocabSize;
    if (model.config.attention === 'causal') throw new Error('DiffusionLM: a causal model is not a denoiser; use it for AR decoding');
  }

  private rows(tokens: Int32Array, B: number, T: number, a: number, b: number): Int32Array {
    const R = b - a, out = new Int32Array(B * R);
    for (let i = 0; i < B; i++) out.set(tokens.subarray(i * T + a, i * T + b), i * R);
    return out;
  }

  async denoise(req: DenoiseRequest): Promise<Float32Array> {
    const { B, T, tokens } = req;
    const V = this.vocabSize, shift = this.model.config.shiftLogits;
    const start = req.region?.start ?? 0, end = req.region?.end ?? T;
    if (start < 0 || end > T || start >= end) throw new Error(`denoise: region ${start}..${end} is not inside 0..${T}`);
    const positions = req.positions ?? defaultPositions(B, T);
    const keyValid = req.keyValid ?? null;
    // model rows whose logits we need: [start, end), or one earlier for a shifted model
    const need0 = shift ? Math.max(0, start - 1) : start, need1 = shift ? Math.max(end - 1, need0 + 1) : end;
    let logits: Float32Array; // (B, computed rows, V)
    let c0: number, c1: number; // computed rows [c0, c1)
    const full = this.cacheMode === 'none' || !req.region || req.region.blockStart || !this.cache || this.cache.capacity !== T || this.cache.B !== B;
    if (full) {
      if (this.cacheMode !== 'none') {
        if (!this.cache || this.cache.capacity !== T || this.cache.B !== B) {
          if (this.cache) this.model.freeCache(this.cache);
          this.cache = this.model.createCache(B, T);
        }
      }
      c0 = 0; c1 = T;
      logits = await this.model.forward({ tokens, B, T, positions, keyValid, logitRows: logitRows(B, T, need0 - c0, need1 - c0), ...(this.cacheMode !== 'none' ? { cache: this.cache!, rowStart: 0 } : {}) });
    } else {
      c0 = need0;
      c1 = this.cacheMode === 'prefix' ? T : Math.max(need1, end);
      const R = c1 - c0;
      logits = await this.model.forward({
        tokens: this.rows(tokens, B, T, c0, c1), B, T: R, positions: this.rows(positions, B, T, c0, c1),
        keyValid, cache: this.cache!, rowStart: c0, logitRows: logitRows(B, R, need0 - c0, need1 - c0),
      });
    }
    this.rowsComputed += B * (c1 - c0);
    // logits hold the model rows [need0, need1) of each batch entry: (B, N, V); align them → (B, end − start, V)
    const R = end - start, N = need1 - need0;
    if (!shift) return logits; // rows [start, end) exactly, in order
    const out = new Float32Array(B * R * V);
    for (let b = 0; b < B; b++) {
      for (let i = start; i < end; i++) {
        const src = Math.max(0, i - 1) - need0; // Dream: row i is scored by model row i − 1 (row 0 by itself)
        out.set(logits.subarray((b * N + src) * V, (b * N + src + 1) * V), (b * R + i - start) * V);
      }
    }
    return out;
  }

  /** drop the cache (call between requests) */
  reset(): void {
    if (this.cache) this.model.freeCache(this.cache);
    this.cache = null;
  }
}

/**
 * the (B·C) row indices of rows [a, b) of every batch entry of a call over C rows: the LM head (C × V per
 * row, about a third of a small model's per-row work) and the logits transfer then cover only the rows the
 * sampler reads, not the whole canvas
 */
function logitRows(B: number, C: number, a: number, b: number): Int32Array {
  const out = new Int32Array(B * (b - a));
  for (let i = 0; i < B; i++) for (let r = a; r < b; r++) out[i * (b - a) + r - a] = i * C + r;
  return out;
}
