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
import type { Denoiser } from './types.js';
import { resolveOptions, type DecodeOptions } from './options.js';
import { DecodeRng } from './rng.js';
import { DecodeBatch } from './batch.js';

/** one prompt; ids only (the tokenizer is the caller's) */
export interface GenerateRequest {
  prompt: ArrayLike<number>;
  /** infilling: ids after the masked middle (the middle is genLength positions) */
  suffix?: ArrayLike<number>;
  /** ids pinned inside the generated span: `offset` 0 = first generated position (LLaDA app.py `pos:word`) */
  pinned?: ReadonlyArray<{ offset: number; ids: ArrayLike<number> }>;
  /**
   * token constraints inside the generated span: position `offset` may only take the ids where `ids[v]` is 1
   * (a (V) 0/1 mask; structured output's value slots). Applied before any proposal, like the banned ids.
   */
  allowed?: ReadonlyArray<{ offset: number; ids: Uint8Array }>;
  /** this row's own seed: it then draws exactly what it would draw decoded alone with options.seed = seed */
  seed?: number;
}

export interface Commit { position: number; token: number; confidence: number; } // position in the generated span

export interface DecodeStep {
  row: number; // request index in the batch (0 for generate)
  step: number; // this row's steps so far, 0-based across blocks
  block: number;
  nfe: number; // denoiser calls this row took part in, so far
  forward: number; // denoiser calls of the whole batch so far (the steps of one call share it)
  committed: Commit[]; // by position
  canvas: Int32Array; // (G) the generated span, mask id where undecided — a copy, safe to keep
  finished: boolean; // this row's last step
}

export interface DecodeResult {
  ids: Int32Array; // generated ids before the first EOS/EoT (the middle, when infilling)
  canvas: Int32Array; // (G) the whole generated span
  finishReason: 'stop' | 'length'; // stop: an EOS/EoT was generated
  nfe: number;
  tokensPerForward: number; // ids.length / nfe (Fast-dLLM counts tokens up to EOS)
  elapsedMs: number; // wall time from the row's start to its end
  modelMs: number; // time inside the denoiser calls this row took part in (shared by the rows of a call)
}

/** decode one request; yields a DecodeStep per step and returns the DecodeResult */
export async function* generate(model: Denoiser, request: GenerateRequest, options: Partial<DecodeOptions> = {})
  : AsyncGenerator<DecodeStep, DecodeResult> {
  const results = yield* generateBatch(model, [request], options);
  return results[0]!;
}

/**
 * decode several requests together (left padding, keyValid masks). Row r draws from DecodeRng(options.seed, r),
 * or from DecodeRng(request.seed, 0) when the request has its own seed (a server batching independent requests).
 */
export async function* generateBatch(model: Denoiser, requests: readonly GenerateRequest[], options: Partial<DecodeOptions> = {})
  : AsyncGenerator<DecodeStep, DecodeResult[]> {
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
