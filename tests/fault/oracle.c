/* oracle.c - the exactly-once oracle of the fault suite (DESIGN in oracle.h). */
#include "oracle.h"

#include "harness.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_store.h"
#include "verify.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define S_KEY_LEN  80 /* province (3 + NUL) then event_id */
#define S_MAX_PROD 64
#define S_TOOL_MS  300000 /* bound on one kc-replay / kc-audit verify */

typedef struct {
    char key[S_KEY_LEN];
    uint32_t src;   /* index of its source */
    uint32_t count; /* times seen in the log */
} s_exp_t;

typedef struct {
    s_exp_t *exp; /* expected identities, sorted by key */
    size_t nexp;
    const kc_oracle_src_t *src;
    char prod[S_MAX_PROD][72]; /* producers seen in the log */
    uint64_t last_epoch[S_MAX_PROD], last_seq[S_MAX_PROD];
    size_t nprod;
    kc_oracle_result_t *res;
} s_scan_t;

static void s_make_key(char key[S_KEY_LEN], const char *province, const char *event_id)
{
    memset(key, 0, S_KEY_LEN);
    snprintf(key, 4, "%s", province);
    snprintf(key + 4, S_KEY_LEN - 4, "%s", event_id);
}

static int s_exp_cmp(const void *a, const void *b)
{
    return memcmp(((const s_exp_t *)a)->key, ((const s_exp_t *)b)->key, S_KEY_LEN);
}

static void s_why(kc_oracle_result_t *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void s_why(kc_oracle_result_t *r, const char *fmt, ...)
{
    if (r->why[0] != '\0')
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
}

static int s_on_entry(const kc_log_entry_t *e, void *ctx)
{
    s_scan_t *s = ctx;
    kc_oracle_result_t *r = s->res;
    r->in_log++;
    char prod[72];
    snprintf(prod, sizeof prod, "%.*s", (int)e->producer_len, e->producer);
    /* order per producer and epoch */
    size_t p = 0;
    while (p < s->nprod && strcmp(s->prod[p], prod) != 0)
        p++;
    if (p == s->nprod && s->nprod < S_MAX_PROD) {
        snprintf(s->prod[s->nprod++], sizeof s->prod[0], "%s", prod);
        s->last_epoch[p] = e->epoch;
        s->last_seq[p] = 0;
    }
    if (p < s->nprod) {
        if (e->epoch < s->last_epoch[p]) {
            r->misordered++;
            s_why(r, "producer %s: an older spool epoch at log offset %llu", prod,
                  (unsigned long long)e->offset);
        } else {
            if (e->epoch > s->last_epoch[p]) {
                s->last_epoch[p] = e->epoch;
                s->last_seq[p] = 0;
            }
            if (e->seq <= s->last_seq[p]) {
                r->misordered++;
                s_why(r, "producer %s: seq goes back at log offset %llu", prod,
                      (unsigned long long)e->offset);
            }
            s->last_seq[p] = e->seq;
        }
    }
    kc_pb_event_t *ev = kcpipe__v1__event__unpack(NULL, e->event_len, e->event);
    if (!ev || !ev->province || !ev->event_id) {
        r->unexpected++;
        s_why(r, "log entry %llu does not decode to an event with an identity",
              (unsigned long long)e->offset);
        if (ev)
            kcpipe__v1__event__free_unpacked(ev, NULL);
        return 0;
    }
    s_exp_t probe;
    s_make_key(probe.key, ev->province, ev->event_id);
    s_exp_t *x = bsearch(&probe, s->exp, s->nexp, sizeof *s->exp, s_exp_cmp);
    if (!x || strcmp(s->src[x->src].producer, prod) != 0) {
        r->unexpected++;
        s_why(r, "event %s at log offset %llu belongs to no source (or to another producer)",
              ev->event_id, (unsigned long long)e->offset);
    } else if (++x->count == 2) {
        s_why(r, "event %s is in the log more than once (again at offset %llu)", ev->event_id,
              (unsigned long long)e->offset);
    }
    kcpipe__v1__event__free_unpacked(ev, NULL);
    return 0;
}

int kc_oracle_scan(const char *store, const kc_oracle_src_t *src, size_t n, kc_oracle_result_t *res)
{
    memset(res, 0, sizeof *res);
    s_scan_t s = {.src = src, .res = res};
    for (size_t i = 0; i < n; i++)
        s.nexp += src[i].rows;
    s.exp = calloc(s.nexp ? s.nexp : 1, sizeof *s.exp);
    if (!s.exp)
        return KC_ENOMEM;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        kc_gen_t g;
        kc_gen_init(&g, src[i].prefix, src[i].seed);
        for (size_t j = 0; j < src[i].rows; j++) {
            kc_gen_row_t row;
            kc_gen_next(&g, &row);
            s_make_key(s.exp[k].key, row.province, row.event_id);
            s.exp[k++].src = (uint32_t)i;
        }
        res->sent += src[i].rows;
        if (src[i].acked)
            res->acked += src[i].rows;
    }
    qsort(s.exp, s.nexp, sizeof *s.exp, s_exp_cmp);

    kc_store_t *st = NULL;
    kc_store_opts_t o = {.read_only = true};
    int rc = kc_store_open(&st, store, &o);
    kc_txn_t *t = NULL;
    if (rc == 0)
        rc = kc_store_read_begin(st, &t);
    if (rc == 0)
        rc = kc_txn_log_scan(t, 0, s_on_entry, &s);
    kc_txn_end(&t);
    kc_store_close(&st);
    if (rc != 0) {
        snprintf(res->why, sizeof res->why, "cannot scan the log of %s: %s", store,
                 kc_strerror(rc));
        free(s.exp);
        return rc;
    }
    for (size_t i = 0; i < s.nexp; i++) {
        if (s.exp[i].count > 1)
            res->duplicates += s.exp[i].count - 1;
        if (s.exp[i].count == 0 && src[s.exp[i].src].acked) {
            res->lost++;
            s_why(res, "acknowledged event %s (province %s) is not in the log", s.exp[i].key + 4,
                  s.exp[i].key);
        }
    }
    free(s.exp);
    return 0;
}

static void s_tool(const char *prog, const char *store, const char *when)
{
    static int runs;
    char bin[KC_PATH_MAX], out[KC_PATH_MAX];
    kc_harness_bin(bin, prog);
    kc_harness_path(out, "oracle-%s-%d.out", prog, ++runs);
    char *argv[] = {bin, "verify", "--store", (char *)store, "--quiet", NULL};
    pid_t pid = kc_harness_spawn(argv, out, out);
    int st = 0;
    if (kc_harness_wait(pid, S_TOOL_MS, &st) != 0) {
        kc_harness_stop(pid, SIGKILL, 5000);
        KC_CHECK(false, "%s verify did not end within %d ms (%s)", prog, S_TOOL_MS, when);
    }
    char sb[64];
    KC_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s verify --store %s: %s %s (see %s)", prog,
             store, kc_harness_status_str(st, sb, sizeof sb), when, out);
    unlink(out);
}

void kc_oracle_assert(const char *store, const kc_oracle_src_t *src, size_t n, bool tools,
                      const kc_gen_sums_t *sums, const char *when, kc_oracle_result_t *res)
{
    kc_oracle_result_t local;
    if (!res)
        res = &local;
    int rc = kc_oracle_scan(store, src, n, res);
    KC_CHECK(rc == 0, "oracle %s: %s", when, res->why);
    KC_CHECK(res->duplicates == 0 && res->unexpected == 0 && res->misordered == 0 && res->lost == 0,
             "oracle %s: duplicates=%llu unexpected=%llu misordered=%llu lost=%llu: %s", when,
             (unsigned long long)res->duplicates, (unsigned long long)res->unexpected,
             (unsigned long long)res->misordered, (unsigned long long)res->lost, res->why);
    if (tools) {
        s_tool("kc-replay", store, when);
        s_tool("kc-audit", store, when);
    }
    if (sums) {
        KC_CHECK(res->acked == res->sent, "oracle %s: sums given but only %llu/%llu acknowledged",
                 when, (unsigned long long)res->acked, (unsigned long long)res->sent);
        kc_verify_store(store, sums);
    }
}

void kc_oracle_summary(const char *name, const kc_oracle_result_t *res)
{
    printf("SUMMARY %s: sent=%llu acknowledged=%llu in_log=%llu duplicates=%llu lost=%llu\n", name,
           (unsigned long long)res->sent, (unsigned long long)res->acked,
           (unsigned long long)res->in_log, (unsigned long long)res->duplicates,
           (unsigned long long)res->lost);
    fflush(stdout);
}
