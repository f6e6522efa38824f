/* import_test.c - spreadsheet rows -> events (ingest/kc_import.h): CSV files
 * written at test time (comma and semicolon, Vietnamese headers, numbers,
 * provinces and activities as clerks type them), an xlsx written by
 * libxlsxwriter with the same rows, every problem with its English and
 * Vietnamese message (the catalogue of the build tree, KC_LOCALEDIR). */
#include "kc_i18n.h"
#include "kc_import.h"
#include "kcimport.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <xlsxwriter.h>

static char s_dir[64];
static char s_path[160];

static int s_setup(void **state)
{
    (void)state;
    snprintf(s_dir, sizeof s_dir, "/tmp/kc-import-XXXXXX");
    if (!mkdtemp(s_dir))
        return -1;
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

#define NCOL 11
typedef const char *s_row_t[NCOL];

/* Write rows as a CSV with delimiter d, every cell quoted; returns the path. */
static const char *s_csv(const char *name, const s_row_t *rows, size_t n, char d)
{
    snprintf(s_path, sizeof s_path, "%s/%s", s_dir, name);
    FILE *f = fopen(s_path, "wb");
    assert_non_null(f);
    for (size_t r = 0; r < n; r++) {
        for (size_t c = 0; c < NCOL && rows[r][c]; c++) {
            if (c)
                fputc(d, f);
            fputc('"', f);
            for (const char *p = rows[r][c]; *p; p++) {
                if (*p == '"')
                    fputc('"', f);
                fputc(*p, f);
            }
            fputc('"', f);
        }
        fputs("\r\n", f);
    }
    assert_int_equal(fclose(f), 0);
    return s_path;
}

/* The same rows as an xlsx (libxlsxwriter): cells of digits only as numbers. */
static const char *s_xlsx(const char *name, const s_row_t *rows, size_t n)
{
    snprintf(s_path, sizeof s_path, "%s/%s", s_dir, name);
    lxw_workbook *wb = workbook_new(s_path);
    assert_non_null(wb);
    lxw_worksheet *ws = workbook_add_worksheet(wb, "Báo cáo");
    /* money as offices format it: a custom number format (the cell's text stays the number) */
    lxw_format *money = workbook_add_format(wb);
    format_set_num_format(money, "#,##0 \"đ\"");
    for (size_t r = 0; r < n; r++)
        for (size_t c = 0; c < NCOL && rows[r][c]; c++) {
            const char *v = rows[r][c];
            if (!*v)
                continue;
            if (strspn(v, "0123456789") == strlen(v))
                worksheet_write_number(ws, (lxw_row_t)r, (lxw_col_t)c, strtod(v, NULL),
                                       c == 7 ? money : NULL);
            else
                worksheet_write_string(ws, (lxw_row_t)r, (lxw_col_t)c, v, NULL);
        }
    assert_int_equal(workbook_close(wb), LXW_NO_ERROR);
    return s_path;
}

/* ---- good rows ------------------------------------------------------------ */

static const s_row_t s_good[] = {
    {"Mã hoạt động", "Tỉnh", "Năm", "Tháng", "Hoạt động", "Loại", "Nguồn vốn", "Kinh phí (đồng)",
     "Số người được đào tạo", "Ghi chú", "Sửa cho"},
    {"A-1", " 92", "2025", "3", "Đào tạo nghề, truyền nghề", "Kế hoạch", "KCĐP", "1.200.000.000",
     "25", "ghi chú; một", ""},
    {"A-2", "1", "2025", "8", "Ứng dụng máy móc tiên tiến", "", "", "350.000.000,00", "", "", ""},
    {"", "", "", "", "", "", "", "", "", "", ""},
    {"A-3", "Cần Thơ", "2024", "12", "KC3b", "actual", "kcqg", "1,200,000,000", "", "", ""},
    {"A-4", "TP. Hồ Chí Minh", "2025", "7", "machinery", "Thực hiện", "Khuyến công quốc gia",
     "5000000", "", "", ""},
    {"A-5", "Hậu Giang", "", "", "", "Hủy", "", "", "", "", "A-0"},
    {"A-6", "79", "2025", "9", "đào tạo nghề, truyền nghề", "Điều chỉnh", "Khác",
     "7\xC2\xA0"
     "000\xC2\xA0"
     "000",
     "3", "", "A-1"},
};

typedef struct {
    const char *id, *prov;
    int year, month;
    const char *act;
    int kind, fund, op;
    uint32_t present;
    int64_t amount, persons;
    const char *note, *corrects;
    long row;
} s_want_t;

static const s_want_t s_want[] = {
    {"A-1", "92", 2025, 3, "vocational_training", KCI_KIND_PLAN, KCI_FUND_KCDP, KCI_OP_RECORD,
     (1u << KCI_AMOUNT_VND) | (1u << KCI_PERSONS), 1200000000, 25, "ghi chú; một", NULL, 2},
    {"A-2", "01", 2025, 8, "machinery", KCI_KIND_ACTUAL, KCI_FUND_OTHER, KCI_OP_RECORD,
     1u << KCI_AMOUNT_VND, 350000000, 0, NULL, NULL, 3},
    {"A-3", "92", 2024, 12, "machinery", KCI_KIND_ACTUAL, KCI_FUND_KCQG, KCI_OP_RECORD,
     1u << KCI_AMOUNT_VND, 1200000000, 0, NULL, NULL, 5},
    {"A-4", "79", 2025, 7, "machinery", KCI_KIND_ACTUAL, KCI_FUND_KCQG, KCI_OP_RECORD,
     1u << KCI_AMOUNT_VND, 5000000, 0, NULL, NULL, 6},
    /* a retraction without a period: Hậu Giang is a unit of the 63 only */
    {"A-5", "93", 0, 0, NULL, KCI_KIND_DEFAULT, KCI_FUND_DEFAULT, KCI_OP_RETRACTION, 0, 0, 0, NULL,
     "A-0", 7},
    {"A-6", "79", 2025, 9, "vocational_training", KCI_KIND_DEFAULT, KCI_FUND_OTHER,
     KCI_OP_CORRECTION, (1u << KCI_AMOUNT_VND) | (1u << KCI_PERSONS), 7000000, 3, NULL, "A-1", 8},
};

static void s_expect_good(const char *path, const char *sheet)
{
    kc_import_t *imp = NULL;
    char err[512];
    assert_int_equal(kc_import_open(&imp, path, NULL, err, sizeof err), 0);
    kc_import_item_t it;
    size_t n = 0;
    int rc;
    while ((rc = kc_import_next(imp, &it, err, sizeof err)) == 1) {
        if (!it.is_event) {
            char msg[1024];
            kc_import_problem_text(&it.problem, msg, sizeof msg);
            fail_msg("unexpected problem: %s", msg);
        }
        assert_true(n < sizeof s_want / sizeof s_want[0]);
        const s_want_t *w = &s_want[n++];
        const kc_event_t *e = &it.event;
        assert_string_equal(e->event_id, w->id);
        assert_string_equal(e->province, w->prov);
        assert_int_equal(e->year, w->year);
        assert_int_equal(e->month, w->month);
        if (w->act)
            assert_string_equal(e->activity, w->act);
        else
            assert_null(e->activity);
        assert_int_equal(e->kind, w->kind);
        assert_int_equal(e->fund, w->fund);
        assert_int_equal(e->op, w->op);
        assert_int_equal(e->present, w->present);
        for (int m = 0; m < KCI_METRIC_COUNT; m++) {
            int64_t want = m == KCI_AMOUNT_VND ? w->amount : m == KCI_PERSONS ? w->persons : 0;
            assert_int_equal(e->metrics[m], want);
        }
        if (w->note)
            assert_string_equal(e->note, w->note);
        else
            assert_null(e->note);
        if (w->corrects)
            assert_string_equal(e->corrects, w->corrects);
        else
            assert_null(e->corrects);
        assert_int_equal(it.loc.row, w->row);
        assert_string_equal(it.loc.sheet, sheet);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, sizeof s_want / sizeof s_want[0]);
    assert_int_equal(kc_import_good(imp), n);
    assert_int_equal(kc_import_bad_rows(imp), 0);
    kc_import_close(&imp);
    assert_null(imp);
}

static void test_good_comma(void **state)
{
    (void)state;
    s_expect_good(s_csv("comma.csv", s_good, sizeof s_good / sizeof s_good[0], ','), "");
}

static void test_good_semicolon(void **state)
{
    (void)state;
    s_expect_good(s_csv("semi.csv", s_good, sizeof s_good / sizeof s_good[0], ';'), "");
}

static void test_good_xlsx(void **state)
{
    (void)state;
    s_expect_good(s_xlsx("good.xlsx", s_good, sizeof s_good / sizeof s_good[0]), "Báo cáo");
}

/* A header in the contract's names in another order, a blank first line, trailing blank
 * header cells (no names): the rows still map by name. */
static void test_header_order(void **state)
{
    (void)state;
    snprintf(s_path, sizeof s_path, "%s/order.csv", s_dir);
    FILE *f = fopen(s_path, "w");
    assert_non_null(f);
    fputs("\n,,\nactivity,MONTH,year,province,event_id,,persons\n"
          "KC1,1,2020, 01 ,x1,,3\n",
          f);
    fclose(f);
    kc_import_t *imp;
    char err[256];
    assert_int_equal(kc_import_open(&imp, s_path, NULL, err, sizeof err), 0);
    kc_import_item_t it;
    assert_int_equal(kc_import_next(imp, &it, err, sizeof err), 1);
    assert_true(it.is_event);
    assert_string_equal(it.event.event_id, "x1");
    assert_string_equal(it.event.province, "01");
    assert_string_equal(it.event.activity, "vocational_training");
    assert_int_equal(it.event.year, 2020);
    assert_int_equal(it.event.month, 1);
    assert_int_equal(it.loc.row, 4);
    assert_int_equal(kc_import_next(imp, &it, err, sizeof err), 0);
    kc_import_close(&imp);
}

/* ---- problems ------------------------------------------------------------- */

/* Columns: A event_id, B province, C year, D month, E activity, F kind, G fund,
 * H amount, I persons, J note, K corrects */
static const s_row_t s_bad[] = {
    {"event_id", "province", "year", "month", "Hoạt động", "kind", "fund", "amount_vnd", "persons",
     "note", "corrects"},
    {"b2", "79", "2025", "8", "machinary", "", "", "", "", "", ""},
    {"b3", "79", "2025", "8", "KC1", "", "", "1.200", "", "", ""},
    {"b4", "79", "2025", "8", "KC1", "", "", "1.5", "", "", ""},
    {"b5", "Hậu Giang", "2025", "8", "KC1", "", "", "", "", "", ""},
    {"b6", "Can Thoo", "2025", "8", "KC1", "", "", "", "", "", ""},
    {"b7", "79", "2025", "8", "KC1", "correction", "", "", "", "", ""},
    {"b8", "79", "2025", "8", "KC1", "", "", "", "", "", "b1"},
    {"b9", "79", "2025", "13", "KC1", "", "xyz", "", "", "", ""},
    {"b10", "79", "", "", "", "retraction", "", "5", "", "", "b1"},
    {"b11", "79", "2025", "", "", "retraction", "", "", "", "", "b1"},
    {"b12", "79", "2025", "8", "qqqqqqqqqqqqqqqq", "", "", "", "", "", ""},
    {"b13", "79", "2025", "8", "KC1", "", "", "abc", "", "", ""},
    {"", "79", "2025", "8", "KC1", "", "", "", "", "", ""},
    {"b15", "79", "2025", "8", "KC1", "", "", "2000000000000000", "", "", ""},
    {"b16", "79", "2025", "8", "KC1", "", "", "1", "", "", ""},
    {"b\x01x", "79", "2025", "8", "KC1", "", "", "", "", "", ""},
    {"b18", "79", "2025", "8", "KC1", "plann", "", "", "", "", ""},
    {"b19", "79", "2025", "8", "KC1", "", "", "7", "", "", "", /* K */},
    /* the aggregator's rules for a row alone (kc_encode_check) */
    {"b20", "79", "2025", "8", "KC1", "", "", "", "", "", ""},
    {"b21", "79", "2025", "8", "KC3b", "", "", "1", "5", "", ""},
    {"b22", "79", "2025", "8", "KC1", "", "", "-3", "", "", ""},
    {"b23", "79", "1999", "8", "KC1", "", "", "1", "", "", ""},
};

typedef struct {
    long row;
    const char *letter;
    const char *token;
    const char *en; /* substrings of the English text, "|"-separated */
    const char *vi; /* ... of the Vietnamese */
} s_prob_t;

static const s_prob_t s_probs[] = {
    {2, "E", "unknown_activity",
     "row 2, column E (Hoạt động): unknown activity 'machinary': did you mean machinery (Ứng dụng "
     "máy móc tiên tiến)?",
     "dòng 2, cột E (Hoạt động): không có hoạt động 'machinary': có phải ý bạn là machinery (Ứng "
     "dụng máy móc tiên tiến)?"},
    {3, "H", "ambiguous_number", "column H (amount_vnd)|'1.200' could be 1200|1.2|write 1200",
     "cột H (amount_vnd)|'1.200'|1200|1.2"},
    {4, "H", "fraction", "'1.5' is not a whole number", "'1.5'"},
    {5, "B", "province_other_scheme", "Hậu Giang|merged into 92 (Cần Thơ)|2025-08|write 92",
     "Hậu Giang|92 (Cần Thơ)|2025-08"},
    {6, "B", "unknown_province", "unknown province 'Can Thoo': did you mean 92 (Cần Thơ)?",
     "'Can Thoo'|92 (Cần Thơ)"},
    {7, "K", "correction_without_corrects", "a correction needs corrects", "corrects"},
    {8, "K", "corrects_without_correction",
     "to change an accepted row send a correction: kind=correction, corrects=ID",
     "kind=correction, corrects=ID"},
    {9, "D", "bad_month", "row 9, column D (month): '13' is not a month", "dòng 9, cột D|'13'"},
    {9, "G", "unknown_fund", "row 9, column G (fund): unknown fund 'xyz'|kcqg, kcdp, other",
     "dòng 9, cột G|'xyz'|kcqg, kcdp, other"},
    {10, "H", "retraction_with_metrics", "a retraction carries no figures", "dòng 10, cột H"},
    {11, "D", "retraction_half_period", "both year and month or neither", "dòng 11, cột D"},
    {12, "E", "unknown_activity",
     "unknown activity 'qqqqqqqqqqqqqqqq': valid values are vocational_training, "
     "capacity_building|and 10 more",
     "vocational_training, capacity_building"},
    {13, "H", "not_number", "'abc' is not a number", "'abc'"},
    {14, "A", "empty_required", "row 14, column A (event_id): event_id is empty", "dòng 14, cột A"},
    {15, "H", "too_large", "'2000000000000000' is larger than|1000000000000000",
     "'2000000000000000'|1000000000000000"},
    {17, "A", "invalid_text", "'b\\x01x' holds a control character (byte 1)", "'b\\x01x'"},
    {18, "F", "unknown_kind", "unknown kind 'plann': did you mean plan", "'plann'|plan"},
    {20, "", "no_metrics",
     "row 20: the row has no figure; activity vocational_training (vocational training) takes: "
     "amount_vnd (spending), persons (persons trained)",
     "dòng 20: dòng này không có số liệu nào|amount_vnd (kinh phí), persons (người được đào tạo)"},
    {21, "I", "metric_not_allowed",
     "column I (persons): persons is not a figure of activity machinery|it takes: amount_vnd "
     "(spending), facilities",
     "cột I (persons): persons không phải là chỉ tiêu của hoạt động machinery|amount_vnd (kinh "
     "phí)"},
    {22, "H", "negative_value", "'-3' is negative|kind=correction, corrects=ID",
     "'-3' là số âm|kind=correction, corrects=ID"},
    {23, "C", "bad_year", "column C (year): '1999' is outside the years kcpipe accepts (2000-2100)",
     "cột C (year): '1999' nằm ngoài các năm kcpipe nhận (2000-2100)"},
};

static void s_has_all(const char *text, const char *want)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", want);
    for (char *save = NULL, *tok = strtok_r(buf, "|", &save); tok; tok = strtok_r(NULL, "|", &save))
        if (!strstr(text, tok))
            fail_msg("expected '%s' in '%s'", tok, text);
}

static void s_expect_bad(const char *lang)
{
    assert_int_equal(kc_i18n_init(lang), 0);
    const char *path = s_csv("bad.csv", s_bad, sizeof s_bad / sizeof s_bad[0], ',');
    kc_import_t *imp;
    char err[256];
    assert_int_equal(kc_import_open(&imp, path, NULL, err, sizeof err), 0);
    kc_import_item_t it;
    size_t np = 0, nev = 0;
    bool vi = strcmp(lang, "vi") == 0;
    while (kc_import_next(imp, &it, err, sizeof err) == 1) {
        if (it.is_event) {
            assert_true(it.loc.row == 16 || it.loc.row == 19);
            nev++;
            continue;
        }
        char msg[1024];
        kc_import_problem_text(&it.problem, msg, sizeof msg);
        if (np >= sizeof s_probs / sizeof s_probs[0])
            fail_msg("unexpected problem: %s", msg);
        const s_prob_t *w = &s_probs[np++];
        assert_int_equal(it.problem.loc.row, w->row);
        assert_string_equal(it.problem.loc.letter, w->letter);
        assert_string_equal(kc_import_problem_token(&it.problem), w->token);
        assert_true(strncmp(msg, "bad.csv ", 8) == 0);
        s_has_all(msg, vi ? w->vi : w->en);
    }
    assert_int_equal(np, sizeof s_probs / sizeof s_probs[0]);
    assert_int_equal(nev, 2);
    assert_int_equal(kc_import_good(imp), 2);
    assert_int_equal(kc_import_bad_rows(imp), 20);
    kc_import_close(&imp);
}

static void test_problems_en(void **state)
{
    (void)state;
    s_expect_bad("en");
}

static void test_problems_vi(void **state)
{
    (void)state;
    s_expect_bad("vi");
    kc_i18n_init("en");
}

static void test_header_problems(void **state)
{
    (void)state;
    static const struct {
        const char *lang;
        const char *file;
        const char *token[4];
        const char *text[4];
    } cases[] = {
        {"en",
         "Mã hoạt động;Tỉnhh;Hoạt động;Năm;year\n1;2;3;4;5\n",
         {"unknown_column", "repeated_column", "missing_column"},
         {"hdr.csv row 1, column B (Tỉnhh): unknown column 'Tỉnhh': did you mean province",
          "row 1, column E (year): column year appears a second time (first in column D)",
          "hdr.csv row 1: required columns missing from the header: province, month"}},
        {"vi",
         "Mã hoạt động;Tỉnhh;Hoạt động;Năm;year\n1;2;3;4;5\n",
         {"unknown_column", "repeated_column", "missing_column"},
         {"hdr.csv dòng 1, cột B (Tỉnhh): ", "dòng 1, cột E (year)", "province, month"}},
        {"en", "\n\n", {"no_header"}, {"hdr.csv: the file has no header row"}},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        assert_int_equal(kc_i18n_init(cases[c].lang), 0);
        snprintf(s_path, sizeof s_path, "%s/hdr.csv", s_dir);
        FILE *f = fopen(s_path, "w");
        assert_non_null(f);
        fputs(cases[c].file, f);
        fclose(f);
        kc_import_t *imp;
        char err[256], msg[1024];
        assert_int_equal(kc_import_open(&imp, s_path, NULL, err, sizeof err), 0);
        kc_import_item_t it;
        size_t k = 0;
        while (kc_import_next(imp, &it, err, sizeof err) == 1) {
            assert_false(it.is_event); /* no row of a file with a bad header */
            assert_non_null(cases[c].token[k]);
            assert_string_equal(kc_import_reason_name(it.problem.reason), cases[c].token[k]);
            kc_import_problem_text(&it.problem, msg, sizeof msg);
            s_has_all(msg, cases[c].text[k]);
            k++;
        }
        assert_null(k < 4 ? cases[c].token[k] : NULL);
        kc_import_close(&imp);
    }
    kc_i18n_init("en");
}

static void test_correction_hint(void **state)
{
    (void)state;
    char buf[256];
    kc_i18n_init("en");
    kc_import_correction_hint("79-001", buf, sizeof buf);
    assert_string_equal(
        buf, "to change an accepted row send a correction: kind=correction, corrects=79-001");
    kc_i18n_init("vi");
    kc_import_correction_hint("79-001", buf, sizeof buf);
    assert_non_null(strstr(buf, "kind=correction, corrects=79-001"));
    assert_null(strstr(buf, "to change"));
    kc_i18n_init("en");
    assert_string_equal(kc_import_reason_name(KC_IMPORT_AMBIGUOUS), "ambiguous_number");
    assert_string_equal(kc_import_reason_name(KC_IMPORT_REASON_COUNT), "");
}

/* What to do about the aggregator's answers (kcimport.h kci_result_hint), on
 * the texts the ledger writes (core/kc_ledger.c). */
static void s_hint(const char *reason, const char *text, char *buf, size_t cap)
{
    kc_result_t r = {.seq = 1,
                     .source = "f.csv:2",
                     .event_id = "79-001",
                     .reason = 20,
                     .reason_name = reason,
                     .text = text};
    kci_result_hint(&r, buf, cap);
}

static void test_result_hints(void **state)
{
    (void)state;
    char buf[512];
    kc_i18n_init("en");
    s_hint("event_id_conflict", "event_id '79-001' was already accepted with other content", buf,
           sizeof buf);
    assert_string_equal(
        buf, "to change an accepted row send a correction: kind=correction, corrects=79-001");
    s_hint("target_superseded",
           "cannot correct 'E-1': it was corrected by 'C-1' (log offset 1); the latest version "
           "is 'C-2': send the correction with corrects=C-2",
           buf, sizeof buf);
    assert_string_equal(buf, "that row was corrected since: the latest version is C-2; send the "
                             "correction again with corrects=C-2");
    s_hint("target_superseded", "cannot correct 'X': corrected by 'Y'; the latest version is 'Z'",
           buf, sizeof buf);
    assert_non_null(strstr(buf, "corrects=Z"));
    s_hint("target_superseded",
           "cannot correct 'E-1': it was corrected by 'C-1' (log offset 1); the latest version "
           "'C-3' was retracted by 'R-1' (log offset 4): there is nothing to correct",
           buf, sizeof buf);
    assert_non_null(strstr(buf, "that row was retracted"));
    s_hint("target_superseded", "an older text", buf, sizeof buf);
    assert_string_equal(buf, "that row was corrected since: name its latest version in corrects");
    s_hint("unknown_target", "", buf, sizeof buf);
    assert_non_null(strstr(buf, "corrects must be the event_id"));
    s_hint("province_not_authorized", "", buf, sizeof buf);
    assert_non_null(strstr(buf, "ask the centre"));
    assert_int_equal(kci_result_hint(&(kc_result_t){.reason_name = "accepted"}, buf, sizeof buf),
                     0);
    assert_string_equal(buf, "");
    kc_i18n_init("vi");
    s_hint("target_superseded", "cannot correct 'X': corrected by 'Y'; the latest version is 'Z'",
           buf, sizeof buf);
    assert_string_equal(buf, "dòng đó đã được sửa trước đây: phiên bản mới nhất là Z; vui lòng "
                             "gửi lại bản sửa với corrects=Z");
    s_hint("event_id_conflict", "", buf, sizeof buf);
    assert_non_null(strstr(buf, "kind=correction, corrects=79-001"));
    assert_null(strstr(buf, "to change"));
    kc_i18n_init("en");
}

/* kci_event_check: the rules for an event alone, for a form that builds
 * events itself (kc-office's entry page). */
static void test_event_check(void **state)
{
    (void)state;
    char text[512];
    const char *name = NULL;
    kc_event_t ev = {.event_id = "F-1",
                     .province = "79",
                     .year = 2026,
                     .month = 3,
                     .activity = "KC1",
                     .present = 1u << KCI_AMOUNT_VND};
    ev.metrics[KCI_AMOUNT_VND] = 1200000000;
    assert_int_equal(kci_event_check(&ev, &name, text, sizeof text), 0);
    assert_string_equal(name, "");
    /* vocational training counts no facilities */
    ev.present |= 1u << KCI_FACILITIES;
    ev.metrics[KCI_FACILITIES] = 3;
    assert_true(kci_event_check(&ev, &name, text, sizeof text) > 0);
    assert_string_equal(name, "metric_not_allowed");
    assert_non_null(strstr(text, "facilities"));
    ev.present = 1u << KCI_AMOUNT_VND;
    ev.metrics[KCI_AMOUNT_VND] = 2000000000000000; /* over the 10^15 ceiling */
    assert_true(kci_event_check(&ev, &name, text, sizeof text) > 0);
    assert_string_equal(name, "value_too_large");
    ev.metrics[KCI_AMOUNT_VND] = 5;
    ev.month = 13;
    assert_true(kci_event_check(&ev, &name, text, sizeof text) > 0);
    assert_string_equal(name, "bad_month");
    ev.month = 3;
    ev.province = "";
    assert_int_equal(kci_event_check(&ev, &name, text, sizeof text), KCI_EINVAL);
}

/* kc_i18n_use: one thread answers in English while the process (and
 * another thread) stays Vietnamese, as kc-office does per request. */
static void *s_en_thread(void *arg)
{
    char *out = arg;
    kc_i18n_use(KC_LANG_EN);
    kc_result_t r = {.reason_name = "event_id_conflict", .event_id = "79-001", .text = ""};
    kci_result_hint(&r, out, 512);
    kc_i18n_use(KC_LANG_VI);
    return NULL;
}

static void test_thread_language(void **state)
{
    (void)state;
    kc_i18n_init("vi");
    char en[512] = "", vi[512] = "", back[512] = "";
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, s_en_thread, en), 0);
    kc_result_t r = {.reason_name = "event_id_conflict", .event_id = "79-001", .text = ""};
    kci_result_hint(&r, vi, sizeof vi);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_non_null(strstr(en, "to change an accepted row"));
    assert_null(strstr(vi, "to change"));
    assert_non_null(strstr(vi, "corrects=79-001"));
    /* the same thread back and forth */
    assert_int_equal(kc_i18n_use(KC_LANG_EN), 0);
    kci_result_hint(&r, back, sizeof back);
    assert_non_null(strstr(back, "to change an accepted row"));
    assert_int_equal(kc_i18n_use(KC_LANG_VI), 0);
    kci_result_hint(&r, back, sizeof back);
    assert_string_equal(back, vi);
    kc_i18n_init("en");
}

/* Column letters past Z: a value in column AB (index 27) under no header. */
static void test_letters(void **state)
{
    (void)state;
    kc_i18n_init("en");
    snprintf(s_path, sizeof s_path, "%s/wide.csv", s_dir);
    FILE *f = fopen(s_path, "w");
    assert_non_null(f);
    fputs("event_id,province,year,month,activity", f);
    for (int i = 5; i < 28; i++)
        fputc(',', f);
    fputs("\nw1,79,2025,8,KC1", f);
    for (int i = 5; i < 27; i++)
        fputc(',', f);
    fputs(",stray\n", f);
    fclose(f);
    kc_import_t *imp;
    char err[256], msg[512];
    assert_int_equal(kc_import_open(&imp, s_path, NULL, err, sizeof err), 0);
    kc_import_item_t it;
    assert_int_equal(kc_import_next(imp, &it, err, sizeof err), 1);
    assert_false(it.is_event);
    assert_string_equal(kc_import_reason_name(it.problem.reason), "extra_cell");
    assert_int_equal(it.problem.loc.col, 27);
    assert_string_equal(it.problem.loc.letter, "AB");
    kc_import_problem_text(&it.problem, msg, sizeof msg);
    s_has_all(msg, "wide.csv row 2, column AB: 'stray' is in a column without a header");
    assert_int_equal(kc_import_next(imp, &it, err, sizeof err), 0);
    kc_import_close(&imp);
}

static void test_open_fails(void **state)
{
    (void)state;
    kc_import_t *imp = (kc_import_t *)1;
    char err[256] = "";
    snprintf(s_path, sizeof s_path, "%s/none.csv", s_dir);
    assert_true(kc_import_open(&imp, s_path, NULL, err, sizeof err) < 0);
    assert_null(imp);
    assert_non_null(strstr(err, "none.csv"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_thread_language), cmocka_unit_test(test_event_check),
        cmocka_unit_test(test_good_comma),      cmocka_unit_test(test_good_semicolon),
        cmocka_unit_test(test_good_xlsx),       cmocka_unit_test(test_header_order),
        cmocka_unit_test(test_problems_en),     cmocka_unit_test(test_problems_vi),
        cmocka_unit_test(test_header_problems), cmocka_unit_test(test_correction_hint),
        cmocka_unit_test(test_open_fails),      cmocka_unit_test(test_letters),
        cmocka_unit_test(test_result_hints),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
