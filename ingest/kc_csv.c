/* kc_csv.c - activity events from CSV files, with libcsv (see kc_csv.h).
 *
 * DESIGN - physical line numbers
 * libcsv reports fields and rows but not where they are. The file is therefore
 * fed to csv_parse() one physical line at a time (getline): a row starts on the
 * first non-blank line fed while no row is open, and ends during the feed of
 * the line whose newline terminates it (or at csv_fini for a last line without
 * one). A quoted cell that spans lines keeps the row open, so the row keeps
 * the line where it began. After a strict-mode parse error the parser is
 * re-created and reading resumes at the next physical line. A physical line
 * ends at LF, or at a CR not followed by LF (classic Mac files, whose rows
 * libcsv also ends at CR), so such files get real line numbers too.
 */
#include "kc_csv.h"

#include "kc_err.h"
#include "kc_i18n.h"
#include "kc_text.h"

#include <csv.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

typedef struct {
    const char *file;       /* path being read */
    kc_csv_row_fn row_fn;   /* good rows go here */
    kc_csv_error_fn err_fn; /* malformed rows go here */
    void *ctx;              /* for both callbacks */
    kc_csv_stats_t *st;     /* counters */
    long line;              /* physical line being fed */
    long row_line;          /* line where the open row began */
    bool in_row;            /* a row is open */
    bool have_header;       /* the header row was read */
    int header_rc;          /* KC_EFORMAT once the header was refused */
    int stop_rc;            /* non-zero: stop (row_fn's value or KC_ENOMEM) */
    size_t n_cols;          /* fields per row (header width) */
    int *col_of_field;      /* header field index -> C_* (owned) */
    char *text;             /* the open row's cells, NUL-terminated, back to back */
    size_t text_len, text_cap;
    size_t *off; /* offset of each cell in text */
    size_t n_fields, cap_fields;
    size_t nul_field; /* the first cell holding a NUL byte, or SIZE_MAX */
    size_t nul_at;    /* the offset of that byte in the cell */
} s_reader_t;

int kc_csv_parse_i64(const char *s, int64_t *out)
{
    const char *p = s;
    bool neg = *p == '-';
    if (neg)
        p++;
    if (*p < '0' || *p > '9')
        return KC_EINVAL;
    uint64_t v = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    bool over = false;
    for (; *p >= '0' && *p <= '9'; p++) {
        unsigned d = (unsigned)(*p - '0');
        if (v > (lim - d) / 10)
            over = true;
        else
            v = v * 10 + d;
    }
    if (*p)
        return KC_EINVAL;
    if (over)
        return KC_EOVERFLOW;
    *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return 0;
}

/* What to do about text that is not UTF-8: the usual cause is a spreadsheet
 * saved in a legacy code page (Vietnamese Windows-1258, or UTF-16). */
static const char s_save_as_utf8[] =
    N_("the file is probably not saved as UTF-8 (e.g. Windows-1258): in Excel, save it as "
       "\"CSV UTF-8 (Comma delimited)\"; in LibreOffice, choose the character set Unicode (UTF-8)");

/* The display form (kc_text_show: always valid UTF-8, bad bytes and control
 * characters as \xNN) of the cell v[0..len) around byte `at` into out[cap]:
 * at most 48 bytes of the cell, "..." where it was cut. */
static const char *s_show(const char *v, size_t len, size_t at, char *out, size_t cap)
{
    size_t from = 0, n = len;
    if (at > 32) { /* start 16 bytes before `at`, on a character boundary */
        from = at - 16;
        while (from > 0 && ((unsigned char)v[from] & 0xC0) == 0x80)
            from--;
    }
    if (n - from > 48)
        n = from + 48;
    size_t w = (size_t)snprintf(out, cap, "%s", from ? "..." : "");
    if (w < cap)
        w += kc_text_show(v + from, n - from, out + w, cap - w);
    if (n < len && w + 3 < cap)
        memcpy(out + w, "...", 4);
    return out;
}

/* The display form of a whole cell, cut after 48 bytes (for messages). */
static const char *s_shows(const char *v, char *out, size_t cap)
{
    return s_show(v, strlen(v), 0, out, cap);
}

/* Offset of the first control character in the valid UTF-8 v[0..len) that
 * the text rule of kc_text.h forbids (all of C0, DEL, C1; in free text all but
 * tab, LF and CR); only to point at it once kc_text_id_ok/kc_text_free_ok said
 * no. len if there is none. */
static size_t s_control_at(const char *v, size_t len, bool free_text)
{
    const unsigned char *u = (const unsigned char *)v;
    for (size_t i = 0; i < len; i++) {
        if (u[i] < 0x20 || u[i] == 0x7F) {
            if (!(free_text && (u[i] == '\t' || u[i] == '\n' || u[i] == '\r')))
                return i;
        } else if (u[i] == 0xC2 && i + 1 < len && u[i + 1] >= 0x80 && u[i + 1] <= 0x9F) {
            return i; /* C1: U+0080-U+009F */
        }
    }
    return len;
}

static int s_no_space(unsigned char c)
{
    (void)c;
    return 0; /* cells are taken verbatim: " 12" is not an integer */
}

static int s_init_parser(struct csv_parser *cp)
{
    if (csv_init(cp, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return KC_ENOMEM;
    csv_set_space_func(cp, s_no_space);
    return 0;
}

static void s_malformed(s_reader_t *r, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_malformed(s_reader_t *r, long line, const char *fmt, ...)
{
    char reason[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reason, sizeof reason, fmt, ap);
    va_end(ap);
    r->st->rows++;
    r->st->malformed++;
    if (r->err_fn)
        r->err_fn(r->file, line, reason, r->ctx);
}

static void s_on_field(void *s, size_t len, void *data)
{
    s_reader_t *r = data;
    if (r->stop_rc)
        return;
    if (r->text_len + len + 1 > r->text_cap) {
        size_t cap = r->text_cap ? r->text_cap : 1024;
        while (cap < r->text_len + len + 1)
            cap *= 2;
        char *t = realloc(r->text, cap);
        if (!t) {
            r->stop_rc = KC_ENOMEM;
            return;
        }
        r->text = t;
        r->text_cap = cap;
    }
    if (r->n_fields == r->cap_fields) {
        size_t cap = r->cap_fields ? r->cap_fields * 2 : 32;
        size_t *o = realloc(r->off, cap * sizeof *o);
        if (!o) {
            r->stop_rc = KC_ENOMEM;
            return;
        }
        r->off = o;
        r->cap_fields = cap;
    }
    const char *nul = len && r->nul_field == SIZE_MAX ? memchr(s, '\0', len) : NULL;
    if (nul) {
        r->nul_field = r->n_fields;
        r->nul_at = (size_t)(nul - (const char *)s);
    }
    r->off[r->n_fields++] = r->text_len;
    if (len)
        memcpy(r->text + r->text_len, s, len);
    r->text[r->text_len + len] = '\0';
    r->text_len += len + 1;
}

static const char *s_cell(const s_reader_t *r, size_t i)
{
    return r->text + r->off[i];
}

static int s_take_header(s_reader_t *r)
{
    int seen[C_COUNT];
    for (int c = 0; c < C_COUNT; c++)
        seen[c] = -1;
    r->col_of_field = calloc(r->n_fields ? r->n_fields : 1, sizeof *r->col_of_field);
    if (!r->col_of_field)
        return KC_ENOMEM;
    r->n_cols = r->n_fields;
    for (size_t i = 0; i < r->n_fields; i++) {
        const char *name = s_cell(r, i);
        if (i == 0 && strncmp(name, "\xef\xbb\xbf", 3) == 0)
            name += 3; /* UTF-8 byte order mark */
        size_t len = strlen(name);
        while (len && (name[len - 1] == ' ' || name[len - 1] == '\t'))
            len--;
        while (len && (*name == ' ' || *name == '\t'))
            name++, len--;
        int col = -1;
        for (int c = 0; c < C_COUNT && col < 0; c++)
            if (strlen(s_col_names[c]) == len && strncasecmp(name, s_col_names[c], len) == 0)
                col = c;
        if (col < 0) {
            char msg[400], shown[256];
            snprintf(msg, sizeof msg, _("unknown column '%s' in the header"),
                     s_show(name, len, 0, shown, sizeof shown));
            if (r->err_fn)
                r->err_fn(r->file, r->row_line, msg, r->ctx);
            return KC_EFORMAT;
        }
        if (seen[col] >= 0) {
            char msg[400];
            snprintf(msg, sizeof msg, _("column '%s' appears twice in the header"),
                     s_col_names[col]);
            if (r->err_fn)
                r->err_fn(r->file, r->row_line, msg, r->ctx);
            return KC_EFORMAT;
        }
        seen[col] = (int)i;
        r->col_of_field[i] = col;
    }
    for (int c = 0; c < S_REQUIRED_COUNT; c++)
        if (seen[c] < 0) {
            char msg[400];
            snprintf(msg, sizeof msg, _("required column '%s' is missing from the header"),
                     s_col_names[c]);
            if (r->err_fn)
                r->err_fn(r->file, r->row_line, msg, r->ctx);
            return KC_EFORMAT;
        }
    return 0;
}

static bool s_lower_eq(const char *s, const char *word)
{
    return strcasecmp(s, word) == 0;
}

/* "kcđp" in any case mix: ASCII folded, Đ (C4 90) or đ (C4 91). */
static bool s_is_kcdp_vi(const char *s)
{
    return strncasecmp(s, "kc", 2) == 0 && (unsigned char)s[2] == 0xc4 &&
           ((unsigned char)s[3] == 0x90 || (unsigned char)s[3] == 0x91) && (s[4] | 0x20) == 'p' &&
           s[5] == '\0';
}

/* Turn the open row into an event, or report it malformed. */
static void s_take_row(s_reader_t *r)
{
    long line = r->row_line;
    if (r->n_fields != r->n_cols) {
        s_malformed(r, line, _("expected %zu fields as in the header, found %zu"), r->n_cols,
                    r->n_fields);
        return;
    }
    /* the text rule (kc_text.h), as the aggregator applies it (invalid_text):
     * every cell valid UTF-8, ids and codes without control characters, the
     * note with tab and line breaks only */
    if (r->nul_field != SIZE_MAX) {
        s_malformed(r, line, _("invalid_text: %s holds a NUL byte (byte %zu); %s"),
                    s_col_names[r->col_of_field[r->nul_field]], r->nul_at, _(s_save_as_utf8));
        return;
    }
    char shown[256];
    for (size_t i = 0; i < r->n_fields; i++) {
        const char *v = s_cell(r, i);
        size_t len = strlen(v), at;
        int col = r->col_of_field[i];
        if ((at = kc_text_utf8_bad_at(v, len)) < len) {
            s_malformed(r, line, _("invalid_text: %s is not valid UTF-8 (byte %zu): '%s'; %s"),
                        s_col_names[col], at, s_show(v, len, at, shown, sizeof shown),
                        _(s_save_as_utf8));
            return;
        }
        bool id = col == C_EVENT_ID || col == C_PROVINCE || col == C_ACTIVITY || col == C_CORRECTS;
        if (id && !kc_text_id_ok(v, len)) {
            at = s_control_at(v, len, false);
            s_malformed(r, line,
                        _("invalid_text: %s holds a control character (byte %zu): '%s'; ids and "
                          "codes are printable text: remove the line break, tab or other invisible "
                          "character from the cell"),
                        s_col_names[col], at, s_show(v, len, at, shown, sizeof shown));
            return;
        }
        if (col == C_NOTE && !kc_text_free_ok(v, len)) {
            at = s_control_at(v, len, true);
            s_malformed(r, line,
                        _("invalid_text: note holds a control character other than tab or a line "
                          "break (byte %zu): '%s'; remove it from the cell"),
                        at, s_show(v, len, at, shown, sizeof shown));
            return;
        }
    }
    kc_event_t ev;
    memset(&ev, 0, sizeof ev);
    const char *kind = "", *fund = "", *corrects = "";
    bool has_year = false, has_month = false;
    for (size_t i = 0; i < r->n_fields; i++) {
        const char *v = s_cell(r, i);
        int col = r->col_of_field[i];
        int64_t n = 0;
        int rc;
        switch (col) {
        case C_EVENT_ID: ev.event_id = v; break;
        case C_PROVINCE: ev.province = v; break;
        case C_ACTIVITY: ev.activity = v; break;
        case C_KIND: kind = v; break;
        case C_FUND: fund = v; break;
        case C_NOTE: ev.note = v; break;
        case C_CORRECTS: corrects = v; break;
        case C_YEAR:
        case C_MONTH:
            if (!*v)
                break; /* required unless the row is a retraction: checked below */
            rc = kc_csv_parse_i64(v, &n);
            if (rc || n < INT32_MIN || n > INT32_MAX) {
                s_malformed(r, line, _("%s '%s' is not an integer%s"), s_col_names[col],
                            s_shows(v, shown, sizeof shown), rc == KC_EINVAL ? "" : _(" in range"));
                return;
            }
            if (col == C_YEAR) {
                ev.year = (int)n;
                has_year = true;
            } else {
                ev.month = (int)n;
                has_month = true;
            }
            break;
        default: /* a metric */
            if (!*v)
                break; /* not reported */
            rc = kc_csv_parse_i64(v, &n);
            if (rc) {
                s_malformed(r, line, _("%s '%s' is not an integer%s"), s_col_names[col],
                            s_shows(v, shown, sizeof shown),
                            rc == KC_EINVAL ? "" : _(" in the int64 range"));
                return;
            }
            ev.present |= 1u << (col - C_METRIC0);
            ev.metrics[col - C_METRIC0] = n;
            break;
        }
    }
    if (!*ev.event_id || !*ev.province) {
        s_malformed(r, line, _("%s is empty"), !*ev.event_id ? "event_id" : "province");
        return;
    }
    /* kind: actual|plan for a record; correction|retraction set the op instead
     * (the actual/plan kind is then the target's) */
    if (!*kind || s_lower_eq(kind, "actual"))
        ev.kind = KCI_KIND_ACTUAL;
    else if (s_lower_eq(kind, "plan"))
        ev.kind = KCI_KIND_PLAN;
    else if (s_lower_eq(kind, "correction"))
        ev.op = KCI_OP_CORRECTION;
    else if (s_lower_eq(kind, "retraction"))
        ev.op = KCI_OP_RETRACTION;
    else {
        s_malformed(r, line, _("kind '%s' is not actual, plan, correction or retraction"),
                    s_shows(kind, shown, sizeof shown));
        return;
    }
    bool retraction = ev.op == KCI_OP_RETRACTION;
    if (ev.op != KCI_OP_RECORD && !*corrects) {
        s_malformed(r, line, _("kind %s needs corrects (the event_id it replaces)"), kind);
        return;
    }
    if (ev.op == KCI_OP_RECORD && *corrects) {
        s_malformed(r, line, _("corrects '%s' is set but kind is not correction or retraction"),
                    s_shows(corrects, shown, sizeof shown));
        return;
    }
    ev.corrects = *corrects ? corrects : NULL;
    if (!retraction && (!has_year || !has_month)) {
        s_malformed(r, line, _("%s '' is not an integer"), !has_year ? "year" : "month");
        return;
    }
    if (retraction && has_year != has_month) {
        s_malformed(r, line, _("a retraction gives both year and month or neither (%s is empty)"),
                    !has_year ? "year" : "month");
        return;
    }
    if (!retraction && !*ev.activity) {
        s_malformed(r, line, _("activity is empty"));
        return;
    }
    if (retraction && ev.present) {
        s_malformed(r, line, _("a retraction carries no metrics"));
        return;
    }
    if (!*fund || s_lower_eq(fund, "other"))
        ev.fund = retraction && !*fund ? KCI_FUND_DEFAULT : KCI_FUND_OTHER;
    else if (s_lower_eq(fund, "kcqg"))
        ev.fund = KCI_FUND_KCQG;
    else if (s_lower_eq(fund, "kcdp") || s_is_kcdp_vi(fund))
        ev.fund = KCI_FUND_KCDP;
    else {
        s_malformed(r, line, _("fund '%s' is not kcqg, kcdp or other"),
                    s_shows(fund, shown, sizeof shown));
        return;
    }
    char source[4200];
    snprintf(source, sizeof source, "%s:%ld", r->file, line);
    kc_csv_row_t row = {r->file, line, source, &ev};
    r->st->rows++;
    r->st->good++;
    int rc = r->row_fn ? r->row_fn(&row, r->ctx) : 0;
    if (rc)
        r->stop_rc = rc;
}

static void s_on_row(int c, void *data)
{
    (void)c;
    s_reader_t *r = data;
    r->in_row = false;
    if (r->stop_rc || r->header_rc)
        goto reset;
    if (!r->have_header) {
        r->have_header = true;
        r->header_rc = s_take_header(r);
        if (r->header_rc == KC_ENOMEM)
            r->stop_rc = KC_ENOMEM;
        goto reset;
    }
    bool all_empty = true;
    for (size_t i = 0; i < r->n_fields && all_empty; i++)
        all_empty = s_cell(r, i)[0] == '\0';
    if (!all_empty)
        s_take_row(r);
reset:
    r->n_fields = 0;
    r->text_len = 0;
    r->nul_field = SIZE_MAX;
}

static bool s_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/* Length of the first physical line of s[0..n): up to and including the
 * first LF, or a CR not followed by LF; n if neither occurs. */
static size_t s_piece_len(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] == '\n' || (s[i] == '\r' && (i + 1 == n || s[i + 1] != '\n')))
            return i + 1;
    return n;
}

/* Feed one physical line to the parser. Returns 0, or -1 to stop reading
 * (the header is refused or memory ran out: r->header_rc / r->stop_rc). */
static int s_feed(s_reader_t *r, struct csv_parser *cp, const char *path, const char *line,
                  size_t n)
{
    r->line++;
    if (!r->in_row && !s_blank(line, n)) {
        r->in_row = true;
        r->row_line = r->line;
    }
    if (csv_parse(cp, line, n, s_on_field, s_on_row, r) == n)
        return 0;
    if (!r->have_header) {
        if (r->err_fn)
            r->err_fn(path, r->row_line, _("the header row has broken quoting"), r->ctx);
        r->header_rc = KC_EFORMAT;
        return -1;
    }
    s_malformed(r, r->in_row ? r->row_line : r->line, _("broken quoting (%s)"),
                csv_strerror(csv_error(cp)));
    csv_free(cp);
    if (s_init_parser(cp)) {
        r->stop_rc = KC_ENOMEM;
        return -1;
    }
    r->in_row = false;
    r->n_fields = 0;
    r->text_len = 0;
    r->nul_field = SIZE_MAX;
    return 0;
}

int kc_csv_import(const char *path, kc_csv_row_fn row_fn, kc_csv_error_fn err_fn, void *ctx,
                  kc_csv_stats_t *st)
{
    kc_csv_stats_t dummy;
    if (!st)
        st = &dummy;
    memset(st, 0, sizeof *st);
    s_reader_t r = {.file = path,
                    .row_fn = row_fn,
                    .err_fn = err_fn,
                    .ctx = ctx,
                    .st = st,
                    .nul_field = SIZE_MAX};
    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        if (err_fn)
            err_fn(path, 0, strerror(e), ctx);
        return -e;
    }
    struct csv_parser cp;
    if (s_init_parser(&cp)) {
        fclose(f);
        return KC_ENOMEM;
    }
    char *buf = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (!r.stop_rc && !r.header_rc && (n = getline(&buf, &cap, f)) > 0) {
        /* a bare CR also ends a physical line (classic Mac line ends, which
         * libcsv honours too): feed such a line piece by piece, so that rows
         * keep their own line numbers and a parse error skips only the rest
         * of its own line, not the rows after it */
        for (size_t off = 0, len; off < (size_t)n && !r.stop_rc && !r.header_rc; off += len) {
            len = s_piece_len(buf + off, (size_t)n - off);
            if (s_feed(&r, &cp, path, buf + off, len) != 0)
                break;
        }
    }
    if (ferror(f)) {
        rc = -errno;
        if (err_fn)
            err_fn(path, r.line, strerror(errno), ctx);
    }
    if (!r.stop_rc && !r.header_rc && !rc) {
        if (csv_fini(&cp, s_on_field, s_on_row, &r) != 0)
            s_malformed(&r, r.row_line,
                        _("a quoted cell is not closed before the end of the file"));
        if (!r.have_header && !r.header_rc) {
            if (err_fn)
                err_fn(path, 1, _("the header row is missing (empty file)"), ctx);
            r.header_rc = KC_EFORMAT;
        }
    }
    csv_free(&cp);
    free(buf);
    free(r.text);
    free(r.off);
    free(r.col_of_field);
    fclose(f);
    if (r.stop_rc)
        return r.stop_rc;
    if (r.header_rc)
        return r.header_rc;
    return rc;
}
