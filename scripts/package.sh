#!/usr/bin/env bash
# Release packages, from the release build (the package set of scripts/build-release.sh, so
# nothing is rebuilt with other features), into $CARGO_TARGET_DIR/release/bundle/:
#   deb/Embargo_VERSION_amd64.deb         the desktop app by the Tauri bundler: /usr/bin/embargo-app,
#                                         the `embargo` CLI (/usr/bin/embargo), the desktop entry,
#                                         the icon, AppStream metadata
#   intake/embargo-intake_VERSION_amd64.deb  the intake server with its systemd unit and its
#                                         system user (sysusers.d), by dpkg-deb
#   SHA256SUMS, SHA256SUMS.asc            the packages' digests and a detached OpenPGP signature
#                                         over them made with embargo-sop
#
#   scripts/package.sh                     signs with a throwaway key made for this run (CI)
#   RELEASE_KEY=/path/key.asc scripts/package.sh   signs with the release key (kept out of the repository)
#
# Every package is checked before it is kept: desktop-file-validate, appstreamcli validate, the
# signature verified with embargo-sop against the certificate written beside it
# (release-cert.asc). The AppImage is not built: the Tauri bundler downloads linuxdeploy and
# AppRun from GitHub, which CI cannot reach (README "Packages").
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/embargo-target}"
scripts/build-release.sh
if ! cargo tauri --version 2>/dev/null | grep -q '^tauri-cli 2\.'; then
  # 2.x, like tauri-driver; about 8 minutes to build on two cores, once. Its build directory
  # is kept beside the project's, so a CI machine reusing the target dir reinstalls it at once.
  cargo install tauri-cli --locked --version '^2' --target-dir "$CARGO_TARGET_DIR/tools"
fi
release="$CARGO_TARGET_DIR/release"
bundle="$release/bundle"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# Shared libraries the binaries load besides libc, as Debian package names (sequoia's nettle
# backend: nettle, hogweed, gmp).
crypto_depends='"libnettle8", "libhogweed6", "libgmp10"'

echo "== the desktop app (.deb, Tauri bundler)" >&2
rm -rf "$bundle/deb"
cat > "$work/bundle.json" <<JSON
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
        "depends": [$crypto_depends],
        "files": {
          "/usr/bin/embargo": "$release/embargo",
          "/usr/share/metainfo/org.embargo.desktop.metainfo.xml": "$PWD/packaging/app/org.embargo.desktop.metainfo.xml"
        }
      }
    }
  }
}
JSON
(cd src-tauri && cargo tauri bundle --bundles deb --config "$work/bundle.json")
app_deb=$(ls "$bundle"/deb/*.deb)

echo "== the intake (.deb, dpkg-deb)" >&2
root="$work/intake"
install -D -m 0755 "$release/embargo-intake" "$root/usr/bin/embargo-intake"
install -D -m 0644 packaging/systemd/embargo-intake.service "$root/usr/lib/systemd/system/embargo-intake.service"
install -D -m 0644 packaging/intake/embargo-intake.sysusers "$root/usr/lib/sysusers.d/embargo-intake.conf"
mkdir -p "$root/usr/share/doc/embargo-intake"
printf 'Embargo intake\nCopyright: Embargo contributors\nLicense: %s\n' \
  "$(sed -n 's/^license = "\(.*\)"/\1/p' Cargo.toml | head -1)" > "$root/usr/share/doc/embargo-intake/copyright"
install -D -m 0755 packaging/intake/postinst "$root/DEBIAN/postinst"
install -D -m 0755 packaging/intake/postrm "$root/DEBIAN/postrm"
size_kib=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
cat > "$root/DEBIAN/control" <<CONTROL
Package: embargo-intake
Version: $version
Architecture: amd64
Maintainer: Embargo contributors <security@embargo.invalid>
Installed-Size: $size_kib
Depends: libc6 (>= 2.34), libgcc-s1, libnettle8, libhogweed6, libgmp10
Recommends: systemd
Section: net
Priority: optional
Homepage: https://embargo.invalid/
Description: Embargo intake: receives sealed vulnerability reports for a security team
 The intake server of Embargo: accepts OpenPGP-encrypted reports over HTTPS (ciphertext
 only), stores them durably in SQLite or PostgreSQL and serves them to the security team's
 members. Configure it with "embargo-intake init", then enable embargo-intake.service.
CONTROL
rm -rf "$bundle/intake"; mkdir -p "$bundle/intake"
intake_deb="$bundle/intake/embargo-intake_${version}_amd64.deb"
dpkg-deb --root-owner-group --build "$root" "$intake_deb" >/dev/null

echo "== checks" >&2
dpkg-deb -x "$app_deb" "$work/app"
desktop-file-validate "$work/app/usr/share/applications/"*.desktop
appstreamcli validate --no-net "$work/app/usr/share/metainfo/org.embargo.desktop.metainfo.xml"

echo "== SHA256SUMS, signed with embargo-sop" >&2
sop="$release/embargo-sop"
key="${RELEASE_KEY:-}"
if [ -z "$key" ]; then
  key="$work/throwaway-release-key.asc"
  "$sop" generate-key --signing-only "Embargo release (throwaway, $(date -u +%F)) <release@embargo.invalid>" > "$key"
  echo "   (no RELEASE_KEY: signed with a throwaway key made for this run)" >&2
fi
"$sop" extract-cert < "$key" > "$bundle/release-cert.asc"
(cd "$bundle" && sha256sum "deb/$(basename "$app_deb")" "intake/$(basename "$intake_deb")" > SHA256SUMS)
"$sop" sign "$key" < "$bundle/SHA256SUMS" > "$bundle/SHA256SUMS.asc"
"$sop" verify "$bundle/SHA256SUMS.asc" "$bundle/release-cert.asc" < "$bundle/SHA256SUMS" >/dev/null
(cd "$bundle" && sha256sum --quiet -c SHA256SUMS)

ls -l "$app_deb" "$intake_deb" "$bundle/SHA256SUMS" "$bundle/SHA256SUMS.asc"
