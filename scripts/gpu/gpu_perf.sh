#!/usr/bin/env bash
# scripts/gpu/gpu_perf.sh [BUNDLE] — correctness gate and side-by-side speed on one NVIDIA GPU, in one
# command of at most 8 minutes (one H200), from the repository's root with the folder
# scripts/gpu/gpu_bundle.sh made (gpu-bundle/) beside it, like scripts/gpu/gpu_check.sh:
#   a. the machine (nvidia-smi: name, driver, memory) and the ceilings mixln's bench measures
#      (ceiling_gemm_tflops: an 8192³ bf16 GEMM; ceiling_copy_gbs: a large device copy)
#   b. the gate: test_cuda's attention cases (-tc="*attention*") and the whole test_cuda with
#      MIXLN_EXPECT_GPU=1; 100 steps of tiny_mixln_cuda in fp32 and bf16 against the CPU
#      trainer's 100-step losses in the bundle (last-20 mean within 0.5% / 2%)
#   d. compute-sanitizer memcheck and racecheck over the attention cases, where it exists and works
#   c. side by side, same batch, seq 256, Mix-LN, Adam every step, warm-up then timed steps:
#      small (batch 8), llama71m (batch 32), llama250m and llama1b (the largest of 32,16,8,4 at
#      which mixln and PyTorch eager both fit) — mixln `bench --device cuda --precision bf16`,
#      PyTorch eager with bf16 autocast and torch.compile (scripts/compare/torch_bench.py
#      --attention sdpa): tok/s, MFU against the GPU's nominal dense bf16 peak (H100/H200 989e12),
#      peak device memory, PyTorch's SDPA backend; mixln's launches_per_step, phases (ms per
#      step), mfu_nominal, mfu_measured, peak_device_bytes where its bench prints them ("n/a"
#      where not)
# (c runs last: it takes what is left of the time budget, BUDGET seconds, 470 by default; a step
# that would not fit is reported "not run".) Every step has its own timeout. Prints a table of the
# steps and one of the speeds; with OUT set writes $OUT/gpu_perf.txt (both tables),
# $OUT/gpu_perf.json (every record) and $OUT/gpu_perf.log (the whole output). Without a GPU it
# checks the bundle and reports every GPU step as "not run".
# Device tool: run with command "OUT=$OUT scripts/gpu/gpu_perf.sh gpu-bundle", carry ["gpu-bundle"].
# Environment: BUDGET (470), MODELS ("small llama71m llama250m llama1b"), PYTHON (python3),
# WORK (/tmp/mixln-perf). Exit status: 0 when every step that ran passed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=scripts/gpu/bundle_env.sh
source scripts/gpu/bundle_env.sh
bundle=${1:-gpu-bundle}
work=${WORK:-/tmp/mixln-perf}
PY=${PYTHON:-python3}
BUDGET=${BUDGET:-470}
MODELS=${MODELS:-small llama71m llama250m llama1b}
start=$SECONDS
failed=0

if [[ ! -f $bundle/payload.tar.xz ]]; then
  echo "gpu_perf: no $bundle/payload.tar.xz (make it with scripts/gpu/gpu_bundle.sh on a CPU machine)" >&2
  exit 1
fi
rm -rf "$work"
mkdir -p "$work" ${OUT:+"$OUT"}
log=${OUT:-$work}/gpu_perf.log
exec > >(tee "$log") 2>&1
records=$work/records.jsonl
: > "$records"

# --- helpers -------------------------------------------------------------------------------
# perf.py: JSON in and out (bench lines, records, the loss comparison, the tables).
cat > "$work/perf.py" <<'PY'
import json, sys

def last_json(path):
    try:
        for line in reversed(open(path, errors="replace").read().splitlines()):
            line = line.strip()
            if line.startswith("{"):
                return json.loads(line)
    except (OSError, ValueError):
        pass
    return None

def fmt(v, spec="%.4g"):
    return "n/a" if v is None else (spec % v if isinstance(v, (int, float)) else str(v))

cmd = sys.argv[1]
if cmd == "field":  # FILE KEY: the value, or n/a
    j = last_json(sys.argv[2]) or {}
    v = j.get(sys.argv[3])
    print("n/a" if v is None else (json.dumps(v) if isinstance(v, (dict, list)) else v))
elif cmd == "record":  # FILE STEP RESULT DETAIL [KEY=JSONFILE|KEY=VALUE]...
    rec = {"step": sys.argv[3], "result": sys.argv[4], "detail": sys.argv[5]}
    for kv in sys.argv[6:]:
        k, _, v = kv.partition("=")
        if v.startswith("@"):
            rec[k] = last_json(v[1:])
        else:
            try:
                rec[k] = json.loads(v)
            except ValueError:
                rec[k] = v
    with open(sys.argv[2], "a") as f:
        f.write(json.dumps(rec) + "\n")
elif cmd == "mixln":  # FILE PEAK: one detail line of a mixln bench JSON line
    j = last_json(sys.argv[2]) or {}
    peak = float(sys.argv[3])
    tok, fpt = j.get("tok_s"), j.get("flops_per_token")
    mfu = 100 * tok * fpt / peak if tok and fpt and peak else None
    ph = j.get("phases")
    phases = ", ".join("%s %.2f" % (k, v) for k, v in sorted(ph.items(), key=lambda kv: -kv[1])[:6]
                       if isinstance(v, (int, float))) if isinstance(ph, dict) else "n/a"
    print("%s tok/s, MFU %s%% (bench: nominal %s, measured %s), peak %s MiB, %s launches/step; ms/step: %s" % (
        fmt(tok, "%.0f"), fmt(mfu, "%.1f"), fmt(j.get("mfu_nominal")), fmt(j.get("mfu_measured")),
        fmt(j["peak_device_bytes"] / 2**20 if isinstance(j.get("peak_device_bytes"), (int, float)) else None, "%.0f"),
        fmt(j.get("launches_per_step"), "%.0f"), phases))
elif cmd == "report":  # RECORDS TITLE OUT.json OUT.txt
    recs = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
    lines = [sys.argv[3], "", "| step | result | detail |", "|---|---|---|"]
    lines += ["| %s | %s | %s |" % (r["step"], r["result"], r["detail"]) for r in recs if r.get("kind") != "speed"]
    speed = [r for r in recs if r.get("kind") == "speed"]
    if speed:
        lines += ["", "| model | framework | batch | tok/s | MFU | peak memory | SDPA backend | vs mixln |",
                  "|---|---|---|---|---|---|---|---|"]
        for r in speed:
            lines.append("| %s | %s | %s | %s | %s | %s | %s | %s |" % (
                r["model"], r["framework"], fmt(r.get("batch")), fmt(r.get("tok_s"), "%.0f"),
                fmt(r.get("mfu_pct"), "%.1f%%"),
                fmt(r["peak_bytes"] / 2**30 if isinstance(r.get("peak_bytes"), (int, float)) else None, "%.2f GiB"),
                fmt(r.get("sdpa_backend")), fmt(r.get("mixln_ratio"), "%.2fx")))
    text = "\n".join(lines) + "\n"
    print(text, end="")
    open(sys.argv[5], "w").write(text)
    json.dump({"title": sys.argv[3], "records": recs}, open(sys.argv[4], "w"), indent=1)
PY
perf() { "$PY" "$work/perf.py" "$@"; }
# note STEP RESULT DETAIL [KEY=VALUE | KEY=@FILE]...: a row of the table and a JSON record
note() {
  [[ $2 == FAIL ]] && failed=1
  printf '%-48s %-8s %s\n' "$1" "$2" "$3"
  perf record "$records" "$@"
}
say() { echo; echo "== $* ($((SECONDS - start)) s)"; }
left() { echo $((BUDGET - (SECONDS - start))); }
# within WANT: WANT seconds, or what is left of the budget less a margin; 0 when under 15 s
within() {
  local l=$(($(left) - 10))
  ((l > $1)) && l=$1
  ((l < 15)) && l=0
  echo "$l"
}
why() { if (($1 == 124)); then echo "timed out after $2 s"; else echo "exit status $1"; fi; }
oom() { grep -qiE 'out of memory|cudaErrorMemoryAllocation|OutOfMemoryError' "$1"; }

# --- the bundle ----------------------------------------------------------------------------
say "bundle"
cat "$bundle/manifest.txt"
unpack_bundle "$bundle" "$work" gpu_perf
if [[ -z $bundle_missing ]]; then note "bundled programs' libraries resolve" ok "$(ls "$bin" | tr '\n' ' ')"
else note "bundled programs' libraries resolve" FAIL "$(echo "$bundle_missing" | tr '\n' ';' | tr -s '\t ' ' ')"; fi
ref100=$work/ref/tiny_mixln_100.jsonl
if [[ -s $ref100 && -f $work/data/tiny/val.bin ]] && (($(grep -c '"loss"' "$ref100") >= 100)); then
  note "100-step CPU reference (tiny_mixln)" ok "$(grep -c '"loss"' "$ref100") loss lines"
else
  note "100-step CPU reference (tiny_mixln)" FAIL "ref/tiny_mixln_100.jsonl missing or under 100 steps (rebuild the bundle)"
fi

say "GPU"
gpu=""
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  gpu=$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | head -n 1)
fi
if [[ -z $gpu ]]; then
  echo "no NVIDIA GPU here: every GPU step is reported as not run"
  for s in "ceilings (bench)" "test_cuda attention cases" "test_cuda (whole)" "tiny_mixln_cuda 100 steps vs CPU (fp32)" \
           "tiny_mixln_cuda 100 steps vs CPU (bf16)" "compute-sanitizer memcheck (attention)" \
           "compute-sanitizer racecheck (attention)"; do
    note "$s" "not run" "no GPU on this machine"
  done
  for m in $MODELS; do note "speed $m: mixln, torch eager, torch.compile" "not run" "no GPU on this machine"; done
else
  note "GPU" ok "$gpu"
  case "$gpu" in
    *H100* | *H200* | *H800*) peak=989e12 ;;
    *A100* | *A800*) peak=312e12 ;;
    *L40S*) peak=362e12 ;;
    *) peak=${PEAK_FLOPS:-0} ;;
  esac

  # mixln's bench: --device cuda where bench takes it (a bench without the flag: run without it)
  mixln_bench() {  # OUTFILE TRAINER TIMEOUT ARGS...
    local out=$1 t=$2 lim=$3
    shift 3
    timeout "$lim" "$bin/$t" bench --device cuda --precision bf16 "$@" > "$out" 2>&1
    local rc=$?
    if ((rc != 0)) && grep -q "unknown flag --device" "$out"; then
      timeout "$lim" "$bin/$t" bench --precision bf16 "$@" > "$out" 2>&1
      rc=$?
    fi
    return $rc
  }

  # a. the ceilings, from the first bench of llama71m (an 8192³ bf16 GEMM, a large device copy)
  say "a. ceilings"
  if [[ -x $bin/llama71m_mixln_cuda ]] && lim=$(within 90) && ((lim > 0)) &&
     mixln_bench "$work/ceil.json" llama71m_mixln_cuda "$lim" --batch 8 --seq 256 --steps 2 --warmup 1; then
    note "ceilings (bench)" ok "GEMM $(perf field "$work/ceil.json" ceiling_gemm_tflops) TFLOP/s (bf16 8192³), copy $(perf field "$work/ceil.json" ceiling_copy_gbs) GB/s; nominal bf16 peak $peak" \
      "bench=@$work/ceil.json" "gpu=$gpu" "nominal_peak_flops=$peak"
  else
    note "ceilings (bench)" FAIL "bench failed: $(tail -n 1 "$work/ceil.json" 2>/dev/null)"
  fi

  # b. the gate
  say "b. test_cuda attention cases"
  if lim=$(within 120) && ((lim > 0)); then
    if MIXLN_EXPECT_GPU=1 timeout "$lim" "$bin/test_cuda" -tc="*attention*" > "$work/tc_attention.txt" 2>&1; then
      note "test_cuda attention cases" ok "$(grep -E 'test cases' "$work/tc_attention.txt" | tail -n 1 | tr -s ' ')"
    else
      note "test_cuda attention cases" FAIL "$(grep -E 'test cases|FAILED|ERROR|Timeout|test_cuda:' "$work/tc_attention.txt" | head -n 3 | tr '\n' ' ')"
    fi
    tail -n 5 "$work/tc_attention.txt"
  else note "test_cuda attention cases" "not run" "time budget spent"; fi

  say "b. tiny_mixln_cuda 100 steps"
  for prec in fp32 bf16; do
    tol=5e-3
    [[ $prec == bf16 ]] && tol=2e-2
    out=$work/runs/tiny_$prec
    mkdir -p "$work/runs"
    if ! lim=$(within 60) || ((lim == 0)); then note "tiny_mixln_cuda 100 steps vs CPU ($prec)" "not run" "time budget spent"; continue; fi
    if timeout "$lim" "$bin/tiny_mixln_cuda" train --data "$work/data/tiny" --out "$out" --steps 100 --batch 8 --seq 64 \
        --lr 1e-3 --seed 0 --eval-every 0 --eval-tokens 8192 --quiet --precision "$prec" 2> "$out.err"; then
      IFS='|' read -r verdict detail < <("$PY" scripts/gpu/compare_losses.py "$ref100" "$out/log.jsonl" "$tol")
      note "tiny_mixln_cuda 100 steps vs CPU ($prec)" "$verdict" "$detail"
    else
      note "tiny_mixln_cuda 100 steps vs CPU ($prec)" FAIL "the run failed: $(tail -n 1 "$out.err" 2>/dev/null)"
    fi
  done

  say "b. test_cuda (whole)"
  if lim=$(within 150) && ((lim > 0)); then
    if MIXLN_EXPECT_GPU=1 timeout "$lim" "$bin/test_cuda" > "$work/tc_all.txt" 2>&1; then
      note "test_cuda (whole)" ok "$(grep -E 'test cases' "$work/tc_all.txt" | tail -n 1 | tr -s ' ')"
    else
      note "test_cuda (whole)" FAIL "$(why $? "$lim"): $(grep -E 'test cases|FAILED|ERROR|test_cuda:' "$work/tc_all.txt" | head -n 3 | tr '\n' ' ')"
    fi
    tail -n 5 "$work/tc_all.txt"
  else note "test_cuda (whole)" "not run" "time budget spent"; fi

  # d. compute-sanitizer over the attention cases
  say "d. compute-sanitizer"
  san=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda/compute-sanitizer/compute-sanitizer 2>/dev/null | head -n 1)
  for tool in memcheck racecheck; do
    if [[ -z $san ]]; then note "compute-sanitizer $tool (attention)" "not run" "no compute-sanitizer on this machine"; continue; fi
    if ! lim=$(within 60) || ((lim == 0)); then note "compute-sanitizer $tool (attention)" "not run" "time budget spent"; continue; fi
    MIXLN_EXPECT_GPU=1 timeout "$lim" "$san" --tool "$tool" --error-exitcode 86 "$bin/test_cuda" -tc="*attention*" > "$work/san_$tool.txt" 2>&1
    rc=$?
    summ=$(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|test cases' "$work/san_$tool.txt" | tr -s ' ' | tr '\n' ' ')
    if ((rc == 0)); then note "compute-sanitizer $tool (attention)" ok "$summ"
    elif ((rc == 124)); then note "compute-sanitizer $tool (attention)" "not run" "timed out after ${lim}s: $summ"
    elif grep -qiE 'Device not supported|not supported on this|Unable to find|error 999' "$work/san_$tool.txt" && ! grep -q 'SUMMARY' "$work/san_$tool.txt"; then
      note "compute-sanitizer $tool (attention)" "not run" "the sanitizer does not work here: $(grep -m1 -iE 'not supported|unable|error' "$work/san_$tool.txt" | cut -c1-120)"
    else note "compute-sanitizer $tool (attention)" FAIL "rc $rc: $summ $(grep -m2 -E '^========= (Invalid|Race|Error)' "$work/san_$tool.txt" | tr '\n' ' ' | cut -c1-200)"; fi
  done

  # c. side by side
  torch_run() {  # OUTFILE TIMEOUT MODE(eager|compile) BATCH TORCH-ARGS...
    local out=$1 lim=$2 mode=$3 b=$4
    shift 4
    local extra=()
    [[ $mode == compile ]] && extra=(--compile)
    timeout "$lim" "$PY" scripts/compare/torch_bench.py --device cuda --autocast bf16 --attention sdpa \
      "${extra[@]}" --batch "$b" --seq 256 "$@" > "$out" 2>&1
  }
  speed_record() {  # MODEL FRAMEWORK FILE BATCH FLOPS_PER_TOKEN MIXLN_TOK_S
    local tok mfu ratio=null peakb sdpa
    tok=$(perf field "$3" tok_s)
    [[ $tok == n/a ]] && tok=null
    mfu=$(awk -v t="$tok" -v f="$5" -v p="$peak" 'BEGIN { if (t == "null" || f == "n/a" || p == 0) print "null"; else printf "%.3f", 100 * t * f / p }')
    [[ $2 != mixln && $tok != null && $6 != n/a ]] && ratio=$(awk -v a="$6" -v b="$tok" 'BEGIN { printf "%.4f", a / b }')
    if [[ $2 == mixln ]]; then peakb=$(perf field "$3" peak_device_bytes); sdpa='"(its own kernels)"'
    else peakb=$(perf field "$3" peak_memory_bytes); sdpa=$(perf field "$3" sdpa_backend); sdpa="\"$sdpa\""; fi
    [[ $peakb == n/a ]] && peakb=null
    perf record "$records" "speed $1 $2" "$([[ $tok == null ]] && echo FAIL || echo ok)" "batch $4" kind=speed "model=$1" \
      "framework=$2" "batch=$4" "tok_s=$tok" "mfu_pct=$mfu" "peak_bytes=$peakb" "sdpa_backend=$sdpa" \
      "mixln_ratio=$ratio" "raw=@$3"
  }
  for m in $MODELS; do
    case $m in
      small) t=small_mixln_cuda; batches="8"; steps=20; targs=(--vocab 4096 --hidden 256 --intermediate 688 --heads 4 --post 2 --pre 6) ;;
      llama71m) t=llama71m_mixln_cuda; batches="32"; steps=10; targs=(--vocab 32000 --hidden 512 --intermediate 1368 --heads 8 --post 3 --pre 9) ;;
      llama250m) t=llama250m_mixln_cuda; batches="32 16 8 4"; steps=6; targs=(--vocab 32000 --hidden 768 --intermediate 2560 --heads 16 --post 6 --pre 18) ;;
      llama1b) t=llama1b_mixln_cuda; batches="32 16 8 4"; steps=5; targs=(--vocab 32000 --hidden 2048 --intermediate 5461 --heads 32 --post 6 --pre 18) ;;
      *) note "speed $m" FAIL "unknown model (small, llama71m, llama250m, llama1b)"; continue ;;
    esac
    say "c. speed $m"
    if [[ ! -x $bin/$t ]]; then note "speed $m" "not run" "$t is not in the bundle"; continue; fi
    done_m=""
    for b in $batches; do
      lim=$(within 120)
      if ((lim == 0)); then note "speed $m" "not run" "time budget spent"; done_m=1; break; fi
      mixln_bench "$work/${m}_mixln.json" "$t" "$lim" --batch "$b" --seq 256 --steps "$steps" --warmup 2
      rc=$?
      if ((rc != 0)); then
        oom "$work/${m}_mixln.json" && { echo "mixln: out of memory at batch $b"; continue; }
        note "speed $m mixln" FAIL "batch $b: rc $rc: $(tail -n 1 "$work/${m}_mixln.json" | cut -c1-160)"; done_m=1; break
      fi
      lim=$(within 120)
      ((lim == 0)) && { note "speed $m" "not run" "time budget spent after mixln"; done_m=1; break; }
      torch_run "$work/${m}_eager.json" "$lim" eager "$b" --steps "$steps" --warmup 2 "${targs[@]}"
      rc=$?
      if ((rc != 0)) && oom "$work/${m}_eager.json" && [[ $b != "${batches##* }" ]]; then
        echo "torch eager: out of memory at batch $b"; continue
      fi
      fpt=$(perf field "$work/${m}_mixln.json" flops_per_token)
      mtok=$(perf field "$work/${m}_mixln.json" tok_s)
      detail="batch $b: mixln $(perf mixln "$work/${m}_mixln.json" "$peak")"
      note "speed $m mixln" ok "$detail" kind=info
      speed_record "$m" mixln "$work/${m}_mixln.json" "$b" "$fpt" "$mtok"
      speed_record "$m" "torch eager" "$work/${m}_eager.json" "$b" "$fpt" "$mtok"
      ((rc != 0)) && note "speed $m torch eager" FAIL "$(why $rc "$lim"): $(grep -v '^\s*$' "$work/${m}_eager.json" | tail -n 1 | cut -c1-160)"
      lim=$(within 180)
      if ((lim == 0)); then note "speed $m torch.compile" "not run" "time budget spent"
      else
        torch_run "$work/${m}_compile.json" "$lim" compile "$b" --steps "$steps" --warmup 3 "${targs[@]}"
        rc=$?
        speed_record "$m" "torch.compile" "$work/${m}_compile.json" "$b" "$fpt" "$mtok"
        ((rc != 0)) && note "speed $m torch.compile" FAIL "$(why $rc "$lim"): $(grep -v '^\s*$' "$work/${m}_compile.json" | tail -n 1 | cut -c1-160)"
      fi
      done_m=1
      break
    done
    [[ -z $done_m ]] && note "speed $m" FAIL "out of memory at every batch of: $batches"
  done
fi

say "summary"
title="mixln GPU perf, $(date -u '+%Y-%m-%d %H:%M UTC'), $(sed -n 's/^commit: //p' "$bundle/manifest.txt"), ${gpu:-no GPU}, $((SECONDS - start)) s"
perf report "$records" "$title" "${OUT:-$work}/gpu_perf.json" "${OUT:-$work}/gpu_perf.txt"
exit $failed
