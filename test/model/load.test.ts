// Checkpoint folders in Hugging Face layout: our writer → our loader round-trips bit-exactly (single file and
// sharded; F32, F16, BF16 on disk; f32 and q8 in memory), and every kind of damage gives one clear error —
// from the library and from the CLI (exit status ≠ 0, one line naming the problem).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { writeSafetensors, type TensorToWrite } from '../../src/io/safetensors.js';
import { toHfConfig, type ModelConfig } from '../../src/model/config.js';
import { parameterTable } from '../../src/model/params.js';
import { createKernels } from '../../src/platform/node.js';
import { loadModelDir } from '../../src/platform/node-model.js';
import { ref } from '../helpers/kernels.js';
import { expectClose } from '../helpers/expect-close.js';
import { tinyConfig, tinyModel } from '../helpers/tiny-model.js';

const run = promisify(execFile);
const CLI = new URL('../../../bin/dllm.js', import.meta.url).pathname;

type Disk = 'F32' | 'F16' | 'BF16';

async function writeModel(dir: string, cfg: ModelConfig, weights: Map<string, Float32Array>, dtype: Disk, shards: number): Promise<void> {
  await writeFile(join(dir, 'config.json'), JSON.stringify(toHfConfig(cfg)));
  const specs = parameterTable(cfg);
  const tensors: TensorToWrite[] = specs.map((s) => {
    const x = weights.get(s.name)!;
    if (dtype === 'F32') return { name: s.hfName, dtype, shape: [...s.shape], data: x };
    const h = new Uint16Array(x.length);
    if (dtype === 'F16') ref.f32ToF16(h, x, x.length);
    else ref.f32ToBf16(h, x, x.length);
    return { name: s.hfName, dtype, shape: [...s.shape], data: h };
  });
  if (shards === 1) {
    await writeFile(join(dir, 'model.safetensors'), writeSafetensors(tensors));
    return;
  }
  const map: Record<string, string> = {};
  for (let i = 0; i < shards; i++) {
    const part = tensors.filter((_, j) => j % shards === i);
    const file = `model-0000${i + 1}-of-0000${shards}.safetensors`;
    for (const t of part) map[t.name] = file;
    await writeFile(join(dir, file), writeSafetensors(part));
  }
  await writeFile(join(dir, 'model.safetensors.index.json'), JSON.stringify({ metadata: {}, weight_map: map }));
}

for (const arch of ['llada', 'dream', 'llama'] as const) {
  test(`${arch}: write → load round-trips (F32 single file, F16 and BF16 sharded), logits match`, async () => {
    const k = await createKernels();
    const dir = await mkdtemp(join(tmpdir(), 'dllm-load-'));
    try {
      const cfg = tinyConfig(arch),
        m = tinyModel(k, cfg);
      const weights = new Map([...m.weights].map(([n, w]) => [n, Float32Array.from((w as { data: Float32Array }).data)]));
      const tokens = Int32Array.from({ length: 9 }, (_, i) => (i * 11) % cfg.vocabSize);
      const want = m.forward({ tokens, B: 1, T: 9 });
      for (const [disk, shards] of [
        ['F32', 1],
        ['F16', 3],
        ['BF16', 2],
      ] as const) {
        await rm(dir, { recursive: true, force: true });
        await mkdir(dir, { recursive: true });
        await writeModel(dir, cfg, weights, disk, shards);
        const loaded = await loadModelDir(dir, k);
        assert.deepEqual(loaded.checkpointDtypes, [disk]);
        for (const [name, w] of loaded.model.weights) {
          const orig = weights.get(name)!,
            got = (w as { data: Float32Array }).data;
          if (disk === 'F32') expectClose(got, orig, { atol: 0, rtol: 0, label: `${arch} ${name} F32 bit-exact` });
          else expectClose(got, orig, { atol: 1e-7, rtol: disk === 'F16' ? 2 ** -11 : 2 ** -8, label: `${arch} ${name} ${disk} rounding` });
        }
        const logits = loaded.model.forward({ tokens, B: 1, T: 9 });
        // F32 on disk: the same numbers. F16/BF16: every weight moves by up to 2^-11 / 2^-8 relative; through
        // 2 layers onto logits of |l| ≲ 20 that measured 0.008 (F16) — bounds at 2.5× / 8× that
        const tol = disk === 'F32' ? { atol: 0, rtol: 0 } : { atol: disk === 'F16' ? 2e-2 : 0.16, rtol: 0 };
        expectClose(logits, want, { ...tol, label: `${arch} logits after ${disk} round trip` });
        loaded.model.dispose();
        const h16 = await loadModelDir(dir, k, { dtype: 'f16' });
        assert.ok(
          h16.weightBytes < 0.6 * loaded.weightBytes,
          `f16 storage halves the matrices: ${h16.weightBytes} vs ${loaded.weightBytes}`,
        );
        // f16 storage rounds each matrix weight to 2^-11 relative, like an F16 file (bound as above)
        expectClose(h16.model.forward({ tokens, B: 1, T: 9 }), want, {
          atol: disk === 'BF16' ? 0.16 : 2e-2,
          rtol: 0,
          label: `${arch} f16-stored logits`,
        });
        h16.model.dispose();
        const q8 = await loadModelDir(dir, k, { dtype: 'q8' });
        const lq = q8.model.forward({ tokens, B: 1, T: 9 });
        // int8 per-row absmax weights err by ≈ 0.3 % RMS each (max/127/√12 for Gaussian rows); through 14
        // matmuls the logits err by a few % RMS: measured NMSE 1.7e-3, bound 5e-3
        let e2 = 0,
          r2 = 0;
        for (let i = 0; i < lq.length; i++) {
          e2 += (lq[i]! - want[i]!) ** 2;
          r2 += want[i]! ** 2;
        }
        assert.ok(e2 / r2 < 5e-3, `${arch} q8 logits NMSE ${(e2 / r2).toExponential(2)} (bound 5e-3)`);
        q8.model.dispose();
      }
      m.dispose();
    } finally {
      k.dispose();
      await rm(dir, { recursive: true, force: true });
    }
  });
}

test('damaged checkpoints fail with one clear error (library and CLI)', async () => {
  const k = await createKernels();
  const base = await mkdtemp(join(tmpdir(), 'dllm-bad-'));
  try {
    const cfg = tinyConfig('llada'),
      m = tinyModel(k, cfg);
    const weights = new Map([...m.weights].map(([n, w]) => [n, Float32Array.from((w as { data: Float32Array }).data)]));
    m.dispose();
    const cases: [string, (dir: string) => Promise<void>, RegExp][] = [
      [
        'truncated header',
        async (d) => {
          await truncate(join(d, 'model.safetensors'), 5);
        },
        /too short for a header/,
      ],
      [
        'header length past the end',
        async (d) => {
          const b = await readFile(join(d, 'model.safetensors'));
          b.writeBigUInt64LE(10n ** 7n, 0);
          await writeFile(join(d, 'model.safetensors'), b);
        },
        /runs past the end/,
      ],
      [
        'truncated data',
        async (d) => {
          const p = join(d, 'model.safetensors');
          const b = await readFile(p);
          await writeFile(p, b.subarray(0, b.length - 100));
        },
        /past the end of the .*file \(truncated\?\)/,
      ],
      [
        'wrong dtype',
        async (d) => {
          const p = join(d, 'model.safetensors');
          const b = await readFile(p);
          await writeFile(p, Buffer.from(b.toString('latin1').replace('"F32"', '"X32"'), 'latin1'));
        },
        /unknown dtype "X32"/,
      ],
      [
        'shape mismatch with config.json',
        async (d) => {
          const c = JSON.parse(await readFile(join(d, 'config.json'), 'utf8'));
          c.d_model = 32;
          c.n_heads = 4;
          await writeFile(join(d, 'config.json'), JSON.stringify(c));
        },
        /has shape \[.*\], config.json implies/,
      ],
      [
        'unknown architecture',
        async (d) => {
          await writeFile(join(d, 'config.json'), JSON.stringify({ model_type: 'gpt2' }));
        },
        /unknown architecture/,
      ],
      [
        'malformed config.json',
        async (d) => {
          await writeFile(join(d, 'config.json'), '{"d_model": 3');
        },
        /malformed JSON/,
      ],
      [
        'missing shard',
        async (d) => {
          await writeFile(
            join(d, 'model.safetensors.index.json'),
            JSON.stringify({
              weight_map: Object.fromEntries(parameterTable(cfg).map((s) => [s.hfName, 'model-00002-of-00002.safetensors'])),
            }),
          );
        },
        /shard model-00002-of-00002.safetensors cannot be opened/,
      ],
      [
        'no weights at all',
        async (d) => {
          await rm(join(d, 'model.safetensors'));
        },
        /neither model.safetensors nor/,
      ],
    ];
    for (const [name, damage, pattern] of cases) {
      const dir = join(base, name.replace(/\W+/g, '-'));
      await mkdir(dir);
      await writeModel(dir, cfg, weights, 'F32', 1);
      await damage(dir);
      await assert.rejects(loadModelDir(dir, k), pattern, `library: ${name}`);
      const r = await run(process.execPath, [CLI, 'inspect', '--model', dir]).then(
        () => null,
        (e: { code: number; stderr: string }) => e,
      );
      assert.ok(r && r.code !== 0, `CLI exit status for ${name}`);
      assert.match(r!.stderr, pattern, `CLI message for ${name}`);
      assert.equal(r!.stderr.trim().split('\n').length, 1, `CLI prints one line for ${name}: ${r!.stderr}`);
    }
  } finally {
    k.dispose();
    await rm(base, { recursive: true, force: true });
  }
});
