/* audit_text_test.c - kc-audit on a store an older kcpipe wrote with any bytes
 * in producer ids and event_ids (tests/store/old_text_util.h): history in JSON
 * exits 0 with valid UTF-8 JSON (it used to exit 74 "out of memory"), the
 * table and every message reach the terminal without a raw control byte, the
 * display form of an event_id given back to --event finds it, and a proof of
 * such an entry is valid JSON that check-proof accepts, naming the producer in
 * display form. */
#include "../store/old_text_util.h"
#include "../store/store_test_util.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static kc_test_dir_t s_dir;

static int s_setup(void **state)
{
    (void)state;
    kc_test_dir_make(&s_dir);
    return t_old_text_store(s_dir.store) == 0 ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    kc_test_dir_remove(&s_dir);
    return 0;
}

/* kc-audit --store <store> args... (NULL-terminated) into *r. */
#define AUDIT(r, ...) t_run(r, "kc-audit", "--store", s_dir.store, __VA_ARGS__)

/* Both outputs are clean text; stdout parses as JSON (jansson refuses
 * invalid UTF-8). */
static json_t *s_json_out(const t_exec_t *r)
{
    if (!t_exec_clean(r))
        fail_msg("exit %d, stdout:\n%s\nstderr:\n%s", r->status, r->out, r->err);
    json_t *j = t_exec_json(r);
    assert_non_null(j);
    return j;
}

static const char *s_str(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    if (!v)
        fail_msg("no string \"%s\"", key);
    return v;
}

/* The history document of the chain record -> correction. */
static void s_check_history(json_t *j)
{
    assert_string_equal(s_str(j, "event_id"), T_OLD_EV_BAD_SHOWN);
    json_t *chains = json_object_get(j, "chains");
    assert_int_equal(json_array_size(chains), 1);
    json_t *v = json_array_get(chains, 0);
    assert_int_equal(json_array_size(v), 2);
    assert_string_equal(s_str(json_array_get(v, 0), "event_id"), T_OLD_EV_BAD_SHOWN);
    assert_string_equal(s_str(json_array_get(v, 0), "op"), "record");
    assert_string_equal(s_str(json_array_get(v, 0), "state"), "superseded");
    assert_string_equal(s_str(json_array_get(v, 1), "event_id"), T_OLD_EV_CTL_SHOWN);
    assert_string_equal(s_str(json_array_get(v, 1), "op"), "correction");
    assert_string_equal(s_str(json_array_get(v, 1), "state"), "live");
}

static void test_history_json(void **state)
{
    (void)state;
    t_exec_t r;
    AUDIT(&r, "history", "--province", "79", "--event", T_OLD_EV_BAD, "--format", "json", NULL);
    json_t *j = s_json_out(&r);
    s_check_history(j);
    json_decref(j);
    t_exec_free(&r);
    /* the same chain from its other version, an id with an OSC sequence */
    AUDIT(&r, "history", "--province", "79", "--event", T_OLD_EV_CTL, "--format", "json", NULL);
    j = s_json_out(&r);
    assert_string_equal(s_str(j, "event_id"), T_OLD_EV_CTL_SHOWN);
    assert_int_equal(json_array_size(json_array_get(json_object_get(j, "chains"), 0)), 2);
    json_decref(j);
    t_exec_free(&r);
}

static void test_history_display_form_lookup(void **state)
{
    (void)state;
    t_exec_t r;
    /* the id as history printed it (backslash, x, hex digits) finds the stored bytes */
    AUDIT(&r, "history", "--province", "79", "--event", T_OLD_EV_BAD_SHOWN, "--format", "json",
          NULL);
    json_t *j = s_json_out(&r);
    s_check_history(j);
    json_decref(j);
    t_exec_free(&r);
    AUDIT(&r, "history", "--province", "79", "--event", "EV-\\xff\\xfe", "--format", "json",
          NULL); /* lower-case hex too */
    j = s_json_out(&r);
    s_check_history(j);
    json_decref(j);
    t_exec_free(&r);
}

static void test_history_table(void **state)
{
    (void)state;
    t_exec_t r;
    AUDIT(&r, "history", "--province", "79", "--event", T_OLD_EV_BAD, NULL);
    if (!t_exec_clean(&r))
        fail_msg("exit %d, stdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
    assert_non_null(strstr(r.out, T_OLD_EV_BAD_SHOWN));
    assert_non_null(strstr(r.out, T_OLD_EV_CTL_SHOWN));
    t_exec_free(&r);
}

static void test_messages(void **state)
{
    (void)state;
    t_exec_t r;
    /* an unknown id with an ESC sequence is echoed in display form */
    AUDIT(&r, "history", "--province", "79", "--event", "NO\x1b[2J\xff", NULL);
    assert_int_equal(r.status, 65);
    assert_true(t_clean_text(r.err, r.err_len));
    assert_non_null(strstr(r.err, "NO\\x1B[2J\\xFF"));
    t_exec_free(&r);
    AUDIT(&r, "prove", "--province", "79", "--event", "NO\x1b[2J\xff", NULL);
    assert_int_equal(r.status, 65);
    assert_true(t_clean_text(r.err, r.err_len));
    assert_non_null(strstr(r.err, "NO\\x1B[2J\\xFF"));
    t_exec_free(&r);
}

/* prove (by event_id, raw or shown, or by offset: a1..a4, NULL after the last)
 * and check-proof: the VALID line names the producer in display form. */
static void s_prove_check(const char *producer_shown, const char *a1, const char *a2,
                          const char *a3, const char *a4)
{
    char proof[PATH_MAX + 32], pk[80];
    snprintf(proof, sizeof proof, "%s/proof.json", s_dir.root);
    remove(proof);
    t_exec_t r;
    AUDIT(&r, "prove", "--out", proof, a1, a2, a3, a4, NULL);
    if (r.status != 0)
        fail_msg("prove: exit %d: %s%s", r.status, r.out, r.err);
    t_exec_free(&r);
    json_error_t je;
    json_t *j = json_load_file(proof, 0, &je);
    if (!j)
        fail_msg("the proof is not JSON: %s", je.text);
    json_t *ev = json_object_get(j, "event");
    if (ev)
        assert_string_equal(s_str(ev, "event_id"), T_OLD_EV_BAD_SHOWN);
    snprintf(pk, sizeof pk, "%s", s_str(j, "public_key"));
    json_decref(j);
    t_run(&r, "kc-audit", "check-proof", proof, "--key", pk, NULL);
    if (!t_exec_clean(&r))
        fail_msg("check-proof: exit %d:\n%s%s", r.status, r.out, r.err);
    char want[256];
    snprintf(want, sizeof want, "(producer %s, seq 1,", producer_shown);
    if (strncmp(r.out, "VALID:", 6) != 0 || !strstr(r.out, want))
        fail_msg("check-proof said:\n%s(expected %s)", r.out, want);
    t_exec_free(&r);
}

static void test_prove_and_check(void **state)
{
    (void)state;
    s_prove_check(T_OLD_PROD_BAD_SHOWN, "--province", "79", "--event", T_OLD_EV_BAD);
    s_prove_check(T_OLD_PROD_BAD_SHOWN, "--province", "79", "--event", T_OLD_EV_BAD_SHOWN);
    s_prove_check(T_OLD_PROD_CTL_SHOWN, "--offset", "1", NULL, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_json),    cmocka_unit_test(test_history_display_form_lookup),
        cmocka_unit_test(test_history_table),   cmocka_unit_test(test_messages),
        cmocka_unit_test(test_prove_and_check),
    };
    return cmocka_run_group_tests_name("audit_text", tests, s_setup, s_teardown);
}
