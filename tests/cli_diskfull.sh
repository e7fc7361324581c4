#!/usr/bin/env bash
# A full disk loses nothing: a run whose output folder fills up stops with one clear error,
# its last complete checkpoint still named by `latest` and loadable, and no half-written
# checkpoint left behind. Needs a small tmpfs; where this machine cannot mount one (no root,
# no mount permission in a container) the test says so and reports itself skipped (77).
# usage: cli_diskfull.sh BIN_DIR WORK_DIR
set -uo pipefail
bin=$1
work=$2
rm -rf "$work"
mkdir -p "$work/disk"
source "$(dirname "$0")/lib.sh"
licence_texts
if ! mount -t tmpfs -o size=8m tmpfs "$work/disk" 2> /dev/null; then
  echo "skipped: cannot mount a tmpfs here (needs root and permission to mount)"
  exit 77
fi
trap 'umount "$work/disk" 2> /dev/null' EXIT
"$bin/mixln-prepare" --text "${texts[@]}" --vocab 512 --out "$work/data" --val-frac 0.2 > /dev/null || fail "mixln-prepare"
# one checkpoint of tiny_mixln (parameters + Adam moments, 5.5 MB) fits in 8 MB, two do not
rc=0
"$bin/tiny_mixln" train --data "$work/data" --steps 4 --batch 2 --seq 16 --lr 1e-3 --ckpt-every 2 --quiet \
  --out "$work/disk/run" > /dev/null 2> "$work/err.txt" || rc=$?
[[ $rc -eq 1 ]] || fail "a run on a full disk ended with status $rc: $(cat "$work/err.txt")"
grep -q "No space left on device" "$work/err.txt" || fail "the error does not say the disk is full: $(cat "$work/err.txt")"
[[ $(wc -l < "$work/err.txt") -eq 1 ]] || fail "more than one error line: $(cat "$work/err.txt")"
[[ $(cat "$work/disk/run/latest") == ckpt-00000002 ]] || fail "latest does not name the last complete checkpoint"
"$bin/tiny_mixln" eval --ckpt "$work/disk/run" --data "$work/data" --eval-tokens 256 > /dev/null ||
  fail "the last complete checkpoint does not load"
leftover=$(ls -A "$work/disk/run" | grep -E '^\.ckpt-|\.tmp-' || true)
[[ -z $leftover ]] || fail "a half-written checkpoint was left behind: $leftover"
echo "full disk: one error line ($(cat "$work/err.txt")), ckpt-00000002 intact, nothing half-written"
