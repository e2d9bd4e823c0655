// The LLaDA-8B shape both 8B benchmarks build (llada8b-q8: our kernels; llada8b-ort: ONNX Runtime), from
// GSAI-ML/LLaDA-8B's config.json (dllm-reference.md §1.1) — one table, so the two measure the same model.
import { validateConfig, type ModelConfig } from '../src/model/config.js';

export const LLADA_8B: ModelConfig = validateConfig({
  arch: 'llada',
  vocabSize: 126464,
  hiddenSize: 4096,
  numLayers: 32,
  numHeads: 32,
  numKvHeads: 32,
  headDim: 128,
  ffnSize: 12288,
  ropeTheta: 500000,
  normEps: 1e-5,
  tieEmbeddings: false,
  qkvBias: false,
  attention: 'bidirectional',
  shiftLogits: false,
  maxPositions: 4096,
});
/** its checkpoint's mask and EOS ids (config.json mask_token_id / eos_token_id) */
export const LLADA_8B_IDS = { mask: 126336, eos: 126081 } as const;
