// The settled text of a canvas, as every stream shows it: the decoded prefix before the first undecided
// (mask) or end token — append-only, since decided tokens never change — held back while its last token ends
// mid-character (U+FFFD); and the earliest stop string in it. Shared by the library's stream and the server's jobs.
import type { TextTokenizer } from '../tokenizer/index.js';

export class SettledText {
  text = '';
  /** canvas positions the text covers */
  length = -1;
  private readonly ends: number[];
  private readonly mask: number;

  constructor(private readonly tok: TextTokenizer) {
    this.ends = [tok.specials.eos, tok.specials.eot].filter((t): t is number => t !== null);
    this.mask = tok.specials.mask ?? -1;
  }

  /** follow a step's canvas (G); returns how many leading positions are decided (before any end token) */
  update(canvas: Int32Array): number {
    let end = 0;
    while (end < canvas.length && canvas[end] !== this.mask && !this.ends.includes(canvas[end]!)) end++;
    if (end !== this.length) {
      const t = this.tok.decode(canvas.subarray(0, end), { skipSpecialTokens: true });
      if (!t.endsWith('\uFFFD')) {
        this.text = t;
        this.length = end;
      }
    }
    return end;
  }
}

/** the earliest of the stop strings in text: the text before it and the word */
export function findStop(text: string, stops: readonly string[]): { text: string; word: string } | null {
  let best: { text: string; word: string } | null = null,
    at = Infinity;
  for (const w of stops) {
    const i = text.indexOf(w);
    if (i >= 0 && i < at) {
      at = i;
      best = { text: text.slice(0, i), word: w };
    }
  }
  return best;
}
