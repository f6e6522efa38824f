/* admin_format_test.c - store format 3 and the migration from format 2 (real processes).
 *
 * A store written by kc-aggregator is turned into a format-2 store the way an
 * older kcpipe left it (meta "format" = "2", no units table; raw LMDB). Then:
 * kc-aggregator and kc-query refuse it with the message that says what to do;
 * kc-admin stat reports format 2; kc-admin backup copies it; kc-admin migrate
 * brings it to format 3 with the units table equal to the one the aggregator
 * had written live; kc-audit verify, kc-replay verify and kc-query succeed.
 * A backup of the old store restores (with a hint to migrate) and migrates to
 * the same units. A store of a newer format (4) is refused as such.
 */
#include "admin_util.h"
#include "gen_csv.h"
#include "harness.h"
#include "kc_err.h"
#include "kc_store.h"

#include <lmdb.h>
#include <stdint.h>
#include <stdio.h>
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

/* meta "format" = value; drop the units table if drop_units (raw LMDB). */
static void s_raw(const char *dir, const char *value, bool drop_units)
{
    MDB_env *env;
    MDB_txn *txn;
    MDB_dbi dbi;
    KC_CHECK(mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 32) == 0, "env");
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

    /* a fresh store is format 3, with the units the aggregator writes live */
    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", NULL);
    pid_t p = kc_harness_send_start(agg.endpoint, "fmt", spool, csv, out, NULL);
    kc_summary_t sum;
    kc_harness_send_check(p, out, SEND_MS, ROWS, &sum);
    kc_harness_agg_term(&agg);
    s_units_t live, got;
    s_read_units(store, &live);
    KC_CHECK(live.n > 1, "the aggregator wrote %d units", live.n);
    char *o = NULL, *e = NULL;
    KC_CHECK(kc_run("stat-3", &o, &e, "kc-admin", "stat", "--store", store, "--format", "json",
                    (const char *)NULL) == 0,
             "stat");
    json_t *j = kc_json(o, "stat");
    KC_CHECK(kc_json_int(j, "format") == 3 && kc_json_int(j, "format_current") == 3, "format 3");
    json_decref(j);
    free(o);
    free(e);

    /* make it a format-2 store as an older kcpipe left it */
    s_raw(store, "2", true);
    s_expect_refusal("agg-2",
                     "has format 2; this kcpipe needs 3: back it up (kc-admin backup) "
                     "and run kc-admin migrate --store",
                     "kc-aggregator", store);
    s_expect_refusal("query-2", "has format 2; this kcpipe needs 3", "kc-query", store);
    KC_CHECK(kc_run("stat-2", &o, &e, "kc-admin", "stat", "--store", store, "--format", "json",
                    (const char *)NULL) == 0,
             "stat of a format-2 store");
    j = kc_json(o, "stat");
    KC_CHECK(kc_json_int(j, "format") == 2, "stat says format 2");
    KC_CHECK(json_is_null(json_object_get(json_object_get(j, "tables"), "units")),
             "no units table");
    json_decref(j);
    free(o);
    free(e);

    /* back it up, migrate, compare */
    KC_RUN_OK("backup-2", "kc-admin", "backup", "--store", store, bk);
    KC_CHECK(kc_run("migrate", &o, &e, "kc-admin", "migrate", "--store", store,
                    (const char *)NULL) == 0 &&
                 o && strstr(o, "format 2 -> 3"),
             "migrate: %s %s", o ? o : "", e ? e : "");
    free(o);
    free(e);
    s_read_units(store, &got);
    s_same_units(&live, &got, "migrated units");
    KC_RUN_OK("audit", "kc-audit", "verify", "--store", store);
    KC_RUN_OK("replay", "kc-replay", "verify", "--store", store);
    KC_RUN_OK("query", "kc-query", "--store", store, "--year", "2022");
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
    KC_RUN_OK("migrate-restored", "kc-admin", "migrate", "--store", restored);
    s_read_units(restored, &got);
    s_same_units(&live, &got, "restored and migrated units");

    /* a newer format is refused as such, by the tools and by kc-admin */
    s_raw(restored, "4", false);
    s_expect_refusal("query-4", "written by a newer kcpipe (format 4 > 3)", "kc-query", restored);
    s_expect_refusal("agg-4", "written by a newer kcpipe (format 4 > 3)", "kc-aggregator",
                     restored);
    KC_CHECK(kc_run("migrate-4", &o, &e, "kc-admin", "migrate", "--store", restored,
                    (const char *)NULL) == 65 &&
                 e && strstr(e, "newer kcpipe"),
             "migrate of format 4: %s", e ? e : "");
    free(o);
    free(e);
    kc_harness_pass();
    printf("admin_format_test: ok (%d units rebuilt)\n", live.n);
    return 0;
}
