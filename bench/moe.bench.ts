// npm run bench:moe [-- --shape lladamoe-7b|llada2-mini] [--dtype q8|q4] — a random mixture-of-experts model of a real shape,
// built at q8 (or 4-bit q4) straight into our kernels (no checkpoint is written), then timed: build time, resident memory,
// one full forward 1×64, decoding with Fast-dLLM's dual cache at blocks of 8, 16 and 32 (threshold 0.9: random
// weights commit about one token per step, so tokens/s is the step rate a trained model's TPF multiplies), and
// each step's cost against the memory bound: the bytes of the weights that step really reads (the experts its
// tokens were routed to, counted from the router's choices, plus attention, routers and the LM head) over the
// bandwidth of one matrix-vector product over the LM head at the same dtype on the same kernels.
// Writes bench/results/moe-<shape>[-q4].{json,md}.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { parseHfConfig } from '../src/model/config.js';
import { MOE_SHAPES } from './moe-shapes.js';
import { DiffusionLM } from '../src/model/diffusion-lm.js';
import { Transformer } from '../src/model/forward.js';
import { DEFAULT_RESIDENT_BYTES } from '../src/model/load.js';
import { randomWeights, weightBytes, type Weights } from '../src/model/weights.js';
import { createKernels } from '../src/platform/node.js';
import { drain, generate } from '../src/sampler/index.js';
import { Rng } from '../src/train/rng.js';

type Shape = keyof typeof MOE_SHAPES;

const { values } = parseArgs({
  options: { shape: { type: 'string', default: 'lladamoe-7b' }, dtype: { type: 'string', default: 'q8' } },
  strict: true,
});
const dtype = values.dtype as 'q8' | 'q4';
if (dtype !== 'q8' && dtype !== 'q4') throw new Error('--dtype must be q8 or q4');
const shape = values.shape as Shape;
if (!Object.hasOwn(MOE_SHAPES, shape)) throw new Error(`--shape must be one of ${Object.keys(MOE_SHAPES).join(', ')}`);
const config = parseHfConfig(JSON.parse(JSON.stringify(MOE_SHAPES[shape])), shape);
const moe = config.moe!;
const IDS = { mask: 156895, eos: 156892, eot: null, pad: 156892 }; // LLaDA2MoeModelLM.generate()'s defaults (config-moe.ts)
const gb = (b: number) => b / 2 ** 30;
const rss = () => process.memoryUsage().rss;

const k = await createKernels();
let t0 = performance.now();
// a table of 64 Ki normals read at random: a 7–16 B-weight model is filled in seconds, not minutes
const rng = new Rng(17),
  table = Float32Array.from({ length: 1 << 16 }, () => rng.normal());
let x = 0x2545f491;
const normal = () => {
  x ^= x << 13;
  x ^= x >>> 17;
  x ^= x << 5;
  return table[x & 0xffff]!;
};
// as a checkpoint loads: DEFAULT_RESIDENT_BYTES in the kernels' memory, the rest on the JS heap
const weights: Weights = randomWeights(config, k, normal, 0.02, dtype, DEFAULT_RESIDENT_BYTES);
const buildSeconds = (performance.now() - t0) / 1000;
let bytes = 0;
for (const w of weights.values()) bytes += weightBytes(w);
const model = new Transformer(config, k, weights);
const builtRss = rss();
console.error(
  `${shape}: built at ${dtype} in ${buildSeconds.toFixed(0)} s, ${gb(bytes).toFixed(2)} GiB of weights, RSS ${gb(rss()).toFixed(2)} GiB`,
);

// the memory bound's bandwidth: one row × LM head (V × C), weights streamed once
const head = weights.get('lmHead')!;
if (head.kind !== 'q8' && head.kind !== 'q4') throw new Error(`lmHead is ${head.kind}: expected a quantized head`);
const C = config.hiddenSize,
  V = config.vocabSize;
const xv = k.allocF32(C).fill(0.01),
  yv = k.allocF32(V);
const gemv: number[] = [];
for (let i = 0; i < 4; i++) {
  const t = performance.now();
  if (head.kind === 'q8') k.matmulQ8(yv, xv, head.q, head.scales, 1, C, V);
  else if (head.kind === 'q4') k.matmulQ4(yv, xv, head.q, head.scales, 1, C, V);
  gemv.push(performance.now() - t);
}
const gemvMs = gemv.slice(1).sort((a, b) => a - b)[1]!;
const bandwidth = weightBytes(head) / (gemvMs / 1000); // bytes / s
console.error(`${head.kind} GEMV over the LM head: ${gemvMs.toFixed(1)} ms → ${(bandwidth / 1e9).toFixed(1)} GB/s`);

// bytes a forward reads: per layer the attention (and dense FFN) weights, the router, the routed experts, the
// shared expert; the final norm and LM head. Experts come from the router's choices of that very forward.
const layerBytes = (l: number, experts: Set<number> | null): number => {
  let n = 0;
  for (const [name, w] of weights) {
    const m = /^layers\.(\d+)\.(.*)$/.exec(name);
    if (!m || Number(m[1]) !== l) continue;
    const e = /^experts\.(\d+)\./.exec(m[2]!);
    if (e && !(experts ?? new Set()).has(Number(e[1]))) continue;
    n += weightBytes(w);
  }
  return n;
};
const routed = new Map<number, Set<number>>();
model.onRouting = (l, r) => {
  const s = routed.get(l) ?? new Set<number>();
  for (const e of r.experts) s.add(e);
  routed.set(l, s);
};
const readBytes = (logitRows: number): number => {
  let n = weightBytes(weights.get('finalNorm')!) + (logitRows > 0 ? weightBytes(head) : 0);
  for (let l = 0; l < config.numLayers; l++) n += layerBytes(l, routed.get(l) ?? null);
  return n;
};

const T = 64,
  tokens = Int32Array.from({ length: T }, (_, i) => (i * 7919) % 150000);
await model.forward({ tokens, B: 1, T }); // warm-up
routed.clear();
t0 = performance.now();
await model.forward({ tokens, B: 1, T });
const forward64Ms = performance.now() - t0;
const forward64Bytes = readBytes(T);
const activeExperts64 = [...routed.values()].reduce((a, s) => a + s.size, 0) / routed.size; // over the MoE layers (dense ones route nothing)
console.error(`forward 1×${T}: ${forward64Ms.toFixed(0)} ms; ${activeExperts64.toFixed(1)} of ${moe.numExperts} experts per layer`);

// decoding: dual cache (the block's rows computed, the rest from the cache), 32 new tokens after a 32-token prompt
const lm = new DiffusionLM(model, IDS, 'dual');
const rows: Array<Record<string, number>> = [];
for (const L of [8, 16, 32]) {
  let stepBytes = 0,
    steps = 0;
  routed.clear(); // the experts of this run's steps only
  t0 = performance.now();
  const gen = generate(lm, { prompt: tokens.slice(0, 32) }, { decoder: 'threshold', threshold: 0.9, genLength: 32, blockLength: L });
  // every step, the bytes its routing read (a block-start step refreshes the cache and reads at least as much)
  const { result } = await drain(gen, () => {
    stepBytes += readBytes(L);
    routed.clear();
    steps++;
  });
  const ms = performance.now() - t0;
  const stepMs = ms / steps,
    boundMs = (stepBytes / steps / bandwidth) * 1000;
  rows.push({
    blockLength: L,
    steps,
    nfe: result.nfe,
    tpf: result.tokensPerForward,
    tokensPerSecond: (result.ids.length * 1000) / ms,
    stepMs,
    boundMs,
  });
  console.error(`block ${L}: ${stepMs.toFixed(0)} ms/step (bound ${boundMs.toFixed(0)} ms), TPF ${result.tokensPerForward.toFixed(2)}`);
}
model.dispose();
k.dispose();

const report = {
  date: new Date().toISOString(),
  shape,
  dtype,
  cpu: os.cpus()[0]?.model,
  threads: os.cpus().length,
  weightsGiB: gb(bytes),
  buildSeconds,
  rssGiB: gb(builtRss),
  gemvGBs: bandwidth / 1e9,
  forward64Ms,
  forward64BoundMs: (forward64Bytes / bandwidth) * 1000,
  activeExpertsPerLayer64: activeExperts64,
  decode: rows,
};
const md = [
  `# ${shape} at ${dtype} on our kernels — ${report.date}`,
  '',
  `${report.cpu}, ${report.threads} threads. Random weights (a real shape, see bench/moe.bench.ts), every linear layer ${dtype === 'q8' ? 'int8 per output channel' : '4-bit in blocks of 32'}. ` +
    `Bound = the bytes of the weights the step reads (the experts its tokens were routed to, attention, routers, LM head) at the ` +
    `${head.kind} GEMV bandwidth measured here (${report.gemvGBs.toFixed(1)} GB/s).`,
  '',
  `| weights GiB | build s | RSS GiB | forward 1×64 ms (bound) | experts per layer at 64 tokens |`,
  '| --- | --- | --- | --- | --- |',
  `| ${report.weightsGiB.toFixed(2)} | ${buildSeconds.toFixed(0)} | ${report.rssGiB.toFixed(1)} | ${forward64Ms.toFixed(0)} (${report.forward64BoundMs.toFixed(0)}) | ${activeExperts64.toFixed(1)} of ${moe.numExperts} |`,
  '',
  '| block (dual cache) | ms / step | bound ms | step / bound | tok/s at TPF ≈ 1 | TPF |',
  '| --- | --- | --- | --- | --- | --- |',
  ...rows.map(
    (r) =>
      `| ${r['blockLength']} | ${r['stepMs']!.toFixed(0)} | ${r['boundMs']!.toFixed(0)} | ${(r['stepMs']! / r['boundMs']!).toFixed(2)}× | ${r['tokensPerSecond']!.toFixed(2)} | ${r['tpf']!.toFixed(2)} |`,
  ),
].join('\n');
console.log(md);
mkdirSync(new URL('../../bench/results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL(`../../bench/results/moe-${shape}${dtype === 'q4' ? '-q4' : ''}.json`, import.meta.url),
  JSON.stringify(report, null, 2) + '\n',
);
writeFileSync(new URL(`../../bench/results/moe-${shape}${dtype === 'q4' ? '-q4' : ''}.md`, import.meta.url), md + '\n');
