// dllm export-onnx --model NAME|DIR --out DIR [--dtype f32|q8|q4]
// The model as an ONNX graph for ONNX Runtime anywhere (onnxruntime-node, onnxruntime-web with WebGPU, the
// CUDA provider): OUT/model.onnx + OUT/model.onnx.data (external weights), the checkpoint's config and
// tokenizer files, and OUT/onnx-io.json describing the inputs and outputs (see README "ONNX").
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadF32Weights } from '../platform/node-model.js';
import { ortSession, writeOnnxDir } from '../platform/node-ort.js';
import { resolveModel } from './generate.js';

const IO = {
  inputs: {
    input_ids: 'int64 (B, R): the token ids of the R rows computed by this call',
    position_ids: 'int64 (B, R): their positions (RoPE)',
    attn_bias:
      'float32 (B, 1, R, S + R): 0 where a query may attend to a key, -1e9 where not (mask, key padding, and the cache slots the R rows replace); keys are the S cache slots, then the R rows',
    query_valid: 'float32 (B, 1, R, 1): 0 for a query that sees no key (its attention output is zero), else 1',
    logit_rows: 'int64 (Nr): rows of the flattened (B·R) to return logits for',
    'cache_key.l':
      'float32 (B, Hkv, D, S): the cached post-RoPE keys, transposed (without a cache: one zero slot, masked in attn_bias; WebGPU refuses S = 0)',
    'cache_value.l': 'float32 (B, Hkv, S, D): the cached values',
    logit_bias: 'float32 (V): added to the logits before top_id (0, or -1e9 on banned ids such as [MASK])',
    confidence_kind:
      'int64 (1): what top_confidence holds: 0 nothing (logits only), 1 p(argmax), 2 p(1st) - p(2nd), 3 sum p log(p + 1e-10)',
  },
  outputs: {
    logits: 'float32 (Nr, V)',
    top_id: 'int64 (Nr): argmax of logits + logit_bias (empty for confidence_kind 0)',
    top_confidence: 'float32 (Nr): its confidence of the kind asked for (empty for confidence_kind 0)',
    'present_key.l': 'float32 (B, Hkv, D, R): keys of the computed rows, as cache_key lays them out',
    'present_value.l': 'float32 (B, Hkv, R, D): their values, as cache_value lays them out',
  },
};

/** the flags of the command (usage.ts lists them) */
export const EXPORT_ONNX_FLAGS = { model: { type: 'string' }, out: { type: 'string' }, dtype: { type: 'string', default: 'f32' } } as const;

export async function exportOnnx(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: EXPORT_ONNX_FLAGS,
  });
  if (!values.model || !values.out) throw new Error('usage: dllm export-onnx --model NAME|DIR --out DIR [--dtype f32|q8|q4]');
  const dtype = values.dtype as 'f32' | 'q8' | 'q4';
  if (!['f32', 'q8', 'q4'].includes(dtype)) throw new Error(`--dtype must be f32, q8 or q4, got "${values.dtype}"`);
  const dir = resolveModel(values.model),
    out = resolve(values.out);
  const t0 = performance.now();
  const { config, weights } = await loadF32Weights(dir);
  const w = writeOnnxDir(out, config, weights, { dtype });
  for (const f of ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'generation_config.json'])
    if (existsSync(join(dir, f))) copyFileSync(join(dir, f), join(out, f));
  writeFileSync(
    join(out, 'onnx-io.json'),
    JSON.stringify({ producer: 'dllm', arch: config.arch, dtype, opset: 17, domains: ['', 'com.microsoft'], ...IO }, null, 2) + '\n',
  );
  const s = await ortSession(w.model, 1); // the file loads: a broken export fails here, not at the user's
  await s.release();
  console.log(
    `${w.model} + ${(w.dataBytes / 1e6).toFixed(1)} MB of ${dtype} weights (${((performance.now() - t0) / 1000).toFixed(1)} s); inputs/outputs in onnx-io.json`,
  );
  return 0;
}
