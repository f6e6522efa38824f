/* kc_report.c - the report's model from one read snapshot (kc_report.h).
 *
 * DESIGN
 * kc_report_build reads, inside the caller's one read transaction:
 *   - the summary sums of kc-report (previous year, plans, the period, the
 *     same months of the previous year, by activity; TV by province), as
 *     kc-report always computed them;
 *   - by province for Y months A-B: spending of each fund (three sums with a
 *     fund filter), every fund, the events, and the plan of Y; then one sum
 *     per activity for the province x activity table;
 *   - each province row's last report from the units table: the unit itself
 *     and, with units 34, the scheme-63 provinces merged into it (as
 *     /v1/provinces?scheme=34 counts them);
 *   - the log size and the latest signed head of the same snapshot.
 * Province rows are the rows any of these sums used, in row order (scheme-63
 * codes, then scheme-34 codes), so the table lists every unit that reported
 * or was planned in the period.
 */
#include "kc_report.h"

#include "kc_audit.h"
#include "kc_err.h"
#include "kc_merkle.h"
#include "kc_report_int.h"

#include <stdlib.h>
#include <string.h>

int kc_report_query_check(const kc_report_query_t *q, char *err, size_t cap)
{
    if (!q->year) {
        snprintf(err, cap, "a year is required");
        return KC_EINVAL;
    }
    if (q->year < 2001 || q->year > 2100) {
        snprintf(err, cap, "the year must be 2001..2100, not %d", q->year);
        return KC_EINVAL;
    }
    if (q->m_from < 1 || q->m_to > 12 || q->m_from > q->m_to) {
        snprintf(err, cap, "months must be A-B with 1 <= A <= B <= 12");
        return KC_EINVAL;
    }
    if (q->f.n_regions == 0 && q->f.n_provinces == 0) {
        snprintf(err, cap, "a region (or province) is required");
        return KC_EINVAL;
    }
    if (q->f.units != 0 && q->f.units != 34) {
        snprintf(err, cap, "units must be 63 or 34");
        return KC_EINVAL;
    }
    return 0;
}

static int s_summary(kc_txn_t *txn, const kc_report_query_t *q, kc_report_t *d)
{
    int y = q->year, p = q->year - 1;
    kc_cells_filter_t f = q->f;
    f.by = KC_BY_ACTIVITY;
    int rc = kc_cells_sum(txn, &f, p, 1, 12, 1, &d->prev);
    if (!rc)
        rc = kc_cells_sum(txn, &f, p, 1, 12, 2, &d->prev_plan);
    if (!rc)
        rc = kc_cells_sum(txn, &f, y, q->m_from, q->m_to, 1, &d->cur);
    if (!rc)
        rc = kc_cells_sum(txn, &f, y, 1, 12, 2, &d->cur_plan);
    if (!rc)
        rc = kc_cells_sum(txn, &f, p, q->m_from, q->m_to, 1, &d->same);
    const kc_activity_t *tv = kc_ref_activity_by_code("TV");
    if (tv) {
        kc_cells_filter_t t = q->f;
        t.by = KC_BY_PROVINCE;
        t.activity[tv->id] = true;
        if (!rc)
            rc = kc_cells_sum(txn, &t, p, 1, 12, 1, &d->tv[0]);
        if (!rc)
            rc = kc_cells_sum(txn, &t, p, 1, 12, 2, &d->tv[1]);
        if (!rc)
            rc = kc_cells_sum(txn, &t, y, q->m_from, q->m_to, 1, &d->tv[2]);
        if (!rc)
            rc = kc_cells_sum(txn, &t, y, 1, 12, 2, &d->tv[3]);
    }
    return rc;
}

/* Adds unit's state to *last (the later report) and *events (NULL: not
 * counted); a unit never reported adds nothing. */
static int s_unit_add(kc_txn_t *txn, uint8_t unit, uint64_t *last, uint64_t *events)
{
    kc_unit_state_t st;
    int rc = kc_txn_unit_get(txn, unit, &st);
    if (rc == KC_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    if (st.last_report_ns > *last)
        *last = st.last_report_ns;
    if (events)
        *events += st.events;
    return 0;
}

int kc_report_unit_reports(kc_txn_t *txn, int scheme, int code, bool merged, uint64_t *last,
                           uint64_t *events)
{
    int rc = s_unit_add(txn, kc_ref_unit_in(scheme, code), last, events);
    for (size_t j = 0; rc == 0 && merged && scheme == 34 && j < kc_ref_province_count(); j++) {
        const kc_province_t *o = kc_ref_province_at(j);
        if (o->scheme == 63 && o->successor == code)
            rc = s_unit_add(txn, kc_ref_unit_in(63, o->code), last, events);
    }
    return rc;
}

/* The per-province rows: a scratch of KC_CELLS_ROWS results is too big for
 * the stack, so one result is reused for every sum. */
static int s_provinces(kc_txn_t *txn, const kc_report_query_t *q, kc_report_t *d)
{
    const int A = KC_M_AMOUNT_VND;
    size_t n_act = kc_ref_activity_count();
    kc_cells_result_t *res = malloc(sizeof *res);
    kc_i128(*vals)[5] = calloc(KC_CELLS_ROWS, sizeof *vals); /* fund 1..3, spend, plan */
    kc_i128 *events = calloc(KC_CELLS_ROWS, sizeof *events);
    kc_i128 *act = calloc((size_t)KC_CELLS_ROWS * (n_act ? n_act : 1), sizeof *act);
    bool used[KC_CELLS_ROWS] = {false};
    int rc = res && vals && events && act ? 0 : KC_ENOMEM;
    kc_cells_filter_t f = q->f;
    f.by = KC_BY_PROVINCE;
    for (int k = 0; rc == 0 && k < 5; k++) {
        kc_cells_filter_t g = f;
        if (k < 3)
            g.fund[k + 1] = true;
        rc = kc_cells_sum(txn, &g, q->year, k == 4 ? 1 : q->m_from, k == 4 ? 12 : q->m_to,
                          k == 4 ? 2 : 1, res);
        for (int r = 0; rc == 0 && r < KC_CELLS_ROWS; r++) {
            if (!res->used[r])
                continue;
            used[r] = true;
            vals[r][k] = res->row[r].m[A];
            if (k == 3)
                events[r] = res->row[r].events;
        }
    }
    for (size_t i = 0; rc == 0 && i < n_act; i++) {
        kc_cells_filter_t g = f;
        g.activity[kc_ref_activity_at(i)->id] = true;
        rc = kc_cells_sum(txn, &g, q->year, q->m_from, q->m_to, 1, res);
        for (int r = 0; rc == 0 && r < KC_CELLS_ROWS; r++)
            if (res->used[r])
                act[(size_t)r * n_act + i] = res->row[r].m[A];
    }
    size_t n = 0;
    for (int r = 0; r < KC_CELLS_ROWS; r++)
        n += used[r];
    if (rc == 0) {
        d->prov = calloc(n ? n : 1, sizeof *d->prov);
        d->total.act = calloc(n_act ? n_act : 1, sizeof *d->total.act);
        if (!d->prov || !d->total.act)
            rc = KC_ENOMEM;
    }
    for (int r = 0; rc == 0 && r < KC_CELLS_ROWS; r++) {
        int scheme, code;
        if (!used[r] || kc_cells_province_of_row(r, &scheme, &code) != 0)
            continue;
        kc_report_prov_t *p = &d->prov[d->n_prov];
        p->act = calloc(n_act ? n_act : 1, sizeof *p->act);
        if (!p->act) {
            rc = KC_ENOMEM;
            break;
        }
        d->n_prov++;
        p->scheme = scheme;
        p->code = code;
        const kc_province_t *pr = kc_ref_province(scheme, code);
        p->name = pr ? pr->name : "?";
        for (int k = 0; k < 3; k++) {
            p->fund[k] = vals[r][k];
            d->total.fund[k] += vals[r][k];
        }
        p->spend = vals[r][3];
        p->plan = vals[r][4];
        p->events = events[r];
        d->total.spend += p->spend;
        d->total.plan += p->plan;
        d->total.events += p->events;
        for (size_t i = 0; i < n_act; i++) {
            p->act[i] = act[(size_t)r * n_act + i];
            d->total.act[i] += p->act[i];
        }
        rc = kc_report_unit_reports(txn, scheme, code, q->f.units == 34, &p->last_report_ns, NULL);
        if (p->last_report_ns > d->total.last_report_ns)
            d->total.last_report_ns = p->last_report_ns;
    }
    free(res);
    free(vals);
    free(events);
    free(act);
    return rc;
}

int kc_report_build(kc_txn_t *txn, const kc_report_query_t *q, kc_report_t **out)
{
    char err[160];
    *out = NULL;
    if (!txn || kc_report_query_check(q, err, sizeof err) != 0)
        return KC_EINVAL;
    kc_report_t *d = calloc(1, sizeof *d);
    if (!d)
        return KC_ENOMEM;
    d->q = *q;
    d->q.store_label = NULL;
    if (q->store_label && !(d->q.store_label = strdup(q->store_label))) {
        free(d);
        return KC_ENOMEM;
    }
    int rc = kc_txn_log_size(txn, &d->log_size);
    kc_merkle_sth_t sth;
    if (rc == 0) {
        int hr = kc_txn_head_last(txn, &sth);
        if (hr == 0) {
            d->have_head = true;
            d->head_size = sth.tree_size;
            d->head_ns = sth.timestamp_ns;
            kc_merkle_hex(sth.root, sizeof sth.root, d->head_root);
        } else if (hr != KC_ENOTFOUND) {
            rc = hr;
        }
    }
    if (rc == 0)
        rc = s_summary(txn, q, d);
    if (rc == 0)
        rc = s_provinces(txn, q, d);
    if (rc != 0) {
        kc_report_free(&d);
        return rc;
    }
    *out = d;
    return 0;
}

void kc_report_free(kc_report_t **rp)
{
    if (!rp || !*rp)
        return;
    kc_report_t *r = *rp;
    for (size_t i = 0; i < r->n_prov; i++)
        free(r->prov[i].act);
    free(r->prov);
    free(r->total.act);
    free((char *)r->q.store_label);
    free(r);
    *rp = NULL;
}

int kc_report_render(const kc_report_t *r, kc_report_format_t fmt, const kc_report_opts_t *o,
                     FILE *out)
{
    kc_report_opts_t def = {0};
    if (!o)
        o = &def;
    if (!r || !out)
        return KC_EINVAL;
    int rc;
    switch (fmt) {
    case KC_REPORT_TEXT: rc = kc_report_text(r, o, out); break;
    case KC_REPORT_CSV: rc = kc_report_csv(r, o, out); break;
    case KC_REPORT_HTML: rc = kc_report_html(r, o, out); break;
    case KC_REPORT_XLSX: rc = kc_report_xlsx(r, o, out); break;
    case KC_REPORT_PDF: rc = kc_report_pdf(r, o, out); break;
    default: return KC_EINVAL;
    }
    if (rc == 0 && (fflush(out) != 0 || ferror(out)))
        rc = KC_EIO;
    return rc;
}

static const struct {
    const char *name, *ext, *mime;
    bool binary;
} s_formats[] = {
    [KC_REPORT_TEXT] = {"text", "txt", "text/plain; charset=utf-8", false},
    [KC_REPORT_CSV] = {"csv", "csv", "text/csv; charset=utf-8", false},
    [KC_REPORT_HTML] = {"html", "html", "text/html; charset=utf-8", false},
    [KC_REPORT_XLSX] = {"xlsx", "xlsx",
                        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", true},
    [KC_REPORT_PDF] = {"pdf", "pdf", "application/pdf", true},
};

int kc_report_format_parse(const char *s, kc_report_format_t *out)
{
    for (size_t i = 0; s && i < sizeof s_formats / sizeof *s_formats; i++)
        if (strcmp(s, s_formats[i].name) == 0) {
            *out = (kc_report_format_t)i;
            return 0;
        }
    return KC_EINVAL;
}

int kc_report_table_parse(const char *s, kc_report_table_t *out)
{
    static const char *const names[] = {"all", "summary", "provinces", "activities"};
    for (size_t i = 0; s && i < sizeof names / sizeof *names; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (kc_report_table_t)i;
            return 0;
        }
    return KC_EINVAL;
}

const char *kc_report_format_ext(kc_report_format_t fmt)
{
    return (unsigned)fmt < sizeof s_formats / sizeof *s_formats ? s_formats[fmt].ext : "bin";
}

const char *kc_report_format_mime(kc_report_format_t fmt)
{
    return (unsigned)fmt < sizeof s_formats / sizeof *s_formats ? s_formats[fmt].mime
                                                                : "application/octet-stream";
}

bool kc_report_format_binary(kc_report_format_t fmt)
{
    return (unsigned)fmt < sizeof s_formats / sizeof *s_formats && s_formats[fmt].binary;
}
