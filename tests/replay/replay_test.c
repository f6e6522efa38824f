/* replay_test.c - kc-replay and libkcreplay on a store built through kc_apply
 * (records, corrections that move cells, chains, retractions, duplicates and a
 * rejection): rebuild gives the same cells, log, root, identities and
 * producers' marks; verify is clean and then names a tampered cell; a log the
 * rules disagree with is reported at its offset; rebuild from an exported file
 * equals rebuild from the store; refusals (non-empty --to, corrupt file);
 * memory mode (kc-replay verify) equals the store replay and the live totals,
 * also across the 2025-07 merger; the Event decoder equals protobuf-c on valid
 * and mutated events. */
#include "kc_audit.h"
#include "kc_identity.h"
#include "kc_ledger.h"
#include "kc_log.h"
#include "kc_logfile.h"
#include "kc_replay.h"
#include "replay_util.h"
#include "wire_check.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <sodium.h>

typedef struct {
    char *dir; /* temp dir holding src/, new/, ... */
    char src[4200];
    kc_store_t *store;
    int entries;
} s_fx_t;

static int s_setup(void **state)
{
    s_fx_t *fx = calloc(1, sizeof *fx);
    fx->dir = t_tmpdir("replay");
    assert_non_null(fx->dir);
    snprintf(fx->src, sizeof fx->src, "%s/src", fx->dir);
    kc_store_opts_t o = {0};
    assert_int_equal(kc_store_open(&fx->store, fx->src, &o), 0);
    fx->entries = r_fixture(fx->store);
    assert_int_equal(fx->entries, R_P1_EVENTS + 2);
    *state = fx;
    return 0;
}

static int s_teardown(void **state)
{
    s_fx_t *fx = *state;
    kc_store_close(&fx->store);
    t_rmtree(fx->dir);
    free(fx->dir);
    free(fx);
    return 0;
}

/* Run kc-replay with args; stdout+stderr into out (cap); returns the exit code. */
static int s_run(char *out, size_t cap, const char *args)
{
    const char *bin = getenv("KC_BIN_DIR");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "'%s/kc-replay' %s 2>&1", bin ? bin : ".", args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = fread(out, 1, cap - 1, p);
    out[n] = '\0';
    int st = pclose(p);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

/* ---- comparing two stores ---- */

typedef struct {
    kc_txn_t *other;
    int cells;
} s_cmp_t;

static int s_cmp_cell(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx)
{
    s_cmp_t *c = ctx;
    kc_cell_t o;
    if (kc_txn_totals_get(c->other, key, &o) != 0)
        fail_msg("cell %04u-%02u %02u missing on one side", key->year, key->month, key->province);
    assert_int_equal(o.events, cell->events);
    assert_memory_equal(o.m, cell->m, sizeof o.m);
    c->cells++;
    return 0;
}

static int s_cmp_log(const kc_log_entry_t *e, void *ctx)
{
    kc_txn_t *other = ctx;
    kc_log_entry_t o;
    assert_int_equal(kc_txn_log_get(other, e->offset, &o), 0);
    assert_int_equal(o.received_ns, e->received_ns);
    assert_int_equal(o.seq, e->seq);
    assert_int_equal(o.epoch, e->epoch);
    assert_int_equal(o.producer_len, e->producer_len);
    assert_memory_equal(o.producer, e->producer, e->producer_len);
    assert_int_equal(o.event_len, e->event_len);
    assert_memory_equal(o.event, e->event, e->event_len);
    return 0;
}

static int s_cmp_ident(kc_txn_t *a, kc_txn_t *b, uint8_t unit, const char *id)
{
    kc_identity_t x, y;
    int ra = kc_txn_identity_get(a, unit, id, strlen(id), &x);
    int rb = kc_txn_identity_get(b, unit, id, strlen(id), &y);
    assert_int_equal(ra, rb);
    if (ra == 0) { /* the content hash is core's */
        if (!x.hashed)
            assert_int_equal(kc_identity_hash_txn(a, &x), 0);
        if (!y.hashed)
            assert_int_equal(kc_identity_hash_txn(b, &y), 0);
        assert_int_equal(x.offset, y.offset);
        assert_memory_equal(x.hash, y.hash, sizeof x.hash);
        assert_int_equal(x.state, y.state);
        assert_int_equal(x.op, y.op);
        assert_int_equal(x.kind, y.kind);
        assert_int_equal(x.prev_unit, y.prev_unit);
        assert_int_equal(x.next_unit, y.next_unit);
        if (x.prev_unit)
            assert_int_equal(x.prev, y.prev);
        if (x.state != KC_ID_LIVE)
            assert_int_equal(x.next, y.next);
    }
    return ra;
}

/* Every cell, every log entry, the root, the fixture's identities and the
 * producers' marks of store a (open) and the store in directory b. */
static void s_same_store(kc_store_t *a, const char *bdir, bool with_log)
{
    kc_store_t *b;
    kc_store_opts_t o = {.read_only = true};
    assert_int_equal(kc_store_open(&b, bdir, &o), 0);
    kc_txn_t *ta, *tb;
    assert_int_equal(kc_store_read_begin(a, &ta), 0);
    assert_int_equal(kc_store_read_begin(b, &tb), 0);
    s_cmp_t ab = {.other = tb}, ba = {.other = ta};
    assert_int_equal(kc_txn_totals_scan(ta, NULL, NULL, s_cmp_cell, &ab), 0);
    assert_int_equal(kc_txn_totals_scan(tb, NULL, NULL, s_cmp_cell, &ba), 0);
    assert_int_equal(ab.cells, ba.cells);
    assert_true(ab.cells > 50);
    if (with_log) {
        uint64_t na, nb;
        assert_int_equal(kc_txn_log_size(ta, &na), 0);
        assert_int_equal(kc_txn_log_size(tb, &nb), 0);
        assert_int_equal(na, nb);
        assert_int_equal(kc_txn_log_scan(ta, 0, s_cmp_log, tb), 0);
        uint8_t ra[32], rb[32];
        assert_int_equal(kc_txn_merkle_root(ta, na, ra), 0);
        assert_int_equal(kc_txn_merkle_root(tb, nb, rb), 0);
        assert_memory_equal(ra, rb, 32);
        kc_merkle_sth_t h;
        assert_int_equal(kc_txn_head_last(tb, &h), 0); /* signed by its own key */
        assert_int_equal(h.tree_size, nb);
    }
    char id[32];
    int found = 0;
    for (int i = 0; i < R_RECORDS + 100; i++) {
        const char *pfx = i < R_RECORDS        ? "E"
                          : i < R_RECORDS + 60 ? "C"
                          : i < R_RECORDS + 80 ? "C2"
                                               : "R";
        int k = i < R_RECORDS        ? i
                : i < R_RECORDS + 60 ? i - R_RECORDS
                : i < R_RECORDS + 80 ? i - R_RECORDS - 60
                                     : i - R_RECORDS - 80;
        snprintf(id, sizeof id, "%s-%d", pfx, k);
        found += s_cmp_ident(ta, tb, 79, id) == 0;
        found += s_cmp_ident(ta, tb, 74, id) == 0;
    }
    assert_int_equal(found, R_RECORDS + 100);
    const char *prods[2] = {"p1", "p2"};
    for (int i = 0; i < 2; i++) {
        kc_producer_state_t x, y;
        assert_int_equal(kc_txn_producer_get(ta, prods[i], &x), 0);
        assert_int_equal(kc_txn_producer_get(tb, prods[i], &y), 0);
        assert_int_equal(x.epoch, y.epoch);
        assert_int_equal(x.accepted, y.accepted);
        if (i == 0)
            assert_int_equal(x.hwm, y.hwm);
        else
            assert_int_equal(y.hwm, 6); /* p2's last logged seq: 6 (seq 5 was rejected) */
    }
    kc_txn_end(&ta);
    kc_txn_end(&tb);
    kc_store_close(&b);
}

/* ---- tests ---- */

static void test_rebuild_in_process_small_groups(void **state)
{
    s_fx_t *fx = *state;
    char dst_dir[4300];
    snprintf(dst_dir, sizeof dst_dir, "%s/lib", fx->dir);
    kc_store_t *dst;
    kc_store_opts_t o = {0};
    assert_int_equal(kc_store_open(&dst, dst_dir, &o), 0);
    kc_txn_t *src;
    assert_int_equal(kc_store_read_begin(fx->store, &src), 0);
    kc_replay_opts_t ro = {.copy_log = true, .group = 7}; /* many groups, a partial last one */
    kc_replay_t *r;
    assert_int_equal(kc_replay_new(&r, dst, &ro), 0);
    assert_int_equal(kc_replay_from_txn(r, src), 0);
    const kc_replay_stats_t *st = kc_replay_stats(r);
    assert_int_equal(st->entries, fx->entries);
    assert_int_equal(st->corrections, 80);
    assert_int_equal(st->retractions, 20);
    assert_int_equal(st->producers, 2);
    uint64_t cells, diffs;
    assert_int_equal(kc_replay_compare(r, src, NULL, NULL, &cells, &diffs), 0);
    assert_int_equal(diffs, 0);
    assert_int_equal(cells, st->cells);
    kc_txn_end(&src);
    kc_replay_free(&r);
    assert_int_equal(kc_store_sign_head(dst, NULL), 0);
    kc_store_close(&dst);
    s_same_store(fx->store, dst_dir, true);
}

static void test_rebuild_cli_and_refusals(void **state)
{
    s_fx_t *fx = *state;
    char out[16384], args[9000], to[4300];
    snprintf(to, sizeof to, "%s/new", fx->dir);
    snprintf(args, sizeof args, "rebuild --from '%s' --to '%s'", fx->src, to);
    int ex = s_run(out, sizeof out, args);
    if (ex != 0)
        fail_msg("rebuild exit %d: %s", ex, out);
    assert_non_null(
        strstr(out, "rebuild: 502 entries (402 records, 80 corrections, 20 retractions)"));
    assert_non_null(strstr(out, "NEW signing key"));
    assert_non_null(strstr(out, "equals the source's root"));
    s_same_store(fx->store, to, true);
    /* --to is no longer empty: refused, and left alone */
    ex = s_run(out, sizeof out, args);
    assert_int_equal(ex, 73);
    assert_non_null(strstr(out, "is not empty"));
    s_same_store(fx->store, to, true);
    /* the rebuilt store verifies with kc-replay verify and kc-audit verify */
    snprintf(args, sizeof args, "verify --store '%s'", to);
    ex = s_run(out, sizeof out, args);
    assert_int_equal(ex, 0);
    /* usage */
    assert_int_equal(s_run(out, sizeof out, "rebuild --from x"), 64);
    assert_int_equal(s_run(out, sizeof out, "frobnicate"), 64);
    assert_int_equal(s_run(out, sizeof out, "--help"), 0);
    assert_non_null(strstr(out, "Usage: kc-replay"));
    assert_int_equal(s_run(out, sizeof out, "--version"), 0);
    snprintf(args, sizeof args, "rebuild --from '%s/none' --to '%s/x'", fx->dir, fx->dir);
    assert_int_equal(s_run(out, sizeof out, args), 66);
}

typedef struct {
    kc_cell_key_t key;
} s_tamper_t;

static int s_first_cell(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx)
{
    (void)cell;
    ((s_tamper_t *)ctx)->key = *key;
    return 1;
}

static int s_tamper(kc_txn_t *t, void *ctx)
{
    s_tamper_t *tp = ctx;
    int64_t d[KC_METRIC_COUNT] = {0};
    d[KC_M_AMOUNT_VND] = 5;
    return kc_txn_totals_apply(t, &tp->key, d, 0);
}

static void test_verify_clean_then_tampered(void **state)
{
    s_fx_t *fx = *state;
    char out[16384], args[9000];
    snprintf(args, sizeof args, "verify --store '%s'", fx->src);
    int ex = s_run(out, sizeof out, args);
    if (ex != 0)
        fail_msg("verify exit %d: %s", ex, out);
    assert_non_null(strstr(out, "cells identical"));
    /* add 5 dong to the first cell behind the log's back */
    kc_txn_t *t;
    s_tamper_t tp;
    assert_int_equal(kc_store_read_begin(fx->store, &t), 0);
    assert_int_equal(kc_txn_totals_scan(t, NULL, NULL, s_first_cell, &tp), 1);
    kc_cell_t before;
    assert_int_equal(kc_txn_totals_get(t, &tp.key, &before), 0);
    kc_txn_end(&t);
    assert_int_equal(kc_store_write(fx->store, s_tamper, &tp), 0);
    ex = s_run(out, sizeof out, args);
    assert_int_equal(ex, 1);
    char want[256];
    const kc_activity_t *a = kc_ref_activity_by_id(tp.key.activity);
    snprintf(want, sizeof want,
             "differs: %04u-%02u province %02u activity %s kind %s fund %s amount_vnd: stored "
             "%lld, recomputed %lld",
             tp.key.year, tp.key.month, tp.key.province, a->code,
             tp.key.kind == 1 ? "actual" : "plan",
             tp.key.fund == 1   ? "kcqg"
             : tp.key.fund == 2 ? "kcdp"
                                : "other",
             (long long)before.m[KC_M_AMOUNT_VND] + 5, (long long)before.m[KC_M_AMOUNT_VND]);
    if (!strstr(out, want))
        fail_msg("expected '%s' in:\n%s", want, out);
    assert_non_null(strstr(out, "1 of "));
    /* a cell nobody logged */
    kc_cell_key_t k2 = {.year = 2030,
                        .month = 1,
                        .province = 79,
                        .activity = tp.key.activity,
                        .kind = 1,
                        .fund = 3};
    tp.key = k2;
    assert_int_equal(kc_store_write(fx->store, s_tamper, &tp), 0);
    ex = s_run(out, sizeof out, args);
    assert_int_equal(ex, 1);
    assert_non_null(strstr(out, "2 of "));
    assert_non_null(strstr(out, "2030-01 province 79"));
    assert_non_null(strstr(out, "no logged event touches it"));
}

/* An entry the live path could never have logged (a second copy of a record:
 * a business duplicate) makes the log inconsistent at its offset. */
static int s_append_dup(kc_txn_t *t, void *ctx)
{
    (void)ctx;
    kc_log_entry_t e;
    int rc = kc_txn_log_get(t, 3, &e);
    if (rc != 0)
        return rc;
    kc_log_entry_t copy = e;
    copy.seq = 1000;
    copy.producer = "p3";
    copy.producer_len = 2;
    uint8_t *ev = malloc(e.event_len);
    memcpy(ev, e.event, e.event_len);
    copy.event = ev;
    rc = kc_txn_log_append(t, &copy, NULL);
    free(ev);
    return rc;
}

static void test_inconsistent_log_is_reported(void **state)
{
    s_fx_t *fx = *state;
    assert_int_equal(kc_store_write(fx->store, s_append_dup, NULL), 0);
    char out[16384], args[9000], to[4300];
    snprintf(to, sizeof to, "%s/bad", fx->dir);
    snprintf(args, sizeof args, "rebuild --from '%s' --to '%s'", fx->src, to);
    int ex = s_run(out, sizeof out, args);
    assert_int_equal(ex, 1);
    char want[128];
    snprintf(want, sizeof want, "inconsistent at offset %d: a logged event replays as duplicate",
             fx->entries);
    if (!strstr(out, want))
        fail_msg("expected '%s' in:\n%s", want, out);
    assert_int_equal(access(to, F_OK), -1); /* removed again */
    snprintf(args, sizeof args, "verify --store '%s'", fx->src);
    assert_int_equal(s_run(out, sizeof out, args), 1);
    assert_non_null(strstr(out, want));
    /* in memory, on one thread and on two: the same failure at the same offset */
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(fx->store, &t), 0);
    kc_replay_failure_t first = {0};
    for (int threads = 1; threads <= 2; threads++) {
        kc_replay_opts_t mo = {.in_memory = true, .events_from = t, .threads = threads};
        kc_replay_t *m;
        assert_int_equal(kc_replay_new(&m, NULL, &mo), 0);
        assert_int_equal(kc_replay_from_txn(m, t), KC_EFORMAT);
        const kc_replay_failure_t *f = kc_replay_failure(m);
        assert_true(f->failed);
        assert_int_equal(f->offset, (uint64_t)fx->entries);
        if (threads == 1)
            first = *f; /* memory mode names a repeated identity event_id_conflict */
        else
            assert_memory_equal(f, &first, sizeof first);
        kc_replay_free(&m);
    }
    kc_txn_end(&t);
}

static void test_rebuild_from_file(void **state)
{
    s_fx_t *fx = *state;
    char file[4300], to[4300], out[16384], args[9000];
    snprintf(file, sizeof file, "%s/log.kclog", fx->dir);
    snprintf(to, sizeof to, "%s/fromfile", fx->dir);
    assert_int_equal(kc_store_sign_head(fx->store, NULL), 0);
    assert_int_equal(kc_logfile_export(fx->store, file, 0, NULL, NULL), 0);
    snprintf(args, sizeof args, "rebuild --from '%s' --to '%s'", file, to);
    int ex = s_run(out, sizeof out, args);
    if (ex != 0)
        fail_msg("rebuild from file exit %d: %s", ex, out);
    assert_non_null(strstr(out, "verified: 502 records"));
    s_same_store(fx->store, to, true);
    /* a flipped byte in the middle of the file: refused, nothing left behind */
    FILE *f = fopen(file, "r+b");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long size = ftell(f);
    assert_int_equal(fseek(f, size / 2, SEEK_SET), 0);
    int c = fgetc(f);
    assert_int_equal(fseek(f, size / 2, SEEK_SET), 0);
    fputc(c ^ 0x40, f);
    fclose(f);
    snprintf(to, sizeof to, "%s/fromfile2", fx->dir);
    snprintf(args, sizeof args, "rebuild --from '%s' --to '%s'", file, to);
    ex = s_run(out, sizeof out, args);
    assert_int_equal(ex, 1);
    assert_non_null(strstr(out, "does not verify"));
    assert_int_equal(access(to, F_OK), -1);
}

static void s_quiet(kc_log_level_t level, const char *line, void *ctx)
{
    (void)level;
    (void)line;
    (void)ctx;
}

/* ---- memory mode = store replay = live totals ---- */

/* Memory mode and the store replay (kc_ledger_effect + kc_ledger_apply) of
 * snapshot t give the same cells as t's totals, cell by cell, and the same
 * counts. */
static void s_both_paths_agree(kc_txn_t *t, const char *scratch_dir)
{
    kc_replay_opts_t mo = {.in_memory = true, .events_from = t, .threads = 1};
    kc_replay_t *m;
    assert_int_equal(kc_replay_new(&m, NULL, &mo), 0);
    assert_int_equal(kc_replay_from_txn(m, t), 0);
    /* the same on two threads (scan + phase 1 beside phase 2): every cell and count */
    kc_replay_opts_t po = {.in_memory = true, .events_from = t, .threads = 2};
    kc_replay_t *pm;
    assert_int_equal(kc_replay_new(&pm, NULL, &po), 0);
    assert_int_equal(kc_replay_from_txn(pm, t), 0);
    uint64_t pcells = 0, pdiffs = 1;
    assert_int_equal(kc_replay_compare(pm, t, NULL, NULL, &pcells, &pdiffs), 0);
    assert_int_equal(pdiffs, 0);
    assert_memory_equal(kc_replay_stats(pm), kc_replay_stats(m), sizeof(kc_replay_stats_t));
    kc_replay_free(&pm);
    kc_store_t *scratch;
    kc_store_opts_t so = {0};
    assert_int_equal(kc_store_open(&scratch, scratch_dir, &so), 0);
    kc_replay_opts_t ro = {.copy_log = true, .events_from = t, .group = 97};
    kc_replay_t *r;
    assert_int_equal(kc_replay_new(&r, scratch, &ro), 0);
    assert_int_equal(kc_replay_from_txn(r, t), 0);
    uint64_t cells = 0, diffs = 1, cells2 = 0, diffs2 = 1;
    assert_int_equal(kc_replay_compare(m, t, NULL, NULL, &cells, &diffs), 0);
    assert_int_equal(diffs, 0);
    assert_int_equal(kc_replay_compare(r, t, NULL, NULL, &cells2, &diffs2), 0);
    assert_int_equal(diffs2, 0);
    assert_int_equal(cells, cells2);
    assert_true(cells > 20);
    const kc_replay_stats_t *a = kc_replay_stats(m), *b = kc_replay_stats(r);
    assert_int_equal(a->entries, b->entries);
    assert_int_equal(a->records, b->records);
    assert_int_equal(a->corrections, b->corrections);
    assert_int_equal(a->retractions, b->retractions);
    assert_int_equal(a->identities, b->identities);
    assert_int_equal(a->cells, b->cells);
    assert_int_equal(a->producers, b->producers);
    assert_true(a->corrections > 0 && a->retractions > 0);
    kc_replay_free(&m);
    kc_replay_free(&r);
    kc_store_close(&scratch);
}

static void test_memory_mode_matches_store_replay(void **state)
{
    s_fx_t *fx = *state;
    char dir[4300];
    snprintf(dir, sizeof dir, "%s/scratch", fx->dir);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(fx->store, &t), 0);
    s_both_paths_agree(t, dir);
    kc_txn_end(&t);
}

/* A log written through kc_ledger directly: 2025 on both sides of the
 * 2025-07 merger, corrections that move an event across it (unit key
 * changes), corrections without kind, chains, retractions with and without
 * period. */
typedef struct {
    char id[24];
    int code, year, month, kind, act;
    bool live;
} s_gv_t;

#define S_GN 3000

typedef struct {
    s_gv_t v[S_GN];
    int codes[8], ncodes;
    kc_ledger_effect_t eff;
    uint64_t rng;
} s_gen_t;

static uint64_t s_grand(s_gen_t *g)
{
    g->rng ^= g->rng << 13;
    g->rng ^= g->rng >> 7;
    g->rng ^= g->rng << 17;
    return g->rng;
}

static int s_gen_log(kc_txn_t *txn, void *ctx)
{
    s_gen_t *g = ctx;
    kc_ledger_source_t src = kc_ledger_source_txn(txn);
    size_t nact = kc_ref_activity_count();
    for (int n = 0; n < S_GN; n++) {
        uint64_t x = s_grand(g);
        s_gv_t *v = &g->v[n];
        kc_pb_event_t ev;
        Kcpipe__V1__Metrics m;
        kcpipe__v1__event__init(&ev);
        kcpipe__v1__metrics__init(&m);
        char code[3], corr[24];
        int what = 0, tgt = -1;
        if (n > 50 && x % 10 < 3) {
            tgt = (int)(s_grand(g) % (uint64_t)n);
            if (g->v[tgt].live)
                what = x % 10 < 2 ? 1 : 2;
        }
        if (what) {
            *v = g->v[tgt];
            g->v[tgt].live = false;
            snprintf(corr, sizeof corr, "%s", g->v[tgt].id);
            ev.corrects = corr;
            ev.has_op = 1;
            ev.op = what == 1 ? KCPIPE__V1__OP__OP_CORRECTION : KCPIPE__V1__OP__OP_RETRACTION;
        } else {
            v->code = g->codes[x % (uint64_t)g->ncodes];
            v->year = 2025;
            v->month = (int)(1 + (x >> 8) % 12);
            v->kind = (x >> 16) % 3 == 0 ? 2 : 1;
            v->act = (int)((x >> 20) % nact);
        }
        snprintf(v->id, sizeof v->id, "%c-%d", "ECR"[what], n);
        v->live = what != 2;
        if (what == 1 && (x >> 24) % 2 == 0)
            v->month = v->month <= 6 ? v->month + 6 : v->month - 6; /* across the merger */
        snprintf(code, sizeof code, "%02d", v->code);
        ev.event_id = v->id;
        ev.province = code;
        bool period = what != 2 || (x >> 28) % 2 == 0;
        if (period) {
            ev.has_year = ev.has_month = 1;
            ev.year = (uint32_t)v->year;
            ev.month = (uint32_t)v->month;
        }
        if (what != 2) {
            const kc_activity_t *a = kc_ref_activity_at((size_t)v->act);
            ev.activity = (char *)a->code;
            if (what == 0 || (x >> 32) % 2 == 0) { /* a correction may leave kind out */
                ev.has_kind = 1;
                ev.kind = (Kcpipe__V1__Kind)v->kind;
            }
            ev.has_fund = 1;
            ev.fund = (Kcpipe__V1__Fund)(1 + (x >> 36) % 3);
            ev.metrics = &m;
            uint64_t y = s_grand(g);
            for (int i = 0; i < KC_METRIC_COUNT; i++)
                if ((a->metric_mask & (1u << i)) && i != KC_M_PERSONS_EMPLOYED)
                    kc_pb_metric_set(&m, i, (int64_t)((y >> (i * 3)) % 100000));
        }
        uint8_t buf[1024];
        size_t len = kcpipe__v1__event__pack(&ev, buf);
        int rc = kc_ledger_effect(&src, &ev, (uint64_t)n, &g->eff);
        if (rc != 0)
            return rc;
        if (g->eff.reason != KCPIPE__V1__REASON__REASON_OK) {
            fprintf(stderr, "generator: event %d: %s %s\n", n, kc_reason_name(g->eff.reason),
                    g->eff.text);
            return KC_EINVAL;
        }
        if ((rc = kc_ledger_apply(txn, &g->eff)) != 0)
            return rc;
        kc_log_entry_t e = {.received_ns = 1000 + (uint64_t)n,
                            .epoch = 1,
                            .seq = (uint64_t)n + 1,
                            .producer = "gen",
                            .producer_len = 3,
                            .event = buf,
                            .event_len = len};
        if ((rc = kc_txn_log_append(txn, &e, NULL)) != 0)
            return rc;
    }
    return 0;
}

static void test_memory_mode_across_the_merger(void **state)
{
    s_fx_t *fx = *state;
    char dir[4300], scratch[4300];
    snprintf(dir, sizeof dir, "%s/gen", fx->dir);
    snprintf(scratch, sizeof scratch, "%s/gen-scratch", fx->dir);
    s_gen_t *g = calloc(1, sizeof *g);
    g->rng = 0x1234567;
    for (int c = 1; c < 100 && g->ncodes < 8; c++)
        if (kc_ref_province(63, c) && kc_ref_province(34, c))
            g->codes[g->ncodes++] = c;
    assert_true(g->ncodes >= 2);
    kc_store_t *s;
    kc_store_opts_t o = {0};
    assert_int_equal(kc_store_open(&s, dir, &o), 0);
    g->rng = g->rng ? g->rng : 1;
    int rc = kc_store_write(s, s_gen_log, g);
    assert_int_equal(rc, 0);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    s_both_paths_agree(t, scratch);
    kc_txn_end(&t);
    kc_store_close(&s);
    free(g);
}

/* ---- the decoder gives protobuf-c's result, or protobuf-c's failure ---- */

static void test_decoder_matches_protobuf_c(void **state)
{
    (void)state;
    kc_wire_decoder_t *d;
    assert_int_equal(kc_wire_decoder_new(&d), 0);
    uint8_t seeds[6][T_WIRE_SEED_MAX];
    size_t slen[6];
    for (int k = 0; k < 6; k++) {
        t_event_t e;
        char id[32], corr[32];
        r_event(&e, "p1", (uint64_t)(k + 1), k < 3 ? k * 5 : R_RECORDS + (k - 3) * 35, id, corr);
        if (e.ev.metrics)
            e.ev.metrics = &e.m;
        if (k == 1)
            e.ev.note = "a note, plain ASCII";
        if (k == 2) {
            e.ev.metrics->has_persons_employed = 1;
            e.ev.metrics->persons_employed = -5; /* 10-byte varint */
        }
        slen[k] = kcpipe__v1__event__pack(&e.ev, seeds[k]);
        t_wire_same(d, seeds[k], slen[k]);
    }
    uint64_t fast0 = 0;
    kc_wire_decoder_counts(d, &fast0, NULL);
    assert_int_equal(fast0, 6); /* the plain form is walked */
    uint64_t x = 88172645463325252ull;
    uint8_t b[T_WIRE_MUT_MAX];
    for (int it = 0; it < 60000; it++) {
        size_t n = t_wire_mutate(&x, (const uint8_t(*)[T_WIRE_SEED_MAX])seeds, slen, 6, b);
        t_wire_same(d, b, n);
    }
    uint64_t fast = 0, slow = 0;
    kc_wire_decoder_counts(d, &fast, &slow);
    assert_true(fast > 1000 && slow > 1000); /* both paths were exercised */
    kc_wire_decoder_free(&d);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    kc_log_set_sink(s_quiet, NULL); /* the fixture's rejections are logged */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_rebuild_in_process_small_groups, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_rebuild_cli_and_refusals, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_verify_clean_then_tampered, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_inconsistent_log_is_reported, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_memory_mode_matches_store_replay, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_memory_mode_across_the_merger, s_setup, s_teardown),
        cmocka_unit_test(test_decoder_matches_protobuf_c),
        cmocka_unit_test_setup_teardown(test_rebuild_from_file, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
