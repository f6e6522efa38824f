/* kc_report_tab.c - the report as generic tables and a header block
 * (kc_report_int.h).
 *
 * DESIGN
 * Three tables, in this order:
 *   summary     columns: item, figure, period Y-1 (whole year), period Y A-B.
 *               Rows: spending, plan, % of plan, the same months of Y-1 and
 *               the change on them, the plan's change on Y-1's; then every
 *               activity with figures, one row per metric (its title on each
 *               row, so a spreadsheet filter keeps it), and a clause's
 *               facilities where two or more of its activities supported
 *               facilities in a period (KC3 = KC3a + KC3b + KC3c).
 *   provinces   code, province, KCQG, KCĐP, other, spending, plan of Y,
 *               % of plan, reports, last report; a totals row.
 *   activities  code, province, one column per activity with spending in
 *               the period (kc_ref order), total; a totals row.
 * Labels follow the query's language. Money is whole đồng in every table
 * (exact integers); percentages are num/den.
 */
#include "kc_err.h"
#include "kc_fmt.h"
#include "kc_qry.h"
#include "kc_report_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    kc_rtab_t *t;
    size_t cap; /* rows allocated */
    size_t row; /* current row + 1 */
    int err;
} s_build_t;

static int s_begin(s_build_t *b, kc_rtab_t *t, size_t ncols, size_t nleft)
{
    memset(b, 0, sizeof *b);
    b->t = t;
    t->ncols = ncols;
    t->nleft = nleft;
    t->head = calloc(ncols, sizeof *t->head);
    t->width = calloc(ncols, sizeof *t->width);
    return t->head && t->width ? 0 : KC_ENOMEM;
}

static void s_head(s_build_t *b, size_t c, const char *text)
{
    if (b->err || c >= b->t->ncols)
        return;
    free(b->t->head[c]);
    if (!(b->t->head[c] = strdup(text)))
        b->err = KC_ENOMEM;
}

static void s_row(s_build_t *b)
{
    if (b->err)
        return;
    kc_rtab_t *t = b->t;
    if (t->nrows == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        kc_rcell_t *c = realloc(t->cell, cap * t->ncols * sizeof *c);
        if (!c) {
            b->err = KC_ENOMEM;
            return;
        }
        memset(c + b->cap * t->ncols, 0, (cap - b->cap) * t->ncols * sizeof *c);
        t->cell = c;
        b->cap = cap;
    }
    t->nrows++;
}

static kc_rcell_t *s_at(s_build_t *b, size_t c)
{
    if (b->err || !b->t->nrows || c >= b->t->ncols)
        return NULL;
    return &b->t->cell[(b->t->nrows - 1) * b->t->ncols + c];
}

static void s_text(s_build_t *b, size_t c, const char *s)
{
    kc_rcell_t *x = s_at(b, c);
    if (!x)
        return;
    x->t = KC_RC_TEXT;
    if (!(x->s = strdup(s)))
        b->err = KC_ENOMEM;
}

static void s_int(s_build_t *b, size_t c, kc_i128 v)
{
    kc_rcell_t *x = s_at(b, c);
    if (x) {
        x->t = KC_RC_INT;
        x->v = v;
    }
}

static void s_ratio(s_build_t *b, size_t c, kc_rcell_type_t t, kc_i128 num, kc_i128 den)
{
    kc_rcell_t *x = s_at(b, c);
    if (x) {
        x->t = t;
        x->v = num;
        x->den = den;
    }
}

static void s_time(s_build_t *b, size_t c, uint64_t ns)
{
    kc_rcell_t *x = s_at(b, c);
    if (x && ns) {
        x->t = KC_RC_TIME;
        x->ns = ns;
    }
}

/* ---- clause subtotals ---- */

bool kc_rclause_next(kc_rclause_t *c, const char *code, kc_rclause_t *done)
{
    /* the clause of an activity code: "KC3b" -> "KC3", "KC10" -> "KC10" */
    char cl[sizeof c->clause];
    snprintf(cl, sizeof cl, "%s", code);
    size_t n = strlen(cl);
    if (n > 2 && cl[n - 1] >= 'a' && cl[n - 1] <= 'z')
        cl[n - 1] = '\0';
    if (strcmp(cl, c->clause) == 0)
        return false;
    *done = *c;
    memset(c, 0, sizeof *c);
    memcpy(c->clause, cl, sizeof cl);
    return true;
}

void kc_rclause_add(kc_rclause_t *c, const char *code, const kc_totals_t *a, const kc_totals_t *b)
{
    if (a->m[KC_M_FACILITIES] || b->m[KC_M_FACILITIES]) {
        size_t len = strlen(c->parts);
        snprintf(c->parts + len, sizeof c->parts - len, "%s%s", len ? " + " : "", code);
    }
    c->fa += a->m[KC_M_FACILITIES];
    c->fb += b->m[KC_M_FACILITIES];
    c->na += a->m[KC_M_FACILITIES] != 0;
    c->nb += b->m[KC_M_FACILITIES] != 0;
}

const char *kc_rclause_title(const kc_rclause_t *c, kc_lang_t lang, char *buf, size_t cap)
{
    if (c->na < 2 && c->nb < 2)
        return NULL;
    snprintf(buf, cap, lang == KC_LANG_VI ? "%s cộng (%s)" : "%s total (%s)", c->clause, c->parts);
    return buf;
}

/* ---- summary ---- */

static void s_clause_row(s_build_t *b, const kc_rclause_t *c, kc_lang_t lang)
{
    char title[192];
    if (!kc_rclause_title(c, lang, title, sizeof title))
        return;
    s_row(b);
    s_text(b, 0, title);
    s_text(b, 1, kc_label_metric(KC_M_FACILITIES, lang));
    if (c->fa)
        s_int(b, 2, c->fa);
    if (c->fb)
        s_int(b, 3, c->fb);
}

void kc_report_periods(const kc_report_t *r, char *pa, char *pb, char *ps, size_t cap)
{
    int y = r->q.year, p = y - 1;
    kc_lang_t l = r->q.lang;
    kc_label_period(pa, cap, p, 1, 12, l);
    kc_label_period(pb, cap, y, r->q.m_from, r->q.m_to, l);
    kc_label_period(ps, cap, p, r->q.m_from, r->q.m_to, l);
    if (l != KC_LANG_VI) {
        snprintf(pa, cap, "year %d", p);
        if (r->q.m_from == 1 && r->q.m_to == 12) {
            snprintf(pb, cap, "year %d", y);
            snprintf(ps, cap, "year %d", p);
        }
    }
}

static int s_summary(const kc_report_t *r, kc_rtab_t *t)
{
    bool vi = r->q.lang == KC_LANG_VI;
    kc_lang_t l = r->q.lang;
    s_build_t b;
    int rc = s_begin(&b, t, 4, 2);
    if (rc)
        return rc;
    char pa[64], pb[64], ps[64], s[192];
    kc_report_periods(r, pa, pb, ps, sizeof pa);
    t->id = KC_REPORT_T_SUMMARY;
    t->key = "summary";
    snprintf(t->title, sizeof t->title, "%s", vi ? "Tổng hợp khu vực" : "Regional summary");
    snprintf(t->sheet, sizeof t->sheet, "%s", vi ? "Tổng hợp" : "Summary");
    s_head(&b, 0, vi ? "Nội dung" : "Item");
    s_head(&b, 1, vi ? "Chỉ tiêu" : "Figure");
    s_head(&b, 2, pa);
    s_head(&b, 3, pb);
    const int A = KC_M_AMOUNT_VND;
    const char *spend = kc_label_metric(A, l);
    s_row(&b);
    s_text(&b, 0, vi ? "Kinh phí khuyến công (thực hiện)" : "Khuyen cong spending (actual)");
    s_text(&b, 1, spend);
    s_int(&b, 2, r->prev.total.m[A]);
    s_int(&b, 3, r->cur.total.m[A]);
    s_row(&b);
    s_text(&b, 0, vi ? "Kế hoạch năm" : "Plan of the year");
    s_text(&b, 1, spend);
    s_int(&b, 2, r->prev_plan.total.m[A]);
    s_int(&b, 3, r->cur_plan.total.m[A]);
    s_row(&b);
    s_text(&b, 0, vi ? "Đạt % kế hoạch năm" : "% of the year's plan");
    s_text(&b, 1, "%");
    s_ratio(&b, 2, KC_RC_PCT, r->prev.total.m[A], r->prev_plan.total.m[A]);
    s_ratio(&b, 3, KC_RC_PCT, r->cur.total.m[A], r->cur_plan.total.m[A]);
    s_row(&b);
    snprintf(s, sizeof s, vi ? "Cùng kỳ (%s)" : "Same months (%s)", ps);
    s_text(&b, 0, s);
    s_text(&b, 1, spend);
    s_int(&b, 3, r->same.total.m[A]);
    s_row(&b);
    s_text(&b, 0, vi ? "So với cùng kỳ" : "Year on year");
    s_text(&b, 1, "%");
    s_ratio(&b, 3, KC_RC_CHG, r->cur.total.m[A], r->same.total.m[A]);
    s_row(&b);
    snprintf(s, sizeof s, vi ? "Kế hoạch so với năm %d" : "Plan on the %d plan", r->q.year - 1);
    s_text(&b, 0, s);
    s_text(&b, 1, "%");
    s_ratio(&b, 3, KC_RC_CHG, r->cur_plan.total.m[A], r->prev_plan.total.m[A]);

    size_t n = kc_ref_activity_count();
    kc_rclause_t c = {0}, done;
    for (size_t i = 0; i < n; i++) {
        const kc_activity_t *a = kc_ref_activity_at(i);
        char title[256];
        if (kc_rclause_next(&c, a->code, &done))
            s_clause_row(&b, &done, l);
        const kc_totals_t *ra = &r->prev.row[a->id], *rb = &r->cur.row[a->id];
        snprintf(title, sizeof title, "%s %s", a->code, kc_label_activity(a, l));
        for (int m = 0; m < KC_METRIC_COUNT; m++) {
            if (!ra->m[m] && !rb->m[m])
                continue;
            s_row(&b);
            s_text(&b, 0, title);
            s_text(&b, 1, kc_label_metric(m, l));
            if (ra->m[m])
                s_int(&b, 2, ra->m[m]);
            if (rb->m[m])
                s_int(&b, 3, rb->m[m]);
        }
        kc_rclause_add(&c, a->code, ra, rb);
    }
    s_clause_row(&b, &c, l);
    t->width[0] = 44;
    t->width[1] = 22;
    t->width[2] = t->width[3] = 20;
    return b.err;
}

/* ---- provinces ---- */

/* Starts row i of a province table: row n_prov is the totals row. Returns
 * the province (or the totals). */
static const kc_report_prov_t *s_prov_row(s_build_t *b, const kc_report_t *r, size_t i)
{
    s_row(b);
    if (i == r->n_prov) {
        s_text(b, 1, r->q.lang == KC_LANG_VI ? "Tổng cộng" : "Total");
        return &r->total;
    }
    char code[16];
    snprintf(code, sizeof code, "%02d", r->prov[i].code);
    s_text(b, 0, code);
    s_text(b, 1, r->prov[i].name);
    return &r->prov[i];
}

static int s_provinces(const kc_report_t *r, kc_rtab_t *t)
{
    bool vi = r->q.lang == KC_LANG_VI;
    s_build_t b;
    int rc = s_begin(&b, t, 10, 2);
    if (rc)
        return rc;
    char pb[64], pa[64], ps[64], s[128];
    kc_report_periods(r, pa, pb, ps, sizeof pa);
    t->id = KC_REPORT_T_PROVINCES;
    t->key = "provinces";
    snprintf(t->title, sizeof t->title,
             vi ? "Kinh phí theo tỉnh, thành: %s" : "Spending by province: %s", pb);
    snprintf(t->sheet, sizeof t->sheet, "%s", vi ? "Tỉnh, thành" : "Provinces");
    s_head(&b, 0, vi ? "Mã" : "Code");
    s_head(&b, 1, vi ? "Tỉnh, thành" : "Province");
    s_head(&b, 2, "KCQG");
    s_head(&b, 3, "KCĐP");
    s_head(&b, 4, vi ? "Nguồn khác" : "Other funds");
    s_head(&b, 5, vi ? "Tổng kinh phí" : "Spending");
    snprintf(s, sizeof s, vi ? "Kế hoạch năm %d" : "Plan %d", r->q.year);
    s_head(&b, 6, s);
    s_head(&b, 7, vi ? "% kế hoạch" : "% of plan");
    s_head(&b, 8, vi ? "Số báo cáo" : "Reports");
    s_head(&b, 9, vi ? "Báo cáo gần nhất" : "Last report");
    for (size_t i = 0; i <= r->n_prov; i++) {
        const kc_report_prov_t *p = s_prov_row(&b, r, i);
        for (int k = 0; k < 3; k++)
            s_int(&b, 2 + (size_t)k, p->fund[k]);
        s_int(&b, 5, p->spend);
        s_int(&b, 6, p->plan);
        s_ratio(&b, 7, KC_RC_PCT, p->spend, p->plan);
        s_int(&b, 8, p->events);
        s_time(&b, 9, p->last_report_ns);
    }
    t->has_total = true;
    t->width[0] = 6;
    t->width[1] = 20;
    for (size_t c = 2; c < 7; c++)
        t->width[c] = 17;
    t->width[7] = 10;
    t->width[8] = 10;
    t->width[9] = 21;
    return b.err;
}

/* ---- province x activity ---- */

static int s_matrix(const kc_report_t *r, kc_rtab_t *t)
{
    bool vi = r->q.lang == KC_LANG_VI;
    size_t n_act = kc_ref_activity_count(), cols[256], nc = 0;
    for (size_t i = 0; i < n_act && nc < 256; i++)
        if (r->total.act[i] != 0)
            cols[nc++] = i;
    s_build_t b;
    int rc = s_begin(&b, t, nc + 3, 2);
    if (rc)
        return rc;
    char pa[64], pb[64], ps[64];
    kc_report_periods(r, pa, pb, ps, sizeof pa);
    t->id = KC_REPORT_T_ACTIVITIES;
    t->key = "activities";
    snprintf(t->title, sizeof t->title,
             vi ? "Kinh phí theo tỉnh, thành và hoạt động: %s"
                : "Spending by province and activity: %s",
             pb);
    snprintf(t->sheet, sizeof t->sheet, "%s", vi ? "Tỉnh x hoạt động" : "Province x activity");
    s_head(&b, 0, vi ? "Mã" : "Code");
    s_head(&b, 1, vi ? "Tỉnh, thành" : "Province");
    for (size_t j = 0; j < nc; j++)
        s_head(&b, 2 + j, kc_ref_activity_at(cols[j])->code);
    s_head(&b, nc + 2, vi ? "Tổng kinh phí" : "Spending");
    for (size_t i = 0; i <= r->n_prov; i++) {
        const kc_report_prov_t *p = s_prov_row(&b, r, i);
        for (size_t j = 0; j < nc; j++)
            s_int(&b, 2 + j, p->act[cols[j]]);
        s_int(&b, nc + 2, p->spend);
    }
    t->has_total = true;
    t->width[0] = 6;
    t->width[1] = 20;
    for (size_t c = 2; c < nc + 3; c++)
        t->width[c] = 16;
    return b.err;
}

int kc_rtabs_build(const kc_report_t *r, const kc_report_opts_t *o, kc_rtab_t **tabs, size_t *n)
{
    *tabs = calloc(3, sizeof **tabs);
    *n = 0;
    if (!*tabs)
        return KC_ENOMEM;
    static int (*const fn[])(const kc_report_t *, kc_rtab_t *) = {s_summary, s_provinces, s_matrix};
    static const kc_report_table_t id[] = {KC_REPORT_T_SUMMARY, KC_REPORT_T_PROVINCES,
                                           KC_REPORT_T_ACTIVITIES};
    for (size_t i = 0; i < 3; i++) {
        if (o->table != KC_REPORT_T_ALL && o->table != id[i])
            continue;
        int rc = fn[i](r, &(*tabs)[*n]);
        (*n)++;
        if (rc) {
            kc_rtabs_free(*tabs, *n);
            *tabs = NULL;
            *n = 0;
            return rc;
        }
    }
    return 0;
}

void kc_rtabs_free(kc_rtab_t *tabs, size_t n)
{
    for (size_t i = 0; tabs && i < n; i++) {
        kc_rtab_t *t = &tabs[i];
        for (size_t c = 0; t->head && c < t->ncols; c++)
            free(t->head[c]);
        for (size_t k = 0; t->cell && k < t->nrows * t->ncols; k++)
            free(t->cell[k].s);
        free(t->head);
        free(t->cell);
        free(t->width);
    }
    free(tabs);
}

int kc_rdoc_build(const kc_report_t *r, const kc_report_opts_t *o, kc_rdoc_t *d)
{
    memset(d, 0, sizeof *d);
    int rc = kc_rtabs_build(r, o, &d->tabs, &d->n);
    if (rc)
        return rc;
    d->nhead = kc_rhead_build(r, o->now_ns, d->head, KC_RHEAD_MAX);
    kc_report_title(r, d->title, sizeof d->title);
    return 0;
}

void kc_rdoc_free(kc_rdoc_t *d)
{
    kc_rtabs_free(d->tabs, d->n);
    d->tabs = NULL;
    d->n = 0;
}

/* ---- title, header block, cells ---- */

char *kc_report_title(const kc_report_t *r, char *buf, size_t cap)
{
    bool vi = r->q.lang == KC_LANG_VI;
    char pa[64], pb[64], ps[64];
    kc_report_periods(r, pa, pb, ps, sizeof pa);
    size_t len = (size_t)snprintf(buf, cap, "%s",
                                  vi ? "KẾT QUẢ HOẠT ĐỘNG KHUYẾN CÔNG"
                                     : "KHUYEN CONG (INDUSTRIAL PROMOTION) RESULTS");
    const char *sep = vi ? " " : ", ";
    for (size_t i = 0; len < cap && i < r->q.f.n_regions; i++, sep = ", ")
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", sep,
                                kc_label_region(r->q.f.regions[i], r->q.lang));
    for (size_t i = 0; len < cap && i < r->q.f.n_provinces; i++, sep = ", ") {
        int sch = r->q.f.units == 34 ? 34 : kc_ref_scheme_for(r->q.year * 100 + r->q.m_from);
        const kc_province_t *pr = kc_ref_province(sch, r->q.f.provinces[i]);
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", sep, pr ? pr->name : "?");
    }
    if (len < cap)
        snprintf(buf + len, cap - len, vi ? ": %s và %s" : ": %s and %s", pa, pb);
    return buf;
}

static void s_line(kc_rhead_t *out, size_t max, size_t *n, const char *label, const char *value)
{
    if (*n >= max)
        return;
    snprintf(out[*n].label, sizeof out[*n].label, "%s", label);
    snprintf(out[*n].value, sizeof out[*n].value, "%s", value);
    (*n)++;
}

static const char *s_fmt_time(char *buf, size_t cap, uint64_t ns)
{
    time_t s = (time_t)(ns / 1000000000u);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(buf, cap, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

size_t kc_rhead_build(const kc_report_t *r, uint64_t now_ns, kc_rhead_t *out, size_t max)
{
    bool vi = r->q.lang == KC_LANG_VI;
    size_t n = 0;
    char v[320], t[64], places[256];
    if (!now_ns) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        now_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
    }
    size_t len = 0;
    places[0] = '\0';
    for (size_t i = 0; len < sizeof places && i < r->q.f.n_regions; i++)
        len += (size_t)snprintf(places + len, sizeof places - len, "%s%s", len ? ", " : "",
                                r->q.f.regions[i]);
    for (size_t i = 0; len < sizeof places && i < r->q.f.n_provinces; i++)
        len += (size_t)snprintf(places + len, sizeof places - len, "%s%02u", len ? ", " : "",
                                r->q.f.provinces[i]);
    s_line(out, max, &n, vi ? "Báo cáo" : "Report", kc_report_title(r, v, sizeof v));
    snprintf(v, sizeof v,
             vi ? "khu vực/tỉnh %s; năm %d, tháng %d-%d; đơn vị %s; ngôn ngữ vi"
                : "region/province %s; year %d, months %d-%d; units %s; language en",
             places, r->q.year, r->q.m_from, r->q.m_to, r->q.f.units == 34 ? "34" : "63");
    s_line(out, max, &n, vi ? "Truy vấn" : "Query", v);
    s_line(out, max, &n, vi ? "Lập lúc" : "Generated", s_fmt_time(t, sizeof t, now_ns));
    snprintf(v, sizeof v, vi ? "%llu mục" : "%llu entries", (unsigned long long)r->log_size);
    s_line(out, max, &n, vi ? "Nhật ký đọc tại" : "Log size read", v);
    if (r->have_head)
        snprintf(
            v, sizeof v, vi ? "%llu mục, gốc %s, ký lúc %s" : "%llu entries, root %s, signed %s",
            (unsigned long long)r->head_size, r->head_root, s_fmt_time(t, sizeof t, r->head_ns));
    else
        snprintf(v, sizeof v, "%s", vi ? "chưa có" : "none yet");
    s_line(out, max, &n, vi ? "Đầu cây đã ký" : "Signed tree head", v);
    s_line(out, max, &n, vi ? "Đơn vị tiền" : "Money",
           vi ? "đồng (số nguyên, chính xác)" : "whole đồng (exact integers)");
    return n;
}

const char *kc_rcell_show(const kc_rcell_t *c, kc_lang_t lang, char *buf, size_t cap)
{
    switch (c->t) {
    case KC_RC_TEXT: return c->s;
    case KC_RC_INT: return kc_fmt_count(buf, cap, c->v, lang);
    case KC_RC_PCT: return kc_fmt_percent(buf, cap, c->v, c->den, lang);
    case KC_RC_CHG: return kc_fmt_change(buf, cap, c->v, c->den, lang);
    case KC_RC_TIME: return s_fmt_time(buf, cap, c->ns);
    default: return "";
    }
}

const char *kc_rcell_plain(const kc_rcell_t *c, char *buf, size_t cap)
{
    switch (c->t) {
    case KC_RC_TEXT: return c->s;
    case KC_RC_INT: return kc_i128_str(buf, cap, c->v);
    case KC_RC_PCT:
    case KC_RC_CHG: {
        if (c->den == 0)
            return "";
        char tmp[KC_FMT_BUF];
        const char *s = c->t == KC_RC_PCT
                            ? kc_fmt_percent(tmp, sizeof tmp, c->v, c->den, KC_LANG_EN)
                            : kc_fmt_change(tmp, sizeof tmp, c->v, c->den, KC_LANG_EN);
        /* "79.6%" -> "79.6", "+1,234.5%" -> "+1234.5" */
        size_t j = 0;
        for (size_t i = 0; s[i] && j + 1 < cap; i++)
            if (s[i] != ',' && s[i] != '%')
                buf[j++] = s[i];
        buf[j] = '\0';
        return strcmp(buf, "—") == 0 ? "" : buf;
    }
    case KC_RC_TIME: return kc_qry_fmt_time(buf, cap, c->ns);
    default: return "";
    }
}
