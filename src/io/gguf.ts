// GGUF (llama.cpp's model file): "GGUF" magic, u32 version, u64 tensor count, u64 metadata count, typed
// key/value metadata, tensor infos (name, dims fastest-first, ggml type, data offset), then the tensor data
// at `general.alignment` (default 32). Spec: ggml-org/ggml docs/gguf.md; reader/writer: ggml/src/gguf.cpp and
// gguf-py/gguf/{constants,gguf_reader,gguf_writer}.py. This file reads v2 and v3 (little-endian) strictly:
// every count and offset is checked against the file size and against GGUF_LIMITS, so a corrupt, truncated
// or hostile file gives an actionable Error, never a hang or a huge allocation. Writing is in gguf-write.ts, element codecs in gguf-quant.ts,
// the format's constants and value types in gguf-format.ts; this module re-exports all of them.
// No file access here: callers pass bytes or a ByteSource.
import { bytesSource, type ByteSource } from './safetensors.js';
import { bf16BitsToF32, dequantizeQ4_0, dequantizeQ8_0, f16BitsToF32 } from './gguf-quant.js';
import { dequantizeQ4_K } from './gguf-kquant.js';
import {
  GGML_MAX_DIMS,
  GGML_TYPES,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_BYTES,
  GGUF_VALUE_TYPES,
  ggmlTensorBytes,
  type GgufItem,
  type GgufMetadata,
  type GgufValue,
  type GgufValueType,
} from './gguf-format.js';

export type { ByteSource } from './safetensors.js';
export * from './gguf-format.js';
export * from './gguf-quant.js';
export { writeGguf, type GgufTensorInput, type GgufWriteInput } from './gguf-write.js';

export interface GgufTensorInfo {
  name: string;
  dimsGgmlOrder: number[]; // ne[0] first (fastest-varying): a (rows, cols) matrix is [cols, rows]
  shape: number[]; // row-major, slowest first (dimsGgmlOrder reversed)
  typeId: number;
  typeName: string;
  offsetBytes: number; // absolute, from the start of the file
  byteLength: number;
}

export interface GgufFile {
  version: number;
  metadata: GgufMetadata;
  tensors: Map<string, GgufTensorInfo>; // in file order
  alignment: number;
  dataStart: number; // absolute offset of the data section
  fileSize: number;
}

// ---- parsing ----------------------------------------------------------------------------------
/**
 * Bounds on what a header may make the reader build, checked before building it: a count that fits in the
 * file is not enough (a 4 GB file "fits" a billion-item array). Real files are far inside: a 262 k-token
 * vocabulary with scores and types is < 1 M array items and ≈ 10 MB of header.
 */
export const GGUF_LIMITS = {
  headerBytes: 64 * 2 ** 20, // metadata + tensor infos
  metadataKeys: 2 ** 16,
  arrayItems: 2 ** 22, // all metadata array items together
  tensors: 2 ** 17,
} as const;

/** thrown when the parse ran past the bytes read so far (but not past the file): read more and retry */
class NeedMore extends Error {}

class Cursor {
  pos = 0;
  private items = 0; // metadata array items so far (GGUF_LIMITS.arrayItems)
  private dv: DataView;
  private utf8 = new TextDecoder('utf-8', { fatal: true });
  constructor(
    private buf: Uint8Array,
    private fileSize: number,
    private where: string,
  ) {
    this.dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }
  fail(msg: string): never {
    throw new Error(`${this.where}: ${msg}`);
  }
  need(n: number, what: string): void {
    if (this.pos + n > this.fileSize)
      this.fail(`${what} at byte ${this.pos} runs past the end of the ${this.fileSize}-byte file (truncated?)`);
    if (this.pos + n > this.buf.length) throw new NeedMore();
  }
  u32(what: string): number {
    this.need(4, what);
    const v = this.dv.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }
  u64(what: string): number {
    this.need(8, what);
    const v = this.dv.getBigUint64(this.pos, true);
    this.pos += 8;
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) this.fail(`${what} = ${v} is absurd (corrupt file?)`);
    return Number(v);
  }
  /** a count of items of at least `minBytes` each that must fit in the rest of the file */
  count(what: string, minBytes: number): number {
    const n = this.u64(what);
    if (n * minBytes > this.fileSize - this.pos)
      this.fail(`${what} ${n} cannot fit in the remaining ${this.fileSize - this.pos} bytes (truncated or corrupt file?)`);
    return n;
  }
  string(what: string): string {
    const n = this.count(`${what} length`, 1);
    this.need(n, what);
    try {
      return this.utf8.decode(this.buf.subarray(this.pos, (this.pos += n)));
    } catch {
      return this.fail(`${what} at byte ${this.pos - n} is not valid UTF-8`);
    }
  }
  item(type: GgufValueType, what: string): GgufItem | GgufValue {
    const size = GGUF_VALUE_BYTES[type];
    if (size !== undefined) this.need(size, what);
    const p = this.pos,
      dv = this.dv;
    if (size !== undefined) this.pos += size;
    switch (type) {
      case 'u8':
        return dv.getUint8(p);
      case 'i8':
        return dv.getInt8(p);
      case 'u16':
        return dv.getUint16(p, true);
      case 'i16':
        return dv.getInt16(p, true);
      case 'u32':
        return dv.getUint32(p, true);
      case 'i32':
        return dv.getInt32(p, true);
      case 'f32':
        return dv.getFloat32(p, true);
      case 'f64':
        return dv.getFloat64(p, true);
      case 'u64':
        return dv.getBigUint64(p, true);
      case 'i64':
        return dv.getBigInt64(p, true);
      case 'bool': {
        const b = dv.getUint8(p);
        if (b > 1) this.fail(`${what} at byte ${p} is a bool with value ${b}`);
        return b === 1;
      }
      case 'string':
        return this.string(what);
      case 'array':
        return this.array(what);
    }
  }
  valueType(what: string): GgufValueType {
    const id = this.u32(`${what} type`);
    const t = GGUF_VALUE_TYPES[id];
    if (t === undefined) this.fail(`${what} has unknown value type ${id} (valid: 0..${GGUF_VALUE_TYPES.length - 1})`);
    return t;
  }
  array(what: string): GgufValue {
    const itemType = this.valueType(`${what} item`);
    const n = this.count(`${what} item count`, GGUF_VALUE_BYTES[itemType] ?? 8); // strings/arrays: ≥ 8-byte length
    this.items += n;
    if (this.items > GGUF_LIMITS.arrayItems)
      this.fail(
        `${what} brings the metadata to ${this.items} array items, over the limit of ${GGUF_LIMITS.arrayItems} (corrupt or hostile file?)`,
      );
    const value: (GgufItem | GgufValue)[] = new Array(n);
    for (let i = 0; i < n; i++) value[i] = this.item(itemType, `${what}[${i}]`);
    return { type: 'array', itemType, value } as GgufValue;
  }
  value(what: string): GgufValue {
    const type = this.valueType(what);
    if (type === 'array') return this.array(what);
    return { type, value: this.item(type, what) } as GgufValue;
  }
}

/** Parse the header (metadata and tensor infos) from the first bytes of a file; throws NeedMore if short. */
function parseHead(head: Uint8Array, fileSize: number, where: string): GgufFile {
  const c = new Cursor(head, fileSize, where);
  if (fileSize < 8) c.fail(`file is ${fileSize} bytes, too short for a GGUF header`);
  const magic = c.u32('magic');
  if (magic !== GGUF_MAGIC) {
    const got = Array.from(head.subarray(0, 4), (b) =>
      b >= 32 && b < 127 ? String.fromCharCode(b) : `\\x${b.toString(16).padStart(2, '0')}`,
    ).join('');
    c.fail(`not a GGUF file: magic is "${got}", expected "GGUF"`);
  }
  const version = c.u32('version');
  if (version === 1) c.fail('GGUF version 1 (32-bit counts, 2023) is not supported; re-convert the model with a current llama.cpp');
  if (version !== 2 && version !== 3) {
    const swapped = ((version & 0xff) << 24) | ((version & 0xff00) << 8) | ((version >>> 8) & 0xff00) | (version >>> 24);
    if (swapped === 2 || swapped === 3)
      c.fail(`big-endian GGUF (version ${swapped}) is not supported; convert it with gguf-py's gguf-convert-endian`);
    c.fail(`unsupported GGUF version ${version} (this reader knows versions 2 and 3)`);
  }
  const nTensors = c.count('tensor count', 8 + 4 + 4 + 8); // name length, n_dims, type, offset
  const nKv = c.count('metadata count', 8 + 4); // key length, value type
  if (nTensors > GGUF_LIMITS.tensors)
    c.fail(`tensor count ${nTensors} is over the limit of ${GGUF_LIMITS.tensors} (corrupt or hostile file?)`);
  if (nKv > GGUF_LIMITS.metadataKeys)
    c.fail(`metadata count ${nKv} is over the limit of ${GGUF_LIMITS.metadataKeys} keys (corrupt or hostile file?)`);
  const metadata: GgufMetadata = new Map();
  for (let i = 0; i < nKv; i++) {
    const key = c.string(`metadata key #${i}`);
    if (metadata.has(key)) c.fail(`metadata key "${key}" appears twice`);
    metadata.set(key, c.value(`metadata "${key}"`));
  }
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  const al = metadata.get('general.alignment');
  if (al) {
    if (al.type !== 'u32' || al.value === 0 || (al.value & (al.value - 1)) !== 0) {
      c.fail(`general.alignment must be a u32 power of two, got ${al.type} ${String(al.value)}`);
    }
    alignment = al.value as number;
  }
  const infos: { name: string; dims: number[]; typeId: number; rel: number }[] = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const name = c.string(`tensor #${i} name`);
    if (names.has(name)) c.fail(`tensor "${name}" appears twice`);
    names.add(name);
    const nDims = c.u32(`tensor "${name}" dim count`);
    if (nDims < 1 || nDims > GGML_MAX_DIMS) c.fail(`tensor "${name}" has ${nDims} dims (ggml allows 1..${GGML_MAX_DIMS})`);
    const dims: number[] = [];
    for (let d = 0; d < nDims; d++) dims.push(c.u64(`tensor "${name}" dim ${d}`));
    const typeId = c.u32(`tensor "${name}" type`);
    if (!GGML_TYPES[typeId]) c.fail(`tensor "${name}" has unknown ggml type ${typeId} (a newer llama.cpp quantization?)`);
    const rel = c.u64(`tensor "${name}" offset`);
    if (rel % alignment !== 0) c.fail(`tensor "${name}" data offset ${rel} is not a multiple of the alignment ${alignment}`);
    infos.push({ name, dims, typeId, rel });
  }
  const dataStart = Math.ceil(c.pos / alignment) * alignment;
  if (nTensors > 0 && dataStart > fileSize)
    c.fail(`the data section (byte ${dataStart}) starts past the end of the ${fileSize}-byte file (truncated?)`);
  const tensors = new Map<string, GgufTensorInfo>();
  for (const { name, dims, typeId, rel } of infos) {
    const n = dims.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(n)) c.fail(`tensor "${name}" dims [${dims}] are absurd`);
    const byteLength = ggmlTensorBytes(typeId, dims[0]!, n, `${where}: tensor "${name}"`);
    const offsetBytes = dataStart + rel;
    if (offsetBytes + byteLength > fileSize) {
      c.fail(
        `tensor "${name}" (${GGML_TYPES[typeId]![0]} [${dims}]) ends at byte ${offsetBytes + byteLength}, past the end of the ${fileSize}-byte file (truncated?)`,
      );
    }
    tensors.set(name, {
      name,
      dimsGgmlOrder: dims,
      shape: [...dims].reverse(),
      typeId,
      typeName: GGML_TYPES[typeId]![0],
      offsetBytes,
      byteLength,
    });
  }
  const spans = [...tensors.values()].sort((a, b) => a.offsetBytes - b.offsetBytes);
  for (let i = 1; i < spans.length; i++) {
    const a = spans[i - 1]!,
      b = spans[i]!;
    if (a.offsetBytes + a.byteLength > b.offsetBytes) c.fail(`tensors "${a.name}" and "${b.name}" overlap in the data section`);
  }
  return { version, metadata, tensors, alignment, dataStart, fileSize };
}

/** Read and validate a GGUF header from bytes or a ByteSource (reads a growing prefix, never the tensor data). */
export async function readGguf(src: Uint8Array | ByteSource, where = 'gguf'): Promise<GgufFile> {
  const source = src instanceof Uint8Array ? bytesSource(src) : src;
  let want = Math.min(source.size, 1 << 20);
  for (;;) {
    const head = await source.read(0, want);
    if (head.length < want) throw new Error(`${where}: asked for ${want} bytes, the source gave ${head.length}`);
    try {
      return parseHead(head, source.size, where);
    } catch (e) {
      if (!(e instanceof NeedMore)) throw e;
      if (want >= GGUF_LIMITS.headerBytes)
        throw new Error(
          `${where}: metadata and tensor infos run past ${GGUF_LIMITS.headerBytes} bytes, over the header limit (corrupt or hostile file?)`,
        );
      want = Math.min(source.size, want * 2, GGUF_LIMITS.headerBytes); // NeedMore implies want < size, so this grows
    }
  }
}

/** A tensor's values as f32 (row-major, `info.shape`), decoding F32, F16, BF16, Q8_0, Q4_0 and Q4_K. */
export async function readGgufTensor(src: Uint8Array | ByteSource, info: GgufTensorInfo, where = 'gguf'): Promise<Float32Array> {
  const source = src instanceof Uint8Array ? bytesSource(src) : src;
  const bytes = await source.read(info.offsetBytes, info.byteLength);
  if (bytes.length !== info.byteLength)
    throw new Error(`${where}: tensor "${info.name}": read ${bytes.length} of ${info.byteLength} bytes`);
  return decodeTensor(bytes, info, where);
}

export function decodeTensor(bytes: Uint8Array, info: GgufTensorInfo, where = 'gguf'): Float32Array {
  const n = info.shape.reduce((a, b) => a * b, 1);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(n);
  switch (info.typeName) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16BitsToF32(dv.getUint16(i * 2, true));
      return out;
    case 'BF16':
      for (let i = 0; i < n; i++) out[i] = bf16BitsToF32(dv.getUint16(i * 2, true));
      return out;
    case 'Q8_0':
      return dequantizeQ8_0(bytes, n, out);
    case 'Q4_0':
      return dequantizeQ4_0(bytes, n, out);
    case 'Q4_K':
      return dequantizeQ4_K(bytes, n, out);
    default:
      throw new Error(
        `${where}: tensor "${info.name}" is ${info.typeName}; dllm reads F32, F16, BF16, Q8_0, Q4_0 and Q4_K ` +
          '(re-quantize with llama-quantize to Q8_0, or convert to F16)',
      );
  }
}

// ---- typed metadata access ------------------------------------------------------------------------
/** a numeric (integer or float, any width) metadata value, or `fallback` when absent */
export function metaNumber(m: GgufMetadata, key: string, fallback?: number): number {
  const v = m.get(key);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new Error(`gguf: metadata "${key}" is missing`);
  }
  if (v.type === 'u64' || v.type === 'i64') return Number(v.value);
  if (typeof v.value !== 'number') throw new Error(`gguf: metadata "${key}" must be a number, got ${v.type}`);
  return v.value;
}

export function metaString(m: GgufMetadata, key: string, fallback?: string): string {
  const v = m.get(key);
  if (v === undefined && fallback !== undefined) return fallback;
  if (v?.type !== 'string') throw new Error(`gguf: metadata "${key}" must be a string, got ${v ? v.type : 'nothing'}`);
  return v.value;
}

export function metaBool(m: GgufMetadata, key: string, fallback: boolean): boolean {
  const v = m.get(key);
  if (v === undefined) return fallback;
  if (v.type !== 'bool') throw new Error(`gguf: metadata "${key}" must be a bool, got ${v.type}`);
  return v.value;
}

export function metaArray(m: GgufMetadata, key: string): GgufItem[] | undefined {
  const v = m.get(key);
  if (v === undefined) return undefined;
  if (v.type !== 'array' || v.itemType === 'array') throw new Error(`gguf: metadata "${key}" must be a flat array, got ${v.type}`);
  return v.value as GgufItem[];
}
