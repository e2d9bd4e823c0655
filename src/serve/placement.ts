// How well a span of code fits between two others, by the served model (edit.ts PlacementScore; apply-edit uses
// it to place a chunk that anchors nowhere in the original). A diffusion model scores it as an infill: the span's
// positions masked between the code before and after (each cut to PLACEMENT_CONTEXT tokens), one forward, the
// sum of log p(span token) at its masked positions — the span is the masked region, as next-edit's rewrite is.
// A causal model scores the window's own likelihood: Σ log p of the span and the code after it, given the code
// before (the only order it reads). Both are deterministic: no sampling, no RNG.
import { DiffusionLM } from '../model/diffusion-lm.js';
import type { PlacementScore } from './edit.js';
import type { ModelKind, ServedModel } from './request.js';

/** tokens of context kept on each side: enough for the surrounding function, and a bounded forward */
export const PLACEMENT_CONTEXT = 128;
/** a span longer than this is scored on its first tokens (the fit is decided at its edges) */
export const PLACEMENT_SPAN = 256;

/** Σ log softmax(row)[target] over (R, V) rows of logits */
function logLikelihood(logits: Float32Array, V: number, targets: ArrayLike<number>): number {
  let total = 0;
  for (let r = 0; r < targets.length; r++) {
    const o = r * V;
    let max = -Infinity;
    for (let v = 0; v < V; v++) max = Math.max(max, logits[o + v]!);
    let z = 0;
    for (let v = 0; v < V; v++) z += Math.exp(logits[o + v]! - max);
    total += logits[o + targets[r]!]! - max - Math.log(z);
  }
  return total;
}

export function placementScorer(served: ServedModel, kind: ModelKind): PlacementScore {
  const tok = served.tokenizer,
    V = served.config.vocabSize;
  const mask = tok.specials.mask;
  const denoiser =
    kind === 'diffusion' && mask !== null
      ? new DiffusionLM(served.model, { mask, eos: tok.specials.eos, eot: tok.specials.eot, pad: tok.specials.pad }, 'none')
      : null;
  return async (before, span, after) => {
    const b = tok.encode(before + '\n').slice(-PLACEMENT_CONTEXT),
      s = tok.encode(span).slice(0, PLACEMENT_SPAN),
      a = tok.encode('\n' + after).slice(0, PLACEMENT_CONTEXT);
    if (s.length === 0) return 0;
    const T = b.length + s.length + a.length;
    const x = new Int32Array(T); // (T) before | span | after
    x.set(b, 0);
    x.set(a, b.length + s.length);
    if (denoiser) {
      x.fill(mask!, b.length, b.length + s.length);
      const logits = await denoiser.denoise({
        tokens: x,
        B: 1,
        T,
        region: { start: b.length, end: b.length + s.length, blockStart: true },
      });
      return logLikelihood(logits, V, s);
    }
    x.set(s, b.length);
    const from = Math.max(0, b.length - 1); // row t predicts token t + 1
    const rows = Int32Array.from({ length: T - 1 - from }, (_, i) => from + i); // nothing before: the first token is not scored
    if (rows.length === 0) return 0;
    const logits = await served.model.forward({ tokens: x, B: 1, T, logitRows: rows });
    return logLikelihood(logits, V, x.subarray(from + 1));
  };
}
