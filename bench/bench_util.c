/* bench_util.c - pieces shared by the bench programs (see bench_util.h). */
#include "bench_util.h"

#include <sys/resource.h>

#include "kc_cert.h"
#include "kc_err.h"
#include "kc_ref.h"
#include "kc_store.h"
#include "kc_time.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define READY_MS 60000
#define STOP_MS  60000
#define MAX_KIDS (BU_MAX_PRODUCERS + 8)

char bu_dir[PATH_MAX / 2];
static const char *s_prog = "bench";
static pid_t s_kids[MAX_KIDS];
static pid_t s_agg;
static pid_t s_prod[BU_MAX_PRODUCERS];
static int s_nprod;
static int s_ready_fd = -1, s_go_fd = -1;
static char s_server_pub[KC_CERT_KEY_LEN + 1];
static char s_cert[BU_MAX_PRODUCERS][PATH_MAX / 2 + 64];

void bu_init(const char *prog)
{
    s_prog = prog;
    signal(SIGPIPE, SIG_IGN);
}

void bu_pause(void)
{
    struct timespec ts = {0, 2 * 1000 * 1000};
    nanosleep(&ts, NULL);
}

void bu_die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "%s: ", s_prog);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (bu_dir[0])
        fprintf(stderr, "%s: files kept in %s\n", s_prog, bu_dir);
    exit(1);
}

long bu_num(const char *opt, const char *arg, long min)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (errno || end == arg || *end || v < min) {
        fprintf(stderr, "%s: bad value for %s: %s\nTry --help.\n", s_prog, opt, arg);
        exit(64);
    }
    return v;
}

void bu_track(pid_t pid)
{
    for (int i = 0; i < MAX_KIDS; i++)
        if (s_kids[i] <= 0) {
            s_kids[i] = pid;
            return;
        }
}

void bu_untrack(pid_t pid)
{
    for (int i = 0; i < MAX_KIDS; i++)
        if (s_kids[i] == pid)
            s_kids[i] = 0;
}

/* atexit in the parent: stop every process we started, by pid. */
static void s_cleanup(void)
{
    for (int i = 0; i < MAX_KIDS; i++)
        if (s_kids[i] > 0) {
            kill(s_kids[i], SIGKILL);
            waitpid(s_kids[i], NULL, 0);
            s_kids[i] = 0;
        }
}

void bu_mkdir(const char *parent)
{
    if (!parent || !*parent)
        parent = getenv("TMPDIR");
    if (!parent || !*parent)
        parent = "/tmp";
    snprintf(bu_dir, sizeof bu_dir, "%s/kc-bench-XXXXXX", parent);
    if (!mkdtemp(bu_dir)) {
        char d[sizeof bu_dir];
        snprintf(d, sizeof d, "%s", bu_dir);
        bu_dir[0] = '\0';
        bu_die("mkdtemp %s: %s", d, strerror(errno));
    }
    atexit(s_cleanup);
}

static int s_rm(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void bu_finish_dir(bool keep)
{
    if (keep)
        printf("  kept %s\n", bu_dir);
    else
        nftw(bu_dir, s_rm, 16, FTW_DEPTH | FTW_PHYS);
}

void bu_find_tool(const char *given, const char *name, char *out, size_t cap)
{
    if (given) {
        snprintf(out, cap, "%s", given);
        return;
    }
    const char *bin = getenv("KC_BIN_DIR");
    if (bin && *bin) {
        snprintf(out, cap, "%s/%s", bin, name);
        if (access(out, X_OK) == 0)
            return;
    }
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
    if (len > 0) {
        self[len] = '\0';
        snprintf(out, cap, "%s/%s", dirname(self), name);
        if (access(out, X_OK) == 0)
            return;
    }
    bu_die("cannot find %s (set KC_BIN_DIR or use the option naming it)", name);
}

pid_t bu_spawn(char *const argv[], const char *out_path, const char *err_path)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        bu_die("fork: %s", strerror(errno));
    if (pid == 0) {
        int fo = open(out_path ? out_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        int fe = err_path && out_path && strcmp(err_path, out_path) == 0
                     ? fo
                     : open(err_path ? err_path : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fo >= 0)
            dup2(fo, STDOUT_FILENO);
        if (fe >= 0)
            dup2(fe, STDERR_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    bu_track(pid);
    return pid;
}

int bu_run(char *const argv[], const char *out_path, const char *err_path)
{
    pid_t pid = bu_spawn(argv, out_path, err_path);
    int st = 0;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    bu_untrack(pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* ---- the aggregator ---- */

pid_t bu_agg_start(const bu_agg_opts_t *o, char *endpoint, size_t cap)
{
    char store[PATH_MAX], ready[PATH_MAX], log[PATH_MAX], gm[32], gw[32], sec[PATH_MAX],
        reg[PATH_MAX];
    snprintf(store, sizeof store, "%s/store", bu_dir);
    snprintf(ready, sizeof ready, "%s/aggregator.ready", bu_dir);
    snprintf(log, sizeof log, "%s/aggregator.log", bu_dir);
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)o->bin;
    argv[n++] = "--listen";
    argv[n++] = "tcp://127.0.0.1:*";
    argv[n++] = "--store";
    argv[n++] = store;
    argv[n++] = "--ready-file";
    argv[n++] = ready;
    argv[n++] = "--log-level";
    argv[n++] = "warn";
    if (o->group_max) {
        snprintf(gm, sizeof gm, "%ld", o->group_max);
        argv[n++] = "--group-max";
        argv[n++] = gm;
    }
    if (o->group_window_ms >= 0) {
        snprintf(gw, sizeof gw, "%ld", o->group_window_ms);
        argv[n++] = "--group-window-ms";
        argv[n++] = gw;
    }
    if (o->curve) {
        snprintf(sec, sizeof sec, "%s/keys/aggregator_secret", bu_dir);
        snprintf(reg, sizeof reg, "%s/keys/registry", bu_dir);
        argv[n++] = "--curve-secret";
        argv[n++] = sec;
        argv[n++] = "--registry";
        argv[n++] = reg;
    }
    for (int i = 0; i < 8 && o->extra[i]; i++)
        argv[n++] = (char *)o->extra[i];
    argv[n] = NULL;
    s_agg = bu_spawn(argv, log, log);
    int64_t deadline = kc_time_mono_ns() + (int64_t)READY_MS * 1000000;
    while (kc_time_mono_ns() < deadline) {
        FILE *f = fopen(ready, "r");
        if (f) {
            bool ok = fgets(endpoint, (int)cap, f) != NULL;
            fclose(f);
            endpoint[strcspn(endpoint, "\r\n")] = '\0';
            if (ok && endpoint[0])
                return s_agg;
        }
        if (waitpid(s_agg, NULL, WNOHANG) == s_agg) {
            bu_untrack(s_agg);
            s_agg = 0;
            bu_die("kc-aggregator exited before it was ready (see %s)", log);
        }
        bu_pause();
    }
    bu_die("kc-aggregator not ready within %d ms", READY_MS);
}

pid_t bu_agg_pid(void)
{
    return s_agg;
}

void bu_agg_check(void)
{
    int st = 0;
    if (s_agg > 0 && waitpid(s_agg, &st, WNOHANG) == s_agg) {
        bu_untrack(s_agg);
        s_agg = 0;
        bu_die("kc-aggregator ended during the run (status 0x%x); see %s/aggregator.log", st,
               bu_dir);
    }
}

void bu_agg_stop(void)
{
    kill(s_agg, SIGTERM);
    int st = 0;
    int64_t deadline = kc_time_mono_ns() + (int64_t)STOP_MS * 1000000;
    while (waitpid(s_agg, &st, WNOHANG) == 0) {
        if (kc_time_mono_ns() > deadline)
            bu_die("kc-aggregator ignored SIGTERM for %d ms", STOP_MS);
        bu_pause();
    }
    bu_untrack(s_agg);
    s_agg = 0;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        bu_die("kc-aggregator did not exit 0 on SIGTERM (status 0x%x)", st);
}

bool bu_ready_value(const char *key, char *out, size_t cap)
{
    char path[PATH_MAX], line[512];
    snprintf(path, sizeof path, "%s/aggregator.ready", bu_dir);
    FILE *f = fopen(path, "r");
    if (!f)
        return false;
    bool found = false;
    size_t kl = strlen(key);
    while (!found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
            snprintf(out, cap, "%s", line + kl + 1);
            found = true;
        }
    }
    fclose(f);
    return found;
}

/* The number after `key` in /proc/PID/FILE, or -1. */
static long long s_proc_num(pid_t pid, const char *file, const char *key)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    FILE *f = fopen(path, "r");
    long long v = -1;
    if (!f)
        return -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, kl) == 0) {
            v = strtoll(line + kl, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

long bu_vmhwm_kb(pid_t pid)
{
    return (long)s_proc_num(pid, "status", "VmHWM:");
}

long long bu_wchar(pid_t pid)
{
    return s_proc_num(pid, "io", "wchar:");
}

double bu_cpu_s(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* after the command name */
    unsigned long long ut = 0, st = 0;
    /* fields 3.. after ")": state ppid pgrp session tty tpgid flags minflt cminflt majflt
     * cmajflt utime stime */
    if (!p ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- CURVE ---- */

void bu_curve_setup(const char *agg_bin, int n)
{
    char keygen[PATH_MAX], dir[PATH_MAX / 2 + 8], out[PATH_MAX / 2 + 48], err[PATH_MAX],
        path[PATH_MAX];
    snprintf(keygen, sizeof keygen, "%s", agg_bin);
    char *slash = strrchr(keygen, '/');
    snprintf(slash ? slash + 1 : keygen, sizeof keygen - (size_t)(slash ? slash + 1 - keygen : 0),
             "kc-keygen");
    snprintf(dir, sizeof dir, "%s/keys", bu_dir);
    if (mkdir(dir, 0700) != 0)
        bu_die("mkdir %s: %s", dir, strerror(errno));
    snprintf(err, sizeof err, "%s/keygen.err", dir);
    snprintf(path, sizeof path, "%s/registry", dir);
    FILE *reg = fopen(path, "w");
    if (!reg)
        bu_die("cannot write %s: %s", path, strerror(errno));
    for (int i = -1; i < n; i++) {
        char name[32];
        if (i < 0)
            snprintf(name, sizeof name, "aggregator");
        else
            snprintf(name, sizeof name, "bench-%02d", i);
        snprintf(out, sizeof out, "%s/%s", dir, name);
        char *argv[] = {keygen, "--out", out, "--name", name, NULL};
        if (bu_run(argv, NULL, err) != 0)
            bu_die("%s --out %s failed (see %s)", keygen, out, err);
        kc_cert_t c;
        if (kc_cert_load(out, false, &c) != 0)
            bu_die("cannot read %s", out);
        if (i < 0) {
            memcpy(s_server_pub, c.public_key, sizeof s_server_pub);
        } else {
            fprintf(reg, "producer %s key \"%s\" provinces *\n", name, c.public_key);
            snprintf(s_cert[i], sizeof s_cert[i], "%s_secret", out);
        }
    }
    if (fclose(reg) != 0)
        bu_die("cannot write %s", path);
}

void bu_curve_client(int idx, kc_producer_opts_t *po)
{
    if (!s_server_pub[0])
        return;
    po->server_public_key = s_server_pub;
    po->client_cert_file = s_cert[idx];
}

/* ---- producers ---- */

void bu_prod_init(bu_prod_t *c, uint64_t n, bu_report_t *rep)
{
    *c = (bu_prod_t){.n = n, .rep = rep, .next_pct = 1};
    rep->n = n;
    c->add_ns = calloc(n, sizeof *c->add_ns);
    c->lat = calloc(n, sizeof *c->lat);
    if (!c->add_ns || !c->lat)
        bu_die("out of memory");
}

void bu_on_result(const kc_result_t *r, void *ctx)
{
    bu_prod_t *c = ctx;
    int64_t now = kc_time_mono_ns();
    uint64_t i = r->seq - c->first_seq;
    if (r->seq >= c->first_seq && i < c->n && c->rep->lat_count < c->n)
        c->lat[c->rep->lat_count++] = (uint64_t)(now - c->add_ns[i]);
    if (r->reason == KCI_ACCEPTED)
        c->rep->accepted++;
    else if (r->reason == KCI_DUPLICATE)
        c->rep->duplicates++;
    else if (c->rep->rejected++ < 5)
        fprintf(stderr, "%s: producer event %s rejected: %s %s\n", s_prog, r->event_id,
                r->reason_name, r->text);
    c->rep->last_ack_ns = now;
    uint64_t final = c->rep->accepted + c->rep->duplicates + c->rep->rejected;
    while (c->next_pct <= 100 && final * 100 >= (uint64_t)c->next_pct * c->n)
        c->rep->pct_ns[c->next_pct++] = now;
}

void bu_prod_added(bu_prod_t *c, uint64_t i, uint64_t seq, int64_t t)
{
    if (i == 0)
        c->first_seq = seq;
    c->add_ns[seq - c->first_seq < c->n ? seq - c->first_seq : 0] = t;
    c->rep->sent++;
}

kc_producer_t *bu_producer_open(int idx, const char *endpoint, size_t batch, size_t window,
                                int request_timeout_ms, bu_prod_t *c)
{
    static char id[32], spool[PATH_MAX];
    snprintf(id, sizeof id, "bench-%02d", idx);
    snprintf(spool, sizeof spool, "%s/spool-%02d", bu_dir, idx);
    kc_producer_opts_t po = {.endpoint = endpoint,
                             .producer_id = id,
                             .spool_dir = spool,
                             .request_timeout_ms = request_timeout_ms,
                             .batch_max = batch,
                             .window = window};
    bu_curve_client(idx, &po);
    kc_producer_t *p = NULL;
    kc_ingest_set_log(s_prog, KCI_LOG_WARN, NULL, NULL);
    int rc = kc_producer_open(&p, &po);
    if (rc != 0) {
        fprintf(stderr, "%s: producer %d: open: %s\n", s_prog, idx, kc_producer_strerror(rc));
        return NULL;
    }
    kc_producer_on_result(p, bu_on_result, c);
    return p;
}

bool bu_report_write(int idx, const bu_prod_t *c)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/producer-%02d.result", bu_dir, idx);
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(c->rep, sizeof *c->rep, 1, f) == 1 &&
              fwrite(c->lat, sizeof *c->lat, c->rep->lat_count, f) == c->rep->lat_count;
    return f && fclose(f) == 0 && ok;
}

void bu_fork_producers(int n, uint64_t events, bu_producer_fn fn, void *ctx)
{
    int ready[2], go[2];
    if (pipe(ready) != 0 || pipe(go) != 0)
        bu_die("pipe: %s", strerror(errno));
    uint64_t per = events / (uint64_t)n, extra = events % (uint64_t)n;
    s_nprod = n;
    for (int i = 0; i < n; i++) {
        uint64_t k = per + ((uint64_t)i < extra ? 1 : 0);
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0)
            bu_die("fork: %s", strerror(errno));
        if (pid == 0) {
            close(ready[0]);
            close(go[1]);
            s_ready_fd = ready[1];
            s_go_fd = go[0];
            _exit(fn(i, k, ctx));
        }
        s_prod[i] = pid;
        bu_track(pid);
    }
    close(ready[1]);
    close(go[0]);
    for (int i = 0; i < n; i++) { /* every producer opened its spool and socket */
        char b;
        if (read(ready[0], &b, 1) != 1)
            bu_die("a producer failed to start");
    }
    close(ready[0]);
    close(go[1]); /* go */
}

void bu_ready_go(void)
{
    char b = 'r';
    if (write(s_ready_fd, &b, 1) != 1)
        _exit(2);
    close(s_ready_fd);
    while (read(s_go_fd, &b, 1) > 0) /* EOF = go */
        ;
    close(s_go_fd);
}

bool bu_wait_producers(void)
{
    bool failed = false;
    for (int left = s_nprod; left > 0;) {
        for (int i = 0; i < s_nprod; i++) {
            int st = 0;
            if (s_prod[i] <= 0 || waitpid(s_prod[i], &st, WNOHANG) != s_prod[i])
                continue;
            bu_untrack(s_prod[i]);
            s_prod[i] = 0;
            left--;
            if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                fprintf(stderr, "%s: producer %d failed (status 0x%x)\n", s_prog, i, st);
                failed = true;
            }
        }
        bu_agg_check();
        if (left > 0)
            bu_pause();
    }
    return !failed;
}

typedef struct {
    int64_t t;
    double events;
} s_step_t;

static int s_step_cmp(const void *a, const void *b)
{
    int64_t x = ((const s_step_t *)a)->t, y = ((const s_step_t *)b)->t;
    return x < y ? -1 : x > y;
}

void bu_gather(int n, uint64_t events, bu_report_t *sum, uint64_t **lat_out)
{
    *sum = (bu_report_t){.first_add_ns = INT64_MAX};
    s_step_t *steps = malloc((size_t)n * 100 * sizeof *steps);
    size_t nsteps = 0;
    if (!steps)
        bu_die("out of memory");
    uint64_t *lat = malloc(events * sizeof *lat);
    if (!lat)
        bu_die("out of memory");
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX];
        snprintf(path, sizeof path, "%s/producer-%02d.result", bu_dir, i);
        FILE *f = fopen(path, "rb");
        bu_report_t r;
        if (!f || fread(&r, sizeof r, 1, f) != 1 || sum->lat_count + r.lat_count > events ||
            fread(lat + sum->lat_count, sizeof *lat, r.lat_count, f) != r.lat_count)
            bu_die("cannot read %s", path);
        fclose(f);
        sum->lat_count += r.lat_count;
        sum->first_add_ns = r.first_add_ns < sum->first_add_ns ? r.first_add_ns : sum->first_add_ns;
        sum->last_ack_ns = r.last_ack_ns > sum->last_ack_ns ? r.last_ack_ns : sum->last_ack_ns;
        for (int k = 1; k <= 100; k++) /* each percent step: n/100 events final at pct_ns[k] */
            if (r.pct_ns[k] && nsteps < (size_t)n * 100)
                steps[nsteps++] = (s_step_t){r.pct_ns[k], (double)r.n / 100.0};
        sum->behind_ns = r.behind_ns > sum->behind_ns ? r.behind_ns : sum->behind_ns;
        sum->sent += r.sent;
        sum->accepted += r.accepted;
        sum->duplicates += r.duplicates;
        sum->rejected += r.rejected;
        for (int m = 0; m < KC_METRIC_COUNT; m++)
            sum->sums[m] += r.sums[m];
    }
    if (sum->accepted != events || sum->sent != events || sum->lat_count != events)
        bu_die("sent %" PRIu64 ", accepted %" PRIu64 ", duplicates %" PRIu64 ", rejected %" PRIu64
               ", latencies %" PRIu64 " (expected %" PRIu64 " each)",
               sum->sent, sum->accepted, sum->duplicates, sum->rejected, sum->lat_count, events);
    /* the time the session had 90% of its events final, from the producers' percent steps */
    qsort(steps, nsteps, sizeof *steps, s_step_cmp);
    double done = 0;
    sum->tail_eps = 0;
    for (size_t k = 0; k < nsteps; k++) {
        done += steps[k].events;
        if (done >= 0.9 * (double)events - 0.5) {
            double secs = (double)(sum->last_ack_ns - steps[k].t) / 1e9;
            if (secs > 0)
                sum->tail_eps = ((double)events - done) / secs;
            break;
        }
    }
    free(steps);
    *lat_out = lat;
}

static int s_kind(const char *s)
{
    return !*s ? KCI_KIND_DEFAULT : strcmp(s, "plan") == 0 ? KCI_KIND_PLAN : KCI_KIND_ACTUAL;
}

static int s_fund(const char *s)
{
    if (!*s)
        return KCI_FUND_DEFAULT;
    return strcmp(s, "kcqg") == 0   ? KCI_FUND_KCQG
           : strcmp(s, "kcdp") == 0 ? KCI_FUND_KCDP
                                    : KCI_FUND_OTHER;
}

void bu_office_province(int idx, char prov[4])
{
    prov[0] = '\0';
    for (size_t i = 0, k = 0; i < kc_ref_province_count(); i++) {
        const kc_province_t *pv = kc_ref_province_at(i);
        if (pv->scheme == 63 && pv->valid_to >= 202212 && k++ == (size_t)idx * 5 % 60) {
            memcpy(prov, pv->code_str, 3);
            prov[3] = '\0';
            break;
        }
    }
}

void bu_next_event(kc_gen_t *g, kc_gen_row_t *r, uint64_t i, uint64_t n, const char *prov,
                   kc_event_t *ev, int64_t sums[KC_METRIC_COUNT])
{
    kc_gen_next(g, r);
    if (prov) { /* a province office: its own province, periods in order */
        memcpy(r->province, prov, sizeof r->province);
        int ym = (int)(i * 21 / n); /* 2021-01 .. 2022-09, like data/demo */
        r->year = 2021 + ym / 12;
        r->month = 1 + ym % 12;
    }
    *ev = (kc_event_t){.event_id = r->event_id,
                       .province = r->province,
                       .year = r->year,
                       .month = r->month,
                       .activity = r->activity,
                       .kind = s_kind(r->kind),
                       .fund = s_fund(r->fund),
                       .present = r->present,
                       .note = r->note};
    for (int m = 0; m < KC_METRIC_COUNT; m++) {
        ev->metrics[m] = r->m[m];
        sums[m] += r->m[m];
    }
}

typedef struct {
    uint64_t events, cells;
    int64_t m[KC_METRIC_COUNT];
} s_cells_t;

static int s_on_cell(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx)
{
    (void)key;
    s_cells_t *c = ctx;
    c->events += cell->events;
    c->cells++;
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        c->m[i] += cell->m[i];
    return 0;
}

uint64_t bu_verify_store(const int64_t sums[KC_METRIC_COUNT], uint64_t events)
{
    char store[PATH_MAX];
    snprintf(store, sizeof store, "%s/store", bu_dir);
    kc_store_t *s = NULL;
    kc_store_opts_t so = {.read_only = true};
    int rc = kc_store_open(&s, store, &so);
    if (rc != 0)
        bu_die("open store: %s", kc_strerror(rc));
    kc_txn_t *t = NULL;
    if ((rc = kc_store_read_begin(s, &t)) != 0)
        bu_die("read store: %s", kc_strerror(rc));
    kc_cell_key_t lo = kc_cell_key_min(), hi = kc_cell_key_max();
    s_cells_t c = {0};
    if ((rc = kc_txn_totals_scan(t, &lo, &hi, s_on_cell, &c)) != 0)
        bu_die("scan totals: %s", kc_strerror(rc));
    uint64_t log = 0;
    if ((rc = kc_txn_log_size(t, &log)) != 0)
        bu_die("log size: %s", kc_strerror(rc));
    kc_txn_end(&t);
    kc_store_close(&s);
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        if (c.m[i] != sums[i])
            bu_die("DATA MISMATCH: total %s = %lld, producers sent %lld", kc_ref_metric(i)->name,
                   (long long)c.m[i], (long long)sums[i]);
    if (c.events != events || log != events)
        bu_die("DATA MISMATCH: store counts %" PRIu64 " events, log %" PRIu64 ", sent %" PRIu64,
               c.events, log, events);
    return c.cells;
}

void bu_session(bu_session_t *s, bu_producer_fn fn, void *ctx)
{
    bu_find_tool(s->aggregator, "kc-aggregator", s->agg_bin, sizeof s->agg_bin);
    bu_mkdir(s->dir);
    if (s->curve)
        bu_curve_setup(s->agg_bin, s->producers);
    bu_agg_opts_t ao = {.bin = s->agg_bin,
                        .group_max = s->group_max,
                        .group_window_ms = s->group_window_ms,
                        .curve = s->curve};
    memcpy(ao.extra, s->extra, sizeof ao.extra);
    pid_t agg = bu_agg_start(&ao, s->endpoint, sizeof s->endpoint);
    if (s->started)
        s->started(s->agg_bin);
    bu_fork_producers(s->producers, s->events, fn, ctx);
    bool ok = bu_wait_producers();
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) == 0) /* the producers (reaped), before the aggregator */
        s->prod_cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                        (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    s->agg_cpu_s = bu_cpu_s(agg);
    if (s->finished)
        s->finished();
    s->peak_rss_kb = bu_vmhwm_kb(agg);
    s->agg_wchar = bu_wchar(agg);
    bu_agg_stop();
    if (!ok)
        bu_die("a producer failed");
    bu_gather(s->producers, s->events, &s->sum, &s->lat);
    s->cells = bu_verify_store(s->sum.sums, s->sum.accepted);
    qsort(s->lat, s->sum.lat_count, sizeof *s->lat, bu_u64_cmp);
}

int bu_u64_cmp(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

double bu_pct_ms(const uint64_t *sorted, uint64_t n, double p)
{
    if (n == 0)
        return 0;
    uint64_t i = (uint64_t)((double)n * p / 100.0);
    return (double)sorted[i < n ? i : n - 1] / 1e6;
}

static int s_dbl_cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

double bu_median(double *v, int k)
{
    qsort(v, (size_t)k, sizeof *v, s_dbl_cmp);
    return k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
}
