// Reference f16 / bf16 ↔ f32, through the values (not bit tricks): round to nearest even, subnormals,
// overflow to ±Inf, NaN stays NaN.

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

export function f16ToF32(out: Float32Array, x: Uint16Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const h = x[i]!, sign = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
    if (e === 0x1f) out[i] = f ? NaN : sign * Infinity;
    else if (e === 0) out[i] = sign * f * 2 ** -24; // subnormal
    else out[i] = sign * (1 + f / 1024) * 2 ** (e - 15);
  }
}

/** the f16 nearest to v (ties to even), found on the value line */
function toHalf(v: number): number {
  if (Number.isNaN(v)) return 0x7e00;
  const sign = v < 0 || Object.is(v, -0) ? 0x8000 : 0;
  const a = Math.abs(v);
  if (a >= 65520) return sign | 0x7c00; // 65504 + half an ulp (16) rounds up to Inf
  if (a < 2 ** -14) return sign | roundEven(a / 2 ** -24); // subnormal: multiples of 2^-24; 1024 = smallest normal
  let e = Math.floor(Math.log2(a));
  if (2 ** e > a) e--; // log2 can be off by one near powers of two
  if (2 ** (e + 1) <= a) e++;
  const r = roundEven((a / 2 ** e - 1) * 1024); // mantissa in units of 2^-10 (exact in f64 for an f32 input)
  return sign | Math.min(0x7c00, ((e + 15) << 10) + r); // a carry out of the mantissa bumps the exponent
}

/** round to the nearest integer, ties to even (q ≥ 0) */
function roundEven(q: number): number {
  const f = Math.floor(q), d = q - f;
  return d > 0.5 || (d === 0.5 && f % 2 === 1) ? f + 1 : f;
}

export function f32ToF16(out: Uint16Array, x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = toHalf(x[i]!);
}

export function bf16ToF32(out: Float32Array, x: Uint16Array, n: number): void {
  for (let i = 0; i < n; i++) { u32[0] = x[i]! << 16; out[i] = f32[0]!; }
}

export function f32ToBf16(out: Uint16Array, x: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    f32[0] = x[i]!;
    const u = u32[0]!;
    if (Number.isNaN(x[i]!)) { out[i] = (u >>> 16) | 0x40; continue; }
    const upper = u >>> 16, lower = u & 0xffff;
    // round to nearest even on the 16 dropped bits
    out[i] = (lower > 0x8000 || (lower === 0x8000 && (upper & 1) === 1)) ? (upper + 1) & 0xffff : upper;
  }
}
