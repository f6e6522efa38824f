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
#include "fuzz_sheet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        once = 1;
        fuzz_quiet();
    }
    const char *path = fuzz_memfile(data, size);
    kc_sheet_opts_t o = {.format = KC_SHEET_XLSX, .max_bytes = 1 << 20, .max_cells = 64};
    char err[600];
    kc_sheet_t *s = fuzz_sheet_open(path, &o, "xlsx", err, sizeof err);
    if (!s)
        return 0;
    kc_sheet_row_t row;
    long last = 0;
    int rc;
    while ((rc = kc_sheet_next(s, &row, err, sizeof err)) == 1) {
        fuzz_sheet_row(&row, &o, &last);
        fuzz_sheet_cells(&row);
    }
    fuzz_sheet_end(s, rc, path, err, sizeof err);
    return 0;
}
