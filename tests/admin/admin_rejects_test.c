/* admin_rejects_test.c - rejected rows for auditors and central staff (issue
 * 16): `kc-admin rejects` and GET /v1/rejects over a store whose rejections
 * a real kc-aggregator made from real producers (libkcingest).
 *
 * 1. The store starts with one reject record in the layout every store
 *    before issue 16 holds (reason + text: no time, province or event_id).
 * 2. kc-aggregator (with --http) gets from producer office-79: an accepted
 *    record HCM-1; X-1 of province 99 (unknown_province); HCM-2 with persons
 *    on machinery (metric_not_allowed); HCM-1 again with another amount
 *    (event_id_conflict); HCM-1 again as it was (duplicate). Then from
 *    office-92: CT-1 of Cần Thơ with persons (metric_not_allowed). Each
 *    producer's results are checked as the library reports them.
 * 3. kc-admin rejects in json, csv (with and without the byte order mark)
 *    and table, read by Python's json and csv (utf-8-sig: rejects_read.py),
 *    with each filter: province (code, unknown code, name with and without
 *    diacritics), reason, producer, duplicates, since/until (a date, a local
 *    date-time with a space or T, the future), limit; refused arguments exit
 *    64. Times are checked to lie within the sending window, in local time
 *    (TZ=Asia/Ho_Chi_Minh) in CSV and UTC in JSON.
 * 3b. --lang vi (and the default under LANG=vi_VN.UTF-8): the CSV's
 *    Vietnamese header and reason labels (read by Python's csv), English
 *    labels with --lang en; the table's headers, labels, unknown time, count
 *    line and hint in Vietnamese; JSON the same in both languages. Every
 *    other run is under LC_ALL=C.UTF-8: English.
 * 4. GET /v1/rejects with the same filters, its JSON read by Python, and the
 *    400s: unknown parameter, repeated single parameter, a zone-less
 *    date-time, bad limit/reason/province.
 */
#include "admin_util.h"
#include "harness.h"
#include "http_util.h"
#include "kc_err.h"
#include "kc_store.h"
#include "kcingest.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define S_FLUSH_MS 60000

static char s_store[KC_PATH_MAX], s_py[KC_PATH_MAX];
static time_t s_t0, s_t1;
static unsigned s_port;

/* ---- 1. an old record ---- */

static int s_old_fn(kc_txn_t *t, void *ctx)
{
    (void)ctx;
    return kc_txn_reject_put(t, "old-office", 0, 7, 10, "month 13 is not 1-12");
}

/* ---- 2. producers ---- */

typedef struct {
    int reason[8];
    int n;
} s_results_t;

static void s_on_result(const kc_result_t *r, void *ctx)
{
    s_results_t *s = ctx;
    if (r->seq < 8)
        s->reason[r->seq] = r->reason;
    s->n++;
}

static void s_produce(const char *endpoint, const char *id, const kc_event_t *ev, int n,
                      const int *expect)
{
    char spool[KC_PATH_MAX];
    kc_harness_path(spool, "spool-%s", id);
    kc_producer_opts_t o = {.endpoint = endpoint, .producer_id = id, .spool_dir = spool};
    kc_producer_t *p = NULL;
    KC_CHECK(kc_producer_open(&p, &o) == 0, "open producer %s", id);
    s_results_t res = {0};
    kc_producer_on_result(p, s_on_result, &res);
    for (int i = 0; i < n; i++) {
        uint64_t seq = 0;
        int rc = kc_producer_add(p, &ev[i], ev[i].event_id, &seq);
        KC_CHECK(rc == 0 && seq == (uint64_t)i + 1, "add %s #%d: %s", id, i,
                 kc_producer_strerror(rc));
    }
    int rc = kc_producer_flush(p, S_FLUSH_MS); /* a bound, not a sleep */
    KC_CHECK(rc == 0 && kc_producer_pending(p) == 0, "flush %s: %s", id, kc_producer_strerror(rc));
    KC_CHECK(res.n == n, "%s: %d results for %d events", id, res.n, n);
    for (int i = 0; i < n; i++)
        KC_CHECK(res.reason[i + 1] == expect[i], "%s seq %d: reason %d, expected %d", id, i + 1,
                 res.reason[i + 1], expect[i]);
    kc_producer_close(&p);
}

/* ---- 3. kc-admin rejects ---- */

/* Run /usr/bin/python3 rejects_read.py MODE FILE T0 T1; its stdout. */
static char *s_read(const char *mode, const char *file)
{
    static int n;
    char out[KC_PATH_MAX], err[KC_PATH_MAX], a0[24], a1[24];
    kc_harness_path(out, "py-%d.out", ++n);
    kc_harness_path(err, "py-%d.err", n);
    snprintf(a0, sizeof a0, "%lld", (long long)s_t0);
    snprintf(a1, sizeof a1, "%lld", (long long)s_t1);
    char *argv[] = {"/usr/bin/python3", s_py, (char *)mode, (char *)file, a0, a1, NULL};
    pid_t pid = kc_harness_spawn(argv, out, err);
    int st = 0;
    KC_CHECK(kc_harness_wait(pid, KC_RUN_MS, &st) == 0, "python did not end");
    FILE *f = fopen(out, "r");
    char *buf = calloc(1, 1 << 16);
    KC_CHECK(f && buf, "read %s", out);
    size_t len = fread(buf, 1, (1 << 16) - 1, f);
    buf[len] = '\0';
    fclose(f);
    char eb[2048] = "";
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        FILE *e = fopen(err, "r");
        if (e) {
            size_t k = fread(eb, 1, sizeof eb - 1, e);
            eb[k] = '\0';
            fclose(e);
        }
    }
    KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "python %s of %s failed: %s", mode, file, eb);
    return buf;
}

#define R_CONFLICT "office-79|e|4|event_id_conflict|79|Hồ Chí Minh|HCM-1|time|text\n"
#define R_METRIC79 "office-79|e|3|metric_not_allowed|79|Hồ Chí Minh|HCM-2|time|text\n"
#define R_UNKNOWN  "office-79|e|2|unknown_province|99|-|X-1|time|text\n"
#define R_DUP      "office-79|e|5|duplicate|79|Hồ Chí Minh|HCM-1|time|text\n"
#define R_METRIC92 "office-92|e|1|metric_not_allowed|92|Cần Thơ|CT-1|time|text\n"
#define R_OLD      "old-office|0|7|bad_month|-|-|-|none|text\n"

/* kc-admin rejects --store S --format FMT [args...] read by Python in `mode`;
 * the lines must be `want`. */
static void s_admin(const char *mode, const char *want, const char *fmt, const char *a1,
                    const char *a2, const char *a3, const char *a4)
{
    static int n;
    char tag[32], *out = NULL, *err = NULL;
    snprintf(tag, sizeof tag, "rejects-%d", ++n);
    int rc = kc_run(tag, &out, &err, "kc-admin", "rejects", "--store", s_store, "--format", fmt, a1,
                    a2, a3, a4, (const char *)NULL);
    KC_CHECK(rc == 0, "kc-admin rejects %s %s %s exited %d: %s", fmt, a1 ? a1 : "", a2 ? a2 : "",
             rc, err ? err : "");
    char file[KC_PATH_MAX];
    kc_harness_path(file, "%s.doc", tag);
    FILE *f = fopen(file, "wb");
    KC_CHECK(f && fwrite(out, 1, strlen(out), f) == strlen(out) && fclose(f) == 0, "write %s",
             file);
    char *got = s_read(mode, file);
    KC_CHECK(strcmp(got, want) == 0, "kc-admin rejects --format %s %s %s %s %s:\n%s\nwanted:\n%s",
             fmt, a1 ? a1 : "", a2 ? a2 : "", a3 ? a3 : "", a4 ? a4 : "", got, want);
    free(got);
    free(out);
    free(err);
}

/* kc-admin rejects ARGS must exit 64 with a message naming `what`. */
static void s_refused(const char *what, const char *a1, const char *a2)
{
    char *out = NULL, *err = NULL;
    int rc = kc_run("refused", &out, &err, "kc-admin", "rejects", "--store", s_store, a1, a2,
                    (const char *)NULL);
    KC_CHECK(rc == 64 && err && strstr(err, what), "kc-admin rejects %s %s: exit %d, %s", a1,
             a2 ? a2 : "", rc, err ? err : "");
    free(out);
    free(err);
}

static void s_local(time_t t, const char *fmt, char *buf, size_t cap)
{
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(buf, cap, fmt, &tm);
}

/* ---- 4. HTTP ---- */

static void s_http(const char *query, int status, const char *want)
{
    char path[512];
    snprintf(path, sizeof path, "/v1/rejects%s", query);
    t_resp_t r = {0};
    KC_CHECK(t_http(s_port, "GET", path, &r) == 0, "GET %s: no answer", path);
    KC_CHECK(r.status == status, "GET %s: %d, expected %d: %s", path, r.status, status,
             r.body ? r.body : "");
    if (status == 200) {
        char file[KC_PATH_MAX];
        static int n;
        kc_harness_path(file, "http-%d.json", ++n);
        FILE *f = fopen(file, "wb");
        KC_CHECK(f && fwrite(r.body, 1, r.body_len, f) == r.body_len && fclose(f) == 0, "write %s",
                 file);
        char *got = s_read("json", file);
        KC_CHECK(strcmp(got, want) == 0, "GET %s:\n%s\nwanted:\n%s", path, got, want);
        free(got);
    } else {
        json_t *j = kc_json(r.body, path);
        KC_CHECK(json_is_string(json_object_get(j, "error")), "GET %s: no error member", path);
        if (want)
            KC_CHECK(strstr(json_string_value(json_object_get(j, "error")), want),
                     "GET %s: error %s lacks '%s'", path, r.body, want);
        json_decref(j);
    }
    t_resp_free(&r);
}

int main(void)
{
    kc_harness_init("admin_rejects_test");
    setenv("LC_ALL", "C.UTF-8", 1);      /* English unless --lang vi or 3b's LANG */
    (void)kc_json_int;                   /* admin_util.h's, unused here */
    setenv("TZ", "Asia/Ho_Chi_Minh", 1); /* local time of kc-admin and Python */
    tzset();
    snprintf(s_py, sizeof s_py, "%s/rejects_read.py", KC_TEST_SRC_DIR);
    kc_harness_path(s_store, "store");

    /* 1. */
    kc_store_t *s = NULL;
    KC_CHECK(kc_store_open(&s, s_store, NULL) == 0, "create %s", s_store);
    KC_CHECK(kc_store_write(s, s_old_fn, NULL) == 0, "write the old record");
    kc_store_close(&s);

    /* 2. */
    kc_agg_t agg = {0};
    const char *extra[] = {"--http", "127.0.0.1:0", NULL};
    kc_harness_agg_start(&agg, s_store, "tcp://127.0.0.1:*", extra);
    s_port = kc_harness_agg_http_port(&agg);

    s_t0 = time(NULL);
    kc_event_t e79[5] = {
        {.event_id = "HCM-1", .province = "79", .year = 2022, .month = 3, .activity = "KC3b"},
        {.event_id = "X-1", .province = "99", .year = 2022, .month = 3, .activity = "KC3b"},
        {.event_id = "HCM-2", .province = "79", .year = 2022, .month = 3, .activity = "KC3b"},
        {.event_id = "HCM-1", .province = "79", .year = 2022, .month = 3, .activity = "KC3b"},
        {.event_id = "HCM-1", .province = "79", .year = 2022, .month = 3, .activity = "KC3b"},
    };
    for (int i = 0; i < 5; i++) {
        e79[i].present = 1u << KCI_AMOUNT_VND;
        e79[i].metrics[KCI_AMOUNT_VND] = i == 3 ? 2000 : 1000;
    }
    e79[2].present |= 1u << KCI_PERSONS;
    e79[2].metrics[KCI_PERSONS] = 3;
    const int x79[5] = {0, 5, 7, 13, 1};
    s_produce(agg.endpoint, "office-79", e79, 5, x79);
    kc_event_t e92 = {.event_id = "CT-1",
                      .province = "92",
                      .year = 2022,
                      .month = 4,
                      .activity = "KC3b",
                      .present = (1u << KCI_AMOUNT_VND) | (1u << KCI_PERSONS),
                      .metrics = {[KCI_AMOUNT_VND] = 500, [KCI_PERSONS] = 2}};
    const int x92[1] = {7};
    s_produce(agg.endpoint, "office-92", &e92, 1, x92);
    s_t1 = time(NULL);

    /* 3. every row (no duplicates), newest first, the old record last */
    const char *all = R_METRIC92 R_CONFLICT R_METRIC79 R_UNKNOWN R_OLD;
    char want[4096];
    snprintf(want, sizeof want, "%scount=5 truncated=false\n", all);
    s_admin("json", want, "json", NULL, NULL, NULL, NULL);
    s_admin("csv", all, "csv", NULL, NULL, NULL, NULL);
    s_admin("csv-nobom", all, "csv", "--no-bom", NULL, NULL, NULL);
    s_admin("json",
            R_METRIC92 R_DUP R_CONFLICT R_METRIC79 R_UNKNOWN R_OLD "count=6 truncated=false\n",
            "json", "--duplicates", NULL, NULL, NULL);
    s_admin("json", R_DUP "count=1 truncated=false\n", "json", "--reason", "duplicate", NULL, NULL);
    s_admin("json", R_CONFLICT R_METRIC79 "count=2 truncated=false\n", "json", "--province", "79",
            NULL, NULL);
    s_admin("csv", R_UNKNOWN, "csv", "--province", "99", NULL, NULL);
    s_admin("csv", R_METRIC92, "csv", "--province", "can tho", NULL, NULL);
    s_admin("csv", R_METRIC92, "csv", "--province", "Cần Thơ", NULL, NULL);
    s_admin("json", R_METRIC92 R_CONFLICT R_METRIC79 "count=3 truncated=false\n", "json",
            "--province", "92", "--province", "TP. Hồ Chí Minh");
    s_admin("json", R_METRIC92 R_METRIC79 "count=2 truncated=false\n", "json", "--reason",
            "metric_not_allowed", NULL, NULL);
    s_admin("csv", R_CONFLICT R_UNKNOWN, "csv", "--reason", "unknown_province", "--reason",
            "event_id_conflict");
    s_admin("csv", R_METRIC92, "csv", "--producer", "office-92", NULL, NULL);
    s_admin("json", R_METRIC92 R_CONFLICT "count=5 truncated=true\n", "json", "--limit", "2", NULL,
            NULL);
    /* since/until: local time; a record without a time never matches them */
    char day[32], before[48], beforet[48], after[48], zoned[64];
    s_local(s_t0, "%Y-%m-%d", day, sizeof day);
    s_local(s_t0 - 1, "%Y-%m-%d %H:%M:%S", before, sizeof before);
    s_local(s_t0 - 1, "%Y-%m-%dT%H:%M:%S", beforet, sizeof beforet);
    s_local(s_t1 + 2, "%Y-%m-%d %H:%M:%S", after, sizeof after);
    s_local(s_t1 + 2, "%Y-%m-%dT%H:%M:%S+07:00", zoned, sizeof zoned);
    const char *timed = R_METRIC92 R_CONFLICT R_METRIC79 R_UNKNOWN;
    s_admin("csv", timed, "csv", "--since", day, NULL, NULL);
    s_admin("csv", timed, "csv", "--since", before, NULL, NULL);
    s_admin("csv", timed, "csv", "--since", beforet, "--until", after);
    s_admin("csv", timed, "csv", "--until", zoned, NULL, NULL);
    s_admin("csv", "", "csv", "--since", after, NULL, NULL);
    s_admin("csv", "", "csv", "--until", before, NULL, NULL);
    s_admin("csv", R_METRIC92, "csv", "--since", day, "--province", "92");

    /* the table: local times, names, the count */
    char *out = NULL, *err = NULL;
    int rc =
        kc_run("table", &out, &err, "kc-admin", "rejects", "--store", s_store, (const char *)NULL);
    KC_CHECK(rc == 0 && out, "kc-admin rejects (table) exited %d: %s", rc, err ? err : "");
    char t0s[48];
    s_local(s_t0, "%Y-%m-%d", t0s, sizeof t0s);
    const char *has[] = {"received", "92 Cần Thơ",           "unknown_province", "99", "X-1",
                         "unknown",  "month 13 is not 1-12", "5 rejected rows",  t0s};
    for (size_t i = 0; i < sizeof has / sizeof *has; i++)
        KC_CHECK(strstr(out, has[i]), "the table lacks '%s':\n%s", has[i], out);
    KC_CHECK(!strstr(out, "duplicate"), "the table lists a duplicate:\n%s", out);
    free(out);
    free(err);
    rc = kc_run("table-limit", &out, &err, "kc-admin", "rejects", "--store", s_store, "--limit",
                "1", (const char *)NULL);
    KC_CHECK(rc == 0 && strstr(out, "5 rejected rows, 1 shown: raise --limit"),
             "kc-admin rejects --limit 1: %s", out ? out : "");
    free(out);
    free(err);

    /* 3b. languages */
    s_admin("labels",
            "metric_not_allowed|Figure not allowed for the activity\n"
            "event_id_conflict|Event ID reused with other content\n"
            "metric_not_allowed|Figure not allowed for the activity\n"
            "unknown_province|Unknown province\n"
            "bad_month|Invalid month\n",
            "csv", NULL, NULL, NULL, NULL);
    const char *labels_vi = "metric_not_allowed|Chỉ tiêu không áp dụng cho nội dung này\n"
                            "event_id_conflict|Trùng mã sự kiện nhưng khác nội dung\n"
                            "metric_not_allowed|Chỉ tiêu không áp dụng cho nội dung này\n"
                            "unknown_province|Mã tỉnh không xác định\n"
                            "bad_month|Tháng không hợp lệ\n";
    s_admin("labels-vi", labels_vi, "csv", "--lang", "vi", NULL, NULL);
    s_admin("labels-vi", "duplicate|Trùng lặp\n", "csv", "--lang", "vi", "--reason", "duplicate");
    rc = kc_run("table-vi", &out, &err, "kc-admin", "rejects", "--store", s_store, "--lang", "vi",
                (const char *)NULL);
    KC_CHECK(rc == 0 && out, "kc-admin rejects --lang vi exited %d: %s", rc, err ? err : "");
    const char *has_vi[] = {"Thời gian nhận",
                            "Nguồn gửi",
                            "Mã tỉnh không xác định (unknown_province)",
                            "Trùng mã sự kiện nhưng khác nội dung (event_id_conflict)",
                            "không rõ",
                            "92 Cần Thơ",
                            "5 dòng bị từ chối\n"};
    for (size_t i = 0; i < sizeof has_vi / sizeof *has_vi; i++)
        KC_CHECK(strstr(out, has_vi[i]), "the table --lang vi lacks '%s':\n%s", has_vi[i], out);
    KC_CHECK(!strstr(out, "received") && !strstr(out, "rejected row"),
             "the table --lang vi has English:\n%s", out);
    free(out);
    free(err);
    setenv("LC_ALL", "", 1); /* the locale's language: LANG */
    setenv("LANG", "vi_VN.UTF-8", 1);
    rc = kc_run("table-vi-limit", &out, &err, "kc-admin", "rejects", "--store", s_store, "--limit",
                "1", (const char *)NULL);
    KC_CHECK(rc == 0 && strstr(out, "5 dòng bị từ chối, hiện 1 dòng: tăng --limit"),
             "kc-admin rejects --limit 1 under LANG=vi: %s", out ? out : "");
    free(out);
    free(err);
    char *en_json = NULL;
    rc = kc_run("json-en", &en_json, &err, "kc-admin", "rejects", "--store", s_store, "--format",
                "json", "--lang", "en", (const char *)NULL);
    KC_CHECK(rc == 0 && en_json, "kc-admin rejects --format json --lang en: %d", rc);
    free(err);
    rc = kc_run("json-vi", &out, &err, "kc-admin", "rejects", "--store", s_store, "--format",
                "json", (const char *)NULL);
    KC_CHECK(rc == 0 && out && strcmp(out, en_json) == 0,
             "kc-admin rejects JSON differs by language:\n%s\n%s", en_json, out ? out : "");
    free(out);
    free(err);
    free(en_json);
    setenv("LC_ALL", "C.UTF-8", 1);
    unsetenv("LANG");
    s_refused("--lang takes en or vi", "--lang", "fr");
    rc = kc_run("stat-lang", &out, &err, "kc-admin", "stat", "--store", s_store, "--lang", "vi",
                (const char *)NULL);
    KC_CHECK(rc == 64 && err && strstr(err, "--lang is an option of rejects"),
             "kc-admin stat --lang: exit %d %s", rc, err ? err : "");
    free(out);
    free(err);

    s_refused("--reason: unknown reason 'bogus'", "--reason", "bogus");
    s_refused("--since: 'yesterday' is not", "--since", "yesterday");
    s_refused("--province: unknown province 'Atlantis'", "--province", "Atlantis");
    s_refused("--format must be table, json or csv", "--format", "xml");
    s_refused("--limit", "--limit", "0");
    s_refused("--no-bom goes with --format csv", "--no-bom", NULL);
    rc = kc_run("stat-province", &out, &err, "kc-admin", "stat", "--store", s_store, "--province",
                "79", (const char *)NULL);
    KC_CHECK(rc == 64 && err && strstr(err, "--province is an option of rejects"),
             "kc-admin stat --province: exit %d %s", rc, err ? err : "");
    free(out);
    free(err);

    /* 4. GET /v1/rejects */
    snprintf(want, sizeof want, "%scount=5 truncated=false\n", all);
    s_http("", 200, want);
    s_http("?province=79", 200, R_CONFLICT R_METRIC79 "count=2 truncated=false\n");
    s_http("?province=can%20tho", 200, R_METRIC92 "count=1 truncated=false\n");
    s_http("?province=79&province=92", 200,
           R_METRIC92 R_CONFLICT R_METRIC79 "count=3 truncated=false\n");
    s_http("?reason=unknown_province", 200, R_UNKNOWN "count=1 truncated=false\n");
    s_http("?producer=office-92", 200, R_METRIC92 "count=1 truncated=false\n");
    s_http("?duplicates=1&reason=duplicate", 200, R_DUP "count=1 truncated=false\n");
    s_http("?limit=1", 200, R_METRIC92 "count=5 truncated=true\n");
    char q[160], utc[32];
    struct tm tm;
    gmtime_r(&s_t0, &tm);
    strftime(utc, sizeof utc, "%Y-%m-%d", &tm);
    snprintf(q, sizeof q, "?since=%s&reason=metric_not_allowed", utc);
    s_http(q, 200, R_METRIC92 R_METRIC79 "count=2 truncated=false\n");
    gmtime_r(&s_t0, &tm);
    tm.tm_sec -= 1;
    time_t b = timegm(&tm);
    gmtime_r(&b, &tm);
    strftime(utc, sizeof utc, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(q, sizeof q, "?since=%s&province=92", utc);
    s_http(q, 200, R_METRIC92 "count=1 truncated=false\n");
    time_t a = s_t1 + 2;
    gmtime_r(&a, &tm);
    strftime(utc, sizeof utc, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(q, sizeof q, "?since=%s", utc);
    s_http(q, 200, "count=0 truncated=false\n");
    s_http("?bogus=1", 400, "unknown parameter 'bogus'");
    s_http("?limit=1&limit=2", 400, "'limit' given more than once");
    s_http("?since=2026-12-07T10:00:00", 400, "since");
    s_http("?limit=0", 400, "limit");
    s_http("?limit=1001", 400, "limit");
    s_http("?reason=ok", 400, "unknown reason 'ok'");
    s_http("?province=Atlantis", 400, "unknown province");
    s_http("?duplicates=maybe", 400, "duplicates");

    kc_harness_agg_term(&agg);
    printf("admin_rejects_test: ok\n");
    kc_harness_pass();
    return 0;
}
