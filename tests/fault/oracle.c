/* oracle.c - the exactly-once oracle of the fault suite (DESIGN in oracle.h). */
#include "oracle.h"

#include "harness.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_store.h"
#include "verify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define S_KEY_LEN  80 /* province (3 + NUL) then event_id */
#define S_MAX_PROD 64
#define S_TOOL_MS  300000 /* bound on one kc-replay / kc-audit verify */

#define S_NONE UINT32_MAX

typedef struct {
    char key[S_KEY_LEN];
    uint32_t src;   /* index of its source */
    uint32_t count; /* times seen in the log */
    uint32_t acc;   /* distinct seqs the record acknowledges it accepted under */
} s_exp_t;

/* A (producer, epoch, seq) of the log or of the record; prod: index of the
 * first source with that producer id, exp: index in s_scan_t.exp (S_NONE if
 * unknown). */
typedef struct {
    uint64_t epoch, seq;
    uint32_t prod, exp;
    int64_t t_ms;    /* record: when the proxy read the Ack */
    uint32_t line;   /* record: line number */
    uint8_t outcome; /* record: S_ACCEPTED, S_DUPLICATE, S_REJECTED */
    bool dropped;    /* record: the proxy's mode discarded the Ack */
} s_pos_t;

enum { S_ACCEPTED, S_DUPLICATE, S_REJECTED };
static const char *const s_outcomes[] = {"accepted", "duplicate", "rejected"};

typedef struct {
    s_pos_t *v;
    size_t n, cap;
} s_posv_t;

typedef struct {
    s_exp_t *exp; /* expected identities, sorted by key */
    size_t nexp;
    const kc_oracle_src_t *src;
    size_t nsrc;
    char prod[S_MAX_PROD][72]; /* producers seen in the log */
    uint64_t last_epoch[S_MAX_PROD], last_seq[S_MAX_PROD];
    size_t nprod;
    kc_oracle_result_t *res;
    bool record;  /* collect log positions for the record's check */
    s_posv_t log; /* log positions, when record */
    bool oom;
} s_scan_t;

static char s_record[KC_PATH_MAX]; /* kc_oracle_use_record(), "" = none */

void kc_oracle_use_record(const char *path)
{
    snprintf(s_record, sizeof s_record, "%s", path ? path : "");
}

static bool s_posv_push(s_posv_t *pv, const s_pos_t *p)
{
    if (pv->n == pv->cap) {
        size_t cap = pv->cap ? pv->cap * 2 : 4096;
        s_pos_t *nv = realloc(pv->v, cap * sizeof *nv);
        if (!nv)
            return false;
        pv->v = nv;
        pv->cap = cap;
    }
    pv->v[pv->n++] = *p;
    return true;
}

static int s_pos_cmp(const void *a, const void *b)
{
    const s_pos_t *x = a, *y = b;
    if (x->prod != y->prod)
        return x->prod < y->prod ? -1 : 1;
    if (x->epoch != y->epoch)
        return x->epoch < y->epoch ? -1 : 1;
    if (x->seq != y->seq)
        return x->seq < y->seq ? -1 : 1;
    return (x->line > y->line) - (x->line < y->line);
}

static uint32_t s_src_of(const s_scan_t *s, const char *producer)
{
    for (size_t i = 0; i < s->nsrc; i++)
        if (strcmp(s->src[i].producer, producer) == 0)
            return (uint32_t)i;
    return S_NONE;
}

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
    if (s->record) {
        s_pos_t pos = {.epoch = e->epoch,
                       .seq = e->seq,
                       .prod = s_src_of(s, prod),
                       .exp = x ? (uint32_t)(x - s->exp) : S_NONE};
        s->oom = s->oom || !s_posv_push(&s->log, &pos);
    }
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

/* Read the record's complete lines into acks (see DESIGN). Problems found in
 * the lines themselves are counted in res. Returns 0 or a negative code. */
static int s_read_record(s_scan_t *s, s_posv_t *acks)
{
    kc_oracle_result_t *r = s->res;
    FILE *fp = fopen(s_record, "r");
    if (!fp)
        return errno == ENOENT ? 0 : -errno; /* no Ack yet */
    int64_t now = kc_harness_now_ms();
    uint32_t line = 0;
    char *p = NULL;
    size_t cap = 0;
    ssize_t len;
    int rc = 0;
    /* read line by line: a long record is never held whole */
    while (rc == 0 && (len = getline(&p, &cap, fp)) > 0) {
        if (p[len - 1] != '\n')
            break; /* the last line, still being written: not read */
        p[len - 1] = '\0';
        line++;
        char *f[11];
        int nf = 0;
        for (char *q = p; nf < 11; q++) {
            f[nf++] = q;
            if (!(q = strchr(q, '\t')))
                break;
            *q = '\0';
        }
        if (nf == 10 && strcmp(f[0], "ack") == 0) {
            s_pos_t a = {.t_ms = strtoll(f[1], NULL, 10),
                         .epoch = strtoull(f[3], NULL, 10),
                         .seq = strtoull(f[4], NULL, 10),
                         .prod = s_src_of(s, f[2]),
                         .line = line,
                         .dropped = strcmp(f[9], "dropped") == 0};
            a.outcome = strcmp(f[5], "accepted") == 0    ? S_ACCEPTED
                        : strcmp(f[5], "duplicate") == 0 ? S_DUPLICATE
                                                         : S_REJECTED;
            s_exp_t probe;
            s_make_key(probe.key, f[7], f[8]);
            s_exp_t *x = bsearch(&probe, s->exp, s->nexp, sizeof *s->exp, s_exp_cmp);
            a.exp = x ? (uint32_t)(x - s->exp) : S_NONE;
            r->ack_lines++;
            if (a.prod == S_NONE || !x || x->src != a.prod) {
                r->ack_conflicts++;
                s_why(r,
                      "record line %u: producer %s acknowledged event %s (province %s), "
                      "which belongs to no source of that producer",
                      line, f[2], f[8], f[7]);
            } else if (!s_posv_push(acks, &a)) {
                rc = KC_ENOMEM;
            }
        } else if (nf == 4 && strcmp(f[0], "undecoded") == 0) {
            r->ack_conflicts++;
            s_why(r,
                  "record line %u: the proxy could not decode a stream (%s, %s) %lld ms ago: "
                  "its Acks are not recorded",
                  line, f[2], f[3], (long long)(now - strtoll(f[1], NULL, 10)));
        } else if (nf == 4 && strcmp(f[0], "unmatched") == 0) {
            r->ack_conflicts++;
            s_why(r, "record line %u: producer %s: %s", line, f[2], f[3]);
        } else {
            r->ack_conflicts++;
            s_why(r, "record line %u is garbled: \"%.60s\"", line, f[0]);
        }
    }
    free(p);
    fclose(fp);
    return rc;
}

/* The record's checks against the log positions (see DESIGN). */
static void s_check_record(s_scan_t *s, s_posv_t *acks)
{
    kc_oracle_result_t *r = s->res;
    qsort(s->log.v, s->log.n, sizeof *s->log.v, s_pos_cmp);
    qsort(acks->v, acks->n, sizeof *acks->v, s_pos_cmp);
    int64_t now = kc_harness_now_ms();
    for (size_t i = 0, j; i < acks->n; i = j) {
        const s_pos_t *a = &acks->v[i];
        for (j = i + 1; j < acks->n && acks->v[j].prod == a->prod && acks->v[j].epoch == a->epoch &&
                        acks->v[j].seq == a->seq;
             j++)
            if (acks->v[j].outcome != a->outcome || acks->v[j].exp != a->exp) {
                r->ack_conflicts++;
                s_why(r, "record lines %u and %u disagree about producer %s epoch %llu seq %llu",
                      a->line, acks->v[j].line, s->src[a->prod].producer,
                      (unsigned long long)a->epoch, (unsigned long long)a->seq);
            }
        s_exp_t *x = &s->exp[a->exp];
        s_pos_t probe = {.prod = a->prod, .epoch = a->epoch, .seq = a->seq}; /* line 0, as log */
        const s_pos_t *lo = bsearch(&probe, s->log.v, s->log.n, sizeof *s->log.v, s_pos_cmp);
        char what[320];
        snprintf(what, sizeof what,
                 "event %s (province %s) acknowledged %s as producer %s epoch %llu seq %llu "
                 "(record line %u, %lld ms before this check%s)",
                 x->key + 4, x->key, s_outcomes[a->outcome], s->src[a->prod].producer,
                 (unsigned long long)a->epoch, (unsigned long long)a->seq, a->line,
                 (long long)(now - a->t_ms), a->dropped ? ", Ack dropped by the proxy" : "");
        if (a->outcome == S_ACCEPTED) {
            if (!lo) {
                r->ack_lost++;
                s_why(r, "%s is not in the log", what);
            } else if (lo->exp != a->exp) {
                r->ack_conflicts++;
                s_why(r, "%s: the log holds another event at that seq", what);
            } else {
                x->acc++; /* in the log more than once: counted in duplicates */
            }
        } else if (lo) {
            r->ack_conflicts++;
            s_why(r, "%s is in the log at that seq", what);
        } else if (a->outcome == S_DUPLICATE && x->count == 0) {
            r->ack_lost++;
            s_why(r, "%s (already counted) is not in the log", what);
        }
    }
    for (size_t i = 0; i < s->nexp; i++) {
        const s_exp_t *x = &s->exp[i];
        r->ack_events += x->acc > 0;
        if (x->acc > 1) {
            r->ack_twice++;
            s_why(r, "event %s (province %s) was acknowledged accepted under %u seqs", x->key + 4,
                  x->key, x->acc);
        }
        if (s->src[x->src].acked && x->acc == 0) {
            r->unacked++;
            s_why(r,
                  "event %s (province %s) of %s, whose kc-send ended clean, was never "
                  "acknowledged accepted",
                  x->key + 4, x->key, s->src[x->src].producer);
        }
    }
}

int kc_oracle_scan(const char *store, const kc_oracle_src_t *src, size_t n, kc_oracle_result_t *res)
{
    memset(res, 0, sizeof *res);
    s_scan_t s = {.src = src, .nsrc = n, .res = res, .record = s_record[0] != '\0'};
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

    /* the record first, then the snapshot: every Ack read was sent after its commit */
    s_posv_t acks = {0};
    int rc0 = s.record ? s_read_record(&s, &acks) : 0;
    if (rc0 != 0) {
        snprintf(res->why, sizeof res->why, "cannot read the record %.400s: %s", s_record,
                 kc_strerror(rc0));
        free(acks.v);
        free(s.exp);
        return rc0;
    }
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
    if (rc == 0 && s.oom)
        rc = KC_ENOMEM;
    if (rc != 0) {
        snprintf(res->why, sizeof res->why, "cannot scan the log of %s: %s", store,
                 kc_strerror(rc));
        free(acks.v);
        free(s.log.v);
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
    if (s.record)
        s_check_record(&s, &acks);
    free(acks.v);
    free(s.log.v);
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
    KC_CHECK(res->duplicates == 0 && res->unexpected == 0 && res->misordered == 0 &&
                 res->lost == 0 && res->ack_lost == 0 && res->ack_twice == 0 &&
                 res->ack_conflicts == 0 && res->unacked == 0,
             "oracle %s: duplicates=%llu unexpected=%llu misordered=%llu lost=%llu ack_lost=%llu "
             "ack_twice=%llu ack_conflicts=%llu unacked=%llu: %s",
             when, (unsigned long long)res->duplicates, (unsigned long long)res->unexpected,
             (unsigned long long)res->misordered, (unsigned long long)res->lost,
             (unsigned long long)res->ack_lost, (unsigned long long)res->ack_twice,
             (unsigned long long)res->ack_conflicts, (unsigned long long)res->unacked, res->why);
    if (tools) {
        s_tool("kc-replay", store, when);
        s_tool("kc-audit", store, when);
    }
    if (sums) {
        KC_CHECK(res->acked == res->sent, "oracle %s: sums given but only %llu/%llu acknowledged",
                 when, (unsigned long long)res->acked, (unsigned long long)res->sent);
        kc_verify_store(store, sums);
    } else { /* mid-run: each source's rows in the log so far, cell by cell */
        kc_gen_file_t *files = calloc(n ? n : 1, sizeof *files);
        KC_CHECK(files, "out of memory");
        for (size_t i = 0; i < n; i++) {
            snprintf(files[i].prefix, sizeof files[i].prefix, "%s", src[i].prefix);
            files[i].seed = src[i].seed;
            files[i].rows = src[i].rows;
        }
        kc_verify_cells_logged(store, files, n, when);
        free(files);
    }
}

void kc_oracle_summary(const char *name, const kc_oracle_result_t *res)
{
    printf("SUMMARY %s: sent=%llu acknowledged=%llu in_log=%llu duplicates=%llu lost=%llu", name,
           (unsigned long long)res->sent, (unsigned long long)res->acked,
           (unsigned long long)res->in_log, (unsigned long long)res->duplicates,
           (unsigned long long)res->lost);
    if (s_record[0] != '\0')
        printf(" ack_records=%llu ack_events=%llu ack_lost=%llu",
               (unsigned long long)res->ack_lines, (unsigned long long)res->ack_events,
               (unsigned long long)res->ack_lost);
    printf("\n");
    fflush(stdout);
}
