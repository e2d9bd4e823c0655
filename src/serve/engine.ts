// One served model and its scheduler: a prepared request (request.ts) waits in a bounded queue (one more
// than `queueSize` waiting or decoding gets 503); up to `batchSize` of them decode together, joining and
// leaving the sampler's step engine between model calls — DecodeBatch ('continuous') for a diffusion model,
// CausalBatch (one token per row per step) for a causal one, behind the same add/step/remove — so a new
// request starts at the next step and a finished one frees its place at once. Between steps the event loop
// runs HTTP I/O: disconnects cancel their row, stop strings end it, health checks and new requests get through.
import { setImmediate as nextTurn } from 'node:timers/promises';
import { defaultCache, TextGenerator } from '../text/generator.js';
import type { DiffusionLM } from '../model/diffusion-lm.js';
import {
  CausalBatch,
  DecodeBatch,
  DecodeRng,
  type BatchStep,
  type DecodeOptions,
  type DecodeResult,
  type GenerateRequest,
} from '../sampler/index.js';
import type { ServeConfig } from './config.js';
import { ApiError, Cancelled } from './errors.js';
import { Job, type Outcome, type RunHooks } from './job.js';
import type { GenRequest } from './protocol.js';
import { prepareRequest, type ModelKind, type Prepared, type ServedModel } from './request.js';
import type { PlacementScore } from './edit.js';
import { placementScorer } from './placement.js';

export type { Outcome, Progress, RunHooks, Timings, Cell } from './job.js';
export type { Prepared, ServedModel } from './request.js';

/** what the engine reports as it works (the /metrics collector implements it) */
export interface EngineObserver {
  /** one model call over `rows` requests (a diffusion step, or one token for each causal row) */
  onCall(model: string, rows: number): void;
  onFinish(model: string, job: Job, outcome: Outcome): void;
  onCancel(model: string): void;
}

/** the step engine both model kinds decode in */
interface Batch {
  readonly atBlockBoundary: boolean;
  add(req: GenerateRequest, o: DecodeOptions, rng: DecodeRng): number;
  step(): Promise<BatchStep>;
  remove(row: number): void;
}

interface Active {
  job: Job;
  row: number;
}

export class Engine {
  readonly kind: ModelKind;
  private readonly lm: DiffusionLM | null;
  private readonly batch: Batch;
  private pending: Job[] = [];
  private active: Active[] = [];
  private running: Promise<void> | null = null;
  private tasks: Array<() => Promise<void>> = []; // model work outside the batch, run between its steps
  /** requests finished / stopped because the client went away */
  readonly counts = { completed: 0, cancelled: 0 };
  observer: EngineObserver | null = null;

  readonly cfg: ServeConfig;
  /** apply-edit's placement scores by this model (placement.ts), run between decoding steps */
  readonly placement: PlacementScore;

  constructor(
    readonly served: ServedModel,
    cfg: ServeConfig,
  ) {
    // a block-diffusion model decodes with the exact block cache unless another is asked for: 'none' gives the
    // same tokens (both exact), only slower (text/generator.ts defaultCache)
    this.cfg = cfg.cache === 'none' && defaultCache(served.config) === 'block' ? { ...cfg, cache: 'block' } : cfg;
    this.kind = served.config.attention === 'causal' ? 'causal' : 'diffusion';
    if (this.kind === 'diffusion' && served.tokenizer.specials.mask === null)
      throw new Error(`model ${served.id}: the tokenizer has no mask token, so it cannot be a diffusion model`);
    const gen = new TextGenerator({ config: served.config, model: served.model, tokenizer: served.tokenizer, cache: this.cfg.cache });
    if (this.kind === 'diffusion') {
      this.lm = gen.denoiser();
      this.batch = new DecodeBatch(this.lm, 'continuous');
    } else {
      this.lm = null;
      this.batch = new CausalBatch((P, o) => gen.causal(P + o.genLength + 1)); // each row's KV cache: its prompt and what it may generate
    }
    const score = placementScorer(served, this.kind);
    this.placement = (before, span, after) => this.exclusive(() => score(before, span, after));
  }

  /** run `fn` on the model between two decoding steps, never beside one (the model's buffers are the batch's too) */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    this.refuseWhenFull();
    const done = new Promise<T>((resolve, reject) => {
      this.tasks.push(() => fn().then(resolve, reject));
    });
    this.kick();
    return done;
  }

  /** requests waiting or decoding, and model work queued outside the batch */
  get depth(): number {
    return this.pending.length + this.active.length + this.tasks.length;
  }
  /** requests waiting for a place in the batch */
  get waiting(): number {
    return this.pending.length;
  }
  /** requests decoding */
  get decoding(): number {
    return this.active.length;
  }

  /** resolves when every accepted request has finished */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** tokenize and validate; throws ApiError (4xx) naming the field */
  prepare(req: GenRequest): Prepared {
    return prepareRequest(this.served, this.cfg, this.kind, req);
  }

  /** queue a prepared request; throws ApiError 503 when the queue is full; rejects with Cancelled when the client left */
  submit(p: Prepared, hooks: RunHooks): Promise<Outcome> {
    this.refuseWhenFull();
    const done = new Promise<Outcome>((resolve, reject) => {
      this.pending.push(new Job(p, hooks, performance.now(), this.served.tokenizer, this.kind === 'diffusion', resolve, reject));
    });
    this.kick();
    return done;
  }

  /** ApiError 503 when the queue is full */
  private refuseWhenFull(): void {
    const n = this.depth;
    if (n >= this.cfg.queueSize)
      throw new ApiError(
        503,
        `the server is busy: ${n} requests are waiting or decoding (queue limit ${this.cfg.queueSize}); retry later`,
        null,
        'queue_full',
        'unavailable_error',
      );
  }

  /** start the loop unless it runs; work that came in as it was ending starts it again */
  private kick(): void {
    this.running ??= this.loop().finally(() => {
      this.running = null;
      if (this.tasks.length > 0 || this.pending.length > 0) this.kick();
    });
  }

  private async loop(): Promise<void> {
    try {
      while (this.pending.length > 0 || this.active.length > 0 || this.tasks.length > 0) {
        if (this.tasks.length > 0) await this.tasks.shift()!(); // one per turn: decoding rows wait one forward at most
        this.admit();
        if (this.active.length > 0) {
          try {
            await this.stepBatch();
          } catch (e) {
            this.failAll(e);
          }
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
    if (this.cfg.cache !== 'none' && !this.batch.atBlockBoundary) return;
    while (this.active.length < this.cfg.batchSize && this.pending.length > 0) {
      const job = this.pending.shift()!;
      if (job.hooks.signal.aborted) {
        this.cancel(job);
        continue;
      }
      job.start();
      const o = job.p.options,
        prompt = job.p.promptIds,
        suffix = job.p.suffixIds,
        st = job.p.structure;
      try {
        const req = {
          prompt,
          ...(suffix ? { suffix } : {}),
          ...(st ? { pinned: st.pinned, allowed: st.allowed } : {}),
          ...(job.p.constraint ? { constraint: job.p.constraint } : {}),
          ...(job.p.healing ? { allowed: [{ offset: 0, ids: job.p.healing.first }] } : {}),
        };
        this.active.push({ job, row: this.batch.add(req, o, new DecodeRng(o.seed, 0)) });
      } catch (e) {
        job.reject(e);
      }
    }
  }

  private async stepBatch(): Promise<void> {
    const { steps, finished } = await this.batch.step();
    if (steps.length > 0) this.observer?.onCall(this.served.id, steps.length);
    for (const s of steps) {
      const a = this.active.find((x) => x.row === s.row);
      if (a && a.job.onStep(s)) {
        this.batch.remove(s.row);
        this.finish(a, null);
      }
    }
    for (const f of finished) {
      const a = this.active.find((x) => x.row === f.row);
      if (a) this.finish(a, f.result);
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
      this.batch.remove(a.row);
      this.cancel(a.job);
    }
  }

  private cancel(job: Job): void {
    this.counts.cancelled++;
    this.observer?.onCancel(this.served.id);
    job.reject(new Cancelled());
  }

  /** the model failed mid-batch: every decoding request gets the error, the batch starts afresh */
  private failAll(e: unknown): void {
    for (const a of this.active) {
      this.batch.remove(a.row);
      a.job.reject(e);
    }
    this.active = [];
    this.lm?.reset();
  }
}
