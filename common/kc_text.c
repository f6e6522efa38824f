/* kc_text.c - UTF-8 checks and the escapers of kc_text.h. */
#include "kc_text.h"

#include <stdint.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at s[0..len), or 0 if the bytes
 * there do not start one (RFC 3629 table 3-7: no overlong forms, no
 * surrogates, nothing above U+10FFFF). *cp receives the code point. */
static size_t s_seq(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char c = s[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (len < n || s[1] < lo || s[1] > hi)
        return 0;
    uint32_t v = c & (0xFF >> (n + 1));
    v = (v << 6) | (s[1] & 0x3F);
    for (size_t i = 2; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    *cp = v;
    return n;
}

static bool s_is_control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
}

size_t kc_text_utf8_bad_at(const char *s, size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (u[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t n = s_seq(u + i, len - i, &cp);
        if (n == 0)
            return i;
        i += n;
    }
    return len;
}

bool kc_text_utf8_valid(const char *s, size_t len)
{
    return kc_text_utf8_bad_at(s, len) == len;
}

/* Whether s is well-formed and every control character in it is allowed. */
static bool s_check(const char *s, size_t len, bool free_text)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        if (u[i] >= 0x20 && u[i] < 0x7F) { /* printable ASCII: ids and codes are mostly that */
            i++;
            continue;
        }
        uint32_t cp;
        size_t n = s_seq(u + i, len - i, &cp);
        if (n == 0)
            return false;
        if (s_is_control(cp) && !(free_text && (cp == '\t' || cp == '\n' || cp == '\r')))
            return false;
        i += n;
    }
    return true;
}

bool kc_text_id_ok(const char *s, size_t len)
{
    return s_check(s, len, false);
}

bool kc_text_free_ok(const char *s, size_t len)
{
    return s_check(s, len, true);
}

/* Output with snprintf semantics that never splits a unit (a sequence or an
 * escape): once a unit does not fit, nothing more is written. */
typedef struct {
    char *out;
    size_t cap, len; /* len: the whole output's length so far */
    size_t written;  /* bytes written to out (whole units only) */
    bool full;
} s_out_t;

static void s_put(s_out_t *o, const char *p, size_t n)
{
    if (!o->full && o->written + n < o->cap) {
        memcpy(o->out + o->written, p, n);
        o->written += n;
    } else {
        o->full = true;
    }
    o->len += n;
}

static void s_hex(s_out_t *o, unsigned char b, bool prom)
{
    static const char hex[] = "0123456789ABCDEF";
    char e[5] = {'\\', '\\', 'x', hex[b >> 4], hex[b & 15]};
    if (prom)
        s_put(o, e, 5);
    else
        s_put(o, e + 1, 4);
}

static size_t s_escape(const char *s, size_t len, char *out, size_t cap, bool prom)
{
    s_out_t o = {out, cap, 0, 0, cap == 0};
    const unsigned char *u = (const unsigned char *)(s ? s : "");
    if (!s)
        len = 0;
    size_t i = 0;
    while (i < len) {
        uint32_t cp;
        size_t n = s_seq(u + i, len - i, &cp);
        if (n == 0) {
            s_hex(&o, u[i], prom);
            i++;
            continue;
        }
        if (prom && cp == '\\')
            s_put(&o, "\\\\", 2);
        else if (prom && cp == '"')
            s_put(&o, "\\\"", 2);
        else if (s_is_control(cp))
            for (size_t k = 0; k < n; k++)
                s_hex(&o, u[i + k], prom);
        else
            s_put(&o, (const char *)u + i, n);
        i += n;
    }
    if (cap > 0)
        out[o.written] = '\0';
    return o.len;
}

size_t kc_text_show(const char *s, size_t len, char *out, size_t cap)
{
    return s_escape(s, len, out, cap, false);
}

size_t kc_text_shows(const char *s, char *out, size_t cap)
{
    return s_escape(s, s ? strlen(s) : 0, out, cap, false);
}

size_t kc_text_prom(const char *s, size_t len, char *out, size_t cap)
{
    return s_escape(s, len, out, cap, true);
}
