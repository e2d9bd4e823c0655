// Token-level constrained decoding for a JSON Schema (the AR grammar engines' way: llama.cpp GBNF, Outlines,
// XGrammar): a character-level recogniser of the grammar (json-grammar.ts) runs over the text decoded so
// far, and each step's mask keeps the tokens whose characters it accepts — found by walking a trie of the
// vocabulary, so a dead first character prunes every token that starts with it. A budget rule makes strict
// output total: a token is allowed only if the shortest completion after it still fits the positions left,
// so the value always closes before the canvas (or maxTokens) ends. The state is a set of stacks (anyOf and
// optional properties are alternatives until a character tells them apart), each stack a persistent list.
import type { TokenConstraint } from '../sampler/index.js';
import type { TextTokenizer } from '../tokenizer/index.js';
import { compileGrammar, numberComplete, numberRest, numberViable, type GrammarNode } from './json-grammar.js';

type Node<K extends GrammarNode['k']> = Extract<GrammarNode, { k: K }>;
type Frame =
  | { t: 'lit'; s: string; i: number } // the rest of a fixed text
  | { t: 'val'; n: GrammarNode } // a value starts here
  | { t: 'str'; n: Node<'str'>; len: number; esc: number } // inside quotes; esc 1 after '\', 5…2 = hex digits of \u left + 1
  | { t: 'num'; n: Node<'num'>; s: string } // a number so far
  | { t: 'obj'; n: Node<'obj'>; next: number; any: boolean } // after '{' or a property's value
  | { t: 'arr'; n: Node<'arr'>; count: number }; // after '[' or an item
/** a stack of frames, top first; null = the value is complete */
type Stack = { f: Frame; r: Stack | null } | null;

const push = (r: Stack, f: Frame): Stack => ({ f, r });

/** the stacks one character leads to from `st` (appended to out) */
function step(st: Stack, ch: string, out: Stack[]): void {
  if (st === null) return; // nothing after the value
  const { f, r } = st;
  switch (f.t) {
    case 'lit':
      if (f.s[f.i] === ch) out.push(f.i + 1 === f.s.length ? r : push(r, { t: 'lit', s: f.s, i: f.i + 1 }));
      return;
    case 'val':
      return start(f.n, r, ch, out);
    case 'str': {
      const { n, len, esc } = f;
      if (esc === 1) {
        if ('"\\/bfnrt'.includes(ch)) out.push(push(r, { ...f, len: len + 1, esc: 0 }));
        else if (ch === 'u') out.push(push(r, { ...f, esc: 5 }));
      } else if (esc > 1) {
        if (/^[0-9a-fA-F]$/.test(ch)) out.push(push(r, esc === 2 ? { ...f, len: len + 1, esc: 0 } : { ...f, esc: esc - 1 }));
      } else if (ch === '"') {
        if (len >= n.min) out.push(r);
      } else if (len < n.max && ch >= ' ') out.push(push(r, ch === '\\' ? { ...f, esc: 1 } : { ...f, len: len + 1 }));
      return;
    }
    case 'num': {
      const s = f.s + ch;
      if (numberViable(f.n, s)) out.push(push(r, { t: 'num', n: f.n, s }));
      if (numberComplete(f.n, f.s)) step(r, ch, out); // the number ended; ch belongs to what follows
      return;
    }
    case 'obj': {
      const { n, next, any } = f;
      for (let j = next; j < n.keys.length; j++) {
        const key = `${any ? ', ' : ''}${JSON.stringify(n.keys[j])}: `;
        const after = push(push(r, { t: 'obj', n, next: j + 1, any: true }), { t: 'val', n: n.values[j]! });
        step(push(after, { t: 'lit', s: key, i: 0 }), ch, out);
        if (n.required[j]) break; // a required property cannot be skipped
      }
      if (ch === '}' && n.tail[next]![any ? 1 : 0] === 1) out.push(r); // nothing required is left
      return;
    }
    case 'arr': {
      const { n, count } = f;
      if (count < n.max) {
        let s = push(push(r, { t: 'arr', n, count: count + 1 }), { t: 'val', n: n.item });
        if (count > 0) s = push(s, { t: 'lit', s: ', ', i: 0 });
        step(s, ch, out);
      }
      if (ch === ']' && count >= n.min) out.push(r);
      return;
    }
  }
}

function start(n: GrammarNode, r: Stack, ch: string, out: Stack[]): void {
  switch (n.k) {
    case 'lit':
      for (const o of n.options) step(push(r, { t: 'lit', s: o, i: 0 }), ch, out);
      return;
    case 'any':
      for (const a of n.of) start(a, r, ch, out);
      return;
    case 'str':
      if (ch === '"') out.push(push(r, { t: 'str', n, len: 0, esc: 0 }));
      return;
    case 'num':
      if (numberViable(n, ch)) out.push(push(r, { t: 'num', n, s: ch }));
      return;
    case 'obj':
      if (ch === '{') out.push(push(r, { t: 'obj', n, next: 0, any: false }));
      return;
    case 'arr':
      if (ch === '[') out.push(push(r, { t: 'arr', n, count: 0 }));
      return;
  }
}

/** the fewest characters that complete stack `st` (0: complete) */
function rest(st: Stack): number {
  let total = 0;
  for (let s = st; s !== null; s = s.r) {
    const f = s.f;
    if (f.t === 'lit') total += f.s.length - f.i;
    else if (f.t === 'val') total += f.n.len;
    else if (f.t === 'str') {
      const pending = f.esc === 1 ? 1 : f.esc > 1 ? f.esc - 1 : 0;
      total += pending + Math.max(0, f.n.min - f.len - (f.esc ? 1 : 0)) + 1;
    } else if (f.t === 'num') total += numberRest(f.n, f.s);
    else if (f.t === 'obj') total += f.n.tail[f.next]![f.any ? 1 : 0]!;
    else total += f.count >= f.n.min ? 1 : (f.n.min - f.count) * (f.n.item.len + 2) - (f.count === 0 ? 2 : 0) + 1;
  }
  return total;
}

export type JsonState = readonly Stack[];

/** the states after the characters of `text` (an empty set: the text left the grammar) */
export function advance(states: JsonState, text: string): JsonState {
  let cur = states as Stack[];
  for (const ch of text) {
    const next: Stack[] = [];
    for (const s of cur) step(s, ch, next);
    cur = next;
    if (cur.length === 0) break;
  }
  return cur;
}

/** the fewest characters that complete any of the states (0: complete; Infinity: none) */
export const restOf = (states: JsonState): number => states.reduce((m, s) => Math.min(m, rest(s)), Infinity);

/** the grammar of a schema, as the states before its first character (throws GrammarError) */
export const jsonStart = (schema: unknown): JsonState => [push(null, { t: 'val', n: compileGrammar(schema) })];

interface Trie {
  kids: Map<string, Trie>;
  ids: number[]; // tokens whose text ends here
}
interface Vocab {
  root: Trie;
  pieces: readonly string[];
  longest: number; // code points of the longest piece
}
const vocabs = new WeakMap<TextTokenizer, Vocab>();

/** the vocabulary as a character trie (special tokens and partial UTF-8 pieces left out), once per tokenizer */
function vocabTrie(tok: TextTokenizer): Vocab {
  const hit = vocabs.get(tok);
  if (hit) return hit;
  const root: Trie = { kids: new Map(), ids: [] },
    pieces = tok.pieces;
  let longest = 0;
  for (let v = 0; v < tok.vocabSize; v++) {
    const s = pieces[v]!;
    if (!tok.isTextPiece(v)) continue;
    let t = root,
      n = 0;
    for (const ch of s) {
      let k = t.kids.get(ch);
      if (!k) t.kids.set(ch, (k = { kids: new Map(), ids: [] }));
      t = k;
      n++;
    }
    t.ids.push(v);
    longest = Math.max(longest, n);
  }
  const out = { root, pieces, longest };
  vocabs.set(tok, out);
  return out;
}

const nodeIds = new WeakMap<object, number>();
let nodeCount = 0;
const nodeId = (n: object): number => {
  let id = nodeIds.get(n);
  if (id === undefined) nodeIds.set(n, (id = ++nodeCount));
  return id;
};

/**
 * a key that is equal for states every token treats alike: a string's length only matters near its bounds
 * (below minLength, or within one token of maxLength), an array's count only below minItems or near maxItems
 */
function stateKey(states: JsonState, longest: number): string {
  const frame = (f: Frame): string => {
    switch (f.t) {
      case 'lit':
        return `l${f.s.length - f.i}:${f.s.slice(f.i)}`;
      case 'val':
        return `v${nodeId(f.n)}`;
      case 'str': {
        const free = f.len >= f.n.min && f.n.max - f.len > longest;
        return `s${nodeId(f.n)}:${free ? '*' : f.len}:${f.esc}`;
      }
      case 'num':
        return `n${nodeId(f.n)}:${f.s}`;
      case 'obj':
        return `o${nodeId(f.n)}:${f.next}:${f.any ? 1 : 0}`;
      case 'arr': {
        const free = f.count >= f.n.min && f.n.max - f.count > longest;
        return `a${nodeId(f.n)}:${free ? '*' : f.count}`;
      }
    }
  };
  const stack = (st: Stack): string => {
    let k = '';
    for (let s = st; s !== null; s = s.r) k += frame(s.f) + '/';
    return k;
  };
  return states.map(stack).sort().join('|');
}

/** the tokens a state set accepts, each with the shortest completion after it (a walk of the vocabulary trie) */
interface Accepted {
  ids: Int32Array;
  rests: Int32Array;
}

function accepted(v: Vocab, states: JsonState): Accepted {
  const ids: number[] = [],
    rests: number[] = [];
  const walk = (t: Trie, cur: JsonState): void => {
    for (const [ch, kid] of t.kids) {
      const next = advance(cur, ch);
      if (next.length === 0) continue;
      if (kid.ids.length) {
        const r = restOf(next);
        for (const id of kid.ids) {
          ids.push(id);
          rests.push(Math.min(r, 2 ** 31 - 1));
        }
      }
      walk(kid, next);
    }
  };
  walk(v.root, states);
  return { ids: Int32Array.from(ids), rests: Int32Array.from(rests) };
}

/** how many walks a constraint keeps (string interiors repeat one key; numbers and bounded lengths do not) */
const MEMO = 256;

/**
 * (V) the tokens that may follow `states` with `left` positions after this one (a token is kept if the
 * shortest completion after it fits); EOS when the value is complete. `memo` caches walks by state key.
 */
export function tokenMask(
  tok: TextTokenizer,
  states: JsonState,
  left: number,
  end: number,
  memo: Map<string, Accepted> = new Map(),
): Uint8Array {
  const v = vocabTrie(tok),
    m = new Uint8Array(tok.vocabSize),
    key = stateKey(states, v.longest);
  let acc = memo.get(key);
  if (!acc) {
    acc = accepted(v, states);
    if (memo.size >= MEMO) memo.delete(memo.keys().next().value!);
    memo.set(key, acc);
  }
  for (let i = 0; i < acc.ids.length; i++) if (acc.rests[i]! <= left) m[acc.ids[i]!] = 1;
  if (restOf(states) === 0) m[end] = 1;
  return m;
}

/**
 * a JSON Schema as a sampler constraint: the mask of each position from the ids before it. Incremental (the
 * states of the longest prefix seen are kept), so left-to-right decoding walks each token once.
 */
export function jsonConstraint(schema: unknown, tok: TextTokenizer): TokenConstraint {
  const end = tok.specials.eos ?? tok.specials.pad;
  if (end === null) throw new Error('token-level JSON decoding needs an EOS (or pad) token to end on');
  const { pieces } = vocabTrie(tok);
  const ids: number[] = [],
    states: JsonState[] = [jsonStart(schema)];
  const only = new Uint8Array(tok.vocabSize),
    memo = new Map<string, Accepted>();
  only[end] = 1;
  return {
    allowed(prefix: ArrayLike<number>, left: number): Uint8Array {
      let k = 0;
      while (k < ids.length && k < prefix.length && ids[k] === prefix[k]) k++;
      ids.length = k;
      states.length = k + 1;
      for (let i = k; i < prefix.length; i++) {
        const v = prefix[i]!;
        if (v === end) return only; // after the end: more ends
        ids.push(v);
        states.push(advance(states[i]!, pieces[v] ?? ''));
      }
      const cur = states[prefix.length]!;
      if (cur.length === 0) throw new Error(`jsonConstraint: the ids so far left the schema's grammar at position ${prefix.length}`);
      const m = tokenMask(tok, cur, left, end, memo);
      if (!m.includes(1))
        throw new Error(
          `jsonConstraint: the value needs ${restOf(cur)} more characters, but ${left + 1} positions are left (raise maxTokens)`,
        );
      return m;
    },
  };
}

/** `text` is a whole value of the schema's grammar */
export const isCompleteJson = (schema: unknown, text: string): boolean => restOf(advance(jsonStart(schema), text)) === 0;
