// Pick a Kernels implementation: the WebAssembly engine where the runtime supports it, else the reference.
// `backend: 'ref'` forces the readable oracle (ggml's use_ref switch), e.g. to bisect a numerical difference.
import type { Kernels } from './backend.js';
import { createWasmKernels, type WasmOptions, type WasmPlatform } from './wasm/load.js';

export interface KernelOptions extends WasmOptions {
  backend?: 'auto' | 'wasm' | 'ref';
}

// the oracle is loaded only when asked for (or as the fallback), keeping it out of the fast path's startup
async function refKernels(): Promise<Kernels> {
  return (await import('./ref/index.js')).createRefKernels();
}

export async function selectKernels(platform: WasmPlatform | null, opts: KernelOptions = {}): Promise<Kernels> {
  const backend = opts.backend ?? 'auto';
  if (backend === 'ref') return refKernels();
  if (!platform) {
    if (backend === 'wasm') throw new Error('kernels: backend "wasm" needs a platform that can load the module');
    return refKernels();
  }
  const { backend: _b, ...wasmOpts } = opts;
  try {
    return await createWasmKernels(platform, wasmOpts);
  } catch (e) {
    if (backend === 'wasm') throw e;
    return refKernels(); // auto: a runtime without SIMD128 still works, slowly
  }
}
