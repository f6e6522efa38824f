/* kc_keygen.c - kc-keygen: make a CURVE key pair as ZeroMQ certificate files.
 *
 * kc-keygen --out NAME [--name LABEL] [--force] writes NAME (the public
 * certificate: give it to the other side) and NAME_secret (both keys, mode
 * 0600: keep it), in the format of CZMQ's zcert (kc_cert.h), and prints the
 * public key. Existing files are never replaced without --force. The key pair
 * comes from zmq_curve_keypair() (libsodium's randombytes underneath).
 *
 * Exit: 0 written, 64 usage, 73 cannot create the files, 70 no CURVE in libzmq.
 */
#include "kc_cert.h"
#include "kc_conf.h"
#include "kc_err.h"
#include "kc_log.h"

#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define EX_OK_        0
#define EX_USAGE_     64
#define EX_SOFTWARE_  70
#define EX_CANTCREAT_ 73

static void s_usage(FILE *out)
{
    fprintf(out, "Usage: kc-keygen --out NAME [--name LABEL] [--force]\n"
                 "Make a CURVE key pair for kcpipe (an office's producer key, or the aggregator's\n"
                 "server key) as ZeroMQ certificate files:\n"
                 "  NAME         the public certificate (curve/public-key): hand it over\n"
                 "  NAME_secret  the secret certificate (public-key and secret-key), mode 0600\n"
                 "\n"
                 "  -o, --out NAME     where to write (required)\n"
                 "  -n, --name LABEL   a label stored as metadata/name (e.g. office-79)\n"
                 "  -f, --force        replace existing files\n"
                 "  --config FILE      read options from FILE (default: /etc/kcpipe/keygen.conf\n"
                 "                     if it exists); options given here win\n"
                 "  --no-config        read no config file\n"
                 "  --check-config     check the config file and options: print 'FILE: ok'\n"
                 "                     and exit 0, or each error as FILE:LINE and exit 78\n"
                 "  -h, --help         show this help and exit\n"
                 "  -V, --version      show the version and exit\n"
                 "\n"
                 "Prints \"public-key = \\\"Z85\\\"\"; register it with a registry line such as\n"
                 "  producer office-79 key \"Z85\" provinces 79\n"
                 "(docs/SECURITY.md).\n");
}

static int s_bad(const char *fmt, const char *arg)
{
    /* an error about a value from the config file names its FILE:LINE */
    const char *about = *kc_conf_blame(arg) ? arg : optarg;
    fprintf(stderr, "%skc-keygen: ", kc_conf_blame(about));
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'kc-keygen --help'.\n");
    return kc_conf_usage_exit(about, EX_USAGE_);
}

int main(int argc, char **argv)
{
    kc_log_set_ident("kc-keygen");
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'}, {"name", required_argument, NULL, 'n'},
        {"force", no_argument, NULL, 'f'},     {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},   {NULL, 0, NULL, 0},
    };
    int mrc = kc_conf_main("kc-keygen", "keygen", longopts, &argc, &argv);
    if (mrc)
        return mrc;
    const char *out = NULL, *label = "";
    bool force = false;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:n:fhV", longopts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'n': label = optarg; break;
        case 'f': force = true; break;
        case 'h': s_usage(stdout); return EX_OK_;
        case 'V': printf("kc-keygen %s\n", KC_VERSION); return EX_OK_;
        case ':': return s_bad("option '%s' needs an argument", argv[optind - 1]);
        default: return s_bad("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (kc_conf_main_check_done())
        return 0;
    if (optind < argc)
        return s_bad("unexpected argument '%s'", argv[optind]);
    if (!out || !*out)
        return s_bad("%s", "--out NAME is required");
    if (strlen(label) > KC_CERT_NAME_MAX || strpbrk(label, "\"\n\r"))
        return s_bad("--name: '%s' must be at most 128 bytes without quotes or newlines", label);
    if (!zmq_has("curve")) {
        fprintf(stderr, "kc-keygen: this libzmq has no CURVE support\n");
        return EX_SOFTWARE_;
    }
    char secret_path[4096];
    if (snprintf(secret_path, sizeof secret_path, "%s_secret", out) >= (int)sizeof secret_path)
        return s_bad("--out: '%s' is too long", out);
    kc_cert_t cert;
    memset(&cert, 0, sizeof cert);
    snprintf(cert.name, sizeof cert.name, "%s", label);
    if (zmq_curve_keypair(cert.public_key, cert.secret_key) != 0) {
        fprintf(stderr, "kc-keygen: zmq_curve_keypair: %s\n", zmq_strerror(errno));
        return EX_SOFTWARE_;
    }
    umask(077 & ~044); /* the public file may be world-readable; the secret one is 0600 */
    int rc = kc_cert_save(secret_path, &cert, true, force, "kc-keygen");
    if (rc == 0) {
        rc = kc_cert_save(out, &cert, false, force, "kc-keygen");
        if (rc != 0)
            unlink(secret_path); /* no half-made pair */
    }
    memset(cert.secret_key, 0, sizeof cert.secret_key);
    if (rc != 0) {
        fprintf(stderr, "kc-keygen: cannot write %s / %s: %s%s\n", out, secret_path,
                kc_strerror(rc), rc == -EEXIST ? " (use --force to replace)" : "");
        return EX_CANTCREAT_;
    }
    printf("wrote %s (public) and %s (secret, mode 0600)\npublic-key = \"%s\"\n", out, secret_path,
           cert.public_key);
    return EX_OK_;
}
