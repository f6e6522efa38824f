/* kc_encode.h - kc_event_t -> serialized kcpipe.v1.Event (internal to libkcingest).
 *
 * The activity is sent as its code when kc_ref_activity_lookup() knows the
 * name or code, and verbatim otherwise (the aggregator then rejects the event
 * as unknown_activity, which is the report the office needs). Kind and fund
 * are written with their effective values (default actual / other), except
 * that a correction's or retraction's default kind (and a retraction's
 * default fund and zero period) are left out: the aggregator takes them from
 * the target. op and corrects are written for corrections and retractions
 * only; submitted_by (who entered the event) when the caller names someone
 * (kc_producer_set_submitted_by), last, as protobuf-c writes field 16. Values are passed on
 * unchecked: validation is the aggregator's (kc_event_check), except for the admission rules
 * (invalid_text, value_too_large), which kc_encode_admit() checks with the aggregator's own code
 * (kc_event_admit) on the event as encoded, so that such an event is refused before it is spooled.
 */
#ifndef KC_ENCODE_H
#define KC_ENCODE_H

#include "kcingest.h"

#include <stddef.h>
#include <stdint.h>

/* Largest serialized event accepted by kc_producer_add(). */
#define KC_ENCODE_MAX (256 * 1024)

/* A growable byte buffer; zero-initialise, release with free(b->data). */
typedef struct {
    uint8_t *data;
    size_t len;
    size_t cap;
} kc_buf_t;

/* Serialize ev with its transport fields into buf (replacing its contents).
 * Returns 0, KC_EINVAL (event_id or province missing or empty, activity
 * missing except on a retraction, corrects missing on a correction or
 * retraction, an unknown op, or the event is larger than KC_ENCODE_MAX) or
 * KC_ENOMEM. */
int kc_encode_event(const kc_event_t *ev, const char *producer_id, uint64_t seq, kc_buf_t *buf);
/* kc_encode_event with Event.submitted_by set to submitted_by (NULL or "":
 * left out). */
int kc_encode_event_by(const kc_event_t *ev, const char *submitted_by, const char *producer_id,
                       uint64_t seq, kc_buf_t *buf);

/* kc_encode_event, then the aggregator's admission rules (kc_event_admit) on
 * the encoded bytes. Returns what kc_encode_event returns, or KCI_EREFUSED
 * with the reason (KCPIPE__V1__REASON__REASON_INVALID_TEXT or _VALUE_TOO_LARGE)
 * in *reason and kc_event_admit's explanation in text[cap] (cap >= 1); *reason
 * is 0 and text "" otherwise. buf holds the encoding in any case but an error
 * of kc_encode_event. */
int kc_encode_admit(const kc_event_t *ev, const char *producer_id, uint64_t seq, kc_buf_t *buf,
                    int *reason, char *text, size_t cap);
/* kc_encode_admit with Event.submitted_by (NULL or "": left out); a
 * submitted_by that breaks its rule is refused as invalid_text. */
int kc_encode_admit_by(const kc_event_t *ev, const char *submitted_by, const char *producer_id,
                       uint64_t seq, kc_buf_t *buf, int *reason, char *text, size_t cap);

/* The aggregator's rules for one event that need no store (kc_event_check:
 * period, province under the period's scheme, activity, kind, fund, note
 * length, at least one metric, each metric allowed for the activity and not
 * negative, persons_employed <= persons), on ev as kc_encode_event would
 * send it, without serializing it. Returns 0 (REASON_OK), KC_EINVAL (ev
 * cannot be encoded), or the kcpipe.v1.Reason (> 0) with kc_event_check's
 * English explanation in text[cap] (cap >= 1). The import layer calls it on
 * every row, so that nothing is spooled that the aggregator would refuse for
 * the row alone. */
int kc_encode_check(const kc_event_t *ev, char *text, size_t cap);

/* Make room for n bytes in buf; 0 or KC_ENOMEM. */
int kc_buf_reserve(kc_buf_t *buf, size_t n);

#endif
