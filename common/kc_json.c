/* kc_json.c - exact JSON integers of any size, on top of jansson (kc_json.h). */
#include "kc_json.h"

#include <stdlib.h>
#include <string.h>

#define S_MAX_DEPTH 2048 /* jansson's own parser stops at 2048 levels too */

json_t *kc_json_int(kc_i128 v)
{
    if (kc_i128_fits_i64(v))
        return json_integer((json_int_t)v);
    char text[KC_I128_DEC + 1] = "\xff"; /* the tag byte, then the digits */
    kc_i128_str(text + 1, sizeof text - 1, v);
    json_t *o = json_object(), *s = json_stringn_nocheck(text, strlen(text));
    if (!o || !s || json_object_set_new_nocheck(o, KC_JSON_BIG_KEY, s) != 0) {
        json_decref(o);
        json_decref(s);
        return NULL;
    }
    return o;
}

/* The digits of a big-integer node; NULL if j is not one. */
static const char *s_big_digits(const json_t *j)
{
    if (!json_is_object(j) || json_object_size(j) != 1)
        return NULL;
    json_t *v = json_object_get(j, KC_JSON_BIG_KEY);
    const char *t = json_is_string(v) ? json_string_value(v) : NULL;
    return t && (unsigned char)t[0] == 0xFF ? t + 1 : NULL;
}

bool kc_json_is_big(const json_t *j)
{
    return s_big_digits(j) != NULL;
}

bool kc_json_int_value(const json_t *j, kc_i128 *out)
{
    if (json_is_integer(j)) {
        *out = json_integer_value(j);
        return true;
    }
    const char *p = s_big_digits(j);
    if (!p)
        return false;
    bool neg = *p == '-';
    p += neg;
    kc_u128 u = 0, lim = neg ? (kc_u128)KC_I128_MAX + 1 : (kc_u128)KC_I128_MAX;
    if (!*p)
        return false;
    for (; *p; p++) {
        if (*p < '0' || *p > '9' || u > (lim - (kc_u128)(*p - '0')) / 10)
            return false;
        u = u * 10 + (kc_u128)(*p - '0');
    }
    *out = neg ? (kc_i128)((kc_u128)0 - u) : (kc_i128)u;
    return true;
}

/* ---- the writer ---- */

typedef struct {
    char *p;
    size_t n, cap;
    bool failed;
} s_out_t;

static void s_put(s_out_t *o, const char *s, size_t len)
{
    if (o->failed)
        return;
    if (o->n + len + 1 > o->cap) {
        size_t cap = o->cap ? o->cap : 1024;
        while (o->n + len + 1 > cap)
            cap *= 2;
        char *p = realloc(o->p, cap);
        if (!p) {
            o->failed = true;
            return;
        }
        o->p = p;
        o->cap = cap;
    }
    memcpy(o->p + o->n, s, len);
    o->n += len;
    o->p[o->n] = '\0';
}

/* A scalar (or any subtree without big integers) exactly as jansson writes
 * it; a subtree below the top is re-indented to its depth. */
static void s_put_jansson(s_out_t *o, const json_t *j, size_t flags, int depth)
{
    char *s = json_dumps(j, flags | JSON_ENCODE_ANY);
    if (!s) {
        o->failed = true;
        return;
    }
    size_t indent = (size_t)(flags & 0x1F) * (size_t)depth;
    const char *p = s;
    for (const char *nl; indent && (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        /* a raw newline is jansson's indentation, never inside a string
         * (strings write it as \n) */
        s_put(o, p, (size_t)(nl - p) + 1);
        for (size_t i = 0; i < indent; i++)
            s_put(o, " ", 1);
    }
    s_put(o, p, strlen(p));
    free(s);
}

/* jansson's dump_indent: a newline and depth levels of indentation, or with
 * no indentation a space after ',' unless JSON_COMPACT. */
static void s_indent(s_out_t *o, size_t flags, int depth, bool space)
{
    size_t w = flags & 0x1F;
    if (w > 0) {
        s_put(o, "\n", 1);
        for (size_t i = 0; i < w * (size_t)depth; i++)
            s_put(o, " ", 1);
    } else if (space && !(flags & JSON_COMPACT)) {
        s_put(o, " ", 1);
    }
}

static bool s_has_big(const json_t *j, int depth)
{
    if (depth > S_MAX_DEPTH)
        return false;
    if (kc_json_is_big(j))
        return true;
    if (json_is_array(j)) {
        for (size_t i = 0; i < json_array_size(j); i++)
            if (s_has_big(json_array_get(j, i), depth + 1))
                return true;
    } else if (json_is_object(j)) {
        for (void *it = json_object_iter((json_t *)j); it;
             it = json_object_iter_next((json_t *)j, it))
            if (s_has_big(json_object_iter_value(it), depth + 1))
                return true;
    }
    return false;
}

typedef struct {
    const char *key;
    size_t len;
    json_t *value;
} s_member_t;

/* jansson's order for JSON_SORT_KEYS: bytes, then length. */
static int s_member_cmp(const void *a, const void *b)
{
    const s_member_t *x = a, *y = b;
    int c = memcmp(x->key, y->key, x->len < y->len ? x->len : y->len);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static void s_dump(s_out_t *o, const json_t *j, size_t flags, int depth);

static void s_dump_object(s_out_t *o, const json_t *j, size_t flags, int depth)
{
    size_t n = json_object_size(j);
    s_put(o, "{", 1);
    if (n == 0) {
        s_put(o, "}", 1);
        return;
    }
    s_member_t *m = malloc(n * sizeof *m);
    if (!m) {
        o->failed = true;
        return;
    }
    size_t k = 0;
    for (void *it = json_object_iter((json_t *)j); it && k < n;
         it = json_object_iter_next((json_t *)j, it), k++)
        m[k] = (s_member_t){json_object_iter_key(it), json_object_iter_key_len(it),
                            json_object_iter_value(it)};
    if (flags & JSON_SORT_KEYS)
        qsort(m, k, sizeof *m, s_member_cmp);
    s_indent(o, flags, depth + 1, false);
    for (size_t i = 0; i < k && !o->failed; i++) {
        json_t *key = json_stringn_nocheck(m[i].key, m[i].len);
        if (!key) {
            o->failed = true;
            break;
        }
        s_put_jansson(o, key, flags, 0); /* jansson escapes it (and refuses bad UTF-8) */
        json_decref(key);
        s_put(o, flags & JSON_COMPACT ? ":" : ": ", flags & JSON_COMPACT ? 1 : 2);
        s_dump(o, m[i].value, flags, depth + 1);
        if (i + 1 < k) {
            s_put(o, ",", 1);
            s_indent(o, flags, depth + 1, true);
        } else {
            s_indent(o, flags, depth, false);
        }
    }
    free(m);
    s_put(o, "}", 1);
}

static void s_dump_array(s_out_t *o, const json_t *j, size_t flags, int depth)
{
    size_t n = json_array_size(j);
    s_put(o, "[", 1);
    if (n == 0) {
        s_put(o, "]", 1);
        return;
    }
    s_indent(o, flags, depth + 1, false);
    for (size_t i = 0; i < n && !o->failed; i++) {
        s_dump(o, json_array_get(j, i), flags, depth + 1);
        if (i + 1 < n) {
            s_put(o, ",", 1);
            s_indent(o, flags, depth + 1, true);
        } else {
            s_indent(o, flags, depth, false);
        }
    }
    s_put(o, "]", 1);
}

static void s_dump(s_out_t *o, const json_t *j, size_t flags, int depth)
{
    if (o->failed)
        return;
    if (depth > S_MAX_DEPTH) {
        o->failed = true;
        return;
    }
    const char *digits = s_big_digits(j);
    if (digits)
        s_put(o, digits, strlen(digits));
    else if (!s_has_big(j, depth)) /* as jansson writes it, whole */
        s_put_jansson(o, j, flags, depth);
    else if (json_is_object(j))
        s_dump_object(o, j, flags, depth);
    else
        s_dump_array(o, j, flags, depth);
}

char *kc_json_dumps(const json_t *doc, size_t flags)
{
    if (!doc || (flags & JSON_EMBED))
        return NULL;
    if (!s_has_big(doc, 0))
        return json_dumps(doc, flags);
    s_out_t o = {0};
    s_dump(&o, doc, flags, 0);
    if (o.failed || !o.p) {
        free(o.p);
        return NULL;
    }
    return o.p;
}

int kc_json_dumpf(const json_t *doc, FILE *f, size_t flags)
{
    char *s = kc_json_dumps(doc, flags);
    if (!s)
        return -1;
    size_t n = strlen(s);
    int rc = fwrite(s, 1, n, f) == n ? 0 : -1;
    free(s);
    return rc;
}
