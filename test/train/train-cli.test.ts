// `dllm train` and its run folder: a fresh run into a folder that holds a checkpoint is refused unless
// --resume or --overwrite says what to do (it used to replace a 300-step checkpoint with step 2 and truncate
// the log); a torn last line of log.jsonl is cut with a warning naming the file (it used to make every later
// run exit 1 on a JSON error naming no file); and real kill -9s, at random moments of a run that checkpoints
// every step, resume to bit-identical final weights.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dataBuild } from '../../src/cli/data.js';
import { writeLossPlot } from '../../src/cli/plot.js';
import { train } from '../../src/cli/train.js';
import { parseTrainConfig } from '../../src/train/config.js';
import { Rng } from '../helpers/rng.js';

const CLI = new URL('../../../bin/dllm.js', import.meta.url).pathname;

/** run `fn` with console output captured */
async function captured<T>(fn: () => Promise<T>): Promise<{ value: T | null; error: Error | null; stderr: string }> {
  const log = console.log,
    err = console.error;
  let stderr = '';
  console.log = () => {};
  console.error = (...a: unknown[]) => {
    stderr += a.join(' ') + '\n';
  };
  try {
    return { value: await fn(), error: null, stderr };
  } catch (e) {
    return { value: null, error: e as Error, stderr };
  } finally {
    console.log = log;
    console.error = err;
  }
}

function makeData(root: string): string {
  const src = join(root, 'src');
  mkdirSync(src, { recursive: true });
  for (let i = 0; i < 30; i++) {
    writeFileSync(
      join(src, `m${i}.py`),
      Array.from({ length: 12 }, (_, j) => `def f${i}_${j}(x, y):\n    return x * ${j} + y - ${i}\n`).join('\n'),
    );
  }
  return join(root, 'data');
}

const SHAPE = {
  hiddenSize: 16,
  numLayers: 2,
  numHeads: 2,
  numKvHeads: 2,
  ffnSize: 32,
  seqLen: 16,
  batchSize: 2,
  evalEvery: 1000,
  evalBatches: 1,
  threads: 1,
};

const stateOf = (run: string) =>
  JSON.parse(readFileSync(join(run, 'checkpoint', 'trainer_state.json'), 'utf8')) as { step: number; tokens: number; rng: number[] };

test('dllm train: a run folder with a checkpoint needs --resume or --overwrite; a torn log line is cut with a warning', async () => {
  const root = mkdtempSync(join(tmpdir(), 'dllm-train-cli-'));
  try {
    const data = makeData(root);
    assert.equal(
      (await captured(() => dataBuild(['--input', join(root, 'src'), '--out', data, '--vocab-size', '300', '--val-percent', '20']))).error,
      null,
    );
    const run = join(root, 'run');
    const cfgPath = join(root, 'train.json');
    writeFileSync(cfgPath, JSON.stringify({ ...SHAPE, steps: 3, checkpointEvery: 1, data, out: run }));
    const first = await captured(() => train(['--config', cfgPath, '--quiet']));
    assert.equal(first.error, null, first.error?.message);
    assert.equal(stateOf(run).step, 3);
    const log = readFileSync(join(run, 'log.jsonl'));

    // the same command again: refused, and nothing in the folder changes
    const again = await captured(() => train(['--config', cfgPath, '--steps', '2', '--quiet']));
    assert.match(
      again.error?.message ?? '',
      new RegExp(
        `train: ${run} already holds a training checkpoint \\(checkpoint\\); pass --resume to continue it, or --overwrite to discard it`,
      ),
    );
    assert.equal(stateOf(run).step, 3, 'the checkpoint is untouched');
    assert.deepEqual(readFileSync(join(run, 'log.jsonl')), log, 'the log is untouched');
    // also when only the leftovers of an interrupted save are there
    const leftovers = join(root, 'leftovers');
    cpSync(join(run, 'checkpoint'), join(leftovers, 'checkpoint.old'), { recursive: true });
    cpSync(join(run, 'checkpoint'), join(leftovers, 'checkpoint.tmp'), { recursive: true });
    assert.match(
      (await captured(() => train(['--config', cfgPath, '--out', leftovers, '--quiet']))).error?.message ?? '',
      /already holds a training checkpoint \(checkpoint\.tmp, checkpoint\.old\)/,
    );
    assert.match((await captured(() => train(['--resume', '--overwrite', '--out', run, '--quiet']))).error?.message ?? '', /give one/);
    assert.match(
      (await captured(() => train(['--resume', '--out', join(root, 'nothing'), '--quiet']))).error?.message ?? '',
      /no checkpoint to resume/,
    );

    // killed mid-append: a torn last line; --resume cuts it (warning naming the file) and goes on
    appendFileSync(join(run, 'log.jsonl'), '{"event":"step","step":4,"lo');
    const resumed = await captured(() => train(['--resume', '--out', run, '--steps', '5', '--quiet']));
    assert.equal(resumed.error, null, resumed.error?.message);
    assert.match(resumed.stderr, new RegExp(`warning: ${join(run, 'log.jsonl')}: cut a torn last line \\(\\d+ bytes\\)`));
    const lines = readFileSync(join(run, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { event: string; step: number });
    assert.deepEqual(
      lines.filter((e) => e.event === 'resume').map((e) => e.step),
      [3],
    );
    assert.equal(stateOf(run).step, 5);
    // a reader of the log (the loss plot) ignores a torn last line, with a warning naming the file
    appendFileSync(join(run, 'log.jsonl'), '{"event":"st');
    const plot = await captured(() => writeLossPlot(parseTrainConfig({ ...SHAPE, data, out: run })));
    assert.equal(plot.error, null, plot.error?.message);
    assert.match(plot.stderr, new RegExp(`warning: ${join(run, 'log.jsonl')}: ignoring a torn last line`));

    // --overwrite: a fresh run, the old checkpoint gone, the log restarted
    const over = await captured(() => train(['--config', cfgPath, '--steps', '2', '--overwrite', '--quiet']));
    assert.equal(over.error, null, over.error?.message);
    assert.match(over.stderr, /--overwrite: removed/);
    assert.equal(stateOf(run).step, 2);
    assert.equal((JSON.parse(readFileSync(join(run, 'log.jsonl'), 'utf8').split('\n')[0]!) as { event: string }).event, 'start');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

/** `dllm train ARGS`; killed with SIGKILL once `killWhen()` (polled every 5 ms) holds */
function cli(args: string[], killWhen?: () => boolean): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, 'train', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const timer = killWhen
      ? setInterval(() => {
          if (killWhen()) child.kill('SIGKILL');
        }, 5)
      : null;
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearInterval(timer);
      resolve({ code, signal, stderr });
    });
  });
}

/** the last step logged in a run's log.jsonl (the step event is appended just before that step's checkpoint) */
function loggedStep(run: string): number {
  try {
    const m = [...readFileSync(join(run, 'log.jsonl'), 'utf8').matchAll(/"event":"step","step":(\d+)/g)];
    return m.length ? Number(m[m.length - 1]![1]) : 0;
  } catch {
    return 0;
  }
}

test(
  'kill -9 at random moments of a run that checkpoints every step: resumed to bit-identical final weights',
  { timeout: 240_000 },
  async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'dllm-kill9-'));
    try {
      const data = makeData(root);
      assert.equal(
        (await captured(() => dataBuild(['--input', join(root, 'src'), '--out', data, '--vocab-size', '300', '--val-percent', '20'])))
          .error,
        null,
      );
      const flags = (out: string) => [
        ...Object.entries({ ...SHAPE, steps: 24, checkpointEvery: 1 }).flatMap(([k, v]) => [
          `--${k.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase())}`,
          String(v),
        ]),
        '--data',
        data,
        '--out',
        out,
        '--quiet',
      ];
      const whole = join(root, 'whole');
      const w = await cli(flags(whole));
      assert.equal(w.code, 0, w.stderr);
      const run = join(root, 'killed');
      const rng = new Rng(20260);
      let kills = 0,
        resume = false,
        fresh = true,
        done = false;
      for (let attempt = 0; attempt < 40 && !done; attempt++) {
        const args = resume ? ['--resume', '--out', run, '--quiet'] : [...flags(run), ...(fresh ? [] : ['--overwrite'])];
        // a kill a few steps on, up to 15 ms after that step was logged: mostly inside its checkpoint's writes
        const from = loggedStep(run),
          target = from + 1 + Math.floor(rng.next() * 4),
          extra = rng.next() * 15;
        let seenAt = -1;
        const killWhen =
          kills < 6
            ? () => {
                if (seenAt < 0 && loggedStep(run) >= target) seenAt = performance.now();
                return seenAt >= 0 && performance.now() - seenAt >= extra;
              }
            : undefined;
        const r = await cli(args, killWhen);
        fresh = false;
        if (r.signal === 'SIGKILL') {
          kills++;
          resume = ['checkpoint', 'checkpoint.tmp', 'checkpoint.old'].some((d) => existsSync(join(run, d)));
          continue;
        }
        // killed before the first checkpoint was complete: start over, which needs --overwrite
        if (resume && /no checkpoint to resume/.test(r.stderr)) {
          resume = false;
          continue;
        }
        assert.equal(r.code, 0, r.stderr);
        done = true;
      }
      assert.ok(kills >= 3, `${kills} kills landed`);
      t.diagnostic(`${kills} kill -9s landed`);
      assert.equal(stateOf(run).step, 24);
      for (const f of ['model.safetensors', 'optimizer.safetensors']) {
        assert.ok(
          readFileSync(join(run, 'checkpoint', f)).equals(readFileSync(join(whole, 'checkpoint', f))),
          `${f} is bit-identical to the uninterrupted run's`,
        );
      }
      const counters = (r: string) => (({ step, tokens, rng }) => ({ step, tokens, rng }))(stateOf(r));
      assert.deepEqual(counters(run), counters(whole));
      assert.ok(
        !existsSync(join(run, 'checkpoint.tmp')) && !existsSync(join(run, 'checkpoint.old')),
        'nothing left behind but checkpoint/',
      );
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
);
