/* replay_text_test.c - kc-replay's failure message quotes a logged event_id:
 * in display form (kc_text.h), never the raw bytes an older kcpipe stored.
 * A log of two records with the same province and event_id (an ESC sequence
 * and an invalid byte) but other contents, written directly with the store
 * API, is inconsistent (the second would be event_id_conflict): `kc-replay
 * verify` exits 1 naming the offset and the id, and neither its stdout nor
 * its stderr (the message and its log line) carries a raw control byte.
 */
#include "../store/old_text_util.h"
#include "../store/store_test_util.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#define S_ID       "EV-\x1b[2J\xff"
#define S_ID_SHOWN "EV-\\x1B[2J\\xFF"

static int s_fill(kc_txn_t *t, void *ctx)
{
    (void)ctx;
    for (int i = 0; i < 2; i++) {
        uint8_t ev[T_OLD_EVENT_MAX];
        size_t n = t_old_event(ev, sizeof ev, S_ID, "p-79", (uint64_t)i + 1, NULL, 1000 + i);
        kc_log_entry_t e = {.received_ns = T_OLD_RECEIVED + (uint64_t)i,
                            .epoch = 1,
                            .seq = (uint64_t)i + 1,
                            .producer = "p-79",
                            .producer_len = 4,
                            .event = ev,
                            .event_len = n};
        int rc = n ? kc_txn_log_append(t, &e, NULL) : KC_EINVAL;
        if (rc != 0)
            return rc;
    }
    return 0;
}

static void test_verify_message(void **state)
{
    (void)state;
    kc_test_dir_t d;
    kc_test_dir_make(&d);
    kc_store_t *s = NULL;
    assert_int_equal(kc_store_open(&s, d.store, NULL), 0);
    assert_int_equal(kc_store_write(s, s_fill, NULL), 0);
    kc_store_close(&s);
    char bin[4096];
    char *argv[] = {
        t_bin(bin, sizeof bin, "kc-replay"), "verify", "--store", d.store, "--quiet", NULL};
    t_exec_t r;
    assert_int_equal(t_exec(argv, 60000, &r), 0);
    if (r.status != 1 || !t_clean_text(r.out, r.out_len) || !t_clean_text(r.err, r.err_len))
        fail_msg("kc-replay verify: exit %d, stdout:\n%s\nstderr:\n%s", r.status, r.out, r.err);
    if (!strstr(r.err, "inconsistent at offset 1") || !strstr(r.err, "'" S_ID_SHOWN "'"))
        fail_msg("kc-replay verify said:\n%s", r.err);
    t_exec_free(&r);
    kc_test_dir_remove(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_verify_message)};
    return cmocka_run_group_tests_name("replay_text", tests, NULL, NULL);
}
