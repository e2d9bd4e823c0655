// Every backward op of the reference against central finite differences of its forward, on a scalar loss
// L = Σ out ⊙ R with a fixed random R. The forward runs with float32 storage, so with step h the FD error is
// about u·|L|/h (rounding, u = 2^-24) + h²·|L'''| (curvature): h = 1e-2 on O(1) inputs gives ~1e-4 both
// ways; tolerances below are 3e-3 absolute + 3e-3 relative to cover both with margin.
import { test } from 'node:test';
import type { AttentionShape, MaskKind } from '../../src/kernels/backend.js';
import { ropeTable } from '../../src/kernels/rope-table.js';
import { expectClose } from '../helpers/expect-close.js';
import { ref } from '../helpers/kernels.js';
import { ints, normal, rng } from '../helpers/random.js';

const H_STEP = 1e-2;
const TOL = { atol: 3e-3, rtol: 3e-3 };

/** ∂/∂x of Σ f(x) ⊙ R by central differences, for every element of x (x is perturbed in place) */
function numericGrad(x: Float32Array, f: () => Float32Array, R: Float32Array): Float64Array {
  const g = new Float64Array(x.length);
  const loss = () => {
    const y = f();
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i]! * R[i]!;
    return s;
  };
  for (let i = 0; i < x.length; i++) {
    const o = x[i]!;
    x[i] = o + H_STEP;
    const lp = loss();
    x[i] = o - H_STEP;
    const lm = loss();
    x[i] = o;
    g[i] = (lp - lm) / (2 * H_STEP);
  }
  return g;
}

test('matmul backward (all transposes) = finite differences', () => {
  const r = rng(21),
    M = 3,
    K = 4,
    N = 5;
  for (const [tA, tB] of [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ] as const) {
    const a = normal(r, M * K),
      b = normal(r, K * N),
      R = normal(r, M * N);
    const fwd = () => {
      const o = new Float32Array(M * N);
      ref.matmul(o, a, b, M, K, N, tA, tB, 1, 0);
      return o;
    };
    // dA = R·op(b)ᵀ (stored like a), dB = op(a)ᵀ·R (stored like b)
    const da = new Float32Array(M * K),
      db = new Float32Array(K * N);
    if (!tA) ref.matmul(da, R, b, M, N, K, false, !tB, 1, 0);
    else ref.matmul(da, b, R, K, N, M, tB, true, 1, 0);
    if (!tB) ref.matmul(db, a, R, K, M, N, !tA, false, 1, 0);
    else ref.matmul(db, R, a, N, M, K, true, tA, 1, 0);
    expectClose(da, numericGrad(a, fwd, R), { ...TOL, label: `matmul dA tA=${tA} tB=${tB}` });
    expectClose(db, numericGrad(b, fwd, R), { ...TOL, label: `matmul dB tA=${tA} tB=${tB}` });
  }
});

test('rmsnorm backward (dx and dw) = finite differences', () => {
  const r = rng(22),
    N = 3,
    C = 7;
  const x = normal(r, N * C),
    w = normal(r, C),
    R = normal(r, N * C);
  const fwd = () => {
    const o = new Float32Array(N * C);
    ref.rmsnormForward(o, new Float32Array(N), x, w, N, C, 1e-5);
    return o;
  };
  const rs = new Float32Array(N);
  ref.rmsnormForward(new Float32Array(N * C), rs, x, w, N, C, 1e-5);
  const dx = new Float32Array(N * C),
    dw = new Float32Array(C);
  ref.rmsnormBackward(dx, dw, R, x, w, rs, N, C);
  expectClose(dx, numericGrad(x, fwd, R), { ...TOL, label: 'rmsnorm dx' });
  expectClose(dw, numericGrad(w, fwd, R), { ...TOL, label: 'rmsnorm dw' });
});

test('rope backward = finite differences', () => {
  const r = rng(23),
    N = 4,
    H = 2,
    D = 6,
    t = ropeTable(10000, D, 64);
  const x = normal(r, N * H * D),
    pos = ints(r, N, 64),
    R = normal(r, N * H * D);
  const fwd = () => {
    const o = new Float32Array(N * H * D);
    ref.ropeForward(o, x, pos, t.cos, t.sin, N, H, D);
    return o;
  };
  const dx = new Float32Array(N * H * D);
  ref.ropeBackward(dx, R, pos, t.cos, t.sin, N, H, D);
  expectClose(dx, numericGrad(x, fwd, R), { ...TOL, label: 'rope dx' });
});

test('swiglu backward = finite differences', () => {
  const r = rng(24),
    n = 9;
  const g = normal(r, n, 2),
    u = normal(r, n),
    R = normal(r, n);
  const fwd = () => {
    const o = new Float32Array(n);
    ref.swigluForward(o, g, u, n);
    return o;
  };
  const dg = new Float32Array(n),
    du = new Float32Array(n);
  ref.swigluBackward(dg, du, R, g, u, n);
  expectClose(dg, numericGrad(g, fwd, R), { ...TOL, label: 'swiglu dgate' });
  expectClose(du, numericGrad(u, fwd, R), { ...TOL, label: 'swiglu dup' });
});

test('softmax backward = finite differences', () => {
  const r = rng(25),
    rows = 3,
    cols = 6;
  const x = normal(r, rows * cols, 2),
    R = normal(r, rows * cols);
  const fwd = () => {
    const o = new Float32Array(rows * cols);
    ref.softmaxForward(o, x, rows, cols);
    return o;
  };
  const y = fwd(),
    dx = new Float32Array(rows * cols);
  ref.softmaxBackward(dx, R, y, rows, cols);
  expectClose(dx, numericGrad(x, fwd, R), { ...TOL, label: 'softmax dx' });
});

test('attention backward = finite differences, every mask, GQA, padding, qStart', () => {
  const r = rng(26);
  const cases: [number, number, number, number, number, MaskKind, number, boolean][] = [
    [1, 4, 4, 2, 2, 'none', 0, false],
    [2, 4, 4, 4, 2, 'causal', 0, true],
    [1, 5, 5, 2, 1, 'blockCausal', 0, false],
    [1, 2, 6, 2, 1, 'causal', 4, false],
    [1, 6, 6, 2, 1, 'blockDiffusion', 0, false], // n = 3, blocks of 2 (a partial last block)
  ];
  for (const [B, Tq, Tk, H, Hkv, mask, qStart, padded] of cases) {
    const D = 4;
    const keyValid = padded ? Uint8Array.from({ length: B * Tk }, (_, i) => (i % Tk === 0 ? 0 : 1)) : null;
    const s: AttentionShape = { B, Tq, Tk, H, Hkv, D, scale: 0.5, mask, qStart, blockLength: 2, keyValid };
    const q = normal(r, B * Tq * H * D),
      k = normal(r, B * Tk * Hkv * D),
      v = normal(r, B * Tk * Hkv * D),
      R = normal(r, B * Tq * H * D);
    const fwd = () => {
      const o = new Float32Array(q.length);
      ref.attentionForward(o, new Float32Array(B * H * Tq), q, k, v, s);
      return o;
    };
    const out = new Float32Array(q.length),
      lse = new Float32Array(B * H * Tq);
    ref.attentionForward(out, lse, q, k, v, s);
    const dq = new Float32Array(q.length),
      dk = new Float32Array(k.length),
      dv = new Float32Array(v.length);
    ref.attentionBackward(dq, dk, dv, R, q, k, v, out, lse, s);
    const label = `attention ${mask} B${B} H${H}/${Hkv} q0=${qStart}${padded ? ' padded' : ''}`;
    expectClose(dq, numericGrad(q, fwd, R), { ...TOL, label: `${label} dq` });
    expectClose(dk, numericGrad(k, fwd, R), { ...TOL, label: `${label} dk` });
    expectClose(dv, numericGrad(v, fwd, R), { ...TOL, label: `${label} dv` });
  }
});

test('cross-entropy backward = finite differences (weights, ignored rows)', () => {
  const r = rng(27),
    N = 4,
    V = 5;
  const logits = normal(r, N * V),
    targets = Int32Array.from([1, -1, 4, 0]),
    weights = Float32Array.from([1, 1, 0.5, 0]);
  const R = normal(r, N);
  const fwd = () => {
    const o = new Float32Array(N);
    ref.crossEntropyForward(o, logits, targets, weights, N, V);
    return o;
  };
  // d/dlogits of Σ R[n]·loss[n]: per-row scale R[n] — check each row through scale
  for (let n = 0; n < N; n++) {
    const Rn = new Float32Array(N);
    Rn[n] = 1;
    const d = new Float32Array(N * V);
    ref.crossEntropyBackward(d, logits, targets, weights, N, V, 1);
    const fd = numericGrad(logits, fwd, Rn);
    expectClose(d.subarray(n * V, (n + 1) * V), fd.subarray(n * V, (n + 1) * V), { ...TOL, label: `cross-entropy row ${n}` });
  }
  void R;
});

test('embedding backward = finite differences (repeated ids accumulate)', () => {
  const r = rng(28),
    Vt = 4,
    C = 3,
    ids = Int32Array.from([2, 0, 2, 3, 2]),
    N = ids.length;
  const table = normal(r, Vt * C),
    R = normal(r, N * C);
  const fwd = () => {
    const o = new Float32Array(N * C);
    ref.embeddingForward(o, table, ids, N, C);
    return o;
  };
  const d = new Float32Array(Vt * C);
  ref.embeddingBackward(d, R, ids, N, C);
  expectClose(d, numericGrad(table, fwd, R), { ...TOL, label: 'embedding dtable' });
});
