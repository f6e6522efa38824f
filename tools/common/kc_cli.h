/* kc_cli.h - argument parsing and labels shared by the tools' programs.
 *
 * Every kc_cli_parse_* / kc_cli_add_* returns 0 or KC_EINVAL and, on
 * KC_EINVAL, writes a one-line reason into err[cap] for the program to print
 * before exiting 64 (EX_USAGE).
 */
#ifndef KC_CLI_H
#define KC_CLI_H

#include "kc_cells.h"
#include "kc_fmt.h"
#include "kc_store.h"

#include <stddef.h>
#include <stdint.h>

/* sysexits.h values the tools use. */
enum {
    KC_EX_USAGE = 64,
    KC_EX_DATAERR = 65,
    KC_EX_NOINPUT = 66,
    KC_EX_SOFTWARE = 70,
    KC_EX_IOERR = 74
};

/* A decimal integer in lo..hi (whole string). */
/* Print "PROG: " + fmt (with arg, which may be NULL) and a --help hint to
 * stderr; returns 64 (EX_USAGE) for the caller to return. When arg, or inside
 * the getopt loop optarg, came from the config file (kc_conf.h), the line
 * starts "FILE:LINE: " and it returns 78 (EX_CONFIG); 78 too under
 * --check-config. */
int kc_cli_usage_error(const char *prog, const char *fmt, const char *arg);
/* A decimal u64 without sign or spaces: 0, or -1 if s is not one. */
int kc_cli_parse_u64(const char *s, uint64_t *out);
/* ns since 1970 as UTC ISO 8601 with nanoseconds: "2026-11-27T09:53:30.123456789Z". */
void kc_cli_time_utc(uint64_t ns, char *buf, size_t cap);

int kc_cli_parse_int(const char *s, long lo, long hi, long *out, const char *what, char *err,
                     size_t cap);
/* "A-B" or "A", 1 <= A <= B <= 12. */
int kc_cli_parse_months(const char *s, int *from, int *to, char *err, size_t cap);
/* "actual" -> 1, "plan" -> 2. */
int kc_cli_parse_kind(const char *s, int *kind, char *err, size_t cap);
/* "34" -> 34, "63" -> 0 (native units). */
int kc_cli_parse_units(const char *s, int *units, char *err, size_t cap);
/* Add to the filter (the region name is borrowed: keep s alive). */
int kc_cli_add_region(kc_cells_filter_t *f, const char *s, char *err, size_t cap);
/* A province code; with f->units == 34 it must name a scheme-34 unit, so set
 * units before adding provinces. */
int kc_cli_add_province(kc_cells_filter_t *f, const char *s, char *err, size_t cap);
int kc_cli_add_activity(kc_cells_filter_t *f, const char *s, char *err, size_t cap);
int kc_cli_add_fund(kc_cells_filter_t *f, const char *s, char *err, size_t cap);
/* Names of kind 1..2 and fund 1..3 ("actual", "kcqg"). */
const char *kc_cli_kind_name(int kind);
const char *kc_cli_fund_name(int fund);

/* Open a store read-only; on failure print "prog: ..." to stderr and return
 * the exit code (66 no store, 65 wrong format, 74 otherwise), else 0. */
int kc_cli_open_store(const char *prog, const char *dir, kc_store_t **out);

/* "phía Nam" / "the south" style label of a region id (the id if unknown). */
const char *kc_cli_region_label(const char *region, kc_lang_t lang);
/* "năm 2021", "9 tháng năm 2022", "tháng 3–5 năm 2022" /
 * "2021", "January–September 2022", "March–May 2022". */
char *kc_cli_period_label(char *buf, size_t cap, int year, int from, int to, kc_lang_t lang);
/* Label of a metric or activity in the language. */
const char *kc_cli_metric_label(int metric, kc_lang_t lang);
const char *kc_cli_activity_label(const kc_activity_t *a, kc_lang_t lang);

#endif
