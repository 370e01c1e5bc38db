#!/usr/bin/env bash
# Refreshes docs/screenshots from the app end-to-end test: runs it under Xvfb, then copies the
# screenshots it wrote into the target dir. The test itself never writes into the source tree.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/embargo-target}"
cargo build --workspace --all-targets --locked
# Only this run's pictures: a screenshot that is not taken leaves NAME.png.failed, never an old one.
rm -rf "$CARGO_TARGET_DIR"/screenshots
xvfb-run -a -s "-screen 0 1280x900x24" cargo test --workspace --locked --test it -- app_e2e
failed=$(find "$CARGO_TARGET_DIR"/screenshots -name '*.png.failed' | sort)
if [ -n "$failed" ]; then
  for f in $failed; do echo "not taken: $(basename "$f" .failed): $(cat "$f")" >&2; done
  exit 1
fi
mkdir -p docs/screenshots
cp "$CARGO_TARGET_DIR"/screenshots/*.png docs/screenshots/
git status --short docs/screenshots
