/* kc_audit.c - kc-audit: check the verifiable log, produce and check proofs.
 *
 * DESIGN
 * Every store command opens the store read-only and works in one read
 * snapshot, so it never blocks kc-aggregator and sees one committed state.
 * Proofs are self-contained JSON files (docs/AUDIT.md): a proof names the
 * signed head it is against and carries the public key for information
 * only; `check-proof` trusts nothing but the key given with --key, uses only
 * common/kc_merkle (no store), and exits 0 only if the head's signature,
 * the leaf encoding and the Merkle path all check. `check-proof` also takes a
 * bare RFC 6962 proof of any log as options (hex values: --leaf-hash or
 * --leaf-data, --leaf-index, --tree-size, --root; or --size1, --size2,
 * --root1, --root2; each --proof one hash, in order): no head, no key, the
 * root trusted as given; exit 0 verifies, 1 does not, 64 bad input.
 * `verify --file` likewise needs no store: it streams an exported log file
 * through store/kc_logfile's reader (docs/LOGFILE.md) with the --key it is
 * given as the trusted key. `history` looks the event_id up under each unit
 * key the province code can have (kc_ref_units_of) and walks the chain
 * with kc_txn_history; a chain reachable from both units is listed once.
 * Each version's log entry is decoded (core/kc_entry.h): its producer, who
 * submitted it there (submitted_by, when the event names someone), values
 * and note, and what it changed of the version before it (kc_entry_diff; a
 * correction without a kind keeps its target's), under its row in the table
 * and as fields of its object in JSON (the kc_entry_json fields and
 * "changes"). --lang vi (the default when the locale is Vietnamese:
 * kc_lang_from_env) prints the table's header and the lines under each row in
 * Vietnamese (op, kind, fund, activity and metric labels: kc_label.h, and
 * the state); JSON is the same in both.
 * Exit codes: 0 ok / clean / valid, 1 the store or the proof failed a check,
 * 64 usage, 65 bad data (no such head, unreadable proof file), 66 no store
 * or file, 70 internal error, 74 I/O, 75 try again (no signed head covers
 * the entry yet).
 */
#include "kc_audit.h"
#include "kc_cli.h"
#include "kc_conf.h"
#include "kc_entry.h"
#include "kc_entryfmt.h"
#include "kc_err.h"
#include "kc_event.h"
#include "kc_jtext.h"
#include "kc_label.h"
#include "kc_log.h"
#include "kc_logfile.h"
#include "kc_merkle.h"
#include "kc_progress.h"
#include "kc_ref.h"
#include "kc_text.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG              "kc-audit"
#define S_DEFAULT_STORE   "./var/kcpipe"
#define S_EX_FAIL         1
#define S_EX_TEMPFAIL     75
#define S_PROOF_INCLUSION "inclusion"
#define S_PROOF_CONSIST   "consistency"
#define S_PROOF_VERSION   1
#define S_HEX_HASH        (2 * KC_MERKLE_HASH_LEN + 1)

typedef struct {
    const char *store;    /* --store */
    const char *province; /* --province */
    const char *event;    /* --event */
    const char *out;      /* --out */
    const char *key;      /* --key (hex) */
    const char *file;     /* --file (verify --file: an exported log, no store) */
    const char *format;   /* --format table|json (history) */
    kc_lang_t lang;       /* --lang (history's table; default: the locale's) */
    bool have_offset;     /* --offset given */
    uint64_t offset;
    bool have_size; /* --size given */
    uint64_t size;
    bool quiet; /* --quiet: no progress */
    /* check-proof of a bare RFC 6962 proof (s_check_raw): hex strings as given */
    const char *leaf_hash, *leaf_data, *root, *root1, *root2;
    bool have_leaf_index, have_tree_size, have_size1, have_size2;
    uint64_t leaf_index, tree_size, size1, size2;
    const char *proof[KC_MERKLE_PATH_MAX + 1]; /* --proof, in the order given (the first
                                                  KC_MERKLE_PATH_MAX + 1 of them) */
    size_t n_proof;                            /* --proof options given */
    int argc;                                  /* operands after the command */
    char **argv;
} s_opts_t;

typedef struct {
    const char *name;
    int (*run)(s_opts_t *o); /* NULL: provided by other work, not in this build */
    const char *usage;
} s_cmd_t;

static int s_verify(s_opts_t *o);
static int s_prove(s_opts_t *o);
static int s_consistency(s_opts_t *o);
static int s_heads(s_opts_t *o);
static int s_check_proof(s_opts_t *o);
static int s_pubkey(s_opts_t *o);
static int s_history(s_opts_t *o);

/* The subcommand table. `history` (every version of an event) and
 * `verify --file` (an exported log) belong to the corrections and export
 * work: fill their slots here. */
static const s_cmd_t s_cmds[] = {
    {"verify", s_verify,
     "verify                 recompute every leaf, subtree and signed head\n"
     "  verify --file FILE --key PUBHEX\n"
     "                         check an exported log file offline (no store needed)"},
    {"prove", s_prove,
     "prove --province P --event ID | --offset N [--size N] [--out FILE]\n"
     "                         an inclusion proof of one event (JSON)"},
    {"consistency", s_consistency,
     "consistency SIZE1 SIZE2 [--out FILE]\n"
     "                         a consistency proof between two signed heads (JSON)"},
    {"heads", s_heads, "heads                  list the signed tree heads"},
    {"history", s_history,
     "history --province P --event ID [--format table|json]\n"
     "                         every version of an event: offset, time, op, state,\n"
     "                         producer, values, note, what it changed"},
    {"check-proof", s_check_proof,
     "check-proof FILE --key PUBHEX   check a proof offline (no store needed)\n"
     "  check-proof --leaf-hash HEX | --leaf-data HEX --leaf-index N --tree-size N\n"
     "              --root HEX [--proof HEX]...\n"
     "                         check a bare RFC 6962 inclusion proof (any log)\n"
     "  check-proof --size1 N --size2 N --root1 HEX --root2 HEX [--proof HEX]...\n"
     "                         check a bare RFC 6962 consistency proof (any log)"},
    {"pubkey", s_pubkey, "pubkey                 print the store's public key (hex)"},
};
#define S_NCMDS (sizeof s_cmds / sizeof s_cmds[0])

static void s_usage(FILE *out)
{
    fprintf(out, "Usage: " PROG " [--store DIR] COMMAND [options]\n"
                 "Check kcpipe's verifiable event log (RFC 6962 Merkle tree, Ed25519-signed\n"
                 "tree heads) and produce or check proofs. The store is opened read-only.\n"
                 "\nCommands:\n");
    for (size_t i = 0; i < S_NCMDS; i++)
        fprintf(out, "  %s%s\n", s_cmds[i].usage, s_cmds[i].run ? "" : " (not in this build)");
    fprintf(out, "\nOptions:\n"
                 "  --store DIR        the store (default " S_DEFAULT_STORE ")\n"
                 "  --province CODE    province code of the event (prove, history)\n"
                 "  --event ID         its event_id (prove, history)\n"
                 "  --offset N         log offset instead of province + event (prove)\n"
                 "  --size N           prove against the signed head of N entries (default: "
                 "latest)\n"
                 "  --out FILE         write the proof to FILE instead of stdout\n"
                 "  --key PUBHEX       the log's Ed25519 public key, 64 hex digits (check-proof,\n"
                 "                     verify --file)\n"
                 "  --file FILE        an exported log file (verify --file; see kc-log)\n"
                 "  --leaf-hash HEX    check-proof of a bare proof: the leaf hash (32 bytes)\n"
                 "  --leaf-data HEX    ... or the leaf's data, hashed SHA-256(0x00 || data)\n"
                 "  --leaf-index N     ... the leaf's index (0-based)\n"
                 "  --tree-size N      ... the size of the tree it is proved in\n"
                 "  --root HEX         ... that tree's root hash\n"
                 "  --size1 N          ... of a consistency proof: the first tree's size\n"
                 "  --size2 N          ... the second tree's size\n"
                 "  --root1 HEX        ... the first tree's root hash\n"
                 "  --root2 HEX        ... the second tree's root hash\n"
                 "  --proof HEX        one hash of the proof; repeat in order (none: empty)\n"
                 "  --format FMT       table (default) or json (history)\n"
                 "  --lang en|vi       language of history's table (default vi under a\n"
                 "                     Vietnamese locale, else en; JSON is the same in both)\n"
                 "  -q, --quiet        no progress line on a terminal (verify)\n"
                 "  --config FILE      read options from FILE (default: /etc/kcpipe/audit.conf\n"
                 "                     if it exists); options given here win\n"
                 "  --no-config        read no config file\n"
                 "  --check-config     check the config file and options: print 'FILE: ok'\n"
                 "                     and exit 0, or each error as FILE:LINE and exit 78\n"
                 "  -h, --help         this help\n"
                 "  -V, --version      print the version\n"
                 "\nExit: 0 ok, 1 a check failed (the first bad offset, head or subtree is\n"
                 "printed; check-proof: the proof does not verify), 64 usage (check-proof:\n"
                 "a value that is not hex or not a number), 65 bad data, 66 no store or\n"
                 "file, 70/74 other errors, 75 no signed head covers the entry yet (try\n"
                 "again later). Formats: docs/AUDIT.md.\n");
}

/* ---- output helpers ---- */

#define S_SHOW_ID KC_TEXT_SHOW_MAX(KC_EVENT_ID_MAX) /* an event_id in display form */

/* The event_ids to look --event up as: the bytes given, then (if different)
 * the same with each "\xNN" read back as the byte 0xNN, so that an id printed
 * in display form (kc_text.h; history, proofs) can be given back as printed.
 * Only ids of 1..KC_EVENT_ID_MAX bytes are kept; n = 0 if none is. */
typedef struct {
    char raw[KC_EVENT_ID_MAX]; /* the read-back bytes */
    const char *id[2];
    size_t len[2];
    size_t n;
} s_ids_t;

static int s_hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static void s_event_ids(const char *event, s_ids_t *c)
{
    size_t len = strlen(event), n = 0;
    bool escaped = false, fits = true;
    c->n = 0;
    if (len >= 1 && len <= KC_EVENT_ID_MAX) {
        c->id[c->n] = event;
        c->len[c->n++] = len;
    }
    for (size_t i = 0; i < len && fits; i++) {
        int hi, lo;
        char b = event[i];
        if (b == '\\' && i + 3 < len && event[i + 1] == 'x' && (hi = s_hexval(event[i + 2])) >= 0 &&
            (lo = s_hexval(event[i + 3])) >= 0) {
            b = (char)(hi * 16 + lo);
            i += 3;
            escaped = true;
        }
        if (n == sizeof c->raw)
            fits = false;
        else
            c->raw[n++] = b;
    }
    if (escaped && fits && n >= 1) {
        c->id[c->n] = c->raw;
        c->len[c->n++] = n;
    }
}

static char *s_hex(const uint8_t *in, size_t len)
{
    char *s = malloc(2 * len + 1);
    if (s)
        kc_merkle_hex(in, len, s);
    return s;
}

static json_t *s_json_hex(const uint8_t *in, size_t len)
{
    char *s = s_hex(in, len);
    json_t *j = s ? json_string(s) : NULL;
    free(s);
    return j;
}

static json_t *s_json_head(const kc_merkle_sth_t *h)
{
    return json_pack("{s:I, s:I, s:o, s:o}", "tree_size", (json_int_t)h->tree_size, "timestamp_ns",
                     (json_int_t)h->timestamp_ns, "root", s_json_hex(h->root, KC_MERKLE_HASH_LEN),
                     "signature", s_json_hex(h->signature, KC_MERKLE_SIG_LEN));
}

static json_t *s_json_path(const uint8_t (*p)[KC_MERKLE_HASH_LEN], size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++)
        json_array_append_new(a, s_json_hex(p[i], KC_MERKLE_HASH_LEN));
    return a;
}

/* Write j (stolen) to --out or stdout. */
static int s_emit(const s_opts_t *o, json_t *j)
{
    if (!j) {
        fprintf(stderr, PROG ": out of memory\n");
        return KC_EX_SOFTWARE;
    }
    int rc;
    if (o->out) {
        rc = json_dump_file(j, o->out, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (rc != 0)
            fprintf(stderr, PROG ": cannot write %s\n", o->out);
    } else {
        rc = json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        if (rc == 0)
            fputc('\n', stdout);
    }
    json_decref(j);
    return rc == 0 ? 0 : KC_EX_IOERR;
}

/* ---- store access ---- */

typedef struct {
    kc_store_t *s;
    kc_txn_t *t;
    uint8_t pk[KC_MERKLE_PUBKEY_LEN];
    bool have_pk;
} s_store_t;

static int s_open(const s_opts_t *o, s_store_t *st)
{
    memset(st, 0, sizeof *st);
    int ex = kc_cli_open_store(PROG, o->store, &st->s);
    if (ex != 0)
        return ex;
    st->have_pk = kc_store_public_key(st->s, st->pk) == 0;
    int rc = kc_store_read_begin(st->s, &st->t);
    if (rc != 0) {
        fprintf(stderr, PROG ": cannot read the store: %s\n", kc_strerror(rc));
        kc_store_close(&st->s);
        return KC_EX_IOERR;
    }
    return 0;
}

static void s_close(s_store_t *st)
{
    kc_txn_end(&st->t);
    kc_store_close(&st->s);
}

static int s_store_error(int rc)
{
    fprintf(stderr, PROG ": %s\n", kc_strerror(rc));
    return rc == KC_EFORMAT ? KC_EX_DATAERR : KC_EX_IOERR;
}

/* ---- verify ---- */

static void s_progress(uint64_t done, uint64_t total, void *ctx)
{
    (void)ctx;
    fprintf(stderr, "\rverify: %" PRIu64 " / %" PRIu64 " entries (%.0f%%)", done, total,
            total ? 100.0 * (double)done / (double)total : 100.0);
    if (done >= total)
        fputc('\n', stderr);
}

static int s_verify_file(s_opts_t *o);

static int s_verify(s_opts_t *o)
{
    if (o->file)
        return s_verify_file(o);
    if (o->argc != 0)
        return kc_cli_usage_error(PROG, "verify takes no operands ('%s')", o->argv[0]);
    s_store_t st;
    int ex = s_open(o, &st);
    if (ex != 0)
        return ex;
    kc_audit_report_t rep;
    bool tty = !o->quiet && isatty(STDERR_FILENO);
    int rc = kc_audit_verify(st.t, st.have_pk ? st.pk : NULL, &rep, tty ? s_progress : NULL, NULL);
    s_close(&st);
    if (rc != 0)
        return s_store_error(rc);
    if (!st.have_pk)
        fprintf(stderr, PROG ": the store has no public key: signatures cannot be checked\n");
    switch (rep.status) {
    case KC_AUDIT_BAD_ENTRY:
        printf("FAILED\nfirst bad offset: %" PRIu64 "\nreason: %s\n", rep.bad_offset, rep.reason);
        return S_EX_FAIL;
    case KC_AUDIT_BAD_HEAD:
        printf("FAILED\nfirst bad head: %" PRIu64 "\nchanged range: [%" PRIu64 ", %" PRIu64
               ")\nreason: %s\n",
               rep.bad_head.tree_size, rep.range_from, rep.range_to, rep.reason);
        return S_EX_FAIL;
    case KC_AUDIT_BAD_NODE:
        printf("FAILED\nbad subtree: [%" PRIu64 ", %" PRIu64 ")\nreason: %s\n", rep.range_from,
               rep.range_to, rep.reason);
        return S_EX_FAIL;
    case KC_AUDIT_OK: break;
    }
    printf("ok: %" PRIu64 " log entries (leaf hashes recomputed), %" PRIu64
           " stored subtrees, %" PRIu64 " signed heads checked\n",
           rep.log_entries, rep.nodes_checked, rep.heads);
    if (rep.have_head) {
        char ts[64], root[S_HEX_HASH];
        kc_cli_time_utc(rep.last_head.timestamp_ns, ts, sizeof ts);
        kc_merkle_hex(rep.last_head.root, KC_MERKLE_HASH_LEN, root);
        printf("latest head: size %" PRIu64 ", %s, root %s\n", rep.last_head.tree_size, ts, root);
        if (rep.last_head.tree_size < rep.log_entries)
            printf("entries %" PRIu64 "..%" PRIu64 " are not covered by a signed head yet\n",
                   rep.last_head.tree_size, rep.log_entries - 1);
    } else {
        printf("no signed head yet\n");
    }
    return st.have_pk ? 0 : S_EX_FAIL;
}

/* ---- verify --file (no store) ---- */

/* Exit 0 and one line when the file is valid; 1 with the first bad record (or
 * where it is truncated) and the reason on any failure of its content; 66 if
 * it cannot be opened. */
static int s_verify_file(s_opts_t *o)
{
    if (o->argc != 0)
        return kc_cli_usage_error(PROG, "verify takes no operands ('%s')", o->argv[0]);
    uint8_t pk[KC_MERKLE_PUBKEY_LEN];
    if (!o->key)
        return kc_cli_usage_error(PROG, "%s",
                                  "verify --file needs --key PUBHEX (from '" PROG " pubkey')");
    if (kc_merkle_unhex(o->key, pk, sizeof pk) != 0)
        return kc_cli_usage_error(PROG, "--key: '%s' is not 64 hex digits", o->key);
    kc_logfile_reader_t *r = NULL;
    kc_logfile_status_t st;
    uint64_t n = 0;
    int rc = kc_logfile_open(&r, o->file, NULL, &n, &st);
    if (rc != 0 && rc != KC_EFORMAT) {
        fprintf(stderr, PROG ": %s\n", st.why);
        return rc == -ENOENT || rc == -EACCES || rc == -EISDIR ? KC_EX_NOINPUT : KC_EX_IOERR;
    }
    kc_progress_t p;
    kc_progress_init(&p, "verify", "records");
    if (o->quiet)
        p.enabled = false;
    kc_log_entry_t e;
    uint64_t done = 0;
    if (rc == 0) {
        kc_logfile_expect_key(r, pk);
        while ((rc = kc_logfile_next(r, &e, &st)) == 1)
            if (++done % 4096 == 0)
                kc_progress_update(&p, done, n);
        kc_progress_done(&p, done, n);
    }
    kc_merkle_sth_t h;
    if (rc == 0)
        rc = kc_logfile_head(r, &h);
    kc_logfile_close(&r);
    if (rc == KC_EIO || rc == KC_ENOMEM || (rc < 0 && rc > -1000)) {
        fprintf(stderr, PROG ": %s: %s\n", o->file, st.why);
        return KC_EX_IOERR;
    }
    if (rc != 0) {
        printf("FAILED\n");
        if (st.truncated && st.has_bad_index)
            printf("truncated at record %" PRIu64 "\n", st.bad_index);
        else if (st.has_bad_index)
            printf("first bad record: %" PRIu64 "\n", st.bad_index);
        printf("reason: %s\n", st.why);
        return S_EX_FAIL;
    }
    char ts[64], root[S_HEX_HASH];
    kc_cli_time_utc(h.timestamp_ns, ts, sizeof ts);
    kc_merkle_hex(h.root, KC_MERKLE_HASH_LEN, root);
    printf("ok: %s: %" PRIu64 " records, head of size %" PRIu64 " signed at %s, root %s\n", o->file,
           done, h.tree_size, ts, root);
    return 0;
}

/* ---- history ---- */

/* A column of the table: s (UTF-8) and spaces to width characters,
 * left-aligned, or right-aligned for a negative width; then two spaces. */
static void s_col(const char *s, int width)
{
    int n = 0;
    for (const char *p = s; *p; p++)
        n += ((unsigned char)*p & 0xC0) != 0x80;
    int pad = (width < 0 ? -width : width) - n;
    printf("%*s%s%*s  ", width < 0 && pad > 0 ? pad : 0, "", s, width > 0 && pad > 0 ? pad : 0, "");
}

static const char *s_state_name(uint8_t state)
{
    switch (state) {
    case KC_ID_LIVE: return "live";
    case KC_ID_SUPERSEDED: return "superseded";
    case KC_ID_RETRACTED: return "retracted";
    default: return "unknown";
    }
}

/* The state in the table's language. */
static const char *s_state_label(uint8_t state, kc_lang_t lang)
{
    if (lang != KC_LANG_VI)
        return s_state_name(state);
    switch (state) {
    case KC_ID_LIVE: return "hiện hành";
    case KC_ID_SUPERSEDED: return "đã được thay";
    case KC_ID_RETRACTED: return "đã thu hồi";
    default: return "không rõ";
    }
}

typedef struct {
    kc_txn_t *t;
    json_t *versions; /* json: the array being built; NULL for a table */
    uint64_t first;   /* offset of the first version of the chain being walked */
    size_t n;         /* versions of that chain */
    uint64_t seen[2]; /* first offsets of the chains listed (one per unit key) */
    size_t nseen;
    bool skip;                 /* the chain was already listed under another unit key */
    kc_wire_decoder_t *dec[2]; /* versions n and n - 1 decoded, alternately */
    kc_entry_t x[2];
    kc_lang_t lang; /* of the table */
} s_hist_t;

/* The indented lines under a version's row: who sent it and what it says,
 * and what it changed of the version before it (prev NULL: the first). */
static void s_hist_text(const kc_entry_t *x, const kc_entry_t *prev, const kc_entry_diff_t *d,
                        kc_lang_t lang)
{
    bool vi = lang == KC_LANG_VI;
    char producer[KC_TEXT_SHOW_MAX(KC_PRODUCER_ID_MAX)], prov[160], period[16],
        act[KC_TEXT_SHOW_MAX(64)], b[KC_ENTRYFMT_BUF];
    const char *kind = kc_label_kind(x->kind, lang), *fund = kc_label_fund(x->fund, lang);
    const char *act_name = !x->act ? NULL : vi ? kc_label_activity(x->act, lang) : x->act->name;
    printf(vi ? "%14snguồn gửi %s, kỳ (epoch) %" PRIu64 ", số thứ tự %" PRIu64 "\n"
              : "%14sproducer %s, epoch %" PRIu64 ", seq %" PRIu64 "\n",
           "", kc_text_fit(x->log.producer, x->log.producer_len, producer, sizeof producer),
           x->log.epoch, x->log.seq);
    if (x->submitted_by) { /* who entered it at the producer (Event.submitted_by) */
        char by[KC_TEXT_SHOW_MAX(KC_SUBMITTED_BY_MAX)];
        printf("%14s%s %s\n", "", vi ? "người nhập:" : "submitted by:",
               kc_text_fit(x->submitted_by, strlen(x->submitted_by), by, sizeof by));
    }
    printf("%14s%s", "", kc_entryfmt_province(prov, sizeof prov, x));
    if (*kc_entryfmt_period(period, sizeof period, x))
        printf(", %s", period);
    if (x->activity)
        printf(", %s%s%s", kc_text_fit(x->activity, strlen(x->activity), act, sizeof act),
               act_name ? " " : "", act_name ? act_name : "");
    if (kind)
        printf(", %s", kind);
    if (fund)
        printf(vi ? ", nguồn kinh phí %s" : ", fund %s", fund);
    putchar('\n');
    if (x->op != KCPIPE__V1__OP__OP_RETRACTION)
        printf("%14s%s %s\n", "",
               vi ? "giá trị:" : "values:", kc_entryfmt_values(b, sizeof b, x, lang));
    if (x->note)
        printf("%14s%s %s\n", "",
               vi ? "ghi chú:" : "note:", kc_text_fit(x->note, strlen(x->note), b, sizeof b));
    if (prev)
        printf("%14s%s %s\n", "",
               vi ? "thay đổi:" : "changed:", kc_entryfmt_diff(b, sizeof b, prev, x, d, lang));
}

static int s_hist_one(const kc_version_t *v, void *ctx)
{
    s_hist_t *h = ctx;
    if (h->n++ == 0) {
        for (size_t i = 0; i < h->nseen; i++)
            if (h->seen[i] == v->offset)
                h->skip = true;
        h->first = v->offset;
    }
    if (h->skip)
        return 0;
    kc_log_entry_t e;
    kc_entry_t *x = &h->x[h->n % 2], *prev = h->n > 1 ? &h->x[(h->n - 1) % 2] : NULL;
    int rc = kc_txn_log_get(h->t, v->offset, &e);
    if (rc == 0)
        rc = kc_entry_decode(h->dec[h->n % 2], &e, x);
    if (rc != 0)
        return rc;
    kc_entry_diff_t d = {0};
    if (prev) {
        kc_entry_inherit(prev, x);
        kc_entry_diff(prev, x, &d);
    }
    char ts[64];
    kc_cli_time_utc(v->received_ns, ts, sizeof ts);
    /* a store written before the admission rules may hold any bytes in an
     * event_id: JSON and the table get its display form (kc_text.h) */
    if (h->versions) {
        json_t *j = json_pack("{s:I, s:s, s:I, s:s, s:o, s:s, s:i}", "offset",
                              (json_int_t)v->offset, "received", ts, "received_ns",
                              (json_int_t)v->received_ns, "op", kc_entry_op_name(v->id->op),
                              "event_id", kc_json_text(v->event_id, v->event_id_len), "state",
                              s_state_name(v->id->state), "unit", (int)v->unit);
        json_t *entry = kc_entry_json(x);
        if (j && entry) { /* what the version says (kc_entry.h), then its difference */
            const char *key;
            json_t *val;
            json_object_foreach(entry, key, val)
            {
                if (!json_object_get(j, key))
                    json_object_set(j, key, val);
            }
            json_object_set_new(j, "changes", prev ? kc_entry_diff_json(prev, x, &d) : json_null());
        }
        bool ok = j && entry;
        json_decref(entry);
        if (!ok) {
            json_decref(j);
            return KC_ENOMEM;
        }
        if (json_array_append_new(h->versions, j) != 0)
            return KC_ENOMEM;
    } else {
        char id[S_SHOW_ID];
        printf("%12" PRIu64 "  %-30s  ", v->offset, ts);
        s_col(kc_label_op(v->id->op, h->lang), 10);
        printf("%-20s  %s\n", kc_text_fit(v->event_id, v->event_id_len, id, sizeof id),
               s_state_label(v->id->state, h->lang));
        s_hist_text(x, prev, &d, h->lang);
    }
    return 0;
}

static int s_history(s_opts_t *o)
{
    if (o->argc != 0)
        return kc_cli_usage_error(PROG, "history takes no operands ('%s')", o->argv[0]);
    if (!o->province || !o->event)
        return kc_cli_usage_error(PROG, "%s", "history needs --province P and --event ID");
    bool json = false;
    if (o->format && strcmp(o->format, "json") == 0)
        json = true;
    else if (o->format && strcmp(o->format, "table") != 0)
        return kc_cli_usage_error(PROG, "--format: '%s' is not table or json", o->format);
    char *end;
    long code = strtol(o->province, &end, 10);
    uint8_t units[2];
    size_t nunits = 0;
    if (*o->province != '\0' && *end == '\0' && code >= 1 && code <= 99)
        nunits = kc_ref_units_of((int)code, units);
    if (nunits == 0)
        return kc_cli_usage_error(PROG, "--province: '%s' is not a province code", o->province);
    s_ids_t ids;
    s_event_ids(o->event, &ids);
    char shown[S_SHOW_ID];
    if (ids.n == 0)
        return kc_cli_usage_error(PROG, "--event: '%s' is not an event_id",
                                  kc_text_fit(o->event, strlen(o->event), shown, sizeof shown));
    s_store_t st;
    int ex = s_open(o, &st);
    if (ex != 0)
        return ex;
    s_hist_t h = {.t = st.t, .lang = o->lang};
    json_t *chains = json ? json_array() : NULL;
    int rc = kc_wire_decoder_new(&h.dec[0]);
    if (rc == 0)
        rc = kc_wire_decoder_new(&h.dec[1]);
    if (!json) {
        bool vi = o->lang == KC_LANG_VI;
        s_col(vi ? "vị trí" : "offset", -12);
        s_col(vi ? "thời gian nhận (UTC)" : "received (UTC)", 30);
        s_col(vi ? "thao tác" : "op", 10);
        s_col(vi ? "mã sự kiện" : "event_id", 20);
        printf("%s\n", vi ? "trạng thái" : "state");
    }
    size_t found = 0, k = 0;
    for (; k < ids.n && rc == 0 && found == 0; k++) { /* as given, then read back (s_ids_t) */
        for (size_t u = 0; u < nunits && rc == 0; u++) {
            h.n = 0;
            h.skip = false;
            h.versions = json ? json_array() : NULL;
            if (json && !h.versions) {
                rc = KC_ENOMEM;
                break;
            }
            rc = kc_txn_history(st.t, units[u], ids.id[k], ids.len[k], s_hist_one, &h);
            if (rc == KC_ENOTFOUND) {
                rc = 0;
            } else if (rc == 0 && !h.skip) {
                found++;
                h.seen[h.nseen++] = h.first;
                if (json)
                    json_array_append(chains, h.versions);
            }
            json_decref(h.versions);
        }
    }
    kc_wire_decoder_free(&h.dec[0]);
    kc_wire_decoder_free(&h.dec[1]);
    s_close(&st);
    if (rc != 0) {
        json_decref(chains);
        return s_store_error(rc);
    }
    if (found == 0) {
        json_decref(chains);
        fprintf(stderr, PROG ": no accepted event %s of province %s in the store\n",
                kc_text_fit(o->event, strlen(o->event), shown, sizeof shown), o->province);
        return KC_EX_DATAERR;
    }
    if (!json)
        return 0;
    json_t *j = json_pack("{s:o, s:o, s:o}", "province", kc_json_texts(o->province), "event_id",
                          kc_json_text(ids.id[k - 1], ids.len[k - 1]), "chains", chains);
    return s_emit(o, j);
}

/* ---- prove ---- */

/* The offset of province + event_id: the identity under either unit key of
 * the code (scheme 63 up to 2025-06, scheme 34 after). */
static int s_find_offset(kc_txn_t *t, const char *province, const char *event, size_t len,
                         uint64_t *offset)
{
    char *end;
    long code = strtol(province, &end, 10);
    if (*province == '\0' || *end || code < 1 || code > 99)
        return KC_EINVAL;
    const int32_t periods[] = {202506, 202507};
    uint8_t tried[2] = {0, 0};
    for (int i = 0; i < 2; i++) {
        uint8_t unit = kc_ref_unit_key((int)code, periods[i]);
        if (unit == 0 || unit == tried[0])
            continue;
        tried[i] = unit;
        kc_identity_t id;
        int rc = kc_txn_identity_get(t, unit, event, len, &id);
        if (rc == 0) {
            *offset = id.offset;
            return 0;
        }
        if (rc != KC_ENOTFOUND)
            return rc;
    }
    return KC_ENOTFOUND;
}

static int s_prove(s_opts_t *o)
{
    if (o->argc != 0)
        return kc_cli_usage_error(PROG, "prove takes no operands ('%s')", o->argv[0]);
    if (!o->have_offset && (!o->province || !o->event))
        return kc_cli_usage_error(PROG, "%s", "prove needs --province and --event, or --offset");
    s_ids_t ids = {.n = 0};
    size_t k = 0; /* ids.id[k]: the event_id found */
    if (o->event)
        s_event_ids(o->event, &ids);
    if (!o->have_offset && ids.n == 0) {
        char shown[S_SHOW_ID];
        return kc_cli_usage_error(PROG, "--event: '%s' is not an event_id",
                                  kc_text_fit(o->event, strlen(o->event), shown, sizeof shown));
    }
    s_store_t st;
    int ex = s_open(o, &st);
    if (ex != 0)
        return ex;
    uint64_t off = o->offset;
    int rc = 0;
    if (!o->have_offset) {
        rc = KC_ENOTFOUND;
        for (k = 0; k < ids.n && rc == KC_ENOTFOUND; k++) /* as given, then read back */
            rc = s_find_offset(st.t, o->province, ids.id[k], ids.len[k], &off);
        k = k ? k - 1 : 0;
        if (rc == KC_EINVAL) {
            s_close(&st);
            return kc_cli_usage_error(PROG, "--province: '%s' is not a province code", o->province);
        }
        if (rc == KC_ENOTFOUND) {
            char shown[S_SHOW_ID];
            fprintf(stderr, PROG ": no accepted event %s of province %s in the store\n",
                    kc_text_fit(o->event, strlen(o->event), shown, sizeof shown), o->province);
            s_close(&st);
            return KC_EX_DATAERR;
        }
    }
    kc_merkle_sth_t head;
    if (rc == 0)
        rc = o->have_size ? kc_txn_head_get(st.t, o->size, &head) : kc_txn_head_last(st.t, &head);
    if (rc == KC_ENOTFOUND || (rc == 0 && head.tree_size <= off)) {
        if (o->have_size && rc == KC_ENOTFOUND)
            fprintf(stderr, PROG ": no signed head of size %" PRIu64 " (see " PROG " heads)\n",
                    o->size);
        else
            fprintf(stderr,
                    PROG ": no signed head covers offset %" PRIu64 " yet; try again after the "
                         "aggregator's next head\n",
                    off);
        s_close(&st);
        return o->have_size ? KC_EX_DATAERR : S_EX_TEMPFAIL;
    }
    kc_log_entry_t e;
    uint8_t path[KC_MERKLE_PATH_MAX][KC_MERKLE_HASH_LEN];
    size_t plen = 0;
    uint8_t *input = NULL;
    size_t ilen = 0;
    if (rc == 0)
        rc = kc_txn_log_get(st.t, off, &e);
    if (rc == 0) {
        kc_merkle_leaf_t leaf;
        kc_log_entry_leaf(&e, &leaf);
        ilen = kc_merkle_leaf_input_len(&leaf);
        input = malloc(ilen ? ilen : 1);
        if (!input || kc_merkle_leaf_encode(&leaf, input, ilen) != ilen)
            rc = KC_ENOMEM;
    }
    if (rc == 0)
        rc = kc_txn_inclusion_proof(st.t, off, head.tree_size, path, &plen);
    json_t *j = NULL;
    if (rc == 0) {
        uint8_t lh[KC_MERKLE_HASH_LEN];
        kc_merkle_leaf_hash_raw(input, ilen, lh);
        j = json_pack("{s:s, s:i, s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "kcpipe_proof",
                      S_PROOF_INCLUSION, "version", S_PROOF_VERSION, "leaf_index", (json_int_t)off,
                      "tree_size", (json_int_t)head.tree_size, "leaf_input",
                      s_json_hex(input, ilen), "leaf_hash", s_json_hex(lh, sizeof lh), "audit_path",
                      s_json_path((const uint8_t(*)[KC_MERKLE_HASH_LEN])path, plen), "head",
                      s_json_head(&head), "public_key",
                      st.have_pk ? s_json_hex(st.pk, sizeof st.pk) : json_null());
        if (j && o->event && o->province) /* the display form of the event_id (kc_text.h) */
            json_object_set_new(
                j, "event",
                json_pack("{s:o, s:o}", "province", kc_json_texts(o->province), "event_id",
                          ids.n ? kc_json_text(ids.id[k], ids.len[k]) : kc_json_texts(o->event)));
    }
    free(input);
    s_close(&st);
    if (rc != 0)
        return s_store_error(rc);
    return s_emit(o, j);
}

/* ---- consistency ---- */

static int s_consistency(s_opts_t *o)
{
    uint64_t m, n;
    if (o->argc != 2)
        return kc_cli_usage_error(PROG, "%s", "consistency needs two sizes: SIZE1 SIZE2");
    if (kc_cli_parse_u64(o->argv[0], &m) != 0 || kc_cli_parse_u64(o->argv[1], &n) != 0 || m == 0 ||
        m > n)
        return kc_cli_usage_error(PROG, "%s",
                                  "consistency: sizes must be numbers with 0 < SIZE1 <= SIZE2");
    s_store_t st;
    int ex = s_open(o, &st);
    if (ex != 0)
        return ex;
    kc_merkle_sth_t h1, h2;
    int rc1 = kc_txn_head_get(st.t, m, &h1), rc2 = kc_txn_head_get(st.t, n, &h2);
    if (rc1 != 0 || rc2 != 0) {
        int rc = rc1 != 0 ? rc1 : rc2;
        s_close(&st);
        if (rc != KC_ENOTFOUND)
            return s_store_error(rc);
        if (rc1 != 0)
            fprintf(stderr, PROG ": %" PRIu64 " is not the size of a signed head\n", m);
        if (rc2 != 0)
            fprintf(stderr, PROG ": %" PRIu64 " is not the size of a signed head\n", n);
        fprintf(stderr, PROG ": see '" PROG " heads' for the signed sizes\n");
        return KC_EX_DATAERR;
    }
    uint8_t proof[KC_MERKLE_PATH_MAX][KC_MERKLE_HASH_LEN];
    size_t plen = 0;
    int rc = kc_txn_consistency_proof(st.t, m, n, proof, &plen);
    json_t *j = NULL;
    if (rc == 0)
        j = json_pack("{s:s, s:i, s:o, s:o, s:o, s:o}", "kcpipe_proof", S_PROOF_CONSIST, "version",
                      S_PROOF_VERSION, "first", s_json_head(&h1), "second", s_json_head(&h2),
                      "proof", s_json_path((const uint8_t(*)[KC_MERKLE_HASH_LEN])proof, plen),
                      "public_key", st.have_pk ? s_json_hex(st.pk, sizeof st.pk) : json_null());
    s_close(&st);
    if (rc != 0)
        return s_store_error(rc);
    return s_emit(o, j);
}

/* ---- heads, pubkey ---- */

typedef struct {
    const uint8_t *pk;
    uint64_t n, bad;
} s_heads_t;

static int s_head_line(const kc_merkle_sth_t *h, void *ctx)
{
    s_heads_t *c = ctx;
    char ts[64], root[S_HEX_HASH];
    kc_cli_time_utc(h->timestamp_ns, ts, sizeof ts);
    kc_merkle_hex(h->root, KC_MERKLE_HASH_LEN, root);
    bool ok = c->pk && kc_merkle_sth_verify(h, c->pk);
    c->n++;
    c->bad += !ok;
    printf("%12" PRIu64 "  %s  %s  %s\n", h->tree_size, ts, root, ok ? "ok" : "BAD-SIGNATURE");
    return 0;
}

static int s_heads(s_opts_t *o)
{
    if (o->argc != 0)
        return kc_cli_usage_error(PROG, "heads takes no operands ('%s')", o->argv[0]);
    s_store_t st;
    int ex = s_open(o, &st);
    if (ex != 0)
        return ex;
    s_heads_t c = {st.have_pk ? st.pk : NULL, 0, 0};
    printf("%12s  %-30s  %-64s  %s\n", "tree_size", "timestamp (UTC)", "root", "signature");
    int rc = kc_txn_head_scan(st.t, 0, s_head_line, &c);
    s_close(&st);
    if (rc != 0)
        return s_store_error(rc);
    if (c.n == 0)
        printf("(no signed heads yet)\n");
    return c.bad ? S_EX_FAIL : 0;
}

static int s_pubkey(s_opts_t *o)
{
    if (o->argc != 0)
        return kc_cli_usage_error(PROG, "pubkey takes no operands ('%s')", o->argv[0]);
    kc_store_t *s = NULL;
    int ex = kc_cli_open_store(PROG, o->store, &s);
    if (ex != 0)
        return ex;
    uint8_t pk[KC_MERKLE_PUBKEY_LEN];
    int rc = kc_store_public_key(s, pk);
    kc_store_close(&s);
    if (rc != 0) {
        fprintf(stderr, PROG ": the store has no public key yet (open it once with "
                             "kc-aggregator)\n");
        return KC_EX_DATAERR;
    }
    char hex[2 * KC_MERKLE_PUBKEY_LEN + 1];
    kc_merkle_hex(pk, sizeof pk, hex);
    printf("%s\n", hex);
    return 0;
}

/* ---- check-proof (no store) ---- */

static bool s_get_hex(json_t *obj, const char *name, uint8_t *out, size_t len)
{
    const char *s = json_string_value(json_object_get(obj, name));
    return s && kc_merkle_unhex(s, out, len) == 0;
}

static bool s_get_u64(json_t *obj, const char *name, uint64_t *out)
{
    json_t *v = json_object_get(obj, name);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return false;
    *out = (uint64_t)json_integer_value(v);
    return true;
}

static bool s_get_head(json_t *obj, kc_merkle_sth_t *h)
{
    return json_is_object(obj) && s_get_u64(obj, "tree_size", &h->tree_size) &&
           s_get_u64(obj, "timestamp_ns", &h->timestamp_ns) &&
           s_get_hex(obj, "root", h->root, KC_MERKLE_HASH_LEN) &&
           s_get_hex(obj, "signature", h->signature, KC_MERKLE_SIG_LEN);
}

/* Parse a list of hashes; returns the count or -1. */
static long s_get_path(json_t *obj, const char *name, uint8_t (*out)[KC_MERKLE_HASH_LEN])
{
    json_t *a = json_object_get(obj, name);
    if (!json_is_array(a) || json_array_size(a) > KC_MERKLE_PATH_MAX)
        return -1;
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *s = json_string_value(json_array_get(a, i));
        if (!s || kc_merkle_unhex(s, out[i], KC_MERKLE_HASH_LEN) != 0)
            return -1;
    }
    return (long)json_array_size(a);
}

static int s_reject(const char *why)
{
    printf("INVALID: %s\n", why);
    return S_EX_FAIL;
}

static int s_check_inclusion(json_t *j, const uint8_t pk[KC_MERKLE_PUBKEY_LEN])
{
    uint64_t index, size;
    kc_merkle_sth_t h;
    uint8_t path[KC_MERKLE_PATH_MAX][KC_MERKLE_HASH_LEN], lh[KC_MERKLE_HASH_LEN];
    const char *hex = json_string_value(json_object_get(j, "leaf_input"));
    if (!s_get_u64(j, "leaf_index", &index) || !s_get_u64(j, "tree_size", &size) ||
        !s_get_head(json_object_get(j, "head"), &h) || !hex || strlen(hex) % 2)
        return s_reject("the proof lacks a field or has a malformed one");
    long plen = s_get_path(j, "audit_path", path);
    if (plen < 0)
        return s_reject("malformed audit_path");
    size_t ilen = strlen(hex) / 2;
    uint8_t *input = malloc(ilen ? ilen : 1);
    if (!input)
        return KC_EX_SOFTWARE;
    kc_merkle_leaf_t leaf;
    int ex = 0;
    if (kc_merkle_unhex(hex, input, ilen) != 0 || kc_merkle_leaf_decode(input, ilen, &leaf) != 0)
        ex = s_reject("leaf_input is not a version-1 kcpipe leaf");
    else if (leaf.offset != index)
        ex = s_reject("leaf_input names another offset than leaf_index");
    else if (size != h.tree_size)
        ex = s_reject("tree_size differs from the signed head's");
    else if (!kc_merkle_sth_verify(&h, pk))
        ex = s_reject("the signed head's signature does not verify with this key");
    if (ex == 0) {
        kc_merkle_leaf_hash_raw(input, ilen, lh);
        uint8_t claimed[KC_MERKLE_HASH_LEN];
        if (json_object_get(j, "leaf_hash") &&
            (!s_get_hex(j, "leaf_hash", claimed, sizeof claimed) ||
             memcmp(claimed, lh, sizeof lh) != 0))
            ex = s_reject("leaf_hash is not the hash of leaf_input");
        else if (!kc_merkle_verify_inclusion(lh, index, size,
                                             (const uint8_t(*)[KC_MERKLE_HASH_LEN])path,
                                             (size_t)plen, h.root))
            ex = s_reject("the audit path does not lead to the signed root");
    }
    if (ex == 0) {
        char ts[64], producer[KC_TEXT_SHOW_MAX(255)]; /* any bytes: its display form */
        kc_cli_time_utc(h.timestamp_ns, ts, sizeof ts);
        printf("VALID: entry %" PRIu64 " (producer %s, seq %" PRIu64 ", %zu event bytes) is in "
               "the log of %" PRIu64 " entries signed at %s\n",
               index, kc_text_fit(leaf.producer, leaf.producer_len, producer, sizeof producer),
               leaf.seq, leaf.event_len, size, ts);
    }
    free(input);
    return ex;
}

static int s_check_consistency(json_t *j, const uint8_t pk[KC_MERKLE_PUBKEY_LEN])
{
    kc_merkle_sth_t a, b;
    uint8_t proof[KC_MERKLE_PATH_MAX][KC_MERKLE_HASH_LEN];
    if (!s_get_head(json_object_get(j, "first"), &a) ||
        !s_get_head(json_object_get(j, "second"), &b))
        return s_reject("the proof lacks a head or has a malformed one");
    long plen = s_get_path(j, "proof", proof);
    if (plen < 0)
        return s_reject("malformed proof list");
    if (!kc_merkle_sth_verify(&a, pk))
        return s_reject("the first head's signature does not verify with this key");
    if (!kc_merkle_sth_verify(&b, pk))
        return s_reject("the second head's signature does not verify with this key");
    if (!kc_merkle_verify_consistency(a.tree_size, b.tree_size, a.root, b.root,
                                      (const uint8_t(*)[KC_MERKLE_HASH_LEN])proof, (size_t)plen))
        return s_reject("the second head does not extend the first");
    printf("VALID: the log of %" PRIu64 " entries extends the log of %" PRIu64 " entries\n",
           b.tree_size, a.tree_size);
    return 0;
}

/* ---- check-proof of a bare RFC 6962 proof (no kcpipe file, no head) ---- */

/* Whether any option of a bare proof was given. */
static bool s_raw_given(const s_opts_t *o)
{
    return o->leaf_hash || o->leaf_data || o->root || o->root1 || o->root2 || o->have_leaf_index ||
           o->have_tree_size || o->have_size1 || o->have_size2 || o->n_proof;
}

/* Whether s is hex digits, an even number of them (0 allowed). */
static bool s_is_hex(const char *s)
{
    size_t n = strspn(s, "0123456789abcdefABCDEF");
    return s[n] == '\0' && n % 2 == 0;
}

/* s (checked by s_is_hex) as a hash into out: false (printed INVALID) unless it
 * is 32 bytes. */
static bool s_raw_hash(const char *what, const char *s, uint8_t out[KC_MERKLE_HASH_LEN])
{
    if (strlen(s) == 2 * KC_MERKLE_HASH_LEN && kc_merkle_unhex(s, out, KC_MERKLE_HASH_LEN) == 0)
        return true;
    printf("INVALID: %s is %zu bytes, not a %d-byte SHA-256 hash\n", what, strlen(s) / 2,
           KC_MERKLE_HASH_LEN);
    return false;
}

/* The --proof hashes into path[] (*n of them): false (printed INVALID) if one
 * is not 32 bytes or there are more than any tree of 2^64 leaves needs. */
static bool s_raw_path(const s_opts_t *o, uint8_t (*path)[KC_MERKLE_HASH_LEN], size_t *n)
{
    if (o->n_proof > KC_MERKLE_PATH_MAX) {
        printf("INVALID: the proof has %zu hashes; no tree of up to 2^64 leaves needs more than "
               "%d\n",
               o->n_proof, KC_MERKLE_PATH_MAX);
        return false;
    }
    for (size_t i = 0; i < o->n_proof; i++) {
        char what[48];
        snprintf(what, sizeof what, "proof hash %zu", i + 1);
        if (!s_raw_hash(what, o->proof[i], path[i]))
            return false;
    }
    *n = o->n_proof;
    return true;
}

/* check-proof --leaf-hash/--leaf-data ... or --size1 ...: RFC 9162 2.1.3.2 /
 * 2.1.4.2 over the values given, trusting the root(s) as given (no signed
 * head). Every hash given must be 32 bytes (roots too, even where nothing is
 * hashed); size1 = size2 is consistent iff the proof is empty and the roots
 * equal (kc_merkle_verify_consistency); size1 = 0 or size1 > size2 never is.
 * Exit 0 the proof verifies (VALID), 1 it does not (INVALID: why, e.g. a hash
 * that is not 32 bytes, an index not below the size, a path that leads
 * elsewhere), 64 the options are incomplete, mixed, or a value is not hex /
 * not a number. */
static int s_check_raw(const s_opts_t *o)
{
    if (o->argc != 0)
        return kc_cli_usage_error(PROG,
                                  "check-proof takes a proof FILE or the options of a bare "
                                  "proof, not both ('%s')",
                                  o->argv[0]);
    if (o->key)
        return kc_cli_usage_error(PROG, "%s",
                                  "--key checks the signed head of a kcpipe proof FILE; a bare "
                                  "proof has no head: its --root is trusted as given");
    bool incl = o->leaf_hash || o->leaf_data || o->have_leaf_index || o->have_tree_size || o->root;
    bool cons = o->have_size1 || o->have_size2 || o->root1 || o->root2;
    if (incl && cons)
        return kc_cli_usage_error(PROG, "%s",
                                  "check-proof: give an inclusion proof (--leaf-hash or "
                                  "--leaf-data, --leaf-index, --tree-size, --root) or a "
                                  "consistency proof (--size1, --size2, --root1, --root2), not "
                                  "both");
    const char *hexes[] = {o->leaf_hash, o->leaf_data, o->root, o->root1, o->root2};
    const char *names[] = {"--leaf-hash", "--leaf-data", "--root", "--root1", "--root2"};
    for (size_t i = 0; i < sizeof hexes / sizeof *hexes; i++) {
        if (hexes[i] && !s_is_hex(hexes[i])) {
            char why[64];
            snprintf(why, sizeof why, "%s: '%%s' is not hex (an even number of hex digits)",
                     names[i]);
            return kc_cli_usage_error(PROG, why, hexes[i]);
        }
    }
    uint8_t path[KC_MERKLE_PATH_MAX][KC_MERKLE_HASH_LEN];
    size_t plen = 0;
    if (incl) {
        if (!o->leaf_hash == !o->leaf_data)
            return kc_cli_usage_error(PROG, "%s",
                                      "check-proof: give one of --leaf-hash and --leaf-data");
        if (!o->have_leaf_index || !o->have_tree_size || !o->root)
            return kc_cli_usage_error(PROG, "%s",
                                      "check-proof: an inclusion proof needs --leaf-index, "
                                      "--tree-size and --root");
        uint8_t lh[KC_MERKLE_HASH_LEN], root[KC_MERKLE_HASH_LEN];
        if (o->leaf_data) {
            size_t len = strlen(o->leaf_data) / 2;
            uint8_t *data = malloc(len ? len : 1);
            if (!data)
                return KC_EX_SOFTWARE;
            kc_merkle_unhex(o->leaf_data, data, len); /* checked by s_is_hex */
            kc_merkle_leaf_hash_raw(data, len, lh);
            free(data);
        } else if (!s_raw_hash("the leaf hash", o->leaf_hash, lh)) {
            return S_EX_FAIL;
        }
        if (!s_raw_hash("the root", o->root, root) || !s_raw_path(o, path, &plen))
            return S_EX_FAIL;
        char lhex[S_HEX_HASH], rhex[S_HEX_HASH];
        kc_merkle_hex(lh, sizeof lh, lhex);
        kc_merkle_hex(root, sizeof root, rhex);
        if (o->leaf_index >= o->tree_size) {
            printf("INVALID: leaf index %" PRIu64 " is not below the tree size %" PRIu64 "\n",
                   o->leaf_index, o->tree_size);
            return S_EX_FAIL;
        }
        if (!kc_merkle_verify_inclusion(lh, o->leaf_index, o->tree_size,
                                        (const uint8_t(*)[KC_MERKLE_HASH_LEN])path, plen, root)) {
            printf("INVALID: the proof does not lead from leaf hash %s at index %" PRIu64
                   " to the root of the tree of size %" PRIu64 "\n",
                   lhex, o->leaf_index, o->tree_size);
            return S_EX_FAIL;
        }
        printf("VALID: leaf hash %s is at index %" PRIu64 " of the tree of size %" PRIu64
               " with root %s\n",
               lhex, o->leaf_index, o->tree_size, rhex);
        return 0;
    }
    if (!cons)
        return kc_cli_usage_error(PROG, "%s", "check-proof: --proof alone proves nothing");
    if (!o->have_size1 || !o->have_size2 || !o->root1 || !o->root2)
        return kc_cli_usage_error(PROG, "%s",
                                  "check-proof: a consistency proof needs --size1, --size2, "
                                  "--root1 and --root2");
    uint8_t r1[KC_MERKLE_HASH_LEN], r2[KC_MERKLE_HASH_LEN];
    if (!s_raw_hash("root1", o->root1, r1) || !s_raw_hash("root2", o->root2, r2) ||
        !s_raw_path(o, path, &plen))
        return S_EX_FAIL;
    if (o->size1 == 0 || o->size1 > o->size2) {
        printf("INVALID: consistency is proved for 0 < size1 <= size2, not %" PRIu64 " and %" PRIu64
               "\n",
               o->size1, o->size2);
        return S_EX_FAIL;
    }
    if (!kc_merkle_verify_consistency(o->size1, o->size2, r1, r2,
                                      (const uint8_t(*)[KC_MERKLE_HASH_LEN])path, plen)) {
        printf("INVALID: the proof does not show that the tree of size %" PRIu64
               " extends the tree of size %" PRIu64 "\n",
               o->size2, o->size1);
        return S_EX_FAIL;
    }
    char h1[S_HEX_HASH], h2[S_HEX_HASH];
    kc_merkle_hex(r1, sizeof r1, h1);
    kc_merkle_hex(r2, sizeof r2, h2);
    printf("VALID: the tree of size %" PRIu64 " with root %s extends the tree of size %" PRIu64
           " with root %s\n",
           o->size2, h2, o->size1, h1);
    return 0;
}

static int s_check_proof(s_opts_t *o)
{
    if (s_raw_given(o))
        return s_check_raw(o);
    if (o->argc != 1)
        return kc_cli_usage_error(PROG, "%s", "check-proof needs one FILE ('-' for stdin)");
    uint8_t pk[KC_MERKLE_PUBKEY_LEN];
    if (!o->key)
        return kc_cli_usage_error(PROG, "%s",
                                  "check-proof needs --key PUBHEX (from '" PROG " pubkey')");
    if (kc_merkle_unhex(o->key, pk, sizeof pk) != 0)
        return kc_cli_usage_error(PROG, "--key: '%s' is not 64 hex digits", o->key);
    json_error_t err;
    const char *file = o->argv[0];
    json_t *j = strcmp(file, "-") == 0 ? json_loadf(stdin, 0, &err) : json_load_file(file, 0, &err);
    if (!j) {
        bool missing = strcmp(file, "-") != 0 && access(file, R_OK) != 0;
        char why[KC_TEXT_SHOW_MAX(JSON_ERROR_TEXT_LENGTH)]; /* may quote the file's bytes */
        fprintf(stderr, PROG ": %s: %s\n", file,
                missing ? strerror(errno)
                        : kc_text_fit(err.text, strlen(err.text), why, sizeof why));
        if (missing)
            return KC_EX_NOINPUT;
        return s_reject("the file is not JSON");
    }
    const char *kind = json_string_value(json_object_get(j, "kcpipe_proof"));
    json_t *ver = json_object_get(j, "version");
    uint8_t named[KC_MERKLE_PUBKEY_LEN];
    json_t *pkj = json_object_get(j, "public_key");
    int ex;
    if (!kind)
        ex = s_reject("not a kcpipe proof (no \"kcpipe_proof\")");
    else if (!json_is_integer(ver) || json_integer_value(ver) != S_PROOF_VERSION)
        ex = s_reject("unsupported proof version");
    else if (pkj && !json_is_null(pkj) &&
             (!s_get_hex(j, "public_key", named, sizeof named) ||
              sodium_memcmp(named, pk, sizeof pk) != 0))
        ex = s_reject("the proof names another public key than --key");
    else if (strcmp(kind, S_PROOF_INCLUSION) == 0)
        ex = s_check_inclusion(j, pk);
    else if (strcmp(kind, S_PROOF_CONSIST) == 0)
        ex = s_check_consistency(j, pk);
    else
        ex = s_reject("unknown proof kind");
    json_decref(j);
    return ex;
}

/* ---- main ---- */

int main(int argc, char **argv)
{
    kc_log_set_ident(PROG);
    enum {
        O_STORE = 256,
        O_PROVINCE,
        O_EVENT,
        O_OFFSET,
        O_SIZE,
        O_OUT,
        O_KEY,
        O_FILE,
        O_FORMAT,
        O_LEAF_HASH,
        O_LEAF_DATA,
        O_LEAF_INDEX,
        O_TREE_SIZE,
        O_ROOT,
        O_SIZE1,
        O_SIZE2,
        O_ROOT1,
        O_ROOT2,
        O_PROOF,
        O_LANG
    };
    static const struct option longopts[] = {
        {"store", required_argument, NULL, O_STORE},
        {"province", required_argument, NULL, O_PROVINCE},
        {"event", required_argument, NULL, O_EVENT},
        {"offset", required_argument, NULL, O_OFFSET},
        {"size", required_argument, NULL, O_SIZE},
        {"out", required_argument, NULL, O_OUT},
        {"key", required_argument, NULL, O_KEY},
        {"file", required_argument, NULL, O_FILE},
        {"format", required_argument, NULL, O_FORMAT},
        {"lang", required_argument, NULL, O_LANG},
        {"leaf-hash", required_argument, NULL, O_LEAF_HASH},
        {"leaf-data", required_argument, NULL, O_LEAF_DATA},
        {"leaf-index", required_argument, NULL, O_LEAF_INDEX},
        {"tree-size", required_argument, NULL, O_TREE_SIZE},
        {"root", required_argument, NULL, O_ROOT},
        {"size1", required_argument, NULL, O_SIZE1},
        {"size2", required_argument, NULL, O_SIZE2},
        {"root1", required_argument, NULL, O_ROOT1},
        {"root2", required_argument, NULL, O_ROOT2},
        {"proof", required_argument, NULL, O_PROOF},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int mrc = kc_conf_main(PROG, "audit", longopts, &argc, &argv);
    if (mrc)
        return mrc;
    s_opts_t o = {.store = S_DEFAULT_STORE, .lang = kc_lang_from_env()};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":qhV", longopts, NULL)) != -1) {
        switch (c) {
        case O_STORE: o.store = optarg; break;
        case O_PROVINCE: o.province = optarg; break;
        case O_EVENT: o.event = optarg; break;
        case O_OFFSET:
            if (kc_cli_parse_u64(optarg, &o.offset) != 0)
                return kc_cli_usage_error(PROG, "--offset: '%s' is not a log offset", optarg);
            o.have_offset = true;
            break;
        case O_SIZE:
            if (kc_cli_parse_u64(optarg, &o.size) != 0)
                return kc_cli_usage_error(PROG, "--size: '%s' is not a tree size", optarg);
            o.have_size = true;
            break;
        case O_OUT: o.out = optarg; break;
        case O_KEY: o.key = optarg; break;
        case O_FILE: o.file = optarg; break;
        case O_FORMAT: o.format = optarg; break;
        case O_LANG:
            if (kc_lang_parse(optarg, &o.lang) != 0)
                return kc_cli_usage_error(PROG, "--lang takes en or vi, not '%s'", optarg);
            break;
        case O_LEAF_HASH: o.leaf_hash = optarg; break;
        case O_LEAF_DATA: o.leaf_data = optarg; break;
        case O_ROOT: o.root = optarg; break;
        case O_ROOT1: o.root1 = optarg; break;
        case O_ROOT2: o.root2 = optarg; break;
        case O_LEAF_INDEX:
        case O_TREE_SIZE:
        case O_SIZE1:
        case O_SIZE2: {
            uint64_t *v = c == O_LEAF_INDEX  ? &o.leaf_index
                          : c == O_TREE_SIZE ? &o.tree_size
                          : c == O_SIZE1     ? &o.size1
                                             : &o.size2;
            const char *name = c == O_LEAF_INDEX  ? "--leaf-index"
                               : c == O_TREE_SIZE ? "--tree-size"
                               : c == O_SIZE1     ? "--size1"
                                                  : "--size2";
            if (kc_cli_parse_u64(optarg, v) != 0) {
                char why[64];
                snprintf(why, sizeof why, "%s: '%%s' is not a number from 0 to 2^64-1", name);
                return kc_cli_usage_error(PROG, why, optarg);
            }
            *(c == O_LEAF_INDEX  ? &o.have_leaf_index
              : c == O_TREE_SIZE ? &o.have_tree_size
              : c == O_SIZE1     ? &o.have_size1
                                 : &o.have_size2) = true;
            break;
        }
        case O_PROOF:
            if (!s_is_hex(optarg))
                return kc_cli_usage_error(
                    PROG, "--proof: '%s' is not hex (an even number of hex digits)", optarg);
            if (o.n_proof < sizeof o.proof / sizeof *o.proof)
                o.proof[o.n_proof] = optarg;
            o.n_proof++; /* past KC_MERKLE_PATH_MAX: INVALID whatever the hashes */
            break;
        case 'q': o.quiet = true; break;
        case 'h': s_usage(stdout); return 0;
        case 'V': printf(PROG " %s\n", KC_VERSION); return 0;
        case ':':
            return kc_cli_usage_error(PROG, "option '%s' needs an argument", argv[optind - 1]);
        default: return kc_cli_usage_error(PROG, "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (kc_conf_main_check_done())
        return 0;
    if (optind >= argc)
        return kc_cli_usage_error(PROG, "%s", "no command given");
    const char *name = argv[optind];
    o.argc = argc - optind - 1;
    o.argv = argv + optind + 1;
    if (sodium_init() < 0) {
        fprintf(stderr, PROG ": libsodium cannot be initialised\n");
        return KC_EX_SOFTWARE;
    }
    for (size_t i = 0; i < S_NCMDS; i++) {
        if (strcmp(name, s_cmds[i].name) != 0)
            continue;
        if (!s_cmds[i].run) {
            fprintf(stderr, PROG ": '%s' is not in this build\n", name);
            return KC_EX_USAGE;
        }
        return s_cmds[i].run(&o);
    }
    return kc_cli_usage_error(PROG, "unknown command '%s'", name);
}
