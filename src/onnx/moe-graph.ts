// The MoE feed-forward of lladamoe / llada2 as ONNX nodes (opset 17): route per token with TopK, then per
// expert an explicit gather → SwiGLU GEMMs → weighted ScatterND(add) over only the rows routed to it (NonZero of
// its hits; an idle expert runs on zero rows), plus the shared expert on every row. Same rules as model/moe.ts:
//   softmax      p = Softmax(logits) (+ bias), TopK, weights = the TopK values (no renormalisation)
//   sigmoidGroup s = Sigmoid(logits), choose = s + bias, groups scored by the sum of their best two, TopK over
//                the kept groups' experts, weights = s of the chosen / (Σ + 1e-20) × scaling (K > 1)
// Also the per-head q/k RMSNorm both families have. Nothing here imports graph.ts: `GraphOps` is the part of its
// Builder these functions use. Letters: N rows (B·R), C width, E experts, K per token, G groups, D head dim.
import type { MoeConfig } from '../model/config.js';

type Attr = number | number[] | string;
export interface GraphOps {
  one(type: string, inputs: string[], attrs?: Record<string, Attr>, domain?: string, out?: string): string;
  op(type: string, inputs: string[], attrs?: Record<string, Attr>, domain?: string, outputs?: number): string[];
  f32(name: string, dims: number[], data: Float32Array): string;
  i64(name: string, values: number[]): string;
}

/** x (…, heads·D) → RMSNorm over each head's D with weight (D), same shape back */
export function headRmsNorm(g: GraphOps, x: string, heads: number, D: number, name: string, weight: Float32Array, eps: number): string {
  const h = g.one('Reshape', [x, g.i64(`shape_heads${heads}`, [0, 0, heads, D])]); // (B, R, heads, D)
  const ms = g.one('ReduceMean', [g.one('Pow', [h, g.f32('two', [1], Float32Array.of(2))])], { axes: [-1], keepdims: 1 });
  const rms = g.one('Sqrt', [g.one('Add', [ms, g.f32(name + '.eps', [1], Float32Array.of(eps))])]);
  const y = g.one('Mul', [g.one('Div', [h, rms]), g.f32(name, [D], weight)]);
  return g.one('Reshape', [y, g.i64(`shape_merge${heads}`, [0, 0, heads * D])]);
}

/** Linear: y (rows, out) = x (rows, in) · W[name]ᵀ at the graph's weight dtype (graph.ts's `linear`) */
export type GraphLinear = (x: string, name: string, outDim: number, inDim: number) => string;

/** h (B, R, C) → the MoE layer's output (B, R, C); p = 'layers.3.', w = weights by our names (f32) */
export function moeFfn(
  g: GraphOps,
  linear: GraphLinear,
  w: (name: string) => Float32Array,
  m: MoeConfig,
  h: string,
  p: string,
  C: number,
): string {
  const { numExperts: E, topK: K } = m;
  const flat = g.one('Reshape', [h, g.i64('shapeNC', [-1, C])]); // (N, C)
  // the router stays f32 at every dtype (a quantized router could flip a choice)
  const logits = g.one('MatMul', [flat, g.f32(p + 'router.T', [C, E], transposed(w(p + 'router'), E, C))]); // (N, E)
  const bias = m.expertBias ? g.f32(p + 'expertBias', [E], w(p + 'expertBias')) : null;
  const kTensor = g.i64(`moe.k${K}`, [K]);
  let idx: string, weights: string; // (N, K) int64, (N, K) float
  if (m.router === 'softmax') {
    let s = g.one('Softmax', [logits], { axis: -1 });
    if (bias) s = g.one('Add', [s, bias]);
    [weights, idx] = g.op('TopK', [s, kTensor], { axis: -1 }, '', 2) as [string, string];
  } else {
    const G = m.groups,
      per = E / G;
    const sig = g.one('Sigmoid', [logits]);
    const choose = bias ? g.one('Add', [sig, bias]) : sig;
    const best2 = g.op(
      'TopK',
      [g.one('Reshape', [choose, g.i64(`moe.shapeNG${G}`, [0, G, per])]), g.i64('moe.k2', [2])],
      { axis: -1 },
      '',
      2,
    )[0]!; // (N, G, 2)
    const groupScore = g.one('ReduceSum', [best2, g.i64('axisLast', [-1])], { keepdims: 0 }); // (N, G)
    const kept = g.op('TopK', [groupScore, g.i64(`moe.k${m.topGroups}`, [m.topGroups])], { axis: -1 }, '', 2)[1]!; // (N, TG)
    const groupIds = g.i64(
      `moe.groups${G}`,
      Array.from({ length: G }, (_, i) => i),
    );
    const hit = g.one('Cast', [g.one('Equal', [g.one('Unsqueeze', [kept, g.i64('axisLast', [-1])]), groupIds])], { to: 1 }); // (N, TG, G)
    const groupMask = g.one('ReduceMax', [hit], { axes: [1], keepdims: 0 }); // (N, G) 1 = kept
    const expertMask = g.one('Reshape', [
      g.one('Expand', [g.one('Unsqueeze', [groupMask, g.i64('axisLast', [-1])]), g.i64(`moe.expand${G}x${per}`, [1, G, per])]),
      g.i64(`moe.shapeNE${E}`, [0, E]),
    ]); // (N, E)
    // masked experts sink by 1e9 (far below any sigmoid + bias), as masked_fill(−inf) drops them
    const masked = g.one('Add', [
      choose,
      g.one('Mul', [g.one('Sub', [expertMask, g.f32('one', [1], Float32Array.of(1))]), g.f32('moe.sink', [1], Float32Array.of(1e9))]),
    ]);
    idx = g.op('TopK', [masked, kTensor], { axis: -1 }, '', 2)[1]!;
    const chosen = g.one('GatherElements', [sig, idx], { axis: 1 }); // (N, K) unbiased
    const norm =
      K > 1
        ? g.one('Div', [
            chosen,
            g.one('Add', [
              g.one('ReduceSum', [chosen, g.i64('axisLast', [-1])], { keepdims: 1 }),
              g.f32('moe.eps', [1], Float32Array.of(1e-20)),
            ]),
          ])
        : chosen;
    weights = g.one('Mul', [norm, g.f32(`${p}moe.scaling`, [1], Float32Array.of(m.scaling))]);
  }
  const swiglu = (x: string, prefix: string, F: number) => {
    const gate = linear(x, prefix + 'wGate', F, C),
      up = linear(x, prefix + 'wUp', F, C);
    return linear(g.one('Mul', [g.one('Mul', [gate, g.one('Sigmoid', [gate])]), up]), prefix + 'wDown', C, F);
  };
  let out = m.sharedFfn > 0 ? swiglu(flat, p + 'shared.', m.sharedFfn) : g.one('Mul', [flat, g.f32('zero', [1], Float32Array.of(0))]); // (N, C)
  for (let e = 0; e < E; e++) {
    const hit = g.one('Cast', [g.one('Equal', [idx, g.i64(`moe.e${e}`, [e])])], { to: 1 }); // (N, K) 1 where slot k chose e
    const we = g.one('ReduceSum', [g.one('Mul', [weights, hit]), g.i64('axisLast', [-1])], { keepdims: 0 }); // (N)
    const sel = g.one('NonZero', [g.one('ReduceMax', [hit], { axes: [-1], keepdims: 0 })]); // (1, M) the expert's rows
    const rows = g.one('Reshape', [sel, g.i64('shapeFlat', [-1])]); // (M)
    const ys = swiglu(g.one('Gather', [flat, rows], { axis: 0 }), `${p}experts.${e}.`, m.expertFfn); // (M, C)
    const wr = g.one('Unsqueeze', [g.one('Gather', [we, rows], { axis: 0 }), g.i64('axisLast', [-1])]); // (M, 1)
    out = g.one('ScatterND', [out, g.one('Transpose', [sel], { perm: [1, 0] }), g.one('Mul', [ys, wr])], { reduction: 'add' });
  }
  return g.one('Reshape', [out, g.one('Shape', [h])]); // (B, R, C)
}

function transposed(x: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = x[r * cols + c]!;
  return t;
}
