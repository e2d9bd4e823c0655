"""Parity fixture of the two training engines: test/fixtures/train-parity/{ar,mdm,sft}.safetensors, made by the
torch engine's own code (torch_train.prepare / weighted_loss, tiny_transformer.forward, torch.optim.AdamW)
and reproduced by the TypeScript trainer in `npm test` (test/train/torch-parity.test.ts), which needs no Python.

    /usr/bin/python3 scripts/train/make_parity.py [name ...]   (default: every case)

Each file holds the initial weights (checkpoint names), one prepared batch (input, targets with -1 = no loss,
per-token weights; the mdm masks are fixed in the file), and in its metadata the loss, the normaliser, every
parameter's gradient L2 norm, and the loss on the same batch after one AdamW step (f32, one thread).
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
from hf_layout import safetensors_bytes  # noqa: E402
from torch_train import Net, check_table, model_spec, prepare, prepare_sft, weighted_loss  # noqa: E402

OUT = os.path.join(HERE, "..", "..", "test", "fixtures", "train-parity")
CASES = {
    "ar": dict(objective="ar", arch="llama", seed=11),
    "mdm": dict(objective="mdm", arch="llada", seed=12),
    "sft": dict(objective="sft", arch="llada", seed=13),
    "bd": dict(objective="bd", arch="llama", seed=14, bdSize=4),  # L = 10: blocks 4, 4 and a partial 2
    "bdc": dict(objective="bd", arch="llama", seed=15, bdSize=4, bdComplement=True),  # rows 2b, 2b+1 complementary
    "mdms": dict(objective="mdm", arch="dream", seed=16),  # q/k/v biases, shifted targets (Dream)
}
DIMS = dict(hiddenSize=32, numLayers=2, numHeads=4, numKvHeads=2, ffnSize=48, normEps=1e-5, ropeTheta=10000.0)
V, B, L, MASK = 61, 3, 10, 60
OPT = dict(lr=1e-2, beta1=0.9, beta2=0.95, eps=1e-8, weightDecay=0.1)


def table(spec):
    n, C, H, Hkv, Fd = spec["names"], spec["hidden"], spec["heads"], spec["kv_heads"], DIMS["ffnSize"]
    D = C // H
    rows = [(n["embed"], [V, C], "embedding")]
    for i in range(spec["layers"]):
        p = n["layer"].format(i=i)
        rows += [(p + n["attn_norm"], [C], "norm"), (p + n["q"], [H * D, C], "linear"), (p + n["k"], [Hkv * D, C], "linear"),
                 (p + n["v"], [Hkv * D, C], "linear")]
        if spec["qkv_bias"]:  # src/model/params.ts order: wq, wk, wv, bq, bk, bv
            rows += [(p + n["bq"], [H * D], "bias"), (p + n["bk"], [Hkv * D], "bias"), (p + n["bv"], [Hkv * D], "bias")]
        rows += [(p + n["o"], [C, H * D], "linear"), (p + n["ffn_norm"], [C], "norm"),
                 (p + n["gate"], [Fd, C], "linear"), (p + n["up"], [Fd, C], "linear"), (p + n["down"], [C, Fd], "linear")]
    rows += [(n["final_norm"], [C], "norm"), (n["head"], [V, C], "linear")]
    return [dict(hfName=a, shape=s, kind=k) for a, s, k in rows]


def make(name, case):
    torch.manual_seed(case["seed"])
    c = dict(DIMS, arch=case["arch"], objective=case["objective"])
    spec = model_spec(c, V)
    tab = table(spec)
    check_table(tab, spec)
    g = torch.Generator().manual_seed(case["seed"])
    net = Net(tab, spec, torch.device("cpu"), case.get("bdSize", 0))
    weights = net.weights()
    with torch.no_grad():
        for t in tab:
            w = 1 + 0.1 * torch.randn(t["shape"], generator=g) if t["kind"] == "norm" else 0.2 * torch.randn(t["shape"], generator=g)
            weights[t["hfName"]].copy_(w)
    rng = np.random.Generator(np.random.PCG64(case["seed"]))
    clean = rng.integers(0, MASK, size=(B, L + 1 if case["objective"] == "ar" else L))
    if case["objective"] == "sft":  # prompts of 1 … L/2 tokens, never masked
        plen = rng.integers(1, L // 2 + 1, size=B)
        inp, tgt, wt, norm = prepare_sft(clean, plen, rng, MASK)
    else:
        inp, tgt, wt, norm = prepare(case["objective"], clean, rng, MASK, case.get("bdSize", 0), (0.0, 1.0),
                                     case.get("bdComplement", False), spec["shift"])
    init = {k: v.detach().clone() for k, v in weights.items()}
    loss = weighted_loss(net, inp, tgt, wt, norm, torch.device("cpu"))
    loss.backward()
    grad_norms = {k: float(v.grad.norm()) for k, v in weights.items()}
    decay = [weights[t["hfName"]] for t in tab if t["kind"] in ("linear", "embedding")]  # src/train/optim.ts
    other = [weights[t["hfName"]] for t in tab if t["kind"] not in ("linear", "embedding")]
    opt = torch.optim.AdamW([dict(params=decay, weight_decay=OPT["weightDecay"]), dict(params=other, weight_decay=0.0)],
                            lr=OPT["lr"], betas=(OPT["beta1"], OPT["beta2"]), eps=OPT["eps"])
    opt.step()
    with torch.no_grad():
        after = float(weighted_loss(net, inp, tgt, wt, norm, torch.device("cpu")))
    tensors = dict(init)
    tensors["batch.input"] = torch.from_numpy(np.ascontiguousarray(inp).astype(np.int32))
    tensors["batch.targets"] = torch.from_numpy(np.ascontiguousarray(tgt).astype(np.int32))
    tensors["batch.weights"] = torch.from_numpy(np.ascontiguousarray(wt).astype(np.float32))
    if case["objective"] == "sft":
        tensors["batch.promptLengths"] = torch.from_numpy(plen.astype(np.int32))
    dims = dict(DIMS, vocabSize=V, maskId=MASK, **({"bdSize": case["bdSize"]} if "bdSize" in case else {}))
    meta = dict(objective=case["objective"], arch=case["arch"], config=json.dumps(dims),
                loss=repr(float(loss)), normaliser=str(norm), lossAfterStep=repr(after), optimizer=json.dumps(OPT),
                gradNorms=json.dumps(grad_norms), torch=torch.__version__)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, f"{name}.safetensors"), "wb") as f:
        f.write(safetensors_bytes(tensors, meta))
    print(f"{name}: loss {float(loss):.6f} after one step {after:.6f}")


if __name__ == "__main__":
    torch.set_num_threads(1)
    for name in sys.argv[1:] or CASES:
        make(name, CASES[name])
