// Per-sample cgroups: the limits that hold for a whole process tree. An rlimit is per process (RLIMIT_AS:
// six children under 256 MB each reach 1.2 GB) or per uid (RLIMIT_NPROC: shared by every sample run as that
// uid), so where this process may create cgroups each sample gets its own group with a memory ceiling
// (swap included), a task ceiling and one CPU's worth of time. cgroup v2 needs a delegated subtree with the
// controllers enabled, which in practice means root on a machine whose root cgroup offers them; cgroup v1
// (hybrid hosts, many VMs) only needs write access to the controller hierarchies. Everything else falls
// back to rlimits, and isolation() says which one holds.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface GroupLimits {
  memoryBytes: number;
  tasks: number;
  cpus: number;
}

export interface CgroupSupport {
  version: 1 | 2 | null;
  /** controllers this process can limit a sample with */
  memory: boolean;
  pids: boolean;
  cpu: boolean;
  /** why some controller is missing */
  note: string;
}

/** one sample's group (one directory per v1 hierarchy, one in v2) */
export interface RunGroup {
  /** the cgroup.procs files the sandbox's first process writes its pid into before exec */
  procsFiles: string[];
  oomKills(): number;
  peakBytes(): number | null;
  /** SIGKILL every process still in the group, wait until it is empty, remove it */
  destroy(): Promise<void>;
}

interface Layout {
  version: 1 | 2;
  dirs: Partial<Record<'memory' | 'pids' | 'cpu', string>>;
}

const read = (f: string) => {
  try {
    return readFileSync(f, 'utf8');
  } catch {
    return '';
  }
};
const tryWrite = (f: string, v: string) => {
  try {
    writeFileSync(f, v);
    return true;
  } catch {
    return false;
  }
};

/** where each controller's parent group for our samples lives: under our own cgroup (v1) or the v2 root */
function layout(): Layout | null {
  const mounts = read('/proc/self/mountinfo')
    .split('\n')
    .map((l) => {
      const [pre, post] = l.split(' - ');
      const f = (pre ?? '').split(' '),
        g = (post ?? '').split(' ');
      return { root: f[3] ?? '', point: f[4] ?? '', type: g[0] ?? '', opts: (g[2] ?? '').split(',') };
    });
  const v2 = mounts.find((m) => m.type === 'cgroup2');
  if (v2) {
    const avail = read(join(v2.point, 'cgroup.subtree_control')).split(/\s+/);
    // only the hierarchy root may hold processes and still hand controllers down, so our samples' parent
    // sits right below it; a non-root cgroup with processes in it (a container's) cannot delegate
    if (avail.includes('memory') && avail.includes('pids')) {
      const base = join(v2.point, 'dllm-sandbox');
      const dirs: Layout['dirs'] = { memory: base, pids: base };
      if (avail.includes('cpu')) dirs.cpu = base;
      return { version: 2, dirs };
    }
  }
  const own = new Map<string, string>(); // controller → our path in its v1 hierarchy
  for (const l of read('/proc/self/cgroup').split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(l);
    if (m && m[1]) for (const c of m[1].split(',')) own.set(c, m[2]!);
  }
  const dirs: Layout['dirs'] = {};
  for (const c of ['memory', 'pids', 'cpu'] as const) {
    const m = mounts.find((x) => x.type === 'cgroup' && x.opts.includes(c));
    const path = own.get(c);
    if (!m || path === undefined || !path.startsWith(m.root)) continue;
    dirs[c] = join(m.point, path.slice(m.root.length), 'dllm-sandbox');
  }
  return Object.keys(dirs).length ? { version: 1, dirs } : null;
}

let cached: { support: CgroupSupport; layout: Layout | null } | null = null;
let serial = 0;

/** which controllers we can use, probed once by creating and removing a group */
export function cgroupSupport(): CgroupSupport {
  if (cached) return cached.support;
  const l = layout();
  const support: CgroupSupport = { version: null, memory: false, pids: false, cpu: false, note: '' };
  if (!l) {
    support.note = 'no cgroup hierarchy with memory/pids controllers is mounted';
    cached = { support, layout: null };
    return support;
  }
  for (const [c, base] of Object.entries(l.dirs) as Array<['memory' | 'pids' | 'cpu', string]>) {
    try {
      mkdirSync(base, { recursive: true });
      if (l.version === 2) writeFileSync(join(base, 'cgroup.subtree_control'), `+${c}`);
      const probe = join(base, `probe-${process.pid}`);
      mkdirSync(probe);
      const file = {
        memory: l.version === 2 ? 'memory.max' : 'memory.limit_in_bytes',
        pids: 'pids.max',
        cpu: l.version === 2 ? 'cpu.max' : 'cpu.cfs_quota_us',
      }[c];
      const value = { memory: '64000000', pids: '64', cpu: l.version === 2 ? '100000 100000' : '100000' }[c];
      const ok = tryWrite(join(probe, file), value);
      rmdirSync(probe);
      if (ok) support[c] = true;
    } catch (e) {
      support.note += `${c}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message} at ${base}; `;
    }
  }
  if (support.memory || support.pids || support.cpu) support.version = l.version;
  removeStale(l);
  cached = { support, layout: l };
  return support;
}

/** groups left by a dllm process that died before removing them (named after its pid) */
function removeStale(l: Layout): void {
  for (const base of new Set(Object.values(l.dirs))) {
    let names: string[] = [];
    try {
      names = readdirSync(base);
    } catch {
      continue;
    }
    for (const n of names) {
      const pid = Number(/^run-(\d+)-/.exec(n)?.[1]);
      if (pid && pid !== process.pid && !existsSync(`/proc/${pid}`)) {
        try {
          rmdirSync(join(base, n));
        } catch {
          /* still busy */
        }
      }
    }
  }
}

/** a fresh group for one sample with these limits; null when no controller is usable */
export function createGroup(limits: GroupLimits): RunGroup | null {
  const s = cgroupSupport();
  const l = cached!.layout;
  if (!l || s.version === null) return null;
  const name = `run-${process.pid}-${++serial}`;
  const dirs = new Map<string, string>(); // controller → directory
  const made: string[] = [];
  const v2 = l.version === 2;
  const fail = (why: string): never => {
    for (const d of made.reverse()) {
      try {
        rmdirSync(d);
      } catch {
        /* ignore */
      }
    }
    throw new Error(`cgroup: ${why}`);
  };
  for (const c of ['memory', 'pids', 'cpu'] as const) {
    if (!s[c]) continue;
    const d = join(l.dirs[c]!, name);
    if (!made.includes(d)) {
      mkdirSync(d);
      made.push(d);
    }
    dirs.set(c, d);
  }
  const set = (c: string, file: string, v: string, required = true) => {
    if (!tryWrite(join(dirs.get(c)!, file), v) && required) fail(`cannot write ${file}`);
  };
  if (s.memory) {
    set('memory', v2 ? 'memory.max' : 'memory.limit_in_bytes', String(limits.memoryBytes));
    // swap would let a sample go past the ceiling; the file exists only where swap is accounted
    set('memory', v2 ? 'memory.swap.max' : 'memory.memsw.limit_in_bytes', v2 ? '0' : String(limits.memoryBytes), false);
  }
  if (s.pids) set('pids', 'pids.max', String(limits.tasks));
  if (s.cpu) {
    const quota = String(Math.round(limits.cpus * 100_000));
    if (v2) set('cpu', 'cpu.max', `${quota} 100000`);
    else {
      set('cpu', 'cpu.cfs_period_us', '100000');
      set('cpu', 'cpu.cfs_quota_us', quota);
    }
  }
  const unique = [...new Set(dirs.values())];
  const mem = dirs.get('memory');
  const counter = (file: string, key: string) => Number(new RegExp(`^${key} (\\d+)$`, 'm').exec(read(join(mem!, file)))?.[1] ?? 0);
  return {
    procsFiles: unique.map((d) => join(d, 'cgroup.procs')),
    oomKills: () => (mem ? counter(v2 ? 'memory.events' : 'memory.oom_control', 'oom_kill') : 0),
    peakBytes: () => {
      if (!mem) return null;
      const v = Number(read(join(mem, v2 ? 'memory.peak' : 'memory.max_usage_in_bytes')).trim());
      return Number.isFinite(v) && v > 0 ? v : null;
    },
    async destroy() {
      for (let i = 0; i < 100; i++) {
        let alive = 0;
        for (const d of unique) {
          if (v2 && i === 0 && tryWrite(join(d, 'cgroup.kill'), '1')) continue;
          for (const pid of read(join(d, 'cgroup.procs')).split('\n').filter(Boolean)) {
            alive++;
            try {
              process.kill(Number(pid), 'SIGKILL');
            } catch {
              /* gone */
            }
          }
        }
        if (
          !alive &&
          unique.every((d) => {
            try {
              rmdirSync(d);
              return true;
            } catch (e) {
              return (e as NodeJS.ErrnoException).code === 'ENOENT';
            }
          })
        )
          return;
        await new Promise((r) => setTimeout(r, 20));
      }
    },
  };
}
