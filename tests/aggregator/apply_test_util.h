/* apply_test_util.h - the group commit (kc_apply) in-process against a
 * temporary store, for the tests that drive it directly (apply, admit,
 * arena, ledger, asof, asof_overflow): the store fixture, one group
 * committed, the Ack as a producer decodes it, the log's size, the sum of the
 * cells, a log sink that drops lines. Failures are cmocka assertions (this
 * header includes cmocka.h).
 */
#ifndef APPLY_TEST_UTIL_H
#define APPLY_TEST_UTIL_H

#include "agg_test_util.h"
#include "kc_apply.h"
#include "kc_log.h"
#include "kc_store.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

/* A store opened for writing (default options) in a fresh directory
 * t_tmpdir(tag): *dir (malloc'd) and *store. */
static inline void t_store_open(const char *tag, char **dir, kc_store_t **store)
{
    *dir = t_tmpdir(tag);
    assert_non_null(*dir);
    kc_store_opts_t o = {0};
    assert_int_equal(kc_store_open(store, *dir, &o), 0);
}

/* Close the store of t_store_open() and remove its directory. */
static inline void t_store_close(char **dir, kc_store_t **store)
{
    kc_store_close(store);
    t_rmtree(*dir);
    free(*dir);
    *dir = NULL;
}

/* The fixture of a test that needs nothing but the store: cmocka set-up and
 * tear-down of a t_store_fx_t in *state. */
typedef struct {
    char *dir;
    kc_store_t *store;
} t_store_fx_t;

static inline int t_store_setup(void **state)
{
    t_store_fx_t *fx = calloc(1, sizeof *fx);
    assert_non_null(fx);
    t_store_open("apply", &fx->dir, &fx->store);
    *state = fx;
    return 0;
}

static inline int t_store_teardown(void **state)
{
    t_store_fx_t *fx = *state;
    t_store_close(&fx->dir, &fx->store);
    free(fx);
    return 0;
}

/* A cmocka test entry of f with that fixture. */
#define T_STORE_TEST(f) cmocka_unit_test_setup_teardown(f, t_store_setup, t_store_teardown)

/* Commit one group of batches (the t_buf_t are freed); returns the group. */
static inline kc_apply_t *t_group(kc_store_t *store, t_buf_t *batches, size_t n)
{
    kc_apply_t *g = kc_apply_new();
    assert_non_null(g);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(kc_apply_add(g, batches[i].data, batches[i].len), 0);
        t_buf_free(&batches[i]);
    }
    assert_int_equal(kc_apply_commit(g, store), 0);
    return g;
}

/* The Ack of message i as a producer sees it: decoded from the packed bytes
 * by protobuf-c (caller frees); every text it carries is valid UTF-8 and
 * every Result has a text. */
static inline kc_pb_ack_t *t_ack(kc_apply_t *g, size_t i)
{
    const uint8_t *data;
    size_t len;
    assert_int_equal(kc_apply_ack(g, i, &data, &len), 0);
    kc_pb_ack_t *a = kcpipe__v1__ack__unpack(NULL, len, data);
    assert_non_null(a);
    for (size_t k = 0; k < a->n_results; k++)
        assert_non_null(a->results[k]->text);
    assert_true(t_ack_utf8(a));
    return a;
}

/* The number of entries in the store's log. */
static inline uint64_t t_log_size(kc_store_t *store)
{
    kc_txn_t *t;
    uint64_t n = 0;
    assert_int_equal(kc_store_read_begin(store, &t), 0);
    assert_int_equal(kc_txn_log_size(t, &n), 0);
    kc_txn_end(&t);
    return n;
}

/* The sum of the cells a kc_txn_totals_scan() with t_sum_cell visits (start
 * from {0}), to compare stores or to check totals against what was sent. */
typedef struct {
    uint64_t cells, events;
    int64_t m[KC_METRIC_COUNT];
} t_sum_t;

static inline int t_sum_cell(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx)
{
    (void)key;
    t_sum_t *s = ctx;
    s->cells++;
    s->events += cell->events;
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        s->m[i] += cell->m[i];
    return 0;
}

/* A kc_log sink that drops every line (kc_log_set_sink(t_log_drop, NULL)):
 * rejections and duplicates are logged, the tests' output stays short. */
static inline void t_log_drop(kc_log_level_t level, const char *line, void *ctx)
{
    (void)level;
    (void)line;
    (void)ctx;
}

#endif
