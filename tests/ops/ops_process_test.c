/* ops_process_test.c - the real programs with config files (issue 6).
 *
 * --check-config: FILE:LINE for an unknown key, a bad flag value, a [section],
 * a missing value and a bad option value, exit 78; "FILE: ok, N settings" and
 * exit 0; flags given on the command line win over the file's.
 * kc-aggregator as systemd runs it (Type=notify): the test binds a datagram
 * unix socket, passes it as NOTIFY_SOCKET and reads READY=1 once the daemon
 * serves; on SIGHUP RELOADING=1 then READY=1 (a changed log-level applied, a
 * changed group-max logged as needing a restart, a broken file refused with
 * its FILE:LINE and the old configuration kept); on SIGTERM STOPPING=1 and
 * exit 0. Every wait is a poll with a deadline; every process is stopped by
 * pid.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char s_dir[256];
static char s_bin[512];

static long long s_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_path(char *out, size_t cap, const char *name)
{
    int n = snprintf(out, cap, "%s/%s", s_dir, name);
    if (n < 0 || (size_t)n >= cap)
        abort(); /* a temp path never gets that long */
}

static void s_write(const char *name, const char *text)
{
    char p[512], tmp[520];
    s_path(p, sizeof p, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", p);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rename(tmp, p), 0);
}

static char *s_read(const char *name)
{
    static char buf[65536];
    char p[512];
    s_path(p, sizeof p, name);
    buf[0] = '\0';
    FILE *f = fopen(p, "r");
    if (!f)
        return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* Start PROG args... with stdout/stderr to files in s_dir; returns the pid. */
static pid_t s_spawn(const char *prog, char *const args[], const char *out, const char *err,
                     const char *notify)
{
    char exe[700], po[512], pe[512];
    snprintf(exe, sizeof exe, "%s/%s", s_bin, prog);
    s_path(po, sizeof po, out);
    s_path(pe, sizeof pe, err);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fo = open(po, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = open(pe, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo < 0 || fe < 0)
            _exit(127);
        dup2(fo, 1);
        dup2(fe, 2);
        setenv("KCPIPE_CONFIG_DIR", s_dir, 1);
        unsetenv("JOURNAL_STREAM");
        if (notify)
            setenv("NOTIFY_SOCKET", notify, 1);
        else
            unsetenv("NOTIFY_SOCKET");
        char *argv[32];
        int n = 0;
        argv[n++] = (char *)prog;
        for (int i = 0; args[i] && n < 31; i++)
            argv[n++] = args[i];
        argv[n] = NULL;
        execv(exe, argv);
        _exit(127);
    }
    return pid;
}

static int s_wait(pid_t pid, int timeout_ms)
{
    long long end = s_now_ms() + timeout_ms;
    int st;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
        if (s_now_ms() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            fail_msg("process %d did not exit within %d ms", (int)pid, timeout_ms);
        }
        poll(NULL, 0, 10); /* a bounded poll loop: the deadline above ends it */
    }
}

static int s_run(const char *prog, char *const args[])
{
    return s_wait(s_spawn(prog, args, "out", "err", NULL), 30000);
}

static void s_has(const char *text, const char *needle)
{
    if (!strstr(text, needle))
        fail_msg("'%s' not found in:\n%s", needle, text);
}

static int s_setup(void **state)
{
    (void)state;
    const char *b = getenv("KC_BIN_DIR");
    snprintf(s_bin, sizeof s_bin, "%s", b ? b : ".");
    snprintf(s_dir, sizeof s_dir, "/tmp/ops_proc.XXXXXX");
    return mkdtemp(s_dir) ? 0 : -1;
}

static int s_teardown(void **state)
{
    (void)state;
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_check_config(void **state)
{
    (void)state;
    char want[800];
    char *check[] = {"--check-config", NULL};
    /* every file error, each with its line, exit 78 */
    s_write("query.conf", "region = south\n"
                          "[query]\n"
                          "bogus = 1\n"
                          "plan = perhaps\n"
                          "year =\n");
    assert_int_equal(s_run("kc-query", check), 78);
    const char *err = s_read("err");
    snprintf(want, sizeof want, "%s/query.conf:2: sections are not allowed", s_dir);
    s_has(err, want);
    snprintf(want, sizeof want, "%s/query.conf:3: unknown key 'bogus'", s_dir);
    s_has(err, want);
    snprintf(want, sizeof want, "%s/query.conf:4: 'plan' is a flag", s_dir);
    s_has(err, want);
    snprintf(want, sizeof want, "%s/query.conf:5: 'year' needs a value", s_dir);
    s_has(err, want);
    /* a value the program's own parser refuses: its line too */
    s_write("query.conf", "region = south\nyear = 20x1\n");
    assert_int_equal(s_run("kc-query", check), 78);
    snprintf(want, sizeof want, "%s/query.conf:2: kc-query: --year", s_dir);
    s_has(s_read("err"), want);
    /* without --check-config the same file stops the program with 78 too */
    char *run[] = {"--format", "json", NULL};
    assert_int_equal(s_run("kc-query", run), 78);
    s_has(s_read("err"), want);
    /* ok: repeatable options on several lines, a flag */
    s_write("query.conf", "# regional totals\n"
                          "region = south\n"
                          "region = north   # both\n"
                          "year = 2021\n"
                          "plan = yes\n");
    assert_int_equal(s_run("kc-query", check), 0);
    snprintf(want, sizeof want, "%s/query.conf: ok, 4 settings\n", s_dir);
    assert_string_equal(s_read("out"), want);
    /* flags win: the command line's --store is the one opened */
    s_write("query.conf", "region = south\nyear = 2021\nstore = /nonexistent/from-file\n");
    char *flags[] = {"--store", "/nonexistent/from-flag", NULL};
    assert_int_equal(s_run("kc-query", flags), 66);
    err = s_read("err");
    s_has(err, "/nonexistent/from-flag");
    assert_null(strstr(err, "from-file"));
    /* other programs: kc-report (same style), kc-audit (subcommands), kc-aggregator */
    s_write("report.conf", "region = south\nyear = 2022\nlang = vi\n");
    assert_int_equal(s_run("kc-report", check), 0);
    snprintf(want, sizeof want, "%s/report.conf: ok, 3 settings\n", s_dir);
    assert_string_equal(s_read("out"), want);
    s_write("audit.conf", "store = /x\nsize = many\n");
    char *audit[] = {"--check-config", "verify", NULL};
    assert_int_equal(s_run("kc-audit", audit), 78);
    snprintf(want, sizeof want, "%s/audit.conf:2: kc-audit: --size", s_dir);
    s_has(s_read("err"), want);
    s_write("aggregator.conf", "store = /x\n\ngroup-max = 0\n");
    assert_int_equal(s_run("kc-aggregator", check), 78);
    snprintf(want, sizeof want, "%s/aggregator.conf:3: kc-aggregator: --group-max", s_dir);
    s_has(s_read("err"), want);
    /* a command-line error stays a usage error (64), without a file position */
    s_write("aggregator.conf", "store = /x\n");
    char *bad[] = {"--group-max", "0", NULL};
    assert_int_equal(s_run("kc-aggregator", bad), 64);
    assert_null(strstr(s_read("err"), "aggregator.conf:"));
    /* --no-config ignores a broken default file; --config FILE must exist */
    s_write("keygen.conf", "bogus = 1\n");
    char *nocfg[] = {"--no-config", "--check-config", NULL};
    assert_int_equal(s_run("kc-keygen", nocfg), 0);
    s_has(s_read("out"), "no config file");
    char *missing[] = {"--config", "/nonexistent/keygen.conf", "--check-config", NULL};
    assert_int_equal(s_run("kc-keygen", missing), 78);
    s_has(s_read("err"), "/nonexistent/keygen.conf: cannot read the config file");
    /* kc-admin too (issue 16): its file sets --store, a bad value names its line, and
     * --no-config is accepted by every subcommand (it was "unrecognized option") */
    s_write("admin.conf", "store = /nonexistent/from-admin-file\n");
    char *astat[] = {"stat", NULL};
    assert_int_equal(s_run("kc-admin", astat), 66);
    s_has(s_read("err"), "from-admin-file");
    s_write("admin.conf", "format = xml\n");
    assert_int_equal(s_run("kc-admin", astat), 78);
    snprintf(want, sizeof want, "%s/admin.conf:1: kc-admin: --format", s_dir);
    s_has(s_read("err"), want);
    char *anocfg[] = {"stat", "--store", "/nonexistent/from-flag", "--no-config", NULL};
    assert_int_equal(s_run("kc-admin", anocfg), 66);
    assert_null(strstr(s_read("err"), "unrecognized"));
    char *abackup[] = {"backup",         "--no-config",    "--store",
                       "/nonexistent/s", "/nonexistent/d", NULL};
    assert_int_equal(s_run("kc-admin", abackup), 66);
}

/* ---- sd_notify ---- */

static int s_notify_recv(int fd, char *buf, size_t cap, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0)
        return -1;
    ssize_t n = recv(fd, buf, cap - 1, 0);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* The next notification containing `what` (others, e.g. STATUS=, are skipped). */
static void s_expect(int fd, const char *what)
{
    char buf[1024];
    long long end = s_now_ms() + 30000;
    while (s_now_ms() < end) {
        if (s_notify_recv(fd, buf, sizeof buf, (int)(end - s_now_ms())) != 0)
            break;
        if (strstr(buf, what))
            return;
    }
    fail_msg("no notification '%s' within 30 s", what);
}

static void s_wait_log(const char *needle, int timeout_ms)
{
    long long end = s_now_ms() + timeout_ms;
    while (!strstr(s_read("agg.err"), needle)) {
        if (s_now_ms() > end)
            fail_msg("'%s' not logged within %d ms; log:\n%s", needle, timeout_ms,
                     s_read("agg.err"));
        poll(NULL, 0, 10); /* bounded: the deadline above */
    }
}

static void test_notify(void **state)
{
    (void)state;
    char sock[100], store[300];
    s_path(sock, sizeof sock, "notify.sock");
    s_path(store, sizeof store, "store");
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, sock, strlen(sock) + 1);
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);

    char conf[1024];
    snprintf(conf, sizeof conf,
             "store = %s\nlisten = tcp://127.0.0.1:*\nlog-level = info\ngroup-max = 512\n", store);
    s_write("aggregator.conf", conf);
    char *none[] = {NULL};
    pid_t pid = s_spawn("kc-aggregator", none, "agg.out", "agg.err", sock);
    s_expect(fd, "READY=1");
    char want[600];
    snprintf(want, sizeof want, "KC-AGG-001 started: listening on tcp://127.0.0.1:");
    s_has(s_read("agg.err"), want);
    snprintf(want, sizeof want, "config %s/aggregator.conf; log to stderr", s_dir);
    s_has(s_read("agg.err"), want);

    /* SIGHUP: the log level applies, group-max needs a restart */
    snprintf(conf, sizeof conf,
             "store = %s\nlisten = tcp://127.0.0.1:*\nlog-level = debug\ngroup-max = 1024\n",
             store);
    s_write("aggregator.conf", conf);
    assert_int_equal(kill(pid, SIGHUP), 0);
    s_expect(fd, "RELOADING=1");
    s_expect(fd, "READY=1");
    s_wait_log("KC-AGG-004 configuration reloaded", 10000);
    const char *log = s_read("agg.err");
    s_has(log, "KC-AGG-004 configuration key 'log-level' changed ('info' -> 'debug'): applied");
    s_has(log, "KC-AGG-006 configuration key 'group-max' changed ('512' -> '1024'): needs a "
               "restart");
    s_wait_log(" debug: ", 15000); /* debug lines now appear (the stats line, every 10 s) */

    /* a broken file: refused with its FILE:LINE, the configuration in force stays */
    snprintf(conf, sizeof conf, "store = %s\nlog-level = loud\n", store);
    s_write("aggregator.conf", conf);
    assert_int_equal(kill(pid, SIGHUP), 0);
    s_expect(fd, "RELOADING=1");
    s_expect(fd, "READY=1");
    snprintf(want, sizeof want,
             "KC-AGG-005 configuration reload refused: %s/aggregator.conf:2: ", s_dir);
    s_wait_log(want, 10000);
    s_write("aggregator.conf", "[aggregator]\n");
    assert_int_equal(kill(pid, SIGHUP), 0);
    s_expect(fd, "RELOADING=1");
    s_expect(fd, "READY=1");
    snprintf(want, sizeof want,
             "KC-AGG-005 configuration reload refused: %s/aggregator.conf:1: sections are not "
             "allowed",
             s_dir);
    s_wait_log(want, 10000);

    assert_int_equal(kill(pid, SIGTERM), 0);
    s_expect(fd, "STOPPING=1");
    assert_int_equal(s_wait(pid, 30000), 0);
    s_has(s_read("agg.err"), "KC-AGG-002 stopped: batches=0");
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_check_config),
        cmocka_unit_test(test_notify),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
