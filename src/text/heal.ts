// Token healing of a text prompt's trailing whitespace (guidance's token healing; transformers' generate
// `token_healing`). A byte-level BPE splits "\n    return" as "\n   " + " return", so a prompt that ends in
// whitespace ends in a token the model met in training almost only before other text than what follows it
// here — after a HumanEval docstring the lone "\n" made both shipped models start a new top-level `def`
// (151 of 164 empty completions for the AR twin). Healing backs that last token up and lets the model choose the
// first generated token among those whose text starts with the removed text (the removed token among them,
// so nothing the plain prompt allowed is lost); the completion shown is what follows the removed text.
import type { TextTokenizer } from '../tokenizer/index.js';

export interface Healing {
  /** the text of the backed-up token: every completion starts with it, and it is cut from what is shown */
  text: string;
  /** (V) 0/1: the ids the first generated position may take */
  first: Uint8Array;
}

/** only whitespace, and at least one character of it */
const WHITESPACE = /^\s+$/u;

/** the first-token masks of each tokenizer, by "V:removed text" (building one scans the vocabulary once);
 *  weak, so a tokenizer's masks go with it. Shared by the library's generator and the server */
const MASKS = new WeakMap<TextTokenizer, Map<string, Uint8Array>>();

/**
 * the prompt ids without their last token when that token is whitespace only (and not the whole prompt),
 * with the mask of first tokens over V ids (the model's vocabulary, which may pad the tokenizer's)
 */
export function healPrompt(ids: Int32Array, tok: TextTokenizer, V: number): { ids: Int32Array; healing: Healing | null } {
  if (ids.length < 2) return { ids, healing: null };
  const last = ids[ids.length - 1]!,
    text = tok.decode([last], { skipSpecialTokens: true });
  if (!WHITESPACE.test(text)) return { ids, healing: null };
  let masks = MASKS.get(tok);
  if (!masks) MASKS.set(tok, (masks = new Map()));
  const key = `${V}:${text}`;
  let first = masks.get(key);
  if (!first) {
    first = new Uint8Array(V); // (V); ids past the tokenizer's vocabulary (padded embeddings) stay 0
    for (let v = 0; v < Math.min(V, tok.vocabSize); v++) if (tok.decode([v], { skipSpecialTokens: true }).startsWith(text)) first[v] = 1;
    first[last] = 1; // the removed token itself, whatever its decoding
    masks.set(key, first);
  }
  return { ids: ids.subarray(0, ids.length - 1), healing: { text, first } };
}

/** what a healed completion shows: the text after the removed prefix ('' until the first token settles) */
export function healedText(text: string, healing: Healing | null): string {
  if (!healing) return text;
  return text.startsWith(healing.text) ? text.slice(healing.text.length) : '';
}
