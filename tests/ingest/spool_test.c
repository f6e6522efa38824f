/* spool_test.c - the producer spool: durable across reopen, owned by one
 * producer and one process, ranges removed once, map grown on MDB_MAP_FULL. */
#include "ingest_test_util.h"
#include "kc_err.h"
#include "kc_spool.h"
#include "kcingest.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cmocka.h>

static int setup(void **state)
{
    kc_ingest_set_log("spool_test", KCI_LOG_ERROR, NULL, NULL);
    char *base = kt_tmpdir("spool");
    if (!base)
        return -1;
    char *dir = malloc(strlen(base) + 16);
    sprintf(dir, "%s/sp", base); /* does not exist yet: the spool creates it */
    free(base);
    *state = dir;
    return 0;
}

static int teardown(void **state)
{
    char *dir = *state;
    char *base = strdup(dir);
    *strrchr(base, '/') = '\0';
    kt_rmdir(base);
    free(dir);
    return 0;
}

static kc_event_t ev_n(int i, char *id, size_t cap)
{
    snprintf(id, cap, "E%d", i);
    kc_event_t ev = {.event_id = id,
                     .province = "79",
                     .year = 2021,
                     .month = 1 + i % 12,
                     .activity = "KC3b",
                     .present = 1u << KCI_AMOUNT_VND};
    ev.metrics[KCI_AMOUNT_VND] = i;
    return ev;
}

static void test_survives_reopen(void **state)
{
    const char *dir = *state;
    kc_producer_opts_t o = {
        .endpoint = "tcp://127.0.0.1:1", .producer_id = "p-hcm", .spool_dir = dir, .batch_max = 2};
    kc_producer_t *p;
    assert_int_equal(kc_producer_open(&p, &o), 0);
    char id[32];
    uint64_t seq = 0;
    for (int i = 1; i <= 3; i++) {
        kc_event_t ev = ev_n(i, id, sizeof id);
        assert_int_equal(kc_producer_add(p, &ev, "f.csv:1", &seq), 0);
        assert_int_equal(seq, (uint64_t)i); /* from 1, no gaps */
    }
    assert_int_equal(kc_producer_sync(p), 0);
    assert_int_equal(kc_producer_pending(p), 3);
    kc_event_t ev = ev_n(4, id, sizeof id);
    assert_int_equal(kc_producer_add(p, &ev, NULL, &seq), 0); /* staged; close commits it */
    kc_producer_close(&p);
    assert_null(p);

    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    char path[4200];
    snprintf(path, sizeof path, "%s/data.mdb", dir);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);

    assert_int_equal(kc_producer_open(&p, &o), 0);
    assert_int_equal(kc_producer_pending(p), 4);
    ev = ev_n(5, id, sizeof id);
    assert_int_equal(kc_producer_add(p, &ev, NULL, &seq), 0);
    assert_int_equal(seq, 5);
    kc_producer_close(&p);

    /* another producer id is refused, the spool is untouched */
    kc_producer_opts_t other = o;
    other.producer_id = "p-hanoi";
    assert_int_equal(kc_producer_open(&p, &other), KCI_EINVAL);
    assert_null(p);
    kc_spool_t *sp;
    assert_int_equal(kc_spool_open(&sp, dir, "p-hcm"), 0);
    assert_int_equal(kc_spool_count(sp), 5);
    assert_int_equal(kc_spool_first(sp), 1);
    assert_int_equal(kc_spool_next_seq(sp), 6);
    /* one process at a time */
    kc_spool_t *sp2;
    assert_int_equal(kc_spool_open(&sp2, dir, "p-hcm"), KC_EBUSY);
    assert_int_equal(kc_producer_open(&p, &o), KCI_EBUSY);
    kc_spool_close(&sp);
    assert_null(sp);
}

typedef struct {
    uint64_t seqs[64];
    size_t n;
} seen_t;

static int on_read(uint64_t seq, const void *ev, size_t len, void *ctx)
{
    (void)ev;
    assert_true(len > 0);
    seen_t *s = ctx;
    s->seqs[s->n++] = seq;
    return 0;
}

static void test_ranges_removed_once(void **state)
{
    kc_spool_t *sp;
    assert_int_equal(kc_spool_open(&sp, *state, "p"), 0);
    for (int i = 1; i <= 10; i++) {
        char id[16], src[16];
        snprintf(id, sizeof id, "E%d", i);
        snprintf(src, sizeof src, "f:%d", i + 1);
        assert_int_equal(kc_spool_stage(sp, id, src, "xy", 2), 0);
    }
    assert_int_equal(kc_spool_staged(sp), 10);
    assert_int_equal(kc_spool_count(sp), 0);
    seen_t s = {0};
    assert_int_equal(kc_spool_read(sp, 1, 100, 1 << 20, on_read, &s), 0); /* staged: unseen */
    assert_int_equal(kc_spool_commit(sp, NULL, 0), 0);
    assert_int_equal(kc_spool_count(sp), 10);
    assert_int_equal(kc_spool_read(sp, 4, 3, 1 << 20, on_read, &s), 3);
    assert_int_equal(s.seqs[0], 4);
    assert_int_equal(s.seqs[2], 6);
    s.n = 0;
    assert_int_equal(kc_spool_read(sp, 1, 100, 5, on_read, &s), 2); /* byte cap */

    /* the second range overlaps the first; 50..60 was never assigned */
    kc_spool_range_t r[] = {{2, 4, 0}, {3, 6, 1}, {50, 60, 2}};
    assert_int_equal(kc_spool_commit(sp, r, 3), 0);
    const kc_spool_removed_t *rm;
    assert_int_equal(kc_spool_removed(sp, &rm), 5);
    assert_int_equal(rm[0].seq, 2);
    assert_int_equal(rm[0].tag, 0);
    assert_string_equal(rm[0].event_id, "E2");
    assert_string_equal(rm[0].source, "f:3");
    assert_int_equal(rm[3].seq, 5);
    assert_int_equal(rm[3].tag, 1);
    assert_int_equal(kc_spool_count(sp), 5);
    assert_int_equal(kc_spool_first(sp), 1);
    /* removed already: an ack after a resend removes nothing */
    assert_int_equal(kc_spool_commit(sp, r, 2), 0);
    assert_int_equal(kc_spool_removed(sp, &rm), 0);
    kc_spool_range_t all = {1, 10, 0};
    assert_int_equal(kc_spool_commit(sp, &all, 1), 0);
    assert_int_equal(kc_spool_removed(sp, &rm), 5);
    assert_int_equal(kc_spool_count(sp), 0);
    assert_int_equal(kc_spool_first(sp), 0);
    kc_spool_close(&sp);
    assert_int_equal(kc_spool_open(&sp, *state, "p"), 0);
    assert_int_equal(kc_spool_count(sp), 0);
    assert_int_equal(kc_spool_next_seq(sp), 11); /* never reused */
    kc_spool_close(&sp);
}

static void test_map_grows(void **state)
{
    kc_spool_set_initial_map_size(64 * 1024);
    kc_spool_t *sp;
    assert_int_equal(kc_spool_open(&sp, *state, "p"), 0);
    size_t before = kc_spool_map_size(sp);
    static char blob[2000];
    memset(blob, 'b', sizeof blob);
    for (int i = 0; i < 500; i++) /* ~1 MB in one transaction */
        assert_int_equal(kc_spool_stage(sp, "E", "s", blob, sizeof blob), 0);
    assert_int_equal(kc_spool_commit(sp, NULL, 0), 0);
    assert_true(kc_spool_map_size(sp) > before);
    assert_int_equal(kc_spool_count(sp), 500);
    kc_spool_close(&sp);
    kc_spool_set_initial_map_size(0);
    assert_int_equal(kc_spool_open(&sp, *state, "p"), 0);
    assert_int_equal(kc_spool_count(sp), 500);
    kc_spool_close(&sp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_survives_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranges_removed_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_map_grows, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
