/* replay.c - bench-replay: how fast totals are rebuilt from a long event log,
 * and how large the log's proofs are.
 *
 * DESIGN
 * 1. Build a source store with an N-event log (default 10,000,000) directly
 *    through the store and ledger APIs, exactly as the aggregator commits an
 *    event (kc_ledger_effect -> kc_ledger_apply -> kc_txn_log_append) but in
 *    large transactions (100,000 events each) and without the network. The
 *    events are realistic: 20 producers, one per southern province (scheme 63),
 *    periods 2021-01..2024-12, every activity with metrics it allows, plan
 *    and actual, three funds; about 3% corrections (of a live record of the
 *    same province, sometimes moving it to another month) and 0.5% retractions.
 *    The map is sized up front so that no transaction is redone (the
 *    generator's state is not rolled back: a redo is refused).
 * 2. Time `kc-replay rebuild` in-process: libkcreplay (the code kc-replay
 *    runs) from one read snapshot of the source into a new store (log copy
 *    with its Merkle leaves, identities through LMDB, totals, producers),
 *    then the root check and the new head's signature, as the CLI does:
 *    rebuild_store_events_per_s.
 * 2b. The in-memory recomputation (libkcreplay's memory mode, what
 *    `kc-replay verify` runs): one cursor scan of the same snapshot, events
 *    decoded by the wire walker, identities in a hash table confirmed against
 *    the log, totals in memory: events_per_s (the headline) = entries / its
 *    time; verify = it + the cell-by-cell comparison with the stored totals,
 *    which must find no difference.
 * 3. Proof sizes at size N: inclusion proofs for offsets 0, N/2, N-1 (hashes
 *    and bytes), the consistency proof N/2 -> N.
 * Human table first, then one JSON object as the last line.
 */
#include "kc_audit.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_ledger.h"
#include "kc_ref.h"
#include "kc_replay.h"
#include "kc_store.h"
#include "kc_time.h"

#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_PROVINCES 20
#define S_RING      4096
#define S_GROUP     100000

typedef struct {
    uint64_t events;
    const char *dir;
    bool keep;
    int threads; /* kc_replay_opts_t.threads of the in-memory recomputation */
    int rounds;  /* runs of the in-memory recomputation (median reported) */
    size_t group;
} s_opts_t;

/* xorshift64* */
static uint64_t s_rng = 0x9E3779B97F4A7C15ull;
static uint64_t s_rand(void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * 2685821657736338717ull;
}

typedef struct {
    int code;
    char code_str[3];
    char producer[16];
    uint64_t seq;
    uint32_t ring[S_RING]; /* recent record numbers (index into s_gen.rec) */
    size_t nring;
} s_prov_t;

typedef struct {
    uint16_t year;
    uint8_t month;
    uint8_t prov; /* index into provs */
    uint8_t act;  /* index into acts */
    uint8_t kind, fund;
    bool live;       /* can be corrected/retracted */
    uint32_t number; /* event number: ids "E-<n>" / "C-<n>" */
    bool correction;
} s_rec_t;

typedef struct {
    s_prov_t provs[S_PROVINCES];
    int nprov;
    const kc_activity_t *acts[64];
    int nacts;
    s_rec_t *rec; /* every record/correction by event number */
    uint64_t next, total;
    uint64_t corrections, retractions;
    uint64_t received_ns;
    bool in_group; /* a transaction is running: a redo is refused */
    uint8_t buf[4096];
} s_gen_t;

static int s_gen_init(s_gen_t *g, uint64_t total)
{
    memset(g, 0, sizeof *g);
    for (size_t i = 0; i < kc_ref_province_count() && g->nprov < S_PROVINCES; i++) {
        const kc_province_t *p = kc_ref_province_at(i);
        const char *r = kc_ref_region_of(p->code, 202101);
        if (p->scheme != 63 || !r || strcmp(r, "south") != 0)
            continue;
        s_prov_t *sp = &g->provs[g->nprov++];
        sp->code = p->code;
        snprintf(sp->code_str, sizeof sp->code_str, "%s", p->code_str);
        snprintf(sp->producer, sizeof sp->producer, "prov-%s", p->code_str);
    }
    for (size_t i = 0; i < kc_ref_activity_count() && g->nacts < 64; i++)
        g->acts[g->nacts++] = kc_ref_activity_at(i);
    g->rec = calloc(total, sizeof *g->rec);
    g->total = total;
    g->received_ns = 1700000000000000000ull;
    return g->rec && g->nprov > 0 && g->nacts > 0 ? 0 : KC_ENOMEM;
}

/* Fill ev (and m) with event number n; returns 0 for a record, 1 correction, 2 retraction. */
static int s_make(s_gen_t *g, uint64_t n, kc_pb_event_t *ev, Kcpipe__V1__Metrics *m, char *id,
                  char *corr)
{
    kcpipe__v1__event__init(ev);
    kcpipe__v1__metrics__init(m);
    s_rec_t *r = &g->rec[n];
    r->number = (uint32_t)n;
    uint64_t x = s_rand();
    int pi = (int)(x % (uint64_t)g->nprov);
    s_prov_t *p = &g->provs[pi];
    int what = 0;
    uint32_t target = 0;
    unsigned dice = (unsigned)((x >> 20) % 1000);
    if (dice < 35 && p->nring > 0) {
        target = p->ring[(x >> 32) % p->nring];
        if (g->rec[target].live)
            what = dice < 30 ? 1 : 2;
    }
    ev->event_id = id;
    ev->province = p->code_str;
    ev->producer_id = p->producer;
    ev->has_seq = 1;
    ev->seq = ++p->seq;
    if (what == 2) {
        s_rec_t *t = &g->rec[target];
        snprintf(id, 24, "R-%" PRIu64, n);
        snprintf(corr, 24, "%s-%u", t->correction ? "C" : "E", t->number);
        ev->has_op = 1;
        ev->op = KCPIPE__V1__OP__OP_RETRACTION;
        ev->corrects = corr;
        t->live = false;
        r->live = false;
        g->retractions++;
        return 2;
    }
    const kc_activity_t *a;
    if (what == 1) {
        s_rec_t *t = &g->rec[target];
        *r = *t;
        r->number = (uint32_t)n;
        r->correction = true;
        if ((x >> 40) % 4 == 0)
            r->month = (uint8_t)(1 + (r->month % 12)); /* moves to the next month */
        snprintf(id, 24, "C-%" PRIu64, n);
        snprintf(corr, 24, "%s-%u", t->correction ? "C" : "E", t->number);
        ev->has_op = 1;
        ev->op = KCPIPE__V1__OP__OP_CORRECTION;
        ev->corrects = corr;
        t->live = false;
        g->corrections++;
    } else {
        r->prov = (uint8_t)pi;
        r->year = (uint16_t)(2021 + (x >> 24) % 4);
        r->month = (uint8_t)(1 + (x >> 28) % 12);
        r->act = (uint8_t)((x >> 34) % (uint64_t)g->nacts);
        r->kind = (x >> 40) % 5 == 0 ? 2 : 1;
        r->fund = (uint8_t)(1 + (x >> 44) % 3);
        r->correction = false;
        snprintf(id, 24, "E-%" PRIu64, n);
    }
    r->live = true;
    a = g->acts[r->act];
    ev->has_year = ev->has_month = 1;
    ev->year = r->year;
    ev->month = r->month;
    ev->activity = (char *)a->code;
    ev->has_kind = 1;
    ev->kind = r->kind;
    ev->has_fund = 1;
    ev->fund = r->fund;
    ev->metrics = m;
    uint64_t y = s_rand();
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        if ((a->metric_mask & (1u << i)) && i != KC_M_PERSONS_EMPLOYED) {
            bool vnd = i == KC_M_AMOUNT_VND || i == KC_M_REVENUE_VND;
            kc_pb_metric_set(m, i, vnd ? (int64_t)(y % 5000000000ull) : (int64_t)(1 + y % 200));
            y = y * 6364136223846793005ull + 1442695040888963407ull;
        }
    if (p->nring < S_RING)
        p->ring[p->nring++] = (uint32_t)n;
    else
        p->ring[(y >> 33) % S_RING] = (uint32_t)n;
    return what;
}

typedef struct {
    s_gen_t *g;
    uint64_t from, to;
    kc_ledger_effect_t eff;
    int rc;
    char why[512];
} s_build_t;

static int s_build_group(kc_txn_t *txn, void *ctx)
{
    s_build_t *b = ctx;
    s_gen_t *g = b->g;
    if (g->in_group) {
        snprintf(b->why, sizeof b->why, "a transaction was redone (map too small)");
        return KC_EBUSY;
    }
    g->in_group = true;
    kc_ledger_source_t src = kc_ledger_source_txn(txn);
    for (uint64_t n = b->from; n < b->to; n++) {
        kc_pb_event_t ev;
        Kcpipe__V1__Metrics m;
        char id[24], corr[24];
        s_make(g, n, &ev, &m, id, corr);
        size_t len = kcpipe__v1__event__pack(&ev, g->buf);
        int rc = kc_ledger_effect(&src, &ev, n, &b->eff);
        if (rc != 0)
            return rc;
        if (b->eff.reason != KCPIPE__V1__REASON__REASON_OK) {
            snprintf(b->why, sizeof b->why, "event %" PRIu64 " (%s): %s: %s", n, id,
                     kc_reason_name(b->eff.reason), b->eff.text);
            return KC_EINVAL;
        }
        if ((rc = kc_ledger_apply(txn, &b->eff)) != 0)
            return rc;
        g->received_ns += 1000 + s_rand() % 100000;
        kc_log_entry_t e = {.received_ns = g->received_ns,
                            .epoch = 1,
                            .seq = ev.seq,
                            .producer = ev.producer_id,
                            .producer_len = strlen(ev.producer_id),
                            .event = g->buf,
                            .event_len = len};
        if ((rc = kc_txn_log_append(txn, &e, NULL)) != 0)
            return rc;
    }
    if (b->to == g->total) {
        for (int i = 0; i < g->nprov; i++) {
            kc_producer_state_t st = {.hwm = g->provs[i].seq,
                                      .accepted = g->provs[i].seq,
                                      .epoch = 1,
                                      .last_seen_ns = g->received_ns};
            int rc = kc_txn_producer_put(txn, g->provs[i].producer, &st);
            if (rc != 0)
                return rc;
        }
    }
    return 0;
}

static void s_rm_store(const char *dir)
{
    char p[4200];
    const char *files[] = {"data.mdb", "lock.mdb", "audit.key"};
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        unlink(p);
    }
    rmdir(dir);
}

#define S_ROUNDS_MAX 15

static int s_cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of v[n] (sorts a copy). */
static double s_median(const double *v, int n)
{
    double c[S_ROUNDS_MAX];
    memcpy(c, v, (size_t)n * sizeof *c);
    qsort(c, (size_t)n, sizeof *c, s_cmp_double);
    return n % 2 ? c[n / 2] : (c[n / 2 - 1] + c[n / 2]) / 2;
}

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: bench-replay [--events N] [--dir DIR] [--group N] [--threads N] [--rounds N]\n"
            "                    [--keep]\n"
            "Build a store with an N-event log (default 10,000,000), time kc-replay's\n"
            "rebuild of it (in-process), the verify replay, and the proof sizes.\n"
            "--threads: of the in-memory recomputation (1, 2; default 0 = the library's\n"
            "choice: 2 from 65,536 entries on 2+ CPUs); --rounds: run the in-memory\n"
            "recomputation N times over the same log and report the median (default 1).\n"
            "The last line of output is one JSON object.\n");
}

int main(int argc, char **argv)
{
    s_opts_t o = {.events = 10000000, .group = KC_REPLAY_DEFAULT_GROUP, .rounds = 1};
    static const struct option lo[] = {
        {"events", required_argument, NULL, 'n'},  {"dir", required_argument, NULL, 'd'},
        {"group", required_argument, NULL, 'g'},   {"keep", no_argument, NULL, 'k'},
        {"threads", required_argument, NULL, 'j'}, {"rounds", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "n:d:g:j:r:kh", lo, NULL)) != -1) {
        switch (c) {
        case 'n': o.events = strtoull(optarg, NULL, 10); break;
        case 'd': o.dir = optarg; break;
        case 'g': o.group = strtoul(optarg, NULL, 10); break;
        case 'k': o.keep = true; break;
        case 'j': o.threads = (int)strtol(optarg, NULL, 10); break;
        case 'r': o.rounds = (int)strtol(optarg, NULL, 10); break;
        case 'h': s_usage(stdout); return 0;
        default: s_usage(stderr); return 64;
        }
    }
    if (o.events < 2 || o.events > UINT32_MAX || o.group < 1 || o.rounds < 1 ||
        o.rounds > S_ROUNDS_MAX || o.threads < 0 || o.threads > 2) {
        s_usage(stderr);
        return 64;
    }
    if (sodium_init() < 0)
        return 70;
    char base[4096], src_dir[4200], dst_dir[4200];
    if (o.dir) {
        snprintf(base, sizeof base, "%s", o.dir);
        mkdir(base, 0700);
    } else {
        const char *t = getenv("TMPDIR");
        snprintf(base, sizeof base, "%s/kc-bench-replay-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(base)) {
            perror("mkdtemp");
            return 74;
        }
    }
    snprintf(src_dir, sizeof src_dir, "%s/src", base);
    snprintf(dst_dir, sizeof dst_dir, "%s/rebuilt", base);
    s_rm_store(src_dir);
    s_rm_store(dst_dir);

    /* ---- 1. the source log ---- */
    s_gen_t *g = malloc(sizeof *g);
    if (!g || s_gen_init(g, o.events) != 0)
        return 70;
    size_t map = (size_t)(o.events * 1200ull) + ((size_t)256 << 20);
    kc_store_t *src;
    kc_store_opts_t so = {.map_size = map};
    int rc = kc_store_open(&src, src_dir, &so);
    if (rc != 0) {
        fprintf(stderr, "bench-replay: open %s: %s\n", src_dir, kc_strerror(rc));
        return 70;
    }
    double t0 = kc_time_mono_s();
    s_build_t *b = calloc(1, sizeof *b);
    b->g = g;
    for (uint64_t from = 0; from < o.events; from += S_GROUP) {
        b->from = from;
        b->to = from + S_GROUP < o.events ? from + S_GROUP : o.events;
        g->in_group = false;
        if ((rc = kc_store_write(src, s_build_group, b)) != 0) {
            fprintf(stderr, "bench-replay: building the log: %s %s\n", kc_strerror(rc), b->why);
            return 70;
        }
        if (isatty(STDERR_FILENO))
            fprintf(stderr, "\rbuild: %" PRIu64 " / %" PRIu64, b->to, o.events);
    }
    if (isatty(STDERR_FILENO))
        fprintf(stderr, "\n");
    if ((rc = kc_store_sign_head(src, NULL)) != 0)
        return 70;
    double build_s = kc_time_mono_s() - t0;
    kc_store_close(&src);
    struct stat st;
    char dbf[4300];
    snprintf(dbf, sizeof dbf, "%s/data.mdb", src_dir);
    stat(dbf, &st);
    double src_mb = (double)st.st_blocks * 512.0 / 1048576.0;

    /* ---- 2. rebuild, as kc-replay rebuild does ---- */
    kc_store_opts_t ro_open = {.read_only = true};
    if ((rc = kc_store_open(&src, src_dir, &ro_open)) != 0)
        return 70;
    kc_txn_t *t;
    if (kc_store_read_begin(src, &t) != 0)
        return 70;
    kc_store_stat_t sst;
    kc_txn_stat(t, &sst);
    t0 = kc_time_mono_s();
    kc_store_t *dst;
    kc_store_opts_t dopts = {.map_size = sst.used_bytes + (sst.used_bytes >> 3)};
    if ((rc = kc_store_open(&dst, dst_dir, &dopts)) != 0)
        return 70;
    kc_replay_opts_t ropts = {.copy_log = true, .group = o.group};
    kc_replay_t *r;
    rc = kc_replay_new(&r, dst, &ropts);
    if (rc == 0)
        rc = kc_replay_from_txn(r, t);
    uint8_t root_a[32], root_b[32];
    if (rc == 0)
        rc = kc_txn_merkle_root(t, o.events, root_a);
    kc_txn_t *dt = NULL;
    if (rc == 0 && (rc = kc_store_read_begin(dst, &dt)) == 0) {
        rc = kc_txn_merkle_root(dt, o.events, root_b);
        kc_txn_end(&dt);
    }
    if (rc == 0 && memcmp(root_a, root_b, 32) != 0)
        rc = KC_EFORMAT;
    if (rc == 0)
        rc = kc_store_sign_head(dst, NULL);
    double rebuild_s = kc_time_mono_s() - t0;
    if (rc != 0) {
        fprintf(stderr, "bench-replay: rebuild failed: %s %s\n", kc_strerror(rc),
                kc_replay_failure(r)->why);
        return 70;
    }
    kc_replay_stats_t rst = *kc_replay_stats(r);
    kc_replay_free(&r);
    kc_store_close(&dst);

    /* ---- the in-memory recomputation (headline), then verify = it + compare ---- */
    /* --rounds times over the same snapshot; the median round is reported */
    kc_replay_opts_t mo = {
        .in_memory = true, .events_from = t, .total = o.events, .threads = o.threads};
    double mem_runs[S_ROUNDS_MAX], verify_runs[S_ROUNDS_MAX];
    uint64_t cells = 0, diffs = 1;
    kc_replay_stats_t mst = {0};
    for (int round = 0; round < o.rounds; round++) {
        t0 = kc_time_mono_s();
        rc = kc_replay_new(&r, NULL, &mo);
        if (rc == 0)
            rc = kc_replay_from_txn(r, t);
        mem_runs[round] = kc_time_mono_s() - t0;
        diffs = 1;
        if (rc == 0)
            rc = kc_replay_compare(r, t, NULL, NULL, &cells, &diffs);
        verify_runs[round] = kc_time_mono_s() - t0;
        if (rc != 0 || diffs != 0) {
            fprintf(stderr,
                    "bench-replay: in-memory recomputation failed: %s, %" PRIu64
                    " cells differ %s\n",
                    kc_strerror(rc), diffs, r ? kc_replay_failure(r)->why : "");
            return 70;
        }
        mst = *kc_replay_stats(r);
        kc_replay_free(&r);
    }
    double mem_s = s_median(mem_runs, o.rounds), verify_s = s_median(verify_runs, o.rounds);

    /* ---- 3. proofs ---- */
    uint64_t offs[3] = {0, o.events / 2, o.events - 1};
    size_t incl[3];
    uint8_t(*path)[KC_MERKLE_HASH_LEN] = malloc(KC_MERKLE_PATH_MAX * KC_MERKLE_HASH_LEN);
    double proof_us = 0;
    for (int i = 0; i < 3; i++) {
        double p0 = kc_time_mono_s();
        if (kc_txn_inclusion_proof(t, offs[i], o.events, path, &incl[i]) != 0)
            return 70;
        proof_us += (kc_time_mono_s() - p0) * 1e6;
    }
    size_t cons;
    double c0 = kc_time_mono_s();
    if (kc_txn_consistency_proof(t, o.events / 2, o.events, path, &cons) != 0)
        return 70;
    double cons_us = (kc_time_mono_s() - c0) * 1e6;
    free(path);
    kc_txn_end(&t);
    kc_store_close(&src);

    double eps = (double)o.events / mem_s, veps = (double)o.events / verify_s;
    double reps = (double)o.events / rebuild_s;
    printf("bench-replay: %" PRIu64 " events (%" PRIu64 " corrections, %" PRIu64
           " retractions), %d producers, 2021-2024\n",
           o.events, g->corrections, g->retractions, g->nprov);
    printf("  %-34s %12.1f s  (%.0f events/s, %.0f MB)\n", "build source log (ledger+append)",
           build_s, (double)o.events / build_s, src_mb);
    printf("  %-34s %12.2f s  %12.0f events/s  (%" PRIu64 " cells, %" PRIu64 " identities)\n",
           "recompute totals in memory", mem_s, eps, mst.cells, mst.identities);
    printf("  %-34s %12.2f s  %12.0f events/s  (%" PRIu64 " cells identical)\n",
           "verify (recompute + compare)", verify_s, veps, cells);
    printf("  %-34s %12.2f s  %12.0f events/s  (%" PRIu64 " cells, %" PRIu64 " commits)\n",
           "rebuild (complete new store)", rebuild_s, reps, rst.cells, rst.commits);
    for (int i = 0; i < 3; i++)
        printf("  inclusion proof offset %-11" PRIu64 " %12zu hashes %6zu bytes\n", offs[i],
               incl[i], incl[i] * KC_MERKLE_HASH_LEN);
    printf("  consistency proof %" PRIu64 " -> %" PRIu64 "  %zu hashes %zu bytes (%.0f us)\n",
           o.events / 2, o.events, cons, cons * KC_MERKLE_HASH_LEN, cons_us);
    printf("{\"events\": %" PRIu64 ", \"build_s\": %.2f, \"recompute_s\": %.3f, "
           "\"events_per_s\": %.0f, \"verify_s\": %.3f, \"verify_events_per_s\": %.0f, "
           "\"rebuild_s\": %.3f, \"rebuild_store_events_per_s\": %.0f, "
           "\"cells\": %" PRIu64 ", \"corrections\": %" PRIu64 ", \"retractions\": %" PRIu64
           ", \"inclusion_hashes\": [%zu, %zu, %zu], \"inclusion_bytes_max\": %zu, "
           "\"inclusion_us_avg\": %.1f, \"consistency_hashes\": %zu, \"consistency_bytes\": %zu, "
           "\"source_mb\": %.0f, \"threads\": %d, \"rounds\": %d, \"recompute_runs_s\": [",
           o.events, build_s, mem_s, eps, verify_s, veps, rebuild_s, reps, cells, g->corrections,
           g->retractions, incl[0], incl[1], incl[2],
           (incl[0] > incl[2] ? incl[0] : incl[2]) * KC_MERKLE_HASH_LEN, proof_us / 3, cons,
           cons * KC_MERKLE_HASH_LEN, src_mb, o.threads, o.rounds);
    for (int i = 0; i < o.rounds; i++)
        printf("%s%.3f", i ? ", " : "", mem_runs[i]);
    printf("]}\n");
    free(g->rec);
    free(g);
    free(b);
    if (!o.keep) {
        s_rm_store(src_dir);
        s_rm_store(dst_dir);
        if (!o.dir)
            rmdir(base);
    }
    return 0;
}
