/* kc_import.c - spreadsheet rows -> activity events (see kc_import.h). */
#include "kc_import.h"

#include "kc_encode.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_i18n.h"
#include "kc_ref.h"
#include "kc_text.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    C_EVENT_ID = 0,
    C_PROVINCE,
    C_YEAR,
    C_MONTH,
    C_ACTIVITY,
    C_KIND,
    C_FUND,
    C_METRIC0, /* KCI_METRIC_COUNT metric columns, in kcingest.h order */
    C_NOTE = C_METRIC0 + KCI_METRIC_COUNT,
    C_CORRECTS,
    C_COUNT
};

static const char *const s_col_names[C_COUNT] = {
    "event_id",       "province",   "year",        "month",     "activity",         "kind",
    "fund",           "amount_vnd", "revenue_vnd", "persons",   "persons_employed", "facilities",
    "facility_turns", "products",   "events",      "delegates", "projects",         "note",
    "corrects",
};

#define S_REQUIRED_COUNT 5 /* event_id .. activity */
#define S_MAX_PROBLEMS   (C_COUNT + 8)

static const char *const s_reason_names[KC_IMPORT_REASON_COUNT] = {
    [KC_IMPORT_NONE] = "",
    [KC_IMPORT_NO_HEADER] = "no_header",
    [KC_IMPORT_MISSING_COLUMN] = "missing_column",
    [KC_IMPORT_UNKNOWN_COLUMN] = "unknown_column",
    [KC_IMPORT_REPEATED_COLUMN] = "repeated_column",
    [KC_IMPORT_EXTRA_CELL] = "extra_cell",
    [KC_IMPORT_EMPTY_REQUIRED] = "empty_required",
    [KC_IMPORT_NOT_NUMBER] = "not_number",
    [KC_IMPORT_BAD_GROUPING] = "bad_grouping",
    [KC_IMPORT_AMBIGUOUS] = "ambiguous_number",
    [KC_IMPORT_FRACTION] = "fraction",
    [KC_IMPORT_TOO_LARGE] = "too_large",
    [KC_IMPORT_BAD_YEAR] = "bad_year",
    [KC_IMPORT_BAD_MONTH] = "bad_month",
    [KC_IMPORT_UNKNOWN_PROVINCE] = "unknown_province",
    [KC_IMPORT_PROVINCE_SCHEME] = "province_other_scheme",
    [KC_IMPORT_UNKNOWN_ACTIVITY] = "unknown_activity",
    [KC_IMPORT_UNKNOWN_KIND] = "unknown_kind",
    [KC_IMPORT_UNKNOWN_FUND] = "unknown_fund",
    [KC_IMPORT_NO_CORRECTS] = "correction_without_corrects",
    [KC_IMPORT_CORRECTS_ON_RECORD] = "corrects_without_correction",
    [KC_IMPORT_RETRACTION_METRICS] = "retraction_with_metrics",
    [KC_IMPORT_HALF_PERIOD] = "retraction_half_period",
    [KC_IMPORT_INVALID_TEXT] = "invalid_text",
    [KC_IMPORT_REFUSED] = "refused",
};

struct kc_import {
    kc_sheet_t *sheet;
    char *file;
    bool header_done; /* the header row was read */
    bool ended;       /* nothing more to read */
    size_t ncols;     /* header cells */
    int *col_of;      /* header cell -> C_* or -1 (no name) */
    char (*headers)[128];
    int where[C_COUNT]; /* C_* -> header cell, or -1 */
    kc_import_problem_t probs[S_MAX_PROBLEMS];
    size_t nprob, iprob;
    char *buf; /* the current row's trimmed cells, back to back */
    size_t buf_cap;
    const char **cells;
    size_t cells_cap;
    size_t *lens; /* the current row's cells to trim: their lengths (SIZE_MAX: as they are) */
    size_t good, bad_rows;
};

const char *kc_import_reason_name(kc_import_reason_t r)
{
    return (unsigned)r < KC_IMPORT_REASON_COUNT ? s_reason_names[r] : "";
}

const char *kc_import_problem_token(const kc_import_problem_t *p)
{
    if (p->reason == KC_IMPORT_REFUSED && p->rule > 0)
        return kc_reason_name(p->rule);
    return kc_import_reason_name(p->reason);
}

/* ---- small helpers -------------------------------------------------------- */

static void s_letter(int col, char out[8])
{
    char tmp[8];
    size_t n = 0;
    if (col < 0) {
        out[0] = '\0';
        return;
    }
    unsigned c = (unsigned)col + 1;
    while (c && n < sizeof tmp - 1) {
        c--;
        tmp[n++] = (char)('A' + c % 26);
        c /= 26;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

/* Display form of s, cut after about 120 bytes on a character boundary. */
static void s_show(const char *s, char *out, size_t cap)
{
    size_t len = strlen(s), n = len;
    if (n > 120) {
        n = 120;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    size_t w = kc_text_show(s, n, out, cap);
    if (n < len && w + 4 <= cap)
        memcpy(out + w, "...", 4);
}

/* Trimmed copy bounds: ASCII whitespace, NBSP (C2 A0), U+202F (E2 80 AF). */
static void s_trim(const char *s, size_t len, size_t *from, size_t *to)
{
    size_t a = 0, b = len;
    for (;;) {
        if (a < b && (s[a] == ' ' || (s[a] >= '\t' && s[a] <= '\r')))
            a++;
        else if (b - a >= 2 && (unsigned char)s[a] == 0xC2 && (unsigned char)s[a + 1] == 0xA0)
            a += 2;
        else if (b - a >= 3 && memcmp(s + a, "\xE2\x80\xAF", 3) == 0)
            a += 3;
        else
            break;
    }
    for (;;) {
        if (b > a && (s[b - 1] == ' ' || (s[b - 1] >= '\t' && s[b - 1] <= '\r')))
            b--;
        else if (b - a >= 2 && (unsigned char)s[b - 2] == 0xC2 && (unsigned char)s[b - 1] == 0xA0)
            b -= 2;
        else if (b - a >= 3 && memcmp(s + b - 3, "\xE2\x80\xAF", 3) == 0)
            b -= 3;
        else
            break;
    }
    *from = a;
    *to = b;
}

/* Copy the row's cells trimmed into imp->buf / imp->cells. Returns 0 or KC_ENOMEM. */
/* The row's cells, trimmed, in imp->cells: a cell with nothing to trim (nearly
 * every one) is the reader's own text, valid until the next kc_sheet_next; a
 * cell to trim is copied, trimmed, into imp->buf. Returns 0 or KC_ENOMEM. */
static int s_take_cells(kc_import_t *imp, const kc_sheet_row_t *row, bool *all_empty)
{
    if (row->ncells > imp->cells_cap) {
        const char **c = realloc(imp->cells, row->ncells * sizeof *c);
        size_t *l = realloc(imp->lens, row->ncells * sizeof *l);
        if (c)
            imp->cells = c;
        if (l)
            imp->lens = l;
        if (!c || !l)
            return KC_ENOMEM;
        imp->cells_cap = row->ncells;
    }
    size_t need = 0;
    *all_empty = true;
    for (size_t i = 0; i < row->ncells; i++) {
        const char *c = row->cells[i];
        size_t len = c[0] ? strlen(c) : 0, a, b;
        s_trim(c, len, &a, &b);
        imp->cells[i] = c;
        imp->lens[i] = SIZE_MAX; /* as it is */
        if (a > 0 || b < len) {
            imp->lens[i] = len;
            need += b - a + 1;
        }
        if (b > a)
            *all_empty = false;
    }
    if (!need)
        return 0;
    if (need > imp->buf_cap) {
        char *nb = realloc(imp->buf, need);
        if (!nb)
            return KC_ENOMEM;
        imp->buf = nb;
        imp->buf_cap = need;
    }
    size_t off = 0;
    for (size_t i = 0; i < row->ncells; i++) {
        if (imp->lens[i] == SIZE_MAX)
            continue;
        size_t a, b;
        s_trim(row->cells[i], imp->lens[i], &a, &b);
        memcpy(imp->buf + off, row->cells[i] + a, b - a);
        imp->buf[off + b - a] = '\0';
        imp->cells[i] = imp->buf + off;
        off += b - a + 1;
    }
    return 0;
}

static void s_loc(const kc_import_t *imp, long row, int col, kc_import_loc_t *loc)
{
    memset(loc, 0, sizeof *loc);
    loc->file = imp->file;
    loc->sheet = kc_sheet_name(imp->sheet);
    loc->row = row;
    loc->col = col;
    s_letter(col, loc->letter);
    if (col >= 0 && imp->headers && (size_t)col < imp->ncols)
        memcpy(loc->header, imp->headers[col], sizeof loc->header);
}

static kc_import_problem_t *s_problem(kc_import_t *imp, kc_import_reason_t reason, long row,
                                      int col, const char *cell)
{
    if (imp->nprob == S_MAX_PROBLEMS)
        return NULL; /* cannot happen: at most one per column plus the row-level ones */
    kc_import_problem_t *p = &imp->probs[imp->nprob++];
    memset(p, 0, sizeof *p);
    p->reason = reason;
    s_loc(imp, row, col, &p->loc);
    if (col >= 0 && imp->col_of && (size_t)col < imp->ncols && imp->col_of[col] >= 0)
        p->column = s_col_names[imp->col_of[col]];
    if (cell)
        s_show(cell, p->text, sizeof p->text);
    return p;
}

/* ---- the header ----------------------------------------------------------- */

static int s_header(kc_import_t *imp, const kc_sheet_row_t *row)
{
    imp->ncols = row->ncells;
    imp->col_of = calloc(row->ncells ? row->ncells : 1, sizeof *imp->col_of);
    imp->headers = calloc(row->ncells ? row->ncells : 1, sizeof *imp->headers);
    if (!imp->col_of || !imp->headers)
        return KC_ENOMEM;
    for (size_t i = 0; i < row->ncells; i++)
        s_show(imp->cells[i], imp->headers[i], sizeof imp->headers[i]);
    for (int c = 0; c < C_COUNT; c++)
        imp->where[c] = -1;
    for (size_t i = 0; i < row->ncells; i++) {
        const char *h = imp->cells[i], *name = NULL;
        imp->col_of[i] = -1;
        if (!*h)
            continue;
        kc_value_hint_t hint;
        kc_value_reason_t vr = kc_value_column(h, &name, &hint);
        int col = -1;
        for (int c = 0; vr == KC_VALUE_OK && c < C_COUNT && col < 0; c++)
            if (strcmp(name, s_col_names[c]) == 0)
                col = c;
        if (col < 0) {
            kc_import_problem_t *p = s_problem(imp, KC_IMPORT_UNKNOWN_COLUMN, row->row, (int)i, h);
            if (p) {
                p->hint = hint;
                if (vr == KC_VALUE_OK)
                    memset(&p->hint.suggest, 0, sizeof p->hint.suggest);
            }
            continue;
        }
        if (imp->where[col] >= 0) {
            kc_import_problem_t *p = s_problem(imp, KC_IMPORT_REPEATED_COLUMN, row->row, (int)i, h);
            if (p) {
                p->column = s_col_names[col];
                s_letter(imp->where[col], p->detail);
            }
            continue;
        }
        imp->where[col] = (int)i;
        imp->col_of[i] = col;
    }
    char missing[256] = "";
    for (int c = 0; c < S_REQUIRED_COUNT; c++)
        if (imp->where[c] < 0) {
            size_t w = strlen(missing);
            snprintf(missing + w, sizeof missing - w, "%s%s", w ? ", " : "", s_col_names[c]);
        }
    if (*missing) {
        kc_import_problem_t *p = s_problem(imp, KC_IMPORT_MISSING_COLUMN, row->row, -1, NULL);
        if (p)
            snprintf(p->detail, sizeof p->detail, "%s", missing);
    }
    if (imp->nprob)
        imp->ended = true; /* a bad header: no row is read */
    return 0;
}

/* ---- a row ---------------------------------------------------------------- */

/* A number cell of column index i; returns true and *out on success, else
 * records the problem. */
static bool s_number(kc_import_t *imp, long row, int i, const char *v, int64_t *out)
{
    kc_value_hint_t hint;
    kc_value_reason_t vr = kc_value_int(v, out, &hint);
    kc_import_reason_t r;
    switch (vr) {
    case KC_VALUE_OK: return true;
    case KC_VALUE_AMBIGUOUS: r = KC_IMPORT_AMBIGUOUS; break;
    case KC_VALUE_FRACTION: r = KC_IMPORT_FRACTION; break;
    case KC_VALUE_OVERFLOW: r = KC_IMPORT_TOO_LARGE; break;
    case KC_VALUE_BAD_GROUPING: r = KC_IMPORT_BAD_GROUPING; break;
    default: r = KC_IMPORT_NOT_NUMBER; break;
    }
    kc_import_problem_t *p = s_problem(imp, r, row, i, v);
    if (p)
        p->hint = hint;
    return false;
}

static kc_import_reason_t s_unknown_of(kc_value_field_t f)
{
    return f == KC_VF_ACTIVITY ? KC_IMPORT_UNKNOWN_ACTIVITY
           : f == KC_VF_KIND   ? KC_IMPORT_UNKNOWN_KIND
                               : KC_IMPORT_UNKNOWN_FUND;
}

static bool s_word(kc_import_t *imp, long row, int i, kc_value_field_t f, const char *v,
                   const char **out)
{
    kc_value_hint_t hint;
    if (kc_value_word(f, v, out, &hint) == KC_VALUE_OK)
        return true;
    kc_import_problem_t *p = s_problem(imp, s_unknown_of(f), row, i, v);
    if (p)
        p->hint = hint;
    return false;
}

static void s_row(kc_import_t *imp, const kc_sheet_row_t *row, kc_event_t *ev)
{
    long r = row->row;
    const char *v[C_COUNT];
    for (int c = 0; c < C_COUNT; c++) {
        int i = imp->where[c];
        v[c] = i >= 0 && (size_t)i < row->ncells ? imp->cells[i] : "";
    }
    /* cells under no header */
    for (size_t i = 0; i < row->ncells; i++)
        if (*imp->cells[i] && (i >= imp->ncols || imp->col_of[i] < 0))
            s_problem(imp, KC_IMPORT_EXTRA_CELL, r, (int)i, imp->cells[i]);

    memset(ev, 0, sizeof *ev);
    /* the text rule for ids and free text */
    static const int texts[] = {C_EVENT_ID, C_CORRECTS, C_NOTE};
    for (size_t k = 0; k < sizeof texts / sizeof texts[0]; k++) {
        int c = texts[k];
        size_t len = strlen(v[c]), at = kc_text_utf8_bad_at(v[c], len);
        bool utf8 = at < len;
        if (!utf8 && (c == C_NOTE ? kc_text_free_ok(v[c], len) : kc_text_id_ok(v[c], len)))
            continue;
        if (!utf8) {
            const unsigned char *u = (const unsigned char *)v[c];
            for (at = 0; at < len; at++) {
                bool ctl =
                    u[at] < 0x20 || u[at] == 0x7F ||
                    (u[at] == 0xC2 && at + 1 < len && u[at + 1] >= 0x80 && u[at + 1] <= 0x9F);
                if (ctl && !(c == C_NOTE && (u[at] == '\t' || u[at] == '\n' || u[at] == '\r')))
                    break;
            }
        }
        kc_import_problem_t *p = s_problem(imp, KC_IMPORT_INVALID_TEXT, r, imp->where[c], v[c]);
        if (p) {
            p->hint.offset = at;
            snprintf(p->detail, sizeof p->detail, "%s", utf8 ? "utf8" : "control");
        }
    }

    /* kind first: it decides what is required */
    const char *kind = NULL;
    bool kind_ok = !*v[C_KIND] || s_word(imp, r, imp->where[C_KIND], KC_VF_KIND, v[C_KIND], &kind);
    bool retraction = kind_ok && kind && strcmp(kind, "retraction") == 0;
    bool correction = kind_ok && kind && strcmp(kind, "correction") == 0;
    if (kind_ok) {
        ev->op = retraction ? KCI_OP_RETRACTION : correction ? KCI_OP_CORRECTION : KCI_OP_RECORD;
        ev->kind = (retraction || correction)          ? KCI_KIND_DEFAULT
                   : kind && strcmp(kind, "plan") == 0 ? KCI_KIND_PLAN
                                                       : KCI_KIND_ACTUAL;
    }

    /* required cells */
    if (!*v[C_EVENT_ID])
        s_problem(imp, KC_IMPORT_EMPTY_REQUIRED, r, imp->where[C_EVENT_ID], "");
    if (!*v[C_PROVINCE])
        s_problem(imp, KC_IMPORT_EMPTY_REQUIRED, r, imp->where[C_PROVINCE], "");

    /* the period */
    int64_t year = 0, month = 0;
    bool year_ok = false, month_ok = false;
    if (*v[C_YEAR] && s_number(imp, r, imp->where[C_YEAR], v[C_YEAR], &year)) {
        year_ok = year >= 1 && year <= 9999;
        if (!year_ok)
            s_problem(imp, KC_IMPORT_BAD_YEAR, r, imp->where[C_YEAR], v[C_YEAR]);
    }
    if (*v[C_MONTH] && s_number(imp, r, imp->where[C_MONTH], v[C_MONTH], &month)) {
        month_ok = month >= 1 && month <= 12;
        if (!month_ok)
            s_problem(imp, KC_IMPORT_BAD_MONTH, r, imp->where[C_MONTH], v[C_MONTH]);
    }
    if (kind_ok && !retraction) {
        if (!*v[C_YEAR])
            s_problem(imp, KC_IMPORT_EMPTY_REQUIRED, r, imp->where[C_YEAR], "");
        if (!*v[C_MONTH])
            s_problem(imp, KC_IMPORT_EMPTY_REQUIRED, r, imp->where[C_MONTH], "");
    }
    int32_t period = year_ok && month_ok ? (int32_t)(year * 100 + month) : 0;
    ev->year = year_ok ? (int)year : 0;
    ev->month = month_ok ? (int)month : 0;

    /* province, under the period's scheme (or either without one) */
    if (*v[C_PROVINCE]) {
        const kc_province_t *prov = NULL;
        kc_value_hint_t hint;
        int32_t under = period ? period : 209912; /* the newer scheme first */
        kc_value_reason_t vr = kc_value_province(v[C_PROVINCE], under, &prov, &hint);
        if (vr == KC_VALUE_OTHER_SCHEME && !period && hint.other) {
            prov = hint.other;
            vr = KC_VALUE_OK;
        }
        if (vr == KC_VALUE_OK) {
            ev->province = prov->code_str;
        } else {
            kc_import_problem_t *p =
                s_problem(imp,
                          vr == KC_VALUE_OTHER_SCHEME ? KC_IMPORT_PROVINCE_SCHEME
                                                      : KC_IMPORT_UNKNOWN_PROVINCE,
                          r, imp->where[C_PROVINCE], v[C_PROVINCE]);
            if (p) {
                p->hint = hint;
                p->period = period;
            }
        }
    }

    /* activity */
    if (*v[C_ACTIVITY]) {
        const kc_activity_t *act = NULL;
        kc_value_hint_t hint;
        if (kc_value_activity(v[C_ACTIVITY], &act, &hint) == KC_VALUE_OK) {
            ev->activity = act->name;
        } else {
            kc_import_problem_t *p = s_problem(imp, KC_IMPORT_UNKNOWN_ACTIVITY, r,
                                               imp->where[C_ACTIVITY], v[C_ACTIVITY]);
            if (p)
                p->hint = hint;
        }
    } else if (kind_ok && !retraction) {
        s_problem(imp, KC_IMPORT_EMPTY_REQUIRED, r, imp->where[C_ACTIVITY], "");
    }

    /* fund */
    const char *fund = NULL;
    if (*v[C_FUND] && s_word(imp, r, imp->where[C_FUND], KC_VF_FUND, v[C_FUND], &fund))
        ev->fund = strcmp(fund, "kcqg") == 0   ? KCI_FUND_KCQG
                   : strcmp(fund, "kcdp") == 0 ? KCI_FUND_KCDP
                                               : KCI_FUND_OTHER;
    else if (!*v[C_FUND])
        ev->fund = retraction ? KCI_FUND_DEFAULT : KCI_FUND_OTHER;

    /* metrics */
    int first_metric = -1;
    for (int m = 0; m < KCI_METRIC_COUNT; m++) {
        const char *s = v[C_METRIC0 + m];
        int i = imp->where[C_METRIC0 + m];
        int64_t n;
        if (!*s)
            continue;
        if (first_metric < 0)
            first_metric = i;
        if (!s_number(imp, r, i, s, &n))
            continue;
        const kc_metric_info_t *mi = kc_ref_metric(m);
        if (mi && mi->max > 0 && n > mi->max) {
            kc_import_problem_t *p = s_problem(imp, KC_IMPORT_TOO_LARGE, r, i, s);
            if (p)
                p->limit = mi->max;
            continue;
        }
        ev->present |= 1u << m;
        ev->metrics[m] = n;
    }

    /* the structural rules of corrections and retractions */
    if (kind_ok) {
        if ((retraction || correction) && !*v[C_CORRECTS]) {
            int at = imp->where[C_CORRECTS] >= 0 ? imp->where[C_CORRECTS] : imp->where[C_KIND];
            kc_import_problem_t *p = s_problem(imp, KC_IMPORT_NO_CORRECTS, r, at, "");
            if (p)
                snprintf(p->detail, sizeof p->detail, "%s", kind);
        }
        if (!retraction && !correction && *v[C_CORRECTS])
            s_problem(imp, KC_IMPORT_CORRECTS_ON_RECORD, r, imp->where[C_CORRECTS], v[C_CORRECTS]);
        if (retraction && !*v[C_YEAR] != !*v[C_MONTH]) {
            int at = *v[C_YEAR] ? imp->where[C_MONTH] : imp->where[C_YEAR];
            s_problem(imp, KC_IMPORT_HALF_PERIOD, r, at, "");
        }
        if (retraction && first_metric >= 0)
            s_problem(imp, KC_IMPORT_RETRACTION_METRICS, r, first_metric, imp->cells[first_metric]);
    }
    ev->event_id = v[C_EVENT_ID];
    ev->note = *v[C_NOTE] ? v[C_NOTE] : NULL;
    ev->corrects = *v[C_CORRECTS] ? v[C_CORRECTS] : NULL;
}

/* The aggregator's rules for the row alone, on a row that passed the
 * import's own: the first rule broken becomes one problem at its column. */
static void s_rules(kc_import_t *imp, long r, const kc_event_t *ev)
{
    char why[256];
    int rule = kc_encode_check(ev, why, sizeof why);
    if (rule == 0)
        return;
    const kc_activity_t *act = ev->activity ? kc_ref_activity_lookup(ev->activity) : NULL;
    int c = -1;
    switch (rule) {
    case KCPIPE__V1__REASON__REASON_BAD_YEAR: c = C_YEAR; break;
    case KCPIPE__V1__REASON__REASON_NOTE_TOO_LONG: c = C_NOTE; break;
    case KCPIPE__V1__REASON__REASON_EVENT_ID_TOO_LONG:
        c = strlen(ev->event_id) > KC_EVENT_ID_MAX ? C_EVENT_ID : C_CORRECTS;
        break;
    case KCPIPE__V1__REASON__REASON_EMPLOYED_EXCEEDS_PERSONS:
        c = C_METRIC0 + KC_M_PERSONS_EMPLOYED;
        break;
    case KCPIPE__V1__REASON__REASON_METRIC_NOT_ALLOWED:
    case KCPIPE__V1__REASON__REASON_NEGATIVE_VALUE:
        for (int m = 0; m < KCI_METRIC_COUNT && c < 0; m++)
            if ((ev->present & (1u << m)) && (rule == KCPIPE__V1__REASON__REASON_NEGATIVE_VALUE
                                                  ? ev->metrics[m] < 0
                                                  : !(act && (act->metric_mask & (1u << m)))))
                c = C_METRIC0 + m;
        break;
    default: break;
    }
    int col = c >= 0 ? imp->where[c] : -1;
    kc_import_problem_t *p =
        s_problem(imp, KC_IMPORT_REFUSED, r, col, col >= 0 ? imp->cells[col] : NULL);
    if (p) {
        p->rule = rule > 0 ? rule : 0;
        p->activity = act ? act->name : NULL;
        if (c >= 0)
            p->column = s_col_names[c];
        snprintf(p->detail, sizeof p->detail, "%s", rule > 0 ? why : "cannot be encoded");
    }
}

/* ---- the API -------------------------------------------------------------- */

int kc_import_open(kc_import_t **out, const char *path, const kc_sheet_opts_t *opts, char *err,
                   size_t cap)
{
    *out = NULL;
    kc_import_t *imp = calloc(1, sizeof *imp);
    if (!imp || !(imp->file = strdup(path))) {
        free(imp);
        if (cap)
            snprintf(err, cap, "%s: out of memory", path);
        return KC_ENOMEM;
    }
    int rc = kc_sheet_open(&imp->sheet, path, opts, err, cap);
    if (rc < 0) {
        free(imp->file);
        free(imp);
        return rc;
    }
    *out = imp;
    return 0;
}

int kc_import_next(kc_import_t *imp, kc_import_item_t *item, char *err, size_t cap)
{
    /* every field of an item is set below before it is handed over (an event
     * item leaves `problem` alone): no clearing of the whole kilobyte per row */
    item->is_event = false;
    for (;;) {
        if (imp->iprob < imp->nprob) {
            item->is_event = false;
            item->problem = imp->probs[imp->iprob++];
            item->loc = item->problem.loc;
            return 1;
        }
        imp->nprob = imp->iprob = 0;
        if (imp->ended)
            return 0;
        kc_sheet_row_t row;
        int rc = kc_sheet_next(imp->sheet, &row, err, cap);
        if (rc < 0) {
            imp->ended = true;
            return rc;
        }
        bool all_empty = true;
        if (rc == 0) {
            imp->ended = true;
            if (!imp->header_done)
                s_problem(imp, KC_IMPORT_NO_HEADER, 0, -1, NULL);
            continue;
        }
        if (s_take_cells(imp, &row, &all_empty) < 0) {
            imp->ended = true;
            if (cap)
                snprintf(err, cap, "%s: out of memory", imp->file);
            return KC_ENOMEM;
        }
        if (all_empty)
            continue;
        if (!imp->header_done) {
            imp->header_done = true;
            if (s_header(imp, &row) < 0) {
                imp->ended = true;
                if (cap)
                    snprintf(err, cap, "%s: out of memory", imp->file);
                return KC_ENOMEM;
            }
            continue;
        }
        kc_event_t ev;
        s_row(imp, &row, &ev);
        if (!imp->nprob)
            s_rules(imp, row.row, &ev);
        if (imp->nprob) {
            int at = imp->where[C_EVENT_ID];
            if (at >= 0 && (size_t)at < row.ncells)
                for (size_t i = 0; i < imp->nprob; i++)
                    s_show(imp->cells[at], imp->probs[i].event_id, sizeof imp->probs[i].event_id);
            imp->bad_rows++;
            continue;
        }
        imp->good++;
        item->is_event = true;
        item->event = ev;
        s_loc(imp, row.row, -1, &item->loc);
        return 1;
    }
}

size_t kc_import_good(const kc_import_t *imp)
{
    return imp->good;
}

size_t kc_import_bad_rows(const kc_import_t *imp)
{
    return imp->bad_rows;
}

void kc_import_close(kc_import_t **imp)
{
    if (!imp || !*imp)
        return;
    kc_import_t *p = *imp;
    kc_sheet_close(&p->sheet);
    free(p->file);
    free(p->col_of);
    free(p->headers);
    free(p->buf);
    free(p->cells);
    free(p->lens);
    free(p);
    *imp = NULL;
}

/* ---- messages ------------------------------------------------------------- */

typedef struct {
    char *buf;
    size_t cap, len;
} s_out_t;

static void s_put(s_out_t *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void s_put(s_out_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = o->len < o->cap ? o->cap - o->len : 0;
    int n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        o->len += (size_t)n;
}

static const char *s_base(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* "did you mean X (label)?" or the valid values, shortened. */
static void s_suggest_or_list(s_out_t *o, const kc_import_problem_t *p, kc_value_field_t f)
{
    const kc_value_item_t *s = &p->hint.suggest;
    if (s->value) {
        if (s->label)
            s_put(o, _(": did you mean %s (%s)?"), s->value, s->label);
        else
            s_put(o, _(": did you mean %s?"), s->value);
        return;
    }
    kc_value_item_t items[80];
    size_t n = kc_value_list(f, p->period ? p->period : 209912, items, 80);
    size_t shown = n > 80 ? 80 : n;
    if (n > 12)
        shown = 8;
    s_put(o, "%s", _(": valid values are "));
    for (size_t i = 0; i < shown; i++) {
        s_put(o, "%s%s", i ? ", " : "", items[i].value);
        if (items[i].label && f == KC_VF_PROVINCE)
            s_put(o, " (%s)", items[i].label);
    }
    if (shown < n)
        s_put(o, _(" and %zu more"), n - shown);
}

/* "amount_vnd (kinh phí), persons (người được đào tạo)": the metrics an
 * activity takes, with their labels in the current language. */
static void s_metric_list(s_out_t *o, const char *activity)
{
    const kc_activity_t *act = activity ? kc_ref_activity_lookup(activity) : NULL;
    if (!act)
        return;
    bool vi = kc_i18n_lang() == KC_LANG_VI;
    int n = 0;
    for (int m = 0; m < KC_METRIC_COUNT; m++)
        if (act->metric_mask & (1u << m)) {
            const kc_metric_info_t *mi = kc_ref_metric(m);
            s_put(o, "%s%s (%s)", n++ ? ", " : "", mi->name, vi ? mi->label_vi : mi->label_en);
        }
}

static const char *s_act_label(const char *activity)
{
    const kc_activity_t *act = activity ? kc_ref_activity_lookup(activity) : NULL;
    if (!act)
        return "";
    return kc_i18n_lang() == KC_LANG_VI ? act->label_vi : act->label_en;
}

static void s_refused_text(s_out_t *o, const kc_import_problem_t *p)
{
    const char *t = p->text, *col = p->column ? p->column : "";
    switch (p->rule) {
    case KCPIPE__V1__REASON__REASON_BAD_YEAR:
        s_put(o, _("'%s' is outside the years kcpipe accepts (%d-%d)"), t, KC_YEAR_MIN,
              KC_YEAR_MAX);
        break;
    case KCPIPE__V1__REASON__REASON_METRIC_NOT_ALLOWED:
        s_put(o, _("%s is not a figure of activity %s (%s); it takes: "), col,
              p->activity ? p->activity : "", s_act_label(p->activity));
        s_metric_list(o, p->activity);
        break;
    case KCPIPE__V1__REASON__REASON_NO_METRICS:
        s_put(o, _("the row has no figure; activity %s (%s) takes: "),
              p->activity ? p->activity : "", s_act_label(p->activity));
        s_metric_list(o, p->activity);
        break;
    case KCPIPE__V1__REASON__REASON_NEGATIVE_VALUE:
        s_put(o,
              _("'%s' is negative: figures are never negative; to lower an accepted figure send "
                "a correction (kind=correction, corrects=ID) with the new value"),
              t);
        break;
    case KCPIPE__V1__REASON__REASON_EMPLOYED_EXCEEDS_PERSONS:
        s_put(o,
              _("%s people employed is more than the people trained (persons): check both "
                "figures"),
              t);
        break;
    case KCPIPE__V1__REASON__REASON_NOTE_TOO_LONG:
        s_put(o, _("the note is longer than %d bytes: shorten it"), KC_NOTE_MAX);
        break;
    case KCPIPE__V1__REASON__REASON_EVENT_ID_TOO_LONG:
        s_put(o, _("'%s' is longer than %d bytes: use a shorter id"), t, KC_EVENT_ID_MAX);
        break;
    default:
        s_put(o, "%s: %s", p->rule > 0 ? kc_reason_name(p->rule) : "refused", p->detail);
        break;
    }
}

size_t kc_import_problem_text(const kc_import_problem_t *p, char *buf, size_t cap)
{
    s_out_t o = {buf, cap, 0};
    if (cap)
        buf[0] = '\0';
    const kc_import_loc_t *l = &p->loc;
    /* the file as the clerk named it, and a workbook's sheet as its tab shows it */
    char where[512];
    const char *base = s_base(l->file ? l->file : "");
    if (l->sheet && *l->sheet)
        snprintf(where, sizeof where, "%s [%s]", base, l->sheet);
    else
        snprintf(where, sizeof where, "%s", base);
    if (l->row <= 0)
        s_put(&o, "%s", where);
    else if (l->col < 0)
        s_put(&o, _("%s row %ld"), where, l->row);
    else if (*l->header)
        s_put(&o, _("%s row %ld, column %s (%s)"), where, l->row, l->letter, l->header);
    else
        s_put(&o, _("%s row %ld, column %s"), where, l->row, l->letter);
    s_put(&o, "%s", ": ");
    const char *t = p->text, *col = p->column ? p->column : "";
    const kc_value_hint_t *h = &p->hint;
    switch (p->reason) {
    case KC_IMPORT_NO_HEADER: s_put(&o, "%s", _("the file has no header row (it is empty)")); break;
    case KC_IMPORT_MISSING_COLUMN:
        s_put(&o, _("required columns missing from the header: %s"), p->detail);
        break;
    case KC_IMPORT_UNKNOWN_COLUMN:
        s_put(&o, _("unknown column '%s'"), t);
        s_suggest_or_list(&o, p, KC_VF_COLUMN);
        break;
    case KC_IMPORT_REPEATED_COLUMN:
        s_put(&o, _("column %s appears a second time (first in column %s): delete one of them"),
              col, p->detail);
        break;
    case KC_IMPORT_EXTRA_CELL:
        s_put(&o,
              _("'%s' is in a column without a header: give the column a header or clear "
                "the cell"),
              t);
        break;
    case KC_IMPORT_EMPTY_REQUIRED: s_put(&o, _("%s is empty but required"), col); break;
    case KC_IMPORT_NOT_NUMBER:
        s_put(&o, _("'%s' is not a number: write digits only, e.g. 1200000"), t);
        break;
    case KC_IMPORT_BAD_GROUPING:
        s_put(&o,
              _("'%s' is not a number: thousands separators must split the digits in groups of "
                "three, e.g. 1.200.000"),
              t);
        break;
    case KC_IMPORT_AMBIGUOUS:
        s_put(&o,
              _("'%s' could be %" PRId64 " ('%c' separating thousands) or %s ('%c' as the decimal "
                "point): write %" PRId64 " without separators"),
              t, h->grouped, h->sep, h->decimal, h->sep, h->grouped);
        if (!strchr(h->decimal, '.'))
            s_put(&o, _(", or %s if that is what you mean"), h->decimal);
        break;
    case KC_IMPORT_FRACTION:
        s_put(&o, _("'%s' is not a whole number: amounts are whole đồng and counts are whole"), t);
        break;
    case KC_IMPORT_TOO_LARGE:
        if (p->limit)
            s_put(&o, _("'%s' is larger than the largest %s allowed in one row (%" PRId64 ")"), t,
                  col, p->limit);
        else
            s_put(&o, _("'%s' is too large to be a figure"), t);
        break;
    case KC_IMPORT_BAD_YEAR:
        s_put(&o, _("'%s' is not a year: write it in full, e.g. 2025"), t);
        break;
    case KC_IMPORT_BAD_MONTH: s_put(&o, _("'%s' is not a month: write 1 to 12"), t); break;
    case KC_IMPORT_UNKNOWN_PROVINCE:
        s_put(&o, _("unknown province '%s'"), t);
        s_suggest_or_list(&o, p, KC_VF_PROVINCE);
        break;
    case KC_IMPORT_PROVINCE_SCHEME: {
        int y = (int)(p->period / 100), m = (int)(p->period % 100);
        const kc_province_t *u = h->other, *s = h->successor;
        if (!u) {
            s_put(&o, _("unknown province '%s'"), t);
        } else if (s) {
            s_put(&o,
                  _("'%s' is %s (%s), which was merged into %s (%s) on 2025-07-01: for %04d-%02d "
                    "write %s"),
                  t, u->code_str, u->name, s->code_str, s->name, y, m, s->code_str);
        } else if (u->scheme == 34) {
            s_put(&o,
                  _("'%s' is %s (%s) of the 34 provinces in force from 2025-07; for %04d-%02d use "
                    "the 63 provinces in force then"),
                  t, u->code_str, u->name, y, m);
        } else {
            s_put(&o,
                  _("'%s' is %s (%s) of the 63 provinces in force until 2025-06; for %04d-%02d use "
                    "the 34 provinces in force then"),
                  t, u->code_str, u->name, y, m);
        }
        break;
    }
    case KC_IMPORT_UNKNOWN_ACTIVITY:
        s_put(&o, _("unknown activity '%s'"), t);
        s_suggest_or_list(&o, p, KC_VF_ACTIVITY);
        break;
    case KC_IMPORT_UNKNOWN_KIND:
        s_put(&o, _("unknown kind '%s'"), t);
        s_suggest_or_list(&o, p, KC_VF_KIND);
        break;
    case KC_IMPORT_UNKNOWN_FUND:
        s_put(&o, _("unknown fund '%s'"), t);
        s_suggest_or_list(&o, p, KC_VF_FUND);
        break;
    case KC_IMPORT_NO_CORRECTS:
        s_put(&o, _("a %s needs corrects: the event_id of the row it replaces"), p->detail);
        break;
    case KC_IMPORT_CORRECTS_ON_RECORD:
        s_put(&o, _("corrects '%s' is set but kind is not correction or retraction"), t);
        s_put(&o, "%s", "; ");
        s_put(&o, "%s",
              _("to change an accepted row send a correction: kind=correction, corrects=ID"));
        break;
    case KC_IMPORT_RETRACTION_METRICS:
        s_put(&o, "%s", _("a retraction carries no figures: leave the figure cells empty"));
        break;
    case KC_IMPORT_HALF_PERIOD:
        s_put(&o, "%s", _("a retraction gives both year and month or neither"));
        break;
    case KC_IMPORT_INVALID_TEXT:
        if (strcmp(p->detail, "utf8") == 0)
            s_put(&o, _("'%s' is not valid UTF-8 text (byte %zu)"), t, h->offset);
        else
            s_put(&o,
                  _("'%s' holds a control character (byte %zu): remove the line break, tab or "
                    "other invisible character"),
                  t, h->offset);
        break;
    case KC_IMPORT_REFUSED: s_refused_text(&o, p); break;
    default: s_put(&o, "%s", kc_import_reason_name(p->reason)); break;
    }
    return o.len;
}

size_t kc_import_correction_hint(const char *event_id, char *buf, size_t cap)
{
    char shown[256];
    kc_text_shows(event_id, shown, sizeof shown);
    int n = snprintf(buf, cap,
                     _("to change an accepted row send a correction: kind=correction, corrects=%s"),
                     shown);
    return n > 0 ? (size_t)n : 0;
}
