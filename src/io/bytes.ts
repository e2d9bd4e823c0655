// Byte access shared by the format readers (safetensors, GGUF): a ByteSource reads ranges on demand, so a
// multi-GB checkpoint is read tensor by tensor and never whole into the JS heap; plus the one
// little-endian integer the safetensors header needs, with a precision check. No file access here:
// platform/ opens files and implements ByteSource over them.

/** A file or buffer read in ranges. `read` resolves to at most `length` bytes (fewer only at the end). */
export interface ByteSource {
  readonly size: number; // bytes
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A ByteSource over bytes already in memory; reads are views (subarrays), not copies. */
export function bytesSource(bytes: Uint8Array): ByteSource {
  return { size: bytes.length, read: async (offset, length) => bytes.subarray(offset, offset + length) };
}

/** u64 little-endian at `offset`, as a number; values above 2^53 - 1 come back as Infinity (never exact-looking garbage) */
export function readU64(bytes: Uint8Array, offset: number): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, 8).getBigUint64(0, true);
  return v > BigInt(Number.MAX_SAFE_INTEGER) ? Infinity : Number(v);
}

/** u64 little-endian write of a safe integer */
export function writeU64(bytes: Uint8Array, offset: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`u64 write: ${value} is not a non-negative safe integer`);
  new DataView(bytes.buffer, bytes.byteOffset + offset, 8).setBigUint64(0, BigInt(value), true);
}
