// npm run bench:8b-ort [-- --dtype q8|q4] — a random LLaDA-8B-shaped model at int8 (or 4-bit) on ONNX Runtime:
// the graph is written with its weights made on demand (random, std 0.02) straight into external data — q8:
// int8 with per-output-channel scales (DynamicQuantizeMatMul); q4: 4-bit blocks of 32 (MatMulNBits) — for every
// linear layer, f32 embedding and norms, so nothing of 8B f32 is ever held; then ORT loads it,
// and we time one full forward, Fast-dLLM's dual-cache steps, and a whole generation (threshold decoder,
// 32 new tokens after a 32-token prompt). A random model commits about one token per step (TPF ≈ 1), so
// tokens/s here is the per-step speed; a trained model's TPF multiplies it. Writes bench/results/llada8b-ort.{json,md}
// (q4: llada8b-ort-q4.{json,md}).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { ModelConfig } from '../src/model/config.js';
import { DiffusionLM } from '../src/model/diffusion-lm.js';
import { ortSession, OrtTransformer, ORT_VERSION, writeOnnxDir } from '../src/platform/node-ort.js';
import { drain, generate } from '../src/sampler/index.js';
import { LLADA_8B, LLADA_8B_IDS } from './llada8b-config.js';
import { randomSource } from './random-weights.js';

const CONFIG: ModelConfig = LLADA_8B;
const { values } = parseArgs({ options: { dtype: { type: 'string', default: 'q8' } }, strict: true });
const dtype = values.dtype as 'q8' | 'q4';
if (dtype !== 'q8' && dtype !== 'q4') throw new Error(`--dtype must be q8 or q4, got ${values.dtype}`);
const WEIGHTS = {
  q8: 'int8 with per-output-channel scales (DynamicQuantizeMatMul)',
  q4: '4-bit in blocks of 32 with f32 scales (MatMulNBits) where the kernels keep 4 bits (weights.ts storageOf), int8 elsewhere',
}[dtype];
const RESULT = dtype === 'q8' ? 'llada8b-ort' : 'llada8b-ort-q4';
const threads = Number(process.env['DLLM_THREADS'] ?? 0) || os.cpus().length;
const gb = (b: number) => (b / 2 ** 30).toFixed(2);
const rss = () => process.memoryUsage().rss;

const dir = mkdtempSync(join(os.tmpdir(), 'dllm-8b-ort-'));
const report: Record<string, unknown> = {
  date: new Date().toISOString(),
  threads,
  ort: ORT_VERSION,
  cpu: os.cpus()[0]?.model,
  dtype,
  config: CONFIG,
};
try {
  let t0 = performance.now();
  const w = writeOnnxDir(dir, CONFIG, randomSource(CONFIG), { dtype });
  report['writeSeconds'] = (performance.now() - t0) / 1000;
  report['weightsGiB'] = +gb(w.dataBytes);
  console.error(`wrote ${gb(w.dataBytes)} GiB in ${(report['writeSeconds'] as number).toFixed(0)} s`);
  const rss0 = rss();
  t0 = performance.now();
  const model = OrtTransformer.fromSession(CONFIG, await ortSession(w.model, threads));
  report['loadSeconds'] = (performance.now() - t0) / 1000;
  report['rssGiB'] = +gb(rss());
  report['rssBeforeLoadGiB'] = +gb(rss0);
  console.error(`loaded in ${(report['loadSeconds'] as number).toFixed(0)} s, RSS ${gb(rss())} GiB`);
  const T = 64,
    tokens = Int32Array.from({ length: T }, (_, i) => (i * 7919) % 120000);
  await model.forward({ tokens, B: 1, T }); // warm-up
  t0 = performance.now();
  await model.forward({ tokens, B: 1, T });
  report['forward64Ms'] = performance.now() - t0;
  console.error(`full forward 1×${T}: ${(report['forward64Ms'] as number).toFixed(0)} ms`);
  const sp = { ...LLADA_8B_IDS, eot: 126348, pad: LLADA_8B_IDS.eos }; // LLaDA's token ids (config/tokenizer, dllm-reference.md §1.2)
  const lm = new DiffusionLM(model, sp, 'dual');
  const prompt = tokens.slice(0, 32);
  t0 = performance.now();
  const { result, steps } = await drain(
    generate(lm, { prompt }, { decoder: 'threshold', threshold: 0.9, genLength: 32, blockLength: 32, earlyStop: false }),
  );
  const ms = performance.now() - t0;
  Object.assign(report, {
    genTokens: result.ids.length,
    genNfe: result.nfe,
    genSeconds: ms / 1000,
    tokensPerSecond: (result.ids.length * 1000) / ms,
    tpf: result.tokensPerForward,
    stepMs: ms / steps.length,
  });
  console.error(
    `generate 32 tokens (dual cache, threshold 0.9): ${(ms / 1000).toFixed(1)} s, ${(report['tokensPerSecond'] as number).toFixed(2)} tok/s, TPF ${result.tokensPerForward.toFixed(2)}, ${(ms / steps.length).toFixed(0)} ms/step`,
  );
  model.dispose();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
const md = [
  `# LLaDA-8B shape at ${dtype} on ONNX Runtime — ${report['date']}`,
  '',
  `${report['cpu']}, ${threads} threads, onnxruntime-node ${ORT_VERSION}. Random weights, ${WEIGHTS} for every linear layer, f32 embedding.`,
  '',
  '| weights GiB | write s | load s | RSS GiB | forward 1×64 ms | generate 32 tok s | tok/s | TPF | ms / step (dual cache) |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  `| ${report['weightsGiB']} | ${(report['writeSeconds'] as number).toFixed(0)} | ${(report['loadSeconds'] as number).toFixed(0)} | ${report['rssGiB']} | ${(report['forward64Ms'] as number).toFixed(0)} | ${(report['genSeconds'] as number).toFixed(1)} | ${(report['tokensPerSecond'] as number).toFixed(2)} | ${(report['tpf'] as number).toFixed(2)} | ${(report['stepMs'] as number).toFixed(0)} |`,
].join('\n');
console.log(md);
mkdirSync(new URL('../../bench/results/', import.meta.url), { recursive: true });
writeFileSync(new URL(`../../bench/results/${RESULT}.json`, import.meta.url), JSON.stringify(report, null, 2) + '\n');
writeFileSync(new URL(`../../bench/results/${RESULT}.md`, import.meta.url), md + '\n');
