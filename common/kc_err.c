/* kc_err.c - kc_strerror(). */
#include "kc_err.h"

#include <string.h>

const char *kc_strerror(int rc)
{
    switch (rc) {
    case KC_OK: return "success";
    case KC_ENOTFOUND: return "not found";
    case KC_EMAPFULL: return "store map full";
    case KC_EOVERFLOW: return "running total would overflow int64";
    case KC_EINVAL: return "invalid argument";
    case KC_ENOMEM: return "out of memory";
    case KC_ESTORE: return "store (LMDB) failure";
    case KC_ETIMEDOUT: return "timed out";
    case KC_EPROTO: return "protocol error";
    case KC_EFORMAT: return "unexpected file format or version";
    case KC_EIO: return "input/output error";
    case KC_EBUSY: return "resource busy";
    case KC_EINTR: return "interrupted";
    case KC_ENOSPC: return "no space left on device";
    case KC_EFENCED:
        return "this spool is retired: the aggregator has a newer spool of this producer id";
    default: break;
    }
    if (rc < 0 && rc > -1000)
        return strerror(-rc);
    return "unknown error";
}
