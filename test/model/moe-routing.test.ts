// Each routing rule of the two MoE families on hand-made scores where the rule decides the outcome, and the
// MoE compute on the reference kernels: one SwiGLU per active expert over exactly its tokens (idle experts'
// weights never read), equal to a naive per-token sum over the chosen experts, on odd shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { MoeConfig } from '../../src/model/config.js';
import { expertBatches, moeForward, MoeScratch, route, routeSigmoidGroup, routeSoftmax } from '../../src/model/moe.js';
import { ref } from '../helpers/kernels.js';
import { expectClose } from '../helpers/expect-close.js';
import { normal, rng } from '../helpers/random.js';

const sorted = (x: Int32Array) => [...x].sort((a, b) => a - b);
const softmax = (x: number[]) => {
  const m = Math.max(...x),
    e = x.map((v) => Math.exp(v - m)),
    s = e.reduce((a, b) => a + b);
  return e.map((v) => v / s);
};
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

test('LLaDA-MoE router: softmax over all experts, top-k, weights are those probabilities (not renormalised)', () => {
  const logits = Float32Array.from([2, 1, 0.5, -1]);
  const r = routeSoftmax(logits, null, 1, 4, 2);
  const p = softmax([2, 1, 0.5, -1]);
  assert.deepEqual([...r.experts], [0, 1]);
  expectClose(r.weights, [p[0]!, p[1]!], { atol: 1e-7, rtol: 0, label: 'weights = softmax probabilities' });
  assert.ok(r.weights[0]! + r.weights[1]! < 0.95, 'the two weights do not sum to 1');
});

test('LLaDA-MoE router: the expert bias is added to the probabilities, and changes both the choice and the weight', () => {
  const logits = Float32Array.from([2, 1, 0.5, -1]);
  const bias = Float32Array.from([0, 0, 0.3, 0]);
  const r = routeSoftmax(logits, bias, 1, 4, 2);
  const p = softmax([2, 1, 0.5, -1]);
  assert.deepEqual([...r.experts], [0, 2], 'expert 2 displaces expert 1 only through its bias');
  expectClose(r.weights, [p[0]!, p[2]! + 0.3], { atol: 1e-7, rtol: 0, label: 'weights include the bias' });
});

test('LLaDA2 router: sigmoid scores, the bias chooses but never weighs; weights renormalised × routed_scaling_factor', () => {
  const logits = Float32Array.from([1, 0.8, 0.2, -0.5]);
  const bias = Float32Array.from([0, 0, 0.5, 0]);
  const r = routeSigmoidGroup(logits, bias, 1, 4, 2, 1, 1, 2.5);
  assert.deepEqual([...r.experts], [2, 0], 'expert 2 chosen through its bias');
  const s2 = sigmoid(0.2),
    s0 = sigmoid(1);
  expectClose(r.weights, [(2.5 * s2) / (s2 + s0), (2.5 * s0) / (s2 + s0)], {
    atol: 1e-6,
    rtol: 0,
    label: 'unbiased, renormalised, scaled',
  });
  const one = routeSigmoidGroup(logits, null, 1, 4, 1, 1, 1, 2.5);
  expectClose(one.weights, [2.5 * sigmoid(1)], { atol: 1e-6, rtol: 0, label: 'top_k 1: no renormalisation' });
});

test('LLaDA2 router: groups are scored by the sum of their best two experts; only topk_group groups may be chosen', () => {
  // group 0 = experts 0-2 holds the single best expert (0.99) but a weak second; group 1 = 3-5 has two good ones
  const p = [0.99, 0.1, 0.05, 0.8, 0.75, 0.1];
  const logits = Float32Array.from(p.map((x) => Math.log(x / (1 - x)))); // sigmoid⁻¹
  const grouped = routeSigmoidGroup(logits, null, 1, 6, 2, 2, 1, 1);
  assert.deepEqual(sorted(grouped.experts), [3, 4], 'group 1 (0.8 + 0.75) beats group 0 (0.99 + 0.1)');
  const ungrouped = routeSigmoidGroup(logits, null, 1, 6, 2, 1, 1, 1);
  assert.deepEqual(sorted(ungrouped.experts), [0, 3], 'without the group limit expert 0 would win');
});

test("expertBatches: every (token, slot) once, each expert's rows contiguous", () => {
  const r = { experts: Int32Array.from([2, 0, 2, 1, 0, 2]), weights: new Float32Array(6) }; // N 3, K 2
  const { start, token, slot } = expertBatches(r, 3, 2, 4);
  assert.deepEqual([...start], [0, 2, 3, 6, 6]);
  for (let e = 0; e < 4; e++) for (let i = start[e]!; i < start[e + 1]!; i++) assert.equal(r.experts[slot[i]!], e);
  assert.deepEqual(sorted(slot), [0, 1, 2, 3, 4, 5]);
  assert.deepEqual([...token], [0, 2, 1, 0, 1, 2]);
});

for (const router of ['softmax', 'sigmoidGroup'] as const) {
  test(`moeForward (${router}): one GEMM triple per active expert over its rows, equal to a per-token sum (odd shapes)`, () => {
    const N = 7,
      C = 5,
      E = 6,
      Fe = 3,
      Fs = 4,
      R = rng(router === 'softmax' ? 11 : 12);
    const m: MoeConfig = {
      numExperts: E,
      topK: 2,
      expertFfn: Fe,
      sharedFfn: Fs,
      router,
      expertBias: true,
      groups: router === 'softmax' ? 1 : 3,
      topGroups: router === 'softmax' ? 1 : 2,
      scaling: router === 'softmax' ? 1 : 1.7,
      moeLayers: [true],
    };
    const w = new Map<string, Float32Array>([['router', normal(R, E * C)]]);
    for (const p of [...Array.from({ length: E }, (_, e) => `experts.${e}.`), 'shared.']) {
      const F = p === 'shared.' ? Fs : Fe;
      w.set(p + 'wGate', normal(R, F * C))
        .set(p + 'wUp', normal(R, F * C))
        .set(p + 'wDown', normal(R, C * F));
    }
    const h = normal(R, N * C),
      bias = normal(R, E, 0.1);
    const calls: { name: string; M: number }[] = [];
    const linear = (out: Float32Array, x: Float32Array, name: string, M: number, K: number, O: number) => {
      calls.push({ name, M });
      ref.matmul(out, x, w.get(name)!, M, K, O, false, true, 1, 0);
    };
    const out = new Float32Array(N * C),
      s = new MoeScratch(ref, N, C, m);
    moeForward(ref, linear, m, s, out, h, '', bias, N, C);
    // the choice, from the same router logits
    const logits = new Float32Array(N * E);
    ref.matmul(logits, h, w.get('router')!, N, C, E, false, true, 1, 0);
    const r = route(m, logits, bias, N);
    const active = new Set(r.experts);
    const expertCalls = calls.filter((c) => c.name.startsWith('experts.'));
    assert.equal(expertCalls.length, 3 * active.size, 'gate, up, down once per active expert');
    for (let e = 0; e < E; e++) {
      const rows = [...r.experts].filter((x) => x === e).length;
      for (const c of expertCalls.filter((c) => c.name.startsWith(`experts.${e}.`)))
        assert.equal(c.M, rows, `expert ${e} sees its ${rows} rows only`);
    }
    // naive: each token through each of its experts, weighted, plus the shared expert
    const mlp = (p: string, x: Float32Array, F: number) => {
      const g = new Float32Array(F),
        u = new Float32Array(F),
        y = new Float32Array(C);
      ref.matmul(g, x, w.get(p + 'wGate')!, 1, C, F, false, true, 1, 0);
      ref.matmul(u, x, w.get(p + 'wUp')!, 1, C, F, false, true, 1, 0);
      ref.swigluForward(g, g, u, F);
      ref.matmul(y, g, w.get(p + 'wDown')!, 1, F, C, false, true, 1, 0);
      return y;
    };
    const want = new Float32Array(N * C);
    for (let n = 0; n < N; n++) {
      const x = h.subarray(n * C, (n + 1) * C);
      for (let k = 0; k < 2; k++) {
        const y = mlp(`experts.${r.experts[n * 2 + k]}.`, x, Fe);
        for (let c = 0; c < C; c++) want[n * C + c]! += r.weights[n * 2 + k]! * y[c]!;
      }
      const y = mlp('shared.', x, Fs);
      for (let c = 0; c < C; c++) want[n * C + c]! += y[c]!;
    }
    expectClose(out, want, { atol: 1e-5, rtol: 1e-5, label: `${router} moe vs per-token sum` });
    s.free();
  });
}
