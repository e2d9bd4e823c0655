// The joint_threshold decoder (LLaDA2.1 token editing, src/sampler/edit.ts) against a plain transcription of
// SGLang's JointThreshold loop over the fake denoiser — per absolute block, block-causal, until the block is
// finished: forward the canvas; x̂ = argmax and p its probability at every block position; M2T: masks with
// p > τ, else the most confident mask; with no mask left count a post-edit step and finish past the budget;
// T2T: generated (not prompt) positions with p > τ_edit whose token differs from x̂; finish when neither
// changes anything — token for token, forward for forward, edit for edit; and the option checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { drain, generate, parseDecodeOptions } from '../../src/sampler/index.js';
import { fakeDenoiser, SPEC } from './fake.js';

interface Ref {
  canvas: number[];
  nfe: number;
  edits: number; // T2T changes over the run inside the returned span (a DecodeStep reports no others)
  earlyEnds: number; // blocks that finished because a step changed nothing (not by the post-edit budget)
}

async function reference(prompt: Int32Array, G: number, L: number, tau: number, editTau: number, maxPost: number): Promise<Ref> {
  const model = fakeDenoiser(),
    V = SPEC.V,
    P = prompt.length;
  const end = Math.ceil((P + G) / L) * L;
  const x = new Int32Array(end).fill(SPEC.mask);
  x.set(prompt);
  let nfe = 0,
    edits = 0,
    earlyEnds = 0;
  for (let b = Math.floor(P / L) * L; b < end; b += L) {
    const promptMask = Array.from({ length: L }, (_, i) => x[b + i] !== SPEC.mask);
    let post = 0;
    for (;;) {
      const logits = await model.denoise({ tokens: x, B: 1, T: end, region: { start: b, end: b + L, blockStart: false }, blockCausal: L });
      nfe++;
      const best = Array.from({ length: L }, (_, i) => {
        const row = logits.subarray(i * V, (i + 1) * V);
        let arg = 0;
        for (let v = 1; v < V; v++) if (v !== SPEC.mask && row[v]! > row[arg]!) arg = v;
        let z = 0;
        for (let v = 0; v < V; v++) if (v !== SPEC.mask) z += Math.exp(row[v]! - row[arg]!);
        return { token: arg, p: 1 / z };
      });
      const isMask = Array.from({ length: L }, (_, i) => x[b + i] === SPEC.mask);
      const transfer = new Array<boolean>(L).fill(false);
      if (isMask.some(Boolean)) {
        let top = -1;
        for (let i = 0; i < L; i++) {
          if (!isMask[i]) continue;
          if (best[i]!.p > tau) transfer[i] = true;
          if (top < 0 || best[i]!.p > best[top]!.p) top = i;
        }
        if (!transfer.some(Boolean)) transfer[top] = true;
      } else if (++post > maxPost) break;
      let edited = 0;
      for (let i = 0; i < L; i++)
        if (!isMask[i] && !promptMask[i] && best[i]!.p > editTau && x[b + i] !== best[i]!.token) {
          transfer[i] = true;
          if (b + i < P + G) edited++;
        }
      if (!transfer.some(Boolean)) {
        earlyEnds++;
        break;
      }
      for (let i = 0; i < L; i++) if (transfer[i]) x[b + i] = best[i]!.token;
      edits += edited;
    }
  }
  return { canvas: Array.from(x.subarray(P, P + G)), nfe, edits, earlyEnds };
}

test('joint_threshold decodes as SGLang JointThreshold (token for token, same NFE, same edits)', async () => {
  let edits = 0,
    earlyEnds = 0;
  for (const [P, G, L, tau, editTau, maxPost] of [
    [8, 16, 8, 0.5, 0, 16],
    [5, 16, 8, 0.7, 0.9, 4],
    [13, 24, 8, 0.5, 0.6, 2],
    [3, 16, 16, 0.9, 0.95, 16],
    [6, 8, 4, 0.4, 0.8, 0],
  ] as const) {
    const prompt = Int32Array.from({ length: P }, (_, i) => 1 + ((i * 7) % 20));
    const want = await reference(prompt, G, L, tau, editTau, maxPost);
    const o = {
      decoder: 'joint_threshold',
      genLength: G,
      blockLength: L,
      threshold: tau,
      editThreshold: editTau,
      maxPostEditSteps: maxPost,
      blockCausal: true,
    } as const;
    const got = await drain(generate(fakeDenoiser(), { prompt }, o));
    const where = `P ${P}, G ${G}, L ${L}, τ ${tau}, τ_edit ${editTau}, post-edit budget ${maxPost}`;
    assert.deepEqual(Array.from(got.result.canvas), want.canvas, `${where}: canvas`);
    assert.equal(got.result.nfe, want.nfe, `${where}: NFE`);
    // edits are the commits at positions that already held a generated token
    const flagged = got.steps.reduce((s, st) => s + st.committed.filter((c) => c.edit).length, 0);
    assert.equal(flagged, want.edits, `${where}: T2T edits`);
    edits += want.edits;
    earlyEnds += want.earlyEnds;
  }
  assert.ok(edits > 0, 'the cases edit tokens');
  assert.ok(earlyEnds > 0, 'some block ends because a step changes nothing, before its post-edit budget');
});

test('joint_threshold: τ 0.5 by default (JointThreshold), argmax only, no sub-blocks; editThreshold and the budget checked', () => {
  const o = parseDecodeOptions({ decoder: 'joint_threshold', genLength: 16, blockLength: 8 });
  assert.equal(o.threshold, 0.5);
  assert.equal(o.editThreshold, 0);
  assert.equal(o.maxPostEditSteps, 16);
  assert.equal(parseDecodeOptions({ decoder: 'threshold' }).threshold, 0.9, "the other decoders keep Fast-dLLM's τ");
  assert.equal(parseDecodeOptions({ decoder: 'joint_threshold', threshold: 0.8 }).threshold, 0.8, 'a τ given wins');
  assert.throws(
    () => parseDecodeOptions({ decoder: 'joint_threshold', temperature: 0.5 }),
    /"temperature" must be 0 for "joint_threshold"/,
  );
  assert.throws(() => parseDecodeOptions({ decoder: 'joint_threshold', remasking: 'random' }), /"remasking" must be low_confidence/);
  assert.throws(
    () => parseDecodeOptions({ decoder: 'joint_threshold', genLength: 16, blockLength: 8, subBlockLength: 4 }),
    /"subBlockLength" is not for "joint_threshold"/,
  );
  assert.throws(() => parseDecodeOptions({ decoder: 'joint_threshold', editThreshold: 1 }), /"editThreshold" must be in \[0, 1\)/);
  assert.throws(
    () => parseDecodeOptions({ decoder: 'joint_threshold', maxPostEditSteps: -1 }),
    /"maxPostEditSteps" must be an integer ≥ 0/,
  );
});
