/* kc_rejects.c - the rejected rows of a store, filtered and ordered
 * (kc_rejects.h).
 *
 * DESIGN
 * One pass of kc_txn_reject_scan keeps every matching record (a kc_reject_t
 * borrowing the read transaction: a few dozen bytes each), then qsort puts
 * them newest first and the list is cut at the limit; count is what matched
 * before the cut. Province names go through kc_filter_add_province on a
 * scratch kc_cells_filter_t, so a name means here what it means to kc-query.
 */
#include "kc_rejects.h"

#include "kc_err.h"
#include "kc_event.h"
#include "kc_filter.h"
#include "kc_jtext.h"
#include "kc_ref.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    S_SINCE = 1u << 0,
    S_UNTIL = 1u << 1,
    S_PRODUCER = 1u << 2,
    S_LIMIT = 1u << 3,
    S_DUPLICATES = 1u << 4
};

static int s_fail(char *err, size_t cap, const char *fmt, const char *arg)
{
    snprintf(err, cap, fmt, arg ? arg : "");
    return KC_EINVAL;
}

void kc_rejects_init(kc_rejects_opts_t *o, kc_qry_style_t style)
{
    memset(o, 0, sizeof *o);
    o->limit = style == KC_QRY_URL ? KC_REJECTS_URL_LIMIT : 0;
}

static int s_province(kc_rejects_opts_t *o, const char *s, const char *dash, char *err, size_t cap)
{
    int code = kc_ref_parse_code(s);
    if (code > 0) { /* any code, known or not: "99" finds what named it */
        for (size_t i = 0; i < o->n_provinces; i++)
            if (o->provinces[i] == code && o->province_scheme[i] == 0)
                return 0;
        if (o->n_provinces == KC_REJECTS_MAX_SEL)
            return s_fail(err, cap, "too many %sprovince values", dash);
        o->province_scheme[o->n_provinces] = 0;
        o->provinces[o->n_provinces++] = (uint8_t)code;
        return 0;
    }
    kc_cells_filter_t f;
    memset(&f, 0, sizeof f);
    char why[200];
    if (!s || !*s || (s[0] >= '0' && s[0] <= '9') ||
        kc_filter_add_province(&f, s, why, sizeof why) != 0) {
        snprintf(err, cap, "%sprovince: unknown province '%s' (give a code such as 79 or a name)",
                 dash, s ? s : "");
        return KC_EINVAL;
    }
    for (size_t j = 0; j < f.n_provinces; j++) {
        if (o->n_provinces == KC_REJECTS_MAX_SEL)
            return s_fail(err, cap, "too many %sprovince values", dash);
        o->province_scheme[o->n_provinces] = f.province_scheme[j];
        o->provinces[o->n_provinces++] = f.provinces[j];
    }
    return 0;
}

static int s_time(uint64_t *ns, kc_qry_style_t style, const char *name, const char *value,
                  bool start, char *err, size_t cap)
{
    const char *dash = style == KC_QRY_CLI ? "--" : "";
    char buf[64];
    const char *s = value ? value : "";
    /* a date alone: since = its first instant (midnight), until = its last */
    if (start && strlen(s) == 10 && s[4] == '-' && s[7] == '-') {
        snprintf(buf, sizeof buf, "%sT00:00:00%s", s, style == KC_QRY_URL ? "Z" : "");
        s = buf;
    }
    int t = kc_qry_parse_time(s, style == KC_QRY_CLI, ns);
    if (t == -2) {
        snprintf(err, cap,
                 "%s%s: '%s' does not exist or exists twice in local time (the clocks changed); "
                 "add a zone, e.g. +07:00",
                 dash, name, value ? value : "");
        return KC_EINVAL;
    }
    if (t != 0) {
        snprintf(err, cap,
                 style == KC_QRY_CLI ? "%s%s: '%s' is not 2026-11-27, 2026-11-27 10:00:00, "
                                       "2026-11-27T10:00:00Z or 2026-11-27T17:00:00+07:00"
                                     : "%s%s: '%s' is not 2026-11-27, 2026-11-27T10:00:00Z or "
                                       "2026-11-27T17:00:00+07:00",
                 dash, name, value ? value : "");
        return KC_EINVAL;
    }
    return 0;
}

int kc_rejects_set(kc_rejects_opts_t *o, kc_qry_style_t style, const char *name, const char *value,
                   char *err, size_t cap)
{
    const char *dash = style == KC_QRY_CLI ? "--" : "";
    static const struct {
        const char *name;
        unsigned bit;
    } single[] = {{"since", S_SINCE},
                  {"until", S_UNTIL},
                  {"producer", S_PRODUCER},
                  {"limit", S_LIMIT},
                  {"duplicates", S_DUPLICATES}};
    unsigned bit = 0;
    for (size_t i = 0; name && i < sizeof single / sizeof *single; i++)
        if (strcmp(name, single[i].name) == 0)
            bit = single[i].bit;
    if (bit && style == KC_QRY_URL && (o->seen & bit)) {
        snprintf(err, cap, "parameter '%s' given more than once", name);
        return KC_EINVAL;
    }
    o->seen |= bit;
    if (!name)
        return s_fail(err, cap, "unknown parameter '%s'", name);
    if (strcmp(name, "province") == 0)
        return s_province(o, value, dash, err, cap);
    if (strcmp(name, "reason") == 0) {
        int r = value ? kc_reason_by_name(value) : -1;
        if (r <= 0) {
            snprintf(err, cap,
                     "%sreason: unknown reason '%s' (a name such as unknown_province, "
                     "metric_not_allowed, event_id_conflict, duplicate)",
                     dash, value ? value : "");
            return KC_EINVAL;
        }
        for (size_t i = 0; i < o->n_reasons; i++)
            if (o->reasons[i] == r)
                return 0;
        if (o->n_reasons == KC_REJECTS_MAX_SEL)
            return s_fail(err, cap, "too many %sreason values", dash);
        o->reasons[o->n_reasons++] = r;
        return 0;
    }
    if (strcmp(name, "since") == 0) {
        o->has_since = true;
        return s_time(&o->since_ns, style, name, value, true, err, cap);
    }
    if (strcmp(name, "until") == 0) {
        o->has_until = true;
        return s_time(&o->until_ns, style, name, value, false, err, cap);
    }
    if (strcmp(name, "producer") == 0) {
        if (!value || !*value)
            return s_fail(err, cap, "%sproducer needs a producer id", dash);
        o->producer = value;
        return 0;
    }
    if (strcmp(name, "limit") == 0) {
        long n;
        long hi = style == KC_QRY_URL ? KC_REJECTS_URL_MAX : 1000000000L;
        char what[16];
        snprintf(what, sizeof what, "%slimit", dash);
        if (kc_filter_parse_int(value, 1, hi, &n, what, err, cap) != 0)
            return KC_EINVAL;
        o->limit = (size_t)n;
        return 0;
    }
    if (strcmp(name, "duplicates") == 0) {
        if (style == KC_QRY_CLI) {
            o->duplicates = true;
            return 0;
        }
        const char *v = value ? value : "";
        if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0)
            o->duplicates = true;
        else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0)
            o->duplicates = false;
        else
            return s_fail(err, cap, "duplicates takes 1, true, 0 or false, not '%s'", v);
        return 0;
    }
    return s_fail(err, cap, "unknown parameter '%s'", name);
}

/* ---- the list ---- */

typedef struct {
    const kc_rejects_opts_t *o;
    kc_reject_t *rows;
    size_t n, cap;
    size_t producer_len;
} s_scan_t;

static bool s_match(const kc_rejects_opts_t *o, const kc_reject_t *r, size_t producer_len)
{
    if (o->producer &&
        (r->producer_len != producer_len || memcmp(r->producer, o->producer, producer_len) != 0))
        return false;
    if (o->n_reasons) {
        bool hit = false;
        for (size_t i = 0; i < o->n_reasons && !hit; i++)
            hit = o->reasons[i] == r->reason;
        if (!hit)
            return false;
    } else if (r->duplicate && !o->duplicates) {
        return false;
    }
    if ((o->has_since || o->has_until) && !r->has_details)
        return false;
    if (o->has_since && r->received_ns < o->since_ns)
        return false;
    if (o->has_until && r->received_ns > o->until_ns)
        return false;
    if (o->n_provinces) {
        bool hit = false;
        for (size_t i = 0; i < o->n_provinces && !hit; i++)
            hit = r->province && o->provinces[i] == r->province &&
                  (o->province_scheme[i] == 0 ||
                   (r->period && kc_ref_scheme_for(r->period) == o->province_scheme[i]));
        if (!hit)
            return false;
    }
    return true;
}

static int s_scan(const kc_reject_t *r, void *ctx)
{
    s_scan_t *s = ctx;
    if (!s_match(s->o, r, s->producer_len))
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        kc_reject_t *rows = realloc(s->rows, cap * sizeof *rows);
        if (!rows)
            return KC_ENOMEM;
        s->rows = rows;
        s->cap = cap;
    }
    s->rows[s->n++] = *r;
    return 0;
}

static int s_cmp_key(const kc_reject_t *a, const kc_reject_t *b)
{
    size_t n = a->producer_len < b->producer_len ? a->producer_len : b->producer_len;
    int c = memcmp(a->producer, b->producer, n);
    if (c != 0)
        return c;
    if (a->producer_len != b->producer_len)
        return a->producer_len < b->producer_len ? -1 : 1;
    if (a->epoch != b->epoch) /* later epochs, then later seqs, first */
        return a->epoch > b->epoch ? -1 : 1;
    if (a->seq != b->seq)
        return a->seq > b->seq ? -1 : 1;
    return 0;
}

static int s_cmp(const void *pa, const void *pb)
{
    const kc_reject_t *a = pa, *b = pb;
    if (a->has_details != b->has_details)
        return a->has_details ? -1 : 1; /* records without a time last */
    if (a->received_ns != b->received_ns)
        return a->received_ns > b->received_ns ? -1 : 1;
    return s_cmp_key(a, b);
}

int kc_rejects_list(const kc_rejects_opts_t *o, kc_txn_t *txn, kc_rejects_t *out)
{
    memset(out, 0, sizeof *out);
    s_scan_t s = {.o = o, .producer_len = o->producer ? strlen(o->producer) : 0};
    int rc = kc_txn_reject_scan(txn, s_scan, &s);
    if (rc != 0) {
        free(s.rows);
        return rc;
    }
    if (s.n > 1)
        qsort(s.rows, s.n, sizeof *s.rows, s_cmp);
    out->rows = s.rows;
    out->count = s.n;
    out->n = o->limit && s.n > o->limit ? o->limit : s.n;
    out->truncated = out->n < s.n;
    return 0;
}

void kc_rejects_free(kc_rejects_t *r)
{
    if (!r)
        return;
    free(r->rows);
    memset(r, 0, sizeof *r);
}

const char *kc_rejects_code(const kc_reject_t *r, char *buf, size_t cap)
{
    if (r->province)
        snprintf(buf, cap, "%02u", r->province);
    else if (cap)
        buf[0] = '\0';
    return buf;
}

const char *kc_rejects_province_name(const kc_reject_t *r)
{
    if (!r->province)
        return NULL;
    if (r->period) {
        const kc_province_t *p = kc_ref_province_for(r->province, r->period);
        return p ? p->name : NULL;
    }
    const kc_province_t *a = kc_ref_province(63, r->province),
                        *b = kc_ref_province(34, r->province);
    if (a && b)
        return strcmp(a->name, b->name) == 0 ? a->name : NULL;
    return a ? a->name : b ? b->name : NULL;
}

json_t *kc_rejects_json(const kc_rejects_t *r)
{
    json_t *list = json_array();
    if (!list)
        return NULL;
    for (size_t i = 0; i < r->n; i++) {
        const kc_reject_t *x = &r->rows[i];
        char code[8], t[48];
        const char *name = kc_rejects_province_name(x);
        json_t *o = json_object();
        json_object_set_new(o, "producer", kc_json_text(x->producer, x->producer_len));
        json_object_set_new(o, "epoch", json_integer((json_int_t)x->epoch));
        json_object_set_new(o, "seq", json_integer((json_int_t)x->seq));
        json_object_set_new(o, "reason", json_string(kc_reason_name(x->reason)));
        json_object_set_new(o, "text", kc_json_text(x->text, x->text_len));
        json_object_set_new(o, "received",
                            x->has_details
                                ? json_string(kc_qry_fmt_time(t, sizeof t, x->received_ns))
                                : json_null());
        json_object_set_new(o, "province",
                            x->province ? json_string(kc_rejects_code(x, code, sizeof code))
                                        : json_null());
        json_object_set_new(o, "province_name", name ? json_string(name) : json_null());
        json_object_set_new(o, "event_id",
                            x->event_id ? kc_json_text(x->event_id, x->event_id_len) : json_null());
        json_array_append_new(list, o);
    }
    return json_pack("{s:o,s:I,s:b}", "rejects", list, "count", (json_int_t)r->count, "truncated",
                     r->truncated);
}
