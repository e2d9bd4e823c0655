// AR decoding with a fake CausalModel (fake.ts fakeCausal): greedy chain, EOS stop, length stop, seeds,
// top-k / top-p, and the sampling distribution of sampleNext.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { arGenerate, sampleNext } from '../../src/sampler/ar.js';
import { drain } from '../../src/sampler/drain.js';
import { DecodeRng } from '../../src/sampler/rng.js';
import { fakeCausal, SPEC } from './fake.js';

const PROMPT = [3, 7, 1];

async function greedyByHand(eosAfter: number, n: number): Promise<number[]> {
  const st = fakeCausal({ eosAfter }).newState();
  const out: number[] = [];
  let logits = await st.append(Int32Array.from(PROMPT));
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let v = 1; v < logits.length; v++) if (logits[v]! > logits[best]!) best = v;
    if (best === SPEC.eos || best === SPEC.eot) break;
    out.push(best);
    logits = await st.append(Int32Array.of(best));
  }
  return out;
}

test('greedy AR decoding follows the argmax chain and stops at EOS', async () => {
  const model = fakeCausal({ eosAfter: PROMPT.length + 6 });
  const { steps, result } = await drain(arGenerate(model, { prompt: PROMPT }, { genLength: 20 }));
  assert.deepEqual(Array.from(result.ids), await greedyByHand(PROMPT.length + 6, 20));
  assert.equal(result.finishReason, 'stop');
  assert.ok(result.ids.length <= 6);
  assert.equal(result.canvas.at(-1), SPEC.eos);
  assert.equal(result.nfe, model.calls);
  assert.equal(result.nfe, result.ids.length + 1);
  assert.equal(result.tokensPerForward, result.ids.length / result.nfe);
  assert.deepEqual(
    steps.map((s) => s.committed[0]!.position),
    steps.map((_, i) => i),
  );
  assert.ok(steps.at(-1)!.finished);
});

test('AR decoding stops after genLength tokens with finishReason length', async () => {
  const model = fakeCausal();
  const { result } = await drain(arGenerate(model, { prompt: PROMPT }, { genLength: 7 }));
  assert.equal(result.finishReason, 'length');
  assert.equal(result.ids.length, 7);
  assert.equal(result.nfe, 7); // the prompt call and 6 appends: the last token needs no forward
});

test('AR sampling: same seed → same output, another seed differs; top-k 1 and tiny top-p are greedy', async () => {
  const run = async (o: object) =>
    Array.from((await drain(arGenerate(fakeCausal(), { prompt: PROMPT }, { genLength: 24, ...o }))).result.ids);
  assert.deepEqual(await run({ temperature: 1, seed: 3 }), await run({ temperature: 1, seed: 3 }));
  assert.notDeepEqual(await run({ temperature: 1, seed: 3 }), await run({ temperature: 1, seed: 4 }));
  const greedy = await run({});
  assert.deepEqual(await run({ temperature: 2, topK: 1, seed: 1 }), greedy);
  assert.deepEqual(await run({ temperature: 2, topP: 1e-9, seed: 1 }), greedy);
});

test('sampleNext draws from softmax(l/τ) restricted by top-k and top-p', () => {
  const logits = Float32Array.of(2, 1, 0, -1, 0.5);
  const rng = new DecodeRng(7);
  const count = (o: { temperature: number; topK: number; topP: number }, n = 20000) => {
    const c = new Array(5).fill(0);
    for (let i = 0; i < n; i++) c[sampleNext(logits, o, rng).token]++;
    return c.map((x) => x / n);
  };
  const p = [2, 1, 0, -1, 0.5].map((l) => Math.exp(l / 0.5));
  const z = p.reduce((a, b) => a + b);
  count({ temperature: 0.5, topK: 0, topP: 1 }).forEach((f, v) =>
    assert.ok(Math.abs(f - p[v]! / z) < 0.015, `token ${v}: ${f} vs ${p[v]! / z}`),
  );
  const k2 = count({ temperature: 1, topK: 2, topP: 1 });
  assert.equal(k2[2]! + k2[3]! + k2[4]!, 0);
  assert.ok(Math.abs(k2[0]! - Math.E / (Math.E + 1)) < 0.015);
  const nucleus = count({ temperature: 1, topK: 0, topP: 0.6 }); // p(token 0) = 0.563 < 0.6: tokens 0 and 1 survive
  assert.equal(nucleus[2]! + nucleus[3]! + nucleus[4]!, 0);
  assert.ok(Math.abs(nucleus[1]! - 0.2071 / 0.7701) < 0.015);
  assert.equal(count({ temperature: 1, topK: 0, topP: 0.5 }, 2000)[0], 1); // 0.563 ≥ 0.5: token 0 alone
  const g = sampleNext(logits, { temperature: 0, topK: 0, topP: 1 }, rng);
  assert.equal(g.token, 0);
});

test('AR decoding refuses an empty prompt', async () => {
  await assert.rejects(drain(arGenerate(fakeCausal(), { prompt: [] }, {})), /prompt is empty/);
});
