// dllm data distill --data DIR --model M [--prompts 1000] [--prompt-tokens 64] [--gen-length 64] [--seed 1]
//                   [--train-file train.bin] [--threads N]
// Parallel-decoding distillation data (dParallel, Learn2PD, SDTT: round2-reference.md §3): prompts cut from DIR's
// training stream at seeded offsets, each continued by the model itself ONE token per step — the decode whose
// choices a parallel step should reproduce (an AR model greedily, a diffusion model with the fixed decoder at
// steps = gen length, a block-diffusion model in its blocks with the block cache) — written as prompt + completion
// + EOS into DIR/distill-train.bin (the corpus's dtype, a stream like train.bin) with DIR/distill.json (model,
// settings, counts). `dllm train --train-file distill-train.bin --mask-min 0.5 --init-from M …` then fine-tunes
// the model on its own outputs under heavier masking, so that its confidences sharpen.
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import cliProgress from 'cli-progress';
import { parseBackend } from '../platform/node-backend.js';
import { readJsonFile, writeFileAtomic } from '../platform/node-files.js';
import { loadModel, modelName } from '../platform/node-generator.js';
import { Rng } from '../train/rng.js';
import { resolveModel } from './generate.js';
import { readStream } from './train.js';

/** the flags of the command (usage.ts lists them) */
export const DISTILL_FLAGS = {
  data: { type: 'string' },
  model: { type: 'string' },
  prompts: { type: 'string', default: '1000' },
  'prompt-tokens': { type: 'string', default: '64' },
  'gen-length': { type: 'string', default: '64' },
  seed: { type: 'string', default: '1' },
  'train-file': { type: 'string', default: 'train.bin' },
  threads: { type: 'string' },
  backend: { type: 'string' },
  quiet: { type: 'boolean' },
} as const;

export async function dataDistill(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: DISTILL_FLAGS });
  if (!values.data || !values.model)
    throw new Error('usage: dllm data distill --data DIR --model M (DIR: a folder from `dllm data corpus`; M: the model to distil)');
  const int = (k: keyof typeof values, min: number): number => {
    const v = Number(values[k]);
    if (!Number.isInteger(v) || v < min) throw new Error(`--${k} must be an integer ≥ ${min}, got "${values[k]}"`);
    return v;
  };
  const N = int('prompts', 1),
    P = int('prompt-tokens', 1),
    G = int('gen-length', 1),
    seed = int('seed', 0),
    threads = values.threads === undefined ? 0 : int('threads', 1);
  const dir = values.data,
    manifest = await readJsonFile(join(dir, 'manifest.json'));
  const dtype = String(manifest['dtype']);
  const stream = (await readStream(join(dir, values['train-file']), dtype)).ids;
  if (stream.length < P + 1) throw new Error(`${values['train-file']}: ${stream.length} tokens, a prompt needs ${P}`);
  const modelDir = resolveModel(values.model);
  const lm = await loadModel(modelDir, { backend: parseBackend(values.backend), threads });
  const eos = lm.tokenizer.specials.eos;
  if (eos === null) throw new Error(`${modelDir}: the tokenizer has no EOS token (it separates the samples)`);
  // one token per step: what each kind of model decodes without parallelism (its defaults otherwise)
  const decode = lm.kind === 'causal' ? {} : { decoder: 'fixed' as const, steps: G };
  const rng = new Rng(seed);
  const out: number[] = [];
  let generated = 0,
    nfe = 0,
    stopped = 0;
  const bar = values.quiet
    ? null
    : new cliProgress.SingleBar({
        format: `distill ${modelName(modelDir)} [{bar}] {value}/{total} | {eta_formatted} left`,
        stream: process.stderr,
      });
  bar?.start(N, 0);
  const t0 = performance.now();
  try {
    for (let i = 0; i < N; i++) {
      const off = rng.int(stream.length - P);
      const prompt = Int32Array.from(stream.subarray(off, off + P));
      const c = await lm.complete(prompt, { ...decode, maxTokens: G });
      out.push(...prompt, ...c.ids, eos);
      generated += c.ids.length;
      nfe += c.nfe;
      if (c.finishReason === 'stop') stopped++;
      bar?.update(i + 1);
    }
  } finally {
    bar?.stop();
    lm.dispose();
  }
  const file = join(dir, 'distill-train.bin');
  const flat = dtype === 'uint32' ? new Uint32Array(out) : new Uint16Array(out);
  await writeFileAtomic(file, new Uint8Array(flat.buffer));
  const stats = {
    model: modelName(modelDir),
    kind: lm.kind,
    decode: { ...decode, genLength: G, temperature: 0, note: 'one token per step' },
    prompts: N,
    promptTokens: P,
    source: values['train-file'],
    seed,
    tokens: out.length,
    generatedTokens: generated,
    endedAtEos: stopped,
    tokensPerForward: nfe ? generated / nfe : 0,
    corpusSha256: manifest['corpusSha256'] ?? null,
    wallSeconds: (performance.now() - t0) / 1000,
  };
  await writeFileAtomic(join(dir, 'distill.json'), JSON.stringify(stats, null, 2) + '\n');
  console.error(`distill: ${N} prompts, ${generated} generated tokens (${stopped} ended at EOS) → ${file}`);
  return 0;
}
