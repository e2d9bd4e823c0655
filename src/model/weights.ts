// Weights of a model: the parameter table's tensors, f32, f16, int8 (weight-only, per-output-channel scales)
// or 4-bit (weight-only, ggml Q4_0 blocks of 32 with one scale each).
// Arrays from the kernels' alloc* are used in place; plain arrays (weights too large for the wasm32 heap)
// are copied in by the kernels on each use, so a model larger than 4 GiB still runs, layer by layer.
import type { Kernels } from '../kernels/backend.js';
import { Q4_BLOCK, quantizeQ4, quantizeQ8 } from '../kernels/quantize.js';
import { createRefKernels } from '../kernels/ref/index.js';

// conversions of weights that stay outside kernel memory (beyond the resident budget)
const refKernels = createRefKernels();
import type { ModelConfig } from './config.js';
import { numel, parameterTable, type ParamSpec } from './params.js';

export type Weight =
  | { kind: 'f32'; data: Float32Array } // shape of its ParamSpec
  | { kind: 'f16'; bits: Uint16Array } // shape of its ParamSpec; widened to f32 by the kernels at each use
  | { kind: 'q8'; q: Int8Array; scales: Float32Array } // q (out, in), scales (out)
  | { kind: 'q4'; q: Uint8Array; scales: Float32Array }; // q (out, in/2) nibbles, scales (out, in/32)

export type Weights = Map<string, Weight>;

export type WeightDtype = 'f32' | 'f16' | 'q8' | 'q4';
export const WEIGHT_DTYPES: readonly WeightDtype[] = ['f32', 'f16', 'q8', 'q4'];

/**
 * f16, q8 and q4 apply to the matrices (linear layers and the embedding); norms and biases stay f32. q4 takes
 * the linear layers whose input width is a multiple of 32; the embedding (gathered by rows) and any other
 * matrix are stored q8.
 */
export function quantizes(spec: ParamSpec, dtype: WeightDtype): boolean {
  return dtype !== 'f32' && (spec.kind === 'linear' || spec.kind === 'embedding');
}

/** what a tensor is stored as at `dtype` (storeWeight, the memory plan and the ONNX graph agree through this) */
export function storageOf(spec: ParamSpec, dtype: WeightDtype): WeightDtype {
  if (!quantizes(spec, dtype)) return 'f32';
  if (dtype === 'q4') return spec.kind === 'linear' && spec.shape[1]! % Q4_BLOCK === 0 ? 'q4' : 'q8';
  return dtype;
}

/** Convert one loaded f32 tensor into the requested storage: f32, f16 (half the memory, widened per use), q8, q4. */
export function storeWeight(k: Kernels | null, spec: ParamSpec, data: Float32Array, dtype: WeightDtype): Weight {
  const n = numel(spec.shape);
  if (data.length !== n) throw new Error(`weight ${spec.name}: ${data.length} values, shape [${spec.shape}] needs ${n}`);
  const as = storageOf(spec, dtype);
  if (as === 'f16') {
    const bits = k ? k.allocU16(n) : new Uint16Array(n);
    (k ?? refKernels).f32ToF16(bits, data, n);
    return { kind: 'f16', bits };
  }
  if (as === 'q4') {
    const [rows, cols] = spec.shape as [number, number];
    const q = k ? k.allocU8((rows * cols) / 2) : new Uint8Array((rows * cols) / 2);
    const scales = k ? k.allocF32((rows * cols) / Q4_BLOCK) : new Float32Array((rows * cols) / Q4_BLOCK);
    quantizeQ4(data, rows, cols, { q, scales });
    return { kind: 'q4', q, scales };
  }
  if (as === 'q8') {
    const [rows, cols] = spec.shape as [number, number];
    const q = k ? k.allocI8(rows * cols) : new Int8Array(rows * cols);
    const scales = k ? k.allocF32(rows) : new Float32Array(rows);
    quantizeQ8(data, rows, cols, { q, scales });
    return { kind: 'q8', q, scales };
  }
  if (!k) return { kind: 'f32', data };
  const buf = k.allocF32(n);
  buf.set(data);
  return { kind: 'f32', data: buf };
}

export function weightBytes(w: Weight): number {
  if (w.kind === 'f32') return w.data.byteLength;
  return w.kind === 'f16' ? w.bits.byteLength : w.q.byteLength + w.scales.byteLength;
}

/**
 * Random weights (normal, std) from a seeded generator: tiny test models, training from scratch, benchmarks of
 * real shapes. As loadWeights does, the first `residentBytes` go into the kernels' memory and the rest stay on
 * the JS heap (copied in per use): a wasm32 memory holds at most 4 GiB.
 */
export function randomWeights(
  c: ModelConfig,
  k: Kernels | null,
  normal: () => number,
  std = 0.02,
  dtype: WeightDtype = 'f32',
  residentBytes = Infinity,
): Weights {
  const weights: Weights = new Map();
  let bytes = 0;
  for (const spec of parameterTable(c)) {
    const data = new Float32Array(numel(spec.shape));
    if (spec.kind === 'norm') data.fill(1);
    else if (spec.kind !== 'bias') for (let i = 0; i < data.length; i++) data[i] = normal() * std;
    const w = storeWeight(bytes < residentBytes ? k : null, spec, data, dtype);
    bytes += weightBytes(w);
    weights.set(spec.name, w);
  }
  return weights;
}
