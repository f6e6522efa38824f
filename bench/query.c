/* query.c - bench-query: the cost of the two questions users ask most, a
 * regional-year report and a province-month lookup, in process and as the CLI.
 *
 * DESIGN
 * 1. A store (bu_dir/store) is filled with N events (default 1,000,000) from
 *    the bench event generator (bench/gen_csv.c) restricted to 20
 *    provinces of the south (scheme 63) and the years 2021-2022: each event's
 *    metrics are added to its totals cell (kc_txn_totals_apply, 100,000
 *    events per transaction). Queries read only the totals, so the log is not
 *    written; what matters for their cost is the number of cells (reported).
 * 2. The questions (kc-query's own options):
 *      report  --region south --year 2022 --by province
 *      lookup  --province P --year 2022 --months 3   (P: the first of the 20)
 *    In process: libkctools as kc-query uses it (kc_qry_set/finish once, then
 *    per call one read transaction + kc_qry_answer), `--calls` times each.
 *    CLI: `kc-query --store S --format json ...` run `--cli-runs` times each
 *    (fork, exec, open the store, answer, print, exit).
 *    Per call: p50 and p99 in ms.
 * 3. Checks: the in-process JSON (kc_qry_json) equals the CLI's JSON for both
 *    questions, and the report's total equals the sums of the generated
 *    events of 2022 (actual kind), metric by metric.
 * Human table first, then one JSON object as the last line.
 */
#include "bench_util.h"
#include "kc_err.h"
#include "kc_qry.h"
#include "kc_ref.h"
#include "kc_store.h"
#include "kc_time.h"

#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#define S_PROVINCES 20
#define S_GROUP     100000

typedef struct {
    uint64_t events;
    int calls, cli_runs;
    bool keep;
    const char *dir, *query_bin;
} opts_t;

typedef struct {
    const opts_t *o;
    const kc_province_t *prov[S_PROVINCES];
    int nprov;
    kc_gen_t g;
    uint64_t done;
    int64_t sums2022[KC_METRIC_COUNT]; /* actual events of 2022 */
    uint64_t events2022;
} build_t;

static void s_usage(FILE *f)
{
    fprintf(f, "Usage: bench-query [options]\n"
               "A regional-year report and a province-month lookup on a store built here\n"
               "(N events over 20 provinces x 2 years), in process and as kc-query:\n"
               "p50/p99 per call. Prints a table and, as the last line, one JSON object.\n\n"
               "  -n, --events N      events in the store (default 1000000)\n"
               "  -c, --calls N       in-process calls per question (default 2000)\n"
               "  -r, --cli-runs N    kc-query runs per question (default 30)\n"
               "  -q, --query PATH    kc-query to run (default: beside this program)\n"
               "  -d, --dir DIR       parent of the temp dir (default $TMPDIR or /tmp)\n"
               "  -k, --keep          keep the temp dir\n"
               "  -h, --help          this text\n");
}

static int s_fund(const char *s)
{
    return strcmp(s, "kcqg") == 0 ? 1 : strcmp(s, "kcdp") == 0 ? 2 : 3;
}

static int s_build_group(kc_txn_t *txn, void *ctx)
{
    build_t *b = ctx;
    uint64_t end = b->done + S_GROUP < b->o->events ? b->done + S_GROUP : b->o->events;
    for (uint64_t n = b->done; n < end; n++) {
        kc_gen_row_t r;
        kc_gen_next(&b->g, &r);
        const kc_province_t *p = b->prov[n % (uint64_t)b->nprov];
        int year = 2021 + (int)((n / (uint64_t)b->nprov) % 2);
        const kc_activity_t *a = kc_ref_activity_lookup(r.activity);
        if (!a)
            return KC_EINVAL;
        kc_cell_key_t k = {.year = (uint16_t)year,
                           .month = (uint8_t)r.month,
                           .province = (uint8_t)p->code,
                           .activity = a->id,
                           .kind = strcmp(r.kind, "plan") == 0 ? 2 : 1,
                           .fund = (uint8_t)s_fund(r.fund)};
        int rc = kc_txn_totals_apply(txn, &k, r.m, 1);
        if (rc != 0)
            return rc;
        if (year == 2022 && k.kind == 1) {
            b->events2022++;
            for (int i = 0; i < KC_METRIC_COUNT; i++)
                b->sums2022[i] += r.m[i];
        }
    }
    return 0;
}

/* One question: its kc-query arguments (NULL-terminated name/value pairs). */
typedef struct {
    const char *name;
    const char *args[12]; /* "year", "2022", ... */
    kc_qry_opts_t q;
    double in_p50, in_p99, cli_p50, cli_p99;
    json_t *answer;
} question_t;

static void s_setup(question_t *qu, const char *store)
{
    char err[256];
    kc_qry_init(&qu->q);
    qu->q.store = store;
    for (int i = 0; qu->args[i]; i += 2)
        if (kc_qry_set(&qu->q, KC_QRY_CLI, qu->args[i], qu->args[i + 1], err, sizeof err) != 0)
            bu_die("%s: %s", qu->name, err);
    if (kc_qry_finish(&qu->q, KC_QRY_CLI, err, sizeof err) != 0)
        bu_die("%s: %s", qu->name, err);
}

static double s_call_ms(question_t *qu, kc_store_t *s, kc_qry_answer_t *a)
{
    int64_t t0 = kc_time_mono_ns();
    kc_txn_t *t = NULL;
    int rc = kc_store_read_begin(s, &t);
    if (rc == 0)
        rc = kc_qry_answer(&qu->q, t, a);
    kc_txn_end(&t);
    if (rc != 0)
        bu_die("%s: %s", qu->name, kc_strerror(rc));
    return (double)(kc_time_mono_ns() - t0) / 1e6;
}

static void s_in_process(question_t *qu, kc_store_t *s, int calls)
{
    static kc_qry_answer_t a;
    uint64_t *ns = malloc((size_t)calls * sizeof *ns);
    if (!ns)
        bu_die("out of memory");
    for (int i = 0; i < calls; i++)
        ns[i] = (uint64_t)(s_call_ms(qu, s, &a) * 1e6);
    qsort(ns, (size_t)calls, sizeof *ns, bu_u64_cmp);
    qu->in_p50 = bu_pct_ms(ns, (uint64_t)calls, 50);
    qu->in_p99 = bu_pct_ms(ns, (uint64_t)calls, 99);
    free(ns);
    qu->answer = kc_qry_json(&qu->q, &a);
    if (!qu->answer)
        bu_die("out of memory");
}

static void s_cli(question_t *qu, const char *bin, const char *store, int runs)
{
    char *argv[32], out[PATH_MAX], err[PATH_MAX], opt[12][64];
    int n = 0;
    argv[n++] = (char *)bin;
    argv[n++] = "--store";
    argv[n++] = (char *)store;
    argv[n++] = "--format";
    argv[n++] = "json";
    for (int i = 0; qu->args[i]; i += 2) {
        snprintf(opt[i], sizeof opt[i], "--%s", qu->args[i]);
        argv[n++] = opt[i];
        argv[n++] = (char *)qu->args[i + 1];
    }
    argv[n] = NULL;
    snprintf(out, sizeof out, "%s/%s.json", bu_dir, qu->name);
    snprintf(err, sizeof err, "%s/%s.err", bu_dir, qu->name);
    uint64_t *ns = malloc((size_t)runs * sizeof *ns);
    if (!ns)
        bu_die("out of memory");
    for (int i = 0; i < runs; i++) {
        int64_t t0 = kc_time_mono_ns();
        int st = bu_run(argv, out, err);
        ns[i] = (uint64_t)(kc_time_mono_ns() - t0);
        if (st != 0)
            bu_die("%s: kc-query exited %d (see %s)", qu->name, st, err);
    }
    qsort(ns, (size_t)runs, sizeof *ns, bu_u64_cmp);
    qu->cli_p50 = bu_pct_ms(ns, (uint64_t)runs, 50);
    qu->cli_p99 = bu_pct_ms(ns, (uint64_t)runs, 99);
    free(ns);
    json_error_t je;
    json_t *cli = json_load_file(out, 0, &je);
    if (!cli)
        bu_die("%s: kc-query's output is not JSON: %s", qu->name, je.text);
    if (!json_equal(cli, qu->answer)) {
        char *a = json_dumps(qu->answer, JSON_COMPACT | JSON_SORT_KEYS);
        bu_die("%s: the in-process answer differs from kc-query's (%s):\n%s", qu->name, out, a);
    }
    json_decref(cli);
}

int main(int argc, char **argv)
{
    static const struct option lopts[] = {
        {"events", required_argument, 0, 'n'},   {"calls", required_argument, 0, 'c'},
        {"cli-runs", required_argument, 0, 'r'}, {"query", required_argument, 0, 'q'},
        {"dir", required_argument, 0, 'd'},      {"keep", no_argument, 0, 'k'},
        {"help", no_argument, 0, 'h'},           {0, 0, 0, 0}};
    bu_init("bench-query");
    opts_t o = {.events = 1000000, .calls = 2000, .cli_runs = 30};
    int c;
    while ((c = getopt_long(argc, argv, "n:c:r:q:d:kh", lopts, NULL)) != -1) {
        switch (c) {
        case 'n': o.events = (uint64_t)bu_num("--events", optarg, 1); break;
        case 'c': o.calls = (int)bu_num("--calls", optarg, 1); break;
        case 'r': o.cli_runs = (int)bu_num("--cli-runs", optarg, 1); break;
        case 'q': o.query_bin = optarg; break;
        case 'd': o.dir = optarg; break;
        case 'k': o.keep = true; break;
        case 'h': s_usage(stdout); return 0;
        default: fprintf(stderr, "Try --help.\n"); return 64;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bench-query: unexpected argument: %s\nTry --help.\n", argv[optind]);
        return 64;
    }
    if (sodium_init() < 0)
        bu_die("sodium_init failed");
    char qbin[PATH_MAX], store[PATH_MAX];
    bu_find_tool(o.query_bin, "kc-query", qbin, sizeof qbin);
    bu_mkdir(o.dir);
    snprintf(store, sizeof store, "%s/store", bu_dir);

    /* ---- 1. the store ---- */
    static build_t b;
    b.o = &o;
    for (size_t i = 0; i < kc_ref_province_count() && b.nprov < S_PROVINCES; i++) {
        const kc_province_t *p = kc_ref_province_at(i);
        const char *r = kc_ref_region_of(p->code, 202101);
        if (p->scheme == 63 && p->valid_to >= 202212 && r && strcmp(r, "south") == 0)
            b.prov[b.nprov++] = p;
    }
    if (b.nprov == 0)
        bu_die("no southern provinces in the reference data");
    kc_gen_init(&b.g, "q", 7);
    kc_store_t *s = NULL;
    int rc = kc_store_open(&s, store, &(kc_store_opts_t){0});
    if (rc != 0)
        bu_die("open %s: %s", store, kc_strerror(rc));
    int64_t t0 = kc_time_mono_ns();
    for (b.done = 0; b.done < o.events; b.done += S_GROUP)
        if ((rc = kc_store_write(s, s_build_group, &b)) != 0)
            bu_die("building the store: %s", kc_strerror(rc));
    double build_s = (double)(kc_time_mono_ns() - t0) / 1e9;
    kc_store_close(&s);
    kc_store_opts_t ro = {.read_only = true};
    if ((rc = kc_store_open(&s, store, &ro)) != 0)
        bu_die("open %s: %s", store, kc_strerror(rc));
    kc_txn_t *t = NULL;
    kc_store_stat_t st;
    if (kc_store_read_begin(s, &t) != 0 || kc_txn_stat(t, &st) != 0)
        bu_die("stat %s", store);
    kc_txn_end(&t);

    /* ---- 2. the questions ---- */
    char prov[4];
    snprintf(prov, sizeof prov, "%s", b.prov[0]->code_str);
    question_t qs[2] = {
        {.name = "report", .args = {"region", "south", "year", "2022", "by", "province", NULL}},
        {.name = "lookup", .args = {"province", prov, "year", "2022", "months", "3", NULL}},
    };
    for (int i = 0; i < 2; i++) {
        s_setup(&qs[i], store);
        s_in_process(&qs[i], s, o.calls);
    }
    kc_store_close(&s);
    for (int i = 0; i < 2; i++)
        s_cli(&qs[i], qbin, store, o.cli_runs);

    /* ---- 3. the report's total is what was put in ---- */
    static kc_qry_answer_t a;
    if (kc_store_open(&s, store, &ro) != 0)
        bu_die("open %s", store);
    s_call_ms(&qs[0], s, &a);
    kc_store_close(&s);
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        if (a.cur.total.m[i] != b.sums2022[i])
            bu_die("DATA MISMATCH: report total %s = %lld, generated %lld", kc_ref_metric(i)->name,
                   (long long)a.cur.total.m[i], (long long)b.sums2022[i]);
    if (a.cur.total.events != b.events2022)
        bu_die("DATA MISMATCH: report counts %" PRIu64 " events, generated %" PRIu64,
               (uint64_t)a.cur.total.events, b.events2022); /* a 128-bit sum; here < 2^64 */

    printf("bench-query: %" PRIu64 " events over %d provinces x 2 years (%" PRIu64
           " totals cells, built in %.1f s)\n",
           o.events, b.nprov, st.cells, build_s);
    printf("  %-44s %10s %10s\n", "per call (ms)", "p50", "p99");
    printf("  %-44s %10.4f %10.4f\n", "report --region south --year 2022 --by province",
           qs[0].in_p50, qs[0].in_p99);
    printf("  %-44s %10.4f %10.4f\n", "  the same, kc-query (fork+exec+open)", qs[0].cli_p50,
           qs[0].cli_p99);
    char label[64];
    snprintf(label, sizeof label, "lookup --province %s --year 2022 --months 3", prov);
    printf("  %-44s %10.4f %10.4f\n", label, qs[1].in_p50, qs[1].in_p99);
    printf("  %-44s %10.4f %10.4f\n", "  the same, kc-query (fork+exec+open)", qs[1].cli_p50,
           qs[1].cli_p99);
    printf("  in process: %d calls each; kc-query: %d runs each; answers equal the CLI's JSON, "
           "report total verified\n",
           o.calls, o.cli_runs);
    bu_finish_dir(o.keep);
    printf("{\"report_p50_ms\": %.4f, \"report_p99_ms\": %.4f, \"report_cli_p50_ms\": %.3f, "
           "\"report_cli_p99_ms\": %.3f, \"lookup_p50_ms\": %.4f, \"lookup_p99_ms\": %.4f, "
           "\"lookup_cli_p50_ms\": %.3f, \"lookup_cli_p99_ms\": %.3f, \"events\": %" PRIu64
           ", \"cells\": %" PRIu64 ", \"calls\": %d, \"cli_runs\": %d, \"verified\": true}\n",
           qs[0].in_p50, qs[0].in_p99, qs[0].cli_p50, qs[0].cli_p99, qs[1].in_p50, qs[1].in_p99,
           qs[1].cli_p50, qs[1].cli_p99, o.events, st.cells, o.calls, o.cli_runs);
    json_decref(qs[0].answer);
    json_decref(qs[1].answer);
    return 0;
}
