// The reference Kernels: plain loops over typed arrays, sums in f64, one file per op family. It is the
// oracle every fast backend is tested against (test/kernels/parity.ts) and the fallback where WebAssembly
// SIMD is missing. It allocates ordinary zeroed typed arrays; free and dispose have nothing to do.
import type { Kernels } from '../backend.js';
import { add, addBias } from './elementwise.js';
import { adamwStep } from './adamw.js';
import { attentionBackward, attentionForward } from './attention.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './convert.js';
import { crossEntropyBackward, crossEntropyForward } from './cross-entropy.js';
import { embeddingBackward, embeddingForward } from './embedding.js';
import { matmul, matmulQ4, matmulQ8 } from './matmul.js';
import { rmsnormBackward, rmsnormForward } from './norm.js';
import { ropeBackward, ropeForward } from './rope.js';
import { softmaxBackward, softmaxForward } from './softmax.js';
import { swigluBackward, swigluForward } from './activations.js';

export function createRefKernels(): Kernels {
  return {
    name: 'ref',
    threads: 1,
    allocF32: (n) => new Float32Array(n),
    allocI32: (n) => new Int32Array(n),
    allocU8: (n) => new Uint8Array(n),
    allocI8: (n) => new Int8Array(n),
    allocU16: (n) => new Uint16Array(n),
    free: () => {},
    dispose: () => {},
    matmul,
    matmulQ8,
    matmulQ4,
    add,
    addBias,
    rmsnormForward,
    rmsnormBackward,
    ropeForward,
    ropeBackward,
    swigluForward,
    swigluBackward,
    softmaxForward,
    softmaxBackward,
    attentionForward,
    attentionBackward,
    crossEntropyForward,
    crossEntropyBackward,
    embeddingForward,
    embeddingBackward,
    adamwStep,
    f16ToF32,
    f32ToF16,
    bf16ToF32,
    f32ToBf16,
  };
}
