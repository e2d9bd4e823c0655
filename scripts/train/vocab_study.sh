#!/usr/bin/env bash
# The vocabulary size by measurement: the same llama body (configs/dllm-code-mini-ar.json: 6 layers, width
# 256, FFN 704, untied head) trained from scratch on the same corpus with a byte-level BPE tokenizer of
# each size, every run given the same compute — 6·N·tokens FLOPs, N counting the embedding and the head,
# which grow with the vocabulary — then scored on the same bytes: every held-out document whole
# (`dllm eval ppl --docs all`), in bits/byte. Writes RUNS/vocab-study.json and prints a Markdown table.
#   scripts/train/vocab_study.sh RUNS CORPUS [SIZES] [BASE_STEPS]
# RUNS     folder for the token streams, runs and exports (outside the checkout)
# CORPUS   a `dllm data corpus` folder whose tokenizer has 8192 tokens; its held-out documents are scored
# SIZES    vocabulary sizes, default "4096 8192 16384"; a size's streams are built once into RUNS/vocab-V
#          (`dllm data corpus --vocab-size V`, downloads from CORPUS's cache), 8192 reuses CORPUS
# BASE_STEPS  steps of the 8192 run (16 × 256 tokens each), default 400; the others get equal FLOPs
set -euo pipefail
RUNS=${1:?runs folder}; CORPUS=${2:?corpus folder}; SIZES=${3:-4096 8192 16384}; BASE_STEPS=${4:-400}
cd "$(dirname "$0")/../.."
mkdir -p "$RUNS"
C=256 # width of configs/dllm-code-mini-ar.json; N(V) = body + 2·V·C (embedding and untied head)
BODY=$((9014528 - 2 * 8192 * C)) # dllm-code-mini-ar has 9,014,528 parameters at V = 8192
for V in $SIZES; do
  DATA=$CORPUS
  if [ "$V" != 8192 ]; then
    DATA=$RUNS/vocab-$V
    [ -f "$DATA/train.bin" ] || node bin/dllm.js data corpus --out "$DATA" --vocab-size "$V" --cache "$CORPUS/debs" --offline --quiet
  fi
  N=$((BODY + 2 * V * C))
  STEPS=$(((BASE_STEPS * (BODY + 2 * 8192 * C) + N / 2) / N))
  OUT=$RUNS/vocab-run-$V
  if [ ! -f "$OUT/model/config.json" ]; then
    node bin/dllm.js train --config configs/dllm-code-mini-ar.json --data "$DATA" --train-file train.bin \
      --steps "$STEPS" --lr-warmup-steps 50 --eval-every 100000 --checkpoint-every 100 --procs 2 --threads 2 \
      --out "$OUT" --overwrite --quiet
    node bin/dllm.js export --checkpoint "$OUT/checkpoint" --out "$OUT/model" --dtype f32 > /dev/null
  fi
  [ -f "$OUT/ppl/summary.json" ] ||
    node bin/dllm.js eval ppl --model "$OUT/model" --data "$CORPUS" --docs all --threads 2 --out "$OUT/ppl" > /dev/null
done
node - "$RUNS" "$SIZES" <<'JS'
const fs = require('fs');
const [runs, sizes] = [process.argv[2], process.argv[3].split(' ')];
const rows = sizes.map((V) => {
  const t = JSON.parse(fs.readFileSync(`${runs}/vocab-run-${V}/model/training.json`, 'utf8'));
  const p = JSON.parse(fs.readFileSync(`${runs}/vocab-run-${V}/ppl/summary.json`, 'utf8'));
  return { vocabSize: Number(V), params: t.params, steps: t.steps, tokensSeen: t.tokensSeen, flops: t.flops, wallSeconds: t.wallSeconds, heldout: p };
});
fs.writeFileSync(`${runs}/vocab-study.json`, JSON.stringify(rows, null, 2));
console.log('| vocabulary | parameters | steps | tokens seen | PFLOP | wall s | held-out tokens | bytes/token | bits/byte |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const r of rows)
  console.log(`| ${r.vocabSize} | ${r.params} | ${r.steps} | ${r.tokensSeen} | ${(r.flops / 1e15).toFixed(3)} | ${r.wallSeconds.toFixed(0)} | ${r.heldout.tokens} | ${(r.heldout.bytes / r.heldout.tokens).toFixed(3)} | ${r.heldout.bitsPerByte.toFixed(4)} |`);
JS
