/* backpressure_test.c - fault scenario 7: producers offer far more than the
 * aggregator commits; memory stays bounded and nothing is dropped silently.
 *
 * The aggregator is made slow to commit: --group-max 250 (one batch per
 * group, so one fsync'd transaction per batch) and --group-window-ms 50, while
 * 8 producers (short: 8 x 3,000 events; --long: 8 x 25,000) pipeline batches
 * of 250 with a 2 s request timeout, so they offer far more than is
 * committed, and time out and resend while queued batches wait.
 * Bounded by design: each producer has at most its window (8 batches) in
 * flight, the ROUTER reads at most RCVHWM (64) messages per peer before TCP
 * pushes back, Acks are sent with ZMQ_ROUTER_MANDATORY and DONTWAIT (an Ack
 * that cannot be queued is counted in undelivered_acks; the producer resends
 * and is answered by sequence number). The rest waits in the producers' spools.
 * Checks: the aggregator's anonymous memory (RssAnon, sampled every poll step)
 * peaks over the rest of the run within 64 MiB of its peak over the first
 * quarter (memory does not grow with the backlog; the
 * ASan quarantine is capped at 16 MiB for this run so it does not count as
 * growth); every kc-send ends clean; the counters at exit account for what
 * happened (batches, commits, resent, undelivered_acks); the oracle holds.
 * Synchronisation: the mid-run sample is taken when the log reaches a quarter
 * of the events; the end waits for the producers' exits.
 */
#include "fault_util.h"
#include "oracle.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PRODUCERS   8
#define PROGRESS_MS 600000
#define SEND_MS     1800000

int main(int argc, char **argv)
{
    bool lng = kc_fault_is_long(argc, argv);
    const size_t rows = lng ? 25000 : 3000;
    kc_harness_init("backpressure_test");
    kc_fleet_t fleet;
    kc_fleet_init(&fleet, PRODUCERS, rows, 1300, "bp", NULL);
    const uint64_t total = fleet.sums.events;

    /* cap the ASan quarantine of the aggregator only */
    const char *old = getenv("ASAN_OPTIONS");
    char *saved = old ? strdup(old) : NULL;
    char opts[512];
    snprintf(opts, sizeof opts, "%s%squarantine_size_mb=16", old ? old : "", old ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    char store[KC_PATH_MAX];
    kc_harness_path(store, "store");
    kc_agg_t agg = {0};
    const char *const agg_extra[] = {"--group-max", "250", "--group-window-ms", "50", NULL};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", agg_extra);
    if (saved) {
        setenv("ASAN_OPTIONS", saved, 1);
        free(saved);
    } else {
        unsetenv("ASAN_OPTIONS");
    }
    const char *const extra[] = {"--request-timeout-ms", "2000", NULL};
    fleet.extra = extra;
    kc_fleet_start_all(&fleet, agg.endpoint);

    /* anonymous memory, sampled: the peak over the first quarter of the run
     * against the peak over the rest (VmHWM would count the store's mapped
     * file pages, which grow with the data, not with the backlog) */
    long mid = 0, end = 0;
    int64_t deadline = kc_harness_now_ms() + PROGRESS_MS;
    while (kc_fault_log_size(store) < total / 4) {
        long kb = kc_fault_rss_anon_kb(agg.pid);
        mid = kb > mid ? kb : mid;
        KC_CHECK(kc_fleet_poll(&fleet) > 0, "every kc-send ended before a quarter of the log");
        KC_CHECK(kc_harness_now_ms() < deadline, "the log did not reach a quarter");
        kc_harness_poll_pause();
    }
    deadline = kc_harness_now_ms() + SEND_MS;
    while (kc_fleet_poll(&fleet) > 0) {
        long kb = kc_fault_rss_anon_kb(agg.pid);
        end = kb > end ? kb : end;
        KC_CHECK(kc_harness_now_ms() < deadline, "kc-send runs still going");
        kc_harness_poll_pause();
    }
    long hwm = kc_fault_vmhwm_kb(agg.pid);
    kc_harness_agg_term(&agg);
    char aerr[KC_PATH_MAX];
    kc_harness_path(aerr, "agg-%d.err", agg.incarnation);
    long long batches = kc_fault_counter(aerr, "stopped:", "batches"),
              commits = kc_fault_counter(aerr, "stopped:", "commits"),
              resent = kc_fault_counter(aerr, "stopped:", "resent"),
              undelivered = kc_fault_counter(aerr, "stopped:", "undelivered_acks");
    int timeouts = 0;
    for (int i = 0; i < PRODUCERS; i++) {
        char err[KC_PATH_MAX + 8];
        kc_fleet_err(&fleet, i, err);
        timeouts += kc_fault_count(err, "no acknowledgement from");
    }
    fprintf(stderr,
            "backpressure_test: peak RssAnon %ld KiB over the first quarter, %ld KiB over the "
            "rest (VmHWM %ld KiB, store map included); batches=%lld commits=%lld resent=%lld "
            "undelivered_acks=%lld; producer timeouts=%d\n",
            mid, end, hwm, batches, commits, resent, undelivered, timeouts);
    KC_CHECK(mid > 0 && end > 0, "cannot read the aggregator's RssAnon");
    KC_CHECK(end <= mid + 64 * 1024, "aggregator memory grew from %ld to %ld KiB", mid, end);
    KC_CHECK(commits > 0 && batches >= (long long)(total / 250),
             "counters do not account for the batches (batches=%lld commits=%lld)", batches,
             commits);
    kc_oracle_result_t res;
    kc_oracle_scan(store, fleet.src, PRODUCERS, &res);
    kc_oracle_summary(lng ? "7-backpressure-long" : "7-backpressure", &res);
    kc_oracle_assert(store, fleet.src, PRODUCERS, true, &fleet.sums, "at the end", &res);
    kc_harness_pass();
    printf("backpressure_test: ok (%llu events from %d producers into a slow aggregator)\n",
           (unsigned long long)total, PRODUCERS);
    return 0;
}
