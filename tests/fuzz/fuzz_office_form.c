/* fuzz_office_form.c - libFuzzer harness: bytes as the body of a POST to
 * kc-office's pages (the form decoder: libmicrohttpd's post processor for
 * application/x-www-form-urlencoded and multipart/form-data, kc-office's
 * field list and streamed file parts, and each page's own checks).
 *
 * DESIGN
 * One kc-office web server (kc_ohttp_start, the daemon's own code) is
 * started on 127.0.0.1, port 0, on first use, over a scratch portal database
 * holding one session whose token and CSRF token the harness knows; no
 * producer (kc_osend_t NULL: a page that would send answers 503 after its
 * checks). Each input is one request over a fresh TCP connection:
 *   byte 0   the path: /login, /logout, /upload, /upload/<id>, /entry,
 *            /retract/1-0, /submissions, /nowhere (mod 8)
 *   byte 1   bit 0: multipart/form-data (boundary "KCFUZZ") rather than
 *            urlencoded; bit 1: no session cookie; bit 2: chunked
 *            transfer encoding instead of Content-Length
 *   rest     the body, with every "@CSRF@" replaced by the session's CSRF
 *            token (so inputs reach past the CSRF check; the seeds use it)
 * Invariants: the server answers every request with a complete status line
 * whose code is one a page may give (200, 303, 400, 401, 403, 404, 405,
 * 409, 413, 415, 422, 429, 503) - never 500, never a dropped connection without an
 * answer unless the body broke the transfer encoding - and the next
 * request is answered too (checked by the next input). ASan/UBSan watch
 * the server's threads in the same process. Uploaded parts left in
 * uploads/ are removed between inputs by the server itself (a request's
 * file is deleted at its completion unless a page kept it).
 */
#include "fuzz_util.h"

#include "kc_err.h"
#include "kc_office.h"
#include "kc_office_db.h"
#include "kc_office_http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>

static char s_dir[256];
static kc_odb_t *s_db;
static kc_ohttp_t *s_http;
static unsigned s_port;
static char s_cookie[65];
static char s_csrf[65];
static kc_office_t s_office;

static void s_stop(void)
{
    kc_ohttp_stop(&s_http);
    kc_odb_close(&s_db);
    fuzz_rmtree(s_dir);
}

static void s_start(void)
{
    fuzz_quiet();
    if (sodium_init() < 0)
        abort();
    fuzz_mkdtemp(s_dir, sizeof s_dir, "office");
    char up[300];
    snprintf(up, sizeof up, "%s/uploads", s_dir);
    FUZZ_CHECK(mkdir(up, 0700) == 0);
    FUZZ_CHECK(kc_odb_open(&s_db, s_dir) == 0);
    snprintf(s_office.id, sizeof s_office.id, "o79");
    s_office.name = "Fuzz office";
    s_office.provinces[0] = 79;
    s_office.n_provinces = 1;
    s_office.centre = "tcp://127.0.0.1:1";
    s_office.spool = s_dir;
    s_office.producer = "fuzz";
    unsigned char token[32];
    uint8_t key[32];
    randombytes_buf(token, sizeof token);
    crypto_generichash(key, sizeof key, token, sizeof token, NULL, 0);
    sodium_bin2hex(s_cookie, sizeof s_cookie, token, sizeof token);
    kc_odb_session_t s = {.expires_s = (uint64_t)time(NULL) + 86400};
    snprintf(s.office, sizeof s.office, "o79");
    snprintf(s.user, sizeof s.user, "clerk");
    randombytes_buf(token, sizeof token);
    sodium_bin2hex(s.csrf, sizeof s.csrf, token, sizeof token);
    memcpy(s_csrf, s.csrf, sizeof s_csrf);
    FUZZ_CHECK(kc_odb_session_put(s_db, key, &s, (uint64_t)time(NULL)) == 0);
    kc_ohttp_opts_t o = {.addr = "127.0.0.1",
                         .port = 0,
                         .offices = &s_office,
                         .n_offices = 1,
                         .db = s_db,
                         .threads = 2,
                         .data_dir = s_dir};
    FUZZ_CHECK(kc_ohttp_start(&s_http, &o) == 0);
    s_port = kc_ohttp_port(s_http);
    atexit(s_stop);
}

/* Append to a growing buffer. */
typedef struct {
    char *p;
    size_t n, cap;
} s_buf_t;

static void s_put(s_buf_t *b, const void *d, size_t n)
{
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        FUZZ_CHECK(b->p);
    }
    memcpy(b->p + b->n, d, n);
    b->n += n;
    b->p[b->n] = '\0';
}

static void s_puts(s_buf_t *b, const char *s)
{
    s_put(b, s, strlen(s));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const paths[] = {"/login", "/logout",      "/upload",      "/upload/o79-00",
                                        "/entry", "/retract/1-0", "/submissions", "/nowhere"};
    if (!s_http)
        s_start();
    if (size < 2)
        return 0;
    const char *path = paths[data[0] & 7];
    bool multipart = data[1] & 1, anon = data[1] & 2, chunked = data[1] & 4;
    /* the body, @CSRF@ replaced */
    s_buf_t body = {0};
    s_put(&body, "", 0);
    for (size_t i = 2; i < size;) {
        if (size - i >= 6 && memcmp(data + i, "@CSRF@", 6) == 0) {
            s_puts(&body, s_csrf);
            i += 6;
        } else {
            s_put(&body, data + i, 1);
            i++;
        }
    }
    s_buf_t req = {0};
    char line[512];
    snprintf(
        line, sizeof line,
        "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: %s\r\n", path,
        multipart ? "multipart/form-data; boundary=KCFUZZ" : "application/x-www-form-urlencoded");
    s_puts(&req, line);
    if (!anon) {
        snprintf(line, sizeof line, "Cookie: kc_session=%s; kc_login=%s\r\n", s_cookie, s_csrf);
        s_puts(&req, line);
    }
    if (chunked) {
        snprintf(line, sizeof line, "Transfer-Encoding: chunked\r\n\r\n%zx\r\n", body.n);
        s_puts(&req, line);
        s_put(&req, body.p, body.n);
        s_puts(&req, body.n ? "\r\n0\r\n\r\n" : "\r\n");
    } else {
        snprintf(line, sizeof line, "Content-Length: %zu\r\n\r\n", body.n);
        s_puts(&req, line);
        s_put(&req, body.p, body.n);
    }
    free(body.p);

    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    FUZZ_CHECK(fd >= 0);
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s_port)};
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    FUZZ_CHECK(connect(fd, (struct sockaddr *)&sin, sizeof sin) == 0); /* the server lives */
    for (size_t done = 0; done < req.n;) {
        ssize_t w = send(fd, req.p + done, req.n - done, MSG_NOSIGNAL);
        if (w <= 0)
            break; /* the server answered early (413) and closed */
        done += (size_t)w;
    }
    free(req.p);
    shutdown(fd, SHUT_WR);
    char resp[64] = "";
    size_t got = 0;
    for (;;) {
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        int pr = poll(&pfd, 1, 10000);
        FUZZ_CHECK(pr == 1); /* an answer within 10 s */
        char buf[4096];
        ssize_t r = recv(fd, buf, sizeof buf, 0);
        if (r <= 0)
            break;
        if (got < sizeof resp - 1) {
            size_t take = (size_t)r < sizeof resp - 1 - got ? (size_t)r : sizeof resp - 1 - got;
            memcpy(resp + got, buf, take);
            got += take;
        }
    }
    close(fd);
    if (got == 0)
        return 0; /* closed without an answer: a broken transfer encoding */
    FUZZ_CHECK(got >= 12 && memcmp(resp, "HTTP/1.1 ", 9) == 0);
    int code = atoi(resp + 9);
    static const int ok[] = {200, 303, 400, 401, 403, 404, 405, 409, 413, 415, 422, 429, 503};
    bool known = false;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
        known |= code == ok[i];
    if (!known)
        fprintf(stderr, "fuzz_office_form: %s answered %d\n", path, code);
    FUZZ_CHECK(known);
    return 0;
}
