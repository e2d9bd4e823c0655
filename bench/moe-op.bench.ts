// npm run bench:moe-op [-- --shape lladamoe-7b] [--experts E] [--dtype f32|q8 …] [--reps 15] — one MoE feed-forward layer of a
// real shape (random weights, bench/moe-shapes.ts) as an ONNX model of its own, timed in both formulations
// the full graph could use: our explicit route / gather / GEMM / scatter (src/onnx/moe-graph.ts moeFfn) and
// ONNX Runtime's fused com.microsoft MoE (f32) / QMoE (8-bit, row-wise scales) node, for N tokens per call
// (1 = an AR step, 32 and 64 = a diffusion block). Median ms of `reps` runs after warm-up, and how far the
// operator's output is from the explicit graph's at the same dtype (NMSE). The test that the two compute
// the same layer is test/onnx/moe-operator.test.ts; this only measures. Writes bench/results/moe-op-<shape>-e<E>-<dtypes>.{json,md}.
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import { parseHfConfig } from '../src/model/config.js';
import { buildMoeLayerModel, type MoeFormulation } from '../src/onnx/moe-layer.js';
import { ortSession } from '../src/platform/node-ort.js';
import { Rng } from '../src/train/rng.js';
import { MOE_SHAPES } from './moe-shapes.js';

const { values } = parseArgs({
  options: {
    shape: { type: 'string', default: 'lladamoe-7b' },
    experts: { type: 'string' },
    reps: { type: 'string', default: '15' },
    dtype: { type: 'string', multiple: true },
  },
  strict: true,
});
const shape = values.shape as keyof typeof MOE_SHAPES;
if (!Object.hasOwn(MOE_SHAPES, shape)) throw new Error(`--shape must be one of ${Object.keys(MOE_SHAPES).join(', ')}`);
const config = parseHfConfig(JSON.parse(JSON.stringify(MOE_SHAPES[shape])), shape);
const moe = { ...config.moe!, moeLayers: [true] }; // one layer, MoE
if (values.experts) moe.numExperts = Number(values.experts); // fewer experts: a smaller machine, same per-token work
const C = config.hiddenSize,
  E = moe.numExperts,
  F = moe.expertFfn;
const reps = Number(values.reps);
const ROWS = [1, 8, 32, 64];
const DTYPES = (values.dtype ?? ['f32', 'q8']) as ('f32' | 'q8')[];
for (const d of DTYPES) if (d !== 'f32' && d !== 'q8') throw new Error(`--dtype must be f32 or q8, got "${d}"`);
const tag = `${shape}-e${E}-${DTYPES.join('-')}`; // the results file: one per layer size and dtypes
const threads = os.cpus().length;

// random weights by our names (moe-layer.ts), N(0, 0.02) as an initialised model; the router wider (std 0.5)
// so that the top K is not a near-tie and both formulations pick the same experts
const rng = new Rng(23);
const normal = (n: number, std: number) => {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal() * std;
  return a;
};
const w = new Map<string, Float32Array>([['layers.0.router', normal(E * C, 0.5 / Math.sqrt(C))]]);
const expert = (q: string, Fe: number) => {
  w.set(q + 'wGate', normal(Fe * C, 0.02)); // (Fe, C)
  w.set(q + 'wUp', normal(Fe * C, 0.02)); // (Fe, C)
  w.set(q + 'wDown', normal(C * Fe, 0.02)); // (C, Fe)
};
for (let e = 0; e < E; e++) expert(`layers.0.experts.${e}.`, F);
if (moe.sharedFfn) expert('layers.0.shared.', moe.sharedFfn);
const weights = (name: string) => w.get(name)!;
const x = normal(64 * C, 1); // (64, C): the rows of every N are a prefix

const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1]!;
function nmse(a: Float32Array, ref: Float32Array): number {
  let d = 0,
    r = 0;
  for (let i = 0; i < a.length; i++) ((d += (a[i]! - ref[i]!) ** 2), (r += ref[i]! ** 2));
  return d / r;
}

interface Row {
  dtype: 'f32' | 'q8';
  tokens: number;
  explicitMs: number;
  operatorMs: number;
  speedup: number;
  nmse: number;
}
const rows: Row[] = [];
for (const dtype of DTYPES) {
  const sessions = new Map<MoeFormulation, ort.InferenceSession>();
  for (const how of ['explicit', 'operator'] as const)
    sessions.set(how, await ortSession(buildMoeLayerModel(moe, C, weights, how, dtype), threads));
  for (const N of ROWS) {
    const feed = { x: new ort.Tensor('float32', x.subarray(0, N * C), [N, C]) };
    const ms = new Map<MoeFormulation, number>(),
      out = new Map<MoeFormulation, Float32Array>();
    for (const [how, s] of sessions) {
      for (let i = 0; i < 3; i++) out.set(how, (await s.run(feed))['y']!.data as Float32Array); // warm-up
      const t: number[] = [];
      for (let i = 0; i < reps; i++) {
        const t0 = performance.now();
        await s.run(feed);
        t.push(performance.now() - t0);
      }
      ms.set(how, median(t));
    }
    const row: Row = {
      dtype,
      tokens: N,
      explicitMs: ms.get('explicit')!,
      operatorMs: ms.get('operator')!,
      speedup: ms.get('explicit')! / ms.get('operator')!,
      nmse: nmse(out.get('operator')!, out.get('explicit')!),
    };
    rows.push(row);
    console.error(
      `${dtype} N=${N}: explicit ${row.explicitMs.toFixed(2)} ms, operator ${row.operatorMs.toFixed(2)} ms (${row.speedup.toFixed(2)}×), NMSE ${row.nmse.toExponential(1)}`,
    );
  }
  for (const s of sessions.values()) await s.release();
}

const report = {
  date: new Date().toISOString(),
  shape,
  layer: { hidden: C, experts: E, topK: moe.topK, expertFfn: F, sharedFfn: moe.sharedFfn },
  onnxruntime: ort.env.versions.common,
  cpu: os.cpus()[0]?.model,
  threads,
  reps,
  rows,
};
const md = [
  `# One ${shape} MoE layer in ONNX Runtime: explicit graph vs the fused MoE / QMoE operator — ${report.date}`,
  '',
  `${report.cpu}, ${threads} threads, onnxruntime ${report.onnxruntime}. Layer: hidden ${C}, ${E} experts of ${F}, top-${moe.topK}` +
    `${moe.sharedFfn ? `, shared expert ${moe.sharedFfn}` : ''}; random weights. Median of ${reps} runs. ` +
    'q8: explicit = DynamicQuantizeMatMul per expert (int8 weights and activations), operator = QMoE 8-bit (int8 weights, one ' +
    'scale per row, f32 arithmetic). NMSE = operator vs explicit at the same dtype. Command: `npm run bench:moe-op`.',
  '',
  '| dtype | tokens | explicit ms | operator ms | explicit / operator | NMSE |',
  '| --- | ---: | ---: | ---: | ---: | ---: |',
  ...rows.map(
    (r) =>
      `| ${r.dtype} | ${r.tokens} | ${r.explicitMs.toFixed(2)} | ${r.operatorMs.toFixed(2)} | ${r.speedup.toFixed(2)}× | ${r.nmse.toExponential(1)} |`,
  ),
].join('\n');
console.log(md);
mkdirSync(new URL('../../bench/results/', import.meta.url), { recursive: true });
writeFileSync(new URL(`../../bench/results/moe-op-${tag}.json`, import.meta.url), JSON.stringify(report, null, 2) + '\n');
writeFileSync(new URL(`../../bench/results/moe-op-${tag}.md`, import.meta.url), md + '\n');
