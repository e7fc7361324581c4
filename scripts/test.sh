#!/usr/bin/env bash
# scripts/test.sh — installs what is missing, builds everything and runs every test: the `ci`
# workflow of CMakePresets.json (configure, build, test) in build-ci/, then the sanitizer run
# (scripts/sanitize.sh, build-asan/) and the fuzz targets (scripts/fuzz.sh, build-fuzz/).
# Usage: scripts/test.sh [build-dir]   (default: build-ci, the preset's folder)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
# CUDA code is compiled when nvcc is present (no GPU needed). To keep CI within its time
# budget the preset builds of the small and paper configurations only the trainers the tests
# run, of the _cuda trainers only the tiny ones (MIXLN_EXAMPLES=tested, examples/models.txt),
# and CUDA translation units (compiled, not run here) for sm_90 alone with their host side at -O1
# — every kernel and every template is still compiled.
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
export CTEST_PARALLEL_LEVEL=${CTEST_PARALLEL_LEVEL:-$(nproc)}
# CTest runs as many tests as there are cores, most with two OpenMP threads: a thread that spins
# while it waits (libgomp's default policy) takes a core from the test beside it. Passive waiting
# ran the suite here in 294 s instead of 373 (test_vit 4.6 s instead of 18). It changes no result.
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
# each pass ends with a line of its duration (CI's budget is minutes: this says where they go)
took() { echo "test.sh: $1 took $((SECONDS / 60)) min $((SECONDS % 60)) s"; SECONDS=0; }
SECONDS=0
if (($# == 0)); then
  cmake --workflow --preset ci
else
  build=$1  # the same steps in another folder
  cmake --preset ci -B "$build"
  cmake --build "$build"
  ctest --test-dir "$build" --output-on-failure
fi
took "the build and the suite"
# Then the unit tests under AddressSanitizer + UBSan, and each parser fuzzed with coverage
# guidance for FUZZ_SECONDS (MIXLN_SANITIZE=0 skips both).
if [[ ${MIXLN_SANITIZE:-1} != 0 ]]; then
  scripts/sanitize.sh
  took "the sanitizer pass"
  scripts/fuzz.sh "${FUZZ_SECONDS:-30}"
  took "fuzzing"
fi
