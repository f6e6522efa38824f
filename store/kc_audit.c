/* kc_audit.c - kc_audit_verify: check the whole verifiable log in one pass.
 *
 * DESIGN
 * Two cursors walk in step over one read snapshot: log and heads; `nodes` is
 * read by key as subtrees complete. No leaf hash is stored (store format 4),
 * so there is no second copy of a leaf to compare an entry with: what an
 * entry is checked against is the stored subtree of its 64-entry block (and
 * of every larger block) and the signed heads after it.
 * For i = 0, 1, ...:
 *   1. the log must hold key i (a larger key: entry i was deleted) and its
 *      record must decode; the first failure is BAD_ENTRY at i, exactly.
 *   2. its leaf hash is recomputed and pushed onto a private frontier; each
 *      completed subtree of level >= 6 is compared with the stored node. The
 *      first mismatch (or missing node) is remembered with its range: the
 *      entries or the node changed, and the walk goes on to a head to tell.
 *   3. at each head's size, the frontier's root must equal the head's root
 *      and the signature must verify with pk. A head that verifies after a
 *      node mismatch clears the log up to its size: the node was changed
 *      (BAD_NODE). A head whose root fails (BAD_HEAD) bounds the change to
 *      [last good head's size, its size), narrowed to the failed node's
 *      block, or else to the entries after the last complete 64-entry block
 *      (every complete block before it matched its stored node).
 * At the end: a head that verifies but is larger than the log, or a stored
 * node beyond the log's end, means the log was truncated: BAD_ENTRY at the
 * log's size. A node mismatch that no head decided is BAD_NODE. A changed
 * entry after the last complete block and after the latest head is covered
 * by nothing stored, and cannot be found (docs/AUDIT.md). The pass is O(n)
 * hashing with sequential cursor reads, plus one node read per 32 entries.
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
#define S_BLOCK          ((uint64_t)1 << KC_MK_NODE_MIN_LEVEL) /* entries under a level-6 node */

typedef struct {
    kc_txn_t *t;
    kc_audit_report_t *rep;
    bool node_bad;               /* a stored node differed and no head decided yet */
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

static uint64_t s_max(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
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

/* The head at (hk, hv) against the frontier f of the log's first f->size
 * entries (= the head's size); *good is the size of the last head that
 * verified. */
static void s_head_check(s_walk_t *w, const MDB_val *hk, const MDB_val *hv, const uint8_t *pk,
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
        return;
    }
    kc_mk_head_decode(kc_be64_get(hk->mv_data), hv->mv_data, &h);
    rep->heads++;
    uint8_t root[KC_MERKLE_HASH_LEN];
    kc_mk_frontier_root(f, root);
    bool root_ok = memcmp(root, h.root, sizeof root) == 0;
    bool sig_ok = pk && kc_merkle_sth_verify(&h, pk);
    if (root_ok && sig_ok) {
        if (w->node_bad) { /* the log up to this head is the signed one: the node changed */
            rep->range_from = w->node_from;
            rep->range_to = w->node_to;
            s_bad(rep, KC_AUDIT_BAD_NODE,
                  "stored subtree over [%llu, %llu) does not match the log, which agrees with "
                  "the signed head of size %llu: the stored subtree was changed",
                  (unsigned long long)w->node_from, (unsigned long long)w->node_to,
                  (unsigned long long)h.tree_size);
            return;
        }
        *good = h.tree_size;
        rep->last_head = h;
        rep->have_head = true;
        return;
    }
    rep->bad_head = h;
    if (!root_ok && sig_ok) {
        /* the signed head is genuine: entries in [*good, size) changed; a failed node
         * narrows that to its block, else every complete block up to here matched */
        if (w->node_bad) {
            rep->range_from = s_max(w->node_from, *good);
            rep->range_to = w->node_to;
        } else {
            rep->range_from = s_max(*good, h.tree_size - h.tree_size % S_BLOCK);
            rep->range_to = h.tree_size;
        }
        s_bad(rep, KC_AUDIT_BAD_HEAD,
              "head of size %llu: its root is not the root of the log's first %llu entries; "
              "entries in [%llu, %llu) were changed",
              (unsigned long long)h.tree_size, (unsigned long long)h.tree_size,
              (unsigned long long)rep->range_from, (unsigned long long)rep->range_to);
    } else if (!root_ok) {
        rep->range_from = *good;
        rep->range_to = h.tree_size;
        s_bad(rep, KC_AUDIT_BAD_HEAD,
              "head of size %llu: its root is not the root of the log's first %llu entries and "
              "its signature does not verify%s: the head was changed (or the log since %llu)",
              (unsigned long long)h.tree_size, (unsigned long long)h.tree_size,
              pk ? "" : " (no public key)", (unsigned long long)*good);
    } else {
        rep->range_from = 0;
        rep->range_to = h.tree_size;
        s_bad(rep, KC_AUDIT_BAD_HEAD, "head of size %llu: bad signature%s",
              (unsigned long long)h.tree_size, pk ? "" : " (no public key)");
    }
}

/* A stored node whose leaves go beyond the log's `size` entries: *found, and
 * its range. One seek per level. */
static int s_node_beyond(kc_txn_t *t, uint64_t size, bool *found, uint64_t *from, uint64_t *to)
{
    *found = false;
    MDB_cursor *c;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_NODES], &c);
    if (mrc != MDB_SUCCESS)
        return kc_store_err(t->s, mrc, "verify: open nodes cursor");
    int rc = 0;
    for (unsigned l = KC_MK_NODE_MIN_LEVEL; l < KC_MK_LEVELS && !*found; l++) {
        uint8_t kb[KC_MK_NODE_KEY_LEN];
        kb[0] = (uint8_t)l;
        kc_be64_put(kb + 1, size >> l); /* the first node of level l that is not inside the log */
        MDB_val k = {sizeof kb, kb}, v;
        mrc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
        if (mrc == MDB_NOTFOUND)
            break;
        if (mrc != MDB_SUCCESS) {
            rc = kc_store_err(t->s, mrc, "verify: read nodes");
            break;
        }
        if (k.mv_size == KC_MK_NODE_KEY_LEN && ((const uint8_t *)k.mv_data)[0] == l) {
            uint64_t index = kc_be64_get((const uint8_t *)k.mv_data + 1);
            *found = true;
            *from = index << l;
            *to = index + 1 > UINT64_MAX >> l ? UINT64_MAX : (index + 1) << l;
        }
    }
    mdb_cursor_close(c);
    return rc;
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
    kc_mk_frontier_t *f = NULL;
    int mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_LOG], &lc);
    if (mrc == MDB_SUCCESS)
        mrc = mdb_cursor_open(t->txn, t->s->dbi[KC_DB_HEADS], &hc);
    if (mrc != MDB_SUCCESS) {
        rc = kc_store_err(t->s, mrc, "verify: open cursors");
        goto cursors_close;
    }
    f = calloc(1, sizeof *f); /* 2 KiB */
    if (!f) {
        rc = KC_ENOMEM;
        goto cursors_close;
    }
    s_walk_t w = {.t = t, .rep = rep};
    MDB_val lk, lv, hk, hv;
    bool lhave, hhave;
    uint64_t good = 0; /* size of the last head that verified */
    if ((rc = s_step(t, lc, &lk, &lv, true, &lhave)) != 0 ||
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
            s_head_check(&w, &hk, &hv, pk, f, &good);
            if ((rc = s_step(t, hc, &hk, &hv, false, &hhave)) != 0)
                goto cursors_close;
        }
        if (rep->status != KC_AUDIT_OK || !lhave)
            break;
        rep->bad_offset = i;
        if (lk.mv_size != 8 || kc_be64_get(lk.mv_data) != i) {
            s_bad(rep, KC_AUDIT_BAD_ENTRY, "offset %llu: missing from the log (next key is %s%llu)",
                  (unsigned long long)i, lk.mv_size == 8 ? "" : "malformed ",
                  (unsigned long long)(lk.mv_size == 8 ? kc_be64_get(lk.mv_data) : 0));
            break;
        }
        uint8_t h[KC_MERKLE_HASH_LEN];
        if (kc_mk_leaf_from_record(t, &lk, &lv, i, h) != 0) {
            s_bad(rep, KC_AUDIT_BAD_ENTRY, "offset %llu: the log record is not readable",
                  (unsigned long long)i);
            break;
        }
        rep->log_entries++;
        if ((rc = kc_mk_frontier_push(f, h, s_node_check, &w)) != 0)
            goto cursors_close;
        if (progress && (i + 1) % S_PROGRESS_EVERY == 0)
            progress(i + 1, total, ctx);
        if ((rc = s_step(t, lc, &lk, &lv, false, &lhave)) != 0)
            goto cursors_close;
    }
    if (rep->status == KC_AUDIT_OK && hhave) { /* heads beyond the log's i entries */
        kc_merkle_sth_t h = {0};
        bool sig_ok = false;
        if (hk.mv_size == 8 && hv.mv_size == KC_MK_HEAD_VAL_LEN) {
            kc_mk_head_decode(kc_be64_get(hk.mv_data), hv.mv_data, &h);
            sig_ok = pk && kc_merkle_sth_verify(&h, pk);
        } else {
            h.tree_size = hk.mv_size == 8 ? kc_be64_get(hk.mv_data) : 0;
        }
        if (sig_ok) {
            rep->bad_offset = i;
            s_bad(rep, KC_AUDIT_BAD_ENTRY,
                  "offset %llu: missing from the log, which ends there although a signed head "
                  "covers %llu entries (truncated)",
                  (unsigned long long)i, (unsigned long long)h.tree_size);
        } else {
            rep->bad_head = h;
            rep->range_from = i;
            rep->range_to = h.tree_size;
            s_bad(rep, KC_AUDIT_BAD_HEAD,
                  "head of size %llu is beyond the log's %llu entries and its signature does "
                  "not verify",
                  (unsigned long long)h.tree_size, (unsigned long long)i);
        }
    }
    if (rep->status == KC_AUDIT_OK) { /* stored subtrees beyond the log's end */
        bool found = false;
        uint64_t from = 0, to = 0;
        if ((rc = s_node_beyond(t, i, &found, &from, &to)) != 0)
            goto cursors_close;
        if (found) {
            rep->bad_offset = i;
            s_bad(rep, KC_AUDIT_BAD_ENTRY,
                  "offset %llu: missing from the log, which ends there although a stored "
                  "subtree covers [%llu, %llu) (truncated)",
                  (unsigned long long)i, (unsigned long long)from, (unsigned long long)to);
        }
    }
    if (rep->status == KC_AUDIT_OK && w.node_bad) {
        rep->range_from = w.node_from;
        rep->range_to = w.node_to;
        s_bad(rep, KC_AUDIT_BAD_NODE,
              "stored subtree over [%llu, %llu) does not match the log: those entries or the "
              "subtree were changed (no signed head covers them yet)",
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
    if (lc)
        mdb_cursor_close(lc);
    return rc;
}
