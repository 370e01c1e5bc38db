#!/usr/bin/env bash
# Builds the release binaries (the CLI, the app with its frontend, SOP, the intake) — one package set for
# run.sh, the demo and the benchmarks, so that no script re-unifies features and rebuilds
# shared dependencies for another (`cargo build -p one-package` alone would).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/embargo-target}"
scripts/build-ui.sh
cargo build --release --locked -p embargo-cli -p embargo-app -p embargo-sop -p embargo-intake
