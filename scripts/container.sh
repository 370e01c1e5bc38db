#!/usr/bin/env bash
# Builds the intake's container image (packaging/container/Containerfile) with podman from the
# release binary and the libraries `ldd` lists for it: no base image, no network.
#   scripts/container.sh            → embargo-intake:VERSION
# Not part of the test command: `podman run` fails on the project's test machines (crun:
# "setrlimit RLIMIT_NOFILE: Operation not permitted", with or without --ulimit host), so the
# same binary and configuration are tested outside a container (README "Several replicas").
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/embargo-target}"
scripts/build-release.sh
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
ctx="$CARGO_TARGET_DIR/container"
rm -rf "$ctx"; mkdir -p "$ctx/bin" "$ctx/lib"
bin="$CARGO_TARGET_DIR/release/embargo-intake"
cp "$bin" "$ctx/bin/"
for lib in $(ldd "$bin" | awk '/=>/ {print $3} /^[[:space:]]*\/lib/ {print $1}'); do
  cp -L --parents "$lib" "$ctx/lib/"
done
podman build -q -t "embargo-intake:$version" -f packaging/container/Containerfile "$ctx"
