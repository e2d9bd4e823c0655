// A model folder for the browser (no node:* here): the files loadWeights and the tokenizer read, either over
// `fetch` from a base URL (config.json, tokenizer.json, model.safetensors, … under it) or from Blobs the user
// picked (an <input type="file" multiple>, a drag and drop, or bytes already in memory). Weights fetched over
// HTTP are read whole, with progress, because a page cannot seek in a response; Blobs are read in ranges.
import type { ByteSource } from '../io/bytes.js';
import { bytesSource } from '../io/bytes.js';
import { JSON_LIMITS, parseJsonBounded } from '../io/json-limits.js';
import type { CheckpointFiles } from '../model/load.js';

/** bytes of one file arrived so far; `total` is null when the server sent no content-length */
export interface FileProgress {
  file: string;
  loaded: number;
  total: number | null;
}
export type ProgressCallback = (p: FileProgress) => void;

/** files by name (as in the model folder); a File's own name is used when given a list */
export type ModelFileMap = Readonly<Record<string, Blob | ArrayBuffer | Uint8Array>>;
export type ModelSource = string | URL | ModelFileMap | Iterable<File>;

export interface WebFilesOptions {
  onProgress?: ProgressCallback;
  /** the fetch to use (tests, auth headers); default globalThis.fetch */
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

const limitsOf = (name: string) => (name === 'tokenizer.json' ? JSON_LIMITS.tokenizer : JSON_LIMITS.default);

/** the folder URL with a trailing slash, so that new URL('config.json', base) stays inside it */
export function folderUrl(base: string | URL, page?: string): URL {
  const u = new URL(String(base), page ?? (typeof location !== 'undefined' ? location.href : undefined));
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  u.search = '';
  u.hash = '';
  return u;
}

/** only plain file names: a name with a slash or starting with a dot could leave the folder */
function checkName(name: string): void {
  if (!/^[\w][\w.-]*$/.test(name)) throw new Error(`model files: "${name}" is not a plain file name`);
}

/** a response body read to the end, reporting progress; refuses more than `maxBytes` */
export async function readBody(res: Response, file: string, onProgress?: ProgressCallback, maxBytes = Infinity): Promise<Uint8Array> {
  const header = res.headers.get('content-length');
  const total = header !== null && /^\d+$/.test(header) ? Number(header) : null;
  if (total !== null && total > maxBytes) throw new Error(`${file}: ${total} bytes, over the ${maxBytes}-byte limit for this file`);
  if (!res.body) {
    const b = new Uint8Array(await res.arrayBuffer());
    onProgress?.({ file, loaded: b.length, total: b.length });
    return b;
  }
  const reader = res.body.getReader();
  // one buffer of the announced size (no copy at the end); chunks gathered when the size is unknown or wrong
  let out: Uint8Array | null = total !== null ? new Uint8Array(total) : null;
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  onProgress?.({ file, loaded, total });
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (loaded + value.length > maxBytes) {
      await reader.cancel();
      throw new Error(`${file}: over the ${maxBytes}-byte limit for this file`);
    }
    if (out && loaded + value.length <= out.length) out.set(value, loaded);
    else {
      if (out) {
        chunks.push(out.subarray(0, loaded));
        out = null;
      }
      chunks.push(value);
    }
    loaded += value.length;
    onProgress?.({ file, loaded, total });
  }
  if (out) return loaded === out.length ? out : out.subarray(0, loaded);
  const all = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return all;
}

function parseJsonObject(text: string, where: string, name: string): Record<string, unknown> {
  const v = parseJsonBounded(text, limitsOf(name), where);
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: malformed JSON (not a JSON object)`);
  return v as Record<string, unknown>;
}

/** a model folder served over HTTP: each file fetched once (exists() and open() share the download) */
export function fetchFiles(base: string | URL, o: WebFilesOptions = {}): CheckpointFiles {
  const root = folderUrl(base),
    doFetch = o.fetch ?? globalThis.fetch.bind(globalThis);
  const got = new Map<string, Promise<Uint8Array | null>>();
  const get = (name: string, maxBytes: number): Promise<Uint8Array | null> => {
    checkName(name);
    let p = got.get(name);
    if (!p) {
      const url = new URL(name, root);
      p = (async () => {
        let res: Response;
        try {
          res = await doFetch(url, o.signal ? { signal: o.signal } : {});
        } catch (e) {
          throw new Error(`${url}: cannot fetch (${(e as Error).message})`);
        }
        if (res.status === 404) return null;
        if (!res.ok) throw new Error(`${url}: HTTP ${res.status} ${res.statusText}`);
        return readBody(res, name, o.onProgress, maxBytes);
      })();
      got.set(name, p);
    }
    return p;
  };
  return {
    where: root.href.replace(/\/$/, ''),
    async json(name) {
      const b = await get(name, limitsOf(name).maxBytes);
      return b ? parseJsonObject(new TextDecoder().decode(b), `${root.href}${name}`, name) : null;
    },
    async open(name) {
      const b = await get(name, Infinity);
      if (!b) throw new Error(`${root.href}${name} is missing (HTTP 404)`);
      return {
        ...bytesSource(b),
        close: async () => {
          got.delete(name);
        },
      }; // the bytes go with the last reader
    },
    exists: async (name) => (await get(name, Infinity)) !== null,
  };
}

/** a ByteSource over a Blob: ranges read on demand, so a File is never copied whole */
export function blobSource(blob: Blob): ByteSource {
  return { size: blob.size, read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()) };
}

/** the map form of a list of Files (their names), or the map itself */
export function fileMap(files: ModelFileMap | Iterable<File>): ModelFileMap {
  if (typeof (files as Iterable<File>)[Symbol.iterator] !== 'function') return files as ModelFileMap;
  const out: Record<string, Blob> = {};
  for (const f of files as Iterable<File>) out[f.name] = f;
  return out;
}

/** a model folder from files in memory or picked by the user */
export function blobFiles(files: ModelFileMap | Iterable<File>, o: Pick<WebFilesOptions, 'onProgress'> = {}): CheckpointFiles {
  const map = fileMap(files);
  const blob = (name: string): Blob | null => {
    const v = Object.hasOwn(map, name) ? map[name] : undefined;
    if (v === undefined) return null;
    return v instanceof Blob ? v : new Blob([v as BlobPart]);
  };
  return {
    where: 'the given files',
    async json(name) {
      const b = blob(name);
      if (!b) return null;
      if (b.size > limitsOf(name).maxBytes)
        throw new Error(`${name}: ${b.size} bytes, over the ${limitsOf(name).maxBytes}-byte limit for this file`);
      return parseJsonObject(await b.text(), name, name);
    },
    async open(name) {
      const b = blob(name);
      if (!b) throw new Error(`${name} is not among the given files (${Object.keys(map).join(', ')})`);
      o.onProgress?.({ file: name, loaded: b.size, total: b.size });
      return blobSource(b);
    },
    exists: async (name) => blob(name) !== null,
  };
}

/** a base URL or a set of files → the CheckpointFiles the loader reads */
export function modelFiles(source: ModelSource, o: WebFilesOptions = {}): CheckpointFiles {
  return typeof source === 'string' || source instanceof URL ? fetchFiles(source, o) : blobFiles(source, o);
}
