#!/usr/bin/python3
"""tests/office: kc-office's upload pages (issue 17 step 2) against a real kc-office.

Each check runs a real kc-office (office_test.py's Portal: the daemon on 127.0.0.1 port 0, stopped
by pid with SIGTERM, exit 0 required, so a leak under the sanitizer build fails the check). The
spreadsheets are made by openpyxl and zipfile (not our code), the requests by http.client with
multipart bodies built here.

  upload_test.py            run every check; print "ok NAME" per check, exit 0 or 1
  upload_test.py NAME...    run only these checks

Needs KC_BIN_DIR and KC_LOCALEDIR (ctest sets them: the Vietnamese messages come from the build
tree's catalogue).
"""
import io
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
import uuid
import zipfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import office_test as ot  # noqa: E402  (Portal, Client, check_headers)

import openpyxl  # noqa: E402

check = ot.check
Fail = ot.Fail
ID_RE = re.compile(r"^/upload/([0-9a-f]{32})$")
HEADER = ["event_id", "province", "year", "month", "activity", "kind", "fund", "amount_vnd",
          "persons", "facilities"]


def xlsx_bytes(rows, header=HEADER):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Báo cáo"
    ws.append(header)
    for r in rows:
        ws.append(list(r))
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def multipart(fields, files):
    """fields: {name: value}; files: [(field, filename, bytes, content type)]."""
    boundary = "----kc" + uuid.uuid4().hex
    out = io.BytesIO()
    for k, v in fields.items():
        out.write(("--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n"
                   % (boundary, k, v)).encode())
    for field, name, data, ctype in files:
        out.write(("--%s\r\nContent-Disposition: form-data; name=\"%s\"; filename=\"%s\"\r\n"
                   "Content-Type: %s\r\n\r\n" % (boundary, field, name, ctype)).encode())
        out.write(data)
        out.write(b"\r\n")
    out.write(("--%s--\r\n" % boundary).encode())
    return out.getvalue(), "multipart/form-data; boundary=" + boundary


def upload(c, name, data, csrf=None, ctype="application/octet-stream", cookies=None):
    fields = {} if csrf is False else {"csrf": csrf or c.csrf("/upload")}
    body, ct = multipart(fields, [("file", name, data, ctype)])
    return c.request("POST", "/upload", body=body, headers={"Content-Type": ct}, cookies=cookies)


def uploads(p):
    d = os.path.join(p.data, "uploads")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def kept_id(r, what):
    loc = r.header("Location") or ""
    m = ID_RE.match(loc)
    check(r.status == 303 and m, "%s: %d %r, expected 303 /upload/<id>: %s"
          % (what, r.status, loc, r.body[-600:]))
    return m.group(1)


def signed_in(work, *users):
    p = ot.Portal(work)
    for office, user in users:
        p.add_user(office, user)
    p.start()
    clients = []
    for office, user in users:
        c = ot.Client(p)
        check(c.login(office, user).status == 303, "login %s/%s" % (office, user))
        clients.append(c)
    return p, clients


GOOD = [("HCM-2026-03-001", "79", 2026, 3, "vocational_training", "actual", "kcdp", 150000000, 35,
         None),
        ("HCM-2026-03-002", "Hồ Chí Minh", 2026, 3, "KC3b", "actual", "kcdp", 200000000, None, 2),
        ("HCM-2026-03-003", "79", 2026, 3, "Hội chợ, triển lãm", "plan", "kcqg", 50000000, None,
         None)]

BAD = [("HCM-2026-04-001", "79", 2026, 4, "vocational_training", "actual", "kcdp", 150000000, 35,
        None),
       ("HCM-2026-04-002", "79", 2026, 4, "machinary", "actual", "kcdp", 100000000, None, 1),
       ("HCM-2026-04-003", "79", 2026, 4, "KC3b", "actual", "kcdp", "12abc", None, 1),
       ("HCM-2026-04-004", "01", 2026, 4, "KC3b", "actual", "kcdp", 10000000, None, 1),
       ("HCM-2026-04-001", "79", 2026, 4, "KC3b", "actual", "kcdp", 5000000, None, 1)]


# ---- the checks ---------------------------------------------------------------------------

def t_good(work):
    p, (c,) = signed_in(work, ("hcm", "lan"))
    try:
        r = c.get("/upload")
        check(r.status == 200, "GET /upload: %d" % r.status)
        ot.check_headers(r, "GET /upload")
        for want in ('enctype="multipart/form-data"', 'type="file"',
                     'accept=".xlsx,.ods,.csv', 'name="csrf"', 'href="/upload/template.xlsx"',
                     "Tải lên và kiểm tra"):
            check(want in r.body, "the upload form lacks %r" % want)
        check("<script" not in r.body and "style=" not in r.body, "inline script or style")
        # the template: a workbook openpyxl reads, Vietnamese headers
        r = c.request("GET", "/upload/template.xlsx")
        check(r.status == 200 and (r.header("Content-Type") or "").startswith(
            "application/vnd.openxmlformats"), "template: %d %s" % (r.status,
                                                                   r.header("Content-Type")))
        check("attachment" in (r.header("Content-Disposition") or ""), "template not attachment")
        ot.check_headers(r, "template")
        # (Resp decodes bodies as text; fetch the bytes again raw)
        raw = raw_get(p, c, "/upload/template.xlsx")
        wb = openpyxl.load_workbook(io.BytesIO(raw))
        heads = [str(v.value) for v in next(wb.worksheets[0].iter_rows(max_row=1))]
        check(any("Tỉnh" in h for h in heads), "template headers not Vietnamese: %r" % heads)
        # a good workbook
        name = "báo cáo tháng 3.xlsx"
        r = upload(c, name, xlsx_bytes(GOOD))
        uid = kept_id(r, "good xlsx")
        files = uploads(p)
        check(files == ["hcm-%s.meta" % uid, "hcm-%s.xlsx" % uid],
              "uploads/ holds %r" % files)
        for f in files:
            mode = os.stat(os.path.join(p.data, "uploads", f)).st_mode & 0o777
            check(mode == 0o600, "%s mode %o" % (f, mode))
        r = c.get("/upload/" + uid)
        check(r.status == 200, "preview: %d" % r.status)
        ot.check_headers(r, "preview")
        check(r.header("Cache-Control") == "no-store", "preview cacheable")
        check("<script" not in r.body and "style=" not in r.body, "inline script or style")
        check('id="file-name">báo cáo tháng 3.xlsx<' in r.body, "file name not shown")
        check("3 dòng hợp lệ, 0 dòng có lỗi" in r.body, "counts: %s" % counts(r.body))
        for row, eid in ((2, "HCM-2026-03-001"), (3, "HCM-2026-03-002"), (4, "HCM-2026-03-003")):
            m = re.search(r'<tr class="good" id="row-%d">(.*?)</tr>' % row, r.body)
            check(m and eid in m.group(1), "row %d (%s) not in the preview" % (row, eid))
        row2 = re.search(r'id="row-2">(.*?)</tr>', r.body).group(1)
        for want in ("79 Hồ Chí Minh", "2026-03", "KC1", "150.000.000", ">35<", "Hợp lệ"):
            check(want in row2 or want.strip("<>") in row2, "row 2 lacks %r: %s" % (want, row2))
        check("kế hoạch" in r.body, "the plan row is not marked as a plan")
        check('id="send-all"' in r.body and 'value="send"' in r.body, "no send-all button")
        check('id="send-valid"' not in r.body, "send-valid offered with every row valid")
        check(hcm_only(r.body), "another office's upload")
        # English
        r = c.get("/upload/%s?lang=en" % uid)
        check("3 valid rows, 0 rows with problems" in r.body and "150,000,000" in r.body and
              "Send all 3 rows" in r.body, "English preview: %s" % counts(r.body))
        c.get("/upload?lang=vi")
        # HEAD
        r = c.request("HEAD", "/upload/" + uid)
        check(r.status == 200 and r.body == "", "HEAD preview: %d" % r.status)
        # nothing was sent by looking: the file is still there
        check(len(uploads(p)) == 2, "preview changed uploads/: %r" % uploads(p))
        # a CSV (by content, whatever its name) is previewed too
        csv = ("event_id,province,year,month,activity,amount_vnd,persons\r\n"
               "HCM-C-1,79,2026,5,KC1,1.000.000,3\r\n").encode()
        uid2 = kept_id(upload(c, "bang-tinh.xlsx", csv), "CSV named .xlsx")
        check(os.path.exists(os.path.join(p.data, "uploads", "hcm-%s.csv" % uid2)),
              "a CSV not kept as .csv: %r" % uploads(p))
        r = c.get("/upload/" + uid2)
        check(r.status == 200 and "1 dòng hợp lệ" in r.body and "HCM-C-1" in r.body,
              "CSV preview: %d %s" % (r.status, counts(r.body)))
        # discard
        tok = c.csrf("/upload/" + uid2)
        r = c.post("/upload/" + uid2, {"csrf": tok, "action": "discard"})
        check(r.status == 303 and r.header("Location") == "/upload", "discard: %d" % r.status)
        check(c.get("/upload/" + uid2).status == 404, "a discarded upload is still shown")
        check(not any(uid2 in f for f in uploads(p)), "discard left %r" % uploads(p))
    finally:
        p.stop()


def raw_get(p, c, path):
    import http.client
    conn = http.client.HTTPConnection(p.host, p.port, timeout=30)
    try:
        conn.request("GET", path, headers={
            "Cookie": "; ".join("%s=%s" % kv for kv in c.jar.items())})
        r = conn.getresponse()
        check(r.status == 200, "GET %s: %d" % (path, r.status))
        return r.read()
    finally:
        conn.close()


def counts(body):
    m = re.search(r'id="counts">([^<]*)<', body)
    return m.group(1) if m else "(no counts)"


def hcm_only(body):
    return "hn-" not in body


def t_errors(work):
    p, (c,) = signed_in(work, ("hcm", "lan"))
    try:
        uid = kept_id(upload(c, "thang4.xlsx", xlsx_bytes(BAD)), "xlsx with errors")
        r = c.get("/upload/" + uid)
        check(r.status == 200, "preview: %d" % r.status)
        check("1 dòng hợp lệ, 4 dòng có lỗi" in r.body, "counts: %s" % counts(r.body))
        check('id="send-all"' not in r.body, "send-all offered with bad rows")
        check('id="send-valid"' in r.body and "Chỉ gửi 1 dòng hợp lệ" in r.body,
              "no send-valid choice")
        rows = {int(m.group(1)): m.group(0) for m in
                re.finditer(r'<tr class="\w+" id="row-(\d+)">.*?</tr>', r.body)}
        check(sorted(rows) == [2, 3, 4, 5, 6], "rows shown: %r" % sorted(rows))
        check('class="good"' in rows[2], "row 2 is not good")
        # the import layer's messages, in Vietnamese, with what to do, naming the clerk's file
        check("không có hoạt động &#39;machinary&#39;" in rows[3], "row 3: %s" % rows[3])
        check("thang4.xlsx [Báo cáo] dòng 3, cột E (activity)" in rows[3],
              "row 3 does not say where, in Vietnamese: %s" % rows[3])
        check("không phải là số" in rows[4] and "chỉ ghi chữ số" in rows[4],
              "row 4: %s" % rows[4])
        # the portal's own rule: a province of another office
        check("tỉnh 01 (Hà Nội) không thuộc đơn vị của bạn" in rows[5] and "79 (Hồ Chí Minh)"
              in rows[5], "row 5 (province 01): %s" % rows[5])
        # and an event_id used twice in the file
        check("mã sự kiện HCM-2026-04-001 đã có ở dòng 2" in rows[6], "row 6: %s" % rows[6])
        check("hcm-" not in r.body, "the server's file name is shown: %s" %
              re.findall(r"hcm-[0-9a-f]+", r.body)[:2])
        # English toggle
        r = c.get("/upload/%s?lang=en" % uid)
        check(r.status == 200 and "1 valid rows, 4 rows with problems" in r.body,
              "English counts: %s" % counts(r.body))
        for want in ("unknown activity &#39;machinary&#39;", "is not a number",
                     "province 01 (Hà Nội) is not one of your office&#39;s",
                     "Send only the 1 valid rows", "thang4.xlsx [Báo cáo] row 3, column E",
                     "event_id HCM-2026-04-001 is already used in row 2 of this file"):
            check(want in r.body, "English preview lacks %r" % want)
        check("không có hoạt động" not in r.body, "Vietnamese import messages in English page")
        c.get("/upload?lang=vi")
        # send-all is refused when a row is bad; no action is refused; nothing sent either way
        tok = c.csrf("/upload/" + uid)
        r = c.post("/upload/" + uid, {"csrf": tok, "action": "send"})
        check(r.status == 409 and "Chưa gửi gì" in r.body, "send with bad rows: %d" % r.status)
        r = c.post("/upload/" + uid, {"csrf": tok})
        check(r.status == 400 and "Chưa gửi gì" in r.body, "no action: %d" % r.status)
        r = c.post("/upload/" + uid, {"csrf": tok, "action": "send_everything"})
        check(r.status == 400, "unknown action: %d" % r.status)
        check(c.get("/upload/" + uid).status == 200, "the upload is gone after a refusal")
        # a file whose header is wrong: the whole file's problem, nothing to send
        hdr = xlsx_bytes([("x", "79", 2026, 1)], header=["event_id", "tinh", "year", "month"])
        uid3 = kept_id(upload(c, "header.xlsx", hdr), "bad header")
        r = c.get("/upload/" + uid3)
        check(r.status == 200 and 'id="file-problems"' in r.body and
              'id="send-all"' not in r.body and 'id="send-valid"' not in r.body,
              "bad header preview: %d" % r.status)
    finally:
        p.stop()


def t_bad_files(work):
    p, (c,) = signed_in(work, ("hcm", "lan"))
    try:
        cases = [("a renamed PDF", "bao-cao.xlsx", b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n" +
                  b"\x00" * 300, 415, "một tài liệu PDF"),
                 ("a renamed program", "bao-cao.xlsx", b"MZ\x90\x00\x03" + bytes(range(256)) * 4,
                  415, "một chương trình Windows"),
                 ("an old .xls", "bao-cao.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" +
                  b"\x00" * 600, 415, "Excel 97-2003 (.xls)"),
                 ("binary data", "bao-cao.csv", bytes(range(256)) * 8, 415, "dữ liệu nhị phân"),
                 ("an empty file", "bao-cao.xlsx", b"", 422, "rỗng"),
                 ("a Word document", "bao-cao.xlsx", docx_bytes(), 422,
                  "Không đọc được tệp “bao-cao.xlsx” như một bảng tính"),
                 ("a corrupt workbook", "bao-cao.xlsx", xlsx_bytes(GOOD)[:3000], 422,
                  "Không đọc được tệp")]
        for what, name, data, status, want in cases:
            r = upload(c, name, data)
            check(r.status == status and want in r.body,
                  "%s: %d, expected %d with %r: %s" % (what, r.status, status, want,
                                                       alert(r.body)))
            check("bao-cao" in alert(r.body), "%s: the message does not name the file" % what)
            check("up-" not in r.body and p.data not in r.body, "%s: a server path shown" % what)
            check(uploads(p) == [], "%s: kept %r" % (what, uploads(p)))
        c.get("/upload?lang=en")
        r = upload(c, "bao-cao.xlsx", b"%PDF-1.7\n" + b"\x00" * 10)
        check(r.status == 415 and "is not an .xlsx, .ods or .csv spreadsheet" in r.body and
              "a PDF document" in r.body, "English refusal: %s" % alert(r.body))
        c.get("/upload?lang=vi")
        # no file part at all
        body, ct = multipart({"csrf": c.csrf("/upload")}, [])
        r = c.request("POST", "/upload", body=body, headers={"Content-Type": ct})
        check(r.status == 400 and "Chưa chọn tệp" in r.body, "no file: %d" % r.status)
        check(c.get("/").status == 200, "still serving")
    finally:
        p.stop()


def alert(body):
    m = re.search(r'role="alert"[^>]*>([^<]*)<', body)
    return m.group(1) if m else "(no alert)"


def docx_bytes():
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types xmlns="http://schemas.'
                   'openxmlformats.org/package/2006/content-types"/>')
        z.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


def bomb_bytes(inflated):
    """A workbook whose sheet XML inflates to `inflated` bytes (whitespace inside sheetData)."""
    good = xlsx_bytes(GOOD)
    src = zipfile.ZipFile(io.BytesIO(good))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                z.writestr(info.filename, src.read(info.filename))
                continue
            xml = src.read(info.filename).decode()
            head, tail = xml.split("<sheetData>", 1)
            with z.open(info.filename, "w", force_zip64=True) as w:
                w.write((head + "<sheetData>").encode())
                chunk = b" " * (1 << 20)
                for _ in range(inflated >> 20):
                    w.write(chunk)
                w.write(tail.encode())
    return buf.getvalue()


def t_bombs(work):
    p, (c,) = signed_in(work, ("hcm", "lan"))
    try:
        # a zip bomb: 300 MiB of sheet XML in well under a megabyte
        bomb = bomb_bytes(300 << 20)
        check(len(bomb) < 2 << 20, "the bomb is %d bytes" % len(bomb))
        t0 = time.monotonic()
        r = upload(c, "bom.xlsx", bomb)
        took = time.monotonic() - t0
        check(r.status == 422 and "quá lớn khi giải nén" in r.body,
              "zip bomb: %d %s" % (r.status, alert(r.body)))
        check("zip bomb" in r.body and "bom.xlsx" in r.body,
              "zip bomb: no detail naming the file: %s" % r.body[-800:])
        check(uploads(p) == [], "zip bomb kept: %r" % uploads(p))
        print("  zip bomb refused in %.1f s" % took)
        # a CSV of a million rows (2 MB): refused quickly, while the portal keeps serving
        big = b"event_id,province,year,month,activity,amount_vnd\n" + b"x\n" * 1000000
        result = {}

        def go():
            t = time.monotonic()
            try:
                result["r"] = upload(ot.Client(p), "trieu-dong.csv", big, csrf=tok,
                                     cookies=c.jar)
            except OSError as e:
                result["error"] = e
            result["took"] = time.monotonic() - t
        tok = c.csrf("/upload")
        th = threading.Thread(target=go)
        th.start()
        r2 = c.get("/")
        th.join(60)
        check(not th.is_alive(), "the million-row upload took over 60 s")
        check(r2.status == 200, "the portal did not answer during the upload: %d" % r2.status)
        check("r" in result, "the million-row upload got no answer after %.1f s: %s"
              % (result.get("took", 0), result.get("error")))
        r = result["r"]
        check(r.status == 422 and "hơn 5000 dòng" in r.body and "chia thành nhiều tệp" in r.body,
              "million rows: %d %s" % (r.status, alert(r.body)))
        check(result["took"] < 15, "a million rows took %.1f s to refuse" % result["took"])
        check(uploads(p) == [], "million rows kept: %r" % uploads(p))
        print("  1,000,000-row CSV refused in %.2f s" % result["took"])
        # 5,000 rows are fine
        ok = b"event_id,province,year,month,activity,amount_vnd\n" + b"".join(
            b"R-%d,79,2026,6,KC1,1000\n" % i for i in range(5000))
        uid = kept_id(upload(c, "5000.csv", ok), "5000 rows")
        r = c.get("/upload/" + uid)
        check(r.status == 200 and "5000 dòng hợp lệ, 0 dòng có lỗi" in r.body,
              "5000 rows: %s" % counts(r.body))
        # over the size bound: 413, nothing left behind
        huge = b"event_id,province,year,month,activity,amount_vnd\n" + b"R,79,2026,6,KC1,1\n" * (
            (11 << 20) // 18)
        status = raw_upload(p, c, "huge.csv", huge, chunked=False)
        check(status == 413, "11 MiB upload: %s" % status)
        status = raw_upload(p, c, "huge.csv", huge, chunked=True)
        check(status in (413, None), "11 MiB chunked upload: %s" % status)
        # the dispatcher removes the partial file when the request completes, just after the
        # answer: a bounded wait for it
        deadline = time.monotonic() + 10
        while [f for f in uploads(p) if uid not in f] and time.monotonic() < deadline:
            time.sleep(0.05)
        check([f for f in uploads(p) if uid not in f] == [], "413 left %r" % uploads(p))
        check(c.get("/upload").status == 200, "still serving after 413")
    finally:
        p.stop()


def raw_upload(p, c, name, data, chunked):
    """POST /upload by hand (the server may answer before the body is sent): status or None."""
    tok = c.csrf("/upload")
    body, ct = multipart({"csrf": tok}, [("file", name, data, "text/csv")])
    head = ("POST /upload HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: %s\r\nCookie: %s\r\n"
            % (p.host, p.port, ct, "; ".join("%s=%s" % kv for kv in c.jar.items())))
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else "Content-Length: %d\r\n\r\n" % len(
        body)
    s = socket.create_connection((p.host, p.port), timeout=30)
    try:
        s.sendall(head.encode())
        try:
            if chunked:
                for i in range(0, len(body), 65536):
                    part = body[i:i + 65536]
                    s.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
                s.sendall(b"0\r\n\r\n")
            else:
                s.sendall(body)
        except OSError:
            pass
        resp = b""
        try:
            while b"\r\n" not in resp:
                got = s.recv(4096)
                if not got:
                    break
                resp += got
        except OSError:
            pass
        m = re.match(rb"HTTP/1\.[01] (\d{3})", resp)
        return int(m.group(1)) if m else None
    finally:
        s.close()


def t_access(work):
    p, (c, other) = signed_in(work, ("hcm", "lan"), ("hn", "minh"))
    try:
        uid = kept_id(upload(c, "bao-cao.xlsx", xlsx_bytes(GOOD)), "good xlsx")
        before = uploads(p)
        # another office's user: the same answer as for no such upload
        r = other.get("/upload/" + uid)
        check(r.status == 404 and "bao-cao" not in r.body and "HCM-2026" not in r.body,
              "hn sees hcm's upload: %d" % r.status)
        tok = other.csrf("/upload")
        for action in ("send", "send_valid", "discard"):
            r = other.post("/upload/" + uid, {"csrf": tok, "action": action})
            check(r.status == 404, "hn %s of hcm's upload: %d" % (action, r.status))
        check(uploads(p) == before, "another office changed the upload: %r" % uploads(p))
        # no session
        anon = ot.Client(p)
        r = anon.get("/upload")
        check(r.status == 303 and r.header("Location") == "/login", "GET /upload signed out")
        r = anon.get("/upload/" + uid)
        check(r.status == 303 and r.header("Location") == "/login", "preview signed out")
        r = upload(anon, "x.csv", b"a,b\n", csrf="0" * 64)
        check(r.status == 403, "upload without a session: %d" % r.status)
        r = anon.post("/upload/" + uid, {"csrf": "0" * 64, "action": "discard"})
        check(r.status == 403, "discard without a session: %d" % r.status)
        # CSRF: missing, wrong, another session's
        theirs = other.csrf("/upload")
        for what, tokv in (("missing", False), ("wrong", "0" * 64), ("other session's", theirs)):
            r = upload(c, "x.csv", b"event_id,province\nA,79\n", csrf=tokv)
            check(r.status == 403 and "CSRF" in r.body, "%s CSRF on upload: %d" % (what, r.status))
            fields = {"action": "discard"}
            if tokv:
                fields["csrf"] = tokv
            r = c.post("/upload/" + uid, fields)
            check(r.status == 403, "%s CSRF on discard: %d" % (what, r.status))
        check(uploads(p) == before, "a refused request changed uploads/: %r" % uploads(p))
        # traversal-looking ids: 404, nothing read
        for path in ("/upload/../../etc/passwd", "/upload/..%2f..%2fetc%2fpasswd",
                     "/upload/%2e%2e/%2e%2e/etc/passwd", "/upload/" + uid + "/../x",
                     "/upload/" + uid.upper(), "/upload/" + uid + ".meta",
                     "/upload/" + uid[:-1], "/upload/hcm-" + uid, "/upload/" + uid + "%00",
                     "/upload/template.xlsx/..", "/upload/"):
            r = c.get(path)
            check(r.status == 404 and "root:" not in r.body, "GET %s: %d" % (path, r.status))
        r = c.post("/upload/../../etc/passwd", {"csrf": c.csrf("/upload"), "action": "discard"})
        check(r.status == 404, "POST traversal: %d" % r.status)
        # a traversal-looking or hostile file name: never a path, shown escaped
        for name in ("../../etc/passwd", "..\\..\\boot.ini", "<b>x</b>\".csv"):
            r = upload(c, name, b"event_id,province,year,month,activity,amount_vnd\n"
                       b"T-1,79,2026,1,KC1,5\n")
            nid = kept_id(r, "file named %r" % name)
            check(os.path.exists(os.path.join(p.data, "uploads", "hcm-%s.csv" % nid)),
                  "%r not kept under the server's name: %r" % (name, uploads(p)))
            r = c.get("/upload/" + nid)
            check(r.status == 200 and "<b>x</b>" not in r.body, "%r preview" % name)
        check(not os.path.exists(os.path.join(work, "etc")) and
              not os.path.exists(os.path.join(p.data, "etc")), "a file written outside uploads/")
        check(all(re.fullmatch(r"hcm-[0-9a-f]{32}\.(csv|xlsx|meta)", f) for f in uploads(p)),
              "uploads/ holds %r" % uploads(p))
        # a POST to /upload/<id> with a file part: a bad form
        body, ct = multipart({"csrf": c.csrf("/upload"), "action": "send"},
                             [("file", "x.csv", b"a\n", "text/csv")])
        r = c.request("POST", "/upload/" + uid, body=body, headers={"Content-Type": ct})
        check(r.status == 400, "file part on /upload/<id>: %d" % r.status)
    finally:
        p.stop()


def t_old(work):
    p, (c,) = signed_in(work, ("hcm", "lan"))
    try:
        old = kept_id(upload(c, "cu.xlsx", xlsx_bytes(GOOD)), "first")
        stale = os.path.join(p.data, "uploads", "up-abc123")
        open(stale, "wb").close()
        day = time.time() - 25 * 3600
        for f in uploads(p):
            os.utime(os.path.join(p.data, "uploads", f), (day, day))
        young = kept_id(upload(c, "moi.xlsx", xlsx_bytes(GOOD)), "second")
        check(c.get("/upload/" + old).status == 404, "a 25-hour-old upload is still there")
        check(c.get("/upload/" + young).status == 200, "the new upload is gone")
        check(uploads(p) == ["hcm-%s.meta" % young, "hcm-%s.xlsx" % young],
              "uploads/ holds %r" % uploads(p))
    finally:
        p.stop()


class Aggregator:
    """A real kc-aggregator on 127.0.0.1 (plaintext: loopback), its endpoint from --ready-file."""

    def __init__(self, work):
        bindir = os.path.dirname(ot.BIN)
        self.bindir = bindir
        self.store = os.path.join(work, "centre", "store")
        ready = os.path.join(work, "centre", "ready")
        os.makedirs(os.path.dirname(self.store))
        self.errf = open(os.path.join(work, "centre", "aggregator.err"), "w")
        self.proc = subprocess.Popen(
            [os.path.join(bindir, "kc-aggregator"), "--listen", "tcp://127.0.0.1:*", "--store",
             self.store, "--ready-file", ready, "--log-level", "warn"],
            stdout=subprocess.DEVNULL, stderr=self.errf)
        deadline = time.monotonic() + 30
        self.endpoint = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Fail("kc-aggregator exited %d before it was ready" % self.proc.returncode)
            if os.path.exists(ready):
                line = open(ready).readline().strip()
                if line.startswith("tcp://"):
                    self.endpoint = line
                    break
            time.sleep(0.02)
        if not self.endpoint:
            self.stop()
            raise Fail("kc-aggregator not ready within 30 s")

    def query(self, *args):
        r = subprocess.run([os.path.join(self.bindir, "kc-query"), "--store", self.store,
                            "--no-config", "--format", "json"] + list(args),
                           capture_output=True, text=True, timeout=60, check=False)
        check(r.returncode == 0, "kc-query %s: exit %d: %s" % (args, r.returncode, r.stderr))
        return json.loads(r.stdout)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                rc = "timeout"
            self.errf.close()
            check(rc == 0, "kc-aggregator exited %s on SIGTERM" % rc)


def amounts(doc):
    """{metric: value} of a kc-query JSON answer's total."""
    tot = doc.get("total") or doc.get("totals") or {}
    if isinstance(tot, dict) and "metrics" in tot:
        tot = tot["metrics"]
    return {k: int(v) for k, v in tot.items() if isinstance(v, (int, str)) and str(v).isdigit()}


def t_send(work):
    """Upload, preview, send to a real kc-aggregator; only what the clerk chose arrives."""
    agg = Aggregator(work)
    p = None
    try:
        p = ot.Portal(work)
        conf = open(p.conf, encoding="utf-8").read().replace(
            "office-centre = hcm=tcp://127.0.0.1:5555", "office-centre = hcm=" + agg.endpoint)
        open(p.conf, "w", encoding="utf-8").write(conf)
        p.add_user("hcm", "lan")
        p.start()
        c = ot.Client(p)
        check(c.login("hcm", "lan").status == 303, "login")
        # uploaded and previewed: nothing reaches the centre
        uid = kept_id(upload(c, "thang4.xlsx", xlsx_bytes(BAD)), "xlsx with errors")
        check(c.get("/upload/" + uid).status == 200, "preview")
        tok = c.csrf("/upload/" + uid)
        check(c.post("/upload/" + uid, {"csrf": tok, "action": "send"}).status == 409,
              "send-all of a file with errors")
        # the clerk fixes the file and uploads it again, then sends every row
        uid = kept_id(upload(c, "thang3.xlsx", xlsx_bytes(GOOD)), "fixed xlsx")
        tok = c.csrf("/upload/" + uid)
        results = []

        def send():
            results.append(c.post("/upload/" + uid, {"csrf": tok, "action": "send"},
                                  cookies=dict(c.jar)))
        ths = [threading.Thread(target=send) for _ in range(2)]
        for th in ths:
            th.start()
        for th in ths:
            th.join(60)
        codes = sorted(r.status for r in results)
        check(codes == [303, 404], "two sends of one upload: %r" % codes)
        loc = [r for r in results if r.status == 303][0].header("Location") or ""
        check(re.fullmatch(r"/submissions/\d+", loc), "send went to %r" % loc)
        check(not any(uid in f for f in uploads(p)), "a sent upload is kept: %r" % uploads(p))
        check(c.get("/upload/" + uid).status == 404, "a sent upload is still shown")
        # the file with errors: only its valid row, by the clerk's explicit choice
        uid = kept_id(upload(c, "thang4.xlsx", xlsx_bytes(BAD)), "xlsx with errors")
        tok = c.csrf("/upload/" + uid)
        r = c.post("/upload/" + uid, {"csrf": tok, "action": "send_valid"})
        check(r.status == 303 and re.fullmatch(r"/submissions/\d+", r.header("Location") or ""),
              "send_valid: %d %s" % (r.status, alert(r.body)))
        # the centre's totals: March 150M + 200M actual (the plan row apart), April 150M
        want = {(3, "actual"): 350000000, (3, "plan"): 50000000, (4, "actual"): 150000000}
        deadline = time.monotonic() + 60
        while True:
            got = {}
            for (month, kind) in want:
                doc = agg.query("--year", "2026", "--months", str(month), "--province", "79",
                                "--kind", kind)
                got[(month, kind)] = amounts(doc).get("amount_vnd", 0)
            if got == want or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        check(got == want, "the centre's totals %r, expected %r" % (got, want))
        r = c.get(loc)
        check(r.status == 200 and "HCM-2026-03-001" in r.body,
              "the submission page %s: %d" % (loc, r.status))
    finally:
        if p:
            p.stop()
        agg.stop()


CHECKS = [("good", t_good), ("errors", t_errors), ("bad_files", t_bad_files),
          ("bombs", t_bombs), ("access", t_access), ("old", t_old),
          ("send", t_send)]


def main(argv):
    want = set(argv[1:])
    failed = 0
    for name, fn in CHECKS:
        if want and name not in want:
            continue
        work = tempfile.mkdtemp(prefix="kc-upload-%s-" % name)
        try:
            fn(work)
            print("ok %s" % name)
            shutil.rmtree(work, ignore_errors=True)
        except Exception as e:  # pylint: disable=broad-except
            failed += 1
            what = str(e) if isinstance(e, Fail) else "%s: %s" % (type(e).__name__, e)
            print("FAIL %s: %s (work dir %s)" % (name, what, work))
            log = os.path.join(work, "daemon.log")
            if os.path.exists(log):
                print(open(log, encoding="utf-8", errors="replace").read()[-3000:])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
