// Every backward of the reference (except attention: ref-grad-attention.test.ts) against central differences
// of its forward run in f64 (helpers/finite-diff.ts). Matmul has no backward op; its gradients are the usual
// matmuls with transposed operands, checked here in every storage layout.
import { test } from 'node:test';
import { crossEntropyForward } from '../../src/kernels/ref/cross-entropy.js';
import { embeddingForward } from '../../src/kernels/ref/embedding.js';
import { createRefKernels } from '../../src/kernels/ref/index.js';
import { matmul } from '../../src/kernels/ref/matmul.js';
import { rmsnormForward } from '../../src/kernels/ref/norm.js';
import { ropeForward } from '../../src/kernels/ref/rope.js';
import { softmaxForward } from '../../src/kernels/ref/softmax.js';
import { swigluForward } from '../../src/kernels/ref/activations.js';
import { ropeTable } from '../../src/kernels/rope-table.js';
import { checkGradients } from '../helpers/finite-diff.js';
import { Rng } from '../helpers/rng.js';
import { TOL } from '../helpers/tolerances.js';

const k = createRefKernels();

test('matmul gradients in all four layouts, with alpha and beta', () => {
  const rng = new Rng(21);
  const M = 3,
    K = 4,
    N = 5,
    alpha = 0.75,
    beta = 0.5;
  for (const [transA, transB] of [
    [false, false],
    [false, true],
    [true, false],
    [true, true],
  ] as const) {
    const a = rng.uniform(M * K),
      b = rng.uniform(K * N),
      c = rng.uniform(M * N); // a, b as stored; c the old out
    checkGradients(
      {
        label: `matmul tA=${transA} tB=${transB}`,
        inputs: { a, b, c },
        forward: (x) => {
          const out = Float64Array.from(x.c!); // (M, N)
          matmul(out, x.a!, x.b!, M, K, N, transA, transB, alpha, beta);
          return out;
        },
        backward: (dout) => {
          const da = new Float32Array(M * K),
            db = new Float32Array(K * N); // in the stored layouts of a, b
          // d op(a) = α·dout·op(b)ᵀ (M, K); stored as (K, M) it is α·op(b)·doutᵀ
          if (!transA) k.matmul(da, dout, b, M, N, K, false, !transB, alpha, 0);
          else k.matmul(da, b, dout, K, N, M, transB, true, alpha, 0);
          // d op(b) = α·op(a)ᵀ·dout (K, N); stored as (N, K) it is α·doutᵀ·op(a)
          if (!transB) k.matmul(db, a, dout, K, M, N, !transA, false, alpha, 0);
          else k.matmul(db, dout, a, N, M, K, true, transA, alpha, 0);
          return { a: da, b: db, c: dout.map((g) => beta * g) };
        },
      },
      rng,
      TOL.finiteDiff,
    );
  }
});

test('rmsnorm dx and dw (dw accumulates), C = 1 and C = 7', () => {
  const rng = new Rng(22);
  for (const [N, C] of [
    [3, 1],
    [4, 7],
  ]) {
    const x = rng.normal(N * C),
      w = rng.uniform(C, 0.5, 1.5),
      eps = 1e-5; // x (N, C), w (C)
    checkGradients(
      {
        label: `rmsnorm N=${N} C=${C}`,
        inputs: { x, w },
        forward: (v) => {
          const out = new Float64Array(N * C),
            rstd = new Float64Array(N);
          rmsnormForward(out, rstd, v.x!, v.w!, N, C, eps);
          return out;
        },
        backward: (dout) => {
          const out = new Float32Array(N * C),
            rstd = new Float32Array(N);
          k.rmsnormForward(out, rstd, x, w, N, C, eps);
          const dx = new Float32Array(N * C),
            dw = new Float32Array(C).fill(0.25); // dw starts non-zero: +=
          k.rmsnormBackward(dx, dw, dout, x, w, rstd, N, C);
          return { x: dx, w: dw.map((g) => g - 0.25) };
        },
      },
      rng,
      TOL.finiteDiff,
    );
  }
});

test('rope backward (into the dout buffer)', () => {
  const rng = new Rng(23);
  const N = 3,
    H = 2,
    D = 6,
    table = ropeTable(10000, D, 9);
  const positions = Int32Array.of(0, 8, 3),
    x = rng.normal(N * H * D); // x (N, H, D)
  checkGradients(
    {
      label: 'rope',
      inputs: { x },
      forward: (v) => {
        const out = new Float64Array(N * H * D);
        ropeForward(out, v.x!, positions, table.cos, table.sin, N, H, D);
        return out;
      },
      backward: (dout) => {
        const dx = dout.slice();
        k.ropeBackward(dx, dx, positions, table.cos, table.sin, N, H, D);
        return { x: dx };
      },
    },
    rng,
    TOL.finiteDiff,
  );
});

test('swiglu dgate and dup, gates from −8 to 8', () => {
  const rng = new Rng(24);
  const n = 23,
    gate = rng.uniform(n, -8, 8),
    up = rng.normal(n);
  checkGradients(
    {
      label: 'swiglu',
      inputs: { gate, up },
      forward: (v) => {
        const out = new Float64Array(n);
        swigluForward(out, v.gate!, v.up!, n);
        return out;
      },
      backward: (dout) => {
        const dgate = new Float32Array(n),
          dup = new Float32Array(n);
        k.swigluBackward(dgate, dup, dout, gate, up, n);
        return { gate: dgate, up: dup };
      },
    },
    rng,
    TOL.finiteDiff,
  );
});

test('softmax backward (dx into the dy buffer), a masked −Inf entry included', () => {
  const rng = new Rng(25);
  const rows = 3,
    cols = 5,
    x = rng.normal(rows * cols, 2);
  x[7] = -Infinity; // its probability is 0 and stays 0: no gradient
  checkGradients(
    {
      label: 'softmax',
      inputs: { x },
      forward: (v) => {
        const out = new Float64Array(rows * cols);
        softmaxForward(out, v.x!, rows, cols);
        return out;
      },
      backward: (dout) => {
        const y = new Float32Array(rows * cols);
        k.softmaxForward(y, x, rows, cols);
        const dx = dout.slice();
        k.softmaxBackward(dx, dx, y, rows, cols);
        return { x: dx };
      },
    },
    rng,
    TOL.finiteDiff,
  );
});

test('cross-entropy dlogits with weights, scale and ignored rows', () => {
  const rng = new Rng(26);
  const N = 5,
    V = 6,
    scale = 0.5;
  const logits = rng.normal(N * V, 2); // (N, V)
  const targets = Int32Array.of(3, -100, 0, 5, 2),
    weights = Float32Array.of(1, 1, 0, 2.5, 0.3);
  checkGradients(
    {
      label: 'cross-entropy',
      inputs: { logits },
      forward: (v) => {
        const losses = new Float64Array(N);
        crossEntropyForward(losses, v.logits!, targets, weights, N, V);
        return losses;
      },
      backward: () => {
        const d = new Float32Array(N * V).fill(Number.NaN); // every entry must be written
        k.crossEntropyBackward(d, logits, targets, weights, N, V, scale);
        return { logits: d };
      },
      dout: new Float32Array(N).fill(scale), // the backward is ∂(scale · Σ losses)/∂logits
    },
    rng,
    TOL.finiteDiff,
  );
});

test('embedding backward scatter-adds, repeated ids summed', () => {
  const rng = new Rng(27);
  const vocab = 5,
    C = 3,
    ids = Int32Array.of(4, 1, 4, 4, 0, 1); // ids (N); token 2, 3 unused
  const N = ids.length,
    table = rng.normal(vocab * C); // (vocab, C)
  checkGradients(
    {
      label: 'embedding',
      inputs: { table },
      forward: (v) => {
        const out = new Float64Array(N * C);
        embeddingForward(out, v.table!, ids, N, C);
        return out;
      },
      backward: (dout) => {
        const dtable = new Float32Array(vocab * C);
        k.embeddingBackward(dtable, dout, ids, N, C);
        return { table: dtable };
      },
    },
    rng,
    TOL.finiteDiff,
  );
});
