#!/usr/bin/env bash
# mc-fetch upstream against nvchecker on the same config and the same loopback upstream, which
# answers every request after 50 ms (LATENCY): ENTRIES entries (default 600 and 5000), half
# regex pages and half npm documents, default settings on both sides (max_concurrency 20).
# Figures: wall time and peak RSS of one run each, and the requests mc-fetch makes on a second
# run with its cache (answers within --max-age are used without asking) and on a --refresh run
# (conditional requests, answered 304); nvchecker keeps no cache between runs, so its second run
# costs what its first did.
#
# Run:   bash benches/upstream.sh [ENTRIES...]
# Environment: LATENCY (seconds, default 0.05), NVCHECKER (its bin folder; default: a venv under
#   target/nvchecker-venv, made with pip install nvchecker as the tests make it), KEEP=1.
# Needs cargo, python3 (venv), GNU time. Not part of `cargo test`: timings never go into assertions.
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO_ROOT/target}
BIN=$TARGET/release
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mc-bench-upstream.XXXXXX")
# shellcheck source=benches/lib.sh
source "$REPO_ROOT/benches/lib.sh"
LATENCY=${LATENCY:-0.05}
SIZES=("$@")
[[ ${#SIZES[@]} -gt 0 ]] || SIZES=(600 5000)
need python3 /usr/bin/time

NV=${NVCHECKER:-$TARGET/nvchecker-venv/bin}
if [[ ! -x $NV/nvchecker ]]; then
	log "making the nvchecker venv in $TARGET/nvchecker-venv"
	python3 -m venv "$TARGET/nvchecker-venv"
	"$TARGET/nvchecker-venv/bin/pip" install --quiet 'nvchecker[htmlparser,jq]'
	printf '%s' 'nvchecker[htmlparser,jq]' >"$TARGET/nvchecker-venv/.installed"
	NV=$TARGET/nvchecker-venv/bin
fi
log "building mc-fetch (release)..."
(cd "$REPO_ROOT" && cargo build --release --quiet -p mc-fetch)

python3 "$REPO_ROOT/benches/upstream_server.py" "$LATENCY" >"$WORK/url" &
SERVER_PID=$!
for ((i = 0; i < 100; i++)); do [[ -s $WORK/url ]] && break; sleep 0.1; done
URL=$(<"$WORK/url")
[[ -n $URL ]] || die "the loopback upstream did not start"
requests() { python3 -c "import urllib.request,sys; print(urllib.request.urlopen(sys.argv[1]).read().decode())" "$URL/__requests"; }

config() { # ENTRIES NEWVER
	printf '[__config__]\noldver = "%s.old"\nnewver = "%s"\n\n[__config__.source.npm]\nregistry = "%s/npm"\n\n' "$2" "$2" "$URL"
	for ((n = 0; n < $1; n++)); do
		if ((n % 2)); then
			printf '[e%d]\nsource = "npm"\nnpm = "pkg%d"\n\n' "$n" "$n"
		else
			printf "[e%d]\nsource = \"regex\"\nurl = \"%s/pub/%d\"\nregex = 'tool%d-([\\\\d.]+)\\\\.tar'\n\n" "$n" "$URL" "$n" "$n"
		fi
	done
}

# A count of the last run's summary record.
summary() { grep '"type":"summary"' "$WORK/out" | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

# Runs "$@" under GNU time; prints "WALL_SECONDS PEAK_RSS_KB".
measure() {
	/usr/bin/time -f '%e %M' -o "$WORK/time" "$@" >"$WORK/out" 2>"$WORK/err" || true
	cat "$WORK/time"
}

for entries in "${SIZES[@]}"; do
	log "$entries entries, ${LATENCY}s per request"
	config "$entries" "$WORK/nv-$entries.json" >"$WORK/nv-$entries.toml"
	config "$entries" "$WORK/mc-$entries.json" >"$WORK/mc-$entries.toml"
	before=$(requests)
	read -r nv_wall nv_rss < <(measure "$NV/nvchecker" -c "$WORK/nv-$entries.toml")
	nv_requests=$(($(requests) - before))
	nv_found=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["data"]))' "$WORK/nv-$entries.json")
	cache=$WORK/cache-$entries
	read -r mc_wall mc_rss < <(measure "$BIN/mc-fetch" upstream --quiet --cache "$cache" --config "$WORK/mc-$entries.toml")
	mc_found=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["data"]))' "$WORK/mc-$entries.json")
	mc_first=$(summary requests)
	read -r mc2_wall _ < <(measure "$BIN/mc-fetch" upstream --quiet --cache "$cache" --config "$WORK/mc-$entries.toml")
	mc_second=$(summary requests)
	mc_fresh=$(summary fresh_from_cache)
	# --refresh: every kept answer asked again conditionally, as a daily run past --max-age is.
	read -r mc3_wall _ < <(measure "$BIN/mc-fetch" upstream --quiet --refresh --cache "$cache" --config "$WORK/mc-$entries.toml")
	mc_third=$(summary requests)
	mc_304=$(summary not_modified)
	echo
	echo "== $entries entries, ${LATENCY}s latency per request (nvchecker found $nv_found, mc-fetch $mc_found)"
	row "nvchecker wall (s)" "$nv_wall"
	row "mc-fetch upstream wall (s)" "$mc_wall" "nvchecker/mc-fetch $(ratio "$nv_wall" "$mc_wall") (goal > 1: $(at_least "$(ratio "$nv_wall" "$mc_wall" 3)" 1))"
	row "nvchecker peak RSS (KiB)" "$nv_rss"
	row "mc-fetch upstream peak RSS (KiB)" "$mc_rss" "mc-fetch/nvchecker $(ratio "$mc_rss" "$nv_rss") (goal <= 0.25: $(at_most "$(ratio "$mc_rss" "$nv_rss" 3)" 0.25))"
	row "requests, nvchecker (each run)" "$nv_requests"
	row "requests, mc-fetch first run" "$mc_first"
	row "requests, mc-fetch second run" "$mc_second" "$mc_fresh answers fresh from the cache (--max-age); second/first $(ratio "$mc_second" "$mc_first") (goal <= 0.1: $(at_most "$(ratio "$mc_second" "$mc_first" 3)" 0.1)); wall ${mc2_wall}s"
	row "requests, mc-fetch --refresh run" "$mc_third" "$mc_304 of them answered 304 (body from the cache); wall ${mc3_wall}s"
done
