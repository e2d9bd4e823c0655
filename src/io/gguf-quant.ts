// Element codecs for GGUF tensor data: IEEE half (bit-exact round-to-nearest-even), bfloat16, and ggml's two
// simplest block quantizations, Q8_0 and Q4_0. Decoders are what the reader uses; the encoders exist for the
// writer and for test fixtures. Reference: ggml/src/ggml-quants.c (quantize_row_q8_0_ref, quantize_row_q4_0_ref,
// dequantize_row_q8_0, dequantize_row_q4_0) and ggml-common.h (block_q8_0, block_q4_0), ggml-org/llama.cpp.
// Not here: the K-quants and i-quants (the reader names them and refuses them with an error).

/** elements per block (QK8_0 = QK4_0 = 32 in ggml-common.h) */
export const QK = 32;
/** bytes per block: f16 scale + 32 int8 */
export const Q8_0_BLOCK_BYTES = 34;
/** bytes per block: f16 scale + 16 bytes of nibbles */
export const Q4_0_BLOCK_BYTES = 18;

const f32Box = new Float32Array(1);
const u32Box = new Uint32Array(f32Box.buffer);

/** IEEE binary16 bits of x, round to nearest even; overflow → ±Inf, NaN stays a (quiet) NaN */
export function f32ToF16Bits(x: number): number {
  f32Box[0] = x; // rounds a float64 argument to f32 first, as a Float32Array source would be
  const b = u32Box[0]!;
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  const mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // rebias 127 → 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // a half subnormal (or zero): value = m · 2^-24
    if (e < -10) return sign; // below half the smallest subnormal (2^-25): rounds to ±0
    const full = mant | 0x800000; // 24-bit significand
    const shift = 14 - e; // 14..24
    let h = full >>> shift;
    const rem = full & ((1 << shift) - 1),
      half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) !== 0)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) !== 0)) h++; // a carry into the exponent is correct (up to Inf)
  return sign | h;
}

/** value of IEEE binary16 bits (exact: every half is a float32) */
export function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant !== 0 ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** bfloat16 bits of x, round to nearest even; NaN stays NaN */
export function f32ToBf16Bits(x: number): number {
  f32Box[0] = x;
  const b = u32Box[0]!;
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}

export function bf16BitsToF32(h: number): number {
  u32Box[0] = (h & 0xffff) << 16;
  return f32Box[0]!;
}

function checkBlocks(n: number, what: string): number {
  if (n % QK !== 0) throw new Error(`${what}: ${n} elements is not a multiple of the ${QK}-element block`);
  return n / QK;
}

/** C's roundf: halves away from zero */
function roundAway(x: number): number {
  return x < 0 ? -Math.round(-x) : Math.round(x);
}

/**
 * Q8_0 bytes of x (n a multiple of 32), exactly as ggml's quantize_row_q8_0_ref in f32 arithmetic:
 * d = max|x| / 127, q = roundf(x / d), stored d as f16.
 */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  const nb = checkBlocks(x.length, 'quantizeQ8_0');
  const out = new Uint8Array(nb * Q8_0_BLOCK_BYTES);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    let amax = 0;
    for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[b * QK + j]!));
    const d = Math.fround(amax / 127);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const o = b * Q8_0_BLOCK_BYTES;
    dv.setUint16(o, f32ToF16Bits(d), true);
    for (let j = 0; j < QK; j++) dv.setInt8(o + 2 + j, roundAway(Math.fround(x[b * QK + j]! * id)));
  }
  return out;
}

/** out (n) = d · q per block of 32 */
export function dequantizeQ8_0(bytes: Uint8Array, n: number, out = new Float32Array(n)): Float32Array {
  const nb = checkBlocks(n, 'dequantizeQ8_0');
  if (bytes.length < nb * Q8_0_BLOCK_BYTES)
    throw new Error(`dequantizeQ8_0: ${bytes.length} bytes, ${nb} blocks need ${nb * Q8_0_BLOCK_BYTES}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < nb; b++) {
    const o = b * Q8_0_BLOCK_BYTES;
    const d = f16BitsToF32(dv.getUint16(o, true));
    for (let j = 0; j < QK; j++) out[b * QK + j] = d * dv.getInt8(o + 2 + j);
  }
  return out;
}

/**
 * Q4_0 bytes of x, as ggml's quantize_row_q4_0_ref: the element of largest magnitude `max` (signed) maps to
 * −8, d = max / −8, q = min(15, trunc(x/d + 8.5)); byte j holds element j (low nibble) and j+16 (high nibble).
 */
export function quantizeQ4_0(x: Float32Array): Uint8Array {
  const nb = checkBlocks(x.length, 'quantizeQ4_0');
  const out = new Uint8Array(nb * Q4_0_BLOCK_BYTES);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < nb; b++) {
    let amax = 0,
      max = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[b * QK + j]!;
      if (amax < Math.abs(v)) {
        amax = Math.abs(v);
        max = v;
      }
    }
    const d = Math.fround(max / -8);
    const id = d !== 0 ? Math.fround(1 / d) : 0;
    const o = b * Q4_0_BLOCK_BYTES;
    dv.setUint16(o, f32ToF16Bits(d), true);
    const q = (v: number) => Math.min(15, Math.trunc(Math.fround(Math.fround(v * id) + 8.5)));
    for (let j = 0; j < QK / 2; j++) out[o + 2 + j] = q(x[b * QK + j]!) | (q(x[b * QK + j + QK / 2]!) << 4);
  }
  return out;
}

/** out (n) = (nibble − 8) · d per block of 32 */
export function dequantizeQ4_0(bytes: Uint8Array, n: number, out = new Float32Array(n)): Float32Array {
  const nb = checkBlocks(n, 'dequantizeQ4_0');
  if (bytes.length < nb * Q4_0_BLOCK_BYTES)
    throw new Error(`dequantizeQ4_0: ${bytes.length} bytes, ${nb} blocks need ${nb * Q4_0_BLOCK_BYTES}`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let b = 0; b < nb; b++) {
    const o = b * Q4_0_BLOCK_BYTES;
    const d = f16BitsToF32(dv.getUint16(o, true));
    for (let j = 0; j < QK / 2; j++) {
      const byte = bytes[o + 2 + j]!;
      out[b * QK + j] = ((byte & 0x0f) - 8) * d;
      out[b * QK + j + QK / 2] = ((byte >>> 4) - 8) * d;
    }
  }
  return out;
}
