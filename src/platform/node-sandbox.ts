// Running generated code: a separate sandbox per program (node-bwrap.ts: bubblewrap, as nobody when we are
// root), its own cgroup for memory, tasks and CPU where the machine allows it (node-cgroup.ts), rlimits
// for the rest, and a wall-clock timeout that takes down every process of the sample. Without a usable
// sandbox nothing runs unless the caller asked for it (unsafeNoSandbox): the code comes from a model, and
// anyone evaluating someone else's model runs that model's output.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asRoot, jailCommand, NOBODY, nodeBinary, probeBwrap, PYTHON, SAMPLE_DIR, type BwrapProbe } from './node-bwrap.js';
import { cgroupSupport, createGroup, type RunGroup } from './node-cgroup.js';

export type Lang = 'python' | 'node';

export interface SandboxOptions {
  timeoutMs: number;
  memoryMb: number;
  /** run without the sandbox, as the current user, with its files and network: only when the user said so */
  unsafeNoSandbox?: boolean;
}

export interface RunOutcome {
  /** passed = exit 0 after its last line ran; error = the sandbox itself could not run it */
  status: 'passed' | 'failed' | 'timeout' | 'memory' | 'error';
  exitCode: number | null;
  signal: string | null;
  /** the last 4 000 characters of stdout, without the pass marker */
  stdout: string;
  /** the last 2 000 characters of stderr */
  stderr: string;
  ms: number;
  /** the sample's peak memory (all its processes) where a cgroup measured it */
  peakMemoryMb: number | null;
}

export interface Isolation {
  /** the sandbox in use, or null: then `reason` says why and nothing runs without unsafeNoSandbox */
  sandbox: string | null;
  reason: string | null;
  user: string;
  /** what enforces each limit here, and over what: the whole sample or each process */
  limits: { memory: string; processes: string; cpu: string; fileSize: string; openFiles: string };
}

export const SANDBOX_DEFAULTS: Readonly<SandboxOptions> = Object.freeze({ timeoutMs: 10_000, memoryMb: 1024 });
/** tasks (processes and threads) per sample: Node alone starts ~10 threads, a fork bomb stops here */
export const MAX_TASKS = 128;
const OPEN_FILES = 512;
const FILE_SIZE_MB = 64;
const NODE_RESERVED = 1024 * 1024 * 1024;
export const UNSAFE_WARNING =
  'WARNING: --unsafe-no-sandbox: generated code runs unisolated, as this user, with its files, network and processes; only for code you trust';

// The runners read the per-run pass marker from stdin before the program runs and print it after the
// program's last line: a program that exits early (sys.exit(0), os._exit(0), process.exit(0)) never
// prints it, and it is in no file the program can read, so printing a fixed string forges nothing.
const PY_RUNNER = `import os, runpy, sys
m = b''
while not m.endswith(b'\\n'):
    c = os.read(0, 256)
    if not c:
        break
    m += c
n = os.open(os.devnull, os.O_RDONLY); os.dup2(n, 0); os.close(n)
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
for s in (sys.stdout, sys.__stdout__):
    try:
        s.flush()
    except Exception:
        pass
os.write(1, b'\\n' + m)
`;
const NODE_RUNNER = `'use strict';
const { readSync, writeSync } = require('node:fs');
const buf = Buffer.alloc(256);
let m = '';
for (;;) { const n = readSync(0, buf, 0, buf.length, null); if (!n) break; m += buf.toString('latin1', 0, n); if (m.endsWith('\\n')) break; }
require(require('node:path').resolve(process.argv[2]));
writeSync(1, '\\n' + m);
`;

let probed: { probe: BwrapProbe; iso: Isolation } | null = null;

function probe(): { probe: BwrapProbe; iso: Isolation } {
  if (probed) return probed;
  const dir = sampleDir();
  let p: BwrapProbe;
  try {
    p = probeBwrap(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const cg = cgroupSupport(),
    v = `cgroup v${cg.version}`;
  const uid = asRoot() ? NOBODY : (process.getuid?.() ?? -1);
  const iso: Isolation = {
    sandbox: p.ok
      ? `${p.version ?? 'bubblewrap'}: user, PID, network, IPC, UTS, cgroup and mount namespaces; read-only /usr, private /tmp and /dev/shm; NoNewPrivs`
      : null,
    reason: p.reason,
    user: uid === NOBODY ? `nobody (${NOBODY})` : `uid ${uid} (not root: the current user)`,
    limits: {
      memory: cg.memory
        ? `${v} memory ceiling for the whole sample`
        : 'per process only (RLIMIT_AS: the limit for Python, the limit + 1 GB for Node, whose V8 reserves address space): children add up',
      processes: cg.pids
        ? `${v} pids.max ${MAX_TASKS} tasks per sample`
        : `RLIMIT_NPROC: ${MAX_TASKS} tasks beyond what uid ${uid} runs already, shared by concurrent samples`,
      cpu: `${cg.cpu ? `${v} quota of 1 CPU per sample; ` : ''}RLIMIT_CPU per process; the wall-clock timeout for the whole sample`,
      fileSize: `RLIMIT_FSIZE ${FILE_SIZE_MB} MB per file${p.features.tmpfsSize ? '; /tmp and /dev/shm each hold at most the memory limit' : ''}`,
      openFiles: `RLIMIT_NOFILE ${OPEN_FILES} per process`,
    },
  };
  probed = { probe: p, iso };
  return probed;
}

/** what isolates samples on this machine (probed once) */
export function isolation(): Isolation {
  return probe().iso;
}

/** what --unsafe-no-sandbox leaves: the rlimits, the timeout of the process group, nothing else */
export function unsafeIsolation(): Isolation & { unsafeNoSandbox: true; warning: string } {
  return {
    sandbox: null,
    reason: 'run with --unsafe-no-sandbox',
    user: `uid ${process.getuid?.() ?? '?'} (the current user)`,
    unsafeNoSandbox: true,
    warning: UNSAFE_WARNING,
    limits: {
      memory: 'per process only (RLIMIT_AS for Python, the V8 heap limit for Node): children add up',
      processes: 'none',
      cpu: 'RLIMIT_CPU per process; the timeout kills the process group only (a setsid daemon survives)',
      fileSize: `RLIMIT_FSIZE ${FILE_SIZE_MB} MB per file, anywhere this user may write`,
      openFiles: `RLIMIT_NOFILE ${OPEN_FILES} per process`,
    },
  };
}

/** throws unless samples can run isolated here or the user accepted running them unisolated */
export function requireIsolation(unsafeNoSandbox = false): void {
  const iso = isolation();
  if (!iso.sandbox && !unsafeNoSandbox) {
    throw new Error(
      `refusing to run generated code without a sandbox: ${iso.reason}. Install bubblewrap, or pass --unsafe-no-sandbox to run it unisolated (only for code you trust)`,
    );
  }
}

function sampleDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'dllm-exec-'));
  chmodSync(dir, 0o755); // nobody reads the program and its runner; the sandbox mounts the folder read-only
  return dir;
}

/** tasks that uid runs now: RLIMIT_NPROC counts them too, so the sample's budget goes on top */
function tasksOf(uid: number): number {
  let n = 0;
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const s = readFileSync(`/proc/${p}/status`, 'utf8');
      if (Number(/^Uid:\s+(\d+)/m.exec(s)?.[1]) === uid) n += Number(/^Threads:\s+(\d+)/m.exec(s)?.[1] ?? 1);
    } catch {
      /* exited meanwhile */
    }
  }
  return n;
}

/**
 * run one program to its end; passed = exit 0 after its last line ran; else failed, unless the time or
 * memory limit caused it. `binds`: extra read-only host paths in the sandbox (tests only)
 */
export async function runSandboxed(
  lang: Lang,
  source: string,
  o: SandboxOptions = SANDBOX_DEFAULTS,
  binds?: ReadonlyArray<readonly [string, string]>,
): Promise<RunOutcome> {
  const unsafe = o.unsafeNoSandbox === true;
  if (!unsafe) requireIsolation();
  const marker = `__dllm_pass_${randomBytes(16).toString('hex')}__`;
  const dir = sampleDir();
  const [prog, runner] = lang === 'python' ? ['prog.py', 'run.py'] : ['prog.js', 'run.js'];
  writeFileSync(join(dir, prog), source, { mode: 0o644 });
  writeFileSync(join(dir, runner), lang === 'python' ? PY_RUNNER : NODE_RUNNER, { mode: 0o644 });
  const at = unsafe ? dir : SAMPLE_DIR;
  const argv =
    lang === 'python'
      ? [PYTHON, '-I', join(at, runner), join(at, prog)]
      : [nodeBinary(), `--max-old-space-size=${o.memoryMb}`, join(at, runner), join(at, prog)];
  const bytes = o.memoryMb * 1024 * 1024;
  const rlimits: Record<string, number> = { nofile: OPEN_FILES, fsize: FILE_SIZE_MB * 1024 * 1024, cpu: Math.ceil(o.timeoutMs / 1000) + 1 };
  if (lang === 'python')
    rlimits['as'] = bytes; // a clean MemoryError
  // V8 reserves ~0.7 GB of address space before the first line runs, so Node's address-space limit has
  // to leave that room; only without a memory cgroup, which counts what is used instead
  else if (!unsafe && !cgroupSupport().memory) rlimits['as'] = bytes + NODE_RESERVED;
  let group: RunGroup | null = null,
    cmd: string[];
  if (unsafe) cmd = ['/usr/bin/prlimit', ...Object.entries(rlimits).map(([k, v]) => `--${k}=${v}`), '--', ...argv];
  else {
    try {
      group = createGroup({ memoryBytes: bytes, tasks: MAX_TASKS, cpus: 1 });
    } catch (e) {
      // the probe could create groups: this sample runs nowhere rather than with weaker limits than reported
      rmSync(dir, { recursive: true, force: true });
      return { status: 'error', exitCode: null, signal: null, stdout: '', stderr: (e as Error).message, ms: 0, peakMemoryMb: null };
    }
    if (!cgroupSupport().pids) rlimits['nproc'] = tasksOf(asRoot() ? NOBODY : process.getuid!()) + MAX_TASKS;
    const features = probe().probe.features;
    cmd = jailCommand({
      hostDir: dir,
      argv,
      tmpfsBytes: bytes,
      rlimits,
      cgroupProcs: group?.procsFiles ?? [],
      features,
      infoFd: 3,
      ...(binds ? { binds } : {}),
    });
  }
  try {
    return await execute(cmd, dir, unsafe, marker, o.timeoutMs, group);
  } finally {
    await group?.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function execute(
  cmd: string[],
  dir: string,
  unsafe: boolean,
  marker: string,
  timeoutMs: number,
  group: RunGroup | null,
): Promise<RunOutcome> {
  const t0 = performance.now();
  const child = spawn(cmd[0]!, cmd.slice(1), {
    cwd: dir,
    detached: true,
    stdio: unsafe ? ['pipe', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe', 'pipe'],
    env: unsafe ? { PATH: '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1' } : { PATH: '/usr/bin:/bin' },
  });
  child.stdin!.on('error', () => {
    /* the program exited before reading it */
  });
  child.stdin!.end(marker + '\n');
  let stderr = '',
    stdout = '',
    timedOut = false,
    spawnError = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    stdout = (stdout + d).slice(-4000);
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => {
    stderr = (stderr + d).slice(-2000);
  });
  let info = '';
  const infoPipe = child.stdio[3] as NodeJS.ReadableStream | undefined;
  infoPipe?.setEncoding('utf8');
  infoPipe?.on('data', (d: string) => {
    info += d;
  });
  // bwrap leads its own process group; killing it kills the PID namespace's init (--die-with-parent), and
  // with it every process of the sample; unsafe runs lose only what stayed in the group
  const kill = () => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      /* already gone */
    }
  };
  const timer = setTimeout(() => {
    timedOut = true;
    kill();
  }, timeoutMs);
  const closed = new Promise<void>((done) => child.on('close', () => done()));
  const [exitCode, signal] = await new Promise<[number | null, string | null]>((done) => {
    child.on('error', (e) => {
      spawnError = String(e);
      done([null, null]);
    });
    child.on('exit', (code, sig) => done([code, sig]));
  });
  const ms = Math.round(performance.now() - t0);
  clearTimeout(timer);
  kill();
  const peak = group?.peakBytes() ?? null,
    oomKills = group?.oomKills() ?? 0; // read before the group goes
  await group?.destroy();
  await namespaceGone(Number(/"child-pid":\s*(\d+)/.exec(info)?.[1]));
  // a process that escaped the group (unsafe runs only) may hold the pipes open: stop listening after 1 s
  let wait: NodeJS.Timeout | undefined;
  await Promise.race([
    closed,
    new Promise<void>((r) => {
      wait = setTimeout(r, 1000);
    }),
  ]);
  clearTimeout(wait);
  child.stdout!.destroy();
  child.stderr!.destroy();
  const done = `\n${marker}\n`;
  const at = stdout.lastIndexOf(done);
  const ran = at >= 0;
  if (ran) stdout = stdout.slice(0, at) + stdout.slice(at + done.length);
  const oom = oomKills > 0 || /MemoryError|JavaScript heap out of memory|Cannot allocate memory|std::bad_alloc/.test(stderr);
  if (exitCode === 0 && !ran) stderr += '\n(exited with 0 before its last line ran)';
  if (oomKills > 0) stderr += `\n(the memory limit killed ${oomKills} process${oomKills > 1 ? 'es' : ''} of the sample)`;
  if (timedOut) stderr += `\n(killed at the timeout of ${timeoutMs} ms)`;
  const broken = spawnError !== '' || (exitCode === 1 && /^bwrap: /.test(stderr)) || (exitCode === 125 && /cgroup\.procs/.test(stderr));
  const status = broken ? 'error' : timedOut ? 'timeout' : exitCode === 0 && ran ? 'passed' : oom ? 'memory' : 'failed';
  return {
    status,
    exitCode,
    signal,
    stdout,
    stderr: spawnError ? `${stderr}${spawnError}` : stderr,
    ms,
    peakMemoryMb: peak === null ? null : Math.round(peak / 2 ** 20),
  };
}

/**
 * wait until the sample's PID-namespace init is gone or a zombie: the kernel makes it wait for every other
 * process of the namespace to die first, so after this none is left, with or without a cgroup
 */
async function namespaceGone(initPid: number): Promise<void> {
  if (!initPid) return;
  for (let i = 0; i < 200; i++) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/${initPid}/stat`, 'utf8');
    } catch {
      return;
    }
    const state = stat.charAt(stat.lastIndexOf(')') + 2); // the field after "pid (comm)"
    if (state === 'Z' || state === 'X') return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** run many programs, `concurrency` at a time, results in input order */
export async function runAll(
  jobs: ReadonlyArray<{ lang: Lang; program: string }>,
  o: SandboxOptions = SANDBOX_DEFAULTS,
  concurrency = 2,
): Promise<RunOutcome[]> {
  requireIsolation(o.unsafeNoSandbox);
  const out: RunOutcome[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.max(1, concurrency) }, async () => {
      while (next < jobs.length) {
        const i = next++;
        out[i] = await runSandboxed(jobs[i]!.lang, jobs[i]!.program, o);
      }
    }),
  );
  return out;
}
