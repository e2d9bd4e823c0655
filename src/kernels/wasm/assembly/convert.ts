// f16 / bf16 ↔ f32, bit-exact: round to nearest even, subnormals kept, overflow → ±Inf, NaN stays NaN.
import { CHUNK } from './rows';

export function f16ToF32Task(start: i32, end: i32, tid: i32, out: usize, x: usize, n: i32): void {
  const i1 = min(n, end * CHUNK);
  for (let i = start * CHUNK; i < i1; i++) {
    const h = <u32>load<u16>(x + (<usize>i << 1));
    const sign = (h & 0x8000) << 16;
    const e = (h >> 10) & 0x1f, f = h & 0x3ff;
    let bits: u32;
    if (e == 0x1f) bits = sign | 0x7f800000 | (f << 13); // Inf / NaN (payload kept)
    else if (e != 0) bits = sign | ((e + 112) << 23) | (f << 13); // normal: rebias 15 → 127
    else { // zero or subnormal: f · 2^-24 is exact in f32
      const v: f32 = <f32>f * 5.9604644775390625e-8;
      bits = sign | reinterpret<u32>(v);
    }
    store<u32>(out + (<usize>i << 2), bits);
  }
}

export function f32ToF16Task(start: i32, end: i32, tid: i32, out: usize, x: usize, n: i32): void {
  const i1 = min(n, end * CHUNK);
  for (let i = start * CHUNK; i < i1; i++) {
    const u = load<u32>(x + (<usize>i << 2));
    const sign = (u >> 16) & 0x8000;
    const absu = u & 0x7fffffff;
    let h: u32;
    if (absu > 0x7f800000) h = sign | 0x7e00 | ((absu >> 13) & 0x3ff); // NaN: quiet, keep top payload bits
    else if (absu >= 0x477ff000) h = sign | 0x7c00; // ≥ 65520 rounds to Inf (and Inf itself)
    else if (absu >= 0x38800000) { // normal half: drop 13 bits with round-to-nearest-even
      const r = absu + 0xfff + ((absu >> 13) & 1);
      h = sign | ((r - 0x38000000) >> 13);
    } else { // subnormal half or zero: value / 2^-24, rounded to nearest even by the f32 adder
      const v = reinterpret<f32>(absu) + 0.5; // 0.5 = 2^-1: aligns the 2^-24 unit to the f32 ulp at 0.5
      h = sign | (reinterpret<u32>(v) - 0x3f000000);
    }
    store<u16>(out + (<usize>i << 1), <u16>h);
  }
}

export function bf16ToF32Task(start: i32, end: i32, tid: i32, out: usize, x: usize, n: i32): void {
  const i1 = min(n, end * CHUNK);
  for (let i = start * CHUNK; i < i1; i++) store<u32>(out + (<usize>i << 2), (<u32>load<u16>(x + (<usize>i << 1))) << 16);
}

export function f32ToBf16Task(start: i32, end: i32, tid: i32, out: usize, x: usize, n: i32): void {
  const i1 = min(n, end * CHUNK);
  for (let i = start * CHUNK; i < i1; i++) {
    const u = load<u32>(x + (<usize>i << 2));
    let h: u32;
    if ((u & 0x7fffffff) > 0x7f800000) h = (u >> 16) | 0x40; // NaN stays NaN (quiet bit set)
    else h = (u + 0x7fff + ((u >> 16) & 1)) >> 16;
    store<u16>(out + (<usize>i << 1), <u16>h);
  }
}
