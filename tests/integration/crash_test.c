/* crash_test.c - 4 producers x 10,000 events while the aggregator is SIGKILLed
 * and restarted twice (and, between those, stopped cleanly with SIGTERM and
 * restarted once): totals equal the CSV sums exactly, the log holds each
 * event once.
 *
 * Synchronisation: the aggregator is ready when its --ready-file appears; the
 * stops are triggered by observed progress (the store's log, read read-only,
 * has grown past 1/4, 2/4 and 3/4 of all events), never by time. While it is
 * down, kc-query must still answer from the store. Every
 * incarnation binds the same fixed port so the kc-send processes reconnect
 * (Lazy Pirate) to the new one. The test then waits for every kc-send to exit
 * 0, stops the aggregator with SIGTERM (exit 0) and checks the store: totals,
 * `kc-replay verify` (totals recomputed from the log alone) and `kc-audit
 * verify` (leaves, subtrees and signed heads) on the crashed-and-restarted store.
 */
#include "gen_csv.h"
#include "harness.h"
#include "kc_err.h"
#include "verify.h"

#include <stdbool.h>
#include <stdio.h>

#define PRODUCERS   4
#define ROWS        10000
#define STOPS       3      /* SIGKILL at 1/4, SIGTERM at 2/4, SIGKILL at 3/4 of the log */
#define PROGRESS_MS 120000 /* bound on reaching each kill threshold */
#define SEND_MS     180000 /* bound on each kc-send finishing */
#define QUERY_MS    10000  /* bound on kc-query answering */

static pid_t s_send[PRODUCERS];
static char s_out[PRODUCERS][KC_PATH_MAX];

/* Fail early if a sender ended badly while we wait for progress. */
static void s_check_senders(int *done)
{
    for (int i = 0; i < PRODUCERS; i++) {
        int st;
        if (s_send[i] > 0 && kc_harness_exited(s_send[i], &st)) {
            char sb[64];
            KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kc-send %d ended early: %s", i + 1,
                     kc_harness_status_str(st, sb, sizeof sb));
            s_send[i] = -1; /* ended well; summary checked at the end */
            (*done)++;
        }
    }
}

/* Run `PROG CMD --store STORE` and require exit 0 (output kept in PROG-CMD.out). */
static void s_run_ok(const char *prog, const char *cmd, const char *store)
{
    char bin[KC_PATH_MAX], out[KC_PATH_MAX];
    kc_harness_bin(bin, prog);
    kc_harness_path(out, "%s-%s.out", prog, cmd);
    char *argv[] = {bin, (char *)cmd, "--store", (char *)store, "--quiet", NULL};
    pid_t pid = kc_harness_spawn(argv, out, out);
    int st;
    KC_CHECK(kc_harness_wait(pid, QUERY_MS * 6, &st) == 0, "%s %s did not end", prog, cmd);
    char sb[64];
    KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s %s --store: %s (see %s)", prog, cmd,
             kc_harness_status_str(st, sb, sizeof sb), out);
}

int main(void)
{
    kc_harness_init("crash_test");
    kc_gen_sums_t expect = {0};
    char csv[PRODUCERS][KC_PATH_MAX], spool[PRODUCERS][KC_PATH_MAX], prod[PRODUCERS][16];
    for (int i = 0; i < PRODUCERS; i++) {
        snprintf(prod[i], sizeof prod[i], "prov-%d", i + 1);
        kc_harness_path(csv[i], "%s.csv", prod[i]);
        kc_harness_path(spool[i], "spool-%d", i + 1);
        kc_harness_path(s_out[i], "send-%d.out", i + 1);
        KC_CHECK(kc_gen_csv(csv[i], prod[i], 100 + i, ROWS, &expect) == 0, "write %s", csv[i]);
    }
    const uint64_t total = expect.events;

    char listen[64], store[KC_PATH_MAX];
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", kc_harness_free_port());
    kc_harness_path(store, "store");
    kc_agg_t agg = {0};
    /* a small map: it grows (abort, grow, redo) across the crashes too */
    const char *const agg_extra[] = {"--map-size", "2097152", NULL};
    kc_harness_agg_start(&agg, store, listen, agg_extra);

    const char *const extra[] = {"--batch", "250", NULL};
    for (int i = 0; i < PRODUCERS; i++)
        s_send[i] = kc_harness_send_start(listen, prod[i], spool[i], csv[i], s_out[i], extra);

    int done = 0;
    for (int k = 1; k <= STOPS; k++) {
        uint64_t threshold = total * (uint64_t)k / (STOPS + 1), size = 0;
        int64_t deadline = kc_harness_now_ms() + PROGRESS_MS;
        for (;;) {
            int rc = kc_harness_log_size(store, &size);
            KC_CHECK(rc == 0, "read log size: %s", kc_strerror(rc));
            if (size >= threshold)
                break;
            s_check_senders(&done);
            KC_CHECK(done < PRODUCERS, "every kc-send ended with the log at %llu < %llu",
                     (unsigned long long)size, (unsigned long long)threshold);
            KC_CHECK(kc_harness_now_ms() < deadline, "log stuck at %llu (< %llu) for %d ms",
                     (unsigned long long)size, (unsigned long long)threshold, PROGRESS_MS);
            kc_harness_poll_pause();
        }
        bool term = k == 2; /* the middle stop is a clean one */
        if (term)
            kc_harness_agg_term(&agg); /* commits what it holds, exits 0 */
        else
            kc_harness_agg_kill(&agg);
        fprintf(stderr, "crash_test: %s the aggregator with the log at %llu/%llu%s\n",
                term ? "SIGTERMed" : "SIGKILLed", (unsigned long long)size,
                (unsigned long long)total, size < total ? "" : " (after the last commit)");
        /* readers need no writer: kc-query answers while the aggregator is down */
        kc_verify_query_once(store, 2022, QUERY_MS);
        kc_harness_agg_start(&agg, store, listen, agg_extra);
    }

    long accepted = 0, duplicates = 0;
    for (int i = 0; i < PRODUCERS; i++) {
        kc_summary_t s = {0};
        kc_harness_send_check(s_send[i], s_out[i], SEND_MS, ROWS, &s);
        accepted += s.accepted;
        duplicates += s.duplicates;
    }
    kc_harness_agg_term(&agg);
    fprintf(stderr, "crash_test: senders report accepted=%ld duplicates=%ld\n", accepted,
            duplicates);

    kc_verify_store(store, &expect);
    kc_verify_query(store, &expect);
    /* the totals are what the log alone gives, and the log verifies */
    s_run_ok("kc-replay", "verify", store);
    s_run_ok("kc-audit", "verify", store);
    kc_harness_pass();
    printf("crash_test: ok (%llu events, 2 aggregator SIGKILLs and 1 SIGTERM mid-stream)\n",
           (unsigned long long)total);
    return 0;
}
