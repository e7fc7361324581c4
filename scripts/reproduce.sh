#!/usr/bin/env bash
# scripts/reproduce.sh — the Mix-LN paper's experiments at this machine's scale, and
# docs/reproduction.md from their results.
#
# Trains the `small` model (vocab 4096, hidden 256, 8 layers) on the Brown corpus with Pre-LN,
# Post-LN, DeepNorm, Mix-LN (α = 1/4), Sandwich-LN and LNS, plus Mix-LN with α = 1/8, 3/8 and
# 1/2 (α = 0 and 1 are Pre-LN and Post-LN) — same data, tokens and seed for all — then:
#   - validation perplexity of each (the paper's Tables 1, 7 and 8);
#   - per-layer gradient norms at the first and last step (Fig. 6a);
#   - angular distance between layers for Pre-LN, Post-LN and Mix-LN (Fig. 3a/b and 5);
#   - the perplexity cost of removing each layer (Fig. 3d/e and 6b, with perplexity instead
#     of downstream accuracy).
# Runs already complete are kept (a killed script resumes its runs); delete runs/reproduce to
# start over. Environment: STEPS (600), BATCH (8), SEQ (256), LR (1e-3), SEED (0),
# EVAL_TOKENS (65536), ANALYSIS_TOKENS (32768).
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${STEPS:-600} BATCH=${BATCH:-8} SEQ=${SEQ:-256} LR=${LR:-1e-3} SEED=${SEED:-0}
EVAL_TOKENS=${EVAL_TOKENS:-65536} ANALYSIS_TOKENS=${ANALYSIS_TOKENS:-32768}
out=runs/reproduce
img=docs/img
models=(preln postln deepnorm mixln sandwich lns mixln_a1_8 mixln_a3_8 mixln_a1_2)
declare -A alpha=([preln]=0 [mixln_a1_8]=0.125 [mixln]=0.25 [mixln_a3_8]=0.375 [mixln_a1_2]=0.5 [postln]=1)

scripts/setup.sh demo
scripts/fetch_brown.sh data/brown
# every trainer, tuned for this CPU (scripts/test.sh configures the same folder for its tests)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMIXLN_EXAMPLES=all -DMIXLN_NATIVE=ON >/dev/null
targets=(mixln-prepare)
for m in "${models[@]}"; do targets+=("small_$m"); done
cmake --build build -j "$(nproc)" --target "${targets[@]}"
[[ -f data/brown-4096/val.bin ]] ||
  build/bin/mixln-prepare --text data/brown/*.txt --vocab 4096 --out data/brown-4096 --seed "$SEED"
mkdir -p "$out" "$img"

last_step() { [[ -f $1/latest ]] && sed -E 's/ckpt-0*([0-9]+)/\1/' "$1/latest" || echo 0; }
for m in "${models[@]}"; do
  run=$out/$m
  flags=(--data data/brown-4096 --out "$run" --steps "$STEPS" --batch "$BATCH" --seq "$SEQ" --lr "$LR"
         --seed "$SEED" --eval-every $((STEPS / 4)) --eval-tokens "$EVAL_TOKENS" --ckpt-every $((STEPS / 4))
         --grad-norms-at "1,$((STEPS / 2)),$STEPS")
  done_steps=$(last_step "$run")
  if [[ $done_steps -ge $STEPS ]]; then
    echo "== small_$m: done"
    continue
  fi
  echo "== small_$m: $STEPS steps of $BATCH x $SEQ tokens"
  if [[ $done_steps -gt 0 ]]; then
    build/bin/small_"$m" train "${flags[@]}" --resume
  else
    rm -rf "$run"
    build/bin/small_"$m" train "${flags[@]}"
  fi
done

for m in preln postln mixln; do
  [[ -f $out/$m/angular.csv ]] || build/bin/small_"$m" angular --ckpt "$out/$m" --data data/brown-4096 \
    --eval-tokens "$ANALYSIS_TOKENS" --out "$out/$m/angular.csv"
  [[ -f $out/$m/layer_drop.csv ]] || build/bin/small_"$m" layer-drop --ckpt "$out/$m" --data data/brown-4096 \
    --eval-tokens "$ANALYSIS_TOKENS" --out "$out/$m/layer_drop.csv"
done

# --- numbers -----------------------------------------------------------------------------------
# the last validation perplexity of a run, 2 decimals
val_ppl() { grep '"val_ppl"' "$out/$1/log.jsonl" | tail -n 1 | sed -E 's/.*"val_ppl":([0-9.eE+-]+).*/\1/' |
            awk '{ printf "%.2f", $1 }'; }
declare -A ppl
for m in "${models[@]}"; do ppl[$m]=$(val_ppl "$m"); done
# grad norms at one step as "layer norm" lines
norms_at() { awk -F, -v s="$2" 'NR > 1 && $1 == s { print $2, $3 }' "$out/$1/grad_norms.csv"; }
# coefficient of variation of the per-layer gradient norms at a step
cv_at() { norms_at "$1" "$2" | awk '{ x[NR] = $2; s += $2 } END { m = s / NR; for (i in x) v += (x[i] - m) ^ 2; printf "%.3f", sqrt(v / NR) / m }'; }
# mean angular distance to the next layer (n = 1) over the last half of the layers
ang_late() { awk -F, 'NR > 1 && $2 == 1 && $1 >= 4 { s += $3; n++ } END { printf "%.4f", s / n }' "$out/$1/angular.csv"; }
ang_early() { awk -F, 'NR > 1 && $2 == 1 && $1 < 4 { s += $3; n++ } END { printf "%.4f", s / n }' "$out/$1/angular.csv"; }
# mean perplexity increase from removing one of the last / first half of the layers
drop_late() { awk -F, 'NR > 1 && $1 >= 4 { s += $3; n++ } END { printf "%.2f", s / n }' "$out/$1/layer_drop.csv"; }
drop_early() { awk -F, 'NR > 1 && $1 < 4 { s += $3; n++ } END { printf "%.2f", s / n }' "$out/$1/layer_drop.csv"; }
# the gradient norm of one layer at one step; "a vs b" for two layers at one step
norm_of() { norms_at "$1" "$2" | awk -v l="$3" '$1 == l { print $2 }'; }
norm_pair() { printf '%.3g vs %.3g' "$(norm_of "$1" "$2" "$3")" "$(norm_of "$1" "$2" "$4")"; }
lt() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a < b) }'; }
verdict() { if "$@"; then echo "held"; else echo "did not hold"; fi; }

# --- figures -----------------------------------------------------------------------------------
colors=("#1f77b4" "#d62728" "#ff7f0e" "#2ca02c" "#9467bd" "#8c564b")
for s in 1 "$STEPS"; do
  plots=()
  i=0
  for m in preln postln deepnorm mixln sandwich lns; do
    norms_at "$m" "$s" > "$out/$m/grad_norms_$s.dat"
    plots+=("'$out/$m/grad_norms_$s.dat' using 1:2 with linespoints lw 1.5 pt 7 ps 0.6 lc rgb '${colors[$i]}' title '$m'")
    i=$((i + 1))
  done
  name=$([[ $s == 1 ]] && echo init || echo final)
  gnuplot <<GP
set terminal pngcairo size 760,460
set output '$img/reproduce_grad_norms_$name.png'
set title 'per-layer gradient norm at step $s (small model, Brown)'
set xlabel 'layer'
set ylabel 'L2 norm of the layer''s gradient'
set logscale y
set grid
set key outside right
plot $(IFS=,; echo "${plots[*]}")
GP
done
for m in preln postln mixln; do
  awk -F, 'NR > 1 { print $1, $2, $3 }' "$out/$m/angular.csv" > "$out/$m/angular.dat"
  gnuplot <<GP
set terminal pngcairo size 460,400
set output '$img/reproduce_angular_$m.png'
set title 'angular distance, $m'
set xlabel 'initial layer l'
set ylabel 'block size n'
set xrange [-0.5:7.5]
set yrange [0.5:8.5]
set cbrange [0:0.6]
set palette defined (0 '#fde725', 0.5 '#21918c', 1 '#440154')
plot '$out/$m/angular.dat' using 1:2:3 with image notitle
GP
done
paste -d' ' <(awk -F, 'NR > 1 { print $1, $3 }' "$out/preln/layer_drop.csv") \
  <(awk -F, 'NR > 1 { print $3 }' "$out/postln/layer_drop.csv") \
  <(awk -F, 'NR > 1 { print $3 }' "$out/mixln/layer_drop.csv") > "$out/layer_drop.dat"
gnuplot <<GP
set terminal pngcairo size 760,420
set output '$img/reproduce_layer_drop.png'
set title 'validation perplexity increase when one layer is removed (log scale)'
set xlabel 'removed layer'
set ylabel 'perplexity increase'
set logscale y
set yrange [0.1:*]
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set grid ytics
plot '$out/layer_drop.dat' using 2:xtic(1) lc rgb '#1f77b4' title 'preln', \
     '' using 3 lc rgb '#d62728' title 'postln', '' using 4 lc rgb '#2ca02c' title 'mixln'
GP

# --- the report --------------------------------------------------------------------------------
best_alpha=$(for m in preln mixln_a1_8 mixln mixln_a3_8 mixln_a1_2 postln; do echo "${alpha[$m]} ${ppl[$m]}"; done |
             sort -k2 -g | head -n 1 | cut -d' ' -f1)
{
  cat <<EOF
# Reproducing the Mix-LN paper at the scale of this machine

Generated by \`scripts/reproduce.sh\` ($(date -u +%Y-%m-%d); STEPS=$STEPS, BATCH=$BATCH, SEQ=$SEQ,
LR=$LR, SEED=$SEED): the \`small\` LLaMA (vocab 4096, hidden 256, intermediate 688, 4 heads,
8 layers, 8.4M parameters) trained on the Brown corpus (1.71M training tokens, SentencePiece
4096) for $STEPS steps of $BATCH × $SEQ tokens ($((STEPS * BATCH * SEQ)) tokens, $(awk "BEGIN { printf \"%.2f\", $STEPS * $BATCH * $SEQ / 1710000 }") epochs), Adam
(0.9, 0.999), lr $LR with 10% warm-up and cosine decay to 10%, no clipping, identical data
order and initial weights for every placement. Validation: $EVAL_TOKENS tokens of the 25
held-out documents. The paper trains 71M–7B parameter models on 1–5 billion C4 tokens; this is
four orders of magnitude less compute, so read the comparison as a test of the mechanisms, not
of the final numbers.

## Perplexity of the placements (paper: Tables 1 and 8)

| placement | small, Brown (this run) | paper LLaMA-71M | paper LLaMA-250M |
|---|---|---|---|
| Pre-LN | ${ppl[preln]} | 34.77 | 21.92 (Table 8: 23.39) |
| Post-LN | ${ppl[postln]} | 35.18 | 1409.09 (diverged) |
| DeepNorm | ${ppl[deepnorm]} | 34.87 | 22.77 |
| Mix-LN (α = 1/4) | ${ppl[mixln]} | 33.12 | 21.39 (Table 8: 22.33) |
| Sandwich-LN | ${ppl[sandwich]} | — | 23.26 (Table 8) |
| LNS (LayerNorm Scaling) | ${ppl[lns]} | — | — |

## The Post-LN ratio α (paper: Table 7, LLaMA-1B)

| α | 0 (Pre-LN) | 1/8 | 1/4 | 3/8 | 1/2 | 1 (Post-LN) |
|---|---|---|---|---|---|---|
| Post-LN layers of 8 | 0 | 1 | 2 | 3 | 4 | 8 |
| this run | ${ppl[preln]} | ${ppl[mixln_a1_8]} | ${ppl[mixln]} | ${ppl[mixln_a3_8]} | ${ppl[mixln_a1_2]} | ${ppl[postln]} |
| paper (α 0, 16.7%, 25%, 33%, 41.7%/50%, 100%) | 18.65 | 18.34 | 18.18 | 18.41 | 18.55 / 18.86 | 1434 |

## Gradient norm per layer (paper: Fig. 6a, at initialisation)

![gradient norms at step 1](img/reproduce_grad_norms_init.png)
![gradient norms at the last step](img/reproduce_grad_norms_final.png)

Coefficient of variation of the per-layer norms (lower: more even across layers), step 1 /
step $STEPS: Pre-LN $(cv_at preln 1) / $(cv_at preln "$STEPS"), Post-LN $(cv_at postln 1) / $(cv_at postln "$STEPS"),
Mix-LN $(cv_at mixln 1) / $(cv_at mixln "$STEPS"), DeepNorm $(cv_at deepnorm 1) / $(cv_at deepnorm "$STEPS").

## Angular distance between layers (paper: Fig. 3a/b and 5)

Mean over $ANALYSIS_TOKENS validation tokens; x: initial layer ℓ, y: block size n; yellow =
similar (small distance), purple = different.

| Pre-LN | Post-LN | Mix-LN |
|---|---|---|
| ![](img/reproduce_angular_preln.png) | ![](img/reproduce_angular_postln.png) | ![](img/reproduce_angular_mixln.png) |

Mean distance to the next layer (n = 1), layers 0–3 / layers 4–7: Pre-LN $(ang_early preln) /
$(ang_late preln), Post-LN $(ang_early postln) / $(ang_late postln), Mix-LN $(ang_early mixln) / $(ang_late mixln).

## The cost of removing one layer (paper: Fig. 3d/e and 6b)

The paper measures downstream accuracy (ARC-e, MMLU); we measure validation perplexity with the
layer replaced by the identity (\`layer-drop\`).

![layer drop](img/reproduce_layer_drop.png)

Mean perplexity increase from removing one of layers 0–3 / one of layers 4–7: Pre-LN
$(drop_early preln) / $(drop_late preln), Post-LN $(drop_early postln) / $(drop_late postln), Mix-LN $(drop_early mixln) / $(drop_late mixln).

## The paper's claims, checked on these runs

| claim | measured here | verdict |
|---|---|---|
| Mix-LN reaches a lower perplexity than Pre-LN | ${ppl[mixln]} vs ${ppl[preln]} | $(verdict lt "${ppl[mixln]}" "${ppl[preln]}") |
| Mix-LN reaches a lower perplexity than Post-LN | ${ppl[mixln]} vs ${ppl[postln]} | $(verdict lt "${ppl[mixln]}" "${ppl[postln]}") |
| Mix-LN beats DeepNorm | ${ppl[mixln]} vs ${ppl[deepnorm]} | $(verdict lt "${ppl[mixln]}" "${ppl[deepnorm]}") |
| Mix-LN beats Sandwich-LN (Table 8) | ${ppl[mixln]} vs ${ppl[sandwich]} | $(verdict lt "${ppl[mixln]}" "${ppl[sandwich]}") |
| α = 1/4 is the best Post-LN ratio (Table 7) | best α here: $best_alpha | $(verdict [ "$best_alpha" = 0.25 ]) |
| Mix-LN's deep layers are less alike than Pre-LN's (Fig. 5) | n = 1 distance, layers 4–7: $(ang_late mixln) vs $(ang_late preln) | $(verdict lt "$(ang_late preln)" "$(ang_late mixln)") |
| Removing a deep layer costs Mix-LN more than Pre-LN (deep layers do more work) | $(drop_late mixln) vs $(drop_late preln) | $(verdict lt "$(drop_late preln)" "$(drop_late mixln)") |
| Mix-LN's gradient norms are more even across layers than Pre-LN's at init (Fig. 6a) | CV $(cv_at mixln 1) vs $(cv_at preln 1) | $(verdict lt "$(cv_at mixln 1)" "$(cv_at preln 1)") |
| Pre-LN's deep layers get smaller gradients than its first layer (Fig. 6a), step 1 / $STEPS | layer 7 vs layer 0: $(norm_pair preln 1 7 0) / $(norm_pair preln "$STEPS" 7 0) | $(verdict lt "$(norm_of preln 1 7)" "$(norm_of preln 1 0)") / $(verdict lt "$(norm_of preln "$STEPS" 7)" "$(norm_of preln "$STEPS" 0)") |
| Post-LN's first layer gets a smaller gradient than its last (Fig. 3c), step 1 / $STEPS | layer 0 vs layer 7: $(norm_pair postln 1 0 7) / $(norm_pair postln "$STEPS" 0 7) | $(verdict lt "$(norm_of postln 1 0)" "$(norm_of postln 1 7)") / $(verdict lt "$(norm_of postln "$STEPS" 0)" "$(norm_of postln "$STEPS" 7)") |

EOF
  if [[ -f docs/reproduction_notes.md ]]; then cat docs/reproduction_notes.md; fi
} > docs/reproduction.md
echo "wrote docs/reproduction.md and $img/reproduce_*.png"
