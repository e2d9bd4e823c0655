// Reference weighted cross-entropy over logits (N, V): loss_i = w_i · (logsumexp(logits_i) − logits_i[t_i]).
// Rows with target < 0 or weight 0 are ignored (loss 0, gradient 0), as PyTorch's ignore_index = −100 and
// LLaDA's masked-token weighting need.
import { need, type Vec } from './types.js';

function check(op: string, logits: Vec, targets: Int32Array, weights: Vec, N: number, V: number): void {
  need(op, 'logits', logits, N * V);
  need(op, 'targets', targets, N);
  need(op, 'weights', weights, N);
  for (let i = 0; i < N; i++) if (targets[i]! >= V) throw new Error(`${op}: targets[${i}] = ${targets[i]} is not below V=${V}`);
}

function isIgnored(targets: Int32Array, weights: Vec, i: number): boolean {
  return targets[i]! < 0 || weights[i] === 0;
}

/** log Σ_c exp(logits[row + c]) over one row of V, max-subtracted */
function logSumExp(logits: Vec, row: number, V: number): number {
  let max = -Infinity;
  for (let c = 0; c < V; c++) max = Math.max(max, logits[row + c]!);
  let sum = 0;
  for (let c = 0; c < V; c++) sum += Math.exp(logits[row + c]! - max);
  return max + Math.log(sum);
}

/** losses (N) from logits (N, V), targets (N), weights (N) */
export function crossEntropyForward(losses: Vec, logits: Vec, targets: Int32Array, weights: Vec, N: number, V: number): void {
  need('crossEntropyForward', 'losses', losses, N);
  check('crossEntropyForward', logits, targets, weights, N, V);
  for (let i = 0; i < N; i++) {
    if (isIgnored(targets, weights, i)) {
      losses[i] = 0;
      continue;
    }
    losses[i] = weights[i]! * (logSumExp(logits, i * V, V) - logits[i * V + targets[i]!]!);
  }
}

/** dlogits (N, V) = scale · w_i · (softmax(logits_i) − onehot(t_i)); zero rows where ignored */
export function crossEntropyBackward(
  dlogits: Vec,
  logits: Vec,
  targets: Int32Array,
  weights: Vec,
  N: number,
  V: number,
  scale: number,
): void {
  need('crossEntropyBackward', 'dlogits', dlogits, N * V);
  check('crossEntropyBackward', logits, targets, weights, N, V);
  for (let i = 0; i < N; i++) {
    const row = i * V;
    if (isIgnored(targets, weights, i)) {
      for (let c = 0; c < V; c++) dlogits[row + c] = 0;
      continue;
    }
    const lse = logSumExp(logits, row, V);
    const k = scale * weights[i]!;
    for (let c = 0; c < V; c++) {
      const p = Math.exp(logits[row + c]! - lse);
      dlogits[row + c] = k * (p - (c === targets[i] ? 1 : 0));
    }
  }
}
