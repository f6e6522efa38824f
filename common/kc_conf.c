/* kc_conf.c - config files (kc_conf.h): inih's parser, fed by a reader of ours
 * that counts lines (Debian's libinih calls the handler without the line
 * number), so every error names FILE:LINE.
 *
 * The reader hands inih one whole line at a time and screens it first: a
 * [section] line, a line without "KEY =" and an over-long line are recorded as
 * errors and replaced by an empty line, so inih never sees them and every
 * error of the file is reported, not only the first. The handler turns
 * "key = value" into "--key=value" (one argv element, so an error about it,
 * whatever getopt_long() reports it through, points into that string and can
 * be traced back to its line by kc_conf_blame()).
 */
#include "kc_conf.h"

#include <errno.h>
#include <stdarg.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define S_MAX_LINE 4000 /* bytes of one line, newline excluded */

static const char *const s_refused[] = {"help", "version", "config", "no-config", "check-config"};

typedef struct {
    const char *prog;
    const char *path;
    const struct option *longopts;
    FILE *f;
    char *buf; /* getline's buffer */
    size_t cap;
    int lineno;
    int errors;
    char **args; /* "--key=value" */
    int *lines;
    int n, nalloc;
    int settings;
    int oom;
} s_parse_t;

static const kc_conf_args_t *s_last = NULL;
static void (*s_reporter)(const char *msg, void *ctx) = NULL;
static void *s_reporter_ctx = NULL;

void kc_conf_set_reporter(void (*fn)(const char *msg, void *ctx), void *ctx)
{
    s_reporter = fn;
    s_reporter_ctx = ctx;
}

static void s_report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void s_report(const char *fmt, ...)
{
    char msg[4600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (s_reporter)
        s_reporter(msg, s_reporter_ctx);
    else
        fprintf(stderr, "%s\n", msg);
}

static void s_error(s_parse_t *p, const char *fmt, const char *a, const char *b)
{
    char why[4200];
    snprintf(why, sizeof why, fmt, a ? a : "", b ? b : "");
    s_report("%s:%d: %s", p->path, p->lineno, why);
    p->errors++;
}

/* fgets-style reader for ini_parse_stream: one whole line, screened. */
static char *s_reader(char *str, int num, void *stream)
{
    s_parse_t *p = stream;
    ssize_t len = getline(&p->buf, &p->cap, p->f);
    if (len < 0)
        return NULL;
    p->lineno++;
    while (len > 0 && (p->buf[len - 1] == '\n' || p->buf[len - 1] == '\r'))
        p->buf[--len] = '\0';
    const char *s = p->buf;
    if (p->lineno == 1 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
        (unsigned char)s[2] == 0xBF)
        s += 3; /* a UTF-8 byte-order mark */
    while (*s == ' ' || *s == '\t')
        s++;
    bool bad = false;
    if (strlen(s) != (size_t)(len - (s - p->buf))) {
        s_error(p, "a NUL byte in the line%s%s", NULL, NULL);
        bad = true;
    } else if (len > S_MAX_LINE || len + 2 > num) {
        s_error(p, "line too long (more than 4000 bytes)%s%s", NULL, NULL);
        bad = true;
    } else if (*s == '[') {
        s_error(p, "sections are not allowed ('%s'): write KEY = VALUE lines only%s", s, NULL);
        bad = true;
    } else if (*s && *s != '#' && *s != ';') {
        size_t k = strcspn(s, "=:");
        if (s[k] != '=') {
            s_error(p, "expected KEY = VALUE, not '%s'%s", s, NULL);
            bad = true;
        } else if (k == 0) {
            s_error(p, "a key is missing before '='%s%s", NULL, NULL);
            bad = true;
        }
    }
    if (bad) {
        str[0] = '\n';
        str[1] = '\0';
        return str;
    }
    memcpy(str, s, strlen(s));
    str[strlen(s)] = '\n';
    str[strlen(s) + 1] = '\0';
    return str;
}

static int s_push(s_parse_t *p, char *arg)
{
    if (!arg) {
        p->oom = 1;
        return 0;
    }
    if (p->n == p->nalloc) {
        int na = p->nalloc ? p->nalloc * 2 : 16;
        char **a = realloc(p->args, (size_t)na * sizeof *a);
        if (a)
            p->args = a;
        int *l = realloc(p->lines, (size_t)na * sizeof *l);
        if (l)
            p->lines = l;
        if (!a || !l) {
            free(arg);
            p->oom = 1;
            return 0;
        }
        p->nalloc = na;
    }
    p->args[p->n] = arg;
    p->lines[p->n] = p->lineno;
    p->n++;
    return 1;
}

/* 1 true, 0 false, -1 neither. */
static int s_bool(const char *v)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(v, yes[i]) == 0)
            return 1;
        if (strcasecmp(v, no[i]) == 0)
            return 0;
    }
    return -1;
}

static int s_handler(void *user, const char *section, const char *name, const char *value)
{
    s_parse_t *p = user;
    (void)section; /* [section] lines never reach inih (s_reader) */
    for (size_t i = 0; i < sizeof s_refused / sizeof *s_refused; i++)
        if (strcmp(name, s_refused[i]) == 0) {
            s_error(p, "'%s' cannot be set in a config file%s", name, NULL);
            return 1;
        }
    const struct option *o = NULL;
    for (const struct option *q = p->longopts; q && q->name; q++)
        if (strcmp(q->name, name) == 0) {
            o = q;
            break;
        }
    if (!o) {
        s_error(p, "unknown key '%s' (keys are %s's long options without '--')", name, p->prog);
        return 1;
    }
    const char *v = value ? value : "";
    if (o->has_arg == no_argument) {
        int b = s_bool(v);
        if (b < 0) {
            s_error(p, "'%s' is a flag: its value is true or false (yes/no, on/off, 1/0), not '%s'",
                    name, v);
            return 1;
        }
        p->settings++;
        if (b) {
            char *arg = NULL;
            if (asprintf(&arg, "--%s", name) < 0)
                arg = NULL;
            return s_push(p, arg);
        }
        return 1;
    }
    if (!*v && o->has_arg == required_argument) {
        s_error(p, "'%s' needs a value%s", name, NULL);
        return 1;
    }
    p->settings++;
    char *arg = NULL;
    if ((*v ? asprintf(&arg, "--%s=%s", name, v) : asprintf(&arg, "--%s", name)) < 0)
        arg = NULL;
    return s_push(p, arg);
}

const char *kc_conf_default_path(const char *name, char *buf, size_t cap)
{
    const char *dir = getenv("KCPIPE_CONFIG_DIR");
    if (!dir || !*dir)
        dir = KC_CONF_DIR;
    snprintf(buf, cap, "%s/%s.conf", dir, name);
    return buf;
}

static const struct option *s_find(const struct option *longopts, const char *name, size_t len)
{
    for (const struct option *q = longopts; q && q->name; q++)
        if (strlen(q->name) == len && strncmp(q->name, name, len) == 0)
            return q;
    return NULL;
}

int kc_conf_merge(const char *prog, const char *name, const struct option *longopts, int argc,
                  char **argv, kc_conf_args_t *out)
{
    memset(out, 0, sizeof *out);
    const char *config = NULL;
    bool no_config = false;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!rest) {
        fprintf(stderr, "%s: out of memory\n", prog);
        return KC_EX_CONFIG;
    }
    int nrest = 0;
    bool dashdash = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (dashdash || strncmp(a, "--", 2) != 0) {
            rest[nrest++] = argv[i];
            continue;
        }
        if (strcmp(a, "--") == 0) {
            dashdash = true;
            rest[nrest++] = argv[i];
            continue;
        }
        const char *eq = strchr(a, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        if (len == 6 && strncmp(a + 2, "config", 6) == 0) {
            if (eq)
                config = eq + 1;
            else if (i + 1 < argc)
                config = argv[++i];
            if (!config || !*config) {
                s_report("%s: --config needs a FILE\nTry '%s --help'.", prog, prog);
                free(rest);
                return 64;
            }
            continue;
        }
        if (!eq && strcmp(a + 2, "no-config") == 0) {
            no_config = true;
            continue;
        }
        if (!eq && strcmp(a + 2, "check-config") == 0) {
            out->check = true;
            continue;
        }
        rest[nrest++] = argv[i];
        const struct option *o = s_find(longopts, a + 2, len);
        if (o && o->has_arg == required_argument && !eq && i + 1 < argc)
            rest[nrest++] = argv[++i]; /* its value, whatever it looks like */
    }
    if (config && no_config) {
        s_report("%s: --config and --no-config exclude each other\nTry '%s --help'.", prog, prog);
        free(rest);
        return 64;
    }

    char defpath[4096];
    const char *path = config;
    FILE *f = NULL;
    if (!no_config) {
        if (!path)
            path = kc_conf_default_path(name, defpath, sizeof defpath);
        f = fopen(path, "r");
        if (!f && (config || errno != ENOENT)) {
            s_report("%s: cannot read the config file: %s", path, strerror(errno));
            free(rest);
            return KC_EX_CONFIG;
        }
    }
    s_parse_t p = {.prog = prog, .path = path, .longopts = longopts, .f = f};
    if (f) {
        ini_allow_multiline = false;        /* an indented line is a line like any other */
        ini_inline_comment_prefixes = ";#"; /* after whitespace: "key = v   # why" */
        ini_allow_inline_comments = true;
        ini_allow_no_value = false;
        ini_stop_on_first_error = false;
        ini_use_stack = false;
        ini_allow_realloc = false;
        ini_max_line = S_MAX_LINE + 3;
        ini_initial_alloc = S_MAX_LINE + 3;
        int rc = ini_parse_stream(s_reader, &p, s_handler, &p);
        if (ferror(f)) {
            s_report("%s: cannot read the config file: %s", path, strerror(errno));
            p.errors++;
        } else if (rc > 0 && p.errors == 0) {
            s_report("%s:%d: cannot parse this line", path, rc);
            p.errors++;
        } else if (rc < 0) {
            p.oom = 1;
        }
        free(p.buf);
        fclose(f);
        if (p.oom) {
            s_report("%s: out of memory reading %s", prog, path);
            p.errors++;
        }
    }
    if (p.errors) {
        for (int i = 0; i < p.n; i++)
            free(p.args[i]);
        free(p.args);
        free(p.lines);
        free(rest);
        return KC_EX_CONFIG;
    }
    out->argc = 1 + p.n + nrest;
    out->argv = calloc((size_t)out->argc + 1, sizeof *out->argv);
    out->line = calloc((size_t)out->argc + 1, sizeof *out->line);
    out->orig = calloc((size_t)p.n + 1, sizeof *out->orig);
    out->path = f ? strdup(path) : NULL;
    if (!out->argv || !out->line || !out->orig || (f && !out->path)) {
        for (int i = 0; i < p.n; i++)
            free(p.args[i]);
        free(p.args);
        free(p.lines);
        free(rest);
        free(out->argv);
        free(out->line);
        free(out->orig);
        free(out->path);
        memset(out, 0, sizeof *out);
        fprintf(stderr, "%s: out of memory\n", prog);
        return KC_EX_CONFIG;
    }
    out->argv[0] = argv[0];
    for (int i = 0; i < p.n; i++) {
        out->argv[1 + i] = p.args[i];
        out->orig[i] = p.args[i];
        out->line[1 + i] = p.lines[i];
    }
    for (int i = 0; i < nrest; i++)
        out->argv[1 + p.n + i] = rest[i];
    out->file_args = p.n;
    out->settings = p.settings;
    free(p.args);
    free(p.lines);
    free(rest);
    s_last = out;
    return 0;
}

static int s_file_index(const kc_conf_args_t *a, const char *arg)
{
    if (!a || !arg)
        return -1;
    for (int i = 0; i < a->file_args; i++) {
        const char *p = a->orig[i];
        if (arg >= p && arg <= p + strlen(p))
            return i;
    }
    return -1;
}

const char *kc_conf_origin(const kc_conf_args_t *a, int i)
{
    static char buf[4200];
    if (!a || i < 0 || i >= a->argc)
        return NULL;
    int k = s_file_index(a, a->argv[i]);
    if (k < 0)
        return NULL;
    snprintf(buf, sizeof buf, "%s:%d", a->path, a->line[1 + k]);
    return buf;
}

const char *kc_conf_blame(const char *arg)
{
    static char buf[4200];
    int k = s_file_index(s_last, arg);
    if (k < 0)
        return "";
    snprintf(buf, sizeof buf, "%s:%d: ", s_last->path, s_last->line[1 + k]);
    return buf;
}

int kc_conf_usage_exit(const char *arg, int code)
{
    if (s_last && (s_last->check || s_file_index(s_last, arg) >= 0))
        return KC_EX_CONFIG;
    return code;
}

bool kc_conf_check_done(const kc_conf_args_t *a)
{
    if (!a || !a->check)
        return false;
    if (a->path)
        printf("%s: ok, %d setting%s\n", a->path, a->settings, a->settings == 1 ? "" : "s");
    else
        printf("%s: no config file, command line ok\n",
               a->argv && a->argv[0]
                   ? (strrchr(a->argv[0], '/') ? strrchr(a->argv[0], '/') + 1 : a->argv[0])
                   : "kcpipe");
    fflush(stdout);
    return true;
}

void kc_conf_args_free(kc_conf_args_t *a)
{
    if (!a)
        return;
    if (s_last == a)
        s_last = NULL;
    for (int i = 0; i < a->file_args; i++)
        free(a->orig[i]);
    free(a->orig);
    free(a->argv);
    free(a->line);
    free(a->path);
    memset(a, 0, sizeof *a);
}

static kc_conf_args_t s_main_args; /* kc_conf_main's: optarg points into them until exit */

int kc_conf_main(const char *prog, const char *name, const struct option *longopts, int *argc,
                 char ***argv)
{
    /* into the static itself: kc_conf_blame() keeps a pointer to it */
    int rc = kc_conf_merge(prog, name, longopts, *argc, *argv, &s_main_args);
    if (rc)
        return rc;
    *argc = s_main_args.argc;
    *argv = s_main_args.argv;
    return 0;
}

bool kc_conf_main_check_done(void)
{
    return kc_conf_check_done(&s_main_args);
}
