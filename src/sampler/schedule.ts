// How many positions to commit per step.
//   linear (LLaDA generate.py `get_num_transfer_tokens`): a block's M masks over its steps, the same count
//     every step ±1 with the remainder front-loaded — LLaDA's linear noise schedule, Eq. (8) of the paper
//   eps   (Dream generation_utils.py `_sample`): timesteps = torch.linspace(1, eps, steps + 1) in float32;
//     at step i with t = ts[i], s = ts[i+1] and M masks left, commit int(M·(1 − s/t)), all of them on the
//     last step; `origin` instead unmasks each position with probability 1 − s/t (1 on the last step)
// The Dream arithmetic is float32 (torch's default dtype) and is emulated with Math.fround after every
// operation, so a product that lands next to an integer truncates as it does in PyTorch.

/** LLaDA get_num_transfer_tokens: `masked` tokens over `steps` steps, the remainder front-loaded */
export function transferCounts(masked: number, steps: number): Int32Array {
  const base = Math.floor(masked / steps),
    rem = masked % steps;
  return Int32Array.from({ length: steps }, (_, i) => base + (i < rem ? 1 : 0));
}
// transferCounts(10, 4) → [3, 3, 2, 2]

const f32 = Math.fround;

/**
 * torch.linspace(1, eps, n) in float32, after ATen's CPU kernel (RangeFactoriesKernel.cpp `linspace_kernel`):
 * step = (end − start)/(n − 1); the first half counts up from start, the second half down from end.
 */
export function dreamTimesteps(eps: number, steps: number): Float32Array {
  const n = steps + 1,
    start = 1,
    end = f32(eps);
  const step = f32(f32(end - start) / (n - 1));
  const half = Math.floor(n / 2);
  const ts = new Float32Array(n);
  for (let i = 0; i < n; i++) ts[i] = i < half ? f32(start + f32(step * i)) : f32(end - f32(step * (n - i - 1)));
  return ts;
}

/** 1 − s/t at step i (float32), 1 on the last step: origin's unmask probability, and the confidence algs' fraction */
export function dreamFraction(ts: Float32Array, i: number, steps: number): number {
  if (i >= steps - 1) return 1;
  return f32(1 - f32(ts[i + 1]! / ts[i]!));
}

/** Dream confidence algorithms: int(M·(1 − s/t)) positions at step i, all M on the last step */
export function dreamTransferCount(masked: number, ts: Float32Array, i: number, steps: number): number {
  if (i >= steps - 1) return masked;
  return Math.trunc(f32(f32(masked) * dreamFraction(ts, i, steps)));
}
