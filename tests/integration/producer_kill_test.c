/* producer_kill_test.c - a kc-send SIGKILLed mid-stream and rerun with the
 * same spool and file: every event counted exactly once.
 *
 * Synchronisation: the kill is triggered when the store (read read-only)
 * shows that the aggregator has counted some of the victim's events but not
 * all; the rerun and the untouched second producer are waited for by pid with
 * deadlines; the aggregator stops on SIGTERM.
 */
#include "gen_csv.h"
#include "harness.h"
#include "kc_err.h"
#include "verify.h"

#include <signal.h>
#include <stdio.h>

#define ROWS        8000
#define PROGRESS_MS 120000
#define SEND_MS     180000

int main(void)
{
    kc_harness_init("producer_kill_test");
    kc_gen_sums_t expect = {0};
    char csv[2][KC_PATH_MAX], spool[2][KC_PATH_MAX], out[2][KC_PATH_MAX], rerun[KC_PATH_MAX];
    const char *prod[2] = {"office-a", "office-b"};
    for (int i = 0; i < 2; i++) {
        kc_harness_path(csv[i], "%s.csv", prod[i]);
        kc_harness_path(spool[i], "spool-%d", i);
        kc_harness_path(out[i], "send-%d.out", i);
        KC_CHECK(kc_gen_csv(csv[i], prod[i], 200 + i, ROWS, &expect) == 0, "write %s", csv[i]);
    }
    kc_harness_path(rerun, "send-0-rerun.out");
    char store[KC_PATH_MAX];
    kc_harness_path(store, "store");
    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", NULL);

    const char *const extra[] = {"--batch", "250", NULL};
    pid_t victim = kc_harness_send_start(agg.endpoint, prod[0], spool[0], csv[0], out[0], extra);
    pid_t other = kc_harness_send_start(agg.endpoint, prod[1], spool[1], csv[1], out[1], extra);

    /* SIGKILL the victim once the store holds some, not all, of its events */
    uint64_t accepted = 0, hwm = 0;
    int64_t deadline = kc_harness_now_ms() + PROGRESS_MS;
    for (;;) {
        int rc = kc_harness_producer_counts(store, prod[0], &accepted, &hwm);
        KC_CHECK(rc == 0, "read producer state: %s", kc_strerror(rc));
        if (accepted >= ROWS / 4)
            break;
        int st;
        KC_CHECK(!kc_harness_exited(victim, &st), "kc-send %s ended before it could be killed",
                 prod[0]);
        KC_CHECK(kc_harness_now_ms() < deadline, "%s: only %llu events counted after %d ms",
                 prod[0], (unsigned long long)accepted, PROGRESS_MS);
        kc_harness_poll_pause();
    }
    int st = kc_harness_stop(victim, SIGKILL, 10000);
    KC_CHECK(WIFSIGNALED(st), "kc-send %s ended before SIGKILL reached it", prod[0]);
    kc_harness_producer_counts(store, prod[0], &accepted, &hwm);
    fprintf(stderr, "producer_kill_test: SIGKILLed kc-send %s with %llu/%d of its events counted\n",
            prod[0], (unsigned long long)accepted, ROWS);

    /* rerun: same spool, same file */
    pid_t again = kc_harness_send_start(agg.endpoint, prod[0], spool[0], csv[0], rerun, extra);
    kc_summary_t s = {0};
    kc_harness_send_check(again, rerun, SEND_MS, -1, &s);
    fprintf(stderr, "producer_kill_test: rerun rows=%ld accepted=%ld duplicates=%ld\n", s.rows,
            s.accepted, s.duplicates);
    /* rows = events resumed from the spool + the file's rows (kc-send's contract) */
    KC_CHECK(s.rows >= ROWS && s.rows <= 2 * ROWS, "the rerun reports rows=%ld for a %d-row file",
             s.rows, ROWS);
    KC_CHECK((uint64_t)s.duplicates >= accepted,
             "the rerun reports %ld duplicates, but %llu rows were counted before the kill",
             s.duplicates, (unsigned long long)accepted);
    kc_summary_t s2 = {0};
    kc_harness_send_check(other, out[1], SEND_MS, ROWS, &s2);
    KC_CHECK(s2.accepted == ROWS, "untouched producer: accepted=%ld of %d", s2.accepted, ROWS);
    kc_harness_agg_term(&agg);

    kc_verify_store(store, &expect);
    kc_verify_query(store, &expect);
    kc_harness_pass();
    printf("producer_kill_test: ok (%llu events)\n", (unsigned long long)expect.events);
    return 0;
}
