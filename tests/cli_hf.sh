#!/usr/bin/env bash
# Hugging Face folders in and out of the command line: an import is refused, with one line
# naming the first mismatch, when the folder is not this model (dimensions, a missing tensor, a
# layer's placement, a plain Llama); --init-from starts a Mix-LN run from a Pre-LN Llama; a model
# modeling_mixln.py cannot compute is not exported. (tests/hf/check_export.py checks that the
# exports compute mixln's network.)
# usage: cli_hf.sh BIN_DIR WORK_DIR
set -euo pipefail
bin=$1
work=$2
rm -rf "$work"
mkdir -p "$work"
here=$(dirname "$0")
source "$here/lib.sh"
licence_texts
batch=$here/golden/tiny_mixln/batch.safetensors

"$bin/tiny_mixln" export-hf --seed 1 --out "$work/mix" 2> /dev/null > /dev/null
"$bin/tiny_preln" export-hf --seed 2 --out "$work/llama" > /dev/null
"$bin/small_mixln" export-hf --seed 3 --out "$work/small" 2> /dev/null > /dev/null
grep -q '"model_type": "llama"' "$work/llama/config.json" || fail "a Pre-LN export is not model_type llama"
[[ ! -e $work/llama/modeling_mixln.py ]] || fail "a plain Llama export carries remote code"
grep -q '"model_type": "mixln"' "$work/mix/config.json" || fail "a Mix-LN export is not model_type mixln"

# refusals: one line naming the first mismatch
expect_error "config.json has vocab_size 4096, this model has 512" "$bin/tiny_mixln" grads --weights "$work/small" --batch "$batch" --out "$work/g.safetensors"
expect_error "config.json's layer 0 has placement \"PostLN\", this model has \"PreLN\"" "$bin/tiny_preln" grads --weights "$work/mix" --batch "$batch" --out "$work/g.safetensors"
expect_error "config.json's layer 0 has placement \"PostLN\", this model has \"HybridNorm\"" "$bin/tiny_hybridnorm" eval --weights "$work/mix" --data "$work/none"
expect_error "is a plain Llama (Pre-LN, RMSNorm everywhere), which this model is not: load it with --init-from" "$bin/tiny_mixln" grads --weights "$work/llama" --batch "$batch" --out "$work/g.safetensors"
cp -r "$work/mix" "$work/missing"
"$bin/golden_check" drop "$work/mix/model.safetensors" "$work/missing/model.safetensors" model.layers.3.mlp.up_proj.weight
expect_error "missing tensor 'model.layers.3.mlp.up_proj.weight'" "$bin/tiny_mixln" grads --weights "$work/missing" --batch "$batch" --out "$work/g.safetensors"
[[ ! -e $work/g.safetensors ]] || fail "a refused import wrote gradients"
echo "ok: imports of another model are refused, naming the first mismatch"

# --init-from: a Pre-LN Llama starts a Mix-LN run; its linears carry over, Post-LN's norms start at 1
"$bin/mixln-prepare" --text "${texts[@]}" --vocab 512 --out "$work/data" --val-frac 0.2 > /dev/null
"$bin/tiny_mixln" train --data "$work/data" --out "$work/run" --steps 4 --batch 2 --seq 16 --lr 1e-3 \
  --init-from "$work/llama" > /dev/null 2> "$work/init.txt" || fail "train --init-from: $(cat "$work/init.txt")"
# 75 tensors in a tiny Pre-LN Llama; Mix-LN's two Post-LN layers have post_feedforward_layernorm
# instead of input_layernorm (post_attention_layernorm exists in both, and carries over by name)
grep -q "init-from $work/llama: 73 tensors loaded; 2 start at their init (model.layers.0.post_feedforward_layernorm.weight, model.layers.1.post_feedforward_layernorm.weight); 2 of the source unused (model.layers.0.input_layernorm.weight, model.layers.1.input_layernorm.weight)" "$work/init.txt" ||
  fail "train --init-from did not say what it loaded: $(cat "$work/init.txt")"
grep -q '"init_from"' "$work/run/config.json" || fail "the run's config.json does not record --init-from"
expect_error "config.json has vocab_size 4096, this model has 512" "$bin/tiny_mixln" train --data "$work/data" --out "$work/run2" \
  --steps 4 --batch 2 --seq 16 --lr 1e-3 --init-from "$work/small"
expect_error "--init-from starts a new run; --resume continues one" "$bin/tiny_mixln" train --data "$work/data" --out "$work/run" \
  --steps 4 --batch 2 --seq 16 --lr 1e-3 --init-from "$work/llama" --resume
cp -r "$work/llama" "$work/nan"
"$bin/golden_check" poison "$work/llama/model.safetensors" "$work/nan/model.safetensors"
expect_error "holds NaN or infinite values" "$bin/tiny_mixln" train --data "$work/data" --out "$work/run3" \
  --steps 4 --batch 2 --seq 16 --lr 1e-3 --init-from "$work/nan"
[[ ! -e $work/run3 ]] || fail "a refused --init-from left a run folder"
echo "ok: --init-from starts a Mix-LN run from a Pre-LN Llama ($(head -c 160 "$work/init.txt"))"
echo "all Hugging Face command-line checks passed"
