/* growth_test.c - map growth inside kc_store_write, and a reader process that
 * adopts a map grown by the writer process (MDB_MAP_RESIZED). */
#include "kc_err.h"
#include "kc_store.h"
#include "store_test_util.h"

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#define TINY_MAP ((size_t)64 << 10)

static int setup(void **state)
{
    kc_test_dir_t *d = calloc(1, sizeof *d);
    kc_test_dir_make(d);
    *state = d;
    return 0;
}

static int teardown(void **state)
{
    kc_test_dir_remove(*state);
    free(*state);
    return 0;
}

typedef struct {
    uint64_t first, count; /* entries first..first+count-1 */
    size_t len;            /* event bytes per entry */
    unsigned calls;        /* times the callback ran */
    uint64_t appended;     /* reset at each run, as the contract asks */
} bulk_t;

static int s_bulk_fn(kc_txn_t *t, void *ctx)
{
    bulk_t *b = ctx;
    b->calls++;
    b->appended = 0;
    uint8_t *ev = malloc(b->len);
    if (!ev)
        return KC_ENOMEM;
    int rc = 0;
    for (uint64_t i = b->first; i < b->first + b->count && rc == 0; i++) {
        kc_test_pattern(ev, b->len, i);
        kc_log_entry_t e = {.received_ns = i * 3,
                            .seq = i + 1,
                            .producer = "prov-79",
                            .producer_len = 7,
                            .event = ev,
                            .event_len = b->len};
        uint64_t off;
        if ((rc = kc_txn_log_append(t, &e, &off)) != 0)
            break;
        if (off != i) {
            rc = -77;
            break;
        }
        kc_cell_key_t k = {2022, (uint8_t)(1 + i % 9), 79, (uint8_t)(1 + i % 18), 1, 3};
        int64_t d[KC_METRIC_COUNT] = {0};
        d[KC_M_AMOUNT_VND] = (int64_t)i;
        if ((rc = kc_txn_totals_add(t, &k, d, 1)) != 0)
            break;
        kc_identity_t id = {.offset = off};
        char eid[32];
        int n = snprintf(eid, sizeof eid, "E-%llu", (unsigned long long)i);
        if ((rc = kc_txn_identity_put(t, 79, eid, (size_t)n, &id)) != 0)
            break;
        b->appended++;
    }
    if (rc == 0) {
        kc_producer_state_t st = {.hwm = b->first + b->count, .accepted = b->first + b->count};
        rc = kc_txn_producer_put(t, "prov-79", &st);
    }
    free(ev);
    return rc; /* KC_EMAPFULL returned unchanged */
}

/* The log size, or UINT64_MAX on error. */
static uint64_t s_size(kc_txn_t *t)
{
    uint64_t size = UINT64_MAX;
    return kc_txn_log_size(t, &size) == 0 ? size : UINT64_MAX;
}

/* 0 if entries 0..count-1 are all there, verbatim; else the first bad index + 1. */
static uint64_t s_verify(kc_txn_t *t, uint64_t count, size_t len)
{
    uint8_t *ev = malloc(len);
    uint64_t bad = 0;
    for (uint64_t i = 0; i < count && !bad; i++) {
        kc_log_entry_t e;
        kc_test_pattern(ev, len, i);
        if (kc_txn_log_get(t, i, &e) != 0 || e.offset != i || e.seq != i + 1 ||
            e.received_ns != i * 3 || e.producer_len != 7 || memcmp(e.producer, "prov-79", 7) ||
            e.event_len != len || memcmp(e.event, ev, len))
            bad = i + 1;
    }
    free(ev);
    return bad;
}

static void test_growth_in_one_write(void **state)
{
    kc_test_dir_t *d = *state;
    kc_store_t *s = NULL;
    kc_store_opts_t o = {.map_size = TINY_MAP};
    assert_int_equal(kc_store_open(&s, d->store, &o), 0);
    assert_int_equal(kc_store_map_size(s), TINY_MAP);

    /* ~1.8 MB in one transaction: the 64 KiB map must double several times */
    bulk_t b = {.first = 0, .count = 3000, .len = 600};
    assert_int_equal(kc_store_write(s, s_bulk_fn, &b), 0);
    assert_true(b.calls >= 5);
    assert_int_equal(b.appended, 3000);
    /* each rerun followed exactly one doubling */
    assert_int_equal(kc_store_map_size(s), TINY_MAP << (b.calls - 1));

    kc_txn_t *t = NULL;
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    assert_int_equal(s_verify(t, 3000, 600), 0);
    assert_int_equal(s_size(t), 3000);
    kc_store_stat_t st;
    assert_int_equal(kc_txn_stat(t, &st), 0);
    assert_int_equal(st.log_entries, 3000);
    assert_int_equal(st.identities, 3000);
    assert_int_equal(st.cells, 9 * 2); /* lcm(9, 18) = 18 distinct cells */
    assert_int_equal(st.producers, 1);
    assert_true(st.used_bytes > 3000 * 600);
    assert_true(st.used_bytes <= st.map_size);
    assert_int_equal(st.map_size, kc_store_map_size(s));
    /* totals: amount of cell (month m, activity a) = sum of i with those residues */
    int64_t sum = 0;
    for (uint64_t i = 0; i < 3000; i++)
        if (i % 9 == 0 && i % 18 == 0)
            sum += (int64_t)i;
    kc_cell_key_t k = {2022, 1, 79, 1, 1, 3};
    kc_cell_t c;
    assert_int_equal(kc_txn_totals_get(t, &k, &c), 0);
    assert_int_equal(c.m[KC_M_AMOUNT_VND], sum);
    assert_int_equal(c.events, 3000 / 18 + (3000 % 18 ? 1 : 0));
    kc_txn_end(&t);

    /* one value larger than the whole current map (overflow pages) */
    size_t before = kc_store_map_size(s);
    bulk_t big = {.first = 3000, .count = 1, .len = before + (before / 2)};
    assert_int_equal(kc_store_write(s, s_bulk_fn, &big), 0);
    assert_true(big.calls >= 2);
    assert_true(kc_store_map_size(s) > before + big.len);
    kc_store_close(&s);

    /* durable: reopen with the default options, the grown size is kept */
    assert_int_equal(kc_store_open(&s, d->store, NULL), 0);
    assert_true(kc_store_map_size(s) >= before * 2);
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    assert_int_equal(s_verify(t, 3000, 600), 0);
    assert_int_equal(s_size(t), 3001);
    kc_log_entry_t e;
    assert_int_equal(kc_txn_log_get(t, 3000, &e), 0);
    assert_int_equal(e.event_len, big.len);
    uint8_t *ev = malloc(big.len);
    kc_test_pattern(ev, big.len, 3000);
    assert_memory_equal(e.event, ev, big.len);
    free(ev);
    kc_txn_end(&t);
    kc_store_close(&s);
}

/* The writer process: grows the map in several group commits. */
static int s_child_writer(const char *dir, int go_fd)
{
    char b;
    if (read(go_fd, &b, 1) != 1)
        return 3; /* the parent went away */
    kc_store_t *s = NULL;
    if (kc_store_open(&s, dir, NULL) != 0)
        return 4;
    size_t start = kc_store_map_size(s);
    for (uint64_t first = 10; first < 2010; first += 250) {
        bulk_t bk = {.first = first, .count = 250, .len = 1000};
        if (kc_store_write(s, s_bulk_fn, &bk) != 0)
            return 5;
    }
    int rc = kc_store_map_size(s) >= start * 8 ? 0 : 6; /* grew at least three times */
    kc_store_close(&s);
    return rc;
}

static void test_reader_process_adopts_grown_map(void **state)
{
    kc_test_dir_t *d = *state;
    kc_store_t *w = NULL;
    kc_store_opts_t o = {.map_size = TINY_MAP};
    assert_int_equal(kc_store_open(&w, d->store, &o), 0);
    bulk_t b = {.first = 0, .count = 10, .len = 1000};
    assert_int_equal(kc_store_write(w, s_bulk_fn, &b), 0);
    assert_int_equal(b.calls, 1);
    kc_store_close(&w); /* the writer lives in the child from now on */

    int go[2];
    assert_int_equal(pipe(go), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(go[1]);
        _exit(s_child_writer(d->store, go[0]));
    }
    close(go[0]);

    kc_store_t *r = NULL;
    kc_store_opts_t ro = {.read_only = true};
    assert_int_equal(kc_store_open(&r, d->store, &ro), 0);
    assert_int_equal(kc_store_map_size(r), TINY_MAP);
    kc_txn_t *old = NULL;
    assert_int_equal(kc_store_read_begin(r, &old), 0); /* held while the writer grows */
    assert_int_equal(s_verify(old, 10, 1000), 0);
    assert_int_equal(s_size(old), 10);

    assert_int_equal(write(go[1], "g", 1), 1);
    close(go[1]);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);

    /* the old snapshot still reads its 10 entries, through the old mapping */
    assert_int_equal(s_verify(old, 10, 1000), 0);
    assert_int_equal(s_size(old), 10);
    kc_txn_end(&old);

    /* a new snapshot meets MDB_MAP_RESIZED, adopts the size, and sees everything */
    kc_txn_t *t = NULL;
    assert_int_equal(kc_store_read_begin(r, &t), 0);
    assert_true(kc_store_map_size(r) >= TINY_MAP * 8);
    assert_int_equal(s_verify(t, 2010, 1000), 0);
    assert_int_equal(s_size(t), 2010);
    kc_store_stat_t st;
    assert_int_equal(kc_txn_stat(t, &st), 0);
    assert_int_equal(st.log_entries, 2010);
    assert_true(st.used_bytes <= st.map_size);
    kc_producer_state_t ps;
    assert_int_equal(kc_txn_producer_get(t, "prov-79", &ps), 0);
    assert_int_equal(ps.hwm, 2010);
    kc_txn_end(&t);
    kc_store_close(&r);
}

/* A reader thread of the same kc_store_t holds a snapshot while the writer
 * must grow the map: the remap waits until the snapshot ends, and the reader
 * keeps reading valid data meanwhile. */
typedef struct {
    kc_store_t *s;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int phase;     /* 0 start, 1 reader holds its txn, 2 writer ran, reader may end */
    uint64_t bad;  /* reader's verification result */
    uint64_t size; /* reader's log size, after the writer started */
    bulk_t bulk;   /* the writer's work */
} share_t;

static void s_wait_phase(share_t *sh, int phase)
{
    pthread_mutex_lock(&sh->mu);
    while (sh->phase < phase)
        pthread_cond_wait(&sh->cv, &sh->mu);
    pthread_mutex_unlock(&sh->mu);
}

static void s_set_phase(share_t *sh, int phase)
{
    pthread_mutex_lock(&sh->mu);
    if (sh->phase < phase)
        sh->phase = phase;
    pthread_cond_broadcast(&sh->cv);
    pthread_mutex_unlock(&sh->mu);
}

static void *s_reader_thread(void *arg)
{
    share_t *sh = arg;
    kc_txn_t *t = NULL;
    if (kc_store_read_begin(sh->s, &t) != 0) {
        sh->bad = UINT64_MAX;
        s_set_phase(sh, 1);
        return NULL;
    }
    s_set_phase(sh, 1);
    s_wait_phase(sh, 2);             /* the writer is inside kc_store_write now */
    sh->bad = s_verify(t, 10, 1000); /* the map cannot have moved under us */
    sh->size = s_size(t);
    kc_txn_end(&t); /* lets the remap proceed */
    return NULL;
}

static int s_grow_fn(kc_txn_t *t, void *ctx)
{
    share_t *sh = ctx;
    s_set_phase(sh, 2);
    return s_bulk_fn(t, &sh->bulk);
}

static void test_reader_thread_during_growth(void **state)
{
    kc_test_dir_t *d = *state;
    share_t sh = {.bulk = {.first = 10, .count = 1000, .len = 1000}};
    pthread_mutex_init(&sh.mu, NULL);
    pthread_cond_init(&sh.cv, NULL);
    kc_store_opts_t o = {.map_size = TINY_MAP};
    assert_int_equal(kc_store_open(&sh.s, d->store, &o), 0);
    bulk_t b = {.first = 0, .count = 10, .len = 1000};
    assert_int_equal(kc_store_write(sh.s, s_bulk_fn, &b), 0);

    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, s_reader_thread, &sh), 0);
    s_wait_phase(&sh, 1);
    assert_int_equal(kc_store_write(sh.s, s_grow_fn, &sh), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_int_equal(sh.bad, 0);
    assert_int_equal(sh.size, 10); /* the snapshot did not see the new group */
    assert_true(sh.bulk.calls >= 4);
    assert_int_equal(kc_store_map_size(sh.s), TINY_MAP << (sh.bulk.calls - 1));

    kc_txn_t *t = NULL;
    assert_int_equal(kc_store_read_begin(sh.s, &t), 0);
    assert_int_equal(s_verify(t, 1010, 1000), 0);
    assert_int_equal(s_size(t), 1010);
    kc_txn_end(&t);
    kc_store_close(&sh.s);
    pthread_cond_destroy(&sh.cv);
    pthread_mutex_destroy(&sh.mu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_growth_in_one_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_process_adopts_grown_map, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_thread_during_growth, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
