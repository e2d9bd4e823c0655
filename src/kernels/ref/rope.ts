// Reference rotary embedding (Su et al. 2021), rotate-half layout as HF LLaMA's apply_rotary_pos_emb:
// the pair (x[i], x[i + D/2]) is rotated by the angle of frequency i. Backward rotates by the negative angle.
import { need, type Vec } from './types.js';

function rotate(
  op: string,
  out: Vec,
  x: Vec,
  positions: Int32Array,
  cos: Vec,
  sin: Vec,
  N: number,
  H: number,
  D: number,
  sign: 1 | -1,
): void {
  if (D % 2 !== 0) throw new Error(`${op}: head dim D=${D} must be even`);
  need(op, 'out', out, N * H * D);
  need(op, 'x', x, N * H * D);
  need(op, 'positions', positions, N);
  const half = D / 2;
  const P = half === 0 ? 0 : Math.floor(cos.length / half); // table rows
  if (sin.length !== cos.length) throw new Error(`${op}: cos and sin tables differ in length`);
  for (let n = 0; n < N; n++) {
    const p = positions[n]!;
    if (p < 0 || p >= P) throw new Error(`${op}: positions[${n}] = ${p} is outside the table's 0..${P - 1}`);
    for (let h = 0; h < H; h++) {
      const base = (n * H + h) * D; // start of x[n, h, :]
      for (let i = 0; i < half; i++) {
        const c = cos[p * half + i]!;
        const s = sign * sin[p * half + i]!;
        const x1 = x[base + i]!;
        const x2 = x[base + i + half]!;
        out[base + i] = x1 * c - x2 * s;
        out[base + i + half] = x2 * c + x1 * s;
      }
    }
  }
}

/** out (N, H, D) = x rotated by positions (N) through cos, sin (P, D/2); out may alias x */
export function ropeForward(out: Vec, x: Vec, positions: Int32Array, cos: Vec, sin: Vec, N: number, H: number, D: number): void {
  rotate('ropeForward', out, x, positions, cos, sin, N, H, D, 1);
}

/** dx (N, H, D) = dout rotated back (the transpose of a rotation is its inverse); dx may alias dout */
export function ropeBackward(dx: Vec, dout: Vec, positions: Int32Array, cos: Vec, sin: Vec, N: number, H: number, D: number): void {
  rotate('ropeBackward', dx, dout, positions, cos, sin, N, H, D, -1);
}
