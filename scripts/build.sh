#!/usr/bin/env bash
# Configures and builds gavel into build/ (or $GAVEL_BUILD_DIR). Extra
# arguments go to cmake's configure step.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${GAVEL_BUILD_DIR:-$ROOT/build}"
"$ROOT/scripts/deps.sh"
cmake -S "$ROOT" -B "$BUILD" -G Ninja -DGAVEL_WERROR=ON "$@" >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
