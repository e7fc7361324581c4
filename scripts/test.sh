#!/usr/bin/env bash
# scripts/test.sh — installs what is missing, builds everything and runs every test.
# Usage: scripts/test.sh [build-dir]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
scripts/setup.sh build
jobs=$(nproc)
# CUDA code is compiled when nvcc is present (no GPU needed). To keep CI within its time
# budget, of the _cuda trainers only the tiny ones are built, of the small and paper
# configurations only the trainers the tests run, and the host side of CUDA translation units
# (compiled, not run here) at -O1 — every kernel and every template is still compiled.
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DMIXLN_NATIVE=OFF -DMIXLN_CUDA_TRAINERS=tiny \
  -DMIXLN_EXAMPLES=tested "-DCMAKE_CUDA_FLAGS_RELEASE=-O1 -DNDEBUG"
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" -j "$jobs" --output-on-failure
