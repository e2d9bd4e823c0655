// safetensors reader/writer: bit-exact write→read for every dtype, canonical (input-order-independent) output,
// lazy reads through a ByteSource, every corrupt-header case failing with a message that names the problem,
// and model.safetensors.index.json parsing. Fixture checks live in fixtures.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DTYPE_BYTES,
  bytesSource,
  checkShardFiles,
  parseSafetensorsHeader,
  parseShardIndex,
  readSafetensorsHeader,
  readTensor,
  shardFileFor,
  writeSafetensors,
  type ByteSource,
  type SafetensorsDtype,
  type TensorToWrite,
} from '../../src/io/safetensors.js';
import { Rng } from '../helpers/rng.js';

const DTYPES = Object.keys(DTYPE_BYTES) as SafetensorsDtype[];

/** random raw bytes for a tensor: every bit pattern is fair (NaN payloads, -0, subnormals, infinities) */
function tensorOf(rng: Rng, name: string, dtype: SafetensorsDtype, shape: number[]): TensorToWrite {
  const n = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = Math.floor(rng.next() * 256);
  return { name, dtype, shape, data };
}

function rawBytes(v: ArrayBufferView): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

/** a file from a raw header object and data bytes, bypassing the writer's checks (for corrupt cases) */
function rawFile(header: unknown, data = new Uint8Array(0), headerText = JSON.stringify(header)): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

/** a ByteSource that records every read, to prove the reader is lazy */
function countingSource(bytes: Uint8Array): ByteSource & { reads: [number, number][] } {
  const reads: [number, number][] = [];
  return {
    size: bytes.length,
    reads,
    read: async (o, n) => {
      reads.push([o, n]);
      return bytes.slice(o, o + n);
    },
  };
}

test('write → read is bit-exact for every dtype, from bytes and from a ByteSource', async () => {
  const rng = new Rng(1234);
  const shapes = [[3, 5], [7], [], [2, 0, 4], [1, 1, 17]]; // odd sizes, a scalar, an empty tensor
  const tensors = DTYPES.flatMap((d, i) => shapes.map((s, j) => tensorOf(rng, `t${i}.${j}.${d}`, d, s)));
  const file = writeSafetensors(tensors, { format: 'pt', note: 'round trip' });
  const header = parseSafetensorsHeader(file);
  assert.deepEqual(header.metadata, { format: 'pt', note: 'round trip' });
  assert.equal(header.tensors.size, tensors.length);
  const src = countingSource(file);
  const lazyHeader = await readSafetensorsHeader(src);
  assert.deepEqual(lazyHeader, header);
  for (const t of tensors) {
    const info = header.tensors.get(t.name)!;
    assert.equal(info.dtype, t.dtype);
    assert.deepEqual(info.shape, t.shape);
    assert.equal(info.byteOffset % DTYPE_BYTES[t.dtype], 0, `${t.name} is aligned to its element size`);
    const fromBytes = readTensor(file, header, t.name);
    const fromSource = await readTensor(src, header, t.name);
    assert.deepEqual(rawBytes(fromBytes), rawBytes(t.data), `${t.name} from bytes`);
    assert.deepEqual(rawBytes(fromSource), rawBytes(t.data), `${t.name} from a ByteSource`);
    assert.equal(
      fromBytes.length,
      t.shape.reduce((a, b) => a * b, 1),
      `${t.name} element count`,
    );
  }
  // typed arrays of the dtype (raw: F16/BF16 as bit patterns, conversion is the caller's)
  const kinds: Partial<Record<SafetensorsDtype, string>> = {
    F64: 'Float64Array',
    F32: 'Float32Array',
    F16: 'Uint16Array',
    BF16: 'Uint16Array',
    I64: 'BigInt64Array',
    U64: 'BigUint64Array',
    I32: 'Int32Array',
    U32: 'Uint32Array',
    I16: 'Int16Array',
    U16: 'Uint16Array',
    I8: 'Int8Array',
    U8: 'Uint8Array',
    BOOL: 'Uint8Array',
    F8_E4M3: 'Uint8Array',
    F8_E5M2: 'Uint8Array',
  };
  for (const d of DTYPES) assert.equal(readTensor(file, header, `t${DTYPES.indexOf(d)}.0.${d}`).constructor.name, kinds[d], d);
});

test('reading through a ByteSource touches only the header and the tensors asked for', async () => {
  const rng = new Rng(7);
  const big = tensorOf(rng, 'big', 'F32', [256, 256]),
    small = tensorOf(rng, 'small', 'F32', [4]);
  const file = writeSafetensors([big, small]);
  const src = countingSource(file);
  const header = await readSafetensorsHeader(src);
  await readTensor(src, header, 'small');
  const read = src.reads.reduce((s, [, n]) => s + n, 0);
  assert.ok(read < 2 * header.dataStart + 16, `read ${read} bytes of ${file.length}; the big tensor was never read`);
  assert.equal(src.reads.length, 3, 'first 8 bytes, the header, one tensor');
  await assert.rejects(readTensor(src, header, 'nope'), /no tensor named "nope"/);
});

test('the writer is canonical: dtype (widest first) then name, header padded with spaces to 8 bytes', () => {
  const rng = new Rng(99);
  const ts = [
    tensorOf(rng, 'b', 'F16', [3]),
    tensorOf(rng, 'a', 'F16', [5]),
    tensorOf(rng, 'c', 'I64', [1]),
    tensorOf(rng, 'z', 'U8', [3]),
  ];
  const one = writeSafetensors(ts, { y: '2', x: '1' });
  const two = writeSafetensors([...ts].reverse(), { x: '1', y: '2' });
  assert.deepEqual(one, two);
  const n = Number(new DataView(one.buffer).getBigUint64(0, true));
  assert.equal(n % 8, 0);
  const text = new TextDecoder().decode(one.subarray(8, 8 + n));
  assert.match(text, /^\{"__metadata__":\{"x":"1","y":"2"\},"c":.*"a":.*"b":.*"z":.*\} *$/);
  assert.deepEqual([...parseSafetensorsHeader(one).tensors.keys()], ['c', 'a', 'b', 'z']);
  assert.throws(() => writeSafetensors([ts[0]!, ts[0]!]), /duplicate tensor name "b"/);
  assert.throws(() => writeSafetensors([{ ...ts[0]!, shape: [4] }]), /needs 8 bytes, data has 6/);
  assert.throws(() => writeSafetensors([{ ...ts[0]!, dtype: 'F17' as SafetensorsDtype }]), /unknown dtype "F17"/);
});

test('corrupt files fail with an error that names the problem', () => {
  const ok = { w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [2], data_offsets: [16, 24] } };
  const data = new Uint8Array(24);
  const good = rawFile(ok, data);
  assert.equal(parseSafetensorsHeader(good).tensors.size, 2, 'the uncorrupted file parses');
  const huge = new Uint8Array(16);
  new DataView(huge.buffer).setBigUint64(0, 80_000_000n, true); // an 80 MB header: under the reference's 100 MB, over ours
  const endless = new Uint8Array(16);
  new DataView(endless.buffer).setBigUint64(0, 2n ** 64n - 1n, true);
  const notUtf8 = rawFile(null, new Uint8Array(0), '{"\u00e9":1}'); // é is c3 a9 at bytes 10-11
  notUtf8[10] = 0xff;
  const with_ = (patch: Record<string, unknown>, d = data) => rawFile({ ...ok, ...patch }, d);
  const cases: [string, Uint8Array, RegExp][] = [
    ['empty file', new Uint8Array(0), /file is 0 bytes, too short for a header/],
    ['truncated header', good.subarray(0, 5), /file is 5 bytes, too short for a header \(truncated\?\)/],
    ['header length past EOF', good.subarray(0, 20), /header length \d+ runs past the end of the 20-byte file \(truncated\?\)/],
    ['header of 80 MB', huge, /header length 80000000 is over the 16777216-byte limit/],
    ['header length not even a safe integer', endless, /header length 18446744073709551615 is over the 16777216-byte limit/],
    ['header not JSON', rawFile(null, data, '{"w": {"dtype": "F32",'), /header is not valid UTF-8 JSON/],
    ['header not UTF-8', notUtf8, /header is not valid UTF-8 JSON/],
    ['header not an object', rawFile(null, data, '["w"]'), /does not start with '\{'/],
    ['wrong dtype string', with_({ w: { dtype: 'X32', shape: [2, 2], data_offsets: [0, 16] } }), /tensor "w" has unknown dtype "X32"/],
    ['lower-case dtype', with_({ w: { dtype: 'f32', shape: [2, 2], data_offsets: [0, 16] } }), /tensor "w" has unknown dtype "f32"/],
    ['negative shape', with_({ w: { dtype: 'F32', shape: [-2, -2], data_offsets: [0, 16] } }), /tensor "w" has a bad shape \[-2,-2\]/],
    ['non-integer shape', with_({ w: { dtype: 'F32', shape: [2.5, 2], data_offsets: [0, 16] } }), /tensor "w" has a bad shape/],
    ['offsets reversed', with_({ w: { dtype: 'F32', shape: [0], data_offsets: [16, 0] } }), /tensor "w" has bad data_offsets \[16,0\]/],
    [
      'size mismatch',
      with_({ w: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 16] } }),
      /tensor "w" \[2,3\] F32 needs 24 bytes, data_offsets \[0, 16\] give 16/,
    ],
    [
      'offsets past the end',
      with_({ b: { dtype: 'F32', shape: [2], data_offsets: [24, 32] } }),
      /tensor "b" ends at byte \d+, past the end of the \d+-byte file \(truncated\?\)/,
    ],
    ['truncated data', good.subarray(0, good.length - 4), /tensor "b" ends at byte \d+, past the end of the \d+-byte file \(truncated\?\)/],
    [
      'overlapping offsets',
      with_({ b: { dtype: 'F32', shape: [2], data_offsets: [12, 20] } }, new Uint8Array(20)),
      /tensors "w" and "b" overlap/,
    ],
    [
      'hole between tensors',
      with_({ b: { dtype: 'F32', shape: [2], data_offsets: [20, 28] } }, new Uint8Array(28)),
      /4 unused bytes between "w" and "b"/,
    ],
    ['bytes after the last tensor', rawFile(ok, new Uint8Array(30)), /6 bytes after the last tensor "b"/],
    ['entry not an object', with_({ b: 7 }), /tensor "b" is not an object/],
    ['metadata not strings', rawFile({ __metadata__: { step: 3 }, ...ok }, data), /"__metadata__" value of "step" must be a string/],
  ];
  for (const [name, bytes, pattern] of cases) {
    assert.throws(
      () => parseSafetensorsHeader(bytes, bytes.length, 'model.safetensors'),
      (e: unknown) => {
        assert.ok(e instanceof Error, name);
        assert.match(e.message, pattern, name);
        assert.match(e.message, /^model\.safetensors: /, `${name}: the message says which file`);
        assert.ok(!e.message.includes('\n'), `${name}: one line`);
        return true;
      },
      name,
    );
  }
});

// An 80 MB header of a million zero-size tensors was accepted (6 s, 1 GB of parsed objects): now the length
// is refused from the first 8 bytes, and a header under the size limit with too many entries is refused too.
test('huge headers are refused before they are read: an 80 MB header of 1 M entries, and 131 073 entries in 7 MB', async () => {
  const HEADER = 80_000_000;
  const first8 = new Uint8Array(8);
  new DataView(first8.buffer).setBigUint64(0, BigInt(HEADER), true);
  const reads: number[] = [];
  // the bytes after the first 8 would be `{"t0":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},…` (1 M entries)
  const big: ByteSource = {
    size: 8 + HEADER,
    read: async (o, n) => {
      reads.push(n);
      return o === 0 && n <= 8 ? first8.slice(0, n) : new Uint8Array(n).fill(0x20);
    },
  };
  const t0 = performance.now();
  await assert.rejects(
    readSafetensorsHeader(big, 'big.safetensors'),
    /^Error: big\.safetensors: header length 80000000 is over the 16777216-byte limit/,
  );
  assert.ok(performance.now() - t0 < 1000, 'refused at once');
  assert.deepEqual(reads, [8], 'only the 8-byte length was read');

  const entries = Array.from({ length: 131_073 }, (_, i) => `"t${i}":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}`);
  const many = rawFile(null, new Uint8Array(0), `{${entries.join(',')}}`);
  assert.ok(many.length < 16 * 2 ** 20, 'under the size limit');
  assert.throws(
    () => parseSafetensorsHeader(many, many.length, 'many.safetensors'),
    /^Error: many\.safetensors: header lists 131073 tensors, over the limit of 131072/,
  );
  const fine = rawFile(null, new Uint8Array(0), `{${entries.slice(1).join(',')}}`);
  assert.equal(parseSafetensorsHeader(fine).tensors.size, 131_072, 'at the limit it parses');
});

test('a ByteSource that returns short reads is an error, not a short tensor', async () => {
  const file = writeSafetensors([{ name: 'x', dtype: 'F32', shape: [4], data: new Float32Array(4) }]);
  const header = parseSafetensorsHeader(file);
  const short: ByteSource = { size: file.length, read: async (o, n) => file.slice(o, o + n - 1) };
  await assert.rejects(readTensor(short, header, 'x'), /tensor "x": read 15 of 16 bytes/);
  assert.throws(() => readTensor(file.subarray(0, file.length - 1), header, 'x'), /tensor "x" ends past the \d+ bytes given/);
  assert.equal((await readTensor(bytesSource(file), header, 'x')).length, 4);
});

test('model.safetensors.index.json: weight_map, missing shard names, missing shard files', () => {
  const index = {
    metadata: { total_size: 96 },
    weight_map: {
      'a.weight': 'model-00001-of-00002.safetensors',
      'b.weight': 'model-00002-of-00002.safetensors',
      'c.weight': 'model-00002-of-00002.safetensors',
    },
  };
  const map = parseShardIndex(index);
  assert.equal(shardFileFor(map, 'b.weight'), 'model-00002-of-00002.safetensors');
  assert.throws(
    () => shardFileFor(map, 'lm_head.weight', 'dir/model.safetensors.index.json'),
    /dir\/model\.safetensors\.index\.json: tensor "lm_head\.weight" is not in weight_map \(it lists 3 tensors\)/,
  );
  checkShardFiles(map, ['config.json', 'model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
  assert.throws(
    () => checkShardFiles(map, ['model-00001-of-00002.safetensors']),
    /missing shard file model-00002-of-00002\.safetensors \(2 tensors, e\.g\. "b\.weight"\)/,
  );
  const bad: [unknown, RegExp][] = [
    [{ weight_map: { 'a.weight': '' } }, /tensor "a\.weight" has no shard file name in weight_map \(got ""\)/],
    [{ weight_map: { 'a.weight': null } }, /tensor "a\.weight" has no shard file name in weight_map \(got null\)/],
    [{ weight_map: { 'a.weight': '../secret.safetensors' } }, /must be a file name in the same folder/],
    [{ metadata: {} }, /no "weight_map" object/],
    [{ weight_map: {} }, /"weight_map" lists no tensors/],
    [[1, 2], /not a JSON object/],
  ];
  for (const [json, pattern] of bad) assert.throws(() => parseShardIndex(json), pattern);
});
