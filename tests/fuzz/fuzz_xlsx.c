/* fuzz_xlsx.c - libFuzzer harness: bytes as an .xlsx file through kc_sheet.h's
 * xlsx reader (libzip + expat).
 *
 * DESIGN
 * The input is written to a memory file and opened by path with the format
 * forced to xlsx, a small bound on inflated bytes (1 MiB, so that a zip bomb
 * in the input is cut short) and on cells per row (64); every row is read.
 * Invariants: open and next return 0/1 or KC_EFORMAT/KC_ENOMEM with a reason
 * naming the file; a row has 1 <= row <= 1048576, rows strictly ascending,
 * ncells <= max_cells, and every cell non-NULL and well-formed UTF-8; after
 * the end or an error, next keeps returning it; the sheet's name is valid
 * UTF-8.
 */
#include "fuzz_util.h"

#include "kc_err.h"
#include "kc_sheet.h"
#include "kc_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        once = 1;
        fuzz_quiet();
    }
    const char *path = fuzz_memfile(data, size);
    kc_sheet_opts_t o = {.format = KC_SHEET_XLSX, .max_bytes = 1 << 20, .max_cells = 64};
    kc_sheet_t *s = NULL;
    char err[600];
    int rc = kc_sheet_open(&s, path, &o, err, sizeof err);
    if (rc != 0) {
        FUZZ_CHECK(rc == KC_EFORMAT || rc == KC_ENOMEM || rc < 0);
        FUZZ_CHECK(s == NULL && strstr(err, path) == err);
        return 0;
    }
    const char *name = kc_sheet_name(s);
    FUZZ_CHECK(kc_text_utf8_valid(name, strlen(name)));
    FUZZ_CHECK(strcmp(kc_sheet_format_name(s), "xlsx") == 0);
    kc_sheet_row_t row;
    long last = 0;
    while ((rc = kc_sheet_next(s, &row, err, sizeof err)) == 1) {
        FUZZ_CHECK(row.row > last && row.row <= 1048576);
        last = row.row;
        FUZZ_CHECK(row.ncells <= o.max_cells);
        for (size_t i = 0; i < row.ncells; i++) {
            FUZZ_CHECK(row.cells[i] != NULL);
            FUZZ_CHECK(kc_text_utf8_valid(row.cells[i], strlen(row.cells[i])));
        }
    }
    if (rc != 0)
        FUZZ_CHECK((rc == KC_EFORMAT || rc == KC_ENOMEM) && strstr(err, path) == err);
    FUZZ_CHECK(kc_sheet_next(s, &row, err, sizeof err) == rc);
    kc_sheet_close(&s);
    FUZZ_CHECK(s == NULL);
    return 0;
}
