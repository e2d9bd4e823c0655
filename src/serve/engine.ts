// One served model and its scheduler: GenRequest → token ids + validated DecodeOptions (prepare), then
// continuous batching: accepted requests wait in a bounded queue (one more than `queueSize` waiting or
// decoding gets 503); up to `batchSize` of them decode together, joining and leaving the sampler's step
// engine (DecodeBatch, 'continuous') between denoiser calls, so a new request starts at the next step and a
// finished one frees its place at once. A causal model has no batched decoder: its requests take turns
// token by token (round robin). Between steps the event loop runs HTTP I/O: disconnects cancel their row,
// stop strings end it, health checks and new requests get through.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { CausalLM } from '../model/causal-lm.js';
import type { ModelConfig } from '../model/config.js';
import { DiffusionLM } from '../model/diffusion-lm.js';
import type { ForwardModel } from '../model/forward.js';
import { DecodeBatch } from '../sampler/batch.js';
import { arGenerate, DecodeOptionError, DecodeRng, isDreamDecoder, parseArDecodeOptions, parseDecodeOptions, type Decoder, type DecodeOptions, type DecodeResult, type DecodeStep } from '../sampler/index.js';
import type { TextTokenizer } from '../tokenizer/index.js';
import type { ServeConfig } from './config.js';
import { ApiError, Cancelled, invalid } from './errors.js';
import { Job, type Outcome, type RunHooks } from './job.js';
import type { GenRequest } from './protocol.js';

export type { Outcome, Progress, RunHooks, Timings, Cell } from './job.js';

export interface ServedModel { id: string; config: ModelConfig; model: ForwardModel; tokenizer: TextTokenizer; }

export interface Prepared { req: GenRequest; promptIds: Int32Array; suffixIds: Int32Array | null; options: Readonly<DecodeOptions>; }

/** what the engine reports as it works (the /metrics collector implements it) */
export interface EngineObserver {
  /** one denoiser call (diffusion) or one round of token steps (causal) over `rows` requests */
  onCall(model: string, rows: number): void;
  onFinish(model: string, job: Job, outcome: Outcome): void;
  onCancel(model: string): void;
}

interface Active { job: Job; row: number; gen: AsyncGenerator<DecodeStep, DecodeResult> | null; }

export class Engine {
  readonly kind: 'diffusion' | 'causal';
  private readonly lm: DiffusionLM | null;
  private readonly batch: DecodeBatch | null;
  private pending: Job[] = [];
  private active: Active[] = [];
  private running: Promise<void> | null = null;
  /** requests finished / stopped because the client went away */
  readonly counts = { completed: 0, cancelled: 0 };
  observer: EngineObserver | null = null;

  constructor(readonly served: ServedModel, readonly cfg: ServeConfig) {
    this.kind = served.config.attention === 'causal' ? 'causal' : 'diffusion';
    const sp = served.tokenizer.specials;
    if (this.kind === 'diffusion') {
      if (sp.mask === null) throw new Error(`model ${served.id}: the tokenizer has no mask token, so it cannot be a diffusion model`);
      this.lm = new DiffusionLM(served.model, { mask: sp.mask, eos: sp.eos, eot: sp.eot, pad: sp.pad }, cfg.cache);
      this.batch = new DecodeBatch(this.lm, 'continuous');
    } else { this.lm = null; this.batch = null; }
  }

  /** requests waiting or decoding */
  get depth(): number { return this.pending.length + this.active.length; }
  /** requests waiting for a place in the batch */
  get waiting(): number { return this.pending.length; }
  /** requests decoding */
  get decoding(): number { return this.active.length; }

  /** resolves when every accepted request has finished */
  async idle(): Promise<void> { while (this.running) await this.running; }

  /** tokenize and validate; throws ApiError (4xx) naming the field */
  prepare(req: GenRequest): Prepared {
    const { id, tokenizer: tok, config } = this.served;
    const promptParam = req.endpoint === 'chat' ? 'messages' : req.endpoint === 'infill' ? 'input_prefix' : 'prompt';
    // bound the work before tokenizing (it runs on the event loop): text longer than the context × the longest
    // token cannot fit, so it is refused at once instead of being tokenized for seconds
    const chars = req.prompt.length + (req.suffix?.length ?? 0) + (req.messages ?? []).reduce((n, m) => n + m.content.length, 0);
    const maxChars = config.maxPositions * tok.maxTokenChars;
    if (chars > maxChars) throw invalid(promptParam, `the prompt (${chars} characters) cannot fit in the model's context of ${config.maxPositions} tokens (one token covers at most ${tok.maxTokenChars} characters)`, 'context_length_exceeded');
    // user text is plain text: special-token strings in it stay text; only the chat template makes control tokens
    let promptIds: Int32Array;
    if (req.messages) {
      if (!tok.chatTemplate) throw invalid('messages', `model "${id}" has no chat template; use /v1/completions`, 'no_chat_template');
      try { promptIds = tok.encodeChat(req.messages, { addGenerationPrompt: true }); } catch (e) { throw invalid('messages', `the chat template rejected the messages: ${(e as Error).message}`); }
    } else promptIds = req.promptIds ? Int32Array.from(req.promptIds) : tok.encode(req.prompt);
    const V = config.vocabSize;
    const sp = tok.specials;
    if (req.promptIds) for (const [i, t] of req.promptIds.entries()) {
      if (t >= V) throw invalid(`prompt[${i}]`, `"prompt[${i}]": token id ${t} is outside the vocabulary (0..${V - 1})`);
      if (t === sp.mask) throw invalid(`prompt[${i}]`, `"prompt[${i}]": token id ${t} is the mask token, which only the decoder may place`);
    }
    if (this.kind === 'causal' && promptIds.length === 0) {
      if (sp.bos === null) throw invalid(promptParam, `"${promptParam}" is empty and the model has no BOS token to start from`);
      promptIds = Int32Array.of(sp.bos);
    }
    let suffixIds: Int32Array | null = req.suffix ? tok.encode(req.suffix) : null;
    if (suffixIds && suffixIds.length === 0) suffixIds = null;
    const suffixParam = req.endpoint === 'infill' ? 'input_suffix' : 'suffix';
    if (suffixIds && this.kind === 'causal') throw invalid(suffixParam, `"${suffixParam}" (fill-in-the-middle) needs a diffusion model; "${id}" is causal`, 'unsupported_parameter');
    const limit = this.cfg.maxTokens, mp = req.maxTokensParam;
    if (req.maxTokens !== null && req.maxTokens > limit) throw invalid(mp, `"${mp}" (${req.maxTokens}) is over this server's limit of ${limit}`, 'max_tokens_exceeded');
    const used = promptIds.length + (suffixIds?.length ?? 0), room = config.maxPositions - used;
    if (room < 1) throw invalid(promptParam, `the prompt (${used} tokens) leaves no room in the model's context of ${config.maxPositions} tokens`, 'context_length_exceeded');
    const given = req.maxTokens ?? (typeof req.decode['genLength'] === 'number' ? req.decode['genLength'] : null);
    const genParam = req.maxTokens !== null ? mp : 'genLength';
    if (given !== null && given > limit) throw invalid(genParam, `"${genParam}" (${given}) is over this server's limit of ${limit}`, 'max_tokens_exceeded');
    if (given !== null && given > room) throw invalid(genParam, `the prompt (${used} tokens) + "${genParam}" (${given}) is over the model's context of ${config.maxPositions} tokens`, 'context_length_exceeded');
    const causal = this.kind === 'causal';
    const raw: Record<string, unknown> = {
      // the server's defaults are the CLI's: Fast-dLLM threshold decoding with early stop
      ...(causal ? {} : { decoder: 'threshold' }),
      ...(sp.eos !== null ? { earlyStop: true } : {}), ...(suffixIds ? { infillMayEnd: true } : {}),
      ...req.decode,
      // n_predict 0 (an editor's warm-up) validates the request; nothing is decoded
      genLength: Math.max(1, given ?? Math.min(this.cfg.defaultMaxTokens, room)),
    };
    const proposals = causal || (typeof raw['decoder'] === 'string' && isDreamDecoder(raw['decoder'] as Decoder)); // top-p / top-k apply
    if (proposals && req.hints.topP !== undefined && raw['topP'] === undefined && req.hints.topP > 0) raw['topP'] = req.hints.topP;
    if (proposals && req.hints.topK !== undefined && raw['topK'] === undefined) raw['topK'] = req.hints.topK;
    let options: Readonly<DecodeOptions>;
    try { options = causal ? parseArDecodeOptions(raw) : parseDecodeOptions(raw); } catch (e) {
      if (!(e instanceof DecodeOptionError)) throw e;
      const key = e.key ?? 'body';
      const wire = key === 'genLength' ? genParam : req.wireNames[key] ?? key;
      throw invalid(wire, `"${wire}" ${e.detail}`);
    }
    return { req, promptIds, suffixIds, options };
  }

  /** queue a prepared request; throws ApiError 503 when the queue is full; rejects with Cancelled when the client left */
  submit(p: Prepared, hooks: RunHooks): Promise<Outcome> {
    const n = this.depth;
    if (n >= this.cfg.queueSize) throw new ApiError(503, `the server is busy: ${n} requests are waiting or decoding (queue limit ${this.cfg.queueSize}); retry later`, null, 'queue_full', 'unavailable_error');
    const done = new Promise<Outcome>((resolve, reject) => {
      this.pending.push(new Job(p, hooks, performance.now(), this.served.tokenizer, this.kind === 'diffusion', resolve, reject));
    });
    this.running ??= this.loop().finally(() => { this.running = null; });
    return done;
  }

  private async loop(): Promise<void> {
    try {
      while (this.pending.length > 0 || this.active.length > 0) {
        this.admit();
        if (this.active.length > 0) {
          try {
            if (this.batch) await this.stepBatch(this.batch);
            else await this.stepCausal();
          } catch (e) { this.failAll(e); }
        }
        await nextTurn(); // let HTTP I/O (disconnects, health checks, new requests) run between steps
        this.sweep();
      }
    } finally {
      this.lm?.reset(); // the batch is empty: free the block cache
    }
  }

  /** queued requests take free places in the batch */
  private admit(): void {
    // a block cache is refreshed for the whole batch whenever any row begins a block, so with a cache rows
    // join only when every row is about to begin one (rows on the same fixed schedule stay in phase)
    if (this.cfg.cache !== 'none' && this.batch && !this.batch.atBlockBoundary) return;
    while (this.active.length < this.cfg.batchSize && this.pending.length > 0) {
      const job = this.pending.shift()!;
      if (job.hooks.signal.aborted) { this.cancel(job); continue; }
      job.start();
      const o = job.p.options, { config, model, tokenizer } = this.served, sp = tokenizer.specials;
      try {
        if (this.batch) {
          const prompt = job.p.promptIds, suffix = job.p.suffixIds;
          this.active.push({ job, gen: null, row: this.batch.add({ prompt, ...(suffix ? { suffix } : {}) }, o, new DecodeRng(o.seed, 0)) });
        } else {
          const lm = new CausalLM(model, { eos: sp.eos, eot: sp.eot, pad: sp.pad }, Math.min(config.maxPositions, job.p.promptIds.length + o.genLength + 1));
          this.active.push({ job, row: -1, gen: arGenerate(lm, { prompt: job.p.promptIds }, o) });
        }
      } catch (e) { job.reject(e); }
    }
  }

  private async stepBatch(batch: DecodeBatch): Promise<void> {
    const { steps, finished } = await batch.step();
    if (steps.length > 0) this.observer?.onCall(this.served.id, steps.length);
    for (const s of steps) {
      const a = this.active.find((x) => x.row === s.row);
      if (a && a.job.onStep(s)) { batch.remove(s.row); this.finish(a, null); }
    }
    for (const f of finished) {
      const a = this.active.find((x) => x.row === f.row);
      if (a) this.finish(a, f.result);
    }
  }

  private async stepCausal(): Promise<void> {
    this.observer?.onCall(this.served.id, this.active.length);
    for (const a of [...this.active]) {
      const r = await a.gen!.next();
      if (r.done) this.finish(a, r.value);
      else if (a.job.onStep(r.value)) { await a.gen!.return(undefined as never); this.finish(a, null); }
    }
  }

  private finish(a: Active, result: DecodeResult | null): void {
    this.active = this.active.filter((x) => x !== a);
    this.counts.completed++;
    const outcome = a.job.outcome(result);
    this.observer?.onFinish(this.served.id, a.job, outcome);
    a.job.resolve(outcome);
  }

  /** drop the requests whose clients went away */
  private sweep(): void {
    for (const a of this.active.filter((x) => x.job.hooks.signal.aborted)) {
      this.active = this.active.filter((x) => x !== a);
      this.stopDecoding(a);
      this.cancel(a.job);
    }
  }

  /** take a request's row out of the batch (diffusion) or end its generator (causal) */
  private stopDecoding(a: Active): void {
    if (this.batch) this.batch.remove(a.row);
    else void a.gen!.return(undefined as never);
  }

  private cancel(job: Job): void {
    this.counts.cancelled++;
    this.observer?.onCancel(this.served.id);
    job.reject(new Cancelled());
  }

  /** the model failed mid-batch: every decoding request gets the error, the batch starts afresh */
  private failAll(e: unknown): void {
    for (const a of this.active) {
      this.stopDecoding(a);
      a.job.reject(e);
    }
    this.active = [];
    this.lm?.reset();
  }
}
