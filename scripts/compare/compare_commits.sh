#!/usr/bin/env bash
# scripts/compare/compare_commits.sh — one trainer's `bench` at two commits, side by side on one
# machine in one run: the runs alternate (A B A B ...) so that a drift in the machine's speed
# moves both, and the median step time of each and their ratio are printed.
#
#   scripts/compare/compare_commits.sh BASE [HEAD] [-- bench flags]
#     BASE, HEAD   commits (HEAD: the working tree's HEAD); each is built in its own worktree and
#                  build folder under build-compare/ (kept, so a second call only runs)
#   environment: TRAINER (small_mixln), RUNS (5 each), OMP_NUM_THREADS (2)
#   e.g. scripts/compare/compare_commits.sh a691dfc HEAD -- --precision bf16
set -euo pipefail
cd "$(dirname "$0")/../.."
base=${1:?usage: compare_commits.sh BASE [HEAD] [-- bench flags]}
shift
head=HEAD
if [[ $# -gt 0 && $1 != -- ]]; then head=$1; shift; fi
[[ $# -gt 0 && $1 == -- ]] && shift
flags=("$@")
trainer=${TRAINER:-small_mixln} runs=${RUNS:-5}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
root=$PWD/build-compare
mkdir -p "$root"

# Builds $trainer at commit $1; prints the binary's path.
build_at() {
  local rev sha dir
  rev=$1
  sha=$(git rev-parse --verify "$rev^{commit}")
  dir=$root/$sha
  if [[ ! -x $dir/build/bin/$trainer ]]; then
    [[ -d $dir/src ]] || git worktree add --detach "$dir/src" "$sha" >/dev/null 2>&1
    # configured as the dev preset configures (tuned for this CPU), without CUDA: only the trainer
    cmake -S "$dir/src" -B "$dir/build" -DCMAKE_BUILD_TYPE=Release -DMIXLN_NATIVE=ON -DMIXLN_CUDA=OFF \
      -DMIXLN_EXAMPLES=tested >/dev/null
    cmake --build "$dir/build" -j "$(nproc)" --target "$trainer" >/dev/null
  fi
  echo "$dir/build/bin/$trainer"
}
a=$(build_at "$head")
b=$(build_at "$base")
step_s() { "$1" bench "${flags[@]}" | tail -n 1 | python3 -c 'import json, sys; print(json.load(sys.stdin)["step_s"])'; }
echo "machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores;" \
  "OMP_NUM_THREADS=$OMP_NUM_THREADS; $trainer bench ${flags[*]}"
ta=() tb=()
step_s "$a" >/dev/null  # warm-up: page cache, oneDNN's first primitives
for ((i = 0; i < runs; ++i)); do
  ta+=("$(step_s "$a")")
  tb+=("$(step_s "$b")")
done
python3 - "$head" "$base" "${ta[*]}" "${tb[*]}" <<'EOF'
import statistics, sys
head, base, ta, tb = sys.argv[1], sys.argv[2], [float(x) for x in sys.argv[3].split()], [float(x) for x in sys.argv[4].split()]
ma, mb = statistics.median(ta), statistics.median(tb)
print(f"{head}: step {ma * 1e3:.1f} ms (median of {len(ta)}; {min(ta) * 1e3:.1f}..{max(ta) * 1e3:.1f})")
print(f"{base}: step {mb * 1e3:.1f} ms (median of {len(tb)}; {min(tb) * 1e3:.1f}..{max(tb) * 1e3:.1f})")
print(f"speed-up of {head} over {base}: {mb / ma:.3f}x")
EOF
