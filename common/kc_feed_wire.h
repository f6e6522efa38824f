/* kc_feed_wire.h - the live feed's command words, defined once.
 *
 * Each feed message is [command word, protobuf body]: the first frame holds
 * one of the words below as its bytes, without a terminating NUL. The
 * protocol (who sends which, and the body each carries) is described in
 * docs/MONITORING.md ("The live feed"), at the top of aggregator/kc_feed.c,
 * and in the comments of FeedUpdate and FeedSnapshotRequest in
 * proto/kcpipe/v1/kcpipe.proto; a word changed here changes the wire
 * protocol and must be changed there too.
 *
 * Header only: string literals, so that sizeof and KC_FEED_CMD_LEN() are
 * compile-time constants.
 */
#ifndef KC_FEED_WIRE_H
#define KC_FEED_WIRE_H

/* Updates socket (PUB -> SUB), body FeedUpdate. */
#define KC_FEED_UPD  "UPD"  /* after each group commit that grew the log */
#define KC_FEED_HUGZ "HUGZ" /* heartbeat, and to each new subscription; no cells */

/* Snapshot socket (DEALER -> ROUTER), body FeedSnapshotRequest (may be empty). */
#define KC_FEED_ICANHAZ "ICANHAZ?" /* a snapshot request */

/* Snapshot socket (ROUTER -> DEALER), body FeedUpdate, all with the request's
 * seq and request_id. */
#define KC_FEED_SNAP    "SNAP"    /* a part of the snapshot (any number, >= 0) */
#define KC_FEED_KTHXBAI "KTHXBAI" /* the snapshot's end; no cells */

/* The length in bytes of a command word w (one of the above), without its NUL:
 * the size of its frame. */
#define KC_FEED_CMD_LEN(w) (sizeof(w) - 1)

/* No command word is longer than this: a receiver that copies the first frame
 * into a buffer of KC_FEED_CMD_MAX + 1 bytes (truncating longer frames) tells
 * every word apart. */
#define KC_FEED_CMD_MAX 15

_Static_assert(KC_FEED_CMD_LEN(KC_FEED_UPD) <= KC_FEED_CMD_MAX &&
                   KC_FEED_CMD_LEN(KC_FEED_HUGZ) <= KC_FEED_CMD_MAX &&
                   KC_FEED_CMD_LEN(KC_FEED_ICANHAZ) <= KC_FEED_CMD_MAX &&
                   KC_FEED_CMD_LEN(KC_FEED_SNAP) <= KC_FEED_CMD_MAX &&
                   KC_FEED_CMD_LEN(KC_FEED_KTHXBAI) <= KC_FEED_CMD_MAX,
               "every feed command word fits in KC_FEED_CMD_MAX bytes");

#endif
