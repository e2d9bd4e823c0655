// Every tolerance of the kernel tests, in one table, each with the reason for its size (docs/style.md §3.6).
// u = 2^-24 is f32's unit roundoff: one correctly rounded f32 operation is off by at most u relative.
// The reference sums in f64 and rounds once, so it is within ½ ulp of the exact result; a fast backend sums in
// f32, in its own order (SIMD lanes, blocks, threads), with FMA, and with its own single-precision exp. For a
// sum of n terms done that way the rounding error is a random walk: about √n·u·Σ|terms| at a few standard
// deviations (Higham & Mary, "A new approach to probabilistic rounding error analysis", 2019), hence the √n.
// The worst-case bound n·u·Σ|terms| would be needlessly loose. Data-dependent scales (Σ|terms|, max |x|) are
// computed by the caller from the actual inputs.

/** f32 unit roundoff, 2^-24 */
export const U = 2 ** -24;

export interface Tol {
  atol: number;
  rtol: number;
}

/** outputs that are below f32's normal range (1.2e-38) may be flushed to 0 by a fast exp; nothing else is this small */
const FLUSH = 1e-30;

export const TOL = {
  // ---- the reference against independent references -----------------------------------------------------
  /** ref matmul vs a naive f64 loop: the same f64 sums in the same order, so at most a different last rounding */
  refVsNaive: { atol: 0, rtol: 2 * U } as Tol,
  /**
   * ref backward (f32 in and out) vs central differences of the ref forward run in f64 with h = 1e-4
   * (helpers/finite-diff.ts): FD truncation h²/6·|f'''| ≈ 2e-9 and f64 rounding 2^-53·|L|/h ≈ 1e-11 for the O(1)
   * data used. The backward sums in f64 but reads f32-rounded saved values (rstd, lse, out) and rounds its result:
   * a few u (6e-8) relative to its terms, whose sums stay ≲ 4 on the small shapes used; 1e-6 leaves ~10× room.
   */
  finiteDiff: { atol: 1e-6, rtol: 1e-5 } as Tol,
  /** matmulQ8 (scale after the dot) vs f32 matmul on q·scale rounded to f32: that rounding (u per weight) over K terms */
  q8VsDequant: (sumAbs: number): Tol => ({ atol: 2 * U * sumAbs, rtol: 2 * U }),
  /**
   * ref adamw (f32 state) vs torch's formula in f64: ½ ulp per stored m, v, p, carried into the next step;
   * m = β1·m + (1−β1)·g can cancel, so errors are relative to the magnitudes going in (scale = max |p|, |g|, g²)
   */
  adamwVsF64: (scale: number): Tol => ({ atol: 4 * U * scale, rtol: 4 * U }),

  // ---- a fast backend against the reference (test/kernels/parity.ts) -------------------------------------
  /**
   * correctly rounded single operations (add, bias, gather, conversions), and the embedding scatter-add, whose
   * summation order (token order, one f32 add each) is part of the contract: must match bit for bit
   */
  exact: { atol: 0, rtol: 0 } as Tol,
  /** dot products of length K (matmul, matmulQ8); sumAbs = max over outputs of |α|·Σ|a·b| + |β·out| */
  dot: (K: number, sumAbs: number): Tol => ({ atol: 2 * Math.sqrt(K) * U * sumAbs + FLUSH, rtol: 2 * U }),
  /** rmsnorm out and rstd: Σx² has C positive terms (√C·u relative), then sqrt, divide and two products (≤ 8u) */
  rmsnormForward: (C: number): Tol => ({ atol: FLUSH, rtol: (2 * Math.sqrt(C) + 8) * U }),
  /**
   * rmsnorm dx = r·w·g − (r³/C)·x·Σ g·w·x is a difference, exactly cancelling at C = 1: the error is relative to
   * the terms, scale = max(|r·w·g| + |(r³/C)·x|·Σ|g·w·x|), n = C; dw sums N rows, scale = max(Σ|g·x·r| + |dw₀|), n = N
   */
  rmsnormBackward: (n: number, scale: number): Tol => ({ atol: (2 * Math.sqrt(n) + 16) * U * scale, rtol: 8 * U }),
  /** rope: x1·c − x2·s is a two-term difference (FMA or not); scale = max |x| */
  rope: (scale: number): Tol => ({ atol: 4 * U * scale, rtol: 2 * U }),
  /**
   * swiglu: a single-precision exp (≲ 4 ulp), a divide and two products; dgate's factor 1 + g·(1 − σ) cancels
   * near g ≈ −1.28, so its error is relative to |dout·up| (the factor times σ is ≤ 1.1); scale = max |dout·up|
   */
  swiglu: (scale: number): Tol => ({ atol: 32 * U * scale + FLUSH, rtol: 32 * U }),
  /**
   * softmax p = exp(x − max) / Σ: the row sum of `cols` positive terms and the exp (≲ 4 ulp) are relative errors;
   * x − max rounded in f32 is off by u·|x − max|, which moves p by at most u/e absolute (p·|x − max| = t·e^-t ≤ 1/e)
   */
  softmaxForward: (cols: number): Tol => ({ atol: 2 * U + FLUSH, rtol: (2 * Math.sqrt(cols) + 16) * U }),
  /** softmax dx_i = y_i·(dy_i − Σ dy·y): the dot has Σ|dy·y| ≤ max|dy| (Σy = 1), scaled by y_i; scale = max|dy|·max y */
  softmaxBackward: (cols: number, scale: number): Tol => ({ atol: (2 * Math.sqrt(cols) + 8) * U * scale, rtol: 8 * U }),
  /**
   * attention out and lse, for unit-normal q, k, v and scale = 1/√D: a score is a D-term dot whose rounding
   * is a random walk of about √D·u/2 (2√D·u bounds it); it moves exp by that relative amount; the row sum has
   * Tk terms; the exp, online-softmax rescaling and division add ≲ 16u; out averages v (|v| ≲ 5), lse ≲ 5
   */
  attentionForward: (D: number, Tk: number): Tol => ({ atol: 5 * (2 * Math.sqrt(D) + 2 * Math.sqrt(Tk) + 16) * U, rtol: 16 * U }),
  /**
   * attention dq, dk, dv: sums over Tk keys (dq) or Tq·H/Hkv query rows (dk, dv, n) of recomputed
   * probabilities (error as in the forward) times D-term dots, through the cancelling dout·v − rowsum(dout ⊙ out);
   * normwise, scale = max |expected| of the tensor
   */
  attentionBackward: (D: number, n: number, scale: number): Tol => ({
    atol: (8 * Math.sqrt(D) + 8 * Math.sqrt(n) + 32) * U * scale,
    rtol: 32 * U,
  }),
  /**
   * cross-entropy loss = w·(max + log Σexp(x − max) − x_t): the sum has V terms, exp ≲ 4 ulp, the subtraction
   * is off by u·(|lse| + |x_t|); scale = max|w|·(1 + max|logit|)
   */
  crossEntropyForward: (V: number, scale: number): Tol => ({ atol: (2 * Math.sqrt(V) + 32) * U * scale, rtol: 8 * U }),
  /**
   * dlogits = scale·w·(p − onehot), p in [0, 1] as in softmaxForward, but p = exp(x − lse) with lse rounded to
   * f32 is off by u·|lse| relative, which p − 1 at the target can amplify into a large relative error (seen:
   * 3e-4 at logits ≈ 250); scale = max|scale·w|, maxLogit = max |logit|
   */
  crossEntropyBackward: (V: number, scale: number, maxLogit: number): Tol => ({
    atol: (2 * Math.sqrt(V) + 2 * maxLogit + 32) * U * scale + FLUSH,
    rtol: 32 * U,
  }),
  /**
   * adamw, per element a handful of f32 operations (≲ 8u) on each of: p·(1 − lr·wd), the update, and the
   * moments; m = β1·m + (1−β1)·g can cancel, so scale = max of the magnitudes involved (|p|, |m| + |g|, g²…)
   */
  adamw: (scale: number): Tol => ({ atol: 8 * U * scale, rtol: 8 * U }),
};
