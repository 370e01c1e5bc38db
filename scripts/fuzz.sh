#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets) for FUZZ_SECONDS each (default 600), JOBS at a
# time (default: the number of cores), and prints one line per target: seconds, executions,
# executions/s, corpus size, crashes. Not part of the test command (it is a measurement);
# `cargo test` replays the committed corpora on stable.
#
#   scripts/fuzz.sh                       # every target, 10 minutes each
#   FUZZ_SECONDS=60 scripts/fuzz.sh scrub # one target, one minute
#
# New inputs go to a scratch corpus under $FUZZ_WORK (the committed seeds in fuzz/corpus/ are
# only read); a crash is written to fuzz/artifacts/<target>/ — add it to fuzz/corpus/<target>/
# so the stable replay keeps it fixed. Needs the nightly toolchain and cargo-fuzz
# (`cargo install cargo-fuzz`, installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${FUZZ_SECONDS:-600}"
jobs="${JOBS:-$(nproc)}"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-/var/tmp/embargo-fuzz-target}"
work="${FUZZ_WORK:-/var/tmp/embargo-fuzz-work}"
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
targets=("$@")
[ ${#targets[@]} -gt 0 ] || mapfile -t targets < <(ls fuzz/fuzz_targets | sed 's/\.rs$//')
(cd fuzz && cargo +nightly fuzz build) >&2  # every target, once
mkdir -p "$work"
run_one() {
  local t=$1 log="$work/$1.log"
  mkdir -p "$work/corpus/$t" "fuzz/artifacts/$t"
  (cd fuzz && cargo +nightly fuzz run "$t" "$work/corpus/$t" "corpus/$t" -- \
     -max_total_time="$seconds" -print_final_stats=1 -artifact_prefix="artifacts/$t/") \
     > "$log" 2>&1 || true
  local runs secs crashes corpus
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
  corpus=$(find "$work/corpus/$t" "fuzz/corpus/$t" -type f | wc -l)
  crashes=$(grep -c '^==[0-9]*==ERROR\|^thread .* panicked' "$log" || true)
  printf '%-20s %6ss %12s execs %9s/s  corpus %6s  crashes %s\n' "$t" "${secs:-?}" "${runs:-?}" \
    "$( [ -n "${runs:-}" ] && [ -n "${secs:-}" ] && [ "$secs" -gt 0 ] && echo $((runs / secs)) || echo ?)" \
    "$corpus" "$crashes"
}
echo "== cargo-fuzz, ${seconds}s per target, $jobs at a time, $(nproc) cores"
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait
