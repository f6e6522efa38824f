/* kc_replay.c - kc-replay: rebuild totals from the event log alone, verify a
 * store's totals against its log, re-publish an exported log into an aggregator.
 *
 * DESIGN
 * rebuild --from STORE|FILE --to NEWSTORE
 *   NEWSTORE must not exist or be an empty directory. The source log is read
 *   in offset order (a store: one read snapshot; a file: the kc_logfile
 *   reader, which checks every record's leaf hash, the root and the signed
 *   head as it goes) and replayed through libkcreplay (kc_replay.h): the
 *   new store gets the log entries verbatim (so the same Merkle leaves and
 *   root), the identities, every totals cell and each producer's high-water
 *   mark, i.e. a complete store an aggregator could serve from. It gets its
 *   OWN signing key (audit.key, created on open; printed), and one signed
 *   head over the whole log. After the replay its root must equal the
 *   source's root of the same size (store: recomputed; file: the verified
 *   head's), else the rebuild fails. On any failure (an inconsistent log, a
 *   file that does not verify to the end, a store error) everything written
 *   into NEWSTORE is removed again (it was empty before).
 * verify --store S
 *   Replays S's log (one snapshot, one cursor scan) in memory (libkcreplay's
 *   memory mode: identities in a hash table confirmed against the log,
 *   targets' events read from the same snapshot, totals in memory; nothing is
 *   written anywhere), then compares every cell with S's totals of the SAME
 *   snapshot. Exit 0 "N cells identical", or 1 with one
 *   line per differing field of each differing cell.
 * send --file F --connect EP [--producer ID] [--spool DIR]
 *   Verifies F completely first (nothing is sent from an unverified file),
 *   then decodes each Event and re-encodes it through libkcingest as a new
 *   event of this producer (kc_event_t: op, corrects, kind, fund, metrics and
 *   note carried over, and submitted_by through kc_producer_set_submitted_by;
 *   the original producer_id/seq are transport fields and
 *   are replaced by the spool's). Business dedup (province + event_id +
 *   content hash, which ignores transport fields) makes a second send of the
 *   same file all duplicates: nothing changes, exit 0, and the summary says so.
 * Exit codes: rebuild/verify 0 ok, 1 the log is inconsistent / totals differ /
 * the file does not verify, 64 usage, 66 no such source, 70 internal or store
 * error, 73 NEWSTORE is not empty; send as kc-send: 0 every event accepted or
 * duplicate, 65 some rejected (or the file does not verify), 69 aggregator
 * unavailable / fenced / spool unusable, 75 timed out with events unacknowledged.
 */
#include "kc_audit.h"
#include "kc_cli.h"
#include "kc_conf.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_filter.h"
#include "kc_i128.h"
#include "kc_jtext.h"
#include "kc_log.h"
#include "kc_merkle.h"
#include "kc_progress.h"
#include "kc_period.h"
#include "kc_replay.h"
#include "kc_text.h"
#include "kc_time.h"
#include "kc_logfile.h"
#include "kcingest.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG             "kc-replay"
#define S_EX_FAIL        1
#define S_EX_NOINPUT     66
#define S_EX_SOFTWARE    70
#define S_EX_CANTCREAT   73
#define S_EX_UNAVAILABLE 69
#define S_EX_TEMPFAIL    75

_Static_assert((int)KC_METRIC_COUNT == (int)KCI_METRIC_COUNT,
               "metric order shared with libkcingest");

typedef struct {
    const char *cmd;
    const char *from, *to, *store, *file, *connect, *producer, *spool, *tmp, *key;
    long group;
    long timeout_s; /* send: -1 = no limit */
    bool quiet;
} s_opts_t;

static volatile sig_atomic_t s_stop;

static void s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: " PROG " COMMAND [options]\n"
            "Replay kcpipe's event log: rebuild every total from the log alone, check a\n"
            "store's totals against its log, or re-publish an exported log.\n"
            "\n"
            "Commands:\n"
            "  rebuild --from STORE|FILE --to NEWSTORE\n"
            "        build a complete new store (log, identities, totals, producers' marks)\n"
            "        from a store's log or an exported log file (kc-log export); NEWSTORE\n"
            "        must not exist or be empty; it gets a new signing key\n"
            "  verify --store S\n"
            "        recompute every total from S's log and compare cell by cell\n"
            "  send --file F --connect EP [--producer ID] [--spool DIR]\n"
            "        re-publish F's events into an aggregator (idempotent: a second send\n"
            "        is all duplicates)\n"
            "\n"
            "Options:\n"
            "  -f, --from SRC        rebuild: a store directory or an exported log file\n"
            "  -t, --to DIR          rebuild: the new store\n"
            "  -s, --store DIR       verify: the store\n"
            "  -F, --file FILE       send: the exported log file\n"
            "  -c, --connect EP      send: aggregator endpoint, e.g. tcp://127.0.0.1:5555\n"
            "  -p, --producer ID     send: producer id (default kc-replay)\n"
            "  -S, --spool DIR       send: spool directory (default FILE.spool)\n"
            "  -T, --timeout SECONDS send: give up waiting for acks after this long\n"
            "  -k, --key HEX         require a log file to be signed by this public key\n"
            "  -g, --group N         entries per write transaction (default %d)\n"
            "      --tmp DIR         accepted for compatibility (verify needs no scratch store)\n"
            "  -q, --quiet           no progress line\n"
            "      --config FILE     read options from FILE (default: /etc/kcpipe/replay.conf\n"
            "                        if it exists); options given here win\n"
            "      --no-config       read no config file\n"
            "      --check-config    check the config file and options: print 'FILE: ok'\n"
            "                        and exit 0, or each error as FILE:LINE and exit 78\n"
            "  -h, --help            show this help and exit\n"
            "  -V, --version         show the version and exit\n"
            "\n"
            "Exit: 0 ok; 1 the log is inconsistent, totals differ or the file does not\n"
            "verify; 64 usage; 66 no such source; 70 internal error; 73 NEWSTORE not\n"
            "empty. send: 0 all accepted or duplicate, 65 rejected or bad file, 69\n"
            "unavailable, 75 timed out.\n",
            KC_REPLAY_DEFAULT_GROUP);
}

static void s_hex(const uint8_t *b, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
    out[2 * n] = '\0';
}

static int s_parse_key(const char *hex, uint8_t key[KC_MERKLE_PUBKEY_LEN])
{
    size_t bin_len = 0;
    if (strlen(hex) != 2 * KC_MERKLE_PUBKEY_LEN ||
        sodium_hex2bin(key, KC_MERKLE_PUBKEY_LEN, hex, strlen(hex), NULL, &bin_len, NULL) != 0 ||
        bin_len != KC_MERKLE_PUBKEY_LEN)
        return KC_EINVAL;
    return 0;
}

/* ---- NEWSTORE: must be absent or empty; removed again on failure ---- */

/* 0 if dir does not exist (*created = it will be) or is an empty directory. */
static int s_check_empty(const char *dir, bool *exists)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) {
            *exists = false;
            return 0;
        }
        return -errno;
    }
    *exists = true;
    struct dirent *de;
    int rc = 0;
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            rc = KC_EINVAL;
            break;
        }
    closedir(d);
    return rc;
}

/* Remove the files of a store directory we created or found empty (flat). */
static void s_remove_store(const char *dir, bool remove_dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    char path[4096];
    while ((de = readdir(d)))
        if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
            if (unlink(path) != 0)
                fprintf(stderr, PROG ": cannot remove %s: %s\n", path, strerror(errno));
        }
    closedir(d);
    if (remove_dir && rmdir(dir) != 0)
        fprintf(stderr, PROG ": cannot remove %s: %s\n", dir, strerror(errno));
}

static void s_print_failure(const char *what, const kc_replay_t *r)
{
    const kc_replay_failure_t *f = kc_replay_failure(r);
    fprintf(stderr, PROG ": %s: the log is inconsistent at offset %" PRIu64 ": %s\n", what,
            f->offset, f->why);
}

static void s_print_summary(const char *what, const kc_replay_t *r, double secs)
{
    const kc_replay_stats_t *st = kc_replay_stats(r);
    printf("%s: %" PRIu64 " entries (%" PRIu64 " records, %" PRIu64 " corrections, %" PRIu64
           " retractions), %" PRIu64 " cells, %" PRIu64 " producers, %.2f s, %.0f events/s\n",
           what, st->entries, st->records, st->corrections, st->retractions, st->cells,
           st->producers, secs, secs > 0 ? (double)st->entries / secs : 0.0);
}

/* ---- rebuild ---- */

typedef struct {
    kc_store_t *dst;
    kc_replay_t *r;
    uint64_t size;                    /* entries replayed */
    uint8_t root[KC_MERKLE_HASH_LEN]; /* the source's root of that size */
} s_rebuilt_t;

static int s_rebuild_from_store(const s_opts_t *o, kc_replay_opts_t *ro, s_rebuilt_t *out)
{
    kc_store_t *src;
    int ex = kc_cli_open_store(PROG, o->from, &src);
    if (ex != 0)
        return ex;
    kc_txn_t *t = NULL;
    int rc = kc_store_read_begin(src, &t);
    if (rc == 0)
        rc = kc_txn_log_size(t, &out->size);
    if (rc == 0) {
        ro->total = out->size;
        ro->events_from = t;
        rc = kc_replay_new(&out->r, out->dst, ro);
    }
    if (rc == 0)
        rc = kc_replay_from_txn(out->r, t);
    if (rc == 0 && out->size > 0)
        rc = kc_txn_merkle_root(t, out->size, out->root);
    kc_txn_end(&t);
    kc_store_close(&src);
    if (rc == KC_EFORMAT && out->r && kc_replay_failure(out->r)->failed) {
        s_print_failure("rebuild", out->r);
        return S_EX_FAIL;
    }
    if (rc != 0) {
        fprintf(stderr, PROG ": rebuild from %s: %s\n", o->from, kc_strerror(rc));
        return S_EX_SOFTWARE;
    }
    return 0;
}

static int s_rebuild_from_file(const s_opts_t *o, kc_replay_opts_t *ro, s_rebuilt_t *out)
{
    kc_logfile_reader_t *rd = NULL;
    kc_logfile_status_t st;
    memset(&st, 0, sizeof st);
    uint8_t pk[KC_MERKLE_PUBKEY_LEN], want[KC_MERKLE_PUBKEY_LEN];
    uint64_t size = 0;
    int rc = kc_logfile_open(&rd, o->from, pk, &size, &st);
    if (rc != 0) {
        fprintf(stderr, PROG ": rebuild: %s: %s\n", o->from, st.why[0] ? st.why : kc_strerror(rc));
        return rc == KC_EFORMAT ? S_EX_FAIL : S_EX_NOINPUT;
    }
    if (o->key) {
        if (s_parse_key(o->key, want) != 0) {
            kc_logfile_close(&rd);
            return kc_cli_usage_error(PROG, "--key needs %s", "64 hex digits");
        }
        kc_logfile_expect_key(rd, want);
    }
    ro->total = size;
    ro->events_from = NULL; /* targets from the new store's own log */
    rc = kc_replay_new(&out->r, out->dst, ro);
    kc_log_entry_t e;
    int more = 0;
    while (rc == 0 && (more = kc_logfile_next(rd, &e, &st)) == 1)
        rc = kc_replay_add(out->r, &e);
    int ex = 0;
    if (rc == 0 && more < 0) {
        if (st.has_bad_index)
            fprintf(stderr, PROG ": rebuild: %s does not verify at record %" PRIu64 ": %s\n",
                    o->from, st.bad_index, st.why);
        else
            fprintf(stderr, PROG ": rebuild: %s does not verify: %s\n", o->from,
                    st.why[0] ? st.why : kc_strerror(more));
        ex = S_EX_FAIL;
    } else if (rc == 0) {
        kc_merkle_sth_t head;
        rc = kc_replay_finish(out->r);
        if (rc == 0 && (rc = kc_logfile_head(rd, &head)) == 0) {
            out->size = head.tree_size;
            memcpy(out->root, head.root, sizeof out->root);
            printf("rebuild: %s verified: %" PRIu64 " records, signed head of size %" PRIu64 "\n",
                   o->from, size, head.tree_size);
        }
    }
    kc_logfile_close(&rd);
    if (ex == 0 && rc == KC_EFORMAT && out->r && kc_replay_failure(out->r)->failed) {
        s_print_failure("rebuild", out->r);
        return S_EX_FAIL;
    }
    if (ex == 0 && rc != 0) {
        fprintf(stderr, PROG ": rebuild from %s: %s\n", o->from, kc_strerror(rc));
        return S_EX_SOFTWARE;
    }
    return ex;
}

static int s_rebuild(const s_opts_t *o)
{
    if (!o->from || !o->to)
        return kc_cli_usage_error(PROG, "rebuild needs --from and --to%s", NULL);
    struct stat sb;
    if (stat(o->from, &sb) != 0) {
        fprintf(stderr, PROG ": rebuild: %s: %s\n", o->from, strerror(errno));
        return S_EX_NOINPUT;
    }
    bool is_file = S_ISREG(sb.st_mode);
    bool exists = false;
    int rc = s_check_empty(o->to, &exists);
    if (rc != 0) {
        fprintf(stderr,
                PROG ": rebuild: --to %s %s: refusing to write into it (give a new or empty "
                     "directory)\n",
                o->to, rc == KC_EINVAL ? "is not empty" : strerror(-rc));
        return S_EX_CANTCREAT;
    }
    s_rebuilt_t out;
    memset(&out, 0, sizeof out);
    kc_store_opts_t so = {0};
    if ((rc = kc_store_open(&out.dst, o->to, &so)) != 0) {
        fprintf(stderr, PROG ": rebuild: cannot create the store %s: %s\n", o->to, kc_strerror(rc));
        s_remove_store(o->to, !exists);
        return S_EX_SOFTWARE;
    }
    kc_progress_t prog;
    kc_progress_init(&prog, "rebuild", "events");
    if (o->quiet)
        prog.enabled = false;
    kc_replay_opts_t ro = {.copy_log = true,
                           .group = (size_t)o->group,
                           .progress = kc_progress_cb,
                           .progress_ctx = &prog};
    double t0 = kc_time_mono_s();
    int ex;
    ex = is_file ? s_rebuild_from_file(o, &ro, &out) : s_rebuild_from_store(o, &ro, &out);
    double secs = kc_time_mono_s() - t0;
    kc_progress_done(&prog, out.r ? kc_replay_stats(out.r)->entries : 0, ro.total);
    /* the same log: the new store's root equals the source's */
    kc_merkle_sth_t sth;
    memset(&sth, 0, sizeof sth);
    if (ex == 0 && out.size > 0) {
        kc_txn_t *t = NULL;
        uint8_t root[KC_MERKLE_HASH_LEN];
        rc = kc_store_read_begin(out.dst, &t);
        if (rc == 0)
            rc = kc_txn_merkle_root(t, out.size, root);
        kc_txn_end(&t);
        if (rc != 0) {
            fprintf(stderr, PROG ": rebuild: cannot compute the new root: %s\n", kc_strerror(rc));
            ex = S_EX_SOFTWARE;
        } else if (memcmp(root, out.root, sizeof root) != 0) {
            fprintf(stderr, PROG ": rebuild: the new log's root differs from the source's\n");
            ex = S_EX_FAIL;
        } else if ((rc = kc_store_sign_head(out.dst, &sth)) != 0) {
            fprintf(stderr, PROG ": rebuild: cannot sign a head: %s\n", kc_strerror(rc));
            ex = S_EX_SOFTWARE;
        }
    }
    if (ex == 0) {
        s_print_summary("rebuild", out.r, secs);
        uint8_t pk[KC_MERKLE_PUBKEY_LEN];
        char hex[2 * KC_MERKLE_HASH_LEN + 1];
        if (kc_store_public_key(out.dst, pk) == 0) {
            s_hex(pk, sizeof pk, hex);
            printf("rebuild: %s has a NEW signing key (%s/audit.key), public key %s\n", o->to,
                   o->to, hex);
        }
        if (out.size > 0) {
            s_hex(sth.root, sizeof sth.root, hex);
            printf("rebuild: signed head size %" PRIu64 " root %s (equals the source's root)\n",
                   sth.tree_size, hex);
        }
    }
    kc_replay_free(&out.r);
    kc_store_close(&out.dst);
    if (ex != 0) {
        s_remove_store(o->to, !exists);
        fprintf(stderr, PROG ": rebuild failed; %s removed\n", o->to);
    }
    return ex;
}

/* ---- verify ---- */

static const char *s_field_name(int i)
{
    if (i < 0)
        return "events";
    const kc_metric_info_t *m = kc_ref_metric(i);
    return m ? m->name : "?";
}

static void s_print_diff(const kc_replay_diff_t *d, void *ctx)
{
    (void)ctx;
    const kc_activity_t *a = kc_ref_activity_by_id(d->key.activity);
    char cell[160];
    snprintf(cell, sizeof cell, "%04u-%02u province %02u activity %s kind %s fund %s", d->key.year,
             d->key.month, d->key.province, a ? a->code : "?", kc_filter_kind_name(d->key.kind),
             kc_filter_fund_name(d->key.fund));
    if (!d->stored_present || !d->recomputed_present)
        printf("differs: %s: %s\n", cell,
               d->stored_present ? "stored, but no logged event touches it"
                                 : "recomputed, but absent from the stored totals");
    for (int i = -1; i < KC_METRIC_COUNT; i++) { /* one cell: the event count is a uint64 */
        kc_i128 s = i < 0 ? (kc_i128)d->stored.events : d->stored.m[i];
        kc_i128 r = i < 0 ? (kc_i128)d->recomputed.events : d->recomputed.m[i];
        char sb[KC_I128_DEC], rb[KC_I128_DEC];
        if (s != r)
            printf("differs: %s %s: stored %s, recomputed %s\n", cell, s_field_name(i),
                   kc_i128_str(sb, sizeof sb, s), kc_i128_str(rb, sizeof rb, r));
    }
}

static void s_print_period_diff(uint8_t unit, int32_t yyyymm, const kc_period_state_t *stored,
                                const kc_period_state_t *recomputed, void *ctx)
{
    (void)ctx;
    printf("differs: period %04d-%02d unit %u: stored %s (%u sign-offs, %u approvals, %u "
           "reopens), recomputed %s (%u, %u, %u)\n",
           (int)(yyyymm / 100), (int)(yyyymm % 100), unit,
           stored ? kc_period_state_name(stored->state) : "none", stored ? stored->signoffs : 0,
           stored ? stored->approvals : 0, stored ? stored->reopens : 0,
           recomputed ? kc_period_state_name(recomputed->state) : "none",
           recomputed ? recomputed->signoffs : 0, recomputed ? recomputed->approvals : 0,
           recomputed ? recomputed->reopens : 0);
}

static int s_verify(const s_opts_t *o)
{
    if (!o->store)
        return kc_cli_usage_error(PROG, "verify needs --store%s", NULL);
    kc_store_t *src;
    int ex = kc_cli_open_store(PROG, o->store, &src);
    if (ex != 0)
        return ex;
    kc_replay_t *r = NULL;
    kc_txn_t *t = NULL;
    kc_progress_t prog;
    kc_progress_init(&prog, "verify", "events");
    if (o->quiet)
        prog.enabled = false;
    double t0 = kc_time_mono_s();
    int rc = kc_store_read_begin(src, &t);
    kc_replay_opts_t ro = {
        .in_memory = true, .events_from = t, .progress = kc_progress_cb, .progress_ctx = &prog};
    if (rc == 0)
        rc = kc_txn_log_size(t, &ro.total);
    if (rc == 0)
        rc = kc_replay_new(&r, NULL, &ro);
    if (rc == 0)
        rc = kc_replay_from_txn(r, t);
    kc_progress_done(&prog, r ? kc_replay_stats(r)->entries : 0, ro.total);
    uint64_t cells = 0, diffs = 0, periods = 0, pdiffs = 0;
    if (rc == 0)
        rc = kc_replay_compare(r, t, s_print_diff, NULL, &cells, &diffs);
    if (rc == 0) /* the reporting cycle's states (sign-off, approval, reopen) */
        rc = kc_replay_periods_compare(r, t, s_print_period_diff, NULL, &periods, &pdiffs);
    double secs = kc_time_mono_s() - t0;
    if (rc == KC_EFORMAT && r && kc_replay_failure(r)->failed) {
        s_print_failure("verify", r);
        ex = S_EX_FAIL;
    } else if (rc != 0) {
        fprintf(stderr, PROG ": verify %s: %s\n", o->store, kc_strerror(rc));
        ex = S_EX_SOFTWARE;
    } else {
        s_print_summary("verify", r, secs);
        if (diffs == 0) {
            printf("verify: %" PRIu64 " cells identical\n", cells);
            ex = 0;
        } else {
            printf("verify: %" PRIu64 " of %" PRIu64 " cells differ\n", diffs, cells);
            ex = S_EX_FAIL;
        }
        if (pdiffs > 0) {
            printf("verify: %" PRIu64 " of %" PRIu64 " reporting-cycle periods differ\n", pdiffs,
                   periods);
            ex = S_EX_FAIL;
        } else if (periods > 0) {
            printf("verify: %" PRIu64 " reporting-cycle periods identical\n", periods);
        }
    }
    kc_txn_end(&t);
    kc_replay_free(&r);
    kc_store_close(&src);
    return ex;
}

/* ---- send ---- */

typedef struct {
    uint64_t accepted, duplicates, rejected, results;
    bool quiet;
} s_send_t;

static void s_on_result(const kc_result_t *r, void *ctx)
{
    s_send_t *s = ctx;
    s->results++;
    if (r->reason == KCI_ACCEPTED) {
        s->accepted++;
    } else if (r->reason == KCI_DUPLICATE) {
        s->duplicates++;
    } else {
        s->rejected++;
        /* the Ack's texts (an older aggregator echoed them raw): display form */
        char id[KC_TEXT_SHOW_MAX(KC_EVENT_ID_MAX)], text[512];
        printf("rejected %s %s: %s: %s\n", r->source ? r->source : "?",
               kc_text_fit(r->event_id, r->event_id ? strlen(r->event_id) : 0, id, sizeof id),
               r->reason_name,
               kc_text_fit(r->text, r->text ? strlen(r->text) : 0, text, sizeof text));
    }
}

/* The office's event, as libkcingest takes it, from a logged Event. */
static void s_to_event(const kc_pb_event_t *ev, kc_event_t *out)
{
    memset(out, 0, sizeof *out);
    out->event_id = ev->event_id;
    out->province = ev->province;
    out->year = ev->has_year ? (int)ev->year : 0;
    out->month = ev->has_month ? (int)ev->month : 0;
    out->activity = ev->activity;
    out->kind = ev->has_kind ? (int)ev->kind : KCI_KIND_DEFAULT;
    out->fund = ev->has_fund ? (int)ev->fund : KCI_FUND_DEFAULT;
    for (int i = 0; ev->metrics && i < KC_METRIC_COUNT; i++) {
        int64_t v;
        if (kc_pb_metric_get(ev->metrics, i, &v)) {
            out->present |= 1u << i;
            out->metrics[i] = v;
        }
    }
    out->note = ev->note;
    out->op = ev->has_op ? (int)ev->op : KCI_OP_RECORD;
    out->corrects = ev->corrects;
}

static int s_send(const s_opts_t *o)
{
    if (!o->file || !o->connect)
        return kc_cli_usage_error(PROG, "send needs --file and --connect%s", NULL);
    uint8_t want[KC_MERKLE_PUBKEY_LEN];
    if (o->key && s_parse_key(o->key, want) != 0)
        return kc_cli_usage_error(PROG, "--key needs %s", "64 hex digits");
    /* 1. the whole file verifies, or nothing is sent */
    kc_logfile_status_t st;
    memset(&st, 0, sizeof st);
    kc_progress_t prog;
    kc_progress_init(&prog, "check", "records");
    if (o->quiet)
        prog.enabled = false;
    int rc = kc_logfile_verify(o->file, o->key ? want : NULL, &st, kc_progress_cb, &prog);
    kc_progress_done(&prog, 0, 0);
    if (rc != 0) {
        fprintf(stderr, PROG ": send: %s does not verify%s: %s; nothing sent\n", o->file,
                st.has_bad_index ? " (see the record below)" : "",
                st.why[0] ? st.why : kc_strerror(rc));
        if (st.has_bad_index)
            fprintf(stderr, PROG ": first bad record: %" PRIu64 "\n", st.bad_index);
        return rc == -ENOENT ? S_EX_NOINPUT : KC_EX_DATAERR;
    }
    /* 2. send */
    char spool[4096];
    snprintf(spool, sizeof spool, "%s", o->spool ? o->spool : "");
    if (!o->spool)
        snprintf(spool, sizeof spool, "%s.spool", o->file);
    kc_producer_opts_t po = {.endpoint = o->connect,
                             .producer_id = o->producer ? o->producer : "kc-replay",
                             .spool_dir = spool};
    kc_producer_t *p = NULL;
    if ((rc = kc_producer_open(&p, &po)) != 0) {
        fprintf(stderr, PROG ": send: cannot open the producer (spool %s): %s\n", spool,
                kc_producer_strerror(rc));
        return rc == KCI_EINVAL ? KC_EX_USAGE : S_EX_UNAVAILABLE;
    }
    struct sigaction sa; /* stop staging on ^C; what is spooled is sent by the next run */
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = s_on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    s_send_t s = {.quiet = o->quiet};
    kc_producer_on_result(p, s_on_result, &s);
    uint64_t resumed = kc_producer_pending(p);
    kc_logfile_reader_t *rd = NULL;
    memset(&st, 0, sizeof st);
    uint64_t size = 0, sent = 0, bad = 0;
    rc = kc_logfile_open(&rd, o->file, NULL, &size, &st);
    if (rc == 0 && o->key)
        kc_logfile_expect_key(rd, want);
    kc_progress_init(&prog, "send", "events");
    if (o->quiet)
        prog.enabled = false;
    kc_log_entry_t e;
    int more = 0;
    while (rc == 0 && !s_stop && (more = kc_logfile_next(rd, &e, &st)) == 1) {
        kc_pb_event_t *ev = kcpipe__v1__event__unpack(NULL, e.event_len, e.event);
        if (!ev) {
            fprintf(stderr, PROG ": send: record %" PRIu64 " is not a decodable event\n", e.offset);
            bad++;
            continue;
        }
        kc_event_t ke;
        s_to_event(ev, &ke);
        /* who entered it travels with it: it is content (the same hash) */
        if (kc_producer_set_submitted_by(p, ev->submitted_by) != 0) {
            fprintf(stderr,
                    PROG ": send: record %" PRIu64 " refused: its submitted_by breaks "
                         "today's rule (invalid_text)\n",
                    e.offset);
            kcpipe__v1__event__free_unpacked(ev, NULL);
            bad++;
            continue;
        }
        char tag[48];
        snprintf(tag, sizeof tag, "offset:%" PRIu64, e.offset);
        rc = kc_producer_add(p, &ke, tag, NULL);
        kcpipe__v1__event__free_unpacked(ev, NULL);
        if (rc == KCI_EINVAL) {
            fprintf(stderr, PROG ": send: record %" PRIu64 " cannot be re-encoded\n", e.offset);
            bad++;
            rc = 0;
            continue;
        }
        if (rc == KCI_EREFUSED) {
            /* an older log may hold what today's admission rules refuse (issue 12) */
            const char *reason = "", *why = "";
            kc_producer_refusal(p, &reason, &why);
            fprintf(stderr, PROG ": send: record %" PRIu64 " refused: %s: %s\n", e.offset, reason,
                    why);
            bad++;
            rc = 0;
            continue;
        }
        sent++;
        if (rc == 0 && sent % 1000 == 0) {
            rc = kc_producer_poll(p, 0);
            if (rc == KCI_EINTR)
                rc = 0;
            kc_progress_update(&prog, sent, size);
        }
    }
    kc_progress_done(&prog, sent, size);
    kc_logfile_close(&rd);
    if (rc == 0 && more < 0 && !s_stop) {
        fprintf(stderr, PROG ": send: %s changed while sending: %s\n", o->file, st.why);
        bad++;
    }
    int frc = rc;
    if (frc == 0)
        frc = kc_producer_flush(p, o->timeout_s < 0 ? -1 : (int)(o->timeout_s * 1000));
    uint64_t pending = kc_producer_pending(p);
    kc_producer_close(&p);
    uint64_t events = resumed + sent;
    printf("summary: rows=%" PRIu64 " accepted=%" PRIu64 " duplicates=%" PRIu64 " rejected=%" PRIu64
           " malformed=%" PRIu64 " unacknowledged=%" PRIu64 "\n",
           events + bad, s.accepted, s.duplicates, s.rejected, bad, pending);
    if (frc == KCI_EFENCED) {
        fprintf(stderr, PROG ": send: spool %s is retired (a newer spool of %s took over)\n", spool,
                po.producer_id);
        return S_EX_UNAVAILABLE;
    }
    if (frc != 0 && frc != KCI_ETIMEDOUT && frc != KCI_EINTR) {
        fprintf(stderr, PROG ": send: %s\n", kc_producer_strerror(frc));
        return S_EX_UNAVAILABLE;
    }
    if (pending > 0 || frc != 0)
        return S_EX_TEMPFAIL;
    if (s.rejected > 0 || bad > 0)
        return KC_EX_DATAERR;
    if (s.accepted == 0 && s.duplicates > 0)
        printf("send: nothing changed: all %" PRIu64 " events were already counted\n",
               s.duplicates);
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"from", required_argument, NULL, 'f'},
                                             {"to", required_argument, NULL, 't'},
                                             {"store", required_argument, NULL, 's'},
                                             {"file", required_argument, NULL, 'F'},
                                             {"connect", required_argument, NULL, 'c'},
                                             {"producer", required_argument, NULL, 'p'},
                                             {"spool", required_argument, NULL, 'S'},
                                             {"timeout", required_argument, NULL, 'T'},
                                             {"key", required_argument, NULL, 'k'},
                                             {"group", required_argument, NULL, 'g'},
                                             {"tmp", required_argument, NULL, 1},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"version", no_argument, NULL, 'V'},
                                             {NULL, 0, NULL, 0}};
    int mrc = kc_conf_main(PROG, "replay", longopts, &argc, &argv);
    if (mrc)
        return mrc;
    s_opts_t o = {.group = KC_REPLAY_DEFAULT_GROUP, .timeout_s = -1};
    char err[256];
    int c;
    while ((c = getopt_long(argc, argv, "f:t:s:F:c:p:S:T:k:g:qhV", longopts, NULL)) != -1) {
        long v;
        switch (c) {
        case 'f': o.from = optarg; break;
        case 't': o.to = optarg; break;
        case 's': o.store = optarg; break;
        case 'F': o.file = optarg; break;
        case 'c': o.connect = optarg; break;
        case 'p': o.producer = optarg; break;
        case 'S': o.spool = optarg; break;
        case 'k': o.key = optarg; break;
        case 1: o.tmp = optarg; break;
        case 'q': o.quiet = true; break;
        case 'T':
            if (kc_filter_parse_int(optarg, 0, 86400 * 365, &v, "--timeout", err, sizeof err) != 0)
                return kc_cli_usage_error(PROG, "%s", err);
            o.timeout_s = v;
            break;
        case 'g':
            if (kc_filter_parse_int(optarg, 1, 10000000, &v, "--group", err, sizeof err) != 0)
                return kc_cli_usage_error(PROG, "%s", err);
            o.group = v;
            break;
        case 'h': s_usage(stdout); return 0;
        case 'V': printf(PROG " %s\n", KC_VERSION); return 0;
        default: return kc_cli_usage_error(PROG, "bad option%s", NULL);
        }
    }
    if (kc_conf_main_check_done())
        return 0;
    if (optind >= argc)
        return kc_cli_usage_error(PROG, "a command is needed (rebuild, verify or send)%s", NULL);
    if (optind + 1 < argc)
        return kc_cli_usage_error(PROG, "unexpected operand '%s'", argv[optind + 1]);
    o.cmd = argv[optind];
    if (sodium_init() < 0) {
        fprintf(stderr, PROG ": libsodium cannot be initialised\n");
        return S_EX_SOFTWARE;
    }
    kc_log_set_ident(PROG);
    kc_log_set_level(KC_LOG_WARN);
    if (strcmp(o.cmd, "rebuild") == 0)
        return s_rebuild(&o);
    if (strcmp(o.cmd, "verify") == 0)
        return s_verify(&o);
    if (strcmp(o.cmd, "send") == 0)
        return s_send(&o);
    return kc_cli_usage_error(PROG, "unknown command '%s' (rebuild, verify or send)", o.cmd);
}
