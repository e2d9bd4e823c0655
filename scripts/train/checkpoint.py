"""Checkpoints of the torch engine, in the TypeScript trainer's layout (src/cli/checkpoint.ts), committed the
same way (src/cli/checkpoint-commit.ts) so that no kill loses one:
  1. recover whatever an earlier kill left, so at most RUN/checkpoint is there
  2. every file into checkpoint.tmp/, each fsynced, trainer_state.json last; fsync the folder
  3. rename checkpoint -> checkpoint.old, fsync RUN; 4. rename checkpoint.tmp -> checkpoint, fsync RUN
  5. only then remove checkpoint.old
Recovery takes the first complete one of checkpoint, checkpoint.tmp, checkpoint.old, renames it to checkpoint
and only then removes the others. Loading is strict, as the TypeScript engine's: every tensor of the parameter
table present, F32 and of the table's shape, trainer_state.json checked field by field.
  config.json, generation_config.json, model.safetensors (checkpoint names), tokenizer files,
  optimizer.safetensors (m.NAME / v.NAME by our parameter names, as the TypeScript AdamW keeps them),
  trainer_state.json (step, tokens, time, config, and the engine's generator state for an exact resume)
scripts/train/checkpoint_check.py fails every file operation of a save in turn and checks each recovery.
"""
import json
import math
import os
import shutil
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
from hf_layout import safetensors_bytes  # noqa: E402

FORMAT, VERSION = "dllm-checkpoint", 1  # src/train/trainer-state.ts CHECKPOINT_FORMAT / CHECKPOINT_VERSION
NP_DTYPES = {"F32": np.float32, "F16": np.float16}
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I64": 8, "I32": 4, "I16": 2, "I8": 1,
               "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1}
MAX_HEADER_BYTES, MAX_TENSORS = 16 << 20, 1 << 17  # src/io/safetensors.ts MAX_HEADER_BYTES / MAX_TENSORS
FINAL, TMP, OLD = "checkpoint", "checkpoint.tmp", "checkpoint.old"
FILES = ("config.json", "generation_config.json", "model.safetensors", "optimizer.safetensors", "tokenizer.json",
         "tokenizer_config.json", "trainer_state.json")  # trainer_state.json last: it marks a finished write
STATE_KEYS = {"format", "version", "engine", "step", "tokens", "elapsedMs", "rng", "optimizerStep", "config", "numpyRng"}


class Ops:
    """the file operations of a commit, each durable when it returns; checkpoint_check.py fails them one by one"""

    def write(self, path, data):
        with open(path, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())

    def mkdir(self, path):
        os.makedirs(path, exist_ok=True)

    def rename(self, a, b):
        os.rename(a, b)

    def rm(self, path):
        shutil.rmtree(path, ignore_errors=True)

    def sync_dir(self, path):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


ops = Ops()


def fail(msg):
    raise SystemExit(msg)


# ---- safetensors ------------------------------------------------------------------------------------------

def safetensors_header(path, data=None):
    """(header dict, data start) with the checks of src/io/safetensors.ts: size bounds, dtypes, exact tiling;
    reads only the header from disk unless the file's bytes are given"""
    if data is None:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            first = f.read(8)
            n = struct.unpack("<Q", first)[0] if len(first) == 8 else 0
            text = f.read(n) if n <= MAX_HEADER_BYTES else b""
    else:
        size, first = len(data), data[:8]
        n = struct.unpack("<Q", first)[0] if len(first) == 8 else 0
        text = data[8:8 + n]
    if size < 8:
        fail(f"{path}: file is {size} bytes, too short for a header (truncated?)")
    if n > MAX_HEADER_BYTES:
        fail(f"{path}: header length {n} is over the {MAX_HEADER_BYTES}-byte limit (not a safetensors file, or corrupt)")
    if 8 + n > size:
        fail(f"{path}: header length {n} runs past the end of the {size}-byte file (truncated?)")
    try:
        header = json.loads(text)
    except ValueError as e:
        fail(f"{path}: header is not valid JSON ({e})")
    if not isinstance(header, dict):
        fail(f"{path}: header is not a JSON object")
    if len(header) > MAX_TENSORS + 1:
        fail(f"{path}: header lists {len(header) - 1} tensors, over the limit of {MAX_TENSORS}")
    spans = []
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or info.get("dtype") not in DTYPE_BYTES:
            fail(f"{path}: tensor {name} has an unknown dtype ({info.get('dtype') if isinstance(info, dict) else info!r})")
        shape, off = info.get("shape"), info.get("data_offsets")
        ints = lambda xs: isinstance(xs, list) and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in xs)
        if not ints(shape) or not ints(off) or len(off) != 2:
            fail(f"{path}: tensor {name} has a bad shape {shape!r} or data_offsets {off!r}")
        a, b = off
        if b - a != math.prod(shape) * DTYPE_BYTES[info["dtype"]]:
            fail(f"{path}: tensor {name} {shape} {info['dtype']} does not match its data_offsets [{a}, {b}]")
        spans.append((a, b, name))
    at = 0
    for a, b, name in sorted(spans):
        if a != at:
            fail(f"{path}: tensor {name} starts at {a}, expected {at} (overlap or hole in the data section)")
        at = b
    if 8 + n + at != size:
        fail(f"{path}: the tensors end at byte {8 + n + at}, the file has {size} bytes (truncated?)")
    return header, 8 + n


def read_safetensors(path, only_f32=False):
    """{name: float32 tensor} from a safetensors file (F32, F16 or BF16; only F32 for a training checkpoint)"""
    data = open(path, "rb").read()
    header, start = safetensors_header(path, data)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        raw = data[start + a:start + b]
        if only_f32 and info["dtype"] != "F32":  # F32 relabelled I32/U32 has the right size: only the label tells
            fail(f"{path}: tensor {name} is {info['dtype']}; training checkpoints hold F32")
        if info["dtype"] == "BF16":
            bits = np.frombuffer(raw, dtype=np.uint16).astype(np.uint32) << 16
            arr = bits.view(np.float32)
        elif info["dtype"] in NP_DTYPES:
            arr = np.frombuffer(raw, dtype=NP_DTYPES[info["dtype"]]).astype(np.float32)
        else:
            fail(f"{path}: {name} has dtype {info['dtype']}, expected F32, F16 or BF16")
        out[name] = torch.from_numpy(arr.copy()).reshape(info["shape"])
    return out


# ---- trainer_state.json -----------------------------------------------------------------------------------

def validate_state(s, where):
    """the checks of src/train/trainer-state.ts parseTrainerState; errors name the file and the field"""
    if not isinstance(s, dict):
        fail(f"{where}: must be a JSON object")
    for k in s:
        if k not in STATE_KEYS:
            fail(f'{where}: unknown key "{k}"')
    if s.get("format") != FORMAT or s.get("version") != VERSION:
        fail(f'{where}: "format"/"version" are {s.get("format")!r}/{s.get("version")!r}, not a dllm checkpoint of version {VERSION}')
    engine = s.get("engine")
    if engine not in (None, "ts", "torch"):
        fail(f'{where}: "engine" must be "ts" or "torch", got {engine!r}')
    for k in ("step", "tokens", "optimizerStep"):
        v = s.get(k)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0 or v > 2 ** 53 - 1:
            fail(f'{where}: "{k}" must be an integer >= 0, got {json.dumps(v)}')
    e = s.get("elapsedMs")
    if not isinstance(e, (int, float)) or isinstance(e, bool) or not math.isfinite(e) or e < 0:
        fail(f'{where}: "elapsedMs" must be a finite number >= 0, got {json.dumps(e)}')
    if s["optimizerStep"] > s["step"]:
        fail(f'{where}: "optimizerStep" {s["optimizerStep"]} is past "step" {s["step"]}')
    rng = s.get("rng")
    if not (engine == "torch" and rng == []):  # the torch engine keeps numpy's state instead
        if not isinstance(rng, list) or len(rng) != 4 or \
                not all(isinstance(x, int) and not isinstance(x, bool) and 0 <= x <= 0xFFFFFFFF for x in rng):
            fail(f'{where}: "rng" must be 4 uint32 words, got {json.dumps(rng)}')
        if all(x == 0 for x in rng):  # xoshiro128** would draw 0 forever
            fail(f'{where}: "rng" is all zero, a state the generator cannot continue from')
    if not isinstance(s.get("config"), dict) or not isinstance(s["config"].get("seed"), int):
        fail(f'{where}: "config" must be the run\'s TrainConfig object')
    if "numpyRng" in s:
        g = s["numpyRng"]
        st = g.get("state") if isinstance(g, dict) else None
        if not isinstance(g, dict) or g.get("bit_generator") != "PCG64" or not isinstance(st, dict) or \
                not all(isinstance(st.get(k), int) and st[k] >= 0 for k in ("state", "inc")) or st["inc"] == 0:
            fail(f'{where}: "numpyRng" must be numpy\'s PCG64 state (state.state, state.inc > 0)')
    elif engine == "torch":
        fail(f'{where}: "numpyRng" is missing (a torch-engine checkpoint keeps its data order there)')
    return s


def read_state(d):
    where = os.path.join(d, "trainer_state.json")
    try:
        s = json.load(open(where))
    except (OSError, ValueError) as e:
        fail(f"{where}: cannot read ({e})")
    return validate_state(s, where)


# ---- commit and recovery ----------------------------------------------------------------------------------

def incomplete_reason(d):
    """why folder d is not a complete checkpoint, or None (headers and sizes checked, not every value)"""
    try:
        for f in FILES:
            if not os.path.isfile(os.path.join(d, f)):
                return f"{f} is missing"
        read_state(d)
        for f in ("config.json", "generation_config.json", "tokenizer_config.json"):
            json.load(open(os.path.join(d, f)))
        for f in ("model.safetensors", "optimizer.safetensors"):
            safetensors_header(os.path.join(d, f))
        return None
    except (SystemExit, OSError, ValueError) as e:
        return str(e)


def recover(out, warn=lambda m: print(m, file=sys.stderr)):
    """settle a run folder after any kill: returns RUN/checkpoint when a complete checkpoint exists, else None"""
    present = [n for n in (FINAL, TMP, OLD) if os.path.isdir(os.path.join(out, n))]
    final = os.path.join(out, FINAL)
    if not present:
        return None
    if present == [FINAL]:
        return final
    chosen, reasons = None, []
    for name in present:
        why = incomplete_reason(os.path.join(out, name))
        if why is None:
            chosen = name
            break
        reasons.append(f"{name}: {why}")
    if chosen is None:
        warn(f"warning: {out} has no complete checkpoint ({'; '.join(reasons)})")
        return None
    if chosen != FINAL:  # checkpoint/ (if there) is incomplete: removing it loses nothing
        ops.rm(final)
        ops.rename(os.path.join(out, chosen), final)
        ops.sync_dir(out)
        warn(f"warning: {final} recovered from {chosen}, left by an interrupted save")
    for name in (TMP, OLD):
        if name != chosen:
            ops.rm(os.path.join(out, name))
    return final


def commit(out, contents):
    """contents: [(file name, bytes)], trainer_state.json last"""
    final, tmp, old = (os.path.join(out, x) for x in (FINAL, TMP, OLD))
    recover(out)
    ops.rm(tmp)  # after recovery tmp and old are gone or incomplete
    ops.mkdir(tmp)
    for name, data in contents:
        ops.write(os.path.join(tmp, name), data)
    ops.sync_dir(tmp)
    ops.rm(old)
    if os.path.isdir(final):
        ops.rename(final, old)
        ops.sync_dir(out)
    ops.rename(tmp, final)
    ops.sync_dir(out)
    ops.rm(old)


def repair_log(path, warn=lambda m: print(m, file=sys.stderr)):
    """cut a torn last line off log.jsonl before appending (src/cli/run-log.ts repairRunLog)"""
    if not os.path.exists(path):
        return 0
    data = open(path, "rb").read()
    if not data:
        return 0
    end = len(data) - 1 if data.endswith(b"\n") else len(data)
    start = data.rfind(b"\n", 0, end) + 1
    last = data[start:end]
    if data.endswith(b"\n"):
        try:
            if not last.strip() or isinstance(json.loads(last), dict):
                return 0
        except ValueError:
            pass
    with open(path, "r+b") as f:
        f.truncate(start)
    warn(f"warning: {path}: cut a torn last line ({len(data) - start} bytes), left by an interrupted run")
    return len(data) - start


# ---- the engine's calls -----------------------------------------------------------------------------------

@torch.no_grad()
def init_weights(weights, table, c, device):
    """normal(0, initStd) for matrices, ones for norm gains (seeded; src/train/loop.ts initWeights)"""
    g = torch.Generator().manual_seed(c["seed"] ^ 0x5EED)
    for t in table:
        w = weights[t["hfName"]]
        if t["kind"] == "norm":
            w.fill_(1.0)
        elif t["kind"] == "bias":  # Qwen2/Llama init: biases start at zero
            w.zero_()
        else:
            w.copy_((torch.randn(t["shape"], generator=g) * c["initStd"]).to(device))


@torch.no_grad()
def init_from(folder, weights, table):
    """start from a model folder's weights (shapes must match; names may be either layout's, matched by the table's
    order; a bias the folder lacks starts at zero)"""
    files = sorted(f for f in os.listdir(folder) if f.endswith(".safetensors"))
    src = {}
    for f in files:
        src.update(read_safetensors(os.path.join(folder, f)))
    for t in table:
        name = t["hfName"]
        if name not in src:
            alt = t.get("altNames", [])
            name = next((a for a in alt if a in src), None)
            if name is None and t["kind"] == "bias":  # a llama (AR) folder into a dream run: zero is the same function
                weights[t["hfName"]].zero_()
                continue
            if name is None:
                raise SystemExit(f"--init-from {folder}: weight {t['hfName']} is missing")
        if list(src[name].shape) != list(t["shape"]):
            raise SystemExit(f"--init-from {folder}: {name} has shape {list(src[name].shape)}, the config needs {t['shape']}")
        weights[t["hfName"]].copy_(src[name])


def save(out, job, weights, table, opt, state, rng):
    model = {t["hfName"]: weights[t["hfName"]].detach().float().cpu().contiguous() for t in table}
    moments, step = {}, 0
    for t in table:
        s = opt.state.get(weights[t["hfName"]], {})
        z = torch.zeros(t["shape"])
        moments["m." + t["name"]] = s.get("exp_avg", z).detach().float().cpu().contiguous()
        moments["v." + t["name"]] = s.get("exp_avg_sq", z).detach().float().cpu().contiguous()
        step = int(s["step"]) if "step" in s else step
    trainer = dict(format=FORMAT, version=VERSION, engine="torch", step=state["step"], tokens=state["tokens"],
                   elapsedMs=state["elapsedMs"], rng=[], optimizerStep=step, config=job["config"],
                   numpyRng=rng.bit_generator.state)
    contents = [("config.json", json.dumps(job["hfConfig"], indent=2).encode()),
                ("generation_config.json", json.dumps(job["generationConfig"], indent=2).encode()),
                ("model.safetensors", safetensors_bytes(model, {"format": "pt"})),
                ("optimizer.safetensors", safetensors_bytes(moments))]
    contents += [(name, open(path, "rb").read()) for name, path in job["tokenizerFiles"].items()]
    contents.append(("trainer_state.json", json.dumps(trainer, indent=2).encode()))
    commit(out, contents)


def _require(path, tensors, wanted):
    """every wanted name present with its shape, and nothing else"""
    for name in tensors:
        if name not in wanted:
            fail(f"{path}: unexpected tensor {name}")
    for name, shape in wanted.items():
        if name not in tensors:
            fail(f"{path}: tensor {name} is missing")
        if list(tensors[name].shape) != list(shape):
            fail(f"{path}: tensor {name} has shape {list(tensors[name].shape)}, the parameter table has {list(shape)}")


@torch.no_grad()
def load(out, weights, by_name, opt, state, rng, device):
    d = recover(out)
    if d is None:
        fail(f"{out}: no checkpoint to resume (no complete {os.path.join(out, FINAL)})")
    s = read_state(d)
    model_path, opt_path = os.path.join(d, "model.safetensors"), os.path.join(d, "optimizer.safetensors")
    model = read_safetensors(model_path, only_f32=True)
    _require(model_path, model, {t["hfName"]: t["shape"] for t in by_name.values()})
    moments = read_safetensors(opt_path, only_f32=True)
    _require(opt_path, moments, {f"{k}.{n}": t["shape"] for n, t in by_name.items() for k in ("m", "v")})
    for name, t in model.items():
        weights[name].copy_(t.to(device))
    for name, t in by_name.items():
        p = weights[t["hfName"]]
        opt.state[p] = dict(step=torch.tensor(float(s["optimizerStep"])), exp_avg=moments["m." + name].to(device),
                            exp_avg_sq=moments["v." + name].to(device))
    state.update(step=s["step"], tokens=s["tokens"], elapsedMs=s["elapsedMs"])
    if "numpyRng" in s:
        rng.bit_generator.state = s["numpyRng"]
    else:  # a TypeScript checkpoint: same weights and moments, a fresh data order from the seed and step
        rng.bit_generator.state = np.random.Generator(np.random.PCG64(s["config"]["seed"] + s["step"])).bit_generator.state
