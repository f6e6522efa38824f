/* kc_entryfmt.h - the text forms of a decoded log entry (core/kc_entry.h) that
 * kc-log show and kc-audit history print: values, differences, the province,
 * and local time (CSV fields: common/kc_csvout.h).
 *
 * DESIGN
 * Values are exact integers with their data/metrics.tsv names ("amount_vnd
 * 1200, facilities 2"): an auditor compares them with the producer's sheet,
 * so nothing is rounded or scaled; with KC_LANG_VI the names are the metrics'
 * Vietnamese labels (kc_label_metric: "kinh phí 1200") and the words of a
 * difference Vietnamese ("kỳ", "đổi ghi chú"). Text that comes from the store (ids,
 * notes) is in display form (common/kc_text.h) wherever it goes to a
 * terminal; CSV fields hold the same display form, except a note that is
 * well-formed free text, kept as it is (a quoted field may hold LF).
 * Every function writing into buf[cap] truncates to fit and returns buf.
 */
#ifndef KC_ENTRYFMT_H
#define KC_ENTRYFMT_H

#include "kc_entry.h"
#include "kc_label.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define KC_ENTRYFMT_BUF 4096 /* room for any values or difference line */

/* "amount_vnd 1200, facilities 2"; "-" when the entry carries none. */
char *kc_entryfmt_values(char *buf, size_t cap, const kc_entry_t *x, kc_lang_t lang);
/* "amount_vnd 1000 → 1200, facilities 2 → (none), note changed, period
 * 2021-04 → 2021-05"; a retraction: "retracted: every value removed
 * (amount_vnd 1200, ...)"; "(nothing changed)" when d says nothing.
 * Vietnamese: "kinh phí 1000 → 1200, ... → (không có), đổi ghi chú, kỳ ...",
 * "thu hồi: bỏ mọi giá trị (...)", "(không thay đổi gì)". */
char *kc_entryfmt_diff(char *buf, size_t cap, const kc_entry_t *prev, const kc_entry_t *cur,
                       const kc_entry_diff_t *d, kc_lang_t lang);
/* "79 Hồ Chí Minh", or the code as written (display form) when it names none. */
char *kc_entryfmt_province(char *buf, size_t cap, const kc_entry_t *x);
/* "2021-03", or "" without a period. */
char *kc_entryfmt_period(char *buf, size_t cap, const kc_entry_t *x);
/* ns since the epoch in local time (TZ) with its offset:
 * "2026-12-07T13:32:30.123456789+07:00". */
char *kc_entryfmt_local(char *buf, size_t cap, uint64_t ns);

#endif
