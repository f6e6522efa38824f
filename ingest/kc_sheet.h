/* kc_sheet.h - a spreadsheet as rows of text cells: the first step of the
 * import layer (spreadsheet -> rows -> events), whatever the file's format.
 *
 * DESIGN
 * A field office's file arrives as an .xlsx (Excel, LibreOffice, the
 * template of kc-send --template) or as a CSV in one of the dialects that
 * spreadsheets really export (delimiter , ; or tab; a UTF-8 BOM; CRLF, LF or
 * CR line ends; UTF-8, Windows-1258 or TCVN3 text). Every reader turns its
 * format into the same thing: rows of cells, each cell a NUL-terminated
 * UTF-8 string (the cell's text as a person sees it in the spreadsheet,
 * before any interpretation), with the position the clerk would look for
 * it at: the sheet's name and its row number as the spreadsheet shows it
 * (Excel row, counting the header; for a CSV the physical line where the row
 * starts). Interpreting cells (header names, numbers, provinces) is the next
 * step's (kc_import), so the rules are written once for all formats.
 *
 * What a reader does to the text:
 *   - CSV: RFC 4180 quoting (libcsv); the delimiter given, or sniffed from the
 *     header line among ',' ';' '\t' (the one that splits it into the most
 *     cells outside quotes; ',' on a tie); a leading UTF-8 BOM dropped; the
 *     bytes converted to UTF-8 from opts.encoding through iconv (glibc;
 *     NULL = UTF-8, or UTF-16 when the file starts with a UTF-16 byte order
 *     mark, Excel's "Unicode Text"; "TCVN3" is taken as glibc's TCVN5712-1,
 *     TCVN 5712:1993 VN1, whose bytes 0xA1-0xFF are VN3's; glibc composes
 *     Windows-1258 / TCVN combining tone marks into precomposed NFC
 *     letters). Cells are passed as read (no trimming: that is kc_import's
 *     rule). A blank line is a row of 0 cells. Bytes not valid in the
 *     encoding (or a NUL), broken quoting, more than max_cells cells or more
 *     than max_bytes of converted text are reported by kc_sheet_next at the
 *     line and column where they sit (KC_EFORMAT), after the rows before;
 *     an unknown encoding or a delimiter other than , ; tab is KC_EINVAL
 *     from kc_sheet_open.
 *   - xlsx: the first worksheet in workbook order, or the one named
 *     opts.sheet; shared strings and inline strings as text; a number cell as
 *     its shortest decimal text that reads back to the same double ("1200000000",
 *     "0.5", never "1.2E9" for an integer below 2^53); a boolean as "TRUE" /
 *     "FALSE"; a formula as its cached value; a date-formatted number as
 *     "YYYY-MM-DD" (or with " HH:MM:SS" when it has a time part); an error
 *     cell (#N/A...) as its text. Missing cells inside a row are "" (the
 *     row's cells are dense, 0..ncells-1 = columns A, B, ...).
 *     Details: rich-text runs are concatenated (phonetic runs dropped); the
 *     date formats are the built-in numFmtId 14-22 and 45-47 and custom
 *     formats with d, m, y, h or s outside quotes and [brackets]; serials in
 *     the workbook's date system (1900 with its phantom 1900-02-29, or
 *     date1904), rounded to the second; a date-formatted value in [0, 1) is
 *     "HH:MM:SS" alone, one outside [0, 10000-01-01) stays a number; a cell
 *     with no style information (no styles part) is a number. A chartsheet is
 *     never "the first worksheet". A row absent from the file (Excel and
 *     LibreOffice write no empty row) is not handed over: row says where each
 *     row is. The sheet's XML is parsed incrementally: one row's cells are
 *     held at a time (the shared strings are held whole). Failures in the
 *     worksheet come from kc_sheet_next, after the rows before them.
 *   - ods (OpenDocument, LibreOffice's own format; kc_sheet_ods.c): content.xml
 *     streamed, the first table:table or the one named opts.sheet; float,
 *     percentage and currency cells as their office:value by the xlsx number
 *     rule (50% is "0.5"), date as "YYYY-MM-DD" (or with " HH:MM:SS"), time
 *     as "HH:MM:SS", boolean as "TRUE" / "FALSE", a string as its text:p
 *     paragraphs joined by "\n" (text:s spaces, text:tab, text:line-break,
 *     spans concatenated; annotations dropped); a formula as its cached value;
 *     covered (merged-away) cells empty. Repeated rows and cells cost nothing
 *     when empty (LibreOffice ends a sheet with ~1,048,000 repeated empty
 *     rows): a row keeps the columns up to its last non-empty cell, a row with
 *     no non-empty cell is not handed over (as LibreOffice's xlsx has none), a
 *     repeated non-empty cell fills its columns within max_cells and a
 *     repeated non-empty row comes out once per row number (at most
 *     1048576). Row numbers are those LibreOffice shows. A password-protected
 *     document (manifest:encryption-data in META-INF/manifest.xml) is refused
 *     saying so.
 * Rows whose cells are all empty are still handed over (the caller skips
 * them), so that row numbers stay the spreadsheet's (ods: see above).
 *
 * Bad input: every failure is a KC_E* code plus a one-line reason in
 * English naming the file (and sheet, row, column where there is one) and
 * saying what to do; a reader never allocates more than opts.max_bytes of
 * decompressed or converted data (zip bombs), never expands XML entities
 * (expat without DTD processing; a DOCTYPE is refused), and refuses an
 * encrypted or corrupt container with a message saying so.
 *
 * Threads: a kc_sheet_t is used by one thread at a time; readers share
 * nothing.
 */
#ifndef KC_SHEET_H
#define KC_SHEET_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    KC_SHEET_AUTO = 0, /* by content: a zip whose `mimetype` member is an OpenDocument
                          spreadsheet's, or a name ending in .ods, goes to the ods reader;
                          another zip container ("PK\3\4"), an OLE file (a
                          password-protected workbook) or a name ending in .xlsx or .xlsm
                          (which then says what it is not) to the xlsx reader; else CSV */
    KC_SHEET_CSV,
    KC_SHEET_XLSX,
    KC_SHEET_ODS,
} kc_sheet_format_t;

typedef struct {
    kc_sheet_format_t format;
    const char *sheet;    /* xlsx, ods: the worksheet's name (NULL = the first) */
    char delimiter;       /* CSV: ',', ';' or '\t'; 0 = sniff */
    const char *encoding; /* CSV: an iconv name ("UTF-8", "WINDOWS-1258", "TCVN"...);
                             NULL = UTF-8 */
    uint64_t max_bytes;   /* bound on decompressed/converted bytes; 0 = 256 MiB */
    size_t max_cells;     /* bound on cells in one row; 0 = 1024 */
} kc_sheet_opts_t;

typedef struct kc_sheet kc_sheet_t;

/* One row: cells[0..ncells-1], each a NUL-terminated UTF-8 string (never
 * NULL; "" for an empty cell). Valid until the next kc_sheet_next or
 * kc_sheet_close. */
typedef struct {
    const char *const *cells;
    size_t ncells;
    long row; /* the spreadsheet's row number (xlsx, ods: as Excel or LibreOffice show it;
                 CSV: the physical line where the row starts) */
} kc_sheet_row_t;

/* Open path for reading. opts may be NULL (all defaults). On failure returns
 * a negative KC_E* (-errno for a file that cannot be opened, KC_EFORMAT for a
 * file that is not a readable spreadsheet: corrupt or encrypted container, no
 * such sheet, bytes that are not valid in the encoding, KC_ENOMEM) and writes
 * a reason into err[cap] (cap may be 0). */
int kc_sheet_open(kc_sheet_t **out, const char *path, const kc_sheet_opts_t *opts, char *err,
                  size_t cap);

/* The next row into *row: 1, 0 at the end, or a negative KC_E* with a reason
 * in err[cap] (the rows before were good; nothing after is read). */
int kc_sheet_next(kc_sheet_t *s, kc_sheet_row_t *row, char *err, size_t cap);

/* What was read: the format ("csv", "xlsx", "ods"), the sheet's name ("" for a CSV),
 * the delimiter (CSV) and encoding actually used. Valid until close. */
const char *kc_sheet_format_name(const kc_sheet_t *s);
const char *kc_sheet_name(const kc_sheet_t *s);
char kc_sheet_delimiter(const kc_sheet_t *s);
const char *kc_sheet_encoding(const kc_sheet_t *s);

/* Close and free; *sp = NULL (no-op on NULL). */
void kc_sheet_close(kc_sheet_t **sp);

#endif
