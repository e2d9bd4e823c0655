// Shared pieces of the reference kernels: the array type their loops run on, and the shape checks.
// The loops are written once over `Vec`, so the engine runs them on f32 while the finite-difference tests
// run the very same code on f64 (test/kernels/ref-grad*.test.ts).

/** f32 in the engine; f64 when a test wants the forward pass without f32 rounding */
export type Vec = Float32Array | Float64Array;

/** throw a clear error when a buffer is shorter than the op's shape says */
export function need(op: string, name: string, buf: { length: number } | null, n: number): void {
  if (buf === null) throw new Error(`${op}: ${name} is null`);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${op}: ${name} size ${n} is not a non-negative integer`);
  if (buf.length < n) throw new Error(`${op}: ${name} has ${buf.length} elements, the shape needs ${n}`);
}
