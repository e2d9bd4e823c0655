// dllm generate [PROMPT] [--model NAME|DIR] [decoder flags] [--json]
// Loads a model folder (default: the shipped dllm-code-mini), decodes with the diffusion decoder (or AR for a
// causal model), streams the text as it settles, and prints speed the way Fast-dLLM reports it: generated
// tokens up to EOS / wall time, tokens per forward (TPF) and the number of forward evaluations (NFE).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CausalLM } from '../model/causal-lm.js';
import { DiffusionLM, type CacheMode } from '../model/diffusion-lm.js';
import { createKernels } from '../platform/node.js';
import { loadModelDir } from '../platform/node-model.js';
import { arDecode } from '../sampler/ar-decode.js';
import { lladaDecode, LLADA_DEFAULTS, type DecodeResult, type DecodeStep, type Selection } from '../sampler/llada-decode.js';
import { parseDtype, parseIds } from './model-commands.js';
import { CanvasView } from './canvas-view.js';

export const DEFAULT_MODEL = 'dllm-code-mini';
const MODELS_DIR = fileURLToPath(new URL('../../../models/', import.meta.url));

/** a bare name is a model shipped in models/; anything else is a folder path */
export function resolveModel(nameOrDir: string): string {
  const shipped = resolve(MODELS_DIR, nameOrDir);
  if (/^[\w.-]+$/.test(nameOrDir) && existsSync(resolve(shipped, 'config.json'))) return shipped;
  if (existsSync(nameOrDir)) return nameOrDir;
  if (nameOrDir === DEFAULT_MODEL) throw new Error(`no model yet: ${shipped} is missing (the default model is trained by \`dllm train --config configs/dllm-code-mini.json\`)`);
  throw new Error(`model "${nameOrDir}" is neither a folder nor a model in ${MODELS_DIR}`);
}

const num = (v: string | undefined, flag: string, fallback: number, check: (n: number) => boolean = () => true): number => {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || !check(n)) throw new Error(`${flag} has an invalid value "${v}"`);
  return n;
};
const oneOf = <T extends string>(v: string | undefined, flag: string, allowed: readonly T[], fallback: T): T => {
  if (v === undefined) return fallback;
  if (!allowed.includes(v as T)) throw new Error(`${flag} must be one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
};

export async function infill(argv: string[]): Promise<number> {
  return generate(argv, true);
}

export async function generate(argv: string[], isInfill = false): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv, allowPositionals: !isInfill, strict: true,
    options: {
      ...(isInfill ? { prefix: { type: 'string' as const, default: '' }, suffix: { type: 'string' as const, default: '' } } : {}),
      model: { type: 'string', default: DEFAULT_MODEL }, 'prompt-ids': { type: 'string' }, 'gen-length': { type: 'string' },
      steps: { type: 'string' }, 'block-length': { type: 'string' }, temperature: { type: 'string' }, remasking: { type: 'string' },
      decoder: { type: 'string' }, threshold: { type: 'string' }, factor: { type: 'string' }, cache: { type: 'string' },
      seed: { type: 'string' }, 'early-stop': { type: 'string' }, dtype: { type: 'string' }, threads: { type: 'string' },
      'top-k': { type: 'string' }, 'top-p': { type: 'string' }, json: { type: 'boolean' }, 'show-steps': { type: 'boolean' },
    },
  });
  if (positionals.length > 1) throw new Error('give the prompt as one argument (quote it)');
  const prompt = positionals[0] ?? '';
  const dir = resolveModel(values.model!);
  const genLength = num(values['gen-length'], '--gen-length', LLADA_DEFAULTS.genLength, (n) => Number.isInteger(n) && n > 0 && n <= 4096);
  const blockLength = num(values['block-length'], '--block-length', Math.min(32, genLength), (n) => Number.isInteger(n) && n > 0);
  const selection = oneOf<Selection>(values.decoder, '--decoder', ['fixed', 'threshold', 'factor'], 'threshold');
  const cache = oneOf<CacheMode>(values.cache, '--cache', ['none', 'prefix', 'dual'], 'none');
  const threads = num(values.threads, '--threads', 0, (n) => Number.isInteger(n) && n >= 0);
  const k = await createKernels(threads ? { threads } : {});
  try {
    const m = await loadModelDir(dir, k, { dtype: parseDtype(values.dtype) });
    if (!m.tokenizer && !values['prompt-ids']) throw new Error(`${dir} has no tokenizer.json; pass --prompt-ids`);
    const ids = values['prompt-ids'] ? parseIds(values['prompt-ids'], '--prompt-ids') : m.tokenizer!.encode(isInfill ? String(values['prefix']) : prompt);
    const suffix = isInfill && m.tokenizer ? m.tokenizer.encode(String(values['suffix'])) : undefined;
    if (isInfill && m.config.attention === 'causal') throw new Error('infill needs a diffusion model (a causal model cannot see the suffix)');
    const sp = m.tokenizer?.specials;
    const common = { seed: num(values.seed, '--seed', 0, Number.isInteger), temperature: num(values.temperature, '--temperature', 0, (n) => n >= 0) };
    let gen: AsyncGenerator<DecodeStep, DecodeResult>;
    if (m.config.attention === 'causal') {
      const lm = new CausalLM(m.model, { eos: sp?.eos ?? null, eot: sp?.eot ?? null, pad: sp?.pad ?? null }, Math.min(m.config.maxPositions, ids.length + genLength + 1));
      gen = arDecode(lm, ids, { ...common, maxTokens: genLength, topK: num(values['top-k'], '--top-k', 0, (n) => Number.isInteger(n) && n >= 0), topP: num(values['top-p'], '--top-p', 1, (n) => n > 0 && n <= 1) });
    } else {
      if (sp?.mask == null) throw new Error(`${dir}: the tokenizer has no mask token, so it cannot be a diffusion model`);
      const lm = new DiffusionLM(m.model, { mask: sp.mask, eos: sp.eos, eot: sp.eot, pad: sp.pad }, cache);
      gen = lladaDecode(lm, suffix ? { prefix: ids, suffix } : ids, {
        ...common, genLength, blockLength, selection,
        steps: num(values.steps, '--steps', genLength, (n) => Number.isInteger(n) && n > 0),
        remasking: oneOf(values.remasking, '--remasking', ['low_confidence', 'random'] as const, 'low_confidence'),
        threshold: num(values.threshold, '--threshold', LLADA_DEFAULTS.threshold, (n) => n > 0 && n <= 1),
        factor: num(values.factor, '--factor', LLADA_DEFAULTS.factor, (n) => n > 0),
        earlyStop: oneOf(values['early-stop'], '--early-stop', ['true', 'false'] as const, 'true') === 'true',
      });
    }
    let shown = '';
    let r: IteratorResult<DecodeStep, DecodeResult>;
    const eos = sp?.eos ?? -1;
    const view = values['show-steps'] && m.tokenizer ? new CanvasView(process.stdout, m.tokenizer, sp?.mask ?? -1) : null;
    if (view) shown = '\0'; // the view draws the canvas; the settled stream is off
    while (!(r = await gen.next()).done) {
      if (view) { view.render(r.value); continue; }
      if (values.json || !m.tokenizer) continue;
      const c = r.value.canvas;
      let end = 0;
      while (end < c.length && c[end] !== sp?.mask && c[end] !== eos) end++;
      const text = m.tokenizer.decode(c.subarray(0, end));
      if (text.length > shown.length && text.startsWith(shown) && !text.endsWith('\uFFFD')) { process.stdout.write(text.slice(shown.length)); shown = text; }
    }
    const res = r.value;
    const text = m.tokenizer ? m.tokenizer.decode(res.ids) : '';
    const stats = { text, ids: Array.from(res.ids), finishReason: res.finishReason, nfe: res.nfe, tokensPerForward: +res.tokensPerForward.toFixed(3),
      elapsedMs: Math.round(res.elapsedMs), tokensPerSecond: +(res.ids.length / (res.elapsedMs / 1000)).toFixed(2) };
    if (values.json) console.log(JSON.stringify(stats));
    else {
      if (!view && text.startsWith(shown)) process.stdout.write(text.slice(shown.length));
      process.stdout.write(view ? '' : '\n');
      console.error(`[${res.ids.length} tokens · ${stats.tokensPerSecond} tok/s · TPF ${stats.tokensPerForward} · NFE ${res.nfe} · ${stats.elapsedMs} ms · ${res.finishReason}]`);
    }
    m.model.dispose();
    return 0;
  } finally {
    k.dispose();
  }
}
