// Random weights of a model's shape for the benchmarks (bench:8b-ort, bench:step-bound --shape llada8b-layer),
// made one tensor at a time when the graph builder asks, so nothing of a huge model is held twice.
import type { ModelConfig } from '../src/model/config.js';
import { numel, parameterTable } from '../src/model/params.js';

/** random weights made when the builder asks (Irwin–Hall of 4 uniforms ≈ normal; norms are 1) */
export function randomSource(c: ModelConfig) {
  const specs = new Map(parameterTable(c).map((s) => [s.name, s]));
  let x = 0x9e3779b9;
  return {
    has: (name: string) => specs.has(name),
    get(name: string): Float32Array | undefined {
      const s = specs.get(name);
      if (!s) return undefined;
      const out = new Float32Array(numel(s.shape));
      if (s.kind === 'norm') return out.fill(1);
      for (let i = 0; i < out.length; i++) {
        let u = 0;
        for (let j = 0; j < 4; j++) {
          x ^= x << 13;
          x ^= x >>> 17;
          x ^= x << 5;
          u += (x >>> 0) / 4294967296;
        }
        out[i] = (u - 2) * 0.02 * Math.sqrt(3); // variance of a sum of 4 U(0,1) is 1/3
      }
      return out;
    },
  };
}
