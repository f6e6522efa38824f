/* fuzz_value.c - libFuzzer harness: a cell as a clerk typed it through every
 * function of kc_value.h (issue 15).
 *
 * DESIGN
 * Byte 0 is the selector, the rest the cell (copied into an exact-size
 * NUL-terminated buffer, so that ASan sees a read past its NUL; an embedded
 * NUL shortens the cell as a C string would). The low 3 bits pick the
 * function driven first (fold, int, column, province, activity, kind, fund,
 * suggest); bit 3 picks the period (scheme 63 or 34); every other function
 * runs too, so each input exercises all of them. Oracles: the fold is
 * idempotent, its length is what it returns, a truncated fold is a prefix of
 * the whole one ending on a character boundary; an integer read OK prints and
 * reads back to itself, and for a plain "-?[0-9]+" cell agrees with strtoll;
 * offsets lie inside the cell; an ambiguous number's hint is a '.' or ','
 * with two readings; a name read OK reads back from its canonical value;
 * provinces belong to the period's scheme (the other one for
 * KC_VALUE_OTHER_SCHEME); a suggestion is a listed value.
 */
#include "fuzz_util.h"

#include "kc_value.h"

static bool s_listed(kc_value_field_t f, int32_t t, const char *value)
{
    kc_value_item_t items[128];
    size_t n = kc_value_list(f, t, items, 128);
    FUZZ_CHECK(n <= 128);
    for (size_t i = 0; i < n; i++)
        if (strcmp(items[i].value, value) == 0)
            return true;
    return false;
}

static void s_fold(const char *cell)
{
    char full[512], again[512], small[8];
    size_t n = kc_value_fold(cell, full, sizeof full);
    if (n >= sizeof full)
        return;
    FUZZ_CHECK(strlen(full) == n);
    FUZZ_CHECK(n == 0 || (full[0] != ' ' && full[n - 1] != ' ' && !strstr(full, "  ")));
    FUZZ_CHECK(kc_value_fold(full, again, sizeof again) == n && strcmp(full, again) == 0);
    FUZZ_CHECK(kc_value_fold(cell, small, sizeof small) == n);
    size_t k = strlen(small);
    FUZZ_CHECK(k < sizeof small && strncmp(small, full, k) == 0);
    FUZZ_CHECK(k == n || ((unsigned char)full[k] & 0xC0) != 0x80);
}

static void s_int(const char *cell)
{
    int64_t v = 0;
    kc_value_hint_t h;
    kc_value_reason_t r = kc_value_int(cell, &v, &h);
    FUZZ_CHECK(h.reason == r);
    size_t len = strlen(cell);
    if (r == KC_VALUE_NOT_NUMBER || r == KC_VALUE_BAD_GROUPING)
        FUZZ_CHECK(h.offset <= len);
    if (r == KC_VALUE_AMBIGUOUS) {
        FUZZ_CHECK(h.sep == '.' || h.sep == ',');
        FUZZ_CHECK(strlen(h.decimal) < sizeof h.decimal && h.decimal[0]);
        FUZZ_CHECK(h.grouped >= -999999 && h.grouped <= 999999);
    }
    if (r == KC_VALUE_OK) {
        char buf[32];
        int64_t w = 0;
        snprintf(buf, sizeof buf, "%lld", (long long)v);
        FUZZ_CHECK(kc_value_int(buf, &w, NULL) == KC_VALUE_OK && w == v);
    }
    const char *p = cell + (cell[0] == '-');
    bool plain = *p && strspn(p, "0123456789") == strlen(p);
    if (plain) {
        errno = 0;
        long long w = strtoll(cell, NULL, 10);
        if (errno == ERANGE)
            FUZZ_CHECK(r == KC_VALUE_OVERFLOW);
        else
            FUZZ_CHECK(r == KC_VALUE_OK && v == w);
    }
}

static void s_names(const char *cell, int32_t t)
{
    kc_value_hint_t h;
    const char *col = NULL, *again = NULL;
    kc_value_reason_t r = kc_value_column(cell, &col, &h);
    FUZZ_CHECK(h.reason == r && (r == KC_VALUE_OK) == (col != NULL));
    if (col)
        FUZZ_CHECK(kc_value_column(col, &again, NULL) == KC_VALUE_OK && again == col);
    if (r == KC_VALUE_UNKNOWN && h.suggest.value)
        FUZZ_CHECK(s_listed(KC_VF_COLUMN, t, h.suggest.value));

    const kc_activity_t *a = NULL, *a2 = NULL;
    r = kc_value_activity(cell, &a, &h);
    FUZZ_CHECK(h.reason == r && (r == KC_VALUE_OK) == (a != NULL));
    if (a)
        FUZZ_CHECK(kc_value_activity(a->name, &a2, NULL) == KC_VALUE_OK && a2 == a);
    if (r == KC_VALUE_UNKNOWN && h.suggest.value)
        FUZZ_CHECK(s_listed(KC_VF_ACTIVITY, t, h.suggest.value));

    const kc_province_t *p = NULL, *p2 = NULL;
    int scheme = kc_ref_scheme_for(t);
    r = kc_value_province(cell, t, &p, &h);
    FUZZ_CHECK(h.reason == r && (r == KC_VALUE_OK) == (p != NULL));
    if (p) {
        FUZZ_CHECK(p->scheme == scheme);
        FUZZ_CHECK(kc_value_province(p->code_str, t, &p2, NULL) == KC_VALUE_OK && p2 == p);
        FUZZ_CHECK(kc_value_province(p->name, t, &p2, NULL) == KC_VALUE_OK && p2 == p);
    }
    if (r == KC_VALUE_OTHER_SCHEME) {
        FUZZ_CHECK(h.other && h.other->scheme != scheme && h.scheme == scheme);
        FUZZ_CHECK(!h.successor || (h.other->scheme == 63 && h.successor->scheme == 34));
    }
    if (r == KC_VALUE_UNKNOWN && h.suggest.value)
        FUZZ_CHECK(s_listed(KC_VF_PROVINCE, t, h.suggest.value));

    for (kc_value_field_t f = KC_VF_KIND; f <= KC_VF_FUND; f++) {
        const char *v = NULL, *v2 = NULL;
        r = kc_value_word(f, cell, &v, &h);
        FUZZ_CHECK(h.reason == r && (r == KC_VALUE_OK) == (v != NULL));
        if (v)
            FUZZ_CHECK(kc_value_word(f, v, &v2, NULL) == KC_VALUE_OK && v2 == v);
    }
}

static void s_suggest(const char *cell, int32_t t)
{
    for (int f = 0; f <= KC_VF_COUNT; f++) {
        kc_value_item_t it;
        if (kc_value_suggest((kc_value_field_t)f, cell, t, &it))
            FUZZ_CHECK(f < KC_VF_COUNT && it.value && s_listed((kc_value_field_t)f, t, it.value));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t sel = data[0];
    char *cell = malloc(size); /* size - 1 bytes and a NUL: exact, for ASan */
    if (!cell)
        return 0;
    memcpy(cell, data + 1, size - 1);
    cell[size - 1] = '\0';
    int32_t t = (sel & 8) ? 202601 : 202201;
    switch (sel & 7) { /* the one driven first; then all of them */
    case 0: s_fold(cell); break;
    case 1: s_int(cell); break;
    case 7: s_suggest(cell, t); break;
    default: s_names(cell, t); break;
    }
    s_fold(cell);
    s_int(cell);
    s_names(cell, t);
    s_suggest(cell, t);
    free(cell);
    return 0;
}
