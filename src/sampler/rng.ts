// Seeded randomness for decoding: explicit state, no global RNG (same seed → same output; habit 4 of
// style.md §3.7). xoshiro128** (Blackman & Vigna) seeded through splitmix32; uniforms are float64 built from
// 53 random bits, because LLaDA's generate.py draws its Gumbel noise in float64 (arXiv:2409.02908).
// scripts/reference/samplers/common.py re-implements this generator bit for bit, so the Python reference
// traces at temperature > 0 consume exactly the same noise as the TypeScript decoders.

export class DecodeRng {
  private s = new Uint32Array(4); // the whole state: 128 bits

  /** `stream` selects an independent sequence for the same seed (one per batch row); stream 0 = seed alone */
  constructor(seed: number, stream = 0) {
    let x = (seed ^ Math.imul(stream, 0x632be5ab)) >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** a copy of the state, to save and restore a decode mid-way */
  getState(): Uint32Array {
    return this.s.slice();
  }
  setState(state: Uint32Array): void {
    if (state.length !== 4) throw new Error('DecodeRng.setState: the state is 4 uint32 words');
    this.s.set(state);
  }

  /** next 32 random bits (xoshiro128**) */
  nextUint32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2] = s[2]! ^ s[0]!;
    s[3] = s[3]! ^ s[1]!;
    s[1] = s[1]! ^ s[2]!;
    s[0] = s[0]! ^ s[3]!;
    s[2] = s[2]! ^ t;
    s[3] = rotl(s[3]!, 11);
    return r;
  }

  /** uniform in (0, 1), float64, never exactly 0 or 1 (so −log u and −log(−log u) are finite) */
  uniform(): number {
    const hi = this.nextUint32() >>> 5,
      lo = this.nextUint32() >>> 6; // 27 + 26 = 53 bits
    return (hi * 67108864 + lo + 0.5) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
