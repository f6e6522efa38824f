/* harness.c - child processes, temp dirs and bounded waits for integration tests. */
#include "harness.h"

#include "kc_err.h"
#include "kc_store.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CHILDREN  64
#define AGG_READY_MS  60000 /* an aggregator under ASan must be ready within this */
#define AGG_ATTEMPTS  5     /* starts tried while a fixed port is taken (s_port_taken) */
#define STOP_GRACE_MS 30000 /* SIGTERM: time to commit what is in hand and exit */

static char s_dir[200];            /* the test's temp dir (leaves room for names in it) */
static pid_t s_pids[MAX_CHILDREN]; /* children started and not yet reaped */
static bool s_passed;              /* kc_harness_pass() was called */
/* stderr files of aggregator attempts that ended before ready and were retried
 * (a port taken): kc_harness_pass() keeps them, and the dir, and says where. */
static char s_kept[AGG_ATTEMPTS * 4][KC_PATH_MAX];
static int s_nkept;

int64_t kc_harness_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void kc_harness_poll_pause(void)
{
    struct timespec ts = {0, 5 * 1000 * 1000}; /* one 5 ms poll step */
    nanosleep(&ts, NULL);
}

static void s_track(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (s_pids[i] == 0) {
            s_pids[i] = pid;
            return;
        }
    fprintf(stderr, "harness: too many children\n");
    kill(pid, SIGKILL);
    exit(1);
}

static void s_untrack(pid_t pid)
{
    for (int i = 0; i < MAX_CHILDREN; i++)
        if (s_pids[i] == pid)
            s_pids[i] = 0;
}

/* atexit: every child still running is killed by its pid and reaped. */
static void s_cleanup(void)
{
    for (int i = 0; i < MAX_CHILDREN; i++) {
        if (s_pids[i] <= 0)
            continue;
        kill(s_pids[i], SIGKILL);
        waitpid(s_pids[i], NULL, 0); /* SIGKILL cannot be ignored: this returns */
        s_pids[i] = 0;
    }
    if (!s_passed && s_dir[0])
        fprintf(stderr, "harness: kept %s for inspection\n", s_dir);
}

/* nftw: remove everything but the kept files (their dirs stay, not empty). */
static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    for (int i = 0; i < s_nkept; i++)
        if (strcmp(path, s_kept[i]) == 0)
            return 0;
    if (remove(path) != 0 && s_nkept == 0)
        return -1;
    return 0;
}

const char *kc_harness_init(const char *name)
{
    const char *tmp = getenv("TMPDIR");
    if (!tmp || !*tmp)
        tmp = "/tmp";
    if ((size_t)snprintf(s_dir, sizeof s_dir, "%s/kc-%s-XXXXXX", tmp, name) >= sizeof s_dir) {
        fprintf(stderr, "harness: TMPDIR %s is too long\n", tmp);
        exit(1);
    }
    if (!mkdtemp(s_dir)) {
        fprintf(stderr, "harness: mkdtemp %s: %s\n", s_dir, strerror(errno));
        exit(1);
    }
    signal(SIGPIPE, SIG_IGN);
    atexit(s_cleanup);
    fprintf(stderr, "%s: working in %s\n", name, s_dir);
    return s_dir;
}

void kc_harness_pass(void)
{
    s_passed = true;
    for (int i = 0; i < MAX_CHILDREN; i++)
        KC_CHECK(s_pids[i] == 0, "child %d still running at the end of the test", (int)s_pids[i]);
    nftw(s_dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
    for (int i = 0; i < s_nkept; i++)
        fprintf(stderr, "harness: kept %s (a kc-aggregator attempt retried: port taken)\n",
                s_kept[i]);
}

char *kc_harness_path(char *buf, const char *fmt, ...)
{
    char rel[KC_PATH_MAX - sizeof s_dir - 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rel, sizeof rel, fmt, ap);
    va_end(ap);
    snprintf(buf, KC_PATH_MAX, "%s/%s", s_dir, rel);
    return buf;
}

char *kc_harness_bin(char *buf, const char *prog)
{
    const char *bin = getenv("KC_BIN_DIR");
    KC_CHECK(bin && *bin, "KC_BIN_DIR is not set (run through ctest)");
    snprintf(buf, KC_PATH_MAX, "%s/%s", bin, prog);
    KC_CHECK(access(buf, X_OK) == 0, "%s is not built", buf);
    return buf;
}

/* Print the last lines of each *.err file of the temp dir. */
static void s_dump_logs(void)
{
    DIR *d = opendir(s_dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t n = strlen(de->d_name);
        if (n < 5 || strcmp(de->d_name + n - 4, ".err") != 0)
            continue;
        char path[KC_PATH_MAX + 256];
        snprintf(path, sizeof path, "%s/%s", s_dir, de->d_name);
        FILE *f = fopen(path, "r");
        if (!f)
            continue;
        static char tail[16][512];
        int count = 0;
        while (fgets(tail[count % 16], sizeof tail[0], f))
            count++;
        fclose(f);
        if (count == 0)
            continue;
        fprintf(stderr, "---- last lines of %s\n", de->d_name);
        for (int i = count > 16 ? count - 16 : 0; i < count; i++)
            fputs(tail[i % 16], stderr);
    }
    closedir(d);
}

void kc_harness_fail(const char *file, int line, const char *cond, const char *fmt, ...)
{
    fprintf(stderr, "FAIL %s:%d: (%s) ", file, line, cond);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    s_dump_logs();
    exit(1);
}

static int s_open_out(const char *path)
{
    int fd = open(path ? path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    return fd;
}

pid_t kc_harness_spawn(char *const argv[], const char *out_path, const char *err_path)
{
    int out = s_open_out(out_path), err = s_open_out(err_path);
    KC_CHECK(out >= 0 && err >= 0, "cannot open %s / %s: %s", out_path, err_path, strerror(errno));
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = fork();
    KC_CHECK(pid >= 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* if the test itself is killed (ctest timeout), its children die too */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        dup2(out, STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        int devnull = open("/dev/null", O_RDONLY);
        if (devnull >= 0)
            dup2(devnull, STDIN_FILENO);
        execv(argv[0], argv);
        fprintf(stderr, "execv %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(out);
    close(err);
    s_track(pid);
    return pid;
}

bool kc_harness_exited(pid_t pid, int *status)
{
    int st = 0;
    pid_t r = waitpid(pid, &st, WNOHANG);
    if (r == pid) {
        s_untrack(pid);
        if (status)
            *status = st;
        return true;
    }
    KC_CHECK(r == 0, "waitpid %d: %s", (int)pid, strerror(errno));
    return false;
}

int kc_harness_wait(pid_t pid, int timeout_ms, int *status)
{
    int64_t deadline = kc_harness_now_ms() + timeout_ms;
    for (;;) {
        if (kc_harness_exited(pid, status))
            return 0;
        if (kc_harness_now_ms() >= deadline)
            return -1;
        kc_harness_poll_pause();
    }
}

int kc_harness_stop(pid_t pid, int sig, int timeout_ms)
{
    int st = 0;
    KC_CHECK(kill(pid, sig) == 0 || errno == ESRCH, "kill %d: %s", (int)pid, strerror(errno));
    if (kc_harness_wait(pid, timeout_ms, &st) == 0)
        return st;
    fprintf(stderr, "harness: pid %d ignored signal %d for %d ms; SIGKILL\n", (int)pid, sig,
            timeout_ms);
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    s_untrack(pid);
    return st;
}

const char *kc_harness_status_str(int status, char *buf, size_t cap)
{
    if (WIFEXITED(status))
        snprintf(buf, cap, "exit %d", WEXITSTATUS(status));
    else if (WIFSIGNALED(status))
        snprintf(buf, cap, "signal %d", WTERMSIG(status));
    else
        snprintf(buf, cap, "status 0x%x", status);
    return buf;
}

/* Whether 127.0.0.1:port can be bound now. */
static bool s_port_free(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    KC_CHECK(fd >= 0, "socket: %s", strerror(errno));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
    return ok;
}

/* The port is taken below the kernel's ephemeral range: while the aggregator
 * is down, kc-send keeps reconnecting to it, and an ephemeral source port equal
 * to the destination port would connect the socket to itself (TCP simultaneous
 * open) and hold the port. */
int kc_harness_free_port(void)
{
    int lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%d %d", &lo, &hi) != 2)
            lo = 32768;
        fclose(f);
    }
    int first = 10000, last = lo - 1;
    if (last - first < 1000) { /* unusual range: fall back to above it */
        first = hi + 1;
        last = 65535;
    }
    KC_CHECK(last > first, "no port range outside the ephemeral ports (%d-%d)", lo, hi);
    int span = last - first + 1, start = (int)(((unsigned long)getpid() * 7919u) % (unsigned)span);
    for (int i = 0; i < span; i++) {
        int port = first + (start + i) % span;
        if (s_port_free(port))
            return port;
    }
    KC_CHECK(false, "no free port in %d-%d", first, last);
    return -1;
}

int kc_harness_read_line(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *ok = fgets(buf, (int)cap, f);
    fclose(f);
    if (!ok)
        return -1;
    buf[strcspn(buf, "\r\n")] = '\0';
    return buf[0] ? 0 : -1;
}

/* Print all of a child's stderr file (an ASan report's stack is at its top,
 * where the tails printed by kc_harness_fail do not reach), bounded. */
static void s_print_file(const char *what, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "---- %s: %s cannot be read: %s\n", what, path, strerror(errno));
        return;
    }
    fprintf(stderr, "---- %s: %s\n", what, path);
    char line[1024];
    int n = 0;
    while (fgets(line, sizeof line, f) && n++ < 400)
        fputs(line, stderr);
    if (n > 400)
        fprintf(stderr, "---- (cut at 400 lines; the whole file is kept)\n");
    else
        fprintf(stderr, "---- end of %s\n", path);
    fclose(f);
}

/* Whether a file holds `needle`. */
static bool s_file_has(const char *path, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[1024];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, needle) != NULL;
    fclose(f);
    return found;
}

/* The one way an aggregator may end before it is ready and be started again:
 * a fixed port it was asked to bind was taken by another process between
 * kc_harness_free_port() and its bind. Recognised positively: exit 69
 * (EX_UNAVAILABLE: kc_agg_new failed) after "KC-AGG-013 cannot start: resource
 * busy" (KC_EBUSY, which kc_agg_new answers for EADDRINUSE only) with the bind's
 * "Address already in use", and no sanitizer or UBSan report. Any other end -
 * a signal (a crash, an ASan abort, SIGKILL), another exit code, another
 * message - is a failure of the start. */
static bool s_port_taken(int st, const char *err)
{
    return WIFEXITED(st) && WEXITSTATUS(st) == 69 &&
           s_file_has(err, "KC-AGG-013 cannot start: resource busy") &&
           s_file_has(err, strerror(EADDRINUSE)) && !s_file_has(err, "Sanitizer") &&
           !s_file_has(err, "runtime error");
}

/* The aggregator `a` (incarnation a->incarnation) ended with status st where
 * it should not have: print all its stderr, fail (the temp dir is kept). */
static void s_agg_died(const kc_agg_t *a, int st, const char *when) __attribute__((noreturn));
static void s_agg_died(const kc_agg_t *a, int st, const char *when)
{
    char err[KC_PATH_MAX], sb[64];
    kc_harness_path(err, "agg-%d.err", a->incarnation);
    s_print_file("stderr of the kc-aggregator that died", err);
    kc_harness_fail(__FILE__, __LINE__, "kc-aggregator alive",
                    "kc-aggregator (pid %d, %s) %s: %s; its stderr: %s", (int)a->pid, a->store,
                    when, kc_harness_status_str(st, sb, sizeof sb), err);
}

void kc_harness_agg_start(kc_agg_t *a, const char *store, const char *listen,
                          const char *const *extra)
{
    char bin[KC_PATH_MAX];
    kc_harness_bin(bin, "kc-aggregator");
    snprintf(a->store, sizeof a->store, "%s", store);
    snprintf(a->listen, sizeof a->listen, "%s", listen);
    for (int attempt = 1; attempt <= AGG_ATTEMPTS; attempt++) {
        a->incarnation++;
        kc_harness_path(a->ready, "agg-%d.ready", a->incarnation);
        unlink(a->ready);
        char *argv[32];
        int n = 0;
        argv[n++] = bin;
        argv[n++] = "--listen";
        argv[n++] = a->listen;
        argv[n++] = "--store";
        argv[n++] = a->store;
        argv[n++] = "--ready-file";
        argv[n++] = a->ready;
        for (int i = 0; extra && extra[i] && n < 30; i++)
            argv[n++] = (char *)extra[i];
        argv[n] = NULL;
        char out[KC_PATH_MAX], err[KC_PATH_MAX];
        kc_harness_path(out, "agg-%d.out", a->incarnation);
        kc_harness_path(err, "agg-%d.err", a->incarnation);
        a->pid = kc_harness_spawn(argv, out, err);
        int64_t deadline = kc_harness_now_ms() + AGG_READY_MS;
        int st = 0;
        bool died = false;
        while (kc_harness_now_ms() < deadline) {
            if (kc_harness_read_line(a->ready, a->endpoint, sizeof a->endpoint) == 0)
                return;
            if (kc_harness_exited(a->pid, &st)) {
                died = true;
                break;
            }
            kc_harness_poll_pause();
        }
        if (!died) {
            s_print_file("stderr of the kc-aggregator not ready", err);
            KC_CHECK(false, "kc-aggregator (pid %d) not ready within %d ms; its stderr: %s",
                     (int)a->pid, AGG_READY_MS, err);
        }
        if (!s_port_taken(st, err))
            s_agg_died(a, st,
                       "ended before it was ready (a crash or failure while starting or "
                       "recovering the store is never retried)");
        char sb[64];
        fprintf(stderr,
                "harness: kc-aggregator attempt %d ended before ready (%s: a port of %s was "
                "taken by another process); retrying; its stderr is kept: %s\n",
                attempt, kc_harness_status_str(st, sb, sizeof sb), a->listen, err);
        s_print_file("stderr of the kc-aggregator attempt retried", err);
        if (s_nkept < (int)(sizeof s_kept / sizeof s_kept[0]))
            snprintf(s_kept[s_nkept++], KC_PATH_MAX, "%s", err);
        a->pid = 0;
    }
    KC_CHECK(false, "kc-aggregator did not start after %d attempts (port taken each time)",
             AGG_ATTEMPTS);
}

unsigned kc_harness_agg_http_port(const kc_agg_t *a)
{
    FILE *f = fopen(a->ready, "r");
    KC_CHECK(f != NULL, "no ready file %s", a->ready);
    char line[256];
    unsigned port = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "http http://127.0.0.1:%u/", &port) == 1)
            break;
    fclose(f);
    KC_CHECK(port > 0, "the ready file %s names no HTTP port", a->ready);
    return port;
}

void kc_harness_agg_kill(kc_agg_t *a)
{
    int st = 0;
    char sb[64];
    KC_CHECK(a->pid > 0, "no kc-aggregator to kill");
    if (kc_harness_exited(a->pid, &st))
        s_agg_died(a, st, "had ended already when it was to be killed");
    st = kc_harness_stop(a->pid, SIGKILL, 10000);
    KC_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "kc-aggregator on SIGKILL: %s",
             kc_harness_status_str(st, sb, sizeof sb));
    a->pid = 0;
}

void kc_harness_agg_term(kc_agg_t *a)
{
    KC_CHECK(a->pid > 0, "no kc-aggregator to stop");
    int st = kc_harness_stop(a->pid, SIGTERM, STOP_GRACE_MS);
    if (!(WIFEXITED(st) && WEXITSTATUS(st) == 0))
        s_agg_died(a, st, "on SIGTERM (expected exit 0)");
    a->pid = 0;
}

pid_t kc_harness_send_start(const char *endpoint, const char *producer, const char *spool,
                            const char *csv, const char *out_path, const char *const *extra)
{
    char bin[KC_PATH_MAX], err[KC_PATH_MAX + 8];
    kc_harness_bin(bin, "kc-send");
    snprintf(err, sizeof err, "%s.err", out_path);
    char *argv[40];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "--connect";
    argv[n++] = (char *)endpoint;
    argv[n++] = "--producer";
    argv[n++] = (char *)producer;
    argv[n++] = "--spool";
    argv[n++] = (char *)spool;
    argv[n++] = "--timeout";
    argv[n++] = "120";
    argv[n++] = "--request-timeout-ms";
    argv[n++] = "1000";
    for (int i = 0; extra && extra[i] && n < 36; i++)
        argv[n++] = (char *)extra[i];
    argv[n++] = (char *)csv;
    argv[n] = NULL;
    unlink(out_path);
    unlink(err);
    return kc_harness_spawn(argv, out_path, err);
}

int kc_harness_summary(const char *out_path, kc_summary_t *s)
{
    FILE *f = fopen(out_path, "r");
    if (!f)
        return -1;
    char line[1024], last[1024] = "";
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "summary:", 8) == 0)
            snprintf(last, sizeof last, "%s", line);
    fclose(f);
    memset(s, 0, sizeof *s);
    int n = sscanf(last,
                   "summary: rows=%ld accepted=%ld duplicates=%ld rejected=%ld malformed=%ld "
                   "unacknowledged=%ld",
                   &s->rows, &s->accepted, &s->duplicates, &s->rejected, &s->malformed,
                   &s->unacknowledged);
    return n == 6 ? 0 : -1;
}

int kc_harness_log_size(const char *store, uint64_t *n)
{
    kc_store_t *s = NULL;
    kc_store_opts_t o = {.read_only = true};
    int rc = kc_store_open(&s, store, &o);
    if (rc != 0)
        return rc;
    kc_txn_t *t = NULL;
    rc = kc_store_read_begin(s, &t);
    if (rc == 0)
        rc = kc_txn_log_size(t, n);
    kc_txn_end(&t);
    kc_store_close(&s);
    return rc;
}

int kc_harness_producer_counts(const char *store, const char *producer, uint64_t *accepted,
                               uint64_t *hwm)
{
    kc_store_t *s = NULL;
    kc_store_opts_t o = {.read_only = true};
    int rc = kc_store_open(&s, store, &o);
    if (rc != 0)
        return rc;
    kc_txn_t *t = NULL;
    kc_producer_state_t st = {0};
    rc = kc_store_read_begin(s, &t);
    if (rc == 0)
        rc = kc_txn_producer_get(t, producer, &st);
    if (rc == KC_ENOTFOUND)
        rc = 0; /* not seen yet: zero */
    kc_txn_end(&t);
    kc_store_close(&s);
    *accepted = st.accepted;
    *hwm = st.hwm;
    return rc;
}

void kc_harness_send_wait(pid_t pid, const char *out_path, int timeout_ms, int want_exit,
                          kc_summary_t *s)
{
    int st = 0;
    char sb[64];
    if (pid >= 0) { /* else reaped already by the caller, who checked its exit */
        if (kc_harness_wait(pid, timeout_ms, &st) != 0) {
            kc_harness_stop(pid, SIGKILL, 5000);
            KC_CHECK(false, "kc-send %s did not end within %d ms", out_path, timeout_ms);
        }
        KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == want_exit, "kc-send %s: %s (expected exit %d)",
                 out_path, kc_harness_status_str(st, sb, sizeof sb), want_exit);
    }
    KC_CHECK(kc_harness_summary(out_path, s) == 0, "kc-send %s printed no summary line", out_path);
}

void kc_harness_send_check(pid_t pid, const char *out_path, int timeout_ms, long expect_rows,
                           kc_summary_t *s)
{
    kc_harness_send_wait(pid, out_path, timeout_ms, 0, s);
    KC_CHECK((expect_rows < 0 || s->rows == expect_rows) &&
                 s->accepted + s->duplicates == s->rows && s->rejected == 0 && s->malformed == 0 &&
                 s->unacknowledged == 0,
             "kc-send %s: rows=%ld accepted=%ld duplicates=%ld rejected=%ld malformed=%ld "
             "unacknowledged=%ld (expected rows=%ld, all accepted or duplicate)",
             out_path, s->rows, s->accepted, s->duplicates, s->rejected, s->malformed,
             s->unacknowledged, expect_rows);
}
