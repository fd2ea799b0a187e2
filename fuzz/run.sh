#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60; CI passes a few), seeded from
# ../shared/realdata (generated here at run time, never copied into the repository) and the
# small hand-made seeds in fuzz/seeds/. Prints executions per target; a crash stops with exit 1
# and leaves its input in fuzz/artifacts/TARGET/.
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz --locked`). Without
# them it says so and exits 0, so a machine without nightly does not fail the test suite.
set -euo pipefail
cd "$(dirname "$0")"
seconds=${1:-${FUZZ_SECONDS:-60}}
# Extra `cargo fuzz` build options. cargo-fuzz builds optimised, with one codegen unit and
# AddressSanitizer; CI passes `--dev` (no optimisation: a build several times faster, for runs of
# seconds where the fuzzer's speed matters little).
read -r -a build_flags <<<"${FUZZ_BUILD_FLAGS:-}"
realdata=${REALDATA:-../../shared/realdata}

if ! cargo +nightly --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: no nightly toolchain (rustup toolchain install nightly): fuzzing skipped" >&2
    exit 0
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "fuzz/run.sh: cargo-fuzz missing (cargo install cargo-fuzz --locked): fuzzing skipped" >&2
    exit 0
fi

# Every target of fuzz/Cargo.toml unless FUZZ_TARGETS names some.
targets=${FUZZ_TARGETS:-$(cargo +nightly fuzz list)}

# Seeds: small real inputs, made fresh from realdata into the (ignored) corpus folder.
corpus=corpus
seed() { mkdir -p "$corpus/$1"; }
make_seeds() (
    # A subshell, so this holds here only: `ls | head`, `find | head` stop their writer with
    # SIGPIPE, and that is no failure.
    set +o pipefail
    for t in $targets; do seed "$t"; done
    [ -d "$realdata" ] || { echo "fuzz/run.sh: no $realdata, hand-made seeds only" >&2; return; }
    local work
    work=$(mktemp -d)
    # Sync databases: the first entries of each real database, re-packed small, and their texts.
    local n=0
    while IFS= read -r db; do
        n=$((n + 1))
        mkdir -p "$work/db$n"
        bsdtar -xf "$db" -C "$work/db$n" 2>/dev/null || continue
        local first
        first=$(ls "$work/db$n" | head -3)
        [ -n "$first" ] || continue
        (cd "$work/db$n" && bsdtar -czf "$OLDPWD/$corpus/syncdb/real$n.db" $first)
        for f in $(cd "$work/db$n" && ls -d $first); do
            for member in desc files; do
                [ -f "$work/db$n/$f/$member" ] && cp "$work/db$n/$f/$member" "$corpus/desc/$n-$f-$member"
            done
        done
    done < <(find "$realdata/syncdbs" -type f \( -name '*.db' -o -name '*.files' -o -name '*.db.tar.*' -o -name '*.files.tar.*' \) | head -12)
    # Packages: the small real ones, whole, as tars behind a compression selector, and their
    # metadata members.
    n=0
    while IFS= read -r pkg; do
        n=$((n + 1))
        cp "$pkg" "$corpus/package/real$n"
        { printf '\002'; bsdtar -cf - "@$pkg"; } > "$corpus/package_tar/real$n" 2>/dev/null || true
        bsdtar -xOf "$pkg" .PKGINFO > "$corpus/pkginfo/real$n" 2>/dev/null || true
        bsdtar -xOf "$pkg" .BUILDINFO > "$corpus/pkginfo/real$n-buildinfo" 2>/dev/null || true
        bsdtar -xOf "$pkg" .MTREE > "$corpus/mtree/real$n" 2>/dev/null || true
    done < <(find "$realdata/packages" -name '*.pkg.tar.*' ! -name '*.sig' -size -300k | head -8)
    # .SRCINFO files of real AUR packages, and their PKGBUILDs as shell for the scriptlet reader.
    tar -xzf "$realdata/pkgbuilds/chaotic-aur-packages.tar.gz" -C "$work" --wildcards '*/.SRCINFO' '*/PKGBUILD' 2>/dev/null || true
    find "$work" -name .SRCINFO | head -40 | while IFS= read -r f; do
        cp "$f" "$corpus/srcinfo/$(basename "$(dirname "$f")")"
    done
    find "$work" -name PKGBUILD | head -40 | while IFS= read -r f; do
        cp "$f" "$corpus/scriptlet/$(basename "$(dirname "$f")")"
    done
    rm -rf "$work"
)
make_seeds

status=0
for t in $targets; do
    log=$(mktemp)
    extra=()
    [ -d "seeds/$t" ] && extra=("seeds/$t")
    # -rss_limit_mb: the parsers' own bounds must hold under the fuzzer too.
    if cargo +nightly fuzz run "${build_flags[@]}" "$t" "$corpus/$t" "${extra[@]}" -- \
        -max_total_time="$seconds" -max_len=262144 -rss_limit_mb=1024 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1; then
        result=ok
    else
        result=CRASH
        status=1
        tail -40 "$log" >&2
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    echo "fuzz $t: $result, $execs executions in ${seconds}s"
    rm -f "$log"
done
exit $status
