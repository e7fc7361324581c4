#!/usr/bin/env bash
# scripts/compare_torch.sh — mixln's `bench` beside the same model in PyTorch, on one machine.
#
# Model: small_mixln (vocab 4096, hidden 256, intermediate 688, 4 heads, 2 Post-LN + 6 Pre-LN
# layers), batch 8 × 256 tokens, Adam, 2 threads, fp32. PyTorch is Debian's python3-torch,
# run twice: as installed (its libblas is the pthreads OpenBLAS, which competes with torch's
# own OpenMP threads), and with the OpenMP OpenBLAS preloaded (LD_LIBRARY_PATH), the fairest
# setting we found for it. Prints a table and the ratios; environment overrides: BATCH, SEQ,
# STEPS, THREADS.
set -euo pipefail
cd "$(dirname "$0")/.."
BATCH=${BATCH:-8} SEQ=${SEQ:-256} STEPS=${STEPS:-10} THREADS=${THREADS:-2}
scripts/setup.sh dev >/dev/null
# every trainer, tuned for this CPU (scripts/test.sh configures the same folder for its tests)
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DMIXLN_EXAMPLES=all -DMIXLN_NATIVE=ON >/dev/null
cmake --build build -j "$(nproc)" --target small_mixln >/dev/null
export OMP_NUM_THREADS=$THREADS
echo "environment: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>} OMP_NUM_THREADS=$OMP_NUM_THREADS"
mix=$(build/bin/small_mixln bench --batch "$BATCH" --seq "$SEQ" --steps "$STEPS")
args=(--vocab 4096 --hidden 256 --intermediate 688 --heads 4 --post 2 --pre 6 --batch "$BATCH" --seq "$SEQ"
      --steps "$STEPS" --threads "$THREADS")
torch_default=$(/usr/bin/python3 scripts/torch_bench.py "${args[@]}")
torch_omp=$(LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 scripts/torch_bench.py "${args[@]}")
field() { sed -E "s/.*\"$2\": ([0-9.eE+-]+).*/\1/" <<< "$1"; }
echo "mixln:                      $mix"
echo "pytorch (as installed):     $torch_default"
echo "pytorch (OpenMP OpenBLAS):  $torch_omp"
m=$(field "$mix" tok_s) t1=$(field "$torch_default" tok_s) t2=$(field "$torch_omp" tok_s)
awk -v m="$m" -v t1="$t1" -v t2="$t2" -v g="$(field "$mix" gflops)" -v s="$(field "$mix" sgemm_gflops)" \
    -v rss="$(field "$mix" peak_rss_bytes)" -v plan="$(field "$mix" planned_bytes)" 'BEGIN {
  printf "\n| run | tok/s | mixln speed-up |\n|---|---|---|\n"
  printf "| mixln small_mixln | %.0f | |\n", m
  printf "| PyTorch, as installed | %.0f | %.2fx |\n", t1, m / t1
  printf "| PyTorch, OpenMP OpenBLAS | %.0f | %.2fx |\n", t2, m / t2
  printf "\nmixln achieved %.1f GFLOP/s = %.0f%% of OpenBLAS sgemm 1024^3 (%.1f GFLOP/s)\n", g, 100 * g / s, s
  printf "peak RSS %.0f MiB = %.2fx the planned %.0f MiB (params + grads + Adam + activations)\n", rss / 2^20, rss / plan, plan / 2^20
}'
