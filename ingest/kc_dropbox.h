/* kc_dropbox.h - kc-send --watch DIR: the drop-folder producer.
 *
 * DESIGN
 * A field office saves or copies spreadsheet files (.xlsx, or CSV in any
 * dialect the import layer reads: kcimport.h) into DIR; kc-send --watch (a
 * systemd service) sends each one through the spool exactly as a one-shot
 * kc-send run would (kc_sendfile.h), then files it away:
 *   DIR/done/NAME     its rows were read: every good row was sent and is
 *                     counted, even when other rows were rejected by the
 *                     centre or refused before spooling (a problem in the
 *                     row: nothing of it is sent)
 *   DIR/failed/NAME   nothing could be read from it: it cannot be opened, is
 *                     not a spreadsheet (garbage, a corrupt or password-
 *                     protected xlsx), or its header was refused, so no row
 *                     was read
 * A file read partly (an error past some rows) goes to done/: what was read
 * was sent, and its report says where reading stopped. The clerk corrects
 * the rows listed and drops the file again: rows already counted come back
 * as `duplicate` (identical content), never counted twice.
 *
 * Beside it two reports, in the language of kc-send's messages (--lang,
 * config "lang =", the locale: gettext) and the machine's local time with
 * its UTC offset ("2026-12-07 19:32:05 +07:00"):
 *   NAME.report.txt   time, producer, counts (rows, accepted, duplicates,
 *                     rejected, refused: as kc-send counts them, the row where
 *                     reading stopped being a refused one), then one line per
 *                     rejected row with the centre's reason and a hint
 *                     (kci_result_hint), one per problem of a refused row (the
 *                     import layer's message, which ends with its hint), and
 *                     why the file could not be read, in row order;
 *   NAME.report.csv   the same rows for Excel: UTF-8 with a byte order mark,
 *                     CRLF, a header row (translated), columns row, event_id,
 *                     reason (stable token), message, hint. Rejected: the
 *                     centre's text and kci_result_hint. Refused: the column
 *                     and cell as written, and the import layer's message as
 *                     the hint; event_id only when the problem is in that
 *                     cell (the import layer names no other). A row with two
 *                     problems has two lines. Fields Excel would run as a
 *                     formula (= + - @ first) get a leading apostrophe.
 * A name already taken in done/ or failed/ (by the file or either report)
 * gets a timestamp before the extension (NAME.20260127T101112.csv, then -2,
 * -3 ...): nothing there is ever overwritten (renameat2 RENAME_NOREPLACE).
 *
 * Which files: regular files whose name ends in ".csv" or ".xlsx" (any case),
 * not starting with '.', once complete: inotify IN_CLOSE_WRITE (closed after
 * writing) or IN_MOVED_TO (renamed or moved in). A file still open for
 * writing is not taken; an empty file is left alone until written again.
 * Temporary names (*.tmp, *.part, *~, dotfiles, and Excel's lock file
 * ~$NAME.xlsx beside a workbook open in it) are ignored, so an editor's or a
 * copier's partial file is taken only once renamed to its final name. Files already in DIR at start
 * are taken first, oldest modification time first; after an inotify queue
 * overflow the directory is scanned again.
 *
 * When a file is moved: only once every one of its rows is FINAL (accepted,
 * duplicate, rejected or refused) - not when its rows are merely spooled.
 * Until then the file stays in DIR. If kc-send stops or crashes before that,
 * the rows already spooled are resent on the next start (drained before any
 * file is taken) and the file is imported again from the start: rows counted
 * before come back as `duplicate` (business de-duplication by province +
 * event_id with identical content, checked before any correction/retraction
 * target state), so nothing is counted twice and the reports describe the
 * whole file. Both reports are written (temp file, fsync, rename that never
 * replaces) before the file is renamed, and both directories are fsync'd; a
 * crash between the two leaves reports whose file is re-imported and filed
 * again under a suffixed name.
 *
 * While the aggregator is unreachable the file in hand waits (its rows are
 * spooled; the library reconnects and resends, Lazy Pirate); new arrivals are
 * queued. The clerk is told on stderr (and in the systemd status) once when
 * the centre cannot be reached ("cannot reach the centre (ENDPOINT); N rows
 * safe in the spool; retrying") and once when it answers again
 * (kc_producer_on_link). Bad input never stops the service. A stop signal
 * ends the import or the wait for acknowledgements, leaves the file in DIR
 * and the rows spooled, and returns 0.
 */
#ifndef KC_DROPBOX_H
#define KC_DROPBOX_H

#include "kcimport.h"
#include "kcingest.h"

#include <signal.h>
#include <stdbool.h>

typedef struct {
    const char *dir;             /* the watched folder */
    bool quiet;                  /* no per-row lines on stdout */
    size_t batch;                /* service the network every this many rows */
    const char *producer;        /* the producer id, for the reports */
    const char *spool;           /* for messages */
    const char *server;          /* endpoint, for messages */
    const kci_import_opts_t *io; /* reader options (may be NULL) */
} kc_dropbox_opts_t;

/* Run until *stop is set. p is an open producer (results callback taken over).
 * Returns 0 (stopped by a signal), 69 (DIR unusable, spool retired by a newer
 * spool) or 75 (spool error: retry later). */
int kc_dropbox_run(const kc_dropbox_opts_t *o, kc_producer_t *p, volatile sig_atomic_t *stop);

/* Whether a directory entry name is a candidate spreadsheet file (exposed for tests). */
bool kc_dropbox_name_ok(const char *name);

#endif
