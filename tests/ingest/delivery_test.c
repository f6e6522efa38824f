/* delivery_test.c - libkcingest against an in-process fake aggregator: every
 * event reported exactly once with the right result, the spool ends empty,
 * through a lost ack (Lazy Pirate resend), a lost batch (resend_from), an
 * unavailable aggregator (back off) and a producer restart. */
#include "fake_agg.h"
#include "ingest_test_util.h"
#include "kc_event.h"
#include "kcingest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define N 240

typedef struct {
    int reported[N + 1];    /* results per seq */
    int reason[N + 1];      /* reported reason per seq */
    char source[N + 1][32]; /* reported source per seq */
    int expect[N + 1];      /* expected reason per seq */
    int n_reports;
    int sent[N + 1]; /* kc_producer_on_sent reports per seq */
    int n_sent_calls;
    bool bad_range; /* a range empty, longer than batch_max or beyond N */
} track_t;

/* kc_producer_on_sent: each range is one batch; every seq is reported sent
 * before its result. */
static void on_sent(uint64_t first, uint64_t last, void *ctx)
{
    track_t *t = ctx;
    t->n_sent_calls++;
    if (first < 1 || last < first || last > N || last - first + 1 > 16) {
        t->bad_range = true;
        return;
    }
    for (uint64_t s = first; s <= last; s++)
        t->sent[s]++;
}

static void on_result(const kc_result_t *r, void *ctx)
{
    track_t *t = ctx;
    assert_true(r->seq >= 1 && r->seq <= N);
    assert_true(t->sent[r->seq] >= 1); /* on_sent came first */
    t->reported[r->seq]++;
    t->reason[r->seq] = r->reason;
    snprintf(t->source[r->seq], sizeof t->source[0], "%s", r->source);
    t->n_reports++;
    if (r->reason == KCI_ACCEPTED)
        assert_string_equal(r->reason_name, "accepted");
    else
        assert_string_equal(r->reason_name, kc_reason_name(r->reason));
}

/* Event i (1..N): i%10 == 3 unknown province; i%10 == 7 the same as event
 * i-1 (duplicate); i%10 == 9 event i-1's id with other content (conflict). */
static int expected_reason(int i)
{
    switch (i % 10) {
    case 3: return KCPIPE__V1__REASON__REASON_UNKNOWN_PROVINCE;
    case 7: return KCPIPE__V1__REASON__REASON_DUPLICATE;
    case 9: return KCPIPE__V1__REASON__REASON_EVENT_ID_CONFLICT;
    default: return KCI_ACCEPTED;
    }
}

static void add_event(kc_producer_t *p, int i)
{
    char id[32], src[32];
    int base = i % 10 == 7 || i % 10 == 9 ? i - 1 : i;
    snprintf(id, sizeof id, "E%d", base);
    snprintf(src, sizeof src, "t.csv:%d", i + 1);
    kc_event_t ev = {.event_id = id,
                     .province = i % 10 == 3 ? "00" : "79",
                     .year = 2021,
                     .month = 1 + base % 12,
                     .activity = base % 2 ? "machinery" : "KC1",
                     .present = 1u << KCI_AMOUNT_VND};
    ev.metrics[KCI_AMOUNT_VND] = 1000 + (i % 10 == 9 ? i : base);
    uint64_t seq;
    assert_int_equal(kc_producer_add(p, &ev, src, &seq), 0);
    assert_int_equal(seq, (uint64_t)i);
}

static void run_mode(fa_mode_t mode, int request_timeout_ms, bool restart)
{
    kc_ingest_set_log("delivery_test", KCI_LOG_ERROR, NULL, NULL);
    char *dir = kt_tmpdir("delivery");
    assert_non_null(dir);
    fake_agg_t *fa = fa_start(mode);
    assert_non_null(fa);
    track_t *t = calloc(1, sizeof *t);
    int want_counted = 0;
    for (int i = 1; i <= N; i++) {
        t->expect[i] = expected_reason(i);
        want_counted += t->expect[i] == KCI_ACCEPTED;
    }
    char ep[128];
    snprintf(ep, sizeof ep, "%s", fa_endpoint(fa));
    kc_producer_opts_t o = {.endpoint = ep,
                            .producer_id = "prod-79",
                            .spool_dir = dir,
                            .request_timeout_ms = request_timeout_ms,
                            .batch_max = 16,
                            .window = 4};
    kc_producer_t *p;
    assert_int_equal(kc_producer_open(&p, &o), 0);
    kc_producer_on_result(p, on_result, t);
    kc_producer_on_sent(p, on_sent, t);
    int first = 1;
    if (restart) { /* half spooled by an earlier run that never sent anything */
        for (; first <= N / 2; first++)
            add_event(p, first);
        kc_producer_close(&p);
        assert_int_equal(kc_producer_open(&p, &o), 0);
        kc_producer_on_result(p, on_result, t);
        kc_producer_on_sent(p, on_sent, t);
        assert_int_equal(kc_producer_pending(p), N / 2);
    }
    for (int i = first; i <= N; i++) {
        add_event(p, i);
        if (i % 50 == 0)
            assert_int_equal(kc_producer_poll(p, 0), 0); /* interleave like kc-send */
    }
    assert_int_equal(kc_producer_flush(p, 20000), 0); /* a bound, not a sleep */
    assert_int_equal(kc_producer_pending(p), 0);
    assert_int_equal(t->n_reports, N);
    for (int i = 1; i <= N; i++) {
        if (t->reported[i] != 1 || t->reason[i] != t->expect[i])
            fail_msg("seq %d: reported %d times, reason %d, expected %d", i, t->reported[i],
                     t->reason[i], t->expect[i]);
        char src[32];
        snprintf(src, sizeof src, "t.csv:%d", i + 1);
        assert_string_equal(t->source[i], src);
    }
    assert_false(t->bad_range);
    int resent = 0;
    for (int i = 1; i <= N; i++)
        resent += t->sent[i] > 1;
    if (mode == FA_NORMAL)
        assert_int_equal(resent, 0); /* each seq handed over exactly once */
    else
        assert_true(resent >= 1); /* the resends are reported too */
    kc_producer_close(&p);

    fa_stats_t st;
    fa_stop(&fa, &st);
    assert_int_equal(st.counted, want_counted); /* counted once, resends or not */
    switch (mode) {
    case FA_DROP_FIRST_ACK:
        assert_int_equal(st.acks_dropped, 1);
        assert_true(st.reacked >= 16); /* the first batch came again after the timeout */
        break;
    case FA_LOSE_FIRST_BATCH:
    case FA_UNAVAILABLE_FIRST: assert_true(st.resend_asked >= 1); break;
    default: assert_int_equal(st.reacked, 0); break;
    }

    /* the spool is empty for good, and keeps counting from N+1 */
    assert_int_equal(kc_producer_open(&p, &o), 0);
    assert_int_equal(kc_producer_pending(p), 0);
    kc_event_t ev = {
        .event_id = "next", .province = "79", .year = 2021, .month = 1, .activity = "KC1"};
    uint64_t seq;
    assert_int_equal(kc_producer_add(p, &ev, NULL, &seq), 0);
    assert_int_equal(seq, N + 1);
    kc_producer_close(&p);
    free(t);
    kt_rmdir(dir);
}

static void test_normal(void **state)
{
    (void)state;
    run_mode(FA_NORMAL, 5000, false);
}

static void test_restart_resumes(void **state)
{
    (void)state;
    run_mode(FA_NORMAL, 5000, true);
}

static void test_lost_ack_lazy_pirate(void **state)
{
    (void)state;
    run_mode(FA_DROP_FIRST_ACK, 200, false);
}

static void test_lost_batch_resend_from(void **state)
{
    (void)state;
    run_mode(FA_LOSE_FIRST_BATCH, 5000, false);
}

static void test_unavailable_backs_off(void **state)
{
    (void)state;
    run_mode(FA_UNAVAILABLE_FIRST, 5000, false);
}

/* No aggregator: flush gives up at its deadline and everything stays spooled. */
static void test_timeout_keeps_spool(void **state)
{
    (void)state;
    kc_ingest_set_log("delivery_test", KCI_LOG_ERROR, NULL, NULL);
    char *dir = kt_tmpdir("nobody");
    fake_agg_t *fa = fa_start(FA_NORMAL); /* take a free port, then free it */
    char ep[128];
    snprintf(ep, sizeof ep, "%s", fa_endpoint(fa));
    fa_stop(&fa, NULL);
    kc_producer_opts_t o = {.endpoint = ep,
                            .producer_id = "p",
                            .spool_dir = dir,
                            .request_timeout_ms = 100,
                            .batch_max = 8};
    kc_producer_t *p;
    assert_int_equal(kc_producer_open(&p, &o), 0);
    for (int i = 1; i <= 20; i++)
        add_event(p, i);
    assert_int_equal(kc_producer_flush(p, 300), KCI_ETIMEDOUT);
    assert_int_equal(kc_producer_pending(p), 20);
    kc_producer_close(&p);
    kt_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normal),
        cmocka_unit_test(test_restart_resumes),
        cmocka_unit_test(test_lost_ack_lazy_pirate),
        cmocka_unit_test(test_lost_batch_resend_from),
        cmocka_unit_test(test_unavailable_backs_off),
        cmocka_unit_test(test_timeout_keeps_spool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
