// Decontamination: a training file that shares any 13-gram of whitespace tokens with an evaluation prompt
// or solution is dropped (the GPT-3 paper's 13-gram overlap rule, used by StarCoder and others). Grams
// are stored as 52-bit hashes (two 32-bit FNV-style lanes) of their tokens' hashes, so the set of every evaluation gram is
// small and a lookup costs no string building.
import { fnv1a, words } from './minhash.js';

export const CONTAMINATION_N = 13;
function gramKeys(text: string, n: number, each: (key: number) => boolean | void): void {
  const w = words(text).map((x) => fnv1a(x));
  for (let i = 0; i + n <= w.length; i++) {
    let a = 0x811c9dc5,
      b = 0x01000193;
    for (let j = i; j < i + n; j++) {
      a = Math.imul(a ^ w[j]!, 0x01000193) >>> 0;
      b = Math.imul(b ^ w[j]!, 0x5bd1e995) >>> 0;
    }
    if (each(a * 2 ** 20 + (b & 0xfffff)) === true) return; // 52 bits, exact in a double
  }
}

export class ContaminationIndex {
  private readonly grams = new Set<number>();
  constructor(readonly n = CONTAMINATION_N) {}

  /** add every n-gram of an evaluation text */
  add(text: string): void {
    gramKeys(text, this.n, (k) => {
      this.grams.add(k);
    });
  }

  get size(): number {
    return this.grams.size;
  }

  /** whether a training text shares at least one n-gram with the evaluation texts */
  contaminated(text: string): boolean {
    let hit = false;
    gramKeys(text, this.n, (k) => (hit = this.grams.has(k)));
    return hit;
  }
}
