// The committed reference fixtures (scripts/reference/make_fixtures.py) read through dllm's safetensors
// reader: each checkpoint holds exactly the tensors its config.json implies, by the family's own Hugging Face
// names and field names (written out here, independently of src/model/params.ts); the sharded index is
// consistent; dllm's writer reproduces every file byte for byte (so the two writers agree on the format);
// the reference inputs/logits have the documented shapes; and MANIFEST.json matches the files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  checkShardFiles,
  parseSafetensorsHeader,
  parseShardIndex,
  readTensor,
  writeSafetensors,
  type SafetensorsHeader,
} from '../../src/io/safetensors.js';

const FIXTURES = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url)); // from build/test/io/
const read = (path: string) => new Uint8Array(readFileSync(FIXTURES + path));
const readJson = (path: string) => JSON.parse(readFileSync(FIXTURES + path, 'utf8')) as Record<string, unknown>;
const manifest = readJson('MANIFEST.json') as {
  fixtures: Record<string, unknown>;
  files: Record<string, { bytes: number; sha256: string }>;
  total_bytes: number;
};

type Cfg = Record<string, number | boolean | string>;
const DTYPE_OF: Record<string, string> = { float32: 'F32', float16: 'F16', bfloat16: 'BF16' };

/** every tensor a checkpoint of this config must hold, name → shape, from the family's own field names */
function expectedTensors(c: Cfg): Map<string, number[]> {
  const m = new Map<string, number[]>();
  if (c['model_type'] === 'llada') {
    // LLaDA-8B config.json fields; modeling_llada.py module names
    const C = c['d_model'] as number,
      H = c['n_heads'] as number,
      Hkv = c['n_kv_heads'] as number,
      D = C / H;
    const F = c['mlp_hidden_size'] as number,
      V = (c['embedding_size'] ?? c['vocab_size']) as number;
    m.set('model.transformer.wte.weight', [V, C]);
    for (let i = 0; i < (c['n_layers'] as number); i++) {
      const p = `model.transformer.blocks.${i}.`;
      m.set(`${p}attn_norm.weight`, [C])
        .set(`${p}q_proj.weight`, [H * D, C])
        .set(`${p}k_proj.weight`, [Hkv * D, C])
        .set(`${p}v_proj.weight`, [Hkv * D, C])
        .set(`${p}attn_out.weight`, [C, H * D])
        .set(`${p}ff_norm.weight`, [C])
        .set(`${p}ff_proj.weight`, [F, C])
        .set(`${p}up_proj.weight`, [F, C])
        .set(`${p}ff_out.weight`, [C, F]);
    }
    m.set('model.transformer.ln_f.weight', [C]);
    if (!c['weight_tying']) m.set('model.transformer.ff_out.weight', [V, C]);
    return m;
  }
  // Qwen2 (Dream) and Llama: transformers module names; Qwen2 always has q/k/v biases
  const C = c['hidden_size'] as number,
    H = c['num_attention_heads'] as number,
    Hkv = c['num_key_value_heads'] as number;
  const D = (c['head_dim'] ?? C / H) as number,
    F = c['intermediate_size'] as number,
    V = c['vocab_size'] as number;
  const bias = c['model_type'] === 'Dream' || c['attention_bias'] === true;
  m.set('model.embed_tokens.weight', [V, C]);
  for (let i = 0; i < (c['num_hidden_layers'] as number); i++) {
    const p = `model.layers.${i}.`;
    m.set(`${p}input_layernorm.weight`, [C])
      .set(`${p}self_attn.q_proj.weight`, [H * D, C])
      .set(`${p}self_attn.k_proj.weight`, [Hkv * D, C])
      .set(`${p}self_attn.v_proj.weight`, [Hkv * D, C])
      .set(`${p}self_attn.o_proj.weight`, [C, H * D])
      .set(`${p}post_attention_layernorm.weight`, [C])
      .set(`${p}mlp.gate_proj.weight`, [F, C])
      .set(`${p}mlp.up_proj.weight`, [F, C])
      .set(`${p}mlp.down_proj.weight`, [C, F]);
    if (bias)
      m.set(`${p}self_attn.q_proj.bias`, [H * D])
        .set(`${p}self_attn.k_proj.bias`, [Hkv * D])
        .set(`${p}self_attn.v_proj.bias`, [Hkv * D]);
  }
  m.set('model.norm.weight', [C]);
  if (!c['tie_word_embeddings']) m.set('lm_head.weight', [V, C]);
  return m;
}

/** the family's special tokens as config.json names them, with the token text each id must be */
const SPECIALS: Record<string, Record<string, string>> = {
  llada: { mask_token_id: '<|mdm_mask|>', eos_token_id: '<|endoftext|>', pad_token_id: '<|endoftext|>' },
  Dream: { mask_token_id: '<|mask|>', eos_token_id: '<|endoftext|>', pad_token_id: '<|endoftext|>', bos_token_id: '<|endoftext|>' },
  llama: { eos_token_id: '<|end_of_text|>', bos_token_id: '<|begin_of_text|>' },
};

/** parse a file and check that dllm's writer gives back the very same bytes */
function parseAndRewrite(path: string): { bytes: Uint8Array; header: SafetensorsHeader } {
  const bytes = read(path);
  const header = parseSafetensorsHeader(bytes, bytes.length, path);
  const again = writeSafetensors(
    [...header.tensors].map(([name, t]) => ({ name, dtype: t.dtype, shape: t.shape, data: readTensor(bytes, header, name) })),
    header.metadata,
  );
  assert.ok(Buffer.from(again).equals(bytes), `${path}: writeSafetensors reproduces the file byte for byte`);
  return { bytes, header };
}

const folders = Object.keys(manifest.fixtures);

test('MANIFEST.json lists every fixture file with its size and sha256; the total stays small', () => {
  const onDisk = folders.flatMap((f) => readdirSync(FIXTURES + f).map((n) => `${f}/${n}`)).sort();
  assert.deepEqual(Object.keys(manifest.files).sort(), onDisk);
  let total = 0;
  for (const [path, { bytes, sha256 }] of Object.entries(manifest.files)) {
    const data = read(path);
    assert.equal(data.length, bytes, path);
    assert.equal(
      createHash('sha256').update(data).digest('hex'),
      sha256,
      `${path}: regenerate with scripts/reference/make_fixtures.py, never edit`,
    );
    total += data.length;
  }
  assert.equal(total, manifest.total_bytes);
  assert.ok(total < 2_000_000, `fixtures total ${total} bytes (budget 2 MB)`);
});

for (const folder of folders) {
  test(`fixture ${folder}: weights match config.json by name, shape and dtype`, () => {
    const cfg = readJson(`${folder}/config.json`) as Cfg;
    const expected = expectedTensors(cfg);
    const dtype = DTYPE_OF[cfg['torch_dtype'] as string];
    const files = readdirSync(FIXTURES + folder);
    const found = new Map<string, { shape: number[]; dtype: string; file: string; bytes: number }>();
    const modelFiles = files.filter((f) => f.startsWith('model') && f.endsWith('.safetensors'));
    for (const file of modelFiles) {
      const { header } = parseAndRewrite(`${folder}/${file}`);
      assert.deepEqual(header.metadata, { format: 'pt' }, `${folder}/${file} metadata`);
      for (const [name, t] of header.tensors) {
        assert.ok(!found.has(name), `${name} appears in one shard only`);
        found.set(name, { shape: t.shape, dtype: t.dtype, file, bytes: t.byteLength });
      }
    }
    assert.deepEqual([...found.keys()].sort(), [...expected.keys()].sort(), `${folder}: tensor names`);
    for (const [name, shape] of expected) {
      assert.deepEqual(found.get(name)!.shape, shape, `${folder}: ${name} shape`);
      assert.equal(found.get(name)!.dtype, dtype, `${folder}: ${name} dtype (config torch_dtype ${cfg['torch_dtype']})`);
    }
    if (files.includes('model.safetensors.index.json')) {
      assert.ok(!files.includes('model.safetensors'), 'sharded or not, never both');
      const index = readJson(`${folder}/model.safetensors.index.json`) as { metadata: { total_size: number } };
      const map = parseShardIndex(index, `${folder}/model.safetensors.index.json`);
      checkShardFiles(map, files, `${folder}/model.safetensors.index.json`);
      for (const [name, t] of found) assert.equal(map.get(name), t.file, `${name} is in the shard the index names`);
      assert.equal(map.size, found.size);
      assert.equal(
        index.metadata.total_size,
        [...found.values()].reduce((s, t) => s + t.bytes, 0),
        'total_size is the tensor bytes',
      );
      const n = modelFiles.length;
      assert.deepEqual(
        modelFiles.sort(),
        Array.from({ length: n }, (_, i) => `model-${String(i + 1).padStart(5, '0')}-of-${String(n).padStart(5, '0')}.safetensors`),
      );
    } else {
      assert.deepEqual(modelFiles, ['model.safetensors']);
    }
  });

  test(`fixture ${folder}: reference inputs and logits have the documented layout`, () => {
    const cfg = readJson(`${folder}/config.json`) as Cfg;
    const V = (cfg['embedding_size'] ?? cfg['vocab_size']) as number;
    const { bytes, header } = parseAndRewrite(`${folder}/reference.safetensors`);
    const isDream = cfg['model_type'] === 'Dream';
    assert.deepEqual([...header.tensors.keys()].sort(), [
      'attention_mask',
      'input_ids',
      'logits',
      ...(isDream ? ['logits_shifted'] : []),
      'position_ids',
    ]);
    const [B, T] = header.tensors.get('input_ids')!.shape as [number, number];
    for (const k of ['input_ids', 'attention_mask', 'position_ids'])
      assert.deepEqual(header.tensors.get(k), { ...header.tensors.get(k)!, dtype: 'I32', shape: [B, T] });
    assert.deepEqual(header.tensors.get('logits')!.shape, [B, T, V]);
    assert.equal(header.tensors.get('logits')!.dtype, 'F32');
    assert.match(header.metadata['family'] ?? '', /^(llada|dream|llama)$/);
    assert.match(header.metadata['logits'] ?? '', /attention_mask == 0 are zero-filled/);
    const ids = readTensor(bytes, header, 'input_ids') as Int32Array,
      mask = readTensor(bytes, header, 'attention_mask') as Int32Array;
    const logits = readTensor(bytes, header, 'logits') as Float32Array;
    for (let b = 0; b < B; b++) {
      const row = Array.from(mask.subarray(b * T, (b + 1) * T));
      assert.ok(
        row.every((m, i) => m === 0 || row.slice(i).every((x) => x === 1)),
        'left padding',
      );
      for (let t = 0; t < T; t++) {
        assert.ok(ids[b * T + t]! >= 0 && ids[b * T + t]! < V, 'ids inside the vocabulary');
        const rowLogits = logits.subarray((b * T + t) * V, (b * T + t + 1) * V);
        assert.equal(
          rowLogits.some((x) => x !== 0),
          row[t] === 1,
          `logits row (${b}, ${t}) is zero exactly when padding`,
        );
      }
    }
    if (isDream) {
      // Dream generate's shift: torch.cat([logits[:, :1], logits[:, :-1]], dim=1)
      const shifted = readTensor(bytes, header, 'logits_shifted') as Float32Array;
      for (let b = 0; b < B; b++)
        for (let t = 0; t < T; t++) {
          const from = (b * T + Math.max(t - 1, 0)) * V;
          assert.deepEqual(shifted.subarray((b * T + t) * V, (b * T + t + 1) * V), logits.subarray(from, from + V));
        }
    }
  });

  test(`fixture ${folder}: special token ids in config.json are the family's tokens in tokenizer.json`, () => {
    const cfg = readJson(`${folder}/config.json`) as Cfg;
    const tok = readJson(`${folder}/tokenizer.json`) as { added_tokens: { id: number; content: string }[] };
    const byId = new Map(tok.added_tokens.map((t) => [t.id, t.content]));
    for (const [field, content] of Object.entries(SPECIALS[cfg['model_type'] as string]!)) {
      assert.equal(byId.get(cfg[field] as number), content, `${folder}: ${field} = ${cfg[field]} is ${content}`);
    }
    const tc = readJson(`${folder}/tokenizer_config.json`);
    assert.equal(typeof tc['chat_template'], 'string');
  });
}
