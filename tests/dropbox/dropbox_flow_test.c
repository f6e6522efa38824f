/* dropbox_flow_test.c - kc-send --watch DIR with a live aggregator.
 *
 * One kc-aggregator (127.0.0.1 port 0, ready file) and one kc-send --watch on a
 * temp inbox. In turn: a good file (-> done/ + report, totals equal through
 * kc-query); a file with two rows refused before spooling (unknown province,
 * a month that is no number) beside two good ones (-> done/: its good rows
 * are counted; both bad rows with their row numbers and reasons in the
 * report); a file with rows above a metric's ceiling (too_large, refused)
 * beside a row at the ceiling, which the aggregator counts, and then a byte
 * that is not UTF-8, where reading stops (-> done/: rows were read; the
 * report says where reading stopped); a file written in two
 * halves (not taken while open: a marker file dropped after the first half is
 * filed first; taken once closed); a file moved in; dotfiles and *.tmp left
 * alone; the good file dropped again (all duplicates, totals unchanged, filed
 * under a timestamped name); SIGTERM exits 0. Every wait polls files within a
 * deadline; processes are stopped by pid.
 */
#include "dropbox_util.h"
#include "gen_csv.h"
#include "harness.h"
#include "kc_ref.h"
#include "verify.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define GOOD_ROWS 300

static const char *BAD_CSV = "event_id,province,year,month,activity,amount_vnd,facilities\n"
                             "B-1,79,2022,3,machinery,1000,2\n"
                             "B-2,99,2022,3,machinery,500,1\n"
                             "B-3,79,2022,x,machinery,7,1\n"
                             "B-4,79,2022,4,KC3b,3000,5\n";

static void s_add_bad(kc_gen_sums_t *s)
{
    s->events += 2;
    s->sums[KC_M_AMOUNT_VND] += 4000;
    s->sums[KC_M_FACILITIES] += 7;
}

int main(void)
{
    kc_harness_init("dropbox_flow_test");
    char store[KC_PATH_MAX], inbox[KC_PATH_MAX], spool[KC_PATH_MAX], out[KC_PATH_MAX];
    char src[KC_PATH_MAX], path[KC_PATH_MAX], p2[KC_PATH_MAX];
    kc_harness_path(store, "store");
    kc_harness_path(inbox, "inbox");
    kc_harness_path(spool, "spool");
    kc_harness_path(out, "watch.out");
    KC_CHECK(mkdir(inbox, 0755) == 0, "mkdir %s", inbox);

    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", NULL);
    pid_t w = db_watch_start(agg.endpoint, spool, inbox, out);
    KC_CHECK(db_exists(kc_harness_path(path, "inbox/done")), "done/ not created");
    KC_CHECK(db_exists(kc_harness_path(path, "inbox/failed")), "failed/ not created");

    /* 1. a good file, saved straight into the inbox */
    kc_gen_sums_t expect = {0}, good = {0};
    kc_harness_path(src, "good.src.csv");
    KC_CHECK(kc_gen_csv(src, "G", 61, GOOD_ROWS, &good) == 0, "gen %s", src);
    expect = good;
    db_copy(src, kc_harness_path(path, "inbox/good.csv"));
    /* the file is moved last, after its reports */
    db_wait_file(kc_harness_path(p2, "inbox/done/good.csv"), w, DB_WAIT_MS);
    kc_harness_path(p2, "inbox/done/good.csv.report.txt");
    KC_CHECK(db_exists(kc_harness_path(path, "inbox/done/good.csv")), "good.csv not in done/");
    KC_CHECK(!db_exists(kc_harness_path(path, "inbox/good.csv")), "good.csv still in the inbox");
    KC_CHECK(db_contains(p2, "rows: 300\n") && db_contains(p2, "accepted: 300\n") &&
                 db_contains(p2, "duplicates: 0\n") && db_contains(p2, "rejected: 0 ") &&
                 db_contains(p2, "refused: 0 ") && db_contains(p2, "producer: office-drop\n") &&
                 db_contains(p2, "time: "),
             "report %s lacks the expected counts", p2);
    kc_verify_query(store, &expect);

    /* 2. two good rows and two refused ones -> done/ (its good rows are counted) */
    db_write(kc_harness_path(path, "inbox/BAD.CSV"), BAD_CSV); /* upper-case extension */
    s_add_bad(&expect);
    /* the file is moved last, after its reports */
    db_wait_file(kc_harness_path(p2, "inbox/done/BAD.CSV"), w, DB_WAIT_MS);
    kc_harness_path(p2, "inbox/done/BAD.CSV.report.txt");
    KC_CHECK(db_exists(kc_harness_path(path, "inbox/done/BAD.CSV")), "BAD.CSV not in done/");
    KC_CHECK(!db_exists(kc_harness_path(path, "inbox/failed/BAD.CSV")), "BAD.CSV in failed/");
    KC_CHECK(db_contains(p2, "outcome: done: the rows read were sent") &&
                 db_contains(p2, "rows: 4\n") && db_contains(p2, "accepted: 2\n") &&
                 db_contains(p2, "rejected: 0 ") && db_contains(p2, "refused: 2 "),
             "report %s: wrong counts", p2);
    KC_CHECK(db_contains(p2, "not sent: BAD.CSV row 3, column B (province): unknown province "
                             "'99': valid values are 01"),
             "report %s lacks the refused row 3", p2);
    KC_CHECK(db_contains(p2, "not sent: BAD.CSV row 4, column D (month): 'x' is not a number"),
             "report %s lacks the refused row 4", p2);
    kc_verify_query(store, &expect);

    /* 2b. rows refused before spooling (above a ceiling), then a byte that is
     * not UTF-8 where reading stops -> done/; the row at the ceiling is counted */
    long long amax = (long long)kc_ref_metric(KC_M_AMOUNT_VND)->max;
    long long fmax = (long long)kc_ref_metric(KC_M_FACILITIES)->max;
    char refused[1024];
    snprintf(refused, sizeof refused,
             "event_id,province,year,month,activity,amount_vnd,facilities\n"
             "R-1,79,2022,5,KC3b,%lld,1\n"
             "R-2,79,2022,5,KC3b,%lld,1\n"
             "R-3,79,2022,5,KC3b,7,%lld\n"
             "R-\xff\xfe,79,2022,5,KC3b,7,1\n"
             "R-5,79,2022,5,KC3b,7,1\n",
             amax, amax + 1, fmax + 1);
    db_write(kc_harness_path(path, "inbox/refused.csv"), refused);
    expect.events += 1;
    expect.sums[KC_M_AMOUNT_VND] += amax;
    expect.sums[KC_M_FACILITIES] += 1;
    /* the file is moved last, after its reports */
    db_wait_file(kc_harness_path(p2, "inbox/done/refused.csv"), w, DB_WAIT_MS);
    kc_harness_path(p2, "inbox/done/refused.csv.report.txt");
    KC_CHECK(db_exists(kc_harness_path(path, "inbox/done/refused.csv")),
             "refused.csv not in done/");
    KC_CHECK(db_contains(p2, "outcome: done: the rows read were sent") &&
                 db_contains(p2, "rows: 4\n") && db_contains(p2, "accepted: 1\n") &&
                 db_contains(p2, "rejected: 0 ") && db_contains(p2, "refused: 3 "),
             "report %s: wrong counts", p2);
    char want[256];
    snprintf(want, sizeof want,
             "not sent: refused.csv row 3, column F (amount_vnd): '%lld' is larger than the "
             "largest amount_vnd allowed in one row (%lld) [too_large]",
             amax + 1, amax);
    KC_CHECK(db_contains(p2, want), "report %s lacks '%s'", p2, want);
    snprintf(want, sizeof want,
             "not sent: refused.csv row 4, column G (facilities): '%lld' is larger than the "
             "largest facilities allowed in one row (%lld) [too_large]",
             fmax + 1, fmax);
    KC_CHECK(db_contains(p2, want), "report %s lacks '%s'", p2, want);
    KC_CHECK(db_contains(p2, "the file could not be read to its end: the rows before this point "
                             "were sent, the rest were not read [read_error]\n") &&
                 db_contains(p2, "line 5, column 1 (A): the file is not UTF-8 (byte 0xFF)"),
             "report %s lacks where reading stopped (line 5)", p2);
    kc_verify_query(store, &expect);

    /* 3. ignored names, and a file written in two halves */
    db_copy(src, kc_harness_path(path, "inbox/.hidden.csv"));
    db_copy(src, kc_harness_path(path, "inbox/copying.csv.tmp"));
    db_copy(src, kc_harness_path(path, "inbox/copying.part"));
    kc_gen_sums_t half = {0};
    kc_harness_path(p2, "half.src.csv");
    KC_CHECK(kc_gen_csv(p2, "H", 62, 100, &half) == 0, "gen %s", p2);
    FILE *hf = fopen(p2, "rb");
    KC_CHECK(hf, "open %s", p2);
    static char hbuf[1 << 20];
    size_t hlen = fread(hbuf, 1, sizeof hbuf - 1, hf);
    fclose(hf);
    size_t cut = hlen / 2;
    int fd = open(kc_harness_path(path, "inbox/halves.csv"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    KC_CHECK(fd >= 0, "open %s: %s", path, strerror(errno));
    KC_CHECK(write(fd, hbuf, cut) == (ssize_t)cut, "write half");
    KC_CHECK(fsync(fd) == 0, "fsync");
    /* a marker dropped after the first half is filed: the watcher has seen
     * every event up to it, and did not take the open file */
    kc_gen_sums_t marker = {0};
    kc_harness_path(p2, "marker.src.csv");
    KC_CHECK(kc_gen_csv(p2, "M", 63, 5, &marker) == 0, "gen %s", p2);
    db_copy(p2, kc_harness_path(path, "inbox/marker.csv"));
    /* the file is moved last, after its reports */
    db_wait_file(kc_harness_path(p2, "inbox/done/marker.csv"), w, DB_WAIT_MS);
    kc_harness_path(p2, "inbox/done/marker.csv.report.txt");
    KC_CHECK(!db_exists(kc_harness_path(p2, "inbox/done/halves.csv")) &&
                 !db_exists(kc_harness_path(p2, "inbox/failed/halves.csv")) &&
                 db_exists(kc_harness_path(p2, "inbox/halves.csv")),
             "the half-written file was taken while still open");
    KC_CHECK(!db_contains(out, "file halves.csv"), "halves.csv was taken while still open");
    KC_CHECK(write(fd, hbuf + cut, hlen - cut) == (ssize_t)(hlen - cut), "write rest");
    KC_CHECK(close(fd) == 0, "close");
    /* the file is moved last, after its reports */
    db_wait_file(kc_harness_path(p2, "inbox/done/halves.csv"), w, DB_WAIT_MS);
    kc_harness_path(p2, "inbox/done/halves.csv.report.txt");
    KC_CHECK(db_contains(p2, "rows: 100\n") && db_contains(p2, "accepted: 100\n"),
             "halves.csv: report %s: not all 100 rows", p2);
    kc_gen_sums_add(&expect, &half);
    kc_gen_sums_add(&expect, &marker);

    /* 4. a file moved in (written elsewhere, renamed into the inbox) */
    kc_gen_sums_t moved = {0};
    kc_harness_path(p2, "moved.csv");
    KC_CHECK(kc_gen_csv(p2, "V", 64, 50, &moved) == 0, "gen %s", p2);
    KC_CHECK(rename(p2, kc_harness_path(path, "inbox/moved.csv")) == 0, "rename: %s",
             strerror(errno));
    /* the file is moved last, after its reports */
    db_wait_file(kc_harness_path(p2, "inbox/done/moved.csv"), w, DB_WAIT_MS);
    kc_harness_path(p2, "inbox/done/moved.csv.report.txt");
    KC_CHECK(db_contains(p2, "accepted: 50\n"), "moved.csv: report %s", p2);
    kc_gen_sums_add(&expect, &moved);
    kc_verify_query(store, &expect);

    /* 5. the good file dropped again: all duplicates, totals unchanged, a new name */
    db_copy(src, kc_harness_path(path, "inbox/good.csv"));
    kc_harness_path(p2, "inbox/done");
    int64_t deadline = kc_harness_now_ms() + DB_WAIT_MS;
    char again[KC_PATH_MAX];
    char again_file[KC_PATH_MAX];
    for (;;) { /* its report, then the file itself (moved last) */
        if (db_find(p2, "good.", ".csv.report.txt", "good.csv.report.txt", again)) {
            snprintf(again_file, sizeof again_file, "%.*s",
                     (int)(strlen(again) - strlen(".report.txt")), again);
            if (db_exists(again_file))
                break;
        }
        KC_CHECK(kc_harness_now_ms() < deadline, "the second good.csv was not filed");
        kc_harness_poll_pause();
    }
    KC_CHECK(db_contains(again, "rows: 300\n") && db_contains(again, "accepted: 0\n") &&
                 db_contains(again, "duplicates: 300\n") &&
                 db_contains(again, "outcome: done: every row was accepted"),
             "second good.csv: report %s should show 300 duplicates", again);
    again[strlen(again) - strlen(".report.txt")] = '\0';
    KC_CHECK(db_exists(again), "%s (the second good.csv) missing", again);
    KC_CHECK(
        db_exists(kc_harness_path(path, "inbox/done/good.csv")) &&
            db_contains(kc_harness_path(path, "inbox/done/good.csv.report.txt"), "accepted: 300\n"),
        "the first good.csv or its report was overwritten");
    kc_verify_query(store, &expect);

    /* ignored names are still there, untouched */
    KC_CHECK(db_exists(kc_harness_path(path, "inbox/.hidden.csv")) &&
                 db_exists(kc_harness_path(path, "inbox/copying.csv.tmp")) &&
                 db_exists(kc_harness_path(path, "inbox/copying.part")),
             "a dotfile or temporary name was taken");

    /* 6. SIGTERM: exit 0 */
    db_watch_term(w);
    KC_CHECK(db_contains(out, "file good.csv: done/good.csv rows=300 accepted=300"),
             "stdout lacks the per-file line");
    kc_harness_agg_term(&agg);
    kc_verify_store(store, &expect);
    kc_harness_pass();
    printf("dropbox_flow_test: ok\n");
    return 0;
}
