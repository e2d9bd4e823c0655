// Runs the parity suite with the reference as the tested backend, so the suite itself (its shapes, buffer
// handling and tolerance plumbing) is exercised on every run; fast backends get their own parity-*.test.ts.
import { createRefKernels } from '../../src/kernels/ref/index.js';
import { runParitySuite } from './parity.js';

runParitySuite(async () => createRefKernels(), 'ref-vs-ref');
