// Training never loses work: a kill at every single file operation of a checkpoint save (each write, fsync,
// rename, removal — a write killed halfway leaves half a file, a removal killed halfway leaves part of the
// tree), and again at every operation of the recovery that follows, must resume at the previous checkpoint
// or at the new one, bit-exactly, never at nothing. Plus the states the issue found by hand (old + tmp both
// complete, tmp only, old only), and the order of fsyncs and renames that makes this hold on a power cut.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint, readTrainerState, saveCheckpoint } from '../../src/cli/checkpoint.js';
import { nodeDurableFs, type DurableFs } from '../../src/platform/durable-fs.js';
import { SPECIALS, sameAs, snapshot, tinyTrainer, tokenizerFiles, trainSteps, type Snapshot } from '../helpers/train-run.js';

class Killed extends Error {}

/** nodeDurableFs that dies at operation number `killAt` (0-based), leaving what a real kill there would leave */
function killingFs(killAt: number, log: string[] = []): DurableFs & { ops: number } {
  const fs = {
    ops: 0,
    async step(what: string, partial: () => void): Promise<void> {
      log.push(what);
      if (fs.ops++ === killAt) {
        partial();
        throw new Killed(`killed at ${what}`);
      }
    },
    async mkdir(p: string) {
      await fs.step(`mkdir ${p}`, () => {});
      await nodeDurableFs.mkdir(p);
    },
    async writeFile(p: string, d: Uint8Array | string) {
      const bytes = typeof d === 'string' ? new TextEncoder().encode(d) : d;
      await fs.step(`write ${p}`, () => writeFileSync(p, bytes.subarray(0, bytes.length >> 1))); // a torn file
      await nodeDurableFs.writeFile(p, d);
    },
    async rename(a: string, b: string) {
      await fs.step(`rename ${a} ${b}`, () => {});
      await nodeDurableFs.rename(a, b);
    },
    async rm(p: string) {
      await fs.step(`rm ${p}`, () => {
        // part of the tree gone
        try {
          if (statSync(p).isDirectory()) {
            const f = readdirSync(p).sort()[0];
            if (f) unlinkSync(join(p, f));
          }
        } catch {
          /* absent */
        }
      });
      await nodeDurableFs.rm(p);
    },
    async syncDir(p: string) {
      await fs.step(`sync ${p}`, () => {});
      await nodeDurableFs.syncDir(p);
    },
    list: (p: string) => nodeDurableFs.list(p),
  };
  return fs;
}

const quiet = () => {
  const e = console.error;
  console.error = () => {};
  return () => {
    console.error = e;
  };
};

/** resume from `run` into a fresh trainer; its state must be one of `expect` (null: no checkpoint is fine) */
async function resumeIs(run: string, expect: Snapshot[], what: string, noneOk = false): Promise<number | null> {
  const t = tinyTrainer();
  try {
    await loadCheckpoint(run, t);
  } catch (e) {
    if (noneOk && /no checkpoint to resume/.test((e as Error).message)) return null;
    throw new Error(`${what}: resume failed: ${(e as Error).message}`);
  }
  try {
    return sameAs(t, expect).step;
  } catch (e) {
    throw new Error(`${what}: ${(e as Error).message}`);
  } finally {
    t.dispose();
  }
}

for (const first of [false, true]) {
  test(`a kill at every file operation of a ${first ? 'first ' : ''}save, and of the recovery after it, resumes at the ${first ? 'new checkpoint or none' : 'previous or the new checkpoint'}`, async () => {
    const root = mkdtempSync(join(tmpdir(), 'dllm-kill-'));
    const restore = quiet();
    try {
      const tok = tokenizerFiles(root);
      const t = tinyTrainer();
      trainSteps(t, 2);
      const prev = snapshot(t);
      const base = join(root, 'base');
      if (!first) await saveCheckpoint(base, t, tok, SPECIALS);
      trainSteps(t, 3);
      const next = snapshot(t);
      const expect = first ? [next] : [prev, next];
      const landed = new Set<number | null>();
      let saveOps = 0,
        recoveries = 0;
      for (let k = 0; ; k++) {
        const run = join(root, `k${k}`);
        if (first) mkdirSync(run, { recursive: true });
        else cpSync(base, run, { recursive: true });
        const fs = killingFs(k);
        const killed = await saveCheckpoint(run, t, tok, SPECIALS, fs).then(
          () => false,
          (e) => {
            if (e instanceof Killed) return true;
            throw e;
          },
        );
        if (!killed) {
          saveOps = fs.ops;
          assert.equal(await resumeIs(run, [next], 'no kill'), next.step);
          break;
        }
        // the kill may strike the recovery too: every operation of it, then a clean resume
        for (let j = 0; ; j++) {
          const again = join(root, `k${k}-j${j}`);
          cpSync(run, again, { recursive: true });
          const rfs = killingFs(j);
          const done = await readTrainerState(again, rfs).then(
            () => true,
            (e) => {
              if (e instanceof Killed) return false;
              if (first && /no checkpoint to resume/.test((e as Error).message)) return true;
              throw new Error(`kill at save op ${k}: recovery failed: ${(e as Error).message}`);
            },
          );
          landed.add(await resumeIs(again, expect, `kill at save op ${k}, recovery op ${j}`, first));
          rmSync(again, { recursive: true, force: true });
          recoveries++;
          if (done) break;
        }
        landed.add(await resumeIs(run, expect, `kill at save op ${k}`, first));
        rmSync(run, { recursive: true, force: true });
      }
      // mkdir + 7 writes + syncs + 2 renames + removals: every one of them was a kill point
      assert.ok(saveOps >= 14, `a save is ${saveOps} operations`);
      assert.ok(recoveries >= saveOps, `${recoveries} recoveries tried`);
      // both outcomes occur: the kill points before the commit keep the old state, those after give the new
      assert.deepEqual([...landed].sort(), first ? [next.step, null].sort() : [prev.step, next.step]);
      t.dispose();
    } finally {
      restore();
      rmSync(root, { recursive: true, force: true });
    }
  });
}

test('the states a kill leaves, made by hand: old + tmp (both complete), tmp only, old only', async () => {
  const root = mkdtempSync(join(tmpdir(), 'dllm-states-'));
  const restore = quiet();
  try {
    const tok = tokenizerFiles(root);
    const t = tinyTrainer();
    trainSteps(t, 1);
    const a = snapshot(t);
    await saveCheckpoint(join(root, 'a'), t, tok, SPECIALS);
    trainSteps(t, 2);
    const b = snapshot(t);
    await saveCheckpoint(join(root, 'b'), t, tok, SPECIALS);
    const make = (name: string, parts: [string, string][]) => {
      const run = join(root, name);
      for (const [from, to] of parts) cpSync(join(root, from, 'checkpoint'), join(run, to), { recursive: true });
      return run;
    };
    // killed between the two renames: before, --resume failed with ENOENT on checkpoint/trainer_state.json
    const oldTmp = make('old-tmp', [
      ['a', 'checkpoint.old'],
      ['b', 'checkpoint.tmp'],
    ]);
    assert.equal(await resumeIs(oldTmp, [b], 'old + tmp'), b.step);
    assert.deepEqual(readdirSync(oldTmp).sort(), ['checkpoint'], 'settled: only checkpoint/ is left');
    assert.equal(await resumeIs(make('tmp', [['b', 'checkpoint.tmp']]), [b], 'tmp only'), b.step);
    assert.equal(await resumeIs(make('old', [['a', 'checkpoint.old']]), [a], 'old only'), a.step);
    // a torn tmp beside a complete old: the old one
    const torn = make('old-torn-tmp', [
      ['a', 'checkpoint.old'],
      ['b', 'checkpoint.tmp'],
    ]);
    writeFileSync(join(torn, 'checkpoint.tmp', 'model.safetensors'), 'torn');
    assert.equal(await resumeIs(torn, [a], 'old + torn tmp'), a.step);
    // saving into the old + tmp state keeps the complete copies until the new one is in place
    const saveInto = make('save-old-tmp', [
      ['a', 'checkpoint.old'],
      ['b', 'checkpoint.tmp'],
    ]);
    trainSteps(t, 1);
    const c = snapshot(t);
    await saveCheckpoint(saveInto, t, tok, SPECIALS);
    assert.equal(await resumeIs(saveInto, [c], 'saved after old + tmp'), c.step);
    t.dispose();
  } finally {
    restore();
    rmSync(root, { recursive: true, force: true });
  }
});

test('a save fsyncs every file and the folders, and removes the previous checkpoint only after the new one is durable', async () => {
  const root = mkdtempSync(join(tmpdir(), 'dllm-order-'));
  try {
    const tok = tokenizerFiles(root);
    const t = tinyTrainer();
    trainSteps(t, 1);
    const run = join(root, 'run');
    await saveCheckpoint(run, t, tok, SPECIALS);
    trainSteps(t, 1);
    const log: string[] = [];
    await saveCheckpoint(run, t, tok, SPECIALS, killingFs(-1, log));
    const at = (s: string) => {
      const i = log.indexOf(s);
      assert.ok(i >= 0, `${s} in ${log.join(' | ')}`);
      return i;
    };
    const ck = join(run, 'checkpoint'),
      tmp = join(run, 'checkpoint.tmp'),
      old = join(run, 'checkpoint.old');
    const writes = log.filter((l) => l.startsWith('write ')).map((l) => l.slice(6 + tmp.length + 1));
    assert.deepEqual(writes.slice(-1), ['trainer_state.json'], 'trainer_state.json is written last');
    assert.equal(writes.length, 7);
    const syncTmp = at(`sync ${tmp}`),
      aside = at(`rename ${ck} ${old}`),
      inPlace = at(`rename ${tmp} ${ck}`);
    const lastWrite = log.map((l) => l.startsWith('write ')).lastIndexOf(true);
    assert.ok(lastWrite < syncTmp, 'the files, then their folder, are synced before any rename');
    assert.ok(syncTmp < aside && aside < inPlace);
    assert.equal(log[aside + 1], `sync ${run}`, 'the rename aside is made durable');
    assert.equal(log[inPlace + 1], `sync ${run}`, 'the new checkpoint is made durable');
    assert.equal(log.lastIndexOf(`rm ${old}`), inPlace + 2, 'the previous checkpoint goes only after that');
    await nodeDurableFs.syncDir(run); // fsync of a folder works on this file system (no error swallowed)
    t.dispose();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
