#!/usr/bin/env bash
# scripts/study/vision.sh — the paper's vision claim (Table 6: Mix-LN in a ViT) at this scale: the
# ViT trainers of examples/models.txt on Fashion-MNIST, every line of a plan
# (scripts/study/vision_plan.txt), each with the same schedule, then the report (its section
# "Vision Transformers" in docs/reproduction.md, written by study.py report).
#
# A plan line is "trainer seed lr steps batch crop-pad flip": e.g. `vit_mini_mixln 0 1e-3 1400 128
# 2 yes` trains 1400 steps of 128 images, random crops of the image padded by 2 pixels and random
# horizontal flips (AdamW with weight decay 0.05 on matrices, warm-up 10%, cosine to 10%, for every
# run), and scores the model on all 10,000 validation images. Every finished run
# appends one row to $STUDY_DIR/vision.csv (its commit, machine and image shards' identity) and
# copies its loss curve and gradient norms to $STUDY_DIR/vision/<run>/; a run in vision.csv is
# skipped, an interrupted one resumes from its last checkpoint (on the same shards). A run whose
# loss becomes NaN is recorded as diverged, not retried.
#
#   scripts/study/vision.sh                 build what the plan needs, run what is missing, write the report
#   COMMIT=1 scripts/study/vision.sh        also git-commit each finished result
#   ONLY='_mixln ' scripts/study/vision.sh  only plan lines matching this regex
#
# Environment: PLAN, STUDY_DIR (docs/study), RUNS (runs/vision: checkpoints, not committed), DATA
# (data/fashion-mnist), BIN (prebuilt trainers: skips setup and build), REPORT (docs/reproduction.md;
# empty: no report) and the report's inputs from the depth study: STUDY_PLAN, TOKEN_DATA, IMG.
# Shares docs/study's lock with study.sh: both may run side by side.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib/build_commit.sh
source scripts/lib/build_commit.sh
PLAN=${PLAN:-scripts/study/vision_plan.txt}
STUDY_DIR=${STUDY_DIR:-docs/study}
RUNS=${RUNS:-runs/vision}
DATA=${DATA:-data/fashion-mnist}
BIN=${BIN:-}
COMMIT=${COMMIT:-0}
ONLY=${ONLY:-}
REPORT=${REPORT-docs/reproduction.md}
STUDY_PLAN=${STUDY_PLAN:-scripts/study/study_plan.txt}  # the report's other inputs: the depth study's
TOKEN_DATA=${TOKEN_DATA:-data/brown-4096}                # plan, token shards and plots
IMG=${IMG:-docs/img}

die() { echo "vision: $*" >&2; exit 1; }
[[ -f $PLAN ]] || die "no plan file $PLAN"

trainers=" $(awk '!/^#/ && NF && $4 ~ /vision/ { printf "%s_%s ", $1, $2 }' examples/models.txt)"
plan=()
while read -r line; do
  line=${line%%#*}
  [[ -z ${line// } ]] && continue
  read -r trainer seed lr steps batch pad flip extra <<<"$line"
  [[ -n ${flip:-} && -z ${extra:-} ]] || die "$PLAN: '$line' is not 'trainer seed lr steps batch crop-pad flip'"
  [[ $seed =~ ^[0-9]+$ && $steps =~ ^[0-9]+$ && $batch =~ ^[0-9]+$ && $pad =~ ^[0-9]+$ ]] ||
    die "$PLAN: '$line': seed, steps, batch and crop-pad must be whole numbers"
  [[ $flip == yes || $flip == no ]] || die "$PLAN: '$line': flip must be yes or no"
  [[ $trainers == *" $trainer "* ]] || die "$PLAN: '$line': $trainer is not a vision trainer of examples/models.txt"
  if [[ -n $ONLY ]] && ! [[ "$line " =~ $ONLY ]]; then continue; fi
  plan+=("$trainer $seed $lr $steps $batch $pad $flip")
done <"$PLAN"
((${#plan[@]} > 0)) || die "no plan line of $PLAN matches ONLY='$ONLY'"

# The trainers, built from this tree unless BIN names built ones (build-study/: a test build never
# rebuilds a running study's trainers); the commit they come from.
if [[ -z $BIN ]]; then
  scripts/setup.sh images
  BIN=build-study/bin
  targets=(mixln-prepare-images)
  for p in "${plan[@]}"; do targets+=("${p%% *}"); done
  cmake --preset study >/dev/null
  cmake --build build-study -j "$(nproc)" --target $(printf '%s\n' "${targets[@]}" | sort -u)
  build_commit >build-study/commit
  [[ -f $DATA/val.labels.bin ]] || BIN=$BIN scripts/fetch_fashion_mnist.sh "$DATA"
fi
commit=$(cat "$BIN/../commit" 2>/dev/null || git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
[[ -f $DATA/val.labels.bin ]] || die "no image shards in $DATA (scripts/fetch_fashion_mnist.sh makes them)"
data_id=$(python3 scripts/study/study.py data-id "$DATA" --images --study "$STUDY_DIR") || exit 1
machine="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1 | tr ',' ';'), $(nproc --all) cores"
machine+=", ${OMP_NUM_THREADS:-$(nproc --all)} threads"
grep -qw avx512f /proc/cpuinfo && machine+=", AVX-512" || machine+=", AVX2"
grep -qw avx512_bf16 /proc/cpuinfo && machine+=" + BF16"
machine=${machine//,/;}

mkdir -p "$STUDY_DIR/vision" "$RUNS"
results=$STUDY_DIR/vision.csv

with_lock() {  # runs "$@" holding the study's lock (shared with study.sh): one writer of the git index
  local lock rc=0
  exec {lock}>"$STUDY_DIR/.lock"
  flock "$lock"
  "$@" || rc=$?
  exec {lock}>&-
  return $rc
}
record_run() {
  python3 scripts/study/study.py record-vision --run "$run" --err "$run.err" --key "$key" --trainer "$trainer" \
    --seed "$seed" --lr "$lr" --steps "$steps" --batch "$batch" --crop-pad "$pad" --flip "$flip" \
    --status "$status" --machine "$machine" --commit "$commit" --study "$STUDY_DIR" --data-id "$data_id"
  [[ $COMMIT == 1 ]] || return 0
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    git add -- "$results" "$STUDY_DIR/vision/$key" &&
      git commit -q -m "vision study: $key ($status)" -- "$results" "$STUDY_DIR/vision/$key" && return 0
    sleep 3
  done
  echo "vision: could not commit $key; it stays in $results" >&2
}

last_step() { [[ -f $1/latest ]] && sed -E 's/ckpt-0*([0-9]+)/\1/' "$1/latest" || echo 0; }

n=0
for p in "${plan[@]}"; do
  read -r trainer seed lr steps batch pad flip <<<"$p"
  n=$((n + 1))
  suffix=; [[ $flip == yes ]] && suffix=_flip
  key="${trainer}_s${seed}_lr${lr}_${steps}x${batch}_pad${pad}${suffix}"
  if [[ -f $results ]] && grep -q "^$key," "$results"; then
    echo "== [$n/${#plan[@]}] $key: done (in $results)"
    continue
  fi
  [[ -x $BIN/$trainer ]] || die "no trainer $BIN/$trainer"
  run=$RUNS/$key
  flags=(--data "$DATA" --out "$run" --steps "$steps" --batch "$batch" --lr "$lr" --seed "$seed" --crop-pad "$pad"
         --weight-decay 0.05 --eval-every 0 --eval-images 0 --ckpt-every $(((steps + 3) / 4)) --quiet
         --grad-norms-at "$(printf '%s\n' 1 10 50 100 "$steps" | awk -v n="$steps" '$1 <= n' | sort -nu | paste -sd,)")
  [[ $flip == yes ]] && flags+=(--flip)
  done_steps=$(last_step "$run")
  if [[ $done_steps -gt 0 && $(cat "$run.data_id" 2>/dev/null) != "$data_id" ]]; then
    echo "vision: $run was trained on other image shards; starting it again" >&2
    done_steps=0
  fi
  echo "== [$n/${#plan[@]}] $key: $steps steps of $batch images (from step $done_steps)"
  if [[ $done_steps -gt 0 ]]; then flags+=(--resume); else rm -rf "$run"; fi
  echo "$data_id" >"$run.data_id"
  status=ok
  if ! "$BIN/$trainer" train "${flags[@]}" 2>"$run.err"; then
    cat "$run.err" >&2
    grep -qE "(the loss|the gradient norm) is .* at step|the weights are not finite after step" "$run.err" ||
      die "$key failed (not a divergence)"
    status=diverged
  fi
  with_lock record_run
done

if [[ -n $REPORT ]]; then
  python3 scripts/study/study.py report --study "$STUDY_DIR" --plan "$STUDY_PLAN" --out "$REPORT" --img "$IMG" \
    --data "$TOKEN_DATA" --vision-plan "$PLAN"
fi
