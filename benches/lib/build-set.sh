# Shared by benches/build.sh and benches/build_buildbot.sh (sourced): the set of small
# independent bases they build, and how they time it. Needs BASES and SLEEP set.

make_set() { # DIR: BASES PKGBUILD folders
    local dir=$1 i name
    for i in $(seq -w 1 "$BASES"); do
        name=bench-$i
        mkdir -p "$dir/$name"
        cat > "$dir/$name/PKGBUILD" <<PKGBUILD
pkgname=$name
pkgver=1.0
pkgrel=1
arch=(any)
build() { sleep $SLEEP; }
package() { mkdir -p "\$pkgdir/usr/share/$name"; echo $name > "\$pkgdir/usr/share/$name/data"; }
PKGBUILD
        printf 'pkgbase = %s\n\tpkgver = 1.0\n\tpkgrel = 1\n\tarch = any\n\npkgname = %s\n' \
            "$name" "$name" > "$dir/$name/.SRCINFO"
    done
}

seconds() { # COMMAND...: wall seconds
    local start=$EPOCHREALTIME
    "$@" >/dev/null 2>&1
    awk -v a="$start" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'
}
