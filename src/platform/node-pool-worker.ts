// Entry of a pool worker thread in Node.js: serve kernel jobs until the pool stops.
import { workerData } from 'node:worker_threads';
import { workerLoop, type PoolWorkerData } from '../kernels/wasm/protocol.js';

workerLoop(workerData as PoolWorkerData);
