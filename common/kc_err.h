/* kc_err.h - kcpipe status codes and kc_strerror().
 *
 * Verbs return 0 on success or a negative KC_E* code. Codes in the range
 * [-1000, -1) are kcpipe's own; a negative errno value (-ENOENT, ...) may also be
 * returned where a system call failed; kc_strerror() covers both. LMDB errors
 * are mapped to KC_* codes by the store and never leak through its API.
 */
#ifndef KC_ERR_H
#define KC_ERR_H

enum {
    KC_OK = 0,
    KC_ENOTFOUND = -1001, /* no such key / record */
    KC_EMAPFULL = -1002,  /* LMDB map full: abort, grow, redo (kc_store_write does it) */
    KC_EOVERFLOW = -1003, /* a running total would leave int64 */
    KC_EINVAL = -1004,    /* invalid argument (programmer error or bad user input) */
    KC_ENOMEM = -1005,    /* allocation failed */
    KC_ESTORE = -1006,    /* other LMDB failure (see the log for mdb_strerror) */
    KC_ETIMEDOUT = -1007, /* a deadline passed with work outstanding */
    KC_EPROTO = -1008,    /* a peer sent something that is not our protocol */
    KC_EFORMAT = -1009,   /* a file is not in the expected format / version */
    KC_EIO = -1010,       /* input/output error */
    KC_EBUSY = -1011,     /* the resource is locked by another process */
    KC_EINTR = -1012,     /* interrupted by a signal that asked us to stop */
    KC_ENOSPC = -1013,    /* disk full */
    KC_EFENCED = -1014,   /* a newer spool of this producer took over; this one is retired */
    /* -1015 is libkcingest's KCI_EREFUSED (an event its admission rules refuse) */
};

/* A static, human-readable text for a KC_E* code or a negative errno value. */
const char *kc_strerror(int rc);

#endif
