// A causal Transformer as the sampler's CausalModel (sampler/types.ts, satisfied structurally): one KV cache
// per sequence, `append` runs only the new tokens against the cached past and returns the next-token logits.
import type { ForwardModel, KVCache } from './forward.js';
import type { Specials } from './diffusion-lm.js';

export class CausalLM {
  readonly vocabSize: number;

  constructor(
    readonly model: ForwardModel,
    readonly specials: Omit<Specials, 'mask'> & { mask?: number },
    readonly capacity = model.config.maxPositions,
  ) {
    if (model.config.attention !== 'causal') throw new Error('CausalLM: the model is bidirectional; AR decoding needs a causal model');
    this.vocabSize = model.config.vocabSize;
  }

  newState(): CausalState {
    return new CausalState(this.model, this.model.createCache(1, this.capacity));
  }
}

export class CausalState {
  length = 0; // tokens in the cache

  constructor(
    private readonly model: ForwardModel,
    private cache: KVCache | null,
  ) {}

  /** logits (V) for the token after the last appended one */
  async append(tokens: Int32Array): Promise<Float32Array> {
    if (!this.cache) throw new Error('CausalState: used after dispose()');
    const T = tokens.length;
    if (T === 0) throw new Error('CausalState.append: no tokens');
    if (this.length + T > this.cache.capacity)
      throw new Error(`CausalState: ${this.length + T} tokens exceed the cache's ${this.cache.capacity}`);
    const logits = await this.model.forward({ tokens, B: 1, T, cache: this.cache, rowStart: this.length, logitRows: Int32Array.of(T - 1) });
    this.length += T;
    return logits;
  }

  dispose(): void {
    if (this.cache) this.model.freeCache(this.cache);
    this.cache = null;
  }
}
