/* office_send_test.c - kc-office's producer side (office/kc_office_send.c and
 * the submissions of office/kc_office_db.c) against a real kc-aggregator
 * started by the test on 127.0.0.1 (a fixed free port, so that it can be
 * started after the portal and again after a stop), with the portal's real
 * LMDB and real libkcingest spools. In order (one cmocka test each, sharing
 * the aggregator, the database and the sender):
 *   - the centre not running yet: a submission is spooled, the office's
 *     status turns unreachable with 2 pending; the aggregator starts: both
 *     rows become accepted without a new submission, status reachable;
 *   - a record accepted (seq, reason); the same content again: duplicate;
 *     the same event_id with other values: rejected, event_id_conflict with
 *     the centre's text;
 *   - a metric above its ceiling: rejected at once, seq 0, value_too_large
 *     with the refusal's text, nothing spooled;
 *   - a province of the other office: KC_EPERM, nothing recorded or spooled;
 *   - the aggregator killed, a submission, kc_osend_stop with rows pending,
 *     the database closed and reopened, kc_osend_start, the aggregator
 *     started: the rows are delivered;
 *   - an accepted correction marks its target superseded_by, an accepted
 *     retraction of the correction marks it superseded_by + retracted;
 *   - /metrics lines (kc_osend_metrics);
 *   - the aggregator stopped: kc-log show of its store names "hcm/lan" as
 *     submitted_by (the portal user at the centre);
 *   - CURVE: a second aggregator with --curve-secret and a registry holding
 *     the office's key (kc-keygen): the office's rows accepted; a missing
 *     certificate file: kc_osend_start fails.
 * Synchronisation: the ready file, the database polled with deadlines, the
 * children's ends by pid (tests/integration/harness.c).
 */
#include "harness.h"
#include "kc_err.h"
#include "kc_office_db.h"
#include "kc_office_send.h"

#include <jansson.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define WAIT_MS 30000

static kc_office_t s_offices[2];
static char s_spool[2][KC_PATH_MAX];
static char s_data[KC_PATH_MAX], s_store[KC_PATH_MAX], s_listen[64], s_centre[64];
static kc_odb_t *s_db;
static kc_osend_t *s_send;
static kc_agg_t s_agg;
static bool s_agg_up;

static void s_agg_start(void)
{
    kc_harness_agg_start(&s_agg, s_store, s_listen, NULL);
    s_agg_up = true;
}

static kc_event_t s_ev(const char *id, int64_t amount)
{
    kc_event_t ev = {.event_id = id,
                     .province = "79",
                     .year = 2021,
                     .month = 3,
                     .activity = "KC3b",
                     .kind = KCI_KIND_ACTUAL,
                     .fund = KCI_FUND_KCQG,
                     .present = 1u << KCI_AMOUNT_VND | 1u << KCI_FACILITIES};
    ev.metrics[KCI_AMOUNT_VND] = amount;
    ev.metrics[KCI_FACILITIES] = 2;
    return ev;
}

static uint64_t s_submit(const char *user, const char *what, const kc_event_t *evs, size_t n)
{
    uint64_t sub = 0;
    char err[256];
    int rc = kc_osend_submit(s_send, "hcm", user, what, "", evs, NULL, n, &sub, err, sizeof err);
    if (rc != 0)
        fail_msg("kc_osend_submit: %s (%s)", kc_strerror(rc), err);
    assert_true(sub > 0);
    return sub;
}

/* Wait (bounded) until row `row` of sub is in state want; returns it. */
static kc_odb_row_t s_wait_row(uint64_t sub, uint32_t row, int want)
{
    kc_odb_row_t r;
    int64_t deadline = kc_harness_now_ms() + WAIT_MS;
    for (;;) {
        assert_int_equal(kc_odb_row_get(s_db, sub, row, &r), 0);
        if (r.state == want)
            return r;
        if (kc_harness_now_ms() > deadline)
            fail_msg("row %llu/%u: state %d after %d ms, want %d (reason %s)",
                     (unsigned long long)sub, row, r.state, WAIT_MS, want, r.reason_name);
        kc_harness_poll_pause();
    }
}

static kc_osend_status_t s_status(void)
{
    kc_osend_status_t st;
    assert_int_equal(kc_osend_status(s_send, "hcm", &st), 0);
    return st;
}

static size_t s_n_subs;
static void s_count_sub(const kc_odb_sub_t *s, void *ctx)
{
    (void)s, (void)ctx;
    s_n_subs++;
}

static size_t s_subs(void)
{
    s_n_subs = 0;
    assert_int_equal(kc_odb_sub_each(s_db, NULL, 0, s_count_sub, NULL), 0);
    return s_n_subs;
}

static int s_setup(void **state)
{
    (void)state;
    kc_harness_init("office_send_test");
    setenv("LC_ALL", "C.UTF-8", 1);
    kc_ingest_set_log("office_send_test", KCI_LOG_WARN, NULL, NULL);
    int port = kc_harness_free_port();
    snprintf(s_listen, sizeof s_listen, "tcp://127.0.0.1:%d", port);
    snprintf(s_centre, sizeof s_centre, "tcp://127.0.0.1:%d", port);
    kc_harness_path(s_data, "data");
    kc_harness_path(s_store, "store");
    kc_harness_path(s_spool[0], "spool-hcm");
    kc_harness_path(s_spool[1], "spool-hn");
    s_offices[0] = (kc_office_t){.id = "hcm",
                                 .name = "Ho Chi Minh",
                                 .provinces = {79},
                                 .n_provinces = 1,
                                 .centre = s_centre,
                                 .spool = s_spool[0],
                                 .producer = "office-hcm"};
    s_offices[1] = (kc_office_t){.id = "hn",
                                 .name = "Ha Noi",
                                 .provinces = {1},
                                 .n_provinces = 1,
                                 .centre = s_centre,
                                 .spool = s_spool[1],
                                 .producer = "office-hn"};
    assert_int_equal(kc_odb_open(&s_db, s_data), 0);
    assert_int_equal(kc_osend_start(&s_send, s_offices, 2, s_db), 0);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    kc_osend_stop(&s_send);
    kc_odb_close(&s_db);
    if (s_agg_up)
        kc_harness_agg_kill(&s_agg);
    return 0;
}

/* No centre yet: spooled, unreachable, 2 pending; the centre starts: accepted. */
static void test_unreachable_then_delivered(void **state)
{
    (void)state;
    kc_osend_status_t st = s_status();
    assert_true(st.reachable); /* never tried: no banner */
    kc_event_t evs[2] = {s_ev("A1", 1000), s_ev("A2", 2000)};
    uint64_t sub = s_submit("lan", "form", evs, 2);
    kc_odb_sub_t sb;
    assert_int_equal(kc_odb_sub_get(s_db, sub, &sb), 0);
    assert_string_equal(sb.office, "hcm");
    assert_string_equal(sb.user, "lan");
    assert_string_equal(sb.what, "form");
    assert_int_equal(sb.rows, 2);
    kc_odb_row_t r;
    assert_int_equal(kc_odb_row_get(s_db, sub, 0, &r), 0);
    assert_true(r.state == KC_ROW_SPOOLED || r.state == KC_ROW_SENT);
    assert_true(r.seq > 0);
    assert_string_equal(r.event_id, "A1");
    assert_int_equal(r.metrics[KCI_AMOUNT_VND], 1000);
    int64_t deadline = kc_harness_now_ms() + WAIT_MS;
    for (st = s_status(); st.reachable; st = s_status()) {
        if (kc_harness_now_ms() > deadline)
            fail_msg("still reachable after %d ms without a centre", WAIT_MS);
        kc_harness_poll_pause();
    }
    assert_int_equal(st.pending, 2);
    assert_true(st.since_s > 0);
    s_agg_start();
    s_wait_row(sub, 0, KC_ROW_ACCEPTED);
    r = s_wait_row(sub, 1, KC_ROW_ACCEPTED);
    assert_int_equal(r.reason, KCI_ACCEPTED);
    assert_string_equal(r.reason_name, "accepted");
    deadline = kc_harness_now_ms() + WAIT_MS;
    for (st = s_status(); !st.reachable || st.pending; st = s_status()) {
        if (kc_harness_now_ms() > deadline)
            fail_msg("status not reachable with 0 pending after %d ms", WAIT_MS);
        kc_harness_poll_pause();
    }
}

static uint64_t s_b1_sub;

static void test_accepted_duplicate_conflict(void **state)
{
    (void)state;
    kc_event_t ev = s_ev("B1", 5000);
    s_b1_sub = s_submit("lan", "form", &ev, 1);
    kc_odb_row_t r = s_wait_row(s_b1_sub, 0, KC_ROW_ACCEPTED);
    assert_true(r.seq > 0);
    assert_string_equal(r.superseded_by, "");
    uint64_t dup = s_submit("lan", "form", &ev, 1);
    r = s_wait_row(dup, 0, KC_ROW_DUPLICATE);
    assert_int_equal(r.reason, KCI_DUPLICATE);
    assert_string_equal(r.reason_name, "duplicate");
    kc_event_t other = s_ev("B1", 7000);
    uint64_t conflict = s_submit("lan", "upload", &other, 1);
    r = s_wait_row(conflict, 0, KC_ROW_REJECTED);
    assert_string_equal(r.reason_name, "event_id_conflict");
    assert_true(r.reason >= 2);
    assert_true(strlen(r.text) > 0);
    /* the index still names the accepted version */
    assert_int_equal(kc_odb_row_by_event(s_db, "hcm", "79", "B1", &r), 0);
    assert_int_equal(r.sub, s_b1_sub);
}

static void test_refused_value_too_large(void **state)
{
    (void)state;
    kc_event_t evs[2] = {s_ev("R1", 10000000000000000LL), s_ev("R2", 3000)};
    uint64_t sub = s_submit("lan", "upload", evs, 2);
    kc_odb_row_t r;
    assert_int_equal(kc_odb_row_get(s_db, sub, 0, &r), 0);
    assert_int_equal(r.state, KC_ROW_REJECTED);
    assert_int_equal(r.seq, 0);
    assert_int_equal(r.reason, KCI_VALUE_TOO_LARGE);
    assert_string_equal(r.reason_name, "value_too_large");
    assert_non_null(strstr(r.text, "amount_vnd"));
    s_wait_row(sub, 1, KC_ROW_ACCEPTED);
    assert_int_equal(s_status().pending, 0);
}

static void test_other_province(void **state)
{
    (void)state;
    size_t n = s_subs();
    kc_event_t evs[2] = {s_ev("P1", 100), s_ev("P2", 100)};
    evs[1].province = "01"; /* office hn's */
    uint64_t sub = 99;
    char err[256];
    assert_int_equal(
        kc_osend_submit(s_send, "hcm", "lan", "form", "", evs, NULL, 2, &sub, err, sizeof err),
        KC_EPERM);
    assert_int_equal(sub, 0);
    assert_non_null(strstr(err, "01"));
    assert_int_equal(s_subs(), n);
    kc_odb_row_t r;
    assert_int_equal(kc_odb_row_by_event(s_db, "hcm", "79", "P1", &r), KC_ENOTFOUND);
    assert_int_equal(s_status().pending, 0);
    /* and an unknown office */
    assert_int_equal(
        kc_osend_submit(s_send, "nowhere", "lan", "form", "", evs, NULL, 1, &sub, err, sizeof err),
        KC_EINVAL);
}

static void test_stop_restart_delivers(void **state)
{
    (void)state;
    kc_harness_agg_kill(&s_agg);
    s_agg_up = false;
    kc_event_t evs[2] = {s_ev("C1", 100), s_ev("C2", 200)};
    uint64_t sub = s_submit("minh", "form", evs, 2);
    assert_int_equal(s_status().pending, 2);
    kc_osend_stop(&s_send);
    assert_null(s_send);
    kc_odb_close(&s_db);
    assert_int_equal(kc_odb_open(&s_db, s_data), 0);
    kc_odb_row_t r, r0;
    assert_int_equal(kc_odb_row_get(s_db, sub, 0, &r0), 0);
    assert_int_equal(kc_odb_row_get(s_db, sub, 1, &r), 0);
    assert_true(r.state == KC_ROW_SPOOLED || r.state == KC_ROW_SENT);
    assert_int_equal(r.seq, r0.seq + 1);
    assert_string_equal(r.event_id, "C2");
    /* the database's side of on_sent / on_result, with no sender running:
     * spooled -> sent; a final row keeps its state; an unknown seq */
    assert_int_equal(kc_odb_rows_sent(s_db, "hcm", r0.seq, r.seq, 1), 0);
    assert_int_equal(kc_odb_row_get(s_db, sub, 1, &r), 0);
    assert_int_equal(r.state, KC_ROW_SENT);
    kc_odb_row_t b1;
    assert_int_equal(kc_odb_row_get(s_db, s_b1_sub, 0, &b1), 0);
    assert_int_equal(kc_odb_rows_sent(s_db, "hcm", b1.seq, b1.seq, 1), 0);
    assert_int_equal(kc_odb_row_get(s_db, s_b1_sub, 0, &b1), 0);
    assert_int_equal(b1.state, KC_ROW_ACCEPTED);
    assert_int_equal(kc_odb_row_result(s_db, "hcm", 999999, KCI_ACCEPTED, "accepted", "", 1),
                     KC_ENOTFOUND);
    assert_int_equal(kc_odb_row_result(s_db, "hn", r.seq, KCI_ACCEPTED, "accepted", "", 1),
                     KC_ENOTFOUND);
    assert_int_equal(kc_osend_start(&s_send, s_offices, 2, s_db), 0);
    assert_int_equal(s_status().pending, 2); /* from the spool */
    s_agg_start();
    s_wait_row(sub, 0, KC_ROW_ACCEPTED);
    s_wait_row(sub, 1, KC_ROW_ACCEPTED);
}

static void test_correction_retraction(void **state)
{
    (void)state;
    kc_event_t c = s_ev("B1c", 6000);
    c.op = KCI_OP_CORRECTION;
    c.kind = KCI_KIND_DEFAULT;
    c.corrects = "B1";
    uint64_t csub = s_submit("minh", "correction", &c, 1);
    s_wait_row(csub, 0, KC_ROW_ACCEPTED);
    kc_odb_row_t t;
    assert_int_equal(kc_odb_row_get(s_db, s_b1_sub, 0, &t), 0);
    assert_string_equal(t.superseded_by, "B1c");
    assert_false(t.retracted);
    kc_event_t x = {
        .event_id = "B1r", .province = "79", .op = KCI_OP_RETRACTION, .corrects = "B1c"};
    uint64_t xsub = s_submit("minh", "retraction", &x, 1);
    kc_odb_row_t xr = s_wait_row(xsub, 0, KC_ROW_ACCEPTED);
    assert_int_equal(xr.op, KCI_OP_RETRACTION);
    assert_int_equal(kc_odb_row_get(s_db, csub, 0, &t), 0);
    assert_string_equal(t.superseded_by, "B1r");
    assert_true(t.retracted);
    assert_int_equal(kc_odb_row_by_event(s_db, "hcm", "79", "B1c", &t), 0);
    assert_int_equal(t.sub, csub);
    /* the row counts by state for the office */
    uint64_t counts[KC_ROW_REJECTED + 1];
    assert_int_equal(kc_odb_row_counts(s_db, "hcm", counts), 0);
    assert_int_equal(counts[KC_ROW_ACCEPTED], 2 + 1 + 1 + 2 + 1 + 1);
    assert_int_equal(counts[KC_ROW_DUPLICATE], 1);
    assert_int_equal(counts[KC_ROW_REJECTED], 2);
    assert_int_equal(counts[KC_ROW_SPOOLED] + counts[KC_ROW_SENT], 0);
}

static void test_metrics(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    kc_osend_metrics(s_send, f);
    fclose(f);
    /* since the restart: C1, C2, B1c, B1r */
    assert_non_null(strstr(buf, "# TYPE kcpipe_office_rows_accepted_total counter\n"));
    assert_non_null(strstr(buf, "kcpipe_office_rows_accepted_total{office=\"hcm\"} 4\n"));
    assert_non_null(strstr(buf, "kcpipe_office_rows_spooled_total{office=\"hcm\"} 2\n"));
    assert_non_null(strstr(buf, "kcpipe_office_pending{office=\"hcm\"} 0\n"));
    assert_non_null(strstr(buf, "kcpipe_office_reachable{office=\"hn\"} 1\n"));
    assert_non_null(strstr(buf, "kcpipe_office_rows_rejected_total{office=\"hn\"} 0\n"));
    free(buf);
}

/* The centre's log names the portal user of each event. */
static void test_submitted_by_at_centre(void **state)
{
    (void)state;
    kc_harness_agg_term(&s_agg);
    s_agg_up = false;
    char bin[KC_PATH_MAX], out[KC_PATH_MAX];
    kc_harness_bin(bin, "kc-log");
    kc_harness_path(out, "show.jsonl");
    char *argv[] = {bin, "show", "--store", s_store, "--format", "jsonl", NULL};
    pid_t pid = kc_harness_spawn(argv, out, NULL);
    int st = 0;
    assert_int_equal(kc_harness_wait(pid, WAIT_MS, &st), 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    FILE *f = fopen(out, "r");
    assert_non_null(f);
    char line[8192];
    int seen = 0;
    while (fgets(line, sizeof line, f)) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        assert_non_null(j);
        const char *id = json_string_value(json_object_get(j, "event_id"));
        const char *by = json_string_value(json_object_get(j, "submitted_by"));
        assert_non_null(id);
        if (strcmp(id, "B1") == 0 || strcmp(id, "A1") == 0) {
            assert_string_equal(by, "hcm/lan");
            seen++;
        } else if (strcmp(id, "B1c") == 0 || strcmp(id, "C2") == 0) {
            assert_string_equal(by, "hcm/minh");
            seen++;
        }
        json_decref(j);
    }
    fclose(f);
    assert_int_equal(seen, 4);
}

/* Run a program of $KC_BIN_DIR to its end (bounded); its exit code. */
static int s_run(const char *prog, const char *const *args)
{
    char bin[KC_PATH_MAX];
    kc_harness_bin(bin, prog);
    char *argv[16] = {bin};
    size_t n = 1;
    for (; args[n - 1] && n < 15; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    pid_t pid = kc_harness_spawn(argv, NULL, NULL);
    int st = 0;
    assert_int_equal(kc_harness_wait(pid, WAIT_MS, &st), 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* CURVE (--office-server-key, --office-cert): an office whose key the
 * centre's registry holds delivers over an encrypted connection; a missing
 * certificate file stops kc_osend_start. */
static void test_curve(void **state)
{
    (void)state;
    char agg_pub[KC_PATH_MAX], agg_sec[KC_PATH_MAX], off_pub[KC_PATH_MAX], off_sec[KC_PATH_MAX],
        reg[KC_PATH_MAX], store[KC_PATH_MAX], spool[KC_PATH_MAX], missing[KC_PATH_MAX];
    kc_harness_path(agg_pub, "aggregator");
    kc_harness_path(agg_sec, "aggregator_secret");
    kc_harness_path(off_pub, "office-dn");
    kc_harness_path(off_sec, "office-dn_secret");
    kc_harness_path(reg, "producers");
    kc_harness_path(store, "store-curve");
    kc_harness_path(spool, "spool-dn");
    kc_harness_path(missing, "no-such-cert");
    assert_int_equal(s_run("kc-keygen", (const char *[]){"--no-config", "--out", agg_pub, NULL}),
                     0);
    assert_int_equal(s_run("kc-keygen", (const char *[]){"--no-config", "--out", off_pub, NULL}),
                     0);
    char pub[41];
    assert_int_equal(kc_ingest_read_cert(off_pub, pub, NULL), 0);
    FILE *f = fopen(reg, "w");
    assert_non_null(f);
    fprintf(f, "producer office-dn key \"%s\" provinces 48\n", pub);
    assert_int_equal(fclose(f), 0);
    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*",
                         (const char *[]){"--curve-secret", agg_sec, "--registry", reg, NULL});
    kc_office_t dn = {.id = "dn",
                      .name = "Da Nang",
                      .provinces = {48},
                      .n_provinces = 1,
                      .centre = agg.endpoint,
                      .spool = spool,
                      .producer = "office-dn",
                      .server_key = missing,
                      .cert = off_sec};
    kc_osend_t *send = NULL;
    assert_int_not_equal(kc_osend_start(&send, &dn, 1, s_db), 0);
    assert_null(send);
    dn.server_key = agg_pub;
    assert_int_equal(kc_osend_start(&send, &dn, 1, s_db), 0);
    kc_event_t ev = s_ev("D1", 4000);
    ev.province = "48";
    uint64_t sub = 0;
    char err[256];
    assert_int_equal(
        kc_osend_submit(send, "dn", "hoa", "form", "", &ev, NULL, 1, &sub, err, sizeof err), 0);
    s_wait_row(sub, 0, KC_ROW_ACCEPTED);
    kc_osend_stop(&send);
    kc_harness_agg_term(&agg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unreachable_then_delivered),
        cmocka_unit_test(test_accepted_duplicate_conflict),
        cmocka_unit_test(test_refused_value_too_large),
        cmocka_unit_test(test_other_province),
        cmocka_unit_test(test_stop_restart_delivers),
        cmocka_unit_test(test_correction_retraction),
        cmocka_unit_test(test_metrics),
        cmocka_unit_test(test_submitted_by_at_centre),
        cmocka_unit_test(test_curve),
    };
    int rc = cmocka_run_group_tests(tests, s_setup, s_teardown);
    if (rc == 0)
        kc_harness_pass();
    return rc;
}
