// A JSON Schema compiled into a grammar of value nodes, for token-level constrained decoding (json-mask.ts):
// the path for what a pinned canvas (structured.ts) cannot hold — alternatives (anyOf, a list of types),
// arrays of variable length, optional properties — and for causal models, which decode left to right anyway.
// The text is canonical JSON as the skeleton writes it: `{"a": 1, "b": [2, 3]}` (", " and ": ", no other
// whitespace), so both paths produce the same bytes for the same value and no whitespace loop can start.
// Numbers have no exponent. Every node knows the length of its shortest text, which bounds how many tokens a
// partial value still needs (a byte-level vocabulary has a one-character token for every ASCII character).

import { PINNED_KEYWORDS } from './structured.js';

type Schema = Record<string, unknown>;

export type GrammarNode =
  | { k: 'lit'; options: string[]; len: number } // const, enum, boolean, null: one of these JSON texts
  | { k: 'str'; min: number; max: number; len: number } // lengths in code points, escapes count one
  | { k: 'num'; integer: boolean; min: number; max: number; len: number }
  | { k: 'obj'; keys: string[]; values: GrammarNode[]; required: boolean[]; tail: number[][]; len: number }
  | { k: 'arr'; item: GrammarNode; min: number; max: number; len: number }
  | { k: 'any'; of: GrammarNode[]; len: number };

/** the keywords token masking honours: a pinned skeleton's (structured.ts), and the alternatives and references
 * only a left-to-right grammar can follow; anything else is refused by name (a silent ignore would break strict) */
const SUPPORTED = new Set([...PINNED_KEYWORDS, 'anyOf', '$ref', '$defs', 'definitions']);
/** longest number text: beyond 2^53 digits stop being exact in a double */
export const NUMBER_CHARS = 17;

export class GrammarError extends Error {
  constructor(
    readonly path: string,
    why: string,
  ) {
    super(`schema${path}: ${why}`);
  }
}

const isObj = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);

/** a JSON Schema → its grammar; throws GrammarError naming the unsupported part */
export function compileGrammar(schema: unknown): GrammarNode {
  const root = schema;
  const resolving = new Set<string>();
  const ref = (r: unknown, path: string): unknown => {
    const m = typeof r === 'string' ? /^#\/(\$defs|definitions)\/([^/]+)$/.exec(r) : null;
    if (!m || !isObj(root))
      throw new GrammarError(path, `"$ref" must point into "#/$defs/…" or "#/definitions/…", got ${JSON.stringify(r)}`);
    const target = (root[m[1]!] as Schema | undefined)?.[m[2]!];
    if (target === undefined) throw new GrammarError(path, `"$ref" ${r} names nothing`);
    return target;
  };
  const node = (s: unknown, path: string): GrammarNode => {
    if (!isObj(s)) throw new GrammarError(path, 'must be an object');
    for (const k of Object.keys(s))
      if (!SUPPORTED.has(k)) throw new GrammarError(path, `"${k}" is not supported by constrained decoding here`);
    if (s['$ref'] !== undefined) {
      const r = String(s['$ref']);
      if (resolving.has(r)) throw new GrammarError(path, `"$ref" ${r} is recursive, which is not supported`);
      resolving.add(r);
      const n = node(ref(r, path), `${path}.$ref`);
      resolving.delete(r);
      return n;
    }
    if ('const' in s) return lit([JSON.stringify(s['const'])]);
    if (Array.isArray(s['enum'])) {
      if (s['enum'].length === 0) throw new GrammarError(path, '"enum" is empty');
      return lit(s['enum'].map((o) => JSON.stringify(o)));
    }
    if (Array.isArray(s['anyOf'])) {
      if (s['anyOf'].length === 0) throw new GrammarError(path, '"anyOf" is empty');
      return any(s['anyOf'].map((a, i) => node(a, `${path}.anyOf[${i}]`)));
    }
    const type = s['type'];
    if (Array.isArray(type)) return any(type.map((t) => node({ ...s, type: t }, path)));
    switch (type) {
      case 'null':
        return lit(['null']);
      case 'boolean':
        return lit(['true', 'false']);
      case 'string': {
        const min = Number(s['minLength'] ?? 0),
          max = Number(s['maxLength'] ?? Infinity);
        if (!(Number.isInteger(min) && min >= 0 && min <= max)) throw new GrammarError(path, 'bad "minLength" / "maxLength"');
        return { k: 'str', min, max, len: 2 + min };
      }
      case 'integer':
      case 'number': {
        const min = Number(s['minimum'] ?? -Infinity),
          max = Number(s['maximum'] ?? Infinity);
        if (!(min <= max)) throw new GrammarError(path, '"minimum" is above "maximum"');
        const n: GrammarNode = { k: 'num', integer: type === 'integer', min, max, len: 0 };
        const len = numberRest(n, '');
        if (!Number.isFinite(len)) throw new GrammarError(path, `no ${type} of ${NUMBER_CHARS} characters lies in [${min}, ${max}]`);
        n.len = len;
        return n;
      }
      case 'object': {
        const props = s['properties'] ?? {};
        if (!isObj(props)) throw new GrammarError(path, '"properties" must be an object');
        if (s['additionalProperties'] !== undefined && s['additionalProperties'] !== false)
          throw new GrammarError(path, 'only "additionalProperties": false is supported (only the listed keys are written)');
        const keys = Object.keys(props),
          req = new Set(Array.isArray(s['required']) ? (s['required'] as unknown[]).map(String) : []);
        for (const r of req) if (!keys.includes(r)) throw new GrammarError(path, `"required" names "${r}", which is not in "properties"`);
        const values = keys.map((k) => node(props[k], `${path}.properties.${k}`));
        const required = keys.map((k) => req.has(k));
        // tail[j][any]: the shortest text of properties j… and the closing brace (any: a comma comes first)
        const tail: number[][] = Array.from({ length: keys.length + 1 }, () => [1, 1]);
        for (let j = keys.length - 1; j >= 0; j--)
          for (const a of [0, 1]) {
            const entry = (a ? 2 : 0) + JSON.stringify(keys[j]).length + 2 + values[j]!.len;
            tail[j]![a] = required[j] ? entry + tail[j + 1]![1]! : Math.min(tail[j + 1]![a]!, entry + tail[j + 1]![1]!);
          }
        return { k: 'obj', keys, values, required, tail, len: 1 + tail[0]![0]! };
      }
      case 'array': {
        const item = node(s['items'] ?? {}, `${path}.items`);
        const min = Number(s['minItems'] ?? 0),
          max = Number(s['maxItems'] ?? Infinity);
        if (!(Number.isInteger(min) && min >= 0 && min <= max)) throw new GrammarError(path, 'bad "minItems" / "maxItems"');
        return { k: 'arr', item, min, max, len: 2 + min * item.len + Math.max(0, min - 1) * 2 };
      }
      default:
        throw new GrammarError(path, `"type" must be object, array, string, integer, number, boolean or null, got ${JSON.stringify(type)}`);
    }
  };
  return node(schema, '');
}

const lit = (options: string[]): GrammarNode => ({ k: 'lit', options, len: Math.min(...options.map((o) => o.length)) });
const any = (of: GrammarNode[]): GrammarNode => ({ k: 'any', of, len: Math.min(...of.map((n) => n.len)) });

type NumNode = Extract<GrammarNode, { k: 'num' }>;

/** `s` can begin a JSON number of this node's type (no exponent) */
const numberShape = (n: NumNode, s: string): boolean =>
  s.length <= NUMBER_CHARS && (n.integer ? /^-?(0|[1-9]\d*)?$/ : /^-?((0|[1-9]\d*)(\.\d*)?)?$/).test(s);

/** `s` is a whole number of this node's type inside its bounds */
export function numberComplete(n: NumNode, s: string): boolean {
  if (!(n.integer ? /^-?(0|[1-9]\d*)$/ : /^-?(0|[1-9]\d*)(\.\d+)?$/).test(s)) return false;
  const v = Number(s);
  return v >= n.min && v <= n.max;
}

/**
 * some integer k in [k1, k2] has (sign)·k·10^−q inside the node's bounds (magnitudes of `q` decimals)
 */
function exists(n: NumNode, neg: boolean, k1: number, k2: number, q: number): boolean {
  const scale = 10 ** q;
  // k·10^−q ∈ [min, max] (negative: −k·10^−q ∈ [min, max]); a small slack absorbs the double's rounding
  const lo = neg ? Math.ceil(-n.max * scale - 1e-9) : Math.ceil(n.min * scale - 1e-9),
    hi = neg ? Math.floor(-n.min * scale + 1e-9) : Math.floor(n.max * scale + 1e-9);
  return Math.max(k1, lo) <= Math.min(k2, hi);
}

const restMemo = new WeakMap<NumNode, Map<string, number>>();

/**
 * the fewest characters that turn the prefix `s` into a whole number in bounds (Infinity: none within
 * NUMBER_CHARS). Exact, so a prefix is viable iff this is finite and the mask never leads into a dead end.
 */
export function numberRest(n: NumNode, s: string): number {
  let memo = restMemo.get(n);
  if (!memo || memo.size > 50_000) restMemo.set(n, (memo = new Map()));
  let out = memo.get(s);
  if (out === undefined) memo.set(s, (out = rest(n, s)));
  return out;
}

function rest(n: NumNode, s: string): number {
  if (!numberShape(n, s)) return Infinity;
  if (numberComplete(n, s)) return 0;
  const neg = s.startsWith('-'),
    body = neg ? s.slice(1) : s,
    room = NUMBER_CHARS - s.length;
  if (body === '') {
    let best = Infinity;
    for (const c of (neg ? '' : '-') + '0123456789') best = Math.min(best, 1 + numberRest(n, s + c));
    return best;
  }
  const [int, frac] = body.split('.') as [string, string | undefined];
  for (let e = 1; e <= room; e++) {
    if (frac !== undefined) {
      // e more decimals after those typed
      const p = Number(int + frac);
      if (exists(n, neg, p * 10 ** e, (p + 1) * 10 ** e - 1, frac.length + e)) return e;
      continue;
    }
    const p = Number(int);
    if (int !== '0' && exists(n, neg, p * 10 ** e, (p + 1) * 10 ** e - 1, 0)) return e; // more integer digits
    if (n.integer) continue;
    for (let d = 1; d <= e - 1; d++) {
      const i = e - 1 - d; // i more integer digits, the point, d decimals
      if (int === '0' && i > 0) continue;
      if (exists(n, neg, p * 10 ** (i + d), (p + 1) * 10 ** (i + d) - 1, d)) return e;
    }
  }
  return Infinity;
}

/** some completion of the prefix `s` lies inside the bounds */
export const numberViable = (n: NumNode, s: string): boolean => numberRest(n, s) < Infinity;
