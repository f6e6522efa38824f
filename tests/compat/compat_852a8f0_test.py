#!/usr/bin/env python3
"""compat_852a8f0_test.py - a store written by 852a8f0 stays readable after upgrading (issue 12).

The fixture fixtures/852a8f0-overflow/ (made by make-852a8f0-fixture.py; see its README.md) is a
store written by the released kcpipe of commit 852a8f0 holding what that release accepted but
could not show afterwards: the overflow pair (province 79 amount_vnd 2^63-1, province 01 5, year
2024), province 79's year above 2^64, a national plan above int64, an event_id, a note and a
producer id that are not UTF-8. This test restores it with mdb_load into a temp dir, upgrades it
the documented way (`kc-admin migrate`, which does nothing to a store of the current format) and
checks with the programs of this build ($KC_BIN_DIR) that every view answers, exactly:

  kc-query --year 2024, --province 79, --by province, --plan, --as-of-offset (table, csv, json);
  kc-report; kc-audit history (table, json), prove + check-proof, verify; kc-log export and
  kc-audit verify --file; kc-replay verify;
  kc-admin stat; then a kc-aggregator on the restored store: /v1/totals (= kc-query json),
  /v1/producers, /metrics through promtool, and new events from kc-send are accepted and
  counted, after which the views, kc-audit verify and kc-replay verify still agree.

Expected figures are computed here from the fixture's manifest events.tsv (every event in the
log, all accepted) with Python's exact integers; text that is not UTF-8 must come out in the
display form of common/kc_text.h (each bad byte as \\xNN, upper-case hex). Every output must be
well-formed UTF-8; JSON is parsed with exact integers. Each check is reported by name (ok/FAIL)
and the test goes on after a failure, so one run lists every view that does not answer.

Environment (set by tests/compat/CMakeLists.txt): KC_BIN_DIR, KC_FIXTURE (the fixture dir),
KC_MDB_LOAD (mdb_load of lmdb-utils), KC_PROMTOOL (promtool; empty = not found: that check
fails). Exit 0 when every check passed; the temp dir is kept (and named) when one failed.
"""

import codecs
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
from fractions import Fraction

BIN = os.environ.get("KC_BIN_DIR", "")
FIXTURE = os.environ.get("KC_FIXTURE", "")
MDB_LOAD = os.environ.get("KC_MDB_LOAD") or "mdb_load"
PROMTOOL = os.environ.get("KC_PROMTOOL", "")

METRICS = ["amount_vnd", "revenue_vnd", "persons", "persons_employed", "facilities",
           "facility_turns", "products", "events", "delegates", "projects"]
LABEL_EN = {"amount_vnd": "spending", "revenue_vnd": "revenue", "persons": "persons trained",
            "persons_employed": "persons employed afterwards", "facilities": "facilities",
            "facility_turns": "facility-turns", "products": "products", "events": "events",
            "delegates": "delegates", "projects": "projects"}
MONEY = {"amount_vnd", "revenue_vnd"}
REGION = {"79": "south", "01": "north"}
CMD_MS = 60  # seconds: bound on any one program run

s_failed = []
s_passed = 0


def check(name, ok, detail=""):
    """Record one named check."""
    global s_passed
    if ok:
        s_passed += 1
        print("ok   %s" % name)
    else:
        s_failed.append(name)
        print("FAIL %s%s" % (name, (": " + detail) if detail else ""))
    return ok


# ---- the manifest and the expected figures ----------------------------------------------------
def unescape(t):
    """events.tsv text -> bytes (\\xNN escapes)."""
    return re.sub(rb"\\x([0-9a-fA-F]{2})", lambda m: bytes([int(m.group(1), 16)]), t.encode())


def load_events(path):
    evs = []
    with open(path, encoding="ascii") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            c = line.rstrip("\n").split("\t")
            m = {k: 0 for k in METRICS}
            for kv in c[8].split(","):
                k, v = kv.split("=")
                m[k] = int(v)
            evs.append({"producer": unescape(c[0]), "event_id": unescape(c[1]), "province": c[2],
                        "year": int(c[3]), "month": int(c[4]), "activity": c[5], "kind": c[6],
                        "fund": c[7], "metrics": m, "note": unescape(c[9])})
    return evs


def sums(evs, **sel):
    """{metric: exact sum, 'events': count} of the events matching sel (field: value or set)."""
    t = {k: 0 for k in METRICS}
    n = 0
    for e in evs:
        if all((e[k] in v) if isinstance(v, (set, frozenset)) else e[k] == v
               for k, v in sel.items()):
            n += 1
            for k in METRICS:
                t[k] += e["metrics"][k]
    t["records"] = n
    return t


def s_show_err(e):
    return ("".join("\\x%02X" % c for c in e.object[e.start:e.end]), e.end)


codecs.register_error("kc_show", s_show_err)


def show(b):
    """The display form of common/kc_text.h (kc_text_show) of bytes b."""
    out = []
    for ch in b.decode("utf-8", errors="kc_show"):
        o = ord(ch)
        if o < 0x20 or o == 0x7F or 0x80 <= o <= 0x9F:
            out.append("".join("\\x%02X" % c for c in ch.encode()))
        else:
            out.append(ch)
    return "".join(out)


# ---- running programs -------------------------------------------------------------------------
def run(prog, *args, timeout=CMD_MS):
    """(exit code, stdout bytes, stderr text) of $KC_BIN_DIR/prog args."""
    cmd = [os.path.join(BIN, prog)] + list(args)
    try:
        # English whatever the locale (the default of kc-log/kc-audit/kc-admin --lang follows it)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                           env=dict(os.environ, LC_ALL="C.UTF-8"))
    except subprocess.TimeoutExpired:
        return -1, b"", "timed out after %d s" % timeout
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace").strip()


def utf8(out):
    """stdout as text if it is well-formed UTF-8, else None."""
    try:
        return out.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        return None


def view(name, prog, *args):
    """Run a view; check exit 0 and UTF-8 output. Returns the text or None."""
    rc, out, err = run(prog, *args)
    if not check(name + ": exit 0", rc == 0, "exit %d: %s" % (rc, err[-300:])):
        return None
    text = utf8(out)
    check(name + ": output is UTF-8", text is not None)
    return text


def parse_json(name, text):
    """JSON text -> value (ints exact), or None after a failed check. Every string in it must
    be Unicode text (json.loads takes an escaped lone surrogate such as \\udcff; UTF-8 cannot
    encode it)."""
    try:
        js = json.loads(text)  # Python's ints are exact: no precision is lost
    except ValueError as e:
        check(name + ": valid JSON", False, str(e))
        return None
    bad = []

    def walk(v):
        if isinstance(v, dict):
            for k, x in v.items():
                walk(k)
                walk(x)
        elif isinstance(v, list):
            for x in v:
                walk(x)
        elif isinstance(v, str):
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                bad.append(v)
    walk(js)
    return js if check(name + ": JSON strings are Unicode", not bad, repr(bad[:3])) else None


def view_json(name, prog, *args):
    text = view(name, prog, *args)
    return None if text is None else parse_json(name, text)


# ---- table parsing (figures formatted for people: checked within their rounding) --------------
UNITS = {"VND": 1, "million VND": 10**6, "billion VND": 10**9, "trillion VND": 10**12}


def parse_figure(cell):
    """A table cell -> (exact value as Fraction, half of its last shown digit) or None."""
    cell = cell.strip()
    if cell in ("—", "-"):
        return Fraction(0), Fraction(0)
    m = re.fullmatch(r"(-?[0-9,]+)(?:\.([0-9]+))?(?: (VND|million VND|billion VND|trillion VND))?",
                     cell)
    if not m:
        return None
    mult = UNITS[m.group(3)] if m.group(3) else 1
    dec = m.group(2) or ""
    v = Fraction(int(m.group(1).replace(",", "") + dec) * mult, 10**len(dec))
    return v, Fraction(mult, 2 * 10**len(dec))


def near(cell, exact):
    """Whether a table cell shows exact (within half its last digit)."""
    f = parse_figure(cell)
    return f is not None and abs(f[0] - exact) <= f[1]


def table_rows(text):
    """Rows below the table's rule line, split on runs of 2+ spaces."""
    lines = text.split("\n")
    for i, ln in enumerate(lines):
        if ln.startswith("─"):
            return [re.split(r" {2,}", r.strip()) for r in lines[i + 1:] if r.strip()]
    return []


def check_query(name, args, exp, plan=None):
    """kc-query ARGS in table, csv and json against exp (and the plan figures)."""
    js = view_json(name + " json", "kc-query", *args, "--format", "json")
    if js is not None:
        got = js.get("totals", {})
        bad = [k for k in METRICS if got.get(k) != exp[k]]
        check(name + " json: totals exact", not bad and js.get("events") == exp["records"],
              "; ".join("%s %r != %r" % (k, got.get(k), exp[k]) for k in bad) +
              " events %r/%r" % (js.get("events"), exp["records"]))
        if plan is not None:
            p = js.get("plan", {})
            bad = [k for k in METRICS if p.get("totals", {}).get(k) != plan[k]]
            check(name + " json: plan totals exact", not bad and p.get("events") == plan["records"],
                  "; ".join("%s %r != %r" % (k, p.get("totals", {}).get(k), plan[k])
                            for k in bad))
            pct = p.get("percent", {}).get("amount_vnd")
            want = Fraction(100 * exp["amount_vnd"], plan["amount_vnd"])
            check(name + " json: percent of plan", isinstance(pct, (int, float)) and
                  abs(Fraction(pct) - want) <= Fraction(1, 200) + Fraction(1, 10**9),
                  "%r, exact %.4f" % (pct, float(want)))
    text = view(name + " csv", "kc-query", *args, "--format", "csv")
    if text is not None:
        rows = {r[0]: r[1:] for r in (ln.split(",") for ln in text.strip().split("\n")[1:])}
        want = dict(exp)
        bad = [k for k in METRICS + ["records"] if rows.get(k, [None])[0] != str(want[k])]
        if plan is not None:  # no plan (and records, which never have one): an empty field
            bad += ["plan " + k for k in METRICS + ["records"]
                    if len(rows.get(k, [])) < 2 or rows[k][1] != (
                        str(plan[k]) if k != "records" and plan[k] else "")]
        check(name + " csv: exact", not bad, "differ: %s; got %r" % (bad, rows))
    text = view(name + " table", "kc-query", *args)
    if text is not None:
        rows = {r[0]: r[1:] for r in table_rows(text)}
        bad = []
        for k in METRICS:
            cells = rows.get(LABEL_EN[k])
            if not cells or not near(cells[0], exp[k]):
                bad.append("%s %r ~ %d" % (k, cells, exp[k]))
            elif plan is not None and (len(cells) < 2 or not (
                    near(cells[1], plan[k]) if plan[k] else cells[1] == "\u2014")):
                bad.append("plan %s %r ~ %d" % (k, cells, plan[k]))
        if rows.get("records", [None])[0] != str(exp["records"]):
            bad.append("records %r" % rows.get("records"))
        check(name + " table: figures", not bad, "; ".join(bad))


# ---- the aggregator ---------------------------------------------------------------------------
class Aggregator:
    def __init__(self, store, tmp):
        self.ready = os.path.join(tmp, "agg.ready")
        self.log = open(os.path.join(tmp, "aggregator.log"), "ab")
        self.p = subprocess.Popen([os.path.join(BIN, "kc-aggregator"), "--no-config",
                                   "--listen", "tcp://127.0.0.1:*", "--store", store,
                                   "--ready-file", self.ready, "--http", "0",
                                   "--sth-interval-ms", "0"],
                                  stdout=self.log, stderr=self.log)
        self.endpoint = self.http = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and self.p.poll() is None:
            if os.path.exists(self.ready):
                with open(self.ready) as f:
                    lines = f.read().split("\n")
                https = [ln.split(" ", 1)[1] for ln in lines if ln.startswith("http ")]
                if lines[0].startswith("tcp://") and https:
                    self.endpoint, self.http = lines[0], https[0].rstrip("/")
                    return
            time.sleep(0.02)  # a poll step inside the deadline, not a synchronisation

    def get(self, path):
        """(status, body bytes) of GET path (never through a proxy of the environment)."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(self.http + path, timeout=CMD_MS) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def stop(self):
        """SIGTERM; the exit code (or -1 after a SIGKILL at the deadline)."""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(30)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
                return -1
        return self.p.returncode


def http_json(agg, name, path):
    st, body = agg.get(path)
    if not check(name + ": 200", st == 200, "%d %r" % (st, body[:300])):
        return None
    text = utf8(body)
    if not check(name + ": UTF-8", text is not None, repr(body[:300])):
        return None
    return parse_json(name, text)


def promtool_clean(agg, name):
    st, body = agg.get("/metrics")
    if not check(name + ": 200", st == 200, "%d" % st):
        return
    if not check(name + ": promtool configured", bool(PROMTOOL),
                 "KC_PROMTOOL empty (scripts/install-deps puts it in build/deps/usr/bin)"):
        return
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=body, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, timeout=CMD_MS)
    out = p.stdout.decode("utf-8", "replace").strip()
    check(name + ": promtool check metrics clean", p.returncode == 0 and not out,
          "exit %d: %s" % (p.returncode, out[:500]))


def strip_store(js):
    if isinstance(js, dict):
        js = dict(js)
        js.pop("store", None)
    return js


def all_views(store, evs, tag):
    """Every kc-query / kc-report view of the fixture's figures (evs = the events in the log)."""
    S = ["--no-config", "--store", store]
    y = 2024
    actual = sums(evs, year=y, kind="actual")
    plan = sums(evs, year=y, kind="plan")
    check_query(tag + "kc-query --year 2024", S + ["--year", "2024"], actual)
    p79 = sums(evs, year=y, kind="actual", province="79")
    check(tag + "fixture: province 79's 2024 spending exceeds 2^64", p79["amount_vnd"] > 2**64)
    check_query(tag + "kc-query --year 2024 --province 79", S + ["--year", "2024", "--province",
                                                                 "79"], p79)
    check_query(tag + "kc-query --year 2024 --plan", S + ["--year", "2024", "--plan"], actual,
                plan)
    check_query(tag + "kc-query --year 2024 --kind plan", S + ["--year", "2024", "--kind", "plan"],
                plan)
    provs = sorted({e["province"] for e in evs if e["year"] == y and e["kind"] == "actual"})
    # --by province
    n = tag + "kc-query --year 2024 --by province"
    js = view_json(n + " json", "kc-query", *S, "--year", "2024", "--by", "province",
                   "--format", "json")
    if js is not None:
        rows = {r.get("key"): r for r in js.get("rows", [])}
        bad = [p for p in provs
               if p not in rows or any(rows[p]["totals"].get(k) != sums(
                   evs, year=y, kind="actual", province=p)[k] for k in METRICS)]
        bad += [k for k in METRICS if js.get("totals", {}).get(k) != actual[k]]
        check(n + " json: rows and total exact", not bad, "differ: %r" % bad)
    text = view(n + " csv", "kc-query", *S, "--year", "2024", "--by", "province", "--format",
                "csv")
    if text is not None:
        lines = text.strip().split("\n")
        head = lines[0].split(",")
        rows = {ln.split(",")[0]: dict(zip(head, ln.split(","))) for ln in lines[1:]}
        bad = [p for p in provs
               if p not in rows or any(rows[p].get(k) != str(sums(
                   evs, year=y, kind="actual", province=p)[k]) for k in METRICS)]
        check(n + " csv: rows exact", not bad, "differ: %r in %r" % (bad, rows))
    text = view(n + " table", "kc-query", *S, "--year", "2024", "--by", "province")
    if text is not None:
        rows = {r[0]: r for r in table_rows(text)}
        bad = [p for p in provs if p not in rows or not near(
            rows[p][2], sums(evs, year=y, kind="actual", province=p)["amount_vnd"])]
        if "total" not in rows or not near(rows["total"][1], actual["amount_vnd"]):
            bad.append("total %r" % rows.get("total"))
        check(n + " table: spending by province", not bad, "differ: %r" % bad)
    # as of the first N log entries (the checkpoints hold the overflowing totals too)
    for off in (4, 5, 11):  # checkpoints at 5, 10 and 12: from the log, one, one + the log
        check_query(tag + "kc-query --year 2024 --as-of-offset %d" % off,
                    S + ["--year", "2024", "--as-of-offset", str(off)],
                    sums(evs[:off], year=y, kind="actual"))
    # kc-report, per region and for both
    for regions in (["south"], ["north"], ["north", "south"]):
        provset = {p for p, r in REGION.items() if r in regions}
        n = tag + "kc-report --year 2024 --region " + "+".join(regions)
        args = []
        for r in regions:
            args += ["--region", r]
        text = view(n, "kc-report", *S, "--year", "2024", *args)
        if text is None:
            continue
        spend = sums(evs, year=y, kind="actual", province=provset)["amount_vnd"]
        pspend = sums(evs, year=y, kind="plan", province=provset)["amount_vnd"]
        m = re.search(r"^\s*Year 2024:\s+(.+?), (.+?) of the 2024 plan \((.+?)\)\s*$", text, re.M)
        ok = m is not None and near(m.group(1), spend) and near(m.group(3), pspend)
        if ok and pspend:
            pct = re.fullmatch(r"(-?[0-9,]+\.[0-9])%", m.group(2))
            ok = pct is not None and abs(Fraction(pct.group(1).replace(",", "")) -
                                         Fraction(100 * spend, pspend)) <= Fraction(1, 20)
        check(n + ": year's spending and plan", ok,
              "line %r; exact %d of %d" % (m.group(0) if m else None, spend, pspend))
        # the activity table: each activity's 2024 spending
        bad, act = [], None
        for ln in text.split("\n"):
            mm = re.match(r"^(\S.*?)\s{2,}spending\s{2,}(.+?)\s{2,}(.+?)\s*$", ln)
            if mm and re.match(r"^(KC|TV)", mm.group(1)):
                act = mm.group(1).split(" ")[0]
                want = sums(evs, year=y, kind="actual", province=provset, activity=act)
                if not near(mm.group(3), want["amount_vnd"]):
                    bad.append("%s %r ~ %d" % (act, mm.group(3), want["amount_vnd"]))
        acts = {e["activity"] for e in evs
                if e["year"] == y and e["kind"] == "actual" and e["province"] in provset}
        check(n + ": activity rows", not bad and act is not None, "%r (activities %r)" % (bad,
                                                                                           acts))


def main():
    if not BIN or not FIXTURE:
        sys.exit("KC_BIN_DIR and KC_FIXTURE must be set (ctest does)")
    evs = load_events(os.path.join(FIXTURE, "events.tsv"))
    tmp = tempfile.mkdtemp(prefix="compat_852a8f0.", dir=os.environ.get("TMPDIR", "/tmp"))
    store = os.path.join(tmp, "store")
    agg = None
    try:
        # restore: mdb_load of the dump, the signing key beside it, modes as the aggregator's
        os.mkdir(store, 0o700)
        p = subprocess.run([MDB_LOAD, "-f", os.path.join(FIXTURE, "store.dump"), store],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=CMD_MS)
        if p.returncode != 0:
            sys.exit("mdb_load: exit %d: %s" % (p.returncode, p.stderr.decode()))
        shutil.copyfile(os.path.join(FIXTURE, "audit.key"), os.path.join(store, "audit.key"))
        for f in os.listdir(store):
            os.chmod(os.path.join(store, f), 0o600)
        S = ["--no-config", "--store", store]
        n = len(evs)

        # the store format: stat works on any format; migrate is the documented upgrade
        text = view("kc-admin stat (before migrate)", "kc-admin", "stat", "--store", store)
        m = re.search(r"^format:\s+(\d+)", text or "", re.M)
        check("fixture has store format 4", m is not None and m.group(1) == "4",
              m.group(0) if m else "no format line")
        rc, out, err = run("kc-admin", "migrate", "--store", store)
        check("kc-admin migrate: exit 0", rc == 0, "exit %d: %s %s" % (rc, out[-300:], err))
        text = view("kc-admin stat", "kc-admin", "stat", "--store", store)
        if text is not None:
            check("kc-admin stat: current format after migrate",
                  re.search(r"^format:\s+\d+ \(current\)", text, re.M) is not None,
                  (re.search(r"^format:.*$", text, re.M) or [""])[0])
            lg = re.search(r"^log entries:\s+(\d+)", text, re.M)
            pr = re.search(r"^producers:\s+(\d+)", text, re.M)
            check("kc-admin stat: log entries and producers",
                  lg and int(lg.group(1)) == n and pr and
                  int(pr.group(1)) == len({e["producer"] for e in evs}),
                  "%r %r" % (lg and lg.group(0), pr and pr.group(0)))

        all_views(store, evs, "")

        # kc-audit: history of the event whose event_id is not UTF-8, its proof, verify
        bad_id = next(e for e in evs if utf8(e["event_id"]) is None)
        off = evs.index(bad_id)
        js = view_json("kc-audit history (event_id not UTF-8) json", "kc-audit", *S, "history",
                       "--province", bad_id["province"], "--event", bad_id["event_id"],
                       "--format", "json")
        if js is not None:
            chains = js.get("chains", [])
            v = chains[0][0] if chains and chains[0] else {}
            check("kc-audit history json: the one version, its event_id shown escaped",
                  len(chains) == 1 and len(chains[0]) == 1 and v.get("offset") == off and
                  v.get("op") == "record" and v.get("state") == "live" and
                  v.get("event_id") == show(bad_id["event_id"]) and
                  js.get("event_id") == show(bad_id["event_id"]), repr(js))
        text = view("kc-audit history (event_id not UTF-8) table", "kc-audit", *S, "history",
                    "--province", bad_id["province"], "--event", bad_id["event_id"])
        if text is not None:
            check("kc-audit history table: event_id shown escaped",
                  show(bad_id["event_id"]) in text and " live" in text, text)
        proof = os.path.join(tmp, "proof.json")
        js = view_json("kc-audit prove (event_id not UTF-8)", "kc-audit", *S, "prove",
                       "--province", bad_id["province"], "--event", bad_id["event_id"])
        if js is not None:
            check("kc-audit prove: leaf index", js.get("leaf_index") == off, repr(js)[:300])
            with open(proof, "w") as f:
                json.dump(js, f)
            rc, out, err = run("kc-audit", "--no-config", "check-proof", proof, "--key",
                               js.get("public_key", ""))
            check("kc-audit check-proof: exit 0", rc == 0, "exit %d: %s %s" % (rc, out, err))
        text = view("kc-audit verify", "kc-audit", *S, "verify", "--quiet")
        if text is not None:
            check("kc-audit verify: every entry", ("ok: %d log entries" % n) in text, text)
        # the log exported to a file and verified offline against the store's public key
        logfile = os.path.join(tmp, "log.kclog")
        text = view("kc-log export", "kc-log", "export", *S, "--out", logfile, "--quiet")
        key = (view("kc-audit pubkey", "kc-audit", *S, "pubkey") or "").strip()
        if text is not None and key:
            text = view("kc-audit verify --file (the exported log)", "kc-audit", "--no-config",
                        "verify", "--file", logfile, "--key", key)
        text = view("kc-replay verify", "kc-replay", *S, "verify")
        if text is not None:
            check("kc-replay verify: every logged event replayed, cells identical",
                  ("verify: %d entries (%d records" % (n, n)) in text and
                  "cells identical" in text, text)

        # a current kc-aggregator on the restored store
        agg = Aggregator(store, tmp)
        if check("kc-aggregator starts on the restored store", agg.http is not None,
                 "see %s/aggregator.log" % tmp):
            q = view_json("kc-query --year 2024 json (for /v1/totals)", "kc-query", *S,
                          "--year", "2024", "--format", "json")
            for path, args in (("/v1/totals?year=2024", ["--year", "2024"]),
                               ("/v1/totals?year=2024&by=province&plan=1",
                                ["--year", "2024", "--by", "province", "--plan"]),
                               ("/v1/totals?year=2024&province=79",
                                ["--year", "2024", "--province", "79"])):
                js = http_json(agg, "GET " + path, path)
                if js is None:
                    continue
                exp = sums(evs, year=2024, kind="actual",
                           **({"province": "79"} if "province=79" in path else {}))
                got = js.get("totals", {})
                check("GET %s: totals exact" % path, all(got.get(k) == exp[k] for k in METRICS),
                      "got %r, exact %r" % (got, exp))
                _, out, _ = run("kc-query", *S, *args, "--format", "json")
                try:
                    q = json.loads(out.decode("utf-8"))
                except ValueError:
                    q = None
                check("GET %s: = kc-query --format json" % path,
                      q is not None and strip_store(q) == strip_store(js))
            js = http_json(agg, "GET /v1/producers", "/v1/producers")
            if js is not None:
                names = sorted(pp.get("producer") for pp in js.get("producers", [])
                               if isinstance(pp.get("producer"), str))
                want = sorted(show(p) for p in {e["producer"] for e in evs})
                check("GET /v1/producers: every producer, ids shown escaped", names == want,
                      "got %r, want %r" % (names, want))
            promtool_clean(agg, "GET /metrics")

            # new events: accepted and counted on top of the old figures
            csv = os.path.join(tmp, "new.csv")
            new = [("NEW-01-2024-08", "01", 2024, 8, "KC6", "actual", 7000000, 1),
                   ("NEW-79-2024-09", "79", 2024, 9, "KC4b", "actual", 12000000, 2)]
            with open(csv, "w") as f:
                f.write("event_id,province,year,month,activity,kind,amount_vnd,events\n")
                for r in new:
                    f.write(",".join(str(c) for c in r) + "\n")
            rc, out, err = run("kc-send", "--no-config", "--connect", agg.endpoint, "--producer",
                               "compat-new", "--spool", os.path.join(tmp, "spool"),
                               "--timeout", "60", "--quiet", csv)
            text = utf8(out) or ""
            check("kc-send of new events to the upgraded aggregator: accepted",
                  rc == 0 and ("accepted=%d " % len(new)) in text,
                  "exit %d: %s %s" % (rc, text, err))
            for r in new:
                evs.append({"producer": b"compat-new", "event_id": r[0].encode(),
                            "province": r[1], "year": r[2], "month": r[3], "activity": r[4],
                            "kind": r[5], "fund": "other",
                            "metrics": dict({k: 0 for k in METRICS}, amount_vnd=r[6],
                                            events=r[7]), "note": b""})
            js = http_json(agg, "GET /v1/totals?year=2024 after new events",
                           "/v1/totals?year=2024")
            if js is not None:
                exp = sums(evs, year=2024, kind="actual")
                check("GET /v1/totals?year=2024 after new events: exact",
                      all(js.get("totals", {}).get(k) == exp[k] for k in METRICS) and
                      js.get("events") == exp["records"], "got %r" % js.get("totals"))
            promtool_clean(agg, "GET /metrics after new events")
        rc = agg.stop()
        check("kc-aggregator: SIGTERM, exit 0", rc == 0, "exit %d" % rc)
        agg = None

        # the old log with new entries appended: every view, the audit and the replay
        n = len(evs)
        all_views(store, evs, "after new events: ")
        text = view("after new events: kc-audit verify", "kc-audit", *S, "verify", "--quiet")
        if text is not None:
            check("after new events: kc-audit verify: every entry",
                  ("ok: %d log entries" % n) in text, text)
        text = view("after new events: kc-replay verify", "kc-replay", *S, "verify")
        if text is not None:
            check("after new events: kc-replay verify: cells identical",
                  ("verify: %d entries" % n) in text and "cells identical" in text, text)
    finally:
        if agg is not None:
            agg.p.kill()
            agg.p.wait()
    print("%d checks passed, %d failed" % (s_passed, len(s_failed)))
    if s_failed:
        print("failed checks:\n  " + "\n  ".join(s_failed))
        print("kept: %s" % tmp)
        sys.exit(1)
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
