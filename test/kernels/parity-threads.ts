// Thread-count determinism: the same inputs through kernels with 1 and with 2 threads must give
// bit-identical outputs (every output element is owned by one thread and summed in a fixed order).
// Shapes are large enough that 2 threads really split the work (many rows, tiles, chunks, heads).
import { after, before, describe, test } from 'node:test';
import type { AttentionShape, Kernels } from '../../src/kernels/backend.js';
import { quantizeQ4, quantizeQ8 } from '../../src/kernels/quantize.js';
import { expectExact, f32Bits } from '../helpers/expect-close.js';
import { Rng } from '../helpers/rng.js';
import { type Owned, withOwned } from './parity-harness.js';

/** an op run on one Kernels: inputs come from a fresh Rng(seed), outputs are copied out before the buffers are freed */
type Op = (k: Kernels, o: Owned, rng: Rng) => Float32Array[];

const attention: AttentionShape = {
  B: 2,
  Tq: 64,
  Tk: 64,
  H: 4,
  Hkv: 2,
  D: 64,
  scale: 0.125,
  mask: 'causal',
  qStart: 0,
  blockLength: 1,
  keyValid: null,
};

const OPS: Record<string, Op> = {
  'matmul GEMV rows': (k, o, r) => {
    const M = 2,
      K = 513,
      N = 300,
      out = o.f32(M * N);
    k.matmul(out, o.f32(r.normal(M * K)), o.f32(r.normal(N * K)), M, K, N, false, true, 1, 0);
    return [out];
  },
  'matmul tiles, every transpose': (k, o, r) => {
    const M = 130,
      K = 129,
      N = 257;
    return (
      [
        [false, false],
        [false, true],
        [true, false],
        [true, true],
      ] as const
    ).map(([tA, tB]) => {
      const out = o.f32(r.normal(M * N));
      k.matmul(out, o.f32(r.normal(M * K)), o.f32(r.normal(K * N)), M, K, N, tA, tB, 0.5, 1);
      return out;
    });
  },
  matmulQ8: (k, o, r) =>
    [
      [1, 4096, 300],
      [77, 129, 257],
    ].map(([M, K, N]) => {
      const w = quantizeQ8(r.normal(N! * K!), N!, K!),
        out = o.f32(M! * N!);
      k.matmulQ8(out, o.f32(r.normal(M! * K!)), o.i8(w.q), o.f32(w.scales), M!, K!, N!);
      return out;
    }),
  matmulQ4: (k, o, r) =>
    [
      [1, 4096, 300],
      [77, 128, 257],
    ].map(([M, K, N]) => {
      const w = quantizeQ4(r.normal(N! * K!), N!, K!),
        out = o.f32(M! * N!);
      k.matmulQ4(out, o.f32(r.normal(M! * K!)), o.u8(w.q), o.f32(w.scales), M!, K!, N!);
      return out;
    }),
  'rmsnorm forward and backward': (k, o, r) => {
    const N = 300,
      C = 256,
      x = o.f32(r.normal(N * C)),
      w = o.f32(r.uniform(C, 0.5, 1.5));
    const out = o.f32(N * C),
      rstd = o.f32(N),
      dx = o.f32(N * C),
      dw = o.f32(r.normal(C));
    k.rmsnormForward(out, rstd, x, w, N, C, 1e-5);
    k.rmsnormBackward(dx, dw, o.f32(r.normal(N * C)), x, w, rstd, N, C);
    return [out, rstd, dx, dw];
  },
  'attention forward and backward': (k, o, r) => {
    const { B, Tq, Tk, H, Hkv, D } = attention,
      nq = B * Tq * H * D,
      nk = B * Tk * Hkv * D;
    const q = o.f32(r.normal(nq)),
      kk = o.f32(r.normal(nk)),
      v = o.f32(r.normal(nk));
    const out = o.f32(nq),
      lse = o.f32(B * H * Tq),
      dq = o.f32(nq),
      dk = o.f32(nk),
      dv = o.f32(nk);
    k.attentionForward(out, lse, q, kk, v, attention);
    k.attentionBackward(dq, dk, dv, o.f32(r.normal(nq)), q, kk, v, out, lse, attention);
    return [out, lse, dq, dk, dv];
  },
  'cross-entropy forward and backward': (k, o, r) => {
    const N = 64,
      V = 1000,
      logits = o.f32(r.normal(N * V, 3)),
      targets = o.i32(r.ints(N, -1, V)),
      w = o.f32(r.uniform(N, 0, 2));
    const losses = o.f32(N),
      d = o.f32(N * V);
    k.crossEntropyForward(losses, logits, targets, w, N, V);
    k.crossEntropyBackward(d, logits, targets, w, N, V, 1 / N);
    return [losses, d];
  },
  'embedding backward': (k, o, r) => {
    const N = 200,
      vocab = 50,
      C = 256,
      dtable = o.f32(r.normal(vocab * C));
    k.embeddingBackward(dtable, o.f32(r.normal(N * C)), o.i32(r.ints(N, 0, vocab)), N, C);
    return [dtable];
  },
  softmax: (k, o, r) => {
    const rows = 300,
      cols = 257,
      y = o.f32(r.normal(rows * cols, 3)),
      dx = o.f32(r.normal(rows * cols));
    k.softmaxForward(y, y, rows, cols);
    k.softmaxBackward(dx, dx, y, rows, cols);
    return [y, dx];
  },
  adamw: (k, o, r) => {
    const n = 300001,
      p = o.f32(r.normal(n)),
      m = o.f32(r.normal(n, 0.01)),
      v = o.f32(r.uniform(n, 0, 1e-4));
    k.adamwStep(p, o.f32(r.normal(n, 0.1)), m, v, n, { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step: 3 });
    return [p, m, v];
  },
};

function outputs(k: Kernels, op: Op, seed: number): Float32Array[] {
  return withOwned(k, (o) => op(k, o, new Rng(seed)).map((x) => x.slice()));
}

export function runThreadDeterminismSuite(makeKernels1: () => Promise<Kernels>, makeKernels2: () => Promise<Kernels>, label: string): void {
  describe(`thread determinism ${label}`, () => {
    let k1: Kernels, k2: Kernels;
    before(async () => {
      [k1, k2] = await Promise.all([makeKernels1(), makeKernels2()]);
    });
    after(() => {
      k1?.dispose();
      k2?.dispose();
    });
    Object.entries(OPS).forEach(([name, op], i) => {
      test(`${label}: ${name} is bit-identical across thread counts`, () => {
        const a = outputs(k1, op, 400 + i),
          b = outputs(k2, op, 400 + i);
        a.forEach((x, j) =>
          expectExact(f32Bits(b[j]!), f32Bits(x), `${label} ${name} output ${j} (${k2.threads} vs ${k1.threads} threads)`),
        );
      });
    });
  });
}
