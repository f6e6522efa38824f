/* fake_agg.h - an in-process fake kc-aggregator for the ingest tests.
 *
 * A ROUTER bound on tcp://127.0.0.1:* served by a thread: it decodes Batches,
 * applies transport dedup (per producer high-water mark, gap -> resend_from)
 * and business dedup (province+event_id: same content = duplicate, different
 * = event_id_conflict), validates with kc_event_check(), and answers one Ack
 * per Batch. Nothing is durable; the modes inject the faults a producer must
 * survive. Stopped through an inproc pipe, never by sleeping.
 */
#ifndef FAKE_AGG_H
#define FAKE_AGG_H

#include <stdint.h>

typedef enum {
    FA_NORMAL = 0,
    FA_DROP_FIRST_ACK,    /* commit the first batch but never answer it */
    FA_LOSE_FIRST_BATCH,  /* ignore the first batch: the next one is a gap */
    FA_UNAVAILABLE_FIRST, /* answer the first batch with STATUS_UNAVAILABLE */
} fa_mode_t;

typedef struct fake_agg fake_agg_t;

typedef struct {
    uint64_t batches;      /* Batch messages received */
    uint64_t counted;      /* events accepted and counted (each at most once) */
    uint64_t reacked;      /* events re-acknowledged by seq (resends) */
    uint64_t resend_asked; /* Acks carrying resend_from */
    uint64_t acks_dropped; /* answers withheld by the mode */
} fa_stats_t;

/* Start; returns NULL on failure. */
fake_agg_t *fa_start(fa_mode_t mode);
/* The bound endpoint ("tcp://127.0.0.1:PORT"), valid until fa_stop. */
const char *fa_endpoint(const fake_agg_t *fa);
/* Stop the thread and free; *stats (may be NULL) gets the final counters. */
void fa_stop(fake_agg_t **fa, fa_stats_t *stats);

#endif
