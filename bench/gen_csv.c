/* gen_csv.c - deterministic producer CSVs with known exact totals, per cell (DESIGN in
 * gen_csv.h). */
#include "gen_csv.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_PROV 128

static const char *const s_kinds[] = {"", "actual", "plan", "actual"};
static const char *const s_funds[] = {"", "kcqg", "kcdp", "other"};
static const char *const s_notes[] = {
    "hội thảo, tập huấn tại huyện",
    "máy \"sấy\" nông sản, 2 bộ",
    "nhiều dòng:\nđợt 1, đợt 2",
    "plain note",
};

static uint64_t s_next(uint64_t *x) /* splitmix64 */
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t s_below(uint64_t *x, uint64_t n)
{
    return s_next(x) % n;
}

/* Scheme-63 provinces valid through 2021-2024. */
static size_t s_provinces(const kc_province_t **out)
{
    size_t n = 0;
    for (size_t i = 0; i < kc_ref_province_count() && n < MAX_PROV; i++) {
        const kc_province_t *p = kc_ref_province_at(i);
        if (p->scheme == 63 && p->valid_from <= 202101 && p->valid_to >= 202412)
            out[n++] = p;
    }
    return n;
}

void kc_gen_init(kc_gen_t *g, const char *prefix, uint64_t seed)
{
    g->rng = seed * 0x2545f4914f6cdd1dULL + 1;
    g->prefix = prefix;
    g->row = 0;
}

void kc_gen_next(kc_gen_t *g, kc_gen_row_t *r)
{
    static const kc_province_t *prov[MAX_PROV];
    static size_t nprov;
    if (nprov == 0)
        nprov = s_provinces(prov);
    memset(r, 0, sizeof *r);
    g->row++;
    /* fixed-width hexadecimal: ids sort in the order rows are made (as a field
     * office's fixed-width numbering does) up to 16,777,215 rows, 6 digits */
    snprintf(r->event_id, sizeof r->event_id, "%s-%06zx", g->prefix, g->row);
    snprintf(r->province, sizeof r->province, "%s", prov[s_below(&g->rng, nprov)]->code_str);
    r->year = 2021 + (int)s_below(&g->rng, 4);
    r->month = 1 + (int)s_below(&g->rng, 12);
    const kc_activity_t *a = kc_ref_activity_at(s_below(&g->rng, kc_ref_activity_count()));
    r->activity = (g->row % 2) ? a->code : a->name;
    r->kind = s_kinds[s_below(&g->rng, 4)];
    r->fund = s_funds[s_below(&g->rng, 4)];
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        if (!(a->metric_mask & (1u << i)) || s_below(&g->rng, 4) == 0)
            continue;
        r->present |= 1u << i;
        if (kc_ref_metric(i)->is_vnd)
            r->m[i] = 1000000 + (int64_t)s_below(&g->rng, 5000000000ULL);
        else
            r->m[i] = (int64_t)s_below(&g->rng, 500);
    }
    if (r->present == 0) { /* at least one metric: the first the activity allows */
        for (int i = 0; i < KC_METRIC_COUNT; i++)
            if (a->metric_mask & (1u << i)) {
                r->present |= 1u << i;
                r->m[i] = 1 + (int64_t)s_below(&g->rng, 100);
                break;
            }
    }
    if (r->present & (1u << KC_M_PERSONS_EMPLOYED)) { /* never more employed than trained */
        r->present |= 1u << KC_M_PERSONS;
        if (r->m[KC_M_PERSONS_EMPLOYED] > r->m[KC_M_PERSONS])
            r->m[KC_M_PERSONS] = r->m[KC_M_PERSONS_EMPLOYED] + (int64_t)s_below(&g->rng, 50);
    }
    r->note = (g->row % 7 == 0) ? s_notes[s_below(&g->rng, 4)] : "";
}

/* ---- the generator's own reading of data/ TSV files (not kc_ref) ---- */

#define REF_MAX_METRICS    16
#define REF_MAX_ACTIVITIES 64
#define REF_MAX_PROVINCES  256

typedef struct {
    int ok; /* 0 not read yet, 1 read, -1 unreadable */
    char metric[REF_MAX_METRICS][32];
    int metric_id[REF_MAX_METRICS];
    size_t nmetric;
    struct {
        int id;
        char code[16], name[48];
        uint32_t mask; /* bit per metric id */
    } act[REF_MAX_ACTIVITIES];
    size_t nact;
    struct {
        int scheme, code;
        int32_t from, to; /* yyyymm, inclusive */
    } prov[REF_MAX_PROVINCES];
    size_t nprov;
} s_ref_t;

static s_ref_t s_ref;

/* data/ of the source tree this file is in. */
static void s_data_path(char *out, size_t cap, const char *file)
{
    const char *src = __FILE__, *tail = strstr(src, "bench/gen_csv.c");
    int root = tail ? (int)(tail - src) : 0;
    snprintf(out, cap, "%.*sdata/%s", root, src, file);
}

/* Split a TSV line (newline stripped) into at most max fields in place. */
static int s_fields(char *line, char **f, int max)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line; n < max;) {
        f[n++] = p;
        char *t = strchr(p, '\t');
        if (!t)
            break;
        *t = '\0';
        p = t + 1;
    }
    return n;
}

static int32_t s_yyyymm(const char *s)
{
    int y, m;
    return sscanf(s, "%4d-%2d", &y, &m) == 2 ? y * 100 + m : -1;
}

static int s_metric_by_name(const char *name, size_t len)
{
    for (size_t i = 0; i < s_ref.nmetric; i++)
        if (strlen(s_ref.metric[i]) == len && memcmp(s_ref.metric[i], name, len) == 0)
            return s_ref.metric_id[i];
    return -1;
}

/* Read one TSV: for each data row (after the comment lines and the header) call row(). */
static int s_read_tsv(const char *file, int (*row)(char **f, int n))
{
    char path[4096], line[1024];
    s_data_path(path, sizeof path, file);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    int header = 1, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, fp)) {
        if (line[0] == '#')
            continue;
        if (header) {
            header = 0;
            continue;
        }
        char *f[8];
        int n = s_fields(line, f, 8);
        if (n == 1 && f[0][0] == '\0')
            continue;
        rc = row(f, n);
    }
    fclose(fp);
    return rc;
}

static int s_metric_row(char **f, int n) /* id name unit ... */
{
    if (n < 2 || s_ref.nmetric == REF_MAX_METRICS)
        return -1;
    s_ref.metric_id[s_ref.nmetric] = atoi(f[0]);
    snprintf(s_ref.metric[s_ref.nmetric++], sizeof s_ref.metric[0], "%s", f[1]);
    return s_ref.metric_id[s_ref.nmetric - 1] < KC_METRIC_COUNT ? 0 : -1;
}

static int s_activity_row(char **f, int n) /* id code name metrics ... */
{
    if (n < 4 || s_ref.nact == REF_MAX_ACTIVITIES)
        return -1;
    size_t k = s_ref.nact++;
    s_ref.act[k].id = atoi(f[0]);
    snprintf(s_ref.act[k].code, sizeof s_ref.act[k].code, "%s", f[1]);
    snprintf(s_ref.act[k].name, sizeof s_ref.act[k].name, "%s", f[2]);
    for (char *p = f[3]; *p;) {
        size_t len = strcspn(p, ",");
        int id = s_metric_by_name(p, len);
        if (id < 0)
            return -1;
        s_ref.act[k].mask |= 1u << id;
        p += len + (p[len] == ',');
    }
    return 0;
}

static int s_province_row(char **f, int n) /* scheme code name valid_from valid_to ... */
{
    if (n < 5 || s_ref.nprov == REF_MAX_PROVINCES)
        return -1;
    size_t k = s_ref.nprov++;
    s_ref.prov[k].scheme = atoi(f[0]);
    s_ref.prov[k].code = atoi(f[1]);
    s_ref.prov[k].from = s_yyyymm(f[3]);
    s_ref.prov[k].to = s_yyyymm(f[4]);
    return s_ref.prov[k].from > 0 && s_ref.prov[k].to > 0 ? 0 : -1;
}

static int s_ref_load(void)
{
    if (s_ref.ok == 0) {
        int rc = s_read_tsv("metrics.tsv", s_metric_row);
        if (rc == 0)
            rc = s_read_tsv("activities.tsv", s_activity_row);
        if (rc == 0)
            rc = s_read_tsv("provinces.tsv", s_province_row);
        s_ref.ok = rc == 0 && s_ref.nmetric && s_ref.nact && s_ref.nprov ? 1 : -1;
        if (s_ref.ok < 0)
            fprintf(stderr, "gen_csv: cannot read the reference data under %s\n", __FILE__);
    }
    return s_ref.ok > 0 ? 0 : -EINVAL;
}

/* Whether a two-digit code names a province during yyyymm under the scheme then
 * in force (schemes do not overlap in time: the row that covers the period decides). */
static bool s_province_valid(int code, int32_t yyyymm)
{
    for (size_t i = 0; i < s_ref.nprov; i++)
        if (s_ref.prov[i].code == code && s_ref.prov[i].from <= yyyymm &&
            yyyymm <= s_ref.prov[i].to)
            return true;
    return false;
}

static int s_activity(const char *s)
{
    for (size_t i = 0; i < s_ref.nact; i++)
        if (strcmp(s_ref.act[i].code, s) == 0 || strcmp(s_ref.act[i].name, s) == 0)
            return (int)i;
    return -1;
}

/* ---- the rows of a file: records from kc_gen_next, some turned into amendments ---- */

enum { OP_RECORD, OP_CORRECTION, OP_RETRACTION };

typedef struct {
    kc_gen_row_t r; /* year/month 0: not given (a retraction); activity "" likewise */
    int op;
    char corrects[72];
} s_row_t;

/* The live version at the head of a chain (record -> correction -> ...). */
typedef struct {
    char id[72];
    const char *activity, *fund;
    int year, month;
    uint32_t present;
    int64_t m[KC_METRIC_COUNT];
} s_head_t;

typedef struct {
    s_head_t *v;
    size_t n, cap;
} s_bucket_t;

typedef struct {
    kc_gen_t g;
    uint64_t rng;      /* the amendments' own generator: g's rows stay kc_gen_next's */
    s_bucket_t b[100]; /* live heads by province code */
} s_stream_t;

static void s_stream_init(s_stream_t *st, const char *prefix, uint64_t seed)
{
    memset(st, 0, sizeof *st);
    kc_gen_init(&st->g, prefix, seed);
    st->rng = seed ^ 0x5bd1e9955bd1e995ULL;
}

static void s_stream_free(s_stream_t *st)
{
    for (int i = 0; i < 100; i++)
        free(st->b[i].v);
}

static void s_head_set(s_head_t *h, const kc_gen_row_t *r)
{
    snprintf(h->id, sizeof h->id, "%s", r->event_id);
    h->activity = r->activity;
    h->fund = r->fund;
    h->year = r->year;
    h->month = r->month;
    h->present = r->present;
    memcpy(h->m, r->m, sizeof h->m);
}

static int s_stream_next(s_stream_t *st, s_row_t *out)
{
    memset(out, 0, sizeof *out);
    kc_gen_next(&st->g, &out->r);
    kc_gen_row_t *r = &out->r;
    int code = atoi(r->province);
    if (code <= 0 || code >= 100)
        return -EINVAL;
    s_bucket_t *b = &st->b[code];
    uint64_t x = s_below(&st->rng, 16);
    if (b->n == 0 || x >= 3) { /* a record: a new chain */
        if (b->n == b->cap) {
            size_t cap = b->cap ? 2 * b->cap : 16;
            s_head_t *v = realloc(b->v, cap * sizeof *v);
            if (!v)
                return -ENOMEM;
            b->v = v;
            b->cap = cap;
        }
        s_head_set(&b->v[b->n++], r);
        return 0;
    }
    size_t j = (size_t)s_below(&st->rng, b->n);
    s_head_t *h = &b->v[j];
    snprintf(out->corrects, sizeof out->corrects, "%s", h->id);
    if (x == 2) { /* a retraction: the chain ends */
        out->op = OP_RETRACTION;
        r->kind = "retraction";
        r->activity = "";
        r->fund = "";
        r->present = 0;
        memset(r->m, 0, sizeof r->m);
        bool period = s_below(&st->rng, 2);
        r->year = period ? h->year : 0;
        r->month = period ? h->month : 0;
        *h = b->v[--b->n];
        return 0;
    }
    out->op = OP_CORRECTION;
    r->kind = "correction";
    uint64_t how = s_below(&st->rng, 4);
    if (how == 0) { /* the same cell, every value up by the same amount */
        int64_t d = (int64_t)s_below(&st->rng, 50);
        r->activity = h->activity;
        r->fund = h->fund;
        r->year = h->year;
        r->month = h->month;
        r->present = h->present;
        for (int i = 0; i < KC_METRIC_COUNT; i++)
            r->m[i] = (h->present & (1u << i)) ? h->m[i] + d : 0;
    } else if (how == 1) { /* into 2025-2026, if the code is valid then */
        int y = 2025 + (int)s_below(&st->rng, 2), mo = 1 + (int)s_below(&st->rng, 12);
        if (s_province_valid(code, y * 100 + mo)) {
            r->year = y;
            r->month = mo;
        }
    } /* else row k's own period, activity, fund and values */
    s_head_set(h, r);
    return 0;
}

/* ---- applying rows: the expected cells ---- */

typedef struct {
    uint64_t
        key; /* year << 40 | month << 32 | province << 24 | activity << 16 | kind << 8 | fund */
    int64_t events;
    int64_t m[KC_METRIC_COUNT];
} s_slot_t;

typedef struct {
    s_slot_t *slot; /* open addressing, key 0 = empty */
    size_t cap, n;
} s_cells_t;

typedef struct {
    uint64_t key;
    int64_t m[KC_METRIC_COUNT];
    bool live;
} s_version_t;

static uint64_t s_key(int year, int month, int province, int activity, int kind, int fund)
{
    return (uint64_t)year << 40 | (uint64_t)month << 32 | (uint64_t)province << 24 |
           (uint64_t)activity << 16 | (uint64_t)kind << 8 | (uint64_t)fund;
}

static s_slot_t *s_cell(s_cells_t *c, uint64_t key)
{
    if (2 * (c->n + 1) > c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 1024;
        s_slot_t *slot = calloc(cap, sizeof *slot);
        if (!slot)
            return NULL;
        for (size_t i = 0; i < c->cap; i++)
            if (c->slot[i].key) {
                size_t h = (size_t)((c->slot[i].key * 0x9e3779b97f4a7c15ULL) >> 20) & (cap - 1);
                while (slot[h].key)
                    h = (h + 1) & (cap - 1);
                slot[h] = c->slot[i];
            }
        free(c->slot);
        c->slot = slot;
        c->cap = cap;
    }
    size_t h = (size_t)((key * 0x9e3779b97f4a7c15ULL) >> 20) & (c->cap - 1);
    while (c->slot[h].key && c->slot[h].key != key)
        h = (h + 1) & (c->cap - 1);
    if (!c->slot[h].key) {
        c->slot[h].key = key;
        c->n++;
    }
    return &c->slot[h];
}

static int s_cell_add(s_cells_t *c, uint64_t key, const int64_t m[KC_METRIC_COUNT], int sign)
{
    s_slot_t *s = s_cell(c, key);
    if (!s)
        return -ENOMEM;
    s->events += sign;
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        s->m[i] += sign * m[i];
    return 0;
}

static int s_kind(const char *s)
{
    if (!*s || strcasecmp(s, "actual") == 0)
        return 1;
    return strcasecmp(s, "plan") == 0 ? 2 : -1;
}

static int s_fund(const char *s)
{
    if (!*s || strcasecmp(s, "other") == 0)
        return 3;
    if (strcasecmp(s, "kcqg") == 0)
        return 1;
    return strcasecmp(s, "kcdp") == 0 ? 2 : -1;
}

bool kc_gen_row_of(const kc_gen_file_t *files, size_t n, const char *event_id, size_t *file,
                   size_t *row)
{
    const char *dash = strrchr(event_id, '-');
    if (!dash || strlen(dash + 1) < 6)
        return false;
    for (const char *p = dash + 1; *p; p++)
        if (!isxdigit((unsigned char)*p))
            return false;
    size_t plen = (size_t)(dash - event_id);
    for (size_t i = 0; i < n; i++)
        if (strlen(files[i].prefix) == plen && memcmp(files[i].prefix, event_id, plen) == 0) {
            *file = i;
            *row = (size_t)strtoull(dash + 1, NULL, 16);
            return *row >= 1;
        }
    return false;
}

/* Apply row k (1-based) of a file whose versions are v[1..]: the rules of
 * docs/LEDGER.md, on the row's text mapped through s_ref. Adds to *sums. */
static int s_apply(s_cells_t *c, s_version_t *v, const kc_gen_file_t *file, size_t k,
                   const s_row_t *row, kc_gen_sums_t *sums)
{
    const kc_gen_row_t *r = &row->r;
    int code = atoi(r->province);
    int64_t m[KC_METRIC_COUNT] = {0};
    s_version_t *t = NULL;
    if (row->op != OP_RECORD) {
        size_t f, tk;
        if (!kc_gen_row_of(file, 1, row->corrects, &f, &tk) || tk >= k || !v[tk].live)
            return -EINVAL;
        t = &v[tk];
    }
    if (row->op == OP_RETRACTION) {
        if (r->year && s_key(r->year, r->month, 0, 0, 0, 0) != (t->key >> 32) << 32)
            return -EINVAL;
        if (s_cell_add(c, t->key, t->m, -1) != 0)
            return -ENOMEM;
        t->live = false;
        sums->events++;
        sums->voided += 2;
        for (int i = 0; i < KC_METRIC_COUNT; i++)
            sums->voided_sums[i] += t->m[i];
        return 0;
    }
    int a = s_activity(r->activity), fund = s_fund(r->fund);
    int kind = t ? (int)((t->key >> 8) & 0xff) : s_kind(r->kind);
    if (a < 0 || fund < 0 || kind < 0 || r->month < 1 || r->month > 12 ||
        !s_province_valid(code, r->year * 100 + r->month))
        return -EINVAL;
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        if (!(r->present & (1u << i)))
            continue;
        const char *name = kc_ref_metric(i)->name; /* the CSV column's name */
        int id = s_metric_by_name(name, strlen(name));
        if (id < 0 || !(s_ref.act[a].mask & (1u << id)))
            return -EINVAL;
        m[id] = r->m[i];
    }
    uint64_t key = s_key(r->year, r->month, code, s_ref.act[a].id, kind, fund);
    if (t) {
        if (s_cell_add(c, t->key, t->m, -1) != 0)
            return -ENOMEM;
        t->live = false;
        sums->voided++;
        for (int i = 0; i < KC_METRIC_COUNT; i++)
            sums->voided_sums[i] += t->m[i];
    }
    if (s_cell_add(c, key, m, +1) != 0)
        return -ENOMEM;
    v[k].key = key;
    memcpy(v[k].m, m, sizeof m);
    v[k].live = true;
    sums->events++;
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        sums->sums[i] += m[i];
    return 0;
}

/* Run the first `upto` rows of a file through fn (may be NULL) and s_apply. */
static int s_run(const kc_gen_file_t *file, size_t upto, s_cells_t *c, kc_gen_sums_t *sums,
                 int (*fn)(void *ctx, const s_row_t *row), void *ctx)
{
    int rc = s_ref_load();
    if (rc != 0)
        return rc;
    s_version_t *v = calloc(upto + 1, sizeof *v);
    if (!v)
        return -ENOMEM;
    s_stream_t st;
    s_stream_init(&st, file->prefix, file->seed);
    for (size_t k = 1; rc == 0 && k <= upto; k++) {
        s_row_t row;
        rc = s_stream_next(&st, &row);
        if (rc == 0 && fn)
            rc = fn(ctx, &row);
        if (rc == 0)
            rc = s_apply(c, v, file, k, &row, sums);
        if (rc == -EINVAL)
            fprintf(stderr, "gen_csv: row %zu of %s (seed %llu) maps to no valid cell\n", k,
                    file->prefix, (unsigned long long)file->seed);
    }
    s_stream_free(&st);
    free(v);
    return rc;
}

static int s_cmp_cell(const void *a, const void *b)
{
    const kc_gen_cell_t *x = a, *y = b;
    uint64_t kx = s_key(x->year, x->month, x->province, x->activity, x->kind, x->fund);
    uint64_t ky = s_key(y->year, y->month, y->province, y->activity, y->kind, y->fund);
    return kx < ky ? -1 : kx > ky;
}

int kc_gen_expect(const kc_gen_file_t *files, const size_t *upto, size_t n, kc_gen_cell_t **cells,
                  size_t *ncells)
{
    s_cells_t c = {0};
    kc_gen_sums_t sums;
    memset(&sums, 0, sizeof sums);
    int rc = 0;
    *cells = NULL;
    *ncells = 0;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        size_t k = upto ? upto[i] : files[i].rows;
        rc = k <= files[i].rows ? s_run(&files[i], k, &c, &sums, NULL, NULL) : -EINVAL;
    }
    kc_gen_cell_t *out = rc == 0 ? calloc(c.n ? c.n : 1, sizeof *out) : NULL;
    if (rc == 0 && !out)
        rc = -ENOMEM;
    size_t k = 0;
    for (size_t i = 0; rc == 0 && i < c.cap; i++) {
        const s_slot_t *s = &c.slot[i];
        bool zero = s->events == 0;
        for (int j = 0; j < KC_METRIC_COUNT; j++)
            zero = zero && s->m[j] == 0;
        if (s->key == 0 || zero)
            continue;
        kc_gen_cell_t *o = &out[k++];
        o->year = (uint16_t)(s->key >> 40);
        o->month = (uint8_t)(s->key >> 32);
        o->province = (uint8_t)(s->key >> 24);
        o->activity = (uint8_t)(s->key >> 16);
        o->kind = (uint8_t)(s->key >> 8);
        o->fund = (uint8_t)s->key;
        o->events = s->events;
        memcpy(o->m, s->m, sizeof o->m);
    }
    free(c.slot);
    if (rc != 0) {
        free(out);
        return rc;
    }
    qsort(out, k, sizeof *out, s_cmp_cell);
    *cells = out;
    *ncells = k;
    return 0;
}

/* ---- sums ---- */

static void s_list(kc_gen_sums_t *s, const kc_gen_file_t *f)
{
    if (s->nfiles < KC_GEN_MAX_FILES)
        s->files[s->nfiles++] = *f;
    else
        s->nfiles = KC_GEN_MAX_FILES + 1;
}

void kc_gen_sums_add(kc_gen_sums_t *to, const kc_gen_sums_t *from)
{
    to->events += from->events;
    to->voided += from->voided;
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        to->sums[i] += from->sums[i];
        to->voided_sums[i] += from->voided_sums[i];
    }
    if (from->nfiles > KC_GEN_MAX_FILES)
        to->nfiles = KC_GEN_MAX_FILES + 1;
    for (size_t i = 0; i < from->nfiles && i < KC_GEN_MAX_FILES; i++)
        s_list(to, &from->files[i]);
}

bool kc_gen_sums_complete(const kc_gen_sums_t *s)
{
    if (s->nfiles > KC_GEN_MAX_FILES || s_ref_load() != 0)
        return false;
    kc_gen_sums_t t;
    memset(&t, 0, sizeof t);
    s_cells_t c = {0};
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < s->nfiles; i++)
        rc = s_run(&s->files[i], s->files[i].rows, &c, &t, NULL, NULL);
    free(c.slot);
    return rc == 0 && t.events == s->events && t.voided == s->voided &&
           memcmp(t.sums, s->sums, sizeof t.sums) == 0 &&
           memcmp(t.voided_sums, s->voided_sums, sizeof t.voided_sums) == 0;
}

/* ---- the CSV ---- */

static void s_put(FILE *f, const char *s, int last)
{
    if (strpbrk(s, ",\"\n\r")) {
        fputc('"', f);
        for (; *s; s++) {
            if (*s == '"')
                fputc('"', f);
            fputc(*s, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
    fputc(last ? '\n' : ',', f);
}

enum {
    C_ID,
    C_PROV,
    C_YEAR,
    C_MONTH,
    C_ACT,
    C_KIND,
    C_FUND,
    C_NOTE,
    C_M0,
    C_CORRECTS = C_M0 + KC_METRIC_COUNT,
    C_COUNT
};

typedef struct {
    FILE *f;
    int order[C_COUNT];
} s_writer_t;

static int s_write_row(void *ctx, const s_row_t *row)
{
    s_writer_t *w = ctx;
    const kc_gen_row_t *r = &row->r;
    for (int i = 0; i < C_COUNT; i++) {
        int c = w->order[i];
        char buf[32] = "";
        const char *v = buf;
        switch (c) {
        case C_ID: v = r->event_id; break;
        case C_PROV: v = r->province; break;
        case C_YEAR:
            if (r->year)
                snprintf(buf, sizeof buf, "%d", r->year);
            break;
        case C_MONTH:
            if (r->month)
                snprintf(buf, sizeof buf, "%d", r->month);
            break;
        case C_ACT: v = r->activity; break;
        case C_KIND: v = r->kind; break;
        case C_FUND: v = r->fund; break;
        case C_NOTE: v = r->note; break;
        case C_CORRECTS: v = row->corrects; break;
        default:
            if (r->present & (1u << (c - C_M0)))
                snprintf(buf, sizeof buf, "%lld", (long long)r->m[c - C_M0]);
        }
        s_put(w->f, v, i == C_COUNT - 1);
    }
    return ferror(w->f) ? -EIO : 0;
}

int kc_gen_csv(const char *path, const char *prefix, uint64_t seed, size_t rows,
               kc_gen_sums_t *sums)
{
    static const char *const names[C_M0] = {"event_id", "province", "year", "month",
                                            "activity", "kind",     "fund", "note"};
    kc_gen_file_t file = {.seed = seed, .rows = rows};
    bool listed = strlen(prefix) < sizeof file.prefix;
    snprintf(file.prefix, sizeof file.prefix, "%s", prefix);
    if (!listed)
        return -EINVAL; /* its ids could not be told apart: too long to list */
    s_writer_t w;
    w.f = fopen(path, "w");
    if (!w.f)
        return -errno;
    for (int i = 0; i < C_COUNT; i++)
        w.order[i] = i;
    uint64_t x = seed;
    if (seed % 2) /* odd seeds: shuffled columns */
        for (int i = C_COUNT - 1; i > 0; i--) {
            int j = (int)s_below(&x, (uint64_t)i + 1), t = w.order[i];
            w.order[i] = w.order[j];
            w.order[j] = t;
        }
    for (int i = 0; i < C_COUNT; i++) {
        int c = w.order[i];
        const char *name = c < C_M0          ? names[c]
                           : c == C_CORRECTS ? "corrects"
                                             : kc_ref_metric(c - C_M0)->name;
        s_put(w.f, name, i == C_COUNT - 1);
    }
    s_cells_t c = {0};
    kc_gen_sums_t add;
    memset(&add, 0, sizeof add);
    int rc = s_run(&file, rows, &c, &add, s_write_row, &w);
    free(c.slot);
    if (fclose(w.f) != 0 && rc == 0)
        rc = -errno;
    if (rc != 0)
        return rc;
    s_list(&add, &file);
    kc_gen_sums_add(sums, &add);
    return 0;
}

int kc_gen_sums(const char *prefix, uint64_t seed, size_t rows, kc_gen_sums_t *sums)
{
    kc_gen_file_t file = {.seed = seed, .rows = rows};
    if (strlen(prefix) >= sizeof file.prefix)
        return -EINVAL;
    snprintf(file.prefix, sizeof file.prefix, "%s", prefix);
    s_cells_t c = {0};
    kc_gen_sums_t add;
    memset(&add, 0, sizeof add);
    int rc = s_run(&file, rows, &c, &add, NULL, NULL);
    free(c.slot);
    if (rc != 0)
        return rc;
    s_list(&add, &file);
    kc_gen_sums_add(sums, &add);
    return 0;
}
