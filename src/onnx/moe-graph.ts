// The MoE feed-forward of lladamoe / llada2 as ONNX nodes (opset 17): route per token with TopK, then per
// expert an explicit gather → SwiGLU GEMMs → weighted ScatterND(add) over only the rows routed to it (NonZero of
// its hits; an idle expert runs on zero rows), plus the shared expert on every row. Same rules as model/moe.ts:
//   softmax      p = Softmax(logits) (+ bias), TopK, weights = the TopK values (no renormalisation)
//   sigmoidGroup s = Sigmoid(logits), choose = s + bias, groups scored by the sum of their best two, TopK over
//                the kept groups' experts, weights = s of the chosen / (Σ + 1e-20) × scaling (K > 1)
// Why explicit and not ORT's fused com.microsoft MoE / QMoE node (moeFfnOperator, kept for the measurement):
// on one LLaDA-MoE-7B layer (npm run bench:moe-op, bench/results/moe-op-lladamoe-7b-e64-*.md, 2 threads)
// the fused f32 node is 1.32× faster for one token but 0.85 / 0.67 / 0.60× for 8 / 32 / 64 rows, and the
// 8-bit QMoE node (it dequantizes every call) 0.17–0.30× of our int8 graph at every row count.
// Also the per-head q/k RMSNorm both families have. Nothing here imports graph.ts: `GraphOps` is the part of its
// Builder these functions use. Letters: N rows (B·R), C width, E experts, K per token, G groups, D head dim.
import { quantizeQ8 } from '../kernels/quantize.js';
import type { MoeConfig } from '../model/config.js';

type Attr = number | number[] | string;
export interface GraphOps {
  one(type: string, inputs: string[], attrs?: Record<string, Attr>, domain?: string, out?: string): string;
  op(type: string, inputs: string[], attrs?: Record<string, Attr>, domain?: string, outputs?: number): string[];
  f32(name: string, dims: number[], data: Float32Array): string;
  i64(name: string, values: number[]): string;
  u8(name: string, dims: number[], data: Uint8Array): string;
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

/**
 * Whether ONNX Runtime's com.microsoft MoE computes this rule: it takes a softmax over all E router logits,
 * keeps the top K and weights by those probabilities (normalize_routing_weights 0) — lladamoe's router; it has
 * no input for a choosing-only bias, and sigmoid / group-limited routing (llada2) is not among its rules.
 */
export function moeOperatorApplies(m: MoeConfig): boolean {
  return m.router === 'softmax' && !m.expertBias;
}

/**
 * The same MoE feed-forward as moeFfn through one com.microsoft MoE node (f32 experts) or QMoE node (bits 8:
 * int8 codes + 128 with one scale per output row, the kernels' q8 values). Its layouts (ORT's moe_helper.h):
 * fc1 (E, 2·Fe, C) with gate and up rows interleaved (swiglu_fusion 1; its CPU kernel takes no other), fc2
 * (E, C, Fe); SwiGLU as silu(gate)·up: activation_alpha 1, activation_beta 0, no clamp. The shared expert is
 * added as in moeFfn. Only where moeOperatorApplies.
 */
export function moeFfnOperator(
  g: GraphOps,
  linear: GraphLinear,
  w: (name: string) => Float32Array,
  m: MoeConfig,
  h: string,
  p: string,
  C: number,
  bits: 0 | 8,
): string {
  if (!moeOperatorApplies(m))
    throw new Error(`onnx: ORT's MoE operator has no ${m.router} router${m.expertBias ? ' with an expert bias' : ''}`);
  const { numExperts: E, topK: K, expertFfn: F } = m;
  const flat = g.one('Reshape', [h, g.i64('shapeNC', [-1, C])]); // (N, C)
  const logits = g.one('MatMul', [flat, g.f32(p + 'router.T', [C, E], transposed(w(p + 'router'), E, C))]); // (N, E) f32
  const fc1 = new Float32Array(E * 2 * F * C); // (E, 2·Fe, C): row 2i = gate row i, row 2i + 1 = up row i
  const fc2 = new Float32Array(E * C * F); // (E, C, Fe)
  for (let e = 0; e < E; e++) {
    const gate = w(`${p}experts.${e}.wGate`),
      up = w(`${p}experts.${e}.wUp`); // (Fe, C) each
    for (let i = 0; i < F; i++) {
      fc1.set(gate.subarray(i * C, (i + 1) * C), (e * 2 * F + 2 * i) * C);
      fc1.set(up.subarray(i * C, (i + 1) * C), (e * 2 * F + 2 * i + 1) * C);
    }
    fc2.set(w(`${p}experts.${e}.wDown`), e * C * F);
  }
  const attrs = {
    k: K,
    activation_type: 'swiglu',
    swiglu_fusion: 1,
    normalize_routing_weights: 0,
    activation_alpha: 1,
    activation_beta: 0,
  };
  let routed: string;
  if (bits === 0) {
    routed = g.one(
      'MoE',
      [flat, logits, g.f32(p + 'moe.fc1', [E, 2 * F, C], fc1), '', g.f32(p + 'moe.fc2', [E, C, F], fc2)],
      attrs,
      'com.microsoft',
    );
  } else {
    const codes = (x: Float32Array, N: number, Kd: number) => {
      const { q, scales } = quantizeQ8(x, E * N, Kd); // (E·N, Kd) rows, one scale each
      const u = new Uint8Array(q.length); // a loop: TypedArray.from(q, fn) lists all of q first (too long here)
      for (let i = 0; i < q.length; i++) u[i] = q[i]! + 128;
      return { u, scales };
    };
    const q1 = codes(fc1, 2 * F, C),
      q2 = codes(fc2, C, F);
    routed = g.one(
      'QMoE',
      [
        flat,
        logits,
        g.u8(p + 'moe.fc1.q', [E, 2 * F, C], q1.u),
        g.f32(p + 'moe.fc1.scales', [E, 2 * F], q1.scales),
        '',
        g.u8(p + 'moe.fc2.q', [E, C, F], q2.u),
        g.f32(p + 'moe.fc2.scales', [E, C], q2.scales),
      ],
      { ...attrs, expert_weight_bits: 8 },
      'com.microsoft',
    );
    // ORT 1.30's QMoE CPU kernel renormalises the top-K weights whatever normalize_routing_weights says
    // (measured: QMoE / explicit = 1 / Σ top-K p on every row, test/onnx/moe-operator.test.ts); lladamoe
    // does not renormalise, so scale each row back by its Σ top-K p — exact, as the sum factors out
    const probs = g.one('Softmax', [logits], { axis: -1 }); // (N, E)
    const top = g.op('TopK', [probs, g.i64(`moe.k${K}`, [K])], { axis: -1 }, '', 2)[0]!; // (N, K)
    routed = g.one('Mul', [routed, g.one('ReduceSum', [top, g.i64('axisLast', [-1])], { keepdims: 1 })]); // (N, C)
  }
  let out = routed; // (N, C)
  if (m.sharedFfn > 0) {
    const sp = p + 'shared.',
      Fs = m.sharedFfn;
    const gate = linear(flat, sp + 'wGate', Fs, C),
      up = linear(flat, sp + 'wUp', Fs, C);
    out = g.one('Add', [out, linear(g.one('Mul', [g.one('Mul', [gate, g.one('Sigmoid', [gate])]), up]), sp + 'wDown', C, Fs)]);
  }
  return g.one('Reshape', [out, g.one('Shape', [h])]); // (B, R, C)
}

function transposed(x: Float32Array, rows: number, cols: number): Float32Array {
  const t = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) t[c * rows + r] = x[r * cols + c]!;
  return t;
}
