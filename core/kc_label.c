/* kc_label.c - names of regions, periods, metrics and activities in Vietnamese
 * and English (see kc_label.h). */
#include "kc_label.h"

#include "kc_err.h"

#include <stdio.h>
#include <string.h>

int kc_lang_parse(const char *s, kc_lang_t *out)
{
    if (s && strcmp(s, "en") == 0)
        *out = KC_LANG_EN;
    else if (s && strcmp(s, "vi") == 0)
        *out = KC_LANG_VI;
    else
        return KC_EINVAL;
    return 0;
}

const char *kc_label_region(const char *region, kc_lang_t lang)
{
    static const struct {
        const char *id, *vi, *en;
    } labels[] = {
        {"north", "khu vực phía Bắc", "the northern region"},
        {"central_highlands", "khu vực miền Trung - Tây Nguyên",
         "the central and highlands region"},
        {"south", "khu vực phía Nam", "the southern region"},
    };
    for (size_t i = 0; i < sizeof labels / sizeof labels[0]; i++)
        if (region && strcmp(region, labels[i].id) == 0)
            return lang == KC_LANG_VI ? labels[i].vi : labels[i].en;
    return region ? region : "";
}

char *kc_label_period(char *buf, size_t cap, int year, int from, int to, kc_lang_t lang)
{
    static const char *months_en[] = {"",        "January",  "February", "March",  "April",
                                      "May",     "June",     "July",     "August", "September",
                                      "October", "November", "December"};
    if (from < 1 || to > 12 || from > to) {
        snprintf(buf, cap, "%d", year);
        return buf;
    }
    if (lang == KC_LANG_VI) {
        if (from == 1 && to == 12)
            snprintf(buf, cap, "năm %d", year);
        else if (from == 1 && to > 1)
            snprintf(buf, cap, "%d tháng năm %d", to, year);
        else if (from == to)
            snprintf(buf, cap, "tháng %d năm %d", from, year);
        else
            snprintf(buf, cap, "tháng %d–%d năm %d", from, to, year);
    } else {
        if (from == 1 && to == 12)
            snprintf(buf, cap, "%d", year);
        else if (from == to)
            snprintf(buf, cap, "%s %d", months_en[from], year);
        else
            snprintf(buf, cap, "%s–%s %d", months_en[from], months_en[to], year);
    }
    return buf;
}

const char *kc_label_metric(int metric, kc_lang_t lang)
{
    const kc_metric_info_t *m = kc_ref_metric(metric);
    if (!m)
        return "";
    return lang == KC_LANG_VI ? m->label_vi : m->label_en;
}

const char *kc_label_activity(const kc_activity_t *a, kc_lang_t lang)
{
    return lang == KC_LANG_VI ? a->label_vi : a->label_en;
}
