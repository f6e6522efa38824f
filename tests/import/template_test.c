/* template_test.c - the templates of kc_template.h read back through the
 * import layer: xlsx and CSV, Vietnamese and English. The header row names
 * every column of the CSV contract (each cell through kc_value_column), the
 * example row is exactly one good event with the expected values, and nothing
 * else is in the file. Also: the CSV's bytes (BOM, CRLF, two lines), the
 * language argument, the file replaced whole and no temporary left behind,
 * a directory that does not exist. */
#include "kc_err.h"
#include "kc_i18n.h"
#include "kc_import.h"
#include "kc_ref.h"
#include "kc_sheet.h"
#include "kc_template.h"
#include "kc_value.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

static char s_dir[64];
static char s_path[160];

static int s_setup(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/kc-template-XXXXXX");
    return mkdtemp(s_dir) ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *s_file(const char *name)
{
    snprintf(s_path, sizeof s_path, "%s/%s", s_dir, name);
    return s_path;
}

/* Entries of the test directory. */
static size_t s_entries(void)
{
    DIR *d = opendir(s_dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

/* The header row: every cell a column, every column of the contract once,
 * the contract's own names under "en". */
static void s_check_header(const char *path, bool vi)
{
    kc_sheet_t *s;
    char err[256];
    assert_int_equal(kc_sheet_open(&s, path, NULL, err, sizeof err), 0);
    kc_sheet_row_t row;
    assert_int_equal(kc_sheet_next(s, &row, err, sizeof err), 1);
    assert_int_equal(row.row, 1);
    kc_value_item_t cols[64];
    size_t ncols = kc_value_list(KC_VF_COLUMN, 0, cols, 64);
    assert_int_equal(row.ncells, ncols);
    bool seen[64] = {false};
    for (size_t c = 0; c < row.ncells; c++) {
        const char *col;
        assert_int_equal(kc_value_column(row.cells[c], &col, NULL), KC_VALUE_OK);
        if (!vi)
            assert_string_equal(row.cells[c], col);
        else /* Vietnamese headers: the contract's name is not what the clerk reads */
            assert_string_not_equal(row.cells[c], col);
        for (size_t i = 0; i < ncols; i++)
            if (strcmp(cols[i].value, col) == 0) {
                assert_false(seen[i]);
                seen[i] = true;
            }
    }
    for (size_t i = 0; i < ncols; i++)
        assert_true(seen[i]);
    /* the contract: the required columns, kind, fund, every metric, note, corrects */
    static const char *const named[] = {"event_id", "province", "year", "month",   "activity",
                                        "kind",     "fund",     "note", "corrects"};
    for (size_t k = 0; k < sizeof named / sizeof named[0]; k++) {
        bool found = false;
        for (size_t i = 0; i < ncols; i++)
            found |= strcmp(cols[i].value, named[k]) == 0;
        assert_true(found);
    }
    for (int m = 0; m < KC_METRIC_COUNT; m++) {
        bool found = false;
        for (size_t i = 0; i < ncols; i++)
            found |= strcmp(cols[i].value, kc_ref_metric(m)->name) == 0;
        assert_true(found);
    }
    assert_int_equal(ncols, 9 + KC_METRIC_COUNT);
    kc_sheet_close(&s);
}

/* The file imports as exactly one good event: the example. */
static void s_check_import(const char *path, bool vi)
{
    kc_import_t *imp;
    char err[256];
    assert_int_equal(kc_import_open(&imp, path, NULL, err, sizeof err), 0);
    kc_import_item_t it;
    assert_int_equal(kc_import_next(imp, &it, err, sizeof err), 1);
    if (!it.is_event) {
        char msg[512];
        kc_import_problem_text(&it.problem, msg, sizeof msg);
        fail_msg("%s: %s", path, msg);
    }
    const kc_event_t *e = &it.event;
    assert_int_equal(it.loc.row, 2);
    assert_string_equal(e->event_id, vi ? "VD-2026-01-001" : "EX-2026-01-001");
    assert_string_equal(e->province, "79");
    assert_int_equal(e->year, 2026);
    assert_int_equal(e->month, 1);
    assert_string_equal(e->activity, "vocational_training");
    assert_int_equal(e->kind, KCI_KIND_ACTUAL);
    assert_int_equal(e->fund, KCI_FUND_KCDP);
    assert_int_equal(e->op, KCI_OP_RECORD);
    assert_int_equal(e->present, (1u << KCI_AMOUNT_VND) | (1u << KCI_PERSONS));
    assert_int_equal(e->metrics[KCI_AMOUNT_VND], 150000000);
    assert_int_equal(e->metrics[KCI_PERSONS], 35);
    assert_non_null(e->note);
    assert_non_null(strstr(e->note, vi ? "ví dụ" : "Example"));
    assert_true(!e->corrects || !*e->corrects);
    assert_int_equal(kc_import_next(imp, &it, err, sizeof err), 0);
    assert_int_equal(kc_import_good(imp), 1);
    assert_int_equal(kc_import_bad_rows(imp), 0);
    kc_import_close(&imp);
}

static void s_roundtrip(const char *name, kc_template_format_t fmt, const char *lang)
{
    char err[256] = "x";
    const char *path = s_file(name);
    char keep[160];
    snprintf(keep, sizeof keep, "%s", path);
    assert_int_equal(kc_template_write(keep, fmt, lang, err, sizeof err), 0);
    assert_string_equal(err, "");
    s_check_header(keep, strcmp(lang, "vi") == 0);
    s_check_import(keep, strcmp(lang, "vi") == 0);
}

static void test_xlsx_vi(void **state)
{
    (void)state;
    s_roundtrip("mau.xlsx", KC_TEMPLATE_XLSX, "vi");
}

static void test_xlsx_en(void **state)
{
    (void)state;
    s_roundtrip("template.xlsx", KC_TEMPLATE_XLSX, "en");
}

static void test_csv_vi(void **state)
{
    (void)state;
    s_roundtrip("mau.csv", KC_TEMPLATE_CSV, "vi");
}

static void test_csv_en(void **state)
{
    (void)state;
    s_roundtrip("template.csv", KC_TEMPLATE_CSV, "en");
}

/* The CSV's bytes: a BOM, two CRLF lines, the Vietnamese text as UTF-8. */
static void test_csv_bytes(void **state)
{
    (void)state;
    char err[256];
    const char *path = s_file("bytes.csv");
    assert_int_equal(kc_template_write(path, KC_TEMPLATE_CSV, "vi", err, sizeof err), 0);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    assert_true(n > 3);
    assert_memory_equal(buf, "\xEF\xBB\xBF", 3);
    size_t crlf = 0, lf = 0;
    for (size_t i = 0; i < n; i++)
        if (buf[i] == '\n') {
            lf++;
            crlf += i > 0 && buf[i - 1] == '\r';
        }
    assert_int_equal(lf, 2);
    assert_int_equal(crlf, 2);
    assert_true(buf[n - 1] == '\n');
    assert_non_null(strstr(buf, "Kinh phí (đồng)"));
    /* a label with a comma is quoted */
    assert_non_null(strstr(buf, "\"Đào tạo nghề, truyền nghề\""));
    unlink(path);
}

/* lang NULL follows the gettext language (English before kc_i18n_init);
 * an unknown language is refused with nothing written. */
static void test_lang(void **state)
{
    (void)state;
    char err[256];
    size_t before = s_entries();
    const char *path = s_file("bad.csv");
    assert_int_equal(kc_template_write(path, KC_TEMPLATE_CSV, "fr", err, sizeof err), KC_EINVAL);
    assert_non_null(strstr(err, "fr"));
    assert_int_equal(s_entries(), before);
    assert_int_equal(kc_template_write(path, (kc_template_format_t)7, "en", err, sizeof err),
                     KC_EINVAL);
    assert_int_equal(s_entries(), before);

    path = s_file("default.csv");
    assert_int_equal(kc_template_write(path, KC_TEMPLATE_CSV, NULL, err, sizeof err), 0);
    s_check_header(path, false);
    unlink(path);
    assert_int_equal(kc_i18n_init("vi"), 0);
    assert_int_equal(kc_template_write(path, KC_TEMPLATE_CSV, NULL, err, sizeof err), 0);
    s_check_header(path, true);
    /* the message is in the gettext language */
    assert_int_equal(kc_template_write(path, KC_TEMPLATE_CSV, "fr", err, sizeof err), KC_EINVAL);
    assert_non_null(strstr(err, "ngôn ngữ"));
    assert_int_equal(kc_i18n_init("en"), 0);
    unlink(path);
}

/* An existing file is replaced whole; no temporary file is left. */
static void test_replace(void **state)
{
    (void)state;
    char err[256];
    size_t before = s_entries();
    const char *path = s_file("replace.xlsx");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs("old", f);
    fclose(f);
    assert_int_equal(kc_template_write(path, KC_TEMPLATE_XLSX, "vi", err, sizeof err), 0);
    assert_int_equal(s_entries(), before + 1);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_true(st.st_size > 1000);
    s_check_import(path, true);
    unlink(path);
    assert_int_equal(s_entries(), before);
}

/* A directory that does not exist: an error naming the file, nothing written. */
static void test_no_dir(void **state)
{
    (void)state;
    char err[256] = "";
    const char *path = s_file("none/template.xlsx");
    int rc = kc_template_write(path, KC_TEMPLATE_XLSX, "en", err, sizeof err);
    assert_true(rc < 0);
    assert_non_null(strstr(err, "none/template.xlsx"));
    rc = kc_template_write(path, KC_TEMPLATE_CSV, "en", err, sizeof err);
    assert_true(rc < 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_xlsx_vi),   cmocka_unit_test(test_xlsx_en),
        cmocka_unit_test(test_csv_vi),    cmocka_unit_test(test_csv_en),
        cmocka_unit_test(test_csv_bytes), cmocka_unit_test(test_lang),
        cmocka_unit_test(test_replace),   cmocka_unit_test(test_no_dir),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
