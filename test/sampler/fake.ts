// The deterministic fake denoiser shared with the Python references (scripts/reference/samplers/common.py
// FakeDenoiser — keep the two identical): logits are a fixed function of (position, visible canvas), exact
// in float32, with the favourite token ahead by ≥ 0.5625 and confidences spread over (0, 1).
import type { DenoiseInput, Denoiser, CausalModel, CausalState } from '../../src/sampler/types.js';

export interface FakeSpec {
  V: number;
  mask: number;
  eos: number;
  eot: number;
  pad: number;
  salt: number;
  eosFrom: number;
}

export const SPEC: FakeSpec = { V: 32, mask: 31, eos: 30, eot: 29, pad: 28, salt: 1, eosFrom: -1 };

/** uint32 hash of two uint32s (murmur3 finaliser) */
export function mix(a: number, b: number): number {
  let h = (a ^ Math.imul(b, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}

/** logits (V) of query position q for a row whose attended (position, token) pairs hash to c */
function rowLogits(spec: FakeSpec, c: number, q: number, out: Float32Array, o: number): void {
  const { V } = spec;
  const h = mix(c, (q + 1) >>> 0);
  const sharp = 0.5 + (h % 4096) / 512;
  let fav = mix(h, 1) % (V - 2);
  if (spec.eosFrom >= 0 && q >= spec.eosFrom) fav = spec.eos;
  const keys = Array.from({ length: V }, (_, v) => [mix(h, v + 2), v] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  keys.forEach(([, v], r) => {
    out[o + v] = r / 16;
  });
  out[o + fav] = 2 + sharp;
  out[o + spec.mask] = -40;
}

export interface FakeDenoiser extends Denoiser {
  calls: number;
  inputs: DenoiseInput[];
  rows: number;
}

export function fakeDenoiser(spec: Partial<FakeSpec> = {}): FakeDenoiser {
  const s: FakeSpec = { ...SPEC, ...spec };
  const fake: FakeDenoiser = {
    vocabSize: s.V,
    specials: { mask: s.mask, eos: s.eos, eot: s.eot, pad: s.pad },
    calls: 0,
    inputs: [],
    rows: 0,
    async denoise(inp: DenoiseInput): Promise<Float32Array> {
      fake.calls++;
      fake.rows += inp.B;
      fake.inputs.push({ ...inp, tokens: inp.tokens.slice() });
      const { B, T, tokens } = inp;
      const start = inp.region?.start ?? 0,
        end = inp.region?.end ?? T,
        R = end - start;
      const out = new Float32Array(B * R * s.V);
      for (let b = 0; b < B; b++) {
        const pos = (k: number): number => (inp.positions ? inp.positions[b * T + k]! : k);
        let c = s.salt;
        for (let k = 0; k < T; k++)
          if (!inp.keyValid || inp.keyValid[b * T + k]) c = mix(c, (Math.imul(pos(k), 65536) + tokens[b * T + k]!) >>> 0);
        for (let i = start; i < end; i++) rowLogits(s, c, pos(i), out, (b * R + i - start) * s.V);
      }
      return out;
    },
  };
  return fake;
}

/** a causal fake: next-token logits from a hash of the whole sequence so far; EOS once it is `eosAfter` long */
export function fakeCausal(spec: Partial<FakeSpec> & { eosAfter?: number } = {}): CausalModel & { calls: number } {
  const s: FakeSpec = { ...SPEC, ...spec };
  const model = {
    vocabSize: s.V,
    specials: { eos: s.eos, eot: s.eot, pad: s.pad },
    calls: 0,
    newState(): CausalState {
      const seq: number[] = [];
      return {
        async append(tokens: Int32Array): Promise<Float32Array> {
          model.calls++;
          seq.push(...tokens);
          let c = s.salt;
          seq.forEach((t, k) => {
            c = mix(c, (Math.imul(k, 65536) + t) >>> 0);
          });
          const out = new Float32Array(s.V);
          rowLogits({ ...s, eosFrom: spec.eosAfter ?? -1 }, c, seq.length, out, 0);
          return out;
        },
        dispose() {
          /* nothing held */
        },
      };
    },
  };
  return model;
}
