// TrainConfig: everything a training run needs, parsed from JSON with unknown keys and wrong types rejected;
// CLI flags map 1:1 to these keys (--lr-max ↔ lrMax). Saved in every checkpoint.
import type { Objective } from './objectives.js';

export interface TrainConfig {
  objective: Objective;
  // checkpoint layout: llada (bidirectional diffusion), llama (causal AR) or dream (Qwen2 layout with q/k/v
  // biases, bidirectional diffusion with shifted logits: the AR → diffusion adaptation as Dream does it)
  arch: 'llada' | 'llama' | 'dream';
  vocabSize: number; // from the tokenizer; 0 = take it from the data's tokenizer.json
  hiddenSize: number;
  numLayers: number;
  numHeads: number;
  numKvHeads: number;
  ffnSize: number;
  ropeTheta: number;
  normEps: number;
  tieEmbeddings: boolean;
  seqLen: number; // L: training window
  maskMin: number; // mdm/sft/bd training: t ~ U[maskMin, maskMax] (BD3-LM's clipped schedule; validation keeps [0, 1])
  maskMax: number;
  bdSize: number; // bd objective: the block length (Fast-dLLM v2's config `bd_size`); the model decodes by it
  bdComplement: boolean; // bd objective: each window also as its complementary mask (Fast-dLLM v2, LLaDA2.0): 2× rows
  batchSize: number; // B per micro-batch
  gradAccum: number; // micro-batches per optimizer step
  steps: number;
  lrMax: number;
  lrMin: number;
  lrWarmupSteps: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
  gradClip: number;
  initStd: number;
  evalEvery: number;
  evalBatches: number;
  checkpointEvery: number;
  seed: number;
  threads: number; // 0 = all cores
  procs: number; // torch engine: data-parallel processes (gloo on CPUs, NCCL on GPUs), each on threads/procs threads
  initFrom: string; // a model folder whose weights start the run (fresh optimizer); '' = random init
  data: string; // folder made by `dllm data build` / `dllm data corpus`
  trainFile: string; // the train stream in `data`: train.bin, or train-fim.bin (fill-in-the-middle documents)
  engine: 'ts' | 'torch'; // ts: our kernels (wasm); torch: scripts/train/torch_train.py on PyTorch
  device: 'cpu' | 'cuda'; // torch engine only
  compile: boolean; // torch engine: wrap the model in torch.compile (PyTorch ≥ 2.0; Debian bookworm's 1.13 lacks it)
  out: string; // run folder (checkpoints, log.jsonl, loss.svg)
}

// Defaults: nanoGPT-style small-model settings (AdamW β2 0.95, wd 0.1, clip 1.0, warmup then cosine to lrMax/10).
export const TRAIN_DEFAULTS: TrainConfig = {
  objective: 'mdm',
  arch: 'llada',
  vocabSize: 0,
  hiddenSize: 256,
  numLayers: 4,
  numHeads: 4,
  numKvHeads: 4,
  ffnSize: 704,
  ropeTheta: 10000,
  normEps: 1e-5,
  tieEmbeddings: false,
  seqLen: 256,
  maskMin: 0,
  maskMax: 1,
  bdSize: 8,
  bdComplement: false,
  batchSize: 16,
  gradAccum: 1,
  steps: 1000,
  lrMax: 1e-3,
  lrMin: 1e-4,
  lrWarmupSteps: 50,
  weightDecay: 0.1,
  beta1: 0.9,
  beta2: 0.95,
  eps: 1e-8,
  gradClip: 1.0,
  initStd: 0.02,
  evalEvery: 100,
  evalBatches: 8,
  checkpointEvery: 100,
  seed: 1,
  threads: 0,
  procs: 1,
  initFrom: '',
  data: '',
  trainFile: 'train.bin',
  engine: 'ts',
  device: 'cpu',
  compile: false,
  out: '',
};

const ENUMS: Partial<Record<keyof TrainConfig, readonly string[]>> = {
  objective: ['mdm', 'sft', 'ar', 'bd'],
  arch: ['llada', 'llama', 'dream'],
  engine: ['ts', 'torch'],
  device: ['cpu', 'cuda'],
};
const INTS = new Set<keyof TrainConfig>([
  'vocabSize',
  'hiddenSize',
  'numLayers',
  'numHeads',
  'numKvHeads',
  'ffnSize',
  'seqLen',
  'bdSize',
  'batchSize',
  'gradAccum',
  'steps',
  'lrWarmupSteps',
  'evalEvery',
  'evalBatches',
  'checkpointEvery',
  'seed',
  'threads',
  'procs',
]);

export function parseTrainConfig(input: unknown, base: TrainConfig = TRAIN_DEFAULTS, where = 'train config'): TrainConfig {
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw new Error(`${where}: must be a JSON object`);
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(input as Record<string, unknown>)) {
    if (!(key in TRAIN_DEFAULTS)) throw new Error(`${where}: unknown key "${key}"`);
    const k = key as keyof TrainConfig;
    const def = TRAIN_DEFAULTS[k];
    if (typeof value !== typeof def) throw new Error(`${where}: "${key}" must be a ${typeof def}, got ${JSON.stringify(value)}`);
    if (typeof value === 'number' && (!Number.isFinite(value) || value < 0))
      throw new Error(`${where}: "${key}" must be a finite number ≥ 0, got ${value}`);
    if (INTS.has(k) && !Number.isInteger(value)) throw new Error(`${where}: "${key}" must be an integer, got ${value}`);
    const allowed = ENUMS[k];
    if (allowed && !allowed.includes(value as string))
      throw new Error(`${where}: "${key}" must be one of ${allowed.join(', ')}, got "${value}"`);
    out[key] = value;
  }
  const c = out as unknown as TrainConfig;
  if (c.hiddenSize % c.numHeads !== 0) throw new Error(`${where}: hiddenSize ${c.hiddenSize} is not a multiple of numHeads ${c.numHeads}`);
  if ((c.hiddenSize / c.numHeads) % 2 !== 0) throw new Error(`${where}: head dim ${c.hiddenSize / c.numHeads} must be even`);
  if (c.numHeads % c.numKvHeads !== 0) throw new Error(`${where}: numHeads must be a multiple of numKvHeads`);
  for (const k of ['seqLen', 'batchSize', 'gradAccum', 'steps', 'hiddenSize', 'numLayers', 'numHeads', 'ffnSize'] as const) {
    if (c[k] < 1) throw new Error(`${where}: "${k}" must be ≥ 1`);
  }
  if (c.objective === 'bd' && c.arch !== 'llama')
    throw new Error(
      `${where}: objective "bd" trains the AR layout with shifted logits (Fast-dLLM v2), so arch must be "llama", got "${c.arch}"`,
    );
  if (c.arch === 'dream' && c.objective !== 'mdm')
    throw new Error(`${where}: arch "dream" (shifted logits) trains with objective "mdm" only, got "${c.objective}"`);
  if (c.objective === 'bd' && !(c.bdSize >= 1 && c.bdSize <= c.seqLen))
    throw new Error(`${where}: "bdSize" must be in 1..seqLen (${c.seqLen}), got ${c.bdSize}`);
  if (c.bdComplement && c.objective !== 'bd') throw new Error(`${where}: "bdComplement" needs objective "bd", got "${c.objective}"`);
  if (!(c.maskMin < c.maskMax && c.maskMax <= 1))
    throw new Error(`${where}: the mask levels need 0 ≤ maskMin < maskMax ≤ 1, got ${c.maskMin} and ${c.maskMax}`);
  if (c.procs < 1) throw new Error(`${where}: "procs" must be ≥ 1`);
  if (c.procs > 1 && c.engine !== 'torch') throw new Error(`${where}: "procs" ${c.procs} (data-parallel) needs engine "torch"`);
  if (c.batchSize % c.procs !== 0) throw new Error(`${where}: batchSize ${c.batchSize} is not a multiple of procs ${c.procs}`);
  if (c.engine === 'ts' && c.device !== 'cpu') throw new Error(`${where}: device "${c.device}" needs engine "torch"`);
  if (c.compile && c.engine !== 'torch') throw new Error(`${where}: "compile" (torch.compile) needs engine "torch"`);
  if (!/^[\w.-]+\.bin$/.test(c.trainFile))
    throw new Error(`${where}: "trainFile" must be a .bin file name in the data folder, got "${c.trainFile}"`);
  return Object.freeze(c);
}
