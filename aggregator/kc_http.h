/* kc_http.h - the aggregator's read-only HTTP server (libmicrohttpd):
 * JSON API, Prometheus /metrics and the dashboard page.
 *
 * Routes (GET and HEAD only; anything else 405; unknown path 404; every
 * error body is {"error": "<reason>"} with Content-Type application/json):
 *   /v1/totals?year=Y&months=A-B&region=R&province=P&activity=A&kind=K&fund=F
 *              &by=province|activity|month&plan=1&compare=Y&units=34
 *              &as_of=TIME&as_of_offset=N
 *              the same parameters, checks and JSON as `kc-query --format json`
 *              (tools/common/kc_qry.h); region, province, activity and fund may
 *              repeat; a bad parameter gets 400 with kc-query's reason.
 *   /v1/completeness?year=Y&months=A-B&region=R&province=P&units=34|63&as_of=TIME
 *              `kc-query --completeness --format json` without "store"
 *              (core/kc_cycle.h, docs/CYCLE.md)
 *   /v1/provinces?scheme=63|34   reference data + last report of each unit
 *   /v1/activities               the activity taxonomy
 *   /v1/producers                producer status: last seq, last seen, lag
 *   /v1/head                     the latest signed tree head of the audit log
 *   /v1/status                   {"version", "seq" (log size), "time", ...}
 *   /metrics                     kc_metrics_render()
 *   /, /index.html, /assets/...  the dashboard (kc_web.h, embedded)
 * One read snapshot per request. Binds 127.0.0.1 unless told otherwise;
 * docs/MONITORING.md shows how to put it behind a reverse proxy with TLS.
 */
#ifndef KC_HTTP_H
#define KC_HTTP_H

#include "kc_metrics.h"
#include "kc_store.h"

#include <stdint.h>

#define KC_HTTP_DEFAULT_ADDR "127.0.0.1"

typedef struct {
    const char *addr;      /* IPv4/IPv6 literal to bind; NULL = KC_HTTP_DEFAULT_ADDR */
    unsigned port;         /* 0 = any free port (see kc_http_port) */
    kc_store_t *store;     /* borrowed; read transactions only */
    kc_metrics_t *metrics; /* borrowed */
    unsigned threads;      /* 0 = 2 (thread pool) */
} kc_http_opts_t;

typedef struct kc_http kc_http_t;

/* Start serving in background threads. KC_EBUSY if the port is taken,
 * KC_EINVAL for a bad address. */
int kc_http_start(kc_http_t **out, const kc_http_opts_t *opts);
/* Stop (waits for the threads), *self_p = NULL; no-op on NULL. */
void kc_http_stop(kc_http_t **self_p);
/* The port actually bound. */
unsigned kc_http_port(const kc_http_t *self);

#endif
