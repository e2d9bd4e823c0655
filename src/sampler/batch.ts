// The step engine under THE decoding loop: rows (one request each, with its own options and RNG) advance
// one denoiser call at a time. generate/generateBatch (decode.ts) drive it over a fixed set of requests;
// a server drives it as a continuous batch, adding rows between calls and removing cancelled ones.
// Per row (LLaDA generate.py `generate`, generalised): canvas (Ti) = [prompt | G masked | suffix]; blocks of
// L over the G positions, left to right; per step: propose a token and a confidence per masked position of
// the current block (propose.ts) → choose which to commit (schedule.ts, select.ts) → commit. Committed
// tokens never change; nothing outside the current block is committed.
// One call over rows at different places: each row is left-padded so that the current blocks of all rows
// start at the same column S; keyValid hides the padding and positions count from each row's first real
// token (Dream's tok_idx), so a row decodes as it would alone. region = [S, S + max L). The call is flagged
// blockStart (a cache wrapper refreshes) when any row begins a block or the rows or their layout changed.
// lockstep (generateBatch, the published batch algorithms): a row that finished its block waits until
// every row has, then all move on together; continuous (a server): each row moves on by itself.
// Block-causal decoding (options.blockCausal), the layout of the block-diffusion generate()s — SDAR
// generate.py `block_diffusion_generate`, LLaDA2MoeModelLM.generate (modeling_llada2_moe.py), dInfer
// BlockDiffusionLLM.generate + BlockDiffusionIterator (generate_uniform.py, utils.py): blocks sit at absolute
// multiples of L over positions 0.. (num_blocks = ceil((P + G)/L), mask tril(num_blocks) expanded L × L, position
// ids arange); the prompt's first floor(P/L)·L tokens are whole blocks ("prefill"), its P mod L tail opens the
// first decoded block (never masked, never changed), and the last block runs past P + G to its boundary: the
// generated span decoded is ceil((P + G)/L)·L − P, of which the first G are returned (LLaDA2 returns
// x[P : P + G]). Rows padded by multiples of L keep column blocks = position blocks, so the call's mask
// (DenoiseInput.blockCausal, by column) is each row's own; rows of different attention never share a call.
// Letters: A rows in a call, B = A + rows with guidance (their unconditional copies), T call columns,
// G generated span, L block, R region length, V vocabulary.
import type { Denoiser, DenoiseInput } from './types.js';
import type { DecodeOptions } from './options.js';
import type { DecodeRng } from './rng.js';
import { dreamFraction } from './schedule.js';
import { checkLogits, penalize, rowLogits, tokenCounts, proposeLlada, proposeDream, DreamScratch, guide } from './propose.js';
import type { Candidate } from './select.js';
import type { DecodeResult, DecodeStep, GenerateRequest } from './types.js';
import { choose, fillAfterEnd, Row } from './batch-row.js';
import { jointThresholdStep } from './edit.js';

/** one call's answer: the logits (A, R, V), or (top-1 calls) the argmax ids and their probabilities (A, R) */
interface CallOut {
  R: number;
  data?: Float32Array;
  top?: { token: Int32Array; confidence: Float32Array };
}
const EMPTY = new Float32Array(0);
const NONE: ReadonlySet<number> = new Set();
const sameIds = (x: readonly number[], y: readonly number[]): boolean => x.length === y.length && x.every((v, i) => v === y[i]);

export interface BatchStep {
  steps: DecodeStep[]; // one per row in the call, in the order the rows were added
  finished: Array<{ row: number; result: DecodeResult }>; // rows that completed (and left the batch)
}

export class DecodeBatch {
  private rows: Row[] = [];
  private nextId = 0;
  private layout = '';
  private forwards = 0;
  private readonly mask: number;
  private readonly ends: number[];
  private readonly l64: Float64Array;
  private readonly scratch: DreamScratch;

  constructor(
    readonly model: Denoiser,
    readonly mode: 'lockstep' | 'continuous' = 'continuous',
  ) {
    this.mask = model.specials.mask;
    this.ends = [model.specials.eos, model.specials.eot].filter((t): t is number => t !== null);
    this.l64 = new Float64Array(model.vocabSize);
    this.scratch = new DreamScratch(model.vocabSize);
  }

  /** rows still decoding */
  get size(): number {
    return this.rows.length;
  }

  /** add a request with its resolved options and its own RNG; returns the row id its steps carry */
  add(req: GenerateRequest, o: DecodeOptions, rng: DecodeRng): number {
    const { eos } = this.model.specials;
    if ((o.logitsEosInf || o.confidenceEosEotInf || o.earlyStop) && eos === null)
      throw new Error('generate: this model has no EOS token (logitsEosInf, confidenceEosEotInf and earlyStop need one)');
    if (this.mode === 'lockstep' && this.rows.some((r) => r.block > 0 || r.blockSteps > 0))
      throw new Error('DecodeBatch: a lockstep batch takes its rows before the first step');
    const row = new Row(this.nextId++, req, o, rng, this.mask, eos, this.ends);
    row.enterBlock(this.mask);
    this.rows.push(row);
    return row.id;
  }

  /** true when no row is inside a block (every row is about to start one): a row joining now costs no extra cache refresh */
  get atBlockBoundary(): boolean {
    return this.rows.every((r) => r.blockSteps === 0);
  }

  /** drop a row (its client went away); it yields nothing more */
  remove(id: number): void {
    this.rows = this.rows.filter((r) => r.id !== id);
  }

  /** one denoiser call over every row that has work; rows that complete leave with their results */
  async step(): Promise<BatchStep> {
    const finished: BatchStep['finished'] = [];
    this.advance(finished);
    const wanting = this.rows.filter((r) => r.wantsCall(this.mask));
    if (wanting.length === 0) return { steps: [], finished };
    // one attention per call: block-causal rows (by block length) and the others take turns
    const attention = (r: Row) => (r.o.blockCausal ? r.L : 0);
    const active = wanting.filter((r) => attention(r) === attention(wanting[0]!));
    // the engine's own argmax + probability when every row needs no more and all ban the same ids
    const top1 =
      this.model.hasTop1 === true &&
      active.every((r) => r.top1Only && r.spec.confidence === active[0]!.spec.confidence && sameIds(r.banned, active[0]!.banned));
    const out = await this.call(active, top1); // logits (A, R, V), or top-1 ids and probabilities (A, R)
    this.forwards++;
    const steps = active.map((r, a) => this.apply(r, out, a));
    this.advance(finished);
    return { steps, finished };
  }

  /** rows whose block is complete move to their next block (lockstep: all together); past the last, they finish */
  private advance(finished: BatchStep['finished']): void {
    const complete = (r: Row) => !r.wantsCall(this.mask);
    for (;;) {
      for (const r of this.rows) if (r.done) finished.push({ row: r.id, result: this.result(r) });
      this.rows = this.rows.filter((r) => !r.done);
      const moving =
        this.mode === 'continuous' ? this.rows.filter(complete) : this.rows.length > 0 && this.rows.every(complete) ? this.rows : [];
      if (moving.length === 0) return;
      for (const r of moving) {
        if (r.masked(this.mask).length > 0)
          throw new Error(`generate: block ${r.block} of row ${r.id} ended with masks left (a schedule bug)`);
        r.block++;
        if (r.block < r.numBlocks) r.enterBlock(this.mask);
        else r.done = true;
      }
    }
  }

  /**
   * One denoiser call for the active rows → logits (A, R, V). With guidance the batch is [rows; the unconditional
   * copies of the guided rows], the unconditional input being the canvas with every conditioning position
   * masked (generate.py un_x).
   */
  private async call(active: readonly Row[], top1: boolean): Promise<CallOut> {
    const A = active.length,
      V = this.model.vocabSize,
      mask = this.mask;
    const S = Math.max(...active.map((r) => r.start)),
      R = Math.max(...active.map((r) => r.L));
    const shift = active.map((r) => S - r.start);
    const T = Math.max(...active.map((r, a) => shift[a]! + r.x.length));
    const guided = active.map((r, a) => a).filter((a) => active[a]!.o.cfgScale > 0);
    const order = [...active.map((_, a) => a), ...guided],
      B = order.length; // batch row i shows active row order[i]
    const padded = active.some((r, a) => shift[a] !== 0 || r.x.length !== T);
    const tokens = new Int32Array(B * T).fill(this.model.specials.pad ?? this.model.specials.eos ?? 0); // padding is never attended to
    order.forEach((a, i) => {
      const r = active[a]!;
      if (i < A) tokens.set(r.x, i * T + shift[a]!);
      else for (let p = 0; p < r.x.length; p++) tokens[i * T + shift[a]! + p] = r.conditioning[p] ? mask : r.x[p]!;
    });
    const layout = `${order.join(',')}|${active.map((r, a) => `${r.id}@${shift[a]}`).join(',')}|${T}`;
    const blockStart = layout !== this.layout || active.some((r) => r.blockSteps === 0);
    this.layout = layout;
    const input: DenoiseInput = {
      tokens,
      B,
      T,
      region: { start: S, end: S + R, blockStart },
      ...(active[0]!.o.blockCausal ? { blockCausal: active[0]!.L } : {}),
    };
    if (padded) {
      const positions = new Int32Array(B * T),
        keyValid = new Uint8Array(B * T);
      order.forEach((a, i) => {
        const k = shift[a]!,
          n = active[a]!.x.length;
        for (let p = 0; p < T; p++) {
          keyValid[i * T + p] = p >= k && p < k + n ? 1 : 0;
          positions[i * T + p] = p >= k ? p - k : 0;
        }
      });
      input.positions = positions;
      input.keyValid = keyValid;
    }
    const tm = performance.now();
    if (top1) {
      const top = await this.model.denoiseTop1!(input, active[0]!.banned, active[0]!.spec.confidence);
      for (const r of active) r.modelMs += performance.now() - tm;
      if (top.confidence.length !== A * R || top.token.length !== A * R)
        throw new Error(`generate: the denoiser's top-1 has ${top.confidence.length} rows, expected (B ${A}, R ${R})`);
      for (let i = 0; i < top.confidence.length; i++)
        if (top.confidence[i] !== top.confidence[i])
          throw new Error(`generate: the model produced NaN logits (top-1 row ${i}); its weights or inputs are broken`);
      return { top, R };
    }
    const logits = await this.model.denoise(input);
    const ms = performance.now() - tm;
    checkLogits(logits, 'generate');
    for (const r of active) r.modelMs += ms;
    if (logits.length !== B * R * V)
      throw new Error(`generate: the denoiser returned ${logits.length} logits, expected (B ${B}, R ${R}, V ${V})`);
    if (guided.length === 0) return { data: logits, R };
    const data = logits.slice(0, A * R * V);
    guided.forEach((a, j) => {
      const span = R * V,
        cond = logits.subarray(a * span, (a + 1) * span),
        un = logits.subarray((A + j) * span, (A + j + 1) * span);
      data.set(guide(cond, un, active[a]!.o.cfgScale), a * span);
    });
    return { data, R };
  }

  /** propose, choose and commit for row r from its logits rows; the DecodeStep it yields */
  private apply(r: Row, out: CallOut, a: number): DecodeStep {
    const o = r.o,
      V = this.model.vocabSize,
      ends = this.ends,
      R = out.R,
      logits = out.data ?? EMPTY,
      top = out.top;
    r.nfe++;
    const cands = r.candidates(this.mask);
    const at = (p: number): number => (a * R + p - r.start) * V; // row r's block starts at the call's column S = region start
    const penalized = o.presencePenalty !== 0 || o.frequencyPenalty !== 0;
    const counts = penalized ? tokenCounts(r.x, r.g0, r.g0 + r.span, this.mask) : null; // the committed cells
    const rowL = (p: number) => {
      const l = rowLogits(logits, at(p), V, r.banned, this.l64);
      const only = r.allowed.get(p) ?? r.constraint?.allowed(r.x.subarray(r.g0, p), r.g0 + r.span - p - 1);
      if (only) for (let v = 0; v < V; v++) if (only[v] !== 1) l[v] = -Infinity;
      return counts ? penalize(l, counts, o.presencePenalty, o.frequencyPenalty) : l;
    };
    let chosen: Candidate[];
    let edited: ReadonlySet<number> = NONE;
    if (r.edits) {
      // LLaDA2.1: unmask by τ and edit the block's generated tokens by editThreshold (edit.ts); argmax only (options.ts)
      const propose = (p: number): Candidate => {
        if (top) return { position: p, token: top.token[a * R + p - r.start]!, confidence: top.confidence[a * R + p - r.start]! };
        return { position: p, ...proposeLlada(rowL(p), 0, r.rng) };
      };
      const st = jointThresholdStep(cands.map(propose), r.generated(this.mask).map(propose), (p) => r.x[p]!, o, r);
      chosen = [...st.unmask, ...st.edit];
      edited = new Set(st.edit.map((c) => c.position));
      r.blockFinished = st.blockDone;
    } else if (r.spec.count === 'dream-origin') {
      // Dream origin: each masked position unmasks with probability 1 − s/t, then gets a sampled token
      const frac = dreamFraction(r.ts!, r.blockSteps, r.stepsPerBlock);
      const moving = cands.filter(() => r.rng.uniform() < frac);
      chosen = moving.map((p) => ({
        position: p,
        ...proposeDream(rowL(p), o.temperature, o.topP, o.topK, 'probability', r.rng, this.scratch),
      }));
    } else {
      const all: Candidate[] = cands.map((p) => {
        if (top) return { position: p, token: top.token[a * R + p - r.start]!, confidence: top.confidence[a * R + p - r.start]! };
        const l = rowL(p);
        const pr = r.dream
          ? proposeDream(l, o.temperature, o.topP, o.topK, r.spec.confidence, r.rng, this.scratch)
          : proposeLlada(l, o.temperature, r.rng);
        return { position: p, ...pr };
      });
      if (!r.dream && o.remasking === 'random') for (const c of all) c.confidence = r.rng.uniform(); // generate.py torch.rand
      // EOS/EoT suppression as LLaDA intended (issue #137: generate.py's EOS line writes a dead tensor)
      if (o.confidenceEosEotInf) for (const c of all) if (ends.includes(c.token)) c.confidence = -Infinity;
      chosen = choose(all, r);
    }
    for (const c of chosen) r.x[c.position] = c.token;
    r.blockSteps++;
    // a token-editing decoder may still change the block until it is finished: only then does it count as decided
    const settled = r.edits ? r.blockFinished : r.masked(this.mask).length === 0;
    if (r.endEarly && (!r.edits || settled))
      r.done = fillAfterEnd(r.x, r.g0, r.span, this.mask, ends, this.model.specials.eos ?? this.model.specials.eot!);
    if (r.block === r.numBlocks - 1 && settled) r.done = true;
    return {
      row: r.id,
      step: r.step++,
      block: r.block,
      nfe: r.nfe,
      forward: this.forwards,
      finished: r.done,
      committed: chosen
        .sort((x, y) => x.position - y.position)
        .filter((c) => c.position < r.g0 + r.G)
        .map((c) => ({
          position: c.position - r.g0,
          token: c.token,
          confidence: c.confidence,
          ...(edited.has(c.position) ? { edit: true } : {}),
        })),
      canvas: r.x.slice(r.g0, r.g0 + r.G),
    };
  }

  private result(r: Row): DecodeResult {
    const canvas = r.x.slice(r.g0, r.g0 + r.G);
    let end = canvas.findIndex((t) => this.ends.includes(t));
    const finishReason = end >= 0 ? ('stop' as const) : ('length' as const);
    if (end < 0) end = r.G;
    return {
      ids: canvas.slice(0, end),
      canvas,
      finishReason,
      nfe: r.nfe,
      tokensPerForward: r.nfe ? end / r.nfe : 0,
      elapsedMs: performance.now() - r.t0,
      modelMs: r.modelMs,
    };
  }
}
