#!/bin/sh
# check_test.sh KC_SEND - `kc-send --check` (issue 15): offline, nothing sent, every problem with
# its hint; exit 0 when every row of every file is valid, 65 otherwise; --format json read by
# Python's json module (not ours); and --template's files pass it as they are.
set -u
send=$1
py=/usr/bin/python3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/kc-check-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
ok() { echo "ok: $*"; }

# A clerk's file: semicolons, Vietnamese headers, grouped numbers, province names, one row of
# each kind of problem.
printf '%s\n' \
    'Mã hoạt động;Tỉnh/thành phố;Năm;Tháng;Nội dung hoạt động;Kinh phí (đồng);Số người được đào tạo' \
    'A1;Cần Thơ;2022;3;Đào tạo nghề, truyền nghề;1.200.000.000;35' \
    'A2;1;2022;3;machinary;350000000.00;' \
    'A3;79;2022;3;KC1;1.200;' \
    'A4;TP. Hồ Chí Minh;2022;3;KC3b;100;7' >"$tmp/bad.csv"
printf 'event_id,province,year,month,activity,amount_vnd\nG1,79,2022,3,KC1,1000\n' >"$tmp/good.csv"

"$send" --no-config --lang en --check "$tmp/good.csv" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 0 ] && ok "a valid file: exit 0" || bad "a valid file: exit $rc"
grep -qF "good.csv: 1 rows, all valid" "$tmp/out" && ok "a valid file: its line" || bad "no 'all valid' line"

"$send" --no-config --lang en --check "$tmp/good.csv" "$tmp/bad.csv" >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc -eq 65 ] && ok "a file with problems: exit 65" || bad "a file with problems: exit $rc"
for want in \
    "bad.csv row 3, column E (Nội dung hoạt động): unknown activity 'machinary': did you mean machinery" \
    "bad.csv row 4, column F (Kinh phí (đồng)): '1.200' could be 1200 ('.' separating thousands) or 1.2" \
    "bad.csv row 5, column G (Số người được đào tạo): persons is not a figure of activity machinery" \
    "bad.csv: 4 rows, 1 valid, 3 with problems (nothing was sent)"; do
    grep -qF -- "$want" "$tmp/out" && ok "prints: $want" || bad "missing: $want"
done

"$send" --no-config --lang en --check --format json "$tmp/good.csv" "$tmp/bad.csv" >"$tmp/json" 2>"$tmp/err"
rc=$?
[ $rc -eq 65 ] && ok "json: exit 65" || bad "json: exit $rc"
if $py - "$tmp/json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
assert d["ok"] is False, d["ok"]
good, bad = d["files"]
assert good["ok"] and good["rows"] == 1 and good["good"] == 1 and good["problems"] == [], good
assert bad["rows"] == 4 and bad["good"] == 1 and bad["bad"] == 3 and bad["error"] is None, bad
got = [(p["row"], p["col"], p["column"], p["reason"], p["cell"], p["suggestion"])
       for p in bad["problems"]]
want = [(3, "E", "activity", "unknown_activity", "machinary", "machinery"),
        (4, "F", "amount_vnd", "ambiguous_number", "1.200", ""),
        (5, "G", "persons", "metric_not_allowed", "7", "")]
assert got == want, got
assert bad["problems"][0]["header"] == "Nội dung hoạt động"
assert bad["problems"][2]["message"].startswith("bad.csv row 5, column G"), bad["problems"][2]
PY
then ok "json: files, counts and problems"; else bad "json document"; fi

# a workbook (written by openpyxl, not ours): the sheet's name, as its tab shows it, in the place
$py - "$tmp/bad.xlsx" <<'PY'
import sys, openpyxl
wb = openpyxl.Workbook()
ws = wb.active
ws.title = "Báo cáo"
ws.append(["event_id", "province", "year", "month", "activity", "amount_vnd"])
ws.append(["X1", "Cần Thơ", 2022, 3, "machinary", 1200000])
wb.save(sys.argv[1])
PY
"$send" --no-config --lang en --check "$tmp/bad.xlsx" >"$tmp/out" 2>&1
rc=$?
[ $rc -eq 65 ] && ok "xlsx with a problem: exit 65" || bad "xlsx with a problem: exit $rc"
want="bad.xlsx [Báo cáo] row 2, column E (activity): unknown activity 'machinary': did you mean machinery"
grep -qF -- "$want" "$tmp/out" && ok "prints: $want" || { bad "missing: $want"; cat "$tmp/out"; }

# nothing is needed to check (no spool, no connection, no producer) and nothing is written
mkdir "$tmp/cwd"
(cd "$tmp/cwd" && "$send" --no-config --check "$tmp/bad.csv" >/dev/null 2>&1)
[ -z "$(ls -A "$tmp/cwd")" ] && ok "nothing written where it ran" || bad "--check wrote files"

# a file that cannot be read at all, and one not in UTF-8, in the JSON
printf 'not a zip' >"$tmp/broken.xlsx"
printf 'event_id,province,year,month,activity,amount_vnd\nW1,79,2022,3,KC1,1000\nW2,79,2022,3,KC1,1000,\"B\341\272\n' >"$tmp/w.csv"
printf 'event_id,province,year,month,activity,note\nW3,79,2022,3,KC1,B\354nh\n' >"$tmp/latin.csv"
"$send" --no-config --lang en --check --format json "$tmp/broken.xlsx" "$tmp/latin.csv" >"$tmp/json" 2>"$tmp/err"
rc=$?
[ $rc -eq 65 ] && ok "unreadable files: exit 65" || bad "unreadable files: exit $rc"
if $py - "$tmp/json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1], encoding="utf-8"))
broken, latin = d["files"]
assert not broken["ok"] and broken["rows"] == 0 and broken["error"], broken
assert not latin["ok"] and "--encoding windows-1258" in latin["error"], latin
PY
then ok "json: unreadable files with the reason"; else bad "json for unreadable files"; cat "$tmp/json"; fi

# --template's files pass --check in both languages
for lang in vi en; do
    for f in xlsx csv; do
        "$send" --no-config --template $f --lang $lang --output "$tmp/t-$lang.$f" 2>"$tmp/err" ||
            bad "--template $f --lang $lang"
        "$send" --no-config --lang $lang --check "$tmp/t-$lang.$f" >"$tmp/out" 2>&1 &&
            ok "--template $f --lang $lang passes --check" ||
            { bad "--template $f --lang $lang fails --check:"; cat "$tmp/out"; }
    done
done

# on a terminal, a long file shows its progress on one line (util-linux script(1) gives kc-send a
# pseudo-terminal); not on a pipe
if command -v script >/dev/null; then
    $py -c "
print('event_id,province,year,month,activity,amount_vnd')
for i in range(5000): print(f'P{i},79,2022,3,KC1,{i + 1}')" >"$tmp/big.csv"
    script -qec "'$send' --no-config --lang en --check '$tmp/big.csv'" /dev/null >"$tmp/tty" 2>&1
    tr '\r' '\n' <"$tmp/tty" | grep -qx "$tmp/big.csv: 4000 rows read, 0 with problems" &&
        ok "a progress line on a terminal" || { bad "no progress line on a terminal:"; cat -v "$tmp/tty"; }
    "$send" --no-config --lang en --check "$tmp/big.csv" >"$tmp/out" 2>&1
    grep -q "rows read" "$tmp/out" && bad "a progress line on a pipe" || ok "no progress line on a pipe"
else
    echo "skip: script(1) is not installed: no terminal to show progress on"
fi

[ $fail -eq 0 ] && echo "ok: kc-send --check"
exit $fail
