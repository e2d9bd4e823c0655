// The canvas cell by cell, as the playground draws it (the server's diffusing frames and the in-page engine
// build the same cells from here): [text | null while masked, the confidence it was committed with]. Every
// cell of the generated span is there — masked cells after an early end token too, since they are still part
// of the canvas being denoised — but a committed cell at or after the first end token shows as '' (it is not
// part of the answer: generation stops at the end token).
import type { TextTokenizer } from '../tokenizer/index.js';

export type CanvasCell = [text: string | null, confidence: number | null];

const round = (x: number) => Math.round(x * 1000) / 1000;

/** canvas (G) ids, mask id where undecided; confidence (G), NaN where never committed; ends: EOS/EoT ids */
export function canvasCells(
  tok: TextTokenizer,
  canvas: Int32Array,
  confidence: Float32Array,
  mask: number,
  ends: readonly number[],
): CanvasCell[] {
  let end = canvas.findIndex((t) => ends.includes(t));
  if (end < 0) end = canvas.length;
  const cells: CanvasCell[] = [];
  for (let i = 0; i < canvas.length; i++) {
    const masked = canvas[i] === mask,
      conf = confidence[i]!;
    const text = masked ? null : i >= end ? '' : tok.decode(canvas.subarray(i, i + 1), { skipSpecialTokens: true });
    cells.push([text, masked || Number.isNaN(conf) ? null : round(Math.max(0, conf))]);
  }
  return cells;
}
