/* send_test.c - the kc-send program against the fake aggregator: exit codes,
 * the rejected lines with their hint and the summary line, re-import yielding
 * duplicates; rows with problems (the import layer's and the aggregator's rules
 * for a row alone: invalid_text, too_large, negative_value, ...) reported on
 * stderr as "FILE row N, column X (header): MESSAGE [reason]", counted
 * malformed and never spooled (the spool read with its API); a file that is
 * not UTF-8 stops with the hint; a rerun reports the rows it resumed apart. */
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

/* Spawn kc-send with argv[1..] (argv[0] is set here), stdout to out, stderr to
 * err (NULL: /dev/null); its exit status. */
static int run_argv(char **argv, const char *out, const char *err)
{
    const char *bin = getenv("KC_BIN_DIR");
    char exe[4200];
    snprintf(exe, sizeof exe, "%s/kc-send", bin ? bin : ".");
    argv[0] = exe;
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

/* Run kc-send on csv and csv2 (NULL: none) in English (it bounds itself with
 * --timeout); stdout goes to out, stderr to err (NULL: /dev/null). */
static int run_send_err2(const char *ep, const char *spool, const char *csv, const char *csv2,
                         const char *out, const char *err, const char *timeout)
{
    char *argv[] = {NULL,          "--connect", (char *)ep,      "--producer", "p-send", "--spool",
                    (char *)spool, "--timeout", (char *)timeout, "--batch",    "4",      "--lang",
                    "en",          (char *)csv, (char *)csv2,    NULL};
    return run_argv(argv, out, err);
}

static int run_send_err(const char *ep, const char *spool, const char *csv, const char *out,
                        const char *err, const char *timeout)
{
    return run_send_err2(ep, spool, csv, NULL, out, err, timeout);
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

/* The line before the last (after last_line cut the text's final newlines). */
static const char *line_before_last(char *text)
{
    char *nl = strrchr(text, '\n');
    if (!nl)
        return "";
    *nl = '\0';
    nl = strrchr(text, '\n');
    return nl ? nl + 1 : text;
}

/* text has a line starting with `start` and ending with " [token]". */
static void has_problem(const char *text, const char *start, const char *token)
{
    char end[64];
    snprintf(end, sizeof end, " [%s]", token);
    for (const char *l = text; *l;) {
        const char *nl = strchr(l, '\n');
        size_t n = nl ? (size_t)(nl - l) : strlen(l);
        size_t e = strlen(end), b = strlen(start);
        if (n >= b + e && strncmp(l, start, b) == 0 && strncmp(l + n - e, end, e) == 0)
            return;
        l += n + (nl ? 1 : 0);
    }
    fail_msg("no line '%s ...%s' in:\n%s", start, end, text);
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

    /* the import refuses what it can tell alone (never sent); the aggregator
     * rejects what only it can tell (an accepted event_id with other values) */
    char *bad = kt_write(dir, "bad.csv",
                         "event_id,province,year,month,activity,amount_vnd\n"
                         "B1,79,2021,1,KC1,10\n"
                         "B2,00,2021,1,KC1,10\n"   /* malformed: unknown province */
                         "B3,79,2021,1,KC1,1.5\n"  /* malformed: fraction */
                         "B4,79,2021,1,KC1,-1\n"   /* malformed: negative */
                         "A1,79,2021,1,KC1,10\n"); /* rejected: event_id_conflict */
    char err[4200];
    snprintf(err, sizeof err, "%s/err.txt", dir);
    assert_int_equal(run_send_err(ep, spool, bad, out, err, "20"), 65);
    o = slurp(out);
    char want[4400];
    snprintf(want, sizeof want, "rejected %s:6 A1: event_id_conflict: ", bad);
    assert_non_null(strstr(o, want));
    assert_non_null(strstr(o, "\n  hint: to change an accepted row send a correction: "
                              "kind=correction, corrects=A1\n"));
    assert_null(strstr(o, "B2"));
    assert_string_equal(last_line(o), "summary: rows=5 accepted=1 duplicates=0 rejected=1 "
                                      "malformed=3 unacknowledged=0");
    o = slurp(err);
    has_problem(o, "bad.csv row 3, column B (province): unknown province '00'", "unknown_province");
    has_problem(o, "bad.csv row 4, column F (amount_vnd): '1.5' is not a whole number", "fraction");
    has_problem(o, "bad.csv row 5, column F (amount_vnd): '-1' is negative", "negative_value");
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
    assert_null(strstr(o, "resumed:"));
    /* again with another one-row file: C1 is the earlier run's, on its own line;
     * the summary counts the one row of this run */
    char *two = kt_write(dir, "two.csv",
                         "event_id,province,year,month,activity,amount_vnd\n"
                         "C2,79,2021,1,KC1,20\n");
    assert_int_equal(run_send(ep, spool, two, out, "0.3"), 75);
    o = slurp(out);
    assert_string_equal(last_line(o), "summary: rows=1 accepted=0 duplicates=0 rejected=0 "
                                      "malformed=0 unacknowledged=1");
    assert_string_equal(line_before_last(o), "resumed: rows=1 accepted=0 duplicates=0 "
                                             "rejected=0 unacknowledged=1");
    free(two);
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

/* Rows with a control character in each kind of column and metrics at and
 * above their ceiling, and a file that is not UTF-8: kc-send reports each bad
 * row on stderr as "FILE row N, column X (header): MESSAGE [reason]", the
 * file with the hint to give its encoding, counts the rows malformed and
 * spools only the good rows. A rerun sends what the spool held first and
 * reports it on a "resumed:" line; the summary counts this run's rows. */
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
    /* A event_id, B province, C year, D month, E activity, F kind, G amount_vnd,
     * H persons, I note, J corrects */
    snprintf(csv, sizeof csv,
             "event_id,province,year,month,activity,kind,amount_vnd,persons,note,corrects\n"
             "G1,79,2024,1,KC1,,%lld,%lld,\"tab\tand\r\nline break\",\n" /* 2-3 good */
             "T1,79,2024,1,KC1,,%lld,1,,\n"                              /* 4 */
             "T2,79,2024,1,KC1,,1,%lld,,\n"                              /* 5 */
             "E\x01,79,2024,1,KC1,,1,1,,\n"                              /* 6 */
             "B4,7\x1b,2024,1,KC1,,1,1,,\n"                              /* 7 */
             "B6,79,2024,1,KC1\x7f,,1,1,,\n"                             /* 8 */
             "B8,79,2024,1,KC1,correction,1,1,,G\xc2\x9f\n"              /* 9 */
             "B10,79,2024,1,KC1,,1,1,bell\x07,\n"                        /* 10 */
             "G2,79,2024,1,KC1,,1,1,Quảng Trị,\n",                       /* 11 good */
             amax, pmax, amax + 1, pmax + 1);
    char *path = kt_write(dir, "rows.csv", csv);
    /* Windows-1258 read as UTF-8: the file stops at its first row */
    char *latin = kt_write(dir, "latin.csv",
                           "event_id,province,year,month,activity,kind,amount_vnd,persons,note\n"
                           "L1,79,2024,1,KC1,,1,1,H\xe0 N\xf4i\n"
                           "L2,79,2024,1,KC1,,1,1,\n");
    const struct {
        const char *start; /* after "rows.csv " */
        const char *token;
    } want[] = {
        {"row 4, column G (amount_vnd): ", "too_large"},
        {"row 5, column H (persons): ", "too_large"},
        {"row 6, column A (event_id): 'E\\x01' holds a control character (byte 1)", "invalid_text"},
        {"row 7, column B (province): unknown province '7\\x1B'", "unknown_province"},
        {"row 8, column E (activity): unknown activity 'KC1\\x7F'", "unknown_activity"},
        {"row 9, column J (corrects): 'G\\xC2\\x9F' holds a control character (byte 1)",
         "invalid_text"},
        {"row 10, column I (note): 'bell\\x07' holds a control character (byte 4)", "invalid_text"},
    };
    const size_t n_want = sizeof want / sizeof want[0];

    /* nobody listening: the good rows stay spooled, the refused ones never were */
    assert_int_equal(run_send_err2("tcp://127.0.0.1:1", spool, path, latin, out, err, "0.3"), 75);
    char *o = slurp(out);
    /* the row the reader could not read counts as a malformed row */
    assert_string_equal(last_line(o), "summary: rows=10 accepted=0 duplicates=0 rejected=0 "
                                      "malformed=8 unacknowledged=2");
    assert_null(strstr(o, "resumed:"));
    o = slurp(err);
    for (size_t i = 0; i < n_want; i++) {
        char line[512];
        snprintf(line, sizeof line, "rows.csv %s", want[i].start);
        has_problem(o, line, want[i].token);
    }
    snprintf(csv, sizeof csv,
             "rows.csv row 4, column G (amount_vnd): '%lld' is larger than the largest "
             "amount_vnd allowed in one row (%lld) [too_large]\n",
             amax + 1, amax);
    assert_non_null(strstr(o, csv));
    snprintf(csv, sizeof csv,
             "kc-send: %s: line 2, column 9 (I): the file is not UTF-8 (byte 0xE0)", latin);
    if (!strstr(o, csv))
        fail_msg("stderr lacks '%s':\n%s", csv, o);
    assert_non_null(strstr(o, "--encoding windows-1258"));
    assert_null(strstr(o, "L2"));
    kc_spool_t *sp;
    assert_int_equal(kc_spool_open(&sp, spool, "p-send"), 0);
    assert_int_equal(kc_spool_count(sp), 2);
    assert_int_equal(kc_spool_next_seq(sp), 3); /* no seq went to a refused row */
    spooled_t s = {0};
    assert_int_equal(kc_spool_read(sp, 1, 100, 1 << 20, on_spooled, &s), 2);
    assert_string_equal(s.ids[0], "G1");
    assert_string_equal(s.ids[1], "G2");
    kc_spool_close(&sp);

    /* with an aggregator: the two spooled rows (one at the ceilings) are sent
     * first and counted on the resumed line; this run's rows are duplicates of
     * them, the file exits 65 for its malformed rows */
    fake_agg_t *fa = fa_start(FA_NORMAL);
    assert_non_null(fa);
    assert_int_equal(run_send_err(fa_endpoint(fa), spool, path, out, err, "20"), 65);
    o = slurp(out);
    assert_string_equal(last_line(o), "summary: rows=9 accepted=0 duplicates=2 rejected=0 "
                                      "malformed=7 unacknowledged=0");
    assert_string_equal(line_before_last(o), "resumed: rows=2 accepted=2 duplicates=0 "
                                             "rejected=0 unacknowledged=0");
    o = slurp(err);
    assert_non_null(strstr(o, "kc-send: 2 rows left in the spool by an earlier run; sending "
                              "them first\n"));
    fa_stats_t st;
    fa_stop(&fa, &st);
    assert_int_equal(st.counted, 2);
    assert_int_equal(kc_spool_open(&sp, spool, "p-send"), 0);
    assert_int_equal(kc_spool_count(sp), 0);
    assert_int_equal(kc_spool_next_seq(sp), 5);
    kc_spool_close(&sp);
    free(path);
    free(latin);
    kt_rmdir(dir);
}

/* kc-send -r MS --timeout S CSV (English), stdout to out, stderr to err. */
static int run_send_rt(const char *ep, const char *spool, const char *csv, const char *out,
                       const char *err, const char *rt_ms, const char *timeout)
{
    char *argv[] = {
        NULL,          "--connect", (char *)ep,    "--producer", "p-link",        "--spool",
        (char *)spool, "-r",        (char *)rt_ms, "--timeout",  (char *)timeout, "--lang",
        "en",          (char *)csv, NULL};
    return run_argv(argv, out, err);
}

/* The clerk is told when the centre cannot be reached, and when it can again. */
static void test_send_link(void **state)
{
    (void)state;
    char *dir = kt_tmpdir("send-link");
    char spool[4200], out[4200], err[4200];
    snprintf(out, sizeof out, "%s/out", dir);
    snprintf(err, sizeof err, "%s/err", dir);
    char *path = kt_write(dir, "one.csv",
                          "event_id,province,year,month,activity,amount_vnd\n"
                          "L1,79,2022,3,KC1,1000\n");

    /* nothing listens on the discard port: no connection, the row stays spooled */
    snprintf(spool, sizeof spool, "%s/spool-down", dir);
    assert_int_equal(run_send_rt("tcp://127.0.0.1:9", spool, path, out, err, "200", "3"), 75);
    char *e = slurp(err);
    assert_non_null(strstr(e, "kc-send: cannot reach the centre (tcp://127.0.0.1:9); 1 rows safe "
                              "in the spool; retrying\n"));
    assert_null(strstr(e, "reached the centre (tcp://127.0.0.1:9) again"));
    assert_string_equal(last_line(slurp(out)), "summary: rows=1 accepted=0 duplicates=0 "
                                               "rejected=0 malformed=0 unacknowledged=1");

    /* the centre answers "unavailable" first, then takes the row */
    fake_agg_t *fa = fa_start(FA_UNAVAILABLE_FIRST);
    assert_non_null(fa);
    snprintf(spool, sizeof spool, "%s/spool-back", dir);
    assert_int_equal(run_send_rt(fa_endpoint(fa), spool, path, out, err, "2000", "20"), 0);
    e = slurp(err);
    char want[256];
    snprintf(want, sizeof want, "kc-send: cannot reach the centre (%s); 1 rows safe in the spool",
             fa_endpoint(fa));
    const char *down = strstr(e, want);
    assert_non_null(down);
    snprintf(want, sizeof want, "kc-send: reached the centre (%s) again; sending\n",
             fa_endpoint(fa));
    const char *up = strstr(e, want);
    assert_non_null(up);
    assert_true(down < up);
    assert_string_equal(last_line(slurp(out)), "summary: rows=1 accepted=1 duplicates=0 "
                                               "rejected=0 malformed=0 unacknowledged=0");
    fa_stop(&fa, NULL);
    free(path);
    kt_rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send),
        cmocka_unit_test(test_send_refused),
        cmocka_unit_test(test_send_link),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
