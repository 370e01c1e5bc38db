#!/usr/bin/env bash
# The intake benchmark (not a test): durable submissions/s and p50/p99 latency at 10 KB and 1 MB
# with 32 concurrent clients on loopback, SQLite and PostgreSQL; the server's RSS while a 500 MB
# body streams in; and the storage floor — the same inserts made durable by sqlite3 and
# pgbench/psql alone — so the numbers say how close the server gets to what the disk allows.
#
#   bench/intake.sh                 everything (about 6 minutes)
#   SECONDS_PER_RUN=10 bench/intake.sh
#
# Needs: sqlite3, PostgreSQL server binaries (Debian package `postgresql`), run as root or as a
# user who may run initdb. Data lives under /var/tmp (a real disk, not tmpfs).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/embargo-target}"
duration="${SECONDS_PER_RUN:-20}"
concurrency="${CONCURRENCY:-32}"

# The same package set as every other release build (no feature re-unification, no rebuild).
scripts/build-release.sh >&2
bin="$CARGO_TARGET_DIR/release"
work=$(mktemp -d /var/tmp/intake-bench.XXXXXX)
chmod 711 "$work"  # initdb runs as `postgres` below
server_pid=""
pg_bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
  [ -d "$work/pg/data" ] && as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

"$bin/intake-load" keygen --out "$work/team.asc"
cat > "$work/bench.toml" <<EOF
body_limit = 600000000
[rate_limits]
submissions = { per_second = 0.0, burst = 0.0 }
EOF

wrap=()  # a command the server runs under (prlimit for the slow-client runs)
start_server() { # storage flag and value
  : > "$work/server.out"
  rm -rf "$work/sqlite"
  RUST_LOG=warn "${wrap[@]}" "$bin/embargo-intake" serve --config "$work/bench.toml" --listen 127.0.0.1:0 \
    --team-cert "$work/team.asc" "$@" > "$work/server.out" 2> "$work/server.err" &
  server_pid=$!
  for _ in $(seq 600); do
    grep -q '^listening on ' "$work/server.out" && break
    sleep 0.1
  done
  url="http://$(sed -n 's/^listening on //p' "$work/server.out")"
}
stop_server() {
  kill -TERM "$server_pid"; wait "$server_pid" || true; server_pid=""
}
load() { # label size seconds
  printf '%-28s ' "$1"
  "$bin/intake-load" run --url "$url" --cert "$work/team.asc" --size "$2" \
    --concurrency "$concurrency" --duration "$3" --warmup 2
}
# 1 MB runs are short: at a few hundred per second they write gigabytes.
short=$(( duration < 5 ? duration : 5 ))

echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024)" MiB"}' /proc/meminfo); disk of /var/tmp: $(df --output=source /var/tmp | tail -1)"
python3 - "$work" <<'EOF'
import os, sys, time
path = os.path.join(sys.argv[1], "fsync-probe")
fd = os.open(path, os.O_WRONLY | os.O_CREAT)
n, t = 0, time.time()
while time.time() - t < 3:
    os.write(fd, b"x" * 4096); os.fsync(fd); n += 1
print(f"== raw fsync rate of this disk: {n / (time.time() - t):.0f}/s (one 4 KiB write + fsync each)")
EOF

echo "== SQLite (embedded default)"
start_server --data "$work/sqlite"
load "sqlite 10 KB" 10240 "$duration"
stop_server
start_server --data "$work/sqlite"
load "sqlite 1 MB" 1048576 "$short"
stop_server
start_server --data "$work/sqlite"
printf '%-28s ' "sqlite 500 MB streamed"
"$bin/intake-load" big --url "$url" --cert "$work/team.asc" --size 500000000 --pid "$server_pid"
stop_server

echo "== Slow clients: 1,000 of them (uploads and request heads dripping a byte every 2 s, silent"
echo "   HTTP/2 connections) against real requests, each on a new connection (intake-load slow)"
for files in 256 4096; do  # 4096: under the hard limit of common machines (this one: 20000)
  wrap=(prlimit "--nofile=$files:$files" --)
  start_server --data "$work/sqlite"
  echo "-- server open-file limit $files"
  "$bin/intake-load" slow --url "$url" --cert "$work/team.asc" --attackers 1000 --warmup 15 \
    --duration "$duration"
  stop_server
done
wrap=()

echo "== SQLite, every body a file (small_body_limit = 0), for comparison"
printf '[storage]\nsmall_body_limit = 0\n' >> "$work/bench.toml"
start_server --data "$work/sqlite"
load "sqlite files 10 KB" 10240 "$duration"
stop_server
sed -i '/^\[storage\]/,$d' "$work/bench.toml"
rm -rf "$work/sqlite"

echo "== PostgreSQL"
mkdir -p "$work/pg"
[ "$(id -u)" = 0 ] && chown postgres: "$work/pg"
as_pg "$pg_bin/initdb" -D "$work/pg/data" --auth=trust --username=postgres >/dev/null
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg "$pg_bin/pg_ctl" -D "$work/pg/data" -l "$work/pg/log" -w \
  -o "-p $port -k $work/pg -c listen_addresses=127.0.0.1 -c max_connections=200" start >/dev/null
"$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres floor
pg_run() { # label: a fresh database per run
  "$pg_bin/dropdb" --if-exists -h 127.0.0.1 -p "$port" -U postgres intake
  "$pg_bin/createdb" -h 127.0.0.1 -p "$port" -U postgres intake
  start_server --database "postgres://postgres@127.0.0.1:$port/intake"
}
pg_run
load "postgres 10 KB" 10240 "$duration"
stop_server
printf '[storage]\nmax_batch = 1\n' >> "$work/bench.toml"
pg_run
load "postgres 10 KB, no batching" 10240 "$short"
stop_server
sed -i '/^\[storage\]/,$d' "$work/bench.toml"
pg_run
load "postgres 1 MB" 1048576 "$short"
stop_server
pg_run
printf '%-28s ' "postgres 500 MB streamed"
"$bin/intake-load" big --url "$url" --cert "$work/team.asc" --size 500000000 --pid "$server_pid"
stop_server
"$pg_bin/dropdb" -h 127.0.0.1 -p "$port" -U postgres intake

echo "== Floor: the storage alone"
db="$work/floor.sqlite3"
sqlite3 "$db" 'PRAGMA journal_mode=WAL;' 'CREATE TABLE t (x BLOB);' >/dev/null
sqlite_floor() { # label statements-per-commit commits blob-size
  {
    echo 'PRAGMA synchronous=FULL;'
    for _ in $(seq "$3"); do
      echo 'BEGIN;'
      for _ in $(seq "$2"); do echo "INSERT INTO t VALUES (randomblob($4));"; done
      echo 'COMMIT;'
    done
  } > "$work/floor.sql"
  local start end
  start=$(date +%s.%N)
  sqlite3 "$db" < "$work/floor.sql"
  end=$(date +%s.%N)
  python3 -c "import sys; s,e,n,c=map(float,sys.argv[1:5]); print(f'%-28s {n*c/(e-s):.0f} inserts/s, {(e-s)/n*1000:.2f} ms per commit ({int(c)} per commit)' % sys.argv[5])" \
    "$start" "$end" "$3" "$2" "$1"
}
sqlite_floor "sqlite3 10 KB, 1/commit" 1 1000 10240
sqlite_floor "sqlite3 10 KB, 32/commit" 32 200 10240
sqlite_floor "sqlite3 1 MB, 1/commit" 1 200 1048576
rm -f "$db"*

floor_url="postgres://postgres@127.0.0.1:$port/floor"
# The bytes come from a table of random values made once, so the loop measures storing and
# committing, not generating; ciphertext does not compress, so neither may these.
psql -X -q -d "$floor_url" <<'SQL'
CREATE TABLE t (x bytea);
ALTER TABLE t ALTER COLUMN x SET STORAGE EXTERNAL;
CREATE TABLE src (size int PRIMARY KEY, x bytea);
ALTER TABLE src ALTER COLUMN x SET STORAGE EXTERNAL;
INSERT INTO src SELECT 10240, decode(string_agg(md5(random()::text), ''), 'hex') FROM generate_series(1, 640);
INSERT INTO src SELECT 1048576, decode(string_agg(md5(random()::text), ''), 'hex') FROM generate_series(1, 65536);
SQL
# One insert per transaction: one WAL flush each (PostgreSQL groups concurrent flushes itself).
echo "INSERT INTO t SELECT x FROM src WHERE size = 10240;" > "$work/insert10k.sql"
echo "INSERT INTO t SELECT x FROM src WHERE size = 1048576;" > "$work/insert1m.sql"
pg_floor() { # label clients script seconds
  "$pg_bin/pgbench" -n -h 127.0.0.1 -p "$port" -U postgres -c "$2" -j 2 -T "$4" -M prepared \
    -f "$3" -l --log-prefix="$work/pgbench" floor > "$work/pgbench.out" 2>&1
  local tps
  tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "$work/pgbench.out")
  cat "$work"/pgbench.[0-9]* | awk '{print $3}' | sort -n > "$work/lat"
  python3 - "$work/lat" "$tps" "$1" <<'EOF'
import sys
lat = [int(l) for l in open(sys.argv[1]) if l.strip()]
p = lambda q: lat[min(len(lat) - 1, round((len(lat) - 1) * q))] / 1000
print(f"{sys.argv[3]:<28} {float(sys.argv[2]):.0f} inserts/s; p50 {p(0.5):.2f} ms, p99 {p(0.99):.2f} ms")
EOF
  rm -f "$work"/pgbench.*
}
pg_floor "psql 10 KB, 32 clients" "$concurrency" "$work/insert10k.sql" "$duration"
psql -X -q -d "$floor_url" -c 'TRUNCATE t'
pg_floor "psql 10 KB, 1 client" 1 "$work/insert10k.sql" "$duration"
psql -X -q -d "$floor_url" -c 'TRUNCATE t'
pg_floor "psql 1 MB, 32 clients" "$concurrency" "$work/insert1m.sql" "$short"
