// npm run bench:step-bound — a dual-cache diffusion step against its MatMul bound (issue 14's target: ≤ 1.5×
// at b = 8, 16, 32 rows; b = 1 is an AR step over the same cache, target ≤ 1.5× too): the cached forward of b rows over 256 cached keys (as the roofline measures it,
// src/platform/node-roofline.ts), timed in turn with a graph of only the same matrix products (bench/matmul-bound.ts: every linear
// layer for b rows, Q·Kᵀ and P·V against 256 + b keys, the LM head for b rows) in the same ONNX Runtime, same
// threads. `--shape mini` (default): the shipped dllm-code-mini; `--shape llada8b-layer`: one LLaDA-8B layer
// (random f32 weights, its 4096 width, 32 heads of 128, FFN 12288) under a 4096-entry head, so the layer and
// not its 126k-row LM head is measured. Writes bench/results/step-bound{,-llada8b-layer}.{json,md}. Not a test:
// it measures (on an otherwise idle machine).
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { parseArgs } from 'node:util';
import { validateConfig } from '../src/model/config.js';
import type { ForwardModel } from '../src/model/forward.js';
import { loadModel } from '../src/platform/node-generator.js';
import { ortSession, OrtTransformer, ORT_VERSION } from '../src/platform/node-ort.js';
import { LLADA_8B } from './llada8b-config.js';
import { buildMatmulBoundModel } from './matmul-bound.js';
import { randomSource } from './random-weights.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ROWS = [1, 8, 16, 32],
  CONTEXT = 256,
  RUNS = 31,
  TARGET = 1.5;
const threads = Number(process.env['DLLM_THREADS'] ?? 0) || os.cpus().length;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

const { values } = parseArgs({ options: { shape: { type: 'string', default: 'mini' } }, strict: true });
const SHAPES: Record<string, { title: string; result: string; load: () => Promise<ForwardModel> }> = {
  mini: {
    title: 'dllm-code-mini',
    result: 'step-bound',
    load: async () => (await loadModel('dllm-code-mini', { backend: 'ort', threads })).model,
  },
  'llada8b-layer': {
    title: 'one LLaDA-8B layer (random f32 weights, 4096-entry head)',
    result: 'step-bound-llada8b-layer',
    load: () => {
      const cfg = validateConfig({ ...LLADA_8B, numLayers: 1, vocabSize: 4096 });
      return OrtTransformer.create(cfg, randomSource(cfg), { dtype: 'f32', threads });
    },
  },
};
const shape = SHAPES[values.shape!];
if (!shape) throw new Error(`--shape must be one of ${Object.keys(SHAPES).join(', ')}, got "${values.shape}"`);
const model = await shape.load();
const cfg = model.config;
const bound = await ortSession(buildMatmulBoundModel(cfg), threads);
const { hiddenSize: C, numHeads: H, headDim: D, vocabSize: V } = cfg;
// the step and its bound timed in turn, run after run, so both see the same moments of a shared machine
const cache = model.createCache(1, CONTEXT + Math.max(...ROWS));
const ids = (n: number, salt: number) => Int32Array.from({ length: n }, (_, i) => (i * 7919 + salt) % Math.min(V, 4096));
await model.forward({ tokens: ids(CONTEXT, 1), B: 1, T: CONTEXT, cache, rowStart: 0 }); // the cached past
const rows = [];
for (const b of ROWS) {
  const keys = CONTEXT + b; // the block attends to the cache and to itself
  const t = (shape: number[]) => new ort.Tensor('float32', new Float32Array(shape.reduce((x, y) => x * y, 1)).fill(0.01), shape);
  const feeds = { x: t([1, b, C]), q: t([1, H, b, D]), k: t([1, H, D, keys]), v: t([1, H, keys, D]) };
  const step = { tokens: ids(b, b), B: 1, T: b, cache, rowStart: CONTEXT, logitRows: Int32Array.from({ length: b }, (_, i) => i) };
  const stepTimes: number[] = [],
    boundTimes: number[] = [];
  for (let r = -2; r < RUNS; r++) {
    // two warm-ups: ORT plans a new shape on its first run
    let t0 = performance.now();
    await model.forward(step);
    if (r >= 0) stepTimes.push(performance.now() - t0);
    t0 = performance.now();
    await bound.run(feeds);
    if (r >= 0) boundTimes.push(performance.now() - t0);
  }
  const stepMs = median(stepTimes),
    boundMs = median(boundTimes);
  rows.push({ rows: b, stepMs, boundMs, ratio: stepMs / boundMs, met: stepMs / boundMs <= TARGET });
  console.error(`b ${b}: step ${stepMs.toFixed(2)} ms, MatMul bound ${boundMs.toFixed(2)} ms, ${(stepMs / boundMs).toFixed(2)}×`);
}
model.freeCache(cache);
model.dispose();
await bound.release();

const md = [
  `# A dual-cache step vs its MatMul bound — ${shape.title} on ORT ${ORT_VERSION}, ${threads} threads, ${new Date().toISOString().slice(0, 10)}`,
  '',
  `\`npm run bench:step-bound${values.shape === 'mini' ? '' : ` -- --shape ${values.shape}`}\`: one cached forward of b rows over ${CONTEXT} cached keys and the same matrix products alone`,
  `in the same runtime, timed in turn (medians of ${RUNS}). Target (issue 14): step ≤ ${TARGET}× the bound.`,
  '',
  '| rows b | step ms | MatMul bound ms | step / bound | ≤ 1.5× |',
  '| --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.rows} | ${r.stepMs.toFixed(2)} | ${r.boundMs.toFixed(2)} | ${r.ratio.toFixed(2)} | ${r.met ? 'yes' : 'no'} |`),
  '',
].join('\n');
mkdirSync(`${ROOT}bench/results`, { recursive: true });
writeFileSync(
  `${ROOT}bench/results/${shape.result}.json`,
  JSON.stringify({ shape: values.shape, threads, context: CONTEXT, ort: ORT_VERSION, rows }, null, 2) + '\n',
);
writeFileSync(`${ROOT}bench/results/${shape.result}.md`, md);
console.log(md);
