// npm run bench:serve — the server under load with the shipped code model: 32 concurrent streaming
// requests over loopback, one at a time (batchSize 1) and continuously batched, without a cache and with
// Fast-dLLM's dual cache, same requests, same run. Aggregate tokens/s (generated tokens up to EOS / wall
// time), latency and time to first byte. Writes bench/results/serve.{json,md}. Not a test: it measures.
import { mkdirSync, writeFileSync } from 'node:fs';
import { resolveModel } from '../src/platform/node-generator.js';
import { startServer } from '../src/serve/index.js';
import { streamLoad, type LoadResult } from './serve-load.js';

const N = 32,
  GEN = 64;
const PROMPTS = [
  'def fibonacci(n):\n',
  'import os\nimport sys\n\n',
  'class Stack:\n    def __init__(self):\n',
  'def read_json(path):\n',
  'for i in range(10):\n',
  'def main():\n',
];
const threads = Number(process.env['DLLM_THREADS'] ?? 0);
const settings: Array<{ batchSize: number; cache: 'none' | 'dual'; decoder: string }> = [];
for (const cache of ['none', 'dual'] as const)
  for (const decoder of ['fixed', 'threshold']) for (const batchSize of [1, 8, 32]) settings.push({ batchSize, cache, decoder });

const rows: Array<{ batchSize: number; cache: string; decoder: string } & LoadResult> = [];
for (const s of settings) {
  const server = await startServer({
    modelDir: resolveModel('dllm-code-mini'),
    config: { port: 0, batchSize: s.batchSize, cache: s.cache, queueSize: N },
    ...(threads ? { threads } : {}),
  });
  try {
    const bodies = Array.from({ length: N }, (_, i) => ({
      prompt: PROMPTS[i % PROMPTS.length],
      max_tokens: GEN,
      blockLength: 32,
      steps: GEN,
      temperature: 0,
      decoder: s.decoder,
      seed: i,
    }));
    const r = await streamLoad(server.url, bodies);
    rows.push({ ...s, ...r });
    console.error(`${s.decoder} cache ${s.cache} batch ${s.batchSize}: ${r.tokensPerSecond} tok/s, ${r.errors.length} errors`);
  } finally {
    await server.close();
  }
}
const base = (r: (typeof rows)[number]) =>
  rows.find((x) => x.cache === r.cache && x.decoder === r.decoder && x.batchSize === 1)!.tokensPerSecond;
const md = [
  `32 concurrent streaming /v1/completions (max_tokens ${GEN}, block 32, early stop, temperature 0), dllm-code-mini, ${threads || 'all'} threads.`,
  '',
  '| decoder | cache | batchSize | errors | tokens | wall s | aggregate tok/s | × batchSize 1 | p50 latency ms | p90 latency ms | p50 first byte ms |',
  '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map(
    (r) =>
      `| ${r.decoder} | ${r.cache} | ${r.batchSize} | ${r.errors.length} | ${r.tokens} | ${(r.wallMs / 1000).toFixed(2)} | ${r.tokensPerSecond} | ${(r.tokensPerSecond / base(r)).toFixed(2)} | ${r.latencyMs.p50} | ${r.latencyMs.p90} | ${r.firstByteMs.p50} |`,
  ),
].join('\n');
console.log(md);
mkdirSync(new URL('../../bench/results/', import.meta.url), { recursive: true });
writeFileSync(
  new URL('../../bench/results/serve.json', import.meta.url),
  JSON.stringify({ date: new Date().toISOString(), rows }, null, 2) + '\n',
);
writeFileSync(new URL('../../bench/results/serve.md', import.meta.url), md + '\n');
