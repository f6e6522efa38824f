/* kc_entry.h - a log entry as an auditor reads it: its transport fields and
 * its Event decoded, named and compared with the version before it.
 *
 * DESIGN
 * The readers of the log (kc-log show, kc-audit history; any later HTTP
 * route) print what an entry says, never what they infer: kc_entry_decode
 * takes the entry's Event through common's decoder (kc_wire.h, the one
 * replay uses, so its result is protobuf-c's) and fills a kc_entry_t with
 * each field as written plus only the defaults kc_event_check applies
 * (op absent = record; kind absent = actual on a record, the target's on a
 * correction, none on a retraction; fund absent = other except on a
 * retraction) and the names of the reference data (the province under the
 * scheme of the event's period; without a period, the name its code has in
 * both schemes, else none). Events in the log passed the rules when they
 * were accepted, but a store written by an older kcpipe may hold any bytes:
 * nothing here refuses an Event that decodes, and every string goes into
 * JSON through kc_jtext.h (display form: valid UTF-8 whatever the bytes);
 * a note that is well-formed free text (tab, LF, CR allowed) is kept as it
 * is, LF included.
 *
 * The JSON of an entry (kc_entry_json), one object, flat, keys in this order:
 *   offset, received (UTC, 9 digits, "Z"), received_ns, producer, epoch, seq,
 *   leaf_hash (hex, RFC 6962 leaf hash of the entry), op, event_id,
 *   corrects (null), province (code as written), province_name (null),
 *   year, month (null when not given), activity (code), activity_name,
 *   kind ("actual"/"plan"/null), fund ("kcqg"/"kcdp"/"other"/null),
 *   metrics (object: each metric present, by its data/metrics.tsv name, as
 *   an exact integer), note (null), submitted_by (who entered the event at
 *   the producer, display form; null when absent or empty).
 *
 * A version's difference from the one before it (kc_entry_diff, history):
 * a retraction removes every value of the version it voids; a correction
 * replaces them: each metric whose value changed, appeared or disappeared,
 * and each of note, period, activity, kind, fund that differs. submitted_by
 * is not a difference: each version shows its own (history prints it per
 * version).
 */
#ifndef KC_ENTRY_H
#define KC_ENTRY_H

#include "kc_cells.h"
#include "kc_merkle.h"
#include "kc_store.h"
#include "kc_wire.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One decoded entry. `log` is the entry as its Merkle leaf holds it (offset,
 * received_ns, epoch, seq, producer: producer_len bytes, not terminated, and
 * the Event's bytes), borrowed from the kc_log_entry_t; the Event's strings
 * are NUL-terminated and borrowed from the decoder (valid until its next
 * decode). */
typedef struct {
    kc_merkle_leaf_t log;
    uint8_t leaf_hash[KC_MERKLE_HASH_LEN];
    uint8_t op;                /* KCPIPE__V1__OP__*; absent = record */
    const char *event_id;      /* "" if absent */
    const char *corrects;      /* NULL: none */
    const char *province;      /* the code as written ("" if absent) */
    int code;                  /* 1..99, or -1 if not a code */
    const kc_province_t *prov; /* NULL: unknown, or no period and two names */
    uint16_t year;             /* 0: not given */
    uint8_t month;             /* 0: not given */
    const char *activity;      /* as written; NULL: none */
    const kc_activity_t *act;  /* NULL: not in the taxonomy (or none) */
    uint8_t kind;              /* 1 actual, 2 plan; 0 not given (see DESIGN) */
    uint8_t fund;              /* 1..3; 0 not given */
    uint32_t present;          /* bit per kc_metric_t carried */
    int64_t m[KC_METRIC_COUNT];
    const char *note;         /* NULL: none */
    const char *submitted_by; /* NULL: none (absent or empty) */
} kc_entry_t;

/* Decode e (from kc_txn_log_get / kc_txn_log_scan) with d into *out.
 * 0, or KC_EFORMAT if its Event does not decode. */
int kc_entry_decode(kc_wire_decoder_t *d, const kc_log_entry_t *e, kc_entry_t *out);

/* "record", "correction", "retraction", "sign_off", "approve", "reopen"
 * ("unknown" otherwise). */
const char *kc_entry_op_name(int op);
/* "actual", "plan" / "kcqg", "kcdp", "other"; NULL for 0 or out of range. */
const char *kc_entry_kind_name(int kind);
const char *kc_entry_fund_name(int fund);

/* The entry as a JSON object (see DESIGN); NULL if out of memory. */
json_t *kc_entry_json(const kc_entry_t *x);

/* ---- filters (kc-log show) ---- */

typedef struct {
    kc_cells_filter_t where; /* provinces (kc_filter_add_province); none = any */
    const char *event_id;    /* the entry's event_id or corrects; NULL = any */
    const char *producer;    /* NULL = any */
    uint64_t since_ns;       /* received at or after (0 = no bound) */
    uint64_t until_ns;       /* received at or before (UINT64_MAX = no bound) */
} kc_entry_filter_t;

/* No filter. */
void kc_entry_filter_init(kc_entry_filter_t *f);
/* Whether x passes f. A province filter given by name holds its scheme
 * (kc_cells_filter_t.province_scheme): an entry passes if its code matches
 * and its period is in that scheme (an entry without a period: its code). */
bool kc_entry_match(const kc_entry_filter_t *f, const kc_entry_t *x);

/* ---- differences between versions (kc-audit history) ---- */

typedef struct {
    bool retracted;   /* cur is a retraction: every value of prev removed */
    uint32_t metrics; /* bits of the metrics that changed, appeared or went */
    bool note, period, activity, kind, fund;
} kc_entry_diff_t;

/* What cur changes of prev (its previous version). A correction without a
 * kind takes prev's (set cur->kind first: kc_entry_inherit). */
void kc_entry_diff(const kc_entry_t *prev, const kc_entry_t *cur, kc_entry_diff_t *out);
/* Resolve what a correction leaves to its target: kind absent = prev's. */
void kc_entry_inherit(const kc_entry_t *prev, kc_entry_t *cur);
/* The difference as JSON: {"retracted": bool, "metrics": {name: {"from": v|null,
 * "to": v|null}}, "note": {"from", "to"}, "period", "activity", "kind",
 * "fund": {"from", "to"} (only those that changed)}; NULL if out of memory. */
json_t *kc_entry_diff_json(const kc_entry_t *prev, const kc_entry_t *cur, const kc_entry_diff_t *d);

/* A note (or NULL) as a JSON string: unchanged when it is well-formed free
 * text (kc_text_free_ok), else its display form; null for NULL. */
json_t *kc_entry_note_json(const char *note);

#endif
