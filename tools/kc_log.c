/* kc_log.c - kc-log: export the verifiable event log to a self-checking file, describe one.
 *
 * DESIGN
 * `export` opens the store read-only and writes the first N entries of the log
 * with the signed head of size N (default: the latest head) in one read
 * snapshot (libkcstore's kc_logfile_export): it never blocks kc-aggregator,
 * and the file is complete or absent (FILE.tmp, fsync, rename). The export
 * recomputes the Merkle root of what it writes and refuses to finish a file
 * whose head does not match it. `info` prints what a file says about itself
 * (header and signed head); checking every record is `kc-audit verify --file`.
 * Format: docs/LOGFILE.md.
 * `show` decodes the store's entries (read-only, one read snapshot) through
 * core/kc_entry.h and prints those that pass its filters as JSON lines (one
 * kc_entry_json object a line; times in UTC), CSV (UTF-8 with a byte order
 * mark unless --no-bom; one column per metric; local time) or a table (local
 * time; the default on a terminal, JSON lines otherwise). Offset and time
 * bounds narrow the scan itself: the log is in received order
 * (kc_txn_log_size_at); --since/--until read times as kc-query's --as-of
 * does (core/kc_qry.h: local time without a zone), except that a date alone
 * starts at that day's first instant for --since.
 * --lang vi (the default when the locale is Vietnamese: kc_lang_from_env)
 * gives the table and CSV Vietnamese headers and words: op, kind and fund
 * (kc_label_op/kind/fund), activity and metric labels (kc_label.h); --lang en
 * keeps the machine names and tokens. JSON lines are the same in both.
 * Exit codes: 0 ok, 64 usage, 65 bad data (no signed head of that size, the
 * store's log does not match its head, not a valid log file, an entry whose
 * Event does not decode), 66 no store or no such file, 69 the output cannot
 * be written (or another I/O failure).
 */
#include "kc_checkpoint.h"
#include "kc_cli.h"
#include "kc_conf.h"
#include "kc_csvout.h"
#include "kc_entry.h"
#include "kc_entryfmt.h"
#include "kc_err.h"
#include "kc_filter.h"
#include "kc_jtext.h"
#include "kc_label.h"
#include "kc_log.h"
#include "kc_logfile.h"
#include "kc_merkle.h"
#include "kc_progress.h"
#include "kc_qry.h"
#include "kc_table.h"
#include "kc_text.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG            "kc-log"
#define S_DEFAULT_STORE "./var/kcpipe"
#define S_EX_UNAVAIL    69

typedef struct {
    const char *store; /* --store */
    const char *out;   /* --out */
    bool have_size;    /* --size */
    uint64_t size;
    bool quiet; /* --quiet */
    /* show */
    const char *format;  /* --format jsonl|csv|table (NULL: table on a terminal) */
    bool no_bom;         /* --no-bom */
    kc_entry_filter_t f; /* --province, --event-id, --producer, --since, --until */
    uint64_t from, to;   /* --from, --to (offsets, inclusive) */
    uint64_t limit;      /* --limit (0: none) */
    kc_lang_t lang;      /* --lang (default: the locale's) */
    int argc;
    char **argv;
} s_opts_t;

static void s_usage(FILE *out)
{
    fprintf(out,
            "Usage: " PROG " export [--store DIR] --out FILE [--size N]\n"
            "       " PROG " info FILE\n"
            "       " PROG " show [--store DIR] [filters] [--format jsonl|csv|table]\n"
            "Export kcpipe's verifiable event log to a documented, self-checking file\n"
            "(format: docs/LOGFILE.md), describe such a file, or print the store's entries\n"
            "decoded (docs/AUDIT.md, \"What an auditor does\").\n"
            "\nCommands:\n"
            "  export   write the first N entries of the log and the signed head of size N\n"
            "           (default: the latest signed head) to FILE; the store is opened\n"
            "           read-only and read in one snapshot\n"
            "  info     print a file's header and signed head (records are not checked:\n"
            "           use 'kc-audit verify --file FILE --key PUBHEX')\n"
            "  show     print the store's entries decoded (read-only, one snapshot): offset,\n"
            "           received time, producer, epoch, seq, leaf hash and the Event\n"
            "\nOptions:\n"
            "  --store DIR     the store (default " S_DEFAULT_STORE ")\n"
            "  --out FILE      the file to write (export)\n"
            "  --size N        export against the signed head of exactly N entries\n"
            "  -q, --quiet     no progress line on a terminal\n"
            "  --format FMT    show: jsonl (UTC times), csv or table (local time);\n"
            "                  default table on a terminal, jsonl otherwise\n"
            "  --no-bom        show: CSV without the UTF-8 byte order mark\n"
            "  --lang en|vi    show: language of the table and CSV headers and words\n"
            "                  (default vi under a Vietnamese locale, else en; JSON\n"
            "                  lines are the same in both)\n"
            "  --province P    show: entries of a province, a code or a name with or\n"
            "                  without diacritics (repeatable)\n"
            "  --event-id ID   show: the entry of that event_id and those naming it\n"
            "                  in corrects\n"
            "  --producer ID   show: entries of one producer\n"
            "  --since TIME    show: received at or after TIME (2026-12-07,\n"
            "                  '2026-12-07 13:32:30', 2026-12-07T13:32:30+07:00; local\n"
            "                  time without a zone; a date: from its start)\n"
            "  --until TIME    show: received at or before TIME (a date: to its end)\n"
            "  --from N        show: from log offset N\n"
            "  --to N          show: up to log offset N (inclusive)\n"
            "  --limit N       show: at most N entries\n"
            "  --config FILE   read options from FILE (default: /etc/kcpipe/log.conf\n"
            "                  if it exists); options given here win\n"
            "  --no-config     read no config file\n"
            "  --check-config  check the config file and options: print 'FILE: ok'\n"
            "                  and exit 0, or each error as FILE:LINE and exit 78\n"
            "  -h, --help      this help\n"
            "  -V, --version   print the version\n"
            "\nExit: 0 ok, 64 usage, 65 bad data (no signed head of that size, the log does not\n"
            "match its head, not a valid log file, an entry that does not decode), 66 no\n"
            "store or file, 69 cannot write.\n");
}

static int s_export(const s_opts_t *o)
{
    if (o->argc != 0)
        return kc_cli_usage_error(PROG, "export takes no operands ('%s')", o->argv[0]);
    if (!o->out)
        return kc_cli_usage_error(PROG, "%s", "export needs --out FILE");
    if (o->have_size && o->size == 0)
        return kc_cli_usage_error(PROG, "%s",
                                  "--size must be at least 1 (the size of a signed head)");
    kc_store_t *s = NULL;
    int ex = kc_cli_open_store(PROG, o->store, &s);
    if (ex != 0)
        return ex;
    kc_progress_t p;
    kc_progress_init(&p, "export", "entries");
    if (o->quiet)
        p.enabled = false;
    int rc = kc_logfile_export(s, o->out, o->have_size ? o->size : 0, kc_progress_cb, &p);
    kc_store_close(&s);
    if (rc == KC_ENOTFOUND) {
        if (o->have_size)
            fprintf(stderr, PROG ": no signed head of size %" PRIu64 " (see 'kc-audit heads')\n",
                    o->size);
        else
            fprintf(stderr, PROG ": the store has no signed head yet: nothing to export\n");
        return KC_EX_DATAERR;
    }
    if (rc == KC_EFORMAT || rc == KC_EPROTO) {
        fprintf(stderr,
                PROG ": the store's log does not match its signed head (%s); "
                     "run 'kc-audit verify'\n",
                kc_strerror(rc));
        return KC_EX_DATAERR;
    }
    if (rc != 0) {
        fprintf(stderr, PROG ": cannot export to %s: %s\n", o->out, kc_strerror(rc));
        return S_EX_UNAVAIL;
    }
    kc_logfile_info_t info;
    kc_logfile_status_t st;
    if (kc_logfile_info(o->out, &info, &st) != 0) {
        fprintf(stderr, PROG ": %s: %s\n", o->out, st.why);
        return S_EX_UNAVAIL;
    }
    kc_progress_done(&p, info.count, info.count);
    char ts[64], key[2 * KC_MERKLE_PUBKEY_LEN + 1];
    kc_cli_time_utc(info.head.timestamp_ns, ts, sizeof ts);
    kc_merkle_hex(info.pubkey, sizeof info.pubkey, key);
    printf("exported %" PRIu64 " entries to %s (%" PRIu64 " bytes), signed head of %s\n"
           "public key: %s\n",
           info.count, o->out, info.file_size, ts, key);
    return 0;
}

static int s_info(const s_opts_t *o)
{
    if (o->argc != 1)
        return kc_cli_usage_error(PROG, "%s", "info needs one FILE");
    const char *file = o->argv[0];
    kc_logfile_info_t info;
    kc_logfile_status_t st;
    int rc = kc_logfile_info(file, &info, &st);
    if (rc != 0 && info.version == 0) { /* no usable header */
        if (rc == KC_EFORMAT) {
            fprintf(stderr, PROG ": %s: %s\n", file, st.why);
            return KC_EX_DATAERR;
        }
        fprintf(stderr, PROG ": %s\n", st.why);
        return rc == -ENOENT || rc == -EACCES ? KC_EX_NOINPUT : S_EX_UNAVAIL;
    }
    char key[2 * KC_MERKLE_PUBKEY_LEN + 1];
    kc_merkle_hex(info.pubkey, sizeof info.pubkey, key);
    printf("file:           %s (%" PRIu64 " bytes)\n"
           "format version: %" PRIu32 "\n"
           "public key:     %s\n"
           "records:        %" PRIu64 "\n",
           file, info.file_size, info.version, key, info.count);
    if (!info.have_head) {
        printf("signed head:    MISSING (%s)\n", st.why);
        return KC_EX_DATAERR;
    }
    char ts[64], root[2 * KC_MERKLE_HASH_LEN + 1], sig[2 * KC_MERKLE_SIG_LEN + 1];
    kc_cli_time_utc(info.head.timestamp_ns, ts, sizeof ts);
    kc_merkle_hex(info.head.root, sizeof info.head.root, root);
    kc_merkle_hex(info.head.signature, sizeof info.head.signature, sig);
    printf("head size:      %" PRIu64 "%s\n"
           "head time:      %s (%" PRIu64 " ns)\n"
           "head root:      %s\n"
           "head signature: %s\n"
           "                %s with the header's key\n"
           "(records not checked: kc-audit verify --file %s --key PUBHEX)\n",
           info.head.tree_size, info.head.tree_size == info.count ? "" : " (DIFFERS FROM RECORDS)",
           ts, info.head.timestamp_ns, root, sig, info.head_sig_ok ? "valid" : "INVALID", file);
    return info.head_sig_ok && info.head.tree_size == info.count ? 0 : KC_EX_DATAERR;
}

/* --since / --until TIME as kc-query's --as-of (kc_qry_parse_time: local time
 * without a zone), except that a date alone given to --since is the first
 * instant of that day, not its last. 0, or -1 (not a time, or a local time
 * the clocks skipped or repeated). */
static int s_parse_time(bool since, const char *s, uint64_t *ns)
{
    size_t n = strlen(s);
    bool date = n >= 10 && s[10] != 'T' && s[10] != 't' && s[10] != ' ';
    if (since && date) { /* the same day at 00:00:00, with its zone if any */
        char b[64];
        if (n > 40)
            return -1;
        snprintf(b, sizeof b, "%.10sT00:00:00%s", s, s + 10);
        return kc_qry_parse_time(b, true, ns) == 0 ? 0 : -1;
    }
    return kc_qry_parse_time(s, true, ns) == 0 ? 0 : -1;
}

/* ---- show ---- */

enum { S_JSONL, S_CSV, S_TABLE };

typedef struct {
    const s_opts_t *o;
    int format;
    kc_wire_decoder_t *dec;
    kc_table_t *table;
    uint64_t end;   /* scan up to this offset (exclusive) */
    uint64_t shown; /* entries printed */
    uint64_t bad;   /* entries whose Event does not decode */
    int rc;         /* an error of the output */
} s_show_t;

static const char *const s_csv_head[] = {
    "offset", "received", "producer",      "epoch",    "seq",           "leaf_hash",
    "op",     "event_id", "corrects",      "province", "province_name", "year",
    "month",  "activity", "activity_name", "kind",     "fund",
};
static const char *const s_csv_head_vi[] = {
    "vị trí",         "thời gian nhận", "nguồn gửi",          "kỳ (epoch)",
    "số thứ tự",      "mã băm lá",      "thao tác",           "mã sự kiện",
    "điều chỉnh mã",  "mã tỉnh",        "tỉnh, thành phố",    "năm",
    "tháng",          "mã hoạt động",   "nội dung hoạt động", "loại",
    "nguồn kinh phí",
};
static const char *const s_table_head[] = {
    "offset",   "received", "producer", "submitted by", "seq",  "op",     "event_id", "corrects",
    "province", "period",   "activity", "kind",         "fund", "values", "note"};
static const char *const s_table_head_vi[] = {"vị trí",
                                              "thời gian nhận",
                                              "nguồn gửi",
                                              "người nhập",
                                              "số thứ tự",
                                              "thao tác",
                                              "mã sự kiện",
                                              "điều chỉnh mã",
                                              "tỉnh, thành phố",
                                              "kỳ",
                                              "nội dung hoạt động",
                                              "loại",
                                              "nguồn kinh phí",
                                              "giá trị",
                                              "ghi chú"};

/* The name of x's activity: its taxonomy name (--lang en, as JSON has it) or
 * its Vietnamese label; NULL when the taxonomy does not know it. */
static const char *s_act_name(const kc_entry_t *x, kc_lang_t lang)
{
    if (!x->act)
        return NULL;
    return lang == KC_LANG_VI ? kc_label_activity(x->act, lang) : x->act->name;
}

static void s_show_csv(const kc_entry_t *x, kc_lang_t lang)
{
    char b[KC_TEXT_SHOW_MAX(KC_NOTE_MAX)], ts[64], hash[2 * KC_MERKLE_HASH_LEN + 1];
    kc_merkle_hex(x->leaf_hash, sizeof x->leaf_hash, hash);
    char num[6][24];
    snprintf(num[0], sizeof num[0], "%" PRIu64, x->log.offset);
    snprintf(num[1], sizeof num[1], "%" PRIu64, x->log.epoch);
    snprintf(num[2], sizeof num[2], "%" PRIu64, x->log.seq);
    snprintf(num[3], sizeof num[3], "%u", x->year);
    snprintf(num[4], sizeof num[4], "%u", x->month);
    const char *kind = kc_label_kind(x->kind, lang), *fund = kc_label_fund(x->fund, lang),
               *act_name = s_act_name(x, lang);
    char producer[KC_TEXT_SHOW_MAX(KC_PRODUCER_ID_MAX)], id[KC_TEXT_SHOW_MAX(KC_EVENT_ID_MAX)],
        corrects[KC_TEXT_SHOW_MAX(KC_EVENT_ID_MAX)], prov[32], act[64];
    const char *cells[] = {
        num[0],
        kc_entryfmt_local(ts, sizeof ts, x->log.received_ns),
        kc_text_fit(x->log.producer, x->log.producer_len, producer, sizeof producer),
        num[1],
        num[2],
        hash,
        kc_label_op(x->op, lang),
        kc_text_fit(x->event_id, strlen(x->event_id), id, sizeof id),
        x->corrects ? kc_text_fit(x->corrects, strlen(x->corrects), corrects, sizeof corrects) : "",
        kc_text_fit(x->province, strlen(x->province), prov, sizeof prov),
        x->prov ? x->prov->name : "",
        x->year ? num[3] : "",
        x->month ? num[4] : "",
        x->activity ? kc_text_fit(x->activity, strlen(x->activity), act, sizeof act) : "",
        act_name ? act_name : "",
        kind ? kind : "",
        fund ? fund : "",
    };
    for (size_t i = 0; i < sizeof cells / sizeof *cells; i++) {
        if (i)
            putchar(',');
        kc_csv_field(stdout, cells[i]);
    }
    for (int i = 0; i < KC_METRIC_COUNT; i++) {
        putchar(',');
        if (x->present & (1u << i))
            printf("%" PRId64, x->m[i]);
    }
    putchar(',');
    if (x->note) {
        size_t len = strlen(x->note);
        kc_csv_field(stdout, kc_text_free_ok(x->note, len)
                                 ? x->note
                                 : kc_text_fit(x->note, len, b, sizeof b));
    }
    putchar(',');
    if (x->submitted_by)
        kc_csv_field(stdout, kc_text_fit(x->submitted_by, strlen(x->submitted_by), b, sizeof b));
    putchar('\n');
}

static int s_show_table(kc_table_t *t, const kc_entry_t *x, kc_lang_t lang)
{
    char off[24], seq[24], ts[64], prov[160], period[16], act[256], values[KC_ENTRYFMT_BUF];
    snprintf(off, sizeof off, "%" PRIu64, x->log.offset);
    snprintf(seq, sizeof seq, "%" PRIu64, x->log.seq);
    const char *act_name = s_act_name(x, lang);
    snprintf(act, sizeof act, "%s%s%s", x->activity ? x->activity : "", act_name ? " " : "",
             act_name ? act_name : "");
    char producer[KC_PRODUCER_ID_MAX + 1];
    snprintf(producer, sizeof producer, "%.*s", (int)x->log.producer_len, x->log.producer);
    const char *kind = kc_label_kind(x->kind, lang), *fund = kc_label_fund(x->fund, lang);
    char by[KC_TEXT_SHOW_MAX(KC_SUBMITTED_BY_MAX)];
    const char *cells[] = {
        off,
        kc_entryfmt_local(ts, sizeof ts, x->log.received_ns),
        producer,
        x->submitted_by ? kc_text_fit(x->submitted_by, strlen(x->submitted_by), by, sizeof by) : "",
        seq,
        kc_label_op(x->op, lang),
        x->event_id,
        x->corrects ? x->corrects : "",
        kc_entryfmt_province(prov, sizeof prov, x),
        kc_entryfmt_period(period, sizeof period, x),
        act,
        kind ? kind : "",
        fund ? fund : "",
        kc_entryfmt_values(values, sizeof values, x, lang),
        x->note ? x->note : ""};
    int rc = kc_table_row(t);
    for (size_t i = 0; rc == 0 && i < sizeof cells / sizeof *cells; i++)
        rc = kc_table_set(t, i, cells[i]);
    return rc;
}

static int s_show_one(const kc_log_entry_t *e, void *ctx)
{
    s_show_t *c = ctx;
    if (e->offset >= c->end || (c->o->limit && c->shown >= c->o->limit))
        return 1;
    kc_entry_t x;
    if (kc_entry_decode(c->dec, e, &x) != 0) {
        fprintf(stderr, PROG ": entry %" PRIu64 ": its Event does not decode\n", e->offset);
        c->bad++;
        return 0;
    }
    if (!kc_entry_match(&c->o->f, &x))
        return 0;
    c->shown++;
    if (c->format == S_CSV) {
        s_show_csv(&x, c->o->lang);
    } else if (c->format == S_TABLE) {
        c->rc = s_show_table(c->table, &x, c->o->lang);
    } else {
        json_t *j = kc_entry_json(&x);
        if (!j || json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) != 0)
            c->rc = KC_ENOMEM;
        json_decref(j);
        putchar('\n');
    }
    return c->rc;
}

static int s_show(const s_opts_t *o)
{
    if (o->argc != 0)
        return kc_cli_usage_error(PROG, "show takes no operands ('%s')", o->argv[0]);
    s_show_t c = {.o = o, .format = isatty(STDOUT_FILENO) ? S_TABLE : S_JSONL};
    if (o->format) {
        if (strcmp(o->format, "jsonl") == 0)
            c.format = S_JSONL;
        else if (strcmp(o->format, "csv") == 0)
            c.format = S_CSV;
        else if (strcmp(o->format, "table") == 0)
            c.format = S_TABLE;
        else
            return kc_cli_usage_error(PROG, "--format: '%s' is not jsonl, csv or table", o->format);
    }
    if (o->from > o->to)
        return kc_cli_usage_error(PROG, "%s", "--from is past --to: no entry can be shown");
    kc_store_t *s = NULL;
    int ex = kc_cli_open_store(PROG, o->store, &s);
    if (ex != 0)
        return ex;
    kc_txn_t *t = NULL;
    uint64_t from = o->from, size = 0;
    int rc = kc_store_read_begin(s, &t);
    if (rc == 0)
        rc = kc_txn_log_size(t, &size);
    c.end = o->to < size ? o->to + 1 : size;
    if (rc == 0 && o->f.since_ns > 0) { /* the log is in received order */
        uint64_t before;
        rc = kc_txn_log_size_at(t, o->f.since_ns - 1, &before);
        from = before > from ? before : from;
    }
    if (rc == 0 && o->f.until_ns != UINT64_MAX) {
        uint64_t upto;
        rc = kc_txn_log_size_at(t, o->f.until_ns, &upto);
        c.end = upto < c.end ? upto : c.end;
    }
    if (rc == 0)
        rc = kc_wire_decoder_new(&c.dec);
    bool vi = o->lang == KC_LANG_VI;
    if (rc == 0 && c.format == S_TABLE) {
        c.table = kc_table_new(sizeof s_table_head / sizeof *s_table_head, 15);
        rc = c.table ? kc_table_row(c.table) : KC_ENOMEM;
        for (size_t i = 0; rc == 0 && i < sizeof s_table_head / sizeof *s_table_head; i++)
            rc = kc_table_set(c.table, i, vi ? s_table_head_vi[i] : s_table_head[i]);
    }
    if (rc == 0 && c.format == S_CSV) {
        if (!o->no_bom)
            kc_csv_bom(stdout);
        for (size_t i = 0; i < sizeof s_csv_head / sizeof *s_csv_head; i++) {
            if (i)
                putchar(',');
            kc_csv_field(stdout, vi ? s_csv_head_vi[i] : s_csv_head[i]);
        }
        for (int i = 0; i < KC_METRIC_COUNT; i++) {
            putchar(',');
            kc_csv_field(stdout, vi ? kc_label_metric(i, o->lang) : kc_ref_metric(i)->name);
        }
        printf(",%s,%s\n", vi ? "ghi chú" : "note", vi ? "người nhập" : "submitted_by");
    }
    if (rc == 0 && from < c.end) {
        rc = kc_txn_log_scan(t, from, s_show_one, &c);
        rc = rc == 1 ? 0 : rc;
    }
    kc_txn_end(&t);
    kc_store_close(&s);
    kc_wire_decoder_free(&c.dec);
    if (rc == 0 && c.table)
        kc_table_print(c.table, stdout);
    kc_table_destroy(&c.table);
    if (rc != 0) {
        fprintf(stderr, PROG ": cannot read the log: %s\n", kc_strerror(rc));
        return rc == KC_EFORMAT ? KC_EX_DATAERR : S_EX_UNAVAIL;
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, PROG ": cannot write the output: %s\n", strerror(errno));
        return S_EX_UNAVAIL;
    }
    if (c.bad) {
        fprintf(stderr, PROG ": %" PRIu64 " entries could not be decoded; run 'kc-audit verify'\n",
                c.bad);
        return KC_EX_DATAERR;
    }
    return 0;
}

int main(int argc, char **argv)
{
    kc_log_set_ident(PROG);
    enum {
        O_STORE = 256,
        O_OUT,
        O_SIZE,
        O_FORMAT,
        O_NO_BOM,
        O_PROVINCE,
        O_EVENT_ID,
        O_PRODUCER,
        O_SINCE,
        O_UNTIL,
        O_FROM,
        O_TO,
        O_LIMIT,
        O_LANG
    };
    static const struct option longopts[] = {
        {"store", required_argument, NULL, O_STORE},
        {"out", required_argument, NULL, O_OUT},
        {"size", required_argument, NULL, O_SIZE},
        {"format", required_argument, NULL, O_FORMAT},
        {"no-bom", no_argument, NULL, O_NO_BOM},
        {"province", required_argument, NULL, O_PROVINCE},
        {"event-id", required_argument, NULL, O_EVENT_ID},
        {"producer", required_argument, NULL, O_PRODUCER},
        {"since", required_argument, NULL, O_SINCE},
        {"until", required_argument, NULL, O_UNTIL},
        {"from", required_argument, NULL, O_FROM},
        {"to", required_argument, NULL, O_TO},
        {"limit", required_argument, NULL, O_LIMIT},
        {"lang", required_argument, NULL, O_LANG},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    int mrc = kc_conf_main(PROG, "log", longopts, &argc, &argv);
    if (mrc)
        return mrc;
    s_opts_t o = {.store = S_DEFAULT_STORE, .to = UINT64_MAX, .lang = kc_lang_from_env()};
    kc_entry_filter_init(&o.f);
    char err[256];
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":qhV", longopts, NULL)) != -1) {
        switch (c) {
        case O_STORE: o.store = optarg; break;
        case O_OUT: o.out = optarg; break;
        case O_SIZE:
            if (kc_cli_parse_u64(optarg, &o.size) != 0)
                return kc_cli_usage_error(PROG, "--size: '%s' is not a tree size", optarg);
            o.have_size = true;
            break;
        case O_FORMAT: o.format = optarg; break;
        case O_NO_BOM: o.no_bom = true; break;
        case O_PROVINCE:
            if (kc_filter_add_province(&o.f.where, optarg, err, sizeof err) != 0)
                return kc_cli_usage_error(PROG, "--province: %s", err);
            break;
        case O_EVENT_ID: o.f.event_id = optarg; break;
        case O_PRODUCER: o.f.producer = optarg; break;
        case O_SINCE:
        case O_UNTIL:
            if (s_parse_time(c == O_SINCE, optarg, c == O_SINCE ? &o.f.since_ns : &o.f.until_ns) !=
                0)
                return kc_cli_usage_error(PROG,
                                          "'%s' is not a time: 2026-12-07, 2026-12-07 13:32:30 "
                                          "(local time), 2026-12-07T13:32:30Z or "
                                          "2026-12-07T13:32:30+07:00; a local time that the "
                                          "clocks skipped or repeated needs a zone",
                                          optarg);
            break;
        case O_FROM:
        case O_TO:
        case O_LIMIT:
            if (kc_cli_parse_u64(optarg, c == O_FROM ? &o.from : c == O_TO ? &o.to : &o.limit) != 0)
                return kc_cli_usage_error(PROG, "'%s' is not a number (--from, --to, --limit)",
                                          optarg);
            break;
        case O_LANG:
            if (kc_lang_parse(optarg, &o.lang) != 0)
                return kc_cli_usage_error(PROG, "--lang takes en or vi, not '%s'", optarg);
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
        return kc_cli_usage_error(PROG, "%s", "no command given (export, info or show)");
    const char *name = argv[optind];
    o.argc = argc - optind - 1;
    o.argv = argv + optind + 1;
    if (sodium_init() < 0) {
        fprintf(stderr, PROG ": libsodium cannot be initialised\n");
        return KC_EX_SOFTWARE;
    }
    if (strcmp(name, "export") == 0)
        return s_export(&o);
    if (strcmp(name, "info") == 0)
        return s_info(&o);
    if (strcmp(name, "show") == 0)
        return s_show(&o);
    return kc_cli_usage_error(PROG, "unknown command '%s'", name);
}
