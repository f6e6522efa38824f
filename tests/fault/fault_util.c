/* fault_util.c - shared pieces of the fault scenarios (DESIGN in fault_util.h). */
#include "fault_util.h"

#include "kc_err.h"

#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

bool kc_fault_is_long(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--long") == 0)
            return true;
    return false;
}

uint64_t kc_fault_seed(uint64_t dflt)
{
    const char *e = getenv("KC_FAULT_SEED");
    uint64_t seed = e && *e ? strtoull(e, NULL, 0) : dflt;
    fprintf(stderr, "fault: seed %llu (KC_FAULT_SEED to change)\n", (unsigned long long)seed);
    return seed;
}

uint64_t kc_fault_rand(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

void kc_fleet_init(kc_fleet_t *f, int n, size_t rows, uint64_t seed, const char *tag,
                   const char *spool_root)
{
    KC_CHECK(n > 0 && n <= KC_FLEET_MAX, "fleet of %d producers", n);
    memset(f, 0, sizeof *f);
    f->n = n;
    f->rows = rows;
    for (int i = 0; i < n; i++) {
        snprintf(f->prod[i], sizeof f->prod[i], "%s-%d", tag, i + 1);
        kc_harness_path(f->csv[i], "%s.csv", f->prod[i]);
        if (spool_root)
            snprintf(f->spool[i], sizeof f->spool[i], "%s/spool-%s-%d", spool_root, tag, i + 1);
        else
            kc_harness_path(f->spool[i], "spool-%s-%d", tag, i + 1);
        KC_CHECK(kc_gen_csv(f->csv[i], f->prod[i], seed + (uint64_t)i, rows, &f->sums) == 0,
                 "write %s", f->csv[i]);
        kc_oracle_src_t *s = &f->src[i];
        snprintf(s->producer, sizeof s->producer, "%s", f->prod[i]);
        snprintf(s->prefix, sizeof s->prefix, "%s", f->prod[i]);
        s->seed = seed + (uint64_t)i;
        s->rows = rows;
    }
}

void kc_fleet_start(kc_fleet_t *f, int i, const char *endpoint)
{
    KC_CHECK(f->pid[i] == 0, "producer %d is already running", i);
    f->runs[i]++;
    kc_harness_path(f->out[i], "send-%d-%d.out", i + 1, f->runs[i]);
    /* a later --timeout wins over the harness's 120 s: long runs need more */
    const char *args[16] = {"--batch", "250", "--timeout", "3600"};
    int k = 4;
    for (int j = 0; f->extra && f->extra[j] && k < 15; j++)
        args[k++] = f->extra[j];
    args[k] = NULL;
    f->pid[i] =
        kc_harness_send_start(endpoint, f->prod[i], f->spool[i], f->csv[i], f->out[i], args);
}

void kc_fleet_start_all(kc_fleet_t *f, const char *endpoint)
{
    for (int i = 0; i < f->n; i++)
        kc_fleet_start(f, i, endpoint);
}

static void s_clean(kc_fleet_t *f, int i)
{
    kc_summary_t s = {0};
    kc_harness_send_check(-1, f->out[i], 0, -1, &s);
    KC_CHECK(s.rows >= (long)f->rows, "kc-send %s: rows=%ld for a %zu-row file", f->out[i], s.rows,
             f->rows);
    f->accepted += s.accepted;
    f->duplicates += s.duplicates;
    f->src[i].acked = true;
}

int kc_fleet_poll(kc_fleet_t *f)
{
    int running = 0;
    for (int i = 0; i < f->n; i++) {
        if (f->pid[i] <= 0)
            continue;
        int st = 0;
        if (!kc_harness_exited(f->pid[i], &st)) {
            running++;
            continue;
        }
        char sb[64];
        KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kc-send %s ended: %s", f->out[i],
                 kc_harness_status_str(st, sb, sizeof sb));
        f->pid[i] = 0;
        s_clean(f, i);
    }
    return running;
}

void kc_fleet_wait_all(kc_fleet_t *f, int timeout_ms)
{
    int64_t deadline = kc_harness_now_ms() + timeout_ms;
    while (kc_fleet_poll(f) > 0) {
        KC_CHECK(kc_harness_now_ms() < deadline, "kc-send runs still going after %d ms",
                 timeout_ms);
        kc_harness_poll_pause();
    }
}

char *kc_fleet_err(const kc_fleet_t *f, int i, char *buf)
{
    size_t n = strnlen(f->out[i], KC_PATH_MAX - 1);
    memcpy(buf, f->out[i], n);
    memcpy(buf + n, ".err", 5);
    return buf;
}

void kc_fleet_kill(kc_fleet_t *f, int i)
{
    KC_CHECK(f->pid[i] > 0, "producer %d is not running", i);
    int st = kc_harness_stop(f->pid[i], SIGKILL, 10000);
    KC_CHECK(WIFSIGNALED(st), "kc-send %s ended before SIGKILL reached it", f->out[i]);
    f->pid[i] = 0;
}

uint64_t kc_fault_log_size(const char *store)
{
    uint64_t n = 0;
    int rc = kc_harness_log_size(store, &n);
    if (rc == KC_ENOTFOUND)
        return 0;
    KC_CHECK(rc == 0, "read the log size of %s: %s", store, kc_strerror(rc));
    return n;
}

uint64_t kc_fault_wait_log(const char *store, uint64_t n, int timeout_ms, kc_fleet_t *fleet)
{
    int64_t deadline = kc_harness_now_ms() + timeout_ms;
    for (;;) {
        uint64_t size = kc_fault_log_size(store);
        if (size >= n)
            return size;
        if (fleet)
            KC_CHECK(kc_fleet_poll(fleet) > 0, "every kc-send ended with the log at %llu < %llu",
                     (unsigned long long)size, (unsigned long long)n);
        KC_CHECK(kc_harness_now_ms() < deadline, "log stuck at %llu (< %llu) for %d ms",
                 (unsigned long long)size, (unsigned long long)n, timeout_ms);
        kc_harness_poll_pause();
    }
}

int kc_fault_count(const char *path, const char *needle)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return 0;
    char line[4096];
    int n = 0;
    while (fgets(line, sizeof line, fp))
        for (const char *p = line; (p = strstr(p, needle)); p += strlen(needle))
            n++;
    fclose(fp);
    return n;
}

bool kc_fault_wait_text(const char *path, const char *needle, int times, int timeout_ms)
{
    int64_t deadline = kc_harness_now_ms() + timeout_ms;
    int step = 0;
    while (kc_harness_now_ms() < deadline) {
        if (step++ % 10 == 0 && kc_fault_count(path, needle) >= times)
            return true;
        kc_harness_poll_pause();
    }
    return kc_fault_count(path, needle) >= times;
}

long long kc_fault_file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

static long s_status_kb(pid_t pid, const char *field)
{
    char path[64], line[256], pat[64];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    snprintf(pat, sizeof pat, "%s: %%ld kB", field);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, fp))
        if (sscanf(line, pat, &kb) == 1)
            break;
    fclose(fp);
    return kb;
}

long kc_fault_rss_anon_kb(pid_t pid)
{
    return s_status_kb(pid, "RssAnon");
}

long kc_fault_vmhwm_kb(pid_t pid)
{
    return s_status_kb(pid, "VmHWM");
}

long long kc_fault_counter(const char *path, const char *line_tag, const char *key)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    char line[4096], last[4096] = "", pat[128];
    snprintf(pat, sizeof pat, " %s=", key);
    while (fgets(line, sizeof line, fp))
        if (strstr(line, line_tag) && strstr(line, pat))
            snprintf(last, sizeof last, "%s", line);
    fclose(fp);
    const char *p = strstr(last, pat);
    return p ? strtoll(p + strlen(pat), NULL, 10) : -1;
}

long long kc_proxy_field(const kc_proxy_t *px, const char *key)
{
    char line[512], pat[32];
    if (kc_harness_read_line(px->status, line, sizeof line) != 0)
        return -1;
    snprintf(pat, sizeof pat, "%s=", key);
    for (const char *p = line; (p = strstr(p, pat)); p++)
        if (p == line || p[-1] == ' ')
            return strtoll(p + strlen(pat), NULL, 10);
    return -1;
}

void kc_proxy_start(kc_proxy_t *px, const char *target_endpoint)
{
    memset(px, 0, sizeof *px);
    const char *colon = strrchr(target_endpoint, ':');
    int target = colon ? atoi(colon + 1) : 0;
    KC_CHECK(target > 0, "no port in the aggregator endpoint %s", target_endpoint);
    kc_harness_path(px->ctl, "proxy.ctl");
    kc_harness_path(px->status, "proxy.status");
    kc_harness_path(px->record, "acks.rec");
    kc_harness_path(px->err, "proxy.err");
    KC_CHECK(mkfifo(px->ctl, 0600) == 0, "mkfifo %s: %s", px->ctl, strerror(errno));
    char bin[KC_PATH_MAX], ps[16], ts[16];
    kc_harness_bin(bin, "kc-faultproxy");
    snprintf(ts, sizeof ts, "%d", target);
    /* the port was free when chosen; if another process takes it first the
     * proxy exits at bind (69): choose again, a few times */
    for (int attempt = 0;; attempt++) {
        do
            px->port = kc_harness_free_port();
        while (px->port == target);
        snprintf(ps, sizeof ps, "%d", px->port);
        char *argv[] = {bin,     "--listen", ps,         "--target", ts,         "--control",
                        px->ctl, "--status", px->status, "--record", px->record, NULL};
        px->pid = kc_harness_spawn(argv, NULL, px->err);
        int64_t deadline = kc_harness_now_ms() + 10000;
        int st = 0;
        bool ended = false;
        while (kc_proxy_field(px, "gen") < 0 && !ended) {
            ended = kc_harness_exited(px->pid, &st);
            KC_CHECK(kc_harness_now_ms() < deadline, "kc-faultproxy not ready (see %s)", px->err);
            kc_harness_poll_pause();
        }
        if (!ended)
            break;
        char sb[64];
        KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 69 && attempt < 4,
                 "kc-faultproxy ended at start on port %d: %s (see %s)", px->port,
                 kc_harness_status_str(st, sb, sizeof sb), px->err);
    }
    px->ctl_fd = open(px->ctl, O_WRONLY | O_CLOEXEC);
    KC_CHECK(px->ctl_fd >= 0, "open %s: %s", px->ctl, strerror(errno));
    snprintf(px->endpoint, sizeof px->endpoint, "tcp://127.0.0.1:%d", px->port);
    kc_oracle_use_record(px->record);
    fprintf(stderr, "fault: kc-faultproxy on %s -> port %d, record %s\n", px->endpoint, target,
            px->record);
}

void kc_proxy_mode(kc_proxy_t *px, const char *cmd)
{
    char line[64];
    int n = snprintf(line, sizeof line, "%s\n", cmd);
    KC_CHECK(n > 0 && n < (int)sizeof line && write(px->ctl_fd, line, (size_t)n) == n,
             "write '%s' to the proxy's control fifo", cmd);
    px->cmds++;
    int64_t deadline = kc_harness_now_ms() + 10000;
    while (kc_proxy_field(px, "gen") < px->cmds) {
        KC_CHECK(kc_harness_now_ms() < deadline, "the proxy did not apply '%s'", cmd);
        kc_harness_poll_pause();
    }
    fprintf(stderr, "fault: proxy mode %s\n", cmd);
}

void kc_proxy_stop(kc_proxy_t *px)
{
    KC_CHECK(px->pid > 0, "the proxy is not running");
    int st = kc_harness_stop(px->pid, SIGTERM, 10000);
    char line[512] = ""; /* rewritten at exit: the final counters */
    kc_harness_read_line(px->status, line, sizeof line);
    px->pid = 0;
    close(px->ctl_fd);
    px->ctl_fd = -1;
    char sb[64];
    KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kc-faultproxy: %s (see %s)",
             kc_harness_status_str(st, sb, sizeof sb), px->err);
    KC_CHECK(kc_proxy_field(px, "undecoded") == 0 && kc_proxy_field(px, "unmatched") == 0 &&
                 kc_proxy_field(px, "acks") > 0,
             "kc-faultproxy: every stream decoded, every Ack matched, some recorded: %s", line);
    fprintf(stderr, "fault: proxy status at the end: %s\n", line);
}

uint64_t kc_fault_spool_next_seq(const char *spool_dir)
{
    MDB_env *env = NULL;
    MDB_txn *txn = NULL;
    MDB_dbi dbi;
    MDB_val k = {.mv_size = 8, .mv_data = "next_seq"}, v;
    uint64_t next = 0;
    if (mdb_env_create(&env) == 0 && mdb_env_set_maxdbs(env, 8) == 0 &&
        mdb_env_open(env, spool_dir, MDB_RDONLY, 0600) == 0 &&
        mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) == 0 &&
        mdb_dbi_open(txn, "meta", 0, &dbi) == 0 && mdb_get(txn, dbi, &k, &v) == 0 &&
        v.mv_size == 8) {
        const uint8_t *b = v.mv_data;
        for (int i = 0; i < 8; i++)
            next = next << 8 | b[i];
    }
    if (txn)
        mdb_txn_abort(txn);
    if (env)
        mdb_env_close(env);
    return next;
}

static char *s_asan_saved;
static bool s_preloaded;

void kc_fault_preload(const char *lib, const char *asan_extra)
{
    KC_CHECK(!s_preloaded, "kc_fault_preload: a shim is preloaded already");
    s_preloaded = true;
    const char *old = getenv("ASAN_OPTIONS");
    s_asan_saved = old ? strdup(old) : NULL;
    char opts[1024];
    snprintf(opts, sizeof opts, "%s%s%s%sverify_asan_link_order=0", old ? old : "", old ? ":" : "",
             asan_extra ? asan_extra : "", asan_extra ? ":" : "");
    setenv("ASAN_OPTIONS", opts, 1);
    setenv("LD_PRELOAD", lib, 1);
}

void kc_fault_unpreload(void)
{
    unsetenv("LD_PRELOAD");
    if (s_asan_saved)
        setenv("ASAN_OPTIONS", s_asan_saved, 1);
    else
        unsetenv("ASAN_OPTIONS");
    free(s_asan_saved);
    s_asan_saved = NULL;
    s_preloaded = false;
}
