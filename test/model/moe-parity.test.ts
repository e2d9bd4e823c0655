// The tiny mixture-of-experts checkpoints (scripts/reference/moe/make_moe_fixtures.py) through the loader and
// forward users get: logits within 1e-4 of PyTorch (lladamoe: the official modeling_lladamoe.py; llada2: the
// reimplementation of modeling_llada2_moe.py), on the WASM engine and the reference kernels, and every token
// routed to the very experts the reference chose. Also: the folder matches its MANIFEST.json, f16 / q8 load,
// and `dllm inspect` / `dllm forward` run on the folders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseSafetensorsHeader, readTensor } from '../../src/io/safetensors.js';
import type { ForwardInput } from '../../src/model/forward.js';
import type { Routing } from '../../src/model/moe.js';
import { createKernels } from '../../src/platform/node.js';
import { loadModelDir } from '../../src/platform/node-model.js';
import { expectClose } from '../helpers/expect-close.js';

const FIXTURES = new URL('../../../test/fixtures/', import.meta.url).pathname;
const CLI = new URL('../../../bin/dllm.js', import.meta.url).pathname;
const run = promisify(execFile);
/** the bound; measured ≈ 1.3e-6 (summation order and exp/rsqrt rounding only) */
const BOUND = 1e-4;
const NAMES = ['lladamoe', 'llada2'] as const;

interface Manifest {
  files: Record<string, { bytes: number; sha256: string }>;
  routing: { min_margin: number; bias_changes: number; group_changes: number };
}

async function reference(name: string) {
  const bytes = new Uint8Array(await readFile(`${FIXTURES}${name}/reference.safetensors`));
  const h = parseSafetensorsHeader(bytes);
  const get = (n: string) => readTensor(bytes, h, n);
  const [B, T, V] = h.tensors.get('logits')!.shape as [number, number, number];
  const routing = new Map<number, Int32Array>();
  for (const n of h.tensors.keys()) {
    const m = /^routing\.(\d+)\.experts$/.exec(n);
    if (m) routing.set(Number(m[1]), get(n) as Int32Array);
  }
  const block = h.metadata['block_length'];
  const input: ForwardInput = {
    tokens: get('input_ids') as Int32Array,
    B,
    T,
    positions: get('position_ids') as Int32Array,
    ...(block ? { mask: { kind: 'blockCausal' as const, blockLength: Number(block) } } : {}),
  };
  return { B, T, V, input, logits: get('logits') as Float32Array, routing };
}

for (const name of NAMES) {
  test(`${name}: the fixture folder is what MANIFEST.json lists (regenerate with scripts/reference/moe, never edit)`, async () => {
    const manifest = JSON.parse(await readFile(`${FIXTURES}${name}/MANIFEST.json`, 'utf8')) as Manifest;
    let total = 0;
    for (const [file, { bytes, sha256 }] of Object.entries(manifest.files)) {
      const data = await readFile(`${FIXTURES}${name}/${file}`);
      assert.equal(data.length, bytes, file);
      assert.equal(createHash('sha256').update(data).digest('hex'), sha256, file);
      total += data.length;
    }
    assert.ok(total < 400_000, `${name} fixture is ${total} bytes`);
    // the generator only keeps seeds where every rule matters and no choice is within float noise
    assert.ok(manifest.routing.min_margin > 1e-3);
    assert.ok(manifest.routing.bias_changes > 0, "the expert bias changes some token's experts");
    if (name === 'llada2') assert.ok(manifest.routing.group_changes > 0, "the group limit changes some token's experts");
  });

  for (const backend of ['wasm', 'ref'] as const) {
    test(`${name}: logits within ${BOUND} of PyTorch and the same experts per token (${backend} kernels)`, async () => {
      const k = await createKernels({ backend });
      try {
        const r = await reference(name);
        const m = await loadModelDir(`${FIXTURES}${name}`, k);
        const seen = new Map<number, Routing>();
        m.model.onRouting = (layer, routing) => seen.set(layer, routing);
        const got = m.model.forward(r.input);
        for (let row = 0; row < r.B * r.T; row++) {
          expectClose(got.subarray(row * r.V, (row + 1) * r.V), r.logits.subarray(row * r.V, (row + 1) * r.V), {
            atol: BOUND,
            rtol: 0,
            label: `${name} ${backend} row ${row}`,
          });
        }
        assert.deepEqual([...seen.keys()].sort(), [...r.routing.keys()].sort(), 'MoE layers');
        for (const [layer, want] of r.routing) {
          const K = m.config.moe!.topK,
            ours = seen.get(layer)!.experts;
          for (let n = 0; n < r.B * r.T; n++) {
            const set = (x: Int32Array) => [...x.subarray(n * K, (n + 1) * K)].sort((a, b) => a - b);
            assert.deepEqual(set(ours), set(want), `${name} layer ${layer} token ${n} experts`);
          }
        }
        m.model.dispose();
      } finally {
        k.dispose();
      }
    });
  }

  if (name === 'llada2') {
    test('llada2: the block-causal prefix cache is exact on the kernels (two blocks cached, the third computed alone)', async () => {
      const k = await createKernels({ backend: 'wasm' });
      try {
        const r = await reference(name);
        const m = await loadModelDir(`${FIXTURES}${name}`, k);
        const full = m.model.forward(r.input);
        const P = 8,
          tail = r.T - P,
          cache = m.model.createCache(r.B, r.T);
        const rows = (x: Int32Array, from: number, to: number) =>
          Int32Array.from({ length: r.B * (to - from) }, (_, i) => x[Math.floor(i / (to - from)) * r.T + from + (i % (to - from))]!);
        m.model.forward({
          ...r.input,
          tokens: rows(r.input.tokens, 0, P),
          positions: rows(r.input.positions!, 0, P),
          T: P,
          cache,
          rowStart: 0,
        });
        const got = m.model.forward({
          ...r.input,
          tokens: rows(r.input.tokens, P, r.T),
          positions: rows(r.input.positions!, P, r.T),
          T: tail,
          cache,
          rowStart: P,
        });
        for (let b = 0; b < r.B; b++) {
          expectClose(got.subarray(b * tail * r.V, (b + 1) * tail * r.V), full.subarray((b * r.T + P) * r.V, (b + 1) * r.T * r.V), {
            atol: 1e-5,
            rtol: 0,
            label: `cached rows of batch ${b}`,
          });
        }
        m.model.freeCache(cache);
        m.model.dispose();
      } finally {
        k.dispose();
      }
    });
  }

  // logits NMSE bounds: q8 as load.test.ts's dense models (5e-3); f16 rounds each weight by ≤ 2^-11 relative
  test(`${name}: f16 and q8 weights load and stay near the f32 logits (routers stay f32)`, async () => {
    const k = await createKernels({ backend: 'wasm' });
    try {
      const r = await reference(name);
      for (const [dtype, bound] of [
        ['f16', 1e-5],
        ['q8', 5e-3],
      ] as const) {
        const m = await loadModelDir(`${FIXTURES}${name}`, k, { dtype });
        const router = [...m.model.weights].find(([n]) => n.endsWith('.router'))!;
        assert.equal(router[1].kind, 'f32', `${dtype}: ${router[0]} stays f32`);
        const got = m.model.forward(r.input);
        let e2 = 0,
          r2 = 0;
        for (let i = 0; i < got.length; i++) {
          e2 += (got[i]! - r.logits[i]!) ** 2;
          r2 += r.logits[i]! ** 2;
        }
        assert.ok(e2 / r2 < bound, `${name} ${dtype} logits NMSE ${(e2 / r2).toExponential(2)} (bound ${bound})`);
        m.model.dispose();
      }
    } finally {
      k.dispose();
    }
  });

  test(`${name}: dllm inspect and dllm forward run on the folder`, async () => {
    const dir = `${FIXTURES}${name}`;
    const info = JSON.parse((await run(process.execPath, [CLI, 'inspect', '--model', dir, '--json'])).stdout) as Record<string, unknown>;
    assert.equal(info['architecture'], name);
    assert.ok((info['activeParameters'] as number) < (info['parameters'] as number), 'a token reads fewer parameters than the model holds');
    const out = await mkdtemp(join(tmpdir(), 'dllm-moe-'));
    try {
      const file = join(out, 'logits.safetensors');
      // the fixture's first row through the CLI, with the fixture's mask: the reference logits of that row
      const r = await reference(name);
      const ids = [...r.input.tokens.subarray(0, r.T)].join(',');
      const maskArgs = r.input.mask ? ['--attention', 'block-causal', '--block-length', String(r.input.mask.blockLength)] : [];
      const res = await run(process.execPath, [CLI, 'forward', '--model', dir, '--ids', ids, '--out', file, ...maskArgs]);
      assert.match(res.stdout, new RegExp(`logits \\[${r.T}, ${r.V}\\]`));
      const bytes = new Uint8Array(await readFile(file));
      const logits = readTensor(bytes, parseSafetensorsHeader(bytes), 'logits') as Float32Array;
      expectClose(logits, r.logits.subarray(0, r.T * r.V), { atol: BOUND, rtol: 0, label: `${name} dllm forward row 0` });
    } finally {
      await rm(out, { recursive: true, force: true });
    }
    for (const backend of ['wasm', 'ort']) {
      const gen = await run(process.execPath, [CLI, 'generate', 'hello', '--model', dir, '--gen-length', '4', '--backend', backend]);
      assert.match(gen.stdout + gen.stderr, new RegExp(`4 tokens .* ${backend}\\]`));
    }
  });
}
