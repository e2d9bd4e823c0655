// --show-steps: the canvas as it denoises. In a terminal it is redrawn in place — masked positions dimmed,
// tokens committed in this step coloured by confidence (green ≥ 0.9, yellow ≥ 0.5, red below), earlier tokens
// plain; elsewhere (a pipe, a file) one plain line per step.
import type { DecodeStep } from '../sampler/index.js';

export interface TokenText {
  decode(ids: ArrayLike<number>): string;
}

const DIM = '\x1b[2m',
  RESET = '\x1b[0m';
const colour = (c: number) => (c >= 0.9 ? '\x1b[32m' : c >= 0.5 ? '\x1b[33m' : '\x1b[31m');
const MASK_GLYPH = '░';

export class CanvasView {
  private lines = 0;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly tok: TokenText,
    private readonly mask: number,
  ) {}

  render(step: DecodeStep): void {
    const fresh = new Map(step.committed.map((c) => [c.position, c.confidence]));
    const tty = this.out.isTTY === true;
    let text = '';
    for (let i = 0; i < step.canvas.length; i++) {
      const id = step.canvas[i]!;
      if (id === this.mask) {
        text += tty ? `${DIM}${MASK_GLYPH}${RESET}` : '_';
        continue;
      }
      const piece = this.tok.decode([id]);
      const c = fresh.get(i);
      text += tty && c !== undefined ? `${colour(c)}${piece}${RESET}` : piece;
    }
    const header = `step ${step.step} · block ${step.block} · NFE ${step.nfe} · +${fresh.size}`;
    if (!tty) {
      this.out.write(`${header}: ${JSON.stringify(text)}\n`);
      return;
    }
    if (this.lines > 0) this.out.write(`\x1b[${this.lines}F\x1b[0J`); // back to the top of the last frame, clear
    const frame = `${DIM}${header}${RESET}\n${text}\n`;
    this.out.write(frame);
    this.lines = frame.split('\n').length - 1 + Math.floor(text.length / Math.max(20, this.out.columns ?? 80));
  }
}
