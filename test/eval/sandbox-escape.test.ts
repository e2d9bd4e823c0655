// Hostile programs against the host's files, sockets and privileges, and against the verdict, each must
// fail to do harm: connecting to Unix sockets on the host (a socket file and an abstract one), reading
// world-readable files outside the sandbox (the repository, the eval data), leaving files in /tmp or
// /dev/shm, forging the pass marker, gaining root through a setuid binary.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { runSandboxed } from '../../src/platform/node-sandbox.js';
import { report, token } from './sandbox-helpers.js';

const O = { timeoutMs: 3000, memoryMb: 256 };
const listen = (s: Server, path: string) =>
  new Promise<void>((ok, fail) => {
    s.once('error', fail);
    s.listen(path, ok);
  });
const close = (s: Server) => new Promise<void>((ok) => s.close(() => ok()));

test('Unix sockets on the host are unreachable: a socket file in /tmp or the repository, an abstract socket', async () => {
  const dirs = [mkdtempSync(join(tmpdir(), 'dllm-sock-')), mkdtempSync(resolve('build/dllm-sock-'))];
  const paths = [...dirs.map((d) => join(d, 's.sock')), `\0${token('abstract')}`];
  let connections = 0;
  const servers = paths.map(() =>
    createServer((c) => {
      connections++;
      c.end('secret\n');
    }),
  );
  try {
    for (let i = 0; i < paths.length; i++) {
      await listen(servers[i]!, paths[i]!);
      if (i < dirs.length) {
        chmodSync(dirs[i]!, 0o755);
        chmodSync(paths[i]!, 0o777);
      } // anyone on the host may connect
    }
    // the control: from the host every one answers
    for (const p of paths)
      await new Promise<void>((ok, fail) =>
        connect(p)
          .on('data', () => ok())
          .on('error', fail),
      );
    const seen = connections;
    const r = await runSandboxed(
      'python',
      `import json, socket
out = {}
for p in ${JSON.stringify(paths)}:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(p)
        out[p] = "connected: " + s.recv(100).decode()
    except OSError as e:
        out[p] = type(e).__name__
print(json.dumps(out))
`,
      O,
    );
    assert.equal(r.status, 'passed', r.stderr);
    for (const [p, what] of Object.entries(report(r.stdout)))
      assert.doesNotMatch(String(what), /connected/, `${JSON.stringify(p)}: ${what}`);
    assert.equal(connections, seen, 'no connection reached a host server');
  } finally {
    for (const s of servers) await close(s);
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  }
});

test('world-readable files outside the sandbox cannot be read: the repository, the eval data, /etc', async () => {
  mkdirSync('build', { recursive: true });
  const secret = resolve(`build/${token('secret')}.txt`);
  writeFileSync(secret, 'the answers\n', { mode: 0o644 });
  const data = resolve('test/fixtures/eval-data');
  const targets = [
    secret,
    join(data, 'README.md'),
    resolve('package.json'),
    '/work/shared/data/README.md',
    '/etc/passwd',
    '/etc/hostname',
    '/root/.bashrc',
    '/home',
  ];
  try {
    assert.ok(statSync(secret).mode & 0o004, 'the control: the file is world-readable on the host');
    const r = await runSandboxed(
      'python',
      `import json, os
out = {}
for p in ${JSON.stringify(targets)}:
    try:
        out[p] = "listed" if os.path.isdir(p) and os.listdir(p) else open(p).read()[:40]
    except OSError as e:
        out[p] = type(e).__name__
print(json.dumps(out))
`,
      O,
    );
    assert.equal(r.status, 'passed', r.stderr);
    const got = report(r.stdout);
    for (const p of targets) assert.match(String(got[p]), /Error$/, `${p}: ${got[p]}`);
    const n = await runSandboxed(
      'node',
      `try { console.log(require('node:fs').readFileSync(${JSON.stringify(secret)}, 'utf8')); } catch (e) { console.log(e.code); }\n`,
      O,
    );
    assert.equal(n.stdout.trim(), 'ENOENT');
  } finally {
    rmSync(secret, { force: true });
  }
});

test('files written to /tmp and /dev/shm stay in the sample: private, gone afterwards', async () => {
  const name = token('leak');
  const r = await runSandboxed(
    'python',
    `import json
out = {}
for d in ["/tmp", "/dev/shm", "/sample", "/usr", "/var/tmp"]:
    try:
        open(d + "/${name}", "w").write("left behind")
        out[d] = "wrote"
    except OSError as e:
        out[d] = type(e).__name__
print(json.dumps(out))
`,
    O,
  );
  assert.equal(r.status, 'passed', r.stderr);
  const got = report(r.stdout);
  assert.equal(got['/tmp'], 'wrote', 'the sample has a writable /tmp of its own');
  assert.equal(got['/dev/shm'], 'wrote');
  for (const d of ['/sample', '/usr', '/var/tmp']) assert.match(String(got[d]), /Error$/, `${d}: ${got[d]}`);
  for (const d of ['/tmp', '/dev/shm', '/var/tmp']) assert.equal(existsSync(join(d, name)), false, `${d}/${name} on the host`);
  const again = await runSandboxed(
    'python',
    `import os\nassert not os.path.exists("/tmp/${name}") and not os.path.exists("/dev/shm/${name}")\n`,
    O,
  );
  assert.equal(again.status, 'passed', 'the next sample does not find them either');
});

test('a forged pass marker: printing the old fixed marker or anything found in files, argv or the environment, then exit(0)', async () => {
  const py = await runSandboxed(
    'python',
    `import os, re, sys
seen = "__dllm_tests_ran__\\n__dllm_pass_" + "0" * 32 + "__\\n"
for p in ["/sample/prog.py", "/sample/run.py", "/proc/self/cmdline", "/proc/self/environ", "/proc/1/cmdline", "/proc/1/environ"]:
    try:
        seen += open(p, errors="replace").read()
    except OSError:
        pass
seen += sys.stdin.read() + repr(sys.argv) + repr(dict(os.environ))
for m in re.findall(r"__dllm_[A-Za-z0-9_]*__", seen):
    print(m)
print(seen)
sys.stdout.flush()
os._exit(0)
assert False, "the tests"
`,
    O,
  );
  assert.equal(py.status, 'failed', py.stdout.slice(-300));
  const node = await runSandboxed(
    'node',
    `const fs = require('node:fs');
let seen = '__dllm_tests_ran__\\n';
for (const p of ['/sample/prog.js', '/sample/run.js', '/proc/self/cmdline', '/proc/1/cmdline']) { try { seen += fs.readFileSync(p, 'utf8'); } catch {} }
console.log(seen + JSON.stringify(process.env) + process.argv.join(' '));
process.exit(0);
throw new Error('the tests');
`,
    O,
  );
  assert.equal(node.status, 'failed');
});

test('a setuid binary gains nothing: NoNewPrivs, nosuid mounts, su/passwd fail, a setuid-root copy stays unprivileged', async (t) => {
  const r = await runSandboxed(
    'python',
    `import json, re, subprocess
status = open("/proc/self/status").read()
mounts = [l.split()[4] for l in open("/proc/self/mountinfo") if "nosuid" not in l.split()[5]]
runs = {b: subprocess.run([b, "root"], capture_output=True, stdin=subprocess.DEVNULL).returncode for b in ["/usr/bin/su", "/usr/bin/passwd"]}
print(json.dumps({"nnp": re.search(r"NoNewPrivs:\\s+(\\d)", status).group(1), "capEff": re.search(r"CapEff:\\s+(\\w+)", status).group(1), "suidMounts": mounts, "runs": runs}))
`,
    O,
  );
  assert.equal(r.status, 'passed', r.stderr);
  const got = report(r.stdout) as { nnp: string; capEff: string; suidMounts: string[]; runs: Record<string, number> };
  assert.equal(got.nnp, '1');
  assert.match(got.capEff, /^0+$/);
  assert.deepEqual(got.suidMounts, [], 'every mount is nosuid');
  for (const [b, code] of Object.entries(got.runs)) assert.notEqual(code, 0, b);
  if (process.getuid?.() !== 0) {
    t.diagnostic('not root: no setuid-root copy to make');
    return;
  }
  // the control: a setuid-root copy of cat, run as nobody on the host, is root (effective uid 0)
  const dir = mkdtempSync(join(tmpdir(), 'dllm-suid-'));
  try {
    chmodSync(dir, 0o755);
    const cat = join(dir, 'cat');
    copyFileSync('/usr/bin/cat', cat);
    chmodSync(cat, 0o4755);
    const host = spawnSync('/usr/bin/setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', cat, '/proc/self/status'], {
      encoding: 'utf8',
    });
    assert.match(host.stdout, /^Uid:\s+65534\s+0\s/m, 'on the host the copy runs with effective uid 0');
    const inside = await runSandboxed(
      'python',
      `import subprocess\nprint(subprocess.run(["/opt/suid/cat", "/proc/self/status"], capture_output=True, text=True).stdout)\n`,
      O,
      [[dir, '/opt/suid']],
    );
    assert.equal(inside.status, 'passed', inside.stderr);
    assert.match(inside.stdout, /^Uid:\s+65534\s+65534\s+65534\s+65534/m);
    assert.match(inside.stdout, /^CapEff:\s+0+$/m);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
