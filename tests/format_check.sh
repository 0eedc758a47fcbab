#!/usr/bin/env bash
# Fails if any project C/C++ file differs from clang-format's output (the
# style is .clang-format at the top of the tree). Usage: format_check.sh ROOT
set -euo pipefail
ROOT="$1"
cd "$ROOT"
mapfile -t files < <(git ls-files 'engine/*.h' 'engine/*.cc' 'policyc/*.h' 'policyc/*.cc' 'bench/*.cc' \
  'tests/*.h' 'tests/*.cc' 'capi/*.h' 'capi/*.cc' 'capi/*.c' 2>/dev/null || true)
if ((${#files[@]} == 0)); then
  echo "format_check: no files (not a git checkout?)" >&2
  exit 1
fi
clang-format --dry-run --Werror "${files[@]}"
echo "format_check: ${#files[@]} files formatted"
