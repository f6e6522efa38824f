/* kc_qry.h - kc-query's options, answer and JSON document as a library, shared
 * by the kc-query command (getopt) and the aggregator's HTTP API
 * (/v1/totals query parameters, aggregator/kc_http.h).
 *
 * DESIGN
 * One named parameter at a time: kc_qry_set(o, name, value, style) applies a
 * long option ("year", "months", "as-of", ...) with the same checks for both
 * front ends. The style decides the spelling of names in reasons and which
 * names are known:
 *   KC_QRY_CLI  names as kc-query's long options ("as-of"); reasons say
 *               "--year ..."; a repeated single-valued option replaces the
 *               earlier one (getopt's usual behaviour), except --as-of /
 *               --as-of-offset which may be given once between them.
 *   KC_QRY_URL  names with '_' for '-' ("as_of"); reasons say "year ...";
 *               store, format and lang are unknown (the server has one store
 *               and speaks JSON); a repeated single-valued parameter is an
 *               error; the flag plan takes a value: 1|true|0|false; as_of
 *               without a zone is UTC (a date) or refused (a date-time),
 *               where --as-of reads it as local time: a server's zone is not
 *               its caller's.
 * Repeatable everywhere: region, province, activity, fund.
 * After the last parameter kc_qry_finish() applies the checks that need them
 * all (provinces are checked once the units are known; year is required;
 * plan with kind plan is refused). kc_qry_answer() reads every figure from one
 * read transaction; kc_qry_json() builds the document `kc-query --format json`
 * prints. Its figures are 128-bit sums (kc_cells.h, DESIGN - exact sums) and
 * exact JSON integers of any size: a figure beyond int64 is a big-integer node
 * (kc_json.h), so write the document with kc_json_dumps()/kc_json_dumpf()
 * (json_dumps() refuses it). Percentages are JSON reals whose hundredths are
 * computed exactly from the 128-bit sums; null where the base is zero.
 *
 * Strings passed to kc_qry_set (region names, province codes) are borrowed:
 * keep them alive while the options are used.
 * Returns: 0 or a negative KC_E* code; KC_EINVAL with a one-line reason in
 * err[cap] for a bad parameter.
 */
#ifndef KC_QRY_H
#define KC_QRY_H

#include "kc_cells.h"
#include "kc_label.h"
#include "kc_store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum { KC_QRY_TABLE = 0, KC_QRY_CSV, KC_QRY_JSON } kc_qry_format_t;
typedef enum { KC_QRY_CLI = 0, KC_QRY_URL } kc_qry_style_t;

typedef struct {
    const char *store;   /* store directory ("store" in the JSON) */
    kc_cells_filter_t f; /* place/activity/fund filters and grouping */
    int year;            /* --year (0 = not given) */
    int m_from, m_to;    /* --months */
    int kind;            /* 1 actual, 2 plan */
    bool plan;           /* --plan */
    int compare;         /* --compare year, 0 = none */
    kc_qry_format_t format;
    kc_lang_t lang;
    bool as_of;            /* --as-of or --as-of-offset given */
    bool as_of_time;       /* --as-of TIME (as_of_ns) rather than --as-of-offset */
    uint64_t as_of_ns;     /* --as-of: entries received at or before this instant */
    uint64_t as_of_offset; /* --as-of-offset: the first N entries */
    kc_cells_asof_t asof;  /* what kc_cells_asof did (filled by kc_qry_answer) */
    /* parsing state */
    const char *provinces[KC_CELLS_MAX_SEL]; /* checked by kc_qry_finish */
    size_t n_prov;
    uint32_t seen; /* single-valued parameters given (KC_QRY_URL repeat check) */
} kc_qry_opts_t;

typedef struct {
    kc_cells_result_t cur;  /* the figures asked for */
    kc_cells_result_t plan; /* plan of the whole year (if plan) */
    kc_cells_result_t cmp;  /* same months of the compare year (if compare) */
} kc_qry_answer_t;

/* Defaults: store "./var/kcpipe", months 1-12, kind actual, no filters. */
void kc_qry_init(kc_qry_opts_t *o);
/* Apply one named parameter (see DESIGN); value NULL for the CLI flag plan.
 * An unknown name: KC_EINVAL, "unknown parameter 'NAME'". */
int kc_qry_set(kc_qry_opts_t *o, kc_qry_style_t style, const char *name, const char *value,
               char *err, size_t cap);
/* The checks after the last parameter. */
int kc_qry_finish(kc_qry_opts_t *o, kc_qry_style_t style, char *err, size_t cap);

/* Every figure from txn's snapshot (a is overwritten; fills o->asof).
 * Errors of kc_cells_sum_src / kc_cells_asof (KC_EFORMAT, KC_ENOMEM, ...); a
 * sum never overflows. */
int kc_qry_answer(kc_qry_opts_t *o, kc_txn_t *txn, kc_qry_answer_t *a);

/* The `kc-query --format json` document (new reference; NULL if out of
 * memory); write it with kc_json_dumps() (see DESIGN). */
json_t *kc_qry_json(const kc_qry_opts_t *o, const kc_qry_answer_t *a);

/* Rows of a grouped answer: whether row r carries anything shown, and its key
 * (key[cap], cap >= 8) and label (activity rows: the name, or in the table
 * format the label in o->lang); *scheme = the province row's scheme, else 0. */
bool kc_qry_row_used(const kc_qry_answer_t *a, const kc_qry_opts_t *o, int r);
const char *kc_qry_row_label(const kc_qry_opts_t *o, int r, char *key, size_t cap, int *scheme);

/* --as-of TIME (forms in docs/ASOF.md) -> ns since the epoch. A date or
 * date-time without a zone is local time (TZ, /etc/localtime) when local, else
 * a date is the end of that day in UTC and a date-time needs a zone (the HTTP
 * API: the server's zone is not the caller's). A date alone is the end (last
 * nanosecond) of that day. Past year 2554: UINT64_MAX. Returns 0; -1 if not
 * a time; -2 if a local date-time falls where the clocks changed (in a gap, or
 * in the repeated hour): a zone must say which instant. */
int kc_qry_parse_time(const char *s, bool local, uint64_t *ns);
/* ns since the epoch as 2026-11-27T10:00:00.123456789Z (cap >= 40). */
const char *kc_qry_fmt_time(char *buf, size_t cap, uint64_t ns);

#endif
