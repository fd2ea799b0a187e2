#!/usr/bin/env bash
# How fast `mc-verify` checks a big source, measured against coreutils in the same run, on the
# same file.
#
# One random file of BIG_BYTES (1 GiB) and one of SMALL_BYTES (64 MiB) are written once and
# hard-linked wherever a PKGBUILD folder or the served folder needs them, so every reader gets
# the same inode from the page cache. Each PKGBUILD folder has a .SRCINFO with one source:
#   1. sha256sum  `sha256sum FILE` (run once untimed first, which also gives the expected sum):
#                 seconds and MB/s; with `b2sum FILE` after it, what makepkg runs for two sums.
#   2. local      `source = big.bin` beside the PKGBUILD with its sha256: seconds, MB/s, the
#                 ratio to sha256sum (target <= 1.5x), and peak RSS, which must not grow with the
#                 file: the SMALL_BYTES file is checked the same way to compare.
#   3. http       the same file from `xtask serve` over loopback HTTP into an empty cache
#                 (emptied, untimed, before each run): seconds, MB/s, peak RSS, against makepkg's
#                 way (`curl -o FILE URL`, then `sha256sum FILE`).
#   4. two sums   steps 2 and 3 again with `b2sums` declared too: both hashed in one pass.
# Every mc-verify run must end with one `source` record whose verdict is "ok", or the script
# stops. Progress goes to stderr; the table of figures and ratios is the only thing on stdout.
#
# Run:   make bench-verify
#   or   bash benches/verify.sh
# Environment: BIG_BYTES (default 1 GiB), SMALL_BYTES (default 64 MiB), RUNS (repeats of each
#   measurement, the median is shown; default 3), KEEP=1 keeps the work folder (~3 GiB at most).
# Needs cargo, coreutils (sha256sum, b2sum), curl, jq and /usr/bin/time (Debian: `time`).
# About two minutes on 2 cores once the release build is done, half of it the downloads.
# Deliberately not part of `cargo test`: timings never go into assertions.
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) stops the script too
export LC_ALL=C # `$EPOCHREALTIME` and awk must agree on the decimal point.

BIG_BYTES=${BIG_BYTES:-$((1 << 30))}
SMALL_BYTES=${SMALL_BYTES:-$((64 << 20))}
RUNS=${RUNS:-3}
# mc-verify's --timeout bounds each wait for bytes; generous, so a slow disk cannot fail a run.
TIMEOUT=600

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mc-bench-verify.XXXXXX")
DATA=$WORK/data    # the two generated files
WWW=$WORK/www      # the served folder: links to them
CACHE=$WORK/cache  # mc-verify's source cache
source "$REPO_ROOT/benches/lib.sh"
declare -A SHA256 B2 # the expected sums of big.bin and small.bin, by name (big, small)



check_peers() {
	local tool
	for tool in cargo sha256sum b2sum curl jq awk /usr/bin/time; do
		command -v "$tool" >/dev/null || die "$tool is missing"
	done
}





# Decimal megabytes per second for $1 bytes in $2 seconds.
mb_per_s() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.0f MB/s", b / 1e6 / t }'; }

# $1 bytes in MiB.
mib() { awk -v b="$1" 'BEGIN { printf "%.0f MiB", b / 1048576 }'; }

build() {
	log "building release binaries"
	(cd "$REPO_ROOT" && cargo build --release --quiet -p mc-verify -p xtask)
}

# Writes the two files, flushes them to disk so writeback cannot slow what follows, and reads
# each once through sha256sum: that puts them in the page cache and gives the expected sums.
generate() {
	log "writing $(mib "$BIG_BYTES") and $(mib "$SMALL_BYTES") of random bytes"
	mkdir -p "$DATA" "$WWW"
	head -c "$BIG_BYTES" /dev/urandom >"$DATA/big.bin"
	head -c "$SMALL_BYTES" /dev/urandom >"$DATA/small.bin"
	sync
	log "hashing them once, untimed (sha256sum, b2sum)"
	local name
	for name in big small; do
		ln "$DATA/$name.bin" "$WWW/$name.bin"
		SHA256[$name]=$(sha256sum "$DATA/$name.bin" | cut -d ' ' -f 1)
		B2[$name]=$(b2sum "$DATA/$name.bin" | cut -d ' ' -f 1)
	done
}

# A PKGBUILD folder $WORK/$1 whose one source is $2 (a file name, or a URL to one), the file
# $3 (big or small), with its sha256 and, when $4 is "b2", its BLAKE2b sum too. A local
# source is linked into the folder, as a PKGBUILD ships it.
pkgbuild_folder() {
	local folder=$WORK/$1 source=$2 name=$3
	mkdir -p "$folder"
	[[ $source == */* ]] || ln "$DATA/$name.bin" "$folder/$source"
	{
		printf 'pkgbase = big\n\tpkgver = 1.0\n\tpkgrel = 1\n\tarch = x86_64\n'
		printf '\tsource = %s\n\tsha256sums = %s\n' "$source" "${SHA256[$name]}"
		if [[ ${4:-} == b2 ]]; then printf '\tb2sums = %s\n' "${B2[$name]}"; fi
		printf '\npkgname = big\n'
	} >"$folder/.SRCINFO"
	printf 'pkgname=big\npkgver=1.0\npkgrel=1\narch=(x86_64)\nsource=(%q)\n' "$source" \
		>"$folder/PKGBUILD"
}


# mc-verify on the PKGBUILD folder $WORK/$1: its records go to $1.jsonl, and its peak RSS in
# KiB is appended to $1.rss. Its exit status is judged by check_ok, from the records.
verify() {
	/usr/bin/time -f %M -a -o "$WORK/$1.rss" \
		"$BIN/mc-verify" --cache "$CACHE" --timeout "$TIMEOUT" "$WORK/$1" >"$WORK/$1.jsonl" ||
		true
}

# Stops the run unless mc-verify's last run on folder $1 says exactly one source, verdict "ok".
check_ok() {
	jq -se 'map(select(.type == "source")) | length == 1 and all(.verdict == "ok")' \
		"$WORK/$1.jsonl" >/dev/null ||
		die "mc-verify's verdict on $1 is not \"ok\": $(cat "$WORK/$1.jsonl")"
}

# The median seconds of RUNS mc-verify runs on folder $1, each after the untimed command $2
# and checked after it.
median_verify() {
	local folder=$1 before=$2 i
	for ((i = 0; i < RUNS; i++)); do
		"$before"
		seconds verify "$folder"
		check_ok "$folder"
	done | median
}

# The largest peak RSS of mc-verify's runs on folder $1, in MiB. /usr/bin/time writes a
# "Command exited with non-zero status" line too when there is one; only numbers count.
peak_rss_mib() {
	awk '/^[0-9]+$/ && $1 > max { max = $1 } END { printf "%.1f", max / 1024 }' "$WORK/$1.rss"
}

empty_cache() { rm -rf "$CACHE"; }

# The peers: coreutils on the page-cached file, and makepkg's download-then-check.
sha256sum_big() { sha256sum "$DATA/big.bin" >/dev/null; }
sha256sum_b2sum_big() { sha256sum "$DATA/big.bin" >/dev/null && b2sum "$DATA/big.bin" >/dev/null; }
curl_sha256sum() {
	curl -fsS -o "$WORK/curl.bin" "$URL/big.bin"
	sha256sum "$WORK/curl.bin" >/dev/null
}
no_curl_file() { rm -f "$WORK/curl.bin"; }



report() {
	local local_ratio rss_big rss_small rss_http rss_http_small flat
	local_ratio=$(ratio "$T_LOCAL" "$T_SHA256SUM")
	rss_big=$(peak_rss_mib local-big)
	rss_small=$(peak_rss_mib local-small)
	rss_http=$(peak_rss_mib http-big)
	rss_http_small=$(peak_rss_mib http-small)
	# A fixed buffer does not grow with the file; allow a few MiB of allocator noise.
	flat=$(awk -v a="$rss_big" -v b="$rss_small" -v c="$rss_http" -v d="$rss_http_small" \
		'BEGIN { print (a - b < 4 && c - d < 4 ? "yes" : "NO") }')

	echo "mc-verify benchmark: one $(mib "$BIG_BYTES") random file (and one of" \
		"$(mib "$SMALL_BYTES") for memory), read from the page cache; loopback HTTP; $CORES cores"
	echo
	row "hashing a local source" "seconds" "median of $RUNS"
	row "sha256sum FILE" "$T_SHA256SUM" "$(mb_per_s "$BIG_BYTES" "$T_SHA256SUM")"
	row "mc-verify, sha256sums" "$T_LOCAL" "$(mb_per_s "$BIG_BYTES" "$T_LOCAL")"
	row "mc-verify / sha256sum" "${local_ratio}x" "target <= 1.5x: $(at_most "$local_ratio" 1.5)"
	row "sha256sum FILE; b2sum FILE" "$T_TWO_PASSES" "$(mb_per_s "$BIG_BYTES" "$T_TWO_PASSES")"
	row "mc-verify, sha256sums + b2sums" "$T_LOCAL_B2" "$(mb_per_s "$BIG_BYTES" "$T_LOCAL_B2"), one pass"
	row "mc-verify / (sha256sum; b2sum)" "$(ratio "$T_LOCAL_B2" "$T_TWO_PASSES")x" ""
	echo
	row "downloading into an empty cache" "seconds" "median of $RUNS; cache emptied before each"
	row "curl -o FILE URL; sha256sum FILE" "$T_CURL" "$(mb_per_s "$BIG_BYTES" "$T_CURL")"
	row "mc-verify, sha256sums" "$T_HTTP" "$(mb_per_s "$BIG_BYTES" "$T_HTTP")"
	row "mc-verify / (curl; sha256sum)" "$(ratio "$T_HTTP" "$T_CURL")x" ""
	row "mc-verify, sha256sums + b2sums" "$T_HTTP_B2" "$(mb_per_s "$BIG_BYTES" "$T_HTTP_B2")"
	echo
	row "mc-verify peak RSS" "MiB" "largest of $RUNS runs"
	row "local, $(mib "$SMALL_BYTES")" "$rss_small" ""
	row "local, $(mib "$BIG_BYTES")" "$rss_big" ""
	row "http, $(mib "$SMALL_BYTES")" "$rss_http_small" ""
	row "http, $(mib "$BIG_BYTES")" "$rss_http" ""
	row "flat (grows by < 4 MiB with the file)" "$flat" ""
}

main() {
	check_peers
	CORES=$(nproc)
	build
	generate
	serve
	pkgbuild_folder local-big big.bin big
	pkgbuild_folder local-small small.bin small
	pkgbuild_folder local-big-b2 big.bin big b2
	pkgbuild_folder http-big "$URL/big.bin" big
	pkgbuild_folder http-small "$URL/small.bin" small
	pkgbuild_folder http-big-b2 "$URL/big.bin" big b2

	log "timing sha256sum, then sha256sum; b2sum ($RUNS runs each)"
	T_SHA256SUM=$(median_seconds_after "$RUNS" nothing sha256sum_big)
	T_TWO_PASSES=$(median_seconds_after "$RUNS" nothing sha256sum_b2sum_big)
	log "timing mc-verify on local sources ($RUNS runs each)"
	T_LOCAL=$(median_verify local-big nothing)
	T_LOCAL_B2=$(median_verify local-big-b2 nothing)
	median_verify local-small nothing >/dev/null # for its peak RSS only

	log "timing curl; sha256sum over loopback HTTP ($RUNS runs)"
	T_CURL=$(median_seconds_after "$RUNS" no_curl_file curl_sha256sum)
	no_curl_file
	log "timing mc-verify over loopback HTTP into an empty cache ($RUNS runs each)"
	T_HTTP=$(median_verify http-big empty_cache)
	T_HTTP_B2=$(median_verify http-big-b2 empty_cache)
	median_verify http-small empty_cache >/dev/null # for its peak RSS only
	empty_cache

	report
}

main
