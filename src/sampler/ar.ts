// Autoregressive decoding for a causal model with a KV cache — the AR twin every diffusion benchmark is
// measured beside (DESIGN.md). Same steps and result fields as the diffusion loop (decode.ts), so callers
// can swap one for the other. Token choice: argmax at temperature 0; else logits/τ → top-k → top-p →
// sample, the order of Hugging Face's logits processors and llama.cpp's default sampler chain.
import type { CausalModel } from './types.js';
import type { DecodeStep, DecodeResult, GenerateRequest } from './types.js';
import { resolveArOptions, type DecodeOptions } from './options.js';
import { DecodeRng } from './rng.js';
import { checkLogits, penalize, softmaxInto, sampleCategorical, tokenCounts } from './propose.js';

/** next token and its probability under the sampling distribution, for logits (V) */
export function sampleNext(
  logits: Float32Array,
  o: Pick<DecodeOptions, 'temperature' | 'topK' | 'topP'>,
  rng: DecodeRng,
  penalty: { counts: ReadonlyMap<number, number>; presence: number; frequency: number } | null = null,
): { token: number; prob: number } {
  const V = logits.length,
    l = Float64Array.from(logits),
    p = new Float64Array(V);
  if (penalty) penalize(l, penalty.counts, penalty.presence, penalty.frequency); // before temperature, as OpenAI describes
  if (o.temperature === 0) {
    let best = 0;
    for (let v = 1; v < V; v++) if (l[v]! > l[best]!) best = v;
    softmaxInto(l, p);
    return { token: best, prob: p[best]! };
  }
  for (let v = 0; v < V; v++) l[v] = l[v]! / o.temperature;
  const order = Array.from({ length: V }, (_, v) => v).sort((a, b) => l[b]! - l[a]! || a - b);
  if (o.topK > 0) for (let j = o.topK; j < V; j++) l[order[j]!] = -Infinity;
  if (o.topP < 1) {
    softmaxInto(l, p);
    let cum = 0;
    for (let j = 0; j < V; j++) {
      // keep the smallest prefix whose mass reaches topP (at least one token)
      const v = order[j]!;
      if (cum >= o.topP) l[v] = -Infinity;
      else cum += p[v]!;
    }
  }
  softmaxInto(l, p);
  const token = sampleCategorical(p, rng.uniform());
  return { token, prob: p[token]! };
}

/** decode one prompt token by token; stops at EOS/EoT or after genLength tokens */
export async function* arGenerate(
  model: CausalModel,
  request: Pick<GenerateRequest, 'prompt' | 'allowed' | 'constraint'>,
  options: Partial<DecodeOptions> = {},
): AsyncGenerator<DecodeStep, DecodeResult> {
  const o = resolveArOptions(options);
  const t0 = performance.now();
  const rng = new DecodeRng(o.seed, 0);
  const ends = [model.specials.eos, model.specials.eot].filter((t): t is number => t !== null);
  const state = model.newState();
  const out: number[] = [];
  // GenerateRequest.allowed: position offset → (V) 0/1 mask (prompt healing's first token, text/heal.ts)
  const allowedAt = new Map((request.allowed ?? []).map((a) => [a.offset, a.ids] as const));
  let nfe = 0,
    modelMs = 0,
    endToken = -1,
    finishReason: 'stop' | 'length' = 'length';
  const call = async (ids: Int32Array): Promise<Float32Array> => {
    const tm = performance.now();
    const logits = await state.append(ids);
    modelMs += performance.now() - tm;
    nfe++;
    checkLogits(logits, 'arGenerate');
    return logits;
  };
  try {
    if (request.prompt.length === 0) throw new Error('arGenerate: the prompt is empty (a causal model needs at least one token, e.g. BOS)');
    let logits = await call(Int32Array.from(request.prompt));
    for (let i = 0; i < o.genLength; i++) {
      const penalty =
        o.presencePenalty !== 0 || o.frequencyPenalty !== 0
          ? { counts: tokenCounts(out, 0, out.length, -1), presence: o.presencePenalty, frequency: o.frequencyPenalty }
          : null;
      const only = allowedAt.get(i) ?? request.constraint?.allowed(out, o.genLength - i - 1);
      if (only) logits = logits.map((l, v) => (only[v] === 1 ? l : -Infinity)); // grammar masking, before sampling
      const { token, prob } = sampleNext(logits, o, rng, penalty);
      const stop = ends.includes(token);
      if (!stop) out.push(token);
      else {
        finishReason = 'stop';
        endToken = token;
      }
      const finished = stop || i + 1 === o.genLength;
      yield {
        row: 0,
        step: i,
        block: i,
        nfe,
        forward: nfe,
        finished,
        committed: [{ position: i, token, confidence: prob }],
        canvas: Int32Array.from(stop ? [...out, token] : out),
      };
      if (finished) break;
      logits = await call(Int32Array.of(token));
    }
  } finally {
    state.dispose();
  }
  const ids = Int32Array.from(out);
  return {
    ids,
    canvas: finishReason === 'stop' ? Int32Array.from([...out, endToken]) : ids.slice(),
    finishReason,
    nfe,
    tokensPerForward: nfe ? ids.length / nfe : 0,
    elapsedMs: performance.now() - t0,
    modelMs,
  };
}
