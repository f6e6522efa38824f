/* kc_time.h - the clocks of kcpipe and the text of its timestamps.
 *
 * DESIGN
 * Two clocks, read with clock_gettime(2), which cannot fail for them on Linux:
 *   monotonic  CLOCK_MONOTONIC, for intervals, timeouts and deadlines within
 *              one boot (it is shared by the processes of a machine, never
 *              steps and stops during suspend). Its origin is unspecified: only
 *              differences mean something. Returned signed, so that
 *              `deadline - now` may go below zero.
 *   real time  CLOCK_REALTIME, for instants that are stored or shown (an
 *              event's received_ns, a signed head's timestamp_ns, a spool's
 *              epoch): ns since 1970-01-01T00:00:00Z, unsigned like those
 *              fields. It may step back (NTP, an operator); where order matters
 *              the caller keeps it (the aggregator takes the max with the last
 *              log entry's, kc_checkpoint.h).
 * Every unit is truncated, never rounded: a value in ms is the ns value / 10^6.
 *
 * One text form for an instant, ISO 8601 extended format in UTC with
 * 0 to 9 fractional digits (also truncated), e.g. with 9, 3 and 0 digits:
 *   2026-11-27T10:00:00.123456789Z  (kc-query, kc-audit, the HTTP API)
 *   2026-11-27T10:00:00.123Z        (the logger's lines)
 *   2026-11-27T10:00:00Z            (kc-watch)
 * Any uint64_t ns falls within years 1970-2554, so the year has four digits
 * and the text at most KC_TIME_ISO_MAX - 1 characters.
 */
#ifndef KC_TIME_H
#define KC_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Bytes that hold any kc_time_iso text with its NUL:
 * "2554-07-21T23:34:33.709551615Z" is 30 characters. */
#define KC_TIME_ISO_MAX 31

/* CLOCK_MONOTONIC in milliseconds; never decreases. */
int64_t kc_time_mono_ms(void);

/* CLOCK_MONOTONIC in nanoseconds; never decreases. */
int64_t kc_time_mono_ns(void);

/* CLOCK_MONOTONIC in seconds, with the nanoseconds as a fraction: for rates
 * and durations that are printed; never decreases. */
double kc_time_mono_s(void);

/* CLOCK_REALTIME in nanoseconds since 1970-01-01T00:00:00Z. */
uint64_t kc_time_real_ns(void);

/* ns since 1970 as ISO 8601 UTC with `digits` fractional digits (0-9; more
 * reads as 9; 0 gives no '.'), e.g. "2026-11-27T10:00:00.123456789Z" for 9,
 * into buf[cap]. Like snprintf it always NUL-terminates (cap >= 1) and
 * truncates to fit; cap >= KC_TIME_ISO_MAX always holds the whole text.
 * Returns buf. */
char *kc_time_iso(uint64_t ns, unsigned digits, char *buf, size_t cap);

#endif
