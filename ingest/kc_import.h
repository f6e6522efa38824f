/* kc_import.h - spreadsheet rows -> activity events, with one rulebook and one
 * set of messages (issue 15): the step after kc_sheet.h, used alike by kc-send,
 * the drop folder and (later) a portal.
 *
 * DESIGN
 * kc_import_open opens the file through kc_sheet.h (CSV dialects, xlsx);
 * kc_import_next hands over items one at a time, each either a good event or a
 * problem, in file order.
 *
 * The header row is the first row with a non-empty cell. Each header cell
 * (trimmed) is matched with kc_value_column (the CSV contract's names and the
 * Vietnamese aliases of data/columns.tsv). An empty header cell is a column
 * without a name: cells under it must stay empty (KC_IMPORT_EXTRA_CELL). Header
 * problems (unknown column, repeated column, required columns missing: event_id,
 * province, year, month, activity) are all reported, one item each, at the
 * header row; then the file ends (no row of a file with a bad header is read).
 *
 * Rows after the header: a row whose cells are all empty after trimming is
 * skipped. Every cell is trimmed of ASCII whitespace, NBSP and U+202F at both
 * ends; a row shorter than the header has empty cells at its end. The cells are
 * read by the rules of kc_value.h and kc-send's CSV contract (man kcpipe-csv):
 *   event_id, corrects  the text rule for ids (kc_text_id_ok); event_id required
 *   province   code or name (kc_value_province) under the scheme of the row's
 *              period (year*100+month); a row without a valid period (a
 *              retraction without one, or a bad year/month) takes the code of
 *              whichever scheme names it; required; the event gets the
 *              two-digit code ("01")
 *   year, month  numbers (kc_value_int): year 1..9999, month 1..12; required
 *              except on a retraction, which gives both or neither
 *   activity   kc_value_activity, the event gets the canonical name
 *              ("machinery"); required except on a retraction
 *   kind       kc_value_word(KC_VF_KIND): empty or actual -> KCI_KIND_ACTUAL,
 *              plan -> KCI_KIND_PLAN, correction / retraction -> the op
 *              (kind KCI_KIND_DEFAULT, the target's)
 *   fund       kc_value_word(KC_VF_FUND): empty -> KCI_FUND_OTHER
 *              (KCI_FUND_DEFAULT on a retraction)
 *   metrics    kc_value_int, empty = not reported, at most the metric's
 *              ceiling (data/metrics.tsv max); a retraction carries none
 *   note       the text rule for free text (kc_text_free_ok)
 *   corrects   required on a correction or retraction, refused on a record
 * A row with problems yields every one of them (one item each, in the
 * order of the checks above) and no event. A row that passes them is then
 * checked against the aggregator's own rules for an event alone (kc_event_check
 * through kc_encode_check: years 2000-2100, each metric allowed for the
 * activity and not negative, at least one metric, persons_employed <= persons,
 * note and id lengths): the first it breaks is one KC_IMPORT_REFUSED problem,
 * at the column concerned. Nothing is spooled from a row with an error; what
 * only the centre can decide (duplicates, corrections' targets, a province
 * the office may not report for) is the aggregator's answer.
 *
 * Messages: a problem is data (reason, location, cell text, hint);
 * kc_import_problem_text formats it in the gettext language of the moment
 * (common/kc_i18n.h), kc_import_reason_name gives a stable token for machines.
 *
 * Threads: a kc_import_t is used by one thread at a time.
 */
#ifndef KC_IMPORT_H
#define KC_IMPORT_H

#include "kc_sheet.h"
#include "kc_value.h"
#include "kcingest.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    KC_IMPORT_NONE = 0,
    /* file-level (header) */
    KC_IMPORT_NO_HEADER,       /* "no_header": no non-empty row at all */
    KC_IMPORT_MISSING_COLUMN,  /* "missing_column": detail = the missing names, ", " */
    KC_IMPORT_UNKNOWN_COLUMN,  /* "unknown_column": hint.suggest */
    KC_IMPORT_REPEATED_COLUMN, /* "repeated_column": detail = the first one's letter */
    /* cells */
    KC_IMPORT_EXTRA_CELL,         /* "extra_cell": a value under no header */
    KC_IMPORT_EMPTY_REQUIRED,     /* "empty_required" */
    KC_IMPORT_NOT_NUMBER,         /* "not_number": hint.offset */
    KC_IMPORT_BAD_GROUPING,       /* "bad_grouping": hint.offset */
    KC_IMPORT_AMBIGUOUS,          /* "ambiguous_number": hint.sep, .grouped, .decimal */
    KC_IMPORT_FRACTION,           /* "fraction" */
    KC_IMPORT_TOO_LARGE,          /* "too_large": outside int64 (limit 0) or above limit */
    KC_IMPORT_BAD_YEAR,           /* "bad_year": not 1..9999 */
    KC_IMPORT_BAD_MONTH,          /* "bad_month": not 1..12 */
    KC_IMPORT_UNKNOWN_PROVINCE,   /* "unknown_province": hint.suggest, period */
    KC_IMPORT_PROVINCE_SCHEME,    /* "province_other_scheme": hint.other, .successor, period */
    KC_IMPORT_UNKNOWN_ACTIVITY,   /* "unknown_activity": hint.suggest */
    KC_IMPORT_UNKNOWN_KIND,       /* "unknown_kind": hint.suggest */
    KC_IMPORT_UNKNOWN_FUND,       /* "unknown_fund": hint.suggest */
    KC_IMPORT_NO_CORRECTS,        /* "correction_without_corrects": detail = the kind */
    KC_IMPORT_CORRECTS_ON_RECORD, /* "corrects_without_correction" */
    KC_IMPORT_RETRACTION_METRICS, /* "retraction_with_metrics" */
    KC_IMPORT_HALF_PERIOD,        /* "retraction_half_period": year or month alone */
    KC_IMPORT_INVALID_TEXT,       /* "invalid_text": hint.offset, detail "utf8" or "control" */
    /* the aggregator's rules for the row alone (kc_event_check): rule = the
     * kcpipe.v1.Reason, its token (kc_import_problem_token) the aggregator's
     * name ("metric_not_allowed", "negative_value", "no_metrics", "bad_year",
     * "employed_exceeds_persons", "note_too_long", "event_id_too_long"),
     * detail its English explanation */
    KC_IMPORT_REFUSED,
    KC_IMPORT_REASON_COUNT
} kc_import_reason_t;

/* Where: strings valid until the next kc_import_next / kc_import_close. */
typedef struct {
    const char *file;  /* the path given to kc_import_open */
    const char *sheet; /* the worksheet's name, "" for a CSV */
    long row;          /* the spreadsheet's row number (CSV: physical line); 0 = file-level */
    int col;           /* 0-based column, -1 = none */
    char letter[8];    /* "A", "AA"; "" when col < 0 */
    char header[128];  /* the header cell of col, display form (kc_text_show); "" none */
} kc_import_loc_t;

typedef struct {
    kc_import_reason_t reason;
    kc_import_loc_t loc;
    const char *column; /* canonical column ("amount_vnd") or NULL */
    char text[192];     /* the cell, trimmed, display form (cut with "..." after ~120 bytes) */
    kc_value_hint_t hint;
    int64_t limit;        /* TOO_LARGE: the metric's ceiling (0: int64 overflow) */
    int32_t period;       /* PROVINCE_*: yyyymm of the row (0 = none) */
    char detail[256];     /* see the reasons */
    char event_id[80];    /* the row's event_id cell (display form, cut), "" if none */
    int rule;             /* REFUSED: the kcpipe.v1.Reason */
    const char *activity; /* REFUSED: the row's activity (canonical name) or NULL */
} kc_import_problem_t;

typedef struct {
    bool is_event;
    kc_import_loc_t loc; /* the row (col -1) for an event */
    /* is_event: strings borrowed until the next kc_import_next / close */
    kc_event_t event;
    kc_import_problem_t problem; /* !is_event */
} kc_import_item_t;

typedef struct kc_import kc_import_t;

/* Open path (opts as kc_sheet_open's, NULL = defaults). Returns 0, or the
 * negative KC_E* of kc_sheet_open (reason in err[cap]) or KC_ENOMEM. */
int kc_import_open(kc_import_t **out, const char *path, const kc_sheet_opts_t *opts, char *err,
                   size_t cap);

/* The next item: 1, 0 at the end, or a negative KC_E* when the file cannot be
 * read further (kc_sheet_next's error, reason in err[cap]; the items before
 * stand, the rest of the file is not read). */
int kc_import_next(kc_import_t *imp, kc_import_item_t *item, char *err, size_t cap);

/* Counts so far: good events handed over, rows with problems. */
size_t kc_import_good(const kc_import_t *imp);
size_t kc_import_bad_rows(const kc_import_t *imp);

/* Close and free; *imp = NULL (no-op on NULL). */
void kc_import_close(kc_import_t **imp);

/* The stable token of a reason ("unknown_activity"); "" for NONE/out of range. */
const char *kc_import_reason_name(kc_import_reason_t r);

/* The token of a problem: kc_import_reason_name, or the aggregator's reason
 * name for KC_IMPORT_REFUSED ("metric_not_allowed"). */
const char *kc_import_problem_token(const kc_import_problem_t *p);

/* One line for a clerk in the current gettext language: the location (the
 * file's base name, a workbook's sheet in brackets, the row, the column's
 * letter and header: "bao-cao.xlsx [Báo cáo] row 7, column E (Hoạt động)"), the
 * reason with the cell, and the hint (suggestion, both readings of an
 * ambiguous number, the unit in force, the valid values). Like snprintf:
 * always NUL-terminated (cap >= 1), returns the full length. */
size_t kc_import_problem_text(const kc_import_problem_t *p, char *buf, size_t cap);

/* The hint for an event the aggregator refused because its event_id was
 * already accepted with other values (event_id_conflict): "to change an
 * accepted row send a correction: kind=correction, corrects=ID". */
size_t kc_import_correction_hint(const char *event_id, char *buf, size_t cap);

#endif
