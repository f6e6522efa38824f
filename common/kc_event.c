/* kc_event.c - validation rules and the content hash of activity events. */
#include "kc_event.h"

#include "kc_text.h"
#include "kc_wire.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const s_reason_names[] = {
    [KCPIPE__V1__REASON__REASON_OK] = "ok",
    [KCPIPE__V1__REASON__REASON_DUPLICATE] = "duplicate",
    [KCPIPE__V1__REASON__REASON_UNDECODABLE] = "undecodable",
    [KCPIPE__V1__REASON__REASON_MISSING_EVENT_ID] = "missing_event_id",
    [KCPIPE__V1__REASON__REASON_EVENT_ID_TOO_LONG] = "event_id_too_long",
    [KCPIPE__V1__REASON__REASON_UNKNOWN_PROVINCE] = "unknown_province",
    [KCPIPE__V1__REASON__REASON_UNKNOWN_ACTIVITY] = "unknown_activity",
    [KCPIPE__V1__REASON__REASON_METRIC_NOT_ALLOWED] = "metric_not_allowed",
    [KCPIPE__V1__REASON__REASON_NEGATIVE_VALUE] = "negative_value",
    [KCPIPE__V1__REASON__REASON_EMPLOYED_EXCEEDS_PERSONS] = "employed_exceeds_persons",
    [KCPIPE__V1__REASON__REASON_BAD_MONTH] = "bad_month",
    [KCPIPE__V1__REASON__REASON_BAD_YEAR] = "bad_year",
    [KCPIPE__V1__REASON__REASON_NOTE_TOO_LONG] = "note_too_long",
    [KCPIPE__V1__REASON__REASON_EVENT_ID_CONFLICT] = "event_id_conflict",
    [KCPIPE__V1__REASON__REASON_BAD_KIND] = "bad_kind",
    [KCPIPE__V1__REASON__REASON_BAD_FUND] = "bad_fund",
    [KCPIPE__V1__REASON__REASON_NO_METRICS] = "no_metrics",
    [KCPIPE__V1__REASON__REASON_PRODUCER_MISMATCH] = "producer_mismatch",
    [KCPIPE__V1__REASON__REASON_UNSUPPORTED_OP] = "unsupported_op",
    [KCPIPE__V1__REASON__REASON_MISSING_SEQ] = "missing_seq",
    [KCPIPE__V1__REASON__REASON_TOTAL_OVERFLOW] = "total_overflow",
    [KCPIPE__V1__REASON__REASON_UNKNOWN_TARGET] = "unknown_target",
    [KCPIPE__V1__REASON__REASON_TARGET_OTHER_PROVINCE] = "target_other_province",
    [KCPIPE__V1__REASON__REASON_TARGET_SUPERSEDED] = "target_superseded",
    [KCPIPE__V1__REASON__REASON_TARGET_RETRACTED] = "target_retracted",
    [KCPIPE__V1__REASON__REASON_MISSING_TARGET] = "missing_target",
    [KCPIPE__V1__REASON__REASON_PROVINCE_NOT_AUTHORIZED] = "province_not_authorized",
    [KCPIPE__V1__REASON__REASON_VALUE_TOO_LARGE] = "value_too_large",
    [KCPIPE__V1__REASON__REASON_INVALID_TEXT] = "invalid_text",
    [KCPIPE__V1__REASON__REASON_PERIOD_LOCKED] = "period_locked",
    [KCPIPE__V1__REASON__REASON_PERIOD_NOT_ENDED] = "period_not_ended",
    [KCPIPE__V1__REASON__REASON_PERIOD_NO_DATA] = "period_no_data",
    [KCPIPE__V1__REASON__REASON_PERIOD_NOT_LOCKED] = "period_not_locked",
    [KCPIPE__V1__REASON__REASON_MISSING_REASON] = "missing_reason",
};
#define N_REASONS ((int)(sizeof s_reason_names / sizeof s_reason_names[0]))

const char *kc_reason_name(int reason)
{
    if (reason < 0 || reason >= N_REASONS || !s_reason_names[reason])
        return "unknown";
    return s_reason_names[reason];
}

int kc_reason_by_name(const char *name)
{
    for (int i = 0; name && i < N_REASONS; i++)
        if (s_reason_names[i] && strcmp(s_reason_names[i], name) == 0)
            return i;
    return -1;
}

int kc_pb_metric_get(const Kcpipe__V1__Metrics *m, int i, int64_t *value)
{
    if (!m)
        return 0;
    switch (i) {
#define M(idx, f)                                                                                  \
    case idx: *value = m->f; return m->has_##f;
        M(KC_M_AMOUNT_VND, amount_vnd)
        M(KC_M_REVENUE_VND, revenue_vnd)
        M(KC_M_PERSONS, persons)
        M(KC_M_PERSONS_EMPLOYED, persons_employed)
        M(KC_M_FACILITIES, facilities)
        M(KC_M_FACILITY_TURNS, facility_turns)
        M(KC_M_PRODUCTS, products)
        M(KC_M_EVENTS, events)
        M(KC_M_DELEGATES, delegates)
        M(KC_M_PROJECTS, projects)
#undef M
    default: return 0;
    }
}

void kc_pb_metric_set(Kcpipe__V1__Metrics *m, int i, int64_t value)
{
    switch (i) {
#define M(idx, f)                                                                                  \
    case idx:                                                                                      \
        m->f = value;                                                                              \
        m->has_##f = 1;                                                                            \
        break;
        M(KC_M_AMOUNT_VND, amount_vnd)
        M(KC_M_REVENUE_VND, revenue_vnd)
        M(KC_M_PERSONS, persons)
        M(KC_M_PERSONS_EMPLOYED, persons_employed)
        M(KC_M_FACILITIES, facilities)
        M(KC_M_FACILITY_TURNS, facility_turns)
        M(KC_M_PRODUCTS, products)
        M(KC_M_EVENTS, events)
        M(KC_M_DELEGATES, delegates)
        M(KC_M_PROJECTS, projects)
#undef M
    default: break;
    }
}

static int s_fail(char *text, size_t cap, int reason, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int s_fail(char *text, size_t cap, int reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, cap, fmt, ap);
    va_end(ap);
    return reason;
}

bool kc_op_is_cycle(int op)
{
    return op == KCPIPE__V1__OP__OP_SIGN_OFF || op == KCPIPE__V1__OP__OP_APPROVE ||
           op == KCPIPE__V1__OP__OP_REOPEN;
}

static const char *s_cycle_name(int op)
{
    return op == KCPIPE__V1__OP__OP_SIGN_OFF  ? "sign-off"
           : op == KCPIPE__V1__OP__OP_APPROVE ? "approval"
                                              : "reopen";
}

/* A cycle entry (sign-off, approval, reopen): event_id (checked), province,
 * year and month; nothing of a record (activity, kind, fund, metrics,
 * corrects); the note (a reopen's reason) at most KC_NOTE_MAX bytes. */
static int s_check_cycle(const kc_pb_event_t *ev, int op, kc_event_view_t *out, char *text,
                         size_t cap)
{
    const char *what = s_cycle_name(op);
    bool metrics = false;
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        int64_t v;
        if (kc_pb_metric_get(ev->metrics, i, &v))
            metrics = true;
    }
    if ((ev->corrects && *ev->corrects) || (ev->activity && *ev->activity) || ev->has_kind ||
        ev->has_fund || metrics)
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_UNSUPPORTED_OP,
                      "a %s carries only province, year, month (and a note): no %s", what,
                      ev->corrects && *ev->corrects   ? "corrects"
                      : ev->activity && *ev->activity ? "activity"
                      : ev->has_kind                  ? "kind"
                      : ev->has_fund                  ? "fund"
                                                      : "metrics");
    if (!ev->has_year || ev->year < KC_YEAR_MIN || ev->year > KC_YEAR_MAX)
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_BAD_YEAR, "year %u is outside %d-%d",
                      ev->has_year ? ev->year : 0, KC_YEAR_MIN, KC_YEAR_MAX);
    if (!ev->has_month || ev->month < 1 || ev->month > 12)
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_BAD_MONTH, "month %u is outside 1-12",
                      ev->has_month ? ev->month : 0);
    int32_t yyyymm = (int32_t)ev->year * 100 + (int32_t)ev->month;
    int code = kc_ref_parse_code(ev->province);
    if (code < 0 || strlen(ev->province) != 2 || !kc_ref_province_for(code, yyyymm))
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_UNKNOWN_PROVINCE,
                      "province '%.8s' is not a code of scheme %d, in force for %04u-%02u",
                      ev->province ? ev->province : "", kc_ref_scheme_for(yyyymm), ev->year,
                      ev->month);
    size_t notelen = ev->note ? strlen(ev->note) : 0;
    if (notelen > KC_NOTE_MAX)
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_NOTE_TOO_LONG,
                      "note is %zu bytes, at most %d allowed", notelen, KC_NOTE_MAX);
    out->event_id = ev->event_id;
    out->event_id_len = strlen(ev->event_id);
    out->op = (uint8_t)op;
    out->province = (uint8_t)code;
    out->year = (uint16_t)ev->year;
    out->month = (uint8_t)ev->month;
    out->yyyymm = yyyymm;
    out->seq = ev->seq;
    out->producer_id = ev->producer_id;
    return KCPIPE__V1__REASON__REASON_OK;
}

int kc_event_check(const kc_pb_event_t *ev, kc_event_view_t *out, char *text, size_t cap)
{
    memset(out, 0, sizeof *out);
    text[0] = '\0';
    size_t idlen = ev->event_id ? strlen(ev->event_id) : 0;
    if (idlen == 0)
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_MISSING_EVENT_ID,
                      "event_id is missing or empty");
    if (idlen > KC_EVENT_ID_MAX)
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_EVENT_ID_TOO_LONG,
                      "event_id is %zu bytes, at most %d allowed", idlen, KC_EVENT_ID_MAX);
    int op = ev->has_op ? (int)ev->op : KCPIPE__V1__OP__OP_RECORD;
    if (kc_op_is_cycle(op))
        return s_check_cycle(ev, op, out, text, cap);
    if (op != KCPIPE__V1__OP__OP_RECORD && op != KCPIPE__V1__OP__OP_CORRECTION &&
        op != KCPIPE__V1__OP__OP_RETRACTION)
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_UNSUPPORTED_OP,
                      "op %d is not record, correction or retraction", op);
    bool retraction = op == KCPIPE__V1__OP__OP_RETRACTION;
    size_t clen = ev->corrects ? strlen(ev->corrects) : 0;
    if (op == KCPIPE__V1__OP__OP_RECORD && clen > 0)
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_UNSUPPORTED_OP,
                      "a record cannot carry corrects ('%.64s'): set op to correction or "
                      "retraction",
                      ev->corrects);
    if (op != KCPIPE__V1__OP__OP_RECORD && clen == 0)
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_MISSING_TARGET,
                      "a %s must name the event_id it replaces in corrects",
                      retraction ? "retraction" : "correction");
    if (clen > KC_EVENT_ID_MAX)
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_EVENT_ID_TOO_LONG,
                      "corrects is %zu bytes, at most %d allowed", clen, KC_EVENT_ID_MAX);
    /* a retraction may omit the period (then the target's applies), not half of it */
    bool period = !retraction || ev->has_year || ev->has_month;
    if (period && (!ev->has_year || ev->year < KC_YEAR_MIN || ev->year > KC_YEAR_MAX))
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_BAD_YEAR, "year %u is outside %d-%d",
                      ev->has_year ? ev->year : 0, KC_YEAR_MIN, KC_YEAR_MAX);
    if (period && (!ev->has_month || ev->month < 1 || ev->month > 12))
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_BAD_MONTH, "month %u is outside 1-12",
                      ev->has_month ? ev->month : 0);
    int32_t yyyymm = period ? (int32_t)ev->year * 100 + (int32_t)ev->month : 0;
    int code = kc_ref_parse_code(ev->province);
    bool known = code >= 0 && strlen(ev->province) == 2 &&
                 (period ? kc_ref_province_for(code, yyyymm) != NULL
                         : kc_ref_province(63, code) || kc_ref_province(34, code));
    if (!known && period)
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_UNKNOWN_PROVINCE,
                      "province '%.8s' is not a code of scheme %d, in force for %04u-%02u",
                      ev->province ? ev->province : "", kc_ref_scheme_for(yyyymm), ev->year,
                      ev->month);
    if (!known)
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_UNKNOWN_PROVINCE,
                      "province '%.8s' is not a code of scheme 63 or 34",
                      ev->province ? ev->province : "");
    const kc_activity_t *act = kc_ref_activity_by_code(ev->activity);
    if (!act)
        act = kc_ref_activity_lookup(ev->activity);
    if (!act && !(retraction && (!ev->activity || !*ev->activity)))
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_UNKNOWN_ACTIVITY,
                      "activity '%.32s' is not in the taxonomy", ev->activity ? ev->activity : "");
    int kind = ev->has_kind                      ? (int)ev->kind
               : op == KCPIPE__V1__OP__OP_RECORD ? KCPIPE__V1__KIND__KIND_ACTUAL
                                                 : 0; /* the target's */
    if ((ev->has_kind || op == KCPIPE__V1__OP__OP_RECORD) &&
        kind != KCPIPE__V1__KIND__KIND_ACTUAL && kind != KCPIPE__V1__KIND__KIND_PLAN)
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_BAD_KIND,
                      "kind %d is neither actual nor plan", kind);
    int fund = ev->has_fund ? (int)ev->fund : retraction ? 0 : KCPIPE__V1__FUND__FUND_OTHER;
    if ((ev->has_fund || !retraction) &&
        (fund < KCPIPE__V1__FUND__FUND_KCQG || fund > KCPIPE__V1__FUND__FUND_OTHER))
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_BAD_FUND,
                      "fund %d is not kcqg, kcdp or other", fund);
    size_t notelen = ev->note ? strlen(ev->note) : 0;
    if (notelen > KC_NOTE_MAX)
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_NOTE_TOO_LONG,
                      "note is %zu bytes, at most %d allowed", notelen, KC_NOTE_MAX);
    for (int i = 0; i < KC_METRIC_COUNT && !retraction; i++) {
        int64_t v;
        if (!kc_pb_metric_get(ev->metrics, i, &v))
            continue;
        const char *name = kc_ref_metric(i)->name;
        if (!(act->metric_mask & (1u << i)))
            return s_fail(text, cap, KCPIPE__V1__REASON__REASON_METRIC_NOT_ALLOWED,
                          "metric %s is not reported for activity %s (%s)", name, act->code,
                          act->name);
        if (v < 0)
            return s_fail(text, cap, KCPIPE__V1__REASON__REASON_NEGATIVE_VALUE,
                          "metric %s is negative (%lld)", name, (long long)v);
        out->present |= 1u << i;
        out->metrics[i] = v;
    }
    if (!out->present && !retraction)
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_NO_METRICS,
                      "the event reports no metric");
    if ((out->present & (1u << KC_M_PERSONS_EMPLOYED)) &&
        out->metrics[KC_M_PERSONS_EMPLOYED] > out->metrics[KC_M_PERSONS])
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_EMPLOYED_EXCEEDS_PERSONS,
                      "persons_employed (%lld) exceeds persons (%lld)",
                      (long long)out->metrics[KC_M_PERSONS_EMPLOYED],
                      (long long)out->metrics[KC_M_PERSONS]);
    out->event_id = ev->event_id;
    out->event_id_len = idlen;
    out->op = (uint8_t)op;
    out->corrects = clen ? ev->corrects : NULL;
    out->corrects_len = clen;
    out->province = (uint8_t)code;
    out->year = period ? (uint16_t)ev->year : 0;
    out->month = period ? (uint8_t)ev->month : 0;
    out->yyyymm = yyyymm;
    out->activity = act;
    out->kind = (uint8_t)kind;
    out->fund = (uint8_t)fund;
    out->seq = ev->seq;
    out->producer_id = ev->producer_id;
    return KCPIPE__V1__REASON__REASON_OK;
}

/* ---- the content hash ----
 * The hash covers protobuf-c's encoding of the normalized event (stores hold
 * these hashes: the bytes must never change). kc_event_pack_canon writes the
 * same bytes as kcpipe__v1__event__pack without the descriptor walk; its rules
 * are protobuf-c 1.4's for proto2 optional fields: a string or message is
 * written when its pointer is not NULL (an empty string too), a scalar when
 * its has_ flag is set; tag = number << 3 | wire type (1 byte: every number
 * is < 16 but submitted_by's, 16, whose key is 0x82 0x01); uint32/uint64 and int64 (two's
 * complement: a negative value takes 10 bytes) are plain varints, an enum is an int32 (a negative
 * value is sign- extended to 10 bytes), a string's length and a message's size are varints before
 * their bytes; unknown fields would follow the known ones (not written here).
 * tests/common/canon_test.c compares the two encoders. */

static inline uint8_t *s_string(uint8_t *p, uint8_t tag, const char *s, size_t n)
{
    *p++ = tag;
    p += kc_wire_varint_put(p, n);
    memcpy(p, s, n);
    return p + n;
}

/* A one-byte key and a varint. */
static inline uint8_t *s_varint(uint8_t *p, uint8_t tag, uint64_t v)
{
    *p++ = tag;
    return p + kc_wire_varint_put(p, v);
}

/* The schema the encoder was written for: 14 Event fields (1-11, 14-16) and
 * 10 Metrics fields (1-10); canon_test checks each field's number and type. A
 * schema that grows makes kc_event_content_hash fall back to protobuf-c until
 * kc_event_pack_canon learns the new fields. */
#define S_EVENT_FIELDS   KC_WIRE_EV_FIELDS
#define S_METRICS_FIELDS KC_WIRE_M_FIELDS
_Static_assert(sizeof(Kcpipe__V1__Kind) == 4 && sizeof(Kcpipe__V1__Fund) == 4 &&
                   sizeof(Kcpipe__V1__Op) == 4,
               "protobuf-c reads enums as int32");

/* protobuf-c packs an enum as an int32: a negative value sign-extended. */
static inline uint64_t s_enum(int v)
{
    return (uint64_t)(int64_t)(int32_t)v;
}

size_t kc_event_pack_canon(const kc_pb_event_t *ev, uint8_t *out, size_t cap)
{
    size_t l_id = ev->event_id ? strlen(ev->event_id) : 0;
    size_t l_prov = ev->province ? strlen(ev->province) : 0;
    size_t l_act = ev->activity ? strlen(ev->activity) : 0;
    size_t l_note = ev->note ? strlen(ev->note) : 0;
    size_t l_corr = ev->corrects ? strlen(ev->corrects) : 0;
    size_t l_prod = ev->producer_id ? strlen(ev->producer_id) : 0;
    size_t l_sub = ev->submitted_by ? strlen(ev->submitted_by) : 0;
    size_t need =
        KC_EVENT_PACK_FIXED_MAX + l_id + l_prov + l_act + l_note + l_corr + l_prod + l_sub;
    if (need > cap)
        return need;
    uint8_t *p = out;
    if (ev->event_id)
        p = s_string(p, KC_WIRE_T_EVENT_ID, ev->event_id, l_id);
    if (ev->province)
        p = s_string(p, KC_WIRE_T_PROVINCE, ev->province, l_prov);
    if (ev->has_year)
        p = s_varint(p, KC_WIRE_T_YEAR, ev->year);
    if (ev->has_month)
        p = s_varint(p, KC_WIRE_T_MONTH, ev->month);
    if (ev->activity)
        p = s_string(p, KC_WIRE_T_ACTIVITY, ev->activity, l_act);
    if (ev->has_kind)
        p = s_varint(p, KC_WIRE_T_KIND, s_enum(ev->kind));
    if (ev->has_fund)
        p = s_varint(p, KC_WIRE_T_FUND, s_enum(ev->fund));
    const Kcpipe__V1__Metrics *m = ev->metrics;
    if (m) {
        /* at most 10 x (1 + 10) = 110 bytes without unknown fields: a 1-byte size */
        *p++ = KC_WIRE_T_METRICS;
        uint8_t *size = p++;
#define M(num, f)                                                                                  \
    if (m->has_##f) {                                                                              \
        p = s_varint(p, KC_WIRE_TAG(num, KC_WIRE_VARINT), (uint64_t)m->f);                         \
    }
        M(KC_WIRE_M_AMOUNT_VND, amount_vnd)
        M(KC_WIRE_M_REVENUE_VND, revenue_vnd)
        M(KC_WIRE_M_PERSONS, persons)
        M(KC_WIRE_M_PERSONS_EMPLOYED, persons_employed)
        M(KC_WIRE_M_FACILITIES, facilities)
        M(KC_WIRE_M_FACILITY_TURNS, facility_turns)
        M(KC_WIRE_M_PRODUCTS, products)
        M(KC_WIRE_M_EVENTS, events)
        M(KC_WIRE_M_DELEGATES, delegates)
        M(KC_WIRE_M_PROJECTS, projects)
#undef M
        *size = (uint8_t)(p - size - 1);
    }
    if (ev->note)
        p = s_string(p, KC_WIRE_T_NOTE, ev->note, l_note);
    if (ev->has_op)
        p = s_varint(p, KC_WIRE_T_OP, s_enum(ev->op));
    if (ev->corrects)
        p = s_string(p, KC_WIRE_T_CORRECTS, ev->corrects, l_corr);
    if (ev->producer_id)
        p = s_string(p, KC_WIRE_T_PRODUCER_ID, ev->producer_id, l_prod);
    if (ev->has_seq)
        p = s_varint(p, KC_WIRE_T_SEQ, ev->seq);
    if (ev->submitted_by) { /* field 16: after the transport fields, a two-byte key */
        *p++ = KC_WIRE_T2_SUBMITTED_BY_0;
        p = s_string(p, KC_WIRE_T2_SUBMITTED_BY_1, ev->submitted_by, l_sub);
    }
    return (size_t)(p - out);
}

void kc_event_content_hash(const kc_pb_event_t *ev, const kc_event_view_t *view,
                           uint8_t out[KC_HASH_LEN])
{
    kc_pb_event_t c = *ev;
    c.producer_id = NULL;
    c.has_seq = 0;
    c.seq = 0;
    c.activity = view->activity ? (char *)view->activity->code : NULL;
    c.has_year = c.has_month = view->year != 0;
    c.year = view->year;
    c.month = view->month;
    c.has_kind = view->kind != 0;
    c.kind = (Kcpipe__V1__Kind)view->kind;
    c.has_fund = view->fund != 0;
    c.fund = (Kcpipe__V1__Fund)view->fund;
    c.has_op = view->op != KCPIPE__V1__OP__OP_RECORD; /* a record hashes as before ops existed */
    c.op = (Kcpipe__V1__Op)view->op;
    if (c.note && c.note[0] == '\0')
        c.note = NULL;
    uint8_t stack[KC_EVENT_PACK_FIXED_MAX + 2 * KC_NOTE_MAX];
    uint8_t *buf = stack;
    size_t n;
    if (c.base.n_unknown_fields || (c.metrics && c.metrics->base.n_unknown_fields) ||
        kcpipe__v1__event__descriptor.n_fields != S_EVENT_FIELDS ||
        kcpipe__v1__metrics__descriptor.n_fields != S_METRICS_FIELDS) {
        /* unknown fields are hashed too, where protobuf-c puts them */
        n = kcpipe__v1__event__get_packed_size(&c);
        if (n > sizeof stack && !(buf = malloc(n)))
            abort(); /* out of memory while hashing: nothing sane to return */
        kcpipe__v1__event__pack(&c, buf);
    } else if ((n = kc_event_pack_canon(&c, stack, sizeof stack)) > sizeof stack) {
        if (!(buf = malloc(n)))
            abort();
        n = kc_event_pack_canon(&c, buf, n);
    }
    crypto_generichash(out, KC_HASH_LEN, buf, n, NULL, 0);
    if (buf != stack)
        free(buf);
}

/* ---- admission rules (kc_event_admit) ---- */

/* Find, among the top-level fields of the message raw[0..len), the first
 * length-delimited field whose number has its bit set in `fields` (numbers
 * below 32) and whose bytes break the rule (`free_bits`: fields under the free-text
 * rule). Returns its number and sets *at and *flen, or 0 if all pass (or the
 * bytes are not a well-formed message: that is the decoder's business). */
static int s_raw_bad_string(const uint8_t *raw, size_t len, uint32_t fields, uint32_t free_bits,
                            const uint8_t **at, size_t *flen)
{
    const uint8_t *p = raw, *end = raw + len;
    while (p < end) {
        uint64_t num, n;
        unsigned wt;
        size_t k = kc_wire_tag_get(p, end, &num, &wt);
        if (!k)
            return 0;
        p += k;
        if (wt == KC_WIRE_LEN && num < 32 && (fields & (1u << num))) {
            if (!(k = kc_wire_varint_get(p, end, &n)))
                return 0;
            p += k;
            if (n > (uint64_t)(end - p))
                return 0;
            bool ok = (free_bits & (1u << num)) ? kc_text_free_ok((const char *)p, n)
                                                : kc_text_id_ok((const char *)p, n);
            if (!ok) {
                *at = p;
                *flen = n;
                return (int)num;
            }
            p += n;
        } else if ((k = kc_wire_skip(p, end, wt))) {
            p += k;
        } else {
            return 0; /* truncated, or groups: protobuf-c refused them already */
        }
    }
    return 0;
}

static const char *s_event_field_name(int num)
{
    switch (num) {
    case KC_WIRE_EV_EVENT_ID: return "event_id";
    case KC_WIRE_EV_PROVINCE: return "province";
    case KC_WIRE_EV_ACTIVITY: return "activity";
    case KC_WIRE_EV_NOTE: return "note";
    case KC_WIRE_EV_CORRECTS: return "corrects";
    case KC_WIRE_EV_PRODUCER_ID: return "producer_id";
    case KC_WIRE_EV_SUBMITTED_BY: return "submitted_by";
    default: return "?";
    }
}

/* The reason text for a string that breaks the text rule. */
static int s_fail_text(char *text, size_t cap, const char *field, const char *s, size_t len,
                       bool free_text)
{
    size_t bad = kc_text_utf8_bad_at(s, len);
    char shown[KC_TEXT_SHOW_MAX(64)];
    kc_text_show(s, len < 64 ? len : 64, shown, sizeof shown);
    if (bad < len)
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_INVALID_TEXT,
                      "%s is not valid UTF-8 (byte %zu): '%s'; save the file as UTF-8", field, bad,
                      shown);
    return s_fail(text, cap, KCPIPE__V1__REASON__REASON_INVALID_TEXT,
                  "%s holds a control character: '%s'%s", field, shown,
                  free_text ? " (a note may hold tab and line breaks only)"
                            : " (ids and codes are printable text)");
}

int kc_event_admit(const kc_pb_event_t *ev, const uint8_t *raw, size_t rawlen, char *text,
                   size_t cap)
{
    text[0] = '\0';
    enum {
        F_ID = KC_WIRE_EV_EVENT_ID,
        F_PROV = KC_WIRE_EV_PROVINCE,
        F_ACT = KC_WIRE_EV_ACTIVITY,
        F_NOTE = KC_WIRE_EV_NOTE,
        F_CORR = KC_WIRE_EV_CORRECTS,
        F_PROD = KC_WIRE_EV_PRODUCER_ID,
        F_SUB = KC_WIRE_EV_SUBMITTED_BY
    };
    const uint32_t fields = 1u << F_ID | 1u << F_PROV | 1u << F_ACT | 1u << F_NOTE | 1u << F_CORR |
                            1u << F_PROD | 1u << F_SUB;
    if (raw) {
        const uint8_t *at;
        size_t n;
        int num = s_raw_bad_string(raw, rawlen, fields, 1u << F_NOTE, &at, &n);
        if (num)
            return s_fail_text(text, cap, s_event_field_name(num), (const char *)at, n,
                               num == F_NOTE);
    }
    /* without the serialized bytes, the decoded strings (the bytes, when given, held every
     * occurrence of every string field: checking the decoded copies again adds nothing) */
    const struct {
        int num;
        const char *s;
    } str[] = {{F_ID, ev->event_id},     {F_PROV, ev->province}, {F_ACT, ev->activity},
               {F_NOTE, ev->note},       {F_CORR, ev->corrects}, {F_PROD, ev->producer_id},
               {F_SUB, ev->submitted_by}};
    for (size_t i = 0; !raw && i < sizeof str / sizeof str[0]; i++) {
        if (!str[i].s)
            continue;
        size_t n = strlen(str[i].s);
        bool free_text = str[i].num == F_NOTE;
        if (!(free_text ? kc_text_free_ok(str[i].s, n) : kc_text_id_ok(str[i].s, n)))
            return s_fail_text(text, cap, s_event_field_name(str[i].num), str[i].s, n, free_text);
    }
    /* submitted_by: 1-64 bytes when present (an id: its text rule above) */
    size_t sublen = ev->submitted_by ? strlen(ev->submitted_by) : 0;
    if (ev->submitted_by && sublen == 0)
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_INVALID_TEXT,
                      "submitted_by is empty: leave the field out when no one is named");
    if (sublen > KC_SUBMITTED_BY_MAX)
        return s_fail(text, cap, KCPIPE__V1__REASON__REASON_INVALID_TEXT,
                      "submitted_by is %zu bytes, at most %d allowed: use a shorter user name",
                      sublen, KC_SUBMITTED_BY_MAX);
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        int64_t v;
        if (!kc_pb_metric_get(ev->metrics, i, &v))
            continue;
        const kc_metric_info_t *mi = kc_ref_metric(i);
        if (v > mi->max)
            return s_fail(text, cap, KCPIPE__V1__REASON__REASON_VALUE_TOO_LARGE,
                          "%s %lld is above the largest value one event may carry (%lld): "
                          "check for extra zeros, or split it",
                          mi->name, (long long)v, (long long)mi->max);
    }
    return KCPIPE__V1__REASON__REASON_OK;
}

bool kc_producer_id_ok(const char *producer_id, const uint8_t *raw, size_t rawlen, char *text,
                       size_t cap)
{
    text[0] = '\0';
    size_t n = producer_id ? strlen(producer_id) : 0;
    if (n == 0) {
        s_fail(text, cap, 0, "producer_id is missing or empty");
        return false;
    }
    if (n > KC_PRODUCER_ID_MAX) {
        s_fail(text, cap, 0, "producer_id is %zu bytes, at most %d allowed", n, KC_PRODUCER_ID_MAX);
        return false;
    }
    const uint8_t *at;
    size_t len;
    if (raw && s_raw_bad_string(raw, rawlen, 1u << KC_WIRE_BATCH_PRODUCER_ID, 0, &at, &len)) {
        s_fail_text(text, cap, "producer_id", (const char *)at, len, false);
        return false;
    }
    if (!kc_text_id_ok(producer_id, n)) {
        s_fail_text(text, cap, "producer_id", producer_id, n, false);
        return false;
    }
    return true;
}
