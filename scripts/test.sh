#!/usr/bin/env bash
# Builds everything and runs every test; .ci/run calls this and nothing else.
# Stages, each in its own build folder beside build/:
#   default    GCC, RelWithDebInfo, warnings as errors: build, then all of ctest
#              (unit, golden, CLI, C API, Python, install and build modes,
#              TSan reload, benchmark smoke runs)
#   sanitize   clang-14, ASan+UBSan (UBSan stops at the first report): the whole
#              project, all of ctest, then every fuzz target's smoke run
#   release    GCC, Release (-O3), warnings as errors: the whole project builds
#   nohs       GCC, GAVEL_WITH_HYPERSCAN=OFF (the runtime without Hyperscan, as
#              on wasm32): build, then ctest
# GAVEL_TEST_STAGES="default release" runs a subset. Long fuzz runs are
# scripts/fuzz.sh long; benchmarks are `cmake --build build --target bench`.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${GAVEL_BUILD_DIR:-$ROOT/build}"
STAGES="${GAVEL_TEST_STAGES:-default sanitize release nohs}"
JOBS="$(nproc)"

"$ROOT/scripts/deps.sh"

declare -a summary=()
stage_start=0
begin() {
  echo "=== gavel test stage: $1 ==="
  stage_start=$(date +%s)
}
end() {
  summary+=("$1: $(($(date +%s) - stage_start)) s")
}

for stage in $STAGES; do
  case "$stage" in
  default)
    begin default
    "$ROOT/scripts/build.sh"
    (cd "$BUILD" && ctest --output-on-failure -j "$JOBS")
    end default
    ;;
  sanitize)
    begin sanitize
    dir="$BUILD-sanitize"
    CC=clang-14 CXX=clang++-14 GAVEL_BUILD_DIR="$dir" "$ROOT/scripts/build.sh" \
      -DGAVEL_SANITIZE=address,undefined -DGAVEL_BUILD_BENCH=OFF -DGAVEL_FUZZ=ON
    (
      cd "$dir"
      export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:${UBSAN_OPTIONS:-}"
      export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
      ctest --output-on-failure -j "$JOBS"
    )
    GAVEL_FUZZ_BUILD_DIR="$dir" "$ROOT/scripts/fuzz.sh" smoke
    end sanitize
    ;;
  release)
    begin release
    GAVEL_BUILD_DIR="$BUILD-release" "$ROOT/scripts/build.sh" -DCMAKE_BUILD_TYPE=Release
    end release
    ;;
  nohs)
    begin nohs
    GAVEL_BUILD_DIR="$BUILD-nohs" "$ROOT/scripts/build.sh" -DGAVEL_WITH_HYPERSCAN=OFF -DGAVEL_BUILD_BENCH=OFF
    (cd "$BUILD-nohs" && ctest --output-on-failure -j "$JOBS")
    end nohs
    ;;
  *)
    echo "unknown test stage '$stage' (stages: default sanitize release nohs)" >&2
    exit 2
    ;;
  esac
done

echo "=== gavel tests passed: ${summary[*]} ==="
