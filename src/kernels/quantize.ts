// Weight-only quantization for matmulQ8 and matmulQ4.
// q8: per output channel, symmetric: scale[n] = max_k |w[n, k]| / 127, q = round(w / scale) clamped to
//     [-127, 127] (as LLM.int8's absmax rowwise).
// q4: blocks of 32 along K with one scale each, ggml's Q4_0 rule (quantize_row_q4_0_ref, ggml-quants.c): the
//     element of largest magnitude `max` (signed) maps to nibble 0, d = max / −8, q = min(15, trunc(x/d + 8.5));
//     byte t of a block holds element t (low nibble) and t + 16 (high nibble). The scale stays f32 (ggml
//     stores it as f16: a GGUF Q4_0 tensor read back and quantized again gives its own nibbles and scales).

export interface Q8Weights {
  q: Int8Array; // (N, K)
  scales: Float32Array; // (N)
}

export function quantizeQ8(w: Float32Array, N: number, K: number, out?: Q8Weights): Q8Weights {
  if (w.length < N * K) throw new Error(`quantizeQ8: w has ${w.length} values, need N·K = ${N * K}`);
  const q = out?.q ?? new Int8Array(N * K); // (N, K)
  const scales = out?.scales ?? new Float32Array(N); // (N)
  for (let n = 0; n < N; n++) {
    let amax = 0;
    for (let k = 0; k < K; k++) amax = Math.max(amax, Math.abs(w[n * K + k]!));
    const scale = amax / 127;
    scales[n] = scale;
    const inv = scale === 0 ? 0 : 1 / scale;
    for (let k = 0; k < K; k++) q[n * K + k] = Math.max(-127, Math.min(127, Math.round(w[n * K + k]! * inv)));
  }
  return { q, scales };
}

/** elements per 4-bit block (QK4_0 in ggml-common.h) */
export const Q4_BLOCK = 32;

export interface Q4Weights {
  q: Uint8Array; // (N, K/2) nibbles
  scales: Float32Array; // (N, K/32)
}

export function quantizeQ4(w: Float32Array, N: number, K: number, out?: Q4Weights): Q4Weights {
  if (K % Q4_BLOCK !== 0) throw new Error(`quantizeQ4: K = ${K} is not a multiple of ${Q4_BLOCK}`);
  if (w.length < N * K) throw new Error(`quantizeQ4: w has ${w.length} values, need N·K = ${N * K}`);
  const blocks = (N * K) / Q4_BLOCK,
    half = Q4_BLOCK / 2;
  const q = out?.q ?? new Uint8Array((N * K) / 2); // (N, K/2)
  const scales = out?.scales ?? new Float32Array(blocks); // (N, K/32)
  for (let b = 0; b < blocks; b++) {
    const o = b * Q4_BLOCK;
    let amax = 0,
      max = 0;
    for (let t = 0; t < Q4_BLOCK; t++) {
      const v = w[o + t]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = Math.fround(max / -8),
      id = d !== 0 ? Math.fround(1 / d) : 0;
    scales[b] = d;
    const nib = (v: number) => Math.min(15, Math.trunc(Math.fround(Math.fround(v * id) + 8.5)));
    for (let t = 0; t < half; t++) q[b * half + t] = nib(w[o + t]!) | (nib(w[o + t + half]!) << 4);
  }
  return { q, scales };
}

/** the values q8 weights stand for: out (N, K) = q · scales[row] */
export function dequantizeQ8(w: Q8Weights, out = new Float32Array(w.q.length)): Float32Array {
  const K = w.q.length / w.scales.length;
  for (let i = 0; i < w.q.length; i++) out[i] = w.q[i]! * w.scales[Math.floor(i / K)]!;
  return out;
}

/** the values q4 weights stand for: out (N, K) = (nibble − 8) · scale per block of 32 (byte t: elements t, t + 16) */
export function dequantizeQ4(w: Q4Weights, out = new Float32Array(w.q.length * 2)): Float32Array {
  const half = Q4_BLOCK / 2;
  for (let i = 0; i < w.q.length; i++) {
    const b = Math.floor(i / half),
      at = b * Q4_BLOCK + (i % half),
      s = w.scales[b]!;
    out[at] = ((w.q[i]! & 0x0f) - 8) * s;
    out[at + half] = ((w.q[i]! >>> 4) - 8) * s;
  }
  return out;
}
