#!/usr/bin/env bash
# A fresh Debian 12 in DIR with the given .deb packages installed by apt and nothing else: the
# "apt" variant (only what apt itself needs), then the packages with their declared dependencies
# and no recommends, so a library a package needs but does not declare is missing there. Run a
# program in it with bubblewrap, e.g. `bwrap --bind DIR / --dev /dev --proc /proc embargo
# --version` (tests/it/packages.rs starts the app this way). Needs root and mmdebstrap; the
# downloads are kept in $CARGO_TARGET_DIR/debian12-apt, so a second run fetches nothing.
#   scripts/fresh-debian12.sh DIR PACKAGE.deb...
set -euo pipefail
[ $# -ge 2 ] || { echo "usage: $0 DIR PACKAGE.deb..." >&2; exit 2; }
dir=$1
shift
cache="${CARGO_TARGET_DIR:-/var/tmp/embargo-target}/debian12-apt"
mkdir -p "$cache"
# This machine's own Debian mirror when it runs Debian 12 (a mirror CI configures is honoured),
# else Debian's.
mirrors=()
if grep -qs '^VERSION_CODENAME=bookworm' /etc/os-release; then
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
    [ -s "$f" ] && grep -qv '^\s*\(#\|$\)' "$f" && mirrors+=("$f")
  done
fi
[ ${#mirrors[@]} -gt 0 ] || mirrors=(http://deb.debian.org/debian)
hooks=(--setup-hook='mkdir -p "$1"/var/cache/apt/archives'
       --setup-hook="sync-in $cache /var/cache/apt/archives/")
installs=()
for deb in "$@"; do
  name=$(basename "$deb")
  hooks+=(--customize-hook="upload $(realpath "$deb") /tmp/$name")
  installs+=("/tmp/$name")
done
hooks+=(--customize-hook="chroot \"\$1\" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ${installs[*]}"
        --customize-hook="sync-out /var/cache/apt/archives $cache"
        --customize-hook="chroot \"\$1\" rm -f ${installs[*]}")
mmdebstrap --quiet --variant=apt --mode=root --skip=cleanup/apt/cache "${hooks[@]}" \
  bookworm "$dir" "${mirrors[@]}"
