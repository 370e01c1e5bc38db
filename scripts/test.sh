#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit tests and end-to-end tests against real peers.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-system.sh test
# Outside the clone, so a fresh clone on the same machine reuses the build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/embargo-target}"
cargo fmt --all --check
cargo build --workspace --all-targets --locked
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked
