/* sheet_xlsx_test.c - the xlsx reader behind kc_sheet.h, on files written by
 * real programs: libxlsxwriter at test time (numbers, shared and inline
 * strings, rich text, dates, formulas with cached values, booleans, gaps, two
 * sheets, a named sheet) and LibreOffice (committed under tests/import/data/
 * with the CSV each came from: reading the xlsx gives the CSV's cells). Bad
 * input: a zip bomb, a truncated file, a non-zip, an OLE file, a DOCTYPE or
 * entity in a part, missing parts, an unknown sheet, too many cells, absurd
 * cell references, an encrypted entry. */
#include "kc_err.h"
#include "kc_sheet.h"
#define ST_TAG "xlsx"
#include "sheet_test_util.h"

#include <xlsxwriter.h>

/* Read every row of path: an xlsx whose rows all fit in a got_t. */
static got_t *s_read(const char *path, const kc_sheet_opts_t *opts)
{
    got_t *g = st_read(path, opts);
    if (g->format[0])
        assert_string_equal(g->format, "xlsx");
    assert_false(g->clipped);
    return g;
}

/* ---- files written by libxlsxwriter ---- */

static double s_serial(int y, int m, int d, int hh, int mi, int ss)
{
    lxw_datetime dt = {y, m, d, hh, mi, ss};
    return lxw_datetime_to_excel_datetime(&dt);
}

/* The main test workbook: sheet "Dữ liệu" then "Sheet B". */
static void s_write_values(const char *path, bool constant_memory)
{
    lxw_workbook_options o = {.constant_memory = constant_memory, .tmpdir = st_dir};
    lxw_workbook *wb = workbook_new_opt(path, &o);
    assert_non_null(wb);
    lxw_worksheet *ws = workbook_add_worksheet(wb, "Dữ liệu");
    lxw_worksheet *ws2 = workbook_add_worksheet(wb, "Sheet B");
    lxw_format *dfmt = workbook_add_format(wb);
    format_set_num_format(dfmt, "dd/mm/yyyy");
    lxw_format *dtfmt = workbook_add_format(wb);
    format_set_num_format(dtfmt, "yyyy-mm-dd hh:mm:ss");
    lxw_format *b14 = workbook_add_format(wb);
    format_set_num_format_index(b14, 14);
    lxw_format *money = workbook_add_format(wb);
    format_set_num_format(money, "#,##0 \"đồng\";[Red]-#,##0");
    lxw_format *bold = workbook_add_format(wb);
    format_set_bold(bold);

    /* row 1: headers (shared strings, or inline in constant_memory mode) */
    const char *hdr[] = {"Tỉnh/thành phố", "Năm", "Kinh phí (đồng)", "Tỷ lệ", "Ngày", "Ghi chú"};
    for (int c = 0; c < 6; c++)
        worksheet_write_string(ws, 0, (lxw_col_t)c, hdr[c], NULL);
    /* row 2: numbers and a date in a custom format */
    worksheet_write_string(ws, 1, 0, "Cần Thơ", NULL);
    worksheet_write_number(ws, 1, 1, 2022, NULL);
    worksheet_write_number(ws, 1, 2, 1200000000, money);
    worksheet_write_number(ws, 1, 3, 0.5, NULL);
    lxw_datetime d1 = {2022, 3, 15, 0, 0, 0};
    worksheet_write_datetime(ws, 1, 4, &d1, dfmt);
    worksheet_write_string(ws, 1, 5, "đào tạo nghề", NULL);
    /* row 3: gaps (B, C, E empty), a date-time, a built-in date format */
    worksheet_write_string(ws, 2, 0, "TP. Hồ Chí Minh", NULL);
    worksheet_write_number(ws, 2, 3, 0.1, NULL);
    worksheet_write_number(ws, 2, 5, s_serial(2021, 12, 31, 8, 30, 5), dtfmt);
    worksheet_write_number(ws, 2, 6, s_serial(1900, 1, 1, 0, 0, 0), b14);
    worksheet_write_number(ws, 2, 7, s_serial(1900, 3, 1, 0, 0, 0), b14);
    /* row 4: formulas with cached values, booleans, a number formatted as money */
    worksheet_write_formula_num(ws, 3, 0, "=B2*2", NULL, 4044);
    worksheet_write_formula_str(ws, 3, 1, "=A2&\"!\"", NULL, "Cần Thơ!");
    worksheet_write_boolean(ws, 3, 2, 1, NULL);
    worksheet_write_boolean(ws, 3, 3, 0, NULL);
    worksheet_write_formula_num(ws, 3, 4, "=1/3", NULL, 1.0 / 3.0);
    worksheet_write_number(ws, 3, 5, -350000000, money);
    /* row 6 (row 5 absent): numbers at the edges of the rule */
    worksheet_write_number(ws, 5, 0, 9007199254740991.0, NULL);
    worksheet_write_number(ws, 5, 1, 1e20, NULL);
    worksheet_write_number(ws, 5, 2, 1e-7, NULL);
    worksheet_write_number(ws, 5, 3, 123456789.125, NULL);
    worksheet_write_number(ws, 5, 4, -0.0, NULL);
    worksheet_write_number(ws, 5, 5, 1234.5678, NULL);
    /* row 8: rich text (runs concatenated) in column C only */
    if (!constant_memory) {
        lxw_rich_string_tuple f1 = {.format = bold, .string = "Bình "};
        lxw_rich_string_tuple f2 = {.format = NULL, .string = "Phước"};
        lxw_rich_string_tuple *rs[] = {&f1, &f2, NULL};
        worksheet_write_rich_string(ws, 7, 2, rs, NULL);
    } else {
        worksheet_write_string(ws, 7, 2, "Bình Phước", NULL);
    }
    /* row 9: a blank styled cell then nothing */
    worksheet_write_blank(ws, 8, 1, bold);

    worksheet_write_string(ws2, 0, 0, "second", NULL);
    worksheet_write_number(ws2, 1, 1, 7, NULL);
    assert_int_equal(workbook_close(wb), LXW_NO_ERROR);
}

static void s_check_values(const got_t *g)
{
    assert_int_equal(g->rc, 0);
    assert_string_equal(g->name, "Dữ liệu");
    st_expect(g, 1, "Tỉnh/thành phố", "Năm", "Kinh phí (đồng)", "Tỷ lệ", "Ngày", "Ghi chú", NULL);
    st_expect(g, 2, "Cần Thơ", "2022", "1200000000", "0.5", "2022-03-15", "đào tạo nghề", NULL);
    st_expect(g, 3, "TP. Hồ Chí Minh", "", "", "0.1", "", "2021-12-31 08:30:05", "1900-01-01",
              "1900-03-01", NULL);
    st_expect(g, 4, "4044", "Cần Thơ!", "TRUE", "FALSE", "0.3333333333333333", "-350000000", NULL);
    assert_null(st_row(g, 5));
    st_expect(g, 6, "9007199254740991", "1e+20", "1e-07", "123456789.125", "0", "1234.5678", NULL);
    assert_null(st_row(g, 7));
    st_expect(g, 8, "", "", "Bình Phước", NULL);
    st_expect(g, 9, "", "", NULL);
    assert_int_equal(g->n, 7);
}

static void test_xlsxwriter_values(void **state)
{
    (void)state;
    const char *p = st_path("values.xlsx");
    s_write_values(p, false);
    got_t *g = s_read(p, NULL);
    s_check_values(g);
    st_got_free(g);
    /* constant_memory mode writes inline strings instead of shared ones */
    p = st_path("values-inline.xlsx");
    s_write_values(p, true);
    g = s_read(p, NULL);
    s_check_values(g);
    st_got_free(g);
    /* KC_XLSX_SEED_DIR=tests/fuzz/corpus/xlsx: refresh the fuzz seeds from these files */
    const char *seeds = getenv("KC_XLSX_SEED_DIR");
    if (seeds) {
        char cmd[1400];
        snprintf(cmd, sizeof cmd,
                 "cp '%s' '%s/xlsxwriter-shared.xlsx' && cp '%s' '%s/xlsxwriter-inline.xlsx'",
                 st_path("values.xlsx"), seeds, p, seeds);
        assert_int_equal(system(cmd), 0);
    }
}

/* A workbook with no number format at all (libxlsxwriter's defaults): its
 * styles part has cell formats but no custom number format. */
static void test_plain_workbook(void **state)
{
    (void)state;
    const char *p = st_path("plain.xlsx");
    lxw_workbook *wb = workbook_new(p);
    assert_non_null(wb);
    lxw_worksheet *ws = workbook_add_worksheet(wb, NULL);
    worksheet_write_string(ws, 0, 0, "amount_vnd", NULL);
    worksheet_write_number(ws, 1, 0, 1200000000, NULL);
    assert_int_equal(workbook_close(wb), LXW_NO_ERROR);
    got_t *g = s_read(p, NULL);
    assert_int_equal(g->rc, 0);
    assert_int_equal(g->n, 2);
    assert_string_equal(st_row(g, 2)->cells[0], "1200000000");
    st_got_free(g);
}

static void test_named_sheet(void **state)
{
    (void)state;
    const char *p = st_path("values.xlsx");
    s_write_values(p, false);
    kc_sheet_opts_t o = {.sheet = "Sheet B"};
    got_t *g = s_read(p, &o);
    assert_int_equal(g->rc, 0);
    assert_string_equal(g->name, "Sheet B");
    assert_int_equal(g->n, 2);
    st_expect(g, 1, "second", NULL);
    st_expect(g, 2, "", "7", NULL);
    st_got_free(g);
    o.sheet = "Dữ liệu";
    g = s_read(p, &o);
    s_check_values(g);
    st_got_free(g);
    /* an unknown name: the error lists the sheets there are */
    o.sheet = "Sheet C";
    g = s_read(p, &o);
    st_err_has(g, KC_EFORMAT, "no sheet named 'Sheet C'; the sheets are: 'Dữ liệu', 'Sheet B'");
    st_got_free(g);
}

/* ---- libzip surgery on a real file, for the bad-input cases ---- */

/* Overwrite the uncompressed size of entry in its local and central headers
 * (what a crafted zip bomb does to pass a size check). */
static void s_lie_size(const char *path, const char *entry, uint32_t size)
{
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    static char b[1 << 20];
    size_t n = fread(b, 1, sizeof b, f);
    assert_true(n < sizeof b);
    size_t el = strlen(entry);
    int patched = 0;
    for (size_t i = 0; i + 46 + el <= n; i++) {
        bool local = memcmp(b + i, "PK\3\4", 4) == 0 && memcmp(b + i + 30, entry, el) == 0;
        bool central = memcmp(b + i, "PK\1\2", 4) == 0 && memcmp(b + i + 46, entry, el) == 0;
        if (!local && !central)
            continue;
        size_t at = i + (local ? 22 : 24);
        for (int k = 0; k < 4; k++)
            b[at + (size_t)k] = (char)(size >> (8 * k));
        patched++;
    }
    assert_int_equal(patched, 2);
    rewind(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
}

static void test_zip_bomb(void **state)
{
    (void)state;
    const char *good = st_path("values.xlsx");
    s_write_values(good, false);
    size_t big = (size_t)8 << 20;
    char *zeros = calloc(1, big);
    const char *bomb = st_path("bomb.xlsx");
    st_patch(good, bomb, "xl/worksheets/sheet1.xml", zeros, big);
    free(zeros);
    FILE *f = fopen(bomb, "rb");
    fseek(f, 0, SEEK_END);
    assert_true(ftell(f) < 64 * 1024); /* 8 MiB inflated from a few KiB */
    fclose(f);
    kc_sheet_opts_t o = {.max_bytes = 1 << 20};
    got_t *g = s_read(bomb, &o);
    st_err_has(g, KC_EFORMAT, "xl/worksheets/sheet1.xml inflates to more than the 1048576 bytes");
    assert_non_null(strstr(g->err, "zip bomb"));
    assert_int_equal(g->n, 0);
    st_got_free(g);
    /* the same bound counts every part: the good file fits 1 MiB, not 2 KiB */
    g = s_read(good, &o);
    s_check_values(g);
    st_got_free(g);
    o.max_bytes = 2048;
    g = s_read(good, &o);
    st_err_has(g, KC_EFORMAT, "inflates to more than the 2048 bytes");
    st_got_free(g);
    /* well-formed XML inflating past the bound, its sizes in the zip's
     * headers lowered to 1000: the bytes actually read are counted */
    const char *head = "<?xml version=\"1.0\"?><worksheet><sheetData>";
    char *spaces = malloc(big);
    memset(spaces, ' ', big);
    memcpy(spaces, head, strlen(head));
    const char *liar = st_path("liar.xlsx");
    st_patch(good, liar, "xl/worksheets/sheet1.xml", spaces, big);
    free(spaces);
    s_lie_size(liar, "xl/worksheets/sheet1.xml", 1000);
    o.max_bytes = 1 << 20;
    g = s_read(liar, &o);
    st_err_has(g, KC_EFORMAT, "xl/worksheets/sheet1.xml inflates to more than the 1048576 bytes");
    st_got_free(g);
    /* within the default bound, zeros are not XML */
    g = s_read(bomb, NULL);
    st_err_has(g, KC_EFORMAT, "xl/worksheets/sheet1.xml is not well-formed XML");
    st_got_free(g);
}

static void test_not_a_zip(void **state)
{
    (void)state;
    const char *good = st_path("values.xlsx");
    s_write_values(good, false);
    /* truncated: the zip magic is there (auto-detected as xlsx), the directory is not */
    FILE *in = fopen(good, "rb");
    char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, in);
    fclose(in);
    const char *cut = st_path("cut.xlsx");
    FILE *out = fopen(cut, "wb");
    fwrite(buf, 1, n / 2, out);
    fclose(out);
    got_t *g = s_read(cut, NULL);
    st_err_has(g, KC_EFORMAT, "not a readable xlsx file");
    st_got_free(g);
    /* text given as xlsx */
    const char *txt = st_path("text.xlsx");
    out = fopen(txt, "wb");
    fputs("event_id,province\n1,2\n", out);
    fclose(out);
    kc_sheet_opts_t o = {.format = KC_SHEET_XLSX};
    g = s_read(txt, &o);
    st_err_has(g, KC_EFORMAT, "not a readable xlsx file");
    st_got_free(g);
    /* an OLE compound file: what Excel writes for a password-protected workbook */
    static const unsigned char ole[16] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};
    const char *enc = st_path("encrypted.xlsx");
    out = fopen(enc, "wb");
    fwrite(ole, 1, sizeof ole, out);
    fclose(out);
    g = s_read(enc, &o);
    st_err_has(g, KC_EFORMAT, "password-protected or not an xlsx file: save it without a password");
    st_got_free(g);
    /* ... and detected as such without a format given (not read as a CSV) */
    g = s_read(enc, NULL);
    st_err_has(g, KC_EFORMAT, "password-protected or not an xlsx file: save it without a password");
    st_got_free(g);
    /* no such file */
    g = s_read(st_path("absent.xlsx"), &o);
    assert_true(g->rc < 0 && strstr(g->err, "absent.xlsx"));
    st_got_free(g);
}

static void test_encrypted_entry(void **state)
{
    (void)state;
    if (!zip_encryption_method_supported(ZIP_EM_AES_256, 1))
        skip();
    const char *good = st_path("values.xlsx");
    s_write_values(good, false);
    const char *enc = st_path("aes.xlsx");
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "cp '%s' '%s'", good, enc);
    assert_int_equal(system(cmd), 0);
    int ze = 0;
    zip_t *za = zip_open(enc, 0, &ze);
    zip_int64_t i = zip_name_locate(za, "xl/workbook.xml", 0);
    assert_int_equal(zip_file_set_encryption(za, (zip_uint64_t)i, ZIP_EM_AES_256, "secret"), 0);
    assert_int_equal(zip_close(za), 0);
    got_t *g = s_read(enc, NULL);
    st_err_has(g, KC_EFORMAT, "xl/workbook.xml is encrypted: password-protected");
    st_got_free(g);
}

static void test_doctype_refused(void **state)
{
    (void)state;
    const char *good = st_path("values.xlsx");
    s_write_values(good, false);
    const char *decl = "standalone=\"yes\"?>";
    static const char *lol =
        "standalone=\"yes\"?>\n<!DOCTYPE lolz [<!ENTITY lol \"lol\"><!ENTITY lol2 "
        "\"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">]>";
    size_t n;
    /* in the worksheet: the open succeeds, the first row fails */
    char *x = st_edit(good, "xl/worksheets/sheet1.xml", decl, lol, &n);
    const char *bad = st_path("doctype.xlsx");
    st_patch(good, bad, "xl/worksheets/sheet1.xml", x, n);
    free(x);
    got_t *g = s_read(bad, NULL);
    st_err_has(g, KC_EFORMAT, "xl/worksheets/sheet1.xml has a DOCTYPE");
    assert_int_equal(g->n, 0);
    st_got_free(g);
    /* in the shared strings and the workbook: the open fails */
    x = st_edit(good, "xl/sharedStrings.xml", decl, lol, &n);
    st_patch(good, bad, "xl/sharedStrings.xml", x, n);
    free(x);
    g = s_read(bad, NULL);
    st_err_has(g, KC_EFORMAT, "xl/sharedStrings.xml has a DOCTYPE");
    st_got_free(g);
    x = st_edit(good, "xl/workbook.xml", decl, lol, &n);
    st_patch(good, bad, "xl/workbook.xml", x, n);
    free(x);
    g = s_read(bad, NULL);
    st_err_has(g, KC_EFORMAT, "xl/workbook.xml has a DOCTYPE");
    st_got_free(g);
    /* malformed XML: the rows before are handed over, then the error */
    x = st_edit(good, "xl/worksheets/sheet1.xml", "<row r=\"3\"", "<row r=\"3\"<", &n);
    st_patch(good, bad, "xl/worksheets/sheet1.xml", x, n);
    free(x);
    g = s_read(bad, NULL);
    st_err_has(g, KC_EFORMAT, "xl/worksheets/sheet1.xml is not well-formed XML (line 2");
    assert_int_equal(g->n, 2);
    st_got_free(g);
}

static void test_missing_parts(void **state)
{
    (void)state;
    const char *good = st_path("values.xlsx");
    s_write_values(good, false);
    const char *bad = st_path("missing.xlsx");
    st_patch(good, bad, "xl/sharedStrings.xml", NULL, 0);
    got_t *g = s_read(bad, NULL);
    st_err_has(g, KC_EFORMAT, "the shared strings (xl/sharedStrings.xml) are missing");
    st_got_free(g);
    st_patch(good, bad, "xl/workbook.xml", NULL, 0);
    g = s_read(bad, NULL);
    st_err_has(g, KC_EFORMAT, "it has no workbook (xl/workbook.xml)");
    st_got_free(g);
    st_patch(good, bad, "xl/worksheets/sheet1.xml", NULL, 0);
    g = s_read(bad, NULL);
    st_err_has(g, KC_EFORMAT, "sheet 'Dữ liệu' (xl/worksheets/sheet1.xml) is missing");
    st_got_free(g);
    /* without styles every number is a number: the dates come out as serials */
    st_patch(good, bad, "xl/styles.xml", NULL, 0);
    g = s_read(bad, NULL);
    assert_int_equal(g->rc, 0);
    st_expect(g, 2, "Cần Thơ", "2022", "1200000000", "0.5", "44635", "đào tạo nghề", NULL);
    st_got_free(g);
}

static void test_bad_cells(void **state)
{
    (void)state;
    const char *good = st_path("values.xlsx");
    s_write_values(good, false);
    /* too many cells: row 3 reaches column H */
    kc_sheet_opts_t o = {.max_cells = 6};
    got_t *g = s_read(good, &o);
    st_err_has(g, KC_EFORMAT, "sheet 'Dữ liệu', row 3: a cell in column G, beyond the 6 columns");
    assert_int_equal(g->n, 2);
    st_got_free(g);
    const char *bad = st_path("badref.xlsx");
    static const char *const refs[][2] = {
        {"r=\"B2\"", "r=\"XFE2\""}, {"r=\"B2\"", "r=\"B99999999\""}, {"r=\"B2\"", "r=\"2B\""}};
    for (size_t i = 0; i < 3; i++) {
        size_t n;
        char *x = st_edit(good, "xl/worksheets/sheet1.xml", refs[i][0], refs[i][1], &n);
        st_patch(good, bad, "xl/worksheets/sheet1.xml", x, n);
        free(x);
        g = s_read(bad, NULL);
        st_err_has(g, KC_EFORMAT, "is not inside Excel's grid");
        assert_int_equal(g->n, 1);
        st_got_free(g);
    }
    /* a shared string that does not exist */
    size_t n;
    char *x = st_edit(good, "xl/worksheets/sheet1.xml", "<v>0</v>", "<v>4000</v>", &n);
    st_patch(good, bad, "xl/worksheets/sheet1.xml", x, n);
    free(x);
    g = s_read(bad, NULL);
    st_err_has(g, KC_EFORMAT, "cell A1 refers to shared string '4000', which does not exist");
    st_got_free(g);
    /* the 1904 date system (Excel for Mac's old default): same serials, four years on */
    x = st_edit(good, "xl/workbook.xml", "<workbookPr", "<workbookPr date1904=\"1\"", &n);
    st_patch(good, bad, "xl/workbook.xml", x, n);
    free(x);
    g = s_read(bad, NULL);
    assert_int_equal(g->rc, 0);
    st_expect(g, 2, "Cần Thơ", "2022", "1200000000", "0.5", "2026-03-16", "đào tạo nghề", NULL);
    st_got_free(g);
}

/* ---- files written by LibreOffice (committed) against their CSVs ---- */

static void s_csv_vs_xlsx(const char *stem)
{
    char name[256];
    snprintf(name, sizeof name, "%s.xlsx", stem);
    got_t *g = s_read(st_data(name), NULL);
    if (g->rc != 0)
        fail_msg("%s: %s", name, g->err);
    snprintf(name, sizeof name, "%s.csv", stem);
    st_match_csv(g, st_data(name), false);
    st_got_free(g);
}

static void test_libreoffice(void **state)
{
    (void)state;
    s_csv_vs_xlsx("lo-values");
    s_csv_vs_xlsx("lo-demo-70");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_xlsxwriter_values, st_setup, st_teardown),
        cmocka_unit_test_setup_teardown(test_named_sheet, st_setup, st_teardown),
        cmocka_unit_test_setup_teardown(test_libreoffice, st_setup, st_teardown),
        cmocka_unit_test_setup_teardown(test_zip_bomb, st_setup, st_teardown),
        cmocka_unit_test_setup_teardown(test_not_a_zip, st_setup, st_teardown),
        cmocka_unit_test_setup_teardown(test_encrypted_entry, st_setup, st_teardown),
        cmocka_unit_test_setup_teardown(test_plain_workbook, st_setup, st_teardown),
        cmocka_unit_test_setup_teardown(test_doctype_refused, st_setup, st_teardown),
        cmocka_unit_test_setup_teardown(test_missing_parts, st_setup, st_teardown),
        cmocka_unit_test_setup_teardown(test_bad_cells, st_setup, st_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
