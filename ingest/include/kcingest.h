/* kcingest.h - libkcingest, the producer library of kcpipe.
 *
 * A field office embeds this library (or runs kc-send, built on it) to publish
 * khuyen cong activity events to the centre's aggregator over ZeroMQ.
 *
 * DESIGN - the spool and the delivery guarantee
 * Every event is written to a local LMDB spool (opts.spool_dir) and committed
 * durably BEFORE it is sent; it stays there until the aggregator acknowledges
 * it, which the aggregator does only after its own durable commit. The spool
 * also holds the producer id and the next sequence number, so sequence numbers
 * survive restarts. An event moves through three states:
 *   staged   -> kc_producer_add() returned; in the open spool transaction
 *   spooled  -> the spool transaction committed (kc_producer_add commits every
 *               opts.batch_max events; kc_producer_flush/poll commit the rest);
 *               from here on the event survives a crash and will be sent
 *   final    -> an Ack covered its sequence: it is removed from the spool and its
 *               result (accepted, duplicate, rejected + reason) is reported once
 *               through the result callback.
 * Sending follows the ZeroMQ guide's Lazy Pirate pattern over a DEALER socket:
 * batches are pipelined (opts.window in flight); if no acknowledgement arrives
 * for opts.request_timeout_ms, the socket is closed and reconnected and every
 * unacknowledged event is resent in order. The aggregator de-duplicates
 * resends by sequence number, so each event is counted at most once; it is
 * counted at least once as long as the spool survives and the producer keeps
 * running until kc_producer_pending() is 0.
 *
 * Acknowledgements are matched by sequence range, not by request: an Ack
 * finalizes the pending events in [acked_from, acked_to] (results lists the
 * duplicates and rejections; the rest are accepted) and is ignored for events
 * already final, so a late Ack after a resend is harmless. resend_from = N
 * rewinds sending to N; STATUS_UNAVAILABLE rewinds and backs off (100 ms
 * doubling to 5 s). Removals of acknowledged events are done in one spool
 * transaction per drained set of Acks (together with the staged events), and
 * results are reported after that transaction committed.
 *
 * Threads: a kc_producer_t is used by one thread at a time. Logging (through
 * kc_ingest_set_log) is process-wide.
 * Returns: 0 or a negative code (kc_strerror-compatible: -errno or KC_E* in
 * -1000..-1099) unless stated.
 */
#ifndef KCINGEST_H
#define KCINGEST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define KCI_EXPORT __attribute__((visibility("default")))
#else
#define KCI_EXPORT
#endif

#define KCI_VERSION "0.1.0"
/* Features added since the first release, for #ifdef in an embedder (new
 * functions only: the structs below never change, so neither does the ABI):
 * kc_producer_set_submitted_by (Event.submitted_by); kc_producer_on_sent. */
#define KCI_HAVE_SUBMITTED_BY 1
#define KCI_HAVE_ON_SENT      1
/* Return codes an embedder may want to tell apart (values of kcpipe's KC_E*). */
#define KCI_ETIMEDOUT (-1007) /* kc_producer_flush: deadline passed, events still pending */
#define KCI_EINVAL    (-1004) /* bad argument, or the spool belongs to another producer */
#define KCI_EBUSY     (-1011) /* the spool is open in another process */
#define KCI_EINTR     (-1012) /* poll/flush: a signal interrupted the wait */
#define KCI_EFENCED   (-1014) /* poll/flush: a newer spool of this producer id took over */
#define KCI_ENOMEM    (-1005) /* out of memory */
/* kc_producer_add: the event breaks an admission rule of the aggregator
 * (invalid_text, value_too_large) and was not spooled; kc_producer_refusal()
 * tells which and why. Not a KC_E* of kc_err.h: kc_producer_strerror knows it. */
#define KCI_EREFUSED (-1015)

/* Metric indexes, in the order of kcpipe's data/metrics.tsv. */
enum {
    KCI_AMOUNT_VND = 0,
    KCI_REVENUE_VND,
    KCI_PERSONS,
    KCI_PERSONS_EMPLOYED,
    KCI_FACILITIES,
    KCI_FACILITY_TURNS,
    KCI_PRODUCTS,
    KCI_EVENTS,
    KCI_DELEGATES,
    KCI_PROJECTS,
    KCI_METRIC_COUNT
};

enum { KCI_KIND_DEFAULT = 0, KCI_KIND_ACTUAL = 1, KCI_KIND_PLAN = 2 };
enum { KCI_FUND_DEFAULT = 0, KCI_FUND_KCQG = 1, KCI_FUND_KCDP = 2, KCI_FUND_OTHER = 3 };
/* What an event does (kcpipe.v1.Op): record a new figure, or replace (correct)
 * or void (retract) the live version named in `corrects`; or, in the reporting
 * cycle (kcpipe's docs/CYCLE.md), sign off a province's month (an office),
 * approve (lock) or reopen it (the centre; a reopen's reason is the note). A
 * cycle event carries event_id, province, year, month (and note) only. */
enum {
    KCI_OP_RECORD = 0,
    KCI_OP_CORRECTION = 1,
    KCI_OP_RETRACTION = 2,
    KCI_OP_SIGN_OFF = 3,
    KCI_OP_APPROVE = 4,
    KCI_OP_REOPEN = 5,
};

/* Result reasons: 0 accepted, 1 duplicate (already counted), >= 2 rejected
 * (the values of kcpipe.v1.Reason; reason_name gives the stable name). The two
 * admission reasons are also those of kc_producer_refusal(). */
enum {
    KCI_ACCEPTED = 0,
    KCI_DUPLICATE = 1,
    KCI_VALUE_TOO_LARGE = 27, /* "value_too_large": a metric above its ceiling */
    KCI_INVALID_TEXT = 28,    /* "invalid_text": a string not UTF-8, or with a control char */
};

typedef struct kc_producer kc_producer_t;

typedef struct {
    const char *endpoint;    /* e.g. "tcp://127.0.0.1:5555" (required) */
    const char *producer_id; /* 1..64 bytes of UTF-8 without control characters;
                              * fixed for the life of the spool (required) */
    const char *spool_dir;   /* spool directory, created 0700 (required) */
    int request_timeout_ms;  /* no ack progress for this long: reconnect, resend; 0 = 2000 */
    size_t batch_max;        /* events per Batch message; 0 = 1000 */
    size_t window;           /* batches in flight; 0 = 8 */
    /* CURVE (encryption + authentication, docs/SECURITY.md). NULL server_public_key:
     * plaintext (the aggregator accepts that on loopback only). Otherwise the
     * connection is a CURVE client of that server key, with the producer's own key
     * pair from EITHER client_cert_file (a secret certificate written by kc-keygen,
     * "NAME_secret") OR client_public_key + client_secret_key. Keys are Z85, 40
     * characters; kc_ingest_read_cert() reads them from certificate files. The
     * aggregator refuses a key it does not know without answering: the producer
     * then never gets an Ack (flush times out, events stay spooled). */
    const char *server_public_key; /* the aggregator's public key */
    const char *client_cert_file;  /* the producer's secret certificate file */
    const char *client_public_key; /* or: the producer's public key ... */
    const char *client_secret_key; /* ... and secret key */
} kc_producer_opts_t;

/* One activity event as the office reports it. Strings are borrowed for the
 * duration of kc_producer_add(). Text rule (the aggregator's, common/kc_text.h):
 * every string is well-formed UTF-8; event_id, province, activity and corrects
 * hold no control character (C0, DEL, C1), note none but tab, LF and CR. Each
 * metric is at most its ceiling, the `max` column of kcpipe's data/metrics.tsv
 * (at present 10^15 for the _vnd metrics, 10^9 for the counts). kc_producer_add
 * refuses an event that breaks either rule (KCI_EREFUSED). */
typedef struct {
    const char *event_id; /* 1..64 bytes, unique per province */
    const char *province; /* two-digit code, "79" */
    int year;
    int month;
    const char *activity; /* code ("KC3b") or name ("machinery") */
    int kind;             /* KCI_KIND_*; DEFAULT = actual */
    int fund;             /* KCI_FUND_*; DEFAULT = other */
    uint32_t present;     /* bit (1u << KCI_*) per metric reported */
    int64_t metrics[KCI_METRIC_COUNT];
    const char *note; /* optional, NULL or "" for none */
    int op;           /* KCI_OP_*; RECORD (0) by default */
    /* Correction/retraction: the event_id of the version replaced (same
     * province). A correction carries the full new values; its kind DEFAULT
     * means the target's. A retraction needs only event_id, province and
     * corrects (year/month 0 = the target's period; activity may be NULL). */
    const char *corrects;
} kc_event_t;

/* The final outcome of one event, reported once. Strings valid during the call. */
typedef struct {
    uint64_t seq;
    const char *source; /* the tag passed to kc_producer_add (e.g. "file.csv:12") */
    const char *event_id;
    int reason;              /* KCI_ACCEPTED, KCI_DUPLICATE or a rejection code */
    const char *reason_name; /* "accepted", "duplicate", "unknown_province", ... */
    const char *text;        /* explanation for rejections ("" otherwise) */
} kc_result_t;

typedef void (*kc_result_fn)(const kc_result_t *r, void *ctx);

/* Log levels and sink of the library's logger (process-wide). */
enum { KCI_LOG_ERROR = 0, KCI_LOG_WARN, KCI_LOG_INFO, KCI_LOG_DEBUG };
/* Receives one formatted line ("2026-11-27T09:53:30.123Z ident warn: text"). */
typedef void (*kci_log_fn)(int level, const char *line, void *ctx);

/* Configure the library's log: ident shown on each line (borrowed; must outlive
 * logging; NULL keeps the current one), the most verbose level kept (default
 * KCI_LOG_INFO), and a sink (NULL = stderr). */
KCI_EXPORT void kc_ingest_set_log(const char *ident, int level, kci_log_fn fn, void *ctx);

/* Read a certificate file in ZeroMQ's format (as kc-keygen and CZMQ's zcert
 * write it): its public key into public_key[41] and, if secret_key is not
 * NULL, its secret key into secret_key[41] (then the file must be a secret
 * certificate). Returns 0, KCI_EFORMAT (not a certificate, logged) or -errno. */
#define KCI_EFORMAT (-1009)
KCI_EXPORT int kc_ingest_read_cert(const char *path, char *public_key, char *secret_key);

/* Open the producer: opens or creates the spool, checks that it belongs to
 * opts->producer_id (KCI_EINVAL otherwise, logged), and connects. Also
 * KCI_EBUSY (spool in use by another process), KCI_EINVAL (missing option,
 * producer_id empty, longer than 64 bytes, not valid UTF-8 or holding a
 * control character - the aggregator's id rule, which would refuse every
 * Batch as invalid_text: logged as "invalid_text: ..." before the spool is
 * touched -, bad endpoint, malformed or inconsistent CURVE keys: see
 * kc_producer_opts_t), KC_EFORMAT/KC_ESTORE/-errno (spool unusable). Events
 * left in the spool by an earlier run are sent again on the next poll/flush.
 * Caller owns *out; release with kc_producer_close(). */
KCI_EXPORT int kc_producer_open(kc_producer_t **out, const kc_producer_opts_t *opts);
/* Commit staged events to the spool, close the socket and the spool; sets *p
 * to NULL. Unacknowledged events stay spooled for the next run. */
KCI_EXPORT void kc_producer_close(kc_producer_t **p);

/* Receive each event's final result (may be set at any time; NULL to stop). */
KCI_EXPORT void kc_producer_on_result(kc_producer_t *p, kc_result_fn fn, void *ctx);

/* The link to the aggregator as this producer sees it. reachable 0: a request
 * got no acknowledgement for request_timeout_ms (the library reconnects and
 * resends on its own; the events stay safe in the spool) or the aggregator
 * answered that it is unavailable; 1: the first acknowledgement after that.
 * pending: events not yet final at that moment. Called once per change, from
 * inside kc_producer_poll/flush/add; it must not call the producer. */
typedef void (*kc_link_fn)(int reachable, uint64_t pending, void *ctx);
KCI_EXPORT void kc_producer_on_link(kc_producer_t *p, kc_link_fn fn, void *ctx);

/* A batch of events [first_seq, last_seq] (consecutive sequence numbers) was
 * handed to the socket for the aggregator: the first send and every resend
 * (after a timeout, resend_from or a back-off), so a seq may be reported more
 * than once, always before its result. Called from inside
 * kc_producer_poll/flush/add; it must not call the producer. NULL stops it.
 * A function of its own (KCI_HAVE_ON_SENT): the ABI stays as it was. */
typedef void (*kc_sent_fn)(uint64_t first_seq, uint64_t last_seq, void *ctx);
KCI_EXPORT void kc_producer_on_sent(kc_producer_t *p, kc_sent_fn fn, void *ctx);

/* Stage one event (assigning the next sequence, stored in *seq_out if non-NULL)
 * with a source tag (may be NULL; at most 65535 bytes). KCI_EINVAL if the event
 * cannot be encoded (missing or empty event_id/province, activity except on a
 * retraction, corrects on a correction/retraction, an unknown op, or larger
 * than 256 KiB serialized). KCI_EREFUSED if the encoded event breaks the
 * aggregator's admission rules (kc_event_admit of kcpipe's common/kc_event.h,
 * the very code the aggregator runs, so both always agree): reason
 * invalid_text (a string of kc_event_t breaks its text rule) or
 * value_too_large (a metric above its ceiling); kc_producer_refusal() gives
 * the reason and an explanation naming the field or metric. On either error
 * nothing is staged, no sequence number is used, and the producer stays
 * usable: go on with the next event. Everything else (ranges, unknown codes,
 * negative values) is passed on for the aggregator to judge; an aggregator
 * with other ceilings (a newer data/metrics.tsv) may still reject an event as
 * value_too_large through the result callback. Commits the spool every
 * opts.batch_max staged events, so it may also return a spool error. */
KCI_EXPORT int kc_producer_add(kc_producer_t *p, const kc_event_t *ev, const char *source,
                               uint64_t *seq_out);

/* Name who enters the events added from now on (kcpipe.v1.Event.submitted_by,
 * docs/PROTOCOL.md): the person or account at this producer that submitted
 * them, e.g. a portal user "office-79/lan", shown to auditors (kc-log show,
 * kc-audit history). 1..64 bytes of UTF-8 without control characters (the
 * aggregator's rule); NULL or "" names no one again (the field is left out,
 * the default). The name is copied; it applies to every later
 * kc_producer_add() of p until changed, and is part of each event's content:
 * the same event_id sent again under another name is event_id_conflict.
 * Returns 0, or KCI_EINVAL (p NULL, or the name breaks the rule: logged as
 * "invalid_text: ...", and the current name stays). A function of its own
 * (KCI_HAVE_SUBMITTED_BY), so that kc_event_t and the ABI stay as they were. */
KCI_EXPORT int kc_producer_set_submitted_by(kc_producer_t *p, const char *name);

/* Why the last kc_producer_add() returned KCI_EREFUSED: returns the reason
 * (KCI_INVALID_TEXT or KCI_VALUE_TOO_LARGE), or 0 if the last call was not
 * refused (or none was made). If not NULL, *reason_name gets the reason's
 * stable name ("invalid_text", "value_too_large"; "" for 0) and *text a
 * one-line English explanation ("" for 0) that names the field and the byte
 * offset, or the metric, its value and ceiling, and says what to do; the
 * offending value is shown escaped (bad bytes and control characters as
 * \xNN), so the text is always valid UTF-8. Both stay valid until the next
 * kc_producer_add() or kc_producer_close(). */
KCI_EXPORT int kc_producer_refusal(const kc_producer_t *p, const char **reason_name,
                                   const char **text);

/* Make every staged event durable in the spool (one fsync'd commit). */
KCI_EXPORT int kc_producer_sync(kc_producer_t *p);

/* Do network work for at most timeout_ms (0 = one pass without waiting): sync,
 * send what the window allows, take acknowledgements, resend after a timeout.
 * Returns early when nothing is pending. Returns 0, KCI_EINTR if a signal
 * interrupted the wait (so the caller can check its flags), or a spool error
 * (KC_ENOSPC, KC_ESTORE, ...). */
KCI_EXPORT int kc_producer_poll(kc_producer_t *p, int timeout_ms);

/* Poll until no event is pending or timeout_ms passed (-1 = no limit).
 * Returns 0 when all are final, KCI_ETIMEDOUT otherwise (they stay spooled),
 * KCI_EINTR if a signal interrupted it, or a spool error. */
KCI_EXPORT int kc_producer_flush(kc_producer_t *p, int timeout_ms);

/* Events spooled or staged and not yet final. */
KCI_EXPORT uint64_t kc_producer_pending(const kc_producer_t *p);

/* Text for a return code of this library. */
KCI_EXPORT const char *kc_producer_strerror(int rc);

#ifdef __cplusplus
}
#endif
#endif
