/* json_test.c - exact JSON integers of any size (common/kc_json.h).
 *
 * kc_json_dumps() must write exactly json_dumps()'s text for every document
 * and flag set, except that a big-integer node is written as its bare
 * digits; no string or key reachable from outside can pose as one; and plain
 * json_dumps() refuses a document that holds one.
 */
#include "kc_json.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#define PAIR ((kc_i128)INT64_MAX + 5) /* 9223372036854775812 */

static const size_t s_flags[] = {
    0,
    JSON_COMPACT,
    JSON_INDENT(2) | JSON_REAL_PRECISION(10),
    JSON_COMPACT | JSON_REAL_PRECISION(10),
    JSON_INDENT(1) | JSON_SORT_KEYS,
    JSON_INDENT(3) | JSON_ENSURE_ASCII | JSON_ESCAPE_SLASH,
    JSON_SORT_KEYS | JSON_COMPACT,
};

static void test_int_nodes(void **state)
{
    (void)state;
    static const kc_i128 vals[] = {0,
                                   -1,
                                   INT64_MAX,
                                   INT64_MIN,
                                   PAIR,
                                   (kc_i128)INT64_MIN - 1,
                                   (kc_i128)1 << 93,
                                   KC_I128_MAX,
                                   KC_I128_MIN};
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        json_t *j = kc_json_int(vals[i]);
        assert_non_null(j);
        assert_int_equal(json_is_integer(j), kc_i128_fits_i64(vals[i]));
        assert_int_equal(kc_json_is_big(j), !kc_i128_fits_i64(vals[i]));
        kc_i128 back = 7;
        assert_true(kc_json_int_value(j, &back));
        assert_true(back == vals[i]);
        char want[KC_I128_DEC];
        kc_i128_str(want, sizeof want, vals[i]);
        char *text = kc_json_dumps(j, JSON_ENCODE_ANY);
        assert_non_null(text);
        assert_string_equal(text, want); /* a bare JSON number */
        free(text);
        json_decref(j);
    }
    kc_i128 v = 0;
    json_t *s = json_string("9223372036854775812");
    assert_false(kc_json_int_value(s, &v)); /* a string stays a string */
    assert_false(kc_json_is_big(s));
    json_decref(s);
}

/* A document shaped like kc-query's, with `big` at several depths. */
static json_t *s_doc(json_t *(*num)(kc_i128), kc_i128 big)
{
    json_t *rows = json_array();
    for (int r = 0; r < 3; r++) {
        json_t *t = json_object();
        json_object_set_new(t, "amount_vnd", num(r == 1 ? big : r));
        json_object_set_new(t, "persons", json_integer(r * 10));
        json_array_append_new(rows, json_pack("{s:s, s:o, s:f, s:n, s:[]}", "key", r ? "79" : "01",
                                              "totals", t, "percent_of_plan", 33.333333333333,
                                              "plan", "empty"));
    }
    json_t *doc = json_pack("{s:s, s:{s:i, s:b, s:{}}, s:o, s:o, s:o, s:[o, i, s]}", "store",
                            "/tmp/a \"quoted\" \\ path/é\x01", "filters", "year", 2024, "plan", 1,
                            "empty", "events", num(big), "totals_total", num(big), "rows", rows,
                            "list", num(big), 5, "x/y");
    assert_non_null(doc);
    return doc;
}

static json_t *s_stand_in(kc_i128 v)
{
    return json_integer(v == PAIR ? 4242424242424242 : (json_int_t)v);
}

static json_t *s_exact(kc_i128 v)
{
    return kc_json_int(v);
}

/* dst = src with every "4242424242424242" replaced by the pair's digits. */
static char *s_replace(const char *src)
{
    const char *from = "4242424242424242", *to = "9223372036854775812";
    char *out = malloc(strlen(src) * 2 + 1), *o = out;
    assert_non_null(out);
    for (const char *p = src; *p;) {
        if (strncmp(p, from, strlen(from)) == 0) {
            memcpy(o, to, strlen(to));
            o += strlen(to);
            p += strlen(from);
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static void test_dumps_equals_jansson(void **state)
{
    (void)state;
    json_t *small = s_doc(s_stand_in, PAIR), *exact = s_doc(s_exact, PAIR),
           *plain = s_doc(s_exact, 12345);
    for (size_t i = 0; i < sizeof s_flags / sizeof *s_flags; i++) {
        size_t fl = s_flags[i];
        /* no big integer: byte for byte json_dumps */
        char *a = kc_json_dumps(plain, fl), *b = json_dumps(plain, fl);
        assert_non_null(a);
        assert_string_equal(a, b);
        free(a);
        free(b);
        /* with big integers: json_dumps of the stand-in, digits in place */
        char *ref = json_dumps(small, fl), *want = s_replace(ref);
        char *got = kc_json_dumps(exact, fl);
        assert_non_null(got);
        if (strcmp(got, want) != 0)
            fail_msg("flags %#zx:\n%s\n---- want:\n%s", fl, got, want);
        free(ref);
        free(want);
        free(got);
        /* plain json_dumps refuses rather than write the node */
        assert_null(json_dumps(exact, fl));
    }
    json_decref(small);
    json_decref(exact);
    json_decref(plain);
    assert_null(kc_json_dumps(NULL, 0));
}

static void test_no_collision(void **state)
{
    (void)state;
    /* the marker key cannot enter through a checked setter or the parser */
    json_t *o = json_object();
    assert_int_equal(json_object_set_new(o, KC_JSON_BIG_KEY, json_string("5")), -1);
    assert_null(json_string(KC_JSON_BIG_KEY));
    assert_null(json_string("\xff"
                            "9223372036854775812")); /* nor the tagged digits */
    json_error_t e;
    assert_null(json_loads("{\"\377kc-int128\":\"\3775\"}", 0, &e));
    /* look-alikes stay what they are */
    json_object_set_new(o, "kc-int128", json_string("5"));
    json_t *lookalike = json_loads("{\"\\u00ffkc-int128\":\"9223372036854775812\"}", 0, &e);
    assert_non_null(lookalike);
    json_t *doc = json_pack("{s:o, s:o, s:s, s:s, s:o}", "a", o, "b", lookalike, "c",
                            "9223372036854775812", "d",
                            "\xc3\xbf"
                            "kc-int128",
                            "e", kc_json_int(PAIR));
    assert_non_null(doc);
    assert_false(kc_json_is_big(o));
    assert_false(kc_json_is_big(lookalike));
    char *text = kc_json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    assert_non_null(text);
    assert_string_equal(text, "{\"a\":{\"kc-int128\":\"5\"},"
                              "\"b\":{\"\xc3\xbf"
                              "kc-int128\":\"9223372036854775812\"},"
                              "\"c\":\"9223372036854775812\","
                              "\"d\":\"\xc3\xbf"
                              "kc-int128\","
                              "\"e\":9223372036854775812}");
    /* jansson's own parser refuses the big number instead of rounding it */
    assert_null(json_loads(text, 0, &e));
    free(text);
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int_nodes),
        cmocka_unit_test(test_dumps_equals_jansson),
        cmocka_unit_test(test_no_collision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
