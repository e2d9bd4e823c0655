// npm run bench:structured — structured decoding measured (issue 19.4): for each task of
// bench/structured/tasks.json (a schema and a code prompt) and each model (the shipped twins, the tiny
// fixtures), the answer decoded three ways — pinned on the canvas (diffusion only), masked token by token,
// and free (no constraint; the JSON is looked for in the text) — at temperature 0 with the library defaults.
// Reports validity (Ajv), tokens to EOS, NFE, tokens per forward, tokens/s, and for pinned decoding the share
// of tokens that were pinned (never computed by the model). Writes bench/results/structured.{json,md}.
// Not a test: it measures. DLLM_THREADS sets the threads (default: all cores); DLLM_MODELS=a,b the models.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { loadModel } from '../src/platform/node-generator.js';
import { buildSkeleton } from '../src/text/structured.js';
import type { StructuredMode } from '../src/text/structured-plan.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TASKS = JSON.parse(readFileSync(`${ROOT}bench/structured/tasks.json`, 'utf8')) as {
  tasks: Array<{ name: string; prompt: string; schema: Record<string, unknown> }>;
};
const MODELS = process.env['DLLM_MODELS']?.split(',') ?? [
  'dllm-code-mini',
  'dllm-code-mini-ar',
  `${ROOT}test/fixtures/llada`,
  `${ROOT}test/fixtures/llama`,
];
/** room for the longest task's JSON at about one token per character on the fixtures */
const MAX_TOKENS = 96;
const threads = Number(process.env['DLLM_THREADS'] ?? 0) || os.cpus().length;

type Mode = Exclude<StructuredMode, 'auto'> | 'free';
interface Row {
  model: string;
  mode: Mode;
  valid: number;
  runs: number;
  tokens: number;
  pinned: number;
  nfe: number;
  ms: number;
}

/** the first balanced JSON value in free text, parsed (undefined: none) */
function firstJson(text: string): unknown {
  const start = text.search(/[[{]/);
  if (start < 0) return undefined;
  let depth = 0,
    inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{' || c === '[') depth++;
    else if ((c === '}' || c === ']') && --depth === 0) {
      try {
        return JSON.parse(text.slice(start, i + 1));
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

const ajv = new Ajv({ strict: false });
const rows: Row[] = [];
for (const model of MODELS) {
  const lm = await loadModel(model, { threads });
  const name = model.startsWith(ROOT) ? model.slice(ROOT.length) : model;
  const eos = lm.tokenizer.specials.eos;
  const modes: Mode[] = lm.kind === 'diffusion' ? ['pinned', 'masked', 'free'] : ['masked', 'free'];
  try {
    for (const mode of modes) {
      const row: Row = { model: name, mode, valid: 0, runs: 0, tokens: 0, pinned: 0, nfe: 0, ms: 0 };
      for (const t of TASKS.tasks) {
        const validate = ajv.compile(t.schema);
        const room = lm.config.maxPositions - lm.tokenizer.encode(t.prompt).length - 1; // the fixtures' context is 128
        const r = await lm.complete(t.prompt, {
          maxTokens: Math.min(MAX_TOKENS, room),
          temperature: 0,
          ...(mode === 'free' ? {} : { jsonSchema: t.schema, structured: mode }),
        });
        const value = mode === 'free' ? firstJson(r.text) : JSON.parse(r.text);
        const tokens = mode === 'pinned' ? r.ids.filter((v) => v !== eos).length : r.ids.length; // empty cells are EOS
        row.runs++;
        row.valid += value !== undefined && validate(value) ? 1 : 0;
        row.tokens += tokens;
        row.nfe += r.nfe;
        row.ms += r.timings.totalMs;
        if (mode === 'pinned') row.pinned += buildSkeleton(t.schema, lm.tokenizer).pinned.reduce((n, p) => n + p.ids.length, 0);
      }
      rows.push(row);
      console.error(`${name} ${mode}: ${row.valid}/${row.runs} valid, TPF ${(row.tokens / row.nfe).toFixed(2)}`);
    }
  } finally {
    lm.dispose();
  }
}

const f = (x: number, d = 2) => x.toFixed(d);
const md = [
  '# Structured decoding: pinned canvas vs token masking vs free text',
  '',
  `\`npm run bench:structured\` — ${TASKS.tasks.length} tasks (bench/structured/tasks.json), temperature 0, maxTokens ${MAX_TOKENS}, ${threads} threads, ${new Date().toISOString().slice(0, 10)}.`,
  'Tokens: to EOS (pinned: the filled skeleton, pinned tokens included, empty cells not). TPF: tokens per forward;',
  'model TPF: the tokens the model decided (not pinned) per forward. Free: the first JSON value in the text, if any.',
  '',
  '| model | mode | valid | tokens | NFE | TPF | model TPF | tokens/s | pinned share |',
  '|---|---|---|---|---|---|---|---|---|',
  ...rows.map(
    (r) =>
      `| ${r.model} | ${r.mode} | ${r.valid}/${r.runs} | ${r.tokens} | ${r.nfe} | ${f(r.tokens / r.nfe)} | ${f((r.tokens - r.pinned) / r.nfe)} | ${f(r.tokens / (r.ms / 1000), 1)} | ${r.mode === 'pinned' ? `${f((100 * r.pinned) / r.tokens, 0)} %` : '–'} |`,
  ),
  '',
].join('\n');
mkdirSync(`${ROOT}bench/results`, { recursive: true });
writeFileSync(`${ROOT}bench/results/structured.json`, JSON.stringify({ threads, maxTokens: MAX_TOKENS, rows }, null, 2) + '\n');
writeFileSync(`${ROOT}bench/results/structured.md`, md);
console.log(md);
