// `loadModel` for Node.js: a model by the name it ships under in models/ (dllm-code-mini, its -ar twin), a
// folder path, or a Hugging Face hub id (ORG/NAME: from the hub cache, else downloaded; node-hub.ts) → a TextGenerator (generator.ts) on the chosen backend. Five lines from install to text:
//   import { loadModel } from 'dllm/node';
//   const lm = await loadModel('dllm-code-mini');
//   const { text } = await lm.complete('def fibonacci(n):', { maxTokens: 64 });
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TextGenerator } from '../text/generator.js';
import type { CacheMode } from '../model/diffusion-lm.js';
import { openModel, type OpenOptions } from './node-backend.js';
import { cachedModel, hubEnv, hubIdOfDir, isHubId } from './node-hub-cache.js';
import { ensureHubModel, type PullProgress } from './node-hub.js';

/** the model `dllm generate`, `dllm serve` and `loadModel()` use when given none */
export const DEFAULT_MODEL = 'dllm-code-mini';
const MODELS_DIR = fileURLToPath(new URL('../../../models/', import.meta.url)); // from build/src/platform/

/** a bare name is a model shipped in models/, then a folder path, then a hub id ORG/NAME already in the hub
 *  cache (synchronous and without a request: `fetchModel` / `dllm pull` download one that is not) */
export function resolveModel(nameOrDir: string, revision = 'main'): string {
  const shipped = resolve(MODELS_DIR, nameOrDir);
  if (/^[\w.-]+$/.test(nameOrDir) && existsSync(resolve(shipped, 'config.json'))) return shipped;
  if (existsSync(nameOrDir)) return nameOrDir;
  if (isHubId(nameOrDir)) {
    const hit = cachedModel(nameOrDir, revision);
    if (hit) return hit.dir;
    throw new Error(
      `model "${nameOrDir}" is not a folder, and not in the Hugging Face cache ${hubEnv().cacheDir}: \`dllm pull ${nameOrDir}\` downloads it`,
    );
  }
  if (nameOrDir === DEFAULT_MODEL)
    throw new Error(
      `no model yet: ${shipped} is missing (the default model is trained by \`dllm train --config configs/dllm-code-mini.json\`)`,
    );
  throw new Error(`model "${nameOrDir}" is neither a folder nor a model in ${MODELS_DIR}`);
}

/** a model's name in logs, results and the server's model list: a hub snapshot by its id ORG/NAME (not its
 *  commit hash), anything else by its folder name */
export function modelName(dir: string): string {
  return hubIdOfDir(resolve(dir)) ?? basename(resolve(dir));
}

export interface FetchModelOptions {
  /** hub ids: branch, tag or commit (default "main") */
  revision?: string;
  /** hub ids: download progress, when the model is not in the cache yet */
  onProgress?: (p: PullProgress) => void;
}

/** resolveModel, but a hub id missing from the cache is downloaded first (unless HF_HUB_OFFLINE is set) */
export async function fetchModel(nameOrDir: string, o: FetchModelOptions = {}): Promise<string> {
  const revision = o.revision ?? 'main';
  try {
    return resolveModel(nameOrDir, revision);
  } catch (e) {
    if (!isHubId(nameOrDir) || existsSync(nameOrDir)) throw e;
  }
  return ensureHubModel(nameOrDir, { revision, ...(o.onProgress ? { onProgress: o.onProgress } : {}) });
}

export interface LoadModelOptions extends OpenOptions, FetchModelOptions {
  cache?: CacheMode;
}

/** open a model (shipped name, folder or hub id) for text generation; dispose() frees it */
export async function loadModel(nameOrDir: string = DEFAULT_MODEL, o: LoadModelOptions = {}): Promise<TextGenerator> {
  const dir = await fetchModel(nameOrDir, o);
  const m = await openModel(dir, o);
  if (!m.tokenizer) {
    m.dispose();
    throw new Error(`${dir} has no tokenizer.json; text generation needs one`);
  }
  try {
    return new TextGenerator({
      config: m.config,
      model: m.model,
      tokenizer: m.tokenizer,
      backend: m.backend,
      dispose: () => m.dispose(),
      ...(o.cache ? { cache: o.cache } : {}),
    });
  } catch (e) {
    m.dispose();
    throw e;
  }
}
