#!/usr/bin/env bash
# scripts/gpu/gpu_bundle.sh [DIR] — run on a CPU machine like ours (Debian, nvcc, no GPU). Builds what
# scripts/gpu/gpu_check.sh and scripts/gpu/gpu_perf.sh run on a GPU machine that has CUDA 13, CMake,
# PyTorch and transformers but none of our Debian packages and no network, and packs it into DIR
# (gpu-bundle/):
#   payload.tar.xz   bin/  test_cuda, {tiny,small,llama71m,llama250m,llama1b}_mixln_cuda (sm_$ARCH), tiny_mixln
#                          (the CPU reference for logits), wide24_{preln,postln,mixln}_cuda (the depth
#                          study's GPU runs, scripts/gpu/gpu_wide24.sh); host code generic x86-64, stripped
#                    lib/  the shared libraries they load that such a machine lacks (OpenBLAS,
#                          libgomp, libgfortran, SentencePiece, ...; not glibc, libstdc++, CUDA)
#                    data/ token shards: tiny (vocab 512, Debian's licence texts), brown-4096 (the
#                          depth study's own shards, data/brown-4096, where they are here)
#                    ref/  the CPU trainers' runs of tiny_mixln and small_mixln (log.jsonl), the
#                          losses the GPU runs are compared with: $STEPS steps (gpu_check.sh) and
#                          tiny_mixln_100.jsonl, 100 steps (gpu_perf.sh; the LR schedule follows
#                          --steps, so a shorter run is not the start of a longer one)
#                    commit  the commit the programs were built from (study.sh records it)
#   manifest.txt     what was built, from which commit, on which machine, and the sizes
# The repository's tracked files and DIR travel together (device tool: carry DIR), at most 64 MiB.
# Environment: ARCH (90: H100/H200; 80 for A100), STEPS (200), BUILD (build-gpu).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=scripts/lib/build_commit.sh
source scripts/lib/build_commit.sh
out=${1:-gpu-bundle}
ARCH=${ARCH:-90}
STEPS=${STEPS:-200}
BUILD=${BUILD:-build-gpu}
limit=$((64 * 1024 * 1024))
die() { echo "gpu_bundle: $*" >&2; exit 1; }

scripts/setup.sh demo
[[ -x /usr/local/cuda/bin/nvcc ]] || command -v nvcc >/dev/null || die "no nvcc: the bundle's CUDA programs cannot be built here"
scripts/fetch_brown.sh data/brown
cmake --preset cuda -B "$BUILD" -DCMAKE_CUDA_ARCHITECTURES="$ARCH" >/dev/null
programs=(test_cuda tiny_mixln_cuda small_mixln_cuda llama71m_mixln_cuda llama250m_mixln_cuda llama1b_mixln_cuda tiny_mixln
          wide24_preln_cuda wide24_postln_cuda wide24_mixln_cuda)
cmake --build "$BUILD" -j "$(nproc)" --target "${programs[@]}" small_mixln mixln-prepare golden_check

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib" "$stage/data" "$stage/ref"
for p in "${programs[@]}"; do
  cp "$BUILD/bin/$p" "$stage/bin/"
  strip "$stage/bin/$p"
done
# Every shared library the programs load, except what any Linux with CUDA has.
system='^(linux-vdso|ld-linux|libc\.|libm\.|libpthread|libdl\.|librt\.|libstdc\+\+|libgcc_s|libcuda\.|libcudart|libcublas|libnccl)'
for p in "${programs[@]}"; do
  ldd "$BUILD/bin/$p" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }'
done | sort -u | while read -r name path; do
  [[ $name =~ $system ]] && continue
  cp -L "$path" "$stage/lib/$name"
done

"$BUILD/bin/mixln-prepare" --text /usr/share/common-licenses/* --vocab 512 --out "$stage/data/tiny" --val-frac 0.2 --seed 0 >/dev/null
# the depth study's shards where they are here (its runs on a GPU are compared with those on them),
# else the same command study.sh makes them with
if [[ -f data/brown-4096/val.bin ]]; then
  mkdir -p "$stage/data/brown-4096"
  cp data/brown-4096/* "$stage/data/brown-4096/"
else
  "$BUILD/bin/mixln-prepare" --text data/brown/*.txt --vocab 4096 --out "$stage/data/brown-4096" --seed 0 >/dev/null
fi
build_commit > "$stage/commit"
# The CPU references: the same runs gpu_check.sh makes on the GPU (flags in gpu_check.sh's
# run_flags), full fp32.
runs=$(mktemp -d)
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}  # tiny steps: a second OpenMP thread only waits
"$BUILD/bin/tiny_mixln" train --data "$stage/data/tiny" --out "$runs/tiny" --steps "$STEPS" --batch 8 --seq 64 --lr 1e-3 \
  --seed 0 --eval-every 0 --eval-tokens 8192 --quiet
"$BUILD/bin/small_mixln" train --data "$stage/data/brown-4096" --out "$runs/small" --steps "$STEPS" --batch 8 --seq 256 \
  --lr 1e-3 --seed 0 --eval-every 0 --eval-tokens 65536 --quiet
"$BUILD/bin/tiny_mixln" train --data "$stage/data/tiny" --out "$runs/tiny100" --steps 100 --batch 8 --seq 64 --lr 1e-3 \
  --seed 0 --eval-every 0 --eval-tokens 8192 --quiet
cp "$runs/tiny/log.jsonl" "$stage/ref/tiny_mixln.jsonl"
cp "$runs/tiny100/log.jsonl" "$stage/ref/tiny_mixln_100.jsonl"
cp "$runs/small/log.jsonl" "$stage/ref/small_mixln.jsonl"
rm -rf "$runs"

mkdir -p "$out"
rm -f "$out/payload.tar.xz" "$out/manifest.txt"
tar -C "$stage" -cJf "$out/payload.tar.xz" bin lib data ref commit
tree_bytes=$(git ls-files -z | xargs -0 stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s }')
bundle_bytes=$(du -sb "$out" | cut -f1)
{
  echo "mixln GPU bundle"
  echo "commit: $(git rev-parse --short=12 HEAD)$([[ -z $(git status --porcelain -- include examples) ]] || echo ' + local changes')"
  echo "built: $(date -u '+%Y-%m-%d %H:%M UTC') on $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
  echo "nvcc: $( (/usr/local/cuda/bin/nvcc --version || nvcc --version) 2>/dev/null | tail -n 1)"
  echo "architectures: sm_$ARCH; steps of the reference runs: $STEPS"
  echo "programs: ${programs[*]}"
  echo "libraries: $(ls "$stage/lib" | tr '\n' ' ')"
  echo "payload: $bundle_bytes bytes (unpacked: $(du -sb "$stage" | cut -f1)); tracked tree: $tree_bytes bytes"
} > "$out/manifest.txt"
cat "$out/manifest.txt"
total=$((tree_bytes + bundle_bytes))
((total <= limit)) || die "the bundle ($bundle_bytes bytes) and the tracked tree ($tree_bytes) exceed 64 MiB together"
echo "gpu_bundle: $out holds $bundle_bytes bytes; with the tracked tree $total of $limit"
