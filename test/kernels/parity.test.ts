// Every wasm kernel against the reference on odd shapes (SIMD tails, one-element edges, tiles that do not
// divide) and extreme values, for each variant the runtime supports: relaxed SIMD at 1 and 2 threads and
// plain SIMD128. Inputs live in the kernels' own memory (the fast path real callers use).
// Tolerances: the reference sums in float64; the wasm kernels sum in float32 (with FMA under relaxed SIMD)
// in another order, and use a polynomial exp (≈2 ulp). Each tolerance below says which of these it covers.
import { after, before, describe, test } from 'node:test';
import type { AttentionShape, Kernels, MaskKind } from '../../src/kernels/backend.js';
import { ropeTable } from '../../src/kernels/rope-table.js';
import { quantizeQ8 } from '../../src/kernels/quantize.js';
import { expectClose, expectEqual } from '../helpers/expect-close.js';
import { own, ref, wasmVariants } from '../helpers/kernels.js';
import { ints, normal, rng, uniform } from '../helpers/random.js';

const EPS32 = 2 ** -24; // float32 unit roundoff
// a float32 sum of K products of O(1) terms drifts like K·u in the worst case; 4× headroom
const sumTol = (K: number) => ({ atol: 4 * EPS32 * Math.max(1, K) * 4, rtol: 1e-5 });

for (const variant of wasmVariants) {
  describe(variant.label, () => {
    let k: Kernels;
    before(async () => {
      k = await variant.make();
    });
    after(() => k.dispose());

    test('matmul: every transpose, alpha/beta, odd shapes', () => {
      const r = rng(1);
      for (const [M, K, N] of [
        [1, 1, 1],
        [45, 65, 33],
        [127, 129, 257],
        [3, 17, 70],
        [8, 300, 9],
        [80, 513, 260],
      ] as const) {
        for (const [tA, tB] of [
          [false, false],
          [false, true],
          [true, false],
          [true, true],
        ] as const) {
          for (const [alpha, beta] of [
            [1, 0],
            [0.5, 1],
            [-2, 0.25],
          ] as const) {
            const a = normal(r, M * K),
              b = normal(r, K * N),
              c0 = normal(r, M * N);
            const want = Float32Array.from(c0);
            ref.matmul(want, a, b, M, K, N, tA, tB, alpha, beta);
            const got = own(k, c0);
            if (beta === 0) got.fill(NaN); // beta = 0 must ignore old contents, NaN included
            k.matmul(got, own(k, a), own(k, b), M, K, N, tA, tB, alpha, beta);
            expectClose(got, want, {
              ...sumTol(K * Math.abs(alpha) + 2),
              label: `${variant.label} matmul ${M}×${K}×${N} tA=${tA} tB=${tB} α=${alpha} β=${beta}`,
            });
          }
        }
      }
    });

    test('matmul accepts plain arrays (copied in and out) with the same result', () => {
      const r = rng(2),
        M = 9,
        K = 31,
        N = 17;
      const a = normal(r, M * K),
        b = normal(r, N * K);
      const want = new Float32Array(M * N),
        got = new Float32Array(M * N);
      ref.matmul(want, a, b, M, K, N, false, true, 1, 0);
      k.matmul(got, a, b, M, K, N, false, true, 1, 0);
      expectClose(got, want, { ...sumTol(K), label: 'matmul plain arrays' });
    });

    test('matmulQ8: GEMV rows and GEMM tiles', () => {
      const r = rng(3);
      for (const [M, K, N] of [
        [1, 1, 1],
        [1, 4096, 70],
        [5, 45, 33],
        [77, 129, 257],
      ] as const) {
        const x = normal(r, M * K),
          w = normal(r, N * K);
        const q = quantizeQ8(w, N, K);
        const want = new Float32Array(M * N);
        ref.matmulQ8(want, x, q.q, q.scales, M, K, N);
        const got = k.allocF32(M * N);
        k.matmulQ8(got, own(k, x), own(k, q.q), own(k, q.scales), M, K, N);
        // int8 products are exact in f32; the error is the f32 sum of K terms of size |x|·127·scale ≈ |x|·|w|max
        expectClose(got, want, { atol: 4 * EPS32 * K * 16, rtol: 1e-5, label: `matmulQ8 ${M}×${K}×${N}` });
      }
    });

    test('add, addBias, swiglu forward/backward at SIMD tails and 1e6+3 elements', () => {
      const r = rng(4);
      for (const n of [1, 3, 5, 17, 1000003]) {
        const a = normal(r, n, 3),
          b = normal(r, n, 3),
          d = normal(r, n);
        const want = new Float32Array(n),
          got = k.allocF32(n);
        ref.add(want, a, b, n);
        k.add(got, own(k, a), own(k, b), n);
        expectEqual(got, want, `add n=${n}`); // one f32 rounding either way
        ref.swigluForward(want, a, b, n);
        k.swigluForward(got, own(k, a), own(k, b), n);
        // polynomial exp (≈2 ulp) inside σ, then two products: 8 ulp
        expectClose(got, want, { atol: 1e-7, rtol: 8 * EPS32 * 4, label: `swigluForward n=${n}` });
        const wg = new Float32Array(n),
          wu = new Float32Array(n),
          gg = k.allocF32(n),
          gu = k.allocF32(n);
        ref.swigluBackward(wg, wu, d, a, b, n);
        k.swigluBackward(gg, gu, own(k, d), own(k, a), own(k, b), n);
        expectClose(gg, wg, { atol: 1e-6, rtol: 1e-5, label: `swigluBackward dgate n=${n}` });
        expectClose(gu, wu, { atol: 1e-6, rtol: 1e-5, label: `swigluBackward dup n=${n}` });
      }
      // extremes: σ saturates without NaN
      const g = Float32Array.from([-1000, -88.8, -20, 0, 20, 88.8, 1000]),
        u = new Float32Array(7).fill(1);
      const want = new Float32Array(7),
        got = k.allocF32(7);
      ref.swigluForward(want, g, u, 7);
      k.swigluForward(got, own(k, g), own(k, u), 7);
      expectClose(got, want, { atol: 1e-6, rtol: 1e-6, label: 'swiglu extremes' });
      for (const [rows, cols] of [
        [1, 1],
        [7, 13],
        [33, 64],
      ] as const) {
        const x = normal(r, rows * cols),
          bias = normal(r, cols);
        const w2 = new Float32Array(rows * cols),
          g2 = k.allocF32(rows * cols);
        ref.addBias(w2, x, bias, rows, cols);
        k.addBias(g2, own(k, x), own(k, bias), rows, cols);
        expectEqual(g2, w2, `addBias ${rows}×${cols}`);
      }
    });

    test('rmsnorm forward/backward, C in {1, 3, 17, 4096}', () => {
      const r = rng(5);
      for (const [N, C] of [
        [1, 1],
        [4, 3],
        [9, 17],
        [3, 4096],
      ] as const) {
        const x = normal(r, N * C, 2),
          w = normal(r, C),
          d = normal(r, N * C),
          dw0 = normal(r, C);
        const out = new Float32Array(N * C),
          rs = new Float32Array(N),
          go = k.allocF32(N * C),
          grs = k.allocF32(N);
        ref.rmsnormForward(out, rs, x, w, N, C, 1e-5);
        k.rmsnormForward(go, grs, own(k, x), own(k, w), N, C, 1e-5);
        expectClose(grs, rs, { atol: 0, rtol: 4 * EPS32 * Math.sqrt(C) * 4, label: `rmsnorm rstd ${N}×${C}` });
        expectClose(go, out, { atol: 1e-6, rtol: 1e-5, label: `rmsnorm out ${N}×${C}` });
        const dx = new Float32Array(N * C),
          dw = Float32Array.from(dw0),
          gdx = k.allocF32(N * C),
          gdw = own(k, dw0);
        ref.rmsnormBackward(dx, dw, d, x, w, rs, N, C);
        k.rmsnormBackward(gdx, gdw, own(k, d), own(k, x), own(k, w), own(k, rs), N, C);
        expectClose(gdx, dx, { atol: 1e-5, rtol: 1e-4, label: `rmsnorm dx ${N}×${C}` }); // f32 row dot over C
        expectClose(gdw, dw, { ...sumTol(N * 4), label: `rmsnorm dw ${N}×${C}` }); // f32 sum over N rows
      }
    });

    test('rope forward/backward, D with and without a SIMD tail, positions up to 4095', () => {
      const r = rng(6);
      for (const [N, H, D] of [
        [1, 1, 2],
        [7, 3, 10],
        [17, 4, 64],
      ] as const) {
        const t = ropeTable(500000, D, 4096);
        const x = normal(r, N * H * D),
          pos = ints(r, N, 4096);
        const want = new Float32Array(N * H * D),
          got = k.allocF32(N * H * D);
        ref.ropeForward(want, x, pos, t.cos, t.sin, N, H, D);
        k.ropeForward(got, own(k, x), own(k, pos), own(k, t.cos), own(k, t.sin), N, H, D);
        expectClose(got, want, { atol: 1e-6, rtol: 4 * EPS32, label: `ropeForward ${N}×${H}×${D}` }); // 2 products + 1 add
        ref.ropeBackward(want, x, pos, t.cos, t.sin, N, H, D);
        const gx = own(k, x);
        k.ropeBackward(gx, gx, own(k, pos), own(k, t.cos), own(k, t.sin), N, H, D); // in place
        expectClose(gx, want, { atol: 1e-6, rtol: 4 * EPS32, label: `ropeBackward in place ${N}×${H}×${D}` });
      }
    });

    test('softmax forward/backward incl. ±300, a single finite entry among −Infinity, an all −Infinity row', () => {
      const r = rng(7);
      for (const [rows, cols] of [
        [1, 1],
        [3, 5],
        [8, 1001],
      ] as const) {
        const x = uniform(r, rows * cols, -300, 300),
          dy = normal(r, rows * cols);
        if (cols > 1) {
          x.fill(-Infinity, 0, cols);
          x[2 % cols] = 5;
        }
        if (rows > 1) x.fill(-Infinity, cols, 2 * cols); // a row with nothing finite: zeros, not NaN
        const y = new Float32Array(rows * cols),
          gy = k.allocF32(rows * cols);
        ref.softmaxForward(y, x, rows, cols);
        k.softmaxForward(gy, own(k, x), rows, cols);
        expectClose(gy, y, { atol: 1e-7, rtol: 1e-5, label: `softmaxForward ${rows}×${cols}` });
        const dx = new Float32Array(rows * cols),
          gdx = k.allocF32(rows * cols);
        ref.softmaxBackward(dx, dy, y, rows, cols);
        k.softmaxBackward(gdx, own(k, dy), own(k, y), rows, cols);
        expectClose(gdx, dx, { atol: 1e-6, rtol: 1e-5, label: `softmaxBackward ${rows}×${cols}` });
      }
    });

    test('attention forward/backward: masks, GQA, padding, Tq < Tk with qStart', () => {
      const r = rng(8);
      const cases: [number, number, number, number, number, number, MaskKind, number, boolean][] = [
        // B, Tq, Tk, H, Hkv, D, mask, qStart, padded
        [1, 1, 1, 1, 1, 2, 'none', 0, false],
        [2, 7, 7, 4, 2, 8, 'none', 0, true],
        [2, 13, 13, 4, 4, 10, 'causal', 0, true],
        [1, 5, 21, 6, 2, 8, 'causal', 16, false],
        [2, 17, 17, 2, 1, 64, 'blockCausal', 0, false],
        [1, 4, 70, 4, 2, 64, 'none', 33, true],
        [2, 150, 150, 4, 2, 12, 'blockDiffusion', 0, true], // n = 75: ranges across key chunks, a partial block
        [1, 14, 14, 2, 1, 5, 'blockDiffusion', 0, false],
      ];
      for (const [B, Tq, Tk, H, Hkv, D, mask, qStart, padded] of cases) {
        let keyValid: Uint8Array | null = null;
        if (padded) {
          keyValid = new Uint8Array(B * Tk).fill(1);
          for (let b = 0; b < B; b++) keyValid.fill(0, b * Tk, b * Tk + 1 + b);
        }
        const s: AttentionShape = { B, Tq, Tk, H, Hkv, D, scale: 1 / Math.sqrt(D), mask, qStart, blockLength: 4, keyValid };
        const q = normal(r, B * Tq * H * D, 2),
          kk = normal(r, B * Tk * Hkv * D, 2),
          v = normal(r, B * Tk * Hkv * D),
          dout = normal(r, B * Tq * H * D);
        const out = new Float32Array(q.length),
          lse = new Float32Array(B * H * Tq);
        ref.attentionForward(out, lse, q, kk, v, s);
        const go = k.allocF32(q.length),
          gl = k.allocF32(B * H * Tq);
        const gs = { ...s, keyValid: keyValid ? own(k, keyValid) : null };
        k.attentionForward(go, gl, own(k, q), own(k, kk), own(k, v), gs);
        const label = `attention B${B} Tq${Tq} Tk${Tk} H${H}/${Hkv} D${D} ${mask} q0=${qStart}${padded ? ' padded' : ''}`;
        // D-term f32 dots, online-softmax rescaling and polynomial exp: 1e-5 absolute on O(1) outputs
        expectClose(go, out, { atol: 1e-5, rtol: 1e-4, label: `${label} out` });
        expectClose(gl, lse, { atol: 1e-5, rtol: 1e-5, label: `${label} lse` });
        const dq = new Float32Array(q.length),
          dk = new Float32Array(kk.length),
          dv = new Float32Array(v.length);
        ref.attentionBackward(dq, dk, dv, dout, q, kk, v, out, lse, s);
        const gq = k.allocF32(q.length),
          gk = k.allocF32(kk.length),
          gv = k.allocF32(v.length);
        k.attentionBackward(gq, gk, gv, own(k, dout), own(k, q), own(k, kk), own(k, v), own(k, out), own(k, lse), gs);
        const tol = { atol: 1e-4, rtol: 1e-3 }; // gradients sum Tk·(H/Hkv) f32 terms of products of O(1) values
        expectClose(gq, dq, { ...tol, label: `${label} dq` });
        expectClose(gk, dk, { ...tol, label: `${label} dk` });
        expectClose(gv, dv, { ...tol, label: `${label} dv` });
      }
    });

    test('cross-entropy forward/backward with ignored rows, V from 1 to 1000', () => {
      const r = rng(9);
      for (const [N, V] of [
        [1, 1],
        [5, 3],
        [9, 1000],
      ] as const) {
        const logits = normal(r, N * V, 4),
          targets = ints(r, N, V),
          weights = uniform(r, N, 0.1, 3);
        if (N > 2) {
          targets[1] = -1;
          weights[2] = 0;
        }
        const l = new Float32Array(N),
          gl = k.allocF32(N);
        ref.crossEntropyForward(l, logits, targets, weights, N, V);
        k.crossEntropyForward(gl, own(k, logits), own(k, targets), own(k, weights), N, V);
        expectClose(gl, l, { atol: 1e-5, rtol: 1e-5, label: `crossEntropyForward ${N}×${V}` });
        const d = new Float32Array(N * V),
          gd = k.allocF32(N * V);
        ref.crossEntropyBackward(d, logits, targets, weights, N, V, 0.5);
        k.crossEntropyBackward(gd, own(k, logits), own(k, targets), own(k, weights), N, V, 0.5);
        expectClose(gd, d, { atol: 1e-6, rtol: 1e-4, label: `crossEntropyBackward ${N}×${V}` });
      }
    });

    test('embedding gather and scatter-add with repeated ids (exact)', () => {
      const r = rng(10),
        Vt = 11,
        C = 70,
        N = 40;
      const table = normal(r, Vt * C),
        ids = ints(r, N, 3),
        dout = normal(r, N * C),
        base = normal(r, Vt * C);
      const out = new Float32Array(N * C),
        go = k.allocF32(N * C);
      ref.embeddingForward(out, table, ids, N, C);
      k.embeddingForward(go, own(k, table), own(k, ids), N, C);
      expectEqual(go, out, 'embeddingForward');
      const dt = Float32Array.from(base),
        gdt = own(k, base);
      ref.embeddingBackward(dt, dout, ids, N, C);
      k.embeddingBackward(gdt, own(k, dout), own(k, ids), N, C);
      expectEqual(gdt, dt, 'embeddingBackward (same summation order: rows in order)');
    });

    test('adamw: three steps match the reference', () => {
      const r = rng(11),
        n = 1000003;
      const p = normal(r, n),
        m = new Float32Array(n),
        v = new Float32Array(n);
      const gp = own(k, p),
        gm = k.allocF32(n),
        gv = k.allocF32(n);
      for (let step = 1; step <= 3; step++) {
        const g = normal(r, n);
        const o = { lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1, step };
        ref.adamwStep(p, g, m, v, n, o);
        k.adamwStep(gp, own(k, g), gm, gv, n, o);
      }
      // f32 vs f64 intermediate rounding on a handful of ops per step
      expectClose(gp, p, { atol: 1e-6, rtol: 1e-5, label: 'adamw params' });
      expectClose(gm, m, { atol: 1e-7, rtol: 1e-5, label: 'adamw m' });
      expectClose(gv, v, { atol: 1e-9, rtol: 1e-5, label: 'adamw v' });
    });

    test('f16/bf16 ↔ f32: all 65536 patterns in, random bit patterns out, bit-exact', () => {
      const all = new Uint16Array(65536).map((_, i) => i);
      const a = new Float32Array(65536),
        b = k.allocF32(65536);
      ref.f16ToF32(a, all, 65536);
      k.f16ToF32(b, own(k, all), 65536);
      expectEqual(b, a, 'f16ToF32');
      ref.bf16ToF32(a, all, 65536);
      k.bf16ToF32(b, own(k, all), 65536);
      expectEqual(b, a, 'bf16ToF32');
      const r = rng(12),
        n = 300007;
      const bits = new Uint32Array(n);
      for (let i = 0; i < n; i++) bits[i] = r.nextU32();
      const x = new Float32Array(bits.buffer);
      // also the f16 range: subnormals, ties and overflow
      const y = Float32Array.from([
        65504,
        65519.99,
        65520,
        2 ** -24,
        2 ** -25,
        3 * 2 ** -26,
        2 ** -14,
        1 + 2 ** -11,
        1 + 3 * 2 ** -11,
        -0,
        Infinity,
        -Infinity,
      ]);
      for (const src of [x, y]) {
        const want = new Uint16Array(src.length),
          got = k.allocU16(src.length);
        ref.f32ToF16(want, src, src.length);
        k.f32ToF16(got, own(k, src), src.length);
        for (let i = 0; i < src.length; i++)
          if (Number.isNaN(src[i])) {
            want[i] = 0x7e00;
            got[i] = 0x7e00;
          } // NaN payloads may differ
        expectEqual(got, want, 'f32ToF16');
        ref.f32ToBf16(want, src, src.length);
        k.f32ToBf16(got, own(k, src), src.length);
        expectEqual(got, want, 'f32ToBf16');
      }
    });

    test('shape errors are reported, not computed', () => {
      const a = k.allocF32(4);
      let msg = '';
      try {
        k.matmul(a, a, a, 3, 3, 3, false, false, 1, 0);
      } catch (e) {
        msg = (e as Error).message;
      }
      if (!/matmul: out has 4 elements, the shape needs 9/.test(msg)) throw new Error(`unexpected: "${msg}"`);
      try {
        k.embeddingForward(a, a, Int32Array.of(7), 1, 2);
        msg = '';
      } catch (e) {
        msg = (e as Error).message;
      }
      if (!/ids\[0\] = 7 is outside/.test(msg)) throw new Error(`unexpected: "${msg}"`);
    });
  });
}
