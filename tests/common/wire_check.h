/* wire_check.h - the fast Event decoder (kc_wire_decode) and the event_id peek
 * (kc_wire_event_id_of) checked against protobuf-c, on given and mutated
 * Events.
 *
 * Shared by tests/common/wire_test.c (plain producer Events) and
 * tests/replay/replay_test.c (the replay fixture's Events): wire_check.c is
 * compiled into each (their CMakeLists.txt), which link kccommon and cmocka.
 */
#ifndef KC_WIRE_CHECK_H
#define KC_WIRE_CHECK_H

#include "kc_wire.h"

#include <stddef.h>
#include <stdint.h>

#define T_WIRE_SEED_MAX 512  /* bytes of a seed Event */
#define T_WIRE_MUT_MAX  1100 /* bytes of a mutated one: a seed and at most 12 more */

/* The decoder's result for b[n] is protobuf-c's (re-packed bytes, and what
 * kc_event_check sees), or both fail; the peek's event_id, when it finds one,
 * is protobuf-c's (up to a NUL), and it finds none only where protobuf-c has
 * none. Fails the running cmocka test otherwise. */
void t_wire_same(kc_wire_decoder_t *d, const uint8_t *b, size_t n);

/* One step of the xorshift64 generator *x (nonzero), then one of seeds[0..nseed)
 * (seed k of slen[k] bytes, 1 <= slen[k] <= T_WIRE_SEED_MAX) mutated into out
 * by what the step picks: a bit flipped, a byte set, truncated, a run of it
 * again at the end, an unknown or odd field appended, or two bytes changed.
 * Returns the mutated length (<= T_WIRE_MUT_MAX). */
size_t t_wire_mutate(uint64_t *x, const uint8_t (*seeds)[T_WIRE_SEED_MAX], const size_t *slen,
                     int nseed, uint8_t out[T_WIRE_MUT_MAX]);

#endif
