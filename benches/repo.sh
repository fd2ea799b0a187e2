#!/usr/bin/env bash
# How fast `mc-repo add` builds and grows a pacman repository, measured against repo-add
# (pacman 6) in the same run, on the same generated packages.
#
# `xtask sample-mirror` writes PACKAGES + 1 zstd packages; one is held back. Each tool gets its
# own folder holding byte-identical copies of all of them, made before any timing: both tools
# then find every package already in place, so neither pays for copying (mc-repo would copy a
# package from elsewhere into its folder; repo-add never copies), and both read from the page
# cache. Both write `core.db.tar.zst` and `core.files.tar.zst` (repo-add also picks zstd from
# the name).
#   1. new     all PACKAGES into a new repository, one call each, one run each: seconds, ratio.
#   2. one     the held-back package added to each PACKAGES-package repository: the median of
#              RUNS runs each; the repository's databases are put back from a saved copy between
#              runs, untimed.
#   3. same    whether the two repositories list the same package names and versions, after
#              step 1 and again after step 2.
# Progress goes to stderr; the table of figures and ratios is the only thing on stdout.
#
# Run:   make bench-repo
#   or   bash benches/repo.sh [PACKAGES]                      (default: 2000)
# Environment: FILES_PER_PACKAGE (default 10, which keeps repo-add's run bounded),
#   RUNS (runs of step 2, the median is shown; default 5), KEEP=1 keeps the work folder.
# Needs cargo, repo-add (Debian: pacman-package-manager), bsdtar and jq.
# About 2 minutes on 2 cores once the release build is done, nearly all of it repo-add (its
# step 1 alone takes a minute or more).
# Deliberately not part of `cargo test`: timings never go into assertions.
set -euo pipefail
shopt -s inherit_errexit # a failure inside $(...) stops the script too
export LC_ALL=C # `$EPOCHREALTIME` and awk must agree on the decimal point.

PACKAGES=${1:-2000}
FILES_PER_PACKAGE=${FILES_PER_PACKAGE:-10}
RUNS=${RUNS:-5}
DB=core.db.tar.zst
FILES_DB=core.files.tar.zst

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mc-bench-repo.XXXXXX")
MC=$WORK/mc-repo   # mc-repo's repository folder
RA=$WORK/repo-add  # repo-add's repository folder
SAVED=$WORK/saved  # the PACKAGES-package databases of each, to restore between runs of step 2
source "$REPO_ROOT/benches/lib.sh"



check_peers() {
	local tool
	for tool in cargo repo-add bsdtar jq awk; do
		command -v "$tool" >/dev/null || die "$tool is missing"
	done
}





build() {
	log "building release binaries"
	(cd "$REPO_ROOT" && cargo build --release --quiet -p mc-repo -p xtask)
}

# PACKAGES + 1 packages; the last in name order is held back for step 2. Both folders get
# copies of all of them (untimed); ALL names the PACKAGES files, EXTRA the held-back one.
generate_packages() {
	log "generating $((PACKAGES + 1)) packages of $FILES_PER_PACKAGE files"
	"$BIN/xtask" sample-mirror --out "$WORK/mirror" --packages "$((PACKAGES + 1))" \
		--files-per-package "$FILES_PER_PACKAGE" --repos core --compression zst >&2
	local source=$WORK/mirror/core/os/x86_64 names
	names=("$source"/*.pkg.tar.zst)
	((${#names[@]} == PACKAGES + 1)) || die "expected $((PACKAGES + 1)) packages, got ${#names[@]}"
	names=("${names[@]##*/}")
	EXTRA=${names[-1]}
	ALL=("${names[@]:0:PACKAGES}")
	mkdir -p "$MC" "$RA" "$SAVED/mc-repo" "$SAVED/repo-add"
	cp "$source"/*.pkg.tar.zst "$MC/"
	cp "$source"/*.pkg.tar.zst "$RA/"
	PACKAGE_BYTES=$(cat "${ALL[@]/#/$source/}" | wc -c)
}

# 1. All packages into a new repository, one call each.
mc_add_all() {
	"$BIN/mc-repo" add --repo "$MC/$DB" "${ALL[@]/#/$MC/}" >"$WORK/mc-add.jsonl"
}
ra_add_all() {
	repo-add -q "$RA/$DB" "${ALL[@]/#/$RA/}" >"$WORK/repo-add.log" 2>&1 ||
		die "repo-add failed: $(tail -n 5 "$WORK/repo-add.log")"
}

# 2. One package more. Restoring copies the saved databases over the new ones; the NAME.db and
# NAME.files links keep pointing at them by name. repo-add's `.old` backups go too.
save_databases() {
	cp "$MC/$DB" "$MC/$FILES_DB" "$SAVED/mc-repo/"
	cp "$RA/$DB" "$RA/$FILES_DB" "$SAVED/repo-add/"
}
restore_mc() { cp "$SAVED/mc-repo/"* "$MC/"; }
restore_ra() {
	rm -f "$RA"/*.old
	cp "$SAVED/repo-add/"* "$RA/"
}
mc_add_one() { "$BIN/mc-repo" add --repo "$MC/$DB" "$MC/$EXTRA" >"$WORK/mc-add-one.jsonl"; }
ra_add_one() {
	repo-add -q "$RA/$DB" "$RA/$EXTRA" >"$WORK/repo-add-one.log" 2>&1 ||
		die "repo-add failed: $(tail -n 5 "$WORK/repo-add-one.log")"
}

# Fails unless mc-repo's last summary counts `added` packages and no failure.
check_mc_summary() {
	jq -e --argjson n "$2" 'select(.type == "summary") | .added == $n and
		(.failed // 0) == 0' "$1" >/dev/null ||
		die "mc-repo add did not add $2 packages: $(tail -n 3 "$1")"
}

# 3. `name version` of every package, sorted: mc-repo's view of its repository, and repo-add's
# database read with bsdtar.
mc_packages() { "$BIN/mc-repo" list --repo "$MC/$DB" | jq -r '.name + " " + .version' | sort; }
ra_packages() {
	bsdtar -xOf "$RA/$DB" '*/desc' |
		awk '/^%NAME%$/ { getline; name = $0 } /^%VERSION%$/ { getline; print name " " $0 }' |
		sort
}

# "yes" when both repositories list the same packages (and as many as $1), else "NO".
same_packages() {
	mc_packages >"$WORK/list.mc-repo"
	ra_packages >"$WORK/list.repo-add"
	if cmp -s "$WORK/list.mc-repo" "$WORK/list.repo-add" &&
		(($(wc -l <"$WORK/list.mc-repo") == $1)); then
		echo yes
	else
		log "the package lists differ: $(diff "$WORK/list.mc-repo" "$WORK/list.repo-add" | head -n 5)"
		echo NO
	fi
}


size_kb() { awk -v b="$(wc -c <"$1")" 'BEGIN { printf "%.0f kB", b / 1e3 }'; }

report() {
	local new_ratio one_ratio
	new_ratio=$(ratio "$T_RA_ALL" "$T_MC_ALL" 1)
	one_ratio=$(ratio "$T_RA_ONE" "$T_MC_ONE" 1)
	echo "mc-repo benchmark: $PACKAGES packages of $FILES_PER_PACKAGE files," \
		"$(awk -v b="$PACKAGE_BYTES" 'BEGIN { printf "%.1f MB", b / 1e6 }') of .pkg.tar.zst," \
		"already in each repository folder; $CORES cores"
	echo
	row "new repository, $PACKAGES packages" "seconds" "1 run each"
	row "mc-repo add" "$T_MC_ALL" "$DB $(size_kb "$MC/$DB"), $FILES_DB $(size_kb "$MC/$FILES_DB")"
	row "repo-add" "$T_RA_ALL" "$DB $(size_kb "$RA/$DB"), $FILES_DB $(size_kb "$RA/$FILES_DB")"
	row "repo-add / mc-repo" "${new_ratio}x" "target >= 50x: $(at_least "$new_ratio" 50)"
	row "same packages" "$SAME_ALL" "names and versions"
	echo
	row "one package more, to $PACKAGES" "seconds" "median of $RUNS; databases restored between runs"
	row "mc-repo add" "$T_MC_ONE" ""
	row "repo-add" "$T_RA_ONE" ""
	row "repo-add / mc-repo" "${one_ratio}x" "target >= 100x: $(at_least "$one_ratio" 100)"
	row "same packages" "$SAME_ONE" "names and versions, $((PACKAGES + 1)) each"
}

main() {
	check_peers
	CORES=$(nproc)
	build
	generate_packages

	log "timing mc-repo add of $PACKAGES packages into a new repository"
	T_MC_ALL=$(seconds mc_add_all)
	check_mc_summary "$WORK/mc-add.jsonl" "$PACKAGES"
	log "timing repo-add of $PACKAGES packages into a new repository (minutes)"
	T_RA_ALL=$(seconds ra_add_all)
	log "comparing the package lists"
	SAME_ALL=$(same_packages "$PACKAGES")

	save_databases
	log "timing mc-repo add of one package more ($RUNS runs)"
	T_MC_ONE=$(median_seconds_after "$RUNS" restore_mc mc_add_one)
	check_mc_summary "$WORK/mc-add-one.jsonl" 1
	log "timing repo-add of one package more ($RUNS runs)"
	T_RA_ONE=$(median_seconds_after "$RUNS" restore_ra ra_add_one)
	SAME_ONE=$(same_packages "$((PACKAGES + 1))")

	report
}

main
