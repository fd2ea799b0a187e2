#!/usr/bin/env bash
# How fast `mc-scan` scans built packages, measured against the pipeline a user would write, in
# the same run, on the same generated packages:
#   peer     `bsdtar -xf` each package into its own folder, then `yara -r` with mc-scan's
#            built-in rules (rules/packages.yar; classic YARA, `-d member=`) and `clamscan -r`
#            over the tree.
#   mc-scan  the same packages streamed, never unpacked: YARA-X with the built-in rules,
#            clamd over its socket (members in batches, a small tar per INSTREAM), the
#            packaging checks, and its default --jobs (twice the CPUs).
# Both ClamAV runs use one database written here (EICAR as .ndb and .hdb signatures: there is
# no internet for freshclam), so neither pays for loading the official one. clamd is started
# before the timing, as it runs on a real machine, and mc-scan is timed on its first run after
# clamd started: like clamscan's, clamd's cache of clean files is empty then (a second run,
# shown but not compared, is served from that cache). A third run, mc-scan with the built-in
# rules only (--disable clamav, --disable lint), gives the throughput of package data in MB/s.
# Every package is clean, and both pipelines must agree on that (no findings, no matches).
# Progress goes to stderr; the table of figures and ratios is the only thing on stdout.
#
# Run:   make bench-scan
#   or   bash benches/scan.sh [PACKAGES]                      (default: 2000)
# Environment: FILES_PER_PACKAGE (default 10), KEEP=1 keeps the work folder.
# Needs cargo, bsdtar, yara (Debian: yara), clamscan and clamd (clamav, clamav-daemon), jq.
# Deliberately not part of `cargo test`: timings never go into assertions.
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) stops the script too
export LC_ALL=C          # `$EPOCHREALTIME` and awk must agree on the decimal point.

PACKAGES=${1:-2000}
FILES_PER_PACKAGE=${FILES_PER_PACKAGE:-10}
EICAR='X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*'

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release
RULES=$REPO_ROOT/mc-scan/rules/packages.yar
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mc-bench-scan.XXXXXX")
CLAMD_PID=
source "$REPO_ROOT/benches/lib.sh"
trap 'if [[ -n $CLAMD_PID ]]; then kill "$CLAMD_PID" 2>/dev/null || true; fi; cleanup' EXIT

build() {
	log "building release binaries"
	(cd "$REPO_ROOT" && cargo build --release --quiet -p mc-scan -p xtask)
}

generate_packages() {
	log "generating $PACKAGES packages of $FILES_PER_PACKAGE files"
	"$BIN/xtask" sample-mirror --out "$WORK/mirror" --packages "$PACKAGES" \
		--files-per-package "$FILES_PER_PACKAGE" --repos core --compression zst >&2
	PKGS=("$WORK/mirror/core/os/x86_64/"*.pkg.tar.zst)
	((${#PKGS[@]} == PACKAGES)) || die "expected $PACKAGES packages, got ${#PKGS[@]}"
	PACKAGE_BYTES=$(cat "${PKGS[@]}" | wc -c)
}

# The signature database both ClamAV runs read, and a clamd on it.
start_clamd() {
	log "starting clamd"
	mkdir -p "$WORK/clamav/db"
	printf '%s' "$EICAR" >"$WORK/clamav/eicar"
	echo "Bench.EICAR.ndb:0:*:$(od -An -tx1 "$WORK/clamav/eicar" | tr -d ' \n')" >"$WORK/clamav/db/bench.ndb"
	echo "$(md5sum <"$WORK/clamav/eicar" | cut -d' ' -f1):${#EICAR}:Bench.EICAR.hdb" >"$WORK/clamav/db/bench.hdb"
	SOCKET=$WORK/clamav/clamd.sock
	printf 'Foreground yes\nLocalSocket %s\nDatabaseDirectory %s\nLogFile %s\nTemporaryDirectory %s\n' \
		"$SOCKET" "$WORK/clamav/db" "$WORK/clamav/clamd.log" "$WORK/clamav" >"$WORK/clamav/clamd.conf"
	clamd -c "$WORK/clamav/clamd.conf" >/dev/null 2>&1 &
	CLAMD_PID=$!
	local i
	for ((i = 0; i < 600; i++)); do
		[[ -S $SOCKET ]] && return
		sleep 0.1
	done
	die "clamd did not start: $(tail -n 5 "$WORK/clamav/clamd.log")"
}

# The user's pipeline: unpack every package, then both scanners over the tree. Each step's
# seconds go to $WORK/peer.steps for the table.
unpack() {
	local pkg dir tree=$WORK/tree
	rm -rf "$tree"
	mkdir -p "$tree"
	for pkg in "${PKGS[@]}"; do
		dir=$tree/${pkg##*/}
		mkdir "$dir"
		bsdtar -xf "$pkg" -C "$dir"
	done
}
yara_tree() { yara -r -d member= "$RULES" "$WORK/tree" >"$WORK/yara.out"; }
# clamscan exits 1 when it finds something: that is an answer, not a failure.
clamscan_tree() {
	clamscan -r --no-summary --infected --database "$WORK/clamav/db" "$WORK/tree" >"$WORK/clamscan.out" ||
		(($? == 1))
}
peer() {
	{
		seconds unpack
		seconds yara_tree
		seconds clamscan_tree
	} >"$WORK/peer.steps"
}

mc_scan() {
	"$BIN/mc-scan" --clamd "$SOCKET" "${PKGS[@]}" </dev/null >"$WORK/mc-scan.jsonl"
}

mc_scan_rules() {
	"$BIN/mc-scan" --disable clamav --disable lint "${PKGS[@]}" </dev/null >"$WORK/mc-scan-rules.jsonl"
}

# Fails unless mc-scan scanned every package and found nothing.
check_mc() {
	jq -e --argjson n "$PACKAGES" 'select(.type == "summary") | .scanned == $n and
		.findings == 0 and (.failed // 0) == 0' "$1" >/dev/null ||
		die "mc-scan did not scan $PACKAGES clean packages: $(tail -n 3 "$1")"
}

check_peer() {
	[[ ! -s $WORK/yara.out && ! -s $WORK/clamscan.out ]] ||
		die "the peer pipeline found something: $(head -n 3 "$WORK/yara.out" "$WORK/clamscan.out")"
}

mb_per_s() { awk -v b="$PACKAGE_BYTES" -v t="$1" 'BEGIN { printf "%.1f", b / 1e6 / t }'; }

report() {
	local speedup
	speedup=$(ratio "$T_PEER" "$T_MC" 1)
	echo "mc-scan benchmark: $PACKAGES packages of $FILES_PER_PACKAGE files," \
		"$(awk -v b="$PACKAGE_BYTES" 'BEGIN { printf "%.1f MB", b / 1e6 }') of .pkg.tar.zst; $CORES cores"
	echo
	row "YARA (built-in rules) + ClamAV" "seconds" "same packages, same signatures"
	row "bsdtar -x + yara -r + clamscan -r" "$T_PEER" "unpacked to $WORK/tree first"
	row "  bsdtar -x, one package at a time" "$(sed -n 1p "$WORK/peer.steps")" ""
	row "  yara -r" "$(sed -n 2p "$WORK/peer.steps")" ""
	row "  clamscan -r" "$(sed -n 3p "$WORK/peer.steps")" ""
	row "mc-scan --clamd" "$T_MC" "streamed; packaging checks too; clamd just started"
	row "peer / mc-scan" "${speedup}x" "target >= 3x: $(at_least "$speedup" 3)"
	row "mc-scan --clamd again" "$T_MC_AGAIN" "not comparable: clamd's cache knows these files"
	echo
	row "mc-scan, built-in YARA rules only" "$T_RULES" "$(mb_per_s "$T_RULES") MB/s of package data"
	row "mc-scan --clamd, everything" "$T_MC" "$(mb_per_s "$T_MC") MB/s of package data"
}

main() {
	need cargo bsdtar yara clamscan clamd jq awk od md5sum
	CORES=$(nproc)
	build
	generate_packages
	start_clamd
	log "timing mc-scan --clamd over $PACKAGES packages, just after clamd started, then again"
	T_MC=$(seconds mc_scan)
	check_mc "$WORK/mc-scan.jsonl"
	T_MC_AGAIN=$(seconds mc_scan)
	check_mc "$WORK/mc-scan.jsonl"
	log "timing bsdtar -x of each package, then yara -r and clamscan -r"
	T_PEER=$(seconds peer)
	check_peer
	log "timing mc-scan with the built-in rules only"
	T_RULES=$(seconds mc_scan_rules)
	check_mc "$WORK/mc-scan-rules.jsonl"
	report
}

main
