// Objectives, schedule and config parsing: hand-computed cases.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bdTargetRow, MDM_EPS, prepareAr, prepareBd, prepareMdm, shiftTargets } from '../../src/train/objectives.js';
import { learningRate } from '../../src/train/lr.js';
import { parseTrainConfig } from '../../src/train/config.js';
import { Rng } from '../../src/train/rng.js';

test('mdm: masks with p = (1−ε)t + ε, weights 1/p on masked tokens, normaliser B·L', () => {
  const B = 3,
    L = 2000,
    MASK = 99;
  const clean = new Int32Array(B * L).map((_, i) => i % 50);
  const rng = new Rng(7);
  // replay the RNG to know each row's t
  const replay = new Rng(7);
  const b = prepareMdm(clean, B, L, MASK, rng);
  assert.equal(b.normaliser, B * L);
  for (let r = 0; r < B; r++) {
    const t = replay.uniform();
    const p = (1 - MDM_EPS) * t + MDM_EPS;
    let masked = 0;
    for (let i = 0; i < L; i++) {
      const j = r * L + i;
      const isMasked = replay.uniform() < p;
      assert.equal(b.input[j] === MASK, isMasked, `row ${r} pos ${i}`);
      if (isMasked) {
        masked++;
        assert.equal(b.targets[j], clean[j]);
        assert.ok(Math.abs(b.weights[j]! - Math.fround(1 / p)) < 1e-6 * (1 / p), `weight at ${j}: ${b.weights[j]} vs ${1 / p}`);
      } else {
        assert.equal(b.targets[j], -1);
        assert.equal(b.weights[j], 0);
      }
    }
    // the masked fraction follows p (binomial, 2000 draws: 5 σ ≤ 0.056)
    assert.ok(Math.abs(masked / L - p) < 0.06, `row ${r}: masked ${masked / L} vs p ${p}`);
  }
});

test('mdm loss on a hand-computed case: uniform logits give ln V per masked token, times 1/p, over B·L', () => {
  // with uniform logits every masked token costs ln V; E[Σ masked/p] = L per row, so loss ≈ ln V
  const V = 8,
    L = 4,
    B = 1;
  const b = prepareMdm(new Int32Array([1, 2, 3, 4]), B, L, 7, new Rng(1));
  let loss = 0;
  for (let i = 0; i < L; i++) if (b.targets[i]! >= 0) loss += b.weights[i]! * Math.log(V);
  loss /= b.normaliser;
  const masked = Array.from(b.targets).filter((t) => t >= 0).length;
  const p = 1 / b.weights[Array.from(b.targets).findIndex((t) => t >= 0)]!;
  assert.ok(Math.abs(loss - (masked * Math.log(V)) / p / L) < 1e-6);
});

test('sft: the prompt is never masked and each row is normalised by its answer length', () => {
  const B = 2,
    L = 10;
  const b = prepareMdm(new Int32Array(B * L).fill(5), B, L, 9, new Rng(3), Int32Array.from([4, 7]));
  for (let i = 0; i < 4; i++) assert.equal(b.input[i], 5);
  for (let i = 0; i < 7; i++) assert.equal(b.input[L + i], 5);
  assert.equal(b.normaliser, B);
  const w = Array.from(b.weights.subarray(L, 2 * L)).find((x) => x > 0);
  if (w !== undefined) assert.ok(w >= 1 / 3 - 1e-6, 'answer length 3 divides the 1/p weight');
});

test('ar: inputs are windows shifted by one from targets', () => {
  const b = prepareAr(Int32Array.from([1, 2, 3, 4, 5, 6]), 2, 3);
  assert.deepEqual(Array.from(b.input), [1, 2, 4, 5]);
  assert.deepEqual(Array.from(b.targets), [2, 3, 5, 6]);
  assert.equal(b.normaliser, 4);
});

test('learning rate: linear warmup, cosine to lrMin, flat after', () => {
  const s = { lrMax: 1, lrMin: 0.1, lrWarmupSteps: 10, lrDecaySteps: 110 };
  assert.equal(learningRate(s, 0), 0.1);
  assert.equal(learningRate(s, 9), 1);
  assert.ok(Math.abs(learningRate(s, 60) - 0.55) < 1e-12, 'half way down the cosine');
  assert.equal(learningRate(s, 110), 0.1);
  assert.equal(learningRate(s, 500), 0.1);
});

test('train config: unknown keys, wrong types and bad enums are rejected with the key named', () => {
  assert.throws(() => parseTrainConfig({ lrMaxx: 1 }), /unknown key "lrMaxx"/);
  assert.throws(() => parseTrainConfig({ steps: '10' }), /"steps" must be a number/);
  assert.throws(() => parseTrainConfig({ steps: 1.5 }), /"steps" must be an integer/);
  assert.throws(() => parseTrainConfig({ objective: 'gan' }), /"objective" must be one of/);
  assert.throws(() => parseTrainConfig({ hiddenSize: 100, numHeads: 3 }), /not a multiple/);
  assert.equal(parseTrainConfig({ steps: 5 }).steps, 5);
});

test('rng: same seed, same stream; saved state resumes the stream exactly', () => {
  const a = new Rng(42),
    b = new Rng(42);
  const xs = Array.from({ length: 5 }, () => a.nextU32());
  assert.deepEqual(
    xs,
    Array.from({ length: 5 }, () => b.nextU32()),
  );
  const saved = a.state();
  const next = a.uniform();
  assert.equal(new Rng(saved).uniform(), next);
  assert.notDeepEqual(
    xs,
    Array.from({ length: 5 }, () => new Rng(43).nextU32()),
  );
});

test('bd: [x_t ⊕ x_0], one mask level per block, shifted targets at bdTargetRow, token 0 clean, normaliser B·L', () => {
  const B = 40,
    L = 20,
    bd = 8,
    MASK = 999;
  const clean = Int32Array.from({ length: B * L }, (_, i) => i % 97);
  const b = prepareBd(clean, B, L, bd, MASK, new Rng(7));
  assert.equal(b.T, 2 * L);
  assert.equal(b.normaliser, B * L);
  assert.equal(b.blockDiffusion, bd);
  assert.deepEqual([bdTargetRow(1, L, bd), bdTargetRow(7, L, bd), bdTargetRow(8, L, bd), bdTargetRow(16, L, bd)], [0, 6, L + 7, L + 15]);
  let masked = 0;
  for (let r = 0; r < B; r++) {
    const row = (i: number) => r * 2 * L + i;
    assert.deepEqual(b.input.subarray(row(L), row(2 * L)), clean.subarray(r * L, (r + 1) * L), `row ${r}: x_0 half is the clean window`);
    assert.notEqual(b.input[row(0)], MASK, `row ${r}: token 0 has no predictor and stays clean`);
    const perBlock = new Map<number, Set<number>>();
    for (let i = 1; i < L; i++) {
      const t = row(bdTargetRow(i, L, bd));
      if (b.input[row(i)] !== MASK) {
        assert.equal(b.targets[t], -1, `row ${r} token ${i}: unmasked but scored`);
        continue;
      }
      masked++;
      assert.equal(b.targets[t], clean[r * L + i], `row ${r} token ${i}: target`);
      const blk = Math.floor(i / bd);
      perBlock.set(blk, (perBlock.get(blk) ?? new Set()).add(b.weights[t]!));
    }
    for (const [blk, w] of perBlock) assert.equal(w.size, 1, `row ${r} block ${blk}: one 1/p per block, got ${[...w]}`);
  }
  assert.equal(b.predicted, masked);
  const frac = masked / (B * (L - 1));
  assert.ok(
    frac > 0.35 && frac < 0.65,
    `bd: masked fraction ${frac} (E = 0.5 + ε/2; ±0.15 is > 5σ for ${B * (L - 1)} tokens in ${B * 3} blocks)`,
  );
});

test('train config: bd needs the llama layout and a block within the window; procs needs torch and divides the batch', () => {
  assert.throws(() => parseTrainConfig({ objective: 'bd', arch: 'llada' }), /"bd" trains the AR layout.*"llada"/);
  assert.throws(() => parseTrainConfig({ objective: 'bd', arch: 'llama', bdSize: 300, seqLen: 256 }), /"bdSize" must be in 1\.\.seqLen/);
  assert.equal(parseTrainConfig({ objective: 'bd', arch: 'llama' }).bdSize, 8);
  assert.throws(() => parseTrainConfig({ procs: 2 }), /"procs" 2 \(data-parallel\) needs engine "torch"/);
  assert.throws(() => parseTrainConfig({ compile: true }), /"compile" \(torch.compile\) needs engine "torch"/);
  assert.equal(parseTrainConfig({ compile: true, engine: 'torch' }).compile, true);
  assert.throws(() => parseTrainConfig({ procs: 3, engine: 'torch', batchSize: 16 }), /batchSize 16 is not a multiple of procs 3/);
  assert.equal(parseTrainConfig({ procs: 2, engine: 'torch' }).procs, 2);
});

test('mask range [0.5, 1] (clipped schedule, distillation): every level in range, masked fraction ≈ 0.75; bd per block too', () => {
  const B = 64,
    L = 64,
    MASK = 999,
    range = { lo: 0.5, hi: 1 };
  const clean = Int32Array.from({ length: B * L }, (_, i) => i % 97);
  const m = prepareMdm(clean, B, L, MASK, new Rng(3), undefined, range);
  for (const w of m.weights) if (w > 0) assert.ok(w <= 1 / (0.5 * (1 - MDM_EPS) + MDM_EPS) + 1e-6, `mdm: weight ${w} = 1/p with p < 0.5`);
  const frac = m.predicted / (B * L);
  assert.ok(Math.abs(frac - 0.75) < 0.06, `mdm: masked fraction ${frac}, E = 0.75 (±0.06 ≈ 4σ over ${B} rows)`);
  const b = prepareBd(clean, B, L, 8, MASK, new Rng(4), range);
  for (const w of b.weights) if (w > 0) assert.ok(w <= 2 + 1e-6, `bd: weight ${w} = 1/p with p < 0.5`);
  assert.throws(() => parseTrainConfig({ maskMin: 0.6, maskMax: 0.5 }), /0 ≤ maskMin < maskMax ≤ 1/);
});

test('bd complement: rows 2b, 2b+1 mask complementary tokens at levels p and 1 − p; row 2b is the plain draw; both unbiased', () => {
  const B = 192,
    L = 24,
    bd = 8,
    MASK = 999,
    range = { lo: 0.2, hi: 0.8 }; // 1/p and 1/(1 − p) bounded, so the mean below has a small variance
  const clean = Int32Array.from({ length: B * L }, (_, i) => (i * 7) % 97);
  const plain = prepareBd(clean, B, L, bd, MASK, new Rng(11), range);
  const b = prepareBd(clean, B, L, bd, MASK, new Rng(11), range, true);
  const T = 2 * L;
  assert.equal(b.B, 2 * B);
  assert.equal(b.normaliser, 2 * B * L);
  let sum0 = 0,
    sum1 = 0;
  for (let w = 0; w < B; w++) {
    const r0 = 2 * w * T,
      r1 = (2 * w + 1) * T;
    assert.deepEqual(b.input.subarray(r0, r0 + T), plain.input.subarray(w * T, (w + 1) * T), `window ${w}: row 2b is the plain draw`);
    assert.deepEqual(b.input.subarray(r1 + L, r1 + T), clean.subarray(w * L, (w + 1) * L), `window ${w}: the complement's x_0 half`);
    assert.notEqual(b.input[r1], MASK, `window ${w}: token 0 stays clean in the complement too`);
    const p0 = new Map<number, number>(), // block → its level in row 2b, in row 2b+1
      p1 = new Map<number, number>();
    for (let i = 1; i < L; i++) {
      const m0 = b.input[r0 + i] === MASK,
        m1 = b.input[r1 + i] === MASK;
      assert.notEqual(m0, m1, `window ${w} token ${i}: masked in exactly one row of the pair`);
      const t = bdTargetRow(i, L, bd);
      assert.equal(b.targets[(m0 ? r0 : r1) + t], clean[w * L + i], `window ${w} token ${i}: target`);
      assert.equal(b.targets[(m0 ? r1 : r0) + t], -1, `window ${w} token ${i}: scored in the row that shows it`);
      const weight = b.weights[(m0 ? r0 : r1) + t]!; // 1/level
      if (m0) sum0 += weight;
      else sum1 += weight;
      (m0 ? p0 : p1).set(Math.floor(i / bd), 1 / weight);
    }
    for (const [blk, p] of p0)
      if (p1.has(blk))
        assert.ok(Math.abs(p + p1.get(blk)! - 1) < 1e-6, `window ${w} block ${blk}: levels ${p} and ${p1.get(blk)} do not sum to 1`);
  }
  // Σ weights over scored tokens estimates the token count (L − 1 per row) for each copy: E[1{masked}/p] = 1
  const n = B * (L - 1);
  assert.ok(
    Math.abs(sum0 / n - 1) < 0.07,
    `bd complement: row 2b's Σ 1/p / tokens = ${sum0 / n}, E = 1 (±0.07 ≈ 4σ: var (1 − p)/p ≤ 1.31 per token)`,
  );
  assert.ok(
    Math.abs(sum1 / n - 1) < 0.07,
    `bd complement: row 2b+1's Σ 1/(1 − p) / tokens = ${sum1 / n}, E = 1 (±0.07 ≈ 4σ: var (1 − p)/p ≤ 1.31 per token)`,
  );
  assert.equal(b.predicted, n, 'every token but token 0 is scored once per pair');
  assert.throws(() => parseTrainConfig({ bdComplement: true }), /"bdComplement" needs objective "bd", got "mdm"/);
  assert.equal(parseTrainConfig({ objective: 'bd', arch: 'llama', bdComplement: true }).bdComplement, true);
});

test("shifted mdm (Dream): token 0 stays clean, masked token i is scored at row i − 1 with prepareMdm's weight", () => {
  const B = 2,
    L = 50,
    MASK = 99;
  const clean = new Int32Array(B * L).map((_, i) => (i * 7) % 50);
  const plain = prepareMdm(clean, B, L, MASK, new Rng(4));
  const s = shiftTargets(plain, clean);
  let scored = 0;
  for (let r = 0; r < B; r++) {
    assert.equal(s.input[r * L], clean[r * L], `row ${r}: token 0 is restored`);
    assert.equal(s.targets[r * L + L - 1], -1, `row ${r}: the last row scores nothing`);
    for (let i = 1; i < L; i++) {
      const j = r * L + i;
      assert.equal(s.input[j], plain.input[j], `row ${r} token ${i}: input unchanged`);
      assert.equal(s.targets[j - 1], plain.targets[j], `row ${r} token ${i}: target not one row earlier`);
      assert.equal(s.weights[j - 1], plain.weights[j], `row ${r} token ${i}: weight not one row earlier`);
      if (s.targets[j - 1]! >= 0) scored++;
    }
  }
  assert.equal(s.predicted, scored, 'predicted counts the scored tokens');
  assert.equal(s.normaliser, B * L);
});

test('train config: arch "dream" (shifted logits) trains mdm only', () => {
  assert.equal(parseTrainConfig({ arch: 'dream' }).arch, 'dream');
  for (const objective of ['sft', 'ar'])
    assert.throws(() => parseTrainConfig({ arch: 'dream', objective }), /arch "dream" \(shifted logits\) trains with objective "mdm" only/);
  assert.throws(() => parseTrainConfig({ arch: 'dream', objective: 'bd' }), /objective "bd" .* arch must be "llama", got "dream"/);
});
