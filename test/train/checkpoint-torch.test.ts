// The torch engine's checkpoints (scripts/train/checkpoint.py) hold to the same rules as ours: its own
// kill-at-every-operation and refusal checks (scripts/train/checkpoint_check.py --selftest), and the layout
// both ways — a checkpoint the TypeScript engine wrote loads in the torch engine with the same values, and one
// the torch engine wrote loads here. Needs Debian's python3-torch; skipped (with the reason) where it is absent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadCheckpoint, saveCheckpoint } from '../../src/cli/checkpoint.js';
import { TORCH_PYTHON, torchJob } from '../../src/cli/train-torch.js';
import type { Trainer } from '../../src/train/loop.js';
import { SPECIALS, VOCAB, tinyTrainer, tokenizerFiles, trainSteps } from '../helpers/train-run.js';

const CHECK = fileURLToPath(new URL('../../../scripts/train/checkpoint_check.py', import.meta.url));
const probe = spawnSync(TORCH_PYTHON, ['-c', 'import torch, numpy'], { encoding: 'utf8' });
const skip =
  probe.status === 0
    ? false
    : `${TORCH_PYTHON} with torch and numpy is not available here (${(probe.stderr || probe.error?.message || '').trim().split('\n').pop()})`;

/** float64 sums of every tensor by the torch check's names: hfName, m:hfName, v:hfName */
function sums(t: Trainer): Record<string, number> {
  const out: Record<string, number> = {};
  const sum = (x: Float32Array) => x.reduce((a, b) => a + b, 0);
  for (const s of t.model.specs) {
    out[s.hfName] = sum(t.model.p(s.name));
    out[`m:${s.hfName}`] = sum(t.optim.m.get(s.name)!);
    out[`v:${s.hfName}`] = sum(t.optim.v.get(s.name)!);
  }
  return out;
}

function close(a: Record<string, number>, b: Record<string, number>, what: string): void {
  assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), `${what}: the same tensors`);
  for (const k of Object.keys(a))
    assert.ok(Math.abs(a[k]! - b[k]!) <= 1e-9 * (1 + Math.abs(b[k]!)), `${what}: ${k} sums to ${a[k]} vs ${b[k]}`);
}

test(
  'torch engine checkpoints: kill at every operation, refusals, and the layout shared with the TypeScript engine',
  { skip, timeout: 180_000 },
  async () => {
    const root = mkdtempSync(join(tmpdir(), 'dllm-torch-ckpt-'));
    try {
      const tok = tokenizerFiles(root);
      const t = tinyTrainer({ objective: 'ar', arch: 'llama' });
      trainSteps(t, 3);
      const ours = join(root, 'ts');
      await saveCheckpoint(ours, t, tok, SPECIALS);
      const job = join(root, 'job.json');
      writeFileSync(
        job,
        JSON.stringify(
          torchJob(t.cfg, { vocabSize: VOCAB, dtype: 'uint16', resume: true, quiet: true, tokPaths: tok, specials: SPECIALS }),
        ),
      );
      const theirs = join(root, 'torch');
      const out = JSON.parse(
        execFileSync(TORCH_PYTHON, [CHECK, '--selftest', '--load', ours, job, '--save', theirs, job], { encoding: 'utf8' }),
      ) as {
        selftest: { again: { saveOps: number; landed: number[] }; first: { saveOps: number }; refused: number; log: number };
        load: { step: number; tokens: number; sums: Record<string, number> };
        save: { step: number; tokens: number; sums: Record<string, number> };
      };
      assert.deepEqual(out.selftest.again.landed, [2, 5], 'kills resumed at the previous or the new checkpoint');
      assert.ok(out.selftest.again.saveOps >= 16 && out.selftest.first.saveOps >= 14);
      assert.equal(out.selftest.refused, 11);
      // ours → torch: the same step, tokens, weights and moments
      assert.equal(out.load.step, 3);
      assert.equal(out.load.tokens, t.state.tokens);
      close(out.load.sums, sums(t), 'TypeScript checkpoint in the torch engine');
      // torch → ours: through the same strict loader (F32, every tensor, trainer_state.json parse)
      const back = tinyTrainer({ objective: 'ar', arch: 'llama' });
      await loadCheckpoint(theirs, back);
      assert.equal(back.state.step, out.save.step);
      assert.equal(back.state.tokens, out.save.tokens);
      close(sums(back), out.save.sums, 'torch checkpoint in the TypeScript engine');
      back.dispose();
      t.dispose();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
);
