/* kc_report_pdf.c - the report as PDF (cairo + pango).
 *
 * DESIGN
 * A4 landscape (842 x 595 pt; the wide province tables fit), 30 pt margins.
 * Text is laid out by pango in "DejaVu Sans" (fonts-dejavu-core, found
 * through fontconfig): it covers every Vietnamese letter, and cairo's PDF
 * surface embeds the subset of each font used (with a ToUnicode map, so
 * copied or extracted text reads back as written). The output goes through
 * cairo_pdf_surface_create_for_stream to the caller's FILE*.
 * Page 1 starts with the title and the header block (kc_rhead_build); each
 * table follows with its title, its header row and its rows, the totals row
 * bold. A row that does not fit goes to the next page, where the table's
 * header row is drawn again. Column widths come from the widest text of each
 * column, a text column capped at S_TEXT_MAX and wrapped inside it; when the
 * columns are still wider than the page, the table's font is scaled down
 * (not below S_MIN_PT). Pages are numbered "Trang N/M" / "Page N of M": the
 * layout runs twice, the first time only to count the pages.
 * Each render uses its own pango font map (freed at the end), so renders in
 * several threads (the HTTP server) share no pango state; fontconfig's and
 * cairo's process-wide caches are released by kc_report_pdf_cleanup().
 */
#include "kc_err.h"
#include "kc_report_int.h"

#include <cairo-pdf.h>
#include <fontconfig/fontconfig.h>
#include <pango/pangocairo.h>
#include <stdlib.h>
#include <string.h>

#define S_PAGE_W   841.89
#define S_PAGE_H   595.28
#define S_MARGIN   30.0
#define S_BASE_PT  8.0
#define S_MIN_PT   4.5
#define S_TEXT_MAX 230.0 /* points, at S_BASE_PT */
#define S_PAD      3.0

typedef struct {
    cairo_t *cr;
    PangoContext *ctx;
    PangoLayout *lay;
    bool draw;
    int page, pages;
    double y;
    kc_lang_t lang;
} s_pdf_t;

static cairo_status_t s_write(void *closure, const unsigned char *data, unsigned int len)
{
    return fwrite(data, 1, len, (FILE *)closure) == len ? CAIRO_STATUS_SUCCESS
                                                        : CAIRO_STATUS_WRITE_ERROR;
}

static void s_font(s_pdf_t *p, double pt, bool bold)
{
    PangoFontDescription *fd = pango_font_description_new();
    pango_font_description_set_family(fd, "DejaVu Sans");
    pango_font_description_set_absolute_size(fd, pt * PANGO_SCALE);
    pango_font_description_set_weight(fd, bold ? PANGO_WEIGHT_BOLD : PANGO_WEIGHT_NORMAL);
    pango_layout_set_font_description(p->lay, fd);
    pango_font_description_free(fd);
}

/* Lay text out in width w (<= 0: one line); its size in points. */
static void s_measure(s_pdf_t *p, const char *text, double w, double *tw, double *th)
{
    pango_layout_set_text(p->lay, text, -1);
    pango_layout_set_width(p->lay, w > 0 ? (int)(w * PANGO_SCALE) : -1);
    pango_layout_set_wrap(p->lay, PANGO_WRAP_WORD_CHAR);
    int a, b;
    pango_layout_get_size(p->lay, &a, &b);
    *tw = (double)a / PANGO_SCALE;
    *th = (double)b / PANGO_SCALE;
}

static void s_text_at(s_pdf_t *p, const char *text, double x, double y, double w, bool right)
{
    double tw, th;
    s_measure(p, text, w, &tw, &th);
    if (!p->draw)
        return;
    pango_layout_set_alignment(p->lay, right ? PANGO_ALIGN_RIGHT : PANGO_ALIGN_LEFT);
    cairo_move_to(p->cr, x, y);
    pango_cairo_show_layout(p->cr, p->lay);
    pango_layout_set_alignment(p->lay, PANGO_ALIGN_LEFT);
}

static void s_footer(s_pdf_t *p)
{
    char s[64];
    snprintf(s, sizeof s, p->lang == KC_LANG_VI ? "Trang %d/%d" : "Page %d of %d", p->page,
             p->pages);
    s_font(p, 7.5, false);
    double tw, th;
    s_measure(p, s, -1, &tw, &th);
    s_text_at(p, s, (S_PAGE_W - tw) / 2, S_PAGE_H - S_MARGIN + 6, -1, false);
}

static void s_new_page(s_pdf_t *p)
{
    s_footer(p);
    if (p->draw)
        cairo_show_page(p->cr);
    p->page++;
    p->y = S_MARGIN;
}

typedef struct {
    double pt;   /* font size */
    double *w;   /* column widths (points, padding included) */
    double line; /* height of one line */
} s_cols_t;

static const char *s_show(const s_pdf_t *p, const kc_rtab_t *t, size_t r, size_t c, char *buf,
                          size_t cap)
{
    return kc_rcell_show(&t->cell[r * t->ncols + c], p->lang, buf, cap);
}

/* Column widths and font size of a table (see DESIGN). */
static int s_columns(s_pdf_t *p, const kc_rtab_t *t, s_cols_t *k)
{
    k->w = calloc(t->ncols, sizeof *k->w);
    if (!k->w)
        return KC_ENOMEM;
    char buf[96];
    double avail = S_PAGE_W - 2 * S_MARGIN, sum = 0, tw, th;
    for (size_t c = 0; c < t->ncols; c++) {
        s_font(p, S_BASE_PT, true);
        s_measure(p, t->head[c], -1, &tw, &th);
        double w = tw;
        for (size_t r = 0; r < t->nrows; r++) {
            s_font(p, S_BASE_PT, t->has_total && r + 1 == t->nrows); /* totals: bold */
            s_measure(p, s_show(p, t, r, c, buf, sizeof buf), -1, &tw, &th);
            if (tw > w)
                w = tw;
        }
        if (c < t->nleft && w > S_TEXT_MAX)
            w = S_TEXT_MAX;
        if (c >= t->nleft && w > S_TEXT_MAX / 2) /* numbers: headers wrap */
            w = S_TEXT_MAX / 2;
        k->w[c] = w + 2 * S_PAD;
        sum += k->w[c];
    }
    double scale = sum > avail ? avail / sum : 1.0;
    k->pt = S_BASE_PT * scale < S_MIN_PT ? S_MIN_PT : S_BASE_PT * scale;
    scale = k->pt / S_BASE_PT;
    for (size_t c = 0; c < t->ncols; c++)
        k->w[c] *= scale;
    s_font(p, k->pt, false);
    s_measure(p, "Ấy", -1, &tw, &th);
    k->line = th;
    return 0;
}

/* Height of a row (r == SIZE_MAX: the header row). */
static double s_row_h(s_pdf_t *p, const kc_rtab_t *t, const s_cols_t *k, size_t r, bool bold)
{
    char buf[96];
    double h = k->line, tw, th;
    s_font(p, k->pt, bold);
    for (size_t c = 0; c < t->ncols; c++) {
        const char *s = r == SIZE_MAX ? t->head[c] : s_show(p, t, r, c, buf, sizeof buf);
        s_measure(p, s, k->w[c] - 2 * S_PAD, &tw, &th);
        if (th > h)
            h = th;
    }
    return h + 2 * S_PAD;
}

static void s_draw_row(s_pdf_t *p, const kc_rtab_t *t, const s_cols_t *k, size_t r, bool bold,
                       double h)
{
    char buf[96];
    double x = S_MARGIN;
    if (p->draw && r == SIZE_MAX) {
        double w = 0;
        for (size_t c = 0; c < t->ncols; c++)
            w += k->w[c];
        cairo_set_source_rgb(p->cr, 0.87, 0.92, 0.97);
        cairo_rectangle(p->cr, S_MARGIN, p->y, w, h);
        cairo_fill(p->cr);
        cairo_set_source_rgb(p->cr, 0, 0, 0);
    }
    s_font(p, k->pt, bold);
    for (size_t c = 0; c < t->ncols; c++) {
        const char *s = r == SIZE_MAX ? t->head[c] : s_show(p, t, r, c, buf, sizeof buf);
        s_text_at(p, s, x + S_PAD, p->y + S_PAD, k->w[c] - 2 * S_PAD, c >= t->nleft);
        if (p->draw) {
            cairo_rectangle(p->cr, x, p->y, k->w[c], h);
            cairo_set_line_width(p->cr, 0.3);
            cairo_stroke(p->cr);
        }
        x += k->w[c];
    }
    p->y += h;
}

static int s_table(s_pdf_t *p, const kc_rtab_t *t)
{
    s_cols_t k;
    int rc = s_columns(p, t, &k);
    if (rc)
        return rc;
    double bottom = S_PAGE_H - S_MARGIN, tw, th;
    s_font(p, 10, true);
    s_measure(p, t->title, S_PAGE_W - 2 * S_MARGIN, &tw, &th);
    double hh = s_row_h(p, t, &k, SIZE_MAX, true);
    double first = t->nrows ? s_row_h(p, t, &k, 0, false) : 0;
    if (p->y + 8 + th + hh + first > bottom)
        s_new_page(p);
    else
        p->y += 8;
    s_font(p, 10, true);
    s_text_at(p, t->title, S_MARGIN, p->y, S_PAGE_W - 2 * S_MARGIN, false);
    p->y += th + 4;
    s_draw_row(p, t, &k, SIZE_MAX, true, hh);
    for (size_t r = 0; r < t->nrows; r++) {
        bool bold = t->has_total && r + 1 == t->nrows;
        double h = s_row_h(p, t, &k, r, bold);
        if (p->y + h > bottom) {
            s_new_page(p);
            s_draw_row(p, t, &k, SIZE_MAX, true, hh); /* the header again */
        }
        s_draw_row(p, t, &k, r, bold, h);
    }
    free(k.w);
    return 0;
}

/* One pass over the whole document; p->page ends as the page count. */
static int s_pass(s_pdf_t *p, const kc_rdoc_t *d)
{
    double tw, th, w = S_PAGE_W - 2 * S_MARGIN;
    p->page = 1;
    p->y = S_MARGIN;
    s_font(p, 13, true);
    s_measure(p, d->title, w, &tw, &th);
    s_text_at(p, d->title, S_MARGIN, p->y, w, false);
    p->y += th + 6;
    double lw = 0;
    s_font(p, 8, true);
    for (size_t i = 0; i < d->nhead; i++) {
        s_measure(p, d->head[i].label, -1, &tw, &th);
        if (tw > lw)
            lw = tw;
    }
    for (size_t i = 0; i < d->nhead; i++) {
        s_font(p, 8, true);
        s_text_at(p, d->head[i].label, S_MARGIN, p->y, -1, false);
        s_font(p, 8, false);
        s_measure(p, d->head[i].value, w - lw - 10, &tw, &th);
        s_text_at(p, d->head[i].value, S_MARGIN + lw + 10, p->y, w - lw - 10, false);
        p->y += th + 1;
    }
    for (size_t i = 0; i < d->n; i++) {
        int rc = s_table(p, &d->tabs[i]);
        if (rc)
            return rc;
    }
    s_footer(p);
    if (p->draw)
        cairo_show_page(p->cr);
    return 0;
}

int kc_report_pdf(const kc_report_t *r, const kc_report_opts_t *o, FILE *out)
{
    kc_rdoc_t d;
    int rc = kc_rdoc_build(r, o, &d);
    if (rc)
        return rc;
    cairo_surface_t *surf = cairo_pdf_surface_create_for_stream(s_write, out, S_PAGE_W, S_PAGE_H);
    cairo_t *cr = cairo_create(surf);
    PangoFontMap *fm = pango_cairo_font_map_new();
    PangoContext *ctx = fm ? pango_font_map_create_context(fm) : NULL;
    PangoLayout *lay = ctx ? pango_layout_new(ctx) : NULL;
    if (cairo_status(cr) != CAIRO_STATUS_SUCCESS || !lay) {
        rc = KC_ENOMEM;
    } else {
        cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_CREATOR, "kcpipe kc-report");
        cairo_pdf_surface_set_metadata(surf, CAIRO_PDF_METADATA_TITLE, d.title);
        pango_cairo_update_context(cr, ctx);
        s_pdf_t p = {.cr = cr, .ctx = ctx, .lay = lay, .draw = false, .lang = r->q.lang};
        rc = s_pass(&p, &d); /* count the pages */
        if (rc == 0) {
            p.pages = p.page;
            p.draw = true;
            rc = s_pass(&p, &d);
        }
    }
    if (lay)
        g_object_unref(lay);
    if (ctx)
        g_object_unref(ctx);
    if (fm)
        g_object_unref(fm);
    cairo_destroy(cr);
    cairo_surface_finish(surf);
    if (rc == 0 && cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS)
        rc = KC_EIO;
    cairo_surface_destroy(surf);
    kc_rdoc_free(&d);
    return rc;
}

void kc_report_pdf_cleanup(void)
{
    cairo_debug_reset_static_data();
    FcFini();
}
