#!/usr/bin/env bash
# The whole test suite: formatting, dependency policy, lints, frontend checks and unit tests,
# Rust unit tests, mock-runtime command tests, end-to-end tests against the OpenPGP peers
# (gpg, sq, sqop, gosop, rnp, PGPy, OpenPGP.js, notmuch), the intake server on SQLite and on a
# throwaway PostgreSQL cluster, discovery against a loopback HTTPS server, the fuzz corpora
# replayed, and the app end to end under Xvfb with tauri-driver.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup-system.sh test
scripts/setup-peers.sh
# Outside the clone, so a fresh clone on the same machine reuses the build.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/embargo-target}"

scripts/build-ui.sh
(cd ui && npm run check --silent && npm test --silent)

if ! command -v tauri-driver >/dev/null || ! tauri-driver --help >/dev/null 2>&1; then
  # 2.x: the 3.0 alphas fail every session with WebKitWebDriver.
  cargo install tauri-driver --locked --version '^2'
fi
if ! command -v cargo-deny >/dev/null; then
  cargo install cargo-deny --locked
fi

cargo fmt --all --check
cargo deny --log-level error check licenses bans sources
# The advisory database comes from GitHub, which CI cannot reach: checked when it can be fetched.
if cargo deny --log-level error fetch db >/dev/null 2>&1; then
  cargo deny --log-level error check advisories
else
  echo "cargo deny: advisory database unreachable (no network): advisories not checked" >&2
fi
cargo build --workspace --all-targets --locked
# The release packages (.deb of the app and of the intake, SHA256SUMS signed with a throwaway
# key), which tests/it/packages.rs installs, uses and removes.
scripts/package.sh
cargo clippy --workspace --all-targets --locked -- -D warnings
xvfb-run -a -s "-screen 0 1280x900x24" cargo test --workspace --locked
