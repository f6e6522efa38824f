/* spool_gen.h - the events of the spool-durability scenario, shared by its
 * driver (spool_driver.c, which adds them through libkcingest) and its check
 * (spool_fault_test.c, which compares the store's log with them).
 *
 * DESIGN
 * Run `run` of producer P makes the events of kc_gen (gen_csv.h) with prefix
 * "P-r<run>" and seed kc_spoolgen_seed(seed, run): event ids "P-r<run>-<row>"
 * (row: 6 hex digits), so no two runs ever use one event id, and the check can
 * regenerate any event from its id alone. An event's content is summed up in
 * one line of text (kc_spoolgen_content): province, period, activity code,
 * kind, fund, every present metric and a hash of the note, in the form both
 * the driver (from the generated row, as the encoder will send it) and the
 * check (from the Event decoded out of the log) can write it; equal lines mean
 * equal events.
 */
#ifndef KC_SPOOL_GEN_H
#define KC_SPOOL_GEN_H

#include "gen_csv.h"
#include "kc_ref.h"

#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define KC_SPOOLGEN_CONTENT 320 /* room for one content line */

static inline uint64_t kc_spoolgen_seed(uint64_t seed, int run)
{
    return seed * 1000003u + (uint64_t)run;
}

/* "P-r<run>" into buf. */
static inline void kc_spoolgen_prefix(char *buf, size_t cap, const char *producer, int run)
{
    snprintf(buf, cap, "%s-r%d", producer, run);
}

/* kind and fund of a generated row as the encoder sends them (kcpipe.v1.Kind,
 * Fund: "" means the default, actual and other). */
static inline int kc_spoolgen_kind(const char *s)
{
    return strcmp(s, "plan") == 0 ? 2 : 1;
}
static inline int kc_spoolgen_fund(const char *s)
{
    return strcmp(s, "kcqg") == 0 ? 1 : strcmp(s, "kcdp") == 0 ? 2 : 3;
}

/* The content line of one event (see DESIGN); note NULL = "". */
static inline void kc_spoolgen_content(char *buf, size_t cap, const char *province, int year,
                                       int month, const char *activity_code, int kind, int fund,
                                       const int64_t m[KC_METRIC_COUNT], uint32_t present,
                                       const char *note)
{
    uint32_t h = 2166136261u; /* FNV-1a of the note */
    for (const char *p = note ? note : ""; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    int n = snprintf(buf, cap, "%s %d-%02d %s k%d f%d n%08x", province, year, month, activity_code,
                     kind, fund, h);
    for (int i = 0; i < KC_METRIC_COUNT && n > 0 && (size_t)n < cap; i++)
        if (present & (1u << i))
            n += snprintf(buf + n, cap - (size_t)n, " %d=%" PRId64, i, m[i]);
}

/* The content line of a generated row. */
static inline void kc_spoolgen_row_content(char *buf, size_t cap, const kc_gen_row_t *r)
{
    const kc_activity_t *a = kc_ref_activity_lookup(r->activity);
    kc_spoolgen_content(buf, cap, r->province, r->year, r->month, a ? a->code : r->activity,
                        kc_spoolgen_kind(r->kind), kc_spoolgen_fund(r->fund), r->m, r->present,
                        r->note);
}

#endif
