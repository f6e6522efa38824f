/* fresh_spool_test.c - an office that lost its spool keeps its producer id and
 * sends NEW events: they must be counted, or refused loudly, never reported
 * accepted and dropped.
 *
 * A new spool restarts sequence numbers at 1 while the aggregator's
 * high-water mark for that producer is already higher. The acceptable
 * outcomes: kc-send exits 0 and every new event is in the store, or kc-send
 * exits non-zero and claims none of them accepted. Synchronisation: ready
 * file, waits on each kc-send's exit by pid with deadlines, SIGTERM for the
 * aggregator.
 */
#include "gen_csv.h"
#include "harness.h"
#include "verify.h"

#include <stdio.h>

#define ROWS_1  3000
#define ROWS_2  2000
#define SEND_MS 120000

int main(void)
{
    kc_harness_init("fresh_spool_test");
    kc_gen_sums_t first = {0}, both = {0};
    char csv1[KC_PATH_MAX], csv2[KC_PATH_MAX], spool1[KC_PATH_MAX], spool2[KC_PATH_MAX];
    char out1[KC_PATH_MAX], out2[KC_PATH_MAX], store[KC_PATH_MAX];
    kc_harness_path(csv1, "before.csv");
    kc_harness_path(csv2, "after.csv");
    kc_harness_path(spool1, "spool-lost");
    kc_harness_path(spool2, "spool-new");
    kc_harness_path(out1, "send-1.out");
    kc_harness_path(out2, "send-2.out");
    kc_harness_path(store, "store");
    KC_CHECK(kc_gen_csv(csv1, "before", 500, ROWS_1, &first) == 0, "write %s", csv1);
    both = first;
    KC_CHECK(kc_gen_csv(csv2, "after", 501, ROWS_2, &both) == 0, "write %s", csv2);

    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", NULL);
    kc_summary_t s;
    pid_t pid = kc_harness_send_start(agg.endpoint, "office-z", spool1, csv1, out1, NULL);
    kc_harness_send_check(pid, out1, SEND_MS, ROWS_1, &s);
    KC_CHECK(s.accepted == ROWS_1, "first run: accepted=%ld of %d", s.accepted, ROWS_1);

    /* the spool is lost; same office, new spool, new events */
    pid = kc_harness_send_start(agg.endpoint, "office-z", spool2, csv2, out2, NULL);
    int st = 0;
    if (kc_harness_wait(pid, SEND_MS, &st) != 0) {
        kc_harness_stop(pid, SIGKILL, 5000);
        KC_CHECK(false, "kc-send with a fresh spool did not end within %d ms", SEND_MS);
    }
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0;
    KC_CHECK(kc_harness_summary(out2, &s) == 0, "no summary line in %s", out2);
    kc_harness_agg_term(&agg);
    if (ok) {
        fprintf(stderr, "fresh_spool_test: kc-send exit 0, accepted=%ld duplicates=%ld\n",
                s.accepted, s.duplicates);
        kc_verify_store(store, &both); /* every new event counted */
    } else {
        char sb[64];
        fprintf(stderr, "fresh_spool_test: kc-send refused (%s), accepted=%ld\n",
                kc_harness_status_str(st, sb, sizeof sb), s.accepted);
        KC_CHECK(s.accepted == 0, "kc-send failed but claims %ld events accepted", s.accepted);
        kc_verify_store(store, &first);
    }
    kc_harness_pass();
    printf("fresh_spool_test: ok\n");
    return 0;
}
