/* submitted_by_test.c - who entered an event (Event.submitted_by, field 16)
 * end to end, with real components: kc-send --submitted-by into a real
 * kc-aggregator, read back by kc-log show and kc-audit history, and the log
 * replayed by kc-replay.
 *
 *   - kc-send --submitted-by office-79/lan sends S1, S2: accepted;
 *   - the same S1 resent (another producer, another spool) under the same
 *     name: duplicate; under office-79/minh, or without a name:
 *     event_id_conflict (submitted_by is content: PROTOCOL.md);
 *   - S3 without --submitted-by: accepted, no one named;
 *   - S1c (a correction of S1) by office-79/minh: accepted;
 *   - names that break the rule (65 bytes, a control character, not UTF-8,
 *     empty) are a usage error of kc-send (64, invalid_text), nothing sent;
 *   then with the aggregator stopped:
 *   - kc-log show jsonl: "submitted_by" of each entry (null for S3); CSV read
 *     by /usr/bin/python3's csv module: the submitted_by column; the table;
 *   - kc-audit history of S1, JSON and text (en, vi): each version's name;
 *   - kc-replay rebuild: the log replays to the same root (kc-replay checks),
 *     and kc-replay verify agrees with the totals.
 * The aggregator's own refusal of bad names (a producer that does not
 * pre-check) is in tests/conformance (TextTest.test_submitted_by).
 * Synchronisation: the ready file, each child's exit by pid with deadlines.
 */
#include "harness.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SEND_MS 120000
#define RUN_MS  60000

static const char s_head[] =
    "event_id,province,year,month,activity,kind,fund,amount_vnd,facilities,note,corrects\n";
static const char s_s1[] = "S1,79,2021,3,KC3b,actual,kcqg,1000,2,,\n";
static const char s_s2[] = "S2,79,2021,4,KC3b,actual,kcqg,500,1,,\n";
static const char s_s3[] = "S3,79,2021,5,KC3b,actual,kcqg,300,1,,\n";
static const char s_s1c[] = "S1c,79,2021,3,KC3b,correction,kcqg,1200,2,,S1\n";

static char s_store[KC_PATH_MAX];

static void s_write(const char *path, const char *a, const char *b)
{
    FILE *f = fopen(path, "w");
    KC_CHECK(f && fputs(a, f) >= 0 && (!b || fputs(b, f) >= 0) && fclose(f) == 0, "write %s", path);
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

/* kc-send CSV as producer (own spool) with --submitted-by `by` (NULL: none):
 * its exit and summary checked; its stdout returned (malloc'd). */
static char *s_send(const kc_agg_t *agg, const char *producer, const char *by, const char *csv,
                    int want_exit, long accepted, long duplicates, long rejected)
{
    static int calls;
    char spool[KC_PATH_MAX], out[KC_PATH_MAX];
    kc_harness_path(spool, "spool-%s", producer);
    kc_harness_path(out, "send-%d.out", ++calls);
    const char *extra[] = {"--submitted-by", by, NULL};
    pid_t pid = kc_harness_send_start(agg->endpoint, producer, spool, csv, out, by ? extra : NULL);
    kc_summary_t s;
    kc_harness_send_wait(pid, out, SEND_MS, want_exit, &s);
    KC_CHECK(s.accepted == accepted && s.duplicates == duplicates && s.rejected == rejected,
             "%s by %s: accepted=%ld duplicates=%ld rejected=%ld (want %ld, %ld, %ld)", csv,
             by ? by : "(none)", s.accepted, s.duplicates, s.rejected, accepted, duplicates,
             rejected);
    return s_slurp(out);
}

/* Run a program (a name in $KC_BIN_DIR, or an absolute path) to its end:
 * its stdout (malloc'd) in *out, its stderr in *err if err. Its exit code. */
static int s_run(char **out, char **err, const char *prog, const char *const *args)
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
    if (err)
        *err = s_slurp(e);
    return WEXITSTATUS(st);
}

/* A name kc-send must refuse before spooling: exit 64, invalid_text. */
static void s_refused(const kc_agg_t *agg, const char *csv, const char *by)
{
    char spool[KC_PATH_MAX];
    kc_harness_path(spool, "spool-refused");
    char *out, *err;
    int ex = s_run(&out, &err, "kc-send",
                   (const char *[]){"--connect", agg->endpoint, "--producer", "office-79x",
                                    "--spool", spool, "--timeout", "30", "--no-config",
                                    "--submitted-by", by, csv, NULL});
    KC_CHECK(ex == 64 && strstr(err, "--submitted-by: invalid_text: submitted_by "),
             "kc-send --submitted-by (a bad name, %zu bytes): exit %d, stderr:\n%s", strlen(by), ex,
             err);
    free(out);
    free(err);
}

static const char *s_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void s_check_show(void)
{
    char *out;
    int ex = s_run(&out, NULL, "kc-log",
                   (const char *[]){"show", "--store", s_store, "--format", "jsonl", NULL});
    KC_CHECK(ex == 0, "kc-log show: exit %d", ex);
    /* the log: S1, S2 (office-79/lan), S3 (no one), S1c (office-79/minh) */
    static const char *const ids[] = {"S1", "S2", "S3", "S1c"};
    static const char *const by[] = {"office-79/lan", "office-79/lan", NULL, "office-79/minh"};
    size_t i = 0;
    for (char *line = strtok(out, "\n"); line; line = strtok(NULL, "\n"), i++) {
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        KC_CHECK(json_is_object(j) && i < 4, "entry %zu: %s", i, line);
        KC_CHECK(strcmp(s_str(j, "event_id"), ids[i]) == 0, "entry %zu: %s", i, line);
        json_t *v = json_object_get(j, "submitted_by");
        KC_CHECK(by[i] ? json_is_string(v) && strcmp(json_string_value(v), by[i]) == 0
                       : json_is_null(v),
                 "entry %zu: submitted_by wrong: %s", i, line);
        json_decref(j);
    }
    KC_CHECK(i == 4, "%zu entries, want 4", i);
    free(out);

    ex = s_run(&out, NULL, "kc-log",
               (const char *[]){"show", "--store", s_store, "--format", "csv", NULL});
    KC_CHECK(ex == 0, "kc-log show --format csv: exit %d", ex);
    char path[KC_PATH_MAX];
    kc_harness_path(path, "show.csv");
    s_write(path, out, NULL);
    free(out);
    static const char check[] =
        "import csv, sys\n"
        "rows = list(csv.DictReader(open(sys.argv[1], encoding='utf-8-sig', newline='')))\n"
        "assert [r['event_id'] for r in rows] == ['S1','S2','S3','S1c'], rows\n"
        "assert [r['submitted_by'] for r in rows] == "
        "['office-79/lan','office-79/lan','','office-79/minh'], rows\n"
        "assert [r['amount_vnd'] for r in rows] == ['1000','500','300','1200'], rows\n";
    ex = s_run(&out, NULL, "/usr/bin/python3", (const char *[]){"-c", check, path, NULL});
    KC_CHECK(ex == 0, "python3 csv check failed (exit %d)", ex);
    free(out);

    ex = s_run(&out, NULL, "kc-log",
               (const char *[]){"show", "--store", s_store, "--format", "table", NULL});
    KC_CHECK(ex == 0 && strstr(out, "submitted by") && strstr(out, "office-79/minh"),
             "kc-log show --format table (exit %d):\n%s", ex, out);
    free(out);
    ex = s_run(
        &out, NULL, "kc-log",
        (const char *[]){"show", "--store", s_store, "--format", "table", "--lang", "vi", NULL});
    KC_CHECK(ex == 0 && strstr(out, "người nhập") && strstr(out, "office-79/lan"),
             "kc-log show --format table --lang vi (exit %d):\n%s", ex, out);
    free(out);
}

static void s_check_history(void)
{
    char *out;
    int ex = s_run(&out, NULL, "kc-audit",
                   (const char *[]){"--store", s_store, "history", "--province", "79", "--event",
                                    "S1", "--format", "json", NULL});
    KC_CHECK(ex == 0, "history S1: exit %d", ex);
    json_error_t je;
    json_t *h = json_loads(out, 0, &je);
    KC_CHECK(h, "history is not JSON (%s): %s", je.text, out);
    free(out);
    json_t *chains = json_object_get(h, "chains");
    KC_CHECK(json_array_size(chains) == 1, "%zu chains", json_array_size(chains));
    json_t *vs = json_array_get(chains, 0);
    KC_CHECK(json_array_size(vs) == 2, "history S1: %zu versions", json_array_size(vs));
    KC_CHECK(strcmp(s_str(json_array_get(vs, 0), "submitted_by"), "office-79/lan") == 0 &&
                 strcmp(s_str(json_array_get(vs, 1), "submitted_by"), "office-79/minh") == 0,
             "history S1: submitted_by per version wrong");
    json_decref(h);

    ex = s_run(
        &out, NULL, "kc-audit",
        (const char *[]){"--store", s_store, "history", "--province", "79", "--event", "S1", NULL});
    KC_CHECK(ex == 0 && strstr(out, "submitted by: office-79/lan\n") &&
                 strstr(out, "submitted by: office-79/minh\n"),
             "history S1 text (exit %d):\n%s", ex, out);
    free(out);
    ex = s_run(&out, NULL, "kc-audit",
               (const char *[]){"--store", s_store, "history", "--province", "79", "--event", "S1",
                                "--lang", "vi", NULL});
    KC_CHECK(ex == 0 && strstr(out, "người nhập: office-79/lan\n") &&
                 strstr(out, "người nhập: office-79/minh\n"),
             "history S1 --lang vi (exit %d):\n%s", ex, out);
    free(out);
    /* S3 names no one: no line */
    ex = s_run(
        &out, NULL, "kc-audit",
        (const char *[]){"--store", s_store, "history", "--province", "79", "--event", "S3", NULL});
    KC_CHECK(ex == 0 && !strstr(out, "submitted by"), "history S3 text (exit %d):\n%s", ex, out);
    free(out);
}

static void s_check_replay(void)
{
    char *out, *err, copy[KC_PATH_MAX];
    kc_harness_path(copy, "rebuilt");
    int ex = s_run(&out, &err, "kc-replay",
                   (const char *[]){"rebuild", "--from", s_store, "--to", copy, NULL});
    KC_CHECK(ex == 0, "kc-replay rebuild: exit %d\n%s%s", ex, out, err);
    free(out);
    free(err);
    ex = s_run(&out, &err, "kc-replay", (const char *[]){"verify", "--store", copy, NULL});
    KC_CHECK(ex == 0, "kc-replay verify: exit %d\n%s%s", ex, out, err);
    free(out);
    free(err);
}

int main(void)
{
    kc_harness_init("submitted_by_test");
    setenv("LC_ALL", "C.UTF-8", 1);
    char s12[KC_PATH_MAX], s1[KC_PATH_MAX], s3[KC_PATH_MAX], s1c[KC_PATH_MAX];
    kc_harness_path(s12, "s12.csv");
    kc_harness_path(s1, "s1.csv");
    kc_harness_path(s3, "s3.csv");
    kc_harness_path(s1c, "s1c.csv");
    char both[128];
    snprintf(both, sizeof both, "%s%s", s_s1, s_s2);
    s_write(s12, s_head, both);
    s_write(s1, s_head, s_s1);
    s_write(s3, s_head, s_s3);
    s_write(s1c, s_head, s_s1c);
    kc_harness_path(s_store, "store");

    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, s_store, "tcp://127.0.0.1:*", NULL);
    free(s_send(&agg, "office-79", "office-79/lan", s12, 0, 2, 0, 0));
    /* the same content again, from another spool: a duplicate */
    free(s_send(&agg, "office-79-b", "office-79/lan", s1, 0, 0, 1, 0));
    /* another name, or none: other content under the same identity */
    char *o = s_send(&agg, "office-79-c", "office-79/minh", s1, 65, 0, 0, 1);
    KC_CHECK(strstr(o, "event_id_conflict"), "S1 by another name: not a conflict:\n%s", o);
    free(o);
    o = s_send(&agg, "office-79-d", NULL, s1, 65, 0, 0, 1);
    KC_CHECK(strstr(o, "event_id_conflict"), "S1 without a name: not a conflict:\n%s", o);
    free(o);
    free(s_send(&agg, "office-79", NULL, s3, 0, 1, 0, 0));
    free(s_send(&agg, "office-79", "office-79/minh", s1c, 0, 1, 0, 0));
    /* names kc-send refuses before anything is spooled */
    char longname[66];
    memset(longname, 'x', 65);
    longname[65] = '\0';
    s_refused(&agg, s1, longname);
    s_refused(&agg, s1, "office\x01lan");
    s_refused(&agg, s1, "office-\xff");
    s_refused(&agg, s1, "");
    kc_harness_agg_term(&agg);

    s_check_show();
    s_check_history();
    s_check_replay();
    kc_harness_pass();
    return 0;
}
