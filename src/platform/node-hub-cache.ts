// The Hugging Face hub cache on disk, laid out exactly as huggingface_hub (Python) lays it out, so that a model
// downloaded by either side is found by the other without a download:
//   <cache>/models--ORG--NAME/blobs/<etag>                 file contents, named by the Hub's ETag (the sha256 for
//                                                          LFS files, the git blob sha1 for small ones)
//   <cache>/models--ORG--NAME/snapshots/<commit>/<file>    a symlink to ../../blobs/<etag>
//   <cache>/models--ORG--NAME/refs/<revision>              the commit a branch or tag pointed at when last pulled
// <cache> is $HF_HUB_CACHE, else $HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub
// (the order huggingface_hub's constants.py resolves them in). Everything here is synchronous and makes no
// request: resolveModel() is synchronous, and a cached model must be found without touching the network.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, normalize } from 'node:path';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
export const COMMIT_RE = /^[0-9a-f]{40}$/;

/** the hub settings of this process, read from the environment variables huggingface_hub reads */
export interface HubEnv {
  /** HF_ENDPOINT, without a trailing slash */
  endpoint: string;
  /** the hub cache folder (the one holding models--ORG--NAME) */
  cacheDir: string;
  /** HF_TOKEN, else the token `huggingface-cli login` saved; null for none */
  token: string | null;
  /** HF_HUB_OFFLINE: no request at all, the cache or a clear failure */
  offline: boolean;
}

/** huggingface_hub's truthy spellings of a boolean variable */
function isTrue(v: string | undefined): boolean {
  return v !== undefined && ['1', 'on', 'yes', 'true'].includes(v.trim().toLowerCase());
}

function expandHome(p: string): string {
  return p === '~' || p.startsWith('~/') ? join(homedir(), p.slice(1)) : p;
}

export function hubEnv(env: NodeJS.ProcessEnv = process.env): HubEnv {
  const hfHome = expandHome(env['HF_HOME'] || join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'huggingface'));
  const cacheDir = expandHome(env['HF_HUB_CACHE'] || env['HUGGINGFACE_HUB_CACHE'] || join(hfHome, 'hub'));
  return {
    endpoint: (env['HF_ENDPOINT'] || DEFAULT_ENDPOINT).replace(/\/+$/, ''),
    cacheDir,
    token: env['HF_TOKEN'] || env['HUGGING_FACE_HUB_TOKEN'] || savedToken(expandHome(env['HF_TOKEN_PATH'] || join(hfHome, 'token'))),
    offline: isTrue(env['HF_HUB_OFFLINE']),
  };
}

/** the token file a Python user's `huggingface-cli login` wrote, so gated models work for them here too */
function savedToken(path: string): string | null {
  try {
    const t = readFileSync(path, 'utf8').trim();
    return t || null;
  } catch {
    return null;
  }
}

/** ORG/NAME as the Hub spells repository ids (letters, digits, - _ .; no ".." or "--", which the Hub refuses) */
export function isHubId(s: string): boolean {
  return /^[A-Za-z0-9_][\w.-]{0,95}\/[A-Za-z0-9_][\w.-]{0,95}$/.test(s) && !s.includes('..') && !s.includes('--');
}

/** <cache>/models--ORG--NAME */
export function repoFolder(cacheDir: string, id: string): string {
  return join(cacheDir, `models--${id.replace('/', '--')}`);
}

export function snapshotDir(cacheDir: string, id: string, commit: string): string {
  return join(repoFolder(cacheDir, id), 'snapshots', commit);
}

/** the commit the cache knows for a revision (a commit hash stands for itself), or null */
export function cachedCommit(cacheDir: string, id: string, revision: string): string | null {
  if (COMMIT_RE.test(revision)) return existsSync(snapshotDir(cacheDir, id, revision)) ? revision : null;
  try {
    const c = readFileSync(join(repoFolder(cacheDir, id), 'refs', revision), 'utf8').trim();
    return COMMIT_RE.test(c) ? c : null;
  } catch {
    return null;
  }
}

/** a file name from the Hub's metadata is joined onto the cache: it must stay inside it */
export function assertRelativeFile(name: string): void {
  if (
    !name ||
    isAbsolute(name) ||
    name.includes('\\') ||
    normalize(name)
      .split('/')
      .some((p) => p === '..' || p === '')
  ) {
    throw new Error(`refusing file name "${name}" from the Hub: not a plain relative path`);
  }
}

/** the shard files a model.safetensors.index.json names (its weight_map values), sorted */
export function shardsOfIndex(index: unknown, where: string): string[] {
  const map = (index as { weight_map?: unknown } | null)?.weight_map;
  if (!map || typeof map !== 'object') throw new Error(`${where}: model.safetensors.index.json has no weight_map`);
  const shards = [...new Set(Object.values(map as Record<string, unknown>))];
  if (shards.some((s) => typeof s !== 'string'))
    throw new Error(`${where}: model.safetensors.index.json maps a tensor to a non-string file`);
  for (const s of shards as string[]) assertRelativeFile(s);
  return (shards as string[]).sort();
}

/** the files dllm needs that a model folder lacks (config + safetensors weights); [] when it can be opened */
export function missingModelFiles(dir: string): string[] {
  const missing = existsSync(join(dir, 'config.json')) ? [] : ['config.json'];
  if (existsSync(join(dir, 'model.safetensors'))) return missing;
  const indexPath = join(dir, 'model.safetensors.index.json');
  if (!existsSync(indexPath)) return [...missing, 'model.safetensors'];
  let shards: string[];
  try {
    shards = shardsOfIndex(JSON.parse(readFileSync(indexPath, 'utf8')), dir);
  } catch {
    return [...missing, 'model.safetensors.index.json'];
  }
  return [...missing, ...shards.filter((s) => !existsSync(join(dir, s)))];
}

export interface CachedModel {
  dir: string;
  commit: string;
}

/** a complete snapshot of ORG/NAME at a revision in the cache, found without a request; null when absent/partial */
export function cachedModel(id: string, revision = 'main', env: HubEnv = hubEnv()): CachedModel | null {
  const commit = cachedCommit(env.cacheDir, id, revision);
  if (!commit) return null;
  const dir = snapshotDir(env.cacheDir, id, commit);
  return missingModelFiles(dir).length === 0 ? { dir, commit } : null;
}

/** "ORG/NAME" for a folder inside the hub cache (…/models--ORG--NAME/snapshots/<commit>), else null: a served
 *  or evaluated model is named by its hub id, not by its commit hash */
export function hubIdOfDir(dir: string): string | null {
  const m = /(?:^|[/\\])models--([^/\\]+?)--([^/\\]+)[/\\]snapshots[/\\][^/\\]+[/\\]?$/.exec(dir);
  return m ? `${m[1]}/${m[2]}` : null;
}
