// `loadModel` for the browser (no node:* here): a model folder's URL, or its files, → the same TextGenerator
// (text/generator.ts) that Node's loadModel returns, on the WebAssembly kernels in the page. In a page:
//   import { loadModel } from 'dllm/web';           // or '/web/dllm.js' from `dllm serve`
//   const lm = await loadModel('/model/dllm-code-mini/', { onProgress: (p) => console.log(p.file, p.loaded) });
//   const { text } = await lm.complete('def fibonacci(n):', { maxTokens: 64 });
// `{ backend: 'webgpu' }` runs the forward as compute shaders on navigator.gpu (webgpu/forward.ts) instead;
// `{ backend: 'ort', ort }` runs the ONNX graph of onnx/graph.ts on onnxruntime-web, the module the page passes in
// (import * as ort from 'onnxruntime-web/wasm'), on its WebAssembly execution provider.
import type { Kernels } from '../kernels/backend.js';
import { WasmKernels } from '../kernels/wasm/engine.js';
import type { CacheMode } from '../model/diffusion-lm.js';
import { Transformer } from '../model/forward.js';
import { f32Tensors, loadTokenizer, loadWeights } from '../model/load.js';
import { WEIGHT_DTYPES, type WeightDtype } from '../model/weights.js';
import { TextGenerator } from '../text/generator.js';
import { WebGpuTransformer } from '../webgpu/forward.js';
import { buildOnnxModel } from '../onnx/graph.js';
import { createRefKernels } from '../kernels/ref/index.js';
import { OrtTransformer, type OrtRuntime } from './ort-transformer.js';
import { createKernels } from './web.js';
import { modelFiles, type ModelSource, type ProgressCallback } from './web-files.js';

export interface WebLoadOptions {
  /** weight storage: f32, f16 (half the memory, f32 compute), q8 (weight-only int8) or q4 (4-bit blocks of 32) */
  dtype?: WeightDtype;
  /**
   * 'wasm' (default 'auto': wasm where the browser has SIMD128, else the reference kernels), 'ref', or
   * 'webgpu' (the dense families on the GPU, f32; the weights are read through the reference kernels), or
   * 'ort' (onnxruntime-web given as `ort`; f32, q8 or q4 graphs)
   */
  backend?: 'auto' | 'wasm' | 'ref' | 'webgpu' | 'ort';
  /**
   * backend 'ort': the onnxruntime-web module (its `InferenceSession`, `Tensor` and `env`), passed in so that
   * the bundle carries no runtime of its own; its .wasm is found where that module looks (ort.env.wasm.wasmPaths)
   */
  ort?: OrtWeb;
  /**
   * backend 'ort': ONNX Runtime's execution providers, in order of preference (default ['wasm']; ['webgpu', 'wasm']
   * with onnxruntime-web/webgpu where the browser has WebGPU)
   */
  executionProviders?: string[];
  /** webgpu: run on this device (default: one from navigator.gpu, destroyed by dispose()) */
  device?: GPUDevice;
  /** compute threads counting the page's own (default: navigator.hardwareConcurrency; 1 without cross-origin isolation) */
  threads?: number;
  /** the Fast-dLLM block cache of calls that choose none */
  cache?: CacheMode;
  /** bytes of each file as it arrives (weights, tokenizer, config) */
  onProgress?: ProgressCallback;
  /** where kernels-*.wasm and dllm-pool-worker.js are (default: beside the bundle) */
  assets?: string | URL;
  /** without shared memory the kernels' memory is fixed at creation: this many bytes (default 1 GiB) */
  memoryBytes?: number;
  /** run on these kernels (several models in one page share one pool); dispose() then leaves them running */
  kernels?: Kernels;
  fetch?: typeof fetch;
  signal?: AbortSignal;
}

/** what loadModel uses of onnxruntime-web */
export interface OrtWeb extends OrtRuntime {
  InferenceSession: {
    create(model: Uint8Array, options?: Record<string, unknown>): Promise<import('onnxruntime-common').InferenceSession>;
  };
  env: { wasm: { numThreads?: number } };
}

const KEYS: ReadonlyArray<keyof WebLoadOptions> = [
  'dtype',
  'backend',
  'ort',
  'executionProviders',
  'threads',
  'cache',
  'onProgress',
  'assets',
  'memoryBytes',
  'kernels',
  'device',
  'fetch',
  'signal',
];

/** the options as given, with unknown keys and wrong values refused (a page has no type checker) */
export function parseWebLoadOptions(o: unknown): WebLoadOptions {
  if (o === undefined || o === null) return {};
  if (typeof o !== 'object' || Array.isArray(o)) throw new Error('loadModel: options must be an object');
  for (const k of Object.keys(o))
    if (!KEYS.includes(k as keyof WebLoadOptions)) throw new Error(`loadModel: unknown option "${k}" (known: ${KEYS.join(', ')})`);
  const v = o as WebLoadOptions;
  if (v.dtype !== undefined && !WEIGHT_DTYPES.includes(v.dtype))
    throw new Error(`loadModel: "dtype" must be ${WEIGHT_DTYPES.join(', ')}, got ${String(v.dtype)}`);
  if (v.backend !== undefined && !['auto', 'wasm', 'ref', 'webgpu', 'ort'].includes(v.backend))
    throw new Error(`loadModel: "backend" must be auto, wasm, ref, webgpu or ort, got ${String(v.backend)}`);
  if (v.backend === 'ort' && !(v.ort && typeof v.ort.InferenceSession?.create === 'function' && typeof v.ort.Tensor === 'function'))
    throw new Error('loadModel: backend "ort" needs the onnxruntime-web module as "ort" (import * as ort from \'onnxruntime-web/wasm\')');
  if (v.ort !== undefined && v.backend !== 'ort') throw new Error('loadModel: "ort" needs backend "ort"');
  if (v.executionProviders !== undefined && v.backend !== 'ort') throw new Error('loadModel: "executionProviders" needs backend "ort"');
  if (
    v.executionProviders !== undefined &&
    !(Array.isArray(v.executionProviders) && v.executionProviders.length > 0 && v.executionProviders.every((e) => typeof e === 'string'))
  )
    throw new Error('loadModel: "executionProviders" must be a non-empty list of provider names, e.g. ["webgpu", "wasm"]');
  if (v.backend === 'ort' && v.dtype === 'f16')
    throw new Error('loadModel: "dtype" f16 is a storage format of the wasm kernels; ONNX Runtime takes f32, q8 or q4');
  if (v.backend === 'ort' && v.kernels !== undefined) throw new Error('loadModel: backend "ort" runs in ONNX Runtime, not on "kernels"');
  for (const k of ['memoryBytes', 'assets'] as const)
    if (v.backend === 'ort' && v[k] !== undefined)
      throw new Error(`loadModel: "${k}" is for the WebAssembly kernels; backend "ort" has its own`);
  if (v.backend === 'ort' && v.threads && typeof v.ort?.env?.wasm !== 'object')
    throw new Error('loadModel: "threads" with backend "ort" sets ort.env.wasm.numThreads, and this "ort" has no env.wasm');
  if (v.device !== undefined && v.backend !== 'webgpu') throw new Error('loadModel: "device" needs backend "webgpu"');
  if (v.backend === 'webgpu' && v.kernels !== undefined) throw new Error('loadModel: backend "webgpu" runs on a device, not on "kernels"');
  if (v.cache !== undefined && !['none', 'prefix', 'dual'].includes(v.cache))
    throw new Error(`loadModel: "cache" must be none, prefix or dual, got ${String(v.cache)}`);
  if (v.threads !== undefined && !(Number.isSafeInteger(v.threads) && v.threads >= 0))
    throw new Error(`loadModel: "threads" must be an integer ≥ 0, got ${String(v.threads)}`);
  if (v.memoryBytes !== undefined && !(Number.isSafeInteger(v.memoryBytes) && v.memoryBytes > 0))
    throw new Error(`loadModel: "memoryBytes" must be a positive integer, got ${String(v.memoryBytes)}`);
  for (const f of ['onProgress', 'fetch'] as const)
    if (v[f] !== undefined && typeof v[f] !== 'function') throw new Error(`loadModel: "${f}" must be a function`);
  return v;
}

/** tokenizer.json with its config files (special ids from the checkpoint), or null when there is none */
/** kept under its first name for the web bundle's users: the one checkpoint tokenizer loader of model/load.ts */
export const loadTokenizerFiles = loadTokenizer;

/** open a model (a folder URL, or its files) for text generation in this page; dispose() frees it */
export async function loadModel(source: ModelSource, options: WebLoadOptions = {}): Promise<TextGenerator> {
  const o = parseWebLoadOptions(options);
  const files = modelFiles(source, {
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.fetch ? { fetch: o.fetch } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  if (o.backend === 'ort') return loadOrtModel(files, o);
  const gpu = o.backend === 'webgpu',
    kernelBackend = o.backend === 'webgpu' ? 'ref' : o.backend;
  const k =
    o.kernels ??
    (await createKernels({
      ...(kernelBackend ? { backend: kernelBackend } : {}),
      ...(o.threads ? { threads: o.threads } : {}),
      ...(o.memoryBytes ? { memoryBytes: o.memoryBytes } : {}),
      ...(o.assets !== undefined ? { assets: o.assets } : {}),
      ...(o.fetch ? { fetch: o.fetch } : {}),
    }));
  const ownKernels = !o.kernels;
  try {
    // unshared memory cannot grow: keep at most half of it for weights (the rest are copied in per op)
    const fixed = k instanceof WasmKernels && !k.arena.shared ? k.arena.memory.buffer.byteLength : null;
    const loaded = await loadWeights(files, k, { dtype: o.dtype ?? 'f32', ...(fixed !== null ? { residentBytes: fixed / 2 } : {}) });
    const tokenizer = await loadTokenizerFiles(files);
    if (!tokenizer) throw new Error(`${files.where} has no tokenizer.json; text generation needs one`);
    const model = gpu
      ? await WebGpuTransformer.create(loaded.config, loaded.weights, o.device)
      : new Transformer(loaded.config, k, loaded.weights);
    return new TextGenerator({
      config: loaded.config,
      model,
      tokenizer,
      backend: gpu ? 'webgpu' : k.name,
      ...(o.cache ? { cache: o.cache } : {}),
      dispose: () => {
        model.dispose();
        if (ownKernels) k.dispose();
      },
    });
  } catch (e) {
    if (ownKernels) k.dispose();
    throw e;
  }
}

/** backend 'ort': f32 weights (read through the reference kernels) → the ONNX graph in memory → an onnxruntime-web session */
async function loadOrtModel(files: ReturnType<typeof modelFiles>, o: WebLoadOptions): Promise<TextGenerator> {
  const rt = o.ort!;
  const loaded = await loadWeights(files, createRefKernels(), { dtype: 'f32' });
  const tokenizer = await loadTokenizerFiles(files);
  if (!tokenizer) throw new Error(`${files.where} has no tokenizer.json; text generation needs one`);
  const graph = buildOnnxModel(loaded.config, f32Tensors(loaded), { dtype: o.dtype === 'q8' || o.dtype === 'q4' ? o.dtype : 'f32' });
  // onnxruntime-web's threads are its module's setting (read when its first session starts): set only when asked
  if (o.threads) rt.env.wasm.numThreads = o.threads;
  const session = await rt.InferenceSession.create(graph, {
    executionProviders: o.executionProviders ?? ['wasm'],
    graphOptimizationLevel: 'all',
  });
  const model = new OrtTransformer(loaded.config, session, rt);
  return new TextGenerator({
    config: loaded.config,
    model,
    tokenizer,
    backend: 'ort',
    ...(o.cache ? { cache: o.cache } : {}),
    dispose: () => model.dispose(),
  });
}
