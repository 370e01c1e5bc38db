#!/usr/bin/env bash
# A researcher writes a report, seals it to a team key, and the team opens it — with the CLI.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/embargo-target}"
embargo="$CARGO_TARGET_DIR/release/embargo"
# Built by scripts/build-release.sh (run.sh calls it first); never rebuilt here.
[ -x "$embargo" ] || { echo "no $embargo: run scripts/build-release.sh first" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"

echo "== the team makes a key (in real life: their existing key, from security.txt or WKD)"
"$embargo" key generate --userid "Novu Security <security@novu.co>" -o team-secret.asc --public team.asc
"$embargo" key show team.asc

echo "== the researcher writes a report from the Novu template"
"$embargo" new --program novu -o report.md
sed -i 's/^title = ""/title = "IDOR exposes other tenants'"'"' workflows"/;
        s#^assets = \[\]#assets = ["https://api.novu.co/v1/workflows"]#;
        s/^class = "other"/class = "idor"/;
        s/^attestations = \[\]/attestations = ["no-automated-scanning", "no-exploitation", "confidential-until-fixed", "no-social-engineering-or-dos"]/' report.md
sed -i 's/^1\. $/1. GET \/v1\/workflows\/<id of another tenant> with your own API key./' report.md
"$embargo" check report.md
printf 'GET /v1/workflows/64f0c...\nHTTP/1.1 200 OK\n' > request.txt

echo "== seal it (armored text for webmail, and a PGP/MIME .eml for a mail client)"
"$embargo" seal report.md --to team.asc --attach request.txt -o report.asc
"$embargo" seal report.md --to team.asc --attach request.txt --format email -o report.eml
head -3 report.asc

echo "== the team opens it"
"$embargo" open report.eml --key team-secret.asc -o opened
echo "--- opened/report.md:"
cat opened/report.md
