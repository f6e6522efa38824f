/* kc_report.h - the regional conference report: its model and its renderers.
 *
 * DESIGN
 * One report, two front ends: kc-report (tools/) writes it to a file or a
 * terminal, GET /v1/report (aggregator/) serves the same bytes over HTTP.
 * Neither may include the other's headers, so the whole report lives here,
 * below both, in core/report (libkcreport).
 *
 * The MODEL (kc_report_build) holds every figure of one report, read in ONE
 * read transaction of the store (one LMDB snapshot, so the figures agree with
 * each other and with the read position printed beside them):
 *   - the regional summary of DOMAIN.md's reference report: spending of the
 *     previous year Y-1 and its plan, the plan of Y, spending of Y months A-B
 *     against the plan of Y and against the same months of Y-1, and each
 *     activity's own metrics in both periods (clause subtotals of facilities,
 *     consulting (TV) revenue kept apart from spending);
 *   - a per-province table for Y months A-B: spending split by fund (KCQG,
 *     KCĐP, other), its total, the plan of Y, % of plan, reports (accepted
 *     event records) and the unit's last report time;
 *   - a province x activity table of spending for Y months A-B;
 *   - the read position: the log size and the latest signed tree head
 *     (size, root, time) of the snapshot (store/kc_audit.h), and the query.
 * Every figure is an exact 128-bit sum (kc_cells.h, DESIGN - exact sums);
 * percentages are rationals num/den, formatted exactly (kc_fmt.h) or, in
 * xlsx only, stored as a ratio for a percent display format.
 *
 * The RENDERERS write a model to a caller's FILE* (a file, stdout, or
 * open_memstream for an HTTP body): text (kc-report's classic layout), CSV
 * (UTF-8, BOM by default, localized headers, totals row on request), HTML (a
 * standalone page, every text escaped), xlsx (one sheet per table, exact
 * integer cells with #,##0 display formats, frozen headers, totals rows, a
 * header block) and PDF (A4, DejaVu Sans embedded, page numbers, tables
 * breaking across pages with their header repeated). Tables: all by default,
 * or one (KC_REPORT_T_SUMMARY, _PROVINCES, _ACTIVITIES).
 * Returns: 0 or a negative KC_E* code (kc_err.h).
 */
#ifndef KC_REPORT_H
#define KC_REPORT_H

#include "kc_cells.h"
#include "kc_label.h"
#include "kc_store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* What a report is of. */
typedef struct {
    kc_cells_filter_t f;     /* regions and/or provinces (one is required), units 0 or 34 */
    int year;                /* Y, 2001..2100 */
    int m_from, m_to;        /* months A-B of Y, 1 <= A <= B <= 12 */
    kc_lang_t lang;          /* labels and number formats */
    const char *store_label; /* the store, shown by the text renderer; NULL: not shown
                              * (HTTP: no answer names the server's directory) */
} kc_report_query_t;

typedef enum {
    KC_REPORT_TEXT = 0,
    KC_REPORT_CSV,
    KC_REPORT_HTML,
    KC_REPORT_XLSX,
    KC_REPORT_PDF,
} kc_report_format_t;

typedef enum {
    KC_REPORT_T_ALL = 0,
    KC_REPORT_T_SUMMARY,    /* the regional summary and each activity's metrics */
    KC_REPORT_T_PROVINCES,  /* per province: funds, plan, % of plan, reports, last report */
    KC_REPORT_T_ACTIVITIES, /* province x activity spending */
} kc_report_table_t;

typedef struct {
    kc_report_table_t table; /* which tables (all by default) */
    bool no_bom;             /* CSV: no UTF-8 byte order mark (for programs) */
    bool total;              /* CSV: the totals rows (the other formats always show them) */
    uint64_t now_ns;         /* generation time shown; 0: the current time */
} kc_report_opts_t;

/* One province row of the model (Y months A-B unless said). */
typedef struct {
    int scheme, code;        /* the unit (scheme 34 with units 34) */
    const char *name;        /* static (kc_ref) */
    kc_i128 fund[3];         /* spending: KCQG, KCĐP, other */
    kc_i128 spend;           /* spending, every fund */
    kc_i128 plan;            /* plan of the whole year Y */
    kc_i128 events;          /* accepted event records, every kind and activity */
    uint64_t last_report_ns; /* the unit's last report (0: never) */
    kc_i128 *act;            /* spending per activity, index kc_ref_activity_at order */
} kc_report_prov_t;

typedef struct kc_report {
    kc_report_query_t q; /* store_label: a copy (or NULL) */
    /* the read position */
    uint64_t log_size;
    bool have_head;
    uint64_t head_size, head_ns;
    char head_root[65]; /* lower-case hex */
    /* the summary (rows by activity id) */
    kc_cells_result_t prev;      /* Y-1 whole year, actual */
    kc_cells_result_t prev_plan; /* Y-1 plan */
    kc_cells_result_t cur;       /* Y months A-B, actual */
    kc_cells_result_t cur_plan;  /* Y plan */
    kc_cells_result_t same;      /* Y-1 months A-B, actual */
    kc_cells_result_t tv[4];     /* TV by province: prev, prev plan, cur, cur plan */
    /* the province tables */
    size_t n_prov;
    kc_report_prov_t *prov;
    kc_report_prov_t total; /* the sum of every row; name NULL */
} kc_report_t;

/* Check a query (the library's own rules, the same for every front end):
 * 0, or KC_EINVAL with one line in err saying what to give. */
int kc_report_query_check(const kc_report_query_t *q, char *err, size_t cap);

/* Build the model of q from txn's snapshot into a new *out (caller frees with
 * kc_report_free). KC_EINVAL (query), KC_ENOMEM or a store error. */
int kc_report_build(kc_txn_t *txn, const kc_report_query_t *q, kc_report_t **out);
/* Free and set *r to NULL; no-op on NULL. */
void kc_report_free(kc_report_t **r);

/* A unit's reports in txn's snapshot (its kc_unit_state_t): *last becomes
 * the later of itself and the unit's last report, its accepted events are
 * added to *events (NULL: not counted). With merged, a scheme-34 unit counts
 * the scheme-63 provinces merged into it (successor) too, as the report's
 * last report with units 34 and /v1/provinces?scheme=34 do. A unit that
 * never reported adds nothing. 0 or a store error. */
int kc_report_unit_reports(kc_txn_t *txn, int scheme, int code, bool merged, uint64_t *last,
                           uint64_t *events);

/* Render r in fmt to out. KC_EIO if writing fails, KC_ENOMEM. */
int kc_report_render(const kc_report_t *r, kc_report_format_t fmt, const kc_report_opts_t *o,
                     FILE *out);

/* Names: "text", "csv", "html", "xlsx", "pdf"; 0 or KC_EINVAL. */
int kc_report_format_parse(const char *s, kc_report_format_t *out);
/* "all", "summary", "provinces", "activities"; 0 or KC_EINVAL. */
int kc_report_table_parse(const char *s, kc_report_table_t *out);
/* The file extension ("xlsx") and media type of a format. */
const char *kc_report_format_ext(kc_report_format_t fmt);
const char *kc_report_format_mime(kc_report_format_t fmt);
/* Whether a format is binary (xlsx, pdf: never to a terminal). */
bool kc_report_format_binary(kc_report_format_t fmt);

/* Release the process-wide caches of fontconfig, pango and cairo (at a
 * program's exit, so that a leak checker sees only real leaks). After it no
 * PDF may be rendered. */
void kc_report_pdf_cleanup(void);

#endif
