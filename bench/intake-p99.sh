#!/usr/bin/env bash
# The intake's 10 KB tail (not a test): RUNS runs (default 3) of 10 KB submissions from 32
# clients on SQLite, each on a fresh data directory, with the writer's stall at each WAL
# restart taken from its debug log (README "The intake server", the p99 table).
#
#   bench/intake-p99.sh
#   RUNS=5 SECONDS_PER_RUN=20 bench/intake-p99.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/embargo-target}"
scripts/build-release.sh >&2
bin="$CARGO_TARGET_DIR/release"
work=$(mktemp -d /var/tmp/intake-p99.XXXXXX)
server_pid=""
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
"$bin/intake-load" keygen --out "$work/team.asc" >/dev/null
printf 'body_limit = 600000000\n[rate_limits]\nsubmissions = { per_second = 0.0, burst = 0.0 }\n' > "$work/bench.toml"
printf 'raw fsync: '
dd if=/dev/zero of="$work/dd" bs=4k count=2000 oflag=dsync 2>&1 | awk '/copied/ {printf "%.0f/s (4 KiB, O_DSYNC)\n", 2000/$(NF-3)}'
rm -f "$work/dd"
for run in $(seq "${RUNS:-3}"); do
  rm -rf "$work/sqlite"; : > "$work/out"
  RUST_LOG=warn,embargo_intake::storage::sqlite=debug "$bin/embargo-intake" serve --config "$work/bench.toml" \
    --listen 127.0.0.1:0 --team-cert "$work/team.asc" --data "$work/sqlite" > "$work/out" 2> "$work/err" &
  server_pid=$!
  for _ in $(seq 100); do grep -q '^listening on ' "$work/out" && break; sleep 0.1; done
  url="http://$(sed -n 's/^listening on //p' "$work/out")"
  printf 'run %s: ' "$run"
  "$bin/intake-load" run --url "$url" --cert "$work/team.asc" --size 10240 --concurrency 32 \
    --duration "${SECONDS_PER_RUN:-10}" --warmup 2
  kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""
  grep 'writer checkpoint' "$work/err" | grep -v 'frames=-1' | sed 's/.*ms=//' | sort -n |
    awk '{a[NR]=$1} END {if (NR) printf "       writer stall at the %d WAL restarts: median %.1f ms, max %.1f ms\n", NR, a[int(NR/2)+1], a[NR]}'
done
