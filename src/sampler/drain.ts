// Run a decoding generator to its end, keeping every step (tests, benchmarks, non-streaming callers).
export async function drain<S, R>(gen: AsyncGenerator<S, R>, onStep?: (step: S) => void): Promise<{ steps: S[]; result: R }> {
  const steps: S[] = [];
  for (;;) {
    const r = await gen.next();
    if (r.done) return { steps, result: r.value };
    steps.push(r.value);
    onStep?.(r.value);
  }
}
