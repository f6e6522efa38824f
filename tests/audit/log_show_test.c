/* log_show_test.c - the auditor's reader end to end: kc-log show and kc-audit
 * history on a store written by a real kc-aggregator from real kc-send runs.
 *
 * Two producers (office-79, office-92) send records; office-79 then sends
 * corrections (A1 -> A1c -> A1c2: a correction of a correction), a
 * retraction (A2r of A2) and a correction of an unknown event (X1, rejected);
 * office-92 last sends B2 of code 80 in 2025-08 (Tây Ninh under scheme 34).
 * Then, with the aggregator stopped:
 *   - kc-log show --format jsonl: each line parsed with jansson holds exactly
 *     the accepted events, their values as exact integers, notes, producers,
 *     ops and targets; X1 (rejected) is absent;
 *   - the filters select exactly the expected offsets: province by name
 *     without diacritics ("can tho") and by code, event id (the event and
 *     those naming it in corrects), offset range, time range (UTC instants
 *     taken from the JSON, a local date, a local date-time), producer, limit;
 *   - local time is TZ's (a Hồ Chí Minh wall clock as --since, +07:00 in CSV);
 *   - CSV read by /usr/bin/python3's csv module with utf-8-sig (values, the
 *     Vietnamese province name); --no-bom starts with the header;
 *   - the table holds the Vietnamese names; JSON lines off a terminal;
 *   - exit 64 for a bad format, time, province or offset range, 66 no store;
 *   - kc-audit history (JSON and text): each version's values, note,
 *     producer and what it changed, the retraction removing every value;
 *   - --lang vi: CSV read by python3 (utf-8-sig) under Vietnamese headers
 *     with Vietnamese op, kind, fund, activity and metric words; the table;
 *     the history's lines in Vietnamese; JSON lines the same in both
 *     languages; the default follows LC_ALL/LC_MESSAGES/LANG ("vi..."), and
 *     every other check runs under LC_ALL=C.UTF-8 (English);
 *   - kc-admin rejects on the same store: exactly X1, with its producer,
 *     reason, province, event id and time; none of the corrections or the
 *     retraction, which were accepted.
 * Synchronisation: the ready file, each child's exit by pid with deadlines.
 */
#include "harness.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SEND_MS 120000
#define RUN_MS  60000

static const char s_records79[] =
    "event_id,province,year,month,activity,kind,fund,amount_vnd,facilities,note,corrects\n"
    "A1,79,2021,3,KC3b,actual,kcqg,1000,2,first,\n"
    "A2,79,2021,3,KC3b,actual,kcqg,2000,3,,\n"
    "A3,79,2021,4,KC3b,actual,kcqg,500,1,,\n";
static const char s_records92[] =
    "event_id,province,year,month,activity,kind,fund,amount_vnd,facilities,note,corrects\n"
    "B1,92,2021,5,KC3b,actual,kcdp,700,1,\"Cần Thơ, quý 2\",\n";
/* 80 is Tây Ninh in scheme 34 (from 2025-07), Long An in scheme 63 */
static const char s_records80[] =
    "event_id,province,year,month,activity,kind,fund,amount_vnd,facilities,note,corrects\n"
    "B2,80,2025,8,KC3b,plan,other,300,1,,\n";
static const char s_amends[] =
    "event_id,province,year,month,activity,kind,fund,amount_vnd,facilities,note,corrects\n"
    "A1c,79,2021,3,KC3b,correction,kcqg,1200,2,sửa lần 1,A1\n"
    "A2r,79,,,,retraction,,,,,A2\n"
    "A1c2,79,2021,3,KC3b,correction,kcqg,1100,,,A1c\n"
    "X1,79,2021,3,KC3b,correction,kcqg,1,1,,NOPE\n";

/* The log the store must hold, in offset order. */
static const char *const s_ids[] = {"A1", "A2", "A3", "B1", "A1c", "A2r", "A1c2", "B2"};
#define N_ENTRIES 8

static char s_store[KC_PATH_MAX];

static void s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    KC_CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "write %s", path);
}

static char *s_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    KC_CHECK(f, "open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    KC_CHECK(b && fread(b, 1, (size_t)n, f) == (size_t)n, "read %s", path);
    b[n] = '\0';
    fclose(f);
    return b;
}

static void s_send(const kc_agg_t *agg, const char *producer, const char *csv, int want_exit,
                   long accepted, long rejected)
{
    static int calls;
    char spool[KC_PATH_MAX], out[KC_PATH_MAX];
    kc_harness_path(spool, "spool-%s", producer);
    kc_harness_path(out, "send-%d.out", ++calls);
    pid_t pid = kc_harness_send_start(agg->endpoint, producer, spool, csv, out, NULL);
    kc_summary_t s;
    kc_harness_send_wait(pid, out, SEND_MS, want_exit, &s);
    KC_CHECK(s.accepted == accepted && s.rejected == rejected,
             "%s: accepted=%ld rejected=%ld (want %ld, %ld)", csv, s.accepted, s.rejected, accepted,
             rejected);
}

/* Run a program (argv[0] a name in $KC_BIN_DIR, or an absolute path) to its
 * end; its stdout (malloc'd) into *out. Returns its exit code. */
static int s_run(char **out, const char *prog, const char *const *args)
{
    static int calls;
    char bin[KC_PATH_MAX], o[KC_PATH_MAX], e[KC_PATH_MAX];
    if (prog[0] == '/')
        snprintf(bin, sizeof bin, "%s", prog);
    else
        kc_harness_bin(bin, prog);
    calls++;
    kc_harness_path(o, "run-%d.out", calls);
    kc_harness_path(e, "run-%d.err", calls);
    char *argv[40] = {bin};
    size_t n = 1;
    for (; args[n - 1]; n++)
        argv[n] = (char *)args[n - 1];
    argv[n] = NULL;
    pid_t pid = kc_harness_spawn(argv, o, e);
    int st = 0;
    if (kc_harness_wait(pid, RUN_MS, &st) != 0) {
        kc_harness_stop(pid, SIGKILL, 5000);
        KC_CHECK(false, "%s did not end within %d ms", prog, RUN_MS);
    }
    KC_CHECK(WIFEXITED(st), "%s: killed by a signal", prog);
    *out = s_slurp(o);
    if (WEXITSTATUS(st) != 0) {
        char *err = s_slurp(e);
        fprintf(stderr, "%s exit %d; stderr:\n%s\n", prog, WEXITSTATUS(st), err);
        free(err);
    }
    return WEXITSTATUS(st);
}

/* kc-log show --store S --format jsonl ARGS: the entries, parsed (a JSON array). */
static json_t *s_show(const char *const *args)
{
    const char *a[32] = {"show", "--store", s_store, "--format", "jsonl"};
    size_t n = 5;
    for (size_t i = 0; args && args[i]; i++)
        a[n++] = args[i];
    a[n] = NULL;
    char *out;
    int ex = s_run(&out, "kc-log", a);
    KC_CHECK(ex == 0, "kc-log show: exit %d", ex);
    json_t *all = json_array();
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n")) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        KC_CHECK(json_is_object(j), "not a JSON object (%s): %s", je.text, line);
        json_array_append_new(all, j);
    }
    free(out);
    return all;
}

static const char *s_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static long long s_int(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    KC_CHECK(json_is_integer(v), "\"%s\" is not an integer", key);
    return json_integer_value(v);
}

/* The offsets kc-log show prints with ARGS, as "0,4,". */
static void s_expect_offsets(const char *want, const char *const *args)
{
    json_t *all = s_show(args);
    char got[256] = "";
    size_t i;
    json_t *e;
    json_array_foreach(all, i, e)
    {
        size_t n = strlen(got);
        snprintf(got + n, sizeof got - n, "%lld,", s_int(e, "offset"));
    }
    json_decref(all);
    KC_CHECK(strcmp(got, want) == 0, "kc-log show %s ...: offsets %s, want %s",
             args[0] ? args[0] : "", got, want);
}

static void s_check_entries(json_t *all)
{
    KC_CHECK(json_array_size(all) == N_ENTRIES, "%zu entries, want %d", json_array_size(all),
             N_ENTRIES);
    static const long long amount[] = {1000, 2000, 500, 700, 1200, -1, 1100, 300};
    static const long long facilities[] = {2, 3, 1, 1, 2, -1, -1, 1};
    static const char *const op[] = {"record",     "record",     "record",     "record",
                                     "correction", "retraction", "correction", "record"};
    static const char *const corrects[] = {NULL, NULL, NULL, NULL, "A1", "A2", "A1c", NULL};
    static const char *const note[] = {"first",     NULL, NULL, "Cần Thơ, quý 2",
                                       "sửa lần 1", NULL, NULL, NULL};
    for (size_t i = 0; i < N_ENTRIES; i++) {
        json_t *e = json_array_get(all, i);
        KC_CHECK(s_int(e, "offset") == (long long)i, "entry %zu has offset %lld", i,
                 s_int(e, "offset"));
        KC_CHECK(strcmp(s_str(e, "event_id"), s_ids[i]) == 0, "entry %zu is %s, want %s", i,
                 s_str(e, "event_id"), s_ids[i]);
        KC_CHECK(strcmp(s_str(e, "op"), op[i]) == 0, "entry %zu op %s", i, s_str(e, "op"));
        const char *c = s_str(e, "corrects");
        KC_CHECK(corrects[i] ? c && strcmp(c, corrects[i]) == 0
                             : json_is_null(json_object_get(e, "corrects")),
                 "entry %zu corrects %s", i, c ? c : "null");
        const char *nt = s_str(e, "note");
        KC_CHECK(note[i] ? nt && strcmp(nt, note[i]) == 0
                         : json_is_null(json_object_get(e, "note")),
                 "entry %zu note '%s'", i, nt ? nt : "null");
        const char *prod = i == 3 || i == 7 ? "office-92" : "office-79";
        KC_CHECK(strcmp(s_str(e, "producer"), prod) == 0, "entry %zu producer %s", i,
                 s_str(e, "producer"));
        KC_CHECK(strcmp(s_str(e, "province_name"), i == 3   ? "Cần Thơ"
                                                   : i == 7 ? "Tây Ninh"
                                                            : "Hồ Chí Minh") == 0,
                 "entry %zu province_name %s", i, s_str(e, "province_name"));
        KC_CHECK(strlen(s_str(e, "leaf_hash")) == 64, "entry %zu leaf_hash", i);
        KC_CHECK(s_str(e, "received")[strlen(s_str(e, "received")) - 1] == 'Z',
                 "entry %zu received is not UTC", i);
        json_t *m = json_object_get(e, "metrics");
        size_t want_n = (amount[i] >= 0) + (facilities[i] >= 0);
        KC_CHECK(json_object_size(m) == want_n, "entry %zu has %zu metrics, want %zu", i,
                 json_object_size(m), want_n);
        if (amount[i] >= 0)
            KC_CHECK(s_int(m, "amount_vnd") == amount[i], "entry %zu amount %lld", i,
                     s_int(m, "amount_vnd"));
        if (facilities[i] >= 0)
            KC_CHECK(s_int(m, "facilities") == facilities[i], "entry %zu facilities %lld", i,
                     s_int(m, "facilities"));
    }
    json_t *b1 = json_array_get(all, 3);
    KC_CHECK(strcmp(s_str(b1, "fund"), "kcdp") == 0 && strcmp(s_str(b1, "kind"), "actual") == 0 &&
                 s_int(b1, "year") == 2021 && s_int(b1, "month") == 5 &&
                 strcmp(s_str(b1, "activity"), "KC3b") == 0,
             "B1's period, activity, kind or fund");
    json_t *b2 = json_array_get(all, 7);
    KC_CHECK(strcmp(s_str(b2, "fund"), "other") == 0 && strcmp(s_str(b2, "kind"), "plan") == 0,
             "B2's kind or fund");
}

static void s_check_filters(json_t *all)
{
    s_expect_offsets("3,", (const char *[]){"--province", "can tho", NULL});
    s_expect_offsets("3,", (const char *[]){"--province", "Cần Thơ", NULL});
    /* a name holds its scheme: 80 of 2025-08 is Tây Ninh, not Long An */
    s_expect_offsets("7,", (const char *[]){"--province", "tay ninh", NULL});
    s_expect_offsets("", (const char *[]){"--province", "Long An", NULL});
    s_expect_offsets("7,", (const char *[]){"--province", "80", NULL});
    s_expect_offsets("3,7,", (const char *[]){"--province", "can tho", "--province", "80", NULL});
    s_expect_offsets("0,1,2,4,5,6,", (const char *[]){"--province", "79", NULL});
    s_expect_offsets("0,1,2,4,5,6,", (const char *[]){"--province", "tp ho chi minh", NULL});
    s_expect_offsets("0,4,", (const char *[]){"--event-id", "A1", NULL});
    s_expect_offsets("5,", (const char *[]){"--event-id", "A2r", NULL});
    s_expect_offsets("", (const char *[]){"--event-id", "X1", NULL}); /* rejected */
    s_expect_offsets("2,3,4,", (const char *[]){"--from", "2", "--to", "4", NULL});
    s_expect_offsets("3,7,", (const char *[]){"--producer", "office-92", NULL});
    s_expect_offsets("0,1,", (const char *[]){"--limit", "2", NULL});
    s_expect_offsets("4,",
                     (const char *[]){"--province", "79", "--from", "3", "--limit", "1", NULL});
    /* time: the UTC instants of entries 3 and 4 (different kc-send runs) */
    const char *t3 = s_str(json_array_get(all, 3), "received");
    const char *t4 = s_str(json_array_get(all, 4), "received");
    KC_CHECK(strcmp(t3, t4) < 0, "entries 3 and 4 received at %s and %s", t3, t4);
    s_expect_offsets("4,5,6,7,", (const char *[]){"--since", t4, NULL});
    s_expect_offsets("5,6,", (const char *[]){"--since", t4, "--from", "5", "--to", "6", NULL});
    s_expect_offsets("1,2,", (const char *[]){"--until", t3, "--from", "1", "--to", "2", NULL});
    s_expect_offsets("0,1,2,3,", (const char *[]){"--until", t3, NULL});
    /* 4, 5 and 6 came in one batch, one commit: one received time */
    s_expect_offsets("3,4,5,6,", (const char *[]){"--since", t3, "--until", t4, NULL});
    s_expect_offsets("3,", (const char *[]){"--since", t3, "--until", t3, NULL});
    /* a local date (today: the whole day) and a local date-time with a space */
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    char today[16];
    strftime(today, sizeof today, "%Y-%m-%d", &tm);
    s_expect_offsets("0,1,2,3,4,5,6,7,",
                     (const char *[]){"--since", today, "--until", today, NULL});
    s_expect_offsets("", (const char *[]){"--until", "2020-01-01 00:00:00", NULL});
    s_expect_offsets("0,1,2,3,4,5,6,7,", (const char *[]){"--since", "2020-01-01 00:00:00", NULL});
    /* local time is TZ's: entry 4's instant as a Hồ Chí Minh wall clock, with a space */
    setenv("TZ", "Asia/Ho_Chi_Minh", 1);
    tzset();
    long long ns4 = s_int(json_array_get(all, 4), "received_ns");
    time_t sec = (time_t)(ns4 / 1000000000);
    struct tm hcm;
    localtime_r(&sec, &hcm);
    char wall[64];
    size_t wn = strftime(wall, sizeof wall, "%Y-%m-%d %H:%M:%S", &hcm);
    snprintf(wall + wn, sizeof wall - wn, ".%09lld", ns4 % 1000000000);
    s_expect_offsets("4,5,6,7,", (const char *[]){"--since", wall, NULL});
    s_expect_offsets("0,1,2,3,4,5,6,", (const char *[]){"--until", wall, "--to", "6", NULL});
    char *out;
    int ex = s_run(
        &out, "kc-log",
        (const char *[]){"show", "--store", s_store, "--format", "csv", "--limit", "1", NULL});
    KC_CHECK(ex == 0 && strstr(out, "+07:00,office-79,"), "CSV time not in TZ's local time: %s",
             out);
    free(out);
    unsetenv("TZ");
    tzset();
}

static const char s_csv_check[] =
    "import csv, sys\n"
    "rows = list(csv.DictReader(open(sys.argv[1], encoding='utf-8-sig', newline='')))\n"
    "assert [r['event_id'] for r in rows] == ['A1','A2','A3','B1','A1c','A2r','A1c2','B2'], rows\n"
    "assert [r['amount_vnd'] for r in rows] == ['1000','2000','500','700','1200','','1100','300']\n"
    "assert [r['facilities'] for r in rows] == ['2','3','1','1','2','','','1']\n"
    "assert rows[7]['province_name'] == 'Tây Ninh' and rows[7]['kind'] == 'plan'\n"
    "assert rows[3]['province_name'] == 'Cần Thơ' and rows[0]['province_name'] == 'Hồ Chí Minh'\n"
    "assert rows[3]['note'] == 'Cần Thơ, quý 2' and rows[4]['note'] == 'sửa lần 1'\n"
    "assert rows[5]['op'] == 'retraction' and rows[5]['corrects'] == 'A2'\n"
    "assert rows[3]['producer'] == 'office-92' and rows[3]['fund'] == 'kcdp'\n"
    "assert all(len(r['leaf_hash']) == 64 for r in rows)\n"
    "for m in ('revenue_vnd','persons','projects'): assert m in rows[0]\n";

static void s_check_csv(void)
{
    char *out, path[KC_PATH_MAX];
    int ex = s_run(&out, "kc-log",
                   (const char *[]){"show", "--store", s_store, "--format", "csv", NULL});
    KC_CHECK(ex == 0, "kc-log show --format csv: exit %d", ex);
    KC_CHECK(strncmp(out,
                     "\xEF\xBB\xBF"
                     "offset,",
                     10) == 0,
             "CSV lacks its BOM");
    kc_harness_path(path, "show.csv");
    s_write(path, out);
    free(out);
    ex = s_run(&out, "/usr/bin/python3", (const char *[]){"-c", s_csv_check, path, NULL});
    KC_CHECK(ex == 0, "python3 csv check failed (exit %d)", ex);
    free(out);
    ex = s_run(&out, "kc-log",
               (const char *[]){"show", "--store", s_store, "--format", "csv", "--no-bom", NULL});
    KC_CHECK(ex == 0 && strncmp(out, "offset,", 7) == 0, "--no-bom: exit %d", ex);
    free(out);
}

static void s_check_table(void)
{
    char *out;
    int ex = s_run(&out, "kc-log",
                   (const char *[]){"show", "--store", s_store, "--format", "table", NULL});
    KC_CHECK(ex == 0, "kc-log show --format table: exit %d", ex);
    KC_CHECK(strstr(out, "79 Hồ Chí Minh") && strstr(out, "92 Cần Thơ") &&
                 strstr(out, "amount_vnd 1200, facilities 2") && strstr(out, "sửa lần 1"),
             "table:\n%s", out);
    free(out);
    /* exit codes: usage 64 (a bad format, time, province), no store 66 */
    const char *bad[][4] = {{"--format", "xml"},
                            {"--since", "yesterday"},
                            {"--province", "Atlantis"},
                            {"--from", "5", "--to", "2"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        ex = s_run(&out, "kc-log",
                   (const char *[]){"show", "--store", s_store, bad[i][0], bad[i][1], bad[i][2],
                                    bad[i][3], NULL});
        KC_CHECK(ex == 64, "kc-log show %s %s: exit %d, want 64", bad[i][0], bad[i][1], ex);
        free(out);
    }
    char none[KC_PATH_MAX];
    kc_harness_path(none, "no-store");
    ex = s_run(&out, "kc-log", (const char *[]){"show", "--store", none, NULL});
    KC_CHECK(ex == 66, "kc-log show on no store: exit %d, want 66", ex);
    free(out);
    /* not a terminal: JSON lines by default */
    ex = s_run(&out, "kc-log", (const char *[]){"show", "--store", s_store, "--limit", "1", NULL});
    KC_CHECK(ex == 0 && out[0] == '{', "default format off a terminal: exit %d: %s", ex, out);
    free(out);
}

/* --lang vi: the CSV's Vietnamese headers and words, read by Python's csv */
static const char s_csv_vi_check[] =
    "import csv, sys\n"
    "rows = list(csv.DictReader(open(sys.argv[1], encoding='utf-8-sig', newline='')))\n"
    "h = list(rows[0].keys())\n"
    "assert h[:3] == ['vị trí', 'thời gian nhận', 'nguồn gửi'], h\n"
    "assert 'offset' not in h and 'amount_vnd' not in h and h[-2:] == ['ghi chú', 'người nhập'], "
    "h\n"
    "assert [r['mã sự kiện'] for r in rows] == ['A1','A2','A3','B1','A1c','A2r','A1c2','B2']\n"
    "assert [r['kinh phí'] for r in rows] == ['1000','2000','500','700','1200','','1100','300']\n"
    "assert [r['cơ sở'] for r in rows] == ['2','3','1','1','2','','','1']\n"
    "assert [r['thao tác'] for r in rows] == ['ghi nhận'] * 4 + ['điều chỉnh', 'thu hồi', "
    "'điều chỉnh', 'ghi nhận'], [r['thao tác'] for r in rows]\n"
    "assert rows[0]['loại'] == 'thực hiện' and rows[7]['loại'] == 'kế hoạch'\n"
    "assert rows[0]['nguồn kinh phí'] == 'KCQG' and rows[3]['nguồn kinh phí'] == 'KCĐP'\n"
    "assert rows[7]['nguồn kinh phí'] == 'nguồn khác' and rows[5]['nguồn kinh phí'] == ''\n"
    "assert rows[0]['nội dung hoạt động'] == 'Ứng dụng máy móc tiên tiến'\n"
    "assert rows[0]['mã hoạt động'] == 'KC3b' and rows[5]['điều chỉnh mã'] == 'A2'\n"
    "assert rows[3]['tỉnh, thành phố'] == 'Cần Thơ' and rows[3]['ghi chú'] == 'Cần Thơ, quý 2'\n";

/* kc-log show --store S ARGS...: its stdout (exit 0 required). */
static char *s_show_out(const char *what, const char *const *args)
{
    const char *a[32] = {"show", "--store", s_store};
    size_t n = 3;
    for (size_t i = 0; args[i]; i++)
        a[n++] = args[i];
    a[n] = NULL;
    char *out;
    int ex = s_run(&out, "kc-log", a);
    KC_CHECK(ex == 0, "kc-log show %s: exit %d", what, ex);
    return out;
}

static void s_check_vi(void)
{
    char *out, path[KC_PATH_MAX];
    out = s_show_out("csv vi", (const char *[]){"--format", "csv", "--lang", "vi", NULL});
    kc_harness_path(path, "show-vi.csv");
    s_write(path, out);
    free(out);
    int ex = s_run(&out, "/usr/bin/python3", (const char *[]){"-c", s_csv_vi_check, path, NULL});
    KC_CHECK(ex == 0, "python3 csv check of --lang vi failed (exit %d)", ex);
    free(out);
    out = s_show_out("table vi", (const char *[]){"--format", "table", "--lang", "vi", NULL});
    KC_CHECK(strstr(out, "thời gian nhận") && strstr(out, "kinh phí 1200, cơ sở 2") &&
                 strstr(out, "điều chỉnh") && strstr(out, "thu hồi") &&
                 strstr(out, "KC3b Ứng dụng máy móc tiên tiến") && strstr(out, "KCĐP") &&
                 !strstr(out, "amount_vnd") && !strstr(out, "correction"),
             "table --lang vi:\n%s", out);
    free(out);
    /* JSON lines are language-neutral */
    char *en = s_show_out("jsonl en", (const char *[]){"--format", "jsonl", "--lang", "en", NULL});
    out = s_show_out("jsonl vi", (const char *[]){"--format", "jsonl", "--lang", "vi", NULL});
    KC_CHECK(strcmp(en, out) == 0 && strstr(out, "\"op\":\"correction\""),
             "JSON lines differ by --lang:\n%s\n%s", en, out);
    free(en);
    free(out);
    /* the default follows the locale: LANG=vi_VN.UTF-8 when LC_ALL is empty; LC_ALL wins */
    setenv("LC_ALL", "", 1);
    setenv("LANG", "vi_VN.UTF-8", 1);
    out = s_show_out("csv under LANG=vi", (const char *[]){"--format", "csv", "--no-bom", NULL});
    KC_CHECK(strncmp(out, "vị trí,", strlen("vị trí,")) == 0, "LANG=vi: CSV header %.80s", out);
    free(out);
    out = s_show_out("csv --lang en under LANG=vi",
                     (const char *[]){"--format", "csv", "--no-bom", "--lang", "en", NULL});
    KC_CHECK(strncmp(out, "offset,", 7) == 0, "--lang en under LANG=vi: CSV header %.80s", out);
    free(out);
    setenv("LC_ALL", "C.UTF-8", 1);
    out = s_show_out("csv under LC_ALL=C", (const char *[]){"--format", "csv", "--no-bom", NULL});
    KC_CHECK(strncmp(out, "offset,", 7) == 0, "LC_ALL=C over LANG=vi: CSV header %.80s", out);
    free(out);
    unsetenv("LANG");
    ex = s_run(&out, "kc-log", (const char *[]){"show", "--store", s_store, "--lang", "fr", NULL});
    KC_CHECK(ex == 64, "kc-log show --lang fr: exit %d, want 64", ex);
    free(out);
}

static json_t *s_version(json_t *h, size_t i)
{
    json_t *chains = json_object_get(h, "chains");
    KC_CHECK(json_array_size(chains) == 1, "%zu chains", json_array_size(chains));
    return json_array_get(json_array_get(chains, 0), i);
}

static void s_check_history(void)
{
    char *out;
    int ex = s_run(&out, "kc-audit",
                   (const char *[]){"--store", s_store, "history", "--province", "79", "--event",
                                    "A1c2", "--format", "json", NULL});
    KC_CHECK(ex == 0, "history A1c2: exit %d", ex);
    json_error_t je;
    json_t *h = json_loads(out, 0, &je);
    KC_CHECK(h, "history is not JSON (%s): %s", je.text, out);
    free(out);
    KC_CHECK(json_array_size(json_array_get(json_object_get(h, "chains"), 0)) == 3,
             "A1's chain is not 3 versions");
    json_t *v0 = s_version(h, 0), *v1 = s_version(h, 1), *v2 = s_version(h, 2);
    KC_CHECK(s_int(json_object_get(v0, "metrics"), "amount_vnd") == 1000 &&
                 strcmp(s_str(v0, "note"), "first") == 0 &&
                 strcmp(s_str(v0, "producer"), "office-79") == 0 &&
                 json_is_null(json_object_get(v0, "changes")),
             "version 0 of A1");
    json_t *c1 = json_object_get(v1, "changes");
    json_t *a1 = json_object_get(json_object_get(c1, "metrics"), "amount_vnd");
    KC_CHECK(s_int(a1, "from") == 1000 && s_int(a1, "to") == 1200 &&
                 json_object_size(json_object_get(c1, "metrics")) == 1 &&
                 strcmp(s_str(json_object_get(c1, "note"), "from"), "first") == 0 &&
                 strcmp(s_str(json_object_get(c1, "note"), "to"), "sửa lần 1") == 0 &&
                 strcmp(s_str(v1, "state"), "superseded") == 0 &&
                 strcmp(s_str(v1, "op"), "correction") == 0,
             "version 1 of A1: changes wrong");
    json_t *c2 = json_object_get(v2, "changes");
    json_t *a2 = json_object_get(json_object_get(c2, "metrics"), "amount_vnd");
    json_t *f2 = json_object_get(json_object_get(c2, "metrics"), "facilities");
    KC_CHECK(s_int(a2, "from") == 1200 && s_int(a2, "to") == 1100 && s_int(f2, "from") == 2 &&
                 json_is_null(json_object_get(f2, "to")) &&
                 strcmp(s_str(v2, "state"), "live") == 0 && !json_object_get(c2, "kind"),
             "version 2 of A1: changes wrong (the kind is inherited, not changed)");
    json_decref(h);

    ex = s_run(&out, "kc-audit",
               (const char *[]){"--store", s_store, "history", "--province", "79", "--event", "A2",
                                "--format", "json", NULL});
    KC_CHECK(ex == 0, "history A2: exit %d", ex);
    h = json_loads(out, 0, &je);
    KC_CHECK(h, "history is not JSON (%s): %s", je.text, out);
    free(out);
    json_t *r = json_object_get(s_version(h, 1), "changes");
    json_t *ra = json_object_get(json_object_get(r, "metrics"), "amount_vnd");
    KC_CHECK(json_is_true(json_object_get(r, "retracted")) && s_int(ra, "from") == 2000 &&
                 json_is_null(json_object_get(ra, "to")) &&
                 json_object_size(json_object_get(r, "metrics")) == 2 &&
                 strcmp(s_str(s_version(h, 0), "state"), "retracted") == 0,
             "the retraction of A2: changes wrong");
    json_decref(h);

    ex = s_run(
        &out, "kc-audit",
        (const char *[]){"--store", s_store, "history", "--province", "79", "--event", "A1", NULL});
    KC_CHECK(ex == 0, "history A1 (text): exit %d", ex);
    KC_CHECK(
        strstr(out, "producer office-79, epoch ") && strstr(out, "note: first\n") &&
            strstr(out, "values: amount_vnd 1000, facilities 2\n") &&
            strstr(out, "note: sửa lần 1\n") &&
            strstr(out, "changed: amount_vnd 1000 → 1200, note changed\n") &&
            strstr(out, "changed: amount_vnd 1200 → 1100, facilities 2 → (none), note changed\n") &&
            strstr(out, "79 Hồ Chí Minh, 2021-03, KC3b machinery, actual, fund kcqg"),
        "history A1 text:\n%s", out);
    free(out);
    ex = s_run(&out, "kc-audit",
               (const char *[]){"--store", s_store, "history", "--province", "79", "--event", "A2r",
                                NULL});
    KC_CHECK(ex == 0 && strstr(out, "changed: retracted: every value removed (amount_vnd 2000, "
                                    "facilities 3)\n"),
             "history A2r text (exit %d):\n%s", ex, out);
    free(out);
    /* --lang vi: the same lines in Vietnamese */
    ex = s_run(&out, "kc-audit",
               (const char *[]){"--store", s_store, "history", "--province", "79", "--event", "A1",
                                "--lang", "vi", NULL});
    KC_CHECK(ex == 0, "history A1 --lang vi: exit %d", ex);
    KC_CHECK(strstr(out, "thời gian nhận (UTC)") && strstr(out, "  điều chỉnh  ") &&
                 strstr(out, "  hiện hành\n") && strstr(out, "  đã được thay\n") &&
                 strstr(out, "nguồn gửi office-79, kỳ (epoch) ") &&
                 strstr(out, "ghi chú: first\n") &&
                 strstr(out, "giá trị: kinh phí 1000, cơ sở 2\n") &&
                 strstr(out, "thay đổi: kinh phí 1000 → 1200, đổi ghi chú\n") &&
                 strstr(out, "thay đổi: kinh phí 1200 → 1100, cơ sở 2 → (không có), đổi ghi "
                             "chú\n") &&
                 strstr(out, "79 Hồ Chí Minh, 2021-03, KC3b Ứng dụng máy móc tiên tiến, thực "
                             "hiện, nguồn kinh phí KCQG") &&
                 !strstr(out, "values:") && !strstr(out, "changed:"),
             "history A1 --lang vi:\n%s", out);
    free(out);
    ex = s_run(&out, "kc-audit",
               (const char *[]){"--store", s_store, "history", "--province", "79", "--event", "A2r",
                                "--lang", "vi", NULL});
    KC_CHECK(ex == 0 && strstr(out, "thay đổi: thu hồi: bỏ mọi giá trị (kinh phí 2000, cơ sở "
                                    "3)\n"),
             "history A2r --lang vi (exit %d):\n%s", ex, out);
    free(out);
    ex = s_run(&out, "kc-audit",
               (const char *[]){"--store", s_store, "history", "--province", "79", "--event", "A1",
                                "--lang", "xx", NULL});
    KC_CHECK(ex == 64, "history --lang xx: exit %d, want 64", ex);
    free(out);
}

/* kc-admin rejects on a store with corrections and a retraction: only X1. */
static void s_check_rejects(void)
{
    char *out = NULL;
    int ex = s_run(&out, "kc-admin",
                   (const char *[]){"rejects", "--store", s_store, "--format", "json", NULL});
    KC_CHECK(ex == 0, "kc-admin rejects exit %d", ex);
    json_error_t jerr;
    json_t *doc = json_loads(out, 0, &jerr);
    KC_CHECK(doc, "kc-admin rejects: not JSON (%s): %s", jerr.text, out);
    json_t *rows = json_object_get(doc, "rejects");
    KC_CHECK(json_is_array(rows) && json_array_size(rows) == 1 &&
                 json_integer_value(json_object_get(doc, "count")) == 1,
             "kc-admin rejects: want exactly X1: %s", out);
    json_t *r = json_array_get(rows, 0);
    KC_CHECK(strcmp(json_string_value(json_object_get(r, "producer")), "office-79") == 0 &&
                 strcmp(json_string_value(json_object_get(r, "event_id")), "X1") == 0 &&
                 strcmp(json_string_value(json_object_get(r, "province")), "79") == 0 &&
                 strcmp(json_string_value(json_object_get(r, "reason")), "unknown_target") == 0 &&
                 json_is_string(json_object_get(r, "received")),
             "kc-admin rejects: the X1 row: %s", out);
    json_decref(doc);
    free(out);
}

int main(void)
{
    kc_harness_init("log_show_test");
    setenv("LC_ALL", "C.UTF-8", 1); /* English unless --lang vi (s_check_vi sets LANG) */
    char r79[KC_PATH_MAX], r92[KC_PATH_MAX], amends[KC_PATH_MAX];
    kc_harness_path(r79, "records79.csv");
    kc_harness_path(r92, "records92.csv");
    kc_harness_path(amends, "amends.csv");
    kc_harness_path(s_store, "store");
    s_write(r79, s_records79);
    s_write(r92, s_records92);
    s_write(amends, s_amends);
    char r80[KC_PATH_MAX];
    kc_harness_path(r80, "records80.csv");
    s_write(r80, s_records80);

    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, s_store, "tcp://127.0.0.1:*", NULL);
    s_send(&agg, "office-79", r79, 0, 3, 0);
    s_send(&agg, "office-92", r92, 0, 1, 0);
    s_send(&agg, "office-79", amends, 65, 3, 1);
    s_send(&agg, "office-92", r80, 0, 1, 0);
    kc_harness_agg_term(&agg);

    json_t *all = s_show(NULL);
    s_check_entries(all);
    s_check_filters(all);
    json_decref(all);
    s_check_csv();
    s_check_table();
    s_check_vi();
    s_check_history();
    s_check_rejects();
    kc_harness_pass();
    return 0;
}
