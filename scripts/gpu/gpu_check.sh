#!/usr/bin/env bash
# scripts/gpu/gpu_check.sh [BUNDLE] — the GPU check, in one command, on a machine with one NVIDIA GPU,
# CUDA 13, PyTorch and transformers but none of our Debian packages and no network. Runs from the
# repository's root with the folder scripts/gpu/gpu_bundle.sh made (gpu-bundle/) beside it:
#   1. the machine: GPU, driver and runtime; every bundled program's libraries resolve
#   2. test_cuda with MIXLN_EXPECT_GPU=1 (a missing or unusable GPU fails, naming why)
#   3. 200 steps of tiny_mixln_cuda and small_mixln_cuda against the CPU trainers' losses in the
#      bundle: fp32 GEMMs within 0.5% of the CPU's mean loss over the last 20 steps, bf16 within 2%
#   4. bench: small_mixln_cuda and llama71m_mixln_cuda (bf16) beside the same models in PyTorch
#      (bf16 autocast, eager and torch.compile), tok/s and MFU against the GPU's bf16 peak
#   5. export-hf of the GPU-trained tiny model loaded in transformers (trust_remote_code): its
#      logits against mixln's, and generate()
# and prints a summary table (also written to $OUT/gpu_check.txt when OUT is set). Where no GPU
# is present (as on our CPU machines) it runs what needs none — unpacking, the libraries, the
# reference data — and reports every GPU step as "not run". At most 8 minutes on one H100/H200.
# Exit status: 0 when every step that ran passed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=scripts/gpu/bundle_env.sh
source scripts/gpu/bundle_env.sh
bundle=${1:-gpu-bundle}
work=${WORK:-/tmp/mixln-gpu}
PY=${PYTHON:-python3}
summary=()
failed=0
note() { summary+=("$(printf '| %-46s | %-7s | %s |' "$1" "$2" "$3")"); [[ $2 == FAIL ]] && failed=1; return 0; }
say() { echo; echo "== $*"; }

say "bundle"
if [[ ! -f $bundle/payload.tar.xz ]]; then
  echo "gpu_check: no $bundle/payload.tar.xz (make it with scripts/gpu/gpu_bundle.sh on a CPU machine)" >&2
  exit 1
fi
cat "$bundle/manifest.txt"
rm -rf "$work"
mkdir -p "$work" ${OUT:+"$OUT"}
unpack_bundle "$bundle" "$work" gpu_check
if [[ -z $bundle_missing ]]; then note "bundled programs' libraries resolve" ok "$(ls "$work/lib" | wc -l) bundled"
else note "bundled programs' libraries resolve" FAIL "$(echo "$bundle_missing" | tr '\n' ';' | tr -s '\t ' ' ')"; fi
[[ -s $work/ref/tiny_mixln.jsonl && -s $work/ref/small_mixln.jsonl && -f $work/data/tiny/val.bin ]] &&
  note "reference losses and token shards" ok "$(wc -l < "$work/ref/tiny_mixln.jsonl") + $(wc -l < "$work/ref/small_mixln.jsonl") log lines" ||
  note "reference losses and token shards" FAIL "missing from the bundle"

say "GPU"
gpu=""
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -n 1)
  nvidia-smi
fi
if [[ -z $gpu ]]; then
  echo "no NVIDIA GPU here: every GPU step is reported as not run"
  for s in "test_cuda (MIXLN_EXPECT_GPU=1)" "tiny_mixln_cuda 200 steps vs CPU" "small_mixln_cuda 200 steps vs CPU" \
           "bench small_mixln_cuda vs PyTorch" "bench llama71m_mixln_cuda vs PyTorch" "export-hf in transformers"; do
    note "$s" "not run" "no GPU on this machine"
  done
else
  note "GPU" ok "$gpu"
  case "$gpu" in
    *H100* | *H200* | *H800* | *GH200*) peak=989e12 ;;
    *A100* | *A800*) peak=312e12 ;;
    *L40S*) peak=362e12 ;;
    *) peak=${PEAK_FLOPS:-0} ;;
  esac

  say "test_cuda"
  if MIXLN_EXPECT_GPU=1 timeout 240 "$bin/test_cuda" 2>&1 | tee "$work/test_cuda.txt" | tail -n 30; then
    note "test_cuda (MIXLN_EXPECT_GPU=1)" ok "$(grep -E 'test cases' "$work/test_cuda.txt" | tail -n 1 | tr -s ' ')"
  else
    note "test_cuda (MIXLN_EXPECT_GPU=1)" FAIL "$(grep -E 'test cases|FAILED|ERROR' "$work/test_cuda.txt" | head -n 3 | tr '\n' ' ')"
  fi

  # Loss curves against the CPU's: the same flags as gpu_bundle.sh's reference runs.
  compare() {  # name ref.jsonl run.jsonl tolerance → "ok|FAIL|detail"
    "$PY" scripts/gpu/compare_losses.py "$2" "$3" "$4"
  }
  run_pair() {  # trainer data batch seq eval_tokens
    local t=$1 data=$2 batch=$3 seq=$4 evt=$5
    for prec in fp32 bf16; do
      local tol=5e-3
      [[ $prec == bf16 ]] && tol=2e-2
      say "$t --precision $prec: 200 steps"
      local out=$work/runs/${t}_$prec
      mkdir -p "$work/runs"  # the stderr file below lives beside the run folder
      if timeout 240 "$bin/$t" train --data "$work/data/$data" --out "$out" --steps 200 --batch "$batch" --seq "$seq" \
          --lr 1e-3 --seed 0 --eval-every 0 --eval-tokens "$evt" --quiet --precision "$prec" 2> "$out.err"; then
        IFS='|' read -r verdict detail < <(compare "$t" "$work/ref/${t%_cuda}.jsonl" "$out/log.jsonl" "$tol")
        note "$t 200 steps vs CPU ($prec)" "$verdict" "$detail"
      else
        note "$t 200 steps vs CPU ($prec)" FAIL "the run failed: $(tail -n 1 "$out.err" 2>/dev/null)"
      fi
    done
  }
  run_pair tiny_mixln_cuda tiny 8 64 8192
  run_pair small_mixln_cuda brown-4096 8 256 65536

  # Speed: mixln's bench beside PyTorch's (bf16 autocast; eager and compiled) on the same GPU.
  bench_pair() {  # trainer batch seq steps torch-args...
    local t=$1 batch=$2 seq=$3 steps=$4
    shift 4
    say "bench $t (batch $batch, seq $seq)"
    local m
    m=$(timeout 180 "$bin/$t" bench --batch "$batch" --seq "$seq" --steps "$steps" | tail -n 1)
    echo "$m"
    local tok flops
    tok=$(echo "$m" | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.read())["tok_s"])' 2>/dev/null)
    flops=$(echo "$m" | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.read())["flops_per_token"])' 2>/dev/null)
    if [[ -z $tok ]]; then
      note "bench $t" FAIL "no result"
      return
    fi
    local line="mixln $(printf '%.0f' "$tok") tok/s"
    [[ $peak != 0 ]] && line+=" (MFU $(awk -v t="$tok" -v f="$flops" -v p="$peak" 'BEGIN { printf "%.1f%%", 100 * t * f / p }'))"
    for mode in eager compile; do
      local tp
      tp=$(timeout 240 "$PY" scripts/compare/torch_bench.py --device cuda --autocast bf16 --attention sdpa \
             $([[ $mode == compile ]] && echo --compile) --batch "$batch" --seq "$seq" --steps "$steps" "$@" 2>"$work/torch_$mode.err" |
           tail -n 1 | "$PY" -c 'import json,sys; print(json.loads(sys.stdin.read())["tok_s"])' 2>/dev/null)
      if [[ -n $tp ]]; then
        line+="; torch $mode $(printf '%.0f' "$tp")"
        [[ $peak != 0 ]] && line+=" (MFU $(awk -v t="$tp" -v f="$flops" -v p="$peak" 'BEGIN { printf "%.1f%%", 100 * t * f / p }'))"
        line+=" → mixln $(awk -v a="$tok" -v b="$tp" 'BEGIN { printf "%.2fx", a / b }')"
      else
        line+="; torch $mode failed ($(tail -n 1 "$work/torch_$mode.err" | cut -c1-80))"
      fi
    done
    echo "$line"
    note "bench $t vs PyTorch" ok "$line"
  }
  bench_pair small_mixln_cuda 8 256 20 --vocab 4096 --hidden 256 --intermediate 688 --heads 4 --post 2 --pre 6
  bench_pair llama71m_mixln_cuda 32 256 10 --vocab 32000 --hidden 512 --intermediate 1368 --heads 8 --post 3 --pre 9

  say "export-hf in transformers"
  hf=$work/hf
  if "$bin/tiny_mixln_cuda" export-hf --ckpt "$work/runs/tiny_mixln_cuda_fp32" --data "$work/data/tiny" --out "$hf" >/dev/null 2>&1 &&
     "$bin/tiny_mixln" logits --weights "$hf" --batch tests/golden/tiny_mixln/batch.safetensors --out "$work/logits.safetensors" >/dev/null; then
    res=$("$PY" - "$hf" "$work/logits.safetensors" tests/golden/tiny_mixln/batch.safetensors <<'PY' 2>&1 | tail -n 1
import sys, torch
from safetensors.torch import load_file
import transformers
from transformers import AutoModelForCausalLM
hf, ref, batch = sys.argv[1:4]
model = AutoModelForCausalLM.from_pretrained(hf, trust_remote_code=True, dtype=torch.float32).eval()
ids = load_file(batch)["input_ids"].long()
want = load_file(ref)["logits"]
with torch.no_grad():
    got = model(ids).logits.float()
rel = ((got - want).norm() / want.norm()).item()
out = model.generate(ids[:1, :8], max_new_tokens=8, do_sample=False)
print("%s|transformers %s: logits rel %.2e (tolerance 1e-4); generate() gave %d tokens" %
      ("ok" if rel <= 1e-4 else "FAIL", transformers.__version__, rel, out.shape[1] - 8))
PY
)
    IFS='|' read -r verdict detail <<<"$res"
    [[ $verdict == ok || $verdict == FAIL ]] || { detail=$res; verdict=FAIL; }
    note "export-hf in transformers" "$verdict" "$detail"
  else
    note "export-hf in transformers" FAIL "export-hf or logits failed"
  fi
fi

say "summary"
{
  echo "mixln GPU check, $(date -u '+%Y-%m-%d %H:%M UTC'), $(sed -n 's/^commit: //p' "$bundle/manifest.txt")"
  echo
  echo "| step | result | detail |"
  echo "|---|---|---|"
  printf '%s\n' "${summary[@]}"
} | tee "${OUT:-$work}/gpu_check.txt"
exit $failed
