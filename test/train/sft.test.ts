// SFT (LLaDA §2.3): rows of prompt + answer + EOS padding with their prompt length; the trainer never masks
// the prompt, weights each masked answer token 1/(p · answer length), and learns from the rows of the file.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { prepareMdm } from '../../src/train/objectives.js';
import { Rng } from '../../src/train/rng.js';
import { fixedSftRows, packSftRows, sampleSftRows, sftRowCount } from '../../src/train/sft-data.js';
import { tinyTrainer, VOCAB } from '../helpers/train-run.js';

const EOS = 0;

test('rows: [prompt length, prompt, answer, EOS padding]; too long or empty examples are dropped', () => {
  const { rows, dropped } = packSftRows(
    [
      { prompt: [5, 6], answer: [7, 8, 9] },
      { prompt: [1, 2, 3, 4], answer: [5, 6, 7, 8] },
      { prompt: [], answer: [1] },
      { prompt: [3], answer: [4] },
    ],
    6,
    EOS,
  );
  assert.deepEqual(rows, [
    [2, 5, 6, 7, 8, 9, EOS],
    [1, 3, 4, EOS, EOS, EOS, EOS],
  ]);
  assert.equal(dropped, 2, 'one needs 4 + 4 + 1 > 6 positions, one has no prompt');
  const stream = { ids: Uint16Array.from(rows.flat()) };
  assert.equal(sftRowCount(stream, 6), 2);
  assert.throws(() => sftRowCount(stream, 5), /whole rows of 1 \+ seqLen = 6/);
  const fixed = fixedSftRows(stream, 2, 6, 0)!;
  assert.deepEqual(Array.from(fixed.promptLengths), [2, 1]);
  assert.deepEqual(Array.from(fixed.clean), [5, 6, 7, 8, 9, EOS, 3, 4, EOS, EOS, EOS, EOS]);
  assert.equal(fixedSftRows(stream, 2, 6, 1), null, 'past the end');
  const drawn = sampleSftRows(stream, 5, 6, new Rng(3));
  for (let b = 0; b < 5; b++) assert.ok([1, 2].includes(drawn.promptLengths[b]!), `row ${b} is one of the file's rows`);
});

test('the SFT batch: no target in the prompt, weight 1 / (p · answer length), normalised by the rows', () => {
  const B = 64,
    L = 10,
    clean = Int32Array.from({ length: B * L }, (_, i) => 1 + (i % 9)),
    promptLengths = Int32Array.from({ length: B }, (_, b) => 1 + (b % 7));
  const batch = prepareMdm(clean, B, L, VOCAB - 1, new Rng(11), promptLengths);
  assert.equal(batch.normaliser, B);
  let masked = 0;
  for (let b = 0; b < B; b++) {
    const P = promptLengths[b]!,
      w = new Set<number>();
    for (let i = 0; i < L; i++) {
      const j = b * L + i;
      if (i < P) {
        assert.equal(batch.targets[j], -1, `row ${b}: prompt position ${i} carries a loss`);
        assert.equal(batch.input[j], clean[j]);
        continue;
      }
      if (batch.targets[j] === -1) continue;
      masked++;
      assert.equal(batch.input[j], VOCAB - 1);
      w.add(Math.round(batch.weights[j]! * (L - P) * 1e6)); // 1/p, the same for every masked cell of the row
    }
    assert.ok(w.size <= 1, `row ${b}: one 1/p per row, got ${[...w]}`);
  }
  assert.ok(masked > 0);
});

test('the trainer learns from SFT rows (loss falls) and validates on fixed rows', () => {
  const t = tinyTrainer({ objective: 'sft', seqLen: 8, batchSize: 4 });
  const rows = packSftRows(
    Array.from({ length: 32 }, (_, i) => ({ prompt: [1 + (i % 3), 4], answer: [5 + (i % 3), 8, 9] })),
    8,
    EOS,
  ).rows;
  const data = { ids: Uint16Array.from(rows.flat()) };
  const before = t.evaluate(data).valLoss;
  for (let i = 0; i < 60; i++) t.step(data);
  const after = t.evaluate(data).valLoss;
  assert.ok(
    Number.isFinite(before) && after < before * 0.8,
    `SFT validation loss ${before.toFixed(3)} → ${after.toFixed(3)}: should fall by 20 %`,
  );
  t.dispose();
});
