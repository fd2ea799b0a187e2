#!/usr/bin/env bash
# How long mc-build takes for a set of small independent package bases, with --jobs 1 and
# --jobs 2, against a plain sequential makepkg loop over the same PKGBUILDs, in the same run.
#
# Each base is arch=any, its build() sleeps SLEEP seconds (default 0.5, standing in for a
# compiler) and package() writes one file. The baseline runs `makepkg --nodeps` in each folder
# in turn, as the build user, without a sandbox and without a repository: it is the floor for
# what mc-build adds (bubblewrap, copying the folder, publishing into the repository). Every run
# starts from fresh copies and a fresh work folder, so nothing is "already built".
# Progress goes to stderr; the table of seconds and ratios is the only thing on stdout.
#
# Run:   make bench-build
#   or   bash benches/build.sh [BASES]                       (default: 20)
# Environment: SLEEP (default 0.5), BUILD_USER (default nobody, used when run as root),
#   KEEP=1 keeps the work folder.
# Needs cargo, makepkg, bubblewrap, fakeroot, bsdtar.
# Deliberately not part of `cargo test`: timings never go into assertions.
set -euo pipefail
shopt -s inherit_errexit
export LC_ALL=C

BASES=${1:-20}
SLEEP=${SLEEP:-0.5}
BUILD_USER=${BUILD_USER:-nobody}
REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release
WORK=$(mktemp -d "${TMPDIR:-/tmp}/mc-bench-build.XXXXXX")
chmod 755 "$WORK"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$WORK"' EXIT

echo "building mc-build (release)..." >&2
(cd "$REPO_ROOT" && cargo build --release --quiet -p mc-build)

# make_set, seconds
# shellcheck source=lib/build-set.sh
source "$REPO_ROOT/benches/lib/build-set.sh"

as_user() {
    if [ "$(id -u)" = 0 ]; then
        setpriv --reuid="$(id -u "$BUILD_USER")" --regid="$(id -g "$BUILD_USER")" --clear-groups \
            env HOME=/nonexistent PACKAGER="bench <bench@localhost>" "$@"
    else
        "$@"
    fi
}

makepkg_loop() { # DIR
    local folder
    for folder in "$1"/*/; do
        (cd "$folder" && as_user makepkg --nodeps --noconfirm --noprogressbar) || return 1
    done
}

mc_build() { # JOBS
    make_set "$WORK/mc-$1"
    "$BIN/mc-build" --work "$WORK/work-$1" --sources "$WORK/no-cache" --jobs "$1" "$WORK/mc-$1"/* \
        </dev/null
}

make_set "$WORK/loop"
[ "$(id -u)" = 0 ] && chown -R "$BUILD_USER" "$WORK/loop"
echo "plain makepkg loop over $BASES bases..." >&2
loop=$(seconds makepkg_loop "$WORK/loop")
echo "mc-build --jobs 1..." >&2
one=$(seconds mc_build 1)
echo "mc-build --jobs 2..." >&2
two=$(seconds mc_build 2)
for jobs in 1 2; do
    built=$(ls "$WORK/work-$jobs/repo/"*.pkg.tar.* | wc -l)
    [ "$built" = "$BASES" ] || { echo "mc-build --jobs $jobs built $built of $BASES" >&2; exit 1; }
done

printf '%-28s %8s %8s\n' "$BASES bases, build() sleeps $SLEEP s" seconds "vs loop"
printf '%-28s %8s %8s\n' "makepkg loop (no sandbox)" "$loop" 1.00
printf '%-28s %8s %8s\n' "mc-build --jobs 1" "$one" "$(awk -v a="$one" -v b="$loop" 'BEGIN { printf "%.2f", a / b }')"
printf '%-28s %8s %8s\n' "mc-build --jobs 2" "$two" "$(awk -v a="$two" -v b="$loop" 'BEGIN { printf "%.2f", a / b }')"
