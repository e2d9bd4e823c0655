// Debian packages as a corpus source: a pinned list (name, version, split), fetched with `apt-get download`
// into a cache folder and unpacked with `dpkg -x` (a package already in the cache is neither fetched nor
// unpacked again), and the Python files each carries, with its copyright file.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, readlink, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileExists } from '../platform/node-files.js';

const run = promisify(execFile);

export interface PackagePin {
  name: string;
  version: string;
  split: 'train' | 'val';
  /** licence of every file when the package's copyright file is not machine-readable (DEP-5): read by a person, stated in the list */
  licence: string | null;
}

/** `name version [train|val] [licence=NAME]` per line; '#' starts a comment */
export function parsePackageList(text: string, where: string): PackagePin[] {
  const out: PackagePin[] = [];
  const seen = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*/, '').trim();
    if (!line) return;
    const [name, version, ...rest] = line.split(/\s+/);
    let split: 'train' | 'val' = 'train',
      licence: string | null = null;
    for (const r of rest) {
      if (r === 'val' || r === 'train') split = r;
      else if (r.startsWith('licence=') && r.length > 8) licence = r.slice(8);
      else throw new Error(`${where}:${i + 1}: expected "name version [train|val] [licence=NAME]", got "${raw}"`);
    }
    if (!name || !version) throw new Error(`${where}:${i + 1}: expected "name version [train|val] [licence=NAME]", got "${raw}"`);
    if (seen.has(name)) throw new Error(`${where}:${i + 1}: package ${name} is listed twice`);
    seen.add(name);
    out.push({ name, version, split, licence });
  });
  if (out.length === 0) throw new Error(`${where}: no packages listed`);
  return out;
}

/** apt-get download's file name: name_version_arch.deb with ':' written as %3a */
function debPrefix(p: PackagePin): string {
  return `${p.name}_${p.version.replace(/:/g, '%3a')}_`;
}

async function findDeb(cache: string, p: PackagePin): Promise<string | null> {
  const prefix = debPrefix(p);
  const hit = (await readdir(cache)).find((f) => f.startsWith(prefix) && f.endsWith('.deb'));
  return hit ? join(cache, hit) : null;
}

export interface UnpackedPackage {
  pin: PackagePin;
  deb: string;
  debSha256: string;
  root: string;
}

/** the package's .deb (downloaded into `cache` when missing) unpacked under cache/unpacked/ */
export async function fetchPackage(cache: string, p: PackagePin, offline: boolean): Promise<UnpackedPackage> {
  await mkdir(cache, { recursive: true });
  let deb = await findDeb(cache, p);
  if (!deb) {
    if (offline) throw new Error(`${p.name}=${p.version}: not in ${cache} and --offline was given`);
    try {
      await run('apt-get', ['download', `${p.name}=${p.version}`], { cwd: cache });
    } catch (e) {
      throw new Error(
        `apt-get download ${p.name}=${p.version} failed: ${(e as { stderr?: string }).stderr?.trim() || (e as Error).message}`,
      );
    }
    deb = await findDeb(cache, p);
    if (!deb) throw new Error(`apt-get download ${p.name}=${p.version} wrote no ${debPrefix(p)}*.deb in ${cache}`);
  }
  const debSha256 = createHash('sha256')
    .update(await readFile(deb))
    .digest('hex');
  const root = join(cache, 'unpacked', `${p.name}_${p.version.replace(/:/g, '%3a')}`);
  const done = join(root, '.dllm-unpacked');
  if (!(await fileExists(done))) {
    const tmp = `${root}.tmp`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    await run('dpkg', ['-x', deb, tmp]);
    await writeFile(join(tmp, '.dllm-unpacked'), debSha256);
    await rm(root, { recursive: true, force: true });
    await rename(tmp, root);
  }
  return { pin: p, deb, debSha256, root };
}

/** the package's Python files, sorted: [path inside the package, path relative to the Python root] */
export async function pythonFiles(root: string): Promise<{ file: string; rel: string }[]> {
  const out: { file: string; rel: string }[] = [];
  const walk = async (dir: string, relDir: string): Promise<void> => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const e of entries) {
      const rel = relDir ? `${relDir}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (e.name !== '__pycache__' && !e.name.startsWith('.')) await walk(join(dir, e.name), rel);
      } else if (e.isFile() && e.name.endsWith('.py')) out.push({ file: rel, rel: pythonRootRelative(rel) });
    }
  };
  await walk(root, '');
  return out;
}

/** usr/lib/python3/dist-packages/numpy/x.py → numpy/x.py; usr/lib/python3.11/json/x.py → json/x.py */
export function pythonRootRelative(path: string): string {
  const m = /(?:^|\/)(?:dist-packages|site-packages|python3(?:\.\d+)?)\/(.*)$/.exec(path);
  return m ? m[1]! : path;
}

/**
 * The copyright text of a package: its own, or, when its doc folder is a link to another package's
 * (libpython3.11-stdlib → libpython3.11-minimal), the name of that package; empty when it has neither.
 */
export async function copyrightText(root: string, name: string): Promise<{ text: string; linkedTo: string | null }> {
  const doc = join(root, 'usr', 'share', 'doc', name);
  const path = join(doc, 'copyright');
  if (await fileExists(path)) return { text: await readFile(path, 'utf8'), linkedTo: null };
  const target = await readlink(doc).catch(() => null);
  return { text: '', linkedTo: target && /^[a-z0-9][a-z0-9.+-]*$/.test(target) ? target : null };
}
