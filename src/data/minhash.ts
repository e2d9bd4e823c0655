// Near-duplicate detection: MinHash signatures over word 5-gram shingles and LSH banding (Broder 1997;
// Leskovec et al., Mining of Massive Datasets ch. 3). A pair becomes a candidate when one band of ROWS
// signature values agrees, then counts as a duplicate when the signature estimate of Jaccard similarity
// reaches the threshold. BANDS·ROWS = 64 puts the LSH S-curve's midpoint at (1/8)^(1/8) ≈ 0.77, below the
// 0.85 threshold, so few true duplicates escape the candidate stage.

export const NUM_HASHES = 64;
export const BANDS = 8;
export const ROWS = NUM_HASHES / BANDS;
/** StarCoder / The Stack near-dedup threshold */
export const JACCARD_THRESHOLD = 0.85;
export const SHINGLE = 5;

/** FNV-1a 32-bit over a string's UTF-16 code units */
export function fnv1a(s: string, seed = 0x811c9dc5): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** murmur3's 32-bit finaliser: a cheap, well-mixed permutation of x (salted per hash function) */
function mix(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x85ebca6b);
  x ^= x >>> 13;
  x = Math.imul(x, 0xc2b2ae35);
  x ^= x >>> 16;
  return x >>> 0;
}

const SALTS = Uint32Array.from({ length: NUM_HASHES }, (_, i) => mix(0x9e3779b9 + i * 0x7f4a7c15));

/** the whitespace tokens of a text */
export function words(text: string): string[] {
  return text.split(/\s+/).filter(Boolean);
}

/** MinHash signature (NUM_HASHES) of the set of word SHINGLE-grams; a text shorter than one shingle is one shingle */
export function signature(text: string): Uint32Array {
  const w = words(text).map((x) => fnv1a(x));
  const shingles = new Set<number>();
  const n = Math.max(1, w.length - SHINGLE + 1);
  for (let i = 0; i < n; i++) {
    let h = 0x811c9dc5;
    for (let j = i; j < Math.min(w.length, i + SHINGLE); j++) h = Math.imul(h ^ w[j]!, 0x01000193) >>> 0;
    shingles.add(h);
  }
  const sig = new Uint32Array(NUM_HASHES).fill(0xffffffff);
  for (const s of shingles) {
    for (let k = 0; k < NUM_HASHES; k++) {
      const v = mix(s ^ SALTS[k]!);
      if (v < sig[k]!) sig[k] = v;
    }
  }
  return sig;
}

export function estimatedJaccard(a: Uint32Array, b: Uint32Array): number {
  let same = 0;
  for (let k = 0; k < NUM_HASHES; k++) if (a[k] === b[k]) same++;
  return same / NUM_HASHES;
}

/**
 * Streaming near-dedup: `add` returns the index of an earlier kept document this one nearly duplicates
 * (then it is not kept), or −1 (kept). Documents are compared only with kept ones, in the order added, so
 * the result depends only on that order.
 */
export class NearDedup {
  private readonly sigs: Uint32Array[] = [];
  private readonly buckets: Map<string, number[]>[] = Array.from({ length: BANDS }, () => new Map());

  add(sig: Uint32Array): number {
    const keys: string[] = [];
    for (let b = 0; b < BANDS; b++) {
      const key = Array.from(sig.subarray(b * ROWS, (b + 1) * ROWS)).join(',');
      keys.push(key);
      for (const j of this.buckets[b]!.get(key) ?? []) if (estimatedJaccard(sig, this.sigs[j]!) >= JACCARD_THRESHOLD) return j;
    }
    const id = this.sigs.length;
    this.sigs.push(sig);
    keys.forEach((key, b) => {
      const list = this.buckets[b]!.get(key);
      if (list) list.push(id);
      else this.buckets[b]!.set(key, [id]);
    });
    return -1;
  }
}
