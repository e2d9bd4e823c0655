// Semi-autoregressive masked-diffusion decoding, one loop with the published selection rules as policies:
//   fixed     — LLaDA generate.py (ML-GSAI/LLaDA): blocks of blockLength, steps/numBlocks steps per block,
//               get_num_transfer_tokens schedule, commit the top-k by confidence (low_confidence: softmax
//               probability of the sampled token; random: U(0,1)); Gumbel-max sampling in float64
//   threshold — Fast-dLLM get_transfer_index (arXiv 2505.22618 §3.2): commit the most confident masked token,
//               then every masked token with confidence ≥ τ; loop until the block has no masks
//   factor    — Fast-dLLM get_transfer_index_dynamic: accept the largest n with c_(i) ≥ 1 − f/(i+1), i ≤ n
// Committed tokens never change. Confidence outside the current block is −∞ (nothing is committed early).
// EOS/EoT: `logitsEosInf` forbids sampling EOS; `confidenceEosEotInf` gives sampled EOS/EoT −∞ confidence so
// they are committed last — implemented as intended (generate.py's EOS half has no effect: LLaDA issue #137).
// Early stop (opt-in): once an EOS is committed and every position before it is decided, the rest of the
// canvas is filled with EOS and decoding ends — the tokens-to-EOS that Fast-dLLM's throughput counts.
import type { Denoiser } from './types.js';
import { DecodeRng } from './rng.js';

export type Selection = 'fixed' | 'threshold' | 'factor';

export interface LladaDecodeOptions {
  genLength: number; // masked positions after the prompt (LLaDA main(): 128)
  blockLength: number; // semi-AR block (LLaDA main(): 32; Fast-dLLM: 32)
  steps: number; // fixed schedule only: total steps, divided evenly among blocks (LLaDA main(): 128)
  temperature: number; // 0 = argmax (LLaDA default)
  remasking: 'low_confidence' | 'random';
  selection: Selection;
  threshold: number; // Fast-dLLM τ (paper default 0.9)
  factor: number; // Fast-dLLM factor rule f (example scripts: 1.0)
  logitsEosInf: boolean;
  confidenceEosEotInf: boolean;
  earlyStop: boolean;
  seed: number;
}

export const LLADA_DEFAULTS: LladaDecodeOptions = {
  genLength: 128, blockLength: 32, steps: 128, temperature: 0, remasking: 'low_confidence', selection: 'fixed',
  threshold: 0.9, factor: 1.0, logitsEosInf: false, confidenceEosEotInf: false, earlyStop: false, seed: 0,
};

export interface Commit { position: number; token: number; confidence: number; } // position in the generated span

export interface DecodeStep {
  step: number; // 0-based over the whole decode
  block: number;
  nfe: number; // denoiser calls so far
  committed: Commit[];
  canvas: Int32Array; // (genLength) generated span, mask id where undecided — a copy
}

export interface DecodeResult {
  ids: Int32Array; // generated ids up to (not including) the first EOS, or all of them
  canvas: Int32Array; // the whole generated span
  finishReason: 'stop' | 'length';
  nfe: number;
  tokensPerForward: number; // generated tokens to EOS / NFE
  elapsedMs: number;
}

/** LLaDA get_num_transfer_tokens: `masked` tokens over `steps` steps, the remainder front-loaded */
export function transferCounts(masked: number, steps: number): Int32Array {
  const base = Math.floor(masked / steps), rem = masked % steps;
  return Int32Array.from({ length: steps }, (_, i) => base + (i < rem ? 1 : 0));
}

/** x0 and its confidence for one row of logits (V): Gumbel-max at temperature τ in float64, softmax prob */
function sampleRow(logits: Float32Array, o: number, V: number, tau: number, rng: DecodeRng, banned: number | null): [number, number] {
  let best = -1, bestScore = -Infinity, max = -Infinity;
  for (let v = 0; v < V; v++) {
    if (v === banned) continue;
    const l = logits[o + v]!;
    if (l > max) max = l;
    // generate.py: exp(l) / (−log u)^τ, whose argmax is that of l/τ − log(−log u) (ties: lowest id)
    const score = tau === 0 ? l : l / tau - Math.log(-Math.log(rng.uniform()));
    if (score > bestScore) { bestScore = score; best = v; }
  }
  let z = 0;
  for (let v = 0; v < V; v++) if (v !== banned) z += Math.exp(logits[o + v]! - max);
  return [best, Math.exp(logits[o + best]! - max) / z];
}

export async function* lladaDecode(model: Denoiser, prompt: Int32Array, options: Partial<LladaDecodeOptions> = {})
  : AsyncGenerator<DecodeStep, DecodeResult> {
  const o = { ...LLADA_DEFAULTS, ...options };
  const t0 = performance.now();
  const { mask, eos, eot } = model.specials;
  const V = model.vocabSize, P = prompt.length, G = o.genLength, T = P + G;
  if (G <= 0 || o.blockLength <= 0 || G % o.blockLength !== 0) throw new Error(`decode: genLength ${G} must be a positive multiple of blockLength ${o.blockLength} (generate.py asserts this)`);
  const numBlocks = G / o.blockLength;
  if (o.selection === 'fixed' && o.steps % numBlocks !== 0) throw new Error(`decode: steps ${o.steps} must be a multiple of the ${numBlocks} blocks (generate.py asserts this)`);
  if ((o.logitsEosInf || o.confidenceEosEotInf || o.earlyStop) && eos === null) throw new Error('decode: this model has no EOS token');
  const rng = new DecodeRng(o.seed);
  const x = new Int32Array(T);
  x.set(prompt);
  x.fill(mask, P);
  let nfe = 0, step = 0, stopped = false;
  for (let b = 0; b < numBlocks && !stopped; b++) {
    const s = P + b * o.blockLength, e = s + o.blockLength;
    const stepsPerBlock = o.selection === 'fixed' ? o.steps / numBlocks : Infinity;
    const counts = o.selection === 'fixed' ? transferCounts(o.blockLength, stepsPerBlock) : null;
    for (let i = 0; i < stepsPerBlock; i++) {
      let maskedLeft = 0;
      for (let p = s; p < e; p++) if (x[p] === mask) maskedLeft++;
      if (maskedLeft === 0) break;
      const logits = await model.denoise({ tokens: x, B: 1, T, region: { start: s, end: e, blockStart: i === 0 } });
      nfe++;
      // sample x0 and confidence for every masked position of the block
      const cand: { p: number; tok: number; conf: number }[] = [];
      for (let p = s; p < e; p++) {
        if (x[p] !== mask) continue;
        const [tok, prob] = sampleRow(logits, (p - s) * V, V, o.temperature, rng, o.logitsEosInf ? eos : null);
        let conf = o.remasking === 'random' ? rng.uniform() : prob;
        if (o.confidenceEosEotInf && (tok === eos || tok === eot)) conf = -Infinity;
        cand.push({ p, tok, conf });
      }
      cand.sort((a, b2) => b2.conf - a.conf || a.p - b2.p); // ties: lowest position first
      let k: number;
      if (o.selection === 'fixed') k = Math.min(counts![i]!, cand.length);
      else if (o.selection === 'threshold') { k = 1; while (k < cand.length && cand[k]!.conf >= o.threshold) k++; }
      else { k = 1; while (k < cand.length && cand[k]!.conf >= 1 - o.factor / (k + 2)) k++; }
      const committed: Commit[] = [];
      for (let j = 0; j < k; j++) { const c = cand[j]!; x[c.p] = c.tok; committed.push({ position: c.p - P, token: c.tok, confidence: c.conf }); }
      if (o.earlyStop && eos !== null) stopped = fillAfterEos(x, P, T, mask, eos);
      yield { step: step++, block: b, nfe, committed, canvas: x.slice(P) };
      if (stopped) break;
    }
  }
  const canvas = x.slice(P);
  let end = canvas.indexOf(eos ?? -1);
  const finishReason = end >= 0 ? 'stop' : 'length';
  if (end < 0) end = G;
  return { ids: canvas.slice(0, end), canvas, finishReason, nfe, tokensPerForward: nfe ? end / nfe : 0, elapsedMs: performance.now() - t0 };
}

/** if an EOS is committed with everything before it decided, fill the rest with EOS; true when it did */
function fillAfterEos(x: Int32Array, P: number, T: number, mask: number, eos: number): boolean {
  for (let p = P; p < T; p++) {
    if (x[p] === mask) return false;
    if (x[p] === eos) { x.fill(eos, p); return true; }
  }
  return false;
}
