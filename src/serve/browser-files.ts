// The files a page needs to run a model by itself (the playground's ?engine=browser): the browser bundle
// (build/web/: dllm.js, its pool worker, the kernels' .wasm) under /web/, and each served model folder's
// loader files (config, tokenizer, safetensors and the shards its index names) under /model/<id>/, and, when the
// onnxruntime-web package is installed, its WebAssembly build under /web/ort/ (a page's backend 'ort'). Only
// those names are served: a request names a file of a fixed list, never a path, so nothing else on disk is
// reachable. These responses and the playground carry the cross-origin isolation headers (COOP + COEP) that
// give the page SharedArrayBuffer, so the kernels can run threaded on Web Workers.
import { createReadStream, existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { ApiError } from './errors.js';

/** what makes the page cross-origin isolated; CORP lets an isolated page embed these same-origin files */
export const ISOLATION_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-embedder-policy': 'require-corp',
  'cross-origin-resource-policy': 'same-origin',
});

const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url)); // from build/src/serve/ → build/web/

/**
 * onnxruntime-web's builds, each a module (the glue bundled in) and the .wasm it loads beside itself: the
 * WebAssembly execution provider, and the one that adds WebGPU (its asyncify build)
 */
const ORT_WEB_FILES = [
  'ort.wasm.bundle.min.mjs',
  'ort-wasm-simd-threaded.wasm',
  'ort.webgpu.bundle.min.mjs',
  'ort-wasm-simd-threaded.asyncify.wasm',
];

/** onnxruntime-web's dist/ folder, or null when the package is not installed (it is optional) */
function ortWebDir(): string | null {
  try {
    return dirname(createRequire(import.meta.url).resolve('onnxruntime-web/ort-wasm-simd-threaded.wasm'));
  } catch {
    return null;
  }
}

/** the files the loaders read from a model folder (model/load.ts, the tokenizer) */
const MODEL_FILES = [
  'config.json',
  'generation_config.json',
  'tokenizer.json',
  'tokenizer_config.json',
  'special_tokens_map.json',
  'model.safetensors',
  'model.safetensors.index.json',
];
const PLAIN_NAME = /^[\w][\w.-]*$/;

const TYPES: Readonly<Record<string, string>> = {
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.safetensors': 'application/octet-stream',
};
const typeOf = (name: string) => TYPES[name.slice(name.lastIndexOf('.'))] ?? 'application/octet-stream';

const isFile = (p: string) => {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
};

/** name → path of the files of one model folder the browser may fetch (the shards its index lists included) */
export function modelFolderFiles(dir: string): Map<string, string> {
  const names = new Set(MODEL_FILES);
  const index = join(dir, 'model.safetensors.index.json');
  if (isFile(index)) {
    try {
      const map = (JSON.parse(readFileSync(index, 'utf8')) as { weight_map?: Record<string, unknown> }).weight_map ?? {};
      for (const f of Object.values(map)) if (typeof f === 'string' && PLAIN_NAME.test(f)) names.add(f);
    } catch {
      /* a broken index is the loader's error to report; its shards are not served */
    }
  }
  const out = new Map<string, string>();
  for (const n of names) if (isFile(join(dir, n))) out.set(n, join(dir, n));
  return out;
}

/** where a model's files are, for its card in /v1/models (null when it was not loaded from a folder) */
export type ModelDirs = ReadonlyMap<string, string>;

export function registerBrowserFiles(app: FastifyInstance, dirs: ModelDirs): void {
  const models = new Map([...dirs].map(([id, dir]) => [id, modelFolderFiles(dir)] as const));
  const send = (reply: import('fastify').FastifyReply, name: string, path: string) => {
    const size = statSync(path).size;
    void reply.headers({ ...ISOLATION_HEADERS, 'content-type': typeOf(name), 'content-length': String(size), 'cache-control': 'no-cache' });
    return reply.send(createReadStream(path));
  };
  app.get<{ Params: { file: string } }>('/web/:file', async (req, reply) => {
    const name = req.params.file;
    // the listing of build/web/ is the allow-list: a name not in it (../x, an encoded slash) is not found
    const listed = existsSync(WEB_DIR) ? readdirSync(WEB_DIR) : [];
    if (!listed.length)
      throw new ApiError(
        404,
        `the browser bundle is not built (${WEB_DIR} is empty): run \`npm run build\``,
        null,
        'not_built',
        'not_found_error',
      );
    if (!PLAIN_NAME.test(name) || !listed.includes(name) || !isFile(join(WEB_DIR, name)))
      throw new ApiError(404, `no file /web/${name}`, null, 'unknown_url', 'not_found_error');
    return send(reply, name, join(WEB_DIR, name));
  });
  app.get<{ Params: { file: string } }>('/web/ort/:file', async (req, reply) => {
    const dir = ortWebDir(),
      name = req.params.file;
    if (!dir)
      throw new ApiError(
        404,
        'onnxruntime-web is not installed here (npm install onnxruntime-web)',
        null,
        'not_installed',
        'not_found_error',
      );
    if (!ORT_WEB_FILES.includes(name) || !isFile(join(dir, name)))
      throw new ApiError(404, `no file /web/ort/${name} (served: ${ORT_WEB_FILES.join(', ')})`, null, 'unknown_url', 'not_found_error');
    return send(reply, name, join(dir, name));
  });
  app.get<{ Params: { id: string; file: string } }>('/model/:id/:file', async (req, reply) => {
    const files = models.get(req.params.id);
    if (!files)
      throw new ApiError(404, `model "${req.params.id}" has no folder on this server`, 'model', 'model_not_found', 'not_found_error');
    const path = files.get(req.params.file);
    if (!path)
      throw new ApiError(
        404,
        `model "${req.params.id}" has no file "${req.params.file}" for the browser (${[...files.keys()].join(', ')})`,
        null,
        'unknown_url',
        'not_found_error',
      );
    return send(reply, req.params.file, path);
  });
}
