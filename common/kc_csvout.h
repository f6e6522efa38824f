/* kc_csvout.h - writing CSV (RFC 4180) for the programs that print it
 * (kc-log show, kc-query, kc-report).
 *
 * DESIGN
 * One quoting rule everywhere: a field is written as it is unless it holds a
 * comma, a double quote, CR or LF; then it is quoted and each quote doubled.
 * Fields are bytes (UTF-8 passes unchanged). A file meant for a spreadsheet
 * starts with the UTF-8 byte order mark, without which Excel on Windows
 * reads "Bình Thuận" as cp1252; programs that do not skip it ask for none
 * (--no-bom).
 */
#ifndef KC_CSVOUT_H
#define KC_CSVOUT_H

#include <stdio.h>

/* One field s (NULL reads as "") to out, quoted when it must be; no
 * separator. */
void kc_csv_field(FILE *out, const char *s);
/* The UTF-8 byte order mark (EF BB BF). */
void kc_csv_bom(FILE *out);

#endif
