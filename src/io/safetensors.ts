// safetensors: an 8-byte little-endian header length, a JSON header {name: {dtype, shape, data_offsets}}
// (plus optional "__metadata__" of string values), then the raw little-endian tensor bytes.
// Spec: huggingface/safetensors README. Parsing is strict: every offset is checked against the file, so a
// truncated or corrupt file gives a clear error instead of garbage weights. No file access here: callers
// pass bytes, or a ByteSource that reads ranges on demand (large checkpoints are never read whole).

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'U16' | 'U32' | 'BOOL';

export const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, U16: 2, U32: 4, BOOL: 1,
};

/** headers larger than this are refused (the reference implementation's limit is 100 MB) */
export const MAX_HEADER_BYTES = 100_000_000;

export interface TensorInfo {
  dtype: SafetensorsDtype;
  shape: number[];
  byteOffset: number; // absolute, from the start of the file
  byteLength: number;
}

export interface SafetensorsHeader {
  metadata: Record<string, string>;
  tensors: Map<string, TensorInfo>;
  dataStart: number; // 8 + header length
  fileSize: number;
}

/** A file or buffer read in ranges. */
export interface ByteSource {
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: async (o, n) => bytes.subarray(o, o + n) };
}

/** length of the JSON header, from the first 8 bytes */
export function headerLength(first8: Uint8Array, fileSize: number, where = 'safetensors'): number {
  if (fileSize < 8 || first8.length < 8) throw new Error(`${where}: file is ${fileSize} bytes, too short for a header`);
  const n = Number(new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true));
  if (n > MAX_HEADER_BYTES) throw new Error(`${where}: header length ${n} is over the ${MAX_HEADER_BYTES}-byte limit (corrupt file?)`);
  if (8 + n > fileSize) throw new Error(`${where}: header length ${n} runs past the end of the ${fileSize}-byte file (truncated?)`);
  return n;
}

/** Parse and validate a header. `head` holds at least the first 8 + header-length bytes of the file. */
export function parseSafetensorsHeader(head: Uint8Array, fileSize = head.length, where = 'safetensors'): SafetensorsHeader {
  const n = headerLength(head, fileSize, where);
  if (head.length < 8 + n) throw new Error(`${where}: need ${8 + n} header bytes, got ${head.length}`);
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(8, 8 + n)));
  } catch (e) {
    throw new Error(`${where}: header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new Error(`${where}: header is not a JSON object`);
  const dataStart = 8 + n;
  const tensors = new Map<string, TensorInfo>();
  let metadata: Record<string, string> = {};
  const spans: [number, number, string][] = [];
  for (const [name, v] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') { metadata = (v ?? {}) as Record<string, string>; continue; }
    const t = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof t?.dtype !== 'string' || !(t.dtype in DTYPE_BYTES)) throw new Error(`${where}: tensor ${name} has unknown dtype ${JSON.stringify(t?.dtype)}`);
    if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isInteger(d) && d >= 0)) throw new Error(`${where}: tensor ${name} has a bad shape ${JSON.stringify(t.shape)}`);
    const off = t.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) || off[1] < off[0]) {
      throw new Error(`${where}: tensor ${name} has bad data_offsets ${JSON.stringify(off)}`);
    }
    const dtype = t.dtype as SafetensorsDtype;
    const shape = t.shape as number[];
    const expected = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    const [b0, b1] = off as [number, number];
    if (b1 - b0 !== expected) throw new Error(`${where}: tensor ${name} [${shape}] ${dtype} needs ${expected} bytes, data_offsets give ${b1 - b0}`);
    if (dataStart + b1 > fileSize) throw new Error(`${where}: tensor ${name} ends at byte ${dataStart + b1}, past the end of the ${fileSize}-byte file (truncated?)`);
    tensors.set(name, { dtype, shape, byteOffset: dataStart + b0, byteLength: b1 - b0 });
    spans.push([b0, b1, name]);
  }
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i]![0] < spans[i - 1]![1]) throw new Error(`${where}: tensors ${spans[i - 1]![2]} and ${spans[i]![2]} overlap`);
  }
  return { metadata, tensors, dataStart, fileSize };
}

/** read the header of a ByteSource with two small reads */
export async function readSafetensorsHeader(src: ByteSource, where = 'safetensors'): Promise<SafetensorsHeader> {
  const first = await src.read(0, Math.min(8, src.size));
  const n = headerLength(first, src.size, where);
  return parseSafetensorsHeader(await src.read(0, 8 + n), src.size, where);
}

export type TensorData = Float32Array | Float64Array | Uint16Array | Int32Array | BigInt64Array | Int16Array | Int8Array | Uint8Array | Uint32Array;

/** a tensor's raw values as a typed array of its dtype (F16/BF16 come as Uint16Array bit patterns) */
export function tensorView(bytes: Uint8Array, dtype: SafetensorsDtype): TensorData {
  const copy = bytes.slice(); // aligned, and owned by the caller
  const b = copy.buffer;
  switch (dtype) {
    case 'F32': return new Float32Array(b);
    case 'F64': return new Float64Array(b);
    case 'F16': case 'BF16': case 'U16': return new Uint16Array(b);
    case 'I32': return new Int32Array(b);
    case 'U32': return new Uint32Array(b);
    case 'I64': return new BigInt64Array(b);
    case 'I16': return new Int16Array(b);
    case 'I8': return new Int8Array(b);
    case 'U8': case 'BOOL': return new Uint8Array(b);
  }
}

/** read one tensor (bytes of the whole file, or a ByteSource) */
export function readTensor(bytes: Uint8Array, header: SafetensorsHeader, name: string): TensorData {
  const t = header.tensors.get(name);
  if (!t) throw new Error(`safetensors: no tensor named ${name}`);
  return tensorView(bytes.subarray(t.byteOffset, t.byteOffset + t.byteLength), t.dtype);
}

export async function readTensorFrom(src: ByteSource, header: SafetensorsHeader, name: string): Promise<TensorData> {
  const t = header.tensors.get(name);
  if (!t) throw new Error(`safetensors: no tensor named ${name}`);
  return tensorView(await src.read(t.byteOffset, t.byteLength), t.dtype);
}

export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  data: ArrayBufferView; // little-endian values of dtype (this machine and every browser are little-endian)
}

/** serialise tensors in the given order; the header is padded with spaces to a multiple of 8 bytes */
export function writeSafetensors(tensors: TensorToWrite[], metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header['__metadata__'] = metadata;
  let off = 0;
  for (const t of tensors) {
    const n = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== n) throw new Error(`safetensors: ${t.name} [${t.shape}] ${t.dtype} needs ${n} bytes, data has ${t.data.byteLength}`);
    if (t.name in header) throw new Error(`safetensors: duplicate tensor name ${t.name}`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [off, off + n] };
    off += n;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(pad));
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let p = 8 + json.length;
  for (const t of tensors) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), p);
    p += t.data.byteLength;
  }
  return out;
}

/** model.safetensors.index.json → tensor name → shard file name */
export function parseShardIndex(json: unknown, where = 'model.safetensors.index.json'): Map<string, string> {
  const map = (json as { weight_map?: unknown })?.weight_map;
  if (!map || typeof map !== 'object' || Array.isArray(map)) throw new Error(`${where}: no "weight_map" object`);
  const out = new Map<string, string>();
  for (const [k, v] of Object.entries(map as Record<string, unknown>)) {
    if (typeof v !== 'string' || v.includes('/') || v.includes('\\')) throw new Error(`${where}: bad shard name for ${k}: ${JSON.stringify(v)}`);
    out.set(k, v);
  }
  return out;
}
