/* admin_live_test.c - kc-admin against a running aggregator (real processes).
 *
 * 1. kc-aggregator runs, three kc-send producers stream; with the log part
 *    way (the producers still sending), `kc-admin backup` copies the store.
 *    The backup's log size is at least what was committed (so acknowledged)
 *    before the backup started, and less than the whole stream (mid-stream).
 * 2. While the aggregator runs: `stat` (text and JSON) shows the store open by
 *    it; `restore` over the live store and `compact` of it are refused (75).
 * 3. After the stream: the backup is restored into a new directory; there
 *    `kc-replay verify` (totals = a replay of its own log) and `kc-audit
 *    verify` succeed and its log size equals the manifest's.
 * 4. The aggregator stopped: `compact` keeps the totals (kc-query JSON
 *    identical), the audit log verifies, the file does not grow; restore
 *    over the stopped store works and keeps the old one aside.
 */
#include "admin_util.h"
#include "gen_csv.h"
#include "harness.h"
#include "kc_err.h"
#include "verify.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#define PRODUCERS 3
#define ROWS      30000
#define SEND_MS   400000
#define START_AT  1500 /* log entries before the backup starts */

static long long s_file_size(const char *dir)
{
    char p[KC_PATH_MAX + 16];
    snprintf(p, sizeof p, "%s/data.mdb", dir);
    struct stat st;
    KC_CHECK(stat(p, &st) == 0, "stat %s", p);
    return (long long)st.st_size;
}

/* The totals of one year by province, as kc-query's JSON (compared as text). */
static char *s_query_all(const char *store, const char *tag)
{
    char *out = NULL;
    int rc = kc_run(tag, &out, NULL, "kc-query", "--store", store, "--year", "2022", "--by",
                    "province", "--format", "json", (const char *)NULL);
    KC_CHECK(rc == 0 && out, "kc-query on %s exited %d", store, rc);
    return out;
}

int main(void)
{
    kc_harness_init("admin_live_test");
    kc_gen_sums_t expect = {0};
    char csv[PRODUCERS][KC_PATH_MAX], spool[PRODUCERS][KC_PATH_MAX], out[PRODUCERS][KC_PATH_MAX];
    char prod[PRODUCERS][16];
    for (int i = 0; i < PRODUCERS; i++) {
        snprintf(prod[i], sizeof prod[i], "admin-%d", i + 1);
        kc_harness_path(csv[i], "%s.csv", prod[i]);
        kc_harness_path(spool[i], "spool-%d", i + 1);
        kc_harness_path(out[i], "send-%d.out", i + 1);
        KC_CHECK(kc_gen_csv(csv[i], prod[i], 600 + i, ROWS, &expect) == 0, "write %s", csv[i]);
    }
    const uint64_t total = expect.events;
    char store[KC_PATH_MAX], bk[KC_PATH_MAX], restored[KC_PATH_MAX];
    kc_harness_path(store, "store");
    kc_harness_path(bk, "backup");
    kc_harness_path(restored, "restored");
    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", NULL);
    pid_t pid[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        pid[i] = kc_harness_send_start(agg.endpoint, prod[i], spool[i], csv[i], out[i], NULL);

    /* 1. backup mid-stream. The aggregator is ready, so its store exists: every
     * read-only look at it must succeed while it writes (an error is a failure,
     * not a reason to look again) */
    uint64_t before = 0;
    int64_t deadline = kc_harness_now_ms() + SEND_MS;
    for (;;) {
        int rc = kc_harness_log_size(store, &before);
        KC_CHECK(rc == 0, "reading the live store's log size: %s", kc_strerror(rc));
        if (before >= START_AT)
            break;
        KC_CHECK(kc_harness_now_ms() < deadline, "log stuck at %llu", (unsigned long long)before);
        kc_harness_poll_pause();
    }
    KC_RUN_OK("backup", "kc-admin", "backup", "--store", store, bk);
    char mp[KC_PATH_MAX + 16];
    snprintf(mp, sizeof mp, "%s/backup.json", bk);
    json_error_t je;
    json_t *man = json_load_file(mp, 0, &je);
    KC_CHECK(man, "manifest %s: %s", mp, je.text);
    uint64_t bsize = (uint64_t)kc_json_int(man, "log_size");
    KC_CHECK(kc_json_int(man, "store_format") == 4, "manifest format");
    KC_CHECK(bsize >= before, "backup has %llu entries, %llu were committed before it started",
             (unsigned long long)bsize, (unsigned long long)before);
    KC_CHECK(bsize < total, "the backup was not taken mid-stream (%llu of %llu)",
             (unsigned long long)bsize, (unsigned long long)total);
    json_decref(man);
    struct stat kst;
    char kp[KC_PATH_MAX + 16];
    snprintf(kp, sizeof kp, "%s/audit.key", bk);
    KC_CHECK(stat(kp, &kst) == 0 && (kst.st_mode & 0777) == 0600, "audit.key copied with 0600");
    fprintf(stderr, "admin_live_test: backup at %llu/%llu entries (%llu committed before)\n",
            (unsigned long long)bsize, (unsigned long long)total, (unsigned long long)before);

    /* a second backup into an existing non-empty directory is refused */
    char *o = NULL, *e = NULL;
    int rc = kc_run("backup-again", &o, &e, "kc-admin", "backup", "--store", store, bk,
                    (const char *)NULL);
    KC_CHECK(rc == 73 && e && strstr(e, "not an empty directory"), "backup over %s: %d %s", bk, rc,
             e ? e : "");
    free(o);
    free(e);

    /* 2. the live store: stat shows the aggregator; restore and compact refused */
    rc = kc_run("stat-live", &o, &e, "kc-admin", "stat", "--store", store, "--format", "json",
                (const char *)NULL);
    KC_CHECK(rc == 0, "stat exited %d: %s", rc, e ? e : "");
    json_t *st = kc_json(o, "stat --format json");
    KC_CHECK(kc_json_int(st, "format") == 4, "stat format");
    KC_CHECK(kc_json_int(st, "map_bytes") > 0 && kc_json_int(st, "file_bytes") > 0, "sizes");
    KC_CHECK(kc_json_int(st, "used_bytes") <= kc_json_int(st, "map_bytes"), "map use");
    json_t *ob = json_object_get(st, "open_by_other_process");
    KC_CHECK(json_is_object(ob) && json_integer_value(json_object_get(ob, "pid")) == agg.pid,
             "stat names the aggregator (pid %d) as holding the store", (int)agg.pid);
    json_t *counts = json_object_get(st, "counts");
    KC_CHECK(json_is_object(counts) && kc_json_int(counts, "log_entries") >= (long long)bsize &&
                 kc_json_int(counts, "producers") >= 1 && kc_json_int(counts, "units") >= 1 &&
                 kc_json_int(counts, "cells") >= 1,
             "stat counts");
    json_t *tables = json_object_get(st, "tables");
    KC_CHECK(json_is_object(tables) && json_is_object(json_object_get(tables, "log")) &&
                 json_is_object(json_object_get(tables, "units")),
             "stat tables");
    json_t *readers = json_object_get(st, "readers");
    KC_CHECK(json_is_object(readers) && kc_json_int(readers, "stale") == 0 &&
                 kc_json_int(readers, "max") >= 1,
             "stat readers");
    KC_CHECK(json_is_object(json_object_get(st, "last_signed_head")) ||
                 json_is_null(json_object_get(st, "last_signed_head")),
             "stat head");
    json_decref(st);
    free(o);
    free(e);
    rc = kc_run("stat-text", &o, &e, "kc-admin", "stat", "--store", store, (const char *)NULL);
    KC_CHECK(rc == 0 && o && strstr(o, "format:          4") && strstr(o, "log entries:") &&
                 strstr(o, "units:") && strstr(o, "readers:") && strstr(o, "open by:         pid"),
             "stat text: %s", o ? o : "");
    free(o);
    free(e);
    rc = kc_run("restore-live", &o, &e, "kc-admin", "restore", "--store", store, bk,
                (const char *)NULL);
    KC_CHECK(rc == 75 && e && strstr(e, "open by another process"),
             "restore over the live store: "
             "%d %s",
             rc, e ? e : "");
    free(o);
    free(e);
    rc =
        kc_run("compact-live", &o, &e, "kc-admin", "compact", "--store", store, (const char *)NULL);
    KC_CHECK(rc == 75 && e && strstr(e, "open by another process"),
             "compact of the live store: "
             "%d %s",
             rc, e ? e : "");
    free(o);
    free(e);

    /* 3. the stream ends; restore the backup into a new directory and verify it */
    for (int i = 0; i < PRODUCERS; i++) {
        kc_summary_t s;
        kc_harness_send_check(pid[i], out[i], SEND_MS, ROWS, &s);
    }
    KC_RUN_OK("restore-new", "kc-admin", "restore", "--store", restored, bk);
    uint64_t rsize = 0;
    KC_CHECK(kc_harness_log_size(restored, &rsize) == 0 && rsize == bsize,
             "restored log size %llu, manifest %llu", (unsigned long long)rsize,
             (unsigned long long)bsize);
    KC_RUN_OK("replay-restored", "kc-replay", "verify", "--store", restored);
    KC_RUN_OK("audit-restored", "kc-audit", "verify", "--store", restored);

    /* 4. stopped: compact keeps totals and audit, and does not grow the file */
    kc_harness_agg_term(&agg);
    kc_verify_store(store, &expect);
    char *q1 = s_query_all(store, "query-before");
    long long sz1 = s_file_size(store);
    KC_RUN_OK("compact", "kc-admin", "compact", "--store", store);
    char *q2 = s_query_all(store, "query-after");
    long long sz2 = s_file_size(store);
    KC_CHECK(strcmp(q1, q2) == 0, "totals changed by compact");
    KC_CHECK(sz2 <= sz1, "compact grew the file: %lld -> %lld", sz1, sz2);
    KC_RUN_OK("audit-compacted", "kc-audit", "verify", "--store", store);
    KC_RUN_OK("replay-compacted", "kc-replay", "verify", "--store", store);
    kc_verify_store(store, &expect);
    free(q1);
    free(q2);
    fprintf(stderr, "admin_live_test: compact %lld -> %lld bytes\n", sz1, sz2);

    /* restore over the stopped store: the old one is kept aside */
    rc = kc_run("restore-over", &o, &e, "kc-admin", "restore", "--store", store, bk,
                (const char *)NULL);
    KC_CHECK(rc == 0 && o && strstr(o, "kept in"), "restore over the stopped store: %d %s %s", rc,
             o ? o : "", e ? e : "");
    free(o);
    free(e);
    KC_CHECK(kc_harness_log_size(store, &rsize) == 0 && rsize == bsize, "store now the backup");
    KC_RUN_OK("audit-over", "kc-audit", "verify", "--store", store);
    /* the restored store takes writes again: the producers' spools are empty, so
     * start the aggregator on it and stop it cleanly */
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", NULL);
    kc_harness_agg_term(&agg);
    kc_harness_pass();
    printf("admin_live_test: ok (backup of %llu/%llu entries mid-stream)\n",
           (unsigned long long)bsize, (unsigned long long)total);
    return 0;
}
