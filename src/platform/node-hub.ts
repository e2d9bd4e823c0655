// Models by hub id (ORG/NAME): the files dllm reads, downloaded from the Hugging Face Hub (or $HF_ENDPOINT)
// into the hub cache that Python's huggingface_hub uses (node-hub-cache.ts has the layout).
//
// Why not @huggingface/hub: its downloadFileToCacheDir writes this layout, but (2.17.5) it restarts a partial
// file from zero, checks no size or hash, reports no progress, and snapshotDownload fetches every file of the
// repository (a PyTorch copy of the weights too). Resume, verification and progress are the point here.
//
// One pull:
//   1. GET /api/models/ORG/NAME/revision/REV         → the commit (sha) and the file list (siblings)
//   2. HEAD /ORG/NAME/resolve/COMMIT/FILE per file   → ETag (X-Linked-Etag for LFS: its sha256) and size
//                                                      (X-Linked-Size), as huggingface_hub asks for them
//   3. GET the same, into blobs/<etag>.incomplete    → continued with a Range request when a partial exists
//      (an earlier run, or a connection cut in this one: each file is retried, resuming, a few times), its
//      size and hash checked (sha256 for a 64-hex etag, the git blob sha1 for a 40-hex one), then renamed
//   4. only when every blob is in place: snapshots/COMMIT/FILE symlinks and refs/REV, so a failed pull leaves
//      no half snapshot that a later offline run would mistake for a model
import { createHash, type Hash } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, open, readFile, readlink, rename, rm, stat, symlink, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import {
  assertRelativeFile,
  cachedCommit,
  cachedModel,
  hubEnv,
  missingModelFiles,
  repoFolder,
  shardsOfIndex,
  snapshotDir,
  COMMIT_RE,
  type HubEnv,
} from './node-hub-cache.js';

/** the files a model folder gives dllm (node-model.ts reads them); the weights are added by what is listed */
const META_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json', 'special_tokens_map.json'];
const INDEX = 'model.safetensors.index.json';
/** tries per file; every try after the first continues the partial file */
const ATTEMPTS = 5;

export interface PullFile {
  name: string;
  size: number;
  /** the blob name: the Hub's ETag */
  etag: string;
  /** already in the cache (a blob with this etag): nothing to download */
  cached: boolean;
}

export interface PullProgress {
  file: string;
  /** bytes of this file on disk so far (a resumed file starts above 0) */
  fileBytes: number;
  fileSize: number;
  /** bytes of all files still to download, received so far / in all */
  bytes: number;
  total: number;
}

export interface PullOptions {
  /** branch, tag or commit (default "main") */
  revision?: string;
  /** the environment to read HF_* from (default process.env) */
  env?: NodeJS.ProcessEnv;
  /** once the files and their sizes are known, before any weight is downloaded: all files, and those still to
   *  download (onProgress's total is their size) */
  onPlan?: (files: readonly PullFile[], todo: readonly PullFile[]) => void;
  onProgress?: (p: PullProgress) => void;
  /** a note worth a line: a resumed file, a retried connection */
  onNote?: (message: string) => void;
}

export interface PullResult {
  id: string;
  commit: string;
  /** the snapshot folder: a model folder every dllm command opens */
  dir: string;
  files: readonly PullFile[];
  /** bytes received over the network by this pull */
  downloadedBytes: number;
}

interface Client {
  env: HubEnv;
  id: string;
  headers: Record<string, string>;
}

export class HubError extends Error {}

/** the cached snapshot, else (unless HF_HUB_OFFLINE) a pull; no request at all when the cache has it */
export async function ensureHubModel(id: string, o: PullOptions = {}): Promise<string> {
  const env = hubEnv(o.env),
    revision = o.revision ?? 'main';
  const hit = cachedModel(id, revision, env);
  if (hit) return hit.dir;
  if (env.offline) throw offlineError(id, revision, env);
  return (await pullModel(id, o)).dir;
}

function offlineError(id: string, revision: string, env: HubEnv): HubError {
  const commit = cachedCommit(env.cacheDir, id, revision);
  const partial = commit
    ? ` (the cached snapshot ${commit.slice(0, 12)} lacks ${missingModelFiles(snapshotDir(env.cacheDir, id, commit)).join(', ')})`
    : '';
  return new HubError(
    `${id}@${revision} is not in the Hugging Face cache ${env.cacheDir}${partial}, and HF_HUB_OFFLINE is set: unset it to download the model, or \`dllm pull ${id}\` where the Hub is reachable`,
  );
}

/** download (or complete) ORG/NAME at a revision into the hub cache; files already there are not fetched again */
export async function pullModel(id: string, o: PullOptions = {}): Promise<PullResult> {
  const env = hubEnv(o.env),
    revision = o.revision ?? 'main';
  if (env.offline) {
    const hit = cachedModel(id, revision, env);
    if (!hit) throw offlineError(id, revision, env);
    return { id, commit: hit.commit, dir: hit.dir, files: [], downloadedBytes: 0 };
  }
  const c: Client = { env, id, headers: env.token ? { authorization: `Bearer ${env.token}` } : {} };
  const info = await repoInfo(c, revision);
  const commit = info.sha,
    listed = new Set(info.siblings);
  if (!listed.has('config.json'))
    throw new HubError(`${id}@${revision} has no config.json: not a model dllm can open (files: ${[...listed].slice(0, 12).join(', ')})`);
  const repo = repoFolder(env.cacheDir, id),
    snap = snapshotDir(env.cacheDir, id, commit);
  const blobPath = (f: PullFile) => join(repo, 'blobs', f.etag);
  await mkdir(join(repo, 'blobs'), { recursive: true });

  // the small files first: the index must be read before the shards it names are known
  const names = META_FILES.filter((n) => listed.has(n));
  const single = listed.has('model.safetensors');
  if (!single && !listed.has(INDEX)) {
    throw new HubError(
      `${id}@${revision} has no safetensors weights (model.safetensors or ${INDEX}); dllm reads safetensors only (files: ${[...listed].slice(0, 12).join(', ')})`,
    );
  }
  const files: PullFile[] = [],
    early = new Set<PullFile>(); // early: the index, fetched while planning
  for (const n of single ? names : [...names, INDEX]) files.push(await describe(c, commit, n, repo));
  let downloadedBytes = 0;
  const ctx = { c, commit, onNote: o.onNote ?? (() => {}), onProgress: o.onProgress ?? (() => {}) };
  if (single) files.push(await describe(c, commit, 'model.safetensors', repo));
  else {
    const index = files.find((f) => f.name === INDEX)!;
    if (!index.cached) {
      downloadedBytes += await download(ctx, index, blobPath(index), { bytes: 0, total: index.size });
      early.add(index);
    }
    for (const s of shardsOfIndex(JSON.parse(await readFile(blobPath(index), 'utf8')), `${id}@${commit}`)) {
      if (!listed.has(s)) throw new HubError(`${id}@${revision}: ${INDEX} names ${s}, which the repository does not list`);
      files.push(await describe(c, commit, s, repo));
    }
  }
  const todo = files.filter((f) => !f.cached && !early.has(f));
  o.onPlan?.(files, todo);

  const progress = { bytes: 0, total: todo.reduce((s, f) => s + f.size, 0) };
  for (const f of todo) downloadedBytes += await download(ctx, f, blobPath(f), progress);

  // every blob is in place: now the snapshot and the ref, each by an atomic rename
  for (const f of files) await linkInto(join(snap, f.name), blobPath(f));
  if (revision !== commit) await writeAtomic(join(repo, 'refs', revision), commit);
  const missing = missingModelFiles(snap);
  if (missing.length) throw new HubError(`${id}@${commit}: the snapshot still lacks ${missing.join(', ')}`);
  return { id, commit, dir: snap, files, downloadedBytes };
}

async function repoInfo(c: Client, revision: string): Promise<{ sha: string; siblings: string[] }> {
  const url = `${c.env.endpoint}/api/models/${c.id}/revision/${encodeURIComponent(revision)}`;
  const res = await request(c, url, { headers: c.headers });
  if (!res.ok) throw await httpError(c, res, `${c.id}@${revision}`);
  const body = (await res.json()) as { sha?: unknown; siblings?: Array<{ rfilename?: unknown }> };
  if (typeof body.sha !== 'string' || !COMMIT_RE.test(body.sha) || !Array.isArray(body.siblings)) {
    throw new HubError(`${url} answered without a commit sha and a file list (siblings): is ${c.env.endpoint} a Hugging Face hub?`);
  }
  const siblings = body.siblings.map((s) => s.rfilename).filter((n): n is string => typeof n === 'string');
  return { sha: body.sha, siblings };
}

/** a file's etag and size, by HEAD as huggingface_hub asks; `cached` when its blob is already in the cache */
async function describe(c: Client, commit: string, name: string, repo: string): Promise<PullFile> {
  assertRelativeFile(name);
  // in this snapshot already (an earlier pull, or Python's): its link names the blob, no request needed
  const link = join(snapshotDir(c.env.cacheDir, c.id, commit), name);
  try {
    const target = await readlink(link),
      blob = resolve(dirname(link), target);
    if (dirname(blob) === join(repo, 'blobs')) return { name, size: (await stat(blob)).size, etag: basename(blob), cached: true };
  } catch {
    /* not there, or a copy rather than a link: ask the Hub */
  }
  let url = resolveUrl(c, commit, name),
    res: Response;
  // the Hub answers an LFS file with a redirect to its CDN and the file's metadata on the redirect itself;
  // a relative redirect (a renamed repository) is followed, as huggingface_hub does
  for (let hops = 0; ; hops++) {
    res = await request(c, url, { method: 'HEAD', headers: { ...c.headers, 'accept-encoding': 'identity' }, redirect: 'manual' });
    const loc = res.headers.get('location');
    if (res.status >= 300 && res.status < 400 && loc && loc.startsWith('/') && !res.headers.get('x-linked-etag') && hops < 5) {
      url = new URL(loc, url).href;
      continue;
    }
    break;
  }
  if (res.status >= 400) throw await httpError(c, res, `${c.id}/${name}`);
  const etag = normalizeEtag(res.headers.get('x-linked-etag') ?? res.headers.get('etag'));
  const size = Number(res.headers.get('x-linked-size') ?? res.headers.get('content-length'));
  if (!etag) throw new HubError(`${c.id}/${name}: the Hub sent no ETag, so the download cannot be verified or cached`);
  if (!Number.isSafeInteger(size) || size < 0)
    throw new HubError(`${c.id}/${name}: the Hub sent no file size (X-Linked-Size / Content-Length)`);
  const blob = join(repo, 'blobs', etag);
  return { name, size, etag, cached: existsSync(blob) && (await stat(blob)).size === size };
}

/** huggingface_hub's _normalize_etag: no weak-validator prefix, no quotes; it names a blob, so no slashes */
function normalizeEtag(v: string | null): string | null {
  const e =
    v
      ?.trim()
      .replace(/^W\//, '')
      .replace(/^"(.*)"$/, '$1') ?? '';
  return /^[\w.-]+$/.test(e) ? e : null;
}

function resolveUrl(c: Client, commit: string, name: string): string {
  return `${c.env.endpoint}/${c.id}/resolve/${commit}/${name.split('/').map(encodeURIComponent).join('/')}`;
}

async function request(c: Client, url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(url, init);
  } catch (e) {
    const cause = (e as { cause?: { message?: string; code?: string } }).cause;
    throw new HubError(
      `cannot reach ${c.env.endpoint} (${cause?.code ?? cause?.message ?? (e as Error).message}); set HF_ENDPOINT for a mirror, or HF_HUB_OFFLINE=1 to use only the cache`,
    );
  }
}

async function httpError(c: Client, res: Response, what: string): Promise<HubError> {
  const code = res.headers.get('x-error-code'),
    msg = res.headers.get('x-error-message');
  const detail = msg ?? (res.bodyUsed ? '' : (await res.text().catch(() => '')).slice(0, 200));
  if (res.status === 401 || res.status === 403 || code === 'GatedRepo') {
    return new HubError(
      `${what}: ${res.status} from ${c.env.endpoint} — a private or gated model needs a token: ${c.env.token ? 'HF_TOKEN was sent and refused' : 'set HF_TOKEN'}${detail ? ` (${detail})` : ''}`,
    );
  }
  if (res.status === 404)
    return new HubError(`${what}: not found on ${c.env.endpoint}${code ? ` (${code})` : ''} — check the id and --revision`);
  return new HubError(`${what}: HTTP ${res.status} from ${c.env.endpoint}${detail ? ` (${detail})` : ''}`);
}

interface DownloadCtx {
  c: Client;
  commit: string;
  onNote: (m: string) => void;
  onProgress: (p: PullProgress) => void;
}

/** one blob, into <blob>.incomplete then verified and renamed; returns the bytes received */
async function download(ctx: DownloadCtx, f: PullFile, blob: string, progress: { bytes: number; total: number }): Promise<number> {
  const tmp = `${blob}.incomplete`; // huggingface_hub's name: either side resumes the other's partial file
  let received = 0,
    lastError: Error | null = null;
  for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
    if (attempt > 1) await new Promise((r) => setTimeout(r, Math.min(200 * 2 ** (attempt - 2), 3000)));
    let have = existsSync(tmp) ? (await stat(tmp)).size : 0;
    if (have > f.size) {
      await rm(tmp, { force: true });
      have = 0;
    }
    if (have > 0) ctx.onNote(`${f.name}: resuming at ${have} of ${f.size} bytes`);
    // the hash covers the bytes already on disk, then each chunk as it arrives: no second read of a large file
    const hash = startHash(f);
    if (have > 0) for await (const chunk of createReadStream(tmp)) hash?.update(chunk as Buffer);
    try {
      if (have < f.size) {
        const headers: Record<string, string> = {
          ...ctx.c.headers,
          'accept-encoding': 'identity',
          ...(have > 0 ? { range: `bytes=${have}-` } : {}),
        };
        const res = await request(ctx.c, resolveUrl(ctx.c, ctx.commit, f.name), { headers });
        // a partial file the server will not continue (changed underneath?): start it over on the next try
        if (res.status === 416) {
          await rm(tmp, { force: true });
          throw new HubError(`${f.name}: the server refused to resume at byte ${have}`);
        }
        if (res.status >= 400)
          throw Object.assign(await httpError(ctx.c, res, `${ctx.c.id}/${f.name}`), { fatal: res.status !== 429 && res.status < 500 });
        // a server that ignores Range sends the whole file again: start over rather than append it
        const resumed = have > 0 && res.status === 206 && contentRangeStart(res) === have;
        if (!resumed && have > 0) {
          have = 0;
          hash?.reset();
        }
        const fh = await open(tmp, resumed ? 'a' : 'w');
        try {
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            await fh.write(chunk);
            hash?.update(chunk);
            have += chunk.length;
            received += chunk.length;
            progress.bytes += chunk.length;
            ctx.onProgress({ file: f.name, fileBytes: have, fileSize: f.size, bytes: progress.bytes, total: progress.total });
          }
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
      if (have < f.size) throw new HubError(`${f.name}: the connection ended at ${have} of ${f.size} bytes`);
      await verify(f, tmp, have, hash);
      await rename(tmp, blob);
      return received;
    } catch (e) {
      if ((e as { fatal?: boolean }).fatal) throw e;
      // undici says "terminated" when the peer cuts the connection mid-body
      lastError =
        (e as Error).message === 'terminated'
          ? new Error(`the connection was cut at ${existsSync(tmp) ? (await stat(tmp)).size : 0} of ${f.size} bytes`)
          : (e as Error);
      if (attempt < ATTEMPTS) ctx.onNote(`${f.name}: ${lastError.message.slice(0, 160)} — retrying (${attempt}/${ATTEMPTS - 1})`);
    }
  }
  throw new HubError(
    `${ctx.c.id}/${f.name}: download failed after ${ATTEMPTS} tries: ${lastError?.message}; run the same command again to continue it`,
  );
}

function contentRangeStart(res: Response): number {
  const m = /^bytes (\d+)-/.exec(res.headers.get('content-range') ?? '');
  return m ? Number(m[1]) : -1;
}

/** a resettable running hash for what the etag is: sha256 (LFS), git blob sha1 (small files), or none */
interface RunningHash {
  algo: string;
  update(b: Uint8Array): void;
  reset(): void;
  digest(): string;
}

function startHash(f: PullFile): RunningHash | null {
  const algo = /^[0-9a-f]{64}$/.test(f.etag) ? 'sha256' : /^[0-9a-f]{40}$/.test(f.etag) ? 'git-sha1' : null;
  if (!algo) return null; // an etag of another form (a mirror's own): the size is what can be checked
  let h: Hash;
  const reset = () => {
    h = createHash(algo === 'sha256' ? 'sha256' : 'sha1');
    if (algo === 'git-sha1') h.update(`blob ${f.size}\0`); // git's object header: the etag of a non-LFS file is its git oid
  };
  reset();
  return {
    algo,
    update: (b) => {
      h.update(b);
    },
    reset,
    digest: () => h.digest('hex'),
  };
}

/** size and hash against the Hub's metadata; a mismatch deletes the partial file (it cannot be resumed into shape) */
async function verify(f: PullFile, tmp: string, size: number, hash: RunningHash | null): Promise<void> {
  let problem: string | null = null;
  if (size !== f.size) problem = `size mismatch: expected ${f.size} bytes, got ${size}`;
  else if (hash) {
    const got = hash.digest();
    if (got !== f.etag) problem = `${hash.algo} mismatch: expected ${f.etag}, got ${got}`;
  }
  if (!problem) return;
  await rm(tmp, { force: true });
  throw Object.assign(new HubError(`${f.name}: ${problem} — the download was deleted; nothing was added to the snapshot`), { fatal: true });
}

/** snapshots/COMMIT/FILE → ../../blobs/ETAG, replacing whatever was there in one rename */
async function linkInto(link: string, blob: string): Promise<void> {
  await mkdir(dirname(link), { recursive: true });
  const tmp = `${link}.${process.pid}.tmp`;
  await rm(tmp, { force: true });
  try {
    await symlink(relative(dirname(link), blob), tmp);
  } catch (e) {
    // no symlinks here (Windows without developer mode): a copy, as huggingface_hub falls back to
    if ((e as NodeJS.ErrnoException).code !== 'EPERM') throw e;
    await writeFile(tmp, await readFile(blob));
  }
  await rename(tmp, link);
}

async function writeAtomic(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, text);
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}
