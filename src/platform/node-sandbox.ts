// Running generated code: a separate process per program, in a fresh temporary folder, with a timeout that
// kills its whole process group, a memory limit, no network and not as root where the OS allows — the
// recipe of ../shared/data/README.md: `unshare -n` (a network namespace with no interfaces) and `setpriv`
// to user/group 65534 (nobody), available when we are root; otherwise the program runs as the current user
// with the network, and the outcome says so. Memory: an address-space limit (prlimit --as) for Python;
// V8 reserves far more address space than it uses, so Node gets --max-old-space-size instead.
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type Lang = 'python' | 'node';

export interface SandboxOptions {
  timeoutMs: number;
  memoryMb: number;
}

export interface RunOutcome {
  status: 'passed' | 'failed' | 'timeout' | 'memory';
  exitCode: number | null;
  signal: string | null;
  /** the last 2 000 characters of stderr */
  stderr: string;
  ms: number;
}

export interface Isolation { network: boolean; user: boolean; }

export const SANDBOX_DEFAULTS: Readonly<SandboxOptions> = Object.freeze({ timeoutMs: 10_000, memoryMb: 1024 });
/**
 * printed by the last line of every program we run: exit code 0 without it is a failure, so a completion
 * that exits early (sys.exit(0), os._exit(0), process.exit(0)) before the tests ran cannot pass
 */
export const DONE_MARKER = '__dllm_tests_ran__';
const NOBODY = 65534;
const PYTHON = '/usr/bin/python3'; // readable by nobody (a pyenv under /root is not)

let probed: Isolation | null = null;

/** what this machine lets us cut off: the network (unshare -n) and root (setpriv to nobody) */
export function isolation(): Isolation {
  if (probed) return probed;
  const ok = (cmd: string, args: string[]) => { try { return spawnSync(cmd, args, { stdio: 'ignore', timeout: 5000 }).status === 0; } catch { return false; } };
  const root = process.getuid?.() === 0;
  const network = root && ok('unshare', ['-n', 'true']);
  const user = root && ok('setpriv', [`--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', 'true']);
  probed = { network, user };
  return probed;
}

/** run one program to its end; passed = exit 0 after its last line ran; else failed, unless the time or memory limit caused it */
export async function runSandboxed(lang: Lang, source: string, o: SandboxOptions = SANDBOX_DEFAULTS): Promise<RunOutcome> {
  const program = `${source}\n${lang === 'python' ? `print(${JSON.stringify(DONE_MARKER)}, flush=True)` : `console.log(${JSON.stringify(DONE_MARKER)});`}\n`;
  const dir = mkdtempSync(join(tmpdir(), 'dllm-exec-'));
  chmodSync(dir, 0o755); // nobody reads the program and runs in the folder, but cannot write into it
  const file = join(dir, lang === 'python' ? 'prog.py' : 'prog.js');
  writeFileSync(file, program, { mode: 0o644 });
  const iso = isolation();
  const cmd: string[] = [];
  if (iso.network) cmd.push('unshare', '-n');
  if (iso.user) cmd.push('setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups');
  if (lang === 'python') cmd.push('prlimit', `--as=${o.memoryMb * 1024 * 1024}`, '--', PYTHON, '-I', file);
  else cmd.push(process.execPath, `--max-old-space-size=${o.memoryMb}`, file);
  const t0 = performance.now();
  const child = spawn(cmd[0]!, cmd.slice(1), {
    cwd: dir, detached: true, stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: '/usr/bin:/bin', HOME: dir, LANG: 'C.UTF-8', PYTHONDONTWRITEBYTECODE: '1' },
  });
  let stderr = '', stdout = '', timedOut = false;
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => { stdout = (stdout + d).slice(-200); }); // only the tail: the marker
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => { stderr = (stderr + d).slice(-2000); });
  const kill = () => { try { process.kill(-child.pid!, 'SIGKILL'); } catch { /* already gone */ } };
  const timer = setTimeout(() => { timedOut = true; kill(); }, o.timeoutMs);
  const [exitCode, signal] = await new Promise<[number | null, string | null]>((done) => {
    child.on('error', (e) => { stderr += String(e); done([null, null]); });
    child.on('close', (code, sig) => done([code, sig]));
  });
  clearTimeout(timer);
  kill(); // anything the program left behind in its group
  rmSync(dir, { recursive: true, force: true });
  const ms = Math.round(performance.now() - t0);
  const oom = /MemoryError|JavaScript heap out of memory|Cannot allocate memory|std::bad_alloc/.test(stderr);
  const ran = stdout.includes(DONE_MARKER);
  if (exitCode === 0 && !ran) stderr += '\n(exited with 0 before its last line ran)';
  const status = timedOut ? 'timeout' : exitCode === 0 && ran ? 'passed' : oom ? 'memory' : 'failed';
  return { status, exitCode, signal, stderr, ms };
}

/** run many programs, `concurrency` at a time, results in input order */
export async function runAll(jobs: ReadonlyArray<{ lang: Lang; program: string }>, o: SandboxOptions = SANDBOX_DEFAULTS, concurrency = 2): Promise<RunOutcome[]> {
  const out: RunOutcome[] = new Array(jobs.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, async () => {
    while (next < jobs.length) {
      const i = next++;
      out[i] = await runSandboxed(jobs[i]!.lang, jobs[i]!.program, o);
    }
  }));
  return out;
}
