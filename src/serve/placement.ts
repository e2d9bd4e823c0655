// How well a span of code fits between two others, by the served model (edit.ts PlacementScore; apply-edit uses
// it to place a chunk that anchors nowhere in the original). Both scores are deterministic: no sampling, no RNG.
//   diffusion — an infill: the span's positions masked between the code before and after it, one forward, the
//               sum of log p(span token) at its masked positions (the span is the masked region, as next-edit's
//               rewrite is). Bidirectional, as the generator's infilling is for every diffusion model (a
//               block-diffusion one included: it infills with blockCausal false, text/generator.ts).
//   causal    — what the span adds to the window's likelihood: log p(span, after | before) − log p(after | before),
//               so a place near the end of the file (less code after it, fewer terms) is not favoured.
// The window is fitted to the model's positions: at most PLACEMENT_CONTEXT tokens on each side, a span of at most
// PLACEMENT_SPAN tokens (a longer one keeps its first and last halves: where it meets the code is what is scored).
import { causalNll, nll } from '../eval/likelihood.js';
import { DiffusionLM } from '../model/diffusion-lm.js';
import type { PlacementScore } from './edit.js';
import type { ModelKind, ServedModel } from './request.js';

/** tokens of context kept on each side: about a function's worth of code (dllm's models are trained on 256-token windows) */
export const PLACEMENT_CONTEXT = 128;
/** the most span tokens scored: the models' training window (256) */
export const PLACEMENT_SPAN = 256;

/** the first and last n/2 ids of a longer sequence */
const edges = (ids: Int32Array, n: number): Int32Array =>
  ids.length <= n ? ids : Int32Array.from([...ids.subarray(0, n >> 1), ...ids.subarray(ids.length - (n - (n >> 1)))]);

export function placementScorer(served: ServedModel, kind: ModelKind): PlacementScore {
  const tok = served.tokenizer,
    V = served.config.vocabSize;
  const mask = tok.specials.mask;
  if (kind === 'diffusion' && mask === null) throw new Error(`model ${served.id}: a diffusion model without a mask token cannot infill`);
  const denoiser =
    kind === 'diffusion'
      ? new DiffusionLM(served.model, { mask: mask!, eos: tok.specials.eos, eot: tok.specials.eot, pad: tok.specials.pad }, 'none')
      : null;
  // the window fits the model: span first (up to its cap, and half the positions), then the context on each side
  const spanCap = Math.min(PLACEMENT_SPAN, served.config.maxPositions >> 1);
  /** −log p of ids[from + 1 ..] given ids[.. from], by one causal forward */
  const causalTail = async (ids: Int32Array, from: number): Promise<number> => {
    if (ids.length - 1 - from <= 0) return 0;
    const rows = Int32Array.from({ length: ids.length - 1 - from }, (_, i) => from + i); // row t predicts token t + 1
    const logits = await served.model.forward({ tokens: ids, B: 1, T: ids.length, logitRows: rows });
    return causalNll(logits, ids.subarray(from), V);
  };
  return async (before, span, after) => {
    const s = edges(tok.encode(span), spanCap);
    if (s.length === 0) return 0;
    // ≥ maxPositions / 4 > 0: the span takes at most half the positions
    const ctx = Math.min(PLACEMENT_CONTEXT, (served.config.maxPositions - s.length) >> 1);
    const bs = tok.encode(before + '\n').slice(-ctx),
      as = tok.encode('\n' + after).slice(0, ctx);
    const x = Int32Array.from([...bs, ...s, ...as]); // (T) before | span | after
    if (denoiser) {
      x.fill(mask!, bs.length, bs.length + s.length);
      const region = { start: bs.length, end: bs.length + s.length, blockStart: true };
      const logits = await denoiser.denoise({ tokens: x, B: 1, T: x.length, region });
      let total = 0;
      for (let i = 0; i < s.length; i++) total -= nll(logits, i * V, V, s[i]!);
      return total;
    }
    // nothing before: the first token has no prediction, and both terms start after it
    const from = Math.max(0, bs.length - 1);
    const withSpan = await causalTail(x, from),
      without = await causalTail(Int32Array.from([...bs, ...as]), from);
    return without - withSpan;
  };
}
