/* kc_cycle.h - the reporting cycle's read side (issue 18): which province
 * reported which monthly period, when, and whether on time; shared by
 * `kc-query --completeness`, GET /v1/completeness and the aggregator's
 * /metrics gauges. docs/CYCLE.md is the definition; this is its code.
 *
 * DESIGN
 * Counted events. A log entry counts for (province, period) when its Event
 * is a record or a correction (op absent, OP_RECORD or OP_CORRECTION) of
 * actual figures (kind actual, absent on a record; a correction without
 * kind takes its target's: the kind its own identity records, else the
 * target's Event, followed back along `prev`), and (province, period) are
 * the Event's own province code and (year, month). Retractions never count
 * (they withdraw figures, they report none); plans never count (an annual
 * plan is filed under a month but reports no month); sign-off, approval and
 * reopen entries are never reports (below). A period whose
 * counted events were later corrected away or retracted stays reported:
 * the first report is a fact of the append-only log.
 *
 * Reported at = received_ns of the first (lowest offset) counted entry of
 * that unit and period. received_ns never decreases along the log
 * (kc_checkpoint.h), so it is also the earliest time.
 *
 * The index (kc_cycle_index_t) keeps, per unit key (kc_ref_unit_key: the
 * province as read under its period's scheme) and period, the first
 * counted entry's offset and time. The log is append-only and a first
 * report never changes, so the index is built once by a scan of the log
 * and extended by scanning only the entries appended since
 * (kc_cycle_index_update): the aggregator keeps one for /metrics and
 * /v1/completeness; a tool builds one per run. A table over the first n
 * entries (an older snapshot, or as-of) uses the entries with offset < n
 * only, so one index answers for every snapshot at or before it.
 *
 * States of (province, period), judged at an instant `now` (the current
 * time, or --as-of TIME) over the first n log entries:
 *   on_time   reported, at or before the period's deadline
 *   late      reported, after the deadline
 *   missing   not reported, and now is after the deadline
 *   not_due   not reported, and now is at or before the deadline
 *   none      the province is not a unit in that period (the other scheme)
 * Deadline of (year, month): the end of the day `days` days after the
 * month's last day (data/deadlines.tsv, kc_ref_deadline_days), in
 * Vietnam's time, UTC+7 without daylight saving: the last nanosecond
 * before 00:00 +07:00 of the following day (kc_cycle_deadline_ns).
 *
 * Units. Native (units 0): each period's provinces are those of the scheme
 * in force then (63 until 2025-06, 34 from 2025-07). Units 34: every period
 * is shown on the 34 units of 2025; before the merger a unit stands for the
 * scheme-63 provinces merged into it (kc_province_t.successor), its parts:
 * it is reported when every part reported, at the latest part's time, and
 * its state is the worst of its parts' (missing, late, not_due, on_time in
 * that order). Region filters read the unit's region as kc_cells does.
 *
 * Sign-off, approval, reopen (core/kc_period.h). The index also
 * folds every logged cycle entry (OP_SIGN_OFF, OP_APPROVE, OP_REOPEN) of a
 * unit and period, in log order, through kc_period_replay (the rules of
 * kc-replay rebuild, so the fold over the whole log is the store's periods
 * table), and keeps the state after each entry with its offset: the state
 * over the first n entries is the one after the last entry with offset < n
 * (exact for every snapshot and as-of). An entry the rules refuse (a log
 * kc-replay verify reports) changes nothing. Of that state a cell shows:
 *   signed_off  a sign-off since the latest reopen (state signed_off, or
 *               approved after a sign-off that followed the latest reopen)
 *   approved    state approved (locked)
 *   reopened    reopened and not approved again since (state reopened, or
 *               signed_off after a reopen)
 * with the latest such entry's time. Cycle entries are never reports: a
 * sign-off without data is shown signed off and missing (or not_due). Units
 * 34 before the merger: signed off (approved) when every part is, at the
 * latest part's time; reopened when any part is.
 *
 * Threads: an index has a mutex; update and table may be called from any
 * thread. Returns: 0 or a negative KC_E* code.
 */
#ifndef KC_CYCLE_H
#define KC_CYCLE_H

#include "kc_cells.h"
#include "kc_label.h"
#include "kc_qry.h"
#include "kc_ref.h"
#include "kc_store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    KC_CYCLE_NONE = 0, /* not a unit in that period */
    KC_CYCLE_ON_TIME,
    KC_CYCLE_LATE,
    KC_CYCLE_MISSING,
    KC_CYCLE_NOT_DUE,
    KC_CYCLE_STATES
} kc_cycle_state_t;

/* "on_time", "late", "missing", "not_due", "none" (JSON and CSV tokens). */
const char *kc_cycle_state_name(int state);

/* The deadline instant of period (year, month) with `days` days: ns since the
 * epoch of the last nanosecond of the due day in UTC+7 (DESIGN). */
uint64_t kc_cycle_deadline_ns(int year, int month, int days);
/* The due day as yyyy-mm-dd into buf (cap >= 11). */
char *kc_cycle_due_day(char *buf, size_t cap, int year, int month, int days);

typedef struct kc_cycle_index kc_cycle_index_t;

/* A new, empty index (NULL if out of memory); free with kc_cycle_index_free. */
kc_cycle_index_t *kc_cycle_index_new(void);
void kc_cycle_index_free(kc_cycle_index_t **ix);
/* Index the log entries of txn's snapshot not yet indexed (all of them the
 * first time). KC_EFORMAT if a logged Event does not decode. */
int kc_cycle_index_update(kc_cycle_index_t *ix, kc_txn_t *txn);
/* Log entries indexed so far. */
uint64_t kc_cycle_index_size(kc_cycle_index_t *ix);

typedef struct {
    int year;            /* 2000..2100 */
    int m_from, m_to;    /* 1..12 */
    kc_cells_filter_t f; /* regions, provinces and units (0 native, 34); by ignored */
    uint64_t now_ns;     /* the instant states are judged at */
    uint64_t n;          /* log entries considered: offsets 0..n-1 */
    const kc_ref_deadlines_t *deadlines; /* NULL: data/deadlines.tsv */
} kc_cycle_query_t;

/* One province and period. */
typedef struct {
    uint8_t state;          /* kc_cycle_state_t */
    uint8_t parts;          /* units 34 before the merger: provinces merged into the unit; 1 */
    uint8_t parts_reported; /* of them, how many reported */
    uint64_t reported_ns;   /* received_ns of the first counted entry (units 34: of the latest
                               part, once all reported); 0 = not reported */
    uint64_t offset;        /* its log offset (valid if reported_ns) */
    bool signed_off;        /* a sign-off since the latest reopen (DESIGN) */
    bool approved;          /* approved by the centre: locked */
    bool reopened;          /* reopened, not approved again since */
    uint64_t signed_off_ns; /* received_ns of that sign-off; 0 if not signed_off */
    uint64_t approved_ns;   /* of the approval; 0 if not approved */
    uint64_t reopened_ns;   /* of the reopen; 0 if not reopened */
} kc_cycle_cell_t;

typedef struct {
    uint8_t scheme, code;      /* the unit */
    const char *name;          /* static (reference data) */
    const char *region;        /* its region (static), NULL if none */
    kc_cycle_cell_t month[13]; /* [m_from..m_to]; the others state NONE */
} kc_cycle_row_t;

typedef struct {
    int year, m_from, m_to, units; /* units: 63 (native) or 34 */
    uint64_t now_ns, n;
    bool as_of;               /* judged at --as-of TIME (now_ns), not at the current time */
    int days[13];             /* days after the period's end, per month */
    uint64_t deadline_ns[13]; /* per month */
    kc_cycle_row_t *rows;     /* malloc'd */
    size_t nrows;
    uint32_t count[13][KC_CYCLE_STATES]; /* per month and state */
    uint32_t total[KC_CYCLE_STATES];     /* over the months */
} kc_cycle_table_t;

/* The table of q from the index (updated by the caller to cover q->n entries:
 * entries past the index are not seen). Rows in data/provinces.tsv order:
 * native units, each unit in force in some selected month that passes the
 * place filter; units 34, the 34 units. *out is overwritten; free it with
 * kc_cycle_table_free. KC_EINVAL for a bad query, KC_ENOMEM. */
int kc_cycle_table(kc_cycle_index_t *ix, const kc_cycle_query_t *q, kc_cycle_table_t *out);
void kc_cycle_table_free(kc_cycle_table_t *t);

/* ---- the front ends' shared part (kc-query --completeness, GET /v1/completeness) ----
 * kc-query's options (kc_qry.h) that apply: year (required), months, region,
 * province, units and as-of TIME; the others are refused with a reason
 * (KC_EINVAL, err[cap]; in URL style names as parameters). */
int kc_cycle_check_opts(const kc_qry_opts_t *o, kc_qry_style_t style, char *err, size_t cap);
/* Update ix from txn and compute the table of o in txn's snapshot: n = the
 * snapshot's log size, or with as-of TIME the entries received at or
 * before it; now = the current time, or the as-of time if earlier. */
int kc_cycle_answer(kc_cycle_index_t *ix, kc_txn_t *txn, const kc_qry_opts_t *o,
                    kc_cycle_table_t *out);

/* The late and missing counts of the `max` most recent periods whose deadline
 * is before now (native units, every province), newest first, for /metrics. */
typedef struct {
    int year, month;
    uint32_t late, missing, on_time;
} kc_cycle_due_t;
int kc_cycle_recent(kc_cycle_index_t *ix, kc_txn_t *txn, uint64_t now_ns, kc_cycle_due_t *out,
                    size_t max, size_t *n);

/* The JSON document of `kc-query --completeness --format json` and
 * GET /v1/completeness (new reference; NULL if out of memory). */
json_t *kc_cycle_json(const kc_cycle_table_t *t);

#endif
