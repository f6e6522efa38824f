#!/usr/bin/python3
"""report_test.py BIN_DIR SOURCE_DIR - the conference report in every format (issue 16).

The demo data (data/demo/*.csv, the 20 southern provinces) goes into a real store through a
kc-aggregator on 127.0.0.1 (ports 0, HTTP API on) and one kc-send per province, with the helpers
of tests/import/demo_xlsx_test.py. Then, read by programs that are not ours:
  1. kc-report --format xlsx: openpyxl (Debian's /usr/bin/python3) finds every figure of
     docs/DOMAIN.md's reference table as an int cell (not float, not text) in the summary sheet,
     the provinces and province x activity sheets with totals rows that add up, frozen header
     rows, "#,##0" formats and the header block (query, log size, signed head); LibreOffice
     headless (own profile, bounded time) converts it to CSV with the same figures (skipped,
     saying so, when soffice is absent);
  2. --format pdf: pdftotext -layout holds the figures and Vietnamese text ("Hồ Chí Minh",
     "Bà Rịa - Vũng Tàu", "Kinh phí"), "Trang 1/N" page numbers; pdfinfo counts the pages;
     pdffonts lists only embedded fonts;
  3. --format csv: starts with the UTF-8 BOM, Python's csv (utf-8-sig) reads the figures and
     the Vietnamese headers; --no-bom has none; --total adds the totals rows;
  4. --format html: html.parser reads the tables, the figures and the escaped title;
  5. binary formats refuse a terminal without --output (run under script(1) when present);
     --output writes FILE through FILE.tmp (no .tmp left);
  6. GET /v1/report on the same aggregator: Content-Type and Content-Disposition per format,
     the xlsx's figures identical to kc-report's, HEAD, 400 JSON errors for bad parameters,
     no store path in any answer.
KC_REPORT_TEST_KEEP=1 keeps the work directory.
"""
import csv
import glob
import html.parser
import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

BIN, SRC = (sys.argv[1], sys.argv[2]) if len(sys.argv) == 3 else (None, None)
if SRC:
    sys.path.insert(0, os.path.join(SRC, "tests", "import"))
    import demo_xlsx_test as demo  # noqa: E402  Aggregator-style start, send_all

failures = []

# docs/DOMAIN.md, "The reference report": (period, activity code, metric) -> figure
REF_2021 = {
    ("KC3", "facilities"): 168, ("KC4a", "products"): 245, ("KC4a", "facility_turns"): 197,
    ("KC4c", "facilities"): 23, ("KC1", "persons"): 108, ("KC1", "persons_employed"): 87,
    ("KC2", "persons"): 516, ("W", "events"): 4, ("W", "delegates"): 120,
    ("TV", "projects"): 466, ("TV", "revenue_vnd"): 13980000000,
}
REF_2022 = {
    ("KC3b", "facilities"): 114, ("KC4b", "facility_turns"): 274,
    ("KC4a", "facility_turns"): 220, ("KC4d", "facilities"): 5, ("KC1", "persons"): 152,
    ("KC1", "persons_employed"): 151, ("KC2", "persons"): 285, ("W", "events"): 4,
    ("W", "delegates"): 330, ("TV", "projects"): 293, ("TV", "revenue_vnd"): 4850000000,
}
SPEND_2021, SPEND_9M2022, SPEND_9M2021 = 50300000000, 38400000000, 19900000000
PLAN_2021, PLAN_2022 = 63200000000, 102200000000
ALL_FIGURES = sorted({SPEND_2021, SPEND_9M2022, SPEND_9M2021, PLAN_2021, PLAN_2022}
                     | set(REF_2021.values()) | set(REF_2022.values()))
VI_TEXT = ["Hồ Chí Minh", "Bà Rịa - Vũng Tàu", "Kinh phí", "Bình Thuận", "Cần Thơ"]


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def check(name, ok, detail=""):
    if ok:
        print("ok: " + name)
    else:
        fail(name + (": " + detail if detail else ""))


def run(argv, timeout=120, **kw):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                          **kw)


class Aggregator:
    """kc-aggregator on 127.0.0.1, ports 0, HTTP on; the ready file names the endpoints."""

    def __init__(self, work):
        self.store = os.path.join(work, "store")
        ready = os.path.join(work, "ready")
        self.errf = open(os.path.join(work, "aggregator.err"), "w")
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "kc-aggregator"), "--no-config", "--listen", "tcp://127.0.0.1:*",
             "--store", self.store, "--http", "127.0.0.1:0", "--ready-file", ready,
             "--log-level", "warn"], stdout=subprocess.DEVNULL, stderr=self.errf)
        deadline = time.monotonic() + 30
        self.endpoint = self.http = None
        while time.monotonic() < deadline and not (self.endpoint and self.http):
            if self.proc.poll() is not None:
                raise SystemExit("kc-aggregator exited %s before it was ready" % self.proc.returncode)
            if os.path.exists(ready):
                for line in open(ready).read().splitlines():
                    if line.startswith("tcp://"):
                        self.endpoint = line.strip()
                    elif line.startswith("http "):
                        self.http = line.split(" ", 1)[1].strip().rstrip("/")
            time.sleep(0.02)  # a poll step inside the deadline, not synchronisation
        if not (self.endpoint and self.http):
            self.stop()
            raise SystemExit("kc-aggregator not ready after 30 s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = "timeout"
            check("kc-aggregator exits 0 on SIGTERM", rc == 0, "exit %s" % rc)
        self.errf.close()


def report(store, *args, out=None):
    argv = [os.path.join(BIN, "kc-report"), "--no-config", "--store", store, "--region", "south",
            "--year", "2022", "--months", "1-9"] + list(args)
    if out:
        argv += ["--output", out]
    r = run(argv)
    if r.returncode != 0:
        fail("kc-report %s exited %d: %s" % (" ".join(args), r.returncode, r.stderr.decode()))
    return r


# ---- 1. xlsx -----------------------------------------------------------------------------------

def xlsx_figures(path, tag):
    """Check the workbook; returns {sheet: [[values...]]} for comparing with another."""
    import openpyxl
    wb = openpyxl.load_workbook(path)
    names = wb.sheetnames
    check(tag + ": three sheets", len(names) == 3, repr(names))
    if len(names) != 3:
        return None
    summ, prov, mat = (wb[n] for n in names)
    rows = [list(r) for r in summ.iter_rows(values_only=True)]
    # the header block: the query, the log size, the signed head
    block = {str(r[0]): str(r[1]) for r in rows[:10] if r and r[0] and len(r) > 1 and r[1]}
    text = " ".join("%s=%s" % kv for kv in block.items())
    check(tag + ": header block has the query", "year 2022, months 1-9" in text or
          "năm 2022, tháng 1-9" in text, text)
    m = re.search(r"(?:Log size read|Nhật ký đọc tại)=(\d+)", text)
    check(tag + ": header block has the log size", m is not None and int(m.group(1)) > 0, text)
    check(tag + ": header block has the signed head",
          re.search(r"(root|gốc) [0-9a-f]{64}", text) is not None, text)
    # the header row: where "Item"/"Nội dung" is in column A
    hr = next((i for i, r in enumerate(rows) if r[0] in ("Item", "Nội dung")), None)
    check(tag + ": summary header row", hr is not None)
    if hr is None:
        return None
    check(tag + ": summary header frozen", summ.freeze_panes == "C%d" % (hr + 2),
          repr(summ.freeze_panes))
    col21, col22 = {}, {}
    cell_types_ok = True
    for i, r in enumerate(rows[hr + 1:], start=hr + 2):
        item = str(r[0] or "")
        code = item.split(" ")[0]
        metric = str(r[1] or "")
        for col, dst, idx in (("C", col21, 2), ("D", col22, 3)):
            v = r[idx]
            if v is None:
                continue
            c = summ["%s%d" % (col, i)]
            if metric != "%":
                if type(v) is not int or c.data_type != "n":
                    cell_types_ok = False
                    fail("%s: %s%d %r is %s, not an int cell" % (tag, col, i, v, type(v).__name__))
                elif c.number_format != "#,##0":
                    cell_types_ok = False
                    fail("%s: %s%d format %r" % (tag, col, i, c.number_format))
            dst.setdefault((code, metric), []).append(v)
    check(tag + ": summary figures are int cells with #,##0", cell_types_ok)
    # percentages: ratios shown as 0.0% (38.4 of 102.2 billion: 37.57%)
    pct = next((summ["D%d" % i] for i, r in enumerate(rows[hr + 1:], start=hr + 2)
                if str(r[1]) == "%" and r[3] is not None), None)
    check(tag + ": % of plan is the ratio with format 0.0%",
          pct is not None and pct.number_format == "0.0%" and
          abs(pct.value - SPEND_9M2022 / PLAN_2022) < 0.00005,
          repr(None if pct is None else (pct.value, pct.number_format)))
    all21 = {v for vs in col21.values() for v in vs if type(v) is int}
    all22 = {v for vs in col22.values() for v in vs if type(v) is int}
    for want, have, label in ((REF_2021, all21, "2021"), (REF_2022, all22, "9 months 2022")):
        missing = sorted({v for v in want.values()} - have)
        check(tag + ": every reference figure of %s" % label, not missing, "missing %r" % missing)
    for v, have, label in ((SPEND_2021, all21, "spending 2021"), (PLAN_2021, all21, "plan 2021"),
                           (SPEND_9M2022, all22, "spending 9m 2022"),
                           (PLAN_2022, all22, "plan 2022"), (SPEND_9M2021, all22, "9m 2021")):
        check(tag + ": " + label, v in have, "%d not in %r" % (v, sorted(have)))
    # provinces: 20 rows and a totals row adding up
    prow = [list(r) for r in prov.iter_rows(values_only=True)]
    ph = next((i for i, r in enumerate(prow) if r[0] in ("Code", "Mã")), None)
    check(tag + ": provinces header row", ph is not None)
    if ph is None:
        return None
    body = [r for r in prow[ph + 1:] if r[0]]
    total = next((r for r in prow[ph + 1:] if not r[0] and r[1]), None)
    check(tag + ": 20 provinces", len(body) == 20, "%d rows" % len(body))
    check(tag + ": provinces total row", total is not None and total[5] == SPEND_9M2022 and
          total[6] == PLAN_2022 and type(total[5]) is int,
          repr(total))
    if total and all(type(v) is int for r in body + [total] for v in r[2:6]):
        check(tag + ": KCQG + KCĐP + other = spending, per row and in total",
              all(r[2] + r[3] + r[4] == r[5] for r in body + [total]))
        check(tag + ": reports are counts", all(type(r[8]) is int and r[8] > 0 for r in body))
        check(tag + ": provinces sum to the total",
              sum(r[5] for r in body) == total[5] and sum(r[8] for r in body) == total[8])
    check(tag + ": provinces header frozen", prov.freeze_panes == "C%d" % (ph + 2),
          repr(prov.freeze_panes))
    names_seen = {r[1] for r in body}
    check(tag + ": Vietnamese province names", {"Hồ Chí Minh", "Bà Rịa - Vũng Tàu"} <= names_seen,
          repr(sorted(names_seen)))
    mrow = [list(r) for r in mat.iter_rows(values_only=True)]
    mh = next((i for i, r in enumerate(mrow) if r[0] in ("Code", "Mã")), None)
    mtotal = next((r for r in mrow[(mh or 0) + 1:] if not r[0] and r[1]), None)
    check(tag + ": province x activity total", mtotal is not None and mtotal[-1] == SPEND_9M2022
          and sum(mtotal[2:-1]) == SPEND_9M2022, repr(mtotal))
    return {"summary": rows[hr:], "provinces": prow[ph:], "activities": mrow[mh or 0:]}


def libreoffice(path, work):
    soffice = shutil.which("soffice")
    if not soffice:
        print("SKIP: soffice not installed: the LibreOffice check of the xlsx is skipped")
        return
    prof = "file://" + os.path.join(work, "lo-profile")
    outdir = os.path.join(work, "lo")
    try:
        r = run([soffice, "-env:UserInstallation=" + prof, "--headless", "--convert-to", "csv",
                 "--outdir", outdir, path], timeout=180)
    except subprocess.TimeoutExpired:
        fail("soffice --convert-to csv: no answer in 180 s")
        return
    out = os.path.join(outdir, os.path.splitext(os.path.basename(path))[0] + ".csv")
    if r.returncode != 0 or not os.path.exists(out):
        fail("soffice --convert-to csv exited %d: %s" % (r.returncode, r.stderr.decode()))
        return
    text = open(out, encoding="utf-8", errors="replace").read()
    nums = {int(re.sub(r"[.,\s]", "", x)) for row in csv.reader(io.StringIO(text)) for x in row
            if re.fullmatch(r"-?[0-9][0-9.,]*", x.strip() or "x") and "." not in x.strip()[-2:]}
    missing = [v for v in ALL_FIGURES if v not in nums]
    check("LibreOffice opens the xlsx (its first sheet as CSV) with the figures", not missing,
          "missing %r" % missing)


# ---- 2. pdf ------------------------------------------------------------------------------------

def numbers_in(text):
    """Every integer in a text written with . or , between thousands."""
    return {int(re.sub(r"[.,]", "", m)) for m in re.findall(r"\d{1,3}(?:[.,]\d{3})+|\d+", text)}


def pdf_checks(path, lang):
    r = run(["pdftotext", "-layout", path, "-"])
    check("pdftotext reads the %s PDF" % lang, r.returncode == 0, r.stderr.decode())
    text = r.stdout.decode("utf-8", "replace")
    nums = numbers_in(text)
    missing = [v for v in ALL_FIGURES if v not in nums]
    check("PDF (%s) holds every reference figure" % lang, not missing, "missing %r" % missing)
    r = run(["pdfinfo", path])
    m = re.search(r"^Pages:\s+(\d+)", r.stdout.decode(), re.M)
    pages = int(m.group(1)) if m else 0
    check("PDF (%s) has pages" % lang, pages > 0, r.stdout.decode())
    if lang == "vi":
        for s in VI_TEXT:
            check("PDF text holds '%s'" % s, s in text)
        check("PDF pages numbered Trang N/M",
              all("Trang %d/%d" % (i, pages) in text for i in range(1, pages + 1)))
        check("PDF paper is A4", re.search(r"Page size:\s+841.89 x 595.2", r.stdout.decode())
              is not None, r.stdout.decode())
    else:
        check("PDF pages numbered Page N of M",
              all("Page %d of %d" % (i, pages) in text for i in range(1, pages + 1)))
    r = run(["pdffonts", path])
    lines = r.stdout.decode().splitlines()[2:]
    check("pdffonts lists fonts", r.returncode == 0 and len(lines) > 0, r.stdout.decode())
    not_emb = [ln for ln in lines if len(ln.split()) >= 5 and ln.split()[-5] != "yes"]
    check("every PDF font embedded", not not_emb, "\n".join(not_emb))
    check("PDF font is DejaVu Sans", all("DejaVuSans" in ln for ln in lines), "\n".join(lines))


# ---- 3. csv / 4. html --------------------------------------------------------------------------

def csv_checks(store, work):
    path = os.path.join(work, "r.csv")
    report(store, "--format", "csv", "--lang", "vi", out=path)
    raw = open(path, "rb").read()
    check("CSV starts with the UTF-8 BOM", raw.startswith(b"\xef\xbb\xbf"))
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    cells = [c for r in rows for c in r]
    check("CSV has Vietnamese headers", {"Nội dung", "Chỉ tiêu", "Tỉnh, thành", "Tổng kinh phí",
                                         "Số báo cáo"} <= set(cells))
    nums = {int(c) for c in cells if re.fullmatch(r"\d+", c)}
    missing = [v for v in ALL_FIGURES if v not in nums]
    check("CSV holds every reference figure as a plain integer", not missing, "missing %r" % missing)
    check("CSV: no totals row without --total", "Tổng cộng" not in cells)
    check("CSV: Vietnamese names", {"Hồ Chí Minh", "Bà Rịa - Vũng Tàu"} <= set(cells))
    nb = os.path.join(work, "nobom.csv")
    report(store, "--format", "csv", "--no-bom", "--table", "provinces", "--total", "--lang", "en",
           out=nb)
    raw = open(nb, "rb").read()
    check("CSV --no-bom has no BOM", not raw.startswith(b"\xef\xbb\xbf") and raw.startswith(b"Code,"),
          repr(raw[:20]))
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
    tot = [r for r in rows if r[1] == "Total"]
    check("CSV --table provinces --total: one table with a totals row",
          len(tot) == 1 and tot[0][5] == str(SPEND_9M2022) and len(rows) == 22, repr(rows[-1]))


class _Tables(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.cells, self.title, self._in, self._buf = [], "", None, ""

    def handle_starttag(self, tag, attrs):
        if tag in ("td", "th", "title"):
            self._in, self._buf = tag, ""

    def handle_endtag(self, tag):
        if tag == self._in:
            if tag == "title":
                self.title = self._buf
            else:
                self.cells.append(self._buf)
            self._in = None

    def handle_data(self, data):
        if self._in:
            self._buf += data


def html_checks(store, work):
    path = os.path.join(work, "r.html")
    report(store, "--format", "html", "--lang", "vi", out=path)
    p = _Tables()
    p.feed(open(path, encoding="utf-8").read())
    p.close()
    check("HTML title", p.title.startswith("KẾT QUẢ HOẠT ĐỘNG KHUYẾN CÔNG"), p.title)
    nums = numbers_in(" ".join(p.cells))
    missing = [v for v in ALL_FIGURES if v not in nums]
    check("HTML tables hold every reference figure", not missing, "missing %r" % missing)
    check("HTML Vietnamese names and totals", {"Hồ Chí Minh", "Tổng cộng"} <= set(p.cells))


# ---- 5. the command line -----------------------------------------------------------------------

def cli_checks(store, work):
    out = os.path.join(work, "o.pdf")
    r = report(store, "--format", "pdf", out=out)
    left = [f for f in os.listdir(work) if f.endswith(".tmp")]
    check("--output leaves no .tmp", r.returncode == 0 and not left and
          open(out, "rb").read(5) == b"%PDF-", repr(left))
    r = run([os.path.join(BIN, "kc-report"), "--no-config", "--store", store, "--region", "south",
             "--year", "2022", "--format", "docx"])
    check("--format docx: exit 64", r.returncode == 64, r.stderr.decode())
    r = run([os.path.join(BIN, "kc-report"), "--no-config", "--store", store, "--region", "south",
             "--year", "2022"], env=dict(os.environ, LC_ALL="", LC_MESSAGES="", LANG="vi_VN.UTF-8"))
    check("Vietnamese by default under a vi locale", r.returncode == 0 and
          "KẾT QUẢ HOẠT ĐỘNG KHUYẾN CÔNG" in r.stdout.decode(), r.stdout.decode()[:200])
    r = run([os.path.join(BIN, "kc-report"), "--no-config", "--store", store, "--region", "south",
             "--year", "2022"], env=dict(os.environ, LC_ALL="C", LANG="vi_VN.UTF-8"))
    check("English under LC_ALL=C", r.returncode == 0 and
          "KHUYEN CONG (INDUSTRIAL PROMOTION) RESULTS" in r.stdout.decode())
    script = shutil.which("script")
    if script:
        cmd = "%s --no-config --store %s --region south --year 2022 --format xlsx" % (
            os.path.join(BIN, "kc-report"), store)
        r = run([script, "-qec", cmd, "/dev/null"])
        out = r.stdout.decode("utf-8", "replace")
        check("xlsx refused on a terminal without --output", r.returncode == 64 and
              "--output" in out, "exit %d: %s" % (r.returncode, out[:300]))
    else:
        print("SKIP: script(1) absent: the terminal refusal is not checked")


# ---- 6. HTTP -----------------------------------------------------------------------------------

def http(base, query, method="GET"):
    req = urllib.request.Request(base + "/v1/report" + query, method=method)
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            return resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def http_checks(agg, work, cli_sheets):
    q = "?region=south&year=2022&months=1-9&lang=vi"
    mimes = {"xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
             "pdf": "application/pdf", "csv": "text/csv; charset=utf-8",
             "html": "text/html; charset=utf-8", "text": "text/plain; charset=utf-8"}
    exts = {"xlsx": "xlsx", "pdf": "pdf", "csv": "csv", "html": "html", "text": "txt"}
    for fmt, mime in mimes.items():
        st, hd, body = http(agg.http, q + "&format=" + fmt)
        disp = 'attachment; filename="kcpipe-report-south-2022-1-9.%s"' % exts[fmt]
        check("GET /v1/report format=%s: 200, type, disposition" % fmt,
              st == 200 and hd.get("Content-Type") == mime and hd.get("Content-Disposition") == disp,
              "%s %r" % (st, hd))
        check("GET /v1/report format=%s names no store path" % fmt,
              agg.store.encode() not in body and b"var/kcpipe" not in body)
        if fmt == "xlsx":
            path = os.path.join(work, "http.xlsx")
            open(path, "wb").write(body)
            sheets = xlsx_figures(path, "HTTP xlsx")
            same = sheets is not None and cli_sheets is not None and all(
                sheets[k] == cli_sheets[k] for k in ("summary", "provinces", "activities"))
            check("HTTP xlsx: every table identical to kc-report's", same)
        if fmt == "pdf":
            path = os.path.join(work, "http.pdf")
            open(path, "wb").write(body)
            pdf_checks(path, "vi")
        if fmt == "csv":
            check("HTTP csv starts with the BOM", body.startswith(b"\xef\xbb\xbf"))
    st, hd, body = http(agg.http, q + "&format=csv&bom=0&table=summary")
    check("HTTP csv bom=0 table=summary", st == 200 and body.startswith("Nội dung".encode()),
          repr(body[:40]))
    st, hd, body = http(agg.http, q + "&format=pdf", method="HEAD")
    check("HEAD /v1/report: 200, the headers, no body",
          st == 200 and hd.get("Content-Type") == "application/pdf" and body == b"", repr(hd))
    for bad in ("?year=2022", "?region=south", "?region=mars&year=2022",
                "?region=south&year=2022&format=docx", "?region=south&year=2022&months=9-1",
                "?region=south&year=2022&lang=fr", "?region=south&year=2022&units=12",
                "?region=south&year=2022&table=x", "?region=south&year=2022&bom=2",
                "?region=south&year=2022&colour=red", "?region=south&region=north&year=2022"):
        st, hd, body = http(agg.http, bad)
        try:
            doc = json.loads(body)
        except ValueError:
            doc = {}
        check("GET /v1/report%s: 400 JSON error" % bad,
              st == 400 and hd.get("Content-Type") == "application/json" and "error" in doc,
              "%s %r" % (st, body[:200]))


def main():
    if not BIN:
        print(__doc__, file=sys.stderr)
        return 64
    csvs = sorted(glob.glob(os.path.join(SRC, "data", "demo", "*.csv")))
    rows = {demo.code_of(f): demo.csv_rows(f) for f in csvs}
    work = tempfile.mkdtemp(prefix="report_test.")
    agg = None
    try:
        os.makedirs(os.path.join(work, "send"))
        agg = Aggregator(work)
        sent = demo.send_all(BIN, agg, csvs, work, "send", rows)
        check("the 20 demo CSVs accepted", not demo.failures and sent == sum(rows.values()),
              "%d of %d rows" % (sent, sum(rows.values())))
        store = agg.store
        x = os.path.join(work, "r.xlsx")
        report(store, "--format", "xlsx", "--lang", "vi", out=x)
        cli_sheets = xlsx_figures(x, "kc-report xlsx")
        libreoffice(x, work)
        for lang in ("vi", "en"):
            p = os.path.join(work, "r-%s.pdf" % lang)
            report(store, "--format", "pdf", "--lang", lang, out=p)
            pdf_checks(p, lang)
        csv_checks(store, work)
        html_checks(store, work)
        cli_checks(store, work)
        http_checks(agg, work, cli_sheets)
    finally:
        if agg:
            agg.stop()
        if os.environ.get("KC_REPORT_TEST_KEEP"):
            print("kept " + work)
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
