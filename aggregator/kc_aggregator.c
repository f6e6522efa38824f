/* kc_aggregator.c - kc-aggregator: receive, check, de-duplicate and commit events.
 *
 * Exit codes: 0 after a clean stop (SIGINT/SIGTERM), 64 usage error (also a
 * plaintext listen on a non-loopback endpoint without --insecure), 69 cannot
 * listen, open the store or load the keys/registry, 70 internal failure.
 * 78 a config file error (kc_conf.h: /etc/kcpipe/aggregator.conf, flags win).
 * SIGHUP reloads the config file (log level and target apply live; any other
 * changed key is logged as needing a restart; a file with errors is refused,
 * FILE:LINE logged, and the configuration in force stays) and the producer
 * registry (docs/SECURITY.md). The daemon runs
 * with umask 077: everything it creates is its owner's only.
 */
#include "kc_agg.h"
#include "kc_auth.h"
#include "kc_checkpoint.h"

#include "kc_conf.h"
#include "kc_err.h"
#include "kc_log.h"
#include "kc_report.h"
#include "kc_service.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>

#define EX_OK_          0
#define EX_USAGE_       64
#define EX_UNAVAILABLE_ 69
#define EX_SOFTWARE_    70

static volatile sig_atomic_t s_stop = 0;
static volatile sig_atomic_t s_reload = 0;

static void s_on_signal(int sig)
{
    if (sig == SIGHUP)
        s_reload = 1;
    else
        s_stop = 1;
}

/* Warn (KC-SEC-009) about a store directory or file that others than its owner
 * may read or write: the store is created 0700/0600, so this means someone
 * changed it. */
static void s_check_store_modes(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) == 0 && (st.st_mode & 077))
        kc_warn("KC-SEC-009 the store directory %s has mode %04o; expected 0700", dir,
                (unsigned)(st.st_mode & 07777));
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path)
            continue;
        if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077))
            kc_warn("KC-SEC-009 the store file %s has mode %04o; expected 0600", path,
                    (unsigned)(st.st_mode & 07777));
    }
    closedir(d);
}

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: kc-aggregator [options]\n"
            "Receive khuyen cong activity events from producers (ZeroMQ DEALER), check,\n"
            "de-duplicate and commit them to the store, then acknowledge them.\n"
            "\n"
            "  --listen EP            endpoint to bind (default %s;\n"
            "                         tcp://127.0.0.1:* picks a free port; localhost is\n"
            "                         bound as 127.0.0.1, here and in --feed, --http)\n"
            "  --store DIR            store directory (default %s)\n"
            "  --group-max N          events per group commit (default %d)\n"
            "  --group-window-ms MS   longest wait to fill a group (default %d)\n"
            "  --map-size BYTES       initial LMDB map size, suffix k/m/g allowed (grows on "
            "demand)\n"
            "  --resident-limit BYTES keep the resident set under about BYTES by releasing\n"
            "                         the store's mapped pages (default 48m; 0 = no limit)\n"
            "  --ready-file FILE      once listening, write the bound endpoint to FILE, then\n"
            "                         lines 'feed EP', 'snapshot EP', 'http URL' if enabled\n"
            "  --sth-interval-ms MS   least time between signed tree heads (default %d;\n"
            "                         0 = one per group commit that grew the log)\n"
            "  --checkpoint-every N   copy the totals every N log entries, at the end of the\n"
            "                         group commit that crosses the boundary, for kc-query\n"
            "                         --as-of (default %d; 0 = never)\n"
            "  --curve-secret FILE    the aggregator's secret certificate (kc-keygen): encrypt\n"
            "                         and authenticate producers with CURVE (needs --registry)\n"
            "  --registry FILE        producer registry: key -> producer id and provinces;\n"
            "                         SIGHUP reloads it (docs/SECURITY.md)\n"
            "  --insecure             allow a plaintext listen on a non-loopback endpoint\n"
            "                         (without keys only loopback and ipc are allowed; also\n"
            "                         for --feed, --feed-snapshot and --http)\n"
            "  --feed EP              publish the live totals feed on EP (ZeroMQ PUB), e.g.\n"
            "                         tcp://127.0.0.1:5556 (docs/MONITORING.md)\n"
            "  --feed-snapshot EP     serve feed snapshots on EP (default: the --feed tcp port\n"
            "                         + 1; required when that port is * or 0, or with ipc)\n"
            "  --feed-hwm N           updates queued per feed subscriber before libzmq drops\n"
            "                         them for that subscriber alone (default 1000)\n"
            "  --http [ADDR:]PORT     serve the HTTP API, /metrics and the dashboard on ADDR\n"
            "                         (default 127.0.0.1; IPv6 as [::1]:PORT); PORT 0 = any\n"
            "                         free port\n"
            "  --log-level L          error|warn|info|debug (default info; SIGHUP applies a\n"
            "                         change in the config file)\n"
            "  --log-target T         auto|stderr|journal|syslog (default auto: the journal\n"
            "                         when stderr is connected to it, else stderr)\n"
            "  --config FILE          read options from FILE (default %s/aggregator.conf\n"
            "                         if it exists; KCPIPE_CONFIG_DIR overrides the directory);\n"
            "                         options given here win over the file's\n"
            "  --no-config            read no config file\n"
            "  --check-config         check the config file and the options, print\n"
            "                         'FILE: ok, N settings' and exit 0, or exit 78\n"
            "  -h, --help             show this help and exit\n"
            "  -V, --version          show the version and exit\n"
            "\n"
            "SIGINT/SIGTERM: commit and acknowledge what is in hand, exit 0.\n"
            "SIGHUP: reload the registry (a revoked key is refused from then on) and the\n"
            "config file (log level and target apply at once; other changes are logged as\n"
            "needing a restart; a file with errors is refused and the old one stays).\n"
            "Under systemd (Type=notify) it reports READY, RELOADING and STOPPING.\n"
            "Exit: 0 stopped, 64 usage, 69 cannot start, 70 internal, 78 config file.\n",
            KC_AGG_DEFAULT_LISTEN, KC_AGG_DEFAULT_STORE, KC_AGG_DEFAULT_GROUP_MAX,
            KC_AGG_DEFAULT_GROUP_WINDOW_MS, KC_AGG_DEFAULT_STH_INTERVAL_MS,
            KC_CHECKPOINT_EVERY_DEFAULT, KC_CONF_DIR);
}

/* While a SIGHUP reload parses the new config, errors are logged instead of
 * printed (the daemon keeps its configuration in force). */
static bool s_reloading = false;

static int s_bad(const char *fmt, const char *arg)
{
    char msg[1200];
    snprintf(msg, sizeof msg, fmt, arg);
    if (s_reloading) {
        kc_error("KC-AGG-005 configuration reload refused: %s%s; the configuration in force "
                 "stays",
                 kc_conf_blame(arg), msg);
        return KC_EX_CONFIG;
    }
    fprintf(stderr, "%skc-aggregator: %s\nTry 'kc-aggregator --help'.\n", kc_conf_blame(arg), msg);
    return kc_conf_usage_exit(arg, EX_USAGE_);
}

/* Parse a non-negative integer with an optional k/m/g suffix (x1024). */
static int s_parse_size(const char *s, unsigned long long max, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (!s || !*s || *s == '-')
        return -1;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s)
        return -1;
    unsigned shift = 0;
    if (*end == 'k' || *end == 'K')
        shift = 10;
    else if (*end == 'm' || *end == 'M')
        shift = 20;
    else if (*end == 'g' || *end == 'G')
        shift = 30;
    if (shift)
        end++;
    if (*end != '\0' || v > (max >> shift))
        return -1;
    *out = v << shift;
    return 0;
}

/* --feed tcp://HOST:PORT -> tcp://HOST:PORT+1 into out; -1 if there is no such
 * default (not tcp, or port * or 0). */
static int s_default_snapshot(const char *feed, char *out, size_t cap)
{
    if (strncmp(feed, "tcp://", 6) != 0)
        return -1;
    const char *colon = strrchr(feed, ':');
    if (!colon || colon < feed + 6)
        return -1;
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno || end == colon + 1 || *end || port == 0 || port >= 65535)
        return -1;
    int n = snprintf(out, cap, "%.*s:%lu", (int)(colon - feed), feed, port + 1);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* --http [ADDR:]PORT; ADDR may be [v6]. Returns 0 or -1. */
static int s_parse_http(const char *arg, char *addr, size_t cap, unsigned *port)
{
    const char *p = arg;
    addr[0] = '\0';
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
    char *end;
    errno = 0;
    unsigned long v = strtoul(p, &end, 10);
    if (!*p || *p == '-' || errno || *end || v > 65535)
        return -1;
    *port = (unsigned)v;
    return 0;
}

static const struct option s_longopts[] = {
    {"listen", required_argument, NULL, 'l'},
    {"store", required_argument, NULL, 's'},
    {"group-max", required_argument, NULL, 'g'},
    {"group-window-ms", required_argument, NULL, 'w'},
    {"map-size", required_argument, NULL, 'm'},
    {"resident-limit", required_argument, NULL, 'M'},
    {"ready-file", required_argument, NULL, 'r'},
    {"sth-interval-ms", required_argument, NULL, 'S'},
    {"checkpoint-every", required_argument, NULL, 'C'},
    {"log-level", required_argument, NULL, 'L'},
    {"log-target", required_argument, NULL, 'T'},
    {"curve-secret", required_argument, NULL, 'K'},
    {"registry", required_argument, NULL, 'R'},
    {"insecure", no_argument, NULL, 'I'},
    {"feed", required_argument, NULL, 'F'},
    {"feed-snapshot", required_argument, NULL, 'P'},
    {"feed-hwm", required_argument, NULL, 'W'},
    {"http", required_argument, NULL, 'H'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};
#define S_NOPTS (sizeof s_longopts / sizeof *s_longopts - 1)

/* One parse of the merged arguments (config file + command line). */
typedef struct {
    kc_agg_opts_t opts;
    kc_log_level_t level;
    kc_log_target_t target;
    char http_addr[128], snap_default[300];
    const char *seen[S_NOPTS]; /* each option's value in force: its last argument, "true" for a
                                  flag, NULL = not given (compared on reload) */
} s_cfg_t;

/* Returns -1 to go on, else the exit code (0 after --help/--version). */
static int s_parse(int argc, char **argv, s_cfg_t *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->opts.group_window_ms = -1;
    cfg->level = KC_LOG_INFO;
    cfg->target = KC_LOG_TARGET_AUTO;
    kc_agg_opts_t *o = &cfg->opts;
    int c, idx;
    unsigned long long v;
    optind = 0; /* a full reinitialisation: parsed again on SIGHUP */
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":hV", s_longopts, &idx)) != -1) {
        if (c != '?' && c != ':') {
            for (size_t i = 0; i < S_NOPTS; i++)
                if (s_longopts[i].val == c)
                    cfg->seen[i] = optarg ? optarg : "true";
        }
        switch (c) {
        case 'l': o->listen = optarg; break;
        case 's': o->store_dir = optarg; break;
        case 'g':
            if (s_parse_size(optarg, 1u << 24, &v) != 0 || v == 0)
                return s_bad("--group-max: '%s' is not a number of events in 1-16777216", optarg);
            o->group_max = (size_t)v;
            break;
        case 'w':
            if (s_parse_size(optarg, 60000, &v) != 0)
                return s_bad("--group-window-ms: '%s' is not a number of ms in 0-60000", optarg);
            o->group_window_ms = (int)v;
            break;
        case 'm':
            if (s_parse_size(optarg, (unsigned long long)SIZE_MAX / 2, &v) != 0 || v == 0)
                return s_bad("--map-size: '%s' is not a size in bytes", optarg);
            o->map_size = (size_t)v;
            break;
        case 'M':
            if (s_parse_size(optarg, (unsigned long long)SIZE_MAX / 2, &v) != 0)
                return s_bad("--resident-limit: '%s' is not a size in bytes", optarg);
            o->resident_limit = v == 0 ? KC_AGG_RESIDENT_UNLIMITED : (size_t)v;
            break;
        case 'r': o->ready_file = optarg; break;
        case 'S':
            if (s_parse_size(optarg, 86400000, &v) != 0)
                return s_bad("--sth-interval-ms: '%s' is not a number of ms in 0-86400000", optarg);
            o->sth_interval_ms = v == 0 ? KC_AGG_STH_EVERY_COMMIT : (int)v;
            break;
        case 'C':
            if (s_parse_size(optarg, (unsigned long long)INT64_MAX, &v) != 0)
                return s_bad("--checkpoint-every: '%s' is not a number of log entries", optarg);
            o->checkpoint_every = v == 0 ? KC_AGG_CHECKPOINT_NEVER : (int64_t)v;
            break;
        case 'L':
            if (kc_log_parse_level(optarg, &cfg->level) != 0)
                return s_bad("--log-level: '%s' is not error, warn, info or debug", optarg);
            break;
        case 'T':
            if (kc_log_parse_target(optarg, &cfg->target) != 0)
                return s_bad("--log-target: '%s' is not auto, stderr, journal or syslog", optarg);
            break;
        case 'K': o->curve_secret_file = optarg; break;
        case 'R': o->registry_file = optarg; break;
        case 'I': o->insecure = true; break;
        case 'F': o->feed_endpoint = optarg; break;
        case 'P': o->feed_snapshot_endpoint = optarg; break;
        case 'W':
            if (s_parse_size(optarg, 1000000, &v) != 0 || v == 0)
                return s_bad("--feed-hwm: '%s' is not a number of messages in 1-1000000", optarg);
            o->feed_sndhwm = (int)v;
            break;
        case 'H':
            if (s_parse_http(optarg, cfg->http_addr, sizeof cfg->http_addr, &o->http_port) != 0)
                return s_bad("--http: '%s' is not [ADDR:]PORT (PORT 0-65535)", optarg);
            o->http = true;
            o->http_addr = cfg->http_addr[0] ? cfg->http_addr : NULL;
            break;
        case 'h': s_usage(stdout); return EX_OK_;
        case 'V': printf("kc-aggregator %s\n", KC_VERSION); return EX_OK_;
        case ':': return s_bad("option '%s' needs an argument", argv[optind - 1]);
        default: return s_bad("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return s_bad("unexpected argument '%s'", argv[optind]);
    if (!o->curve_secret_file != !o->registry_file)
        return s_bad("%s", "--curve-secret and --registry go together");
    const char *listen = o->listen ? o->listen : KC_AGG_DEFAULT_LISTEN;
    if (!o->curve_secret_file && !o->insecure && !kc_auth_endpoint_is_local(listen))
        return s_bad("refusing a plaintext, unauthenticated listen on '%s': without "
                     "--curve-secret only loopback (tcp://127.0.0.1, tcp://[::1], "
                     "tcp://localhost) and ipc:// endpoints are allowed; --insecure overrides",
                     listen);
    if (o->feed_snapshot_endpoint && !o->feed_endpoint)
        return s_bad("%s", "--feed-snapshot needs --feed");
    if (o->feed_endpoint && !o->feed_snapshot_endpoint) {
        if (s_default_snapshot(o->feed_endpoint, cfg->snap_default, sizeof cfg->snap_default) != 0)
            return s_bad("--feed '%s': give --feed-snapshot too (the default, the feed's tcp "
                         "port + 1, needs a fixed tcp port)",
                         o->feed_endpoint);
        o->feed_snapshot_endpoint = cfg->snap_default;
    }
    if (!o->insecure) {
        const char *eps[2] = {o->feed_endpoint, o->feed_snapshot_endpoint};
        for (int i = 0; i < 2; i++)
            if (eps[i] && !kc_auth_endpoint_is_local(eps[i]))
                return s_bad("refusing a plaintext feed on '%s': only loopback and ipc:// "
                             "endpoints are allowed; --insecure overrides",
                             eps[i]);
        if (o->http && !kc_agg_http_addr_is_local(o->http_addr))
            return s_bad("refusing to serve HTTP on '%s': only loopback is allowed (put a TLS "
                         "reverse proxy in front, docs/MONITORING.md); --insecure overrides",
                         o->http_addr);
    }
    return -1;
}

/* SIGHUP: the config file again. */
typedef struct {
    int argc;
    char **argv;         /* the command line, as started */
    kc_conf_args_t *ca;  /* the arguments in force (the first ones stay: opts point into them) */
    s_cfg_t *cfg;        /* their parse */
    kc_conf_args_t *ca0; /* the startup ones */
    s_cfg_t *cfg0;
} s_reload_t;

static void s_conf_report(const char *msg, void *ctx)
{
    (void)ctx;
    kc_error("KC-AGG-005 configuration reload refused: %s; the configuration in force stays", msg);
}

static bool s_same(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static void s_reload_config(void *vctx)
{
    s_reload_t *r = vctx;
    kc_conf_args_t *nca = calloc(1, sizeof *nca);
    s_cfg_t *ncfg = calloc(1, sizeof *ncfg);
    if (!nca || !ncfg) {
        kc_error("KC-AGG-005 configuration reload refused: out of memory");
        free(nca);
        free(ncfg);
        return;
    }
    kc_conf_set_reporter(s_conf_report, NULL);
    int rc = kc_conf_merge("kc-aggregator", "aggregator", s_longopts, r->argc, r->argv, nca);
    kc_conf_set_reporter(NULL, NULL);
    if (rc == 0) {
        s_reloading = true;
        rc = s_parse(nca->argc, nca->argv, ncfg);
        s_reloading = false;
        if (rc == -1)
            rc = 0;
        else if (rc == 0) /* --help in the file cannot happen (refused keys) */
            rc = KC_EX_CONFIG;
    }
    if (rc != 0) {
        kc_conf_args_free(nca);
        free(nca);
        free(ncfg);
        return;
    }
    int applied = 0, restart = 0;
    for (size_t i = 0; i < S_NOPTS; i++) {
        const char *was = r->cfg->seen[i], *now = ncfg->seen[i];
        if (s_same(was, now))
            continue;
        if (s_longopts[i].val == 'L') {
            kc_log_set_level(ncfg->level);
            applied++;
        } else if (s_longopts[i].val == 'T') {
            kc_log_set_target(ncfg->target);
            applied++;
        } else {
            kc_warn("KC-AGG-006 configuration key '%s' changed ('%s' -> '%s'): needs a restart "
                    "to take effect",
                    s_longopts[i].name, was ? was : "(default)", now ? now : "(default)");
            restart++;
            continue;
        }
        kc_info("KC-AGG-004 configuration key '%s' changed ('%s' -> '%s'): applied",
                s_longopts[i].name, was ? was : "(default)", now ? now : "(default)");
    }
    kc_info("KC-AGG-004 configuration reloaded from %s: %d settings; %d change(s) applied, %d "
            "need a restart",
            nca->path ? nca->path : "(no file)", nca->settings, applied, restart);
    if (r->ca != r->ca0) {
        kc_conf_args_free(r->ca);
        free(r->ca);
        free(r->cfg);
    }
    r->ca = nca;
    r->cfg = ncfg;
}

int main(int argc, char **argv)
{
    kc_log_set_ident("kc-aggregator");
    kc_log_set_journal_sender(kc_service_journal_send, NULL); /* --log-target journal|auto */
    static kc_conf_args_t ca;
    static s_cfg_t cfg;
    int rc = kc_conf_merge("kc-aggregator", "aggregator", s_longopts, argc, argv, &ca);
    if (rc != 0)
        return rc;
    rc = s_parse(ca.argc, ca.argv, &cfg);
    if (rc >= 0 || kc_conf_check_done(&ca)) {
        kc_conf_args_free(&ca);
        return rc >= 0 ? rc : EX_OK_;
    }
    kc_agg_opts_t opts = cfg.opts;
    kc_log_set_level(cfg.level);
    kc_log_set_target(cfg.target);
    umask(077); /* store, ready file, keys: the owner's only */

    if (sodium_init() < 0) {
        kc_error("libsodium cannot be initialised");
        return EX_SOFTWARE_;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal; /* no SA_RESTART: zmq_poll returns EINTR at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* past RLIMIT_FSIZE a write fails with EFBIG instead of killing us: the commit
     * fails, producers are answered "unavailable", and nothing is lost */
    signal(SIGXFSZ, SIG_IGN);
    s_reload_t reload = {argc, argv, &ca, &cfg, &ca, &cfg};
    opts.reload = &s_reload;
    opts.on_reload = s_reload_config;
    opts.on_reload_ctx = &reload;

    kc_agg_t *agg = NULL;
    rc = kc_agg_new(&agg, &opts);
    if (rc != 0) {
        kc_error("KC-AGG-013 cannot start: %s", kc_strerror(rc));
        kc_conf_args_free(&ca);
        return EX_UNAVAILABLE_;
    }
    const char *store = opts.store_dir ? opts.store_dir : KC_AGG_DEFAULT_STORE;
    s_check_store_modes(store);
    const char *asked = opts.listen ? opts.listen : KC_AGG_DEFAULT_LISTEN;
    bool lh = strncmp(asked, "tcp://localhost:", 16) == 0; /* bound as 127.0.0.1 (kc_agg.h) */
    kc_info("KC-AGG-001 started: listening on %s (store %s, %s; config %s; log to %s%s%s%s)",
            kc_agg_endpoint(agg), store, opts.curve_secret_file ? "CURVE" : "plaintext",
            ca.path ? ca.path : "none", kc_log_target_name(kc_log_get_target()), lh ? "; " : "",
            lh ? asked : "", lh ? " bound as 127.0.0.1" : "");
    rc = kc_agg_run(agg, &s_stop);
    kc_agg_log_counters(agg, KC_LOG_INFO, rc == 0 ? "KC-AGG-002 stopped" : "KC-AGG-003 failed");
    kc_agg_destroy(&agg);
    kc_report_pdf_cleanup(); /* GET /v1/report's fontconfig and cairo caches: a clean exit */
    if (reload.ca != &ca) {
        kc_conf_args_free(reload.ca);
        free(reload.ca);
        free(reload.cfg);
    }
    kc_conf_args_free(&ca);
    return rc == 0 ? EX_OK_ : EX_SOFTWARE_;
}
