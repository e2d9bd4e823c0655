// The one comparison helper of the test suite (docs/style.md §3.6): elementwise |actual − expected| ≤
// atol + rtol·|expected|, and a failure that says where and by how much — label, the first 5 mismatches,
// the max |diff| and the NMSE (Σ diff² / Σ expected²). NaN matches only NaN; ±Inf must match exactly.

export interface CloseOptions {
  atol: number;
  rtol: number;
  label: string;
}

type Numbers = ArrayLike<number>;

function isMatch(a: number, e: number, atol: number, rtol: number): boolean {
  if (Number.isNaN(a) || Number.isNaN(e)) return Number.isNaN(a) && Number.isNaN(e);
  if (!Number.isFinite(a) || !Number.isFinite(e)) return a === e;
  return Math.abs(a - e) <= atol + rtol * Math.abs(e);
}

/** throw unless actual and expected have the same length and agree elementwise within atol + rtol·|expected| */
export function expectClose(actual: Numbers, expected: Numbers, o: CloseOptions): void {
  if (actual.length !== expected.length) {
    throw new Error(`${o.label}: length ${actual.length}, expected ${expected.length}`);
  }
  const shown: string[] = [];
  let bad = 0,
    maxDiff = 0,
    maxAt = -1,
    sqDiff = 0,
    sqRef = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!,
      e = expected[i]!;
    if (Number.isFinite(a) && Number.isFinite(e)) {
      const d = Math.abs(a - e);
      if (d > maxDiff) {
        maxDiff = d;
        maxAt = i;
      }
      sqDiff += d * d;
      sqRef += e * e;
    }
    if (isMatch(a, e, o.atol, o.rtol)) continue;
    bad++;
    if (shown.length < 5) shown.push(`  [${i}] actual ${a}, expected ${e}, |diff| ${Math.abs(a - e)}`);
  }
  if (bad === 0) return;
  const nmse = sqRef > 0 ? sqDiff / sqRef : sqDiff;
  throw new Error(
    `${o.label}: ${bad} of ${actual.length} elements differ (atol ${o.atol}, rtol ${o.rtol}); ` +
      `max |diff| ${maxDiff}${maxAt >= 0 ? ` at [${maxAt}]` : ''}, NMSE ${nmse.toExponential(3)}\n${shown.join('\n')}`,
  );
}

/** exact equality by Object.is (so −0 ≠ 0), any NaN equal to any NaN: integer paths, determinism, exact ops */
export function expectEqual(actual: Numbers, expected: Numbers, label: string): void {
  if (actual.length !== expected.length) throw new Error(`${label}: length ${actual.length}, expected ${expected.length}`);
  const shown: string[] = [];
  let bad = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!,
      e = expected[i]!;
    if (Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e))) continue;
    bad++;
    if (shown.length < 5) shown.push(`  [${i}] actual ${a}, expected ${e}`);
  }
  if (bad > 0) throw new Error(`${label}: ${bad} of ${actual.length} elements differ\n${shown.join('\n')}`);
}

/** throw unless two integer arrays (bit patterns, ids) are identical; mismatches shown in hex */
export function expectExact(actual: Numbers, expected: Numbers, label: string): void {
  if (actual.length !== expected.length) throw new Error(`${label}: length ${actual.length}, expected ${expected.length}`);
  const shown: string[] = [];
  let bad = 0;
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] === expected[i]) continue;
    bad++;
    if (shown.length < 5) shown.push(`  [${i}] actual 0x${hex(actual[i]!)}, expected 0x${hex(expected[i]!)}`);
  }
  if (bad > 0) throw new Error(`${label}: ${bad} of ${actual.length} elements differ\n${shown.join('\n')}`);
}

function hex(v: number): string {
  return (v >>> 0).toString(16);
}

/** the raw bits of an f32 array (NaN payloads included), for bit-exact comparison with expectExact */
export function f32Bits(x: Float32Array): Uint32Array {
  return new Uint32Array(x.buffer, x.byteOffset, x.length);
}
