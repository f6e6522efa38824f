/* kc_rejects.h - the rejected rows of a store, filtered and ordered, as a
 * library shared by `kc-admin rejects` (getopt) and the aggregator's
 * GET /v1/rejects (aggregator/kc_http.c).
 *
 * DESIGN
 * The store keeps one record per rejected event and per business duplicate
 * (kc_reject_t, store/kc_store.h), keyed by producer, epoch and seq. A list
 * is one scan of that table in one read transaction, keeping the records
 * that pass every filter given:
 *   province   a code ("79", also codes the reference data does not know:
 *              "99" finds the unknown_province rejects that named it) or a
 *              name with or without diacritics (kc_filter's matching: a name
 *              means its province under the scheme(s) it has, so a record
 *              of an unknown period matches a name only if the name means
 *              the code under any scheme); repeatable (a union)
 *   reason     a Reason's token ("unknown_province": kcpipe.v1.Reason lower-
 *              cased without REASON_, kc_reason_name); repeatable
 *   since, until  received time, inclusive. A date alone is its whole day:
 *              since = its first instant, until = its last (as --as-of). CLI:
 *              without a zone local time (kc_qry_parse_time, the parser of
 *              kc-query's --as-of); URL: a date is UTC, a date-time needs a
 *              zone (docs/ASOF.md). A record written before issue 16 has no
 *              time: any since/until leaves it out.
 *   producer   the exact producer id
 *   duplicates REASON_DUPLICATE records (acknowledged duplicates, not
 *              rejections) are left out unless asked for, by this flag or by
 *              reason=duplicate
 *   limit      at most this many rows (CLI default: all; URL default 100,
 *              1..1000); `count` is the number that matched in all and
 *              `truncated` says whether rows were left out
 * Order: newest first (received time descending; then producer ascending,
 * epoch and seq descending), records without a time last in the same key
 * order. Newest first because the question is usually "what went wrong
 * lately"; the log order of one producer is the (epoch, seq) order shown.
 * Parameters come one at a time (kc_rejects_set) like kc_qry_set: CLI names
 * are the long options without "--", URL names the same; in the URL style a
 * repeated single-valued parameter is an error and duplicates takes a value
 * (1|true|0|false); in the CLI style a later value replaces an earlier one.
 * Returns: 0 or a negative KC_E* code; KC_EINVAL with a one-line reason in
 * err[cap] for a bad parameter.
 */
#ifndef KC_REJECTS_H
#define KC_REJECTS_H

#include "kc_qry.h"
#include "kc_store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KC_REJECTS_MAX_SEL   64   /* provinces or reasons in one filter */
#define KC_REJECTS_URL_LIMIT 100  /* default limit of GET /v1/rejects */
#define KC_REJECTS_URL_MAX   1000 /* its largest limit */

typedef struct {
    uint8_t provinces[KC_REJECTS_MAX_SEL];       /* codes 1..99 */
    uint8_t province_scheme[KC_REJECTS_MAX_SEL]; /* 0 any scheme, 63 or 34 (a name) */
    size_t n_provinces;
    int reasons[KC_REJECTS_MAX_SEL];
    size_t n_reasons;
    bool has_since, has_until;
    uint64_t since_ns, until_ns;
    const char *producer; /* borrowed; NULL = any */
    bool duplicates;
    size_t limit;  /* 0 = all */
    unsigned seen; /* single-valued parameters given (URL: a repeat is an error) */
} kc_rejects_opts_t;

typedef struct {
    kc_reject_t *rows; /* borrow the read transaction: use before it ends */
    size_t n;          /* rows kept (<= limit) */
    uint64_t count;    /* rows that matched in all */
    bool truncated;    /* count > n */
} kc_rejects_t;

void kc_rejects_init(kc_rejects_opts_t *o, kc_qry_style_t style);
/* Apply one parameter (name without "--"; value NULL for the CLI flag
 * duplicates). Values are borrowed (producer): keep them alive. */
int kc_rejects_set(kc_rejects_opts_t *o, kc_qry_style_t style, const char *name, const char *value,
                   char *err, size_t cap);
/* The matching rows of txn's snapshot, ordered and limited (see DESIGN). */
int kc_rejects_list(const kc_rejects_opts_t *o, kc_txn_t *txn, kc_rejects_t *out);
void kc_rejects_free(kc_rejects_t *r);

/* "79" (or "" if none) into buf[cap >= 3]; returns buf. */
const char *kc_rejects_code(const kc_reject_t *r, char *buf, size_t cap);
/* The province's name under the scheme of the record's period; without a
 * period, the name the code has in every scheme that has it. NULL if none. */
const char *kc_rejects_province_name(const kc_reject_t *r);

/* {"rejects":[{producer, epoch, seq, reason, text, received, province,
 * province_name, event_id}], "count", "truncated"} (docs/MONITORING.md):
 * text in display form, received as kc_qry_fmt_time or null. */
json_t *kc_rejects_json(const kc_rejects_t *r);

#endif
