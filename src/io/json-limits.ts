// Bounds for JSON files a model folder brings (tokenizer.json, config.json, …), checked before JSON.parse:
// size, then nesting depth by one linear scan of the text. A 50 MB tokenizer.json of nested arrays otherwise
// parses for seconds into GBs and then overflows the stack of the tokenizer library that walks it, with an
// error that names no file. No file access here: platform/ reads the file and checks its size first.

export interface JsonLimits {
  maxBytes: number;
  maxDepth: number;
}

/** real files: tokenizer.json ≤ ~35 MB (Gemma-3's 262 k vocabulary) and depth ≤ 6; configs are a few KB */
export const JSON_LIMITS = {
  tokenizer: { maxBytes: 64 * 2 ** 20, maxDepth: 64 },
  default: { maxBytes: 256 * 2 ** 20, maxDepth: 64 },
} as const satisfies Record<string, JsonLimits>;

/** the deepest nesting of objects/arrays in JSON text, stopping at the first level past `limit` */
export function jsonDepth(text: string, limit = Infinity): number {
  let depth = 0,
    max = 0,
    inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c)
        i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) inString = true;
    else if (c === 0x7b || c === 0x5b) {
      // { [
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === 0x7d || c === 0x5d) depth--; // } ]
  }
  return max;
}

/** JSON.parse within `limits`; errors name `where` (the file) */
export function parseJsonBounded(text: string, limits: JsonLimits, where: string): unknown {
  if (text.length > limits.maxBytes)
    throw new Error(`${where}: ${text.length} characters, over the ${limits.maxBytes}-byte limit for this file`);
  const depth = jsonDepth(text, limits.maxDepth);
  if (depth > limits.maxDepth) throw new Error(`${where}: JSON nested deeper than ${limits.maxDepth} levels (a corrupt or hostile file?)`);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new Error(`${where}: malformed JSON (${(e as Error).message})`);
  }
}
