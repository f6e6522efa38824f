/* value_test.c - cells as people type them (ingest/kc_value.h), against the
 * embedded reference tables of data/ (every column alias, province and
 * activity, every number form of issue 15, ambiguities and suggestions). */
#include "kc_value.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static const char *s_fold(const char *in)
{
    static char buf[256];
    size_t n = kc_value_fold(in, buf, sizeof buf);
    assert_true(n < sizeof buf);
    assert_int_equal(n, strlen(buf));
    return buf;
}

static void test_fold(void **state)
{
    (void)state;
    assert_string_equal(s_fold("Cần Thơ"), "can tho");
    /* NFD: C a U+0302 U+0300 n, T h o U+031B */
    assert_string_equal(s_fold("Ca\xCC\x82\xCC\x80n Tho\xCC\x9B"), "can tho");
    assert_string_equal(s_fold("  TP.  Hồ\tChí\xC2\xA0Minh  "), "tp ho chi minh");
    assert_string_equal(s_fold("ĐẮK LẮK"), "dak lak");
    assert_string_equal(s_fold("Ðà Nẵng"), "da nang"); /* U+00D0 typed for Đ */
    assert_string_equal(s_fold("Tỉnh/thành phố"), "tinh thanh pho");
    assert_string_equal(s_fold("Kinh phí (đồng)"), "kinh phi dong");
    assert_string_equal(s_fold("Bà Rịa - Vũng Tàu"), "ba ria vung tau");
    assert_string_equal(s_fold("amount_vnd"), "amount vnd");
    assert_string_equal(s_fold("Huỷ"), s_fold("Hủy")); /* old and new tone placement */
    assert_string_equal(s_fold(""), "");
    assert_string_equal(s_fold(" .,-/()_ "), "");
    assert_string_equal(s_fold("a\xFF"
                               "b"),
                        "a?b");                                /* not UTF-8 */
    assert_string_equal(s_fold("\xE1\xBA"), "??");             /* truncated sequence */
    assert_string_equal(s_fold("\xED\xA0\x80"), "???");        /* a surrogate */
    assert_string_equal(s_fold("Straße 東京"), "straße 東京"); /* others as they are */
    /* every Vietnamese letter, both cases, folds to its base */
    static const struct {
        const char *letters;
        const char *base;
    } v[] = {
        {"aàáảãạăằắẳẵặâầấẩẫậAÀÁẢÃẠĂẰẮẲẴẶÂẦẤẨẪẬ", "a"},
        {"eèéẻẽẹêềếểễệEÈÉẺẼẸÊỀẾỂỄỆ", "e"},
        {"iìíỉĩịIÌÍỈĨỊ", "i"},
        {"oòóỏõọôồốổỗộơờớởỡợOÒÓỎÕỌÔỒỐỔỖỘƠỜỚỞỠỢ", "o"},
        {"uùúủũụưừứửữựUÙÚỦŨỤƯỪỨỬỮỰ", "u"},
        {"yỳýỷỹỵYỲÝỶỸỴ", "y"},
        {"dđDĐ", "d"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        const char *p = v[i].letters;
        size_t count = 0;
        while (*p) {
            size_t len = 1;
            while ((p[len] & 0xC0) == 0x80)
                len++;
            char one[8] = {0};
            memcpy(one, p, len);
            if (strcmp(s_fold(one), v[i].base) != 0)
                fail_msg("'%s' folds to '%s', not '%s'", one, s_fold(one), v[i].base);
            p += len;
            count++;
        }
        assert_true(count >= 4);
    }
    /* truncation: like snprintf, never inside a UTF-8 sequence */
    char small[4];
    assert_int_equal(kc_value_fold("Hà Nội", small, sizeof small), 6);
    assert_string_equal(small, "ha ");
    assert_int_equal(kc_value_fold("a東", small, sizeof small), 4);
    assert_string_equal(small, "a"); /* 東 (3 bytes) did not fit */
    assert_int_equal(kc_value_fold("abc", small, 0), 3);
    assert_int_equal(kc_value_fold("abc", small, 1), 3);
    assert_string_equal(small, "");
}

/* ---- columns ---------------------------------------------------------- */

static const char *const s_columns[] = {
    "event_id",       "province",   "year",        "month",     "activity",         "kind",
    "fund",           "amount_vnd", "revenue_vnd", "persons",   "persons_employed", "facilities",
    "facility_turns", "products",   "events",      "delegates", "projects",         "note",
    "corrects"};
#define N_COLUMNS (sizeof s_columns / sizeof s_columns[0])

static bool s_known_column(const char *c)
{
    for (size_t i = 0; i < N_COLUMNS; i++)
        if (strcmp(s_columns[i], c) == 0)
            return true;
    return false;
}

/* Calls fn(f0, f1, f2) for each data row of an embedded TSV. */
static size_t s_rows(const char *tsv, void (*fn)(char **f, int n))
{
    char *copy = strdup(tsv);
    assert_non_null(copy);
    size_t rows = 0;
    bool header = false;
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#')
            continue;
        char *f[3] = {line, NULL, NULL};
        int n = 1;
        for (char *tab; n < 3 && (tab = strchr(f[n - 1], '\t'));) {
            *tab = '\0';
            f[n++] = tab + 1;
        }
        if (!header) {
            header = true;
            continue;
        }
        fn(f, n);
        rows++;
    }
    free(copy);
    return rows;
}

static bool s_alias_seen[N_COLUMNS];

static void s_column_row(char **f, int n)
{
    assert_int_equal(n, 2);
    if (!s_known_column(f[0]))
        fail_msg("columns.tsv: '%s' is not a column of the contract", f[0]);
    const char *col = NULL;
    kc_value_hint_t h;
    if (kc_value_column(f[1], &col, &h) != KC_VALUE_OK || strcmp(col, f[0]) != 0)
        fail_msg("alias '%s' -> '%s', not '%s'", f[1], col ? col : "(none)", f[0]);
    assert_int_equal(h.reason, KC_VALUE_OK);
    /* without diacritics, upper case, padded */
    char bare[256];
    snprintf(bare, sizeof bare, "  %s ", s_fold(f[1]));
    for (char *p = bare; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    assert_int_equal(kc_value_column(bare, &col, NULL), KC_VALUE_OK);
    assert_string_equal(col, f[0]);
    for (size_t i = 0; i < N_COLUMNS; i++)
        if (strcmp(s_columns[i], f[0]) == 0)
            s_alias_seen[i] = true;
}

static void test_columns(void **state)
{
    (void)state;
    assert_true(s_rows(kc_ref_columns_tsv, s_column_row) >= 40);
    for (size_t i = 0; i < N_COLUMNS; i++) {
        if (!s_alias_seen[i])
            fail_msg("column %s has no alias in columns.tsv", s_columns[i]);
        const char *col = NULL;
        assert_int_equal(kc_value_column(s_columns[i], &col, NULL), KC_VALUE_OK);
        assert_string_equal(col, s_columns[i]);
    }
    /* every metric has a Vietnamese header */
    for (int m = 0; m < KC_METRIC_COUNT; m++)
        assert_true(s_known_column(kc_ref_metric(m)->name));
    /* the headers of issue 15 */
    static const char *const issue[][2] = {
        {"Mã tỉnh", "province"},
        {"Tỉnh/thành phố", "province"},
        {"Năm", "year"},
        {"Tháng", "month"},
        {"Nội dung hoạt động", "activity"},
        {"Kinh phí (đồng)", "amount_vnd"},
        {"Số người được đào tạo", "persons"},
        {"KINH PHI (DONG)", "amount_vnd"},
        {"Mã sự kiện", "event_id"},
        {"ID", "event_id"},
        {"Amount_VND", "amount_vnd"},
        {"Tỉnh, thành phố", "province"},
        {"Ghi chú", "note"},
        {"Sửa cho", "corrects"},
    };
    for (size_t i = 0; i < sizeof issue / sizeof issue[0]; i++) {
        const char *col = NULL;
        assert_int_equal(kc_value_column(issue[i][0], &col, NULL), KC_VALUE_OK);
        assert_string_equal(col, issue[i][1]);
    }
    const char *col = "x";
    kc_value_hint_t h;
    assert_int_equal(kc_value_column("  ", &col, &h), KC_VALUE_EMPTY);
    assert_null(col);
    assert_int_equal(kc_value_column("Kinh phi dongg", &col, &h), KC_VALUE_UNKNOWN);
    assert_null(col);
    assert_int_equal(h.reason, KC_VALUE_UNKNOWN);
    assert_string_equal(h.suggest.value, "amount_vnd");
    assert_int_equal(kc_value_column("event_id;province;year", &col, &h), KC_VALUE_UNKNOWN);
    assert_int_equal(kc_value_column("Số người có việc làm", &col, NULL), KC_VALUE_OK);
    assert_string_equal(col, "persons_employed");
    kc_value_item_t items[64];
    assert_int_equal(kc_value_list(KC_VF_COLUMN, 0, items, 64), N_COLUMNS);
    assert_string_equal(items[0].value, "event_id");
    assert_string_equal(items[0].label, "Mã hoạt động");
}

/* ---- numbers ---------------------------------------------------------- */

static void s_int_ok(const char *cell, int64_t want)
{
    int64_t v = 12345;
    kc_value_hint_t h;
    kc_value_reason_t r = kc_value_int(cell, &v, &h);
    if (r != KC_VALUE_OK || v != want)
        fail_msg("'%s' -> reason %d value %lld, want %lld", cell, (int)r, (long long)v,
                 (long long)want);
    assert_int_equal(h.reason, KC_VALUE_OK);
}

static kc_value_hint_t s_int_bad(const char *cell, kc_value_reason_t want)
{
    int64_t v = 12345;
    kc_value_hint_t h;
    kc_value_reason_t r = kc_value_int(cell, &v, &h);
    if (r != want)
        fail_msg("'%s' -> reason %d, want %d", cell, (int)r, (int)want);
    assert_int_equal(h.reason, want);
    assert_int_equal(v, 12345); /* untouched */
    return h;
}

static void test_numbers(void **state)
{
    (void)state;
    s_int_ok("1200000000", 1200000000);
    s_int_ok("1.200.000.000", 1200000000);
    s_int_ok("1,200,000,000", 1200000000);
    s_int_ok("1 200 000 000", 1200000000);
    s_int_ok("1\xC2\xA0"
             "200\xC2\xA0"
             "000\xC2\xA0"
             "000",
             1200000000); /* NBSP */
    s_int_ok("1\xE2\x80\xAF"
             "200",
             1200); /* U+202F */
    s_int_ok("350000000.00", 350000000);
    s_int_ok("350000000,0", 350000000);
    s_int_ok("350.000.000,00", 350000000);
    s_int_ok("350,000,000.00", 350000000);
    s_int_ok("1 200,00", 1200);
    s_int_ok("1 200.000", 1200); /* spaces group: the one '.' is the decimal point */
    s_int_ok("-5", -5);
    s_int_ok(" 92", 92);
    s_int_ok("92 \t", 92);
    s_int_ok("\xC2\xA0"
             "92\xC2\xA0",
             92);
    s_int_ok("0", 0);
    s_int_ok("007", 7);
    s_int_ok("1234.000", 1234); /* a 4-digit first group: one reading only */
    s_int_ok("0.000", 0);
    s_int_ok("1.00", 1);
    s_int_ok("9223372036854775807", INT64_MAX);
    s_int_ok("-9223372036854775808", INT64_MIN);
    s_int_ok("9.223.372.036.854.775.807", INT64_MAX);
    s_int_ok("-9,223,372,036,854,775,808.000", INT64_MIN);

    /* one separator, three digits after: thousands or decimal? never guessed */
    kc_value_hint_t h = s_int_bad("1.200", KC_VALUE_AMBIGUOUS);
    assert_int_equal(h.sep, '.');
    assert_int_equal(h.grouped, 1200);
    assert_string_equal(h.decimal, "1.2");
    h = s_int_bad("1,200", KC_VALUE_AMBIGUOUS);
    assert_int_equal(h.sep, ',');
    assert_int_equal(h.grouped, 1200);
    assert_string_equal(h.decimal, "1.2");
    h = s_int_bad("-12.000", KC_VALUE_AMBIGUOUS);
    assert_int_equal(h.grouped, -12000);
    assert_string_equal(h.decimal, "-12");
    h = s_int_bad(" 999,999 ", KC_VALUE_AMBIGUOUS);
    assert_int_equal(h.grouped, 999999);
    assert_string_equal(h.decimal, "999.999");
    h = s_int_bad("1.001", KC_VALUE_AMBIGUOUS);
    assert_string_equal(h.decimal, "1.001");

    /* a non-zero fraction */
    s_int_bad("1.5", KC_VALUE_FRACTION);
    s_int_bad("1,5", KC_VALUE_FRACTION);
    s_int_bad("0.500", KC_VALUE_FRACTION); /* a leading 0 cannot group: decimal */
    s_int_bad("1.20", KC_VALUE_FRACTION);
    s_int_bad("1234.500", KC_VALUE_FRACTION);
    s_int_bad("350.000.000,50", KC_VALUE_FRACTION);
    s_int_bad("350,000,000.01", KC_VALUE_FRACTION);
    s_int_bad("1 200,5", KC_VALUE_FRACTION);

    /* overflow */
    s_int_bad("9223372036854775808", KC_VALUE_OVERFLOW);
    s_int_bad("-9223372036854775809", KC_VALUE_OVERFLOW);
    s_int_bad("99999999999999999999999999", KC_VALUE_OVERFLOW);
    s_int_bad("9.223.372.036.854.775.808", KC_VALUE_OVERFLOW);

    /* malformed grouping */
    h = s_int_bad("1.20.000", KC_VALUE_BAD_GROUPING);
    assert_int_equal(h.offset, 1);
    h = s_int_bad("1,2,3", KC_VALUE_BAD_GROUPING);
    assert_int_equal(h.offset, 1);
    h = s_int_bad("1234.567.890", KC_VALUE_BAD_GROUPING);
    assert_int_equal(h.offset, 4);
    h = s_int_bad("1.200 000", KC_VALUE_BAD_GROUPING); /* mixed grouping */
    assert_int_equal(h.offset, 1);
    s_int_bad("1.200,000,00", KC_VALUE_BAD_GROUPING); /* the last (decimal) kind twice */
    s_int_bad("1,000.000,00", KC_VALUE_BAD_GROUPING);
    s_int_bad("1.000,00 0", KC_VALUE_BAD_GROUPING);
    s_int_bad("1..000", KC_VALUE_BAD_GROUPING);
    h = s_int_bad("5.", KC_VALUE_BAD_GROUPING);
    assert_int_equal(h.offset, 1);
    s_int_bad("1  200", KC_VALUE_BAD_GROUPING);
    s_int_bad("12 34", KC_VALUE_BAD_GROUPING);

    /* not numbers */
    h = s_int_bad("12a", KC_VALUE_NOT_NUMBER);
    assert_int_equal(h.offset, 2);
    h = s_int_bad("  x", KC_VALUE_NOT_NUMBER);
    assert_int_equal(h.offset, 2);
    s_int_bad("-", KC_VALUE_NOT_NUMBER);
    s_int_bad("+5", KC_VALUE_NOT_NUMBER);
    s_int_bad("--5", KC_VALUE_NOT_NUMBER);
    s_int_bad(".5", KC_VALUE_NOT_NUMBER);
    s_int_bad("1e6", KC_VALUE_NOT_NUMBER);
    s_int_bad("5 đồng", KC_VALUE_NOT_NUMBER);
    s_int_bad("1\xC2", KC_VALUE_NOT_NUMBER);
    s_int_bad("1\xE2\x80", KC_VALUE_NOT_NUMBER);
    s_int_bad("", KC_VALUE_EMPTY);
    s_int_bad(" \t\xC2\xA0 ", KC_VALUE_EMPTY);
}

/* ---- provinces -------------------------------------------------------- */

static void s_prov_ok(const char *cell, int32_t yyyymm, const kc_province_t *want)
{
    const kc_province_t *p = NULL;
    kc_value_hint_t h;
    kc_value_reason_t r = kc_value_province(cell, yyyymm, &p, &h);
    if (r != KC_VALUE_OK || p != want)
        fail_msg("'%s' in %d -> reason %d %s, want %s (%d)", cell, yyyymm, (int)r,
                 p ? p->name : "(none)", want->name, want->scheme);
}

static void test_provinces_every_one(void **state)
{
    (void)state;
    size_t n63 = 0, n34 = 0;
    for (size_t i = 0; i < kc_ref_province_count(); i++) {
        const kc_province_t *p = kc_ref_province_at(i);
        *(p->scheme == 63 ? &n63 : &n34) += 1;
        int32_t periods[] = {p->valid_from, p->scheme == 63 ? p->valid_to : 203012};
        for (size_t k = 0; k < 2; k++) {
            int32_t t = periods[k];
            char buf[128];
            s_prov_ok(p->name, t, p);
            s_prov_ok(p->code_str, t, p);
            snprintf(buf, sizeof buf, " %d ", p->code);
            s_prov_ok(buf, t, p); /* Excel dropped the leading zero */
            s_prov_ok(s_fold(p->name), t, p);
            snprintf(buf, sizeof buf, "Tỉnh %s", p->name);
            s_prov_ok(buf, t, p);
            snprintf(buf, sizeof buf, "TP. %s", p->name);
            s_prov_ok(buf, t, p);
            snprintf(buf, sizeof buf, "thanh pho %s", s_fold(p->name));
            s_prov_ok(buf, t, p);
        }
    }
    assert_int_equal(n63, 63);
    assert_int_equal(n34, 34);
    kc_value_item_t items[100];
    assert_int_equal(kc_value_list(KC_VF_PROVINCE, 202506, items, 100), 63);
    assert_int_equal(kc_value_list(KC_VF_PROVINCE, 202507, items, 100), 34);
    assert_string_equal(items[0].value, "01");
    assert_string_equal(items[0].label, "Hà Nội");
}

static void test_provinces_forms(void **state)
{
    (void)state;
    const kc_province_t *hcm = kc_ref_province(63, 79), *ct = kc_ref_province(63, 92);
    s_prov_ok("Cần Thơ", 202201, ct);
    s_prov_ok("can tho", 202201, ct);
    s_prov_ok("CAN THO", 202201, ct);
    s_prov_ok("TP. Hồ Chí Minh", 202201, hcm);
    s_prov_ok("TP.Hồ Chí Minh", 202201, hcm);
    s_prov_ok("Thành phố Hồ Chí Minh", 202201, hcm);
    s_prov_ok("TP Ho Chi Minh", 202201, hcm);
    s_prov_ok("Hồ Chí Minh", 202201, hcm);
    s_prov_ok("Tp. Hồ Chí Minh", 202601, kc_ref_province(34, 79));
    s_prov_ok("1", 202201, kc_ref_province(63, 1));
    s_prov_ok(" 79 ", 202201, hcm);
    s_prov_ok("Ba Ria Vung Tau", 202201, kc_ref_province(63, 77));
    s_prov_ok("Bà Rịa-Vũng Tàu", 202201, kc_ref_province(63, 77));
    /* Gia Lai: 64 in scheme 63, 52 in scheme 34 */
    s_prov_ok("Gia Lai", 202506, kc_ref_province(63, 64));
    s_prov_ok("Gia Lai", 202507, kc_ref_province(34, 52));

    const kc_province_t *p = (const void *)1;
    kc_value_hint_t h;
    /* a scheme-63 name after the merger: the unit it merged into */
    assert_int_equal(kc_value_province("Bình Dương", 202508, &p, &h), KC_VALUE_OTHER_SCHEME);
    assert_null(p);
    assert_int_equal(h.scheme, 34);
    assert_ptr_equal(h.other, kc_ref_province(63, 74));
    assert_ptr_equal(h.successor, kc_ref_province(34, 79));
    assert_int_equal(kc_value_province("Thừa Thiên Huế", 202508, &p, &h), KC_VALUE_OTHER_SCHEME);
    assert_ptr_equal(h.successor, kc_ref_province(34, 46));
    /* a scheme-63 code after the merger */
    assert_int_equal(kc_value_province("02", 202601, &p, &h), KC_VALUE_OTHER_SCHEME);
    assert_ptr_equal(h.other, kc_ref_province(63, 2));
    assert_ptr_equal(h.successor, kc_ref_province(34, 8));
    /* a scheme-34 name before it */
    assert_int_equal(kc_value_province("Huế", 202412, &p, &h), KC_VALUE_OTHER_SCHEME);
    assert_int_equal(h.scheme, 63);
    assert_ptr_equal(h.other, kc_ref_province(34, 46));
    assert_null(h.successor);
    /* unknown */
    assert_int_equal(kc_value_province("03", 202201, &p, &h), KC_VALUE_UNKNOWN);
    assert_null(h.suggest.value);
    assert_int_equal(kc_value_province("100", 202201, &p, &h), KC_VALUE_UNKNOWN);
    assert_int_equal(kc_value_province("0", 202201, &p, &h), KC_VALUE_UNKNOWN);
    assert_int_equal(kc_value_province("Can Thoo", 202201, &p, &h), KC_VALUE_UNKNOWN);
    assert_string_equal(h.suggest.value, "92");
    assert_string_equal(h.suggest.label, "Cần Thơ");
    assert_int_equal(kc_value_province("TP. Ho Chi Mnh", 202601, &p, &h), KC_VALUE_UNKNOWN);
    assert_string_equal(h.suggest.value, "79");
    assert_int_equal(kc_value_province("HCM", 202201, &p, &h), KC_VALUE_UNKNOWN); /* not in data */
    assert_int_equal(kc_value_province(" ", 202201, &p, &h), KC_VALUE_EMPTY);
    assert_int_equal(kc_value_province("Tỉnh", 202201, &p, &h), KC_VALUE_UNKNOWN);
}

/* ---- activities, kind and fund ---------------------------------------- */

static void test_activities(void **state)
{
    (void)state;
    for (size_t i = 0; i < kc_ref_activity_count(); i++) {
        const kc_activity_t *a = kc_ref_activity_at(i);
        const char *forms[] = {a->code, a->name, a->label_vi, a->label_en, s_fold(a->label_vi)};
        char buf[256];
        for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
            snprintf(buf, sizeof buf, "%s", forms[k]);
            const kc_activity_t *got = NULL;
            if (kc_value_activity(buf, &got, NULL) != KC_VALUE_OK || got != a)
                fail_msg("'%s' -> %s, want %s", buf, got ? got->name : "(none)", a->name);
            for (char *p = buf; *p; p++) /* upper case ASCII */
                if (*p >= 'a' && *p <= 'z')
                    *p = (char)(*p - 'a' + 'A');
            assert_int_equal(kc_value_activity(buf, &got, NULL), KC_VALUE_OK);
            assert_ptr_equal(got, a);
        }
    }
    const kc_activity_t *a = NULL;
    assert_int_equal(kc_value_activity("kc3b", &a, NULL), KC_VALUE_OK);
    assert_string_equal(a->name, "machinery");
    assert_int_equal(kc_value_activity("  Ứng dụng máy móc tiên tiến ", &a, NULL), KC_VALUE_OK);
    assert_string_equal(a->name, "machinery");
    assert_int_equal(kc_value_activity("vocational training", &a, NULL), KC_VALUE_OK);
    assert_string_equal(a->name, "vocational_training");
    kc_value_hint_t h;
    assert_int_equal(kc_value_activity("machinary", &a, &h), KC_VALUE_UNKNOWN);
    assert_null(a);
    assert_string_equal(h.suggest.value, "machinery");
    assert_string_equal(h.suggest.label, "Ứng dụng máy móc tiên tiến");
    assert_int_equal(kc_value_activity("Ung dung may moc tien tein", &a, &h), KC_VALUE_UNKNOWN);
    assert_string_equal(h.suggest.value, "machinery");
    assert_int_equal(kc_value_activity("Hoi cho trien lam", &a, &h), KC_VALUE_OK);
    assert_string_equal(a->name, "trade_fair");
    assert_int_equal(kc_value_activity("quantum computing", &a, &h), KC_VALUE_UNKNOWN);
    assert_null(h.suggest.value);
    assert_int_equal(kc_value_activity("", &a, &h), KC_VALUE_EMPTY);
    kc_value_item_t items[32];
    assert_int_equal(kc_value_list(KC_VF_ACTIVITY, 0, items, 32), kc_ref_activity_count());
    assert_string_equal(items[3].value, "machinery");
    assert_string_equal(items[3].label, "Ứng dụng máy móc tiên tiến");
}

static void s_word_row(char **f, int n)
{
    assert_int_equal(n, 3);
    kc_value_field_t field = strcmp(f[0], "kind") == 0 ? KC_VF_KIND : KC_VF_FUND;
    const char *v = NULL;
    assert_int_equal(kc_value_word(field, f[2], &v, NULL), KC_VALUE_OK);
    assert_string_equal(v, f[1]);
    assert_int_equal(kc_value_word(field, s_fold(f[2]), &v, NULL), KC_VALUE_OK);
    assert_string_equal(v, f[1]);
    assert_int_equal(kc_value_word(field, f[1], &v, NULL), KC_VALUE_OK);
    assert_string_equal(v, f[1]);
}

static void test_words(void **state)
{
    (void)state;
    assert_true(s_rows(kc_ref_values_tsv, s_word_row) >= 10);
    static const char *const cases[][3] = {
        {"kind", "actual", "actual"},
        {"kind", "Thực hiện", "actual"},
        {"kind", "PLAN", "plan"},
        {"kind", "kế hoạch", "plan"},
        {"kind", "correction", "correction"},
        {"kind", "retraction", "retraction"},
        {"fund", "KCQG", "kcqg"},
        {"fund", "KCĐP", "kcdp"},
        {"fund", "kcđp", "kcdp"},
        {"fund", "kcdp", "kcdp"},
        {"fund", "Khác", "other"},
        {"fund", "other", "other"},
        {"fund", "Khuyến công địa phương", "kcdp"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        kc_value_field_t f = strcmp(cases[i][0], "kind") == 0 ? KC_VF_KIND : KC_VF_FUND;
        const char *v = NULL;
        assert_int_equal(kc_value_word(f, cases[i][1], &v, NULL), KC_VALUE_OK);
        assert_string_equal(v, cases[i][2]);
    }
    const char *v = "x";
    kc_value_hint_t h;
    assert_int_equal(kc_value_word(KC_VF_KIND, "kcqg", &v, &h), KC_VALUE_UNKNOWN); /* a fund */
    assert_null(v);
    assert_int_equal(kc_value_word(KC_VF_FUND, "plan", &v, &h), KC_VALUE_UNKNOWN);
    assert_int_equal(kc_value_word(KC_VF_KIND, "actaul", &v, &h), KC_VALUE_UNKNOWN);
    assert_string_equal(h.suggest.value, "actual");
    assert_int_equal(kc_value_word(KC_VF_KIND, "", &v, &h), KC_VALUE_EMPTY);
    assert_int_equal(kc_value_word(KC_VF_COLUMN, "year", &v, &h), KC_VALUE_UNKNOWN);
    kc_value_item_t items[8];
    assert_int_equal(kc_value_list(KC_VF_KIND, 0, items, 8), 4);
    assert_int_equal(kc_value_list(KC_VF_FUND, 0, items, 8), 3);
    assert_string_equal(items[0].value, "kcqg");
    assert_int_equal(kc_value_list(KC_VF_FUND, 0, NULL, 0), 3);
}

static void test_suggest(void **state)
{
    (void)state;
    kc_value_item_t it;
    assert_true(kc_value_suggest(KC_VF_ACTIVITY, "machinary", 0, &it));
    assert_string_equal(it.value, "machinery");
    assert_string_equal(it.label, "Ứng dụng máy móc tiên tiến");
    assert_true(kc_value_suggest(KC_VF_ACTIVITY, "macihnery", 0, &it)); /* a transposition */
    assert_string_equal(it.value, "machinery");
    assert_true(kc_value_suggest(KC_VF_ACTIVITY, "Hội chợ triễn lãm", 0, &it));
    assert_string_equal(it.value, "trade_fair");
    assert_true(kc_value_suggest(KC_VF_COLUMN, "provnce", 0, &it));
    assert_string_equal(it.value, "province");
    assert_true(kc_value_suggest(KC_VF_COLUMN, "Nam", 0, &it)); /* exact after folding */
    assert_string_equal(it.value, "year");
    assert_true(kc_value_suggest(KC_VF_PROVINCE, "TP. Đà Nẳng", 202601, &it));
    assert_string_equal(it.value, "48");
    assert_true(kc_value_suggest(KC_VF_PROVINCE, "Hue", 202601, &it));
    assert_string_equal(it.value, "46");
    assert_true(kc_value_suggest(KC_VF_FUND, "kcgq", 0, &it));
    assert_string_equal(it.value, "kcqg");
    assert_false(kc_value_suggest(KC_VF_ACTIVITY, "zzzzzzzzzzzz", 0, &it));
    assert_false(kc_value_suggest(KC_VF_ACTIVITY, "", 0, &it));
    assert_false(kc_value_suggest(KC_VF_COLUMN, "q", 0, &it));
    char longcell[300];
    memset(longcell, 'a', sizeof longcell - 1);
    longcell[sizeof longcell - 1] = '\0';
    assert_false(kc_value_suggest(KC_VF_ACTIVITY, longcell, 0, &it));
    assert_false(kc_value_suggest(KC_VF_COUNT, "machinery", 0, &it));
    assert_int_equal(kc_value_list(KC_VF_COUNT, 0, NULL, 0), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold),
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_provinces_every_one),
        cmocka_unit_test(test_provinces_forms),
        cmocka_unit_test(test_activities),
        cmocka_unit_test(test_words),
        cmocka_unit_test(test_suggest),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
