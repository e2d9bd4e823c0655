// Tiny random models for model-level tests (no files): seeded weights in kernel memory.
import type { Kernels } from '../../src/kernels/backend.js';
import type { Arch, ModelConfig } from '../../src/model/config.js';
import { validateConfig } from '../../src/model/config.js';
import { Transformer } from '../../src/model/forward.js';
import { randomWeights } from '../../src/model/weights.js';
import { Rng } from '../../src/train/rng.js';

export function tinyConfig(arch: Arch, over: Partial<ModelConfig> = {}): ModelConfig {
  return validateConfig({
    arch,
    vocabSize: 53,
    hiddenSize: 24,
    numLayers: 2,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 6,
    ffnSize: 40,
    ropeTheta: arch === 'dream' ? 1e6 : 10000,
    normEps: 1e-5,
    tieEmbeddings: arch === 'llama',
    qkvBias: arch === 'dream',
    attention: arch === 'llama' ? 'causal' : 'bidirectional',
    shiftLogits: arch === 'dream',
    maxPositions: 64,
    ...over,
  });
}

export function tinyModel(k: Kernels, cfg: ModelConfig, seed = 1): Transformer {
  const r = new Rng(seed);
  const w = randomWeights(cfg, k, () => r.normal(), 0.3);
  // biases and norm gains off their defaults so that they matter
  for (const [name, t] of w) {
    if (t.kind !== 'f32') continue;
    if (name.endsWith('Norm')) for (let i = 0; i < t.data.length; i++) t.data[i] = 1 + 0.2 * r.normal();
    if (/\.b[qkv]$/.test(name)) for (let i = 0; i < t.data.length; i++) t.data[i] = 0.2 * r.normal();
  }
  return new Transformer(cfg, k, w);
}
