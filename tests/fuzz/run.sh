#!/usr/bin/env bash
# Runs one libFuzzer target for SECONDS from the committed seeds; new inputs go to FOUND_DIR.
# A crash, a sanitizer report, a leak, an escaped exception (other than mixln::Error), an input
# slower than 10 s or an allocation over 512 MiB fails it, and the input that did is kept in
# FOUND_DIR/crashes for `TARGET INPUT` to replay.
# usage: run.sh TARGET SEED_DIR FOUND_DIR SECONDS
set -euo pipefail
target=$1 seeds=$2 found=$3 seconds=$4
mkdir -p "$found/corpus" "$found/crashes"
[[ -d $seeds ]] && [[ -n $(ls -A "$seeds") ]] || { echo "fuzz: no seeds in $seeds"; exit 1; }
# -seed fixed: the same sequence of mutations on every run (how far it gets depends on the machine)
exec "$target" "$found/corpus" "$seeds" -max_total_time="$seconds" -seed=1 -timeout=10 -rss_limit_mb=2048 \
  -malloc_limit_mb=512 -artifact_prefix="$found/crashes/" -print_final_stats=1 -close_fd_mask=3
