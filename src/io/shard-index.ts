// model.safetensors.index.json: how a sharded Hugging Face checkpoint says which file holds each tensor.
// Format (transformers' save_pretrained): {"metadata": {"total_size": bytes, ...}, "weight_map": {tensor
// name: shard file name}}, shard files named model-00001-of-0000N.safetensors beside the index. Parsing
// only: the caller lists or opens the folder (io/ never touches files).

type Json = Record<string, unknown>;

/** weight_map as tensor name → shard file name, validated (every name a plain file name in the same folder) */
export function parseShardIndex(json: unknown, where = 'model.safetensors.index.json'): Map<string, string> {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error(`${where}: not a JSON object`);
  const map = (json as Json)['weight_map'];
  if (!map || typeof map !== 'object' || Array.isArray(map)) throw new Error(`${where}: no "weight_map" object`);
  const out = new Map<string, string>();
  for (const [tensor, file] of Object.entries(map as Json)) {
    if (typeof file !== 'string' || file === '') {
      throw new Error(`${where}: tensor "${tensor}" has no shard file name in weight_map (got ${JSON.stringify(file)})`);
    }
    if (/[/\\]/.test(file) || file === '.' || file === '..') {
      throw new Error(`${where}: shard name ${JSON.stringify(file)} of tensor "${tensor}" must be a file name in the same folder`);
    }
    out.set(tensor, file);
  }
  if (out.size === 0) throw new Error(`${where}: "weight_map" lists no tensors`);
  return out;
}

/** the shard holding `tensor`, or an error naming it */
export function shardFileFor(weightMap: ReadonlyMap<string, string>, tensor: string, where = 'model.safetensors.index.json'): string {
  const file = weightMap.get(tensor);
  if (file === undefined) throw new Error(`${where}: tensor "${tensor}" is not in weight_map (it lists ${weightMap.size} tensors)`);
  return file;
}

/** Check that every shard the index names is present (e.g. the folder's file names); the error names the missing ones. */
export function checkShardFiles(
  weightMap: ReadonlyMap<string, string>,
  present: Iterable<string>,
  where = 'model.safetensors.index.json',
): void {
  const have = new Set(present);
  const missing = new Map<string, string[]>(); // shard → tensors it should hold
  for (const [tensor, file] of weightMap) if (!have.has(file)) missing.set(file, [...(missing.get(file) ?? []), tensor]);
  if (missing.size === 0) return;
  const list = [...missing].map(([file, ts]) => `${file} (${ts.length} tensors, e.g. "${ts[0]}")`).join(', ');
  throw new Error(`${where}: missing shard file${missing.size > 1 ? 's' : ''} ${list}`);
}
