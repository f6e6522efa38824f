/* report_unit_test.c - libkcreport (core/report/kc_report.h) on a store with known cells.
 *
 * A store filled through libkcstore (totals cells and units' last reports), then, in this
 * process: the model's figures (summary sums, the per-province fund split, plan, events and
 * last report, the province x activity sums, the read position) exactly; each renderer into
 * memory (open_memstream, as GET /v1/report does): text in kc-report's classic layout, CSV with
 * and without the BOM and the totals rows, HTML escaped and complete, xlsx a zip, PDF a
 * complete PDF; a sum beyond 2^53 stays exact in CSV; the parsers and the query check. Runs under
 * the valgrind pass (not an integration test): the PDF renderer's pango/fontconfig/cairo state
 * is released by kc_report_pdf_cleanup() at the end, so no leak is reported.
 */
#include "../store/store_test_util.h"
#include "kc_err.h"
#include "kc_report.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

enum { ACT_KC1 = 1, ACT_KC3B = 4, ACT_TV = 18 };
enum { ACTUAL = 1, PLAN = 2, KCQG = 1, KCDP = 2, OTHER = 3 };

#define M(k) KC_M_##k
static const kc_test_sum_cell_t s_cells[] = {
    /* 2021 (the previous year) */
    {{2021, 3, 80, ACT_KC3B, ACTUAL, KCQG}, 2, {M(AMOUNT_VND), M(FACILITIES), -1}, {1000000000, 5}},
    {{2021, 1, 80, ACT_KC3B, PLAN, KCQG}, 1, {M(AMOUNT_VND), -1, -1}, {2000000000}},
    /* 2022 months 1-9: Long An 80 (KCQG + KCĐP), Hồ Chí Minh 79 (other fund), TV apart */
    {{2022, 2, 80, ACT_KC3B, ACTUAL, KCQG}, 1, {M(AMOUNT_VND), M(FACILITIES), -1}, {700000000, 3}},
    {{2022, 4, 80, ACT_KC1, ACTUAL, KCDP},
     2,
     {M(AMOUNT_VND), M(PERSONS), M(PERSONS_EMPLOYED)},
     {300000000, 20, 19}},
    {{2022, 5, 79, ACT_KC1, ACTUAL, OTHER}, 1, {M(AMOUNT_VND), M(PERSONS), -1}, {50000000, 7}},
    {{2022, 6, 79, ACT_TV, ACTUAL, OTHER}, 1, {M(REVENUE_VND), M(PROJECTS), -1}, {900000000, 4}},
    {{2022, 11, 80, ACT_KC1, ACTUAL, KCQG}, 1, {M(AMOUNT_VND), -1, -1}, {1}}, /* after month 9 */
    {{2022, 1, 80, ACT_KC3B, PLAN, KCQG}, 1, {M(AMOUNT_VND), -1, -1}, {2500000000}},
    {{2022, 1, 79, ACT_KC1, PLAN, OTHER}, 1, {M(AMOUNT_VND), -1, -1}, {500000000}},
    /* 2023: Cần Thơ 92, two cells whose sum is beyond 2^53 (exact in every format) */
    {{2023, 1, 92, ACT_KC1, ACTUAL, KCQG}, 1, {M(AMOUNT_VND), -1, -1}, {INT64_MAX}},
    {{2023, 2, 92, ACT_KC1, ACTUAL, KCQG}, 1, {M(AMOUNT_VND), -1, -1}, {INT64_MAX}},
};

static kc_test_dir_t s_dir;
static kc_store_t *s_store;

static int s_fill(kc_txn_t *txn, void *ctx)
{
    (void)ctx;
    int rc = kc_test_cells_add(txn, s_cells, sizeof s_cells / sizeof s_cells[0]);
    if (rc)
        return rc;
    kc_unit_state_t u80 = {.last_report_ns = 1654041600000000000ull, .events = 6};
    kc_unit_state_t u79 = {.last_report_ns = 1656633600000000000ull, .events = 2};
    rc = kc_txn_unit_put(txn, kc_ref_unit_in(63, 80), &u80);
    return rc ? rc : kc_txn_unit_put(txn, kc_ref_unit_in(63, 79), &u79);
}

static int s_setup(void **state)
{
    (void)state;
    kc_test_dir_make(&s_dir);
    kc_store_opts_t opts = {0};
    if (kc_store_open(&s_store, s_dir.store, &opts))
        return -1;
    return kc_store_write(s_store, s_fill, NULL) ? -1 : 0;
}

static int s_teardown(void **state)
{
    (void)state;
    kc_store_close(&s_store);
    kc_test_dir_remove(&s_dir);
    kc_report_pdf_cleanup();
    return 0;
}

static kc_report_t *s_build(int year, kc_lang_t lang, const char *region)
{
    kc_report_query_t q = {.year = year, .m_from = 1, .m_to = 9, .lang = lang};
    kc_cells_filter_init(&q.f);
    q.f.regions[q.f.n_regions++] = region;
    kc_txn_t *txn = NULL;
    kc_report_t *r = NULL;
    assert_int_equal(kc_store_read_begin(s_store, &txn), 0);
    assert_int_equal(kc_report_build(txn, &q, &r), 0);
    kc_txn_end(&txn);
    return r;
}

/* Render into memory; the bytes (malloc'd, NUL-terminated) and their length. */
static char *s_render(const kc_report_t *r, kc_report_format_t f, const kc_report_opts_t *o,
                      size_t *len)
{
    char *buf = NULL;
    size_t n = 0;
    FILE *m = open_memstream(&buf, &n);
    assert_non_null(m);
    assert_int_equal(kc_report_render(r, f, o, m), 0);
    assert_int_equal(fclose(m), 0);
    if (len)
        *len = n;
    return buf;
}

static void test_model(void **state)
{
    (void)state;
    kc_report_t *r = s_build(2022, KC_LANG_EN, "south");
    const int A = KC_M_AMOUNT_VND;
    assert_true(r->prev.total.m[A] == 1000000000);
    assert_true(r->prev_plan.total.m[A] == 2000000000);
    assert_true(r->cur.total.m[A] == 1050000000); /* months 1-9 only */
    assert_true(r->cur_plan.total.m[A] == 3000000000);
    assert_true(r->cur.row[ACT_TV].m[KC_M_REVENUE_VND] == 900000000);
    assert_int_equal(r->n_prov, 2);
    const kc_report_prov_t *p79 = &r->prov[0], *p80 = &r->prov[1];
    assert_int_equal(p79->code, 79);
    assert_string_equal(p79->name, "Hồ Chí Minh");
    assert_true(p79->fund[2] == 50000000 && p79->fund[0] == 0 && p79->spend == 50000000);
    assert_true(p79->plan == 500000000);
    assert_true(p79->events == 2); /* KC1 and TV records */
    assert_true(p79->last_report_ns == 1656633600000000000ull);
    assert_int_equal(p80->code, 80);
    assert_true(p80->fund[0] == 700000000 && p80->fund[1] == 300000000 && p80->fund[2] == 0);
    assert_true(p80->spend == 1000000000 && p80->plan == 2500000000);
    assert_true(r->total.spend == 1050000000 && r->total.plan == 3000000000);
    assert_true(r->total.events == 5);
    size_t kc1 = 0;
    for (size_t i = 0; i < kc_ref_activity_count(); i++)
        if (kc_ref_activity_at(i)->id == ACT_KC1)
            kc1 = i;
    assert_true(p80->act[kc1] == 300000000 && r->total.act[kc1] == 350000000);
    uint64_t log_size = 99;
    kc_txn_t *txn = NULL;
    assert_int_equal(kc_store_read_begin(s_store, &txn), 0);
    assert_int_equal(kc_txn_log_size(txn, &log_size), 0);
    kc_txn_end(&txn);
    assert_true(r->log_size == log_size);
    assert_false(r->have_head); /* nothing logged, nothing signed */
    kc_report_free(&r);
    assert_null(r);
}

static void test_text(void **state)
{
    (void)state;
    kc_report_t *r = s_build(2022, KC_LANG_VI, "south");
    kc_report_opts_t o = {0};
    char *t = s_render(r, KC_REPORT_TEXT, &o, NULL);
    /* the classic layout, as kc-report always printed it (store_label NULL: no store) */
    assert_non_null(strstr(t, "KẾT QUẢ HOẠT ĐỘNG KHUYẾN CÔNG khu vực phía Nam"));
    assert_non_null(strstr(t, "(đơn vị: tỉnh, thành theo từng thời kỳ)"));
    assert_null(strstr(t, "từ kho"));
    assert_non_null(strstr(t, "1,05 tỷ đồng, đạt 35,0% kế hoạch năm 2022 (3 tỷ đồng)"));
    /* then the province table in whole đồng */
    assert_non_null(strstr(t, "Kinh phí theo tỉnh, thành: 9 tháng năm 2022"));
    assert_non_null(strstr(t, "1.050.000.000"));
    assert_non_null(strstr(t, "chưa có đầu cây đã ký"));
    free(t);
    o.table = KC_REPORT_T_PROVINCES;
    t = s_render(r, KC_REPORT_TEXT, &o, NULL);
    assert_null(strstr(t, "KẾT QUẢ"));
    assert_non_null(strstr(t, "Hồ Chí Minh"));
    free(t);
    kc_report_free(&r);
}

static void test_csv(void **state)
{
    (void)state;
    kc_report_t *r = s_build(2022, KC_LANG_EN, "south");
    kc_report_opts_t o = {.table = KC_REPORT_T_PROVINCES};
    char *t = s_render(r, KC_REPORT_CSV, &o, NULL);
    assert_memory_equal(t,
                        "\xEF\xBB\xBF"
                        "Code,Province,KCQG,KCĐP,Other funds,Spending,Plan 2022,",
                        strlen("\xEF\xBB\xBF"
                               "Code,Province,KCQG,KCĐP,Other funds,Spending,Plan 2022,"));
    assert_non_null(strstr(t, "\n79,Hồ Chí Minh,0,0,50000000,50000000,500000000,10.0,2,"
                              "2022-07-01T00:00:00.000000000Z\n"));
    assert_non_null(strstr(t, "\n80,Long An,700000000,300000000,0,1000000000,2500000000,40.0,3,"));
    assert_null(strstr(t, "Total"));
    free(t);
    o.no_bom = true;
    o.total = true;
    t = s_render(r, KC_REPORT_CSV, &o, NULL);
    assert_memory_equal(t, "Code,", 5);
    assert_non_null(
        strstr(t, "\n,Total,700000000,300000000,50000000,1050000000,3000000000,35.0,5,"));
    free(t);
    kc_report_free(&r);
    /* 2 x INT64_MAX: beyond 2^53 and int64, exact */
    r = s_build(2023, KC_LANG_EN, "south");
    o.table = KC_REPORT_T_ALL;
    t = s_render(r, KC_REPORT_CSV, &o, NULL);
    assert_non_null(strstr(t, ",18446744073709551614"));
    free(t);
    size_t n;
    t = s_render(r, KC_REPORT_XLSX, &o, &n);
    assert_true(n > 1000);
    assert_memory_equal(t, "PK\x03\x04", 4);
    free(t);
    kc_report_free(&r);
}

static void test_html_xlsx_pdf(void **state)
{
    (void)state;
    kc_report_t *r = s_build(2022, KC_LANG_VI, "south");
    kc_report_opts_t o = {.now_ns = 1765000000000000000ull};
    char *t = s_render(r, KC_REPORT_HTML, &o, NULL);
    assert_memory_equal(t, "<!DOCTYPE html>\n<html lang=\"vi\">", 32);
    assert_non_null(strstr(t, "<td>Hồ Chí Minh</td>"));
    assert_non_null(strstr(t, "<tfoot>"));
    assert_non_null(strstr(t, "2025-12-06 05:46:40 UTC")); /* now_ns */
    assert_null(strstr(t, "<script"));
    assert_non_null(strstr(t, "</html>\n"));
    free(t);
    size_t n;
    t = s_render(r, KC_REPORT_XLSX, &o, &n);
    assert_memory_equal(t, "PK\x03\x04", 4);
    free(t);
    t = s_render(r, KC_REPORT_PDF, &o, &n);
    assert_true(n > 1000);
    assert_memory_equal(t, "%PDF-", 5);
    assert_non_null(memmem(t, n, "%%EOF", 5));
    assert_non_null(memmem(t, n, "DejaVuSans", 10)); /* the embedded font */
    free(t);
    kc_report_free(&r);
}

static void test_parse_and_check(void **state)
{
    (void)state;
    kc_report_format_t f;
    kc_report_table_t tb;
    assert_int_equal(kc_report_format_parse("pdf", &f), 0);
    assert_int_equal(f, KC_REPORT_PDF);
    assert_int_equal(kc_report_format_parse("docx", &f), KC_EINVAL);
    assert_int_equal(kc_report_table_parse("activities", &tb), 0);
    assert_int_equal(tb, KC_REPORT_T_ACTIVITIES);
    assert_int_equal(kc_report_table_parse("matrix", &tb), KC_EINVAL);
    assert_string_equal(kc_report_format_ext(KC_REPORT_TEXT), "txt");
    assert_true(kc_report_format_binary(KC_REPORT_XLSX));
    assert_false(kc_report_format_binary(KC_REPORT_CSV));
    assert_string_equal(kc_report_format_mime(KC_REPORT_PDF), "application/pdf");
    char err[160];
    kc_report_query_t q = {.year = 2022, .m_from = 1, .m_to = 12};
    kc_cells_filter_init(&q.f);
    assert_int_equal(kc_report_query_check(&q, err, sizeof err), KC_EINVAL); /* no region */
    q.f.regions[q.f.n_regions++] = "south";
    assert_int_equal(kc_report_query_check(&q, err, sizeof err), 0);
    q.m_from = 10;
    q.m_to = 9;
    assert_int_equal(kc_report_query_check(&q, err, sizeof err), KC_EINVAL);
    setenv("LC_ALL", "", 1);
    setenv("LC_MESSAGES", "vi_VN.UTF-8", 1);
    setenv("LANG", "en_US.UTF-8", 1);
    assert_int_equal(kc_lang_from_env(), KC_LANG_VI);
    setenv("LC_ALL", "C.UTF-8", 1);
    assert_int_equal(kc_lang_from_env(), KC_LANG_EN);
    unsetenv("LC_ALL");
    unsetenv("LC_MESSAGES");
    setenv("LANG", "vi", 1);
    assert_int_equal(kc_lang_from_env(), KC_LANG_VI);
    unsetenv("LANG");
    assert_int_equal(kc_lang_from_env(), KC_LANG_EN);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model),
        cmocka_unit_test(test_text),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_html_xlsx_pdf),
        cmocka_unit_test(test_parse_and_check),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
