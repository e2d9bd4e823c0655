// Row-wise and elementwise ops: residual add, RMSNorm, RoPE, SwiGLU, softmax — forward and backward.
// Row ops take items = rows; flat elementwise ops take items = chunks of CHUNK elements.
import { exp4, exp1, hsum4 } from './simd';

export const CHUNK: i32 = 4096;

// @ts-ignore: decorator
@inline function at(p: usize, i: i32): usize { return p + (<usize>i << 2); }

/** out (n) = a + b; items = chunks */
export function addTask(start: i32, end: i32, tid: i32, out: usize, a: usize, b: usize, n: i32): void {
  const i1 = min(n, end * CHUNK);
  let i = start * CHUNK;
  for (; i + 4 <= i1; i += 4) v128.store(at(out, i), f32x4.add(v128.load(at(a, i)), v128.load(at(b, i))));
  for (; i < i1; i++) store<f32>(at(out, i), load<f32>(at(a, i)) + load<f32>(at(b, i)));
}

/** out (rows, cols) = x + bias (cols); items = rows */
export function addBiasTask(start: i32, end: i32, tid: i32, out: usize, x: usize, bias: usize, cols: i32): void {
  for (let r = start; r < end; r++) {
    const xr = at(x, r * cols), orow = at(out, r * cols);
    let c = 0;
    for (; c + 4 <= cols; c += 4) v128.store(at(orow, c), f32x4.add(v128.load(at(xr, c)), v128.load(at(bias, c))));
    for (; c < cols; c++) store<f32>(at(orow, c), load<f32>(at(xr, c)) + load<f32>(at(bias, c)));
  }
}

// Σ x² over one row, 4 lanes then a fixed-order horizontal sum
// @ts-ignore: decorator
@inline function sumSquares(x: usize, C: i32): f32 {
  let acc = f32x4.splat(0);
  let c = 0;
  for (; c + 4 <= C; c += 4) { const v = v128.load(at(x, c)); acc = f32x4.add(acc, f32x4.mul(v, v)); }
  let s = hsum4(acc);
  for (; c < C; c++) { const v = load<f32>(at(x, c)); s += v * v; }
  return s;
}

/** out (N, C) = x · rstd · w; rstd (N) = 1/√(mean(x²) + eps); items = rows */
export function rmsnormForwardTask(start: i32, end: i32, tid: i32,
  out: usize, rstd: usize, x: usize, w: usize, C: i32, eps: f32): void {
  for (let n = start; n < end; n++) {
    const xr = at(x, n * C);
    const orow = at(out, n * C);
    const r: f32 = 1 / Mathf.sqrt(sumSquares(xr, C) / <f32>C + eps);
    store<f32>(at(rstd, n), r);
    const vr = f32x4.splat(r);
    let c = 0;
    for (; c + 4 <= C; c += 4) v128.store(at(orow, c), f32x4.mul(f32x4.mul(v128.load(at(xr, c)), vr), v128.load(at(w, c))));
    for (; c < C; c++) store<f32>(at(orow, c), load<f32>(at(xr, c)) * r * load<f32>(at(w, c)));
  }
}

/** dx (N, C) = r · (g − x̂ · mean(g ⊙ x̂)), g = dout ⊙ w, x̂ = x · r; items = rows */
export function rmsnormBackwardXTask(start: i32, end: i32, tid: i32,
  dx: usize, dout: usize, x: usize, w: usize, rstd: usize, C: i32): void {
  for (let n = start; n < end; n++) {
    const r = load<f32>(at(rstd, n));
    const xr = at(x, n * C), dr = at(dout, n * C), dxr = at(dx, n * C);
    let dot: f32 = 0;
    for (let c = 0; c < C; c++) dot += load<f32>(at(dr, c)) * load<f32>(at(w, c)) * load<f32>(at(xr, c)) * r;
    const meanDot = dot / <f32>C;
    for (let c = 0; c < C; c++) {
      const xhat = load<f32>(at(xr, c)) * r;
      store<f32>(at(dxr, c), r * (load<f32>(at(dr, c)) * load<f32>(at(w, c)) - xhat * meanDot));
    }
  }
}

/** dw (C) += Σ_n dout[n] ⊙ x[n] · rstd[n]; items = chunks of 64 columns, rows summed in order */
export function rmsnormBackwardWTask(start: i32, end: i32, tid: i32,
  dw: usize, dout: usize, x: usize, rstd: usize, N: i32, C: i32): void {
  const c1 = min(C, end * 64);
  for (let c = start * 64; c < c1; c++) {
    let s: f32 = 0;
    for (let n = 0; n < N; n++) s += load<f32>(at(dout, n * C + c)) * load<f32>(at(x, n * C + c)) * load<f32>(at(rstd, n));
    store<f32>(at(dw, c), load<f32>(at(dw, c)) + s);
  }
}

/** rotate-half RoPE over rows (N, H, D); sign = +1 forward, −1 backward (rotation by −angle); items = rows */
export function ropeTask(start: i32, end: i32, tid: i32,
  out: usize, x: usize, positions: usize, cos: usize, sin: usize, H: i32, D: i32, sign: f32): void {
  const half = D >> 1;
  const vs = f32x4.splat(sign);
  for (let n = start; n < end; n++) {
    const pos = load<i32>(at(positions, n));
    const cr = at(cos, pos * half), sr = at(sin, pos * half);
    for (let h = 0; h < H; h++) {
      const xr = at(x, (n * H + h) * D), orow = at(out, (n * H + h) * D);
      let i = 0;
      for (; i + 4 <= half; i += 4) {
        const x1 = v128.load(at(xr, i)), x2 = v128.load(at(xr, i + half));
        const c = v128.load(at(cr, i)), s = f32x4.mul(v128.load(at(sr, i)), vs);
        v128.store(at(orow, i), f32x4.sub(f32x4.mul(x1, c), f32x4.mul(x2, s)));
        v128.store(at(orow, i + half), f32x4.add(f32x4.mul(x2, c), f32x4.mul(x1, s)));
      }
      for (; i < half; i++) {
        const x1 = load<f32>(at(xr, i)), x2 = load<f32>(at(xr, i + half));
        const c = load<f32>(at(cr, i)), s = load<f32>(at(sr, i)) * sign;
        store<f32>(at(orow, i), x1 * c - x2 * s);
        store<f32>(at(orow, i + half), x2 * c + x1 * s);
      }
    }
  }
}

// σ(g) for 4 lanes: 1 / (1 + e^−g); e^−g overflows to +Inf for g < −88.7, giving σ = 0 as it should
// @ts-ignore: decorator
@inline function sigmoid4(g: v128): v128 {
  return f32x4.div(f32x4.splat(1), f32x4.add(f32x4.splat(1), exp4(f32x4.neg(g))));
}

/** out (n) = g · σ(g) · up; items = chunks */
export function swigluForwardTask(start: i32, end: i32, tid: i32, out: usize, gate: usize, up: usize, n: i32): void {
  const i1 = min(n, end * CHUNK);
  let i = start * CHUNK;
  for (; i + 4 <= i1; i += 4) {
    const g = v128.load(at(gate, i));
    v128.store(at(out, i), f32x4.mul(f32x4.mul(g, sigmoid4(g)), v128.load(at(up, i))));
  }
  for (; i < i1; i++) {
    const g = load<f32>(at(gate, i));
    store<f32>(at(out, i), g * (1 / (1 + exp1(-g))) * load<f32>(at(up, i)));
  }
}

/** dgate = dout · up · σ(g)(1 + g(1 − σ(g))), dup = dout · g · σ(g); items = chunks */
export function swigluBackwardTask(start: i32, end: i32, tid: i32,
  dgate: usize, dup: usize, dout: usize, gate: usize, up: usize, n: i32): void {
  const i1 = min(n, end * CHUNK);
  for (let i = start * CHUNK; i < i1; i++) {
    const g = load<f32>(at(gate, i)), u = load<f32>(at(up, i)), d = load<f32>(at(dout, i));
    const s: f32 = 1 / (1 + exp1(-g));
    store<f32>(at(dgate, i), d * u * s * (1 + g * (1 - s)));
    store<f32>(at(dup, i), d * g * s);
  }
}

/** row softmax, max-subtracted; out may alias x; items = rows */
export function softmaxForwardTask(start: i32, end: i32, tid: i32, out: usize, x: usize, cols: i32): void {
  for (let r = start; r < end; r++) {
    const xr = at(x, r * cols), orow = at(out, r * cols);
    let m = -Infinity as f32;
    for (let c = 0; c < cols; c++) m = max(m, load<f32>(at(xr, c)));
    if (m == -Infinity) { // nothing to attend to: zeros, as the reference and attention do (not NaN)
      for (let c = 0; c < cols; c++) store<f32>(at(orow, c), 0);
      continue;
    }
    const vm = f32x4.splat(m);
    let acc = f32x4.splat(0);
    let c = 0;
    for (; c + 4 <= cols; c += 4) {
      const e = exp4(f32x4.sub(v128.load(at(xr, c)), vm));
      v128.store(at(orow, c), e);
      acc = f32x4.add(acc, e);
    }
    let sum = hsum4(acc);
    for (; c < cols; c++) { const e = exp1(load<f32>(at(xr, c)) - m); store<f32>(at(orow, c), e); sum += e; }
    const inv = f32x4.splat(1 / sum);
    c = 0;
    for (; c + 4 <= cols; c += 4) v128.store(at(orow, c), f32x4.mul(v128.load(at(orow, c)), inv));
    const invs: f32 = 1 / sum;
    for (; c < cols; c++) store<f32>(at(orow, c), load<f32>(at(orow, c)) * invs);
  }
}

/** dx = y ⊙ (dy − Σ dy ⊙ y) per row; dx may alias dy; items = rows */
export function softmaxBackwardTask(start: i32, end: i32, tid: i32, dx: usize, dy: usize, y: usize, cols: i32): void {
  for (let r = start; r < end; r++) {
    const yr = at(y, r * cols), dyr = at(dy, r * cols), dxr = at(dx, r * cols);
    let dot: f32 = 0;
    for (let c = 0; c < cols; c++) dot += load<f32>(at(dyr, c)) * load<f32>(at(yr, c));
    for (let c = 0; c < cols; c++) store<f32>(at(dxr, c), load<f32>(at(yr, c)) * (load<f32>(at(dyr, c)) - dot));
  }
}

/** out (n) = x (n): a plain copy, used to measure memory bandwidth next to GEMV; items = chunks */
export function copyTask(start: i32, end: i32, tid: i32, out: usize, x: usize, n: i32): void {
  const i0 = start * CHUNK, i1 = min(n, end * CHUNK);
  memory.copy(at(out, i0), at(x, i0), <usize>(i1 - i0) << 2);
}
