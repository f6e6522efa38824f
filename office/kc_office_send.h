/* kc_office_send.h - kc-office's producer side: one libkcingest producer per
 * office, its spool, and the rows' states in the portal's LMDB.
 *
 * DESIGN
 * Each office served has its own producer (endpoint, producer id, spool
 * directory, CURVE keys from the office's configuration), owned by one
 * sender thread that polls every producer; HTTP threads hand events over
 * through kc_osend_submit, which takes the producer's lock, stages the
 * events under the portal user's name (kc_producer_set_submitted_by
 * "OFFICE/USER"), syncs the spool and records the submission and its rows
 * (state spooled) before it returns: when kc_osend_submit returns 0 the rows
 * are durable and will reach the centre without anyone clicking again.
 * The sender thread turns libkcingest's callbacks into row states: sent
 * (kc_producer_on_sent), accepted / duplicate / rejected (on_result), and
 * keeps each office's link state (on_link) for the "centre unreachable"
 * banner. Rows stay in the database after they are final; the spool keeps
 * only what is pending, as for kc-send.
 */
#ifndef KC_OFFICE_SEND_H
#define KC_OFFICE_SEND_H

#include "kc_office.h"
#include "kc_office_db.h"

#include "kcingest.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* An event of a province outside the office's (kc_osend_submit): -EPERM,
 * which kc_strerror knows as a negative errno. */
#ifndef KC_EPERM
#define KC_EPERM (-EPERM)
#endif

typedef struct kc_osend kc_osend_t;

/* Open a producer per office (spools created 0700) and start the sender
 * thread. 0, or the first producer's error (logged, naming the office). */
int kc_osend_start(kc_osend_t **out, const kc_office_t *offices, size_t n, kc_odb_t *db);
/* Stop the thread, close the producers (pending events stay spooled for the
 * next start). *self_p = NULL. */
void kc_osend_stop(kc_osend_t **self_p);

/* One submission: n events of office, entered by user; what is "upload",
 * "form", "correction" or "retraction"; file the uploaded file's name ("" for a
 * form); source_rows[i] the sheet row of evs[i] (NULL: all 0). Every event's
 * province must be one of the office's (KC_EPERM otherwise, nothing spooled).
 * Events kc_producer_add refuses (KCI_EREFUSED) are recorded as rejected rows
 * with the refusal's reason and text; the others are spooled and recorded as
 * spooled. Returns 0 with *sub_out the submission's id, or an error with
 * nothing recorded: KC_EPERM, KC_EINVAL (n 0, unknown office), a spool or
 * database error (err[cap] says which, in English). */
int kc_osend_submit(kc_osend_t *s, const char *office, const char *user, const char *what,
                    const char *file, const kc_event_t *evs, const long *source_rows, size_t n,
                    uint64_t *sub_out, char *err, size_t cap);

typedef struct {
    bool reachable;   /* false: the last request got no acknowledgement in time */
    uint64_t pending; /* events spooled and not final */
    int64_t since_s;  /* when reachable last changed (unix s); 0 never */
} kc_osend_status_t;

/* office's link and pending count. 0; KC_EINVAL unknown office. */
int kc_osend_status(kc_osend_t *s, const char *office, kc_osend_status_t *out);

/* Prometheus text lines (HELP, TYPE, one sample per office, label office) for
 * /metrics: kcpipe_office_rows_{spooled,accepted,duplicate,rejected}_total
 * (since the start; rejected includes rows refused before spooling),
 * kcpipe_office_pending and kcpipe_office_reachable (1/0). Nothing if s is
 * NULL. */
void kc_osend_metrics(kc_osend_t *s, FILE *f);

#endif
