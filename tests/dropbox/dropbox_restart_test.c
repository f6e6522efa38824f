/* dropbox_restart_test.c - kc-send --watch while the aggregator is down, across
 * a restart of kc-send.
 *
 * Two files are in the inbox before kc-send starts (old.csv older than
 * new.csv); the aggregator (a fixed free port on 127.0.0.1) is not running.
 * kc-send takes old.csv first, spools its rows and waits: the file stays in
 * the inbox (checked once kc-send has told the clerk "cannot reach the centre
 * (ENDPOINT); 80 rows safe in the spool; retrying"). A third file arrives
 * meanwhile. SIGTERM: exit 0, the file still in the inbox. kc-send is started
 * again (rows resumed from the spool, old.csv imported again) and says again
 * that the centre cannot be reached; then the aggregator comes up: kc-send says
 * "reached the centre (ENDPOINT) again", every file goes to done/, oldest
 * first, and the totals are exact (kc-query and the store's log).
 */
#include "dropbox_util.h"
#include "gen_csv.h"
#include "harness.h"
#include "verify.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static long s_count(const char *report, const char *key)
{
    FILE *f = fopen(report, "r");
    KC_CHECK(f, "open %s", report);
    char line[512];
    long v = -1;
    size_t k = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, k) == 0 && line[k] == ':')
            v = strtol(line + k + 1, NULL, 10);
    fclose(f);
    KC_CHECK(v >= 0, "%s: no '%s:' line", report, key);
    return v;
}

static void s_add(kc_gen_sums_t *to, const kc_gen_sums_t *s)
{
    kc_gen_sums_add(to, s);
}

int main(void)
{
    kc_harness_init("dropbox_restart_test");
    char store[KC_PATH_MAX], inbox[KC_PATH_MAX], spool[KC_PATH_MAX], out1[KC_PATH_MAX];
    char out2[KC_PATH_MAX], path[KC_PATH_MAX], err[KC_PATH_MAX + 8], endpoint[64], listen[64];
    kc_harness_path(store, "store");
    kc_harness_path(inbox, "inbox");
    kc_harness_path(spool, "spool");
    kc_harness_path(out1, "watch-1.out");
    kc_harness_path(out2, "watch-2.out");
    KC_CHECK(mkdir(inbox, 0755) == 0, "mkdir %s", inbox);
    int port = kc_harness_free_port();
    snprintf(endpoint, sizeof endpoint, "tcp://127.0.0.1:%d", port);
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", port);

    /* files present before kc-send starts; old.csv has the older mtime */
    kc_gen_sums_t expect = {0}, s = {0};
    KC_CHECK(kc_gen_csv(kc_harness_path(path, "inbox/new.csv"), "N", 71, 60, &s) == 0, "gen");
    s_add(&expect, &s);
    memset(&s, 0, sizeof s);
    KC_CHECK(kc_gen_csv(kc_harness_path(path, "inbox/old.csv"), "O", 72, 80, &s) == 0, "gen");
    s_add(&expect, &s);
    struct timespec old[2] = {{.tv_sec = 1000000000}, {.tv_sec = 1000000000}};
    KC_CHECK(utimensat(AT_FDCWD, path, old, 0) == 0, "utimensat %s", path);

    /* kc-send with no aggregator: old.csv is taken and waits */
    pid_t w = db_watch_start(endpoint, spool, inbox, out1);
    snprintf(err, sizeof err, "%s.err", out1);
    char taking[KC_PATH_MAX + 16];
    snprintf(taking, sizeof taking, "taking %s/old.csv", inbox);
    db_wait_text(err, taking, w, 60000);
    memset(&s, 0, sizeof s);
    KC_CHECK(kc_gen_csv(kc_harness_path(path, "arrive.src"), "A", 73, 40, &s) == 0, "gen");
    s_add(&expect, &s);
    char dest[KC_PATH_MAX];
    KC_CHECK(rename(path, kc_harness_path(dest, "inbox/arrive.csv")) == 0, "rename");
    char down[256], up[256];
    snprintf(down, sizeof down,
             "kc-send: cannot reach the centre (%s); 80 rows safe in the spool; retrying\n",
             endpoint);
    snprintf(up, sizeof up, "kc-send: reached the centre (%s) again; sending\n", endpoint);
    db_wait_text(err, down, w, 60000);
    KC_CHECK(db_exists(kc_harness_path(path, "inbox/old.csv")) &&
                 !db_exists(kc_harness_path(path, "inbox/done/old.csv")) &&
                 !db_exists(kc_harness_path(path, "inbox/failed/old.csv")),
             "old.csv left the inbox while the aggregator was down");
    db_watch_term(w);
    KC_CHECK(db_exists(kc_harness_path(path, "inbox/old.csv")), "old.csv gone after SIGTERM");
    KC_CHECK(db_contains(err, "stays in"), "no 'stays in' message on stop");
    KC_CHECK(!db_contains(err, up), "'reached the centre' said while it was down");

    /* kc-send again (rows resumed from the spool): unreachable; then the aggregator */
    w = db_watch_start(endpoint, spool, inbox, out2);
    snprintf(err, sizeof err, "%s.err", out2);
    db_wait_text(err, "rows safe in the spool; retrying\n", w, 60000);
    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, store, listen, NULL);
    db_wait_text(err, up, w, 120000);
    const char *names[] = {"old.csv", "new.csv", "arrive.csv"};
    long rows[] = {80, 60, 40};
    for (int i = 0; i < 3; i++) {
        char rep[KC_PATH_MAX];
        db_wait_file(kc_harness_path(rep, "inbox/done/%s", names[i]), w, 120000); /* moved last */
        kc_harness_path(rep, "inbox/done/%s.report.txt", names[i]);
        KC_CHECK(s_count(rep, "rows") == rows[i], "%s: rows", rep);
        KC_CHECK(s_count(rep, "accepted") + s_count(rep, "duplicates") == rows[i],
                 "%s: accepted + duplicates != rows", rep);
        KC_CHECK(s_count(rep, "rejected") == 0 && s_count(rep, "refused") == 0, "%s", rep);
        KC_CHECK(db_exists(kc_harness_path(path, "inbox/done/%s", names[i])), "%s not in done/",
                 names[i]);
    }
    /* oldest first: old.csv (older mtime) was filed before new.csv */
    FILE *f = fopen(out2, "r");
    KC_CHECK(f, "open %s", out2);
    char line[1024];
    int at_old = -1, at_new = -1, n = 0;
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "file old.csv:", 13))
            at_old = n;
        if (!strncmp(line, "file new.csv:", 13))
            at_new = n;
        n++;
    }
    fclose(f);
    KC_CHECK(at_old >= 0 && at_new > at_old, "old.csv (line %d) not filed before new.csv (%d)",
             at_old, at_new);
    kc_verify_query(store, &expect);
    db_watch_term(w);
    kc_harness_agg_term(&agg);
    kc_verify_store(store, &expect);
    kc_harness_pass();
    printf("dropbox_restart_test: ok\n");
    return 0;
}
