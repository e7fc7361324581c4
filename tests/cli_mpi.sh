#!/usr/bin/env bash
# Data-parallel training under mpirun, on the licence texts Debian ships:
#   1. 2 ranks × batch 2 equal 1 process × batch 2 × accum 2 (the same global batch of 4):
#      the same losses within 1e-6 relative and final weights within 1e-4 relative L2 (fp32
#      gradients are summed in another order);
#   2. a rank killed mid-run ends the job with a clear error, the last checkpoint intact;
#   3. a rank that hangs makes the others time out with a clear error instead of hanging;
#   4. --zero 1 (Adam moments sharded over the ranks) is the same run as without;
#   5. elastic resume: a run goes on with another split of the same global batch (2 ranks ->
#      1 process with --accum 2, 1 -> 2, ZeRO-1 on 2 -> unsharded on 1); another global batch
#      is refused.
# usage: cli_mpi.sh BIN_DIR WORK_DIR
set -euo pipefail
bin=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
source "$(dirname "$0")/lib.sh"
licence_texts
"$bin/mixln-prepare" --text "${texts[@]}" --vocab 512 --out "$work/data" --val-frac 0.2 > /dev/null
mpi=(mpirun -np 2 --allow-run-as-root --oversubscribe -x OMP_NUM_THREADS=1)
run=(--data "$work/data" --batch 2 --seq 32 --lr 3e-3 --seed 3 --ckpt-every 10 --eval-tokens 2048 --quiet)

# same_run A B FILE: runs A and B (of 20 steps) log the same losses within 1e-6 relative and end
# with FILE.safetensors (model or optimizer) within 1e-4 relative: the same run, summed in
# another order
same_run() {
  paste -d' ' <(grep '"loss"' "$work/$1/log.jsonl" | sed -E 's/.*"loss":([^,]*),.*/\1/') \
              <(grep '"loss"' "$work/$2/log.jsonl" | sed -E 's/.*"loss":([^,]*),.*/\1/') |
    awk '{ d = $1 - $2; if (d < 0) d = -d; if (d > 1e-6 * $2) { print "step " NR ": " $1 " vs " $2; bad = 1 } } END { exit bad || NR != 20 }' ||
    fail "$2 is not the same run as $1 (losses)"
  "$bin/golden_check" compare "$work/$1/ckpt-00000020/$3.safetensors" "$work/$2/ckpt-00000020/$3.safetensors" 1e-4 ||
    fail "$2 is not the same run as $1 ($3.safetensors)"
}
"${mpi[@]}" "$bin/tiny_mixln" train "${run[@]}" --steps 20 --out "$work/mpi"
OMP_NUM_THREADS=1 "$bin/tiny_mixln" train "${run[@]}" --steps 20 --accum 2 --out "$work/single"
[[ $(grep -c '"loss"' "$work/mpi/log.jsonl") -eq 20 ]] || fail "the MPI run logged $(grep -c '"loss"' "$work/mpi/log.jsonl") steps, not 20"
same_run mpi single model
grep -q '"world": 2' "$work/mpi/config.json" || fail "config.json does not record 2 ranks"
echo "2 ranks = 1 process with the same global batch"

# ZeRO-1: the Adam moments sharded over the 2 ranks give the same run — losses, weights and the
# (gathered) optimizer state of the checkpoints — with per-layer gradient norms at one step (the
# full reduction) and with clipping (the norm summed over the slices).
"${mpi[@]}" "$bin/tiny_mixln" train "${run[@]}" --steps 20 --zero 1 --grad-norms-at 5 --out "$work/zero"
cmp <(grep '"loss"' "$work/mpi/log.jsonl" | sed -E 's/.*"loss":([^,]*),.*/\1/') \
    <(grep '"loss"' "$work/zero/log.jsonl" | sed -E 's/.*"loss":([^,]*),.*/\1/') ||
  fail "--zero 1 changed the losses"
for f in model optimizer; do
  for s in 10 20; do
    "$bin/golden_check" compare "$work/mpi/ckpt-000000$s/$f.safetensors" "$work/zero/ckpt-000000$s/$f.safetensors" 1e-7 ||
      fail "--zero 1: $f.safetensors of step $s differs from the unsharded run's"
  done
done
grep -q '"zero": 1' "$work/zero/config.json" || fail "config.json does not record --zero 1"
"${mpi[@]}" "$bin/tiny_mixln" train "${run[@]}" --steps 20 --clip 0.05 --out "$work/clip"
"${mpi[@]}" "$bin/tiny_mixln" train "${run[@]}" --steps 20 --clip 0.05 --zero 1 --out "$work/clip_zero"
"$bin/golden_check" compare "$work/clip/ckpt-00000020/model.safetensors" "$work/clip_zero/ckpt-00000020/model.safetensors" 1e-6 ||
  fail "--zero 1 with --clip differs from the unsharded run"
# a ZeRO-1 checkpoint is an ordinary one: resumed without sharding, the run goes on the same
rm -rf "$work/zero_resume" && cp -r "$work/zero" "$work/zero_resume" && rm -rf "$work/zero_resume/ckpt-00000020"
echo ckpt-00000010 > "$work/zero_resume/latest"
"${mpi[@]}" "$bin/tiny_mixln" train "${run[@]}" --steps 20 --resume --out "$work/zero_resume"
"$bin/golden_check" compare "$work/mpi/ckpt-00000020/model.safetensors" "$work/zero_resume/ckpt-00000020/model.safetensors" 1e-7 ||
  fail "a ZeRO-1 checkpoint resumed without --zero does not continue the same run"
echo "ZeRO-1 on 2 ranks = the unsharded run (losses, weights, optimizer state; with clipping; resumed)"

# elastic resume: FROM's checkpoint of step 10 resumed as TO with --accum ACCUM by the command
# that follows (one process or mpirun)
resume_from_10() {
  local from=$1 to=$2 accum=$3
  shift 3
  rm -rf "$work/$to" && cp -r "$work/$from" "$work/$to" && rm -rf "$work/$to/ckpt-00000020"
  echo ckpt-00000010 > "$work/$to/latest"
  "$@" train "${run[@]}" --steps 20 --accum "$accum" --resume --out "$work/$to"
}
resume_from_10 mpi mpi_to_1 2 env OMP_NUM_THREADS=1 "$bin/tiny_mixln"
same_run mpi mpi_to_1 model
grep -q '"resplit"' "$work/mpi_to_1/config.json" || fail "config.json does not record the new split"
resume_from_10 single single_to_2 1 "${mpi[@]}" "$bin/tiny_mixln"
same_run single single_to_2 model
resume_from_10 zero zero_to_1 2 env OMP_NUM_THREADS=1 "$bin/tiny_mixln"
same_run zero zero_to_1 model
same_run zero zero_to_1 optimizer
rc=0
resume_from_10 mpi mpi_to_1_bad 1 env OMP_NUM_THREADS=1 "$bin/tiny_mixln" > /dev/null 2> "$work/err.txt" || rc=$?
[[ $rc -ne 0 && $(wc -l < "$work/err.txt") -eq 1 ]] &&
  grep -q "the global batch (--batch x --accum x ranks) is 2 x 1 x 1 = 2 but the run in $work/mpi_to_1_bad was started with 2 x 1 x 2 = 4" "$work/err.txt" ||
  fail "another global batch was not refused in one line: $(cat "$work/err.txt")"
echo "elastic resume: 2 ranks -> 1 process x accum 2, 1 -> 2 ranks, ZeRO-1 on 2 -> 1 continue the run; another global batch is refused"

# a rank dies at step 15: the job ends, with an error line, and ckpt 10 is intact
set +e
MIXLN_FAULT_KILL=1:15 timeout 300 "${mpi[@]}" -x MIXLN_FAULT_KILL "$bin/tiny_mixln" train "${run[@]}" --steps 30 \
  --out "$work/killed" > "$work/killed.out" 2>&1
rc=$?
set -e
[[ $rc -ne 0 && $rc -ne 124 ]] || fail "a dead rank did not end the job with an error (exit $rc)"
grep -q "error: rank 0: stopped by the MPI launcher" "$work/killed.out" || fail "no clear error line: $(cat "$work/killed.out")"
[[ $(cat "$work/killed/latest") == ckpt-00000010 ]] || fail "latest should still be ckpt-00000010"
"$bin/tiny_mixln" eval --ckpt "$work/killed" --data "$work/data" --eval-tokens 1024 > /dev/null ||
  fail "the last checkpoint of the killed run does not load"
echo "a killed rank ends the job (exit $rc) and leaves ckpt-00000010 intact"

# a rank hangs at step 5: the other times out after 5 s and aborts the job
set +e
MIXLN_FAULT_STOP=1:5 timeout 300 "${mpi[@]}" -x MIXLN_FAULT_STOP "$bin/tiny_mixln" train "${run[@]}" \
  --steps 20 --comm-timeout 5 --out "$work/hung" > "$work/hung.out" 2>&1
rc=$?
set -e
[[ $rc -ne 0 && $rc -ne 124 ]] || fail "a hung rank was not detected (exit $rc)"
grep -q "error: rank 0: an MPI allreduce did not complete within 5 s" "$work/hung.out" ||
  fail "no timeout error line: $(cat "$work/hung.out")"
echo "a hung rank is detected by the collective timeout (exit $rc)"
echo "all MPI checks passed"
