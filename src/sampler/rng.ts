// Seeded randomness for decoding: explicit state, no global RNG (same seed → same output).
// xoshiro128** seeded through splitmix32; float64 uniforms from 53 random bits (the Gumbel noise of LLaDA's
// generate.py is drawn in float64, arXiv:2409.02908).

export class DecodeRng {
  private s = new Uint32Array(4);

  constructor(seed: number) {
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  private next(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2] = s[2]! ^ s[0]!; s[3] = s[3]! ^ s[1]!; s[1] = s[1]! ^ s[2]!; s[0] = s[0]! ^ s[3]!;
    s[2] = s[2]! ^ t; s[3] = rotl(s[3]!, 11);
    return r;
  }

  /** uniform in (0, 1), float64 (never exactly 0, so −log u is finite) */
  uniform(): number {
    const hi = this.next() >>> 5, lo = this.next() >>> 6; // 27 + 26 = 53 bits
    return (hi * 67108864 + lo + 0.5) / 9007199254740992;
  }
}

function rotl(x: number, k: number): number { return ((x << k) | (x >>> (32 - k))) >>> 0; }
