/* store_test.c - opening, durability across reopen, snapshots, format version, read-only,
 * stale reader slots. */
#include "kc_err.h"
#include "kc_store.h"
#include "store_test_util.h"

#include <errno.h>
#include <lmdb.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

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
    const char *producer;
    uint64_t seq;
    int64_t amount;
    unsigned calls;
} group_t;

/* One group commit as the aggregator does it: log + producer + identity + totals. */
static int s_group_fn(kc_txn_t *t, void *ctx)
{
    group_t *g = ctx;
    g->calls++;
    char event[32];
    int n = snprintf(event, sizeof event, "event-%llu", (unsigned long long)g->seq);
    uint8_t ev[256];
    size_t evn = kc_test_event(ev, sizeof ev, event, "79", 2021, 5, 0, NULL, 0,
                               g->amount < 0 ? -g->amount : g->amount);
    kc_log_entry_t e = {.received_ns = 42,
                        .seq = g->seq,
                        .producer = g->producer,
                        .producer_len = strlen(g->producer),
                        .event = ev,
                        .event_len = evn};
    uint64_t off;
    int rc = kc_txn_log_append(t, &e, &off);
    if (rc)
        return rc;
    kc_producer_state_t st = {.hwm = g->seq, .last_seen_ns = 42, .accepted = g->seq};
    if ((rc = kc_txn_producer_put(t, g->producer, &st)))
        return rc;
    kc_identity_t id = {.offset = off};
    if ((rc = kc_txn_identity_put(t, 79, event, (size_t)n, &id)))
        return rc;
    kc_cell_key_t k = {
        .year = 2021, .month = 5, .province = 79, .activity = 7, .kind = 1, .fund = 1};
    int64_t d[KC_METRIC_COUNT] = {0};
    d[KC_M_AMOUNT_VND] = g->amount;
    return kc_txn_totals_add(t, &k, d, 1);
}

static void s_check_state(kc_store_t *s, uint64_t entries, int64_t amount)
{
    kc_txn_t *t = NULL;
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    uint64_t size;
    assert_int_equal(kc_txn_log_size(t, &size), 0);
    assert_int_equal(size, entries);
    kc_log_entry_t e;
    assert_int_equal(kc_txn_log_get(t, entries - 1, &e), 0);
    assert_int_equal(e.seq, entries);
    char want[32];
    int n = snprintf(want, sizeof want, "event-%llu", (unsigned long long)entries);
    Kcpipe__V1__Event *got = kcpipe__v1__event__unpack(NULL, e.event_len, e.event);
    assert_non_null(got);
    assert_string_equal(got->event_id, want);
    kcpipe__v1__event__free_unpacked(got, NULL);
    kc_producer_state_t st;
    assert_int_equal(kc_txn_producer_get(t, "prov-79", &st), 0);
    assert_int_equal(st.hwm, entries);
    kc_identity_t id;
    assert_int_equal(kc_txn_identity_get(t, 79, want, (size_t)n, &id), 0);
    assert_int_equal(id.offset, entries - 1);
    kc_cell_key_t k = {2021, 5, 79, 7, 1, 1};
    kc_cell_t c;
    assert_int_equal(kc_txn_totals_get(t, &k, &c), 0);
    assert_int_equal(c.events, entries);
    assert_int_equal(c.m[KC_M_AMOUNT_VND], amount);
    kc_store_stat_t ss;
    assert_int_equal(kc_txn_stat(t, &ss), 0);
    assert_int_equal(ss.log_entries, entries);
    assert_int_equal(ss.identities, entries);
    assert_int_equal(ss.producers, 1);
    assert_int_equal(ss.cells, 1);
    kc_txn_end(&t);
}

static void test_create_modes_and_reopen(void **state)
{
    kc_test_dir_t *d = *state;
    kc_store_t *s = NULL;
    kc_store_opts_t o = {.map_size = 1 << 20};
    assert_int_equal(kc_store_open(&s, d->store, &o), 0);
    assert_non_null(s);
    assert_int_equal(kc_store_map_size(s), 1 << 20);

    struct stat st;
    char path[PATH_MAX + 32];
    assert_int_equal(stat(d->store, &st), 0);
    assert_true(S_ISDIR(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0700);
    snprintf(path, sizeof path, "%s/data.mdb", d->store);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/lock.mdb", d->store);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);

    group_t g = {.producer = "prov-79", .seq = 1, .amount = 1500};
    assert_int_equal(kc_store_write(s, s_group_fn, &g), 0);
    g.seq = 2;
    g.amount = 2500;
    assert_int_equal(kc_store_write(s, s_group_fn, &g), 0);
    assert_int_equal(g.calls, 2); /* no growth: each callback ran once */
    s_check_state(s, 2, 4000);
    kc_store_close(&s);
    assert_null(s);
    kc_store_close(&s); /* no-op on NULL */

    /* reopen: everything committed is there, and the file's map size is kept */
    assert_int_equal(kc_store_open(&s, d->store, NULL), 0);
    assert_int_equal(kc_store_map_size(s), 1 << 20);
    s_check_state(s, 2, 4000);
    g.seq = 3;
    g.amount = -1000;
    assert_int_equal(kc_store_write(s, s_group_fn, &g), 0);
    kc_store_close(&s);

    /* a larger requested map raises it; a smaller one keeps the file's */
    o.map_size = 4 << 20;
    assert_int_equal(kc_store_open(&s, d->store, &o), 0);
    assert_int_equal(kc_store_map_size(s), 4 << 20);
    s_check_state(s, 3, 3000);
    g.seq = 4;
    g.amount = 1000;
    assert_int_equal(kc_store_write(s, s_group_fn, &g), 0); /* records the size in the file */
    kc_store_close(&s);
    o.map_size = 1 << 20;
    assert_int_equal(kc_store_open(&s, d->store, &o), 0);
    assert_int_equal(kc_store_map_size(s), 4 << 20);
    s_check_state(s, 4, 4000);
    kc_store_close(&s);

    /* read-only open sees the same state and refuses writes */
    o = (kc_store_opts_t){.read_only = true};
    assert_int_equal(kc_store_open(&s, d->store, &o), 0);
    assert_int_equal(kc_store_map_size(s), 4 << 20);
    s_check_state(s, 4, 4000);
    assert_int_equal(kc_store_write(s, s_group_fn, &g), KC_EINVAL);
    kc_store_close(&s);
}

static void test_default_map_size(void **state)
{
    kc_test_dir_t *d = *state;
    kc_store_t *s = NULL;
    assert_int_equal(kc_store_open(&s, d->store, NULL), 0);
    assert_int_equal(kc_store_map_size(s), KC_STORE_DEFAULT_MAPSIZE);
    kc_store_close(&s);
}

static void test_snapshot_isolation(void **state)
{
    kc_test_dir_t *d = *state;
    kc_store_t *s = NULL;
    assert_int_equal(kc_store_open(&s, d->store, NULL), 0);
    group_t g = {.producer = "prov-79", .seq = 1, .amount = 10};
    assert_int_equal(kc_store_write(s, s_group_fn, &g), 0);

    kc_txn_t *old = NULL, *fresh = NULL;
    assert_int_equal(kc_store_read_begin(s, &old), 0);
    /* the writer is not blocked by the open reader */
    g.seq = 2;
    g.amount = 20;
    assert_int_equal(kc_store_write(s, s_group_fn, &g), 0);

    uint64_t size;
    kc_log_entry_t e;
    kc_cell_t c;
    kc_cell_key_t k = {2021, 5, 79, 7, 1, 1};
    kc_producer_state_t st;
    assert_int_equal(kc_txn_log_size(old, &size), 0);
    assert_int_equal(size, 1);
    assert_int_equal(kc_txn_log_get(old, 1, &e), KC_ENOTFOUND);
    assert_int_equal(kc_txn_totals_get(old, &k, &c), 0);
    assert_int_equal(c.m[KC_M_AMOUNT_VND], 10);
    assert_int_equal(c.events, 1);
    assert_int_equal(kc_txn_producer_get(old, "prov-79", &st), 0);
    assert_int_equal(st.hwm, 1);

    assert_int_equal(kc_store_read_begin(s, &fresh), 0);
    assert_int_equal(kc_txn_log_size(fresh, &size), 0);
    assert_int_equal(size, 2);
    assert_int_equal(kc_txn_log_get(fresh, 1, &e), 0);
    assert_int_equal(e.seq, 2);
    assert_int_equal(kc_txn_totals_get(fresh, &k, &c), 0);
    assert_int_equal(c.m[KC_M_AMOUNT_VND], 30);
    assert_int_equal(c.events, 2);
    kc_txn_end(&fresh);

    /* the old snapshot is stable until it ends */
    assert_int_equal(kc_txn_log_size(old, &size), 0);
    assert_int_equal(size, 1);
    kc_txn_end(&old);
    kc_store_close(&s);
}

/* Write meta "format" = value with raw LMDB. */
static void s_raw_set_format(const char *dir, const char *value)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, dir, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
    MDB_val k = {6, "format"}, v = {strlen(value), (void *)value};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
}

static void test_format_mismatch(void **state)
{
    kc_test_dir_t *d = *state;
    kc_store_t *s = NULL;
    assert_int_equal(kc_store_open(&s, d->store, NULL), 0);
    group_t g = {.producer = "prov-79", .seq = 1, .amount = 10};
    assert_int_equal(kc_store_write(s, s_group_fn, &g), 0);
    kc_store_close(&s);

    s_raw_set_format(d->store, "5");
    kc_test_log_t log;
    kc_test_log_capture(&log);
    assert_int_equal(kc_store_open(&s, d->store, NULL), KC_EFORMAT);
    assert_null(s);
    assert_non_null(strstr(log.text, "written by a newer kcpipe (format 5 > 4)"));
    log.text[0] = '\0';
    kc_store_opts_t ro = {.read_only = true};
    assert_int_equal(kc_store_open(&s, d->store, &ro), KC_EFORMAT);
    assert_null(s);
    assert_non_null(strstr(log.text, "format 5 > 4"));
    /* an older format: refused with what to do, unless allow_old_format (kc-admin) */
    s_raw_set_format(d->store, "2");
    log.text[0] = '\0';
    assert_int_equal(kc_store_open(&s, d->store, NULL), KC_EFORMAT);
    assert_non_null(strstr(log.text, "has format 2; this kcpipe needs 4"));
    assert_non_null(strstr(log.text, "kc-admin migrate --store"));
    kc_test_log_release();
    kc_store_opts_t old = {.read_only = true, .allow_old_format = true};
    assert_int_equal(kc_store_open(&s, d->store, &old), 0);
    assert_int_equal(kc_store_format(s), 2);
    kc_store_close(&s);

    /* back to "4": the store opens and its data is intact */
    s_raw_set_format(d->store, "4");
    assert_int_equal(kc_store_open(&s, d->store, NULL), 0);
    s_check_state(s, 1, 10);
    kc_store_close(&s);
}

static void test_foreign_lmdb_untouched(void **state)
{
    kc_test_dir_t *d = *state;
    /* an LMDB environment that is not a kcpipe store */
    assert_int_equal(mkdir(d->store, 0700), 0);
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, d->store, 0, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "other", MDB_CREATE, &dbi), 0);
    MDB_val k = {1, "k"}, v = {1, "v"};
    assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
    assert_int_equal(mdb_txn_commit(txn), 0);
    mdb_env_close(env);

    kc_store_t *s = NULL;
    kc_test_log_t log;
    kc_test_log_capture(&log);
    assert_int_equal(kc_store_open(&s, d->store, NULL), KC_EFORMAT);
    assert_non_null(strstr(log.text, "not a kcpipe store"));
    kc_test_log_release();

    /* nothing was created in it */
    assert_int_equal(mdb_env_create(&env), 0);
    assert_int_equal(mdb_env_set_maxdbs(env, 8), 0);
    assert_int_equal(mdb_env_open(env, d->store, MDB_RDONLY, 0600), 0);
    assert_int_equal(mdb_txn_begin(env, NULL, MDB_RDONLY, &txn), 0);
    assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), MDB_NOTFOUND);
    assert_int_equal(mdb_dbi_open(txn, "log", 0, &dbi), MDB_NOTFOUND);
    mdb_txn_abort(txn);
    mdb_env_close(env);
}

static void test_read_only_missing(void **state)
{
    kc_test_dir_t *d = *state;
    kc_store_t *s = (kc_store_t *)d; /* must be reset to NULL */
    kc_store_opts_t ro = {.read_only = true};
    struct stat st;

    /* no directory at all: not found, and nothing created */
    assert_int_equal(kc_store_open(&s, d->store, &ro), KC_ENOTFOUND);
    assert_null(s);
    assert_int_equal(stat(d->store, &st), -1);
    assert_int_equal(errno, ENOENT);

    /* an empty directory: not found, still empty */
    assert_int_equal(mkdir(d->store, 0700), 0);
    assert_int_equal(kc_store_open(&s, d->store, &ro), KC_ENOTFOUND);
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/data.mdb", d->store);
    assert_int_equal(stat(path, &st), -1);
    snprintf(path, sizeof path, "%s/lock.mdb", d->store);
    assert_int_equal(stat(path, &st), -1);

    /* bad arguments */
    assert_int_equal(kc_store_open(&s, "", NULL), KC_EINVAL);
    assert_int_equal(kc_store_open(&s, NULL, NULL), KC_EINVAL);
    assert_int_equal(kc_store_open(NULL, d->store, NULL), KC_EINVAL);
}

typedef struct {
    int pid;
    unsigned in_txn, stale;
} s_slots_t;

static int s_count_slots(const kc_store_reader_t *r, void *ctx)
{
    s_slots_t *c = ctx;
    if (r->pid == c->pid) {
        c->in_txn += r->in_txn;
        c->stale += r->stale;
    }
    return 0;
}

/* A child that opens the store and holds a read transaction, SIGKILLed in it,
 * leaves its reader slot behind: kc_store_reader_check clears it, once. */
static void test_reader_check_dead_child(void **state)
{
    kc_test_dir_t *d = *state;
    kc_store_t *s = NULL;
    assert_int_equal(kc_store_open(&s, d->store, NULL), 0);
    int dead = -1;
    assert_int_equal(kc_store_reader_check(s, &dead), 0); /* nothing to clear yet */
    assert_int_equal(dead, 0);

    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) { /* its own kc_store_t; the parent's environment is not used */
        close(fds[0]);
        kc_store_t *r = NULL;
        kc_txn_t *t = NULL;
        kc_store_opts_t ro = {.read_only = true};
        char ok = kc_store_open(&r, d->store, &ro) == 0 && kc_store_read_begin(r, &t) == 0;
        if (write(fds[1], &ok, 1) != 1 || !ok)
            _exit(1);
        for (;;)
            pause(); /* SIGKILLed inside the read transaction */
    }
    close(fds[1]);
    char ok = 0;
    assert_int_equal(read(fds[0], &ok, 1), 1);
    close(fds[0]);
    assert_true(ok);
    s_slots_t c = {.pid = (int)pid};
    assert_int_equal(kc_store_readers(s, s_count_slots, &c), 0);
    assert_int_equal(c.in_txn, 1); /* alive, holding its snapshot */
    assert_int_equal(c.stale, 0);

    assert_int_equal(kill(pid, SIGKILL), 0);
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    c = (s_slots_t){.pid = (int)pid};
    assert_int_equal(kc_store_readers(s, s_count_slots, &c), 0);
    assert_int_equal(c.stale, 1); /* the slot outlives the process */

    dead = 0;
    assert_int_equal(kc_store_reader_check(s, &dead), 0);
    assert_true(dead >= 1);
    c = (s_slots_t){.pid = (int)pid};
    assert_int_equal(kc_store_readers(s, s_count_slots, &c), 0);
    assert_int_equal(c.in_txn + c.stale, 0); /* gone from the reader table */
    dead = -1;
    assert_int_equal(kc_store_reader_check(s, &dead), 0); /* a second call clears none */
    assert_int_equal(dead, 0);
    assert_int_equal(kc_store_reader_check(s, NULL), 0);
    dead = -1;
    assert_int_equal(kc_store_reader_check(NULL, &dead), KC_EINVAL);
    assert_int_equal(dead, 0);
    kc_store_close(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_create_modes_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_default_map_size, setup, teardown),
        cmocka_unit_test_setup_teardown(test_snapshot_isolation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_mismatch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_lmdb_untouched, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reader_check_dead_child, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
