/* kc_table.h - a plain-text table for the tools' and the text report's human output (libkcreport).
 *
 * Cells are copied in, in display form (common/kc_text.h: an invalid byte or
 * a control character becomes "\xNN", so no cell can move the cursor or
 * recolour a terminal); columns are sized by display width (UTF-8 aware, so
 * Vietnamese labels line up); the first `left` columns are left-aligned, the
 * rest right-aligned. Caller owns the table: kc_table_destroy() it.
 */
#ifndef KC_TABLE_H
#define KC_TABLE_H

#include <stddef.h>
#include <stdio.h>

typedef struct kc_table kc_table_t;

/* A table of `cols` columns, the first `left` of them left-aligned; NULL on
 * allocation failure. */
kc_table_t *kc_table_new(size_t cols, size_t left);
void kc_table_destroy(kc_table_t **t);
/* Start a new row; returns 0 or KC_ENOMEM. */
int kc_table_row(kc_table_t *t);
/* Set column `col` of the current row (a copy of text in display form; NULL =
 * empty). */
int kc_table_set(kc_table_t *t, size_t col, const char *text);
/* Print every row, columns separated by two spaces, the first row followed
 * by a rule line. */
void kc_table_print(const kc_table_t *t, FILE *out);

#endif
