/* gen_csv.c - deterministic producer CSVs with known exact metric sums. */
#include "gen_csv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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

enum { C_ID, C_PROV, C_YEAR, C_MONTH, C_ACT, C_KIND, C_FUND, C_NOTE, C_M0, C_COUNT = C_M0 + 10 };

int kc_gen_csv(const char *path, const char *prefix, uint64_t seed, size_t rows,
               kc_gen_sums_t *sums)
{
    static const char *const names[C_M0] = {"event_id", "province", "year", "month",
                                            "activity", "kind",     "fund", "note"};
    FILE *f = fopen(path, "w");
    if (!f)
        return -errno;
    int order[C_COUNT];
    for (int i = 0; i < C_COUNT; i++)
        order[i] = i;
    uint64_t x = seed;
    if (seed % 2) /* odd seeds: shuffled columns */
        for (int i = C_COUNT - 1; i > 0; i--) {
            int j = (int)s_below(&x, (uint64_t)i + 1), t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
    for (int i = 0; i < C_COUNT; i++) {
        int c = order[i];
        s_put(f, c < C_M0 ? names[c] : kc_ref_metric(c - C_M0)->name, i == C_COUNT - 1);
    }
    kc_gen_t g;
    kc_gen_init(&g, prefix, seed);
    for (size_t n = 0; n < rows; n++) {
        kc_gen_row_t r;
        kc_gen_next(&g, &r);
        for (int i = 0; i < C_COUNT; i++) {
            int c = order[i];
            char buf[32];
            const char *v = buf;
            switch (c) {
            case C_ID: v = r.event_id; break;
            case C_PROV: v = r.province; break;
            case C_YEAR: snprintf(buf, sizeof buf, "%d", r.year); break;
            case C_MONTH: snprintf(buf, sizeof buf, "%d", r.month); break;
            case C_ACT: v = r.activity; break;
            case C_KIND: v = r.kind; break;
            case C_FUND: v = r.fund; break;
            case C_NOTE: v = r.note; break;
            default:
                if (r.present & (1u << (c - C_M0)))
                    snprintf(buf, sizeof buf, "%lld", (long long)r.m[c - C_M0]);
                else
                    buf[0] = '\0';
            }
            s_put(f, v, i == C_COUNT - 1);
        }
        sums->events++;
        for (int i = 0; i < KC_METRIC_COUNT; i++)
            sums->sums[i] += r.m[i];
    }
    if (fclose(f) != 0)
        return -errno;
    return 0;
}
