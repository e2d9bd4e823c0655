// dllm inspect --model DIR          architecture, parameter count, dtypes, special ids, chat template
// dllm forward --model DIR --ids 1,2,3 --out FILE.safetensors [--attention causal|bidirectional|block-causal
//                                   --block-length N] [--dtype f32|f16|q8|q4]
//                                   one F32 tensor `logits` [T, V] (raw model logits, no Dream shift)
import { parseArgs } from 'node:util';
import { writeSafetensors } from '../io/safetensors.js';
import { activeParameterCount, parameterCount } from '../model/params.js';
import { type WeightDtype, WEIGHT_DTYPES } from '../model/weights.js';
import { createKernels } from '../platform/node.js';
import { writeFileAtomic } from '../platform/node-files.js';
import { loadModelDir } from '../platform/node-model.js';
import { resolveModel } from '../platform/node-generator.js';

const DTYPES = WEIGHT_DTYPES;

export function parseDtype(v: string | undefined): WeightDtype {
  const d = (v ?? 'f32') as WeightDtype;
  if (!DTYPES.includes(d)) throw new Error(`--dtype must be one of ${DTYPES.join(', ')}, got "${v}"`);
  return d;
}

export function parseIds(s: string, flag = '--ids'): Int32Array {
  const parts = s.split(',').map((x) => x.trim());
  if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p)))
    throw new Error(`${flag} must be comma-separated non-negative integers, got "${s}"`);
  return Int32Array.from(parts.map(Number));
}

/** the flags of the command (usage.ts lists them) */
export const INSPECT_FLAGS = { model: { type: 'string' }, json: { type: 'boolean' } } as const;

export async function inspect(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, strict: true, options: INSPECT_FLAGS });
  if (!values.model) throw new Error('usage: dllm inspect --model DIR');
  const k = await createKernels();
  try {
    const m = await loadModelDir(resolveModel(values.model), k);
    const c = m.config;
    const info = {
      model: values.model,
      architecture: c.arch,
      attention: c.attention,
      parameters: parameterCount(c),
      ...(c.moe
        ? { activeParameters: activeParameterCount(c), experts: c.moe.numExperts, expertsPerToken: c.moe.topK, router: c.moe.router }
        : {}),
      layers: c.numLayers,
      hidden: c.hiddenSize,
      heads: c.numHeads,
      kvHeads: c.numKvHeads,
      headDim: c.headDim,
      ffn: c.ffnSize,
      vocab: c.vocabSize,
      ropeTheta: c.ropeTheta,
      normEps: c.normEps,
      tiedEmbeddings: c.tieEmbeddings,
      shiftLogits: c.shiftLogits,
      checkpointDtypes: m.checkpointDtypes,
      specialTokens: m.tokenizer?.specials ?? null,
      chatTemplate: m.tokenizer?.chatTemplate ?? null,
      loadMs: Math.round(m.loadMs),
    };
    if (values.json) console.log(JSON.stringify(info, null, 2));
    else
      for (const [key, v] of Object.entries(info))
        console.log(
          `${key.padEnd(16)} ${typeof v === 'string' && v.includes('\n') ? JSON.stringify(v) : typeof v === 'object' ? JSON.stringify(v) : v}`,
        );
    m.model.dispose();
    return 0;
  } finally {
    k.dispose();
  }
}

/** the flags of the command (usage.ts lists them) */
export const FORWARD_FLAGS = {
  model: { type: 'string' },
  ids: { type: 'string' },
  out: { type: 'string' },
  attention: { type: 'string' },
  'block-length': { type: 'string' },
  dtype: { type: 'string' },
} as const;

export async function forward(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: FORWARD_FLAGS,
  });
  if (!values.model || !values.ids || !values.out) throw new Error('usage: dllm forward --model DIR --ids 1,2,3 --out FILE.safetensors');
  const att = values.attention;
  if (att !== undefined && att !== 'causal' && att !== 'bidirectional' && att !== 'block-causal')
    throw new Error(`--attention must be causal, bidirectional or block-causal, got "${att}"`);
  const blockLength = Number(values['block-length'] ?? NaN); // block-causal (LLaDA2's generate mask): a query sees its block and earlier ones
  if (att === 'block-causal' && !(Number.isInteger(blockLength) && blockLength > 0))
    throw new Error('--attention block-causal needs --block-length N (a positive integer)');
  const ids = parseIds(values.ids);
  const k = await createKernels();
  try {
    const m = await loadModelDir(resolveModel(values.model), k, { dtype: parseDtype(values.dtype) });
    const V = m.config.vocabSize;
    const mask =
      att === 'block-causal'
        ? { kind: 'blockCausal' as const, blockLength }
        : att
          ? { kind: att === 'causal' ? ('causal' as const) : ('none' as const) }
          : null;
    const logits = m.model.forward({ tokens: ids, B: 1, T: ids.length, ...(mask ? { mask } : {}) });
    await writeFileAtomic(values.out, writeSafetensors([{ name: 'logits', dtype: 'F32', shape: [ids.length, V], data: logits }]));
    console.log(`forward: logits [${ids.length}, ${V}] → ${values.out}`);
    m.model.dispose();
    return 0;
  } finally {
    k.dispose();
  }
}
