#!/usr/bin/python3
"""tests/office: a real kc-office (issue 17, first step: accounts, sessions, transport rules).

Each check runs real kc-office processes: `kc-office user ...` on the portal's LMDB, and the
daemon on 127.0.0.1 port 0 (its URL read from --ready-file, a bounded wait), stopped by pid with
SIGTERM (exit 0 required: under the sanitizer build a leak fails it). The client is Python's
http.client and ssl (not our code); cookies are kept by hand so that every attribute is seen.

  office_test.py            run every check; print "ok NAME" per check, exit 0 or 1
  office_test.py NAME...    run only these checks

Needs KC_BIN_DIR (ctest sets it) and openssl (the HTTPS check makes a self-signed certificate).
"""
import http.client
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

BIN = os.path.join(os.environ.get("KC_BIN_DIR", "build/bin"), "kc-office")
PASSWORD = "mật-khẩu-đúng-1"
HCM_NAME = "Sở Công Thương TP. Hồ Chí Minh"
HN_NAME = "Sở Công Thương Hà Nội"


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


class Portal:
    """A work directory with office.conf and the portal's data directory."""

    def __init__(self, work, extra=""):
        self.work = work
        self.data = os.path.join(work, "data")
        self.conf = os.path.join(work, "office.conf")
        with open(self.conf, "w", encoding="utf-8") as f:
            f.write("# kc-office test configuration\n"
                    "office = hcm:79:%s\n"
                    "office-centre = hcm=tcp://127.0.0.1:5555\n"
                    "office-spool = hcm=%s/spool-hcm\n"
                    "office-producer = hcm=office-hcm\n"
                    "office = hn:01:%s\n"
                    "office-centre = hn=tcp://127.0.0.1:5555\n"
                    "office-spool = hn=%s/spool-hn\n"
                    "office-producer = hn=office-hn\n"
                    "data = %s\n%s" % (HCM_NAME, work, HN_NAME, work, self.data, extra))
        self.proc = None
        self.url = None

    def run(self, *args, stdin=None):
        try:
            p = subprocess.run([BIN, "--config", self.conf] + list(args), input=stdin,
                               capture_output=True, text=True, timeout=60, check=False)
        except subprocess.TimeoutExpired:
            raise Fail("kc-office %s did not exit within 60 s" % " ".join(args)) from None
        return p.returncode, p.stdout, p.stderr

    def add_user(self, office, user, password=PASSWORD):
        rc, _, err = self.run("user", "add", "--office", office, "--user", user,
                              "--password-stdin", stdin=password + "\n")
        check(rc == 0, "user add %s/%s: exit %d: %s" % (office, user, rc, err))

    def start(self, *args):
        ready = os.path.join(self.work, "ready")
        if os.path.exists(ready):
            os.unlink(ready)
        self.log = open(os.path.join(self.work, "daemon.log"), "a", encoding="utf-8")
        self.proc = subprocess.Popen([BIN, "--config", self.conf, "--listen", "127.0.0.1:0",
                                      "--ready-file", ready] + list(args),
                                     stdout=self.log, stderr=self.log)
        deadline = time.monotonic() + 30
        while not os.path.exists(ready):
            if self.proc.poll() is not None:
                raise Fail("kc-office exited %d before serving" % self.proc.returncode)
            if time.monotonic() > deadline:
                raise Fail("kc-office wrote no ready file within 30 s")
            time.sleep(0.02)
        with open(ready, encoding="utf-8") as f:
            self.url = f.read().strip()
        u = urllib.parse.urlsplit(self.url)
        self.scheme, self.host, self.port = u.scheme, u.hostname, u.port
        return self

    def stop(self):
        if not self.proc:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=30)
        finally:
            self.log.close()
        self.proc = None
        check(rc == 0, "kc-office exited %d on SIGTERM (see %s/daemon.log)" % (rc, self.work))


class Resp:
    def __init__(self, r):
        self.status = r.status
        self.headers = r.getheaders()
        self.body = r.read().decode("utf-8", "replace")

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def cookies(self):
        """name -> (value, set of lowercase attributes incl. 'max-age=N')"""
        out = {}
        for k, v in self.headers:
            if k.lower() != "set-cookie":
                continue
            parts = [p.strip() for p in v.split(";")]
            name, _, value = parts[0].partition("=")
            out[name] = (value, {p.lower() for p in parts[1:]})
        return out


class Client:
    """One browser: its own cookies, optionally its own source address."""

    def __init__(self, portal, source="127.0.0.1", cafile=None):
        self.p = portal
        self.source = source
        self.cafile = cafile
        self.jar = {}

    def request(self, method, path, body=None, headers=None, cookies=None):
        if self.p.scheme == "https":
            ctx = ssl.create_default_context(cafile=self.cafile)
            conn = http.client.HTTPSConnection(self.p.host, self.p.port, timeout=30,
                                               context=ctx, source_address=(self.source, 0))
        else:
            conn = http.client.HTTPConnection(self.p.host, self.p.port, timeout=30,
                                              source_address=(self.source, 0))
        h = dict(headers or {})
        jar = self.jar if cookies is None else cookies
        if jar:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in jar.items())
        try:
            conn.request(method, path, body=body, headers=h)
            r = Resp(conn.getresponse())
        finally:
            conn.close()
        if cookies is None:
            for name, (value, attrs) in r.cookies().items():
                if value == "" or "max-age=0" in attrs:
                    self.jar.pop(name, None)
                else:
                    self.jar[name] = value
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, fields, **kw):
        body = urllib.parse.urlencode(fields)
        return self.request("POST", path, body=body,
                            headers={"Content-Type": "application/x-www-form-urlencoded"}, **kw)

    def csrf(self, path):
        r = self.get(path)
        m = re.search(r'name="csrf" value="([0-9a-f]{64})"', r.body)
        check(m, "no CSRF token in the form of %s (status %d)" % (path, r.status))
        return m.group(1)

    def login(self, office, user, password=PASSWORD):
        token = self.csrf("/login")
        return self.post("/login", {"office": office, "user": user, "password": password,
                                    "csrf": token})


SEC_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def check_headers(r, what):
    for k, v in SEC_HEADERS.items():
        check(r.header(k) == v, "%s: %s is %r, expected %r" % (what, k, r.header(k), v))
    csp = r.header("Content-Security-Policy") or ""
    for part in ("default-src 'none'", "frame-ancestors 'none'", "style-src 'self'"):
        check(part in csp, "%s: CSP %r lacks %s" % (what, csp, part))
    check("unsafe-inline" not in csp and "script-src" not in csp,
          "%s: CSP allows scripts or inline code: %r" % (what, csp))


# ---- the checks ---------------------------------------------------------------------------

def t_users(work):
    p = Portal(work)
    p.add_user("hcm", "lan")
    rc, _, err = p.run("user", "add", "--office", "hcm", "--user", "lan", "--password-stdin",
                       stdin=PASSWORD + "\n")
    check(rc == 1 and "exists" in err, "duplicate user add: exit %d: %s" % (rc, err))
    rc, _, err = p.run("user", "add", "--office", "hcm", "--user", "x", "--password-stdin",
                       stdin="short\n")
    check(rc == 64 and "8 to 256" in err, "short password: exit %d: %s" % (rc, err))
    rc, _, err = p.run("user", "add", "--office", "nowhere", "--user", "x", "--password-stdin",
                       stdin=PASSWORD + "\n")
    check(rc == 64 and "no such office" in err, "unknown office: exit %d: %s" % (rc, err))
    rc, _, err = p.run("user", "add", "--office", "hcm", "--user", "../x", "--password-stdin",
                       stdin=PASSWORD + "\n")
    check(rc == 64, "user name with a path: exit %d: %s" % (rc, err))
    p.add_user("hn", "minh")
    rc, out, err = p.run("user", "list")
    lines = sorted(line.split("\t")[:3] for line in out.splitlines())
    check(rc == 0 and lines == [["hcm", "lan", "enabled"], ["hn", "minh", "enabled"]],
          "user list: exit %d: %r %s" % (rc, out, err))
    rc, out, _ = p.run("user", "list", "--office", "hn")
    check(rc == 0 and [l.split("\t")[1] for l in out.splitlines()] == ["minh"],
          "user list --office hn: %r" % out)
    rc, _, err = p.run("user", "disable", "--office", "hcm", "--user", "lan")
    check(rc == 0, "user disable: exit %d: %s" % (rc, err))
    rc, out, _ = p.run("user", "list", "--office", "hcm")
    check("\tdisabled\t" in out, "disabled user not listed as disabled: %r" % out)
    rc, _, _ = p.run("user", "enable", "--office", "hcm", "--user", "lan")
    _, out, _ = p.run("user", "list", "--office", "hcm")
    check(rc == 0 and "\tenabled\t" in out, "user enable: %r" % out)
    rc, _, err = p.run("user", "disable", "--office", "hcm", "--user", "nobody")
    check(rc == 1 and "no user" in err, "disable unknown user: exit %d: %s" % (rc, err))
    rc, _, err = p.run("user", "passwd", "--office", "hcm", "--user", "lan", "--password-stdin",
                       stdin="another-good-password\n")
    check(rc == 0, "user passwd: exit %d: %s" % (rc, err))
    mode = os.stat(p.data).st_mode & 0o777
    check(mode == 0o700, "data directory mode %o, expected 700" % mode)
    # the database holds a hash, never the password
    blob = b"".join(open(os.path.join(p.data, f), "rb").read() for f in os.listdir(p.data))
    check(PASSWORD.encode() not in blob and b"$argon2id$" in blob,
          "the database does not hold argon2id hashes only")


def t_login(work):
    p = Portal(work)
    p.add_user("hcm", "lan")
    p.add_user("hn", "minh")
    p.start()
    try:
        c = Client(p)
        r = c.get("/")
        check(r.status == 303 and r.header("Location") == "/login",
              "GET / signed out: %d %s" % (r.status, r.header("Location")))
        r = c.get("/login")
        check(r.status == 200 and 'lang="vi"' in r.body and "Đăng nhập" in r.body,
              "login page: %d, not Vietnamese" % r.status)
        check_headers(r, "GET /login")
        check(r.header("Cache-Control") == "no-store", "login page cacheable")
        value, attrs = r.cookies()["kc_login"]
        check({"httponly", "samesite=strict", "path=/"} <= attrs and "secure" not in attrs,
              "kc_login cookie attributes over plain HTTP: %s" % attrs)
        check("<script" not in r.body and "style=" not in r.body, "inline script or style")
        # wrong password
        r = c.login("hcm", "lan", "wrong-password")
        check(r.status == 401 and "Sai tên đăng nhập hoặc mật khẩu" in r.body,
              "wrong password: %d" % r.status)
        check("kc_session" not in r.cookies(), "a session cookie after a wrong password")
        # unknown user: the same answer
        r = c.login("hcm", "nobody", PASSWORD)
        check(r.status == 401, "unknown user: %d" % r.status)
        # right password
        r = c.login("hcm", "lan")
        check(r.status == 303 and r.header("Location") == "/", "login: %d" % r.status)
        token, attrs = r.cookies()["kc_session"]
        check(re.fullmatch(r"[0-9a-f]{64}", token), "session token %r is not 32 bytes hex" % token)
        check({"httponly", "samesite=strict", "path=/"} <= attrs and "secure" not in attrs,
              "kc_session cookie attributes over plain HTTP: %s" % attrs)
        blob = b"".join(open(os.path.join(p.data, f), "rb").read() for f in os.listdir(p.data)
                    if os.path.isfile(os.path.join(p.data, f)))
        check(token.encode() not in blob and bytes.fromhex(token) not in blob,
              "the session token is stored as such")
        r = c.get("/")
        check(r.status == 200, "home: %d" % r.status)
        check_headers(r, "GET /")
        for want in (HCM_NAME, "Hồ Chí Minh", ">79<", ">lan<", "Đăng xuất"):
            check(want in r.body, "home page lacks %r" % want)
        for never in ("Hà Nội", HN_NAME, "minh", ">01<", ">hn<"):
            check(never not in r.body, "home page of hcm shows %r (another office)" % never)
        # English toggle
        r = c.get("/?lang=en")
        check(r.status == 200 and 'lang="en"' in r.body and "Your office" in r.body and
              "Sign out" in r.body, "English home page")
        check("kc_lang" in r.cookies(), "no kc_lang cookie from ?lang=en")
        r = c.get("/")
        check('lang="en"' in r.body, "the English choice is not kept")
        c.get("/?lang=vi")
        # the other office's user sees its own office only
        c2 = Client(p)
        r = c2.login("hn", "minh")
        check(r.status == 303, "hn login: %d" % r.status)
        r = c2.get("/")
        check(HN_NAME in r.body and "Hà Nội" in r.body and HCM_NAME not in r.body and
              "Hồ Chí Minh" not in r.body, "hn home page shows another office")
        # a user of one office cannot sign in as another office's
        r = Client(p).login("hn", "lan")
        check(r.status == 401, "hcm's user signed in to hn: %d" % r.status)
        # already signed in: /login leads home
        r = c.get("/login")
        check(r.status == 303 and r.header("Location") == "/", "/login when signed in")
        # static files
        r = c.get("/assets/style.css")
        check(r.status == 200 and r.header("Content-Type").startswith("text/css") and
              "--brand" in r.body, "style.css: %d" % r.status)
        check_headers(r, "style.css")
        r = c.get("/assets/favicon.svg")
        check(r.status == 200 and r.header("Content-Type") == "image/svg+xml", "favicon")
        r = Client(p).request("HEAD", "/login")
        check(r.status == 200 and r.body == "", "HEAD /login: %d" % r.status)
    finally:
        p.stop()


def t_restart_logout(work):
    p = Portal(work)
    p.add_user("hcm", "lan")
    p.start()
    try:
        c = Client(p)
        check(c.login("hcm", "lan").status == 303, "login")
        old = dict(c.jar)
        csrf = c.csrf("/")
    finally:
        p.stop()
    p.start()  # same data directory: the session is in LMDB
    try:
        r = c.get("/")
        check(r.status == 200 and ">lan<" in r.body, "session lost over a restart: %d" % r.status)
        check(c.csrf("/") == csrf, "the CSRF token changed over a restart")
        r = c.post("/logout", {"csrf": csrf})
        check(r.status == 303 and r.header("Location") == "/login", "logout: %d" % r.status)
        _, attrs = r.cookies()["kc_session"]
        check("max-age=0" in attrs, "logout does not clear the cookie: %s" % attrs)
        # the stolen cookie, used after logout
        thief = Client(p)
        thief.jar = dict(old)
        r = thief.get("/")
        check(r.status == 303 and r.header("Location") == "/login",
              "old cookie after logout: %d" % r.status)
        r = thief.post("/logout", {"csrf": csrf})
        check(r.status == 403, "logout with an old cookie: %d" % r.status)
    finally:
        p.stop()
    p.start()
    try:
        thief = Client(p)
        thief.jar = dict(old)
        r = thief.get("/")
        check(r.status == 303, "old cookie after logout and restart: %d" % r.status)
    finally:
        p.stop()


def t_disable(work):
    p = Portal(work)
    p.add_user("hcm", "lan")
    p.start()
    try:
        c = Client(p)
        check(c.login("hcm", "lan").status == 303, "login")
        check(c.get("/").status == 200, "home")
        rc, _, err = p.run("user", "disable", "--office", "hcm", "--user", "lan")
        check(rc == 0, "disable while serving: %d %s" % (rc, err))
        r = c.get("/")
        check(r.status == 303, "a disabled user's session still works: %d" % r.status)
        r = Client(p).login("hcm", "lan")
        check(r.status == 403 and "khoá" in r.body, "disabled user login: %d" % r.status)
        p.run("user", "enable", "--office", "hcm", "--user", "lan")
        r = c.get("/")
        check(r.status == 303, "enable revived an ended session: %d" % r.status)
        check(Client(p).login("hcm", "lan").status == 303, "login after enable")
        # passwd ends sessions too
        c3 = Client(p)
        c3.login("hcm", "lan")
        p.run("user", "passwd", "--office", "hcm", "--user", "lan", "--password-stdin",
              stdin="a-new-password\n")
        check(c3.get("/").status == 303, "a session outlived a password change")
        check(Client(p).login("hcm", "lan", "a-new-password").status == 303, "new password")
    finally:
        p.stop()


def t_csrf(work):
    p = Portal(work)
    p.add_user("hcm", "lan")
    p.add_user("hcm", "hoa")
    p.start()
    try:
        a = Client(p)
        b = Client(p)
        check(a.login("hcm", "lan").status == 303 and b.login("hcm", "hoa").status == 303, "login")
        ta, tb = a.csrf("/"), b.csrf("/")
        check(ta != tb, "two sessions share a CSRF token")
        for what, fields in (("missing", {}), ("wrong", {"csrf": "0" * 64}),
                             ("other session's", {"csrf": tb}), ("malformed", {"csrf": "x"}),
                             ("truncated", {"csrf": ta[:63]})):
            r = a.post("/logout", fields)
            check(r.status == 403 and "CSRF" in r.body,
                  "%s CSRF token on /logout: %d" % (what, r.status))
            check_headers(r, "403")
            check(a.get("/").status == 200, "a refused logout ended the session")
        # sign-in: the form's token must match this browser's kc_login cookie
        c = Client(p)
        r = c.post("/login", {"office": "hcm", "user": "lan", "password": PASSWORD})
        check(r.status == 403 and "CSRF" in r.body, "login without a token: %d" % r.status)
        other = Client(p).csrf("/login")
        c.csrf("/login")
        r = c.post("/login", {"office": "hcm", "user": "lan", "password": PASSWORD,
                              "csrf": other})
        check(r.status == 403, "login with another browser's token: %d" % r.status)
        r = c.post("/login", {"office": "hcm", "user": "lan", "password": PASSWORD,
                              "csrf": ta})
        check(r.status == 403, "login with a session's token: %d" % r.status)
        check(a.post("/logout", {"csrf": ta}).status == 303, "the right token")
    finally:
        p.stop()


def t_throttle(work):
    p = Portal(work)
    p.add_user("hcm", "lan")
    p.add_user("hcm", "tuan")
    p.start()
    try:
        c = Client(p)
        for i in range(5):
            r = c.login("hcm", "tuan", "wrong-%d-password" % i)
            check(r.status == 401, "failure %d: %d" % (i + 1, r.status))
        r = c.login("hcm", "tuan")  # even the right password, while locked
        check(r.status == 429, "6th attempt: %d" % r.status)
        ra = r.header("Retry-After")
        check(ra and ra.isdigit() and 1 <= int(ra) <= 30, "Retry-After %r" % ra)
        check("30" in r.body or ra in r.body, "the 429 page does not say how long")
        # another user still signs in, from the same address
        check(Client(p).login("hcm", "lan").status == 303, "another user blocked")
        # 50 wrong passwords from 8 threads while lan signs in: all refused, lan served
        results = []

        def hammer():
            cl = Client(p)
            for i in range(7):
                results.append(cl.login("hcm", "tuan", "bad-%d" % i).status)
        threads = [threading.Thread(target=hammer) for _ in range(8)]
        t0 = time.monotonic()
        for t in threads:
            t.start()
        ok = Client(p).login("hcm", "lan").status
        for t in threads:
            t.join(60)
        check(ok == 303, "lan during the attack: %d" % ok)
        check(len(results) == 56 and set(results) == {429},
              "attack answers: %s" % sorted(set(results)))
        elapsed = time.monotonic() - t0
        print("  56 throttled attempts and one sign-in in %.2f s" % elapsed)
        # per address: 20 failures from 127.0.0.2 lock that address for every user
        d = Client(p, source="127.0.0.2")
        for i in range(20):
            r = d.login("hcm", "guess%d" % i, "x-password")
            check(r.status == 401, "address failure %d: %d" % (i + 1, r.status))
        r = d.login("hcm", "lan")
        check(r.status == 429 and r.header("Retry-After"), "locked address: %d" % r.status)
        check(Client(p).login("hcm", "lan").status == 303, "127.0.0.1 blocked by 127.0.0.2")
    finally:
        p.stop()


def t_http(work):
    p = Portal(work)
    p.add_user("hcm", "lan")
    p.start()
    try:
        c = Client(p)
        token = c.csrf("/login")
        big = urllib.parse.urlencode({"office": "hcm", "user": "lan", "password": PASSWORD,
                                      "csrf": token, "pad": "a" * 20000})
        r = c.request("POST", "/login", body=big,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        check(r.status == 413, "20 KB body: %d" % r.status)
        r = c.request("POST", "/login", body="{}", headers={"Content-Type": "application/json"})
        check(r.status == 415, "JSON body: %d" % r.status)
        r = c.request("POST", "/login", body="user=" + "u" * 100 + "&csrf=" + token,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
        check(r.status == 400, "over-long field: %d" % r.status)
        for path in ("/nope", "/assets/", "/assets/app.js", "/index.html",
                     "/assets/../office.conf", "/assets/%2e%2e/style.css", "/../../etc/passwd",
                     "//etc/passwd", "/assets/style.css/..", "/assets//style.css",
                     "/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/login/", "/assets/style.css%00.svg"):
            r = c.get(path)
            check(r.status == 404, "GET %s: %d" % (path, r.status))
            check("root:" not in r.body and "office-centre" not in r.body, "%s leaks" % path)
            check_headers(r, "404 " + path)
        r = c.request("DELETE", "/")
        check(r.status == 405, "DELETE /: %d" % r.status)
        r = c.post("/", {"a": "b"})
        check(r.status == 405, "POST /: %d" % r.status)
        r = c.get("/logout")
        check(r.status == 405 and r.header("Allow") == "POST", "GET /logout: %d" % r.status)
        r = c.post("/elsewhere", {"a": "b"})
        check(r.status == 404, "POST /elsewhere: %d" % r.status)
        check(c.get("/login").status == 200, "still serving")
    finally:
        p.stop()


def t_transport(work):
    p = Portal(work)
    for listen in ("0.0.0.0:0", "[::]:0", "192.0.2.1:8490"):
        rc, _, err = p.run("--listen", listen)
        check(rc == 78 and "tls-cert" in err and "tls-key" in err,
              "--listen %s without TLS: exit %d: %s" % (listen, rc, err))
    rc, _, err = p.run("--listen", "0.0.0.0:0", "--tls-cert", os.path.join(work, "c.pem"))
    check(rc == 78 and "go together" in err, "cert without key: exit %d: %s" % (rc, err))
    rc, _, err = p.run("--listen", "0.0.0.0:0", "--tls-cert", os.path.join(work, "none.pem"),
                       "--tls-key", os.path.join(work, "none.key"))
    check(rc == 78 and "cannot read" in err, "missing cert files: exit %d: %s" % (rc, err))
    rc, out, err = p.run("--listen", "[::1]:0", "--check-config")
    check(rc == 0 and "ok" in out, "::1 without TLS refused: %d %s" % (rc, err))
    # an office without its centre
    os.makedirs(os.path.join(work, "bad"))
    bad = Portal(os.path.join(work, "bad"), "office = dn:48:Đà Nẵng\n")
    rc, _, err = bad.run("--check-config")
    check(rc == 78 and "office-centre" in err, "office without centre: exit %d: %s" % (rc, err))


def t_tls(work):
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    g = subprocess.run([os.environ.get("KC_OPENSSL", "openssl"), "req", "-x509", "-newkey",
                        "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                        "subjectAltName=IP:127.0.0.1"], capture_output=True, text=True,
                       check=False)
    check(g.returncode == 0, "openssl req: %s" % g.stderr)
    p = Portal(work, "tls-cert = %s\ntls-key = %s\n" % (cert, key))
    p.add_user("hcm", "lan")
    # beyond loopback with a certificate: allowed (all addresses; reached through 127.0.0.1)
    p.start("--listen", "0.0.0.0:0")
    try:
        check(p.url.startswith("https://"), "ready URL %s" % p.url)
        p.host = "127.0.0.1"
        c = Client(p, cafile=cert)
        r = c.get("/login")
        check(r.status == 200, "HTTPS /login: %d" % r.status)
        check_headers(r, "HTTPS /login")
        check((r.header("Strict-Transport-Security") or "").startswith("max-age="), "no HSTS")
        _, attrs = r.cookies()["kc_login"]
        check("secure" in attrs, "kc_login without Secure under TLS: %s" % attrs)
        r = c.login("hcm", "lan")
        check(r.status == 303, "HTTPS login: %d" % r.status)
        _, attrs = r.cookies()["kc_session"]
        check({"secure", "httponly", "samesite=strict", "path=/"} <= attrs,
              "kc_session under TLS: %s" % attrs)
        check(c.get("/").status == 200, "HTTPS home")
        # plain HTTP to the TLS port gets no page
        conn = http.client.HTTPConnection("127.0.0.1", p.port, timeout=10)
        try:
            conn.request("GET", "/login")
            status = conn.getresponse().status
        except (http.client.HTTPException, OSError):
            status = 0
        finally:
            conn.close()
        check(status != 200, "plain HTTP answered on the TLS port")
        # a client that does not trust the certificate refuses it
        try:
            Client(p).get("/login")
            raise Fail("an untrusted certificate was accepted")
        except ssl.SSLError:
            pass
    finally:
        p.stop()


CHECKS = [("users", t_users), ("login", t_login), ("restart_logout", t_restart_logout),
          ("disable", t_disable), ("csrf", t_csrf), ("throttle", t_throttle), ("http", t_http),
          ("transport", t_transport), ("tls", t_tls)]


def main(argv):
    want = set(argv[1:])
    failed = 0
    for name, fn in CHECKS:
        if want and name not in want:
            continue
        work = tempfile.mkdtemp(prefix="kc-office-%s-" % name)
        try:
            fn(work)
            print("ok %s" % name)
            shutil.rmtree(work, ignore_errors=True)
        except Fail as e:
            failed += 1
            print("FAIL %s: %s (work dir %s)" % (name, e, work))
            log = os.path.join(work, "daemon.log")
            if os.path.exists(log):
                print(open(log, encoding="utf-8", errors="replace").read()[-3000:])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
