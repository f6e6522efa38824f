#!/usr/bin/python3
"""demo_xlsx_test.py BIN_DIR SOURCE_DIR - the demo's report from its xlsx version (issue 15).

data/demo/xlsx holds the 20 southern provinces' demo rows as a provincial office keeps them:
workbooks written by openpyxl (scripts/gen-demo-data), with Vietnamese headers, provinces by
name, activities by Vietnamese label, kind and fund as Vietnamese words and numbers shown with
thousands separators. The seed report's regional figures must arrive from them exactly as from
the CSV version:
  1. scripts/gen-demo-data --check: the committed CSV and xlsx files are the generator's (the
     xlsx compared by what openpyxl reads back);
  2. kc-send --check exits 0 on every workbook, every row valid, as many rows as its CSV;
  3. two kc-aggregators on 127.0.0.1 (ready files, stopped by pid with SIGTERM, exit 0) receive
     the 20 CSV files and the 20 workbooks, one kc-send producer per province each, every row
     accepted;
  4. kc-query's JSON (all but the store's path) is identical from both stores for region south,
     2021 and 2022, all months and 1-9, no grouping, --by province and --by activity, kinds
     actual and plan;
  5. the regional figures of data/demo/README.md's table come out of the xlsx store, whole dong.
KC_DEMO_XLSX_DIR (default SOURCE_DIR/data/demo/xlsx) sends other workbooks: a copy with one
cell changed must fail this test (step 4 or 5), which is how the test itself is checked.
"""
import csv
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SEND_TIMEOUT = 120  # seconds for one kc-send (ASan build, loaded machine)
PARALLEL = 4  # kc-send processes at once (2 cores)

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def run(argv, timeout=120):
    return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=timeout)


def csv_rows(path):
    with open(path, encoding="utf-8", newline="") as f:
        return sum(1 for _ in csv.reader(f)) - 1


def code_of(path):
    return os.path.basename(path).split("-", 1)[0]


class Aggregator:
    def __init__(self, bindir, work, name):
        self.store = os.path.join(work, name, "store")
        self.ready = os.path.join(work, name, "ready")
        self.err = os.path.join(work, name, "aggregator.err")
        os.makedirs(os.path.dirname(self.store))
        self.errf = open(self.err, "w")
        self.proc = subprocess.Popen(
            [os.path.join(bindir, "kc-aggregator"), "--listen", "tcp://127.0.0.1:*", "--store",
             self.store, "--ready-file", self.ready, "--log-level", "warn"],
            stdout=subprocess.DEVNULL, stderr=self.errf)
        deadline = time.monotonic() + 30
        self.endpoint = None
        while time.monotonic() < deadline:  # ready file: the bound endpoint on its first line
            if self.proc.poll() is not None:
                raise SystemExit("kc-aggregator (%s) exited %s before it was ready:\n%s"
                                 % (name, self.proc.returncode, open(self.err).read()))
            if os.path.exists(self.ready):
                line = open(self.ready).readline().strip()
                if line.startswith("tcp://"):
                    self.endpoint = line
                    break
            time.sleep(0.02)  # a poll step inside the deadline, not synchronisation
        if not self.endpoint:
            self.kill()
            raise SystemExit("kc-aggregator (%s) not ready after 30 s" % name)

    def term(self):
        """SIGTERM by pid: it must commit and exit 0."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()
            rc = "timeout"
        self.errf.close()
        if rc != 0:
            fail("kc-aggregator %s exited %s on SIGTERM:\n%s" % (self.store, rc,
                                                                 open(self.err).read()))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def send_all(bindir, agg, files, work, tag, expect_rows):
    """One kc-send producer per province file, PARALLEL at a time; every row accepted."""
    pending = list(files)
    running = []
    total = 0
    while pending or running:
        while pending and len(running) < PARALLEL:
            f = pending.pop(0)
            code = code_of(f)
            out = os.path.join(work, tag, "send-%s.out" % code)
            p = subprocess.Popen(
                [os.path.join(bindir, "kc-send"), "--connect", agg.endpoint, "--producer",
                 "office-" + code, "--spool", os.path.join(work, tag, "spool-" + code),
                 "--timeout", str(SEND_TIMEOUT), "--quiet", f],
                stdout=open(out, "w"), stderr=subprocess.STDOUT)
            running.append((p, f, out, time.monotonic() + SEND_TIMEOUT + 30))
        p, f, out, deadline = running.pop(0)
        try:
            rc = p.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            rc = "timeout"
        text = open(out, encoding="utf-8").read()
        last = text.strip().splitlines()[-1] if text.strip() else ""
        fields = dict(kv.split("=", 1) for kv in last.split()[1:] if "=" in kv)
        want = expect_rows[code_of(f)]
        if (rc != 0 or not last.startswith("summary:") or fields.get("rows") != str(want)
                or fields.get("accepted") != str(want)):
            fail("kc-send %s exited %s, expected rows=accepted=%d:\n%s" % (f, rc, want, text))
        else:
            total += want
    return total


def query(bindir, store, *args):
    r = run([os.path.join(bindir, "kc-query"), "--store", store, "--region", "south",
             "--format", "json"] + list(args))
    if r.returncode != 0:
        fail("kc-query %s exited %d: %s" % (" ".join(args), r.returncode, r.stderr))
        return None
    doc = json.loads(r.stdout)
    doc.pop("store", None)  # the only field that names the store
    return doc


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 64
    bindir, src = sys.argv[1], sys.argv[2]
    xlsx_dir = os.environ.get("KC_DEMO_XLSX_DIR", os.path.join(src, "data", "demo", "xlsx"))
    csvs = sorted(glob.glob(os.path.join(src, "data", "demo", "*.csv")))
    books = sorted(glob.glob(os.path.join(xlsx_dir, "*.xlsx")))
    if len(csvs) != 20 or len(books) != 20:
        print("expected 20 CSV and 20 xlsx files, found %d and %d" % (len(csvs), len(books)),
              file=sys.stderr)
        return 1
    if [code_of(f) for f in csvs] != [code_of(f) for f in books]:
        print("the CSV and xlsx files are not of the same provinces", file=sys.stderr)
        return 1
    rows = {code_of(f): csv_rows(f) for f in csvs}

    # 1. the committed files are the generator's
    r = run(["/usr/bin/python3", os.path.join(src, "scripts", "gen-demo-data"), "--check"])
    if r.returncode != 0:
        fail("scripts/gen-demo-data --check exited %d:\n%s" % (r.returncode, r.stderr))

    # 2. every workbook valid offline
    for f in books:
        r = run([os.path.join(bindir, "kc-send"), "--check", "--lang", "en", f])
        want = "%s: %d rows, all valid" % (f, rows[code_of(f)])
        if r.returncode != 0 or r.stdout.strip().splitlines()[-1:] != [want]:
            fail("kc-send --check %s exited %d, expected '%s':\n%s%s"
                 % (f, r.returncode, want, r.stdout, r.stderr))

    # 3. the two versions into two stores
    work = tempfile.mkdtemp(prefix="demo_xlsx_test.")
    aggs = []
    try:
        for name in ("csv", "xlsx"):
            aggs.append(Aggregator(bindir, work, name))
        sent_csv = send_all(bindir, aggs[0], csvs, work, "csv", rows)
        sent_xlsx = send_all(bindir, aggs[1], books, work, "xlsx", rows)
        for a in aggs:
            a.term()
        print("sent %d CSV rows and %d xlsx rows" % (sent_csv, sent_xlsx))
        if sent_csv != sent_xlsx or sent_csv != sum(rows.values()):
            fail("rows accepted: CSV %d, xlsx %d, files %d" % (sent_csv, sent_xlsx,
                                                               sum(rows.values())))

        # 4. identical totals
        store_csv, store_xlsx = aggs[0].store, aggs[1].store
        compared = 0
        for year, months in ((2021, None), (2021, "1-9"), (2022, None), (2022, "1-9")):
            for kind in ("actual", "plan"):
                for by in (None, "province", "activity"):
                    args = ["--year", str(year), "--kind", kind]
                    args += ["--months", months] if months else []
                    args += ["--by", by] if by else []
                    a, b = query(bindir, store_csv, *args), query(bindir, store_xlsx, *args)
                    compared += 1
                    if a is None or b is None:
                        continue
                    if a != b:
                        ra = [r for r in a.get("rows", []) if r not in b.get("rows", [])]
                        rb = [r for r in b.get("rows", []) if r not in a.get("rows", [])]
                        if a["totals"] != b["totals"] or not (ra or rb):
                            ra, rb = [a["totals"], a["events"]], [b["totals"], b["events"]]
                        fail("kc-query %s: the xlsx store differs from the CSV store:\n"
                             "CSV:  %s\nxlsx: %s" % (" ".join(args), json.dumps(ra),
                                                    json.dumps(rb)))
                    elif not a["events"]:
                        fail("kc-query %s: no events" % " ".join(args))
        print("%d kc-query JSON documents compared" % compared)

        # 5. the report's regional figures (data/demo/README.md), from the xlsx store
        def tot(*args):
            d = query(bindir, store_xlsx, *args)
            return d["totals"] if d else {}

        def act(year, *args):
            d = query(bindir, store_xlsx, "--year", str(year), "--by", "activity", *args)
            return {r["label"]: r["totals"] for r in d["rows"]} if d else {}

        a21, a22 = act(2021), act(2022, "--months", "1-9")
        figures = [
            ("spending 2021", tot("--year", "2021").get("amount_vnd"), 50_300_000_000),
            ("spending 2021 Jan-Sep", tot("--year", "2021", "--months", "1-9").get("amount_vnd"),
             19_900_000_000),
            ("spending 2022 Jan-Sep", tot("--year", "2022", "--months", "1-9").get("amount_vnd"),
             38_400_000_000),
            ("plan 2021", tot("--year", "2021", "--kind", "plan").get("amount_vnd"),
             63_200_000_000),
            ("plan 2022", tot("--year", "2022", "--kind", "plan").get("amount_vnd"),
             102_200_000_000),
            ("2021 demonstration models", a21["demonstration_model"]["facilities"], 61),
            ("2021 machinery", a21["machinery"]["facilities"], 107),
            ("2021 product_selection products", a21["product_selection"]["products"], 245),
            ("2021 vocational_training persons_employed",
             a21["vocational_training"]["persons_employed"], 87),
            ("2021 TV revenue", a21["industrial_consulting"]["revenue_vnd"], 13_980_000_000),
            ("2022 machinery", a22["machinery"]["facilities"], 114),
            ("2022 trade_fair facility_turns", a22["trade_fair"]["facility_turns"], 274),
            ("2022 workshops delegates", a22["capacity_building"]["delegates"], 330),
            ("2022 TV projects", a22["industrial_consulting"]["projects"], 293),
            ("2022 TV revenue", a22["industrial_consulting"]["revenue_vnd"], 4_850_000_000),
        ]
        for name, got, want in figures:
            if got != want:
                fail("%s: %s, the report says %d" % (name, got, want))
        # TV revenue against the yearly plan: only Long An, Ba Ria - Vung Tau, Kien Giang and
        # Bac Lieu beat theirs, in 2021 and in January-September 2022
        for year, months in ((2021, "1-12"), (2022, "1-9")):
            def rev(kind, m):
                d = query(bindir, store_xlsx, "--year", str(year), "--months", m, "--kind", kind,
                          "--activity", "industrial_consulting", "--by", "province")
                return {r["key"]: r["totals"]["revenue_vnd"] for r in d["rows"]} if d else {}
            actual, plan = rev("actual", months), rev("plan", "1-12")
            beat = sorted(p for p in actual if actual[p] > plan.get(p, 0))
            if beat != ["77", "80", "91", "95"]:
                fail("%d: TV revenue beat the plan in %s, the report says 77 80 91 95"
                     % (year, beat))
        print("%d regional figures and the TV plan checked" % (len(figures) + 2))
    finally:
        for a in aggs:
            a.kill()
        if failures:
            print("work dir kept: " + work, file=sys.stderr)
        else:
            shutil.rmtree(work)
    if failures:
        print("demo_xlsx_test: %d failures" % len(failures), file=sys.stderr)
        return 1
    print("demo_xlsx_test: passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
