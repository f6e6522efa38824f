/* kc_cli.h - argument parsing and labels shared by the tools' programs.
 *
 * Every kc_cli_parse_* / kc_cli_add_* returns 0 or KC_EINVAL and, on
 * KC_EINVAL, writes a one-line reason into err[cap] for the program to print
 * before exiting 64 (EX_USAGE).
 */
#ifndef KC_CLI_H
#define KC_CLI_H

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

/* Open a store read-only; on failure print "prog: ..." to stderr and return
 * the exit code (66 no store, 65 wrong format, 74 otherwise), else 0. */
int kc_cli_open_store(const char *prog, const char *dir, kc_store_t **out);

#endif
