/* kc_auth.h - who may send to the aggregator: the producer registry and the
 * ZAP handler that authenticates CURVE clients against it.
 *
 * DESIGN - fail closed
 * With CURVE on, the aggregator's ROUTER is a CURVE server (ZMQ_CURVE_SERVER,
 * its secret key) with ZMQ_ZAP_DOMAIN = KC_AUTH_DOMAIN and
 * ZMQ_ZAP_ENFORCE_DOMAIN = 1: libzmq 4.3 hands every handshake to the ZAP
 * handler at inproc://zeromq.zap.01 (RFC 27), and with the enforcing option a
 * handshake fails when no handler is bound (without it, a CURVE server with no
 * handler accepts any client key). kc_auth_new() binds that endpoint in the
 * caller's context BEFORE the ROUTER is bound, and runs the handler in its own
 * thread as an actor (the CZMQ zauth pattern): it owns the ZAP REP socket and
 * the far end of an inproc PAIR pipe; the owner talks to it only through the
 * pipe (SWAP a registry, TERM), each command answered before the owner goes on.
 *
 * The handler answers 200 only for the CURVE mechanism, the kcpipe domain and
 * a client public key that the registry holds and does not mark revoked; the
 * reply's User-Id is the producer id registered for the key and its metadata
 * carries the key itself (property KC_AUTH_KEY_PROPERTY, Z85). Anything else
 * (unknown or revoked key, other mechanism, other domain, malformed request)
 * is answered 400 and logged (KC-SEC-001). libzmq attaches User-Id and the
 * metadata to every message received on the connection (zmq_msg_gets), which
 * is how the daemon knows, per Batch, which key sent it.
 *
 * The registry is immutable once parsed; the handler thread and the owner read
 * the same object. kc_auth_swap() hands the thread a new one and frees the old
 * one only after the thread acknowledged the swap, so no thread ever reads a
 * freed registry. A key is checked at each handshake; connections made before
 * a revocation stay open, which is why the daemon also looks each Batch's key
 * up in the current registry (kc_agg.c).
 *
 * Registry file format (docs/SECURITY.md): one producer key per line,
 *     producer ID key "Z85" provinces P[,P...] [revoked]
 * where ID is 1-64 bytes without whitespace or quotes, Z85 the key's 40
 * characters, each P a two-digit province code (00-99) or '*' (any province);
 * '#' starts a comment, blank lines are ignored. A key appears at most once; a
 * producer id may have several keys (rotation).
 *
 * Returns: 0 or a negative KC_E* code (kc_err.h) unless stated.
 */
#ifndef KC_AUTH_H
#define KC_AUTH_H

#include "kc_cert.h"
#include "kc_event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KC_AUTH_DOMAIN       "kcpipe" /* ZMQ_ZAP_DOMAIN of the ingest socket */
#define KC_AUTH_ZAP_ENDPOINT "inproc://zeromq.zap.01"
#define KC_AUTH_KEY_PROPERTY "X-Kc-Key" /* ZAP metadata: the client's public key (Z85) */

/* One registered key. */
typedef struct {
    char producer_id[KC_PRODUCER_ID_MAX + 1];
    char key[KC_CERT_KEY_LEN + 1]; /* Z85 public key */
    uint64_t provinces[2];         /* bit p (0-99): province code p may be reported */
    bool any_province;             /* '*' */
    bool revoked;                  /* listed as revoked: refused like an unknown key */
    long line;                     /* line in the registry file */
} kc_auth_entry_t;

typedef struct kc_auth_registry kc_auth_registry_t;

/* Parse registry text; `name` labels error lines (name:line: ...). KC_EFORMAT
 * on the first malformed line (logged), KC_ENOMEM. Caller owns *out. */
int kc_auth_registry_parse(const char *text, size_t len, const char *name,
                           kc_auth_registry_t **out);
/* Read and parse a registry file (-errno if it cannot be read). */
int kc_auth_registry_load(const char *path, kc_auth_registry_t **out);
/* Free; sets *reg to NULL; no-op on NULL. */
void kc_auth_registry_free(kc_auth_registry_t **reg);

/* The entry of a Z85 public key (revoked or not), or NULL. */
const kc_auth_entry_t *kc_auth_registry_find(const kc_auth_registry_t *reg, const char *key);
/* Entries, and of those how many are revoked (revoked may be NULL). */
size_t kc_auth_registry_count(const kc_auth_registry_t *reg, size_t *revoked);
/* Whether the entry may report for `province` (a two-digit code). */
bool kc_auth_entry_allows(const kc_auth_entry_t *e, const char *province);

/* Whether a ZeroMQ endpoint is reachable from this host only: ipc://,
 * inproc://, tcp:// on 127.0.0.0/8, [::1] or localhost. */
bool kc_auth_endpoint_is_local(const char *endpoint);

/* The ZAP handler actor. */
typedef struct kc_auth kc_auth_t;

/* Bind KC_AUTH_ZAP_ENDPOINT in zctx and start the handler thread, which from
 * now on decides with `reg` (ownership moves to the handler, also on failure).
 * KC_EBUSY if another handler is bound in this context. */
int kc_auth_new(kc_auth_t **out, void *zctx, kc_auth_registry_t *reg);
/* Stop the thread, close its sockets, free the registry; call before
 * zmq_ctx_term(). Sets *self_p to NULL; no-op on NULL. */
void kc_auth_destroy(kc_auth_t **self_p);
/* Replace the registry (ownership moves, also on failure); returns once the
 * handler uses it; the old one is freed. */
int kc_auth_swap(kc_auth_t *self, kc_auth_registry_t *reg);
/* The registry in force (owner's thread; valid until the next swap). */
const kc_auth_registry_t *kc_auth_current(const kc_auth_t *self);
/* Handshakes accepted and refused since kc_auth_new(). */
void kc_auth_counts(const kc_auth_t *self, uint64_t *accepted, uint64_t *refused);

#endif
