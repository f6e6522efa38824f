#!/usr/bin/python3
"""tests/office: kc-office's form entry, submissions, correct and retract pages (issue 17 steps 3-5).

Real processes: a kc-aggregator on 127.0.0.1 (port chosen by the system, its endpoint read from
its --ready-file) and a kc-office (office_test.py's Portal: port 0, --ready-file) configured with
office-centre/-spool/-producer for that aggregator, serving two offices (hcm: 79, hn: 01). Both
are stopped by pid with SIGTERM and must exit 0. The client is Python's http.client (through
office_test.py's Client); the centre's totals are read back with kc-query on the aggregator's
store after it stopped.

Checked: the entry form offers only the office's provinces and only the chosen activity's
metrics; a metric the activity does not allow, posted by hand, is refused by name and nothing is
recorded; another office's province is 403 and nothing recorded; ambiguous and negative numbers
are refused with a message beside the field, the values kept; missing or replayed CSRF tokens
are 403; a valid entry becomes accepted (polled with a deadline); a correction of it is
accepted and the original shown superseded; a second entry retracted after a confirmation; an
event_id reused with other values is rejected at the centre, with the reason, the centre's text
and a hint in Vietnamese; a correction of a superseded row is refused (409); another office
sees 404 for these submissions; and kc-query's totals are exact.

  pages_test.py     exit 0 when every check passed; needs KC_BIN_DIR
"""
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import office_test as ot  # noqa: E402  (the Portal and Client of the first step's test)
from office_test import Fail, check  # noqa: E402

BIN_DIR = os.environ.get("KC_BIN_DIR", "build/bin")
DEADLINE_S = 60


class Aggregator:
    def __init__(self, work):
        self.store = os.path.join(work, "centre", "store")
        self.ready = os.path.join(work, "centre", "ready")
        self.errpath = os.path.join(work, "centre", "aggregator.err")
        os.makedirs(os.path.dirname(self.store))
        self.errf = open(self.errpath, "w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [os.path.join(BIN_DIR, "kc-aggregator"), "--listen", "tcp://127.0.0.1:*", "--store",
             self.store, "--ready-file", self.ready, "--log-level", "warn"],
            stdout=subprocess.DEVNULL, stderr=self.errf)
        self.endpoint = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # the ready file: the bound endpoint on its first line
            if self.proc.poll() is not None:
                raise Fail("kc-aggregator exited %s before it was ready: %s"
                           % (self.proc.returncode, self.err()))
            if os.path.exists(self.ready):
                with open(self.ready, encoding="utf-8") as f:
                    line = f.readline().strip()
                if line.startswith("tcp://"):
                    self.endpoint = line
                    return
            time.sleep(0.02)  # a poll step inside the deadline
        self.proc.kill()
        self.proc.wait()
        raise Fail("kc-aggregator not ready within 30 s")

    def err(self):
        with open(self.errpath, encoding="utf-8", errors="replace") as f:
            return f.read()[-2000:]

    def stop(self):
        if not self.proc:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = "timeout"
        self.proc = None
        self.errf.close()
        check(rc == 0, "kc-aggregator exited %s on SIGTERM: %s" % (rc, self.err()))


def portal_for(work, endpoint):
    p = ot.Portal(work)
    with open(p.conf, "w", encoding="utf-8") as f:
        f.write("# kc-office pages test configuration\n"
                "office = hcm:79:%s\n"
                "office-centre = hcm=%s\n"
                "office-spool = hcm=%s/spool-hcm\n"
                "office-producer = hcm=office-hcm\n"
                "office = hn:01:%s\n"
                "office-centre = hn=%s\n"
                "office-spool = hn=%s/spool-hn\n"
                "office-producer = hn=office-hn\n"
                "data = %s\n" % (ot.HCM_NAME, endpoint, work, ot.HN_NAME, endpoint, work,
                                 p.data))
    return p


def form_of(body, form_id):
    m = re.search(r'<form[^>]*id="%s".*?</form>' % re.escape(form_id), body, re.S)
    check(m, "no form #%s in the page" % form_id)
    return m.group(0)


def fields_of(form):
    """The form's fields as a browser would send them (inputs, selected options, textareas)."""
    out = {}
    for m in re.finditer(r'<input([^>]*)>', form):
        a = m.group(1)
        n = re.search(r'name="([^"]*)"', a)
        v = re.search(r'value="([^"]*)"', a)
        if n:
            out[n.group(1)] = unesc(v.group(1)) if v else ""
    for m in re.finditer(r'<select[^>]*name="([^"]*)"[^>]*>(.*?)</select>', form, re.S):
        opts = re.findall(r'<option value="([^"]*)"( selected)?>', m.group(2))
        sel = [v for v, s in opts if s] or [opts[0][0]]
        out[m.group(1)] = unesc(sel[0])
    for m in re.finditer(r'<textarea[^>]*name="([^"]*)"[^>]*>(.*?)</textarea>', form, re.S):
        out[m.group(1)] = unesc(m.group(2))
    return out


def unesc(s):
    return (s.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&#39;", "'").replace("&amp;", "&"))


def entry_fields(c, activity, **values):
    """GET /entry?activity=A, then the form's fields with values set."""
    r = c.get("/entry?activity=" + activity)
    check(r.status == 200, "GET /entry?activity=%s: %d" % (activity, r.status))
    f = fields_of(form_of(r.body, "entry-form"))
    f.update(values)
    return f


def sub_of(r, what):
    check(r.status == 303, "%s: status %d, expected 303: %s" % (what, r.status, r.body[-800:]))
    loc = r.header("Location") or ""
    m = re.fullmatch(r"/submissions/(\d+)", loc)
    check(m, "%s: redirected to %r" % (what, loc))
    return int(m.group(1))


def row_state(body, row):
    m = re.search(r'<tr id="row-%d" data-state="([a-z]*)"' % row, body)
    return m.group(1) if m else None


def wait_final(c, sub, want="accepted"):
    deadline = time.monotonic() + DEADLINE_S
    while True:
        r = c.get("/submissions/%d" % sub)
        check(r.status == 200, "GET /submissions/%d: %d" % (sub, r.status))
        st = row_state(r.body, 0)
        if st in ("accepted", "duplicate", "rejected"):
            check(st == want, "submission %d: row 0 is %s, expected %s: %s"
                  % (sub, st, want, re.sub(r"\s+", " ", r.body[-2500:])))
            check('http-equiv="refresh"' not in r.body,
                  "submission %d: a final page still refreshes itself" % sub)
            return r
        check('<meta http-equiv="refresh" content="5">' in r.body,
              "submission %d: row %s and the page does not refresh itself" % (sub, st))
        if time.monotonic() > deadline:
            raise Fail("submission %d: row 0 still %s after %d s" % (sub, st, DEADLINE_S))
        time.sleep(0.1)  # a poll step inside the deadline


def event_id_of(body, row=0):
    m = re.search(r'<tr id="row-%d".*?<code class="event-id">([^<]*)</code>' % row, body, re.S)
    check(m, "no event_id on row %d" % row)
    return unesc(m.group(1))


def sub_count(c):
    r = c.get("/submissions")
    check(r.status == 200, "GET /submissions: %d" % r.status)
    return len(re.findall(r'<tr id="sub-\d+"', r.body))


def query(store, *args):
    p = subprocess.run([os.path.join(BIN_DIR, "kc-query"), "--store", store, "--format", "json"]
                       + list(args), capture_output=True, text=True, timeout=60, check=False)
    check(p.returncode == 0, "kc-query %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr))
    return json.loads(p.stdout)


def t_pages(work):
    agg = Aggregator(work)
    p = None
    try:
        p = portal_for(work, agg.endpoint)
        p.add_user("hcm", "lan")
        p.add_user("hn", "minh")
        p.start()
        c = ot.Client(p)
        check(c.login("hcm", "lan").status == 303, "sign-in of hcm/lan")

        # step 1: every activity, with its Vietnamese name
        r = c.get("/entry")
        check(r.status == 200, "GET /entry: %d" % r.status)
        check("KC3b — Ứng dụng máy móc tiên tiến" in r.body, "step 1 lacks KC3b's Vietnamese name")
        check('id="entry-form"' not in r.body, "step 1 already shows the metric form")
        # step 2: the office's provinces only, the activity's metrics only
        r = c.get("/entry?activity=KC3b")
        form = form_of(r.body, "entry-form")
        provs = re.findall(r'<option value="(\d\d)"', re.search(
            r'<select id="province".*?</select>', form, re.S).group(0))
        check(provs == ["79"], "province options %r, expected only hcm's 79" % provs)
        metrics = sorted(re.findall(r'name="(m_[a-z_]+)"', form))
        check(metrics == ["m_amount_vnd", "m_facilities"],
              "KC3b's form offers %r, expected amount_vnd and facilities" % metrics)
        check("Kinh phí" in form or "kinh phí" in form, "the metric labels are not Vietnamese")
        auto_id = fields_of(form)["event_id"]
        check(re.fullmatch(r"79-\d{6}-KC3b-[0-9a-f]{8}", auto_id), "generated id %r" % auto_id)
        r = c.get("/entry?activity=KC1")
        metrics = sorted(re.findall(r'name="(m_[a-z_]+)"', form_of(r.body, "entry-form")))
        check(metrics == ["m_amount_vnd", "m_events", "m_persons", "m_persons_employed"],
              "KC1's form offers %r" % metrics)

        base = dict(year="2026", month="11", kind="actual", fund="kcqg")
        # a metric KC3b does not allow, posted by hand: refused by name, nothing recorded
        f = entry_fields(c, "KC3b", m_amount_vnd="5000000", m_persons="12", **base)
        r = c.post("/entry", f)
        check(r.status == 422, "disallowed metric: status %d, expected 422" % r.status)
        check("persons" in r.body and 'id="err-m_persons"' in r.body,
              "the refusal does not name the metric persons")
        check('value="5000000"' in r.body, "the typed values were not kept")
        check(sub_count(c) == 0, "a refused form was recorded")
        # another office's province: 403, nothing recorded
        f = entry_fields(c, "KC3b", m_amount_vnd="5000000", province="01", **base)
        r = c.post("/entry", f)
        check(r.status == 403, "province 01 from hcm: status %d, expected 403" % r.status)
        check(sub_count(c) == 0, "another office's province was recorded")
        # numbers: ambiguous and negative refused beside the field, values kept
        f = entry_fields(c, "KC3b", m_amount_vnd="1.200", m_facilities="-2", **base)
        r = c.post("/entry", f)
        check(r.status == 422, "ambiguous/negative: status %d" % r.status)
        check(re.search(r'id="err-m_amount_vnd"[^>]*>[^<]*1200[^<]*1\.2', r.body),
              "the ambiguous 1.200 is not explained with both readings")
        check('id="err-m_facilities"' in r.body and "không được âm" in r.body,
              "the negative number is not refused in Vietnamese")
        check('value="1.200"' in r.body and 'value="-2"' in r.body, "values not kept")
        f = entry_fields(c, "KC3b", m_amount_vnd="1000", event_id="mã có dấu cách", **base)
        r = c.post("/entry", f)
        check(r.status == 422 and 'id="err-event_id"' in r.body, "a bad event_id: %d" % r.status)
        check(sub_count(c) == 0, "a refused form was recorded")
        # CSRF: missing, and a token of an ended session (replayed)
        f = entry_fields(c, "KC3b", m_amount_vnd="1000", **base)
        old = f.pop("csrf")
        r = c.post("/entry", f)
        check(r.status == 403, "no CSRF token: status %d" % r.status)
        c.post("/logout", {"csrf": old})
        check(c.login("hcm", "lan").status == 303, "sign-in again")
        f["csrf"] = old
        r = c.post("/entry", f)
        check(r.status == 403, "replayed CSRF token: status %d" % r.status)
        check(sub_count(c) == 0, "a CSRF-refused form was recorded")

        # a valid entry -> accepted
        f = entry_fields(c, "KC3b", m_amount_vnd="1.200.000.000", m_facilities="3",
                         note="máy dệt", **base)
        s1 = sub_of(c.post("/entry", f), "valid entry")
        r = wait_final(c, s1)
        first_id = event_id_of(r.body)
        check(first_id.startswith("79-202611-KC3b-"), "event_id %r" % first_id)
        check('data-value="1200000000"' in r.body, "the amount is not shown")
        check('id="correct-0"' in r.body and 'id="retract-0"' in r.body,
              "an accepted row has no correct/retract links")
        check(re.search(r'<tr id="sub-%d">.*?<td class="n-accepted">1</td>' % s1,
                        c.get("/submissions").body, re.S), "the list does not count it accepted")

        # correct it
        r = c.get("/entry?correct=%d-0" % s1)
        check(r.status == 200, "GET /entry?correct: %d" % r.status)
        f = fields_of(form_of(r.body, "entry-form"))
        check(f.get("m_amount_vnd") == "1200000000" and f.get("m_facilities") == "3"
              and f.get("note") == "máy dệt" and f.get("correct") == "%d-0" % s1,
              "the correction form is not prefilled: %r" % f)
        check(f["event_id"] != first_id, "the correction reuses the event_id")
        f["m_amount_vnd"] = "1 500 000 000"
        s2 = sub_of(c.post("/entry", f), "correction")
        r = wait_final(c, s2)
        corr_id = event_id_of(r.body)
        check('<code class="corrects">%s</code>' % first_id in r.body,
              "the correction does not say what it corrects")
        r = c.get("/submissions/%d" % s1)
        check(re.search(r'class="superseded">[^<]*<code>%s</code>' % re.escape(corr_id), r.body),
              "the original is not shown superseded by %s" % corr_id)
        check('id="correct-0"' not in r.body, "a superseded row still offers a correction")
        # the superseded row cannot be corrected by hand any more
        f["m_amount_vnd"] = "1"
        f["event_id"] = ""
        r = c.post("/entry", f)
        check(r.status == 409 and "đã được sửa hoặc rút lại" in r.body,
              "a correction of a superseded row: status %d" % r.status)

        # a second entry, retracted
        f = entry_fields(c, "KC1", m_amount_vnd="70000000", m_persons="35",
                         m_persons_employed="20", **base)
        s3 = sub_of(c.post("/entry", f), "second entry")
        wait_final(c, s3)
        r = c.get("/retract/%d-0" % s3)
        check(r.status == 200 and 'id="retract-form"' in r.body, "retract confirmation page")
        s4 = sub_of(c.post("/retract/%d-0" % s3, fields_of(form_of(r.body, "retract-form"))),
                    "retraction")
        wait_final(c, s4)
        r = c.get("/submissions/%d" % s3)
        check('class="retracted"' in r.body and "Đã rút lại bởi" in r.body,
              "the retracted row is not shown retracted")
        check('id="retract-0"' not in r.body, "a retracted row still offers a retraction")

        # an event_id reused with other values: rejected by the centre, with a hint
        f = entry_fields(c, "KC3b", m_amount_vnd="999", event_id=first_id, **base)
        s5 = sub_of(c.post("/entry", f), "reused event_id")
        r = wait_final(c, s5, "rejected")
        check('<code class="reason">event_id_conflict</code>' in r.body,
              "the rejection's reason is not shown")
        check('class="centre-text"' in r.body, "the centre's text is not shown")
        check(re.search(r'class="hint">Cách xử lý: để sửa một dòng đã được chấp nhận', r.body),
              "no Vietnamese hint (kci_result_hint) for the rejection: %s"
              % re.findall(r'<div class="hint">.*?</div>', r.body))
        r = c.get("/submissions/%d?lang=en" % s5)
        check("Rejected" in r.body and re.search(
            r'class="hint">What to do: to change an accepted row send a correction', r.body),
              "the English page lacks the state or the hint")
        r = c.get("/submissions/%d?lang=vi" % s5)  # the thread's language is back to Vietnamese
        check("để sửa một dòng đã được chấp nhận" in r.body, "the hint stayed English")

        # another office sees none of it
        c2 = ot.Client(p)
        check(c2.login("hn", "minh").status == 303, "sign-in of hn/minh")
        for path in ("/submissions/%d" % s1, "/retract/%d-0" % s1, "/entry?correct=%d-0" % s1):
            check(c2.get(path).status == 404, "hn sees %s" % path)
        check(sub_count(c2) == 0, "hn's list shows hcm's submissions")
        r = c2.get("/entry?activity=KC3b")
        provs = re.findall(r'<option value="(\d\d)"', form_of(r.body, "entry-form"))
        check("79" not in provs and "01" in provs, "hn's province options %r" % provs)

        p.stop()
        p = None
        agg.stop()
        # the centre's totals: the correction's values, the retraction's nothing
        d = query(agg.store, "--year", "2026", "--months", "11", "--by", "activity")
        check_totals(d)
    finally:
        if p:
            try:
                p.stop()
            except Fail:
                pass
        if agg.proc:
            agg.proc.kill()
            agg.proc.wait()


def check_totals(d):
    """Exactly one live event: KC3b in 79 as corrected (1,500,000,000 dong, 3 facilities); the
    retracted KC1 counts nothing; the rejected reuse of an event_id nothing."""
    text = json.dumps(d, ensure_ascii=False)[:2000]
    want = {m: 0 for m in d["totals"]}
    want.update(amount_vnd=1500000000, facilities=3)
    check(d["totals"] == want and d["events"] == 1,
          "the centre's totals are not exactly the corrected entry: %s" % text)
    rows = [(r["key"], r["events"], r["totals"]) for r in d.get("rows", [])
            if r["events"] or any(r["totals"].values())]
    check(rows == [("KC3b", 1, want)], "the centre's rows by activity: %s" % text)


def main():
    work = tempfile.mkdtemp(prefix="kc-office-pages-")
    try:
        t_pages(work)
    except Fail as e:
        print("FAIL pages: %s (work dir %s)" % (e, work))
        for log in ("daemon.log", "centre/aggregator.err"):
            path = os.path.join(work, log)
            if os.path.exists(path):
                print("--- %s" % log)
                print(open(path, encoding="utf-8", errors="replace").read()[-3000:])
        return 1
    print("ok pages")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
