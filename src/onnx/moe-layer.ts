// One MoE feed-forward as a model of its own — input x (N, C) → output y (N, C) — in either formulation the
// full graph could use: our explicit route/gather/GEMM/scatter (moe-graph.ts moeFfn) or ONNX Runtime's fused
// com.microsoft MoE / QMoE node (moeFfnOperator). The unit that `npm run bench:moe-op` times and
// test/onnx/moe-operator.test.ts checks, so the choice between them rests on a measurement of the same layer.
import type { MoeConfig } from '../model/config.js';
import { Builder, DT, encodeModel, graphLinear, onnx, valueInfo } from './graph.js';
import { moeFfn, moeFfnOperator } from './moe-graph.js';

export type MoeFormulation = 'explicit' | 'operator';

/** weights by our names under prefix 'layers.0.' (router (E, C), experts.e.wGate / wUp (Fe, C), wDown (C, Fe), shared.*) */
export function buildMoeLayerModel(
  m: MoeConfig,
  C: number,
  weights: (name: string) => Float32Array,
  how: MoeFormulation,
  dtype: 'f32' | 'q8',
): Uint8Array {
  const g = new Builder();
  const linear = graphLinear(g, weights, () => dtype);
  const h = g.one('Unsqueeze', ['x', g.i64('axis0', [0])]); // (1, N, C)
  const y =
    how === 'explicit'
      ? moeFfn(g, linear, weights, m, h, 'layers.0.', C)
      : moeFfnOperator(g, linear, weights, m, h, 'layers.0.', C, dtype === 'q8' ? 8 : 0);
  g.one('Squeeze', [y, 'axis0'], {}, '', 'y'); // (N, C)
  const graph = onnx.GraphProto.create({
    name: `dllm-moe-${how}-${dtype}`,
    node: g.nodes,
    input: [valueInfo('x', DT.FLOAT, ['N', C])],
    output: [valueInfo('y', DT.FLOAT, ['N', C])],
    initializer: g.inits,
  });
  return encodeModel(graph);
}
