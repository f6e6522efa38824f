/* kc_identity.h - the content hash of an identity, as the ledger gave it.
 *
 * DESIGN
 * The store keeps an identity's version links but not its content hash
 * (store/kc_store_state.c, layout 3): kc_txn_identity_get returns
 * kc_identity_t.hashed = 0 and a zero hash unless the hash is known without
 * the rules (a migrated record that kept its stored hash, or one put earlier
 * in the same write transaction). The hash is the ledger's rule, so it is
 * computed here, in core, from the Event logged at the identity's offset:
 * kc_event_content_hash over kc_event_check's view, with what kc_ledger
 * resolved when it accepted the version - a correction's kind is the
 * identity's kind (when set), a retraction without a period takes the period
 * of its target (the version logged at id->prev). kc_ledger computes it only
 * when its business dedup finds an existing identity (a repeated event_id:
 * duplicate or event_id_conflict), so the commit path of new events never
 * pays for it.
 *
 * Needs sodium_init() (kc_event_content_hash). Returns 0 or a negative KC_E*
 * code; KC_EFORMAT (logged) if the log has no decodable Event at the offset
 * (or at a retraction's target), or if that Event no longer passes
 * kc_event_check with the identity's op (the rules changed since it was
 * accepted).
 */
#ifndef KC_IDENTITY_H
#define KC_IDENTITY_H

#include "kc_store.h"

#include <stddef.h>
#include <stdint.h>

/* The serialized Event logged at `offset` (kc_ledger_source_t.event_get):
 * 0, KC_ENOTFOUND, or another negative KC_E* code (passed on). The bytes
 * must stay valid until the next call. */
typedef int (*kc_identity_event_fn)(void *ctx, uint64_t offset, const uint8_t **data, size_t *len);

/* Fill id->hash with the content hash the ledger gave the version *id (its
 * offset, op, kind, prev_unit and prev are read) and set id->hashed = 1.
 * Computes it even if id->hashed is already 1. On error id->hash and
 * id->hashed are left unchanged. */
int kc_identity_hash(kc_identity_event_fn event_get, void *ctx, kc_identity_t *id);

/* The kc_identity_event_fn of a store transaction (ctx: its kc_txn_t, read or
 * write; kc_ledger_source_txn's event_get too): the entry's event bytes
 * (kc_txn_log_get), valid until the transaction ends or writes; KC_ENOTFOUND if
 * the log has no entry at offset. */
int kc_identity_txn_event_get(void *ctx, uint64_t offset, const uint8_t **data, size_t *len);

/* kc_identity_hash with the Events of the store transaction t (read or
 * write): the kc_store_migrate callback (kc_identity_hash_fn). */
int kc_identity_hash_txn(kc_txn_t *t, kc_identity_t *id);

#endif
