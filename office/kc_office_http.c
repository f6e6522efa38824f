/* kc_office_http.c - kc-office's web server (kc_office_http.h).
 *
 * DESIGN
 * libmicrohttpd with an internal polling thread and a pool of threads (4 by
 * default: a sign-in hashes with argon2id, about 64 MiB and a tenth of a
 * second, on the thread that answers it). Pages are built server-side with
 * every outside string HTML-escaped (kc_oesc); no script at all. The texts of
 * the pages are in s_text (Vietnamese and English, one entry per message).
 * A request's state (kc_oreq_t, kc_office_web.h) lives from its first call
 * to the completion callback: the route, the post processor, the form fields
 * and an uploaded file. The route table (s_routes) says which handler answers
 * which path and method, whether a session is needed, and the body limits.
 */
#include "kc_office_web.h"

#include "kc_err.h"
#include "kc_log.h"
#include "kc_ref.h"
#include "kc_text.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

extern const char kc_office_style_css[];
extern const char kc_office_favicon_svg[];

#define S_CSP                                                                                      \
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "  \
    "frame-ancestors 'none'"
#define S_HTML_TYPE "text/html; charset=utf-8"

/* ---- texts ---- */

static const char *const s_text[KC_OT_COUNT][2] = {
    /* {vi, en} */
    [KC_OT_TITLE] = {"Cổng báo cáo khuyến công", "Industrial extension reporting portal"},
    [KC_OT_SUBTITLE] = {"Dành cho cán bộ báo cáo của đơn vị", "For the office's reporting clerks"},
    [KC_OT_SIGNIN] = {"Đăng nhập", "Sign in"},
    [KC_OT_OFFICE] = {"Đơn vị", "Office"},
    [KC_OT_USER] = {"Tên đăng nhập", "User name"},
    [KC_OT_PASSWORD] = {"Mật khẩu", "Password"},
    [KC_OT_SUBMIT] = {"Đăng nhập", "Sign in"},
    [KC_OT_WRONG] = {"Sai tên đăng nhập hoặc mật khẩu. Hãy kiểm tra lại và thử lần nữa.",
                     "Wrong user name or password. Check them and try again."},
    [KC_OT_THROTTLED] = {"Đăng nhập sai quá nhiều lần. Hãy thử lại sau %ld giây.",
                         "Too many failed sign-ins. Try again in %ld seconds."},
    [KC_OT_DISABLED] = {"Tài khoản này đã bị khoá. Hãy liên hệ người quản trị của đơn vị.",
                        "This account is disabled. Ask your office's administrator."},
    [KC_OT_CSRF] =
        {"Biểu mẫu không hợp lệ hoặc đã cũ (thiếu hoặc sai mã chống giả mạo CSRF). Hãy "
         "tải lại trang rồi gửi lại.",
         "The form is missing its CSRF token or carries a wrong or stale one. Reload the "
         "page and send it again."},
    [KC_OT_NOT_SIGNED_IN] = {"Bạn chưa đăng nhập hoặc phiên đã hết hạn. Hãy đăng nhập lại.",
                             "You are not signed in, or your session has ended. Sign in again."},
    [KC_OT_SIGNOUT] = {"Đăng xuất", "Sign out"},
    [KC_OT_YOUR_OFFICE] = {"Đơn vị của bạn", "Your office"},
    [KC_OT_PROVINCES] = {"Tỉnh, thành phố báo cáo", "Provinces reported for"},
    [KC_OT_SIGNED_IN_AS] = {"Đăng nhập với tên", "Signed in as"},
    [KC_OT_NOT_FOUND] = {"Không có trang này. Hãy quay về trang chủ.",
                         "There is no such page. Go back to the home page."},
    [KC_OT_TOO_LARGE] = {"Dữ liệu gửi lên quá lớn.", "The request is too large."},
    [KC_OT_BAD_FORM] = {"Biểu mẫu không hợp lệ. Hãy tải lại trang rồi gửi lại.",
                        "The form is not valid. Reload the page and send it again."},
    [KC_OT_METHOD] = {"Phương thức này không được phép ở đây.", "This method is not allowed here."},
    [KC_OT_TYPE] =
        {"Chỉ nhận biểu mẫu (application/x-www-form-urlencoded hoặc multipart/form-data).",
         "Only forms are accepted (application/x-www-form-urlencoded or "
         "multipart/form-data)."},
    [KC_OT_OFFICE_ID] = {"Mã đơn vị", "Office id"},
    [KC_OT_CODE] = {"Mã", "Code"},
    [KC_OT_PROVINCE] = {"Tỉnh, thành phố", "Province"},
    [KC_OT_HOME] = {"Trang chủ", "Home"},
    [KC_OT_SIGNED_OUT] = {"Bạn đã đăng xuất.", "You have signed out."},
    [KC_OT_ERROR] = {"Lỗi", "Error"},
    [KC_OT_NAV_UPLOAD] = {"Tải tệp lên", "Upload a file"},
    [KC_OT_NAV_ENTRY] = {"Nhập một hoạt động", "Enter an activity"},
    [KC_OT_NAV_SUBMISSIONS] = {"Các lần gửi", "Submissions"},
    [KC_OT_BANNER] = {"Chưa kết nối được với trung tâm. %llu dòng đã được lưu an toàn và sẽ tự "
                      "động gửi khi kết nối lại; bạn không cần gửi lại.",
                      "The centre cannot be reached. %llu rows are stored safely and will be "
                      "sent automatically when it can; there is no need to send them again."},
};

/* ---- throttling ---- */

static int64_t s_now(void)
{
    return (int64_t)time(NULL);
}

/* The entry of key (created, evicting the oldest, if create). Under thr_mu. */
static kc_othr_t *s_thr_find(kc_ohttp_t *h, const char *key, bool create, int64_t now)
{
    kc_othr_t *free_e = NULL, *oldest = NULL;
    for (size_t i = 0; i < KC_OHTTP_THROTTLE_CAP; i++) {
        kc_othr_t *e = &h->thr[i];
        if (e->key[0] && now - e->last_fail_s > KC_OHTTP_FORGET_S && now >= e->locked_until_s)
            e->key[0] = '\0'; /* forgotten */
        if (!e->key[0]) {
            if (!free_e)
                free_e = e;
            continue;
        }
        if (strcmp(e->key, key) == 0)
            return e;
        if (!oldest || e->last_fail_s < oldest->last_fail_s)
            oldest = e;
    }
    if (!create)
        return NULL;
    kc_othr_t *e = free_e ? free_e : oldest;
    memset(e, 0, sizeof *e);
    snprintf(e->key, sizeof e->key, "%s", key);
    return e;
}

/* Seconds the key stays locked (0: not locked). */
static long s_thr_locked(kc_ohttp_t *h, const char *key, int64_t now)
{
    pthread_mutex_lock(&h->thr_mu);
    kc_othr_t *e = s_thr_find(h, key, false, now);
    long left = e && e->locked_until_s > now ? (long)(e->locked_until_s - now) : 0;
    pthread_mutex_unlock(&h->thr_mu);
    return left;
}

static void s_thr_fail(kc_ohttp_t *h, const char *key, int free_fails, int64_t now)
{
    pthread_mutex_lock(&h->thr_mu);
    kc_othr_t *e = s_thr_find(h, key, true, now);
    e->fails++;
    e->last_fail_s = now;
    if (e->fails >= free_fails) {
        long lock = KC_OHTTP_LOCK_BASE_S;
        for (int i = 0; i < e->locks && lock < KC_OHTTP_LOCK_MAX_S; i++)
            lock *= 2;
        if (lock > KC_OHTTP_LOCK_MAX_S)
            lock = KC_OHTTP_LOCK_MAX_S;
        e->locked_until_s = now + lock;
        e->locks++;
        kc_warn("KC-OFF-030 sign-in throttled for %s: %d failures, locked %ld s", key, e->fails,
                lock);
    }
    pthread_mutex_unlock(&h->thr_mu);
}

static void s_thr_clear(kc_ohttp_t *h, const char *key)
{
    pthread_mutex_lock(&h->thr_mu);
    kc_othr_t *e = s_thr_find(h, key, false, s_now());
    if (e)
        e->key[0] = '\0';
    pthread_mutex_unlock(&h->thr_mu);
}

/* ---- requests ---- */

/* The routes. auth: a session is required (checked before any body is
 * read); get/post: the handlers (NULL: method not allowed); body_max: the
 * largest body a POST may have; file: a POST may carry one file part. */
typedef struct {
    const char *path;
    bool prefix; /* path is a prefix ("/submissions/") */
    bool auth;
    kc_oget_fn get;
    kc_opost_fn post;
    size_t body_max;
    bool file;
} s_route_t;

static enum MHD_Result s_home_get(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                  const kc_odb_session_t *s, const char *url);
static enum MHD_Result s_login_get(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                   const kc_odb_session_t *s, const char *url);
static enum MHD_Result s_login_post(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                    const kc_odb_session_t *s, const char *url, kc_oreq_t *r);
static enum MHD_Result s_logout_post(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                     const kc_odb_session_t *s, const char *url, kc_oreq_t *r);
static enum MHD_Result s_style_get(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                   const kc_odb_session_t *s, const char *url);
static enum MHD_Result s_favicon_get(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                     const kc_odb_session_t *s, const char *url);

static enum MHD_Result s_metrics_get(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                     const kc_odb_session_t *s, const char *url);

static const s_route_t s_routes[] = {
    {"/", false, true, s_home_get, NULL, 0, false},
    {"/login", false, false, s_login_get, s_login_post, KC_OHTTP_BODY_MAX, false},
    {"/logout", false, true, NULL, s_logout_post, KC_OHTTP_BODY_MAX, false},
    {"/assets/style.css", false, false, s_style_get, NULL, 0, false},
    {"/assets/favicon.svg", false, false, s_favicon_get, NULL, 0, false},
    {"/metrics", false, false, s_metrics_get, NULL, 0, false},
    /* issue 17 steps 2-6: each page file adds its routes here */
    /* kc_office_pages.c: form entry, submissions, retract (steps 3-5) */
    {"/entry", false, true, kc_oentry_get, kc_oentry_post, KC_OHTTP_BODY_MAX, false},
    {"/submissions", false, true, kc_osubs_get, NULL, 0, false},
    {"/submissions/", true, true, kc_osubs_get, NULL, 0, false},
    {"/retract/", true, true, kc_oretract_get, kc_oretract_post, KC_OHTTP_BODY_MAX, false},
    /* kc_office_upload.c: upload, preview, send (step 2) */
    {"/upload", false, true, kc_oupload_get, kc_oupload_post, KC_OHTTP_UPLOAD_MAX, true},
    {"/upload/", true, true, kc_oupload_get, kc_oupload_post, KC_OHTTP_BODY_MAX, false},
};

static const s_route_t *s_route_of(const char *url)
{
    for (size_t i = 0; i < sizeof s_routes / sizeof s_routes[0]; i++) {
        const s_route_t *rt = &s_routes[i];
        if (rt->prefix ? strncmp(url, rt->path, strlen(rt->path)) == 0 && url[strlen(rt->path)]
                       : strcmp(url, rt->path) == 0)
            return rt;
    }
    return NULL;
}

const char *kc_oreq_field(const kc_oreq_t *r, const char *name)
{
    for (size_t i = 0; i < r->n_fields; i++)
        if (strcmp(r->names[i], name) == 0)
            return r->values[i];
    return NULL;
}

/* A file part: streamed to a new file in <data>/uploads (0600). */
static void s_file_chunk(kc_oreq_t *r, const s_route_t *rt, const char *data_dir, const char *key,
                         const char *filename, const char *data, uint64_t off, size_t size)
{
    if (r->file_fd < 0 && off == 0 && !r->file_path[0]) {
        snprintf(r->file_path, sizeof r->file_path, "%s/uploads/up-XXXXXX", data_dir);
        r->file_fd = mkstemp(r->file_path);
        if (r->file_fd < 0) {
            kc_error("KC-OFF-040 cannot store an upload in %s/uploads: %s", data_dir,
                     strerror(errno));
            r->file_path[0] = '\0';
            r->bad_form = true;
            return;
        }
        const char *base = filename;
        for (const char *p = filename; *p; p++)
            if (*p == '/' || *p == '\\')
                base = p + 1;
        snprintf(r->file_name, sizeof r->file_name, "%s", base);
        snprintf(r->file_field, sizeof r->file_field, "%s", key);
    } else if (r->file_fd < 0 || strcmp(key, r->file_field) != 0) {
        r->bad_form = true; /* a second file part */
        return;
    }
    r->file_size += size;
    if (r->file_size > rt->body_max) {
        r->too_large = true;
        return;
    }
    for (size_t done = 0; done < size;) {
        ssize_t w = write(r->file_fd, data + done, size - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            r->bad_form = true;
            return;
        }
        done += (size_t)w;
    }
}

typedef struct {
    kc_oreq_t *r;
    const s_route_t *rt;
    const char *data_dir;
} s_pp_ctx_t;

static enum MHD_Result s_post_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *filename, const char *content_type,
                                    const char *encoding, const char *data, uint64_t off,
                                    size_t size)
{
    (void)kind, (void)content_type, (void)encoding;
    s_pp_ctx_t *pc = cls;
    kc_oreq_t *r = pc->r;
    if (r->bad_form || r->too_large)
        return MHD_YES;
    if (filename) {
        if (!pc->rt->file)
            r->bad_form = true;
        else
            s_file_chunk(r, pc->rt, pc->data_dir, key, filename, data, off, size);
        return MHD_YES;
    }
    if (size && memchr(data, '\0', size)) {
        r->bad_form = true;
        return MHD_YES;
    }
    size_t i = r->n_fields;
    if (off == 0) {
        for (size_t j = 0; j < r->n_fields; j++)
            if (strcmp(r->names[j], key) == 0) {
                r->bad_form = true; /* a field sent twice */
                return MHD_YES;
            }
        if (r->n_fields == KC_OREQ_FIELDS || strlen(key) > 64) {
            r->bad_form = true;
            return MHD_YES;
        }
        r->names[i] = strdup(key);
        r->values[i] = calloc(1, 1);
        if (!r->names[i] || !r->values[i]) {
            free(r->names[i]);
            free(r->values[i]);
            r->bad_form = true;
            return MHD_YES;
        }
        r->lens[i] = 0;
        r->n_fields++;
    } else {
        /* a continuation of the last field */
        if (!r->n_fields || strcmp(r->names[r->n_fields - 1], key) != 0 ||
            r->lens[r->n_fields - 1] != off) {
            r->bad_form = true;
            return MHD_YES;
        }
        i = r->n_fields - 1;
    }
    if (r->lens[i] + size > KC_OREQ_FIELD_MAX) {
        r->bad_form = true;
        return MHD_YES;
    }
    char *v = realloc(r->values[i], r->lens[i] + size + 1);
    if (!v) {
        r->bad_form = true;
        return MHD_YES;
    }
    memcpy(v + r->lens[i], data, size);
    r->lens[i] += size;
    v[r->lens[i]] = '\0';
    r->values[i] = v;
    return MHD_YES;
}

typedef struct {
    kc_oreq_t req;
    s_pp_ctx_t pc;
} s_reqbox_t;

static void s_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                        enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    s_reqbox_t *b = *req_cls;
    if (!b)
        return;
    kc_oreq_t *r = &b->req;
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    for (size_t i = 0; i < r->n_fields; i++) {
        free(r->names[i]);
        sodium_memzero(r->values[i], r->lens[i]); /* passwords */
        free(r->values[i]);
    }
    if (r->file_fd >= 0)
        close(r->file_fd);
    if (r->file_path[0] && !r->file_keep)
        unlink(r->file_path);
    free(b);
    *req_cls = NULL;
}

/* ---- pages ---- */

const char *kc_ot(const kc_octx_t *x, int id)
{
    return s_text[id][x->lang];
}

/* s as HTML text or attribute value. */
void kc_oesc(FILE *f, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fputc(*s, f);
        }
    }
}

void kc_oadd_headers(const kc_ohttp_t *h, struct MHD_Response *r)
{
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Content-Security-Policy", S_CSP);
    if (h->tls)
        MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000");
}

/* Set-Cookie NAME=VALUE with the session attributes (max_age < 0: none; 0 deletes). */
static void s_cookie(kc_ohttp_t *h, struct MHD_Response *r, const char *name, const char *value,
                     long max_age)
{
    char buf[256];
    char age[32] = "";
    if (max_age >= 0)
        snprintf(age, sizeof age, "; Max-Age=%ld", max_age);
    snprintf(buf, sizeof buf, "%s=%s; Path=/; HttpOnly; SameSite=Strict%s%s", name, value, age,
             h->tls ? "; Secure" : "");
    MHD_add_response_header(r, MHD_HTTP_HEADER_SET_COOKIE, buf);
}

enum MHD_Result kc_orespond(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                            unsigned status, char *body, size_t len, const char *location,
                            const kc_osetc_t *cookies, size_t n_cookies, long retry_after)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, S_HTML_TYPE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    kc_oadd_headers(h, r);
    if (location)
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, x->allow ? x->allow : "GET, HEAD");
    if (retry_after > 0) {
        char ra[32];
        snprintf(ra, sizeof ra, "%ld", retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, ra);
    }
    for (size_t i = 0; i < n_cookies; i++)
        s_cookie(h, r, cookies[i].name, cookies[i].value, cookies[i].max_age);
    if (x->set_lang_cookie)
        s_cookie(h, r, "kc_lang", x->lang ? "en" : "vi", 31536000);
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    return ret;
}

void kc_opage_top(FILE *f, kc_ohttp_t *h, const kc_octx_t *x, const char *heading,
                  const kc_odb_session_t *s)
{
    fprintf(f,
            "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
            x->lang ? "en" : "vi");
    kc_oesc(f, heading);
    fputs(" — ", f);
    kc_oesc(f, kc_ot(x, KC_OT_TITLE));
    fputs("</title>\n<link rel=\"icon\" href=\"/assets/favicon.svg\" type=\"image/svg+xml\">\n"
          "<link rel=\"stylesheet\" href=\"/assets/style.css\">\n</head>\n<body>\n"
          "<header class=\"top\">\n  <div class=\"brand\">\n"
          "    <svg class=\"logo\" viewBox=\"0 0 16 16\" aria-hidden=\"true\"><rect width=\"16\" "
          "height=\"16\" rx=\"3\"/><path d=\"M3 12V8h2v4zm4 0V4h2v8zm4 0V6h2v6z\"/></svg>\n"
          "    <div>\n      <h1>",
          f);
    kc_oesc(f, kc_ot(x, KC_OT_TITLE));
    fputs("</h1>\n      <p class=\"subtitle\">", f);
    kc_oesc(f, kc_ot(x, KC_OT_SUBTITLE));
    fputs("</p>\n    </div>\n  </div>\n  <div class=\"top-actions\">\n", f);
    /* the toggle keeps the page (path without its query) */
    fputs("    <a class=\"btn\" id=\"lang-toggle\" href=\"", f);
    kc_oesc(f, x->path && x->path[0] == '/' ? x->path : "/");
    fputs("?", f);
    if (x->query && x->query[0]) {
        kc_oesc(f, x->query);
        fputs("&", f);
    }
    fprintf(f, "lang=%s\" lang=\"%s\">%s</a>\n", x->lang ? "vi" : "en", x->lang ? "vi" : "en",
            x->lang ? "Tiếng Việt" : "English");
    if (s) {
        fputs("    <form method=\"post\" action=\"/logout\" class=\"inline\">"
              "<input type=\"hidden\" name=\"csrf\" value=\"",
              f);
        kc_oesc(f, s->csrf);
        fputs("\"><button type=\"submit\" class=\"btn btn-ghost\">", f);
        kc_oesc(f, kc_ot(x, KC_OT_SIGNOUT));
        fputs("</button></form>\n", f);
    }
    fputs("  </div>\n</header>\n", f);
    if (s) {
        fprintf(f,
                "<nav class=\"nav\" aria-label=\"menu\">\n<a href=\"/\">%s</a>\n"
                "<a href=\"/upload\">%s</a>\n<a href=\"/entry\">%s</a>\n"
                "<a href=\"/submissions\">%s</a>\n</nav>\n",
                kc_ot(x, KC_OT_HOME), kc_ot(x, KC_OT_NAV_UPLOAD), kc_ot(x, KC_OT_NAV_ENTRY),
                kc_ot(x, KC_OT_NAV_SUBMISSIONS));
        kc_osend_status_t st;
        if (h->o.send && kc_osend_status(h->o.send, s->office, &st) == 0 && !st.reachable &&
            st.pending > 0) {
            fputs("<p class=\"banner\" id=\"centre-banner\" role=\"status\">", f);
            fprintf(f, kc_ot(x, KC_OT_BANNER), (unsigned long long)st.pending);
            fputs("</p>\n", f);
        }
    }
    fputs("<main id=\"main\" class=\"page\">\n", f);
}

void kc_opage_end(FILE *f)
{
    fputs("</main>\n</body>\n</html>\n", f);
}

enum MHD_Result kc_orespond_mem(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                unsigned status, FILE *f, char **body, size_t *len)
{
    if (fclose(f) != 0) {
        free(*body);
        return MHD_NO;
    }
    return kc_orespond(h, c, x, status, *body, *len, NULL, NULL, 0, 0);
}

/* A message page (errors). */
enum MHD_Result kc_omessage(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                            unsigned status, const char *msg, long retry_after)
{
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f)
        return MHD_NO;
    kc_opage_top(f, h, x, kc_ot(x, KC_OT_ERROR), NULL);
    fputs("<section class=\"card narrow\">\n<p class=\"alert\" role=\"alert\">", f);
    kc_oesc(f, msg);
    fprintf(f, "</p>\n<p><a href=\"/\">%s</a></p>\n</section>\n", kc_ot(x, KC_OT_HOME));
    kc_opage_end(f);
    if (fclose(f) != 0) {
        free(body);
        return MHD_NO;
    }
    return kc_orespond(h, c, x, status, body, len, NULL, NULL, 0, retry_after);
}

bool kc_ohex64(const char *s)
{
    if (!s || strlen(s) != KC_ODB_CSRF_HEX)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

void kc_orandom_hex(char out[KC_ODB_CSRF_HEX + 1])
{
    unsigned char b[32];
    randombytes_buf(b, sizeof b);
    sodium_bin2hex(out, KC_ODB_CSRF_HEX + 1, b, sizeof b);
    sodium_memzero(b, sizeof b);
}

/* The sign-in page; msg: an error to show, or NULL. */
static enum MHD_Result s_login_page(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                    unsigned status, const char *msg, long retry_after,
                                    const char *office, const char *user)
{
    const char *pre = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "kc_login");
    char token[KC_ODB_CSRF_HEX + 1];
    bool fresh = !kc_ohex64(pre);
    if (fresh)
        kc_orandom_hex(token);
    else
        snprintf(token, sizeof token, "%s", pre);
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f)
        return MHD_NO;
    kc_opage_top(f, h, x, kc_ot(x, KC_OT_SIGNIN), NULL);
    fprintf(f,
            "<section class=\"card narrow\" aria-labelledby=\"signin-title\">\n"
            "<h2 id=\"signin-title\">%s</h2>\n",
            kc_ot(x, KC_OT_SIGNIN));
    if (msg) {
        fputs("<p class=\"alert\" role=\"alert\">", f);
        kc_oesc(f, msg);
        fputs("</p>\n", f);
    }
    fputs("<form method=\"post\" action=\"/login\" class=\"form\">\n"
          "<input type=\"hidden\" name=\"csrf\" value=\"",
          f);
    kc_oesc(f, token);
    fputs("\">\n", f);
    if (h->o.n_offices == 1) {
        fputs("<input type=\"hidden\" name=\"office\" value=\"", f);
        kc_oesc(f, h->o.offices[0].id);
        fputs("\">\n<p class=\"muted\">", f);
        kc_oesc(f, kc_ot(x, KC_OT_OFFICE));
        fputs(": <b>", f);
        kc_oesc(f, h->o.offices[0].name);
        fputs("</b></p>\n", f);
    } else {
        fprintf(f,
                "<div class=\"field\"><label for=\"office\">%s</label>\n"
                "<select id=\"office\" name=\"office\" required>\n",
                kc_ot(x, KC_OT_OFFICE));
        for (size_t i = 0; i < h->o.n_offices; i++) {
            fputs("<option value=\"", f);
            kc_oesc(f, h->o.offices[i].id);
            fputs(office && strcmp(office, h->o.offices[i].id) == 0 ? "\" selected>" : "\">", f);
            kc_oesc(f, h->o.offices[i].name);
            fputs("</option>\n", f);
        }
        fputs("</select></div>\n", f);
    }
    fprintf(f,
            "<div class=\"field\"><label for=\"user\">%s</label>\n"
            "<input id=\"user\" name=\"user\" autocomplete=\"username\" required "
            "maxlength=\"%d\" value=\"",
            kc_ot(x, KC_OT_USER), KC_OFFICE_USER_MAX);
    kc_oesc(f, user ? user : "");
    fprintf(f,
            "\"></div>\n<div class=\"field\"><label for=\"password\">%s</label>\n"
            "<input id=\"password\" name=\"password\" type=\"password\" "
            "autocomplete=\"current-password\" required maxlength=\"256\"></div>\n"
            "<button type=\"submit\" class=\"btn-primary\">%s</button>\n</form>\n</section>\n",
            kc_ot(x, KC_OT_PASSWORD), kc_ot(x, KC_OT_SUBMIT));
    kc_opage_end(f);
    if (fclose(f) != 0) {
        free(body);
        return MHD_NO;
    }
    kc_osetc_t ck = {"kc_login", token, -1};
    return kc_orespond(h, c, x, status, body, len, NULL, &ck, fresh ? 1 : 0, retry_after);
}

const kc_office_t *kc_ooffice(const kc_ohttp_t *h, const char *id)
{
    for (size_t i = 0; i < h->o.n_offices; i++)
        if (strcmp(h->o.offices[i].id, id) == 0)
            return &h->o.offices[i];
    return NULL;
}

static enum MHD_Result s_home_get(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                  const kc_odb_session_t *s, const char *url)
{
    (void)url;
    const kc_office_t *of = kc_ooffice(h, s->office);
    if (!of) /* an office taken out of the config: its sessions are void */
        return kc_omessage(h, c, x, MHD_HTTP_FORBIDDEN, kc_ot(x, KC_OT_NOT_SIGNED_IN), 0);
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f)
        return MHD_NO;
    kc_opage_top(f, h, x, kc_ot(x, KC_OT_HOME), s);
    fprintf(f,
            "<section class=\"card\" aria-labelledby=\"office-title\">\n"
            "<h2 id=\"office-title\">%s</h2>\n<dl class=\"facts\">\n<dt>%s</dt><dd "
            "id=\"office-name\">",
            kc_ot(x, KC_OT_YOUR_OFFICE), kc_ot(x, KC_OT_OFFICE));
    kc_oesc(f, of->name);
    fprintf(f, "</dd>\n<dt>%s</dt><dd id=\"office-id\"><code>", kc_ot(x, KC_OT_OFFICE_ID));
    kc_oesc(f, of->id);
    fprintf(f, "</code></dd>\n<dt>%s</dt><dd id=\"user-name\">", kc_ot(x, KC_OT_SIGNED_IN_AS));
    kc_oesc(f, s->user);
    fprintf(f,
            "</dd>\n</dl>\n<h3>%s</h3>\n<table class=\"grid\" id=\"provinces\">\n<thead><tr>"
            "<th scope=\"col\">%s</th><th scope=\"col\">%s</th></tr></thead>\n<tbody>\n",
            kc_ot(x, KC_OT_PROVINCES), kc_ot(x, KC_OT_CODE), kc_ot(x, KC_OT_PROVINCE));
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int32_t period = (int32_t)((tm.tm_year + 1900) * 100 + tm.tm_mon + 1);
    for (size_t i = 0; i < of->n_provinces; i++) {
        const kc_province_t *p = kc_ref_province_for(of->provinces[i], period);
        if (!p)
            p = kc_ref_province(63, of->provinces[i]);
        fprintf(f, "<tr><td>%02d</td><td>", of->provinces[i]);
        kc_oesc(f, p ? p->name : "?");
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody>\n</table>\n</section>\n", f);
    kc_ototals_section(f, h, x, of);
    kc_opage_end(f);
    if (fclose(f) != 0) {
        free(body);
        return MHD_NO;
    }
    return kc_orespond(h, c, x, MHD_HTTP_OK, body, len, NULL, NULL, 0, 0);
}

enum MHD_Result kc_oredirect(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                             const char *to, const kc_osetc_t *ck, size_t n_ck)
{
    char *body = strdup("");
    if (!body)
        return MHD_NO;
    return kc_orespond(h, c, x, MHD_HTTP_SEE_OTHER, body, 0, to, ck, n_ck, 0);
}

static enum MHD_Result s_static(kc_ohttp_t *h, struct MHD_Connection *c, const char *data,
                                const char *type)
{
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(data), (void *)data, MHD_RESPMEM_PERSISTENT);
    if (!r)
        return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "max-age=3600");
    kc_oadd_headers(h, r);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

bool kc_ooffice_has(const kc_office_t *of, int province)
{
    for (size_t i = 0; i < of->n_provinces; i++)
        if (of->provinces[i] == province)
            return true;
    return false;
}

/* ---- sessions ---- */

/* The session of the request's cookie; key_out its database key. 0 or KC_ENOTFOUND. */
int kc_osession(kc_ohttp_t *h, struct MHD_Connection *c, kc_odb_session_t *s, uint8_t key_out[32])
{
    const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "kc_session");
    unsigned char token[32];
    size_t n = 0;
    if (!kc_ohex64(cookie) ||
        sodium_hex2bin(token, sizeof token, cookie, strlen(cookie), NULL, &n, NULL) != 0 || n != 32)
        return KC_ENOTFOUND;
    crypto_generichash(key_out, 32, token, sizeof token, NULL, 0);
    sodium_memzero(token, sizeof token);
    return kc_odb_session_get(h->o.db, key_out, (uint64_t)s_now(), s) == 0 ? 0 : KC_ENOTFOUND;
}

bool kc_ocsrf_ok(const char *expected, const char *got)
{
    return kc_ohex64(expected) && kc_ohex64(got) &&
           sodium_memcmp(expected, got, KC_ODB_CSRF_HEX) == 0;
}

static void s_client_addr(struct MHD_Connection *c, char *buf, size_t cap)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    snprintf(buf, cap, "?");
    if (!ci || !ci->client_addr)
        return;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf, (socklen_t)cap);
    else if (sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf, (socklen_t)cap);
}

static enum MHD_Result s_login_get(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                   const kc_odb_session_t *s, const char *url)
{
    (void)s, (void)url;
    kc_odb_session_t cur;
    uint8_t key[32];
    if (kc_osession(h, c, &cur, key) == 0)
        return kc_oredirect(h, c, x, "/", NULL, 0);
    return s_login_page(h, c, x, MHD_HTTP_OK, NULL, 0, NULL, NULL);
}

static enum MHD_Result s_login_post(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                    const kc_odb_session_t *sess, const char *url, kc_oreq_t *r)
{
    (void)sess, (void)url;
    const char *pre = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "kc_login");
    if (!kc_ocsrf_ok(pre, kc_oreq_field(r, "csrf"))) {
        kc_warn("KC-OFF-031 sign-in refused: missing or wrong CSRF token");
        return kc_omessage(h, c, x, MHD_HTTP_FORBIDDEN, kc_ot(x, KC_OT_CSRF), 0);
    }
    const char *f_office = kc_oreq_field(r, "office");
    const char *f_user = kc_oreq_field(r, "user");
    const char *f_pw = kc_oreq_field(r, "password");
    if ((f_office && strlen(f_office) > KC_OFFICE_ID_MAX) ||
        (f_user && strlen(f_user) > KC_OFFICE_USER_MAX) || (f_pw && strlen(f_pw) > 256))
        return kc_omessage(h, c, x, MHD_HTTP_BAD_REQUEST, kc_ot(x, KC_OT_BAD_FORM), 0);
    char office[KC_OFFICE_ID_MAX + 1] = "", user[KC_OFFICE_USER_MAX + 1] = "";
    if (f_office && strlen(f_office) <= KC_OFFICE_ID_MAX)
        snprintf(office, sizeof office, "%s", f_office);
    if (!office[0] && h->o.n_offices == 1)
        snprintf(office, sizeof office, "%s", h->o.offices[0].id);
    if (f_user && strlen(f_user) <= KC_OFFICE_USER_MAX)
        snprintf(user, sizeof user, "%s", f_user);
    if (!f_pw || strlen(f_pw) > 256)
        f_pw = "";
    char addr[INET6_ADDRSTRLEN + 1], ukey[160], akey[80];
    s_client_addr(c, addr, sizeof addr);
    snprintf(ukey, sizeof ukey, "user %s/%s", office, user);
    snprintf(akey, sizeof akey, "addr %s", addr);
    int64_t now = s_now();
    long left = s_thr_locked(h, ukey, now);
    long aleft = s_thr_locked(h, akey, now);
    if (aleft > left)
        left = aleft;
    if (left > 0) {
        char msg[300];
        snprintf(msg, sizeof msg, kc_ot(x, KC_OT_THROTTLED), left);
        return s_login_page(h, c, x, MHD_HTTP_TOO_MANY_REQUESTS, msg, left, office, user);
    }
    kc_odb_user_t u;
    bool known = kc_ooffice(h, office) && kc_office_user_ok(user) &&
                 kc_odb_user_get(h->o.db, office, user, &u) == 0;
    const char *hash = known ? u.hash : h->dummy_hash;
    bool ok = crypto_pwhash_str_verify(hash, f_pw, strlen(f_pw)) == 0 && known;
    if (!ok) {
        s_thr_fail(h, ukey, KC_OHTTP_USER_FREE, now);
        s_thr_fail(h, akey, KC_OHTTP_ADDR_FREE, now);
        kc_info("KC-OFF-032 sign-in failed for %s from %s", ukey + 5, addr);
        return s_login_page(h, c, x, MHD_HTTP_UNAUTHORIZED, kc_ot(x, KC_OT_WRONG), 0, office, user);
    }
    if (u.disabled) {
        kc_info("KC-OFF-033 sign-in refused for %s: the account is disabled", ukey + 5);
        return s_login_page(h, c, x, MHD_HTTP_FORBIDDEN, kc_ot(x, KC_OT_DISABLED), 0, office, user);
    }
    s_thr_clear(h, ukey);
    unsigned char token[32];
    uint8_t key[32];
    randombytes_buf(token, sizeof token);
    crypto_generichash(key, sizeof key, token, sizeof token, NULL, 0);
    kc_odb_session_t s = {.expires_s = (uint64_t)now + KC_OHTTP_SESSION_S};
    snprintf(s.office, sizeof s.office, "%s", office);
    snprintf(s.user, sizeof s.user, "%s", user);
    kc_orandom_hex(s.csrf);
    char cookie[KC_ODB_CSRF_HEX + 1];
    sodium_bin2hex(cookie, sizeof cookie, token, sizeof token);
    sodium_memzero(token, sizeof token);
    if (kc_odb_session_put(h->o.db, key, &s, (uint64_t)now) != 0)
        return kc_omessage(h, c, x, MHD_HTTP_INTERNAL_SERVER_ERROR, kc_ot(x, KC_OT_ERROR), 0);
    kc_info("KC-OFF-034 %s signed in from %s", ukey + 5, addr);
    kc_osetc_t ck[2] = {{"kc_session", cookie, KC_OHTTP_SESSION_S}, {"kc_login", "", 0}};
    enum MHD_Result ret = kc_oredirect(h, c, x, "/", ck, 2);
    sodium_memzero(cookie, sizeof cookie);
    return ret;
}

static enum MHD_Result s_logout_post(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                     const kc_odb_session_t *s, const char *url, kc_oreq_t *r)
{
    (void)url, (void)r;
    kc_odb_session_t cur;
    uint8_t key[32];
    if (kc_osession(h, c, &cur, key) != 0)
        return kc_omessage(h, c, x, MHD_HTTP_FORBIDDEN, kc_ot(x, KC_OT_NOT_SIGNED_IN), 0);
    kc_odb_session_del(h->o.db, key);
    kc_info("KC-OFF-035 %s/%s signed out", s->office, s->user);
    kc_osetc_t ck = {"kc_session", "", 0};
    return kc_oredirect(h, c, x, "/login", &ck, 1);
}

static enum MHD_Result s_style_get(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                   const kc_odb_session_t *s, const char *url)
{
    (void)x, (void)s, (void)url;
    return s_static(h, c, kc_office_style_css, "text/css; charset=utf-8");
}

static enum MHD_Result s_favicon_get(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                     const kc_odb_session_t *s, const char *url)
{
    (void)x, (void)s, (void)url;
    return s_static(h, c, kc_office_favicon_svg, "image/svg+xml");
}

static bool s_client_loopback(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!ci || !ci->client_addr)
        return false;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

/* GET /metrics: Prometheus text (the producer side's counters, per office),
 * to loopback clients only: a portal served beyond loopback (with TLS) does
 * not show its counters to the world; scrape it on the machine or through
 * the reverse proxy that fronts it. */
static enum MHD_Result s_metrics_get(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                     const kc_odb_session_t *s, const char *url)
{
    (void)s, (void)url;
    if (!s_client_loopback(c))
        return kc_omessage(h, c, x, MHD_HTTP_FORBIDDEN, kc_ot(x, KC_OT_NOT_FOUND), 0);
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f)
        return MHD_NO;
    fputs("# HELP kcpipe_office_up Whether kc-office is serving (always 1 when answered).\n"
          "# TYPE kcpipe_office_up gauge\nkcpipe_office_up 1\n",
          f);
    if (h->o.send)
        kc_osend_metrics(h->o.send, f);
    if (fclose(f) != 0) {
        free(body);
        return MHD_NO;
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4");
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    kc_oadd_headers(h, r);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

const char *kc_oarg(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static const char *s_allow(const s_route_t *rt)
{
    return rt->get && rt->post ? "GET, HEAD, POST" : rt->post ? "POST" : "GET, HEAD";
}

static enum MHD_Result s_not_allowed(kc_ohttp_t *h, struct MHD_Connection *c, const kc_octx_t *x,
                                     const s_route_t *rt)
{
    kc_octx_t y = *x;
    y.allow = s_allow(rt);
    return kc_omessage(h, c, &y, MHD_HTTP_METHOD_NOT_ALLOWED, kc_ot(x, KC_OT_METHOD), 0);
}

/* The GET request's query without its lang argument, %-encoded again (for
 * the language toggle, which keeps the page as it is). */
typedef struct {
    char buf[1024];
    size_t n;
    bool ok, full;
} s_query_t;

static void s_query_put(s_query_t *q, const char *v)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *v; v++) {
        unsigned char ch = (unsigned char)*v;
        bool plain = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                     (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~';
        if (q->n + 4 >= sizeof q->buf) {
            q->full = true;
            return;
        }
        if (plain) {
            q->buf[q->n++] = (char)ch;
        } else {
            q->buf[q->n++] = '%';
            q->buf[q->n++] = hex[ch >> 4];
            q->buf[q->n++] = hex[ch & 15];
        }
    }
    q->buf[q->n] = '\0';
}

static enum MHD_Result s_query_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value)
{
    (void)kind;
    s_query_t *q = cls;
    if (strcmp(key, "lang") == 0)
        return MHD_YES;
    if (q->n && q->n + 1 < sizeof q->buf)
        q->buf[q->n++] = '&';
    s_query_put(q, key);
    if (value) {
        if (q->n + 1 < sizeof q->buf)
            q->buf[q->n++] = '=';
        s_query_put(q, value);
    }
    q->buf[q->n < sizeof q->buf ? q->n : sizeof q->buf - 1] = '\0';
    q->ok = !q->full;
    return MHD_YES;
}

static enum MHD_Result s_handle(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **req_cls)
{
    (void)version;
    kc_ohttp_t *h = cls;
    s_query_t q = {.n = 0};
    if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, s_query_arg, &q);
    kc_octx_t x = {.lang = 0, .path = url, .query = q.ok ? q.buf : NULL};
    const char *ql = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "lang");
    const char *cl = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "kc_lang");
    if (ql && (strcmp(ql, "en") == 0 || strcmp(ql, "vi") == 0)) {
        x.lang = strcmp(ql, "en") == 0;
        x.set_lang_cookie = true;
    } else if (cl && strcmp(cl, "en") == 0) {
        x.lang = 1;
    }
    bool get =
        strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
    bool post = strcmp(method, MHD_HTTP_METHOD_POST) == 0;
    s_reqbox_t *b = *req_cls;
    const s_route_t *rt = s_route_of(url);
    kc_odb_session_t s;
    uint8_t key[32];
    if (!b) {
        /* the headers: decide everything that needs no body */
        b = calloc(1, sizeof *b);
        if (!b)
            return MHD_NO;
        b->req.file_fd = -1;
        *req_cls = b;
        if (!rt)
            return kc_omessage(h, c, &x, MHD_HTTP_NOT_FOUND, kc_ot(&x, KC_OT_NOT_FOUND), 0);
        if ((get && !rt->get) || (post && !rt->post) || (!get && !post))
            return s_not_allowed(h, c, &x, rt);
        if (rt->auth && kc_osession(h, c, &s, key) != 0) {
            if (get)
                return kc_oredirect(h, c, &x, "/login", NULL, 0);
            return kc_omessage(h, c, &x, MHD_HTTP_FORBIDDEN, kc_ot(&x, KC_OT_NOT_SIGNED_IN), 0);
        }
        if (get)
            return rt->get(h, c, &x, rt->auth ? &s : NULL, url);
        const char *cl_s = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl_s && strtoull(cl_s, NULL, 10) > rt->body_max + (rt->file ? 65536 : 0))
            return kc_omessage(h, c, &x, MHD_HTTP_CONTENT_TOO_LARGE, kc_ot(&x, KC_OT_TOO_LARGE), 0);
        b->req.route = rt;
        b->pc = (s_pp_ctx_t){.r = &b->req, .rt = rt, .data_dir = h->o.data_dir};
        b->req.pp = MHD_create_post_processor(c, 8192, s_post_field, &b->pc);
        if (!b->req.pp)
            return kc_omessage(h, c, &x, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, kc_ot(&x, KC_OT_TYPE), 0);
        return MHD_YES;
    }
    kc_oreq_t *r = &b->req;
    if (!r->pp) /* answered at the headers; nothing more to do with a body */
        return MHD_NO;
    size_t limit = rt->body_max + (rt->file ? 65536 : 0);
    if (*upload_data_size) {
        r->got += *upload_data_size;
        if (r->got > limit)
            r->too_large = true;
        if (r->got > 4 * limit)
            return MHD_NO; /* a chunked body that goes on: close the connection */
        if (!r->too_large && MHD_post_process(r->pp, upload_data, *upload_data_size) != MHD_YES)
            r->bad_form = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->too_large)
        return kc_omessage(h, c, &x, MHD_HTTP_CONTENT_TOO_LARGE, kc_ot(&x, KC_OT_TOO_LARGE), 0);
    if (r->bad_form)
        return kc_omessage(h, c, &x, MHD_HTTP_BAD_REQUEST, kc_ot(&x, KC_OT_BAD_FORM), 0);
    if (r->file_fd >= 0) {
        if (fsync(r->file_fd) != 0)
            return kc_omessage(h, c, &x, MHD_HTTP_INTERNAL_SERVER_ERROR, kc_ot(&x, KC_OT_ERROR), 0);
        close(r->file_fd);
        r->file_fd = -1;
    }
    if (!rt->auth)
        return rt->post(h, c, &x, NULL, url, r);
    /* the session again (it may have ended while the body came) and its CSRF token */
    if (kc_osession(h, c, &s, key) != 0)
        return kc_omessage(h, c, &x, MHD_HTTP_FORBIDDEN, kc_ot(&x, KC_OT_NOT_SIGNED_IN), 0);
    if (!kc_ocsrf_ok(s.csrf, kc_oreq_field(r, "csrf"))) {
        kc_warn("KC-OFF-031 %s %s refused for %s/%s: missing or wrong CSRF token", method, url,
                s.office, s.user);
        return kc_omessage(h, c, &x, MHD_HTTP_FORBIDDEN, kc_ot(&x, KC_OT_CSRF), 0);
    }
    return rt->post(h, c, &x, &s, url, r);
}

/* libmicrohttpd's %-decoding of the path and the query, except that a text
 * which would decode to a NUL byte stays as sent: "/assets/style.css%00.svg"
 * must not reach the routes as "/assets/style.css". */
static size_t s_unescape(void *cls, struct MHD_Connection *c, char *s)
{
    (void)cls, (void)c;
    size_t len = strlen(s);
    if (!strstr(s, "%00"))
        return MHD_http_unescape(s);
    return len;
}

static void s_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512], shown[KC_TEXT_SHOW_MAX(sizeof line)];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    kc_text_show(line, n, shown, sizeof shown);
    kc_warn("http: %s", shown);
}

int kc_ohttp_start(kc_ohttp_t **out, const kc_ohttp_opts_t *opts)
{
    *out = NULL;
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    struct sockaddr *sa;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    memset(&sin, 0, sizeof sin);
    memset(&sin6, 0, sizeof sin6);
    if (inet_pton(AF_INET, opts->addr, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)opts->port);
        sa = (struct sockaddr *)&sin;
    } else if (inet_pton(AF_INET6, opts->addr, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons((uint16_t)opts->port);
        sa = (struct sockaddr *)&sin6;
        flags |= MHD_USE_IPv6;
    } else {
        kc_error("KC-OFF-010 '%s' is not an IPv4 or IPv6 address", opts->addr);
        return KC_EINVAL;
    }
    kc_ohttp_t *h = calloc(1, sizeof *h);
    if (!h)
        return KC_ENOMEM;
    h->o = *opts;
    h->tls = opts->tls_cert != NULL;
    pthread_mutex_init(&h->thr_mu, NULL);
    char dummy[KC_ODB_CSRF_HEX + 1];
    kc_orandom_hex(dummy);
    if (crypto_pwhash_str(h->dummy_hash, dummy, strlen(dummy), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0) {
        pthread_mutex_destroy(&h->thr_mu);
        free(h);
        return KC_ENOMEM;
    }
    if (h->tls)
        flags |= MHD_USE_TLS;
    unsigned threads = opts->threads ? opts->threads : 4;
    errno = 0;
    if (h->tls)
        h->daemon = MHD_start_daemon(
            flags, (uint16_t)opts->port, NULL, NULL, s_handle, h, MHD_OPTION_EXTERNAL_LOGGER,
            s_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_THREAD_POOL_SIZE, threads,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_NOTIFY_COMPLETED, s_completed,
            NULL, MHD_OPTION_UNESCAPE_CALLBACK, s_unescape, NULL, MHD_OPTION_HTTPS_MEM_CERT,
            opts->tls_cert, MHD_OPTION_HTTPS_MEM_KEY, opts->tls_key, MHD_OPTION_HTTPS_PRIORITIES,
            "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2", MHD_OPTION_END);
    else
        h->daemon = MHD_start_daemon(
            flags, (uint16_t)opts->port, NULL, NULL, s_handle, h, MHD_OPTION_EXTERNAL_LOGGER,
            s_mhd_log, NULL, MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_THREAD_POOL_SIZE, threads,
            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_NOTIFY_COMPLETED, s_completed,
            NULL, MHD_OPTION_UNESCAPE_CALLBACK, s_unescape, NULL, MHD_OPTION_END);
    if (!h->daemon) {
        int e = errno;
        pthread_mutex_destroy(&h->thr_mu);
        free(h);
        kc_error("KC-OFF-011 cannot serve %s on %s port %u%s%s", opts->tls_cert ? "HTTPS" : "HTTP",
                 opts->addr, opts->port, e ? ": " : "", e ? strerror(e) : "");
        return e == EADDRINUSE || e == EACCES ? KC_EBUSY : KC_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : opts->port;
    *out = h;
    return 0;
}

void kc_ohttp_stop(kc_ohttp_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    kc_ohttp_t *h = *self_p;
    MHD_stop_daemon(h->daemon);
    pthread_mutex_destroy(&h->thr_mu);
    free(h);
    *self_p = NULL;
}

unsigned kc_ohttp_port(const kc_ohttp_t *self)
{
    return self ? self->port : 0;
}
