/* kc_merkle_key.c - the store's Ed25519 signing key, file audit.key.
 *
 * DESIGN
 * File layout, version 1 (40 bytes, mode 0600, in the store directory):
 *   bytes 0..3   magic "KCAK"
 *   byte  4      version = 1
 *   byte  5      algorithm = 1 (Ed25519)
 *   bytes 6..7   seed length, u16 big-endian = 32
 *   bytes 8..39  the 32-byte Ed25519 seed (crypto_sign_seed_keypair)
 * Created once, on the first writer open of a store that has no public key
 * in meta: random seed, written to a temporary file, fsync'd, linked to its
 * name (link fails if the name exists, so two openers cannot both create
 * one) and the directory fsync'd, before the public key is committed to
 * meta. A crash in between leaves a key file and no meta key: the next open
 * adopts the file. A store whose meta has a key but whose audit.key is gone
 * cannot sign any more; opening it for writing fails (KC_EFORMAT) rather
 * than start a second, unverifiable chain of heads.
 */
#include "kc_merkle_int.h"

#include "kc_err.h"
#include "kc_log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_KEY_FILE    "audit.key"
#define S_KEY_MAGIC   "KCAK"
#define S_KEY_VERSION 1
#define S_KEY_ALG     1 /* Ed25519 */
#define S_KEY_LEN     40
#define S_SEED_LEN    32

static int s_from_seed(kc_mk_state_t *mk, const uint8_t seed[S_SEED_LEN])
{
    if (crypto_sign_seed_keypair(mk->pk, mk->sk, seed) != 0)
        return KC_ESTORE;
    mk->have_sk = true;
    return 0;
}

static int s_read_key(kc_store_t *s, const char *path, int fd)
{
    uint8_t buf[S_KEY_LEN + 1];
    ssize_t n = read(fd, buf, sizeof buf);
    int rc = 0;
    if (n < 0) {
        rc = -errno;
        kc_error("store %s: %s: %s", s->dir, path, strerror(errno));
    } else if (n < 8 || memcmp(buf, S_KEY_MAGIC, 4) != 0) {
        kc_error("store %s: %s is not a kcpipe audit key", s->dir, path);
        rc = KC_EFORMAT;
    } else if (buf[4] != S_KEY_VERSION) {
        kc_error("store %s: %s: unsupported key version %u", s->dir, path, buf[4]);
        rc = KC_EFORMAT;
    } else if (n != S_KEY_LEN || buf[5] != S_KEY_ALG || buf[6] != 0 || buf[7] != S_SEED_LEN) {
        kc_error("store %s: %s: corrupt key file", s->dir, path);
        rc = KC_EFORMAT;
    } else {
        rc = s_from_seed(s->mk, buf + 8);
    }
    sodium_memzero(buf, sizeof buf);
    return rc;
}

static int s_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = fsync(fd) == 0 ? 0 : -errno;
    close(fd);
    return rc;
}

static int s_create_key(kc_store_t *s, const char *path)
{
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return KC_EINVAL;
    uint8_t buf[S_KEY_LEN] = {'K', 'C', 'A', 'K', S_KEY_VERSION, S_KEY_ALG, 0, S_SEED_LEN};
    randombytes_buf(buf + 8, S_SEED_LEN);
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = 0;
    if (fd < 0 || write(fd, buf, sizeof buf) != (ssize_t)sizeof buf || fsync(fd) != 0)
        rc = errno ? -errno : KC_EIO;
    if (fd >= 0 && close(fd) != 0 && rc == 0)
        rc = -errno;
    if (rc == 0 && link(tmp, path) != 0)
        rc = -errno; /* EEXIST: someone else created it first */
    unlink(tmp);
    if (rc == 0)
        rc = s_sync_dir(s->dir);
    if (rc == 0)
        rc = s_from_seed(s->mk, buf + 8);
    sodium_memzero(buf, sizeof buf);
    if (rc != 0 && rc != -EEXIST)
        kc_error("store %s: cannot create %s: %s", s->dir, path, kc_strerror(rc));
    else if (rc == 0)
        kc_info("store %s: created signing key %s", s->dir, path);
    return rc == -ENOSPC ? KC_ENOSPC : rc;
}

int kc_mk_key_load_or_create(kc_store_t *s, bool create)
{
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/" S_KEY_FILE, s->dir) >= (int)sizeof path)
        return KC_EINVAL;
    for (int attempt = 0; attempt < 2; attempt++) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            struct stat st;
            if (fstat(fd, &st) == 0 && (st.st_mode & 077))
                kc_warn("store %s: %s is readable by others (mode %o); it should be 0600", s->dir,
                        path, (unsigned)(st.st_mode & 0777));
            int rc = s_read_key(s, path, fd);
            close(fd);
            return rc;
        }
        if (errno != ENOENT) {
            int e = errno;
            kc_error("store %s: %s: %s", s->dir, path, strerror(e));
            return -e;
        }
        if (!create) {
            kc_error("store %s: %s is missing: this store's heads cannot be signed any more "
                     "(restore the key file)",
                     s->dir, path);
            return KC_EFORMAT;
        }
        int rc = s_create_key(s, path);
        if (rc != -EEXIST)
            return rc;
        /* another process created it meanwhile: read theirs */
    }
    return KC_ESTORE;
}
