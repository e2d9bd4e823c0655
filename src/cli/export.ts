// dllm export --checkpoint RUN/checkpoint --out models/NAME [--dtype f16|bf16|f32]
// A training checkpoint → a model folder to ship: config.json, generation_config.json, tokenizer files and
// model.safetensors in F16/BF16 (no optimizer state), written to a temp folder and renamed into place.
// With --format gguf [--dtype f32|f16|q4_k]: one llama.cpp GGUF file instead (platform/node-gguf-export.ts).
import { copyFile, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSafetensorsHeader, readTensor, writeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import { createRefKernels } from '../kernels/ref/index.js';
import { fileExists } from '../platform/node-files.js';
import { exportGguf } from '../platform/node-gguf-export.js';
import { trainingRecord } from './training-record.js';

/** the flags of the command (usage.ts lists them) */
export const EXPORT_FLAGS = {
  checkpoint: { type: 'string' },
  out: { type: 'string' },
  dtype: { type: 'string', default: 'f16' },
  format: { type: 'string', default: 'safetensors' },
} as const;

export async function exportModel(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: EXPORT_FLAGS,
  });
  if (!values.checkpoint || !values.out) {
    throw new Error(
      'usage: dllm export --checkpoint DIR --out DIR [--dtype f16|bf16|f32] | --out FILE.gguf --format gguf [--dtype f16|f32]',
    );
  }
  const dtype = values.dtype!;
  if (values.format === 'gguf') {
    if (dtype !== 'f32' && dtype !== 'f16' && dtype !== 'q4_k')
      throw new Error(`--dtype must be f16, f32 or q4_k for GGUF, got "${dtype}"`);
    const r = await exportGguf({ checkpoint: values.checkpoint, out: values.out, dtype });
    console.log(`export: ${r.config.arch} model, ${r.tensors} tensors as ${dtype} GGUF (${(r.bytes / 1e6).toFixed(1)} MB) → ${values.out}`);
    return 0;
  }
  if (values.format !== 'safetensors') throw new Error(`--format must be safetensors or gguf, got "${values.format}"`);
  if (!['f16', 'bf16', 'f32'].includes(dtype)) throw new Error(`--dtype must be f16, bf16 or f32, got "${dtype}"`);
  const src = values.checkpoint,
    tmp = `${values.out}.tmp`;
  for (const f of ['config.json', 'model.safetensors', 'tokenizer.json']) {
    if (!(await fileExists(join(src, f)))) throw new Error(`${src}: ${f} is missing; is this a checkpoint folder?`);
  }
  const bytes = new Uint8Array(await readFile(join(src, 'model.safetensors')));
  const header = parseSafetensorsHeader(bytes, bytes.length, join(src, 'model.safetensors'));
  const k = createRefKernels(); // conversion only: exact rounding, no threads needed
  const tensors: TensorToWrite[] = [];
  for (const [name, info] of header.tensors) {
    if (info.dtype !== 'F32') throw new Error(`${name}: checkpoint tensors are F32, found ${info.dtype}`);
    const x = readTensor(bytes, header, name) as Float32Array;
    if (dtype === 'f32') {
      tensors.push({ name, dtype: 'F32', shape: info.shape, data: x });
      continue;
    }
    const h = new Uint16Array(x.length);
    if (dtype === 'f16') k.f32ToF16(h, x, x.length);
    else k.f32ToBf16(h, x, x.length);
    tensors.push({ name, dtype: dtype === 'f16' ? 'F16' : 'BF16', shape: info.shape, data: h });
  }
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp, { recursive: true });
  await writeFile(join(tmp, 'model.safetensors'), writeSafetensors(tensors, { format: 'pt' }));
  for (const f of ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json']) {
    if (await fileExists(join(src, f))) await copyFile(join(src, f), join(tmp, f));
  }
  const cfg = JSON.parse(await readFile(join(tmp, 'config.json'), 'utf8')) as Record<string, unknown>;
  cfg['torch_dtype'] = dtype === 'f16' ? 'float16' : dtype === 'bf16' ? 'bfloat16' : 'float32';
  await writeFile(join(tmp, 'config.json'), JSON.stringify(cfg, null, 2));
  const record = trainingRecord(src);
  if (record) await writeFile(join(tmp, 'training.json'), JSON.stringify(record, null, 2));
  if (await fileExists(join(src, '..', 'loss.svg'))) await copyFile(join(src, '..', 'loss.svg'), join(tmp, 'loss.svg'));
  await rm(values.out, { recursive: true, force: true });
  await rename(tmp, values.out);
  console.log(`export: ${tensors.length} tensors as ${dtype} → ${values.out}`);
  return 0;
}
