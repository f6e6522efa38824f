/* sheet_csv_test.c - the CSV reader of kc_sheet.h (ingest/kc_sheet_csv.c):
 * dialects (delimiter sniffed and given, BOM, CRLF / LF / lone CR, RFC 4180
 * quoting across lines), row numbers = physical start lines, blank rows,
 * encodings converted by glibc's iconv (files written at test time by
 * iconv(3) itself from UTF-8 text), the not-UTF-8 hint, limits, streaming
 * across the reader's buffer boundaries.
 */
#include "kc_err.h"
#include "kc_sheet.h"

#include <errno.h>
#include <iconv.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

static char s_dir[64];
static char s_path[128];

static int s_setup(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/kc-sheet-csv-XXXXXX");
    if (!mkdtemp(s_dir))
        return -1;
    snprintf(s_path, sizeof s_path, "%s/in.csv", s_dir);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    unlink(s_path);
    rmdir(s_dir);
    return 0;
}

static void s_write(const void *data, size_t n)
{
    FILE *f = fopen(s_path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void s_writes(const char *text)
{
    s_write(text, strlen(text));
}

/* What a reading gave: the rows as "ROW:cell|cell|...\n", the final code and
 * its reason, the delimiter and encoding used. */
typedef struct {
    char *rows;
    size_t len, cap;
    long nrows;
    int rc; /* kc_sheet_open's if it failed, else the last kc_sheet_next's */
    char err[700];
    char delim;
    char enc[32];
} s_got_t;

static void s_add(s_got_t *g, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    while (g->len + (size_t)n + 1 > g->cap) {
        g->cap = g->cap ? g->cap * 2 : 4096;
        g->rows = realloc(g->rows, g->cap);
        assert_non_null(g->rows);
    }
    va_start(ap, fmt);
    vsnprintf(g->rows + g->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    g->len += (size_t)n;
}

static s_got_t s_read(const kc_sheet_opts_t *opts)
{
    s_got_t g = {0};
    s_add(&g, "%s", "");
    kc_sheet_t *s = NULL;
    g.rc = kc_sheet_open(&s, s_path, opts, g.err, sizeof g.err);
    if (g.rc != 0) {
        assert_null(s);
        return g;
    }
    assert_string_equal(kc_sheet_format_name(s), "csv");
    assert_string_equal(kc_sheet_name(s), "");
    g.delim = kc_sheet_delimiter(s);
    snprintf(g.enc, sizeof g.enc, "%s", kc_sheet_encoding(s));
    kc_sheet_row_t row;
    while ((g.rc = kc_sheet_next(s, &row, g.err, sizeof g.err)) == 1) {
        g.nrows++;
        s_add(&g, "%ld:", row.row);
        assert_non_null(row.cells);
        for (size_t i = 0; i < row.ncells; i++)
            s_add(&g, "%s%s", i ? "|" : "", row.cells[i]);
        s_add(&g, "\n");
    }
    if (g.rc < 0) { /* nothing after an error: the same error again */
        char again[700];
        assert_int_equal(kc_sheet_next(s, &row, again, sizeof again), g.rc);
        assert_string_equal(again, g.err);
    } else {
        assert_int_equal(kc_sheet_next(s, &row, NULL, 0), 0);
    }
    kc_sheet_close(&s);
    assert_null(s);
    return g;
}

static s_got_t s_read_text(const char *text, const kc_sheet_opts_t *opts)
{
    s_writes(text);
    return s_read(opts);
}

static void s_expect(const char *text, const kc_sheet_opts_t *opts, char delim, const char *rows)
{
    s_got_t g = s_read_text(text, opts);
    if (g.rc != 0)
        fprintf(stderr, "unexpected error %d: %s\n", g.rc, g.err);
    assert_int_equal(g.rc, 0);
    assert_int_equal(g.delim, delim);
    assert_string_equal(g.rows, rows);
    free(g.rows);
}

/* text converted from UTF-8 to `to` by iconv(3) */
static char *s_iconv(const char *to, const char *text, size_t *outlen)
{
    iconv_t cd = iconv_open(to, "UTF-8");
    assert_true(cd != (iconv_t)-1);
    size_t inleft = strlen(text), cap = inleft * 4 + 16, outleft = cap;
    char *out = malloc(cap), *in = (char *)text, *o = out;
    assert_non_null(out);
    assert_true(iconv(cd, &in, &inleft, &o, &outleft) != (size_t)-1);
    assert_true(iconv(cd, NULL, NULL, &o, &outleft) != (size_t)-1);
    iconv_close(cd);
    *outlen = cap - outleft;
    return out;
}

/* ---- delimiters ---------------------------------------------------------- */

static void test_sniff(void **state)
{
    (void)state;
    s_expect("a,b,c\n1,2,3\n", NULL, ',', "1:a|b|c\n2:1|2|3\n");
    s_expect("a;b;c\n1;2,5;3\n", NULL, ';', "1:a|b|c\n2:1|2,5|3\n");
    s_expect("a\tb\tc\n1\t2\t3\n", NULL, '\t', "1:a|b|c\n2:1|2|3\n");
    /* a tie is ',' */
    s_expect("a,b;c\n", NULL, ',', "1:a|b;c\n");
    s_expect("a\tb;c\n", NULL, ';', "1:a\tb|c\n");
    /* delimiters inside quotes do not count, even across a line break */
    s_expect("\"x;y;z\n;;\",b\n", NULL, ',', "1:x;y;z\n;;|b\n");
    /* the header line is the first non-blank one */
    s_expect("\n\na;b\n", NULL, ';', "1:\n2:\n3:a|b\n");
    /* no delimiter at all: ',' (one cell a row) */
    s_expect("title\nx\n", NULL, ',', "1:title\n2:x\n");
}

static void test_forced(void **state)
{
    (void)state;
    kc_sheet_opts_t o = {.format = KC_SHEET_CSV, .delimiter = ';'};
    s_expect("a;b,c,d\n1;2,3,4\n", &o, ';', "1:a|b,c,d\n2:1|2,3,4\n");
    o.delimiter = '\t';
    s_expect("a,b\tc;d\n", &o, '\t', "1:a,b|c;d\n");
    o.delimiter = ',';
    s_expect("a;b;c,d\n", &o, ',', "1:a;b;c|d\n");
    o.delimiter = '|';
    s_got_t g = s_read_text("a|b\n", &o);
    assert_int_equal(g.rc, KC_EINVAL);
    assert_non_null(strstr(g.err, "delimiter"));
    free(g.rows);
}

/* ---- BOM, line ends, quoting, blank rows --------------------------------- */

static void test_bom(void **state)
{
    (void)state;
    s_expect("\xEF\xBB\xBF"
             "event_id;province\r\ne1;01\r\n",
             NULL, ';', "1:event_id|province\n2:e1|01\n");
    /* only a leading one */
    s_expect("a,\xEF\xBB\xBF"
             "b\n",
             NULL, ',',
             "1:a|\xEF\xBB\xBF"
             "b\n");
    kc_sheet_opts_t o = {.format = KC_SHEET_AUTO};
    s_got_t g = s_read_text("\xEF\xBB\xBF", &o);
    assert_int_equal(g.rc, 0);
    assert_int_equal(g.nrows, 0);
    free(g.rows);
}

static void test_line_ends(void **state)
{
    (void)state;
    s_expect("a,b\nc,d\ne,f\n", NULL, ',', "1:a|b\n2:c|d\n3:e|f\n");
    s_expect("a,b\r\nc,d\r\ne,f\r\n", NULL, ',', "1:a|b\n2:c|d\n3:e|f\n");
    s_expect("a,b\rc,d\re,f\r", NULL, ',', "1:a|b\n2:c|d\n3:e|f\n");
    s_expect("a,b\rc,d\r\ne,f\ng,h", NULL, ',', "1:a|b\n2:c|d\n3:e|f\n4:g|h\n");
    /* cells are not trimmed (kc_import's rule) */
    s_expect(" a , b \n", NULL, ',', "1: a | b \n");
}

static void test_quoted(void **state)
{
    (void)state;
    /* delimiters, quotes and LF / CRLF / lone CR inside quoted cells; a row's
     * number is the line where it starts */
    s_expect("h1,h2,h3\n"
             "\"x,y\",\"line1\nline2\",\"say \"\"hi\"\"\"\n"
             "\"a\r\nb\",\"c\rd\",e\r\n"
             "z,w,\"\"\n",
             NULL, ',',
             "1:h1|h2|h3\n"
             "2:x,y|line1\nline2|say \"hi\"\n"
             "4:a\r\nb|c\rd|e\n"
             "7:z|w|\n");
    s_expect("a;\"b;c\"\n\"\n\n\";d\n", NULL, ';', "1:a|b;c\n2:\n\n|d\n");
}

static void test_blank_rows(void **state)
{
    (void)state;
    s_expect("a,b\n\n,\nc,d\n\n", NULL, ',', "1:a|b\n2:\n3:|\n4:c|d\n5:\n");
    s_expect("a\r\n\r\n\r\nb\r\n", NULL, ',', "1:a\n2:\n3:\n4:b\n");
    s_expect("a\r\rb", NULL, ',', "1:a\n2:\n3:b\n");
    kc_sheet_opts_t o = {0};
    s_got_t g = s_read_text("", &o);
    assert_int_equal(g.rc, 0);
    assert_int_equal(g.nrows, 0);
    assert_int_equal(g.delim, ',');
    assert_string_equal(g.enc, "UTF-8");
    free(g.rows);
}

static void test_broken_quoting(void **state)
{
    (void)state;
    s_got_t g = s_read_text("a,b\nc,\"x\"y\ne,f\n", NULL);
    assert_int_equal(g.rc, KC_EFORMAT);
    assert_string_equal(g.rows, "1:a|b\n");
    assert_non_null(strstr(g.err, s_path));
    assert_non_null(strstr(g.err, "line 2, column 2 (B): broken quoting"));
    free(g.rows);
    g = s_read_text("a,b\nc,\"x\ny\n", NULL);
    assert_int_equal(g.rc, KC_EFORMAT);
    assert_string_equal(g.rows, "1:a|b\n");
    assert_non_null(strstr(g.err, "line 2, column 2 (B): the quoted cell"));
    assert_non_null(strstr(g.err, "not closed before the end of the file"));
    free(g.rows);
}

/* ---- encodings ----------------------------------------------------------- */

static void test_not_utf8(void **state)
{
    (void)state;
    /* "Thông" in Windows-1258 (0xF4 = ô), read as UTF-8 */
    s_got_t g = s_read_text("h1,h2\nok,fine\nx,Th\xF4ng\nnext,row\n", NULL);
    assert_int_equal(g.rc, KC_EFORMAT);
    assert_string_equal(g.rows, "1:h1|h2\n2:ok|fine\n");
    assert_non_null(strstr(g.err, "line 3, column 2 (B): the file is not UTF-8 (byte 0xF4)"));
    assert_non_null(strstr(g.err, "save it as \"CSV UTF-8\" in Excel, or give --encoding "
                                  "windows-1258 / tcvn"));
    free(g.rows);
    /* inside a quoted cell that began on an earlier line */
    g = s_read_text("h1,h2\n\"a\nb\xC0\",c\n", NULL);
    assert_int_equal(g.rc, KC_EFORMAT);
    assert_non_null(strstr(g.err, "line 3 (in the row that starts on line 2), column 1 (A)"));
    free(g.rows);
    /* overlong, surrogate, cut at the end */
    const char *bad[] = {"a,\xC0\xAF\n", "a,\xED\xA0\x80\n", "a,\xE1\xBA"};
    for (size_t i = 0; i < 3; i++) {
        g = s_read_text(bad[i], NULL);
        assert_int_equal(g.rc, KC_EFORMAT);
        assert_non_null(strstr(g.err, "line 1, column 2 (B): the file is not UTF-8"));
        free(g.rows);
    }
    /* a NUL byte */
    s_write("a,b\nc,d\0e\n", 10);
    g = s_read(NULL);
    assert_int_equal(g.rc, KC_EFORMAT);
    assert_string_equal(g.rows, "1:a|b\n");
    assert_non_null(strstr(g.err, "line 2, column 2 (B): the file holds a NUL byte"));
    free(g.rows);
}

/* Typical Vietnamese text, as precomposed (NFC) UTF-8 */
static const char s_vi[] = "Mã tỉnh;Tỉnh/thành phố;Nội dung hoạt động;Kinh phí (đồng)\r\n"
                           "92;Cần Thơ;Ứng dụng máy móc tiên tiến;350.000.000\r\n"
                           "01;Hà Nội;Đào tạo nghề;\"1.200.000.000\"\r\n"
                           "79;TP. Hồ Chí Minh;Hội chợ triển lãm;0\r\n"
                           "66;Đắk Lắk;Bình chọn sản phẩm tiêu biểu;5\r\n";
static const char s_vi_rows[] = "1:Mã tỉnh|Tỉnh/thành phố|Nội dung hoạt động|Kinh phí (đồng)\n"
                                "2:92|Cần Thơ|Ứng dụng máy móc tiên tiến|350.000.000\n"
                                "3:01|Hà Nội|Đào tạo nghề|1.200.000.000\n"
                                "4:79|TP. Hồ Chí Minh|Hội chợ triển lãm|0\n"
                                "5:66|Đắk Lắk|Bình chọn sản phẩm tiêu biểu|5\n";

static void s_roundtrip(const char *iconv_to, const char *opt_enc, const char *reported)
{
    size_t n;
    char *bytes = s_iconv(iconv_to, s_vi, &n);
    assert_true(n > 0 && memcmp(bytes, s_vi, n < sizeof s_vi ? n : sizeof s_vi) != 0);
    s_write(bytes, n);
    free(bytes);
    kc_sheet_opts_t o = {.format = KC_SHEET_CSV, .encoding = opt_enc};
    s_got_t g = s_read(&o);
    if (g.rc != 0)
        fprintf(stderr, "%s: %s\n", opt_enc, g.err);
    assert_int_equal(g.rc, 0);
    assert_int_equal(g.delim, ';');
    assert_string_equal(g.enc, reported);
    assert_string_equal(g.rows, s_vi_rows); /* byte for byte: NFC, as typed in UTF-8 */
    free(g.rows);
    /* the same file read as UTF-8: the hint */
    g = s_read(NULL);
    assert_int_equal(g.rc, KC_EFORMAT);
    assert_non_null(strstr(g.err, "line 1, column 1 (A): the file is not UTF-8"));
    assert_non_null(strstr(g.err, "--encoding windows-1258 / tcvn"));
    free(g.rows);
}

static void test_windows_1258(void **state)
{
    (void)state;
    /* iconv writes the tone marks as combining characters (C + â + 0xCC grave
     * ...); glibc's reader composes them back into U+1EA7 etc. */
    s_roundtrip("WINDOWS-1258", "WINDOWS-1258", "WINDOWS-1258");
    s_roundtrip("WINDOWS-1258", "cp1258", "CP1258");
    /* known bytes: "Cần Thơ" = C E2 CC 6E 20 54 68 F5 (â + combining grave, ơ) */
    kc_sheet_opts_t o = {.encoding = "windows-1258"};
    s_expect("C\xE2\xCCn Th\xF5,H\xE0 N\xF4\xF2i\n", &o, ',',
             "1:C\xE1\xBA\xA7n Th\xC6\xA1|H\xC3\xA0 N\xE1\xBB\x99i\n");
    /* a tone mark that ends the file is flushed from the converter */
    s_expect("a,\xE2\xCC", &o, ',', "1:a|\xE1\xBA\xA7\n");
}

static void test_tcvn3(void **state)
{
    (void)state;
    /* glibc's TCVN5712-1 (aliases TCVN, TCVN-5712) is TCVN 5712:1993 VN1; the
     * VN3 ("TCVN3", .VnTime fonts) bytes 0xA1-0xFF are the same, e.g. "Hµ Néi"
     * = "Hà Nội", "CÇn Th¬" = "Cần Thơ" */
    kc_sheet_opts_t o = {.encoding = "TCVN3"};
    s_expect("H\xB5 N\xE9i;C\xC7n Th\xAC;\xA7\xBEk L\xBEk\n", &o, ';',
             "1:Hà Nội|Cần Thơ|Đắk Lắk\n");
    s_roundtrip("TCVN5712-1", "TCVN", "TCVN");
    s_roundtrip("TCVN5712-1", "tcvn3", "TCVN5712-1");
}

static void test_utf16(void **state)
{
    (void)state;
    /* Excel's "Unicode Text": UTF-16LE with a byte order mark, tab-delimited */
    size_t n;
    char *bytes = s_iconv("UTF-16LE", "Tỉnh\tNăm\r\nCần Thơ\t2022\r\n", &n);
    char *file = malloc(n + 2);
    memcpy(file, "\xFF\xFE", 2);
    memcpy(file + 2, bytes, n);
    s_write(file, n + 2);
    free(bytes);
    free(file);
    s_got_t g = s_read(NULL);
    assert_int_equal(g.rc, 0);
    assert_string_equal(g.enc, "UTF-16");
    assert_int_equal(g.delim, '\t');
    assert_string_equal(g.rows, "1:Tỉnh|Năm\n2:Cần Thơ|2022\n");
    free(g.rows);
}

static void test_bad_encoding_name(void **state)
{
    (void)state;
    kc_sheet_opts_t o = {.encoding = "NO-SUCH-CODEPAGE"};
    s_got_t g = s_read_text("a\n", &o);
    assert_int_equal(g.rc, KC_EINVAL);
    assert_non_null(strstr(g.err, "unknown encoding 'NO-SUCH-CODEPAGE'"));
    free(g.rows);
    /* an undefined Windows-1258 byte is reported where it sits */
    o.encoding = "WINDOWS-1258";
    g = s_read_text("a,b\nc,x\x81y\n", &o);
    assert_int_equal(g.rc, KC_EFORMAT);
    assert_string_equal(g.rows, "1:a|b\n");
    assert_non_null(
        strstr(g.err, "line 2, column 2 (B): byte 0x81 is not valid WINDOWS-1258 text"));
    free(g.rows);
}

/* ---- limits, streaming --------------------------------------------------- */

static void test_limits(void **state)
{
    (void)state;
    kc_sheet_opts_t o = {.max_cells = 3};
    s_got_t g = s_read_text("a,b,c\n1,2,3,4\n", &o);
    assert_int_equal(g.rc, KC_EFORMAT);
    assert_string_equal(g.rows, "1:a|b|c\n");
    assert_non_null(strstr(g.err, "line 2: the row has more than 3 cells"));
    free(g.rows);
    g = s_read_text("a,b,c\n1,2,3,4", &o); /* the last row, without a line end */
    assert_int_equal(g.rc, KC_EFORMAT);
    assert_non_null(strstr(g.err, "more than 3 cells"));
    free(g.rows);

    o = (kc_sheet_opts_t){.max_bytes = 10};
    g = s_read_text("abc,def\nghi,jkl\n", &o);
    assert_int_equal(g.rc, KC_EFORMAT);
    assert_string_equal(g.rows, "1:abc|def\n");
    assert_non_null(strstr(g.err, "line 2, column 1 (A): the file holds more than 10 bytes"));
    free(g.rows);
    s_expect("abc,def\n", &o, ',', "1:abc|def\n");

    /* converted bytes count: 6 Windows-1258 bytes are 12 bytes of UTF-8 */
    o = (kc_sheet_opts_t){.max_bytes = 11, .encoding = "WINDOWS-1258"};
    g = s_read_text("\xE0\xE0\xE0,\xE0\xE0\xE0\n", &o);
    assert_int_equal(g.rc, KC_EFORMAT);
    assert_non_null(strstr(g.err, "more than 11 bytes"));
    free(g.rows);
}

/* Files larger than the reader's buffers: rows, numbers and multi-byte
 * characters straddling the reads, a CR at the end of a read. */
static void test_streaming(void **state)
{
    (void)state;
    /* "abc\r\n" x 60000: the first 256 KiB read ends on a CR (262143 = 5k + 3) */
    size_t n = 60000 * 5;
    char *buf = malloc(n);
    for (size_t i = 0; i < 60000; i++)
        memcpy(buf + 5 * i, "abc\r\n", 5);
    s_write(buf, n);
    s_got_t g = s_read(NULL);
    assert_int_equal(g.rc, 0);
    assert_int_equal(g.nrows, 60000);
    char last[32];
    snprintf(last, sizeof last, "\n60000:abc\n");
    assert_non_null(strstr(g.rows, last));
    assert_null(strstr(g.rows, ":\n")); /* no blank row from a split CRLF */
    free(g.rows);
    free(buf);

    /* lone CRs and 3-byte characters (ầ = E1 BA A7) across reads, in UTF-8 and
     * in Windows-1258 (through the converter's buffers) */
    const char *line = "C\xE1\xBA\xA7n,Th\xC6\xA1\r";
    size_t ll = strlen(line), rows = 40000;
    buf = malloc(ll * rows + 1);
    for (size_t i = 0; i < rows; i++)
        memcpy(buf + ll * i, line, ll);
    buf[ll * rows] = '\0';
    for (int enc = 0; enc < 2; enc++) {
        size_t bn = ll * rows;
        char *bytes = enc ? s_iconv("WINDOWS-1258", buf, &bn) : buf;
        s_write(bytes, bn);
        kc_sheet_opts_t o = {.encoding = enc ? "WINDOWS-1258" : NULL};
        g = s_read(&o);
        assert_int_equal(g.rc, 0);
        assert_int_equal(g.nrows, (long)rows);
        long k = 0;
        for (char *p = g.rows; *p; k++) {
            char want[64];
            int w = snprintf(want, sizeof want, "%ld:C\xE1\xBA\xA7n|Th\xC6\xA1\n", k + 1);
            assert_memory_equal(p, want, (size_t)w);
            p += w;
        }
        assert_int_equal(k, (long)rows);
        free(g.rows);
        if (enc)
            free(bytes);
    }
    free(buf);
}

static void test_open_errors(void **state)
{
    (void)state;
    kc_sheet_t *s = (kc_sheet_t *)1;
    char err[256];
    kc_sheet_opts_t o = {.format = KC_SHEET_CSV};
    char missing[160];
    snprintf(missing, sizeof missing, "%s/missing.csv", s_dir);
    assert_int_equal(kc_sheet_open(&s, missing, &o, err, sizeof err), -ENOENT);
    assert_null(s);
    assert_non_null(strstr(err, "missing.csv"));
    assert_int_equal(kc_sheet_open(&s, s_dir, &o, err, sizeof err), -EISDIR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sniff, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_forced, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bom, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_line_ends, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_quoted, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_blank_rows, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_broken_quoting, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_not_utf8, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_windows_1258, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_tcvn3, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_utf16, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_bad_encoding_name, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_limits, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_streaming, s_setup, s_teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, s_setup, s_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
