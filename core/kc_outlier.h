/* kc_outlier.h - warnings on unusual values (issue 18): a robust summary of
 * the accepted figures of each (province unit, activity, kind, metric), kept
 * incrementally in the store, and the bound a new figure is judged by.
 *
 * A warning never rejects: the figure is counted all the same. The rules,
 * their reasoning and the comparison with DHIS2's min-max checks are in
 * docs/CYCLE.md, "Unusual values"; kc_outlier.c, DESIGN, has the layout.
 */
#ifndef KC_OUTLIER_H
#define KC_OUTLIER_H

#include "kc_label.h"
#include "kc_ledger.h"
#include "kc_ref.h"
#include "kc_store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KC_OUTLIER_WINDOW 32  /* the last this many positive accepted figures */
#define KC_OUTLIER_MIN_N  3   /* figures a summary needs before it judges */
#define KC_OUTLIER_FACTOR 100 /* bound 1: at least this ratio to the median, either way */
#define KC_OUTLIER_MADS   10  /* bound 2: farther from the median than this many MADs */

/* The summary of one cell: its last n positive figures in the order they were
 * accepted (oldest first), and how many it has folded in all. */
typedef struct {
    uint64_t count; /* positive figures folded, all time */
    uint32_t n;     /* figures in v (<= KC_OUTLIER_WINDOW) */
    int64_t v[KC_OUTLIER_WINDOW];
} kc_outlier_sum_t;

/* Fold one accepted figure: a figure <= 0 is not a magnitude and is ignored;
 * when the window is full the oldest figure leaves it. */
void kc_outlier_add(kc_outlier_sum_t *s, int64_t value);
/* The lower median of the window and the lower median of the absolute
 * deviations from it (MAD); false (both 0) for an empty window. Exact
 * integers: the same window gives the same answer everywhere. */
bool kc_outlier_stats(const kc_outlier_sum_t *s, int64_t *median, int64_t *mad);
/* +1 (unusually high), -1 (unusually low) or 0, judging value against s
 * (0 when s has fewer than KC_OUTLIER_MIN_N figures or value <= 0). Unusual
 * means both: value >= FACTOR x median (or FACTOR x value <= median), and
 * |value - median| > MADS x MAD. median and mad (may be NULL) are set. */
int kc_outlier_judge(const kc_outlier_sum_t *s, int64_t value, int64_t *median, int64_t *mad);

/* Stored layout (kc_outlier.c, DESIGN). encode returns the size written into
 * buf[KC_OUTLIER_ENC_MAX]; decode: 0 or KC_EFORMAT. */
#define KC_OUTLIER_ENC_MAX (1 + 1 + 8 + 8 * KC_OUTLIER_WINDOW)
size_t kc_outlier_encode(const kc_outlier_sum_t *s, uint8_t *buf);
int kc_outlier_decode(const uint8_t *buf, size_t len, kc_outlier_sum_t *s);

/* Which summaries a figure belongs to: its province unit's (kc_ref_unit_key)
 * and its region's (the region of the province in the period; 0 = none), for
 * an activity (kc_activity_t.id) and kind (1 actual, 2 plan). */
typedef struct {
    uint8_t unit;
    uint8_t region; /* 1 north, 2 central_highlands, 3 south; 0 none */
    uint8_t activity;
    uint8_t kind;
} kc_outlier_cell_t;
/* KC_EINVAL if the province code is unknown in the period or kind is not 1/2. */
int kc_outlier_cell(int province, int32_t yyyymm, uint8_t activity, uint8_t kind,
                    kc_outlier_cell_t *out);

/* One warning. */
typedef struct {
    int metric;     /* kc_metric_t */
    int64_t value;  /* the figure */
    int64_t median; /* of the summary it was judged against */
    int64_t mad;
    uint32_t n;  /* figures in that summary's window */
    int dir;     /* +1 high, -1 low */
    bool region; /* judged against the region (the unit had < MIN_N figures) */
} kc_outlier_warning_t;

/* The warnings for figures about to be accepted in cell c (present: bit per
 * kc_metric_t; m: the figures), judged against the summaries as they are in
 * txn t, before these figures are folded: the unit's when it has at least
 * KC_OUTLIER_MIN_N figures of that metric, else the region's. out has room
 * for KC_METRIC_COUNT; *n is set. Read or write txns. */
int kc_outlier_check_txn(kc_txn_t *t, const kc_outlier_cell_t *c, uint32_t present,
                         const int64_t m[KC_METRIC_COUNT], kc_outlier_warning_t *out, size_t *n);
/* Fold accepted figures into the unit's and the region's summaries (write
 * txns; the transaction that counts them). A record's or a correction's
 * figures are folded; a retraction folds nothing (the history is append-only). */
int kc_outlier_observe_txn(kc_txn_t *t, const kc_outlier_cell_t *c, uint32_t present,
                           const int64_t m[KC_METRIC_COUNT]);
/* The figures an accepted event states, for the commit path: from its effect
 * (eff, REASON_OK) the cell they count in (a record's; a correction's new
 * cell, its kind resolved from the target) and from the event ev its figures
 * (present: bit per metric carried). 0, or KC_ENOTFOUND for an event that
 * states no figures (a retraction, a rejected or duplicate event, an entry of
 * another op), or KC_EINVAL. */
int kc_outlier_figures(const kc_ledger_effect_t *eff, const kc_pb_event_t *ev, kc_outlier_cell_t *c,
                       uint32_t *present, int64_t m[KC_METRIC_COUNT]);
/* The summary of one (unit or region, activity, kind, metric); KC_ENOTFOUND
 * (and *s empty) if it has none. */
int kc_outlier_get_txn(kc_txn_t *t, bool region, uint8_t id, uint8_t activity, uint8_t kind,
                       int metric, kc_outlier_sum_t *s);

/* The warning as one sentence in lang, saying what to check next. */
char *kc_outlier_text(const kc_outlier_warning_t *w, kc_lang_t lang, char *buf, size_t cap);

#endif
