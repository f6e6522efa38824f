/* fmt_test.c - the tools' human number formats (core/report/kc_fmt.h). */
#include "kc_fmt.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

static char s_buf[KC_FMT_BUF];
#define B s_buf, sizeof s_buf

static void test_count(void **state)
{
    (void)state;
    assert_string_equal(kc_fmt_count(B, 0, KC_LANG_VI), "0");
    assert_string_equal(kc_fmt_count(B, 168, KC_LANG_VI), "168");
    assert_string_equal(kc_fmt_count(B, 1013, KC_LANG_VI), "1.013");
    assert_string_equal(kc_fmt_count(B, 1013, KC_LANG_EN), "1,013");
    assert_string_equal(kc_fmt_count(B, 1234567, KC_LANG_VI), "1.234.567");
    assert_string_equal(kc_fmt_count(B, -1234567, KC_LANG_EN), "-1,234,567");
    assert_string_equal(kc_fmt_count(B, -999, KC_LANG_EN), "-999");
    assert_string_equal(kc_fmt_count(B, INT64_MAX, KC_LANG_EN), "9,223,372,036,854,775,807");
    assert_string_equal(kc_fmt_count(B, INT64_MIN, KC_LANG_VI), "-9.223.372.036.854.775.808");
}

static void test_fixed(void **state)
{
    (void)state;
    assert_string_equal(kc_fmt_fixed(B, 123456789, 2, KC_LANG_VI), "1.234.567,89");
    assert_string_equal(kc_fmt_fixed(B, 123456789, 2, KC_LANG_EN), "1,234,567.89");
    assert_string_equal(kc_fmt_fixed(B, 5, 2, KC_LANG_EN), "0.05");
    assert_string_equal(kc_fmt_fixed(B, -5, 1, KC_LANG_VI), "-0,5");
    assert_string_equal(kc_fmt_fixed(B, 1000, 0, KC_LANG_VI), "1.000");
}

static void test_money(void **state)
{
    (void)state;
    assert_string_equal(kc_fmt_money(B, 50300000000, KC_LANG_VI), "50,3 tỷ đồng");
    assert_string_equal(kc_fmt_money(B, 50300000000, KC_LANG_EN), "50.3 billion VND");
    assert_string_equal(kc_fmt_money(B, 13980000000, KC_LANG_VI), "13,98 tỷ đồng");
    assert_string_equal(kc_fmt_money(B, 4850000000, KC_LANG_VI), "4,85 tỷ đồng");
    assert_string_equal(kc_fmt_money(B, 102200000000, KC_LANG_VI), "102,2 tỷ đồng");
    assert_string_equal(kc_fmt_money(B, 102249999999, KC_LANG_EN), "102.2 billion VND");
    assert_string_equal(kc_fmt_money(B, 102250000000, KC_LANG_EN), "102.3 billion VND");
    assert_string_equal(kc_fmt_money(B, 38400000000, KC_LANG_VI), "38,4 tỷ đồng");
    assert_string_equal(kc_fmt_money(B, 50000000000, KC_LANG_VI), "50 tỷ đồng");
    assert_string_equal(kc_fmt_money(B, 19904999999, KC_LANG_VI), "19,9 tỷ đồng");
    assert_string_equal(kc_fmt_money(B, 19905000000, KC_LANG_VI), "19,91 tỷ đồng");
    assert_string_equal(kc_fmt_money(B, 99996000000, KC_LANG_VI), "100 tỷ đồng");
    assert_string_equal(kc_fmt_money(B, 1234500000000, KC_LANG_VI), "1.234,5 tỷ đồng");
    assert_string_equal(kc_fmt_money(B, 1234500000000, KC_LANG_EN), "1,234.5 billion VND");
    assert_string_equal(kc_fmt_money(B, 850000000, KC_LANG_VI), "850 triệu đồng");
    assert_string_equal(kc_fmt_money(B, 850000000, KC_LANG_EN), "850 million VND");
    assert_string_equal(kc_fmt_money(B, 84388000, KC_LANG_VI), "84,39 triệu đồng");
    assert_string_equal(kc_fmt_money(B, 999999999, KC_LANG_VI), "1 tỷ đồng");
    assert_string_equal(kc_fmt_money(B, 1500, KC_LANG_VI), "1.500 đồng");
    assert_string_equal(kc_fmt_money(B, 0, KC_LANG_EN), "0 VND");
    assert_string_equal(kc_fmt_money(B, -50300000000, KC_LANG_VI), "-50,3 tỷ đồng");
    assert_string_equal(kc_fmt_money(B, -2500000, KC_LANG_EN), "-2.5 million VND");
    assert_string_equal(kc_fmt_money(B, -1005000000, KC_LANG_EN), "-1.01 billion VND");
}

/* Issue 16: one scale for a column of money, its largest value's. */
static void test_money_column(void **state)
{
    (void)state;
    char b[KC_FMT_BUF];
    const kc_i128 col[] = {2620000000, 111700000, 0};
    kc_fmt_scale_t s = kc_fmt_money_scale(col, 3);
    assert_int_equal(s.unit, 2);
    assert_int_equal(s.decimals, 2);
    assert_string_equal(kc_fmt_money_in(b, sizeof b, col[0], s, KC_LANG_VI), "2,62 tỷ đồng");
    assert_string_equal(kc_fmt_money_in(b, sizeof b, col[1], s, KC_LANG_VI), "0,11 tỷ đồng");
    assert_string_equal(kc_fmt_money_in(b, sizeof b, col[2], s, KC_LANG_EN), "0.00 billion VND");
    /* decimals every value leaves zero are dropped: 1 and 2 tỷ, not 1,00 */
    const kc_i128 whole[] = {1000000000, 2000000000};
    s = kc_fmt_money_scale(whole, 2);
    assert_int_equal(s.decimals, 0);
    assert_string_equal(kc_fmt_money_in(b, sizeof b, whole[1], s, KC_LANG_VI), "2 tỷ đồng");
    /* the largest's rounding decides: 999,996 triệu is 1 tỷ, 99,996 tỷ 100,0 */
    const kc_i128 up[] = {999996000, 850000000};
    s = kc_fmt_money_scale(up, 2);
    assert_int_equal(s.unit, 2);
    assert_string_equal(kc_fmt_money_in(b, sizeof b, up[1], s, KC_LANG_VI), "0,85 tỷ đồng");
    const kc_i128 hundred[] = {99996000000, -1230000000};
    s = kc_fmt_money_scale(hundred, 2);
    assert_int_equal(s.decimals, 1);
    assert_string_equal(kc_fmt_money_in(b, sizeof b, hundred[1], s, KC_LANG_EN),
                        "-1.2 billion VND");
    /* all in dong */
    const kc_i128 small[] = {5, 1500};
    s = kc_fmt_money_scale(small, 2);
    assert_int_equal(s.unit, 0);
    assert_string_equal(kc_fmt_money_in(b, sizeof b, small[1], s, KC_LANG_VI), "1.500 đồng");
}

static void test_percent(void **state)
{
    (void)state;
    assert_string_equal(kc_fmt_percent(B, 50300000000, 63200000000, KC_LANG_VI), "79,6%");
    assert_string_equal(kc_fmt_percent(B, 50300000000, 63200000000, KC_LANG_EN), "79.6%");
    assert_string_equal(kc_fmt_percent(B, 38400000000, 102200000000, KC_LANG_VI), "37,6%");
    assert_string_equal(kc_fmt_percent(B, 1, 3, KC_LANG_EN), "33.3%");
    assert_string_equal(kc_fmt_percent(B, 2, 3, KC_LANG_EN), "66.7%");
    assert_string_equal(kc_fmt_percent(B, 1, 2000, KC_LANG_EN), "0.1%"); /* 0.05 rounds up */
    assert_string_equal(kc_fmt_percent(B, 1, 2001, KC_LANG_EN), "0.0%");
    assert_string_equal(kc_fmt_percent(B, 25, 10, KC_LANG_VI), "250,0%");
    assert_string_equal(kc_fmt_percent(B, -1, 3, KC_LANG_EN), "-33.3%");
    assert_string_equal(kc_fmt_percent(B, 1, 0, KC_LANG_EN), "—");
    assert_string_equal(kc_fmt_percent(B, INT64_MAX, 1, KC_LANG_EN),
                        "922,337,203,685,477,580,700.0%");
}

static void test_change(void **state)
{
    (void)state;
    assert_string_equal(kc_fmt_change(B, 38400000000, 19900000000, KC_LANG_VI), "+93,0%");
    assert_string_equal(kc_fmt_change(B, 38400000000, 19900000000, KC_LANG_EN), "+93.0%");
    assert_string_equal(kc_fmt_change(B, 102200000000, 63200000000, KC_LANG_VI), "+61,7%");
    assert_string_equal(kc_fmt_change(B, 1, 2, KC_LANG_EN), "-50.0%");
    assert_string_equal(kc_fmt_change(B, 5, 5, KC_LANG_EN), "+0.0%");
    assert_string_equal(kc_fmt_change(B, 5, 0, KC_LANG_EN), "—");
}

static void test_ratio(void **state)
{
    (void)state;
    int ok = -1;
    assert_true(kc_ratio_percent(50300000000, 63200000000, &ok) == 79.59);
    assert_int_equal(ok, 1);
    assert_true(kc_ratio_percent(1, 3, &ok) == 33.33);
    assert_true(kc_ratio_percent(-1, 3, &ok) == -33.33);
    assert_true(kc_ratio_percent(1, 0, &ok) == 0);
    assert_int_equal(ok, 0);
}

/* 128-bit sums (kc_cells.h, DESIGN - exact sums): every format is exact far
 * beyond int64, and fails soft ("—") only where the arithmetic cannot hold. */
static void test_i128(void **state)
{
    (void)state;
    const kc_i128 pair = (kc_i128)INT64_MAX + 5; /* 2^63-1 in one cell, 5 in another */
    char d[KC_I128_DEC];
    assert_string_equal(kc_i128_str(d, sizeof d, pair), "9223372036854775812");
    assert_string_equal(kc_i128_str(d, sizeof d, 0), "0");
    assert_string_equal(kc_i128_str(d, sizeof d, -1), "-1");
    assert_string_equal(kc_i128_str(d, sizeof d, KC_I128_MAX),
                        "170141183460469231731687303715884105727");
    assert_string_equal(kc_i128_str(d, sizeof d, KC_I128_MIN),
                        "-170141183460469231731687303715884105728");
    assert_true(kc_i128_fits_i64(INT64_MAX) && kc_i128_fits_i64(INT64_MIN));
    assert_false(kc_i128_fits_i64(pair) || kc_i128_fits_i64((kc_i128)INT64_MIN - 1));

    assert_string_equal(kc_fmt_count(B, pair, KC_LANG_EN), "9,223,372,036,854,775,812");
    assert_string_equal(kc_fmt_count(B, pair, KC_LANG_VI), "9.223.372.036.854.775.812");
    assert_string_equal(kc_fmt_count(B, KC_I128_MIN, KC_LANG_EN),
                        "-170,141,183,460,469,231,731,687,303,715,884,105,728");
    assert_string_equal(kc_fmt_money(B, pair, KC_LANG_VI), "9.223.372.036,9 tỷ đồng");
    assert_string_equal(kc_fmt_money(B, pair, KC_LANG_EN), "9,223,372,036.9 billion VND");
    assert_string_equal(kc_fmt_money(B, KC_I128_MAX, KC_LANG_VI),
                        "170.141.183.460.469.231.731.687.303.715,9 tỷ đồng");
    assert_string_equal(kc_fmt_money(B, KC_I128_MIN, KC_LANG_EN),
                        "-170,141,183,460,469,231,731,687,303,715.9 billion VND");
    assert_string_equal(kc_fmt_fixed(B, pair, 2, KC_LANG_VI), "92.233.720.368.547.758,12");

    /* percentages and changes: exact from 128-bit values */
    assert_string_equal(kc_fmt_percent(B, pair, pair, KC_LANG_EN), "100.0%");
    assert_string_equal(
        kc_fmt_percent(B, (kc_i128)INT64_MAX * 3, (kc_i128)INT64_MAX * 4, KC_LANG_VI), "75,0%");
    assert_string_equal(kc_fmt_percent(B, (kc_i128)1 << 91, 3, KC_LANG_EN),
                        "82,529,335,952,358,684,993,274,948,266.7%");
    assert_string_equal(kc_fmt_percent(B, (kc_i128)1 << 118, 3, KC_LANG_EN), "—");
    assert_string_equal(kc_fmt_percent(B, KC_I128_MIN, -1, KC_LANG_EN), "—");
    assert_string_equal(kc_fmt_change(B, (kc_i128)1 << 64, INT64_MAX, KC_LANG_EN), "+100.0%");
    assert_string_equal(kc_fmt_change(B, 5, pair, KC_LANG_VI), "-100,0%");
    assert_string_equal(kc_fmt_change(B, KC_I128_MIN, 1, KC_LANG_EN), "—");
    assert_string_equal(kc_fmt_change(B, KC_I128_MAX, -1, KC_LANG_EN), "—");

    kc_i128 h = 0;
    assert_int_equal(kc_ratio_hundredths(pair, 5, &h), 0);
    assert_string_equal(kc_i128_str(d, sizeof d, h), "18446744073709551624000");
    assert_int_equal(kc_ratio_hundredths((kc_i128)1 << 93, 7, &h), 0);
    assert_string_equal(kc_i128_str(d, sizeof d, h), "14147886163261488855989991131429");
    assert_int_equal(kc_ratio_hundredths((kc_i128)1 << 114, 7, &h), -1);
    assert_int_equal(kc_ratio_hundredths(1, 0, &h), -1);
    int ok = 0;
    assert_true(kc_ratio_percent(pair, pair * 4, &ok) == 25.0);
    assert_int_equal(ok, 1);
    assert_true(kc_ratio_percent((kc_i128)1 << 120, 1, &ok) > 1e38); /* approximate, no UB */
}

static void test_width_and_lang(void **state)
{
    (void)state;
    assert_int_equal(kc_fmt_width("abc"), 3);
    assert_int_equal(kc_fmt_width("tỷ đồng"), 7);
    assert_int_equal(kc_fmt_width("Đào tạo nghề"), 12);
    assert_int_equal(kc_fmt_width("—"), 1);
    kc_lang_t l;
    assert_int_equal(kc_lang_parse("vi", &l), 0);
    assert_int_equal(l, KC_LANG_VI);
    assert_int_equal(kc_lang_parse("en", &l), 0);
    assert_int_equal(l, KC_LANG_EN);
    assert_int_not_equal(kc_lang_parse("fr", &l), 0);
    /* truncation keeps a NUL */
    char small[4];
    assert_string_equal(kc_fmt_count(small, sizeof small, 123456, KC_LANG_EN), "123");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count),          cmocka_unit_test(test_fixed),
        cmocka_unit_test(test_money),          cmocka_unit_test(test_money_column),
        cmocka_unit_test(test_percent),        cmocka_unit_test(test_change),
        cmocka_unit_test(test_ratio),          cmocka_unit_test(test_i128),
        cmocka_unit_test(test_width_and_lang),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
