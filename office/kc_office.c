/* kc_office.c - kc-office: the field-office portal (issue 17, first step:
 * accounts, sessions and the transport rules; the upload, preview and send
 * pages come next).
 *
 * DESIGN
 *   kc-office [options]                 serve the portal (kc_office_http.h)
 *   kc-office [options] user ACTION ... manage the accounts in the data
 *                                       directory's LMDB (kc_office_db.h)
 * Options come from /etc/kcpipe/office.conf too (kc_conf.h: the command
 * line wins; --config, --no-config, --check-config). An office is declared
 * by `office = ID:PROVINCES:NAME` (PROVINCES two-digit codes joined by ',')
 * and completed by office-centre, office-spool and office-producer lines
 * (ID=VALUE), which every office needs, and optionally office-server-key +
 * office-cert (CURVE) and office-api (+ office-api-token) lines. In serve
 * mode the producer side (kc_office_send.h: one producer and spool per
 * office, one sender thread) starts after the database opens and stops
 * after the web server, so no request is left with a stopped sender.
 * Transport rule (as the aggregator refuses plaintext beyond loopback):
 * plain HTTP only on 127.0.0.0/8 and ::1; on any other address kc-office
 * exits 78 unless tls-cert and tls-key are set, and serves HTTPS with them
 * (libmicrohttpd's MHD_USE_TLS, GnuTLS). Given, they are used on loopback
 * too.
 * Passwords: read from the terminal without echo (twice), or one line from
 * stdin with --password-stdin; 8-256 bytes; stored as crypto_pwhash_str
 * (argon2id, interactive limits). The process runs with umask 077.
 * Exit: 0 done, 1 a user command failed (no such user, exists), 64 usage,
 * 69 cannot start (port, database, no TLS in libmicrohttpd), 70 internal,
 * 78 configuration (including the TLS rule).
 */
#include "kc_office.h"
#include "kc_office_db.h"
#include "kc_office_http.h"
#include "kc_office_send.h"

#include "kc_conf.h"
#include "kc_err.h"
#include "kc_i18n.h"
#include "kc_log.h"
#include "kc_ref.h"
#include "kc_service.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <microhttpd.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define EX_FAIL_        1
#define EX_USAGE_       64
#define EX_UNAVAILABLE_ 69
#define EX_SOFTWARE_    70

#define S_DEFAULT_LISTEN "127.0.0.1:8490"
#define S_DEFAULT_DATA   "/var/lib/kcpipe/office"
#define S_PW_MIN         8
#define S_PW_MAX         256

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: kc-office [options]\n"
            "       kc-office [options] user add|passwd|disable|enable|list [--office ID]\n"
            "                 [--user NAME] [--password-stdin]\n"
            "Serve the field-office portal: clerks of each office sign in with a browser.\n"
            "\n"
            "  --listen [ADDR:]PORT   address to serve on (default %s; IPv6 as\n"
            "                         [::1]:PORT; PORT 0 = any free port); beyond loopback\n"
            "                         only with --tls-cert and --tls-key\n"
            "  --data DIR             the portal's database: accounts, sessions (default\n"
            "                         %s)\n"
            "  --tls-cert FILE        TLS certificate chain (PEM): serve HTTPS\n"
            "  --tls-key FILE         the certificate's private key (PEM, unencrypted)\n"
            "  --office ID:PROVINCES:NAME\n"
            "                         an office this portal serves (repeatable): ID [a-z0-9_-],\n"
            "                         PROVINCES two-digit codes joined by ',', NAME shown\n"
            "                         to its users\n"
            "  --office-centre ID=EP  the centre's aggregator endpoint for office ID\n"
            "                         (tcp://HOST:PORT)\n"
            "  --office-spool ID=DIR  office ID's spool directory (an absolute path)\n"
            "  --office-producer ID=PRODUCER\n"
            "                         office ID's producer id at the centre\n"
            "  --office-server-key ID=FILE\n"
            "                         the aggregator's public certificate (kc-keygen) for\n"
            "                         office ID: send over CURVE (with --office-cert)\n"
            "  --office-cert ID=FILE  office ID's secret certificate (kc-keygen's\n"
            "                         NAME_secret), registered at the centre\n"
            "  --office-api ID=URL    the centre's HTTP API for office ID's totals\n"
            "                         (http://HOST:PORT or https://...)\n"
            "  --office-api-token ID=FILE\n"
            "                         a file holding a read-only token for that API\n"
            "  --ready-file FILE      once serving, write the portal's URL to FILE\n"
            "  --log-level L          error|warn|info|debug (default info)\n"
            "  --log-target T         auto|stderr|journal|syslog (default auto)\n"
            "  --config FILE          read options from FILE (default %s/office.conf if it\n"
            "                         exists; KCPIPE_CONFIG_DIR overrides the directory)\n"
            "  --no-config            read no config file\n"
            "  --check-config         check the config file and the options, print\n"
            "                         'FILE: ok, N settings' and exit 0, or exit 78\n"
            "  -h, --help             show this help and exit\n"
            "  -V, --version          show the version and exit\n"
            "\n"
            "user ACTION: add (asks for the password), passwd (a new password; ends the\n"
            "user's sessions), disable (the user cannot sign in; its sessions end), enable,\n"
            "list (every user of --office, or of every office). Options after ACTION:\n"
            "  --office ID            the user's office (may be left out with one office)\n"
            "  --user NAME            the user ([A-Za-z0-9._-], 1-64)\n"
            "  --password-stdin       read the password from the first line of stdin\n"
            "                         instead of the terminal (for scripts)\n"
            "\n"
            "Exit: 0 done, 1 the user command failed, 64 usage, 69 cannot start,\n"
            "70 internal, 78 configuration (also: plain HTTP beyond loopback).\n",
            S_DEFAULT_LISTEN, S_DEFAULT_DATA, KC_CONF_DIR);
}

static const struct option s_longopts[] = {
    {"listen", required_argument, NULL, 'l'},
    {"data", required_argument, NULL, 'd'},
    {"tls-cert", required_argument, NULL, 'c'},
    {"tls-key", required_argument, NULL, 'k'},
    {"office", required_argument, NULL, 'o'},
    {"office-centre", required_argument, NULL, 'C'},
    {"office-spool", required_argument, NULL, 'S'},
    {"office-producer", required_argument, NULL, 'P'},
    {"office-server-key", required_argument, NULL, 'K'},
    {"office-cert", required_argument, NULL, 'E'},
    {"office-api", required_argument, NULL, 'A'},
    {"office-api-token", required_argument, NULL, 'B'},
    {"ready-file", required_argument, NULL, 'r'},
    {"log-level", required_argument, NULL, 'L'},
    {"log-target", required_argument, NULL, 'T'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

typedef struct {
    const char *listen, *data, *cert, *key, *ready;
    char addr[128];
    unsigned port;
    kc_office_t offices[KC_OFFICE_MAX_OFFICES];
    size_t n_offices;
    kc_log_level_t level;
    kc_log_target_t target;
    int user_argi; /* index of "user" in argv, or 0 */
} s_cfg_t;

static int s_bad(int code, const char *fmt, const char *arg)
{
    char msg[1200];
    snprintf(msg, sizeof msg, fmt, arg);
    if (code == KC_EX_CONFIG) { /* a configuration to change, not a usage to look up */
        fprintf(stderr, "%skc-office: %s\n", kc_conf_blame(arg), msg);
        return KC_EX_CONFIG;
    }
    fprintf(stderr, "%skc-office: %s\nTry 'kc-office --help'.\n", kc_conf_blame(arg), msg);
    return kc_conf_usage_exit(arg, code);
}

/* [ADDR:]PORT, [v6]:PORT. */
static int s_parse_listen(const char *arg, char *addr, size_t cap, unsigned *port)
{
    const char *p = arg;
    snprintf(addr, cap, "127.0.0.1");
    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');
        if (!close || close[1] != ':' || (size_t)(close - arg - 1) >= cap)
            return -1;
        snprintf(addr, cap, "%.*s", (int)(close - arg - 1), arg + 1);
        p = close + 2;
    } else if (strchr(arg, ':')) {
        const char *colon = strrchr(arg, ':');
        if ((size_t)(colon - arg) >= cap || colon == arg)
            return -1;
        snprintf(addr, cap, "%.*s", (int)(colon - arg), arg);
        p = colon + 1;
    }
    if (strcmp(addr, "localhost") == 0)
        snprintf(addr, cap, "127.0.0.1");
    char *end;
    errno = 0;
    unsigned long v = strtoul(p, &end, 10);
    if (!*p || *p == '-' || errno || *end || v > 65535)
        return -1;
    unsigned char buf[16];
    if (inet_pton(AF_INET, addr, buf) != 1 && inet_pton(AF_INET6, addr, buf) != 1)
        return -1;
    *port = (unsigned)v;
    return 0;
}

static bool s_is_loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    return inet_pton(AF_INET6, addr, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* --office ID:PROVINCES:NAME */
static int s_parse_office(s_cfg_t *cfg, char *arg)
{
    if (cfg->n_offices == KC_OFFICE_MAX_OFFICES)
        return s_bad(EX_USAGE_, "--office: at most 64 offices ('%s')", arg);
    kc_office_t *of = &cfg->offices[cfg->n_offices];
    memset(of, 0, sizeof *of);
    char *c1 = strchr(arg, ':');
    char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c1 || !c2 || !c2[1])
        return s_bad(EX_USAGE_,
                     "--office '%s' is not ID:PROVINCES:NAME (e.g. "
                     "hcm:79:Sở Công Thương TP. Hồ Chí Minh)",
                     arg);
    if ((size_t)(c1 - arg) > KC_OFFICE_ID_MAX)
        return s_bad(EX_USAGE_, "--office '%s': the id is [a-z0-9_-], 1-32 characters", arg);
    memcpy(of->id, arg, (size_t)(c1 - arg));
    if (!kc_office_id_ok(of->id))
        return s_bad(EX_USAGE_, "--office '%s': the id is [a-z0-9_-], 1-32 characters", arg);
    for (size_t i = 0; i < cfg->n_offices; i++)
        if (strcmp(cfg->offices[i].id, of->id) == 0)
            return s_bad(EX_USAGE_, "--office '%s': this office id is declared twice", arg);
    const char *p = c1 + 1;
    while (p < c2) {
        const char *comma = memchr(p, ',', (size_t)(c2 - p));
        const char *end = comma ? comma : c2;
        char code[8];
        if (end - p < 1 || end - p > 2 || of->n_provinces == KC_OFFICE_MAX_PROVINCES)
            return s_bad(EX_USAGE_,
                         "--office '%s': PROVINCES are 1-16 two-digit codes joined "
                         "by ','",
                         arg);
        snprintf(code, sizeof code, "%.*s", (int)(end - p), p);
        int v = kc_ref_parse_code(code);
        uint8_t units[2];
        if (v < 0 || kc_ref_units_of(v, units) == 0)
            return s_bad(EX_USAGE_,
                         "--office '%s': an unknown province code (see data/provinces.tsv)", arg);
        for (size_t i = 0; i < of->n_provinces; i++)
            if (of->provinces[i] == v)
                return s_bad(EX_USAGE_, "--office '%s': a province code given twice", arg);
        of->provinces[of->n_provinces++] = v;
        p = end + (comma ? 1 : 0);
        if (comma && p == c2)
            return s_bad(EX_USAGE_, "--office '%s': PROVINCES end with ','", arg);
    }
    if (of->n_provinces == 0)
        return s_bad(EX_USAGE_, "--office '%s': give at least one province code", arg);
    of->name = c2 + 1;
    cfg->n_offices++;
    return -1;
}

typedef struct {
    const char *arg;
    char opt;
} s_extra_t;

static bool s_producer_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64)
        return false;
    for (; *s; s++)
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') ||
              *s == '_' || *s == '-' || *s == '.'))
            return false;
    return true;
}

/* --office-centre/-spool/-producer/-server-key/-cert/-api/-api-token
 * ID=VALUE, after every --office is known. */
static int s_apply_extra(s_cfg_t *cfg, const s_extra_t *e)
{
    static const char opts[] = "CSPKEAB";
    const char *names[] = {"--office-centre",     "--office-spool", "--office-producer",
                           "--office-server-key", "--office-cert",  "--office-api",
                           "--office-api-token"};
    int which = (int)(strchr(opts, e->opt) - opts);
    char fmt[200];
    const char *eq = strchr(e->arg, '=');
    if (!eq || eq == e->arg || !eq[1]) {
        snprintf(fmt, sizeof fmt, "%s '%%s' is not ID=VALUE", names[which]);
        return s_bad(EX_USAGE_, fmt, e->arg);
    }
    kc_office_t *of = NULL;
    for (size_t i = 0; i < cfg->n_offices; i++)
        if (strlen(cfg->offices[i].id) == (size_t)(eq - e->arg) &&
            memcmp(cfg->offices[i].id, e->arg, (size_t)(eq - e->arg)) == 0)
            of = &cfg->offices[i];
    if (!of) {
        snprintf(fmt, sizeof fmt, "%s '%%s': no --office has this id", names[which]);
        return s_bad(EX_USAGE_, fmt, e->arg);
    }
    const char *v = eq + 1;
    const char **slots[] = {&of->centre, &of->spool, &of->producer,      &of->server_key,
                            &of->cert,   &of->api,   &of->api_token_file};
    const char **slot = slots[which];
    if (*slot) {
        snprintf(fmt, sizeof fmt, "%s '%%s': given twice for this office", names[which]);
        return s_bad(EX_USAGE_, fmt, e->arg);
    }
    bool ok = which == 0   ? (strncmp(v, "tcp://", 6) == 0 && strrchr(v, ':') > v + 6)
              : which == 1 ? v[0] == '/'
              : which == 2 ? s_producer_ok(v)
              : which == 5 ? (strncmp(v, "http://", 7) == 0 && v[7]) ||
                                 (strncmp(v, "https://", 8) == 0 && v[8])
                           : true; /* a file: read when used */
    if (!ok) {
        snprintf(fmt, sizeof fmt, "%s '%%s': %s", names[which],
                 which == 0   ? "the endpoint is tcp://HOST:PORT"
                 : which == 1 ? "the spool directory is an absolute path"
                 : which == 2 ? "a producer id is [A-Za-z0-9._-], 1-64 characters"
                              : "the API is http://HOST:PORT or https://HOST:PORT");
        return s_bad(EX_USAGE_, fmt, e->arg);
    }
    *slot = v;
    return -1;
}

/* Returns -1 to go on, else the exit code. */
static int s_parse(int argc, char **argv, s_cfg_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->level = KC_LOG_INFO;
    cfg->target = KC_LOG_TARGET_AUTO;
    static s_extra_t extra[7 * KC_OFFICE_MAX_OFFICES + 8];
    size_t n_extra = 0;
    int c, rc;
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "+:hV", s_longopts, NULL)) != -1) {
        switch (c) {
        case 'l': cfg->listen = optarg; break;
        case 'd': cfg->data = optarg; break;
        case 'c': cfg->cert = optarg; break;
        case 'k': cfg->key = optarg; break;
        case 'r': cfg->ready = optarg; break;
        case 'o':
            if ((rc = s_parse_office(cfg, optarg)) >= 0)
                return rc;
            break;
        case 'C':
        case 'S':
        case 'P':
        case 'K':
        case 'E':
        case 'A':
        case 'B':
            if (n_extra == sizeof extra / sizeof *extra)
                return s_bad(EX_USAGE_, "too many office settings ('%s')", optarg);
            extra[n_extra++] = (s_extra_t){optarg, (char)c};
            break;
        case 'L':
            if (kc_log_parse_level(optarg, &cfg->level) != 0)
                return s_bad(EX_USAGE_, "--log-level: '%s' is not error, warn, info or debug",
                             optarg);
            break;
        case 'T':
            if (kc_log_parse_target(optarg, &cfg->target) != 0)
                return s_bad(EX_USAGE_, "--log-target: '%s' is not auto, stderr, journal or syslog",
                             optarg);
            break;
        case 'h': s_usage(stdout); return 0;
        case 'V': printf("kc-office %s\n", KC_VERSION); return 0;
        case ':': return s_bad(EX_USAGE_, "option '%s' needs an argument", argv[optind - 1]);
        default: return s_bad(EX_USAGE_, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc) {
        if (strcmp(argv[optind], "user") != 0)
            return s_bad(EX_USAGE_, "unexpected argument '%s' (the only command is 'user')",
                         argv[optind]);
        cfg->user_argi = optind;
    }
    for (size_t i = 0; i < n_extra; i++)
        if ((rc = s_apply_extra(cfg, &extra[i])) >= 0)
            return rc;
    if (cfg->n_offices == 0)
        return s_bad(KC_EX_CONFIG, "%s",
                     "no office configured: add 'office = ID:PROVINCES:NAME' (with office-centre, "
                     "office-spool and office-producer) to office.conf, or give --office");
    for (size_t i = 0; i < cfg->n_offices; i++) {
        const kc_office_t *of = &cfg->offices[i];
        const char *miss = !of->centre     ? "office-centre"
                           : !of->spool    ? "office-spool"
                           : !of->producer ? "office-producer"
                                           : NULL;
        if (miss) {
            char msg[200];
            snprintf(msg, sizeof msg, "office '%s' has no %s: add '%s = %s=...'", of->id, miss,
                     miss, of->id);
            return s_bad(KC_EX_CONFIG, "%s", msg);
        }
        if (!of->server_key != !of->cert) {
            char msg[200];
            snprintf(msg, sizeof msg,
                     "office '%s': office-server-key and office-cert go together (CURVE): set "
                     "both or neither",
                     of->id);
            return s_bad(KC_EX_CONFIG, "%s", msg);
        }
    }
    if (s_parse_listen(cfg->listen ? cfg->listen : S_DEFAULT_LISTEN, cfg->addr, sizeof cfg->addr,
                       &cfg->port) != 0)
        return s_bad(EX_USAGE_,
                     "--listen: '%s' is not [ADDR:]PORT (ADDR an IPv4 or IPv6 address, "
                     "PORT 0-65535)",
                     cfg->listen);
    if (!cfg->cert != !cfg->key)
        return s_bad(KC_EX_CONFIG, "%s", "tls-cert and tls-key go together: set both");
    if (!cfg->cert && !s_is_loopback(cfg->addr)) {
        char msg[600];
        snprintf(msg, sizeof msg,
                 "refusing to serve plain HTTP on %s: beyond loopback (127.0.0.1, ::1) kc-office "
                 "serves HTTPS only. Set tls-cert and tls-key (PEM files) in office.conf, or give "
                 "--tls-cert FILE --tls-key FILE",
                 cfg->addr);
        return s_bad(KC_EX_CONFIG, "%s", msg);
    }
    return -1;
}

/* ---- user commands ---- */

static int s_read_line(FILE *f, char *buf, size_t cap)
{
    if (!fgets(buf, (int)cap, f))
        return -1;
    size_t n = strlen(buf);
    bool whole = n && buf[n - 1] == '\n';
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    if (!whole && !feof(f)) { /* longer than the buffer */
        int ch;
        while ((ch = fgetc(f)) != EOF && ch != '\n')
            ;
        return -2;
    }
    return 0;
}

/* Prompt on the terminal with echo off. */
static int s_tty_password(const char *prompt, char *buf, size_t cap)
{
    FILE *tty = fopen("/dev/tty", "r+");
    if (!tty)
        return -1;
    struct termios old, quiet;
    int fd = fileno(tty);
    bool have = tcgetattr(fd, &old) == 0;
    if (have) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(fd, TCSAFLUSH, &quiet);
    }
    fputs(prompt, tty);
    fflush(tty);
    int rc = s_read_line(tty, buf, cap);
    if (have)
        tcsetattr(fd, TCSAFLUSH, &old);
    fputs("\n", tty);
    fclose(tty);
    return rc;
}

/* The new password into buf; 0 or an exit code. */
static int s_get_password(bool from_stdin, char *buf, size_t cap)
{
    int rc;
    if (from_stdin) {
        rc = s_read_line(stdin, buf, cap);
    } else {
        char again[S_PW_MAX + 2];
        rc = s_tty_password("Password: ", buf, cap);
        if (rc == -1) {
            fprintf(stderr, "kc-office: no terminal to read the password from; use "
                            "--password-stdin\n");
            return EX_USAGE_;
        }
        if (rc == 0 && s_tty_password("Password again: ", again, sizeof again) == 0 &&
            strcmp(buf, again) != 0) {
            sodium_memzero(again, sizeof again);
            fprintf(stderr, "kc-office: the two passwords differ; nothing changed\n");
            return EX_FAIL_;
        }
        sodium_memzero(again, sizeof again);
    }
    size_t n = rc == 0 ? strlen(buf) : 0;
    if (rc != 0 || n < S_PW_MIN || n > S_PW_MAX) {
        fprintf(stderr, "kc-office: a password is %d to %d bytes on one line; nothing changed\n",
                S_PW_MIN, S_PW_MAX);
        return EX_USAGE_;
    }
    return 0;
}

static void s_list_one(const kc_odb_user_t *u, void *ctx)
{
    (void)ctx;
    char when[32];
    time_t t = (time_t)u->created_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%s\t%s\t%s\t%s\n", u->office, u->user, u->disabled ? "disabled" : "enabled", when);
}

static int s_user(const s_cfg_t *cfg, int argc, char **argv)
{
    static const struct option uopts[] = {
        {"office", required_argument, NULL, 'o'},
        {"user", required_argument, NULL, 'u'},
        {"password-stdin", no_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };
    if (argc < 2)
        return s_bad(EX_USAGE_, "%s", "user: give an action: add, passwd, disable, enable, list");
    const char *action = argv[1];
    const char *office = NULL, *user = NULL;
    bool pw_stdin = false;
    int c;
    int uargc = argc - 1;
    char **uargv = argv + 1; /* [ACTION, options...]: getopt starts after ACTION */
    optind = 0;              /* a full reinitialisation */
    opterr = 0;
    while ((c = getopt_long(uargc, uargv, ":", uopts, NULL)) != -1) {
        switch (c) {
        case 'o': office = optarg; break;
        case 'u': user = optarg; break;
        case 'p': pw_stdin = true; break;
        case ':': return s_bad(EX_USAGE_, "option '%s' needs an argument", uargv[optind - 1]);
        default: return s_bad(EX_USAGE_, "user: unknown option '%s'", uargv[optind - 1]);
        }
    }
    if (optind < uargc)
        return s_bad(EX_USAGE_, "user: unexpected argument '%s'", uargv[optind]);
    bool list = strcmp(action, "list") == 0;
    bool add = strcmp(action, "add") == 0, passwd = strcmp(action, "passwd") == 0;
    if (!list && !add && !passwd && strcmp(action, "disable") != 0 && strcmp(action, "enable") != 0)
        return s_bad(EX_USAGE_, "user: unknown action '%s' (add, passwd, disable, enable, list)",
                     action);
    if (office) {
        bool known = false;
        for (size_t i = 0; i < cfg->n_offices; i++)
            known = known || strcmp(cfg->offices[i].id, office) == 0;
        if (!known)
            return s_bad(EX_USAGE_, "--office '%s': no such office in the configuration", office);
    } else if (!list) {
        if (cfg->n_offices != 1)
            return s_bad(EX_USAGE_, "%s", "user: give --office ID (this portal serves several)");
        office = cfg->offices[0].id;
    }
    if (!list && !user)
        return s_bad(EX_USAGE_, "user %s: give --user NAME", action);
    if (user && !kc_office_user_ok(user))
        return s_bad(EX_USAGE_,
                     "--user '%s': a user name is [A-Za-z0-9._-], 1-64 characters, "
                     "not starting with '.' or '-'",
                     user);
    /* the events a user sends name "OFFICE/USER" (Event.submitted_by: 1-64 bytes) */
    if (add && user && office && strlen(office) + 1 + strlen(user) > 64)
        return s_bad(EX_USAGE_,
                     "--user '%s': office id, '/' and user name together are at most 64 "
                     "characters (they name who sent each event); choose a shorter name",
                     user);
    if (pw_stdin && !add && !passwd)
        return s_bad(EX_USAGE_, "%s", "--password-stdin goes with add and passwd");
    char pw[S_PW_MAX + 2], hash[crypto_pwhash_STRBYTES];
    if (add || passwd) {
        int rc = s_get_password(pw_stdin, pw, sizeof pw);
        if (rc != 0) {
            sodium_memzero(pw, sizeof pw);
            return rc;
        }
        rc = crypto_pwhash_str(hash, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE);
        sodium_memzero(pw, sizeof pw);
        if (rc != 0) {
            fprintf(stderr, "kc-office: cannot hash the password (out of memory)\n");
            return EX_SOFTWARE_;
        }
    }
    kc_odb_t *db = NULL;
    if (kc_odb_open(&db, cfg->data ? cfg->data : S_DEFAULT_DATA) != 0) {
        fprintf(stderr,
                "kc-office: cannot open the portal's database in %s (see the message "
                "above); check --data and its permissions\n",
                cfg->data ? cfg->data : S_DEFAULT_DATA);
        return EX_UNAVAILABLE_;
    }
    int rc;
    if (list)
        rc = kc_odb_user_each(db, office, s_list_one, NULL);
    else if (add)
        rc = kc_odb_user_add(db, office, user, hash);
    else if (passwd)
        rc = kc_odb_user_passwd(db, office, user, hash);
    else
        rc = kc_odb_user_set_disabled(db, office, user, strcmp(action, "disable") == 0);
    kc_odb_close(&db);
    if (rc == KC_EBUSY) {
        fprintf(stderr,
                "kc-office: user %s/%s exists already; use 'user passwd' to change its "
                "password\n",
                office, user);
        return EX_FAIL_;
    }
    if (rc == KC_ENOTFOUND) {
        fprintf(stderr, "kc-office: no user %s/%s; 'user list' shows them, 'user add' adds one\n",
                office, user);
        return EX_FAIL_;
    }
    if (rc != 0) {
        fprintf(stderr, "kc-office: user %s failed: %s\n", action, kc_strerror(rc));
        return EX_UNAVAILABLE_;
    }
    if (!list)
        fprintf(stderr, "kc-office: user %s/%s %s%s\n", office, user,
                add                ? "added"
                : passwd           ? "has a new password"
                : action[0] == 'd' ? "disabled"
                                   : "enabled",
                passwd || action[0] == 'd' ? "; its sessions are ended" : "");
    return 0;
}

/* ---- the daemon ---- */

static char *s_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4097 > cap) {
            if (cap > (1u << 20)) { /* a PEM file is never this large */
                free(buf);
                fclose(f);
                errno = EFBIG;
                return NULL;
            }
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        size_t n = fread(buf + len, 1, 4096, f);
        len += n;
        if (n < 4096)
            break;
    }
    bool err = ferror(f);
    fclose(f);
    if (err) {
        free(buf);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

static int s_write_ready(const char *path, const char *url)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    fprintf(f, "%s\n", url);
    if (fclose(f) != 0 || rename(tmp, path) != 0)
        return -1;
    return 0;
}

static int s_serve(const s_cfg_t *cfg)
{
    if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES && cfg->cert) {
        kc_error("KC-OFF-012 this libmicrohttpd has no TLS support: HTTPS is impossible");
        return EX_UNAVAILABLE_;
    }
    char *cert = NULL, *key = NULL;
    if (cfg->cert) {
        cert = s_read_file(cfg->cert);
        key = cert ? s_read_file(cfg->key) : NULL;
        if (!cert || !key) {
            int e = errno;
            fprintf(stderr, "kc-office: cannot read %s: %s; check tls-cert and tls-key\n",
                    cert ? cfg->key : cfg->cert, strerror(e));
            free(cert);
            return KC_EX_CONFIG;
        }
    }
    const char *data = cfg->data ? cfg->data : S_DEFAULT_DATA;
    kc_odb_t *db = NULL;
    char uploads[4096];
    snprintf(uploads, sizeof uploads, "%s/uploads", data);
    if (kc_odb_open(&db, data) != 0 || (mkdir(uploads, 0700) != 0 && errno != EEXIST)) {
        if (db)
            fprintf(stderr, "kc-office: cannot create %s: %s\n", uploads, strerror(errno));
        kc_odb_close(&db);
        if (key)
            sodium_memzero(key, strlen(key));
        free(cert);
        free(key);
        return EX_UNAVAILABLE_;
    }
    /* signals: blocked in every thread, taken by sigwait below */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    kc_osend_t *send = NULL;
    if (kc_osend_start(&send, cfg->offices, cfg->n_offices, db) != 0) {
        fprintf(stderr, "kc-office: cannot start sending (see the log above): check office-spool, "
                        "office-centre, office-server-key and office-cert\n");
        kc_odb_close(&db);
        if (key)
            sodium_memzero(key, strlen(key));
        free(cert);
        free(key);
        return EX_UNAVAILABLE_;
    }
    kc_ohttp_opts_t ho = {.addr = cfg->addr,
                          .port = cfg->port,
                          .offices = cfg->offices,
                          .n_offices = cfg->n_offices,
                          .db = db,
                          .send = send,
                          .tls_cert = cert,
                          .tls_key = key,
                          .data_dir = data};
    kc_ohttp_t *http = NULL;
    int rc = kc_ohttp_start(&http, &ho);
    if (key)
        sodium_memzero(key, strlen(key));
    free(cert);
    free(key);
    if (rc != 0) {
        kc_osend_stop(&send);
        kc_odb_close(&db);
        return rc == KC_EINVAL ? EX_USAGE_ : EX_UNAVAILABLE_;
    }
    char url[200];
    bool v6 = strchr(cfg->addr, ':') != NULL;
    snprintf(url, sizeof url, "%s://%s%s%s:%u/", cfg->cert ? "https" : "http", v6 ? "[" : "",
             cfg->addr, v6 ? "]" : "", kc_ohttp_port(http));
    kc_info("KC-OFF-001 started: serving %s (%zu office(s), data %s)", url, cfg->n_offices, data);
    if (cfg->ready && s_write_ready(cfg->ready, url) != 0)
        kc_warn("KC-OFF-013 cannot write the ready file %s: %s", cfg->ready, strerror(errno));
    kc_service_ready("serving");
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig) != 0)
            continue;
        if (sig == SIGHUP) {
            kc_info("KC-OFF-003 SIGHUP: nothing to reload yet (restart to apply a changed "
                    "config)");
            continue;
        }
        break;
    }
    kc_service_stopping();
    kc_ohttp_stop(&http);
    kc_osend_stop(&send);
    kc_odb_close(&db);
    kc_info("KC-OFF-002 stopped");
    return 0;
}

int main(int argc, char **argv)
{
    kc_log_set_ident("kc-office");
    kc_log_set_journal_sender(kc_service_journal_send, NULL);
    static kc_conf_args_t ca;
    static s_cfg_t cfg;
    int rc = kc_conf_merge("kc-office", "office", s_longopts, argc, argv, &ca);
    if (rc != 0)
        return rc;
    rc = s_parse(ca.argc, ca.argv, &cfg);
    if (rc >= 0 || kc_conf_check_done(&ca)) {
        kc_conf_args_free(&ca);
        return rc >= 0 ? rc : 0;
    }
    kc_log_set_level(cfg.level);
    kc_log_set_target(cfg.target);
    umask(077);
    if (sodium_init() < 0) {
        kc_error("libsodium cannot be initialised");
        kc_conf_args_free(&ca);
        return EX_SOFTWARE_;
    }
    if (cfg.user_argi) {
        rc = s_user(&cfg, ca.argc - cfg.user_argi, ca.argv + cfg.user_argi);
    } else {
        /* gettext'd text (the import layer's messages, hints) in Vietnamese by
         * default; a request in English switches its thread (kc_i18n_use) */
        kc_i18n_init("vi");
        rc = s_serve(&cfg);
    }
    kc_conf_args_free(&ca);
    return rc;
}
