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
 * elements nested deeper than S_MAX_DEPTH. Numbers are converted under the C
 * locale (uselocale), whatever the program's LC_NUMERIC.
 */

#include "kc_sheet_int.h"

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

#define S_CHUNK     (64 * 1024)
#define S_MAX_DEPTH 64
#define S_MAX_COL   16384L   /* XFD */
#define S_MAX_ROW   1048576L /* Excel's last row */
#define S_PATH_MAX  512

#define S_HINT_PW "password-protected or not an xlsx file: save it without a password"

/* A growable byte buffer. */
typedef struct {
    char *p;
    size_t len, cap;
} s_buf_t;

static bool s_buf_add(s_buf_t *b, const char *d, size_t n)
{
    if (b->cap - b->len < n + 1) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n + 1) {
            if (cap > SIZE_MAX / 2)
                return false;
            cap *= 2;
        }
        char *np = realloc(b->p, cap);
        if (!np)
            return false;
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

/* A growable array of size_t. */
typedef struct {
    size_t *v;
    size_t n, cap;
} s_vec_t;

static bool s_vec_push(s_vec_t *a, size_t x)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 64;
        size_t *nv = realloc(a->v, cap * sizeof *nv);
        if (!nv)
            return false;
        a->v = nv;
        a->cap = cap;
    }
    a->v[a->n++] = x;
    return true;
}

typedef struct {
    kc_sheet_t *s;
    zip_t *za;
    uint64_t used; /* bytes inflated so far, against s->opts.max_bytes */
    locale_t cloc;
    bool date1904;
    /* shared strings: sst.p + sst_off.v[i] */
    s_buf_t sst;
    s_vec_t sst_off;
    /* styles: xf_date[i] for the cell format index i (a cell's s="i") */
    unsigned char *xf_date;
    size_t nxf;
    /* the worksheet stream */
    char part[S_PATH_MAX];
    zip_file_t *zf;
    XML_Parser p;
    bool final_given, suspended, done;
    /* the parse state of the worksheet */
    int depth, rc;
    char reason[1024];
    bool in_sd, in_row, in_c, in_is, collect, row_ready;
    int in_rph;
    char ctype[12];
    long cstyle;
    long ccol; /* the current cell's column, 0-based */
    char cref[16];
    s_buf_t cur; /* the current cell's <v> or inline text */
    long rownum, lastrow;
    s_buf_t arena; /* the row's cell texts, NUL-terminated */
    s_vec_t offs;  /* per column: offset into arena, SIZE_MAX = empty */
    const char **ptrs;
    size_t ptrs_cap;
} s_x_t;

/* The common head of every part parser's user data. */
typedef struct {
    s_x_t *x;
    XML_Parser p;
    const char *part;
    int depth, rc;
    char reason[400];
} s_px_t;

/* An element or attribute name without its prefix ("x:c" -> "c", "r:id" ->
 * "id"): parts are matched by local name, whatever prefix a writer chose. */
static const char *s_local(const XML_Char *name)
{
    const char *b = strrchr(name, ':');
    return b ? b + 1 : name;
}

static const char *s_attr(const XML_Char **atts, const char *local)
{
    for (size_t i = 0; atts[i]; i += 2)
        if (strcmp(s_local(atts[i]), local) == 0)
            return atts[i + 1];
    return NULL;
}

static void s_px_fail(s_px_t *px, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_px_fail(s_px_t *px, int rc, const char *fmt, ...)
{
    if (px->rc == 0) {
        px->rc = rc;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(px->reason, sizeof px->reason, fmt, ap);
        va_end(ap);
    }
    XML_StopParser(px->p, XML_FALSE);
}

static void s_doctype(void *ud, const XML_Char *name, const XML_Char *sysid, const XML_Char *pubid,
                      int internal)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)internal;
    s_px_t *px = ud;
    s_px_fail(px, KC_EFORMAT, "%s has a DOCTYPE (refused: no XML entities in a spreadsheet)",
              px->part);
}

static void s_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value, int vlen,
                     const XML_Char *base, const XML_Char *sysid, const XML_Char *pubid,
                     const XML_Char *notation)
{
    (void)name;
    (void)is_param;
    (void)value;
    (void)vlen;
    (void)base;
    (void)sysid;
    (void)pubid;
    (void)notation;
    s_px_t *px = ud;
    s_px_fail(px, KC_EFORMAT, "%s declares an XML entity (refused)", px->part);
}

/* Depth bookkeeping for every start handler: false (and the parser stopped)
 * when nested too deep. */
static bool s_px_enter(s_px_t *px)
{
    if (++px->depth > S_MAX_DEPTH) {
        s_px_fail(px, KC_EFORMAT, "%s nests XML elements deeper than %d", px->part, S_MAX_DEPTH);
        return false;
    }
    return true;
}

static void s_errf(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_errf(char *err, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

static int s_over(s_x_t *x, const char *part, uint64_t more, char *err, size_t cap)
{
    s_errf(err, cap,
           "%s: %s inflates to more than the %llu bytes allowed (%llu more after %llu): a zip "
           "bomb or a workbook too big to import; split it or raise the bound",
           x->s->path, part, (unsigned long long)x->s->opts.max_bytes, (unsigned long long)more,
           (unsigned long long)x->used);
    return KC_EFORMAT;
}

/* Open a part by name: 0 and *zf, KC_ENOTFOUND when there is no such part
 * (err untouched), or KC_EFORMAT with a reason (encrypted, over the bound). */
static int s_part_open(s_x_t *x, const char *part, zip_file_t **zf, char *err, size_t cap)
{
    zip_int64_t i = zip_name_locate(x->za, part, ZIP_FL_NOCASE);
    if (i < 0)
        return KC_ENOTFOUND;
    zip_stat_t st;
    zip_stat_init(&st);
    if (zip_stat_index(x->za, (zip_uint64_t)i, 0, &st) != 0) {
        s_errf(err, cap, "%s: cannot read the entry of %s: %s; the file is corrupt", x->s->path,
               part, zip_strerror(x->za));
        return KC_EFORMAT;
    }
    if ((st.valid & ZIP_STAT_ENCRYPTION_METHOD) && st.encryption_method != ZIP_EM_NONE) {
        s_errf(err, cap, "%s: %s is encrypted: " S_HINT_PW, x->s->path, part);
        return KC_EFORMAT;
    }
    if ((st.valid & ZIP_STAT_SIZE) && st.size > x->s->opts.max_bytes - x->used)
        return s_over(x, part, st.size, err, cap);
    *zf = zip_fopen_index(x->za, (zip_uint64_t)i, 0);
    if (!*zf) {
        zip_error_t *ze = zip_get_error(x->za);
        int code = zip_error_code_zip(ze);
        if (code == ZIP_ER_NOPASSWD || code == ZIP_ER_WRONGPASSWD || code == ZIP_ER_ENCRNOTSUPP)
            s_errf(err, cap, "%s: %s is encrypted: " S_HINT_PW, x->s->path, part);
        else
            s_errf(err, cap, "%s: cannot open %s in the container: %s; the file is corrupt",
                   x->s->path, part, zip_error_strerror(ze));
        return KC_EFORMAT;
    }
    return 0;
}

/* Read up to n bytes of part into buf, counting them: the count read (0 at
 * the end) or a negative KC_E* with a reason. */
static zip_int64_t s_part_read(s_x_t *x, zip_file_t *zf, const char *part, void *buf, size_t n,
                               char *err, size_t cap)
{
    zip_int64_t r = zip_fread(zf, buf, n);
    if (r < 0) {
        s_errf(err, cap, "%s: cannot inflate %s: %s; the file is corrupt or truncated", x->s->path,
               part, zip_file_strerror(zf));
        return KC_EFORMAT;
    }
    if ((uint64_t)r > x->s->opts.max_bytes - x->used)
        return s_over(x, part, (uint64_t)r, err, cap);
    x->used += (uint64_t)r;
    return r;
}

static XML_Parser s_parser(s_px_t *px, void *ud)
{
    XML_Parser p = XML_ParserCreate("UTF-8");
    if (!p)
        return NULL;
    px->p = p;
    XML_SetUserData(p, ud);
    XML_SetStartDoctypeDeclHandler(p, s_doctype);
    XML_SetEntityDeclHandler(p, s_entity);
    XML_SetParamEntityParsing(p, XML_PARAM_ENTITY_PARSING_NEVER);
    return p;
}

/* Parse a whole part through expat with the handlers the caller set on
 * px->p (ud's head is px). 0, KC_ENOTFOUND if the part is absent, or a
 * KC_E* with a reason. Frees the parser. */
static int s_parse_part(s_x_t *x, s_px_t *px, char *err, size_t cap)
{
    zip_file_t *zf = NULL;
    int rc = s_part_open(x, px->part, &zf, err, cap);
    if (rc != 0) {
        XML_ParserFree(px->p);
        return rc;
    }
    for (;;) {
        void *buf = XML_GetBuffer(px->p, S_CHUNK);
        if (!buf) {
            rc = KC_ENOMEM;
            s_errf(err, cap, "%s: out of memory reading %s", x->s->path, px->part);
            break;
        }
        zip_int64_t n = s_part_read(x, zf, px->part, buf, S_CHUNK, err, cap);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        if (XML_ParseBuffer(px->p, (int)n, n == 0) != XML_STATUS_OK) {
            if (px->rc != 0) {
                rc = px->rc;
                s_errf(err, cap, "%s: %s", x->s->path, px->reason);
            } else {
                rc = KC_EFORMAT;
                s_errf(err, cap,
                       "%s: %s is not well-formed XML (line %lu: %s); the file is corrupt",
                       x->s->path, px->part, (unsigned long)XML_GetCurrentLineNumber(px->p),
                       XML_ErrorString(XML_GetErrorCode(px->p)));
            }
            break;
        }
        if (n == 0)
            break;
    }
    zip_fclose(zf);
    XML_ParserFree(px->p);
    return rc;
}

/* ---- relationships ---- */

typedef struct {
    s_px_t px;
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
    if (!s_px_enter(&r->px) || r->found || strcmp(s_local(name), "Relationship") != 0)
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
        s_px_fail(&r->px, KC_EFORMAT, "%s has an unusable target '%.100s'", r->px.part, target);
        return;
    }
    snprintf(r->type, sizeof r->type, "%s", last);
    r->found = true;
}

static void s_end_depth(void *ud, const XML_Char *name)
{
    (void)name;
    ((s_px_t *)ud)->depth--;
}

/* Look up one relationship of the part whose rels are rels_part: by id, or
 * the first of a type. 0 and r->found set or not; KC_ENOTFOUND if there are
 * no rels; or a KC_E* with a reason. */
static int s_rels_find(s_x_t *x, const char *rels_part, const char *dir, const char *want_id,
                       const char *want_type, s_rels_t *r, char *err, size_t cap)
{
    memset(r, 0, sizeof *r);
    r->px.x = x;
    r->px.part = rels_part;
    r->dir = dir;
    r->want_id = want_id;
    r->want_type = want_type;
    XML_Parser p = s_parser(&r->px, r);
    if (!p) {
        s_errf(err, cap, "%s: out of memory", x->s->path);
        return KC_ENOMEM;
    }
    XML_SetElementHandler(p, s_rels_start, s_end_depth);
    return s_parse_part(x, &r->px, err, cap);
}

/* ---- workbook ---- */

typedef struct {
    s_px_t px;
    const char *want; /* opts.sheet or NULL */
    s_buf_t names;    /* "'A', 'B'" for the hint */
    char id[128];     /* the chosen sheet's r:id */
    char name[256];
    bool found, date1904;
    size_t nsheets;
    /* without opts.sheet: the candidates in order, ids "\0"-separated */
    s_buf_t ids;
    s_buf_t allnames;
} s_wb_t;

static void s_wb_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    s_wb_t *w = ud;
    if (!s_px_enter(&w->px))
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
    if (w->names.len < 300) {
        bool ok = (w->names.len == 0 || s_buf_add(&w->names, ", ", 2)) &&
                  s_buf_add(&w->names, "'", 1) && s_buf_add(&w->names, sn, strlen(sn)) &&
                  s_buf_add(&w->names, "'", 1);
        if (!ok) {
            s_px_fail(&w->px, KC_ENOMEM, "out of memory reading %s", w->px.part);
            return;
        }
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
    if (!s_buf_add(&w->ids, id, strlen(id) + 1) || !s_buf_add(&w->allnames, sn, strlen(sn) + 1))
        s_px_fail(&w->px, KC_ENOMEM, "out of memory reading %s", w->px.part);
}

/* ---- shared strings ---- */

typedef struct {
    s_px_t px;
    bool in_si, collect;
    int in_rph;
    size_t start; /* the current string's offset in sst */
} s_sst_t;

static void s_sst_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    (void)atts;
    s_sst_t *c = ud;
    if (!s_px_enter(&c->px))
        return;
    const char *ln = s_local(name);
    if (c->px.depth == 2 && strcmp(ln, "si") == 0) {
        c->in_si = true;
        c->start = c->px.x->sst.len;
    } else if (c->in_si && strcmp(ln, "rPh") == 0) {
        c->in_rph++;
    } else if (c->in_si && !c->in_rph && strcmp(ln, "t") == 0) {
        c->collect = true;
    }
}

static void s_sst_end(void *ud, const XML_Char *name)
{
    s_sst_t *c = ud;
    s_x_t *x = c->px.x;
    const char *ln = s_local(name);
    if (c->px.depth == 2 && c->in_si && strcmp(ln, "si") == 0) {
        c->in_si = false;
        if (!s_buf_add(&x->sst, "", 1) || !s_vec_push(&x->sst_off, c->start))
            s_px_fail(&c->px, KC_ENOMEM, "out of memory reading %s", c->px.part);
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
    if (c->collect && !s_buf_add(&c->px.x->sst, s, (size_t)len))
        s_px_fail(&c->px, KC_ENOMEM, "out of memory reading %s", c->px.part);
}

/* ---- styles ---- */

typedef struct {
    unsigned long id;
    bool date;
} s_fmt_t;

typedef struct {
    s_px_t px;
    bool in_fmts, in_xfs;
    s_fmt_t *fmts;
    size_t nfmts, capfmts;
    s_vec_t xf_ids;
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
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno || *end)
        return false;
    *out = n;
    return true;
}

static void s_sty_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
    s_sty_t *c = ud;
    if (!s_px_enter(&c->px))
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
                s_px_fail(&c->px, KC_ENOMEM, "out of memory reading %s", c->px.part);
                return;
            }
            c->fmts = nf;
            c->capfmts = cap;
        }
        c->fmts[c->nfmts++] = (s_fmt_t){id, s_fmt_is_date(code)};
    } else if (c->in_xfs && strcmp(ln, "xf") == 0) {
        if (!s_ulong(s_attr(atts, "numFmtId"), &id))
            id = 0;
        if (!s_vec_push(&c->xf_ids, id))
            s_px_fail(&c->px, KC_ENOMEM, "out of memory reading %s", c->px.part);
    }
}

static int s_read_styles(s_x_t *x, const char *part, char *err, size_t cap)
{
    s_sty_t c = {0};
    c.px.x = x;
    c.px.part = part;
    XML_Parser p = s_parser(&c.px, &c);
    if (!p) {
        s_errf(err, cap, "%s: out of memory", x->s->path);
        return KC_ENOMEM;
    }
    XML_SetElementHandler(p, s_sty_start, s_end_depth);
    int rc = s_parse_part(x, &c.px, err, cap);
    if (rc == KC_ENOTFOUND)
        rc = 0; /* no styles: every number is a number */
    if (rc == 0 && c.xf_ids.n > 0) {
        if (c.nfmts) /* qsort(NULL, 0, ...) is undefined */
            qsort(c.fmts, c.nfmts, sizeof *c.fmts, s_fmt_cmp);
        x->xf_date = calloc(c.xf_ids.n, 1);
        if (!x->xf_date) {
            rc = KC_ENOMEM;
            s_errf(err, cap, "%s: out of memory", x->s->path);
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

/* Days since 1970-01-01 -> civil date (H. Hinnant's algorithm). */
static void s_civil(long long z, long long *y, unsigned *m, unsigned *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long yy = (long long)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = yy + (*m <= 2);
}

/* An Excel serial as "YYYY-MM-DD[ HH:MM:SS]" (or "HH:MM:SS" below 1); false
 * when out of the range Excel shows as a date (negative, after 9999). */
static bool s_date(double v, bool date1904, char *out, size_t cap)
{
    if (!(v >= 0 && v < 2958466.0))
        return false;
    long long secs = llround(v * 86400.0);
    long long days = secs / 86400, tod = secs % 86400;
    int hh = (int)(tod / 3600), mi = (int)(tod / 60 % 60), ss = (int)(tod % 60);
    if (days == 0 && !date1904) {
        snprintf(out, cap, "%02d:%02d:%02d", hh, mi, ss);
        return true;
    }
    long long y;
    unsigned m, d;
    if (date1904) {
        s_civil(days - 24107, &y, &m, &d); /* 1904-01-01 is day -24107 of 1970 */
    } else if (days == 60) {
        y = 1900, m = 2, d = 29; /* Excel's (Lotus's) day that never was */
    } else {
        /* serial 1 = 1900-01-01; after the phantom 1900-02-29, one day less */
        s_civil(days - 25568 - (days > 60), &y, &m, &d);
    }
    if (tod)
        snprintf(out, cap, "%04lld-%02u-%02u %02d:%02d:%02d", y, m, d, hh, mi, ss);
    else
        snprintf(out, cap, "%04lld-%02u-%02u", y, m, d);
    return true;
}

/* The shortest decimal text that reads back to v (integers below 2^53 in
 * full, without exponent). */
static void s_number(double v, char *out, size_t cap)
{
    if (v == floor(v) && fabs(v) < 9007199254740992.0) {
        long long n = (long long)v; /* exact; -0.0 becomes 0 */
        unsigned long long u = n < 0 ? 0ULL - (unsigned long long)n : (unsigned long long)n;
        char tmp[24];
        size_t i = sizeof tmp;
        tmp[--i] = '\0';
        do
            tmp[--i] = (char)('0' + u % 10);
        while ((u /= 10) != 0);
        if (n < 0)
            tmp[--i] = '-';
        snprintf(out, cap, "%s", tmp + i);
        return;
    }
    static const char *const fmts[] = {"%.15g", "%.16g", "%.17g"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(out, cap, fmts[i], v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* ---- the worksheet ---- */

static void s_col_name(long col, char *out)
{
    char tmp[8];
    int n = 0;
    for (long c = col + 1; c > 0 && n < 7; c = (c - 1) / 26)
        tmp[n++] = (char)('A' + (c - 1) % 26);
    for (int i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
}

static void s_ws_fail(s_x_t *x, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void s_ws_fail(s_x_t *x, int rc, const char *fmt, ...)
{
    if (x->rc == 0) {
        x->rc = rc;
        char what[300];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(what, sizeof what, fmt, ap);
        va_end(ap);
        if (x->in_row)
            snprintf(x->reason, sizeof x->reason, "sheet '%s', row %ld: %s", x->s->name, x->rownum,
                     what);
        else
            snprintf(x->reason, sizeof x->reason, "sheet '%s': %s", x->s->name, what);
    }
    XML_StopParser(x->p, XML_FALSE);
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
    if (++x->depth > S_MAX_DEPTH) {
        s_ws_fail(x, KC_EFORMAT, "XML nested deeper than %d", S_MAX_DEPTH);
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
        x->arena.len = 0;
        x->offs.n = 0;
        x->ccol = -1;
    } else if (x->in_row && x->depth == 4 && strcmp(ln, "c") == 0) {
        const char *r = s_attr(atts, "r"), *t = s_attr(atts, "t"), *st = s_attr(atts, "s");
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
            s_col_name(col, cn);
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
        snprintf(x->ctype, sizeof x->ctype, "%s", t ? t : "n");
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
    if (x->collect && !s_buf_add(&x->cur, s, (size_t)len))
        s_ws_fail(x, KC_ENOMEM, "out of memory");
}

/* The current cell's text as a person sees it: into out (static text) or
 * *dyn (points into sst or cur). false with the parser stopped on error. */
static bool s_cell_text(s_x_t *x, const char **text, char *buf, size_t cap)
{
    const char *v = x->cur.p ? x->cur.p : "";
    const char *t = x->ctype;
    char cn[8];
    s_col_name(x->ccol, cn);
    if (strcmp(t, "s") == 0) {
        unsigned long i;
        if (!s_ulong(v, &i) || i >= x->sst_off.n) {
            s_ws_fail(x, KC_EFORMAT,
                      "cell %s%ld refers to shared string '%.20s', which does not exist; the "
                      "file is corrupt",
                      cn, x->rownum, v);
            return false;
        }
        *text = x->sst.p + x->sst_off.v[i];
    } else if (strcmp(t, "b") == 0) {
        *text = strcmp(v, "1") == 0 ? "TRUE" : strcmp(v, "0") == 0 ? "FALSE" : v;
    } else if (strcmp(t, "n") == 0) {
        if (!v[0]) {
            *text = "";
            return true;
        }
        char *end;
        double d = strtod(v, &end);
        if (*end || end == v || !isfinite(d)) {
            s_ws_fail(x, KC_EFORMAT, "cell %s%ld holds '%.20s', which is not a number", cn,
                      x->rownum, v);
            return false;
        }
        bool date = x->cstyle >= 0 && (size_t)x->cstyle < x->nxf && x->xf_date[x->cstyle];
        if (!date || !s_date(d, x->date1904, buf, cap))
            s_number(d, buf, cap);
        *text = buf;
    } else {
        *text = v; /* str, inlineStr, e, d (ISO 8601 text) */
    }
    return true;
}

static void s_ws_end(void *ud, const XML_Char *name)
{
    s_x_t *x = ud;
    const char *ln = s_local(name);
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
        if (!s_cell_text(x, &text, buf, sizeof buf))
            return;
        while (x->offs.n < (size_t)x->ccol)
            if (!s_vec_push(&x->offs, SIZE_MAX))
                goto nomem;
        if (!s_vec_push(&x->offs, text[0] ? x->arena.len : SIZE_MAX))
            goto nomem;
        if (text[0] && !s_buf_add(&x->arena, text, strlen(text) + 1))
            goto nomem;
    } else if (x->in_c) {
        if (strcmp(ln, "rPh") == 0 && x->in_rph > 0)
            x->in_rph--;
        else if (strcmp(ln, "is") == 0 && depth == 5)
            x->in_is = false;
        x->collect = false;
    } else if (x->in_row && depth == 3) {
        x->in_row = false;
        x->lastrow = x->rownum;
        x->row_ready = true;
        XML_StopParser(x->p, XML_TRUE); /* hand this row out; resume on the next call */
    }
    return;
nomem:
    s_ws_fail(x, KC_ENOMEM, "out of memory");
}

/* Make the finished row the caller's. */
static int s_row_out(s_x_t *x, kc_sheet_row_t *row, char *err, size_t cap)
{
    size_t n = x->offs.n;
    if (n > x->ptrs_cap) {
        const char **np = realloc(x->ptrs, n * sizeof *np);
        if (!np) {
            s_errf(err, cap, "%s: out of memory", x->s->path);
            return KC_ENOMEM;
        }
        x->ptrs = np;
        x->ptrs_cap = n;
    }
    for (size_t i = 0; i < n; i++)
        x->ptrs[i] = x->offs.v[i] == SIZE_MAX ? "" : x->arena.p + x->offs.v[i];
    row->cells = x->ptrs;
    row->ncells = n;
    row->row = x->rownum;
    return 1;
}

static int s_ws_error(s_x_t *x, char *err, size_t cap)
{
    if (x->rc != 0) {
        s_errf(err, cap, "%s: %s", x->s->path, x->reason);
        return x->rc;
    }
    s_errf(err, cap, "%s: %s is not well-formed XML (line %lu: %s); the file is corrupt",
           x->s->path, x->part, (unsigned long)XML_GetCurrentLineNumber(x->p),
           XML_ErrorString(XML_GetErrorCode(x->p)));
    return KC_EFORMAT;
}

static int s_next(kc_sheet_t *s, kc_sheet_row_t *row, char *err, size_t cap)
{
    s_x_t *x = s->impl;
    if (x->done)
        return x->rc ? x->rc : 0;
    locale_t old = uselocale(x->cloc);
    int rc = 0;
    x->row_ready = false;
    enum XML_Status st = XML_STATUS_OK;
    if (x->suspended) {
        x->suspended = false;
        st = XML_ResumeParser(x->p);
    }
    for (;;) {
        if (st == XML_STATUS_SUSPENDED) {
            x->suspended = true;
            rc = s_row_out(x, row, err, cap);
            break;
        }
        if (st == XML_STATUS_ERROR) {
            rc = s_ws_error(x, err, cap);
            break;
        }
        if (x->final_given) {
            rc = 0;
            break;
        }
        void *buf = XML_GetBuffer(x->p, S_CHUNK);
        if (!buf) {
            s_errf(err, cap, "%s: out of memory reading %s", s->path, x->part);
            rc = KC_ENOMEM;
            break;
        }
        zip_int64_t n = s_part_read(x, x->zf, x->part, buf, S_CHUNK, err, cap);
        if (n < 0) {
            rc = (int)n;
            break;
        }
        x->final_given = n == 0;
        st = XML_ParseBuffer(x->p, (int)n, n == 0);
    }
    uselocale(old);
    if (rc <= 0) {
        x->done = true;
        if (rc < 0 && x->rc == 0)
            x->rc = rc;
    }
    return rc;
}

static void s_free(s_x_t *x)
{
    if (!x)
        return;
    if (x->p)
        XML_ParserFree(x->p);
    if (x->zf)
        zip_fclose(x->zf);
    if (x->za)
        zip_discard(x->za);
    if (x->cloc)
        freelocale(x->cloc);
    free(x->sst.p);
    free(x->sst_off.v);
    free(x->xf_date);
    free(x->cur.p);
    free(x->arena.p);
    free(x->offs.v);
    free(x->ptrs);
    free(x);
}

static void s_close(kc_sheet_t *s)
{
    s_free(s->impl);
    s->impl = NULL;
}

static const kc_sheet_ops_t s_ops = {s_next, s_close};

static void s_ws_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                         const XML_Char *pubid, int internal)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)internal;
    s_x_t *x = ud;
    s_ws_fail(x, KC_EFORMAT, "%s has a DOCTYPE (refused: no XML entities in a spreadsheet)",
              x->part);
}

static void s_ws_entity(void *ud, const XML_Char *name, int is_param, const XML_Char *value,
                        int vlen, const XML_Char *base, const XML_Char *sysid,
                        const XML_Char *pubid, const XML_Char *notation)
{
    (void)name;
    (void)is_param;
    (void)value;
    (void)vlen;
    (void)base;
    (void)sysid;
    (void)pubid;
    (void)notation;
    s_ws_fail(ud, KC_EFORMAT, "%s declares an XML entity (refused)", ((s_x_t *)ud)->part);
}

/* The directory of a part, with its slash ("xl/"), and its rels part
 * ("xl/_rels/workbook.xml.rels"). */
static void s_part_dir(const char *part, char *dir, size_t cap, char *rels, size_t rcap)
{
    const char *slash = strrchr(part, '/');
    size_t dl = slash ? (size_t)(slash - part) + 1 : 0;
    snprintf(dir, cap, "%.*s", (int)dl, part);
    snprintf(rels, rcap, "%.*s_rels/%s.rels", (int)dl, part, part + dl);
}

/* Why zip_open failed, for a clerk. */
static int s_open_fail(kc_sheet_t *s, int zerr, char *err, size_t cap)
{
    unsigned char magic[8] = {0};
    FILE *f = fopen(s->path, "rb");
    size_t n = f ? fread(magic, 1, sizeof magic, f) : 0;
    if (f)
        fclose(f);
    static const unsigned char ole[8] = {0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1};
    if (zerr == ZIP_ER_OPEN || zerr == ZIP_ER_READ) {
        s_errf(err, cap, "%s: cannot read: %s", s->path, strerror(errno ? errno : EIO));
        return errno ? -errno : KC_EIO;
    }
    if (n == sizeof ole && memcmp(magic, ole, sizeof ole) == 0) {
        s_errf(err, cap,
               "%s: an OLE compound file, not a zip: " S_HINT_PW
               " (as .xlsx; an old .xls must be saved as .xlsx too)",
               s->path);
        return KC_EFORMAT;
    }
    zip_error_t ze;
    zip_error_init_with_code(&ze, zerr);
    s_errf(err, cap, "%s: not a readable xlsx file (%s): truncated, corrupt or not a spreadsheet",
           s->path, zip_error_strerror(&ze));
    zip_error_fini(&ze);
    return KC_EFORMAT;
}

static int s_open(kc_sheet_t *s, s_x_t *x, char *err, size_t cap)
{
    int zerr = 0;
    errno = 0;
    x->za = zip_open(s->path, ZIP_RDONLY, &zerr);
    if (!x->za)
        return s_open_fail(s, zerr, err, cap);
    x->cloc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (!x->cloc) {
        s_errf(err, cap, "%s: out of memory", s->path);
        return KC_ENOMEM;
    }

    /* the workbook: where _rels/.rels says, else the usual place */
    s_rels_t r;
    int rc = s_rels_find(x, "_rels/.rels", "", NULL, "officeDocument", &r, err, cap);
    if (rc != 0 && rc != KC_ENOTFOUND)
        return rc;
    char wb_part[S_PATH_MAX];
    snprintf(wb_part, sizeof wb_part, "%s", rc == 0 && r.found ? r.target : "xl/workbook.xml");
    char dir[S_PATH_MAX], rels[S_PATH_MAX + 16];
    s_part_dir(wb_part, dir, sizeof dir, rels, sizeof rels);

    s_wb_t w = {0};
    w.px.x = x;
    w.px.part = wb_part;
    w.want = s->opts.sheet;
    XML_Parser p = s_parser(&w.px, &w);
    if (!p) {
        s_errf(err, cap, "%s: out of memory", s->path);
        return KC_ENOMEM;
    }
    XML_SetElementHandler(p, s_wb_start, s_end_depth);
    rc = s_parse_part(x, &w.px, err, cap);
    if (rc == KC_ENOTFOUND) {
        s_errf(err, cap, "%s: not an xlsx file: it has no workbook (%s); save it as .xlsx", s->path,
               wb_part);
        rc = KC_EFORMAT;
    }
    x->date1904 = w.date1904;
    const char *names = w.names.p ? w.names.p : "";
    if (rc == 0 && w.want && !w.found) {
        s_errf(err, cap, "%s: no sheet named '%s'; the sheets are: %s", s->path, w.want,
               w.nsheets ? names : "(none)");
        rc = KC_EFORMAT;
    }
    /* find the chosen sheet's part */
    char ws_part[S_PATH_MAX] = "";
    if (rc == 0 && w.want) {
        rc = s_rels_find(x, rels, dir, w.id, NULL, &r, err, cap);
        if (rc == 0 && (!r.found || strcmp(r.type, "worksheet") != 0)) {
            s_errf(err, cap, "%s: sheet '%s' is %s", s->path, w.name,
                   r.found ? "not a worksheet (a chart?): name a worksheet"
                           : "missing from the workbook's parts; the file is corrupt");
            rc = KC_EFORMAT;
        }
        if (rc == 0) {
            snprintf(ws_part, sizeof ws_part, "%s", r.target);
            snprintf(s->name, sizeof s->name, "%s", w.name);
        }
    } else if (rc == 0) {
        const char *id = w.ids.p, *sn = w.allnames.p;
        for (; rc == 0 && id && id < w.ids.p + w.ids.len && !ws_part[0];
             id += strlen(id) + 1, sn += strlen(sn) + 1) {
            rc = s_rels_find(x, rels, dir, id, NULL, &r, err, cap);
            if (rc == 0 && r.found && strcmp(r.type, "worksheet") == 0) {
                snprintf(ws_part, sizeof ws_part, "%s", r.target);
                snprintf(s->name, sizeof s->name, "%s", sn);
            }
        }
        if (rc == KC_ENOTFOUND || (rc == 0 && !ws_part[0])) {
            s_errf(err, cap, "%s: the workbook has no worksheet; the file is corrupt", s->path);
            rc = KC_EFORMAT;
        }
    }
    if (rc == KC_ENOTFOUND) {
        s_errf(err, cap, "%s: the workbook's relationships (%s) are missing; the file is corrupt",
               s->path, rels);
        rc = KC_EFORMAT;
    }
    free(w.names.p);
    free(w.ids.p);
    free(w.allnames.p);
    if (rc != 0)
        return rc;
    /* a name cut by snprintf: drop a partial last character */
    size_t l = strlen(s->name), i = l;
    while (i > 0 && ((unsigned char)s->name[i - 1] & 0xC0) == 0x80)
        i--;
    if (i > 0) {
        unsigned char lead = (unsigned char)s->name[i - 1];
        size_t want = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2;
        if (l - (i - 1) < want)
            s->name[i - 1] = '\0';
    }

    /* shared strings and styles (optional parts) */
    rc = s_rels_find(x, rels, dir, NULL, "sharedStrings", &r, err, cap);
    if (rc == 0 && r.found) {
        s_sst_t c = {0};
        c.px.x = x;
        c.px.part = r.target;
        p = s_parser(&c.px, &c);
        if (!p) {
            s_errf(err, cap, "%s: out of memory", s->path);
            return KC_ENOMEM;
        }
        XML_SetElementHandler(p, s_sst_start, s_sst_end);
        XML_SetCharacterDataHandler(p, s_sst_text);
        rc = s_parse_part(x, &c.px, err, cap);
        if (rc == KC_ENOTFOUND) {
            s_errf(err, cap, "%s: the shared strings (%s) are missing; the file is corrupt",
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
    rc = s_part_open(x, x->part, &x->zf, err, cap);
    if (rc == KC_ENOTFOUND) {
        s_errf(err, cap, "%s: sheet '%s' (%s) is missing; the file is corrupt", s->path, s->name,
               x->part);
        rc = KC_EFORMAT;
    }
    if (rc != 0)
        return rc;
    x->p = XML_ParserCreate("UTF-8");
    if (!x->p) {
        s_errf(err, cap, "%s: out of memory", s->path);
        return KC_ENOMEM;
    }
    XML_SetUserData(x->p, x);
    XML_SetStartDoctypeDeclHandler(x->p, s_ws_doctype);
    XML_SetEntityDeclHandler(x->p, s_ws_entity);
    XML_SetParamEntityParsing(x->p, XML_PARAM_ENTITY_PARSING_NEVER);
    XML_SetElementHandler(x->p, s_ws_start, s_ws_end);
    XML_SetCharacterDataHandler(x->p, s_ws_text);
    return 0;
}

int kc_sheet_xlsx_open(kc_sheet_t *s, char *err, size_t cap)
{
    s_x_t *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, cap, "%s: out of memory", s->path);
        return KC_ENOMEM;
    }
    x->s = s;
    s->format = "xlsx";
    snprintf(s->encoding, sizeof s->encoding, "UTF-8");
    int rc = s_open(s, x, err, cap);
    if (rc != 0) {
        s_free(x);
        s->impl = NULL;
        s->name[0] = '\0';
        return rc;
    }
    s->impl = x;
    s->ops = &s_ops;
    return 0;
}
