// Seeded random numbers for training (masking, batch sampling, init). Explicit state, no global RNG:
// the state is saved in checkpoints so a resumed run draws the same numbers as an uninterrupted one.
// xoshiro128** (Blackman & Vigna), seeded through splitmix32.

export class Rng {
  private s: Uint32Array;

  constructor(seed: number | Uint32Array) {
    if (seed instanceof Uint32Array) { this.s = Uint32Array.from(seed); return; }
    this.s = new Uint32Array(4);
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) { // splitmix32
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** the state, to save and restore (new Rng(state)) */
  state(): Uint32Array { return Uint32Array.from(this.s); }

  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2] = s[2]! ^ s[0]!; s[3] = s[3]! ^ s[1]!; s[1] = s[1]! ^ s[2]!; s[0] = s[0]! ^ s[3]!;
    s[2] = s[2]! ^ t; s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** uniform in [0, 1) with 32 random bits */
  uniform(): number { return this.nextU32() / 4294967296; }

  /** integer in [0, n) */
  int(n: number): number { return Math.floor(this.uniform() * n); }

  /** standard normal (Box–Muller) */
  normal(): number {
    const u = 1 - this.uniform(), v = this.uniform();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
}

function rotl(x: number, k: number): number { return ((x << k) | (x >>> (32 - k))) >>> 0; }
