/* kc_sheet_ods.c - the OpenDocument spreadsheet (.ods) reader behind
 * kc_sheet.h: libzip for the container, expat for the XML, as the xlsx
 * reader (kc_sheet_xlsx.c) and with its limits.
 *
 * DESIGN
 * Opening checks the container before any sheet: the `mimetype` member (when
 * there is one) must say an OpenDocument spreadsheet, and
 * META-INF/manifest.xml must not describe encrypted streams
 * (manifest:encryption-data: LibreOffice's "save with password" encrypts
 * content.xml, which then is not XML; the clerk is told to save it without a
 * password instead of being shown a parse error). content.xml holds every
 * sheet, in order, as table:table elements of office:spreadsheet; it is
 * parsed once, incrementally, as the xlsx worksheet is: opening feeds expat
 * until the start of the chosen table (the first, or the one whose table:name
 * is opts.sheet), where the handler suspends the parser; kc_sheet_next
 * resumes it until a table:table-row ends. The end of the chosen table ends
 * the sheet: later tables are never parsed. The parser is namespace-aware
 * (names are matched by namespace URI, whatever prefixes a writer chose).
 *
 * Repetition is what makes an .ods small and what a crafted one abuses
 * (table:number-rows-repeated="1048000", number-columns-repeated="16384"):
 * nothing is done per repetition of an empty row or cell. A row is held as the
 * columns up to its last non-empty cell (empty cells are a count until a
 * non-empty one follows; trailing ones are dropped), a repeated non-empty cell
 * is one string in the arena pointed at from each of its columns, and must fit
 * in max_cells; a row with no non-empty cell is never handed over (LibreOffice
 * writes every empty row, xlsx writers write none: so an .ods and the xlsx
 * LibreOffice saves from it give the same rows, each with its row number); a
 * repeated non-empty row is handed over once per repetition from the held
 * cells, with consecutive row numbers, up to row 1048576. Text made by
 * expansion (text:s c="N" spaces, the row's cells) counts against
 * opts.max_bytes like inflated bytes do.
 *
 * Every parser refuses a DOCTYPE or an entity declaration and elements nested
 * deeper than KC_SHEET_MAX_DEPTH. Numbers are converted under the C locale.
 * The container, the parsers' set-up and bounds, the row handed over and the
 * number and date text rules are kc_sheet_zip.c's, shared with the xlsx reader.
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

#define S_MAX_ROW    1048576LL   /* LibreOffice's (and Excel's) last row */
#define S_MAX_REPEAT (1LL << 40) /* repeat counts saturate here: no overflow */
#define S_CONTENT    "content.xml"
#define S_MANIFEST   "META-INF/manifest.xml"
#define S_MIME       "application/vnd.oasis.opendocument.spreadsheet"

/* Expanded names: "URI local" (expat's namespace processing, ' ' separator). */
#define S_NS_OFFICE   "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
#define S_NS_TABLE    "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
#define S_NS_TEXT     "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
#define S_NS_MANIFEST "urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"

#define S_HINT_PW "password-protected: save it again without a password"

typedef enum { V_NONE, V_FLOAT, V_DATE, V_TIME, V_BOOL, V_STRING } s_vtype_t;

typedef struct {
    kc_sstream_t st; /* first: content.xml's parser's user data is this struct */
    kc_sheet_t *s;
    kc_szip_t z;
    bool done;
    int depth;
    /* the document: office:spreadsheet, the tables passed, the chosen one */
    int ss_depth;    /* office:spreadsheet's depth, 0 = not inside */
    kc_sbuf_t names; /* "'A', 'B'" for the hint */
    size_t ntables;
    int table_depth; /* the chosen table's depth, 0 = not found yet */
    bool table_end;
    /* the current row */
    int row_depth;      /* 0 = not in a row */
    long long rownum;   /* this row's number */
    long long nextrow;  /* the next row element's number (saturating) */
    long long row_rep;  /* its number-rows-repeated */
    bool row_ready;     /* a non-empty row ended: hand it over */
    long long out_row;  /* the row number last handed over */
    long long rep_left; /* repetitions of it still to hand over */
    long long col;      /* the next cell's column (saturating) */
    /* the current cell */
    int cell_depth; /* 0 = not in a cell */
    bool covered;
    long long cell_rep;
    s_vtype_t vtype;
    kc_sbuf_t val;  /* office:value, date-value, time-value or boolean-value */
    kc_sbuf_t sval; /* office:string-value */
    bool has_val, has_sval;
    /* the cell's text (text:p) */
    int p_depth, skip_depth, npara;
    kc_sbuf_t cur;
    kc_srow_t out; /* the row handed over */
} s_o_t;

/* name is "ns local" */
static bool s_is(const XML_Char *name, const char *ns, const char *local)
{
    size_t nl = strlen(ns);
    return strncmp(name, ns, nl) == 0 && name[nl] == ' ' && strcmp(name + nl + 1, local) == 0;
}

static bool s_in_ns(const XML_Char *name, const char *ns)
{
    size_t nl = strlen(ns);
    return strncmp(name, ns, nl) == 0 && name[nl] == ' ';
}

static const char *s_attr(const XML_Char **atts, const char *ns, const char *local)
{
    for (size_t i = 0; atts[i]; i += 2)
        if (s_is(atts[i], ns, local))
            return atts[i + 1];
    return NULL;
}

static void s_fail(s_o_t *x, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void s_fail(s_o_t *x, int rc, const char *fmt, ...)
{
    char what[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    kc_sstream_fail(&x->st, rc, x->row_depth || x->table_depth ? x->s->name : NULL,
                    x->row_depth ? x->rownum : 0, what);
}

/* content.xml's DOCTYPE and entity refusals (kc_sxml_new). */
static void s_refuse(kc_sxml_t *h, int rc, const char *what)
{
    s_fail((s_o_t *)h, rc, "%s", what);
}

static long long s_sat_add(long long a, long long b)
{
    return a > S_MAX_REPEAT - b ? S_MAX_REPEAT : a + b;
}

/* A repeat attribute: a positive count (saturated at S_MAX_REPEAT), 1 when
 * absent; false when it is not a positive number. */
static bool s_repeat(const char *v, long long *out)
{
    *out = 1;
    if (!v)
        return true;
    long long n = 0;
    const char *p = v;
    for (; *p >= '0' && *p <= '9'; p++)
        n = n > S_MAX_REPEAT / 10 ? S_MAX_REPEAT : n * 10 + (*p - '0');
    if (p == v || *p || n < 1)
        return false;
    *out = n < S_MAX_REPEAT ? n : S_MAX_REPEAT;
    return true;
}

/* ---- the container ---- */

/* The `mimetype` member, when there is one, must name a spreadsheet. */
static int s_check_mimetype(s_o_t *x, char *err, size_t cap)
{
    zip_file_t *zf = NULL;
    int rc = kc_szip_member_open(&x->z, "mimetype", &zf, err, cap);
    if (rc == KC_ENOTFOUND)
        return 0;
    if (rc != 0)
        return rc;
    char buf[128];
    size_t len = 0;
    for (;;) {
        zip_int64_t n =
            kc_szip_member_read(&x->z, zf, "mimetype", buf + len, sizeof buf - 1 - len, err, cap);
        if (n < 0) {
            zip_fclose(zf);
            return (int)n;
        }
        len += (size_t)n;
        if (n == 0 || len == sizeof buf - 1)
            break;
    }
    zip_fclose(zf);
    buf[len] = '\0';
    if (strcmp(buf, S_MIME) == 0)
        return 0;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] >= 0x7f)
            buf[i] = '?';
    kc_sheet_errf(
        err, cap,
        "%s: not an OpenDocument spreadsheet (its mimetype is '%.60s'): save it as .ods from "
        "a spreadsheet program",
        x->s->path, buf);
    return KC_EFORMAT;
}

/* META-INF/manifest.xml's parser: does it describe encrypted streams? */
typedef struct {
    kc_spart_t px;
    bool encrypted;
} s_mf_t;

static void s_mf_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    (void)atts;
    s_mf_t *m = ud;
    if (!kc_spart_enter(&m->px))
        return;
    if (s_is(name, S_NS_MANIFEST, "encryption-data"))
        m->encrypted = true;
}

/* META-INF/manifest.xml: refuse a password-protected document. Absent is
 * fine (the manifest is LibreOffice's, not every writer's). */
static int s_check_manifest(s_o_t *x, char *err, size_t cap)
{
    s_mf_t m;
    int rc = kc_spart_init(&m.px, &x->z, S_MANIFEST, true, err, cap);
    if (rc != 0)
        return rc;
    m.encrypted = false;
    XML_SetElementHandler(m.px.xml.p, s_mf_start, kc_spart_end_depth);
    rc = kc_spart_parse(&m.px, err, cap);
    if (rc == KC_ENOTFOUND)
        return 0;
    if (rc == 0 && m.encrypted) {
        kc_sheet_errf(err, cap,
                      "%s: the document is encrypted (%s describes encrypted streams): " S_HINT_PW,
                      x->s->path, S_MANIFEST);
        rc = KC_EFORMAT;
    }
    return rc;
}

/* ---- values ---- */

/* Civil date -> days since 1970-01-01 (H. Hinnant's algorithm). */
static long long s_days(long long y, unsigned m, unsigned d)
{
    y -= m <= 2;
    long long era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (long long)doe - 719468;
}

/* n digits at *p into *out; false if they are not all digits. */
static bool s_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* Seconds with a fraction ("05", "05.5"): rounded to the second, the
 * fraction read under the C locale. */
static bool s_seconds(const char **p, int *out)
{
    int ss;
    if (!s_digits(p, 2, &ss))
        return false;
    if (**p == '.') {
        const char *f = *p + 1, *q = f;
        while (*q >= '0' && *q <= '9')
            q++;
        if (q == f)
            return false;
        if (*f >= '5')
            ss++;
        *p = q;
    }
    *out = ss;
    return true;
}

/* office:date-value (xsd:date or xsd:dateTime, a time zone ignored: the time
 * is shown as written) as "YYYY-MM-DD[ HH:MM:SS]", rounded to the second. */
static bool s_date(const char *v, char *out, size_t cap)
{
    const char *p = v;
    int y, mo, d, hh = 0, mi = 0, ss = 0;
    if (!s_digits(&p, 4, &y) || *p++ != '-' || !s_digits(&p, 2, &mo) || *p++ != '-' ||
        !s_digits(&p, 2, &d))
        return false;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1])
        return false;
    if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
        return false;
    if (*p == 'T') {
        p++;
        if (!s_digits(&p, 2, &hh) || *p++ != ':' || !s_digits(&p, 2, &mi) || *p++ != ':' ||
            !s_seconds(&p, &ss) || hh > 24 || mi > 59 || ss > 60)
            return false;
    }
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int th, tm;
        p++;
        if (!s_digits(&p, 2, &th) || *p++ != ':' || !s_digits(&p, 2, &tm))
            return false;
    }
    if (*p)
        return false;
    long long secs = s_days(y, (unsigned)mo, (unsigned)d) * 86400 + hh * 3600 + mi * 60 + ss;
    long long days = secs >= 0 ? secs / 86400 : -((-secs + 86399) / 86400);
    long long tod = secs - days * 86400;
    long long yy;
    unsigned m, dd;
    kc_sheet_civil(days, &yy, &m, &dd);
    if (yy > 9999)
        return false;
    kc_sheet_put_date(yy, m, dd, tod, out, cap);
    return true;
}

/* office:time-value, an xsd:duration ("PT08H30M00S", "-PT1H", "P1DT2H") as
 * "HH:MM:SS" (hours past 24 as they are, as [HH]:MM:SS shows them). */
static bool s_time(const char *v, char *out, size_t cap)
{
    const char *p = v;
    bool neg = *p == '-';
    if (neg)
        p++;
    if (*p++ != 'P')
        return false;
    double total = 0;
    bool in_t = false, any = false;
    while (*p) {
        if (*p == 'T' && !in_t) {
            in_t = true;
            p++;
            continue;
        }
        const char *q = p;
        while ((*q >= '0' && *q <= '9') || *q == '.')
            q++;
        if (q == p || q - p > 15)
            return false;
        char num[16];
        memcpy(num, p, (size_t)(q - p));
        num[q - p] = '\0';
        char *end;
        double n = strtod(num, &end);
        if (*end)
            return false;
        double unit = *q == 'D' && !in_t  ? 86400
                      : *q == 'H' && in_t ? 3600
                      : *q == 'M' && in_t ? 60
                      : *q == 'S' && in_t ? 1
                                          : 0;
        if (unit == 0)
            return false;
        total += n * unit;
        any = true;
        p = q + 1;
    }
    if (!any || !(total < 1e12))
        return false;
    long long s = llround(total);
    snprintf(out, cap, "%s%02lld:%02lld:%02lld", neg && s ? "-" : "", s / 3600, s / 60 % 60,
             s % 60);
    return true;
}

/* The current cell's text as a person sees it: into buf, or pointing into
 * cur/sval. false with the parser stopped on error. */
static bool s_cell_text(s_o_t *x, const char **text, char *buf, size_t cap)
{
    const char *t = x->cur.p ? x->cur.p : "";
    const char *v = x->val.p ? x->val.p : "";
    char cn[8];
    kc_sheet_col_name(x->col, cn);
    *text = t;
    switch (x->vtype) {
    case V_FLOAT: {
        if (!x->has_val)
            return true;
        char *end;
        double d = strtod(v, &end);
        if (end == v || *end || !isfinite(d)) {
            s_fail(x, KC_EFORMAT, "cell %s%lld holds '%.20s', which is not a number", cn, x->rownum,
                   v);
            return false;
        }
        kc_sheet_number(d, buf, cap);
        *text = buf;
        return true;
    }
    case V_DATE:
        if (!x->has_val)
            return true;
        if (!s_date(v, buf, cap)) {
            s_fail(x, KC_EFORMAT, "cell %s%lld holds '%.30s', which is not a date", cn, x->rownum,
                   v);
            return false;
        }
        *text = buf;
        return true;
    case V_TIME:
        if (!x->has_val)
            return true;
        if (!s_time(v, buf, cap)) {
            s_fail(x, KC_EFORMAT, "cell %s%lld holds '%.30s', which is not a time", cn, x->rownum,
                   v);
            return false;
        }
        *text = buf;
        return true;
    case V_BOOL:
        if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
            *text = "TRUE";
        else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0)
            *text = "FALSE";
        return true;
    case V_STRING:
        if (x->npara == 0 && x->has_sval)
            *text = x->sval.p ? x->sval.p : "";
        return true;
    case V_NONE:
    default: return true;
    }
}

/* ---- content.xml ---- */

/* Text made by the document (not read from it) counts against max_bytes. */
static bool s_cur_add(s_o_t *x, const char *d, size_t n)
{
    if (n > x->s->opts.max_bytes || x->cur.len > x->s->opts.max_bytes - n) {
        s_fail(x, KC_EFORMAT,
               "a cell's text is longer than the %llu bytes allowed; split it or raise the bound",
               (unsigned long long)x->s->opts.max_bytes);
        return false;
    }
    if (!kc_sbuf_add(&x->cur, d, n)) {
        s_fail(x, KC_ENOMEM, "out of memory");
        return false;
    }
    return true;
}

static void s_table_found(s_o_t *x, const char *name)
{
    kc_sheet_set_name(x->s, name);
    x->table_depth = x->depth;
    x->nextrow = 1;
    XML_StopParser(x->st.xml.p, XML_TRUE); /* kc_sheet_open returns here; next resumes */
}

static void s_start_table(s_o_t *x, const XML_Char *name, const XML_Char **atts)
{
    if (x->depth == 3 && s_is(name, S_NS_OFFICE, "spreadsheet")) {
        x->ss_depth = 3;
        return;
    }
    if (x->ss_depth != 3 || x->depth != 4 || !s_is(name, S_NS_TABLE, "table"))
        return;
    const char *tn = s_attr(atts, S_NS_TABLE, "name");
    if (!tn)
        tn = "";
    x->ntables++;
    if (!kc_sheet_names_add(&x->names, tn)) {
        s_fail(x, KC_ENOMEM, "out of memory");
        return;
    }
    if (!x->s->opts.sheet || strcmp(tn, x->s->opts.sheet) == 0)
        s_table_found(x, tn);
}

static void s_start_cell(s_o_t *x, const XML_Char *name, const XML_Char **atts)
{
    bool covered = s_is(name, S_NS_TABLE, "covered-table-cell");
    if (!covered && !s_is(name, S_NS_TABLE, "table-cell"))
        return;
    const char *rep = s_attr(atts, S_NS_TABLE, "number-columns-repeated");
    if (!s_repeat(rep, &x->cell_rep)) {
        s_fail(x, KC_EFORMAT,
               "table:number-columns-repeated '%.20s' is not a positive number; the file is "
               "corrupt",
               rep);
        return;
    }
    x->cell_depth = x->depth;
    x->covered = covered;
    x->p_depth = x->skip_depth = x->npara = 0;
    kc_sbuf_clear(&x->cur);
    kc_sbuf_clear(&x->val);
    kc_sbuf_clear(&x->sval);
    x->has_val = x->has_sval = false;
    x->vtype = V_NONE;
    const char *vt = s_attr(atts, S_NS_OFFICE, "value-type");
    const char *val = NULL;
    if (!vt) {
        return;
    } else if (strcmp(vt, "float") == 0 || strcmp(vt, "percentage") == 0 ||
               strcmp(vt, "currency") == 0) {
        x->vtype = V_FLOAT;
        val = s_attr(atts, S_NS_OFFICE, "value");
    } else if (strcmp(vt, "date") == 0) {
        x->vtype = V_DATE;
        val = s_attr(atts, S_NS_OFFICE, "date-value");
    } else if (strcmp(vt, "time") == 0) {
        x->vtype = V_TIME;
        val = s_attr(atts, S_NS_OFFICE, "time-value");
    } else if (strcmp(vt, "boolean") == 0) {
        x->vtype = V_BOOL;
        val = s_attr(atts, S_NS_OFFICE, "boolean-value");
    } else if (strcmp(vt, "string") == 0) {
        x->vtype = V_STRING;
        const char *sv = s_attr(atts, S_NS_OFFICE, "string-value");
        if (sv) {
            x->has_sval = true;
            if (!kc_sbuf_add(&x->sval, sv, strlen(sv)))
                s_fail(x, KC_ENOMEM, "out of memory");
        }
    }
    if (val) {
        x->has_val = true;
        if (!kc_sbuf_add(&x->val, val, strlen(val)))
            s_fail(x, KC_ENOMEM, "out of memory");
    }
}

/* Inside a cell: its paragraphs and what they hold. */
static void s_start_in_cell(s_o_t *x, const XML_Char *name, const XML_Char **atts)
{
    if (x->covered || x->skip_depth)
        return;
    if (!x->p_depth) {
        /* a cell's paragraphs; annotations, frames and the like are not its text */
        if (x->depth == x->cell_depth + 1 &&
            (s_is(name, S_NS_TEXT, "p") || s_is(name, S_NS_TEXT, "h"))) {
            x->p_depth = x->depth;
            if (x->npara++ > 0)
                s_cur_add(x, "\n", 1);
        }
        return;
    }
    if (!s_in_ns(name, S_NS_TEXT) || s_is(name, S_NS_TEXT, "note") ||
        s_is(name, S_NS_TEXT, "ruby-text")) {
        x->skip_depth = x->depth; /* not text a person sees in the cell */
        return;
    }
    if (s_is(name, S_NS_TEXT, "s")) {
        long long c;
        const char *cv = s_attr(atts, S_NS_TEXT, "c");
        if (!s_repeat(cv, &c)) {
            s_fail(x, KC_EFORMAT, "text:s c='%.20s' is not a positive number; the file is corrupt",
                   cv);
            return;
        }
        /* bounded: s_cur_add fails once the cell passes max_bytes */
        static const char spaces[64] =
            "                                                               ";
        for (long long left = c; left > 0; left -= 63)
            if (!s_cur_add(x, spaces, left < 63 ? (size_t)left : 63))
                return;
    } else if (s_is(name, S_NS_TEXT, "tab") || s_is(name, S_NS_TEXT, "line-break")) {
        s_cur_add(x, s_is(name, S_NS_TEXT, "tab") ? "\t" : "\n", 1);
    }
    /* spans, links, fields: transparent, their text is the paragraph's */
}

static void s_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    s_o_t *x = ud;
    if (++x->depth > KC_SHEET_MAX_DEPTH) {
        s_fail(x, KC_EFORMAT, "%s nests XML elements deeper than %d", S_CONTENT,
               KC_SHEET_MAX_DEPTH);
        return;
    }
    if (!x->table_depth) {
        s_start_table(x, name, atts);
        return;
    }
    if (x->table_end)
        return;
    if (x->cell_depth) {
        s_start_in_cell(x, name, atts);
        return;
    }
    if (x->row_depth) {
        if (x->depth == x->row_depth + 1)
            s_start_cell(x, name, atts);
        return;
    }
    /* rows directly in the table or in row groups, header rows, table:table-rows */
    if (!s_is(name, S_NS_TABLE, "table-row"))
        return;
    x->row_depth = x->depth;
    x->rownum = x->nextrow;
    const char *rep = s_attr(atts, S_NS_TABLE, "number-rows-repeated");
    if (!s_repeat(rep, &x->row_rep)) {
        s_fail(x, KC_EFORMAT,
               "table:number-rows-repeated '%.20s' is not a positive number; the file is corrupt",
               rep);
        return;
    }
    x->nextrow = s_sat_add(x->nextrow, x->row_rep);
    x->col = 0;
    x->out.arena.len = 0;
    x->out.offs.n = 0;
}

static void s_text(void *ud, const XML_Char *s, int len)
{
    s_o_t *x = ud;
    if (!x->p_depth || x->skip_depth || x->covered)
        return;
    /* as written: LibreOffice keeps the white space of a cell's text (it
     * writes "a  b" and reads it back so), although ODF would collapse it */
    s_cur_add(x, s, (size_t)len);
}

static void s_end_cell(s_o_t *x)
{
    char buf[64];
    const char *text = "";
    if (!x->covered && !s_cell_text(x, &text, buf, sizeof buf))
        return;
    if (x->covered || !text[0]) {
        x->col = s_sat_add(x->col, x->cell_rep);
        return;
    }
    size_t max = x->s->opts.max_cells;
    if (x->col >= (long long)max || x->cell_rep > (long long)max - x->col) {
        char cn[8];
        kc_sheet_col_name(x->col >= (long long)max ? x->col : (long long)max, cn);
        s_fail(x, KC_EFORMAT,
               "a cell in column %s, beyond the %zu columns a row may have; delete the cells "
               "right of the table",
               cn, max);
        return;
    }
    size_t len = strlen(text) + 1;
    if (len > x->s->opts.max_bytes || x->out.arena.len > x->s->opts.max_bytes - len) {
        s_fail(x, KC_EFORMAT,
               "the row's text is longer than the %llu bytes allowed; split it or raise the bound",
               (unsigned long long)x->s->opts.max_bytes);
        return;
    }
    size_t off = x->out.arena.len;
    if (!kc_sbuf_add(&x->out.arena, text, len - 1) || !kc_sbuf_add(&x->out.arena, "", 1))
        goto nomem;
    while (x->out.offs.n < (size_t)x->col)
        if (!kc_svec_push(&x->out.offs, KC_SROW_EMPTY))
            goto nomem;
    for (long long i = 0; i < x->cell_rep; i++)
        if (!kc_svec_push(&x->out.offs, off))
            goto nomem;
    x->col += x->cell_rep;
    return;
nomem:
    s_fail(x, KC_ENOMEM, "out of memory");
}

static void s_end(void *ud, const XML_Char *name)
{
    (void)name;
    s_o_t *x = ud;
    int depth = x->depth--;
    if (!x->table_depth) {
        if (depth == x->ss_depth)
            x->ss_depth = 0;
        return;
    }
    if (x->table_end)
        return;
    if (x->cell_depth) {
        if (depth == x->cell_depth) {
            s_end_cell(x);
            x->cell_depth = 0;
        } else if (depth == x->skip_depth) {
            x->skip_depth = 0;
        } else if (depth == x->p_depth) {
            x->p_depth = 0;
        }
        return;
    }
    if (x->row_depth && depth == x->row_depth) {
        x->row_depth = 0;
        if (x->out.offs.n == 0)
            return; /* an empty row, however often repeated: nothing to do */
        if (x->rownum > S_MAX_ROW - x->row_rep + 1) {
            x->row_depth = depth; /* for the message's row */
            s_fail(x, KC_EFORMAT,
                   "a row with cells past row %lld, the last a sheet may have; delete the rows "
                   "below the table",
                   S_MAX_ROW);
            x->row_depth = 0;
            return;
        }
        x->row_ready = true;
        XML_StopParser(x->st.xml.p, XML_TRUE); /* hand this row out; resume on the next call */
        return;
    }
    if (depth == x->table_depth) {
        x->table_end = true;
        XML_StopParser(x->st.xml.p, XML_TRUE); /* the sheet ends here; later tables are not read */
    }
}

static int s_next(kc_sheet_t *s, kc_sheet_row_t *row, char *err, size_t cap)
{
    s_o_t *x = s->impl;
    if (x->done)
        return x->st.rc;
    if (x->rep_left > 0) { /* the same cells again, one row down (ptrs still hold) */
        x->rep_left--;
        row->cells = x->out.ptrs;
        row->ncells = x->out.offs.n;
        row->row = (long)++x->out_row;
        return 1;
    }
    locale_t old = uselocale(x->z.cloc);
    x->row_ready = false;
    int rc = kc_sstream_pump(&x->st, err, cap);
    uselocale(old);
    if (rc == 1 && x->row_ready) {
        x->out_row = x->rownum;
        x->rep_left = x->row_rep - 1;
        rc = kc_srow_out(&x->out, NULL, (long)x->out_row, row, x->s->path, err, cap);
    } else if (rc == 1) {
        rc = 0; /* the end of the table */
    }
    if (rc <= 0) {
        x->done = true;
        x->st.rc = rc;
    }
    return rc;
}

static void s_free(s_o_t *x)
{
    if (!x)
        return;
    kc_sstream_free(&x->st);
    kc_szip_close(&x->z);
    free(x->names.p);
    free(x->val.p);
    free(x->sval.p);
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

static int s_open(kc_sheet_t *s, s_o_t *x, char *err, size_t cap)
{
    int rc = kc_szip_open(&x->z, err, cap);
    if (rc != 0)
        return rc;
    rc = s_check_mimetype(x, err, cap);
    if (rc == 0)
        rc = s_check_manifest(x, err, cap);
    if (rc != 0)
        return rc;
    x->st.xml.fail = s_refuse;
    rc = kc_sstream_open(&x->st, &x->z, S_CONTENT, true, err, cap);
    if (rc == KC_ENOTFOUND) {
        kc_sheet_errf(err, cap, "%s: not an ods file: it has no %s; save it as .ods", s->path,
                      S_CONTENT);
        return KC_EFORMAT;
    }
    if (rc != 0)
        return rc;
    XML_SetElementHandler(x->st.xml.p, s_start, s_end);
    XML_SetCharacterDataHandler(x->st.xml.p, s_text);
    /* up to the chosen table's start */
    locale_t old = uselocale(x->z.cloc);
    rc = kc_sstream_pump(&x->st, err, cap);
    uselocale(old);
    if (rc < 0)
        return rc;
    if (rc == 0 || !x->table_depth) {
        const char *names = x->names.p ? x->names.p : "";
        if (s->opts.sheet)
            kc_sheet_errf(err, cap, "%s: no sheet named '%s'; the sheets are: %s", s->path,
                          s->opts.sheet, x->ntables ? names : "(none)");
        else
            kc_sheet_errf(err, cap, "%s: the spreadsheet has no sheet; the file is corrupt",
                          s->path);
        return KC_EFORMAT;
    }
    return 0;
}

int kc_sheet_ods_open(kc_sheet_t *s, char *err, size_t cap)
{
    s_o_t *x = kc_szip_reader_new(s, sizeof *x, "ods", err, cap);
    if (!x)
        return KC_ENOMEM;
    x->s = s;
    x->z = (kc_szip_t){.s = s, .hint_pw = S_HINT_PW, .noun = "spreadsheet"};
    return kc_szip_reader_set(s, x, &s_ops, s_open(s, x, err, cap));
}

/* For kc_sheet.c: a zip whose `mimetype` member says an OpenDocument
 * spreadsheet (read through libzip: the member need not come first); when
 * libzip cannot open the container (truncated: no central directory), the
 * first member as ODF packages store it (ODF 1.2 part 3, 3.3: "mimetype",
 * stored, no extra field), so that the clerk hears about a broken .ods rather
 * than a broken .xlsx. */
bool kc_sheet_ods_sniff(const char *path)
{
    int zerr = 0;
    zip_t *za = zip_open(path, ZIP_RDONLY, &zerr);
    if (!za) {
        unsigned char b[30 + 8 + sizeof S_MIME - 1];
        FILE *f = fopen(path, "rb");
        size_t n = f ? fread(b, 1, sizeof b, f) : 0;
        if (f)
            fclose(f);
        return n == sizeof b && memcmp(b, "PK\3\4", 4) == 0 && b[8] == 0 && b[9] == 0 &&
               b[26] == 8 && b[27] == 0 && b[28] == 0 && b[29] == 0 &&
               memcmp(b + 30, "mimetype", 8) == 0 && memcmp(b + 38, S_MIME, sizeof S_MIME - 1) == 0;
    }
    bool yes = false;
    zip_file_t *zf = zip_fopen(za, "mimetype", 0);
    if (zf) {
        char buf[sizeof S_MIME + 1];
        zip_int64_t n = zip_fread(zf, buf, sizeof buf);
        yes = n == (zip_int64_t)(sizeof S_MIME - 1) && memcmp(buf, S_MIME, sizeof S_MIME - 1) == 0;
        zip_fclose(zf);
    }
    zip_discard(za);
    return yes;
}
