/* fuzz_sheet_csv.c - libFuzzer harness: bytes as a CSV file through the CSV
 * reader of kc_sheet.h (ingest/kc_sheet_csv.c).
 *
 * DESIGN
 * The input is written to a memory file and read by path three times: as
 * UTF-8 with the delimiter sniffed, as WINDOWS-1258 (through glibc's iconv),
 * and as UTF-8 with ';' forced and small bounds (max_cells 4, max_bytes 64).
 * Every reading must end in 0 or KC_EFORMAT with a reason naming the file
 * (KC_EINVAL never: the options are valid), repeat its error on a further
 * call, hand out rows whose numbers increase, whose cells are within
 * max_cells and are valid UTF-8 (a cell's bytes up to its NUL), and whose
 * text stays within max_bytes. When the input is valid UTF-8 without NUL,
 * double quote or BOM and read as UTF-8, the reading must succeed and give
 * exactly its physical lines (LF, CRLF or a lone CR) split at the
 * delimiter, numbered from 1, a blank line as a row of 0 cells.
 */
#include "fuzz_util.h"

#include "kc_err.h"
#include "kc_sheet.h"
#include "kc_text.h"

/* The physical line of in[*at..n) without its line end; *at moves past it. */
static size_t s_line(const uint8_t *in, size_t n, size_t *at, size_t *len)
{
    size_t s = *at, i = s;
    while (i < n && in[i] != '\n' && in[i] != '\r')
        i++;
    *len = i - s;
    if (i < n)
        i += in[i] == '\r' && i + 1 < n && in[i + 1] == '\n' ? 2 : 1;
    *at = i;
    return s;
}

static void s_read(const char *path, const uint8_t *data, size_t size, const kc_sheet_opts_t *o,
                   bool plain)
{
    kc_sheet_t *s = NULL;
    char err[1024];
    int rc = kc_sheet_open(&s, path, o, err, sizeof err);
    FUZZ_CHECK(rc == 0 && s != NULL);
    char delim = kc_sheet_delimiter(s);
    FUZZ_CHECK(delim == ',' || delim == ';' || delim == '\t');
    FUZZ_CHECK(!o->delimiter || delim == o->delimiter);
    size_t max_cells = o->max_cells ? o->max_cells : 1024;
    uint64_t max_bytes = o->max_bytes ? o->max_bytes : (uint64_t)256 << 20, text = 0;
    kc_sheet_row_t row;
    long last = 0, lines = 0;
    size_t at = 0;
    while ((rc = kc_sheet_next(s, &row, err, sizeof err)) == 1) {
        FUZZ_CHECK(row.row > last && row.cells != NULL && row.ncells <= max_cells);
        last = row.row;
        size_t line = 0, ll = 0;
        if (plain) {
            FUZZ_CHECK(at < size);
            line = s_line(data, size, &at, &ll);
            lines++;
        }
        size_t joined = 0;
        for (size_t i = 0; i < row.ncells; i++) {
            size_t len = strlen(row.cells[i]);
            FUZZ_CHECK(kc_text_utf8_valid(row.cells[i], len));
            text += len;
            if (plain) {
                FUZZ_CHECK(joined + len <= ll);
                FUZZ_CHECK(memcmp(data + line + joined, row.cells[i], len) == 0);
                joined += len;
                if (i + 1 < row.ncells) {
                    FUZZ_CHECK(joined < ll && data[line + joined] == (uint8_t)delim);
                    joined++;
                }
            }
        }
        FUZZ_CHECK(text <= max_bytes);
        if (plain) {
            FUZZ_CHECK(row.row == lines && joined == ll);
        }
    }
    FUZZ_CHECK(rc == 0 || rc == KC_EFORMAT);
    if (plain) {
        FUZZ_CHECK(rc == 0 && at == size);
    }
    if (rc < 0) {
        FUZZ_CHECK(strstr(err, path) == err);
        char again[1024];
        FUZZ_CHECK(kc_sheet_next(s, &row, again, sizeof again) == rc);
        FUZZ_CHECK(strcmp(again, err) == 0);
    }
    kc_sheet_close(&s);
    FUZZ_CHECK(s == NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        once = 1;
        fuzz_quiet();
    }
    const char *path = fuzz_memfile(data, size);
    bool plain = kc_text_utf8_valid((const char *)data, size) && !memchr(data, '\0', size) &&
                 !memchr(data, '"', size) && !(size >= 3 && memcmp(data, "\xEF\xBB\xBF", 3) == 0);
    kc_sheet_opts_t o = {.format = KC_SHEET_CSV};
    s_read(path, data, size, &o, plain);
    o.encoding = "WINDOWS-1258";
    s_read(path, data, size, &o, false);
    o = (kc_sheet_opts_t){
        .format = KC_SHEET_CSV, .delimiter = ';', .max_cells = 4, .max_bytes = 64};
    s_read(path, data, size, &o, false);
    return 0;
}
