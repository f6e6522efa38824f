/* kc_event.h - the rules every activity event must pass, shared by the
 * aggregator (which enforces them) and the producers (which may pre-check).
 *
 * kc_event_check() is pure: it reads only the event and the reference data.
 * Business dedup (event_id_conflict, duplicate) and transport dedup need the
 * store and live in the aggregator.
 */
#ifndef KC_EVENT_H
#define KC_EVENT_H

#include "kc_ref.h"
#include "kcpipe/v1/kcpipe.pb-c.h"

#include <stddef.h>
#include <stdint.h>

#define KC_EVENT_ID_MAX    64
#define KC_PRODUCER_ID_MAX 64
#define KC_NOTE_MAX        1024
#define KC_YEAR_MIN        2000
#define KC_YEAR_MAX        2100
#define KC_HASH_LEN        16
/* Largest message the aggregator accepts (ZMQ_MAXMSGSIZE). */
#define KC_MAX_MSG_SIZE (16 * 1024 * 1024)

typedef Kcpipe__V1__Event kc_pb_event_t;
typedef Kcpipe__V1__Batch kc_pb_batch_t;
typedef Kcpipe__V1__Ack kc_pb_ack_t;
typedef Kcpipe__V1__Result kc_pb_result_t;

/* Values of an event that passed kc_event_check(); strings are borrowed from
 * the kc_pb_event_t and live as long as it does. */
typedef struct {
    const char *event_id;
    size_t event_id_len;
    uint8_t province; /* code, meaning fixed by the period's scheme */
    uint16_t year;
    uint8_t month;
    int32_t yyyymm;
    const kc_activity_t *activity;
    uint8_t kind;                     /* KCPIPE__V1__KIND__KIND_ACTUAL or _PLAN */
    uint8_t fund;                     /* KCPIPE__V1__FUND__FUND_KCQG.. _OTHER */
    uint32_t present;                 /* bit per kc_metric_t carried by the event */
    int64_t metrics[KC_METRIC_COUNT]; /* 0 where absent */
    uint64_t seq;
    const char *producer_id;
} kc_event_view_t;

/* Check one decoded event. Returns KCPIPE__V1__REASON__REASON_OK (0) and fills
 * *out, or the reason code of the first rule broken with a one-line English
 * explanation in text (always NUL-terminated; textcap >= 1). The checks, in
 * order: event_id present and <= 64 bytes; op is a record; year in 2000-2100;
 * month 1-12; province known under the scheme of the period; activity known;
 * kind and fund valid (absent = actual / other); note <= 1024 bytes; at least
 * one metric; each metric allowed for the activity and >= 0;
 * persons_employed <= persons. */
int kc_event_check(const kc_pb_event_t *ev, kc_event_view_t *out, char *text, size_t textcap);

/* The stable lower-case name of a reason ("event_id_conflict"); "unknown" for
 * an out-of-range value. */
const char *kc_reason_name(int reason);
/* Reason code for a name, or -1. */
int kc_reason_by_name(const char *name);

/* BLAKE2b-128 (libsodium) of the event's canonical encoding: the event with
 * its transport fields (producer_id, seq) removed and kind/fund/op resolved to
 * their effective values. Two events with the same content hash count the
 * same. Requires sodium_init() to have been called (kc_event_check does not). */
void kc_event_content_hash(const kc_pb_event_t *ev, const kc_event_view_t *view,
                           uint8_t out[KC_HASH_LEN]);

/* Read metric i (kc_metric_t) from a proto Metrics; returns whether present. */
int kc_pb_metric_get(const Kcpipe__V1__Metrics *m, int i, int64_t *value);
/* Set metric i in a proto Metrics (marks it present). */
void kc_pb_metric_set(Kcpipe__V1__Metrics *m, int i, int64_t value);

#endif
