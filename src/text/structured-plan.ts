// How a JSON Schema reaches the decoder: pinned on the canvas (structured.ts — the diffusion way: structure
// fixed before the first step, value slots filled in parallel) or masked token by token (json-mask.ts — what
// a causal model must do, and the fallback for what a canvas cannot hold: anyOf, arrays of variable length,
// optional properties, $ref). 'auto' pins when it can.
import type { TokenConstraint } from '../sampler/index.js';
import type { TextTokenizer } from '../tokenizer/index.js';
import { GrammarError } from './json-grammar.js';
import { jsonConstraint, jsonStart, restOf } from './json-mask.js';
import { buildSkeleton, SchemaError, type Skeleton } from './structured.js';

export type StructuredMode = 'auto' | 'pinned' | 'masked';
export const STRUCTURED_MODES: readonly StructuredMode[] = ['auto', 'pinned', 'masked'];

/**
 * masked: `before` goes after the prompt as fixed text (it may hold special tokens; `around.after` is pinned
 * text only: a masked answer is the JSON alone, read as it is); `shortest`: the characters of the shortest
 * value, so the tokens it may need at most
 */
export type StructurePlan =
  { mode: 'pinned'; skeleton: Skeleton } | { mode: 'masked'; constraint: TokenConstraint; before: string; shortest: number };

/** the schema's plan for this model; throws SchemaError (naming the part) when no mode can hold it */
export function planStructure(
  schema: unknown,
  tok: TextTokenizer,
  kind: 'diffusion' | 'causal',
  mode: StructuredMode = 'auto',
  around: { before?: string; after?: string } = {},
): StructurePlan {
  if (mode === 'pinned' && kind === 'causal')
    throw new SchemaError('', 'a causal model decodes left to right: it cannot pin a skeleton (use "masked" or "auto")');
  if (kind === 'diffusion' && mode !== 'masked') {
    try {
      return { mode: 'pinned', skeleton: buildSkeleton(schema, tok, around) };
    } catch (e) {
      if (!(e instanceof SchemaError) || mode === 'pinned') throw e;
    }
  }
  try {
    const constraint = jsonConstraint(schema, tok),
      shortest = restOf(jsonStart(schema)); // characters: at most that many tokens (one per character at worst)
    return { mode: 'masked', constraint, before: around.before ?? '', shortest };
  } catch (e) {
    if (e instanceof GrammarError) throw new SchemaError(e.path, e.message.replace(/^schema[^:]*: /, ''));
    throw e;
  }
}
