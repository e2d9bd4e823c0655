// Seeded test data (no Math.random): the trainer's RNG, wrapped for filling typed arrays.
import { Rng } from '../../src/train/rng.js';

export function rng(seed: number): Rng {
  return new Rng(seed);
}

export function normal(r: Rng, n: number, std = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = r.normal() * std;
  return a;
}

export function uniform(r: Rng, n: number, lo: number, hi: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r.uniform();
  return a;
}

export function ints(r: Rng, n: number, hi: number): Int32Array {
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = r.int(hi);
  return a;
}
