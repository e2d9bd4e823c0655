// npm run bench:decode — generation speed of the default diffusion model across decoders and caches, beside
// its AR twin, in one run: tokens to EOS / wall time, tokens per forward (TPF), NFE, time to the first settled
// token. Writes bench/results/decode.{json,md}. Not a test: it measures (quality is the eval's job).
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { CausalLM } from '../src/model/causal-lm.js';
import { DiffusionLM, type CacheMode } from '../src/model/diffusion-lm.js';
import { createKernels } from '../src/platform/node.js';
import { loadModelDir } from '../src/platform/node-model.js';
import { arDecode } from '../src/sampler/ar-decode.js';
import { lladaDecode, type DecodeResult, type DecodeStep, type Selection } from '../src/sampler/llada-decode.js';
import { resolveModel } from '../src/cli/generate.js';

const PROMPTS = ['def fibonacci(n):\n', 'import os\nimport sys\n\n', 'class Stack:\n    def __init__(self):\n', 'def read_json(path):\n', 'for i in range(10):\n'];
const GEN = 64, BLOCK = 32;

interface Row { decoder: string; cache: string; tokens: number; seconds: number; tokensPerSecond: number; tpf: number; nfe: number; firstSettledMs: number; }

async function measure(gen: AsyncGenerator<DecodeStep, DecodeResult>, mask: number | null): Promise<{ res: DecodeResult; firstMs: number }> {
  const t0 = performance.now();
  let firstMs = NaN, r;
  while (!(r = await gen.next()).done) if (Number.isNaN(firstMs) && r.value.canvas[0] !== mask) firstMs = performance.now() - t0;
  return { res: r.value, firstMs };
}

const threads = Number(process.env['DLLM_THREADS'] ?? 0);
const k = await createKernels(threads ? { threads } : {});
const rows: Row[] = [];
const diff = await loadModelDir(resolveModel('dllm-code-mini'), k);
const tok = diff.tokenizer!, sp = tok.specials;
const settings: [Selection, CacheMode, Record<string, number>][] = [
  ['fixed', 'none', { steps: GEN }], ['fixed', 'none', { steps: GEN / 2 }], ['threshold', 'none', { threshold: 0.9 }],
  ['threshold', 'prefix', { threshold: 0.9 }], ['threshold', 'dual', { threshold: 0.9 }], ['factor', 'dual', { factor: 1 }],
  ['threshold', 'dual', { threshold: 0.7 }],
];
for (const [selection, cache, extra] of settings) {
  let tokens = 0, ms = 0, nfe = 0, first = 0;
  for (const p of PROMPTS) {
    const lm = new DiffusionLM(diff.model, { mask: sp.mask!, eos: sp.eos, eot: sp.eot, pad: sp.pad }, cache);
    const { res, firstMs } = await measure(lladaDecode(lm, tok.encode(p), { genLength: GEN, blockLength: BLOCK, selection, earlyStop: true, steps: GEN, ...extra }), sp.mask);
    lm.reset();
    tokens += res.ids.length; ms += res.elapsedMs; nfe += res.nfe; first += firstMs;
  }
  const label = `${selection}${extra['steps'] ? ` steps=${extra['steps']}` : extra['threshold'] ? ` τ=${extra['threshold']}` : extra['factor'] ? ` f=${extra['factor']}` : ''}`;
  rows.push({ decoder: label, cache, tokens, seconds: ms / 1000, tokensPerSecond: tokens / (ms / 1000), tpf: tokens / nfe, nfe, firstSettledMs: first / PROMPTS.length });
}
diff.model.dispose();
const ar = await loadModelDir(resolveModel('dllm-code-mini-ar'), k);
{
  let tokens = 0, ms = 0, nfe = 0, first = 0;
  for (const p of PROMPTS) {
    const lm = new CausalLM(ar.model, { eos: sp.eos, eot: sp.eot, pad: sp.pad }, 256);
    const { res, firstMs } = await measure(arDecode(lm, ar.tokenizer!.encode(p), { maxTokens: GEN }), null);
    tokens += res.ids.length; ms += res.elapsedMs; nfe += res.nfe; first += firstMs;
  }
  rows.push({ decoder: 'AR greedy (twin)', cache: 'kv', tokens, seconds: ms / 1000, tokensPerSecond: tokens / (ms / 1000), tpf: tokens / nfe, nfe, firstSettledMs: first / PROMPTS.length });
}
ar.model.dispose();
const md = [
  `# Decode benchmark — ${new Date().toISOString()}`, '',
  `Node ${process.version}, ${os.cpus()[0]?.model}, ${k.name}, ${k.threads} threads. ${PROMPTS.length} code prompts, ${GEN} new tokens, blocks of ${BLOCK}, temperature 0, early stop at EOS.`,
  'Speed as Fast-dLLM reports it: generated tokens up to EOS / wall time; TPF = tokens / NFE.', '',
  '| decoder | cache | tokens | tok/s | TPF | NFE | first settled token (ms) |', '| --- | --- | --- | --- | --- | --- | --- |',
  ...rows.map((r) => `| ${r.decoder} | ${r.cache} | ${r.tokens} | ${r.tokensPerSecond.toFixed(1)} | ${r.tpf.toFixed(2)} | ${r.nfe} | ${r.firstSettledMs.toFixed(0)} |`),
].join('\n');
console.log(md);
mkdirSync(new URL('../../bench/results/', import.meta.url), { recursive: true });
writeFileSync(new URL('../../bench/results/decode.json', import.meta.url), JSON.stringify({ date: new Date().toISOString(), threads: k.threads, rows }, null, 2) + '\n');
writeFileSync(new URL('../../bench/results/decode.md', import.meta.url), md + '\n');
k.dispose();
