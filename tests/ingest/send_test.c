/* send_test.c - the kc-send program against the fake aggregator: exit codes,
 * the rejected lines and the summary line, re-import yielding duplicates. */
#include "fake_agg.h"
#include "ingest_test_util.h"

#include <fcntl.h>
#include <setjmp.h>
#include <spawn.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

extern char **environ;

/* Run kc-send (it bounds itself with --timeout); stdout goes to out. */
static int run_send(const char *ep, const char *spool, const char *csv, const char *out,
                    const char *timeout)
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
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    assert_int_equal(posix_spawn(&pid, exe, &fa, NULL, argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    return WEXITSTATUS(status);
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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_send),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
