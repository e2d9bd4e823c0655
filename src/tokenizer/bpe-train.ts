// Train a byte-level BPE tokenizer (GPT-2 style: bytes mapped to printable characters, the GPT-2
// pre-tokenizer regex, merges learned greedily by pair frequency) and write it as a standard tokenizer.json
// that @huggingface/tokenizers (and HF tokenizers in Python, and llama.cpp's gpt2 vocab) load unchanged.
// Ties between equally frequent pairs go to the smaller (left id, right id): deterministic for a corpus.
import { addedToken, byteLevelBpeJson } from './bpe-json.js';

/** GPT-2's pre-tokenizer pattern, the one HF's ByteLevel pre-tokenizer applies with use_regex: true */
export const GPT2_PATTERN = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2 bytes_to_unicode: printable bytes map to themselves, the rest to code points from 256 up */
export function bytesToUnicode(): string[] {
  const keep: number[] = [];
  for (let b = 33; b <= 126; b++) keep.push(b);
  for (let b = 161; b <= 172; b++) keep.push(b);
  for (let b = 174; b <= 255; b++) keep.push(b);
  const map: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) map[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + extra++);
  return map;
}

export interface BpeTrainOptions {
  vocabSize: number; // including the 256 byte tokens and the special tokens
  specialTokens: string[]; // appended after the merges, in this order (e.g. <|endoftext|>, <|mdm_mask|>)
}

interface Word {
  syms: number[];
  count: number;
}

/** count pre-tokenized words of every text */
export function countWords(texts: Iterable<string>): Map<string, number> {
  const counts = new Map<string, number>();
  for (const text of texts) for (const m of text.matchAll(GPT2_PATTERN)) counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
  return counts;
}

// max-heap of (count, pair key); entries go stale when counts change and are re-checked when popped
class PairHeap {
  private c: number[] = [];
  private k: number[] = [];
  push(count: number, key: number): void {
    this.c.push(count);
    this.k.push(key);
    let i = this.c.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(p, i)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): [number, number] | null {
    if (this.c.length === 0) return null;
    const top: [number, number] = [this.c[0]!, this.k[0]!];
    const lc = this.c.pop()!,
      lk = this.k.pop()!;
    if (this.c.length > 0) {
      this.c[0] = lc;
      this.k[0] = lk;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1,
          r = l + 1;
        let m = i;
        if (l < this.c.length && this.less(m, l)) m = l;
        if (r < this.c.length && this.less(m, r)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
  // a is "less" than b when its count is lower, or equal with a larger key (smaller keys win ties)
  private less(a: number, b: number): boolean {
    return this.c[a]! < this.c[b]! || (this.c[a] === this.c[b] && this.k[a]! > this.k[b]!);
  }
  private swap(a: number, b: number): void {
    [this.c[a], this.c[b]] = [this.c[b]!, this.c[a]!];
    [this.k[a], this.k[b]] = [this.k[b]!, this.k[a]!];
  }
}

export interface TrainedBpe {
  vocab: string[];
  merges: [string, string][];
  specialTokens: string[];
}

export function trainBpe(wordCounts: Map<string, number>, opts: BpeTrainOptions): TrainedBpe {
  const b2u = bytesToUnicode();
  const vocab = [...b2u]; // id → token string
  const enc = new TextEncoder();
  const words: Word[] = [];
  for (const [w, count] of wordCounts) words.push({ syms: Array.from(enc.encode(w)), count });
  const KEY = 1 << 20; // pair key = left · KEY + right (ids stay below 2^20)
  const pairCount = new Map<number, number>();
  const where = new Map<number, Set<number>>();
  const addPair = (key: number, wi: number, n: number) => {
    pairCount.set(key, (pairCount.get(key) ?? 0) + n);
    let s = where.get(key);
    if (!s) where.set(key, (s = new Set()));
    s.add(wi);
  };
  words.forEach((w, wi) => {
    for (let i = 0; i + 1 < w.syms.length; i++) addPair(w.syms[i]! * KEY + w.syms[i + 1]!, wi, w.count);
  });
  const heap = new PairHeap();
  for (const [key, c] of pairCount) heap.push(c, key);
  const merges: [string, string][] = [];
  const target = opts.vocabSize - opts.specialTokens.length;
  while (vocab.length < target) {
    const top = heap.pop();
    if (!top) break;
    const [count, key] = top;
    if (pairCount.get(key) !== count || count <= 0) continue; // stale entry
    const a = Math.floor(key / KEY),
      b = key % KEY;
    const id = vocab.length;
    vocab.push(vocab[a]! + vocab[b]!);
    merges.push([vocab[a]!, vocab[b]!]);
    const touched = new Set<number>();
    for (const wi of where.get(key) ?? []) {
      const w = words[wi]!;
      // remove this word's old pairs, merge, add its new pairs
      for (let i = 0; i + 1 < w.syms.length; i++) {
        const k = w.syms[i]! * KEY + w.syms[i + 1]!;
        pairCount.set(k, pairCount.get(k)! - w.count);
        touched.add(k);
      }
      const out: number[] = [];
      for (let i = 0; i < w.syms.length; i++) {
        if (i + 1 < w.syms.length && w.syms[i] === a && w.syms[i + 1] === b) {
          out.push(id);
          i++;
        } else out.push(w.syms[i]!);
      }
      w.syms = out;
      for (let i = 0; i + 1 < out.length; i++) {
        const k = out[i]! * KEY + out[i + 1]!;
        addPair(k, wi, w.count);
        touched.add(k);
      }
    }
    where.delete(key);
    pairCount.delete(key);
    for (const k of touched) {
      const c = pairCount.get(k);
      if (c && c > 0) heap.push(c, k);
    }
  }
  return { vocab, merges, specialTokens: opts.specialTokens };
}

/** tokenizer.json in the Hugging Face tokenizers format (byte-level BPE, specials as added tokens) */
export function toTokenizerJson(t: TrainedBpe): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  t.vocab.forEach((s, i) => {
    vocab[s] = i;
  });
  const added = t.specialTokens.map((content, i) => addedToken(t.vocab.length + i, content, true));
  for (const a of added) vocab[a.content] = a.id;
  return byteLevelBpeJson(vocab, t.merges, added);
}
