/* kc_office_http.c - kc-office's web server (kc_office_http.h).
 *
 * DESIGN
 * libmicrohttpd with an internal polling thread and a pool of threads (4 by
 * default: a sign-in hashes with argon2id, about 64 MiB and a tenth of a
 * second, on the thread that answers it). Pages are built server-side with
 * every outside string HTML-escaped (s_esc); no script at all. The texts of
 * the pages are in s_text (Vietnamese and English, one entry per message).
 * A request's state (s_req_t) lives from its first call to the completion
 * callback: the route, the post processor and the form fields (bounded
 * buffers; a field over its bound marks the form bad, 400).
 */
#include "kc_office_http.h"

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

extern const char kc_office_style_css[];
extern const char kc_office_favicon_svg[];

#define S_CSP                                                                                      \
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; "  \
    "frame-ancestors 'none'"
#define S_HTML_TYPE    "text/html; charset=utf-8"
#define S_THROTTLE_CAP 1024

/* ---- texts ---- */

enum {
    T_TITLE,
    T_SUBTITLE,
    T_SIGNIN,
    T_OFFICE,
    T_USER,
    T_PASSWORD,
    T_SUBMIT,
    T_WRONG,
    T_THROTTLED,
    T_DISABLED,
    T_CSRF,
    T_NOT_SIGNED_IN,
    T_SIGNOUT,
    T_YOUR_OFFICE,
    T_PROVINCES,
    T_SIGNED_IN_AS,
    T_NOT_FOUND,
    T_TOO_LARGE,
    T_BAD_FORM,
    T_METHOD,
    T_TYPE,
    T_OFFICE_ID,
    T_CODE,
    T_PROVINCE,
    T_HOME,
    T_SIGNED_OUT,
    T_ERROR,
    T_COUNT
};
static const char *const s_text[T_COUNT][2] = {
    /* {vi, en} */
    [T_TITLE] = {"Cổng báo cáo khuyến công", "Industrial extension reporting portal"},
    [T_SUBTITLE] = {"Dành cho cán bộ báo cáo của đơn vị", "For the office's reporting clerks"},
    [T_SIGNIN] = {"Đăng nhập", "Sign in"},
    [T_OFFICE] = {"Đơn vị", "Office"},
    [T_USER] = {"Tên đăng nhập", "User name"},
    [T_PASSWORD] = {"Mật khẩu", "Password"},
    [T_SUBMIT] = {"Đăng nhập", "Sign in"},
    [T_WRONG] = {"Sai tên đăng nhập hoặc mật khẩu. Hãy kiểm tra lại và thử lần nữa.",
                 "Wrong user name or password. Check them and try again."},
    [T_THROTTLED] = {"Đăng nhập sai quá nhiều lần. Hãy thử lại sau %ld giây.",
                     "Too many failed sign-ins. Try again in %ld seconds."},
    [T_DISABLED] = {"Tài khoản này đã bị khoá. Hãy liên hệ người quản trị của đơn vị.",
                    "This account is disabled. Ask your office's administrator."},
    [T_CSRF] = {"Biểu mẫu không hợp lệ hoặc đã cũ (thiếu hoặc sai mã chống giả mạo CSRF). Hãy "
                "tải lại trang rồi gửi lại.",
                "The form is missing its CSRF token or carries a wrong or stale one. Reload the "
                "page and send it again."},
    [T_NOT_SIGNED_IN] = {"Bạn chưa đăng nhập hoặc phiên đã hết hạn. Hãy đăng nhập lại.",
                         "You are not signed in, or your session has ended. Sign in again."},
    [T_SIGNOUT] = {"Đăng xuất", "Sign out"},
    [T_YOUR_OFFICE] = {"Đơn vị của bạn", "Your office"},
    [T_PROVINCES] = {"Tỉnh, thành phố báo cáo", "Provinces reported for"},
    [T_SIGNED_IN_AS] = {"Đăng nhập với tên", "Signed in as"},
    [T_NOT_FOUND] = {"Không có trang này. Hãy quay về trang chủ.",
                     "There is no such page. Go back to the home page."},
    [T_TOO_LARGE] = {"Dữ liệu gửi lên quá lớn (tối đa 16 KiB).",
                     "The request is too large (at most 16 KiB)."},
    [T_BAD_FORM] = {"Biểu mẫu không hợp lệ. Hãy tải lại trang rồi gửi lại.",
                    "The form is not valid. Reload the page and send it again."},
    [T_METHOD] = {"Phương thức này không được phép ở đây.", "This method is not allowed here."},
    [T_TYPE] = {"Chỉ nhận biểu mẫu (application/x-www-form-urlencoded hoặc multipart/form-data).",
                "Only forms are accepted (application/x-www-form-urlencoded or "
                "multipart/form-data)."},
    [T_OFFICE_ID] = {"Mã đơn vị", "Office id"},
    [T_CODE] = {"Mã", "Code"},
    [T_PROVINCE] = {"Tỉnh, thành phố", "Province"},
    [T_HOME] = {"Trang chủ", "Home"},
    [T_SIGNED_OUT] = {"Bạn đã đăng xuất.", "You have signed out."},
    [T_ERROR] = {"Lỗi", "Error"},
};

/* ---- throttling ---- */

typedef struct {
    char key[KC_OFFICE_ID_MAX + KC_OFFICE_USER_MAX + 64];
    int fails;
    int locks; /* locks so far in this run of failures */
    int64_t last_fail_s, locked_until_s;
} s_thr_t;

struct kc_ohttp {
    struct MHD_Daemon *daemon;
    kc_ohttp_opts_t o;
    unsigned port;
    bool tls;
    char dummy_hash[crypto_pwhash_STRBYTES]; /* verified for an unknown user (same cost) */
    pthread_mutex_t thr_mu;
    s_thr_t thr[S_THROTTLE_CAP];
};

static int64_t s_now(void)
{
    return (int64_t)time(NULL);
}

/* The entry of key (created, evicting the oldest, if create). Under thr_mu. */
static s_thr_t *s_thr_find(kc_ohttp_t *h, const char *key, bool create, int64_t now)
{
    s_thr_t *free_e = NULL, *oldest = NULL;
    for (size_t i = 0; i < S_THROTTLE_CAP; i++) {
        s_thr_t *e = &h->thr[i];
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
    s_thr_t *e = free_e ? free_e : oldest;
    memset(e, 0, sizeof *e);
    snprintf(e->key, sizeof e->key, "%s", key);
    return e;
}

/* Seconds the key stays locked (0: not locked). */
static long s_thr_locked(kc_ohttp_t *h, const char *key, int64_t now)
{
    pthread_mutex_lock(&h->thr_mu);
    s_thr_t *e = s_thr_find(h, key, false, now);
    long left = e && e->locked_until_s > now ? (long)(e->locked_until_s - now) : 0;
    pthread_mutex_unlock(&h->thr_mu);
    return left;
}

static void s_thr_fail(kc_ohttp_t *h, const char *key, int free_fails, int64_t now)
{
    pthread_mutex_lock(&h->thr_mu);
    s_thr_t *e = s_thr_find(h, key, true, now);
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
    s_thr_t *e = s_thr_find(h, key, false, s_now());
    if (e)
        e->key[0] = '\0';
    pthread_mutex_unlock(&h->thr_mu);
}

/* ---- requests ---- */

enum { R_OTHER, R_LOGIN, R_LOGOUT };

typedef struct {
    int route;
    struct MHD_PostProcessor *pp;
    size_t got;
    bool too_large, bad_form, started;
    char office[KC_OFFICE_ID_MAX + 1];
    char user[KC_OFFICE_USER_MAX + 1];
    char password[257];
    char csrf[KC_ODB_CSRF_HEX + 1];
} s_req_t;

static enum MHD_Result s_post_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *filename, const char *content_type,
                                    const char *encoding, const char *data, uint64_t off,
                                    size_t size)
{
    (void)kind, (void)filename, (void)content_type, (void)encoding;
    s_req_t *r = cls;
    char *dst = NULL;
    size_t cap = 0;
    if (strcmp(key, "office") == 0)
        dst = r->office, cap = sizeof r->office;
    else if (strcmp(key, "user") == 0)
        dst = r->user, cap = sizeof r->user;
    else if (strcmp(key, "password") == 0)
        dst = r->password, cap = sizeof r->password;
    else if (strcmp(key, "csrf") == 0)
        dst = r->csrf, cap = sizeof r->csrf;
    else
        return MHD_YES; /* other fields: ignored */
    if (off + size >= cap || memchr(data, '\0', size)) {
        r->bad_form = true;
        return MHD_YES;
    }
    memcpy(dst + off, data, size);
    dst[off + size] = '\0';
    return MHD_YES;
}

static void s_completed(void *cls, struct MHD_Connection *c, void **req_cls,
                        enum MHD_RequestTerminationCode toe)
{
    (void)cls, (void)c, (void)toe;
    s_req_t *r = *req_cls;
    if (!r)
        return;
    if (r->pp)
        MHD_destroy_post_processor(r->pp);
    sodium_memzero(r->password, sizeof r->password);
    free(r);
    *req_cls = NULL;
}

/* ---- pages ---- */

typedef struct {
    int lang; /* 0 vi, 1 en */
    bool set_lang_cookie;
    const char *path; /* for the language toggle */
} s_ctx_t;

static const char *T(const s_ctx_t *x, int id)
{
    return s_text[id][x->lang];
}

/* s as HTML text or attribute value. */
static void s_esc(FILE *f, const char *s)
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

static void s_add_common(kc_ohttp_t *h, struct MHD_Response *r)
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

typedef struct {
    const char *name, *value;
    long max_age;
} s_setc_t;

static enum MHD_Result s_respond(kc_ohttp_t *h, struct MHD_Connection *c, const s_ctx_t *x,
                                 unsigned status, char *body, size_t len, const char *location,
                                 const s_setc_t *cookies, size_t n_cookies, long retry_after)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, S_HTML_TYPE);
    MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    s_add_common(h, r);
    if (location)
        MHD_add_response_header(r, MHD_HTTP_HEADER_LOCATION, location);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW,
                                x->path && strcmp(x->path, "/logout") == 0  ? "POST"
                                : x->path && strcmp(x->path, "/login") == 0 ? "GET, HEAD, POST"
                                                                            : "GET, HEAD");
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

/* The page's head and header bar; signout_csrf: the sign-out form's token, or NULL. */
static void s_page_top(FILE *f, const s_ctx_t *x, const char *heading, const char *signout_csrf)
{
    fprintf(f,
            "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
            x->lang ? "en" : "vi");
    s_esc(f, heading);
    fputs(" — ", f);
    s_esc(f, T(x, T_TITLE));
    fputs("</title>\n<link rel=\"icon\" href=\"/assets/favicon.svg\" type=\"image/svg+xml\">\n"
          "<link rel=\"stylesheet\" href=\"/assets/style.css\">\n</head>\n<body>\n"
          "<header class=\"top\">\n  <div class=\"brand\">\n"
          "    <svg class=\"logo\" viewBox=\"0 0 16 16\" aria-hidden=\"true\"><rect width=\"16\" "
          "height=\"16\" rx=\"3\"/><path d=\"M3 12V8h2v4zm4 0V4h2v8zm4 0V6h2v6z\"/></svg>\n"
          "    <div>\n      <h1>",
          f);
    s_esc(f, T(x, T_TITLE));
    fputs("</h1>\n      <p class=\"subtitle\">", f);
    s_esc(f, T(x, T_SUBTITLE));
    fputs("</p>\n    </div>\n  </div>\n  <div class=\"top-actions\">\n", f);
    fprintf(f, "    <a class=\"btn\" id=\"lang-toggle\" href=\"%s?lang=%s\" lang=\"%s\">%s</a>\n",
            x->path && (strcmp(x->path, "/") == 0 || strcmp(x->path, "/login") == 0) ? x->path
                                                                                     : "/",
            x->lang ? "vi" : "en", x->lang ? "vi" : "en", x->lang ? "Tiếng Việt" : "English");
    if (signout_csrf) {
        fputs("    <form method=\"post\" action=\"/logout\" class=\"inline\">"
              "<input type=\"hidden\" name=\"csrf\" value=\"",
              f);
        s_esc(f, signout_csrf);
        fputs("\"><button type=\"submit\" class=\"btn btn-ghost\">", f);
        s_esc(f, T(x, T_SIGNOUT));
        fputs("</button></form>\n", f);
    }
    fputs("  </div>\n</header>\n<main id=\"main\" class=\"page\">\n", f);
}

static void s_page_end(FILE *f)
{
    fputs("</main>\n</body>\n</html>\n", f);
}

/* A message page (errors). */
static enum MHD_Result s_message(kc_ohttp_t *h, struct MHD_Connection *c, const s_ctx_t *x,
                                 unsigned status, const char *msg, long retry_after)
{
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f)
        return MHD_NO;
    s_page_top(f, x, T(x, T_ERROR), NULL);
    fputs("<section class=\"card narrow\">\n<p class=\"alert\" role=\"alert\">", f);
    s_esc(f, msg);
    fprintf(f, "</p>\n<p><a href=\"/\">%s</a></p>\n</section>\n", T(x, T_HOME));
    s_page_end(f);
    if (fclose(f) != 0) {
        free(body);
        return MHD_NO;
    }
    return s_respond(h, c, x, status, body, len, NULL, NULL, 0, retry_after);
}

static bool s_hex64(const char *s)
{
    if (!s || strlen(s) != KC_ODB_CSRF_HEX)
        return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return false;
    return true;
}

static void s_random_hex(char out[KC_ODB_CSRF_HEX + 1])
{
    unsigned char b[32];
    randombytes_buf(b, sizeof b);
    sodium_bin2hex(out, KC_ODB_CSRF_HEX + 1, b, sizeof b);
    sodium_memzero(b, sizeof b);
}

/* The sign-in page; msg: an error to show, or NULL. */
static enum MHD_Result s_login_page(kc_ohttp_t *h, struct MHD_Connection *c, const s_ctx_t *x,
                                    unsigned status, const char *msg, long retry_after,
                                    const char *office, const char *user)
{
    const char *pre = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "kc_login");
    char token[KC_ODB_CSRF_HEX + 1];
    bool fresh = !s_hex64(pre);
    if (fresh)
        s_random_hex(token);
    else
        snprintf(token, sizeof token, "%s", pre);
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f)
        return MHD_NO;
    s_page_top(f, x, T(x, T_SIGNIN), NULL);
    fprintf(f,
            "<section class=\"card narrow\" aria-labelledby=\"signin-title\">\n"
            "<h2 id=\"signin-title\">%s</h2>\n",
            T(x, T_SIGNIN));
    if (msg) {
        fputs("<p class=\"alert\" role=\"alert\">", f);
        s_esc(f, msg);
        fputs("</p>\n", f);
    }
    fputs("<form method=\"post\" action=\"/login\" class=\"form\">\n"
          "<input type=\"hidden\" name=\"csrf\" value=\"",
          f);
    s_esc(f, token);
    fputs("\">\n", f);
    if (h->o.n_offices == 1) {
        fputs("<input type=\"hidden\" name=\"office\" value=\"", f);
        s_esc(f, h->o.offices[0].id);
        fputs("\">\n<p class=\"muted\">", f);
        s_esc(f, T(x, T_OFFICE));
        fputs(": <b>", f);
        s_esc(f, h->o.offices[0].name);
        fputs("</b></p>\n", f);
    } else {
        fprintf(f,
                "<div class=\"field\"><label for=\"office\">%s</label>\n"
                "<select id=\"office\" name=\"office\" required>\n",
                T(x, T_OFFICE));
        for (size_t i = 0; i < h->o.n_offices; i++) {
            fputs("<option value=\"", f);
            s_esc(f, h->o.offices[i].id);
            fputs(office && strcmp(office, h->o.offices[i].id) == 0 ? "\" selected>" : "\">", f);
            s_esc(f, h->o.offices[i].name);
            fputs("</option>\n", f);
        }
        fputs("</select></div>\n", f);
    }
    fprintf(f,
            "<div class=\"field\"><label for=\"user\">%s</label>\n"
            "<input id=\"user\" name=\"user\" autocomplete=\"username\" required "
            "maxlength=\"%d\" value=\"",
            T(x, T_USER), KC_OFFICE_USER_MAX);
    s_esc(f, user ? user : "");
    fprintf(f,
            "\"></div>\n<div class=\"field\"><label for=\"password\">%s</label>\n"
            "<input id=\"password\" name=\"password\" type=\"password\" "
            "autocomplete=\"current-password\" required maxlength=\"256\"></div>\n"
            "<button type=\"submit\" class=\"btn-primary\">%s</button>\n</form>\n</section>\n",
            T(x, T_PASSWORD), T(x, T_SUBMIT));
    s_page_end(f);
    if (fclose(f) != 0) {
        free(body);
        return MHD_NO;
    }
    s_setc_t ck = {"kc_login", token, -1};
    return s_respond(h, c, x, status, body, len, NULL, &ck, fresh ? 1 : 0, retry_after);
}

static const kc_office_t *s_office(kc_ohttp_t *h, const char *id)
{
    for (size_t i = 0; i < h->o.n_offices; i++)
        if (strcmp(h->o.offices[i].id, id) == 0)
            return &h->o.offices[i];
    return NULL;
}

static enum MHD_Result s_home(kc_ohttp_t *h, struct MHD_Connection *c, const s_ctx_t *x,
                              const kc_odb_session_t *s)
{
    const kc_office_t *of = s_office(h, s->office);
    if (!of) /* an office taken out of the config: its sessions are void */
        return s_message(h, c, x, MHD_HTTP_FORBIDDEN, T(x, T_NOT_SIGNED_IN), 0);
    char *body = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&body, &len);
    if (!f)
        return MHD_NO;
    s_page_top(f, x, T(x, T_HOME), s->csrf);
    fprintf(f,
            "<section class=\"card\" aria-labelledby=\"office-title\">\n"
            "<h2 id=\"office-title\">%s</h2>\n<dl class=\"facts\">\n<dt>%s</dt><dd "
            "id=\"office-name\">",
            T(x, T_YOUR_OFFICE), T(x, T_OFFICE));
    s_esc(f, of->name);
    fprintf(f, "</dd>\n<dt>%s</dt><dd id=\"office-id\"><code>", T(x, T_OFFICE_ID));
    s_esc(f, of->id);
    fprintf(f, "</code></dd>\n<dt>%s</dt><dd id=\"user-name\">", T(x, T_SIGNED_IN_AS));
    s_esc(f, s->user);
    fprintf(f,
            "</dd>\n</dl>\n<h3>%s</h3>\n<table class=\"grid\" id=\"provinces\">\n<thead><tr>"
            "<th scope=\"col\">%s</th><th scope=\"col\">%s</th></tr></thead>\n<tbody>\n",
            T(x, T_PROVINCES), T(x, T_CODE), T(x, T_PROVINCE));
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    int32_t period = (int32_t)((tm.tm_year + 1900) * 100 + tm.tm_mon + 1);
    for (size_t i = 0; i < of->n_provinces; i++) {
        const kc_province_t *p = kc_ref_province_for(of->provinces[i], period);
        if (!p)
            p = kc_ref_province(63, of->provinces[i]);
        fprintf(f, "<tr><td>%02d</td><td>", of->provinces[i]);
        s_esc(f, p ? p->name : "?");
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody>\n</table>\n</section>\n", f);
    s_page_end(f);
    if (fclose(f) != 0) {
        free(body);
        return MHD_NO;
    }
    return s_respond(h, c, x, MHD_HTTP_OK, body, len, NULL, NULL, 0, 0);
}

static enum MHD_Result s_redirect(kc_ohttp_t *h, struct MHD_Connection *c, const s_ctx_t *x,
                                  const char *to, const s_setc_t *ck, size_t n_ck)
{
    char *body = strdup("");
    if (!body)
        return MHD_NO;
    return s_respond(h, c, x, MHD_HTTP_SEE_OTHER, body, 0, to, ck, n_ck, 0);
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
    s_add_common(h, r);
    enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
    MHD_destroy_response(r);
    return ret;
}

/* ---- sessions ---- */

/* The session of the request's cookie; key_out its database key. 0 or KC_ENOTFOUND. */
static int s_session(kc_ohttp_t *h, struct MHD_Connection *c, kc_odb_session_t *s,
                     uint8_t key_out[32])
{
    const char *cookie = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "kc_session");
    unsigned char token[32];
    size_t n = 0;
    if (!s_hex64(cookie) ||
        sodium_hex2bin(token, sizeof token, cookie, strlen(cookie), NULL, &n, NULL) != 0 || n != 32)
        return KC_ENOTFOUND;
    crypto_generichash(key_out, 32, token, sizeof token, NULL, 0);
    sodium_memzero(token, sizeof token);
    return kc_odb_session_get(h->o.db, key_out, (uint64_t)s_now(), s) == 0 ? 0 : KC_ENOTFOUND;
}

static bool s_csrf_ok(const char *expected, const char *got)
{
    return s_hex64(expected) && s_hex64(got) && sodium_memcmp(expected, got, KC_ODB_CSRF_HEX) == 0;
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

static enum MHD_Result s_login_post(kc_ohttp_t *h, struct MHD_Connection *c, const s_ctx_t *x,
                                    s_req_t *r)
{
    const char *pre = MHD_lookup_connection_value(c, MHD_COOKIE_KIND, "kc_login");
    if (!s_csrf_ok(pre, r->csrf)) {
        kc_warn("KC-OFF-031 sign-in refused: missing or wrong CSRF token");
        return s_message(h, c, x, MHD_HTTP_FORBIDDEN, T(x, T_CSRF), 0);
    }
    if (!r->office[0] && h->o.n_offices == 1)
        snprintf(r->office, sizeof r->office, "%s", h->o.offices[0].id);
    char addr[INET6_ADDRSTRLEN + 1], ukey[160], akey[80];
    s_client_addr(c, addr, sizeof addr);
    snprintf(ukey, sizeof ukey, "user %s/%s", r->office, r->user);
    snprintf(akey, sizeof akey, "addr %s", addr);
    int64_t now = s_now();
    long left = s_thr_locked(h, ukey, now);
    long aleft = s_thr_locked(h, akey, now);
    if (aleft > left)
        left = aleft;
    if (left > 0) {
        char msg[300];
        snprintf(msg, sizeof msg, T(x, T_THROTTLED), left);
        return s_login_page(h, c, x, MHD_HTTP_TOO_MANY_REQUESTS, msg, left, r->office, r->user);
    }
    kc_odb_user_t u;
    bool known = s_office(h, r->office) && kc_office_user_ok(r->user) &&
                 kc_odb_user_get(h->o.db, r->office, r->user, &u) == 0;
    const char *hash = known ? u.hash : h->dummy_hash;
    bool ok = crypto_pwhash_str_verify(hash, r->password, strlen(r->password)) == 0 && known;
    sodium_memzero(r->password, sizeof r->password);
    if (!ok) {
        s_thr_fail(h, ukey, KC_OHTTP_USER_FREE, now);
        s_thr_fail(h, akey, KC_OHTTP_ADDR_FREE, now);
        kc_info("KC-OFF-032 sign-in failed for %s from %s", ukey + 5, addr);
        return s_login_page(h, c, x, MHD_HTTP_UNAUTHORIZED, T(x, T_WRONG), 0, r->office, r->user);
    }
    if (u.disabled) {
        kc_info("KC-OFF-033 sign-in refused for %s: the account is disabled", ukey + 5);
        return s_login_page(h, c, x, MHD_HTTP_FORBIDDEN, T(x, T_DISABLED), 0, r->office, r->user);
    }
    s_thr_clear(h, ukey);
    unsigned char token[32];
    uint8_t key[32];
    randombytes_buf(token, sizeof token);
    crypto_generichash(key, sizeof key, token, sizeof token, NULL, 0);
    kc_odb_session_t s = {.expires_s = (uint64_t)now + KC_OHTTP_SESSION_S};
    snprintf(s.office, sizeof s.office, "%s", r->office);
    snprintf(s.user, sizeof s.user, "%s", r->user);
    s_random_hex(s.csrf);
    char cookie[KC_ODB_CSRF_HEX + 1];
    sodium_bin2hex(cookie, sizeof cookie, token, sizeof token);
    sodium_memzero(token, sizeof token);
    if (kc_odb_session_put(h->o.db, key, &s, (uint64_t)now) != 0)
        return s_message(h, c, x, MHD_HTTP_INTERNAL_SERVER_ERROR, T(x, T_ERROR), 0);
    kc_info("KC-OFF-034 %s signed in from %s", ukey + 5, addr);
    s_setc_t ck[2] = {{"kc_session", cookie, KC_OHTTP_SESSION_S}, {"kc_login", "", 0}};
    enum MHD_Result ret = s_redirect(h, c, x, "/", ck, 2);
    sodium_memzero(cookie, sizeof cookie);
    return ret;
}

static enum MHD_Result s_logout_post(kc_ohttp_t *h, struct MHD_Connection *c, const s_ctx_t *x,
                                     s_req_t *r)
{
    kc_odb_session_t s;
    uint8_t key[32];
    if (s_session(h, c, &s, key) != 0)
        return s_message(h, c, x, MHD_HTTP_FORBIDDEN, T(x, T_NOT_SIGNED_IN), 0);
    if (!s_csrf_ok(s.csrf, r->csrf)) {
        kc_warn("KC-OFF-031 sign-out refused for %s/%s: missing or wrong CSRF token", s.office,
                s.user);
        return s_message(h, c, x, MHD_HTTP_FORBIDDEN, T(x, T_CSRF), 0);
    }
    kc_odb_session_del(h->o.db, key);
    kc_info("KC-OFF-035 %s/%s signed out", s.office, s.user);
    s_setc_t ck = {"kc_session", "", 0};
    return s_redirect(h, c, x, "/login", &ck, 1);
}

static enum MHD_Result s_handle(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **req_cls)
{
    (void)version;
    kc_ohttp_t *h = cls;
    s_ctx_t x = {.lang = 0, .path = url};
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
    s_req_t *r = *req_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r)
            return MHD_NO;
        *req_cls = r;
        r->route = strcmp(url, "/login") == 0    ? R_LOGIN
                   : strcmp(url, "/logout") == 0 ? R_LOGOUT
                                                 : R_OTHER;
        if (!post)
            goto answer_now;
        if (r->route == R_OTHER)
            return s_message(h, c, &x,
                             strcmp(url, "/") == 0 || strncmp(url, "/assets/", 8) == 0
                                 ? MHD_HTTP_METHOD_NOT_ALLOWED
                                 : MHD_HTTP_NOT_FOUND,
                             T(&x, strcmp(url, "/") == 0 || strncmp(url, "/assets/", 8) == 0
                                       ? T_METHOD
                                       : T_NOT_FOUND),
                             0);
        const char *cl_s = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl_s && strtoull(cl_s, NULL, 10) > KC_OHTTP_BODY_MAX)
            return s_message(h, c, &x, MHD_HTTP_CONTENT_TOO_LARGE, T(&x, T_TOO_LARGE), 0);
        r->pp = MHD_create_post_processor(c, 4096, s_post_field, r);
        if (!r->pp)
            return s_message(h, c, &x, MHD_HTTP_UNSUPPORTED_MEDIA_TYPE, T(&x, T_TYPE), 0);
        return MHD_YES;
    }
    if (post && *upload_data_size) {
        r->got += *upload_data_size;
        if (r->got > KC_OHTTP_BODY_MAX)
            r->too_large = true;
        if (r->got > 4 * KC_OHTTP_BODY_MAX)
            return MHD_NO; /* a chunked body that goes on: close the connection */
        if (!r->too_large && MHD_post_process(r->pp, upload_data, *upload_data_size) != MHD_YES)
            r->bad_form = true;
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (post) {
        if (r->too_large)
            return s_message(h, c, &x, MHD_HTTP_CONTENT_TOO_LARGE, T(&x, T_TOO_LARGE), 0);
        if (r->bad_form)
            return s_message(h, c, &x, MHD_HTTP_BAD_REQUEST, T(&x, T_BAD_FORM), 0);
        return r->route == R_LOGIN ? s_login_post(h, c, &x, r) : s_logout_post(h, c, &x, r);
    }
answer_now:
    if (!get) {
        bool known = r->route != R_OTHER || strcmp(url, "/") == 0 ||
                     strcmp(url, "/assets/style.css") == 0 ||
                     strcmp(url, "/assets/favicon.svg") == 0;
        return s_message(h, c, &x, known ? MHD_HTTP_METHOD_NOT_ALLOWED : MHD_HTTP_NOT_FOUND,
                         T(&x, known ? T_METHOD : T_NOT_FOUND), 0);
    }
    if (strcmp(url, "/assets/style.css") == 0)
        return s_static(h, c, kc_office_style_css, "text/css; charset=utf-8");
    if (strcmp(url, "/assets/favicon.svg") == 0)
        return s_static(h, c, kc_office_favicon_svg, "image/svg+xml");
    kc_odb_session_t s;
    uint8_t key[32];
    if (strcmp(url, "/") == 0) {
        if (s_session(h, c, &s, key) != 0)
            return s_redirect(h, c, &x, "/login", NULL, 0);
        return s_home(h, c, &x, &s);
    }
    if (r->route == R_LOGIN) {
        if (s_session(h, c, &s, key) == 0)
            return s_redirect(h, c, &x, "/", NULL, 0);
        return s_login_page(h, c, &x, MHD_HTTP_OK, NULL, 0, NULL, NULL);
    }
    if (r->route == R_LOGOUT)
        return s_message(h, c, &x, MHD_HTTP_METHOD_NOT_ALLOWED, T(&x, T_METHOD), 0);
    return s_message(h, c, &x, MHD_HTTP_NOT_FOUND, T(&x, T_NOT_FOUND), 0);
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
    s_random_hex(dummy);
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
