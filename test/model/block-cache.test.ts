// The exact block-causal cache (DiffusionLM cache 'block', model/block-cache.ts) on the llada and llada2
// fixtures (and dream: a shifted model, whose block's first row is scored by the row before it, as in
// Fast-dLLM v2), on the WASM engine and ONNX Runtime: along real block-causal decodes (options.blockCausal:
// blocks at absolute multiples of L, the prompt's tail in the first block — batch.ts), every step's logits
// equal a full recomputation of the canvas under the same mask (≤ 1e-5: float order only), for prompts aligned
// and not aligned to the block and for a batch of two left-padded rows; temperature-0 decoding through the
// cache is token-identical to decoding with full recomputation; and a step computes only the active block
// (plus, at a block's first step, the block that just finished).
// Letters: B rows, T columns, R rows computed, V vocabulary, L block, P prompt, G generated.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Kernels } from '../../src/kernels/backend.js';
import { DiffusionLM, type CacheMode, type Specials } from '../../src/model/diffusion-lm.js';
import type { ForwardModel } from '../../src/model/forward.js';
import { createKernels } from '../../src/platform/node.js';
import { loadF32Weights, loadModelDir } from '../../src/platform/node-model.js';
import { OrtTransformer } from '../../src/platform/node-ort.js';
import { drain, generate, generateBatch, type DecodeOptions, type DenoiseInput, type Denoiser } from '../../src/sampler/index.js';
import { expectClose } from '../helpers/expect-close.js';

const FIXTURES = new URL('../../../test/fixtures/', import.meta.url).pathname;
/** the brief's bound: the cached and the full forward differ only in summation order (measured ≈ 1e-7) */
const EXACT = 1e-5;
/** block and generated span of these tests: 3 blocks of 8 fit llada2's 64 positions with the longest prompt */
const L = 8,
  G = 16;
/** prompt lengths: aligned to L (8), a short tail (5), a prompt of a whole block plus a tail (13) */
const PROMPTS = [8, 5, 13];
const NAMES = ['llada', 'llada2', 'dream'];
const prompt = (n: number, salt: number) => Int32Array.from({ length: n }, (_, i) => 3 + ((i * 7 + salt * 11) % 200));

let k: Kernels;
const engines = new Map<string, { wasm: ForwardModel; ort: OrtTransformer; specials: Specials }>();

before(async () => {
  k = await createKernels({ threads: 1 });
  for (const name of NAMES) {
    const m = await loadModelDir(`${FIXTURES}${name}`, k);
    const { config, weights } = await loadF32Weights(`${FIXTURES}${name}`);
    const sp = m.tokenizer!.specials;
    engines.set(name, {
      wasm: m.model,
      ort: await OrtTransformer.create(config, weights, { dtype: 'f32', threads: 1 }),
      specials: { mask: sp.mask!, eos: sp.eos, eot: sp.eot, pad: sp.pad },
    });
  }
});
after(() => {
  for (const e of engines.values()) {
    e.wasm.dispose();
    e.ort.dispose();
  }
  k.dispose();
});

/**
 * a Denoiser that answers every call through the block cache and checks it against the full recomputation
 * of the same input (cache 'none', same mask); the largest difference seen, per call
 */
class Checked implements Denoiser {
  readonly vocabSize: number;
  readonly specials: Specials;
  calls = 0;
  worst = 0;
  constructor(
    readonly cached: DiffusionLM,
    readonly full: DiffusionLM,
    readonly label: string,
  ) {
    this.vocabSize = cached.vocabSize;
    this.specials = cached.specials;
  }
  async denoise(input: DenoiseInput): Promise<Float32Array> {
    assert.ok(input.blockCausal === L, `${this.label}: the sampler passes the block-causal mask (L ${L}), got ${input.blockCausal}`);
    const got = await this.cached.denoise(input),
      want = await this.full.denoise(input);
    const R = (input.region?.end ?? input.T) - (input.region?.start ?? 0);
    for (let b = 0; b < input.B; b++)
      for (let r = 0; r < R; r++) {
        const o = (b * R + r) * this.vocabSize;
        expectClose(got.subarray(o, o + this.vocabSize), want.subarray(o, o + this.vocabSize), {
          atol: EXACT,
          rtol: 0,
          label: `${this.label} call ${this.calls} (region ${input.region?.start}..${input.region?.end}, T ${input.T}) batch row ${b} block row ${r}`,
        });
        for (let i = o; i < o + this.vocabSize; i++) this.worst = Math.max(this.worst, Math.abs(got[i]! - want[i]!));
      }
    this.calls++;
    return want;
  }
}

const OPTIONS: Array<{ label: string; o: Partial<DecodeOptions> }> = [
  { label: 'threshold 0.9', o: { decoder: 'threshold', threshold: 0.9 } },
  { label: 'fixed, steps = G', o: { decoder: 'fixed', steps: G } },
];

for (const name of NAMES) {
  for (const backend of ['wasm', 'ort'] as const) {
    const lm = (mode: CacheMode) => {
      const e = engines.get(name)!;
      return new DiffusionLM(backend === 'wasm' ? e.wasm : e.ort, e.specials, mode);
    };

    test(`${name} ${backend}: every step's logits through the block cache equal the full block-causal forward (≤ ${EXACT}), prompts ${PROMPTS.join(', ')} and a padded batch of 2`, async () => {
      const cases = [...PROMPTS.map((P) => [prompt(P, P)]), [prompt(5, 1), prompt(13, 2)]];
      for (const requests of cases)
        for (const { label, o } of OPTIONS) {
          const what = `${name} ${backend} ${label} P ${requests.map((r) => r.length).join('+')}`;
          const d = new Checked(lm('block'), lm('none'), what);
          await drain(
            generateBatch(
              d,
              requests.map((p) => ({ prompt: p })),
              { ...o, genLength: G, blockLength: L, blockCausal: true, temperature: 0 },
            ),
          );
          assert.ok(d.calls > 0, what);
          console.log(`${what}: ${d.calls} calls, max |cached − full| ${d.worst.toExponential(2)}`);
        }
    });

    test(`${name} ${backend}: temperature-0 decoding through the block cache is token-identical to full recomputation, and computes only the active block`, async () => {
      for (const requests of [...PROMPTS.map((P) => [prompt(P, P + 1)]), [prompt(13, 3), prompt(5, 4)]]) {
        const what = `${name} ${backend} P ${requests.map((r) => r.length).join('+')}`;
        const runs = new Map<CacheMode, { canvases: number[][]; nfe: number[]; rows: number }>();
        for (const mode of ['none', 'block'] as const) {
          const d = lm(mode);
          const { result } = await drain(
            generateBatch(
              d,
              requests.map((p) => ({ prompt: p })),
              { decoder: 'threshold', threshold: 0.9, genLength: G, blockLength: L, blockCausal: true },
            ),
          );
          runs.set(mode, { canvases: result.map((r) => Array.from(r.canvas)), nfe: result.map((r) => r.nfe), rows: d.rowsComputed });
        }
        const full = runs.get('none')!,
          cached = runs.get('block')!;
        assert.deepEqual(cached.canvases, full.canvases, `${what}: canvases`);
        assert.deepEqual(cached.nfe, full.nfe, `${what}: NFE`);
        // rows: every call computes at most the active block and the one before it, for each batch row
        const calls = Math.max(...full.nfe),
          B = requests.length;
        assert.ok(
          cached.rows <= calls * B * 2 * L,
          `${what}: ${cached.rows} rows computed through the cache, more than ${calls} calls × ${B} × 2L`,
        );
        console.log(`${what}: rows computed ${cached.rows} (block cache) vs ${full.rows} (full), ${calls} calls`);
      }
    });
  }
}

test('block-causal layout: blocks at multiples of L, the prompt tail in the first block, the last block decoded to its end, G returned', async () => {
  const e = engines.get('llada2')!;
  const d = new DiffusionLM(e.wasm, e.specials, 'block');
  const P = 13; // block 0 = columns 8..15: prompt 8..12, generated 13..15 (3 masks); then 16..23, 24..31
  const { steps, result } = await drain(
    generate(d, { prompt: prompt(P, 9) }, { decoder: 'fixed', steps: G, genLength: G, blockLength: L, blockCausal: true }),
  );
  const byBlock = new Map<number, number[]>();
  for (const s of steps) for (const c of s.committed) byBlock.set(s.block, [...(byBlock.get(s.block) ?? []), c.position]);
  assert.deepEqual([...byBlock.keys()], [0, 1, 2], 'three blocks: ceil((13 + 16) / 8) − floor(13 / 8)');
  assert.deepEqual(
    byBlock.get(0)!.sort((a, b) => a - b),
    [0, 1, 2],
    'block 0 holds the 3 generated positions up to column 16',
  );
  assert.deepEqual(
    byBlock.get(1)!.sort((a, b) => a - b),
    [3, 4, 5, 6, 7, 8, 9, 10],
    'block 1 = columns 16..23',
  );
  // block 2 = columns 24..31; its positions past P + G = 29 are decoded but not returned (LLaDA2 returns x[P : P + G])
  assert.deepEqual(
    byBlock.get(2)!.sort((a, b) => a - b),
    [11, 12, 13, 14, 15],
    'block 2, cut at G',
  );
  assert.equal(result.canvas.length, G);
  assert.ok(
    result.canvas.every((t) => t !== e.specials.mask),
    'no masks in the returned span',
  );
});

test("cache 'block' refuses a request without block-causal attention, and an infill under block-causal decoding", async () => {
  const e = engines.get('llada')!;
  const d = new DiffusionLM(e.wasm, e.specials, 'block');
  await assert.rejects(drain(generate(d, { prompt: prompt(8, 0) }, { genLength: G, blockLength: L })), /blockCausal/);
  await assert.rejects(
    drain(generate(d, { prompt: prompt(8, 0), suffix: prompt(3, 1) }, { genLength: G, blockLength: L, blockCausal: true })),
    /suffix/,
  );
});

test('TextGenerator: LLaDA2 decodes block-causally by default (not infills), cache block implies it, and its text equals full recomputation', async () => {
  const { TextGenerator } = await import('../../src/text/generator.js');
  const open = async (name: string) => {
    const m = await loadModelDir(`${FIXTURES}${name}`, k);
    return new TextGenerator({ config: m.config, model: m.model, tokenizer: m.tokenizer!, dispose: () => m.model.dispose() });
  };
  const llada2 = await open('llada2'),
    llada = await open('llada');
  try {
    assert.equal(llada2.options({ maxTokens: G }).blockCausal, true, 'llada2: LLaDA2MoeModelLM.generate is block-causal');
    assert.equal(llada2.options({ maxTokens: G }, true).blockCausal, false, 'llada2 infill: a block-causal block never sees the suffix');
    assert.equal(llada.options({ maxTokens: G }).blockCausal, false, 'llada: generate.py is bidirectional');
    assert.equal(llada.options({ maxTokens: G, cache: 'block' }).blockCausal, true, "cache 'block' implies blockCausal");
    assert.throws(() => llada.options({ maxTokens: G, cache: 'block', blockCausal: false }), /blockCausal/);
    const ids = prompt(13, 5);
    const a = await llada2.complete(ids, { maxTokens: G, blockLength: L, cache: 'block', earlyStop: false });
    const b = await llada2.complete(ids, { maxTokens: G, blockLength: L, cache: 'none', earlyStop: false });
    assert.deepEqual(Array.from(a.ids), Array.from(b.ids), 'llada2 text through the block cache vs full recomputation');
  } finally {
    llada2.dispose();
    llada.dispose();
  }
});
