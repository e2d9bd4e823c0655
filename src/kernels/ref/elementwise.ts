// Reference residual add and bias add. One f64 add per element then one rounding to f32, which equals a
// correctly rounded f32 add (53 ≥ 2·24 + 2, so double rounding is harmless): fast kernels must match bit for bit.
import { need, type Vec } from './types.js';

/** out (n) = a (n) + b (n); out may alias a or b */
export function add(out: Vec, a: Vec, b: Vec, n: number): void {
  need('add', 'out', out, n);
  need('add', 'a', a, n);
  need('add', 'b', b, n);
  for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!;
}

/** out (rows, cols) = x (rows, cols) + bias (cols), broadcast over rows; out may alias x */
export function addBias(out: Vec, x: Vec, bias: Vec, rows: number, cols: number): void {
  need('addBias', 'out', out, rows * cols);
  need('addBias', 'x', x, rows * cols);
  need('addBias', 'bias', bias, cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[r * cols + c] = x[r * cols + c]! + bias[c]!;
  }
}
