// The decoder's confidence where the logits are (issue 14: confidences in the graph): per scored row the argmax
// of logits + logit_bias and one confidence of the softmax p — LLaDA low_confidence / Fast-dLLM at temperature 0
// read p(argmax), Dream's sample_tokens reads the top-2 margin p(1st) − p(2nd) (topk_margin) or Σ p·log(p + 1e−10)
// (entropy, its epsilon). A caller that needs one of them fetches (Nr) values, not (Nr, V) logits.
// Which one is computed is an input (confidence_kind), chosen through If nodes, because ONNX Runtime runs every
// node of a graph whatever is fetched: the three heads as plain nodes cost a step that fetches only logits
// ~0.5 ms of its ~7 (the shipped model, 8 rows, profiled with ORT 1.30), and each top-1 step the two it ignores.
// Letters: Nr scored rows, V vocabulary.
import type onnxProto from 'onnx-proto';
import type { ConfidenceKind } from '../model/diffusion-lm.js';

/** the value of the confidence_kind input per kind; 0 = none (logits only: top_id and top_confidence are empty) */
export const CONFIDENCE_KIND_INDEX: Readonly<Record<ConfidenceKind, number>> = { probability: 1, margin: 2, negEntropy: 3 };

/** what this file needs of graph.ts's Builder (it imports nothing from graph.ts: no import circle) */
export interface BranchOps {
  one(type: string, inputs: string[], attrs?: Record<string, unknown>, domain?: string, out?: string): string;
  op(type: string, inputs: string[], attrs?: Record<string, unknown>, domain?: string, outputs?: number, names?: string[]): string[];
  f32(name: string, dims: number[], data: Float32Array): string;
  i64(name: string, values: number[]): string;
  branch(name: string, outputs: onnxProto.onnx.IValueInfoProto[], body: () => string[]): onnxProto.onnx.IGraphProto;
}
type ValueInfo = (name: string, elem: number, dims: Array<number | string>) => onnxProto.onnx.IValueInfoProto;

/**
 * top_id (Nr) int64 and top_confidence (Nr) float from `logits` (Nr, V), the inputs logit_bias (V) and
 * confidence_kind (1) int64, as nested If nodes: kind 0 computes nothing, 1 p(argmax), 2 the margin, 3 −entropy.
 */
export function confidenceHeads(g: BranchOps, logits: string, valueInfo: ValueInfo, types: { INT64: number; FLOAT: number }): void {
  const outs = (name: string) => [valueInfo(`${name}.id`, types.INT64, ['Nc']), valueInfo(`${name}.conf`, types.FLOAT, ['Nc'])];
  const softmax = () => {
    const biased = g.one('Add', [logits, 'logit_bias']); // (Nr, V)
    const id = g.one('ArgMax', [biased], { axis: -1, keepdims: 0 }); // (Nr) the first maximum, as the JS argmax
    const e = g.one('Exp', [g.one('Sub', [biased, g.one('ReduceMax', [biased], { axes: [-1], keepdims: 1 })])]); // (Nr, V) ≤ 1, max 1
    const z = g.one('ReduceSum', [e, g.i64('axisLast', [-1])], { keepdims: 1 }); // (Nr, 1)
    return { id, e, z };
  };
  const heads: Record<ConfidenceKind, () => string[]> = {
    probability: () => {
      const { id, z } = softmax();
      return [id, g.one('Reshape', [g.one('Reciprocal', [z]), g.i64('top.flat', [-1])])]; // exp(0) / Σ exp
    },
    margin: () => {
      const { id, e, z } = softmax();
      const [top2] = g.op('TopK', [g.one('Div', [e, z]), g.i64('topk.k', [2])], { axis: -1 }, '', 2); // (Nr, 2) values
      const nth = (i: number) =>
        g.one('Squeeze', [g.one('Gather', [top2!, g.i64(`topk.idx${i}`, [i])], { axis: 1 }), g.i64('topk.axis1', [1])]); // (Nr)
      return [id, g.one('Sub', [nth(0), nth(1)])];
    },
    negEntropy: () => {
      const { id, e, z } = softmax();
      const probs = g.one('Div', [e, z]); // (Nr, V)
      const eps = g.f32('entropy.eps', [1], Float32Array.of(1e-10));
      return [id, g.one('ReduceSum', [g.one('Mul', [probs, g.one('Log', [g.one('Add', [probs, eps])])]), 'axisLast'], { keepdims: 0 })];
    },
  };
  const none = g.branch('conf.none', outs('conf.none'), () => [g.i64('conf.noId', []), g.f32('conf.noConf', [0], new Float32Array(0))]); // (0), (0)
  // from the last kind outwards: If(kind = k, head k, else …), the innermost else the last kind's head
  const kinds = Object.keys(CONFIDENCE_KIND_INDEX) as ConfidenceKind[];
  let otherwise = g.branch(`conf.${kinds.at(-1)!}`, outs(`conf.${kinds.at(-1)!}`), heads[kinds.at(-1)!]);
  const is = (k: number) => g.one('Equal', ['confidence_kind', g.i64(`conf.kind${k}`, [k])]); // (1) bool
  for (let i = kinds.length - 2; i >= -1; i--) {
    const kind = i >= 0 ? kinds[i]! : null,
      name = kind ? `conf.if.${kind}` : 'conf.if.none';
    const then = kind ? g.branch(`conf.${kind}`, outs(`conf.${kind}`), heads[kind]) : none;
    const body = { then_branch: then, else_branch: otherwise };
    if (i === -1) {
      g.op('If', [is(0)], body, '', 2, ['top_id', 'top_confidence']);
      return;
    }
    otherwise = g.branch(name, outs(name), () => g.op('If', [is(CONFIDENCE_KIND_INDEX[kind!])], body, '', 2));
  }
}
