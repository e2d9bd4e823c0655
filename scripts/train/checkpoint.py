"""Checkpoints of the torch engine, in the TypeScript trainer's layout (src/cli/checkpoint.ts), written the
same way: everything into checkpoint.tmp/, the old checkpoint renamed aside, the new one renamed into place.
  config.json, generation_config.json, model.safetensors (checkpoint names), tokenizer files,
  optimizer.safetensors (m.NAME / v.NAME by our parameter names, as the TypeScript AdamW keeps them),
  trainer_state.json (step, tokens, time, config, and the engine's generator state for an exact resume)
"""
import json
import os
import shutil
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from hf_layout import safetensors_bytes  # noqa: E402

FORMAT, VERSION = "dllm-checkpoint", 1  # src/cli/checkpoint.ts CHECKPOINT_FORMAT / CHECKPOINT_VERSION
NP_DTYPES = {"F32": np.float32, "F16": np.float16}


def read_safetensors(path):
    """{name: float32 tensor} from a safetensors file (F32, F16 or BF16)"""
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = data[8 + n + a:8 + n + b]
        if info["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            arr = bits.view(np.float32)
        elif info["dtype"] in NP_DTYPES:
            arr = np.frombuffer(raw, dtype=NP_DTYPES[info["dtype"]]).astype(np.float32)
        else:
            raise SystemExit(f"{path}: {name} has dtype {info['dtype']}, expected F32, F16 or BF16")
        out[name] = torch.from_numpy(arr.copy()).reshape(info["shape"])
    return out


@torch.no_grad()
def init_weights(weights, table, c, device):
    """normal(0, initStd) for matrices, ones for norm gains (seeded; src/train/loop.ts initWeights)"""
    g = torch.Generator().manual_seed(c["seed"] ^ 0x5EED)
    for t in table:
        w = weights[t["hfName"]]
        if t["kind"] == "norm":
            w.fill_(1.0)
        else:
            w.copy_((torch.randn(t["shape"], generator=g) * c["initStd"]).to(device))


@torch.no_grad()
def init_from(folder, weights, table):
    """start from a model folder's weights (shapes must match; names may be either layout's, matched by the table's order)"""
    files = sorted(f for f in os.listdir(folder) if f.endswith(".safetensors"))
    src = {}
    for f in files:
        src.update(read_safetensors(os.path.join(folder, f)))
    for t in table:
        name = t["hfName"]
        if name not in src:
            alt = t.get("altNames", [])
            name = next((a for a in alt if a in src), None)
            if name is None:
                raise SystemExit(f"--init-from {folder}: weight {t['hfName']} is missing")
        if list(src[name].shape) != list(t["shape"]):
            raise SystemExit(f"--init-from {folder}: {name} has shape {list(src[name].shape)}, the config needs {t['shape']}")
        weights[t["hfName"]].copy_(src[name])


def save(out, job, weights, table, opt, state, rng):
    final, tmp, old = (os.path.join(out, x) for x in ("checkpoint", "checkpoint.tmp", "checkpoint.old"))
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    with open(os.path.join(tmp, "config.json"), "w") as f:
        json.dump(job["hfConfig"], f, indent=2)
    with open(os.path.join(tmp, "generation_config.json"), "w") as f:
        json.dump(job["generationConfig"], f, indent=2)
    model = {t["hfName"]: weights[t["hfName"]].detach().float().cpu().contiguous() for t in table}
    with open(os.path.join(tmp, "model.safetensors"), "wb") as f:
        f.write(safetensors_bytes(model, {"format": "pt"}))
    moments, step = {}, 0
    for t in table:
        s = opt.state.get(weights[t["hfName"]], {})
        z = torch.zeros(t["shape"])
        moments["m." + t["name"]] = s.get("exp_avg", z).detach().float().cpu().contiguous()
        moments["v." + t["name"]] = s.get("exp_avg_sq", z).detach().float().cpu().contiguous()
        step = int(s["step"]) if "step" in s else step
    with open(os.path.join(tmp, "optimizer.safetensors"), "wb") as f:
        f.write(safetensors_bytes(moments))
    for name, path in job["tokenizerFiles"].items():
        shutil.copyfile(path, os.path.join(tmp, name))
    trainer = dict(format=FORMAT, version=VERSION, engine="torch", step=state["step"], tokens=state["tokens"],
                   elapsedMs=state["elapsedMs"], rng=[], optimizerStep=step, config=job["config"],
                   numpyRng=rng.bit_generator.state)
    with open(os.path.join(tmp, "trainer_state.json"), "w") as f:
        json.dump(trainer, f, indent=2)
    shutil.rmtree(old, ignore_errors=True)
    if os.path.exists(final):
        os.rename(final, old)
    os.rename(tmp, final)
    shutil.rmtree(old, ignore_errors=True)


@torch.no_grad()
def load(out, weights, by_name, opt, state, rng, device):
    d = os.path.join(out, "checkpoint")
    s = json.load(open(os.path.join(d, "trainer_state.json")))
    if s.get("format") != FORMAT or s.get("version") != VERSION:
        raise SystemExit(f"{d}: not a dllm checkpoint of version {VERSION}")
    for name, t in read_safetensors(os.path.join(d, "model.safetensors")).items():
        if name not in weights:
            raise SystemExit(f"{d}/model.safetensors: unexpected tensor {name}")
        weights[name].copy_(t.to(device))
    moments = read_safetensors(os.path.join(d, "optimizer.safetensors"))
    for name, t in by_name.items():
        p = weights[t["hfName"]]
        opt.state[p] = dict(step=torch.tensor(float(s["optimizerStep"])), exp_avg=moments["m." + name].to(device),
                            exp_avg_sq=moments["v." + name].to(device))
    state.update(step=s["step"], tokens=s["tokens"], elapsedMs=s["elapsedMs"])
    if "numpyRng" in s:
        rng.bit_generator.state = s["numpyRng"]
    else:  # a TypeScript checkpoint: same weights and moments, a fresh data order from the seed and step
        rng.bit_generator.state = np.random.Generator(np.random.PCG64(s["config"]["seed"] + s["step"])).bit_generator.state
