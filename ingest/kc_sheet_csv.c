/* kc_sheet_csv.c - the CSV reader behind kc_sheet.h: libcsv + iconv, streaming.
 *
 * DESIGN
 * Bytes flow file -> text -> parser -> one row:
 *   - text: UTF-8 in s_csv_t.text. A UTF-8 file is read straight into it and
 *     validated in place (RFC 3629, NUL refused; a sequence cut by the end of
 *     a read waits in text[len..end) for the next read). Any other encoding
 *     is read into raw[] and converted by iconv (glibc) into text; glibc's
 *     WINDOWS-1258 and TCVN5712-1 modules compose a base letter and a
 *     following combining tone mark into the precomposed character (NFC for
 *     Vietnamese), buffering the last character, so the converter is flushed
 *     at the end. A bad byte, a NUL, the max_bytes bound or a read error does
 *     not stop at once: it marks its offset in text (stop_at) and the rows
 *     before it are still handed out; the parser's arrival there is the error,
 *     so that it names the line and column where it sits.
 *   - parser: libcsv in strict mode (RFC 4180: a quote inside an unquoted cell
 *     or text after a closing quote is an error; cells verbatim, no space
 *     trimming), fed one physical line at a time, as kc_csv.c does, so that a
 *     row's number is the physical line where it starts: a physical line ends
 *     at LF, CRLF or a lone CR (libcsv ends rows at both CR and LF outside
 *     quotes; a CR that ends the text read so far is held back until the next
 *     byte shows whether an LF follows). One line completes at most one row,
 *     so the row callback never has to queue. A line holding only its line
 *     end while no row is open (a blank line, which libcsv skips) is handed
 *     out as a row of 0 cells.
 *   - speed (issue 15: the import is measured by bench/import): a line that
 *     holds a whole row and no double quote - nearly every line of a real
 *     file - is split at its delimiters here, eight bytes at a time, instead
 *     of going through libcsv's per-byte state machine: strict RFC 4180 makes
 *     exactly those cells of such a line (no quote, so no quoting rule
 *     applies), and libcsv, between rows before and after, never sees it.
 *     Lines with a quote, and rows that span lines, go through libcsv.
 *   - memory: text (256 KiB) and raw (64 KiB) buffers, plus the open row's
 *     cells and libcsv's field buffer, both bounded by max_bytes.
 */
#include "kc_sheet_int.h"

#include "kc_err.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Splitting a line eight bytes at a time needs the first byte in memory to be
 * the lowest of a word (the zero-byte test flags exactly the lowest match). */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define S_SWAR 1
#else
#define S_SWAR 0
#endif

#define S_TEXT_CAP ((size_t)256 << 10)
#define S_RAW_CAP  ((size_t)64 << 10)

/* what stopped the text at stop_at */
typedef enum {
    S_STOP_NONE = 0,
    S_STOP_BADTEXT, /* a byte that is not valid in the encoding (stop_byte) */
    S_STOP_NUL,     /* a NUL byte */
    S_STOP_LIMIT,   /* max_bytes of text reached */
    S_STOP_IO,      /* read() failed (stop_errno) */
} s_stop_t;

typedef struct {
    int fd;
    bool passthrough; /* UTF-8: validated in place, no iconv */
    iconv_t cd;       /* otherwise */
    char *raw;        /* iconv input not yet converted: raw[0..raw_len) */
    size_t raw_len;
    bool raw_eof;
    char *text; /* [pos, len) text to parse; [len, end) bytes awaiting more */
    size_t pos, len, end;
    bool text_eof;  /* no text will follow text[len] */
    uint64_t total; /* text bytes produced so far */
    s_stop_t stop;  /* if set, the text ends at stop_at */
    size_t stop_at;
    unsigned char stop_byte;
    int stop_errno;
    struct csv_parser cp;
    bool cp_live;
    bool fini_done;
    long line;     /* physical line last fed (1-based) */
    long row_line; /* line where the open row starts */
    bool bol;      /* the next byte fed starts a physical line */
    bool in_row;   /* a row is open (libcsv has begun it) */
    bool row_ready;
    bool too_many; /* the row has more than max_cells cells */
    size_t max_cells;
    char *cell; /* the row's cells, NUL-terminated, back to back */
    size_t cell_len, cell_cap;
    size_t *off;        /* offset of each cell in cell[] */
    const char **cells; /* handed out */
    size_t nf, cap_f;
    int fail_rc; /* once failed: this code and fail_msg on every later call */
    char fail_msg[640];
} s_csv_t;

static int s_no_space(unsigned char c)
{
    (void)c;
    return 0; /* cells are passed as read: trimming is kc_import's rule */
}

/* ---- UTF-8 validation ---------------------------------------------------- */

/* Offset of the first byte of s[0..n) that is not well-formed UTF-8 (RFC
 * 3629) or is NUL; n if there is none. *cut is set when that byte starts a
 * sequence that is valid so far but cut short by n (more bytes may follow). */
static size_t s_utf8_prefix(const unsigned char *s, size_t n, bool *cut)
{
    size_t i = 0;
    *cut = false;
    while (i < n) {
        if (i + 8 <= n) { /* fast path: 8 ASCII bytes, none NUL */
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & 0x8080808080808080ull) &&
                !((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull)) {
                i += 8;
                continue;
            }
        }
        unsigned c = s[i];
        if (c < 0x80) {
            if (c == 0)
                return i;
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF;
        if (c >= 0xC2 && c <= 0xDF)
            need = 1;
        else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0;
            else if (c == 0xED)
                hi = 0x9F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90;
            else if (c == 0xF4)
                hi = 0x8F;
        } else
            return i;
        for (size_t k = 1; k <= need; k++) {
            if (i + k == n) {
                *cut = true;
                return i;
            }
            unsigned b = s[i + k];
            if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF))
                return i;
        }
        i += need + 1;
    }
    return n;
}

/* ---- text ---------------------------------------------------------------- */

static void s_stop(s_csv_t *c, s_stop_t why, size_t at)
{
    if (c->stop)
        return;
    c->stop = why;
    c->stop_at = at;
}

/* n new text bytes at text[len..len+n): count them against max_bytes, look
 * for a NUL (iconv output), then make them parseable. */
static void s_accept(s_csv_t *c, const kc_sheet_t *s, size_t n, bool nul_check)
{
    if (nul_check) {
        const char *z = memchr(c->text + c->len, '\0', n);
        if (z) {
            n = (size_t)(z - (c->text + c->len));
            s_stop(c, S_STOP_NUL, c->len + n);
        }
    }
    if (c->total + n > s->opts.max_bytes) {
        n = (size_t)(s->opts.max_bytes - c->total);
        c->stop = S_STOP_NONE; /* the limit comes first */
        s_stop(c, S_STOP_LIMIT, c->len + n);
    }
    c->total += n;
    c->len += n;
}

static ssize_t s_read(int fd, char *buf, size_t n)
{
    ssize_t r;
    do
        r = read(fd, buf, n);
    while (r < 0 && errno == EINTR);
    return r;
}

/* More text after text[len]: at least one byte, or text_eof, or a stop. */
static void s_refill(s_csv_t *c, const kc_sheet_t *s)
{
    if (c->pos > 0) { /* keep [pos, end): at most a held-back CR and a cut sequence */
        memmove(c->text, c->text + c->pos, c->end - c->pos);
        c->len -= c->pos;
        c->end -= c->pos;
        c->pos = 0;
    }
    size_t len0 = c->len;
    while (c->len == len0 && !c->text_eof && !c->stop) {
        if (c->passthrough) {
            ssize_t r = s_read(c->fd, c->text + c->end, S_TEXT_CAP - c->end);
            if (r < 0) {
                c->stop_errno = errno;
                s_stop(c, S_STOP_IO, c->len);
                return;
            }
            if (r == 0) {
                if (c->end > c->len) { /* the file ends inside a character */
                    c->stop_byte = (unsigned char)c->text[c->len];
                    s_stop(c, S_STOP_BADTEXT, c->len);
                } else
                    c->text_eof = true;
                return;
            }
            c->end += (size_t)r;
            bool cut;
            size_t v =
                s_utf8_prefix((const unsigned char *)c->text + c->len, c->end - c->len, &cut);
            size_t at = c->len + v;
            if (v < c->end - c->len && !cut) {
                c->stop_byte = (unsigned char)c->text[at];
                s_stop(c, c->stop_byte ? S_STOP_BADTEXT : S_STOP_NUL, at);
            }
            s_accept(c, s, v, false);
            continue;
        }
        if (!c->raw_eof && c->raw_len < S_RAW_CAP) {
            ssize_t r = s_read(c->fd, c->raw + c->raw_len, S_RAW_CAP - c->raw_len);
            if (r < 0) {
                c->stop_errno = errno;
                s_stop(c, S_STOP_IO, c->len);
                return;
            }
            if (r == 0)
                c->raw_eof = true;
            c->raw_len += (size_t)r;
        }
        char *in = c->raw, *out = c->text + c->len;
        size_t inleft = c->raw_len, outleft = S_TEXT_CAP - c->len;
        size_t rc = iconv(c->cd, &in, &inleft, &out, &outleft);
        int e = errno;
        size_t produced = (size_t)(out - (c->text + c->len));
        size_t consumed = c->raw_len - inleft;
        unsigned char bad = inleft ? (unsigned char)*in : 0;
        memmove(c->raw, c->raw + consumed, inleft);
        c->raw_len = inleft;
        bool flush = false;
        if (rc == (size_t)-1 && e == EILSEQ) {
            c->stop_byte = bad;
            s_stop(c, S_STOP_BADTEXT, c->len + produced);
        } else if (rc == (size_t)-1 && e == EINVAL && c->raw_eof) {
            c->stop_byte = bad; /* the file ends inside a character */
            s_stop(c, S_STOP_BADTEXT, c->len + produced);
        } else if (c->raw_eof && inleft == 0) {
            flush = true;
        }
        c->end = c->len + produced;
        s_accept(c, s, produced, true);
        if (flush && !c->stop) { /* the character glibc holds back for composition */
            out = c->text + c->len;
            outleft = S_TEXT_CAP - c->len;
            if (iconv(c->cd, NULL, NULL, &out, &outleft) == (size_t)-1) {
                c->stop_byte = 0;
                s_stop(c, S_STOP_BADTEXT, c->len);
                return;
            }
            produced = (size_t)(out - (c->text + c->len));
            c->end = c->len + produced;
            s_accept(c, s, produced, true);
            c->text_eof = true;
        }
    }
}

/* ---- the row ------------------------------------------------------------- */

/* Room for one more cell in off[] and cells[]; false (fail_rc set) if none. */
static bool s_grow_fields(s_csv_t *c)
{
    if (c->nf < c->cap_f)
        return true;
    size_t cap = c->cap_f ? c->cap_f * 2 : 32;
    size_t *o = realloc(c->off, cap * sizeof *o);
    if (!o) {
        c->fail_rc = KC_ENOMEM;
        return false;
    }
    c->off = o;
    const char **p = realloc(c->cells, cap * sizeof *p);
    if (!p) {
        c->fail_rc = KC_ENOMEM;
        return false;
    }
    c->cells = p;
    c->cap_f = cap;
    return true;
}

/* Room for n more bytes in cell[]; false (fail_rc set) if none. */
static bool s_grow_cell(s_csv_t *c, size_t n)
{
    if (c->cell_len + n <= c->cell_cap)
        return true;
    size_t cap = c->cell_cap ? c->cell_cap : 1024;
    while (cap < c->cell_len + n)
        cap *= 2;
    char *t = realloc(c->cell, cap);
    if (!t) {
        c->fail_rc = KC_ENOMEM;
        return false;
    }
    c->cell = t;
    c->cell_cap = cap;
    return true;
}

static void s_on_field(void *f, size_t n, void *data)
{
    s_csv_t *c = data;
    if (c->too_many || c->fail_rc)
        return;
    if (c->nf == c->max_cells) {
        c->too_many = true;
        return;
    }
    if (!s_grow_fields(c) || !s_grow_cell(c, n + 1))
        return;
    c->off[c->nf++] = c->cell_len;
    if (n)
        memcpy(c->cell + c->cell_len, f, n);
    c->cell[c->cell_len + n] = '\0';
    c->cell_len += n + 1;
}

static void s_on_row(int term, void *data)
{
    (void)term;
    s_csv_t *c = data;
    c->in_row = false;
    c->row_ready = true;
}

/* "A", "B", ... "Z", "AA"... for the 1-based column col */
static const char *s_letters(size_t col, char *buf, size_t cap)
{
    char tmp[24];
    size_t n = 0;
    for (; col > 0 && n < sizeof tmp; col = (col - 1) / 26)
        tmp[n++] = (char)('A' + (col - 1) % 26);
    size_t w = 0;
    while (n > 0 && w + 1 < cap)
        buf[w++] = tmp[--n];
    buf[w] = '\0';
    return buf;
}

/* Where the parser stands: "line L, column N (X)" or, inside a row that
 * began on an earlier line, "line L (the row of line R), column N (X)". */
static void s_where(const s_csv_t *c, char *out, size_t cap)
{
    long line = c->bol ? c->line + 1 : c->line;
    size_t col = c->in_row ? c->nf + 1 : 1;
    char x[24];
    s_letters(col, x, sizeof x);
    if (c->in_row && c->row_line != line)
        snprintf(out, cap, "line %ld (in the row that starts on line %ld), column %zu (%s)", line,
                 c->row_line, col, x);
    else
        snprintf(out, cap, "line %ld, column %zu (%s)", line, col, x);
}

static int s_fail(s_csv_t *c, int rc, char *err, size_t cap)
{
    c->fail_rc = rc;
    snprintf(err, cap, "%s", c->fail_msg);
    return rc;
}

/* The error of reaching stop_at. */
static int s_fail_stop(s_csv_t *c, const kc_sheet_t *s, char *err, size_t cap)
{
    char where[128];
    s_where(c, where, sizeof where);
    char *m = c->fail_msg;
    size_t mc = sizeof c->fail_msg;
    switch (c->stop) {
    case S_STOP_BADTEXT:
        if (c->passthrough)
            snprintf(m, mc,
                     "%s: %s: the file is not UTF-8 (byte 0x%02X): save it as \"CSV UTF-8\" in "
                     "Excel, or give --encoding windows-1258 / tcvn",
                     s->path, where, c->stop_byte);
        else
            snprintf(m, mc,
                     "%s: %s: byte 0x%02X is not valid %s text: give the file's real encoding "
                     "with --encoding (utf-8, windows-1258, tcvn), or save it as \"CSV UTF-8\" "
                     "in Excel",
                     s->path, where, c->stop_byte, s->encoding);
        return s_fail(c, KC_EFORMAT, err, cap);
    case S_STOP_NUL:
        snprintf(m, mc,
                 "%s: %s: the file holds a NUL byte, so it is not %s text (a binary file, or "
                 "UTF-16 without a byte order mark): save it as \"CSV UTF-8\" in Excel",
                 s->path, where, s->encoding);
        return s_fail(c, KC_EFORMAT, err, cap);
    case S_STOP_LIMIT:
        snprintf(m, mc,
                 "%s: %s: the file holds more than %llu bytes of text, the bound for one "
                 "import: split it into smaller files",
                 s->path, where, (unsigned long long)s->opts.max_bytes);
        return s_fail(c, KC_EFORMAT, err, cap);
    case S_STOP_IO:
    default:
        snprintf(m, mc, "%s: cannot read after %s: %s", s->path, where,
                 strerror(c->stop_errno ? c->stop_errno : EIO));
        return s_fail(c, KC_EIO, err, cap);
    }
}

/* Feed p[0..n) (one physical line, complete = with its line end, or the
 * start of one) to libcsv. 0, or a negative KC_E* with fail_msg set. */
static int s_feed(s_csv_t *c, const kc_sheet_t *s, const char *p, size_t n, bool complete)
{
    bool fresh = false; /* a row starts with this line */
    if (c->bol) {
        c->line++;
        if (!c->in_row) {
            c->row_line = c->line;
            if (complete && (p[0] == '\n' || p[0] == '\r'))
                c->row_ready = true; /* a blank line: a row of 0 cells */
            else
                c->in_row = fresh = true;
        }
    }
    c->bol = false; /* for s_where while inside the line */
    size_t done = n;
    if (fresh && complete && !memchr(p, '"', n)) {
        /* A whole row on one line without a double quote, the common case:
         * libcsv (strict, no space trimming) would split it at each
         * delimiter, cells verbatim, and end the row at the line end; do that
         * here at memchr speed. libcsv stays between rows. */
        size_t body = n;
        if (body && p[body - 1] == '\n')
            body--;
        if (body && p[body - 1] == '\r')
            body--;
        /* the cells take body + 1 bytes: the text less the delimiters, one
         * NUL per cell; copied in one pass, the delimiters becoming NULs,
         * eight bytes at a time (+ 8: the last word written may overhang) */
        if (s_grow_cell(c, body + 1 + 8)) {
            const char *q = p, *e = p + body;
            const char d = s->delimiter;
            const uint64_t ones = 0x0101010101010101ull, dd = ones * (unsigned char)d;
            char *w = c->cell + c->cell_len;
            for (;;) {
                if (c->nf == c->max_cells) {
                    c->too_many = true;
                    break;
                }
                if (!s_grow_fields(c))
                    break;
                c->off[c->nf++] = (size_t)(w - c->cell);
                while (S_SWAR && e - q >= 8) {
                    uint64_t v, x;
                    memcpy(&v, q, 8);
                    memcpy(w, &v, 8);
                    x = v ^ dd; /* a zero byte where the delimiter is */
                    x = (x - ones) & ~x & 0x8080808080808080ull;
                    if (x) { /* the lowest flagged byte is the first delimiter */
                        size_t k = (size_t)__builtin_ctzll(x) / 8;
                        q += k;
                        w += k;
                        break;
                    }
                    q += 8;
                    w += 8;
                }
                if (e - q < 8 || *q != d)
                    while (q < e && *q != d)
                        *w++ = *q++;
                *w++ = '\0';
                if (q == e)
                    break;
                q++;
            }
            c->cell_len = (size_t)(w - c->cell);
        }
        s_on_row(p[body], c);
    } else {
        done = csv_parse(&c->cp, p, n, s_on_field, s_on_row, c);
    }
    if (c->fail_rc) {
        snprintf(c->fail_msg, sizeof c->fail_msg, "%s: line %ld: out of memory", s->path, c->line);
        return c->fail_rc;
    }
    char where[128];
    if (done != n) {
        c->in_row = true; /* the error is inside the open row */
        s_where(c, where, sizeof where);
        snprintf(c->fail_msg, sizeof c->fail_msg,
                 "%s: %s: broken quoting: a double quote inside a cell that does not start with "
                 "one, or text after a closing quote; put a cell that holds quotes, '%s' or line "
                 "breaks in double quotes and double each quote inside",
                 s->path, where, s->delimiter == '\t' ? "tab" : (char[]){s->delimiter, 0});
        return KC_EFORMAT;
    }
    if (c->too_many) {
        snprintf(c->fail_msg, sizeof c->fail_msg,
                 "%s: line %ld: the row has more than %zu cells: check the delimiter (this file "
                 "was read with '%s'; give --delimiter)",
                 s->path, c->row_line, s->opts.max_cells,
                 s->delimiter == '\t' ? "tab" : (char[]){s->delimiter, 0});
        return KC_EFORMAT;
    }
    c->bol = complete;
    return 0;
}

static int s_next(kc_sheet_t *s, kc_sheet_row_t *row, char *err, size_t cap)
{
    s_csv_t *c = s->impl;
    if (c->fail_rc) {
        snprintf(err, cap, "%s", c->fail_msg);
        return c->fail_rc;
    }
    c->nf = 0;
    c->cell_len = 0;
    c->row_ready = false;
    for (;;) {
        if (c->row_ready) {
            for (size_t i = 0; i < c->nf; i++)
                c->cells[i] = c->cell + c->off[i];
            static const char *const none[1] = {""};
            row->cells = c->nf ? c->cells : none;
            row->ncells = c->nf;
            row->row = c->row_line;
            return 1;
        }
        size_t end = c->stop ? c->stop_at : c->len;
        if (c->pos == end) {
            if (c->stop)
                return s_fail_stop(c, s, err, cap);
            if (!c->text_eof) {
                s_refill(c, s);
                continue;
            }
            if (c->fini_done)
                return 0;
            c->fini_done = true;
            int rc = csv_fini(&c->cp, s_on_field, s_on_row, c);
            if (c->fail_rc) {
                snprintf(c->fail_msg, sizeof c->fail_msg, "%s: out of memory", s->path);
                return s_fail(c, c->fail_rc, err, cap);
            }
            if (rc != 0) {
                char x[24];
                snprintf(c->fail_msg, sizeof c->fail_msg,
                         "%s: line %ld, column %zu (%s): the quoted cell of the row that starts "
                         "on this line is not closed before the end of the file: a closing double "
                         "quote is missing",
                         s->path, c->row_line, c->nf + 1, s_letters(c->nf + 1, x, sizeof x));
                return s_fail(c, KC_EFORMAT, err, cap);
            }
            if (c->too_many) {
                snprintf(c->fail_msg, sizeof c->fail_msg,
                         "%s: line %ld: the row has more than %zu cells", s->path, c->row_line,
                         s->opts.max_cells);
                return s_fail(c, KC_EFORMAT, err, cap);
            }
            continue;
        }
        /* the physical line: up to the first LF or CR (memchr: SIMD in glibc) */
        const char *p = c->text + c->pos;
        size_t n = end - c->pos;
        const char *lf = memchr(p, '\n', n);
        size_t i = lf ? (size_t)(lf - p) : n;
        const char *cr = memchr(p, '\r', i);
        if (cr)
            i = (size_t)(cr - p);
        size_t len;
        bool complete = true;
        if (i == n) {
            len = n;
            complete = false;
        } else if (p[i] == '\n') {
            len = i + 1;
        } else if (i + 1 < n) {
            len = i + 1 + (p[i + 1] == '\n');
        } else if (c->stop || c->text_eof) {
            len = i + 1;
        } else if (i > 0) {
            len = i; /* hold the CR back: an LF may follow it */
            complete = false;
        } else {
            s_refill(c, s); /* a lone CR so far: does an LF follow? */
            continue;
        }
        int rc = s_feed(c, s, p, len, complete);
        if (rc)
            return s_fail(c, rc, err, cap);
        c->pos += len;
    }
}

static void s_close(kc_sheet_t *s)
{
    s_csv_t *c = s->impl;
    if (!c)
        return;
    if (c->cp_live)
        csv_free(&c->cp);
    if (!c->passthrough && c->cd != (iconv_t)-1)
        iconv_close(c->cd);
    if (c->fd >= 0)
        close(c->fd);
    free(c->raw);
    free(c->text);
    free(c->cell);
    free(c->off);
    free(c->cells);
    free(c);
    s->impl = NULL;
}

static const kc_sheet_ops_t s_ops = {s_next, s_close};

/* The delimiter among , ; tab that splits the first non-blank line of the
 * text read so far into the most cells outside quotes; ',' on a tie. */
static char s_sniff(const s_csv_t *c)
{
    size_t end = c->stop ? c->stop_at : c->len, i = c->pos;
    while (i < end && (c->text[i] == '\n' || c->text[i] == '\r'))
        i++;
    size_t comma = 0, semi = 0, tab = 0;
    bool quoted = false;
    for (; i < end; i++) {
        char ch = c->text[i];
        if (ch == '"')
            quoted = !quoted;
        else if (quoted)
            continue;
        else if (ch == '\n' || ch == '\r')
            break;
        else if (ch == ',')
            comma++;
        else if (ch == ';')
            semi++;
        else if (ch == '\t')
            tab++;
    }
    if (semi > comma && semi >= tab)
        return ';';
    if (tab > comma && tab > semi)
        return '\t';
    return ',';
}

static int s_open_fail(kc_sheet_t *s, int rc)
{
    s_close(s);
    return rc;
}

int kc_sheet_csv_open(kc_sheet_t *s, char *err, size_t cap)
{
    char d = s->opts.delimiter;
    if (d != 0 && d != ',' && d != ';' && d != '\t') {
        snprintf(err, cap, "%s: the delimiter must be ',', ';' or tab", s->path);
        return KC_EINVAL;
    }
    s_csv_t *c = calloc(1, sizeof *c);
    if (!c)
        return KC_ENOMEM;
    c->fd = -1;
    c->cd = (iconv_t)-1;
    c->bol = true;
    c->max_cells = s->opts.max_cells;
    s->impl = c;
    s->ops = &s_ops;
    s->format = "csv";
    s->name[0] = '\0';

    c->fd = open(s->path, O_RDONLY | O_CLOEXEC);
    if (c->fd < 0) {
        int e = errno;
        snprintf(err, cap, "%s: cannot open: %s", s->path, strerror(e));
        return s_open_fail(s, -e);
    }
    /* the encoding: UTF-8 unless told; a UTF-16 byte order mark (Excel's
     * "Unicode Text") is taken as UTF-16 when none is given */
    const char *enc = s->opts.encoding;
    unsigned char bom[2] = {0};
    if (!enc && pread(c->fd, bom, 2, 0) == 2 &&
        ((bom[0] == 0xFF && bom[1] == 0xFE) || (bom[0] == 0xFE && bom[1] == 0xFF)))
        enc = "UTF-16";
    if (!enc || strcasecmp(enc, "UTF-8") == 0 || strcasecmp(enc, "UTF8") == 0) {
        c->passthrough = true;
        snprintf(s->encoding, sizeof s->encoding, "UTF-8");
    } else {
        /* "TCVN3" is the name people know; glibc's TCVN5712-1 (alias TCVN) is
         * TCVN 5712:1993 VN1, whose 0xA1-0xFF match VN3 (see kc_sheet.h) */
        if (strcasecmp(enc, "TCVN3") == 0 || strcasecmp(enc, "TCVN-3") == 0 ||
            strcasecmp(enc, "VN3") == 0)
            enc = "TCVN5712-1";
        size_t k = 0;
        for (; enc[k] && k + 1 < sizeof s->encoding; k++)
            s->encoding[k] = (char)(enc[k] >= 'a' && enc[k] <= 'z' ? enc[k] - 32 : enc[k]);
        s->encoding[k] = '\0';
        errno = EINVAL;
        c->cd = enc[k] ? (iconv_t)-1 : iconv_open("UTF-8", s->encoding);
        if (c->cd == (iconv_t)-1) {
            snprintf(err, cap,
                     "%s: unknown encoding '%.40s': give utf-8, windows-1258 (cp1258) or tcvn "
                     "(TCVN3)",
                     s->path, enc);
            return s_open_fail(s, errno == ENOMEM ? KC_ENOMEM : KC_EINVAL);
        }
        c->raw = malloc(S_RAW_CAP);
        if (!c->raw)
            return s_open_fail(s, KC_ENOMEM);
    }
    c->text = malloc(S_TEXT_CAP);
    if (!c->text)
        return s_open_fail(s, KC_ENOMEM);
    if (csv_init(&c->cp, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
        return s_open_fail(s, KC_ENOMEM);
    c->cp_live = true;
    csv_set_space_func(&c->cp, s_no_space);
    csv_set_blk_size(&c->cp, 4096);

    s_refill(c, s);
    if (c->stop == S_STOP_IO && c->stop_at == 0) {
        snprintf(err, cap, "%s: cannot read: %s", s->path, strerror(c->stop_errno));
        return s_open_fail(s, -c->stop_errno);
    }
    size_t end = c->stop ? c->stop_at : c->len;
    if (end - c->pos >= 3 && memcmp(c->text + c->pos, "\xEF\xBB\xBF", 3) == 0)
        c->pos += 3; /* the UTF-8 byte order mark */
    s->delimiter = d ? d : s_sniff(c);
    csv_set_delim(&c->cp, (unsigned char)s->delimiter);
    return 0;
}
