#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages Embargo needs that are missing (nothing when all are there).
#   scripts/setup-system.sh        build + run prerequisites (Rust crates, Tauri, sequoia)
#   scripts/setup-system.sh test   plus the OpenPGP peers, Xvfb and WebDriver the tests drive
set -euo pipefail

want=(build-essential pkg-config curl
      # sequoia-openpgp's default crypto backend (nettle); bindgen needs clang
      nettle-dev clang libclang-dev
      # Tauri v2 on Linux
      libwebkit2gtk-4.1-dev librsvg2-dev libayatana-appindicator3-dev libxdo-dev libssl-dev
      gnupg)
if [ "${1:-}" = test ]; then
  # xvfb…imagemagick: the app end to end; exiftool: the attachment-scrubbing tests read what is
  # left with it; postgresql: the intake server's second storage backend; strace: the durability
  # test reads the intake's syscalls; dbus…python3-gi: a session bus and a recording notification
  # service (tests/peers/notifications.py) the app's notifications go to; systemd: its
  # systemd-analyze checks the intake's unit; desktop-file-utils, appstream: the packages'
  # desktop entry and AppStream metadata are validated (scripts/package.sh, tests/it/packages.rs);
  # mmdebstrap, bubblewrap: the app's .deb is run on a fresh Debian 12 (scripts/fresh-debian12.sh);
  # python3-xlib: tests/peers/wm_close.py closes the app's window as a window manager does.
  want+=(sq python3 xvfb xauth webkit2gtk-driver imagemagick libimage-exiftool-perl postgresql time
         strace dbus python3-dbus python3-gi systemd desktop-file-utils appstream mmdebstrap
         bubblewrap python3-xlib)
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
node_major=$(node --version 2>/dev/null | sed 's/^v\([0-9]*\).*/\1/' || true)
if [ -z "$node_major" ] || [ "$node_major" -lt 20 ]; then
  cat >&2 <<'MSG'
Node.js >= 20 is needed to build the frontend (Debian 12's own nodejs is 18).
Install Node 20 LTS, e.g. from NodeSource's Debian repository (deb.nodesource.com, node_20.x)
or with nvm (`nvm install 20`), then run this again.
MSG
  exit 1
fi
