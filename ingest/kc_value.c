/* kc_value.c - cells as people type them (kc_value.h).
 *
 * DESIGN
 * Every name a cell may match is kept as a "form": its folded text, the field
 * it belongs to and the valid value (item) it stands for. Forms come from the
 * embedded data/columns.tsv and data/values.tsv (parsed here: they are import
 * data, which kc_ref embeds with the other tables but does not interpret) and
 * from kc_ref's activities and provinces. They are built once (pthread_once)
 * into static arrays and never change. Matching is per cell, so it is a
 * hash lookup: a table of the forms keyed by (field, scheme for provinces,
 * fold), built once after the forms, holding the first form of each key in
 * list order (what a scan of the forms would find first); provinces by code
 * go through a [scheme][code] table built from kc_ref's list the same way
 * (first in list order, as kc_ref_province). Suggestions (for misses only)
 * are an optimal-string-alignment distance over the forms, in list order.
 * A second table holds the texts the forms were folded from, exactly as
 * written, with the item their fold matches: a cell spelt exactly so is found
 * without folding (the same item, so the same answer). Folding has a table
 * for ASCII bytes (the bulk of every cell) beside the UTF-8 path.
 */
#include "kc_value.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_FOLD      129 /* folded forms and cells compared: at most 128 bytes */
#define S_MAX_FORMS 512
#define S_MAX_ITEMS 256
#define S_MAX_SEPS  64
#define S_HASH_CAP  1024 /* power of two, at least 2 * S_MAX_FORMS */
#define S_CODES     100  /* province codes 0..99 (kc_ref_parse_code: 1-2 digits) */

typedef struct {
    kc_value_field_t field;
    int scheme; /* provinces: 63 or 34; else 0 */
    kc_value_item_t item;
    const void *ref; /* kc_activity_t * or kc_province_t * */
} s_item_t;

typedef struct {
    size_t item; /* index in s_items */
    char fold[S_FOLD];
} s_form_t;

static s_item_t s_items[S_MAX_ITEMS];
static size_t s_n_items;
static s_form_t s_forms[S_MAX_FORMS];
static size_t s_n_forms;
static char *s_texts[2];
static uint16_t s_hash[S_HASH_CAP]; /* form index + 1; 0 = empty slot */
/* The texts the forms were folded from (names, aliases, codes, labels; not
 * provinces), exactly as written, with the item their fold matches: a cell
 * spelt exactly so (a canonical word, a template's drop-down label) is found
 * without folding. */
typedef struct {
    kc_value_field_t field;
    const char *text; /* static: the embedded tables */
    const s_item_t *item;
} s_raw_t;
static s_raw_t s_raws[S_MAX_FORMS * 2];
static size_t s_n_raws;
static uint16_t s_raw_hash[S_HASH_CAP * 2];        /* s_raws index + 1; 0 = empty slot */
static const kc_province_t *s_by_code[2][S_CODES]; /* [scheme == 34][code] */
static pthread_once_t s_once = PTHREAD_ONCE_INIT;

/* ---- folding ---------------------------------------------------------- */

/* Decode one well-formed UTF-8 sequence at p (NUL-terminated); returns its
 * length (1-4) or 0 if the bytes there are not one. */
static size_t s_utf8(const unsigned char *p, uint32_t *cp)
{
    unsigned char c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t n;
    uint32_t v, min;
    if (c >= 0xC2 && c <= 0xDF)
        n = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF)
        n = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4)
        n = 4, v = c & 0x07, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80) /* also stops at the NUL */
            return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return n;
}

/* U+00C0..U+00FF -> ASCII base letter, '*' = none. */
static const char s_latin1[] = "aaaaaa*ceeeeiiiidnooooo*ouuuuy**aaaaaa*ceeeeiiiidnooooo*ouuuuy*y";

/* The ASCII letter a code point folds to; 0 if none; ' ' for a space; 1 for a
 * combining mark (dropped). */
static int s_fold_cp(uint32_t cp)
{
    if (cp < 0x80) {
        if (cp >= 'A' && cp <= 'Z')
            return (int)(cp - 'A' + 'a');
        if (cp == ' ' || (cp >= '\t' && cp <= '\r') || cp == '.' || cp == ',' || cp == '-' ||
            cp == '/' || cp == '(' || cp == ')' || cp == '_')
            return ' ';
        return (int)cp;
    }
    if (cp == 0xA0 || cp == 0x202F)
        return ' ';
    if (cp >= 0xC0 && cp <= 0xFF)
        return s_latin1[cp - 0xC0] == '*' ? 0 : s_latin1[cp - 0xC0];
    if (cp >= 0x300 && cp <= 0x36F)
        return 1;
    switch (cp) {
    case 0x102:
    case 0x103: return 'a';
    case 0x110:
    case 0x111: return 'd';
    case 0x128:
    case 0x129: return 'i';
    case 0x168:
    case 0x169: return 'u';
    case 0x1A0:
    case 0x1A1: return 'o';
    case 0x1AF:
    case 0x1B0: return 'u';
    default: break;
    }
    if (cp >= 0x1EA0 && cp <= 0x1EF9) {
        uint32_t k = cp - 0x1EA0; /* the Vietnamese block, in vowel order */
        if (k < 24)
            return 'a';
        if (k < 40)
            return 'e';
        if (k < 44)
            return 'i';
        if (k < 68)
            return 'o';
        if (k < 82)
            return 'u';
        return 'y';
    }
    return 0;
}

/* s_fold_cp of each ASCII code point, written out (kc_value_fold may run
 * before the tables are built): letters lowered, the spaces and . , - / ( ) _
 * as ' ', the rest itself (U+0001 then reads as a dropped mark, as in
 * s_fold_cp). */
static const unsigned char s_ascii[128] = {
    0,   1,   2,   3,   4,   5,   6,   7,   8,   ' ', ' ', ' ', ' ', ' ', 14,  15,  16,  17,  18,
    19,  20,  21,  22,  23,  24,  25,  26,  27,  28,  29,  30,  31,  ' ', 33,  34,  35,  36,  37,
    38,  39,  ' ', ' ', 42,  43,  ' ', ' ', ' ', ' ', '0', '1', '2', '3', '4', '5', '6', '7', '8',
    '9', 58,  59,  60,  61,  62,  63,  64,  'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k',
    'l', 'm', 'n', 'o', 'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 91,  92,  93,  94,
    ' ', 96,  'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', 'p', 'q',
    'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 123, 124, 125, 126, 127,
};

/* The fold being written: out[cap], wn bytes written, n the whole fold's
 * length; once a piece does not fit (full) nothing more is written, so a
 * truncated fold never ends inside a UTF-8 sequence. */
typedef struct {
    char *out;
    size_t cap, wn, n;
    bool full;
} s_fold_out_t;

static inline void s_fold_put(s_fold_out_t *o, const unsigned char *src, size_t w)
{
    if (!o->full && o->wn + w < o->cap) {
        memcpy(o->out + o->wn, src, w);
        o->wn += w;
    } else {
        o->full = true;
    }
    o->n += w;
}

size_t kc_value_fold(const char *in, char *out, size_t cap)
{
    const unsigned char *p = (const unsigned char *)in;
    static const unsigned char sp = ' ';
    s_fold_out_t o = {out, cap, 0, 0, false};
    bool space = false; /* a run of spaces is pending (written before the next piece) */
    while (*p) {
        unsigned char one;
        const unsigned char *src = &one;
        size_t w = 1;
        if (*p < 0x80) { /* ASCII: the table */
            one = s_ascii[*p++];
            if (one == 1) /* U+0001 folds like a combining mark: dropped */
                continue;
            if (one == ' ') {
                space = true;
                continue;
            }
        } else {
            uint32_t cp;
            size_t len = s_utf8(p, &cp);
            if (!len) {
                one = '?';
                p++;
            } else {
                int f = s_fold_cp(cp);
                if (f == 1) {
                    p += len;
                    continue;
                }
                if (f == ' ') {
                    p += len;
                    space = true;
                    continue;
                }
                if (f) {
                    one = (unsigned char)f;
                } else {
                    src = p; /* copied as it is */
                    w = len;
                }
                p += len;
            }
        }
        if (space && o.n > 0)
            s_fold_put(&o, &sp, 1);
        space = false;
        s_fold_put(&o, src, w);
    }
    if (cap)
        out[o.wn] = '\0';
    return o.n;
}

/* ---- tables ----------------------------------------------------------- */

static void s_die(const char *table, int line, const char *what)
{
    fprintf(stderr, "kcpipe: embedded data/%s line %d: %s\n", table, line, what);
    abort();
}

static size_t s_item(kc_value_field_t field, int scheme, const char *value, const char *label,
                     const void *ref, const char *table)
{
    for (size_t i = 0; i < s_n_items; i++)
        if (s_items[i].field == field && s_items[i].scheme == scheme &&
            strcmp(s_items[i].item.value, value) == 0)
            return i;
    if (s_n_items == S_MAX_ITEMS)
        s_die(table, 0, "too many values");
    s_items[s_n_items] = (s_item_t){field, scheme, {value, label}, ref};
    return s_n_items++;
}

static void s_form(size_t item, const char *text, const char *table, int line)
{
    if (s_n_forms == S_MAX_FORMS || s_n_raws == sizeof s_raws / sizeof s_raws[0])
        s_die(table, line, "too many names");
    if (s_items[item].field != KC_VF_PROVINCE) /* provinces: by code or prefixed names */
        s_raws[s_n_raws++] = (s_raw_t){s_items[item].field, text, NULL};
    s_form_t *f = &s_forms[s_n_forms];
    size_t n = kc_value_fold(text, f->fold, sizeof f->fold);
    if (n == 0 || n >= sizeof f->fold)
        s_die(table, line, "a name folds to nothing or to more than 128 bytes");
    for (size_t i = 0; i < s_n_forms; i++) /* the same text twice for one item: once */
        if (s_forms[i].item == item && strcmp(s_forms[i].fold, f->fold) == 0)
            return;
    f->item = item;
    s_n_forms++;
}

/* data/columns.tsv (column, alias) or data/values.tsv (field, value, alias). */
static void s_parse(const char *text, const char *table, int nfields)
{
    char *copy = strdup(text);
    if (!copy)
        abort();
    s_texts[nfields == 2 ? 0 : 1] = copy; /* the items point into it for life */
    bool header = false;
    int lineno = 0;
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        if (line[0] == '#' || line[0] == '\0')
            continue;
        char *f[3] = {line, NULL, NULL};
        int n = 1;
        for (char *tab; (tab = strchr(f[n - 1], '\t'));) {
            if (n == 3)
                s_die(table, lineno, "too many fields");
            *tab = '\0';
            f[n++] = tab + 1;
        }
        if (n != nfields)
            s_die(table, lineno, "wrong number of fields");
        if (!header) {
            header = true;
            continue;
        }
        kc_value_field_t field = KC_VF_COLUMN;
        if (nfields == 3) {
            if (strcmp(f[0], "kind") == 0)
                field = KC_VF_KIND;
            else if (strcmp(f[0], "fund") == 0)
                field = KC_VF_FUND;
            else
                s_die(table, lineno, "field is not kind or fund");
        }
        const char *value = f[nfields - 2], *alias = f[nfields - 1];
        size_t it = s_item(field, 0, value, alias, NULL, table);
        s_form(it, value, table, lineno); /* the value itself always matches */
        s_form(it, alias, table, lineno);
    }
}

/* The hash of a lookup key; scheme is 0 except for provinces. */
static size_t s_key_hash(kc_value_field_t field, int scheme, const char *text)
{
    uint32_t h = 2166136261u ^ (uint32_t)field ^ ((uint32_t)scheme << 8); /* FNV-1a */
    for (const unsigned char *p = (const unsigned char *)text; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h; /* the caller masks it to its table */
}

static int s_scope_scheme(kc_value_field_t field, int scheme)
{
    return field == KC_VF_PROVINCE ? scheme : 0;
}

static const s_item_t *s_match(kc_value_field_t field, int scheme, const char *fold);

/* The item of a cell written exactly as one of the texts; NULL if none. */
static const s_item_t *s_raw_match(kc_value_field_t field, const char *cell)
{
    const size_t mask = sizeof s_raw_hash / sizeof s_raw_hash[0] - 1;
    for (size_t h = s_key_hash(field, 0, cell) & mask; s_raw_hash[h]; h = (h + 1) & mask) {
        const s_raw_t *r = &s_raws[s_raw_hash[h] - 1];
        if (r->field == field && strcmp(r->text, cell) == 0)
            return r->item;
    }
    return NULL;
}

/* Index the forms, in list order: the first form of a key keeps the slot. */
static void s_index(void)
{
    for (size_t i = 0; i < s_n_forms; i++) {
        const s_item_t *it = &s_items[s_forms[i].item];
        int sc = s_scope_scheme(it->field, it->scheme);
        size_t h = s_key_hash(it->field, sc, s_forms[i].fold) & (S_HASH_CAP - 1);
        for (;; h = (h + 1) & (S_HASH_CAP - 1)) {
            if (!s_hash[h]) {
                s_hash[h] = (uint16_t)(i + 1);
                break;
            }
            const s_form_t *o = &s_forms[s_hash[h] - 1];
            const s_item_t *oi = &s_items[o->item];
            if (oi->field == it->field && s_scope_scheme(oi->field, oi->scheme) == sc &&
                strcmp(o->fold, s_forms[i].fold) == 0)
                break; /* an earlier form of the same key wins */
        }
    }
    /* the exact texts, each with what its fold matches (so a hit is what the
     * folded lookup would give) */
    const size_t mask = sizeof s_raw_hash / sizeof s_raw_hash[0] - 1;
    for (size_t i = 0; i < s_n_raws; i++) {
        s_raw_t *r = &s_raws[i];
        char fold[S_FOLD];
        kc_value_fold(r->text, fold, sizeof fold); /* fits: s_form checked it */
        r->item = s_match(r->field, 0, fold);
        if (!r->item || s_raw_match(r->field, r->text))
            continue; /* (cannot miss: its own form is there) or a repeat */
        size_t h = s_key_hash(r->field, 0, r->text) & mask;
        while (s_raw_hash[h])
            h = (h + 1) & mask;
        s_raw_hash[h] = (uint16_t)(i + 1);
    }
    for (size_t i = kc_ref_province_count(); i-- > 0;) { /* backwards: the first one wins */
        const kc_province_t *p = kc_ref_province_at(i);
        if (p->code < S_CODES && (p->scheme == 34 || p->scheme == 63))
            s_by_code[p->scheme == 34][p->code] = p;
    }
}

static void s_load(void)
{
    s_parse(kc_ref_columns_tsv, "columns.tsv", 2);
    s_parse(kc_ref_values_tsv, "values.tsv", 3);
    for (size_t i = 0; i < kc_ref_activity_count(); i++) {
        const kc_activity_t *a = kc_ref_activity_at(i);
        size_t it = s_item(KC_VF_ACTIVITY, 0, a->name, a->label_vi, a, "activities.tsv");
        s_form(it, a->code, "activities.tsv", (int)i);
        s_form(it, a->name, "activities.tsv", (int)i);
        s_form(it, a->label_vi, "activities.tsv", (int)i);
        s_form(it, a->label_en, "activities.tsv", (int)i);
    }
    for (size_t i = 0; i < kc_ref_province_count(); i++) {
        const kc_province_t *p = kc_ref_province_at(i);
        size_t it = s_item(KC_VF_PROVINCE, p->scheme, p->code_str, p->name, p, "provinces.tsv");
        s_form(it, p->name, "provinces.tsv", (int)i);
    }
    s_index();
}

static void s_init(void)
{
    pthread_once(&s_once, s_load);
}

static void s_hint_reset(kc_value_hint_t *hint, kc_value_reason_t r)
{
    if (hint) {
        memset(hint, 0, sizeof *hint);
        hint->reason = r;
    }
}

static kc_value_reason_t s_done(kc_value_hint_t *hint, kc_value_reason_t r)
{
    if (hint)
        hint->reason = r;
    return r;
}

static bool s_in_scope(const s_item_t *it, kc_value_field_t field, int scheme)
{
    return it->field == field && (field != KC_VF_PROVINCE || it->scheme == scheme);
}

/* The item of the first form (in list order) in scope that equals the fold;
 * NULL if none. */
static const s_item_t *s_match(kc_value_field_t field, int scheme, const char *fold)
{
    int sc = s_scope_scheme(field, scheme);
    for (size_t h = s_key_hash(field, sc, fold) & (S_HASH_CAP - 1); s_hash[h];
         h = (h + 1) & (S_HASH_CAP - 1)) {
        const s_form_t *f = &s_forms[s_hash[h] - 1];
        const s_item_t *it = &s_items[f->item];
        if (s_in_scope(it, field, scheme) && strcmp(f->fold, fold) == 0)
            return it;
    }
    return NULL;
}

/* kc_ref_province(scheme, code) through the table built once. */
static const kc_province_t *s_province(int scheme, int code)
{
    if ((scheme == 34 || scheme == 63) && code >= 0 && code < S_CODES)
        return s_by_code[scheme == 34][code];
    return kc_ref_province(scheme, code);
}

/* A province name's fold without its prefix ("thanh pho ", "tp ", "tinh "). */
static const char *s_unprefixed(const char *fold)
{
    static const char *const prefixes[] = {"thanh pho ", "tp ", "tinh "};
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        size_t n = strlen(prefixes[i]);
        if (strncmp(fold, prefixes[i], n) == 0 && fold[n])
            return fold + n;
    }
    return fold;
}

/* Optimal string alignment distance, or limit + 1 once it exceeds limit. */
static size_t s_osa(const char *a, const char *b, size_t limit)
{
    size_t n = strlen(a), m = strlen(b);
    if (n > m ? n - m > limit : m - n > limit)
        return limit + 1;
    size_t rows[3][S_FOLD];
    size_t *pp = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= m; j++)
        prev[j] = j;
    for (size_t i = 1; i <= n; i++) {
        cur[0] = i;
        size_t best = cur[0];
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t d = prev[j - 1] + cost;
            if (prev[j] + 1 < d)
                d = prev[j] + 1;
            if (cur[j - 1] + 1 < d)
                d = cur[j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && pp[j - 2] + 1 < d)
                d = pp[j - 2] + 1;
            cur[j] = d;
            if (d < best)
                best = d;
        }
        if (best > limit)
            return limit + 1;
        size_t *t = pp;
        pp = prev;
        prev = cur;
        cur = t;
    }
    return prev[m];
}

static bool s_suggest_fold(kc_value_field_t field, int scheme, const char *fold,
                           kc_value_item_t *item)
{
    size_t n = strlen(fold);
    if (n == 0 || n >= S_FOLD)
        return false;
    size_t limit = n / 4;
    limit = limit < 1 ? 1 : limit > 3 ? 3 : limit;
    const s_item_t *best = NULL;
    size_t best_d = limit + 1;
    for (size_t i = 0; i < s_n_forms; i++) {
        const s_item_t *it = &s_items[s_forms[i].item];
        if (!s_in_scope(it, field, scheme))
            continue;
        size_t d = s_osa(fold, s_forms[i].fold, limit);
        if (d < best_d) {
            best_d = d;
            best = it;
        }
    }
    if (!best)
        return false;
    *item = best->item;
    return true;
}

bool kc_value_suggest(kc_value_field_t field, const char *cell, int32_t yyyymm,
                      kc_value_item_t *item)
{
    s_init();
    char fold[S_FOLD];
    if (!cell || kc_value_fold(cell, fold, sizeof fold) >= sizeof fold)
        return false;
    int scheme = kc_ref_scheme_for(yyyymm);
    const char *f = field == KC_VF_PROVINCE ? s_unprefixed(fold) : fold;
    kc_value_item_t tmp;
    return s_suggest_fold(field, scheme, f, item ? item : &tmp);
}

size_t kc_value_list(kc_value_field_t field, int32_t yyyymm, kc_value_item_t *items, size_t cap)
{
    s_init();
    int scheme = kc_ref_scheme_for(yyyymm);
    size_t n = 0;
    for (size_t i = 0; i < s_n_items; i++) {
        if (!s_in_scope(&s_items[i], field, scheme))
            continue;
        if (items && n < cap)
            items[n] = s_items[i].item;
        n++;
    }
    return n;
}

/* Look a name cell up among field's forms; on a miss, suggest. */
static kc_value_reason_t s_name(kc_value_field_t field, const char *cell, const s_item_t **out,
                                kc_value_hint_t *hint)
{
    s_init();
    s_hint_reset(hint, KC_VALUE_OK);
    if ((*out = s_raw_match(field, cell)))
        return KC_VALUE_OK;
    char fold[S_FOLD];
    size_t n = kc_value_fold(cell, fold, sizeof fold);
    if (n == 0)
        return s_done(hint, KC_VALUE_EMPTY);
    if (n < sizeof fold && (*out = s_match(field, 0, fold)))
        return KC_VALUE_OK;
    if (hint && n < sizeof fold)
        s_suggest_fold(field, 0, fold, &hint->suggest);
    return s_done(hint, KC_VALUE_UNKNOWN);
}

kc_value_reason_t kc_value_column(const char *header, const char **column, kc_value_hint_t *hint)
{
    const s_item_t *it;
    kc_value_reason_t r = s_name(KC_VF_COLUMN, header, &it, hint);
    *column = it ? it->item.value : NULL;
    return r;
}

kc_value_reason_t kc_value_activity(const char *cell, const kc_activity_t **act,
                                    kc_value_hint_t *hint)
{
    const s_item_t *it;
    kc_value_reason_t r = s_name(KC_VF_ACTIVITY, cell, &it, hint);
    *act = it ? it->ref : NULL;
    return r;
}

kc_value_reason_t kc_value_word(kc_value_field_t field, const char *cell, const char **value,
                                kc_value_hint_t *hint)
{
    *value = NULL;
    if (field != KC_VF_KIND && field != KC_VF_FUND) {
        s_hint_reset(hint, KC_VALUE_UNKNOWN);
        return KC_VALUE_UNKNOWN;
    }
    const s_item_t *it;
    kc_value_reason_t r = s_name(field, cell, &it, hint);
    *value = it ? it->item.value : NULL;
    return r;
}

/* ---- provinces -------------------------------------------------------- */

static kc_value_reason_t s_other_scheme(const kc_province_t *other, int scheme,
                                        kc_value_hint_t *hint)
{
    if (hint) {
        hint->scheme = scheme;
        hint->other = other;
        hint->successor = other->scheme == 63 ? kc_ref_province(34, other->successor) : NULL;
    }
    return s_done(hint, KC_VALUE_OTHER_SCHEME);
}

kc_value_reason_t kc_value_province(const char *cell, int32_t yyyymm, const kc_province_t **prov,
                                    kc_value_hint_t *hint)
{
    s_init();
    s_hint_reset(hint, KC_VALUE_OK);
    *prov = NULL;
    int scheme = kc_ref_scheme_for(yyyymm), other = scheme == 63 ? 34 : 63;
    char fold[S_FOLD];
    size_t n;
    if (cell[0] >= '0' && cell[0] <= '9' &&
        (!cell[1] || (cell[1] >= '0' && cell[1] <= '9' && !cell[2]))) {
        n = cell[1] ? 2 : 1; /* a code of 1-2 digits folds to itself */
        memcpy(fold, cell, n + 1);
    } else {
        n = kc_value_fold(cell, fold, sizeof fold);
    }
    if (n == 0)
        return s_done(hint, KC_VALUE_EMPTY);
    if (n >= sizeof fold)
        return s_done(hint, KC_VALUE_UNKNOWN);
    if (strspn(fold, "0123456789") == n) { /* by code */
        int code = kc_ref_parse_code(fold);
        if (code < 0)
            return s_done(hint, KC_VALUE_UNKNOWN);
        if ((*prov = s_province(scheme, code)))
            return KC_VALUE_OK;
        const kc_province_t *o = s_province(other, code);
        return o ? s_other_scheme(o, scheme, hint) : s_done(hint, KC_VALUE_UNKNOWN);
    }
    const char *bare = s_unprefixed(fold);
    const s_item_t *it = s_match(KC_VF_PROVINCE, scheme, bare);
    if (!it && bare != fold)
        it = s_match(KC_VF_PROVINCE, scheme, fold);
    if (it) {
        *prov = it->ref;
        return KC_VALUE_OK;
    }
    it = s_match(KC_VF_PROVINCE, other, bare);
    if (!it && bare != fold)
        it = s_match(KC_VF_PROVINCE, other, fold);
    if (it)
        return s_other_scheme(it->ref, scheme, hint);
    if (hint)
        s_suggest_fold(KC_VF_PROVINCE, scheme, bare, &hint->suggest);
    return s_done(hint, KC_VALUE_UNKNOWN);
}

/* ---- numbers ---------------------------------------------------------- */

enum { S_DOT = 1, S_COMMA, S_SPACE };

/* The separator at p, its kind in *kind; returns its length or 0. */
static size_t s_sep(const unsigned char *p, int *kind)
{
    if (p[0] == '.' || p[0] == ',') {
        *kind = p[0] == '.' ? S_DOT : S_COMMA;
        return 1;
    }
    *kind = S_SPACE;
    if (p[0] == ' ')
        return 1;
    if (p[0] == 0xC2 && p[1] == 0xA0)
        return 2;
    if (p[0] == 0xE2 && p[1] == 0x80 && p[2] == 0xAF)
        return 3;
    return 0;
}

/* Blank at p (ASCII whitespace or NBSP): its length or 0. */
static size_t s_blank(const unsigned char *p)
{
    if (*p == ' ' || (*p >= '\t' && *p <= '\r'))
        return 1;
    return p[0] == 0xC2 && p[1] == 0xA0 ? 2 : 0;
}

kc_value_reason_t kc_value_int(const char *cell, int64_t *out, kc_value_hint_t *hint)
{
    s_hint_reset(hint, KC_VALUE_OK);
    const unsigned char *s = (const unsigned char *)cell;
    uint64_t fast = 0; /* only digits, at most 18 (below INT64_MAX): rule 1 at once */
    size_t k = 0;
    for (; k < 18 && s[k] >= '0' && s[k] <= '9'; k++)
        fast = fast * 10 + (unsigned)(s[k] - '0');
    if (k > 0 && s[k] == '\0') {
        *out = (int64_t)fast;
        return KC_VALUE_OK;
    }
    size_t b = 0, e = strlen(cell);
    for (size_t k; (k = s_blank(s + b));)
        b += k;
    while (e > b) { /* trailing blanks: a space, a tab..., or NBSP (C2 A0) */
        if (s[e - 1] == ' ' || (s[e - 1] >= '\t' && s[e - 1] <= '\r'))
            e--;
        else if (e - b >= 2 && s[e - 2] == 0xC2 && s[e - 1] == 0xA0)
            e -= 2;
        else
            break;
    }
    if (b == e)
        return s_done(hint, KC_VALUE_EMPTY);
    bool neg = s[b] == '-';
    size_t i = b + neg;
    /* runs of digits separated by one separator each */
    size_t run_at[S_MAX_SEPS + 1], run_len[S_MAX_SEPS + 1], sep_at[S_MAX_SEPS];
    int sep_kind[S_MAX_SEPS];
    size_t nsep = 0;
    for (;;) {
        size_t start = i;
        while (i < e && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == start) { /* a run must have digits */
            int k2;
            bool group = nsep > 0 && (i == e || s_sep(s + i, &k2));
            if (hint)
                hint->offset = group ? sep_at[nsep - 1] : i;
            return s_done(hint, group ? KC_VALUE_BAD_GROUPING : KC_VALUE_NOT_NUMBER);
        }
        run_at[nsep] = start;
        run_len[nsep] = i - start;
        if (i == e)
            break;
        int kind;
        size_t k = s_sep(s + i, &kind);
        if (!k || i + k > e) {
            if (hint)
                hint->offset = i;
            return s_done(hint, KC_VALUE_NOT_NUMBER);
        }
        if (nsep == S_MAX_SEPS) {
            if (hint)
                hint->offset = i;
            return s_done(hint, KC_VALUE_BAD_GROUPING);
        }
        sep_at[nsep] = i;
        sep_kind[nsep++] = kind;
        i += k;
    }
    size_t count[4] = {0};
    for (size_t j = 0; j < nsep; j++)
        count[sep_kind[j]]++;
    long dec = -1; /* index of the decimal separator */
    if (count[S_DOT] && count[S_COMMA]) {
        int last = sep_kind[nsep - 1];
        if (last == S_SPACE || count[last] != 1) {
            size_t j = nsep - 1;
            if (last != S_SPACE)
                for (j = 0; sep_kind[j] != last; j++)
                    ;
            if (hint)
                hint->offset = sep_at[j];
            return s_done(hint, KC_VALUE_BAD_GROUPING);
        }
        dec = (long)nsep - 1;
    } else if (count[S_DOT] == 1 || count[S_COMMA] == 1) {
        int kind = count[S_DOT] ? S_DOT : S_COMMA;
        size_t j = 0;
        while (sep_kind[j] != kind)
            j++;
        dec = (long)j;
        if (nsep == 1 && run_len[1] == 3 && run_len[0] <= 3 && s[run_at[0]] != '0') {
            if (hint) { /* both readings */
                hint->sep = (char)s[sep_at[0]];
                int64_t g = 0;
                for (size_t d = run_at[0]; d < e; d++)
                    if (s[d] >= '0' && s[d] <= '9')
                        g = g * 10 + (s[d] - '0');
                hint->grouped = neg ? -g : g;
                char frac[4];
                memcpy(frac, s + run_at[1], 3);
                frac[3] = '\0';
                for (int z = 2; z >= 0 && frac[z] == '0'; z--)
                    frac[z] = '\0';
                snprintf(hint->decimal, sizeof hint->decimal, "%s%.*s%s%s", neg ? "-" : "",
                         (int)run_len[0], (const char *)s + run_at[0], frac[0] ? "." : "", frac);
            }
            return s_done(hint, KC_VALUE_AMBIGUOUS);
        }
    }
    if (dec >= 0 && (size_t)dec != nsep - 1) { /* the decimal separator comes last */
        if (hint)
            hint->offset = sep_at[dec];
        return s_done(hint, KC_VALUE_BAD_GROUPING);
    }
    size_t ngroup = dec >= 0 ? (size_t)dec : nsep; /* grouping separators: 0..ngroup-1 */
    for (size_t j = 0; j < ngroup; j++) {
        bool bad = sep_kind[j] != sep_kind[0] || run_len[j + 1] != 3 || (j == 0 && run_len[0] > 3);
        if (bad) {
            if (hint)
                hint->offset = sep_at[j];
            return s_done(hint, KC_VALUE_BAD_GROUPING);
        }
    }
    if (dec >= 0)
        for (size_t d = run_at[nsep]; d < e; d++)
            if (s[d] != '0')
                return s_done(hint, KC_VALUE_FRACTION);
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (size_t j = 0; j <= ngroup; j++)
        for (size_t d = run_at[j]; d < run_at[j] + run_len[j]; d++) {
            unsigned digit = (unsigned)(s[d] - '0');
            if (v > (limit - digit) / 10)
                return s_done(hint, KC_VALUE_OVERFLOW);
            v = v * 10 + digit;
        }
    *out = neg ? (v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v) : (int64_t)v;
    return KC_VALUE_OK;
}
