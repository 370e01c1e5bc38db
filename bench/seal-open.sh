#!/usr/bin/env bash
# Benchmark (not a test): seal and open one large attachment with embargo, gpg and sq, and print
# a Markdown table of throughput and peak RSS.
#
#   bench/seal-open.sh [SIZE...]          sizes as `head -c` takes them (default: 10M 100M 1G)
#   BENCH_SIZES="10M 100M" bench/seal-open.sh
#   BENCH_RUNS=5 bench/seal-open.sh       runs per measurement (default 3; the fastest is kept)
#   EMBARGO_BASELINE=/path/to/old/embargo bench/seal-open.sh
#                                         also times an earlier embargo build, same run, same files
#
# Every tool encrypts to the same gpg-made Ed25519/Cv25519 key and writes binary (unarmored)
# output; `embargo --aead` needs a key advertising SEIPDv2, which gpg/sq 0.27 cannot read, so it
# uses a key from `embargo key generate` and only embargo is timed for that row.
# MB = 10^6 bytes; MB/s is computed from the attachment's size. Wall time is taken with a
# nanosecond clock around `/usr/bin/time -f '%e %M'` (whose %e has only 10 ms resolution);
# peak RSS is time's %M. Note that embargo fsyncs what it writes (seal output, opened files);
# gpg and sq do not, so their times exclude write-back to disk. Embargo also base64-encodes
# attachments inside the bundle (about 1.37x the bytes to encrypt) and hashes them twice on seal.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=${BENCH_RUNS:-3}
if (($#)); then SIZES=("$@"); else read -r -a SIZES <<<"${BENCH_SIZES:-10M 100M 1G}"; fi
((${#SIZES[@]})) || { echo "error: no sizes given" >&2; exit 1; }

die() { echo "error: $*" >&2; exit 1; }
log() { echo "# $*" >&2; }
for t in gpg gpgconf sq cargo head cmp awk stat; do
    command -v "$t" >/dev/null || die "missing tool: $t"
done
[[ -x /usr/bin/time ]] || die "GNU time missing at /usr/bin/time (apt-get install -y time)"

log "building embargo (release)"
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/var/tmp/embargo-target}
"$ROOT/scripts/build-release.sh" >&2 || die "the release build failed"
EMBARGO=$CARGO_TARGET_DIR/release/embargo
[[ -x $EMBARGO ]] || die "no binary at $EMBARGO"
BASELINE=${EMBARGO_BASELINE:-}
[[ -z $BASELINE || -x $BASELINE ]] || die "EMBARGO_BASELINE=$BASELINE is not an executable"

WORK=$(mktemp -d /var/tmp/embargo-bench.XXXXXX)
export GNUPGHOME=$WORK/gnupg
cleanup() {
    gpgconf --kill all 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
mkdir -m 700 "$GNUPGHOME"
cd "$WORK"

echo "## embargo seal/open benchmark"
echo
echo "- $(gpg --version | head -1)"
echo "- $(sq --version)"
echo "- $("$EMBARGO" --version)"
[[ -z $BASELINE ]] || echo "- before: $BASELINE ($("$BASELINE" --version))"
echo "- $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo 'no git'), $(nproc) CPUs," \
    "$(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg) at start, best of $RUNS runs"
echo

# --- keys and report -------------------------------------------------------------------------
log "generating keys"
# quietly CMD...: runs CMD with its stderr kept aside, shown only if it fails.
quietly() { "$@" 2>stderr.txt || { cat stderr.txt >&2; die "failed: $*"; }; }
G=(gpg --batch --yes --quiet --passphrase '' --pinentry-mode loopback)
quietly "${G[@]}" --quick-gen-key 'Bench <bench@example.org>' ed25519 cert,sign never
FPR=$(quietly gpg --batch --with-colons --list-keys bench@example.org | awk -F: '/^fpr/ {print $10; exit}')
[[ -n $FPR ]] || die "gpg key generation failed"
quietly "${G[@]}" --quick-add-key "$FPR" cv25519 encr never
quietly gpg --batch --armor --export "$FPR" >team.asc
quietly gpg --batch --armor --export-secret-keys "$FPR" >team-secret.asc
quietly gpg --batch --export "$FPR" >team.pgp
quietly gpg --batch --export-secret-keys "$FPR" >team-secret.pgp
# Absolute paths for embargo's outputs: some versions fail on a bare file name (no parent dir).
quietly "$EMBARGO" key generate --userid 'Bench <b@example.org>' \
    -o "$WORK/aead-secret.asc" --public "$WORK/aead.asc"

quietly "$EMBARGO" new -o "$WORK/report.md"
sed -i 's/^title = ""/title = "Benchmark"/; s#^assets = \[\]#assets = ["https://example.org"]#' report.md
grep -q '^title = "Benchmark"' report.md && grep -q '^assets = \["https' report.md ||
    die "the report template changed: cannot fill in title/assets"
# Earlier versions do not know the `reference` key.
sed -i '/^reference = /d; /^# A random reference/d' report.md

# --- measuring -------------------------------------------------------------------------------
# BEST/RSS["size|tool|op"]: fastest wall time (ns) and that run's peak RSS (KiB); BYTES[size]
declare -A BEST RSS BYTES

# measure KEY OUTPUT CMD...: runs CMD once after deleting OUTPUT (file or dir); keeps the fastest
# run per KEY. Callers loop over rounds, so background load spreads over all tools alike.
measure() {
    local key=$1 out=$2 t0 t1 ns e m
    shift 2
    rm -rf "$out"
    t0=$(date +%s%N)
    if ! /usr/bin/time -f '%e %M' -o time.txt "$@" >/dev/null 2>stderr.txt; then
        cat stderr.txt time.txt >&2
        die "failed ($key): $*"
    fi
    t1=$(date +%s%N)
    ns=$((t1 - t0))
    read -r e m < <(tail -1 time.txt)
    if [[ -z ${BEST[$key]:-} ]] || ((ns < BEST[$key])); then BEST[$key]=$ns RSS[$key]=$m; fi
    log "$key: $((ns / 1000000)) ms, $m KiB"
}

same() { cmp -s "$1" "$2" || die "$3: opened output differs from the input"; }

# sq's default `--compression pad` wraps the data in a (level-0) deflate packet: "sq" is that
# default; "sq --compression none" is the like-for-like counterpart of `gpg -z 0` and embargo.
TOOLS=("gpg (default)" "gpg -z 0" "sq" "sq --compression none" "embargo" "embargo --aead")
[[ -z $BASELINE ]] || TOOLS+=("embargo (before)" "embargo --aead (before)")
for size in "${SIZES[@]}"; do
    in=attachment-$size.bin
    log "size $size: writing $in"
    head -c "$size" /dev/urandom >"$in"
    [[ -s $in ]] || die "could not make a $size input"
    BYTES[$size]=$(stat -c %s "$in")

    for ((round = 1; round <= RUNS; round++)); do
        log "size $size: round $round of $RUNS"
        measure "$size|gpg (default)|seal" s.gpg gpg --batch --yes -e -r "$FPR" -o s.gpg "$in"
        measure "$size|gpg (default)|open" out gpg --batch --yes -d -o out s.gpg
        same out "$in" "gpg (default)"
        measure "$size|gpg -z 0|seal" s.gpgz0 gpg --batch --yes -z 0 -e -r "$FPR" -o s.gpgz0 "$in"
        measure "$size|gpg -z 0|open" out gpg --batch --yes -d -o out s.gpgz0
        same out "$in" "gpg -z 0"

        measure "$size|sq|seal" s.sq sq encrypt --binary --recipient-cert team.pgp -o s.sq "$in"
        measure "$size|sq|open" out sq decrypt --recipient-key team-secret.pgp -o out s.sq
        same out "$in" sq
        measure "$size|sq --compression none|seal" s.sqn \
            sq encrypt --binary --compression none --recipient-cert team.pgp -o s.sqn "$in"
        measure "$size|sq --compression none|open" out \
            sq decrypt --recipient-key team-secret.pgp -o out s.sqn
        same out "$in" "sq --compression none"

        measure "$size|embargo|seal" s.emb \
            "$EMBARGO" seal report.md --to team.asc --attach "$in" --format binary --force -o s.emb
        measure "$size|embargo|open" out "$EMBARGO" open s.emb --key team-secret.asc -o out
        same "out/attachments/$in" "$in" embargo

        measure "$size|embargo --aead|seal" s.aead \
            "$EMBARGO" seal report.md --to aead.asc --attach "$in" --format binary --aead --force -o s.aead
        grep -q 'using SEIPDv2' stderr.txt || die "embargo --aead did not produce SEIPDv2"
        measure "$size|embargo --aead|open" out "$EMBARGO" open s.aead --key aead-secret.asc -o out
        same "out/attachments/$in" "$in" "embargo --aead"

        if [[ -n $BASELINE ]]; then
            measure "$size|embargo (before)|seal" s.embb \
                "$BASELINE" seal report.md --to team.asc --attach "$in" --format binary --force -o s.embb
            measure "$size|embargo (before)|open" out "$BASELINE" open s.embb --key team-secret.asc -o out
            same "out/attachments/$in" "$in" "embargo (before)"
            measure "$size|embargo --aead (before)|seal" s.aeadb \
                "$BASELINE" seal report.md --to aead.asc --attach "$in" --format binary --aead --force -o s.aeadb
            measure "$size|embargo --aead (before)|open" out "$BASELINE" open s.aeadb --key aead-secret.asc -o out
            same "out/attachments/$in" "$in" "embargo --aead (before)"
        fi
    done
    rm -rf "$in" s.* out
done

# --- report ----------------------------------------------------------------------------------
mbps() { awk -v b="${BYTES[$1]}" -v n="${BEST[$1|$2|$3]}" 'BEGIN { printf "%.1f", b * 1e3 / n }'; }
rssmb() { awk -v k="${RSS[$1|$2|$3]}" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }'; }
# speed A/B for the same size and op: > 1 means A is faster.
speedup() { awk -v a="${BEST[$1|$2|$4]}" -v b="${BEST[$1|$3|$4]}" 'BEGIN { printf "%.2f×", b / a }'; }
rssratio() { awk -v a="${RSS[$1|$2|$4]}" -v b="${RSS[$1|$3|$4]}" 'BEGIN { printf "%.2f×", a / b }'; }

echo "| size | tool | seal MB/s | seal peak RSS MB | open MB/s | open peak RSS MB |"
echo "|---|---|--:|--:|--:|--:|"
for size in "${SIZES[@]}"; do
    for t in "${TOOLS[@]}"; do
        echo "| $size | $t | $(mbps "$size" "$t" seal) | $(rssmb "$size" "$t" seal)" \
            "| $(mbps "$size" "$t" open) | $(rssmb "$size" "$t" open) |"
    done
done
echo
echo "Ratios (speed: > 1× means embargo is faster; RSS: embargo's peak RSS / sq's; sq = default):"
echo
echo "| size | op | embargo vs gpg default | embargo vs sq | embargo RSS / sq RSS | embargo --aead vs gpg -z 0 |"
echo "|---|---|--:|--:|--:|--:|"
for size in "${SIZES[@]}"; do
    for op in seal open; do
        echo "| $size | $op | $(speedup "$size" embargo "gpg (default)" $op)" \
            "| $(speedup "$size" embargo sq $op) | $(rssratio "$size" embargo sq $op)" \
            "| $(speedup "$size" "embargo --aead" "gpg -z 0" $op) |"
    done
done
if [[ -n $BASELINE ]]; then
    echo
    echo "This build against the earlier one (> 1× means this build is faster; RSS: this / earlier):"
    echo
    echo "| size | op | embargo | embargo RSS | embargo --aead | embargo --aead RSS |"
    echo "|---|---|--:|--:|--:|--:|"
    for size in "${SIZES[@]}"; do
        for op in seal open; do
            echo "| $size | $op | $(speedup "$size" embargo "embargo (before)" $op)" \
                "| $(rssratio "$size" embargo "embargo (before)" $op)" \
                "| $(speedup "$size" "embargo --aead" "embargo --aead (before)" $op)" \
                "| $(rssratio "$size" "embargo --aead" "embargo --aead (before)" $op) |"
        done
    done
fi
echo
echo "Sizes are \`head -c\` sizes (M = 2^20 bytes, G = 2^30); MB = 10^6 bytes." \
    "Load average at end: $(cut -d' ' -f1-3 /proc/loadavg) (on a busy machine the times mean little)."
