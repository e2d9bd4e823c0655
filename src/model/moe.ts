// Mixture-of-experts feed-forward on the kernels: route every token (plain TypeScript over (N, E) scores),
// gather each expert's tokens, run ONE SwiGLU (three GEMMs) per active expert over just those rows, scatter
// the weighted rows back. Never a dense pass over all experts: per layer the work is N·K expert-rows.
// Router rules (sources in config-moe.ts):
//   softmax      — LLaDA-MoE (modeling_lladamoe.py LLaDAMoESparseMoeBlock.forward)
//   sigmoidGroup — LLaDA2 (modeling_llada2_moe.py LLaDA2MoeGate.forward / group_limited_topk)
// Glossary: N rows (B·T), C width, E experts, K experts per token, Fe expert width, Fs shared-expert width.
import type { Kernels } from '../kernels/backend.js';
import type { MoeConfig } from './config.js';

export interface Routing {
  experts: Int32Array; // (N, K) chosen expert ids, best first
  weights: Float32Array; // (N, K) the weight each chosen expert's output gets
}

/** LLaDA2's renormalisation guard: weights = s / (Σ s + 1e-20) (LLaDA2MoeGate.forward) */
const RENORM_EPS = 1e-20;

/** indices of the k largest of `score` (E) among those with allowed[e] (default all), best first; ties → lower id */
function topK(score: ArrayLike<number>, k: number, allowed?: ArrayLike<boolean>): number[] {
  const ids: number[] = [];
  for (let e = 0; e < score.length; e++) if (!allowed || allowed[e]) ids.push(e);
  ids.sort((a, b) => score[b]! - score[a]! || a - b);
  return ids.slice(0, k);
}

/**
 * LLaDA-MoE: p = softmax(logits) (f32), s = p + bias, choose top-K of s, weight = s of the chosen (no
 * renormalisation: norm_topk_prob is hard-coded False). logits (N, E), bias (E) or null.
 */
export function routeSoftmax(logits: Float32Array, bias: Float32Array | null, N: number, E: number, K: number): Routing {
  const experts = new Int32Array(N * K),
    weights = new Float32Array(N * K),
    s = new Float32Array(E);
  for (let n = 0; n < N; n++) {
    const row = logits.subarray(n * E, (n + 1) * E);
    let max = -Infinity;
    for (let e = 0; e < E; e++) max = Math.max(max, row[e]!);
    let sum = 0;
    for (let e = 0; e < E; e++) {
      s[e] = Math.exp(row[e]! - max);
      sum += s[e]!;
    }
    for (let e = 0; e < E; e++) s[e] = s[e]! / sum + (bias ? bias[e]! : 0);
    topK(s, K).forEach((e, i) => {
      experts[n * K + i] = e;
      weights[n * K + i] = s[e]!;
    });
  }
  return { experts, weights };
}

/**
 * LLaDA2: s = sigmoid(logits) (f32); choose with s + bias: each of `groups` equal groups scores the sum of its
 * best two, the best `topGroups` groups stay, top-K inside them; weight = s (unbiased) of the chosen,
 * renormalised over them when K > 1, × scaling.
 */
export function routeSigmoidGroup(
  logits: Float32Array,
  bias: Float32Array | null,
  N: number,
  E: number,
  K: number,
  groups: number,
  topGroups: number,
  scaling: number,
): Routing {
  const experts = new Int32Array(N * K),
    weights = new Float32Array(N * K);
  const s = new Float32Array(E),
    choose = new Float32Array(E),
    groupScore = new Float32Array(groups),
    allowed = new Array<boolean>(E);
  const G = E / groups; // experts per group
  for (let n = 0; n < N; n++) {
    for (let e = 0; e < E; e++) {
      s[e] = 1 / (1 + Math.exp(-logits[n * E + e]!));
      choose[e] = s[e]! + (bias ? bias[e]! : 0);
    }
    for (let g = 0; g < groups; g++) {
      const [a, b] = topK(choose.subarray(g * G, (g + 1) * G), 2);
      groupScore[g] = choose[g * G + a!]! + choose[g * G + b!]!;
    }
    const kept = new Set(topK(groupScore, topGroups));
    for (let e = 0; e < E; e++) allowed[e] = kept.has(Math.floor(e / G));
    const chosen = topK(choose, K, allowed);
    let sum = 0;
    for (const e of chosen) sum += s[e]!;
    chosen.forEach((e, i) => {
      experts[n * K + i] = e;
      weights[n * K + i] = (K > 1 ? s[e]! / (sum + RENORM_EPS) : s[e]!) * scaling;
    });
  }
  return { experts, weights };
}

export function route(m: MoeConfig, logits: Float32Array, bias: Float32Array | null, N: number): Routing {
  return m.router === 'softmax'
    ? routeSoftmax(logits, bias, N, m.numExperts, m.topK)
    : routeSigmoidGroup(logits, bias, N, m.numExperts, m.topK, m.groups, m.topGroups, m.scaling);
}

/** the (token, slot) pairs of each expert, contiguous: rows start[e] .. start[e+1]-1 of token/slot (counting sort) */
export function expertBatches(r: Routing, N: number, K: number, E: number): { start: Int32Array; token: Int32Array; slot: Int32Array } {
  const start = new Int32Array(E + 1),
    token = new Int32Array(N * K),
    slot = new Int32Array(N * K);
  for (let i = 0; i < N * K; i++) start[r.experts[i]! + 1]!++;
  for (let e = 0; e < E; e++) start[e + 1]! += start[e]!;
  const fill = start.slice(0, E);
  for (let i = 0; i < N * K; i++) {
    const at = fill[r.experts[i]!]!++;
    token[at] = Math.floor(i / K);
    slot[at] = i;
  }
  return { start, token, slot };
}

/** out (M, outDim) = x (M, inDim) · W[name]ᵀ at the weight's storage (Transformer.linear) */
export type Linear = (out: Float32Array, x: Float32Array, name: string, M: number, inDim: number, outDim: number) => void;

/** scratch in kernel memory for one N, reused across layers and calls */
export class MoeScratch {
  readonly logits: Float32Array; // (N, E)
  readonly xs: Float32Array; // (N, C) one expert's gathered rows
  readonly gate: Float32Array; // (N, max(Fe, Fs))
  readonly up: Float32Array; // (N, max(Fe, Fs))
  readonly ys: Float32Array; // (N, C) one expert's output rows
  constructor(
    private readonly k: Kernels,
    readonly N: number,
    C: number,
    m: MoeConfig,
  ) {
    const F = Math.max(m.expertFfn, m.sharedFfn);
    this.logits = k.allocF32(N * m.numExperts);
    this.xs = k.allocF32(N * C);
    this.gate = k.allocF32(N * F);
    this.up = k.allocF32(N * F);
    this.ys = k.allocF32(N * C);
  }
  free(): void {
    for (const b of [this.logits, this.xs, this.gate, this.up, this.ys]) this.k.free(b);
  }
}

/** out (M, C) = down(silu(gate x) · up x) of the SwiGLU `prefix` (wGate, wUp, wDown), width F */
function swiglu(
  k: Kernels,
  linear: Linear,
  s: MoeScratch,
  out: Float32Array,
  x: Float32Array,
  prefix: string,
  M: number,
  C: number,
  F: number,
): void {
  const g = s.gate.subarray(0, M * F),
    u = s.up.subarray(0, M * F);
  linear(g, x, prefix + 'wGate', M, C, F);
  linear(u, x, prefix + 'wUp', M, C, F);
  k.swigluForward(g, g, u, M * F);
  linear(out, g, prefix + 'wDown', M, F, C);
}

/**
 * out (N, C) = Σ_k w[n,k] · expert_{e[n,k]}(h[n]) (+ shared(h[n])) for layer prefix `p` ("layers.3.").
 * `bias` is the layer's expert bias (E) or null; `onRouting` sees each layer's choice (tests).
 */
export function moeForward(
  k: Kernels,
  linear: Linear,
  m: MoeConfig,
  s: MoeScratch,
  out: Float32Array,
  h: Float32Array,
  p: string,
  bias: Float32Array | null,
  N: number,
  C: number,
  onRouting?: (r: Routing) => void,
): void {
  const { numExperts: E, topK: K, expertFfn: Fe } = m;
  const logits = s.logits.subarray(0, N * E);
  linear(logits, h, p + 'router', N, C, E);
  const r = route(m, logits, bias, N);
  onRouting?.(r);
  const { start, token, slot } = expertBatches(r, N, K, E);
  out.fill(0, 0, N * C);
  for (let e = 0; e < E; e++) {
    const M = start[e + 1]! - start[e]!;
    if (M === 0) continue; // an idle expert's weights are never read
    const xs = s.xs.subarray(0, M * C),
      ys = s.ys.subarray(0, M * C);
    for (let i = 0; i < M; i++) xs.set(h.subarray(token[start[e]! + i]! * C, (token[start[e]! + i]! + 1) * C), i * C);
    swiglu(k, linear, s, ys, xs, `${p}experts.${e}.`, M, C, Fe);
    for (let i = 0; i < M; i++) {
      const t = token[start[e]! + i]!,
        w = r.weights[slot[start[e]! + i]!]!;
      for (let c = 0; c < C; c++) out[t * C + c]! += w * ys[i * C + c]!;
    }
  }
  if (m.sharedFfn > 0) {
    const ys = s.ys.subarray(0, N * C);
    swiglu(k, linear, s, ys, h.subarray(0, N * C), `${p}shared.`, N, C, m.sharedFfn);
    k.add(out, out, ys, N * C);
  }
}
