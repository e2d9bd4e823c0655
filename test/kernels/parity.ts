// The kernel differential suite (docs/style.md §3.6, "kernel differential"): every op of a Kernels, forward
// and backward, against the reference on odd shapes and extreme values. Not a test file itself: a backend's
// test file calls runParitySuite(make, label), e.g. parity-ref.test.ts. Inputs live in buffers from the
// tested kernels' own alloc* (their fast path) and are freed after each case. Every tolerance comes from
// helpers/tolerances.ts, where its size is explained.
import { after, before, describe } from 'node:test';
import type { Kernels } from '../../src/kernels/backend.js';
import { createRefKernels } from '../../src/kernels/ref/index.js';
import { registerSequenceCases } from './parity-attention.js';
import { registerConversionCases } from './parity-convert.js';
import { registerDenseCases } from './parity-dense.js';

export { runThreadDeterminismSuite } from './parity-threads.js';

/** register node:test tests comparing every op of makeKernels() with createRefKernels() */
export function runParitySuite(makeKernels: () => Promise<Kernels>, label: string): void {
  describe(`parity ${label}`, () => {
    const ref = createRefKernels();
    let k: Kernels | undefined;
    before(async () => {
      k = await makeKernels();
    });
    after(() => k?.dispose());
    const kernels = (): Kernels => {
      if (!k) throw new Error(`parity ${label}: the kernels were not created`);
      return k;
    };
    registerDenseCases(kernels, ref, label);
    registerSequenceCases(kernels, ref, label);
    registerConversionCases(kernels, ref, label);
  });
}
