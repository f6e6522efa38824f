/* kc_label.h - the language of a view, and the names of regions, periods,
 * metrics and activities in it (Vietnamese or English).
 *
 * Every string returned is static (or buf); none is ever NULL.
 */
#ifndef KC_LABEL_H
#define KC_LABEL_H

#include "kc_ref.h"

#include <stddef.h>

typedef enum { KC_LANG_EN = 0, KC_LANG_VI = 1 } kc_lang_t;

/* Parse "en" or "vi"; returns 0 or KC_EINVAL. */
int kc_lang_parse(const char *s, kc_lang_t *out);

/* "phía Nam" / "the south" style label of a region id (the id if unknown). */
const char *kc_label_region(const char *region, kc_lang_t lang);
/* "năm 2021", "9 tháng năm 2022", "tháng 3–5 năm 2022" /
 * "2021", "January–September 2022", "March–May 2022". */
char *kc_label_period(char *buf, size_t cap, int year, int from, int to, kc_lang_t lang);
/* Label of a metric or activity in the language. */
const char *kc_label_metric(int metric, kc_lang_t lang);
const char *kc_label_activity(const kc_activity_t *a, kc_lang_t lang);

#endif
