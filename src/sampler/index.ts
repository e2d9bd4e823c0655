// The sampler's public surface: one decoding loop (generate / generateBatch), AR decoding beside it, the
// options with their parser, the schedules, and the seeded RNG. Nothing here touches Node or the model.
export type { Denoiser, DenoiseInput, DecoderSpecials, CausalModel, CausalState } from './types.js';
export type { GenerateRequest, DecodeStep, DecodeResult, Commit, TokenConstraint } from './types.js';
export { generate, generateBatch } from './decode.js';
export {
  DECODER_TABLE,
  decoderSpec,
  decoderHelp,
  type DecoderSpec,
  type DecoderFamily,
  type ConfidenceKind,
  type CountRule,
} from './decoders.js';
export { arGenerate, sampleNext } from './ar.js';
export { DecodeBatch, type BatchStep } from './batch.js';
export { CausalBatch } from './causal-batch.js';
export {
  parseDecodeOptions,
  parseArDecodeOptions,
  DecodeOptionError,
  resolveOptions,
  DECODE_DEFAULTS,
  DECODERS,
  isDreamDecoder,
  type DecodeOptions,
  type Decoder,
} from './options.js';
export { transferCounts, dreamTimesteps, dreamTransferCount } from './schedule.js';
export { DecodeRng } from './rng.js';
export { drain } from './drain.js';
