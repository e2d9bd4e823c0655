"""Reference decoding traces on the REAL tiny fixture checkpoints, for test/sampler/model-parity.test.ts.

Regenerate (Debian python3-torch, no transformers, no network, under a minute):

    /usr/bin/python3 scripts/reference/samplers/make_model_traces.py

The published algorithms of llada.py (LLaDA generate.py; Fast-dLLM threshold / factor) and dream.py (Dream
diffusion_generate) are driven here by the plain-torch forward of scripts/reference/tiny_transformer.py over
the weights stored in test/fixtures/{llada,dream}/ — the same files the TypeScript test loads — at
temperature 0 (no randomness at all: Dream `origin` needs torch.rand even at temperature 0, so it is left out).

The model adapter, like src/model/diffusion-lm.ts + src/sampler/decode.ts:
  * Dream's logits are shifted by one, torch.cat([l[:, :1], l[:, :-1]], 1) (Dream generation_utils _sample);
  * [MASK]'s logit is -inf: the engine never proposes [MASK] (a trained model gives it ~0 probability; on a
    random tiny model it would otherwise win argmaxes now and then). The fake denoiser of common.py does the
    same with a -40 logit.
Single unpadded prompts, so positions are 0..T-1 in both families.

Our f32 WASM forward differs from torch's by ~1e-6 in the logits, so each case keeps only a prompt whose
smallest decision margin (common.Margins: top-1 vs top-2 gap of every proposal, the top-k cut between the last
committed and first uncommitted confidence, threshold / factor bars) is >= MIN_MARGIN; the margin is stored
and the test asserts it. Prompts are tried in a fixed order (seeded torch.Generator), the first ones that
pass are kept. Output: test/fixtures/sampler/model-traces.json.
"""
import json
import os
import struct
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))
import llada  # noqa: E402
import dream  # noqa: E402
from common import Rng, softmax64, write_traces  # noqa: E402
from make_fixtures import FAMILIES, ids  # noqa: E402
from tiny_transformer import forward  # noqa: E402

ROOT = os.path.abspath(os.path.join(HERE, '..', '..', '..'))
FIX = os.path.join(ROOT, 'test', 'fixtures')
OUT = os.path.join(FIX, 'sampler', 'model-traces.json')
MIN_MARGIN = 1e-4
PROMPTS_PER_CASE = 2
REGULAR = 280  # hf_layout.REGULAR_TOKENS: ids below are ordinary tokens

# name, family, TypeScript options (temperature 0 throughout). The tiny random models' confidences are ~0.02
# (300-token vocabularies, near-flat logits): τ 0.9 and factor 1 commit one token per step, so a τ of 0.022 and
# a factor of 3.9 (bars 1 − f/(n+1) ≈ 0.02 at n = 3) are added to commit several, in varying counts.
CASES = [
    ('llada-fixed-2-per-step', 'llada', dict(decoder='fixed', genLength=16, blockLength=8, steps=8)),
    ('llada-fixed-uneven', 'llada', dict(decoder='fixed', genLength=24, blockLength=8, steps=9)),
    ('fastdllm-threshold-0.9', 'llada', dict(decoder='threshold', genLength=16, blockLength=8, threshold=0.9)),
    ('fastdllm-threshold-low', 'llada', dict(decoder='threshold', genLength=24, blockLength=8, threshold=0.022)),
    ('fastdllm-factor-1', 'llada', dict(decoder='factor', genLength=16, blockLength=8, factor=1.0)),
    ('fastdllm-factor-high', 'llada', dict(decoder='factor', genLength=24, blockLength=8, factor=3.9)),
    ('dream-maskgit-plus', 'dream', dict(decoder='maskgit_plus', genLength=16, steps=16)),
    ('dream-maskgit-plus-few-steps', 'dream', dict(decoder='maskgit_plus', genLength=16, steps=5)),
    ('dream-topk-margin', 'dream', dict(decoder='topk_margin', genLength=16, steps=8)),
    ('dream-entropy', 'dream', dict(decoder='entropy', genLength=24, steps=8)),
]
ALG = {'fixed': 'LLaDA generate.py generate', 'threshold': 'Fast-dLLM generate + get_transfer_index (threshold)',
       'factor': 'Fast-dLLM generate + get_transfer_index_dynamic (factor)'}


def load_weights(folder):
    d = os.path.join(FIX, folder)
    index = os.path.join(d, 'model.safetensors.index.json')
    if not os.path.exists(index):
        return read_safetensors_any(os.path.join(d, 'model.safetensors'))
    w = {}
    for shard in sorted(set(json.load(open(index))['weight_map'].values())):
        w.update(read_safetensors_any(os.path.join(d, shard)))
    return w


class TorchDenoiser:
    """(B, T) ids → aligned logits (B, T, V) float32 numpy from the fixture's torch forward"""

    def __init__(self, fam):
        self.fam, self.spec = fam, FAMILIES[fam]
        self.weights = load_weights(fam)
        self.mask = ids(self.spec, self.spec['mask'])
        self.calls = 0

    def __call__(self, x, attention_mask=None, positions=None):
        assert attention_mask is None and positions is None, 'single unpadded prompts only'
        self.calls += 1
        B, T = x.shape
        ids_ = torch.from_numpy(np.asarray(x, dtype=np.int64))
        att = torch.ones(B, T, dtype=torch.int32)
        pos = torch.arange(T, dtype=torch.int32).expand(B, T).contiguous()
        with torch.no_grad():
            l = forward(self.weights, self.spec, ids_, att, pos, torch.float32)
        if self.fam == 'dream':
            l = torch.cat([l[:, :1], l[:, :-1]], dim=1)
        l = l.numpy().copy()
        l[:, :, self.mask] = -np.inf
        return l


def run(model, prompt, o):
    fam = model.fam
    mask = model.mask
    pad = ids(model.spec, model.spec['pad'])
    if fam == 'llada':
        x, trace, nfe, margins = llada.generate(
            model, [prompt], pad, [Rng(0, 0)], o.get('steps', 128), o['genLength'], o['blockLength'], temperature=0.0,
            mask_id=mask, eos=ids(model.spec, model.spec['eos']), eot=None, rule=o['decoder'],
            threshold=o.get('threshold', 0.9), factor=o.get('factor', 1.0))
        return x, trace, [len(trace)], margins
    return dream.diffusion_generate(model, [prompt], pad, [Rng(0, 0)], o['genLength'], o['steps'], alg=o['decoder'],
                                    temperature=0.0, mask_token_id=mask)


def candidate_prompts(seed):
    g = torch.Generator().manual_seed(seed)
    for _ in range(200):
        n = int(torch.randint(3, 9, (1,), generator=g))
        yield [int(t) for t in torch.randint(0, REGULAR, (n,), generator=g)]


def make(name, model, o):
    out, tried = [], 0
    for prompt in candidate_prompts(sum(map(ord, name))):
        tried += 1
        x, trace, row_nfe, margins = run(model, prompt, o)
        if margins.min < MIN_MARGIN:
            continue
        per_step = [len(t['committed']) for t in trace]
        if (o.get('threshold', 1) < 0.5 or o.get('factor', 1) > 1) and min(per_step) == max(per_step):
            continue  # the low bars are there to commit varying counts per step
        assert (x != model.mask).all(), f'{name}: masks left'
        for t in trace:
            t['committed'] = [[int(p), int(tok), float(c)] for p, tok, c in t['committed']]
        print(f'{name:30s} prompt {prompt}  steps {len(trace):3d}  commits/step {min(per_step)}..{max(per_step)}  '
              f'min margin {margins.min:.3g} ({margins.where})  [{tried} tried]')
        alg = ALG.get(o['decoder'], f"Dream diffusion_generate alg={o['decoder']}")
        out.append(dict(name=f'{name}#{len(out)}', family=model.fam, algorithm=alg, prompt=prompt, options=o,
                        trace=trace, canvas=[int(t) for t in x[0]], nfe=row_nfe[0], minMargin=margins.min,
                        marginWhere=margins.where))
        if len(out) == PROMPTS_PER_CASE:
            return out
    raise SystemExit(f'{name}: fewer than {PROMPTS_PER_CASE} prompts give a decision margin >= {MIN_MARGIN}')


def check_forward(model):
    """the adapter reproduces the stored reference logits of the fixture (row 0, unpadded)"""
    ref = read_safetensors_any(os.path.join(FIX, model.fam, 'reference.safetensors'))
    x = ref['input_ids'][:1].numpy()
    want = ref['logits_shifted' if model.fam == 'dream' else 'logits'][0].numpy().copy()
    want[:, model.mask] = -np.inf
    got = model(x)[0]
    fin = np.isfinite(want)
    assert np.array_equal(fin, np.isfinite(got)) and np.max(np.abs(got[fin] - want[fin])) < 1e-5, f'{model.fam}: forward differs'


def read_safetensors_any(path):
    """{name: tensor} of one safetensors file (F32 / I32 / I64, as the fixtures store)"""
    with open(path, 'rb') as f:
        data = f.read()
    n = struct.unpack('<Q', data[:8])[0]
    header = json.loads(data[8:8 + n])
    dt = {'F32': '<f4', 'I32': '<i4', 'I64': '<i8'}
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        a, b = info['data_offsets']
        out[name] = torch.from_numpy(np.frombuffer(data[8 + n + a:8 + n + b], dtype=dt[info['dtype']]).copy()).reshape(info['shape'])
    return out


def main():
    torch.set_num_threads(1)
    models = {fam: TorchDenoiser(fam) for fam in ('llada', 'dream')}
    for m in models.values():
        check_forward(m)
    cases = []
    for name, fam, o in CASES:
        cases += make(name, models[fam], o)
    doc = dict(generator='scripts/reference/samplers/make_model_traces.py',
               command='/usr/bin/python3 scripts/reference/samplers/make_model_traces.py',
               torch=torch.__version__, minMarginRequired=MIN_MARGIN, cases=cases)
    write_traces(OUT, doc)


if __name__ == '__main__':
    main()
