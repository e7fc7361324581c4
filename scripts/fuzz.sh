#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] — builds the coverage-guided fuzz targets of mixln's parsers
# (tests/fuzz: libFuzzer with ASan and UBSan, clang; the `fuzz` preset, build-fuzz/) and runs each
# for SECONDS (default 30) from its committed seeds. A crash, sanitizer report, leak, escaped
# exception other than mixln::Error, hang or allocation over 512 MiB fails the run; the input
# is kept under build-fuzz/tests/fuzz/found/<target>/crashes/. scripts/test.sh runs it after the
# main suite; a longer search is `scripts/fuzz.sh 3600`.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-30}
[[ $seconds =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS]" >&2; exit 2; }
scripts/setup.sh build
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
cmake --preset fuzz -DMIXLN_FUZZ_SECONDS="$seconds" > /dev/null
cmake --build build-fuzz
ctest --test-dir build-fuzz --output-on-failure -j "$(nproc)"
