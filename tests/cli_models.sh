#!/usr/bin/env bash
# Every trainer of docs/design.md §8.4 through the whole command line: info, grads, grad-norms,
# train with checkpoints, a killed-style resume (--stop-at, then --resume: the same weights as
# an uninterrupted run), eval, angular, layer-drop, generate and export-hf (config.json says
# what the model is, and the exported weights load back).
# usage: cli_models.sh BIN_DIR WORK_DIR
set -euo pipefail
bin=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
here=$(dirname "$0")
source "$here/lib.sh"
licence_texts
batch=$here/golden/tiny_mixln/batch.safetensors

"$bin/mixln-prepare" --text "${texts[@]}" --vocab 512 --out "$work/data" --val-frac 0.2 > /dev/null

# placement:trainer:what its export must say of it, for the rows of examples/models.txt tagged models
models=()
while read -r config placement source tags params export label; do
  if [[ ,$tags, == *,models,* ]]; then models+=("$placement:${config}_$placement:$export"); fi
done < <(grep -v "^#" "$here/../examples/models.txt" | grep .)
((${#models[@]} > 0)) || fail "examples/models.txt tags no trainer models"
# info's "parameters: TOTAL = … (PART, PART, …)": the parts add up to the total
param_parts_add_up() {
  local line total sum
  line=$(grep "^parameters: " "$1") || fail "$2: info prints no parameter count"
  total=$(sed -E 's/^parameters: ([0-9,]+) .*/\1/; s/,//g' <<<"$line")
  sum=$(sed -E 's/^[^(]*\((.*)\)$/\1/' <<<"$line" | tr ',' '\n' | sed -E 's/^ *//' |
        awk '{ n = n $1 } / / { s += n; n = "" } END { print s }')
  [[ $sum == "$total" ]] || fail "$2: info's parameter parts add up to $sum, not $total: $line"
}
# a model with norms on the embedding's output (DyT's scale) counts them too
[[ ! -x $bin/tiny_dyt_llama ]] || { "$bin/tiny_dyt_llama" info > "$work/dyt_info.txt" && param_parts_add_up "$work/dyt_info.txt" dyt_llama; }
for entry in "${models[@]}"; do
  IFS=: read -r m trainer says <<<"$entry"
  t=$bin/$trainer
  w=$work/$m
  mkdir -p "$w"
  "$t" info > "$w/info.txt" || fail "$m: info"
  param_parts_add_up "$w/info.txt" "$m"
  "$t" grads --seed 2 --batch "$batch" --out "$w/grads.safetensors" > "$w/grads.json" || fail "$m: grads"
  grep -qE '"loss": 6\.[1-3]' "$w/grads.json" || fail "$m: loss at init is not near ln(512): $(cat "$w/grads.json")"
  "$t" grad-norms --seed 2 --batch "$batch" --out "$w/norms.csv" > /dev/null || fail "$m: grad-norms"
  [[ $(wc -l < "$w/norms.csv") -eq 9 ]] || fail "$m: grad-norms should list 8 layers"
  run=(--data "$work/data" --steps 12 --batch 2 --seq 32 --lr 3e-3 --seed 4 --ckpt-every 4 --eval-every 12
       --eval-tokens 512 --quiet)
  "$t" train "${run[@]}" --out "$w/a" > /dev/null || fail "$m: train"
  "$t" train "${run[@]}" --out "$w/b" --stop-at 8 > /dev/null || fail "$m: train --stop-at"
  "$t" train "${run[@]}" --out "$w/b" --resume > /dev/null || fail "$m: train --resume"
  cmp "$w/a/ckpt-00000012/model.safetensors" "$w/b/ckpt-00000012/model.safetensors" ||
    fail "$m: a resumed run ends with other weights than an uninterrupted one"
  "$t" eval --ckpt "$w/a" --data "$work/data" --eval-tokens 512 --batch 2 > "$w/eval.json" || fail "$m: eval"
  grep -q '"val_ppl"' "$w/eval.json" || fail "$m: eval printed no perplexity"
  "$t" angular --ckpt "$w/a" --data "$work/data" --eval-tokens 256 --out "$w/angular.csv" > /dev/null || fail "$m: angular"
  [[ $(wc -l < "$w/angular.csv") -eq 37 ]] || fail "$m: angular.csv should have 36 rows"
  "$t" residual-rms --seed 1 --data "$work/data" --eval-tokens 256 --out "$w/rms.csv" > /dev/null || fail "$m: residual-rms"
  [[ $(wc -l < "$w/rms.csv") -eq 10 ]] || fail "$m: rms.csv should have 9 rows (8 layers and the output)"
  "$t" layer-drop --ckpt "$w/a" --data "$work/data" --eval-tokens 256 --out "$w/drop.csv" > /dev/null || fail "$m: layer-drop"
  [[ $(wc -l < "$w/drop.csv") -eq 9 ]] || fail "$m: layer-drop.csv should have 8 rows"
  "$t" generate --ckpt "$w/a" --data "$work/data" --prompt "The license" --tokens 8 --seed 1 > "$w/gen.txt" ||
    fail "$m: generate"
  "$t" export-hf --ckpt "$w/a" --out "$w/hf" > /dev/null 2>&1 || fail "$m: export-hf"
  grep -q '"MixlnForCausalLM"' "$w/hf/config.json" || fail "$m: export is not MixlnForCausalLM"
  grep -qF -- "$says" "$w/hf/config.json" || fail "$m: export config.json lacks $says"
  "$t" grads --weights "$w/hf/model.safetensors" --batch "$batch" --out "$w/g2.safetensors" > /dev/null ||
    fail "$m: the exported weights do not load back"
  echo "$m: info, grads, grad-norms, train, resume, eval, angular, residual-rms, layer-drop, generate, export-hf ok"
done
# a checkpoint of one model is refused by another
if "$bin/tiny_dyt" eval --ckpt "$work/layernorm_mixln/a" --data "$work/data" 2> "$work/err.txt" > /dev/null; then
  fail "tiny_dyt evaluated a checkpoint of tiny_layernorm_mixln"
fi
grep -q "is a checkpoint of another model" "$work/err.txt" || fail "wrong error: $(cat "$work/err.txt")"
echo "all trainers of docs/design.md §8.4 passed"
