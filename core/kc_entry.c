/* kc_entry.c - a log entry decoded, as JSON, filtered and compared (see kc_entry.h). */
#include "kc_entry.h"

#include "kc_audit.h"
#include "kc_err.h"
#include "kc_jtext.h"
#include "kc_text.h"
#include "kc_time.h"

#include <stdio.h>
#include <string.h>

/* The province a code names: under the period's scheme, or (no period) the
 * one name the code has in either scheme. */
static const kc_province_t *s_province(int code, int32_t yyyymm)
{
    if (code < 0)
        return NULL;
    if (yyyymm)
        return kc_ref_province_for(code, yyyymm);
    const kc_province_t *a = kc_ref_province(63, code), *b = kc_ref_province(34, code);
    if (!a || !b)
        return a ? a : b;
    return strcmp(a->name, b->name) == 0 ? b : NULL;
}

int kc_entry_decode(kc_wire_decoder_t *d, const kc_log_entry_t *e, kc_entry_t *out)
{
    const kc_pb_event_t *ev;
    memset(out, 0, sizeof *out);
    int rc = kc_wire_decode(d, e->event, e->event_len, &ev);
    if (rc != 0)
        return rc == KC_EINVAL ? KC_EFORMAT : rc;
    kc_log_entry_leaf(e, &out->log);
    kc_merkle_leaf_hash(&out->log, out->leaf_hash);
    /* the defaults are kc_event_check's (kc_event.c) */
    int op = ev->has_op ? (int)ev->op : KCPIPE__V1__OP__OP_RECORD;
    out->op = (uint8_t)op;
    out->event_id = ev->event_id ? ev->event_id : "";
    out->corrects = ev->corrects && *ev->corrects ? ev->corrects : NULL;
    out->province = ev->province ? ev->province : "";
    out->code = kc_ref_parse_code(out->province);
    out->year = ev->has_year ? (uint16_t)ev->year : 0;
    out->month = ev->has_month ? (uint8_t)ev->month : 0;
    bool period = out->year && out->month >= 1 && out->month <= 12;
    out->prov = s_province(out->code, period ? out->year * 100 + out->month : 0);
    out->activity = ev->activity && *ev->activity ? ev->activity : NULL;
    out->act = kc_ref_activity_by_code(out->activity);
    if (!out->act && out->activity)
        out->act = kc_ref_activity_lookup(out->activity);
    int kind = ev->has_kind ? (int)ev->kind : op == KCPIPE__V1__OP__OP_RECORD ? 1 : 0;
    out->kind = kind >= 0 && kind <= 255 ? (uint8_t)kind : 0;
    int fund = ev->has_fund                                                ? (int)ev->fund
               : op == KCPIPE__V1__OP__OP_RETRACTION || kc_op_is_cycle(op) ? 0
                                                                           : 3;
    out->fund = fund >= 0 && fund <= 255 ? (uint8_t)fund : 0;
    for (int i = 0; i < KC_METRIC_COUNT; i++)
        if (kc_pb_metric_get(ev->metrics, i, &out->m[i]))
            out->present |= 1u << i;
    out->note = ev->note;
    out->submitted_by = ev->submitted_by && *ev->submitted_by ? ev->submitted_by : NULL;
    return 0;
}

const char *kc_entry_op_name(int op)
{
    switch (op) {
    case KCPIPE__V1__OP__OP_RECORD: return "record";
    case KCPIPE__V1__OP__OP_CORRECTION: return "correction";
    case KCPIPE__V1__OP__OP_RETRACTION: return "retraction";
    case KCPIPE__V1__OP__OP_SIGN_OFF: return "sign_off";
    case KCPIPE__V1__OP__OP_APPROVE: return "approve";
    case KCPIPE__V1__OP__OP_REOPEN: return "reopen";
    default: return "unknown";
    }
}

const char *kc_entry_kind_name(int kind)
{
    return kind == 1 ? "actual" : kind == 2 ? "plan" : NULL;
}

const char *kc_entry_fund_name(int fund)
{
    static const char *const names[] = {NULL, "kcqg", "kcdp", "other"};
    return fund >= 1 && fund <= 3 ? names[fund] : NULL;
}

json_t *kc_entry_note_json(const char *note)
{
    if (!note)
        return json_null();
    size_t len = strlen(note);
    return kc_text_free_ok(note, len) ? json_stringn(note, len) : kc_json_text(note, len);
}

static json_t *s_opt_str(const char *s)
{
    return s ? kc_json_texts(s) : json_null();
}

static json_t *s_opt_int(long v)
{
    return v ? json_integer(v) : json_null();
}

json_t *kc_entry_json(const kc_entry_t *x)
{
    char ts[KC_TIME_ISO_MAX], hash[2 * KC_MERKLE_HASH_LEN + 1];
    kc_time_iso(x->log.received_ns, 9, ts, sizeof ts);
    kc_merkle_hex(x->leaf_hash, sizeof x->leaf_hash, hash);
    json_t *m = json_object();
    for (int i = 0; m && i < KC_METRIC_COUNT; i++)
        if (x->present & (1u << i))
            json_object_set_new(m, kc_ref_metric(i)->name, json_integer(x->m[i]));
    const char *kind = kc_entry_kind_name(x->kind), *fund = kc_entry_fund_name(x->fund);
    return json_pack(
        "{s:I, s:s, s:I, s:o, s:I, s:I, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
        "s:o, s:o, s:o, s:o}",
        "offset", (json_int_t)x->log.offset, "received", ts, "received_ns",
        (json_int_t)x->log.received_ns, "producer",
        kc_json_text(x->log.producer, x->log.producer_len), "epoch", (json_int_t)x->log.epoch,
        "seq", (json_int_t)x->log.seq, "leaf_hash", hash, "op", kc_entry_op_name(x->op), "event_id",
        kc_json_texts(x->event_id), "corrects", s_opt_str(x->corrects), "province",
        kc_json_texts(x->province), "province_name",
        x->prov ? json_string(x->prov->name) : json_null(), "year", s_opt_int(x->year), "month",
        s_opt_int(x->month), "activity", s_opt_str(x->activity), "activity_name",
        x->act ? json_string(x->act->name) : json_null(), "kind",
        kind ? json_string(kind) : json_null(), "fund", fund ? json_string(fund) : json_null(),
        "metrics", m, "note", kc_entry_note_json(x->note), "submitted_by",
        s_opt_str(x->submitted_by));
}

/* ---- filters ---- */

void kc_entry_filter_init(kc_entry_filter_t *f)
{
    memset(f, 0, sizeof *f);
    kc_cells_filter_init(&f->where);
    f->until_ns = UINT64_MAX;
}

static bool s_where(const kc_cells_filter_t *w, const kc_entry_t *x)
{
    if (w->n_provinces == 0)
        return true;
    int scheme = x->year && x->month ? kc_ref_scheme_for(x->year * 100 + x->month) : 0;
    for (size_t i = 0; i < w->n_provinces; i++)
        if (w->provinces[i] == x->code &&
            (w->province_scheme[i] == 0 || scheme == 0 || w->province_scheme[i] == scheme))
            return true;
    return false;
}

bool kc_entry_match(const kc_entry_filter_t *f, const kc_entry_t *x)
{
    if (x->log.received_ns < f->since_ns || x->log.received_ns > f->until_ns ||
        !s_where(&f->where, x))
        return false;
    if (f->producer && (strlen(f->producer) != x->log.producer_len ||
                        memcmp(f->producer, x->log.producer, x->log.producer_len) != 0))
        return false;
    return !f->event_id || strcmp(f->event_id, x->event_id) == 0 ||
           (x->corrects && strcmp(f->event_id, x->corrects) == 0);
}

/* ---- differences ---- */

static bool s_str_differ(const char *a, const char *b)
{
    return (a == NULL) != (b == NULL) || (a && strcmp(a, b) != 0);
}

void kc_entry_inherit(const kc_entry_t *prev, kc_entry_t *cur)
{
    if (cur->op == KCPIPE__V1__OP__OP_CORRECTION && cur->kind == 0)
        cur->kind = prev->kind;
}

void kc_entry_diff(const kc_entry_t *prev, const kc_entry_t *cur, kc_entry_diff_t *out)
{
    memset(out, 0, sizeof *out);
    if (cur->op == KCPIPE__V1__OP__OP_RETRACTION) {
        out->retracted = true;
        out->metrics = prev->present;
        return;
    }
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        uint32_t bit = 1u << i;
        if ((prev->present & bit) != (cur->present & bit) ||
            ((cur->present & bit) && prev->m[i] != cur->m[i]))
            out->metrics |= bit;
    }
    out->note = s_str_differ(prev->note, cur->note);
    out->period = prev->year != cur->year || prev->month != cur->month;
    out->activity = prev->act != cur->act || s_str_differ(prev->activity, cur->activity);
    out->kind = prev->kind != cur->kind;
    out->fund = prev->fund != cur->fund;
}

static json_t *s_change(json_t *from, json_t *to)
{
    return json_pack("{s:o, s:o}", "from", from ? from : json_null(), "to", to ? to : json_null());
}

static json_t *s_period(const kc_entry_t *x)
{
    char b[16];
    if (!x->year)
        return json_null();
    snprintf(b, sizeof b, "%04u-%02u", (unsigned)x->year, (unsigned)x->month);
    return json_string(b);
}

json_t *kc_entry_diff_json(const kc_entry_t *prev, const kc_entry_t *cur, const kc_entry_diff_t *d)
{
    json_t *j = json_pack("{s:b}", "retracted", d->retracted), *m = json_object();
    if (!j || !m) {
        json_decref(j);
        json_decref(m);
        return NULL;
    }
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        uint32_t bit = 1u << i;
        if (!(d->metrics & bit))
            continue;
        bool was = prev->present & bit, is = !d->retracted && (cur->present & bit);
        json_object_set_new(
            m, kc_ref_metric(i)->name,
            s_change(was ? json_integer(prev->m[i]) : NULL, is ? json_integer(cur->m[i]) : NULL));
    }
    json_object_set_new(j, "metrics", m);
    if (d->note)
        json_object_set_new(
            j, "note", s_change(kc_entry_note_json(prev->note), kc_entry_note_json(cur->note)));
    if (d->period)
        json_object_set_new(j, "period", s_change(s_period(prev), s_period(cur)));
    if (d->activity)
        json_object_set_new(j, "activity",
                            s_change(s_opt_str(prev->activity), s_opt_str(cur->activity)));
    if (d->kind)
        json_object_set_new(j, "kind",
                            s_change(s_opt_str(kc_entry_kind_name(prev->kind)),
                                     s_opt_str(kc_entry_kind_name(cur->kind))));
    if (d->fund)
        json_object_set_new(j, "fund",
                            s_change(s_opt_str(kc_entry_fund_name(prev->fund)),
                                     s_opt_str(kc_entry_fund_name(cur->fund))));
    return j;
}
