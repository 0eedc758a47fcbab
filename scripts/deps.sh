#!/usr/bin/env bash
# Installs the Debian packages gavel builds and tests with, if any is missing.
# Idempotent: with everything present it installs nothing and needs no network.
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config
  antlr4 libantlr4-runtime-dev default-jre-headless
  nlohmann-json3-dev libyaml-cpp-dev libxxhash-dev libsimdjson-dev
  libhyperscan-dev libre2-dev libpcre2-dev libsodium-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 clang-format git
  clang-14 libclang-rt-14-dev llvm-14
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if ((${#missing[@]})); then
  echo "gavel: installing ${missing[*]}" >&2
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
