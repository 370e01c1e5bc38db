#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Embargo needs that are missing (nothing when all are there).
#   scripts/setup-system.sh        build + run prerequisites
#   scripts/setup-system.sh test   plus the OpenPGP peers and tools the test suite drives
set -euo pipefail

want=(build-essential pkg-config nettle-dev clang libclang-dev gnupg)
if [ "${1:-}" = test ]; then
  want+=(sq python3)
fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v cargo >/dev/null || { echo "cargo is missing: install Rust with rustup (https://rustup.rs)" >&2; exit 1; }
