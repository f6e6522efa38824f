/* log_test.c - the append-only event log: append, get, scan, size, verbatim bytes. */
#include "kc_err.h"
#include "kc_store.h"
#include "store_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

typedef kc_test_store_t fixture_t;

/* Entries i = 0..n-1: producer "prov-<i%3>", seq 100+i, event = pattern(i) of len 1+i*7. */
typedef struct {
    uint64_t first, count;
    uint64_t offsets[64];
    uint64_t size_inside; /* kc_txn_log_size seen inside the write txn */
} append_ctx_t;

static const char *s_producer(uint64_t i)
{
    static const char *const names[] = {"prov-79", "prov-01", "prov-92"};
    return names[i % 3];
}

static size_t s_event_len(uint64_t i)
{
    return 1 + (size_t)i * 7;
}

static int s_append_fn(kc_txn_t *t, void *ctx)
{
    append_ctx_t *c = ctx;
    uint8_t ev[1024];
    for (uint64_t i = c->first; i < c->first + c->count; i++) {
        kc_test_pattern(ev, s_event_len(i), i);
        kc_log_entry_t e = {.offset = 999999, /* ignored */
                            .received_ns = 1700000000000000000ull + i,
                            .seq = 100 + i,
                            .epoch = 5000 + i * 3,
                            .producer = s_producer(i),
                            .producer_len = strlen(s_producer(i)),
                            .event = ev,
                            .event_len = s_event_len(i)};
        int rc = kc_txn_log_append(t, &e, &c->offsets[i - c->first]);
        if (rc != 0)
            return rc;
    }
    return kc_txn_log_size(t, &c->size_inside);
}

static void s_check_entry(const kc_log_entry_t *e, uint64_t i)
{
    uint8_t ev[1024];
    kc_test_pattern(ev, s_event_len(i), i);
    assert_int_equal(e->offset, i);
    assert_int_equal(e->received_ns, 1700000000000000000ull + i);
    assert_int_equal(e->seq, 100 + i);
    assert_int_equal(e->epoch, 5000 + i * 3);
    assert_int_equal(e->producer_len, strlen(s_producer(i)));
    assert_memory_equal(e->producer, s_producer(i), e->producer_len);
    assert_int_equal(e->event_len, s_event_len(i));
    assert_memory_equal(e->event, ev, e->event_len);
}

static void test_append_get_size(void **state)
{
    fixture_t *f = *state;
    kc_txn_t *t = NULL;
    uint64_t size = 77;

    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    assert_int_equal(kc_txn_log_size(t, &size), 0);
    assert_int_equal(size, 0);
    kc_log_entry_t e;
    assert_int_equal(kc_txn_log_get(t, 0, &e), KC_ENOTFOUND);
    kc_txn_end(&t);
    assert_null(t);

    append_ctx_t a = {.first = 0, .count = 10};
    assert_int_equal(kc_store_write(f->s, s_append_fn, &a), 0);
    for (uint64_t i = 0; i < 10; i++)
        assert_int_equal(a.offsets[i], i);
    assert_int_equal(a.size_inside, 10);

    /* a second group continues the offsets */
    append_ctx_t b = {.first = 10, .count = 5};
    assert_int_equal(kc_store_write(f->s, s_append_fn, &b), 0);
    assert_int_equal(b.offsets[0], 10);
    assert_int_equal(b.offsets[4], 14);
    assert_int_equal(b.size_inside, 15);

    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    assert_int_equal(kc_txn_log_size(t, &size), 0);
    assert_int_equal(size, 15);
    for (uint64_t i = 0; i < 15; i++) {
        assert_int_equal(kc_txn_log_get(t, i, &e), 0);
        s_check_entry(&e, i);
    }
    assert_int_equal(kc_txn_log_get(t, 15, &e), KC_ENOTFOUND);
    assert_int_equal(kc_txn_log_get(t, UINT64_MAX, &e), KC_ENOTFOUND);

    kc_store_stat_t st;
    assert_int_equal(kc_txn_stat(t, &st), 0);
    assert_int_equal(st.log_entries, 15);
    assert_int_equal(st.producers, 0);
    assert_int_equal(st.cells, 0);
    assert_int_equal(st.map_size, KC_STORE_DEFAULT_MAPSIZE);
    assert_true(st.used_bytes > 0 && st.used_bytes < st.map_size);
    kc_txn_end(&t);
}

typedef struct {
    uint64_t next;    /* expected offset of the next call */
    uint64_t stop_at; /* return 42 at this offset */
    unsigned calls;
} scan_ctx_t;

static int s_scan_fn(const kc_log_entry_t *e, void *ctx)
{
    scan_ctx_t *c = ctx;
    s_check_entry(e, c->next);
    c->next++;
    c->calls++;
    return e->offset == c->stop_at ? 42 : 0;
}

static void test_scan(void **state)
{
    fixture_t *f = *state;
    append_ctx_t a = {.first = 0, .count = 20};
    assert_int_equal(kc_store_write(f->s, s_append_fn, &a), 0);

    kc_txn_t *t = NULL;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    scan_ctx_t c = {.next = 0, .stop_at = UINT64_MAX};
    assert_int_equal(kc_txn_log_scan(t, 0, s_scan_fn, &c), 0);
    assert_int_equal(c.calls, 20);

    c = (scan_ctx_t){.next = 13, .stop_at = UINT64_MAX};
    assert_int_equal(kc_txn_log_scan(t, 13, s_scan_fn, &c), 0);
    assert_int_equal(c.calls, 7);

    c = (scan_ctx_t){.next = 5, .stop_at = 8};
    assert_int_equal(kc_txn_log_scan(t, 5, s_scan_fn, &c), 42);
    assert_int_equal(c.calls, 4);

    c = (scan_ctx_t){.next = 20, .stop_at = UINT64_MAX};
    assert_int_equal(kc_txn_log_scan(t, 20, s_scan_fn, &c), 0);
    assert_int_equal(c.calls, 0);
    kc_txn_end(&t);
}

/* Empty event, longest producer id, every byte value. */
static int s_edge_fn(kc_txn_t *t, void *ctx)
{
    (void)ctx;
    char prod[256];
    memset(prod, 'p', 255);
    prod[255] = '\0';
    uint8_t all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (uint8_t)i;
    kc_log_entry_t e = {.received_ns = UINT64_MAX,
                        .seq = UINT64_MAX,
                        .producer = prod,
                        .producer_len = 255,
                        .event = NULL,
                        .event_len = 0};
    int rc = kc_txn_log_append(t, &e, NULL);
    if (rc)
        return rc;
    e = (kc_log_entry_t){.received_ns = 0,
                         .seq = 0,
                         .producer = "x",
                         .producer_len = 1,
                         .event = all,
                         .event_len = sizeof all};
    return kc_txn_log_append(t, &e, NULL);
}

static void test_edges_verbatim(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(kc_store_write(f->s, s_edge_fn, NULL), 0);
    kc_txn_t *t = NULL;
    kc_log_entry_t e;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    assert_int_equal(kc_txn_log_get(t, 0, &e), 0);
    assert_int_equal(e.received_ns, UINT64_MAX);
    assert_int_equal(e.seq, UINT64_MAX);
    assert_int_equal(e.producer_len, 255);
    for (size_t i = 0; i < 255; i++)
        assert_int_equal(e.producer[i], 'p');
    assert_int_equal(e.event_len, 0);
    assert_int_equal(kc_txn_log_get(t, 1, &e), 0);
    assert_int_equal(e.received_ns, 0);
    assert_int_equal(e.seq, 0);
    assert_int_equal(e.producer_len, 1);
    assert_int_equal(e.producer[0], 'x');
    assert_int_equal(e.event_len, 256);
    for (int i = 0; i < 256; i++)
        assert_int_equal(e.event[i], i);
    kc_txn_end(&t);
}

static int s_bad_fn(kc_txn_t *t, void *ctx)
{
    int *seen = ctx;
    uint8_t ev[4] = {1, 2, 3, 4};
    kc_log_entry_t e = {.producer = "p", .producer_len = 0, .event = ev, .event_len = 4};
    seen[0] = kc_txn_log_append(t, &e, NULL); /* empty producer */
    e.producer_len = 256;
    seen[1] = kc_txn_log_append(t, &e, NULL); /* too long for the length byte */
    e = (kc_log_entry_t){.producer = "p", .producer_len = 1, .event = NULL, .event_len = 3};
    seen[2] = kc_txn_log_append(t, &e, NULL); /* NULL event with a length */
    seen[3] = kc_txn_log_append(t, NULL, NULL);
    e = (kc_log_entry_t){.producer = "p", .producer_len = 1, .event = ev, .event_len = 4};
    seen[4] = kc_txn_log_append(t, &e, NULL); /* a good one, then fail the txn */
    return -5;                                /* any non-zero: aborted, returned */
}

static void test_invalid_and_abort(void **state)
{
    fixture_t *f = *state;
    int seen[5];
    assert_int_equal(kc_store_write(f->s, s_bad_fn, seen), -5);
    for (int i = 0; i < 4; i++)
        assert_int_equal(seen[i], KC_EINVAL);
    assert_int_equal(seen[4], 0);

    kc_txn_t *t = NULL;
    uint64_t size = 1;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    assert_int_equal(kc_txn_log_size(t, &size), 0);
    assert_int_equal(size, 0); /* the aborted append left nothing */
    /* writes in a read transaction are refused */
    kc_log_entry_t e = {.producer = "p", .producer_len = 1};
    assert_int_equal(kc_txn_log_append(t, &e, NULL), KC_EINVAL);
    kc_txn_end(&t);
    kc_txn_end(&t); /* no-op on NULL */
    kc_txn_end(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_get_size, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_scan, kc_test_store_setup, kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_edges_verbatim, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_invalid_and_abort, kc_test_store_setup,
                                        kc_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
