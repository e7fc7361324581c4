#!/usr/bin/env bash
# The depth study's script on a tiny plan (two placements, two seeds, a few steps, and a run
# that diverges): every run lands in results.csv with its files, a rerun skips them, a killed
# run resumes, and the report computes its tables from the data; the vision study's script on
# two two-step ViT runs. The studies themselves never run here.
# usage: cli_study.sh BIN_DIR WORK_DIR
set -euo pipefail
bin=$1
work=$(realpath -m "$2")
rm -rf "$work"
mkdir -p "$work"
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
source "$here/lib.sh"
licence_texts

"$bin/mixln-prepare" --text "${texts[@]}" --vocab 512 --out "$work/data" --val-frac 0.2 > /dev/null
cat > "$work/plan.txt" <<'EOF'
# trainer seed lr steps batch seq analyses
tiny_preln 0 1e-3 6 2 32 yes
tiny_mixln 0 1e-3 6 2 32 yes
tiny_preln 1 1e-3 6 2 32 yes   # a comment after a run
tiny_mixln 1 1e-3 6 2 32 yes
tiny_mixln 0 1e4 6 2 32 no
tiny_postln 0 3e-3 6 2 32 no
tiny_preln 0 1e-3 6 2 32 no mixln-authors
tiny_mixln 0 1e-3 6 2 32 no mixln-authors
EOF
study() {
  env PLAN="$work/plan.txt" STUDY_DIR="$work/study" RUNS="$work/runs" DATA="$work/data" BIN="$bin" \
    EVAL_TOKENS=2048 ANALYSIS_TOKENS=1024 REPORT="$work/report.md" IMG="$work/img" "$root/scripts/study/study.sh" "$@"
}
study > "$work/out1.txt"
csv=$work/study/results.csv
[[ $(wc -l < "$csv") -eq 9 ]] || fail "results.csv should hold a header and 8 runs: $(cat "$csv")"
head -n 1 "$csv" | grep -q '^run,trainer,config,placement,layers,seed,lr,steps,batch,seq,tokens,status' ||
  fail "results.csv header: $(head -n 1 "$csv")"
grep -q '^tiny_mixln_s1_lr1e-3_6x2x32,tiny_mixln,tiny,mixln,8,1,1e-3,6,2,32,384,ok,' "$csv" ||
  fail "the row of tiny_mixln seed 1: $(grep s1 "$csv")"
grep -q '^tiny_mixln_s0_lr1e4_6x2x32,.*,diverged,[0-9]' "$csv" || fail "lr 1e4 was not recorded as diverged: $(cat "$csv")"
grep -q '^tiny_mixln_s0_lr1e-3_6x2x32_init-mixln-authors,tiny_mixln,.*,mixln-authors,[0-9a-f]\{12\}$' "$csv" ||
  fail "the init recipe's run is not recorded with its init: $(cat "$csv")"
id=$(python3 "$root/scripts/study/study.py" data-id "$work/data")
[[ $(awk -F, 'NR > 1 { print $24 }' "$csv" | sort -u) == "$id" ]] || fail "the rows do not record the shards' data id $id"
grep -q '"init": "mixln-authors"' "$work/runs/tiny_mixln_s0_lr1e-3_6x2x32_init-mixln-authors/config.json" ||
  fail "the plan's init column did not reach the trainer"
# the commit the trainers' tree was at (HEAD then; a commit made meanwhile, as a study running in
# this tree makes, is after it)
c=$(awk -F, 'NR == 2 { print $21 }' "$csv")
[[ $c =~ ^[0-9a-f]{12}$ ]] && git -C "$root" merge-base --is-ancestor "$c" HEAD || fail "the rows do not record the commit: '$c'"
for f in curve.csv grad_norms.csv angular.csv layer_drop.csv residual_rms.csv residual_rms_init.csv; do
  [[ -s $work/study/runs/tiny_preln_s1_lr1e-3_6x2x32/$f ]] || fail "the run's $f was not kept"
done
# grad norms at step 1 and the last step, 8 layers each
[[ $(grep -c '^1,' "$work/study/runs/tiny_preln_s1_lr1e-3_6x2x32/grad_norms.csv") -eq 8 &&
   $(grep -c '^6,' "$work/study/runs/tiny_preln_s1_lr1e-3_6x2x32/grad_norms.csv") -eq 8 ]] ||
  fail "grad_norms.csv lacks step 1 or step 6"
# the report: means ± std over the two seeds, paired differences, verdicts, every run
for s in "mean ± standard deviation" "| tiny | 8 |" "± " "## The claims, judged" "Mix-LN reaches a lower perplexity than Pre-LN" \
         "diverged" "## Every run" "## Angular distance between layers at tiny" \
         "## The cost of removing one layer at tiny" "## The initialisation regime at tiny: \`--init mixln-authors\`" \
         "[95% interval]" "the unigram model's" "## Learning rates at tiny" \
         "### The residual stream's RMS through the stack (tiny)"; do
  grep -qF -- "$s" "$work/report.md" || fail "the report lacks '$s'"
done
# the report's Pre-LN cell is the mean and sample std of the two seeds in results.csv
expect=$(awk -F, '$3 == "tiny" && $4 == "preln" && $12 == "ok" { x[n++] = $16 }
  END { m = (x[0] + x[1]) / 2; s = sqrt(((x[0] - m) ^ 2 + (x[1] - m) ^ 2)); printf "%.2f ± %.2f (2)", m, s }' "$csv")
grep -qF "$expect" "$work/report.md" || fail "the report's Pre-LN cell is not '$expect': $(grep '| tiny |' "$work/report.md")"

# a rerun skips every finished run and appends nothing
study > "$work/out2.txt"
[[ $(grep -c ': done (in' "$work/out2.txt") -eq 8 ]] || fail "a rerun did not skip the finished runs: $(cat "$work/out2.txt")"
[[ $(wc -l < "$csv") -eq 9 ]] || fail "a rerun changed results.csv"

# an analysed run recorded before residual-rms existed gets its residual RMS (at init, and trained
# while its checkpoint is here) on the next pass, without running again
kept=$work/study/runs/tiny_preln_s1_lr1e-3_6x2x32
cp "$kept/residual_rms.csv" "$work/rms_before.csv"
rm "$kept/residual_rms.csv" "$kept/residual_rms_init.csv"
study > "$work/out2b.txt"
grep -q "tiny_preln_s1_lr1e-3_6x2x32: residual RMS backfilled" "$work/out2b.txt" || fail "no backfill: $(cat "$work/out2b.txt")"
cmp "$kept/residual_rms.csv" "$work/rms_before.csv" || fail "the backfilled residual RMS differs from the run's own"
[[ $(wc -l < "$kept/residual_rms_init.csv") -eq 10 ]] || fail "the backfilled residual RMS at init: $(cat "$kept/residual_rms_init.csv")"
[[ $(wc -l < "$csv") -eq 9 ]] || fail "a backfill changed results.csv"

# REFILL=1: an analysed run whose kept files predate a measurement is trained again; what it adds is
# kept only when the run reproduces its row; a row it does not reproduce keeps its files as they were
rm "$kept/residual_rms.csv" "$kept/residual_rms_init.csv"
cp "$kept/grad_norms.csv" "$work/gn_before.csv"
other=$work/study/runs/tiny_mixln_s1_lr1e-3_6x2x32
rm "$other/residual_rms.csv"
cp "$csv" "$work/results_true.csv"
awk -F, -v OFS=, '$1 == "tiny_mixln_s1_lr1e-3_6x2x32" { $15 = "9.99999" } 1' "$work/results_true.csv" > "$csv"
cp "$csv" "$work/results_tampered.csv"
REFILL=1 ONLY='^tiny_(pre|mix)ln 1 ' study > "$work/out2c.txt" 2> "$work/err2c.txt"
grep -q "tiny_preln_s1_lr1e-3_6x2x32: reproduced (val loss" "$work/out2c.txt" || fail "no refill: $(cat "$work/out2c.txt" "$work/err2c.txt")"
cmp "$kept/residual_rms.csv" "$work/rms_before.csv" || fail "the refilled residual RMS differs from the run's own"
cmp "$kept/grad_norms.csv" "$work/gn_before.csv" || fail "the refilled gradient norms differ at the same steps"
[[ -s $kept/residual_rms_init.csv ]] && grep -q "reproduced exactly" "$kept/refill.txt" || fail "refill.txt or the init RMS is missing"
grep -q "tiny_mixln_s1_lr1e-3_6x2x32 is not reproduced: its row's validation loss is 9.99999" "$work/err2c.txt" ||
  fail "a run that does not reproduce its row was not said so: $(cat "$work/err2c.txt")"
[[ ! -f $other/residual_rms.csv && ! -f $other/refill.txt ]] || fail "a run that did not reproduce its row was refilled"
cmp "$csv" "$work/results_tampered.csv" || fail "a refill changed results.csv"
cp "$work/results_true.csv" "$csv"

# a run stopped midway resumes from its checkpoint (as after a kill), then lands once
echo "tiny_postln 0 1e-3 8 2 32 no" >> "$work/plan.txt"
"$bin/tiny_postln" train --data "$work/data" --out "$work/runs/tiny_postln_s0_lr1e-3_8x2x32" --steps 8 --batch 2 --seq 32 \
  --lr 1e-3 --seed 0 --eval-every 0 --eval-tokens 2048 --ckpt-every 2 --grad-norms-at 1,8 --quiet --stop-at 4
echo "$id" > "$work/runs/tiny_postln_s0_lr1e-3_8x2x32.data_id"  # as study.sh marks a run it starts
study > "$work/out3.txt"
grep -q "tiny_postln_s0_lr1e-3_8x2x32: 8 steps of 2 x 32 tokens (from step 4)" "$work/out3.txt" ||
  fail "the stopped run did not resume: $(cat "$work/out3.txt")"
# a checkpoint made on other token shards is not resumed: the run starts again
echo "tiny_postln 1 1e-3 8 2 32 no" >> "$work/plan.txt"
"$bin/tiny_postln" train --data "$work/data" --out "$work/runs/tiny_postln_s1_lr1e-3_8x2x32" --steps 8 --batch 2 --seq 32 \
  --lr 1e-3 --seed 1 --eval-every 0 --eval-tokens 2048 --ckpt-every 2 --grad-norms-at 1,8 --quiet --stop-at 4
echo "0123456789ab" > "$work/runs/tiny_postln_s1_lr1e-3_8x2x32.data_id"
study > "$work/out3b.txt" 2> "$work/err3b.txt"
grep -q "was trained on other token shards (data 0123456789ab); starting it again" "$work/err3b.txt" &&
  grep -q "tiny_postln_s1_lr1e-3_8x2x32: 8 steps of 2 x 32 tokens (from step 0)" "$work/out3b.txt" ||
  fail "a checkpoint on other shards was resumed: $(cat "$work/out3b.txt" "$work/err3b.txt")"
[[ $(grep -c '^tiny_postln_s0_lr1e-3_8x2x32,' "$csv") -eq 1 ]] || fail "the resumed run is not in results.csv once"

# the demo's table (scripts/demo.sh): two runs beside the study's spread for the same
# configuration, length and rate; a difference is stated against the larger spread
mkdir -p "$work/demo"
ln -s "$work/runs/tiny_preln_s0_lr1e-3_6x2x32" "$work/demo/preln"
ln -s "$work/runs/tiny_mixln_s0_lr1e-3_6x2x32" "$work/demo/mixln"
demo_table() {
  python3 "$root/scripts/study/study.py" demo-table --study "$work/study" --plan "$work/plan.txt" --runs "$work/demo" \
    --config tiny --lr 1e-3 --placements "preln mixln" "$@"
}
demo_table --tokens 384 > "$work/demo.txt"
pre=$(awk -F, '$1 == "tiny_preln_s0_lr1e-3_6x2x32" { printf "%.2f", $16 }' "$csv")
grep -qF "| Pre-LN | $pre | " "$work/demo.txt" || fail "the demo table's Pre-LN row is not the run's $pre: $(cat "$work/demo.txt")"
grep -qF -- "$expect |" "$work/demo.txt" || fail "the demo table lacks the study's Pre-LN spread '$expect': $(cat "$work/demo.txt")"
grep -qE "^Pre-LN − Mix-LN = [-+][0-9.]+ perplexity; the seed spread the study measured is [0-9.]+, so the difference is (beyond|within)" \
  "$work/demo.txt" || fail "the demo table's verdict line: $(cat "$work/demo.txt")"
demo_table --tokens 999 > "$work/demo.txt"
grep -q "not in the study" "$work/demo.txt" || fail "a length the study did not run was not said so: $(cat "$work/demo.txt")"
rm "$work/demo/mixln"
rc=0
demo_table --tokens 384 > /dev/null 2> "$work/err.txt" || rc=$?
[[ $rc -ne 0 && $(wc -l < "$work/err.txt") -eq 1 ]] || fail "a missing run's log was not one error line: $(cat "$work/err.txt")"

# token shards other than the recorded runs' are refused before anything runs
"$bin/mixln-prepare" --text "${texts[@]}" --vocab 512 --out "$work/data2" --val-frac 0.3 > /dev/null
rc=0
env PLAN="$work/plan.txt" STUDY_DIR="$work/study" RUNS="$work/runs" DATA="$work/data2" BIN="$bin" REPORT= \
  "$root/scripts/study/study.sh" > /dev/null 2> "$work/err.txt" || rc=$?
[[ $rc -ne 0 ]] && grep -q "is not the shards of the runs in" "$work/err.txt" ||
  fail "other token shards were not refused: $(cat "$work/err.txt")"

# runs recorded on another machine (as scripts/gpu/gpu_wide24.sh records wide24's on a GPU): a plan
# of `_cuda` twins from a prebuilt BIN (a CPU trainer stands in here), the row naming the machine it
# is given; `study.py merge` adds them to the study once, and refuses runs on other shards
mkdir -p "$work/gpubin"
ln -sf "$(realpath "$bin")/tiny_mixln" "$work/gpubin/tiny_mixln_cuda"
echo "tiny_mixln_cuda 2 1e-3 6 2 32 no" > "$work/gpu_plan.txt"
env PLAN="$work/gpu_plan.txt" STUDY_DIR="$work/gpu_study" RUNS="$work/gpu_runs" DATA="$work/data" BIN="$work/gpubin"   EVAL_TOKENS=2048 REPORT= MACHINE="Test GPU, CUDA" CKPT_EVERY=6 "$root/scripts/study/study.sh" > "$work/gpu_out.txt"
grep -q '^tiny_mixln_cuda_s2_lr1e-3_6x2x32,tiny_mixln_cuda,tiny,mixln,8,2,.*,Test GPU; CUDA,' "$work/gpu_study/results.csv" ||
  fail "the _cuda run's row: $(cat "$work/gpu_study/results.csv")"
rows=$(wc -l < "$csv")
python3 "$root/scripts/study/study.py" merge --source "$work/gpu_study" --study "$work/study" > "$work/merge.txt"
[[ $(wc -l < "$csv") -eq $((rows + 1)) ]] && grep -q '^tiny_mixln_cuda_s2_lr1e-3_6x2x32,' "$csv" &&
  [[ -s $work/study/runs/tiny_mixln_cuda_s2_lr1e-3_6x2x32/curve.csv ]] || fail "merge did not add the run: $(cat "$work/merge.txt")"
python3 "$root/scripts/study/study.py" merge --source "$work/gpu_study" --study "$work/study" > "$work/merge.txt"
[[ $(wc -l < "$csv") -eq $((rows + 1)) ]] && grep -q "merged 0 runs .* (1 already there)" "$work/merge.txt" ||
  fail "a second merge added the run again: $(cat "$work/merge.txt")"
sed -i "2s/,$id\$/,0123456789ab/" "$work/gpu_study/results.csv"
sed -i "2s/^tiny_mixln_cuda_s2/tiny_mixln_cuda_s3/" "$work/gpu_study/results.csv"
mv "$work/gpu_study/runs/tiny_mixln_cuda_s2_lr1e-3_6x2x32" "$work/gpu_study/runs/tiny_mixln_cuda_s3_lr1e-3_6x2x32"
cp "$csv" "$work/results_before_merge.csv"
rc=0
python3 "$root/scripts/study/study.py" merge --source "$work/gpu_study" --study "$work/study" 2> "$work/err.txt" || rc=$?
[[ $rc -ne 0 && $(wc -l < "$work/err.txt") -eq 1 ]] && grep -q "trained on different token shards" "$work/err.txt" &&
  cmp -s "$csv" "$work/results_before_merge.csv" || fail "runs on other shards were merged: $(cat "$work/err.txt")"
# a _cuda trainer is never built by study.sh: without BIN it is refused before anything runs
rc=0
env PLAN="$work/gpu_plan.txt" STUDY_DIR="$work/gpu_study" BIN= DATA="$work/data" "$root/scripts/study/study.sh" 2> "$work/err.txt" || rc=$?
[[ $rc -ne 0 ]] && grep -q "a _cuda trainer runs from a prebuilt BIN" "$work/err.txt" || fail "a _cuda plan without BIN: $(cat "$work/err.txt")"

# a bad plan line is refused with one line
echo "tiny_preln zero 1e-3 6 2 32 yes" > "$work/bad.txt"
rc=0
env PLAN="$work/bad.txt" STUDY_DIR="$work/study" BIN="$bin" DATA="$work/data" "$root/scripts/study/study.sh" 2> "$work/err.txt" || rc=$?
[[ $rc -ne 0 ]] && grep -q "must be whole numbers" "$work/err.txt" || fail "a bad plan line was not refused: $(cat "$work/err.txt")"

# --- the vision study (scripts/study/vision.sh): rows in vision.csv, a rerun skips them, the report's section ---
python3 - "$work/idx" <<'PY'
import gzip, os, random, struct, sys
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
rng = random.Random(0)
def idx(path, dims, data):
    gzip.open(path, "wb").write(bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", x) for x in dims) + bytes(data))
for split, n in (("train", 24), ("val", 12)):
    idx("%s/%s-images.gz" % (d, split), [n, 28, 28], [rng.randrange(256) for _ in range(n * 784)])
    idx("%s/%s-labels.gz" % (d, split), [n], [i % 10 for i in range(n)])
PY
"$bin/mixln-prepare-images" --train-images "$work/idx/train-images.gz" --train-labels "$work/idx/train-labels.gz" \
  --val-images "$work/idx/val-images.gz" --val-labels "$work/idx/val-labels.gz" --out "$work/images" > /dev/null
cat > "$work/vision_plan.txt" <<'EOF2'
# trainer seed lr steps batch crop-pad flip
vit_tiny_mixln 0 1e-3 2 4 2 yes
vit_tiny_mixln 1 1e-3 2 4 2 yes
vit_tiny_mixln 0 1e-3 2 4 0 no
EOF2
vision() {
  env PLAN="$work/vision_plan.txt" STUDY_DIR="$work/study" RUNS="$work/vision_runs" DATA="$work/images" BIN="$bin" \
    REPORT="$work/report.md" STUDY_PLAN="$work/plan.txt" TOKEN_DATA="$work/data" IMG="$work/img" \
    "$root/scripts/study/vision.sh" "$@"
}
vision > "$work/vision1.txt"
vcsv=$work/study/vision.csv
[[ $(wc -l < "$vcsv") -eq 4 ]] || fail "vision.csv should hold a header and 3 runs: $(cat "$vcsv")"
grep -q '^vit_tiny_mixln_s0_lr1e-3_2x4_pad2_flip,vit_tiny_mixln,vit_tiny,mixln,12,0,1e-3,2,4,8,2,yes,ok,,12,' "$vcsv" ||
  fail "the row of vit_tiny_mixln seed 0: $(cat "$vcsv")"
[[ -f $work/study/vision/vit_tiny_mixln_s0_lr1e-3_2x4_pad0/grad_norms.csv ]] || fail "the run's gradient norms were not kept"
vision > "$work/vision2.txt"
grep -q "vit_tiny_mixln_s0_lr1e-3_2x4_pad0: done" "$work/vision2.txt" || fail "a rerun did not skip a recorded run: $(cat "$work/vision2.txt")"
grep -q "^## Vision Transformers: Table 6" "$work/report.md" || fail "the report has no vision section"
grep -qE '^\| here, `vit_tiny` on Fashion-MNIST .* \| – \| – \| [0-9.]+ ± [0-9.]+ \(2\) \|$' "$work/report.md" ||
  fail "the report's vision row: $(grep 'here, ' "$work/report.md")"
grep -q "Mix-LN reaches a higher top-1 accuracy than Pre-LN (ViT) | vit_tiny, Fashion-MNIST | .* | not judged (0 paired seeds)" \
  "$work/report.md" || fail "the vision claim is not in the claims table"
rc=0
vision_bad() { env PLAN="$work/vision_plan.txt" STUDY_DIR="$work/study" BIN="$bin" DATA="$work/data" "$root/scripts/study/vision.sh"; }
vision_bad 2> "$work/err.txt" || rc=$?
[[ $rc -ne 0 ]] && grep -q "no image shards in $work/data" "$work/err.txt" || fail "token shards were taken for images: $(cat "$work/err.txt")"

echo "all study checks passed ($(grep -c . "$csv") lines in results.csv, $(grep -c . "$vcsv") in vision.csv; report $(wc -l < "$work/report.md") lines)"
