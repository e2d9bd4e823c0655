// The MatMul bound of a forward, for bench:decode (benchmark-only code, so it lives here and not in src/): a
// graph of only the model's matrix products, built with the ONNX graph builder of src/onnx/graph.ts.
import type { ModelConfig } from '../src/model/config.js';
import { Builder, DT, onnx, valueInfo } from '../src/onnx/graph.js';

/**
 * The MatMul bound of one forward: a graph of only the matrix products of the model for the same shapes —
 * every linear layer (chained so none is pruned), the attention products Q·Kᵀ and P·V, and the LM head —
 * with random weights. Timing it in the same ONNX Runtime gives the floor the full graph is compared to.
 * Inputs x (B, R, C), q (B, H, R, D), k (B, H, D, Tk), v (B, H, Tk, D); outputs the LM-head product and one
 * accumulator per kind of product.
 */
export function buildMatmulBoundModel(cfg: ModelConfig): Uint8Array {
  const { hiddenSize: C, numHeads: H, numKvHeads: Hkv, headDim: D, ffnSize: F, vocabSize: V, numLayers: L } = cfg;
  const g = new Builder();
  let seed = 12345;
  const rand = (n: number) =>
    Float32Array.from({ length: n }, () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed / 4294967296 - 0.5) * 0.04;
    });
  const mm = (x: string, name: string, K: number, N: number) => g.one('MatMul', [x, g.f32(name, [K, N], rand(K * N))]);
  let x = 'x',
    kvAcc = '',
    attAcc = '';
  for (let l = 0; l < L; l++) {
    const p = `l${l}.`;
    const q = mm(x, p + 'wq', C, H * D);
    const kv = g.one('Add', [mm(x, p + 'wk', C, Hkv * D), mm(x, p + 'wv', C, Hkv * D)]);
    kvAcc = kvAcc ? g.one('Add', [kvAcc, kv]) : kv;
    const att = g.one('MatMul', [g.one('MatMul', ['q', 'k']), 'v']); // (B, H, R, D): Q·Kᵀ then P·V
    attAcc = attAcc ? g.one('Add', [attAcc, att]) : att;
    x = mm(q, p + 'wo', H * D, C);
    const ff = g.one('Add', [mm(x, p + 'wg', C, F), mm(x, p + 'wu', C, F)]);
    x = mm(ff, p + 'wd', F, C);
  }
  g.named('logits', mm(x, 'head', C, V));
  g.named('kv', kvAcc);
  g.named('att', attAcc);
  const graph = onnx.GraphProto.create({
    name: 'dllm-matmul-bound',
    node: g.nodes,
    initializer: g.inits,
    input: [
      valueInfo('x', DT.FLOAT, ['B', 'R', C]),
      valueInfo('q', DT.FLOAT, ['B', H, 'R', D]),
      valueInfo('k', DT.FLOAT, ['B', H, D, 'Tk']),
      valueInfo('v', DT.FLOAT, ['B', H, 'Tk', D]),
    ],
    output: [
      valueInfo('logits', DT.FLOAT, ['B', 'R', V]),
      valueInfo('kv', DT.FLOAT, ['B', 'R', Hkv * D]),
      valueInfo('att', DT.FLOAT, ['B', H, 'R', D]),
    ],
  });
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({ irVersion: 8, producerName: 'dllm', opsetImport: [{ domain: '', version: 17 }], graph }),
  ).finish();
}
