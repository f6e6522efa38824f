/* watch_test.c - kc-watch against a real kc-aggregator with its live feed on.
 *
 * The aggregator runs with --feed tcp://127.0.0.1:0 (its ready file then names
 * the feed and snapshot endpoints); data/demo CSVs are sent with kc-send; every
 * figure kc-watch prints is compared with kc-query's answer for the same
 * filters on the same store (all sends have finished, so both see one state):
 *   1. usage errors exit 64; a feed nobody serves exits 69 after --timeout,
 *      and after 10 s with --once and no --timeout (saying so on stderr);
 *   2. --plain --once (default year, a year with months, --units 34): one line
 *      per province of the south (reported or not) and a total line, spending
 *      and plan equal to `kc-query --by province --plan --format json`;
 *   3. on a pseudo-terminal: --once --lang vi prints the table with Vietnamese
 *      labels and numbers; the live view enters the alternate screen, draws
 *      the table and leaves the alternate screen on SIGTERM (exit 0);
 *   4. a running --plain kc-watch, read through a FIFO: after more CSVs are
 *      sent, lines come for exactly the provinces that changed, ending at the
 *      figures kc-query gives;
 *   5. sums beyond int64 (issue 12): a second aggregator serves a store whose
 *      cells (written through libkcstore, as an older version's store may
 *      hold them) are 2^63-1 for 79 and 5 for 80 in 2024; the plain lines and
 *      the terminal table show the exact total 9223372036854775812.
 * Waits are bounded polls of observable events; every process is stopped by pid.
 */
#include "../store/store_test_util.h"
#include "harness.h"

#include "kc_ref.h"
#include "kc_store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#define WAIT_MS 60000
#define MAX_REC 512

typedef struct {
    char province[8]; /* "79" or "total" */
    int scheme, year;
    uint64_t seq;
    int64_t spend, plan;
    char last[40], status[16], percent[16];
} s_rec_t;

/* kc-query's answer, indexed by scheme-34 ? 100 + code : code. */
typedef struct {
    bool row[200];
    int64_t spend[200], plan[200];
    int64_t total_spend, total_plan;
} s_answer_t;

static const char *s_dir;
static char s_ready[KC_PATH_MAX];
static pid_t s_pty_pid; /* a child started by forkpty (not in the harness's list) */

static void s_kill_pty(void)
{
    if (s_pty_pid > 0) {
        kill(s_pty_pid, SIGKILL);
        waitpid(s_pty_pid, NULL, 0);
        s_pty_pid = 0;
    }
}

/* Run a program to its end (bounded); returns its exit code (-1 on a signal). */
static int s_run(char *const argv[], const char *out, const char *err)
{
    unlink(out);
    pid_t pid = kc_harness_spawn(argv, out, err);
    int st = 0;
    KC_CHECK(kc_harness_wait(pid, WAIT_MS, &st) == 0, "%s did not end within %d ms", argv[0],
             WAIT_MS);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The demo CSV of a province code (data/demo/CODE-*.csv). */
static void s_csv(const char *code, char *out, size_t cap)
{
    const char *src = getenv("KC_SOURCE_DIR");
    KC_CHECK(src, "KC_SOURCE_DIR is not set");
    char dir[KC_PATH_MAX];
    snprintf(dir, sizeof dir, "%s/data/demo", src);
    DIR *d = opendir(dir);
    KC_CHECK(d, "cannot open %s", dir);
    struct dirent *e;
    out[0] = '\0';
    while ((e = readdir(d)))
        if (strncmp(e->d_name, code, 2) == 0 && e->d_name[2] == '-' && strstr(e->d_name, ".csv")) {
            int n = snprintf(out, cap, "%s/%s", dir, e->d_name);
            KC_CHECK(n > 0 && (size_t)n < cap, "path too long: %s/%s", dir, e->d_name);
        }
    closedir(d);
    KC_CHECK(out[0], "no demo CSV for province %s", code);
}

/* Send the demo CSVs of the codes, in parallel, each by its own producer. */
static void s_send(const char *endpoint, const char *const *codes)
{
    pid_t pids[32];
    char outs[32][KC_PATH_MAX];
    int n = 0;
    for (; codes[n]; n++) {
        char csv[KC_PATH_MAX], producer[32], spool[KC_PATH_MAX];
        s_csv(codes[n], csv, sizeof csv);
        snprintf(producer, sizeof producer, "office-%s", codes[n]);
        kc_harness_path(spool, "spool-%s", codes[n]);
        kc_harness_path(outs[n], "send-%s.out", codes[n]);
        pids[n] = kc_harness_send_start(endpoint, producer, spool, csv, outs[n], NULL);
    }
    for (int i = 0; i < n; i++) {
        kc_summary_t s;
        kc_harness_send_check(pids[i], outs[i], WAIT_MS, -1, &s);
        KC_CHECK(s.accepted > 0, "kc-send %s accepted nothing", codes[i]);
    }
}

static int64_t s_json_amount(json_t *totals)
{
    json_t *v = json_object_get(totals, "amount_vnd");
    KC_CHECK(json_is_integer(v), "kc-query JSON: no integer amount_vnd");
    return json_integer_value(v);
}

/* kc-query --region south --year Y --months A-B [--units 34] --by province --plan. */
static void s_query(const char *store, int year, const char *months, bool units34, s_answer_t *a)
{
    char bin[KC_PATH_MAX], out[KC_PATH_MAX], err[KC_PATH_MAX], ys[8];
    kc_harness_bin(bin, "kc-query");
    kc_harness_path(out, "query.json");
    kc_harness_path(err, "query.err");
    snprintf(ys, sizeof ys, "%d", year);
    char *argv[24] = {bin,        "--store", (char *)store, "--region",     "south",
                      "--year",   ys,        "--months",    (char *)months, "--by",
                      "province", "--plan",  "--format",    "json"};
    int n = 14;
    if (units34) {
        argv[n++] = "--units";
        argv[n++] = "34";
    }
    argv[n] = NULL;
    KC_CHECK(s_run(argv, out, err) == 0, "kc-query failed (see %s)", err);
    json_error_t je;
    json_t *root = json_load_file(out, 0, &je);
    KC_CHECK(root, "kc-query output is not JSON: %s", je.text);
    memset(a, 0, sizeof *a);
    a->total_spend = s_json_amount(json_object_get(root, "totals"));
    a->total_plan = s_json_amount(json_object_get(json_object_get(root, "plan"), "totals"));
    json_t *rows = json_object_get(root, "rows"), *row;
    size_t i;
    KC_CHECK(json_is_array(rows), "kc-query JSON has no rows");
    json_array_foreach(rows, i, row)
    {
        const char *key = json_string_value(json_object_get(row, "key"));
        json_t *sch = json_object_get(row, "scheme");
        int scheme = json_is_integer(sch) ? (int)json_integer_value(sch) : 63;
        int code = key ? kc_ref_parse_code(key) : -1;
        KC_CHECK(code > 0, "kc-query row without a province key");
        int idx = (scheme == 34 ? 100 : 0) + code;
        a->row[idx] = true;
        a->spend[idx] = s_json_amount(json_object_get(row, "totals"));
        json_t *plan = json_object_get(row, "plan");
        a->plan[idx] = plan ? s_json_amount(json_object_get(plan, "totals")) : 0;
    }
    json_decref(root);
}

/* The provinces kc-watch must list: those of the south in some month of the range. */
static int s_expected(int year, int m_from, int m_to, bool units34, bool want[200])
{
    int n = 0;
    memset(want, 0, 200 * sizeof want[0]);
    for (size_t i = 0; i < kc_ref_province_count(); i++) {
        const kc_province_t *p = kc_ref_province_at(i);
        for (int m = m_from; m <= m_to; m++) {
            int32_t ym = year * 100 + m;
            const char *r = NULL;
            if (units34 && p->scheme == 34)
                r = kc_ref_region_of(p->code, ym < 202507 ? 202507 : ym);
            else if (!units34 && p->scheme == kc_ref_scheme_for(ym) && ym >= p->valid_from &&
                     ym <= p->valid_to)
                r = kc_ref_region_of(p->code, ym);
            if (r && strcmp(r, "south") == 0) {
                int idx = (p->scheme == 34 ? 100 : 0) + p->code;
                if (!want[idx])
                    n++;
                want[idx] = true;
                break;
            }
        }
    }
    return n;
}

/* Parse one plain line of kc-watch. 0, or -1 if it is not one. */
static int s_parse_line(const char *line, s_rec_t *r)
{
    memset(r, 0, sizeof *r);
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", line);
    int seen = 0;
    char *save = NULL;
    for (char *tok = strtok_r(buf, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
        if (strncmp(tok, "name=", 5) == 0)
            break;
        char *eq = strchr(tok, '=');
        if (!eq)
            return -1;
        *eq = '\0';
        const char *k = tok, *v = eq + 1;
        if (strcmp(k, "seq") == 0)
            r->seq = strtoull(v, NULL, 10), seen |= 1;
        else if (strcmp(k, "year") == 0)
            r->year = atoi(v), seen |= 2;
        else if (strcmp(k, "province") == 0)
            snprintf(r->province, sizeof r->province, "%s", v), seen |= 4;
        else if (strcmp(k, "scheme") == 0)
            r->scheme = atoi(v);
        else if (strcmp(k, "spending") == 0)
            r->spend = strtoll(v, NULL, 10), seen |= 8;
        else if (strcmp(k, "plan") == 0)
            r->plan = strtoll(v, NULL, 10), seen |= 16;
        else if (strcmp(k, "percent") == 0)
            snprintf(r->percent, sizeof r->percent, "%s", v);
        else if (strcmp(k, "last") == 0)
            snprintf(r->last, sizeof r->last, "%s", v), seen |= 32;
        else if (strcmp(k, "status") == 0)
            snprintf(r->status, sizeof r->status, "%s", v), seen |= 64;
    }
    return seen == 127 ? 0 : -1;
}

static int s_rec_index(const s_rec_t *r)
{
    int code = kc_ref_parse_code(r->province);
    KC_CHECK(code > 0, "bad province '%s' in a kc-watch line", r->province);
    KC_CHECK(r->scheme == 63 || r->scheme == 34, "bad scheme %d", r->scheme);
    return (r->scheme == 34 ? 100 : 0) + code;
}

/* Check a full set of lines (the first table) against kc-query. */
static void s_check_table(const s_rec_t *recs, size_t n, int year, int m_from, int m_to,
                          bool units34, const s_answer_t *a, const bool reported[200])
{
    bool want[200], seen[200] = {false};
    int expect = s_expected(year, m_from, m_to, units34, want);
    KC_CHECK(expect > 0, "no southern provinces in the reference data?");
    bool total = false;
    for (size_t i = 0; i < n; i++) {
        const s_rec_t *r = &recs[i];
        KC_CHECK(r->year == year, "line for %s has year %d, expected %d", r->province, r->year,
                 year);
        if (strcmp(r->province, "total") == 0) {
            KC_CHECK(!total, "two total lines");
            total = true;
            KC_CHECK(r->spend == a->total_spend && r->plan == a->total_plan,
                     "total: kc-watch spending %" PRId64 " plan %" PRId64 ", kc-query %" PRId64
                     " / %" PRId64,
                     r->spend, r->plan, a->total_spend, a->total_plan);
            continue;
        }
        int idx = s_rec_index(r);
        KC_CHECK(want[idx] || a->row[idx], "province %s (scheme %d) is not of the south",
                 r->province, r->scheme);
        KC_CHECK(!seen[idx], "province %s listed twice", r->province);
        seen[idx] = true;
        KC_CHECK(r->spend == a->spend[idx],
                 "province %s: kc-watch spending %" PRId64 ", kc-query %" PRId64, r->province,
                 r->spend, a->spend[idx]);
        KC_CHECK(r->plan == a->plan[idx],
                 "province %s: kc-watch plan %" PRId64 ", kc-query %" PRId64, r->province, r->plan,
                 a->plan[idx]);
        if (reported) {
            bool rep = reported[idx];
            if (units34) /* a scheme-34 unit reported if a predecessor did */
                for (size_t k = 0; k < kc_ref_province_count(); k++) {
                    const kc_province_t *p = kc_ref_province_at(k);
                    if (p->scheme == 63 && p->successor == idx - 100 && reported[p->code])
                        rep = true;
                }
            KC_CHECK(rep == (strcmp(r->last, "-") != 0), "province %s: last=%s", r->province,
                     r->last);
            KC_CHECK(strcmp(r->status, rep ? "ok" : "never") == 0, "province %s: status=%s",
                     r->province, r->status);
        }
    }
    KC_CHECK(total, "no total line");
    for (int i = 0; i < 200; i++) {
        KC_CHECK(!want[i] || seen[i], "province row %d of the south is missing", i);
        KC_CHECK(!a->row[i] || seen[i], "kc-query has row %d, kc-watch does not", i);
    }
}

/* kc-watch --plain --once with extra args; parse its lines into recs. */
static size_t s_watch_once(const char *const *extra, s_rec_t *recs)
{
    char bin[KC_PATH_MAX], out[KC_PATH_MAX], err[KC_PATH_MAX];
    kc_harness_bin(bin, "kc-watch");
    kc_harness_path(out, "watch-once.out");
    kc_harness_path(err, "watch-once.err");
    char *argv[32] = {bin,       "--ready-file", s_ready,     "--region", "south",
                      "--plain", "--once",       "--timeout", "60"};
    int n = 9;
    for (int i = 0; extra && extra[i]; i++)
        argv[n++] = (char *)extra[i];
    argv[n] = NULL;
    int code = s_run(argv, out, err);
    KC_CHECK(code == 0, "kc-watch --once exited %d (see %s)", code, err);
    FILE *f = fopen(out, "r");
    KC_CHECK(f, "no output %s", out);
    char line[1024];
    size_t nr = 0;
    while (fgets(line, sizeof line, f)) {
        KC_CHECK(nr < MAX_REC, "too many lines");
        KC_CHECK(s_parse_line(line, &recs[nr]) == 0, "not a kc-watch line: %s", line);
        nr++;
    }
    fclose(f);
    return nr;
}

/* ---- reading a child's output with a deadline ---- */

typedef struct {
    int fd;
    char buf[1 << 16];
    size_t len;
    bool eof;
} s_reader_t;

/* Read what is available within ms (one poll); false at EOF. */
static bool s_read_some(s_reader_t *rd, int ms)
{
    struct pollfd p = {.fd = rd->fd, .events = POLLIN};
    int r = poll(&p, 1, ms);
    if (r <= 0)
        return !rd->eof;
    if (rd->len + 1 >= sizeof rd->buf) { /* keep the newest half */
        memmove(rd->buf, rd->buf + sizeof rd->buf / 2, rd->len - sizeof rd->buf / 2);
        rd->len -= sizeof rd->buf / 2;
    }
    ssize_t k = read(rd->fd, rd->buf + rd->len, sizeof rd->buf - 1 - rd->len);
    if (k > 0) {
        rd->len += (size_t)k;
        rd->buf[rd->len] = '\0';
    } else if (k == 0 || (errno != EAGAIN && errno != EINTR)) {
        rd->eof = true; /* 0: FIFO writer gone; EIO: pty slave closed */
    }
    return !rd->eof;
}

/* The next complete line (without '\n') into line, or false at the deadline/EOF. */
static bool s_next_line(s_reader_t *rd, int64_t deadline, char *line, size_t cap)
{
    for (;;) {
        char *nl = memchr(rd->buf, '\n', rd->len);
        if (nl) {
            size_t n = (size_t)(nl - rd->buf);
            snprintf(line, cap, "%.*s", (int)n, rd->buf);
            memmove(rd->buf, nl + 1, rd->len - n - 1);
            rd->len -= n + 1;
            return true;
        }
        int64_t left = deadline - kc_harness_now_ms();
        if (left <= 0 || rd->eof)
            return false;
        s_read_some(rd, left > 200 ? 200 : (int)left);
    }
}

/* ---- pseudo-terminal runs ---- */

static pid_t s_pty_start(char *const argv[], int *master)
{
    struct winsize ws = {.ws_row = 50, .ws_col = 200};
    fflush(NULL);
    pid_t parent = getpid();
    pid_t pid = forkpty(master, NULL, NULL, &ws);
    KC_CHECK(pid >= 0, "forkpty: %s", strerror(errno));
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        execv(argv[0], argv);
        _exit(127);
    }
    s_pty_pid = pid;
    return pid;
}

static int s_pty_wait(pid_t pid, s_reader_t *rd)
{
    int64_t deadline = kc_harness_now_ms() + WAIT_MS;
    int st = 0;
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            break;
        KC_CHECK(kc_harness_now_ms() < deadline, "kc-watch on the pty did not end");
        s_read_some(rd, 20); /* drain, so the child never blocks on a full pty */
    }
    s_pty_pid = 0;
    while (s_read_some(rd, 50)) /* the rest of its output */
        ;
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run argv on a new pty to its end (bounded), its whole output in *rd (reset
 * first); returns its exit code. */
static int s_pty_run(char *const argv[], s_reader_t *rd)
{
    memset(rd, 0, sizeof *rd);
    int code = s_pty_wait(s_pty_start(argv, &rd->fd), rd);
    close(rd->fd);
    return code;
}

/* 1234567 -> "1.234.567" */
static void s_group(int64_t v, char sep, char *out, size_t cap)
{
    char digits[32];
    snprintf(digits, sizeof digits, "%" PRId64, v < 0 ? -v : v);
    size_t n = strlen(digits), o = 0;
    if (v < 0 && o + 1 < cap)
        out[o++] = '-';
    for (size_t i = 0; i < n && o + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            out[o++] = sep;
        out[o++] = digits[i];
    }
    out[o] = '\0';
}

static void s_test_pty(const s_answer_t *a2022)
{
    char bin[KC_PATH_MAX];
    kc_harness_bin(bin, "kc-watch");

    /* --once on a terminal: the table, in Vietnamese, no alternate screen */
    char *once[] = {bin,      "--ready-file", s_ready,     "--region", "south", "--once",
                    "--lang", "vi",           "--timeout", "60",       NULL};
    static s_reader_t rd;
    int code = s_pty_run(once, &rd);
    KC_CHECK(code == 0, "kc-watch --once on a pty exited %d: %s", code, rd.buf);
    char total[64];
    s_group(a2022->total_spend, '.', total, sizeof total);
    KC_CHECK(strstr(rd.buf, "Tổng"), "no total row (Tổng) in:\n%s", rd.buf);
    KC_CHECK(strstr(rd.buf, "Hồ Chí Minh"), "no Hồ Chí Minh row in:\n%s", rd.buf);
    KC_CHECK(strstr(rd.buf, "Kinh phí"), "no Vietnamese header in:\n%s", rd.buf);
    KC_CHECK(strstr(rd.buf, total), "total spending %s (vi format) not in:\n%s", total, rd.buf);
    KC_CHECK(!strstr(rd.buf, "\x1b[?1049h"), "--once entered the alternate screen");
    printf("--- kc-watch --once --lang vi on a terminal ---\n%s\n", rd.buf);

    /* the live view: alternate screen, the table, restored on SIGTERM */
    char *live[] = {bin,      "--ready-file", s_ready,          "--region", "south",
                    "--sort", "spending",     "--silent-after", "30s",      NULL};
    memset(&rd, 0, sizeof rd);
    pid_t pid = s_pty_start(live, &rd.fd);
    int64_t deadline = kc_harness_now_ms() + WAIT_MS;
    while (!(strstr(rd.buf, "\x1b[?1049h") && strstr(rd.buf, "Total") && strstr(rd.buf, "synced") &&
             strstr(rd.buf, "Ctrl-C"))) {
        KC_CHECK(kc_harness_now_ms() < deadline, "live view never drew the table:\n%s", rd.buf);
        KC_CHECK(s_read_some(&rd, 200), "kc-watch ended early:\n%s", rd.buf);
    }
    kill(pid, SIGWINCH); /* a resize redraws (and must not end the program) */
    kill(pid, SIGTERM);
    code = s_pty_wait(pid, &rd);
    close(rd.fd);
    KC_CHECK(code == 0, "live kc-watch exited %d on SIGTERM", code);
    const char *enter = strstr(rd.buf, "\x1b[?1049h");
    const char *leave = strstr(rd.buf, "\x1b[?1049l");
    KC_CHECK(leave && (!enter || leave > enter), "the alternate screen was not left on SIGTERM");
}

/* ---- the live plain run ---- */

static void s_test_live(kc_agg_t *agg, const char *const *more, const bool reported[200])
{
    char bin[KC_PATH_MAX], fifo[KC_PATH_MAX], err[KC_PATH_MAX];
    kc_harness_bin(bin, "kc-watch");
    kc_harness_path(fifo, "watch.fifo");
    kc_harness_path(err, "watch-live.err");
    KC_CHECK(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
    static s_reader_t rd;
    memset(&rd, 0, sizeof rd);
    rd.fd = open(fifo, O_RDONLY | O_NONBLOCK | O_CLOEXEC); /* first, so the writer never blocks */
    KC_CHECK(rd.fd >= 0, "open fifo: %s", strerror(errno));
    char *argv[] = {bin,      "--ready-file", s_ready,   "--region", "south",
                    "--year", "2022",         "--plain", NULL};
    pid_t pid = kc_harness_spawn(argv, fifo, err);

    /* the first table: every province and the total */
    bool want[200];
    int expect = s_expected(2022, 1, 12, false, want);
    int64_t deadline = kc_harness_now_ms() + WAIT_MS;
    char line[1024];
    int got = 0;
    bool total = false;
    uint64_t seq0 = 0;
    while (got < expect || !total) {
        KC_CHECK(s_next_line(&rd, deadline, line, sizeof line),
                 "first table incomplete (%d of %d provinces)", got, expect);
        s_rec_t r;
        KC_CHECK(s_parse_line(line, &r) == 0, "not a kc-watch line: %s", line);
        if (strcmp(r.province, "total") == 0)
            total = true;
        else
            got++;
        seq0 = r.seq;
    }
    KC_CHECK(got == expect, "first table: %d province lines, expected %d", got, expect);

    /* more data: lines for exactly the provinces sent, ending at kc-query's figures */
    s_send(agg->endpoint, more);
    s_answer_t a;
    s_query(agg->store, 2022, "1-12", false, &a);
    bool changed[200] = {false}, expect_changed[200] = {false}, at_final[200] = {false};
    for (int i = 0; more[i]; i++)
        expect_changed[kc_ref_parse_code(more[i])] = true;
    bool total_final = false;
    deadline = kc_harness_now_ms() + WAIT_MS;
    for (;;) {
        bool all = total_final;
        for (int i = 0; i < 200; i++)
            if (expect_changed[i] && !at_final[i])
                all = false;
        if (all)
            break;
        KC_CHECK(s_next_line(&rd, deadline, line, sizeof line),
                 "kc-watch did not reach kc-query's figures after the second send");
        s_rec_t r;
        KC_CHECK(s_parse_line(line, &r) == 0, "not a kc-watch line: %s", line);
        KC_CHECK(r.seq > seq0, "an update line with seq %" PRIu64 " <= %" PRIu64, r.seq, seq0);
        if (strcmp(r.province, "total") == 0) {
            total_final = r.spend == a.total_spend && r.plan == a.total_plan;
            continue;
        }
        int idx = s_rec_index(&r);
        changed[idx] = true;
        KC_CHECK(expect_changed[idx], "an update line for province %s, which sent nothing: %s",
                 r.province, line);
        KC_CHECK(strcmp(r.status, "ok") == 0 && strcmp(r.last, "-") != 0,
                 "province %s reported but shows status=%s last=%s", r.province, r.status, r.last);
        at_final[idx] = r.spend == a.spend[idx] && r.plan == a.plan[idx];
    }
    for (int i = 0; i < 200; i++)
        KC_CHECK(changed[i] == expect_changed[i], "province row %d: changed %d, expected %d", i,
                 changed[i], expect_changed[i]);
    (void)reported;

    int st = kc_harness_stop(pid, SIGTERM, WAIT_MS);
    KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kc-watch --plain on SIGTERM: status %d", st);
    close(rd.fd);
}

/* ---- sums beyond int64 ---- */

static const kc_test_cell_t s_big[] = {
    {{2024, 3, 79, 4, 1, 1}, 1, INT64_MAX, 0}, /* KC3b, actual */
    {{2024, 5, 80, 1, 1, 2}, 1, 5, 0},         /* KC1, actual */
    {{2024, 1, 79, 4, 2, 1}, 1, INT64_MAX, 0}, /* plan */
};

static void s_test_big(void)
{
    char store[KC_PATH_MAX], bin[KC_PATH_MAX], out[KC_PATH_MAX], err[KC_PATH_MAX];
    kc_harness_path(store, "store-big");
    kc_store_t *st = NULL;
    KC_CHECK(kc_store_open(&st, store, NULL) == 0, "cannot create %s", store);
    kc_test_cells_t big = {s_big, sizeof s_big / sizeof s_big[0]};
    KC_CHECK(kc_store_write(st, kc_test_cells_put, &big) == 0, "cannot write the cells");
    kc_store_close(&st);
    kc_agg_t agg = {0};
    const char *extra[] = {"--feed", "tcp://127.0.0.1:0", "--feed-snapshot", "tcp://127.0.0.1:0",
                           NULL};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", extra);
    kc_harness_bin(bin, "kc-watch");
    kc_harness_path(out, "watch-big.out");
    kc_harness_path(err, "watch-big.err");
    char *plain[] = {bin,    "--ready-file", agg.ready, "--region",  "south", "--year",
                     "2024", "--plain",      "--once",  "--timeout", "60",    NULL};
    KC_CHECK(s_run(plain, out, err) == 0, "kc-watch --once (big) failed (see %s)", err);
    char text[1 << 14] = "";
    FILE *f = fopen(out, "r");
    KC_CHECK(f, "no output %s", out);
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = '\0';
    fclose(f);
    KC_CHECK(strstr(text, "province=79 scheme=63 spending=9223372036854775807 "
                          "plan=9223372036854775807 percent=100.00 "),
             "no exact line for 79 in:\n%s", text);
    KC_CHECK(strstr(text, "province=80 scheme=63 spending=5 plan=0 percent=- "),
             "no exact line for 80 in:\n%s", text);
    KC_CHECK(strstr(text, "province=total scheme=0 spending=9223372036854775812 "
                          "plan=9223372036854775807 percent=100.00 "),
             "no exact total line in:\n%s", text);
    /* the terminal table: counts with separators, exact */
    char *once[] = {bin,      "--ready-file", agg.ready, "--region",  "south", "--year", "2024",
                    "--lang", "vi",           "--once",  "--timeout", "60",    NULL};
    static s_reader_t rd;
    int code = s_pty_run(once, &rd);
    KC_CHECK(code == 0, "kc-watch --once (big) on a pty exited %d: %s", code, rd.buf);
    KC_CHECK(strstr(rd.buf, "9.223.372.036.854.775.812"), "exact total not in:\n%s", rd.buf);
    KC_CHECK(strstr(rd.buf, "100,0%"), "percent of plan not in:\n%s", rd.buf);
    kc_harness_agg_term(&agg);
}

int main(void)
{
    s_dir = kc_harness_init("watch_test");
    atexit(s_kill_pty);
    char bin[KC_PATH_MAX], out[KC_PATH_MAX], err[KC_PATH_MAX];
    kc_harness_bin(bin, "kc-watch");
    kc_harness_path(out, "watch.out");
    kc_harness_path(err, "watch.err");

    /* 1. usage errors and an unavailable feed */
    char *no_region[] = {bin, "--once", NULL};
    KC_CHECK(s_run(no_region, out, err) == 64, "no --region: expected exit 64");
    char *bad_sort[] = {bin, "--region", "south", "--sort", "size", NULL};
    KC_CHECK(s_run(bad_sort, out, err) == 64, "--sort size: expected exit 64");
    char *bad_silent[] = {bin, "--region", "south", "--silent-after", "5x", NULL};
    KC_CHECK(s_run(bad_silent, out, err) == 64, "--silent-after 5x: expected exit 64");
    char *bad_region[] = {bin, "--region", "west", NULL};
    KC_CHECK(s_run(bad_region, out, err) == 64, "--region west: expected exit 64");
    char nobody[64];
    snprintf(nobody, sizeof nobody, "tcp://127.0.0.1:%d", kc_harness_free_port());
    char *unavail[] = {bin,       "--region", "south",     "--feed", nobody,
                       "--plain", "--once",   "--timeout", "1",      NULL};
    int64_t t0 = kc_harness_now_ms();
    KC_CHECK(s_run(unavail, out, err) == 69, "a feed nobody serves: expected exit 69");
    KC_CHECK(kc_harness_now_ms() - t0 < 30000, "exit 69 took too long");
    /* --once without --timeout (issue 16, defect 5): gives up after its default
     * 10 s, exit 69, and says why, instead of waiting for ever (s_run bounds the
     * wait by WAIT_MS, so a kc-watch that hangs fails here) */
    char *once_default[] = {bin, "--region", "south", "--feed", nobody, "--plain", "--once", NULL};
    char once_err[KC_PATH_MAX];
    kc_harness_path(once_err, "watch-once-default.err");
    t0 = kc_harness_now_ms();
    KC_CHECK(s_run(once_default, out, once_err) == 69,
             "--once without --timeout, a feed nobody serves: expected exit 69");
    int64_t took = kc_harness_now_ms() - t0;
    KC_CHECK(took >= 9000 && took < 30000, "--once gave up after %" PRId64 " ms, not about 10 s",
             took);
    char line[512] = "";
    KC_CHECK(kc_harness_read_line(once_err, line, sizeof line) == 0 && strstr(line, "within 10s"),
             "--once without --timeout: stderr does not say why: '%s'", line);

    /* the aggregator with its feed on loopback, any port */
    char store[KC_PATH_MAX];
    kc_harness_path(store, "store");
    kc_agg_t agg = {0};
    const char *extra[] = {"--feed", "tcp://127.0.0.1:0", "--feed-snapshot", "tcp://127.0.0.1:0",
                           NULL};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", extra);
    snprintf(s_ready, sizeof s_ready, "%s", agg.ready);

    /* 2. first data: four provinces */
    static const char *const first[] = {"79", "74", "75", "77", NULL};
    s_send(agg.endpoint, first);
    bool reported[200] = {false};
    for (int i = 0; first[i]; i++)
        reported[kc_ref_parse_code(first[i])] = true;

    static s_rec_t recs[MAX_REC];
    s_answer_t a;
    size_t n = s_watch_once(NULL, recs); /* default year: the latest in the feed (2022) */
    s_query(store, 2022, "1-12", false, &a);
    s_check_table(recs, n, 2022, 1, 12, false, &a, reported);
    KC_CHECK(a.total_spend > 0, "nothing spent in 2022?");
    s_answer_t a2022 = a;

    const char *y2021[] = {"--year", "2021", "--months", "1-9", "--sort", "spending", NULL};
    n = s_watch_once(y2021, recs);
    s_query(store, 2021, "1-9", false, &a);
    s_check_table(recs, n, 2021, 1, 9, false, &a, reported);
    for (size_t i = 1; i + 1 < n && strcmp(recs[i].province, "total") != 0; i++)
        KC_CHECK(recs[i - 1].spend >= recs[i].spend, "--sort spending: not descending");

    const char *u34[] = {"--year", "2022", "--units", "34", "--lang", "vi", NULL};
    n = s_watch_once(u34, recs);
    s_query(store, 2022, "1-12", true, &a);
    s_check_table(recs, n, 2022, 1, 12, true, &a, reported);

    /* 3. the terminal view */
    s_test_pty(&a2022);

    /* 4. a running --plain view sees exactly the provinces that change */
    static const char *const more[] = {"80", "82", NULL};
    s_test_live(&agg, more, reported);

    kc_harness_agg_term(&agg);

    /* 5. sums beyond int64, exact */
    s_test_big();
    kc_harness_pass();
    printf("watch_test: ok\n");
    return 0;
}
