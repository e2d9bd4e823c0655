// Hand-computed cases for the reference kernels: small inputs whose outputs can be checked on paper
// (docs/style.md §3.6, "hand-computed"). Expected values are written as the formulas that produce them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { AttentionShape } from '../../src/kernels/backend.js';
import { createRefKernels } from '../../src/kernels/ref/index.js';
import { ropeTable } from '../../src/kernels/rope-table.js';
import { expectClose } from '../helpers/expect-close.js';
import { Rng } from '../helpers/rng.js';
import { U } from '../helpers/tolerances.js';

const k = createRefKernels();
/** one f32 rounding of an exactly known value */
const F32 = { atol: 0, rtol: U };

test('softmax of [0, ln 2] is [1/3, 2/3]; a row of −Inf but one is one-hot; ±300 does not overflow', () => {
  const out = new Float32Array(2); // (1, 2)
  k.softmaxForward(out, Float32Array.of(0, Math.LN2), 1, 2);
  expectClose(out, [1 / 3, 2 / 3], { ...F32, label: 'softmax [0, ln2]' });
  const x = Float32Array.of(-Infinity, 5, -Infinity, 300, -300, 300); // (2, 3)
  k.softmaxForward(x, x, 2, 3); // in place
  expectClose(x, [0, 1, 0, 0.5, 0, 0.5], { ...F32, label: 'softmax one-hot and ±300' });
  const dead = Float32Array.of(-Infinity, -Infinity); // (1, 2): no defined softmax; the ref's choice is zeros
  k.softmaxForward(dead, dead, 1, 2);
  assert.deepEqual([...dead], [0, 0]);
});

test('softmax backward of y = [1/3, 2/3], dy = [1, 0]: dx = y ⊙ (dy − 1/3) = [2/9, −2/9]', () => {
  const dx = new Float32Array(2);
  k.softmaxBackward(dx, Float32Array.of(1, 0), Float32Array.of(1 / 3, 2 / 3), 1, 2);
  expectClose(dx, [2 / 9, -2 / 9], { atol: 0, rtol: 4 * U, label: 'softmax backward' });
});

test('rmsnorm of [3, 4] with eps 0: rms = √12.5, out = x/√12.5 · w', () => {
  const out = new Float32Array(2),
    rstd = new Float32Array(1);
  k.rmsnormForward(out, rstd, Float32Array.of(3, 4), Float32Array.of(1, 2), 1, 2, 0);
  expectClose(rstd, [1 / Math.sqrt(12.5)], { ...F32, label: 'rstd' });
  expectClose(out, [3 / Math.sqrt(12.5), 8 / Math.sqrt(12.5)], { atol: 0, rtol: 2 * U, label: 'rmsnorm out' });
});

test('swiglu: silu(0)·u = 0, silu(1)·2 = 2/(1 + e⁻¹); dup = silu(g)·dout', () => {
  const out = new Float32Array(2);
  k.swigluForward(out, Float32Array.of(0, 1), Float32Array.of(7, 2), 2);
  expectClose(out, [0, 2 / (1 + Math.exp(-1))], { atol: 0, rtol: 2 * U, label: 'swiglu' });
  const dgate = new Float32Array(1),
    dup = new Float32Array(1);
  k.swigluBackward(dgate, dup, Float32Array.of(1), Float32Array.of(0), Float32Array.of(3), 1);
  expectClose([dgate[0]!, dup[0]!], [1.5, 0], { atol: 0, rtol: 2 * U, label: 'swiglu backward at 0: σ(0)·u, 0' });
});

test('rope at position 0 is the identity; at position 1 with D = 2 it rotates by 1 radian', () => {
  const D = 2,
    table = ropeTable(10000, D, 2); // inv_freq[0] = 1, so angle = position
  const x = Float32Array.of(0.25, -0.5, 1.5, 2); // (N=2, H=1, D=2)
  const out = new Float32Array(4);
  k.ropeForward(out, x, Int32Array.of(0, 1), table.cos, table.sin, 2, 1, D);
  const c = Math.fround(Math.cos(1)),
    s = Math.fround(Math.sin(1));
  expectClose(out, [0.25, -0.5, 1.5 * c - 2 * s, 2 * c + 1.5 * s], { atol: 0, rtol: 2 * U, label: 'rope' });
  k.ropeBackward(out, out, Int32Array.of(0, 1), table.cos, table.sin, 2, 1, D); // in place, back to x
  expectClose(out, x, { atol: 4 * U, rtol: 4 * U, label: 'rope backward undoes forward' });
});

/** the 3-token causal case: q_i = [1, 0], k_j = [ln(j+1), 0], so row i weighs keys j ≤ i by (j+1) */
function threeTokens(over: Partial<AttentionShape>): { s: AttentionShape; q: Float32Array; kk: Float32Array; v: Float32Array } {
  const s: AttentionShape = {
    B: 1,
    Tq: 3,
    Tk: 3,
    H: 1,
    Hkv: 1,
    D: 2,
    scale: 1,
    mask: 'causal',
    qStart: 0,
    blockLength: 1,
    keyValid: null,
    ...over,
  };
  const q = new Float32Array(s.Tq * 2); // (1, Tq, 1, 2)
  for (let i = 0; i < s.Tq; i++) q[i * 2] = 1;
  const kk = new Float32Array(s.Tk * 2),
    v = new Float32Array(s.Tk * 2); // (1, Tk, 1, 2)
  for (let j = 0; j < s.Tk; j++) {
    kk[j * 2] = Math.log(j + 1);
    v[j * 2] = j;
    v[j * 2 + 1] = 1;
  }
  return { s, q, kk, v };
}

/** out row = [Σ_j w_j·j, 1] with w ∝ (j + 1) over the visible keys; lse = ln Σ (j + 1) */
function expectedRow(visible: number[]): { out: number[]; lse: number } {
  const total = visible.reduce((a, j) => a + j + 1, 0);
  return { out: [visible.reduce((a, j) => a + ((j + 1) / total) * j, 0), 1], lse: Math.log(total) };
}

function runAttention(over: Partial<AttentionShape>, rows: number[][], label: string): void {
  const { s, q, kk, v } = threeTokens(over);
  const out = new Float32Array(s.Tq * 2),
    lse = new Float32Array(s.Tq);
  k.attentionForward(out, lse, q, kk, v, s);
  const want = rows.map((r) => (r.length ? expectedRow(r) : { out: [0, 0], lse: -Infinity }));
  expectClose(
    out,
    want.flatMap((w) => w.out),
    { atol: 4 * U, rtol: 4 * U, label: `${label} out` },
  );
  expectClose(
    lse,
    want.map((w) => w.lse),
    { atol: 4 * U, rtol: 4 * U, label: `${label} lse` },
  );
}

test('attention, causal, 3 tokens: row i averages v over keys j ≤ i with weights ∝ j + 1', () => {
  runAttention({}, [[0], [0, 1], [0, 1, 2]], 'causal'); // rows: [0, 1], [2/3, 1], [4/3, 1]
  runAttention(
    { mask: 'none' },
    [
      [0, 1, 2],
      [0, 1, 2],
      [0, 1, 2],
    ],
    'none',
  );
});

test('attention, blockDiffusion over [x_t ⊕ x_0]: noisy blocks see themselves and earlier clean blocks', () => {
  // n = 3 tokens, blocks of 2: x_t rows 0..2 (blocks 0, 0, 1), x_0 rows 3..5 (blocks 0, 0, 1)
  runAttention(
    { mask: 'blockDiffusion', blockLength: 2, Tq: 6, Tk: 6 },
    [
      [0, 1],
      [0, 1],
      [2, 3, 4],
      [3, 4],
      [3, 4],
      [3, 4, 5],
    ],
    'blockDiffusion',
  );
});

test('attention, blockCausal and qStart: blocks of 2 see their own block and earlier ones', () => {
  runAttention(
    { mask: 'blockCausal', blockLength: 2, Tk: 4 },
    [
      [0, 1],
      [0, 1],
      [0, 1, 2, 3],
    ],
    'blockCausal',
  );
  // a KV cache holds keys 0, 1; the queries sit at positions 2..3
  runAttention(
    { Tq: 2, Tk: 4, qStart: 2 },
    [
      [0, 1, 2],
      [0, 1, 2, 3],
    ],
    'causal qStart=2',
  );
});

test('attention with padding: a row that sees no key outputs zeros and lse = −Infinity', () => {
  runAttention({ keyValid: Uint8Array.of(0, 1, 1) }, [[], [1], [1, 2]], 'keyValid');
});

test('cross-entropy of uniform logits is ln V per unit weight; ignored rows (even NaN ones) give 0', () => {
  const V = 7,
    N = 4;
  const logits = new Float32Array(N * V).fill(0.3); // (N, V)
  logits.fill(Number.NaN, 3 * V); // a weight-0 row is ignored outright, whatever its logits hold
  const targets = Int32Array.of(2, -100, 6, 0),
    weights = Float32Array.of(1, 1, 2.5, 0);
  const losses = new Float32Array(N);
  k.crossEntropyForward(losses, logits, targets, weights, N, V);
  expectClose(losses, [Math.log(V), 0, 2.5 * Math.log(V), 0], { atol: 0, rtol: 4 * U, label: 'uniform CE' });
  const d = new Float32Array(N * V).fill(Number.NaN);
  k.crossEntropyBackward(d, logits, targets, weights, N, V, 0.5);
  const want = new Float64Array(N * V);
  for (let c = 0; c < V; c++) {
    want[c] = 0.5 * (1 / V - (c === 2 ? 1 : 0));
    want[2 * V + c] = 0.5 * 2.5 * (1 / V - (c === 6 ? 1 : 0));
  }
  expectClose(d, want, { atol: 4 * U, rtol: 4 * U, label: 'uniform CE gradient' });
  assert.throws(() => k.crossEntropyForward(losses, logits, Int32Array.of(7, 0, 0, 0), weights, N, V), /targets\[0\] = 7/);
});

test('embedding: gather rows; backward adds repeated ids into existing gradients', () => {
  const table = Float32Array.of(0, 1, 10, 11, 20, 21); // (3, 2)
  const out = new Float32Array(6);
  k.embeddingForward(out, table, Int32Array.of(2, 0, 2), 3, 2);
  assert.deepEqual([...out], [20, 21, 0, 1, 20, 21]);
  const dtable = Float32Array.of(1, 1, 1, 1, 1, 1);
  k.embeddingBackward(dtable, Float32Array.of(1, 2, 3, 4, 5, 6), Int32Array.of(2, 0, 2), 3, 2);
  assert.deepEqual([...dtable], [4, 5, 1, 1, 1 + 1 + 5, 1 + 2 + 6]);
  assert.throws(() => k.embeddingForward(out, table, Int32Array.of(3, 0, 0), 3, 2), /ids\[0\] = 3/);
});

test('add and addBias, in place', () => {
  const a = Float32Array.of(1, 2, 3, 4);
  k.add(a, a, Float32Array.of(10, 20, 30, 40), 4);
  assert.deepEqual([...a], [11, 22, 33, 44]);
  k.addBias(a, a, Float32Array.of(-1, 1), 2, 2);
  assert.deepEqual([...a], [10, 23, 32, 45]);
});

test('alloc* return fresh zeroed arrays; ref is single-threaded', () => {
  const r = new Rng(1);
  const n = r.int(1, 100);
  for (const buf of [k.allocF32(n), k.allocI32(n), k.allocU8(n), k.allocI8(n), k.allocU16(n)]) {
    assert.equal(buf.length, n);
    assert.ok(buf.every((x) => x === 0));
  }
  assert.notEqual(k.allocF32(1), k.allocF32(1));
  assert.equal(k.name, 'ref');
  assert.equal(k.threads, 1);
});
