/* kc_log.c - kc-log: export the verifiable event log to a self-checking file, describe one.
 *
 * DESIGN
 * `export` opens the store read-only and writes the first N entries of the log
 * with the signed head of size N (default: the latest head) in one read
 * snapshot (libkcstore's kc_logfile_export): it never blocks kc-aggregator,
 * and the file is complete or absent (FILE.tmp, fsync, rename). The export
 * recomputes the Merkle root of what it writes and refuses to finish a file
 * whose head does not match it. `info` prints what a file says about itself
 * (header and signed head); checking every record is `kc-audit verify --file`.
 * Format: docs/LOGFILE.md.
 * Exit codes: 0 ok, 64 usage, 65 bad data (no signed head of that size, the
 * store's log does not match its head, not a valid log file), 66 no store or
 * no such file, 69 the output cannot be written (or another I/O failure).
 */
#include "kc_cli.h"
#include "kc_conf.h"
#include "kc_err.h"
#include "kc_log.h"
#include "kc_logfile.h"
#include "kc_merkle.h"
#include "kc_progress.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PROG            "kc-log"
#define S_DEFAULT_STORE "./var/kcpipe"
#define S_EX_UNAVAIL    69

typedef struct {
    const char *store; /* --store */
    const char *out;   /* --out */
    bool have_size;    /* --size */
    uint64_t size;
    bool quiet; /* --quiet */
    int argc;
    char **argv;
} s_opts_t;

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: " PROG " export [--store DIR] --out FILE [--size N]\n"
            "       " PROG " info FILE\n"
            "Export kcpipe's verifiable event log to a documented, self-checking file\n"
            "(format: docs/LOGFILE.md), or describe such a file.\n"
            "\nCommands:\n"
            "  export   write the first N entries of the log and the signed head of size N\n"
            "           (default: the latest signed head) to FILE; the store is opened\n"
            "           read-only and read in one snapshot\n"
            "  info     print a file's header and signed head (records are not checked:\n"
            "           use 'kc-audit verify --file FILE --key PUBHEX')\n"
            "\nOptions:\n"
            "  --store DIR     the store (default " S_DEFAULT_STORE ")\n"
            "  --out FILE      the file to write (export)\n"
            "  --size N        export against the signed head of exactly N entries\n"
            "  -q, --quiet     no progress line on a terminal\n"
            "  --config FILE   read options from FILE (default: /etc/kcpipe/log.conf\n"
            "                  if it exists); options given here win\n"
            "  --no-config     read no config file\n"
            "  --check-config  check the config file and options: print 'FILE: ok'\n"
            "                  and exit 0, or each error as FILE:LINE and exit 78\n"
            "  -h, --help      this help\n"
            "  -V, --version   print the version\n"
            "\nExit: 0 ok, 64 usage, 65 bad data (no signed head of that size, the log does not\n"
            "match its head, not a valid log file), 66 no store or file, 69 cannot write.\n");
}

static int s_export(const s_opts_t *o)
{
    if (o->argc != 0)
        return kc_cli_usage_error(PROG, "export takes no operands ('%s')", o->argv[0]);
    if (!o->out)
        return kc_cli_usage_error(PROG, "%s", "export needs --out FILE");
    if (o->have_size && o->size == 0)
        return kc_cli_usage_error(PROG, "%s",
                                  "--size must be at least 1 (the size of a signed head)");
    kc_store_t *s = NULL;
    int ex = kc_cli_open_store(PROG, o->store, &s);
    if (ex != 0)
        return ex;
    kc_progress_t p;
    kc_progress_init(&p, "export", "entries");
    if (o->quiet)
        p.enabled = false;
    int rc = kc_logfile_export(s, o->out, o->have_size ? o->size : 0, kc_progress_cb, &p);
    kc_store_close(&s);
    if (rc == KC_ENOTFOUND) {
        if (o->have_size)
            fprintf(stderr, PROG ": no signed head of size %" PRIu64 " (see 'kc-audit heads')\n",
                    o->size);
        else
            fprintf(stderr, PROG ": the store has no signed head yet: nothing to export\n");
        return KC_EX_DATAERR;
    }
    if (rc == KC_EFORMAT || rc == KC_EPROTO) {
        fprintf(stderr,
                PROG ": the store's log does not match its signed head (%s); "
                     "run 'kc-audit verify'\n",
                kc_strerror(rc));
        return KC_EX_DATAERR;
    }
    if (rc != 0) {
        fprintf(stderr, PROG ": cannot export to %s: %s\n", o->out, kc_strerror(rc));
        return S_EX_UNAVAIL;
    }
    kc_logfile_info_t info;
    kc_logfile_status_t st;
    if (kc_logfile_info(o->out, &info, &st) != 0) {
        fprintf(stderr, PROG ": %s: %s\n", o->out, st.why);
        return S_EX_UNAVAIL;
    }
    kc_progress_done(&p, info.count, info.count);
    char ts[64], key[2 * KC_MERKLE_PUBKEY_LEN + 1];
    kc_cli_time_utc(info.head.timestamp_ns, ts, sizeof ts);
    kc_merkle_hex(info.pubkey, sizeof info.pubkey, key);
    printf("exported %" PRIu64 " entries to %s (%" PRIu64 " bytes), signed head of %s\n"
           "public key: %s\n",
           info.count, o->out, info.file_size, ts, key);
    return 0;
}

static int s_info(const s_opts_t *o)
{
    if (o->argc != 1)
        return kc_cli_usage_error(PROG, "%s", "info needs one FILE");
    const char *file = o->argv[0];
    kc_logfile_info_t info;
    kc_logfile_status_t st;
    int rc = kc_logfile_info(file, &info, &st);
    if (rc != 0 && info.version == 0) { /* no usable header */
        if (rc == KC_EFORMAT) {
            fprintf(stderr, PROG ": %s: %s\n", file, st.why);
            return KC_EX_DATAERR;
        }
        fprintf(stderr, PROG ": %s\n", st.why);
        return rc == -ENOENT || rc == -EACCES ? KC_EX_NOINPUT : S_EX_UNAVAIL;
    }
    char key[2 * KC_MERKLE_PUBKEY_LEN + 1];
    kc_merkle_hex(info.pubkey, sizeof info.pubkey, key);
    printf("file:           %s (%" PRIu64 " bytes)\n"
           "format version: %" PRIu32 "\n"
           "public key:     %s\n"
           "records:        %" PRIu64 "\n",
           file, info.file_size, info.version, key, info.count);
    if (!info.have_head) {
        printf("signed head:    MISSING (%s)\n", st.why);
        return KC_EX_DATAERR;
    }
    char ts[64], root[2 * KC_MERKLE_HASH_LEN + 1], sig[2 * KC_MERKLE_SIG_LEN + 1];
    kc_cli_time_utc(info.head.timestamp_ns, ts, sizeof ts);
    kc_merkle_hex(info.head.root, sizeof info.head.root, root);
    kc_merkle_hex(info.head.signature, sizeof info.head.signature, sig);
    printf("head size:      %" PRIu64 "%s\n"
           "head time:      %s (%" PRIu64 " ns)\n"
           "head root:      %s\n"
           "head signature: %s\n"
           "                %s with the header's key\n"
           "(records not checked: kc-audit verify --file %s --key PUBHEX)\n",
           info.head.tree_size, info.head.tree_size == info.count ? "" : " (DIFFERS FROM RECORDS)",
           ts, info.head.timestamp_ns, root, sig, info.head_sig_ok ? "valid" : "INVALID", file);
    return info.head_sig_ok && info.head.tree_size == info.count ? 0 : KC_EX_DATAERR;
}

int main(int argc, char **argv)
{
    kc_log_set_ident(PROG);
    enum { O_STORE = 256, O_OUT, O_SIZE };
    static const struct option longopts[] = {
        {"store", required_argument, NULL, O_STORE},
        {"out", required_argument, NULL, O_OUT},
        {"size", required_argument, NULL, O_SIZE},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int mrc = kc_conf_main(PROG, "log", longopts, &argc, &argv);
    if (mrc)
        return mrc;
    s_opts_t o = {.store = S_DEFAULT_STORE};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":qhV", longopts, NULL)) != -1) {
        switch (c) {
        case O_STORE: o.store = optarg; break;
        case O_OUT: o.out = optarg; break;
        case O_SIZE:
            if (kc_cli_parse_u64(optarg, &o.size) != 0)
                return kc_cli_usage_error(PROG, "--size: '%s' is not a tree size", optarg);
            o.have_size = true;
            break;
        case 'q': o.quiet = true; break;
        case 'h': s_usage(stdout); return 0;
        case 'V': printf(PROG " %s\n", KC_VERSION); return 0;
        case ':':
            return kc_cli_usage_error(PROG, "option '%s' needs an argument", argv[optind - 1]);
        default: return kc_cli_usage_error(PROG, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (kc_conf_main_check_done())
        return 0;
    if (optind >= argc)
        return kc_cli_usage_error(PROG, "%s", "no command given (export or info)");
    const char *name = argv[optind];
    o.argc = argc - optind - 1;
    o.argv = argv + optind + 1;
    if (sodium_init() < 0) {
        fprintf(stderr, PROG ": libsodium cannot be initialised\n");
        return KC_EX_SOFTWARE;
    }
    if (strcmp(name, "export") == 0)
        return s_export(&o);
    if (strcmp(name, "info") == 0)
        return s_info(&o);
    return kc_cli_usage_error(PROG, "unknown command '%s'", name);
}
