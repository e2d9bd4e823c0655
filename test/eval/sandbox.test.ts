// The execution sandbox, ordinary programs: pass / fail in Python and in Node, an infinite loop killed by
// the timeout, a memory bomb stopped by the memory limit (not the timeout), no network, not root, an early
// exit(0) is no pass, TypeScript that does not parse fails. The hostile programs are in sandbox-hostile*.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isolation, runSandboxed } from '../../src/platform/node-sandbox.js';

const O = { timeoutMs: 3000, memoryMb: 256 };

test('this machine runs samples in the sandbox (CI installs bubblewrap)', (t) => {
  const iso = isolation();
  t.diagnostic(`isolation: ${JSON.stringify(iso)}`);
  assert.ok(iso.sandbox, `no sandbox: ${iso.reason}`);
  if (process.getuid?.() === 0) assert.match(iso.user, /nobody/);
});

test('pass and fail, with stdout and stderr', async () => {
  const p = await runSandboxed('python', 'print("hello")\nassert 1 + 1 == 2\n', O);
  assert.equal(p.status, 'passed', p.stderr);
  assert.equal(p.stdout, 'hello\n', "the program's own output, without the pass marker");
  const f = await runSandboxed('python', 'assert 1 + 1 == 3\n', O);
  assert.equal(f.status, 'failed');
  assert.match(f.stderr, /AssertionError/);
  assert.equal((await runSandboxed('node', 'require("node:assert").deepEqual([1], [1]);\n', O)).status, 'passed');
  assert.equal((await runSandboxed('node', 'require("node:assert").deepEqual([1], [2]);\n', O)).status, 'failed');
});

test('an infinite loop is killed at the timeout, with its children', async () => {
  const t0 = performance.now();
  const r = await runSandboxed(
    'python',
    'import subprocess, sys\nsubprocess.Popen([sys.executable, "-c", "while True: pass"])\nwhile True:\n    pass\n',
    { ...O, timeoutMs: 1000 },
  );
  assert.equal(r.status, 'timeout');
  const ms = performance.now() - t0;
  assert.ok(ms < 4000, `killed after ${Math.round(ms)} ms (timeout 1000 ms)`);
  const n = await runSandboxed('node', 'for (;;) {}\n', { ...O, timeoutMs: 1000 });
  assert.equal(n.status, 'timeout');
});

test('a memory bomb is stopped by the memory limit, not the timeout', async () => {
  const t0 = performance.now();
  const r = await runSandboxed('python', 'x = []\nwhile True:\n    x.append(bytearray(10**7))\n', { ...O, timeoutMs: 20_000 });
  assert.equal(r.status, 'memory', `${r.status}: ${r.stderr}`);
  assert.ok(performance.now() - t0 < 20_000);
  const big = await runSandboxed('python', "x = ' ' * 10**10\n", O);
  assert.equal(big.status, 'memory', big.stderr);
  const n = await runSandboxed('node', 'const a = []; for (;;) a.push(new Array(1e6).fill(1.5));\n', { ...O, timeoutMs: 20_000 });
  assert.equal(n.status, 'memory', `${n.status}: ${n.stderr.slice(-300)}`);
});

test("no network (TCP to the internet and to the host's loopback), not root", async () => {
  const net = await runSandboxed('python', 'import socket\nsocket.create_connection(("1.1.1.1", 53), timeout=2)\n', O);
  assert.equal(net.status, 'failed');
  assert.match(net.stderr, /OSError|unreachable|Network/i);
  const local = await runSandboxed(
    'node',
    'require("node:http").get("http://127.0.0.1:1/", () => {}).on("error", (e) => { console.error(e.code); process.exit(3); });\n',
    O,
  );
  assert.equal(local.status, 'failed');
  const who = await runSandboxed('python', 'import os\nassert os.getuid() != 0 and os.geteuid() != 0, "running as root"\n', O);
  assert.equal(who.status, 'passed', who.stderr);
  const write = await runSandboxed('python', 'open("/root/dllm-sandbox-probe", "w").write("x")\n', O);
  assert.equal(write.status, 'failed', 'no /root to write into');
});

test('exiting early with status 0 is not a pass; TypeScript that does not parse fails', async () => {
  for (const prog of ['import sys\nsys.exit(0)\nassert False\n', 'import os\nos._exit(0)\n']) {
    const r = await runSandboxed('python', prog, O);
    assert.equal(r.status, 'failed', `${JSON.stringify(prog)}: ${r.stderr}`);
  }
  assert.equal((await runSandboxed('node', 'process.exit(0);\nthrow new Error("tests");\n', O)).status, 'failed');
  const { runnable } = await import('../../src/platform/node-eval-check.js');
  const sample = {
    id: 't',
    prompt: 'function f(x: number): number {\n',
    stop: [],
    lang: 'ts' as const,
    reference: null,
    program: (c: string) => `function f(x: number): number {\n${c}\nconsole.log(f(1));\n`,
  };
  const bad = runnable(sample, '  return x +;\n}\n');
  assert.equal((await runSandboxed(bad.lang, bad.program, O)).status, 'failed', 'a syntax error fails');
  const good = runnable(sample, '  return x + 1;\n}\n');
  assert.equal((await runSandboxed(good.lang, good.program, O)).status, 'passed');
});
