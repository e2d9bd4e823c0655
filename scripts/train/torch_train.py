"""The torch engine of `dllm train --engine torch`: the same config, objectives, data, schedule, optimizer
and checkpoint layout as the TypeScript trainer (src/train/), on PyTorch's fast CPU path (bf16 autocast
through oneDNN) or a CUDA GPU. The model is scripts/reference/tiny_transformer.forward, the PyTorch twin
that makes the test fixtures: one definition, not a copy.

Run by the CLI, not by hand: `dllm train --engine torch ...` resolves the config (defaults < file < flags,
unknown keys rejected), writes RUN/torch-job.json (config, the parameter table of src/model/params.ts,
config.json for the checkpoint, special ids) and starts `python3 scripts/train/torch_train.py RUN/torch-job.json`.
Under `torchrun --nproc_per_node N python3 scripts/train/torch_train.py RUN/torch-job.json` each rank trains
on its own shard of the stream with torch's DistributedDataParallel (gloo on CPUs, NCCL on GPUs); batchSize
stays the global batch (batchSize / N rows per rank).

Events go to stdout as JSON lines (the CLI draws the progress bar) and to RUN/log.jsonl.
"""
import json
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "reference"))
from tiny_transformer import LLADA_NAMES, QWEN_LLAMA_NAMES, block_diffusion_allowed, forward  # noqa: E402
import checkpoint as ckpt  # noqa: E402

MDM_EPS = 1e-3  # src/train/objectives.ts: p = (1 - eps) t + eps (LLaDA GUIDELINES.md)
RANDOM_LENGTH_PROB = 0.01  # src/train/loop.ts: 1 % of mdm batches use a random length (LLaDA GUIDELINES.md)
EVAL_SEED = 0xE1B0  # src/train/loop.ts: validation masks use their own fixed seed
# dream: the Qwen2 layout (q/k/v biases), bidirectional, logits shifted as Dream's (src/train/loop.ts modelConfigFor)
ARCH = {"llama": dict(names=QWEN_LLAMA_NAMES, causal=True, bias=False, shift=False),
        "llada": dict(names=LLADA_NAMES, causal=False, bias=False, shift=False),
        "dream": dict(names=QWEN_LLAMA_NAMES, causal=False, bias=True, shift=True)}


def learning_rate(c, step):
    """src/train/lr.ts: linear warmup from 0, then cosine to lrMin (nanoGPT get_lr)"""
    if step < c["lrWarmupSteps"]:
        return c["lrMax"] * (step + 1) / c["lrWarmupSteps"]
    if step >= c["steps"]:
        return c["lrMin"]
    ratio = (step - c["lrWarmupSteps"]) / max(1, c["steps"] - c["lrWarmupSteps"])
    return c["lrMin"] + 0.5 * (1 + math.cos(math.pi * ratio)) * (c["lrMax"] - c["lrMin"])


def model_spec(c, vocab):
    a = ARCH[c["arch"]]
    return dict(names=a["names"], hidden=c["hiddenSize"], heads=c["numHeads"], kv_heads=c["numKvHeads"],
                layers=c["numLayers"], eps=c["normEps"], qkv_bias=a["bias"], causal=a["causal"], shift=a["shift"],
                rope_theta=c["ropeTheta"], vocab=vocab)


def check_table(table, spec):
    """the TypeScript parameter table and the names tiny_transformer.forward reads must be the same set"""
    n = spec["names"]
    used = {n["embed"], n["final_norm"], n["head"]}
    for i in range(spec["layers"]):
        p = n["layer"].format(i=i)
        used |= {p + n[k] for k in ("attn_norm", "q", "k", "v", "o", "ffn_norm", "gate", "up", "down")}
        if spec["qkv_bias"]:
            used |= {p + n[k] for k in ("bq", "bk", "bv")}
    have = {t["hfName"] for t in table}
    if have != used:
        raise SystemExit(f"torch engine: parameter table and model disagree: {sorted(have ^ used)[:6]}")


class Batches:
    """seeded window sampling (one numpy PCG64 generator for offsets, mask levels and masks; its state is saved)"""

    def __init__(self, path, dtype, seed, rank=0, world=1, row=1):
        ids = np.memmap(path, dtype=np.uint16 if dtype == "uint16" else np.uint32, mode="r")
        n = len(ids) // row  # sft: whole rows of `row` values (src/train/sft-data.ts), else single ids
        lo, hi = (rank * n // world) * row, ((rank + 1) * n // world) * row  # each rank reads its own shard
        self.ids = ids[lo:hi]
        self.rng = np.random.Generator(np.random.PCG64(seed + 7919 * rank))

    def windows(self, B, L):
        n = len(self.ids)
        if n < L + 1:
            raise SystemExit(f"data: the stream has {n} tokens, a window needs {L + 1}")
        off = self.rng.integers(0, n - L + 1, size=B)
        return np.stack([np.asarray(self.ids[o:o + L], dtype=np.int64) for o in off])  # (B, L)


    def sft_rows(self, B, L):
        """B whole SFT rows [promptLength, ids…] -> clean (B, L), prompt lengths (B)"""
        return sft_split(self.ids, self.rng.integers(0, len(self.ids) // (1 + L), size=B), L)


def sft_split(ids, index, L):
    rows = np.stack([np.asarray(ids[i * (1 + L):(i + 1) * (1 + L)], dtype=np.int64) for i in index])  # (B, 1 + L)
    return rows[:, 1:], rows[:, 0]


def levels(u, mask_range):
    """t ~ U[lo, hi] from uniforms u, then p = (1 - eps) t + eps (src/train/objectives.ts level)"""
    lo, hi = mask_range
    return (1 - MDM_EPS) * (lo + (hi - lo) * u) + MDM_EPS


def prepare_sft(clean, prompt_lengths, rng, mask_id, mask_range=(0.0, 1.0)):
    """LLaDA SFT (src/train/objectives.ts prepareMdm with promptLengths): the prompt is never masked; each row's
    loss is normalised by its answer length (EOS padding included), the batch's by B"""
    B, L = clean.shape
    p = levels(rng.random(B), mask_range)  # (B,)
    answer = np.arange(L)[None, :] >= prompt_lengths[:, None]  # (B, L)
    masked = (rng.random((B, L)) < p[:, None]) & answer
    inp = np.where(masked, mask_id, clean)
    targets = np.where(masked, clean, -1)
    seq_norm = np.maximum(1, L - prompt_lengths)[:, None]  # (B, 1)
    weights = np.where(masked, 1.0 / p[:, None] / seq_norm, 0.0).astype(np.float32)
    return inp, targets, weights, B


def bd_target_rows(L, block):
    """(L-1,) the row of [x_t ⊕ x_0] whose logits predict token i = 1..L-1 (shifted, as the AR weights were
    trained): inside a block, noisy row i-1; a block's first token, clean row L+i-1 (the finished block)"""
    i = np.arange(1, L)
    return np.where(i % block == 0, L + i - 1, i - 1)


def prepare_bd(clean, rng, mask_id, block, mask_range=(0.0, 1.0), complement=False):
    """block diffusion (src/train/objectives.ts prepareBd): (B, L) -> [x_t ⊕ x_0] (B, 2L), one mask level per
    block of `block` tokens, loss on the masked tokens of x_t (token 0 has no predictor and stays clean) weighted
    1/p at the rows of bd_target_rows, normalised by B·L. `complement`: window b also as row 2b+1, masked where
    row 2b is not, at level 1 - p: (2B, 2L), normalised by 2B·L"""
    B, L = clean.shape
    K = -(-L // block)
    p = levels(rng.random((B, K)), mask_range)  # (B, K)
    pt = np.repeat(p, block, axis=1)[:, :L]  # (B, L) each token's block level
    masked = rng.random((B, L)) < pt
    masked[:, 0] = False
    if complement:  # (2B, L): rows 2b, 2b+1
        other = ~masked
        other[:, 0] = False
        masked = np.stack([masked, other], axis=1).reshape(2 * B, L)
        pt = np.stack([pt, 1.0 - pt], axis=1).reshape(2 * B, L)
        clean = np.repeat(clean, 2, axis=0)
        B = 2 * B
    inp = np.concatenate([np.where(masked, mask_id, clean), clean], axis=1)  # (B, 2L)
    rows = bd_target_rows(L, block)
    targets = np.full((B, 2 * L), -1, dtype=np.int64)
    weights = np.zeros((B, 2 * L), dtype=np.float32)
    targets[:, rows] = np.where(masked[:, 1:], clean[:, 1:], -1)
    with np.errstate(divide="ignore"):  # 1 - p = 0 masks nothing
        weights[:, rows] = np.where(masked[:, 1:], 1.0 / pt[:, 1:], 0.0)
    return inp, targets, weights, B * L


def shift_targets(clean, inp, targets, weights):
    """Dream's shifted logits (src/train/objectives.ts shiftTargets): token 0 unmasked, targets and weights one
    row earlier, so the logits at row i - 1 score the masked token i"""
    inp = inp.copy()
    inp[:, 0] = clean[:, 0]
    t = np.full_like(targets, -1)
    w = np.zeros_like(weights)
    t[:, :-1], w[:, :-1] = targets[:, 1:], weights[:, 1:]
    return inp, t, w


def prepare(objective, clean, rng, mask_id, block=0, mask_range=(0.0, 1.0), complement=False, shift=False):
    """(B, L) clean windows -> input, targets (-1: no loss), weights, normaliser (src/train/objectives.ts);
    `shift`: the mdm targets moved as shift_targets does (arch dream)"""
    B, L = clean.shape
    if objective == "bd":
        return prepare_bd(clean, rng, mask_id, block, mask_range, complement)
    if objective == "ar":
        return clean[:, :-1], clean[:, 1:], np.ones((B, L - 1), np.float32), B * (L - 1)
    p = levels(rng.random(B), mask_range)  # (B,)
    masked = rng.random((B, L)) < p[:, None]  # (B, L)
    inp = np.where(masked, mask_id, clean)
    targets = np.where(masked, clean, -1)
    weights = np.where(masked, 1.0 / p[:, None], 0.0).astype(np.float32)
    if shift:
        inp, targets, weights = shift_targets(clean, inp, targets, weights)
    return inp, targets, weights, B * L


class Net(torch.nn.Module):
    """the parameter table as a module (so DistributedDataParallel can wrap it); forward is tiny_transformer's"""

    def __init__(self, table, spec, device, bd_size=0):
        super().__init__()
        self.spec, self.names, self.bd_size = spec, [t["hfName"] for t in table], bd_size
        self.bd_masks = {}
        self.params = torch.nn.ParameterList(
            [torch.nn.Parameter(torch.zeros(t["shape"], dtype=torch.float32, device=device)) for t in table])

    def weights(self):
        """{checkpoint name: parameter}"""
        return dict(zip(self.names, self.params))

    def forward(self, inp):
        """inp (B, T) int64 -> logits (B, T, V); positions 0..T-1, no padding. Block diffusion: inp is
        [x_t ⊕ x_0] (B, 2n), both halves at positions 0..n-1, under BD3-LM's mask"""
        B, T = inp.shape
        mask = torch.ones(B, T, dtype=torch.int64, device=inp.device)
        if not self.bd_size:
            pos = torch.arange(T, device=inp.device)[None].expand(B, T)
            return forward(self.weights(), self.spec, inp, mask, pos)
        n = T // 2
        if n not in self.bd_masks:
            self.bd_masks[n] = block_diffusion_allowed(n, self.bd_size, inp.device)
        pos = torch.arange(n, device=inp.device).repeat(2)[None].expand(B, T)
        return forward(self.weights(), self.spec, inp, mask, pos, allowed_override=self.bd_masks[n])


def weighted_loss(model, inp, targets, w, norm, device):
    """Σ_i w_i · CE_i / normaliser, the TypeScript crossEntropy kernels' loss"""
    inp = torch.from_numpy(np.ascontiguousarray(inp)).to(device)
    B, T = inp.shape
    logits = model(inp)  # (B, T, V)
    tgt = torch.from_numpy(np.ascontiguousarray(targets)).to(device)
    ce = F.cross_entropy(logits.float().reshape(B * T, -1), tgt.reshape(-1).clamp(min=0), reduction="none")  # (B·T)
    wt = torch.from_numpy(np.ascontiguousarray(w)).to(device).reshape(-1)
    return (ce * wt).sum() / norm


def main():
    job = json.load(open(sys.argv[1]))
    c, out = job["config"], job["config"]["out"]
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    device = torch.device(job.get("device", "cpu"))
    if world > 1:
        torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cpu":
        torch.set_num_threads(max(1, (c["threads"] or os.cpu_count()) // world))
    autocast = job.get("autocast", "bf16") == "bf16"
    spec = model_spec(c, job["vocabSize"])
    table = job["paramTable"]
    check_table(table, spec)
    bd = c["bdSize"] if c["objective"] == "bd" else 0
    mask_range = (c.get("maskMin", 0.0), c.get("maskMax", 1.0))  # training only: validation keeps [0, 1]
    net = Net(table, spec, device, bd)
    weights = net.weights()
    by_name = {t["name"]: t for t in table}
    state = dict(step=0, tokens=0, elapsedMs=0.0)
    sft = c["objective"] == "sft"
    batches = Batches(os.path.join(c["data"], c["trainFile"]), job["dtype"], c["seed"], rank, world, 1 + c["seqLen"] if sft else 1)
    decay = [weights[t["hfName"]] for t in table if t["kind"] in ("linear", "embedding")]
    other = [weights[t["hfName"]] for t in table if t["kind"] not in ("linear", "embedding")]
    opt = torch.optim.AdamW([dict(params=decay, weight_decay=c["weightDecay"]), dict(params=other, weight_decay=0.0)],
                            lr=c["lrMax"], betas=(c["beta1"], c["beta2"]), eps=c["eps"])
    if job.get("resume"):
        ckpt.load(out, weights, by_name, opt, state, batches.rng, device)
        if rank == 0:  # a kill mid-append leaves a torn last line: cut it, so the next event has a line of its own
            ckpt.repair_log(os.path.join(out, "log.jsonl"))
    else:
        ckpt.init_weights(weights, table, c, device)
        if c["initFrom"]:
            ckpt.init_from(c["initFrom"], weights, table)
        if rank == 0:
            open(os.path.join(out, "log.jsonl"), "w").close()
    model_params = list(net.params)
    # DDP broadcasts rank 0's weights at wrap time and averages gradients over the ranks in backward
    model = torch.nn.parallel.DistributedDataParallel(net) if world > 1 else net
    if c.get("compile"):
        if not hasattr(torch, "compile"):
            raise SystemExit(f"compile: torch.compile needs PyTorch >= 2.0, this is {torch.__version__}; set \"compile\": false")
        model = torch.compile(model)  # evaluation keeps the eager net: its shapes differ from the training batch's
    val = np.memmap(os.path.join(c["data"], "sft-val.bin" if sft else "val.bin"), dtype=np.uint16 if job["dtype"] == "uint16" else np.uint32, mode="r")
    log = open(os.path.join(out, "log.jsonl"), "a") if rank == 0 else None

    def emit(ev):
        if rank != 0:
            return
        line = json.dumps(ev)
        log.write(line + "\n")
        log.flush()
        print(line, flush=True)

    emit(dict(event="resume" if job.get("resume") else "start", step=state["step"], config=c, engine="torch",
              device=str(device), threads=torch.get_num_threads(), world=world, autocast=autocast, torch=torch.__version__))
    stop = {"now": False}
    import signal
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGINT, lambda *_: stop.update(now=True))
    rows = c["batchSize"] // world
    if rows * world != c["batchSize"]:
        raise SystemExit(f"batchSize {c['batchSize']} is not a multiple of the {world} ranks")
    ctx = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if autocast else (lambda: torch.autocast(device.type, enabled=False))
    while state["step"] < c["steps"]:
        t0 = time.perf_counter()
        for p in model_params:
            p.grad = None
        loss_sum, tokens = 0.0, 0
        for _ in range(c["gradAccum"]):
            L = c["seqLen"]
            if sft:
                clean, plen = batches.sft_rows(rows, L)
                inp, tgt, w, norm = prepare_sft(clean, plen, batches.rng, job["maskId"], mask_range)
            else:
                if c["objective"] == "mdm" and batches.rng.random() < RANDOM_LENGTH_PROB:
                    L = 1 + int(batches.rng.integers(0, c["seqLen"]))
                clean = batches.windows(rows, L + 1 if c["objective"] == "ar" else L)
                inp, tgt, w, norm = prepare(c["objective"], clean, batches.rng, job["maskId"], bd, mask_range,
                                             c.get("bdComplement", False), spec["shift"])
            with ctx():
                loss = weighted_loss(model, inp, tgt, w, norm, device) / c["gradAccum"]
            loss.backward()
            loss_sum += loss.item()
            tokens += clean.shape[0] * L  # data tokens read (bd's rows hold each twice, 4x with bdComplement)
        if world > 1:  # the logged loss: the mean over ranks (the gradients already are)
            t = torch.tensor([loss_sum], device=device)
            torch.distributed.all_reduce(t)
            loss_sum = t.item() / world
            tokens *= world
        lr = learning_rate(c, state["step"])
        for g in opt.param_groups:
            g["lr"] = lr
        grad_norm = torch.nn.utils.clip_grad_norm_(model_params, c["gradClip"] if c["gradClip"] > 0 else float("inf")).item()
        if not math.isfinite(grad_norm):
            raise SystemExit(f"optimizer: gradient norm is {grad_norm}; stopping before the weights are spoiled")
        opt.step()
        state["step"] += 1
        state["tokens"] += tokens
        state["elapsedMs"] += (time.perf_counter() - t0) * 1000
        emit(dict(event="step", step=state["step"], loss=loss_sum, lr=lr, gradNorm=grad_norm, tokens=state["tokens"],
                  elapsedMs=state["elapsedMs"], tokensPerSecond=state["tokens"] / state["elapsedMs"] * 1000))
        last = state["step"] == c["steps"]
        if rank == 0 and (state["step"] % c["evalEvery"] == 0 or last):
            v = evaluate(c, net, val, job["maskId"], device, ctx)
            emit(dict(event="eval", step=state["step"], valLoss=v[0], valTokens=v[1], pplBound=math.exp(v[0])))
        if rank == 0 and (state["step"] % c["checkpointEvery"] == 0 or last or stop["now"]):
            ckpt.save(out, job, weights, table, opt, state, batches.rng)
        if stop["now"]:
            break
    emit(dict(event="done" if not stop["now"] else "stopped", step=state["step"], tokens=state["tokens"], elapsedMs=state["elapsedMs"]))
    if world > 1:
        torch.distributed.destroy_process_group()


@torch.no_grad()
def evaluate(c, net, val, mask_id, device, ctx):
    """fixed consecutive windows of the held-out stream (src/train/loop.ts evaluate): mean loss per token"""
    rng = np.random.Generator(np.random.PCG64(EVAL_SEED))
    B, L = c["batchSize"], c["seqLen"] + (1 if c["objective"] == "ar" else 0)
    total, count = 0.0, 0
    for i in range(c["evalBatches"]):
        if c["objective"] == "sft":  # rows i·B … i·B + B − 1: the answer's bound per answer token, averaged over rows
            if (i + 1) * B * (1 + c["seqLen"]) > len(val):
                break
            clean, plen = sft_split(val, range(i * B, (i + 1) * B), c["seqLen"])
            inp, tgt, w, norm = prepare_sft(clean, plen, rng, mask_id)
            with ctx():
                total += weighted_loss(net, inp, tgt, w, norm, device).item() * norm
            count += B
            continue
        start = i * B * L
        if start + B * L > len(val):
            break
        clean = np.asarray(val[start:start + B * L], dtype=np.int64).reshape(B, L)
        inp, tgt, w, norm = prepare(c["objective"], clean, rng, mask_id, net.bd_size, shift=net.spec["shift"])
        with ctx():
            total += weighted_loss(net, inp, tgt, w, norm, device).item() * norm
        count += norm
    if count == 0:
        raise SystemExit(f"validation: the held-out stream is shorter than one batch of {B}x{L}")
    return total / count, count


if __name__ == "__main__":
    main()
