#!/usr/bin/env bash
# Builds the frontend into ui/dist (the app embeds it at compile time).
set -euo pipefail
cd "$(dirname "$0")/../ui"
[ -d node_modules ] && [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --loglevel=error
npm run build --silent
