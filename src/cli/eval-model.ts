// One model under evaluation: load it, and complete a prompt (diffusion: generate with an optional suffix;
// causal: arGenerate, which sees a suffix only in FIM order when the tokenizer has the sentinels) with the decoding options the eval was given. Prompts that
// leave no room for the generated span lose their beginning (the end of a prompt is what conditions it).
import { CausalLM } from '../model/causal-lm.js';
import type { ModelConfig } from '../model/config.js';
import { DiffusionLM, type CacheMode } from '../model/diffusion-lm.js';
import type { ForwardModel } from '../model/forward.js';
import { openModel, type OpenOptions } from '../platform/node-backend.js';
import { arGenerate, generate, type DecodeOptions, type DecodeResult, type DecodeStep } from '../sampler/index.js';
import type { TextTokenizer } from '../tokenizer/index.js';
import { FIM_TOKENS, type FimIds } from '../data/fim.js';

/** the tokenizer's FIM sentinels, or null when it has not all three */
export function fimIds(tok: TextTokenizer): FimIds | null {
  const prefix = tok.tokenId(FIM_TOKENS.prefix), middle = tok.tokenId(FIM_TOKENS.middle), suffix = tok.tokenId(FIM_TOKENS.suffix);
  return prefix === null || middle === null || suffix === null ? null : { prefix, middle, suffix };
}

export interface Completion {
  text: string; tokens: number; nfe: number; ms: number; promptTokens: number; truncatedPrompt: boolean;
  /** ms until the first generated position was settled (committed, not [MASK]) */
  firstMs: number;
}

export class EvalModel {
  private constructor(readonly name: string, readonly config: ModelConfig, readonly model: ForwardModel, readonly tok: TextTokenizer,
    private readonly cache: CacheMode, readonly backend: string, private readonly close: () => void) {}

  static async load(dir: string, name: string, open: OpenOptions, cache: CacheMode): Promise<EvalModel> {
    const m = await openModel(dir, open);
    if (!m.tokenizer) { m.dispose(); throw new Error(`${dir} has no tokenizer.json; evaluation needs one`); }
    return new EvalModel(name, m.config, m.model, m.tokenizer, cache, m.backend, () => m.dispose());
  }

  /** whether a suffix reaches the model: diffusion models fill between; AR models only with FIM tokens */
  get infills(): boolean { return this.kind === 'diffusion' || fimIds(this.tok) !== null; }

  get kind(): 'diffusion' | 'causal' { return this.config.attention === 'causal' ? 'causal' : 'diffusion'; }

  /** complete `prompt` (and fill up to `suffix`, diffusion only); stops early once a stop string has settled; `cache` overrides the model's block cache for this call */
  async complete(prompt: string, suffix: string | null, o: DecodeOptions, stops: readonly string[] = [], cache: CacheMode = this.cache): Promise<Completion> {
    const tok = this.tok, sp = tok.specials, t0 = performance.now();
    // an AR model with FIM sentinels infills in PSM order (data/fim.ts); one without them continues the prefix
    const fim = suffix !== null && this.kind === 'causal' ? fimIds(tok) : null;
    let ids = tok.encode(prompt);
    const suf = suffix !== null && (this.kind === 'diffusion' || fim) ? tok.encode(suffix) : null;
    const room = this.config.maxPositions - o.genLength - (suf?.length ?? 0) - 1 - (fim ? 3 : 0); // 3 FIM sentinels
    const truncatedPrompt = ids.length > room;
    if (truncatedPrompt) ids = ids.slice(ids.length - Math.max(1, room));
    if (fim && suf) ids = Int32Array.from([fim.prefix, ...ids, fim.suffix, ...suf, fim.middle]);
    let gen: AsyncGenerator<DecodeStep, DecodeResult>;
    if (this.kind === 'causal') {
      const lm = new CausalLM(this.model, { eos: sp.eos, eot: sp.eot, pad: sp.pad }, Math.min(this.config.maxPositions, ids.length + o.genLength + 1));
      gen = arGenerate(lm, { prompt: ids }, o);
    } else {
      if (sp.mask === null) throw new Error(`${this.name}: the tokenizer has no mask token, so it cannot be a diffusion model`);
      const lm = new DiffusionLM(this.model, { mask: sp.mask, eos: sp.eos, eot: sp.eot, pad: sp.pad }, cache);
      gen = generate(lm, { prompt: ids, ...(suf && suf.length ? { suffix: suf } : {}) }, o);
    }
    let result: DecodeResult | null = null, last: DecodeStep | null = null, firstMs = NaN;
    for (;;) {
      const r = await gen.next();
      if (r.done) { result = r.value; break; }
      last = r.value;
      if (Number.isNaN(firstMs) && r.value.canvas.length > 0 && r.value.canvas[0] !== sp.mask) firstMs = performance.now() - t0;
      // an AR completion that has passed a stop string is done (the rest would be cut anyway)
      if (this.kind === 'causal' && stops.length && r.value.step % 8 === 7) {
        const t = tok.decode(r.value.canvas, { skipSpecialTokens: true });
        if (stops.some((s) => t.includes(s))) { await gen.return(undefined as never); break; }
      }
    }
    const out = result?.ids ?? last!.canvas;
    return { text: tok.decode(out, { skipSpecialTokens: true }), tokens: out.length, nfe: result?.nfe ?? last!.nfe, ms: performance.now() - t0, promptTokens: ids.length, truncatedPrompt, firstMs };
  }

  dispose(): void { this.close(); }
}
