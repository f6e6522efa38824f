/* kc_metrics.h - the aggregator's operational metrics, shared between the
 * commit thread (writer) and the HTTP server's threads (readers).
 *
 * DESIGN
 * The commit thread calls kc_metrics_commit() once per group commit (and
 * kc_metrics_batch() per Batch message): it takes a mutex for a few
 * hundred nanoseconds and copies the counters, never waits on a reader for
 * longer than that. kc_metrics_render() (HTTP /metrics) copies the state
 * under the same mutex, then reads the store (a read transaction: producers,
 * sizes) and formats the Prometheus text exposition format 0.0.4 without the
 * lock held. Names follow Prometheus conventions: kcpipe_ prefix, base units
 * (seconds, bytes), _total for counters, histograms with _bucket/_sum/_count.
 *   kcpipe_events_accepted_total, kcpipe_events_duplicate_total,
 *   kcpipe_events_rejected_total{reason="<reason name>"},
 *   kcpipe_events_resent_total, kcpipe_batches_total{status="ok|undecodable|
 *   bad_producer|unavailable|fenced"}, kcpipe_commits_total,
 *   kcpipe_commit_duration_seconds (histogram), kcpipe_commit_events
 *   (histogram: events per group commit), kcpipe_batch_events (histogram:
 *   events per Batch message), kcpipe_producer_last_seen_timestamp_seconds
 *   {producer}, kcpipe_producer_committed_seq{producer},
 *   kcpipe_producer_lag_events{producer} (spool_last_seq - committed seq, when
 *   the producer reported it in its current spool epoch: see kc_metrics_batch),
 *   kcpipe_store_log_entries, kcpipe_store_file_size_bytes,
 *   kcpipe_store_map_size_bytes, kcpipe_store_map_used_bytes,
 *   kcpipe_cycle_late_provinces{period}, kcpipe_cycle_missing_provinces{period}
 *   (the 12 latest periods past their deadline, core/kc_cycle.h),
 *   kcpipe_store_stale_readers_cleared_total, kcpipe_feed_subscribers,
 *   kcpipe_feed_updates_total, kcpipe_feed_update_drops_total,
 *   kcpipe_feed_snapshots_total, kcpipe_http_requests_total{code},
 *   kcpipe_start_time_seconds, kcpipe_build_info{version}.
 */
#ifndef KC_METRICS_H
#define KC_METRICS_H

#include "kc_apply.h"
#include "kc_store.h"

#include <stddef.h>
#include <stdint.h>

typedef struct kc_metrics kc_metrics_t;

/* NULL if out of memory. */
kc_metrics_t *kc_metrics_new(void);
void kc_metrics_free(kc_metrics_t **m);

/* Commit thread: after each group commit (failed ones too: `total` is the
 * running sum of kc_apply_delta()). */
void kc_metrics_commit(kc_metrics_t *m, const kc_agg_counters_t *total, double commit_seconds,
                       size_t group_events);
/* Commit thread: one Batch message answered, carrying `events` events, from
 * producer_id (NUL-terminated; NULL if undecodable, "" if refused) sending
 * from its spool epoch `epoch` (the Ack's producer_epoch), whose spool's last
 * seq was spool_last_seq (0 = not reported). A producer's spool_last_seq is
 * known per epoch: a Batch of a newer epoch replaces what was known (with
 * "not reported" if it carries none: a new spool's sequence restarts, so the
 * old spool's last seq says nothing of it); a Batch of the same epoch without
 * one keeps the value reported earlier in that epoch. */
void kc_metrics_batch(kc_metrics_t *m, const char *producer_id, size_t events, uint64_t epoch,
                      uint64_t spool_last_seq);
/* The running counters alone, after Batches answered outside a group commit
 * (kc_metrics_commit() copies them otherwise); observes no commit. */
void kc_metrics_counters(kc_metrics_t *m, const kc_agg_counters_t *total);
/* Commit thread: feed state and stale-reader clearing. */
void kc_metrics_feed(kc_metrics_t *m, int64_t subscribers, uint64_t updates, uint64_t drops,
                     uint64_t snapshots);
void kc_metrics_readers_cleared(kc_metrics_t *m, unsigned n);
/* HTTP threads: count a response. */
void kc_metrics_http(kc_metrics_t *m, unsigned status);

/* The spool_last_seq last reported by a producer in spool epoch `epoch` (the
 * producer's epoch in the store, kc_producer_state_t.epoch); 0 if it has not
 * reported one in that epoch. Thread-safe. */
uint64_t kc_metrics_spool_last_seq(kc_metrics_t *m, const char *producer_id, uint64_t epoch);

/* Any thread: the exposition text (malloc'd, NUL-terminated; caller frees). */
int kc_metrics_render(kc_metrics_t *m, kc_store_t *store, char **text, size_t *len);

#endif
