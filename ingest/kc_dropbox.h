/* kc_dropbox.h - kc-send --watch DIR: the drop-folder producer.
 *
 * DESIGN
 * A field office saves or copies CSV files into DIR; kc-send --watch (a
 * systemd service) sends each one through the spool exactly as a one-shot
 * kc-send run would, then files it away:
 *   DIR/done/NAME     every row accepted or a duplicate
 *   DIR/failed/NAME   a row rejected or malformed (refused before spooling: bad
 *                     CSV, invalid_text, value_too_large), or the file unreadable
 *                     as CSV
 * with DIR/{done,failed}/NAME.report.txt beside it (time, producer, counts, then
 * one line per rejected or malformed row, as kc-send prints them, in line
 * order). A name already taken in done/ or failed/ (by the file or its report)
 * gets a timestamp before the extension (NAME.20260127T101112.csv, then -2,
 * -3 ...): nothing there is ever overwritten (renameat2 RENAME_NOREPLACE).
 *
 * Which files: regular files whose name ends in ".csv" (any case), not
 * starting with '.', once complete: inotify IN_CLOSE_WRITE (closed after
 * writing) or IN_MOVED_TO (renamed or moved in). A file still open for
 * writing is not taken; an empty file is left alone until written again.
 * Temporary names (*.tmp, *.part, *~, dotfiles) never end in ".csv" or are
 * dotfiles, so an editor's or a copier's partial file is ignored until it
 * is renamed to its final name. Files already in DIR at start are taken
 * first, oldest modification time first; after an inotify queue overflow the
 * directory is scanned again.
 *
 * When a file is moved: only once every one of its rows is FINAL (accepted,
 * duplicate, rejected or malformed) - not when its rows are merely spooled.
 * Until then the file stays in DIR. If kc-send stops or crashes before that,
 * the rows already spooled are resent on the next start (drained before any
 * file is taken) and the file is imported again from the start: rows counted
 * before come back as `duplicate` (business de-duplication by province +
 * event_id with identical content, checked before any correction/retraction
 * target state), so nothing is counted twice and the report describes the
 * whole file. The report is written (temp file, fsync, rename) before the file
 * is renamed, and both directories are fsync'd; a crash between the two leaves
 * a report whose file is re-imported and filed again under a suffixed name.
 *
 * While the aggregator is unreachable the file in hand waits (its rows are
 * spooled; the library reconnects and resends, Lazy Pirate); new arrivals are
 * queued. Bad input never stops the service: it goes to failed/. A stop
 * signal ends the import or the wait for acknowledgements, leaves the file
 * in DIR and the rows spooled, and returns 0.
 */
#ifndef KC_DROPBOX_H
#define KC_DROPBOX_H

#include "kcingest.h"

#include <signal.h>
#include <stdbool.h>

typedef struct {
    const char *dir;      /* the watched folder */
    bool quiet;           /* no per-row lines on stdout */
    size_t batch;         /* service the network every this many rows */
    const char *producer; /* the producer id, for the reports */
    const char *spool;    /* for messages */
    const char *server;   /* endpoint, for messages */
} kc_dropbox_opts_t;

/* Run until *stop is set. p is an open producer (results callback taken over).
 * Returns 0 (stopped by a signal), 69 (DIR unusable, spool retired by a newer
 * spool) or 75 (spool error: retry later). */
int kc_dropbox_run(const kc_dropbox_opts_t *o, kc_producer_t *p, volatile sig_atomic_t *stop);

/* Whether a directory entry name is a candidate CSV file (exposed for tests). */
bool kc_dropbox_name_ok(const char *name);

#endif
