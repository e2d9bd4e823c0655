// Parity cases for the dense and row ops: matmul, matmulQ8, add, addBias, rmsnorm, rope, swiglu, softmax.
// Each case runs the tested kernels on their own buffers and the reference on plain arrays, and compares
// with the tolerance from helpers/tolerances.ts that names why it is that size.
import { test } from 'node:test';
import type { Kernels } from '../../src/kernels/backend.js';
import { quantizeQ8 } from '../../src/kernels/quantize.js';
import { ropeTable } from '../../src/kernels/rope-table.js';
import { expectClose, expectEqual } from '../helpers/expect-close.js';
import { Rng } from '../helpers/rng.js';
import { TOL } from '../helpers/tolerances.js';
import { absOf, ELEMENTWISE_N, maxAbs, TRANSPOSES, withOwned } from './parity-harness.js';

const ALPHA_BETA = [
  [1, 0],
  [-0.5, 1],
  [2, 0.25],
  [1, 0],
] as const;

export function registerDenseCases(kernels: () => Kernels, ref: Kernels, label: string): void {
  test(`${label}: matmul, odd shapes, every transpose, alpha/beta (beta = 0 over NaN)`, () => {
    const k = kernels(),
      rng = new Rng(101);
    for (const [M, K, N] of [
      [1, 1, 1],
      [45, 65, 33],
      [127, 129, 257],
      [1, 300, 70],
      [4, 129, 33],
      [3, 0, 5],
    ]) {
      TRANSPOSES.forEach(([tA, tB], t) => {
        const [alpha, beta] = ALPHA_BETA[t]!;
        const a = rng.uniform(M * K),
          b = rng.uniform(K * N),
          old = rng.uniform(M * N); // as stored; old out (M, N)
        const want = old.slice();
        ref.matmul(want, a, b, M, K, N, tA, tB, alpha, beta);
        const bound = beta === 0 ? new Float32Array(M * N) : absOf(old); // (M, N) |α|·Σ|a·b| + |β·old|
        ref.matmul(bound, absOf(a), absOf(b), M, K, N, tA, tB, Math.abs(alpha), Math.abs(beta));
        const got = withOwned(k, (o) => {
          const out = o.f32(old);
          if (beta === 0) out.fill(Number.NaN);
          k.matmul(out, o.f32(a), o.f32(b), M, K, N, tA, tB, alpha, beta);
          return out.slice();
        });
        expectClose(got, want, {
          ...TOL.dot(K, maxAbs(bound)),
          label: `${label} matmul ${M}×${K}×${N} tA=${tA} tB=${tB} α=${alpha} β=${beta}`,
        });
      });
    }
  });

  test(`${label}: matmul on plain typed arrays (not from alloc*) gives the same result`, () => {
    const k = kernels(),
      rng = new Rng(102),
      M = 9,
      K = 31,
      N = 17;
    const a = rng.uniform(M * K),
      b = rng.uniform(N * K),
      want = new Float32Array(M * N),
      got = new Float32Array(M * N);
    ref.matmul(want, a, b, M, K, N, false, true, 1, 0);
    k.matmul(got, a, b, M, K, N, false, true, 1, 0);
    const bound = new Float32Array(M * N);
    ref.matmul(bound, absOf(a), absOf(b), M, K, N, false, true, 1, 0);
    expectClose(got, want, { ...TOL.dot(K, maxAbs(bound)), label: `${label} matmul plain arrays` });
  });

  test(`${label}: matmulQ8, GEMV rows and GEMM tiles`, () => {
    const k = kernels(),
      rng = new Rng(103);
    for (const [M, K, N] of [
      [1, 1, 1],
      [1, 4096, 70],
      [5, 45, 33],
      [77, 129, 257],
      [3, 65, 17],
    ]) {
      const x = rng.normal(M * K),
        { q, scales } = quantizeQ8(rng.normal(N * K), N, K); // x (M, K); q (N, K)
      const want = new Float32Array(M * N),
        bound = new Float32Array(M * N); // (M, N)
      ref.matmulQ8(want, x, q, scales, M, K, N);
      ref.matmulQ8(bound, absOf(x), q.map(Math.abs), scales, M, K, N);
      const got = withOwned(k, (o) => {
        const out = o.f32(M * N);
        k.matmulQ8(out, o.f32(x), o.i8(q), o.f32(scales), M, K, N);
        return out.slice();
      });
      expectClose(got, want, { ...TOL.dot(K, maxAbs(bound)), label: `${label} matmulQ8 ${M}×${K}×${N}` });
    }
  });

  test(`${label}: add and addBias are exact, in place too`, () => {
    const k = kernels(),
      rng = new Rng(104);
    for (const n of ELEMENTWISE_N) {
      const a = rng.normal(n),
        b = rng.normal(n, 1e-3),
        want = new Float32Array(n);
      ref.add(want, a, b, n);
      const [got, inPlace] = withOwned(k, (o) => {
        const out = o.f32(n),
          oa = o.f32(a),
          ob = o.f32(b);
        k.add(out, oa, ob, n);
        k.add(oa, oa, ob, n); // out aliases a (the residual stream)
        return [out.slice(), oa.slice()];
      });
      expectEqual(got!, want, `${label} add n=${n}`);
      expectEqual(inPlace!, want, `${label} add in place n=${n}`);
    }
    for (const [rows, cols] of [
      [1, 1],
      [3, 17],
      [45, 65],
      [7, 1000],
    ]) {
      const x = rng.normal(rows * cols),
        bias = rng.normal(cols),
        want = new Float32Array(rows * cols);
      ref.addBias(want, x, bias, rows, cols);
      const got = withOwned(k, (o) => {
        const ox = o.f32(x);
        k.addBias(ox, ox, o.f32(bias), rows, cols);
        return ox.slice();
      });
      expectEqual(got, want, `${label} addBias in place ${rows}×${cols}`);
    }
  });

  test(`${label}: rmsnorm forward and backward, C in {1, 3, 17, 4096}`, () => {
    const k = kernels(),
      rng = new Rng(105),
      eps = 1e-5;
    for (const [N, C] of [
      [5, 1],
      [4, 3],
      [7, 17],
      [3, 4096],
      [64, 64],
    ]) {
      const x = rng.normal(N * C),
        w = rng.uniform(C, 0.5, 1.5),
        dout = rng.normal(N * C),
        dw0 = rng.normal(C); // dw accumulates
      const out = new Float32Array(N * C),
        rstd = new Float32Array(N),
        dx = new Float32Array(N * C),
        dw = dw0.slice();
      ref.rmsnormForward(out, rstd, x, w, N, C, eps);
      ref.rmsnormBackward(dx, dw, dout, x, w, rstd, N, C);
      const got = withOwned(k, (o) => {
        const gOut = o.f32(N * C),
          gRstd = o.f32(N),
          gdx = o.f32(N * C).fill(Number.NaN),
          gdw = o.f32(dw0);
        k.rmsnormForward(gOut, gRstd, o.f32(x), o.f32(w), N, C, eps);
        k.rmsnormBackward(gdx, gdw, o.f32(dout), o.f32(x), o.f32(w), o.f32(rstd), N, C); // the ref's rstd: one input
        return { out: gOut.slice(), rstd: gRstd.slice(), dx: gdx.slice(), dw: gdw.slice() };
      });
      const name = `${label} rmsnorm ${N}×${C}`;
      expectClose(got.out, out, { ...TOL.rmsnormForward(C), label: `${name} out` });
      expectClose(got.rstd, rstd, { ...TOL.rmsnormForward(C), label: `${name} rstd` });
      // the magnitudes of the two terms of dx, and of dw's sum, bound what rounding can do to them
      let dxScale = 0;
      const dwScale = new Float64Array(C).map((_, c) => Math.abs(dw0[c]!));
      for (let n = 0; n < N; n++) {
        const r = rstd[n]!;
        let dot = 0;
        for (let c = 0; c < C; c++) dot += Math.abs(dout[n * C + c]! * w[c]! * x[n * C + c]!);
        for (let c = 0; c < C; c++) {
          dxScale = Math.max(dxScale, r * Math.abs(w[c]! * dout[n * C + c]!) + (r ** 3 / C) * Math.abs(x[n * C + c]!) * dot);
          dwScale[c] = dwScale[c]! + Math.abs(dout[n * C + c]! * x[n * C + c]! * r);
        }
      }
      expectClose(got.dx, dx, { ...TOL.rmsnormBackward(C, dxScale), label: `${name} dx` });
      expectClose(got.dw, dw, { ...TOL.rmsnormBackward(N, maxAbs(dwScale)), label: `${name} dw` });
    }
  });

  test(`${label}: rope forward and backward, in place too`, () => {
    const k = kernels(),
      rng = new Rng(106);
    for (const [N, H, D] of [
      [1, 1, 2],
      [3, 5, 8],
      [17, 4, 64],
      [5, 3, 130],
    ]) {
      const P = 300,
        table = ropeTable(10000, D, P);
      const x = rng.normal(N * H * D),
        positions = rng.ints(N, 0, P); // x (N, H, D)
      positions[0] = P - 1;
      const fwd = new Float32Array(N * H * D),
        bwd = new Float32Array(N * H * D);
      ref.ropeForward(fwd, x, positions, table.cos, table.sin, N, H, D);
      ref.ropeBackward(bwd, x, positions, table.cos, table.sin, N, H, D);
      const got = withOwned(k, (o) => {
        const out = o.f32(N * H * D),
          ox = o.f32(x),
          pos = o.i32(positions),
          cos = o.f32(table.cos),
          sin = o.f32(table.sin);
        k.ropeForward(out, ox, pos, cos, sin, N, H, D);
        k.ropeBackward(ox, ox, pos, cos, sin, N, H, D); // dx aliases dout
        return { fwd: out.slice(), bwd: ox.slice() };
      });
      const tol = TOL.rope(maxAbs(x));
      expectClose(got.fwd, fwd, { ...tol, label: `${label} ropeForward ${N}×${H}×${D}` });
      expectClose(got.bwd, bwd, { ...tol, label: `${label} ropeBackward in place ${N}×${H}×${D}` });
    }
  });

  test(`${label}: swiglu forward and backward, gates up to ±1000`, () => {
    const k = kernels(),
      rng = new Rng(107);
    for (const n of [...ELEMENTWISE_N, 8]) {
      const gate = rng.normal(n, 4),
        up = rng.normal(n),
        dout = rng.normal(n);
      if (n === 8) gate.set([-1000, -100, -88, -1.2785, 0, 88, 100, 1000]); // exp overflow/underflow, dgate's zero
      const out = new Float32Array(n),
        dgate = new Float32Array(n),
        dup = new Float32Array(n);
      ref.swigluForward(out, gate, up, n);
      ref.swigluBackward(dgate, dup, dout, gate, up, n);
      const got = withOwned(k, (o) => {
        const gOut = o.f32(n),
          gdg = o.f32(n),
          gdu = o.f32(n),
          og = o.f32(gate),
          ou = o.f32(up);
        k.swigluForward(gOut, og, ou, n);
        k.swigluBackward(gdg, gdu, o.f32(dout), og, ou, n);
        return { out: gOut.slice(), dgate: gdg.slice(), dup: gdu.slice() };
      });
      const scale = maxAbs(dout.map((d, i) => d * up[i]!));
      expectClose(got.out, out, { ...TOL.swiglu(0), label: `${label} swigluForward n=${n}` });
      expectClose(got.dgate, dgate, { ...TOL.swiglu(scale), label: `${label} swigluBackward dgate n=${n}` });
      expectClose(got.dup, dup, { ...TOL.swiglu(0), label: `${label} swigluBackward dup n=${n}` });
    }
  });

  test(`${label}: softmax forward and backward, ±300 and a one-hot row of −Inf`, () => {
    const k = kernels(),
      rng = new Rng(108);
    for (const [rows, cols] of [
      [1, 1],
      [3, 5],
      [7, 17],
      [4, 1000],
      [2, 4097],
    ]) {
      const x = rng.normal(rows * cols, 3),
        dy = rng.normal(rows * cols);
      if (rows > 1) x.set(rng.uniform(cols, -300, 300), cols); // row 1: ±300
      if (rows > 2) {
        x.fill(-Infinity, 2 * cols, 3 * cols);
        x[2 * cols + (cols >> 1)] = 0.5;
      } // row 2: one finite entry
      const y = new Float32Array(rows * cols),
        dx = new Float32Array(rows * cols);
      ref.softmaxForward(y, x, rows, cols);
      ref.softmaxBackward(dx, dy, y, rows, cols);
      const got = withOwned(k, (o) => {
        const ox = o.f32(x),
          ody = o.f32(dy);
        k.softmaxForward(ox, ox, rows, cols); // in place
        k.softmaxBackward(ody, ody, o.f32(y), rows, cols); // dx aliases dy; the ref's y
        return { y: ox.slice(), dx: ody.slice() };
      });
      expectClose(got.y, y, { ...TOL.softmaxForward(cols), label: `${label} softmaxForward ${rows}×${cols}` });
      expectClose(got.dx, dx, { ...TOL.softmaxBackward(cols, maxAbs(dy) * maxAbs(y)), label: `${label} softmaxBackward ${rows}×${cols}` });
    }
  });
}
