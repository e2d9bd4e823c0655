// The TypeScript trainer reproduces the torch engine for ar, mdm, sft, bd and Dream's shifted mdm (test/fixtures/train-parity, made by
// scripts/train/make_parity.py with the torch engine's own objective, loss, model and AdamW): the same
// initial weights and prepared batch give the same loss, the same gradient norm for every parameter, and
// the same loss after one AdamW step. No Python here: the fixture is committed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseSafetensorsHeader, readTensor } from '../../src/io/safetensors.js';
import { validateConfig } from '../../src/model/config.js';
import { TrainableTransformer, type TrainBatch } from '../../src/model/trainable.js';
import { bdTargetRow, shiftTargets } from '../../src/train/objectives.js';
import { AdamW } from '../../src/train/optim.js';
import { ref } from '../helpers/kernels.js';

const DIR = new URL('../../../test/fixtures/train-parity/', import.meta.url);
// f32 on both sides, different summation orders (torch's BLAS vs our reference kernels): ~1e-6 relative per
// value; the loss is a sum of ~30 terms, a gradient norm a root of sums over whole tensors, so 1e-4 relative.
// After one AdamW step (≈ lr·sign(g) per weight) the loss moves by ~30 %, and a weight whose gradient is
// near zero may step either way, so the loss after the step gets 1e-3.
const TOL = { loss: 1e-4, grad: 1e-4, after: 1e-3 };

for (const name of ['ar', 'mdm', 'sft', 'bd', 'bdc', 'mdms']) {
  test(`torch engine parity (${name}): loss, per-parameter gradient norms, loss after one AdamW step`, () => {
    const bytes = new Uint8Array(readFileSync(new URL(`${name}.safetensors`, DIR)));
    const h = parseSafetensorsHeader(bytes);
    const meta = h.metadata;
    const dims = JSON.parse(meta['config']!) as Record<string, number>;
    const arch = meta['arch'] as 'llama' | 'llada' | 'dream';
    const cfg = validateConfig({
      arch,
      vocabSize: dims['vocabSize']!,
      hiddenSize: dims['hiddenSize']!,
      numLayers: dims['numLayers']!,
      numHeads: dims['numHeads']!,
      numKvHeads: dims['numKvHeads']!,
      headDim: dims['hiddenSize']! / dims['numHeads']!,
      ffnSize: dims['ffnSize']!,
      ropeTheta: dims['ropeTheta']!,
      normEps: dims['normEps']!,
      tieEmbeddings: false,
      qkvBias: arch === 'dream',
      attention: arch === 'llama' ? 'causal' : 'bidirectional',
      shiftLogits: arch === 'dream',
      maxPositions: 64,
    });
    const m = new TrainableTransformer(cfg, ref);
    for (const s of m.specs) m.p(s.name).set(readTensor(bytes, h, s.hfName) as Float32Array);
    const input = readTensor(bytes, h, 'batch.input') as Int32Array,
      targets = readTensor(bytes, h, 'batch.targets') as Int32Array;
    const weights = readTensor(bytes, h, 'batch.weights') as Float32Array;
    const [B, T] = h.tensors.get('batch.input')!.shape as [number, number];
    const N = B * T,
      V = cfg.vocabSize,
      norm = Number(meta['normaliser']);
    if (name === 'sft') {
      // LLaDA SFT as prepareMdm does it: nothing in the prompt carries a loss, rows normalise
      const plen = readTensor(bytes, h, 'batch.promptLengths') as Int32Array;
      assert.equal(norm, B, 'sft: the batch is normalised by its rows');
      for (let b = 0; b < B; b++)
        for (let i = 0; i < plen[b]!; i++) assert.equal(targets[b * T + i], -1, `sft: row ${b} prompt position ${i} has a target`);
      for (let b = 0; b < B; b++) {
        const inv = new Set<number>(); // weight · answer length = 1/p, one value per row
        for (let i = plen[b]!; i < T; i++) if (targets[b * T + i] !== -1) inv.add(Math.round(weights[b * T + i]! * (T - plen[b]!) * 1e4));
        assert.ok(inv.size <= 1, `sft: row ${b} weights are not 1/(p · answer length): ${[...inv]}`);
      }
    }
    if (name === 'mdms') {
      // Dream's shift: unshift the fixture's batch (token i's target sits at row i − 1), shift it back with
      // shiftTargets and get torch's batch again; token 0 is never masked, the last row never scored
      const clean = Int32Array.from(input),
        unshifted = new Int32Array(N).fill(-1),
        w0 = new Float32Array(N);
      for (let b = 0; b < B; b++) {
        assert.notEqual(input[b * T], dims['maskId'], `mdms: row ${b} token 0 is masked`);
        assert.equal(targets[b * T + T - 1], -1, `mdms: row ${b} last row carries a target`);
        for (let i = 1; i < T; i++) {
          const j = b * T + i;
          assert.equal(input[j] === dims['maskId'], targets[j - 1] !== -1, `mdms: row ${b} token ${i}: mask and target disagree`);
          if (targets[j - 1] !== -1) clean[j] = targets[j - 1]!;
          unshifted[j] = targets[j - 1]!;
          w0[j] = weights[j - 1]!;
        }
      }
      const again = shiftTargets({ input, targets: unshifted, weights: w0, B, T, normaliser: norm, predicted: 0 }, clean);
      assert.deepEqual([...again.targets], [...targets], 'mdms: shiftTargets targets differ from torch shift_targets');
      assert.deepEqual([...again.weights], [...weights], 'mdms: shiftTargets weights differ from torch shift_targets');
    }
    let batch: TrainBatch = { tokens: input, B, T };
    if (name === 'bdc') {
      // bdComplement (prepareBd): rows 2b and 2b+1 are one window, each token but token 0 masked in exactly one
      const n = T / 2;
      for (let b = 0; b < B; b += 2)
        for (let i = 1; i < n; i++) {
          const m0 = input[b * T + i] === dims['maskId'],
            m1 = input[(b + 1) * T + i] === dims['maskId'];
          assert.notEqual(m0, m1, `bdc: rows ${b}, ${b + 1} token ${i}: masked in both or neither`);
        }
    }
    if (name === 'bd' || name === 'bdc') {
      // [x_t ⊕ x_0]: a masked token i of x_t is scored at bdTargetRow (prepareBd's rule) against x_0[i], 1/p per block
      const n = T / 2,
        bd = dims['bdSize']!;
      for (let b = 0; b < B; b++)
        for (let i = 1; i < n; i++) {
          const r = b * T + bdTargetRow(i, n, bd),
            masked = input[b * T + i] === dims['maskId'];
          assert.equal(targets[r], masked ? input[b * T + n + i] : -1, `bd: row ${b} token ${i}: target at row ${r - b * T}`);
          if (masked) assert.ok(weights[r]! >= 1, `bd: row ${b} token ${i}: weight ${weights[r]} is not 1/p`);
        }
      batch = { ...batch, mask: { kind: 'blockDiffusion', blockLength: bd }, positions: Int32Array.from({ length: N }, (_, i) => i % n) };
    }
    const losses = new Float32Array(N),
      dlogits = new Float32Array(N * V);
    const lossOf = () => {
      ref.crossEntropyForward(losses, m.forward(batch), targets, weights, N, V);
      return losses.reduce((a, b) => a + b, 0) / norm;
    };
    const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1e-12, Math.abs(b));

    const loss = lossOf();
    assert.ok(
      rel(loss, Number(meta['loss'])) < TOL.loss,
      `${name}: loss ${loss} vs torch ${meta['loss']} (rel ${rel(loss, Number(meta['loss'])).toExponential(2)})`,
    );
    m.zeroGrads();
    ref.crossEntropyBackward(dlogits, m.forward(batch), targets, weights, N, V, 1 / norm);
    m.backward(dlogits);
    const expected = JSON.parse(meta['gradNorms']!) as Record<string, number>;
    for (const s of m.specs) {
      const g = m.grads.get(s.name)!;
      const n = Math.sqrt(g.reduce((a, x) => a + x * x, 0));
      const want = expected[s.hfName]!;
      assert.ok(
        Math.abs(n - want) <= TOL.grad * want + 1e-7,
        `${name}: |grad ${s.hfName}| = ${n}, torch ${want} (rel ${rel(n, want).toExponential(2)})`,
      );
    }
    const o = JSON.parse(meta['optimizer']!) as Record<string, number>;
    const opt = new AdamW(ref, m.specs, {
      beta1: o['beta1']!,
      beta2: o['beta2']!,
      eps: o['eps']!,
      weightDecay: o['weightDecay']!,
      gradClip: 0,
    });
    opt.update(m.params, m.grads, o['lr']!);
    const after = lossOf();
    assert.ok(
      rel(after, Number(meta['lossAfterStep'])) < TOL.after,
      `${name}: loss after one step ${after} vs torch ${meta['lossAfterStep']}`,
    );
    opt.dispose();
    m.dispose();
  });
}
