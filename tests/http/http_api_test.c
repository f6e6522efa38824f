/* http_api_test.c - the aggregator's HTTP API and /metrics, in process.
 *
 * A store is filled through kc_apply (three producers, two years, plans, a
 * rejection, a business duplicate, an undecodable batch, a signed head), the
 * metrics are fed as kc_agg feeds them, and kc_http serves it on 127.0.0.1
 * port 0. Every route is requested with a small blocking client
 * (http_util.c): status, Content-Type, Cache-Control, HEAD, 404, 405, 400
 * with a reason for bad or unknown parameters (/metrics too), the security
 * headers of every answer (the dashboard's Content-Security-Policy, which its
 * HTML needs nothing beyond); /v1/totals equals the
 * document tools/common/kc_qry builds and what `kc-query --format json`
 * prints (parsed), less the "store" member: no answer of any route names the
 * store's directory (issue 16); /v1/provinces?scheme=34 counts the reports
 * of the scheme-63 provinces merged into a unit (issue 16); the /metrics text passes
 * `promtool check metrics` and carries the values that were sent.
 * Built twice: HTTP_TEST_METRICS selects the /metrics group.
 */
#include "agg_test_util.h"
#include "http_util.h"
#include "kc_apply.h"
#include "kc_audit.h"
#include "kc_err.h"
#include "kc_http.h"
#include "kc_json.h"
#include "kc_metrics.h"
#include "kc_qry.h"

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/wait.h>

static char *s_dir;
static kc_store_t *s_store;
static kc_metrics_t *s_metrics;
static kc_http_t *s_http;
static unsigned s_port;
static kc_agg_counters_t s_total;

/* expected figures (see s_fill) */
#define N_ACCEPTED    10
#define N_DUPLICATES  1
#define N_UNKNOWN_ACT 1

static void s_event(t_event_t *e, const char *producer, uint64_t seq, const char *id,
                    const char *prov, int year, int month, const char *act, int kind,
                    int64_t amount)
{
    t_event(e, producer, seq, id, amount);
    e->ev.province = (char *)prov;
    e->ev.year = (uint32_t)year;
    e->ev.month = (uint32_t)month;
    e->ev.activity = (char *)act;
    if (kind) {
        e->ev.has_kind = 1;
        e->ev.kind = (Kcpipe__V1__Kind)kind;
    }
}

/* One group commit of the given batches; feeds the metrics like kc_agg. */
static void s_commit(t_buf_t *batches, size_t n, const uint64_t *spool_last)
{
    kc_apply_t *g = kc_apply_new();
    assert_non_null(g);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(kc_apply_add(g, batches[i].data, batches[i].len), 0);
    assert_int_equal(kc_apply_commit(g, s_store), 0);
    kc_agg_counters_add(&s_total, kc_apply_delta(g));
    for (size_t i = 0; i < n; i++) {
        kc_apply_msg_info_t mi;
        assert_int_equal(kc_apply_msg_info(g, i, &mi), 0);
        const kc_pb_ack_t *a = kc_apply_ack_msg(g, i);
        kc_metrics_batch(s_metrics, mi.producer_id, mi.events,
                         a && a->has_producer_epoch ? a->producer_epoch : 0,
                         spool_last ? spool_last[i] : 0);
    }
    kc_metrics_commit(s_metrics, &s_total, 0.003, kc_apply_events(g));
    kc_apply_destroy(&g);
}

/* Batch of the given events (packed and freed here). */
static t_buf_t s_batch(const char *producer, t_event_t *evs, size_t n)
{
    t_buf_t packed[16];
    for (size_t i = 0; i < n; i++)
        packed[i] = t_event_pack(&evs[i]);
    t_buf_t b = t_batch(producer, packed, n);
    for (size_t i = 0; i < n; i++)
        t_buf_free(&packed[i]);
    return b;
}

static void s_fill(void)
{
    t_event_t e[8];
    t_buf_t b[3];
    /* office-79: 2021 and 2022 in Ho Chi Minh City, a plan, a rejection */
    s_event(&e[0], "office-79", 1, "a1", "79", 2021, 3, "KC3b", 0, 1000);
    s_event(&e[1], "office-79", 2, "a2", "79", 2021, 4, "KC3b", 0, 2000);
    s_event(&e[2], "office-79", 3, "a3", "79", 2022, 3, "KC3b", 0, 1500);
    s_event(&e[3], "office-79", 4, "a4", "79", 2022, 9, "KC3a", 0, 700);
    s_event(&e[4], "office-79", 5, "p1", "79", 2022, 1, "KC3b", 2, 10000);
    s_event(&e[5], "office-79", 6, "bad", "79", 2022, 5, "KC99", 0, 5);
    b[0] = s_batch("office-79", e, 6);
    /* office-01: Ha Noi */
    s_event(&e[0], "office-01", 1, "h1", "01", 2022, 5, "KC3b", 0, 4000);
    s_event(&e[1], "office-01", 2, "h2", "01", 2021, 5, "KC3a", 0, 300);
    b[1] = s_batch("office-01", e, 2);
    uint64_t spool1[] = {9, 2};
    s_commit(b, 2, spool1);
    t_buf_free(&b[0]);
    t_buf_free(&b[1]);
    /* office-74: Binh Duong (merged into 79 in 2025), a business duplicate of
     * b1, and an undecodable message */
    s_event(&e[0], "office-74", 1, "b1", "74", 2022, 3, "KC3b", 0, 900);
    s_event(&e[1], "office-74", 2, "b2", "74", 2022, 10, "KC3b", 0, 100);
    s_event(&e[2], "office-74", 3, "b1", "74", 2022, 3, "KC3b", 0, 900);
    b[0] = s_batch("office-74", e, 3);
    s_event(&e[0], "office-79", 7, "a5", "79", 2022, 2, "KC3b", 0, 50);
    b[1] = s_batch("office-79", e, 1);
    b[2].data = (uint8_t *)strdup("\xff\xff garbage");
    b[2].len = 10;
    uint64_t spool2[] = {3, 12, 0};
    s_commit(b, 3, spool2);
    for (int i = 0; i < 3; i++)
        t_buf_free(&b[i]);
    assert_int_equal(kc_store_sign_head(s_store, NULL), 0);
}

static int s_setup(void **state)
{
    (void)state;
    s_dir = t_tmpdir("http");
    assert_non_null(s_dir);
    if (kc_store_open(&s_store, s_dir, NULL) != 0)
        return -1;
    s_metrics = kc_metrics_new();
    if (!s_metrics)
        return -1;
    s_fill();
    kc_metrics_feed(s_metrics, 2, 7, 1, 3);
    kc_metrics_readers_cleared(s_metrics, 1);
    kc_http_opts_t o = {
        .addr = "127.0.0.1", .port = 0, .store = s_store, .metrics = s_metrics, .threads = 2};
    if (kc_http_start(&s_http, &o) != 0)
        return -1;
    s_port = kc_http_port(s_http);
    return s_port ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    kc_http_stop(&s_http);
    kc_metrics_free(&s_metrics);
    kc_store_close(&s_store);
    t_rmtree(s_dir);
    free(s_dir);
    return 0;
}

/* ---- helpers ---- */

static t_resp_t s_get(const char *method, const char *path)
{
    t_resp_t r;
    if (t_http(s_port, method, path, &r) != 0)
        fail_msg("%s %s: no HTTP answer", method, path);
    return r;
}

static void s_expect_header(const t_resp_t *r, const char *name, const char *want)
{
    char buf[256];
    const char *v = t_header(r, name, buf, sizeof buf);
    if (!v || strcmp(v, want) != 0)
        fail_msg("header %s: want '%s', got '%s'", name, want, v ? v : "(none)");
}

/* GET path: status, JSON body (new reference). */
static json_t *s_get_json(const char *path, int want_status)
{
    t_resp_t r = s_get("GET", path);
    if (r.status != want_status)
        fail_msg("GET %s: status %d, want %d: %s", path, r.status, want_status, r.body);
    s_expect_header(&r, "Content-Type", "application/json");
    if (strncmp(path, "/v1/", 4) == 0)
        s_expect_header(&r, "Cache-Control", "no-store");
    json_error_t jerr;
    json_t *doc = json_loads(r.body, 0, &jerr);
    if (!doc)
        fail_msg("GET %s: not JSON (%s): %s", path, jerr.text, r.body);
    t_resp_free(&r);
    return doc;
}

static json_int_t s_int(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v))
        fail_msg("'%s' is not an integer", key);
    return json_integer_value(v);
}

/* ---- routes ---- */

static void test_status(void **state)
{
    (void)state;
    json_t *d = s_get_json("/v1/status", 200);
    uint64_t size = 0;
    kc_txn_t *txn = NULL;
    assert_int_equal(kc_store_read_begin(s_store, &txn), 0);
    assert_int_equal(kc_txn_log_size(txn, &size), 0);
    kc_txn_end(&txn);
    assert_int_equal(size, N_ACCEPTED);
    assert_int_equal(s_int(d, "seq"), (json_int_t)size);
    assert_string_equal(json_string_value(json_object_get(d, "version")), KC_VERSION);
    assert_null(json_object_get(d, "store")); /* no server path (issue 16) */
    const char *t = json_string_value(json_object_get(d, "time"));
    assert_non_null(t);
    assert_int_equal(t[strlen(t) - 1], 'Z');
    json_decref(d);
}

static void test_activities(void **state)
{
    (void)state;
    json_t *d = s_get_json("/v1/activities", 200);
    json_t *list = json_object_get(d, "activities");
    assert_int_equal(json_array_size(list), kc_ref_activity_count());
    json_t *a;
    size_t i;
    bool found = false;
    json_array_foreach(list, i, a)
    {
        if (strcmp(json_string_value(json_object_get(a, "code")), "KC3b") != 0)
            continue;
        found = true;
        assert_string_equal(json_string_value(json_object_get(a, "name")), "machinery");
        assert_string_equal(json_string_value(json_object_get(a, "label_en")), "machinery support");
        assert_non_null(json_string_value(json_object_get(a, "label_vi")));
        json_t *m = json_object_get(a, "metrics");
        assert_int_equal(json_array_size(m), 2);
        assert_string_equal(json_string_value(json_array_get(m, 0)), "amount_vnd");
        assert_string_equal(json_string_value(json_array_get(m, 1)), "facilities");
    }
    assert_true(found);
    json_decref(d);
}

static json_t *s_find(json_t *list, const char *key, const char *value)
{
    json_t *o;
    size_t i;
    json_array_foreach(list, i, o)
    {
        const char *v = json_string_value(json_object_get(o, key));
        if (v && strcmp(v, value) == 0)
            return o;
    }
    fail_msg("no entry with %s = %s", key, value);
    return NULL;
}

static void test_provinces(void **state)
{
    (void)state;
    json_t *d = s_get_json("/v1/provinces?scheme=63", 200);
    assert_int_equal(s_int(d, "scheme"), 63);
    json_t *list = json_object_get(d, "provinces");
    assert_int_equal(json_array_size(list), 63);
    json_t *p = s_find(list, "code", "79");
    assert_string_equal(json_string_value(json_object_get(p, "name")), "Hồ Chí Minh");
    assert_string_equal(json_string_value(json_object_get(p, "region")), "south");
    assert_string_equal(json_string_value(json_object_get(p, "successor")), "79");
    assert_int_equal(s_int(p, "events"), 6); /* a1..a4, p1, a5 */
    assert_true(json_is_string(json_object_get(p, "last_report")));
    p = s_find(list, "code", "74");
    assert_string_equal(json_string_value(json_object_get(p, "successor")), "79");
    assert_int_equal(s_int(p, "events"), 2);
    p = s_find(list, "code", "01");
    assert_string_equal(json_string_value(json_object_get(p, "region")), "north");
    assert_int_equal(s_int(p, "events"), 2);
    p = s_find(list, "code", "02"); /* never reported */
    assert_true(json_is_null(json_object_get(p, "last_report")));
    assert_int_equal(s_int(p, "events"), 0);
    /* the latest report of 79 and 74 (scheme 63), for scheme 34's 79 below */
    char last79[64], last74[64];
    snprintf(last79, sizeof last79, "%s",
             json_string_value(json_object_get(s_find(list, "code", "79"), "last_report")));
    snprintf(last74, sizeof last74, "%s",
             json_string_value(json_object_get(s_find(list, "code", "74"), "last_report")));
    const char *latest = strcmp(last79, last74) >= 0 ? last79 : last74; /* same ISO format */
    json_decref(d);

    /* scheme 34 (issue 16, defect 1): nothing was sent under scheme 34 (the
     * rows are of 2021-2022), but a unit counts the reports of the scheme-63
     * provinces merged into it, as kc-watch --units 34 does: 79 those of 79
     * and 74 (Binh Duong merges into 79), 01 those of 01 */
    d = s_get_json("/v1/provinces?scheme=34", 200);
    assert_int_equal(s_int(d, "scheme"), 34);
    list = json_object_get(d, "provinces");
    assert_int_equal(json_array_size(list), 34);
    p = s_find(list, "code", "79");
    assert_true(json_is_null(json_object_get(p, "successor")));
    assert_string_equal(json_string_value(json_object_get(p, "region")), "south");
    assert_int_equal(s_int(p, "events"), 6 + 2);
    assert_non_null(json_string_value(json_object_get(p, "last_report")));
    assert_string_equal(json_string_value(json_object_get(p, "last_report")), latest);
    p = s_find(list, "code", "01");
    assert_int_equal(s_int(p, "events"), 2);
    assert_true(json_is_string(json_object_get(p, "last_report")));
    p = s_find(list, "code", "04"); /* Cao Bang: none of its predecessors reported */
    assert_true(json_is_null(json_object_get(p, "last_report")));
    assert_int_equal(s_int(p, "events"), 0);
    json_decref(d);

    d = s_get_json("/v1/provinces", 200); /* the scheme in force today */
    assert_int_equal(s_int(d, "scheme"), 34);
    json_decref(d);
}

static void test_producers(void **state)
{
    (void)state;
    json_t *d = s_get_json("/v1/producers", 200);
    assert_true(json_is_string(json_object_get(d, "time")));
    json_t *list = json_object_get(d, "producers");
    assert_int_equal(json_array_size(list), 3);
    json_t *p = s_find(list, "producer", "office-79");
    assert_int_equal(s_int(p, "committed_seq"), 7);
    assert_int_equal(s_int(p, "accepted"), 6);
    assert_int_equal(s_int(p, "rejected"), 1);
    assert_int_equal(s_int(p, "duplicates"), 0);
    assert_int_equal(s_int(p, "spool_last_seq"), 12);
    assert_int_equal(s_int(p, "lag_events"), 5);
    assert_true(json_is_real(json_object_get(p, "lag_seconds")));
    assert_true(json_real_value(json_object_get(p, "lag_seconds")) >= 0);
    assert_true(json_is_string(json_object_get(p, "last_seen")));
    p = s_find(list, "producer", "office-74");
    assert_int_equal(s_int(p, "committed_seq"), 3);
    assert_int_equal(s_int(p, "duplicates"), 1);
    assert_int_equal(s_int(p, "lag_events"), 0);
    p = s_find(list, "producer", "office-01");
    assert_int_equal(s_int(p, "spool_last_seq"), 2);
    json_decref(d);
}

static void test_head(void **state)
{
    (void)state;
    json_t *d = s_get_json("/v1/head", 200);
    assert_int_equal(s_int(d, "tree_size"), N_ACCEPTED);
    assert_int_equal(strlen(json_string_value(json_object_get(d, "root"))), 64);
    assert_int_equal(strlen(json_string_value(json_object_get(d, "signature"))), 128);
    assert_int_equal(strlen(json_string_value(json_object_get(d, "public_key"))), 64);
    assert_true(json_is_string(json_object_get(d, "timestamp")));
    /* timestamp_ns is the stored head's exact timestamp, and the signature verifies
     * over the message built from the JSON alone (docs/PROTOCOL.md "/v1/head") */
    kc_txn_t *txn = NULL;
    kc_merkle_sth_t last;
    assert_int_equal(kc_store_read_begin(s_store, &txn), 0);
    assert_int_equal(kc_txn_head_last(txn, &last), 0);
    kc_txn_end(&txn);
    assert_true(json_is_integer(json_object_get(d, "timestamp_ns")));
    assert_true(last.timestamp_ns > 0);
    assert_true((uint64_t)s_int(d, "timestamp_ns") == last.timestamp_ns);
    kc_merkle_sth_t sth = {.tree_size = (uint64_t)s_int(d, "tree_size"),
                           .timestamp_ns = (uint64_t)s_int(d, "timestamp_ns")};
    uint8_t pk[KC_MERKLE_PUBKEY_LEN];
    assert_int_equal(
        kc_merkle_unhex(json_string_value(json_object_get(d, "root")), sth.root, sizeof sth.root),
        0);
    assert_int_equal(kc_merkle_unhex(json_string_value(json_object_get(d, "signature")),
                                     sth.signature, sizeof sth.signature),
                     0);
    assert_int_equal(
        kc_merkle_unhex(json_string_value(json_object_get(d, "public_key")), pk, sizeof pk), 0);
    assert_true(kc_merkle_sth_verify(&sth, pk));
    sth.timestamp_ns++; /* the signature covers timestamp_ns: one ns off does not verify */
    assert_false(kc_merkle_sth_verify(&sth, pk));
    json_decref(d);
}

static void test_head_method_errors(void **state)
{
    (void)state;
    /* HEAD: the GET's status and headers, no body */
    const char *paths[] = {"/v1/status", "/v1/totals?year=2022", "/metrics", "/v1/nope"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        t_resp_t g = s_get("GET", paths[i]), h = s_get("HEAD", paths[i]);
        assert_int_equal(h.status, g.status);
        assert_int_equal(h.body_len, 0);
        char a[128], b[128];
        assert_non_null(t_header(&g, "Content-Type", a, sizeof a));
        s_expect_header(&h, "Content-Type", a);
        if (g.status == 200 && strcmp(paths[i], "/v1/status") != 0) {
            /* status's time changes; the others are stable */
            snprintf(b, sizeof b, "%zu", g.body_len);
            s_expect_header(&h, "Content-Length", b);
        }
        t_resp_free(&g);
        t_resp_free(&h);
    }
    /* 404 */
    const char *missing[] = {"/v1/nope", "/v1", "/v1/totals/", "/nothing-here", "/v2/totals"};
    for (size_t i = 0; i < sizeof missing / sizeof *missing; i++) {
        json_t *d = s_get_json(missing[i], 404);
        assert_true(json_is_string(json_object_get(d, "error")));
        json_decref(d);
    }
    /* 405 for every writing method, with Allow */
    const char *methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
        t_resp_t r = s_get(methods[i], "/v1/totals?year=2022");
        if (r.status != 405)
            fail_msg("%s: status %d", methods[i], r.status);
        s_expect_header(&r, "Allow", "GET, HEAD");
        s_expect_header(&r, "Content-Type", "application/json");
        json_t *d = json_loads(r.body, 0, NULL);
        assert_non_null(d);
        assert_true(json_is_string(json_object_get(d, "error")));
        json_decref(d);
        t_resp_free(&r);
    }
    /* the page: served when kcweb is linked, else a JSON 404 */
    t_resp_t r = s_get("GET", "/");
    assert_true(r.status == 200 || r.status == 404);
    t_resp_free(&r);
}

/* ---- bad parameters ---- */

static void s_bad(const char *path, const char *reason_part)
{
    json_t *d = s_get_json(path, 400);
    const char *reason = json_string_value(json_object_get(d, "error"));
    if (!reason || !strstr(reason, reason_part))
        fail_msg("GET %s: reason '%s' lacks '%s'", path, reason ? reason : "(none)", reason_part);
    if (strncmp(reason, "--", 2) == 0 || strstr(reason, " --"))
        fail_msg("GET %s: reason '%s' speaks of command-line options", path, reason);
    json_decref(d);
}

static void test_bad_parameters(void **state)
{
    (void)state;
    s_bad("/v1/totals", "year is required");
    s_bad("/v1/totals?region=south", "year is required");
    s_bad("/v1/totals?year=abc", "year must be an integer from 2000 to 2100, not 'abc'");
    s_bad("/v1/totals?year=1999", "year must be an integer from 2000 to 2100");
    s_bad("/v1/totals?year", "year must be an integer");
    s_bad("/v1/totals?year=2022&year=2021", "parameter 'year' given more than once");
    s_bad("/v1/totals?year=2022&by=province&by=month", "parameter 'by' given more than once");
    s_bad("/v1/totals?year=2022&foo=1", "unknown parameter 'foo'");
    s_bad("/v1/totals?year=2022&format=json", "unknown parameter 'format'");
    s_bad("/v1/totals?year=2022&store=/tmp", "unknown parameter 'store'");
    s_bad("/v1/totals?year=2022&lang=vi", "unknown parameter 'lang'");
    s_bad("/v1/totals?year=2022&as-of=2022-01-01", "unknown parameter 'as-of'");
    s_bad("/v1/totals?year=2022&months=13", "months '13': months run 1-12");
    s_bad("/v1/totals?year=2022&months=9-3", "months run 1-12 and A <= B");
    s_bad("/v1/totals?year=2022&months=x", "months takes A-B or a single month");
    s_bad("/v1/totals?year=2022&region=mars", "unknown region 'mars'");
    s_bad("/v1/totals?year=2022&province=00", "unknown province code '00'");
    s_bad("/v1/totals?year=2022&units=34&province=74", "province '74' is not a scheme-34 unit");
    s_bad("/v1/totals?year=2022&activity=juggling", "unknown activity 'juggling'");
    s_bad("/v1/totals?year=2022&kind=maybe", "kind takes actual or plan, not 'maybe'");
    s_bad("/v1/totals?year=2022&fund=x", "fund takes kcqg, kcdp or other, not 'x'");
    s_bad("/v1/totals?year=2022&by=year", "by takes province, activity or month");
    s_bad("/v1/totals?year=2022&plan=yes", "plan takes 1");
    s_bad("/v1/totals?year=2022&compare=1999", "compare must be an integer from 2000 to 2100");
    s_bad("/v1/totals?year=2022&units=35", "units takes 34 (or 63, the default), not '35'");
    s_bad("/v1/totals?year=2022&as_of=yesterday", "as_of: 'yesterday' is not 2026-11-27");
    s_bad("/v1/totals?year=2022&as_of=2022-01-01T10:00:00", "as_of: '2022-01-01T10:00:00'");
    s_bad("/v1/totals?year=2022&as_of_offset=-1", "as_of_offset: '-1' is not a number");
    s_bad("/v1/totals?year=2022&as_of=2022-01-01&as_of_offset=3", "give one as_of or as_of_offset");
    s_bad("/v1/totals?year=2022&plan=1&kind=plan",
          "plan compares actual figures with the plan; drop kind plan");
    s_bad("/v1/totals?year=--5", "not '--5'"); /* the value is echoed as given */
    s_bad("/v1/provinces?scheme=12", "scheme takes 63 or 34, not '12'");
    s_bad("/v1/provinces?scheme=63&scheme=34", "parameter 'scheme' given more than once");
    s_bad("/v1/provinces?year=2022", "unknown parameter 'year'");
    s_bad("/v1/status?x=1", "unknown parameter 'x'");
    s_bad("/v1/activities?lang=vi", "unknown parameter 'lang'");
    s_bad("/v1/producers?all", "unknown parameter 'all'");
    s_bad("/v1/head?size=3", "unknown parameter 'size'");
    s_bad("/metrics?x=1", "unknown parameter 'x'");
    s_bad("/metrics?name[]=kcpipe_commits_total", "unknown parameter 'name[]'");
}

/* ---- security headers ---- */

#define T_CSP_PAGE                                                                                 \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "                    \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
#define T_CSP_DATA "default-src 'none'; frame-ancestors 'none'"

static void s_expect_security(const t_resp_t *r, const char *csp)
{
    s_expect_header(r, "X-Content-Type-Options", "nosniff");
    s_expect_header(r, "X-Frame-Options", "DENY");
    s_expect_header(r, "Referrer-Policy", "no-referrer");
    s_expect_header(r, "Content-Security-Policy", csp);
}

/* Whether the page's HTML needs nothing T_CSP_PAGE forbids: no inline script
 * (a <script> without src, an on* handler attribute, a javascript: URL), no
 * inline style (a <style> element, a style attribute) and nothing loaded from
 * another origin or a data: URL. Fails with what it found. */
static void s_page_fits_csp(const char *html)
{
    static const char *const forbidden[] = {
        "<style", " style=", "javascript:", "data:", "http:", "https:", "src=\"//", "href=\"//"};
    for (size_t i = 0; i < sizeof forbidden / sizeof *forbidden; i++) {
        const char *p = strstr(html, forbidden[i]);
        if (p)
            fail_msg("the page has '%s': %.60s", forbidden[i], p);
    }
    for (const char *p = html; (p = strstr(p, " on")) != NULL; p += 3) {
        const char *q = p + 3;
        while (*q >= 'a' && *q <= 'z')
            q++;
        if (*q == '=' && q > p + 3)
            fail_msg("the page has an inline handler: %.40s", p);
    }
    for (const char *p = html; (p = strstr(p, "<script")) != NULL; p++) {
        const char *end = strchr(p, '>');
        assert_non_null(end);
        const char *src = strstr(p, " src=\"/assets/");
        if (!src || src > end)
            fail_msg("a <script> without src=\"/assets/...\": %.60s", p);
    }
}

/* Issue 16, defect 6: no answer of any route, good or bad, names the store's
 * directory, neither in its body nor in a header (kc-query's JSON does: it
 * is the caller's own path there; test_totals_equal_kc_query). */
static void test_no_store_path(void **state)
{
    (void)state;
    static const struct {
        const char *method, *path;
    } reqs[] = {
        {"GET", "/v1/status"},
        {"GET", "/v1/totals"},
        {"GET", "/v1/totals?year=2022&region=south&by=province&plan=1&compare=2021"},
        {"GET", "/v1/totals?year=2022&units=34&by=month"},
        {"GET", "/v1/totals?year=2021&as_of_offset=3"},
        {"GET", "/v1/totals?year=2022&as_of=2099-01-01"},
        {"GET", "/v1/totals?year=x"},
        {"GET", "/v1/totals?store=/tmp"},
        {"GET", "/v1/provinces"},
        {"GET", "/v1/provinces?scheme=63"},
        {"GET", "/v1/provinces?scheme=34"},
        {"GET", "/v1/provinces?scheme=9"},
        {"GET", "/v1/activities"},
        {"GET", "/v1/producers"},
        {"GET", "/v1/head"},
        {"GET", "/metrics"},
        {"GET", "/"},
        {"GET", "/assets/app.js"},
        {"GET", "/v1/nope"},
        {"HEAD", "/v1/status"},
        {"POST", "/v1/totals"},
    };
    for (size_t i = 0; i < sizeof reqs / sizeof *reqs; i++) {
        t_resp_t r = s_get(reqs[i].method, reqs[i].path);
        assert_true(r.status > 0);
        if ((r.body && memmem(r.body, r.body_len, s_dir, strlen(s_dir))) ||
            (r.headers && strstr(r.headers, s_dir)))
            fail_msg("%s %s names the store %s:\n%s%s", reqs[i].method, reqs[i].path, s_dir,
                     r.headers, r.body);
        t_resp_free(&r);
    }
}

static void test_security_headers(void **state)
{
    (void)state;
    /* JSON and the metrics text: data, never a page */
    const char *data[] = {"/v1/status", "/v1/totals?year=2022", "/v1/totals", "/metrics",
                          "/v1/nope",   "/metrics?x=1"};
    for (size_t i = 0; i < sizeof data / sizeof *data; i++) {
        t_resp_t r = s_get("GET", data[i]);
        s_expect_security(&r, T_CSP_DATA);
        t_resp_free(&r);
    }
    t_resp_t r = s_get("POST", "/v1/status");
    assert_int_equal(r.status, 405);
    s_expect_security(&r, T_CSP_DATA);
    t_resp_free(&r);
    /* the dashboard's files (when kcweb is linked): the page's policy */
    r = s_get("GET", "/");
    if (r.status == 404) { /* no dashboard in this build: a JSON 404 */
        s_expect_security(&r, T_CSP_DATA);
        t_resp_free(&r);
        return;
    }
    assert_int_equal(r.status, 200);
    s_expect_header(&r, "Content-Type", "text/html; charset=utf-8");
    s_expect_security(&r, T_CSP_PAGE);
    s_page_fits_csp(r.body);
    /* every file the page names is served here, with the same headers */
    const char *assets[] = {"/assets/style.css", "/assets/chart.min.js", "/assets/app.js",
                            "/assets/favicon.svg"};
    for (size_t i = 0; i < sizeof assets / sizeof *assets; i++) {
        char quoted[64];
        snprintf(quoted, sizeof quoted, "\"%s\"", assets[i]);
        if (!strstr(r.body, quoted))
            fail_msg("the page does not name %s", assets[i]);
        t_resp_t f = s_get("GET", assets[i]);
        assert_int_equal(f.status, 200);
        s_expect_security(&f, T_CSP_PAGE);
        t_resp_free(&f);
    }
    t_resp_free(&r);
    r = s_get("HEAD", "/index.html?v=2"); /* cache busters are ignored; HEAD has them too */
    assert_int_equal(r.status, 200);
    s_expect_security(&r, T_CSP_PAGE);
    t_resp_free(&r);
}

/* ---- /v1/totals = kc_qry = kc-query --format json ---- */

/* The in-process kc_qry document of a query string (URL style). */
static json_t *s_qry_doc(const char *query)
{
    kc_qry_opts_t *o = malloc(sizeof *o);
    kc_qry_answer_t *a = malloc(sizeof *a);
    char err[256], *q = strdup(query), *save = NULL;
    kc_qry_init(o);
    o->store = s_dir;
    o->format = KC_QRY_JSON;
    for (char *kv = strtok_r(q, "&", &save); kv; kv = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(kv, '=');
        if (eq)
            *eq++ = '\0';
        if (kc_qry_set(o, KC_QRY_URL, kv, eq, err, sizeof err) != 0)
            fail_msg("kc_qry_set %s: %s", kv, err);
    }
    if (kc_qry_finish(o, KC_QRY_URL, err, sizeof err) != 0)
        fail_msg("kc_qry_finish: %s", err);
    kc_txn_t *txn = NULL;
    assert_int_equal(kc_store_read_begin(s_store, &txn), 0);
    assert_int_equal(kc_qry_answer(o, txn, a), 0);
    kc_txn_end(&txn);
    json_t *doc = kc_qry_json(o, a);
    free(q);
    free(a);
    free(o);
    return doc;
}

/* `kc-query --store DIR --format json ARGS...` parsed (args space-separated). */
static json_t *s_kcquery_doc(const char *args)
{
    const char *bin = getenv("KC_BIN_DIR");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s/kc-query' --store '%s' --format json %s", bin ? bin : ".", s_dir,
             args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    json_error_t jerr;
    json_t *doc = json_loadf(p, 0, &jerr);
    int st = pclose(p);
    if (!doc || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("%s: exit %d, %s", cmd, WEXITSTATUS(st), doc ? "" : jerr.text);
    return doc;
}

static void test_totals_equal_kc_query(void **state)
{
    (void)state;
    static const struct {
        const char *query; /* URL query string */
        const char *args;  /* the same as kc-query options */
    } cases[] = {
        {"year=2022", "--year 2022"},
        {"year=2021", "--year 2021"},
        {"year=2022&region=south&by=province", "--year 2022 --region south --by province"},
        {"year=2022&months=1-9&plan=1&compare=2021&by=province",
         "--year 2022 --months 1-9 --plan --compare 2021 --by province"},
        {"year=2022&plan=1&compare=2021", "--year 2022 --plan --compare 2021"},
        {"year=2022&by=activity&activity=KC3b&activity=demonstration_model",
         "--year 2022 --by activity --activity KC3b --activity demonstration_model"},
        {"year=2022&by=month&units=34&region=south",
         "--year 2022 --by month --units 34 --region south"},
        {"year=2022&units=34&province=79&by=province&plan=1",
         "--year 2022 --units 34 --province 79 --by province --plan"},
        {"year=2022&province=79&province=01&region=north&months=3",
         "--year 2022 --province 79 --province 01 --region north --months 3"},
        {"year=2022&kind=plan&by=province", "--year 2022 --kind plan --by province"},
        {"year=2022&fund=kcqg&fund=other", "--year 2022 --fund kcqg --fund other"},
        {"year=2021&as_of_offset=3&by=province", "--year 2021 --as-of-offset 3 --by province"},
        {"year=2022&as_of=2099-01-01T00:00:00%2B07:00&compare=2021",
         "--year 2022 --as-of 2099-01-01T00:00:00+07:00 --compare 2021"},
        /* a bare date: UTC in a URL, local time on the command line (issue 16) */
        {"year=2022&as_of=2001-01-01", "--year 2022 --as-of 2001-01-01Z"},
        {"year=2022&plan=0", "--year 2022"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[512];
        snprintf(path, sizeof path, "/v1/totals?%s", cases[i].query);
        json_t *http = s_get_json(path, 200);
        assert_null(json_object_get(http, "store")); /* no server path (issue 16) */
        char q[512];
        snprintf(q, sizeof q, "%s", cases[i].query);
        char *enc = strstr(q, "%2B"); /* the in-process parser gets decoded values */
        if (enc) {
            *enc = '+';
            memmove(enc + 1, enc + 3, strlen(enc + 3) + 1);
        }
        json_t *lib = s_qry_doc(q);
        json_t *cli = s_kcquery_doc(cases[i].args);
        /* the command line names its store; the HTTP answer is the rest */
        assert_string_equal(json_string_value(json_object_get(cli, "store")), s_dir);
        json_object_del(lib, "store");
        json_object_del(cli, "store");
        if (!json_equal(http, lib) || !json_equal(http, cli)) {
            char *a = json_dumps(http, JSON_INDENT(1)), *b = json_dumps(cli, JSON_INDENT(1));
            fail_msg("%s: HTTP and kc-query differ:\n%s\n----\n%s", path, a, b);
        }
        json_decref(http);
        json_decref(lib);
        json_decref(cli);
    }
    /* figures known from s_fill */
    json_t *d = s_get_json("/v1/totals?year=2022&region=south&by=province&plan=1", 200);
    json_t *totals = json_object_get(d, "totals");
    assert_int_equal(s_int(totals, "amount_vnd"), 1500 + 700 + 50 + 900 + 100);
    assert_int_equal(s_int(d, "events"), 5);
    assert_int_equal(s_int(json_object_get(json_object_get(d, "plan"), "totals"), "amount_vnd"),
                     10000);
    json_t *rows = json_object_get(d, "rows");
    assert_int_equal(json_array_size(rows), 2);
    json_t *r79 = s_find(rows, "key", "79");
    assert_string_equal(json_string_value(json_object_get(r79, "label")), "Hồ Chí Minh");
    assert_int_equal(s_int(r79, "scheme"), 63);
    assert_int_equal(s_int(json_object_get(r79, "totals"), "amount_vnd"), 2250);
    assert_true(json_is_real(json_object_get(r79, "percent_of_plan")));
    json_decref(d);
    /* a huge exact integer survives: only through the library here (no event
     * carries one), checked in the JSON encoder's output */
    d = s_get_json("/v1/totals?year=2022&units=34&by=province", 200);
    rows = json_object_get(d, "rows");
    assert_int_equal(json_array_size(rows), 2); /* 74 counts under 79 */
    assert_int_equal(s_int(json_object_get(s_find(rows, "key", "79"), "totals"), "amount_vnd"),
                     3250);
    json_decref(d);
}

/* ---- /v1/totals beyond int64 (issue 12) ---- */

/* The overflow pair and a plan and a previous year of the same size, written
 * as cells through libkcstore (as a store of an older version holds them:
 * the aggregator now refuses such values per event). 2024 and 2023 hold
 * nothing else in this store. */
static int s_fill_big(kc_txn_t *txn, void *ctx)
{
    (void)ctx;
    static const struct {
        kc_cell_key_t key;
        int64_t amount;
    } cells[] = {
        {{2024, 3, 79, 4, 1, 1}, INT64_MAX}, /* KC3b, actual, kcqg */
        {{2024, 5, 1, 1, 1, 2}, 5},          /* KC1, actual, kcdp */
        {{2024, 1, 79, 4, 2, 1}, INT64_MAX}, /* plans */
        {{2024, 1, 1, 1, 2, 1}, INT64_MAX},  {{2023, 3, 79, 4, 1, 1}, (int64_t)1 << 62},
        {{2024, 4, 79, 1, 1, 1}, INT64_MAX}, /* with the first: 79 alone passes 2^64 */
        {{2024, 6, 79, 1, 1, 1}, INT64_MAX},
    };
    for (size_t i = 0; i < sizeof cells / sizeof *cells; i++) {
        kc_cell_t c = {.events = 1};
        c.m[KC_M_AMOUNT_VND] = cells[i].amount;
        int rc = kc_txn_totals_put(txn, &cells[i].key, &c);
        if (rc)
            return rc;
    }
    return 0;
}

static void s_write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* python3 (whose json module reads integers of any size exactly) loads the
 * files a (an HTTP answer: fails if it has a "store" member) and b
 * (kc-query's, whose "store" is deleted), and prints each expression of
 * exprs (';'-separated; d = a's document, e = b's) with repr. */
static char *s_py(const char *a, const char *b, const char *exprs)
{
    char script[600], ex[600], cmd[4200];
    snprintf(script, sizeof script, "%s/check.py", s_dir);
    snprintf(ex, sizeof ex, "%s/exprs.txt", s_dir);
    s_write_file(script,
                 "import json, sys\n"
                 "def load(f):\n"
                 "    return json.load(open(f, encoding='utf-8'),\n"
                 "                     parse_constant=lambda c: sys.exit('not JSON: ' + c))\n"
                 "d, e = load(sys.argv[1]), load(sys.argv[2])\n"
                 "if 'store' in d:\n"
                 "    sys.exit('the HTTP answer names the store: ' + d['store'])\n"
                 "e.pop('store')\n"
                 "for x in open(sys.argv[3], encoding='utf-8').read().split(';'):\n"
                 "    print(repr(eval(x)))\n");
    s_write_file(ex, exprs);
    snprintf(cmd, sizeof cmd, "python3 '%s' '%s' '%s' '%s' 2>&1", script, a, b, ex);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char *out = calloc(1, 8192);
    assert_non_null(out);
    size_t n = fread(out, 1, 8191, p);
    int st = pclose(p);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("python3 on %s: exit %d: %s", a, WEXITSTATUS(st), out);
    while (n && out[n - 1] == '\n')
        out[--n] = '\0';
    return out;
}

static void test_totals_beyond_int64(void **state)
{
    (void)state;
    assert_int_equal(kc_store_write(s_store, s_fill_big, NULL), 0);
    static const struct {
        const char *query, *args, *exprs, *want;
    } cases[] = {
        {"year=2024&province=79&province=01", "--year 2024 --province 79 --province 01",
         "d['totals']['amount_vnd'];d['events'];d == e", "27670116110564327426\n4\nTrue"},
        {"year=2024&months=1-5&province=79&province=01",
         "--year 2024 --months 1-5 --province 79 --province 01", "d['totals']['amount_vnd'];d == e",
         "18446744073709551619\nTrue"},
        {"year=2024&months=3-5&by=province&plan=1&compare=2023",
         "--year 2024 --months 3-5 --by province --plan --compare 2023",
         "[(r['key'], r['totals']['amount_vnd'], r['plan']['totals']['amount_vnd']) for r in "
         "d['rows']];d['plan']['totals']['amount_vnd'];d['percent_of_plan'];"
         "d['compare']['change_percent']['amount_vnd'];d == e",
         "[('01', 5, 9223372036854775807), ('79', 18446744073709551614, 9223372036854775807)]\n"
         "18446744073709551614\n100.0\n300.0\nTrue"},
        {"year=2024&months=3&by=month", "--year 2024 --months 3 --by month",
         "d['rows'][0]['totals']['amount_vnd'];d == e", "9223372036854775807\nTrue"},
        {"year=2024&province=79&by=activity", "--year 2024 --province 79 --by activity",
         "[(r['key'], r['totals']['amount_vnd']) for r in d['rows']];d == e",
         "[('KC1', 18446744073709551614), ('KC3b', 9223372036854775807)]\nTrue"},
    };
    char fa[600], fb[600];
    int refused = 0;
    snprintf(fa, sizeof fa, "%s/http.json", s_dir);
    snprintf(fb, sizeof fb, "%s/cli.json", s_dir);
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[512];
        snprintf(path, sizeof path, "/v1/totals?%s", cases[i].query);
        t_resp_t r = s_get("GET", path);
        if (r.status != 200)
            fail_msg("GET %s: status %d: %s", path, r.status, r.body);
        s_expect_header(&r, "Content-Type", "application/json");
        /* byte for byte the library's document less "store" (test_no_store_path),
         * big integers as bare digits */
        json_t *lib = s_qry_doc(cases[i].query);
        json_object_del(lib, "store");
        char *text = kc_json_dumps(lib, JSON_COMPACT | JSON_REAL_PRECISION(10));
        assert_non_null(text);
        /* plain jansson refuses a document with a big integer (never rounds
         * it), and writes the same text as kc_json_dumps for any other */
        char *plain = json_dumps(lib, JSON_COMPACT | JSON_REAL_PRECISION(10));
        if (plain)
            assert_string_equal(plain, text);
        refused += !plain;
        free(plain);
        size_t n = strlen(text);
        if (r.body_len != n + 1 || memcmp(r.body, text, n) != 0 || r.body[n] != '\n')
            fail_msg("GET %s:\n%s\n---- library:\n%s", path, r.body, text);
        free(text);
        json_decref(lib);
        /* valid JSON, exact integers, and the same as kc-query's */
        s_write_file(fa, r.body);
        const char *bin = getenv("KC_BIN_DIR");
        char cmd[2048];
        snprintf(cmd, sizeof cmd, "'%s/kc-query' --store '%s' --format json %s > '%s'",
                 bin ? bin : ".", s_dir, cases[i].args, fb);
        int st = system(cmd);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("%s: exit %d", cmd, WEXITSTATUS(st));
        char *got = s_py(fa, fb, cases[i].exprs);
        if (strcmp(got, cases[i].want) != 0)
            fail_msg("GET %s: %s:\n got %s\nwant %s\n---- body:\n%s", path, cases[i].exprs, got,
                     cases[i].want, r.body);
        free(got);
        t_resp_free(&r);
    }
    assert_int_equal(refused, 4); /* every case but months=3 (2^63-1 alone) */
}

/* ---- /metrics ---- */

static char *s_metrics_text(void)
{
    t_resp_t r = s_get("GET", "/metrics");
    assert_int_equal(r.status, 200);
    s_expect_header(&r, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    s_expect_header(&r, "Cache-Control", "no-store");
    char *text = r.body;
    r.body = NULL;
    t_resp_free(&r);
    return text;
}

/* The value of the sample line that starts with `series ` (exact match). */
static double s_sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p && *p;) {
        const char *e = strchr(p, '\n');
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = e ? e + 1 : NULL;
    }
    fail_msg("no sample %s in:\n%s", series, text);
    return 0;
}

static void test_metrics_promtool(void **state)
{
    (void)state;
    const char *promtool = KC_PROMTOOL;
    if (!*promtool)
        fail_msg("promtool was not found when the build was configured (Debian package "
                 "prometheus; scripts/install-deps puts it in build/deps/usr/bin): cannot check "
                 "the metrics text");
    char *text = s_metrics_text();
    char path[4200];
    snprintf(path, sizeof path, "%s/metrics.txt", s_dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    char cmd[8600];
    snprintf(cmd, sizeof cmd, "'%s' check metrics < '%s' 2>&1", promtool, path);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char out[8192];
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    /* promtool exits 0 when the text parses; lint findings (exit 3) are
     * printed and fail the test too */
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0 || n != 0)
        fail_msg("promtool check metrics: exit %d:\n%s\n--- text:\n%s", WEXITSTATUS(st), out, text);
    free(text);
}

static void test_metrics_values(void **state)
{
    (void)state;
    char *t = s_metrics_text();
    assert_int_equal((int)s_sample(t, "kcpipe_events_accepted_total"), N_ACCEPTED);
    assert_int_equal((int)s_sample(t, "kcpipe_events_duplicate_total"), N_DUPLICATES);
    assert_int_equal((int)s_sample(t, "kcpipe_events_rejected_total{reason=\"unknown_activity\"}"),
                     N_UNKNOWN_ACT);
    assert_int_equal((int)s_sample(t, "kcpipe_events_rejected_total{reason=\"bad_month\"}"), 0);
    assert_int_equal((int)s_sample(t, "kcpipe_batches_total{status=\"ok\"}"), 4);
    assert_int_equal((int)s_sample(t, "kcpipe_batches_total{status=\"undecodable\"}"), 1);
    assert_int_equal((int)s_sample(t, "kcpipe_batches_total{status=\"bad_producer\"}"), 0);
    assert_int_equal((int)s_sample(t, "kcpipe_commits_total"), 2);
    assert_int_equal((int)s_sample(t, "kcpipe_commit_duration_seconds_count"), 2);
    assert_int_equal((int)s_sample(t, "kcpipe_commit_duration_seconds_bucket{le=\"0.0025\"}"), 0);
    assert_int_equal((int)s_sample(t, "kcpipe_commit_duration_seconds_bucket{le=\"0.005\"}"), 2);
    assert_true(s_sample(t, "kcpipe_commit_duration_seconds_sum") > 0.0059);
    assert_int_equal((int)s_sample(t, "kcpipe_commit_events_bucket{le=\"2\"}"), 0);
    assert_int_equal((int)s_sample(t, "kcpipe_commit_events_bucket{le=\"4\"}"), 1);
    assert_int_equal((int)s_sample(t, "kcpipe_commit_events_bucket{le=\"8\"}"), 2);
    assert_int_equal((int)s_sample(t, "kcpipe_commit_events_bucket{le=\"+Inf\"}"), 2);
    assert_int_equal((int)s_sample(t, "kcpipe_commit_events_sum"), 12);
    assert_int_equal((int)s_sample(t, "kcpipe_batch_events_count"), 5);
    assert_int_equal((int)s_sample(t, "kcpipe_batch_events_bucket{le=\"1\"}"), 2);
    assert_int_equal((int)s_sample(t, "kcpipe_batch_events_bucket{le=\"4096\"}"), 5);
    assert_int_equal((int)s_sample(t, "kcpipe_producer_committed_seq{producer=\"office-79\"}"), 7);
    assert_int_equal((int)s_sample(t, "kcpipe_producer_lag_events{producer=\"office-79\"}"), 5);
    assert_int_equal((int)s_sample(t, "kcpipe_producer_lag_events{producer=\"office-74\"}"), 0);
    assert_true(s_sample(t, "kcpipe_producer_last_seen_timestamp_seconds{producer=\"office-01\"}") >
                1.7e9);
    assert_int_equal((int)s_sample(t, "kcpipe_store_log_entries"), N_ACCEPTED);
    assert_true(s_sample(t, "kcpipe_store_map_size_bytes") >= (double)KC_STORE_DEFAULT_MAPSIZE);
    assert_true(s_sample(t, "kcpipe_store_map_used_bytes") > 0);
    assert_true(s_sample(t, "kcpipe_store_file_size_bytes") > 0);
    assert_int_equal((int)s_sample(t, "kcpipe_store_stale_readers_cleared_total"), 1);
    assert_int_equal((int)s_sample(t, "kcpipe_feed_subscribers"), 2);
    assert_int_equal((int)s_sample(t, "kcpipe_feed_updates_total"), 7);
    assert_int_equal((int)s_sample(t, "kcpipe_feed_update_drops_total"), 1);
    assert_int_equal((int)s_sample(t, "kcpipe_feed_snapshots_total"), 3);
    assert_true(s_sample(t, "kcpipe_start_time_seconds") > 1.7e9);
    char series[128];
    snprintf(series, sizeof series, "kcpipe_build_info{version=\"%s\"}", KC_VERSION);
    assert_int_equal((int)s_sample(t, series), 1);
    /* every response so far was counted: this one's 200s and a 404 */
    double ok_before = s_sample(t, "kcpipe_http_requests_total{code=\"200\"}");
    free(t);
    t_resp_t r = s_get("GET", "/v1/nope");
    t_resp_free(&r);
    r = s_get("POST", "/metrics");
    t_resp_free(&r);
    t = s_metrics_text();
    assert_int_equal((int)s_sample(t, "kcpipe_http_requests_total{code=\"200\"}"),
                     (int)ok_before + 1);
    assert_true(s_sample(t, "kcpipe_http_requests_total{code=\"404\"}") >= 1);
    assert_true(s_sample(t, "kcpipe_http_requests_total{code=\"405\"}") >= 1);
    free(t);
}

static void test_start_errors(void **state)
{
    (void)state;
    kc_http_t *h = NULL;
    kc_http_opts_t o = {.addr = "not-an-address", .store = s_store, .metrics = s_metrics};
    assert_int_equal(kc_http_start(&h, &o), KC_EINVAL);
    assert_null(h);
    o.addr = "127.0.0.1";
    o.port = s_port; /* taken by the running server */
    assert_int_equal(kc_http_start(&h, &o), KC_EBUSY);
    assert_null(h);
    o.addr = "::1"; /* IPv6 loopback, any port */
    o.port = 0;
    int rc = kc_http_start(&h, &o);
    if (rc == 0) {
        assert_true(kc_http_port(h) > 0);
        kc_http_stop(&h);
    }
    kc_http_stop(&h); /* no-op on NULL */
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest api[] = {
        cmocka_unit_test(test_status),
        cmocka_unit_test(test_activities),
        cmocka_unit_test(test_provinces),
        cmocka_unit_test(test_producers),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_head_method_errors),
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_totals_equal_kc_query),
        cmocka_unit_test(test_totals_beyond_int64),
        cmocka_unit_test(test_start_errors),
        cmocka_unit_test(test_security_headers),
        cmocka_unit_test(test_no_store_path),
    };
    const struct CMUnitTest metrics[] = {
        cmocka_unit_test(test_metrics_promtool),
        cmocka_unit_test(test_metrics_values),
    };
#ifdef HTTP_TEST_METRICS
    (void)api;
    return cmocka_run_group_tests_name("http_metrics", metrics, s_setup, s_teardown);
#else
    (void)metrics;
    return cmocka_run_group_tests_name("http_api", api, s_setup, s_teardown);
#endif
}
