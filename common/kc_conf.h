/* kc_conf.h - configuration files: every option of a program, in a file.
 *
 * DESIGN
 * A program's config file (/etc/kcpipe/<name>.conf, e.g. aggregator.conf for
 * kc-aggregator) holds the program's own long options, one per line, in INI
 * form parsed by inih (libinih, Debian's package; lines are counted by our
 * reader, so every error names FILE:LINE):
 *     # comment
 *     listen = tcp://0.0.0.0:5555
 *     store = /var/lib/kcpipe
 *     insecure = true          # a flag: true/false, yes/no, on/off, 1/0
 *     region = south           # a repeatable option may appear on several lines
 * No sections (a [section] line is an error). kc_conf_merge() turns the file
 * into arguments placed BEFORE the command line's own, so the program's normal
 * getopt parser checks them and a flag given on the command line wins (the
 * later occurrence of a single-valued option replaces the earlier; repeatable
 * options add up). Where an argument came from is kept, so a parser error on an
 * argument from the file can be reported as FILE:LINE (kc_conf_origin()).
 * Which file: --config FILE (must exist), else --no-config (none), else the
 * default path if it exists (KCPIPE_CONFIG_DIR overrides /etc/kcpipe for tests).
 * --check-config: parse the file and the command line, report every error with
 * FILE:LINE, exit 0 (and print "FILE: ok, N settings") or 78 (EX_CONFIG).
 *
 * Details (ops): a value is the rest of the line after "=", trimmed; an inline
 * comment starts at " #" or " ;"; a line is at most 4000 bytes; a flag set to
 * false adds nothing (flags have no negative form); a single-valued option
 * given twice in the file keeps the later line. Keys refused in a file: help,
 * version, config, no-config, check-config. --config and --no-config together,
 * or --config without FILE, are usage errors (exit 64).
 */
#ifndef KC_CONF_H
#define KC_CONF_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>

#define KC_CONF_DIR  "/etc/kcpipe"
#define KC_EX_CONFIG 78

typedef struct {
    int argc;
    char **argv;   /* argv[0], the file's arguments, then the command line's (owned) */
    int file_args; /* how many arguments came from the file (after argv[0]) */
    char *path;    /* the file read, or NULL (owned) */
    int *line;     /* line of each argv entry that came from the file, else 0 (owned) */
    bool check;    /* --check-config was given (removed from argv) */
    char **orig;   /* the file's argument strings as built (owned; getopt may permute argv) */
    int settings;  /* settings read from the file (a flag set to false counts, adds no argument) */
} kc_conf_args_t;

/* Build out from the command line and the program's config file. `name` is the
 * file's base name ("aggregator" -> KC_CONF_DIR/aggregator.conf); `longopts` is
 * the program's getopt_long table (its keys are the option names; help,
 * version and the like are refused in a file). --config,
 * --no-config and --check-config are consumed here and never reach the
 * program's parser. Returns 0, or KC_EX_CONFIG after printing "FILE:LINE:
 * reason" (unknown key, value missing for an option that takes one, bad flag
 * value, [section], unreadable file) to stderr. */
int kc_conf_merge(const char *prog, const char *name, const struct option *longopts, int argc,
                  char **argv, kc_conf_args_t *out);
/* "FILE:LINE" of argv[i] if it came from the file, else NULL (static buffer). */
/* kc_conf_merge() for a program's main(): the merged arguments are kept for
 * the life of the process (getopt's optarg points into them) and replace
 * *argc and *argv. Call once per process. Returns 0, or the exit code for
 * main() to return. */
int kc_conf_main(const char *prog, const char *name, const struct option *longopts, int *argc,
                 char ***argv);
const char *kc_conf_origin(const kc_conf_args_t *a, int i);
void kc_conf_args_free(kc_conf_args_t *a);

/* For a program's usage-error path (refinement by ops). kc_conf_merge()
 * remembers the arguments it built last (process-wide, until
 * kc_conf_args_free()). Given a pointer the program got from getopt_long()
 * (optarg, argv[optind - 1], or a value it kept from one), kc_conf_blame()
 * returns "FILE:LINE: " when that string lies in an argument that came from
 * the config file, else "". So an error about a value read from the file
 * names its line; errors about the command line, or found after parsing
 * (optarg is NULL then), name none. */
const char *kc_conf_blame(const char *arg);
/* The exit code of a usage error about `arg`: KC_EX_CONFIG when `arg` came
 * from the file or --check-config is in force, else `code` (64). */
int kc_conf_usage_exit(const char *arg, int code);
/* Call after the program's parser accepted everything. Without
 * --check-config returns false (go on). With it prints "FILE: ok, N settings"
 * (or "PROG: no config file, command line ok") to stdout and returns true: the
 * program exits 0 without doing anything else. */
bool kc_conf_check_done(const kc_conf_args_t *a);
/* kc_conf_check_done() on the arguments of kc_conf_main(). */
bool kc_conf_main_check_done(void);
/* Where kc_conf_merge() reports errors: fn(msg) with one message ("FILE:LINE:
 * reason", no newline) instead of stderr (a daemon reloading its config logs
 * them); NULL restores stderr. */
void kc_conf_set_reporter(void (*fn)(const char *msg, void *ctx), void *ctx);
/* The config file's default path for `name` ("$KCPIPE_CONFIG_DIR or
 * /etc/kcpipe" + "/" + name + ".conf") into buf. */
const char *kc_conf_default_path(const char *name, char *buf, size_t cap);

#endif
