// The architecture description every engine reads (parsed by config.ts / config-moe.ts from config.json).
// A file of its own so that the parsers of each family can share the types without importing each other.

export type Arch = 'llada' | 'dream' | 'llama' | 'lladamoe' | 'llada2';
export type AttentionKind = 'bidirectional' | 'causal';

/** how a MoE layer picks its experts (moe.ts implements both; sources in config-moe.ts) */
export type RouterKind =
  | 'softmax' // LLaDA-MoE: softmax over all E (+ expert bias), top-k, weights = those values, no renormalisation
  | 'sigmoidGroup'; // LLaDA2: sigmoid (+ bias to choose), group-limited top-k, unbiased scores renormalised × scale

export interface MoeConfig {
  numExperts: number; // E
  topK: number; // K experts per token
  expertFfn: number; // Fe, each routed expert's SwiGLU width
  sharedFfn: number; // Fs, the shared expert's width on MoE layers; 0 = none
  router: RouterKind;
  expertBias: boolean; // an (E) expert bias tensor per MoE layer
  groups: number; // sigmoidGroup: experts in `groups` equal groups (1 for softmax)
  topGroups: number; // sigmoidGroup: groups kept per token
  scaling: number; // sigmoidGroup: routed_scaling_factor (1 for softmax)
  moeLayers: readonly boolean[]; // (L) true = MoE FFN, false = a dense SwiGLU of ffnSize
}

export interface ModelConfig {
  arch: Arch;
  vocabSize: number; // V (rows of the embedding; LLaDA's embedding_size, padded ≥ vocab_size)
  hiddenSize: number; // C
  numLayers: number; // L
  numHeads: number; // H
  numKvHeads: number; // Hkv
  headDim: number; // D
  ffnSize: number; // F
  ropeTheta: number;
  normEps: number;
  tieEmbeddings: boolean;
  qkvBias: boolean; // Qwen2/Dream: biases on q, k, v projections
  attention: AttentionKind; // the family's default; `forward` may override
  shiftLogits: boolean; // Dream: logits at i predict token i+1 (dllm-reference.md §3.2)
  maxPositions: number;
  /** a block-diffusion model (objective bd, llama layout): the block length it was trained on (config.json
   *  `bd_size`, Fast-dLLM v2's name); it decodes block-causally in blocks of bdSize (model/forward.ts defaultMask) */
  bdSize?: number;
  // absent = off (the dense families); set by the MoE families
  qkNorm?: boolean; // per-head RMSNorm (D) on q and k before RoPE
  ropeDim?: number; // rotate-half RoPE on the first ropeDim of each head's D (partial_rotary_factor · D); default D
  outBias?: boolean; // a bias on the attention output projection
  moe?: MoeConfig;
}
