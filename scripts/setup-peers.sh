#!/usr/bin/env bash
# Installs what the peer interoperability matrix (tests/it/peers.rs) needs and is missing:
# the OpenPGP peers from Debian (gpg, sq, sqop, gosop, rnp, PGPy, notmuch with GMime + GPGME)
# and OpenPGP.js from npm (pinned by tests/peers/package-lock.json). Nothing happens when all
# are there. Needs node and npm (scripts/setup-system.sh checks for Node >= 20).
set -euo pipefail
cd "$(dirname "$0")/.."

want=(gnupg sq sqop gosop rnp python3 python3-pgpy notmuch)
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

command -v npm >/dev/null || { echo "npm is missing: install Node.js 20 LTS (see scripts/setup-system.sh)" >&2; exit 1; }
if [ ! -f tests/peers/node_modules/openpgp/package.json ] \
   || [ tests/peers/package-lock.json -nt tests/peers/node_modules/.package-lock.json ]; then
  (cd tests/peers && npm ci --no-audit --no-fund --silent)
fi
