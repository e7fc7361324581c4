#!/usr/bin/env bash
# scripts/compare/compare_precision.sh — the demo's runs with fp32 and bf16 GEMMs, side by side: the
# validation perplexity of each placement in each precision and the relative difference.
# Environment: CONFIG (deep24), STEPS (300), BATCH (8), SEQ (256), LR (1e-3), SEED (0),
# EVAL_TOKENS (65536), PLACEMENTS ("preln postln mixln"), PRECISIONS ("fp32 bf16"), BIN
# (build-demo/bin, the demo's; built here when unset), OUT (runs/precision). The summation order of the fp32
# runs depends on OMP_NUM_THREADS and OPENBLAS_CORETYPE; the line "environment:" says what was
# set (docs/performance.md compares several).
set -euo pipefail
cd "$(dirname "$0")/../.."
CONFIG=${CONFIG:-deep24} STEPS=${STEPS:-300} BATCH=${BATCH:-8} SEQ=${SEQ:-256} LR=${LR:-1e-3} SEED=${SEED:-0}
EVAL_TOKENS=${EVAL_TOKENS:-65536} PLACEMENTS=${PLACEMENTS:-"preln postln mixln"} PRECISIONS=${PRECISIONS:-"fp32 bf16"}
OUT=${OUT:-runs/precision}
if [[ -z ${BIN:-} ]]; then
  scripts/setup.sh demo >/dev/null
  scripts/fetch_brown.sh data/brown
  cmake --preset demo >/dev/null
  targets=(mixln-prepare)
  for p in $PLACEMENTS; do targets+=("${CONFIG}_$p"); done
  cmake --build build-demo -j "$(nproc)" --target "${targets[@]}" >/dev/null
  BIN=build-demo/bin
  [[ -f data/brown-4096/val.bin ]] || "$BIN/mixln-prepare" --text data/brown/*.txt --vocab 4096 --out data/brown-4096 --seed 0
fi
echo "environment: OMP_NUM_THREADS=${OMP_NUM_THREADS:-<unset>} OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>}"
echo "$CONFIG, $STEPS steps of $BATCH x $SEQ tokens, lr $LR, seed $SEED, $EVAL_TOKENS validation tokens"
printf '\n| placement |'; for q in $PRECISIONS; do printf ' %s |' "$q"; done; printf ' difference |\n|---|'
for q in $PRECISIONS; do printf -- '---|'; done; printf -- '---|\n'
for p in $PLACEMENTS; do
  ppl=()
  for q in $PRECISIONS; do
    out="$OUT/$CONFIG-$p-$q-s$SEED"
    rm -rf "$out"
    "$BIN/${CONFIG}_$p" train --data data/brown-4096 --out "$out" --steps "$STEPS" --batch "$BATCH" --seq "$SEQ" \
      --lr "$LR" --seed "$SEED" --eval-every 0 --eval-tokens "$EVAL_TOKENS" --precision "$q" --quiet 2>/dev/null
    ppl+=("$(grep '"val_ppl"' "$out/log.jsonl" | tail -n 1 | sed -E 's/.*"val_ppl": ?([0-9.eE+-]+).*/\1/')")
  done
  printf '| %s |' "$p"
  for v in "${ppl[@]}"; do printf ' %.2f |' "$v"; done
  if ((${#ppl[@]} == 2)); then
    awk -v a="${ppl[0]}" -v b="${ppl[1]}" 'BEGIN { printf " %+.1f%% |\n", 100 * (b - a) / a }'
  else
    printf ' |\n'
  fi
done
