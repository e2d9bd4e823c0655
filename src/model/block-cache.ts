// The bookkeeping of DiffusionLM's exact block-causal cache (cache mode 'block'; round2-reference.md §2.5).
// Under a block-causal mask (key j visible to query p iff floor(j/L) ≤ floor(p/L)) the keys and values of a
// column depend only on the inputs of its own block and the blocks before it. So after a forward that wrote
// columns [0, exact) of the cache from some inputs (tokens, positions, key padding), those columns stay exact
// for any later input that agrees with them on [0, c): the cache is reusable up to floor(min(c, exact)/L)·L,
// the start of the first block whose inputs changed. The decoding loop changes only the active block (and a
// finished block is never touched again), so each step recomputes the active block alone, and the step that
// opens a new block recomputes the block that just finished (now clean) with it: SDAR's "store_kv" forward
// and dInfer's extra forward after a block, fused into the new block's first step. Layout changes (a row
// joining or leaving, a row moved by padding) show up as differing inputs and fall back to recomputing from
// there — nothing is trusted that was not checked.
// Letters: B rows, T columns, L block.

/** the inputs that wrote the exact columns [0, exact) of the cache */
export class BlockCacheState {
  private constructor(
    readonly B: number,
    readonly T: number,
    readonly L: number,
    private readonly tokens: Int32Array, // (B, T)
    private readonly positions: Int32Array, // (B, T)
    private readonly keyValid: Uint8Array | null, // (B, T); null = every key valid
    readonly exact: number,
  ) {}

  /** the state after a forward over these inputs left columns [0, exact) exact */
  static after(
    B: number,
    T: number,
    L: number,
    tokens: Int32Array,
    positions: Int32Array,
    keyValid: Uint8Array | null,
    exact: number,
  ): BlockCacheState {
    return new BlockCacheState(B, T, L, tokens.slice(), positions.slice(), keyValid ? keyValid.slice() : null, exact);
  }

  /**
   * how many leading columns of the cache are exact for these inputs: the start of the first block (of L
   * columns) where any row's token, position or key padding differs from the stored ones, at most `exact`
   */
  reusable(B: number, T: number, L: number, tokens: Int32Array, positions: Int32Array, keyValid: Uint8Array | null): number {
    if (B !== this.B || T !== this.T || L !== this.L) return 0;
    let first = this.exact;
    for (let b = 0; b < B && first > 0; b++) {
      for (let j = 0; j < first; j++) {
        const i = b * T + j;
        const valid = keyValid ? keyValid[i]! : 1,
          was = this.keyValid ? this.keyValid[i]! : 1;
        if (valid !== was || (valid !== 0 && (tokens[i] !== this.tokens[i] || positions[i] !== this.positions[i]))) {
          first = j;
          break;
        }
      }
    }
    return Math.floor(first / L) * L;
  }
}
