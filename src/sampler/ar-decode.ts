// Compatibility layer for the first AR API (cli/generate.ts, bench/decode.bench.ts, scripts/model-cards.ts):
// arDecode(model, prompt, { maxTokens, … }) is arGenerate (ar.ts) with genLength spelled maxTokens, in the
// step and result shapes of llada-decode.ts.
import type { CausalModel } from './types.js';
import type { DecodeResult, DecodeStep } from './llada-decode.js';
import { arGenerate } from './ar.js';
import type { DecodeOptions } from './options.js';

export interface ArDecodeOptions { maxTokens: number; temperature: number; topK: number; topP: number; seed: number; }

export async function* arDecode(model: CausalModel, prompt: Int32Array, options: Partial<ArDecodeOptions> = {}): AsyncGenerator<DecodeStep, DecodeResult> {
  const { maxTokens, ...rest } = options;
  const o: Partial<DecodeOptions> = { ...rest, ...(maxTokens !== undefined ? { genLength: maxTokens } : {}) };
  const gen = arGenerate(model, { prompt }, o);
  let r;
  while (!(r = await gen.next()).done) {
    const s = r.value;
    yield { step: s.step, block: s.block, nfe: s.nfe, committed: s.committed.map((c) => ({ row: 0, ...c })), canvas: s.canvas, canvases: [s.canvas] };
  }
  const x = r.value;
  return { ids: x.ids, canvas: x.canvas, finishReason: x.finishReason, rows: [{ ids: x.ids, canvas: x.canvas, finishReason: x.finishReason }], nfe: x.nfe, tokensPerForward: x.tokensPerForward, elapsedMs: x.elapsedMs };
}
