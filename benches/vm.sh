#!/usr/bin/env bash
# How long mc-vm takes to bring the test guest (`cargo xtask guest`: Debian's kernel, a busybox
# initramfs with qemu-ga) to a guest agent that answers, under TCG, against a bare
# `qemu-system-x86_64` start of the same guest with the same command line, in the same run.
#
#   1. up      `mc-vm up --accel tcg --wait agent`, then `mc-vm down`: the wall time of `up` and
#              the agent_ready_ms it reports (QEMU start to the first answered guest-sync).
#              RUNS runs, the median shown.
#   2. bare    QEMU started by hand with the very arguments mc-vm gave it (read from
#              /proc/PID/cmdline during step 1), and the agent polled the way mc-vm polls it
#              (connect, guest-sync, a second's wait, again) by a small python3 client; then
#              QEMU is killed. RUNS runs, each right after one of step 1 (interleaved, so
#              that load from elsewhere falls on both alike), the median shown. The difference to step 1 is what
#              mc-vm adds: loading the definition, the lock, reading the disks' headers,
#              spawning, and its QMP and agent handshakes.
#   3. auto    One `mc-vm up --accel auto`: on a host where /dev/kvm exists but KVM hangs (this
#              one), the KVM probe boot gives up after 3 s, then TCG.
#   4. extras  One each, for scale: a live snapshot create and revert on the running guest
#              (256 MiB of memory), and one `mc-vm try` (boot of a throwaway copy, one step,
#              clean-up).
# Progress goes to stderr; the table is the only thing on stdout.
#
# Run:   make bench-vm
#   or   bash benches/vm.sh
# Environment: RUNS (default 5), PROFILE (cargo profile of mc-vm: debug, the default, or release),
#   KEEP=1 keeps the work folder.
# mc-vm spends its time waiting for QEMU, so the profile changes nothing measurable here, while
# a release build of its dependencies (minicluster pulls in sequoia and reqwest) takes minutes.
# Needs cargo, qemu-system-x86_64, qemu-img, qemu-ga, busybox, python3, jq.
# About 2-3 minutes: some ten TCG boots of 10-20 s each.
# Deliberately not part of `cargo test`: timings never go into assertions.
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C

RUNS=${RUNS:-5}
PROFILE=${PROFILE:-debug}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO_ROOT/target}
BIN=$TARGET/$PROFILE
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mc-bench-vm.XXXXXX")
STATE=$WORK/state
source "$REPO_ROOT/benches/lib.sh"

BARE_PID=
stop_bare() {
	if [[ -n $BARE_PID ]]; then kill -KILL "$BARE_PID" 2>/dev/null || true; fi
	BARE_PID=
}
finish() {
	stop_bare
	"$BIN/mc-vm" --state "$STATE" down bench --timeout 0 >/dev/null 2>&1 || true
	cleanup
}
trap finish EXIT

check_peers() {
	local tool
	for tool in cargo qemu-system-x86_64 qemu-img qemu-ga busybox python3 jq awk; do
		command -v "$tool" >/dev/null || die "$tool is missing"
	done
}

build() {
	log "building mc-vm and xtask ($PROFILE)"
	local flag=()
	[[ $PROFILE == release ]] && flag=(--release)
	(cd "$REPO_ROOT" && cargo build --quiet "${flag[@]}" -p mc-vm -p xtask)
}

mcvm() { "$BIN/mc-vm" --state "$STATE" "$@"; }

# The test guest (kernel package cached in target/vm-guest, as the tests keep it), one machine.
setup() {
	"$BIN/xtask" guest --out "$TARGET/vm-guest" >&2
	qemu-img create -q -f qcow2 "$WORK/data.qcow2" 64M
	mcvm define bench --memory 256 --kernel "$TARGET/vm-guest/vmlinuz" \
		--initrd "$TARGET/vm-guest/initrd.img" --append console=ttyS0 --agent \
		--disk "$WORK/data.qcow2" >/dev/null
}

# 1. One `up` to the agent and `down`; prints "WALL_SECONDS AGENT_READY_MS". The first run keeps
# QEMU's command line in $WORK/cmdline.
mc_up() {
	local start=$EPOCHREALTIME record
	record=$(mcvm up bench --accel "${1:-tcg}" --wait agent --timeout 120 | jq -c 'select(.type == "vm")')
	local end=$EPOCHREALTIME
	if [[ ! -s $WORK/cmdline ]]; then
		cp "/proc/$(jq -r .pid <<<"$record")/cmdline" "$WORK/cmdline"
	fi
	mcvm down bench --timeout 0 >/dev/null
	awk -v s="$start" -v e="$end" -v ms="$(jq -r .agent_ready_ms <<<"$record")" \
		'BEGIN { printf "%.3f %d\n", e - s, ms }'
}

# Connects to the agent socket and sends guest-sync until it answers, like mc-vm does.
AGENT_CLIENT='
import json, socket, sys, time
path, deadline, attempt = sys.argv[1], time.monotonic() + 120, 0
while time.monotonic() < deadline:
    attempt += 1
    s = socket.socket(socket.AF_UNIX)
    try:
        s.settimeout(1.0)
        s.connect(path)
        s.sendall(json.dumps({"execute": "guest-sync", "arguments": {"id": attempt}}).encode() + b"\n")
        lines = s.makefile()
        while json.loads(lines.readline()).get("return") != attempt:
            pass  # the answer to an earlier attempt
        sys.exit(0)
    except (OSError, ValueError):
        time.sleep(0.1)
    finally:
        s.close()
sys.exit(1)
'

# 2. QEMU with mc-vm's arguments, until its agent answers; prints the wall seconds.
bare_up() {
	local args dir=$STATE/bench
	mapfile -d '' args <"$WORK/cmdline"
	rm -f "$dir"/*.sock "$dir/qemu.pid"
	local start=$EPOCHREALTIME
	"${args[@]}" 2>"$WORK/bare.log" || die "bare QEMU did not start: $(<"$WORK/bare.log")"
	BARE_PID=$(<"$dir/qemu.pid")
	python3 -c "$AGENT_CLIENT" "$dir/agent.sock" || die "the bare guest's agent never answered"
	local end=$EPOCHREALTIME
	stop_bare
	while [[ -e /proc/$(<"$dir/qemu.pid")/cmdline ]] && ! grep -q ') Z' "/proc/$(<"$dir/qemu.pid")/stat"; do
		sleep 0.05
	done
	rm -f "$dir"/*.sock "$dir/qemu.pid"
	awk -v s="$start" -v e="$end" 'BEGIN { printf "%.3f\n", e - s }'
}

# 4. A live snapshot and its revert, then one try; prints "CREATE REVERT TRY" seconds.
snapshot() { mcvm snapshot "$1" bench bench-snap >/dev/null; }
try_true() { mcvm try bench --accel tcg --run true >"$WORK/try.jsonl"; }
extras() {
	mcvm up bench --accel tcg --wait agent --timeout 120 >/dev/null
	local create revert try
	create=$(seconds snapshot create)
	revert=$(seconds snapshot revert)
	mcvm down bench --timeout 0 >/dev/null
	try=$(seconds try_true)
	jq -e 'select(.type == "vm_try") | .verdict == "passed"' "$WORK/try.jsonl" >/dev/null || die "try failed: $(<"$WORK/try.jsonl")"
	echo "$create $revert $try"
}

# "MIN-MAX" of the numbers on stdin.
spread() { sort -n | awk 'NR == 1 { min = $1 } { max = $1 } END { printf "%s-%s", min, max }'; }

main() {
	check_peers
	build
	setup
	local i
	# Interleaved, so that load from elsewhere on the machine falls on both alike.
	log "mc-vm up --wait agent and a bare start of the same QEMU, $RUNS runs each, interleaved"
	for ((i = 0; i < RUNS; i++)); do
		mc_up tcg >>"$WORK/mc.txt"
		bare_up >>"$WORK/bare.txt"
	done
	log "mc-vm up --accel auto, 1 run"
	read -r T_AUTO _ < <(mc_up auto)
	log "snapshot create, revert, and one try"
	read -r T_CREATE T_REVERT T_TRY < <(extras)

	T_MC=$(awk '{ print $1 }' "$WORK/mc.txt" | median)
	READY_MS=$(awk '{ print $2 }' "$WORK/mc.txt" | median)
	T_BARE=$(median <"$WORK/bare.txt")
	OVERHEAD_MS=$(awk -v a="$T_MC" -v b="$T_BARE" 'BEGIN { printf "%.0f", (a - b) * 1000 }')

	echo "mc-vm benchmark: the test guest (Debian kernel, busybox initramfs), 256 MiB, one qcow2" \
		"disk, TCG; $(nproc) cores; mc-vm $PROFILE build"
	echo
	row "to a guest agent that answers" "seconds" "median of $RUNS"
	row "mc-vm up --wait agent" "$T_MC" "runs $(awk '{ print $1 }' "$WORK/mc.txt" | spread); agent_ready_ms $READY_MS"
	row "bare qemu-system-x86_64 + guest-sync" "$T_BARE" "runs $(spread <"$WORK/bare.txt"); the same QEMU arguments"
	row "mc-vm / bare" "$(ratio "$T_MC" "$T_BARE")x" "mc-vm adds ${OVERHEAD_MS} ms"
	row "mc-vm up --accel auto" "$T_AUTO" "1 run; the KVM probe included"
	echo
	row "for scale" "seconds" "1 run each"
	row "snapshot create (live, 256 MiB)" "$T_CREATE" ""
	row "snapshot revert (live)" "$T_REVERT" ""
	row "try --run true" "$T_TRY" "boot of the copy, one step, clean-up"
}

main
