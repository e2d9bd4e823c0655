// The pool against one thread: work items are split so each output is computed by one thread in a fixed
// order, so 1 and 2 threads must agree bit for bit; and the pool survives many small dispatches.
import { test } from 'node:test';
import type { AttentionShape } from '../../src/kernels/backend.js';
import { createKernels } from '../../src/platform/node.js';
import { expectEqual } from '../helpers/expect-close.js';
import { own } from '../helpers/kernels.js';
import { ints, normal, rng } from '../helpers/random.js';

test('1 thread and 2 threads give bit-identical results for every op', async () => {
  const k1 = await createKernels({ backend: 'wasm', threads: 1 }),
    k2 = await createKernels({ backend: 'wasm', threads: 2 });
  try {
    if (k2.threads !== 2) throw new Error(`expected a 2-thread pool, got ${k2.threads}`);
    const r = rng(31);
    const run = (name: string, f: (k: typeof k1) => ArrayLike<number>[]) => {
      const a = f(k1),
        b = f(k2);
      a.forEach((x, i) => expectEqual(b[i]!, x, `${name} output ${i}`));
    };
    const M = 150,
      K = 300,
      N = 530;
    const a = normal(r, M * K),
      b = normal(r, N * K),
      x1 = normal(r, 3 * K);
    run('matmul', (k) => {
      const o = k.allocF32(M * N);
      k.matmul(o, own(k, a), own(k, b), M, K, N, false, true, 1, 0);
      return [o];
    });
    run('matmul TN accumulate', (k) => {
      const o = k.allocF32(K * K);
      k.matmul(o, own(k, a), own(k, a), K, M, K, true, false, 1, 1);
      return [o];
    });
    run('gemv', (k) => {
      const o = k.allocF32(3 * N);
      k.matmul(o, own(k, x1), own(k, b), 3, K, N, false, true, 1, 0);
      return [o];
    });
    const q = new Int8Array(N * K).map((_, i) => ((i * 37) % 255) - 127),
      sc = normal(r, N);
    run('matmulQ8 gemm', (k) => {
      const o = k.allocF32(M * N);
      k.matmulQ8(o, own(k, a), own(k, q), own(k, sc), M, K, N);
      return [o];
    });
    run('matmulQ8 gemv', (k) => {
      const o = k.allocF32(3 * N);
      k.matmulQ8(o, own(k, x1), own(k, q), own(k, sc), 3, K, N);
      return [o];
    });
    const C = 300,
      R = 100,
      x = normal(r, R * C),
      w = normal(r, C),
      d = normal(r, R * C);
    run('rmsnorm fwd+bwd', (k) => {
      const o = k.allocF32(R * C),
        rs = k.allocF32(R),
        dx = k.allocF32(R * C),
        dw = k.allocF32(C);
      k.rmsnormForward(o, rs, own(k, x), own(k, w), R, C, 1e-5);
      k.rmsnormBackward(dx, dw, own(k, d), own(k, x), own(k, w), rs, R, C);
      return [o, rs, dx, dw];
    });
    run('softmax', (k) => {
      const o = k.allocF32(R * C);
      k.softmaxForward(o, own(k, x), R, C);
      return [o];
    });
    const s: AttentionShape = {
      B: 2,
      Tq: 40,
      Tk: 40,
      H: 4,
      Hkv: 2,
      D: 16,
      scale: 0.25,
      mask: 'causal',
      qStart: 0,
      blockLength: 0,
      keyValid: null,
    };
    const n = 2 * 40 * 4 * 16,
      nk = 2 * 40 * 2 * 16;
    const qq = normal(r, n),
      kk = normal(r, nk),
      vv = normal(r, nk),
      dd = normal(r, n);
    run('attention fwd+bwd', (k) => {
      const o = k.allocF32(n),
        l = k.allocF32(2 * 4 * 40),
        dq = k.allocF32(n),
        dk = k.allocF32(nk),
        dv = k.allocF32(nk);
      k.attentionForward(o, l, own(k, qq), own(k, kk), own(k, vv), s);
      k.attentionBackward(dq, dk, dv, own(k, dd), own(k, qq), own(k, kk), own(k, vv), o, l, s);
      return [o, l, dq, dk, dv];
    });
    const V = 1000,
      Nr = 64,
      logits = normal(r, Nr * V),
      tg = ints(r, Nr, V),
      wt = normal(r, Nr);
    run('cross-entropy fwd+bwd', (k) => {
      const l = k.allocF32(Nr),
        dl = k.allocF32(Nr * V);
      k.crossEntropyForward(l, own(k, logits), own(k, tg), own(k, wt), Nr, V);
      k.crossEntropyBackward(dl, own(k, logits), own(k, tg), own(k, wt), Nr, V, 1);
      return [l, dl];
    });
    const ids = ints(r, 500, 7),
      dout = normal(r, 500 * 130);
    run('embedding backward', (k) => {
      const t = k.allocF32(7 * 130);
      k.embeddingBackward(t, own(k, dout), own(k, ids), 500, 130);
      return [t];
    });
    const p = normal(r, 100000),
      g = normal(r, 100000);
    run('adamw', (k) => {
      const pp = own(k, p),
        m = k.allocF32(100000),
        v = k.allocF32(100000);
      k.adamwStep(pp, own(k, g), m, v, 100000, { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 1 });
      return [pp, m, v];
    });
  } finally {
    k1.dispose();
    k2.dispose();
  }
});

test('the pool stays correct over 20000 back-to-back dispatches', async () => {
  const k = await createKernels({ backend: 'wasm', threads: 2 });
  try {
    const n = 4096 * 3,
      a = k.allocF32(n),
      one = k.allocF32(n).fill(1);
    for (let i = 0; i < 20000; i++) k.add(a, a, one, n);
    for (let i = 0; i < n; i++) if (a[i] !== 20000) throw new Error(`element ${i} is ${a[i]} after 20000 adds of 1`);
  } finally {
    k.dispose();
  }
});
