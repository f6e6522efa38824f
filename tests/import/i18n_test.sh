#!/bin/sh
# i18n_test.sh KC_SEND LOCALEDIR PODIR SRCDIR - messages in Vietnamese and English (issue 15):
#   the catalogue built by msgfmt into LOCALEDIR; every msgid of the sources (xgettext over
#   po/POTFILES, now) translated in po/vi.po, nothing fuzzy or untranslated, format strings
#   consistent (msgfmt --check); kc-send's language: --lang vi|en, "lang =" in its config file,
#   the locale (LANG=vi_VN.UTF-8 even though that locale is not installed; LC_ALL wins over LANG),
#   a usage error and a malformed CSV row in each language.
set -eu
send=$1 localedir=$2 podir=$3 srcdir=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() {
    echo "FAIL: $*"
    fail=1
}
# $1 name, $2 file, $3 text expected in it (fixed string)
has() {
    if grep -qF -- "$3" "$2"; then echo "ok: $1"; else
        bad "$1: expected '$3' in:"
        sed 's/^/    /' "$2"
    fi
}
hasnt() {
    if grep -qF -- "$3" "$2"; then
        bad "$1: unexpected '$3' in:"
        sed 's/^/    /' "$2"
    else echo "ok: $1"; fi
}

# 1. the catalogue
mo=$localedir/vi/LC_MESSAGES/kcpipe.mo
[ -s "$mo" ] && echo "ok: $mo built" || bad "$mo missing"
msgfmt --check --statistics -o "$tmp/vi.mo" "$podir/vi.po" 2>"$tmp/stats" || bad "msgfmt --check vi.po"
cat "$tmp/stats"
grep -q '^[0-9]* translated messages\.$' "$tmp/stats" && echo "ok: all translated, none fuzzy" ||
    bad "vi.po has untranslated or fuzzy messages"
grep -q '^"Plural-Forms: nplurals=1; plural=0;\\n"$' "$podir/vi.po" && echo "ok: nplurals=1" ||
    bad "vi.po: Plural-Forms is not nplurals=1; plural=0;"
# every message marked in the sources is in vi.po (a new _() without a translation fails here)
(cd "$srcdir" && xgettext --language=C --keyword=_ --keyword=N_ --from-code=UTF-8 \
    --files-from="$podir/POTFILES" --output="$tmp/now.pot") || bad "xgettext"
msgcmp "$podir/vi.po" "$tmp/now.pot" 2>"$tmp/cmp" && echo "ok: vi.po covers the sources" || {
    bad "msgcmp: messages of the sources missing from vi.po (run the 'pot' target, translate):"
    cat "$tmp/cmp"
}

export KC_LOCALEDIR="$localedir"
unset LANGUAGE LC_ALL LC_MESSAGES
export LANG=C.UTF-8
vi_batch="--batch: 'x' không phải là số từ 1 đến 1000000"
en_batch="--batch: 'x' is not a number from 1 to 1000000"
# $1 name, $2 expected exit code, rest: the command; stderr into $tmp/err
run() {
    name=$1 want=$2
    shift 2
    rc=0
    "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
    [ "$rc" = "$want" ] || bad "$name: exit $rc, expected $want"
}

# 2. a usage error in each language
run "--lang vi" 64 "$send" --no-config --lang vi --batch x
has "--lang vi: usage error in Vietnamese" "$tmp/err" "$vi_batch"
has "--lang vi: hint in Vietnamese" "$tmp/err" "Chạy 'kc-send --help' để xem hướng dẫn."
run "--lang=vi" 64 "$send" --no-config --lang=vi --batch x
has "--lang=vi" "$tmp/err" "$vi_batch"
run "--lang en" 64 "$send" --no-config --lang en --batch x
has "--lang en: English" "$tmp/err" "$en_batch"
has "--lang en: English hint" "$tmp/err" "Try 'kc-send --help' for more information."
run "no --lang, LANG=C.UTF-8" 64 "$send" --no-config --batch x
has "C.UTF-8 locale: English" "$tmp/err" "$en_batch"
# the locale decides (vi_VN.UTF-8 need not be installed: locale -a may list only C, POSIX)
run "LANG=vi_VN.UTF-8" 64 env LANG=vi_VN.UTF-8 "$send" --no-config --batch x
has "LANG=vi_VN.UTF-8: Vietnamese" "$tmp/err" "$vi_batch"
run "LC_MESSAGES=vi_VN" 64 env LC_MESSAGES=vi_VN "$send" --no-config --batch x
has "LC_MESSAGES=vi_VN: Vietnamese" "$tmp/err" "$vi_batch"
run "LC_ALL=C over LANG=vi" 64 env LANG=vi_VN.UTF-8 LC_ALL=C "$send" --no-config --batch x
has "LC_ALL=C wins over LANG: English" "$tmp/err" "$en_batch"
run "LANG=vi, --lang en" 64 env LANG=vi_VN.UTF-8 "$send" --no-config --lang en --batch x
has "--lang en wins over LANG=vi" "$tmp/err" "$en_batch"
run "LANG=vi, LANGUAGE=fr" 64 env LANG=vi_VN.UTF-8 LANGUAGE=fr "$send" --no-config --batch x
has "the chosen language wins over an outside LANGUAGE" "$tmp/err" "$vi_batch"
run "--lang xx" 64 "$send" --no-config --lang xx --batch 5
has "--lang xx: refused" "$tmp/err" "--lang: 'xx' is not vi or en"
run "--lang xx under vi" 64 env LANG=vi_VN.UTF-8 "$send" --no-config --lang xx
has "--lang xx: refused in Vietnamese" "$tmp/err" "--lang: 'xx' không hợp lệ; vui lòng dùng vi hoặc en"
# the config file's "lang =", and the command line over it
printf 'lang = vi\n' >"$tmp/send.conf"
run "config lang = vi" 64 "$send" --config "$tmp/send.conf" --batch x
has "config lang = vi: Vietnamese" "$tmp/err" "$vi_batch"
run "config vi, --lang en" 64 "$send" --config "$tmp/send.conf" --lang en --batch x
has "--lang en wins over the config file" "$tmp/err" "$en_batch"

# 3. a malformed CSV row in each language (nothing listens: --timeout 0, the row never spooled)
printf 'event_id,province,year,month,activity,kind\ne1,01,2024,3,KC1,bogus\n' >"$tmp/bad.csv"
for lang in vi en; do
    run "malformed row --lang $lang" 65 "$send" --no-config --lang $lang -c tcp://127.0.0.1:9 \
        -p i18n-$lang -s "$tmp/spool-$lang" -t 0 "$tmp/bad.csv"
    cp "$tmp/err" "$tmp/err-$lang"
    has "--lang $lang: summary stays machine-readable" "$tmp/out" \
        "summary: rows=1 accepted=0 duplicates=0 rejected=0 malformed=1 unacknowledged=0"
done
has "malformed row in Vietnamese" "$tmp/err-vi" \
    "bad.csv dòng 2, cột F (kind): không có loại số liệu 'bogus': các giá trị hợp lệ là actual, plan, correction, retraction [unknown_kind]"
has "malformed row in English" "$tmp/err-en" \
    "bad.csv row 2, column F (kind): unknown kind 'bogus': valid values are actual, plan, correction, retraction [unknown_kind]"
hasnt "no English left in the Vietnamese run" "$tmp/err-vi" "unknown kind"

[ $fail -eq 0 ] && echo "ok: messages in Vietnamese and English"
exit $fail
