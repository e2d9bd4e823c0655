// dllm eval ppl --model NAME|DIR --data PATH [--windows 16] [--window-length 256] [--docs N|all] [--mc 8] [--mc-batch 8] [--seed 0]
// Held-out negative log-likelihood in nats/token and bits/byte. PATH is a `dllm data build` folder (its
// held-out files: manifest.json source + valPaths — never trained on) or a text file or folder of them.
// Documents are tokenized with the model's tokenizer and cut into windows of L + 1 tokens; each window scores
// its last L tokens; with --docs, whole documents are scored instead (every token, after the EOS separator
// the training streams put between documents), so models with different tokenizers score the same bytes
// (their vocabulary sizes compare). A causal model is scored exactly (−log p(x_i | x_<i), one forward), a diffusion model by LLaDA's
// Monte-Carlo ELBO bound (mc batches of mc-batch stratified rows; LLaDA used 128 samples, we default to 64).
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import {
  blockDiffusionNll,
  causalNll,
  diffusionNll,
  documentWindows,
  pplSummary,
  windows,
  type BlockDiffusionScorer,
} from '../eval/likelihood.js';
import { bdPositions, bdTargetRow } from '../model/block-diffusion.js';
import type { ModelConfig } from '../model/config.js';
import type { ForwardModel } from '../model/forward.js';
import { parseBackend } from '../platform/node-backend.js';
import { writeFileAtomic } from '../platform/node-files.js';
import { DecodeRng } from '../sampler/index.js';
import { DEFAULT_MODEL, resolveModel } from './generate.js';
import { modelName } from '../platform/node-generator.js';
import { EvalModel } from './eval-model.js';

function heldOutTexts(path: string): Array<{ name: string; text: string }> {
  const p = resolve(path);
  if (!existsSync(p)) throw new Error(`--data ${path} does not exist`);
  if (statSync(p).isFile()) return [{ name: p, text: readFileSync(p, 'utf8') }];
  const manifest = join(p, 'manifest.json');
  if (existsSync(manifest)) {
    const m = JSON.parse(readFileSync(manifest, 'utf8')) as { format?: string; source?: string; valPaths?: string[] };
    // `dllm data corpus`: the held-out packages' files, as text, in heldout.jsonl
    if (m.format === 'dllm-corpus') {
      return readFileSync(join(p, 'heldout.jsonl'), 'utf8')
        .split('\n')
        .filter((l) => l.trim())
        .map((l) => JSON.parse(l) as { path: string; text: string })
        .map((r) => ({ name: r.path, text: r.text }));
    }
    if (m.format !== 'dllm-data' || !m.source || !Array.isArray(m.valPaths))
      throw new Error(`${manifest} is not a dllm data manifest (format, source, valPaths)`);
    return m.valPaths.map((v) => ({ name: v, text: readFileSync(join(m.source!, v), 'utf8') }));
  }
  const out: Array<{ name: string; text: string }> = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const f = join(d, e.name);
      if (e.isDirectory()) walk(f);
      else out.push({ name: f, text: readFileSync(f, 'utf8') });
    }
  };
  walk(p);
  return out;
}

/** the flags of the command (usage.ts lists them) */
export const PPL_FLAGS = {
  model: { type: 'string', default: DEFAULT_MODEL },
  data: { type: 'string' },
  out: { type: 'string' },
  windows: { type: 'string', default: '16' },
  'window-length': { type: 'string', default: '256' },
  docs: { type: 'string' },
  mc: { type: 'string', default: '8' },
  'mc-batch': { type: 'string', default: '8' },
  seed: { type: 'string', default: '0' },
  threads: { type: 'string' },
  backend: { type: 'string' },
} as const;

export async function evalPpl(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: PPL_FLAGS,
  });
  if (!values.data) throw new Error('dllm eval ppl needs --data (a `dllm data build` folder or text files)');
  const n = (k: string, min: number) => {
    const v = Number(values[k as keyof typeof values]);
    if (!Number.isInteger(v) || v < min) throw new Error(`--${k} must be an integer ≥ ${min}`);
    return v;
  };
  const W = n('windows', 1),
    L = n('window-length', 2),
    mc = n('mc', 1),
    mcBatch = n('mc-batch', 1),
    seed = n('seed', 0);
  const docsMax = values.docs === undefined ? 0 : values.docs === 'all' ? Infinity : n('docs', 1);
  const threads = values.threads === undefined ? 0 : n('threads', 1);
  const dir = resolveModel(values.model!),
    name = modelName(dir);
  const model = await EvalModel.load(dir, name, { backend: parseBackend(values.backend), threads }, 'none');
  try {
    const texts = heldOutTexts(values.data);
    const docs = texts.map((d) => model.tok.encode(d.text));
    const eos = model.tok.specials.eos;
    if (docsMax > 0 && eos === null) throw new Error(`--docs needs the model's EOS id (the document separator); ${name} has none`);
    const ws = docsMax > 0 ? documentWindows(docs, eos!, L, docsMax) : windows(docs, L, W);
    if (ws.length === 0) throw new Error(`--data has no document of ${L + 1} tokens`);
    const utf8 = new TextEncoder();
    // --docs: the documents' own bytes (a window's decoded text may split a character between two windows)
    const docBytes = texts.slice(0, docsMax).reduce((sum, d) => sum + utf8.encode(d.text).length, 0);
    let scored = 0;
    const V = model.config.vocabSize,
      rng = new DecodeRng(seed);
    const bd = model.config.bdSize !== undefined ? blockDiffusionScorer(model.model, model.config, model.tok.specials.mask!) : null;
    const lm = model.kind === 'diffusion' && !bd ? model.lm.denoiser('none') : null;
    let nats = 0,
      bytes = 0;
    const t0 = performance.now();
    for (const w of ws) {
      nats += bd
        ? await blockDiffusionNll(bd, w, mc, mcBatch, rng)
        : lm
          ? await diffusionNll(lm, w.subarray(1), mc, mcBatch, rng)
          : causalNll(await model.model.forward({ tokens: w, B: 1, T: w.length }), w, V);
      if (docsMax === 0) bytes += utf8.encode(model.tok.decode(w.subarray(1))).length;
      scored += w.length - 1;
    }
    if (docsMax > 0) bytes = docBytes;
    const s = pplSummary(nats, ws.length, scored, bytes);
    const summary = {
      task: 'ppl',
      model: name,
      kind: model.kind,
      backend: model.backend,
      data: resolve(values.data),
      windowLength: L,
      ...(docsMax > 0 ? { documents: Math.min(docsMax, texts.length) } : {}),
      ...s,
      estimator: bd
        ? `block-diffusion MC NELBO bound (blocks of ${bd.bdSize} given the clean blocks before), ${mc}×${mcBatch} samples per window`
        : lm
          ? `LLaDA MC ELBO bound, ${mc}×${mcBatch} samples per window`
          : 'exact',
      seed,
      wallSeconds: (performance.now() - t0) / 1000,
      date: new Date().toISOString(),
    };
    const out = resolve(values.out ?? join('runs/eval', name, 'ppl'));
    mkdirSync(out, { recursive: true });
    await writeFileAtomic(join(out, 'summary.json'), JSON.stringify(summary, null, 2));
    console.log(
      `ppl ${name}: ${s.natsPerToken.toFixed(4)} nats/token, ${s.bitsPerByte.toFixed(4)} bits/byte over ${docsMax > 0 ? `${Math.min(docsMax, texts.length)} whole documents (${s.tokens} tokens, ${s.bytes} bytes)` : `${s.windows} windows of ${L} tokens`} (${summary.estimator}) → ${out}`,
    );
    return 0;
  } finally {
    model.dispose();
  }
}

/** a block-diffusion model as the bound's scorer: its wasm forward over [x_t ⊕ x_0] under the training mask */
export function blockDiffusionScorer(model: ForwardModel, config: ModelConfig, mask: number): BlockDiffusionScorer {
  const L = config.bdSize!;
  return {
    vocabSize: config.vocabSize,
    mask,
    bdSize: L,
    targetRow: (i, n) => bdTargetRow(i, n, L),
    logits: async (tokens, B, n, rows) =>
      model.forward({
        tokens,
        B,
        T: 2 * n,
        positions: bdPositions(B, n),
        mask: { kind: 'blockDiffusion', blockLength: L },
        logitRows: rows,
      }),
  };
}
