/* kc_sheet_xlsx.c - the xlsx reader behind kc_sheet.h: libzip for the
 * container, expat for the XML.
 *
 * DESIGN
 * Opening reads the small parts whole, each streamed through expat from
 * zip_fread: _rels/.rels (where the workbook is), the workbook and its rels
 * (sheet names in workbook order, date1904, where the sheets, shared strings
 * and styles are), the shared strings (kept: one arena of NUL-terminated
 * strings and their offsets) and the styles (one flag per cell format: is it
 * a date). The worksheet is then parsed incrementally: kc_sheet_next feeds
 * expat 64 KiB chunks from zip_fread until a </row> ends, where the end
 * handler suspends the parser (XML_StopParser resumable); the next call
 * resumes it. Only the current row's cells are held.
 *
 * Every byte inflated from the container counts against opts.max_bytes (the
 * central directory's declared size is checked before a part is opened, and
 * the bytes actually read are counted as they come). Every parser refuses a
 * DOCTYPE or an entity declaration (stops at it: nothing is expanded) and
 * elements nested deeper than KC_SHEET_MAX_DEPTH. Numbers are converted under
 * the C locale (uselocale), whatever the program's LC_NUMERIC. The container,
 * the parsers' set-up and bounds, the row handed out and the number and date
 * text rules are kc_sheet_zip.c's, shared with the ods reader.
 *
 * Speed (issue 15, bench/import): expat and inflating take about 85% of the
 * reading; the handlers keep off the C library's slow paths for what every
 * cell has: a plain integer <v> is read and written back without strtod and
 * printf, attributes are found in one pass, and a shared string is handed
 * out from the shared-string arena instead of being copied into the row.
 */

#include "kc_sheet_zip.h"

#include "kc_err.h"

#include <expat.h>
#include <zip.h>

#include <errno.h>
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_MAX_COL  16384L   /* XFD */
#define S_MAX_ROW  1048576L /* Excel's last row */
#define S_PATH_MAX 512

#define S_HINT_PW "password-protected or not an xlsx file: save it without a password"

typedef struct {
    kc_sstream_t st; /* first: the worksheet parser's user data is this struct */
    kc_sheet_t *s;
    kc_szip_t z;
    bool date1904;
    /* shared strings: sst.p + sst_off.v[i] */
    kc_sbuf_t sst;
    kc_svec_t sst_off;
    /* styles: xf_date[i] for the cell format index i (a cell's s="i") */
    unsigned char *xf_date;
    size_t nxf;
    /* the worksheet stream */
    char part[S_PATH_MAX];
    bool done;
    /* the parse state of the worksheet */
    int depth;
    bool in_sd, in_row, in_c, in_is, collect, row_ready;
    int in_rph;
    char ctype[12];
    long cstyle;
    long ccol; /* the current cell's column, 0-based */
    char cref[16];
    kc_sbuf_t cur; /* the current cell's <v> or inline text */
    long rownum, lastrow;
    kc_srow_t out; /* the row: a shared string is not copied (KC_SROW_SST) */
} s_x_t;

/* An element or attribute name without its prefix ("x:c" -> "c", "r:id" ->
 * "id"): parts are matched by local name, whatever prefix a writer chose. */
static const char *s_local(const XML_Char *name)
{
    const char *b = name; /* names are a few bytes: a loop beats a call to strrchr */
    for (const char *q = name; *q; q++)
        if (*q == ':')
            b = q + 1;
    return b;
}

static const char *s_attr(const XML_Char **atts, const char *local)
{
    for (size_t i = 0; atts[i]; i += 2)
        if (strcmp(s_local(atts[i]), local) == 0)
            return atts[i + 1];
    return NULL;
}

/* ---- relationships ---- */

typedef struct {
    kc_spart_t px;
    const char *dir;       /* the source part's directory ("xl/"), for relative targets */
    const char *want_id;   /* find by Id... */
    const char *want_type; /* ...or by the Type's last segment */
    char target[S_PATH_MAX];
    char type[64];
    bool found;
} s_rels_t;

/* dir + target, with "." and ".." resolved; an absolute target ("/xl/...")
 * is taken from the root. false if it does not fit or climbs out. */
static bool s_resolve(const char *dir, const char *target, char *out, size_t cap)
{
    char tmp[S_PATH_MAX * 2];
    int n = target[0] == '/' ? snprintf(tmp, sizeof tmp, "%s", target + 1)
                             : snprintf(tmp, sizeof tmp, "%s%s", dir, target);
    if (n < 0 || (size_t)n >= sizeof tmp)
        return false;
    size_t len = 0;
    char *save = NULL;
    out[0] = '\0';
    for (char *seg = strtok_r(tmp, "/", &save); seg; seg = strtok_r(NULL, "/", &save)) {
        if (strcmp(seg, ".") == 0)
            continue;
        if (strcmp(seg, "..") == 0) {
            if (len == 0)
                return false;
            char *slash = strrchr(out, '/');
            len = slash ? (size_t)(slash - out) : 0;
            out[len] = '\0';
            continue;
        }
        size_t sl = strlen(seg);
        if (len + (len > 0) + sl + 1 > cap)
            return false;
        if (len > 0)
            out[len++] = '/';
        memcpy(out + len, seg, sl + 1);
        len += sl;
    }
    return len > 0;
}

static void s_rels_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    s_rels_t *r = ud;
    if (!kc_spart_enter(&r->px) || r->found || strcmp(s_local(name), "Relationship") != 0)
        return;
    const char *id = s_attr(atts, "Id"), *type = s_attr(atts, "Type");
    const char *target = s_attr(atts, "Target"), *mode = s_attr(atts, "TargetMode");
    if (!id || !type || !target || (mode && strcmp(mode, "External") == 0))
        return;
    const char *last = strrchr(type, '/');
    last = last ? last + 1 : type;
    if (r->want_id ? strcmp(id, r->want_id) != 0 : strcmp(last, r->want_type) != 0)
        return;
    if (!s_resolve(r->dir, target, r->target, sizeof r->target)) {
        kc_spart_fail(&r->px, KC_EFORMAT, "%s has an unusable target '%.100s'", r->px.xml.part,
                      target);
        return;
    }
    snprintf(r->type, sizeof r->type, "%s", last);
    r->found = true;
}

/* Look up one relationship of the part whose rels are rels_part: by id, or
 * the first of a type. 0 and r->found set or not; KC_ENOTFOUND if there are
 * no rels; or a KC_E* with a reason. */
static int s_rels_find(s_x_t *x, const char *rels_part, const char *dir, const char *want_id,
                       const char *want_type, s_rels_t *r, char *err, size_t cap)
{
    memset(r, 0, sizeof *r);
    r->dir = dir;
    r->want_id = want_id;
    r->want_type = want_type;
    int rc = kc_spart_init(&r->px, &x->z, rels_part, false, err, cap);
    if (rc != 0)
        return rc;
    XML_SetElementHandler(r->px.xml.p, s_rels_start, kc_spart_end_depth);
    return kc_spart_parse(&r->px, err, cap);
}

/* ---- workbook ---- */

typedef struct {
    kc_spart_t px;
    const char *want; /* opts.sheet or NULL */
    kc_sbuf_t names;  /* "'A', 'B'" for the hint */
    char id[128];     /* the chosen sheet's r:id */
    char name[256];
    bool found, date1904;
    size_t nsheets;
    /* without opts.sheet: the candidates in order, ids "\0"-separated */
    kc_sbuf_t ids;
    kc_sbuf_t allnames;
} s_wb_t;

static void s_wb_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    s_wb_t *w = ud;
    if (!kc_spart_enter(&w->px))
        return;
    const char *ln = s_local(name);
    if (strcmp(ln, "workbookPr") == 0) {
        const char *d = s_attr(atts, "date1904");
        w->date1904 = d && (strcmp(d, "1") == 0 || strcmp(d, "true") == 0);
        return;
    }
    if (strcmp(ln, "sheet") != 0)
        return;
    const char *sn = s_attr(atts, "name"), *id = s_attr(atts, "id");
    if (!sn || !id)
        return;
    w->nsheets++;
    if (!kc_sheet_names_add(&w->names, sn)) {
        kc_spart_fail(&w->px, KC_ENOMEM, "out of memory reading %s", w->px.xml.part);
        return;
    }
    if (w->want) {
        if (!w->found && strcmp(sn, w->want) == 0) {
            w->found = true;
            snprintf(w->id, sizeof w->id, "%s", id);
            snprintf(w->name, sizeof w->name, "%s", sn);
        }
        return;
    }
    /* every sheet in order: the first that is a worksheet is chosen later */
    if (!kc_sbuf_add(&w->ids, id, strlen(id) + 1) || !kc_sbuf_add(&w->allnames, sn, strlen(sn) + 1))
        kc_spart_fail(&w->px, KC_ENOMEM, "out of memory reading %s", w->px.xml.part);
}

/* ---- shared strings ---- */

typedef struct {
    kc_spart_t px;
    s_x_t *x;
    bool in_si, collect;
    int in_rph;
    size_t start; /* the current string's offset in sst */
} s_sst_t;

static void s_sst_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    (void)atts;
    s_sst_t *c = ud;
    if (!kc_spart_enter(&c->px))
        return;
    const char *ln = s_local(name);
    if (c->px.depth == 2 && strcmp(ln, "si") == 0) {
        c->in_si = true;
        c->start = c->x->sst.len;
    } else if (c->in_si && strcmp(ln, "rPh") == 0) {
        c->in_rph++;
    } else if (c->in_si && !c->in_rph && strcmp(ln, "t") == 0) {
        c->collect = true;
    }
}

static void s_sst_end(void *ud, const XML_Char *name)
{
    s_sst_t *c = ud;
    s_x_t *x = c->x;
    const char *ln = s_local(name);
    if (c->px.depth == 2 && c->in_si && strcmp(ln, "si") == 0) {
        c->in_si = false;
        if (!kc_sbuf_add(&x->sst, "", 1) || !kc_svec_push(&x->sst_off, c->start))
            kc_spart_fail(&c->px, KC_ENOMEM, "out of memory reading %s", c->px.xml.part);
    } else if (c->in_si && strcmp(ln, "rPh") == 0) {
        c->in_rph--;
    } else if (strcmp(ln, "t") == 0) {
        c->collect = false;
    }
    c->px.depth--;
}

static void s_sst_text(void *ud, const XML_Char *s, int len)
{
    s_sst_t *c = ud;
    if (c->collect && !kc_sbuf_add(&c->x->sst, s, (size_t)len))
        kc_spart_fail(&c->px, KC_ENOMEM, "out of memory reading %s", c->px.xml.part);
}

/* ---- styles ---- */

typedef struct {
    unsigned long id;
    bool date;
} s_fmt_t;

typedef struct {
    kc_spart_t px;
    bool in_fmts, in_xfs;
    s_fmt_t *fmts;
    size_t nfmts, capfmts;
    kc_svec_t xf_ids;
} s_sty_t;

/* A custom number format is a date or time format when it has d, m, y, h or s
 * outside quoted text, [brackets] and escapes. */
static bool s_fmt_is_date(const char *f)
{
    for (const char *p = f; *p; p++) {
        switch (*p) {
        case '"':
            p = strchr(p + 1, '"');
            if (!p)
                return false;
            break;
        case '[':
            p = strchr(p + 1, ']');
            if (!p)
                return false;
            break;
        case '\\':
        case '_':
        case '*':
            if (!p[1])
                return false;
            p++;
            break;
        default:
            if (strchr("dDmMyYhHsS", *p))
                return true;
            break;
        }
    }
    return false;
}

static bool s_builtin_date(unsigned long id)
{
    return (id >= 14 && id <= 22) || (id >= 45 && id <= 47);
}

static int s_fmt_cmp(const void *a, const void *b)
{
    unsigned long x = ((const s_fmt_t *)a)->id, y = ((const s_fmt_t *)b)->id;
    return x < y ? -1 : x > y;
}

static bool s_ulong(const char *v, unsigned long *out)
{
    if (!v || *v < '0' || *v > '9')
        return false;
    unsigned long n = 0; /* up to 19 digits cannot overflow: no strtoul needed */
    size_t i = 0;
    for (; i < 19 && v[i] >= '0' && v[i] <= '9'; i++)
        n = n * 10 + (unsigned long)(v[i] - '0');
    if (v[i] == '\0') {
        *out = n;
        return true;
    }
    if (i < 19)
        return false; /* a byte that is not a digit: strtoul would stop there too */
    char *end;
    errno = 0;
    n = strtoul(v, &end, 10);
    if (errno || *end)
        return false;
    *out = n;
    return true;
}

static void s_sty_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    s_sty_t *c = ud;
    if (!kc_spart_enter(&c->px))
        return;
    const char *ln = s_local(name);
    if (c->px.depth == 2) {
        c->in_fmts = strcmp(ln, "numFmts") == 0;
        c->in_xfs = strcmp(ln, "cellXfs") == 0;
        return;
    }
    if (c->px.depth != 3)
        return;
    unsigned long id;
    if (c->in_fmts && strcmp(ln, "numFmt") == 0) {
        const char *code = s_attr(atts, "formatCode");
        if (!s_ulong(s_attr(atts, "numFmtId"), &id) || !code)
            return;
        if (c->nfmts == c->capfmts) {
            size_t cap = c->capfmts ? c->capfmts * 2 : 16;
            s_fmt_t *nf = realloc(c->fmts, cap * sizeof *nf);
            if (!nf) {
                kc_spart_fail(&c->px, KC_ENOMEM, "out of memory reading %s", c->px.xml.part);
                return;
            }
            c->fmts = nf;
            c->capfmts = cap;
        }
        c->fmts[c->nfmts++] = (s_fmt_t){id, s_fmt_is_date(code)};
    } else if (c->in_xfs && strcmp(ln, "xf") == 0) {
        if (!s_ulong(s_attr(atts, "numFmtId"), &id))
            id = 0;
        if (!kc_svec_push(&c->xf_ids, id))
            kc_spart_fail(&c->px, KC_ENOMEM, "out of memory reading %s", c->px.xml.part);
    }
}

static int s_read_styles(s_x_t *x, const char *part, char *err, size_t cap)
{
    s_sty_t c = {0};
    int rc = kc_spart_init(&c.px, &x->z, part, false, err, cap);
    if (rc != 0)
        return rc;
    XML_SetElementHandler(c.px.xml.p, s_sty_start, kc_spart_end_depth);
    rc = kc_spart_parse(&c.px, err, cap);
    if (rc == KC_ENOTFOUND)
        rc = 0; /* no styles: every number is a number */
    if (rc == 0 && c.xf_ids.n > 0) {
        if (c.nfmts) /* qsort(NULL, 0, ...) is undefined */
            qsort(c.fmts, c.nfmts, sizeof *c.fmts, s_fmt_cmp);
        x->xf_date = calloc(c.xf_ids.n, 1);
        if (!x->xf_date) {
            rc = KC_ENOMEM;
            kc_sheet_errf(err, cap, "%s: out of memory", x->s->path);
        } else {
            x->nxf = c.xf_ids.n;
            for (size_t i = 0; i < c.xf_ids.n; i++) {
                s_fmt_t key = {c.xf_ids.v[i], false};
                const s_fmt_t *f =
                    c.nfmts ? bsearch(&key, c.fmts, c.nfmts, sizeof *c.fmts, s_fmt_cmp) : NULL;
                x->xf_date[i] = f ? f->date : s_builtin_date(key.id);
            }
        }
    }
    free(c.fmts);
    free(c.xf_ids.v);
    return rc;
}

/* ---- values ---- */

/* An Excel serial as "YYYY-MM-DD[ HH:MM:SS]" (or "HH:MM:SS" below 1); false
 * when out of the range Excel shows as a date (negative, after 9999). */
static bool s_date(double v, bool date1904, char *out, size_t cap)
{
    if (!(v >= 0 && v < 2958466.0))
        return false;
    long long secs = llround(v * 86400.0);
    long long days = secs / 86400, tod = secs % 86400;
    if (days == 0 && !date1904) {
        snprintf(out, cap, "%02lld:%02lld:%02lld", tod / 3600, tod / 60 % 60, tod % 60);
        return true;
    }
    long long y;
    unsigned m, d;
    if (date1904) {
        kc_sheet_civil(days - 24107, &y, &m, &d); /* 1904-01-01 is day -24107 of 1970 */
    } else if (days == 60) {
        y = 1900, m = 2, d = 29; /* Excel's (Lotus's) day that never was */
    } else {
        /* serial 1 = 1900-01-01; after the phantom 1900-02-29, one day less */
        kc_sheet_civil(days - 25568 - (days > 60), &y, &m, &d);
    }
    kc_sheet_put_date(y, m, d, tod, out, cap);
    return true;
}

/* A number cell's text that is a plain integer ("2023", "-5"; at most 15
 * digits, so exact in a double): *d as strtod would give it, without strtod's
 * cost. false for anything else (strtod then decides). */
static bool s_int_text(const char *v, double *d)
{
    bool neg = *v == '-';
    const char *p = v + neg;
    long long n = 0;
    size_t i = 0;
    for (; i < 15 && p[i] >= '0' && p[i] <= '9'; i++)
        n = n * 10 + (p[i] - '0');
    if (i == 0 || p[i] != '\0')
        return false;
    *d = neg ? -(double)n : (double)n;
    return true;
}

/* ---- the worksheet ---- */

static void s_ws_fail(s_x_t *x, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void s_ws_fail(s_x_t *x, int rc, const char *fmt, ...)
{
    char what[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    kc_sstream_fail(&x->st, rc, x->s->name, x->in_row ? x->rownum : 0, what);
}

/* The worksheet parser's DOCTYPE and entity refusals (kc_sxml_new). */
static void s_ws_refuse(kc_sxml_t *h, int rc, const char *what)
{
    s_ws_fail((s_x_t *)h, rc, "%s", what);
}

/* "C7" -> column 2 (0-based), row 7; false when not a reference inside
 * Excel's grid. */
static bool s_ref(const char *r, long *col, long *row)
{
    long c = 0, w = 0;
    const char *p = r;
    for (; (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z'); p++) {
        c = c * 26 + ((*p | 0x20) - 'a' + 1);
        if (c > S_MAX_COL)
            return false;
    }
    if (p == r)
        return false;
    const char *q = p;
    for (; *p >= '0' && *p <= '9'; p++) {
        w = w * 10 + (*p - '0');
        if (w > S_MAX_ROW)
            return false;
    }
    if (p == q || *p || w < 1)
        return false;
    *col = c - 1;
    *row = w;
    return true;
}

static void s_ws_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    s_x_t *x = ud;
    if (++x->depth > KC_SHEET_MAX_DEPTH) {
        s_ws_fail(x, KC_EFORMAT, "XML nested deeper than %d", KC_SHEET_MAX_DEPTH);
        return;
    }
    const char *ln = s_local(name);
    if (x->depth == 2) {
        x->in_sd = strcmp(ln, "sheetData") == 0;
        return;
    }
    if (!x->in_sd)
        return;
    if (x->depth == 3 && strcmp(ln, "row") == 0) {
        const char *r = s_attr(atts, "r");
        long n = x->lastrow + 1;
        if (r) {
            unsigned long u;
            if (!s_ulong(r, &u) || u < 1 || u > (unsigned long)S_MAX_ROW) {
                s_ws_fail(x, KC_EFORMAT, "row number '%.20s' is not one of Excel's rows", r);
                return;
            }
            n = (long)u;
        }
        x->rownum = n;
        if (n <= x->lastrow || n > S_MAX_ROW) {
            s_ws_fail(x, KC_EFORMAT, "rows out of order (after row %ld); the file is corrupt",
                      x->lastrow);
            return;
        }
        x->in_row = true;
        x->out.arena.len = 0;
        x->out.offs.n = 0;
        x->ccol = -1;
    } else if (x->in_row && x->depth == 4 && strcmp(ln, "c") == 0) {
        const char *r = NULL, *t = NULL, *st = NULL; /* as s_attr: the first of each */
        for (size_t i = 0; atts[i]; i += 2) {
            const char *an = s_local(atts[i]);
            if (an[0] && !an[1]) {
                if (an[0] == 'r' && !r)
                    r = atts[i + 1];
                else if (an[0] == 't' && !t)
                    t = atts[i + 1];
                else if (an[0] == 's' && !st)
                    st = atts[i + 1];
            }
        }
        long col = x->ccol + 1, row = x->rownum;
        if (r && !s_ref(r, &col, &row)) {
            s_ws_fail(x, KC_EFORMAT, "cell reference '%.20s' is not inside Excel's grid", r);
            return;
        }
        if (col <= x->ccol) {
            s_ws_fail(x, KC_EFORMAT, "cell %.20s out of order; the file is corrupt", r ? r : "");
            return;
        }
        if ((size_t)col >= x->s->opts.max_cells) {
            char cn[8];
            kc_sheet_col_name(col, cn);
            s_ws_fail(x, KC_EFORMAT,
                      "a cell in column %s, beyond the %zu columns a row may have; delete the "
                      "cells right of the table",
                      cn, x->s->opts.max_cells);
            return;
        }
        if (col > S_MAX_COL - 1) {
            s_ws_fail(x, KC_EFORMAT, "more than %ld cells", S_MAX_COL);
            return;
        }
        x->ccol = col;
        const char *tv = t ? t : "n"; /* x->ctype = tv, cut to fit */
        size_t tl = strnlen(tv, sizeof x->ctype - 1);
        memcpy(x->ctype, tv, tl);
        x->ctype[tl] = '\0';
        unsigned long sv = 0;
        x->cstyle = st && s_ulong(st, &sv) && sv < (unsigned long)LONG_MAX ? (long)sv : 0;
        x->in_c = true;
        x->in_is = false;
        x->in_rph = 0;
        x->cur.len = 0;
        if (x->cur.p)
            x->cur.p[0] = '\0';
    } else if (x->in_c) {
        bool inl = strcmp(x->ctype, "inlineStr") == 0;
        if (x->depth == 5 && strcmp(ln, "v") == 0 && !inl)
            x->collect = true;
        else if (x->depth == 5 && strcmp(ln, "is") == 0)
            x->in_is = true;
        else if (x->in_is && strcmp(ln, "rPh") == 0)
            x->in_rph++;
        else if (x->in_is && !x->in_rph && strcmp(ln, "t") == 0 && inl)
            x->collect = true;
    }
}

static void s_ws_text(void *ud, const XML_Char *s, int len)
{
    s_x_t *x = ud;
    if (x->collect && !kc_sbuf_add(&x->cur, s, (size_t)len))
        s_ws_fail(x, KC_ENOMEM, "out of memory");
}

/* The current cell's text as a person sees it: into out (static text) or
 * *dyn (points into sst or cur; *sst_at = its offset in sst for a shared
 * string, else SIZE_MAX). false with the parser stopped on error. */
static bool s_cell_text(s_x_t *x, const char **text, size_t *sst_at, char *buf, size_t cap)
{
    *sst_at = SIZE_MAX;
    const char *v = x->cur.p ? x->cur.p : "";
    const char *t = x->ctype;
    char cn[8]; /* the column's letters, for messages only */
    if (strcmp(t, "s") == 0) {
        unsigned long i;
        if (!s_ulong(v, &i) || i >= x->sst_off.n) {
            kc_sheet_col_name(x->ccol, cn);
            s_ws_fail(x, KC_EFORMAT,
                      "cell %s%ld refers to shared string '%.20s', which does not exist; the "
                      "file is corrupt",
                      cn, x->rownum, v);
            return false;
        }
        *sst_at = x->sst_off.v[i];
        *text = x->sst.p + *sst_at;
    } else if (strcmp(t, "b") == 0) {
        *text = strcmp(v, "1") == 0 ? "TRUE" : strcmp(v, "0") == 0 ? "FALSE" : v;
    } else if (strcmp(t, "n") == 0) {
        if (!v[0]) {
            *text = "";
            return true;
        }
        double d;
        if (!s_int_text(v, &d)) {
            char *end;
            d = strtod(v, &end);
            if (*end || end == v || !isfinite(d)) {
                kc_sheet_col_name(x->ccol, cn);
                s_ws_fail(x, KC_EFORMAT, "cell %s%ld holds '%.20s', which is not a number", cn,
                          x->rownum, v);
                return false;
            }
        }
        bool date = x->cstyle >= 0 && (size_t)x->cstyle < x->nxf && x->xf_date[x->cstyle];
        if (!date || !s_date(d, x->date1904, buf, cap))
            kc_sheet_number(d, buf, cap);
        *text = buf;
    } else {
        *text = v; /* str, inlineStr, e, d (ISO 8601 text) */
    }
    return true;
}

static void s_ws_end(void *ud, const XML_Char *name)
{
    s_x_t *x = ud;
    int depth = x->depth--;
    if (!x->in_sd)
        return;
    if (depth == 2) {
        x->in_sd = false;
    } else if (x->in_c && depth == 4) {
        x->in_c = false;
        x->collect = false;
        char buf[64];
        const char *text = "";
        size_t sst_at;
        if (!s_cell_text(x, &text, &sst_at, buf, sizeof buf))
            return;
        while (x->out.offs.n < (size_t)x->ccol)
            if (!kc_svec_push(&x->out.offs, KC_SROW_EMPTY))
                goto nomem;
        bool sst = sst_at < KC_SROW_SST; /* the shared strings are held for the whole read */
        size_t off = !text[0] ? KC_SROW_EMPTY : sst ? KC_SROW_SST | sst_at : x->out.arena.len;
        if (!kc_svec_push(&x->out.offs, off))
            goto nomem;
        if (text[0] && !sst && !kc_sbuf_add(&x->out.arena, text, strlen(text) + 1))
            goto nomem;
    } else if (x->in_c) {
        const char *ln = s_local(name);
        if (strcmp(ln, "rPh") == 0 && x->in_rph > 0)
            x->in_rph--;
        else if (strcmp(ln, "is") == 0 && depth == 5)
            x->in_is = false;
        x->collect = false;
    } else if (x->in_row && depth == 3) {
        x->in_row = false;
        x->lastrow = x->rownum;
        x->row_ready = true;
        XML_StopParser(x->st.xml.p, XML_TRUE); /* hand this row out; resume on the next call */
    }
    return;
nomem:
    s_ws_fail(x, KC_ENOMEM, "out of memory");
}

static int s_next(kc_sheet_t *s, kc_sheet_row_t *row, char *err, size_t cap)
{
    s_x_t *x = s->impl;
    if (x->done)
        return x->st.rc ? x->st.rc : 0;
    locale_t old = uselocale(x->z.cloc);
    x->row_ready = false;
    int rc = kc_sstream_pump(&x->st, err, cap);
    if (rc == 1) /* suspended at a </row> */
        rc = kc_srow_out(&x->out, x->sst.p, x->rownum, row, s->path, err, cap);
    uselocale(old);
    if (rc <= 0) {
        x->done = true;
        if (rc < 0 && x->st.rc == 0)
            x->st.rc = rc;
    }
    return rc;
}

static void s_free(s_x_t *x)
{
    if (!x)
        return;
    kc_sstream_free(&x->st);
    kc_szip_close(&x->z);
    free(x->sst.p);
    free(x->sst_off.v);
    free(x->xf_date);
    free(x->cur.p);
    kc_srow_free(&x->out);
    free(x);
}

static void s_close(kc_sheet_t *s)
{
    s_free(s->impl);
    s->impl = NULL;
}

static const kc_sheet_ops_t s_ops = {s_next, s_close};

/* The directory of a part, with its slash ("xl/"), and its rels part
 * ("xl/_rels/workbook.xml.rels"). */
static void s_part_dir(const char *part, char *dir, size_t cap, char *rels, size_t rcap)
{
    const char *slash = strrchr(part, '/');
    size_t dl = slash ? (size_t)(slash - part) + 1 : 0;
    snprintf(dir, cap, "%.*s", (int)dl, part);
    snprintf(rels, rcap, "%.*s_rels/%s.rels", (int)dl, part, part + dl);
}

static int s_open(kc_sheet_t *s, s_x_t *x, char *err, size_t cap)
{
    int rc = kc_szip_open(&x->z, err, cap);
    if (rc != 0)
        return rc;

    /* the workbook: where _rels/.rels says, else the usual place */
    s_rels_t r;
    rc = s_rels_find(x, "_rels/.rels", "", NULL, "officeDocument", &r, err, cap);
    if (rc != 0 && rc != KC_ENOTFOUND)
        return rc;
    char wb_part[S_PATH_MAX];
    snprintf(wb_part, sizeof wb_part, "%s", rc == 0 && r.found ? r.target : "xl/workbook.xml");
    char dir[S_PATH_MAX], rels[S_PATH_MAX + 16];
    s_part_dir(wb_part, dir, sizeof dir, rels, sizeof rels);

    s_wb_t w = {0};
    rc = kc_spart_init(&w.px, &x->z, wb_part, false, err, cap);
    if (rc != 0)
        return rc;
    w.want = s->opts.sheet;
    XML_SetElementHandler(w.px.xml.p, s_wb_start, kc_spart_end_depth);
    rc = kc_spart_parse(&w.px, err, cap);
    if (rc == KC_ENOTFOUND) {
        kc_sheet_errf(err, cap, "%s: not an xlsx file: it has no workbook (%s); save it as .xlsx",
                      s->path, wb_part);
        rc = KC_EFORMAT;
    }
    x->date1904 = w.date1904;
    const char *names = w.names.p ? w.names.p : "";
    if (rc == 0 && w.want && !w.found) {
        kc_sheet_errf(err, cap, "%s: no sheet named '%s'; the sheets are: %s", s->path, w.want,
                      w.nsheets ? names : "(none)");
        rc = KC_EFORMAT;
    }
    /* find the chosen sheet's part */
    char ws_part[S_PATH_MAX] = "";
    if (rc == 0 && w.want) {
        rc = s_rels_find(x, rels, dir, w.id, NULL, &r, err, cap);
        if (rc == 0 && (!r.found || strcmp(r.type, "worksheet") != 0)) {
            kc_sheet_errf(err, cap, "%s: sheet '%s' is %s", s->path, w.name,
                          r.found ? "not a worksheet (a chart?): name a worksheet"
                                  : "missing from the workbook's parts; the file is corrupt");
            rc = KC_EFORMAT;
        }
        if (rc == 0) {
            snprintf(ws_part, sizeof ws_part, "%s", r.target);
            kc_sheet_set_name(s, w.name);
        }
    } else if (rc == 0) {
        const char *id = w.ids.p, *sn = w.allnames.p;
        for (; rc == 0 && id && id < w.ids.p + w.ids.len && !ws_part[0];
             id += strlen(id) + 1, sn += strlen(sn) + 1) {
            rc = s_rels_find(x, rels, dir, id, NULL, &r, err, cap);
            if (rc == 0 && r.found && strcmp(r.type, "worksheet") == 0) {
                snprintf(ws_part, sizeof ws_part, "%s", r.target);
                kc_sheet_set_name(s, sn);
            }
        }
        if (rc == KC_ENOTFOUND || (rc == 0 && !ws_part[0])) {
            kc_sheet_errf(err, cap, "%s: the workbook has no worksheet; the file is corrupt",
                          s->path);
            rc = KC_EFORMAT;
        }
    }
    if (rc == KC_ENOTFOUND) {
        kc_sheet_errf(err, cap,
                      "%s: the workbook's relationships (%s) are missing; the file is corrupt",
                      s->path, rels);
        rc = KC_EFORMAT;
    }
    free(w.names.p);
    free(w.ids.p);
    free(w.allnames.p);
    if (rc != 0)
        return rc;

    /* shared strings and styles (optional parts) */
    rc = s_rels_find(x, rels, dir, NULL, "sharedStrings", &r, err, cap);
    if (rc == 0 && r.found) {
        s_sst_t c = {0};
        rc = kc_spart_init(&c.px, &x->z, r.target, false, err, cap);
        if (rc != 0)
            return rc;
        c.x = x;
        XML_SetElementHandler(c.px.xml.p, s_sst_start, s_sst_end);
        XML_SetCharacterDataHandler(c.px.xml.p, s_sst_text);
        rc = kc_spart_parse(&c.px, err, cap);
        if (rc == KC_ENOTFOUND) {
            kc_sheet_errf(err, cap, "%s: the shared strings (%s) are missing; the file is corrupt",
                          s->path, r.target);
            rc = KC_EFORMAT;
        }
    }
    if (rc != 0)
        return rc;
    rc = s_rels_find(x, rels, dir, NULL, "styles", &r, err, cap);
    if (rc == 0 && r.found)
        rc = s_read_styles(x, r.target, err, cap);
    if (rc != 0)
        return rc;

    /* the worksheet, streamed */
    snprintf(x->part, sizeof x->part, "%s", ws_part);
    x->st.xml.fail = s_ws_refuse;
    rc = kc_sstream_open(&x->st, &x->z, x->part, false, err, cap);
    if (rc == KC_ENOTFOUND) {
        kc_sheet_errf(err, cap, "%s: sheet '%s' (%s) is missing; the file is corrupt", s->path,
                      s->name, x->part);
        rc = KC_EFORMAT;
    }
    if (rc != 0)
        return rc;
    XML_SetElementHandler(x->st.xml.p, s_ws_start, s_ws_end);
    XML_SetCharacterDataHandler(x->st.xml.p, s_ws_text);
    return 0;
}

int kc_sheet_xlsx_open(kc_sheet_t *s, char *err, size_t cap)
{
    s_x_t *x = kc_szip_reader_new(s, sizeof *x, "xlsx", err, cap);
    if (!x)
        return KC_ENOMEM;
    x->s = s;
    x->z = (kc_szip_t){.s = s,
                       .locate = ZIP_FL_NOCASE,
                       .hint_pw = S_HINT_PW,
                       .noun = "workbook",
                       .ole_hint = S_HINT_PW " (as .xlsx; an old .xls must be saved as .xlsx too)"};
    return kc_szip_reader_set(s, x, &s_ops, s_open(s, x, err, cap));
}
