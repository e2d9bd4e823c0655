// One comparison helper for every numeric test: says where and by how much, and throws on failure.
// |actual − expected| ≤ atol + rtol·|expected| per element; NaN matches only NaN; ±Inf must match exactly.

export interface CloseOptions { atol: number; rtol: number; label: string; }

type Arr = ArrayLike<number>;

export function expectClose(actual: Arr, expected: Arr, o: CloseOptions): void {
  if (actual.length !== expected.length) throw new Error(`${o.label}: length ${actual.length} vs expected ${expected.length}`);
  const bad: string[] = [];
  let maxDiff = 0, errSq = 0, refSq = 0, count = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!, e = expected[i]!;
    let ok: boolean;
    if (Number.isNaN(e) || Number.isNaN(a)) ok = Number.isNaN(e) && Number.isNaN(a);
    else if (!Number.isFinite(e) || !Number.isFinite(a)) ok = a === e;
    else {
      const d = Math.abs(a - e);
      maxDiff = Math.max(maxDiff, d);
      errSq += d * d; refSq += e * e;
      ok = d <= o.atol + o.rtol * Math.abs(e);
    }
    if (!ok) { count++; if (bad.length < 5) bad.push(`[${i}] actual ${a} expected ${e}`); }
  }
  if (count > 0) {
    const nmse = refSq > 0 ? errSq / refSq : errSq;
    throw new Error(`${o.label}: ${count}/${expected.length} elements outside atol ${o.atol} + rtol ${o.rtol}; ` +
      `max |diff| ${maxDiff.toExponential(3)}, NMSE ${nmse.toExponential(3)}; first: ${bad.join('; ')}`);
  }
}

/** exact equality (integer paths, determinism): first 5 differences named */
export function expectEqual(actual: Arr, expected: Arr, label: string): void {
  if (actual.length !== expected.length) throw new Error(`${label}: length ${actual.length} vs expected ${expected.length}`);
  const bad: string[] = [];
  let count = 0;
  for (let i = 0; i < expected.length; i++) {
    if (Object.is(actual[i], expected[i]) || (Number.isNaN(actual[i]) && Number.isNaN(expected[i]))) continue;
    count++;
    if (bad.length < 5) bad.push(`[${i}] ${actual[i]} vs ${expected[i]}`);
  }
  if (count) throw new Error(`${label}: ${count}/${expected.length} elements differ; first: ${bad.join('; ')}`);
}
