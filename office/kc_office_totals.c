/* kc_office_totals.c - the office's own totals, read from the centre's HTTP
 * API (issue 17 step 6).
 *
 * DESIGN
 * Not yet written: the home page shows no totals section.
 */
#include "kc_office_web.h"

void kc_ototals_section(FILE *f, kc_ohttp_t *h, const kc_octx_t *x, const kc_office_t *of)
{
    (void)f, (void)h, (void)x, (void)of;
}
