/* kc_cli.c - argument parsing and labels shared by the tools' programs. */
#include "kc_cli.h"

#include "kc_conf.h"
#include "kc_err.h"
#include "kc_time.h"

#include <getopt.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int kc_cli_open_store(const char *prog, const char *dir, kc_store_t **out)
{
    kc_store_opts_t opts = {.read_only = true};
    int rc = kc_store_open(out, dir, &opts);
    if (rc == 0)
        return 0;
    if (rc == KC_ENOTFOUND || rc == -ENOENT) {
        fprintf(stderr, "%s: no store at %s\n", prog, dir);
        return KC_EX_NOINPUT;
    }
    fprintf(stderr, "%s: cannot open the store at %s: %s\n", prog, dir, kc_strerror(rc));
    return rc == KC_EFORMAT ? KC_EX_DATAERR : KC_EX_IOERR;
}

int kc_cli_usage_error(const char *prog, const char *fmt, const char *arg)
{
    /* An error about a value read from the config file names its FILE:LINE: `arg`
     * itself, or inside the option loop the value at fault (optarg; NULL after it). */
    const char *about = *kc_conf_blame(arg) ? arg : optarg;
    fprintf(stderr, "%s%s: ", kc_conf_blame(about), prog);
    fprintf(stderr, fmt, arg ? arg : "");
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
    return kc_conf_usage_exit(about, 64);
}

int kc_cli_parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

void kc_cli_time_utc(uint64_t ns, char *buf, size_t cap)
{
    kc_time_iso(ns, 9, buf, cap);
}
