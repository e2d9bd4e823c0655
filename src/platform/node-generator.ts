// `loadModel` for Node.js: a model by the name it ships under in models/ (dllm-code-mini, its -ar twin) or a
// folder path → a TextGenerator (generator.ts) on the chosen backend. Five lines from install to text:
//   import { loadModel } from 'dllm/node';
//   const lm = await loadModel('dllm-code-mini');
//   const { text } = await lm.complete('def fibonacci(n):', { maxTokens: 64 });
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TextGenerator } from '../text/generator.js';
import type { CacheMode } from '../model/diffusion-lm.js';
import { openModel, type OpenOptions } from './node-backend.js';

/** the model `dllm generate`, `dllm serve` and `loadModel()` use when given none */
export const DEFAULT_MODEL = 'dllm-code-mini';
const MODELS_DIR = fileURLToPath(new URL('../../../models/', import.meta.url)); // from build/src/platform/

/** a bare name is a model shipped in models/; anything else is a folder path */
export function resolveModel(nameOrDir: string): string {
  const shipped = resolve(MODELS_DIR, nameOrDir);
  if (/^[\w.-]+$/.test(nameOrDir) && existsSync(resolve(shipped, 'config.json'))) return shipped;
  if (existsSync(nameOrDir)) return nameOrDir;
  if (nameOrDir === DEFAULT_MODEL) throw new Error(`no model yet: ${shipped} is missing (the default model is trained by \`dllm train --config configs/dllm-code-mini.json\`)`);
  throw new Error(`model "${nameOrDir}" is neither a folder nor a model in ${MODELS_DIR}`);
}

export interface LoadModelOptions extends OpenOptions { cache?: CacheMode; }

/** open a model (shipped name or folder) for text generation; dispose() frees it */
export async function loadModel(nameOrDir: string = DEFAULT_MODEL, o: LoadModelOptions = {}): Promise<TextGenerator> {
  const dir = resolveModel(nameOrDir);
  const m = await openModel(dir, o);
  if (!m.tokenizer) { m.dispose(); throw new Error(`${dir} has no tokenizer.json; text generation needs one`); }
  try {
    return new TextGenerator({ config: m.config, model: m.model, tokenizer: m.tokenizer, backend: m.backend, dispose: () => m.dispose(), ...(o.cache ? { cache: o.cache } : {}) });
  } catch (e) { m.dispose(); throw e; }
}
