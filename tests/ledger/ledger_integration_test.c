/* ledger_integration_test.c - corrections and retractions end to end.
 *
 * kc-send delivers a CSV of records, then (same producer, same spool) a CSV of
 * corrections and retractions, to a real kc-aggregator; kc-query must then
 * answer exactly the corrected totals, cell by cell, and the store must keep
 * every version (history). Re-importing the second CSV changes nothing: each
 * correction and retraction is a business duplicate (its rejected row is
 * rejected again). Synchronisation: the ready file, kc-send's exit by pid,
 * kc-query's exit by pid, all with deadlines; SIGTERM for the aggregator.
 */
#include "harness.h"
#include "kc_err.h"
#include "kc_ref.h"
#include "kc_store.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define SEND_MS  120000
#define QUERY_MS 30000

static const char s_records[] =
    "event_id,province,year,month,activity,kind,fund,amount_vnd,facilities,corrects\n"
    "A1,79,2021,3,KC3b,actual,kcqg,1000,2,\n"
    "A2,79,2021,3,KC3b,actual,kcqg,2000,3,\n"
    "A3,79,2021,4,KC3b,actual,kcqg,500,1,\n"
    "A4,79,2021,4,KC3b,plan,kcqg,9000,5,\n"
    "A5,79,2021,5,KC3b,actual,kcqg,300,1,\n";

/* The corrections: A1 corrected twice (chain), A3 moved from April to May, A2
 * retracted without a period, A4's plan corrected (kind inherited), and one
 * row naming an unknown event. */
static const char s_amends[] =
    "event_id,province,year,month,activity,kind,fund,amount_vnd,facilities,corrects\n"
    "A1c,79,2021,3,KC3b,correction,kcqg,1200,2,A1\n"
    "A3c,79,2021,5,KC3b,correction,kcqg,600,1,A3\n"
    "A2r,79,,,,retraction,,,,A2\n"
    "A4c,79,2021,4,KC3b,correction,kcqg,8000,4,A4\n"
    "A1c2,79,2021,3,KC3b,correction,kcqg,1100,2,A1c\n"
    "X1,79,2021,3,KC3b,correction,kcqg,1,1,NOPE\n";

static void s_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    KC_CHECK(f && fputs(text, f) >= 0 && fclose(f) == 0, "write %s", path);
}

/* Send csv and wait for kc-send; check its exit code and summary. */
static void s_send(const kc_agg_t *agg, const char *spool, const char *csv, const char *out,
                   int want_exit, const kc_summary_t *want)
{
    pid_t pid = kc_harness_send_start(agg->endpoint, "office-79", spool, csv, out, NULL);
    kc_summary_t s;
    kc_harness_send_wait(pid, out, SEND_MS, want_exit, &s);
    KC_CHECK(s.rows == want->rows && s.accepted == want->accepted &&
                 s.duplicates == want->duplicates && s.rejected == want->rejected &&
                 s.malformed == 0 && s.unacknowledged == 0,
             "%s: rows=%ld accepted=%ld duplicates=%ld rejected=%ld malformed=%ld "
             "unacknowledged=%ld",
             csv, s.rows, s.accepted, s.duplicates, s.rejected, s.malformed, s.unacknowledged);
}

/* kc-query for one month range and kind of 2021, province 79: amount, facilities, events. */
static void s_query(const char *store, const char *months, const char *kind, int64_t *amount,
                    int64_t *facilities, int64_t *events)
{
    static int calls;
    char bin[KC_PATH_MAX], out[KC_PATH_MAX], err[KC_PATH_MAX];
    kc_harness_bin(bin, "kc-query");
    calls++;
    kc_harness_path(out, "query-%d.json", calls);
    kc_harness_path(err, "query-%d.err", calls);
    char *argv[] = {bin,          "--store",      (char *)store, "--year", "2021",
                    "--months",   (char *)months, "--province",  "79",     "--kind",
                    (char *)kind, "--format",     "json",        NULL};
    pid_t pid = kc_harness_spawn(argv, out, err);
    int st = 0;
    if (kc_harness_wait(pid, QUERY_MS, &st) != 0) {
        kc_harness_stop(pid, SIGKILL, 5000);
        KC_CHECK(false, "kc-query did not answer within %d ms", QUERY_MS);
    }
    char sb[64];
    KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kc-query: %s",
             kc_harness_status_str(st, sb, sizeof sb));
    json_error_t je;
    json_t *root = json_load_file(out, 0, &je);
    KC_CHECK(root, "kc-query output %s is not JSON: %s", out, je.text);
    json_t *totals = json_object_get(root, "totals");
    json_t *a = json_object_get(totals, "amount_vnd"), *f = json_object_get(totals, "facilities");
    json_t *e = json_object_get(root, "events");
    KC_CHECK(json_is_integer(a) && json_is_integer(f) && json_is_integer(e),
             "kc-query JSON lacks amount_vnd, facilities or events");
    *amount = json_integer_value(a);
    *facilities = json_integer_value(f);
    *events = json_integer_value(e);
    json_decref(root);
}

static void s_expect(const char *store, const char *months, const char *kind, int64_t amount,
                     int64_t facilities, int64_t events)
{
    int64_t a, f, e;
    s_query(store, months, kind, &a, &f, &e);
    KC_CHECK(a == amount && f == facilities && e == events,
             "2021 months %s %s: amount %lld facilities %lld events %lld; expected %lld %lld "
             "%lld",
             months, kind, (long long)a, (long long)f, (long long)e, (long long)amount,
             (long long)facilities, (long long)events);
}

static void s_expect_all(const char *store)
{
    s_expect(store, "3", "actual", 1100, 2, 1); /* A1 -> A1c -> A1c2; A2 retracted */
    s_expect(store, "4", "actual", 0, 0, 0);    /* A3 moved to May */
    s_expect(store, "5", "actual", 900, 2, 2);  /* A5 + A3c */
    s_expect(store, "4", "plan", 8000, 4, 1);   /* A4c kept A4's kind */
    s_expect(store, "1-12", "actual", 2000, 4, 3);
    s_expect(store, "1-12", "plan", 8000, 4, 1);
}

static int s_on_version(const kc_version_t *v, void *ctx)
{
    static const char *const want[] = {"A1", "A1c", "A1c2"};
    int *n = ctx;
    KC_CHECK(*n < 3, "more than 3 versions of A1");
    KC_CHECK(v->event_id_len == strlen(want[*n]) &&
                 memcmp(v->event_id, want[*n], v->event_id_len) == 0,
             "version %d of A1 is '%.*s'", *n, (int)v->event_id_len, v->event_id);
    KC_CHECK(v->id->state == (*n < 2 ? KC_ID_SUPERSEDED : KC_ID_LIVE), "version %d state %u", *n,
             v->id->state);
    (*n)++;
    return 0;
}

static void s_check_history(const char *store)
{
    kc_store_t *s;
    kc_store_opts_t o = {.read_only = true};
    int rc = kc_store_open(&s, store, &o);
    KC_CHECK(rc == 0, "open %s: %s", store, kc_strerror(rc));
    kc_txn_t *t;
    KC_CHECK(kc_store_read_begin(s, &t) == 0, "read txn");
    uint64_t size;
    KC_CHECK(kc_txn_log_size(t, &size) == 0 && size == 10, "log size %llu, expected 10",
             (unsigned long long)size);
    int n = 0;
    rc = kc_txn_history(t, 79, "A1c", 3, s_on_version, &n);
    KC_CHECK(rc == 0 && n == 3, "history of A1c: rc %d, %d versions", rc, n);
    kc_txn_end(&t);
    kc_store_close(&s);
}

int main(void)
{
    kc_harness_init("ledger_integration_test");
    char records[KC_PATH_MAX], amends[KC_PATH_MAX], spool[KC_PATH_MAX], store[KC_PATH_MAX];
    char out[KC_PATH_MAX];
    kc_harness_path(records, "records.csv");
    kc_harness_path(amends, "amends.csv");
    kc_harness_path(spool, "spool");
    kc_harness_path(store, "store");
    s_write(records, s_records);
    s_write(amends, s_amends);

    kc_agg_t agg = {0};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", NULL);
    kc_harness_path(out, "send-1.out");
    s_send(&agg, spool, records, out, 0, &(kc_summary_t){.rows = 5, .accepted = 5});
    s_expect(store, "3", "actual", 3000, 5, 2);
    kc_harness_path(out, "send-2.out");
    s_send(&agg, spool, amends, out, 65, &(kc_summary_t){.rows = 6, .accepted = 5, .rejected = 1});
    s_expect_all(store);
    s_check_history(store);

    /* the corrections re-imported: duplicates, nothing moves */
    kc_harness_path(out, "send-3.out");
    s_send(&agg, spool, amends, out, 65,
           &(kc_summary_t){.rows = 6, .duplicates = 5, .rejected = 1});
    s_expect_all(store);
    kc_harness_agg_term(&agg);
    s_expect_all(store);
    kc_harness_pass();
    return 0;
}
