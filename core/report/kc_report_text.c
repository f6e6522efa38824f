/* kc_report_text.c - the report as text: kc-report's classic layout.
 *
 * DESIGN
 * The summary keeps the layout kc-report always printed (DOMAIN.md, "The
 * reference report"): for a region, a year Y and months A-B,
 *   - spending of the previous year Y-1 (whole year) and its percent of the
 *     Y-1 plan;
 *   - the plan of Y and its change on the plan of Y-1;
 *   - spending of Y months A-B, its percent of the plan of the whole year Y,
 *     and the change on the same months of Y-1 ("cùng kỳ");
 *   - each activity's figures in both periods, persons_employed with its share
 *     of persons, and the facilities of a clause of Decree 45 (KC3 = KC3a +
 *     KC3b + KC3c, ...) where two or more of its activities supported
 *     facilities in the same period (the report's "168 facilities");
 *   - the provinces whose consulting (TV) revenue beat their yearly plan.
 * Spending is amount_vnd over every activity; consulting revenue is
 * revenue_vnd of TV and never part of it. Money in tỷ/triệu (kc_fmt_money),
 * exactly rounded. The province and province x activity tables follow as
 * plain-text tables (kc_table) of the generic tables (kc_report_int.h), in
 * whole đồng, then the read position (log size, signed head).
 */
#include "kc_err.h"
#include "kc_fmt.h"
#include "kc_report_int.h"
#include "kc_table.h"

#include <stdio.h>
#include <string.h>

static bool s_any(const kc_totals_t *t)
{
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        if (t->m[i])
            return true;
    return false;
}

static void s_cell(char *buf, size_t cap, int metric, const kc_totals_t *t, kc_lang_t lang)
{
    kc_i128 v = t->m[metric];
    if (v == 0) {
        snprintf(buf, cap, "—");
        return;
    }
    if (kc_ref_metric(metric)->is_vnd) {
        kc_fmt_money(buf, cap, v, lang);
        return;
    }
    kc_fmt_count(buf, cap, v, lang);
    if (metric == KC_M_PERSONS_EMPLOYED && t->m[KC_M_PERSONS]) {
        char pct[KC_FMT_BUF];
        size_t n = strlen(buf);
        snprintf(buf + n, cap - n, " (%s)",
                 kc_fmt_percent(pct, sizeof pct, v, t->m[KC_M_PERSONS], lang));
    }
}

/* Rows of one activity (or clause subtotal): one per metric with figures. */
static void s_rows(kc_table_t *t, const char *title, const kc_totals_t *a, const kc_totals_t *b,
                   kc_lang_t lang)
{
    char va[KC_FMT_BUF], vb[KC_FMT_BUF];
    bool first = true;
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        if (!a->m[i] && !b->m[i])
            continue;
        kc_table_row(t);
        if (first)
            kc_table_set(t, 0, title);
        first = false;
        kc_table_set(t, 1, kc_label_metric(i, lang));
        s_cell(va, sizeof va, i, a, lang);
        s_cell(vb, sizeof vb, i, b, lang);
        kc_table_set(t, 2, va);
        kc_table_set(t, 3, vb);
    }
}

/* A clause's facilities (kc_rclause_t), when it has a row. */
static void s_clause_row(kc_table_t *t, const kc_rclause_t *c, kc_lang_t lang)
{
    char title[192], va[KC_FMT_BUF], vb[KC_FMT_BUF];
    if (!kc_rclause_title(c, lang, title, sizeof title))
        return;
    kc_table_row(t);
    kc_table_set(t, 0, title);
    kc_table_set(t, 1, kc_label_metric(KC_M_FACILITIES, lang));
    kc_table_set(t, 2, c->fa ? kc_fmt_count(va, sizeof va, c->fa, lang) : "—");
    kc_table_set(t, 3, c->fb ? kc_fmt_count(vb, sizeof vb, c->fb, lang) : "—");
}

static void s_activities(const kc_report_t *d, FILE *out, const char *pa, const char *pb)
{
    bool vi = d->q.lang == KC_LANG_VI;
    kc_table_t *t = kc_table_new(4, 2);
    if (!t)
        return;
    kc_table_row(t);
    kc_table_set(t, 0, vi ? "Hoạt động" : "Activity");
    kc_table_set(t, 1, vi ? "chỉ tiêu" : "figure");
    kc_table_set(t, 2, pa);
    kc_table_set(t, 3, pb);
    size_t n = kc_ref_activity_count();
    kc_rclause_t c = {0}, done;
    for (size_t i = 0; i < n; i++) {
        const kc_activity_t *a = kc_ref_activity_at(i);
        char title[256];
        if (kc_rclause_next(&c, a->code, &done))
            s_clause_row(t, &done, d->q.lang);
        const kc_totals_t *ra = &d->prev.row[a->id], *rb = &d->cur.row[a->id];
        if (!s_any(ra) && !s_any(rb))
            continue;
        snprintf(title, sizeof title, "%s %s", a->code, kc_label_activity(a, d->q.lang));
        s_rows(t, title, ra, rb, d->q.lang);
        kc_rclause_add(&c, a->code, ra, rb);
    }
    s_clause_row(t, &c, d->q.lang);
    kc_table_print(t, out);
    kc_table_destroy(&t);
}

/* Provinces whose TV revenue in `act` beat their yearly plan in `plan`. */
static void s_tv_beats(const kc_report_t *d, FILE *out, const kc_cells_result_t *act,
                       const kc_cells_result_t *plan, const char *period, int plan_year)
{
    bool vi = d->q.lang == KC_LANG_VI;
    int n = 0;
    for (int r = 0; r < KC_CELLS_ROWS; r++) {
        kc_i128 p = plan->row[r].m[KC_M_REVENUE_VND], v = act->row[r].m[KC_M_REVENUE_VND];
        if (!plan->used[r] || p <= 0 || v <= p)
            continue;
        int scheme, code;
        if (kc_cells_province_of_row(r, &scheme, &code))
            continue;
        const kc_province_t *pr = kc_ref_province(scheme, code);
        if (n++ == 0) {
            if (vi)
                fprintf(out, "  Vượt kế hoạch năm %d (thực hiện %s): ", plan_year, period);
            else
                fprintf(out, "  Revenue above the %d plan (actual %s): ", plan_year, period);
        } else {
            fputs(", ", out);
        }
        fprintf(out, "%s", pr ? pr->name : "?");
    }
    if (n)
        fputc('\n', out);
}

/* Upper-case an ASCII first letter ("năm 2021" -> "Năm 2021"). */
static void s_capitalize(char *s)
{
    if (s[0] >= 'a' && s[0] <= 'z')
        s[0] = (char)(s[0] - 'a' + 'A');
}

static void s_summary(const kc_report_t *d, FILE *out)
{
    bool vi = d->q.lang == KC_LANG_VI;
    char pa[64], pb[64], ps[64], a1[KC_FMT_BUF], a2[KC_FMT_BUF], a3[KC_FMT_BUF], title[4096];
    int y = d->q.year, p = d->q.year - 1;
    kc_report_periods(d, pa, pb, ps, sizeof pa);
    fprintf(out, "%s\n", kc_report_title(d, title, sizeof title)); /* the places, the periods */
    const char *units =
        d->q.f.units == 34 ? (vi ? "34 tỉnh, thành từ 2025" : "the 34 units of 2025")
                           : (vi ? "tỉnh, thành theo từng thời kỳ" : "provinces as of each period");
    if (d->q.store_label)
        fprintf(out, vi ? "(từ kho %s; đơn vị: %s)\n\n" : "(from the store %s; units: %s)\n\n",
                d->q.store_label, units);
    else
        fprintf(out, vi ? "(đơn vị: %s)\n\n" : "(units: %s)\n\n", units);

    const int A = KC_M_AMOUNT_VND;
    kc_i128 prev = d->prev.total.m[A], prev_plan = d->prev_plan.total.m[A];
    kc_i128 cur = d->cur.total.m[A], cur_plan = d->cur_plan.total.m[A];
    kc_i128 same = d->same.total.m[A];
    char pct[KC_FMT_BUF], chg[KC_FMT_BUF], label[4][128], value[4][512];
    snprintf(label[0], sizeof label[0], "%s:", pa);
    snprintf(value[0], sizeof value[0],
             vi ? "%s, đạt %s kế hoạch năm (%s)" : "%s, %s of the year's plan (%s)",
             kc_fmt_money(a1, sizeof a1, prev, d->q.lang),
             kc_fmt_percent(pct, sizeof pct, prev, prev_plan, d->q.lang),
             kc_fmt_money(a2, sizeof a2, prev_plan, d->q.lang));
    snprintf(label[1], sizeof label[1], vi ? "Kế hoạch năm %d:" : "Plan %d:", y);
    snprintf(value[1], sizeof value[1],
             vi ? "%s, %s so với kế hoạch năm %d" : "%s, %s on the %d plan",
             kc_fmt_money(a1, sizeof a1, cur_plan, d->q.lang),
             kc_fmt_change(chg, sizeof chg, cur_plan, prev_plan, d->q.lang), p);
    snprintf(label[2], sizeof label[2], "%s:", pb);
    snprintf(value[2], sizeof value[2],
             vi ? "%s, đạt %s kế hoạch năm %d (%s)" : "%s, %s of the %d plan (%s)",
             kc_fmt_money(a1, sizeof a1, cur, d->q.lang),
             kc_fmt_percent(pct, sizeof pct, cur, cur_plan, d->q.lang), y,
             kc_fmt_money(a2, sizeof a2, cur_plan, d->q.lang));
    snprintf(label[3], sizeof label[3], "%s:", vi ? "So với cùng kỳ" : "Year on year");
    snprintf(value[3], sizeof value[3], "%s (%s: %s)",
             kc_fmt_change(chg, sizeof chg, cur, same, d->q.lang), ps,
             kc_fmt_money(a3, sizeof a3, same, d->q.lang));
    fprintf(out, "%s\n",
            vi ? "Kinh phí khuyến công (thực hiện; không gồm TVPTCN)"
               : "Khuyen cong spending (actual; consulting excluded)");
    size_t w = 0;
    for (int i = 0; i < 4; i++) {
        s_capitalize(label[i]);
        if (kc_fmt_width(label[i]) > w)
            w = kc_fmt_width(label[i]);
    }
    for (int i = 0; i < 4; i++)
        fprintf(out, "  %s%*s  %s\n", label[i], (int)(w - kc_fmt_width(label[i])), "", value[i]);
    fputc('\n', out);

    s_activities(d, out, pa, pb);
    fputc('\n', out);
    fprintf(out,
            vi ? "Tư vấn phát triển công nghiệp (TVPTCN): doanh thu riêng, không cộng vào kinh "
                 "phí khuyến công\n"
               : "Industrial-development consulting (TV): its own revenue, never added to "
                 "spending\n");
    s_tv_beats(d, out, &d->tv[0], &d->tv[1], pa, p);
    s_tv_beats(d, out, &d->tv[2], &d->tv[3], pb, y);
}

/* A generic table through kc_table: a title line, the header, the rows. */
static void s_tab(const kc_report_t *d, const kc_rtab_t *t, FILE *out)
{
    kc_table_t *k = kc_table_new(t->ncols, t->nleft);
    if (!k)
        return;
    char buf[KC_FMT_BUF * 2];
    kc_table_row(k);
    for (size_t c = 0; c < t->ncols; c++)
        kc_table_set(k, c, t->head[c]);
    for (size_t r = 0; r < t->nrows; r++) {
        kc_table_row(k);
        for (size_t c = 0; c < t->ncols; c++)
            kc_table_set(k, c,
                         kc_rcell_show(&t->cell[r * t->ncols + c], d->q.lang, buf, sizeof buf));
    }
    fprintf(out, "%s\n", t->title);
    kc_table_print(k, out);
    kc_table_destroy(&k);
}

int kc_report_text(const kc_report_t *r, const kc_report_opts_t *o, FILE *out)
{
    bool vi = r->q.lang == KC_LANG_VI;
    if (o->table == KC_REPORT_T_ALL || o->table == KC_REPORT_T_SUMMARY)
        s_summary(r, out);
    if (o->table != KC_REPORT_T_SUMMARY) {
        kc_report_opts_t so = *o;
        kc_rtab_t *tabs = NULL;
        size_t n = 0;
        int rc = kc_rtabs_build(r, &so, &tabs, &n);
        if (rc)
            return rc;
        for (size_t i = 0; i < n; i++) {
            if (tabs[i].id == KC_REPORT_T_SUMMARY)
                continue;
            fputc('\n', out);
            s_tab(r, &tabs[i], out);
        }
        kc_rtabs_free(tabs, n);
    }
    if (o->table == KC_REPORT_T_ALL) {
        if (r->have_head)
            fprintf(out,
                    vi ? "\n(đọc tại nhật ký %llu mục; đầu cây đã ký %llu mục, gốc %s)\n"
                       : "\n(read at log size %llu; signed head of %llu entries, root %s)\n",
                    (unsigned long long)r->log_size, (unsigned long long)r->head_size,
                    r->head_root);
        else
            fprintf(out,
                    vi ? "\n(đọc tại nhật ký %llu mục; chưa có đầu cây đã ký)\n"
                       : "\n(read at log size %llu; no signed head yet)\n",
                    (unsigned long long)r->log_size);
    }
    return ferror(out) ? KC_EIO : 0;
}
