/* kc_report_html.c - the report as a standalone HTML page (kc_report.h).
 *
 * DESIGN
 * One self-contained document: UTF-8, lang="vi" or "en", a small inline
 * style sheet (no script, nothing fetched), the header block as a definition
 * list, each table as <table> with <thead> (repeated on printed pages by the
 * browser) and the totals row in <tfoot>. Every text (labels, province
 * names, figures) is escaped (& < > " '), so no cell can become markup.
 * Figures are shown with the language's separators, in whole đồng.
 */
#include "kc_err.h"
#include "kc_report_int.h"

#include <string.h>

static void s_esc(FILE *out, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", out); break;
        case '<': fputs("&lt;", out); break;
        case '>': fputs("&gt;", out); break;
        case '"': fputs("&quot;", out); break;
        case '\'': fputs("&#39;", out); break;
        default: fputc(*s, out);
        }
    }
}

static void s_cells(FILE *out, const kc_report_t *r, const kc_rtab_t *t, size_t row,
                    const char *tag)
{
    char buf[96];
    fputs("<tr>", out);
    for (size_t c = 0; c < t->ncols; c++) {
        fprintf(out, "<%s%s>", tag, c >= t->nleft ? " class=\"n\"" : "");
        s_esc(out, kc_rcell_show(&t->cell[row * t->ncols + c], r->q.lang, buf, sizeof buf));
        fprintf(out, "</%s>", tag);
    }
    fputs("</tr>\n", out);
}

int kc_report_html(const kc_report_t *r, const kc_report_opts_t *o, FILE *out)
{
    kc_rdoc_t d;
    int rc = kc_rdoc_build(r, o, &d);
    if (rc)
        return rc;
    fprintf(out, "<!DOCTYPE html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n<title>",
            r->q.lang == KC_LANG_VI ? "vi" : "en");
    s_esc(out, d.title);
    fputs("</title>\n<style>\n"
          "body{font-family:\"DejaVu Sans\",sans-serif;font-size:10pt;margin:1.5em}\n"
          "h1{font-size:13pt}h2{font-size:11pt;margin-top:1.5em}\n"
          "dl{display:grid;grid-template-columns:max-content auto;gap:.1em 1em}"
          "dt{font-weight:bold}dd{margin:0;word-break:break-all}\n"
          "table{border-collapse:collapse}th,td{border:1px solid #999;padding:.15em .4em}"
          "th{background:#dde}td.n,th.n{text-align:right}tfoot td{font-weight:bold}\n"
          "</style>\n</head>\n<body>\n<h1>",
          out);
    s_esc(out, d.title);
    fputs("</h1>\n<dl>\n", out);
    for (size_t i = 0; i < d.nhead; i++) {
        fputs("<dt>", out);
        s_esc(out, d.head[i].label);
        fputs("</dt><dd>", out);
        s_esc(out, d.head[i].value);
        fputs("</dd>\n", out);
    }
    fputs("</dl>\n", out);
    for (size_t i = 0; i < d.n; i++) {
        const kc_rtab_t *t = &d.tabs[i];
        fprintf(out, "<h2 id=\"%s\">", t->key);
        s_esc(out, t->title);
        fputs("</h2>\n<table>\n<thead><tr>", out);
        for (size_t c = 0; c < t->ncols; c++) {
            fprintf(out, "<th%s>", c >= t->nleft ? " class=\"n\"" : "");
            s_esc(out, t->head[c]);
            fputs("</th>", out);
        }
        fputs("</tr></thead>\n<tbody>\n", out);
        size_t body = t->has_total ? t->nrows - 1 : t->nrows;
        for (size_t row = 0; row < body; row++)
            s_cells(out, r, t, row, "td");
        fputs("</tbody>\n", out);
        if (t->has_total) {
            fputs("<tfoot>\n", out);
            s_cells(out, r, t, t->nrows - 1, "td");
            fputs("</tfoot>\n", out);
        }
        fputs("</table>\n", out);
    }
    fputs("</body>\n</html>\n", out);
    kc_rdoc_free(&d);
    return ferror(out) ? KC_EIO : 0;
}
