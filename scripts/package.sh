#!/usr/bin/env bash
# The desktop app's .deb, made by the Tauri bundler from the release build (the package set of
# scripts/build-release.sh, so nothing is rebuilt with other features): the app
# (/usr/bin/embargo-app), the `embargo` CLI beside it (/usr/bin/embargo), the desktop entry and
# the icon; the runtime dependencies the bundler declares (libwebkit2gtk-4.1-0, libgtk-3-0: the
# CLI needs only libc, sequoia's nettle is linked in). Output: $CARGO_TARGET_DIR/release/bundle/deb/.
# (Issue 17: the AppImage, SHA256SUMS signed with embargo-sop and the install test are still to
# come; Tauri's AppImage bundler downloads linuxdeploy from GitHub, which CI cannot reach.)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/embargo-target}"
scripts/build-release.sh
if ! cargo tauri --version 2>/dev/null | grep -q '^tauri-cli 2\.'; then
  # 2.x, like tauri-driver; about 8 minutes to build on two cores, once.
  cargo install tauri-cli --locked --version '^2'
fi
cli="$CARGO_TARGET_DIR/release/embargo"
config="$(mktemp --suffix=.json)"
trap 'rm -f "$config"' EXIT
cat > "$config" <<JSON
{
  "bundle": {
    "active": true,
    "targets": ["deb"],
    "category": "Utility",
    "shortDescription": "Report a vulnerability confidentially, encrypted to the security team",
    "longDescription": "Embargo writes a vulnerability report against the program's disclosure policy, encrypts it to the security team's pinned OpenPGP key (sequoia-openpgp) and submits it to the team's intake or exports it as PGP/MIME mail. Security teams receive, read and answer reports in its Team inbox.",
    "copyright": "Embargo contributors, GPL-3.0-or-later",
    "linux": {
      "deb": {
        "section": "utils",
        "files": { "/usr/bin/embargo": "$cli" }
      }
    }
  }
}
JSON
(cd src-tauri && cargo tauri bundle --bundles deb --config "$config")
ls -l "$CARGO_TARGET_DIR"/release/bundle/deb/*.deb
