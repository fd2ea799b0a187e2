#!/usr/bin/env bash
# The main job, offline: build a sample mirror of real packages, serve it on loopback, fetch its
# sync databases, stream every package into a SQLite index, and ask which packages ship a
# __pycache__ directory. Run it as `make demo`; DEMO_DIR chooses where it works (default demo-out).
set -euo pipefail
cd "$(dirname "$0")/.."

out=${DEMO_DIR:-demo-out}
bin=target/release
cargo build --release --quiet -p mc-fetch -p mc-index
# xtask without its man-page generator, which would link every tool: the sample mirror and the
# server are all the demo needs of it.
cargo build --release --quiet -p xtask --no-default-features

rm -rf "$out"
mkdir -p "$out"
"$bin/xtask" sample-mirror --out "$out/mirror"
"$bin/xtask" serve "$out/mirror" --url-file "$out/url" >/dev/null &
server=$!
trap 'kill "$server" 2>/dev/null' EXIT
for _ in $(seq 50); do [ -s "$out/url" ] && break; sleep 0.1; done
mirror="$(cat "$out/url")/\$repo/os/\$arch"

echo "+ mc-fetch repo --mirror '$mirror' core extra | mc-index --db $out/pkgs.sqlite"
"$bin/mc-fetch" repo --mirror "$mirror" core extra |
    "$bin/mc-index" --db "$out/pkgs.sqlite" >"$out/index.jsonl"
tail -n 1 "$out/index.jsonl"

echo "+ mc-index query --db $out/pkgs.sqlite '(^|/)__pycache__/\$' --packages"
"$bin/mc-index" query --db "$out/pkgs.sqlite" '(^|/)__pycache__/$' --packages |
    if command -v jq >/dev/null; then jq -r '"\(.repo)/\(.name) \(.version)"'; else cat; fi
