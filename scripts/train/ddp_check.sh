#!/usr/bin/env bash
# The torch engine data-parallel: the same config on 1 process and on 2 CPU processes (torchrun, gloo), the
# same global batch. The ranks read different shards of the stream, so the two runs see different windows:
# their losses agree statistically, not bit for bit. Prints the mean loss of the last half of each run and
# fails when they differ by more than TOL (relative).
#   scripts/train/ddp_check.sh DATA_DIR [STEPS]
set -euo pipefail
DATA=${1:?data folder}; STEPS=${2:-40}; TOL=${TOL:-0.05}
PY=${DLLM_TORCH_PYTHON:-/usr/bin/python3}
cd "$(dirname "$0")/../.."
TMP=$(mktemp -d)
FLAGS="--engine torch --objective ar --arch llama --data $DATA --steps $STEPS --hidden-size 64 --num-layers 2 --ffn-size 128 --seq-len 64 --batch-size 8 --eval-every 100000 --checkpoint-every 100000 --threads 2 --lr-warmup-steps 5 --quiet"
node bin/dllm.js train $FLAGS --out "$TMP/one" > /dev/null
# the job file the CLI wrote, pointed at a new run folder, started on 2 ranks
node -e "const j=require('$TMP/one/torch-job.json'); j.config.out='$TMP/two'; require('fs').mkdirSync('$TMP/two'); require('fs').writeFileSync('$TMP/two/torch-job.json', JSON.stringify(j))"
# torchrun would set these; Debian bookworm's torchrun (torch 1.13 under Python 3.11) fails in its own
# argument handling (elastic's Std.from_str returns None), so the two ranks are started with the same
# env:// variables torchrun sets. The training code is the same either way.
export MASTER_ADDR=127.0.0.1 MASTER_PORT=$((29500 + RANDOM % 1000)) WORLD_SIZE=2
RANK=1 LOCAL_RANK=1 "$PY" scripts/train/torch_train.py "$TMP/two/torch-job.json" > /dev/null &
RANK=0 LOCAL_RANK=0 "$PY" scripts/train/torch_train.py "$TMP/two/torch-job.json" > /dev/null
wait
"$PY" - "$TMP" "$STEPS" "$TOL" <<'PY'
import json, sys
tmp, steps, tol = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
def tail(run):
    ls = [json.loads(l) for l in open(f"{tmp}/{run}/log.jsonl")]
    ls = [e["loss"] for e in ls if e["event"] == "step"]
    return sum(ls[steps // 2:]) / len(ls[steps // 2:])
a, b = tail("one"), tail("two")
print(f"1 process: {a:.4f}  2 processes (gloo): {b:.4f}  relative difference {abs(a - b) / a:.4f} (tolerance {tol})")
sys.exit(0 if abs(a - b) / a <= tol else 1)
PY
rm -rf "$TMP"
