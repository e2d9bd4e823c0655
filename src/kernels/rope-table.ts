// Rotary-embedding cos/sin tables, shared by every backend so ref and wasm rotate by identical numbers.
// Computed as HF transformers does (LlamaRotaryEmbedding): inv_freq[i] = 1 / theta^(2i/D) in f32,
// angle = pos · inv_freq in f32, then cos/sin of that f32 angle.

export interface RopeTable {
  cos: Float32Array; // (P, D/2)
  sin: Float32Array; // (P, D/2)
  positions: number; // P
  halfDim: number; // D/2
}

export function ropeTable(theta: number, D: number, positions: number): RopeTable {
  if (D % 2 !== 0) throw new Error(`ropeTable: head dim D=${D} must be even (rotate-half layout)`);
  const half = D / 2;
  const cos = new Float32Array(positions * half); // (P, D/2)
  const sin = new Float32Array(positions * half); // (P, D/2)
  const invFreq = new Float32Array(half); // (D/2)
  for (let i = 0; i < half; i++) invFreq[i] = 1 / Math.fround(Math.pow(theta, Math.fround((2 * i) / D)));
  for (let p = 0; p < positions; p++) {
    for (let i = 0; i < half; i++) {
      const angle = Math.fround(p * invFreq[i]!);
      cos[p * half + i] = Math.cos(angle);
      sin[p * half + i] = Math.sin(angle);
    }
  }
  return { cos, sin, positions, halfDim: half };
}
