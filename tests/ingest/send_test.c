/* send_test.c - the kc-send program against the fake aggregator: exit codes,
 * the rejected lines and the summary line, re-import yielding duplicates; rows
 * breaking the aggregator's admission rules (invalid_text, value_too_large)
 * reported with FILE:LINE and never spooled (the spool read with its API). */
#include "fake_agg.h"
#include "ingest_test_util.h"
#include "kc_event.h"
#include "kc_ref.h"
#include "kc_spool.h"
#include "kcingest.h"

#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

extern char **environ;

/* Run kc-send (it bounds itself with --timeout); stdout goes to out, stderr
 * to err (NULL: /dev/null). */
static int run_send_err(const char *ep, const char *spool, const char *csv, const char *out,
                        const char *err, const char *timeout)
{
    const char *bin = getenv("KC_BIN_DIR");
    char exe[4200];
    snprintf(exe, sizeof exe, "%s/kc-send", bin ? bin : ".");
    char *argv[] = {exe,       "--connect",   (char *)ep,  "--producer",    "p-send",
                    "--spool", (char *)spool, "--timeout", (char *)timeout, "--batch",
                    "4",       (char *)csv,   NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err ? err : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, exe, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
}

static int run_send(const char *ep, const char *spool, const char *csv, const char *out,
                    const char *timeout)
{
    return run_send_err(ep, spool, csv, out, NULL, timeout);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static char buf[8192];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static const char *last_line(char *text)
{
    size_t n = strlen(text);
    while (n && text[n - 1] == '\n')
        text[--n] = '\0';
    char *nl = strrchr(text, '\n');
    return nl ? nl + 1 : text;
}

static void test_send(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("send");
    fake_agg_t *fa = fa_start(FA_NORMAL);
    char ep[128], spool[4200], out[4200];
    snprintf(ep, sizeof ep, "%s", fa_endpoint(fa));
    snprintf(spool, sizeof spool, "%s/spool", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    char *good = kt_write(dir, "good.csv",
                          "event_id,province,year,month,activity,fund,amount_vnd,note\n"
                          "A1,79,2021,1,machinery,kcqg,100,\"x, y\"\n"
                          "A2,79,2021,2,KC3b,kcđp,200,\n"
                          "A3,80,2022,3,trade_fair,,300,\n"
                          "A4,80,2022,4,KC4b,,400,\n"
                          "A5,80,2022,5,KC4b,,500,\n");
    assert_int_equal(run_send(ep, spool, good, out, "20"), 0);
    char *o = slurp(out);
    assert_string_equal(last_line(o), "summary: rows=5 accepted=5 duplicates=0 rejected=0 "
                                      "malformed=0 unacknowledged=0");
    /* the same file again: the aggregator's business dedup answers duplicate */
    assert_int_equal(run_send(ep, spool, good, out, "20"), 0);
    o = slurp(out);
    assert_string_equal(last_line(o), "summary: rows=5 accepted=0 duplicates=5 rejected=0 "
                                      "malformed=0 unacknowledged=0");

    char *bad = kt_write(dir, "bad.csv",
                         "event_id,province,year,month,activity,amount_vnd\n"
                         "B1,79,2021,1,KC1,10\n"
                         "B2,00,2021,1,KC1,10\n"   /* rejected: unknown province */
                         "B3,79,2021,1,KC1,1.5\n"  /* malformed */
                         "B4,79,2021,1,KC1,-1\n"); /* rejected: negative */
    assert_int_equal(run_send(ep, spool, bad, out, "20"), 65);
    o = slurp(out);
    char want[4400];
    snprintf(want, sizeof want, "rejected %s:3 B2: unknown_province: ", bad);
    assert_non_null(strstr(o, want));
    snprintf(want, sizeof want, "rejected %s:5 B4: negative_value: ", bad);
    assert_non_null(strstr(o, want));
    assert_string_equal(last_line(o), "summary: rows=4 accepted=1 duplicates=0 rejected=2 "
                                      "malformed=1 unacknowledged=0");
    fa_stats_t st;
    fa_stop(&fa, &st);
    assert_int_equal(st.counted, 6);

    /* nobody listening: exit 75, the rows stay spooled */
    char *one = kt_write(dir, "one.csv",
                         "event_id,province,year,month,activity,amount_vnd\n"
                         "C1,79,2021,1,KC1,10\n");
    assert_int_equal(run_send(ep, spool, one, out, "0.3"), 75); /* ep is closed now */
    o = slurp(out);
    assert_string_equal(last_line(o), "summary: rows=1 accepted=0 duplicates=0 rejected=0 "
                                      "malformed=0 unacknowledged=1");
    free(good);
    free(bad);
    free(one);
    kt_rmdir(dir);
}

typedef struct {
    char ids[8][80];
    size_t n;
} spooled_t;

static int on_spooled(uint64_t seq, const void *ev, size_t len, void *ctx)
{
    (void)seq;
    spooled_t *s = ctx;
    kc_pb_event_t *pe = kcpipe__v1__event__unpack(NULL, len, ev);
    assert_non_null(pe);
    assert_true(s->n < 8);
    snprintf(s->ids[s->n++], sizeof s->ids[0], "%s", pe->event_id);
    kcpipe__v1__event__free_unpacked(pe, NULL);
    return 0;
}

/* For each text column a row that is not UTF-8 and one with a control
 * character, and metrics at and above their ceiling: kc-send reports each
 * refused row on stderr as FILE:LINE: REASON: ... naming the column or metric,
 * counts it malformed, and spools only the good rows. */
static void test_send_refused(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("send-refused");
    char spool[4200], out[4200], err[4200], csv[8192];
    snprintf(spool, sizeof spool, "%s/spool", dir);
    snprintf(out, sizeof out, "%s/out.txt", dir);
    snprintf(err, sizeof err, "%s/err.txt", dir);
    long long amax = (long long)kc_ref_metric(KCI_AMOUNT_VND)->max;
    long long pmax = (long long)kc_ref_metric(KCI_PERSONS)->max;
    snprintf(csv, sizeof csv,
             "event_id,province,year,month,activity,kind,amount_vnd,persons,note,corrects\n"
             "G1,79,2024,1,KC1,,%lld,%lld,\"tab\tand\r\nline break\",\n" /* 2-3 good */
             "T1,79,2024,1,KC1,,%lld,1,,\n"                              /* 4 */
             "T2,79,2024,1,KC1,,1,%lld,,\n"                              /* 5 */
             "E\xff\xfe,79,2024,1,KC1,,1,1,,\n"                          /* 6 */
             "E\x01,79,2024,1,KC1,,1,1,,\n"                              /* 7 */
             "B3,7\xe1,2024,1,KC1,,1,1,,\n"                              /* 8 */
             "B4,7\x1b,2024,1,KC1,,1,1,,\n"                              /* 9 */
             "B5,79,2024,1,KC\xffx1,,1,1,,\n"                            /* 10 */
             "B6,79,2024,1,KC1\x7f,,1,1,,\n"                             /* 11 */
             "B7,79,2024,1,KC1,correction,1,1,,G\xc3\n"                  /* 12 */
             "B8,79,2024,1,KC1,correction,1,1,,G\xc2\x9f\n"              /* 13 */
             "B9,79,2024,1,KC1,,1,1,H\xe0 N\xf4i,\n"                     /* 14 */
             "B10,79,2024,1,KC1,,1,1,bell\x07,\n"                        /* 15 */
             "G2,79,2024,1,KC1,,1,1,Quảng Trị,\n",                       /* 16 good */
             amax, pmax, amax + 1, pmax + 1);
    char *path = kt_write(dir, "rows.csv", csv);
    const struct {
        int line;
        const char *what; /* after "FILE:LINE: " */
    } want[] = {
        {4, "value_too_large: amount_vnd "},
        {5, "value_too_large: persons "},
        {6, "invalid_text: event_id is not valid UTF-8"},
        {7, "invalid_text: event_id holds a control character"},
        {8, "invalid_text: province is not valid UTF-8"},
        {9, "invalid_text: province holds a control character"},
        {10, "invalid_text: activity is not valid UTF-8"},
        {11, "invalid_text: activity holds a control character"},
        {12, "invalid_text: corrects is not valid UTF-8"},
        {13, "invalid_text: corrects holds a control character"},
        {14, "invalid_text: note is not valid UTF-8"},
        {15, "invalid_text: note holds a control character"},
    };
    const size_t n_want = sizeof want / sizeof want[0];

    /* nobody listening: the good rows stay spooled, the refused ones never were */
    assert_int_equal(run_send_err("tcp://127.0.0.1:1", spool, path, out, err, "0.3"), 75);
    char *o = slurp(out);
    assert_string_equal(last_line(o), "summary: rows=14 accepted=0 duplicates=0 rejected=0 "
                                      "malformed=12 unacknowledged=2");
    o = slurp(err);
    for (size_t i = 0; i < n_want; i++) {
        char line[4400];
        snprintf(line, sizeof line, "%s:%d: %s", path, want[i].line, want[i].what);
        if (!strstr(o, line))
            fail_msg("stderr lacks '%s':\n%s", line, o);
    }
    snprintf(csv, sizeof csv,
             "%s:6: invalid_text: event_id is not valid UTF-8 (byte 1): "
             "'E\\xFF\\xFE'; the file is probably not saved as UTF-8 (e.g. Windows-1258): in "
             "Excel, save it as \"CSV UTF-8 (Comma delimited)\"",
             path);
    assert_non_null(strstr(o, csv));
    snprintf(csv, sizeof csv,
             "%s:4: value_too_large: amount_vnd %lld is above the largest "
             "value one event may carry (%lld)",
             path, amax + 1, amax);
    assert_non_null(strstr(o, csv));
    kc_spool_t *sp;
    assert_int_equal(kc_spool_open(&sp, spool, "p-send"), 0);
    assert_int_equal(kc_spool_count(sp), 2);
    assert_int_equal(kc_spool_next_seq(sp), 3); /* no seq went to a refused row */
    spooled_t s = {0};
    assert_int_equal(kc_spool_read(sp, 1, 100, 1 << 20, on_spooled, &s), 2);
    assert_string_equal(s.ids[0], "G1");
    assert_string_equal(s.ids[1], "G2");
    kc_spool_close(&sp);

    /* with an aggregator: the two good rows (one at the ceilings) are counted,
     * the file exits 65 for the refused rows */
    fake_agg_t *fa = fa_start(FA_NORMAL);
    assert_non_null(fa);
    assert_int_equal(run_send_err(fa_endpoint(fa), spool, path, out, err, "20"), 65);
    o = slurp(out);
    /* the two resumed rows are accepted, their re-import is duplicate */
    assert_string_equal(last_line(o), "summary: rows=16 accepted=2 duplicates=2 rejected=0 "
                                      "malformed=12 unacknowledged=0");
    fa_stats_t st;
    fa_stop(&fa, &st);
    assert_int_equal(st.counted, 2);
    assert_int_equal(kc_spool_open(&sp, spool, "p-send"), 0);
    assert_int_equal(kc_spool_count(sp), 0);
    assert_int_equal(kc_spool_next_seq(sp), 5);
    kc_spool_close(&sp);
    free(path);
    kt_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send),
        cmocka_unit_test(test_send_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
