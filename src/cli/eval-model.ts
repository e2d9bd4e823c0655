// One model under evaluation: the library's text generator (generator.ts) with the evaluation's decoding
// options. A suffix reaches a diffusion model as the text after the gap and an AR model in FIM order when its
// tokenizer has the sentinels; prompts that leave no room for the generated span lose their beginning (the end
// of a prompt is what conditions it); a stop string that has settled ends the decode.
import type { Completion as TextCompletion } from '../text/generator.js';
import { TextGenerator } from '../text/generator.js';
import type { ModelConfig } from '../model/config.js';
import type { CacheMode } from '../model/diffusion-lm.js';
import type { ForwardModel } from '../model/forward.js';
import { openModel, type OpenOptions } from '../platform/node-backend.js';
import type { DecodeOptions } from '../sampler/index.js';
import type { TextTokenizer } from '../tokenizer/index.js';

export { fimIds } from '../text/generator.js';

export interface Completion {
  text: string;
  tokens: number;
  nfe: number;
  ms: number;
  promptTokens: number;
  truncatedPrompt: boolean;
  /** ms until the first generated position was settled (committed, not [MASK]) */
  firstMs: number;
}

export class EvalModel {
  private constructor(
    readonly name: string,
    readonly lm: TextGenerator,
    private readonly cache: CacheMode,
  ) {}

  static async load(dir: string, name: string, open: OpenOptions, cache: CacheMode): Promise<EvalModel> {
    const m = await openModel(dir, open);
    if (!m.tokenizer) {
      m.dispose();
      throw new Error(`${dir} has no tokenizer.json; evaluation needs one`);
    }
    try {
      return new EvalModel(
        name,
        new TextGenerator({ config: m.config, model: m.model, tokenizer: m.tokenizer, backend: m.backend, dispose: () => m.dispose() }),
        cache,
      );
    } catch (e) {
      m.dispose();
      throw e;
    }
  }

  get config(): ModelConfig {
    return this.lm.config;
  }
  get model(): ForwardModel {
    return this.lm.model;
  }
  get tok(): TextTokenizer {
    return this.lm.tokenizer;
  }
  get backend(): string {
    return this.lm.backend;
  }
  get kind(): 'diffusion' | 'causal' {
    return this.lm.kind;
  }
  /** whether a suffix reaches the model: diffusion models fill between; AR models only with FIM tokens */
  get infills(): boolean {
    return this.lm.infills;
  }

  /** complete `prompt` (and fill up to `suffix`); `cache` overrides the model's block cache for this call */
  async complete(
    prompt: string,
    suffix: string | null,
    o: DecodeOptions,
    stops: readonly string[] = [],
    cache: CacheMode = this.cache,
  ): Promise<Completion> {
    const { genLength, ...decode } = o;
    // prompt healing (text/heal.ts) only without a suffix: a middle starts exactly where its prefix ends, for every model
    const opts = { ...decode, maxTokens: genLength, stop: stops, cache, truncatePrompt: true, healPrompt: suffix === null };
    const g = this.lm.stream(prompt, opts, suffix !== null && this.infills ? suffix : null);
    let r: IteratorResult<unknown, TextCompletion>;
    while (!(r = await g.next()).done);
    const c = r.value;
    return {
      text: c.text,
      tokens: c.ids.length,
      nfe: c.nfe,
      ms: c.timings.totalMs,
      promptTokens: c.promptTokens,
      truncatedPrompt: c.truncatedPrompt,
      firstMs: c.timings.firstMs,
    };
  }

  dispose(): void {
    this.lm.dispose();
  }
}
