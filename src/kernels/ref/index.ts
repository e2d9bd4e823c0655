// The reference implementation of Kernels: plain TypeScript loops, one thread, float64 sums. The oracle
// every fast kernel is tested against; never deleted, and selectable at run time ({ backend: 'ref' }).
import type { Kernels } from '../backend.js';
import { attentionBackward, attentionForward } from './attention.js';
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from './convert.js';
import { matmul, matmulQ8 } from './linear.js';
import { adamwStep, crossEntropyBackward, crossEntropyForward, embeddingBackward, embeddingForward } from './loss.js';
import {
  add, addBias, rmsnormBackward, rmsnormForward, ropeBackward, ropeForward, softmaxBackward, softmaxForward,
  swigluBackward, swigluForward,
} from './rows.js';

export function createRefKernels(): Kernels {
  return {
    name: 'ref', threads: 1,
    allocF32: (n) => new Float32Array(n), allocI32: (n) => new Int32Array(n), allocU8: (n) => new Uint8Array(n),
    allocI8: (n) => new Int8Array(n), allocU16: (n) => new Uint16Array(n),
    free: () => {}, dispose: () => {},
    matmul, matmulQ8, add, addBias, rmsnormForward, rmsnormBackward, ropeForward, ropeBackward, swigluForward,
    swigluBackward, softmaxForward, softmaxBackward, attentionForward, attentionBackward, crossEntropyForward,
    crossEntropyBackward, embeddingForward, embeddingBackward, adamwStep, f16ToF32, f32ToF16, bf16ToF32, f32ToBf16,
  };
}
