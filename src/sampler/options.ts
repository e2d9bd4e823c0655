// Decoding options: one typed object per request, its defaults (each with its source) and
// parseDecodeOptions(unknown), which rejects unknown keys and wrong types naming the key (style.md §3.5).
// CLI flags and server fields map 1:1 onto these keys (--block-length ↔ blockLength).

// The decoders and their sources live in one table (decoders.ts); options.ts reads it for the checks.
import { DECODER_TABLE, DECODERS, decoderSpec, decodersOf, isDreamDecoder, type Decoder } from './decoders.js';
export { DECODERS, isDreamDecoder, type Decoder };
const DREAM = decodersOf('dream');

export interface DecodeOptions {
  decoder: Decoder;
  /** generated (masked) positions; for AR decoding, the most new tokens */
  genLength: number;
  /** semi-AR block; must divide genLength */
  blockLength: number;
  /**
   * block diffusion (SDAR, LLaDA2, Fast-dLLM v2): blocks at absolute multiples of blockLength, the prompt's
   * tail opening the first one, and block-causal attention (a query sees its block and all earlier ones) —
   * the layout of their generate()s, see batch.ts. Exact for models trained block-causally; for a
   * bidirectional model (LLaDA, Dream) it changes the model's attention. false = LLaDA generate.py's layout
   */
  blockCausal: boolean;
  /**
   * Fast-dLLM v2 sub-blocks (`small_block_size`; 8 under its block_size 32): each step commits only within the
   * block's first sub-block that still has masks, while the forward still covers the whole block. Must divide
   * blockLength; for the decoders that run a block until done. 0 = off (the whole block at once)
   */
  subBlockLength: number;
  /** fixed and Dream decoders: total steps, split evenly over the blocks (threshold/factor run until done) */
  steps: number;
  /** 0 = argmax */
  temperature: number;
  /** LLaDA family: confidence = p(x0) ('low_confidence') or U(0,1) ('random') */
  remasking: 'low_confidence' | 'random';
  /** Fast-dLLM τ */
  threshold: number;
  /** Fast-dLLM factor f: accept n tokens while c_(n) ≥ 1 − f/(n+1) */
  factor: number;
  /**
   * joint_threshold (LLaDA2.1 T2T editing): a token generated earlier in the block is replaced by the model's
   * argmax where that differs and its probability is above this; 0 = wherever the argmax differs
   */
  editThreshold: number;
  /** joint_threshold: forwards a block may still take for edits once it has no mask left */
  maxPostEditSteps: number;
  /** classifier-free guidance s: un + (s+1)(cond − un); 0 = off */
  cfgScale: number;
  /** forbid sampling EOS (generate.py `logits_eos_inf`) */
  logitsEosInf: boolean;
  /** sampled EOS/EoT get −∞ confidence, so they are committed last (generate.py `confidence_eos_eot_inf`, fixed) */
  confidenceEosEotInf: boolean;
  /** nucleus filter on the proposal; 1 = off (Dream `top_p=None`; AR decoding) */
  topP: number;
  /** top-k filter on the proposal; 0 = off (Dream `top_k=None`; AR decoding) */
  topK: number;
  /** Dream: timesteps = linspace(1, eps, steps + 1) */
  eps: number;
  /** Dream: 0 = commit the top-k by confidence; > 0 = sample positions from softmax(conf / algTemp) */
  algTemp: number;
  /** once EOS is committed with everything before it decided, fill the rest with EOS and stop (off = exact parity) */
  earlyStop: boolean;
  /** infilling: false = the middle has exactly genLength tokens (EOS/EoT banned there); true = it may end with EOS */
  infillMayEnd: boolean;
  /**
   * OpenAI's penalties over the tokens already generated: logit[j] −= c[j]·frequencyPenalty + (c[j] > 0)·
   * presencePenalty, c[j] = how often j occurs; for a diffusion canvas, among the committed cells. 0 = off
   */
  presencePenalty: number;
  frequencyPenalty: number;
  seed: number;
}

/** Defaults for the LLaDA / Fast-dLLM decoders */
export const DECODE_DEFAULTS: Readonly<DecodeOptions> = Object.freeze({
  decoder: 'fixed', // LLaDA generate.py, the exact-parity reference
  genLength: 128,
  blockLength: 32,
  steps: 128,
  temperature: 0, // LLaDA generate.py main() and chat.py
  blockCausal: false, // LLaDA generate.py: bidirectional attention, blocks from the prompt's end
  subBlockLength: 0, // off: LLaDA and Fast-dLLM v1 commit anywhere in the block
  remasking: 'low_confidence', // generate.py default
  threshold: 0.9, // Fast-dLLM paper §4 default τ
  factor: 1.0, // Fast-dLLM example scripts (dllm-reference.md §2.2: unverified)
  editThreshold: 0, // SGLang JointThreshold: edit_threshold 0
  maxPostEditSteps: 16, // SGLang JointThreshold: max_post_edit_steps 16
  cfgScale: 0,
  logitsEosInf: false,
  confidenceEosEotInf: false, // generate.py defaults
  topP: 1,
  topK: 0,
  eps: 1e-3,
  algTemp: 0, // DreamGenerationConfig: top_p None, top_k None, eps 1e-3, alg_temp None
  earlyStop: false,
  infillMayEnd: false,
  seed: 0,
  presencePenalty: 0,
  frequencyPenalty: 0, // OpenAI's defaults (range −2..2)
} as DecodeOptions);

/**
 * Dream decoders change two defaults: no semi-AR blocks (diffusion_generate has none, so blockLength =
 * genLength) and steps = genLength (Dream README example: steps = max_new_tokens = 512; DreamGenerationConfig's
 * steps 512 assumes max_new_tokens 512). Every other default is DreamGenerationConfig's (temperature 0).
 */
export function resolveOptions(partial: Partial<DecodeOptions> = {}): DecodeOptions {
  const decoder = partial.decoder ?? DECODE_DEFAULTS.decoder;
  const genLength = partial.genLength ?? DECODE_DEFAULTS.genLength;
  const dream = isDreamDecoder(decoder);
  const o: DecodeOptions = {
    ...DECODE_DEFAULTS,
    ...(Object.hasOwn(DECODER_TABLE, decoder) ? decoderSpec(decoder).defaults : {}), // e.g. joint_threshold's τ 0.5
    // LLaDA main()'s block of 32 where it divides genLength, else one block (generate.py asserts divisibility)
    // steps default to genLength (one token per step, LLaDA main(): steps = gen_length = 128), so a genLength
    // alone never meets a steps it did not ask for
    ...(dream
      ? { blockLength: genLength, steps: genLength }
      : { blockLength: genLength % DECODE_DEFAULTS.blockLength === 0 ? DECODE_DEFAULTS.blockLength : genLength, steps: genLength }),
    ...partial,
  };
  checkOptions(o);
  return o;
}

type Kind = 'int' | 'number' | 'boolean' | readonly string[];
const SCHEMA: Record<keyof DecodeOptions, Kind> = {
  decoder: DECODERS,
  genLength: 'int',
  blockLength: 'int',
  blockCausal: 'boolean',
  subBlockLength: 'int',
  steps: 'int',
  temperature: 'number',
  remasking: ['low_confidence', 'random'],
  threshold: 'number',
  factor: 'number',
  editThreshold: 'number',
  maxPostEditSteps: 'int',
  cfgScale: 'number',
  logitsEosInf: 'boolean',
  confidenceEosEotInf: 'boolean',
  topP: 'number',
  topK: 'int',
  eps: 'number',
  algTemp: 'number',
  earlyStop: 'boolean',
  infillMayEnd: 'boolean',
  seed: 'int',
  presencePenalty: 'number',
  frequencyPenalty: 'number',
};

/** unknown (JSON body, preset file, argv map) → the keys it sets, each of its schema type */
function readOptions(input: unknown): Partial<DecodeOptions> {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) throw new DecodeOptionError(null, `expected an object, got ${describe(input)}`);
  const out: Partial<Record<keyof DecodeOptions, unknown>> = {};
  for (const [key, value] of Object.entries(input)) {
    if (!Object.hasOwn(SCHEMA, key))
      throw new DecodeOptionError(key as keyof DecodeOptions, `is not a decode option (known: ${Object.keys(SCHEMA).join(', ')})`);
    const kind = SCHEMA[key as keyof DecodeOptions];
    if (value === undefined) continue;
    const ok =
      kind === 'int'
        ? Number.isSafeInteger(value)
        : kind === 'number'
          ? typeof value === 'number' && Number.isFinite(value)
          : kind === 'boolean'
            ? typeof value === 'boolean'
            : typeof value === 'string' && kind.includes(value);
    if (!ok) {
      const want =
        typeof kind === 'string'
          ? kind === 'int'
            ? 'an integer'
            : kind === 'number'
              ? 'a finite number'
              : 'true or false'
          : `one of ${kind.join(' | ')}`;
      throw new DecodeOptionError(key as keyof DecodeOptions, `must be ${want}, got ${describe(value)}`);
    }
    out[key as keyof DecodeOptions] = value;
  }
  return out as Partial<DecodeOptions>;
}

/** unknown → validated, frozen DecodeOptions for a diffusion decoder, defaults filled in */
export function parseDecodeOptions(input: unknown): Readonly<DecodeOptions> {
  return Object.freeze(resolveOptions(readOptions(input)));
}

/** unknown → validated, frozen options for AR decoding (its own rules: the diffusion keys are read, not used) */
export function parseArDecodeOptions(input: unknown): Readonly<DecodeOptions> {
  return Object.freeze(resolveArOptions(readOptions(input)));
}

/** a decode option that is wrong: `key` names it, so a server can map it back to the wire field the user sent */
export class DecodeOptionError extends Error {
  constructor(
    readonly key: keyof DecodeOptions | null,
    readonly detail: string,
  ) {
    super(`decode options: ${key ? `"${key}" ` : ''}${detail}`);
  }
}

const bad = (key: keyof DecodeOptions, why: string): never => {
  throw new DecodeOptionError(key, why);
};

/** AR decoding reads genLength (max new tokens), temperature, topK, topP and seed; the rest is ignored */
export function resolveArOptions(partial: Partial<DecodeOptions> = {}): DecodeOptions {
  const o: DecodeOptions = { ...DECODE_DEFAULTS, ...partial };
  if (!(Number.isSafeInteger(o.genLength) && o.genLength > 0)) bad('genLength', `must be a positive integer, got ${o.genLength}`);
  if (!(o.temperature >= 0)) bad('temperature', `must be ≥ 0, got ${o.temperature}`);
  if (!(o.topP > 0 && o.topP <= 1)) bad('topP', `must be in (0, 1], got ${o.topP}`);
  if (!(Number.isSafeInteger(o.topK) && o.topK >= 0)) bad('topK', `must be an integer ≥ 0, got ${o.topK}`);
  if (!Number.isSafeInteger(o.seed)) bad('seed', `must be an integer, got ${o.seed}`);
  for (const k of ['presencePenalty', 'frequencyPenalty'] as const)
    if (!(o[k] >= -2 && o[k] <= 2)) bad(k, `must be between -2 and 2 (OpenAI's range), got ${o[k]}`);
  return o;
}

/** cross-field rules and ranges; the message names the key (the generate.py asserts, spelled out) */
export function checkOptions(o: DecodeOptions): void {
  if (!(Number.isSafeInteger(o.genLength) && o.genLength > 0)) bad('genLength', `must be a positive integer, got ${o.genLength}`);
  if (!(Number.isSafeInteger(o.blockLength) && o.blockLength > 0)) bad('blockLength', `must be a positive integer, got ${o.blockLength}`);
  if (o.genLength % o.blockLength !== 0)
    bad('genLength', `(${o.genLength}) must be a multiple of blockLength (${o.blockLength}) (generate.py asserts this)`);
  const numBlocks = o.genLength / o.blockLength;
  if (!(Number.isSafeInteger(o.subBlockLength) && o.subBlockLength >= 0))
    bad('subBlockLength', `must be an integer ≥ 0 (0 = off), got ${o.subBlockLength}`);
  if (o.subBlockLength > 0 && o.blockLength % o.subBlockLength !== 0)
    bad('subBlockLength', `(${o.subBlockLength}) must divide blockLength (${o.blockLength})`);
  if (o.subBlockLength > 0 && decoderSpec(o.decoder).stepsPerBlock !== 'until-done')
    bad(
      'subBlockLength',
      `needs a decoder that runs each sub-block until it is done (${DECODERS.filter((d) => decoderSpec(d).stepsPerBlock === 'until-done').join(', ')}), not "${o.decoder}" (Fast-dLLM v2 decodes sub-blocks by threshold)`,
    );
  if (!(Number.isSafeInteger(o.steps) && o.steps > 0)) bad('steps', `must be a positive integer, got ${o.steps}`);
  if (decoderSpec(o.decoder).stepsPerBlock === 'schedule' && o.steps % numBlocks !== 0)
    bad('steps', `(${o.steps}) must be a multiple of the number of blocks (${numBlocks}) (generate.py asserts this)`);
  if (!(o.temperature >= 0)) bad('temperature', `must be ≥ 0, got ${o.temperature}`);
  if (!(o.threshold > 0 && o.threshold <= 1)) bad('threshold', `must be in (0, 1], got ${o.threshold}`);
  if (!(o.factor > 0)) bad('factor', `must be > 0, got ${o.factor}`);
  if (!(o.editThreshold >= 0 && o.editThreshold < 1)) bad('editThreshold', `must be in [0, 1), got ${o.editThreshold}`);
  if (!(Number.isSafeInteger(o.maxPostEditSteps) && o.maxPostEditSteps >= 0))
    bad('maxPostEditSteps', `must be an integer ≥ 0, got ${o.maxPostEditSteps}`);
  if (decoderSpec(o.decoder).count === 'joint-threshold') {
    // JointThreshold proposes the argmax and ranks by its probability; its edits are per position of the whole block
    if (o.temperature !== 0) bad('temperature', `must be 0 for "${o.decoder}" (JointThreshold decodes by argmax), got ${o.temperature}`);
    if (o.remasking !== 'low_confidence') bad('remasking', `must be low_confidence for "${o.decoder}" (it ranks by p of the argmax)`);
    if (o.subBlockLength > 0) bad('subBlockLength', `is not for "${o.decoder}": its edits span the whole block`);
  }
  if (!(o.cfgScale >= 0)) bad('cfgScale', `must be ≥ 0, got ${o.cfgScale}`);
  if (!(o.topP > 0 && o.topP <= 1)) bad('topP', `must be in (0, 1], got ${o.topP}`);
  if (!(Number.isSafeInteger(o.topK) && o.topK >= 0)) bad('topK', `must be an integer ≥ 0, got ${o.topK}`);
  if (!(o.eps > 0 && o.eps < 1)) bad('eps', `must be in (0, 1), got ${o.eps}`);
  if (!(o.algTemp >= 0)) bad('algTemp', `must be ≥ 0, got ${o.algTemp}`);
  if (!Number.isSafeInteger(o.seed)) bad('seed', `must be an integer, got ${o.seed}`);
  for (const k of ['presencePenalty', 'frequencyPenalty'] as const)
    if (!(o[k] >= -2 && o[k] <= 2)) bad(k, `must be between -2 and 2 (OpenAI's range), got ${o[k]}`);
  const dream = isDreamDecoder(o.decoder);
  // the proposal filters exist only in the Dream sampler (sample_tokens); LLaDA's Gumbel-max has none
  if (!dream && o.topP !== 1) bad('topP', `applies to the Dream decoders (${DREAM.join(', ')}) and AR decoding, not "${o.decoder}"`);
  if (!dream && o.topK !== 0) bad('topK', `applies to the Dream decoders (${DREAM.join(', ')}) and AR decoding, not "${o.decoder}"`);
  if (dream && o.remasking !== 'low_confidence')
    bad('remasking', `applies to the LLaDA decoders (${decodersOf('llada').join(', ')}); Dream's confidence is chosen by "decoder"`);
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'string' ? JSON.stringify(v) : `${typeof v} ${String(v)}`;
}
