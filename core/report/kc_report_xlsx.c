/* kc_report_xlsx.c - the report as an xlsx workbook (libxlsxwriter).
 *
 * DESIGN
 * One sheet per table. Each sheet starts with the header block (title,
 * query, generation time, log size, signed head: kc_rhead_build), then the
 * table's header row (bold, shaded, wrapped), its rows and its totals row
 * (bold); panes are frozen below the header row and right of the label
 * columns, so both stay in view.
 * Numbers are cells of type number holding exact integers: money in whole
 * đồng, counts. An xlsx number is an IEEE double, exact up to 2^53
 * (9,007,199,254,740,992 đồng, far above any real budget); a sum beyond it
 * (possible: kc_cells.h, DESIGN - exact sums) is written as its exact
 * decimal text instead of a rounded number. Display format "#,##0": Excel
 * and LibreOffice show it with the reader's locale separators (1.234.567 in
 * Vietnamese, 1,234,567 in English). Percentages are ratios with "0.0%"
 * (computed from the exact sums; a ratio, never a stored value), times are
 * date-time cells in UTC.
 * libxlsxwriter 1.1.4 (Debian 12) writes only to a named file
 * (lxw_workbook_options has no output buffer), so the workbook goes to a
 * mkstemp file in $TMPDIR (or /tmp), which is copied to the caller's FILE*
 * and removed.
 */
#include "kc_err.h"
#include "kc_report_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <xlsxwriter.h>

#define S_EXACT_MAX ((kc_i128)1 << 53)

typedef struct {
    lxw_workbook *wb;
    lxw_format *bold, *head, *num, *num_b, *pct, *pct_b, *time, *text_b;
    lxw_error err;
} s_x_t;

static void s_x(s_x_t *x, lxw_error e)
{
    if (e != LXW_NO_ERROR && x->err == LXW_NO_ERROR)
        x->err = e;
}

static double s_ratio(kc_i128 num, kc_i128 den)
{
    /* the percentage in hundredths, exact (kc_i128.h), then one conversion:
     * 3757 (37.57%) -> 0.3757 */
    kc_i128 h;
    if (kc_ratio_hundredths(num, den, &h) != 0)
        return 0;
    return (double)h / 10000.0;
}

static void s_cell(s_x_t *x, lxw_worksheet *ws, lxw_row_t row, lxw_col_t col, const kc_rcell_t *c,
                   bool total)
{
    char buf[64];
    switch (c->t) {
    case KC_RC_TEXT:
        s_x(x, worksheet_write_string(ws, row, col, c->s, total ? x->text_b : NULL));
        break;
    case KC_RC_INT:
        if (c->v <= S_EXACT_MAX && c->v >= -S_EXACT_MAX)
            s_x(x, worksheet_write_number(ws, row, col, (double)c->v, total ? x->num_b : x->num));
        else
            s_x(x, worksheet_write_string(ws, row, col, kc_i128_str(buf, sizeof buf, c->v),
                                          total ? x->text_b : NULL));
        break;
    case KC_RC_PCT:
        if (c->den != 0)
            s_x(x, worksheet_write_number(ws, row, col, s_ratio(c->v, c->den),
                                          total ? x->pct_b : x->pct));
        break;
    case KC_RC_CHG:
        if (c->den != 0)
            s_x(x, worksheet_write_number(ws, row, col, s_ratio(c->v - c->den, c->den),
                                          total ? x->pct_b : x->pct));
        break;
    case KC_RC_TIME: {
        time_t s = (time_t)(c->ns / 1000000000u);
        struct tm tm;
        gmtime_r(&s, &tm);
        lxw_datetime dt = {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                           tm.tm_hour,        tm.tm_min,     (double)tm.tm_sec};
        s_x(x, worksheet_write_datetime(ws, row, col, &dt, x->time));
        break;
    }
    default: break;
    }
}

static void s_sheet(s_x_t *x, const kc_rtab_t *t, const kc_rhead_t *head, size_t nh)
{
    lxw_worksheet *ws = workbook_add_worksheet(x->wb, t->sheet);
    if (!ws) {
        s_x(x, LXW_ERROR_MEMORY_MALLOC_FAILED);
        return;
    }
    lxw_row_t row = 0;
    s_x(x, worksheet_write_string(ws, row++, 0, t->title, x->bold));
    for (size_t i = 0; i < nh; i++, row++) {
        s_x(x, worksheet_write_string(ws, row, 0, head[i].label, x->text_b));
        s_x(x, worksheet_write_string(ws, row, 1, head[i].value, NULL));
    }
    row++;
    lxw_row_t hr = row;
    for (size_t c = 0; c < t->ncols; c++) {
        s_x(x, worksheet_write_string(ws, hr, (lxw_col_t)c, t->head[c], x->head));
        s_x(x, worksheet_set_column(ws, (lxw_col_t)c, (lxw_col_t)c, t->width[c], NULL));
    }
    for (size_t r = 0; r < t->nrows; r++) {
        bool total = t->has_total && r + 1 == t->nrows;
        for (size_t c = 0; c < t->ncols; c++)
            s_cell(x, ws, (lxw_row_t)(hr + 1 + r), (lxw_col_t)c, &t->cell[r * t->ncols + c], total);
    }
    worksheet_freeze_panes(ws, hr + 1, (lxw_col_t)t->nleft);
    worksheet_set_landscape(ws);
    worksheet_set_paper(ws, 9); /* A4 */
    s_x(x, worksheet_repeat_rows(ws, hr, hr));
}

static int s_copy(const char *path, FILE *out)
{
    FILE *in = fopen(path, "rb");
    if (!in)
        return KC_EIO;
    char buf[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) {
            rc = KC_EIO;
            break;
        }
    if (ferror(in))
        rc = KC_EIO;
    fclose(in);
    return rc;
}

int kc_report_xlsx(const kc_report_t *r, const kc_report_opts_t *o, FILE *out)
{
    kc_rdoc_t d;
    int rc = kc_rdoc_build(r, o, &d);
    if (rc)
        return rc;
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/kc-report.XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) {
        kc_rdoc_free(&d);
        return KC_EIO;
    }
    close(fd);
    s_x_t x = {.wb = workbook_new(path)};
    if (!x.wb) {
        unlink(path);
        kc_rdoc_free(&d);
        return KC_EIO;
    }
    x.bold = workbook_add_format(x.wb);
    x.head = workbook_add_format(x.wb);
    x.num = workbook_add_format(x.wb);
    x.num_b = workbook_add_format(x.wb);
    x.pct = workbook_add_format(x.wb);
    x.pct_b = workbook_add_format(x.wb);
    x.time = workbook_add_format(x.wb);
    x.text_b = workbook_add_format(x.wb);
    if (!x.bold || !x.head || !x.num || !x.num_b || !x.pct || !x.pct_b || !x.time || !x.text_b) {
        workbook_close(x.wb);
        unlink(path);
        kc_rdoc_free(&d);
        return KC_ENOMEM;
    }
    format_set_bold(x.bold);
    format_set_font_size(x.bold, 13);
    format_set_bold(x.head);
    format_set_text_wrap(x.head);
    format_set_align(x.head, LXW_ALIGN_VERTICAL_CENTER);
    format_set_bg_color(x.head, 0xDDEBF7);
    format_set_border(x.head, LXW_BORDER_THIN);
    format_set_num_format(x.num, "#,##0");
    format_set_num_format(x.num_b, "#,##0");
    format_set_bold(x.num_b);
    format_set_num_format(x.pct, "0.0%");
    format_set_num_format(x.pct_b, "0.0%");
    format_set_bold(x.pct_b);
    format_set_num_format(x.time, "yyyy-mm-dd hh:mm:ss");
    format_set_bold(x.text_b);
    workbook_set_properties(x.wb,
                            &(lxw_doc_properties){.title = d.title, .author = (char *)"kcpipe"});
    for (size_t i = 0; i < d.n; i++)
        s_sheet(&x, &d.tabs[i], d.head, d.nhead);
    lxw_error ce = workbook_close(x.wb);
    kc_rdoc_free(&d);
    if (x.err == LXW_NO_ERROR && ce == LXW_NO_ERROR)
        rc = s_copy(path, out);
    else
        rc = x.err == LXW_ERROR_MEMORY_MALLOC_FAILED || ce == LXW_ERROR_MEMORY_MALLOC_FAILED
                 ? KC_ENOMEM
                 : KC_EIO;
    unlink(path);
    return rc;
}
