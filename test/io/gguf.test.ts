// GGUF reader/writer: write→read round trips (F32, F16, every metadata value type), hand-computed Q8_0 and Q4_0
// blocks, the f16 codec against paper values and the kernels, and corrupt files that must fail fast and clearly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  dequantizeQ4_0,
  dequantizeQ8_0,
  f16BitsToF32,
  f32ToBf16Bits,
  bf16BitsToF32,
  f32ToF16Bits,
  quantizeQ4_0,
  quantizeQ8_0,
  GGUF_LIMITS,
  readGguf,
  readGgufTensor,
  writeGguf,
  type ByteSource,
  type GgufValue,
} from '../../src/io/gguf.js';
import { createKernels } from '../../src/platform/node.js';

/** mulberry32, local so the test owns its numbers */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    let t = (s = (s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
function randn(n: number, seed: number, scale = 1): Float32Array {
  const r = rng(seed),
    out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = scale * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return out;
}
const bitsEqual = (a: Float32Array, b: Float32Array) =>
  assert.deepEqual(new Uint32Array(a.buffer, a.byteOffset, a.length), new Uint32Array(b.buffer, b.byteOffset, b.length));

// ---- f16 / bf16 ------------------------------------------------------------------------------
test('f32 → f16 bits: paper values, ties to even, subnormals, overflow, specials', () => {
  const cases: [number, number][] = [
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [65519, 0x7bff],
    [65520, 0x7c00], // 65520 ties between 65504 and 2^16: even → Inf
    [1 + 2 ** -11, 0x3c00],
    [1 + 3 * 2 ** -11, 0x3c02],
    [2 ** -14, 0x0400],
    [2 ** -24, 0x0001],
    [2 ** -25, 0x0000],
    [1.5 * 2 ** -25, 0x0001],
    [3 * 2 ** -25, 0x0002],
    [-0, 0x8000],
    [Infinity, 0x7c00],
    [-1e9, 0xfc00],
  ];
  for (const [x, h] of cases) assert.equal(f32ToF16Bits(x), h, `f16(${x})`);
  assert.ok(Number.isNaN(f16BitsToF32(f32ToF16Bits(NaN))));
  for (let h = 0; h < 0x10000; h++) {
    // every half survives half → f32 → half
    const x = f16BitsToF32(h);
    if (!Number.isNaN(x)) assert.equal(f32ToF16Bits(x), h, `half 0x${h.toString(16)}`);
  }
  assert.equal(f32ToBf16Bits(1 + 2 ** -8), 0x3f80); // tie → even
  assert.equal(f32ToBf16Bits(1 + 3 * 2 ** -8), 0x3f82);
  assert.equal(bf16BitsToF32(0x3fc0), 1.5);
});

test('f32 → f16 agrees bit for bit with the kernels on 200k random values', async () => {
  const k = await createKernels();
  try {
    const r = rng(7),
      n = 200_000;
    const x = new Float32Array(n),
      u = new Uint32Array(x.buffer);
    for (let i = 0; i < n; i++) u[i] = Math.floor(r() * 2 ** 32) >>> 0; // every bit pattern class, incl. NaN, subnormals
    const mine = new Uint16Array(n),
      theirs = k.allocU16(n),
      xs = k.allocF32(n);
    xs.set(x);
    for (let i = 0; i < n; i++) mine[i] = f32ToF16Bits(x[i]!);
    k.f32ToF16(theirs, xs, n);
    for (let i = 0; i < n; i++) {
      if (Number.isNaN(x[i]!)) {
        assert.ok((mine[i]! & 0x7c00) === 0x7c00 && (mine[i]! & 0x3ff) !== 0);
        continue;
      }
      assert.equal(mine[i], theirs[i], `x = ${x[i]} (0x${u[i]!.toString(16)})`);
    }
  } finally {
    k.dispose();
  }
});

// ---- round trips -----------------------------------------------------------------------------
const EVERY_TYPE: [string, GgufValue][] = [
  ['t.u8', { type: 'u8', value: 255 }],
  ['t.i8', { type: 'i8', value: -128 }],
  ['t.u16', { type: 'u16', value: 65535 }],
  ['t.i16', { type: 'i16', value: -32768 }],
  ['t.u32', { type: 'u32', value: 4294967295 }],
  ['t.i32', { type: 'i32', value: -2147483648 }],
  ['t.f32', { type: 'f32', value: Math.fround(0.1) }],
  ['t.f64', { type: 'f64', value: 0.1 }],
  ['t.bool', { type: 'bool', value: true }],
  ['t.u64', { type: 'u64', value: 2n ** 64n - 1n }],
  ['t.i64', { type: 'i64', value: -(2n ** 63n) }],
  ['t.string', { type: 'string', value: 'héllo ✓ 𝄞 "quotes" \n' }],
  ['t.empty', { type: 'string', value: '' }],
  ['t.arr.str', { type: 'array', itemType: 'string', value: ['Ġthe', '<|mask|>', ''] }],
  ['t.arr.i32', { type: 'array', itemType: 'i32', value: [1, -2, 3] }],
  ['t.arr.f32', { type: 'array', itemType: 'f32', value: [Math.fround(1.5), -0, Infinity] }],
  ['t.arr.u64', { type: 'array', itemType: 'u64', value: [0n, 1n << 40n] }],
  ['t.arr.bool', { type: 'array', itemType: 'bool', value: [true, false] }],
  ['t.arr.empty', { type: 'array', itemType: 'u8', value: [] }],
  [
    't.arr.nested',
    {
      type: 'array',
      itemType: 'array',
      value: [
        { type: 'array', itemType: 'u8', value: [1, 2] },
        { type: 'array', itemType: 'string', value: ['a'] },
      ],
    },
  ],
];

test('write → read: metadata of every value type, F32 and F16 tensors bit-exact (v3 and v2)', async () => {
  const a = randn(6 * 5, 1),
    b = randn(64, 2, 100),
    c = randn(3 * 4 * 2, 3);
  b[0] = 65504;
  b[1] = 1e-7;
  b[2] = -0; // f16 max, a subnormal, negative zero
  const f16 = Float32Array.from(b, (x) => f16BitsToF32(f32ToF16Bits(x)));
  for (const version of [3, 2] as const) {
    const bytes = writeGguf({
      version,
      metadata: EVERY_TYPE,
      tensors: [
        { name: 'a', shape: [6, 5], type: 'F32', data: a },
        { name: 'b', shape: [64], type: 'F16', data: b },
        { name: 'c.3d', shape: [3, 4, 2], type: 'F32', data: c },
      ],
    });
    const f = await readGguf(bytes);
    assert.equal(f.version, version);
    assert.deepEqual([...f.metadata], EVERY_TYPE);
    assert.deepEqual([...f.tensors.keys()], ['a', 'b', 'c.3d']);
    assert.deepEqual(f.tensors.get('a')!.dimsGgmlOrder, [5, 6]); // fastest first
    assert.deepEqual(f.tensors.get('c.3d')!.shape, [3, 4, 2]);
    for (const t of f.tensors.values()) assert.equal((t.offsetBytes - f.dataStart) % 32, 0);
    bitsEqual(await readGgufTensor(bytes, f.tensors.get('a')!), a);
    bitsEqual(await readGgufTensor(bytes, f.tensors.get('b')!), f16);
    bitsEqual(await readGgufTensor(bytes, f.tensors.get('c.3d')!), c);
  }
});

test('general.alignment is honoured on write and read', async () => {
  const bytes = writeGguf({
    metadata: [['general.alignment', { type: 'u32', value: 256 }]],
    tensors: [
      { name: 'x', shape: [3], type: 'F32', data: Float32Array.from([1, 2, 3]) },
      { name: 'y', shape: [1], type: 'F32', data: Float32Array.from([4]) },
    ],
  });
  const f = await readGguf(bytes);
  assert.equal(f.alignment, 256);
  assert.equal(f.dataStart % 256, 0);
  assert.equal(f.tensors.get('y')!.offsetBytes - f.dataStart, 256);
  assert.deepEqual([...(await readGgufTensor(bytes, f.tensors.get('y')!))], [4]);
});

test('a header larger than the first read (a 100k-token vocabulary) parses without reading the tensor data', async () => {
  const tokens = Array.from({ length: 100_000 }, (_, i) => `tok${i}`); // ≈ 1.6 MB of metadata: past the first 1 MiB read
  const data = randn(1 << 20, 4); // 4 MiB of data after it
  const bytes = writeGguf({
    metadata: [['tokenizer.ggml.tokens', { type: 'array', itemType: 'string', value: tokens }]],
    tensors: [{ name: 'w', shape: [1 << 20], type: 'F32', data }],
  });
  let readUpTo = 0;
  const src: ByteSource = {
    size: bytes.length,
    read: async (o, n) => {
      readUpTo = Math.max(readUpTo, o + n);
      return bytes.subarray(o, o + n);
    },
  };
  const f = await readGguf(src);
  assert.deepEqual(f.metadata.get('tokenizer.ggml.tokens')!.value, tokens);
  assert.ok(f.dataStart > 1 << 20 && readUpTo < bytes.length - (1 << 20), `header read ${readUpTo} of ${bytes.length} bytes`);
  bitsEqual(await readGgufTensor(src, f.tensors.get('w')!), data);
});

// ---- quantized blocks --------------------------------------------------------------------------
test('Q8_0: one hand-built block dequantizes exactly; the quantizer on paper values', async () => {
  const block = new Uint8Array(34);
  const dv = new DataView(block.buffer);
  dv.setUint16(0, 0x3800, true); // d = 0.5
  for (let j = 0; j < 32; j++) dv.setInt8(2 + j, j === 31 ? -128 : 4 * j - 62); // -62, -58, …, 58, then -128
  const expected = Array.from({ length: 32 }, (_, j) => 0.5 * (j === 31 ? -128 : 4 * j - 62));
  const file = writeGguf({ metadata: [], tensors: [{ name: 'q', shape: [32], typeId: 8, bytes: block }] });
  const f = await readGguf(file);
  assert.equal(f.tensors.get('q')!.typeName, 'Q8_0');
  assert.deepEqual([...(await readGgufTensor(file, f.tensors.get('q')!))], expected);
  // x = 127 at j = 0, the rest k/2: d = 127/127 = 1 exactly, q = roundf(x) (halves away from zero)
  const x = Float32Array.from({ length: 32 }, (_, j) => (j === 0 ? 127 : (j - 16) / 2));
  const q = quantizeQ8_0(x);
  assert.equal(new DataView(q.buffer).getUint16(0, true), 0x3c00);
  assert.deepEqual(
    [...new Int8Array(q.buffer, 2, 32)],
    [...x].map((v) => (v < 0 ? -Math.round(-v) : Math.round(v))),
  );
});

test('Q4_0: one hand-built block dequantizes exactly (low nibbles = 0..15, high = 16..31); the quantizer on paper values', async () => {
  const block = new Uint8Array(18);
  new DataView(block.buffer).setUint16(0, 0x3400, true); // d = 0.25
  for (let j = 0; j < 16; j++) block[2 + j] = j | ((15 - j) << 4);
  const expected = [...Array.from({ length: 16 }, (_, j) => (j - 8) * 0.25), ...Array.from({ length: 16 }, (_, j) => (7 - j) * 0.25)];
  const file = writeGguf({
    metadata: [],
    tensors: [{ name: 'q', shape: [2, 32], typeId: 2, bytes: new Uint8Array([...block, ...block]) }],
  });
  const f = await readGguf(file);
  assert.deepEqual([...(await readGgufTensor(file, f.tensors.get('q')!))], [...expected, ...expected]);
  // x = -8..7 twice: the first |max| is x[0] = -8, so d = -8 / -8 = 1 and q = x + 8 exactly
  const x = Float32Array.from({ length: 32 }, (_, j) => (j % 16) - 8);
  const q = quantizeQ4_0(x);
  assert.equal(new DataView(q.buffer).getUint16(0, true), 0x3c00);
  assert.deepEqual(
    [...q.subarray(2)],
    Array.from({ length: 16 }, (_, j) => j | (j << 4)),
  );
  assert.deepEqual([...dequantizeQ4_0(q, 32)], [...x]);
});

test('Q8_0 and Q4_0 round trips: error bounds, and quantize∘dequantize is idempotent', () => {
  const x = randn(32 * 64, 9, 3);
  const q8 = quantizeQ8_0(x),
    x8 = dequantizeQ8_0(q8, x.length);
  const q4 = quantizeQ4_0(x),
    x4 = dequantizeQ4_0(q4, x.length);
  for (let b = 0; b < 64; b++) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[b * 32 + j]!));
    for (let j = 0; j < 32; j++) {
      const i = b * 32 + j;
      // half a step, plus the f16 rounding of d (≤ 2^-11 relative) times the largest code
      assert.ok(Math.abs(x[i]! - x8[i]!) <= (amax / 127) * 0.5 + amax * 2 ** -11 * 1.01, `q8 ${i}`);
      // Q4_0 maps the signed max to −8, so +amax may clamp at code 15 = 7·d: a whole step, not half
      assert.ok(Math.abs(x[i]! - x4[i]!) <= (amax / 8) * 1.001 + amax * 2 ** -10, `q4 ${i}`);
    }
  }
  assert.deepEqual(quantizeQ8_0(x8), q8);
  assert.deepEqual(quantizeQ4_0(x4), q4);
});

// ---- corrupt files ------------------------------------------------------------------------------
function sample(): Uint8Array {
  return writeGguf({
    metadata: [['general.architecture', { type: 'string', value: 'llama' }]],
    tensors: [{ name: 'weight', shape: [2, 32], type: 'F32', data: randn(64, 5) }],
  });
}
/** byte index just after the tensor-info name "weight" (its n_dims field) */
function infoAt(b: Uint8Array): number {
  const name = new TextEncoder().encode('weight');
  outer: for (let i = 0; i < b.length; i++) {
    for (let j = 0; j < name.length; j++) if (b[i + j] !== name[j]) continue outer;
    return i + name.length;
  }
  throw new Error('no tensor info');
}
function patch(b: Uint8Array, at: number, write: (dv: DataView) => void): Uint8Array {
  const c = b.slice();
  write(new DataView(c.buffer, at));
  return c;
}
async function rejects(bytes: Uint8Array, re: RegExp): Promise<void> {
  await assert.rejects(
    async () => {
      const f = await readGguf(bytes);
      for (const t of f.tensors.values()) await readGgufTensor(bytes, t);
    },
    (e: unknown) => e instanceof Error && re.test(e.message),
    `expected ${re}`,
  );
}

test('corrupt files give clear errors, never a hang', { timeout: 10_000 }, async () => {
  const ok = sample();
  const at = infoAt(ok); // n_dims u32, dims 2×u64, type u32, offset u64
  await rejects(new Uint8Array(0), /too short/);
  await rejects(
    patch(ok, 0, (d) => d.setUint32(0, 0x4e4f5250, true)),
    /not a GGUF file: magic is "PRON"/,
  );
  await rejects(
    patch(ok, 4, (d) => d.setUint32(0, 1, true)),
    /version 1 .* not supported/,
  );
  await rejects(
    patch(ok, 4, (d) => d.setUint32(0, 7, true)),
    /unsupported GGUF version 7/,
  );
  await rejects(
    patch(ok, 4, (d) => d.setUint32(0, 3, false)),
    /big-endian/,
  );
  await rejects(ok.subarray(0, ok.length - 1), /past the end .*truncated/);
  await rejects(ok.subarray(0, 40), /truncated/);
  await rejects(
    patch(ok, at + 20, (d) => d.setUint32(0, 99, true)),
    /unknown ggml type 99/,
  );
  await rejects(
    patch(ok, at + 24, (d) => d.setBigUint64(0, 1n << 20n, true)),
    /ends at byte \d+, past the end/,
  );
  await rejects(
    patch(ok, at + 24, (d) => d.setBigUint64(0, 4n, true)),
    /not a multiple of the alignment/,
  );
  await rejects(
    patch(ok, at, (d) => d.setUint32(0, 5, true)),
    /5 dims/,
  );
  await rejects(
    patch(
      patch(ok, at + 4, (d) => d.setBigUint64(0, 1n << 52n, true)),
      at + 12,
      (d) => d.setBigUint64(0, 16n, true),
    ),
    /dims .* are absurd/,
  );
  await rejects(
    patch(ok, 8, (d) => d.setBigUint64(0, 1n << 40n, true)),
    /tensor count \d+ cannot fit/,
  );
  await rejects(
    patch(ok, 16, (d) => d.setBigUint64(0, 0xffffffffffffn, true)),
    /metadata count \d+ cannot fit/,
  );
  await rejects(
    patch(ok, 24, (d) => d.setBigUint64(0, 1n << 62n, true)),
    /absurd|cannot fit/,
  );
  await rejects(
    patch(ok, 8 + 8 + 8 + 8 + 20, (d) => d.setUint32(0, 42, true)),
    /unknown value type 42/,
  );
  await rejects(
    patch(ok, 32, (d) => d.setUint8(0, 0xff)),
    /not valid UTF-8/,
  );
  const arr = writeGguf({ metadata: [['x', { type: 'array', itemType: 'u32', value: [1, 2] }]], tensors: [] });
  await rejects(
    patch(arr, 8 + 8 + 8 + 8 + 1 + 4 + 4, (d) => d.setBigUint64(0, 1n << 50n, true)),
    /item count \d+ cannot fit/,
  );
  const q = writeGguf({ metadata: [], tensors: [{ name: 'weight', shape: [32], type: 'Q8_0', data: randn(32, 1) }] });
  await rejects(
    patch(q, infoAt(q) + 12, (d) => d.setUint32(0, 6, true)),
    /is Q5_0; dllm reads F32, F16, BF16, Q8_0, Q4_0 and Q4_K/,
  );
  await rejects(
    patch(q, infoAt(q) + 12, (d) => d.setUint32(0, 12, true)),
    /row length 32 is not a multiple of the Q4_K block size 256/,
  );
  const dup = writeGguf({
    metadata: [
      ['a', { type: 'u8', value: 1 }],
      ['b', { type: 'u8', value: 1 }],
    ],
    tensors: [],
  });
  await rejects(
    patch(dup, 8 + 8 + 8 + 8 + 1 + 4 + 1 + 8, (d) => d.setUint8(0, 'a'.charCodeAt(0))),
    /"a" appears twice/,
  );
});

// ---- bounded metadata ---------------------------------------------------------------------------
// Every count used to be checked only against the file size, which a big file satisfies: a 5 MB file held a
// 5 M-item array, a million keys, or a 70 MB string, each parsed into JS objects before anything else ran.
test('metadata beyond GGUF_LIMITS is refused before it is built', { timeout: 20_000 }, async () => {
  const u8s = (n: number): GgufValue => ({ type: 'array', itemType: 'u8', value: new Array<number>(n).fill(7) });
  const big = writeGguf({
    metadata: [
      ['a', u8s(GGUF_LIMITS.arrayItems / 2)],
      ['b', u8s(GGUF_LIMITS.arrayItems / 2 + 1)],
    ],
    tensors: [],
  });
  await rejects(big, /metadata "b" brings the metadata to 4194305 array items, over the limit of 4194304/);
  const atLimit = writeGguf({ metadata: [['a', u8s(GGUF_LIMITS.arrayItems)]], tensors: [] });
  assert.equal((await readGguf(atLimit)).metadata.size, 1, 'at the limit it parses');

  const keys = Array.from({ length: GGUF_LIMITS.metadataKeys + 1 }, (_, i): [string, GgufValue] => [`k${i}`, { type: 'u8', value: 1 }]);
  await rejects(writeGguf({ metadata: keys, tensors: [] }), /metadata count 65537 is over the limit of 65536 keys/);

  const ok = sample();
  const padded = new Uint8Array(4 << 20);
  padded.set(ok);
  await rejects(
    patch(padded, 8, (d) => d.setBigUint64(0, BigInt(GGUF_LIMITS.tensors + 1), true)),
    /tensor count 131073 is over the limit of 131072/,
  );

  // a 70 MB string in a 80 MB file: the reader stops growing its read at the header limit
  const head = new Uint8Array(8 * 4 + 8 + 1 + 4 + 8);
  const dv = new DataView(head.buffer);
  dv.setUint32(0, 0x46554747, true);
  dv.setUint32(4, 3, true);
  dv.setBigUint64(8, 0n, true);
  dv.setBigUint64(16, 1n, true);
  dv.setBigUint64(24, 1n, true);
  head[32] = 'k'.charCodeAt(0);
  dv.setUint32(33, 8, true);
  dv.setBigUint64(37, 70_000_000n, true);
  let largest = 0;
  const src: ByteSource = {
    size: 80_000_000,
    read: async (o, n) => {
      largest = Math.max(largest, n);
      const b = new Uint8Array(n).fill(0x20);
      b.set(head.subarray(o, o + n));
      return b;
    },
  };
  await assert.rejects(
    readGguf(src, 'huge.gguf'),
    /^Error: huge\.gguf: metadata and tensor infos run past 67108864 bytes, over the header limit/,
  );
  assert.ok(largest <= GGUF_LIMITS.headerBytes, `never read more than the limit (largest read ${largest})`);
});
