/* kc_office.h - kc-office, the field-office portal: what its parts share.
 *
 * DESIGN
 * kc-office serves one or more offices (a province office runs it for
 * itself, the centre for many). An office is an id ([a-z0-9_-], 1-32), a
 * name, the province codes it reports for, and - for the producer side
 * (kc_office_send.h) - the centre's endpoint, a spool directory, a producer
 * id and optional CURVE certificate files.
 * The parts:
 *   kc_office.c       main(): options and config file (kc_conf), `user`
 *                     subcommands, the TLS rule, start and stop
 *   kc_office_db.c    the portal's own LMDB (accounts, sessions)
 *   kc_office_http.c  the web server (libmicrohttpd): pages, login,
 *                     sessions, CSRF, throttling, security headers
 *   kc_office_send.c  the producer side: a producer per office, one sender
 *                     thread, rows' states in the LMDB
 */
#ifndef KC_OFFICE_H
#define KC_OFFICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KC_OFFICE_MAX_OFFICES   64
#define KC_OFFICE_MAX_PROVINCES 16
#define KC_OFFICE_ID_MAX        32
#define KC_OFFICE_USER_MAX      64

typedef struct {
    char id[KC_OFFICE_ID_MAX + 1];
    const char *name; /* points into the arguments */
    int provinces[KC_OFFICE_MAX_PROVINCES];
    size_t n_provinces;
    const char *centre;   /* tcp://HOST:PORT, the producer's endpoint */
    const char *spool;    /* absolute directory, the office's spool */
    const char *producer; /* producer id at the centre */
    /* CURVE (optional, both or neither): the aggregator's public certificate
     * file and this office's secret certificate file (kc-keygen's), as
     * kc-send's --server-key/--cert */
    const char *server_key;
    const char *cert;
    /* The centre's HTTP API for the office's own totals (optional): base URL
     * "http://127.0.0.1:8080" and a file holding a read-only bearer token (or
     * NULL: no Authorization header, a loopback API without tokens). */
    const char *api;
    const char *api_token_file;
} kc_office_t;

/* [a-z0-9_-]{1,32} */
bool kc_office_id_ok(const char *s);
/* [A-Za-z0-9._-]{1,64}, not starting with '.' or '-' */
bool kc_office_user_ok(const char *s);

#endif
