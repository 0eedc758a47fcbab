#!/usr/bin/env bash
# Shell-level tests of bundle signing with policyc: keygen, compile --sign,
# verify (one key, several keys, the wrong key), tampered, truncated and
# unsigned bundles, key files given in the wrong place, and --help.
# Usage: policyc_sign_test.sh /path/to/policyc [TMPDIR]. Touches only TMPDIR.
set -euo pipefail

POLICYC=${1:?usage: policyc_sign_test.sh /path/to/policyc [tmpdir]}
POLICYC=$(cd "$(dirname "$POLICYC")" && pwd)/$(basename "$POLICYC")  # the tests cd
BASE=${2:-}
if [[ -z $BASE ]]; then BASE=$(mktemp -d); fi
mkdir -p "$BASE"
TMP=$(cd "$BASE" && pwd)/policyc_sign
rm -rf "$TMP"
mkdir -p "$TMP"
cd "$TMP"

failures=0
checks=0
OUT="$TMP/stdout" ERR="$TMP/stderr"

fail() {
  echo "FAIL: $*" >&2
  echo "--- stdout:" >&2; cat "$OUT" >&2 || true
  echo "--- stderr:" >&2; cat "$ERR" >&2 || true
  failures=$((failures + 1))
}

# run WANT_RC CMD...: runs CMD with stdout/stderr in $OUT/$ERR and checks its
# exit code; a signal (exit >= 128) is always a failure.
run() {
  local want=$1
  shift
  checks=$((checks + 1))
  local rc=0
  "$@" >"$OUT" 2>"$ERR" || rc=$?
  if ((rc >= 128)); then
    fail "$* was killed by a signal (exit $rc)"
    return 0
  fi
  if [[ $rc != "$want" ]]; then fail "$* exited $rc, expected $want"; fi
  return 0
}

expect_in() {
  checks=$((checks + 1))
  grep -Eq -- "$2" "$1" || fail "expected /$2/ in $(basename "$1")"
}

# flip FILE OFFSET OUT: OUT is FILE with the byte at OFFSET xor 0x01.
flip() {
  cp "$1" "$3"
  local byte
  byte=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $((byte ^ 1)))" | dd of="$3" bs=1 seek="$2" conv=notrunc status=none
}

cat >good.policy <<'POLICY'
package sign.test
version "1"
default allow
rule no_gpt3 { when request.model == "gpt-3.5-turbo" deny "retired model" code "retired" }
POLICY
echo '{"model":"gpt-3.5-turbo","messages":[{"role":"user","content":"hi"}]}' >req.json

# --- help ------------------------------------------------------------------
for c in keygen verify compile; do
  run 0 "$POLICYC" "$c" --help
  expect_in "$OUT" "^usage: policyc $c"
done
expect_in "$OUT" '--sign KEY'
run 0 "$POLICYC" --help
expect_in "$OUT" '^  keygen -o NAME'
expect_in "$OUT" '^  verify --key PUB BUNDLE'

# --- keygen --------------------------------------------------------------
run 0 "$POLICYC" keygen -o ops
expect_in "$OUT" '^key id [0-9a-f]{16}: wrote ops\.key \(secret, mode 0600\) and ops\.pub \(public\)$'
ops_id=$(sed -nE 's/^key id ([0-9a-f]{16}):.*/\1/p' "$OUT")
checks=$((checks + 1))
[[ $(stat -c %a ops.key) == 600 ]] || fail "ops.key has mode $(stat -c %a ops.key), not 600"
expect_in ops.pub "^gavel-ed25519-public $ops_id [0-9a-f]{64}$"
expect_in ops.key "^gavel-ed25519-secret $ops_id [0-9a-f]{64}$"
# Even under a permissive umask the secret key is 0600.
(umask 000 && "$POLICYC" keygen -o loose >/dev/null)
checks=$((checks + 1))
[[ $(stat -c %a loose.key) == 600 ]] || fail "loose.key has mode $(stat -c %a loose.key) under umask 000"
# An existing key is never overwritten, and no half pair is written.
cp ops.key ops.key.orig
run 1 "$POLICYC" keygen -o ops
expect_in "$ERR" 'ops\.key: already exists'
checks=$((checks + 1))
cmp -s ops.key ops.key.orig || fail "keygen overwrote ops.key"
touch half.pub
run 1 "$POLICYC" keygen -o half
checks=$((checks + 1))
[[ ! -e half.key ]] || fail "keygen wrote half.key although half.pub exists"
run 2 "$POLICYC" keygen
expect_in "$ERR" '-o NAME is required'
run 0 "$POLICYC" keygen -o other
other_id=$(sed -nE 's/^key id ([0-9a-f]{16}):.*/\1/p' "$OUT")
checks=$((checks + 1))
[[ $other_id != "$ops_id" ]] || fail "two keygen runs made the same key id $ops_id"

# --- compile --sign and verify -------------------------------------------
run 0 "$POLICYC" compile good.policy -o signed.bundle --sign ops.key
expect_in "$OUT" "^wrote signed\.bundle \([0-9]+ bytes, bundle xxh3:[0-9a-f]{32}, signed by key $ops_id\)$"
hash=$(grep -oE 'xxh3:[0-9a-f]{32}' "$OUT")
run 0 "$POLICYC" verify --key ops.pub signed.bundle
expect_in "$OUT" "^ok: signed\.bundle signed by key $ops_id \(ops\.pub\), bundle $hash$"
# Rotation: either of two trusted keys, in any order.
run 0 "$POLICYC" verify --key other.pub --key ops.pub signed.bundle
expect_in "$OUT" "signed by key $ops_id \(ops\.pub\)"
# The wrong key.
run 1 "$POLICYC" verify --key other.pub signed.bundle
expect_in "$ERR" "^error: signed\.bundle: bundle is signed by unknown key id $ops_id \(this engine trusts key id $other_id\)$"
# An unsigned bundle of the same policy: same identity, refused by verify.
run 0 "$POLICYC" compile good.policy -o plain.bundle
expect_in "$OUT" "bundle $hash\)$"
run 1 "$POLICYC" verify --key ops.pub plain.bundle
expect_in "$ERR" "^error: plain\.bundle: bundle is unsigned, but this engine trusts only bundles signed by key id $ops_id$"
# Tampered: one byte inside the bundle, one in the signature.
size=$(stat -c %s signed.bundle)
flip signed.bundle 100 tampered.bundle
run 1 "$POLICYC" verify --key ops.pub tampered.bundle
expect_in "$ERR" "^error: tampered\.bundle: bad signature: the bundle is not what key id $ops_id signed"
flip signed.bundle $((size - 1)) badsig.bundle
run 1 "$POLICYC" verify --key ops.pub badsig.bundle
expect_in "$ERR" 'bad signature'
head -c $((size - 10)) signed.bundle >truncated.bundle
run 1 "$POLICYC" verify --key ops.pub truncated.bundle
expect_in "$ERR" "truncated\.bundle: signed bundle truncated or padded: its header says $size bytes, got $((size - 10))$"
# The signed bundle decides like the unsigned one (eval trusts no key: signer "unsigned").
run 0 "$POLICYC" eval signed.bundle --request req.json
expect_in "$OUT" '"decision":"deny","status":403,"code":"retired"'
expect_in "$OUT" '"signer":"unsigned"'

# --- keys in the wrong place, usage ----------------------------------------
run 1 "$POLICYC" verify --key ops.key signed.bundle
expect_in "$ERR" 'ops\.key: not a public key: .*this is a secret key; give the \.pub file'
run 1 "$POLICYC" compile good.policy -o x.bundle --sign ops.pub
expect_in "$ERR" 'ops\.pub: not a secret key: .*this is a public key'
checks=$((checks + 1))
[[ ! -e x.bundle ]] || fail "compile --sign with a bad key wrote a bundle"
run 1 "$POLICYC" verify --key no-such.pub signed.bundle
expect_in "$ERR" 'no-such\.pub'
run 2 "$POLICYC" verify signed.bundle
expect_in "$ERR" '--key PUB is required'

echo "$checks checks, $failures failed"
((failures == 0))
