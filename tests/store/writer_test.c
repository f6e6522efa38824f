/* writer_test.c - one writer per store (kc_store_open, KC_EBUSY): a second
 * writable open, in another process, is refused while the first holds the
 * store, with the holder's pid named; readers are never refused; the lock goes
 * with the holder, even when it is killed. A second kc-aggregator on a store
 * another one serves refuses to start (exit 69) instead of committing beside
 * it (a writer keeps the Merkle frontier and producer states between
 * transactions: two of them would each commit on a view that is no longer
 * true). */
#include "kc_err.h"
#include "kc_store.h"
#include "store_test_util.h"

#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include <cmocka.h>

/* A child that opens dir for writing, says so on the pipe, and waits to be
 * killed (or exits 3 if the open failed). */
static pid_t s_holder(const char *dir)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlives a failed test */
        close(p[0]);
        kc_store_t *s = NULL;
        char c = kc_store_open(&s, dir, NULL) == 0 ? 'y' : 'n';
        if (write(p[1], &c, 1) != 1 || c != 'y')
            _exit(3);
        for (;;)
            pause();
    }
    close(p[1]);
    char c = 0;
    assert_int_equal(read(p[0], &c, 1), 1); /* blocks until the child opened it */
    close(p[0]);
    assert_int_equal(c, 'y');
    return pid;
}

static void test_second_writer_refused(void **state)
{
    (void)state;
    kc_test_dir_t d;
    kc_test_dir_make(&d);
    pid_t pid = s_holder(d.store);

    kc_test_log_t log;
    kc_test_log_capture(&log);
    kc_store_t *s = NULL;
    assert_int_equal(kc_store_open(&s, d.store, NULL), KC_EBUSY);
    assert_null(s);
    kc_test_log_release();
    char want[64];
    snprintf(want, sizeof want, "pid %ld", (long)pid);
    assert_non_null(strstr(log.text, "one writer per store"));
    assert_non_null(strstr(log.text, want));

    /* a reader is not refused, and sees the store */
    kc_store_opts_t ro = {.read_only = true};
    assert_int_equal(kc_store_open(&s, d.store, &ro), 0);
    kc_store_close(&s);

    /* the holder killed: its lock goes with it */
    kill(pid, SIGKILL);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    assert_int_equal(kc_store_open(&s, d.store, NULL), 0);
    /* and this process's own writable open keeps others out in turn */
    pid_t other = fork();
    assert_true(other >= 0);
    if (other == 0) {
        kc_store_t *t = NULL;
        _exit(kc_store_open(&t, d.store, NULL) == KC_EBUSY ? 0 : 1);
    }
    int st;
    assert_int_equal(waitpid(other, &st, 0), other);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    kc_store_close(&s);
    /* closed: free again */
    assert_int_equal(kc_store_open(&s, d.store, NULL), 0);
    kc_store_close(&s);
    kc_test_dir_remove(&d);
}

/* A second kc-aggregator on the store of a running one exits 69, naming the
 * problem, and leaves the store as the first one wrote it. */
static void test_second_aggregator_refused(void **state)
{
    (void)state;
    const char *bin = getenv("KC_BIN_DIR"); /* set by kc_add_test */
    assert_non_null(bin);
    kc_test_dir_t d;
    kc_test_dir_make(&d);
    pid_t pid = s_holder(d.store); /* a writer, as a running aggregator is */
    char cmd[PATH_MAX * 3];
    snprintf(cmd, sizeof cmd,
             "'%s/kc-aggregator' --store '%s' --listen tcp://127.0.0.1:0 2>'%s/agg.err'", bin,
             d.store, d.root);
    int st = system(cmd);
    assert_true(WIFEXITED(st));
    assert_int_equal(WEXITSTATUS(st), 69);
    char path[PATH_MAX + 16], text[4096] = "";
    snprintf(path, sizeof path, "%s/agg.err", d.root);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    if (!strstr(text, "one writer per store"))
        fail_msg("kc-aggregator's stderr does not say why: %s", text);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    kc_test_dir_remove(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_second_writer_refused),
        cmocka_unit_test(test_second_aggregator_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
