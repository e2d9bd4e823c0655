// Token-for-token parity with the published algorithms on the REAL tiny fixture checkpoints: every case of
// test/fixtures/sampler/model-traces.json (written by scripts/reference/samplers/make_model_traces.py, which
// runs the numpy re-implementations of LLaDA generate.py, Fast-dLLM's threshold / factor rules and Dream's
// diffusion_generate on the plain-torch forward of test/fixtures/{llada,dream}) is decoded again here with
// our f32 Transformer as the denoiser (DiffusionLM, cache 'none'), at temperature 0, and must match step by
// step: committed positions and tokens exactly, confidences to 1e-6 (measured: 1.1e-7), final canvas and NFE. Our forward
// differs from torch's by ~1e-6, so every stored trace keeps its decisions ≥ 1e-4 away from a tie.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { DiffusionLM } from '../../src/model/diffusion-lm.js';
import { createKernels } from '../../src/platform/node.js';
import { loadModelDir, type LoadedModel } from '../../src/platform/node-model.js';
import type { Kernels } from '../../src/kernels/backend.js';
import { drain, generate, type DecodeOptions } from '../../src/sampler/index.js';

interface Case {
  name: string;
  family: 'llada' | 'dream';
  algorithm: string;
  prompt: number[];
  options: Partial<DecodeOptions>;
  trace: { row: number; step: number; block: number; committed: [number, number, number][] }[];
  canvas: number[];
  nfe: number;
  minMargin: number;
  marginWhere: string;
}
const FIXTURES = new URL('../../../test/fixtures/', import.meta.url).pathname;
const doc = JSON.parse(readFileSync(`${FIXTURES}sampler/model-traces.json`, 'utf8')) as { minMarginRequired: number; cases: Case[] };

test('the model traces cover every temperature-0 decoder and keep their decisions away from float ties', () => {
  const decoders = new Set(doc.cases.map((c) => c.options.decoder));
  for (const d of ['fixed', 'threshold', 'factor', 'maskgit_plus', 'topk_margin', 'entropy'])
    assert.ok(decoders.has(d as never), `no trace for ${d}`);
  assert.ok(doc.minMarginRequired >= 1e-4);
  for (const c of doc.cases) {
    assert.ok(c.minMargin >= doc.minMarginRequired, `${c.name}: smallest decision margin ${c.minMargin} (${c.marginWhere})`);
    assert.equal(c.options.temperature ?? 0, 0, `${c.name}: temperature 0 only`);
  }
});

let kernels: Kernels | null = null;
const models = new Map<string, LoadedModel>();
async function model(family: string): Promise<LoadedModel> {
  kernels ??= await createKernels();
  if (!models.has(family)) models.set(family, await loadModelDir(`${FIXTURES}${family}`, kernels));
  return models.get(family)!;
}

for (const c of doc.cases) {
  test(`model parity: ${c.name} (${c.algorithm}, ${c.family} fixture)`, async () => {
    const m = await model(c.family);
    const sp = m.tokenizer!.specials;
    const lm = new DiffusionLM(m.model, { mask: sp.mask!, eos: sp.eos, eot: sp.eot, pad: sp.pad }, 'none');
    const { steps, result } = await drain(generate(lm, { prompt: Int32Array.from(c.prompt) }, { ...c.options, temperature: 0 }));
    const got = steps.map((s) => ({
      row: s.row,
      step: s.step,
      block: s.block,
      committed: s.committed.map((x) => [x.position, x.token] as const),
    }));
    const want = c.trace.map((s) => ({
      row: s.row,
      step: s.step,
      block: s.block,
      committed: s.committed.map(([p, t]) => [p, t] as const),
    }));
    for (let i = 0; i < Math.max(got.length, want.length); i++)
      assert.deepEqual(got[i], want[i], `${c.name}: first divergence at step ${i}`);
    steps.forEach((s, i) =>
      s.committed.forEach((x, j) => {
        const ref = c.trace[i]!.committed[j]![2];
        assert.ok(Math.abs(x.confidence - ref) <= 1e-6, `${c.name} step ${i}: confidence ${x.confidence} vs ${ref}`);
      }),
    );
    assert.deepEqual(Array.from(result.canvas), c.canvas);
    assert.equal(result.nfe, c.nfe);
  });
}

test('model parity: release the fixtures', () => {
  for (const m of models.values()) m.model.dispose();
  kernels?.dispose();
});
