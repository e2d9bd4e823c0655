// Cross-entropy with per-token weights, embedding gather / scatter-add, AdamW.
import { exp4, exp1, hsum4 } from './simd';
import { CHUNK } from './rows';

// @ts-ignore: decorator
@inline function at(p: usize, i: i32): usize { return p + (<usize>i << 2); }

// log Σ exp(x) over one row (V), max-subtracted
function logSumExp(x: usize, V: i32): f32 {
  let m = -Infinity as f32;
  for (let c = 0; c < V; c++) m = max(m, load<f32>(at(x, c)));
  const vm = f32x4.splat(m);
  let acc = f32x4.splat(0);
  let c = 0;
  for (; c + 4 <= V; c += 4) acc = f32x4.add(acc, exp4(f32x4.sub(v128.load(at(x, c)), vm)));
  let s = hsum4(acc);
  for (; c < V; c++) s += exp1(load<f32>(at(x, c)) - m);
  return m + Mathf.log(s);
}

/** losses (N) = w · (lse − logit[target]); target < 0 or w = 0 → 0; items = rows */
export function crossEntropyForwardTask(start: i32, end: i32, tid: i32,
  losses: usize, logits: usize, targets: usize, weights: usize, V: i32): void {
  for (let n = start; n < end; n++) {
    const t = load<i32>(at(targets, n));
    const w = load<f32>(at(weights, n));
    if (t < 0 || w == 0) { store<f32>(at(losses, n), 0); continue; }
    const row = at(logits, n * V);
    store<f32>(at(losses, n), w * (logSumExp(row, V) - load<f32>(at(row, t))));
  }
}

/** dlogits (N, V) = scale · w · (softmax − onehot); items = rows */
export function crossEntropyBackwardTask(start: i32, end: i32, tid: i32,
  dlogits: usize, logits: usize, targets: usize, weights: usize, V: i32, scale: f32): void {
  for (let n = start; n < end; n++) {
    const t = load<i32>(at(targets, n));
    const w = load<f32>(at(weights, n));
    const row = at(logits, n * V), drow = at(dlogits, n * V);
    if (t < 0 || w == 0) { for (let c = 0; c < V; c++) store<f32>(at(drow, c), 0); continue; }
    const L = f32x4.splat(logSumExp(row, V));
    const g = f32x4.splat(scale * w);
    let c = 0;
    for (; c + 4 <= V; c += 4) v128.store(at(drow, c), f32x4.mul(exp4(f32x4.sub(v128.load(at(row, c)), L)), g));
    const Ls = f32x4.extract_lane(L, 0), gs = scale * w;
    for (; c < V; c++) store<f32>(at(drow, c), exp1(load<f32>(at(row, c)) - Ls) * gs);
    store<f32>(at(drow, t), load<f32>(at(drow, t)) - gs);
  }
}

/** out (N, C) = table[ids]; items = rows */
export function embeddingForwardTask(start: i32, end: i32, tid: i32, out: usize, table: usize, ids: usize, C: i32): void {
  for (let n = start; n < end; n++) {
    memory.copy(at(out, n * C), at(table, load<i32>(at(ids, n)) * C), <usize>C * 4);
  }
}

/** dtable[ids[n]] += dout[n], n in order; items = chunks of 64 columns (each thread owns its columns) */
export function embeddingBackwardTask(start: i32, end: i32, tid: i32, dtable: usize, dout: usize, ids: usize, N: i32, C: i32): void {
  const c0 = start * 64, c1 = min(C, end * 64);
  for (let n = 0; n < N; n++) {
    const dst = at(dtable, load<i32>(at(ids, n)) * C), src = at(dout, n * C);
    for (let c = c0; c < c1; c++) store<f32>(at(dst, c), load<f32>(at(dst, c)) + load<f32>(at(src, c)));
  }
}

/**
 * AdamW, PyTorch's single-tensor form: p ← p(1 − lr·wd); m ← m + (1 − β1)(g − m) (torch's lerp);
 * v ← β2·v + (1 − β2)·g²; p ← p − stepSize · m / (√v / bc2Sqrt + eps), stepSize = lr / (1 − β1^t),
 * bc2Sqrt = √(1 − β2^t) (computed in f64 by the caller); items = chunks
 */
export function adamwTask(start: i32, end: i32, tid: i32, param: usize, grad: usize, m: usize, v: usize, n: i32,
  lr: f32, beta1: f32, beta2: f32, eps: f32, weightDecay: f32, stepSize: f32, bc2Sqrt: f32): void {
  const i1 = min(n, end * CHUNK);
  const decay: f32 = 1 - lr * weightDecay;
  for (let i = start * CHUNK; i < i1; i++) {
    const g = load<f32>(at(grad, i));
    const mi = load<f32>(at(m, i)) + (1 - beta1) * (g - load<f32>(at(m, i)));
    const vi = beta2 * load<f32>(at(v, i)) + (1 - beta2) * g * g;
    store<f32>(at(m, i), mi);
    store<f32>(at(v, i), vi);
    const p = load<f32>(at(param, i)) * decay;
    store<f32>(at(param, i), p - stepSize * (mi / (Mathf.sqrt(vi) / bc2Sqrt + eps)));
  }
}
