/* kcimport.h - libkcingest's import layer: a field office's spreadsheet ->
 * checked activity events, with messages a clerk can act on.
 *
 * DESIGN
 * Every entry point of a field office (kc-send, its drop folder, a web
 * portal) reads files through this one layer, so that one rulebook decides
 * what a row means and one set of messages says what is wrong with it:
 *   - the file: .xlsx or .ods (first worksheet, or the one named), or a CSV in the
 *     dialects spreadsheets export (delimiter , ; or tab, sniffed unless
 *     given; BOM; CRLF/CR; UTF-8, UTF-16 by its byte order mark, or
 *     Windows-1258 / TCVN3 through iconv);
 *   - the header: the CSV contract's column names or their Vietnamese
 *     aliases, in any order, case and diacritics not mattering;
 *   - the cells, as people type them: numbers with Vietnamese or English
 *     grouping and a zero decimal part (never a guess when a value could
 *     mean two numbers), provinces by code or name under the scheme of the
 *     row's period, activities by code, name or Vietnamese label, kind and
 *     fund in either language;
 *   - then the aggregator's own rules for an event alone (metrics allowed
 *     per activity, not negative, years 2000-2100, ...).
 * kci_import_next hands over one item at a time in file order: a good event,
 * or one problem of a bad row (a bad row yields each of its problems and no
 * event). Nothing from a row with a problem should be sent. What only the
 * centre can decide (duplicates, corrections' targets, authorisation) comes
 * back as results (kc_result_t); kci_result_hint says what to do about them.
 *
 * Messages are in the language of gettext's domain "kcpipe" at the time of
 * the call (Vietnamese or English: the process's locale, or LANGUAGE); the
 * reason tokens never change with it.
 *
 * Threads: a kci_import_t is used by one thread at a time; different ones
 * may be used concurrently.
 */
#ifndef KCIMPORT_H
#define KCIMPORT_H

#include "kcingest.h"

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct kci_import kci_import_t;

typedef struct {
    const char *sheet;    /* xlsx: the worksheet's name; NULL = the first */
    char delimiter;       /* CSV: ',', ';' or '\t'; 0 = sniffed from the header line */
    const char *encoding; /* CSV: an iconv name ("WINDOWS-1258", "TCVN3", "UTF-16");
                           * NULL = UTF-8 (UTF-16 when the file starts with its BOM) */
} kci_import_opts_t;

/* One item. Strings are valid until the next kci_import_next or close. */
typedef struct {
    int is_event;
    const char *file;        /* the path given to kci_import_open */
    const char *sheet;       /* the worksheet's name; "" for a CSV */
    long row;                /* as the clerk sees it: the sheet's row number, or the
                              * CSV's physical line; 0 = the whole file (header) */
    const kc_event_t *event; /* is_event: the event, ready for kc_producer_add */
    /* a problem (!is_event): */
    const char *reason;     /* stable token: "unknown_activity", "ambiguous_number",
                             * "metric_not_allowed", ... */
    const char *col;        /* the column's letter ("C"), "" for the row or file */
    const char *header;     /* its header as written, "" if none */
    const char *column;     /* the contract's column name ("amount_vnd") or "" */
    const char *cell;       /* the cell as written (escaped for display), "" if none */
    const char *event_id;   /* the row's event_id as written (escaped, cut), "" if none */
    const char *suggestion; /* the nearest valid value ("machinery"), "" if none */
    int header_problem;     /* a problem of the header row (or of an empty file): the
                             * file's rows are not read */
    const char *message;    /* one line in the current language: where, what, and
                             * what to do ("bao-cao.xlsx [Sheet1] row 3, column E (Hoạt động):
                             * unknown activity 'machinary': did you mean ...") */
} kci_import_item_t;

/* Open path (opts may be NULL). Returns 0, or KCI_EINVAL (unknown encoding,
 * bad delimiter, no such sheet), KCI_EFORMAT (not a readable spreadsheet:
 * corrupt, encrypted, too large once uncompressed), -errno (cannot open), or
 * KCI_ENOMEM, with a one-line English reason in err[cap]. */
KCI_EXPORT int kci_import_open(kci_import_t **out, const char *path, const kci_import_opts_t *opts,
                               char *err, size_t cap);

/* The next item: 1, 0 at the end, or a negative code when the file cannot be
 * read further (reason in err[cap]; the items before stand). */
KCI_EXPORT int kci_import_next(kci_import_t *imp, kci_import_item_t *item, char *err, size_t cap);

/* Rows so far: good (handed over as events) and bad (with problems). */
KCI_EXPORT void kci_import_counts(const kci_import_t *imp, size_t *good, size_t *bad);

/* Close and free; *imp = NULL (no-op on NULL). */
KCI_EXPORT void kci_import_close(kci_import_t **imp);

/* What to do about a result the aggregator gave (a rejection, in the current
 * language): for event_id_conflict "to change an accepted row send a
 * correction: kind=correction, corrects=ID", for target_superseded the same
 * naming the latest version, and so on. Like snprintf: returns the length
 * (0 when there is nothing to add, buf then ""). */
KCI_EXPORT size_t kci_result_hint(const kc_result_t *r, char *buf, size_t cap);

/* The aggregator's rules for one event alone (kc-send --check's and the
 * import layer's: period, province under the period's scheme, activity,
 * kind, fund, note, at least one metric, each metric allowed for the
 * activity, not negative and under its ceiling, text rules), for an entry
 * point that builds events itself, such as a web form. Returns 0, KCI_EINVAL
 * (ev cannot be encoded: a required field missing), or the rejection reason
 * (> 0, a kcpipe.v1.Reason as in kc_result_t) with a one-line English
 * explanation in text[cap] and its stable name in *reason_name if not NULL.
 * What only the centre can decide (duplicates, targets, authorisation) is
 * not checked. */
KCI_EXPORT int kci_event_check(const kc_event_t *ev, const char **reason_name, char *text,
                               size_t cap);

/* A template to start from (kc-send --template): KCI_TEMPLATE_XLSX (headers,
 * drop-down lists, a sheet of provinces and activities, an example row) or
 * KCI_TEMPLATE_CSV, with lang's headers ("vi" or "en"; NULL = the current
 * language). Returns 0 or a negative code with a reason in err[cap]. */
enum { KCI_TEMPLATE_XLSX = 0, KCI_TEMPLATE_CSV = 1 };
KCI_EXPORT int kci_template_write(const char *path, int format, const char *lang, char *err,
                                  size_t cap);

#ifdef __cplusplus
}
#endif

#endif
