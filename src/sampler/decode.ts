// THE decoding loop (style.md §3.7 habit 6: one loop, many observers). Every diffusion decoder of
// options.ts runs in the step engine (batch.ts); the CLI, the server, the playground and the tests all consume
// its DecodeSteps, and caching is a Denoiser wrapper (model/diffusion-lm.ts), never a copy of this loop.
// generate decodes one request; generateBatch several with the same options, in lockstep by block (the
// published batch algorithms: LLaDA generate.py, Fast-dLLM); a server batches continuously (DecodeBatch).
// Batching: rows of different lengths are left-padded so their current blocks share columns; keyValid
// hides the padding and positions start at 0 at each row's first real token (Dream's tok_idx), so a row
// decodes as it would alone. Each row stops on its own (early stop, or its last block done) and leaves.
// Infilling: a suffix after the masked middle, and pinned ids inside it (LLaDA app.py `pos:word`
// constraints), are decided from the start: never masked, never changed, masked out for the CFG input.
import type { Denoiser, DecodeResult, DecodeStep, GenerateRequest } from './types.js';
export type { Commit, DecodeResult, DecodeStep, GenerateRequest } from './types.js';
import { resolveOptions, type DecodeOptions } from './options.js';
import { DecodeRng } from './rng.js';
import { DecodeBatch } from './batch.js';

/** decode one request; yields a DecodeStep per step and returns the DecodeResult */
export async function* generate(
  model: Denoiser,
  request: GenerateRequest,
  options: Partial<DecodeOptions> = {},
): AsyncGenerator<DecodeStep, DecodeResult> {
  const results = yield* generateBatch(model, [request], options);
  return results[0]!;
}

/**
 * decode several requests together (left padding, keyValid masks). Row r draws from DecodeRng(options.seed, r),
 * or from DecodeRng(request.seed, 0) when the request has its own seed (a server batching independent requests).
 */
export async function* generateBatch(
  model: Denoiser,
  requests: readonly GenerateRequest[],
  options: Partial<DecodeOptions> = {},
): AsyncGenerator<DecodeStep, DecodeResult[]> {
  const o = resolveOptions(options);
  if (requests.length === 0) throw new Error('generate: no requests');
  const batch = new DecodeBatch(model, 'lockstep');
  requests.forEach((req, index) => batch.add(req, o, req.seed !== undefined ? new DecodeRng(req.seed, 0) : new DecodeRng(o.seed, index)));
  const results: DecodeResult[] = [];
  while (batch.size > 0) {
    const { steps, finished } = await batch.step();
    yield* steps;
    for (const f of finished) results[f.row] = f.result;
  }
  return results;
}
