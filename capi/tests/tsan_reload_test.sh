#!/usr/bin/env bash
# Runs reload_test under ThreadSanitizer: configures a separate build dir of
# this source tree with GAVEL_SANITIZE=thread, builds only libgavel and
# reload_test (no policyc, so no ANTLR generation), and runs the test on
# bundles the main build compiled. Any TSan report fails the test.
#
# usage: tsan_reload_test.sh SOURCE_DIR TSAN_DIR GENERATOR CC CXX BUNDLE_A BUNDLE_B [RELOADS [DECIDERS]]
set -uo pipefail

if [ $# -lt 7 ]; then
  echo "usage: $0 SOURCE_DIR TSAN_DIR GENERATOR CC CXX BUNDLE_A BUNDLE_B [RELOADS [DECIDERS]]" >&2
  exit 2
fi
src=$1 dir=$2 generator=$3 cc=$4 cxx=$5 bundle_a=$6 bundle_b=$7
reloads=${8:-3000} deciders=${9:-3}
for b in "$bundle_a" "$bundle_b"; do
  [ -f "$b" ] || { echo "FAIL: no bundle $b (build the main tree first)" >&2; exit 1; }
done

mkdir -p "$dir"
t0=$(date +%s)
if ! cmake -S "$src" -B "$dir" -G "$generator" -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
  -DGAVEL_SANITIZE=thread -DGAVEL_BUILD_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$dir/tsan-configure.log" 2>&1; then
  echo "FAIL: configuring the TSan build failed:" >&2
  cat "$dir/tsan-configure.log" >&2
  exit 1
fi
t1=$(date +%s)
if ! cmake --build "$dir" --target reload_test >"$dir/tsan-build.log" 2>&1; then
  echo "FAIL: building reload_test with TSan failed:" >&2
  tail -50 "$dir/tsan-build.log" >&2
  exit 1
fi
t2=$(date +%s)
echo "tsan: configure $((t1 - t0)) s, build $((t2 - t1)) s"

export TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
"$dir/capi/tests/reload_test" "$bundle_a" "$bundle_b" "$reloads" "$deciders" >"$dir/tsan-run.log" 2>&1
status=$?
t3=$(date +%s)
cat "$dir/tsan-run.log"
echo "tsan: run $((t3 - t2)) s, exit status $status"
if grep -q 'ThreadSanitizer' "$dir/tsan-run.log"; then
  echo "FAIL: ThreadSanitizer reported a problem (see above)" >&2
  exit 1
fi
if [ "$status" -ne 0 ]; then
  echo "FAIL: reload_test under TSan exited with $status" >&2
  exit 1
fi
echo "tsan: reload_test passed with no ThreadSanitizer report"
