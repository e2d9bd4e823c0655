// Kernels under test: every wasm variant this runtime can run, at 1 and 2 threads, plus the reference.
import type { Kernels } from '../../src/kernels/backend.js';
import { createRefKernels } from '../../src/kernels/ref/index.js';
import { createKernels } from '../../src/platform/node.js';

export interface Variant {
  label: string;
  make: () => Promise<Kernels>;
}

export const ref = createRefKernels();

export const wasmVariants: Variant[] = [
  { label: 'wasm relaxed-simd 1T', make: () => createKernels({ backend: 'wasm', simd: 'relaxed', threads: 1 }) },
  { label: 'wasm relaxed-simd 2T', make: () => createKernels({ backend: 'wasm', simd: 'relaxed', threads: 2 }) },
  { label: 'wasm simd128 2T', make: () => createKernels({ backend: 'wasm', simd: 'plain', threads: 2 }) },
];

/** copy data into a buffer the kernels own (the fast path, as real callers use it) */
export function own<T extends Float32Array | Int32Array | Uint8Array | Int8Array | Uint16Array>(k: Kernels, src: T): T {
  const dst = (
    src instanceof Float32Array
      ? k.allocF32(src.length)
      : src instanceof Int32Array
        ? k.allocI32(src.length)
        : src instanceof Uint8Array
          ? k.allocU8(src.length)
          : src instanceof Int8Array
            ? k.allocI8(src.length)
            : k.allocU16(src.length)
  ) as T;
  dst.set(src as never);
  return dst;
}
