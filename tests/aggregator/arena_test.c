/* arena_test.c - the decode arena (kc_arena.h) and kc_apply's decoding through
 * it: the per-message budget is exactly what it was, memory is reused from
 * group to group and given back after a huge one. Under ASan (KC_SANITIZE)
 * the arena poisons what it releases, so these runs also check that nothing
 * reads a decoded Batch or Event after its release. */
#include "apply_test_util.h"
#include "kc_apply.h"
#include "kc_arena.h"
#include "kc_err.h"
#include "kc_log.h"
#include "kc_store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sodium.h>

/* The budget kc_apply.c promises (kc_apply.h, DESIGN - decoding without
 * malloc): 4 x the message's bytes + 64 KiB of protobuf-c's allocation
 * requests, cumulative. Restated here on purpose. */
static size_t s_budget(size_t len)
{
    return 4 * len + ((size_t)64 << 10);
}

/* ---- a counting allocator: what protobuf-c asks for, in all ---- */

typedef struct {
    size_t total;
} s_count_t;

static void *s_count_alloc(void *ctx, size_t size)
{
    ((s_count_t *)ctx)->total += size;
    return malloc(size ? size : 1);
}

static void s_count_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

/* Cumulative allocation requests of unpacking `b` as a Batch (or an Event). */
static size_t s_batch_cost(const t_buf_t *b)
{
    s_count_t c = {0};
    ProtobufCAllocator a = {s_count_alloc, s_count_free, &c};
    kc_pb_batch_t *m = kcpipe__v1__batch__unpack(&a, b->len, b->data);
    assert_non_null(m);
    kcpipe__v1__batch__free_unpacked(m, &a);
    return c.total;
}

static size_t s_event_cost(const t_buf_t *b)
{
    s_count_t c = {0};
    ProtobufCAllocator a = {s_count_alloc, s_count_free, &c};
    kc_pb_event_t *m = kcpipe__v1__event__unpack(&a, b->len, b->data);
    assert_non_null(m);
    kcpipe__v1__event__free_unpacked(m, &a);
    return c.total;
}

/* A Batch of n empty events (2 bytes each on the wire, ~56 bytes decoded). */
static t_buf_t s_empty_events_batch(size_t n)
{
    static uint8_t nothing;
    t_buf_t *evs = calloc(n ? n : 1, sizeof *evs);
    for (size_t i = 0; i < n; i++)
        evs[i] = (t_buf_t){&nothing, 0};
    t_buf_t b = t_batch("p", evs, n);
    free(evs);
    return b;
}

/* Whether kc_apply_add() took the message as undecodable. */
static bool s_undecodable(kc_apply_t *g, const t_buf_t *b)
{
    assert_int_equal(kc_apply_add(g, b->data, b->len), 0);
    kc_apply_msg_info_t info;
    assert_int_equal(kc_apply_msg_info(g, kc_apply_count(g) - 1, &info), 0);
    return info.producer_id == NULL;
}

/* ---- the arena alone ---- */

static void test_arena_alloc_rewind_reset(void **state)
{
    (void)state;
    kc_arena_t a;
    kc_arena_init(&a);
    assert_int_equal(kc_arena_capacity(&a), 0);
    kc_arena_mark_t start = kc_arena_mark(&a);
    uint8_t *p[64];
    for (int i = 0; i < 64; i++) {
        p[i] = kc_arena_alloc(&a, (size_t)i * 37);
        assert_non_null(p[i]);
        assert_int_equal((uintptr_t)p[i] % KC_ARENA_ALIGN, 0);
        memset(p[i], i, (size_t)i * 37);
    }
    for (int i = 1; i < 64; i++) /* distinct, not overlapping */
        assert_true(p[i] != p[i - 1] && p[i][0] == (uint8_t)i && p[i][i * 37 - 1] == (uint8_t)i);
    /* a block larger than a chunk gets a chunk of its own */
    uint8_t *big = kc_arena_alloc(&a, KC_ARENA_CHUNK_MAX + 1);
    assert_non_null(big);
    big[KC_ARENA_CHUNK_MAX] = 1;
    assert_true(kc_arena_capacity(&a) >= KC_ARENA_CHUNK_MAX + 1);
    /* absurd sizes fail cleanly */
    assert_null(kc_arena_alloc(&a, SIZE_MAX));
    assert_null(kc_arena_alloc(&a, SIZE_MAX - 8));

    /* rewind: the same addresses again, no new chunk */
    kc_arena_mark_t m = kc_arena_mark(&a);
    uint8_t *x = kc_arena_alloc(&a, 100);
    uint64_t mallocs = kc_arena_chunk_mallocs(&a);
    kc_arena_rewind(&a, m);
    assert_ptr_equal(kc_arena_alloc(&a, 100), x);
    kc_arena_rewind(&a, start);
    assert_ptr_equal(kc_arena_alloc(&a, 10), p[0]);
    assert_int_equal(kc_arena_chunk_mallocs(&a), mallocs);

    /* the same cycle again after a reset: nothing malloc'd */
    size_t cap = kc_arena_capacity(&a);
    for (int round = 0; round < 5; round++) {
        kc_arena_reset(&a);
        for (int i = 0; i < 64; i++)
            assert_non_null(kc_arena_alloc(&a, (size_t)i * 37));
        assert_non_null(kc_arena_alloc(&a, KC_ARENA_CHUNK_MAX + 1));
        assert_int_equal(kc_arena_chunk_mallocs(&a), mallocs);
        assert_int_equal(kc_arena_capacity(&a), cap);
    }
    /* a small cycle after the big ones: the chunks beyond twice its need go back */
    kc_arena_reset(&a);
    assert_non_null(kc_arena_alloc(&a, 1000));
    kc_arena_reset(&a);
    assert_true(kc_arena_capacity(&a) <= 2 * KC_ARENA_CHUNK_MAX);
    assert_true(kc_arena_capacity(&a) < cap);
    /* and the arena still works */
    assert_non_null(kc_arena_alloc(&a, 5 * KC_ARENA_CHUNK_MIN));
    kc_arena_fini(&a);
    assert_int_equal(kc_arena_capacity(&a), 0);
    assert_non_null(kc_arena_alloc(&a, 1)); /* usable after fini */
    kc_arena_fini(&a);
}

/* ---- the budget of a Batch: undecodable exactly past 4n + 64 KiB ---- */

static void test_batch_budget_exact(void **state)
{
    (void)state;
    /* the smallest Batch of empty events whose decode exceeds its budget */
    size_t lo = 1, hi = 100000;
    {
        t_buf_t b = s_empty_events_batch(hi);
        assert_true(s_batch_cost(&b) > s_budget(b.len));
        t_buf_free(&b);
    }
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        t_buf_t b = s_empty_events_batch(mid);
        bool over = s_batch_cost(&b) > s_budget(b.len);
        t_buf_free(&b);
        if (over)
            hi = mid;
        else
            lo = mid + 1;
    }
    size_t first_over = lo;
    assert_true(first_over > 100); /* 64 KiB of slack: it takes a thousand or so */

    kc_apply_t *g = kc_apply_new();
    assert_non_null(g);
    for (size_t n = first_over - 3; n <= first_over + 3; n++) {
        t_buf_t b = s_empty_events_batch(n);
        bool over = s_batch_cost(&b) > s_budget(b.len);
        assert_int_equal(over, n >= first_over);
        assert_int_equal(s_undecodable(g, &b), over);
        t_buf_free(&b);
    }
    /* far past it, several in one group: each undecodable, the arena not left
     * holding their partial decodes */
    size_t before = kc_apply_arena_bytes(g);
    for (int i = 0; i < 4; i++) {
        t_buf_t b = s_empty_events_batch(200000);
        assert_true(s_undecodable(g, &b));
        t_buf_free(&b);
    }
    assert_true(kc_apply_arena_bytes(g) <= before + 2 * KC_ARENA_CHUNK_MAX);
    kc_apply_destroy(&g);
}

/* ---- the budget of an Event: the same, per event of a Batch ---- */

/* A valid event of producer "p" with k unknown varint fields (number 1000,
 * 3 bytes each) appended: protobuf-c keeps each with its own record. */
static t_buf_t s_event_unknowns(uint64_t seq, size_t k)
{
    t_event_t e;
    char id[32];
    snprintf(id, sizeof id, "u-%llu", (unsigned long long)seq);
    t_event(&e, "p", seq, id, 1000);
    t_buf_t v = t_event_pack(&e);
    t_buf_t b = {malloc(v.len + 3 * k + 1), v.len + 3 * k};
    memcpy(b.data, v.data, v.len);
    for (size_t i = 0; i < k; i++) {
        b.data[v.len + 3 * i] = 0xC0; /* (1000 << 3 | 0) as a varint */
        b.data[v.len + 3 * i + 1] = 0x3E;
        b.data[v.len + 3 * i + 2] = 0x00;
    }
    t_buf_free(&v);
    return b;
}

static void test_event_budget_exact(void **state)
{
    (void)state;
    size_t lo = 0, hi = 100000;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        t_buf_t b = s_event_unknowns(1, mid);
        bool over = s_event_cost(&b) > s_budget(b.len);
        t_buf_free(&b);
        if (over)
            hi = mid;
        else
            lo = mid + 1;
    }
    size_t first_over = lo;
    assert_true(first_over > 100 && first_over < 100000);

    char *dir = t_tmpdir("arena");
    assert_non_null(dir);
    kc_store_t *store = NULL;
    kc_store_opts_t o = {0};
    assert_int_equal(kc_store_open(&store, dir, &o), 0);
    /* seq 1 just within its budget: decoded and processed (whatever the ledger
     * says of it); seq 2 just past it: undecodable, not processed */
    t_buf_t evs[2] = {s_event_unknowns(1, first_over - 1), s_event_unknowns(2, first_over)};
    assert_true(s_event_cost(&evs[0]) <= s_budget(evs[0].len));
    assert_true(s_event_cost(&evs[1]) > s_budget(evs[1].len));
    t_buf_t batch = t_batch("p", evs, 2);
    kc_apply_t *g = kc_apply_new();
    assert_non_null(g);
    assert_int_equal(kc_apply_add(g, batch.data, batch.len), 0);
    assert_int_equal(kc_apply_commit(g, store), 0);
    const kc_pb_ack_t *a = kc_apply_ack_msg(g, 0);
    assert_non_null(a);
    assert_int_equal(a->status, KCPIPE__V1__STATUS__STATUS_OK);
    assert_true(a->has_acked_from && a->acked_from == 1 && a->acked_to == 1);
    assert_int_equal(a->committed_seq, 1);
    assert_true(a->n_results >= 1);
    const kc_pb_result_t *last = a->results[a->n_results - 1];
    assert_false(last->has_seq);
    assert_int_equal(last->reason, KCPIPE__V1__REASON__REASON_UNDECODABLE);
    for (size_t i = 0; i + 1 < a->n_results; i++) /* seq 1 was not undecodable */
        assert_int_not_equal(a->results[i]->reason, KCPIPE__V1__REASON__REASON_UNDECODABLE);
    assert_int_equal(kc_apply_delta(g)->events, 1);
    assert_int_equal(kc_apply_delta(g)->unplaceable, 1);
    kc_apply_destroy(&g);
    t_buf_free(&evs[0]);
    t_buf_free(&evs[1]);
    t_buf_free(&batch);
    kc_store_close(&store);
    t_rmtree(dir);
    free(dir);
}

/* ---- groups in a row: the arena is reused, then given back ---- */

typedef struct {
    char *dir;
    kc_store_t *store;
    uint64_t next[8]; /* next seq per producer */
} s_fx_t;

static int s_setup(void **state)
{
    s_fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    t_store_open("arena", &fx->dir, &fx->store);
    for (int i = 0; i < 8; i++)
        fx->next[i] = 1;
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    s_fx_t *fx = *state;
    t_store_close(&fx->dir, &fx->store);
    free(fx);
    return 0;
}

/* One group of `batches` Batches of `events` events (producers q0..), committed
 * and reset; every event must be accepted. */
static void s_run_group(s_fx_t *fx, kc_apply_t *g, int batches, uint64_t events)
{
    for (int b = 0; b < batches; b++) {
        char prod[16], prefix[16];
        snprintf(prod, sizeof prod, "q%d", b);
        snprintf(prefix, sizeof prefix, "q%d", b);
        t_buf_t m = t_batch_range(prod, prefix, fx->next[b], fx->next[b] + events - 1, 1);
        fx->next[b] += events;
        assert_int_equal(kc_apply_add(g, m.data, m.len), 0);
        t_buf_free(&m);
    }
    assert_int_equal(kc_apply_commit(g, fx->store), 0);
    assert_int_equal(kc_apply_delta(g)->accepted, (uint64_t)batches * events);
    kc_apply_reset(g);
}

static void test_groups_reuse_arena(void **state)
{
    s_fx_t *fx = *state;
    kc_apply_t *g = kc_apply_new();
    assert_non_null(g);
    s_run_group(fx, g, 4, 250);
    size_t bytes = kc_apply_arena_bytes(g);
    uint64_t mallocs = kc_apply_arena_mallocs(g);
    assert_true(bytes > 0);
    for (int i = 0; i < 40; i++) {
        s_run_group(fx, g, 4, 250);
        assert_int_equal(kc_apply_arena_bytes(g), bytes);
        assert_int_equal(kc_apply_arena_mallocs(g), mallocs);
    }
    kc_apply_destroy(&g);
}

static void test_huge_group_given_back(void **state)
{
    s_fx_t *fx = *state;
    kc_apply_t *g = kc_apply_new();
    assert_non_null(g);
    s_run_group(fx, g, 2, 20);
    size_t small = kc_apply_arena_bytes(g);
    s_run_group(fx, g, 8, 5000);
    size_t huge = kc_apply_arena_bytes(g);
    assert_true(huge > 8 * small);
    /* the next small group gives the surplus back (at most twice its need kept) */
    s_run_group(fx, g, 2, 20);
    size_t after = kc_apply_arena_bytes(g);
    assert_true(after < huge / 4);
    for (int i = 0; i < 5; i++) {
        s_run_group(fx, g, 2, 20);
        assert_int_equal(kc_apply_arena_bytes(g), after);
    }
    kc_apply_destroy(&g);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    kc_log_set_sink(t_log_drop, NULL);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_alloc_rewind_reset),
        cmocka_unit_test(test_batch_budget_exact),
        cmocka_unit_test(test_event_budget_exact),
        cmocka_unit_test_setup_teardown(test_groups_reuse_arena, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_huge_group_given_back, s_setup, s_teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    kc_log_set_sink(NULL, NULL);
    return rc;
}
