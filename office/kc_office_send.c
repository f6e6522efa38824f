/* kc_office_send.c - kc-office's producer side (kc_office_send.h).
 *
 * DESIGN
 * Placeholder until issue 17 step 2 lands: no producer; kc_osend_status
 * answers KC_EINVAL (no banner), kc_osend_submit KC_EINVAL.
 */
#include "kc_office_send.h"

#include "kc_err.h"

int kc_osend_status(kc_osend_t *s, const char *office, kc_osend_status_t *out)
{
    (void)s, (void)office, (void)out;
    return KC_EINVAL;
}
