/* kc_office_totals.c - the office's own totals, read from the centre's HTTP
 * API (issue 17 step 6): kc_ototals_section() on the home page.
 *
 * DESIGN
 * What the clerk sees is what the centre sees: the aggregator's read-only
 * /v1/totals (docs/MONITORING.md "HTTP API", kc-query's JSON) for this
 * office's provinces and the current year, with plan=1 so every row carries
 * the year's plan beside the figures done:
 *   GET {api}/v1/totals?year=Y&province=P1&province=P2&plan=1&by=province
 *   GET {api}/v1/totals?year=Y&province=P1&province=P2&plan=1&by=activity
 * The first gives spending (amount_vnd) against plan per province, the
 * second every metric an activity carries against plan, for the office's
 * provinces together. No other province is asked for, so none is shown.
 * Provinces are codes read under the scheme in force for each period, as
 * kc-query's default: the codes the office sends its rows with.
 *
 * HTTP client: libcurl (Debian's libcurl4-gnutls-dev), never hand-written
 * HTTP. http and https only, no redirects, no proxy for loopback, bodies
 * above S_BODY_MAX refused, connect timeout 2 s and 3 s for both requests
 * together, so a centre that is down or a network that drops packets makes
 * the page wait at most 3 s. A bearer token (of->api_token_file: a file
 * holding one token, read at each fetch so a rotated token needs no restart)
 * goes in "Authorization: Bearer ...". The aggregator's API itself checks no
 * token (it serves loopback; beyond it a reverse proxy with TLS that checks
 * the token, kc-office(1) "THE CENTRE'S FIGURES"), so the header is for that
 * proxy.
 *
 * Exact integers: the API writes sums of any size as plain JSON integers;
 * jansson keeps those up to int64 exactly (json_integer) and refuses larger
 * ones, so integer tokens of 19 digits or more are first quoted in the raw
 * text (s_quote_big) and shown from their digits. Nothing goes through a
 * double except the API's percentages, which are reals already.
 *
 * Cache: the last good pair of answers per office and year, for S_TTL_S
 * seconds, so a page load does not always reach the centre. The lock (s_mu)
 * is held only to look up and to store, never during a fetch: a second page
 * load while one fetches uses what is cached (or fetches itself if there is
 * nothing). After a failure no fetch is tried for S_RETRY_S seconds; older
 * figures, if any, are shown with the time they were read and a note.
 * Not reachable or not configured: a short message, never an error page.
 * Log ids KC-OFF-110..112 (docs/MESSAGES.md).
 */
#include "kc_office_web.h"

#include "kc_log.h"
#include "kc_ref.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_TTL_S      60   /* a good answer is reused this long */
#define S_RETRY_S    15   /* after a failure, no new fetch this long */
#define S_CONNECT_MS 2000 /* connect timeout of one request */
#define S_TOTAL_MS   3000 /* both requests together */
#define S_BODY_MAX   (1u << 20)
#define S_TOKEN_MAX  4096
#define S_URL_MAX    2048

/* ---- texts ---- */

enum {
    T_TITLE,
    T_NOT_CONFIGURED,
    T_UNREACHABLE,
    T_STALE,
    T_READ_AT,
    T_BY_PROVINCE,
    T_BY_ACTIVITY,
    T_DONE,
    T_PLAN,
    T_PERCENT,
    T_ACTIVITY,
    T_METRIC,
    T_TOTAL,
    T_NONE,
    T_SPENDING_DONE,
    T_SPENDING_PLAN,
    T_COUNT
};

static const char *const s_text[T_COUNT][2] = {
    /* {vi, en} */
    [T_TITLE] = {"Số liệu của đơn vị năm %d so với kế hoạch",
                 "Your office's figures for %d against plan"},
    [T_NOT_CONFIGURED] = {"Cổng này chưa được kết nối để đọc số liệu của trung tâm, nên chưa "
                          "hiển thị tổng hợp của đơn vị. Các dòng bạn gửi vẫn được gửi bình "
                          "thường; người quản trị có thể đặt office-api để hiển thị.",
                          "This portal is not set up to read the centre's figures, so your "
                          "office's totals are not shown. Your rows are sent as usual; the "
                          "administrator can set office-api to show them."},
    [T_UNREACHABLE] = {"Hiện chưa đọc được số liệu của trung tâm; các dòng của bạn vẫn an toàn. "
                       "Hãy tải lại trang sau ít phút.",
                       "The centre's figures cannot be read now; your rows are safe. Reload "
                       "the page in a few minutes."},
    [T_STALE] = {"Hiện chưa đọc lại được số liệu của trung tâm; các dòng của bạn vẫn an toàn. "
                 "Số liệu dưới đây là lần đọc trước.",
                 "The centre's figures cannot be read now; your rows are safe. The figures "
                 "below are from the last reading."},
    [T_READ_AT] = {"Số liệu trung tâm đọc lúc", "The centre's figures as read at"},
    [T_BY_PROVINCE] = {"Kinh phí theo tỉnh, thành phố", "Spending by province"},
    [T_BY_ACTIVITY] = {"Theo hoạt động", "By activity"},
    [T_DONE] = {"Đã thực hiện", "Done"},
    [T_PLAN] = {"Kế hoạch năm", "Plan for the year"},
    [T_PERCENT] = {"% kế hoạch", "% of plan"},
    [T_ACTIVITY] = {"Hoạt động", "Activity"},
    [T_METRIC] = {"Chỉ tiêu", "Metric"},
    [T_TOTAL] = {"Tổng cộng", "Total"},
    [T_NONE] = {"Trung tâm chưa có số liệu nào của đơn vị trong năm này.",
                "The centre has no figures of your office for this year yet."},
    [T_SPENDING_DONE] = {"Kinh phí đã thực hiện (đồng)", "Spending done (VND)"},
    [T_SPENDING_PLAN] = {"Kinh phí kế hoạch (đồng)", "Planned spending (VND)"},
};

static const char *s_t(const kc_octx_t *x, int id)
{
    return s_text[id][x->lang == 1 ? 1 : 0];
}

/* ---- the cache ---- */

typedef struct {
    char office[KC_OFFICE_ID_MAX + 1]; /* "" unused */
    int year;
    char *by_prov, *by_act; /* the last good answers (NULL none) */
    time_t read_at;         /* wall clock, for the page */
    int64_t good_mono;      /* monotonic seconds of the good answers */
    int64_t fail_mono;      /* of the last failure (0 none) */
    bool fetching;
} s_entry_t;

static pthread_mutex_t s_mu = PTHREAD_MUTEX_INITIALIZER;
static s_entry_t s_cache[KC_OFFICE_MAX_OFFICES];
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static bool s_curl_ok;

static void s_atexit(void)
{
    pthread_mutex_lock(&s_mu);
    for (size_t i = 0; i < KC_OFFICE_MAX_OFFICES; i++) {
        free(s_cache[i].by_prov);
        free(s_cache[i].by_act);
        s_cache[i].by_prov = s_cache[i].by_act = NULL;
    }
    pthread_mutex_unlock(&s_mu);
    if (s_curl_ok)
        curl_global_cleanup();
}

static void s_init(void)
{
    s_curl_ok = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
    atexit(s_atexit);
}

static int64_t s_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

/* The entry of office (created in a free slot). Under s_mu. */
static s_entry_t *s_entry(const char *office)
{
    s_entry_t *free_e = NULL;
    for (size_t i = 0; i < KC_OFFICE_MAX_OFFICES; i++) {
        if (strcmp(s_cache[i].office, office) == 0)
            return &s_cache[i];
        if (!free_e && !s_cache[i].office[0])
            free_e = &s_cache[i];
    }
    if (free_e)
        snprintf(free_e->office, sizeof free_e->office, "%s", office);
    return free_e;
}

/* ---- fetching ---- */

typedef struct {
    char *buf;
    size_t len;
    bool too_big;
} s_body_t;

static size_t s_write(char *data, size_t size, size_t n, void *cls)
{
    s_body_t *b = cls;
    size_t add = size * n;
    if (b->len + add > S_BODY_MAX) {
        b->too_big = true;
        return 0; /* curl stops with CURLE_WRITE_ERROR */
    }
    char *nb = realloc(b->buf, b->len + add + 1);
    if (!nb)
        return 0;
    memcpy(nb + b->len, data, add);
    b->buf = nb;
    b->len += add;
    b->buf[b->len] = '\0';
    return add;
}

/* The token in file path into out: its first line without surrounding
 * blanks; visible ASCII only (it goes into a header). 0, or -1 with err. */
static int s_token(const char *path, char *out, size_t cap, char *err, size_t errcap)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        snprintf(err, errcap, "cannot read the token file %s: %s", path, strerror(errno));
        return -1;
    }
    char buf[S_TOKEN_MAX + 2];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = buf;
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
        p++;
    size_t len = strcspn(p, "\r\n");
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
        len--;
    bool ok = len > 0 && len < cap;
    for (size_t i = 0; ok && i < len; i++)
        ok = p[i] > 0x20 && p[i] < 0x7f;
    if (!ok) {
        snprintf(err, errcap,
                 "the token file %s does not hold one token (visible ASCII, at most %d "
                 "bytes)",
                 path, S_TOKEN_MAX);
        sodium_memzero(buf, sizeof buf);
        return -1;
    }
    memcpy(out, p, len);
    out[len] = '\0';
    sodium_memzero(buf, sizeof buf);
    return 0;
}

/* GET url into *body (malloc'd) within timeout_ms. 0, or -1 with err. */
static int s_get(const char *url, struct curl_slist *hdrs, long timeout_ms, char **body, char *err,
                 size_t cap)
{
    CURL *c = curl_easy_init();
    if (!c) {
        snprintf(err, cap, "cannot start an HTTP request (libcurl)");
        return -1;
    }
    s_body_t b = {0};
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_NOPROXY, "localhost,127.0.0.1,::1");
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     timeout_ms < S_CONNECT_MS ? timeout_ms : (long)S_CONNECT_MS);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "kc-office");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    CURLcode rc = curl_easy_perform(c);
    long status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK || status != 200 || !b.buf) {
        if (b.too_big)
            snprintf(err, cap, "the answer is larger than %u bytes", S_BODY_MAX);
        else if (rc != CURLE_OK)
            snprintf(err, cap, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
        else
            snprintf(err, cap, "HTTP status %ld%s%.200s", status, b.buf ? ": " : "",
                     b.buf ? b.buf : "");
        free(b.buf);
        return -1;
    }
    *body = b.buf;
    return 0;
}

/* Both answers for of and year; 0, or -1 with err (nothing returned). */
static int s_fetch(const kc_office_t *of, int year, char **by_prov, char **by_act, char *err,
                   size_t cap)
{
    if (!s_curl_ok) {
        snprintf(err, cap, "libcurl could not be initialised");
        return -1;
    }
    struct curl_slist *hdrs = NULL;
    if (of->api_token_file) {
        char token[S_TOKEN_MAX + 1];
        char line[S_TOKEN_MAX + 64];
        if (s_token(of->api_token_file, token, sizeof token, err, cap) != 0)
            return -1;
        snprintf(line, sizeof line, "Authorization: Bearer %s", token);
        hdrs = curl_slist_append(NULL, line);
        sodium_memzero(token, sizeof token);
        sodium_memzero(line, sizeof line);
        if (!hdrs) {
            snprintf(err, cap, "out of memory");
            return -1;
        }
    }
    char query[512];
    int qn = snprintf(query, sizeof query, "year=%d&plan=1", year);
    for (size_t i = 0; i < of->n_provinces && qn > 0 && (size_t)qn < sizeof query; i++)
        qn += snprintf(query + qn, sizeof query - (size_t)qn, "&province=%02d", of->provinces[i]);
    size_t blen = strlen(of->api);
    while (blen && of->api[blen - 1] == '/')
        blen--;
    char *out[2] = {NULL, NULL};
    static const char *const by[2] = {"province", "activity"};
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t t0 = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int rc = 0;
    for (int i = 0; i < 2 && rc == 0; i++) {
        char url[S_URL_MAX];
        int n =
            snprintf(url, sizeof url, "%.*s/v1/totals?%s&by=%s", (int)blen, of->api, query, by[i]);
        if (n < 0 || (size_t)n >= sizeof url) {
            snprintf(err, cap, "the office-api URL is too long");
            rc = -1;
            break;
        }
        clock_gettime(CLOCK_MONOTONIC, &ts);
        long left = (long)(S_TOTAL_MS - ((int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 - t0));
        if (left <= 0) {
            snprintf(err, cap, "no answer within %d ms", S_TOTAL_MS);
            rc = -1;
            break;
        }
        rc = s_get(url, hdrs, left, &out[i], err, cap);
    }
    curl_slist_free_all(hdrs);
    if (rc != 0) {
        free(out[0]);
        free(out[1]);
        return -1;
    }
    *by_prov = out[0];
    *by_act = out[1];
    return 0;
}

/* ---- reading the answers ---- */

/* text with every integer token of 19 digits or more (outside strings)
 * quoted, so that jansson reads it as a string of digits rather than refuse
 * it (DESIGN). malloc'd, NULL if out of memory. */
static char *s_quote_big(const char *in)
{
    size_t n = strlen(in);
    /* each quoted token has 19 characters or more and gains 2 */
    char *out = malloc(n + 2 * (n / 19 + 1) + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    bool in_str = false;
    for (size_t i = 0; i < n;) {
        char ch = in[i];
        if (in_str) {
            out[o++] = ch;
            if (ch == '\\' && i + 1 < n) {
                out[o++] = in[i + 1];
                i += 2;
                continue;
            }
            if (ch == '"')
                in_str = false;
            i++;
            continue;
        }
        if (ch == '"') {
            in_str = true;
            out[o++] = ch;
            i++;
            continue;
        }
        if (ch == '-' || (ch >= '0' && ch <= '9')) {
            size_t j = i + (ch == '-');
            while (j < n && in[j] >= '0' && in[j] <= '9')
                j++;
            size_t digits = j - i - (ch == '-');
            bool integer = j >= n || (in[j] != '.' && in[j] != 'e' && in[j] != 'E');
            if (integer && digits >= 19) {
                out[o++] = '"';
                memcpy(out + o, in + i, j - i);
                o += j - i;
                out[o++] = '"';
            } else {
                memcpy(out + o, in + i, j - i);
                o += j - i;
            }
            i = j;
            continue;
        }
        out[o++] = ch;
        i++;
    }
    out[o] = '\0';
    return out;
}

static json_t *s_parse(const char *text)
{
    char *q = s_quote_big(text);
    if (!q)
        return NULL;
    json_error_t e;
    json_t *doc = json_loads(q, JSON_REJECT_DUPLICATES, &e);
    free(q);
    if (doc && !json_is_object(doc)) {
        json_decref(doc);
        doc = NULL;
    }
    return doc;
}

/* The decimal digits of an exact integer (a JSON integer, or a string of
 * digits that s_quote_big made) into out; false for anything else. */
static bool s_digits(const json_t *v, char out[64])
{
    if (json_is_integer(v)) {
        snprintf(out, 64, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        return true;
    }
    if (!json_is_string(v))
        return false;
    const char *s = json_string_value(v);
    size_t n = strlen(s), i = s[0] == '-';
    if (n <= i || n >= 64)
        return false;
    for (size_t k = i; k < n; k++)
        if (s[k] < '0' || s[k] > '9')
            return false;
    memcpy(out, s, n + 1);
    return true;
}

static bool s_is_zero(const json_t *v)
{
    char d[64];
    return !s_digits(v, d) || strcmp(d, "0") == 0;
}

/* An exact integer with the language's digit grouping: 1.200.000.000 (vi),
 * 1,200,000,000 (en); "–" when v is missing or not an integer. */
static void s_num(FILE *f, const kc_octx_t *x, const json_t *v)
{
    char d[64];
    if (!s_digits(v, d)) {
        fputs("–", f);
        return;
    }
    const char *p = d;
    if (*p == '-') {
        fputc('-', f);
        p++;
    }
    size_t n = strlen(p);
    char sep = x->lang == 1 ? ',' : '.';
    for (size_t i = 0; i < n; i++) {
        if (i && (n - i) % 3 == 0)
            fputc(sep, f);
        fputc(p[i], f);
    }
}

/* A percentage (a JSON real or integer of the API) with one decimal:
 * 40,0% (vi), 40.0% (en), as the report writes it; "–" when there is none (no plan). */
static void s_pct(FILE *f, const kc_octx_t *x, const json_t *v)
{
    if (!json_is_number(v)) {
        fputs("–", f);
        return;
    }
    char b[64];
    snprintf(b, sizeof b, "%.1f", json_number_value(v));
    char *dot = x->lang != 1 ? strchr(b, '.') : NULL;
    if (dot)
        *dot = ',';
    fprintf(f, "%s%%", b);
}

static const json_t *s_path(const json_t *o, const char *a, const char *b, const char *c)
{
    const json_t *v = json_object_get(o, a);
    if (v && b)
        v = json_object_get(v, b);
    if (v && c)
        v = json_object_get(v, c);
    return v;
}

static const json_t *s_row(const json_t *doc, const char *key)
{
    const json_t *rows = json_object_get(doc, "rows");
    size_t i;
    const json_t *r;
    json_array_foreach(rows, i, r)
    {
        const json_t *k = json_object_get(r, "key");
        if (json_is_string(k) && strcmp(json_string_value(k), key) == 0)
            return r;
    }
    return NULL;
}

static void s_province_table(FILE *f, const kc_octx_t *x, const kc_office_t *of, const json_t *doc,
                             int year)
{
    fprintf(f,
            "<h3>%s</h3>\n<table class=\"grid\" id=\"totals-provinces\">\n<thead><tr>"
            "<th scope=\"col\">%s</th><th scope=\"col\" class=\"num\">%s</th>"
            "<th scope=\"col\" class=\"num\">%s</th><th scope=\"col\" class=\"num\">%s</th>"
            "</tr></thead>\n<tbody>\n",
            s_t(x, T_BY_PROVINCE), kc_ot(x, KC_OT_PROVINCE), s_t(x, T_SPENDING_DONE),
            s_t(x, T_SPENDING_PLAN), s_t(x, T_PERCENT));
    for (size_t i = 0; i < of->n_provinces; i++) {
        char key[8];
        snprintf(key, sizeof key, "%02d", of->provinces[i]);
        const json_t *r = s_row(doc, key);
        const json_t *label = json_object_get(r, "label");
        const kc_province_t *p = kc_ref_province_for(of->provinces[i], year * 100 + 12);
        fprintf(f, "<tr data-province=\"%s\"><td>%s ", key, key);
        kc_oesc(f, json_is_string(label) ? json_string_value(label) : p ? p->name : "");
        fputs("</td><td class=\"num\">", f);
        json_t *zero = json_integer(0);
        s_num(f, x, r ? s_path(r, "totals", "amount_vnd", NULL) : zero);
        fputs("</td><td class=\"num\">", f);
        s_num(f, x, r ? s_path(r, "plan", "totals", "amount_vnd") : zero);
        json_decref(zero);
        fputs("</td><td class=\"num\">", f);
        s_pct(f, x, r ? json_object_get(r, "percent_of_plan") : NULL);
        fputs("</td></tr>\n", f);
    }
    if (of->n_provinces > 1) {
        fprintf(f, "<tr data-province=\"total\"><th scope=\"row\">%s</th><td class=\"num\">",
                s_t(x, T_TOTAL));
        s_num(f, x, s_path(doc, "totals", "amount_vnd", NULL));
        fputs("</td><td class=\"num\">", f);
        s_num(f, x, s_path(doc, "plan", "totals", "amount_vnd"));
        fputs("</td><td class=\"num\">", f);
        s_pct(f, x, json_object_get(doc, "percent_of_plan"));
        fputs("</td></tr>\n", f);
    }
    fputs("</tbody>\n</table>\n", f);
}

static void s_activity_table(FILE *f, const kc_octx_t *x, const json_t *doc)
{
    const json_t *rows = json_object_get(doc, "rows");
    if (!json_is_array(rows) || json_array_size(rows) == 0) {
        fprintf(f, "<p class=\"muted\" id=\"totals-none\">%s</p>\n", s_t(x, T_NONE));
        return;
    }
    fprintf(f,
            "<h3>%s</h3>\n<table class=\"grid\" id=\"totals-activities\">\n<thead><tr>"
            "<th scope=\"col\">%s</th><th scope=\"col\">%s</th><th scope=\"col\" "
            "class=\"num\">%s</th><th scope=\"col\" class=\"num\">%s</th><th scope=\"col\" "
            "class=\"num\">%s</th></tr></thead>\n<tbody>\n",
            s_t(x, T_BY_ACTIVITY), s_t(x, T_ACTIVITY), s_t(x, T_METRIC), s_t(x, T_DONE),
            s_t(x, T_PLAN), s_t(x, T_PERCENT));
    size_t i;
    const json_t *r;
    json_array_foreach(rows, i, r)
    {
        const json_t *key = json_object_get(r, "key");
        if (!json_is_string(key))
            continue;
        const kc_activity_t *a = kc_ref_activity_by_code(json_string_value(key));
        for (int m = 0; m < KC_METRIC_COUNT; m++) {
            const kc_metric_info_t *mi = kc_ref_metric(m);
            const json_t *done = s_path(r, "totals", mi->name, NULL);
            const json_t *plan = s_path(r, "plan", "totals", mi->name);
            bool allowed = a ? (a->metric_mask & (1u << m)) != 0 : m == KC_M_AMOUNT_VND;
            /* the activity's metrics that have a figure, and spending always */
            if (!done && !plan)
                continue;
            if (m != KC_M_AMOUNT_VND && s_is_zero(done) && s_is_zero(plan))
                continue;
            if (!allowed && s_is_zero(done) && s_is_zero(plan))
                continue;
            fprintf(f, "<tr data-activity=\"");
            kc_oesc(f, json_string_value(key));
            fprintf(f, "\" data-metric=\"%s\"><td>", mi->name);
            if (a)
                kc_oesc(f, x->lang == 1 ? a->label_en : a->label_vi);
            else
                kc_oesc(f, json_string_value(key));
            fprintf(f, "</td><td>%s%s</td><td class=\"num\">",
                    x->lang == 1 ? mi->label_en : mi->label_vi,
                    mi->is_vnd ? (x->lang == 1 ? " (VND)" : " (đồng)") : "");
            s_num(f, x, done);
            fputs("</td><td class=\"num\">", f);
            s_num(f, x, plan);
            fputs("</td><td class=\"num\">", f);
            s_pct(f, x, s_path(r, "plan", "percent", mi->name));
            fputs("</td></tr>\n", f);
        }
    }
    fputs("</tbody>\n</table>\n", f);
}

static void s_read_at(FILE *f, const kc_octx_t *x, time_t t)
{
    struct tm lt, ut;
    localtime_r(&t, &lt);
    gmtime_r(&t, &ut);
    char iso[32], shown[64];
    strftime(iso, sizeof iso, "%Y-%m-%dT%H:%M:%SZ", &ut);
    strftime(shown, sizeof shown, x->lang == 1 ? "%Y-%m-%d %H:%M:%S %Z" : "%H:%M:%S %d/%m/%Y %Z",
             &lt);
    fprintf(f, "<p class=\"muted\">%s <time id=\"totals-read-at\" datetime=\"%s\">",
            s_t(x, T_READ_AT), iso);
    kc_oesc(f, shown);
    fputs("</time></p>\n", f);
}

/* ---- the section ---- */

void kc_ototals_section(FILE *f, kc_ohttp_t *h, const kc_octx_t *x, const kc_office_t *of)
{
    (void)h;
    time_t now = time(NULL);
    struct tm lt;
    localtime_r(&now, &lt);
    int year = lt.tm_year + 1900;
    fputs("<section class=\"card\" aria-labelledby=\"totals-title\" id=\"totals\">\n"
          "<h2 id=\"totals-title\">",
          f);
    fprintf(f, s_t(x, T_TITLE), year);
    fputs("</h2>\n", f);
    if (!of->api || !of->api[0]) {
        fprintf(f, "<p class=\"muted\" id=\"totals-not-configured\">%s</p>\n</section>\n",
                s_t(x, T_NOT_CONFIGURED));
        return;
    }
    pthread_once(&s_once, s_init);

    char *prov = NULL, *act = NULL;
    time_t read_at = 0;
    bool fresh = false, failed = false;
    int64_t mono = s_mono();
    pthread_mutex_lock(&s_mu);
    s_entry_t *e = s_entry(of->id);
    bool have = e && e->by_prov && e->year == year;
    bool do_fetch = true;
    if (have && mono - e->good_mono < S_TTL_S)
        do_fetch = false, fresh = true;
    else if (e && e->fail_mono && mono - e->fail_mono < S_RETRY_S)
        do_fetch = false, failed = true; /* tried a moment ago */
    else if (have && e->fetching)
        do_fetch = false; /* another page load is fetching: show what is here */
    if (have && !do_fetch) {
        prov = strdup(e->by_prov);
        act = strdup(e->by_act);
        read_at = e->read_at;
    }
    if (do_fetch && e)
        e->fetching = true;
    pthread_mutex_unlock(&s_mu);

    if (do_fetch) {
        char err[512] = "";
        char *np = NULL, *na = NULL;
        int rc = s_fetch(of, year, &np, &na, err, sizeof err);
        time_t t = time(NULL);
        if (rc != 0) {
            failed = true;
            for (char *c = err; *c; c++) /* a proxy's error page: one log line */
                if ((unsigned char)*c < 0x20 || *c == 0x7f)
                    *c = ' ';
            kc_warn("KC-OFF-110 office %s: cannot read the centre's totals from %s: %s; the "
                    "home page shows the last figures read or a note (next try in %d s)",
                    of->id, of->api, err, S_RETRY_S);
        }
        pthread_mutex_lock(&s_mu);
        if (e) {
            e->fetching = false;
            if (rc == 0) {
                if (e->fail_mono)
                    kc_info("KC-OFF-111 office %s: the centre's totals can be read again from %s",
                            of->id, of->api);
                free(e->by_prov);
                free(e->by_act);
                e->by_prov = strdup(np);
                e->by_act = strdup(na);
                if (!e->by_prov || !e->by_act) {
                    free(e->by_prov);
                    free(e->by_act);
                    e->by_prov = e->by_act = NULL;
                }
                e->year = year;
                e->read_at = t;
                e->good_mono = s_mono();
                e->fail_mono = 0;
            } else {
                e->fail_mono = s_mono();
                if (e->fail_mono == 0)
                    e->fail_mono = 1;
            }
        }
        if (rc == 0) {
            prov = np, act = na, read_at = t, fresh = true;
            np = na = NULL;
        } else if (e && e->by_prov && e->year == year) {
            prov = strdup(e->by_prov);
            act = strdup(e->by_act);
            read_at = e->read_at;
        }
        pthread_mutex_unlock(&s_mu);
        free(np);
        free(na);
    }

    json_t *dp = prov ? s_parse(prov) : NULL;
    json_t *da = act ? s_parse(act) : NULL;
    if (prov && (!dp || !da)) {
        kc_warn("KC-OFF-112 office %s: the centre's totals from %s are not the JSON expected "
                "(/v1/totals of kc-aggregator); the home page shows a note",
                of->id, of->api);
        failed = true;
    }
    if (!dp || !da) {
        fprintf(f, "<p class=\"alert\" id=\"totals-unavailable\">%s</p>\n</section>\n",
                s_t(x, T_UNREACHABLE));
    } else {
        if (failed && !fresh)
            fprintf(f, "<p class=\"alert\" id=\"totals-stale\">%s</p>\n", s_t(x, T_STALE));
        s_read_at(f, x, read_at);
        s_province_table(f, x, of, dp, year);
        s_activity_table(f, x, da);
        fputs("</section>\n", f);
    }
    json_decref(dp);
    json_decref(da);
    free(prov);
    free(act);
}
