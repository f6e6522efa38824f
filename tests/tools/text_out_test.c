/* text_out_test.c - outside text in the tools' output (issue 12).
 *
 * Units: kc_json_text (common/kc_jtext.h) gives a JSON string that
 * always dumps, holding kc_text_show's display form (valid text unchanged);
 * kc_text_fit cuts on a whole escape and says so; a kc_table cell with an ESC
 * sequence or invalid bytes is printed in display form. Process: kc-query
 * over a store an older kcpipe filled (tests/store/old_text_util.h) in a
 * directory whose name is not UTF-8 answers valid UTF-8 JSON ("store" shown
 * in display form), where json_string() used to fail.
 */
#include "../store/old_text_util.h"
#include "../store/store_test_util.h"
#include "kc_jtext.h"
#include "kc_table.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

/* j is a string whose value is want, and it dumps (as part of a document). */
static void s_expect(json_t *j, const char *want)
{
    assert_non_null(j);
    assert_string_equal(json_string_value(j), want);
    json_t *doc = json_pack("{s:o}", "v", j);
    assert_non_null(doc);
    char *text = json_dumps(doc, JSON_COMPACT);
    assert_non_null(text);
    json_error_t je;
    json_t *back = json_loads(text, 0, &je);
    assert_non_null(back);
    assert_string_equal(json_string_value(json_object_get(back, "v")), want);
    json_decref(back);
    free(text);
    json_decref(doc);
}

static void test_json_text(void **state)
{
    (void)state;
    s_expect(kc_json_texts("Hồ Chí Minh"), "Hồ Chí Minh"); /* valid: unchanged */
    s_expect(kc_json_texts(T_OLD_EV_BAD), T_OLD_EV_BAD_SHOWN);
    s_expect(kc_json_texts(T_OLD_EV_CTL), T_OLD_EV_CTL_SHOWN);
    s_expect(kc_json_texts(T_OLD_PROD_CTL), T_OLD_PROD_CTL_SHOWN);
    s_expect(kc_json_texts(NULL), "");
    s_expect(kc_json_text("a\0b", 3), "a\\x00b");                 /* a NUL inside: shown, not cut */
    s_expect(kc_json_text("\xed\xa0\x80", 3), "\\xED\\xA0\\x80"); /* a surrogate */
    s_expect(kc_json_text("\xc2\x9b", 2), "\\xC2\\x9B");          /* C1 CSI */
    /* jansson alone refuses the same bytes: the reason for kc_json_text */
    assert_null(json_string(T_OLD_EV_BAD));
}

static void test_text_fit(void **state)
{
    (void)state;
    char buf[8];
    /* "\xFF\xFF\xFF" needs 13 bytes: cut after a whole escape, marked */
    assert_string_equal(kc_text_fit("\xff\xff\xff", 3, buf, sizeof buf), "\\xFF...");
    assert_string_equal(kc_text_fit("abc", 3, buf, sizeof buf), "abc");
    assert_string_equal(kc_text_fit("abcdefg", 7, buf, sizeof buf), "abcdefg");
    assert_string_equal(kc_text_fit("abcdefgh", 8, buf, sizeof buf), "abcd...");
}

static void test_table(void **state)
{
    (void)state;
    kc_table_t *t = kc_table_new(2, 1);
    assert_non_null(t);
    assert_int_equal(kc_table_row(t), 0);
    assert_int_equal(kc_table_set(t, 0, "producer"), 0);
    assert_int_equal(kc_table_set(t, 1, "event_id"), 0);
    assert_int_equal(kc_table_row(t), 0);
    assert_int_equal(kc_table_set(t, 0, T_OLD_PROD_CTL), 0);
    assert_int_equal(kc_table_set(t, 1, T_OLD_EV_CTL), 0);
    assert_int_equal(kc_table_row(t), 0);
    assert_int_equal(kc_table_set(t, 0, "Bà Rịa – Vũng Tàu"), 0);
    assert_int_equal(kc_table_set(t, 1, T_OLD_EV_BAD), 0);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    kc_table_print(t, f);
    fclose(f);
    kc_table_destroy(&t);
    if (!t_clean_text(text, len))
        fail_msg("the table is not clean text:\n%s", text);
    assert_non_null(strstr(text, T_OLD_PROD_CTL_SHOWN));
    assert_non_null(strstr(text, T_OLD_EV_CTL_SHOWN));
    assert_non_null(strstr(text, T_OLD_EV_BAD_SHOWN));
    assert_non_null(strstr(text, "Bà Rịa – Vũng Tàu")); /* valid text unchanged */
    free(text);
}

static void test_query_json(void **state)
{
    (void)state;
    kc_test_dir_t d;
    kc_test_dir_make(&d);
    char store[PATH_MAX + 32];
    snprintf(store, sizeof store, "%s/q\xff\x1b[31m", d.root);
    assert_int_equal(t_old_text_store(store), 0);
    t_exec_t r;
    t_run(&r, "kc-query", "--store", store, "--year", "2025", "--format", "json", NULL);
    if (r.status != 0 || !t_clean_text(r.out, r.out_len))
        fail_msg("kc-query: exit %d:\n%s%s", r.status, r.out, r.err);
    json_t *j = t_exec_json(&r);
    assert_non_null(j);
    assert_true(t_json_ends(j, "store", "/q\\xFF\\x1B[31m"));
    json_decref(j);
    t_exec_free(&r);
    kc_test_dir_remove(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_text),
        cmocka_unit_test(test_text_fit),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_query_json),
    };
    return cmocka_run_group_tests_name("tools_text", tests, NULL, NULL);
}
