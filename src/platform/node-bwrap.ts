// The sandbox recipe: the command line that runs one sample under bubblewrap (Debian's `bubblewrap`, the
// sandbox of Flatpak), and the probe that tells whether this machine can run it. bwrap gives each sample
// new user, PID, network, IPC, UTS, cgroup and mount namespaces: it sees only read-only /usr (and the node
// binary), a private /tmp and /dev/shm, its own /proc, and its program folder; no /work, /root, /home, no
// eval data, no host sockets (abstract ones live in the network namespace). bwrap sets NoNewPrivs and
// mounts everything nosuid, and --die-with-parent + the PID namespace take every process of the sample
// down with bwrap, however it daemonised. As root we first drop to nobody with setpriv, so the sample
// owns nothing on the host even if it got out, and RLIMIT_NPROC counts only sample processes.
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readlinkSync, realpathSync } from 'node:fs';

export const NOBODY = 65534;
export const PYTHON = '/usr/bin/python3';
/** where the sample's program folder appears inside the sandbox */
export const SAMPLE_DIR = '/sample';

export interface JailSpec {
  /** host folder with the program and its runner, readable by NOBODY when we are root */
  hostDir: string;
  /** the command inside the sandbox */
  argv: string[];
  /** bytes for each of /tmp and /dev/shm */
  tmpfsBytes: number;
  /** rlimits: prlimit's names (as, nproc, nofile, fsize, cpu) → soft = hard value */
  rlimits: Record<string, number>;
  /** cgroup.procs files to join before anything else runs */
  cgroupProcs: string[];
  /** extra read-only binds [host, inside] (tests bind a setuid binary this way) */
  binds?: ReadonlyArray<readonly [string, string]>;
  /** bwrap writes {"child-pid": …} here: the host pid of the sample's PID-namespace init */
  infoFd?: number;
  /** options newer than Debian 11's bwrap 0.4 / Ubuntu 22.04's 0.6, used where the installed one has them */
  features: BwrapFeatures;
}

/** --size (tmpfs size, bwrap 0.7) and --disable-userns (bwrap 0.8) */
export interface BwrapFeatures {
  tmpfsSize: boolean;
  disableUserns: boolean;
}

export function bwrapFeatures(version: string | null): BwrapFeatures {
  const m = /(\d+)\.(\d+)/.exec(version ?? '');
  const v = m ? Number(m[1]) * 1000 + Number(m[2]) : 0;
  return { tmpfsSize: v >= 7, disableUserns: v >= 8 };
}

export const asRoot = () => process.getuid?.() === 0;

/** bubblewrap: Debian's path, or DLLM_BWRAP (another install, or a missing one to see the refusal) */
export const bwrapPath = () => process.env['DLLM_BWRAP'] || '/usr/bin/bwrap';

/** the node binary: its real path, bound read-only where it is not under /usr */
export const nodeBinary = () => realpathSync(process.execPath);

/** the whole command line: [join cgroups] → prlimit → [setpriv to nobody] → bwrap → the program */
export function jailCommand(spec: JailSpec): string[] {
  const cmd: string[] = [];
  if (spec.cgroupProcs.length) {
    // the shell moves itself into the sample's groups, then execs: every later process starts inside
    cmd.push(
      '/bin/sh',
      '-c',
      'while [ "$1" != -- ]; do echo $$ > "$1" || exit 125; shift; done; shift; exec "$@"',
      'sh',
      ...spec.cgroupProcs,
      '--',
    );
  }
  const limits = Object.entries(spec.rlimits).map(([k, v]) => `--${k}=${Math.max(0, Math.floor(v))}`);
  if (limits.length) cmd.push('/usr/bin/prlimit', ...limits, '--');
  if (asRoot()) cmd.push('/usr/bin/setpriv', `--reuid=${NOBODY}`, `--regid=${NOBODY}`, '--clear-groups', '--no-new-privs');
  cmd.push(bwrapPath(), ...bwrapArgs(spec), '--', ...spec.argv);
  return cmd;
}

function bwrapArgs(spec: JailSpec): string[] {
  const a = ['--unshare-all', '--unshare-user', '--die-with-parent', '--new-session', '--cap-drop', 'ALL', '--hostname', 'sandbox'];
  if (spec.infoFd !== undefined) a.push('--info-fd', String(spec.infoFd));
  // a user namespace inside would reopen kernel surface (mount, netfilter) that the sandbox closed
  if (spec.features.disableUserns) a.push('--disable-userns');
  a.push('--ro-bind', '/usr', '/usr');
  // merged-/usr systems have /bin → usr/bin etc.; others get the directories themselves, read-only
  for (const d of ['/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32']) {
    let st;
    try {
      st = lstatSync(d);
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) a.push('--symlink', readlinkSync(d), d);
    else a.push('--ro-bind', d, d);
  }
  // the dynamic loader's cache and Debian's alternatives links; nothing else of /etc (no passwd, no hosts)
  for (const f of ['/etc/ld.so.cache', '/etc/alternatives']) a.push('--ro-bind-try', f, f);
  const node = nodeBinary();
  if (!node.startsWith('/usr/')) a.push('--ro-bind', node, node);
  for (const [host, inside] of spec.binds ?? []) a.push('--ro-bind', host, inside);
  a.push('--proc', '/proc', '--dev', '/dev');
  const size = spec.features.tmpfsSize ? ['--size', String(spec.tmpfsBytes)] : [];
  a.push(...size, '--tmpfs', '/tmp', ...size, '--tmpfs', '/dev/shm');
  a.push('--ro-bind', spec.hostDir, SAMPLE_DIR, '--chdir', '/tmp');
  a.push(
    '--clearenv',
    '--setenv',
    'PATH',
    '/usr/bin:/bin',
    '--setenv',
    'HOME',
    '/tmp',
    '--setenv',
    'TMPDIR',
    '/tmp',
    '--setenv',
    'LANG',
    'C.UTF-8',
  );
  return a;
}

export interface BwrapProbe {
  ok: boolean;
  version: string | null;
  reason: string | null;
  features: BwrapFeatures;
}

/** can this machine run the recipe? one sandboxed `node -e 0` (also proves nobody can read the node binary) */
export function probeBwrap(hostDir: string): BwrapProbe {
  const bwrap = bwrapPath();
  const none = bwrapFeatures(null);
  if (!existsSync(bwrap))
    return {
      ok: false,
      version: null,
      reason: `bubblewrap is not installed at ${bwrap} (Debian/Ubuntu: apt-get install bubblewrap)`,
      features: none,
    };
  for (const tool of ['/usr/bin/prlimit', ...(asRoot() ? ['/usr/bin/setpriv'] : [])]) {
    if (!existsSync(tool)) return { ok: false, version: null, reason: `${tool} is missing (util-linux)`, features: none };
  }
  const v = spawnSync(bwrap, ['--version'], { encoding: 'utf8', timeout: 5000 });
  const version = (v.stdout ?? '').trim() || null;
  const features = bwrapFeatures(version);
  const cmd = jailCommand({ hostDir, argv: [nodeBinary(), '-e', '0'], tmpfsBytes: 1 << 20, rlimits: {}, cgroupProcs: [], features });
  const r = spawnSync(cmd[0]!, cmd.slice(1), { encoding: 'utf8', timeout: 10_000, cwd: hostDir });
  if (r.status === 0) return { ok: true, version, reason: null, features };
  const why = (r.stderr || r.error?.message || `exit ${r.status ?? r.signal}`).trim().split('\n').slice(-2).join(' ');
  return { ok: false, version, reason: `bubblewrap cannot start a sandbox here: ${why}`, features };
}
