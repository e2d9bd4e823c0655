// Parity cases for attention (every mask, GQA, padding, KV-cache shapes), cross-entropy, embeddings and
// AdamW. Attention inputs are unit normal with scale = 1/√D, the regime TOL.attention* is reasoned for.
import { test } from 'node:test';
import type { AttentionShape, Kernels } from '../../src/kernels/backend.js';
import { expectClose, expectEqual } from '../helpers/expect-close.js';
import { Rng } from '../helpers/rng.js';
import { TOL } from '../helpers/tolerances.js';
import { ELEMENTWISE_N, maxAbs, withOwned } from './parity-harness.js';

function shape(o: Partial<AttentionShape> & Pick<AttentionShape, 'B' | 'Tq' | 'Tk' | 'H' | 'Hkv' | 'D'>): AttentionShape {
  return { scale: 1 / Math.sqrt(o.D), mask: 'none', qStart: 0, blockLength: 1, keyValid: null, ...o };
}

/** keyValid (B, Tk) with `padded` keys off at the given end of batch entry b */
function padding(B: number, Tk: number, pads: [b: number, from: number, to: number][]): Uint8Array {
  const valid = new Uint8Array(B * Tk).fill(1);
  for (const [b, from, to] of pads) valid.fill(0, b * Tk + from, b * Tk + to);
  return valid;
}

const ATTENTION: [string, AttentionShape][] = [
  ['1 token', shape({ B: 1, Tq: 1, Tk: 1, H: 1, Hkv: 1, D: 8 })],
  ['causal', shape({ B: 2, Tq: 17, Tk: 17, H: 4, Hkv: 4, D: 8, mask: 'causal' })],
  ['blockCausal GQA D=64 T=70', shape({ B: 1, Tq: 70, Tk: 70, H: 4, Hkv: 2, D: 64, mask: 'blockCausal', blockLength: 16 })],
  ['none GQA 3:1, padding', shape({ B: 2, Tq: 13, Tk: 13, H: 3, Hkv: 1, D: 64, keyValid: padding(2, 13, [[1, 9, 13]]) })],
  // batch 0's first 3 keys are padding: with the causal mask its query rows 0..2 see no key at all
  [
    'causal, rows that see nothing',
    shape({ B: 2, Tq: 9, Tk: 9, H: 2, Hkv: 1, D: 8, mask: 'causal', keyValid: padding(2, 9, [[0, 0, 3]]) }),
  ],
  ['KV cache: causal qStart=28 Tq=5 Tk=33', shape({ B: 2, Tq: 5, Tk: 33, H: 6, Hkv: 2, D: 64, mask: 'causal', qStart: 28 })],
  [
    'KV cache: blockCausal qStart=28 Tq=12 Tk=40',
    shape({
      B: 1,
      Tq: 12,
      Tk: 40,
      H: 2,
      Hkv: 2,
      D: 8,
      mask: 'blockCausal',
      blockLength: 4,
      qStart: 28,
      keyValid: padding(1, 40, [[0, 38, 40]]),
    }),
  ],
  ['none Tq=3 Tk=70', shape({ B: 1, Tq: 3, Tk: 70, H: 8, Hkv: 2, D: 64 })],
  // training's [x_t ⊕ x_0] (n = 75, a partial last block; n > KEY_CHUNK so a range spans chunks)
  ['blockDiffusion n=75 L=8 GQA', shape({ B: 2, Tq: 150, Tk: 150, H: 4, Hkv: 2, D: 12, mask: 'blockDiffusion', blockLength: 8 })],
  ['blockDiffusion n=5 L=1', shape({ B: 1, Tq: 10, Tk: 10, H: 1, Hkv: 1, D: 5, mask: 'blockDiffusion', blockLength: 1 })],
];

export function registerSequenceCases(kernels: () => Kernels, ref: Kernels, label: string): void {
  for (const [name, s] of ATTENTION) {
    test(`${label}: attention forward and backward, ${name}`, () => {
      const k = kernels(),
        rng = new Rng(201);
      const { B, Tq, Tk, H, Hkv, D } = s;
      const nq = B * Tq * H * D,
        nk = B * Tk * Hkv * D,
        nl = B * H * Tq;
      const q = rng.normal(nq),
        kk = rng.normal(nk),
        v = rng.normal(nk),
        dout = rng.normal(nq); // q (B, Tq, H, D); k, v (B, Tk, Hkv, D)
      const out = new Float32Array(nq),
        lse = new Float32Array(nl); // lse (B, H, Tq)
      const dq = new Float32Array(nq),
        dk = new Float32Array(nk),
        dv = new Float32Array(nk);
      ref.attentionForward(out, lse, q, kk, v, s);
      ref.attentionBackward(dq, dk, dv, dout, q, kk, v, out, lse, s);
      const got = withOwned(k, (o) => {
        const gs = { ...s, keyValid: s.keyValid && o.u8(s.keyValid) };
        const gOut = o.f32(nq),
          gLse = o.f32(nl),
          oq = o.f32(q),
          ok = o.f32(kk),
          ov = o.f32(v);
        k.attentionForward(gOut, gLse, oq, ok, ov, gs);
        const gdq = o.f32(nq).fill(Number.NaN),
          gdk = o.f32(nk).fill(Number.NaN),
          gdv = o.f32(nk).fill(Number.NaN); // overwritten
        k.attentionBackward(gdq, gdk, gdv, o.f32(dout), oq, ok, ov, o.f32(out), o.f32(lse), gs); // the ref's out, lse
        return { out: gOut.slice(), lse: gLse.slice(), dq: gdq.slice(), dk: gdk.slice(), dv: gdv.slice() };
      });
      const fwd = TOL.attentionForward(D, Tk),
        rows = Tq * (H / Hkv);
      expectClose(got.out, out, { ...fwd, label: `${label} attention ${name} out` });
      expectClose(got.lse, lse, { ...fwd, label: `${label} attention ${name} lse` });
      expectClose(got.dq, dq, { ...TOL.attentionBackward(D, Tk, maxAbs(dq)), label: `${label} attention ${name} dq` });
      expectClose(got.dk, dk, { ...TOL.attentionBackward(D, rows, maxAbs(dk)), label: `${label} attention ${name} dk` });
      expectClose(got.dv, dv, { ...TOL.attentionBackward(D, rows, maxAbs(dv)), label: `${label} attention ${name} dv` });
    });
  }

  test(`${label}: cross-entropy, V from 1 to 1000, ignored rows, logits up to ±300`, () => {
    const k = kernels(),
      rng = new Rng(202);
    for (const V of [1, 2, 17, 129, 1000]) {
      const N = 9,
        scale = 1 / N;
      const logits = rng.normal(N * V, 3),
        targets = rng.ints(N, 0, V),
        weights = rng.uniform(N, 0.5, 2); // logits (N, V)
      logits.set(rng.uniform(V, -300, 300), 0); // row 0: large logits
      targets[1] = -100; // ignored by target
      weights[2] = 0; // ignored by weight
      logits.fill(Number.NaN, 2 * V, 3 * V); // …whatever its logits hold
      const losses = new Float32Array(N),
        d = new Float32Array(N * V);
      ref.crossEntropyForward(losses, logits, targets, weights, N, V);
      ref.crossEntropyBackward(d, logits, targets, weights, N, V, scale);
      const got = withOwned(k, (o) => {
        const gl = o.f32(N).fill(Number.NaN),
          gd = o.f32(N * V).fill(Number.NaN),
          ol = o.f32(logits),
          ot = o.i32(targets),
          ow = o.f32(weights);
        k.crossEntropyForward(gl, ol, ot, ow, N, V);
        k.crossEntropyBackward(gd, ol, ot, ow, N, V, scale);
        return { losses: gl.slice(), d: gd.slice() };
      });
      expectClose(got.losses, losses, {
        ...TOL.crossEntropyForward(V, maxAbs(weights) * (1 + maxAbs(logits))),
        label: `${label} crossEntropyForward V=${V}`,
      });
      expectClose(got.d, d, {
        ...TOL.crossEntropyBackward(V, scale * maxAbs(weights), maxAbs(logits)),
        label: `${label} crossEntropyBackward V=${V}`,
      });
    }
  });

  test(`${label}: embedding gather and scatter-add with repeated ids are exact`, () => {
    const k = kernels(),
      rng = new Rng(203);
    for (const [N, vocab, C] of [
      [1, 1, 1],
      [37, 11, 3],
      [50, 7, 64],
      [20, 300, 1000],
    ]) {
      const ids = rng.ints(N, 0, vocab),
        table = rng.normal(vocab * C),
        dout = rng.normal(N * C),
        dtable0 = rng.normal(vocab * C);
      const out = new Float32Array(N * C),
        dtable = dtable0.slice();
      ref.embeddingForward(out, table, ids, N, C);
      ref.embeddingBackward(dtable, dout, ids, N, C);
      const got = withOwned(k, (o) => {
        const gOut = o.f32(N * C),
          gdt = o.f32(dtable0),
          oi = o.i32(ids);
        k.embeddingForward(gOut, o.f32(table), oi, N, C);
        k.embeddingBackward(gdt, o.f32(dout), oi, N, C);
        return { out: gOut.slice(), dtable: gdt.slice() };
      });
      expectEqual(got.out, out, `${label} embeddingForward ${N}×${C}`);
      expectEqual(got.dtable, dtable, `${label} embeddingBackward ${N}×${C} vocab ${vocab}`);
    }
  });

  test(`${label}: adamw, two steps`, () => {
    const k = kernels(),
      rng = new Rng(204);
    const o = { lr: 1e-3, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1 };
    for (const n of ELEMENTWISE_N) {
      const p = rng.normal(n),
        m = new Float32Array(n),
        v = new Float32Array(n),
        grads = [rng.normal(n, 0.1), rng.normal(n, 0.1)];
      withOwned(k, (b) => {
        const gp = b.f32(p),
          gm = b.f32(m),
          gv = b.f32(v);
        grads.forEach((g, i) => {
          const step = i + 1,
            mPrev = maxAbs(m),
            vPrev = maxAbs(v);
          ref.adamwStep(p, g, m, v, n, { ...o, step });
          k.adamwStep(gp, b.f32(g), gm, gv, n, { ...o, step });
          const name = `${label} adamw n=${n} step ${step}`;
          expectClose(gp, p, { ...TOL.adamw(maxAbs(p) + o.lr), label: `${name} param` });
          expectClose(gm, m, { ...TOL.adamw(mPrev + maxAbs(g)), label: `${name} m` });
          expectClose(gv, v, { ...TOL.adamw(vPrev + maxAbs(g) ** 2), label: `${name} v` });
        });
      });
    }
  });
}
