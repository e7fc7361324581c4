#!/usr/bin/env bash
# scripts/demo.sh — the main job. On a fresh Debian machine: installs what is missing, fetches
# the Brown corpus, builds, trains Pre-LN, Post-LN and Mix-LN (α = 1/4) on the same tokens with
# the same seed, and prints their validation perplexity beside the seed spread the depth study
# measured for the same configuration and length (docs/reproduction.md, docs/study/results.csv),
# so a difference is stated against what a change of seed alone would do. Writes
# runs/demo/results.md and runs/demo/loss.png.
#
# The configuration is deep24 (hidden 128, 24 layers) for 300 steps of 8 × 256 tokens (614K
# tokens a run) at lr 1e-3, so that the demo with its build stays within 15 minutes on 2 cores;
# the study runs these three placements at this length with three seeds
# (scripts/study/study_plan.txt), which gives the spread the table is read against. Where the study
# parts the three most clearly — 500 steps at three times the rate, STEPS=500 LR=3e-3, where
# Mix-LN takes the higher rate and Post-LN's start becomes a matter of the seed — the demo takes
# longer than that with its build (docs/results.md has both). Environment overrides: CONFIG
# (deep24), STEPS (300), BATCH (8), SEQ (256), LR (1e-3), SEED (0), EVAL_TOKENS (65536),
# PLACEMENTS ("preln postln mixln"), PRECISION (fp32; bf16: bf16 GEMM inputs, docs/usage.md).
# With other values the study (fp32) may have no spread to compare with (it says so).
#
# CORPUS=DIR trains the same comparison on the .txt files of DIR (UTF-8 text, each file a
# document) instead of the Brown corpus, with no download: its tokenizer and shards go to
# data/corpus-<name>-<vocab>/ (or SHARDS=DIR), and the study's seed spread, measured on the Brown corpus, is not
# used to judge the differences. OUT (runs/demo) moves the runs; BIN=DIR takes prebuilt
# trainers and mixln-prepare from DIR instead of building, and SETUP=0 skips installing packages
# (without gnuplot the plot is left out).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/step.sh
CONFIG=${CONFIG:-deep24} STEPS=${STEPS:-300} BATCH=${BATCH:-8} SEQ=${SEQ:-256} LR=${LR:-1e-3} SEED=${SEED:-0}
EVAL_TOKENS=${EVAL_TOKENS:-65536} PRECISION=${PRECISION:-fp32}
PLACEMENTS=${PLACEMENTS:-"preln postln mixln"}
CORPUS=${CORPUS:-} BIN=${BIN:-} SETUP=${SETUP:-1}
out=${OUT:-runs/demo}
die() { echo "error: demo: $*" >&2; exit 1; }

# The user's corpus: a folder of readable UTF-8 .txt files with some text in them.
check_corpus() {
  [[ -d $CORPUS ]] || die "CORPUS=$CORPUS is not a folder (give a folder of .txt files)"
  shopt -s nullglob
  texts=("$CORPUS"/*.txt)
  shopt -u nullglob
  ((${#texts[@]})) || die "CORPUS=$CORPUS holds no .txt files (the demo reads DIR/*.txt, each file a document)"
  local f
  for f in "${texts[@]}"; do
    [[ -r $f ]] || die "cannot read $f (CORPUS=$CORPUS)"
    [[ $(tr -dc '\000' < "$f" | head -c 1 | wc -c) -eq 0 ]] || die "$f is not text: it holds NUL bytes (CORPUS=$CORPUS)"
    iconv -f UTF-8 -t UTF-8 "$f" > /dev/null 2>&1 || die "$f is not UTF-8 text (convert it: iconv -f LATIN1 -t UTF-8)"
  done
  words=$(cat "${texts[@]}" | wc -w)
  ((words > 0)) || die "the .txt files of CORPUS=$CORPUS hold no words"
}

if [[ -n $CORPUS ]]; then
  check_corpus
  corpus_name="$CORPUS (${#texts[@]} .txt files, $words words)"
else
  corpus_name="the Brown corpus"
fi
((SETUP)) && scripts/setup.sh demo
[[ -n $CORPUS ]] || scripts/fetch_brown.sh data/brown
if [[ -n $BIN ]]; then
  bin=$BIN
else
  # the demo preset: trainers tuned for this CPU, in build-demo/ (scripts/test.sh builds in build-ci/)
  cmake --preset demo >/dev/null
  targets=(mixln-prepare)
  for p in $PLACEMENTS; do targets+=("${CONFIG}_$p"); done
  cmake --build build-demo -j "$(nproc)" --target "${targets[@]}"
  bin=build-demo/bin
fi
for p in $PLACEMENTS; do [[ -x $bin/${CONFIG}_$p ]] || die "no trainer $bin/${CONFIG}_$p"; done
first=($PLACEMENTS)
vocab=$("$bin/${CONFIG}_${first[0]}" info | sed -n 's/.*vocab \([0-9]*\).*/\1/p' | head -n 1)
if [[ -z $CORPUS ]]; then
  data=data/brown-$vocab
  "$bin/mixln-prepare" --text data/brown/*.txt --vocab "$vocab" --out "$data" --seed 0  # the study's tokenizer
else
  data=${SHARDS:-data/corpus-$(basename "$(realpath "$CORPUS")")-$vocab}
  rc=0
  err=$(mktemp)
  "$bin/mixln-prepare" --text "${texts[@]}" --vocab "$vocab" --out "$data" --seed 0 2> "$err" || rc=$?
  if ((rc)); then
    msg=$(tail -n 1 "$err")
    rm -f "$err"
    if [[ $msg =~ Vocabulary\ size\ too\ high.*\<=\ ([0-9]+) ]]; then
      die "CORPUS=$CORPUS is too little text for $CONFIG's $vocab-token vocabulary (SentencePiece can make at most ${BASH_REMATCH[1]} tokens of its $words words): add text, or use CONFIG=tiny (vocab 512)"
    fi
    die "mixln-prepare could not make shards of CORPUS=$CORPUS: ${msg#error: }"
  fi
  rm -f "$err"
fi

mkdir -p "$out"
declare -A minutes
for p in $PLACEMENTS; do
  rm -rf "${out:?}/$p"
  echo "== ${CONFIG}_$p: $STEPS steps of $BATCH x $SEQ tokens"
  start=$(date +%s)
  "$bin/${CONFIG}_$p" train --data "$data" --out "$out/$p" --steps "$STEPS" --batch "$BATCH" \
    --seq "$SEQ" --lr "$LR" --seed "$SEED" --eval-every 0 --eval-tokens "$EVAL_TOKENS" --precision "$PRECISION"
  minutes[$p]=$(awk "BEGIN { printf \"%.1f\", ($(date +%s) - $start) / 60 }")
  # step,loss for the plot
  grep '"loss"' "$out/$p/log.jsonl" | sed -E 's/.*"step":([0-9]+).*"loss":([-0-9.eE+]+).*/\1 \2/' > "$out/$p/loss.dat"
done

{
  echo "Validation perplexity on $corpus_name ($CONFIG, $("$bin/${CONFIG}_${first[0]}" info | head -n 1 | sed 's/^model: //')),"
  echo "$STEPS steps of $BATCH x $SEQ tokens, lr $LR, seed $SEED, $EVAL_TOKENS validation tokens, $PRECISION GEMMs;"
  echo "minutes per run: $(for p in $PLACEMENTS; do printf '%s %s  ' "$p" "${minutes[$p]}"; done)"
  echo
  python3 scripts/study/study.py demo-table --study docs/study --plan scripts/study/study_plan.txt --runs "$out" --config "$CONFIG" \
    --tokens $((STEPS * BATCH * SEQ)) --lr "$LR" --placements "$PLACEMENTS" --data "$data"
} > "$out/results.md"

plots=()
colors=("#1f77b4" "#d62728" "#2ca02c" "#9467bd" "#ff7f0e" "#8c564b")
i=0
for p in $PLACEMENTS; do
  plots+=("'$out/$p/loss.dat' using 1:2 with lines lw 1.5 lc rgb '${colors[$((i % 6))]}' title '$p'")
  i=$((i + 1))
done
if ! command -v gnuplot > /dev/null; then
  echo
  cat "$out/results.md"
  echo
  echo "no plot: gnuplot is not installed (scripts/setup.sh demo installs it); logs: $out/<placement>/log.jsonl"
  exit 0
fi
gnuplot <<GP
set terminal pngcairo size 900,560
set output '$out/loss.png'
set title '$CONFIG on ${CORPUS:-the Brown corpus}: training loss'
set xlabel 'step'
set ylabel 'loss'
set grid
plot $(IFS=,; echo "${plots[*]}")
GP

echo
cat "$out/results.md"
echo
echo "loss curves: $out/loss.png; logs: $out/<placement>/log.jsonl"
