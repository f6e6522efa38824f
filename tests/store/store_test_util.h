/* store_test_util.h - temp directories and log capture for the store tests.
 *
 * Each test gets its own directory under $TMPDIR (or /tmp), removed at the
 * end; the store lives in a "store" subdirectory that the library creates.
 */
#ifndef KC_STORE_TEST_UTIL_H
#define KC_STORE_TEST_UTIL_H

#include "kc_event.h"
#include "kc_log.h"
#include "kc_store.h"
#include "kcpipe/v1/kcpipe.pb-c.h"

#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char root[PATH_MAX];      /* mkdtemp'd directory */
    char store[PATH_MAX + 8]; /* root/store */
} kc_test_dir_t;

static inline void kc_test_dir_make(kc_test_dir_t *d)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(d->root, sizeof d->root, "%s/kcstore-test-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(d->root)) {
        perror("mkdtemp");
        abort();
    }
    snprintf(d->store, sizeof d->store, "%s/store", d->root);
}

static inline int kc_test_rm_one(const char *path, const struct stat *sb, int flag, struct FTW *f)
{
    (void)sb;
    (void)flag;
    (void)f;
    return remove(path);
}

static inline void kc_test_dir_remove(kc_test_dir_t *d)
{
    nftw(d->root, kc_test_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The usual fixture: a temp directory and a store opened for writing in it
 * (cmocka setup/teardown: pass kc_test_store_setup, kc_test_store_teardown). */
typedef struct {
    kc_test_dir_t dir;
    kc_store_t *s;
} kc_test_store_t;

static inline int kc_test_store_setup(void **state)
{
    kc_test_store_t *f = calloc(1, sizeof *f);
    if (!f)
        return -1;
    kc_test_dir_make(&f->dir);
    if (kc_store_open(&f->s, f->dir.store, NULL) != 0)
        return -1;
    *state = f;
    return 0;
}

static inline int kc_test_store_teardown(void **state)
{
    kc_test_store_t *f = *state;
    kc_store_close(&f->s);
    kc_test_dir_remove(&f->dir);
    free(f);
    return 0;
}

/* Totals cells a test chooses, written as they are (kc_txn_totals_put), as a
 * store an older version filled can hold them (sums beyond int64): the event
 * count and two metrics, the others 0. */
typedef struct {
    kc_cell_key_t key;
    uint64_t events;
    int64_t amount, persons; /* KC_M_AMOUNT_VND, KC_M_PERSONS */
} kc_test_cell_t;

typedef struct {
    const kc_test_cell_t *cells;
    size_t n;
} kc_test_cells_t;

/* kc_store_write() callback: put every cell of ctx (a kc_test_cells_t *). */
static inline int kc_test_cells_put(kc_txn_t *txn, void *ctx)
{
    const kc_test_cells_t *t = ctx;
    for (size_t i = 0; i < t->n; i++) {
        kc_cell_t c = {.events = t->cells[i].events};
        c.m[KC_M_AMOUNT_VND] = t->cells[i].amount;
        c.m[KC_M_PERSONS] = t->cells[i].persons;
        int rc = kc_txn_totals_put(txn, &t->cells[i].key, &c);
        if (rc)
            return rc;
    }
    return 0;
}

/* Totals cells a test chooses, added as events add them (kc_txn_totals_add):
 * the event count and up to three metrics (metric -1: none). */
typedef struct {
    kc_cell_key_t key;
    uint64_t events;
    int metric[3];
    int64_t value[3];
} kc_test_sum_cell_t;

/* Add the n cells to txn's totals; 0 or the first error. */
static inline int kc_test_cells_add(kc_txn_t *txn, const kc_test_sum_cell_t *cells, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t delta[KC_METRIC_COUNT] = {0};
        for (int j = 0; j < 3; j++)
            if (cells[i].metric[j] >= 0)
                delta[cells[i].metric[j]] = cells[i].value[j];
        int rc = kc_txn_totals_add(txn, &cells[i].key, delta, cells[i].events);
        if (rc)
            return rc;
    }
    return 0;
}

/* Log capture: the last few lines at any level, to check messages. */
typedef struct {
    char text[8192];
} kc_test_log_t;

static inline void kc_test_log_sink(kc_log_level_t level, const char *line, void *ctx)
{
    (void)level;
    kc_test_log_t *l = ctx;
    size_t used = strlen(l->text), n = strlen(line);
    if (used + n + 2 > sizeof l->text)
        l->text[used = 0] = '\0'; /* keep the most recent lines */
    if (n + 2 > sizeof l->text)
        return;
    memcpy(l->text + used, line, n);
    l->text[used + n] = '\n';
    l->text[used + n + 1] = '\0';
}

static inline void kc_test_log_capture(kc_test_log_t *l)
{
    l->text[0] = '\0';
    kc_log_set_sink(kc_test_log_sink, l);
}

static inline void kc_test_log_release(void)
{
    kc_log_set_sink(NULL, NULL);
}

/* An Event that passes kc_event_check (activity KC3b, amount and one
 * facility) in *ev, its metrics in *m (which must outlive *ev): op 0 record, 1
 * correction, 2 retraction (of `corrects`); year 0 = none (a retraction's
 * period is then its target's); kind 0 = absent. The caller may set more
 * fields before kc_test_event_pack(). */
static inline void kc_test_event_fill(Kcpipe__V1__Event *ev, Kcpipe__V1__Metrics *m,
                                      const char *event_id, const char *province, uint32_t year,
                                      uint32_t month, int op, const char *corrects, int kind,
                                      int64_t amount)
{
    kcpipe__v1__event__init(ev);
    kcpipe__v1__metrics__init(m);
    ev->event_id = (char *)event_id;
    ev->province = (char *)province;
    ev->has_year = ev->has_month = year != 0;
    ev->year = year;
    ev->month = month;
    if (op != 2) {
        ev->activity = "KC3b";
        ev->metrics = m;
        kc_pb_metric_set(m, KC_M_AMOUNT_VND, amount);
        kc_pb_metric_set(m, KC_M_FACILITIES, 1);
    }
    ev->has_kind = kind != 0;
    ev->kind = (Kcpipe__V1__Kind)kind;
    ev->has_op = op != 0;
    ev->op = (Kcpipe__V1__Op)op;
    ev->corrects = (char *)corrects;
}

/* *ev serialized into buf[cap]; returns its length (0 if short). */
static inline size_t kc_test_event_pack(const Kcpipe__V1__Event *ev, uint8_t *buf, size_t cap)
{
    size_t n = kcpipe__v1__event__get_packed_size(ev);
    return n > cap ? 0 : kcpipe__v1__event__pack(ev, buf);
}

/* The serialized Event of kc_test_event_fill(). Format-4 identities must
 * name a logged Event with their event_id (kc_store_state.c). Returns the
 * length written into buf[cap] (0 if short). */
static inline size_t kc_test_event(uint8_t *buf, size_t cap, const char *event_id,
                                   const char *province, uint32_t year, uint32_t month, int op,
                                   const char *corrects, int kind, int64_t amount)
{
    Kcpipe__V1__Event ev;
    Kcpipe__V1__Metrics m;
    kc_test_event_fill(&ev, &m, event_id, province, year, month, op, corrects, kind, amount);
    return kc_test_event_pack(&ev, buf, cap);
}

/* A deterministic byte pattern for an entry, covering 0x00 and 0xff. */
static inline void kc_test_pattern(uint8_t *buf, size_t len, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        buf[i] = (uint8_t)x;
    }
    if (len > 0)
        buf[0] = 0x00;
    if (len > 1)
        buf[len - 1] = 0xff;
}

#endif
