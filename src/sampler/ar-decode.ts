// Autoregressive decoding for a causal model with a KV cache (the AR twin of every diffusion benchmark):
// greedy at temperature 0, else temperature / top-k / top-p sampling; same result fields as lladaDecode.
import type { CausalModel } from './types.js';
import type { DecodeResult, DecodeStep } from './llada-decode.js';
import { DecodeRng } from './rng.js';

export interface ArDecodeOptions {
  maxTokens: number;
  temperature: number;
  topK: number; // 0 = off
  topP: number; // 1 = off
  seed: number;
  stopAtEos: boolean;
}

export const AR_DEFAULTS: ArDecodeOptions = { maxTokens: 128, temperature: 0, topK: 0, topP: 1, seed: 0, stopAtEos: true };

export function sampleToken(logits: Float32Array, o: ArDecodeOptions, rng: DecodeRng): number {
  const V = logits.length;
  if (o.temperature === 0) { let b = 0; for (let v = 1; v < V; v++) if (logits[v]! > logits[b]!) b = v; return b; }
  const idx = Array.from({ length: V }, (_, v) => v).sort((a, b) => logits[b]! - logits[a]! || a - b);
  const keep = o.topK > 0 ? idx.slice(0, o.topK) : idx;
  const max = logits[keep[0]!]!;
  const w = keep.map((v) => Math.exp((logits[v]! - max) / o.temperature));
  const z = w.reduce((a, b) => a + b, 0);
  let n = keep.length;
  if (o.topP < 1) { let c = 0; for (n = 0; n < keep.length && c < o.topP; n++) c += w[n]! / z; }
  const zn = w.slice(0, n).reduce((a, b) => a + b, 0);
  let u = rng.uniform() * zn;
  for (let i = 0; i < n; i++) { u -= w[i]!; if (u <= 0) return keep[i]!; }
  return keep[n - 1]!;
}

export async function* arDecode(model: CausalModel, prompt: Int32Array, options: Partial<ArDecodeOptions> = {})
  : AsyncGenerator<DecodeStep, DecodeResult> {
  const o = { ...AR_DEFAULTS, ...options };
  const t0 = performance.now();
  const rng = new DecodeRng(o.seed);
  const st = model.newState();
  const out: number[] = [];
  let finishReason: 'stop' | 'length' = 'length';
  try {
    let logits = await st.append(prompt);
    for (let i = 0; i < o.maxTokens; i++) {
      const tok = sampleToken(logits, o, rng);
      if (o.stopAtEos && tok === model.specials.eos) { finishReason = 'stop'; break; }
      out.push(tok);
      const canvas = Int32Array.from(out);
      yield { step: i, block: i, nfe: i + 1, committed: [{ row: 0, position: i, token: tok, confidence: 1 }], canvas, canvases: [canvas] };
      if (i + 1 < o.maxTokens) logits = await st.append(Int32Array.of(tok));
    }
  } finally {
    st.dispose();
  }
  const nfe = Math.max(1, out.length + (finishReason === 'stop' ? 1 : 0));
  const ids = Int32Array.from(out);
  return { ids, canvas: ids, finishReason, rows: [{ ids, canvas: ids, finishReason }], nfe, tokensPerForward: out.length / nfe, elapsedMs: performance.now() - t0 };
}
