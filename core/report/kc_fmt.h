/* kc_fmt.h - human number formats of the tools and the report (libkcreport), in English and
 * Vietnamese.
 *
 * Money and counts are exact integers everywhere: int64 cells, kc_i128 sums
 * of cells (kc_cells.h, DESIGN - exact sums). Every function here takes a
 * kc_i128 and works in 128-bit integer arithmetic, so any sum a view holds is
 * formatted exactly (counts) or rounded exactly (money in tỷ/triệu,
 * percentages: half away from zero). Vietnamese writes a decimal
 * comma and a dot between thousands ("50,3 tỷ đồng", "1.013", "79,6%");
 * English the reverse ("50.3 billion VND", "1,013", "79.6%").
 *
 * Every kc_fmt_* function writes a NUL-terminated string into buf (truncated
 * to cap, cap >= 1) and returns buf, so calls can sit inside printf arguments.
 */
#ifndef KC_FMT_H
#define KC_FMT_H

#include "kc_i128.h"
#include "kc_label.h" /* kc_lang_t */

#include <stddef.h>
#include <stdint.h>

#define KC_FMT_BUF 64 /* enough for any value formatted here (any kc_i128) */

/* A fixed-point number: `scaled` / 10^decimals, with thousands separators on
 * the integer part: (123456789, 2) -> "1.234.567,89" (vi) / "1,234,567.89". */
char *kc_fmt_fixed(char *buf, size_t cap, kc_i128 scaled, int decimals, kc_lang_t lang);

/* A count with thousands separators: "1.013" (vi), "1,013" (en). */
char *kc_fmt_count(char *buf, size_t cap, kc_i128 v, kc_lang_t lang);

/* Money in whole dong, in tỷ (10^9) from one tỷ up, in triệu (10^6) from one
 * triệu up, else in dong. Two decimals below 100 units, one from 100 up,
 * trailing zeros dropped: 50300000000 -> "50,3 tỷ đồng" / "50.3 billion VND",
 * 13980000000 -> "13,98 tỷ đồng", 102200000000 -> "102,2 tỷ đồng",
 * 850000000 -> "850 triệu đồng" / "850 million VND", 1500 -> "1.500 đồng";
 * 9223372036854775812 -> "9.223.372.036,9 tỷ đồng". */
char *kc_fmt_money(char *buf, size_t cap, kc_i128 vnd, kc_lang_t lang);

/* One scale for a column of money, so its rows compare at a glance (issue
 * 16: "2,62 tỷ" beside "111,7 triệu" reads as the smaller): the unit
 * kc_fmt_money would pick for the largest |value| (đồng, triệu, tỷ) and its
 * decimals (two below 100 units, one from 100 up, none in đồng), less the
 * trailing zeros every value shares (1 and 2 tỷ: "1" and "2", not "1,00").
 * kc_fmt_money_in() then writes any value of the column in it:
 * (111700000, scale of 2620000000) -> "0,11 tỷ đồng". */
typedef struct {
    int unit;     /* 0 đồng, 1 triệu, 2 tỷ */
    int decimals; /* 0..2 */
} kc_fmt_scale_t;
kc_fmt_scale_t kc_fmt_money_scale(const kc_i128 *v, size_t n);
char *kc_fmt_money_in(char *buf, size_t cap, kc_i128 vnd, kc_fmt_scale_t s, kc_lang_t lang);

/* num / den as a percentage with one decimal: (503, 632) -> "79,6%". A zero
 * den gives "—"; so does a num whose 1000-fold leaves kc_i128 (|num| above
 * (2^127-1)/1000, about 2^117; never a view's: their sums are < 2^93). */
char *kc_fmt_percent(char *buf, size_t cap, kc_i128 num, kc_i128 den, kc_lang_t lang);

/* Change from `before` to `now` in percent, signed, one decimal:
 * (384, 199) -> "+93,0%", (1, 2) -> "-50,0%"; before == 0 gives "—", and so
 * does a difference beyond kc_fmt_percent's range. */
char *kc_fmt_change(char *buf, size_t cap, kc_i128 now, kc_i128 before, kc_lang_t lang);

/* Display width of a UTF-8 string in columns: code points, combining marks
 * (U+0300..U+036F) excluded. */
size_t kc_fmt_width(const char *s);

#endif
