// One request's state in the decoding batch (batch.ts): its canvas, block, step counts and RNG, and the rules
// that pick what a step commits (the decoder's count rule, Dream's sampled positions) and end a row early.
// Letters as in batch.ts: G generated span, L block.
import type { DecodeOptions } from './options.js';
import { decoderSpec, type CountRule, type DecoderSpec } from './decoders.js';
import type { DecodeRng } from './rng.js';
import { transferCounts, dreamTimesteps, dreamTransferCount } from './schedule.js';
import {
  byConfidence,
  fixedCount,
  thresholdCount,
  thresholdOrCount,
  factorCount,
  sampleWithoutReplacement,
  type Candidate,
} from './select.js';
import type { GenerateRequest, TokenConstraint } from './types.js';

export class Row {
  readonly G: number; // the generated positions returned
  readonly span: number; // the generated positions decoded: G, or (block-causal) up to the last block's end
  readonly origin: number; // column where block 0 starts: g0, or (block-causal) floor(g0 / L)·L
  readonly L: number;
  readonly sub: number; // sub-block length (options.subBlockLength), L when off
  readonly numBlocks: number;
  readonly stepsPerBlock: number;
  readonly spec: DecoderSpec;
  readonly dream: boolean;
  readonly ts: Float32Array | null;
  readonly x: Int32Array; // (Ti) this row's canvas
  readonly g0: number; // first generated column
  readonly conditioning: Uint8Array; // (Ti) 1 where decided from the start (prompt, suffix, pins): masked in the CFG input
  readonly banned: number[]; // ids never proposed
  readonly allowed: Map<number, Uint8Array>; // canvas column → (V) 0/1 mask of the ids it may take
  readonly endEarly: boolean;
  readonly constraint: TokenConstraint | null; // a mask from the ids before each position: decoded left to right
  /** argmax + p(argmax) per position suffice for this decoder (LLaDA low_confidence at τ 0, no penalties, no grammar) */
  private readonly top1Decoder: boolean;
  private readonly maskId: number;
  block = 0;
  blockSteps = 0;
  step = 0;
  nfe = 0;
  modelMs = 0;
  done = false;
  counts: Int32Array | null = null; // this block's schedule (fixed and llada2 decoders)
  postEditSteps = 0; // joint_threshold: this block's steps with no mask left (edit.ts)
  blockFinished = false; // joint_threshold: the block's edits are over (edit.ts decides)
  readonly edits: boolean; // the decoder changes generated tokens (joint_threshold), so a block ends by its rule
  readonly t0 = performance.now();

  constructor(
    readonly id: number,
    req: GenerateRequest,
    readonly o: DecodeOptions,
    readonly rng: DecodeRng,
    mask: number,
    eos: number | null,
    ends: readonly number[],
  ) {
    const P = req.prompt.length,
      S = req.suffix?.length ?? 0,
      G = o.genLength,
      L = o.blockLength;
    if (o.blockCausal && S > 0)
      throw new Error(
        `generate: request ${id} has a suffix, but block-causal decoding never shows a block the blocks after it (infill needs blockCausal false)`,
      );
    this.G = G;
    this.L = L;
    this.sub = o.subBlockLength || L;
    this.g0 = P;
    this.origin = o.blockCausal ? P - (P % L) : P;
    this.span = o.blockCausal ? Math.ceil((P + G) / L) * L - P : G;
    this.numBlocks = (P + this.span - this.origin) / L;
    this.spec = decoderSpec(o.decoder);
    this.dream = this.spec.family === 'dream';
    this.edits = this.spec.count === 'joint-threshold';
    // a schedule decoder's steps per block: options.steps over the G / L blocks of genLength (every block, the
    // block-causal layout's partial first and extra last one too, gets that many)
    this.stepsPerBlock = this.spec.stepsPerBlock === 'until-done' ? Infinity : o.steps / (G / L);
    this.ts = this.dream ? dreamTimesteps(o.eps, this.stepsPerBlock) : null;
    const D = this.span;
    this.x = new Int32Array(P + D + S);
    this.conditioning = new Uint8Array(P + D + S);
    this.x.set(req.prompt, 0);
    this.x.fill(mask, P, P + D);
    if (req.suffix) this.x.set(req.suffix, P + D);
    this.conditioning.fill(1, 0, P);
    this.conditioning.fill(1, P + D, P + D + S);
    for (const pin of req.pinned ?? []) {
      if (!(Number.isInteger(pin.offset) && pin.offset >= 0 && pin.offset + pin.ids.length <= G))
        throw new Error(`generate: pinned ids at offset ${pin.offset} (${pin.ids.length} ids) do not fit in genLength ${G}`);
      this.x.set(pin.ids, P + pin.offset);
      this.conditioning.fill(1, P + pin.offset, P + pin.offset + pin.ids.length);
    }
    this.allowed = new Map();
    for (const a of req.allowed ?? []) {
      if (!(Number.isInteger(a.offset) && a.offset >= 0 && a.offset < G))
        throw new Error(`generate: an allowed-ids mask at offset ${a.offset} is outside genLength ${G}`);
      if (!a.ids.some((v, i) => v === 1 && i !== mask))
        throw new Error(`generate: the allowed-ids mask at offset ${a.offset} allows no token`);
      this.allowed.set(P + a.offset, a.ids);
    }
    for (let p = 0; p < this.x.length; p++)
      if (this.conditioning[p] && this.x[p] === mask)
        throw new Error(`generate: request ${id} contains the mask id ${mask} outside the generated span`);
    this.constraint = req.constraint ?? null;
    if (this.constraint && (L !== 1 || S > 0))
      throw new Error(
        `generate: request ${id} has a token constraint, which reads the ids before each position: it needs blockLength 1 and no suffix (got blockLength ${L}${S ? ', a suffix' : ''})`,
      );
    const infill = S > 0;
    this.banned = [mask]; // a committed token is never [MASK]
    if (o.logitsEosInf && eos !== null) this.banned.push(eos);
    if (infill && !o.infillMayEnd) this.banned.push(...ends); // a fixed-length middle has no end token
    this.endEarly = o.earlyStop || (infill && o.infillMayEnd);
    // LLaDA low_confidence, or a Dream decoder without filters (origin draws its own positions: it reads logits)
    this.maskId = mask;
    this.top1Decoder =
      (this.spec.family === 'llada' || (o.topP === 1 && o.topK === 0 && this.spec.count !== 'dream-origin')) &&
      o.temperature === 0 &&
      o.remasking === 'low_confidence' &&
      o.cfgScale === 0 &&
      this.constraint === null &&
      o.presencePenalty === 0 &&
      o.frequencyPenalty === 0;
  }

  /**
   * this row's next call reads only argmax + p(argmax) per position: its decoder allows it and no allowed-ids
   * mask is still open — every constrained cell is decided (a healed prompt's first token, a skeleton's value
   * cells) and no edit can reopen it (joint_threshold re-proposes generated tokens)
   */
  get top1Only(): boolean {
    if (!this.top1Decoder) return false;
    if (this.allowed.size === 0) return true;
    if (this.edits) return false;
    for (const p of this.allowed.keys()) if (this.x[p] === this.maskId) return false;
    return true;
  }

  get start(): number {
    return this.origin + this.block * this.L;
  } // current block's first column
  masked(mask: number): number[] {
    const out: number[] = [];
    for (let p = this.start; p < this.start + this.L; p++) if (this.x[p] === mask) out.push(p);
    return out;
  }
  /**
   * the positions this step may commit: the block's masks, or (sub-blocks, Fast-dLLM v2 generate) those of its
   * first sub-block that still has masks — sub-blocks at multiples of `sub` from the block's start
   */
  candidates(mask: number): number[] {
    const m = this.masked(mask);
    if (this.sub === this.L || m.length === 0) return m;
    const first = Math.floor((m[0]! - this.start) / this.sub);
    return m.filter((p) => Math.floor((p - this.start) / this.sub) === first);
  }
  /** the block's generated tokens (not masks, not conditioning): what a token-editing decoder may change */
  generated(mask: number): number[] {
    const out: number[] = [];
    for (let p = this.start; p < this.start + this.L; p++) if (this.x[p] !== mask && !this.conditioning[p]) out.push(p);
    return out;
  }
  wantsCall(mask: number): boolean {
    if (this.edits) return !this.done && !this.blockFinished;
    return !this.done && this.blockSteps < this.stepsPerBlock && this.masked(mask).length > 0;
  }
  enterBlock(mask: number): void {
    this.blockSteps = 0;
    this.postEditSteps = 0;
    this.blockFinished = false;
    // linear: this block's masks over its steps; LLaDA2: the block LENGTH over its steps (_get_num_transfer_tokens(block_length, steps))
    this.counts =
      this.spec.count === 'linear'
        ? transferCounts(this.masked(mask).length, this.stepsPerBlock)
        : this.spec.count === 'threshold-schedule'
          ? transferCounts(this.L, this.stepsPerBlock)
          : null;
  }
}

/** the decoder's count rule → how many of the candidates (ranked by confidence) this step commits */
const COUNT: Record<Exclude<CountRule, 'dream-origin' | 'joint-threshold'>, (sorted: Candidate[], r: Row) => number> = {
  linear: (sorted, r) => fixedCount(sorted, r.counts![r.blockSteps]!),
  threshold: (sorted, r) => thresholdCount(sorted, r.o.threshold),
  factor: (sorted, r) => factorCount(sorted, r.o.factor),
  'threshold-schedule': (sorted, r) => thresholdOrCount(sorted, r.o.threshold, r.counts![r.blockSteps]!),
  // Dream _sample: int(M·(1 − s/t)) of the M masks (all on the last step)
  'dream-topk': (sorted, r) => dreamTransferCount(sorted.length, r.ts!, r.blockSteps, r.stepsPerBlock),
};

export function choose(all: Candidate[], r: Row): Candidate[] {
  const rule = r.spec.count;
  if (rule === 'dream-origin') throw new Error('generate: the origin decoder moves each mask by itself (no count rule)');
  if (rule === 'joint-threshold') throw new Error('generate: joint_threshold steps by edit.ts (unmasks and edits), not a count rule');
  const sorted = byConfidence(all);
  const k = COUNT[rule](sorted, r);
  if (k <= 0) return [];
  // Dream alg_temp > 0: k positions sampled from softmax(conf / alg_temp), drawn in position order (`all`)
  if (r.dream && r.o.algTemp > 0) return sampleWithoutReplacement(all, k, r.o.algTemp, r.rng).map((i) => all[i]!);
  return sorted.slice(0, k);
}

/**
 * Early stop (dInfer `early_stop`; Fast-dLLM counts tokens up to EOS): once an end token (EOS/EoT) is
 * committed with every position before it decided, the masks after it become EOS. Decided tokens after it
 * are kept (committed tokens never change). True when the row is finished.
 */
export function fillAfterEnd(x: Int32Array, g0: number, G: number, mask: number, ends: readonly number[], fill: number): boolean {
  for (let p = g0; p < g0 + G; p++) {
    if (x[p] === mask) return false;
    if (ends.includes(x[p]!)) {
      for (let q = p + 1; q < g0 + G; q++) if (x[q] === mask) x[q] = fill;
      return true;
    }
  }
  return false;
}
