#!/usr/bin/env bash
# scripts/sanitize.sh — the unit tests of the kernels, models, DSL, files, fuzzing, training and
# images under AddressSanitizer + UndefinedBehaviorSanitizer (the `sanitize` preset: -O1, asserts
# on, build-asan/). The first report of either ends the test that made it, which then fails;
# leaks are reported at exit. scripts/test.sh runs it after the main suite.
# usage: scripts/sanitize.sh [TEST ...]   (default: the list below)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh build
tests=("$@")
((${#tests[@]})) || tests=(test_dsl test_kernels test_model test_safetensors test_fuzz test_train test_images test_vit)
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cmake --preset sanitize > /dev/null
cmake --build build-asan --target "${tests[@]}"
pattern=$(IFS='|'; echo "${tests[*]}")
ctest --test-dir build-asan -R "^($pattern)\$" --output-on-failure
