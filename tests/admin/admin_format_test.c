/* admin_format_test.c - store format 4 and the migrations 3 -> 4 and 2 -> 3 -> 4 (real processes).
 *
 * A store written by kc-aggregator (format 4) is turned into the format-3
 * store an older kcpipe would have written for the same events (raw LMDB:
 * layout-1 log records, the "identities" table of unit + event_id -> 45-byte
 * layout-2 records with their content hashes, a "leaves" table, none of the
 * format-4 tables). Then: kc-aggregator and kc-query refuse it with the
 * message that says what to do; kc-admin stat reports format 3; kc-admin
 * migrate brings it to format 4 with the same kc-query JSON as before, the
 * same units, and clean kc-audit verify / kc-replay verify. The same store
 * made format 2 (no units table) migrates through 3 to 4 the same way; a
 * backup of it restores (with a hint to migrate) and migrates alike. A store
 * of a newer format (5) is refused as such.
 */
#include "admin_util.h"
#include "gen_csv.h"
#include "harness.h"
#include "kc_err.h"
#include "kc_identity.h"
#include "kc_store.h"
#include "kcpipe/v1/kcpipe.pb-c.h"

#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROWS    2000
#define SEND_MS 300000

typedef struct {
    int n;
    uint8_t unit[256];
    kc_unit_state_t st[256];
} s_units_t;

static int s_unit_cb(uint8_t unit, const kc_unit_state_t *st, void *ctx)
{
    s_units_t *u = ctx;
    u->unit[u->n] = unit;
    u->st[u->n++] = *st;
    return 0;
}

static void s_read_units(const char *store, s_units_t *u)
{
    memset(u, 0, sizeof *u);
    kc_store_opts_t ro = {.read_only = true};
    kc_store_t *s = NULL;
    int rc = kc_store_open(&s, store, &ro);
    KC_CHECK(rc == 0, "open %s: %s", store, kc_strerror(rc));
    kc_txn_t *t = NULL;
    KC_CHECK(kc_store_read_begin(s, &t) == 0, "read txn");
    KC_CHECK(kc_txn_unit_scan(t, s_unit_cb, u) == 0, "scan units");
    kc_txn_end(&t);
    kc_store_close(&s);
}

static void s_same_units(const s_units_t *a, const s_units_t *b, const char *what)
{
    KC_CHECK(a->n == b->n, "%s: %d units, expected %d", what, b->n, a->n);
    for (int i = 0; i < a->n; i++) {
        KC_CHECK(a->unit[i] == b->unit[i], "%s: unit #%d is %u, expected %u", what, i, b->unit[i],
                 a->unit[i]);
        KC_CHECK(
            a->st[i].events == b->st[i].events && a->st[i].last_offset == b->st[i].last_offset &&
                a->st[i].last_report_ns == b->st[i].last_report_ns,
            "%s: unit %u differs: events %llu/%llu, last offset %llu/%llu", what, a->unit[i],
            (unsigned long long)b->st[i].events, (unsigned long long)a->st[i].events,
            (unsigned long long)b->st[i].last_offset, (unsigned long long)a->st[i].last_offset);
    }
}

/* The format-3 store an older kcpipe would have left for the same events. */
typedef struct {
    uint8_t unit;
    char eid[72];
    kc_identity_t id;
} s_old_id_t;

static void s_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void s_make_format3(const char *store)
{
    kc_store_opts_t ro = {.read_only = true};
    kc_store_t *s = NULL;
    int rc = kc_store_open(&s, store, &ro);
    KC_CHECK(rc == 0, "open %s: %s", store, kc_strerror(rc));
    kc_txn_t *t = NULL;
    KC_CHECK(kc_store_read_begin(s, &t) == 0, "read txn");
    uint64_t n = 0;
    KC_CHECK(kc_txn_log_size(t, &n) == 0 && n > 0, "log size");
    uint8_t **rec = calloc(n, sizeof *rec);
    size_t *reclen = calloc(n, sizeof *reclen);
    s_old_id_t *ids = calloc(n, sizeof *ids);
    size_t nids = 0;
    for (uint64_t o = 0; o < n; o++) {
        kc_log_entry_t e;
        KC_CHECK(kc_txn_log_get(t, o, &e) == 0, "log %llu", (unsigned long long)o);
        reclen[o] = 26 + e.producer_len + e.event_len; /* record layout 1 */
        rec[o] = malloc(reclen[o]);
        rec[o][0] = 1;
        rec[o][1] = (uint8_t)e.producer_len;
        s_le64(rec[o] + 2, e.received_ns);
        s_le64(rec[o] + 10, e.seq);
        s_le64(rec[o] + 18, e.epoch);
        memcpy(rec[o] + 26, e.producer, e.producer_len);
        memcpy(rec[o] + 26 + e.producer_len, e.event, e.event_len);
        Kcpipe__V1__Event *ev = kcpipe__v1__event__unpack(NULL, e.event_len, e.event);
        KC_CHECK(ev && ev->event_id, "event %llu", (unsigned long long)o);
        for (int u = 1; u < 200; u++) { /* its identity: the unit whose record names o */
            kc_identity_t id;
            if (kc_txn_identity_get(t, (uint8_t)u, ev->event_id, strlen(ev->event_id), &id) != 0 ||
                id.offset != o)
                continue;
            KC_CHECK(id.hashed || kc_identity_hash_txn(t, &id) == 0, "hash of %llu",
                     (unsigned long long)o); /* layout 2 stores it: core computes it */
            ids[nids].unit = (uint8_t)u;
            snprintf(ids[nids].eid, sizeof ids[nids].eid, "%s", ev->event_id);
            ids[nids++].id = id;
        }
        kcpipe__v1__event__free_unpacked(ev, NULL);
    }
    kc_store_stat_t st;
    KC_CHECK(kc_txn_stat(t, &st) == 0 && st.identities == nids, "%zu identities found of %llu",
             nids, (unsigned long long)st.identities);
    kc_txn_end(&t);
    kc_store_close(&s);

    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi log, old, dbi;
    KC_CHECK(mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 300) == 0, "env");
    KC_CHECK(mdb_env_open(env, store, MDB_NOTLS, 0600) == 0, "open %s", store);
    KC_CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0, "txn");
    KC_CHECK(mdb_dbi_open(txn, "log", 0, &log) == 0, "log");
    for (uint64_t o = 0; o < n; o++) {
        uint8_t kb[8];
        for (int i = 0; i < 8; i++)
            kb[i] = (uint8_t)(o >> (56 - 8 * i));
        MDB_val k = {8, kb}, v = {reclen[o], rec[o]};
        KC_CHECK(mdb_put(txn, log, &k, &v, 0) == 0, "put log");
        free(rec[o]);
    }
    KC_CHECK(mdb_dbi_open(txn, "identities", MDB_CREATE, &old) == 0, "identities");
    for (size_t i = 0; i < nids; i++) {
        const kc_identity_t *id = &ids[i].id;
        uint8_t kb[80], vb[45] = {0};
        size_t kl = strlen(ids[i].eid);
        kb[0] = ids[i].unit;
        memcpy(kb + 1, ids[i].eid, kl);
        s_le64(vb, id->offset); /* identity layout 2 */
        memcpy(vb + 8, id->hash, 16);
        vb[24] = id->state;
        vb[25] = id->op;
        vb[26] = id->kind;
        vb[27] = id->prev_unit;
        vb[28] = id->next_unit;
        s_le64(vb + 29, id->prev);
        s_le64(vb + 37, id->next);
        MDB_val k = {1 + kl, kb}, v = {45, vb};
        KC_CHECK(mdb_put(txn, old, &k, &v, 0) == 0, "put identity");
    }
    /* format 4's tables: producer_ids and the identity databases, one per unit */
    char gone[256][16];
    int ngone = 0;
    snprintf(gone[ngone++], sizeof gone[0], "producer_ids");
    MDB_dbi main_dbi;
    MDB_cursor *mc;
    KC_CHECK(mdb_dbi_open(txn, NULL, 0, &main_dbi) == 0 && mdb_cursor_open(txn, main_dbi, &mc) == 0,
             "main database");
    MDB_val nk = {7, "idents/"}, nv;
    for (int mrc = mdb_cursor_get(mc, &nk, &nv, MDB_SET_RANGE);
         mrc == 0 && nk.mv_size == 9 && memcmp(nk.mv_data, "idents/", 7) == 0;
         mrc = mdb_cursor_get(mc, &nk, &nv, MDB_NEXT))
        snprintf(gone[ngone++], sizeof gone[0], "%.9s", (const char *)nk.mv_data);
    mdb_cursor_close(mc);
    KC_CHECK(ngone > 1, "no identity databases");
    for (int i = 0; i < ngone; i++) {
        KC_CHECK(mdb_dbi_open(txn, gone[i], 0, &dbi) == 0, "%s", gone[i]);
        KC_CHECK(mdb_drop(txn, dbi, 1) == 0, "drop %s", gone[i]);
    }
    KC_CHECK(mdb_dbi_open(txn, "leaves", MDB_CREATE, &dbi) == 0, "leaves");
    uint8_t z[8] = {0}, blk[32] = {1};
    MDB_val k = {8, z}, v = {32, blk};
    KC_CHECK(mdb_put(txn, dbi, &k, &v, 0) == 0, "put leaves");
    KC_CHECK(mdb_dbi_open(txn, "meta", 0, &dbi) == 0, "meta");
    MDB_val fk = {6, "format"}, fv = {1, "3"};
    KC_CHECK(mdb_put(txn, dbi, &fk, &fv, 0) == 0, "put format");
    KC_CHECK(mdb_txn_commit(txn) == 0, "commit");
    mdb_env_close(env);
    free(rec);
    free(reclen);
    free(ids);
}

/* kc-query's JSON of the store (the figures a migration must keep). */
static char *s_query_json(const char *tag, const char *store)
{
    char *o = NULL, *e = NULL;
    KC_CHECK(kc_run(tag, &o, &e, "kc-query", "--store", store, "--year", "2022", "--by", "province",
                    "--format", "json", (const char *)NULL) == 0 &&
                 o,
             "kc-query %s: %s", store, e ? e : "");
    free(e);
    json_t *j = kc_json(o, tag);
    json_object_del(j, "store"); /* the directory asked: the rest must be equal */
    char *d = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref(j);
    free(o);
    return d;
}

static void s_migrated_ok(const char *tag, const char *store, const char *query,
                          const s_units_t *live)
{
    s_units_t got;
    s_read_units(store, &got);
    s_same_units(live, &got, tag);
    char *q = s_query_json(tag, store);
    KC_CHECK(strcmp(q, query) == 0, "%s: kc-query differs after migrating:\n%s\nvs\n%s", tag, q,
             query);
    free(q);
    KC_RUN_OK("audit", "kc-audit", "verify", "--store", store);
    KC_RUN_OK("replay", "kc-replay", "verify", "--store", store);
}

static void s_migrate(const char *tag, const char *store, const char *want1, const char *want2)
{
    char *o = NULL, *e = NULL;
    KC_CHECK(kc_run(tag, &o, &e, "kc-admin", "migrate", "--store", store, (const char *)NULL) ==
                     0 &&
                 o && strstr(o, want1) && (!want2 || strstr(o, want2)),
             "%s: %s %s", tag, o ? o : "", e ? e : "");
    free(o);
    free(e);
}

/* meta "format" = value; drop the units table if drop_units (raw LMDB). */
static void s_raw(const char *dir, const char *value, bool drop_units)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    KC_CHECK(mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 300) == 0, "env");
    KC_CHECK(mdb_env_open(env, dir, MDB_NOTLS, 0600) == 0, "open %s", dir);
    KC_CHECK(mdb_txn_begin(env, NULL, 0, &txn) == 0, "txn");
    KC_CHECK(mdb_dbi_open(txn, "meta", 0, &dbi) == 0, "meta");
    MDB_val k = {6, "format"}, v = {strlen(value), (void *)value};
    KC_CHECK(mdb_put(txn, dbi, &k, &v, 0) == 0, "put format");
    if (drop_units) {
        KC_CHECK(mdb_dbi_open(txn, "units", 0, &dbi) == 0, "units");
        KC_CHECK(mdb_drop(txn, dbi, 1) == 0, "drop units");
    }
    KC_CHECK(mdb_txn_commit(txn) == 0, "commit");
    mdb_env_close(env);
}

static void s_expect_refusal(const char *tag, const char *needle, const char *prog,
                             const char *store)
{
    char *o = NULL, *e = NULL;
    int rc;
    if (strcmp(prog, "kc-aggregator") == 0)
        rc = kc_run(tag, &o, &e, prog, "--store", store, "--listen", "tcp://127.0.0.1:*",
                    (const char *)NULL);
    else
        rc = kc_run(tag, &o, &e, prog, "--store", store, "--year", "2022", (const char *)NULL);
    KC_CHECK(rc != 0 && e && strstr(e, needle), "%s on %s: exit %d, stderr lacks \"%s\": %s", prog,
             store, rc, needle, e ? e : "");
    free(o);
    free(e);
}

/* A store of an older format `fmt`: kc-aggregator and kc-query refuse it with
 * the migrate advice, kc-admin stat reads it and says so. Returns stat's JSON
 * (the caller frees it). */
static json_t *s_old_format(const char *store, int fmt)
{
    char tag[32], needle[160];
    snprintf(tag, sizeof tag, "agg-%d", fmt);
    snprintf(needle, sizeof needle,
             "has format %d; this kcpipe needs 4: back it up (kc-admin backup) "
             "and run kc-admin migrate --store",
             fmt);
    s_expect_refusal(tag, needle, "kc-aggregator", store);
    snprintf(tag, sizeof tag, "query-%d", fmt);
    snprintf(needle, sizeof needle, "has format %d; this kcpipe needs 4", fmt);
    s_expect_refusal(tag, needle, "kc-query", store);
    char *o = NULL, *e = NULL;
    snprintf(tag, sizeof tag, "stat-%d", fmt);
    KC_CHECK(kc_run(tag, &o, &e, "kc-admin", "stat", "--store", store, "--format", "json",
                    (const char *)NULL) == 0,
             "stat of a format-%d store", fmt);
    json_t *j = kc_json(o, "stat");
    KC_CHECK(kc_json_int(j, "format") == fmt, "stat says format %d", fmt);
    free(o);
    free(e);
    return j;
}

int main(void)
{
    kc_harness_init("admin_format_test");
    char csv[KC_PATH_MAX], spool[KC_PATH_MAX], out[KC_PATH_MAX], store[KC_PATH_MAX],
        bk[KC_PATH_MAX], restored[KC_PATH_MAX];
    kc_harness_path(csv, "fmt.csv");
    kc_harness_path(spool, "spool");
    kc_harness_path(out, "send.out");
    kc_harness_path(store, "store");
    kc_harness_path(bk, "backup-v2");
    kc_harness_path(restored, "restored");
    kc_gen_sums_t expect = {0};
    KC_CHECK(kc_gen_csv(csv, "fmt", 77, ROWS, &expect) == 0, "csv");

    /* a fresh store is format 4, with the units the aggregator writes live */
    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", NULL);
    pid_t p = kc_harness_send_start(agg.endpoint, "fmt", spool, csv, out, NULL);
    kc_summary_t sum;
    kc_harness_send_check(p, out, SEND_MS, ROWS, &sum);
    kc_harness_agg_term(&agg);
    s_units_t live;
    s_read_units(store, &live);
    KC_CHECK(live.n > 1, "the aggregator wrote %d units", live.n);
    char *query = s_query_json("query-live", store);
    char *o = NULL, *e = NULL;
    KC_CHECK(kc_run("stat-4", &o, &e, "kc-admin", "stat", "--store", store, "--format", "json",
                    (const char *)NULL) == 0,
             "stat");
    json_t *j = kc_json(o, "stat");
    KC_CHECK(kc_json_int(j, "format") == 4 && kc_json_int(j, "format_current") == 4, "format 4");
    json_decref(j);
    free(o);
    free(e);

    /* format 3 as an older kcpipe left it: refused, stat-able, migrated to 4 */
    s_make_format3(store);
    json_decref(s_old_format(store, 3));
    s_migrate("migrate-3", store, "format 3 -> 4", NULL);
    s_migrated_ok("migrated 3 -> 4", store, query, &live);

    /* format 2 (no units table): refused, migrated 2 -> 3 -> 4 */
    s_make_format3(store);
    s_raw(store, "2", true);
    j = s_old_format(store, 2);
    KC_CHECK(json_is_null(json_object_get(json_object_get(j, "tables"), "units")),
             "no units table");
    json_decref(j);

    /* back it up, migrate, compare */
    KC_RUN_OK("backup-2", "kc-admin", "backup", "--store", store, bk);
    s_migrate("migrate-2", store, "format 2 -> 3", "format 3 -> 4");
    s_migrated_ok("migrated 2 -> 4", store, query, &live);
    KC_CHECK(kc_run("migrate-again", &o, &e, "kc-admin", "migrate", "--store", store,
                    (const char *)NULL) == 0 &&
                 o && strstr(o, "nothing to do"),
             "second migrate");
    free(o);
    free(e);
    /* the aggregator takes the migrated store */
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", NULL);
    kc_harness_agg_term(&agg);

    /* the format-2 backup restores (with a hint) and migrates the same way */
    KC_CHECK(kc_run("restore-2", &o, &e, "kc-admin", "restore", "--store", restored, bk,
                    (const char *)NULL) == 0 &&
                 o && strstr(o, "kc-admin migrate --store"),
             "restore of a format-2 backup: %s %s", o ? o : "", e ? e : "");
    free(o);
    free(e);
    s_migrate("migrate-restored", restored, "format 2 -> 3", "format 3 -> 4");
    s_migrated_ok("restored and migrated", restored, query, &live);

    /* a newer format is refused as such, by the tools and by kc-admin */
    s_raw(restored, "5", false);
    s_expect_refusal("query-5", "written by a newer kcpipe (format 5 > 4)", "kc-query", restored);
    s_expect_refusal("agg-5", "written by a newer kcpipe (format 5 > 4)", "kc-aggregator",
                     restored);
    KC_CHECK(kc_run("migrate-5", &o, &e, "kc-admin", "migrate", "--store", restored,
                    (const char *)NULL) == 65 &&
                 e && strstr(e, "newer kcpipe"),
             "migrate of format 5: %s", e ? e : "");
    free(o);
    free(e);
    free(query);
    kc_harness_pass();
    printf("admin_format_test: ok (%d units; format 3 -> 4 and 2 -> 3 -> 4)\n", live.n);
    return 0;
}
