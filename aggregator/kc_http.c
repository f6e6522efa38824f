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
 * Query parameters: /v1/totals takes kc-query's (core/kc_qry.h,
 * KC_QRY_URL style), /v1/provinces takes scheme, /v1/report kc-report's
 * (core/report/kc_report.h: the same model and renderers, the file as an
 * attachment), /v1/rejects the filters of core/kc_rejects.h, the other /v1
 * routes and /metrics none; an unknown or repeated parameter is a 400 like a
 * bad value.
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
 * /v1/report (issue 16) is libkcreport's report (core/report/kc_report.h, the
 * same model and renderers as kc-report) as a download: region, province,
 * year, months, units, lang, format (xlsx, pdf, csv, html, text; default
 * html), table, bom and total, each at most once; Content-Type of the format
 * and Content-Disposition: attachment; filename="kcpipe-report-<region>-<Y>-
 * <A>-<B>.<ext>". The body is rendered into memory (open_memstream) from one
 * read transaction; the report's text names no store path (store_label NULL).
 * No answer names the store's directory (issue 16): a path on the server is
 * of no use to a reader of the API and tells an attacker about the host, so
 * /v1/totals is kc-query's JSON without its "store" member.
 *
 * /v1/completeness (issue 18) is `kc-query --completeness --format json`
 * (core/kc_cycle.h) without "store": year, months, region, province, units
 * and as_of; the server keeps one index of first reports, extended by the
 * log entries appended since the previous request.
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
#include "kc_cycle.h"
#include "kc_err.h"
#include "kc_filter.h"
#include "kc_jtext.h"
#include "kc_json.h"
#include "kc_log.h"
#include "kc_merkle.h"
#include "kc_qry.h"
#include "kc_rejects.h"
#include "kc_report.h"
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
    kc_cycle_index_t *cycle; /* /v1/completeness */
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

/* Queue r (destroyed) with status; counts it. */
static enum MHD_Result s_queue(kc_http_t *h, struct MHD_Connection *c, unsigned status,
                               struct MHD_Response *r)
{
    enum MHD_Result ret = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);
    if (ret == MHD_YES)
        kc_metrics_http(h->metrics, status);
    return ret;
}

/* Queue body (malloc'd, taken over) with status and type; counts it.
 * disposition: a Content-Disposition value, or NULL. */
static enum MHD_Result s_send(kc_http_t *h, struct MHD_Connection *c, unsigned status,
                              const char *type, char *body, size_t len, bool no_store,
                              const char *disposition)
{
    struct MHD_Response *r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (disposition)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_DISPOSITION, disposition);
    s_security_headers(r, S_CSP_DATA);
    if (no_store)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    return s_queue(h, c, status, r);
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
        return s_send(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, S_JSON_TYPE, b, sizeof oom - 1, true,
                      NULL);
    }
    size_t n = strlen(s);
    char *b = realloc(s, n + 2); /* a final newline, as kc-query prints */
    if (!b) {
        free(s);
        return MHD_NO;
    }
    b[n] = '\n';
    b[n + 1] = '\0';
    return s_send(h, c, status, S_JSON_TYPE, b, n + 1, true, NULL);
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

/* GET /v1/completeness (core/kc_cycle.h): kc_qry's URL parameters that apply. */
static enum MHD_Result s_completeness(kc_http_t *h, struct MHD_Connection *c)
{
    kc_qry_opts_t *o = malloc(sizeof *o);
    if (!o)
        return s_error(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    kc_qry_init(o);
    s_args_t a = {.qry = o};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, s_arg, &a);
    enum MHD_Result ret;
    if (a.failed || kc_qry_finish(o, KC_QRY_URL, a.err, sizeof a.err) != 0 ||
        kc_cycle_check_opts(o, KC_QRY_URL, a.err, sizeof a.err) != 0) {
        ret = s_error(h, c, MHD_HTTP_BAD_REQUEST, a.err);
    } else {
        kc_cycle_table_t t;
        kc_txn_t *txn = NULL;
        int rc = kc_store_read_begin(h->store, &txn);
        if (rc == 0)
            rc = kc_cycle_answer(h->cycle, txn, o, &t);
        kc_txn_end(&txn);
        ret = rc == 0 ? s_json(h, c, MHD_HTTP_OK, kc_cycle_json(&t)) : s_store_error(h, c, rc);
        if (rc == 0)
            kc_cycle_table_free(&t);
    }
    free(o);
    return ret;
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
        /* scheme 34: and the scheme-63 provinces merged into it (top of file) */
        rc = kc_report_unit_reports(txn, scheme, p->code, true, &last, &events);
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
    return s_send(h, c, MHD_HTTP_OK, S_METRICS_TYPE, text, len, true, NULL);
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
        return s_queue(h, c, MHD_HTTP_OK, r);
    }
    return s_error(h, c, MHD_HTTP_NOT_FOUND, "not found");
}

/* GET /v1/rejects?province=&reason=&since=&until=&producer=&duplicates=&limit=
 * (core/kc_rejects.h, KC_QRY_URL style: province and reason repeatable, any
 * other repeat or unknown parameter a 400): the rejected rows, newest first,
 * as kc_rejects_json (docs/MONITORING.md). */
typedef struct {
    kc_rejects_opts_t q;
    bool failed;
    char err[320];
} s_rej_args_t;

static enum MHD_Result s_rejects_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                     const char *value)
{
    (void)kind;
    s_rej_args_t *a = cls;
    if (!a->failed && kc_rejects_set(&a->q, KC_QRY_URL, key, value, a->err, sizeof a->err) != 0)
        a->failed = true;
    return a->failed ? MHD_NO : MHD_YES;
}

static enum MHD_Result s_rejects(kc_http_t *h, struct MHD_Connection *c)
{
    s_rej_args_t *a = calloc(1, sizeof *a);
    if (!a)
        return s_error(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    kc_rejects_init(&a->q, KC_QRY_URL);
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, s_rejects_arg, a);
    enum MHD_Result ret;
    if (a->failed) {
        ret = s_error(h, c, MHD_HTTP_BAD_REQUEST, a->err);
    } else {
        kc_txn_t *txn = NULL;
        kc_rejects_t list = {0};
        int rc = kc_store_read_begin(h->store, &txn);
        if (rc == 0)
            rc = kc_rejects_list(&a->q, txn, &list);
        json_t *doc = rc == 0 ? kc_rejects_json(&list) : NULL; /* copies: before the txn ends */
        kc_rejects_free(&list);
        kc_txn_end(&txn);
        ret = rc == 0 ? s_json(h, c, MHD_HTTP_OK, doc) : s_store_error(h, c, rc);
    }
    free(a);
    return ret;
}

/* ---- GET /v1/report (libkcreport, the same code as kc-report) ---- */

/* The parameters of /v1/report, each at most once (raw values, borrowed
 * from libmicrohttpd for the request's life). */
typedef struct {
    const char *v[10];
    bool failed;
    char err[320];
} s_rep_args_t;

static const char *const s_rep_keys[10] = {"region", "province", "year",  "months", "units",
                                           "lang",   "format",   "table", "bom",    "total"};

static enum MHD_Result s_rep_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                 const char *value)
{
    (void)kind;
    s_rep_args_t *a = cls;
    for (size_t i = 0; key && i < 10; i++) {
        if (strcmp(key, s_rep_keys[i]) != 0)
            continue;
        if (a->v[i]) {
            snprintf(a->err, sizeof a->err, "parameter '%s' given more than once", key);
            a->failed = true;
            return MHD_NO;
        }
        a->v[i] = value ? value : "";
        return MHD_YES;
    }
    snprintf(a->err, sizeof a->err, "unknown parameter '%s'", key ? key : "");
    a->failed = true;
    return MHD_NO;
}

/* "0" or "1" into *out; anything else is an error naming the parameter. */
static int s_rep_bool(const char *v, const char *name, bool *out, char *err, size_t cap)
{
    if (!v)
        return 0;
    if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) {
        snprintf(err, cap, "%s takes 0 or 1, not '%s'", name, v);
        return KC_EINVAL;
    }
    *out = v[0] == '1';
    return 0;
}

/* The query of a /v1/report request; 0 or KC_EINVAL with err. */
static int s_rep_query(const s_rep_args_t *a, kc_report_query_t *q, kc_report_format_t *fmt,
                       kc_report_opts_t *ro, char *err, size_t cap)
{
    long v;
    memset(q, 0, sizeof *q);
    kc_cells_filter_init(&q->f);
    q->m_from = 1;
    q->m_to = 12;
    *fmt = KC_REPORT_HTML;
    if (a->v[4] && kc_filter_parse_units(a->v[4], &q->f.units, err, cap) != 0)
        return KC_EINVAL;
    if (a->v[0] && kc_filter_add_region(&q->f, a->v[0], err, cap) != 0)
        return KC_EINVAL;
    if (a->v[1] && kc_filter_add_province(&q->f, a->v[1], err, cap) != 0)
        return KC_EINVAL;
    if (!a->v[0] && !a->v[1]) {
        snprintf(err, cap, "give region (north, central_highlands, south) or province");
        return KC_EINVAL;
    }
    if (!a->v[2]) {
        snprintf(err, cap, "give year (2001-2100)");
        return KC_EINVAL;
    }
    if (kc_filter_parse_int(a->v[2], 2001, 2100, &v, "year", err, cap) != 0)
        return KC_EINVAL;
    q->year = (int)v;
    if (a->v[3] && kc_filter_parse_months(a->v[3], &q->m_from, &q->m_to, err, cap) != 0)
        return KC_EINVAL;
    if (a->v[5] && kc_lang_parse(a->v[5], &q->lang) != 0) {
        snprintf(err, cap, "lang takes en or vi, not '%s'", a->v[5]);
        return KC_EINVAL;
    }
    if (a->v[6] && kc_report_format_parse(a->v[6], fmt) != 0) {
        snprintf(err, cap, "format takes xlsx, pdf, csv, html or text, not '%s'", a->v[6]);
        return KC_EINVAL;
    }
    if (a->v[7] && kc_report_table_parse(a->v[7], &ro->table) != 0) {
        snprintf(err, cap, "table takes all, summary, provinces or activities, not '%s'", a->v[7]);
        return KC_EINVAL;
    }
    bool bom = true;
    if (s_rep_bool(a->v[8], "bom", &bom, err, cap) != 0 ||
        s_rep_bool(a->v[9], "total", &ro->total, err, cap) != 0)
        return KC_EINVAL;
    ro->no_bom = !bom;
    return kc_report_query_check(q, err, cap);
}

/* kcpipe-report-<region or province>-<Y>-<A>-<B>.<ext>, [a-z0-9_-] only. */
static void s_rep_filename(const s_rep_args_t *a, const kc_report_query_t *q,
                           kc_report_format_t fmt, char *out, size_t cap)
{
    char place[48];
    size_t n = 0;
    const char *src = a->v[0] ? a->v[0] : "";
    if (!a->v[0] && q->f.n_provinces)
        snprintf(place, sizeof place, "p%02u", q->f.provinces[0]);
    else
        for (; *src && n + 1 < sizeof place; src++)
            if ((*src >= 'a' && *src <= 'z') || (*src >= '0' && *src <= '9') || *src == '_' ||
                *src == '-')
                place[n++] = *src;
    if (a->v[0] || !q->f.n_provinces)
        place[n] = '\0';
    snprintf(out, cap, "kcpipe-report-%s-%d-%d-%d.%s", place[0] ? place : "report", q->year,
             q->m_from, q->m_to, kc_report_format_ext(fmt));
}

static enum MHD_Result s_report(kc_http_t *h, struct MHD_Connection *c)
{
    s_rep_args_t a = {0};
    MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, s_rep_arg, &a);
    if (a.failed)
        return s_error(h, c, MHD_HTTP_BAD_REQUEST, a.err);
    kc_report_query_t q;
    kc_report_format_t fmt;
    kc_report_opts_t ro = {0};
    if (s_rep_query(&a, &q, &fmt, &ro, a.err, sizeof a.err) != 0)
        return s_error(h, c, MHD_HTTP_BAD_REQUEST, a.err);
    kc_report_t *r = NULL;
    kc_txn_t *txn = NULL;
    int rc = kc_store_read_begin(h->store, &txn);
    if (rc == 0)
        rc = kc_report_build(txn, &q, &r); /* q.store_label NULL: no server path */
    kc_txn_end(&txn);
    if (rc != 0)
        return s_store_error(h, c, rc);
    char *body = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&body, &len);
    rc = mem ? kc_report_render(r, fmt, &ro, mem) : KC_ENOMEM;
    if (mem && fclose(mem) != 0 && rc == 0)
        rc = KC_ENOMEM;
    kc_report_free(&r);
    if (rc != 0) {
        free(body);
        return s_error(h, c, MHD_HTTP_INTERNAL_SERVER_ERROR, "cannot render the report");
    }
    char name[128], disp[192];
    s_rep_filename(&a, &q, fmt, name, sizeof name);
    snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", name);
    return s_send(h, c, MHD_HTTP_OK, kc_report_format_mime(fmt), body, len, true, disp);
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
    if (strcmp(url, "/v1/report") == 0)
        return s_report(h, c);
    if (strcmp(url, "/v1/rejects") == 0)
        return s_rejects(h, c);
    if (strcmp(url, "/v1/completeness") == 0)
        return s_completeness(h, c);
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
    if (!(h->cycle = kc_cycle_index_new())) {
        free(h);
        return KC_ENOMEM;
    }
    unsigned threads = opts->threads ? opts->threads : 2;
    errno = 0;
    h->daemon = MHD_start_daemon(flags, (uint16_t)opts->port, NULL, NULL, s_handle, h,
                                 MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, NULL, MHD_OPTION_SOCK_ADDR,
                                 sa, MHD_OPTION_THREAD_POOL_SIZE, threads,
                                 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
    if (!h->daemon) {
        int e = errno;
        kc_cycle_index_free(&h->cycle);
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
    kc_cycle_index_free(&h->cycle);
    free(h);
    *self_p = NULL;
}

unsigned kc_http_port(const kc_http_t *self)
{
    return self ? self->port : 0;
}
