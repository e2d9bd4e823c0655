// Structured output on a diffusion canvas: a JSON Schema becomes a skeleton — braces, keys, quotes, commas
// pinned in place (the decoder never touches them) and value slots of masked cells, each cell limited to the
// tokens its type allows — and the filled canvas is read back slot by slot into a value that validates by
// construction. An AR grammar engine (llama.cpp GBNF, Outlines, XGrammar) masks logits token by token in
// order; here the structure is on the canvas before the first step and the model fills the slots in any order.
// Supported: object (every property, in order; strict mode's rule), string (maxLength / minLength in
// characters), integer / number (non-negative digits; minimum / maximum clamp), boolean, enum and const of
// strings/numbers/booleans, null, array (minItems items, 1 when unset). Anything else is refused by name.
import type { TextTokenizer } from '../tokenizer/index.js';

type Schema = Record<string, unknown>;

/** one part of the skeleton: fixed text, or a slot of `cells` masked positions */
type Part =
  | { kind: 'fixed'; text: string }
  | { kind: 'slot'; type: 'string' | 'integer' | 'boolean' | 'enum'; cells: number; schema: Schema; options?: unknown[] };

/** a value shape: how to read it back from the parts it produced */
type Shape =
  | { kind: 'object'; keys: string[]; values: Shape[] }
  | { kind: 'array'; items: Shape[] }
  | { kind: 'slot'; slot: number }
  | { kind: 'const'; value: unknown };

export interface Skeleton {
  /** generated positions */
  length: number;
  /** fixed ids, by offset in the generated span */
  pinned: Array<{ offset: number; ids: Int32Array }>;
  /** (V) 0/1 masks of the ids each slot cell may take */
  allowed: Array<{ offset: number; ids: Uint8Array }>;
  /** the filled span (G ids) → the JSON value */
  read(canvas: ArrayLike<number>): unknown;
}

/** cells of a string slot when the schema gives no maxLength (a short value: the models here are small) */
export const STRING_CELLS = 8;
/** digits cells of a number slot */
const NUMBER_CELLS = 4;
/** the schema keywords a pinned skeleton honours (json-grammar.ts adds what only token masking can follow) */
export const PINNED_KEYWORDS: readonly string[] = [
  'type',
  'properties',
  'required',
  'additionalProperties',
  'items',
  'minItems',
  'maxItems',
  'enum',
  'const',
  'maxLength',
  'minLength',
  'minimum',
  'maximum',
  'description',
  'title',
  '$schema',
  'default',
];
const SUPPORTED = new Set(PINNED_KEYWORDS);

export class SchemaError extends Error {
  constructor(
    readonly path: string,
    why: string,
  ) {
    super(`schema${path}: ${why}`);
  }
}

/** the token classes slots draw from, computed once per tokenizer */
interface Classes {
  text: Uint8Array;
  digits: Uint8Array;
  digitsOrEnd: Uint8Array;
  textOrEnd: Uint8Array;
  pieces: readonly string[];
  end: number;
}
const cache = new WeakMap<TextTokenizer, Classes>();

function classes(tok: TextTokenizer): Classes {
  const hit = cache.get(tok);
  if (hit) return hit;
  const V = tok.vocabSize,
    end = tok.specials.eos ?? tok.specials.pad;
  if (end === null) throw new SchemaError('', 'structured output needs an EOS (or pad) token for empty cells');
  const text = new Uint8Array(V),
    digits = new Uint8Array(V),
    pieces = tok.pieces;
  for (let v = 0; v < V; v++) {
    const s = pieces[v]!;
    if (!tok.isTextPiece(v)) continue;
    // a string's own characters: no quote, backslash or control character, so JSON needs no escape
    if (!/["\\\u0000-\u001f\u007f]/.test(s)) text[v] = 1;
    if (/^[0-9]+$/.test(s)) digits[v] = 1;
  }
  const orEnd = (m: Uint8Array) => {
    const c = m.slice();
    c[end] = 1;
    return c;
  };
  const out = { text, digits, digitsOrEnd: orEnd(digits), textOrEnd: orEnd(text), pieces, end };
  cache.set(tok, out);
  return out;
}

function check(s: Schema, path: string): void {
  for (const k of Object.keys(s))
    if (!SUPPORTED.has(k))
      throw new SchemaError(path, `"${k}" is not supported by structured output here (supported: ${[...SUPPORTED].join(', ')})`);
}

/** schema → parts and the shape that reads them back */
function build(s: unknown, path: string, parts: Part[]): Shape {
  if (typeof s !== 'object' || s === null || Array.isArray(s)) throw new SchemaError(path, 'must be an object');
  const schema = s as Schema;
  check(schema, path);
  const fixed = (text: string) => {
    parts.push({ kind: 'fixed', text });
  };
  if ('const' in schema) {
    fixed(JSON.stringify(schema['const']));
    return { kind: 'const', value: schema['const'] };
  }
  if (Array.isArray(schema['enum'])) {
    const options = schema['enum'] as unknown[];
    if (options.length === 0) throw new SchemaError(path, '"enum" is empty');
    if (options.length === 1) {
      fixed(JSON.stringify(options[0]));
      return { kind: 'const', value: options[0] };
    }
    const quoted = options.every((o) => typeof o === 'string'); // the model sees string options inside their quotes
    if (quoted) fixed('"');
    parts.push({ kind: 'slot', type: 'enum', cells: 1, schema, options });
    if (quoted) fixed('"');
    return { kind: 'slot', slot: parts.length - (quoted ? 2 : 1) };
  }
  const type = schema['type'];
  switch (type) {
    case 'object': {
      const props = (schema['properties'] ?? {}) as Record<string, unknown>;
      if (typeof props !== 'object' || Array.isArray(props)) throw new SchemaError(path, '"properties" must be an object');
      if (schema['additionalProperties'] !== undefined && schema['additionalProperties'] !== false)
        throw new SchemaError(path, 'only "additionalProperties": false is supported (the keys are fixed on the canvas)');
      const keys = Object.keys(props),
        values: Shape[] = [];
      fixed('{');
      keys.forEach((k, i) => {
        fixed(`${i ? ', ' : ''}${JSON.stringify(k)}: `);
        values.push(build(props[k], `${path}.properties.${k}`, parts));
      });
      fixed('}');
      return { kind: 'object', keys, values };
    }
    case 'array': {
      const min = Number(schema['minItems'] ?? 1),
        max = Number(schema['maxItems'] ?? Math.max(1, min));
      const n = Math.min(Math.max(min, 1), max);
      if (!(Number.isInteger(n) && n >= 0 && n <= 64)) throw new SchemaError(path, 'arrays get minItems items (1 when unset), at most 64');
      fixed('[');
      const items: Shape[] = [];
      for (let i = 0; i < n; i++) {
        if (i) fixed(', ');
        items.push(build(schema['items'] ?? {}, `${path}.items`, parts));
      }
      fixed(']');
      return { kind: 'array', items };
    }
    case 'string': {
      const maxLength = schema['maxLength'] as number | undefined,
        minLength = Number(schema['minLength'] ?? 0);
      if (minLength > 32) throw new SchemaError(path, `"minLength" above 32 is not supported (${minLength})`);
      // a text token is at least one character: minLength non-empty cells hold minLength characters
      const cells = Math.max(1, minLength, Math.min(32, maxLength !== undefined ? Math.ceil(maxLength / 2) : STRING_CELLS));
      fixed('"');
      parts.push({ kind: 'slot', type: 'string', cells, schema });
      fixed('"');
      return { kind: 'slot', slot: parts.length - 2 };
    }
    case 'integer':
    case 'number':
      parts.push({ kind: 'slot', type: 'integer', cells: NUMBER_CELLS, schema });
      return { kind: 'slot', slot: parts.length - 1 };
    case 'boolean':
      parts.push({ kind: 'slot', type: 'boolean', cells: 1, schema });
      return { kind: 'slot', slot: parts.length - 1 };
    case 'null':
      fixed('null');
      return { kind: 'const', value: null };
    default:
      throw new SchemaError(
        path,
        `"type" must be one of object, array, string, integer, number, boolean, null (one type), got ${JSON.stringify(type)}`,
      );
  }
}

/** a JSON Schema → the canvas skeleton for this tokenizer (fixed text around it, if given); throws SchemaError naming the unsupported part */
export function buildSkeleton(schema: unknown, tok: TextTokenizer, around: { before?: string; after?: string } = {}): Skeleton {
  const parts: Part[] = [];
  if (around.before) parts.push({ kind: 'fixed', text: around.before }); // e.g. a template's <tool_call> opener
  const shape = build(schema, '', parts);
  if (around.after) parts.push({ kind: 'fixed', text: around.after });
  const c = classes(tok),
    V = tok.vocabSize;
  const pinned: Skeleton['pinned'] = [],
    allowed: Skeleton['allowed'] = [],
    spans: Array<{ at: number; n: number }> = [];
  let at = 0;
  for (const p of parts) {
    if (p.kind === 'fixed') {
      const ids = tok.encode(p.text);
      pinned.push({ offset: at, ids });
      spans.push({ at, n: ids.length });
      at += ids.length;
      continue;
    }
    spans.push({ at, n: p.cells });
    for (let i = 0; i < p.cells; i++) {
      let m: Uint8Array;
      const minLen = Number(p.schema['minLength'] ?? 0);
      if (p.type === 'string')
        m = i < minLen ? c.text : c.textOrEnd; // an empty cell is EOS
      else if (p.type === 'integer') m = i === 0 ? c.digits : c.digitsOrEnd;
      else if (p.type === 'boolean') {
        m = new Uint8Array(V);
        c.pieces.forEach((s, v) => {
          const t = s.trim().toLowerCase();
          if (t && ('true'.startsWith(t) || 'false'.startsWith(t))) m[v] = 1;
        });
      } else {
        m = new Uint8Array(V);
        for (const o of p.options!) {
          const first = tok.encode(String(o))[0];
          if (first !== undefined) m[first] = 1;
        }
      }
      if (!m.some((x) => x === 1)) throw new SchemaError('', `the tokenizer has no token for a ${p.type} value`);
      allowed.push({ offset: at + i, ids: m });
    }
    at += p.cells;
  }
  const read = (canvas: ArrayLike<number>): unknown => {
    const slotText = (k: number) => {
      const { at: a, n } = spans[k]!;
      let s = '';
      for (let i = a; i < a + n; i++) if (canvas[i] !== c.end) s += c.pieces[canvas[i]!] ?? '';
      return s;
    };
    const value = (sh: Shape): unknown => {
      if (sh.kind === 'const') return sh.value;
      if (sh.kind === 'object') return Object.fromEntries(sh.keys.map((k, i) => [k, value(sh.values[i]!)]));
      if (sh.kind === 'array') return sh.items.map(value);
      const p = parts[sh.slot] as Extract<Part, { kind: 'slot' }>,
        t = slotText(sh.slot);
      if (p.type === 'string') {
        const max = p.schema['maxLength'] as number | undefined;
        return max !== undefined ? [...t].slice(0, max).join('') : t;
      }
      if (p.type === 'boolean') return t.trim().toLowerCase().startsWith('t');
      if (p.type === 'enum') {
        const first = canvas[spans[sh.slot]!.at];
        return p.options!.find((o) => tok.encode(String(o))[0] === first) ?? p.options![0];
      }
      let n = Number.parseInt(t, 10) || 0; // digits only, so this is a non-negative integer
      if (typeof p.schema['maximum'] === 'number') n = Math.min(n, p.schema['maximum'] as number);
      if (typeof p.schema['minimum'] === 'number') n = Math.max(n, Math.ceil(p.schema['minimum'] as number));
      return n;
    };
    return value(shape);
  };
  return { length: at, pinned, allowed, read };
}
