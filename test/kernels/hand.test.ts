// Cases small enough to check on paper, for the reference and every wasm variant.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Kernels } from '../../src/kernels/backend.js';
import { quantizeQ8 } from '../../src/kernels/quantize.js';
import { ropeTable } from '../../src/kernels/rope-table.js';
import { expectClose, expectEqual } from '../helpers/expect-close.js';
import { ref, wasmVariants } from '../helpers/kernels.js';

async function each(fn: (k: Kernels, label: string) => void): Promise<void> {
  fn(ref, 'ref');
  for (const v of wasmVariants) {
    const k = await v.make();
    try {
      fn(k, v.label);
    } finally {
      k.dispose();
    }
  }
}

test('softmax of [0, ln 2] is [1/3, 2/3]', () =>
  each((k, l) => {
    const out = new Float32Array(2);
    k.softmaxForward(out, Float32Array.from([0, Math.LN2]), 1, 2);
    expectClose(out, [1 / 3, 2 / 3], { atol: 1e-7, rtol: 0, label: `${l} softmax` });
  }));

test('2×3 · 3×2 in all four storage layouts', () =>
  each((k, l) => {
    const A = [
        [1, 2, 3],
        [4, 5, 6],
      ],
      B = [
        [7, 8],
        [9, 10],
        [11, 12],
      ]; // A·B = [[58, 64], [139, 154]]
    const flat = (m: number[][]) => Float32Array.from(m.flat());
    const tr = (m: number[][]) => m[0]!.map((_, j) => m.map((row) => row[j]!));
    for (const [tA, tB] of [
      [false, false],
      [false, true],
      [true, false],
      [true, true],
    ] as const) {
      const out = new Float32Array(4);
      k.matmul(out, flat(tA ? tr(A) : A), flat(tB ? tr(B) : B), 2, 3, 2, tA, tB, 1, 0);
      expectEqual(out, [58, 64, 139, 154], `${l} matmul tA=${tA} tB=${tB}`);
    }
  }));

test('f16 and bf16 bit patterns: max, subnormals, ties, specials', () =>
  each((k, l) => {
    const x = Float32Array.from([65504, 6.103515625e-5, 5.960464477539063e-8, 1 + 2 ** -11, 1 + 3 * 2 ** -11, -2, Infinity, -0, 1e6]);
    const h = new Uint16Array(x.length);
    k.f32ToF16(h, x, x.length);
    // 1 + 2^-11 is a tie between 1 and 1 + 2^-10: even mantissa (1) wins; 1 + 3·2^-11 ties up to 1 + 2^-9
    expectEqual(h, [0x7bff, 0x0400, 0x0001, 0x3c00, 0x3c02, 0xc000, 0x7c00, 0x8000, 0x7c00], `${l} f32ToF16`);
    const b = new Uint16Array(3);
    k.f32ToBf16(b, Float32Array.from([1, 1 + 2 ** -8, NaN]), 3);
    assert.equal(b[0], 0x3f80);
    assert.equal(b[1], 0x3f80, `${l}: 1 + 2^-8 ties to even (1.0)`);
    assert.ok((b[2]! & 0x7f80) === 0x7f80 && (b[2]! & 0x7f) !== 0, `${l}: NaN stays NaN`);
  }));

test('RoPE at position 0 is the identity; at position 1 it rotates pair i by theta^(-2i/D)', () =>
  each((k, l) => {
    const D = 4,
      t = ropeTable(100, D, 2),
      x = Float32Array.from([1, 2, 3, 4]),
      out = new Float32Array(4);
    k.ropeForward(out, x, Int32Array.of(0), t.cos, t.sin, 1, 1, D);
    expectClose(out, x, { atol: 0, rtol: 0, label: `${l} rope p=0` });
    k.ropeForward(out, x, Int32Array.of(1), t.cos, t.sin, 1, 1, D);
    const a0 = 1,
      a1 = 1 / 10; // theta^(-0/4), theta^(-2/4) with theta = 100
    const want = [
      1 * Math.cos(a0) - 3 * Math.sin(a0),
      2 * Math.cos(a1) - 4 * Math.sin(a1),
      3 * Math.cos(a0) + 1 * Math.sin(a0),
      4 * Math.cos(a1) + 2 * Math.sin(a1),
    ];
    expectClose(out, want, { atol: 1e-6, rtol: 0, label: `${l} rope p=1` });
  }));

test('causal attention over 3 tokens equals the hand-computed masked softmax', () =>
  each((k, l) => {
    // D = 1, q = k = [1, 2, 3], v = [10, 20, 30], scale 1: row i sees keys 0..i
    const q = Float32Array.from([1, 2, 3]),
      v = Float32Array.from([10, 20, 30]);
    const out = new Float32Array(3),
      lse = new Float32Array(3);
    k.attentionForward(out, lse, q, q, v, {
      B: 1,
      Tq: 3,
      Tk: 3,
      H: 1,
      Hkv: 1,
      D: 1,
      scale: 1,
      mask: 'causal',
      qStart: 0,
      blockLength: 0,
      keyValid: null,
    });
    const row = (i: number) => {
      const s = [1, 2, 3].slice(0, i + 1).map((kj) => (i + 1) * kj);
      const m = Math.max(...s);
      const e = s.map((x) => Math.exp(x - m));
      const z = e.reduce((a, b) => a + b);
      return e.reduce((acc, ei, j) => acc + (ei / z) * (j + 1) * 10, 0);
    };
    expectClose(out, [row(0), row(1), row(2)], { atol: 1e-4, rtol: 1e-6, label: `${l} causal attention` });
    expectClose(lse, [1, Math.log(Math.exp(2) + Math.exp(4)), Math.log(Math.exp(3) + Math.exp(6) + Math.exp(9))], {
      atol: 1e-5,
      rtol: 1e-6,
      label: `${l} lse`,
    });
  }));

test('cross-entropy of uniform logits is ln V; an ignored row is 0', () =>
  each((k, l) => {
    const V = 7,
      losses = new Float32Array(2);
    k.crossEntropyForward(losses, new Float32Array(2 * V), Int32Array.from([3, -1]), Float32Array.from([1, 1]), 2, V);
    expectClose(losses, [Math.log(V), 0], { atol: 1e-6, rtol: 0, label: `${l} CE` });
  }));

test('q8: one row quantises to ±127 at its max and matmulQ8 matches the dequantised product', () =>
  each((k, l) => {
    const w = Float32Array.from([0.5, -1, 0.25, 1]),
      { q, scales } = quantizeQ8(w, 1, 4);
    expectEqual(q, [64, -127, 32, 127], `${l} q8 values`);
    const out = new Float32Array(1);
    k.matmulQ8(out, Float32Array.from([1, 1, 1, 1]), q, scales, 1, 4, 1);
    expectClose(out, [(64 - 127 + 32 + 127) / 127], { atol: 1e-6, rtol: 0, label: `${l} matmulQ8` });
  }));
