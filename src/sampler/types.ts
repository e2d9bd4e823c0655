// What the decoding loop needs from a model, declared here so the sampler never imports model/: the
// Transformer satisfies it through a small adapter, tests drive it with fakes, caches wrap it.
import type { ConfidenceKind } from './decoders.js';

/** Special ids, from the checkpoint's files (never literals). */
export interface DecoderSpecials {
  mask: number; // [MASK] of the canvas
  eos: number | null;
  eot: number | null; // end of turn (chat); may equal eos
  pad: number | null;
}

/**
 * One denoiser call. Positions and padding are per row; `region` says which rows of T the caller needs.
 * With classifier-free guidance B = 2A: the A conditional rows, then the same rows with the prompt masked.
 */
export interface DenoiseInput {
  tokens: Int32Array; // (B, T) current canvas, mask id where still masked
  B: number;
  T: number;
  positions?: Int32Array; // (B, T); default 0..T-1 per row
  keyValid?: Uint8Array | null; // (B, T): 0 = left padding, never attended to
  /**
   * Rows [start, end) of every batch row for which logits are returned (default [0, T)). Cache wrappers use
   * it as the active block; `blockStart` marks the first step of a block (the step that refreshes a cache).
   * The decoding loop (decode.ts) also sets it whenever the batch's rows change (a row finished and left),
   * so a wrapper may assume B and the rows' identities are fixed between two blockStart calls.
   */
  region?: { start: number; end: number; blockStart: boolean };
  /**
   * Block-causal attention over blocks of this many COLUMNS: a query at column p sees key j iff
   * floor(j / L) ≤ floor(p / L) (the caller lays every row's blocks on multiples of L: options.blockCausal).
   * Absent: the model's own attention.
   */
  blockCausal?: number;
}

/**
 * A bidirectional denoiser. Logits are aligned: row i scores the token AT position i (a Dream-style
 * model that predicts i+1 from i is shifted by its adapter, not by the sampler).
 */
export interface Denoiser {
  readonly vocabSize: number;
  readonly specials: DecoderSpecials;
  /** logits (B, R, V), R = region length (default T), as float32 */
  denoise(input: DenoiseInput): Promise<Float32Array>;
  /**
   * Where the engine computes it (ONNX Runtime's graph): per row of the region, the argmax of the logits with
   * `banned` ids excluded and its confidence of `kind` (its softmax probability, the top-2 margin or the negative
   * entropy), (B, R) each — all that decoding at temperature 0 without filters reads, without (B, R, V) logits
   * crossing over or a softmax in JS. `hasTop1` says it is there.
   */
  readonly hasTop1?: boolean;
  denoiseTop1?(
    input: DenoiseInput,
    banned: readonly number[],
    kind: ConfidenceKind,
  ): Promise<{ token: Int32Array; confidence: Float32Array }>;
}

/** A causal language model with a KV cache, for AR decoding beside the diffusion model. */
export interface CausalModel {
  readonly vocabSize: number;
  readonly specials: Omit<DecoderSpecials, 'mask'>; // an AR model has no [MASK]
  /** start a new sequence state (one row) */
  newState(): CausalState;
}

export interface CausalState {
  /** append tokens to the cached sequence and return logits (V) for the next token after the last one */
  append(tokens: Int32Array): Promise<Float32Array>;
  dispose(): void;
}

// What a decoding loop takes and yields (decode.ts drives batch.ts; both read these, neither imports the other's types)

/** a mask that depends on what came before: grammar-constrained decoding */
export interface TokenConstraint {
  /** (V) 0/1 mask of the ids the position after `prefix` (generated ids) may take, with `left` positions after it */
  allowed(prefix: ArrayLike<number>, left: number): Uint8Array;
}

/** one prompt; ids only (the tokenizer is the caller's) */
export interface GenerateRequest {
  prompt: ArrayLike<number>;
  /** infilling: ids after the masked middle (the middle is genLength positions) */
  suffix?: ArrayLike<number>;
  /** ids pinned inside the generated span: `offset` 0 = first generated position (LLaDA app.py `pos:word`) */
  pinned?: ReadonlyArray<{ offset: number; ids: ArrayLike<number> }>;
  /**
   * token constraints inside the generated span: position `offset` may only take the ids where `ids[v]` is 1
   * (a (V) 0/1 mask; structured output's value slots). Applied before any proposal, like the banned ids.
   */
  allowed?: ReadonlyArray<{ offset: number; ids: Uint8Array }>;
  /**
   * a constraint that depends on the ids before a position (token-level grammar masking, text/json-mask.ts):
   * the diffusion loop then decodes left to right (blockLength 1), a causal one as always
   */
  constraint?: TokenConstraint;
  /** this row's own seed: it then draws exactly what it would draw decoded alone with options.seed = seed */
  seed?: number;
}

export interface Commit {
  position: number; // in the generated span
  token: number;
  confidence: number;
  edit?: boolean; // joint_threshold: the position held another generated token (a T2T edit), not a mask
}

export interface DecodeStep {
  row: number; // request index in the batch (0 for generate)
  step: number; // this row's steps so far, 0-based across blocks
  block: number;
  nfe: number; // denoiser calls this row took part in, so far
  forward: number; // denoiser calls of the whole batch so far (the steps of one call share it)
  committed: Commit[]; // by position
  canvas: Int32Array; // (G) the generated span, mask id where undecided — a copy, safe to keep
  finished: boolean; // this row's last step
}

export interface DecodeResult {
  ids: Int32Array; // generated ids before the first EOS/EoT (the middle, when infilling)
  canvas: Int32Array; // (G) the whole generated span
  finishReason: 'stop' | 'length'; // stop: an EOS/EoT was generated
  nfe: number;
  tokensPerForward: number; // ids.length / nfe (Fast-dLLM counts tokens up to EOS)
  elapsedMs: number; // wall time from the row's start to its end
  modelMs: number; // time inside the denoiser calls this row took part in (shared by the rows of a call)
}
