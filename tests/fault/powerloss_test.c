/* powerloss_test.c - fault scenario 8: power loss, i.e. every write not yet
 * fsync'd is lost at the crash point, at the aggregator's store and at a
 * producer's spool.
 *
 * The shim libkcpowerloss.so (powerloss_shim.c) is preloaded into the
 * process under test with KC_POWERLOSS_DIR = its store or spool and
 * KC_POWERLOSS_AT = a seeded random count of tracked write/sync calls: at
 * that call it undoes every unsynced write, truncates files back to their
 * synced size, appends a line to the report file and SIGKILLs the process.
 * A. Aggregator: producers stream to an aggregator that dies this way again
 *    and again (each incarnation gets a new crash count in 10..609); one more
 *    producer joins at each incarnation, and whenever all others ended, so
 *    writes do not run dry (short: 4 power losses, producers of 6,000 events;
 *    --long: 12, 15,000 each); the producers resend. After each loss the oracle runs on the store
 * as it "survived" (no duplicates, order, nothing foreign, kc-replay verify, kc-audit verify),
 * and so does the per-cell check (kc_verify_cells: each producer's rows in the log are its
 * first k, and every cell equals the generator's own expectation after them; the CSVs hold
 * corrections and retractions, so these cross the losses). Since a producer deletes an event
 * from its spool only after its Ack, an acknowledged event lost by the store would be missing
 * at the end, where the sums of the producers started (kc_gen_sums) are checked in full:
 * globally and cell by cell (kc_verify_store). B. Spool: a kc-send is preloaded
 * (KC_POWERLOSS_DIR = its spool) and dies at a random call (short: 2 rounds, --long: 6),
 *    each followed by the per-cell check; the rerun (no shim) with the same spool and file
 *    must open the spool and end clean.
 * Synchronisation: the test waits (bounded) for the process's own death by
 * signal 9 and for the report line; restarts wait for the ready file.
 */
#include "fault_util.h"
#include "oracle.h"
#include "verify.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CRASH_MS 300000
#define SEND_MS  500000

static char s_shim[KC_PATH_MAX], s_report[KC_PATH_MAX];

/* Preload the shim into the next children (dir tracked, crash at call `at`). */
static void s_shim_on(const char *dir, long at)
{
    char v[32];
    kc_fault_preload(s_shim, NULL);
    setenv("KC_POWERLOSS_DIR", dir, 1);
    snprintf(v, sizeof v, "%ld", at);
    setenv("KC_POWERLOSS_AT", v, 1);
    setenv("KC_POWERLOSS_REPORT", s_report, 1);
}

static void s_shim_off(void)
{
    unsetenv("KC_POWERLOSS_DIR");
    unsetenv("KC_POWERLOSS_AT");
    unsetenv("KC_POWERLOSS_REPORT");
    kc_fault_unpreload();
}

static void s_part_a(bool lng, uint64_t *rng)
{
    const int losses = lng ? 12 : 4;
    kc_fleet_t f; /* producers join one per incarnation and whenever all others ended */
    kc_fleet_init(&f, KC_FLEET_MAX, lng ? 15000 : 6000, 1400, "pl", NULL);
    char listen[64], store[KC_PATH_MAX];
    snprintf(listen, sizeof listen, "tcp://127.0.0.1:%d", kc_harness_free_port());
    kc_harness_path(store, "store");
    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, store, listen, NULL); /* create the store without the shim */
    kc_harness_agg_term(&agg);
    int next = 0, done = 0;
    for (int k = 0; k < losses && next < f.n; k++) {
        long at = 10 + (long)(kc_fault_rand(rng) % 600);
        s_shim_on(store, at);
        kc_harness_agg_start(&agg, store, listen, NULL);
        s_shim_off();
        kc_fleet_start(&f, next++, listen);
        int st = 0;
        int before = kc_fault_count(s_report, "powerloss pid=");
        int64_t deadline = kc_harness_now_ms() + CRASH_MS;
        while (!kc_harness_exited(agg.pid, &st)) {
            if (kc_fleet_poll(&f) == 0) { /* writes ran dry: another producer joins */
                if (next == f.n)
                    break;
                kc_fleet_start(&f, next++, listen);
            }
            KC_CHECK(kc_harness_now_ms() < deadline,
                     "the aggregator did not reach tracked call %ld within %d ms", at, CRASH_MS);
            kc_harness_poll_pause();
        }
        if (next == f.n && kc_fleet_poll(&f) == 0 && agg.pid > 0 &&
            !kc_harness_exited(agg.pid, &st)) {
            kc_harness_agg_term(&agg); /* every producer done before the crash point */
            break;
        }
        agg.pid = 0;
        char sb[64];
        KC_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
                 "the aggregator under the shim ended with %s, not a power loss",
                 kc_harness_status_str(st, sb, sizeof sb));
        KC_CHECK(kc_fault_count(s_report, "powerloss pid=") > before, "no report line");
        done++;
        uint64_t size = kc_fault_log_size(store);
        fprintf(stderr, "powerloss_test: A: power loss %d/%d at tracked call %ld, log %llu\n",
                k + 1, losses, at, (unsigned long long)size);
        kc_fleet_poll(&f);
        char when[64];
        snprintf(when, sizeof when, "after power loss %d", k + 1);
        kc_oracle_assert(store, f.src, (size_t)next, true, NULL, when, NULL);
        kc_verify_cells(store, &f.sums, when); /* each producer's rows so far, per cell */
    }
    KC_CHECK(done >= losses / 2, "only %d power losses happened", done);
    kc_harness_agg_start(&agg, store, listen, NULL);
    kc_fleet_wait_all(&f, SEND_MS);
    kc_harness_agg_term(&agg);
    kc_gen_sums_t sent = {0}; /* the files of the producers that were started */
    for (int i = 0; i < next; i++)
        KC_CHECK(kc_gen_sums(f.src[i].prefix, f.src[i].seed, f.src[i].rows, &sent) == 0,
                 "the sums of %s", f.src[i].prefix);
    kc_oracle_result_t res;
    kc_oracle_scan(store, f.src, (size_t)next, &res);
    kc_oracle_summary(lng ? "8a-powerloss-aggregator-long" : "8a-powerloss-aggregator", &res);
    kc_oracle_assert(store, f.src, (size_t)next, true, &sent, "at the end", &res);
}

static void s_part_b(bool lng, uint64_t *rng)
{
    const int rounds = lng ? 6 : 2;
    kc_fleet_t f;
    kc_fleet_init(&f, 1, lng ? 20000 : 5000, 1500, "plspool", NULL);
    char store[KC_PATH_MAX];
    kc_harness_path(store, "store-b");
    kc_agg_t agg = {.incarnation = 100};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", NULL);
    for (int k = 0; k < rounds; k++) {
        long at = 5 + (long)(kc_fault_rand(rng) % 40); /* a spool makes few calls */
        s_shim_on(f.spool[0], at);
        kc_fleet_start(&f, 0, agg.endpoint);
        s_shim_off();
        int st = 0;
        KC_CHECK(kc_harness_wait(f.pid[0], CRASH_MS, &st) == 0, "kc-send under the shim hangs");
        f.pid[0] = 0;
        char sb[64];
        if (WIFEXITED(st) && WEXITSTATUS(st) == 0) {
            fprintf(stderr, "powerloss_test: B: kc-send finished before call %ld\n", at);
            continue;
        }
        KC_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "kc-send under the shim: %s",
                 kc_harness_status_str(st, sb, sizeof sb));
        fprintf(stderr, "powerloss_test: B: spool power loss %d/%d at tracked call %ld\n", k + 1,
                rounds, at);
        kc_oracle_assert(store, f.src, 1, false, NULL, "after a spool power loss", NULL);
        kc_verify_cells(store, &f.sums, "after a spool power loss");
    }
    kc_fleet_start(&f, 0, agg.endpoint); /* the rerun resumes the spool as it survived */
    kc_fleet_wait_all(&f, SEND_MS);
    kc_harness_agg_term(&agg);
    kc_oracle_result_t res;
    kc_oracle_scan(store, f.src, 1, &res);
    kc_oracle_summary(lng ? "8b-powerloss-spool-long" : "8b-powerloss-spool", &res);
    kc_oracle_assert(store, f.src, 1, true, &f.sums, "at the end", &res);
}

int main(int argc, char **argv)
{
    bool lng = kc_fault_is_long(argc, argv);
    kc_harness_init("powerloss_test");
    uint64_t rng = kc_fault_seed(8008);
    const char *bin = getenv("KC_BIN_DIR");
    KC_CHECK(bin && *bin, "KC_BIN_DIR is not set");
    snprintf(s_shim, sizeof s_shim, "%s/libkcpowerloss.so", bin);
    kc_harness_path(s_report, "powerloss.report");
    s_part_a(lng, &rng);
    s_part_b(lng, &rng);
    int losses = kc_fault_count(s_report, "powerloss pid="),
        clean = kc_fault_count(s_report, "unsynced_bytes=0\n");
    fprintf(stderr,
            "powerloss_test: %d power losses reported by the shim, %d of them discarded "
            "unsynced writes\n",
            losses, losses - clean);
    KC_CHECK(losses > clean, "no power loss discarded anything: the shim saw no unsynced write");
    kc_harness_pass();
    printf("powerloss_test: ok\n");
    return 0;
}
