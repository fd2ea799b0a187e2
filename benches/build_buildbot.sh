#!/usr/bin/env bash
# What going through buildbot costs: the set of benches/build.sh (BASES small independent bases,
# build() sleeping SLEEP seconds) built by `mc-build --jobs 1` here, then by `mc-build --engine
# buildbot` against a real master with two real workers on 127.0.0.1 (the workers run mc-build
# themselves), once with --jobs 1 and once with both workers. The overhead per build is
# (buildbot --jobs 1 - local --jobs 1) / BASES: forcing, a worker's own mc-build start, the
# uploads through the master, the polling. Every run starts from a fresh work folder.
# Progress goes to stderr; the table of seconds and ratios is the only thing on stdout.
#
# Run:   bash benches/build_buildbot.sh [BASES]              (default: 20)
# Environment: SLEEP (default 0.5), WWW_PORT (default 18010), WORKER_PORT (default 19989),
#   BUILDBOT_VENV (default target/buildbot-venv, the tests' venv; made when missing), KEEP=1,
#   PROFILE (default release; debug uses the tests' build).
# Needs cargo, python3 (venv), makepkg, bubblewrap, fakeroot, bsdtar; PyPI when the venv is made.
# Deliberately not part of `cargo test`: timings never go into assertions.
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C

BASES=${1:-20}
SLEEP=${SLEEP:-0.5}
WWW_PORT=${WWW_PORT:-18010}
WORKER_PORT=${WORKER_PORT:-19989}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$REPO_ROOT/target}
PROFILE=${PROFILE:-release}
BIN=$TARGET/$PROFILE
VENV=${BUILDBOT_VENV:-$TARGET/buildbot-venv}
# As tests/buildbot.rs pins them.
BUILDBOT=(buildbot==4.3.0 buildbot-www==4.3.0 buildbot-worker==4.3.0)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mc-bench-buildbot.XXXXXX")
chmod 755 "$WORK"
PIDS=()
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
    [ "${KEEP:-0}" = 1 ] || rm -rf "$WORK"
}
trap cleanup EXIT

# make_set, seconds
# shellcheck source=lib/build-set.sh
source "$REPO_ROOT/benches/lib/build-set.sh"

echo "building mc-build ($PROFILE)..." >&2
(cd "$REPO_ROOT" && cargo build --profile "${PROFILE/debug/dev}" --quiet -p mc-build)
if [ "$(cat "$VENV/.installed" 2>/dev/null)" != "${BUILDBOT[*]}" ]; then
    echo "making the buildbot venv..." >&2
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "${BUILDBOT[@]}"
    printf '%s' "${BUILDBOT[*]}" > "$VENV/.installed"
fi

start() { # LOG COMMAND...: runs COMMAND in a process group of its own
    local log=$1
    shift
    setsid "$@" > "$log" 2>&1 &
    PIDS+=($!)
}

echo "starting a master and two workers..." >&2
MASTER=http://127.0.0.1:$WWW_PORT
echo "mc-build:bench-secret" > "$WORK/token"
"$VENV/bin/buildbot" create-master --quiet "$WORK/master"
"$BIN/mc-build" --print-master-cfg --master "$MASTER" --token "$WORK/token" \
    --worker-port "$WORKER_PORT" --worker w1:w1-pass --worker w2:w2-pass > "$WORK/master/master.cfg"
start "$WORK/master.log" "$VENV/bin/buildbot" start --nodaemon "$WORK/master"
for worker in w1 w2; do
    "$VENV/bin/buildbot-worker" create-worker --quiet "$WORK/$worker" \
        "127.0.0.1:$WORKER_PORT" "$worker" "$worker-pass"
    start "$WORK/$worker.log" "$VENV/bin/buildbot-worker" start --nodaemon "$WORK/$worker"
done
connected() {
    "$VENV/bin/python3" - "$MASTER" <<'PY'
import json, sys, urllib.request
try:
    workers = json.load(urllib.request.urlopen(sys.argv[1] + "/api/v2/workers"))["workers"]
except OSError:
    workers = []
print(sum(1 for w in workers if w["connected_to"]))
PY
}
for _ in $(seq 600); do
    [ "$(connected)" = 2 ] && break
    sleep 0.2
done
[ "$(connected)" = 2 ] || { echo "the workers never connected; see $WORK (KEEP=1)" >&2; exit 1; }

mc_build() { # NAME ARGS...: builds a fresh copy of the set in WORK/NAME
    local name=$1
    shift
    make_set "$WORK/$name-set"
    "$BIN/mc-build" --work "$WORK/$name" --sources "$WORK/no-cache" "$@" "$WORK/$name-set"/* \
        </dev/null
}
buildbot() { # JOBS
    mc_build "buildbot-$1" --engine buildbot --master "$MASTER" --token "$WORK/token" --jobs "$1"
}

echo "mc-build --jobs 1 here..." >&2
local_one=$(seconds mc_build local --jobs 1)
echo "mc-build --engine buildbot --jobs 1..." >&2
bb_one=$(seconds buildbot 1)
echo "mc-build --engine buildbot, two workers..." >&2
bb_two=$(seconds buildbot 2)
for name in local buildbot-1 buildbot-2; do
    built=$(ls "$WORK/$name/repo/"*.pkg.tar.* | wc -l)
    [ "$built" = "$BASES" ] || { echo "$name built $built of $BASES" >&2; exit 1; }
done

ratio() { awk -v a="$1" -v b="$local_one" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-36s %8s %8s\n' "$BASES bases, build() sleeps $SLEEP s" seconds "vs local"
printf '%-36s %8s %8s\n' "mc-build --jobs 1 (local)" "$local_one" 1.00
printf '%-36s %8s %8s\n' "buildbot, --jobs 1" "$bb_one" "$(ratio "$bb_one")"
printf '%-36s %8s %8s\n' "buildbot, 2 workers" "$bb_two" "$(ratio "$bb_two")"
printf '%-36s %8s\n' "overhead per build through buildbot" \
    "$(awk -v a="$bb_one" -v b="$local_one" -v n="$BASES" 'BEGIN { printf "%.2f", (a - b) / n }')"
