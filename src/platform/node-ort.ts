// The model on onnxruntime-node (native MLAS kernels): sessions on the CPU provider, the graph built from a
// checkpoint folder, ONNX files with external data, and OrtTransformer (ort-transformer.ts) bound to this runtime.
import ort from 'onnxruntime-node';
import type { ModelConfig } from '../model/config.js';
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { buildOnnxModel, type OnnxBuildOptions, type WeightSource } from '../onnx/graph.js';
import type { TextTokenizer } from '../tokenizer/index.js';
import { loadF32Model } from './node-model.js';
import { OrtTransformer as OrtForward } from './ort-transformer.js';

export { ForwardProfile } from './ort-transformer.js';

export interface OrtOptions extends OnnxBuildOptions {
  threads?: number;
}

export const ORT_VERSION: string = ort.env.versions?.node ?? 'unknown';

/** an ONNX model file or bytes → session on the CPU provider with `threads` intra-op threads */
export function ortSession(model: string | Uint8Array, threads = 0): Promise<ort.InferenceSession> {
  const opts: ort.InferenceSession.SessionOptions = {
    executionProviders: ['cpu'],
    graphOptimizationLevel: 'all',
    // idle pool threads sleep instead of spinning: several sessions in one process (two served models, a
    // benchmark's reference graph) would otherwise take each other's cores
    extra: { session: { intra_op: { allow_spinning: '0' } } },
    ...(threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
  };
  return typeof model === 'string' ? ort.InferenceSession.create(model, opts) : ort.InferenceSession.create(model, opts);
}

/** the ONNX Runtime forward (ort-transformer.ts) on onnxruntime-node */
export class OrtTransformer extends OrtForward {
  /** build the graph from f32 weights (our parameter names) and open a session */
  static async create(config: ModelConfig, weights: WeightSource, o: OrtOptions = { dtype: 'f32' }): Promise<OrtTransformer> {
    return OrtTransformer.fromSession(config, await ortSession(buildOnnxModel(config, weights, o), o.threads ?? 0));
  }

  static fromSession(config: ModelConfig, session: ort.InferenceSession): OrtTransformer {
    return new OrtTransformer(config, session, ort);
  }
}

/** a checkpoint folder on ONNX Runtime: its weights through the graph builder, its tokenizer */
export async function loadOrtModelDir(
  dir: string,
  o: OrtOptions = { dtype: 'f32' },
): Promise<{ config: ModelConfig; model: OrtTransformer; tokenizer: TextTokenizer | null; loadMs: number }> {
  const t0 = performance.now();
  const { config, weights, tokenizer } = await loadF32Model(dir);
  const model = await OrtTransformer.create(config, weights, o);
  return { config, model, tokenizer, loadMs: performance.now() - t0 };
}

/**
 * Write the graph to DIR/model.onnx with every initializer over 1 KiB in DIR/model.onnx.data (ONNX external
 * data, offsets aligned to 4 KiB so runtimes can map them): no 2 GB protobuf limit, and weights are written
 * as they are made. Returns the two paths and the data size.
 */
export function writeOnnxDir(
  dir: string,
  config: ModelConfig,
  weights: WeightSource,
  o: OnnxBuildOptions,
): { model: string; data: string; dataBytes: number } {
  mkdirSync(dir, { recursive: true });
  const model = join(dir, 'model.onnx'),
    data = join(dir, 'model.onnx.data');
  const tmpData = `${data}.${process.pid}.tmp`,
    tmpModel = `${model}.${process.pid}.tmp`;
  const fd = openSync(tmpData, 'w');
  let offset = 0;
  try {
    const bytes = buildOnnxModel(config, weights, {
      ...o,
      external: (_name, b) => {
        const pad = (4096 - (offset % 4096)) % 4096;
        if (pad) {
          writeSync(fd, new Uint8Array(pad));
          offset += pad;
        }
        writeSync(fd, b);
        const at = { location: 'model.onnx.data', offset, length: b.byteLength };
        offset += b.byteLength;
        return at;
      },
    });
    closeSync(fd);
    writeFileSync(tmpModel, bytes);
    renameSync(tmpData, data); // the data first: a model.onnx on disk always has its data
    renameSync(tmpModel, model);
    return { model, data, dataBytes: offset };
  } catch (e) {
    try {
      closeSync(fd);
    } catch {
      /* closed */
    }
    rmSync(tmpData, { force: true });
    rmSync(tmpModel, { force: true });
    throw e;
  }
}
