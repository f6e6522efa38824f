#!/usr/bin/python3
"""tests/office: the office's own totals on kc-office's home page (issue 17 step 6).

A real kc-aggregator (127.0.0.1, ports 0, its HTTP API on) receives rows through kc-send: plans
and actual rows of the office's two provinces, rows of another province and of last year that
must not be counted. A real kc-office, configured with office-api for that aggregator (through
a small token-checking reverse proxy written here, as docs describe for a centre beyond
loopback: the portal's bearer token from office-api-token), shows a signed-in clerk the exact
figures against plan, with Vietnamese and English digit grouping, and when they were read. The
figures are cached (a row sent after the first page load shows only after a restart of the
portal, which starts with an empty cache). When the centre cannot be read - the aggregator
stopped, a wrong token, a server that accepts connections and never answers - the page still
answers 200 within a few seconds with the "cannot be read now" note. An office without
office-api gets its own short note. Sums beyond int64 (a fixed answer from a server here) are
shown exactly.

  totals_test.py            run every check; print "ok NAME" per check, exit 0 or 1
  totals_test.py NAME...    run only these checks

Needs KC_BIN_DIR (ctest sets it). The HTTP client is Python's http.client (office_test.py's).
"""
import calendar
import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from office_test import PASSWORD, Client, Fail, Portal, check  # noqa: E402

BIN_DIR = os.environ.get("KC_BIN_DIR", "build/bin")
YEAR = time.localtime().tm_year  # kc-office reads the current year in local time too
TOKEN = "kc-office-read-0123456789abcdef"
OFFICE_NAME = "Văn phòng thử Đông Nam Bộ"

HEADER = ("event_id,province,year,month,activity,kind,fund,amount_vnd,revenue_vnd,persons,"
          "persons_employed,facilities,facility_turns,products,events,delegates,projects,note,"
          "corrects\n")


def row(eid, prov, year, act, kind, amount, persons="", facilities=""):
    return "%s,%s,%d,1,%s,%s,kcdp,%d,,%s,,%s,,,,,,t,\n" % (eid, prov, year, act, kind, amount,
                                                          persons, facilities)


ROWS = (row("P79-1", "79", YEAR, "vocational_training", "plan", 5000000000, persons=100) +
        row("A79-1", "79", YEAR, "vocational_training", "actual", 1200000000, persons=35) +
        row("A79-2", "79", YEAR, "machinery", "actual", 800000001, facilities=3) +
        row("P75-1", "75", YEAR, "machinery", "plan", 2000000000) +
        row("A75-1", "75", YEAR, "machinery", "actual", 123456789, facilities=2) +
        # another province and last year: never on this office's page
        row("P01-1", "01", YEAR, "machinery", "plan", 9999000000) +
        row("A01-1", "01", YEAR, "machinery", "actual", 777000000, facilities=9) +
        row("A79-OLD", "79", YEAR - 1, "machinery", "actual", 555000000, facilities=1))


class Aggregator:
    """kc-aggregator on 127.0.0.1, ports 0, HTTP on; the ready file names the endpoints."""

    def __init__(self, work):
        self.work = work
        self.store = os.path.join(work, "store")
        ready = os.path.join(work, "agg.ready")
        self.errf = open(os.path.join(work, "aggregator.err"), "w")
        self.proc = subprocess.Popen(
            [os.path.join(BIN_DIR, "kc-aggregator"), "--no-config", "--listen",
             "tcp://127.0.0.1:*", "--store", self.store, "--http", "127.0.0.1:0",
             "--ready-file", ready, "--log-level", "warn"],
            stdout=subprocess.DEVNULL, stderr=self.errf)
        deadline = time.monotonic() + 30
        self.endpoint = self.http = None
        while not (self.endpoint and self.http):
            if self.proc.poll() is not None:
                raise Fail("kc-aggregator exited %s before it was ready" % self.proc.returncode)
            if time.monotonic() > deadline:
                self.stop()
                raise Fail("kc-aggregator not ready after 30 s")
            if os.path.exists(ready):
                for line in open(ready).read().splitlines():
                    if line.startswith("tcp://"):
                        self.endpoint = line.strip()
                    elif line.startswith("http "):
                        self.http = line.split(" ", 1)[1].strip().rstrip("/")
            time.sleep(0.02)  # a poll step inside the deadline, not synchronisation

    def send(self, name, text):
        path = os.path.join(self.work, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(HEADER + text)
        p = subprocess.run([os.path.join(BIN_DIR, "kc-send"), "--no-config", "--lang", "en",
                            "--connect", self.endpoint, "--producer", "totals-test", "--spool",
                            os.path.join(self.work, "spool"), "--timeout", "60", "--quiet", path],
                           capture_output=True, text=True, timeout=120, check=False)
        n = text.count("\n")
        check(p.returncode == 0 and ("accepted=%d " % n) in p.stdout,
              "kc-send %s: exit %d: %s %s" % (name, p.returncode, p.stdout, p.stderr))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            rc = self.proc.wait(timeout=60)
            check(rc == 0, "kc-aggregator exited %s on SIGTERM" % rc)
        self.errf.close()


class TokenProxy:
    """A reverse proxy in front of the aggregator's API that wants one bearer token, as a
    centre exposes the API beyond loopback (kc-office(1)); it records what it saw."""

    def __init__(self, upstream):
        self.seen = []
        proxy = self

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                proxy.seen.append((self.path, self.headers.get("Authorization")))
                if self.headers.get("Authorization") != "Bearer " + TOKEN:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                try:
                    with urllib.request.urlopen(upstream + self.path, timeout=10) as r:
                        status, body = r.status, r.read()
                except urllib.error.HTTPError as e:
                    status, body = e.code, e.read()
                except OSError:
                    status, body = 502, b""
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *a):
                pass

        self.srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d" % self.srv.server_address[1]
        self.thread = threading.Thread(target=self.srv.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()


def portal(work, extra):
    """A kc-office work directory with our own offices (office_test's Portal, another conf)."""
    p = Portal(work)
    with open(p.conf, "w", encoding="utf-8") as f:
        f.write("office = south:79,75:%s\n"
                "office-centre = south=tcp://127.0.0.1:5555\n"
                "office-spool = south=%s/spool-south\n"
                "office-producer = south=office-south\n"
                "office = hn:01:Sở Công Thương Hà Nội\n"
                "office-centre = hn=tcp://127.0.0.1:5555\n"
                "office-spool = hn=%s/spool-hn\n"
                "office-producer = hn=office-hn\n"
                "data = %s\n%s" % (OFFICE_NAME, work, work, p.data, extra))
    return p


def cells(body, attr, key):
    """The <td> texts of the row data-ATTR="KEY" (the first cell's text too)."""
    m = re.search(r'<tr data-%s="%s"[^>]*>(.*?)</tr>' % (attr, re.escape(key)), body, re.S)
    if not m:
        return None
    return [re.sub(r"<[^>]+>", "", c) for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>",
                                                          m.group(1), re.S)]


def api_totals(agg, by):
    url = "%s/v1/totals?year=%d&province=79&province=75&plan=1&by=%s" % (agg.http, YEAR, by)
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def group(n, sep):
    return "{:,}".format(n).replace(",", sep)


def timed_get(c, path):
    t0 = time.monotonic()
    r = c.get(path)
    return r, time.monotonic() - t0


# ---- the checks ---------------------------------------------------------------------------

def t_figures(work):
    agg = Aggregator(work)
    proxy = TokenProxy(agg.http)
    tok = os.path.join(work, "api.token")
    with open(tok, "w") as f:
        f.write(TOKEN + "\n")
    os.chmod(tok, 0o600)
    p = portal(work, "office-api = south=%s/\noffice-api-token = south=%s\n" % (proxy.url, tok))
    p.add_user("south", "lan")
    try:
        agg.send("rows.csv", ROWS)
        # the API's own answer, read by Python's json (exact ints): what the page must show
        prov = api_totals(agg, "province")
        byp = {r["key"]: r for r in prov["rows"]}
        check(byp["79"]["totals"]["amount_vnd"] == 2000000001 and
              byp["79"]["plan"]["totals"]["amount_vnd"] == 5000000000 and
              byp["75"]["totals"]["amount_vnd"] == 123456789 and "01" not in byp,
              "the aggregator's /v1/totals: %r" % prov)
        p.start()
        try:
            c = Client(p)
            check(c.login("south", "lan").status == 303, "login")
            t_before = time.time()
            r, took = timed_get(c, "/")
            check(r.status == 200, "home: %d" % r.status)
            check('id="totals"' in r.body and "totals-unavailable" not in r.body,
                  "no totals on the home page: %s" % r.body[-1500:])
            check(str(YEAR) in re.search(r'<h2 id="totals-title">(.*?)</h2>', r.body).group(1),
                  "the totals' title does not name the year %d" % YEAR)
            want = {"79": (2000000001, 5000000000, "40,0%"),
                    "75": (123456789, 2000000000, "6,2%"),
                    "total": (2123456790, 7000000000, "30,3%")}
            for key, (done, plan, pct) in want.items():
                got = cells(r.body, "province", key)
                check(got is not None and got[1:] == [group(done, "."), group(plan, "."), pct],
                      "province %s: %r, expected %r" % (key, got, (done, plan, pct)))
            check(cells(r.body, "province", "79")[0] == "79 Hồ Chí Minh" and
                  cells(r.body, "province", "75")[0] == "75 Đồng Nai",
                  "province names: %r" % cells(r.body, "province", "75"))
            acts = {("KC1", "amount_vnd"): ["1.200.000.000", "5.000.000.000", "24,0%"],
                    ("KC1", "persons"): ["35", "100", "35,0%"],
                    ("KC3b", "amount_vnd"): ["923.456.790", "2.000.000.000", "46,2%"],
                    ("KC3b", "facilities"): ["5", "0", "–"]}
            for (a, m), figs in acts.items():
                m_row = re.search(r'<tr data-activity="%s" data-metric="%s">(.*?)</tr>' % (a, m),
                                  r.body, re.S)
                got = [re.sub(r"<[^>]+>", "", x) for x in
                       re.findall(r"<td[^>]*>(.*?)</td>", m_row.group(1))] if m_row else None
                check(got is not None and got[2:] == figs,
                      "activity %s %s: %r, expected %r" % (a, m, got, figs))
            for never in ("777.000.000", "9.999.000.000", "555.000.000", "Hà Nội",
                          "2.000.000.001.0", "e+"):
                check(never not in r.body, "the page shows %r (another province or year)" % never)
            m = re.search(r'<time id="totals-read-at" datetime="([0-9T:Z-]+)">', r.body)
            check(m, "no time the figures were read")
            read_at = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%SZ"))
            check(t_before - 2 <= read_at <= time.time() + 2,
                  "read at %s, not now" % m.group(1))
            check(all(a == "Bearer " + TOKEN for _, a in proxy.seen) and
                  {pa.split("&by=")[1] for pa, _ in proxy.seen} == {"province", "activity"},
                  "requests the proxy saw: %r" % proxy.seen)
            for pa, _ in proxy.seen:
                check(pa.startswith("/v1/totals?year=%d&plan=1&province=79&province=75&by=" %
                                    YEAR), "request %r" % pa)
            # English: the same figures, English grouping
            r = c.get("/?lang=en")
            got = cells(r.body, "province", "79")
            check(got and got[1:] == ["2,000,000,001", "5,000,000,000", "40.0%"],
                  "English figures: %r" % got)
            check("Your office's figures for %d against plan" % YEAR in r.body and
                  "Spending by province" in r.body, "English totals section")
            c.get("/?lang=vi")
            # cached: a row sent now shows only after the cache expires (here: a restart)
            n_seen = len(proxy.seen)
            agg.send("more.csv", row("A79-3", "79", YEAR, "machinery", "actual", 1000,
                                     facilities=1))
            r = c.get("/")
            check(cells(r.body, "province", "79")[1] == "2.000.000.001",
                  "the figures were read again within the cache's minute: %r" %
                  cells(r.body, "province", "79"))
            check(len(proxy.seen) == n_seen, "a page load within the minute reached the centre")
        finally:
            p.stop()
        p.start()
        try:
            c2 = Client(p)
            c2.jar = dict(c.jar)
            r = c2.get("/")
            check(cells(r.body, "province", "79")[1] == "2.000.001.001",
                  "after a restart: %r" % cells(r.body, "province", "79"))
            # the centre stops: the page keeps answering, quickly, with the last figures
            agg.stop()
            r, took = timed_get(c2, "/")
            check(r.status == 200 and cells(r.body, "province", "79")[1] == "2.000.001.001",
                  "cached figures with the centre stopped: %d" % r.status)
        finally:
            p.stop()
        # a fresh portal with the centre down: the note, fast, never an error page
        p.start()
        try:
            c3 = Client(p)
            c3.jar = dict(c.jar)
            r, took = timed_get(c3, "/")
            check(r.status == 200 and 'id="totals-unavailable"' in r.body and
                  "Hiện chưa đọc được số liệu của trung tâm; các dòng của bạn vẫn an toàn" in
                  r.body and "totals-provinces" not in r.body,
                  "centre stopped: %d %s" % (r.status, r.body[-800:]))
            check(took < 4, "the home page took %.1f s with the centre stopped" % took)
            r = c3.get("/?lang=en")
            check("The centre&#39;s figures cannot be read now; your rows are safe" in r.body or
                  "The centre's figures cannot be read now; your rows are safe" in r.body,
                  "English note: %s" % r.body[-800:])
            c3.get("/?lang=vi")
        finally:
            p.stop()
        log = open(os.path.join(work, "daemon.log"), encoding="utf-8").read()
        check("KC-OFF-110 office south: cannot read the centre's totals" in log,
              "no KC-OFF-110 in the log")
        check(TOKEN not in log, "the token is in the log")
    finally:
        proxy.stop()
        if agg.proc.poll() is None:
            agg.stop()


def t_unreachable(work):
    """A wrong token, a server that never answers, no office-api: notes, in bounded time."""
    agg = Aggregator(work)
    proxy = TokenProxy(agg.http)
    tok = os.path.join(work, "wrong.token")
    with open(tok, "w") as f:
        f.write("not-the-token\n")
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(16)  # accepts connections (the kernel's backlog), never answers
    try:
        p = portal(work, "office-api = south=%s\noffice-api-token = south=%s\n"
                         "office-api = hn=http://127.0.0.1:%d\n"
                   % (proxy.url, tok, hole.getsockname()[1]))
        p.add_user("south", "lan")
        p.add_user("hn", "minh")
        p.start()
        try:
            c = Client(p)
            check(c.login("south", "lan").status == 303, "login south")
            r, took = timed_get(c, "/")
            check(r.status == 200 and 'id="totals-unavailable"' in r.body, "wrong token: %d" %
                  r.status)
            check(proxy.seen and proxy.seen[0][1] == "Bearer not-the-token",
                  "the proxy saw %r" % proxy.seen)
            h = Client(p)
            check(h.login("hn", "minh").status == 303, "login hn")
            r, took = timed_get(h, "/")
            check(r.status == 200 and 'id="totals-unavailable"' in r.body,
                  "a centre that never answers: %d" % r.status)
            check(2.5 <= took < 5, "a centre that never answers: the page took %.1f s" % took)
            r, took = timed_get(h, "/")
            check(r.status == 200 and 'id="totals-unavailable"' in r.body and took < 1,
                  "the next page load waited again (%.1f s)" % took)
        finally:
            p.stop()
        log = open(os.path.join(work, "daemon.log"), encoding="utf-8").read()
        check("KC-OFF-110 office south" in log and "HTTP status 401" in log,
              "the refused token is not logged: %s" % log[-600:])
        check("KC-OFF-110 office hn" in log, "the silent centre is not logged")
        # no office-api at all: a short note of its own
        p = portal(work, "")
        p.start()
        try:
            c = Client(p)
            check(c.login("south", "lan").status == 303, "login")
            r = c.get("/")
            check(r.status == 200 and 'id="totals-not-configured"' in r.body and
                  "office-api" in r.body and "totals-unavailable" not in r.body,
                  "no office-api: %d" % r.status)
        finally:
            p.stop()
    finally:
        hole.close()
        proxy.stop()
        agg.stop()


def t_big(work):
    """Sums beyond int64, as the API writes them (plain JSON integers of any size,
    docs/MONITORING.md): shown exactly, from their digits. A fixed answer from a server here."""
    big, plan = 98765432109876543210, 123456789012345678901
    prow = {"key": "79", "label": "Hồ Chí Minh", "totals": {"amount_vnd": big},
            "plan": {"totals": {"amount_vnd": plan}, "percent": {"amount_vnd": 80.0}},
            "percent_of_plan": 80.0}
    arow = {"key": "KC3b", "label": "machinery", "totals": {"amount_vnd": big, "facilities": 7},
            "plan": {"totals": {"amount_vnd": plan, "facilities": 0}, "percent": {}}}
    answers = {"province": {"totals": {"amount_vnd": big}, "rows": [prow]},
               "activity": {"totals": {"amount_vnd": big}, "rows": [arow]}}

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            by = self.path.rsplit("&by=", 1)[-1]
            body = json.dumps(answers.get(by, {})).encode()
            self.send_response(200 if by in answers else 400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        p = portal(work, "office-api = south=http://127.0.0.1:%d\n" % srv.server_address[1])
        p.add_user("south", "lan")
        p.start()
        try:
            c = Client(p)
            check(c.login("south", "lan").status == 303, "login")
            r = c.get("/")
            got = cells(r.body, "province", "79")
            check(got and got[1:3] == [group(big, "."), group(plan, ".")],
                  "big integers: %r" % got)
            m_row = re.search(r'<tr data-activity="KC3b" data-metric="amount_vnd">(.*?)</tr>',
                              r.body, re.S)
            check(m_row and group(big, ".") in m_row.group(1) and
                  group(plan, ".") in m_row.group(1), "big integers by activity")
        finally:
            p.stop()
    finally:
        srv.shutdown()
        srv.server_close()


CHECKS = [("figures", t_figures), ("unreachable", t_unreachable), ("big", t_big)]


def main(argv):
    want = argv[1:]
    failed = 0
    for name, fn in CHECKS:
        if want and name not in want:
            continue
        work = tempfile.mkdtemp(prefix="kc-office-totals-")
        try:
            fn(work)
            print("ok", name)
            shutil.rmtree(work, ignore_errors=True)
        except Fail as e:
            failed += 1
            print("FAIL %s: %s (kept %s)" % (name, e, work))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
