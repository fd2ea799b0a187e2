# What the benchmark scripts share: messages, cleanup, timing, ratios, the table, the loopback
# server. Sourced by benches/*.sh after they set WORK (their temporary folder); KEEP=1 keeps it.
# Timings are wall seconds from bash's $EPOCHREALTIME, to the millisecond.

SERVER_PID=

log() { printf 'bench: %s\n' "$*" >&2; }
die() {
	log "error: $*"
	exit 2
}

# Fails unless every program named is on PATH.
need() {
	local tool
	for tool; do
		command -v "$tool" >/dev/null || die "$tool is missing"
	done
}

cleanup() {
	if [[ -n $SERVER_PID ]]; then kill "$SERVER_PID" 2>/dev/null || true; fi
	if [[ ${KEEP:-0} == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# Seconds taken by "$@" (which must keep stdout to itself).
seconds() {
	local start=$EPOCHREALTIME
	"$@"
	awk -v start="$start" -v end="$EPOCHREALTIME" 'BEGIN { printf "%.3f\n", end - start }'
}

# The median of the numbers on stdin.
median() { sort -n | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }'; }

# The median of N runs of "$@", in seconds.
median_seconds() {
	local runs=$1 i
	shift
	for ((i = 0; i < runs; i++)); do seconds "$@"; done | median
}

# The median of N runs of "$@" in seconds, each run preceded by the untimed command $2.
median_seconds_after() {
	local runs=$1 before=$2 i
	shift 2
	for ((i = 0; i < runs; i++)); do
		"$before"
		seconds "$@"
	done | median
}
nothing() { :; }

# "$1 / $2" with $3 decimals (default 2).
ratio() { awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN { printf "%.*f", d, a / b }'; }

# "met" when "$1 >= $2" (at_least) or "$1 <= $2" (at_most), else "NOT met".
at_least() { awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t ? "met" : "NOT met") }'; }
at_most() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t ? "met" : "NOT met") }'; }

# One row of the final table: label, figure, notes. ROW_WIDTH sets the label column (default 40).
row() { printf "%-${ROW_WIDTH:-40}s %10s  %s\n" "$@" | sed 's/ *$//'; }

# Serves $WWW with `xtask serve` from $BIN until the script ends; sets URL.
serve() {
	"$BIN/xtask" serve "$WWW" --url-file "$WORK/url" >/dev/null &
	SERVER_PID=$!
	local waited
	for ((waited = 0; waited < 100; waited++)); do
		[[ -s $WORK/url ]] && break
		sleep 0.1
	done
	[[ -s $WORK/url ]] || die "xtask serve did not start"
	URL=$(<"$WORK/url")
	log "serving $WWW at $URL"
}
