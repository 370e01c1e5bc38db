#!/usr/bin/env bash
# Installs what is missing, builds Embargo, shows the CLI round trip, and launches the app.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-system.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/embargo-target}"
scripts/build-release.sh
scripts/demo.sh
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  echo "no display: not launching the desktop app (on a server: xvfb-run $CARGO_TARGET_DIR/release/embargo-app)" >&2
  exit 0
fi
exec "$CARGO_TARGET_DIR/release/embargo-app"
