/* kc_label.h - the language of a view, and the names of regions, periods,
 * metrics, activities, an Event's op, kind and fund, and rejection reasons in
 * it (Vietnamese or English).
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
/* The language the locale asks for: Vietnamese when the first of LC_ALL,
 * LC_MESSAGES, LANG that is set and not empty starts with "vi", else English
 * (the default of a tool's --lang; core reads the environment, never a
 * command line). */
kc_lang_t kc_lang_from_env(void);

/* "phía Nam" / "the south" style label of a region id (the id if unknown). */
const char *kc_label_region(const char *region, kc_lang_t lang);
/* "năm 2021", "9 tháng năm 2022", "tháng 3–5 năm 2022" /
 * "2021", "January–September 2022", "March–May 2022". */
char *kc_label_period(char *buf, size_t cap, int year, int from, int to, kc_lang_t lang);
/* Label of a metric or activity in the language. */
const char *kc_label_metric(int metric, kc_lang_t lang);
const char *kc_label_activity(const kc_activity_t *a, kc_lang_t lang);

/* The words of an Event's op (KCPIPE__V1__OP__*), kind (1 actual, 2 plan) and
 * fund (1 kcqg, 2 kcdp, 3 other). In English the token itself, as JSON and
 * the CSV contract write it ("correction", "plan", "kcdp"); in Vietnamese
 * "điều chỉnh", "kế hoạch", "KCĐP" (data/values.tsv's words). An op out of
 * range is "unknown"/"không rõ"; a kind or fund of 0 or out of range NULL. */
const char *kc_label_op(int op, kc_lang_t lang);
const char *kc_label_kind(int kind, kc_lang_t lang);
const char *kc_label_fund(int fund, kc_lang_t lang);
/* The label of a rejection's reason token (kc_reason_name: "unknown_province"
 * -> "Unknown province" / "Mã tỉnh không xác định"), the wording of the
 * dashboard's (web/app.js); the token itself when it has none. */
const char *kc_label_reason(const char *token, kc_lang_t lang);
/* The label of a reporting-cycle state token (core/kc_cycle.h: "on_time", "late",
 * "missing", "not_due"; and a cell's marks "signed_off", "approved", "reopened"):
 * "on time" / "đúng hạn"; the token itself when it has none. */
const char *kc_label_cycle_state(const char *token, kc_lang_t lang);

#endif
