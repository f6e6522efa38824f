/* kc_store_int.h - libkcstore internals shared by its source files (not installed).
 *
 * The store and transaction structs, byte-order helpers for the on-disk
 * layouts, and the LMDB-to-KC_E* error mapping. Every on-disk integer is
 * written byte by byte, so the files do not depend on the host's byte order
 * or alignment (LMDB values are not aligned).
 */
#ifndef KC_STORE_INT_H
#define KC_STORE_INT_H

#include "kc_store.h"

#include <endian.h>
#include <lmdb.h>
#include <pthread.h>
#include <string.h>

typedef struct kc_mk_state kc_mk_state_t; /* kc_merkle_int.h */

/* Named databases, index into kc_store.dbi. */
enum {
    KC_DB_LOG = 0,
    KC_DB_PRODUCERS,
    KC_DB_IDENTITIES, /* format 4: no database of its own: one per unit, "idents/NN"
                         (kc_store_unit_dbi); the name "idents" labels them in stats */
    KC_DB_TOTALS,
    KC_DB_REJECTS,
    KC_DB_NODES,        /* level + index -> hash of a complete subtree, levels >= 6 */
    KC_DB_HEADS,        /* tree size -> signed tree head */
    KC_DB_CHECKPOINTS,  /* log size + cell key -> totals cell (kc_checkpoint.c) */
    KC_DB_UNITS,        /* unit key -> last report of a province unit (kc_store_state.c) */
    KC_DB_PRODUCER_IDS, /* format 4: producer index <-> (producer id, epoch) (log layout 2) */
    KC_DB_PERIODS,      /* unit key + period -> sign-off/approval state (kc_store_state.c) */
    KC_DB_SUMMARIES,    /* robust value summaries (core's kc_outlier; kc_store_summary.c) */
    KC_DB_META,         /* stays last: a reader opens it first */
    KC_DB_COUNT
};

extern const char *const kc_store_db_names[KC_DB_COUNT];

struct kc_store {
    MDB_env *env;             /* the LMDB environment */
    MDB_dbi dbi[KC_DB_COUNT]; /* named database handles, valid after open */
    bool read_only;           /* opened with MDB_RDONLY */
    bool broken;              /* a failed remap left the environment unusable */
    char *dir;                /* directory, for log messages (owned) */
    int writer_fd;            /* writer.lock, flock()ed exclusively by a writable open; -1 */
    pthread_mutex_t gate;     /* guards active; held while remapping */
    pthread_cond_t idle;      /* signalled when active drops to 0 */
    unsigned active;          /* transactions in progress in this process */
    kc_mk_state_t *mk;        /* Merkle frontier, signing key, head policy (owned) */
    bool no_checkpoints;      /* read-only open of a store without a checkpoints database */
    bool no_units;            /* read-only open of a store without a units database */
    bool no_periods;          /* read-only open of a store without a periods database */
    bool no_summaries;        /* read-only open of a store without a summaries database */
    bool allow_old_format;    /* kc_store_opts_t.allow_old_format */
    int format;               /* format version found at open (KC_STORE_FORMAT once migrated) */
    bool no_fmt4;             /* read-only open of an older store: no idents / producer_ids */
    /* Identity databases, one per unit ("idents/NN", kc_store_unit_dbi). A
     * handle is published here once the transaction that opened it has
     * committed (LMDB's rule for mdb_dbi_open); see kc_store.c, DESIGN. */
    MDB_dbi main_dbi;       /* LMDB's main database (names of the named ones) */
    bool units_ready;       /* open finished: read txns check for new unit databases */
    pthread_mutex_t dbi_mu; /* guards w_live, pub_seq, publication, mdb_dbi_open by readers */
    pthread_cond_t dbi_cv;  /* signalled when w_live drops */
    bool w_live;            /* a write transaction is in progress */
    unsigned sync_wanted;   /* readers waiting to open unit databases (writers wait) */
    uint64_t pub_seq;       /* handles published so far */
    uint64_t main_seen;     /* 1 + main-database entry count at which every unit database
                               of a snapshot was published (0: never) */
    MDB_dbi unit_dbi[256];  /* valid once unit_pub[u] != 0 */
    uint64_t unit_pub[256]; /* publication number of the handle (atomic), 0 = none */
};

/* Identities put in the current write txn at offsets not yet in the log
 * (kc_store_state.c): whose they are, and their content hash, until the log
 * append at that offset (see kc_store_state.c, DESIGN). */
#define KC_ID_PENDING      4
#define KC_ID_EVENT_ID_MAX 510
typedef struct {
    uint64_t offset;
    uint8_t unit;
    uint16_t len;
    uint8_t hash[16];
    char event_id[KC_ID_EVENT_ID_MAX];
} kc_id_pending_t;

/* Events of layout-2 records stored without their transport tail are rebuilt
 * into a ring of this many buffers per txn (kc_store_log.c). */
#define KC_EVBUF_RING 8

/* Receive times of recently decoded log records kept per txn (kc_store_log.c). */
#define KC_TCACHE 4

/* Producer indexes of log record layout 2 (kc_store_log.c). */
#define KC_PIDX_CACHE 16
typedef struct {
    uint32_t idx; /* + 1; 0 = empty slot */
    uint64_t epoch;
    uint8_t len;
    const char *name; /* read txns: LMDB memory, valid for the txn */
    char copy[255];   /* write txns: the name (compare on append) */
} kc_pidx_slot_t;

struct kc_txn {
    kc_store_t *s;          /* owning store */
    MDB_txn *txn;           /* the LMDB transaction */
    bool write;             /* write transaction (inside kc_store_write) */
    bool mapfull;           /* a put met MDB_MAP_FULL: grow and redo */
    int err;                /* first other failure of a put, 0 if none */
    bool log_next_known;    /* log_next is valid */
    uint64_t log_next;      /* next log offset (write txns, cached) */
    MDB_cursor *totals_cur; /* write txns: reused for totals updates; freed by LMDB */
    bool mk_loaded;         /* write txns: s->mk->work is this txn's Merkle frontier */
    bool mk_signed;         /* write txns: a head was signed in this txn */
    unsigned id_npend;      /* write txns: kc_id_pending_t in use */
    kc_id_pending_t id_pend[KC_ID_PENDING];
    kc_pidx_slot_t pidx[KC_PIDX_CACHE]; /* producer index cache (by idx % KC_PIDX_CACHE) */
    bool pidx_next_known;               /* write txns: pidx_next valid */
    uint32_t pidx_next;                 /* write txns: next producer index to assign */
    /* received_ns of log records (layout-2 time deltas, kc_store_log.c): the
     * last appended (write txns), and a ring of the last ones decoded */
    bool app_valid;
    uint64_t app_off, app_ns;
    uint64_t tc_off[KC_TCACHE], tc_ns[KC_TCACHE];
    unsigned tc_n, tc_next;
    uint8_t *evbuf[KC_EVBUF_RING]; /* events rebuilt from layout-2 records (kc_store_log.c) */
    size_t evcap[KC_EVBUF_RING];
    unsigned evnext;
    uint64_t pub;     /* unit handles published when the txn began (s->pub_seq) */
    unsigned nwunits; /* write txns: unit databases opened in this txn (not published) */
    uint8_t wunit[256];
    MDB_dbi wdbi[256];
};

/* Identity database of `unit` ("idents/NN", kc_store.c): in *dbi, or
 * KC_ENOTFOUND if it does not exist in this transaction's snapshot. create:
 * (write txns) create it if missing. */
int kc_store_unit_dbi(kc_txn_t *t, uint8_t unit, bool create, MDB_dbi *dbi);
/* fn for each unit database of the transaction's snapshot, in unit order,
 * until fn returns non-zero (returned). */
int kc_store_units_each(kc_txn_t *t, int (*fn)(kc_txn_t *t, uint8_t unit, MDB_dbi dbi, void *ctx),
                        void *ctx);

/* Writer open of an existing store (kc_store.c): open the summaries database,
 * creating it if missing and then recording in meta the log size it starts at
 * (kc_store_summary.c). */
int kc_store_summaries_create(kc_txn_t *t, MDB_dbi *dbi);

/* Free what a transaction allocated (kc_store_log.c); called by kc_store.c
 * when the LMDB transaction has ended. */
void kc_txn_release(kc_txn_t *t);

/* Map an LMDB (or errno) code to KC_E*; logs an error naming `what` unless
 * the code is an expected outcome (MDB_NOTFOUND, MDB_MAP_FULL). */
int kc_store_err(const kc_store_t *s, int mrc, const char *what);
/* The same for a put inside a write transaction: records MDB_MAP_FULL /
 * failures in t so that kc_store_write() can redo or refuse the commit. */
int kc_store_put_err(kc_txn_t *t, int mrc, const char *what);
/* KC_EINVAL unless t is a live write transaction. */
int kc_store_check_write(const kc_txn_t *t);
/* The remap gate (kc_store.c): count a transaction of this store in / out, so
 * that no remap happens meanwhile (LMDB calls that begin their own read txn,
 * such as mdb_env_copyfd2, run between these). */
int kc_store_enter(kc_store_t *s);
void kc_store_leave(kc_store_t *s);
/* Adopt the map size another process grew the file to (after MDB_MAP_RESIZED);
 * no transaction of this store may be counted in. */
int kc_store_adopt_map(kc_store_t *s);
/* Decode a log record (kc_store_log.c); KC_EFORMAT (logged) if it is not one. */
int kc_store_log_decode(const kc_txn_t *t, const MDB_val *k, const MDB_val *v, kc_log_entry_t *out);

/* Identities (kc_store_state.c), for the 3 -> 4 migration: kc_txn_identity_put
 * (which appends whenever the key is past the unit's last one), storing
 * id->hash in the record too if explicit_hash (an identity whose hash is not
 * the one recomputed from its log entry). */
int kc_store_identity_append(kc_txn_t *t, uint8_t unit, const char *event_id, size_t len,
                             const kc_identity_t *id, bool explicit_hash);
/* Check that the identity (unit, event_id) found as *id (its offset set)
 * names a logged Event with that event_id: 0, KC_EFORMAT (logged) if not, or
 * KC_E*. (Its content hash is the migration's hash callback's: core.) */
int kc_store_identity_confirm(kc_txn_t *t, uint8_t unit, const char *event_id, size_t len,
                              kc_identity_t *id);

/* Fixed-width integers in the store's records: one load or store each (memcpy
 * of 8 bytes plus a byte swap where the host order differs), whatever the
 * alignment of LMDB's memory. */
static inline void kc_be64_put(uint8_t *p, uint64_t v)
{
    v = htobe64(v);
    memcpy(p, &v, sizeof v);
}

static inline uint64_t kc_be64_get(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return be64toh(v);
}

static inline void kc_le64_put(uint8_t *p, uint64_t v)
{
    v = htole64(v);
    memcpy(p, &v, sizeof v);
}

static inline uint64_t kc_le64_get(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return le64toh(v);
}

#endif
