// safetensors: an 8-byte little-endian header length N, N bytes of UTF-8 JSON {name: {dtype, shape,
// data_offsets: [begin, end)}} (plus an optional "__metadata__" of string → string), then the raw
// little-endian tensor bytes, offsets relative to the end of the header. Spec and reference implementation:
// huggingface/safetensors (README "Format"; safetensors/src/tensor.rs). Parsing is stricter than the reference:
// header ≤ 16 MiB and ≤ 131072 tensors (the reference allows 100 MB, which parses for seconds into a GB of
// objects), known dtypes, byte sizes equal to shape × dtype, and data_offsets that tile the data section
// exactly (no overlap, no hole, nothing after the last tensor), so a truncated or corrupt file gives one
// clear error instead of garbage weights. No file access here: callers pass bytes, or a ByteSource that
// reads ranges on demand (a large checkpoint is read tensor by tensor, never whole).
import { bytesSource, readU64, writeU64, type ByteSource } from './bytes.js';

export { bytesSource, type ByteSource } from './bytes.js';
export { parseShardIndex, shardFileFor, checkShardFiles } from './shard-index.js';

export type SafetensorsDtype =
  'F64' | 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'F8_E5M2' | 'I64' | 'I32' | 'I16' | 'I8' | 'U64' | 'U32' | 'U16' | 'U8' | 'BOOL';

export const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  F8_E5M2: 1,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

/** The reference implementation's Dtype enum order; its writer sorts tensors by it (descending), then by name. */
const DTYPE_ORDER: readonly SafetensorsDtype[] = [
  'BOOL',
  'U8',
  'I8',
  'F8_E5M2',
  'F8_E4M3',
  'I16',
  'U16',
  'F16',
  'BF16',
  'I32',
  'U32',
  'F32',
  'F64',
  'I64',
  'U64',
];

/**
 * Headers larger than this are refused. The reference allows 100 MB (MAX_HEADER_SIZE); real headers are far
 * smaller (≈150 bytes a tensor: DeepSeek-V3's 91 k tensors would take 14 MB in one file, its shards take
 * < 1 MB each), and a 100 MB header costs seconds and a GB of parsed objects before any check can run.
 */
export const MAX_HEADER_BYTES = 16 * 2 ** 20;
/** tensors one file may list (the largest single-file checkpoints hold a few tens of thousands) */
export const MAX_TENSORS = 2 ** 17;

export interface TensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  byteOffset: number; // absolute, from the start of the file
  byteLength: number;
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>; // in file order (by data offset)
  dataStart: number; // 8 + header length
  fileSize: number;
}

function isDtype(s: unknown): s is SafetensorsDtype {
  return typeof s === 'string' && Object.hasOwn(DTYPE_BYTES, s);
}

/** length of the JSON header, from the first 8 bytes */
export function headerLength(first8: Uint8Array, fileSize: number, where = 'safetensors'): number {
  if (fileSize < 8 || first8.length < 8) throw new Error(`${where}: file is ${fileSize} bytes, too short for a header (truncated?)`);
  const n = readU64(first8, 0);
  if (n > MAX_HEADER_BYTES) {
    const raw = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
    throw new Error(`${where}: header length ${raw} is over the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file, or corrupt)`);
  }
  if (8 + n > fileSize) throw new Error(`${where}: header length ${n} runs past the end of the ${fileSize}-byte file (truncated?)`);
  return n;
}

function parseJsonHeader(text: Uint8Array, where: string): Record<string, unknown> {
  if (text[0] !== 0x7b) throw new Error(`${where}: header does not start with '{' (not a safetensors file?)`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(text));
  } catch (e) {
    throw new Error(`${where}: header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error(`${where}: header is not a JSON object`);
  return json as Record<string, unknown>;
}

function parseMetadata(v: unknown, where: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new Error(`${where}: "__metadata__" must be an object of strings`);
  for (const [k, s] of Object.entries(v)) {
    if (typeof s !== 'string') throw new Error(`${where}: "__metadata__" value of "${k}" must be a string, got ${JSON.stringify(s)}`);
  }
  return { ...(v as Record<string, string>) };
}

const isSize = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;

/** Parse and validate a header. `head` holds at least the first 8 + header-length bytes of a `fileSize`-byte file. */
export function parseSafetensorsHeader(head: Uint8Array, fileSize = head.length, where = 'safetensors'): SafetensorsHeader {
  const n = headerLength(head, fileSize, where);
  if (head.length < 8 + n) throw new Error(`${where}: need the first ${8 + n} bytes to parse the header, got ${head.length}`);
  const json = parseJsonHeader(head.subarray(8, 8 + n), where);
  const entries = Object.keys(json).length - (Object.hasOwn(json, '__metadata__') ? 1 : 0);
  if (entries > MAX_TENSORS)
    throw new Error(`${where}: header lists ${entries} tensors, over the limit of ${MAX_TENSORS} (corrupt or hostile file?)`);
  const dataStart = 8 + n,
    dataBytes = fileSize - dataStart;
  let metadata: Record<string, string> = {};
  const spans: { name: string; dtype: SafetensorsDtype; shape: number[]; begin: number; end: number }[] = [];
  for (const [name, v] of Object.entries(json)) {
    if (name === '__metadata__') {
      metadata = parseMetadata(v, where);
      continue;
    }
    if (!v || typeof v !== 'object' || Array.isArray(v))
      throw new Error(`${where}: tensor "${name}" is not an object {dtype, shape, data_offsets}`);
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!isDtype(t.dtype)) {
      throw new Error(
        `${where}: tensor "${name}" has unknown dtype ${JSON.stringify(t.dtype)} (known: ${Object.keys(DTYPE_BYTES).join(', ')})`,
      );
    }
    if (!Array.isArray(t.shape) || !t.shape.every(isSize)) {
      throw new Error(`${where}: tensor "${name}" has a bad shape ${JSON.stringify(t.shape)} (need non-negative integers)`);
    }
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every(isSize) || off[1] < off[0]) {
      throw new Error(`${where}: tensor "${name}" has bad data_offsets ${JSON.stringify(off)} (need [begin, end], 0 ≤ begin ≤ end)`);
    }
    const shape = t.shape as number[];
    const [begin, end] = off as [number, number];
    const numel = shape.reduce((a, b) => a * b, 1);
    const expected = numel * DTYPE_BYTES[t.dtype];
    if (!Number.isSafeInteger(expected) || end - begin !== expected) {
      throw new Error(
        `${where}: tensor "${name}" [${shape}] ${t.dtype} needs ${expected} bytes, data_offsets [${begin}, ${end}] give ${end - begin}`,
      );
    }
    if (end > dataBytes) {
      throw new Error(`${where}: tensor "${name}" ends at byte ${dataStart + end}, past the end of the ${fileSize}-byte file (truncated?)`);
    }
    spans.push({ name, dtype: t.dtype, shape, begin, end });
  }
  // the data section must be tiled exactly, as the reference reader checks (MetadataIncompleteBuffer)
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0,
    prev = '(start of data)';
  for (const s of spans) {
    if (s.begin < at) throw new Error(`${where}: tensors "${prev}" and "${s.name}" overlap (data_offsets ${s.begin} < ${at})`);
    if (s.begin > at)
      throw new Error(`${where}: ${s.begin - at} unused bytes between "${prev}" and "${s.name}" (data_offsets must be contiguous)`);
    at = s.end;
    prev = s.name;
  }
  if (at !== dataBytes)
    throw new Error(`${where}: ${dataBytes - at} bytes after the last tensor "${prev}" (file size does not match the header)`);
  const tensors = new Map<string, TensorInfo>();
  for (const s of spans)
    tensors.set(s.name, { dtype: s.dtype, shape: s.shape, byteOffset: dataStart + s.begin, byteLength: s.end - s.begin });
  return { metadata, tensors, dataStart, fileSize };
}

/** read and parse the header of a ByteSource with two small reads (never the tensor data) */
export async function readSafetensorsHeader(src: ByteSource, where = 'safetensors'): Promise<SafetensorsHeader> {
  const first = await src.read(0, Math.min(8, src.size));
  const n = headerLength(first, src.size, where);
  return parseSafetensorsHeader(await src.read(0, 8 + n), src.size, where);
}

/** Raw values in the dtype's own typed array; F16 / BF16 come as Uint16Array bit patterns, F8 and BOOL as Uint8Array. */
export type TensorData =
  | Float64Array
  | Float32Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array
  | Int16Array
  | Int8Array
  | Uint8Array;

function typedView(buffer: ArrayBufferLike, byteOffset: number, byteLength: number, dtype: SafetensorsDtype): TensorData {
  const n = byteLength / DTYPE_BYTES[dtype];
  switch (dtype) {
    case 'F64':
      return new Float64Array(buffer, byteOffset, n);
    case 'F32':
      return new Float32Array(buffer, byteOffset, n);
    case 'F16':
    case 'BF16':
    case 'U16':
      return new Uint16Array(buffer, byteOffset, n);
    case 'I64':
      return new BigInt64Array(buffer, byteOffset, n);
    case 'U64':
      return new BigUint64Array(buffer, byteOffset, n);
    case 'I32':
      return new Int32Array(buffer, byteOffset, n);
    case 'U32':
      return new Uint32Array(buffer, byteOffset, n);
    case 'I16':
      return new Int16Array(buffer, byteOffset, n);
    case 'I8':
      return new Int8Array(buffer, byteOffset, n);
    case 'U8':
    case 'BOOL':
    case 'F8_E4M3':
    case 'F8_E5M2':
      return new Uint8Array(buffer, byteOffset, n);
  }
}

/** a tensor's bytes as a typed array of its dtype, copied (aligned, and owned by the caller) */
export function tensorView(bytes: Uint8Array, dtype: SafetensorsDtype): TensorData {
  const copy = bytes.slice();
  return typedView(copy.buffer, 0, copy.byteLength, dtype);
}

function infoOf(header: SafetensorsHeader, name: string): TensorInfo {
  const t = header.tensors.get(name);
  if (!t) throw new Error(`safetensors: no tensor named "${name}" (the file has ${header.tensors.size})`);
  return t;
}

/**
 * One tensor's raw values. From bytes of the whole file: synchronous, a copy. From a ByteSource: reads just
 * that tensor's range, and uses the read's buffer in place when the source returned a fresh buffer of exactly
 * that size (what platform/ file sources do), so a large tensor is not held twice.
 */
export function readTensor(bytes: Uint8Array, header: SafetensorsHeader, name: string): TensorData;
export function readTensor(src: ByteSource, header: SafetensorsHeader, name: string): Promise<TensorData>;
export function readTensor(src: Uint8Array | ByteSource, header: SafetensorsHeader, name: string): TensorData | Promise<TensorData> {
  if (!(src instanceof Uint8Array)) return readTensorFrom(src, header, name);
  const t = infoOf(header, name);
  if (t.byteOffset + t.byteLength > src.length) throw new Error(`safetensors: tensor "${name}" ends past the ${src.length} bytes given`);
  return tensorView(src.subarray(t.byteOffset, t.byteOffset + t.byteLength), t.dtype);
}

export async function readTensorFrom(src: ByteSource, header: SafetensorsHeader, name: string): Promise<TensorData> {
  const t = infoOf(header, name);
  const bytes = await src.read(t.byteOffset, t.byteLength);
  if (bytes.length !== t.byteLength)
    throw new Error(`safetensors: tensor "${name}": read ${bytes.length} of ${t.byteLength} bytes (file shrank?)`);
  const owned = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
  return owned ? typedView(bytes.buffer, 0, bytes.byteLength, t.dtype) : tensorView(bytes, t.dtype);
}

export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDtype;
  shape: readonly number[];
  data: ArrayBufferView; // little-endian values of dtype (every platform dllm runs on is little-endian)
}

/**
 * Serialise tensors in the reference writer's canonical order (dtype, widest first, then name), so equal
 * inputs give equal bytes whatever the input order and every tensor is aligned to its element size.
 * The header is padded with spaces to a multiple of 8 bytes; metadata keys are written sorted.
 */
export function writeSafetensors(tensors: readonly TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const byName = new Map<string, TensorToWrite>();
  for (const t of tensors) {
    if (!t.name || t.name === '__metadata__') throw new Error(`safetensors: bad tensor name ${JSON.stringify(t.name)}`);
    if (byName.has(t.name)) throw new Error(`safetensors: duplicate tensor name "${t.name}"`);
    if (!isDtype(t.dtype)) throw new Error(`safetensors: tensor "${t.name}" has unknown dtype ${JSON.stringify(t.dtype)}`);
    if (!t.shape.every(isSize)) throw new Error(`safetensors: tensor "${t.name}" has a bad shape [${t.shape}]`);
    const n = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== n)
      throw new Error(`safetensors: tensor "${t.name}" [${t.shape}] ${t.dtype} needs ${n} bytes, data has ${t.data.byteLength}`);
    byName.set(t.name, t);
  }
  const rank = (d: SafetensorsDtype) => DTYPE_ORDER.indexOf(d);
  const order = [...byName.values()].sort((a, b) => rank(b.dtype) - rank(a.dtype) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata) {
    const meta: Record<string, string> = {};
    for (const k of Object.keys(metadata).sort()) {
      if (typeof metadata[k] !== 'string') throw new Error(`safetensors: metadata "${k}" must be a string`);
      meta[k] = metadata[k];
    }
    header['__metadata__'] = meta;
  }
  let off = 0;
  for (const t of order) {
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [off, off + t.data.byteLength] };
    off += t.data.byteLength;
  }
  if (order.length > MAX_TENSORS)
    throw new Error(`safetensors: ${order.length} tensors are over the limit of ${MAX_TENSORS} for one file (shard them)`);
  const text = new TextEncoder().encode(JSON.stringify(header));
  const json = new Uint8Array(text.length + ((8 - (text.length % 8)) % 8)).fill(0x20); // spaces, as the spec pads
  json.set(text);
  if (json.length > MAX_HEADER_BYTES)
    throw new Error(`safetensors: header would be ${json.length} bytes, over the ${MAX_HEADER_BYTES}-byte limit`);
  const out = new Uint8Array(8 + json.length + off);
  writeU64(out, 0, json.length);
  out.set(json, 8);
  let p = 8 + json.length;
  for (const t of order) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    p += t.data.byteLength;
  }
  return out;
}
