#!/usr/bin/env bash
# How fast `mc-index` indexes a pacman mirror, measured against its peers in the same run.
#
# One generated mirror (repository `core`, zstd packages), served over loopback HTTP by
# `xtask serve`, is read five ways:
#   1. index   `mc-fetch repo core | mc-index --db NEW.sqlite`: seconds, packages/s, MB/s.
#   2. naive   what a user's shell loop does: `curl -s URL | bsdtar -tf -`, one package at a time.
#   3. floor   the same package bytes decompressed and listed from the page cache by zstd and
#              GNU tar: the work no indexer can avoid.
#   4. query   `mc-index query --packages` against `pacman -Fx` for `(^|/)__pycache__/$`, and
#              whether the two name the same packages.
#   5. memory  peak RSS of mc-index indexing one package that holds a 1 GiB file.
#   6. extra   queries at the size of Arch's extra: a generated `.files` database of
#              EXTRA_PACKAGES packages and about EXTRA_PATHS paths (`xtask sample-files-db`),
#              indexed with `mc-index --files-db` (time, database size) and asked through
#              `mc-index query --packages` and `pacman -Fx` on the same data: the `__pycache__`
#              question and five other regexes (literals, a prefix, none), medians, peak RSS of
#              both (/usr/bin/time), the ratios and whether they name the same packages.
# Progress goes to stderr; the table of figures and ratios is the only thing on stdout.
#
# Run:   make bench
#   or   bash benches/index.sh [PACKAGES] [FILES_PER_PACKAGE]      (defaults: 2000 100)
# Environment: RUNS (repeats of each fast measurement, the median is shown; default 3),
#   QUERY_RUNS (default 5), BIG_FILE_BYTES (default 1 GiB), EXTRA_PACKAGES (default 14000),
#   EXTRA_PATHS (default 4600000; EXTRA_PACKAGES=0 skips part 6), KEEP=1 keeps the work folder.
# Needs cargo, curl, bsdtar, zstd, GNU tar, jq, pacman and /usr/bin/time (Debian: `time`).
# About a minute on 2 cores once the release build is done, a third of it the naive loop, and
# ten minutes or more for part 6 (generating the 4.6 M paths, indexing them once, and pacman
# reading all of them on each of its QUERY_RUNS + 2 runs for each of the six regexes).
# EXTRA_PACKAGES and EXTRA_PATHS choose part 6's scale.
# Deliberately not part of `cargo test`: timings never go into assertions.
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) stops the script too
export LC_ALL=C # `$EPOCHREALTIME` and awk must agree on the decimal point.

PACKAGES=${1:-2000}
FILES_PER_PACKAGE=${2:-100}
RUNS=${RUNS:-3}
QUERY_RUNS=${QUERY_RUNS:-5}
BIG_FILE_BYTES=${BIG_FILE_BYTES:-$((1 << 30))}
EXTRA_PACKAGES=${EXTRA_PACKAGES:-14000}
EXTRA_PATHS=${EXTRA_PATHS:-4600000}
PATTERN='(^|/)__pycache__/$'

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mc-bench.XXXXXX")
WWW=$WORK/www # served folder: main/ holds the benchmark mirror, big/ the 1 GiB package
ROW_WIDTH=44
source "$REPO_ROOT/benches/lib.sh"



check_peers() {
	local tool
	for tool in cargo curl bsdtar zstd tar jq pacman awk /usr/bin/time; do
		command -v "$tool" >/dev/null || die "$tool is missing"
	done
	[[ $(tar --version) == *'GNU tar'* ]] || die "tar is not GNU tar (the floor uses its -i)"
}




build() {
	log "building release binaries"
	(cd "$REPO_ROOT" && cargo build --release --quiet -p mc-fetch -p mc-index -p xtask)
}


generate_mirror() {
	log "generating $PACKAGES packages of $FILES_PER_PACKAGE files"
	"$BIN/xtask" sample-mirror --out "$WWW/main" --packages "$PACKAGES" \
		--files-per-package "$FILES_PER_PACKAGE" --repos core --compression zst
	PKGDIR=$WWW/main/core/os/x86_64
}

# 1. The pipeline under test, into a fresh database each run (a re-run would skip everything).
index_run() {
	rm -f "$WORK/index.sqlite"*
	"$BIN/mc-fetch" repo --quiet --mirror "$MIRROR" core |
		${INDEX_WRAPPER:-} "$BIN/mc-index" --db "$WORK/index.sqlite" --quiet >"$WORK/index.jsonl"
}
# Once more under /usr/bin/time, for mc-index's peak RSS (KiB) on the whole mirror.
index_rss() {
	INDEX_WRAPPER="/usr/bin/time -f %M -o $WORK/index.rss" index_run
	cat "$WORK/index.rss"
}

# 2. A user's loop. The URL list comes from the same mc-fetch records, and is timed with the
# loop, as mc-fetch is timed with mc-index. Fresh curl and bsdtar processes for every package
# are the point: that is what such a loop costs.
naive_run() {
	"$BIN/mc-fetch" repo --quiet --mirror "$MIRROR" core |
		jq -r 'select(.type == "package") | .url' |
		while read -r url; do curl -s "$url" | bsdtar -tf -; done >/dev/null
}

# 3. The floor, three ways, all reading the package files from the page cache:
#   per_file  `zstd -dc f | tar -t` per package, the obvious loop; two processes per package
#             make it mostly process start-up, so it is a loose floor.
#   stream    all files as one stream: zstd decodes concatenated frames, and GNU tar's -i reads
#             on past each archive's end-of-archive blocks. Pure decompression and tar walking
#             on one core.
#   parallel  the files split into one stream per core. mc-index may use every core, so this is
#             the fair floor and the one the headline ratio uses.
floor_per_file() {
	local file
	for file in "$PKGDIR"/*.pkg.tar.zst; do zstd -dcq "$file" | tar -t; done >/dev/null
}
floor_stream() { cat "$PKGDIR"/*.pkg.tar.zst | zstd -dcq | tar -ti >/dev/null; }
floor_parallel() {
	local per_core=$(((PACKAGES + CORES - 1) / CORES))
	printf '%s\0' "$PKGDIR"/*.pkg.tar.zst |
		xargs -0 -n "$per_core" -P "$CORES" sh -c 'cat "$@" | zstd -dcq | tar -ti >/dev/null' sh
}

# 4. The query, both ways, on a SET of data: the database $WORK/SET.sqlite and pacman's files
# database synced into $WORK/SET-pacman. Both tools exit 1 when nothing matches, which is an
# answer too.
pacman_sync() {
	local set=$1 repo=$2 mirror=$3
	mkdir -p "$WORK/$set-pacman"
	cat >"$WORK/$set.conf" <<-EOF
		[options]
		Architecture = auto
		SigLevel = Never
		[$repo]
		Server = $mirror
	EOF
	pacman --config "$WORK/$set.conf" --dbpath "$WORK/$set-pacman" --logfile /dev/null -Fy >&2
}
pacman_query() {
	local set=$1
	shift
	${QUERY_WRAPPER:-} pacman --config "$WORK/$set.conf" --dbpath "$WORK/$set-pacman" -Fx "$@" \
		"$PATTERN" ||
		(($? == 1))
}
mc_query() {
	${QUERY_WRAPPER:-} "$BIN/mc-index" query --db "$WORK/$1.sqlite" "$PATTERN" --packages ||
		(($? == 1))
}
query_mc_timed() { mc_query "$1" >/dev/null; }
query_pacman_timed() { pacman_query "$1" >/dev/null; }

# Writes the two answers as sorted `repo/name` lists, $WORK/SET.answer.{mc-index,pacman}.
query_answers() {
	mc_query "$1" | jq -r '"\(.repo)/\(.name)"' | sort -u >"$WORK/$1.answer.mc-index"
	# --machinereadable: repo\0name\0version\0path per matching path.
	pacman_query "$1" --machinereadable | tr '\0' '\t' | awk -F '\t' '{ print $1 "/" $2 }' |
		sort -u >"$WORK/$1.answer.pacman"
}

# 5. Peak RSS while indexing one big package. It is generated here, not up front, so writing
# its few hundred MB back to disk cannot slow the measurements above.
big_package() {
	log "generating one package with a $((BIG_FILE_BYTES >> 20)) MiB file"
	"$BIN/xtask" sample-mirror --out "$WWW/big" --packages 1 --files-per-package 1 \
		--repos core --compression zst --big-file-bytes "$BIG_FILE_BYTES"
	"$BIN/mc-fetch" repo --quiet --mirror "$URL/big/\$repo/os/\$arch" core >"$WORK/big.jsonl"
	BIG_CSIZE=$(jq -s 'map(select(.type == "package") | .csize) | add' "$WORK/big.jsonl")
	log "indexing it under /usr/bin/time"
	/usr/bin/time -f '%M %e' -o "$WORK/big.time" \
		"$BIN/mc-index" --db "$WORK/big.sqlite" --quiet <"$WORK/big.jsonl" >"$WORK/big.out"
	jq -e 'select(.type == "summary") | .indexed == 1 and .failed == 0' "$WORK/big.out" \
		>/dev/null || die "mc-index did not index the big package: $(cat "$WORK/big.out")"
	read -r BIG_RSS_KIB BIG_SECONDS <"$WORK/big.time"
}


# 6. The query at extra's size. The records are fetched once, untimed; the index is built once,
# timed, under /usr/bin/time (its RSS is the indexer's); each query is timed QUERY_RUNS times and
# run once more under /usr/bin/time for its peak RSS.
# Peak RSS in KiB of the query "$@" (mc_query or pacman_query and its arguments).
peak_rss() {
	QUERY_WRAPPER="/usr/bin/time -f %M -o $WORK/rss" "$@" >/dev/null
	cat "$WORK/rss"
}
extra_scale() {
	log "generating an extra-sized .files database ($EXTRA_PACKAGES packages, ~$EXTRA_PATHS paths)"
	"$BIN/xtask" sample-files-db --out "$WWW/extra" --repo extra --packages "$EXTRA_PACKAGES" \
		--paths "$EXTRA_PATHS"
	local mirror="$URL/extra/\$repo/os/\$arch"
	"$BIN/mc-fetch" repo --quiet --files --mirror "$mirror" extra >"$WORK/extra.jsonl"
	EXTRA_PATH_COUNT=$(jq -s 'map(select(.type == "package") | .files | length) | add' \
		"$WORK/extra.jsonl")
	log "indexing it with --files-db (once)"
	local start=$EPOCHREALTIME
	/usr/bin/time -f '%M' -o "$WORK/extra-index.rss" \
		"$BIN/mc-index" --db "$WORK/extra.sqlite" --files-db --quiet \
		<"$WORK/extra.jsonl" >"$WORK/extra-index.jsonl"
	T_EXTRA_INDEX=$(awk -v s="$start" -v e="$EPOCHREALTIME" 'BEGIN { printf "%.1f", e - s }')
	EXTRA_INDEX_RSS_KIB=$(<"$WORK/extra-index.rss")
	jq -e 'select(.type == "summary") | .failed == 0' "$WORK/extra-index.jsonl" >/dev/null ||
		die "mc-index --files-db failed on the extra-sized database"
	EXTRA_DB_MB=$(du -m "$WORK/extra.sqlite" | cut -f1)
	EXTRA_FILES_MB=$(du -mL "$WWW/extra/extra/os/x86_64/extra.files" | cut -f1)
	pacman_sync extra extra "$mirror"
	local i
	for i in "${!EXTRA_PATTERNS[@]}"; do
		PATTERN=${EXTRA_PATTERNS[i]} extra_query "$i"
	done
}

# The regexes asked at extra's size, each a different plan of mc-index's query planner
# (mc-index/src/plan.rs), with what makes it so. The first is the issue's question.
EXTRA_PATTERNS=('(^|/)__pycache__/$' 'crypto' 'share/man/man3/' '^usr/bin/' '[0-9]{5}'
	'^[^/]+/[^/]+/$')
EXTRA_KINDS=('name suffix, decided by names' 'literal, file names' 'literal, whole paths'
	'anchored prefix' 'no literal, file names' 'no literal, whole paths')

# Query number $1 of EXTRA_PATTERNS ($PATTERN): medians, peak RSS and answers of both tools.
extra_query() {
	log "timing $PATTERN at extra's size ($QUERY_RUNS runs each)"
	T_MC[$1]=$(median_seconds "$QUERY_RUNS" query_mc_timed extra)
	T_PACMAN[$1]=$(median_seconds "$QUERY_RUNS" query_pacman_timed extra)
	RSS_MC[$1]=$(peak_rss mc_query extra)
	RSS_PACMAN[$1]=$(peak_rss pacman_query extra)
	query_answers extra
	AGREE[$1]=yes
	cmp -s "$WORK/extra.answer.mc-index" "$WORK/extra.answer.pacman" || AGREE[$1]=NO
	ANSWERS[$1]=$(wc -l <"$WORK/extra.answer.pacman")
}

report_extra() {
	local i speedup memory
	echo
	row "extra-sized: $EXTRA_PACKAGES packages" "$EXTRA_PATH_COUNT" \
		"paths; .files database $EXTRA_FILES_MB MB (gzip)"
	row "mc-index --files-db, new db (seconds)" "$T_EXTRA_INDEX" \
		"1 run; database $EXTRA_DB_MB MB; peak RSS $((EXTRA_INDEX_RSS_KIB / 1024)) MiB"
	for i in "${!EXTRA_PATTERNS[@]}"; do
		speedup=$(ratio "${T_PACMAN[i]}" "${T_MC[i]}" 1)
		memory=$(ratio "${RSS_MC[i]}" "${RSS_PACMAN[i]}" 3)
		echo
		row "query ${EXTRA_PATTERNS[i]} --packages" "seconds" \
			"${EXTRA_KINDS[i]}; median of $QUERY_RUNS; peak RSS"
		row "mc-index query --packages" "${T_MC[i]}" "$((RSS_MC[i] / 1024)) MiB"
		row "pacman -Fx" "${T_PACMAN[i]}" "$((RSS_PACMAN[i] / 1024)) MiB"
		row "pacman / mc-index (time)" "${speedup}x" "target >= 50x: $(at_least "$speedup" 50)"
		row "mc-index / pacman (RSS)" "$memory" "target <= 0.1: $(at_most "$memory" 0.1)"
		row "same packages" "${AGREE[i]}" "${ANSWERS[i]} packages"
	done
}

report() {
	local bytes packages files mb
	packages=$(jq -s 'map(select(.type == "package")) | length' "$WORK/index.jsonl")
	files=$(jq -s 'map(select(.type == "package") | .file_count) | add' "$WORK/index.jsonl")
	bytes=$(jq -s 'map(select(.type == "package") | .csize) | add' "$WORK/index.jsonl")
	mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f", b / 1e6 }')
	local rates
	rates=$(awk -v t="$T_INDEX" -v p="$packages" -v b="$bytes" -v f="$files" \
		'BEGIN { printf "%.0f packages/s, %.1f MB/s, %.0f files/s", p / t, b / 1e6 / t, f / t }')
	local mc_count pacman_count agree=yes
	mc_count=$(wc -l <"$WORK/index.answer.mc-index")
	pacman_count=$(wc -l <"$WORK/index.answer.pacman")
	cmp -s "$WORK/index.answer.mc-index" "$WORK/index.answer.pacman" || agree=NO
	local rss_mib target=met
	rss_mib=$(awk -v k="$BIG_RSS_KIB" 'BEGIN { printf "%.1f", k / 1024 }')
	awk -v m="$rss_mib" 'BEGIN { exit !(m >= 100) }' && target="NOT met"

	echo "mc-index benchmark: $packages packages, $files files, $mb MB of .pkg.tar.zst;" \
		"loopback HTTP; $CORES cores"
	echo
	row "indexing (seconds)" "seconds" "notes"
	row "mc-fetch | mc-index, new db" "$T_INDEX" "median of $RUNS; $rates"
	row "naive: curl -s URL | bsdtar -tf - (loop)" "$T_NAIVE" "1 run"
	row "floor: zstd -dc FILE | tar -t per file" "$T_FLOOR_FILE" "median of $RUNS"
	row "floor: cat * | zstd -dc | tar -ti" "$T_FLOOR_STREAM" "median of $RUNS; one core"
	row "floor: $CORES such streams in parallel" "$T_FLOOR_PARALLEL" "median of $RUNS; all cores"
	row "naive / mc-index" "$(ratio "$T_NAIVE" "$T_INDEX")x" "how much faster mc-index is"
	row "mc-index / floor ($CORES parallel streams)" "$(ratio "$T_INDEX" "$T_FLOOR_PARALLEL")x" \
		"cost over bare decompression"
	row "mc-index / floor (one stream)" "$(ratio "$T_INDEX" "$T_FLOOR_STREAM")x" \
		"one core for the floor"
	row "mc-index / floor (per file)" "$(ratio "$T_INDEX" "$T_FLOOR_FILE")x" \
		"below 1: that loop is mostly process start-up"
	row "mc-index peak RSS (MiB)" "$((INDEX_RSS_KIB / 1024))" "1 run, the whole mirror"
	echo
	row "query $PATTERN" "seconds" "median of $QUERY_RUNS"
	row "mc-index query --packages" "$T_QUERY_MC" "$mc_count packages"
	row "pacman -Fx" "$T_QUERY_PACMAN" "$pacman_count packages"
	row "pacman / mc-index" "$(ratio "$T_QUERY_PACMAN" "$T_QUERY_MC")x" ""
	row "same packages" "$agree" ""
	echo
	row "memory: one package, $((BIG_FILE_BYTES >> 20)) MiB file" "" \
		"$(awk -v b="$BIG_CSIZE" 'BEGIN { printf "%.1f MB compressed", b / 1e6 }')"
	row "mc-index peak RSS (MiB)" "$rss_mib" "target < 100 MiB: $target"
	row "mc-index wall seconds" "$BIG_SECONDS" \
		"$(awk -v b="$BIG_FILE_BYTES" -v t="$BIG_SECONDS" \
			'BEGIN { printf "%.0f MiB/s of file content", b / 1048576 / t }')"
}

main() {
	check_peers
	CORES=$(nproc)
	build
	mkdir -p "$WWW"
	generate_mirror
	serve
	MIRROR="$URL/main/\$repo/os/\$arch"

	log "timing mc-fetch | mc-index ($RUNS runs)"
	T_INDEX=$(median_seconds "$RUNS" index_run)
	jq -e 'select(.type == "summary") | .failed == 0 and .indexed > 0' "$WORK/index.jsonl" \
		>/dev/null || die "mc-index failed on the benchmark mirror"
	INDEX_RSS_KIB=$(index_rss)
	log "timing the naive curl | bsdtar loop (1 run; about 10 ms per package)"
	T_NAIVE=$(seconds naive_run)
	log "timing the zstd + tar floor ($RUNS runs each)"
	T_FLOOR_FILE=$(median_seconds "$RUNS" floor_per_file)
	T_FLOOR_STREAM=$(median_seconds "$RUNS" floor_stream)
	T_FLOOR_PARALLEL=$(median_seconds "$RUNS" floor_parallel)

	log "syncing pacman's files database (untimed)"
	pacman_sync index core "$MIRROR"
	log "timing queries ($QUERY_RUNS runs each)"
	T_QUERY_MC=$(median_seconds "$QUERY_RUNS" query_mc_timed index)
	T_QUERY_PACMAN=$(median_seconds "$QUERY_RUNS" query_pacman_timed index)
	query_answers index

	big_package
	if ((EXTRA_PACKAGES > 0)); then extra_scale; fi
	report
	if ((EXTRA_PACKAGES > 0)); then report_extra; fi
}

main
