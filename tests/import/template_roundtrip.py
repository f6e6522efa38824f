#!/usr/bin/python3
"""template_roundtrip.py DRIVER SOURCE_DIR - the template filled by readers that are not ours.

For each language (vi, en): DRIVER (tests/import/import_sums.c) writes the xlsx and CSV
templates (kc_template_write). openpyxl opens the xlsx and checks what a clerk relies on:
sheet names, the frozen bold header naming every column of data/columns.tsv, the data
validations (drop-down lists on province, activity, kind and fund that reference ranges of
sheet 2 holding the expected values; whole numbers in range on year and month), and that
sheet 2 lists every province of both schemes of data/provinces.tsv (codes as text) and every
activity of data/activities.tsv with the metrics it allows. Then it replaces the example row
with N rows (distinct event_ids, provinces and activities picked from the drop-down lists,
kind and fund words of the lists, numbers as numbers and some as text such as "1.200.000"),
saves, and imports the file with DRIVER: every row good, and the exact sum of every metric
and the rows per province, activity, kind and fund as written. The same rows go through the
CSV template (Python's csv module, UTF-8 with BOM, CRLF), and, when LibreOffice is installed,
through `soffice --headless --convert-to xlsx` (a private profile), which must keep the
validations and import to the same sums.
"""
import csv
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

import openpyxl
from openpyxl.utils import range_boundaries

N_ROWS = int(os.environ.get("KC_TEMPLATE_ROWS", "300"))


def tsv(path):
    """Rows of a data/*.tsv file as dicts (comments skipped, first line the header)."""
    rows, head = [], None
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            cells = line.split("\t")
            if head is None:
                head = cells
            else:
                rows.append(dict(zip(head, cells + [""] * (len(head) - len(cells)))))
    return rows


class Data:
    def __init__(self, src):
        d = os.path.join(src, "data")
        cols = tsv(os.path.join(d, "columns.tsv"))
        self.columns = list(dict.fromkeys(r["column"] for r in cols))
        self.alias = {r["alias"]: r["column"] for r in cols}
        self.alias.update({c: c for c in self.columns})
        self.metrics = [r["name"] for r in tsv(os.path.join(d, "metrics.tsv"))]
        self.activities = tsv(os.path.join(d, "activities.tsv"))
        self.provinces = tsv(os.path.join(d, "provinces.tsv"))
        words = tsv(os.path.join(d, "values.tsv"))
        self.words = {}  # field -> [(value, first alias)] in file order
        for r in words:
            lst = self.words.setdefault(r["field"], [])
            if r["value"] not in [v for v, _ in lst]:
                lst.append((r["value"], r["alias"]))


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def run_driver(driver, *args):
    p = subprocess.run([driver, *args], capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, f"{driver} {' '.join(args)}: exit {p.returncode}: {p.stderr}")
    return p.stdout


def covers(sqref, col, rows):
    """Whether a validation's sqref covers column col (1-based) on every row of rows."""
    for r in rows:
        ok = False
        for rng in str(sqref).split():
            c1, r1, c2, r2 = range_boundaries(rng)
            ok |= c1 <= col <= c2 and r1 <= r <= r2
        if not ok:
            return False
    return True


def list_values(wb, formula):
    """The cells a list validation's formula references: 'Sheet'!$A$2:$A$9."""
    m = re.fullmatch(r"=?(?:'((?:[^']|'')+)'|([^!]+))!(\$?[A-Z]+\$?\d+:\$?[A-Z]+\$?\d+)", formula)
    check(m is not None, f"list validation formula {formula!r} is not a range of a sheet")
    name = (m.group(1) or m.group(2)).replace("''", "'")
    check(name in wb.sheetnames, f"{formula!r} names no sheet of {wb.sheetnames}")
    c1, r1, c2, r2 = range_boundaries(m.group(3).replace("$", ""))
    check(c1 == c2, f"{formula!r}: not one column")
    ws = wb[name]
    return [ws.cell(row=r, column=c1).value for r in range(r1, r2 + 1)]


def check_template(path, lang, data):
    """The template as openpyxl reads it; returns (header, drop-down lists)."""
    vi = lang == "vi"
    wb = openpyxl.load_workbook(path)
    check(len(wb.worksheets) == 2, f"{path}: {len(wb.worksheets)} sheets")
    ws, wl = wb.worksheets
    check(ws.title == ("Báo cáo" if vi else "Report"), f"sheet 1 is {ws.title!r}")
    check(wl.title == ("Danh mục" if vi else "Lists"), f"sheet 2 is {wl.title!r}")
    check(ws.freeze_panes == "A2", f"header not frozen: {ws.freeze_panes}")
    header = [c.value for c in ws[1]]
    check(all(ws.cell(row=1, column=i + 1).font.b for i in range(len(header))), "header not bold")
    cols = [data.alias.get(h) for h in header]
    check(None not in cols, f"header cells that are no column: {header}")
    check(sorted(cols) == sorted(data.columns), f"header {cols} != columns {data.columns}")
    check(set(data.metrics) <= set(cols), "a metric has no column")
    if not vi:
        check(header == cols, f"en header {header}")
    col = {c: i + 1 for i, c in enumerate(cols)}

    dvs = ws.data_validations.dataValidation
    rows = (2, 3, 1001, 5000)

    def dv_of(name):
        found = [dv for dv in dvs if covers(dv.sqref, col[name], rows)]
        check(len(found) == 1, f"column {name}: {len(found)} validations")
        return found[0]

    lists = {}
    for name in ("province", "activity", "kind", "fund"):
        dv = dv_of(name)
        check(dv.type == "list", f"{name}: validation type {dv.type}")
        vals = list_values(wb, dv.formula1)
        check(all(isinstance(v, str) and v for v in vals), f"{name}: list {vals}")
        lists[name] = vals
    for name, lo, hi in (("year", 2000, 2100), ("month", 1, 12)):
        dv = dv_of(name)
        check(dv.type == "whole" and dv.operator in (None, "between"), f"{name}: {dv.type}")
        check((int(dv.formula1), int(dv.formula2)) == (lo, hi), f"{name}: {dv.formula1}-{dv.formula2}")

    names = list(dict.fromkeys(p["name"] for p in data.provinces))
    check(sorted(lists["province"]) == sorted(names), f"province list {lists['province']}")
    key = "label_vi" if vi else "name"
    check(lists["activity"] == [a[key] for a in data.activities], f"activity list {lists['activity']}")
    for field in ("kind", "fund"):
        want = [a if vi else v for v, a in data.words[field]]
        check(lists[field] == want, f"{field} list {lists[field]} != {want}")

    # Sheet 2: every province of both schemes (code as text, name, scheme), every activity
    # with the metrics it allows (named as the header names them).
    table = [[("" if v is None else v) for v in r] for r in wl.iter_rows(values_only=True)]
    provs, acts = set(), {}
    for r in table:
        for i in range(len(r) - 2):
            if isinstance(r[i], str) and re.fullmatch(r"\d\d", r[i]) and isinstance(r[i + 1], str):
                m = re.match(r"(63|34) ", str(r[i + 2]))
                if m and r[i + 1]:
                    provs.add((m.group(1), r[i], r[i + 1]))
        for i in range(len(r) - 4):
            for a in data.activities:
                if r[i : i + 4] == [a["code"], a["name"], a["label_vi"], a["label_en"]]:
                    acts[a["code"]] = r[i + 4]
    want = {(p["scheme"], p["code"], p["name"]) for p in data.provinces}
    check(provs == want, f"sheet 2 provinces: missing {want - provs}, extra {provs - want}")
    check(len(want) == 97, f"{len(want)} provinces in data/provinces.tsv")
    check(len(acts) == len(data.activities), f"sheet 2 activities: {sorted(acts)}")
    by_col = dict(zip(cols, header))
    for a in data.activities:
        allowed = a["metrics"].split(",")
        shown = [data.alias.get(s.strip()) for s in acts[a["code"]].split(";")]
        check(sorted(shown) == sorted(allowed), f"{a['code']}: metrics {acts[a['code']]!r}")
        check(all(by_col[m] in acts[a["code"]] for m in allowed), a["code"])
    return wb, header, cols, lists


def grouped(v, sep):
    s = f"{v:,}"
    return s.replace(",", sep)


def make_rows(lang, data, lists, n):
    """n rows as dicts column -> cell value, and what they must import as."""
    vi = lang == "vi"
    rng = random.Random(15 + vi)
    by_name = {}
    for p in data.provinces:
        by_name.setdefault((p["scheme"], p["name"]), p["code"])
    act_by_word = {a["label_vi" if vi else "name"]: a for a in data.activities}
    kinds = dict(zip(lists["kind"], [v for v, _ in data.words["kind"]]))
    funds = dict(zip(lists["fund"], [v for v, _ in data.words["fund"]]))
    sums = {m: 0 for m in data.metrics}
    counts = {"provinces": {}, "activities": {}, "kinds": {}, "funds": {}}

    def count(what, key):
        counts[what][key] = counts[what].get(key, 0) + 1

    rows = []
    for i in range(n):
        year, month = rng.choice((2024, 2025, 2026)), rng.randint(1, 12)
        scheme = "63" if year * 100 + month <= 202506 else "34"
        names = [nm for nm in lists["province"] if (scheme, nm) in by_name]
        name = rng.choice(names)
        code = by_name[(scheme, name)]
        prov = name
        if i % 7 == 3:
            prov = int(code)  # a code typed as a number: Excel drops the zero of "01"
        elif i % 7 == 5:
            prov = code
        word = rng.choice(lists["activity"])
        a = act_by_word[word]
        kind_word = rng.choice([w for w, v in kinds.items() if v in ("actual", "plan")])
        fund_word = rng.choice(lists["fund"])
        row = {
            "event_id": f"RT-{lang}-{i:05d}",
            "province": prov,
            "year": year,
            "month": month,
            "activity": a["code"] if i % 11 == 4 else word,
            "kind": kind_word,
            "fund": fund_word,
        }
        allowed = a["metrics"].split(",")
        chosen = [m for m in allowed if rng.random() < 0.7] or [allowed[0]]
        vals = {}
        for m in chosen:
            if m.endswith("_vnd"):
                vals[m] = rng.randint(1000, 5_000_000) * 1000
            else:
                vals[m] = rng.randint(1, 500)
        if "persons_employed" in vals:
            vals["persons"] = max(vals.get("persons", 0), vals["persons_employed"])
        for m, v in vals.items():
            sums[m] += v
            r = rng.random()
            if v >= 1_000_000 and r < 0.3:
                row[m] = grouped(v, "." if vi else ",")  # text, as typed
            elif v >= 1_000_000 and r < 0.4:
                row[m] = grouped(v, "\u00a0")
            elif r < 0.5:
                row[m] = str(v)
            else:
                row[m] = v
        if i % 5 == 0:
            row["note"] = f'Ghi chú "{i}", có dấu phẩy; và chấm phẩy'
        rows.append(row)
        count("provinces", code)
        count("activities", a["name"])
        count("kinds", kinds[kind_word])
        count("funds", funds[fund_word])
    return rows, {"good": n, "bad_rows": 0, "sums": sums, **counts}


def check_import(driver, path, want, by="openpyxl"):
    got = json.loads(run_driver(driver, path))
    check(got["problems"] == [], f"{path}: problems {got['problems'][:5]}")
    for k in ("good", "bad_rows", "sums", "provinces", "activities", "kinds", "funds"):
        check(got[k] == want[k], f"{path}: {k} {got[k]} != {want[k]}")
    print(f"ok: {os.path.basename(path)} ({by}): {got['good']} rows, sums {got['sums']}")


def soffice_resave(path, work):
    exe = shutil.which("soffice")
    if not exe:
        print("SKIP: soffice is not installed (libreoffice-calc-nogui)")
        return None
    out = os.path.join(work, "lo")
    profile = os.path.join(work, "lo-profile")
    os.makedirs(out, exist_ok=True)
    p = subprocess.run(
        [exe, f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
         "--convert-to", "xlsx", "--outdir", out, path],
        capture_output=True, text=True, timeout=300)
    res = os.path.join(out, os.path.basename(path))
    check(p.returncode == 0 and os.path.exists(res),
          f"soffice: exit {p.returncode}: {p.stdout} {p.stderr}")
    with zipfile.ZipFile(res) as z:  # written by LibreOffice, not a copy
        app = z.read("docProps/app.xml").decode("utf-8", "replace")
    check("LibreOffice" in app, f"{res}: not written by LibreOffice: {app[:200]}")
    return res


def roundtrip(driver, data, lang, work):
    os.makedirs(work)
    xlsx = os.path.join(work, f"template-{lang}.xlsx")
    run_driver(driver, "--template", "xlsx", lang, xlsx)
    wb, header, cols, lists = check_template(xlsx, lang, data)
    rows, want = make_rows(lang, data, lists, N_ROWS)

    ws = wb.worksheets[0]
    for c in range(1, len(cols) + 1):  # the example row goes
        ws.cell(row=2, column=c).value = None
    for i, row in enumerate(rows):
        for c, name in enumerate(cols, start=1):
            if name in row:
                ws.cell(row=2 + i, column=c).value = row[name]
    filled = os.path.join(work, f"filled-{lang}.xlsx")
    wb.save(filled)
    check_import(driver, filled, want)

    # the CSV template, filled with Python's csv module
    tcsv = os.path.join(work, f"template-{lang}.csv")
    run_driver(driver, "--template", "csv", lang, tcsv)
    with open(tcsv, "rb") as f:
        check(f.read(3) == b"\xef\xbb\xbf", "CSV template without BOM")
    with open(tcsv, encoding="utf-8-sig", newline="") as f:
        lines = list(csv.reader(f))
    check(lines[0] == header, f"CSV header {lines[0]} != xlsx header {header}")
    check(len(lines) == 2, f"CSV template has {len(lines)} lines")
    fcsv = os.path.join(work, f"filled-{lang}.csv")
    with open(fcsv, "w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f, lineterminator="\r\n")
        w.writerow(lines[0])
        for row in rows:
            w.writerow(["" if row.get(c) is None else row.get(c) for c in cols])
    check_import(driver, fcsv, want, "csv module")

    lo = soffice_resave(filled, work)
    if lo:
        wb2 = openpyxl.load_workbook(lo)
        check(len(wb2.worksheets[0].data_validations.dataValidation) >= 6,
              "LibreOffice dropped the validations")
        check_template_lists_after_lo(wb2, lists)
        check_import(driver, lo, want, "LibreOffice")


def check_template_lists_after_lo(wb, lists):
    """After LibreOffice: the list validations still reference the same values."""
    got = []
    for dv in wb.worksheets[0].data_validations.dataValidation:
        if dv.type == "list":
            got.append(list_values(wb, dv.formula1))
    for name, vals in lists.items():
        check(vals in got, f"after LibreOffice: no list validation of {name}")


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    driver, src = sys.argv[1], sys.argv[2]
    data = Data(src)
    work = tempfile.mkdtemp(prefix="kc-tpl-rt-")
    try:
        for lang in ("vi", "en"):
            roundtrip(driver, data, lang, os.path.join(work, lang))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("ok: template round trip")
    return 0


if __name__ == "__main__":
    sys.exit(main())
