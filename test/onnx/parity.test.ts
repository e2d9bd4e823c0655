// ONNX Runtime runs the same model as our kernels: logits through the emitted graph equal the WASM engine's
// (max abs diff ≤ 1e-4 in f32: both sum in float32 in different orders, the logits are O(1)) for llada, dream
// (GQA, q/k/v biases) and llama on the PyTorch fixtures, with bidirectional, causal and block-causal masks
// and key padding, through prefix and dual block caches and the AR KV cache; temperature-0 generation is
// token-identical across the two backends. int8 (DynamicQuantizeMatMul) stays close to f32.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import type { Kernels } from '../../src/kernels/backend.js';
import { CausalLM } from '../../src/model/causal-lm.js';
import { DiffusionLM, type CacheMode } from '../../src/model/diffusion-lm.js';
import type { ForwardInput, ForwardModel } from '../../src/model/forward.js';
import { createKernels } from '../../src/platform/node.js';
import { loadModelDir } from '../../src/platform/node-model.js';
import { loadF32Weights } from '../../src/platform/node-model.js';
import { OrtTransformer } from '../../src/platform/node-ort.js';
import { arGenerate, drain, generate, generateBatch } from '../../src/sampler/index.js';

const TOL = 1e-4; // float32 sums in another order
const fixture = (name: string) => fileURLToPath(new URL(`../../../test/fixtures/${name}/`, import.meta.url));
let k: Kernels;
const engines = new Map<string, { wasm: ForwardModel; ort: OrtTransformer; V: number }>();

before(async () => {
  k = await createKernels({ threads: 1 });
  for (const name of ['llada', 'dream', 'llama']) {
    const m = await loadModelDir(fixture(name), k);
    const { config, weights } = await loadF32Weights(fixture(name));
    engines.set(name, {
      wasm: m.model,
      ort: await OrtTransformer.create(config, weights, { dtype: 'f32', threads: 1 }),
      V: config.vocabSize,
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

function maxDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const ids = (B: number, T: number, V: number, salt = 1) => Int32Array.from({ length: B * T }, (_, i) => (i * 37 + salt * 11) % (V - 2));

for (const name of ['llada', 'dream', 'llama']) {
  test(`${name}: logits through ORT = WASM for every mask, with key padding`, async () => {
    const { wasm, ort, V } = engines.get(name)!;
    const B = 2,
      T = 13,
      tokens = ids(B, T, V);
    const keyValid = new Uint8Array(B * T).fill(1);
    keyValid.fill(0, T, T + 3); // row 1 left-padded by 3
    const positions = Int32Array.from({ length: B * T }, (_, i) => (i < T ? i : Math.max(0, i - T - 3)));
    const cases: Array<[string, Partial<ForwardInput>]> = [
      ['default mask', {}],
      ['causal', { mask: { kind: 'causal' } }],
      ['bidirectional', { mask: { kind: 'none' } }],
      ['block-causal 4', { mask: { kind: 'blockCausal', blockLength: 4 } }],
      ['key padding', { keyValid, positions }],
      ['logit rows', { logitRows: Int32Array.of(0, 5, 25) }],
    ];
    for (const [what, extra] of cases) {
      const input: ForwardInput = { tokens, B, T, ...extra };
      const d = maxDiff(await wasm.forward(input), await ort.forward(input));
      assert.ok(d <= TOL, `${name} ${what}: max |ORT − WASM| = ${d.toExponential(2)} > ${TOL}`);
    }
  });
}

for (const name of ['llada', 'dream']) {
  for (const cache of ['none', 'prefix', 'dual'] as CacheMode[]) {
    test(`${name}: Denoiser with cache ${cache}: logits per step and temperature-0 generation identical across backends`, async () => {
      const { wasm, ort } = engines.get(name)!;
      const sp = { mask: engines.get(name)!.V - 1, eos: null, eot: null, pad: null };
      const opts = { decoder: 'fixed' as const, genLength: 16, blockLength: 8, steps: 16, temperature: 0 };
      const a = new DiffusionLM(wasm, sp, cache),
        b = new DiffusionLM(ort, sp, cache);
      // same canvas through both: compare the region logits of a blockStart call and a cached call
      const T = 24,
        tokens = ids(1, T, engines.get(name)!.V, 3);
      for (const blockStart of [true, false]) {
        const region = { start: 8, end: 16, blockStart };
        const d = maxDiff(await a.denoise({ tokens, B: 1, T, region }), await b.denoise({ tokens, B: 1, T, region }));
        assert.ok(d <= TOL, `${name} ${cache} blockStart=${blockStart}: ${d.toExponential(2)}`);
      }
      a.reset();
      b.reset();
      const prompt = ids(1, 6, engines.get(name)!.V, 5);
      const ra = await drain(generate(a, { prompt }, opts)),
        rb = await drain(generate(b, { prompt }, opts));
      assert.deepEqual(Array.from(rb.result.canvas), Array.from(ra.result.canvas), `${name} ${cache}: tokens differ`);
      // two rows of different lengths (left padding): ORT copies their cached rows once per block and reuses them
      a.reset();
      b.reset();
      const two = [{ prompt }, { prompt: ids(1, 9, engines.get(name)!.V, 7) }];
      const ba = await drain(generateBatch(a, two, opts)),
        bb = await drain(generateBatch(b, two, opts));
      assert.deepEqual(
        bb.result.map((r) => Array.from(r.canvas)),
        ba.result.map((r) => Array.from(r.canvas)),
        `${name} ${cache} batch of 2: tokens differ`,
      );
    });
  }
}

// the graph's own argmax + probability (issue 14: confidences in the graph) against the logits read in JS
for (const name of ['llada', 'dream']) {
  test(`${name}: top-1 in the graph = argmax and softmax of the logits, per cache; decoding on it is token-identical`, async () => {
    const { ort, V } = engines.get(name)!;
    const mask = V - 1,
      banned = [mask, 3];
    const sp = { mask, eos: 2, eot: null, pad: null };
    for (const cache of ['none', 'prefix', 'dual'] as CacheMode[]) {
      const dl = new DiffusionLM(ort, sp, cache);
      assert.equal(dl.hasTop1, true);
      const T = 24,
        tokens = ids(2, T, V, 4);
      for (const blockStart of [true, false]) {
        const req = { tokens, B: 2, T, region: { start: 8, end: 16, blockStart } };
        const logits = await dl.denoise(req),
          top = await dl.denoiseTop1(req, banned),
          margin = await dl.denoiseTop1(req, banned, 'margin'),
          negEntropy = await dl.denoiseTop1(req, banned, 'negEntropy');
        for (let r = 0; r < 16; r++) {
          const row = Float64Array.from(logits.subarray(r * V, (r + 1) * V));
          for (const b of banned) row[b] = -Infinity;
          let best = 0,
            z = 0;
          for (let v = 1; v < V; v++) if (row[v]! > row[best]!) best = v;
          for (let v = 0; v < V; v++) z += Math.exp(row[v]! - row[best]!);
          assert.equal(top.token[r], best, `${name} ${cache} blockStart=${blockStart} row ${r}: graph argmax ${top.token[r]}, JS ${best}`);
          // float32 softmax in the graph vs float64 here: a few ulps of a probability ≤ 1
          assert.ok(Math.abs(top.confidence[r]! - 1 / z) <= 1e-5, `${name} ${cache} row ${r}: p ${top.confidence[r]} vs ${1 / z}`);
          // Dream's confidences from the same float64 softmax (propose.ts proposeDream): top-2 margin, Σ p log(p + 1e-10)
          const p = row.map((l) => Math.exp(l - row[best]!) / z),
            sorted = [...p].sort((x, y) => y - x);
          const ent = p.reduce((acc, x) => acc + x * Math.log(x + 1e-10), 0);
          assert.ok(
            Math.abs(margin.confidence[r]! - (sorted[0]! - sorted[1]!)) <= 1e-5,
            `${name} ${cache} row ${r}: margin ${margin.confidence[r]} vs ${sorted[0]! - sorted[1]!}`,
          );
          assert.ok(
            Math.abs(negEntropy.confidence[r]! - ent) <= 1e-4,
            `${name} ${cache} row ${r}: −entropy ${negEntropy.confidence[r]} vs ${ent}`,
          );
          assert.equal(margin.token[r], best);
        }
      }
      // the same decode with the top-1 path hidden (the sampler then reads the logits): identical tokens and NFE
      const plain = {
        vocabSize: dl.vocabSize,
        specials: dl.specials,
        denoise: (i: Parameters<DiffusionLM['denoise']>[0]) => dl.denoise(i),
      };
      const prompts = [{ prompt: ids(1, 6, V, 5) }, { prompt: ids(1, 9, V, 6) }];
      for (const opts of [
        { decoder: 'threshold' as const, threshold: 0.2 },
        { decoder: 'fixed' as const, steps: 8 },
        { decoder: 'topk_margin' as const, steps: 8 },
        { decoder: 'entropy' as const, steps: 8 },
        { decoder: 'maskgit_plus' as const, steps: 8 },
      ]) {
        const o = { ...opts, genLength: 16, blockLength: 8, temperature: 0 };
        dl.reset();
        let topCalls = 0;
        const viaTop = {
          ...plain,
          hasTop1: true,
          denoiseTop1: (i: Parameters<DiffusionLM['denoise']>[0], bn: readonly number[], kind: 'probability' | 'margin' | 'negEntropy') => {
            topCalls++;
            return dl.denoiseTop1(i, bn, kind);
          },
        };
        const a = await drain(generateBatch(viaTop, prompts, o));
        assert.equal(
          topCalls,
          a.result[0]!.nfe > a.result[1]!.nfe ? a.result[0]!.nfe : a.result[1]!.nfe,
          'every call went through the top-1 path',
        );
        dl.reset();
        const b = await drain(generateBatch(plain, prompts, o));
        assert.deepEqual(
          a.result.map((r) => Array.from(r.canvas)),
          b.result.map((r) => Array.from(r.canvas)),
          `${name} ${cache} ${opts.decoder}: tokens differ`,
        );
        assert.deepEqual(
          a.result.map((r) => r.nfe),
          b.result.map((r) => r.nfe),
        );
      }
    }
  });
}

test('llama: AR decoding with the KV cache is token-identical across backends', async () => {
  const { wasm, ort, V } = engines.get('llama')!;
  const sp = { eos: null, eot: null, pad: null };
  const prompt = ids(1, 5, V, 7);
  const ra = await drain(arGenerate(new CausalLM(wasm, sp, 40), { prompt }, { genLength: 24 }));
  const rb = await drain(arGenerate(new CausalLM(ort, sp, 40), { prompt }, { genLength: 24 }));
  assert.deepEqual(Array.from(rb.result.ids), Array.from(ra.result.ids));
});

test('int8 weights (per-output-channel scales, DynamicQuantizeMatMul) stay close to f32', async () => {
  const { config, weights } = await loadF32Weights(fixture('llada'));
  const q8 = await OrtTransformer.create(config, weights, { dtype: 'q8', threads: 1 });
  try {
    const { ort } = engines.get('llada')!;
    const input: ForwardInput = { tokens: ids(1, 12, config.vocabSize), B: 1, T: 12 };
    const f = await ort.forward(input),
      q = await q8.forward(input);
    const d = maxDiff(f, q);
    let scale = 0;
    for (const x of f) scale = Math.max(scale, Math.abs(x));
    assert.ok(d < 0.05 * scale && d > 0, `int8 vs f32: max diff ${d} (logit scale ${scale}); int8 must differ a little and not much`);
  } finally {
    q8.dispose();
  }
});

test('dllm export-onnx writes a folder that ONNX Runtime loads with external weights, same logits; bad input fails clearly', async () => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { mkdtempSync, existsSync, readFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { ortSession } = await import('../../src/platform/node-ort.js');
  const run = promisify(execFile);
  const CLI = fileURLToPath(new URL('../../../bin/dllm.js', import.meta.url));
  const out = join(mkdtempSync(join(tmpdir(), 'dllm-onnx-')), 'llama');
  await run(process.execPath, [CLI, 'export-onnx', '--model', fixture('llama'), '--out', out]);
  for (const f of ['model.onnx', 'model.onnx.data', 'config.json', 'tokenizer.json', 'onnx-io.json'])
    assert.ok(existsSync(join(out, f)), f);
  assert.ok(readFileSync(join(out, 'model.onnx')).length < 64 * 1024, 'the weights live in model.onnx.data');
  const { config } = await loadF32Weights(fixture('llama'));
  const fromFile = OrtTransformer.fromSession(config, await ortSession(join(out, 'model.onnx'), 1));
  try {
    const input: ForwardInput = { tokens: ids(1, 9, config.vocabSize), B: 1, T: 9 };
    const d = maxDiff(await engines.get('llama')!.wasm.forward(input), await fromFile.forward(input));
    assert.ok(d <= TOL, `exported file vs WASM: ${d}`);
  } finally {
    fromFile.dispose();
  }
  // onnx-io.json documents every input and output the graph has, no more (per-layer names written `.l`)
  const io = JSON.parse(readFileSync(join(out, 'onnx-io.json'), 'utf8')) as Record<'inputs' | 'outputs', Record<string, string>>;
  const documented = (names: Record<string, string>) => [...new Set(Object.keys(names).flatMap((k) => k.split(' / ')))].sort();
  const generic = (names: readonly string[]) => [...new Set(names.map((n) => n.replace(/\.\d+$/, '.l')))].sort();
  const session = await ortSession(join(out, 'model.onnx'), 1);
  try {
    assert.deepEqual(generic(session.inputNames), documented(io.inputs), 'onnx-io.json inputs');
    assert.deepEqual(generic(session.outputNames), documented(io.outputs), 'onnx-io.json outputs');
  } finally {
    await session.release();
  }
  for (const [args, pattern] of [
    [['--model', '/nonexistent', '--out', out], /neither a folder|does not exist/],
    [['--model', fixture('llama'), '--out', out, '--dtype', 'f16'], /--dtype must be f32, q8 or q4/],
  ] as const) {
    const r = await run(process.execPath, [CLI, 'export-onnx', ...args]).then(
      () => null,
      (e: { stderr: string }) => e,
    );
    assert.ok(r, `${args.join(' ')} must fail`);
    assert.match(r.stderr, pattern);
  }
});
