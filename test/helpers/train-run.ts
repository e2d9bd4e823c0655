// Tiny trainers for the checkpoint tests: a 2-layer model on the reference kernels, a structured token
// stream, tokenizer files for saveCheckpoint to copy, and an exact snapshot of everything a checkpoint holds
// (weights, moments, counters, RNG) to compare a resumed trainer with.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseTrainConfig } from '../../src/train/config.js';
import { Trainer, modelConfigFor } from '../../src/train/loop.js';
import { ref } from './kernels.js';

export const VOCAB = 16;

export function tinyTrainer(over: Record<string, unknown> = {}): Trainer {
  const cfg = parseTrainConfig({
    hiddenSize: 16,
    numLayers: 2,
    numHeads: 2,
    numKvHeads: 2,
    ffnSize: 32,
    seqLen: 8,
    batchSize: 2,
    steps: 100,
    lrMax: 1e-2,
    lrMin: 1e-3,
    lrWarmupSteps: 2,
    evalEvery: 1000,
    checkpointEvery: 1000,
    ...over,
  });
  const t = new Trainer(cfg, modelConfigFor(cfg, VOCAB), ref, VOCAB - 1);
  t.initWeights();
  return t;
}

export function stream(n = 4000): { ids: Uint16Array } {
  const ids = new Uint16Array(n);
  for (let i = 0; i < n; i++) ids[i] = 1 + (i % 12);
  return { ids };
}

export function trainSteps(t: Trainer, n: number): void {
  const s = stream();
  for (let i = 0; i < n; i++) t.step(s);
}

/** tokenizer files beside a run (saveCheckpoint copies them; their content does not matter here) */
export function tokenizerFiles(dir: string): { tokenizerJson: string; tokenizerConfig: string } {
  const tokenizerJson = join(dir, 'tokenizer.json'),
    tokenizerConfig = join(dir, 'tokenizer_config.json');
  writeFileSync(tokenizerJson, JSON.stringify({ model: { type: 'BPE', vocab: {}, merges: [] } }));
  writeFileSync(tokenizerConfig, JSON.stringify({ eos_token: '<eos>' }));
  return { tokenizerJson, tokenizerConfig };
}

export const SPECIALS = { eos: 0, mask: VOCAB - 1 };

export interface Snapshot {
  step: number;
  tokens: number;
  optimizerStep: number;
  rng: number[];
  values: Map<string, Uint32Array>;
}

const bits = (x: Float32Array) => Uint32Array.from(new Uint32Array(x.buffer, x.byteOffset, x.length));

/** bit patterns of everything a checkpoint restores */
export function snapshot(t: Trainer): Snapshot {
  const values = new Map<string, Uint32Array>();
  for (const [n, p] of t.model.params) values.set(`p.${n}`, bits(p));
  for (const [n, m] of t.optim.m) values.set(`m.${n}`, bits(m));
  for (const [n, v] of t.optim.v) values.set(`v.${n}`, bits(v));
  return { step: t.state.step, tokens: t.state.tokens, optimizerStep: t.optim.step, rng: Array.from(t.state.rng), values };
}

/** the snapshot `t` equals, by step, or an error naming the first difference */
export function sameAs(t: Trainer, candidates: Snapshot[]): Snapshot {
  const got = snapshot(t);
  const s = candidates.find((c) => c.step === got.step);
  if (!s) throw new Error(`resumed at step ${got.step}, expected one of ${candidates.map((c) => c.step).join(', ')}`);
  if (got.tokens !== s.tokens || got.optimizerStep !== s.optimizerStep || got.rng.join() !== s.rng.join())
    throw new Error(`step ${s.step}: counters or RNG differ`);
  for (const [k, v] of s.values) {
    const w = got.values.get(k)!;
    for (let i = 0; i < v.length; i++) if (v[i] !== w[i]) throw new Error(`step ${s.step}: ${k}[${i}] differs`);
  }
  return s;
}
