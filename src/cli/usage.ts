// `dllm --help`: the usage text made from each command's own flag table (the tables parseArgs reads), so
// a flag a command accepts is listed and a listed flag is accepted. Values are shown as a hint (the choices,
// or what kind of value) or the flag's default; flags that come one per key of a config table (decoder,
// server, training) are summed up by the table's name, their command's --help lists them with defaults.
import { kebab } from './flags.js';

export type FlagTable = Readonly<
  Record<string, { readonly type: 'string' | 'boolean'; readonly default?: unknown; readonly multiple?: boolean }>
>;

export interface UsageEntry {
  /** the command and its positional arguments, e.g. "generate [PROMPT]" */
  usage: string;
  flags: FlagTable;
  summary: string;
  /** config tables whose keys are flags of this command, shown as one "[--<label> key value …]" */
  configs?: ReadonlyArray<{ label: string; defaults: object }>;
  /** hints for this command's flags where the shared ones do not fit */
  hints?: Readonly<Record<string, string>>;
}

/** what a string flag takes, where the default alone would not say */
export const HINTS: Readonly<Record<string, string>> = {
  model: 'NAME|DIR',
  twin: 'NAME|DIR',
  backend: 'auto|ort|wasm|ref',
  dtype: 'f32|f16|q8|q4',
  cache: 'none|prefix|dual|block',
  threads: 'N',
  limit: 'N',
  out: 'DIR',
  data: 'DIR',
  docs: 'FILE',
  config: 'FILE.json',
  checkpoint: 'DIR',
  input: 'DIR',
  packages: 'FILE',
  tokenizer: 'FILE',
  system: 'TEXT',
  prefix: 'TEXT',
  suffix: 'TEXT',
  ids: '1,2,3',
  'prompt-ids': '1,2,3',
  'json-schema': 'FILE',
  structured: 'auto|pinned|masked',
  split: 'single-line|multi-line|random-span',
  'strip-prompt': 'true|false',
  attention: 'causal|bidirectional|block-causal',
  lang: 'python|node',
  revision: 'main',
};

const WIDTH = 118,
  SUMMARY_AT = 41;

function flagText(name: string, f: FlagTable[string], hints: Readonly<Record<string, string>>): string {
  if (f.type === 'boolean') return `[--${name}]`;
  const value = hints[name] ?? HINTS[name] ?? (f.default !== undefined && f.default !== '' ? String(f.default) : 'X');
  return `[--${name} ${value}${f.multiple ? ' …' : ''}]`;
}

/** one command: its flags wrapped under "dllm <usage>", then the summary */
function entryText(e: UsageEntry): string[] {
  const fromConfigs = new Set((e.configs ?? []).flatMap((c) => Object.keys(c.defaults).map(kebab)));
  const parts = [
    ...Object.entries(e.flags)
      .filter(([name]) => name !== 'help' && !fromConfigs.has(name) && !new RegExp(`--${name}\\b`).test(e.usage))
      .map(([name, f]) => flagText(name, f, e.hints ?? {})),
    ...(e.configs ?? []).map((c) => `[--<${c.label} key> value …]`),
  ];
  const head = `  dllm ${e.usage}`,
    indent = ' '.repeat(Math.min(head.length + 1, 16));
  const lines: string[] = [];
  let line = head;
  for (const p of parts) {
    if (line.length + 1 + p.length > WIDTH) {
      lines.push(line);
      line = indent + p;
    } else line += ' ' + p;
  }
  lines.push(line);
  return [...lines, ...wrap(e.summary, SUMMARY_AT)];
}

/** words wrapped into lines of at most WIDTH, each indented by `at` */
function wrap(text: string, at: number): string[] {
  const out: string[] = [];
  let line = '';
  for (const word of text.split(/\s+/)) {
    if (line && at + line.length + 1 + word.length > WIDTH) {
      out.push(' '.repeat(at) + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(' '.repeat(at) + line);
  return out;
}

export function renderUsage(title: string, entries: readonly UsageEntry[], tail: string): string {
  return [title, '', 'Usage:', ...entries.flatMap(entryText), tail].join('\n');
}
