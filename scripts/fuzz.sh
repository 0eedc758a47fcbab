#!/usr/bin/env bash
# Builds gavel's libFuzzer targets (tests/fuzz, clang-14, ASan+UBSan) and runs them.
#   scripts/fuzz.sh smoke            CI: every target for a fixed number of runs with a
#                                    fixed seed (reproducible), then every committed
#                                    regression input; exits non-zero on any finding.
#   scripts/fuzz.sh long [SECONDS] [TARGET...]
#                                    random seeds for SECONDS per target (default 600),
#                                    two targets at a time; new corpus entries and
#                                    findings go to $GAVEL_FUZZ_WORK (default
#                                    build-fuzz/fuzz-work), never into the source tree.
# Environment: GAVEL_FUZZ_BUILD_DIR (default build-fuzz), CC/CXX (default clang-14),
# GAVEL_FUZZ_JOBS (parallel targets in long mode, default 2).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${GAVEL_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
WORK="${GAVEL_FUZZ_WORK:-$BUILD/fuzz-work}"
FUZZ="$ROOT/tests/fuzz"
MODE="${1:-smoke}"

TARGETS=(fuzz_frontend fuzz_bundle fuzz_bundle_resealed fuzz_decide fuzz_stream)

# Per-target options. Front-end inputs stay at 16 KiB: ANTLR's parse time grows
# with the square of a declaration's operators (bounded at 1024 per
# declaration), so larger inputs only slow the search down. Streamed responses
# stay at 16 KiB: a redacted pattern without an upper bound holds the stream
# back from its start, and each write rescans what is held.
declare -A MAX_LEN=([fuzz_frontend]=16384 [fuzz_bundle]=65536 [fuzz_bundle_resealed]=65536
                    [fuzz_decide]=65536 [fuzz_stream]=16384)
# A front-end input that declares patterns has each compiled by Hyperscan
# (the checker's check), which takes seconds for large ones under ASan.
declare -A TIMEOUT=([fuzz_frontend]=30 [fuzz_bundle]=10 [fuzz_bundle_resealed]=10 [fuzz_decide]=10 [fuzz_stream]=10)
declare -A DICT=([fuzz_frontend]=fuzz_frontend.dict [fuzz_decide]=json.dict [fuzz_stream]=json.dict)
# Smoke runs per target, sized so all of them take about two to three minutes
# together on a 2-core machine.
declare -A SMOKE_RUNS=([fuzz_frontend]=1200 [fuzz_bundle]=200000 [fuzz_bundle_resealed]=16000
                       [fuzz_decide]=8000 [fuzz_stream]=3000)
# The two bundle targets share their seeds.
corpus_of() { case "$1" in fuzz_bundle_resealed) echo fuzz_bundle ;; *) echo "$1" ;; esac; }

build() {
  if [[ ! -f "$BUILD/CMakeCache.txt" ]]; then
    local launcher=()
    if command -v ccache >/dev/null; then
      launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
    fi
    CC="${CC:-clang-14}" CXX="${CXX:-clang++-14}" cmake -S "$ROOT" -B "$BUILD" -G Ninja \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGAVEL_FUZZ=ON -DGAVEL_BUILD_TESTS=OFF -DGAVEL_BUILD_BENCH=OFF \
      "${launcher[@]}" >/dev/null
  fi
  cmake --build "$BUILD" --target fuzz_targets
}

# A short allocation context keeps allocation-heavy targets (ANTLR, Hyperscan
# compilation) fast; rerun a finding alone for full stacks.
export ASAN_OPTIONS="${ASAN_OPTIONS:-abort_on_error=1:malloc_context_size=5}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

common_flags() {  # target
  local t="$1" flags=(-max_len="${MAX_LEN[$t]}" -rss_limit_mb=2560 -timeout="${TIMEOUT[$t]}" -print_final_stats=1)
  if [[ -n "${DICT[$t]:-}" ]]; then flags+=(-dict="$FUZZ/${DICT[$t]}"); fi
  echo "${flags[@]}"
}

# "executions cov ft" of a finished libFuzzer log.
summarize() {  # log
  local execs cov ft
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$1" | tail -1 | awk '{print $2}')
  cov=$(grep -o 'cov: [0-9]*' "$1" | tail -1 | awk '{print $2}')
  ft=$(grep -o 'ft: [0-9]*' "$1" | tail -1 | awk '{print $2}')
  echo "${execs:-?} ${cov:-?} ${ft:-?}"
}

run_regressions() {  # target
  local t="$1" dir="$FUZZ/regressions/$1"
  local inputs=()
  if [[ -d "$dir" ]]; then
    while IFS= read -r -d '' f; do inputs+=("$f"); done < <(find "$dir" -type f ! -name '*.md' -print0 | sort -z)
  fi
  if ((${#inputs[@]} == 0)); then return 0; fi
  echo "== $t: ${#inputs[@]} regression inputs"
  # Each input is run once; a crash, sanitizer report or timeout fails.
  "$BUILD/tests/fuzz/$t" $(common_flags "$t") "${inputs[@]}" >"$WORK/$t.regressions.log" 2>&1 || {
    tail -50 "$WORK/$t.regressions.log"
    echo "FAIL: $t regression inputs (log: $WORK/$t.regressions.log)"
    return 1
  }
}

smoke() {
  local status=0 t scratch start
  for t in "${TARGETS[@]}"; do
    scratch="$WORK/smoke/$t"
    rm -rf "$scratch"
    mkdir -p "$scratch/corpus" "$scratch/artifacts"
    start=$SECONDS
    # New entries go to the scratch corpus (the first directory); the
    # committed seeds are read only.
    if "$BUILD/tests/fuzz/$t" $(common_flags "$t") -seed=1 -runs="${SMOKE_RUNS[$t]}" \
      -artifact_prefix="$scratch/artifacts/" "$scratch/corpus" "$FUZZ/corpus/$(corpus_of "$t")" \
      >"$scratch/log" 2>&1; then
      read -r execs cov ft < <(summarize "$scratch/log")
      echo "ok   $t: $execs runs, cov $cov, ft $ft, $((SECONDS - start)) s"
    else
      tail -60 "$scratch/log"
      echo "FAIL $t: see $scratch/log and $scratch/artifacts/"
      status=1
    fi
    run_regressions "$t" || status=1
  done
  return $status
}

long_one() {  # target seconds
  local t="$1" secs="$2" dir="$WORK/long/$1"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  local rc=0
  nice -n 10 "$BUILD/tests/fuzz/$t" $(common_flags "$t") -seed=0 -max_total_time="$secs" \
    -artifact_prefix="$dir/artifacts/" "$dir/corpus" "$FUZZ/corpus/$(corpus_of "$t")" >"$dir/log" 2>&1 || rc=$?
  read -r execs cov ft < <(summarize "$dir/log")
  local found
  found=$(find "$dir/artifacts" -type f | wc -l)
  echo "$t: $execs executions, cov $cov, ft $ft, $found findings (exit $rc; corpus $dir/corpus, log $dir/log)"
  return $rc
}

long() {
  local secs="${1:-600}"
  shift || true
  local targets=("$@") jobs="${GAVEL_FUZZ_JOBS:-2}" status=0 pids=() t
  if ((${#targets[@]} == 0)); then targets=("${TARGETS[@]}"); fi
  for t in "${targets[@]}"; do
    long_one "$t" "$secs" &
    pids+=($!)
    if ((${#pids[@]} >= jobs)); then
      wait "${pids[0]}" || status=1
      pids=("${pids[@]:1}")
    fi
  done
  for p in "${pids[@]}"; do wait "$p" || status=1; done
  return $status
}

case "$MODE" in
  smoke)
    build
    mkdir -p "$WORK"
    smoke
    ;;
  long)
    shift
    build
    mkdir -p "$WORK"
    long "$@"
    ;;
  *)
    sed -n '2,12p' "$0"
    exit 2
    ;;
esac
