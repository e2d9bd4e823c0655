// The layout of a block-diffusion model's training and scoring input (BD3-LM's vectorised [x_t ⊕ x_0],
// round2-reference.md §2.1) with Fast-dLLM v2's shifted logits: rows 0..n−1 hold the noisy copy x_t, rows
// n..2n−1 the clean x_0, both at positions 0..n−1, read under the 'blockDiffusion' attention mask.
// Letters: n tokens of the window, L the block length (config bdSize).

/**
 * the row of [x_t ⊕ x_0] whose logits predict token i = 1..n−1: inside a block the noisy row i−1 (the logits
 * at j predict j+1, as the AR weights it starts from were trained); a block's first token the clean row n+i−1,
 * the last column of the finished block before it, which is what the block-cache decoder reads there
 */
export function bdTargetRow(i: number, n: number, L: number): number {
  return i % L === 0 ? n + i - 1 : i - 1;
}

/** (B, 2n) positions 0..n−1 twice per row */
export function bdPositions(B: number, n: number): Int32Array {
  const p = new Int32Array(B * 2 * n);
  for (let i = 0; i < p.length; i++) p[i] = i % n;
  return p;
}
