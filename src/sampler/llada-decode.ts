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

export interface Commit { row: number; position: number; token: number; confidence: number; } // position in the generated span

export interface DecodeStep {
  step: number; // 0-based over the whole decode
  block: number;
  nfe: number; // denoiser calls so far
  committed: Commit[];
  canvas: Int32Array; // (G) generated span of row 0, mask id where undecided — a copy
  canvases: Int32Array[]; // (B) × (G), every row
}

export interface DecodeResult {
  ids: Int32Array; // generated ids of row 0 up to (not including) the first EOS, or all of them
  canvas: Int32Array; // row 0's whole generated span
  finishReason: 'stop' | 'length';
  rows: { ids: Int32Array; canvas: Int32Array; finishReason: 'stop' | 'length' }[]; // every row
  nfe: number;
  tokensPerForward: number; // generated tokens to EOS over all rows / NFE
  elapsedMs: number;
}

/** What to decode: prompt (prefix), optionally a suffix after the masked span (infilling), pinned tokens. */
export interface DecodeInput {
  prefix: Int32Array;
  suffix?: Int32Array;
  /** tokens fixed in advance at positions of the generated span (LLaDA demo's `pos:word`) */
  pinned?: Map<number, number>;
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

/** one prompt, or several decoded together (left-padded, each row stopping on its own) */
export async function* lladaDecode(model: Denoiser, input: Int32Array | DecodeInput | DecodeInput[], options: Partial<LladaDecodeOptions> = {})
  : AsyncGenerator<DecodeStep, DecodeResult> {
  const o = { ...LLADA_DEFAULTS, ...options };
  const t0 = performance.now();
  const { mask, eos, eot, pad } = model.specials;
  const rows: DecodeInput[] = input instanceof Int32Array ? [{ prefix: input }] : Array.isArray(input) ? input : [input];
  const B = rows.length, V = model.vocabSize, G = o.genLength;
  if (B === 0) throw new Error('decode: no prompts');
  if (G <= 0 || o.blockLength <= 0 || G % o.blockLength !== 0) throw new Error(`decode: genLength ${G} must be a positive multiple of blockLength ${o.blockLength} (generate.py asserts this)`);
  const numBlocks = G / o.blockLength;
  if (o.selection === 'fixed' && o.steps % numBlocks !== 0) throw new Error(`decode: steps ${o.steps} must be a multiple of the ${numBlocks} blocks (generate.py asserts this)`);
  if ((o.logitsEosInf || o.confidenceEosEotInf || o.earlyStop) && eos === null) throw new Error('decode: this model has no EOS token');
  // canvas per row: [left padding | prefix | G masked | suffix]; every row has the same P (padded) and S
  const P = Math.max(...rows.map((r) => r.prefix.length)), S = Math.max(...rows.map((r) => r.suffix?.length ?? 0));
  if (rows.some((r) => (r.suffix?.length ?? 0) !== S)) throw new Error('decode: in a batch every row needs the same suffix length');
  const T = P + G + S;
  const padId = pad ?? eos ?? mask;
  const x = new Int32Array(B * T), keyValid = new Uint8Array(B * T).fill(1);
  let padded = false;
  rows.forEach((r, b) => {
    const lead = P - r.prefix.length;
    if (lead > 0) { x.fill(padId, b * T, b * T + lead); keyValid.fill(0, b * T, b * T + lead); padded = true; }
    x.set(r.prefix, b * T + lead);
    x.fill(mask, b * T + P, b * T + P + G);
    if (r.suffix) x.set(r.suffix, b * T + P + G);
    for (const [pos, tok] of r.pinned ?? []) {
      if (!(pos >= 0 && pos < G)) throw new Error(`decode: pinned position ${pos} is outside the ${G} generated positions`);
      x[b * T + P + pos] = tok;
    }
  });
  const rng = new DecodeRng(o.seed);
  const done = new Array<boolean>(B).fill(false);
  let nfe = 0, step = 0;
  for (let blk = 0; blk < numBlocks && !done.every(Boolean); blk++) {
    const s = P + blk * o.blockLength, e = s + o.blockLength;
    const stepsPerBlock = o.selection === 'fixed' ? o.steps / numBlocks : Infinity;
    // generate.py counts the block's masks once, at the block's start (pinned tokens are not masks)
    const counts = rows.map((_, b) => {
      let m = 0;
      for (let p = s; p < e; p++) if (x[b * T + p] === mask) m++;
      return o.selection === 'fixed' ? transferCounts(m, stepsPerBlock) : null;
    });
    for (let i = 0; i < stepsPerBlock; i++) {
      const active = rows.map((_, b) => !done[b] && x.subarray(b * T + s, b * T + e).includes(mask));
      if (!active.some(Boolean)) break;
      const logits = await model.denoise({ tokens: x, B, T, keyValid: padded ? keyValid : null, region: { start: s, end: e, blockStart: i === 0 } });
      nfe++;
      const committed: Commit[] = [];
      for (let b = 0; b < B; b++) {
        if (!active[b]) continue;
        const cand: { p: number; tok: number; conf: number }[] = [];
        for (let p = s; p < e; p++) {
          if (x[b * T + p] !== mask) continue;
          const [tok, prob] = sampleRow(logits, (b * o.blockLength + p - s) * V, V, o.temperature, rng, o.logitsEosInf ? eos : null);
          let conf = o.remasking === 'random' ? rng.uniform() : prob;
          if (o.confidenceEosEotInf && (tok === eos || tok === eot)) conf = -Infinity;
          cand.push({ p, tok, conf });
        }
        cand.sort((a, c) => c.conf - a.conf || a.p - c.p); // ties: lowest position first
        let k: number;
        if (o.selection === 'fixed') k = Math.min(counts[b]![i]!, cand.length);
        else if (o.selection === 'threshold') { k = 1; while (k < cand.length && cand[k]!.conf >= o.threshold) k++; }
        else { k = 1; while (k < cand.length && cand[k]!.conf >= 1 - o.factor / (k + 2)) k++; }
        for (let j = 0; j < k; j++) {
          const c = cand[j]!;
          x[b * T + c.p] = c.tok;
          committed.push({ row: b, position: c.p - P, token: c.tok, confidence: c.conf });
        }
        if (o.earlyStop && eos !== null) done[b] = fillAfterEos(x, b * T + P, b * T + P + G, mask, eos);
      }
      const canvases = rows.map((_, b) => x.slice(b * T + P, b * T + P + G));
      yield { step: step++, block: blk, nfe, committed, canvas: canvases[0]!, canvases };
      if (done.every(Boolean)) break;
    }
  }
  const results = rows.map((_, b) => {
    const canvas = x.slice(b * T + P, b * T + P + G);
    const end = eos === null ? -1 : canvas.indexOf(eos);
    return { ids: canvas.slice(0, end < 0 ? G : end), canvas, finishReason: (end >= 0 ? 'stop' : 'length') as 'stop' | 'length' };
  });
  const generated = results.reduce((a, r) => a + r.ids.length, 0);
  const first = results[0]!;
  return { ids: first.ids, canvas: first.canvas, finishReason: first.finishReason, rows: results, nfe, tokensPerForward: nfe ? generated / nfe : 0, elapsedMs: performance.now() - t0 };
}

/** if an EOS is committed in [a, b) with everything before it decided, fill the rest of [a, b) with EOS */
function fillAfterEos(x: Int32Array, a: number, b: number, mask: number, eos: number): boolean {
  for (let p = a; p < b; p++) {
    if (x[p] === mask) return false;
    if (x[p] === eos) { x.fill(eos, p, b); return true; }
  }
  return false;
}
