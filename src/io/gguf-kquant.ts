// ggml's Q4_K, the 4-bit K-quant most llama.cpp files use (Q4_K_M / Q4_K_S): super-blocks of 256 elements =
// 8 sub-blocks of 32, each with a 6-bit scale and a 6-bit min, both scaled by the super-block's f16 d / dmin:
//   value = d · sc_j · q − dmin · m_j,   q ∈ 0..15
// Layout (ggml-common.h block_q4_K, 144 bytes): d (f16), dmin (f16), scales[12], qs[128]. The 12 scale bytes
// (get_scale_min_k4 in ggml-quants.c): bytes 0–3 hold sc_0..3 in their low 6 bits and the top 2 bits of
// sc_4..7; bytes 4–7 likewise m_0..3 and the top bits of m_4..7; bytes 8–11 hold the low 4 bits of sc_4..7
// (low nibble) and of m_4..7 (high nibble). qs: each 64 elements (sub-blocks 2c, 2c + 1) take 32 bytes, byte l
// holding element l of sub-block 2c (low nibble) and element l of 2c + 1 (high nibble).
// The decoder is what the reader uses. The encoder is a plain one (each sub-block's own min and range, no
// search for the best scales as ggml's make_qkx2_quants does): for the writer and test fixtures.
import { f16BitsToF32, f32ToF16Bits } from './gguf-quant.js';

/** elements per super-block (QK_K in ggml-common.h) */
export const QK_K = 256;
/** bytes per block_q4_K */
export const Q4_K_BLOCK_BYTES = 144;

function superBlocks(n: number, what: string): number {
  if (n % QK_K !== 0) throw new Error(`${what}: ${n} elements is not a multiple of the ${QK_K}-element super-block`);
  return n / QK_K;
}

/** sub-block j's 6-bit scale and min from the 12 scale bytes at `at` (get_scale_min_k4) */
function scaleMin(b: Uint8Array, at: number, j: number): [number, number] {
  if (j < 4) return [b[at + j]! & 63, b[at + j + 4]! & 63];
  return [(b[at + j + 4]! & 0x0f) | ((b[at + j - 4]! >>> 6) << 4), (b[at + j + 4]! >>> 4) | ((b[at + j]! >>> 6) << 4)];
}

/** out (n) = d · sc · q − dmin · m per sub-block of 32 (dequantize_row_q4_K) */
export function dequantizeQ4_K(bytes: Uint8Array, n: number, out = new Float32Array(n)): Float32Array {
  const nb = superBlocks(n, 'dequantizeQ4_K');
  if (bytes.length < nb * Q4_K_BLOCK_BYTES)
    throw new Error(`dequantizeQ4_K: ${bytes.length} bytes, ${nb} blocks need ${nb * Q4_K_BLOCK_BYTES}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < nb; i++) {
    const o = i * Q4_K_BLOCK_BYTES,
      d = f16BitsToF32(dv.getUint16(o, true)),
      dmin = f16BitsToF32(dv.getUint16(o + 2, true));
    for (let c = 0; c < 4; c++) {
      const [s1, m1] = scaleMin(bytes, o + 4, 2 * c),
        [s2, m2] = scaleMin(bytes, o + 4, 2 * c + 1);
      const d1 = Math.fround(d * s1),
        n1 = Math.fround(dmin * m1),
        d2 = Math.fround(d * s2),
        n2 = Math.fround(dmin * m2);
      const q = o + 16 + c * 32,
        y = i * QK_K + c * 64;
      for (let l = 0; l < 32; l++) {
        out[y + l] = Math.fround(d1 * (bytes[q + l]! & 0x0f)) - n1;
        out[y + 32 + l] = Math.fround(d2 * (bytes[q + l]! >>> 4)) - n2;
      }
    }
  }
  return out;
}

/** Q4_K bytes of x: each sub-block's [min(0, lo), hi] range in 15 steps, scales and mins to 6 bits of d / dmin */
export function quantizeQ4_K(x: Float32Array): Uint8Array {
  const nb = superBlocks(x.length, 'quantizeQ4_K');
  const out = new Uint8Array(nb * Q4_K_BLOCK_BYTES),
    dv = new DataView(out.buffer);
  for (let i = 0; i < nb; i++) {
    const scale: number[] = [],
      min: number[] = []; // min ≥ 0 stands for −lo
    for (let j = 0; j < 8; j++) {
      let lo = 0,
        hi = -Infinity;
      for (let l = 0; l < 32; l++) {
        const v = x[i * QK_K + j * 32 + l]!;
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      scale.push((hi - lo) / 15);
      min.push(-lo);
    }
    const dBits = f32ToF16Bits(Math.max(...scale) / 63),
      mBits = f32ToF16Bits(Math.max(...min) / 63);
    const d = f16BitsToF32(dBits),
      dmin = f16BitsToF32(mBits);
    const sc = scale.map((s) => (d > 0 ? Math.min(63, Math.round(s / d)) : 0)),
      mn = min.map((m) => (dmin > 0 ? Math.min(63, Math.round(m / dmin)) : 0));
    const o = i * Q4_K_BLOCK_BYTES;
    dv.setUint16(o, dBits, true);
    dv.setUint16(o + 2, mBits, true);
    for (let j = 0; j < 4; j++) {
      out[o + 4 + j] = sc[j]! | ((sc[j + 4]! >>> 4) << 6);
      out[o + 8 + j] = mn[j]! | ((mn[j + 4]! >>> 4) << 6);
      out[o + 12 + j] = (sc[j + 4]! & 0x0f) | ((mn[j + 4]! & 0x0f) << 4);
    }
    for (let j = 0; j < 8; j++) {
      const step = d * sc[j]!,
        off = dmin * mn[j]!;
      for (let l = 0; l < 32; l++) {
        const v = x[i * QK_K + j * 32 + l]!;
        const q = step > 0 ? Math.max(0, Math.min(15, Math.round((v + off) / step))) : 0;
        const at = o + 16 + (j >> 1) * 32 + l;
        out[at] = out[at]! | (j & 1 ? q << 4 : q);
      }
    }
  }
  return out;
}
