// Reference row softmax, max-subtracted so exp never overflows (inputs of ±300 are fine), and its backward.
import { need, type Vec } from './types.js';

/**
 * out (rows, cols) = softmax of each row of x (rows, cols); out may alias x.
 * A row whose entries are all −Infinity has no defined softmax; it gets zeros (as attention's empty rows do).
 */
export function softmaxForward(out: Vec, x: Vec, rows: number, cols: number): void {
  need('softmaxForward', 'out', out, rows * cols);
  need('softmaxForward', 'x', x, rows * cols);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    let max = -Infinity;
    for (let c = 0; c < cols; c++) max = Math.max(max, x[row + c]!);
    if (max === -Infinity) {
      for (let c = 0; c < cols; c++) out[row + c] = 0;
      continue;
    }
    let sum = 0;
    for (let c = 0; c < cols; c++) sum += Math.exp(x[row + c]! - max);
    for (let c = 0; c < cols; c++) out[row + c] = Math.exp(x[row + c]! - max) / sum;
  }
}

/** dx (rows, cols) = y ⊙ (dy − Σ dy⊙y) per row, from dy, y (rows, cols); dx may alias dy */
export function softmaxBackward(dx: Vec, dy: Vec, y: Vec, rows: number, cols: number): void {
  need('softmaxBackward', 'dx', dx, rows * cols);
  need('softmaxBackward', 'dy', dy, rows * cols);
  need('softmaxBackward', 'y', y, rows * cols);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    let dot = 0;
    for (let c = 0; c < cols; c++) dot += dy[row + c]! * y[row + c]!;
    for (let c = 0; c < cols; c++) dx[row + c] = y[row + c]! * (dy[row + c]! - dot);
  }
}
