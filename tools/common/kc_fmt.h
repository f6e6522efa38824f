/* kc_fmt.h - human number formats of the tools, in English and Vietnamese.
 *
 * Money and counts are exact int64 everywhere; only these human formats round
 * (half away from zero, in integer arithmetic). Vietnamese writes a decimal
 * comma and a dot between thousands ("50,3 tỷ đồng", "1.013", "79,6%");
 * English the reverse ("50.3 billion VND", "1,013", "79.6%").
 *
 * Every kc_fmt_* function writes a NUL-terminated string into buf (truncated
 * to cap, cap >= 1) and returns buf, so calls can sit inside printf arguments.
 */
#ifndef KC_FMT_H
#define KC_FMT_H

#include <stddef.h>
#include <stdint.h>

typedef enum { KC_LANG_EN = 0, KC_LANG_VI = 1 } kc_lang_t;

#define KC_FMT_BUF 64 /* enough for any value formatted here */

/* Parse "en" or "vi"; returns 0 or KC_EINVAL. */
int kc_lang_parse(const char *s, kc_lang_t *out);

/* A fixed-point number: `scaled` / 10^decimals, with thousands separators on
 * the integer part: (123456789, 2) -> "1.234.567,89" (vi) / "1,234,567.89". */
char *kc_fmt_fixed(char *buf, size_t cap, int64_t scaled, int decimals, kc_lang_t lang);

/* A count with thousands separators: "1.013" (vi), "1,013" (en). */
char *kc_fmt_count(char *buf, size_t cap, int64_t v, kc_lang_t lang);

/* Money in whole dong, in tỷ (10^9) from one tỷ up, in triệu (10^6) from one
 * triệu up, else in dong. Two decimals below 100 units, one from 100 up,
 * trailing zeros dropped: 50300000000 -> "50,3 tỷ đồng" / "50.3 billion VND",
 * 13980000000 -> "13,98 tỷ đồng", 102200000000 -> "102,2 tỷ đồng",
 * 850000000 -> "850 triệu đồng" / "850 million VND", 1500 -> "1.500 đồng". */
char *kc_fmt_money(char *buf, size_t cap, int64_t vnd, kc_lang_t lang);

/* num / den as a percentage with one decimal: (503, 632) -> "79,6%". A zero
 * den gives "—". */
char *kc_fmt_percent(char *buf, size_t cap, int64_t num, int64_t den, kc_lang_t lang);

/* Change from `before` to `now` in percent, signed, one decimal:
 * (384, 199) -> "+93,0%", (1, 2) -> "-50,0%"; before == 0 gives "—". */
char *kc_fmt_change(char *buf, size_t cap, int64_t now, int64_t before, kc_lang_t lang);

/* num / den * 100 rounded to two decimals, as a double for JSON (the only
 * floating point: ratios, never money). den == 0 returns 0 and *ok = 0. */
double kc_ratio_percent(int64_t num, int64_t den, int *ok);

/* Display width of a UTF-8 string in columns: code points, combining marks
 * (U+0300..U+036F) excluded. */
size_t kc_fmt_width(const char *s);

#endif
