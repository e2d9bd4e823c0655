// Reference token embedding lookup and its backward, a scatter-add. Repeated ids add up, one rounded add per
// token in ascending token order: that order is the contract ("deterministic order"), so a fast kernel that
// keeps it matches the reference bit for bit, whatever its thread count.
import { need, type Vec } from './types.js';

function checkIds(op: string, ids: Int32Array, N: number, rows: number): void {
  need(op, 'ids', ids, N);
  for (let i = 0; i < N; i++) {
    const id = ids[i]!;
    if (id < 0 || id >= rows) throw new Error(`${op}: ids[${i}] = ${id} is outside the table's 0..${rows - 1}`);
  }
}

/** out (N, C) = table (Vocab, C) [ids (N)] */
export function embeddingForward(out: Vec, table: Vec, ids: Int32Array, N: number, C: number): void {
  need('embeddingForward', 'out', out, N * C);
  checkIds('embeddingForward', ids, N, Math.floor(table.length / C));
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) out[n * C + c] = table[ids[n]! * C + c]!;
  }
}

/** dtable (Vocab, C) += dout (N, C) scattered by ids (N) */
export function embeddingBackward(dtable: Vec, dout: Vec, ids: Int32Array, N: number, C: number): void {
  need('embeddingBackward', 'dout', dout, N * C);
  checkIds('embeddingBackward', ids, N, Math.floor(dtable.length / C));
  for (let n = 0; n < N; n++) {
    const row = ids[n]! * C; // dtable[ids[n], :]
    for (let c = 0; c < C; c++) dtable[row + c] = dtable[row + c]! + dout[n * C + c]!;
  }
}
