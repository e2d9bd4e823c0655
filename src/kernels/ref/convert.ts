// Reference f16 / bf16 ↔ f32 conversions, written from the IEEE 754 definitions rather than bit tricks:
// decode = sign · 2^(e − bias) · (1 + f/2^m) (or 0.f for subnormals); encode = round the exact value to the
// nearest representable, ties to even, overflow → ±Inf. NaN follows the x86 F16C / AVX512-BF16 convention:
// the quiet bit is set and the top payload bits are kept. Bits go through Uint32Array views, because reading a
// NaN into a JS number may change its payload.

/** round a non-negative number to an integer, ties to even */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const frac = x - f;
  if (frac > 0.5) return f + 1;
  if (frac < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

function bitsOf(x: Float32Array, n: number): Uint32Array {
  return new Uint32Array(x.buffer, x.byteOffset, n);
}

/** out (n) = f16 bit patterns x (n) decoded, exactly (every f16 is an f32) */
export function f16ToF32(out: Float32Array, x: Uint16Array, n: number): void {
  const outBits = bitsOf(out, n);
  for (let i = 0; i < n; i++) {
    const h = x[i]!;
    const negative = (h & 0x8000) !== 0;
    const e = (h >> 10) & 0x1f; // biased exponent, bias 15
    const f = h & 0x3ff; // 10-bit fraction
    if (e === 0x1f) {
      // Inf or NaN: same fraction bits, moved to the top of f32's 23
      outBits[i] = (negative ? 0x80000000 : 0) | 0x7f800000 | (f << 13);
      continue;
    }
    const magnitude = e === 0 ? f * 2 ** -24 : (1 + f / 1024) * 2 ** (e - 15); // subnormal: 0.f · 2^-14
    out[i] = negative ? -magnitude : magnitude;
  }
}

/** out (n) = f32 x (n) rounded to f16 bit patterns: nearest, ties to even; |x| ≥ 65520 → ±Inf */
export function f32ToF16(out: Uint16Array, x: Float32Array, n: number): void {
  const xBits = bitsOf(x, n);
  for (let i = 0; i < n; i++) {
    const u = xBits[i]!;
    const sign = (u >>> 16) & 0x8000;
    const absBits = u & 0x7fffffff;
    if (absBits > 0x7f800000) {
      // NaN: quiet, keep the top 10 payload bits
      out[i] = sign | 0x7e00 | ((absBits >>> 13) & 0x3ff);
      continue;
    }
    const a = Math.abs(x[i]!);
    if (a < 2 ** -14) {
      // f16 subnormal range: count units of 2^-24 (a result of 1024 is the smallest normal)
      out[i] = sign | roundHalfEven(a / 2 ** -24);
      continue;
    }
    // a ≥ 2^-14 is a normal f32 (or Inf): a = 2^e · (1 + fraction/2^23), re-expressed in f16's 2^-10 units
    const e = (absBits >>> 23) - 127;
    const units = roundHalfEven((absBits & 0x7fffff) / 2 ** 13); // 1024 carries into exponent e + 1
    const h = ((e + 15) << 10) + units;
    out[i] = sign | Math.min(h, 0x7c00); // past 65504 (exponent 31) is Inf
  }
}

/** out (n) = bf16 bit patterns x (n) decoded: bf16 is the top half of an f32 */
export function bf16ToF32(out: Float32Array, x: Uint16Array, n: number): void {
  const outBits = bitsOf(out, n);
  for (let i = 0; i < n; i++) outBits[i] = x[i]! << 16;
}

/** out (n) = f32 x (n) rounded to bf16 bit patterns: drop the low 16 bits, nearest, ties to even */
export function f32ToBf16(out: Uint16Array, x: Float32Array, n: number): void {
  const xBits = bitsOf(x, n);
  for (let i = 0; i < n; i++) {
    const u = xBits[i]!;
    if ((u & 0x7fffffff) > 0x7f800000) {
      // NaN: quiet, keep the top 7 payload bits
      out[i] = (u >>> 16) | 0x40;
      continue;
    }
    const high = u >>> 16,
      low = u & 0xffff;
    const roundUp = low > 0x8000 || (low === 0x8000 && (high & 1) === 1);
    out[i] = roundUp ? high + 1 : high; // a carry moves into the exponent, and past the largest finite to Inf
  }
}
