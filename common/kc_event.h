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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KC_EVENT_ID_MAX     64
#define KC_PRODUCER_ID_MAX  64
#define KC_SUBMITTED_BY_MAX 64 /* Event.submitted_by: 1-64 bytes when present */
/* Without CURVE, the producer id whose approvals and reopens the aggregator
 * accepts (under CURVE: a key granted every province). docs/CYCLE.md. */
#define KC_CENTRE_PRODUCER "centre"
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
 * the kc_pb_event_t and live as long as it does.
 * Records carry every field resolved. A correction may leave kind 0 (= the
 * target's kind, resolved by the ledger). A retraction may leave the period
 * (year, month, yyyymm 0 = the target's), activity (NULL), kind and fund (0)
 * unresolved, and its metrics are neither checked nor used (present 0). */
typedef struct {
    const char *event_id;
    size_t event_id_len;
    uint8_t op;           /* KCPIPE__V1__OP__OP_RECORD, _CORRECTION or _RETRACTION */
    const char *corrects; /* correction/retraction: event_id of the target; else NULL */
    size_t corrects_len;
    uint8_t province; /* code, meaning fixed by the period's scheme */
    uint16_t year;    /* 0: not given (retraction only) */
    uint8_t month;
    int32_t yyyymm;
    const kc_activity_t *activity;    /* NULL: not given (retraction only) */
    uint8_t kind;                     /* KCPIPE__V1__KIND__KIND_ACTUAL or _PLAN; 0 = target's */
    uint8_t fund;                     /* KCPIPE__V1__FUND__FUND_KCQG.. _OTHER; 0 = not given */
    uint32_t present;                 /* bit per kc_metric_t carried by the event */
    int64_t metrics[KC_METRIC_COUNT]; /* 0 where absent */
    uint64_t seq;
    const char *producer_id;
} kc_event_view_t;

/* Check one decoded event. Returns KCPIPE__V1__REASON__REASON_OK (0) and fills
 * *out, or the reason code of the first rule broken with a one-line English
 * explanation in text (always NUL-terminated; textcap >= 1). The checks, in
 * order: event_id present and <= 64 bytes; op known (unsupported_op) and
 * `corrects` present for a correction/retraction (missing_target; at most 64
 * bytes, event_id_too_long) and absent on a record (unsupported_op); year in
 * 2000-2100; month 1-12 (a retraction may omit both, not one); province known
 * under the scheme of the period (without a period: under either scheme);
 * activity known (a retraction may omit it); kind and fund valid (absent =
 * actual / other; a correction's absent kind = the target's; a retraction
 * needs neither); note <= 1024 bytes; then, except for a retraction, at least
 * one metric; each metric allowed for the activity and >= 0;
 * persons_employed <= persons. Target rules (unknown_target and the like)
 * need the store: see kc_ledger.h. */
int kc_event_check(const kc_pb_event_t *ev, kc_event_view_t *out, char *text, size_t textcap);

/* Whether op is one of the reporting cycle's (OP_SIGN_OFF, OP_APPROVE,
 * OP_REOPEN; docs/CYCLE.md). kc_event_check() checks such an event apart:
 * event_id, then nothing of a record (corrects, activity, kind, fund,
 * metrics: unsupported_op), year, month, the province under the period's
 * scheme, the note's length; its view has province and period only
 * (activity NULL, kind, fund and present 0). Whether it may be done, and by
 * whom, is the aggregator's (core/kc_period.h). */
bool kc_op_is_cycle(int op);

/* The admission rules: checked at the aggregator on every new event before
 * kc_event_check() and the ledger (and by producers before spooling), never on
 * events already in the log (replay and point-in-time views trust the log, so
 * that stores written before a rule existed stay readable and replayable).
 * Returns REASON_OK, or the reason with a one-line English explanation in text
 * (always NUL-terminated valid UTF-8; textcap >= 1). In order:
 *   invalid_text     a string field (event_id, province, activity, note,
 *                    corrects, producer_id, submitted_by) is not well-formed
 *                    UTF-8, or an id/code field (submitted_by is one) holds a
 *                    control character, or the note one other than tab, LF,
 *                    CR (kc_text.h); the text names the field and the byte
 *                    offset, and shows the value escaped; or submitted_by is
 *                    present but empty or over KC_SUBMITTED_BY_MAX bytes;
 *   value_too_large  a metric above its ceiling (data/metrics.tsv `max`,
 *                    kc_metric_info_t.max): the text names the metric, the
 *                    value and the ceiling.
 * Negative values, unknown codes and the other rules stay kc_event_check's.
 * raw[0..rawlen) (may be NULL) are the event's serialized bytes as received:
 * given, the strings are checked there, over their whole length, so that a
 * NUL byte inside a string (which a C string would hide) is refused too. */
int kc_event_admit(const kc_pb_event_t *ev, const uint8_t *raw, size_t rawlen, char *text,
                   size_t textcap);

/* Whether a Batch's producer_id passes the id rule of kc_event_admit (valid
 * UTF-8, no control character, 1-64 bytes); if not, a reason in text.
 * raw[0..rawlen) (may be NULL): the serialized Batch, to check field 1 over
 * its whole length as kc_event_admit does. */
bool kc_producer_id_ok(const char *producer_id, const uint8_t *raw, size_t rawlen, char *text,
                       size_t textcap);

/* The stable lower-case name of a reason ("event_id_conflict"); "unknown" for
 * an out-of-range value. */
const char *kc_reason_name(int reason);
/* Reason code for a name, or -1. */
int kc_reason_by_name(const char *name);

/* BLAKE2b-128 (libsodium) of the event's canonical encoding: the event with
 * its transport fields (producer_id, seq) removed and activity, period,
 * kind, fund and op set to the values in *view (op absent for a record; a
 * field the view leaves unresolved, 0 or NULL, is left out). submitted_by is
 * content: kept as sent, last (field 16); absent, it adds no byte, so an
 * event without it hashes exactly as before the field existed. Two events with
 * the same content hash count the same. The ledger resolves a correction's
 * kind and a retraction's period from the target before hashing. Requires
 * sodium_init() to have been called (kc_event_check does not). */
void kc_event_content_hash(const kc_pb_event_t *ev, const kc_event_view_t *view,
                           uint8_t out[KC_HASH_LEN]);

/* Bytes of an Event's encoding besides the contents of its strings, at most
 * (every tag, length and varint at its largest, all ten metrics). */
#define KC_EVENT_PACK_FIXED_MAX 256

/* Serialize ev exactly as kcpipe__v1__event__pack() does (proto2: present
 * fields in field-number order, the Metrics message length-delimited with its
 * own fields in order), but without reflection, and without unknown fields:
 * the bytes equal protobuf-c's only when ev and ev->metrics carry none
 * (base.n_unknown_fields == 0; kc_event_content_hash falls back to protobuf-c
 * otherwise). Like snprintf: returns the number of bytes written to out if
 * that is <= cap; otherwise writes nothing and returns a size > cap that
 * suffices (an upper bound, not the exact size). */
size_t kc_event_pack_canon(const kc_pb_event_t *ev, uint8_t *out, size_t cap);

/* Read metric i (kc_metric_t) from a proto Metrics; returns whether present. */
int kc_pb_metric_get(const Kcpipe__V1__Metrics *m, int i, int64_t *value);
/* Set metric i in a proto Metrics (marks it present). */
void kc_pb_metric_set(Kcpipe__V1__Metrics *m, int i, int64_t value);

#endif
