/* kc_http.c - the aggregator's read-only HTTP server (kc_http.h), on
 * libmicrohttpd: an internal polling thread with a pool of opts.threads
 * threads; each request is answered on its first call to the access handler
 * (GET and HEAD carry no body; anything else gets 405 at once).
 *
 * Every /v1 answer is JSON built with jansson and written by kc_json_dumps
 * (common/kc_json.h: integers exact at any size; /v1/totals' figures
 * are 128-bit sums that may leave int64), from
 * one read transaction of the store (an LMDB MVCC snapshot: the commit
 * thread is never blocked); Cache-Control: no-store on /v1 and /metrics.
 * Query parameters: /v1/totals takes kc-query's (tools/common/kc_qry.h,
 * KC_QRY_URL style), /v1/provinces takes scheme, the other /v1 routes and
 * /metrics none; an unknown or repeated parameter is a 400 like a bad value.
 * The dashboard's files ignore query strings (cache busters).
 * Every answer says X-Content-Type-Options: nosniff, X-Frame-Options: DENY,
 * Referrer-Policy: no-referrer and a Content-Security-Policy: for the
 * dashboard's files S_CSP_PAGE (scripts, styles, images and fetches from this
 * origin only, no inline script or style, never framed), for JSON and the
 * metrics text S_CSP_DATA (nothing: they are data, never a page).
 * HEAD: libmicrohttpd sends the headers of the GET answer without its body.
 * Text from the store or from a request (producer ids, which a store written
 * before the admission rules may hold as any bytes; a parameter echoed in a
 * 400) goes into JSON in display form (common/kc_jtext.h), so every
 * answer is valid UTF-8.
 * No answer names the store's directory (issue 16): a path on the server is
 * of no use to a reader of the API and tells an attacker about the host, so
 * /v1/totals is kc-query's JSON without its "store" member.
 *
 * /v1/provinces?scheme=34 counts, for each scheme-34 unit, the reports of the
 * unit itself and of the scheme-63 provinces merged into it (successor), as
 * kc-watch --units 34 and /v1/totals?units=34 do: the latest last_report and
 * the sum of events. Data of before 2025-07 is stored under the scheme-63
 * units, so without this a 34-unit view of 2022 showed every province as
 * never reporting. Scheme 63 counts its own units only.
 */
#include "kc_http.h"

#include "kc_audit.h"
#include "kc_err.h"
#include "kc_jtext.h"
#include "kc_json.h"
#include "kc_log.h"
#include "kc_merkle.h"
#include "kc_qry.h"
#include "kc_text.h"
#include "kc_time.h"
#include "kc_web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#define S_JSON_TYPE    "application/json"
#define S_METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"
/* web/index.html loads /assets/{style.css,chart.min.js,app.js,favicon.svg}
 * and app.js fetches /v1: nothing inline, nothing from another origin */
#define S_CSP_PAGE                                                                                 \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
#define S_CSP_DATA "default-src 'none'; frame-ancestors 'none'"

struct kc_http {
    struct MHD_Daemon *daemon;
    kc_store_t *store;
    kc_metrics_t *metrics;
    unsigned port;
};

/* ---- responses ---- */

/* The headers every answer carries (see the top of this file). */
static void s_security_headers(struct MHD_Response *r, const char *csp)
{
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(r, "X-Frame-Options", "DENY");
    MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(r, "Content-Security-Policy", csp);
}

/* Queue body (malloc'd, taken over) with status and type; counts it. */
static enum MHD_Result s_send(kc_http_t *h, struct MHD_Connection *c, unsigned status,
                              const char *type, char *body, size_t len, bool no_store)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    s_security_headers(r, S_CSP_DATA);
    if (no_store)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    if (ret == MHD_YES)
        kc_metrics_http(h->metrics, status);
    return ret;
}

/* A JSON document (reference taken). */
static enum MHD_Result s_json(kc_http_t *h, struct MHD_Connection *c, unsigned status, json_t *doc)
{
    char *s = doc ? kc_json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(doc);
    if (!s) {
        static const char oom[] = "{\"error\":\"out of memory\"}";
        char *b = malloc(sizeof oom);
        if (!b)
            return MHD_NO;
        memcpy(b, oom, sizeof oom);
        return s_send(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, S_JSON_TYPE, b, sizeof oom - 1, true);
    }
    size_t n = strlen(s);
    char *b = realloc(s, n + 2); /* a final newline, as kc-query prints */
    if (!b) {
        free(s);
        return MHD_NO;
    }
    b[n] = '\n';
    b[n + 1] = '\0';
    return s_send(h, c, status, S_JSON_TYPE, b, n + 1, true);
}

/* reason may echo a parameter (any bytes): kc_json_text keeps the body valid UTF-8 */
static enum MHD_Result s_error(kc_http_t *h, struct MHD_Connection *c, unsigned status,
                               const char *reason)
{
    return s_json(h, c, status, json_pack("{s:o}", "error", kc_json_texts(reason)));
}

static enum MHD_Result s_store_error(kc_http_t *h, struct MHD_Connection *c, int rc)
{
    char msg[160];
    snprintf(msg, sizeof msg, "reading the store: %s", kc_strerror(rc));
    return s_error(
        h, c, rc == KC_EBUSY ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_INTERNAL_SERVER_ERROR, msg);
}

static json_t *s_time(uint64_t ns)
{
    char t[48];
    return ns ? json_string(kc_qry_fmt_time(t, sizeof t, ns)) : json_null();
}

/* ---- query parameters ---- */

typedef struct {
    const char *route;  /* for "unknown parameter" in routes without parameters */
    kc_qry_opts_t *qry; /* /v1/totals */
    const char *scheme; /* /v1/provinces */
    int n_scheme;
    bool failed;
    char err[320];
} s_args_t;

static enum MHD_Result s_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    s_args_t *a = cls;
    if (a->failed)
        return MHD_NO;
    if (a->qry) {
        if (kc_qry_set(a->qry, KC_QRY_URL, key, value, a->err, sizeof a->err) != 0)
            a->failed = true;
    } else if (a->route && strcmp(a->route, "/v1/provinces") == 0 && strcmp(key, "scheme") == 0) {
        if (a->n_scheme++) {
            snprintf(a->err, sizeof a->err, "parameter 'scheme' given more than once");
            a->failed = true;
        }
        a->scheme = value ? value : "";
    } else {
        snprintf(a->err, sizeof a->err, "unknown parameter '%s'", key ? key : "");
        a->failed = true;
    }
    return a->failed ? MHD_NO : MHD_YES;
}

/* ---- routes ---- */

static enum MHD_Result s_totals(kc_http_t *h, struct MHD_Connection *c)
{
    kc_qry_opts_t *o = malloc(sizeof *o);
    kc_qry_answer_t *ans = malloc(sizeof *ans);
    if (!o || !ans) {
        free(o);
        free(ans);
        return s_error(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    kc_qry_init(o);
    o->store = ""; /* not shown: removed from the answer below */
    o->format = KC_QRY_JSON;
    s_args_t a = {.qry = o};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, s_arg, &a);
    enum MHD_Result ret;
    if (a.failed || kc_qry_finish(o, KC_QRY_URL, a.err, sizeof a.err) != 0) {
        ret = s_error(h, c, MHD_HTTP_BAD_REQUEST, a.err);
    } else {
        kc_txn_t *txn = NULL;
        int rc = kc_store_read_begin(h->store, &txn);
        if (rc == 0)
            rc = kc_qry_answer(o, txn, ans);
        kc_txn_end(&txn);
        json_t *doc = rc == 0 ? kc_qry_json(o, ans) : NULL;
        if (doc)
            json_object_del(doc, "store"); /* no server path in an answer (top of file) */
        ret = rc == 0 ? s_json(h, c, MHD_HTTP_OK, doc) : s_store_error(h, c, rc);
    }
    free(ans);
    free(o);
    return ret;
}

/* Adds unit's state to *last (the latest report) and *events; a unit never
 * reported adds nothing. */
static int s_unit_add(kc_txn_t *txn, uint8_t unit, uint64_t *last, uint64_t *events)
{
    kc_unit_state_t st;
    int rc = kc_txn_unit_get(txn, unit, &st);
    if (rc == KC_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (st.last_report_ns > *last)
        *last = st.last_report_ns;
    *events += st.events;
    return 0;
}

static enum MHD_Result s_provinces(kc_http_t *h, struct MHD_Connection *c)
{
    s_args_t a = {.route = "/v1/provinces"};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, s_arg, &a);
    if (a.failed)
        return s_error(h, c, MHD_HTTP_BAD_REQUEST, a.err);
    int scheme;
    if (!a.scheme) {
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        scheme = kc_ref_scheme_for((tm.tm_year + 1900) * 100 + tm.tm_mon + 1);
    } else if (strcmp(a.scheme, "63") == 0 || strcmp(a.scheme, "34") == 0) {
        scheme = atoi(a.scheme);
    } else {
        snprintf(a.err, sizeof a.err, "scheme takes 63 or 34, not '%s'", a.scheme);
        return s_error(h, c, MHD_HTTP_BAD_REQUEST, a.err);
    }
    kc_txn_t *txn = NULL;
    int rc = kc_store_read_begin(h->store, &txn);
    if (rc != 0)
        return s_store_error(h, c, rc);
    json_t *list = json_array();
    for (size_t i = 0; rc == 0 && i < kc_ref_province_count(); i++) {
        const kc_province_t *p = kc_ref_province_at(i);
        if (p->scheme != scheme)
            continue;
        /* the period the scheme's regions are read at: its last month for
         * scheme 63 (before the merger), its first for scheme 34 */
        int32_t period = scheme == 63 ? p->valid_to : p->valid_from;
        if (scheme == 34 && period < KC_CELLS_MERGER)
            period = KC_CELLS_MERGER;
        if (scheme == 63 && period >= KC_CELLS_MERGER)
            period = KC_CELLS_MERGER - 1;
        const char *region = kc_ref_region_of(p->code, period);
        uint64_t last = 0, events = 0;
        rc = s_unit_add(txn, kc_ref_unit_key(p->code, period), &last, &events);
        /* scheme 34: and the scheme-63 provinces merged into it (top of file) */
        for (size_t j = 0; rc == 0 && scheme == 34 && j < kc_ref_province_count(); j++) {
            const kc_province_t *q = kc_ref_province_at(j);
            if (q->scheme == 63 && q->successor == p->code)
                rc = s_unit_add(txn, kc_ref_unit_in(63, q->code), &last, &events);
        }
        if (rc != 0)
            break;
        char succ[8];
        snprintf(succ, sizeof succ, "%02u", p->successor);
        json_t *o = json_object();
        json_object_set_new(o, "code", json_string(p->code_str));
        json_object_set_new(o, "name", json_string(p->name));
        json_object_set_new(o, "region", region ? json_string(region) : json_null());
        json_object_set_new(o, "successor", p->successor ? json_string(succ) : json_null());
        json_object_set_new(o, "last_report", s_time(last));
        json_object_set_new(o, "events", json_integer((json_int_t)events));
        json_array_append_new(list, o);
    }
    kc_txn_end(&txn);
    if (rc != 0) {
        json_decref(list);
        return s_store_error(h, c, rc);
    }
    return s_json(h, c, MHD_HTTP_OK, json_pack("{s:i,s:o}", "scheme", scheme, "provinces", list));
}

static enum MHD_Result s_activities(kc_http_t *h, struct MHD_Connection *c)
{
    json_t *list = json_array();
    for (size_t i = 0; i < kc_ref_activity_count(); i++) {
        const kc_activity_t *a = kc_ref_activity_at(i);
        json_t *metrics = json_array();
        for (int m = 0; m < KC_METRIC_COUNT; m++)
            if (a->metric_mask & (1u << m))
                json_array_append_new(metrics, json_string(kc_ref_metric(m)->name));
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:s,s:o}", "code", a->code, "name",
                                              a->name, "label_vi", a->label_vi, "label_en",
                                              a->label_en, "metrics", metrics));
    }
    return s_json(h, c, MHD_HTTP_OK, json_pack("{s:o}", "activities", list));
}

typedef struct {
    kc_http_t *h;
    json_t *list;
    uint64_t now;
} s_prod_ctx_t;

static int s_producer(const char *producer, const kc_producer_state_t *st, void *ctx)
{
    s_prod_ctx_t *p = ctx;
    /* reported in the producer's current spool epoch only (kc_metrics.h): null = unknown */
    uint64_t spool = kc_metrics_spool_last_seq(p->h->metrics, producer, st->epoch);
    json_t *o = json_object();
    json_object_set_new(o, "producer", kc_json_texts(producer)); /* any bytes in older stores */
    json_object_set_new(o, "epoch", json_integer((json_int_t)st->epoch));
    json_object_set_new(o, "committed_seq", json_integer((json_int_t)st->hwm));
    json_object_set_new(o, "last_seen", s_time(st->last_seen_ns));
    json_object_set_new(o, "accepted", json_integer((json_int_t)st->accepted));
    json_object_set_new(o, "duplicates", json_integer((json_int_t)st->duplicates));
    json_object_set_new(o, "rejected", json_integer((json_int_t)st->rejected));
    json_object_set_new(o, "spool_last_seq", spool ? json_integer((json_int_t)spool) : json_null());
    json_object_set_new(o, "lag_events",
                        spool ? json_integer((json_int_t)(spool > st->hwm ? spool - st->hwm : 0))
                              : json_null());
    json_object_set_new(
        o, "lag_seconds",
        st->last_seen_ns
            ? json_real(st->last_seen_ns < p->now ? (double)(p->now - st->last_seen_ns) / 1e9 : 0.0)
            : json_null());
    json_array_append_new(p->list, o);
    return 0;
}

static enum MHD_Result s_producers(kc_http_t *h, struct MHD_Connection *c)
{
    kc_txn_t *txn = NULL;
    int rc = kc_store_read_begin(h->store, &txn);
    if (rc != 0)
        return s_store_error(h, c, rc);
    s_prod_ctx_t p = {.h = h, .list = json_array(), .now = kc_time_real_ns()};
    rc = kc_txn_producer_scan(txn, s_producer, &p);
    kc_txn_end(&txn);
    if (rc != 0) {
        json_decref(p.list);
        return s_store_error(h, c, rc);
    }
    return s_json(h, c, MHD_HTTP_OK,
                  json_pack("{s:o,s:o}", "time", s_time(p.now), "producers", p.list));
}

static enum MHD_Result s_head(kc_http_t *h, struct MHD_Connection *c)
{
    kc_txn_t *txn = NULL;
    kc_merkle_sth_t sth;
    int rc = kc_store_read_begin(h->store, &txn);
    if (rc == 0)
        rc = kc_txn_head_last(txn, &sth);
    kc_txn_end(&txn);
    if (rc == KC_ENOTFOUND)
        return s_error(h, c, MHD_HTTP_NOT_FOUND, "no signed tree head yet");
    if (rc != 0)
        return s_store_error(h, c, rc);
    uint8_t pk[KC_MERKLE_PUBKEY_LEN];
    char root[2 * KC_MERKLE_HASH_LEN + 1], sig[2 * KC_MERKLE_SIG_LEN + 1],
        pkh[2 * KC_MERKLE_PUBKEY_LEN + 1];
    kc_merkle_hex(sth.root, sizeof sth.root, root);
    kc_merkle_hex(sth.signature, sizeof sth.signature, sig);
    json_t *pkj = json_null();
    if (kc_store_public_key(h->store, pk) == 0) {
        kc_merkle_hex(pk, sizeof pk, pkh);
        pkj = json_string(pkh);
    }
    /* timestamp_ns: the exact integer the signature covers (docs/PROTOCOL.md "/v1/head");
     * timestamp is the same instant for people */
    return s_json(h, c, MHD_HTTP_OK,
                  json_pack("{s:I,s:I,s:o,s:s,s:s,s:o}", "tree_size", (json_int_t)sth.tree_size,
                            "timestamp_ns", (json_int_t)sth.timestamp_ns, "timestamp",
                            s_time(sth.timestamp_ns), "root", root, "signature", sig, "public_key",
                            pkj));
}

static enum MHD_Result s_status(kc_http_t *h, struct MHD_Connection *c)
{
    kc_txn_t *txn = NULL;
    uint64_t seq = 0;
    int rc = kc_store_read_begin(h->store, &txn);
    if (rc == 0)
        rc = kc_txn_log_size(txn, &seq);
    kc_txn_end(&txn);
    if (rc != 0)
        return s_store_error(h, c, rc);
    return s_json(h, c, MHD_HTTP_OK,
                  json_pack("{s:s,s:I,s:o}", "version", KC_VERSION, "seq", (json_int_t)seq, "time",
                            s_time(kc_time_real_ns())));
}

static enum MHD_Result s_metrics(kc_http_t *h, struct MHD_Connection *c)
{
    if (!h->metrics)
        return s_error(h, c, MHD_HTTP_NOT_FOUND, "metrics are not enabled");
    char *text = NULL;
    size_t len = 0;
    int rc = kc_metrics_render(h->metrics, h->store, &text, &len);
    if (rc != 0)
        return s_store_error(h, c, rc);
    return s_send(h, c, MHD_HTTP_OK, S_METRICS_TYPE, text, len, true);
}

static enum MHD_Result s_web(kc_http_t *h, struct MHD_Connection *c, const char *url)
{
    const kc_web_file_t *f = kc_web_file(url);
    if (f) {
        struct MHD_Response *r =
            MHD_create_response_from_buffer(f->len, (void *)f->data, MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, f->mime);
        s_security_headers(r, S_CSP_PAGE);
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
        enum MHD_Result ret = MHD_queue_response(c, MHD_HTTP_OK, r);
        MHD_destroy_response(r);
        if (ret == MHD_YES)
            kc_metrics_http(h->metrics, MHD_HTTP_OK);
        return ret;
    }
    return s_error(h, c, MHD_HTTP_NOT_FOUND, "not found");
}

static enum MHD_Result s_handle(void *cls, struct MHD_Connection *c, const char *url,
                                const char *method, const char *version, const char *upload_data,
                                size_t *upload_data_size, void **req_cls)
{
    (void)version;
    (void)upload_data;
    (void)upload_data_size;
    (void)req_cls;
    kc_http_t *h = cls;
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
        return s_error(h, c, MHD_HTTP_METHOD_NOT_ALLOWED, "read-only: only GET and HEAD");
    if (strcmp(url, "/v1/totals") == 0)
        return s_totals(h, c);
    if (strcmp(url, "/v1/provinces") == 0)
        return s_provinces(h, c);
    static const struct {
        const char *path;
        enum MHD_Result (*fn)(kc_http_t *, struct MHD_Connection *);
    } plain[] = {{"/v1/activities", s_activities},
                 {"/v1/producers", s_producers},
                 {"/v1/head", s_head},
                 {"/v1/status", s_status},
                 {"/metrics", s_metrics}};
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
        if (strcmp(url, plain[i].path) != 0)
            continue;
        s_args_t a = {.route = url};
        MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, s_arg, &a);
        if (a.failed)
            return s_error(h, c, MHD_HTTP_BAD_REQUEST, a.err);
        return plain[i].fn(h, c);
    }
    if (strncmp(url, "/v1/", 4) == 0 || strcmp(url, "/v1") == 0)
        return s_error(h, c, MHD_HTTP_NOT_FOUND, "no such API route");
    return s_web(h, c, url);
}

/* libmicrohttpd's error log -> kc_log (warn); in display form (kc_text.h): it
 * may quote what a client sent. */
static void s_mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[512], shown[KC_TEXT_SHOW_MAX(sizeof line)];
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    kc_warn("http: %s", kc_text_fit(line, n, shown, sizeof shown));
}

int kc_http_start(kc_http_t **out, const kc_http_opts_t *opts)
{
    if (!out || !opts || !opts->store || opts->port > 65535)
        return KC_EINVAL;
    *out = NULL;
    const char *addr = opts->addr ? opts->addr : KC_HTTP_DEFAULT_ADDR;
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    struct sockaddr *sa;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    memset(&sin, 0, sizeof sin);
    memset(&sin6, 0, sizeof sin6);
    if (inet_pton(AF_INET, addr, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)opts->port);
        sa = (struct sockaddr *)&sin;
    } else if (inet_pton(AF_INET6, addr, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons((uint16_t)opts->port);
        sa = (struct sockaddr *)&sin6;
        flags |= MHD_USE_IPv6;
    } else {
        kc_error("http: '%s' is not an IPv4 or IPv6 address", addr);
        return KC_EINVAL;
    }
    kc_http_t *h = calloc(1, sizeof *h);
    if (!h)
        return KC_ENOMEM;
    h->store = opts->store;
    h->metrics = opts->metrics;
    unsigned threads = opts->threads ? opts->threads : 2;
    errno = 0;
    h->daemon = MHD_start_daemon(flags, (uint16_t)opts->port, NULL, NULL, s_handle, h,
                                 MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
                                 sa, MHD_OPTION_THREAD_POOL_SIZE, threads,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!h->daemon) {
        int e = errno;
        free(h);
        kc_error("http: cannot listen on %s port %u%s%s", addr, opts->port, e ? ": " : "",
                 e ? strerror(e) : "");
        return e == EADDRINUSE || e == EACCES ? KC_EBUSY : KC_EIO;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    h->port = info ? info->port : opts->port;
    *out = h;
    return 0;
}

void kc_http_stop(kc_http_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    kc_http_t *h = *self_p;
    MHD_stop_daemon(h->daemon);
    free(h);
    *self_p = NULL;
}

unsigned kc_http_port(const kc_http_t *self)
{
    return self ? self->port : 0;
}
