/* kc_merkle.c - RFC 6962 / 9162 leaf and node hashing, proof and head verification.
 *
 * SHA-256 comes from libcrypto (its SHA-NI / AVX2 code is several times faster
 * than libsodium's portable one, and leaf hashing is on the aggregator's commit
 * path). Signatures are libsodium's Ed25519.
 */
#include "kc_merkle.h"

#include <sodium.h>
#include <string.h>

#define OPENSSL_SUPPRESS_DEPRECATED /* the low-level SHA256_* API: no EVP allocation per hash */
#include <openssl/sha.h>
typedef SHA256_CTX s_sha_t;
#define s_sha_init(c)         SHA256_Init(c)
#define s_sha_update(c, p, n) SHA256_Update((c), (p), (n))
#define s_sha_final(c, out)   SHA256_Final((out), (c))
/* not SHA256(): in libcrypto 3 it fetches an EVP_MD per call */
static void s_sha(uint8_t *out, const uint8_t *p, size_t n)
{
    SHA256_CTX c;
    SHA256_Init(&c);
    SHA256_Update(&c, p, n);
    SHA256_Final(out, &c);
}

static void s_be64(uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--) {
        p[i] = (uint8_t)v;
        v >>= 8;
    }
}

static uint64_t s_get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

/* ---- leaves ---- */

size_t kc_merkle_leaf_input_len(const kc_merkle_leaf_t *l)
{
    if (!l || l->producer_len == 0 || l->producer_len > 255 || (uint64_t)l->event_len > UINT32_MAX)
        return 0;
    return KC_MERKLE_LEAF_FIXED + l->producer_len + l->event_len;
}

/* The fixed head of the leaf input, up to and including producer_len. */
static void s_leaf_head(const kc_merkle_leaf_t *l, uint8_t h[34])
{
    h[0] = KC_MERKLE_LEAF_V1;
    s_be64(h + 1, l->offset);
    s_be64(h + 9, l->received_ns);
    s_be64(h + 17, l->epoch);
    s_be64(h + 25, l->seq);
    h[33] = (uint8_t)l->producer_len;
}

static void s_be32(uint8_t p[4], uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

size_t kc_merkle_leaf_encode(const kc_merkle_leaf_t *l, uint8_t *out, size_t cap)
{
    size_t n = kc_merkle_leaf_input_len(l);
    if (n == 0 || !out || cap < n)
        return 0;
    s_leaf_head(l, out);
    memcpy(out + 34, l->producer, l->producer_len);
    s_be32(out + 34 + l->producer_len, (uint32_t)l->event_len);
    if (l->event_len)
        memcpy(out + 38 + l->producer_len, l->event, l->event_len);
    return n;
}

int kc_merkle_leaf_decode(const uint8_t *in, size_t len, kc_merkle_leaf_t *out)
{
    if (!in || !out || len < KC_MERKLE_LEAF_FIXED || in[0] != KC_MERKLE_LEAF_V1 || in[33] == 0)
        return -1;
    size_t plen = in[33];
    if (len < KC_MERKLE_LEAF_FIXED + plen)
        return -1;
    const uint8_t *p = in + 34 + plen;
    uint64_t elen = ((uint64_t)p[0] << 24) | ((uint64_t)p[1] << 16) | ((uint64_t)p[2] << 8) | p[3];
    if (len != KC_MERKLE_LEAF_FIXED + plen + elen)
        return -1;
    out->offset = s_get64(in + 1);
    out->received_ns = s_get64(in + 9);
    out->epoch = s_get64(in + 17);
    out->seq = s_get64(in + 25);
    out->producer = (const char *)in + 34;
    out->producer_len = plen;
    out->event = p + 4;
    out->event_len = (size_t)elen;
    return 0;
}

void kc_merkle_leaf_hash(const kc_merkle_leaf_t *l, uint8_t out[KC_MERKLE_HASH_LEN])
{
    uint8_t head[1 + 34], len4[4];
    head[0] = 0x00; /* leaf domain */
    s_leaf_head(l, head + 1);
    s_be32(len4, (uint32_t)l->event_len);
    s_sha_t st;
    s_sha_init(&st);
    s_sha_update(&st, head, sizeof head);
    s_sha_update(&st, (const uint8_t *)l->producer, l->producer_len);
    s_sha_update(&st, len4, sizeof len4);
    if (l->event_len)
        s_sha_update(&st, l->event, l->event_len);
    s_sha_final(&st, out);
}

void kc_merkle_leaf_hash_raw(const uint8_t *input, size_t len, uint8_t out[KC_MERKLE_HASH_LEN])
{
    static const uint8_t zero = 0x00;
    s_sha_t st;
    s_sha_init(&st);
    s_sha_update(&st, &zero, 1);
    if (len)
        s_sha_update(&st, input, len);
    s_sha_final(&st, out);
}

void kc_merkle_node_hash(const uint8_t left[KC_MERKLE_HASH_LEN],
                         const uint8_t right[KC_MERKLE_HASH_LEN], uint8_t out[KC_MERKLE_HASH_LEN])
{
    uint8_t buf[1 + 2 * KC_MERKLE_HASH_LEN];
    buf[0] = 0x01; /* interior-node domain */
    memcpy(buf + 1, left, KC_MERKLE_HASH_LEN);
    memcpy(buf + 1 + KC_MERKLE_HASH_LEN, right, KC_MERKLE_HASH_LEN);
    s_sha(out, buf, sizeof buf);
}

void kc_merkle_empty_root(uint8_t out[KC_MERKLE_HASH_LEN])
{
    s_sha(out, (const uint8_t *)"", 0);
}

uint64_t kc_merkle_split(uint64_t n)
{
    uint64_t k = 1;
    while (k < n - k) /* k * 2 < n without overflow */
        k <<= 1;
    return k;
}

/* ---- proofs (RFC 9162) ---- */

bool kc_merkle_verify_inclusion(const uint8_t leaf_hash[KC_MERKLE_HASH_LEN], uint64_t leaf_index,
                                uint64_t tree_size, const uint8_t (*path)[KC_MERKLE_HASH_LEN],
                                size_t path_len, const uint8_t root[KC_MERKLE_HASH_LEN])
{
    if (!leaf_hash || !root || (path_len && !path) || leaf_index >= tree_size ||
        path_len > KC_MERKLE_PATH_MAX)
        return false;
    uint64_t fn = leaf_index, sn = tree_size - 1;
    uint8_t r[KC_MERKLE_HASH_LEN];
    memcpy(r, leaf_hash, sizeof r);
    for (size_t i = 0; i < path_len; i++) {
        if (sn == 0)
            return false; /* path longer than the tree is high */
        if ((fn & 1) || fn == sn) {
            kc_merkle_node_hash(path[i], r, r);
            if (!(fn & 1)) {
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            kc_merkle_node_hash(r, path[i], r);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && sodium_memcmp(r, root, sizeof r) == 0;
}

bool kc_merkle_verify_consistency(uint64_t size1, uint64_t size2,
                                  const uint8_t root1[KC_MERKLE_HASH_LEN],
                                  const uint8_t root2[KC_MERKLE_HASH_LEN],
                                  const uint8_t (*proof)[KC_MERKLE_HASH_LEN], size_t len)
{
    if (!root1 || !root2 || (len && !proof) || size1 == 0 || size1 > size2 ||
        len > KC_MERKLE_PATH_MAX)
        return false;
    if (size1 == size2)
        return len == 0 && sodium_memcmp(root1, root2, KC_MERKLE_HASH_LEN) == 0;
    if (len == 0)
        return false;
    /* step 2: a power-of-two first tree is its own first element */
    const uint8_t *first = proof[0];
    size_t i = 1;
    if ((size1 & (size1 - 1)) == 0) {
        first = root1;
        i = 0;
    }
    uint64_t fn = size1 - 1, sn = size2 - 1;
    while (fn & 1) {
        fn >>= 1;
        sn >>= 1;
    }
    uint8_t fr[KC_MERKLE_HASH_LEN], sr[KC_MERKLE_HASH_LEN];
    memcpy(fr, first, sizeof fr);
    memcpy(sr, first, sizeof sr);
    for (; i < len; i++) {
        if (sn == 0)
            return false;
        if ((fn & 1) || fn == sn) {
            kc_merkle_node_hash(proof[i], fr, fr);
            kc_merkle_node_hash(proof[i], sr, sr);
            if (!(fn & 1)) {
                while (!(fn & 1) && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            kc_merkle_node_hash(sr, proof[i], sr);
        }
        fn >>= 1;
        sn >>= 1;
    }
    return sn == 0 && sodium_memcmp(fr, root1, sizeof fr) == 0 &&
           sodium_memcmp(sr, root2, sizeof sr) == 0;
}

/* ---- signed tree heads ---- */

void kc_merkle_sth_message(const kc_merkle_sth_t *h, uint8_t out[KC_MERKLE_STH_MSG_LEN])
{
    size_t d = sizeof KC_MERKLE_STH_DOMAIN - 1;
    memcpy(out, KC_MERKLE_STH_DOMAIN, d);
    s_be64(out + d, h->tree_size);
    s_be64(out + d + 8, h->timestamp_ns);
    memcpy(out + d + 16, h->root, KC_MERKLE_HASH_LEN);
}

void kc_merkle_sth_sign(kc_merkle_sth_t *h, const uint8_t sk[KC_MERKLE_SECKEY_LEN])
{
    uint8_t msg[KC_MERKLE_STH_MSG_LEN];
    kc_merkle_sth_message(h, msg);
    crypto_sign_detached(h->signature, NULL, msg, sizeof msg, sk);
}

bool kc_merkle_sth_verify(const kc_merkle_sth_t *h, const uint8_t pk[KC_MERKLE_PUBKEY_LEN])
{
    if (!h || !pk)
        return false;
    uint8_t msg[KC_MERKLE_STH_MSG_LEN];
    kc_merkle_sth_message(h, msg);
    return crypto_sign_verify_detached(h->signature, msg, sizeof msg, pk) == 0;
}

/* ---- hex ---- */

void kc_merkle_hex(const uint8_t *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * len] = '\0';
}

static int s_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int kc_merkle_unhex(const char *in, uint8_t *out, size_t len)
{
    if (!in || strlen(in) != 2 * len)
        return -1;
    for (size_t i = 0; i < len; i++) {
        int hi = s_nibble(in[2 * i]), lo = s_nibble(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return 0;
}
