// The training loop: sample windows → objective → forward → weighted CE → backward → clip → AdamW, with
// gradient accumulation, validation and checkpoint hooks. No I/O here: the caller (cli/train.ts) passes data
// and receives events, and decides where checkpoints go.
import type { Kernels } from '../kernels/backend.js';
import { bdPositions } from '../model/block-diffusion.js';
import { validateConfig, type ModelConfig } from '../model/config.js';
import { TrainableTransformer, type TrainBatch } from '../model/trainable.js';
import type { TrainConfig } from './config.js';
import { fixedWindows, sampleWindows, type TokenStream } from './data.js';
import { fixedSftRows, sampleSftRows } from './sft-data.js';
import { learningRate } from './lr.js';
import { FULL_RANGE, prepareAr, prepareBd, prepareMdm, shiftTargets, type MaskRange, type PreparedBatch } from './objectives.js';
import { AdamW } from './optim.js';
import { Rng } from './rng.js';

/** LLaDA GUIDELINES.md: 1 % of pre-training batches use a random length, so short inputs are seen too */
export const RANDOM_LENGTH_PROB = 0.01;

export interface StepEvent {
  step: number; // optimizer steps done
  loss: number; // training loss of this step (objective's normalisation)
  lr: number;
  gradNorm: number;
  tokens: number; // tokens processed so far (input tokens through forward+backward)
  elapsedMs: number;
  tokensPerSecond: number;
}

export interface EvalEvent {
  step: number;
  /** mdm: ELBO bound on −log p per token (nats); ar: exact NLL per token */
  valLoss: number;
  valTokens: number;
}

export interface TrainState {
  step: number;
  tokens: number;
  elapsedMs: number;
  rng: Uint32Array;
}

export interface TrainerHooks {
  onStep?(e: StepEvent): void;
  onEval?(e: EvalEvent): void;
  /** called every checkpointEvery steps and at the end; awaited, so the write finishes before training goes on */
  onCheckpoint?(t: Trainer): Promise<void>;
  /** polled between steps: return true to stop (e.g. SIGINT) after a final checkpoint */
  shouldStop?(): boolean;
}

export function modelConfigFor(c: TrainConfig, vocabSize: number): ModelConfig {
  // validated like a loaded config.json: dimensions within MODEL_LIMITS before the trainer allocates by them
  return validateConfig(
    {
      arch: c.arch,
      vocabSize,
      hiddenSize: c.hiddenSize,
      numLayers: c.numLayers,
      numHeads: c.numHeads,
      numKvHeads: c.numKvHeads,
      headDim: c.hiddenSize / c.numHeads,
      ffnSize: c.ffnSize,
      ropeTheta: c.ropeTheta,
      normEps: c.normEps,
      tieEmbeddings: c.tieEmbeddings,
      qkvBias: c.arch === 'dream', // the Qwen2 layout Dream keeps; zero when adapted from llama weights
      // bd: the llama layout read as a block-diffusion model; dream: bidirectional MDM. Both shift their
      // logits as the AR weights they start from were trained (Fast-dLLM v2, Dream)
      attention: c.arch === 'llama' && c.objective !== 'bd' ? 'causal' : 'bidirectional',
      shiftLogits: c.objective === 'bd' || c.arch === 'dream',
      maxPositions: Math.max(c.seqLen, 1024),
      ...(c.objective === 'bd' ? { bdSize: c.bdSize } : {}),
    },
    'train config',
  );
}

/** bd batches: [x_t ⊕ x_0] under BD3-LM's mask, both halves at positions 0..L−1 (objectives.ts prepareBd) */
function blockDiffusionInput(b: PreparedBatch): Pick<TrainBatch, 'mask' | 'positions'> {
  if (!b.blockDiffusion) return {};
  return { mask: { kind: 'blockDiffusion', blockLength: b.blockDiffusion }, positions: bdPositions(b.B, b.T / 2) };
}

export class Trainer {
  readonly model: TrainableTransformer;
  readonly optim: AdamW;
  rng: Rng;
  state: TrainState;
  private dlogits: Float32Array | null = null;
  private readonly range: MaskRange; // training's mask levels (config maskMin..maskMax)
  private losses: Float32Array | null = null;

  constructor(
    readonly cfg: TrainConfig,
    readonly modelConfig: ModelConfig,
    readonly kernels: Kernels,
    readonly maskId: number | null,
  ) {
    if (cfg.objective !== 'ar' && maskId === null) throw new Error('train: the mdm/sft objectives need a mask token in the tokenizer');
    this.model = new TrainableTransformer(modelConfig, kernels);
    this.optim = new AdamW(kernels, this.model.specs, cfg);
    this.rng = new Rng(cfg.seed);
    this.range = { lo: cfg.maskMin, hi: cfg.maskMax };
    this.state = { step: 0, tokens: 0, elapsedMs: 0, rng: this.rng.state() };
  }

  /** fresh weights: normal(0, initStd) for matrices, ones for norm gains (seeded) */
  initWeights(): void {
    const init = new Rng(this.cfg.seed ^ 0x5eed);
    for (const s of this.model.specs) {
      const p = this.model.p(s.name);
      if (s.kind === 'norm') p.fill(1);
      else if (s.kind === 'bias')
        p.fill(0); // Qwen2/Llama init: biases start at zero
      else for (let i = 0; i < p.length; i++) p[i] = init.normal() * this.cfg.initStd;
    }
  }

  /** `training`: the training-only draws (mask range, complementary rows); validation scores the plain bound */
  private prepare(clean: Int32Array, B: number, L: number, rng: Rng, training: boolean): PreparedBatch {
    const c = this.cfg,
      range = training ? this.range : FULL_RANGE;
    if (c.objective === 'bd') return prepareBd(clean, B, L, c.bdSize, this.maskId!, rng, range, training && c.bdComplement);
    if (c.objective === 'ar') return prepareAr(clean, B, L + 1);
    const b = prepareMdm(clean, B, L, this.maskId!, rng, undefined, range);
    return this.modelConfig.shiftLogits ? shiftTargets(b, clean) : b;
  }

  private buffers(N: number, V: number): { dlogits: Float32Array; losses: Float32Array } {
    if (!this.dlogits || this.dlogits.length !== N * V) {
      if (this.dlogits) {
        this.kernels.free(this.dlogits);
        this.kernels.free(this.losses!);
      }
      this.dlogits = this.kernels.allocF32(N * V);
      this.losses = this.kernels.allocF32(N);
    }
    return { dlogits: this.dlogits, losses: this.losses! };
  }

  /** forward + loss (+ backward with gradient scale `gradScale` when > 0); returns Σ losses / normaliser */
  private run(b: PreparedBatch, gradScale: number): number {
    const V = this.modelConfig.vocabSize,
      N = b.B * b.T,
      k = this.kernels;
    const logits = this.model.forward({ tokens: b.input, B: b.B, T: b.T, ...blockDiffusionInput(b) });
    const { dlogits, losses } = this.buffers(N, V);
    k.crossEntropyForward(losses, logits, b.targets, b.weights, N, V);
    let sum = 0;
    for (let i = 0; i < N; i++) sum += losses[i]!;
    if (gradScale > 0) {
      k.crossEntropyBackward(dlogits, logits, b.targets, b.weights, N, V, gradScale / b.normaliser);
      this.model.backward(dlogits);
    }
    return sum / b.normaliser;
  }

  /** one optimizer step over gradAccum micro-batches */
  step(train: TokenStream): StepEvent {
    const c = this.cfg;
    const t0 = performance.now();
    this.model.zeroGrads();
    let loss = 0,
      tokens = 0;
    for (let m = 0; m < c.gradAccum; m++) {
      let L = c.seqLen,
        b: PreparedBatch;
      if (c.objective === 'sft') {
        // whole rows: prompt (never masked) + answer + EOS padding
        const rows = sampleSftRows(train, c.batchSize, L, this.rng);
        b = prepareMdm(rows.clean, c.batchSize, L, this.maskId!, this.rng, rows.promptLengths, this.range);
      } else {
        if (c.objective === 'mdm' && this.rng.uniform() < RANDOM_LENGTH_PROB) L = 1 + this.rng.int(c.seqLen);
        const clean = sampleWindows(train, c.batchSize, c.objective === 'ar' ? L + 1 : L, this.rng);
        b = this.prepare(clean, c.batchSize, L, this.rng, true);
      }
      loss += this.run(b, 1 / c.gradAccum) / c.gradAccum;
      tokens += c.batchSize * L; // data tokens read (bd's rows hold each twice, four times with bdComplement)
    }
    const lr = learningRate({ lrMax: c.lrMax, lrMin: c.lrMin, lrWarmupSteps: c.lrWarmupSteps, lrDecaySteps: c.steps }, this.state.step);
    const gradNorm = this.optim.update(this.model.params, this.model.grads, lr);
    const s = this.state;
    s.step++;
    s.tokens += tokens;
    s.elapsedMs += performance.now() - t0;
    s.rng = this.rng.state();
    return { step: s.step, loss, lr, gradNorm, tokens: s.tokens, elapsedMs: s.elapsedMs, tokensPerSecond: (s.tokens / s.elapsedMs) * 1000 };
  }

  /**
   * Validation on fixed windows of the held-out stream (the same windows every time). For mdm the masking
   * uses its own fixed seed, so the Monte-Carlo ELBO estimate is comparable across evaluations.
   */
  evaluate(val: TokenStream): EvalEvent {
    const c = this.cfg;
    const rng = new Rng(0xe1b0);
    let total = 0,
      count = 0;
    for (let i = 0; i < c.evalBatches; i++) {
      if (c.objective === 'sft') {
        // the answer's ELBO bound per answer token, averaged over rows
        const rows = fixedSftRows(val, c.batchSize, c.seqLen, i * c.batchSize);
        if (!rows) break;
        total += this.run(prepareMdm(rows.clean, c.batchSize, c.seqLen, this.maskId!, rng, rows.promptLengths), 0) * c.batchSize;
        count += c.batchSize;
        continue;
      }
      const clean = fixedWindows(val, c.batchSize, c.objective === 'ar' ? c.seqLen + 1 : c.seqLen, i * c.batchSize);
      if (!clean) break;
      const b = this.prepare(clean, c.batchSize, c.seqLen, rng, false); // the bound: every mask level
      // mdm's normaliser is B·L, so loss·B·L / (B·L) is the ELBO bound per token; ar's is the mean NLL
      total += this.run(b, 0) * b.normaliser;
      count += b.normaliser;
    }
    if (count === 0) throw new Error(`validation: the held-out stream is shorter than one batch of ${c.batchSize}×${c.seqLen}`);
    return { step: this.state.step, valLoss: total / count, valTokens: count };
  }

  async train(trainStream: TokenStream, val: TokenStream | null, hooks: TrainerHooks = {}): Promise<void> {
    const c = this.cfg;
    while (this.state.step < c.steps) {
      // let the host run between steps: log writes, progress redraws and signal handlers (a step is seconds)
      await new Promise((r) => setTimeout(r, 0));
      const e = this.step(trainStream);
      hooks.onStep?.(e);
      const last = this.state.step === c.steps;
      if (val && (this.state.step % c.evalEvery === 0 || last)) hooks.onEval?.(this.evaluate(val));
      const stop = hooks.shouldStop?.() ?? false;
      if (this.state.step % c.checkpointEvery === 0 || last || stop) await hooks.onCheckpoint?.(this);
      if (stop) return;
    }
  }

  dispose(): void {
    if (this.dlogits) {
      this.kernels.free(this.dlogits);
      this.kernels.free(this.losses!);
    }
    this.optim.dispose();
    this.model.dispose();
  }
}
