#!/bin/bash
# The Debian packages, built and inspected (issue 6).
#
# 1. A Release tree of its own, $KC_PKG_BUILD_DIR (kept between runs: a rerun rebuilds only what
#    changed), configured from $KC_SOURCE_DIR with the prefix /usr, no tests, no benchmarks;
#    built; `cpack -G DEB` makes kcpipe, kcpipe-send, kcpipe-office and libkcingest.
# 2. Each .deb: `dpkg-deb -I` (name, version, architecture, Depends: every shared library a binary
#    of the package needs is covered by a dependency found by dpkg-shlibdeps, libkcingest (= V)
#    where a program links it, nothing unexpected); `dpkg-deb -c` (paths, owners, modes, no test
#    or benchmark program, no file in two packages); control files (maintainer scripts
#    executable, valid sh, no @VAR@ left; conffiles = exactly the files under /etc).
# 3. `dpkg -x` of all four into a throwaway root: programs run from there (no RPATH, the
#    extracted libkcingest resolves), a C program compiles and links against the extracted
#    header and library through kcingest.pc, `systemd-analyze verify` on each unit (a copy whose
#    /usr/bin paths point into the root: verify needs the ExecStart programs to exist, and its
#    --root needs a whole system), `man --warnings -l` on each installed man page.
# 4. Without --no-chroot, as root with debootstrap (unless KC_TEST_DEBOOTSTRAP=0): a minimal
#    Debian 12 chroot (debootstrap --variant=minbase bookworm from this machine's apt mirror; the
#    base system is cached as a tarball in the build tree), `dpkg -i` of the four packages +
#    `apt-get -f install`, then: the kcpipe user, /var/lib/kcpipe 0750 and /var/lib/kcpipe/office
#    0700 kcpipe:kcpipe, the units enabled, `kc-aggregator --version`; the unit's command started
#    as kcpipe on the packaged config takes a province's CSV from kc-send and stops on SIGTERM;
#    kc-office likewise, with an account added as kcpipe; `dpkg -r` keeps the data and the user;
#    `dpkg -P kcpipe` keeps kcpipe-office's data and the user; `dpkg -P` of the rest removes them.
#    The first run downloads ~40 MB (later runs reuse the tarball).
#
#   package_test.sh [--no-chroot]
# --no-chroot: parts 1-3 only, a pass when they pass (ctest `package`, in scripts/test); without
# it, parts 1-4 (ctest `package_chroot`, label soak: scripts/soak runs it, scripts/test leaves it
# out for time, ~45-100 s of a Debian install).
set -eu # no pipefail: early-exiting filters (grep -q, awk exit) would fail their pipelines

CHROOT_MODE=yes
case "${1:-}" in
--no-chroot) CHROOT_MODE=no ;;
"") ;;
*) echo "usage: package_test.sh [--no-chroot]" >&2; exit 64 ;;
esac

: "${KC_SOURCE_DIR:?}" "${KC_PKG_BUILD_DIR:?}" "${KC_VERSION:?}"
CMAKE=${KC_CMAKE:-cmake}
CPACK=${KC_CPACK:-cpack}
B=$KC_PKG_BUILD_DIR
DEBVER="$KC_VERSION-1"
ARCH=$(dpkg --print-architecture)
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch)
T0=$(date +%s)
PACKAGES="kcpipe kcpipe-send kcpipe-office libkcingest"

fails=0
fail() {
    echo "FAIL: $*" >&2
    fails=$((fails + 1))
}
note() { echo "-- $*"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/kc-package.XXXXXX")
CHROOT=""
cleanup() {
    if [ -n "$CHROOT" ]; then
        umount "$CHROOT/proc" 2>/dev/null || true
        rm -rf --one-file-system "$CHROOT"
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# --- 1. build and package --------------------------------------------------------------------
note "release tree $B"
# The sanitizer/coverage flags of the calling build must not leak in: packages are built as
# a distribution would build them.
env -u CFLAGS -u LDFLAGS -u ASAN_OPTIONS -u UBSAN_OPTIONS \
    "$CMAKE" -S "$KC_SOURCE_DIR" -B "$B" -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr \
    -DBUILD_TESTING=OFF -DKC_BUILD_BENCH=OFF -DKC_SANITIZE=OFF >"$WORK/configure.log" 2>&1 ||
    { cat "$WORK/configure.log" >&2; echo "FAIL: configure" >&2; exit 1; }
"$CMAKE" --build "$B" -j"$(nproc)" >"$WORK/build.log" 2>&1 ||
    { tail -50 "$WORK/build.log" >&2; echo "FAIL: build" >&2; exit 1; }
rm -rf "$B/packages"
(cd "$B" && "$CPACK" -G DEB) >"$WORK/cpack.log" 2>&1 ||
    { cat "$WORK/cpack.log" >&2; echo "FAIL: cpack" >&2; exit 1; }
note "built and packaged in $(($(date +%s) - T0)) s"

declare -A DEB
for p in $PACKAGES; do
    f="$B/packages/${p}_${DEBVER}_${ARCH}.deb"
    if [ -f "$f" ]; then
        DEB[$p]=$f
    else
        fail "no package $f"
    fi
done
n=$(find "$B/packages" -maxdepth 1 -name '*.deb' | wc -l)
[ "$n" -eq 4 ] || fail "$n .deb files in $B/packages, expected 4: $(ls "$B/packages")"
[ "$fails" -eq 0 ] || exit 1

# What the source tree provides decides what the packages must hold.
units_of() { # package -> unit file names it must ship
    for u in "$KC_SOURCE_DIR"/dist/systemd/*.service; do
        [ -f "$u" ] || continue
        n=$(basename "$u")
        case "$n" in
            kcpipe-send*) [ "$1" = kcpipe-send ] && echo "$n" ;;
            kcpipe-office*) [ "$1" = kcpipe-office ] && echo "$n" ;;
            *) [ "$1" = kcpipe ] && echo "$n" ;;
        esac
    done
    return 0
}
confs_of() {
    for c in "$KC_SOURCE_DIR"/dist/conf/*.conf; do
        [ -f "$c" ] || continue
        n=$(basename "$c")
        case "$n" in
            send.conf) [ "$1" = kcpipe-send ] && echo "$n" ;;
            office.conf) [ "$1" = kcpipe-office ] && echo "$n" ;;
            *) [ "$1" = kcpipe ] && echo "$n" ;;
        esac
    done
    return 0
}
programs_of() {
    case "$1" in
        kcpipe)
            for b in kc-aggregator kc-query kc-report kc-watch kc-audit kc-log kc-replay kc-keygen \
                kc-admin; do
                echo "$b"
            done
            ;;
        kcpipe-send) echo kc-send ;;
        kcpipe-office) echo kc-office ;;
    esac
    return 0
}
HAVE_MAN=0
ls "$B"/man/*.[1-8] >/dev/null 2>&1 && HAVE_MAN=1
[ "$HAVE_MAN" = 1 ] || fail "no man pages in $B/man: the release build (target man-pages) made none"

# --- 2. dpkg-deb -I / -c ----------------------------------------------------------------------
for p in $PACKAGES; do
    f=${DEB[$p]}
    info=$(dpkg-deb -I "$f")
    field() { dpkg-deb -f "$f" "$1"; }
    [ "$(field Package)" = "$p" ] || fail "$p: Package: $(field Package)"
    [ "$(field Version)" = "$DEBVER" ] || fail "$p: Version: $(field Version), expected $DEBVER"
    [ "$(field Architecture)" = "$ARCH" ] || fail "$p: Architecture: $(field Architecture)"
    [ -n "$(field Maintainer)" ] || fail "$p: no Maintainer"
    [ -n "$(field Description)" ] || fail "$p: no Description"
    depends=$(field Depends)
    note "$p Depends: $depends"
    # One name per alternative, versions stripped.
    dep_names=$(echo "$depends" | tr ',|' '\n\n' | sed -e 's/(.*)//' -e 's/[[:space:]]//g' | sed '/^$/d')
    for d in $dep_names; do
        case "$d" in
            *-dev) fail "$p depends on a development package: $d" ;;
            "$p") fail "$p depends on itself" ;;
        esac
    done
    echo "$dep_names" | grep -qx libc6 || fail "$p: no libc6 in Depends (dpkg-shlibdeps did not run?)"
    case "$p" in
        kcpipe)
            for d in libzmq5 liblmdb0 libprotobuf-c1 libsodium23 libjansson4 libmicrohttpd12; do
                echo "$dep_names" | grep -qx "$d" || fail "kcpipe: $d missing from Depends"
            done
            echo "$dep_names" | grep -qx adduser || fail "kcpipe: adduser missing from Depends"
            echo "$dep_names" | grep -qx fonts-dejavu-core ||
                fail "kcpipe: fonts-dejavu-core (the report's PDF font) missing from Depends"
            ;;
        kcpipe-send)
            # its spreadsheet reading is libkcingest's import layer (issue 15)
            echo "$dep_names" | grep -qx libkcingest || fail "kcpipe-send: libkcingest missing from Depends"
            ;;
        kcpipe-office)
            # the portal: HTTP(S) with libmicrohttpd (GnuTLS comes with it), argon2id with
            # libsodium, its own LMDB, the import layer and the spool of libkcingest
            for d in libkcingest libmicrohttpd12 libsodium23 liblmdb0 libjansson4 adduser; do
                echo "$dep_names" | grep -qx "$d" || fail "kcpipe-office: $d missing from Depends"
            done
            ;;
        libkcingest)
            for d in libzmq5 liblmdb0 libprotobuf-c1 libcsv3 libzip4 libexpat1 libxlsxwriter4; do
                echo "$dep_names" | grep -qx "$d" || fail "libkcingest: $d missing from Depends"
            done
            ;;
    esac

    # Contents: owner root/root everywhere; nothing under /usr/local; no tests or benchmarks.
    dpkg-deb -c "$f" >"$WORK/$p.contents"
    awk '{print $1, $2, $6}' "$WORK/$p.contents" | sed 's| \./| /|; s|/$||' >"$WORK/$p.list"
    if awk '$2 != "root/root"' "$WORK/$p.list" | grep -q .; then
        fail "$p: files not owned by root/root: $(awk '$2 != "root/root"' "$WORK/$p.list")"
    fi
    grep -E ' /usr/local| /build| /home' "$WORK/$p.list" && fail "$p: files outside the FHS paths"
    grep -E '_test$|/bench-|/tests?/|TEAM-NOTES|fuzz' "$WORK/$p.list" &&
        fail "$p: ships a test, benchmark or working file"
    mode_of() { awk -v path="$1" '$3 == path {print $1}' "$WORK/$p.list"; }
    expect() { # path mode
        m=$(mode_of "$1")
        if [ -z "$m" ]; then
            fail "$p: $1 missing"
        elif [ "$m" != "$2" ]; then
            fail "$p: $1 has mode $m, expected $2"
        fi
    }
    for b in $(programs_of "$p"); do expect "/usr/bin/$b" -rwxr-xr-x; done
    # Every program in /usr/bin is one this package is meant to hold.
    for b in $(awk '$3 ~ "^/usr/bin/." {print $3}' "$WORK/$p.list"); do
        programs_of "$p" | grep -qx "$(basename "$b")" || fail "$p: unexpected program $b"
    done
    for u in $(units_of "$p"); do expect "/lib/systemd/system/$u" -rw-r--r--; done
    for c in $(confs_of "$p"); do expect "/etc/kcpipe/$c" -rw-r--r--; done
    case "$p" in
        libkcingest)
            expect "/usr/lib/$MA/libkcingest.so.$KC_VERSION" -rw-r--r--
            expect "/usr/lib/$MA/libkcingest.so.${KC_VERSION%%.*}" lrwxrwxrwx
            expect "/usr/lib/$MA/libkcingest.so" lrwxrwxrwx
            expect /usr/include/kcingest.h -rw-r--r--
            expect "/usr/lib/$MA/pkgconfig/kcingest.pc" -rw-r--r--
            ;;
        kcpipe)
            expect /usr/share/doc/kcpipe/README.md -rw-r--r--
            ;;
    esac
    if [ "$HAVE_MAN" = 1 ]; then
        for b in $(programs_of "$p"); do expect "/usr/share/man/man1/$b.1.gz" -rw-r--r--; done
    fi
    awk '$1 ~ /^-/ && $3 ~ "^/usr/share/man/" && $3 !~ /[.]gz$/ {print}' "$WORK/$p.list" | grep . &&
        fail "$p: man pages not compressed"

    # Control files.
    mkdir -p "$WORK/control/$p"
    dpkg-deb -e "$f" "$WORK/control/$p"
    if [ "$p" != libkcingest ]; then
        for s in postinst prerm postrm; do
            sf="$WORK/control/$p/$s"
            if [ ! -f "$sf" ]; then
                fail "$p: no $s"
                continue
            fi
            [ -x "$sf" ] || fail "$p: $s not executable"
            sh -n "$sf" || fail "$p: $s is not valid sh"
            grep -n '@[A-Z_]*@' "$sf" && fail "$p: $s has an unsubstituted @VAR@"
        done
        grep -q 'adduser --system --group' "$WORK/control/$p/postinst" || fail "$p: postinst adds no system user"
        # The data goes only on purge: every rm -rf in postrm sits inside the purge branch.
        awk '/^if \[ "\$1" = "purge" \]/ {inp=1} /^fi/ {inp=0} /rm -rf/ && !inp {bad=1} END {exit bad}' \
            "$WORK/control/$p/postrm" || fail "$p: postrm removes files outside the purge branch"
        if [ -n "$(units_of "$p")" ]; then
            grep -q 'deb-systemd-invoke' "$WORK/control/$p/postinst" || fail "$p: postinst starts no unit"
            grep -q '\[ -d /run/systemd/system \]' "$WORK/control/$p/postinst" ||
                fail "$p: postinst does not check for a running systemd"
        fi
    else
        grep -q "^libkcingest ${KC_VERSION%%.*} libkcingest" "$WORK/control/$p/shlibs" 2>/dev/null ||
            fail "libkcingest: no shlibs entry for libkcingest.so.${KC_VERSION%%.*}"
    fi
    # conffiles: exactly the package's regular files under /etc.
    awk '$1 ~ /^-/ && $3 ~ "^/etc/" {print $3}' "$WORK/$p.list" | sort >"$WORK/$p.etc"
    sort "$WORK/control/$p/conffiles" 2>/dev/null >"$WORK/$p.conffiles" || true
    diff -u "$WORK/$p.etc" "$WORK/$p.conffiles" >&2 || fail "$p: conffiles differ from its files in /etc"
    echo "$info" >"$WORK/$p.info"
done

# No file in two packages (dpkg would refuse to install the second).
cat "$WORK"/*.list | awk '$1 !~ /^d/ {print $3}' | sort | uniq -d >"$WORK/dups"
[ -s "$WORK/dups" ] && fail "files in more than one package: $(cat "$WORK/dups")"

# The Debian package that owns a library file (dpkg's database may hold it under /lib or /usr/lib,
# by its symlink's name or by the file's).
owner_of() {
    local real cand o
    real=$(readlink -f "$1")
    for cand in "$1" "$real" "/usr${1#/usr}" "${1#/usr}" "/usr${real#/usr}" "${real#/usr}"; do
        o=$(dpkg -S "$cand" 2>/dev/null | head -1 | cut -d: -f1) || true
        if [ -n "$o" ]; then
            echo "$o"
            return 0
        fi
    done
    return 0
}

# Inter-package dependencies: a package whose programs need libkcingest.so depends on it.
ROOT=$WORK/root
mkdir -p "$ROOT"
for p in $PACKAGES; do dpkg -x "${DEB[$p]}" "$ROOT"; done
for p in $PACKAGES; do
    needed=""
    for e in $(awk '$1 ~ /^-/ {print $3}' "$WORK/$p.list"); do
        file -b "$ROOT$e" | grep -q '^ELF' || continue
        needed="$needed $(readelf -d "$ROOT$e" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')"
        readelf -d "$ROOT$e" | grep -qE '\((RPATH|RUNPATH)\)' && fail "$p: $e has an RPATH/RUNPATH"
        file -b "$ROOT$e" | grep -q 'not stripped' && fail "$p: $e is not stripped"
    done
    deps=$(dpkg-deb -f "${DEB[$p]}" Depends)
    for so in $(echo "$needed" | tr ' ' '\n' | sort -u); do
        if [ "$so" = "libkcingest.so.${KC_VERSION%%.*}" ]; then
            echo "$deps" | grep -q "libkcingest (= $DEBVER)" || fail "$p: needs $so but no 'libkcingest (= $DEBVER)'"
            continue
        fi
        # The Debian package that provides this library here must be among the Depends.
        path=$(ldconfig -p | awk -v so="$so" '$1 == so && /x86-64|aarch64|64bit/ {print $NF; exit}')
        [ -n "$path" ] || path=$(ldconfig -p | awk -v so="$so" '$1 == so {print $NF; exit}')
        [ -n "$path" ] || { fail "$p: $so not found on this system"; continue; }
        owner=$(owner_of "$path")
        [ -n "$owner" ] || { fail "$p: no Debian package owns $path"; continue; }
        echo "$deps" | tr ',|' '\n\n' | sed 's/(.*)//; s/[[:space:]]//g' | grep -qx "$owner" ||
            fail "$p: needs $so (package $owner), not in Depends: $deps"
    done
done

# --- 3. the extracted root ----------------------------------------------------------------------
export LD_LIBRARY_PATH="$ROOT/usr/lib/$MA"
for b in $(programs_of kcpipe) $(programs_of kcpipe-send) $(programs_of kcpipe-office); do
    exe=$ROOT/usr/bin/$b
    [ -x "$exe" ] || continue
    if ldd "$exe" | grep -q 'not found'; then
        fail "$b: unresolved libraries: $(ldd "$exe" | grep 'not found')"
    fi
    if ldd "$exe" | grep -q libkcingest; then
        ldd "$exe" | grep -q "libkcingest.so.* => $ROOT/" || fail "$b: libkcingest not the extracted one"
    fi
    "$exe" --help >"$WORK/help.out" 2>&1 || fail "$b --help exits $? from the extracted root"
done
v=$("$ROOT/usr/bin/kc-aggregator" --version 2>&1) || fail "kc-aggregator --version exits $?"
echo "$v" | grep -q "$KC_VERSION" || fail "kc-aggregator --version says '$v', expected $KC_VERSION"

# The library as a consumer sees it: header + pkg-config file + shared object, from the root.
cat >"$WORK/consumer.c" <<'EOF'
#include <kcingest.h>
#include <stddef.h>
int main(void)
{
    kc_producer_t *p = NULL;
    kc_producer_opts_t o = {0}; /* no producer id, no spool: must be refused */
    int rc = kc_producer_open(&p, &o);
    return rc != 0 && p == NULL ? 0 : 1;
}
EOF
pcflags=$(PKG_CONFIG_PATH="$ROOT/usr/lib/$MA/pkgconfig" PKG_CONFIG_SYSTEM_INCLUDE_PATH=/dev/null \
    pkg-config --cflags --libs kcingest) || fail "pkg-config kcingest from the extracted root"
incdir=$(PKG_CONFIG_PATH="$ROOT/usr/lib/$MA/pkgconfig" pkg-config --variable=includedir kcingest)
[ "$(realpath -m "$incdir")" = "$(realpath "$ROOT/usr/include")" ] ||
    fail "kcingest.pc: includedir $incdir is not the root's /usr/include"
libdir=$(PKG_CONFIG_PATH="$ROOT/usr/lib/$MA/pkgconfig" pkg-config --variable=libdir kcingest)
[ "$(realpath -m "$libdir")" = "$(realpath "$ROOT/usr/lib/$MA")" ] ||
    fail "kcingest.pc: libdir $libdir is not the root's /usr/lib/$MA"
# shellcheck disable=SC2086
if cc -std=c17 -Wall -Werror -o "$WORK/consumer" "$WORK/consumer.c" $pcflags 2>"$WORK/cc.err"; then
    "$WORK/consumer" >/dev/null 2>&1 || fail "a program linked with the packaged libkcingest: kc_producer_open accepted empty options"
else
    fail "compiling against the packaged kcingest.h/libkcingest: $(cat "$WORK/cc.err")"
fi
unset LD_LIBRARY_PATH

# systemd units: a copy whose /usr/bin/ paths point into the root (verify checks that ExecStart=
# programs exist and are executable); man: references are checked against the packaged pages.
mkdir -p "$WORK/units"
nunits=0
for u in "$ROOT"/lib/systemd/system/*; do
    [ -f "$u" ] || continue
    nunits=$((nunits + 1))
    sed "s|/usr/bin/kc-|$ROOT/usr/bin/kc-|g" "$u" >"$WORK/units/$(basename "$u")"
done
[ "$nunits" -gt 0 ] || fail "no systemd units in the packages (dist/systemd/ has them)"
man_opt=--man=no
[ "$HAVE_MAN" = 1 ] && man_opt=--man=yes
for u in "$WORK"/units/*; do
    [ -f "$u" ] || continue
    if MANPATH="$ROOT/usr/share/man" SYSTEMD_LOG_LEVEL=notice \
        systemd-analyze verify "$man_opt" "$u" >"$WORK/verify.out" 2>&1 && [ ! -s "$WORK/verify.out" ]; then
        note "systemd-analyze verify $(basename "$u"): clean"
    else
        fail "systemd-analyze verify $(basename "$u"):"$'\n'"$(cat "$WORK/verify.out")"
    fi
done

# Man pages: each installed page renders without warnings.
npages=0
for m in "$ROOT"/usr/share/man/man*/*; do
    [ -f "$m" ] || continue
    npages=$((npages + 1))
    out=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings -l "$m" 2>&1 >/dev/null) || fail "man -l $m exits $?"
    [ -z "$out" ] || fail "man --warnings -l $(basename "$m"): $out"
done
[ "$npages" -gt 0 ] || fail "no man pages in the packages"
note "$npages man pages render cleanly"

# --- 4. a real installation in a Debian 12 chroot --------------------------------------------
# The service's command starts as its user on the packaged configuration (what the unit runs;
# systemd itself does not run in a chroot): kc-aggregator on loopback port 0, a field office's
# kc-send of one province's demo CSV, kc-query over the store, SIGTERM -> exit 0.
chroot_start_check() {
    local apid ready=/var/lib/kcpipe/ready ep="" i rows out
    cp "$KC_SOURCE_DIR/data/demo/79-ho-chi-minh.csv" "$CHROOT/tmp/79.csv"
    rows=$(($(wc -l <"$CHROOT/tmp/79.csv") - 1))
    chroot "$CHROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        setpriv --reuid=kcpipe --regid=kcpipe --init-groups \
        kc-aggregator --config /etc/kcpipe/aggregator.conf --listen tcp://127.0.0.1:0 \
        --ready-file "$ready" --http 127.0.0.1:0 >"$WORK/chroot-aggregator.log" 2>&1 &
    apid=$!  # chroot, env and setpriv exec: this is kc-aggregator's pid
    for i in $(seq 1 200); do  # up to 20 s for the ready file
        [ -s "$CHROOT$ready" ] && { ep=$(head -n1 "$CHROOT$ready"); break; }
        kill -0 "$apid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$ep" ]; then
        cat "$WORK/chroot-aggregator.log" >&2
        fail "chroot: kc-aggregator did not start as kcpipe on the packaged config"
        kill -TERM "$apid" 2>/dev/null || true
        wait "$apid" 2>/dev/null || true
        return
    fi
    out=$(in_chroot kc-send --connect "$ep" --producer office-79 --spool /tmp/spool-79 \
        --timeout 60 --quiet /tmp/79.csv 2>&1) || fail "chroot: kc-send exited $?: $out"
    echo "$out" | grep -q "accepted=$rows " || fail "chroot: kc-send: $out (expected accepted=$rows)"
    out=$(in_chroot kc-query --store /var/lib/kcpipe --year 2021 --province 79 --kind plan \
        --format json 2>&1) || fail "chroot: kc-query exited $?: $out"
    echo "$out" | grep -q '"amount_vnd": [1-9]' || fail "chroot: kc-query: $out"
    [ "$(in_chroot stat -c %U /var/lib/kcpipe/data.mdb)" = kcpipe ] ||
        fail "chroot: the store is not owned by kcpipe"
    kill -TERM "$apid" 2>/dev/null || true
    if wait "$apid"; then
        note "chroot: kc-aggregator ran as kcpipe on /etc/kcpipe/aggregator.conf; $rows rows accepted"
    else
        fail "chroot: kc-aggregator exited $? on SIGTERM"; cat "$WORK/chroot-aggregator.log" >&2
    fi
    rm -f "$CHROOT$ready"
}

# kc-office as the unit starts it: as kcpipe, on the packaged office.conf plus one office (the
# shipped file has every line commented out), an account made with `user add --password-stdin`
# as kcpipe, its sign-in page served on loopback port 0, SIGTERM -> exit 0.
chroot_office_check() {
    local opid ready=/var/lib/kcpipe/office/ready url="" i out
    local office=(--office "hcm:79:Sở Công Thương TP. Hồ Chí Minh"
        --office-centre hcm=tcp://127.0.0.1:5555 --office-spool hcm=/var/lib/kcpipe/office/spool-hcm
        --office-producer hcm=office-hcm)
    out=$(printf 'demo-password-1\n' | chroot "$CHROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        setpriv --reuid=kcpipe --regid=kcpipe --init-groups \
        kc-office --config /etc/kcpipe/office.conf "${office[@]}" user add --user lan \
        --password-stdin 2>&1) || fail "chroot: kc-office user add as kcpipe exited $?: $out"
    chroot "$CHROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
        setpriv --reuid=kcpipe --regid=kcpipe --init-groups \
        kc-office --config /etc/kcpipe/office.conf "${office[@]}" --listen 127.0.0.1:0 \
        --ready-file "$ready" >"$WORK/chroot-office.log" 2>&1 &
    opid=$!
    for i in $(seq 1 200); do # up to 20 s for the ready file
        [ -s "$CHROOT$ready" ] && { url=$(head -n1 "$CHROOT$ready"); break; }
        kill -0 "$opid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$url" ]; then
        cat "$WORK/chroot-office.log" >&2
        fail "chroot: kc-office did not start as kcpipe on the packaged office.conf"
    else
        out=$(chroot "$CHROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
            setpriv --reuid=kcpipe --regid=kcpipe --init-groups \
            kc-office --config /etc/kcpipe/office.conf "${office[@]}" user list 2>&1) ||
            fail "chroot: kc-office user list: $out"
        echo "$out" | grep -q "^hcm"$'\t'"lan"$'\t'"enabled" || fail "chroot: kc-office user list: $out"
        case $url in
            http://127.0.0.1:[1-9]*/) ;;
            *) fail "chroot: kc-office's ready file says '$url'" ;;
        esac
    fi
    kill -TERM "$opid" 2>/dev/null || true
    if wait "$opid"; then
        [ -n "$url" ] && note "chroot: kc-office ran as kcpipe on /etc/kcpipe/office.conf, serving $url"
    else
        fail "chroot: kc-office exited $? on SIGTERM"; cat "$WORK/chroot-office.log" >&2
    fi
    rm -f "$CHROOT$ready"
}

# A minimal Debian 12 system made with debootstrap: install, start, remove, purge. Run when
# root and debootstrap is installed (scripts/install-deps installs it), unless
# KC_TEST_DEBOOTSTRAP=0; KC_TEST_DEBOOTSTRAP=1 makes a missing prerequisite a failure. When it
# does not run (not root, no debootstrap, or =0) and nothing else failed, the test reports SKIP
# (exit 77, ctest's SKIP_RETURN_CODE for it), never a pass: parts 1-3 alone are not the test.
debootstrap_test() {
    local mirror tarball t1
    t1=$(date +%s)
    mirror=$(sed -n 's/^URIs:[[:space:]]*\(http[^ ]*\/debian\)[[:space:]]*$/\1/p' \
        /etc/apt/sources.list.d/*.sources 2>/dev/null | head -1)
    [ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $3 == "bookworm" {print $2; exit}' \
        /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null)
    [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
    CHROOT=$(mktemp -d "$B/chroot.XXXXXX")
    chmod 0755 "$CHROOT" # its / : mktemp makes it 0700, which only root could traverse
    tarball=$B/debootstrap-bookworm-minbase.tar.gz
    if [ ! -s "$tarball" ]; then
        note "debootstrap --make-tarball (bookworm minbase from $mirror)"
        debootstrap --variant=minbase --make-tarball="$tarball.tmp" bookworm "$CHROOT.dl" "$mirror" \
            >"$WORK/debootstrap.log" 2>&1 ||
            { tail -20 "$WORK/debootstrap.log" >&2; rm -rf "$CHROOT.dl"; fail "debootstrap --make-tarball"; return; }
        rm -rf "$CHROOT.dl"
        mv "$tarball.tmp" "$tarball"
    fi
    note "debootstrap bookworm minbase into $CHROOT"
    debootstrap --variant=minbase --unpack-tarball="$tarball" bookworm "$CHROOT" "$mirror" \
        >"$WORK/debootstrap.log" 2>&1 ||
        { tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap"; return; }
    mount -t proc proc "$CHROOT/proc"
    cp /etc/resolv.conf "$CHROOT/etc/resolv.conf"
    mkdir -p "$CHROOT/tmp/debs"
    cp "${DEB[libkcingest]}" "${DEB[kcpipe]}" "${DEB[kcpipe-send]}" "${DEB[kcpipe-office]}" \
        "$CHROOT/tmp/debs/"
    in_chroot() { chroot "$CHROOT" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
    # The dependencies cannot be satisfied yet: dpkg -i leaves them unconfigured, apt-get -f
    # install fetches what they need and configures them.
    in_chroot sh -c 'dpkg -i /tmp/debs/*.deb' >"$WORK/dpkg-i.log" 2>&1 || true
    in_chroot apt-get update >"$WORK/apt.log" 2>&1 || { tail "$WORK/apt.log" >&2; fail "apt-get update in the chroot"; return; }
    in_chroot apt-get -y -f install >>"$WORK/apt.log" 2>&1 ||
        { tail -30 "$WORK/apt.log" >&2; fail "apt-get -f install in the chroot"; return; }
    for p in libkcingest kcpipe kcpipe-send kcpipe-office; do
        s=$(in_chroot dpkg-query -W -f='${db:Status-Abbrev}' "$p")
        [ "$s" = "ii " ] || fail "chroot: $p is '$s' after install"
    done
    in_chroot getent passwd kcpipe >/dev/null || fail "chroot: no user kcpipe"
    [ "$(in_chroot stat -c '%a %U %G' /var/lib/kcpipe)" = "750 kcpipe kcpipe" ] ||
        fail "chroot: /var/lib/kcpipe is $(in_chroot stat -c '%a %U %G' /var/lib/kcpipe)"
    [ "$(in_chroot stat -c '%a %U %G' /var/lib/kcpipe/office)" = "700 kcpipe kcpipe" ] ||
        fail "chroot: /var/lib/kcpipe/office is $(in_chroot stat -c '%a %U %G' /var/lib/kcpipe/office)"
    [ -f "$CHROOT/etc/kcpipe/aggregator.conf" ] || [ -z "$(confs_of kcpipe)" ] || fail "chroot: no aggregator.conf"
    [ -f "$CHROOT/etc/kcpipe/office.conf" ] || [ -z "$(confs_of kcpipe-office)" ] || fail "chroot: no office.conf"
    for u in $(units_of kcpipe) $(units_of kcpipe-send) $(units_of kcpipe-office); do
        find "$CHROOT/etc/systemd/system" -name "$u" -type l | grep -q . || fail "chroot: $u not enabled"
    done
    note "chroot: $(in_chroot getent passwd kcpipe); /var/lib/kcpipe $(in_chroot stat -c '%a %U:%G' /var/lib/kcpipe);" \
        "enabled: $(cd "$CHROOT/etc/systemd/system" && find . -name 'kcpipe*' | tr '\n' ' ')"
    v=$(in_chroot kc-aggregator --version 2>&1) || fail "chroot: kc-aggregator --version exits $?"
    note "chroot: kc-aggregator --version: $v"
    echo "$v" | grep -q "$KC_VERSION" || fail "chroot: kc-aggregator --version says '$v'"
    in_chroot kc-send --help >/dev/null 2>&1 || fail "chroot: kc-send --help"
    chroot_start_check
    chroot_office_check
    # Remove keeps the data and the user; purge removes them.
    echo data >"$CHROOT/var/lib/kcpipe/keep-me"
    in_chroot dpkg -r kcpipe >>"$WORK/apt.log" 2>&1 || fail "chroot: dpkg -r kcpipe"
    [ -f "$CHROOT/var/lib/kcpipe/keep-me" ] || fail "chroot: dpkg -r removed the data"
    in_chroot getent passwd kcpipe >/dev/null || fail "chroot: dpkg -r removed the user"
    [ -f "$CHROOT/etc/kcpipe/aggregator.conf" ] || [ -z "$(confs_of kcpipe)" ] || fail "chroot: dpkg -r removed a conffile"
    # kcpipe purged while kcpipe-office stays: the portal's data stays too
    in_chroot dpkg -P kcpipe >>"$WORK/apt.log" 2>&1 || fail "chroot: dpkg -P kcpipe"
    [ -f "$CHROOT/var/lib/kcpipe/office/data.mdb" ] || fail "chroot: dpkg -P kcpipe removed kcpipe-office's data"
    [ ! -e "$CHROOT/var/lib/kcpipe/keep-me" ] || fail "chroot: dpkg -P kcpipe kept the store's directory"
    in_chroot getent passwd kcpipe >/dev/null || fail "chroot: dpkg -P kcpipe removed the user of kcpipe-office"
    in_chroot dpkg -P kcpipe-office kcpipe-send libkcingest >>"$WORK/apt.log" 2>&1 || fail "chroot: dpkg -P"
    [ ! -e "$CHROOT/var/lib/kcpipe" ] || fail "chroot: /var/lib/kcpipe left after purge"
    [ ! -e "$CHROOT/var/lib/kcpipe-send" ] || fail "chroot: /var/lib/kcpipe-send left after purge"
    [ ! -e "$CHROOT/etc/kcpipe" ] || fail "chroot: /etc/kcpipe left after purge: $(ls -A "$CHROOT/etc/kcpipe")"
    in_chroot getent passwd kcpipe >/dev/null && fail "chroot: user kcpipe left after purge"
    in_chroot getent group kcpipe >/dev/null && fail "chroot: group kcpipe left after purge"
    find "$CHROOT/etc/systemd/system" -name 'kcpipe*' | grep . && fail "chroot: unit links left after purge"
    note "debootstrap chroot install/remove/purge: $(($(date +%s) - t1)) s"
}
skipped=""
case "$CHROOT_MODE:${KC_TEST_DEBOOTSTRAP:-auto}" in
no:*) note "parts 1-3 only (--no-chroot: the chroot install is the test package_chroot, scripts/soak)" ;;
*:0) skipped="the chroot install (part 4) not run: KC_TEST_DEBOOTSTRAP=0" ;;
*)
    if [ "$(id -u)" -ne 0 ] || ! command -v debootstrap >/dev/null; then
        if [ "${KC_TEST_DEBOOTSTRAP:-auto}" = 1 ]; then
            fail "KC_TEST_DEBOOTSTRAP=1 needs root and debootstrap"
        else
            skipped="the chroot install (part 4) not run: it needs root and debootstrap"
        fi
    else
        debootstrap_test
    fi
    ;;
esac

for p in $PACKAGES; do
    note "$p: $(dpkg-deb -f "${DEB[$p]}" Version) $(grep -c . "$WORK/$p.list") entries"
done
note "package test: $(($(date +%s) - T0)) s, $fails failure(s)"
[ "$fails" -eq 0 ] || exit 1
if [ -n "$skipped" ]; then
    echo "package: SKIP: $skipped (parts 1-3 passed)"
    exit 77
fi
