/* kc_report_int.h - libkcreport's inside: the report as generic tables.
 *
 * DESIGN
 * The CSV, HTML, xlsx and PDF renderers draw the same tables, so the model is
 * laid out once (kc_rtabs_build) as tables of typed cells: text, an exact
 * integer (money in whole đồng or a count), a percentage num/den, a change
 * (now - before) / before, a time. Each renderer decides how a type looks:
 * CSV plain integers and one-decimal percents, xlsx numbers with display
 * formats, HTML and PDF the language's separators (kc_fmt.h). The header
 * block (title, query, generation time, log size, signed head) is a list of
 * label/value lines (kc_rhead_build). The text renderer keeps kc-report's
 * classic layout for the summary and prints the other tables through
 * kc_table.
 */
#ifndef KC_REPORT_INT_H
#define KC_REPORT_INT_H

#include "kc_report.h"

typedef enum {
    KC_RC_EMPTY = 0,
    KC_RC_TEXT,
    KC_RC_INT,  /* v: money (whole đồng) or a count */
    KC_RC_PCT,  /* v / den as a percentage; den 0: no value */
    KC_RC_CHG,  /* (v - den) / den as a signed percentage; den 0: no value */
    KC_RC_TIME, /* ns since the epoch (UTC) */
} kc_rcell_type_t;

typedef struct {
    kc_rcell_type_t t;
    kc_i128 v, den;
    uint64_t ns;
    char *s; /* KC_RC_TEXT: owned */
} kc_rcell_t;

typedef struct {
    kc_report_table_t id;
    const char *key; /* "summary", "provinces", "activities" */
    char title[160]; /* section title (localized) */
    char sheet[32];  /* an xlsx sheet name (<= 31 characters, no []:*?/\) */
    size_t ncols, nrows;
    size_t nleft;     /* leading text columns */
    char **head;      /* ncols owned strings */
    kc_rcell_t *cell; /* nrows * ncols */
    bool has_total;   /* the last row is the totals row */
    double *width;    /* ncols: relative widths in characters (xlsx, PDF) */
} kc_rtab_t;

typedef struct {
    char label[64];
    char value[320];
} kc_rhead_t;

#define KC_RHEAD_MAX 10

/* The tables of r that o selects (totals rows always: a renderer that shows
 * them on request skips has_total rows). */
int kc_rtabs_build(const kc_report_t *r, const kc_report_opts_t *o, kc_rtab_t **tabs, size_t *n);
void kc_rtabs_free(kc_rtab_t *tabs, size_t n);

/* The report's title ("KẾT QUẢ HOẠT ĐỘNG KHUYẾN CÔNG ..."), one line. */
char *kc_report_title(const kc_report_t *r, char *buf, size_t cap);
/* The header block: title, places, period, units, generated, log size,
 * signed head; returns the number of lines. now_ns 0: the current time. */
size_t kc_rhead_build(const kc_report_t *r, uint64_t now_ns, kc_rhead_t *out, size_t max);

/* What the CSV, HTML, xlsx and PDF renderers draw: the tables o selects,
 * the header block and the title. */
typedef struct {
    kc_rtab_t *tabs;
    size_t n;
    kc_rhead_t head[KC_RHEAD_MAX];
    size_t nhead;
    char title[320];
} kc_rdoc_t;

/* Build *d (kc_rdoc_free releases it); KC_ENOMEM leaves nothing to free. */
int kc_rdoc_build(const kc_report_t *r, const kc_report_opts_t *o, kc_rdoc_t *d);
void kc_rdoc_free(kc_rdoc_t *d);

/* The periods' labels in r's language: pa the whole previous year, pb Y
 * months A-B, ps the same months of the previous year ("year 2021" in
 * English for a whole year). Each buffer holds cap bytes. */
void kc_report_periods(const kc_report_t *r, char *pa, char *pb, char *ps, size_t cap);

/* The facilities of a clause of Decree 45 (KC3 = KC3a + KC3b + KC3c, ...),
 * shown where two or more of its activities supported facilities in the
 * same period: the report's "168 facilities" of demonstration models and
 * machinery. The summary walks the activities in kc_ref order. */
typedef struct {
    char clause[16];
    kc_i128 fa, fb;  /* facilities in each period */
    int na, nb;      /* activities contributing in each period */
    char parts[128]; /* "KC3a + KC3b" */
} kc_rclause_t;

/* Moves c to the clause of activity `code`. When that starts another clause,
 * the one c held is copied to *done (to show) and true returned. */
bool kc_rclause_next(kc_rclause_t *c, const char *code, kc_rclause_t *done);
/* Adds activity `code`'s facilities in both periods (a: previous, b: current). */
void kc_rclause_add(kc_rclause_t *c, const char *code, const kc_totals_t *a, const kc_totals_t *b);
/* The subtotal's row title ("KC3 total (KC3a + KC3b)"), or NULL when fewer
 * than two activities contributed in each period (no row). */
const char *kc_rclause_title(const kc_rclause_t *c, kc_lang_t lang, char *buf, size_t cap);

/* A cell for people, in the language's formats ("50.300.000.000", "79,6%",
 * "+93,0%", "2026-12-07 21:00:00 UTC"); "" for an empty cell, "—" for a
 * percentage without a base. */
const char *kc_rcell_show(const kc_rcell_t *c, kc_lang_t lang, char *buf, size_t cap);
/* A cell for programs (CSV): integers without separators, percentages with
 * one decimal and a point ("79.6"), times ISO 8601 UTC; "" when empty. */
const char *kc_rcell_plain(const kc_rcell_t *c, char *buf, size_t cap);

/* Renderers (kc_report_render dispatches). */
int kc_report_text(const kc_report_t *r, const kc_report_opts_t *o, FILE *out);
int kc_report_csv(const kc_report_t *r, const kc_report_opts_t *o, FILE *out);
int kc_report_html(const kc_report_t *r, const kc_report_opts_t *o, FILE *out);
int kc_report_xlsx(const kc_report_t *r, const kc_report_opts_t *o, FILE *out);
int kc_report_pdf(const kc_report_t *r, const kc_report_opts_t *o, FILE *out);

#endif
