"""Shared pieces of the sampler reference scripts: the seeded RNG and the fake denoiser, both bit-identical
to their TypeScript twins (src/sampler/rng.ts DecodeRng; test/sampler/fake.ts fakeDenoiser), and the
decision-margin bookkeeping that proves a trace cannot flip on float rounding.

Plain Python + numpy (no torch): every published algorithm is re-implemented after its upstream code in
llada.py and dream.py; make_traces.py runs them and writes test/fixtures/sampler/*.json.
"""
import json
import os

import numpy as np

M32 = 0xFFFFFFFF


def imul(a, b):
    return (a * b) & M32


def rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


class Rng:
    """xoshiro128** seeded through splitmix32, float64 uniforms from 53 bits: src/sampler/rng.ts DecodeRng."""

    def __init__(self, seed, stream=0):
        x = (seed ^ imul(stream, 0x632BE5AB)) & M32
        self.s = []
        for _ in range(4):
            x = (x + 0x9E3779B9) & M32
            z = x
            z = imul(z ^ (z >> 16), 0x85EBCA6B)
            z = imul(z ^ (z >> 13), 0xC2B2AE35)
            self.s.append((z ^ (z >> 16)) & M32)

    def next_uint32(self):
        s = self.s
        r = imul(rotl(imul(s[1], 5), 7), 9)
        t = (s[1] << 9) & M32
        s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]
        s[2] ^= t; s[3] = rotl(s[3], 11)
        return r

    def uniform(self):
        hi = self.next_uint32() >> 5
        lo = self.next_uint32() >> 6
        return (hi * 67108864 + lo + 0.5) / 9007199254740992.0


def mix(a, b):
    """uint32 hash of two uint32s (murmur3 finaliser): test/sampler/fake.ts mix"""
    h = (a ^ imul(b, 0x9E3779B1)) & M32
    h = imul(h ^ (h >> 16), 0x85EBCA6B)
    h = imul(h ^ (h >> 13), 0xC2B2AE35)
    return (h ^ (h >> 16)) & M32


class FakeDenoiser:
    """Logits (B, T, V) as a fixed function of (position, visible canvas): test/sampler/fake.ts fakeDenoiser.

    Per row, c = hash of every attended (position, token) pair; per query position q, h = mix(c, q + 1):
    the favourite token (mix(h, 1) % (V - 2), i.e. never EOS or [MASK]; EOS itself at q >= eos_from) gets
    logit 2 + sharp with sharp = 0.5 + (h % 4096)/512, every other token r/16 where r is its rank when the
    tokens are sorted by (mix(h, v + 2), v) — distinct values in [0, 2) — and [MASK] gets -40. All values are exact in float32, so both languages see identical logits; the
    favourite leads by at least 0.53, and the spread of `sharp` spreads the confidences over (0, 1).
    """

    def __init__(self, V, mask, eos, eot, pad, salt, eos_from=-1):
        self.V, self.mask, self.eos, self.eot, self.pad = V, mask, eos, eot, pad
        self.salt, self.eos_from = salt, eos_from
        self.calls = 0

    def __call__(self, x, attention_mask=None, positions=None):
        """x (B, T) int; attention_mask (B, T) 0/1 or None; positions (B, T) or None → logits (B, T, V) float32"""
        self.calls += 1
        B, T = x.shape
        V = self.V
        out = np.zeros((B, T, V), dtype=np.float32)
        for b in range(B):
            valid = [True] * T if attention_mask is None else [bool(attention_mask[b, k]) for k in range(T)]
            pos = list(range(T)) if positions is None else [int(positions[b, k]) for k in range(T)]
            c = self.salt
            for k in range(T):
                if valid[k]:
                    c = mix(c, (pos[k] * 65536 + int(x[b, k])) & M32)
            for i in range(T):
                q = pos[i]
                h = mix(c, (q + 1) & M32)
                sharp = 0.5 + (h % 4096) / 512.0
                fav = mix(h, 1) % (V - 2)
                if self.eos_from >= 0 and q >= self.eos_from:
                    fav = self.eos
                rank = sorted(range(V), key=lambda v: (mix(h, v + 2), v))  # a permutation: distinct bases
                row = [0.0] * V
                for r, v in enumerate(rank):
                    row[v] = r / 16.0
                row[fav] = 2.0 + sharp
                row[self.mask] = -40.0
                out[b, i] = np.array(row, dtype=np.float32)
        return out

    def spec(self):
        return dict(V=self.V, mask=self.mask, eos=self.eos, eot=self.eot, pad=self.pad, salt=self.salt, eosFrom=self.eos_from)


class Margins:
    """The smallest gap between a decision and its alternative, over the whole trace."""

    def __init__(self):
        self.min = float('inf')
        self.where = ''

    def add(self, gap, where):
        gap = abs(float(gap))
        if gap < self.min:
            self.min, self.where = gap, where

    def argmax(self, scores, where, log=False):
        """gap between the best and second-best score (log-ratio for positive Gumbel scores)"""
        s = np.sort(np.asarray(scores, dtype=np.float64))[::-1]
        if len(s) < 2 or not np.isfinite(s[1]):
            return
        if log:
            if s[1] > 0:
                self.add(np.log(s[0]) - np.log(s[1]), where)
        else:
            self.add(s[0] - s[1], where)

    def cut(self, sorted_values, k, where):
        """a top-k cut: the k-th and (k+1)-th values must differ — unless they are exactly equal, a tie that
        both languages compute identically (e.g. probability exactly 1 after top_p) and break by position"""
        if 0 < k < len(sorted_values) and np.isfinite(sorted_values[k]) and sorted_values[k - 1] != sorted_values[k]:
            self.add(sorted_values[k - 1] - sorted_values[k], where)

    def categorical(self, probs, u, where):
        """inverse-CDF draw: u must sit away from every cumulative boundary"""
        c = np.cumsum(np.asarray(probs, dtype=np.float64))
        self.add(np.min(np.abs(c[:-1] - u)) if len(c) > 1 else 1.0, where)


def softmax64(logits):
    x = np.asarray(logits, dtype=np.float64)
    m = np.max(x, axis=-1, keepdims=True)
    e = np.exp(x - m)
    return e / np.sum(e, axis=-1, keepdims=True)


def left_pad(prompts, pad):
    """left-padded (B, P) ids and the attention mask, as LLaDA's main() tokenizes with padding_side='left'"""
    P = max(len(p) for p in prompts)
    ids = np.full((len(prompts), P), pad, dtype=np.int64)
    att = np.zeros((len(prompts), P), dtype=np.int64)
    for b, p in enumerate(prompts):
        ids[b, P - len(p):] = p
        att[b, P - len(p):] = 1
    return ids, att


def tok_idx(attention_mask):
    """Dream _sample: tok_idx = cumsum(attention_mask) - 1, padded entries filled with 1 (never attended)"""
    t = np.cumsum(attention_mask, axis=-1) - 1
    t[attention_mask == 0] = 1
    return t


def write_traces(out, doc):
    """Write a trace document as compact JSON (one line, NaN refused) and say where it went."""
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, 'w') as f:
        json.dump(doc, f, separators=(',', ':'), allow_nan=False)
        f.write('\n')
    print(f'wrote {os.path.relpath(out)} ({os.path.getsize(out)} bytes, {len(doc["cases"])} cases)')
