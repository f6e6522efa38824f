/* oracle.h - the one check every fault scenario runs after each fault.
 *
 * DESIGN
 * The producers of a scenario are described by their generator inputs
 * (kc_gen_init prefix and seed, rows: the same as the CSV kc_gen_csv wrote),
 * so the oracle can regenerate every (province, event_id) without reading the
 * CSVs. A source is "acknowledged" once its kc-send ended with exit 0 and a
 * clean summary (unacknowledged=0): kc-send prints that only after the
 * aggregator acknowledged every row, i.e. after its durable commit.
 * kc_oracle_scan() opens the store read-only in one snapshot and computes:
 *   - in_log: log entries; each must decode, carry province and event_id and
 *     belong to a known source under that source's producer id (else
 *     "unexpected");
 *   - duplicates: (province, event_id) pairs seen more than once in the log;
 *   - order: per producer and spool epoch, seq rises strictly along the log
 *     and epochs never go back ("misordered");
 *   - lost: events of acknowledged sources that are not in the log.
 * With an acknowledgement record (kc_oracle_use_record(): the file kc-faultproxy
 * --record writes, one line per event the aggregator acknowledged, see
 * faultproxy.c), the scan reads the record's complete lines FIRST, then the
 * store's snapshot: every Ack in the record was sent after its commit, so the
 * snapshot must show it. Per (producer, epoch, seq) acknowledged:
 *   - every line of it agrees (outcome, identity), else "ack_conflicts";
 *   - accepted: the log holds that (producer, epoch, seq) once, with the same
 *     (province, event_id), and that identity is in the log exactly once;
 *     else "ack_lost" (absent) or "ack_conflicts" (another identity);
 *   - duplicate: the identity is in the log once, not at this seq;
 *     rejected: this seq is not in the log; else "ack_conflicts";
 * per identity: it is acknowledged accepted under at most one seq, else
 * "ack_twice"; and for a source marked acked (its producer ended clean: every
 * row it spooled was acknowledged) under exactly one, else "unacked". Lines of
 * an unknown producer or event, and the proxy's "undecoded"/"unmatched"
 * lines, count as "ack_conflicts" (the record cannot vouch for them).
 * This check holds at every step, while senders still run; lost/acked above
 * stay per source (what kc-send reported at its end).
 * It fails nothing itself, so a soak run can print its summary line first.
 * kc_oracle_assert() runs the scan and KC_CHECKs that nothing is duplicated,
 * unexpected, misordered or lost; with tools it also requires `kc-replay
 * verify --store` (totals = a replay of the log) and `kc-audit verify
 * --store` (leaves, subtrees, signed heads) to exit 0 — run those only while
 * no aggregator writes the store; with sums (every source acknowledged) it
 * also runs kc_verify_store() (exact totals = the CSV sums, producers'
 * counters).
 */
#ifndef KC_ORACLE_H
#define KC_ORACLE_H

#include "gen_csv.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
    char producer[72]; /* producer id on the wire */
    char prefix[72];   /* kc_gen prefix (event ids "<prefix>-NNNNNN") */
    uint64_t seed;     /* kc_gen seed */
    size_t rows;       /* rows generated */
    bool acked;        /* every row was acknowledged */
} kc_oracle_src_t;

typedef struct {
    uint64_t sent;       /* rows offered by all sources */
    uint64_t acked;      /* rows of acknowledged sources */
    uint64_t in_log;     /* log entries */
    uint64_t duplicates; /* extra copies of an identity in the log */
    uint64_t lost;       /* acknowledged events missing from the log */
    uint64_t unexpected; /* log entries that belong to no source */
    uint64_t misordered; /* per-producer order violations */
    /* with an acknowledgement record (else 0) */
    uint64_t ack_lines;     /* per-event lines in the record */
    uint64_t ack_events;    /* events acknowledged accepted (distinct identities) */
    uint64_t ack_lost;      /* acknowledged accepted, its seq not in the log */
    uint64_t ack_twice;     /* identities acknowledged accepted under two seqs */
    uint64_t ack_conflicts; /* record lines that disagree with each other or with the log */
    uint64_t unacked;       /* events of acked sources not acknowledged accepted once */
    char why[512];          /* first problem, "" if none */
} kc_oracle_result_t;

/* From now on, kc_oracle_scan() and kc_oracle_assert() in this process also
 * check the acknowledgement record at `path` (see DESIGN); NULL: stop. The
 * path is copied. */
void kc_oracle_use_record(const char *path);

/* Scan the store (see DESIGN). Returns 0, or a negative KC_E* code if the
 * store cannot be read (why says so). */
int kc_oracle_scan(const char *store, const kc_oracle_src_t *src, size_t n,
                   kc_oracle_result_t *res);

/* Scan and fail the test on any violation (see DESIGN). tools: also run
 * kc-replay verify and kc-audit verify. sums: NULL, or the exact sums of every
 * source (then all must be acknowledged) for kc_verify_store(). `when` names
 * the moment in messages ("after kill 3"). */
void kc_oracle_assert(const char *store, const kc_oracle_src_t *src, size_t n, bool tools,
                      const kc_gen_sums_t *sums, const char *when, kc_oracle_result_t *res);

/* Print the scenario's one-line summary on stdout:
 * "SUMMARY <name>: sent=N acknowledged=A in_log=L duplicates=D lost=X", and
 * with a record " ack_records=R ack_events=E ack_lost=M". */
void kc_oracle_summary(const char *name, const kc_oracle_result_t *res);

#endif
