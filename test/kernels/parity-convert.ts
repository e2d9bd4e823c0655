// Parity cases for the f16 / bf16 conversions: bit-exact, NaN payloads included, over every 16-bit pattern
// decoded and over f32 inputs chosen to hit every rounding decision (each midpoint between neighbouring
// 16-bit values and one f32 ulp either side), the extremes, and random bit patterns.
import { test } from 'node:test';
import type { Kernels } from '../../src/kernels/backend.js';
import { expectExact, f32Bits } from '../helpers/expect-close.js';
import { Rng } from '../helpers/rng.js';
import { withOwned } from './parity-harness.js';

/** f32 bit patterns: all midpoints (± 1 ulp) of a 16-bit format given its values, extremes, and random bits */
function hardInputs(rng: Rng, decoded: Float32Array): Uint32Array {
  const bits: number[] = [];
  const decodedBits = f32Bits(decoded);
  for (let h = 0; h < 0xffff; h++) {
    const lo = decoded[h]!,
      hi = decoded[h + 1]!;
    if (!Number.isFinite(lo) || !Number.isFinite(hi) || (h & 0x8000) !== ((h + 1) & 0x8000)) continue;
    const mid = f32Bits(Float32Array.of((lo + hi) / 2))[0]!; // exact: one more bit than the 16-bit format has
    bits.push(mid, mid - 1, mid + 1, decodedBits[h]!);
  }
  bits.push(
    0x00000000,
    0x80000000,
    0x00000001,
    0x807fffff,
    0x00800000,
    0x7f7fffff,
    0xff7fffff,
    0x7f800000,
    0xff800000,
    0x7fc00000,
    0x7f800001,
    0xffa5a5a5,
    0x7fffffff,
    0x7f7f8000,
    0x477fe000,
    0x477fefff,
    0x477ff000,
    0x477ff001,
    0x33000000,
    0x33000001,
  );
  for (let i = 0; i < 100000; i++) bits.push(Math.floor(rng.next() * 2 ** 32));
  return Uint32Array.from(bits);
}

export function registerConversionCases(kernels: () => Kernels, ref: Kernels, label: string): void {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  const pairs = [
    ['f16ToF32', 'f32ToF16'],
    ['bf16ToF32', 'f32ToBf16'],
  ] as const;
  for (const [decode, encode] of pairs) {
    test(`${label}: ${decode} over all 65536 bit patterns, ${encode} on every rounding decision, bit-exact`, () => {
      const k = kernels(),
        rng = new Rng(301);
      const want = new Float32Array(65536);
      ref[decode](want, all, 65536);
      const inputs = new Float32Array(hardInputs(rng, want).buffer); // NaN payloads intact: never read as numbers
      const n = inputs.length,
        wantH = new Uint16Array(n);
      ref[encode](wantH, inputs, n);
      for (const len of [1, 3, 5, 17, 65536]) {
        const got = withOwned(k, (o) => {
          const out = o.f32(len);
          k[decode](out, o.u16(all), len);
          return out.slice();
        });
        expectExact(f32Bits(got), f32Bits(want.subarray(0, len)), `${label} ${decode} n=${len}`);
      }
      for (const len of [1, 3, 5, 17, n]) {
        const got = withOwned(k, (o) => {
          const out = o.u16(len);
          k[encode](out, o.f32(inputs.subarray(0, len)), len);
          return out.slice();
        });
        expectExact(got, wantH.subarray(0, len), `${label} ${encode} n=${len}`);
      }
    });
  }
}
