/* fmt4_test.c - store format 4: identity layout 3 (compact value, content
 * hash recomputed from the log) in one database per unit, log record layout
 * 2 (producer index) beside layout-1 records. */
#include "kc_err.h"
#include "kc_event.h"
#include "kc_identity.h"
#include "kc_store.h"
#include "kc_store_int.h"
#include "store_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

typedef kc_test_store_t fixture_t;

/* One version to log: its event and the identity the ledger would write. */
typedef struct {
    const char *event_id;
    const char *province;
    uint32_t year, month;
    int op, kind;
    const char *corrects;
    int64_t amount;
    uint8_t unit;
    kc_identity_t id; /* offset, hash set by s_log_version; links by the test */
} s_ver_t;

/* The content hash kc_ledger gives the version (kind of a correction =
 * id.kind; a retraction without period takes target's). */
static void s_hash(const uint8_t *buf, size_t n, const s_ver_t *v, const s_ver_t *target,
                   uint8_t out[16])
{
    Kcpipe__V1__Event *ev = kcpipe__v1__event__unpack(NULL, n, buf);
    assert_non_null(ev);
    kc_event_view_t view;
    char text[160];
    assert_int_equal(kc_event_check(ev, &view, text, sizeof text), 0);
    if (v->op == 1 && v->id.kind)
        view.kind = v->id.kind;
    if (v->op == 2 && !view.year) {
        assert_non_null(target);
        view.year = (uint16_t)target->year;
        view.month = (uint8_t)target->month;
    }
    kc_event_content_hash(ev, &view, out);
    kcpipe__v1__event__free_unpacked(ev, NULL);
}

typedef struct {
    s_ver_t *v;
    size_t n;
    bool ident_first; /* put identities before the log append (as kc_apply does) */
    const char *producer;
    uint64_t epoch;
} s_batch_t;

static int s_log_fn(kc_txn_t *t, void *ctx)
{
    s_batch_t *b = ctx;
    for (size_t i = 0; i < b->n; i++) {
        s_ver_t *v = &b->v[i];
        uint8_t buf[512];
        size_t n = kc_test_event(buf, sizeof buf, v->event_id, v->province, v->year, v->month,
                                 v->op, v->corrects, v->kind, v->amount);
        uint64_t size;
        int rc = kc_txn_log_size(t, &size);
        if (rc)
            return rc;
        v->id.offset = size;
        const s_ver_t *target = NULL;
        for (size_t j = 0; v->corrects && j < i; j++)
            if (strcmp(b->v[j].event_id, v->corrects) == 0)
                target = &b->v[j];
        s_hash(buf, n, v, target, v->id.hash);
        if (b->ident_first &&
            (rc = kc_txn_identity_put(t, v->unit, v->event_id, strlen(v->event_id), &v->id)))
            return rc;
        if (b->ident_first) { /* readable before its log entry exists (pending) */
            kc_identity_t got;
            if ((rc = kc_txn_identity_get(t, v->unit, v->event_id, strlen(v->event_id), &got)))
                return rc;
            if (!got.hashed) /* the put's hash is kept until the append */
                return KC_EFORMAT;
            if (got.offset != v->id.offset || memcmp(got.hash, v->id.hash, 16) != 0)
                return KC_EFORMAT;
        }
        kc_log_entry_t e = {.received_ns = 1700000000000000000ull + i,
                            .epoch = b->epoch,
                            .seq = i + 1,
                            .producer = b->producer ? b->producer : "prov-79",
                            .producer_len = strlen(b->producer ? b->producer : "prov-79"),
                            .event = buf,
                            .event_len = n};
        uint64_t at;
        if ((rc = kc_txn_log_append(t, &e, &at)))
            return rc;
        if (at != v->id.offset)
            return KC_EFORMAT;
        if (!b->ident_first &&
            (rc = kc_txn_identity_put(t, v->unit, v->event_id, strlen(v->event_id), &v->id)))
            return rc;
    }
    return 0;
}

typedef struct {
    s_ver_t *v;
    size_t n;
} s_ids_t;

static int s_put_fn(kc_txn_t *t, void *ctx)
{
    s_ids_t *x = ctx;
    for (size_t i = 0; i < x->n; i++) {
        int rc = kc_txn_identity_put(t, x->v[i].unit, x->v[i].event_id, strlen(x->v[i].event_id),
                                     &x->v[i].id);
        if (rc)
            return rc;
    }
    return 0;
}

static void s_expect(kc_txn_t *t, const s_ver_t *v)
{
    kc_identity_t got;
    assert_int_equal(kc_txn_identity_get(t, v->unit, v->event_id, strlen(v->event_id), &got), 0);
    if (!got.hashed) /* the content hash is core's */
        assert_int_equal(kc_identity_hash_txn(t, &got), 0);
    assert_int_equal(got.offset, v->id.offset);
    assert_memory_equal(got.hash, v->id.hash, 16);
    assert_int_equal(got.state, v->id.state);
    assert_int_equal(got.op, v->id.op);
    assert_int_equal(got.kind, v->id.kind);
    assert_int_equal(got.prev_unit, v->id.prev_unit);
    assert_int_equal(got.prev, v->id.prev_unit ? v->id.prev : 0);
    assert_int_equal(got.next_unit, v->id.state != KC_ID_LIVE ? v->id.next_unit : 0);
    assert_int_equal(got.next, v->id.state != KC_ID_LIVE ? v->id.next : 0);
}

/* Every combination of state, op, kind and link presence, with link values
 * across the varint range; the hash comes back recomputed from the log. */
static void test_identity_round_trip(void **state)
{
    fixture_t *f = *state;
    enum { N = 3 * 3 * 3 * 2 };
    static s_ver_t v[N];
    static char ids[N][32];
    const uint64_t links[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX, UINT64_MAX};
    size_t n = 0;
    for (int op = 0; op < 3; op++)
        for (int st = 0; st < 3; st++)
            for (int kind = 0; kind < 3; kind++)
                for (int prev = 0; prev < 2; prev++) {
                    s_ver_t *x = &v[n];
                    snprintf(ids[n], sizeof ids[n], "RT-%d%d%d%d", op, st, kind, prev);
                    /* logged as plain records (the hash of a record is its view's);
                     * the identity's fields are what is under test */
                    *x = (s_ver_t){.event_id = ids[n],
                                   .province = "79",
                                   .year = 2021,
                                   .month = 1 + (uint32_t)(n % 12),
                                   .kind = kind,
                                   .amount = 5,
                                   .unit = kc_ref_unit_key(79, 202101)};
                    n++;
                }
    s_batch_t b = {v, n, false, NULL, 1};
    assert_int_equal(kc_store_write(f->s, s_log_fn, &b), 0);
    n = 0;
    for (int op = 0; op < 3; op++)
        for (int st = 0; st < 3; st++)
            for (int kind = 0; kind < 3; kind++)
                for (int prev = 0; prev < 2; prev++) {
                    kc_identity_t *id = &v[n].id;
                    id->op = 0; /* the log holds records: op stays 0 for the hash */
                    id->state = (uint8_t)st;
                    id->kind = (uint8_t)kind;
                    id->prev_unit = prev ? (uint8_t)(1 + n % 199) : 0;
                    id->prev = prev ? links[n % 8] : 0;
                    id->next_unit = st ? (uint8_t)(199 - n % 199) : 0;
                    id->next = st ? links[(n + 3) % 8] : 0;
                    (void)op;
                    n++;
                }
    s_ids_t x = {v, n};
    assert_int_equal(kc_store_write(f->s, s_put_fn, &x), 0);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    for (size_t i = 0; i < n; i++)
        s_expect(t, &v[i]);
    kc_identity_t none;
    assert_int_equal(kc_txn_identity_get(t, kc_ref_unit_key(79, 202101), "RT-9999", 7, &none),
                     KC_ENOTFOUND);
    kc_txn_end(&t);
}

/* A record, its correction without kind, a correction of that, and a
 * retraction without period: get and history as kc_ledger left them, hashes
 * recomputed (a correction's kind from the identity, the retraction's
 * period from its target). */
static s_ver_t s_chain[4];

static void s_chain_make(fixture_t *f, bool ident_first)
{
    uint8_t u = kc_ref_unit_key(79, 202103);
    s_ver_t *v = s_chain;
    v[0] = (s_ver_t){.event_id = "C-1",
                     .province = "79",
                     .year = 2021,
                     .month = 3,
                     .kind = 2,
                     .amount = 100,
                     .unit = u};
    v[1] = (s_ver_t){.event_id = "C-2",
                     .province = "79",
                     .year = 2021,
                     .month = 3,
                     .op = 1,
                     .corrects = "C-1",
                     .amount = 120,
                     .unit = u};
    v[2] = (s_ver_t){.event_id = "C-3",
                     .province = "79",
                     .year = 2021,
                     .month = 3,
                     .op = 1,
                     .kind = 2,
                     .corrects = "C-2",
                     .amount = 130,
                     .unit = u};
    v[3] = (s_ver_t){.event_id = "C-4", .province = "79", .op = 2, .corrects = "C-3", .unit = u};
    v[0].id.kind = 2;
    v[1].id.kind = 2; /* inherited: the event has none */
    v[2].id.kind = 2;
    v[3].id.kind = 2;
    for (int i = 1; i < 4; i++) {
        v[i].id.op = (uint8_t)v[i].op;
        v[i].id.prev_unit = u;
    }
    /* links need the offsets: log first (offsets 0..3), then the links */
    s_batch_t b = {v, 4, ident_first, "prov-79", 9};
    assert_int_equal(kc_store_write(f->s, s_log_fn, &b), 0);
    for (int i = 1; i < 4; i++)
        v[i].id.prev = v[i - 1].id.offset;
    for (int i = 0; i < 3; i++) {
        v[i].id.state = i == 2 ? KC_ID_RETRACTED : KC_ID_SUPERSEDED;
        v[i].id.next_unit = u;
        v[i].id.next = v[i + 1].id.offset;
    }
    s_ids_t x = {v, 4};
    assert_int_equal(kc_store_write(f->s, s_put_fn, &x), 0);
}

typedef struct {
    int n;
    uint64_t offsets[8];
} s_hist_t;

static int s_on_version(const kc_version_t *v, void *ctx)
{
    s_hist_t *h = ctx;
    h->offsets[h->n++] = v->offset;
    return 0;
}

static void s_chain_check(fixture_t *f)
{
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    for (int i = 0; i < 4; i++)
        s_expect(t, &s_chain[i]);
    for (int i = 0; i < 4; i++) {
        s_hist_t h = {0};
        assert_int_equal(kc_txn_history(t, s_chain[i].unit, s_chain[i].event_id,
                                        strlen(s_chain[i].event_id), s_on_version, &h),
                         0);
        assert_int_equal(h.n, 4);
        for (int j = 0; j < 4; j++)
            assert_int_equal(h.offsets[j], s_chain[j].id.offset);
    }
    kc_txn_end(&t);
}

static void test_identity_chain(void **state)
{
    s_chain_make(*state, false);
    s_chain_check(*state);
}

/* The same with each identity put ahead of its log append, in the txn that
 * appends it (kc_apply's order): readable from the txn's pending list before
 * the append, from the log after. */
static void test_identity_chain_pending(void **state)
{
    fixture_t *f = *state;
    s_chain_make(f, true);
    s_chain_check(f);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    kc_store_stat_t ss;
    assert_int_equal(kc_txn_stat(t, &ss), 0);
    assert_int_equal(ss.identities, 4);
    kc_identity_t none;
    assert_int_equal(kc_txn_identity_get(t, s_chain[0].unit, "C-5", 3, &none), KC_ENOTFOUND);
    assert_int_equal(kc_txn_identity_get(t, s_chain[0].unit, "C-", 2, &none), KC_ENOTFOUND);
    /* another unit: its own key space */
    assert_int_equal(kc_txn_identity_get(t, kc_ref_unit_key(1, 202103), "C-1", 3, &none),
                     KC_ENOTFOUND);
    kc_txn_end(&t);
}

/* Many identities over several groups and two units, half put ahead of
 * their appends, then updated in place: every one read back exactly. */
static void test_identity_many(void **state)
{
    fixture_t *f = *state;
    enum { N = 300 };
    static s_ver_t v[N];
    static char ids[N][16];
    for (int i = 0; i < N; i++) {
        snprintf(ids[i], sizeof ids[i], "M-%d", i);
        v[i] = (s_ver_t){.event_id = ids[i],
                         .province = i % 2 ? "79" : "01",
                         .year = 2022,
                         .month = 1 + (uint32_t)(i % 12),
                         .amount = i,
                         .unit = kc_ref_unit_key(i % 2 ? 79 : 1, 202201)};
    }
    for (int g = 0; g < N; g += 100) {
        s_batch_t b = {v + g, 100, g % 200 == 0, "prov-x", (uint64_t)g};
        assert_int_equal(kc_store_write(f->s, s_log_fn, &b), 0);
    }
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    for (int i = 0; i < N; i++)
        s_expect(t, &v[i]);
    kc_txn_end(&t);
    for (int i = 0; i < N; i += 7) {
        v[i].id.state = KC_ID_SUPERSEDED;
        v[i].id.next_unit = v[i].unit;
        v[i].id.next = 1000000 + (uint64_t)i;
    }
    s_ids_t x = {v, N};
    assert_int_equal(kc_store_write(f->s, s_put_fn, &x), 0);
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    for (int i = 0; i < N; i++)
        s_expect(t, &v[i]);
    kc_store_stat_t ss;
    assert_int_equal(kc_txn_stat(t, &ss), 0);
    assert_int_equal(ss.identities, N);
    kc_txn_end(&t);
}

/* The store holds no ledger rules: a read says whether it knows the hash
 * (hashed: a migrated record that kept its stored one) and core computes it
 * from the log otherwise; an Event that no longer passes the rules (here: an
 * identity whose op is not its Event's) reads back, and only the hash fails. */
static int s_hashed_fn(kc_txn_t *t, void *ctx)
{
    s_ver_t *v = ctx;
    for (int i = 0; i < 2; i++) {
        uint8_t buf[512];
        size_t n = kc_test_event(buf, sizeof buf, v[i].event_id, v[i].province, v[i].year,
                                 v[i].month, 0, NULL, 0, v[i].amount);
        kc_log_entry_t e = {.received_ns = 1700000000000000000ull,
                            .seq = (uint64_t)i + 1,
                            .producer = "prov-79",
                            .producer_len = 7,
                            .event = buf,
                            .event_len = n};
        int rc = kc_txn_log_append(t, &e, &v[i].id.offset);
        if (rc)
            return rc;
        if (i == 0)
            s_hash(buf, n, &v[i], NULL, v[i].id.hash); /* what core recomputes */
        kc_identity_t id = v[i].id;
        if (i == 0)
            memset(id.hash, 0x5a, sizeof id.hash); /* kept explicitly (a migrated one) */
        if ((rc = kc_store_identity_append(t, v[i].unit, v[i].event_id, strlen(v[i].event_id), &id,
                                           i == 0)))
            return rc;
    }
    return 0;
}

static void test_identity_hash_is_cores(void **state)
{
    fixture_t *f = *state;
    s_ver_t v[2] = {{.event_id = "H-1",
                     .province = "79",
                     .year = 2021,
                     .month = 2,
                     .amount = 1,
                     .unit = kc_ref_unit_key(79, 202102),
                     .id = {.kind = 1}},
                    {.event_id = "H-2",
                     .province = "79",
                     .year = 2021,
                     .month = 2,
                     .amount = 2,
                     .unit = kc_ref_unit_key(79, 202102),
                     .id = {.kind = 1, .op = 1}}}; /* logged as a record */
    assert_int_equal(kc_store_write(f->s, s_hashed_fn, v), 0);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    kc_identity_t got;
    uint8_t kept[16];
    memset(kept, 0x5a, sizeof kept);
    assert_int_equal(kc_txn_identity_get(t, v[0].unit, "H-1", 3, &got), 0);
    assert_int_equal(got.hashed, 1);
    assert_memory_equal(got.hash, kept, 16);
    assert_int_equal(kc_identity_hash_txn(t, &got), 0); /* the rules' answer differs */
    assert_memory_equal(got.hash, v[0].id.hash, 16);
    assert_int_equal(kc_txn_identity_get(t, v[1].unit, "H-2", 3, &got), 0);
    assert_int_equal(got.hashed, 0);
    assert_int_equal(got.op, 1);
    assert_int_equal(got.offset, v[1].id.offset);
    kc_test_log_t log;
    kc_test_log_capture(&log);
    assert_int_equal(kc_identity_hash_txn(t, &got), KC_EFORMAT);
    kc_test_log_release();
    assert_non_null(strstr(log.text, "no longer passes the rules"));
    assert_int_equal(got.hashed, 0);
    kc_txn_end(&t);
}

/* An identity whose offset names another event (a corrupt store) is
 * refused, never answered with that event's hash. */
static int s_wrong_fn(kc_txn_t *t, void *ctx)
{
    s_ver_t *v = ctx;
    kc_identity_t id = v[1].id; /* A-1 pointed at A-2's entry */
    return kc_txn_identity_put(t, v[0].unit, "A-1", 3, &id);
}

static void test_identity_names_other_event(void **state)
{
    fixture_t *f = *state;
    s_ver_t v[2] = {{.event_id = "A-1",
                     .province = "79",
                     .year = 2021,
                     .month = 1,
                     .amount = 1,
                     .unit = kc_ref_unit_key(79, 202101)},
                    {.event_id = "A-2",
                     .province = "79",
                     .year = 2021,
                     .month = 1,
                     .amount = 2,
                     .unit = kc_ref_unit_key(79, 202101)}};
    s_batch_t b = {v, 2, false, NULL, 1};
    assert_int_equal(kc_store_write(f->s, s_log_fn, &b), 0);
    assert_int_equal(kc_store_write(f->s, s_wrong_fn, v), 0);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    kc_identity_t got;
    kc_test_log_t log;
    kc_test_log_capture(&log);
    assert_int_equal(kc_txn_identity_get(t, v[0].unit, "A-1", 3, &got), KC_EFORMAT);
    kc_test_log_release();
    assert_non_null(strstr(log.text, "another event's"));
    assert_int_equal(got.offset, 0);
    s_expect(t, &v[1]);
    kc_txn_end(&t);
}

/* ---- one identity database per unit ("idents/NN") ---- */

/* The "idents" row of kc_txn_db_stats (every unit database together). */
static kc_store_db_stat_t s_idents_stat(kc_txn_t *t)
{
    kc_store_db_stat_t d[KC_STORE_DB_MAX];
    size_t n;
    assert_int_equal(kc_txn_db_stats(t, d, &n), 0);
    for (size_t i = 0; i < n; i++)
        if (strcmp(d[i].name, "idents") == 0) {
            assert_true(d[i].present);
            return d[i];
        }
    fail_msg("no idents row");
    return d[0];
}

static uint64_t s_identities(kc_store_t *s)
{
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    kc_store_stat_t ss;
    assert_int_equal(kc_txn_stat(t, &ss), 0);
    kc_store_db_stat_t d = s_idents_stat(t);
    assert_int_equal(d.entries, ss.identities);
    kc_txn_end(&t);
    return ss.identities;
}

/* Whether the named database exists (a raw look at the main database). */
static bool s_has_db(kc_store_t *s, const char *name)
{
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(s, &t), 0);
    MDB_val k = {strlen(name), (void *)name}, v;
    bool has = mdb_get(t->txn, s->main_dbi, &k, &v) == MDB_SUCCESS;
    kc_txn_end(&t);
    return has;
}

/* In one unit: event_ids in increasing order over several groups fill the
 * pages (appends); then ids below and between them (ordinary puts) and
 * updates of existing identities: all read back, nothing else changes. */
static void test_unit_append_and_out_of_order(void **state)
{
    fixture_t *f = *state;
    enum { N = 2000, M = 300 };
    static s_ver_t v[N + M];
    static char ids[N + M][24];
    uint8_t u = kc_ref_unit_key(79, 202104);
    for (int i = 0; i < N + M; i++) {
        if (i < N)
            snprintf(ids[i], sizeof ids[i], "HCM-2021-%06d", 2 * i + 2); /* in order */
        else if (i % 2)
            snprintf(ids[i], sizeof ids[i], "HCM-2021-%06d", 2 * (i - N) + 1); /* between */
        else
            snprintf(ids[i], sizeof ids[i], "HCM-2020-%06d", N + M - i); /* below, descending */
        v[i] = (s_ver_t){
            .event_id = ids[i], .province = "79", .year = 2021, .month = 4, .amount = i, .unit = u};
    }
    for (int g = 0; g < N; g += 250) {
        s_batch_t b = {v + g, 250, g % 500 == 0, "prov-79", 1};
        assert_int_equal(kc_store_write(f->s, s_log_fn, &b), 0);
    }
    char name[16];
    snprintf(name, sizeof name, "idents/%02x", u);
    assert_true(s_has_db(f->s, name));
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    kc_store_db_stat_t d = s_idents_stat(t);
    assert_int_equal(d.entries, N);
    /* a node: 8-byte header + 15-byte key + 3-byte value, + 2-byte pointer,
     * rounded up to even: 28 bytes; a full 4096-byte page (16-byte header)
     * takes 145. Middle splits would leave ~19 pages. */
    assert_true(d.leaf_pages <= N / 145 + 2);
    for (int i = 0; i < N; i++)
        s_expect(t, &v[i]);
    kc_txn_end(&t);

    for (int g = N; g < N + M; g += 100) {
        s_batch_t b = {v + g, 100, g % 200 == 0, "prov-79", 2};
        assert_int_equal(kc_store_write(f->s, s_log_fn, &b), 0);
    }
    for (int i = 0; i < N + M; i += 13) { /* updates: superseded, in and out of order */
        v[i].id.state = KC_ID_SUPERSEDED;
        v[i].id.next_unit = u;
        v[i].id.next = 5000000 + (uint64_t)i;
    }
    s_ids_t x = {v, N + M};
    assert_int_equal(kc_store_write(f->s, s_put_fn, &x), 0);
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    for (int i = 0; i < N + M; i++)
        s_expect(t, &v[i]);
    assert_int_equal(s_idents_stat(t).entries, N + M);
    kc_identity_t none;
    assert_int_equal(kc_txn_identity_get(t, u, "HCM-2021-999999", 15, &none), KC_ENOTFOUND);
    assert_int_equal(kc_txn_identity_get(t, u, "A", 1, &none), KC_ENOTFOUND);
    kc_txn_end(&t);
}

/* Every unit key 1..255 (and the same event_id in each): one database each,
 * read back after the writer reopens the store and from a read-only open. */
static void test_unit_many(void **state)
{
    fixture_t *f = *state;
    enum { U = 255, PER = 3 };
    static s_ver_t v[U * PER];
    static char ids[U * PER][16];
    for (int i = 0; i < U * PER; i++) {
        snprintf(ids[i], sizeof ids[i], "E-%d", i % PER);
        v[i] = (s_ver_t){.event_id = ids[i],
                         .province = "01",
                         .year = 2022,
                         .month = 5,
                         .amount = i,
                         .unit = (uint8_t)(1 + i / PER)};
    }
    s_batch_t b = {v, U * PER, false, "prov-01", 1};
    assert_int_equal(kc_store_write(f->s, s_log_fn, &b), 0);
    assert_int_equal(s_identities(f->s), U * PER);
    for (int pass = 0; pass < 2; pass++) {
        kc_store_close(&f->s);
        kc_store_opts_t o = {.read_only = pass == 1};
        assert_int_equal(kc_store_open(&f->s, f->dir.store, &o), 0);
        kc_txn_t *t;
        assert_int_equal(kc_store_read_begin(f->s, &t), 0);
        for (int i = 0; i < U * PER; i++)
            s_expect(t, &v[i]);
        kc_identity_t none;
        assert_int_equal(kc_txn_identity_get(t, 0, "E-0", 3, &none), KC_ENOTFOUND);
        kc_txn_end(&t);
        assert_int_equal(s_identities(f->s), U * PER);
    }
    kc_store_close(&f->s);
    assert_int_equal(kc_store_open(&f->s, f->dir.store, NULL), 0);
}

/* A write txn that created a unit database and was then aborted leaves no
 * database and no handle: the unit reads as empty, and the next put creates
 * it again (in a txn that commits). */
typedef struct {
    s_ver_t *v;
    int fail; /* return this after the puts (0: commit) */
} s_abort_t;

static int s_abort_fn(kc_txn_t *t, void *ctx)
{
    s_abort_t *a = ctx;
    int rc = kc_txn_identity_put(t, a->v->unit, a->v->event_id, strlen(a->v->event_id), &a->v->id);
    if (rc)
        return rc;
    kc_identity_t got; /* readable in its own txn */
    if ((rc = kc_txn_identity_get(t, a->v->unit, a->v->event_id, strlen(a->v->event_id), &got)))
        return rc;
    return a->fail;
}

static void test_unit_created_then_aborted(void **state)
{
    fixture_t *f = *state;
    s_ver_t v[2] = {{.event_id = "X-1",
                     .province = "79",
                     .year = 2021,
                     .month = 6,
                     .amount = 1,
                     .unit = kc_ref_unit_key(79, 202106)},
                    {.event_id = "X-2",
                     .province = "01",
                     .year = 2021,
                     .month = 6,
                     .amount = 2,
                     .unit = kc_ref_unit_key(1, 202106)}};
    s_batch_t b = {v, 1, false, NULL, 1};
    assert_int_equal(kc_store_write(f->s, s_log_fn, &b), 0); /* X-1 logged, unit A */
    /* X-2's identity into a new unit B (offset 0: in the log), then abort */
    v[1].id = v[0].id;
    s_ver_t w = v[1];
    w.event_id = "X-1"; /* names the logged event */
    assert_int_not_equal(w.unit, v[0].unit);
    assert_int_not_equal(w.unit, 200);
    s_abort_t a = {&w, -77};
    assert_int_equal(kc_store_write(f->s, s_abort_fn, &a), -77);
    char name[16];
    snprintf(name, sizeof name, "idents/%02x", w.unit);
    assert_false(s_has_db(f->s, name));
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    kc_identity_t got;
    assert_int_equal(kc_txn_identity_get(t, w.unit, "X-1", 3, &got), KC_ENOTFOUND);
    kc_txn_end(&t);
    assert_int_equal(s_identities(f->s), 1);
    /* units created meanwhile by a committed txn get other handles */
    s_ver_t z = v[0];
    z.unit = 200;
    a = (s_abort_t){&z, 0};
    assert_int_equal(kc_store_write(f->s, s_abort_fn, &a), 0);
    a = (s_abort_t){&w, 0};
    assert_int_equal(kc_store_write(f->s, s_abort_fn, &a), 0);
    assert_true(s_has_db(f->s, name));
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    s_expect(t, &v[0]);
    s_expect(t, &w);
    s_expect(t, &z);
    kc_txn_end(&t);
    assert_int_equal(s_identities(f->s), 3);
}

/* A read txn begun before a unit database exists keeps reading the unit as
 * empty (its snapshot), while one begun after the commit sees it; the same
 * from a read-only store when another process creates the database. */
static void test_unit_reader_before_create(void **state)
{
    fixture_t *f = *state;
    s_ver_t v[2] = {{.event_id = "R-1",
                     .province = "79",
                     .year = 2021,
                     .month = 7,
                     .amount = 1,
                     .unit = kc_ref_unit_key(79, 202107)},
                    {.event_id = "R-2",
                     .province = "01",
                     .year = 2021,
                     .month = 8,
                     .amount = 2,
                     .unit = kc_ref_unit_key(1, 202108)}};
    kc_txn_t *old, *t;
    assert_int_equal(kc_store_read_begin(f->s, &old), 0);
    s_batch_t b = {v, 1, true, NULL, 1};
    assert_int_equal(kc_store_write(f->s, s_log_fn, &b), 0);
    kc_identity_t got;
    assert_int_equal(kc_txn_identity_get(old, v[0].unit, "R-1", 3, &got), KC_ENOTFOUND);
    kc_store_stat_t ss;
    assert_int_equal(kc_txn_stat(old, &ss), 0);
    assert_int_equal(ss.identities, 0);
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    s_expect(t, &v[0]);
    kc_txn_end(&t);
    kc_txn_end(&old);

    /* another process creates unit R-2's database while this one has the
     * store open read-only */
    kc_store_close(&f->s);
    kc_store_opts_t ro = {.read_only = true};
    assert_int_equal(kc_store_open(&f->s, f->dir.store, &ro), 0);
    assert_int_equal(kc_store_read_begin(f->s, &old), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        kc_store_t *w = NULL;
        s_batch_t b2 = {v + 1, 1, false, NULL, 2};
        int rc = kc_store_open(&w, f->dir.store, NULL);
        if (rc == 0)
            rc = kc_store_write(w, s_log_fn, &b2);
        kc_store_close(&w);
        _exit(rc == 0 ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    v[1].id.offset = 1; /* what the child logged */
    {
        uint8_t buf[512];
        size_t n = kc_test_event(buf, sizeof buf, v[1].event_id, v[1].province, v[1].year,
                                 v[1].month, 0, NULL, 0, v[1].amount);
        s_hash(buf, n, &v[1], NULL, v[1].id.hash);
    }
    assert_int_equal(kc_txn_identity_get(old, v[1].unit, "R-2", 3, &got), KC_ENOTFOUND);
    assert_int_equal(kc_store_read_begin(f->s, &t), 0); /* opens the new database */
    s_expect(t, &v[0]);
    s_expect(t, &v[1]);
    assert_int_equal(kc_txn_stat(t, &ss), 0);
    assert_int_equal(ss.identities, 2);
    kc_txn_end(&t);
    assert_int_equal(kc_txn_identity_get(old, v[1].unit, "R-2", 3, &got), KC_ENOTFOUND);
    kc_txn_end(&old);
    kc_store_close(&f->s);
    assert_int_equal(kc_store_open(&f->s, f->dir.store, NULL), 0);
}

/* A chain whose correction moves the event to another month (another unit)
 * and back: get and history from every version, across the unit databases. */
static void test_unit_history_across_units(void **state)
{
    fixture_t *f = *state;
    /* June 2025 is province 79 of the 63-province scheme, July of the 34 */
    uint8_t a = kc_ref_unit_key(79, 202506), b = kc_ref_unit_key(79, 202507);
    assert_int_not_equal(a, b);
    s_ver_t v[3];
    v[0] = (s_ver_t){.event_id = "MV-1",
                     .province = "79",
                     .year = 2025,
                     .month = 6,
                     .kind = 1,
                     .amount = 10,
                     .unit = a};
    v[1] = (s_ver_t){.event_id = "MV-2",
                     .province = "79",
                     .year = 2025,
                     .month = 7,
                     .op = 1,
                     .kind = 1,
                     .corrects = "MV-1",
                     .amount = 11,
                     .unit = b};
    v[2] = (s_ver_t){.event_id = "MV-3",
                     .province = "79",
                     .year = 2025,
                     .month = 6,
                     .op = 1,
                     .kind = 1,
                     .corrects = "MV-2",
                     .amount = 12,
                     .unit = a};
    for (int i = 0; i < 3; i++) {
        v[i].id.kind = 1;
        v[i].id.op = (uint8_t)v[i].op;
    }
    s_batch_t bt = {v, 3, true, "prov-79", 3};
    assert_int_equal(kc_store_write(f->s, s_log_fn, &bt), 0);
    for (int i = 1; i < 3; i++) {
        v[i].id.prev_unit = v[i - 1].unit;
        v[i].id.prev = v[i - 1].id.offset;
    }
    for (int i = 0; i < 2; i++) {
        v[i].id.state = KC_ID_SUPERSEDED;
        v[i].id.next_unit = v[i + 1].unit;
        v[i].id.next = v[i + 1].id.offset;
    }
    s_ids_t x = {v, 3};
    assert_int_equal(kc_store_write(f->s, s_put_fn, &x), 0);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    for (int i = 0; i < 3; i++) {
        s_expect(t, &v[i]);
        s_hist_t h = {0};
        assert_int_equal(
            kc_txn_history(t, v[i].unit, v[i].event_id, strlen(v[i].event_id), s_on_version, &h),
            0);
        assert_int_equal(h.n, 3);
        for (int j = 0; j < 3; j++)
            assert_int_equal(h.offsets[j], v[j].id.offset);
    }
    kc_identity_t none; /* MV-2 is in unit b only, MV-1 in a only */
    assert_int_equal(kc_txn_identity_get(t, a, "MV-2", 4, &none), KC_ENOTFOUND);
    assert_int_equal(kc_txn_identity_get(t, b, "MV-1", 4, &none), KC_ENOTFOUND);
    kc_txn_end(&t);
}

/* ---- log records ---- */

typedef struct {
    int n;
} s_scan_t;

static int s_raw_v1_fn(kc_txn_t *t, void *ctx)
{
    (void)ctx;
    /* three layout-1 records (a migrated format-3 log), written raw */
    for (uint64_t i = 0; i < 3; i++) {
        const char *prod = i == 1 ? "old-producer-with-a-long-name" : "p";
        uint8_t v[128];
        size_t pl = strlen(prod);
        v[0] = 1;
        v[1] = (uint8_t)pl;
        kc_le64_put(v + 2, 1000 + i);
        kc_le64_put(v + 10, 10 + i);
        kc_le64_put(v + 18, 7);
        memcpy(v + 26, prod, pl);
        memcpy(v + 26 + pl, "EVT", 3);
        uint8_t kb[8];
        kc_be64_put(kb, i);
        MDB_val k = {8, kb}, val = {26 + pl + 3, v};
        int mrc = mdb_put(t->txn, t->s->dbi[KC_DB_LOG], &k, &val, MDB_APPEND);
        if (mrc)
            return KC_ESTORE;
    }
    return 0;
}

typedef struct {
    uint64_t n;
    const char *prods[40];
    uint64_t epochs[40];
} s_mix_t;

static int s_mix_fn(kc_txn_t *t, void *ctx)
{
    s_mix_t *m = ctx;
    for (uint64_t i = 0; i < m->n; i++) {
        uint8_t ev[4] = {(uint8_t)i, 1, 2, 3};
        kc_log_entry_t e = {.received_ns = UINT64_MAX - i,
                            .epoch = m->epochs[i],
                            .seq = i % 3 == 0 ? UINT64_MAX - i : i,
                            .producer = m->prods[i],
                            .producer_len = strlen(m->prods[i]),
                            .event = ev,
                            .event_len = i % 5 == 0 ? 0 : sizeof ev};
        int rc = kc_txn_log_append(t, &e, NULL);
        if (rc)
            return rc;
    }
    return 0;
}

static int s_check_fn(const kc_log_entry_t *e, void *ctx)
{
    s_mix_t *m = ctx;
    if (e->offset < 3) {
        const char *prod = e->offset == 1 ? "old-producer-with-a-long-name" : "p";
        assert_int_equal(e->received_ns, 1000 + e->offset);
        assert_int_equal(e->seq, 10 + e->offset);
        assert_int_equal(e->epoch, 7);
        assert_int_equal(e->producer_len, strlen(prod));
        assert_memory_equal(e->producer, prod, e->producer_len);
        assert_int_equal(e->event_len, 3);
        assert_memory_equal(e->event, "EVT", 3);
        return 0;
    }
    uint64_t i = e->offset - 3;
    assert_int_equal(e->received_ns, UINT64_MAX - i);
    assert_int_equal(e->epoch, m->epochs[i]);
    assert_int_equal(e->seq, i % 3 == 0 ? UINT64_MAX - i : i);
    assert_int_equal(e->producer_len, strlen(m->prods[i]));
    assert_memory_equal(e->producer, m->prods[i], e->producer_len);
    assert_int_equal(e->event_len, i % 5 == 0 ? 0 : 4);
    if (e->event_len)
        assert_int_equal(e->event[0], (uint8_t)i);
    return 0;
}

/* Layout-1 records stay readable next to layout-2 ones; producers and
 * epochs (more than the txn cache's slots, a 255-byte id) round-trip through
 * the producer index, within the txn that assigned them and later. */
static void test_log_layouts(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(kc_store_write(f->s, s_raw_v1_fn, NULL), 0);
    static char names[40][256];
    s_mix_t m = {.n = 40};
    for (int i = 0; i < 40; i++) {
        if (i == 39) {
            memset(names[i], 'x', 255);
            names[i][255] = '\0';
        } else {
            snprintf(names[i], sizeof names[i], "prod-%d", i % 20);
        }
        m.prods[i] = names[i];
        m.epochs[i] = i < 20 ? 5 : (i % 2 ? UINT64_MAX : 6); /* new epochs: new indexes */
    }
    assert_int_equal(kc_store_write(f->s, s_mix_fn, &m), 0);
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    uint64_t size;
    assert_int_equal(kc_txn_log_size(t, &size), 0);
    assert_int_equal(size, 43);
    assert_int_equal(kc_txn_log_scan(t, 0, s_check_fn, &m), 0);
    for (uint64_t o = 0; o < 43; o += 5) { /* random access */
        kc_log_entry_t e;
        assert_int_equal(kc_txn_log_get(t, o, &e), 0);
        s_check_fn(&e, &m);
    }
    kc_txn_end(&t);
    /* appending again reuses the indexes (a fresh txn, an empty cache) */
    m.n = 25;
    assert_int_equal(kc_store_write(f->s, s_mix_fn, &m), 0);
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    kc_store_db_stat_t db[KC_STORE_DB_MAX];
    size_t n;
    assert_int_equal(kc_txn_db_stats(t, db, &n), 0);
    for (size_t i = 0; i < n; i++)
        if (strcmp(db[i].name, "producer_ids") == 0)
            assert_int_equal(db[i].entries, 2 * 40); /* every (producer, epoch) differs */
    kc_log_entry_t e;
    assert_int_equal(kc_txn_log_get(t, 43 + 24, &e), 0);
    assert_int_equal(e.epoch, 6); /* i = 24 */
    assert_memory_equal(e.producer, "prod-4", 6);
    kc_txn_end(&t);
}

/* Events ending with their transport tail (producer_id, seq as the record
 * has them) are stored without it and read back byte for byte; any other
 * ending is stored verbatim. */
typedef struct {
    uint8_t ev[8][160];
    size_t len[8];
    bool stripped[8];
    const char *prod[8];
    uint64_t seq[8];
} s_tail_t;

static size_t s_packed(uint8_t *buf, const char *producer_id, bool has_seq, uint64_t seq,
                       const char *note)
{
    Kcpipe__V1__Event ev;
    kcpipe__v1__event__init(&ev);
    ev.event_id = "T-1";
    ev.province = "79";
    ev.note = (char *)note;
    ev.producer_id = (char *)producer_id;
    ev.has_seq = has_seq;
    ev.seq = seq;
    return kcpipe__v1__event__pack(&ev, buf);
}

static int s_tail_fn(kc_txn_t *t, void *ctx)
{
    s_tail_t *x = ctx;
    for (int i = 0; i < 8; i++) {
        kc_log_entry_t e = {.received_ns = 5,
                            .epoch = 1,
                            .seq = x->seq[i],
                            .producer = x->prod[i],
                            .producer_len = strlen(x->prod[i]),
                            .event = x->ev[i],
                            .event_len = x->len[i]};
        int rc = kc_txn_log_append(t, &e, NULL);
        if (rc)
            return rc;
        /* readable in the txn that wrote it */
        kc_log_entry_t g;
        if ((rc = kc_txn_log_get(t, (uint64_t)i, &g)) != 0)
            return rc;
        if (g.event_len != x->len[i] || memcmp(g.event, x->ev[i], x->len[i]) != 0)
            return KC_EFORMAT;
    }
    return 0;
}

static void test_log_transport_tail(void **state)
{
    fixture_t *f = *state;
    s_tail_t x;
    memset(&x, 0, sizeof x);
    const char *p = "office-79";
    for (int i = 0; i < 8; i++) {
        x.prod[i] = p;
        x.seq[i] = i == 7 ? UINT64_MAX : 1000 + (uint64_t)i;
    }
    x.len[0] = s_packed(x.ev[0], p, true, 1000, NULL); /* the usual case */
    x.stripped[0] = true;
    x.len[1] = s_packed(x.ev[1], "office-80", true, 1001, NULL); /* another producer */
    x.len[2] = s_packed(x.ev[2], p, true, 99, NULL);             /* another seq */
    x.len[3] = s_packed(x.ev[3], p, false, 0, NULL);             /* no seq */
    x.len[4] = s_packed(x.ev[4], p, true, 1004, "a note");       /* the usual case */
    x.stripped[4] = true;
    x.len[5] = s_packed(x.ev[5], p, true, 1005, NULL);
    x.ev[5][x.len[5]++] = 0x08; /* bytes after the tail (an unknown field) */
    x.ev[5][x.len[5]++] = 0x01;
    x.len[6] = s_packed(x.ev[6], NULL, false, 0, NULL); /* no tail at all */
    x.len[7] = s_packed(x.ev[7], p, true, UINT64_MAX, NULL);
    x.stripped[7] = true;
    assert_int_equal(kc_store_write(f->s, s_tail_fn, &x), 0);

    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    /* KC_EVBUF_RING entries decoded at once all stay valid */
    kc_log_entry_t e[8];
    for (int i = 0; i < 8; i++)
        assert_int_equal(kc_txn_log_get(t, (uint64_t)i, &e[i]), 0);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(e[i].event_len, x.len[i]);
        assert_memory_equal(e[i].event, x.ev[i], x.len[i]);
        assert_int_equal(e[i].seq, x.seq[i]);
        /* the record on disk: the tail is gone exactly when it could be rebuilt */
        uint8_t kb[8];
        kc_be64_put(kb, (uint64_t)i);
        MDB_val k = {8, kb}, v;
        assert_int_equal(mdb_get(t->txn, t->s->dbi[KC_DB_LOG], &k, &v), 0);
        const uint8_t *r = v.mv_data;
        /* offset 0 has the absolute time, the others a delta of 0 (1 byte) */
        assert_int_equal(r[0], (x.stripped[i] ? 0x80 : 0) | (i ? 0x40 : 0) | 0x02);
        size_t tail = x.stripped[i] ? 2 + strlen(p) + 1 + (i == 7 ? 10 : 2) : 0;
        size_t seqlen = x.seq[i] < 128 ? 1 : x.seq[i] < 16384 ? 2 : 10;
        assert_int_equal(v.mv_size, 1 + 1 + seqlen + (i ? 1 : 8) + x.len[i] - tail);
    }
    kc_txn_end(&t);
}

/* Receive times as deltas: any order of times (equal, later, earlier,
 * wrapping), read back in order, backwards (a walk to the last absolute
 * time each), at random, in the writing txn and in later ones. */
#define S_NT 300

static uint64_t s_time(uint64_t i)
{
    switch (i % 7) {
    case 0: return 1700000000000000000ull + i / 7 * 1000; /* a few records per "group" */
    case 1: return 1700000000000000000ull + i / 7 * 1000;
    case 2: return 5; /* the clock stepped back */
    case 3: return UINT64_MAX - i;
    case 4: return 0;
    default: return 1700000000000000000ull + i * 1000003ull;
    }
}

static int s_times_fn(kc_txn_t *t, void *ctx)
{
    (void)ctx;
    for (uint64_t i = 0; i < S_NT; i++) {
        uint8_t ev[2] = {(uint8_t)i, 9};
        kc_log_entry_t e = {.received_ns = s_time(i),
                            .epoch = 3,
                            .seq = i + 1,
                            .producer = "p",
                            .producer_len = 1,
                            .event = ev,
                            .event_len = 2};
        int rc = kc_txn_log_append(t, &e, NULL);
        if (rc)
            return rc;
    }
    for (uint64_t i = S_NT; i-- > 0;) {
        kc_log_entry_t e;
        int rc = kc_txn_log_get(t, i, &e);
        if (rc)
            return rc;
        if (e.received_ns != s_time(i) || e.seq != i + 1)
            return KC_EFORMAT;
    }
    return 0;
}

static int s_times_scan(const kc_log_entry_t *e, void *ctx)
{
    (void)ctx;
    assert_int_equal(e->received_ns, s_time(e->offset % S_NT));
    return 0;
}

static void test_log_time_deltas(void **state)
{
    fixture_t *f = *state;
    assert_int_equal(kc_store_write(f->s, s_times_fn, NULL), 0);
    assert_int_equal(kc_store_write(f->s, s_times_fn, NULL), 0); /* a txn starting mid-run */
    kc_txn_t *t;
    assert_int_equal(kc_store_read_begin(f->s, &t), 0);
    assert_int_equal(kc_txn_log_scan(t, 0, s_times_scan, NULL), 0);
    assert_int_equal(kc_txn_log_scan(t, 131, s_times_scan, NULL), 0);
    kc_txn_end(&t);
    uint64_t x = 12345;
    for (int n = 0; n < 200; n++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t o = (x >> 33) % (2 * S_NT);
        assert_int_equal(kc_store_read_begin(f->s, &t), 0); /* an empty cache each time */
        kc_log_entry_t e;
        assert_int_equal(kc_txn_log_get(t, o, &e), 0);
        assert_int_equal(e.received_ns, s_time(o % S_NT));
        assert_int_equal(e.seq, o % S_NT + 1);
        kc_txn_end(&t);
    }
}

/* A delta record at a multiple of 16, or one whose predecessor is missing,
 * does not decode. */
static int s_bad_time_fn(kc_txn_t *t, void *ctx)
{
    (void)ctx;
    kc_log_entry_t e = {.received_ns = 1, .seq = 1, .producer = "p", .producer_len = 1};
    int rc = kc_txn_log_append(t, &e, NULL); /* producer index 0 */
    if (rc)
        return rc;
    uint8_t v[4] = {0x42, 0, 1, 2}; /* layout 2, delta +1 */
    uint8_t kb[8];
    int bad = 0;
    const uint64_t at[2] = {64, 1000}; /* a multiple of 16; a record without predecessor */
    for (int i = 0; i < 2; i++) {
        kc_be64_put(kb, at[i]);
        MDB_val k = {8, kb}, val = {sizeof v, v};
        if (mdb_put(t->txn, t->s->dbi[KC_DB_LOG], &k, &val, 0))
            return KC_ESTORE;
        kc_log_entry_t g;
        bad += kc_txn_log_get(t, at[i], &g) == KC_EFORMAT;
    }
    return bad == 2 ? -77 : KC_ESTORE;
}

static void test_log_bad_time(void **state)
{
    fixture_t *f = *state;
    kc_test_log_t log;
    kc_test_log_capture(&log);
    assert_int_equal(kc_store_write(f->s, s_bad_time_fn, NULL), -77);
    kc_test_log_release();
    assert_non_null(strstr(log.text, "receive time cannot be resolved"));
}

/* A layout-2 record naming an index that does not exist: KC_EFORMAT. */
static int s_bad_idx_fn(kc_txn_t *t, void *ctx)
{
    (void)ctx;
    uint8_t v[16] = {2, 0x7f, 1};
    kc_le64_put(v + 3, 5);
    uint8_t kb[8];
    kc_be64_put(kb, 0);
    MDB_val k = {8, kb}, val = {11, v};
    if (mdb_put(t->txn, t->s->dbi[KC_DB_LOG], &k, &val, 0))
        return KC_ESTORE;
    kc_log_entry_t e;
    int rc = kc_txn_log_get(t, 0, &e);
    return rc == KC_EFORMAT ? -77 : KC_ESTORE;
}

static void test_log_bad_producer_index(void **state)
{
    fixture_t *f = *state;
    kc_test_log_t log;
    kc_test_log_capture(&log);
    assert_int_equal(kc_store_write(f->s, s_bad_idx_fn, NULL), -77);
    kc_test_log_release();
    assert_non_null(strstr(log.text, "producer index 127"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_identity_round_trip, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_identity_chain, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_identity_chain_pending, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_identity_many, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_identity_hash_is_cores, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_identity_names_other_event, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_unit_append_and_out_of_order, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_unit_many, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_unit_created_then_aborted, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_unit_reader_before_create, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_unit_history_across_units, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_log_layouts, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_log_transport_tail, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_log_time_deltas, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_log_bad_time, kc_test_store_setup,
                                        kc_test_store_teardown),
        cmocka_unit_test_setup_teardown(test_log_bad_producer_index, kc_test_store_setup,
                                        kc_test_store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
