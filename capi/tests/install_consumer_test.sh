#!/usr/bin/env bash
# Installs a gavel build into a scratch prefix and builds install_consumer/
# against it, as a gateway's build would: `cmake` mode uses find_package (shared
# and static) and checks the exported symbols; `pkgconfig` mode uses gavel.pc.
# It writes only under WORK_DIR.
#
# usage: install_consumer_test.sh cmake|pkgconfig BUILD_DIR WORK_DIR BUNDLE GENERATOR CC
set -uo pipefail

if [ $# -ne 6 ]; then
  echo "usage: $0 cmake|pkgconfig BUILD_DIR WORK_DIR BUNDLE GENERATOR CC" >&2
  exit 2
fi
mode=$1 build=$2 work=$3 bundle=$4 generator=$5 cc=$6
src=$(cd "$(dirname "$0")/install_consumer" && pwd)
failures=0

fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
die() {
  echo "FAIL: $*" >&2
  exit 1
}
# Runs a built consumer; it must print a decision.
run_consumer() {
  local what=$1
  shift
  local out
  if ! out=$("$@" "$bundle" 2>&1); then
    fail "$what: the consumer failed: $out"
    return
  fi
  echo "$what: $out"
  grep -q '"decision":"deny"' <<<"$out" || fail "$what: no decision in the output"
  grep -q '"code":"model_not_approved"' <<<"$out" || fail "$what: not the support bundle's decision"
}

rm -rf "$work"
mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 || die "cmake --install failed: $(cat "$work/install.log")"
so=$(find "$prefix" -name libgavel.so -print -quit)
[ -n "$so" ] || die "no libgavel.so under $prefix"
libdir=$(dirname "$so")
[ -f "$libdir/libgavel.a" ] || die "no libgavel.a next to $so"
[ -f "$prefix/include/gavel.h" ] || die "no include/gavel.h under $prefix"

if [ "$mode" = cmake ]; then
  # Exactly the functions gavel.h declares are exported, nothing else.
  nm -D --defined-only "$so" | awk 'NF == 3 { print $3 }' | sed 's/@.*//' | sort -u >"$work/exported.txt"
  grep -v '^gavel_' "$work/exported.txt" >"$work/stray.txt"
  [ -s "$work/stray.txt" ] && fail "libgavel.so exports symbols outside gavel_*: $(tr '\n' ' ' <"$work/stray.txt")"
  tr -s ' \t\n' ' ' <"$prefix/include/gavel.h" | grep -o 'GAVEL_EXPORT [^(]*(' |
    grep -o 'gavel_[a-z_0-9]*($' | tr -d '(' | sort -u >"$work/declared.txt"
  [ "$(wc -l <"$work/declared.txt")" -gt 40 ] || die "could not read the declarations of gavel.h"
  if ! diff -u "$work/declared.txt" "$work/exported.txt" >"$work/symbols.diff"; then
    fail "exported symbols differ from gavel.h's declarations (- declared only, + exported only):"
    cat "$work/symbols.diff" >&2
  else
    echo "exports: $(wc -l <"$work/exported.txt") gavel_* functions, exactly those of gavel.h"
  fi

  for variant in shared static; do
    dir=$work/consumer_$variant
    static=OFF
    [ "$variant" = static ] && static=ON
    if ! cmake -S "$src" -B "$dir" -G "$generator" -DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$prefix" \
      -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF -DGAVEL_CONSUMER_STATIC=$static >"$dir.configure.log" 2>&1; then
      fail "$variant: configuring the consumer failed:"
      cat "$dir.configure.log" >&2
      continue
    fi
    found=$(sed -n 's/^gavel_DIR:PATH=//p' "$dir/CMakeCache.txt")
    case "$found" in
      "$prefix"/*) ;;
      *) fail "$variant: find_package found gavel in '$found', not under $prefix" ;;
    esac
    if ! cmake --build "$dir" >"$dir.build.log" 2>&1; then
      fail "$variant: building the consumer failed:"
      cat "$dir.build.log" >&2
      continue
    fi
    run_consumer "cmake $variant" "$dir/gavel_consumer"
    libs=$(ldd "$dir/gavel_consumer")
    if [ "$variant" = shared ]; then
      grep -q "libgavel.so.0 => $libdir/" <<<"$libs" || fail "shared: libgavel.so.0 is not loaded from $libdir: $libs"
    else
      grep -q libgavel <<<"$libs" && fail "static: the consumer still needs a shared libgavel: $libs"
    fi
  done
elif [ "$mode" = pkgconfig ]; then
  command -v pkg-config >/dev/null || die "pkg-config is not installed"
  export PKG_CONFIG_PATH=$libdir/pkgconfig
  unset PKG_CONFIG_LIBDIR PKG_CONFIG_SYSROOT_DIR
  pc=(pkg-config)
  version=$(pkg-config --modversion gavel) || die "pkg-config does not find gavel in $PKG_CONFIG_PATH"
  echo "pkg-config: gavel $version"
  cflags=$(echo $(pkg-config --cflags gavel))
  # The .pc file names its prefix relative to itself; compare real paths.
  if [ "$(realpath -m "${cflags#-I}")" != "$(realpath -m "$prefix/include")" ]; then
    fail "pkg-config --cflags gavel gives '$cflags', not the installed prefix '-I$prefix/include':" \
      "gavel.pc hard-codes prefix=$(pkg-config --variable=prefix gavel) (CMAKE_INSTALL_PREFIX at configure" \
      "time), so a package installed with 'cmake --install --prefix' cannot be used through pkg-config"
    # Go on with the prefix taken from the .pc file's place, to check the rest.
    if pkg-config --help 2>&1 | grep -q -- --define-prefix; then
      pc=(pkg-config --define-prefix)
      cflags=$(echo $("${pc[@]}" --cflags gavel))
      echo "pkg-config: continuing with --define-prefix: $cflags"
    fi
  fi
  # Shared: what the documentation says to write.
  libs=$("${pc[@]}" --libs gavel)
  if $cc -std=c99 -Wall -Wextra -Werror -pedantic "$src/main.c" $cflags $libs -o "$work/consumer_pc" \
    >"$work/pc.build.log" 2>&1; then
    run_consumer "pkg-config shared" env LD_LIBRARY_PATH="$libdir" "$work/consumer_pc"
  else
    fail "pkg-config shared: build failed: $(cat "$work/pc.build.log")"
  fi
  # Static: libgavel.a plus Libs.private must be enough for a C program.
  private=$("${pc[@]}" --static --libs-only-l gavel | tr ' ' '\n' | grep -vx -- '-lgavel' | tr '\n' ' ')
  if $cc -std=c99 -Wall -Wextra -Werror -pedantic "$src/main.c" $cflags $("${pc[@]}" --libs-only-L gavel) \
    -Wl,-Bstatic -lgavel -Wl,-Bdynamic $private -o "$work/consumer_pc_static" >"$work/pc_static.build.log" 2>&1; then
    run_consumer "pkg-config static" "$work/consumer_pc_static"
    ldd "$work/consumer_pc_static" | grep -q libgavel && fail "pkg-config static: still needs a shared libgavel"
  else
    fail "pkg-config static: build failed: $(cat "$work/pc_static.build.log")"
  fi
else
  die "unknown mode $mode"
fi

if [ "$failures" -ne 0 ]; then
  echo "install_consumer_test ($mode): $failures failure(s)" >&2
  exit 1
fi
echo "install_consumer_test ($mode): passed"
