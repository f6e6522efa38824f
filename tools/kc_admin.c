/* kc_admin.c - kc-admin: the store's lifecycle (backup, restore, stat, compact, migrate).
 *
 * DESIGN (operator's view: docs/OPERATIONS.md)
 * backup   Opens the store read-only (any format this kcpipe can migrate) and
 *          writes a consistent copy of data.mdb with kc_store_copy (one LMDB
 *          read transaction: the aggregator keeps committing) into a sibling
 *          temp directory of DEST, with the store's audit.key (mode kept) and
 *          a manifest, backup.json (kcpipe_backup 1, store format, log size and
 *          latest signed head OF THE COPY, read back from it, time, source),
 *          then renames the temp directory to DEST: a backup is complete or
 *          absent. A backup directory is itself a store directory (read-only
 *          tools accept --store BACKUP; restoring by hand = copying its files).
 * restore  Copies a backup into a sibling temp directory of the target,
 *          verifies the copy (opens; format; kc_audit_verify of the Merkle
 *          log against the store's public key; audit.key is that key; log
 *          size = the manifest's), then puts it in place by rename: onto a
 *          missing or empty directory, or, over an existing store, by
 *          exchanging the two directories (renameat2 RENAME_EXCHANGE) while
 *          holding the store's lock (kc_store_lock: refused while any process
 *          has it open) - the old store is kept beside it as
 *          DIR.replaced-<UTC time>.
 * compact  Holding the store's lock (refused while any process has it open),
 *          copies with MDB_CP_COMPACT into a temp directory inside the store
 *          directory, verifies it (log size, audit, a digest of every totals
 *          cell equal to the original's), renames it over data.mdb and resets
 *          lock.mdb.
 * stat     Read-only: sizes, map use, mdb_stat per table, counts, format,
 *          LMDB's reader table (stale = the process is gone), whether another
 *          process has the store open, the latest signed head. Text or JSON.
 * migrate  Refused while another process has the store open; opens it for
 *          writing with allow_old_format and runs kc_store_migrate().
 * rejects  Read-only: the rejected rows (core/kc_rejects.h: filters, newest
 *          first, limit) as a table, JSON (kc_rejects_json, the document of
 *          GET /v1/rejects) or CSV (UTF-8 with a byte order mark unless
 *          --no-bom, like kc-query's, so a spreadsheet reads Vietnamese
 *          text). Times in the table and CSV are local ("2026-12-07
 *          13:32:30"; empty/"unknown" for a record written before the
 *          store kept times), in JSON ISO 8601 UTC. --lang vi (the default
 *          when the locale is Vietnamese: kc_lang_from_env) gives the table
 *          and CSV Vietnamese headers, reason labels (kc_label_reason, the
 *          dashboard's wording), count line and hints; CSV keeps the reason's
 *          token beside its label, JSON is the same in both languages.
 * approve, reopen (docs/CYCLE.md "Sign-off and approval")
 *          The centre's side of the reporting cycle: one OP_APPROVE or
 *          OP_REOPEN event (province, year, month; a reopen's reason in the
 *          note) sent to the running aggregator through libkcingest's public
 *          API (tests/layout: tools may use kcingest.h and libkcingest) as
 *          producer "centre" - the id the aggregator takes for the centre
 *          without CURVE; under CURVE the key (--cert) decides, so its
 *          registry line must grant every province. The spool (--spool,
 *          default centre-spool beside the store directory) keeps the
 *          sequence numbers of that producer. Waits for the result up to
 *          --timeout and prints it with kci_result_hint's hint; an event not
 *          acknowledged stays spooled and is delivered before the next one.
 *          Nothing of the store is opened: the aggregator decides.
 * Exit codes: 0 ok, 64 usage, 65 verification failed / unusable format,
 * 66 no store or backup, 73 DEST exists and is not empty, 74 I/O error,
 * 75 the store is in use (try again once it is stopped). approve/reopen: 65
 * rejected, 69 cannot open the spool or connect, 75 no result before --timeout.
 */
#include "kc_audit.h"
#include "kc_cli.h"
#include "kc_conf.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_identity.h"
#include "kc_jtext.h"
#include "kc_label.h"
#include "kc_log.h"
#include "kc_merkle.h"
#include "kc_ref.h"
#include "kc_rejects.h"
#include "kc_store.h"
#include "kc_table.h"
#include "kc_text.h"
#include "kc_time.h"
#include "kcimport.h"
#include "kcingest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROG            "kc-admin"
#define S_DEFAULT_STORE "./var/kcpipe"
#define S_MANIFEST      "backup.json"
#define S_KEY_FILE      "audit.key"
#define S_EX_CANTCREAT  73
#define S_EX_TEMPFAIL   75
#define S_EX_DATAERR    65
#define S_EX_UNAVAIL    69
#define S_CENTRE_SPOOL  "centre-spool" /* approve/reopen: default spool, beside the store */
#define S_MAX_FILTERS   64             /* rejects: --province/--reason given at most */

typedef struct {
    const char *store;
    bool compact;
    bool json;
    const char *format;    /* --format as given (stat: text|json; rejects: table|json|csv) */
    kc_rejects_opts_t rej; /* rejects: the filters */
    const char *rej_opt;   /* the first rejects-only option given (refused elsewhere) */
    bool no_bom;           /* rejects: CSV without the byte order mark */
    kc_lang_t lang;        /* rejects: --lang (default: the locale's) */
    /* --province / --reason as given: rejects' filters, or approve/reopen's */
    const char *prov[S_MAX_FILTERS], *reason[S_MAX_FILTERS];
    int nprov, nreason;
    /* approve/reopen */
    const char *period, *connect, *spool, *server_key, *cert;
    const char *send_opt; /* the first approve/reopen-only option given */
    double timeout_s;
    int argc;
    char **argv;
} s_opts_t;

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: " PROG " backup [--store DIR] [--compact] DEST\n"
            "       " PROG " restore [--store DIR] BACKUP\n"
            "       " PROG " stat [--store DIR] [--format text|json]\n"
            "       " PROG " compact [--store DIR]\n"
            "       " PROG " migrate [--store DIR]\n"
            "       " PROG " rejects [--store DIR] [--province P] [--reason R] [--since T]\n"
            "                [--until T] [--producer ID] [--duplicates] [--limit N]\n"
            "                [--format table|json|csv] [--no-bom] [--lang en|vi]\n"
            "       " PROG " approve --province P --period YYYY-MM --connect EP [--spool DIR]\n"
            "                [--server-key FILE --cert FILE] [--timeout S]\n"
            "       " PROG " reopen --province P --period YYYY-MM --reason TEXT --connect EP\n"
            "                [--spool DIR] [--server-key FILE --cert FILE] [--timeout S]\n"
            "Look after kcpipe's store: backups, restores, statistics, compaction and\n"
            "format migrations (docs/OPERATIONS.md); approve (lock) or reopen a\n"
            "province's month (docs/CYCLE.md).\n"
            "\nCommands:\n"
            "  backup   write a consistent copy of the store (data.mdb, audit.key and a\n"
            "           manifest, backup.json) to the new directory DEST, while the\n"
            "           aggregator keeps running; DEST must not exist or be empty\n"
            "  restore  verify the backup BACKUP and put it in place as the store: into a\n"
            "           missing or empty directory, or over a store no process has open\n"
            "           (the old store is kept as DIR.replaced-TIME)\n"
            "  stat     sizes, map use, pages and entries per table, counts, format version,\n"
            "           readers and stale readers, the latest signed head\n"
            "  compact  rewrite the store without free pages and swap it in atomically;\n"
            "           refused while any process has the store open\n"
            "  migrate  bring a store of an older format to this kcpipe's format (back it\n"
            "           up first); refused while any process has the store open\n"
            "  rejects  the rows the aggregator rejected, newest first: producer, epoch,\n"
            "           sequence, reason, province, event_id, received time and text\n"
            "  approve  approve (lock) province P's month YYYY-MM at the running aggregator:\n"
            "           from then on its rows cannot be recorded, corrected or retracted\n"
            "           (period_locked) until it is reopened\n"
            "  reopen   reopen an approved month, with a reason (kept in the log)\n"
            "\nOptions:\n"
            "  --store DIR           the store (default " S_DEFAULT_STORE ")\n"
            "  --compact             backup: omit free pages from the copy\n"
            "  --format text|json    stat: output format (default text)\n"
            "  --format table|json|csv\n"
            "                        rejects: output format (default table)\n"
            "  --province P          rejects: of province P, a code (79, or one the\n"
            "                        reference data does not know) or a name (Cần Thơ,\n"
            "                        can tho); repeatable. approve, reopen: the\n"
            "                        province's code (79), once\n"
            "  --reason R            rejects: with reason R (unknown_province,\n"
            "                        metric_not_allowed, event_id_conflict, ...);\n"
            "                        repeatable\n"
            "  --reason TEXT         reopen: why the month is opened again (required)\n"
            "  --since T             rejects: received at or after T: 2026-12-07 (from\n"
            "                        its start), 2026-12-07 13:32:30 or\n"
            "                        2026-12-07T13:32:30, local time unless a zone is\n"
            "                        given (Z, +07:00)\n"
            "  --until T             rejects: received at or before T (a date: to its end)\n"
            "  --producer ID         rejects: of producer ID only\n"
            "  --duplicates          rejects: list acknowledged duplicates too\n"
            "  --limit N             rejects: at most N rows (default all)\n"
            "  --no-bom              rejects: CSV without the UTF-8 byte order mark\n"
            "  --lang en|vi          rejects: language of the table and CSV (default vi\n"
            "                        under a Vietnamese locale, else en)\n"
            "  --period YYYY-MM      approve, reopen: the month, e.g. 2026-09\n"
            "  --connect EP          approve, reopen: the aggregator's endpoint, e.g.\n"
            "                        tcp://127.0.0.1:5555\n"
            "  --spool DIR           approve, reopen: the spool of the centre's producer\n"
            "                        \"centre\" (default " S_CENTRE_SPOOL " beside the store\n"
            "                        directory, ./var/" S_CENTRE_SPOOL " by default)\n"
            "  --server-key FILE     approve, reopen: the aggregator's public certificate:\n"
            "                        connect with CURVE (needs --cert)\n"
            "  --cert FILE           approve, reopen: the centre's secret certificate\n"
            "                        (kc-keygen NAME_secret), registered for every province\n"
            "  --timeout S           approve, reopen: wait at most S seconds for the\n"
            "                        result (default 30)\n"
            "  --config FILE         read options from FILE (default: /etc/kcpipe/admin.conf\n"
            "                        if it exists); options given here win\n"
            "  --no-config           read no config file\n"
            "  --check-config        check the config file and options: print 'FILE: ok'\n"
            "                        and exit 0, or each error as FILE:LINE and exit 78\n"
            "  -h, --help            this help\n"
            "  -V, --version         print the version\n"
            "\nExit: 0 ok, 64 usage, 65 verification failed or unusable format, 66 no store\n"
            "or backup, 73 DEST exists and is not empty, 74 I/O error, 75 the store is in\n"
            "use by another process. approve, reopen: 0 accepted, 65 rejected (the reason\n"
            "and a hint are printed: period_no_data, period_locked, period_not_locked,\n"
            "missing_reason, ...), 69 cannot open the spool or connect, 75 no result\n"
            "within --timeout (the request stays spooled and goes out first next time).\n");
}

/* ---- small file helpers ---- */

static int s_path(char *buf, size_t cap, const char *dir, const char *name)
{
    if (snprintf(buf, cap, "%s/%s", dir, name) >= (int)cap) {
        fprintf(stderr, PROG ": path too long: %s/%s\n", dir, name);
        return -1;
    }
    return 0;
}

static int s_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static void s_parent(const char *path, char *out, size_t cap)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    snprintf(out, cap, "%s", dirname(tmp));
}

static void s_base(const char *path, char *out, size_t cap)
{
    char tmp[PATH_MAX];
    snprintf(tmp, sizeof tmp, "%s", path);
    size_t n = strlen(tmp);
    while (n > 1 && tmp[n - 1] == '/')
        tmp[--n] = '\0';
    snprintf(out, cap, "%s", basename(tmp));
}

/* 1 = missing, 2 = empty directory, 0 = exists and not empty (or not a dir), -1 error. */
static int s_dir_state(const char *dir)
{
    struct stat st;
    if (stat(dir, &st) != 0)
        return errno == ENOENT ? 1 : -1;
    if (!S_ISDIR(st.st_mode))
        return 0;
    DIR *d = opendir(dir);
    if (!d)
        return -1;
    struct dirent *e;
    int empty = 2;
    while ((e = readdir(d)) != NULL)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            empty = 0;
            break;
        }
    closedir(d);
    return empty;
}

/* Remove a directory we created and the plain files in it (no recursion beyond one level). */
static void s_rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *e;
        char p[PATH_MAX];
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
                continue;
            if (snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < (int)sizeof p && unlink(p) != 0 &&
                errno == EISDIR)
                s_rm_tree(p);
        }
        closedir(d);
    }
    rmdir(dir);
}

/* Copy src to dst (created, O_EXCL) with src's permission bits; fsync. 0, 1 if src is absent, -1.
 */
static int s_copy_file(const char *src, const char *dst)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        if (errno == ENOENT)
            return 1;
        fprintf(stderr, PROG ": %s: %s\n", src, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(in, &st) != 0) {
        fprintf(stderr, PROG ": %s: %s\n", src, strerror(errno));
        close(in);
        return -1;
    }
    int out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (out < 0) {
        fprintf(stderr, PROG ": %s: %s\n", dst, strerror(errno));
        close(in);
        return -1;
    }
    char buf[1 << 16];
    int rc = 0;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            rc = -1;
            break;
        }
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                rc = -1;
                break;
            }
            off += w;
        }
        if (rc != 0)
            break;
    }
    if (rc == 0 && (fchmod(out, st.st_mode & 07777) != 0 || fsync(out) != 0))
        rc = -1;
    if (rc != 0)
        fprintf(stderr, PROG ": copying %s to %s: %s\n", src, dst, strerror(errno));
    close(in);
    if (close(out) != 0)
        rc = -1;
    return rc;
}

/* Make a temp directory "PARENT/.BASE.TAG.XXXXXX" (mode 0700). */
static int s_mktemp_dir(const char *parent, const char *base, const char *tag, char *out,
                        size_t cap)
{
    if (snprintf(out, cap, "%s/.%s.%s.XXXXXX", parent, base, tag) >= (int)cap)
        return -1;
    if (!mkdtemp(out)) {
        fprintf(stderr, PROG ": cannot create a temporary directory in %s: %s\n", parent,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* The process's name in display form (kc_text.h): a process sets its own
 * name, any bytes, and it goes to the terminal and into JSON. */
static void s_proc_name(int pid, char *out, size_t cap)
{
    char p[64], raw[64];
    snprintf(p, sizeof p, "/proc/%d/comm", pid);
    out[0] = '\0';
    FILE *f = fopen(p, "r");
    if (!f)
        return;
    if (fgets(raw, (int)sizeof raw, f)) {
        raw[strcspn(raw, "\n")] = '\0';
        kc_text_fit(raw, strlen(raw), out, cap);
    }
    fclose(f);
}

/* Explain KC_EBUSY from kc_store_lock / kc_store_in_use. */
static int s_in_use(const char *dir, int pid, const char *what)
{
    char name[64];
    s_proc_name(pid, name, sizeof name);
    fprintf(stderr,
            PROG
            ": store %s is open by another process (pid %d%s%s%s): %s needs it closed.\n"
            "  Stop the aggregator first (e.g. systemctl stop kcpipe-aggregator) and wait for\n"
            "  readers such as kc-query to finish; '" PROG " stat --store %s' lists its readers.\n",
            dir, pid, name[0] ? ", " : "", name, name[0] ? "" : "", what, dir);
    return S_EX_TEMPFAIL;
}

static int s_open_fail(const char *dir, int rc)
{
    if (rc == KC_ENOTFOUND || rc == -ENOENT) {
        fprintf(stderr, PROG ": no store at %s\n", dir);
        return KC_EX_NOINPUT;
    }
    fprintf(stderr, PROG ": cannot open the store at %s: %s\n", dir, kc_strerror(rc));
    return rc == KC_EFORMAT ? KC_EX_DATAERR : KC_EX_IOERR;
}

/* ---- verification of a copy ---- */

typedef struct {
    int format;
    uint64_t log_size;
    bool have_head;
    kc_merkle_sth_t head;
    kc_store_stat_t st;
    uint8_t totals_digest[32]; /* BLAKE2b of every totals cell, in key order */
} s_facts_t;

static int s_digest_cell(const kc_cell_key_t *key, const kc_cell_t *cell, void *ctx)
{
    crypto_generichash_state *h = ctx;
    uint8_t kb[KC_CELL_KEY_LEN], vb[8 * (1 + KC_METRIC_COUNT)];
    kc_cell_key_encode(key, kb);
    for (int i = 0; i < 8; i++)
        vb[i] = (uint8_t)(cell->events >> (8 * i));
    for (int m = 0; m < KC_METRIC_COUNT; m++)
        for (int i = 0; i < 8; i++)
            vb[8 + 8 * m + i] = (uint8_t)((uint64_t)cell->m[m] >> (8 * i));
    crypto_generichash_update(h, kb, sizeof kb);
    crypto_generichash_update(h, vb, sizeof vb);
    return 0;
}

/* Read the facts of an open store in one snapshot. */
static int s_facts(kc_store_t *s, s_facts_t *f)
{
    memset(f, 0, sizeof *f);
    f->format = kc_store_format(s);
    kc_txn_t *t = NULL;
    int rc = kc_store_read_begin(s, &t);
    if (rc != 0)
        return rc;
    if ((rc = kc_txn_log_size(t, &f->log_size)) == 0)
        rc = kc_txn_stat(t, &f->st);
    if (rc == 0) {
        int hrc = kc_txn_head_last(t, &f->head);
        f->have_head = hrc == 0;
        if (hrc != 0 && hrc != KC_ENOTFOUND)
            rc = hrc;
    }
    if (rc == 0) {
        crypto_generichash_state h;
        crypto_generichash_init(&h, NULL, 0, sizeof f->totals_digest);
        kc_cell_key_t lo = kc_cell_key_min(), hi = kc_cell_key_max();
        rc = kc_txn_totals_scan(t, &lo, &hi, s_digest_cell, &h);
        crypto_generichash_final(&h, f->totals_digest, sizeof f->totals_digest);
    }
    kc_txn_end(&t);
    return rc;
}

/* The public key of an audit.key file (layout: store/kc_merkle_key.c). 0, 1 absent, -1 bad. */
static int s_key_file_pk(const char *path, uint8_t pk[KC_MERKLE_PUBKEY_LEN])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? 1 : -1;
    uint8_t buf[41], sk[crypto_sign_SECRETKEYBYTES];
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    int rc = -1;
    if (n == 40 && memcmp(buf, "KCAK", 4) == 0 && buf[4] == 1 && buf[5] == 1 && buf[6] == 0 &&
        buf[7] == 32 && crypto_sign_seed_keypair(pk, sk, buf + 8) == 0)
        rc = 0;
    sodium_memzero(buf, sizeof buf);
    sodium_memzero(sk, sizeof sk);
    return rc;
}

/* Verify the store copy in dir: opens (an older format is reported, not
 * refused), the Merkle log and heads verify, audit.key (if present) is the
 * store's key, and the log has expect_size entries (UINT64_MAX: any). The
 * lock.mdb the check creates is removed. Prints what is wrong; returns an exit code. */
static int s_verify_copy(const char *dir, uint64_t expect_size, s_facts_t *f, const char *what)
{
    kc_store_opts_t ro = {.read_only = true, .allow_old_format = true};
    kc_store_t *s = NULL;
    int rc = kc_store_open(&s, dir, &ro);
    if (rc != 0) {
        fprintf(stderr, PROG ": %s does not open as a store: %s\n", what, kc_strerror(rc));
        return KC_EX_DATAERR;
    }
    int ex = 0;
    if ((rc = s_facts(s, f)) != 0) {
        fprintf(stderr, PROG ": %s cannot be read: %s\n", what, kc_strerror(rc));
        ex = KC_EX_DATAERR;
    }
    uint8_t pk[KC_MERKLE_PUBKEY_LEN], fpk[KC_MERKLE_PUBKEY_LEN];
    bool have_pk = ex == 0 && kc_store_public_key(s, pk) == 0;
    if (ex == 0 && expect_size != UINT64_MAX && f->log_size != expect_size) {
        fprintf(stderr, PROG ": %s has %" PRIu64 " log entries, its manifest says %" PRIu64 "\n",
                what, f->log_size, expect_size);
        ex = KC_EX_DATAERR;
    }
    if (ex == 0 && have_pk) {
        kc_txn_t *t = NULL;
        kc_audit_report_t rep;
        rc = kc_store_read_begin(s, &t);
        if (rc == 0)
            rc = kc_audit_verify(t, pk, &rep, NULL, NULL);
        kc_txn_end(&t);
        if (rc != 0) {
            fprintf(stderr, PROG ": %s: audit verification could not run: %s\n", what,
                    kc_strerror(rc));
            ex = KC_EX_DATAERR;
        } else if (rep.status != KC_AUDIT_OK) {
            fprintf(stderr, PROG ": %s: the verifiable log does not verify: %s\n", what,
                    rep.reason);
            ex = KC_EX_DATAERR;
        }
    } else if (ex == 0 && f->log_size > 0) {
        fprintf(stderr, PROG ": %s has log entries but no public key: cannot verify it\n", what);
        ex = KC_EX_DATAERR;
    }
    if (ex == 0 && have_pk) {
        char kp[PATH_MAX];
        if (s_path(kp, sizeof kp, dir, S_KEY_FILE) != 0)
            ex = KC_EX_SOFTWARE;
        else {
            int k = s_key_file_pk(kp, fpk);
            if (k < 0 || (k == 0 && sodium_memcmp(pk, fpk, sizeof pk) != 0)) {
                fprintf(stderr, PROG ": %s: %s is not the key of this store's signed heads\n", what,
                        S_KEY_FILE);
                ex = KC_EX_DATAERR;
            } else if (k == 1) {
                fprintf(stderr,
                        PROG ": warning: %s has no %s: it can be read and verified, but the "
                             "aggregator will refuse to write to it (it cannot sign heads)\n",
                        what, S_KEY_FILE);
            }
        }
    }
    kc_store_close(&s);
    char lp[PATH_MAX];
    if (s_path(lp, sizeof lp, dir, "lock.mdb") == 0)
        unlink(lp);
    return ex;
}

/* ---- backup ---- */

static void s_time_iso(uint64_t ns, char *buf, size_t cap)
{
    kc_cli_time_utc(ns, buf, cap);
}

static json_t *s_head_json(const s_facts_t *f)
{
    if (!f->have_head)
        return json_null();
    char ts[64], root[2 * KC_MERKLE_HASH_LEN + 1];
    s_time_iso(f->head.timestamp_ns, ts, sizeof ts);
    kc_merkle_hex(f->head.root, sizeof f->head.root, root);
    return json_pack("{s:I, s:I, s:s, s:s}", "size", (json_int_t)f->head.tree_size, "timestamp_ns",
                     (json_int_t)f->head.timestamp_ns, "time", ts, "root", root);
}

static int s_write_manifest(const char *dir, const char *source, const s_facts_t *f, bool compact,
                            bool have_key, uint64_t data_bytes)
{
    char p[PATH_MAX], ts[64];
    if (s_path(p, sizeof p, dir, S_MANIFEST) != 0)
        return -1;
    uint64_t now = kc_time_real_ns();
    s_time_iso(now, ts, sizeof ts);
    char abs[PATH_MAX];
    if (!realpath(source, abs))
        snprintf(abs, sizeof abs, "%s", source);
    json_t *files = json_pack("[s]", "data.mdb");
    if (have_key)
        json_array_append_new(files, json_string(S_KEY_FILE));
    json_t *m =
        json_pack("{s:i, s:s, s:i, s:I, s:o, s:I, s:s, s:o, s:b, s:I, s:o}", "kcpipe_backup", 1,
                  "kcpipe_version", KC_VERSION, "store_format", f->format, "log_size",
                  (json_int_t)f->log_size, "head", s_head_json(f), "created_ns", (json_int_t)now,
                  "created", ts, "source", kc_json_texts(abs), "compact", compact, "data_bytes",
                  (json_int_t)data_bytes, "files", files);
    if (!m)
        return -1;
    int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = -1;
    if (fd >= 0) {
        char *text = json_dumps(m, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        size_t len = text ? strlen(text) : 0;
        if (text && write(fd, text, len) == (ssize_t)len && write(fd, "\n", 1) == 1 &&
            fsync(fd) == 0)
            rc = 0;
        free(text);
        if (close(fd) != 0)
            rc = -1;
    }
    json_decref(m);
    if (rc != 0)
        fprintf(stderr, PROG ": cannot write %s: %s\n", p, strerror(errno));
    return rc;
}

static int s_backup(const s_opts_t *o)
{
    if (o->argc != 1)
        return kc_cli_usage_error(PROG, "%s", "backup needs one DEST directory");
    const char *dest = o->argv[0];
    int ds = s_dir_state(dest);
    if (ds == 0) {
        fprintf(stderr,
                PROG ": %s exists and is not an empty directory: refusing to write a backup "
                     "there\n",
                dest);
        return S_EX_CANTCREAT;
    }
    if (ds < 0) {
        fprintf(stderr, PROG ": %s: %s\n", dest, strerror(errno));
        return KC_EX_IOERR;
    }
    kc_store_opts_t ro = {.read_only = true, .allow_old_format = true};
    kc_store_t *s = NULL;
    int rc = kc_store_open(&s, o->store, &ro);
    if (rc != 0)
        return s_open_fail(o->store, rc);

    char parent[PATH_MAX], base[NAME_MAX + 1], tmp[PATH_MAX], p[PATH_MAX];
    s_parent(dest, parent, sizeof parent);
    s_base(dest, base, sizeof base);
    if (s_mktemp_dir(parent, base, "partial", tmp, sizeof tmp) != 0) {
        kc_store_close(&s);
        return S_EX_CANTCREAT;
    }
    int ex = 0;
    int fd = -1;
    if (s_path(p, sizeof p, tmp, "data.mdb") != 0 ||
        (fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0) {
        fprintf(stderr, PROG ": cannot create %s: %s\n", p, strerror(errno));
        ex = KC_EX_IOERR;
    }
    if (ex == 0 && (rc = kc_store_copy(s, fd, o->compact)) != 0) {
        fprintf(stderr, PROG ": copying the store failed: %s\n", kc_strerror(rc));
        ex = KC_EX_IOERR;
    }
    struct stat st = {0};
    if (ex == 0 && (fsync(fd) != 0 || fstat(fd, &st) != 0)) {
        fprintf(stderr, PROG ": %s: %s\n", p, strerror(errno));
        ex = KC_EX_IOERR;
    }
    if (fd >= 0 && close(fd) != 0 && ex == 0)
        ex = KC_EX_IOERR;
    kc_store_close(&s);

    bool have_key = false;
    if (ex == 0) {
        char src[PATH_MAX], dst[PATH_MAX];
        if (s_path(src, sizeof src, o->store, S_KEY_FILE) != 0 ||
            s_path(dst, sizeof dst, tmp, S_KEY_FILE) != 0)
            ex = KC_EX_SOFTWARE;
        else {
            int k = s_copy_file(src, dst);
            if (k < 0)
                ex = KC_EX_IOERR;
            have_key = k == 0;
        }
    }
    s_facts_t f;
    if (ex == 0)
        ex = s_verify_copy(tmp, UINT64_MAX, &f, "the copy");
    if (ex == 0 && s_write_manifest(tmp, o->store, &f, o->compact, have_key, (uint64_t)st.st_size))
        ex = KC_EX_IOERR;
    if (ex == 0 && s_sync_dir(tmp) != 0)
        ex = KC_EX_IOERR;
    if (ex == 0 && rename(tmp, dest) != 0) {
        fprintf(stderr, PROG ": cannot rename %s to %s: %s\n", tmp, dest, strerror(errno));
        ex = errno == ENOTEMPTY || errno == EEXIST ? S_EX_CANTCREAT : KC_EX_IOERR;
    }
    if (ex != 0) {
        s_rm_tree(tmp);
        return ex;
    }
    s_sync_dir(parent);
    printf("backup of %s written to %s: format %d, %" PRIu64 " log entries, %" PRIu64
           " bytes%s%s\n",
           o->store, dest, f.format, f.log_size, (uint64_t)st.st_size,
           o->compact ? " (compacted)" : "", have_key ? ", with " S_KEY_FILE : "");
    if (f.have_head) {
        char ts[64];
        s_time_iso(f.head.timestamp_ns, ts, sizeof ts);
        printf("latest signed head: size %" PRIu64 " at %s\n", f.head.tree_size, ts);
    }
    return 0;
}

/* ---- restore ---- */

static int s_read_manifest(const char *backup, uint64_t *log_size, int *format)
{
    char p[PATH_MAX];
    if (s_path(p, sizeof p, backup, S_MANIFEST) != 0)
        return KC_EX_SOFTWARE;
    json_error_t err;
    json_t *m = json_load_file(p, 0, &err);
    if (!m) {
        if (access(p, F_OK) != 0) {
            fprintf(stderr, PROG ": %s is not a kc-admin backup (no %s)\n", backup, S_MANIFEST);
            return KC_EX_NOINPUT;
        }
        fprintf(stderr, PROG ": %s:%d: %s\n", p, err.line, err.text);
        return KC_EX_DATAERR;
    }
    json_int_t ver = 0, size = -1, fmt = 0;
    int rc = json_unpack(m, "{s:I, s:I, s:I}", "kcpipe_backup", &ver, "log_size", &size,
                         "store_format", &fmt);
    json_decref(m);
    if (rc != 0 || ver != 1 || size < 0) {
        fprintf(stderr, PROG ": %s: not a kc-admin backup manifest of version 1\n", p);
        return KC_EX_DATAERR;
    }
    *log_size = (uint64_t)size;
    *format = (int)fmt;
    return 0;
}

static int s_restore(const s_opts_t *o)
{
    if (o->argc != 1)
        return kc_cli_usage_error(PROG, "%s", "restore needs one BACKUP directory");
    const char *backup = o->argv[0], *dir = o->store;
    uint64_t want_size;
    int want_format;
    int ex = s_read_manifest(backup, &want_size, &want_format);
    if (ex != 0)
        return ex;

    int ds = s_dir_state(dir);
    if (ds < 0) {
        fprintf(stderr, PROG ": %s: %s\n", dir, strerror(errno));
        return KC_EX_IOERR;
    }
    int lock_fd = -1;
    char dp[PATH_MAX];
    if (ds == 0) { /* something there: only a store nobody has open may be replaced */
        struct stat st;
        if (s_path(dp, sizeof dp, dir, "data.mdb") != 0)
            return KC_EX_SOFTWARE;
        if (stat(dp, &st) != 0) {
            fprintf(stderr,
                    PROG ": %s is neither empty nor a store (no data.mdb): refusing to replace "
                         "it\n",
                    dir);
            return S_EX_CANTCREAT;
        }
        int pid = 0;
        int rc = kc_store_lock(dir, &lock_fd, &pid);
        if (rc == KC_EBUSY)
            return s_in_use(dir, pid, "restore");
        if (rc != 0) {
            fprintf(stderr, PROG ": %s: cannot lock the store: %s\n", dir, kc_strerror(rc));
            return KC_EX_IOERR;
        }
    }

    char parent[PATH_MAX], base[NAME_MAX + 1], tmp[PATH_MAX], src[PATH_MAX], dst[PATH_MAX];
    s_parent(dir, parent, sizeof parent);
    s_base(dir, base, sizeof base);
    if (s_mktemp_dir(parent, base, "restore", tmp, sizeof tmp) != 0) {
        kc_store_unlock(lock_fd, false);
        return S_EX_CANTCREAT;
    }
    const char *files[] = {"data.mdb", S_KEY_FILE};
    for (size_t i = 0; i < 2 && ex == 0; i++) {
        if (s_path(src, sizeof src, backup, files[i]) != 0 ||
            s_path(dst, sizeof dst, tmp, files[i]) != 0) {
            ex = KC_EX_SOFTWARE;
            break;
        }
        int k = s_copy_file(src, dst);
        if (k < 0)
            ex = KC_EX_IOERR;
        else if (k == 1 && i == 0) {
            fprintf(stderr, PROG ": %s has no data.mdb\n", backup);
            ex = KC_EX_NOINPUT;
        }
    }
    s_facts_t f;
    if (ex == 0)
        ex = s_verify_copy(tmp, want_size, &f, "the backup");
    if (ex == 0 && s_sync_dir(tmp) != 0)
        ex = KC_EX_IOERR;
    char aside[PATH_MAX] = "";
    if (ex == 0 && ds != 0) {
        if (rename(tmp, dir) != 0) { /* onto a missing or empty directory */
            fprintf(stderr, PROG ": cannot rename %s to %s: %s\n", tmp, dir, strerror(errno));
            ex = KC_EX_IOERR;
        }
    } else if (ex == 0) {
        char ts[64];
        time_t now = time(NULL);
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(ts, sizeof ts, "%Y%m%dT%H%M%SZ", &tm);
        if (snprintf(aside, sizeof aside, "%s.replaced-%s", dir, ts) >= (int)sizeof aside)
            ex = KC_EX_SOFTWARE;
        else if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
            if (rename(tmp, aside) != 0) { /* tmp now holds the old store */
                fprintf(stderr, PROG ": the old store is in %s (%s)\n", tmp, strerror(errno));
                snprintf(aside, sizeof aside, "%s", tmp);
            }
        } else if (errno == EINVAL || errno == ENOSYS) { /* no exchange on this filesystem */
            if (rename(dir, aside) != 0 || rename(tmp, dir) != 0) {
                fprintf(stderr, PROG ": cannot move the restored store into place: %s\n",
                        strerror(errno));
                ex = KC_EX_IOERR;
            }
        } else {
            fprintf(stderr, PROG ": cannot exchange %s and %s: %s\n", tmp, dir, strerror(errno));
            ex = KC_EX_IOERR;
        }
    }
    kc_store_unlock(lock_fd, ex == 0); /* the old store's lock file: a waiting opener fails */
    if (ex != 0) {
        s_rm_tree(tmp);
        return ex;
    }
    s_sync_dir(parent);
    printf("restored %s into %s: format %d, %" PRIu64 " log entries, audit log verified\n", backup,
           dir, f.format, f.log_size);
    if (aside[0])
        printf("the store it replaced is kept in %s\n", aside);
    if (f.format < KC_STORE_FORMAT)
        printf("this store has format %d; this kcpipe needs %d: run '" PROG
               " migrate --store %s'\n",
               f.format, KC_STORE_FORMAT, dir);
    return 0;
}

/* ---- compact ---- */

static int s_compact(const s_opts_t *o)
{
    if (o->argc != 0)
        return kc_cli_usage_error(PROG, "compact takes no operands ('%s')", o->argv[0]);
    const char *dir = o->store;
    char dp[PATH_MAX], tmp[PATH_MAX], tp[PATH_MAX];
    struct stat before;
    if (s_path(dp, sizeof dp, dir, "data.mdb") != 0)
        return KC_EX_SOFTWARE;
    if (stat(dp, &before) != 0) {
        fprintf(stderr, PROG ": no store at %s\n", dir);
        return KC_EX_NOINPUT;
    }
    int lock_fd = -1, pid = 0;
    int rc = kc_store_lock(dir, &lock_fd, &pid);
    if (rc == KC_EBUSY)
        return s_in_use(dir, pid, "compact");
    if (rc != 0) {
        fprintf(stderr, PROG ": %s: cannot lock the store: %s\n", dir, kc_strerror(rc));
        return KC_EX_IOERR;
    }
    /* nobody else can open it now: read it without LMDB's lock file */
    kc_store_opts_t xo = {.read_only = true, .exclusive = true, .allow_old_format = true};
    kc_store_t *s = NULL;
    rc = kc_store_open(&s, dir, &xo);
    if (rc != 0) {
        kc_store_unlock(lock_fd, false);
        return s_open_fail(dir, rc);
    }
    s_facts_t orig, copy;
    int ex = 0;
    if ((rc = s_facts(s, &orig)) != 0) {
        fprintf(stderr, PROG ": cannot read the store: %s\n", kc_strerror(rc));
        ex = KC_EX_DATAERR;
    }
    if (ex == 0 && s_mktemp_dir(dir, "data", "compact", tmp, sizeof tmp) != 0)
        ex = KC_EX_IOERR;
    int fd = -1;
    bool made = ex == 0;
    if (ex == 0 && (s_path(tp, sizeof tp, tmp, "data.mdb") != 0 ||
                    (fd = open(tp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)) < 0)) {
        fprintf(stderr, PROG ": cannot create %s: %s\n", tp, strerror(errno));
        ex = KC_EX_IOERR;
    }
    if (ex == 0 && (rc = kc_store_copy(s, fd, true)) != 0) {
        fprintf(stderr, PROG ": compacting copy failed: %s\n", kc_strerror(rc));
        ex = KC_EX_IOERR;
    }
    struct stat after = {0};
    if (ex == 0 && (fsync(fd) != 0 || fstat(fd, &after) != 0))
        ex = KC_EX_IOERR;
    if (fd >= 0)
        close(fd);
    kc_store_close(&s);
    if (ex == 0) {
        char ksrc[PATH_MAX], kdst[PATH_MAX]; /* so that the check compares the key too */
        if (s_path(ksrc, sizeof ksrc, dir, S_KEY_FILE) == 0 &&
            s_path(kdst, sizeof kdst, tmp, S_KEY_FILE) == 0 && s_copy_file(ksrc, kdst) < 0)
            ex = KC_EX_IOERR;
    }
    if (ex == 0)
        ex = s_verify_copy(tmp, orig.log_size, &copy, "the compacted copy");
    if (ex == 0 &&
        (copy.format != orig.format ||
         memcmp(copy.totals_digest, orig.totals_digest, sizeof copy.totals_digest) != 0 ||
         copy.st.identities != orig.st.identities || copy.st.producers != orig.st.producers ||
         copy.st.rejects != orig.st.rejects)) {
        fprintf(stderr, PROG ": the compacted copy differs from the store: not swapped in\n");
        ex = KC_EX_DATAERR;
    }
    if (ex == 0 && rename(tp, dp) != 0) {
        fprintf(stderr, PROG ": cannot rename %s to %s: %s\n", tp, dp, strerror(errno));
        ex = KC_EX_IOERR;
    }
    if (ex == 0)
        s_sync_dir(dir);
    if (made)
        s_rm_tree(tmp);
    kc_store_unlock(lock_fd, ex == 0); /* the data file changed: a waiting opener starts over */
    if (ex != 0)
        return ex;
    printf("compacted %s: %" PRIu64 " -> %" PRIu64 " bytes, %" PRIu64
           " log entries, totals and audit log verified\n",
           dir, (uint64_t)before.st_size, (uint64_t)after.st_size, orig.log_size);
    return 0;
}

/* ---- migrate ---- */

static void s_step(int from, int to, const char *what, void *ctx)
{
    (void)ctx;
    printf("format %d -> %d: %s\n", from, to, what);
}

static int s_migrate(const s_opts_t *o)
{
    if (o->argc != 0)
        return kc_cli_usage_error(PROG, "migrate takes no operands ('%s')", o->argv[0]);
    const char *dir = o->store;
    char dp[PATH_MAX];
    if (s_path(dp, sizeof dp, dir, "data.mdb") != 0)
        return KC_EX_SOFTWARE;
    if (access(dp, F_OK) != 0) {
        fprintf(stderr, PROG ": no store at %s\n", dir);
        return KC_EX_NOINPUT;
    }
    int pid = 0;
    int rc = kc_store_in_use(dir, &pid);
    if (rc == 1)
        return s_in_use(dir, pid, "migrate");
    kc_store_opts_t wo = {.allow_old_format = true};
    kc_store_t *s = NULL;
    if ((rc = kc_store_open(&s, dir, &wo)) != 0)
        return s_open_fail(dir, rc);
    int from = kc_store_format(s);
    if (from == KC_STORE_FORMAT) {
        kc_store_close(&s);
        printf("store %s already has format %d: nothing to do\n", dir, KC_STORE_FORMAT);
        return 0;
    }
    rc = kc_store_migrate(s, kc_identity_hash_txn, s_step, NULL);
    kc_store_close(&s);
    if (rc != 0) {
        fprintf(stderr,
                PROG ": migration of %s stopped: %s (the store stays at its last "
                     "completed format; restore the backup if in doubt)\n",
                dir, kc_strerror(rc));
        return rc == KC_EFORMAT ? KC_EX_DATAERR : KC_EX_IOERR;
    }
    kc_store_opts_t ro = {.read_only = true};
    if ((rc = kc_store_open(&s, dir, &ro)) != 0) {
        fprintf(stderr, PROG ": the migrated store does not open: %s\n", kc_strerror(rc));
        return KC_EX_DATAERR;
    }
    kc_store_close(&s);
    printf("store %s migrated from format %d to %d\n", dir, from, KC_STORE_FORMAT);
    return 0;
}

/* ---- stat ---- */

typedef struct {
    unsigned total, stale, in_txn;
    json_t *list; /* JSON mode */
    bool text;
} s_readers_t;

static int s_reader(const kc_store_reader_t *r, void *ctx)
{
    s_readers_t *rd = ctx;
    if (r->self)
        return 0; /* this kc-admin's own slot */
    rd->total++;
    rd->stale += r->stale;
    rd->in_txn += r->in_txn;
    char name[64];
    s_proc_name(r->pid, name, sizeof name);
    if (rd->list)
        json_array_append_new(
            rd->list, json_pack("{s:i, s:s, s:b, s:o, s:b}", "pid", r->pid, "process", name,
                                "in_txn", r->in_txn, "txnid",
                                r->in_txn ? json_integer((json_int_t)r->txnid) : json_null(),
                                "stale", r->stale));
    if (rd->text) {
        char snap[32] = "-";
        if (r->in_txn)
            snprintf(snap, sizeof snap, "%" PRIu64, r->txnid);
        printf("  reader pid %d%s%s%s  snapshot %s%s\n", r->pid, name[0] ? " (" : "", name,
               name[0] ? ")" : "", snap, r->stale ? "  STALE (process gone)" : "");
    }
    return 0;
}

static int s_stat(const s_opts_t *o)
{
    if (o->argc != 0)
        return kc_cli_usage_error(PROG, "stat takes no operands ('%s')", o->argv[0]);
    const char *dir = o->store;
    int holder = 0;
    int in_use = kc_store_in_use(dir, &holder); /* before our own open (see kc_store_in_use) */
    kc_store_opts_t ro = {.read_only = true, .allow_old_format = true};
    kc_store_t *s = NULL;
    int rc = kc_store_open(&s, dir, &ro);
    if (rc != 0)
        return s_open_fail(dir, rc);
    char dp[PATH_MAX];
    struct stat fst = {0};
    if (s_path(dp, sizeof dp, dir, "data.mdb") == 0)
        stat(dp, &fst);
    kc_store_env_t env;
    s_facts_t f;
    kc_store_db_stat_t dbs[KC_STORE_DB_MAX];
    size_t ndb = 0;
    uint64_t units = 0;
    if ((rc = kc_store_env_info(s, &env)) == 0 && (rc = s_facts(s, &f)) == 0) {
        kc_txn_t *t = NULL;
        if ((rc = kc_store_read_begin(s, &t)) == 0)
            rc = kc_txn_db_stats(t, dbs, &ndb);
        kc_txn_end(&t);
    }
    if (rc != 0) {
        kc_store_close(&s);
        fprintf(stderr, PROG ": cannot read the store at %s: %s\n", dir, kc_strerror(rc));
        return KC_EX_IOERR;
    }
    for (size_t i = 0; i < ndb; i++)
        if (strcmp(dbs[i].name, "units") == 0)
            units = dbs[i].entries;
    uint64_t used = (env.last_page + 1) * (uint64_t)env.page_size;
    double use_pct = env.map_size ? 100.0 * (double)used / (double)env.map_size : 0;
    char holder_name[64] = "";
    if (in_use == 1)
        s_proc_name(holder, holder_name, sizeof holder_name);

    s_readers_t rd = {.text = !o->json};
    if (o->json) {
        rd.list = json_array();
        kc_store_readers(s, s_reader, &rd);
        json_t *tables = json_object();
        for (size_t i = 0; i < ndb; i++)
            json_object_set_new(
                tables, dbs[i].name,
                dbs[i].present ? json_pack("{s:I, s:i, s:I, s:I, s:I}", "entries",
                                           (json_int_t)dbs[i].entries, "depth", (int)dbs[i].depth,
                                           "branch_pages", (json_int_t)dbs[i].branch_pages,
                                           "leaf_pages", (json_int_t)dbs[i].leaf_pages,
                                           "overflow_pages", (json_int_t)dbs[i].overflow_pages)
                               : json_null());
        json_t *j = json_pack(
            "{s:o, s:i, s:i, s:I, s:I, s:I, s:f, s:I, s:I, s:I, s:{s:I, s:I, s:I, s:I, s:I, s:I}, "
            "s:o, s:{s:I, s:I, s:I, s:o}, s:o, s:o}",
            "store", kc_json_texts(dir), "format", f.format, "format_current", KC_STORE_FORMAT,
            "file_bytes", (json_int_t)fst.st_size, "map_bytes", (json_int_t)env.map_size,
            "used_bytes", (json_int_t)used, "map_use_percent", use_pct, "page_size",
            (json_int_t)env.page_size, "pages_used", (json_int_t)(env.last_page + 1), "last_txnid",
            (json_int_t)env.last_txnid, "counts", "log_entries", (json_int_t)f.log_size,
            "producers", (json_int_t)f.st.producers, "identities", (json_int_t)f.st.identities,
            "cells", (json_int_t)f.st.cells, "rejects", (json_int_t)f.st.rejects, "units",
            (json_int_t)units, "tables", tables, "readers", "max", (json_int_t)env.max_readers,
            "active", (json_int_t)rd.total, "stale", (json_int_t)rd.stale, "list", rd.list,
            "open_by_other_process",
            in_use == 1 ? json_pack("{s:i, s:s}", "pid", holder, "process", holder_name)
                        : json_false(),
            "last_signed_head", s_head_json(&f));
        char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
        if (text)
            printf("%s\n", text);
        free(text);
        json_decref(j);
        kc_store_close(&s);
        return text ? 0 : KC_EX_SOFTWARE;
    }
    printf("store:           %s\n", dir);
    printf("format:          %d%s\n", f.format,
           f.format == KC_STORE_FORMAT ? " (current)" : "  (OLD: run " PROG " migrate)");
    printf("file:            %" PRIu64 " bytes (data.mdb)\n", (uint64_t)fst.st_size);
    printf("map:             %zu bytes, %" PRIu64 " used (%.1f%%), page size %zu, %" PRIu64
           " pages\n",
           env.map_size, used, use_pct, env.page_size, env.last_page + 1);
    printf("last txn:        %" PRIu64 "\n", env.last_txnid);
    printf("log entries:     %" PRIu64 "\n", f.log_size);
    printf("producers:       %" PRIu64 "\n", f.st.producers);
    printf("identities:      %" PRIu64 "\n", f.st.identities);
    printf("cells:           %" PRIu64 "\n", f.st.cells);
    printf("rejects:         %" PRIu64 "\n", f.st.rejects);
    printf("units:           %" PRIu64 "\n", units);
    if (f.have_head) {
        char ts[64];
        s_time_iso(f.head.timestamp_ns, ts, sizeof ts);
        printf("last signed head: size %" PRIu64 " at %s\n", f.head.tree_size, ts);
    } else {
        printf("last signed head: none\n");
    }
    if (in_use == 1)
        printf("open by:         pid %d%s%s%s (and possibly others)\n", holder,
               holder_name[0] ? " (" : "", holder_name, holder_name[0] ? ")" : "");
    else
        printf("open by:         no other process\n");
    printf("tables:          %-12s %10s %5s %8s %8s %8s\n", "name", "entries", "depth", "branch",
           "leaf", "overflow");
    for (size_t i = 0; i < ndb; i++) {
        if (!dbs[i].present) {
            printf("                 %-12s %10s\n", dbs[i].name, "(absent)");
            continue;
        }
        printf("                 %-12s %10" PRIu64 " %5u %8" PRIu64 " %8" PRIu64 " %8" PRIu64 "\n",
               dbs[i].name, dbs[i].entries, dbs[i].depth, dbs[i].branch_pages, dbs[i].leaf_pages,
               dbs[i].overflow_pages);
    }
    printf("readers:         (of %u slots)\n", env.max_readers);
    kc_store_readers(s, s_reader, &rd);
    printf("readers:         %u active, %u stale\n", rd.total, rd.stale);
    kc_store_close(&s);
    return 0;
}

/* ---- rejects ---- */

/* Local time "2026-12-07 13:32:30" of ns since the epoch. */
static void s_local_time(uint64_t ns, char *buf, size_t cap)
{
    time_t t = (time_t)(ns / 1000000000u);
    struct tm tm;
    if (!localtime_r(&t, &tm) || strftime(buf, cap, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(buf, cap, "?");
}

/* One CSV field (RFC 4180 quoting) of s[0..len) in display form. */
static void s_csv(const char *s, size_t len, bool last)
{
    char *d = malloc(KC_TEXT_SHOW_MAX(len));
    if (d)
        kc_text_show(s, len, d, KC_TEXT_SHOW_MAX(len));
    const char *v = d ? d : "";
    if (strpbrk(v, ",\"\r\n")) {
        putchar('"');
        for (; *v; v++) {
            if (*v == '"')
                putchar('"');
            putchar(*v);
        }
        putchar('"');
    } else {
        fputs(v, stdout);
    }
    putchar(last ? '\n' : ',');
    free(d);
}

static void s_csvs(const char *s, bool last)
{
    s_csv(s ? s : "", s ? strlen(s) : 0, last);
}

static int s_rejects(const s_opts_t *o)
{
    if (o->argc > 0)
        return kc_cli_usage_error(PROG, "rejects takes no operands ('%s')", o->argv[0]);
    const char *fmt = o->format ? o->format : "table";
    bool json = strcmp(fmt, "json") == 0, csv = strcmp(fmt, "csv") == 0;
    if (!json && !csv && strcmp(fmt, "table") != 0)
        return kc_cli_usage_error(PROG, "rejects: --format must be table, json or csv, not '%s'",
                                  fmt);
    if (o->no_bom && !csv)
        return kc_cli_usage_error(PROG, "%s", "--no-bom goes with --format csv");
    bool vi = o->lang == KC_LANG_VI;
    kc_store_t *s = NULL;
    int ex = kc_cli_open_store(PROG, o->store, &s);
    if (ex)
        return ex;
    kc_txn_t *t = NULL;
    kc_rejects_t list = {0};
    int rc = kc_store_read_begin(s, &t);
    if (rc == 0)
        rc = kc_rejects_list(&o->rej, t, &list);
    if (rc != 0) {
        fprintf(stderr, PROG ": reading the rejects of %s: %s\n", o->store, kc_strerror(rc));
        kc_txn_end(&t);
        kc_store_close(&s);
        return rc == KC_EFORMAT ? KC_EX_DATAERR : KC_EX_IOERR;
    }
    ex = 0;
    if (json) {
        json_t *doc = kc_rejects_json(&list);
        char *text = doc ? json_dumps(doc, JSON_INDENT(2)) : NULL;
        if (text)
            printf("%s\n", text);
        else
            ex = KC_EX_SOFTWARE;
        free(text);
        json_decref(doc);
    } else if (csv) {
        if (!o->no_bom) /* a spreadsheet then reads the file as UTF-8 (kc-query's CSV) */
            fputs("\xEF\xBB\xBF", stdout);
        /* Vietnamese: the dashboard's headers (web/app.js csv_rejects) */
        static const char *const head[] = {"received", "producer",     "epoch",    "seq",
                                           "reason",   "reason_label", "province", "province_name",
                                           "event_id", "text"};
        static const char *const head_vi[] = {
            "Thời gian nhận", "Nguồn gửi", "Kỳ (epoch)",      "Số thứ tự",  "Mã lý do",
            "Lý do",          "Mã tỉnh",   "Tỉnh, thành phố", "Mã sự kiện", "Chi tiết"};
        for (size_t k = 0; k < sizeof head / sizeof *head; k++)
            s_csvs(vi ? head_vi[k] : head[k], k + 1 == sizeof head / sizeof *head);
        for (size_t i = 0; i < list.n; i++) {
            const kc_reject_t *r = &list.rows[i];
            char tb[64] = "", code[8], num[32];
            if (r->has_details)
                s_local_time(r->received_ns, tb, sizeof tb);
            s_csvs(tb, false);
            s_csv(r->producer, r->producer_len, false);
            snprintf(num, sizeof num, "%" PRIu64, r->epoch);
            s_csvs(num, false);
            snprintf(num, sizeof num, "%" PRIu64, r->seq);
            s_csvs(num, false);
            s_csvs(kc_reason_name(r->reason), false);
            s_csvs(kc_label_reason(kc_reason_name(r->reason), o->lang), false);
            s_csvs(kc_rejects_code(r, code, sizeof code), false);
            s_csvs(kc_rejects_province_name(r), false);
            s_csv(r->event_id ? r->event_id : "", r->event_id_len, false);
            s_csv(r->text, r->text_len, true);
        }
    } else {
        kc_table_t *tab = kc_table_new(8, 8);
        if (!tab || kc_table_row(tab) != 0) {
            ex = KC_EX_SOFTWARE;
        } else {
            static const char *const head[] = {"received", "producer", "epoch",    "seq",
                                               "reason",   "province", "event_id", "text"};
            static const char *const head_vi[] = {"Thời gian nhận", "Nguồn gửi", "Kỳ (epoch)",
                                                  "Số thứ tự",      "Lý do",     "Tỉnh, thành phố",
                                                  "Mã sự kiện",     "Chi tiết"};
            for (size_t k = 0; k < 8; k++)
                kc_table_set(tab, k, vi ? head_vi[k] : head[k]);
            for (size_t i = 0; i < list.n && ex == 0; i++) {
                const kc_reject_t *r = &list.rows[i];
                char tb[64], code[8], prov[160], num[32], why[192], *pr, *ev, *tx;
                snprintf(tb, sizeof tb, "%s", vi ? "không rõ" : "unknown");
                const char *token = kc_reason_name(r->reason);
                snprintf(why, sizeof why, "%s (%s)", kc_label_reason(token, o->lang), token);
                if (r->has_details)
                    s_local_time(r->received_ns, tb, sizeof tb);
                const char *name = kc_rejects_province_name(r);
                snprintf(prov, sizeof prov, "%s%s%s", kc_rejects_code(r, code, sizeof code),
                         name ? " " : "", name ? name : "");
                pr = strndup(r->producer, r->producer_len);
                ev = strndup(r->event_id ? r->event_id : "", r->event_id_len);
                tx = strndup(r->text, r->text_len);
                if (!pr || !ev || !tx || kc_table_row(tab) != 0) {
                    ex = KC_EX_SOFTWARE;
                } else {
                    kc_table_set(tab, 0, tb);
                    kc_table_set(tab, 1, pr);
                    snprintf(num, sizeof num, "%" PRIu64, r->epoch);
                    kc_table_set(tab, 2, num);
                    snprintf(num, sizeof num, "%" PRIu64, r->seq);
                    kc_table_set(tab, 3, num);
                    kc_table_set(tab, 4, why);
                    kc_table_set(tab, 5, prov);
                    kc_table_set(tab, 6, ev);
                    kc_table_set(tab, 7, tx);
                }
                free(pr);
                free(ev);
                free(tx);
            }
            if (ex == 0)
                kc_table_print(tab, stdout);
        }
        kc_table_destroy(&tab);
        if (vi)
            printf("%" PRIu64 " dòng bị từ chối%s", list.count, list.truncated ? "" : "\n");
        else
            printf("%" PRIu64 " rejected row%s%s", list.count, list.count == 1 ? "" : "s",
                   list.truncated ? "" : "\n");
        if (list.truncated)
            printf(vi ? ", hiện %zu dòng: tăng --limit hoặc thu hẹp bộ lọc để xem các dòng còn "
                        "lại\n"
                      : ", %zu shown: raise --limit or narrow the filters to see the rest\n",
                   list.n);
    }
    kc_rejects_free(&list);
    kc_txn_end(&t);
    kc_store_close(&s);
    if (ex == KC_EX_SOFTWARE)
        fprintf(stderr, PROG ": out of memory\n");
    return ex;
}

/* ---- approve, reopen ---- */

typedef struct {
    uint64_t seq;   /* the request's seq (0 before it is staged) */
    bool final;     /* its result arrived */
    int reason;     /* KCI_ACCEPTED, KCI_DUPLICATE or a rejection */
    char name[64];  /* reason_name */
    char text[512]; /* the aggregator's explanation */
    char hint[512]; /* kci_result_hint */
} s_cycle_t;

static void s_on_cycle_result(const kc_result_t *r, void *ctx)
{
    s_cycle_t *cy = ctx;
    if (!cy->seq || r->seq != cy->seq) { /* left spooled by an earlier run */
        printf("earlier request %s: %s%s%s\n", r->event_id,
               r->reason == KCI_ACCEPTED ? "accepted" : r->reason_name, *r->text ? ": " : "",
               r->text);
        return;
    }
    cy->final = true;
    cy->reason = r->reason;
    snprintf(cy->name, sizeof cy->name, "%s", r->reason_name ? r->reason_name : "");
    snprintf(cy->text, sizeof cy->text, "%s", r->text ? r->text : "");
    kci_result_hint(r, cy->hint, sizeof cy->hint);
}

/* approve / reopen: one cycle event as producer "centre" (see DESIGN). */
static int s_cycle(const s_opts_t *o, bool approve)
{
    const char *cmd = approve ? "approve" : "reopen";
    if (o->argc > 0)
        return kc_cli_usage_error(PROG, "approve and reopen take no operands ('%s')", o->argv[0]);
    if (o->nprov != 1 || !o->period)
        return kc_cli_usage_error(PROG, "%s needs one --province and --period",
                                  approve ? "approve" : "reopen");
    if (approve && o->nreason)
        return kc_cli_usage_error(PROG, "%s", "--reason goes with reopen (and rejects)");
    if (!approve && (o->nreason != 1 || !*o->reason[0]))
        return kc_cli_usage_error(PROG, "%s",
                                  "reopen needs --reason TEXT: say why the month is opened again");
    if (!o->connect)
        return kc_cli_usage_error(PROG, "%s needs --connect EP (the aggregator's endpoint)",
                                  approve ? "approve" : "reopen");
    if (!o->server_key != !o->cert)
        return kc_cli_usage_error(PROG, "%s", "--server-key and --cert go together");
    const char *prov = o->prov[0];
    int year, month;
    if (!kc_ref_parse_period(o->period, &year, &month))
        return kc_cli_usage_error(
            PROG, "--period: '%s' is not a month YYYY-MM (2000-01 to 2100-12)", o->period);
    char spool[PATH_MAX];
    if (o->spool) {
        snprintf(spool, sizeof spool, "%s", o->spool);
    } else {
        char parent[PATH_MAX];
        s_parent(o->store, parent, sizeof parent);
        if (s_path(spool, sizeof spool, parent, S_CENTRE_SPOOL) != 0)
            return KC_EX_USAGE;
    }
    kc_ingest_set_log(PROG, KCI_LOG_WARN, NULL, NULL);
    kc_producer_opts_t po = {.endpoint = o->connect,
                             .producer_id = KC_CENTRE_PRODUCER,
                             .spool_dir = spool,
                             .client_cert_file = o->cert};
    char server_key[41];
    if (o->server_key) {
        int krc = kc_ingest_read_cert(o->server_key, server_key, NULL);
        if (krc) {
            fprintf(stderr, PROG ": --server-key %s: %s\n", o->server_key,
                    kc_producer_strerror(krc));
            return KC_EX_USAGE;
        }
        po.server_public_key = server_key;
    }
    kc_producer_t *p = NULL;
    int rc = kc_producer_open(&p, &po);
    if (rc) {
        fprintf(stderr, PROG ": cannot open the spool %s / connect to %s: %s\n", spool, o->connect,
                kc_producer_strerror(rc));
        return S_EX_UNAVAIL;
    }
    s_cycle_t cy = {0};
    kc_producer_on_result(p, s_on_cycle_result, &cy);
    char id[80];
    snprintf(id, sizeof id, "%s-%.16s-%04d%02d-%lld", cmd, prov, year, month,
             (long long)(kc_time_real_ns() / 1000000));
    kc_event_t ev = {.event_id = id,
                     .province = prov,
                     .year = year,
                     .month = month,
                     .note = approve ? NULL : o->reason[0],
                     .op = approve ? KCI_OP_APPROVE : KCI_OP_REOPEN};
    rc = kc_producer_add(p, &ev, cmd, &cy.seq);
    if (rc) {
        const char *name = "", *text = "";
        if (rc == KCI_EREFUSED)
            kc_producer_refusal(p, &name, &text);
        fprintf(stderr, PROG ": %s %s %04d-%02d: refused: %s%s%s\n", cmd, prov, year, month,
                rc == KCI_EREFUSED ? name : kc_producer_strerror(rc),
                rc == KCI_EREFUSED ? ": " : "", rc == KCI_EREFUSED ? text : "");
        kc_producer_close(&p);
        return rc == KCI_EREFUSED || rc == KCI_EINVAL ? KC_EX_USAGE : S_EX_TEMPFAIL;
    }
    double t = o->timeout_s >= 0 ? o->timeout_s : 30;
    int64_t deadline = kc_time_mono_ms() + (int64_t)(t * 1000 + 0.5);
    int fail = 0;
    for (;;) {
        int64_t left = deadline - kc_time_mono_ms();
        rc = kc_producer_flush(p, left > 0 ? (int)(left > 2000000000 ? 2000000000 : left) : 0);
        if (rc == KCI_EINTR && left > 0)
            continue;
        if (rc && rc != KCI_ETIMEDOUT) {
            fprintf(stderr, PROG ": %s\n", kc_producer_strerror(rc));
            fail = rc;
        }
        break;
    }
    kc_producer_close(&p);
    int ex;
    if (!cy.final) {
        printf("%s %s %04d-%02d: no result within %g s; the request stays spooled in %s and is "
               "sent first by the next approve or reopen with this spool\n",
               cmd, prov, year, month, t, spool);
        ex = fail == KCI_EFENCED ? S_EX_UNAVAIL : S_EX_TEMPFAIL;
    } else if (cy.reason == KCI_ACCEPTED || cy.reason == KCI_DUPLICATE) {
        printf("%s %s %04d-%02d: accepted (%s)\n", cmd, prov, year, month, id);
        ex = 0;
    } else {
        printf("%s %s %04d-%02d: rejected %s: %s\n", cmd, prov, year, month, cy.name, cy.text);
        if (*cy.hint)
            printf("  hint: %s\n", cy.hint);
        ex = S_EX_DATAERR;
    }
    fflush(stdout);
    return ex;
}

/* --province, --reason: rejects' filters (kc_rejects_set, in the order given). */
static int s_rejects_filters(s_opts_t *o)
{
    char err[320];
    for (int i = 0; i < o->nprov; i++)
        if (kc_rejects_set(&o->rej, KC_QRY_CLI, "province", o->prov[i], err, sizeof err))
            return kc_cli_usage_error(PROG, "%s", err);
    for (int i = 0; i < o->nreason; i++)
        if (kc_rejects_set(&o->rej, KC_QRY_CLI, "reason", o->reason[i], err, sizeof err))
            return kc_cli_usage_error(PROG, "%s", err);
    return 0;
}

int main(int argc, char **argv)
{
    kc_log_set_ident(PROG);
    kc_log_set_level(KC_LOG_WARN); /* what kc-admin did, it prints itself */
    s_opts_t o = {.store = S_DEFAULT_STORE, .lang = kc_lang_from_env(), .timeout_s = -1};
    kc_rejects_init(&o.rej, KC_QRY_CLI);
    static const struct option longopts[] = {
        {"store", required_argument, NULL, 's'},
        {"compact", no_argument, NULL, 'c'},
        {"format", required_argument, NULL, 'f'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {"province", required_argument, NULL, 'P'},
        {"reason", required_argument, NULL, 'E'},
        {"since", required_argument, NULL, 'R'},
        {"until", required_argument, NULL, 'R'},
        {"producer", required_argument, NULL, 'R'},
        {"limit", required_argument, NULL, 'R'},
        {"duplicates", no_argument, NULL, 'R'},
        {"no-bom", no_argument, NULL, 'B'},
        {"lang", required_argument, NULL, 'L'},
        {"period", required_argument, NULL, 'S'},
        {"connect", required_argument, NULL, 'S'},
        {"spool", required_argument, NULL, 'S'},
        {"server-key", required_argument, NULL, 'S'},
        {"cert", required_argument, NULL, 'S'},
        {"timeout", required_argument, NULL, 'S'},
        {NULL, 0, NULL, 0},
    };
    /* the same config file handling as every other program (README): a file
     * may set --store; --no-config, --config FILE and --check-config */
    int mrc = kc_conf_main(PROG, "admin", longopts, &argc, &argv);
    if (mrc)
        return mrc;
    int c, idx = 0;
    while ((c = getopt_long(argc, argv, "hV", longopts, &idx)) != -1) {
        switch (c) {
        case 's': o.store = optarg; break;
        case 'c': o.compact = true; break;
        case 'f': o.format = optarg; break; /* checked per command below */
        case 'R': {
            char err[320];
            if (!o.rej_opt)
                o.rej_opt = longopts[idx].name;
            if (kc_rejects_set(&o.rej, KC_QRY_CLI, longopts[idx].name, optarg, err, sizeof err))
                return kc_cli_usage_error(PROG, "%s", err);
            break;
        }
        case 'P':
        case 'E':
            if ((c == 'P' ? o.nprov : o.nreason) >= S_MAX_FILTERS)
                return kc_cli_usage_error(PROG, "too many --%s options", longopts[idx].name);
            if (c == 'P')
                o.prov[o.nprov++] = optarg;
            else
                o.reason[o.nreason++] = optarg;
            break;
        case 'S': {
            const char *n = longopts[idx].name;
            if (!o.send_opt && !*kc_conf_blame(optarg)) /* admin.conf may hold connect = */
                o.send_opt = n;
            if (strcmp(n, "period") == 0) {
                o.period = optarg;
            } else if (strcmp(n, "connect") == 0) {
                o.connect = optarg;
            } else if (strcmp(n, "spool") == 0) {
                o.spool = optarg;
            } else if (strcmp(n, "server-key") == 0) {
                o.server_key = optarg;
            } else if (strcmp(n, "cert") == 0) {
                o.cert = optarg;
            } else {
                char *end;
                errno = 0;
                o.timeout_s = strtod(optarg, &end);
                if (errno || end == optarg || *end || !(o.timeout_s >= 0) || o.timeout_s > 1e6)
                    return kc_cli_usage_error(PROG, "--timeout: '%s' is not a number of seconds",
                                              optarg);
            }
            break;
        }
        case 'B':
            o.no_bom = true;
            if (!o.rej_opt)
                o.rej_opt = "no-bom";
            break;
        case 'L':
            if (kc_lang_parse(optarg, &o.lang) != 0)
                return kc_cli_usage_error(PROG, "--lang takes en or vi, not '%s'", optarg);
            if (!o.rej_opt)
                o.rej_opt = "lang";
            break;
        case 'h': s_usage(stdout); return 0;
        case 'V': printf(PROG " %s\n", KC_VERSION); return 0;
        default: return kc_cli_usage_error(PROG, "%s", "bad option");
        }
    }
    if (kc_conf_main_check_done())
        return 0;
    if (optind >= argc)
        return kc_cli_usage_error(PROG, "%s",
                                  "a command is needed: backup, restore, stat, compact, migrate, "
                                  "rejects, approve, reopen");
    const char *cmd = argv[optind];
    o.argc = argc - optind - 1;
    o.argv = argv + optind + 1;
    if (sodium_init() < 0) {
        fprintf(stderr, PROG ": libsodium cannot be initialised\n");
        return KC_EX_SOFTWARE;
    }
    if (o.compact && strcmp(cmd, "backup") != 0)
        return kc_cli_usage_error(PROG, "%s", "--compact is an option of backup");
    bool cycle = strcmp(cmd, "approve") == 0 || strcmp(cmd, "reopen") == 0;
    bool rejects = strcmp(cmd, "rejects") == 0;
    if (o.rej_opt && !rejects) {
        char m[64];
        snprintf(m, sizeof m, "--%s is an option of rejects", o.rej_opt);
        return kc_cli_usage_error(PROG, "%s", m);
    }
    if (o.send_opt && !cycle) {
        char m[64];
        snprintf(m, sizeof m, "--%s is an option of approve and reopen", o.send_opt);
        return kc_cli_usage_error(PROG, "%s", m);
    }
    if ((o.nprov || o.nreason) && !cycle && !rejects)
        return kc_cli_usage_error(PROG, "--%s is an option of rejects, approve and reopen",
                                  o.nprov ? "province" : "reason");
    if (rejects) {
        int frc = s_rejects_filters(&o);
        if (frc)
            return frc;
    }
    if (o.format && strcmp(cmd, "stat") == 0) {
        if (strcmp(o.format, "json") != 0 && strcmp(o.format, "text") != 0)
            return kc_cli_usage_error(PROG, "--format must be text or json, not '%s'", o.format);
        o.json = strcmp(o.format, "json") == 0;
    } else if (o.format && !rejects) {
        return kc_cli_usage_error(PROG, "%s", "--format is an option of stat and rejects");
    }
    if (strcmp(cmd, "backup") == 0)
        return s_backup(&o);
    if (strcmp(cmd, "restore") == 0)
        return s_restore(&o);
    if (strcmp(cmd, "stat") == 0)
        return s_stat(&o);
    if (strcmp(cmd, "compact") == 0)
        return s_compact(&o);
    if (strcmp(cmd, "migrate") == 0)
        return s_migrate(&o);
    if (rejects)
        return s_rejects(&o);
    if (cycle)
        return s_cycle(&o, strcmp(cmd, "approve") == 0);
    return kc_cli_usage_error(PROG, "unknown command '%s'", cmd);
}
