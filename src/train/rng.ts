// Seeded random numbers for training (masking, batch sampling, init). Explicit state, no global RNG:
// the state is saved in checkpoints so a resumed run draws the same numbers as an uninterrupted one.
// The generator is the sampler's xoshiro128** (sampler/rng.ts, seeded through splitmix32, stream 0);
// training draws its uniforms from 32 bits (the decoders take 53, for LLaDA's float64 Gumbel noise).
import { DecodeRng } from '../sampler/rng.js';

export class Rng extends DecodeRng {
  constructor(seed: number | Uint32Array) {
    super(seed instanceof Uint32Array ? 0 : seed, 0);
    if (seed instanceof Uint32Array) this.setState(seed);
  }

  /** the state, to save and restore (new Rng(state)) */
  state(): Uint32Array {
    return this.getState();
  }

  nextU32(): number {
    return this.nextUint32();
  }

  /** uniform in [0, 1) with 32 random bits */
  override uniform(): number {
    return this.nextUint32() / 4294967296;
  }

  /** integer in [0, n) */
  int(n: number): number {
    return Math.floor(this.uniform() * n);
  }

  /** standard normal (Box–Muller) */
  normal(): number {
    const u = 1 - this.uniform(),
      v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}
