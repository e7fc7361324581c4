#!/usr/bin/env bash
# scripts/demo.sh — the main job. On a fresh Debian machine: installs what is missing, fetches
# the Brown corpus, builds, trains the `small` model (vocab 4096, hidden 256, 8 layers) with
# Pre-LN, Post-LN and Mix-LN on the same tokens with the same seed, and prints their validation
# perplexity; writes runs/demo/results.md and runs/demo/loss.png.
#
# Environment overrides: STEPS (250), BATCH (8), SEQ (256), LR (1e-3), SEED (0),
# EVAL_EVERY (50), EVAL_TOKENS (65536), PLACEMENTS ("preln postln mixln").
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-250} BATCH=${BATCH:-8} SEQ=${SEQ:-256} LR=${LR:-1e-3} SEED=${SEED:-0}
EVAL_EVERY=${EVAL_EVERY:-50} EVAL_TOKENS=${EVAL_TOKENS:-65536}
PLACEMENTS=${PLACEMENTS:-"preln postln mixln"}
out=runs/demo

scripts/setup.sh demo
scripts/fetch_brown.sh data/brown
# every trainer, tuned for this CPU (scripts/test.sh configures the same folder for its tests)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMIXLN_EXAMPLES=all -DMIXLN_NATIVE=ON >/dev/null
targets=(mixln-prepare)
for p in $PLACEMENTS; do targets+=("small_$p"); done
cmake --build build -j "$(nproc)" --target "${targets[@]}"
build/bin/mixln-prepare --text data/brown/*.txt --vocab 4096 --out data/brown-4096 --seed "$SEED"

mkdir -p "$out"
rows=()
for p in $PLACEMENTS; do
  rm -rf "${out:?}/$p"
  echo "== small_$p: $STEPS steps of $BATCH x $SEQ tokens"
  start=$(date +%s)
  build/bin/small_"$p" train --data data/brown-4096 --out "$out/$p" --steps "$STEPS" --batch "$BATCH" \
    --seq "$SEQ" --lr "$LR" --seed "$SEED" --eval-every "$EVAL_EVERY" --eval-tokens "$EVAL_TOKENS"
  secs=$(( $(date +%s) - start ))
  # step,loss for the plot; the last evaluation for the table
  grep '"loss"' "$out/$p/log.jsonl" | sed -E 's/.*"step":([0-9]+).*"loss":([-0-9.eE+]+).*/\1 \2/' > "$out/$p/loss.dat"
  grep '"val_ppl"' "$out/$p/log.jsonl" | sed -E 's/.*"step":([0-9]+).*"val_loss":([-0-9.eE+]+).*"val_ppl":([-0-9.eE+]+).*"tokens":([0-9]+).*/\1 \2 \3 \4/' > "$out/$p/val.dat"
  read -r _ vloss vppl vtok < <(tail -n 1 "$out/$p/val.dat")
  rows+=("$(printf '| %-7s | %8.2f | %7.4f | %9d | %9d | %5.1f |' "$p" "$vppl" "$vloss" $((STEPS * BATCH * SEQ)) "$vtok" "$(awk "BEGIN { print $secs / 60 }")")")
done

{
  echo "Validation perplexity on the Brown corpus (small: vocab 4096, hidden 256, 8 layers), $STEPS steps of $BATCH x $SEQ tokens, lr $LR, seed $SEED."
  echo
  echo "| model   | val ppl  | val loss | train tok | eval tok  | min   |"
  echo "|---------|----------|----------|-----------|-----------|-------|"
  printf '%s\n' "${rows[@]}"
} > "$out/results.md"

plots=()
colors=("#1f77b4" "#d62728" "#2ca02c" "#9467bd" "#ff7f0e" "#8c564b")
i=0
for p in $PLACEMENTS; do
  plots+=("'$out/$p/loss.dat' using 1:2 with lines lw 1.5 lc rgb '${colors[$((i % 6))]}' title '$p'")
  i=$((i + 1))
done
gnuplot <<GP
set terminal pngcairo size 900,560
set output '$out/loss.png'
set title 'small model on the Brown corpus: training loss'
set xlabel 'step'
set ylabel 'loss'
set grid
plot $(IFS=,; echo "${plots[*]}")
GP

echo
cat "$out/results.md"
echo
echo "loss curves: $out/loss.png; logs: $out/<placement>/log.jsonl"
