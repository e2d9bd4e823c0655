"""Checks of the torch engine's checkpoints (scripts/train/checkpoint.py), run by test/train/checkpoint-torch.test.ts
when /usr/bin/python3 has torch (and skipped there otherwise):
  --selftest            a kill at every file operation of a save, and at every operation of the recovery after
                        it, resumes at the previous or the new checkpoint; damaged checkpoints are refused with
                        the file and field named; a torn log line is cut
  --load DIR JOB        load a checkpoint (e.g. one the TypeScript engine wrote) into the job's parameter table
  --save DIR JOB        write a torch-engine checkpoint of the job's table (for the TypeScript engine to load)
Prints one JSON object: {"selftest": {...}, "load": {step, tokens, sums}, "save": {step, tokens, sums}}.
"""
import json
import os
import shutil
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import checkpoint as ckpt  # noqa: E402


class Killed(Exception):
    pass


class KillingOps(ckpt.Ops):
    """dies at operation number kill_at, leaving what a real kill there leaves (half a file, part of a tree)"""

    def __init__(self, kill_at):
        self.kill_at, self.n = kill_at, 0

    def _step(self, partial=lambda: None):
        self.n += 1
        if self.n - 1 == self.kill_at:
            partial()
            raise Killed()

    def write(self, path, data):
        self._step(lambda: open(path, "wb").write(data[:len(data) // 2]))
        super().write(path, data)

    def mkdir(self, path):
        self._step()
        super().mkdir(path)

    def rename(self, a, b):
        self._step()
        super().rename(a, b)

    def rm(self, path):
        def part():
            if os.path.isdir(path) and os.listdir(path):
                os.remove(os.path.join(path, sorted(os.listdir(path))[0]))
        self._step(part)
        super().rm(path)

    def sync_dir(self, path):
        self._step()
        super().sync_dir(path)


def build(table, seed=0):
    """weights (by checkpoint name), AdamW with one step taken, the engine's state dict and generator"""
    torch.manual_seed(seed)
    weights = {t["hfName"]: torch.nn.Parameter(torch.randn(t["shape"]) * 0.1) for t in table}
    opt = torch.optim.AdamW(list(weights.values()), lr=1e-2)
    return weights, opt, dict(step=0, tokens=0, elapsedMs=0.0), np.random.Generator(np.random.PCG64(seed))


def advance(weights, opt, state, rng, steps):
    for _ in range(steps):
        for w in weights.values():
            w.grad = torch.randn(w.shape)
        opt.step()
        rng.random()
        state.update(step=state["step"] + 1, tokens=state["tokens"] + 32, elapsedMs=state["elapsedMs"] + 1.5)


def snapshot(weights, opt, state, rng):
    moments = [(k, opt.state[w][k].clone()) for w in weights.values() for k in ("exp_avg", "exp_avg_sq")]
    return dict(state=dict(state), rng=json.dumps(rng.bit_generator.state), w={n: w.detach().clone() for n, w in weights.items()}, m=moments)


def resumed(out, table, expect, what):
    weights, opt, state, rng = build(table, seed=99)
    try:
        ckpt.load(out, weights, {t["name"]: t for t in table}, opt, state, rng, "cpu")
    except SystemExit as e:
        if None in expect and "no checkpoint to resume" in str(e):
            return None
        raise AssertionError(f"{what}: resume failed: {e}")
    got = snapshot(weights, opt, state, rng)
    for s in (x for x in expect if x is not None):
        if s["state"]["step"] != state["step"]:
            continue
        same = s["state"] == got["state"] and s["rng"] == got["rng"] and all(torch.equal(s["w"][n], got["w"][n]) for n in s["w"]) \
            and all(torch.equal(a[1], b[1]) for a, b in zip(s["m"], got["m"]))
        if not same:
            raise AssertionError(f"{what}: resumed at step {state['step']} with different values")
        return state["step"]
    raise AssertionError(f"{what}: resumed at step {state['step']}, expected one of {[x and x['state']['step'] for x in expect]}")


def tiny_job(root):
    table = [dict(name="tokEmbed", hfName="model.embed_tokens.weight", shape=[8, 4], kind="embedding"),
             dict(name="layers.0.wq", hfName="model.layers.0.self_attn.q_proj.weight", shape=[4, 4], kind="linear"),
             dict(name="finalNorm", hfName="model.norm.weight", shape=[4], kind="norm")]
    tok = {}
    for name in ("tokenizer.json", "tokenizer_config.json"):
        tok[name] = os.path.join(root, name)
        open(tok[name], "w").write("{}")
    return table, dict(hfConfig={"model_type": "llama"}, generationConfig={}, tokenizerFiles=tok, config={"seed": 1, "steps": 10})


def selftest():
    root = tempfile.mkdtemp(prefix="dllm-ckpt-check-")
    quiet = ckpt.recover.__defaults__
    ckpt.recover.__defaults__ = (lambda m: None,)  # recovery warnings are expected here by the hundred
    try:
        table, job = tiny_job(root)
        out = {}
        for first in (False, True):
            weights, opt, state, rng = build(table)
            advance(weights, opt, state, rng, 2)
            prev = snapshot(weights, opt, state, rng)
            base = os.path.join(root, f"base-{first}")
            os.makedirs(base)
            if not first:
                ckpt.save(base, job, weights, table, opt, state, rng)
            advance(weights, opt, state, rng, 3)
            nxt = snapshot(weights, opt, state, rng)
            expect = [None, nxt] if first else [prev, nxt]
            landed, k, recoveries = set(), 0, 0
            while True:
                run = os.path.join(root, f"k{k}")
                shutil.copytree(base, run)
                ckpt.ops = KillingOps(k)
                try:
                    ckpt.save(run, job, weights, table, opt, state, rng)
                    killed = False
                except Killed:
                    killed = True
                ops = ckpt.ops.n
                ckpt.ops = ckpt.Ops()
                if not killed:
                    assert resumed(run, table, [nxt], "no kill") == nxt["state"]["step"]
                    break
                for j in range(1000):
                    again = run + f"-j{j}"
                    shutil.copytree(run, again)
                    ckpt.ops = KillingOps(j)
                    try:
                        ckpt.recover(again)
                        done = True
                    except Killed:
                        done = False
                    ckpt.ops = ckpt.Ops()
                    landed.add(resumed(again, table, expect, f"kill at save op {k}, recovery op {j}"))
                    shutil.rmtree(again)
                    recoveries += 1
                    if done:
                        break
                landed.add(resumed(run, table, expect, f"kill at save op {k}"))
                shutil.rmtree(run)
                k += 1
            want = {None, nxt["state"]["step"]} if first else {prev["state"]["step"], nxt["state"]["step"]}
            assert landed == want, f"resumed at {landed}, expected {want}"
            assert ops >= 14, f"a save is {ops} operations"
            out["first" if first else "again"] = dict(saveOps=ops, recoveries=recoveries, landed=sorted(x or 0 for x in landed))
        out["refused"] = refusals(root, table, job)
        out["log"] = log_repair(root)
        return out
    finally:
        ckpt.recover.__defaults__ = quiet
        shutil.rmtree(root, ignore_errors=True)


def refusals(root, table, job):
    """each damage the issue found, refused with the file and the field named"""
    weights, opt, state, rng = build(table)
    advance(weights, opt, state, rng, 2)
    good = os.path.join(root, "good")
    ckpt.save(good, job, weights, table, opt, state, rng)

    def relabel(f, name, to):
        def damage(d):
            p = os.path.join(d, f)
            data = bytearray(open(p, "rb").read())
            i = data.index(json.dumps(name).encode())
            j = data.index(b'"F32"', i)
            data[j:j + 5] = json.dumps(to).encode()
            open(p, "wb").write(bytes(data))
        return damage

    def drop(f, name):
        def damage(d):
            p = os.path.join(d, f)
            ts = ckpt.read_safetensors(p)
            del ts[name]
            open(p, "wb").write(ckpt.safetensors_bytes(ts))
        return damage

    def state_edit(**kw):
        def damage(d):
            p = os.path.join(d, "trainer_state.json")
            s = json.load(open(p))
            s.update(kw)
            json.dump(s, open(p, "w"))
        return damage

    cases = [("model.safetensors", relabel("model.safetensors", "model.norm.weight", "I32"), "is I32; training checkpoints hold F32"),
             ("model.safetensors", relabel("model.safetensors", "model.embed_tokens.weight", "U32"), "is U32; training checkpoints hold F32"),
             ("optimizer.safetensors", relabel("optimizer.safetensors", "v.finalNorm", "I32"), "is I32"),
             ("model.safetensors", drop("model.safetensors", "model.layers.0.self_attn.q_proj.weight"), "tensor model.layers.0.self_attn.q_proj.weight is missing"),
             ("optimizer.safetensors", drop("optimizer.safetensors", "m.tokEmbed"), "tensor m.tokEmbed is missing"),
             ("trainer_state.json", state_edit(step=-5), '"step" must be an integer >= 0, got -5'),
             ("trainer_state.json", state_edit(optimizerStep=None), '"optimizerStep" must be an integer >= 0, got null'),
             ("trainer_state.json", state_edit(tokens="many"), '"tokens" must be an integer >= 0, got "many"'),
             ("trainer_state.json", state_edit(engine="ts", rng=[0, 0, 0, 0]), '"rng" is all zero'),
             ("trainer_state.json", state_edit(numpyRng=None), '"numpyRng" must be numpy'),
             ("trainer_state.json", state_edit(stepp=1), 'unknown key "stepp"')]
    for i, (f, damage, msg) in enumerate(cases):
        run = os.path.join(root, f"bad{i}")
        shutil.copytree(good, run)
        damage(os.path.join(run, "checkpoint"))
        try:
            resumed(run, table, [], f"damage {i}")
            raise AssertionError(f"damage {i} ({msg}) was not refused")
        except AssertionError as e:
            text = str(e)
            path = os.path.join(run, "checkpoint", f)
            if msg not in text or path not in text:
                raise AssertionError(f"damage {i}: expected {msg!r} naming {path}, got {text}")
    return len(cases)


def log_repair(root):
    p = os.path.join(root, "log.jsonl")
    open(p, "w").write('{"event": "start"}\n{"event": "step", "st')
    cut = ckpt.repair_log(p, warn=lambda m: None)
    assert open(p).read() == '{"event": "start"}\n' and cut == len('{"event": "step", "st'), open(p).read()
    assert ckpt.repair_log(p, warn=lambda m: None) == 0, "a whole log is left alone"
    return cut


def sums(weights, opt):
    """float64 sums of every tensor, by the names the TypeScript engine uses"""
    out = {}
    for name, w in weights.items():
        out[name] = float(w.detach().double().sum())
        s = opt.state.get(w, {})
        for k, key in (("m", "exp_avg"), ("v", "exp_avg_sq")):
            if key in s:
                out[f"{k}:{name}"] = float(s[key].double().sum())
    return out


def load_job(path):
    job = json.load(open(path))
    table = job["paramTable"]
    return job, table


def main(argv):
    result = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--selftest":
            result["selftest"] = selftest()
            i += 1
        elif a in ("--load", "--save"):
            d, job_path = argv[i + 1], argv[i + 2]
            job, table = load_job(job_path)
            weights, opt, state, rng = build(table, seed=5)
            if a == "--load":
                ckpt.load(d, weights, {t["name"]: t for t in table}, opt, state, rng, "cpu")
            else:
                advance(weights, opt, state, rng, 3)
                ckpt.save(d, job, weights, table, opt, state, rng)
            result[a[2:]] = dict(step=state["step"], tokens=state["tokens"], sums=sums(weights, opt))
            i += 3
        else:
            raise SystemExit(f"unknown argument {a}")
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
