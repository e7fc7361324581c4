#!/usr/bin/env bash
# scripts/compare/compare_torch.sh — mixln's `bench` beside the same model in PyTorch, on one machine,
# in one run.
#
# Model: small_mixln (vocab 4096, hidden 256, intermediate 688, 4 heads, 2 Post-LN + 6 Pre-LN
# layers), batch 8 × 256 tokens, Adam, 2 threads. Runs:
#   mixln fp32, mixln bf16 (--precision bf16: bf16 GEMM inputs, fp32 accumulation);
#   PyTorch (Debian's python3-torch) as installed (its libblas is the pthreads OpenBLAS, which
#   competes with torch's own OpenMP threads; ATen's AVX2 kernels);
#   PyTorch tuned: the OpenMP OpenBLAS preloaded (LD_LIBRARY_PATH) and, on an AVX-512 CPU, ATen's
#   AVX-512 kernels (ATEN_CPU_CAPABILITY=avx512) — the fairest fp32 setting we found for it;
#   PyTorch tuned with torch.autocast("cpu", bfloat16) (its bf16 matmuls run on oneDNN).
# On an AVX-512 CPU every run uses OpenBLAS's AVX-512 kernels (OPENBLAS_CORETYPE=SkylakeX); the
# environment line says what was set. Prints the JSON lines, a table and the ratios;
# environment overrides: BATCH, SEQ, STEPS, THREADS.
set -euo pipefail
cd "$(dirname "$0")/../.."
BATCH=${BATCH:-8} SEQ=${SEQ:-256} STEPS=${STEPS:-10} THREADS=${THREADS:-2}
scripts/setup.sh dev >/dev/null
# the dev preset: every trainer, tuned for this CPU, in build/
cmake --preset dev >/dev/null
cmake --build build -j "$(nproc)" --target small_mixln >/dev/null
export OMP_NUM_THREADS=$THREADS
aten=""
if grep -q ' avx512f ' /proc/cpuinfo && grep -q ' avx512bw ' /proc/cpuinfo; then
  export OPENBLAS_CORETYPE=SkylakeX
  aten=avx512
fi
echo "environment: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-<unset>} OMP_NUM_THREADS=$OMP_NUM_THREADS; tuned PyTorch: ATEN_CPU_CAPABILITY=${aten:-<default>}"
echo "machine: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) cores; bf16 instructions: $(grep -q avx512_bf16 /proc/cpuinfo && echo avx512_bf16 || echo none)"
bench=(bench --batch "$BATCH" --seq "$SEQ" --steps "$STEPS")
mix32=$(build/bin/small_mixln "${bench[@]}" --precision fp32)
mix16=$(build/bin/small_mixln "${bench[@]}" --precision bf16)
args=(--vocab 4096 --hidden 256 --intermediate 688 --heads 4 --post 2 --pre 6 --batch "$BATCH" --seq "$SEQ"
      --steps "$STEPS" --threads "$THREADS")
tuned=(env LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp ${aten:+ATEN_CPU_CAPABILITY=$aten})
torch_default=$(/usr/bin/python3 scripts/compare/torch_bench.py "${args[@]}")
torch_tuned=$("${tuned[@]}" /usr/bin/python3 scripts/compare/torch_bench.py "${args[@]}")
torch_bf16=$("${tuned[@]}" /usr/bin/python3 scripts/compare/torch_bench.py "${args[@]}" --autocast bf16)
field() { sed -E "s/.*\"$2\": ?([0-9.eE+-]+).*/\1/" <<< "$1"; }  # bench prints no space after the colon, Python does
echo "mixln fp32:                    $mix32"
echo "mixln bf16:                    $mix16"
echo "pytorch fp32 (as installed):   $torch_default"
echo "pytorch fp32 (tuned):          $torch_tuned"
echo "pytorch bf16 autocast (tuned): $torch_bf16"
awk -v m32="$(field "$mix32" tok_s)" -v m16="$(field "$mix16" tok_s)" -v t1="$(field "$torch_default" tok_s)" \
    -v t2="$(field "$torch_tuned" tok_s)" -v t3="$(field "$torch_bf16" tok_s)" \
    -v g="$(field "$mix32" gflops)" -v s="$(field "$mix32" sgemm_gflops)" \
    -v g16="$(field "$mix16" gflops)" -v s16="$(field "$mix16" sgemm_gflops)" \
    -v rss="$(field "$mix32" peak_rss_bytes)" -v plan="$(field "$mix32" planned_bytes)" 'BEGIN {
  printf "\n| run | tok/s | mixln fp32 speed-up | mixln bf16 speed-up |\n|---|---|---|---|\n"
  printf "| mixln small_mixln, fp32 | %.0f | | %.2fx |\n", m32, m16 / m32
  printf "| mixln small_mixln, bf16 | %.0f | | |\n", m16
  printf "| PyTorch fp32, as installed | %.0f | %.2fx | %.2fx |\n", t1, m32 / t1, m16 / t1
  printf "| PyTorch fp32, tuned | %.0f | %.2fx | %.2fx |\n", t2, m32 / t2, m16 / t2
  printf "| PyTorch bf16 autocast, tuned | %.0f | %.2fx | %.2fx |\n", t3, m32 / t3, m16 / t3
  printf "\nmixln fp32 achieved %.1f GFLOP/s = %.0f%% of its fp32 GEMM 1024^3 (%.1f GFLOP/s)\n", g, 100 * g / s, s
  printf "mixln bf16 achieved %.1f GFLOP/s = %.0f%% of its bf16 GEMM 1024^3 (%.1f GFLOP/s)\n", g16, 100 * g16 / s16, s16
  printf "peak RSS %.0f MiB = %.2fx the planned %.0f MiB (params + grads + Adam + activations)\n", rss / 2^20, rss / plan, plan / 2^20
}'
