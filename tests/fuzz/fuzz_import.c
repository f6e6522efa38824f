/* fuzz_import.c - libFuzzer harness: bytes as a CSV file through the import
 * layer (ingest/kc_import.h): rows -> events or problems.
 *
 * DESIGN
 * The input is written to a memory file and imported as CSV (delimiter
 * sniffed, UTF-8). Every reading must end in 0 or a negative KC_E* with a
 * reason; items come in non-decreasing row order; an event passes the text
 * rule (event_id and corrects are ids, note is free text), has a two-digit
 * province, a known op, kind and fund, a month in 1..12 (or 0 on a
 * retraction) and only metrics within int64 marked present; a problem has a
 * reason with a stable token, and its message (English, then the counters)
 * is valid UTF-8 within the buffer, with the same length on a second call.
 */
#include "fuzz_util.h"

#include "kc_err.h"
#include "kc_import.h"
#include "kc_text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        once = 1;
        fuzz_quiet();
    }
    const char *path = fuzz_memfile(data, size);
    kc_sheet_opts_t o = {.format = KC_SHEET_CSV, .max_cells = 64, .max_bytes = 1 << 20};
    kc_import_t *imp = NULL;
    char err[1024];
    int rc = kc_import_open(&imp, path, &o, err, sizeof err);
    FUZZ_CHECK(rc == 0 && imp != NULL);
    kc_import_item_t it;
    long last = 0;
    size_t events = 0, problems = 0;
    while ((rc = kc_import_next(imp, &it, err, sizeof err)) == 1) {
        FUZZ_CHECK(it.loc.row >= last || it.loc.row == 0);
        if (it.loc.row)
            last = it.loc.row;
        if (it.is_event) {
            const kc_event_t *e = &it.event;
            events++;
            FUZZ_CHECK(e->event_id && *e->event_id &&
                       kc_text_id_ok(e->event_id, strlen(e->event_id)));
            FUZZ_CHECK(e->province && strlen(e->province) == 2);
            FUZZ_CHECK(!e->corrects || kc_text_id_ok(e->corrects, strlen(e->corrects)));
            FUZZ_CHECK(!e->note || kc_text_free_ok(e->note, strlen(e->note)));
            FUZZ_CHECK(e->op >= KCI_OP_RECORD && e->op <= KCI_OP_RETRACTION);
            FUZZ_CHECK((e->op != KCI_OP_RECORD) == (e->corrects != NULL));
            FUZZ_CHECK(e->op == KCI_OP_RETRACTION
                           ? e->present == 0 && e->month >= 0 && e->month <= 12
                           : e->month >= 1 && e->month <= 12 && e->activity);
            FUZZ_CHECK(e->fund >= KCI_FUND_DEFAULT && e->fund <= KCI_FUND_OTHER);
            FUZZ_CHECK(e->kind >= KCI_KIND_DEFAULT && e->kind <= KCI_KIND_PLAN);
            FUZZ_CHECK((e->present >> KCI_METRIC_COUNT) == 0);
        } else {
            problems++;
            FUZZ_CHECK(it.problem.reason > KC_IMPORT_NONE &&
                       it.problem.reason < KC_IMPORT_REASON_COUNT);
            FUZZ_CHECK(*kc_import_reason_name(it.problem.reason));
            char msg[2048];
            size_t n = kc_import_problem_text(&it.problem, msg, sizeof msg);
            FUZZ_CHECK(n < sizeof msg && n == strlen(msg));
            FUZZ_CHECK(kc_text_utf8_valid(msg, n));
            char small[16];
            FUZZ_CHECK(kc_import_problem_text(&it.problem, small, sizeof small) == n);
            FUZZ_CHECK(strlen(small) < sizeof small);
        }
    }
    FUZZ_CHECK(rc == 0 || (rc < 0 && *err));
    FUZZ_CHECK(kc_import_good(imp) == events);
    kc_import_close(&imp);
    FUZZ_CHECK(imp == NULL);
    (void)problems;
    return 0;
}
