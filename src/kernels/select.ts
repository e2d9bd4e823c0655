// Pick a Kernels implementation: the WebAssembly engine where the runtime supports it, else the reference.
// `backend: 'ref'` forces the readable oracle (ggml's use_ref switch), e.g. to bisect a numerical difference.
import type { Kernels } from './backend.js';
import { createRefKernels } from './ref/index.js';
import { createWasmKernels, type WasmOptions, type WasmPlatform } from './wasm/load.js';

export interface KernelOptions extends WasmOptions {
  backend?: 'auto' | 'wasm' | 'ref';
}

export async function selectKernels(platform: WasmPlatform | null, opts: KernelOptions = {}): Promise<Kernels> {
  const backend = opts.backend ?? 'auto';
  if (backend === 'ref') return createRefKernels();
  if (!platform) {
    if (backend === 'wasm') throw new Error('kernels: backend "wasm" needs a platform that can load the module');
    return createRefKernels();
  }
  const { backend: _b, ...wasmOpts } = opts;
  try {
    return await createWasmKernels(platform, wasmOpts);
  } catch (e) {
    if (backend === 'wasm') throw e;
    return createRefKernels(); // auto: a runtime without SIMD128 still works, slowly
  }
}
