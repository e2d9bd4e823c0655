// Opening a model folder on a compute backend for inference — the one place the CLI and the server choose:
//   ort   ONNX Runtime (onnxruntime-node, native MLAS): the graph of onnx/graph.ts, f32 or int8 (DynamicQuantizeMatMul)
//   wasm  our WebAssembly SIMD kernels (f32, f16, q8 or q4 storage) — the engine that also trains
//   ref   the reference kernels (slow; the oracle)
//   auto  the fastest that loads: ort when onnxruntime-node loads here, else wasm (f16 storage is wasm's)
// Whatever the backend, the result is a ForwardModel: DiffusionLM, CausalLM and the decoding loop do not change.
import type { Kernels } from '../kernels/backend.js';
import type { ModelConfig } from '../model/config.js';
import type { ForwardModel } from '../model/forward.js';
import type { WeightDtype } from '../model/weights.js';
import type { TextTokenizer } from '../tokenizer/index.js';
import { createKernels } from './node.js';
import { loadModelDir } from './node-model.js';

export type Backend = 'auto' | 'ort' | 'wasm' | 'ref';
export const BACKENDS: readonly Backend[] = ['auto', 'ort', 'wasm', 'ref'];

export interface OpenOptions {
  backend?: Backend;
  dtype?: WeightDtype;
  /** compute threads (0 = all cores) */
  threads?: number;
  /** wasm/ref: run on these kernels instead of a new pool (several models in one server) */
  kernels?: Kernels;
}

export interface OpenedModel {
  config: ModelConfig;
  model: ForwardModel;
  tokenizer: TextTokenizer | null;
  backend: 'ort' | 'wasm' | 'ref';
  /** what runs it, for logs: "onnxruntime-node 1.30.0" or the kernels' name */
  engine: string;
  dispose(): void;
}

export function parseBackend(v: string | undefined): Backend {
  const b = (v ?? 'auto') as Backend;
  if (!BACKENDS.includes(b)) throw new Error(`--backend must be one of ${BACKENDS.join(', ')}, got "${v}"`);
  return b;
}

/** onnxruntime-node's binding, or null when it cannot load on this machine */
async function ortModule(): Promise<typeof import('./node-ort.js') | null> {
  try {
    return await import('./node-ort.js');
  } catch {
    return null;
  }
}

export async function openModel(dir: string, o: OpenOptions = {}): Promise<OpenedModel> {
  const want = o.backend ?? 'auto',
    dtype = o.dtype ?? 'f32';
  // f16 is a storage format of our kernels: 'auto' takes it there; ONNX Runtime takes f32, q8 and q4
  if (want === 'ort' || (want === 'auto' && dtype !== 'f16')) {
    if (want === 'ort' && dtype === 'f16')
      throw new Error('--dtype f16 is a storage format of the wasm backend; ONNX Runtime takes f32, q8 or q4');
    const ortLib = await ortModule();
    if (ortLib) {
      const m = await ortLib.loadOrtModelDir(dir, { dtype: dtype === 'f16' ? 'f32' : dtype, threads: o.threads ?? 0 });
      return {
        config: m.config,
        model: m.model,
        tokenizer: m.tokenizer,
        backend: 'ort',
        engine: `onnxruntime-node ${ortLib.ORT_VERSION}`,
        dispose: () => m.model.dispose(),
      };
    }
    if (want === 'ort')
      throw new Error('--backend ort: onnxruntime-node does not load on this machine (npm ci installs it; use --backend wasm)');
  }
  const backend = want === 'ref' ? 'ref' : 'wasm';
  const k = o.kernels ?? (await createKernels({ backend, ...(o.threads ? { threads: o.threads } : {}) }));
  try {
    const m = await loadModelDir(dir, k, { dtype });
    return {
      config: m.config,
      model: m.model,
      tokenizer: m.tokenizer,
      backend,
      engine: k.name,
      dispose: () => {
        m.model.dispose();
        if (!o.kernels) k.dispose();
      },
    };
  } catch (e) {
    if (!o.kernels) k.dispose();
    throw e;
  }
}
