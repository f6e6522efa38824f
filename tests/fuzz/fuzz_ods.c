/* fuzz_ods.c - libFuzzer harness: bytes as an .ods file through kc_sheet.h's
 * OpenDocument reader (libzip + expat).
 *
 * DESIGN
 * As fuzz_xlsx.c, with two kinds of input. One starting "PK" is the .ods
 * file itself; anything else is content.xml, packed by libzip (stored,
 * behind a spreadsheet `mimetype`) into a valid container, so that mutations
 * reach the XML instead of failing the zip's CRC check. The file is written
 * to a memory file and opened by path with the format forced to ods, a small bound on inflated
 * bytes (1 MiB, so that a zip bomb or a text:s c="huge" is cut short) and on cells per row (64);
 * every row is read, except that a repeated row (number-rows-repeated) may hand over up to 1048576
 * rows: they are counted, not all checked. Invariants: open and next return 0/1 or
 * KC_EFORMAT/KC_ENOMEM with a reason naming the file; a row has 1 <= row <= 1048576, rows strictly
 * ascending, 1 <= ncells <= max_cells (an .ods row with no non-empty cell is never handed over),
 * the last cell non-empty, every cell non-NULL and well-formed UTF-8; after the end or an error,
 * next keeps returning it; the sheet's name is valid UTF-8.
 */
#include "fuzz_sheet.h"

#include <zip.h>

/* data as content.xml of a stored zip with a spreadsheet mimetype, into
 * *out (malloc'd) and *outlen; false if libzip fails. */
static bool s_pack(const uint8_t *data, size_t size, uint8_t **out, size_t *outlen)
{
    static const char mime[] = "application/vnd.oasis.opendocument.spreadsheet";
    *out = NULL;
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    zip_error_fini(&ze);
    if (!src)
        return false;
    zip_source_keep(src);
    zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, NULL);
    bool ok = za != NULL;
    if (ok) {
        zip_source_t *m = zip_source_buffer(za, mime, sizeof mime - 1, 0);
        zip_int64_t i = m ? zip_file_add(za, "mimetype", m, 0) : -1;
        ok = i >= 0 && zip_set_file_compression(za, (zip_uint64_t)i, ZIP_CM_STORE, 0) == 0;
        zip_source_t *c = ok ? zip_source_buffer(za, data, size, 0) : NULL;
        i = c ? zip_file_add(za, "content.xml", c, 0) : -1;
        ok = ok && i >= 0 && zip_set_file_compression(za, (zip_uint64_t)i, ZIP_CM_STORE, 0) == 0;
        if (ok)
            ok = zip_close(za) == 0;
        else
            zip_discard(za);
    }
    zip_int64_t len = -1;
    if (ok && zip_source_open(src) == 0) {
        if (zip_source_seek(src, 0, SEEK_END) == 0)
            len = zip_source_tell(src);
        ok = len > 0 && zip_source_seek(src, 0, SEEK_SET) == 0 &&
             (*out = malloc((size_t)len)) != NULL &&
             zip_source_read(src, *out, (zip_uint64_t)len) == len;
        zip_source_close(src);
    } else {
        ok = false;
    }
    zip_source_free(src);
    if (!ok) {
        free(*out);
        *out = NULL;
        return false;
    }
    *outlen = (size_t)len;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        once = 1;
        fuzz_quiet();
    }
    const char *path;
    if (size >= 2 && data[0] == 'P' && data[1] == 'K') {
        path = fuzz_memfile(data, size);
    } else {
        uint8_t *zip = NULL;
        size_t zlen = 0;
        FUZZ_CHECK(s_pack(data, size, &zip, &zlen));
        path = fuzz_memfile(zip, zlen);
        free(zip);
    }
    kc_sheet_opts_t o = {.format = KC_SHEET_ODS, .max_bytes = 1 << 20, .max_cells = 64};
    char err[600];
    kc_sheet_t *s = fuzz_sheet_open(path, &o, "ods", err, sizeof err);
    if (!s)
        return 0;
    kc_sheet_row_t row;
    long last = 0, n = 0;
    int rc;
    const char *const *prev = NULL;
    while ((rc = kc_sheet_next(s, &row, err, sizeof err)) == 1) {
        fuzz_sheet_row(&row, &o, &last);
        FUZZ_CHECK(row.ncells >= 1);
        FUZZ_CHECK(row.cells[row.ncells - 1][0] != '\0');
        /* a repetition of the row before (same cells) is not checked again */
        if (row.cells == prev && n++ > 64)
            continue;
        prev = row.cells;
        fuzz_sheet_cells(&row);
    }
    fuzz_sheet_end(s, rc, path, err, sizeof err);
    return 0;
}
