// Entry point of the WebAssembly module: every export named *Task is `(start, end, tid, ...args)` and does
// work items [start, end) of one op; the thread pool hands out item ranges. Memory is imported (shared
// when threads are available) and managed from JS: the module has no allocator and no data segments.
// kernel6x8 is exported only so Binaryen keeps it a separate function: inlined into matmulTiles, V8 spilled
// its accumulators (measured 28 vs ~60 GFLOP/s on one thread).
export { matmulTiles, kernel6x8, MATMUL_SCRATCH_BYTES, MC, NC } from './matmul';
// dot4F32 likewise (exported to stay out of gemvTTask's register pressure).
export { gemvTTask, gemvNTask, gemvQ8Task, gemvQ4Task, dot4F32, GEMV_MAX_ROWS, GEMV_COLS } from './gemv';
export {
  CHUNK, addTask, addBiasTask, copyTask, rmsnormForwardTask, rmsnormBackwardXTask, rmsnormBackwardWTask, ropeTask,
  swigluForwardTask, swigluBackwardTask, softmaxForwardTask, softmaxBackwardTask,
} from './rows';
export { attentionForwardTask, attentionBackwardTask } from './attention';
export {
  crossEntropyForwardTask, crossEntropyBackwardTask, embeddingForwardTask, embeddingBackwardTask, adamwTask,
} from './loss';
export { f16ToF32Task, f32ToF16Task, bf16ToF32Task, f32ToBf16Task } from './convert';
