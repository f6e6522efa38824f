/* kc_report_csv.c - the report as CSV (kc_report.h).
 *
 * DESIGN
 * UTF-8 with a byte order mark by default (Excel on Windows reads a CSV
 * without one in the ANSI code page and garbles "Bình Thuận"); no BOM on
 * request (programs). Headers in the query's language. Values for programs
 * (kc_rcell_plain): integers without separators (money in whole đồng,
 * exact), percentages with one decimal and a point, times ISO 8601 UTC.
 * One table (--table): its header row and rows, nothing else. All tables:
 * each as a section (a line with its title, its header, its rows), sections
 * separated by an empty line. The totals rows only on request. Lines end in
 * "\n"; fields quoted as RFC 4180 says when they hold , " or a line end.
 */
#include "kc_csvout.h"
#include "kc_err.h"
#include "kc_report_int.h"

int kc_report_csv(const kc_report_t *r, const kc_report_opts_t *o, FILE *out)
{
    kc_rdoc_t d;
    int rc = kc_rdoc_build(r, o, &d);
    if (rc)
        return rc;
    if (!o->no_bom)
        kc_csv_bom(out);
    char buf[64];
    for (size_t i = 0; i < d.n; i++) {
        const kc_rtab_t *t = &d.tabs[i];
        if (o->table == KC_REPORT_T_ALL) {
            if (i)
                fputc('\n', out);
            kc_csv_field(out, t->title);
            fputc('\n', out);
        }
        for (size_t c = 0; c < t->ncols; c++) {
            if (c)
                fputc(',', out);
            kc_csv_field(out, t->head[c]);
        }
        fputc('\n', out);
        for (size_t row = 0; row < t->nrows; row++) {
            if (t->has_total && row + 1 == t->nrows && !o->total)
                break;
            for (size_t c = 0; c < t->ncols; c++) {
                if (c)
                    fputc(',', out);
                kc_csv_field(out, kc_rcell_plain(&t->cell[row * t->ncols + c], buf, sizeof buf));
            }
            fputc('\n', out);
        }
    }
    kc_rdoc_free(&d);
    return ferror(out) ? KC_EIO : 0;
}
