/* kc_sheet_zip.h - what the two zip + XML readers behind kc_sheet.h (xlsx:
 * kc_sheet_xlsx.c, ods: kc_sheet_ods.c) share. Private to ingest/kc_sheet_*.c.
 *
 * DESIGN
 * Both readers open a zip container with libzip, read its members through
 * expat under the same limits, and turn cell values into text by the same
 * rules; that code is here once, so that a bound, a refusal or a rule cannot
 * drift between the formats:
 *   - kc_szip_t: the container and the opts.max_bytes bound. Every member is
 *     opened through kc_szip_member_open (the central directory's declared
 *     size checked first, encrypted entries refused) and read through
 *     kc_szip_member_read (the bytes actually inflated counted as they come).
 *   - kc_sxml_t: the head of every expat user data. kc_sxml_new makes a
 *     parser that refuses a DOCTYPE or an entity declaration (nothing is
 *     expanded) through the head's fail callback, which knows how the reader
 *     words its messages (with the sheet and row, for the streamed part).
 *   - kc_spart_t: a small part parsed whole (xlsx: rels, workbook, shared
 *     strings, styles; ods: the manifest), with the S_MAX_DEPTH nesting bound.
 *   - kc_sstream_t: the sheet's part parsed incrementally: kc_sstream_pump
 *     feeds 64 KiB chunks until a handler suspends the parser (a row is
 *     ready), the part ends or it fails.
 *   - kc_srow_t: the row handed out: cell texts in one arena, one offset per
 *     column (KC_SROW_EMPTY, an arena offset, or KC_SROW_SST | an offset into
 *     an arena the reader keeps for the whole read: xlsx's shared strings).
 *   - values: the number rule (shortest decimal text that reads back to the
 *     same double, integers below 2^53 in full, written without printf: it
 *     runs for every number cell), civil dates, column letters.
 * The growable buffers, the depth check, the number rule and the row hand-out
 * are static inline: they run for every cell, element or row, and the
 * readers' speed (bench/import) must not pay a call for them. Messages are in English, as the
 * readers' others.
 */
#ifndef KC_SHEET_ZIP_H
#define KC_SHEET_ZIP_H

#include "kc_sheet_int.h"

#include "kc_err.h"

#include <expat.h>
#include <zip.h>

#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KC_SHEET_CHUNK     (64 * 1024) /* bytes fed to expat at a time */
#define KC_SHEET_MAX_DEPTH 64          /* elements nested deeper are refused */

/* ---- buffers ---- */

/* A growable byte buffer, always NUL-terminated once something was added. */
typedef struct {
    char *p;
    size_t len, cap;
} kc_sbuf_t;

static inline bool kc_sbuf_add(kc_sbuf_t *b, const char *d, size_t n)
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

static inline void kc_sbuf_clear(kc_sbuf_t *b)
{
    b->len = 0;
    if (b->p)
        b->p[0] = '\0';
}

/* A growable array of size_t. */
typedef struct {
    size_t *v;
    size_t n, cap;
} kc_svec_t;

static inline bool kc_svec_push(kc_svec_t *a, size_t x)
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

/* "'A', 'B'": the sheet names for a "no sheet named ..." hint, up to about
 * 300 bytes. false when out of memory. */
bool kc_sheet_names_add(kc_sbuf_t *names, const char *name);

/* snprintf into err[cap]. */
void kc_sheet_errf(char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* s->name = name, cut to fit without leaving a partial UTF-8 character. */
void kc_sheet_set_name(kc_sheet_t *s, const char *name);

/* ---- the container ---- */

/* The frame of kc_sheet_{xlsx,ods}_open: a zeroed state of size bytes with
 * s->format and s->encoding set (NULL, with a reason, when out of memory);
 * then the reader's open result rc: 0 makes impl s's (s->impl, s->ops),
 * anything else frees it through ops->close and leaves nothing held. */
void *kc_szip_reader_new(kc_sheet_t *s, size_t size, const char *format, char *err, size_t cap);
int kc_szip_reader_set(kc_sheet_t *s, void *impl, const kc_sheet_ops_t *ops, int rc);

typedef struct {
    kc_sheet_t *s;
    zip_t *za;
    uint64_t used;        /* bytes inflated so far, against s->opts.max_bytes */
    locale_t cloc;        /* the C locale, for numbers */
    zip_flags_t locate;   /* zip_name_locate's flags (xlsx: ZIP_FL_NOCASE) */
    const char *hint_pw;  /* what to do about an encrypted member */
    const char *noun;     /* "a zip bomb or a <noun> too big to import" */
    const char *ole_hint; /* non-NULL: an OLE compound file gets this hint */
} kc_szip_t;

/* Open z->s->path (z's settings filled in by the caller): 0, or a negative
 * KC_E* (-errno when it cannot be read) with a reason. */
int kc_szip_open(kc_szip_t *z, char *err, size_t cap);
void kc_szip_close(kc_szip_t *z);

/* Open a member by name: 0 and *zf, KC_ENOTFOUND when there is no such member
 * (err untouched), or KC_EFORMAT with a reason (encrypted, over the bound,
 * corrupt). */
int kc_szip_member_open(kc_szip_t *z, const char *part, zip_file_t **zf, char *err, size_t cap);

/* Read up to n bytes of part into buf, counting them against the bound: the
 * count read (0 at the end) or a negative KC_E* with a reason. */
zip_int64_t kc_szip_member_read(kc_szip_t *z, zip_file_t *zf, const char *part, void *buf, size_t n,
                                char *err, size_t cap);

/* ---- XML ---- */

typedef struct kc_sxml kc_sxml_t;
struct kc_sxml {
    XML_Parser p;
    const char *part; /* the member parsed, for messages */
    /* record a failure (the first wins) and stop the parser */
    void (*fail)(kc_sxml_t *h, int rc, const char *what);
};

/* A parser (namespace processing with ' ' when ns) whose user data is h,
 * which must be the first member of the handlers' struct; a DOCTYPE or an
 * entity declaration goes to h->fail. NULL when out of memory. */
XML_Parser kc_sxml_new(kc_sxml_t *h, bool ns);

/* A small part parsed whole: the head of its handlers' user data. */
typedef struct {
    kc_sxml_t xml;
    kc_szip_t *z;
    int depth, rc;
    char reason[400];
} kc_spart_t;

/* Clear px and make its parser (handlers are the caller's to set): 0, or
 * KC_ENOMEM with a reason. */
int kc_spart_init(kc_spart_t *px, kc_szip_t *z, const char *part, bool ns, char *err, size_t cap);

void kc_spart_fail(kc_spart_t *px, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Depth bookkeeping for every start handler: false (and the parser stopped)
 * when nested too deep. */
static inline bool kc_spart_enter(kc_spart_t *px)
{
    if (++px->depth > KC_SHEET_MAX_DEPTH) {
        kc_spart_fail(px, KC_EFORMAT, "%s nests XML elements deeper than %d", px->xml.part,
                      KC_SHEET_MAX_DEPTH);
        return false;
    }
    return true;
}

/* An end handler that only keeps the depth. */
void kc_spart_end_depth(void *ud, const XML_Char *name);

/* Parse the whole part through px's parser: 0, KC_ENOTFOUND if the part is
 * absent (err untouched), or a KC_E* with a reason. Frees the parser. */
int kc_spart_parse(kc_spart_t *px, char *err, size_t cap);

/* The sheet's part, streamed: the head of the reader's state. */
typedef struct {
    kc_sxml_t xml;
    kc_szip_t *z;
    zip_file_t *zf;
    bool final_given, suspended;
    int rc;
    char reason[1024];
} kc_sstream_t;

/* Open part and make its parser with user data st (handlers are the
 * caller's to set): 0, KC_ENOTFOUND if there is no such part (err
 * untouched), or a KC_E* with a reason. */
int kc_sstream_open(kc_sstream_t *st, kc_szip_t *z, const char *part, bool ns, char *err,
                    size_t cap);

/* Feed the part to the parser until a handler suspends it (1), the part
 * ends (0) or it fails (a negative KC_E* with a reason). */
int kc_sstream_pump(kc_sstream_t *st, char *err, size_t cap);

/* Record a failure (the first wins) as "sheet 'S', row R: what" (row > 0),
 * "sheet 'S': what" (sheet not NULL) or "what", and stop the parser. */
void kc_sstream_fail(kc_sstream_t *st, int rc, const char *sheet, long long row, const char *what);

void kc_sstream_free(kc_sstream_t *st);

/* ---- the row handed out ---- */

#define KC_SROW_EMPTY SIZE_MAX
#define KC_SROW_SST   ((size_t)1 << (sizeof(size_t) * 8 - 2)) /* an offset into sst */

typedef struct {
    kc_sbuf_t arena; /* the row's cell texts, NUL-terminated */
    kc_svec_t offs;  /* per column: KC_SROW_EMPTY, an arena offset or KC_SROW_SST | offset */
    const char **ptrs;
    size_t ptrs_cap;
} kc_srow_t;

/* Make the row the caller's: 1, or KC_ENOMEM with a reason. sst: the base
 * of KC_SROW_SST offsets (NULL when there are none). */
static inline int kc_srow_out(kc_srow_t *r, const char *sst, long rownum, kc_sheet_row_t *row,
                              const char *path, char *err, size_t cap)
{
    size_t n = r->offs.n;
    if (n > r->ptrs_cap) {
        const char **np = realloc(r->ptrs, n * sizeof *np);
        if (!np) {
            kc_sheet_errf(err, cap, "%s: out of memory", path);
            return KC_ENOMEM;
        }
        r->ptrs = np;
        r->ptrs_cap = n;
    }
    const size_t *o = r->offs.v;
    for (size_t i = 0; i < n; i++)
        r->ptrs[i] = o[i] == KC_SROW_EMPTY ? ""
                     : o[i] & KC_SROW_SST  ? sst + (o[i] & ~KC_SROW_SST)
                                           : r->arena.p + o[i];
    row->cells = r->ptrs;
    row->ncells = n;
    row->row = rownum;
    return 1;
}
void kc_srow_free(kc_srow_t *r);

/* ---- values ---- */

/* The shortest decimal text that reads back to v (integers below 2^53 in
 * full, without exponent). Under the C locale (the caller's uselocale). */
static inline void kc_sheet_number(double v, char *out, size_t cap)
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
        size_t len = sizeof tmp - 1 - i; /* as snprintf "%s" would, without its cost */
        if (cap) {
            len = len < cap - 1 ? len : cap - 1;
            memcpy(out, tmp + i, len);
            out[len] = '\0';
        }
        return;
    }
    static const char *const fmts[] = {"%.15g", "%.16g", "%.17g"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(out, cap, fmts[i], v);
        if (strtod(out, NULL) == v)
            return;
    }
}

/* Days since 1970-01-01 -> civil date (H. Hinnant's algorithm). */
void kc_sheet_civil(long long days, long long *y, unsigned *m, unsigned *d);

/* "YYYY-MM-DD", or "YYYY-MM-DD HH:MM:SS" when tod (seconds into the day,
 * 0..86399) is not 0. */
void kc_sheet_put_date(long long y, unsigned m, unsigned d, long long tod, char *out, size_t cap);

/* 0-based column -> "A", "B", ... "AA" (out: 8 bytes). */
void kc_sheet_col_name(long long col, char *out);

#endif
