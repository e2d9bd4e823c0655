// SFT rows (LLaDA's supervised fine-tuning, arXiv 2502.09992 §2.3 and GUIDELINES.md): each example is
// prompt + answer + EOS, padded with EOS to seqLen — the padding is part of the answer, so the model learns
// to end — and its prompt length, below which nothing is masked. One flat stream of ids holds them:
// rows of (1 + seqLen) values, [promptLength, id_0 … id_(seqLen−1)], so the trainers of both engines read
// the same file (`dllm data sft` writes it from the corpus's docstring → body views).
import type { Rng } from './rng.js';
import type { TokenStream } from './data.js';

/** values per row: the prompt length, then seqLen ids */
export const sftRowWidth = (seqLen: number) => 1 + seqLen;

export interface SftExample {
  prompt: ArrayLike<number>;
  answer: ArrayLike<number>;
}

/**
 * examples → rows (count, 1 + seqLen). An example whose prompt + answer + one EOS does not fit is dropped
 * (cutting an answer would teach the model to stop mid-function); so is one with an empty prompt or answer.
 */
export function packSftRows(examples: Iterable<SftExample>, seqLen: number, eos: number): { rows: number[][]; dropped: number } {
  const rows: number[][] = [];
  let dropped = 0;
  for (const e of examples) {
    const P = e.prompt.length,
      A = e.answer.length;
    if (P === 0 || A === 0 || P + A + 1 > seqLen) {
      dropped++;
      continue;
    }
    const row = new Array<number>(1 + seqLen).fill(eos);
    row[0] = P;
    for (let i = 0; i < P; i++) row[1 + i] = e.prompt[i]!;
    for (let i = 0; i < A; i++) row[1 + P + i] = e.answer[i]!;
    rows.push(row);
  }
  return { rows, dropped };
}

export function sftRowCount(stream: TokenStream, seqLen: number): number {
  const w = sftRowWidth(seqLen);
  if (stream.ids.length % w !== 0)
    throw new Error(`sft data: ${stream.ids.length} values are not whole rows of 1 + seqLen = ${w} (made for another seqLen?)`);
  return stream.ids.length / w;
}

/** rows `index[b]` → clean (B, seqLen) and promptLengths (B) */
function gather(stream: TokenStream, seqLen: number, index: ArrayLike<number>): { clean: Int32Array; promptLengths: Int32Array } {
  const B = index.length,
    w = sftRowWidth(seqLen);
  const clean = new Int32Array(B * seqLen),
    promptLengths = new Int32Array(B);
  for (let b = 0; b < B; b++) {
    const off = index[b]! * w;
    promptLengths[b] = stream.ids[off]!;
    if (!(promptLengths[b]! > 0 && promptLengths[b]! < seqLen))
      throw new Error(`sft data: row ${index[b]} has prompt length ${promptLengths[b]} (seqLen ${seqLen})`);
    for (let i = 0; i < seqLen; i++) clean[b * seqLen + i] = stream.ids[off + 1 + i]!;
  }
  return { clean, promptLengths };
}

/** B rows drawn uniformly with the trainer's RNG */
export function sampleSftRows(stream: TokenStream, B: number, seqLen: number, rng: Rng): { clean: Int32Array; promptLengths: Int32Array } {
  const n = sftRowCount(stream, seqLen);
  if (n === 0) throw new Error('sft data: no rows');
  return gather(
    stream,
    seqLen,
    Array.from({ length: B }, () => rng.int(n)),
  );
}

/** rows start … start + B − 1 (validation: the same rows every time), or null past the end */
export function fixedSftRows(
  stream: TokenStream,
  B: number,
  seqLen: number,
  start: number,
): { clean: Int32Array; promptLengths: Int32Array } | null {
  if (start + B > sftRowCount(stream, seqLen)) return null;
  return gather(
    stream,
    seqLen,
    Array.from({ length: B }, (_, b) => start + b),
  );
}
