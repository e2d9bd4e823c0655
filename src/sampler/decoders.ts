// The decoders as data: one row per decoder says which sampler proposes its tokens, what its confidence
// is, how many steps a block gets and which rule counts the tokens a step commits. The step engine
// (batch.ts), the option checks (options.ts) and the CLI's --decoder help read this table; nothing else
// compares decoder names.

/** whose proposal step a decoder uses: LLaDA's Gumbel-max (generate.py) or Dream's sample_tokens */
export type DecoderFamily = 'llada' | 'dream';

/**
 * the score a masked position is ranked by: p(x0) of the proposed token (LLaDA low_confidence, Dream
 * maskgit_plus), top-1 − top-2 probability (Dream topk_margin) or −entropy of the distribution (Dream entropy)
 */
export type ConfidenceKind = 'probability' | 'margin' | 'negEntropy';

/**
 * how many tokens a step commits:
 *   linear       — generate.py get_num_transfer_tokens: the block's masks spread evenly over its steps
 *   threshold    — Fast-dLLM: the most confident, then every other with confidence ≥ τ
 *   factor       — Fast-dLLM dynamic: commit while c_(n) ≥ 1 − f/(n+1), n counted from 1
 *   threshold-schedule — LLaDA2: every mask with p > τ if at least the step's k pass, else the top k, where
 *                  k = get_num_transfer_tokens(block length, steps per block) (select.ts thresholdOrCount)
 *   dream-topk   — Dream _sample: int(M·(1 − s/t)) of the M masks by confidence (all on the last step)
 *   dream-origin — Dream origin: each mask moves with probability 1 − s/t, independently
 *   joint-threshold — LLaDA2.1 token editing (edit.ts): mask to token (M2T) for every mask with p > τ, else
 *                  the top one, plus token to token (T2T): a generated token of the block is replaced by the
 *                  argmax where that differs and p > editThreshold; the block ends when a step changes
 *                  nothing, or after maxPostEditSteps steps with no mask left
 */
export type CountRule = 'linear' | 'threshold' | 'factor' | 'threshold-schedule' | 'dream-topk' | 'dream-origin' | 'joint-threshold';

export interface DecoderSpec {
  family: DecoderFamily;
  confidence: ConfidenceKind;
  /** 'schedule': options.steps split evenly over the blocks; 'until-done': as many steps as the block needs */
  stepsPerBlock: 'schedule' | 'until-done';
  count: CountRule;
  /** the options this decoder reads besides the common ones (for the help text) */
  reads: readonly string[];
  /** where the algorithm comes from */
  source: string;
  /** defaults this decoder's source sets differently from DECODE_DEFAULTS (options.ts resolveOptions) */
  defaults?: { readonly threshold?: number };
}

export const DECODER_TABLE = {
  fixed: {
    family: 'llada',
    confidence: 'probability',
    stepsPerBlock: 'schedule',
    count: 'linear',
    reads: ['steps', 'remasking'],
    source: 'LLaDA generate.py `generate` (ML-GSAI/LLaDA)',
  },
  threshold: {
    family: 'llada',
    confidence: 'probability',
    stepsPerBlock: 'until-done',
    count: 'threshold',
    reads: ['threshold', 'remasking'],
    source: 'Fast-dLLM `get_transfer_index` with threshold (arXiv 2505.22618 §3.2)',
  },
  factor: {
    family: 'llada',
    confidence: 'probability',
    stepsPerBlock: 'until-done',
    count: 'factor',
    reads: ['factor', 'remasking'],
    source: 'Fast-dLLM `get_transfer_index_dynamic` (factor rule)',
  },
  llada2: {
    // its generate() decodes block-causally: use with blockCausal (or cache 'block')
    family: 'llada',
    confidence: 'probability',
    stepsPerBlock: 'schedule',
    count: 'threshold-schedule',
    reads: ['steps', 'threshold', 'remasking'],
    source: 'LLaDA2MoeModelLM.generate (inclusionAI LLaDA2.0 modeling_llada2_moe.py)',
  },
  joint_threshold: {
    // LLaDA2.1's decoding; block-causal like llada2. Its edits change tokens it committed earlier in the block
    family: 'llada',
    confidence: 'probability',
    stepsPerBlock: 'until-done',
    count: 'joint-threshold',
    reads: ['threshold', 'editThreshold', 'maxPostEditSteps'],
    defaults: { threshold: 0.5 }, // JointThreshold's own default τ
    source: 'LLaDA2.1 token editing (arXiv 2602.08676) as SGLang serves it: JointThreshold (sglang/srt/dllm/algorithm/joint_threshold.py)',
  },
  origin: {
    family: 'dream',
    confidence: 'probability',
    stepsPerBlock: 'schedule',
    count: 'dream-origin',
    reads: ['steps', 'eps', 'topP', 'topK'],
    source: 'Dream `_sample` alg="origin" (HKUNLP/Dream generation_utils.py)',
  },
  maskgit_plus: {
    family: 'dream',
    confidence: 'probability',
    stepsPerBlock: 'schedule',
    count: 'dream-topk',
    reads: ['steps', 'eps', 'algTemp', 'topP', 'topK'],
    source: 'Dream `_sample` alg="maskgit_plus"',
  },
  topk_margin: {
    family: 'dream',
    confidence: 'margin',
    stepsPerBlock: 'schedule',
    count: 'dream-topk',
    reads: ['steps', 'eps', 'algTemp', 'topP', 'topK'],
    source: 'Dream `_sample` alg="topk_margin"',
  },
  entropy: {
    family: 'dream',
    confidence: 'negEntropy',
    stepsPerBlock: 'schedule',
    count: 'dream-topk',
    reads: ['steps', 'eps', 'algTemp', 'topP', 'topK'],
    source: 'Dream `_sample` alg="entropy"',
  },
} as const satisfies Record<string, DecoderSpec>;

export type Decoder = keyof typeof DECODER_TABLE;
export const DECODERS = Object.keys(DECODER_TABLE) as readonly Decoder[];

export const decoderSpec = (d: Decoder): DecoderSpec => DECODER_TABLE[d];
/** false for a name that is no decoder (a server asks before the options are parsed) */
export const isDreamDecoder = (d: Decoder): boolean => Object.hasOwn(DECODER_TABLE, d) && DECODER_TABLE[d].family === 'dream';
export const decodersOf = (family: DecoderFamily): Decoder[] => DECODERS.filter((d) => DECODER_TABLE[d].family === family);

/** the --decoder help: one line per decoder, from the table */
export function decoderHelp(): string {
  const width = Math.max(...DECODERS.map((d) => d.length));
  return DECODERS.map((d) => {
    const s = DECODER_TABLE[d];
    return `  ${d.padEnd(width)}  ${s.family}, ${s.count} count, ${s.confidence} confidence; reads ${s.reads.join(', ')} — ${s.source}`;
  }).join('\n');
}
