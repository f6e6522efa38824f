/* kc_audit.c - kc_audit_verify: check the whole verifiable log in one pass.
 *
 * DESIGN
 * Three cursors walk in step over one read snapshot: log, leaves (block by
 * block, one stored hash at a time: kc_mk_leaf_iter_t), heads.
 * For i = 0, 1, ...:
 *   1. the log must hold key i (a larger key: entry i was deleted; no more
 *      keys while leaves remain: the log was truncated at i), its record must
 *      decode, and SHA-256(0x00 || leaf input) must equal the stored leaf i
 *      (and leaves must hold key i). The first failure is BAD_ENTRY at i:
 *      a flipped byte, an inserted, deleted, swapped or truncated entry all
 *      change some entry's offset, fields or bytes, and the leaf input
 *      includes the offset, so the first changed offset is the one found.
 *   2. the recomputed leaf is pushed onto a private frontier; each completed
 *      subtree of level >= 6 is compared with the stored node (a mismatch
 *      narrows a consistent rewrite of log and leaves to 2^level entries).
 *   3. at each head's size, the frontier's root must equal the head's root
 *      and the signature must verify with pk; the first failure is BAD_HEAD,
 *      covering [last good head's size, its size) or the subtree of step 2.
 * Leaves or heads beyond the log's end are reported as well. The pass is
 * O(n) hashing with sequential cursor reads, no random access.
 */
#include "kc_audit.h"
#include "kc_merkle_int.h"

#include "kc_err.h"
#include "kc_log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_PROGRESS_EVERY 65536

typedef struct {
    kc_txn_t *t;
    kc_audit_report_t *rep;
    bool node_bad;               /* a stored node differed (first recorded) */
    uint64_t node_from, node_to; /* its leaves */
} s_walk_t;

static void s_bad(kc_audit_report_t *rep, kc_audit_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void s_bad(kc_audit_report_t *rep, kc_audit_status_t st, const char *fmt, ...)
{
    if (rep->status != KC_AUDIT_OK)
        return; /* keep the first finding */
    rep->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(rep->reason, sizeof rep->reason, fmt, ap);
    va_end(ap);
}

static int s_node_check(unsigned level, uint64_t index, const uint8_t h[KC_MERKLE_HASH_LEN],
                        void *ctx)
{
    s_walk_t *w = ctx;
    uint8_t stored[KC_MERKLE_HASH_LEN];
    int rc = kc_mk_node_get(w->t, level, index, stored);
    if (rc != 0 && rc != KC_EFORMAT)
        return rc;
    w->rep->nodes_checked++;
    if ((rc == KC_EFORMAT || memcmp(stored, h, sizeof stored) != 0) && !w->node_bad) {
        w->node_bad = true;
        w->node_from = index << level;
        w->node_to = (index + 1) << level;
    }
    return 0;
}

/* Position a cursor: first (MDB_FIRST) or next; NOTFOUND -> *have = false. */
static int s_step(kc_txn_t *t, MDB_cursor *c, MDB_val *k, MDB_val *v, bool first, bool *have)
{
    int mrc = mdb_cursor_get(c, k, v, first ? MDB_FIRST : MDB_NEXT);
    *have = mrc == MDB_SUCCESS;
    if (mrc == MDB_SUCCESS || mrc == MDB_NOTFOUND)
        return 0;
    return kc_store_err(t->s, mrc, "verify: read");
}

static int s_head_check(s_walk_t *w, const MDB_val *hk, const MDB_val *hv, const uint8_t *pk,
                        const kc_mk_frontier_t *f, uint64_t *good)
{
    kc_audit_report_t *rep = w->rep;
    kc_merkle_sth_t h;
    if (hk->mv_size != 8 || hv->mv_size != KC_MK_HEAD_VAL_LEN) {
        memset(&h, 0, sizeof h);
        h.tree_size = hk->mv_size == 8 ? kc_be64_get(hk->mv_data) : 0;
        rep->bad_head = h;
        rep->range_from = *good;
        rep->range_to = h.tree_size;
        s_bad(rep, KC_AUDIT_BAD_HEAD, "head record of %zu bytes: not a signed head", hv->mv_size);
        return 0;
    }
    kc_mk_head_decode(kc_be64_get(hk->mv_data), hv->mv_data, &h);
    rep->heads++;
    uint8_t root[KC_MERKLE_HASH_LEN];
    kc_mk_frontier_root(f, root);
    bool root_ok = memcmp(root, h.root, sizeof root) == 0;
    bool sig_ok = pk && kc_merkle_sth_verify(&h, pk);
    if (root_ok && sig_ok) {
        *good = h.tree_size;
        rep->last_head = h;
        rep->have_head = true;
        return 0;
    }
    if (rep->status != KC_AUDIT_OK)
        return 0;
    rep->bad_head = h;
    if (!root_ok && w->node_bad) {
        rep->range_from = w->node_from;
        rep->range_to = w->node_to;
    } else {
        rep->range_from = root_ok ? 0 : *good;
        rep->range_to = h.tree_size;
    }
    if (!root_ok)
        s_bad(rep, KC_AUDIT_BAD_HEAD,
              "head of size %llu: its root is not the root of the log's first %llu entries; "
              "entries in [%llu, %llu) were changed",
              (unsigned long long)h.tree_size, (unsigned long long)h.tree_size,
              (unsigned long long)rep->range_from, (unsigned long long)rep->range_to);
    else
        s_bad(rep, KC_AUDIT_BAD_HEAD, "head of size %llu: bad signature%s",
              (unsigned long long)h.tree_size, pk ? "" : " (no public key)");
    return 0;
}

int kc_audit_verify(kc_txn_t *t, const uint8_t pk[KC_MERKLE_PUBKEY_LEN], kc_audit_report_t *rep,
                    void (*progress)(uint64_t done, uint64_t total, void *ctx), void *ctx)
{
    if (!t || !t->txn || !rep)
        return KC_EINVAL;
    memset(rep, 0, sizeof *rep);
    kc_store_stat_t st;
    int rc = kc_txn_stat(t, &st);
    if (rc != 0)
        return rc;
    uint64_t total = st.log_entries;

    MDB_cursor *lc = NULL, *hc = NULL;
    kc_mk_leaf_iter_t vi = {0};
    kc_mk_frontier_t *f = NULL;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_LOG], &lc);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_HEADS], &hc);
    if (mrc != MDB_SUCCESS) {
        rc = kc_store_err(t->s, mrc, "verify: open cursors");
        goto cursors_close;
    }
    if ((rc = kc_mk_leaf_iter_open(t, &vi)) != 0)
        goto cursors_close;
    f = calloc(1, sizeof *f); /* 2 KiB */
    if (!f) {
        rc = KC_ENOMEM;
        goto cursors_close;
    }
    s_walk_t w = {.t = t, .rep = rep};
    MDB_val lk, lv, hk, hv;
    bool lhave, vhave, hhave, vbad;
    uint64_t voff;
    const uint8_t *vh;
    uint64_t good = 0; /* size of the last head that verified */
    if ((rc = s_step(t, lc, &lk, &lv, true, &lhave)) != 0 ||
        (rc = kc_mk_leaf_iter_next(t, &vi, &vhave, &voff, &vh, &vbad)) != 0 ||
        (rc = s_step(t, hc, &hk, &hv, true, &hhave)) != 0)
        goto cursors_close;
    /* heads of size 0 cannot exist; any such record is checked against the empty tree */
    uint64_t i = 0;
    for (;; i++) {
        while (hhave && rep->status == KC_AUDIT_OK &&
               (hk.mv_size != 8 || kc_be64_get(hk.mv_data) <= i)) {
            if (hk.mv_size == 8 && kc_be64_get(hk.mv_data) < i) {
                rep->bad_head.tree_size = kc_be64_get(hk.mv_data);
                s_bad(rep, KC_AUDIT_BAD_HEAD, "head of size %llu out of order",
                      (unsigned long long)rep->bad_head.tree_size);
                break;
            }
            if ((rc = s_head_check(&w, &hk, &hv, pk, f, &good)) != 0 ||
                (rc = s_step(t, hc, &hk, &hv, false, &hhave)) != 0)
                goto cursors_close;
        }
        if (rep->status != KC_AUDIT_OK || (!lhave && !vhave))
            break;
        rep->bad_offset = i;
        if (!lhave) {
            s_bad(rep, KC_AUDIT_BAD_ENTRY,
                  "offset %llu: missing from the log, which ends there although leaf hashes "
                  "go on (truncated)",
                  (unsigned long long)i);
            break;
        }
        if (lk.mv_size != 8 || kc_be64_get(lk.mv_data) != i) {
            s_bad(rep, KC_AUDIT_BAD_ENTRY, "offset %llu: missing from the log (next key is %s%llu)",
                  (unsigned long long)i, lk.mv_size == 8 ? "" : "malformed ",
                  (unsigned long long)(lk.mv_size == 8 ? kc_be64_get(lk.mv_data) : 0));
            break;
        }
        if (!vhave || voff != i || vbad) {
            s_bad(rep, KC_AUDIT_BAD_ENTRY, "offset %llu: no stored leaf hash for it",
                  (unsigned long long)i);
            break;
        }
        rep->leaves++;
        kc_log_entry_t e;
        if (kc_store_log_decode(t, &lk, &lv, &e) != 0) {
            s_bad(rep, KC_AUDIT_BAD_ENTRY, "offset %llu: the log record is not readable",
                  (unsigned long long)i);
            break;
        }
        kc_merkle_leaf_t leaf;
        kc_log_entry_leaf(&e, &leaf);
        uint8_t h[KC_MERKLE_HASH_LEN];
        kc_merkle_leaf_hash(&leaf, h);
        if (memcmp(h, vh, sizeof h) != 0) {
            s_bad(rep, KC_AUDIT_BAD_ENTRY,
                  "offset %llu: the log record does not match its leaf hash (changed, "
                  "inserted or moved)",
                  (unsigned long long)i);
            break;
        }
        rep->log_entries++;
        if ((rc = kc_mk_frontier_push(f, h, s_node_check, &w)) != 0)
            goto cursors_close;
        if (progress && (i + 1) % S_PROGRESS_EVERY == 0)
            progress(i + 1, total, ctx);
        if ((rc = s_step(t, lc, &lk, &lv, false, &lhave)) != 0 ||
            (rc = kc_mk_leaf_iter_next(t, &vi, &vhave, &voff, &vh, &vbad)) != 0)
            goto cursors_close;
    }
    if (rep->status == KC_AUDIT_OK && hhave) {
        rep->bad_head.tree_size = hk.mv_size == 8 ? kc_be64_get(hk.mv_data) : 0;
        rep->range_from = i;
        rep->range_to = rep->bad_head.tree_size;
        s_bad(rep, KC_AUDIT_BAD_HEAD, "head of size %llu is beyond the log's %llu entries",
              (unsigned long long)rep->bad_head.tree_size, (unsigned long long)i);
    }
    if (rep->status == KC_AUDIT_OK && w.node_bad) {
        rep->range_from = w.node_from;
        rep->range_to = w.node_to;
        s_bad(rep, KC_AUDIT_BAD_HEAD,
              "stored subtree over [%llu, %llu) differs from the log's (no head covers it yet)",
              (unsigned long long)w.node_from, (unsigned long long)w.node_to);
    }
    if (rep->status != KC_AUDIT_OK)
        rep->have_head = false;
    if (rep->status != KC_AUDIT_BAD_ENTRY)
        rep->bad_offset = 0;
    if (progress)
        progress(rep->log_entries, total, ctx);
    rc = 0;
cursors_close:
    free(f);
    if (hc)
        mdb_cursor_close(hc);
    kc_mk_leaf_iter_close(&vi);
    if (lc)
        mdb_cursor_close(lc);
    return rc;
}
