// npm run bench:decode — the shipped models on every backend, one run:
//   forward: the whole forward of dllm-code-mini (1×256 and 4×64 tokens) on our wasm kernels, on ONNX Runtime,
//            and in llama.cpp (node-llama-cpp, same weights as an F32 GGUF), same threads; next to ORT's MatMul
//            bound — a graph of only the same matrix products, timed in the same ORT (onnx/graph.ts)
//   decode:  generation speed of each decoder and cache setting on wasm and ort, and of the AR twin on wasm,
//            ort and llama.cpp: tokens to EOS / wall time, tokens per forward (TPF), NFE, first settled token.
// Writes bench/results/decode.{json,md}. Not a test: it measures. DLLM_THREADS sets the thread count.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import ort from 'onnxruntime-node';
import { forwardThroughput, type ForwardRow } from '../src/platform/node-forward-bench.js';
import { loadModel, resolveModel } from '../src/platform/node-generator.js';
import { TextGenerator, type TextOptions } from '../src/text/generator.js';
import type { ForwardInput, ForwardModel, KVCache } from '../src/model/forward.js';
import type { Top1Forward } from '../src/model/diffusion-lm.js';
import { buildMatmulBoundModel } from './matmul-bound.js';
import { createKernels } from '../src/platform/node.js';
import { validateConfig } from '../src/model/config.js';
import { randomWeights } from '../src/model/weights.js';
import { loadF32Weights } from '../src/platform/node-model.js';
import { ortSession, OrtTransformer, ORT_VERSION } from '../src/platform/node-ort.js';
import { Rng } from '../src/train/rng.js';
import { llamaCppGreedy } from './llama-cpp-generate.js';

const PROMPTS = [
  'def fibonacci(n):\n',
  'import os\nimport sys\n\n',
  'class Stack:\n    def __init__(self):\n',
  'def read_json(path):\n',
  'for i in range(10):\n',
];
const GEN = 64,
  BLOCK = 32,
  RUNS = 5;
const threads = Number(process.env['DLLM_THREADS'] ?? 0) || os.cpus().length;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const k = await createKernels({ threads });
const diffDir = resolveModel('dllm-code-mini'),
  arDir = resolveModel('dllm-code-mini-ar');

// ---- forward ----------------------------------------------------------------------------------------------
interface FwdRow extends ForwardRow {
  matmulBoundMs: number;
  ortOverBound: number | null;
}
const forward: FwdRow[] = [];
const { config } = await loadF32Weights(diffDir);
const bound = await ortSession(buildMatmulBoundModel(config), threads);
for (const [B, T] of [
  [1, 256],
  [4, 64],
] as const) {
  const row = await forwardThroughput(diffDir, 'dllm-code-mini', k, B, T, RUNS);
  const { hiddenSize: C, numHeads: H, headDim: D } = config;
  const t = (shape: number[]) => new ort.Tensor('float32', new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.01), shape);
  const feeds = { x: t([B, T, C]), q: t([B, H, T, D]), k: t([B, H, D, T]), v: t([B, H, T, D]) };
  const times: number[] = [];
  for (let r = -1; r < RUNS; r++) {
    const t0 = performance.now();
    await bound.run(feeds);
    if (r >= 0) times.push(performance.now() - t0);
  }
  const matmulBoundMs = median(times);
  forward.push({ ...row, matmulBoundMs, ortOverBound: row.ortMs === null ? null : row.ortMs / matmulBoundMs });
  console.error(
    `forward ${B}×${T}: wasm ${row.dllmMs.toFixed(1)} ms, ort ${row.ortMs?.toFixed(1)} ms (MatMul bound ${matmulBoundMs.toFixed(1)} ms), llama.cpp ${row.llamaCppMs?.toFixed(1) ?? '—'} ms`,
  );
}
await bound.release();

// ORT's distance to its MatMul bound grows small as the matrices grow: the same measurement at larger shapes
// (random weights): the DESIGN.md reference model and one layer of LLaDA-8B's dimensions (vocabulary cut to 4096)
interface ShapeRow {
  shape: string;
  tokens: string;
  ortMs: number;
  matmulBoundMs: number;
  ratio: number;
}
const shapes: ShapeRow[] = [
  {
    shape: 'dllm-code-mini (6 layers, d 256)',
    tokens: '1×256',
    ortMs: forward[0]!.ortMs ?? NaN,
    matmulBoundMs: forward[0]!.matmulBoundMs,
    ratio: forward[0]!.ortOverBound ?? NaN,
  },
];
for (const [label, c] of [
  ['reference (4 layers, d 512, FFN 1408)', { numLayers: 4, hiddenSize: 512, numHeads: 8, numKvHeads: 8, headDim: 64, ffnSize: 1408 }],
  [
    'LLaDA-8B layer (1 layer, d 4096, FFN 12288)',
    { numLayers: 1, hiddenSize: 4096, numHeads: 32, numKvHeads: 32, headDim: 128, ffnSize: 12288 },
  ],
] as const) {
  const cfg = validateConfig({ ...config, ...c, vocabSize: 4096, maxPositions: 1024 });
  const rng = new Rng(7),
    w = new Map<string, Float32Array>();
  for (const [name, x] of randomWeights(cfg, null, () => rng.normal(), 0.02)) if (x.kind === 'f32') w.set(name, x.data);
  const model = await OrtTransformer.create(cfg, w, { dtype: 'f32', threads });
  const b = await ortSession(buildMatmulBoundModel(cfg), threads);
  const T = 256,
    tokens = Int32Array.from({ length: T }, (_, i) => i % 4000);
  const t = (shape: number[]) => new ort.Tensor('float32', new Float32Array(shape.reduce((a, x) => a * x, 1)).fill(0.01), shape);
  const feeds = {
    x: t([1, T, cfg.hiddenSize]),
    q: t([1, cfg.numHeads, T, cfg.headDim]),
    k: t([1, cfg.numHeads, cfg.headDim, T]),
    v: t([1, cfg.numHeads, T, cfg.headDim]),
  };
  const a: number[] = [],
    bb: number[] = [];
  for (let r = -1; r < RUNS; r++) {
    let t0 = performance.now();
    await model.forward({ tokens, B: 1, T });
    if (r >= 0) a.push(performance.now() - t0);
    t0 = performance.now();
    await b.run(feeds);
    if (r >= 0) bb.push(performance.now() - t0);
  }
  shapes.push({ shape: label, tokens: `1×${T}`, ortMs: median(a), matmulBoundMs: median(bb), ratio: median(a) / median(bb) });
  console.error(`${label}: ort ${median(a).toFixed(1)} ms, bound ${median(bb).toFixed(1)} ms`);
  model.dispose();
  await b.release();
}

// ---- decode -----------------------------------------------------------------------------------------------
// Each setting through the library (loadModel → TextGenerator), its forward timed from outside and, on ORT,
// from inside (ForwardProfile), so that every step's milliseconds split into: the graph run (wasm: the whole
// forward), building its inputs, KV-cache rows copied out and back, aligning the logits rows (DiffusionLM),
// and the sampler's JS (softmax, top-k, commit, settled text) = wall − time inside the denoiser.
interface Breakdown {
  stepMs: number;
  runMs: number;
  inputsMs: number | null;
  cacheMs: number | null;
  logitsMs: number;
  samplerMs: number;
}
interface DecRow {
  model: string;
  backend: string;
  decoder: string;
  cache: string;
  tokens: number;
  seconds: number;
  tokensPerSecond: number;
  tpf: number;
  nfe: number;
  firstSettledMs: number;
  perStep: Breakdown;
}
const decode: DecRow[] = [];
const settings: Array<[string, 'none' | 'prefix' | 'dual', TextOptions]> = [
  ['fixed steps=64', 'none', { decoder: 'fixed', steps: GEN }],
  ['fixed steps=32', 'none', { decoder: 'fixed', steps: GEN / 2 }],
  ['threshold τ=0.9', 'none', { decoder: 'threshold', threshold: 0.9 }],
  ['threshold τ=0.9', 'prefix', { decoder: 'threshold', threshold: 0.9 }],
  ['threshold τ=0.9', 'dual', { decoder: 'threshold', threshold: 0.9 }],
  ['factor f=1', 'dual', { decoder: 'factor', factor: 1 }],
];

/** a ForwardModel seen from outside: the time and count of its forward calls */
class TimedForward implements ForwardModel {
  ms = 0;
  calls = 0;
  /** present when the inner engine computes the decoder's confidences itself (ORT): timed the same way */
  readonly forwardTop1?: Top1Forward['forwardTop1'];
  constructor(readonly inner: ForwardModel) {
    const top = (inner as Partial<Top1Forward>).forwardTop1;
    if (top)
      this.forwardTop1 = async (input, banned, kind) => {
        const t0 = performance.now();
        try {
          return await top.call(inner, input, banned, kind);
        } finally {
          this.ms += performance.now() - t0;
          this.calls++;
        }
      };
  }
  get config() {
    return this.inner.config;
  }
  async forward(input: ForwardInput): Promise<Float32Array> {
    const t0 = performance.now();
    try {
      return await this.inner.forward(input);
    } finally {
      this.ms += performance.now() - t0;
      this.calls++;
    }
  }
  createCache(B: number, capacity: number) {
    return this.inner.createCache(B, capacity);
  }
  freeCache(cache: KVCache) {
    this.inner.freeCache(cache);
  }
  dispose() {
    this.inner.dispose();
  }
}

async function open(name: string, backend: 'wasm' | 'ort'): Promise<{ lm: TextGenerator; timed: TimedForward }> {
  const base = await loadModel(name, { backend, threads });
  const timed = new TimedForward(base.model);
  return {
    lm: new TextGenerator({
      config: base.config,
      model: timed,
      tokenizer: base.tokenizer,
      backend: base.backend,
      dispose: () => base.dispose(),
    }),
    timed,
  };
}

async function run(
  name: string,
  m: { lm: TextGenerator; timed: TimedForward },
  backend: 'wasm' | 'ort',
  label: string,
  cache: 'none' | 'prefix' | 'dual' | 'kv',
  extra: TextOptions,
): Promise<void> {
  const o: TextOptions = {
    maxTokens: GEN,
    ...(m.lm.kind === 'diffusion' ? { blockLength: BLOCK, cache: cache === 'kv' ? 'none' : cache, ...extra } : {}),
  };
  await m.lm.complete(PROMPTS[0]!, o); // warm-up
  const profile = m.lm.model instanceof TimedForward && m.lm.model.inner instanceof OrtTransformer ? m.lm.model.inner.profile : null;
  m.timed.ms = 0;
  m.timed.calls = 0;
  profile?.reset();
  let tokens = 0,
    ms = 0,
    nfe = 0,
    first = 0,
    modelMs = 0;
  for (const p of PROMPTS) {
    const c = await m.lm.complete(p, o);
    tokens += c.ids.length;
    ms += c.timings.totalMs;
    nfe += c.nfe;
    modelMs += c.timings.modelMs;
    first += Number.isNaN(c.timings.firstMs) ? c.timings.totalMs : c.timings.firstMs;
  }
  const per = (x: number) => x / nfe;
  const perStep: Breakdown = {
    stepMs: per(ms),
    runMs: per(profile ? profile.runMs : m.timed.ms),
    inputsMs: profile ? per(profile.inputsMs) : null,
    cacheMs: profile ? per(profile.cacheMs) : null,
    logitsMs: per(modelMs - m.timed.ms),
    samplerMs: per(ms - modelMs),
  };
  decode.push({
    model: name,
    backend,
    decoder: label,
    cache,
    tokens,
    seconds: ms / 1000,
    tokensPerSecond: (tokens * 1000) / ms,
    tpf: tokens / nfe,
    nfe,
    firstSettledMs: first / PROMPTS.length,
    perStep,
  });
  console.error(
    `${name} ${backend} ${label} ${cache}: ${((tokens * 1000) / ms).toFixed(1)} tok/s, ${perStep.stepMs.toFixed(2)} ms/step (run ${perStep.runMs.toFixed(2)})`,
  );
}
for (const backend of ['wasm', 'ort'] as const) {
  const diff = await open('dllm-code-mini', backend);
  try {
    for (const [label, cache, extra] of settings) await run('dllm-code-mini', diff, backend, label, cache, extra);
  } finally {
    diff.lm.dispose();
  }
  const ar = await open('dllm-code-mini-ar', backend);
  try {
    await run('dllm-code-mini-ar', ar, backend, 'AR greedy', 'kv', {});
  } finally {
    ar.lm.dispose();
  }
}
const cpp = await llamaCppGreedy(arDir, PROMPTS, GEN, threads);
if ('skip' in cpp) console.error(`llama.cpp AR skipped: ${cpp.skip}`);
else
  decode.push({
    model: 'dllm-code-mini-ar',
    backend: 'llama.cpp',
    decoder: 'AR greedy',
    cache: 'kv',
    tokens: cpp.tokens,
    seconds: cpp.ms / 1000,
    tokensPerSecond: (cpp.tokens * 1000) / cpp.ms,
    tpf: 1,
    nfe: cpp.tokens,
    firstSettledMs: cpp.firstMs,
    perStep: { stepMs: cpp.ms / cpp.tokens, runMs: NaN, inputsMs: null, cacheMs: null, logitsMs: NaN, samplerMs: NaN },
  });
k.dispose();

const f1 = (x: number | null, d = 1) => (x === null ? '—' : x.toFixed(d));
const md = [
  `# Decode benchmark — ${new Date().toISOString()}`,
  '',
  `Node ${process.version}, ${os.cpus()[0]?.model}, ${threads} threads; dllm wasm: ${k.name}; onnxruntime-node ${ORT_VERSION}. ${PROMPTS.length} code prompts, ${GEN} new tokens, blocks of ${BLOCK}, temperature 0, early stop at EOS.`,
  '',
  '## Whole forward of dllm-code-mini (median of 5)',
  '',
  '| tokens | wasm ms | ort ms | llama.cpp ms | ORT MatMul bound ms | ort / bound | wasm / llama.cpp | ort / llama.cpp |',
  '| --- | --- | --- | --- | --- | --- | --- | --- |',
  ...forward.map(
    (r) =>
      `| ${r.B}×${r.T} | ${f1(r.dllmMs)} | ${f1(r.ortMs)} | ${f1(r.llamaCppMs)} | ${f1(r.matmulBoundMs)} | ${f1(r.ortOverBound, 2)} | ${f1(r.ratio, 2)} | ${r.ortMs !== null && r.llamaCppMs !== null ? f1(r.ortMs / r.llamaCppMs, 2) : '—'} |`,
  ),
  ...forward.filter((r) => r.note).map((r) => `\n${r.B}×${r.T}: ${r.note}`),
  '',
  '## ONNX Runtime forward vs its MatMul bound (the same matrix products alone, same ORT, same threads)',
  '',
  '| shape | tokens | ort forward ms | MatMul bound ms | forward / bound |',
  '| --- | --- | --- | --- | --- |',
  ...shapes.map((r) => `| ${r.shape} | ${r.tokens} | ${f1(r.ortMs)} | ${f1(r.matmulBoundMs)} | ${f1(r.ratio, 2)} |`),
  '',
  '## Generation (tokens to EOS / wall time; TPF = tokens / NFE)',
  '',
  '| model | backend | decoder | cache | tokens | tok/s | TPF | NFE | first settled token (ms) |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...decode.map(
    (r) =>
      `| ${r.model} | ${r.backend} | ${r.decoder} | ${r.cache} | ${r.tokens} | ${r.tokensPerSecond.toFixed(1)} | ${r.tpf.toFixed(2)} | ${r.nfe} | ${r.firstSettledMs.toFixed(0)} |`,
  ),
  '',
  "## Where a step's milliseconds go (per denoiser call, mean over the prompts)",
  '',
  'run: the ONNX graph (wasm: the whole forward on our kernels); inputs: ids, positions, attention bias; KV copies: cached rows copied into the feeds and new rows back; logits: aligning the needed rows (DiffusionLM); sampler: the JS between calls (softmax, top-k, commit, settled text).',
  '',
  '| model | backend | decoder | cache | step ms | run | inputs | KV copies | logits | sampler |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...decode
    .filter((r) => r.backend !== 'llama.cpp')
    .map((r) => {
      const b = r.perStep;
      return `| ${r.model} | ${r.backend} | ${r.decoder} | ${r.cache} | ${b.stepMs.toFixed(2)} | ${b.runMs.toFixed(2)} | ${f1(b.inputsMs, 2)} | ${f1(b.cacheMs, 2)} | ${b.logitsMs.toFixed(2)} | ${b.samplerMs.toFixed(2)} |`;
    }),
  '',
  "llama.cpp runs the AR twin only: node-llama-cpp has no diffusion sampler (llama.cpp's is the llama-diffusion-cli example).",
].join('\n');
console.log(md);
mkdirSync(new URL('../../bench/results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('../../bench/results/decode.json', import.meta.url),
  JSON.stringify({ date: new Date().toISOString(), threads, forward, shapes, decode }, null, 2) + '\n',
);
writeFileSync(new URL('../../bench/results/decode.md', import.meta.url), md + '\n');
