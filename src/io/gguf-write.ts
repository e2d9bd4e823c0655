// GGUF writer: little-endian v3 (or v2), metadata of every value type, tensor infos, data padded to
// `general.alignment` (default 32). Layout as gguf-py's GGUFWriter (write_header_to_file, write_kv_data_to_file,
// write_ti_data_to_file, write_tensors_to_file): tensors in the order given, each at an aligned offset.
// Tensors come either as f32 values encoded here (F32, F16, BF16, Q8_0, Q4_0, Q4_K) or as pre-encoded bytes of any
// ggml type. Everything is built in memory: fine for test fixtures and small exports, not for 8B models.
import {
  GGML_TYPES,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPES,
  ggmlTensorBytes,
  ggmlTypeId,
  type GgufItem,
  type GgufItemType,
  type GgufMetadata,
  type GgufValue,
  type GgufValueType,
} from './gguf-format.js';
import { f32ToBf16Bits, f32ToF16Bits, quantizeQ4_0, quantizeQ8_0 } from './gguf-quant.js';
import { quantizeQ4_K } from './gguf-kquant.js';

export type GgufTensorInput =
  | { name: string; shape: readonly number[]; type: 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q4_K'; data: Float32Array } // shape row-major
  | { name: string; shape: readonly number[]; typeId: number; bytes: Uint8Array }; // already in that ggml type's layout

export interface GgufWriteInput {
  metadata: GgufMetadata | Iterable<readonly [string, GgufValue]>;
  tensors: readonly GgufTensorInput[];
  version?: 2 | 3; // default 3 (same layout as 2 for little-endian files)
}

const INT_RANGES: Partial<Record<GgufValueType, [number, number]>> = {
  u8: [0, 0xff],
  i8: [-0x80, 0x7f],
  u16: [0, 0xffff],
  i16: [-0x8000, 0x7fff],
  u32: [0, 0xffffffff],
  i32: [-0x80000000, 0x7fffffff],
};

class ByteWriter {
  private buf = new Uint8Array(1 << 16);
  private dv = new DataView(this.buf.buffer);
  length = 0;
  private utf8 = new TextEncoder();
  private reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.dv = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  // reserve() may replace buf and dv: always reserve first, then read this.dv
  u8(v: number): void {
    const at = this.reserve(1);
    this.dv.setUint8(at, v);
  }
  u32(v: number): void {
    const at = this.reserve(4);
    this.dv.setUint32(at, v, true);
  }
  u64(v: number | bigint): void {
    const at = this.reserve(8);
    this.dv.setBigUint64(at, BigInt(v), true);
  }
  bytes(b: Uint8Array): void {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
  }
  string(s: string): void {
    const b = this.utf8.encode(s);
    this.u64(b.length);
    this.bytes(b);
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.reserve(n);
  }
  item(type: GgufItemType, v: GgufItem, what: string): void {
    const bad = (): never => {
      throw new Error(`gguf write: ${what} must be a ${type}, got ${typeof v} ${String(v)}`);
    };
    const range = INT_RANGES[type];
    if (range) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < range[0] || v > range[1]) bad();
      const n = v as number,
        at = this.reserve(type.endsWith('8') ? 1 : type.endsWith('16') ? 2 : 4);
      if (type === 'u8') this.dv.setUint8(at, n);
      else if (type === 'i8') this.dv.setInt8(at, n);
      else if (type === 'u16') this.dv.setUint16(at, n, true);
      else if (type === 'i16') this.dv.setInt16(at, n, true);
      else if (type === 'u32') this.dv.setUint32(at, n, true);
      else this.dv.setInt32(at, n, true);
      return;
    }
    switch (type) {
      case 'f32': {
        if (typeof v !== 'number') bad();
        const at = this.reserve(4);
        this.dv.setFloat32(at, v as number, true);
        return;
      }
      case 'f64': {
        if (typeof v !== 'number') bad();
        const at = this.reserve(8);
        this.dv.setFloat64(at, v as number, true);
        return;
      }
      case 'u64': {
        if (typeof v !== 'bigint' || v < 0n || v >= 1n << 64n) bad();
        const at = this.reserve(8);
        this.dv.setBigUint64(at, v as bigint, true);
        return;
      }
      case 'i64': {
        if (typeof v !== 'bigint' || v < -(1n << 63n) || v >= 1n << 63n) bad();
        const at = this.reserve(8);
        this.dv.setBigInt64(at, v as bigint, true);
        return;
      }
      case 'bool':
        if (typeof v !== 'boolean') bad();
        this.u8(v ? 1 : 0);
        return;
      case 'string':
        if (typeof v !== 'string') bad();
        this.string(v as string);
        return;
      default:
        bad();
    }
  }
  value(v: GgufValue, what: string): void {
    this.u32(GGUF_VALUE_TYPES.indexOf(v.type));
    if (v.type === 'array') this.arrayBody(v, what);
    else this.item(v.type, v.value, what);
  }
  /** item type, count, items; a nested array item is written the same way, without a type tag of its own */
  private arrayBody(v: GgufValue & { type: 'array' }, what: string): void {
    this.u32(GGUF_VALUE_TYPES.indexOf(v.itemType));
    this.u64(v.value.length);
    for (let i = 0; i < v.value.length; i++) {
      if (v.itemType !== 'array') {
        this.item(v.itemType, v.value[i] as GgufItem, `${what}[${i}]`);
        continue;
      }
      const inner = v.value[i] as GgufValue;
      if (inner?.type !== 'array') throw new Error(`gguf write: ${what}[${i}] must be an array value`);
      this.arrayBody(inner, `${what}[${i}]`);
    }
  }
  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function encodeTensor(t: GgufTensorInput): { typeId: number; bytes: Uint8Array } {
  if ('bytes' in t) return { typeId: t.typeId, bytes: t.bytes };
  const x = t.data;
  switch (t.type) {
    case 'F32': {
      const out = new Uint8Array(x.length * 4),
        dv = new DataView(out.buffer);
      for (let i = 0; i < x.length; i++) dv.setFloat32(i * 4, x[i]!, true);
      return { typeId: 0, bytes: out };
    }
    case 'F16':
    case 'BF16': {
      const out = new Uint8Array(x.length * 2),
        dv = new DataView(out.buffer);
      const enc = t.type === 'F16' ? f32ToF16Bits : f32ToBf16Bits;
      for (let i = 0; i < x.length; i++) dv.setUint16(i * 2, enc(x[i]!), true);
      return { typeId: ggmlTypeId(t.type), bytes: out };
    }
    case 'Q8_0':
      return { typeId: 8, bytes: quantizeQ8_0(x) };
    case 'Q4_0':
      return { typeId: 2, bytes: quantizeQ4_0(x) };
    case 'Q4_K':
      return { typeId: 12, bytes: quantizeQ4_K(x) };
  }
}

/** A complete GGUF file as bytes. Shapes are row-major (slowest first); the file stores them reversed. */
export function writeGguf(input: GgufWriteInput): Uint8Array {
  const metadata = new Map(input.metadata);
  const al = metadata.get('general.alignment');
  let alignment = GGUF_DEFAULT_ALIGNMENT;
  if (al) {
    if (al.type !== 'u32' || al.value === 0 || (al.value & (al.value - 1)) !== 0)
      throw new Error('gguf write: general.alignment must be a u32 power of two');
    alignment = al.value;
  }
  const encoded = input.tensors.map((t) => {
    const { typeId, bytes } = encodeTensor(t);
    const n = t.shape.reduce((a, b) => a * b, 1);
    if ('data' in t && t.data.length !== n)
      throw new Error(`gguf write: tensor "${t.name}" has ${t.data.length} values, shape [${t.shape}] needs ${n}`);
    if (t.shape.length < 1 || t.shape.length > 4) throw new Error(`gguf write: tensor "${t.name}" has ${t.shape.length} dims (1..4)`);
    const expected = ggmlTensorBytes(typeId, t.shape[t.shape.length - 1]!, n, `gguf write: tensor "${t.name}"`);
    if (bytes.length !== expected)
      throw new Error(`gguf write: tensor "${t.name}" ${GGML_TYPES[typeId]![0]} [${t.shape}] needs ${expected} bytes, got ${bytes.length}`);
    return { name: t.name, dims: [...t.shape].reverse(), typeId, bytes };
  });
  const names = new Set<string>();
  for (const t of encoded) {
    if (names.has(t.name)) throw new Error(`gguf write: tensor "${t.name}" given twice`);
    names.add(t.name);
  }
  const w = new ByteWriter();
  w.u32(GGUF_MAGIC);
  w.u32(input.version ?? 3);
  w.u64(encoded.length);
  w.u64(metadata.size);
  for (const [key, v] of metadata) {
    w.string(key);
    w.value(v, `metadata "${key}"`);
  }
  let offset = 0;
  for (const t of encoded) {
    w.string(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(t.typeId);
    w.u64(offset);
    offset += Math.ceil(t.bytes.length / alignment) * alignment;
  }
  w.pad(alignment);
  for (const t of encoded) {
    w.bytes(t.bytes);
    w.pad(alignment);
  }
  return w.result();
}
