// Token streams for training: one long array of token ids per split (files joined by EOS), from which
// windows are drawn at random offsets with the trainer's seeded RNG.
import type { Rng } from './rng.js';

export interface TokenStream {
  ids: Uint16Array | Uint32Array; // (n)
}

/** B windows of length L at uniform random offsets: (B, L) */
export function sampleWindows(stream: TokenStream, B: number, L: number, rng: Rng): Int32Array {
  const n = stream.ids.length;
  if (n < L + 1) throw new Error(`data: the stream has ${n} tokens, a window needs ${L + 1}`);
  const out = new Int32Array(B * L);
  for (let b = 0; b < B; b++) {
    const off = rng.int(n - L + 1);
    for (let i = 0; i < L; i++) out[b * L + i] = stream.ids[off + i]!;
  }
  return out;
}

/** consecutive non-overlapping windows (B, L) starting at window index `start`, for validation */
export function fixedWindows(stream: TokenStream, B: number, L: number, start: number): Int32Array | null {
  const out = new Int32Array(B * L);
  for (let b = 0; b < B; b++) {
    const off = (start + b) * L;
    if (off + L > stream.ids.length) return null;
    for (let i = 0; i < L; i++) out[b * L + i] = stream.ids[off + i]!;
  }
  return out;
}
