// `dllm sandbox FILE --lang …` from outside: one JSON line per program (passed, failed, timeout, a memory
// failure), the same pass marker as eval (an early exit(0) fails); without a usable bubblewrap both
// `dllm sandbox` and `dllm eval` refuse, and --unsafe-no-sandbox runs anyway with a warning on stderr, in
// the JSON line and in summary.json.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);
const CLI = new URL('../../../bin/dllm.js', import.meta.url).pathname;
const LLADA = new URL('../../../test/fixtures/llada', import.meta.url).pathname;
const DATA = new URL('../../../test/fixtures/eval-data', import.meta.url).pathname;
const NO_BWRAP = { ...process.env, DLLM_BWRAP: '/nonexistent/bwrap' };

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}
async function dllm(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<Result> {
  try {
    const r = await exec(process.execPath, [CLI, ...args], { env });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

const dir = mkdtempSync(join(tmpdir(), 'dllm-sandbox-cli-'));
const file = (name: string, text: string) => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
test.after(() => rmSync(dir, { recursive: true, force: true }));

test('dllm sandbox: one JSON line per program, with status, exitCode, ms, stdout, stderr', async () => {
  const ok = await dllm(['sandbox', file('ok.py', 'print("hi")\n'), '--lang', 'python']);
  assert.equal(ok.code, 0, ok.stderr);
  const j = JSON.parse(ok.stdout);
  assert.deepEqual(
    { status: j.status, exitCode: j.exitCode, stdout: j.stdout, stderr: j.stderr },
    { status: 'passed', exitCode: 0, stdout: 'hi\n', stderr: '' },
  );
  assert.equal(typeof j.ms, 'number');
  const fail = JSON.parse((await dllm(['sandbox', file('fail.js', 'throw new Error("no");\n'), '--lang', 'node'])).stdout);
  assert.equal(fail.status, 'failed');
  assert.match(fail.stderr, /Error: no/);
  const early = await dllm(['sandbox', file('early.py', 'import os\nprint("__dllm_tests_ran__")\nos._exit(0)\n')]);
  assert.equal(JSON.parse(early.stdout).status, 'failed', 'the language from the extension; an early exit(0) is no pass');
  assert.equal(early.code, 1);
  const slow = JSON.parse(
    (await dllm(['sandbox', file('slow.py', 'while True: pass\n'), '--lang', 'python', '--timeout-ms', '500'])).stdout,
  );
  assert.equal(slow.status, 'timeout');
  const big = JSON.parse(
    (await dllm(['sandbox', file('big.js', 'Buffer.alloc(1e9, 1);\n'), '--lang', 'node', '--memory-mb', '128'])).stdout,
  );
  assert.equal(big.status, 'failed');
  const bad = await dllm(['sandbox', file('x.txt', ''), '--lang', 'ruby']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--lang must be python or node/);
});

test('without a usable sandbox dllm sandbox refuses; --unsafe-no-sandbox runs with a warning', async () => {
  const p = file('hi.py', 'print("hi")\n');
  const no = await dllm(['sandbox', p], NO_BWRAP);
  assert.equal(no.code, 1);
  assert.equal(no.stdout, '');
  assert.match(no.stderr, /refusing to run generated code without a sandbox: bubblewrap is not installed/);
  const yes = await dllm(['sandbox', p, '--unsafe-no-sandbox'], NO_BWRAP);
  assert.equal(yes.code, 0, yes.stderr);
  assert.match(yes.stderr, /WARNING: --unsafe-no-sandbox/);
  const j = JSON.parse(yes.stdout);
  assert.equal(j.status, 'passed');
  assert.equal(j.unsafeNoSandbox, true);
  assert.match(j.warning, /unisolated/);
});

test('without a usable sandbox dllm eval refuses before loading the model; --unsafe-no-sandbox says so in summary.json', async () => {
  const out = join(dir, 'eval');
  const args = [
    'eval',
    'humaneval',
    '--model',
    LLADA,
    '--limit',
    '1',
    '--out',
    out,
    '--gen-length',
    '8',
    '--block-length',
    '8',
    '--quiet',
    '--data',
    DATA,
  ];
  const no = await dllm(args, NO_BWRAP);
  assert.equal(no.code, 1);
  assert.match(no.stderr, /refusing to run generated code without a sandbox/);
  const yes = await dllm([...args, '--out', join(dir, 'eval-unsafe'), '--unsafe-no-sandbox'], NO_BWRAP);
  assert.equal(yes.code, 0, yes.stderr);
  assert.match(yes.stderr, /WARNING: --unsafe-no-sandbox/);
  const summary = JSON.parse(readFileSync(join(dir, 'eval-unsafe', 'summary.json'), 'utf8'));
  assert.equal(summary.isolation.unsafeNoSandbox, true);
  assert.equal(summary.isolation.sandbox, null);
  assert.match(summary.isolation.warning, /unisolated/);
  assert.equal(summary.sandbox.unsafeNoSandbox, true, 'in the settings too: resuming it sandboxed is another run');
  const safe = await dllm([...args, '--out', join(dir, 'eval-safe')]);
  assert.equal(safe.code, 0, safe.stderr);
  const s = JSON.parse(readFileSync(join(dir, 'eval-safe', 'summary.json'), 'utf8'));
  assert.match(s.isolation.sandbox, /bubblewrap/);
  assert.equal('unsafeNoSandbox' in s.sandbox, false);
});
