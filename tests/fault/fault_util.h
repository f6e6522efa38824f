/* fault_util.h - shared pieces of the fault scenarios: a fleet of kc-send
 * processes, bounded waits for observable conditions, counters and sizes.
 *
 * DESIGN
 * Every wait here is for something observable (a log line in a child's
 * stderr file, the store's log size, a child's exit, a file's size) polled in
 * kc_harness_poll_pause() steps inside a deadline; none is a bare sleep. The
 * fleet keeps, per producer, its CSV (kc_gen_csv), spool, current kc-send pid
 * and an oracle source (oracle.h) whose `acked` becomes true when a run of
 * that producer ends with exit 0 and a clean summary. A producer may be run
 * several times (killed and rerun from its spool); each run appends its own
 * "send-<i>-<run>.out" file.
 * kc_proxy_* run kc-faultproxy (faultproxy.c) between the producers and the
 * aggregator: a TCP relay on its own free port that connects to the
 * aggregator's port for each producer connection (refusing while the
 * aggregator is down, so producers reconnect as they would to it), takes mode
 * commands through a FIFO, and writes the acknowledgement record that the
 * oracle then checks at every step (kc_oracle_use_record()).
 */
#ifndef KC_FAULT_UTIL_H
#define KC_FAULT_UTIL_H

#include "harness.h"
#include "oracle.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define KC_FLEET_MAX 16

typedef struct {
    int n;                               /* producers */
    size_t rows;                         /* rows per producer */
    char prod[KC_FLEET_MAX][32];         /* producer ids */
    char csv[KC_FLEET_MAX][KC_PATH_MAX]; /* their CSV files */
    char spool[KC_FLEET_MAX][KC_PATH_MAX];
    char out[KC_FLEET_MAX][KC_PATH_MAX]; /* stdout of the current run (stderr: + ".err") */
    pid_t pid[KC_FLEET_MAX];             /* running kc-send, 0 = none */
    int runs[KC_FLEET_MAX];              /* runs started */
    kc_oracle_src_t src[KC_FLEET_MAX];   /* for the oracle */
    kc_gen_sums_t sums;                  /* exact sums of all CSVs */
    const char *const *extra;            /* extra kc-send arguments (borrowed), or NULL */
    long accepted, duplicates;           /* summed over the clean runs */
} kc_fleet_t;

/* A running kc-faultproxy. */
typedef struct {
    pid_t pid;
    int port;          /* where producers connect */
    char endpoint[64]; /* "tcp://127.0.0.1:<port>" */
    char ctl[KC_PATH_MAX], status[KC_PATH_MAX], record[KC_PATH_MAX], err[KC_PATH_MAX];
    int ctl_fd; /* write end of the control FIFO */
    int cmds;   /* commands written */
} kc_proxy_t;

/* Start kc-faultproxy in mode pass, relaying to 127.0.0.1:<port of
 * target_endpoint> ("tcp://127.0.0.1:N"), with its acknowledgement record
 * "acks.rec" in the temp dir, and make the oracle check that record
 * (kc_oracle_use_record). Waits (bounded) until it is ready. */
void kc_proxy_start(kc_proxy_t *px, const char *target_endpoint);
/* Send one mode command ("noack", "latency 500", ...) and wait (bounded) until
 * the proxy applied it. */
void kc_proxy_mode(kc_proxy_t *px, const char *cmd);
/* A counter of the proxy's status line ("dropped", "resets", "acks", ...); -1
 * if unreadable. */
long long kc_proxy_field(const kc_proxy_t *px, const char *key);
/* SIGTERM the proxy: it must exit 0 with no undecoded stream or unmatched Ack. */
void kc_proxy_stop(kc_proxy_t *px);

/* Whether argv holds "--long". */
bool kc_fault_is_long(int argc, char **argv);
/* Seeded generator (splitmix64): seed from $KC_FAULT_SEED, else `dflt`; printed. */
uint64_t kc_fault_seed(uint64_t dflt);
uint64_t kc_fault_rand(uint64_t *state);

/* Write n CSVs of `rows` rows (producer ids "<tag>-<i>", seeds seed+i);
 * spools under the temp dir unless spool_root is non-NULL. */
void kc_fleet_init(kc_fleet_t *f, int n, size_t rows, uint64_t seed, const char *tag,
                   const char *spool_root);
/* Start a new run of producer i against endpoint. */
void kc_fleet_start(kc_fleet_t *f, int i, const char *endpoint);
void kc_fleet_start_all(kc_fleet_t *f, const char *endpoint);
/* Reap producers that ended; each must have ended clean (exit 0, summary with
 * nothing unacknowledged), which marks it acknowledged. Returns how many runs
 * are still going. */
int kc_fleet_poll(kc_fleet_t *f);
/* Wait (bounded) for every running producer and check each as above. */
void kc_fleet_wait_all(kc_fleet_t *f, int timeout_ms);
/* The stderr file of producer i's current run (its out file + ".err") into
 * buf[KC_PATH_MAX + 8]; returns buf. */
char *kc_fleet_err(const kc_fleet_t *f, int i, char *buf);
/* SIGKILL the running kc-send of producer i and reap it. */
void kc_fleet_kill(kc_fleet_t *f, int i);

/* Wait until the store's log holds at least `n` entries; fails the test at
 * the deadline, or if every producer ended (when fleet is non-NULL). Returns
 * the size seen. */
uint64_t kc_fault_wait_log(const char *store, uint64_t n, int timeout_ms, kc_fleet_t *fleet);
/* Read the log size (0 if the store does not exist yet). */
uint64_t kc_fault_log_size(const char *store);

/* The next sequence number a producer's spool will assign (meta/next_seq,
 * kc_spool.h), read in a read-only LMDB transaction while its producer may
 * run; 0 if the spool cannot be read yet. next_seq - 1 = events spooled. */
uint64_t kc_fault_spool_next_seq(const char *spool_dir);

/* Occurrences of `needle` in the file at path (0 if absent). */
int kc_fault_count(const char *path, const char *needle);
/* Wait until `needle` occurs at least `times` times in the file; true if it
 * did before the deadline. */
bool kc_fault_wait_text(const char *path, const char *needle, int times, int timeout_ms);
/* Size of a file in bytes, -1 if absent. */
long long kc_fault_file_size(const char *path);
/* VmHWM (peak resident set, file-backed pages of the store's map included)
 * or RssAnon (anonymous resident memory now) of a process in KiB, -1 if
 * unreadable. */
long kc_fault_vmhwm_kb(pid_t pid);
long kc_fault_rss_anon_kb(pid_t pid);
/* From the last line of path containing `line_tag` (e.g. "stopped:") and `key=`, the value
 * of `key=`; -1 if absent. */
long long kc_fault_counter(const char *path, const char *line_tag, const char *key);

/* Preload the shared library `lib` (a fault shim) into the children started from now on:
 * LD_PRELOAD, and ASAN_OPTIONS with verify_asan_link_order=0 (the shim comes before the
 * ASan runtime in the link order) plus `asan_extra` ("opt=value[:...]", or NULL), the
 * previous ASAN_OPTIONS saved. The shim's own variables are the caller's. */
void kc_fault_preload(const char *lib, const char *asan_extra);
/* Undo kc_fault_preload: LD_PRELOAD unset, ASAN_OPTIONS as it was. */
void kc_fault_unpreload(void);

#endif
