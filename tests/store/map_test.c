/* map_test.c - kc_store_trim_resident: the store's mapped pages leave the
 * resident set above the budget, and reads afterwards see the same data. */
#include "kc_err.h"
#include "kc_store.h"
#include "store_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#define N_ENTRIES 24000
#define EVENT_LEN 1000 /* ~24 MB of log records: well above any noise in RSS */

typedef kc_test_store_t fixture_t;

static size_t s_rss(void)
{
    FILE *fp = fopen("/proc/self/statm", "r");
    assert_non_null(fp);
    unsigned long long size = 0, resident = 0;
    assert_int_equal(fscanf(fp, "%llu %llu", &size, &resident), 2);
    fclose(fp);
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

typedef struct {
    uint64_t first, count;
} span_t;

static int s_append(kc_txn_t *t, void *ctx)
{
    const span_t *sp = ctx;
    uint8_t ev[EVENT_LEN];
    for (uint64_t i = sp->first; i < sp->first + sp->count; i++) {
        kc_test_pattern(ev, sizeof ev, i);
        kc_log_entry_t e = {.received_ns = 1700000000000000000ull + i,
                            .seq = 1 + i,
                            .epoch = 7,
                            .producer = "prov-79",
                            .producer_len = 7,
                            .event = ev,
                            .event_len = sizeof ev};
        int rc = kc_txn_log_append(t, &e, NULL);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* Read every entry through the map and fold its bytes into one checksum. */
static uint64_t s_read_all(kc_store_t *s)
{
    kc_txn_t *t = NULL;
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    uint64_t sum = 0;
    for (uint64_t i = 0; i < N_ENTRIES; i++) {
        kc_log_entry_t e;
        assert_int_equal(kc_txn_log_get(t, i, &e), 0);
        assert_int_equal(e.event_len, EVENT_LEN);
        for (size_t k = 0; k < e.event_len; k++)
            sum = sum * 31 + e.event[k];
        sum += e.seq;
    }
    kc_txn_end(&t);
    return sum;
}

static void test_trim_releases_and_keeps_data(void **state)
{
    fixture_t *f = *state;
    for (uint64_t first = 0; first < N_ENTRIES; first += 4000) {
        span_t sp = {first, 4000};
        assert_int_equal(kc_store_write(f->s, s_append, &sp), 0);
    }
    bool trimmed = true;
    /* a budget of 0 does nothing */
    assert_int_equal(kc_store_trim_resident(f->s, 0, &trimmed), 0);
    assert_false(trimmed);

    uint64_t want = s_read_all(f->s);
    size_t before = s_rss();
    /* a budget above the resident set leaves it alone */
    assert_int_equal(kc_store_trim_resident(f->s, before + (1u << 30), &trimmed), 0);
    assert_false(trimmed);
    assert_int_equal(s_read_all(f->s), want);

    /* a budget below it releases the map's pages: at least half of the ~24 MB read */
    assert_int_equal(kc_store_trim_resident(f->s, 1, &trimmed), 0);
    assert_true(trimmed);
    size_t after = s_rss();
    print_message("resident set %zu kB -> %zu kB after the trim\n", before / 1024, after / 1024);
    assert_true(after + (size_t)N_ENTRIES * EVENT_LEN / 2 <= before);

    /* the data comes back from the page cache, unchanged, and writes go on */
    assert_int_equal(s_read_all(f->s), want);
    span_t more = {N_ENTRIES, 10};
    assert_int_equal(kc_store_write(f->s, s_append, &more), 0);
    kc_txn_t *t = NULL;
    uint64_t size = 0;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    assert_int_equal(kc_txn_log_size(t, &size), 0);
    kc_txn_end(&t);
    assert_int_equal(size, N_ENTRIES + 10);
}

static void test_trim_beside_a_reader(void **state)
{
    fixture_t *f = *state;
    span_t sp = {0, 2000};
    assert_int_equal(kc_store_write(f->s, s_append, &sp), 0);
    kc_txn_t *t = NULL;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    kc_log_entry_t e;
    assert_int_equal(kc_txn_log_get(t, 1234, &e), 0);
    uint8_t copy[EVENT_LEN];
    memcpy(copy, e.event, sizeof copy);
    /* the reader's pointer into the map stays valid across a trim (the page is
     * faulted back in): an open transaction does not block it */
    bool trimmed = false;
    assert_int_equal(kc_store_trim_resident(f->s, 1, &trimmed), 0);
    assert_true(trimmed);
    assert_memory_equal(e.event, copy, sizeof copy);
    kc_txn_end(&t);
    assert_int_equal(kc_store_trim_resident(NULL, 1, &trimmed), KC_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trim_releases_and_keeps_data, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_trim_beside_a_reader, kc_test_store_setup,
                                        kc_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
