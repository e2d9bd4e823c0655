// Attention backward of the reference against central differences of its forward run in f64, for every mask
// kind, GQA, key padding (including a row that sees nothing), and a KV-cache shape (qStart > 0, Tk > Tq).
import { test } from 'node:test';
import type { AttentionShape } from '../../src/kernels/backend.js';
import { attentionForward } from '../../src/kernels/ref/attention.js';
import { createRefKernels } from '../../src/kernels/ref/index.js';
import { checkGradients } from '../helpers/finite-diff.js';
import { Rng } from '../helpers/rng.js';
import { TOL } from '../helpers/tolerances.js';

const k = createRefKernels();

function shape(over: Partial<AttentionShape>): AttentionShape {
  const s: AttentionShape = {
    B: 2,
    Tq: 3,
    Tk: 3,
    H: 2,
    Hkv: 2,
    D: 4,
    scale: 0.5,
    mask: 'none',
    qStart: 0,
    blockLength: 2,
    keyValid: null,
    ...over,
  };
  return s;
}

const CASES: [string, Partial<AttentionShape>][] = [
  ['none', {}],
  ['causal', { mask: 'causal' }],
  ['blockCausal', { mask: 'blockCausal', Tq: 5, Tk: 5 }],
  ['blockDiffusion n=4', { mask: 'blockDiffusion', Tq: 8, Tk: 8 }],
  ['GQA H=4 Hkv=2', { H: 4, Hkv: 2, mask: 'causal' }],
  ['GQA H=3 Hkv=1', { H: 3, Hkv: 1 }],
  // batch 0: key 0 padded, so with causal its query row 0 sees no key; batch 1: last key padded
  ['padding + causal', { mask: 'causal', keyValid: Uint8Array.of(0, 1, 1, 1, 1, 0) }],
  ['qStart=2 Tq=2 Tk=5 causal', { mask: 'causal', Tq: 2, Tk: 5, qStart: 2, H: 4, Hkv: 2 }],
  [
    'qStart=1 Tq=3 Tk=6 blockCausal',
    { mask: 'blockCausal', Tq: 3, Tk: 6, qStart: 1, keyValid: Uint8Array.of(1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1, 1) },
  ],
];

for (const [name, over] of CASES) {
  test(`attention backward: ${name}`, () => {
    const rng = new Rng(31);
    const s = shape(over);
    const nq = s.B * s.Tq * s.H * s.D,
      nk = s.B * s.Tk * s.Hkv * s.D;
    const q = rng.normal(nq),
      kk = rng.normal(nk),
      v = rng.normal(nk); // q (B, Tq, H, D); k, v (B, Tk, Hkv, D)
    checkGradients(
      {
        label: `attention ${name}`,
        inputs: { q, k: kk, v },
        forward: (x) => {
          const out = new Float64Array(nq),
            lse = new Float64Array(s.B * s.H * s.Tq);
          attentionForward(out, lse, x.q!, x.k!, x.v!, s);
          return out;
        },
        backward: (dout) => {
          const out = new Float32Array(nq),
            lse = new Float32Array(s.B * s.H * s.Tq); // (B, H, Tq)
          k.attentionForward(out, lse, q, kk, v, s);
          const dq = new Float32Array(nq).fill(Number.NaN),
            dk = new Float32Array(nk).fill(Number.NaN); // overwritten
          const dv = new Float32Array(nk).fill(Number.NaN);
          k.attentionBackward(dq, dk, dv, dout, q, kk, v, out, lse, s);
          return { q: dq, k: dk, v: dv };
        },
      },
      rng,
      TOL.finiteDiff,
    );
  });
}
