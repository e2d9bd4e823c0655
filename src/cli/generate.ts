// dllm generate [PROMPT] [--model NAME|DIR] [decoder flags] [--json]
// Loads a model through the library's text generator (loadModel: the shipped dllm-code-mini by default), decodes
// with the diffusion decoder (or AR for a causal model), streams the text as it settles, and prints speed the way Fast-dLLM reports it: generated
// tokens up to EOS / wall time, tokens per forward (TPF) and the number of forward evaluations (NFE).
import { STRUCTURED_MODES, type StructuredMode } from '../text/structured-plan.js';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { TEXT_DEFAULTS, type Completion, type TextOptions, type TextStep } from '../text/generator.js';
import { CACHE_HELP, CACHE_MODES, type CacheMode } from '../model/diffusion-lm.js';
import { parseBackend } from '../platform/node-backend.js';
import { DEFAULT_MODEL, loadModel, modelName, resolveModel } from '../platform/node-generator.js';
import { DECODE_DEFAULTS, decoderHelp } from '../sampler/index.js';
import { parseDtype, parseIds } from './model-commands.js';
import { CanvasView } from './canvas-view.js';
import { autoBlockLength } from '../platform/node-roofline.js';
import { flagHelp, flagOptions, flagValues, parseBoolFlag } from './flags.js';

export { DEFAULT_MODEL, resolveModel } from '../platform/node-generator.js';

function readJson(file: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`--json-schema ${file}: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error(`--json-schema ${file}: a JSON Schema is an object`);
  return v as Record<string, unknown>;
}

function generateHelp(isInfill: boolean): string {
  const usage = isInfill
    ? 'usage: dllm infill --prefix TEXT --suffix TEXT [--model NAME|DIR] [decoder flags]\n  fills the gap between prefix and suffix (a diffusion model)'
    : 'usage: dllm generate [PROMPT] [--model NAME|DIR] [decoder flags]\n  continues PROMPT; prints tokens/s, tokens per forward (TPF) and forward evaluations (NFE)';
  return (
    flagHelp(usage, DECODE_DEFAULTS, [
      ['--model NAME|DIR', `a model in models/ or a folder (default ${DEFAULT_MODEL})`],
      ['--backend auto|ort|wasm|ref', 'compute backend (default auto)'],
      ['--dtype f32|f16|q8|q4', 'weight storage (default f32; q4: 4-bit blocks of 32, wasm/ref only)'],
      ['--block-length auto', 'the block length `dllm bench --roofline` found fastest here'],
      ['--cache MODE', `${CACHE_HELP} (default: block for a block-diffusion model, else none)`],
      ['--threads N', '0 = all cores'],
      ['--prompt-ids 1,2,3', 'the prompt as token ids'],
      ['--json-schema FILE', 'answer as JSON following this schema (pinned on the canvas, else masked token by token)'],
      ['--structured auto|pinned|masked', 'how --json-schema is decoded (default auto: pinned when the canvas can hold it)'],
      ['--heal-prompt true|false', 'back up a trailing whitespace token and let the model regrow it (default true; text/heal.ts)'],
      ['--json', 'print one JSON line'],
      ['--show-steps', 'draw the canvas at every step'],
      ...(isInfill
        ? ([
            ['--prefix TEXT', 'the code before the gap'],
            ['--suffix TEXT', 'the code after it (required)'],
          ] as Array<[string, string]>)
        : []),
      ['(defaults)', "TEXT_DEFAULTS: decoder threshold, earlyStop true; below, the sampler's own"],
    ]) + `\n\ndecoders (--decoder NAME):\n${decoderHelp()}`
  );
}

export async function infill(argv: string[]): Promise<number> {
  return generate(argv, true);
}

/** the flags of generate (and of infill: --prefix, --suffix, no positional prompt); usage.ts lists them */
export function generateFlags(isInfill: boolean): Record<string, { type: 'string' | 'boolean'; default?: string }> {
  const options: Record<string, { type: 'string' | 'boolean'; default?: string }> = {
    model: { type: 'string', default: DEFAULT_MODEL },
    'prompt-ids': { type: 'string' },
    cache: { type: 'string' },
    dtype: { type: 'string' },
    threads: { type: 'string' },
    json: { type: 'boolean' },
    'show-steps': { type: 'boolean' },
    backend: { type: 'string' },
    'json-schema': { type: 'string' },
    structured: { type: 'string' },
    'heal-prompt': { type: 'string' },
  };
  Object.assign(options, flagOptions(DECODE_DEFAULTS));
  if (isInfill) {
    options['prefix'] = { type: 'string', default: '' };
    options['suffix'] = { type: 'string' };
  }
  options['help'] = { type: 'boolean' };
  return options;
}

export async function generate(argv: string[], isInfill = false): Promise<number> {
  const options = generateFlags(isInfill);
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: !isInfill, strict: true, options });
  if (values['help']) {
    console.log(generateHelp(isInfill));
    return 0;
  }
  if (positionals.length > 1) throw new Error('give the prompt as one argument (quote it)');
  if (isInfill && values['suffix'] === undefined)
    throw new Error('dllm infill needs --suffix TEXT (the code after the gap); for a plain continuation use `dllm generate`');
  // --block-length auto: the block length with the most expected tokens/s on this machine (dllm bench --roofline)
  const autoBlock = values['block-length'] === 'auto';
  if (autoBlock) delete values['block-length'];
  const flags = flagValues(values as Record<string, unknown>, DECODE_DEFAULTS);
  const { genLength, ...decodeFlags } = flags as { genLength?: number };
  const cacheFlag = values['cache'] === undefined ? undefined : String(values['cache']); // undefined: the model's default
  if (cacheFlag !== undefined && !(CACHE_MODES as readonly string[]).includes(cacheFlag))
    throw new Error(`--cache must be ${CACHE_MODES.join(', ')}, got "${cacheFlag}"`);
  const threadsFlag = values['threads'] === undefined ? 0 : Number(values['threads']);
  if (!Number.isInteger(threadsFlag) || threadsFlag < 0) throw new Error(`--threads must be a non-negative integer`);
  const backend = parseBackend(values['backend'] as string | undefined);
  const lm = await loadModel(String(values['model']), {
    backend,
    dtype: parseDtype(values['dtype'] as string | undefined),
    threads: threadsFlag,
    ...(cacheFlag !== undefined ? { cache: cacheFlag as CacheMode } : {}),
  });
  try {
    // the text options: TEXT_DEFAULTS (threshold decoding, early stop), then the flags; checked before loading work
    const schemaFile = values['json-schema'] as string | undefined;
    if (values['structured'] !== undefined && schemaFile === undefined) throw new Error('--structured needs --json-schema FILE');
    const jsonSchema = schemaFile === undefined ? undefined : readJson(schemaFile);
    const opts: TextOptions = {
      ...decodeFlags,
      ...(genLength !== undefined ? { maxTokens: genLength } : {}),
      ...(jsonSchema ? { jsonSchema } : {}),
      ...(values['structured'] !== undefined ? { structured: parseStructured(String(values['structured'])) } : {}),
      ...(values['heal-prompt'] !== undefined ? { healPrompt: parseBoolFlag('heal-prompt', String(values['heal-prompt'])) } : {}),
    };
    if (autoBlock && lm.kind === 'diffusion') {
      const auto = autoBlockLength(
        modelName(resolveModel(String(values['model']))),
        lm.backend,
        threadsFlag,
        genLength ?? TEXT_DEFAULTS.maxTokens,
      );
      if (auto.blockLength !== null) opts.blockLength = auto.blockLength;
      console.error(
        auto.blockLength !== null
          ? `[--block-length auto → ${auto.blockLength}: ${auto.why}]`
          : `[--block-length auto: ${auto.why}; using the default]`,
      );
    }
    lm.options(opts, isInfill);
    if (isInfill && lm.kind === 'causal' && !lm.infills)
      throw new Error('infill needs a diffusion model (a causal model without FIM tokens cannot see the suffix)');
    const tok = lm.tokenizer,
      mask = tok.specials.mask ?? -1;
    const prompt = values['prompt-ids']
      ? parseIds(String(values['prompt-ids']), '--prompt-ids')
      : isInfill
        ? String(values['prefix'])
        : (positionals[0] ?? '');
    const gen = lm.stream(prompt, opts, isInfill ? String(values['suffix']) : null);
    const view = values['show-steps'] ? new CanvasView(process.stdout, tok, mask) : null;
    let shown = '';
    let r: IteratorResult<TextStep, Completion>;
    while (!(r = await gen.next()).done) {
      if (view) {
        view.render(r.value.raw);
        continue;
      }
      if (values['json']) continue;
      const text = r.value.text;
      if (text.length > shown.length && text.startsWith(shown)) {
        process.stdout.write(text.slice(shown.length));
        shown = text;
      }
    }
    const res = r.value;
    const tokensPerSecond = +(res.ids.length / (res.timings.totalMs / 1000)).toFixed(2);
    const stats = {
      text: res.text,
      backend: lm.backend,
      ids: Array.from(res.ids),
      finishReason: res.finishReason,
      nfe: res.nfe,
      tokensPerForward: +res.tokensPerForward.toFixed(3),
      elapsedMs: Math.round(res.timings.totalMs),
      tokensPerSecond,
    };
    if (values['json']) console.log(JSON.stringify(stats));
    else {
      if (!view && res.text.startsWith(shown)) process.stdout.write(res.text.slice(shown.length));
      if (!view) process.stdout.write('\n');
      console.error(
        `[${res.ids.length} tokens · ${stats.tokensPerSecond} tok/s · TPF ${stats.tokensPerForward} · NFE ${res.nfe} · ${stats.elapsedMs} ms · ${res.finishReason} · ${lm.backend}]`,
      );
    }
    return 0;
  } finally {
    lm.dispose();
  }
}

function parseStructured(v: string): StructuredMode {
  if (!(STRUCTURED_MODES as readonly string[]).includes(v))
    throw new Error(`--structured must be one of ${STRUCTURED_MODES.join(', ')}, got "${v}"`);
  return v as StructuredMode;
}
