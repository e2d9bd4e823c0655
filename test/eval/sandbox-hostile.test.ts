// Hostile programs against processes and memory, each must fail to do harm: a double-fork setsid daemon
// (it must not outlive its sample), a daemon holding stdout (the run must not wait for it), 300 processes
// and a fork bomb (capped per sample), memory over the limit in one process and across many children
// (Python and Node), killing the parent, killing a concurrent sample.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isolation, MAX_TASKS, runSandboxed } from '../../src/platform/node-sandbox.js';
import { processesWith, report, sleep, token } from './sandbox-helpers.js';

const O = { timeoutMs: 3000, memoryMb: 256 };
const wholeSample = () => /whole sample/.test(isolation().limits.memory);

/** a Python double fork: setsid, fork again, exec a sleeper whose command line carries `tag` */
const daemon = (tag: string, closeStdout: boolean) => `import os, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        code = "import os, time\\nprint('daemon up', flush=True)\\n" + ("fd = os.open(os.devnull, os.O_WRONLY); os.dup2(fd, 1); os.dup2(fd, 2)\\n" if ${closeStdout ? 'True' : 'False'} else "") + "time.sleep(1000)"
        os.execv(sys.executable, [sys.executable, '-c', code, ${JSON.stringify(tag)}])
    os._exit(0)
time.sleep(0.5)
`;

test('a double-fork setsid daemon dies with its sample: when the program exits and at the timeout', async () => {
  for (const tail of ['', 'while True:\n    time.sleep(1)\n']) {
    const tag = token('daemon');
    const r = await runSandboxed('python', daemon(tag, true) + tail, { ...O, timeoutMs: 1500 });
    assert.match(r.stdout, /daemon up/, 'the daemon started');
    assert.equal(r.status, tail ? 'timeout' : 'passed', r.stderr);
    assert.deepEqual(processesWith(tag), [], 'no process of the sample is left on the host');
  }
});

test('a daemon holding stdout open: the run returns when the program exits, or at the timeout', async () => {
  const tag = token('stdout');
  const exits = await runSandboxed('python', daemon(tag, false), { ...O, timeoutMs: 5000 });
  assert.equal(exits.status, 'passed', exits.stderr);
  assert.ok(exits.ms < 3000, `returned after ${exits.ms} ms; the daemon sleeps 1000 s`);
  const loops = await runSandboxed('python', daemon(tag, false) + 'while True:\n    time.sleep(1)\n', { ...O, timeoutMs: 1500 });
  assert.equal(loops.status, 'timeout');
  assert.ok(loops.ms < 3500, `returned after ${loops.ms} ms (timeout 1500 ms)`);
  const node = await runSandboxed(
    'node',
    `require('node:child_process').spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', '${tag}'], { detached: true, stdio: 'inherit' }).unref();\n`,
    { ...O, timeoutMs: 5000 },
  );
  assert.equal(node.status, 'passed', node.stderr);
  assert.ok(node.ms < 3000, `node: returned after ${node.ms} ms`);
  assert.deepEqual(processesWith(tag), []);
});

test('300 processes: a sample gets at most MAX_TASKS; a fork bomb is capped and killed at the timeout', async (t) => {
  t.diagnostic(`processes: ${isolation().limits.processes}`);
  const r = await runSandboxed(
    'python',
    `import json, os, time
n = 0
for i in range(300):
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        time.sleep(10)
        os._exit(0)
    n += 1
print(json.dumps({"forked": n}))
`,
    O,
  );
  const forked = report(r.stdout)['forked'] as number;
  assert.ok(forked < MAX_TASKS, `forked ${forked} of 300`);
  const tag = token('bomb');
  const bomb = await runSandboxed(
    'python',
    `import os, sys
os.execv(sys.executable, [sys.executable, '-c', "import os\\nwhile True:\\n    try:\\n        os.fork()\\n    except OSError:\\n        pass", ${JSON.stringify(tag)}])
`,
    { ...O, timeoutMs: 1500 },
  );
  assert.equal(bomb.status, 'timeout');
  assert.deepEqual(processesWith(tag), [], 'every fork is gone');
});

test('memory over the limit: one process, Python and Node', async () => {
  const py = await runSandboxed('python', "x = b'\\x01' * (1 << 30)\n", O);
  assert.equal(py.status, 'memory', `${py.status}: ${py.stderr.slice(-300)}`);
  // filled, so the pages are really used (an unfilled Buffer.alloc maps zero pages and costs nothing)
  const node = await runSandboxed('node', 'const b = Buffer.alloc(1.5e9, 1);\nconsole.log(b[b.length - 1]);\n', O);
  assert.notEqual(node.status, 'passed', 'a 1.5 GB buffer under a 256 MB limit');
  if (wholeSample()) assert.equal(node.status, 'memory', node.stderr.slice(-300));
});

test('memory over the limit across many children (each below it), Python and Node', async (t) => {
  if (!wholeSample()) {
    t.skip(`the memory limit is per process here (${isolation().limits.memory}): children add up`);
    return;
  }
  const py = await runSandboxed(
    'python',
    `import os, time
kids = []
for i in range(6):
    pid = os.fork()
    if pid == 0:
        x = b'\\x01' * (200 << 20)
        time.sleep(1)
        os._exit(0)
    kids.append(pid)
codes = [os.waitpid(k, 0)[1] for k in kids]
assert codes == [0] * 6, codes
`,
    O,
  );
  assert.notEqual(py.status, 'passed');
  assert.ok(py.peakMemoryMb !== null && py.peakMemoryMb <= O.memoryMb, `peak ${py.peakMemoryMb} MB, limit ${O.memoryMb} MB`);
  const node = await runSandboxed(
    'node',
    `const { spawn } = require('node:child_process');
let left = 6, bad = 0;
for (let i = 0; i < 6; i++) spawn(process.execPath, ['-e', 'const b = Buffer.alloc(2e8, 1); setTimeout(() => console.log(b[0]), 1000);'], { stdio: 'ignore' })
  .on('exit', (code) => { if (code !== 0) bad++; if (--left === 0 && bad) { console.error(bad + ' children failed'); process.exitCode = 1; } });
`,
    O,
  );
  assert.notEqual(node.status, 'passed');
  assert.ok(node.peakMemoryMb !== null && node.peakMemoryMb <= O.memoryMb, `peak ${node.peakMemoryMb} MB`);
});

test('killing the parent: the sample cannot reach bwrap, the test process or its parent', async () => {
  const r = await runSandboxed(
    'python',
    `import json, os, signal
tried = {}
for name, pid in [("ppid", os.getppid()), ("init", 1), ("host test", ${process.pid}), ("host runner", ${process.ppid})]:
    try:
        os.kill(pid, signal.SIGKILL)
        tried[name] = "sent"
    except OSError as e:
        tried[name] = type(e).__name__
try:
    os.kill(-1, signal.SIGKILL)
except OSError:
    pass
print(json.dumps(tried))
`,
    O,
  );
  assert.equal(r.status, 'passed', r.stderr);
  const tried = report(r.stdout);
  assert.equal(tried['host test'], 'ProcessLookupError', "host pids do not exist in the sample's PID namespace");
  assert.equal(tried['host runner'], 'ProcessLookupError');
  const n = await runSandboxed('node', 'try { process.kill(process.ppid, "SIGKILL"); } catch (e) { console.log(e.code); }\n', O);
  assert.equal(n.status, 'passed', n.stderr);
  process.kill(process.ppid, 0); // the test runner is alive (throws otherwise)
});

test("killing a concurrent sample: by every pid it can name, by kill(-1), by the other's host pid", async () => {
  const tag = token('victim');
  const victim = runSandboxed(
    'python',
    `import subprocess, sys
subprocess.run([sys.executable, '-c', 'import time; time.sleep(2.5)', ${JSON.stringify(tag)}], check=True)
print('victim alive')
`,
    { ...O, timeoutMs: 8000 },
  );
  let host: number[] = [];
  for (let i = 0; i < 100 && !host.length; i++) {
    host = processesWith(tag);
    await sleep(20);
  }
  assert.ok(host.length, 'the victim started');
  const killer = await runSandboxed(
    'python',
    `import os, signal
me = os.getpid()
for pid in [${host.join(', ')}] + list(range(2, 1 << 16)):
    if pid != me:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
try:
    os.kill(-1, signal.SIGKILL)
except OSError:
    pass
`,
    O,
  );
  assert.equal(killer.status, 'passed', killer.stderr);
  const v = await victim;
  assert.equal(v.status, 'passed', `the victim: ${v.status} ${v.stderr}`);
  assert.match(v.stdout, /victim alive/);
});
