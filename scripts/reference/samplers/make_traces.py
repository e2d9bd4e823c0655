"""Reference decoding traces for test/sampler/parity.test.ts.

Regenerate (plain Python 3 + numpy, no torch, a few seconds):

    python3 scripts/reference/samplers/make_traces.py

Each case runs one published algorithm (llada.py: LLaDA generate.py, Fast-dLLM threshold / factor; dream.py:
Dream diffusion_generate) on the deterministic fake denoiser of common.py and records every step: the
positions committed, their tokens and confidences. For each case the fake's salt is the first one whose
smallest decision margin (argmax gaps, top-k cuts, threshold and factor bars, inverse-CDF boundaries) is at
least MIN_MARGIN, so float rounding in either language cannot flip a decision; the margin is stored and the
test asserts it. Output: test/fixtures/sampler/traces.json.
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import FakeDenoiser, Rng, write_traces  # noqa: E402
import llada  # noqa: E402
import dream  # noqa: E402

MIN_MARGIN = 1e-6
V, MASK, EOS, EOT, PAD = 32, 31, 30, 29, 28
OUT = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'test', 'fixtures', 'sampler', 'traces.json')

P1 = [[3, 7, 1, 4, 9]]
P3 = [[3, 7, 1, 4, 9], [12], [5, 5, 2]]

# name, source, requests, TypeScript options, fake's eos_from
LLADA_CASES = [
    ('llada-fixed-greedy', P1, dict(decoder='fixed', genLength=16, blockLength=8, steps=8), -1),
    ('llada-fixed-one-block', P1, dict(decoder='fixed', genLength=12, blockLength=12, steps=6), -1),
    ('llada-fixed-gumbel', P1, dict(decoder='fixed', genLength=16, blockLength=8, steps=16, temperature=0.7, seed=3), -1),
    ('llada-fixed-random-remasking', P1, dict(decoder='fixed', genLength=16, blockLength=8, steps=8, remasking='random', seed=5), -1),
    ('llada-fixed-cfg', P1, dict(decoder='fixed', genLength=16, blockLength=8, steps=8, cfgScale=1.0), -1),
    ('llada-fixed-logits-eos-inf', P1, dict(decoder='fixed', genLength=16, blockLength=8, steps=8, logitsEosInf=True), 9),
    ('llada-fixed-confidence-eos-eot-inf', P1, dict(decoder='fixed', genLength=16, blockLength=8, steps=8, confidenceEosEotInf=True), 9),
    ('llada-fixed-batch-greedy', P3, dict(decoder='fixed', genLength=16, blockLength=8, steps=8), -1),
    ('llada-fixed-batch-gumbel', P3, dict(decoder='fixed', genLength=8, blockLength=4, steps=8, temperature=0.5, seed=11), -1),
    ('fastdllm-threshold-0.9', P1, dict(decoder='threshold', genLength=32, blockLength=8, threshold=0.9), -1),
    ('fastdllm-threshold-0.7-gumbel', P1, dict(decoder='threshold', genLength=16, blockLength=8, threshold=0.7, temperature=0.6, seed=2), -1),
    ('fastdllm-factor-1', P1, dict(decoder='factor', genLength=32, blockLength=8, factor=1.0), -1),
    ('fastdllm-factor-2', P1, dict(decoder='factor', genLength=32, blockLength=16, factor=2.0), -1),
]
DREAM_CASES = [
    ('dream-origin-greedy', P1, dict(decoder='origin', genLength=16, steps=16, seed=1), -1),
    ('dream-origin-sampled', P1, dict(decoder='origin', genLength=16, steps=8, temperature=0.8, topP=0.9, seed=4), -1),
    ('dream-maskgit-plus', P1, dict(decoder='maskgit_plus', genLength=16, steps=16), -1),
    ('dream-maskgit-plus-few-steps', P1, dict(decoder='maskgit_plus', genLength=16, steps=5), -1),
    ('dream-topk-margin', P1, dict(decoder='topk_margin', genLength=16, steps=8), -1),
    ('dream-entropy-readme', P1, dict(decoder='entropy', genLength=16, steps=16, temperature=0.2, topP=0.95, seed=7), -1),
    ('dream-entropy-topk', P1, dict(decoder='entropy', genLength=16, steps=8, temperature=1.0, topK=5, seed=8), -1),
    ('dream-maskgit-alg-temp', P1, dict(decoder='maskgit_plus', genLength=16, steps=8, algTemp=0.5, seed=9), -1),
    ('dream-maskgit-batch', P3[:2], dict(decoder='maskgit_plus', genLength=12, steps=6), -1),
]

ALG = {'fixed': 'LLaDA generate.py generate', 'threshold': 'Fast-dLLM generate + get_transfer_index (threshold)',
       'factor': 'Fast-dLLM generate + get_transfer_index_dynamic (factor)'}


def run_llada(fake, prompts, o):
    rngs = [Rng(o.get('seed', 0), b) for b in range(len(prompts))]
    G = o['genLength']
    steps = o.get('steps', 128)
    x, trace, nfe, margins = llada.generate(
        fake, prompts, PAD, rngs, steps, G, o['blockLength'], temperature=o.get('temperature', 0.0),
        cfg_scale=o.get('cfgScale', 0.0), remasking=o.get('remasking', 'low_confidence'), mask_id=MASK, eos=EOS, eot=EOT,
        logits_eos_inf=o.get('logitsEosInf', False), confidence_eos_eot_inf=o.get('confidenceEosEotInf', False),
        rule=o['decoder'], threshold=o.get('threshold', 0.9), factor=o.get('factor', 1.0))
    row_nfe = [sum(1 for t in trace if t['row'] == b) for b in range(len(prompts))]
    return x, trace, row_nfe, margins


def run_dream(fake, prompts, o):
    rngs = [Rng(o.get('seed', 0), b) for b in range(len(prompts))]
    x, trace, row_nfe, margins = dream.diffusion_generate(
        fake, prompts, PAD, rngs, o['genLength'], o['steps'], eps=o.get('eps', 1e-3), alg=o['decoder'],
        alg_temp=o.get('algTemp') or None, temperature=o.get('temperature', 0.0), top_p=o.get('topP'),
        top_k=o.get('topK'), mask_token_id=MASK)
    return x, trace, row_nfe, margins


def clean(v):
    return None if isinstance(v, float) and not math.isfinite(v) else v


def make(name, prompts, o, eos_from, runner, algorithm):
    for salt in range(1, 500):
        fake = FakeDenoiser(V, MASK, EOS, EOT, PAD, salt, eos_from)
        x, trace, row_nfe, margins = runner(fake, prompts, o)
        if margins.min >= MIN_MARGIN:
            break
    else:
        raise SystemExit(f'{name}: no salt gives a decision margin >= {MIN_MARGIN}')
    assert (x != MASK).all(), f'{name}: masks left'
    for t in trace:
        t['committed'] = [[int(p), int(tok), clean(float(c))] for p, tok, c in t['committed']]
    print(f'{name:40s} salt {salt:3d}  steps {len(trace):3d}  min margin {margins.min:.3g} ({margins.where})')
    return dict(name=name, algorithm=algorithm, fake=fake.spec(), requests=[dict(prompt=p) for p in prompts], options=o,
                trace=trace, canvas=[[int(t) for t in row] for row in x], nfe=row_nfe, minMargin=margins.min)


def main():
    cases = [make(n, p, o, e, run_llada, ALG[o['decoder']]) for n, p, o, e in LLADA_CASES]
    cases += [make(n, p, o, e, run_dream, f"Dream diffusion_generate alg={o['decoder']}") for n, p, o, e in DREAM_CASES]
    doc = dict(generator='scripts/reference/samplers/make_traces.py', command='python3 scripts/reference/samplers/make_traces.py',
               minMarginRequired=MIN_MARGIN, cases=cases)
    write_traces(OUT, doc)


if __name__ == '__main__':
    main()
