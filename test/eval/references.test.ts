// The harness is right when the references pass through it: every HumanEval canonical solution, the MBPP
// test split's reference code (with test_setup_code after it), HumanEval single-line infilling middles
// (every 4th record: 259 of 1033) and hand-written HumanEval-TS solutions (MultiPL-E ships no reference
// code) pass; wrong answers fail. Data: the copies in test/fixtures/eval-data (DLLM_EVAL_DATA overrides).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { cutMiddle } from '../../src/eval/tasks.js';
import { checkAll } from '../../src/platform/node-eval-check.js';
import { loadTask } from '../../src/platform/node-eval-data.js';
import { fileURLToPath } from 'node:url';

const DATA = process.env['DLLM_EVAL_DATA'] ?? fileURLToPath(new URL('../../../test/fixtures/eval-data/', import.meta.url));
const O = { timeoutMs: 20_000, memoryMb: 1024 };

async function passRate(task: 'humaneval' | 'mbpp' | 'humaneval-infilling', every = 1): Promise<{ n: number; failed: string[] }> {
  const t = loadTask(task, DATA);
  assert.equal(t.kind, 'code');
  const samples = (t.samples as import('../../src/eval/tasks.js').CodeSample[]).filter((_, i) => i % every === 0);
  const out = await checkAll(
    samples.map((sample) => ({ sample, completion: cutMiddle(sample, sample.reference!) })),
    O,
  );
  return {
    n: samples.length,
    failed: samples.filter((_, i) => out[i]!.status !== 'passed').map((s, i) => `${s.id}: ${out[i]!.status} ${out[i]!.stderr.slice(-200)}`),
  };
}

test('HumanEval: all 164 canonical solutions pass; an empty body fails', async () => {
  const r = await passRate('humaneval');
  assert.equal(r.n, 164);
  assert.deepEqual(r.failed, []);
  const t = loadTask('humaneval', DATA);
  const [bad] = await checkAll([{ sample: t.samples[0] as never, completion: '\n    return None\n' }], O);
  assert.equal(bad!.status, 'failed');
});

test('HumanEval prompts are stripped as bigcode-evaluation-harness does; the reference program stays byte-identical', () => {
  const strip = loadTask('humaneval', DATA).samples as import('../../src/eval/tasks.js').CodeSample[];
  const full = loadTask('humaneval', DATA, 'single-line', false).samples as import('../../src/eval/tasks.js').CodeSample[];
  assert.equal(strip.length, 164);
  for (const [i, s] of strip.entries()) {
    const f = full[i]!;
    assert.ok(!/\s$/.test(s.prompt), `${s.id}: the stripped prompt still ends in whitespace`);
    assert.ok(/\n$/.test(f.prompt), `${f.id}: the unstripped prompt should keep its final newline`);
    // the model writes the cut tail itself; the reference gets it back, so prompt + reference is the original file
    assert.equal(s.prompt + s.reference!, f.prompt + f.reference!, `${s.id}: stripped prompt + reference differs from the original`);
    assert.equal(s.program(s.reference!), f.program(f.reference!), `${s.id}: the checked program differs`);
  }
});

test('MBPP test split (ids 11–510): all 500 reference solutions pass', async () => {
  const r = await passRate('mbpp');
  assert.equal(r.n, 500);
  assert.deepEqual(r.failed, []);
});

test('HumanEval single-line infilling: reference middles pass (every 4th record)', async () => {
  const r = await passRate('humaneval-infilling', 4);
  assert.equal(r.n, 259);
  assert.deepEqual(r.failed, []);
});

test('HumanEval-TS: hand-written solutions pass through the TypeScript path, wrong ones fail', async () => {
  const t = loadTask('humaneval-ts', DATA);
  assert.equal(t.samples.length, 159);
  const by = (name: string) => t.samples.find((s) => s.id === name)! as import('../../src/eval/tasks.js').CodeSample;
  const cases = [
    { sample: by('HumanEval_23_strlen'), completion: '  return string.length;\n}\n', ok: true },
    { sample: by('HumanEval_23_strlen'), completion: '  return 0;\n}\n', ok: false },
    { sample: by('HumanEval_53_add'), completion: '  return x + y;\n}\n', ok: true },
    { sample: by('HumanEval_53_add'), completion: '  return x - y;\n}\n', ok: false },
  ];
  const out = await checkAll(cases, O);
  cases.forEach((c, i) =>
    assert.equal(
      out[i]!.status,
      c.ok ? 'passed' : 'failed',
      `${c.sample.id} ${JSON.stringify(c.completion)}: ${out[i]!.stderr.slice(-300)}`,
    ),
  );
});
