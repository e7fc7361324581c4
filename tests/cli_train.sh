#!/usr/bin/env bash
# The training command line end to end, on the licence texts Debian ships:
#   mixln-prepare → train → (SIGKILL, --resume: the same losses bit for bit) → eval →
#   generate → export-hf, and the errors of bad invocations.
# usage: cli_train.sh BIN_DIR WORK_DIR
set -euo pipefail
bin=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
source "$(dirname "$0")/lib.sh"
licence_texts

"$bin/mixln-prepare" --text "${texts[@]}" --vocab 512 --out "$work/data" --val-frac 0.2 > "$work/prepare.json"
grep -q '"train_tokens"' "$work/prepare.json" || fail "mixln-prepare printed no summary"
for f in tokenizer.model train.bin train.bin.json val.bin val.bin.json; do
  [[ -s $work/data/$f ]] || fail "mixln-prepare did not write $f"
done

run=(--data "$work/data" --steps 300 --batch 4 --seq 32 --lr 3e-3 --seed 5 --ckpt-every 20 --eval-every 100 --eval-tokens 2048
     --grad-norms-at 1,150,300 --quiet)
# uninterrupted
"$bin/tiny_mixln" train "${run[@]}" --out "$work/a"
# killed with SIGKILL after its first checkpoints, then resumed
"$bin/tiny_mixln" train "${run[@]}" --out "$work/b" &
pid=$!
for _ in $(seq 1 2000); do
  if [[ -f $work/b/latest ]] && [[ $(cat "$work/b/latest") > ckpt-00000040 ]]; then break; fi
  sleep 0.01
done
if kill -9 "$pid" 2>/dev/null; then
  killed=$(cat "$work/b/latest")
  wait "$pid" || true
  echo "killed at $(grep -c '"loss"' "$work/b/log.jsonl") logged steps, latest checkpoint $killed"
else
  wait "$pid" || true
  echo "warning: the run ended before it could be killed; resuming a finished run instead"
fi
"$bin/tiny_mixln" train "${run[@]}" --out "$work/b" --resume
strip() { grep -E '"(loss|val_loss)"' "$1" | sed -E 's/,"tok_s":[^,}]*//'; }
diff <(strip "$work/a/log.jsonl") <(strip "$work/b/log.jsonl") > /dev/null || fail "resumed run's log differs"
cmp "$work/a/ckpt-00000300/model.safetensors" "$work/b/ckpt-00000300/model.safetensors" || fail "final weights differ"
cmp "$work/a/grad_norms.csv" "$work/b/grad_norms.csv" || fail "resumed run's grad_norms.csv differs"
[[ $(head -n 1 "$work/a/grad_norms.csv") == "step,layer,grad_norm" ]] || fail "grad_norms.csv header"
[[ $(grep -c '^150,' "$work/a/grad_norms.csv") -eq 8 && $(wc -l < "$work/a/grad_norms.csv") -eq 25 ]] ||
  fail "grad_norms.csv should hold 8 layers at steps 1, 150, 300"
echo "killed + resumed run: identical losses and weights"

# eval of the checkpoint equals the run's last evaluation
"$bin/tiny_mixln" eval --ckpt "$work/a" --data "$work/data" --eval-tokens 2048 --batch 4 > "$work/eval.json"
want=$(grep '"val_ppl"' "$work/a/log.jsonl" | tail -n 1 | sed -E 's/.*"val_ppl":([0-9.eE+-]+).*/\1/')
got=$(sed -E 's/.*"val_ppl": ([0-9.eE+-]+).*/\1/' "$work/eval.json")
awk -v a="$want" -v b="$got" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-3 * a) }' ||
  fail "eval ppl $got differs from the run's $want"
awk -v p="$got" 'BEGIN { exit !(p < 100) }' || fail "val ppl $got is not far below 512"
echo "eval: val_ppl $got"

# generate: the prompt, then decoded text
"$bin/tiny_mixln" generate --ckpt "$work/a" --data "$work/data" --prompt "The license" --tokens 24 --seed 1 > "$work/gen.txt"
grep -q '^The license' "$work/gen.txt" || fail "generate did not continue the prompt"
[[ $(wc -c < "$work/gen.txt") -gt 20 ]] || fail "generate wrote almost nothing"
"$bin/tiny_mixln" generate --ckpt "$work/a" --data "$work/data" --prompt "The license" --tokens 24 --seed 1 | cmp - "$work/gen.txt" ||
  fail "generate is not reproducible with the same seed"
echo "generate: $(head -c 120 "$work/gen.txt")"

# export-hf: a Pre-LN stack is a Llama; Mix-LN says what it is
"$bin/tiny_preln" export-hf --seed 1 --out "$work/hf_pre" --data "$work/data" > /dev/null
grep -q '"LlamaForCausalLM"' "$work/hf_pre/config.json" || fail "Pre-LN export is not LlamaForCausalLM"
grep -q '"num_hidden_layers": 8' "$work/hf_pre/config.json" || fail "export config lacks num_hidden_layers"
[[ -s $work/hf_pre/model.safetensors && -s $work/hf_pre/tokenizer.model ]] || fail "export files missing"
"$bin/tiny_mixln" export-hf --ckpt "$work/a" --out "$work/hf_mix" 2> "$work/export.err" > /dev/null
grep -q '"MixlnForCausalLM"' "$work/hf_mix/config.json" || fail "Mix-LN export does not say MixlnForCausalLM"
grep -q '"PostLN"' "$work/hf_mix/config.json" || fail "export config lacks the placements"
"$bin/tiny_mixln" grads --weights "$work/hf_mix/model.safetensors" --batch "$(dirname "$0")/golden/tiny_mixln/batch.safetensors" \
  --out "$work/g.safetensors" > /dev/null || fail "the exported weights do not load back"
echo "export-hf: ok"

# --precision bf16 (bf16 GEMM inputs, fp32 accumulation): 100 steps end within 2% of the fp32
# run's training loss (the mean of the last 10 steps) and validation loss
prec=(--data "$work/data" --steps 100 --batch 4 --seq 32 --lr 3e-3 --seed 5 --eval-every 0 --eval-tokens 2048 --quiet)
for p in fp32 bf16; do "$bin/tiny_mixln" train "${prec[@]}" --precision $p --out "$work/prec-$p" 2> "$work/prec-$p.err"; done
last10() { grep '"loss"' "$1/log.jsonl" | tail -n 10 | sed -E 's/.*"loss": ?([0-9.eE+-]+).*/\1/' | awk '{ s += $1 } END { print s / NR }'; }
val() { grep '"val_loss"' "$1/log.jsonl" | tail -n 1 | sed -E 's/.*"val_loss": ?([0-9.eE+-]+).*/\1/'; }
l32=$(last10 "$work/prec-fp32") l16=$(last10 "$work/prec-bf16") v32=$(val "$work/prec-fp32") v16=$(val "$work/prec-bf16")
echo "100 steps: train loss fp32 $l32, bf16 $l16; val loss fp32 $v32, bf16 $v16 ($(cat "$work/prec-bf16.err" | head -n 1))"
awk -v a="$l32" -v b="$l16" -v c="$v32" -v d="$v16" 'BEGIN { exit !(a > 0 && c > 0 && (b - a) / a < 0.02 && (a - b) / a < 0.02 && (d - c) / c < 0.02 && (c - d) / c < 0.02) }' ||
  fail "bf16 ends more than 2% from fp32: train loss $l16 vs $l32, val loss $v16 vs $v32"
cmp -s "$work/prec-fp32/log.jsonl" "$work/prec-bf16/log.jsonl" && fail "bf16 and fp32 runs are identical: no rounding happened"
grep -q '"precision": "bf16"' "$work/prec-bf16/config.json" || fail "config.json does not record --precision bf16"

# bad invocations: one error line, non-zero exit, nothing written
expect_error() {
  local pattern=$1
  shift
  if "$@" > "$work/out.txt" 2> "$work/err.txt"; then fail "succeeded: $*"; fi
  grep -q -- "$pattern" "$work/err.txt" || fail "error of '$*' lacks '$pattern': $(cat "$work/err.txt")"
  [[ $(wc -l < "$work/err.txt") -eq 1 ]] || fail "more than one error line: $(cat "$work/err.txt")"
}
expect_error "already holds a run" "$bin/tiny_mixln" train "${run[@]}" --out "$work/a"
expect_error "has no checkpoint to --resume" "$bin/tiny_mixln" train "${run[@]}" --out "$work/c" --resume
expect_error "no train.bin" "$bin/tiny_mixln" train --data "$work/nowhere" --out "$work/d" --steps 5 --batch 2 --seq 8 --lr 1e-3
expect_error "needs --lr" "$bin/tiny_mixln" train --data "$work/data" --out "$work/d" --steps 5 --batch 2 --seq 8
expect_error "vocab 512, but the model's vocab is 4096" "$bin/small_mixln" train --data "$work/data" --out "$work/d" --steps 5 --batch 2 --seq 8 --lr 1e-3
expect_error "holds no checkpoint" "$bin/tiny_mixln" eval --ckpt "$work/d" --data "$work/data"
expect_error "is a checkpoint of another model" "$bin/tiny_preln" eval --ckpt "$work/a" --data "$work/data"
expect_error "needs --vocab" "$bin/mixln-prepare" --text "${texts[0]}" --out "$work/e"
expect_error "'x' is not a step number" "$bin/tiny_mixln" train --data "$work/data" --out "$work/f" --steps 5 --batch 2 \
  --seq 8 --lr 1e-3 --grad-norms-at 1,x
expect_error "'fp16' is neither fp32 nor bf16" "$bin/tiny_mixln" train --data "$work/data" --out "$work/f" --steps 5 \
  --batch 2 --seq 8 --lr 1e-3 --precision fp16
expect_error "give the tokens as --batch" "$bin/tiny_mixln" angular --seed 1 --out "$work/f.csv"
expect_error "'xavier' is not an init recipe (default, mixln-authors, hybridnorm)" "$bin/tiny_mixln" train --data "$work/data" \
  --out "$work/f" --steps 5 --batch 2 --seq 8 --lr 1e-3 --init xavier
expect_error "--resume: --init is \"mixln-authors\" but the run in $work/a was started with \"default\"" \
  "$bin/tiny_mixln" train "${run[@]}" --out "$work/a" --resume --init mixln-authors
expect_error "--resume: --embed-std is 0.5 but" "$bin/tiny_mixln" train "${run[@]}" --out "$work/a" --resume --embed-std 0.5

# the init recipe is recorded; the authors' recipe changes the embedding alone, and grads --seed
# draws the same init as train --seed
"$bin/tiny_mixln" train --data "$work/data" --out "$work/g" --steps 1 --batch 2 --seq 8 --lr 1e-3 --seed 4 --eval-tokens 64 \
  --init mixln-authors --quiet
grep -q '"init": "mixln-authors"' "$work/g/config.json" || fail "config.json does not record --init"
grep -q '"embed_std": 0.63245' "$work/g/config.json" || fail "config.json does not record the embedding's std"

# angular and layer-drop on the validation split of a trained model
"$bin/tiny_mixln" angular --ckpt "$work/a" --data "$work/data" --eval-tokens 1024 --out "$work/angular.csv" > /dev/null
[[ $(wc -l < "$work/angular.csv") -eq 37 ]] || fail "angular.csv should have 36 rows (8 layers)"
"$bin/tiny_mixln" layer-drop --ckpt "$work/a" --data "$work/data" --eval-tokens 1024 --out "$work/drop.csv" > /dev/null
[[ $(wc -l < "$work/drop.csv") -eq 9 ]] || fail "layer_drop.csv should have 8 rows"
[[ ! -e $work/d/latest && ! -e $work/e/train.bin ]] || fail "a failed command left files behind"
echo "all training command-line checks passed"
