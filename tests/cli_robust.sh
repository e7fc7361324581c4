#!/usr/bin/env bash
# Nothing silently wrong, nothing lost (issue 12): one check per class of bad input, each
# expecting one clear error line, exit status 1 (never a signal) and nothing on disk lost.
#   shards that lie (dtype, count, vocabulary) · a validation split too short · non-finite
#   and overflowing flags · non-finite weights · outputs naming inputs · leftovers of dead
#   writers · two writers of one run · mixln-prepare replacing a folder as a whole.
# usage: cli_robust.sh BIN_DIR WORK_DIR
set -euo pipefail
bin=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
here=$(dirname "$0")
source "$here/lib.sh"
licence_texts
t=$bin/tiny_mixln
check=$bin/golden_check
batch=$here/golden/tiny_mixln/batch.safetensors

# expect_error PATTERN CMD...: fails unless CMD exits 1 with exactly one line on stderr that
# contains PATTERN.
ok() { echo "ok: $*"; }

"$bin/mixln-prepare" --text "${texts[@]}" --vocab 512 --out "$work/data" --val-frac 0.2 > /dev/null
run=(--data "$work/data" --steps 6 --batch 2 --seq 16 --lr 3e-3 --quiet)
on() { echo --data "$1" --steps 6 --batch 2 --seq 16 --lr 3e-3 --quiet; }  # the same, on other data

# --- shards -------------------------------------------------------------------------------
# a sidecar that lies about its dtype: uint16 ids read as uint32 give ids far beyond the vocab
cp -r "$work/data" "$work/lie"
bytes=$(stat -c %s "$work/lie/val.bin")
sed -i -E "s/\"dtype\": \"uint16\"/\"dtype\": \"uint32\"/; s/\"count\": [0-9]+/\"count\": $((bytes / 4))/" "$work/lie/val.bin.json"
expect_error "outside the model's vocabulary [0, 512)" "$t" eval --seed 1 --data "$work/lie"
ok "a sidecar lying about its dtype is refused"
# data prepared for a larger vocabulary: by the sidecar, and by the ids where the sidecar is silent
"$bin/mixln-prepare" --text "${texts[@]}" --vocab 1024 --out "$work/big" --val-frac 0.2 > /dev/null
expect_error "was made with vocab 1024, larger than the model's vocab 512" "$t" eval --seed 1 --data "$work/big"
expect_error "was made with vocab 1024" "$t" angular --seed 1 --data "$work/big" --out "$work/a.csv"
expect_error "was made with vocab 1024" "$t" layer-drop --seed 1 --data "$work/big" --out "$work/d.csv"
for split in train val; do sed -i -E '/"vocab_size"/d; s/"documents": ([0-9]+),/"documents": \1/' "$work/big/$split.bin.json"; done
expect_error "outside the model's vocabulary [0, 512)" "$t" train $(on "$work/big") --out "$work/run_big"
[[ ! -e $work/run_big/latest ]] || fail "a run on out-of-vocabulary data wrote a checkpoint"
ok "data prepared for a larger vocabulary is refused by eval, angular, layer-drop and train"
# a count whose byte size overflows 64 bits
cp -r "$work/data" "$work/huge"
sed -i -E 's/"count": [0-9]+/"count": 18446744073709551615/' "$work/huge/val.bin.json"
expect_error "more bytes than fit in 64 bits" "$t" eval --seed 1 --data "$work/huge"
ok "a sidecar count that overflows is refused"

# --- a validation split too short is found before the first step ----------------------------
cp -r "$work/data" "$work/short"
head -c 20 "$work/data/val.bin" > "$work/short/val.bin"
sed -i -E 's/"count": [0-9]+/"count": 10/' "$work/short/val.bin.json"
expect_error "validation split: 10 tokens are fewer than one sequence" "$t" train $(on "$work/short") --out "$work/run_short"
[[ ! -e $work/run_short/log.jsonl ]] || fail "training started on a validation split too short to evaluate"
ok "a validation split too short is refused before training"

# --- flags: finite, in range, 64-bit ---------------------------------------------------------
for bad in "--lr 1e39" "--lr nan" "--lr inf" "--beta1 nan" "--beta2 1" "--eps nan" "--eps 0" "--weight-decay nan" \
           "--min-lr-frac nan" "--clip nan" "--clip -1" "--warmup-frac nan" "--warmup-frac 2"; do
  read -r flag value <<< "$bad"
  expect_error "$flag" "$t" train "${run[@]}" --out "$work/run_flags" $flag "$value"
done
expect_error "--seq: 4294967328 is above the maximum 2147483647" "$t" train --data "$work/data" --steps 6 --batch 2 --lr 1e-3 \
  --out "$work/run_flags" --seq 4294967328
expect_error "--steps: 99999999999999999999 does not fit in 64 bits" "$t" train --data "$work/data" --batch 2 --seq 16 \
  --lr 1e-3 --out "$work/run_flags" --steps 99999999999999999999
expect_error "more than one step can hold" "$t" info --batch 2147483647 --seq 2
expect_error "larger than 64-bit sizes can count" "$t" info --batch 1 --seq 2147483647
[[ ! -e $work/run_flags ]] || fail "a refused command created its --out"
ok "non-finite, out-of-range and overflowing flags are refused"

# --- non-finite weights ------------------------------------------------------------------------
"$t" export-hf --seed 1 --out "$work/hf" > /dev/null 2>&1
"$check" poison "$work/hf/model.safetensors" "$work/nan.safetensors"
expect_error "--temperature: 'nan' is not a finite number" "$t" generate --weights "$work/hf/model.safetensors" --data "$work/data" --prompt x --temperature nan
expect_error "holds NaN or infinite values" "$t" eval --weights "$work/nan.safetensors" --data "$work/data"
expect_error "holds NaN or infinite values" "$t" grads --weights "$work/nan.safetensors" --batch "$batch" --out "$work/g2.safetensors"
# an update that blows the weights up: the guard names a checkpoint whose weights are finite
rc=0
"$t" train --data "$work/data" --steps 6 --batch 2 --seq 16 --quiet --out "$work/run_blowup" --lr 1e30 --ckpt-every 1 \
  2> "$work/err.txt" || rc=$?
[[ $rc -eq 1 ]] || fail "a run at --lr 1e30 ended with status $rc"
grep -qE "not finite|the loss is|the gradient norm is" "$work/err.txt" || fail "unexpected error: $(cat "$work/err.txt")"
for ckpt in "$work"/run_blowup/ckpt-*; do
  [[ -d $ckpt ]] || continue
  "$check" finite "$ckpt/model.safetensors" > /dev/null || fail "$ckpt holds non-finite weights"
done
ok "non-finite weights are refused, and never written as a checkpoint"

# --- no command writes over its own input ------------------------------------------------------
"$t" export-hf --seed 3 --out "$work/w3" > /dev/null 2>&1
cp "$work/w3/model.safetensors" "$work/w3.safetensors"
cp "$work/w3.safetensors" "$work/w3.orig"
expect_error "--out $work/w3.safetensors is also --weights" "$t" grads --weights "$work/w3.safetensors" --batch "$batch" --out "$work/w3.safetensors"
cmp "$work/w3.safetensors" "$work/w3.orig" || fail "grads wrote over its --weights"
"$t" train "${run[@]}" --out "$work/run" --ckpt-every 3 > /dev/null
cp "$work/run/config.json" "$work/config.orig"
expect_error "is or contains --ckpt" "$t" export-hf --ckpt "$work/run" --out "$work/run"
expect_error "lies inside checkpoint" "$t" export-hf --ckpt "$work/run" --out "$work/run/ckpt-00000006"
"$t" export-hf --ckpt "$work/run" --out "$work/run/hf" > /dev/null 2>&1 || fail "export-hf into RUN_DIR/hf was refused"
cmp "$work/run/config.json" "$work/config.orig" || fail "export-hf wrote over the run's config.json"
expect_error "lies inside --ckpt" "$t" grad-norms --ckpt "$work/run" --batch "$batch" --out "$work/run/ckpt-00000006/model.safetensors"
expect_error "overlaps --data" "$t" train "${run[@]}" --out "$work/data"
ok "outputs that name inputs are refused"

# --- leftovers of dead writers, and one writer per run ------------------------------------------
"$t" train --data "$work/data" --steps 9 --batch 2 --seq 16 --lr 3e-3 --quiet --out "$work/run2" --ckpt-every 3 --stop-at 3 > /dev/null
mkdir -p "$work/run2/.ckpt-tmp-99998" "$work/run2/.ckpt-old-99997"
echo junk > "$work/run2/log.jsonl.tmp-99996"
"$t" train --data "$work/data" --steps 9 --batch 2 --seq 16 --lr 3e-3 --quiet --out "$work/run2" --ckpt-every 3 --resume \
  > /dev/null 2> "$work/resume.err" || fail "resume: $(cat "$work/resume.err")"
for left in .ckpt-tmp-99998 .ckpt-old-99997 log.jsonl.tmp-99996; do
  [[ ! -e $work/run2/$left ]] || fail "a resumed run left $left of a dead writer"
done
[[ $(cat "$work/run2/latest") == ckpt-00000009 ]] || fail "the resumed run did not finish"
ok "temporaries of dead writers are removed on resume"
# a second trainer on a folder being written
"$t" train --data "$work/data" --steps 100000 --batch 2 --seq 16 --lr 3e-3 --quiet --out "$work/busy" > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 500); do [[ -s $work/busy/log.jsonl ]] && break; sleep 0.02; done
expect_error "is being written by another trainer (pid $pid)" "$t" train --data "$work/data" --steps 100000 --batch 2 --seq 16 --lr 3e-3 --quiet --out "$work/busy" --resume
kill "$pid"
wait "$pid" 2> /dev/null || true
ok "a run folder has one writer at a time"

# --- mixln-prepare makes the same shards on every machine: its tokenizer trainer's thread count
# is fixed, not the cores' (SentencePiece's result depends on it) -------------------------------
OMP_NUM_THREADS=1 "$bin/mixln-prepare" --text "${texts[@]}" --vocab 512 --out "$work/data1" --val-frac 0.2 > /dev/null
for f in tokenizer.vocab train.bin val.bin; do
  cmp -s "$work/data/$f" "$work/data1/$f" || fail "mixln-prepare's $f depends on the number of cores (OMP_NUM_THREADS)"
done
rm -rf "$work/data1"

# --- mixln-prepare replaces its folder as a whole, or refuses -----------------------------------
cp "$work/data/train.bin" "$work/train.orig"
expect_error "ocab" "$bin/mixln-prepare" --text "${texts[@]}" --vocab 60000 --out "$work/data" --val-frac 0.2
cmp "$work/data/train.bin" "$work/train.orig" || fail "a failed mixln-prepare changed the existing folder"
ls -a "$work" | grep -q '^data\.tmp-' && fail "a failed mixln-prepare left its temporary folder"
mkdir -p "$work/mine"
echo "my notes" > "$work/mine/notes.txt"
expect_error "holds notes.txt, which mixln-prepare did not write" "$bin/mixln-prepare" --text "${texts[@]}" --vocab 512 --out "$work/mine"
[[ -f $work/mine/notes.txt ]] || fail "mixln-prepare removed a folder it did not write"
expect_error "lies inside --out" "$bin/mixln-prepare" --text "$work/mine/notes.txt" "${texts[0]}" --vocab 512 --out "$work/mine"
printf 'ok \xc0\xaf overlong\n' > "$work/overlong.txt"
expect_error "an overlong encoding at byte 3" "$bin/mixln-prepare" --text "$work/overlong.txt" "${texts[0]}" --vocab 512 --out "$work/u"
printf 'ok \xed\xa0\x80 surrogate\n' > "$work/surrogate.txt"
expect_error "a UTF-16 surrogate at byte 3" "$bin/mixln-prepare" --text "$work/surrogate.txt" "${texts[0]}" --vocab 512 --out "$work/u"
"$bin/mixln-prepare" --text "${texts[@]}" --vocab 512 --out "$work/data" --val-frac 0.3 > /dev/null
[[ $(ls "$work/data" | sort | tr '\n' ' ') == "tokenizer.model tokenizer.vocab train.bin train.bin.json val.bin val.bin.json " ]] ||
  fail "mixln-prepare over a prepared folder did not replace it as a whole: $(ls -a "$work/data")"
ok "mixln-prepare replaces a folder as a whole or refuses; invalid UTF-8 is refused"

# --- mixln-prepare-images: IDX files (gzip or plain) to image shards; lies refused in one line ---
python3 - "$work/idx" <<'PY'
import gzip, os, struct, sys
d = sys.argv[1]
os.makedirs(d, exist_ok=True)
def idx(path, dims, data, gz):
    b = bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", x) for x in dims) + bytes(data)
    (gzip.open if gz else open)(path, "wb").write(b)
idx(d + "/train-images.gz", [6, 4, 4], [(7 * i) % 256 for i in range(96)], True)
idx(d + "/train-labels.gz", [6], [0, 1, 2, 2, 1, 0], True)
idx(d + "/val-images", [2, 4, 4], list(range(32)), False)
idx(d + "/val-labels", [2], [1, 0], False)
idx(d + "/labels-5", [6], [0, 1, 5, 2, 1, 0], False)
idx(d + "/labels-short", [5], [0, 1, 2, 2, 1], False)
idx(d + "/val-images-3x3", [2, 3, 3], list(range(18)), False)
PY
prep_images() { "$bin/mixln-prepare-images" --train-images "$work/idx/train-images.gz" --val-images "$work/idx/val-images" \
                  --val-labels "$work/idx/val-labels" --names "a,b,c" "$@"; }
prep_images --train-labels "$work/idx/train-labels.gz" --out "$work/img" > "$work/out.txt" || fail "mixln-prepare-images: $(cat "$work/out.txt")"
grep -q '"train_images": 6, "val_images": 2, "height": 4, "width": 4, "classes": 3' "$work/out.txt" ||
  fail "mixln-prepare-images summary: $(cat "$work/out.txt")"
python3 -c "import gzip,sys; sys.exit(gzip.open('$work/idx/train-images.gz').read()[16:] != open('$work/img/train.images.bin','rb').read())" ||
  fail "the training images' pixels are not the IDX file's"
cp "$work/img/train.images.bin" "$work/img.orig"
expect_error "labels-5: label 5 of image 2 is not below the 3 classes" prep_images --train-labels "$work/idx/labels-5" --out "$work/img"
expect_error "labels-short: holds 5 labels for the 6 images" prep_images --train-labels "$work/idx/labels-short" --out "$work/img"
expect_error "the validation images are 3×3, the training images 4×4" "$bin/mixln-prepare-images" --train-images "$work/idx/train-images.gz" \
  --train-labels "$work/idx/train-labels.gz" --val-images "$work/idx/val-images-3x3" --val-labels "$work/idx/val-labels" --out "$work/img"
expect_error "is not an IDX file" prep_images --train-labels "${texts[0]}" --out "$work/img"
head -c $(($(stat -c %s "$work/idx/train-images.gz") - 4)) "$work/idx/train-images.gz" > "$work/idx/cut.gz"  # half its trailer
expect_error "cut.gz: cannot be read to its end" "$bin/mixln-prepare-images" --train-images "$work/idx/cut.gz" \
  --train-labels "$work/idx/train-labels.gz" --val-images "$work/idx/val-images" --val-labels "$work/idx/val-labels" --out "$work/img"
expect_error "holds notes.txt, which mixln-prepare-images did not write" prep_images --train-labels "$work/idx/train-labels.gz" --out "$work/mine"
cmp -s "$work/img/train.images.bin" "$work/img.orig" || fail "a failed mixln-prepare-images changed the existing folder"
ok "mixln-prepare-images writes image shards or refuses in one line"

echo "all robustness checks passed"
