/* kc_filter.h - the values of a view's filter (kc_cells_filter_t), parsed
 * from the words kc-query's options and the HTTP API's parameters share, and
 * the names of kinds and funds.
 *
 * Every kc_filter_parse_* / kc_filter_add_* returns 0 or KC_EINVAL and, on
 * KC_EINVAL, writes a one-line reason (naming the option, such as
 * "--months") into err[cap]: a command-line program prints it and exits 64,
 * the HTTP API answers 400 with it.
 */
#ifndef KC_FILTER_H
#define KC_FILTER_H

#include "kc_cells.h"

#include <stddef.h>

/* A decimal integer in lo..hi (whole string); `what` names it in the reason. */
int kc_filter_parse_int(const char *s, long lo, long hi, long *out, const char *what, char *err,
                        size_t cap);
/* "A-B" or "A", 1 <= A <= B <= 12. */
int kc_filter_parse_months(const char *s, int *from, int *to, char *err, size_t cap);
/* "actual" -> 1, "plan" -> 2. */
int kc_filter_parse_kind(const char *s, int *kind, char *err, size_t cap);
/* "34" -> 34, "63" -> 0 (native units). */
int kc_filter_parse_units(const char *s, int *units, char *err, size_t cap);
/* Add to the filter (the region name is borrowed: keep s alive). */
int kc_filter_add_region(kc_cells_filter_t *f, const char *s, char *err, size_t cap);
/* A province code, or a name with or without diacritics and with or without
 * a "TP." / "Thành phố" / "Tỉnh" prefix ("Cần Thơ", "can tho", "TP. Hồ Chí
 * Minh"); with f->units == 34 it must name a scheme-34 unit, so set units
 * before adding provinces. A name selects its province under the scheme(s)
 * it has (kc_cells_filter_t.province_scheme). */
int kc_filter_add_province(kc_cells_filter_t *f, const char *s, char *err, size_t cap);
int kc_filter_add_activity(kc_cells_filter_t *f, const char *s, char *err, size_t cap);
int kc_filter_add_fund(kc_cells_filter_t *f, const char *s, char *err, size_t cap);
/* Names of kind 1..2 and fund 1..3 ("actual", "kcqg"). */
const char *kc_filter_kind_name(int kind);
const char *kc_filter_fund_name(int fund);

#endif
