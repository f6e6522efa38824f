/* fuzz_sheet.h - the checks the spreadsheet harnesses (fuzz_xlsx.c,
 * fuzz_ods.c) make on every input, whatever the format.
 *
 * DESIGN
 * A harness makes the file, opens it with fuzz_sheet_open (open returns 0 or
 * KC_EFORMAT/KC_ENOMEM/-errno with a reason naming the file; the sheet's name
 * is valid UTF-8; the format is the one forced), checks the rows it reads
 * (rows strictly ascending within 1..1048576, at most max_cells cells, each
 * checked by fuzz_sheet_cells: non-NULL, valid UTF-8) plus its format's own
 * invariants, and ends with fuzz_sheet_end (the end or a reason naming the
 * file, which kc_sheet_next keeps returning; close leaves NULL).
 */
#ifndef KC_FUZZ_SHEET_H
#define KC_FUZZ_SHEET_H

#include "fuzz_util.h"

#include "kc_err.h"
#include "kc_sheet.h"
#include "kc_text.h"

/* Open path as o says: the sheet, or NULL (open's invariants checked). */
static inline kc_sheet_t *fuzz_sheet_open(const char *path, const kc_sheet_opts_t *o,
                                          const char *format, char *err, size_t cap)
{
    kc_sheet_t *s = NULL;
    int rc = kc_sheet_open(&s, path, o, err, cap);
    if (rc != 0) {
        FUZZ_CHECK(rc == KC_EFORMAT || rc == KC_ENOMEM || rc < 0);
        FUZZ_CHECK(s == NULL && strstr(err, path) == err);
        return NULL;
    }
    const char *name = kc_sheet_name(s);
    FUZZ_CHECK(kc_text_utf8_valid(name, strlen(name)));
    FUZZ_CHECK(strcmp(kc_sheet_format_name(s), format) == 0);
    return s;
}

/* The row's number follows *last (updated) and its cells fit o. */
static inline void fuzz_sheet_row(const kc_sheet_row_t *row, const kc_sheet_opts_t *o, long *last)
{
    FUZZ_CHECK(row->row > *last && row->row <= 1048576);
    *last = row->row;
    FUZZ_CHECK(row->ncells <= o->max_cells);
}

/* Every cell non-NULL and valid UTF-8. */
static inline void fuzz_sheet_cells(const kc_sheet_row_t *row)
{
    for (size_t i = 0; i < row->ncells; i++) {
        FUZZ_CHECK(row->cells[i] != NULL);
        FUZZ_CHECK(kc_text_utf8_valid(row->cells[i], strlen(row->cells[i])));
    }
}

/* rc is kc_sheet_next's last: the end, or a reason naming path; next keeps
 * returning it; close. */
static inline void fuzz_sheet_end(kc_sheet_t *s, int rc, const char *path, char *err, size_t cap)
{
    kc_sheet_row_t row;
    if (rc != 0)
        FUZZ_CHECK((rc == KC_EFORMAT || rc == KC_ENOMEM) && strstr(err, path) == err);
    FUZZ_CHECK(kc_sheet_next(s, &row, err, cap) == rc);
    kc_sheet_close(&s);
    FUZZ_CHECK(s == NULL);
}

#endif
