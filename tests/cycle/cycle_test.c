/* cycle_test.c - completeness and timeliness (issue 18, items 1 and 2; docs/CYCLE.md).
 *
 * DESIGN
 * A real store is built by core's replay (kc_replay, copy_log) from log
 * entries whose received times the test chooses, so that reports fall just
 * before and just after deadlines: the end of a due day in Vietnam's time
 * (UTC+7), across a month end (2025-09, due 2025-10-15) and a year end
 * (2025-12, due 2026-01-15), where 00:00 +07:00 is still the previous day in
 * UTC. Plans, a correction that moves an event into a period, and a
 * correction without kind of a plan are among them (which events count).
 * 2025-06 (before the merger) has two of the three provinces merged into the
 * 34-unit 79. Checked: the deadline instants and the deadlines table parser;
 * exact state tables through core (kc_cycle_table), at several as-of
 * instants; kc-query --completeness (CSV exact, JSON) against GET
 * /v1/completeness of an in-process HTTP server; refused options; the
 * /metrics gauges against the table. All dates lie in the past, so the
 * current time never changes an answer.
 * Sign-off, approval and reopen entries follow, in March 2026 (after
 * every as-of above): the cells' signed_off / approved / reopened at an
 * instant between each two of them, through core, kc-query (CSV, table) and
 * GET /v1/completeness, and the fold over the whole log against the store's
 * periods table (written by the replay).
 */
#include "agg_test_util.h"
#include "kc_checkpoint.h"
#include "http_util.h"
#include "kc_cycle.h"
#include "kc_err.h"
#include "kc_filter.h"
#include "kc_http.h"
#include "kc_json.h"
#include "kc_log.h"
#include "kc_metrics.h"
#include "kc_qry.h"
#include "kc_replay.h"
#include "kc_store.h"
#include "kc_time.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>
#include <jansson.h>
#include <sodium.h>

static char *s_dir;
static kc_store_t *s_store;

static uint64_t s_t(const char *iso)
{
    uint64_t ns = 0;
    if (kc_qry_parse_time(iso, false, &ns) != 0)
        fail_msg("bad time %s", iso);
    return ns;
}

/* ---- the log ---- */

typedef struct {
    const char *id, *province;
    int year, month;
    int kind;             /* 0 absent, 1 actual, 2 plan */
    const char *corrects; /* a correction of that event_id */
    const char *received; /* ISO time with zone */
    int op;               /* a cycle entry's op (then kind 0, corrects NULL); 0 otherwise */
    const char *note;     /* a reopen's reason */
} s_ev_t;

#define SIGN    KCPIPE__V1__OP__OP_SIGN_OFF
#define APPROVE KCPIPE__V1__OP__OP_APPROVE
#define REOPEN  KCPIPE__V1__OP__OP_REOPEN

static const s_ev_t s_log[] = {
    /* 2025-06, scheme 63, due 2025-07-15: 74 and 79 (both merged into 34-unit 79) on time */
    {"a-74-06", "74", 2025, 6, 1, NULL, "2025-07-10T10:00:00+07:00", 0, NULL},
    {"a-79-06", "79", 2025, 6, 0, NULL, "2025-07-15T23:59:59+07:00", 0, NULL},
    /* 92's August on time; a plan of 01 filed under September does not count */
    {"r-92-08", "92", 2025, 8, 1, NULL, "2025-09-01T08:00:00+07:00", 0, NULL},
    {"p-01-09", "01", 2025, 9, 2, NULL, "2025-09-05T08:00:00+07:00", 0, NULL},
    /* 2025-09, due 2025-10-15: the last nanosecond of the day (local) is on time, the next
     * is late although it is still 2025-10-15 in UTC */
    {"r-79-09", "79", 2025, 9, 1, NULL, "2025-10-15T23:59:59.999999999+07:00", 0, NULL},
    {"r-80-09", "80", 2025, 9, 1, NULL, "2025-10-16T00:00:00+07:00", 0, NULL},
    /* a correction moving 92's August event to September, without kind: counts (actual) */
    {"c-92-09", "92", 2025, 9, 0, "r-92-08", "2025-10-16T09:00:00+07:00", 0, NULL},
    /* 96: a plan for October and its correction without kind (the plan's): never counts */
    {"p-96-10", "96", 2025, 10, 2, NULL, "2025-11-01T08:00:00+07:00", 0, NULL},
    {"c-96-10", "96", 2025, 10, 0, "p-96-10", "2025-11-02T08:00:00+07:00", 0, NULL},
    /* 2025-12, due 2026-01-15: the year end */
    {"r-79-12", "79", 2025, 12, 1, NULL, "2026-01-15T23:59:59+07:00", 0, NULL},
    {"r-01-12", "01", 2025, 12, 1, NULL, "2026-01-16T00:00:00+07:00", 0, NULL},
    /* the cycle (offsets 11..): 79's September signed off, approved, reopened, approved again
     * without a new sign-off, reopened, signed off; 80 signs off an October it never
     * reported; the three parts of the 34-unit 79 sign off June */
    {"s-79-09", "79", 2025, 9, 0, NULL, "2026-03-02T08:00:00+07:00", SIGN, NULL},
    {"s-80-10", "80", 2025, 10, 0, NULL, "2026-03-03T08:00:00+07:00", SIGN, NULL},
    {"a-79-09", "79", 2025, 9, 0, NULL, "2026-03-04T08:00:00+07:00", APPROVE, NULL},
    {"o-79-09", "79", 2025, 9, 0, NULL, "2026-03-05T08:00:00+07:00", REOPEN, "wrong spending"},
    {"a2-79-09", "79", 2025, 9, 0, NULL, "2026-03-06T08:00:00+07:00", APPROVE, NULL},
    {"o2-79-09", "79", 2025, 9, 0, NULL, "2026-03-07T08:00:00+07:00", REOPEN, "again"},
    {"s2-79-09", "79", 2025, 9, 0, NULL, "2026-03-08T08:00:00+07:00", SIGN, NULL},
    {"s-74-06", "74", 2025, 6, 0, NULL, "2026-03-09T08:00:00+07:00", SIGN, NULL},
    {"s-79-06", "79", 2025, 6, 0, NULL, "2026-03-09T09:00:00+07:00", SIGN, NULL},
    {"s-77-06", "77", 2025, 6, 0, NULL, "2026-03-10T08:00:00+07:00", SIGN, NULL},
};
#define S_NLOG (sizeof s_log / sizeof *s_log)

static t_buf_t s_pack(const s_ev_t *d, uint64_t seq)
{
    t_event_t e;
    t_event(&e, "p1", seq, d->id, 1000000);
    e.ev.province = (char *)d->province;
    e.ev.year = (uint32_t)d->year;
    e.ev.month = (uint32_t)d->month;
    if (d->kind) {
        e.ev.has_kind = 1;
        e.ev.kind = d->kind;
    }
    if (d->corrects) {
        e.ev.has_op = 1;
        e.ev.op = KCPIPE__V1__OP__OP_CORRECTION;
        e.ev.corrects = (char *)d->corrects;
    }
    if (d->op) { /* a cycle entry: province, year, month (and a note) only */
        e.ev.has_op = 1;
        e.ev.op = d->op;
        e.ev.activity = NULL;
        e.ev.metrics = NULL;
        e.ev.note = (char *)d->note;
    }
    return t_event_pack(&e);
}

static int s_setup(void **state)
{
    (void)state;
    s_dir = t_tmpdir("cycle");
    assert_non_null(s_dir);
    kc_store_opts_t so = {0};
    assert_int_equal(kc_store_open(&s_store, s_dir, &so), 0);
    kc_replay_opts_t ro = {.copy_log = true};
    kc_replay_t *r = NULL;
    assert_int_equal(kc_replay_new(&r, s_store, &ro), 0);
    for (size_t i = 0; i < S_NLOG; i++) {
        t_buf_t b = s_pack(&s_log[i], i + 1);
        kc_log_entry_t e = {.offset = i,
                            .received_ns = s_t(s_log[i].received),
                            .seq = i + 1,
                            .producer = "p1",
                            .producer_len = 2,
                            .event = b.data,
                            .event_len = b.len};
        assert_int_equal(kc_replay_add(r, &e), 0);
        t_buf_free(&b);
    }
    int rc = kc_replay_finish(r);
    if (rc != 0)
        fail_msg("replay: %s", kc_replay_failure(r)->why);
    kc_replay_free(&r);
    return 0;
}

static int s_teardown(void **state)
{
    (void)state;
    kc_store_close(&s_store);
    t_rmtree(s_dir);
    free(s_dir);
    return 0;
}

/* ---- deadlines ---- */

static void test_deadline_instants(void **state)
{
    (void)state;
    /* the last nanosecond of the due day at UTC+7 = 16:59:59.999999999Z that day */
    assert_true(kc_cycle_deadline_ns(2025, 9, 15) == s_t("2025-10-15T16:59:59.999999999Z"));
    assert_true(kc_cycle_deadline_ns(2025, 12, 15) == s_t("2026-01-15T16:59:59.999999999Z"));
    assert_true(kc_cycle_deadline_ns(2024, 2, 0) == s_t("2024-02-29T23:59:59.999999999+07:00"));
    assert_true(kc_cycle_deadline_ns(2025, 2, 0) == s_t("2025-02-28T23:59:59.999999999+07:00"));
    assert_true(kc_cycle_deadline_ns(2025, 12, 31) == s_t("2026-01-31T23:59:59.999999999+07:00"));
    char d[16];
    assert_string_equal(kc_cycle_due_day(d, sizeof d, 2025, 12, 15), "2026-01-15");
    assert_string_equal(kc_cycle_due_day(d, sizeof d, 2024, 2, 1), "2024-03-01");
    assert_string_equal(kc_cycle_due_day(d, sizeof d, 2025, 1, 45), "2025-03-17");
    /* the shipped table: 15 days for every year */
    assert_int_equal(kc_ref_deadline_days(NULL, 2025), 15);
    assert_int_equal(kc_ref_deadline_days(NULL, 2100), 15);
}

static void test_deadlines_table(void **state)
{
    (void)state;
    kc_ref_deadlines_t d;
    char err[160];
    assert_int_equal(kc_ref_deadlines_parse("# c\nyear\tdays\n*\t15\n\n2026\t20\r\n2027\t0\n", &d,
                                            err, sizeof err),
                     0);
    assert_int_equal(kc_ref_deadline_days(&d, 2025), 15);
    assert_int_equal(kc_ref_deadline_days(&d, 2026), 20);
    assert_int_equal(kc_ref_deadline_days(&d, 2027), 0);
    static const struct {
        const char *text, *reason;
    } bad[] = {
        {"year\tdays\n2026\t20\n", "no default row"},
        {"year\tdays\n*\t15\n*\t16\n", "line 3: a second default row"},
        {"year\tdays\n*\t15\n2026\t1\n2026\t2\n", "line 4: a year given twice"},
        {"year\tdays\n*\t367\n", "line 2: days must be"},
        {"year\tdays\n*\t-1\n", "line 2: days must be"},
        {"year\tdays\n1999\t5\n*\t1\n", "line 2: year must be"},
        {"year\tdays\n*\t15\t1\n", "line 2: want two"},
        {"years\tdays\n*\t15\n", "line 1: the header"},
        {"# only\n", "no header"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        if (kc_ref_deadlines_parse(bad[i].text, &d, err, sizeof err) != -1 ||
            !strstr(err, bad[i].reason))
            fail_msg("case %zu: '%s', want '%s'", i, err, bad[i].reason);
    }
}

/* ---- tables through core ---- */

/* The table of year/months/units/provinces at `at` (n = entries received by then). */
static void s_table(kc_cycle_table_t *t, int year, int from, int to, int units,
                    const char *provinces, const char *at, const kc_ref_deadlines_t *dl)
{
    kc_cycle_index_t *ix = kc_cycle_index_new();
    assert_non_null(ix);
    kc_txn_t *txn;
    assert_int_equal(kc_store_read_begin(s_store, &txn), 0);
    assert_int_equal(kc_cycle_index_update(ix, txn), 0);
    assert_int_equal(kc_cycle_index_size(ix), S_NLOG);
    kc_cycle_query_t q = {.year = year, .m_from = from, .m_to = to, .deadlines = dl};
    kc_cells_filter_init(&q.f);
    q.f.units = units == 34 ? 34 : 0;
    char err[200], list[128];
    snprintf(list, sizeof list, "%s", provinces);
    for (char *save = NULL, *p = strtok_r(list, " ", &save); p; p = strtok_r(NULL, " ", &save))
        assert_int_equal(kc_filter_add_province(&q.f, p, err, sizeof err), 0);
    q.now_ns = s_t(at);
    assert_int_equal(kc_txn_log_size_at(txn, q.now_ns, &q.n), 0);
    assert_int_equal(kc_cycle_table(ix, &q, t), 0);
    kc_txn_end(&txn);
    kc_cycle_index_free(&ix);
}

/* The rows as "CODE:s s s s" with one letter per month (o on time, l late,
 * m missing, n not due, - none), rows separated by " | ". */
static char *s_grid(const kc_cycle_table_t *t, char *buf, size_t cap)
{
    static const char letter[KC_CYCLE_STATES] = {'-', 'o', 'l', 'm', 'n'};
    size_t n = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < t->nrows; i++) {
        n += (size_t)snprintf(buf + n, cap - n, "%s%02u:", i ? " | " : "", t->rows[i].code);
        for (int m = t->m_from; m <= t->m_to; m++)
            n += (size_t)snprintf(buf + n, cap - n, "%c", letter[t->rows[i].month[m].state]);
    }
    return buf;
}

static void test_month_and_year_end(void **state)
{
    (void)state;
    kc_cycle_table_t t;
    char g[512];
    /* judged on 2026-02-01: every deadline of September-December passed */
    s_table(&t, 2025, 9, 12, 0, "01 79 80 92 96", "2026-02-01T00:00:00+07:00", NULL);
    assert_string_equal(s_grid(&t, g, sizeof g), "01:mmml | 79:ommo | 80:lmmm | 92:lmmm | 96:mmmm");
    assert_int_equal(t.units, 63);
    assert_int_equal(t.rows[0].scheme, 34);
    /* reported at = the first counted entry: 79's September at the last nanosecond */
    assert_true(t.rows[1].month[9].reported_ns == s_t("2025-10-15T23:59:59.999999999+07:00"));
    assert_int_equal(t.rows[1].month[9].offset, 4);
    assert_true(t.rows[3].month[9].reported_ns == s_t("2025-10-16T09:00:00+07:00"));
    assert_false(t.rows[1].month[9].signed_off);
    assert_int_equal(t.count[9][KC_CYCLE_ON_TIME], 1);
    assert_int_equal(t.count[9][KC_CYCLE_LATE], 2);
    assert_int_equal(t.count[9][KC_CYCLE_MISSING], 2);
    assert_int_equal(t.total[KC_CYCLE_MISSING], 3 + 2 + 3 + 3 + 4);
    assert_true(t.deadline_ns[12] == s_t("2026-01-15T16:59:59.999999999Z"));
    kc_cycle_table_free(&t);

    /* at the year end's deadline itself: 79 on time, 01 (00:00 the day after) not seen yet
     * and not yet due */
    s_table(&t, 2025, 12, 12, 0, "01 79 80", "2026-01-15T23:59:59.999999999+07:00", NULL);
    assert_string_equal(s_grid(&t, g, sizeof g), "01:n | 79:o | 80:n");
    kc_cycle_table_free(&t);
    /* one nanosecond later: 01 late (received then), 80 missing */
    s_table(&t, 2025, 12, 12, 0, "01 79 80", "2026-01-16T00:00:00+07:00", NULL);
    assert_string_equal(s_grid(&t, g, sizeof g), "01:l | 79:o | 80:m");
    kc_cycle_table_free(&t);
    /* on the due day of September, before its reports arrived: not yet due */
    s_table(&t, 2025, 8, 9, 0, "79 80 92", "2025-10-15T12:00:00+07:00", NULL);
    assert_string_equal(s_grid(&t, g, sizeof g), "79:mn | 80:mn | 92:on");
    kc_cycle_table_free(&t);
    /* a year with 20 days (an override): 80 and 92 on time in September */
    kc_ref_deadlines_t dl;
    char err[100];
    assert_int_equal(kc_ref_deadlines_parse("year\tdays\n*\t15\n2025\t20\n", &dl, err, sizeof err),
                     0);
    s_table(&t, 2025, 9, 9, 0, "79 80 92", "2026-02-01T00:00:00+07:00", &dl);
    assert_string_equal(s_grid(&t, g, sizeof g), "79:o | 80:o | 92:o");
    assert_int_equal(t.days[9], 20);
    kc_cycle_table_free(&t);
}

static void test_schemes(void **state)
{
    (void)state;
    kc_cycle_table_t t;
    char g[4096];
    /* 2025 in native units: 63 provinces until June, 34 units from July */
    s_table(&t, 2025, 1, 12, 0, "", "2026-02-01T00:00:00+07:00", NULL);
    assert_int_equal(t.nrows, 63 + 34);
    assert_int_equal(t.count[6][KC_CYCLE_ON_TIME] + t.count[6][KC_CYCLE_MISSING], 63);
    assert_int_equal(t.count[7][KC_CYCLE_MISSING], 34);
    assert_int_equal(t.count[6][KC_CYCLE_NONE], 34);
    assert_int_equal(t.count[6][KC_CYCLE_ON_TIME], 2);
    kc_cycle_table_free(&t);
    /* June 2025 natively: 74, 79 on time, 77 missing */
    s_table(&t, 2025, 6, 7, 0, "74 77 79", "2026-02-01T00:00:00+07:00", NULL);
    assert_string_equal(s_grid(&t, g, sizeof g), "74:o- | 77:m- | 79:o- | 79:-m");
    kc_cycle_table_free(&t);
    /* on the 34 units: 79 stands for 74, 77 and 79 in June: missing, 2 of 3 parts */
    s_table(&t, 2025, 6, 7, 34, "79", "2026-02-01T00:00:00+07:00", NULL);
    assert_string_equal(s_grid(&t, g, sizeof g), "79:mm");
    assert_int_equal(t.rows[0].month[6].parts, 3);
    assert_int_equal(t.rows[0].month[6].parts_reported, 2);
    assert_true(t.rows[0].month[6].reported_ns == 0);
    kc_cycle_table_free(&t);
    /* before June's deadline, when 74 had reported: not yet due (77 and 79 to come) */
    s_table(&t, 2025, 6, 6, 34, "79", "2025-07-12T00:00:00+07:00", NULL);
    assert_string_equal(s_grid(&t, g, sizeof g), "79:n");
    assert_int_equal(t.rows[0].month[6].parts_reported, 1);
    kc_cycle_table_free(&t);
}

/* ---- kc-query and GET /v1/completeness ---- */

static char *s_run(const char *args, int *status)
{
    const char *bin = getenv("KC_BIN_DIR");
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "'%s/kc-query' --no-config --store '%s' %s 2>&1", bin ? bin : ".",
             s_dir, args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    size_t r;
    while ((r = fread(out + n, 1, cap - 1 - n, p)) > 0)
        n += r;
    out[n] = '\0';
    int st = pclose(p);
    *status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return out;
}

static void test_kc_query_csv(void **state)
{
    (void)state;
    int st;
    char *out = s_run("--completeness --year 2025 --months 9-12 --province 79 --province 80 "
                      "--as-of 2026-02-01T00:00:00+07:00 --format csv --no-bom",
                      &st);
    const char *want =
        "period,code,scheme,name,region,state,reported_at,deadline,signed_off,approved,reopened\n"
        "2025-09,79,34,Hồ Chí Minh,south,on_time,2025-10-15T16:59:59.999999999Z,"
        "2025-10-15T16:59:59.999999999Z,0,0,0\n"
        "2025-10,79,34,Hồ Chí Minh,south,missing,,2025-11-15T16:59:59.999999999Z,0,0,0\n"
        "2025-11,79,34,Hồ Chí Minh,south,missing,,2025-12-15T16:59:59.999999999Z,0,0,0\n"
        "2025-12,79,34,Hồ Chí Minh,south,on_time,2026-01-15T16:59:59.000000000Z,"
        "2026-01-15T16:59:59.999999999Z,0,0,0\n"
        "2025-09,80,34,Tây Ninh,south,late,2025-10-15T17:00:00.000000000Z,"
        "2025-10-15T16:59:59.999999999Z,0,0,0\n"
        "2025-10,80,34,Tây Ninh,south,missing,,2025-11-15T16:59:59.999999999Z,0,0,0\n"
        "2025-11,80,34,Tây Ninh,south,missing,,2025-12-15T16:59:59.999999999Z,0,0,0\n"
        "2025-12,80,34,Tây Ninh,south,missing,,2026-01-15T16:59:59.999999999Z,0,0,0\n";
    if (st != 0 || strcmp(out, want) != 0)
        fail_msg("exit %d:\n%s\nwant:\n%s", st, out, want);
    free(out);
    /* Vietnamese labels; the table names every state in the language */
    out = s_run("--completeness --year 2025 --months 12 --province 01 --as-of 2026-02-01 "
                "--format csv --no-bom --lang vi",
                &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "kỳ,mã,danh mục,tỉnh,vùng,tình trạng"));
    assert_non_null(strstr(out, "2025-12,01,34,Hà Nội,"));
    assert_non_null(strstr(out, ",trễ hạn,2026-01-15T17:00:00.000000000Z,"));
    free(out);
    out = s_run("--completeness --year 2025 --months 9-12 --region south --as-of 2026-02-01 "
                "--lang vi",
                &st);
    assert_int_equal(st, 0);
    assert_non_null(strstr(out, "đúng hạn"));
    assert_non_null(strstr(out, "quá hạn chưa báo cáo"));
    assert_non_null(strstr(out, "Tây Ninh"));
    assert_null(strstr(out, "Hà Nội")); /* north: not in the south */
    free(out);
    /* options that do not apply are refused (exit 64) and say what applies */
    static const char *const refused[] = {"--by province",    "--plan",          "--compare 2024",
                                          "--kind plan",      "--activity KC3b", "--fund kcqg",
                                          "--as-of-offset 3", "--total"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
        char args[256];
        snprintf(args, sizeof args, "--completeness --year 2025 %s", refused[i]);
        out = s_run(args, &st);
        if (st != 64 || !strstr(out, "apply"))
            fail_msg("%s: exit %d: %s", refused[i], st, out);
        free(out);
    }
}

static json_t *s_doc(const char *text)
{
    json_error_t e;
    json_t *d = json_loads(text, 0, &e);
    if (!d)
        fail_msg("not JSON (%s): %s", e.text, text);
    return d;
}

static void test_http_equals_kc_query(void **state)
{
    (void)state;
    kc_http_opts_t ho = {.port = 0, .store = s_store};
    kc_http_t *h = NULL;
    assert_int_equal(kc_http_start(&h, &ho), 0);
    unsigned port = kc_http_port(h);
    static const struct {
        const char *query, *args;
    } cases[] = {
        {"year=2025&months=9-12&as_of=2026-02-01T00:00:00%2B07:00",
         "--year 2025 --months 9-12 --as-of 2026-02-01T00:00:00+07:00"},
        {"year=2025&months=6-7&units=34&region=south&as_of=2026-02-01",
         "--year 2025 --months 6-7 --units 34 --region south --as-of "
         "2026-02-01T23:59:59.999999999Z"},
        {"year=2025&province=79&province=Long%20An&as_of=2025-10-20T00:00:00Z",
         "--year 2025 --province 79 --province 'Long An' --as-of 2025-10-20T00:00:00Z"},
        /* the cycle: approved, then reopened and signed off again; June on the 34 units */
        {"year=2025&months=9-10&as_of=2026-03-04T12:00:00%2B07:00",
         "--year 2025 --months 9-10 --as-of 2026-03-04T12:00:00+07:00"},
        {"year=2025&months=6-10&units=34&as_of=2026-03-10T12:00:00%2B07:00",
         "--year 2025 --months 6-10 --units 34 --as-of 2026-03-10T12:00:00+07:00"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char path[256], args[512];
        snprintf(path, sizeof path, "/v1/completeness?%s", cases[i].query);
        t_resp_t r;
        assert_int_equal(t_http(port, "GET", path, &r), 0);
        if (r.status != 200)
            fail_msg("%s: %d %s", path, r.status, r.body);
        json_t *web = s_doc(r.body);
        t_resp_free(&r);
        snprintf(args, sizeof args, "--completeness --format json %s", cases[i].args);
        int st;
        char *out = s_run(args, &st);
        assert_int_equal(st, 0);
        json_t *cli = s_doc(out);
        free(out);
        assert_non_null(json_object_get(cli, "store"));
        assert_null(json_object_get(web, "store")); /* no server path in an answer */
        json_object_del(cli, "store");
        if (!json_equal(web, cli)) {
            char *a = json_dumps(web, JSON_COMPACT), *b = json_dumps(cli, JSON_COMPACT);
            fail_msg("case %zu differs:\nhttp %s\ncli  %s", i, a, b);
        }
        if (i == 0) { /* spot checks of the document */
            json_t *c = json_object_get(web, "counts");
            assert_int_equal(json_integer_value(json_object_get(c, "on_time")), 1 + 1);
            assert_int_equal(json_integer_value(json_object_get(c, "late")), 2 + 1);
            assert_true(json_is_true(json_object_get(web, "as_of")));
            json_t *p0 = json_array_get(json_object_get(web, "periods"), 0);
            assert_string_equal(json_string_value(json_object_get(p0, "due")), "2025-10-15");
        }
        if (i >= 3) { /* 79's September (scheme 34) in the document */
            json_t *pv = json_object_get(web, "provinces"), *cell = NULL;
            for (size_t k = 0; k < json_array_size(pv); k++) {
                json_t *row = json_array_get(pv, k);
                if (strcmp(json_string_value(json_object_get(row, "code")), "79") == 0 &&
                    json_integer_value(json_object_get(row, "scheme")) == 34)
                    cell = json_array_get(json_object_get(row, "months"), i == 3 ? 0 : 3);
            }
            assert_non_null(cell);
            assert_string_equal(json_string_value(json_object_get(cell, "period")), "2025-09");
            json_t *so = json_object_get(cell, "signed_off_at");
            json_t *ap = json_object_get(cell, "approved_at");
            json_t *ro = json_object_get(cell, "reopened_at");
            if (i == 3) {
                assert_true(json_is_true(json_object_get(cell, "signed_off")));
                assert_true(json_is_true(json_object_get(cell, "approved")));
                assert_true(json_is_false(json_object_get(cell, "reopened")));
                assert_string_equal(json_string_value(so), "2026-03-02T01:00:00.000000000Z");
                assert_string_equal(json_string_value(ap), "2026-03-04T01:00:00.000000000Z");
                assert_true(json_is_null(ro));
            } else {
                assert_true(json_is_true(json_object_get(cell, "signed_off")));
                assert_true(json_is_false(json_object_get(cell, "approved")));
                assert_true(json_is_true(json_object_get(cell, "reopened")));
                assert_string_equal(json_string_value(so), "2026-03-08T01:00:00.000000000Z");
                assert_true(json_is_null(ap));
                assert_string_equal(json_string_value(ro), "2026-03-07T01:00:00.000000000Z");
            }
        }
        json_decref(web);
        json_decref(cli);
    }
    /* bad parameters: 400 with kc-query's reason in URL style */
    static const char *const bad[] = {
        "/v1/completeness?year=2025&by=province", "/v1/completeness?year=2025&as_of_offset=2",
        "/v1/completeness?months=1-3", "/v1/completeness?year=2025&x=1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        t_resp_t r;
        assert_int_equal(t_http(port, "GET", bad[i], &r), 0);
        if (r.status != 400 || !strstr(r.body, "error"))
            fail_msg("%s: %d %s", bad[i], r.status, r.body);
        assert_null(strstr(r.body, "--"));
        t_resp_free(&r);
    }
    kc_http_stop(&h);
}

/* ---- sign-off, approval, reopen ---- */

/* 79's September (scheme 34) as "s a r" flags (1/0) and state at `at`. */
static void s_flags(const char *at, const char *want, uint64_t so, uint64_t ap, uint64_t ro)
{
    kc_cycle_table_t t;
    s_table(&t, 2025, 9, 10, 0, "79 80", at, NULL);
    const kc_cycle_cell_t *c = &t.rows[0].month[9];
    char got[32];
    snprintf(got, sizeof got, "%d%d%d %s", c->signed_off, c->approved, c->reopened,
             kc_cycle_state_name(c->state));
    if (strcmp(got, want) != 0 || c->signed_off_ns != so || c->approved_ns != ap ||
        c->reopened_ns != ro)
        fail_msg("at %s: %s (%llu %llu %llu), want %s", at, got,
                 (unsigned long long)c->signed_off_ns, (unsigned long long)c->approved_ns,
                 (unsigned long long)c->reopened_ns, want);
    kc_cycle_table_free(&t);
}

static void test_signoff_states(void **state)
{
    (void)state;
    uint64_t s1 = s_t("2026-03-02T08:00:00+07:00"), a1 = s_t("2026-03-04T08:00:00+07:00");
    uint64_t r1 = s_t("2026-03-05T08:00:00+07:00"), a2 = s_t("2026-03-06T08:00:00+07:00");
    uint64_t r2 = s_t("2026-03-07T08:00:00+07:00"), s2 = s_t("2026-03-08T08:00:00+07:00");
    s_flags("2026-03-01T12:00:00+07:00", "000 on_time", 0, 0, 0);
    s_flags("2026-03-02T07:59:59.999999999+07:00", "000 on_time", 0, 0, 0);
    s_flags("2026-03-02T08:00:00+07:00", "100 on_time", s1, 0, 0); /* received at = as-of */
    s_flags("2026-03-04T12:00:00+07:00", "110 on_time", s1, a1, 0);
    /* a reopen clears the approval and the sign-off before it */
    s_flags("2026-03-05T12:00:00+07:00", "001 on_time", 0, 0, r1);
    /* approved again without a new sign-off: approved, not signed off */
    s_flags("2026-03-06T12:00:00+07:00", "010 on_time", 0, a2, 0);
    s_flags("2026-03-07T12:00:00+07:00", "001 on_time", 0, 0, r2);
    /* signed off after the reopen: signed off and still reopened (not approved again) */
    s_flags("2026-03-08T12:00:00+07:00", "101 on_time", s2, 0, r2);

    /* a sign-off without data: signed off, and still missing (not a report) */
    kc_cycle_table_t t;
    s_table(&t, 2025, 10, 10, 0, "80", "2026-03-03T12:00:00+07:00", NULL);
    assert_int_equal(t.rows[0].month[10].state, KC_CYCLE_MISSING);
    assert_true(t.rows[0].month[10].signed_off);
    assert_true(t.rows[0].month[10].reported_ns == 0);
    assert_int_equal(t.count[10][KC_CYCLE_MISSING], 1);
    kc_cycle_table_free(&t);

    /* the 34-unit 79 in June: signed off when all three parts are, at the latest part's time */
    s_table(&t, 2025, 6, 6, 34, "79", "2026-03-09T12:00:00+07:00", NULL);
    assert_false(t.rows[0].month[6].signed_off);
    kc_cycle_table_free(&t);
    s_table(&t, 2025, 6, 6, 34, "79", "2026-03-10T12:00:00+07:00", NULL);
    assert_true(t.rows[0].month[6].signed_off);
    assert_true(t.rows[0].month[6].signed_off_ns == s_t("2026-03-10T08:00:00+07:00"));
    assert_false(t.rows[0].month[6].approved);
    kc_cycle_table_free(&t);
    /* natively, 74 alone at 03-09 */
    s_table(&t, 2025, 6, 6, 0, "74 77", "2026-03-09T12:00:00+07:00", NULL);
    assert_true(t.rows[0].month[6].signed_off);
    assert_false(t.rows[1].month[6].signed_off);
    kc_cycle_table_free(&t);

    /* the fold over the whole log is the store's periods table (written by the replay) */
    kc_txn_t *txn;
    kc_period_state_t ps;
    assert_int_equal(kc_store_read_begin(s_store, &txn), 0);
    assert_int_equal(kc_txn_period_get(txn, kc_ref_unit_key(79, 202509), 202509, &ps), 0);
    kc_txn_end(&txn);
    assert_int_equal(ps.state, KC_PERIOD_SIGNED_OFF);
    assert_int_equal(ps.reopens, 2);
    s_table(&t, 2025, 9, 9, 0, "79", "2026-12-01T00:00:00+07:00", NULL);
    assert_true(t.rows[0].month[9].signed_off_ns == ps.signoff_ns);
    assert_true(t.rows[0].month[9].reopened_ns == ps.reopen_ns);
    kc_cycle_table_free(&t);

    /* kc-query: CSV and the grid's marks, in both languages */
    int st;
    char *out = s_run("--completeness --year 2025 --months 9-10 --province 79 --province 80 "
                      "--as-of 2026-03-04T12:00:00+07:00 --format csv --no-bom",
                      &st);
    assert_int_equal(st, 0);
    if (!strstr(out, "2025-09,79,34,Hồ Chí Minh,south,on_time,2025-10-15T16:59:59.999999999Z,"
                     "2025-10-15T16:59:59.999999999Z,1,1,0\n") ||
        !strstr(out,
                "2025-10,80,34,Tây Ninh,south,missing,,2025-11-15T16:59:59.999999999Z,1,0,0\n"))
        fail_msg("csv:\n%s", out);
    free(out);
    out = s_run("--completeness --year 2025 --months 9-10 --province 79 --province 80 "
                "--as-of 2026-03-08T12:00:00+07:00",
                &st);
    assert_int_equal(st, 0);
    if (!strstr(out, "✓sr") || !strstr(out, "✗s") ||
        !strstr(out, "s signed off by the province · A approved by the centre (locked)"))
        fail_msg("table:\n%s", out);
    free(out);
    out = s_run("--completeness --year 2025 --months 9 --province 79 "
                "--as-of 2026-03-06T12:00:00+07:00 --lang vi",
                &st);
    assert_int_equal(st, 0);
    if (!strstr(out, "✓A") || !strstr(out, "A trung ương đã duyệt (khóa)"))
        fail_msg("table vi:\n%s", out);
    free(out);
}

/* ---- /metrics ---- */

static void test_metrics_gauges(void **state)
{
    (void)state;
    /* core's recent periods at a fixed instant: the year end first */
    kc_cycle_index_t *ix = kc_cycle_index_new();
    kc_txn_t *txn;
    assert_int_equal(kc_store_read_begin(s_store, &txn), 0);
    kc_cycle_due_t due[12];
    size_t n;
    assert_int_equal(kc_cycle_recent(ix, txn, s_t("2026-02-01T00:00:00+07:00"), due, 12, &n), 0);
    kc_txn_end(&txn);
    kc_cycle_index_free(&ix);
    assert_int_equal(n, 12);
    assert_int_equal(due[0].year * 100 + due[0].month, 202512);
    assert_int_equal(due[0].late, 1);
    assert_int_equal(due[0].on_time, 1);
    assert_int_equal(due[0].missing, 32);
    assert_int_equal(due[3].year * 100 + due[3].month, 202509);
    assert_int_equal(due[3].late, 2);
    assert_int_equal(due[3].missing, 31);
    assert_int_equal(due[6].year * 100 + due[6].month, 202506);
    assert_int_equal(due[6].on_time, 2);
    assert_int_equal(due[6].missing, 61);
    assert_int_equal(due[11].year * 100 + due[11].month, 202501);

    /* the aggregator's /metrics: every kcpipe_cycle_* sample equals the table at now */
    kc_metrics_t *m = kc_metrics_new();
    char *text = NULL;
    assert_int_equal(kc_metrics_render(m, s_store, &text, NULL), 0);
    assert_non_null(strstr(text, "# TYPE kcpipe_cycle_late_provinces gauge\n"));
    assert_non_null(strstr(text, "# TYPE kcpipe_cycle_missing_provinces gauge\n"));
    int samples = 0;
    for (const char *p = text; (p = strstr(p, "\nkcpipe_cycle_")) != NULL; p++) {
        char fam[16];
        int y, mo;
        unsigned v;
        if (sscanf(p, "\nkcpipe_cycle_%15[a-z]_provinces{period=\"%d-%d\"} %u", fam, &y, &mo, &v) !=
            4)
            fail_msg("bad sample near %.60s", p + 1);
        /* judged at now, as kc-query --completeness without --as-of */
        kc_cycle_table_t t;
        kc_cycle_index_t *ix2 = kc_cycle_index_new();
        assert_int_equal(kc_store_read_begin(s_store, &txn), 0);
        kc_qry_opts_t o;
        kc_qry_init(&o);
        o.year = y;
        o.m_from = o.m_to = mo;
        assert_int_equal(kc_cycle_answer(ix2, txn, &o, &t), 0);
        kc_txn_end(&txn);
        kc_cycle_index_free(&ix2);
        unsigned want =
            strcmp(fam, "late") == 0 ? t.count[mo][KC_CYCLE_LATE] : t.count[mo][KC_CYCLE_MISSING];
        if (want != v)
            fail_msg("%s %d-%02d: metrics %u, table %u", fam, y, mo, v, want);
        kc_cycle_table_free(&t);
        samples++;
    }
    assert_int_equal(samples, 24);
    free(text);
    kc_metrics_free(&m);
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    kc_log_set_level(KC_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deadline_instants),  cmocka_unit_test(test_deadlines_table),
        cmocka_unit_test(test_month_and_year_end), cmocka_unit_test(test_schemes),
        cmocka_unit_test(test_kc_query_csv),       cmocka_unit_test(test_http_equals_kc_query),
        cmocka_unit_test(test_signoff_states),     cmocka_unit_test(test_metrics_gauges),
    };
    return cmocka_run_group_tests(tests, s_setup, s_teardown);
}
