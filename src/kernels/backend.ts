// The compute-engine contract: one interface, two implementations.
//   ref  — plain TypeScript loops (src/kernels/ref), the readable oracle; never deleted.
//   wasm — AssemblyScript compiled to WebAssembly SIMD (src/kernels/wasm), threaded over shared memory.
// Conventions (llm.c): outputs first, then inputs, then weights, then sizes, then scalars.
// Kernels never allocate; the caller owns every buffer. All matrices are row-major and dense.
// Glossary: B batch, T sequence, C width, H heads, Hkv key/value heads, D head dim, F FFN width, V vocab,
// N = rows (usually B·T), M/K/N in matmul are the usual GEMM sizes.

/**
 * Attention mask family. Positions: query row i sits at absolute position `qStart + i`, key j at `j`.
 * blockDiffusion (training only): BD3-LM's mask over [x_t ⊕ x_0] (Tq = Tk = 2n, n = Tk/2; round2-reference.md
 * §2.1): a noisy query (p < n) of block b sees the noisy keys of block b and the clean keys of blocks < b, a
 * clean query the clean keys of blocks ≤ b, where block = (index mod n) / blockLength.
 */
export type MaskKind = 'none' | 'causal' | 'blockCausal' | 'blockDiffusion';

export interface AttentionShape {
  B: number; // batch
  Tq: number; // query rows per batch entry
  Tk: number; // key rows per batch entry (Tk >= Tq when a KV cache supplies the prefix)
  H: number; // query heads
  Hkv: number; // key/value heads (H % Hkv == 0; GQA shares one K/V head among H/Hkv query heads)
  D: number; // head dim
  scale: number; // usually 1/sqrt(D)
  mask: MaskKind;
  /** absolute position of query row 0 (causal and blockCausal compare against key index j) */
  qStart: number;
  /** blockCausal: a query in block floor(p/blockLength) sees keys of that block and all earlier ones; blockDiffusion: the block */
  blockLength: number;
  /** optional key padding (B, Tk): 1 = attend, 0 = padded. A row that sees no key outputs zeros. */
  keyValid: Uint8Array | null;
}

/** The ops a LLaMA-style bidirectional or causal transformer needs for inference and training. */
export interface Kernels {
  readonly name: 'ref' | 'wasm-simd' | 'wasm-relaxed-simd';
  /** threads that share the work (1 for ref) */
  readonly threads: number;

  /** A Float32Array the kernels can use without copying (wasm: a view into its memory). Zeroed. */
  allocF32(n: number): Float32Array;
  /** Return a buffer from allocF32 (wasm: frees the region; ref: no-op). */
  free(buf: Float32Array | Int32Array | Uint8Array | Int8Array | Uint16Array): void;
  allocI32(n: number): Int32Array;
  allocU8(n: number): Uint8Array;
  allocI8(n: number): Int8Array;
  allocU16(n: number): Uint16Array;
  /** Stop worker threads. The kernels must not be used afterwards. */
  dispose(): void;

  // ---- dense linear algebra ------------------------------------------------------------------
  /**
   * out (M, N) = alpha · op(a) · op(b) + beta · out, with op(a) (M, K), op(b) (K, N).
   * transA: a is stored (K, M); transB: b is stored (N, K) (nn.Linear weight layout).
   * beta = 0 ignores the old contents of out (NaN-safe), beta = 1 accumulates (gradients).
   */
  matmul(
    out: Float32Array,
    a: Float32Array,
    b: Float32Array,
    M: number,
    K: number,
    N: number,
    transA: boolean,
    transB: boolean,
    alpha: number,
    beta: number,
  ): void;
  /**
   * Weight-only int8 matmul for inference: out (M, N) = x (M, K) · (wq (N, K) · scales (N))ᵀ.
   * scales are per output channel (per row of wq).
   */
  matmulQ8(out: Float32Array, x: Float32Array, wq: Int8Array, scales: Float32Array, M: number, K: number, N: number): void;
  /**
   * Weight-only 4-bit matmul: out (M, N) = x (M, K) · Wᵀ, W (N, K) in blocks of 32 along K as ggml's Q4_0:
   * q (N, K/2) bytes, byte t of a block holds element t (low nibble) and t + 16 (high nibble), value =
   * (nibble − 8) · scales (N, K/32). K must be a multiple of 32 (quantize.ts Q4_BLOCK).
   */
  matmulQ4(out: Float32Array, x: Float32Array, q: Uint8Array, scales: Float32Array, M: number, K: number, N: number): void;

  // ---- elementwise and row ops ---------------------------------------------------------------
  /** out (n) = a + b (residual add; out may alias a or b) */
  add(out: Float32Array, a: Float32Array, b: Float32Array, n: number): void;
  /** out (rows, cols) = x (rows, cols) + bias (cols) broadcast over rows (q/k/v biases); out may alias x */
  addBias(out: Float32Array, x: Float32Array, bias: Float32Array, rows: number, cols: number): void;
  /** RMSNorm: out (N, C) = x · rsqrt(mean(x²) + eps) · w (C); rstd (N) saved for backward */
  rmsnormForward(out: Float32Array, rstd: Float32Array, x: Float32Array, w: Float32Array, N: number, C: number, eps: number): void;
  /** dx (N, C) = ∂/∂x (overwritten); dw (C) += ∂/∂w (accumulated) */
  rmsnormBackward(
    dx: Float32Array,
    dw: Float32Array,
    dout: Float32Array,
    x: Float32Array,
    w: Float32Array,
    rstd: Float32Array,
    N: number,
    C: number,
  ): void;
  /**
   * Rotary embedding, rotate-half layout (LLaMA/HF): for i < D/2, with c = cos[pos, i], s = sin[pos, i]:
   *   out[i] = x[i]·c − x[i+D/2]·s ;  out[i+D/2] = x[i+D/2]·c + x[i]·s
   * x, out (N, H, D) (out may alias x); positions (N); cos, sin (P, D/2) from ropeTable().
   */
  ropeForward(
    out: Float32Array,
    x: Float32Array,
    positions: Int32Array,
    cos: Float32Array,
    sin: Float32Array,
    N: number,
    H: number,
    D: number,
  ): void;
  /** Backward of ropeForward (rotation by −angle). dx may alias dout. */
  ropeBackward(
    dx: Float32Array,
    dout: Float32Array,
    positions: Int32Array,
    cos: Float32Array,
    sin: Float32Array,
    N: number,
    H: number,
    D: number,
  ): void;
  /** SwiGLU: out (n) = silu(gate) · up, silu(g) = g·σ(g) */
  swigluForward(out: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;
  /** dgate, dup (n) overwritten */
  swigluBackward(dgate: Float32Array, dup: Float32Array, dout: Float32Array, gate: Float32Array, up: Float32Array, n: number): void;
  /** Row softmax, max-subtracted: out (rows, cols); out may alias x; a row that is all −Infinity gives zeros */
  softmaxForward(out: Float32Array, x: Float32Array, rows: number, cols: number): void;
  /** dx = y ⊙ (dy − Σ dy⊙y) per row; dx may alias dy */
  softmaxBackward(dx: Float32Array, dy: Float32Array, y: Float32Array, rows: number, cols: number): void;

  // ---- attention -----------------------------------------------------------------------------
  /**
   * out (B, Tq, H, D) = softmax(q·kᵀ·scale + mask) · v, streamed over keys (online softmax), so memory stays
   * O(Tq·D) per head. q (B, Tq, H, D); k, v (B, Tk, Hkv, D); lse (B, H, Tq) = log Σ exp(scores) for backward
   * (−Infinity for a row that sees no key).
   */
  attentionForward(out: Float32Array, lse: Float32Array, q: Float32Array, k: Float32Array, v: Float32Array, s: AttentionShape): void;
  /** Gradients of attentionForward; dq, dk, dv overwritten (same shapes as q, k, v). */
  attentionBackward(
    dq: Float32Array,
    dk: Float32Array,
    dv: Float32Array,
    dout: Float32Array,
    q: Float32Array,
    k: Float32Array,
    v: Float32Array,
    out: Float32Array,
    lse: Float32Array,
    s: AttentionShape,
  ): void;

  // ---- loss, embeddings, optimizer -----------------------------------------------------------
  /**
   * Weighted cross-entropy per row: losses (N) = weights[i] · (logsumexp(logits[i]) − logits[i, targets[i]]).
   * Rows with target < 0 or weight 0 give 0. logits (N, V).
   */
  crossEntropyForward(losses: Float32Array, logits: Float32Array, targets: Int32Array, weights: Float32Array, N: number, V: number): void;
  /** dlogits (N, V) = scale · weights[i] · (softmax(logits[i]) − onehot(targets[i])), 0 for ignored rows */
  crossEntropyBackward(
    dlogits: Float32Array,
    logits: Float32Array,
    targets: Int32Array,
    weights: Float32Array,
    N: number,
    V: number,
    scale: number,
  ): void;
  /** out (N, C) = table (Vocab, C) [ids (N)] */
  embeddingForward(out: Float32Array, table: Float32Array, ids: Int32Array, N: number, C: number): void;
  /** dtable (Vocab, C) += scatter of dout (N, C) by ids (deterministic order) */
  embeddingBackward(dtable: Float32Array, dout: Float32Array, ids: Int32Array, N: number, C: number): void;
  /**
   * One AdamW step in PyTorch's form (decoupled weight decay, bias-corrected), `step` counts from 1:
   *   p ← p·(1 − lr·wd); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
   *   p ← p − (lr / (1−β1^step)) · m / (√v / √(1−β2^step) + eps)
   */
  adamwStep(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, o: AdamWParams): void;

  // ---- conversions ---------------------------------------------------------------------------
  f16ToF32(out: Float32Array, x: Uint16Array, n: number): void;
  /** round to nearest even; overflow → ±Inf; NaN stays NaN */
  f32ToF16(out: Uint16Array, x: Float32Array, n: number): void;
  bf16ToF32(out: Float32Array, x: Uint16Array, n: number): void;
  /** round to nearest even; NaN stays NaN */
  f32ToBf16(out: Uint16Array, x: Float32Array, n: number): void;
}

export interface AdamWParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  step: number;
}
