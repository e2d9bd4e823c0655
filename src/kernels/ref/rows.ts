// Reference row and elementwise ops: residual add, bias, RMSNorm, RoPE, SwiGLU, softmax, forward and backward.

export function add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = a[i]! + b[i]!;
}

export function addBias(out: Float32Array, x: Float32Array, bias: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[r * cols + c] = x[r * cols + c]! + bias[c]!;
}

/** out (N, C) = x · rstd · w, rstd (N) = 1/√(mean(x²) + eps) */
export function rmsnormForward(out: Float32Array, rstd: Float32Array, x: Float32Array, w: Float32Array, N: number, C: number, eps: number): void {
  for (let n = 0; n < N; n++) {
    let ss = 0;
    for (let c = 0; c < C; c++) ss += x[n * C + c]! * x[n * C + c]!;
    const r = 1 / Math.sqrt(ss / C + eps);
    rstd[n] = r;
    for (let c = 0; c < C; c++) out[n * C + c] = x[n * C + c]! * r * w[c]!;
  }
}

/** y = w ⊙ x̂, x̂ = x·r: dx = r·(g − x̂·mean(g ⊙ x̂)) with g = dout ⊙ w; dw += Σ_n dout ⊙ x̂ */
export function rmsnormBackward(dx: Float32Array, dw: Float32Array, dout: Float32Array, x: Float32Array, w: Float32Array,
  rstd: Float32Array, N: number, C: number): void {
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) s += dout[n * C + c]! * x[n * C + c]! * rstd[n]!;
    dw[c] = dw[c]! + s;
  }
  for (let n = 0; n < N; n++) {
    const r = rstd[n]!;
    let dot = 0;
    for (let c = 0; c < C; c++) dot += dout[n * C + c]! * w[c]! * x[n * C + c]! * r;
    const mean = dot / C;
    for (let c = 0; c < C; c++) dx[n * C + c] = r * (dout[n * C + c]! * w[c]! - x[n * C + c]! * r * mean);
  }
}

/** rotate-half RoPE; sign = −1 rotates back (the backward pass) */
function rope(out: Float32Array, x: Float32Array, positions: Int32Array, cos: Float32Array, sin: Float32Array,
  N: number, H: number, D: number, sign: number): void {
  const half = D / 2;
  for (let n = 0; n < N; n++) {
    const p = positions[n]!;
    for (let h = 0; h < H; h++) {
      const o = (n * H + h) * D;
      for (let i = 0; i < half; i++) {
        const c = cos[p * half + i]!, s = sign * sin[p * half + i]!;
        const x1 = x[o + i]!, x2 = x[o + i + half]!;
        out[o + i] = x1 * c - x2 * s;
        out[o + i + half] = x2 * c + x1 * s;
      }
    }
  }
}

export function ropeForward(out: Float32Array, x: Float32Array, positions: Int32Array, cos: Float32Array, sin: Float32Array, N: number, H: number, D: number): void {
  rope(out, x, positions, cos, sin, N, H, D, 1);
}

export function ropeBackward(dx: Float32Array, dout: Float32Array, positions: Int32Array, cos: Float32Array, sin: Float32Array, N: number, H: number, D: number): void {
  rope(dx, dout, positions, cos, sin, N, H, D, -1);
}

const sigmoid = (g: number) => 1 / (1 + Math.exp(-g));

export function swigluForward(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) out[i] = gate[i]! * sigmoid(gate[i]!) * up[i]!;
}

export function swigluBackward(dgate: Float32Array, dup: Float32Array, dout: Float32Array, gate: Float32Array, up: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) {
    const g = gate[i]!, s = sigmoid(g), d = dout[i]!;
    dgate[i] = d * up[i]! * s * (1 + g * (1 - s));
    dup[i] = d * g * s;
  }
}

export function softmaxForward(out: Float32Array, x: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    let m = -Infinity;
    for (let c = 0; c < cols; c++) m = Math.max(m, x[r * cols + c]!);
    let sum = 0;
    const e = new Float64Array(cols);
    for (let c = 0; c < cols; c++) { e[c] = Math.exp(x[r * cols + c]! - m); sum += e[c]!; }
    for (let c = 0; c < cols; c++) out[r * cols + c] = e[c]! / sum;
  }
}

export function softmaxBackward(dx: Float32Array, dy: Float32Array, y: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    let dot = 0;
    for (let c = 0; c < cols; c++) dot += dy[r * cols + c]! * y[r * cols + c]!;
    for (let c = 0; c < cols; c++) dx[r * cols + c] = y[r * cols + c]! * (dy[r * cols + c]! - dot);
  }
}
