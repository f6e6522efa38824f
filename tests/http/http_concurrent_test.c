/* http_concurrent_test.c - the HTTP API under 32 concurrent clients while a
 * real kc-aggregator commits a live stream (issue 13, finding 8).
 *
 * Set-up: kc-aggregator with --http 127.0.0.1:0 and a signed head per commit
 * (--sth-interval-ms 0), s_producers kc-send streaming CSVs of generated
 * records (kc_gen_next of bench/gen_csv.h) in small batches, so that the log grows by
 * many small commits. Once the first head is signed, CLIENTS threads ask, in
 * turn and without pause, every route below on their own connections:
 * /v1/totals with S_NFILTERS filters (year, months, activity, province,
 * region, kind, by province, by activity), /v1/producers, /v1/provinces,
 * /v1/head, /v1/status and /metrics. The clients stop when every kc-send has
 * exited with a clean summary (everything acknowledged, so committed); then
 * each asks every route once more.
 *
 * Every answer must be 200, JSON (or /metrics: the text exposition format,
 * line by line; the last scrape also through `promtool check metrics`) and
 * show ONE committed snapshot. The answers carry no log offset, so the test
 * reconstructs the snapshots afterwards from the store's log, with its own
 * filter code over the logged Events (not the aggregator's cells or ledger):
 * the workload is records only with non-negative values, so a filter's
 * answer with k events must equal the filter's figures after its k-th
 * matching log entry (every row and every metric); /v1/producers whose
 * `accepted` add up to N must show each producer's count among the first N
 * entries; /v1/provinces (scheme 63) whose events add up to N the first N
 * entries' per-province counts. Two answers of one filter with the same k
 * must be identical. Per client, every figure that only grows (k per filter,
 * status seq, head tree_size, producers and provinces N) never goes back.
 * After ingest, every client's totals equal `kc-query --format json`'s for
 * the same filter, status seq is the log size and every producer's
 * committed_seq its row count.
 *
 * Failures inside the client threads are recorded (first one per client) and
 * asserted by the main thread after joining them. `--long`: more producers,
 * rows and clients' work (scripts/soak).
 */
#include "gen_csv.h"
#include "harness.h"
#include "http_util.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_ref.h"
#include "kc_store.h"

#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENTS       32
#define RUN_MS        240000
#define HEAD_WAIT_MS  60000
#define QUERY_MS      30000
#define MIN_SNAPSHOTS 3 /* distinct /v1/producers snapshots the clients must see */
#define S_NFILTERS    6
#define S_ROWS        256 /* row index: province code (by province) or activity id */
#define S_NROUTES     (S_NFILTERS + 5)

static int s_producers = 3;
static size_t s_rows = 3000;
static unsigned s_port;
static atomic_int s_final;  /* 1: ingest is over, clients do their last round */
static atomic_int s_failed; /* some client failed: everyone stops */

/* ---- the workload: records only ---- */

static void s_csv_field(FILE *f, const char *v)
{
    if (!strpbrk(v, ",\"\r\n")) {
        fputs(v, f);
        return;
    }
    fputc('"', f);
    for (; *v; v++) {
        if (*v == '"')
            fputc('"', f);
        fputc(*v, f);
    }
    fputc('"', f);
}

/* A kc-send CSV of `rows` records of kc_gen_next() (kc_gen_csv also writes corrections and
 * retractions, which take events out of the totals: the snapshots would not be monotone). */
static int s_write_csv(const char *path, const char *prefix, uint64_t seed, size_t rows)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs("event_id,province,year,month,activity,kind,fund", f);
    for (int m = 0; m < KC_METRIC_COUNT; m++)
        fprintf(f, ",%s", kc_ref_metric(m)->name);
    fputs(",note\n", f);
    kc_gen_t g;
    kc_gen_init(&g, prefix, seed);
    for (size_t i = 0; i < rows; i++) {
        kc_gen_row_t r;
        kc_gen_next(&g, &r);
        fprintf(f, "%s,%s,%d,%d,%s,%s,%s", r.event_id, r.province, r.year, r.month, r.activity,
                r.kind, r.fund);
        for (int m = 0; m < KC_METRIC_COUNT; m++)
            if (r.present & (1u << m))
                fprintf(f, ",%lld", (long long)r.m[m]);
            else
                fputc(',', f);
        fputc(',', f);
        s_csv_field(f, r.note ? r.note : "");
        fputc('\n', f);
    }
    return fclose(f) == 0 ? 0 : -1;
}

/* ---- the filters, and the test's own matching of a logged Event ---- */

enum { BY_NONE, BY_PROVINCE, BY_ACTIVITY };

typedef struct {
    char path[160];
    int year, m_from, m_to, kind; /* kind 1 actual, 2 plan */
    int province;                 /* 0 = all */
    int activity;                 /* activity id, 0 = all */
    const char *region;           /* NULL = all */
    int by;
} flt_t;

typedef struct {
    uint64_t events;
    int64_t m[KC_METRIC_COUNT];
} fig_t;

typedef struct {
    fig_t total;
    fig_t row[S_ROWS];
} expect_t;

/* The answers seen, by the count they show: slot[k] is the first answer (compact JSON)
 * whose count was k; later answers with that count must be identical. */
typedef struct {
    pthread_mutex_t mu;
    char **slot;
    size_t n;
    const char *what;
} table_t;

static flt_t s_flt[S_NFILTERS];
static table_t s_tab[S_NFILTERS], s_prod_tab, s_prov_tab;
static uint64_t s_total; /* events in every CSV */

static void s_filters(void)
{
    const kc_activity_t *a = kc_ref_activity_at(1);
    const kc_activity_t *b = kc_ref_activity_at(4);
    flt_t f[S_NFILTERS] = {
        {.year = 2022},
        {.year = 2023, .by = BY_PROVINCE},
        {.year = 2021, .m_from = 3, .m_to = 8, .activity = a->id},
        {.year = 2024, .province = 79, .by = BY_ACTIVITY},
        {.year = 2022, .kind = 2, .by = BY_PROVINCE},
        {.year = 2023, .region = "south", .activity = b->id, .by = BY_ACTIVITY},
    };
    snprintf(f[0].path, sizeof f[0].path, "/v1/totals?year=2022");
    snprintf(f[1].path, sizeof f[1].path, "/v1/totals?year=2023&by=province");
    snprintf(f[2].path, sizeof f[2].path, "/v1/totals?year=2021&months=3-8&activity=%s", a->code);
    snprintf(f[3].path, sizeof f[3].path, "/v1/totals?province=79&year=2024&by=activity");
    snprintf(f[4].path, sizeof f[4].path, "/v1/totals?year=2022&kind=plan&by=province");
    snprintf(f[5].path, sizeof f[5].path,
             "/v1/totals?year=2023&region=south&activity=%s&by=activity", b->code);
    for (int i = 0; i < S_NFILTERS; i++) {
        if (!f[i].m_from) {
            f[i].m_from = 1;
            f[i].m_to = 12;
        }
        if (!f[i].kind)
            f[i].kind = 1;
        s_flt[i] = f[i];
    }
}

/* Whether the logged event counts under filter f; its row in *row. */
static bool s_match(const flt_t *f, const kc_pb_event_t *ev, int *row)
{
    int code = ev->province ? atoi(ev->province) : 0;
    const kc_activity_t *a = ev->activity ? kc_ref_activity_lookup(ev->activity) : NULL;
    int kind = ev->has_kind && ev->kind == KCPIPE__V1__KIND__KIND_PLAN ? 2 : 1;
    int year = ev->has_year ? (int)ev->year : 0, month = ev->has_month ? (int)ev->month : 0;
    if (!a || year != f->year || month < f->m_from || month > f->m_to || kind != f->kind)
        return false;
    if ((f->province && code != f->province) || (f->activity && a->id != f->activity))
        return false;
    if (f->region) {
        const char *r = kc_ref_region_of(code, year * 100 + month);
        if (!r || strcmp(r, f->region) != 0)
            return false;
    }
    *row = f->by == BY_PROVINCE ? code : f->by == BY_ACTIVITY ? a->id : 0;
    return true;
}

/* ---- the clients ---- */

typedef struct {
    int id;
    pthread_t th;
    long requests, during; /* answers in all, answers while ingest ran */
    uint64_t last[S_NROUTES];
    bool seen[S_NROUTES];
    uint64_t first_seq, last_seq; /* status seq: first and last seen while ingest ran */
    char *final[S_NFILTERS];      /* the last round's totals (compact JSON) */
    json_t *final_status, *final_producers;
    char *final_metrics;
    char fail[1024];
} client_t;

static bool s_fail(client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static bool s_fail(client_t *c, const char *fmt, ...)
{
    if (!c->fail[0]) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->fail, sizeof c->fail, fmt, ap);
        va_end(ap);
    }
    atomic_store(&s_failed, 1);
    return false;
}

static bool s_int(const json_t *j, uint64_t *out)
{
    if (!json_is_integer(j) || json_integer_value(j) < 0)
        return false;
    *out = (uint64_t)json_integer_value(j);
    return true;
}

/* Record `text` for count k; false (and c failed) if an answer with that count differed. */
static bool s_table_put(client_t *c, table_t *t, uint64_t k, const char *text)
{
    if (k >= t->n)
        return s_fail(c, "%s: count %llu beyond the %zu events sent: %s", t->what,
                      (unsigned long long)k, t->n - 1, text);
    bool ok = true;
    pthread_mutex_lock(&t->mu);
    if (!t->slot[k])
        t->slot[k] = strdup(text);
    else if (strcmp(t->slot[k], text) != 0)
        ok = false;
    pthread_mutex_unlock(&t->mu);
    if (!ok)
        return s_fail(c, "%s: two answers with count %llu differ:\n%s\n%s", t->what,
                      (unsigned long long)k, t->slot[k], text);
    return true;
}

/* A figure that only grows must not go back for one client. */
static bool s_grows(client_t *c, int route, uint64_t v, const char *what)
{
    if (c->seen[route] && v < c->last[route])
        return s_fail(c, "%s went back from %llu to %llu for one client", what,
                      (unsigned long long)c->last[route], (unsigned long long)v);
    c->seen[route] = true;
    c->last[route] = v;
    return true;
}

/* One line of the text exposition format: "# HELP|TYPE name ...", or
 * name[{label="value",...}] value [timestamp]. */
static bool s_prom_line(const char *l, size_t n)
{
    char line[4096];
    if (n == 0 || n >= sizeof line)
        return false;
    memcpy(line, l, n);
    line[n] = '\0';
    if (line[0] == '#')
        return strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0;
    const char *p = line;
    if (!(*p == '_' || *p == ':' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
        return false;
    while (*p == '_' || *p == ':' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
           (*p >= '0' && *p <= '9'))
        p++;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            if (!(*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')))
                return false;
            while (*p == '_' || (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                   (*p >= '0' && *p <= '9'))
                p++;
            if (p[0] != '=' || p[1] != '"')
                return false;
            for (p += 2; *p != '"'; p++) {
                if (!*p)
                    return false;
                if (*p == '\\' && (p[1] == '\\' || p[1] == '"' || p[1] == 'n'))
                    p++;
                else if (*p == '\\')
                    return false;
            }
            p++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return false;
        }
        p++;
    }
    if (*p++ != ' ')
        return false;
    char *end;
    if (strncmp(p, "+Inf", 4) == 0 || strncmp(p, "-Inf", 4) == 0)
        end = (char *)p + 4;
    else if (strncmp(p, "NaN", 3) == 0)
        end = (char *)p + 3;
    else
        (void)strtod(p, &end);
    if (end == p)
        return false;
    if (*end == ' ') { /* a timestamp */
        p = end + 1;
        (void)strtoll(p, &end, 10);
        if (end == p)
            return false;
    }
    return *end == '\0';
}

static bool s_prom(client_t *c, const char *text, size_t len)
{
    if (len == 0 || text[len - 1] != '\n')
        return s_fail(c, "/metrics: empty or no final newline");
    for (size_t i = 0; i < len;) {
        const char *nl = memchr(text + i, '\n', len - i);
        size_t n = (size_t)(nl - (text + i));
        if (!s_prom_line(text + i, n))
            return s_fail(c, "/metrics: not the exposition format: '%.*s'", (int)n, text + i);
        i += n + 1;
    }
    return true;
}

/* An answer as compact JSON with sorted keys (malloc'd). */
static char *s_dump(const json_t *j)
{
    return json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
}

/* GET route r; check it; record what it shows. */
static bool s_ask(client_t *c, int r, bool final)
{
    static const char *const other[] = {"/v1/producers", "/v1/provinces?scheme=63", "/v1/head",
                                        "/v1/status", "/metrics"};
    const char *path = r < S_NFILTERS ? s_flt[r].path : other[r - S_NFILTERS];
    t_resp_t resp;
    if (t_http(s_port, "GET", path, &resp) != 0)
        return s_fail(c, "GET %s: no answer", path);
    bool ok = false;
    json_t *j = NULL;
    char *text = NULL;
    c->requests++;
    if (resp.status != 200) {
        s_fail(c, "GET %s: status %d: %s", path, resp.status, resp.body);
        goto out;
    }
    if (strcmp(path, "/metrics") == 0) {
        ok = s_prom(c, resp.body, resp.body_len);
        if (ok && final)
            c->final_metrics = strdup(resp.body);
        goto out;
    }
    json_error_t je;
    j = json_loadb(resp.body, resp.body_len, 0, &je);
    if (!j || !json_is_object(j)) {
        s_fail(c, "GET %s: not a JSON object (%s): %s", path, je.text, resp.body);
        goto out;
    }
    text = s_dump(j);
    uint64_t v = 0;
    if (r < S_NFILTERS) {
        if (!s_int(json_object_get(j, "events"), &v)) {
            s_fail(c, "GET %s: no integer events: %s", path, text);
            goto out;
        }
        ok = s_grows(c, r, v, path) && s_table_put(c, &s_tab[r], v, text);
        if (ok && final)
            c->final[r] = strdup(text);
    } else if (strcmp(path, "/v1/producers") == 0) {
        /* records only, no rejects, one spool each: accepted == committed_seq */
        json_t *list = json_object_get(j, "producers"), *p, *acc = json_object();
        size_t i;
        ok = json_is_array(list);
        json_array_foreach(list, i, p)
        {
            uint64_t a, hwm, dup, rej;
            const char *id = json_string_value(json_object_get(p, "producer"));
            if (!id || !s_int(json_object_get(p, "accepted"), &a) ||
                !s_int(json_object_get(p, "committed_seq"), &hwm) ||
                !s_int(json_object_get(p, "duplicates"), &dup) ||
                !s_int(json_object_get(p, "rejected"), &rej) || a != hwm || dup || rej) {
                ok = false;
                break;
            }
            v += a;
            json_object_set_new(acc, id, json_integer((json_int_t)a));
        }
        char *acc_text = s_dump(acc);
        json_decref(acc);
        if (!ok)
            s_fail(c,
                   "GET %s: a producer whose accepted is not its committed_seq (or with "
                   "duplicates or rejects) in a records-only stream: %s",
                   path, text);
        else
            ok = s_grows(c, r, v, path) && s_table_put(c, &s_prod_tab, v, acc_text);
        free(acc_text);
        if (ok && final)
            c->final_producers = json_incref(j);
    } else if (strncmp(path, "/v1/provinces", 13) == 0) {
        json_t *list = json_object_get(j, "provinces"), *p, *ev = json_object();
        size_t i;
        ok = json_is_array(list) && json_array_size(list) == 63 &&
             json_integer_value(json_object_get(j, "scheme")) == 63;
        json_array_foreach(list, i, p)
        {
            uint64_t n;
            const char *code = json_string_value(json_object_get(p, "code"));
            if (!code || !s_int(json_object_get(p, "events"), &n)) {
                ok = false;
                break;
            }
            v += n;
            if (n)
                json_object_set_new(ev, code, json_integer((json_int_t)n));
        }
        char *ev_text = s_dump(ev);
        json_decref(ev);
        if (!ok)
            s_fail(c, "GET %s: not 63 provinces with integer events: %s", path, text);
        else
            ok = s_grows(c, r, v, path) && s_table_put(c, &s_prov_tab, v, ev_text);
        free(ev_text);
    } else if (strcmp(path, "/v1/head") == 0) {
        const char *root = json_string_value(json_object_get(j, "root"));
        const char *sig = json_string_value(json_object_get(j, "signature"));
        ok = s_int(json_object_get(j, "tree_size"), &v) && v <= s_total && root &&
             strlen(root) == 64 && sig && strlen(sig) == 128;
        if (!ok)
            s_fail(c,
                   "GET %s: no tree_size within the events sent, 32-byte root, 64-byte "
                   "signature: %s",
                   path, text);
        else
            ok = s_grows(c, r, v, "head tree_size");
    } else {
        ok = s_int(json_object_get(j, "seq"), &v) && v <= s_total &&
             json_is_string(json_object_get(j, "version"));
        if (!ok)
            s_fail(c, "GET %s: no seq within the events sent or no version: %s", path, text);
        else
            ok = s_grows(c, r, v, "status seq");
        if (ok && !final) {
            if (c->during == 0 || v < c->first_seq)
                c->first_seq = v;
            c->last_seq = v;
        }
        if (ok && final)
            c->final_status = json_incref(j);
    }
out:
    if (ok && !final)
        c->during++;
    free(text);
    json_decref(j);
    t_resp_free(&resp);
    return ok;
}

static void *s_client(void *arg)
{
    client_t *c = arg;
    /* each client walks the routes in its own order (starting at route id % routes) */
    for (int i = c->id; !atomic_load(&s_final) && !atomic_load(&s_failed); i++)
        if (!s_ask(c, i % S_NROUTES, false))
            return NULL;
    if (atomic_load(&s_failed))
        return NULL;
    for (int r = 0; r < S_NROUTES; r++)
        if (!s_ask(c, r, true))
            return NULL;
    return NULL;
}

/* ---- the snapshots, rebuilt from the log ---- */

typedef struct {
    expect_t e[S_NFILTERS];
    uint64_t k[S_NFILTERS];
    char prod[8][16];
    uint64_t prod_n[8];
    uint64_t prov_n[100];
    uint64_t n, checked;
    char why[4096];
} replay_t;

static bool s_fig_eq(const fig_t *f, const json_t *totals, const json_t *events, char *why,
                     size_t cap, const char *where)
{
    uint64_t ev;
    if (!s_int(events, &ev) || ev != f->events) {
        snprintf(why, cap, "%s: events %lld, expected %llu", where,
                 (long long)json_integer_value(events), (unsigned long long)f->events);
        return false;
    }
    for (int m = 0; m < KC_METRIC_COUNT; m++) {
        const json_t *v = json_object_get(totals, kc_ref_metric(m)->name);
        if (!json_is_integer(v) || json_integer_value(v) != f->m[m]) {
            snprintf(why, cap, "%s: %s %lld, expected %lld", where, kc_ref_metric(m)->name,
                     (long long)json_integer_value(v), (long long)f->m[m]);
            return false;
        }
    }
    return true;
}

/* Does the answer text equal the filter's figures now? */
static bool s_answer_eq(const flt_t *f, const expect_t *e, const char *text, char *why, size_t cap)
{
    json_t *j = json_loads(text, 0, NULL);
    bool ok = s_fig_eq(&e->total, json_object_get(j, "totals"), json_object_get(j, "events"), why,
                       cap, "total");
    if (ok && f->by != BY_NONE) {
        json_t *rows = json_object_get(j, "rows"), *row;
        size_t i, want = 0;
        for (int r = 0; r < S_ROWS; r++)
            want += e->row[r].events > 0;
        if (json_array_size(rows) != want) {
            snprintf(why, cap, "%zu rows, expected %zu", json_array_size(rows), want);
            ok = false;
        }
        json_array_foreach(rows, i, row)
        {
            if (!ok)
                break;
            const char *key = json_string_value(json_object_get(row, "key"));
            int r = -1;
            if (key && f->by == BY_PROVINCE)
                r = atoi(key);
            else if (key) {
                const kc_activity_t *a = kc_ref_activity_by_code(key);
                r = a ? a->id : -1;
            }
            char where[64];
            snprintf(where, sizeof where, "row %s", key ? key : "?");
            if (r < 0 || r >= S_ROWS) {
                snprintf(why, cap, "a row with key %s", key ? key : "(none)");
                ok = false;
            } else {
                ok = s_fig_eq(&e->row[r], json_object_get(row, "totals"),
                              json_object_get(row, "events"), why, cap, where);
            }
        }
    }
    json_decref(j);
    return ok;
}

/* The per-producer counts (or per-province counts) now, as the test recorded them. */
static char *s_counts_text(replay_t *rp, bool producers)
{
    json_t *o = json_object();
    if (producers) {
        for (int p = 0; p < 8 && rp->prod[p][0]; p++)
            json_object_set_new(o, rp->prod[p], json_integer((json_int_t)rp->prod_n[p]));
    } else {
        for (int code = 1; code < 100; code++)
            if (rp->prov_n[code]) {
                char k[4];
                snprintf(k, sizeof k, "%02d", code);
                json_object_set_new(o, k, json_integer((json_int_t)rp->prov_n[code]));
            }
    }
    char *t = s_dump(o);
    json_decref(o);
    return t;
}

/* Check every recorded answer whose count is reached at this point of the log. */
static int s_check_now(replay_t *rp, int changed_mask)
{
    for (int f = 0; f < S_NFILTERS; f++) {
        const char *a = (changed_mask >> f) & 1 ? s_tab[f].slot[rp->k[f]] : NULL;
        if (a) {
            rp->checked++;
            char why[512];
            if (!s_answer_eq(&s_flt[f], &rp->e[f], a, why, sizeof why)) {
                snprintf(rp->why, sizeof rp->why,
                         "%s: the answer with %llu events is no committed snapshot (log "
                         "entries 0..%llu): %s\n  answer: %.1200s",
                         s_flt[f].path, (unsigned long long)rp->k[f], (unsigned long long)rp->n,
                         why, a);
                return 1;
            }
        }
    }
    for (int t = 0; t < 2; t++) {
        table_t *tab = t == 0 ? &s_prod_tab : &s_prov_tab;
        const char *a = tab->slot[rp->n];
        if (!a)
            continue;
        rp->checked++;
        char *want = s_counts_text(rp, t == 0);
        bool same = strcmp(a, want) == 0;
        if (!same)
            snprintf(rp->why, sizeof rp->why,
                     "%s: the answer counting %llu events is not the first %llu log entries: "
                     "shown %.600s, logged %.600s",
                     tab->what, (unsigned long long)rp->n, (unsigned long long)rp->n, a, want);
        free(want);
        if (!same)
            return 1;
    }
    return 0;
}

static int s_on_entry(const kc_log_entry_t *le, void *ctx)
{
    replay_t *rp = ctx;
    kc_pb_event_t *ev = kcpipe__v1__event__unpack(NULL, le->event_len, le->event);
    if (!ev) {
        snprintf(rp->why, sizeof rp->why, "log entry %llu does not decode",
                 (unsigned long long)le->offset);
        return 1;
    }
    int64_t m[KC_METRIC_COUNT] = {0};
    for (int i = 0; ev->metrics && i < KC_METRIC_COUNT; i++)
        if (!kc_pb_metric_get(ev->metrics, i, &m[i]))
            m[i] = 0;
    int changed = 0;
    for (int f = 0; f < S_NFILTERS; f++) {
        int row;
        if (!s_match(&s_flt[f], ev, &row))
            continue;
        expect_t *e = &rp->e[f];
        e->total.events++;
        e->row[row].events++;
        for (int i = 0; i < KC_METRIC_COUNT; i++) {
            e->total.m[i] += m[i];
            e->row[row].m[i] += m[i];
        }
        rp->k[f]++;
        changed |= 1 << f;
    }
    int code = ev->province ? atoi(ev->province) : 0;
    if (code > 0 && code < 100)
        rp->prov_n[code]++;
    char prod[16];
    snprintf(prod, sizeof prod, "%.*s", (int)le->producer_len, le->producer);
    int p = 0;
    while (p < 8 && rp->prod[p][0] && strcmp(rp->prod[p], prod) != 0)
        p++;
    if (p < 8) {
        snprintf(rp->prod[p], sizeof rp->prod[p], "%s", prod);
        rp->prod_n[p]++;
    }
    kcpipe__v1__event__free_unpacked(ev, NULL);
    rp->n++;
    return s_check_now(rp, changed);
}

/* ---- kc-query, for the final answers ---- */

static json_t *s_kc_query(const char *store, const flt_t *f)
{
    char bin[KC_PATH_MAX], out[KC_PATH_MAX], err[KC_PATH_MAX];
    char year[8], months[16], act[16], prov[8];
    kc_harness_bin(bin, "kc-query");
    kc_harness_path(out, "query.json");
    kc_harness_path(err, "query.err");
    remove(out);
    char *argv[24];
    int n = 0;
    argv[n++] = bin;
    argv[n++] = "--store";
    argv[n++] = (char *)store;
    argv[n++] = "--format";
    argv[n++] = "json";
    snprintf(year, sizeof year, "%d", f->year);
    argv[n++] = "--year";
    argv[n++] = year;
    snprintf(months, sizeof months, "%d-%d", f->m_from, f->m_to);
    argv[n++] = "--months";
    argv[n++] = months;
    if (f->kind == 2) {
        argv[n++] = "--kind";
        argv[n++] = "plan";
    }
    if (f->activity) {
        snprintf(act, sizeof act, "%s", kc_ref_activity_by_id((uint8_t)f->activity)->code);
        argv[n++] = "--activity";
        argv[n++] = act;
    }
    if (f->province) {
        snprintf(prov, sizeof prov, "%02d", f->province);
        argv[n++] = "--province";
        argv[n++] = prov;
    }
    if (f->region) {
        argv[n++] = "--region";
        argv[n++] = (char *)f->region;
    }
    if (f->by != BY_NONE) {
        argv[n++] = "--by";
        argv[n++] = f->by == BY_PROVINCE ? "province" : "activity";
    }
    argv[n] = NULL;
    pid_t pid = kc_harness_spawn(argv, out, err);
    int st;
    KC_CHECK(kc_harness_wait(pid, QUERY_MS, &st) == 0, "kc-query still running after %d ms",
             QUERY_MS);
    KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "kc-query for %s failed", f->path);
    json_error_t je;
    json_t *j = json_load_file(out, 0, &je);
    KC_CHECK(j != NULL, "kc-query for %s: not JSON: %s", f->path, je.text);
    return j;
}

static bool s_same_part(const json_t *a, const json_t *b, const char *key)
{
    const json_t *x = json_object_get(a, key), *y = json_object_get(b, key);
    return (!x && !y) || (x && y && json_equal(x, y));
}

static void s_promtool(const char *text)
{
    const char *promtool = KC_PROMTOOL;
    KC_CHECK(*promtool, "%s", "promtool was not found when the build was configured");
    char path[KC_PATH_MAX], out[KC_PATH_MAX], sh[] = "/bin/sh", c[] = "-c";
    char cmd[3 * KC_PATH_MAX + 64];
    kc_harness_path(path, "metrics.txt");
    kc_harness_path(out, "promtool.out");
    FILE *f = fopen(path, "w");
    KC_CHECK(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
    snprintf(cmd, sizeof cmd, "exec '%s' check metrics < '%s'", promtool, path);
    char *argv[] = {sh, c, cmd, NULL};
    pid_t pid = kc_harness_spawn(argv, out, out);
    int st;
    KC_CHECK(kc_harness_wait(pid, QUERY_MS, &st) == 0, "promtool still running");
    char first[512] = "";
    kc_harness_read_line(out, first, sizeof first);
    KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && first[0] == '\0',
             "promtool check metrics: %s", first);
}

int main(int argc, char **argv)
{
    bool lng = argc > 1 && strcmp(argv[1], "--long") == 0;
    if (lng) {
        s_producers = 6;
        s_rows = 12000;
    }
    kc_harness_init("http_concurrent_test");
    s_filters();

    char csv[8][KC_PATH_MAX], spool[8][KC_PATH_MAX], out[8][KC_PATH_MAX], prod[8][16];
    for (int i = 0; i < s_producers; i++) {
        snprintf(prod[i], sizeof prod[i], "hc-%d", i + 1);
        kc_harness_path(csv[i], "%s.csv", prod[i]);
        kc_harness_path(spool[i], "spool-%d", i + 1);
        kc_harness_path(out[i], "send-%d.out", i + 1);
        KC_CHECK(s_write_csv(csv[i], prod[i], 1300 + (uint64_t)i, s_rows) == 0, "write %s", csv[i]);
    }
    s_total = (uint64_t)s_producers * s_rows;
    table_t *tabs[S_NFILTERS + 2];
    for (int i = 0; i < S_NFILTERS + 2; i++) {
        table_t *t = i < S_NFILTERS ? &s_tab[i] : i == S_NFILTERS ? &s_prod_tab : &s_prov_tab;
        pthread_mutex_init(&t->mu, NULL);
        t->n = s_total + 1;
        t->slot = calloc(t->n, sizeof *t->slot);
        t->what = i < S_NFILTERS    ? s_flt[i].path
                  : i == S_NFILTERS ? "/v1/producers"
                                    : "/v1/provinces?scheme=63";
        tabs[i] = t;
    }

    char store[KC_PATH_MAX];
    kc_harness_path(store, "store");
    kc_agg_t agg = {0};
    const char *agg_extra[] = {"--http", "127.0.0.1:0", "--sth-interval-ms", "0", NULL};
    kc_harness_agg_start(&agg, store, "tcp://127.0.0.1:*", agg_extra);
    s_port = kc_harness_agg_http_port(&agg);

    const char *const send_extra[] = {"--batch", "10", NULL};
    pid_t pid[8];
    for (int i = 0; i < s_producers; i++)
        pid[i] = kc_harness_send_start(agg.endpoint, prod[i], spool[i], csv[i], out[i], send_extra);

    /* the clients start once a head is signed (before it /v1/head is rightly a 404) */
    int64_t deadline = kc_harness_now_ms() + HEAD_WAIT_MS;
    for (;;) {
        t_resp_t r;
        int rc = t_http(s_port, "GET", "/v1/head", &r);
        int status = r.status;
        t_resp_free(&r);
        if (rc == 0 && status == 200)
            break;
        KC_CHECK(rc == 0 && status == 404, "/v1/head before the first head: %d", status);
        KC_CHECK(kc_harness_now_ms() < deadline, "no signed head after %d ms", HEAD_WAIT_MS);
        kc_harness_poll_pause();
    }
    static client_t cl[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        cl[i].id = i;
        KC_CHECK(pthread_create(&cl[i].th, NULL, s_client, &cl[i]) == 0, "pthread_create");
    }

    int running = s_producers, status[8] = {0};
    bool ended[8] = {false};
    deadline = kc_harness_now_ms() + RUN_MS;
    while (running > 0 && !atomic_load(&s_failed)) {
        KC_CHECK(kc_harness_now_ms() < deadline, "senders still running after %d ms", RUN_MS);
        for (int i = 0; i < s_producers; i++)
            if (!ended[i] && kc_harness_exited(pid[i], &status[i])) {
                ended[i] = true;
                running--;
            }
        if (running > 0)
            kc_harness_poll_pause();
    }
    for (int i = 0; i < s_producers && !atomic_load(&s_failed); i++) {
        char sb[64];
        KC_CHECK(WIFEXITED(status[i]) && WEXITSTATUS(status[i]) == 0, "kc-send %d: %s", i + 1,
                 kc_harness_status_str(status[i], sb, sizeof sb));
        kc_summary_t s;
        kc_harness_send_check(-1, out[i], 0, (long)s_rows, &s);
    }
    atomic_store(&s_final, 1); /* everything acknowledged: the clients' last round */
    long requests = 0, during = 0;
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int i = 0; i < CLIENTS; i++) {
        pthread_join(cl[i].th, NULL);
        requests += cl[i].requests;
        during += cl[i].during;
        if (cl[i].during) {
            lo = cl[i].first_seq < lo ? cl[i].first_seq : lo;
            hi = cl[i].last_seq > hi ? cl[i].last_seq : hi;
        }
    }
    for (int i = 0; i < CLIENTS; i++)
        KC_CHECK(!cl[i].fail[0], "client %d: %s", i, cl[i].fail);
    /* the clients did run while the log grew: several snapshots among their answers */
    size_t seqs = 0;
    for (size_t k = 0; k < s_prod_tab.n; k++)
        seqs += s_prod_tab.slot[k] != NULL;
    KC_CHECK(seqs >= MIN_SNAPSHOTS && lo < hi,
             "the clients saw only %zu producer snapshots (status seq %llu..%llu) in %ld answers "
             "while ingest ran",
             seqs, (unsigned long long)lo, (unsigned long long)hi, during);

    /* every client's last round: the final figures */
    json_t *q[S_NFILTERS];
    for (int f = 0; f < S_NFILTERS; f++)
        q[f] = s_kc_query(store, &s_flt[f]);
    for (int i = 0; i < CLIENTS; i++) {
        for (int f = 0; f < S_NFILTERS; f++) {
            json_t *a = json_loads(cl[i].final[f], 0, NULL);
            KC_CHECK(s_same_part(a, q[f], "totals") && s_same_part(a, q[f], "events") &&
                         s_same_part(a, q[f], "rows"),
                     "client %d: %s after ingest differs from kc-query's:\n%s\n%s", i,
                     s_flt[f].path, cl[i].final[f], json_dumps(q[f], JSON_COMPACT));
            json_decref(a);
            free(cl[i].final[f]);
        }
        uint64_t seq = 0;
        KC_CHECK(s_int(json_object_get(cl[i].final_status, "seq"), &seq) && seq == s_total,
                 "client %d: status seq %llu after ingest, %llu events sent", i,
                 (unsigned long long)seq, (unsigned long long)s_total);
        json_t *list = json_object_get(cl[i].final_producers, "producers"), *p;
        size_t k;
        KC_CHECK(json_array_size(list) == (size_t)s_producers, "client %d: %zu producers", i,
                 json_array_size(list));
        json_array_foreach(list, k, p)
        {
            uint64_t hwm = 0;
            KC_CHECK(s_int(json_object_get(p, "committed_seq"), &hwm) && hwm == s_rows,
                     "client %d: producer %s committed_seq %llu, %zu rows sent", i,
                     json_string_value(json_object_get(p, "producer")), (unsigned long long)hwm,
                     s_rows);
        }
        json_decref(cl[i].final_status);
        json_decref(cl[i].final_producers);
    }
    for (int f = 0; f < S_NFILTERS; f++)
        json_decref(q[f]);
    s_promtool(cl[0].final_metrics);
    for (int i = 0; i < CLIENTS; i++)
        free(cl[i].final_metrics);
    kc_harness_agg_term(&agg);

    /* every answer against the snapshot its count names, rebuilt from the log */
    kc_store_t *st = NULL;
    kc_store_opts_t so = {.read_only = true};
    int rc = kc_store_open(&st, store, &so);
    KC_CHECK(rc == 0, "open %s: %s", store, kc_strerror(rc));
    kc_txn_t *txn = NULL;
    rc = kc_store_read_begin(st, &txn);
    KC_CHECK(rc == 0, "read txn: %s", kc_strerror(rc));
    static replay_t rp;
    KC_CHECK(s_check_now(&rp, (1 << S_NFILTERS) - 1) == 0, "%s", rp.why);
    rc = kc_txn_log_scan(txn, 0, s_on_entry, &rp);
    KC_CHECK(rc == 0, "%s", rp.why[0] ? rp.why : kc_strerror(rc));
    kc_txn_end(&txn);
    kc_store_close(&st);
    KC_CHECK(rp.n == s_total, "%llu log entries, %llu events sent", (unsigned long long)rp.n,
             (unsigned long long)s_total);
    size_t distinct = 0;
    for (int i = 0; i < S_NFILTERS + 2; i++) {
        for (size_t k = 0; k < tabs[i]->n; k++) {
            distinct += tabs[i]->slot[k] != NULL;
            free(tabs[i]->slot[k]);
        }
        free(tabs[i]->slot);
        pthread_mutex_destroy(&tabs[i]->mu);
    }
    KC_CHECK(rp.checked == distinct, "%llu of %zu distinct answers matched to a snapshot",
             (unsigned long long)rp.checked, distinct);
    kc_harness_pass();
    printf("http_concurrent_test: ok (%d clients, %ld answers, %ld during ingest over status seq "
           "%llu..%llu, %zu distinct snapshots checked against the log)\n",
           CLIENTS, requests, during, (unsigned long long)lo, (unsigned long long)hi, distinct);
    return 0;
}
