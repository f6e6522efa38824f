/* fuzz_csv.c - libFuzzer harness: bytes as a CSV file through kc_csv_import().
 *
 * DESIGN
 * The input is written to a memory file and imported by path. Every good row
 * must carry the required fields, valid UTF-8 strings within the encoder's
 * limits, and encode (kc_encode_event) to an Event that decodes again under
 * the bounded allocator and passes or fails kc_event_check() with a known
 * reason; every malformed row has a line >= 1 and a reason; the statistics
 * add up. Short inputs are also parsed as an integer by kc_csv_parse_i64()
 * and compared with strtoll() (the strict grammar -?[0-9]+ within int64).
 */
#include "fuzz_util.h"

#include "kc_csv.h"
#include "kc_encode.h"
#include "kc_err.h"
#include "kc_event.h"

#include <ctype.h>

typedef struct {
    size_t good, bad;
    kc_buf_t buf;
} s_ctx_t;

static int s_row(const kc_csv_row_t *row, void *vctx)
{
    s_ctx_t *c = vctx;
    c->good++;
    FUZZ_CHECK(row->line >= 2 && row->source && row->file);
    const kc_event_t *ev = row->ev;
    FUZZ_CHECK(ev->event_id && ev->event_id[0] && ev->province && ev->province[0]);
    FUZZ_CHECK(ev->op == KCI_OP_RETRACTION || (ev->activity && ev->activity[0]));
    FUZZ_CHECK((ev->op == KCI_OP_RECORD) == (ev->corrects == NULL || !ev->corrects[0]));
    int rc = kc_encode_event(ev, "fuzz", 1, &c->buf);
    FUZZ_CHECK(rc == 0 || rc == KC_EINVAL);
    if (rc != 0)
        return 0;
    fuzz_budget_t b;
    ProtobufCAllocator al = fuzz_pb_allocator(&b, c->buf.len);
    kc_pb_event_t *pe = kcpipe__v1__event__unpack(&al, c->buf.len, c->buf.data);
    FUZZ_CHECK(pe != NULL); /* what the encoder wrote must decode */
    FUZZ_CHECK(pe->event_id && strcmp(pe->event_id, ev->event_id) == 0);
    kc_event_view_t v;
    char text[256];
    int r = kc_event_check(pe, &v, text, sizeof text);
    FUZZ_CHECK(r >= 0 && strcmp(kc_reason_name(r), "unknown") != 0);
    kcpipe__v1__event__free_unpacked(pe, NULL);
    return 0;
}

static void s_err(const char *file, long line, const char *reason, void *vctx)
{
    s_ctx_t *c = vctx;
    FUZZ_CHECK(file && reason && reason[0] && line >= 1);
    c->bad++;
}

/* kc_csv_parse_i64 against strtoll on a NUL-terminated copy. */
static void s_int(const uint8_t *data, size_t size)
{
    if (size > 40)
        return;
    char s[41];
    memcpy(s, data, size);
    s[size] = '\0';
    const char *p = s + (s[0] == '-');
    bool digits = *p != '\0';
    for (const char *q = p; *q; q++)
        digits = digits && *q >= '0' && *q <= '9';
    if (strlen(s) != size)
        digits = false; /* an embedded NUL: kc_csv sees the prefix only */
    int64_t v = 12345;
    int rc = kc_csv_parse_i64(s, &v);
    if (!digits) {
        if (strlen(s) == size)
            FUZZ_CHECK(rc == KC_EINVAL);
        return;
    }
    errno = 0;
    long long w = strtoll(s, NULL, 10);
    if (errno == ERANGE) {
        FUZZ_CHECK(rc == KC_EOVERFLOW);
    } else {
        FUZZ_CHECK(rc == 0 && v == w);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        once = 1;
        fuzz_quiet();
    }
    s_int(data, size);
    const char *path = fuzz_memfile(data, size);
    s_ctx_t c = {0};
    kc_csv_stats_t st;
    int rc = kc_csv_import(path, s_row, s_err, &c, &st);
    FUZZ_CHECK(rc == 0 || rc == KC_EFORMAT);
    FUZZ_CHECK(st.rows == st.good + st.malformed);
    FUZZ_CHECK(st.good == c.good);
    if (rc == 0)
        FUZZ_CHECK(st.malformed == c.bad);
    free(c.buf.data);
    return 0;
}
