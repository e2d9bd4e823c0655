// LLaDA's Monte-Carlo ELBO estimator (get_log_likelihood.py, dllm-reference.md §1.4) against exact
// enumeration on a tiny denoiser with V = 3 and L = 4. The estimator's expectation over k ~ U{1..L} and
// uniformly random k-subsets is E_k[(L/k) Σ_{|M|=k} Σ_{i∈M} −log p(x_i | x with M masked) / C(L, k)];
// enumerating every subset gives that value exactly, and the MC average must land within a few standard
// errors of it. The stratified batch rows are what LLaDA does; they share the same expectation.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diffusionNll, documentWindows, nll } from '../../src/eval/likelihood.js';
import { DecodeRng } from '../../src/sampler/rng.js';
import type { DenoiseInput, Denoiser } from '../../src/sampler/types.js';

const V = 4,
  MASK = 3,
  L = 4; // tokens 0..2, [MASK] = 3

/** logits depend on the position and on which tokens are visible, so every subset scores differently */
const model: Denoiser = {
  vocabSize: V,
  specials: { mask: MASK, eos: null, eot: null, pad: null },
  async denoise(inp: DenoiseInput) {
    const out = new Float32Array(inp.B * inp.T * V);
    for (let b = 0; b < inp.B; b++) {
      let h = 7;
      for (let i = 0; i < inp.T; i++) h = (h * 31 + inp.tokens[b * inp.T + i]! * (i + 1)) % 101;
      for (let i = 0; i < inp.T; i++)
        for (let v = 0; v < V; v++) out[(b * inp.T + i) * V + v] = v === MASK ? -30 : Math.sin(h + 3 * i + 5 * v) * 2;
    }
    return out;
  },
};

async function exact(x: Int32Array): Promise<number> {
  let total = 0;
  for (let k = 1; k <= L; k++) {
    let sum = 0,
      count = 0;
    for (let m = 0; m < 1 << L; m++) {
      const pos = [...Array(L).keys()].filter((i) => (m >> i) & 1);
      if (pos.length !== k) continue;
      const t = x.slice();
      for (const p of pos) t[p] = MASK;
      const logits = await model.denoise({ tokens: t, B: 1, T: L });
      let s = 0;
      for (const p of pos) s += nll(logits, p * V, V, x[p]!);
      sum += (s * L) / k;
      count++;
    }
    total += sum / count / L; // k ~ U{1..L}
  }
  return total;
}

test('the MC ELBO estimate matches exact enumeration (V = 3, L = 4)', async () => {
  const x = Int32Array.of(2, 0, 1, 2);
  const want = await exact(x);
  // many independent estimates → mean and its standard error
  const rng = new DecodeRng(11),
    est: number[] = [];
  for (let i = 0; i < 400; i++) est.push(await diffusionNll(model, x, 1, 4, rng));
  const mean = est.reduce((a, b) => a + b, 0) / est.length;
  const se = Math.sqrt(est.reduce((a, b) => a + (b - mean) ** 2, 0) / (est.length - 1) / est.length);
  assert.ok(
    Math.abs(mean - want) < 4 * se + 1e-9,
    `MC ${mean.toFixed(4)} vs exact ${want.toFixed(4)} (4 standard errors = ${(4 * se).toFixed(4)})`,
  );
  assert.ok(se < 0.05 * want, `the estimate is tight enough to mean something: se ${se} vs ${want}`);
});

test('stratified rows: b rows of one batch cover every mask count once when b = L', async () => {
  const seen: number[] = [];
  const spy: Denoiser = {
    ...model,
    async denoise(inp) {
      for (let b = 0; b < inp.B; b++)
        seen.push(Array.from(inp.tokens.subarray(b * inp.T, (b + 1) * inp.T)).filter((t) => t === MASK).length);
      return model.denoise(inp);
    },
  };
  await diffusionNll(spy, Int32Array.of(0, 1, 2, 0), 1, L, new DecodeRng(3));
  assert.deepEqual(seen.slice().sort(), [1, 2, 3, 4]);
});

test('documentWindows: every token of every document scored once, after the separator, in chained windows', () => {
  const docs = [Int32Array.from([5, 6, 7, 8, 9, 10, 11]), Int32Array.from([12]), Int32Array.from([13, 14, 15])];
  for (const Lw of [1, 2, 3, 8]) {
    const ws = documentWindows(docs, 0, Lw, Infinity);
    const scored: number[] = [];
    for (const w of ws) {
      assert.ok(w.length >= 2 && w.length <= Lw + 1, `L ${Lw}: a window of ${w.length} tokens`);
      scored.push(...w.subarray(1));
    }
    assert.deepEqual(scored, [5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15], `L ${Lw}: the scored tokens are the documents'`);
    // a document's first window starts at the separator (0, no document token), a later one at the last token before it
    assert.equal(ws.filter((w) => w[0] === 0).length, docs.length, `L ${Lw}: one separator per document`);
    ws.forEach((w, i) => {
      if (w[0] !== 0) assert.equal(w[0], ws[i - 1]![ws[i - 1]!.length - 1], `L ${Lw}: window ${i} does not chain`);
    });
  }
  assert.equal(
    documentWindows(docs, 0, 4, 1).reduce((s, w) => s + w.length - 1, 0),
    7,
    'maxDocs 1 scores the first document only',
  );
});
