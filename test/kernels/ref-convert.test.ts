// f16 / bf16 ↔ f32 in the reference: tables of known bit patterns, then every f16 and bf16 value checked
// against the definition of round-to-nearest-even — each midpoint between neighbours goes to the even one,
// one f32 ulp either side goes to the nearer one.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRefKernels } from '../../src/kernels/ref/index.js';
import { expectExact, f32Bits } from '../helpers/expect-close.js';

const k = createRefKernels();

function f32FromBits(bits: number[]): Float32Array {
  return new Float32Array(Uint32Array.from(bits).buffer);
}
function toF16(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  k.f32ToF16(out, x, x.length);
  return out;
}
function toBf16(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  k.f32ToBf16(out, x, x.length);
  return out;
}
function fromHalf(op: 'f16ToF32' | 'bf16ToF32', h: Uint16Array): Float32Array {
  const out = new Float32Array(h.length);
  k[op](out, h, h.length);
  return out;
}

// [f16 bits, value] pairs that decode exactly and encode back to the same bits
const F16_TABLE: [number, number][] = [
  [0x0000, 0],
  [0x8000, -0],
  [0x3c00, 1],
  [0xc000, -2],
  [0x3555, 0.333251953125],
  [0x2e66, 0.0999755859375],
  [0x7bff, 65504],
  [0xfbff, -65504],
  [0x0400, 2 ** -14],
  [0x03ff, 1023 * 2 ** -24],
  [0x0001, 2 ** -24],
  [0x8001, -(2 ** -24)],
  [0x7c00, Infinity],
  [0xfc00, -Infinity],
];

test('f16 table: known bit patterns decode to their values and encode back', () => {
  const bits = Uint16Array.from(F16_TABLE, ([b]) => b);
  const vals = fromHalf('f16ToF32', bits);
  F16_TABLE.forEach(([b, v], i) => assert.ok(Object.is(vals[i], v), `f16 0x${b.toString(16)} → ${vals[i]}, expected ${v}`));
  expectExact(toF16(Float32Array.from(F16_TABLE, ([, v]) => v)), bits, 'f32 → f16 of exact values');
});

test('f32 → f16 rounding: ties to even, overflow to Inf, subnormals, NaN quiet with payload', () => {
  const cases: [number, number][] = [
    [65519, 0x7bff],
    [65520, 0x7c00],
    [1e6, 0x7c00],
    [-1e6, 0xfc00], // 65520 is the tie between 65504 and 2^16
    [1 + 2 ** -11, 0x3c00],
    [1 + 3 * 2 ** -11, 0x3c02],
    [1 + 2 ** -11 + 2 ** -20, 0x3c01], // ties → even mantissa
    [2 ** -25, 0x0000],
    [3 * 2 ** -25, 0x0002],
    [2 ** -25 * (1 + 2 ** -10), 0x0001],
    [-(2 ** -26), 0x8000],
    [6.1e-5, 0x03ff],
    [6.1035e-5, 0x0400],
    [2 ** -14 - 2 ** -25, 0x0400], // 1023.5 units → 1024 = smallest normal
    [1e-45, 0x0000],
    [0.1, 0x2e66],
    [1 / 3, 0x3555],
  ];
  expectExact(
    toF16(Float32Array.from(cases, ([v]) => v)),
    cases.map(([, b]) => b),
    'f32 → f16 rounding',
  );
  const nan = f32FromBits([0x7fc00000, 0x7f800001, 0x7fa00000, 0xffc00000, 0x7f802000]);
  expectExact(toF16(nan), [0x7e00, 0x7e00, 0x7f00, 0xfe00, 0x7e01], 'f32 → f16 NaN');
  expectExact(
    f32Bits(fromHalf('f16ToF32', Uint16Array.of(0x7c01, 0xfe00, 0x7fff))),
    [0x7f802000, 0xffc00000, 0x7fffe000],
    'f16 → f32 NaN keeps its payload',
  );
});

test('bf16 table and rounding: ties to even, f32 max rounds to Inf, subnormals, NaN', () => {
  const exact: [number, number][] = [
    [0x3f80, 1],
    [0xc000, -2],
    [0x4049, 3.140625],
    [0x7f7f, 3.3895313892515355e38],
    [0x0080, 2 ** -126],
    [0x0001, 2 ** -133],
    [0x7f80, Infinity],
    [0xff80, -Infinity],
    [0x8000, -0],
  ];
  const vals = fromHalf(
    'bf16ToF32',
    Uint16Array.from(exact, ([b]) => b),
  );
  exact.forEach(([b, v], i) => assert.ok(Object.is(vals[i], v), `bf16 0x${b.toString(16)} → ${vals[i]}, expected ${v}`));
  const inputs = f32FromBits([
    0x3f808000,
    0x3f818000,
    0x3f808001, // 1 + 2^-8 is a tie → 1; 1 + 3·2^-8 → 1 + 2^-6 (even); just above a tie → up
    0x7f7fffff,
    0x00008000,
    0x00018000,
    0x00000001, // f32 max → Inf; subnormal ties
    0x7fc00000,
    0x7f800001,
    0xff810000,
    0x7f800000,
  ]);
  expectExact(toBf16(inputs), [0x3f80, 0x3f82, 0x3f81, 0x7f80, 0x0000, 0x0002, 0x0000, 0x7fc0, 0x7fc0, 0xffc1, 0x7f80], 'f32 → bf16');
});

function nextUp(x: number): number {
  return f32FromBits([f32Bits(Float32Array.of(x))[0]! + 1])[0]!;
}
function nextDown(x: number): number {
  return f32FromBits([f32Bits(Float32Array.of(x))[0]! - 1])[0]!;
}

/**
 * For every pair of neighbouring positive finite values (lo, hi) of a 16-bit format: the midpoint rounds to the
 * one with the even bit pattern, and the f32 just below / above it to lo / hi; negatives mirror with the sign bit.
 */
function checkAllMidpoints(op: 'f16ToF32' | 'bf16ToF32', encode: (x: Float32Array) => Uint16Array, maxFinite: number): void {
  const values = fromHalf(
    op,
    Uint16Array.from({ length: maxFinite + 1 }, (_, i) => i),
  ); // (maxFinite + 1), increasing
  const inputs: number[] = [];
  const want: number[] = [];
  for (let h = 0; h < maxFinite; h++) {
    const lo = values[h]!,
      hi = values[h + 1]!;
    assert.ok(hi > lo, `${op}: 0x${h.toString(16)} → ${lo} is not below the next value ${hi}`);
    const mid = (lo + hi) / 2; // exact in f32: one more bit than the 16-bit format has
    assert.equal(Math.fround(mid), mid);
    inputs.push(mid, nextDown(mid), nextUp(mid));
    want.push(h % 2 === 0 ? h : h + 1, h, h + 1);
  }
  // above the largest finite: the midpoint to the next power of two and beyond round to Inf
  const top = values[maxFinite]!,
    ulp = top - values[maxFinite - 1]!;
  inputs.push(top + ulp / 2, nextDown(top + ulp / 2), Infinity);
  want.push(maxFinite + 1, maxFinite, maxFinite + 1);
  const x = Float32Array.from(inputs);
  const neg = Float32Array.from(inputs, (v) => -v);
  expectExact(encode(x), want, `${op} inverse on midpoints`);
  expectExact(
    encode(neg),
    want.map((b) => b | 0x8000),
    `${op} inverse on negative midpoints`,
  );
}

test('f32 → f16: every midpoint of neighbouring f16 values rounds to even, its neighbours to the nearer', () => {
  checkAllMidpoints('f16ToF32', toF16, 0x7bff);
});

test('f32 → bf16: every midpoint of neighbouring bf16 values rounds to even, its neighbours to the nearer', () => {
  checkAllMidpoints('bf16ToF32', toBf16, 0x7f7f);
});

test('every f16 and bf16 bit pattern survives decode → encode (NaNs stay NaN)', () => {
  const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
  for (const [op, encode] of [
    ['f16ToF32', toF16],
    ['bf16ToF32', toBf16],
  ] as const) {
    const back = encode(fromHalf(op, all));
    const expMask = op === 'f16ToF32' ? 0x7c00 : 0x7f80;
    const quiet = op === 'f16ToF32' ? 0x0200 : 0x0040;
    // a NaN comes back quieted (the quiet bit set), everything else unchanged
    const want = all.map((h) => ((h & expMask) === expMask && (h & ~expMask & 0x7fff) !== 0 ? h | quiet : h));
    expectExact(back, want, `${op} round trip`);
  }
});
