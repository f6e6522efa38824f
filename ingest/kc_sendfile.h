/* kc_sendfile.h - one spreadsheet file through the import layer into the
 * producer: what kc-send does with each FILE, with each file of its drop
 * folder, and (without a producer) with each file of --check.
 *
 * DESIGN
 * The file is read with kcimport.h (xlsx or a CSV dialect; header aliases;
 * values as people type them; the aggregator's rules for a row alone). Each
 * good event is staged with kc_producer_add under the source tag
 * "FILE:ROW" (the row as the clerk sees it: the sheet's row number, or the
 * CSV's physical line), and the network is serviced every `batch` rows so
 * that acknowledgements flow while a long file is read. Each problem goes
 * to on_problem; nothing of a row with a problem is staged. Without a
 * producer (p NULL) the file is only checked. on_progress, if set, is
 * called about every 2,000 rows and at the end.
 */
#ifndef KC_SENDFILE_H
#define KC_SENDFILE_H

#include "kcimport.h"
#include "kcingest.h"

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t rows;     /* data rows read: good + bad */
    uint64_t good;     /* events staged (checking: that would be) */
    uint64_t bad;      /* rows with a problem, not staged (and the row a reader
                        * stopped at, if it did) */
    uint64_t problems; /* problems reported (a bad row has one or more) */
    bool file_error;   /* the file could not be opened or read to its end, or its
                        * header was refused (no row read) */
    int fail_rc;       /* a producer error that stopped the import (spool), or 0 */
    int read_rc;       /* the reader's error (-errno, KCI_EFORMAT...), or 0 */
    bool stopped;      /* the reader stopped at a row it could not read: that row is
                        * counted in rows and bad, though none of it was read */
    char err[512];     /* file_error: why (English, from the reader) */
} kc_sendfile_stats_t;

typedef struct {
    kc_producer_t *p;            /* NULL: check only */
    const kci_import_opts_t *io; /* reader options (may be NULL) */
    size_t batch;                /* service the network every this many rows (0 = 1000) */
    volatile sig_atomic_t *stop; /* set: stop reading (KCI_EINTR) */
    uint64_t *first_seq;         /* if not NULL and 0: set to the first seq staged */
    void (*on_problem)(const kci_import_item_t *it, void *ctx);
    void (*on_progress)(const char *path, const kc_sendfile_stats_t *st, bool done, void *ctx);
    void *ctx;
} kc_sendfile_opts_t;

/* Read path. *st is filled in any case. Returns 0 (the file was read; rows
 * may have had problems: see st), KCI_EINTR (stopped), or the producer's
 * error that stopped it (st->fail_rc). A file that cannot be read is 0 with
 * st->file_error. */
int kc_sendfile(const char *path, const kc_sendfile_opts_t *o, kc_sendfile_stats_t *st);

/* Whether a name is one of the spreadsheet files kc-send takes from a
 * folder: ends in .csv, .xlsx or .ods (any case). */
bool kc_sendfile_name_ok(const char *name);

#endif
