/* kc_cycle.c - the reporting cycle's read side (kc_cycle.h, docs/CYCLE.md).
 *
 * DESIGN
 * The index is, per unit key (0..255), a lazily allocated array of one slot
 * per period of KC_YEAR_MIN..KC_YEAR_MAX (101 x 12 slots of 24 bytes, about
 * 29 KB a unit that reported; ~100 units in practice): the first counted
 * entry's offset + 1 (0 = none) and received_ns, written once; and the
 * first and last of the period's cycle entries (index + 1 into one array of
 * all of them, chained in log order), each with its offset and the
 * kc_period_state_t after it.
 * The update scans the log from the first entry not yet indexed, decoding
 * each Event with the fast decoder (kc_wire.h); a correction without kind
 * reads its identity (and, for an identity without a kind, its target's
 * Event along `prev`) with a second decoder.
 */
#include "kc_cycle.h"

#include "kc_checkpoint.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_json.h"
#include "kc_period.h"
#include "kc_time.h"
#include "kc_wire.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_YEARS   (KC_YEAR_MAX - KC_YEAR_MIN + 1)
#define S_PERIODS (S_YEARS * 12)
#define S_UTC7    (7 * 3600) /* Vietnam: UTC+7, no daylight saving */
#define S_CHAIN   1000       /* longest correction chain followed for a kind */

typedef struct {
    uint64_t offset1;       /* first counted entry's offset + 1; 0 = none */
    uint64_t ns;            /* its received_ns */
    uint32_t cyc1, cyclast; /* first and last cycle entry (index into cyc + 1); 0 = none */
} s_slot_t;

/* A cycle entry of the log: the state of its unit and period after it. */
typedef struct {
    uint64_t offset;
    kc_period_state_t st;
    uint32_t next1; /* the period's next cycle entry + 1; 0 = none */
} s_cyc_t;

struct kc_cycle_index {
    pthread_mutex_t mu;
    uint64_t size; /* entries indexed: 0..size-1 */
    s_slot_t *unit[256];
    s_cyc_t *cyc; /* every cycle entry, in log order */
    size_t ncyc, capcyc;
    kc_wire_decoder_t *dec, *dec2;
};

const char *kc_cycle_state_name(int state)
{
    switch (state) {
    case KC_CYCLE_ON_TIME: return "on_time";
    case KC_CYCLE_LATE: return "late";
    case KC_CYCLE_MISSING: return "missing";
    case KC_CYCLE_NOT_DUE: return "not_due";
    default: return "none";
    }
}

/* ---- deadlines ---- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t s_days(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The due day: the month's last day + days, as days since the epoch. */
static int64_t s_due(int year, int month, int days)
{
    int64_t first_next = month == 12 ? s_days(year + 1, 1, 1) : s_days(year, month + 1, 1);
    return first_next - 1 + days;
}

uint64_t kc_cycle_deadline_ns(int year, int month, int days)
{
    int64_t next_midnight_utc = (s_due(year, month, days) + 1) * 86400 - S_UTC7;
    return (uint64_t)next_midnight_utc * 1000000000u - 1;
}

char *kc_cycle_due_day(char *buf, size_t cap, int year, int month, int days)
{
    /* civil_from_days (H. Hinnant) */
    int64_t z = s_due(year, month, days) + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    int64_t y = yoe + era * 400 + (m <= 2);
    snprintf(buf, cap, "%04d-%02d-%02d", (int)y, m, d);
    return buf;
}

/* ---- the index ---- */

kc_cycle_index_t *kc_cycle_index_new(void)
{
    kc_cycle_index_t *ix = calloc(1, sizeof *ix);
    if (!ix)
        return NULL;
    if (kc_wire_decoder_new(&ix->dec) != 0 || kc_wire_decoder_new(&ix->dec2) != 0) {
        kc_wire_decoder_free(&ix->dec);
        free(ix);
        return NULL;
    }
    pthread_mutex_init(&ix->mu, NULL);
    return ix;
}

void kc_cycle_index_free(kc_cycle_index_t **ixp)
{
    if (!ixp || !*ixp)
        return;
    kc_cycle_index_t *ix = *ixp;
    for (int i = 0; i < 256; i++)
        free(ix->unit[i]);
    free(ix->cyc);
    kc_wire_decoder_free(&ix->dec);
    kc_wire_decoder_free(&ix->dec2);
    pthread_mutex_destroy(&ix->mu);
    free(ix);
    *ixp = NULL;
}

uint64_t kc_cycle_index_size(kc_cycle_index_t *ix)
{
    pthread_mutex_lock(&ix->mu);
    uint64_t n = ix->size;
    pthread_mutex_unlock(&ix->mu);
    return n;
}

/* What the index needs of one Event. */
typedef struct {
    int op;         /* KCPIPE__V1__OP__* */
    int kind;       /* 0 = not given */
    int code;       /* province code, -1 if none */
    int32_t yyyymm; /* 0 if no valid period */
    char event_id[KC_EVENT_ID_MAX + 1];
    size_t event_id_len;
    size_t note_len; /* a reopen's reason */
} s_ev_t;

static int s_peek(kc_wire_decoder_t *dec, const uint8_t *data, size_t len, s_ev_t *out)
{
    const kc_pb_event_t *ev;
    if (kc_wire_decode(dec, data, len, &ev) != 0)
        return KC_EFORMAT;
    memset(out, 0, sizeof *out);
    out->op = ev->has_op ? (int)ev->op : KCPIPE__V1__OP__OP_RECORD;
    out->kind = ev->has_kind ? (int)ev->kind : 0;
    out->code = ev->province ? kc_ref_parse_code(ev->province) : -1;
    if (ev->has_year && ev->has_month && ev->year >= KC_YEAR_MIN && ev->year <= KC_YEAR_MAX &&
        ev->month >= 1 && ev->month <= 12)
        out->yyyymm = (int32_t)(ev->year * 100 + ev->month);
    size_t n = ev->event_id ? strlen(ev->event_id) : 0;
    if (n > KC_EVENT_ID_MAX)
        n = KC_EVENT_ID_MAX;
    memcpy(out->event_id, ev->event_id ? ev->event_id : "", n);
    out->event_id_len = n;
    out->note_len = ev->note ? strlen(ev->note) : 0;
    return 0;
}

/* The effective kind of a correction without kind (kc_cycle.h, DESIGN). */
static int s_correction_kind(kc_cycle_index_t *ix, kc_txn_t *txn, s_ev_t cur, int *kind)
{
    for (int hop = 0; hop < S_CHAIN; hop++) {
        if (cur.kind) {
            *kind = cur.kind;
            return 0;
        }
        if (cur.op == KCPIPE__V1__OP__OP_RECORD) {
            *kind = KCPIPE__V1__KIND__KIND_ACTUAL;
            return 0;
        }
        if (cur.code < 1 || !cur.yyyymm)
            return KC_EFORMAT;
        kc_identity_t id;
        int rc = kc_txn_identity_get(txn, kc_ref_unit_key(cur.code, cur.yyyymm), cur.event_id,
                                     cur.event_id_len, &id);
        if (rc != 0)
            return rc == KC_ENOTFOUND ? KC_EFORMAT : rc;
        if (id.kind) {
            *kind = id.kind;
            return 0;
        }
        if (!id.prev_unit)
            return KC_EFORMAT;
        kc_log_entry_t e;
        if ((rc = kc_txn_log_get(txn, id.prev, &e)) != 0)
            return rc == KC_ENOTFOUND ? KC_EFORMAT : rc;
        if ((rc = s_peek(ix->dec2, e.event, e.event_len, &cur)) != 0)
            return rc;
    }
    return KC_EFORMAT;
}

typedef struct {
    kc_cycle_index_t *ix;
    kc_txn_t *txn;
} s_upd_t;

static s_slot_t *s_slot_w(kc_cycle_index_t *ix, uint8_t unit, int32_t yyyymm)
{
    if (!ix->unit[unit] && !(ix->unit[unit] = calloc(S_PERIODS, sizeof(s_slot_t))))
        return NULL;
    return &ix->unit[unit][(yyyymm / 100 - KC_YEAR_MIN) * 12 + yyyymm % 100 - 1];
}

/* A cycle entry: its period's state after it, by kc-replay's rules (DESIGN). */
static int s_index_cycle(kc_cycle_index_t *ix, const s_ev_t *ev, const kc_log_entry_t *e)
{
    if (ev->code < 1 || !ev->yyyymm)
        return 0;
    s_slot_t *s = s_slot_w(ix, kc_ref_unit_key(ev->code, ev->yyyymm), ev->yyyymm);
    if (!s)
        return KC_ENOMEM;
    kc_period_state_t cur = {0}, next;
    if (s->cyclast)
        cur = ix->cyc[s->cyclast - 1].st;
    char text[256];
    int reason =
        kc_period_replay(&cur, (uint8_t)ev->op, (uint8_t)ev->code, ev->yyyymm, ev->note_len,
                         e->offset, e->received_ns, &next, text, sizeof text);
    if (reason < 0)
        return reason;
    if (reason != KCPIPE__V1__REASON__REASON_OK)
        return 0; /* refused by the rules: changes nothing (kc-replay verify reports it) */
    if (ix->ncyc == ix->capcyc) {
        size_t cap = ix->capcyc ? 2 * ix->capcyc : 64;
        s_cyc_t *a = cap < UINT32_MAX ? realloc(ix->cyc, cap * sizeof *a) : NULL;
        if (!a)
            return KC_ENOMEM;
        ix->cyc = a;
        ix->capcyc = cap;
    }
    ix->cyc[ix->ncyc] = (s_cyc_t){.offset = e->offset, .st = next};
    uint32_t i1 = (uint32_t)++ix->ncyc;
    if (s->cyclast)
        ix->cyc[s->cyclast - 1].next1 = i1;
    else
        s->cyc1 = i1;
    s->cyclast = i1;
    return 0;
}

static int s_index_one(s_upd_t *u, const kc_log_entry_t *e)
{
    kc_cycle_index_t *ix = u->ix;
    s_ev_t ev;
    int rc = s_peek(ix->dec, e->event, e->event_len, &ev);
    if (rc != 0)
        return rc;
    if (kc_op_is_cycle(ev.op))
        return s_index_cycle(ix, &ev, e);
    if (ev.op != KCPIPE__V1__OP__OP_RECORD && ev.op != KCPIPE__V1__OP__OP_CORRECTION)
        return 0; /* retractions, and any later op: never a report */
    if (ev.code < 1 || !ev.yyyymm)
        return 0;
    int kind = ev.kind;
    if (!kind && ev.op == KCPIPE__V1__OP__OP_RECORD)
        kind = KCPIPE__V1__KIND__KIND_ACTUAL;
    if (!kind && (rc = s_correction_kind(ix, u->txn, ev, &kind)) != 0)
        return rc;
    if (kind != KCPIPE__V1__KIND__KIND_ACTUAL)
        return 0;
    s_slot_t *s = s_slot_w(ix, kc_ref_unit_key(ev.code, ev.yyyymm), ev.yyyymm);
    if (!s)
        return KC_ENOMEM;
    if (!s->offset1) {
        s->offset1 = e->offset + 1;
        s->ns = e->received_ns;
    }
    return 0;
}

static int s_index_entry(const kc_log_entry_t *e, void *ctx)
{
    s_upd_t *u = ctx;
    int rc = s_index_one(u, e);
    if (rc == 0)
        u->ix->size = e->offset + 1; /* a failed entry is read again by the next update */
    return rc;
}

int kc_cycle_index_update(kc_cycle_index_t *ix, kc_txn_t *txn)
{
    if (!ix || !txn)
        return KC_EINVAL;
    pthread_mutex_lock(&ix->mu);
    s_upd_t u = {ix, txn};
    int rc = kc_txn_log_scan(txn, ix->size, s_index_entry, &u);
    pthread_mutex_unlock(&ix->mu);
    return rc;
}

/* ---- the table ---- */

static const s_slot_t *s_slot(const kc_cycle_index_t *ix, uint8_t unit, int32_t yyyymm)
{
    const s_slot_t *a = ix->unit[unit];
    return a ? &a[(yyyymm / 100 - KC_YEAR_MIN) * 12 + yyyymm % 100 - 1] : NULL;
}

/* One province's cell of one period (parts 1). */
static void s_judge(const kc_cycle_index_t *ix, const kc_cycle_query_t *q, int code, int32_t yyyymm,
                    uint64_t deadline, kc_cycle_cell_t *c)
{
    const s_slot_t *s = s_slot(ix, kc_ref_unit_key(code, yyyymm), yyyymm);
    memset(c, 0, sizeof *c);
    c->parts = 1;
    /* the cycle state over the first n entries: after the last cycle entry before n */
    const kc_period_state_t *st = NULL;
    for (uint32_t i1 = s ? s->cyc1 : 0; i1 && ix->cyc[i1 - 1].offset < q->n;
         i1 = ix->cyc[i1 - 1].next1)
        st = &ix->cyc[i1 - 1].st;
    if (st) {
        c->signed_off = st->signoffs && st->state != KC_PERIOD_OPEN &&
                        (!st->reopens || st->signoff_offset > st->reopen_offset);
        c->signed_off_ns = c->signed_off ? st->signoff_ns : 0;
        c->approved = st->state == KC_PERIOD_APPROVED;
        c->approved_ns = c->approved ? st->approval_ns : 0;
        c->reopened = st->reopens && st->state != KC_PERIOD_APPROVED;
        c->reopened_ns = c->reopened ? st->reopen_ns : 0;
    }
    if (s && s->offset1 && s->offset1 - 1 < q->n) {
        c->parts_reported = 1;
        c->reported_ns = s->ns;
        c->offset = s->offset1 - 1;
        c->state = s->ns <= deadline ? KC_CYCLE_ON_TIME : KC_CYCLE_LATE;
    } else {
        c->state = q->now_ns > deadline ? KC_CYCLE_MISSING : KC_CYCLE_NOT_DUE;
    }
}

/* The worse of two states (units 34 before the merger): missing, late,
 * not_due, on_time. */
static int s_rank(int state)
{
    switch (state) {
    case KC_CYCLE_MISSING: return 4;
    case KC_CYCLE_LATE: return 3;
    case KC_CYCLE_NOT_DUE: return 2;
    case KC_CYCLE_ON_TIME: return 1;
    default: return 0;
    }
}

/* kc_cells' place filter (kc_cells.c s_place_ok): the unit in the
 * provinces, or its region (a 34 unit before the merger: at the merger) in
 * the regions; no place filter passes all. */
static bool s_place_ok(const kc_cells_filter_t *f, int unit, int unit_scheme, int32_t yyyymm)
{
    if (f->n_provinces == 0 && f->n_regions == 0)
        return true;
    for (size_t i = 0; i < f->n_provinces; i++)
        if (f->provinces[i] == unit &&
            (!f->province_scheme[i] || f->province_scheme[i] == unit_scheme))
            return true;
    int32_t when = unit_scheme == 34 && yyyymm < KC_CELLS_MERGER ? KC_CELLS_MERGER : yyyymm;
    const char *region = kc_ref_region_of(unit, when);
    for (size_t i = 0; region && i < f->n_regions; i++)
        if (strcmp(f->regions[i], region) == 0)
            return true;
    return false;
}

static bool s_in_force(const kc_province_t *p, int32_t yyyymm)
{
    return p->scheme == kc_ref_scheme_for(yyyymm) && p->valid_from <= yyyymm &&
           yyyymm <= p->valid_to;
}

/* A cell of unit p (scheme 34) in a period before the merger: its parts. */
static bool s_merged(const kc_cycle_index_t *ix, const kc_cycle_query_t *q, const kc_province_t *p,
                     int32_t yyyymm, uint64_t deadline, kc_cycle_cell_t *c)
{
    memset(c, 0, sizeof *c);
    uint64_t latest = 0, latest_off = 0;
    int signed_off = 0, approved = 0;
    for (size_t i = 0; i < kc_ref_province_count(); i++) {
        const kc_province_t *o = kc_ref_province_at(i);
        if (o->scheme != 63 || o->successor != p->code || !s_in_force(o, yyyymm))
            continue;
        kc_cycle_cell_t one;
        s_judge(ix, q, o->code, yyyymm, deadline, &one);
        c->parts++;
        c->parts_reported += one.parts_reported;
        if (s_rank(one.state) > s_rank(c->state))
            c->state = one.state;
        if (one.reported_ns && one.reported_ns >= latest) {
            latest = one.reported_ns;
            latest_off = one.offset;
        }
        signed_off += one.signed_off;
        approved += one.approved;
        c->reopened |= one.reopened;
        if (one.signed_off_ns > c->signed_off_ns)
            c->signed_off_ns = one.signed_off_ns;
        if (one.approved_ns > c->approved_ns)
            c->approved_ns = one.approved_ns;
        if (one.reopened_ns > c->reopened_ns)
            c->reopened_ns = one.reopened_ns;
    }
    /* signed off (approved) when every part is; reopened when any is (kc_cycle.h) */
    c->signed_off = c->parts && signed_off == c->parts;
    c->approved = c->parts && approved == c->parts;
    if (!c->signed_off)
        c->signed_off_ns = 0;
    if (!c->approved)
        c->approved_ns = 0;
    if (c->parts && c->parts_reported == c->parts) {
        c->reported_ns = latest;
        c->offset = latest_off;
    }
    return c->parts > 0;
}

void kc_cycle_table_free(kc_cycle_table_t *t)
{
    if (!t)
        return;
    free(t->rows);
    t->rows = NULL;
    t->nrows = 0;
}

int kc_cycle_table(kc_cycle_index_t *ix, const kc_cycle_query_t *q, kc_cycle_table_t *out)
{
    if (!ix || !q || !out)
        return KC_EINVAL;
    memset(out, 0, sizeof *out);
    if (q->year < KC_YEAR_MIN || q->year > KC_YEAR_MAX || q->m_from < 1 || q->m_to > 12 ||
        q->m_from > q->m_to)
        return KC_EINVAL;
    out->year = q->year;
    out->m_from = q->m_from;
    out->m_to = q->m_to;
    out->units = q->f.units == 34 ? 34 : 63;
    out->now_ns = q->now_ns;
    out->n = q->n;
    for (int m = q->m_from; m <= q->m_to; m++) {
        out->days[m] = kc_ref_deadline_days(q->deadlines, q->year);
        out->deadline_ns[m] = kc_cycle_deadline_ns(q->year, m, out->days[m]);
    }
    size_t np = kc_ref_province_count();
    out->rows = calloc(np ? np : 1, sizeof *out->rows);
    if (!out->rows)
        return KC_ENOMEM;
    pthread_mutex_lock(&ix->mu);
    for (size_t i = 0; i < np; i++) {
        const kc_province_t *p = kc_ref_province_at(i);
        if (out->units == 34 && p->scheme != 34)
            continue;
        kc_cycle_row_t *row = &out->rows[out->nrows];
        bool any = false;
        for (int m = q->m_from; m <= q->m_to; m++) {
            int32_t ym = q->year * 100 + m;
            kc_cycle_cell_t *c = &row->month[m];
            if (out->units == 34 && ym < KC_CELLS_MERGER) {
                if (!s_place_ok(&q->f, p->code, 34, ym) ||
                    !s_merged(ix, q, p, ym, out->deadline_ns[m], c))
                    memset(c, 0, sizeof *c);
            } else if (s_in_force(p, ym) && s_place_ok(&q->f, p->code, p->scheme, ym)) {
                s_judge(ix, q, p->code, ym, out->deadline_ns[m], c);
            }
            any |= c->state != KC_CYCLE_NONE;
        }
        if (!any)
            continue;
        row->scheme = p->scheme;
        row->code = p->code;
        row->name = p->name;
        int32_t when = p->scheme == 34
                           ? (p->valid_from > KC_CELLS_MERGER ? p->valid_from : KC_CELLS_MERGER)
                           : p->valid_to;
        row->region = kc_ref_region_of(p->code, when);
        for (int m = q->m_from; m <= q->m_to; m++) {
            out->count[m][row->month[m].state]++;
            out->total[row->month[m].state]++;
        }
        out->nrows++;
    }
    pthread_mutex_unlock(&ix->mu);
    return 0;
}

/* ---- the front ends' shared part ---- */

int kc_cycle_check_opts(const kc_qry_opts_t *o, kc_qry_style_t style, char *err, size_t cap)
{
    bool url = style == KC_QRY_URL;
    const char *bad = NULL;
    bool any_act = false, any_fund = false;
    for (int i = 0; i < 256; i++)
        any_act |= o->f.activity[i];
    for (int i = 0; i < 4; i++)
        any_fund |= o->f.fund[i];
    if (o->f.by != KC_BY_NONE)
        bad = "by";
    else if (o->plan)
        bad = "plan";
    else if (o->compare)
        bad = "compare";
    else if (o->kind != 1)
        bad = "kind";
    else if (any_act)
        bad = "activity";
    else if (any_fund)
        bad = "fund";
    else if (o->as_of && !o->as_of_time)
        bad = url ? "as_of_offset" : "as-of-offset";
    if (!bad)
        return 0;
    snprintf(err, cap,
             "%s%s does not apply to completeness (it takes year, months, region, province, "
             "units and %s)",
             url ? "" : "--", bad, url ? "as_of" : "--as-of");
    return KC_EINVAL;
}

int kc_cycle_answer(kc_cycle_index_t *ix, kc_txn_t *txn, const kc_qry_opts_t *o,
                    kc_cycle_table_t *out)
{
    memset(out, 0, sizeof *out);
    uint64_t size = 0, now = kc_time_real_ns();
    int rc = kc_cycle_index_update(ix, txn);
    if (rc == 0)
        rc = kc_txn_log_size(txn, &size);
    kc_cycle_query_t q = {
        .year = o->year, .m_from = o->m_from, .m_to = o->m_to, .f = o->f, .now_ns = now, .n = size};
    if (rc == 0 && o->as_of && o->as_of_time) {
        rc = kc_txn_log_size_at(txn, o->as_of_ns, &q.n);
        if (o->as_of_ns < now)
            q.now_ns = o->as_of_ns;
    }
    if (rc == 0)
        rc = kc_cycle_table(ix, &q, out);
    if (rc == 0)
        out->as_of = o->as_of && o->as_of_time;
    return rc;
}

int kc_cycle_recent(kc_cycle_index_t *ix, kc_txn_t *txn, uint64_t now_ns, kc_cycle_due_t *out,
                    size_t max, size_t *n)
{
    *n = 0;
    uint64_t size = 0;
    int rc = kc_cycle_index_update(ix, txn);
    if (rc == 0)
        rc = kc_txn_log_size(txn, &size);
    if (rc != 0)
        return rc;
    /* the current month in UTC+7 */
    int64_t days = (int64_t)((now_ns / 1000000000u + S_UTC7) / 86400);
    char ymd[16];
    int year = 1970, month = 1;
    kc_cycle_due_day(ymd, sizeof ymd, 1970, 1, (int)(days - 30)); /* 1970-01 ends on day 30 */
    if (sscanf(ymd, "%d-%d", &year, &month) != 2)
        return KC_EINVAL;
    kc_cycle_table_t t;
    int loaded = 0;
    memset(&t, 0, sizeof t);
    for (int y = year, m = month; *n < max && y >= KC_YEAR_MIN;) {
        if (y <= KC_YEAR_MAX &&
            kc_cycle_deadline_ns(y, m, kc_ref_deadline_days(NULL, y)) < now_ns) {
            if (loaded != y) {
                kc_cycle_table_free(&t);
                kc_cycle_query_t q = {
                    .year = y, .m_from = 1, .m_to = 12, .now_ns = now_ns, .n = size};
                if ((rc = kc_cycle_table(ix, &q, &t)) != 0)
                    return rc;
                loaded = y;
            }
            out[*n] = (kc_cycle_due_t){y, m, t.count[m][KC_CYCLE_LATE],
                                       t.count[m][KC_CYCLE_MISSING], t.count[m][KC_CYCLE_ON_TIME]};
            (*n)++;
        }
        if (--m == 0) {
            m = 12;
            y--;
        }
    }
    kc_cycle_table_free(&t);
    return 0;
}

/* ---- JSON ---- */

static json_t *s_time(uint64_t ns)
{
    char t[KC_TIME_ISO_MAX];
    return ns ? json_string(kc_time_iso(ns, 9, t, sizeof t)) : json_null();
}

static json_t *s_counts(const uint32_t *count)
{
    json_t *o = json_object();
    for (int s = KC_CYCLE_ON_TIME; s < KC_CYCLE_STATES; s++)
        json_object_set_new(o, kc_cycle_state_name(s), json_integer(count[s]));
    return o;
}

json_t *kc_cycle_json(const kc_cycle_table_t *t)
{
    json_t *root = json_object();
    char period[16], due[16];
    json_object_set_new(root, "year", json_integer(t->year));
    json_object_set_new(root, "months", json_pack("{s:i,s:i}", "from", t->m_from, "to", t->m_to));
    json_object_set_new(root, "units", json_integer(t->units));
    json_object_set_new(root, "time", s_time(t->now_ns));
    json_object_set_new(root, "as_of", json_boolean(t->as_of));
    json_object_set_new(root, "log_entries", json_integer((json_int_t)t->n));
    json_object_set_new(root, "counts", s_counts(t->total));
    json_t *periods = json_array();
    for (int m = t->m_from; m <= t->m_to; m++) {
        snprintf(period, sizeof period, "%04d-%02d", t->year, m);
        json_t *p = json_object();
        json_object_set_new(p, "period", json_string(period));
        json_object_set_new(p, "days", json_integer(t->days[m]));
        json_object_set_new(p, "due",
                            json_string(kc_cycle_due_day(due, sizeof due, t->year, m, t->days[m])));
        json_object_set_new(p, "deadline", s_time(t->deadline_ns[m]));
        json_object_set_new(p, "counts", s_counts(t->count[m]));
        json_array_append_new(periods, p);
    }
    json_object_set_new(root, "periods", periods);
    json_t *rows = json_array();
    for (size_t i = 0; i < t->nrows; i++) {
        const kc_cycle_row_t *r = &t->rows[i];
        char code[4];
        snprintf(code, sizeof code, "%02u", r->code);
        json_t *row = json_object();
        json_object_set_new(row, "code", json_string(code));
        json_object_set_new(row, "scheme", json_integer(r->scheme));
        json_object_set_new(row, "name", json_string(r->name));
        json_object_set_new(row, "region", r->region ? json_string(r->region) : json_null());
        json_t *cells = json_array();
        for (int m = t->m_from; m <= t->m_to; m++) {
            const kc_cycle_cell_t *c = &r->month[m];
            if (c->state == KC_CYCLE_NONE)
                continue;
            snprintf(period, sizeof period, "%04d-%02d", t->year, m);
            json_t *cell = json_object();
            json_object_set_new(cell, "period", json_string(period));
            json_object_set_new(cell, "state", json_string(kc_cycle_state_name(c->state)));
            json_object_set_new(cell, "reported_at", s_time(c->reported_ns));
            json_object_set_new(cell, "offset",
                                c->reported_ns ? json_integer((json_int_t)c->offset) : json_null());
            if (t->units == 34 && t->year * 100 + m < KC_CELLS_MERGER) {
                json_object_set_new(cell, "parts", json_integer(c->parts));
                json_object_set_new(cell, "parts_reported", json_integer(c->parts_reported));
            }
            json_object_set_new(cell, "signed_off", json_boolean(c->signed_off));
            json_object_set_new(cell, "signed_off_at", s_time(c->signed_off_ns));
            json_object_set_new(cell, "approved", json_boolean(c->approved));
            json_object_set_new(cell, "approved_at", s_time(c->approved_ns));
            json_object_set_new(cell, "reopened", json_boolean(c->reopened));
            json_object_set_new(cell, "reopened_at", s_time(c->reopened_ns));
            json_array_append_new(cells, cell);
        }
        json_object_set_new(row, "months", cells);
        json_array_append_new(rows, row);
    }
    json_object_set_new(root, "provinces", rows);
    return root;
}
