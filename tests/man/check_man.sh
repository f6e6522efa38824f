#!/bin/sh
# check_man.sh - a manual page renders cleanly and agrees with its program's --help.
#
#   check_man.sh PAGE [PROGRAM]
#
# PAGE is a page rendered by scdoc (${CMAKE_BINARY_DIR}/man/NAME.SECTION).
# 1. `man --warnings -l PAGE` (MANWIDTH=80, LC_ALL=C.UTF-8) writes nothing on stderr.
# 2. With PROGRAM: the long options of `PROGRAM --help` equal the long options
#    documented in the page's OPTIONS section; the differences are printed.
#
# An option of --help is an option-column entry: a line indented by 1 to 8
# spaces that starts with "--name" or "-x, --name" (mentions of an option in a
# description, indented further or inside the text, are not entries). An option
# of the page is a term of its OPTIONS section: a line of the rendered page
# indented by exactly 7 spaces that starts with "-"; every "--name" on it counts
# (so "-c, --connect EP" documents --connect).
# POSIX sh and awk only. Exit 0 ok, 1 a check failed, 2 usage or setup error.
set -u

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 PAGE [PROGRAM]" >&2
    exit 2
fi
page=$1
prog=${2:-}
name=$(basename "$page")

if [ ! -s "$page" ]; then
    echo "FAIL $name: no rendered page $page (is the man-pages target built?)" >&2
    exit 2
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/kc-man.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM

fail=0

# 1. Rendering, warnings on stderr. MANPAGER/PAGER: never a pager; MAN_KEEP_FORMATTING unset:
# plain text when stdout is not a terminal.
if ! env -u MAN_KEEP_FORMATTING MANWIDTH=80 LC_ALL=C.UTF-8 MANPAGER=cat PAGER=cat \
        man --warnings -l "$page" >"$tmp/page.txt" 2>"$tmp/warn.txt"; then
    echo "FAIL $name: man -l exited non-zero" >&2
    cat "$tmp/warn.txt" >&2
    exit 1
fi
if [ -s "$tmp/warn.txt" ]; then
    echo "FAIL $name: man --warnings -l reported:" >&2
    sed 's/^/  /' "$tmp/warn.txt" >&2
    fail=1
fi
if [ ! -s "$tmp/page.txt" ]; then
    echo "FAIL $name: the page renders empty" >&2
    exit 1
fi

# Overstrike sequences (x BS x, _ BS x) removed, and typographic hyphens and minus signs
# (U+2010, U+2011, U+2212) mapped back to "-", in case groff produced them.
plain() {
    bs=$(printf '\b')
    sed -e "s/.$bs//g" -e 's/‐/-/g' -e 's/‑/-/g' -e 's/−/-/g' "$1"
}

if [ -n "$prog" ]; then
    if [ ! -x "$prog" ]; then
        echo "FAIL $name: no program $prog" >&2
        exit 2
    fi
    # --help must not read a config file of this machine.
    if ! KCPIPE_CONFIG_DIR="$tmp/noconf" "$prog" --help >"$tmp/help.txt" 2>"$tmp/help.err"; then
        echo "FAIL $name: $prog --help exited non-zero" >&2
        cat "$tmp/help.err" >&2
        exit 1
    fi
    awk '
        /^ +(-[[:alnum:]], *)?--[[:alnum:]]/ {
            line = $0
            # the indent: 1 to 8 spaces (no interval expressions: mawk)
            match(line, /^ +/)
            if (RLENGTH > 8)
                next
            sub(/^ +(-[[:alnum:]], *)?/, "", line)
            if (match(line, /^--[[:alnum:]][[:alnum:]-]*/))
                print substr(line, RSTART, RLENGTH)
        }' "$tmp/help.txt" | sort -u >"$tmp/help.opts"

    plain "$tmp/page.txt" | awk '
        /^[^ ]/ { in_opts = ($0 == "OPTIONS"); next }
        in_opts && /^       -/ {
            line = $0
            while (match(line, /--[[:alnum:]][[:alnum:]-]*/)) {
                print substr(line, RSTART, RLENGTH)
                line = substr(line, RSTART + RLENGTH)
            }
        }' | sort -u >"$tmp/page.opts"

    if [ ! -s "$tmp/help.opts" ]; then
        echo "FAIL $name: no long option found in $prog --help" >&2
        fail=1
    fi
    if [ ! -s "$tmp/page.opts" ]; then
        echo "FAIL $name: no option found in the page's OPTIONS section" >&2
        fail=1
    fi
    only_help=$(comm -23 "$tmp/help.opts" "$tmp/page.opts")
    only_page=$(comm -13 "$tmp/help.opts" "$tmp/page.opts")
    if [ -n "$only_help" ]; then
        echo "FAIL $name: in '$(basename "$prog") --help' but not in the page's OPTIONS:" >&2
        echo "$only_help" | sed 's/^/  /' >&2
        fail=1
    fi
    if [ -n "$only_page" ]; then
        echo "FAIL $name: in the page's OPTIONS but not in '$(basename "$prog") --help':" >&2
        echo "$only_page" | sed 's/^/  /' >&2
        fail=1
    fi
    if [ $fail -eq 0 ]; then
        echo "ok $name: $(wc -l <"$tmp/help.opts") long options agree with --help; renders without warnings"
    fi
elif [ $fail -eq 0 ]; then
    echo "ok $name: renders without warnings"
fi
exit $fail
