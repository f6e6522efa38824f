/* kc_entryfmt.c - text forms of a decoded log entry (see kc_entryfmt.h). */
#include "kc_entryfmt.h"

#include "kc_jtext.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>

/* Append printf-formatted text at buf + *n (cut at cap). */
static void s_add(char *buf, size_t cap, size_t *n, const char *fmt, ...)
{
    if (*n >= cap)
        return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(buf + *n, cap - *n, fmt, ap);
    va_end(ap);
    if (k > 0)
        *n += (size_t)k < cap - *n ? (size_t)k : cap - *n - 1;
}

/* A metric's name in lang: its data/metrics.tsv name, or its Vietnamese label. */
static const char *s_name(int i, kc_lang_t lang)
{
    return lang == KC_LANG_VI ? kc_label_metric(i, lang) : kc_ref_metric(i)->name;
}

/* The metrics of mask in x: "amount_vnd 1200, facilities 2" (after sep). */
static void s_metrics(char *buf, size_t cap, size_t *n, const kc_entry_t *x, uint32_t mask,
                      kc_lang_t lang)
{
    const char *sep = "";
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        if (!(mask & x->present & (1u << i)))
            continue;
        s_add(buf, cap, n, "%s%s %" PRId64, sep, s_name(i, lang), x->m[i]);
        sep = ", ";
    }
}

char *kc_entryfmt_values(char *buf, size_t cap, const kc_entry_t *x, kc_lang_t lang)
{
    size_t n = 0;
    buf[0] = '\0';
    if (!x->present)
        s_add(buf, cap, &n, "-");
    s_metrics(buf, cap, &n, x, x->present, lang);
    return buf;
}

static void s_value(char *buf, size_t cap, size_t *n, const kc_entry_t *x, int i, bool vi)
{
    if (x->present & (1u << i))
        s_add(buf, cap, n, "%" PRId64, x->m[i]);
    else
        s_add(buf, cap, n, vi ? "(không có)" : "(none)");
}

char *kc_entryfmt_diff(char *buf, size_t cap, const kc_entry_t *prev, const kc_entry_t *cur,
                       const kc_entry_diff_t *d, kc_lang_t lang)
{
    bool vi = lang == KC_LANG_VI;
    size_t n = 0;
    buf[0] = '\0';
    if (d->retracted) {
        s_add(buf, cap, &n, vi ? "thu hồi: bỏ mọi giá trị (" : "retracted: every value removed (");
        s_metrics(buf, cap, &n, prev, prev->present, lang);
        s_add(buf, cap, &n, ")");
        return buf;
    }
    const char *sep = "";
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        if (!(d->metrics & (1u << i)))
            continue;
        s_add(buf, cap, &n, "%s%s ", sep, s_name(i, lang));
        s_value(buf, cap, &n, prev, i, vi);
        s_add(buf, cap, &n, " → ");
        s_value(buf, cap, &n, cur, i, vi);
        sep = ", ";
    }
    char a[16], b[16];
    if (d->period) {
        s_add(buf, cap, &n, vi ? "%skỳ %s → %s" : "%speriod %s → %s", sep,
              *kc_entryfmt_period(a, sizeof a, prev) ? a : "-",
              *kc_entryfmt_period(b, sizeof b, cur) ? b : "-");
        sep = ", ";
    }
    const char *what[] = {"activity changed", "kind changed", "fund changed", "note changed"};
    const char *what_vi[] = {"đổi nội dung hoạt động", "đổi loại", "đổi nguồn kinh phí",
                             "đổi ghi chú"};
    bool changed[] = {d->activity, d->kind, d->fund, d->note};
    for (size_t i = 0; i < sizeof what / sizeof *what; i++) {
        if (changed[i]) {
            s_add(buf, cap, &n, "%s%s", sep, vi ? what_vi[i] : what[i]);
            sep = ", ";
        }
    }
    if (!*sep)
        s_add(buf, cap, &n, vi ? "(không thay đổi gì)" : "(nothing changed)");
    return buf;
}

char *kc_entryfmt_province(char *buf, size_t cap, const kc_entry_t *x)
{
    if (x->prov)
        snprintf(buf, cap, "%s %s", x->prov->code_str, x->prov->name);
    else
        kc_text_fit(x->province, strlen(x->province), buf, cap);
    return buf;
}

char *kc_entryfmt_period(char *buf, size_t cap, const kc_entry_t *x)
{
    if (x->year)
        snprintf(buf, cap, "%04u-%02u", (unsigned)x->year, (unsigned)x->month);
    else
        buf[0] = '\0';
    return buf;
}

char *kc_entryfmt_local(char *buf, size_t cap, uint64_t ns)
{
    time_t sec = (time_t)(ns / 1000000000u);
    struct tm tm;
    if (!localtime_r(&sec, &tm)) {
        buf[0] = '\0';
        return buf;
    }
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    long off = tm.tm_gmtoff / 60;
    snprintf(buf + n, cap - n, ".%09u%c%02ld:%02ld", (unsigned)(ns % 1000000000u),
             off < 0 ? '-' : '+', (off < 0 ? -off : off) / 60, (off < 0 ? -off : off) % 60);
    return buf;
}
