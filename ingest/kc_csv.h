/* kc_csv.h - reading activity events from CSV files (kc-send's input).
 *
 * Format: UTF-8, RFC 4180 quoting (libcsv in strict mode: quotes, commas and
 * newlines inside quoted cells), a header row naming the columns in any order:
 *   event_id, province, year, month, activity          (required)
 *   kind, fund, amount_vnd, revenue_vnd, persons, persons_employed, facilities,
 *   facility_turns, products, events, delegates, projects, note, corrects (optional)
 * An empty cell is "not reported". kind: actual|plan (empty = actual), or
 * correction|retraction, which set the event's op (its actual/plan kind is
 * then the target's) and need `corrects`, the event_id of the version replaced;
 * fund: kcqg|kcdp|kcđp|other (empty = other), both case-insensitive. A
 * correction carries the full new values (year, month, activity, metrics); a
 * retraction needs only event_id, province and corrects (year and month
 * together or neither, activity optional, no metrics). Integers are
 * strict: optional '-', digits, nothing else (a negative metric is passed on so
 * that the aggregator rejects it as negative_value). Cells are not trimmed.
 * Rows whose cells are all empty are skipped (spreadsheet padding).
 *
 * A malformed row (field count differs from the header, empty
 * event_id/province, empty year/month/activity except on a retraction, a
 * non-integer, a bad kind or fund, kind correction/retraction without
 * corrects or corrects on another kind, a retraction with metrics or with only
 * one of year/month, text breaking the aggregator's rule, broken quoting) is
 * reported with the physical line where it starts and is never handed to the
 * row callback. The text rule is kc_text.h's, checked with its functions:
 * every cell well-formed UTF-8 (no NUL byte), event_id, province, activity and
 * corrects without control characters, note without any but tab, LF and CR;
 * such a reason starts with "invalid_text: ", names the column, the byte
 * offset in the cell and the cell (escaped, kc_text_show), and says what to do
 * (for bytes that are not UTF-8: save the file as CSV UTF-8). Reasons never
 * hold bytes that are not UTF-8. Metric ceilings (value_too_large) are not
 * checked here but by kc_producer_add, on the event as encoded.
 */
#ifndef KC_CSV_H
#define KC_CSV_H

#include "kcingest.h"

#include <stddef.h>

/* One good row. Everything is borrowed for the duration of the callback. */
typedef struct {
    const char *file;     /* path as passed to kc_csv_import */
    long line;            /* physical line (1-based) where the row starts */
    const char *source;   /* "FILE:LINE" */
    const kc_event_t *ev; /* the event (activity as written: name or code) */
} kc_csv_row_t;

/* Return 0 to go on; any other value stops the import and is returned. */
typedef int (*kc_csv_row_fn)(const kc_csv_row_t *row, void *ctx);
/* A malformed row (line >= 1) or a file-level problem (line 0 = the file
 * could not be read; line 1 = bad header). */
typedef void (*kc_csv_error_fn)(const char *file, long line, const char *reason, void *ctx);

typedef struct {
    size_t rows;      /* data rows read: good + malformed */
    size_t good;      /* handed to the row callback */
    size_t malformed; /* reported through the error callback */
} kc_csv_stats_t;

/* Read path, calling row_fn for each good row and err_fn for each malformed
 * one. *st (may be NULL) is filled in any case. Returns 0 (the file was read;
 * some rows may have been malformed), KC_EFORMAT (missing/empty header, an
 * unknown or repeated column, a required column missing: nothing imported),
 * -errno (the file could not be read; rows before the failure were handed
 * over), KC_ENOMEM, or the non-zero value returned by row_fn. */
int kc_csv_import(const char *path, kc_csv_row_fn row_fn, kc_csv_error_fn err_fn, void *ctx,
                  kc_csv_stats_t *st);

/* Strict integer parse: "-?[0-9]+" within int64. Returns 0 or KC_EINVAL
 * (KC_EOVERFLOW if the digits do not fit). */
int kc_csv_parse_i64(const char *s, int64_t *out);

#endif
