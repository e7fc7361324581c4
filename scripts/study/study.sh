#!/usr/bin/env bash
# scripts/study/study.sh — the depth study (docs/reproduction.md): the Mix-LN paper's claims on the
# Brown corpus at 8, 24 and 48 layers, several seeds, then the report.
#
# The runs are the lines of a plan (scripts/study/study_plan.txt): trainer, seed, learning rate,
# steps, batch, sequence, whether to run the analyses on the trained model (angular distance,
# layer drop, the residual stream's RMS — this one also at init), and optionally the init
# recipe (`train --init`; "default" when absent). Every finished run appends one row to
# $STUDY_DIR/results.csv and copies its loss curve, per-layer gradient norms (steps 1, 10, 50,
# 100 and the last) and analyses to
# $STUDY_DIR/runs/<run>/; a run already in results.csv is skipped, a run interrupted midway
# resumes from its last checkpoint if that was trained on the same token shards
# ($RUNS/<run>.data_id), else starts again. So the study can be stopped at any moment and continued
# later, on another machine: each row records the machine and the commit its trainer was built
# from. A run whose loss becomes NaN is recorded as diverged (with the step), not retried.
#
#   scripts/study/study.sh                 build what the plan needs, run what is missing, write the report
#   COMMIT=1 scripts/study/study.sh        also git-commit each finished result (for a long background run)
#   ONLY='deep24_(pre|post|mix)ln ' scripts/study/study.sh   only plan lines matching this regex
#   REFILL=1 scripts/study/study.sh        also train again the analysed runs recorded before the study
#                                          kept their gradient norms at steps 10-100 and trained residual
#                                          RMS, and keep those if the run reproduces its row exactly
#
# Two studies may run side by side on one STUDY_DIR (each with its own ONLY): recording a result
# holds a lock ($STUDY_DIR/.lock).
#
# Environment: PLAN, STUDY_DIR (docs/study), RUNS (runs/study: checkpoints, not committed),
# DATA (data/brown-4096), BIN (prebuilt trainers: skips setup and build), EVAL_TOKENS (65536),
# ANALYSIS_TOKENS (32768), REPORT (docs/reproduction.md; empty: no report), IMG (docs/img),
# CKPT_EVERY (a quarter of the run: where an interrupted run resumes), MACHINE (what a row records
# of the machine; the CPU's model, cores, threads and vector units when unset).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib/build_commit.sh
source scripts/lib/build_commit.sh
PLAN=${PLAN:-scripts/study/study_plan.txt}
STUDY_DIR=${STUDY_DIR:-docs/study}
RUNS=${RUNS:-runs/study}
DATA=${DATA:-data/brown-4096}
BIN=${BIN:-}
COMMIT=${COMMIT:-0}
REFILL=${REFILL:-0}
ONLY=${ONLY:-}
EVAL_TOKENS=${EVAL_TOKENS:-65536}
ANALYSIS_TOKENS=${ANALYSIS_TOKENS:-32768}
REPORT=${REPORT-docs/reproduction.md}
IMG=${IMG:-docs/img}

die() { echo "study: $*" >&2; exit 1; }
[[ -f $PLAN ]] || die "no plan file $PLAN"

# The plan: "trainer seed lr steps batch seq analyses [init]" per line; # starts a comment. A
# trainer is a row of examples/models.txt, <config>_<placement>, or its `_cuda` twin (the same model
# on the CUDA backend: wide24's runs, scripts/gpu/gpu_wide24.sh, with the twins prebuilt in BIN).
trainers=" $(awk '!/^#/ && NF { printf "%s_%s ", $1, $2 }' examples/models.txt)"
plan=()
while read -r line; do
  line=${line%%#*}
  [[ -z ${line// } ]] && continue
  read -r trainer seed lr steps batch seq analyses init extra <<<"$line"
  [[ -n ${analyses:-} && -z ${extra:-} ]] || die "$PLAN: '$line' is not 'trainer seed lr steps batch seq analyses [init]'"
  init=${init:-default}
  [[ $init =~ ^[a-z0-9-]+$ ]] || die "$PLAN: '$line': '$init' is not an init recipe's name"
  [[ $seed =~ ^[0-9]+$ && $steps =~ ^[0-9]+$ && $batch =~ ^[0-9]+$ && $seq =~ ^[0-9]+$ ]] ||
    die "$PLAN: '$line': seed, steps, batch and seq must be whole numbers"
  [[ $analyses == yes || $analyses == no ]] || die "$PLAN: '$line': analyses must be yes or no"
  [[ $trainers == *" ${trainer%_cuda} "* ]] || die "$PLAN: '$line': $trainer is not a trainer of examples/models.txt"
  [[ $trainer != *_cuda || -n $BIN ]] ||
    die "$PLAN: '$line': a _cuda trainer runs from a prebuilt BIN (scripts/gpu/gpu_wide24.sh), not from this build"
  if [[ -n $ONLY ]] && ! [[ "$line " =~ $ONLY ]]; then continue; fi
  plan+=("$trainer $seed $lr $steps $batch $seq $analyses $init")
done <"$PLAN"
((${#plan[@]} > 0)) || die "no plan line of $PLAN matches ONLY='$ONLY'"

# The trainers, built from this tree unless BIN names built ones; the commit they come from.
if [[ -z $BIN ]]; then
  scripts/setup.sh demo
  scripts/fetch_brown.sh data/brown
  BIN=build-study/bin
  targets=(mixln-prepare)
  for p in "${plan[@]}"; do targets+=("${p%% *}"); done
  cmake --preset study >/dev/null  # build-study/: a test build never rebuilds a running study's trainers
  cmake --build build-study -j "$(nproc)" --target $(printf '%s\n' "${targets[@]}" | sort -u)
  build_commit >build-study/commit
  if [[ ! -f $DATA/val.bin && $DATA == data/brown-4096 ]]; then
    "$BIN/mixln-prepare" --text data/brown/*.txt --vocab 4096 --out "$DATA" --seed 0
  fi
fi
commit=$(cat "$BIN/../commit" 2>/dev/null || git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
[[ -f $DATA/val.bin ]] || die "no token shards in $DATA (mixln-prepare makes them)"
# the shards' identity: every run of a study trains and is scored on the same tokens
data_id=$(python3 scripts/study/study.py data-id "$DATA" --study "$STUDY_DIR") || exit 1
machine="$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1 | tr ',' ';'), $(nproc --all) cores"
machine+=", ${OMP_NUM_THREADS:-$(nproc --all)} threads"
grep -qw avx512f /proc/cpuinfo && machine+=", AVX-512" || machine+=", AVX2"
grep -qw avx512_bf16 /proc/cpuinfo && machine+=" + BF16"
machine=${MACHINE:-$machine}
machine=${machine//,/;}

mkdir -p "$STUDY_DIR/runs" "$RUNS"
results=$STUDY_DIR/results.csv

commit_result() {  # the data file and the run's folder; retried while another git holds the index
  [[ $COMMIT == 1 ]] || return 0
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    git add -- "$results" "$STUDY_DIR/runs/$1" && git commit -q -m "study: $1 ($2)" -- "$results" "$STUDY_DIR/runs/$1" &&
      return 0
    sleep 3
  done
  echo "study: could not commit $1; it stays in $results" >&2
}

# residual_rms: backfills the loop's finished run's residual_rms{_init,}.csv (the trained one while
# its checkpoint is here)
residual_rms() {
  local run=$RUNS/$key what=(residual-rms-init)
  [[ -f $run/latest ]] && what+=(residual-rms)
  analyse_run "$run" "${what[@]}" > /dev/null
  cp "$run.analyses"/residual_rms*.csv "$kept/"
  echo "   $key: residual RMS backfilled"
  commit_result "$key" "residual RMS"
}
with_lock() {  # runs "$@" holding the study's lock: one writer of the data and the git index; its status
  local lock rc=0
  exec {lock}>"$STUDY_DIR/.lock"
  flock "$lock"
  "$@" || rc=$?
  exec {lock}>&-
  return $rc
}

record_run() {  # the finished run of the loop's variables: its row in results.csv, its files, a commit
  local row
  row=$(python3 scripts/study/study.py record --run "$run" --err "$RUNS/$key.err" --key "$key" --trainer "$trainer" \
        --seed "$seed" --lr "$lr" --steps "$steps" --batch "$batch" --seq "$seq" --status "$status" \
        --eval-tokens "$EVAL_TOKENS" --machine "$machine" --commit "$commit" --study "$STUDY_DIR" --init "$init" --data-id "$data_id")
  echo "   $row"
  commit_result "$key" "$status"
}

last_step() { [[ -f $1/latest ]] && sed -E 's/ckpt-0*([0-9]+)/\1/' "$1/latest" || echo 0; }

train_run() {  # OUT WHAT [optional]: trains the loop's run into OUT (resuming from its last checkpoint);
  local out=$1 done_steps  # sets status: ok, diverged, or (optional runs only) failed
  local flags=(--data "$DATA" --out "$out" --steps "$steps" --batch "$batch" --seq "$seq" --lr "$lr" --seed "$seed"
         --eval-every 0 --eval-tokens "$EVAL_TOKENS" --ckpt-every "${CKPT_EVERY:-$(((steps + 3) / 4))}" --quiet --init "$init"
         --grad-norms-at "$(printf '%s\n' 1 10 50 100 "$steps" | awk -v n="$steps" '$1 <= n' | sort -nu | paste -sd,)")
  done_steps=$(last_step "$out")
  # a checkpoint resumes only on the shards it was trained on
  if [[ $done_steps -gt 0 && $(cat "$out.data_id" 2>/dev/null) != "$data_id" ]]; then
    echo "study: $out was trained on other token shards (data $(cat "$out.data_id" 2>/dev/null || echo unrecorded)); starting it again" >&2
    done_steps=0
  fi
  echo "== [$n/${#plan[@]}] $key: $2$steps steps of $batch x $seq tokens (from step $done_steps)"
  if [[ $done_steps -gt 0 ]]; then flags+=(--resume); else rm -rf "$out"; fi
  echo "$data_id" > "$out.data_id"
  status=ok
  if ! "$BIN/$trainer" train "${flags[@]}" 2>"$out.err"; then
    cat "$out.err" >&2
    if ! grep -qE "(the loss|the gradient norm) is .* at step|the weights are not finite after step" "$out.err"; then
      [[ ${3:-} == optional ]] || die "$key failed (not a divergence)"
      status=failed
      return 0
    fi
    status=diverged
  fi
}

analyse_run() {  # OUT ANALYSIS...: the analyses of the trained OUT into OUT.analyses/ (beside it: no
  local out=$1 a f  # command writes inside its own input); "residual-rms-init" is the stream at init
  shift
  mkdir -p "$out.analyses"
  for a in "$@"; do
    f=$out.analyses/${a//-/_}.csv
    [[ -f $f ]] && continue
    if [[ $a == residual-rms-init ]]; then  # the residual stream at the run's initialisation, on the same tokens
      "$BIN/$trainer" residual-rms --seed "$seed" --init "$init" --data "$DATA" --seq "$seq" \
        --eval-tokens "$ANALYSIS_TOKENS" --out "$f"
    else
      "$BIN/$trainer" "$a" --ckpt "$out" --data "$DATA" --eval-tokens "$ANALYSIS_TOKENS" --out "$f"
    fi
  done
}

# REFILL=1: an analysed run recorded before the study kept a measurement (the gradient norms at
# steps 10, 50 and 100, the trained residual stream's RMS) is trained again from its seed into
# RUNS/<run>.refill; `study.py refill` keeps the new measurements only if that run reproduces the
# row's validation loss and the gradient norms kept from it, digit for digit.
refill_run() {
  local out=$RUNS/$key.refill
  train_run "$out" "trained again to refill what its row predates: " optional
  if [[ $status != ok ]]; then
    echo "study: warning: $key $([[ $status == diverged ]] && echo "diverged when trained again, which its row did not" ||
      echo "failed when trained again (above: why)"); nothing refilled; the study goes on" >&2
    return 0
  fi
  analyse_run "$out" residual-rms residual-rms-init
  with_lock refill_record "$out" ||
    echo "study: warning: $key was not refilled (above: why); the study goes on" >&2
}
refill_record() {
  python3 scripts/study/study.py refill --run "$1" --key "$key" --study "$STUDY_DIR" --machine "$machine" --commit "$commit" &&
    commit_result "$key" "refilled"
}

n=0
for p in "${plan[@]}"; do
  read -r trainer seed lr steps batch seq analyses init <<<"$p"
  n=$((n + 1))
  key="${trainer}_s${seed}_lr${lr}_${steps}x${batch}x${seq}"
  [[ $init == default ]] || key+="_init-$init"
  if [[ -f $results ]] && grep -q "^$key," "$results"; then
    kept=$STUDY_DIR/runs/$key
    if [[ $REFILL == 1 && $analyses == yes && -d $kept ]] && grep -q "^$key,.*,ok," "$results" &&
       { [[ ! -f $kept/residual_rms.csv ]] || { ((steps >= 10)) && ! grep -q '^10,' "$kept/grad_norms.csv" 2>/dev/null; }; }; then
      refill_run
      continue
    fi
    echo "== [$n/${#plan[@]}] $key: done (in $results)"
    # an analysed run finished before residual-rms existed: its stream at init can always be
    # measured, the trained one while its checkpoint is still here
    if [[ $analyses == yes && -d $kept && ! -f $kept/residual_rms_init.csv ]] &&
       grep -q "^$key,.*,ok," "$results" && "$BIN/$trainer" residual-rms --help > /dev/null 2>&1; then
      with_lock residual_rms ||
        echo "study: warning: the residual RMS of $key could not be backfilled; the study goes on" >&2
    fi
    continue
  fi
  [[ -x $BIN/$trainer ]] || die "no trainer $BIN/$trainer"
  run=$RUNS/$key
  train_run "$run" ""
  [[ $status == ok && $analyses == yes ]] && analyse_run "$run" angular layer-drop residual-rms residual-rms-init
  with_lock record_run
done

if [[ -n $REPORT ]]; then
  python3 scripts/study/study.py report --study "$STUDY_DIR" --plan "$PLAN" --out "$REPORT" --img "$IMG" --data "$DATA"
fi
