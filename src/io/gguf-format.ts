// GGUF's vocabulary, shared by the reader (gguf.ts) and the writer (gguf-write.ts): the magic, value types,
// ggml tensor types with their block sizes, and the typed metadata values. Sources: ggml/include/gguf.h
// (enum gguf_type, GGUF_DEFAULT_ALIGNMENT), ggml/src/ggml.c type_traits, gguf-py/gguf/constants.py
// (GGUFValueType, GGMLQuantizationType, GGML_QUANT_SIZES), ggml-org/llama.cpp.

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const GGUF_DEFAULT_ALIGNMENT = 32; // GGUF_DEFAULT_ALIGNMENT in ggml/include/gguf.h
export const GGML_MAX_DIMS = 4; // ggml.h

// ---- metadata values --------------------------------------------------------------------------
/** value types by their on-disk id (enum gguf_type, ggml/include/gguf.h) */
export const GGUF_VALUE_TYPES = ['u8', 'i8', 'u16', 'i16', 'u32', 'i32', 'f32', 'bool', 'string', 'array', 'u64', 'i64', 'f64'] as const;
export type GgufValueType = (typeof GGUF_VALUE_TYPES)[number];
export type GgufNumberType = 'u8' | 'i8' | 'u16' | 'i16' | 'u32' | 'i32' | 'f32' | 'f64';
export type GgufBigType = 'u64' | 'i64';
export type GgufItemType = Exclude<GgufValueType, 'array'>;
export type GgufItem = number | bigint | boolean | string;

export type GgufValue =
  | { type: GgufNumberType; value: number }
  | { type: GgufBigType; value: bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'string'; value: string }
  | { type: 'array'; itemType: GgufItemType; value: GgufItem[] }
  | { type: 'array'; itemType: 'array'; value: GgufValue[] }; // nested arrays: each item is an array value

export type GgufMetadata = Map<string, GgufValue>;

/** bytes of one fixed-size value (strings and arrays are variable) */
export const GGUF_VALUE_BYTES: Partial<Record<GgufValueType, number>> = {
  u8: 1,
  i8: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  bool: 1,
  u64: 8,
  i64: 8,
  f64: 8,
};

// ---- tensor types -----------------------------------------------------------------------------
/** ggml types by id: [name, elements per block, bytes per block] (ggml.c type_traits; gguf-py GGML_QUANT_SIZES) */
export const GGML_TYPES: Record<number, readonly [string, number, number]> = {
  0: ['F32', 1, 4],
  1: ['F16', 1, 2],
  2: ['Q4_0', 32, 18],
  3: ['Q4_1', 32, 20],
  6: ['Q5_0', 32, 22],
  7: ['Q5_1', 32, 24],
  8: ['Q8_0', 32, 34],
  9: ['Q8_1', 32, 36],
  10: ['Q2_K', 256, 84],
  11: ['Q3_K', 256, 110],
  12: ['Q4_K', 256, 144],
  13: ['Q5_K', 256, 176],
  14: ['Q6_K', 256, 210],
  15: ['Q8_K', 256, 292],
  16: ['IQ2_XXS', 256, 66],
  17: ['IQ2_XS', 256, 74],
  18: ['IQ3_XXS', 256, 98],
  19: ['IQ1_S', 256, 50],
  20: ['IQ4_NL', 32, 18],
  21: ['IQ3_S', 256, 110],
  22: ['IQ2_S', 256, 82],
  23: ['IQ4_XS', 256, 136],
  24: ['I8', 1, 1],
  25: ['I16', 1, 2],
  26: ['I32', 1, 4],
  27: ['I64', 1, 8],
  28: ['F64', 1, 8],
  29: ['IQ1_M', 256, 56],
  30: ['BF16', 1, 2],
  34: ['TQ1_0', 256, 54],
  35: ['TQ2_0', 256, 66],
  39: ['MXFP4', 32, 17],
};
/** the types readGgufTensor decodes to f32 */
export type GgmlReadableType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q4_K';

export function ggmlTypeId(name: string): number {
  for (const [id, t] of Object.entries(GGML_TYPES)) if (t[0] === name) return Number(id);
  throw new Error(`gguf: unknown ggml type name ${name}`);
}

/** bytes of a tensor of `n` elements whose rows are `ne0` long */
export function ggmlTensorBytes(typeId: number, ne0: number, n: number, what = 'tensor'): number {
  const t = GGML_TYPES[typeId];
  if (!t) throw new Error(`${what}: unknown ggml type ${typeId}`);
  if (ne0 % t[1] !== 0) throw new Error(`${what}: row length ${ne0} is not a multiple of the ${t[0]} block size ${t[1]}`);
  return (n / t[1]) * t[2];
}
