#!/usr/bin/env bash
# The ways users build and install gavel other than the main build:
#   subproject    a project that add_subdirectory()s gavel (as FetchContent
#                 does) builds policyc and a C program against it
#   runtime-only  GAVEL_BUILD_COMPILER=OFF builds libgavel without ANTLR,
#                 yaml-cpp or nlohmann-json, and its library decides a bundle
#   policyc       an installed policyc, moved elsewhere after installation,
#                 still finds its standard library
# It writes only under WORK_DIR.
#
# usage: build_modes_test.sh MODE SOURCE_DIR BUILD_DIR WORK_DIR BUNDLE GENERATOR CC CXX
set -uo pipefail

if [ $# -ne 8 ]; then
  echo "usage: $0 subproject|runtime-only|policyc SOURCE_DIR BUILD_DIR WORK_DIR BUNDLE GENERATOR CC CXX" >&2
  exit 2
fi
mode=$1 src=$2 build=$3 work=$4 bundle=$5 generator=$6 cc=$7 cxx=$8
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
die() {
  echo "FAIL: $*" >&2
  exit 1
}
# The consumer prints the library's version and a decision on the support bundle.
check_decision() {
  local what=$1 out=$2
  echo "$what: $out"
  grep -q '"decision":"deny"' <<<"$out" || fail "$what: no deny decision in the output"
  grep -q '"code":"model_not_approved"' <<<"$out" || fail "$what: not the support bundle's decision"
}

rm -rf "$work"
mkdir -p "$work"
# ccache, when the developer's environment names it, speeds this up; CI has none.
launcher=()
[ -n "${CMAKE_CXX_COMPILER_LAUNCHER:-}" ] && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER="$CMAKE_CXX_COMPILER_LAUNCHER")

case "$mode" in
subproject)
  dir=$work/gateway
  cmake -S "$src/capi/tests/subproject_consumer" -B "$dir" -G "$generator" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_CXX_COMPILER="$cxx" -DGAVEL_SOURCE="$src" "${launcher[@]}" >"$work/configure.log" 2>&1 ||
    die "configuring a project with gavel as a subproject failed: $(cat "$work/configure.log")"
  grep -q '^GAVEL_BUILD_TESTS:BOOL=OFF' "$dir/CMakeCache.txt" || fail "gavel's tests default on in a subproject"
  grep -q '^GAVEL_BUILD_BENCH:BOOL=OFF' "$dir/CMakeCache.txt" || fail "gavel's benchmarks default on in a subproject"
  grep -q '^GAVEL_WERROR:BOOL=OFF' "$dir/CMakeCache.txt" || fail "warnings are errors in a subproject"
  cmake --build "$dir" --target gateway gateway_bundle >"$work/build.log" 2>&1 ||
    die "building gavel as a subproject failed: $(tail -40 "$work/build.log")"
  [ -f "$dir/gateway.bundle" ] || fail "the subproject's policyc wrote no bundle"
  [ -f "$dir/gavel/generated/grammar/PolicyParser.cpp" ] ||
    fail "the generated parser is not under the subproject's binary dir"
  [ -e "$dir/generated" ] && fail "gavel wrote generated files into the parent project's binary dir"
  out=$("$dir/gateway" "$dir/gateway.bundle" 2>&1) || fail "the subproject consumer failed: $out"
  check_decision subproject "$out"
  ;;
runtime-only)
  dir=$work/runtime
  cmake -S "$src" -B "$dir" -G "$generator" -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" \
    -DGAVEL_BUILD_COMPILER=OFF -DGAVEL_WERROR=ON "${launcher[@]}" >"$work/configure.log" 2>&1 ||
    die "configuring a runtime-only build failed: $(cat "$work/configure.log")"
  # The compiler's dependencies are not even looked for.
  for dep in antlr4-runtime_DIR yaml-cpp_DIR nlohmann_json_DIR ANTLR4_TOOL GAVEL_HS:; do
    grep -q "^$dep" "$dir/CMakeCache.txt" && fail "a runtime-only build looked for $dep"
  done
  cmake --build "$dir" >"$work/build.log" 2>&1 || die "the runtime-only build failed: $(tail -40 "$work/build.log")"
  [ -f "$dir/capi/libgavel.so" ] || fail "no libgavel.so in the runtime-only build"
  [ -f "$dir/capi/libgavel.a" ] || fail "no libgavel.a in the runtime-only build"
  [ -e "$dir/policyc" ] && fail "a runtime-only build built policyc"
  libs=$(ldd "$dir/capi/libgavel.so")
  grep -Eq 'antlr|yaml|libhs\.so' <<<"$libs" && fail "the runtime-only libgavel needs a compiler library: $libs"
  out=$("$dir/capi/gavel_filter" "$bundle" "$src/examples/requests/support_pinned.json" 2>&1)
  echo "runtime-only gavel_filter: $out"
  grep -q '"decision"' <<<"$out" || fail "the runtime-only library decided nothing"
  ;;
policyc)
  prefix=$work/prefix
  cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 ||
    die "cmake --install failed: $(cat "$work/install.log")"
  [ -x "$prefix/bin/policyc" ] || die "cmake --install installed no bin/policyc"
  [ -f "$prefix/share/gavel/stdlib/std/pii.policy" ] || die "cmake --install installed no share/gavel/stdlib"
  # Move the installed tree: nothing may point back at the install prefix or
  # the source tree. A module only the moved copy has proves where imports
  # are read from.
  moved=$work/moved
  mv "$prefix" "$moved"
  cat >"$moved/share/gavel/stdlib/std/moved_probe.policy" <<'POLICY'
patterns marker {
  "moved-install-marker"
}
POLICY
  cat >"$work/uses_stdlib.policy" <<'POLICY'
package test.installed
version "1"
default allow
import std.pii
import std.moved_probe

rule email {
  when request.text contains std.pii.email
  deny "e-mail" code "email"
}

rule marker {
  when request.text contains std.moved_probe.marker
  deny "marker" code "marker"
}
POLICY
  out=$(env -u GAVEL_STDLIB "$moved/bin/policyc" compile "$work/uses_stdlib.policy" -o "$work/uses_stdlib.bundle" 2>&1) ||
    fail "the moved policyc could not compile a policy that imports the stdlib: $out"
  echo '{"model":"m","messages":[{"role":"user","content":"write to a@example.com"}]}' >"$work/req.json"
  out=$(env -u GAVEL_STDLIB "$moved/bin/policyc" eval "$work/uses_stdlib.bundle" --request "$work/req.json" 2>&1)
  grep -q '"code":"email"' <<<"$out" || fail "the installed stdlib's e-mail set did not screen: $out"
  version=$("$moved/bin/policyc" --version)
  echo "installed: $version"
  grep -q "^policyc $(sed -n 's/^#define GAVEL_VERSION_STRING "\(.*\)"/\1/p' "$moved/include/gavel_version.h") " <<<"$version" ||
    fail "policyc --version and the installed gavel_version.h disagree"
  ;;
*)
  die "unknown mode $mode"
  ;;
esac

if [ "$failures" -ne 0 ]; then
  echo "build_modes_test ($mode): $failures failure(s)" >&2
  exit 1
fi
echo "build_modes_test ($mode): passed"
