/* admin_text_test.c - kc-admin's JSON and text never carry raw bytes from
 * outside: a store whose directory name is not UTF-8 and holds an ESC
 * sequence, filled as an older kcpipe left it (tests/store/old_text_util.h),
 * read by a process that named itself with an ESC sequence and invalid UTF-8
 * (prctl PR_SET_NAME: what `stat` lists as the reader's process). `stat
 * --format json` exits 0 with valid UTF-8 JSON showing both in display form,
 * `stat` text shows the reader without a raw control byte, and `backup` writes
 * a manifest that parses with its source path (resolved) in display form.
 * Text output prints a path as the user gave it: those runs name the store
 * through a symbolic link with a plain name.
 */
#include "../store/old_text_util.h"
#include "../store/store_test_util.h"

#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/prctl.h>

#include <cmocka.h>

#define S_DIR_NAME     "st\xff\x1b[31m" /* the store's directory, under the test's root */
#define S_DIR_SHOWN    "st\\xFF\\x1B[31m"
#define S_READER_NAME  "rd\x1b[31m\xff\xfe" /* the reader process's name (<= 15 bytes) */
#define S_READER_SHOWN "rd\\x1B[31m\\xFF\\xFE"

static kc_test_dir_t s_dir;
static char s_store[PATH_MAX + 32], s_link[PATH_MAX + 32]; /* s_link -> s_store */

static int s_setup(void **state)
{
    (void)state;
    kc_test_dir_make(&s_dir);
    snprintf(s_store, sizeof s_store, "%s/%s", s_dir.root, S_DIR_NAME);
    snprintf(s_link, sizeof s_link, "%s/store-link", s_dir.root);
    if (symlink(S_DIR_NAME, s_link) != 0)
        return -1;
    return t_old_text_store(s_store) == 0 ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    kc_test_dir_remove(&s_dir);
    return 0;
}

/* A child that names itself S_READER_NAME and holds a read transaction of the
 * store until *hold_fd is closed; returns its pid once it holds it. */
static pid_t s_reader_start(int *hold_fd)
{
    int ready[2], hold[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(hold), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(hold[1]);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        prctl(PR_SET_NAME, S_READER_NAME);
        kc_store_opts_t ro = {.read_only = true};
        kc_store_t *s = NULL;
        kc_txn_t *t = NULL;
        if (kc_store_open(&s, s_store, &ro) != 0 || kc_store_read_begin(s, &t) != 0)
            _exit(1);
        char c = 'r';
        if (write(ready[1], &c, 1) != 1)
            _exit(1);
        while (read(hold[0], &c, 1) > 0) /* until the test closes its end */
            ;
        kc_txn_end(&t);
        kc_store_close(&s);
        _exit(0);
    }
    close(ready[1]);
    close(hold[0]);
    struct pollfd p = {.fd = ready[0], .events = POLLIN};
    char c = 0;
    assert_int_equal(poll(&p, 1, 30000), 1);
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    *hold_fd = hold[1];
    return pid;
}

static void s_reader_stop(pid_t pid, int hold_fd)
{
    close(hold_fd); /* it ends its transaction and exits: wait for that, bounded */
    int st = 0;
    pid_t got = 0;
    for (int64_t end = t_exec_now_ms() + 30000; got == 0 && t_exec_now_ms() < end;)
        if ((got = waitpid(pid, &st, WNOHANG)) == 0)
            poll(NULL, 0, 5);
    if (got != pid) {
        kill(pid, SIGKILL);
        waitpid(pid, &st, 0);
        fail_msg("the reader %d did not exit", (int)pid);
    }
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* The run gave exit 0 and clean text on both outputs. */
static void s_expect_clean(const t_exec_t *r)
{
    if (!t_exec_clean(r))
        fail_msg("exit %d, stdout:\n%s\nstderr:\n%s", r->status, r->out, r->err);
}

static void test_stat(void **state)
{
    (void)state;
    int hold;
    pid_t reader = s_reader_start(&hold);
    t_exec_t r;
    s_expect_clean(t_run(&r, "kc-admin", "stat", "--store", s_store, "--format", "json", NULL));
    json_t *j = t_exec_json(&r);
    assert_non_null(j);
    assert_true(t_json_ends(j, "store", "/" S_DIR_SHOWN));
    json_t *list = json_object_get(json_object_get(j, "readers"), "list");
    bool seen = false;
    for (size_t i = 0; i < json_array_size(list); i++) {
        json_t *e = json_array_get(list, i);
        if (json_integer_value(json_object_get(e, "pid")) != reader)
            continue;
        seen = true;
        assert_string_equal(json_string_value(json_object_get(e, "process")), S_READER_SHOWN);
    }
    if (!seen)
        fail_msg("reader %d not listed:\n%s", (int)reader, r.out);
    json_decref(j);
    t_exec_free(&r);

    s_expect_clean(t_run(&r, "kc-admin", "stat", "--store", s_link, NULL));
    char want[64];
    snprintf(want, sizeof want, "reader pid %d (%s)", (int)reader, S_READER_SHOWN);
    if (!strstr(r.out, want))
        fail_msg("no '%s' in:\n%s", want, r.out);
    t_exec_free(&r);
    s_reader_stop(reader, hold);
}

static void test_backup_manifest(void **state)
{
    (void)state;
    char dest[PATH_MAX + 32], manifest[PATH_MAX + 64];
    snprintf(dest, sizeof dest, "%s/backup", s_dir.root);
    t_exec_t r;
    s_expect_clean(t_run(&r, "kc-admin", "backup", "--store", s_link, dest, NULL));
    t_exec_free(&r);
    snprintf(manifest, sizeof manifest, "%s/backup.json", dest);
    json_error_t je;
    json_t *j = json_load_file(manifest, 0, &je);
    if (!j)
        fail_msg("%s is not JSON: %s", manifest, je.text);
    assert_true(t_json_ends(j, "source", "/" S_DIR_SHOWN));
    assert_int_equal(json_integer_value(json_object_get(j, "log_size")), 2);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stat),
        cmocka_unit_test(test_backup_manifest),
    };
    return cmocka_run_group_tests_name("admin_text", tests, s_setup, s_teardown);
}
