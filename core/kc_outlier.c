/* kc_outlier.c - warnings on unusual values: robust summaries and the bound.
 *
 * DESIGN
 * Summary. Per (province unit, activity, kind, metric) the last
 * KC_OUTLIER_WINDOW (32) positive figures accepted, oldest first, plus a count
 * of all of them. The median and the MAD (median absolute deviation) are
 * computed from the window exactly, as integers (lower medians: element
 * (n-1)/2 of the sorted values), so they are what a median of those figures
 * is, not an approximation, and the same history gives the same summary on
 * every machine (replay reproduces it). Memory and space are bounded: at most
 * KC_OUTLIER_ENC_MAX (266) bytes per cell, and a cell exists only for a
 * metric a unit reported. The window forgets figures older than 32 reports,
 * so a unit whose activity grows is judged by its recent scale; a median of
 * 32 figures moves only when 16 of them do, so a few wrong figures that got in
 * (a warning does not reject) do not shift it.
 * Kind is part of the key: a plan is a year's amount and an actual often a
 * month's or one activity's, an order of magnitude apart by design.
 * Zeros (and the impossible negatives) are not folded: a zero carries no
 * magnitude, and activities report 0 for metrics they do not use; folding them
 * would put the median at 0 and make every real figure "infinitely" unusual.
 * A zero is never warned about (a missing figure is completeness's business).
 * Regions. The same summary per (region, activity, kind, metric), fed by every
 * unit of the region (scheme 63 and 34 units alike: the region names are the
 * same), judges a unit's figures until the unit has KC_OUTLIER_MIN_N (3) of
 * its own for that metric.
 * History. Append-only of accepted figures, in log order: a record's and a
 * correction's figures are folded when accepted; a retraction folds nothing
 * and a corrected figure is not taken out (a 1000x figure corrected the next
 * day stays one of 32 values: the median does not notice it).
 * Bound: see kc_outlier_judge and docs/CYCLE.md, "Unusual values".
 *
 * Stored layout (table "summaries", opaque to the store).
 * Key, 5 bytes: scope ('u' unit, 'r' region), unit key or region id, activity
 * id, kind, metric. Value: layout byte 1, n (u8), count (u64 LE), then n
 * int64 LE figures oldest first; anything else is KC_EFORMAT.
 */
#include "kc_outlier.h"

#include "kc_err.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define S_LAYOUT  1
#define S_KEY_LEN 5

static const char *const s_regions[] = {"north", "central_highlands", "south"};

void kc_outlier_add(kc_outlier_sum_t *s, int64_t value)
{
    if (value <= 0)
        return;
    if (s->n == KC_OUTLIER_WINDOW) {
        memmove(s->v, s->v + 1, (KC_OUTLIER_WINDOW - 1) * sizeof s->v[0]);
        s->n--;
    }
    s->v[s->n++] = value;
    s->count++;
}

/* Lower median of a[0..n-1] (n >= 1), sorting a in place (n <= 32: insertion). */
static int64_t s_lower_median(int64_t *a, uint32_t n)
{
    for (uint32_t i = 1; i < n; i++) {
        int64_t x = a[i];
        uint32_t j = i;
        for (; j > 0 && a[j - 1] > x; j--)
            a[j] = a[j - 1];
        a[j] = x;
    }
    return a[(n - 1) / 2];
}

bool kc_outlier_stats(const kc_outlier_sum_t *s, int64_t *median, int64_t *mad)
{
    int64_t a[KC_OUTLIER_WINDOW];
    *median = *mad = 0;
    if (!s || s->n == 0 || s->n > KC_OUTLIER_WINDOW)
        return false;
    memcpy(a, s->v, s->n * sizeof a[0]);
    int64_t med = s_lower_median(a, s->n);
    for (uint32_t i = 0; i < s->n; i++) /* both positive: no overflow */
        a[i] = a[i] > med ? a[i] - med : med - a[i];
    *median = med;
    *mad = s_lower_median(a, s->n);
    return true;
}

int kc_outlier_judge(const kc_outlier_sum_t *s, int64_t value, int64_t *median, int64_t *mad)
{
    int64_t med = 0, d = 0, lim, prod;
    bool ok = s && kc_outlier_stats(s, &med, &d);
    if (median)
        *median = med;
    if (mad)
        *mad = d;
    if (!ok || s->n < KC_OUTLIER_MIN_N || value <= 0)
        return 0;
    /* K x MAD, saturating: a MAD that large excuses any distance */
    bool far_ok = !__builtin_mul_overflow(d, (int64_t)KC_OUTLIER_MADS, &lim);
    if (value > med) {
        /* value >= F x med; F x med overflowing means value < it */
        bool ratio =
            !__builtin_mul_overflow(med, (int64_t)KC_OUTLIER_FACTOR, &prod) && value >= prod;
        return ratio && far_ok && value - med > lim ? 1 : 0;
    }
    bool ratio = !__builtin_mul_overflow(value, (int64_t)KC_OUTLIER_FACTOR, &prod) && prod <= med;
    return ratio && far_ok && med - value > lim ? -1 : 0;
}

size_t kc_outlier_encode(const kc_outlier_sum_t *s, uint8_t *buf)
{
    buf[0] = S_LAYOUT;
    buf[1] = (uint8_t)s->n;
    for (int i = 0; i < 8; i++)
        buf[2 + i] = (uint8_t)(s->count >> (8 * i));
    for (uint32_t j = 0; j < s->n; j++) {
        uint64_t u = (uint64_t)s->v[j];
        for (int i = 0; i < 8; i++)
            buf[10 + 8 * j + i] = (uint8_t)(u >> (8 * i));
    }
    return 10 + 8 * (size_t)s->n;
}

int kc_outlier_decode(const uint8_t *buf, size_t len, kc_outlier_sum_t *s)
{
    memset(s, 0, sizeof *s);
    if (len < 10 || buf[0] != S_LAYOUT || buf[1] > KC_OUTLIER_WINDOW ||
        len != 10 + 8 * (size_t)buf[1])
        return KC_EFORMAT;
    s->n = buf[1];
    for (int i = 0; i < 8; i++)
        s->count |= (uint64_t)buf[2 + i] << (8 * i);
    for (uint32_t j = 0; j < s->n; j++) {
        uint64_t u = 0;
        for (int i = 0; i < 8; i++)
            u |= (uint64_t)buf[10 + 8 * j + i] << (8 * i);
        int64_t x;
        memcpy(&x, &u, sizeof x);
        if (x <= 0) {
            memset(s, 0, sizeof *s);
            return KC_EFORMAT;
        }
        s->v[j] = x;
    }
    if (s->count < s->n) {
        memset(s, 0, sizeof *s);
        return KC_EFORMAT;
    }
    return 0;
}

int kc_outlier_cell(int province, int32_t yyyymm, uint8_t activity, uint8_t kind,
                    kc_outlier_cell_t *out)
{
    memset(out, 0, sizeof *out);
    if (!kc_ref_province_for(province, yyyymm) || (kind != 1 && kind != 2) || activity == 0)
        return KC_EINVAL;
    uint8_t unit = kc_ref_unit_key(province, yyyymm);
    out->unit = unit;
    out->activity = activity;
    out->kind = kind;
    const char *r = kc_ref_region_of(province, yyyymm);
    for (size_t i = 0; r && i < sizeof s_regions / sizeof *s_regions; i++)
        if (strcmp(r, s_regions[i]) == 0)
            out->region = (uint8_t)(i + 1);
    return 0;
}

int kc_outlier_figures(const kc_ledger_effect_t *eff, const kc_pb_event_t *ev, kc_outlier_cell_t *c,
                       uint32_t *present, int64_t m[KC_METRIC_COUNT])
{
    if (!eff || !ev || !c || !present || !m)
        return KC_EINVAL;
    memset(c, 0, sizeof *c);
    *present = 0;
    memset(m, 0, KC_METRIC_COUNT * sizeof m[0]);
    if (eff->reason != KCPIPE__V1__REASON__REASON_OK ||
        (eff->op != KCPIPE__V1__OP__OP_RECORD && eff->op != KCPIPE__V1__OP__OP_CORRECTION) ||
        !ev->metrics)
        return KC_ENOTFOUND;
    /* the cell the figures count in: the one not left (events +1; or 0, a
     * correction within its target's cell); a retraction only leaves (-1) */
    const kc_ledger_cell_t *in = NULL;
    for (size_t i = 0; i < eff->ncells && i < KC_LEDGER_MAX_CELLS; i++)
        if (eff->cells[i].events >= 0)
            in = &eff->cells[i];
    if (!in)
        return KC_ENOTFOUND;
    const kc_cell_key_t *k = &in->key;
    int rc =
        kc_outlier_cell(k->province, (int32_t)k->year * 100 + k->month, k->activity, k->kind, c);
    if (rc != 0)
        return rc;
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        if (kc_pb_metric_get(ev->metrics, i, &m[i]))
            *present |= 1u << i;
    return 0;
}

static void s_key(uint8_t k[S_KEY_LEN], bool region, uint8_t id, uint8_t activity, uint8_t kind,
                  int metric)
{
    k[0] = region ? 'r' : 'u';
    k[1] = id;
    k[2] = activity;
    k[3] = kind;
    k[4] = (uint8_t)metric;
}

int kc_outlier_get_txn(kc_txn_t *t, bool region, uint8_t id, uint8_t activity, uint8_t kind,
                       int metric, kc_outlier_sum_t *s)
{
    memset(s, 0, sizeof *s);
    if (metric < 0 || metric >= KC_METRIC_COUNT)
        return KC_EINVAL;
    uint8_t k[S_KEY_LEN], v[KC_OUTLIER_ENC_MAX];
    size_t len;
    s_key(k, region, id, activity, kind, metric);
    int rc = kc_txn_summary_get(t, k, sizeof k, v, sizeof v, &len);
    if (rc != 0)
        return rc;
    return kc_outlier_decode(v, len, s);
}

static int s_put(kc_txn_t *t, bool region, uint8_t id, uint8_t activity, uint8_t kind, int metric,
                 const kc_outlier_sum_t *s)
{
    uint8_t k[S_KEY_LEN], v[KC_OUTLIER_ENC_MAX];
    s_key(k, region, id, activity, kind, metric);
    size_t len = kc_outlier_encode(s, v);
    return kc_txn_summary_put(t, k, sizeof k, v, len);
}

int kc_outlier_check_txn(kc_txn_t *t, const kc_outlier_cell_t *c, uint32_t present,
                         const int64_t m[KC_METRIC_COUNT], kc_outlier_warning_t *out, size_t *n)
{
    if (!t || !c || !m || !out || !n)
        return KC_EINVAL;
    *n = 0;
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        if (!(present & (1u << i)) || m[i] <= 0)
            continue;
        kc_outlier_sum_t s;
        bool region = false;
        int rc = kc_outlier_get_txn(t, false, c->unit, c->activity, c->kind, i, &s);
        if (rc != 0 && rc != KC_ENOTFOUND)
            return rc;
        if (s.n < KC_OUTLIER_MIN_N && c->region) {
            region = true;
            rc = kc_outlier_get_txn(t, true, c->region, c->activity, c->kind, i, &s);
            if (rc != 0 && rc != KC_ENOTFOUND)
                return rc;
        }
        int64_t med, mad;
        int dir = kc_outlier_judge(&s, m[i], &med, &mad);
        if (dir != 0)
            out[(*n)++] = (kc_outlier_warning_t){.metric = i,
                                                 .value = m[i],
                                                 .median = med,
                                                 .mad = mad,
                                                 .n = s.n,
                                                 .dir = dir,
                                                 .region = region};
    }
    return 0;
}

int kc_outlier_observe_txn(kc_txn_t *t, const kc_outlier_cell_t *c, uint32_t present,
                           const int64_t m[KC_METRIC_COUNT])
{
    if (!t || !c || !m)
        return KC_EINVAL;
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        if (!(present & (1u << i)) || m[i] <= 0)
            continue;
        for (int r = 0; r < 2; r++) {
            uint8_t id = r ? c->region : c->unit;
            if (id == 0)
                continue;
            kc_outlier_sum_t s;
            int rc = kc_outlier_get_txn(t, r, id, c->activity, c->kind, i, &s);
            if (rc != 0 && rc != KC_ENOTFOUND)
                return rc;
            kc_outlier_add(&s, m[i]);
            if ((rc = s_put(t, r, id, c->activity, c->kind, i, &s)) != 0)
                return rc;
        }
    }
    return 0;
}

/* v with thousands separators sep ("1,200,000" / "1.200.000"). */
static const char *s_group(char *buf, size_t cap, int64_t v, char sep)
{
    char d[24];
    int n = snprintf(d, sizeof d, "%" PRId64, v < 0 ? 0 : v);
    size_t o = 0;
    for (int i = 0; i < n && o + 2 < cap; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[o++] = sep;
        buf[o++] = d[i];
    }
    buf[o] = '\0';
    return buf;
}

char *kc_outlier_text(const kc_outlier_warning_t *w, kc_lang_t lang, char *buf, size_t cap)
{
    if (!buf || cap == 0)
        return buf;
    char sep = lang == KC_LANG_VI ? '.' : ',';
    char val[32], med[32], ratio[32];
    int64_t r = w->dir > 0 ? (w->median > 0 ? w->value / w->median : 0)
                           : (w->value > 0 ? w->median / w->value : 0);
    s_group(val, sizeof val, w->value, sep);
    s_group(med, sizeof med, w->median, sep);
    s_group(ratio, sizeof ratio, r, sep);
    const char *metric = kc_label_metric(w->metric, lang);
    char how[48];
    if (lang == KC_LANG_VI) {
        snprintf(how, sizeof how, w->dir > 0 ? "gấp %s lần" : "chỉ bằng 1/%s", ratio);
        snprintf(buf, cap,
                 "%s %s %s trung vị %s của %" PRIu32 " số liệu đã nhận gần nhất của %s "
                 "(ngưỡng %d lần): kiểm tra lại số chữ số 0; nếu đúng, không cần làm gì, "
                 "số liệu vẫn được tính",
                 metric, val, how, med, w->n,
                 w->region ? "khu vực (tỉnh chưa có đủ số liệu)" : "tỉnh", KC_OUTLIER_FACTOR);
    } else {
        snprintf(how, sizeof how, w->dir > 0 ? "%s times" : "1/%s of", ratio);
        snprintf(buf, cap,
                 "%s %s is %s the median %s of the last %" PRIu32
                 " accepted figures of %s (bound: %d times): check the number of zeros; if it "
                 "is right, nothing to do, it is counted",
                 metric, val, how, med, w->n,
                 w->region ? "the region (the province has too few yet)" : "this province",
                 KC_OUTLIER_FACTOR);
    }
    return buf;
}
