/* fuzz_logfile.c - libFuzzer harness: bytes as an exported log file
 * (docs/LOGFILE.md) through the streaming reader, kc_logfile_info() and
 * kc_logfile_verify().
 *
 * DESIGN
 * Each input is read twice: as it is, and "fixed up" so that the checks a
 * mutation can never pass by chance do not hide what lies behind them: the
 * header checksum is recomputed, every record that fits gets its leaf hash
 * recomputed, and if a trailer follows the records its root is replaced by the
 * records' Merkle root and it is re-signed with the golden files' key (seed
 * bytes 00..1f), whose public key is put into the header. Oracles: reading
 * stops at the first error, which is sticky; entries are inside the file's
 * bounds in number (offset = index < N) and consistent with their framing;
 * the three entry points agree on whether the file is valid.
 */
#include "fuzz_util.h"

#include "kc_err.h"
#include "kc_logfile.h"
#include "kc_merkle.h"

#include <sodium.h>

static uint8_t s_pk[crypto_sign_PUBLICKEYBYTES];
static uint8_t s_sk[crypto_sign_SECRETKEYBYTES];

static uint32_t s_be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t s_be64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | p[i];
    return v;
}

static void s_put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

/* Fix checksums, leaf hashes, the trailer's root and signature in place. */
static void s_fixup(uint8_t *d, size_t n)
{
    if (n < KC_LOGFILE_HEADER_LEN)
        return;
    memcpy(d + 16, s_pk, 32);
    crypto_hash_sha256(d + 56, d, 56);
    uint64_t count = s_be64(d + 48);
    uint8_t frontier[64][KC_MERKLE_HASH_LEN];
    uint64_t leaves = 0;
    size_t p = KC_LOGFILE_HEADER_LEN;
    while (leaves < count && p + 4 <= n) {
        uint32_t L = s_be32(d + p);
        if (L > KC_LOGFILE_RECORD_MAX || L > n - p - 4 || 32 > n - p - 4 - L)
            break;
        uint8_t h[KC_MERKLE_HASH_LEN];
        kc_merkle_leaf_hash_raw(d + p + 4, L, h);
        memcpy(d + p + 4 + L, h, 32);
        int l = 0;
        while (leaves >> l & 1) {
            kc_merkle_node_hash(frontier[l], h, h);
            l++;
        }
        memcpy(frontier[l], h, 32);
        leaves++;
        p += 36 + (size_t)L;
    }
    if (n - p < KC_LOGFILE_TRAILER_LEN || memcmp(d + p, KC_LOGFILE_END_MAGIC, 8) != 0)
        return;
    kc_merkle_sth_t h;
    h.tree_size = s_be64(d + p + 8);
    h.timestamp_ns = s_be64(d + p + 16);
    if (leaves == 0) {
        kc_merkle_empty_root(h.root);
    } else {
        bool have = false;
        for (int l = 0; l < 64; l++) {
            if (!(leaves >> l & 1))
                continue;
            if (!have)
                memcpy(h.root, frontier[l], 32);
            else
                kc_merkle_node_hash(frontier[l], h.root, h.root);
            have = true;
        }
    }
    kc_merkle_sth_sign(&h, s_sk);
    s_put_be64(d + p + 8, h.tree_size);
    memcpy(d + p + 24, h.root, 32);
    memcpy(d + p + 56, h.signature, 64);
}

static void s_read(const uint8_t *data, size_t size)
{
    const char *path = fuzz_memfile(data, size);
    kc_logfile_status_t st;
    kc_logfile_reader_t *r;
    uint8_t pk[32];
    uint64_t count = 0;
    int rc = kc_logfile_open(&r, path, pk, &count, &st);
    int streamed;
    if (rc != 0) {
        FUZZ_CHECK(rc == KC_EFORMAT && st.rc == KC_EFORMAT && st.why[0]);
        streamed = rc;
    } else {
        if (size >= 48)
            FUZZ_CHECK(memcmp(pk, data + 16, 32) == 0);
        uint64_t i = 0;
        kc_log_entry_t e;
        for (;;) {
            rc = kc_logfile_next(r, &e, &st);
            if (rc != 1)
                break;
            FUZZ_CHECK(i < count && e.offset == i);
            FUZZ_CHECK(e.producer_len >= 1 && e.producer_len <= 255);
            FUZZ_CHECK(e.event_len <= KC_LOGFILE_RECORD_MAX);
            if (e.event_len) {
                volatile uint8_t x = e.event[0] ^ e.event[e.event_len - 1];
                (void)x;
            }
            volatile char c = e.producer[0] ^ e.producer[e.producer_len - 1];
            (void)c;
            i++;
        }
        if (rc == 0) {
            FUZZ_CHECK(i == count && st.rc == 0);
            kc_merkle_sth_t head;
            FUZZ_CHECK(kc_logfile_head(r, &head) == 0 && head.tree_size == count);
        } else {
            FUZZ_CHECK(rc < 0 && st.rc == rc && st.why[0]);
            FUZZ_CHECK(kc_logfile_next(r, &e, &st) == rc); /* sticky */
        }
        streamed = rc;
        kc_logfile_close(&r);
    }
    kc_logfile_info_t info;
    kc_logfile_status_t ist;
    int irc = kc_logfile_info(path, &info, &ist);
    FUZZ_CHECK(irc == 0 || irc == KC_EFORMAT);
    if (streamed == 0)
        FUZZ_CHECK(irc == 0 && info.have_head && info.head_sig_ok && info.count == count);
    kc_logfile_status_t vst;
    int vrc = kc_logfile_verify(path, NULL, &vst, NULL, NULL);
    FUZZ_CHECK((vrc == 0) == (streamed == 0));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    if (!once) {
        once = 1;
        fuzz_quiet();
        FUZZ_CHECK(sodium_init() >= 0);
        uint8_t seed[32];
        for (int i = 0; i < 32; i++)
            seed[i] = (uint8_t)i;
        crypto_sign_seed_keypair(s_pk, s_sk, seed);
    }
    s_read(data, size);
    if (size >= KC_LOGFILE_HEADER_LEN && size <= ((size_t)1 << 22)) {
        uint8_t *copy = malloc(size);
        FUZZ_CHECK(copy != NULL);
        memcpy(copy, data, size);
        s_fixup(copy, size);
        s_read(copy, size);
        free(copy);
    }
    return 0;
}
