/* kc_value.h - the import layer's rulebook for cells as people type them (issue 15).
 *
 * Pure functions, no I/O, no allocation after the first call (which parses the
 * embedded data/columns.tsv and data/values.tsv once, thread-safely; the texts
 * are embedded by common/ with the other reference tables, see kc_ref.h, but
 * only the import layer reads them). Every function takes a NUL-terminated
 * cell of any bytes (not necessarily valid UTF-8) and never reads past its NUL.
 *
 * Results are a reason code (kc_value_reason_t) plus hint fields
 * (kc_value_hint_t), never sentences: the caller formats them in the clerk's
 * language. A function fills *hint (when hint is not NULL) in every case,
 * zeroing what does not apply.
 *
 * FOLDING (kc_value_fold)
 * Two texts "match" when their folds are equal. The fold of a text:
 *   - every Vietnamese letter, precomposed (U+00C0-U+00FF, Ă ă Đ đ Ĩ ĩ Ũ ũ
 *     Ơ ơ Ư ư, U+1EA0-U+1EF9) or followed by combining marks (U+0300-U+036F,
 *     which are dropped), becomes its ASCII base letter; đ, Đ and Ð (U+00D0) become d;
 *     so NFC and NFD spellings fold alike;
 *   - ASCII letters are lower-cased;
 *   - ASCII whitespace, NBSP (U+00A0), U+202F and the punctuation . , - / ( ) _
 *     count as spaces; runs of spaces become one; leading and trailing ones go;
 *   - any other code point is copied as it is; a byte that is not part of
 *     well-formed UTF-8 becomes '?'.
 * The fold is ASCII whenever the input is Vietnamese text.
 *
 * NUMBERS (kc_value_int)
 * A cell is trimmed of ASCII whitespace and NBSP at both ends; then it is
 *   [-] DIGITS [SEP] ...
 * read by these rules, in order (no other character may appear; "+" and
 * exponents are not numbers):
 *   1. Only digits: the integer.
 *   2. Grouping separators: a space (ASCII space, NBSP or U+202F), '.' or ','.
 *      One kind only per number; groups after the first are exactly three
 *      digits; the first has 1-3 digits. A decimal separator, '.' or ',',
 *      occurs at most once, after every grouping separator, followed by at
 *      least one digit; its fractional part must be all zeros (KC_VALUE_FRACTION
 *      otherwise: "1.5", "1.200,50").
 *   3. Which is which: with both '.' and ',' present, the last one is the
 *      decimal separator ("350.000.000,00", "350,000,000.00"); if it occurs more
 *      than once, or the other occurs after it, the number is malformed. With
 *      one of them only: occurring twice or more it groups ("1.200.000.000");
 *      occurring once beside space grouping it is decimal ("1 200,00"); occurring
 *      once alone it is decimal unless exactly three digits follow it and the
 *      digits before it are 1-3 without a leading zero - then both readings are
 *      possible and the cell is KC_VALUE_AMBIGUOUS ("1.200", "12,000", "1.000":
 *      never guessed; the hint gives both readings). "0.500", "1234.000" and
 *      "1.20" have one reading only.
 *   4. The value must fit int64 (KC_VALUE_OVERFLOW; "-9223372036854775808" fits).
 * Anything else is KC_VALUE_NOT_NUMBER (hint.offset: the first offending byte)
 * or KC_VALUE_BAD_GROUPING (groups not of three digits, mixed grouping
 * separators; hint.offset: the separator in fault). An empty cell is
 * KC_VALUE_EMPTY (the caller decides whether it means "not reported").
 *
 * NAMES (columns, provinces, activities, kind and fund words)
 * Matched after folding against the canonical names and their aliases; an
 * unknown name gets the nearest valid value (kc_value_suggest) in the hint.
 */
#ifndef KC_VALUE_H
#define KC_VALUE_H

#include "kc_ref.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    KC_VALUE_OK = 0,
    KC_VALUE_EMPTY,        /* blank after trimming */
    KC_VALUE_NOT_NUMBER,   /* a character no number has; hint.offset */
    KC_VALUE_BAD_GROUPING, /* groups not of three digits, mixed separators; hint.offset */
    KC_VALUE_AMBIGUOUS,    /* "1.200": thousands or decimal; hint.sep, .grouped, .decimal */
    KC_VALUE_FRACTION,     /* a non-zero fractional part: must be a whole number */
    KC_VALUE_OVERFLOW,     /* outside int64 */
    KC_VALUE_UNKNOWN,      /* no such column/province/activity/word; hint.suggest */
    KC_VALUE_OTHER_SCHEME, /* a province of the other scheme than the period's; hint.other */
} kc_value_reason_t;

/* What kc_value_suggest and kc_value_list range over. */
typedef enum {
    KC_VF_COLUMN = 0, /* canonical column names (data/columns.tsv) */
    KC_VF_PROVINCE,   /* provinces of the scheme in force for the period */
    KC_VF_ACTIVITY,   /* activities (data/activities.tsv) */
    KC_VF_KIND,       /* actual, plan, correction, retraction (data/values.tsv) */
    KC_VF_FUND,       /* kcqg, kcdp, other (data/values.tsv) */
    KC_VF_COUNT
} kc_value_field_t;

/* A valid value, as listed or suggested. Pointers into static tables. */
typedef struct {
    const char *value; /* canonical: "machinery", "79", "amount_vnd", "plan" */
    const char *label; /* its Vietnamese name/label or NULL: "Ứng dụng máy móc tiên tiến",
                          "Hồ Chí Minh", "Kinh phí (đồng)" (first alias), "Kế hoạch" */
} kc_value_item_t;

typedef struct {
    kc_value_reason_t reason;
    size_t offset; /* NOT_NUMBER, BAD_GROUPING: byte offset in the (untrimmed) cell */
    /* AMBIGUOUS: the separator and the two readings: "1.200" -> sep '.',
     * grouped 1200 (a thousands separator), decimal "1.2" (a decimal point,
     * written with '.', trailing zeros dropped: "1.000" -> "1"). */
    char sep;
    int64_t grouped;
    char decimal[32];
    /* OTHER_SCHEME: scheme = the scheme in force for the period; other = the
     * unit the cell names in the other scheme; successor = for a scheme-63
     * unit after 2025-06, the scheme-34 unit it merged into (else NULL). */
    int scheme;
    const kc_province_t *other;
    const kc_province_t *successor;
    /* UNKNOWN (names): the nearest valid value, or value == NULL if none is
     * near enough; list the valid values with kc_value_list. */
    kc_value_item_t suggest;
} kc_value_hint_t;

/* Fold `in` (NUL-terminated) into out[cap] as described above. Writes at most
 * cap - 1 bytes and a NUL (nothing if cap == 0; a truncated fold never ends
 * inside a UTF-8 sequence). Returns the length of the whole fold (like
 * snprintf: >= cap means truncated). */
size_t kc_value_fold(const char *in, char *out, size_t cap);

/* A header cell -> the canonical column name ("event_id", "amount_vnd", ...)
 * in *column. Returns KC_VALUE_OK, KC_VALUE_EMPTY or KC_VALUE_UNKNOWN. */
kc_value_reason_t kc_value_column(const char *header, const char **column, kc_value_hint_t *hint);

/* An integer cell under the NUMBERS rule above; *out is set on KC_VALUE_OK only. */
kc_value_reason_t kc_value_int(const char *cell, int64_t *out, kc_value_hint_t *hint);

/* A province cell for a row of period yyyymm -> *prov (the unit in force).
 * By code: 1-2 digits, surrounding blanks ignored ("1", "01", " 79 "). By
 * name: the name of data/provinces.tsv, folded, with an optional prefix
 * "Thành phố", "TP", "TP." or "Tỉnh" ("TP. Hồ Chí Minh", "can tho").
 * Checked under kc_ref_scheme_for(yyyymm): a code or name that is a unit of
 * the other scheme only is KC_VALUE_OTHER_SCHEME (hint.other, hint.successor);
 * otherwise unknown is KC_VALUE_UNKNOWN (names get a suggestion). */
kc_value_reason_t kc_value_province(const char *cell, int32_t yyyymm, const kc_province_t **prov,
                                    kc_value_hint_t *hint);

/* An activity cell -> *act: by code ("KC3b", any case), name ("machinery",
 * "vocational training") or Vietnamese or English label of
 * data/activities.tsv, all folded. KC_VALUE_OK, _EMPTY or _UNKNOWN. */
kc_value_reason_t kc_value_activity(const char *cell, const kc_activity_t **act,
                                    kc_value_hint_t *hint);

/* A kind or fund cell (field KC_VF_KIND or KC_VF_FUND) -> the contract's word
 * in *value ("actual", "plan", "correction", "retraction"; "kcqg", "kcdp",
 * "other"), by the word or an alias of data/values.tsv ("Kế hoạch", "KCĐP",
 * "Khác"). KC_VALUE_OK, _EMPTY or _UNKNOWN (KC_VALUE_UNKNOWN for another field). */
kc_value_reason_t kc_value_word(kc_value_field_t field, const char *cell, const char **value,
                                kc_value_hint_t *hint);

/* The valid value nearest to cell among field's values (period yyyymm is used
 * for KC_VF_PROVINCE only): the smallest optimal-string-alignment
 * (Damerau-Levenshtein) distance between the fold of cell (provinces: with
 * its prefix removed) and the fold of any name, alias or label of a value,
 * at most max(1, min(3, n / 4)) for a fold of n bytes; ties go to the first in
 * list order. Cells whose fold is longer than 128 bytes get no suggestion.
 * Returns true and fills *item if one is near enough. */
bool kc_value_suggest(kc_value_field_t field, const char *cell, int32_t yyyymm,
                      kc_value_item_t *item);

/* The valid values of field (for yyyymm, provinces) in list order: writes up
 * to cap items and returns how many there are. */
size_t kc_value_list(kc_value_field_t field, int32_t yyyymm, kc_value_item_t *items, size_t cap);

#endif
