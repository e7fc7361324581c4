#!/usr/bin/env bash
# scripts/gpu/gpu_wide24.sh [BUNDLE] — the depth study at llama71m's width on one NVIDIA GPU, in one
# command of at most 9 minutes: scripts/study/study.sh with the plan scripts/study/wide24_plan.txt
# (wide24 Pre-LN, Post-LN and Mix-LN at lr 1e-3 and 3e-3, seeds 0-2, 500 steps of 8 × 256 tokens
# each), run by the `_cuda` trainers of the bundle scripts/gpu/gpu_bundle.sh made (gpu-bundle/) on
# the study's own token shards (their data id is checked against docs/study/results.csv).
#
# The runs go in the plan's order, seed by seed, until BUDGET seconds have passed; a run cut off
# then is dropped (a study.sh started again with the same STUDY folder would resume it from its
# checkpoint, but a later call starts on a bare machine). What was recorded is packed into
# $OUT/wide24_study.tar.gz (results.csv and runs/<run>/, as study.sh writes them) with the log
# $OUT/gpu_wide24.log. Back here:
#   mkdir -p /tmp/w && tar -C /tmp/w -xzf FILES_AT/wide24_study.tar.gz
#   python3 scripts/study/study.py merge --source /tmp/w --study docs/study
# then the report (scripts/study/study.sh's last step) shows wide24 beside small, deep24 and deep48.
#
# Device tool: command "OUT=$OUT scripts/gpu/gpu_wide24.sh gpu-bundle", carry ["gpu-bundle"],
# timeout_s 600. Environment: BUDGET (480), PYTHON (python3), WORK (/tmp/mixln-wide24), ONLY
# (study.sh's: plan lines matching a regex), PLAN (scripts/study/wide24_plan.txt; tests give a
# shorter one). Exit status: 0 when every run started finished or
# diverged (a divergence is a result), 1 when the bundle, the GPU or the shards are not right or a
# run failed, 2 when the budget ran out first (what finished is packed all the same).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=scripts/gpu/bundle_env.sh
source scripts/gpu/bundle_env.sh
bundle=${1:-gpu-bundle}
work=${WORK:-/tmp/mixln-wide24}
PY=${PYTHON:-python3}
BUDGET=${BUDGET:-480}
die() { echo "gpu_wide24: $*" >&2; exit 1; }

[[ -f $bundle/payload.tar.xz ]] || die "no $bundle/payload.tar.xz (make it with scripts/gpu/gpu_bundle.sh on a CPU machine)"
rm -rf "$work"
mkdir -p "$work" ${OUT:+"$OUT"} || exit 1
exec > >(tee "${OUT:-$work}/gpu_wide24.log") 2>&1
cat "$bundle/manifest.txt"
unpack_bundle "$bundle" "$work" gpu_wide24
[[ -z $bundle_missing ]] || die "bundled programs miss libraries: $bundle_missing"
for p in preln postln mixln; do
  [[ -x $bin/wide24_${p}_cuda ]] || die "the bundle has no wide24_${p}_cuda (a bundle from before wide24: make it again)"
done
gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1)
[[ -n $gpu ]] || die "no GPU (nvidia-smi names none)"
data=$work/data/brown-4096
"$PY" scripts/study/study.py data-id "$data" --study docs/study >/dev/null ||
  die "the bundle's token shards are not the depth study's (make the bundle where data/brown-4096 holds them)"

# study.sh in its own process group, so that the budget's end stops its trainer too
study=$work/study
echo "gpu_wide24: $gpu; the plan's runs for up to $BUDGET s"
PLAN=${PLAN:-scripts/study/wide24_plan.txt} STUDY_DIR=$study RUNS=$work/runs DATA=$data BIN=$bin COMMIT=0 REPORT= \
  CKPT_EVERY=500 MACHINE="$gpu; CUDA; host $(nproc --all) cores" \
  setsid scripts/study/study.sh &
pid=$!
(sleep "$BUDGET"; echo "gpu_wide24: the budget of $BUDGET s is spent: stopping the run in progress"
 kill -TERM -- "-$pid" 2>/dev/null) &
watchdog=$!
wait "$pid"
rc=$?
if kill -0 "$watchdog" 2>/dev/null; then
  kill "$watchdog" 2>/dev/null
  wait "$watchdog" 2>/dev/null
  status=$((rc == 0 ? 0 : 1))
else
  status=2
fi

if [[ -f $study/results.csv ]]; then
  tar -C "$study" -czf "${OUT:-$work}/wide24_study.tar.gz" results.csv runs
  echo "gpu_wide24: $(($(wc -l < "$study/results.csv") - 1)) runs recorded in ${OUT:-$work}/wide24_study.tar.gz:"
  awk -F, 'NR > 1 { printf "  %-40s %-8s val ppl %-10s %s tok/s\n", $1, $12, $16, $19 }' "$study/results.csv"
else
  echo "gpu_wide24: no run finished"
fi
exit "$status"
