#!/usr/bin/env bash
# The main job: build everything, compile the example policies into bundles,
# run their test files, and decide a few sample requests, printing decisions.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD="${GAVEL_BUILD_DIR:-$ROOT/build}"
"$ROOT/scripts/build.sh"
POLICYC="$BUILD/policyc"
OUT="$BUILD/bundles"
mkdir -p "$OUT"

echo "== compile the example policies"
for p in "$ROOT"/policies/*.policy; do
  "$POLICYC" compile "$p" -o "$OUT/$(basename "${p%.policy}").bundle" 2>/dev/null
done

echo
echo "== run their tests"
"$POLICYC" test "$ROOT/policies" | tail -n 1

echo
echo "== decide sample requests (from the bundles)"
while IFS=$'\t' read -r policy request principal context what; do
  [[ -z "$policy" || "$policy" == \#* ]] && continue
  echo "-- $what ($policy: $request, $principal, $context)"
  "$POLICYC" eval "$OUT/$policy.bundle" \
    --request "$ROOT/examples/requests/$request.json" \
    --principal "$ROOT/examples/principals/$principal.json" \
    --context "$ROOT/examples/contexts/$context.json"
done < "$ROOT/examples/samples.tsv"
