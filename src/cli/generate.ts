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
import { openModel, parseBackend } from '../platform/node-backend.js';
import { arGenerate, generate as generateIds, parseDecodeOptions, DECODE_DEFAULTS, type DecodeResult, type DecodeStep } from '../sampler/index.js';
import { parseDtype, parseIds } from './model-commands.js';
import { CanvasView } from './canvas-view.js';
import { flagHelp, flagOptions, flagValues } from './flags.js';

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

function generateHelp(isInfill: boolean): string {
  const usage = isInfill ? 'usage: dllm infill --prefix TEXT --suffix TEXT [--model NAME|DIR] [decoder flags]\n  fills the gap between prefix and suffix (a diffusion model)'
    : 'usage: dllm generate [PROMPT] [--model NAME|DIR] [decoder flags]\n  continues PROMPT; prints tokens/s, tokens per forward (TPF) and forward evaluations (NFE)';
  return flagHelp(usage, DECODE_DEFAULTS, [
    ['--model NAME|DIR', `a model in models/ or a folder (default ${DEFAULT_MODEL})`], ['--backend auto|ort|wasm|ref', 'compute backend (default auto)'],
    ['--dtype f32|f16|q8', 'weight storage (default f32)'], ['--cache none|prefix|dual', 'Fast-dLLM block cache (default none)'],
    ['--threads N', '0 = all cores'], ['--prompt-ids 1,2,3', 'the prompt as token ids'], ['--json', 'print one JSON line'], ['--show-steps', 'draw the canvas at every step'],
    ...(isInfill ? [['--prefix TEXT', 'the code before the gap'], ['--suffix TEXT', 'the code after it (required)']] as Array<[string, string]> : []),
    ['(CLI defaults)', 'decoder threshold, earlyStop true; the table below is the library\'s'],
  ]);
}

export async function infill(argv: string[]): Promise<number> {
  return generate(argv, true);
}

export async function generate(argv: string[], isInfill = false): Promise<number> {
  const options: Record<string, { type: 'string' | 'boolean'; default?: string }> = {
    model: { type: 'string', default: DEFAULT_MODEL }, 'prompt-ids': { type: 'string' }, cache: { type: 'string' },
    dtype: { type: 'string' }, threads: { type: 'string' }, json: { type: 'boolean' }, 'show-steps': { type: 'boolean' },
    backend: { type: 'string' },
  };
  Object.assign(options, flagOptions(DECODE_DEFAULTS));
  if (isInfill) { options['prefix'] = { type: 'string', default: '' }; options['suffix'] = { type: 'string' }; }
  options['help'] = { type: 'boolean' };
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: !isInfill, strict: true, options });
  if (values['help']) { console.log(generateHelp(isInfill)); return 0; }
  if (positionals.length > 1) throw new Error('give the prompt as one argument (quote it)');
  if (isInfill && values['suffix'] === undefined) throw new Error('dllm infill needs --suffix TEXT (the code after the gap); for a plain continuation use `dllm generate`');
  const flags = flagValues(values as Record<string, unknown>, DECODE_DEFAULTS);
  // the CLI's defaults: Fast-dLLM threshold decoding with early stop (the fast path users want); the
  // library's defaults stay the exact-parity ones (LLaDA generate.py)
  const decode = parseDecodeOptions({ decoder: 'threshold', earlyStop: true, ...(isInfill ? { infillMayEnd: true } : {}), ...flags });
  const cacheFlag = values['cache'] === undefined ? 'none' : String(values['cache']);
  if (!['none', 'prefix', 'dual'].includes(cacheFlag)) throw new Error(`--cache must be none, prefix or dual, got "${cacheFlag}"`);
  const cache = cacheFlag as CacheMode;
  const threadsFlag = values['threads'] === undefined ? 0 : Number(values['threads']);
  if (!Number.isInteger(threadsFlag) || threadsFlag < 0) throw new Error(`--threads must be a non-negative integer`);
  const dir = resolveModel(String(values['model']));
  const backend = parseBackend(values['backend'] as string | undefined);
  const m = await openModel(dir, { backend, dtype: parseDtype(values['dtype'] as string | undefined), threads: threadsFlag });
  try {
    if (!m.tokenizer && !values['prompt-ids']) throw new Error(`${dir} has no tokenizer.json; pass --prompt-ids`);
    const text0 = isInfill ? String(values['prefix']) : positionals[0] ?? '';
    const ids = values['prompt-ids'] ? parseIds(String(values['prompt-ids']), '--prompt-ids') : m.tokenizer!.encode(text0);
    const suffix = isInfill && m.tokenizer ? m.tokenizer.encode(String(values['suffix'])) : undefined;
    const sp = m.tokenizer?.specials;
    let gen: AsyncGenerator<DecodeStep, DecodeResult>;
    if (m.config.attention === 'causal') {
      if (isInfill) throw new Error('infill needs a diffusion model (a causal model cannot see the suffix)');
      const lm = new CausalLM(m.model, { eos: sp?.eos ?? null, eot: sp?.eot ?? null, pad: sp?.pad ?? null }, Math.min(m.config.maxPositions, ids.length + decode.genLength + 1));
      gen = arGenerate(lm, { prompt: ids }, decode);
    } else {
      if (sp?.mask == null) throw new Error(`${dir}: the tokenizer has no mask token, so it cannot be a diffusion model`);
      const lm = new DiffusionLM(m.model, { mask: sp.mask, eos: sp.eos, eot: sp.eot, pad: sp.pad }, cache);
      gen = generateIds(lm, { prompt: ids, ...(suffix ? { suffix } : {}) }, decode);
    }
    let shown = '';
    let r: IteratorResult<DecodeStep, DecodeResult>;
    const eos = sp?.eos ?? -1;
    const view = values['show-steps'] && m.tokenizer ? new CanvasView(process.stdout, m.tokenizer, sp?.mask ?? -1) : null;
    while (!(r = await gen.next()).done) {
      if (view) { view.render(r.value); continue; }
      if (values['json'] || !m.tokenizer) continue;
      const c = r.value.canvas;
      let end = 0;
      while (end < c.length && c[end] !== sp?.mask && c[end] !== eos && c[end] !== sp?.eot) end++;
      const text = m.tokenizer.decode(c.subarray(0, end));
      if (text.length > shown.length && text.startsWith(shown) && !text.endsWith('\uFFFD')) { process.stdout.write(text.slice(shown.length)); shown = text; }
    }
    const res = r.value;
    const text = m.tokenizer ? m.tokenizer.decode(res.ids) : '';
    const stats = { text, backend: m.backend, ids: Array.from(res.ids), finishReason: res.finishReason, nfe: res.nfe, tokensPerForward: +res.tokensPerForward.toFixed(3),
      elapsedMs: Math.round(res.elapsedMs), tokensPerSecond: +(res.ids.length / (res.elapsedMs / 1000)).toFixed(2) };
    if (values['json']) console.log(JSON.stringify(stats));
    else {
      if (!view && text.startsWith(shown)) process.stdout.write(text.slice(shown.length));
      if (!view) process.stdout.write('\n');
      console.error(`[${res.ids.length} tokens · ${stats.tokensPerSecond} tok/s · TPF ${stats.tokensPerForward} · NFE ${res.nfe} · ${stats.elapsedMs} ms · ${res.finishReason} · ${m.backend}]`);
    }
    return 0;
  } finally {
    m.dispose();
  }
}
