/* gen_seeds.c - writes the generated seed files of tests/fuzz/corpus/: Batch
 * messages and Events from the real encoder, spool inputs in fuzz_spool's
 * chunk format, and store log records in fuzz_storelog's format. The CSV and
 * log file seeds are copied from data/demo and tests/logfile/golden by hand
 * (scripts/fuzz --seed-info lists them).
 *   fuzz_gen_seeds CORPUS_DIR
 */
#include "kc_encode.h"
#include "kc_event.h"
#include "kc_spool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *s_root;

static void s_write(const char *h, const char *name, const void *d, size_t n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", s_root, h);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", s_root, h, name);
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(d, 1, n, f) != n) || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s: %s\n", path, strerror(errno));
        exit(1);
    }
}

/* A valid machinery event of province 79, 2021-03 with the given id and seq. */
static kc_event_t s_ev(const char *id)
{
    kc_event_t e = {.event_id = id,
                    .province = "79",
                    .year = 2021,
                    .month = 3,
                    .activity = "machinery",
                    .kind = KCI_KIND_ACTUAL,
                    .fund = KCI_FUND_KCDP,
                    .present = 1u << KCI_AMOUNT_VND | 1u << KCI_FACILITIES,
                    .metrics = {[KCI_AMOUNT_VND] = 350000000, [KCI_FACILITIES] = 2}};
    return e;
}

typedef struct {
    kc_buf_t ev[16];
    size_t n;
} s_list_t;

static void s_add(s_list_t *l, const kc_event_t *e, const char *producer, uint64_t seq)
{
    kc_buf_t b = {0};
    if (kc_encode_event(e, producer, seq, &b) != 0) {
        fprintf(stderr, "cannot encode %s\n", e->event_id);
        exit(1);
    }
    l->ev[l->n++] = b;
}

static void s_batch(const char *name, s_list_t *l, const char *producer, uint64_t epoch)
{
    kc_pb_batch_t b = KCPIPE__V1__BATCH__INIT;
    ProtobufCBinaryData bd[16];
    for (size_t i = 0; i < l->n; i++)
        bd[i] = (ProtobufCBinaryData){l->ev[i].len, l->ev[i].data};
    b.producer_id = (char *)producer;
    b.has_producer_epoch = epoch != 0;
    b.producer_epoch = epoch;
    b.n_events = l->n;
    b.events = bd;
    size_t n = kcpipe__v1__batch__get_packed_size(&b);
    uint8_t *d = malloc(n ? n : 1);
    kcpipe__v1__batch__pack(&b, d);
    s_write("batch", name, d, n);
    free(d);
    for (size_t i = 0; i < l->n; i++)
        free(l->ev[i].data);
    l->n = 0;
}

static void s_batches(void)
{
    s_list_t l = {0};
    kc_event_t e;
    char id[32];
    for (int i = 1; i <= 3; i++) {
        snprintf(id, sizeof id, "79-A-%d", i);
        e = s_ev(id);
        s_add(&l, &e, "fuzz", (uint64_t)i);
    }
    s_batch("valid-3", &l, "fuzz", 1700000000000000000u);

    /* a record, its correction, a retraction of the correction */
    e = s_ev("79-C-1");
    s_add(&l, &e, "fuzz-c", 1);
    e = s_ev("79-C-2");
    e.op = KCI_OP_CORRECTION;
    e.corrects = "79-C-1";
    e.metrics[KCI_AMOUNT_VND] = 400000000;
    s_add(&l, &e, "fuzz-c", 2);
    kc_event_t r = {
        .event_id = "79-C-3", .province = "79", .op = KCI_OP_RETRACTION, .corrects = "79-C-2"};
    s_add(&l, &r, "fuzz-c", 3);
    s_batch("correction-retraction", &l, "fuzz-c", 0);

    /* the reporting cycle (issue 18), as the centre: a record, a sign-off, the
     * approval, a correction of the locked month (period_locked), a reopen
     * without a reason (missing_reason), with one, the correction again */
    e = s_ev("79-L-1");
    s_add(&l, &e, "centre", 1);
    kc_event_t cy = {
        .event_id = "79-L-S", .province = "79", .year = 2021, .month = 3, .op = KCI_OP_SIGN_OFF};
    s_add(&l, &cy, "centre", 2);
    cy.event_id = "79-L-A";
    cy.op = KCI_OP_APPROVE;
    s_add(&l, &cy, "centre", 3);
    e = s_ev("79-L-2");
    e.op = KCI_OP_CORRECTION;
    e.corrects = "79-L-1";
    s_add(&l, &e, "centre", 4);
    cy.event_id = "79-L-R";
    cy.op = KCI_OP_REOPEN;
    s_add(&l, &cy, "centre", 5);
    cy.event_id = "79-L-R2";
    cy.note = "mistyped";
    s_add(&l, &cy, "centre", 6);
    e.event_id = "79-L-3";
    s_add(&l, &e, "centre", 7);
    s_batch("cycle", &l, "centre", 0);

    /* one event per validation failure */
    uint64_t seq = 1;
    const char *long_id = "0123456789012345678901234567890123456789012345678901234567890123456789";
    static char note[1100];
    memset(note, 'n', sizeof note - 1);
    for (int k = 0; k < 14; k++) {
        snprintf(id, sizeof id, "79-R-%d", k);
        e = s_ev(id);
        switch (k) {
        case 0: e.event_id = long_id; break;
        case 1: e.province = "99"; break;
        case 2: e.activity = "KC99"; break;
        case 3:
            e.present |= 1u << KCI_DELEGATES;
            e.metrics[KCI_DELEGATES] = 5;
            break;
        case 4: e.metrics[KCI_AMOUNT_VND] = -1; break;
        case 5:
            e.activity = "vocational_training";
            e.present = 1u << KCI_PERSONS | 1u << KCI_PERSONS_EMPLOYED;
            e.metrics[KCI_PERSONS] = 3;
            e.metrics[KCI_PERSONS_EMPLOYED] = 4;
            break;
        case 6: e.month = 13; break;
        case 7: e.year = 1999; break;
        case 8: e.note = note; break;
        case 9: e.present = 0; break;
        case 10: e.kind = 7; break;
        case 11: e.fund = 9; break;
        case 12:
            e.op = KCI_OP_CORRECTION;
            e.corrects = "79-nothing";
            break;
        case 13:
            e.year = 2026;
            e.province = "79";
            break; /* scheme 34 */
        }
        s_add(&l, &e, "fuzz-r", seq++);
        if (l.n == 7) {
            char name[32];
            snprintf(name, sizeof name, "reasons-%llu", (unsigned long long)seq);
            s_batch(name, &l, "fuzz-r", 0);
        }
    }
    s_batch("reasons-last", &l, "fuzz-r", 0);

    /* producer mismatch, then a gap */
    e = s_ev("79-M-1");
    s_add(&l, &e, "someone-else", 1);
    e = s_ev("79-M-2");
    s_add(&l, &e, "fuzz-m", 3);
    s_batch("mismatch-gap", &l, "fuzz-m", 0);

    /* no seq; a duplicate of valid-3's first event under another producer */
    e = s_ev("79-A-1");
    s_add(&l, &e, "fuzz-d", 1);
    e = s_ev("79-N-1");
    s_add(&l, &e, "fuzz-d", 0);
    s_batch("duplicate-noseq", &l, "fuzz-d", 0);

    /* no producer id; a single event as bytes (the Event half of the harness) */
    e = s_ev("79-E-1");
    s_add(&l, &e, "fuzz", 9);
    s_write("batch", "event-only", l.ev[0].data, l.ev[0].len);
    s_batch("no-producer", &l, "", 0);
    s_write("batch", "empty", "", 0);
}

static void s_chunk(uint8_t *out, size_t *n, uint8_t type, const void *d, size_t len)
{
    out[(*n)++] = type;
    out[(*n)++] = (uint8_t)(len >> 8);
    out[(*n)++] = (uint8_t)len;
    memcpy(out + *n, d, len);
    *n += len;
}

static size_t s_record(uint8_t *out, const char *id, const char *src, const kc_buf_t *ev)
{
    size_t il = strlen(id), sl = strlen(src);
    out[0] = KC_SPOOL_FORMAT;
    out[1] = (uint8_t)(il >> 8);
    out[2] = (uint8_t)il;
    out[3] = (uint8_t)(sl >> 8);
    out[4] = (uint8_t)sl;
    memcpy(out + 5, id, il);
    memcpy(out + 5 + il, src, sl);
    memcpy(out + 5 + il + sl, ev->data, ev->len);
    return 5 + il + sl + ev->len;
}

static void s_spools(void)
{
    static uint8_t in[8192], rec[1024];
    size_t n = 0;
    char id[32];
    for (int i = 1; i <= 4; i++) {
        snprintf(id, sizeof id, "79-S-%d", i);
        kc_event_t e = s_ev(id);
        kc_buf_t b = {0};
        kc_encode_event(&e, "fuzz", (uint64_t)i, &b);
        size_t rl = s_record(rec, id, "file.csv:2", &b);
        s_chunk(in, &n, 0x80, rec, rl);
        free(b.data);
    }
    s_write("spool", "four-records", in, n);
    uint8_t seq[8] = {0, 0, 0, 0, 0, 0, 0, 9};
    s_chunk(in, &n, 1, seq, 8); /* next_seq 9 */
    s_write("spool", "four-records-next9", in, n);
    n = 0;
    uint8_t bad[] = {2, 0, 1, 0, 1, 'x', 'y'}; /* unknown record version */
    s_chunk(in, &n, 0x80, bad, sizeof bad);
    uint8_t shortrec[] = {1, 0, 9}; /* header cut short */
    s_chunk(in, &n, 0x80, shortrec, sizeof shortrec);
    uint8_t keyed[] = {0, 0, 0, 0, 0, 0, 0, 5, 1, 0, 0, 0, 0}; /* explicit 8-byte key 5 */
    s_chunk(in, &n, 0x48, keyed, sizeof keyed);
    uint8_t shortkey[] = {7, 1, 0, 0, 0, 0}; /* a 1-byte key */
    s_chunk(in, &n, 0x41, shortkey, sizeof shortkey);
    s_write("spool", "corrupt-records", in, n);
    n = 0;
    uint8_t fmt[4] = {0, 0, 0, 2};
    s_chunk(in, &n, 2, fmt, 4);
    s_write("spool", "format-2", in, n);
    n = 0;
    s_chunk(in, &n, 3, "abc", 3); /* epoch of 3 bytes */
    s_write("spool", "short-epoch", in, n);
}

static void s_storelogs(void)
{
    /* fuzz_storelog: byte 0 < 0xf0, then a version-1 log record */
    kc_event_t e = s_ev("79-L-1");
    kc_buf_t b = {0};
    kc_encode_event(&e, "fuzz", 1, &b);
    uint8_t v[1024];
    size_t n = 0;
    v[n++] = 0;
    v[n++] = 1; /* layout version */
    v[n++] = 4; /* producer length */
    for (int i = 0; i < 24; i++)
        v[n++] = (uint8_t)(i * 7); /* received_ns, seq, epoch (little-endian) */
    memcpy(v + n, "fuzz", 4);
    n += 4;
    memcpy(v + n, b.data, b.len);
    n += b.len;
    s_write("storelog", "record-v1", v, n);
    s_write("storelog", "header-only", v, 1 + 26 + 4);
    v[1] = 2;
    s_write("storelog", "version-2", v, n);
    v[1] = 1;
    uint8_t k[] = {0xf3, 1, 2, 3};
    uint8_t kv[64];
    memcpy(kv, k, sizeof k);
    memcpy(kv + sizeof k, v + 1, 31);
    s_write("storelog", "short-key", kv, sizeof k + 31);
    free(b.data);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_gen_seeds CORPUS_DIR\n");
        return 64;
    }
    s_root = argv[1];
    mkdir(s_root, 0755);
    s_batches();
    s_spools();
    s_storelogs();
    return 0;
}
