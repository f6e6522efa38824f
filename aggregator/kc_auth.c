/* kc_auth.c - the producer registry and the ZAP handler thread (DESIGN in kc_auth.h). */
#include "kc_auth.h"

#include "kc_err.h"
#include "kc_log.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#define S_REGISTRY_MAX (16u << 20) /* bytes of a registry file */
#define S_TOKENS_MAX   16          /* words on one registry line */
#define S_LINE_MAX     4096
#define S_ZAP_FRAMES   8 /* frames of a ZAP request kept (CURVE sends 7) */

struct kc_auth_registry {
    kc_auth_entry_t *e;
    size_t n, cap;
};

/* ---- the registry ------------------------------------------------------- */

void kc_auth_registry_free(kc_auth_registry_t **reg)
{
    if (!reg || !*reg)
        return;
    free((*reg)->e);
    free(*reg);
    *reg = NULL;
}

const kc_auth_entry_t *kc_auth_registry_find(const kc_auth_registry_t *reg, const char *key)
{
    if (!reg || !key)
        return NULL;
    for (size_t i = 0; i < reg->n; i++)
        if (strcmp(reg->e[i].key, key) == 0)
            return &reg->e[i];
    return NULL;
}

size_t kc_auth_registry_count(const kc_auth_registry_t *reg, size_t *revoked)
{
    size_t r = 0;
    for (size_t i = 0; reg && i < reg->n; i++)
        r += reg->e[i].revoked;
    if (revoked)
        *revoked = r;
    return reg ? reg->n : 0;
}

/* The province code 0-99 of a two-digit string, or -1. */
static int s_province_code(const char *p, size_t len)
{
    if (len != 2 || p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
        return -1;
    return (p[0] - '0') * 10 + (p[1] - '0');
}

bool kc_auth_entry_allows(const kc_auth_entry_t *e, const char *province)
{
    if (e->any_province)
        return true;
    int c = province ? s_province_code(province, strlen(province)) : -1;
    return c >= 0 && (e->provinces[c / 64] >> (c % 64) & 1u);
}

/* Split one line into words: "quoted" words keep their spaces, '#' outside
 * quotes starts a comment. Returns the number of words, or -1 (unterminated
 * quote / too many words). */
static int s_words(char *line, char *w[S_TOKENS_MAX])
{
    int n = 0;
    char *p = line;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\0' || *p == '#')
            return n;
        if (n == S_TOKENS_MAX)
            return -1;
        if (*p == '"') {
            char *end = strchr(p + 1, '"');
            if (!end)
                return -1;
            *end = '\0';
            w[n++] = p + 1;
            p = end + 1;
            if (*p && *p != ' ' && *p != '\t')
                return -1;
            continue;
        }
        w[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        if (*p)
            *p++ = '\0';
    }
}

static int s_parse_provinces(kc_auth_entry_t *e, const char *list)
{
    const char *p = list;
    if (!*p)
        return -1;
    for (;;) {
        size_t len = strcspn(p, ",");
        if (len == 1 && *p == '*') {
            e->any_province = true;
        } else {
            int c = s_province_code(p, len);
            if (c < 0)
                return -1;
            e->provinces[c / 64] |= (uint64_t)1 << (c % 64);
        }
        if (p[len] == '\0')
            return 0;
        p += len + 1;
    }
}

/* Parse one non-empty line into e. Returns 0, or -1 with *why set. */
static int s_parse_line(char *line, kc_auth_entry_t *e, const char **why)
{
    char *w[S_TOKENS_MAX];
    int n = s_words(line, w);
    if (n < 0) {
        *why = "unterminated quote or too many words";
        return -1;
    }
    if (n < 2 || strcmp(w[0], "producer") != 0) {
        *why = "expected: producer ID key \"Z85\" provinces P[,P...] [revoked]";
        return -1;
    }
    size_t idlen = strlen(w[1]);
    if (idlen == 0 || idlen > KC_PRODUCER_ID_MAX) {
        *why = "the producer id must be 1-64 bytes";
        return -1;
    }
    memcpy(e->producer_id, w[1], idlen + 1);
    bool have_key = false, have_prov = false;
    for (int i = 2; i < n; i++) {
        if (strcmp(w[i], "revoked") == 0) {
            e->revoked = true;
        } else if (strcmp(w[i], "key") == 0 && i + 1 < n && !have_key) {
            if (!kc_cert_z85_valid(w[++i])) {
                *why = "the key is not 40 characters of Z85";
                return -1;
            }
            memcpy(e->key, w[i], KC_CERT_KEY_LEN + 1);
            have_key = true;
        } else if (strcmp(w[i], "provinces") == 0 && i + 1 < n && !have_prov) {
            if (s_parse_provinces(e, w[++i]) != 0) {
                *why = "provinces must be two-digit codes or '*', separated by commas";
                return -1;
            }
            have_prov = true;
        } else {
            *why = "unexpected word (or a repeated/incomplete key or provinces)";
            return -1;
        }
    }
    if (!have_key || !have_prov) {
        *why = "each producer line needs key and provinces";
        return -1;
    }
    return 0;
}

int kc_auth_registry_parse(const char *text, size_t len, const char *name, kc_auth_registry_t **out)
{
    *out = NULL;
    kc_auth_registry_t *reg = calloc(1, sizeof *reg);
    if (!reg)
        return KC_ENOMEM;
    size_t pos = 0;
    long lineno = 0;
    while (pos < len) {
        char line[S_LINE_MAX];
        size_t n = 0;
        lineno++;
        while (pos < len && text[pos] != '\n') {
            if (n + 1 >= sizeof line || text[pos] == '\0') {
                kc_error("%s:%ld: line too long or contains a NUL byte", name, lineno);
                goto bad;
            }
            line[n++] = text[pos++];
        }
        pos++;
        if (n > 0 && line[n - 1] == '\r')
            n--;
        line[n] = '\0';
        char *p = line + strspn(line, " \t");
        if (*p == '\0' || *p == '#')
            continue;
        kc_auth_entry_t e;
        memset(&e, 0, sizeof e);
        e.line = lineno;
        const char *why = NULL;
        if (s_parse_line(p, &e, &why) != 0) {
            kc_error("%s:%ld: %s", name, lineno, why);
            goto bad;
        }
        const kc_auth_entry_t *dup = kc_auth_registry_find(reg, e.key);
        if (dup) {
            kc_error("%s:%ld: this key is already registered on line %ld (producer %s)", name,
                     lineno, dup->line, dup->producer_id);
            goto bad;
        }
        if (reg->n == reg->cap) {
            size_t cap = reg->cap ? reg->cap * 2 : 16;
            kc_auth_entry_t *ne = realloc(reg->e, cap * sizeof *ne);
            if (!ne) {
                kc_auth_registry_free(&reg);
                return KC_ENOMEM;
            }
            reg->e = ne;
            reg->cap = cap;
        }
        reg->e[reg->n++] = e;
    }
    *out = reg;
    return 0;
bad:
    kc_auth_registry_free(&reg);
    return KC_EFORMAT;
}

int kc_auth_registry_load(const char *path, kc_auth_registry_t **out)
{
    *out = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > S_REGISTRY_MAX) {
        close(fd);
        kc_error("%s: not a regular file of at most %u bytes", path, S_REGISTRY_MAX);
        return KC_EFORMAT;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    if (!buf) {
        close(fd);
        return KC_ENOMEM;
    }
    size_t got = 0;
    int rc = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            rc = -errno;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    close(fd);
    if (rc == 0)
        rc = kc_auth_registry_parse(buf, got, path, out);
    free(buf);
    return rc;
}

/* ---- endpoints ---------------------------------------------------------- */

bool kc_auth_endpoint_is_local(const char *ep)
{
    if (!ep)
        return false;
    if (strncmp(ep, "ipc://", 6) == 0 || strncmp(ep, "inproc://", 9) == 0)
        return true;
    if (strncmp(ep, "tcp://", 6) != 0)
        return false;
    const char *host = ep + 6;
    if (strchr(host, ';'))
        return false; /* "source;destination" forms: not for a bind */
    if (strncmp(host, "[::1]:", 6) == 0 || strncmp(host, "localhost:", 10) == 0)
        return true;
    if (strncmp(host, "127.", 4) != 0)
        return false;
    /* 127.a.b.c: digits and dots up to the port */
    const char *p = host + 4;
    int dots = 0;
    for (; *p && *p != ':'; p++) {
        if (*p == '.')
            dots++;
        else if (*p < '0' || *p > '9')
            return false;
    }
    return *p == ':' && dots == 2;
}

/* ---- the ZAP handler actor ---------------------------------------------- */

struct kc_auth {
    void *pipe;                /* owner's end of the command pipe */
    void *thr_pipe;            /* the handler's end */
    void *zap;                 /* REP at KC_AUTH_ZAP_ENDPOINT, used by the handler only */
    pthread_t thread;          /* the handler */
    bool started;              /* thread is running */
    kc_auth_registry_t *reg;   /* in force (shared read-only with the handler) */
    kc_auth_registry_t *treg;  /* the handler's pointer: same object, its copy */
    kc_auth_registry_t *stray; /* handed over by a swap that failed midway: freed at destroy */
    _Atomic uint64_t accepted; /* handshakes answered 200 */
    _Atomic uint64_t refused;  /* handshakes answered 400 */
};

static int s_send_frames(void *sock, const void *const *data, const size_t *len, int n)
{
    for (int i = 0; i < n; i++)
        if (zmq_send(sock, data[i], len[i], i + 1 < n ? ZMQ_SNDMORE : 0) < 0)
            return -1;
    return 0;
}

/* A short printable copy of a frame for log lines. */
static void s_frame_str(zmq_msg_t *m, char *out, size_t cap)
{
    size_t n = zmq_msg_size(m) < cap - 1 ? zmq_msg_size(m) : cap - 1;
    const char *d = zmq_msg_data(m);
    for (size_t i = 0; i < n; i++)
        out[i] = d[i] >= 0x20 && d[i] < 0x7f ? d[i] : '?';
    out[n] = '\0';
}

/* Answer one ZAP request (RFC 27). */
static void s_zap_one(kc_auth_t *self)
{
    zmq_msg_t f[S_ZAP_FRAMES];
    int nf = 0, more = 1;
    while (more) {
        zmq_msg_t part;
        zmq_msg_init(&part);
        if (zmq_msg_recv(&part, self->zap, 0) < 0) {
            zmq_msg_close(&part);
            break;
        }
        more = zmq_msg_more(&part);
        if (nf < S_ZAP_FRAMES)
            f[nf++] = part;
        else
            zmq_msg_close(&part);
    }
    char version[8] = "", domain[64] = "", address[64] = "?", mech[16] = "";
    if (nf > 0)
        s_frame_str(&f[0], version, sizeof version);
    if (nf > 2)
        s_frame_str(&f[2], domain, sizeof domain);
    if (nf > 3)
        s_frame_str(&f[3], address, sizeof address);
    if (nf > 5)
        s_frame_str(&f[5], mech, sizeof mech);
    char key[KC_CERT_KEY_LEN + 1] = "";
    const char *status = "400", *text = "refused";
    const kc_auth_entry_t *e = NULL;
    if (nf < 6 || strcmp(version, "1.0") != 0) {
        text = "malformed ZAP request";
    } else if (strcmp(domain, KC_AUTH_DOMAIN) != 0) {
        text = "wrong ZAP domain";
    } else if (strcmp(mech, "CURVE") != 0 || nf < 7 || zmq_msg_size(&f[6]) != 32) {
        text = "CURVE required";
    } else {
        zmq_z85_encode(key, zmq_msg_data(&f[6]), 32);
        e = kc_auth_registry_find(self->treg, key);
        if (!e)
            text = "unknown key";
        else if (e->revoked)
            text = "revoked key";
        else
            status = "200", text = "OK";
    }
    bool ok = strcmp(status, "200") == 0;
    /* metadata: name-len(1) name value-len(4, big-endian) value (ZMTP properties) */
    uint8_t meta[1 + sizeof KC_AUTH_KEY_PROPERTY + 4 + KC_CERT_KEY_LEN];
    size_t mlen = 0;
    if (ok) {
        size_t nl = strlen(KC_AUTH_KEY_PROPERTY);
        meta[mlen++] = (uint8_t)nl;
        memcpy(meta + mlen, KC_AUTH_KEY_PROPERTY, nl);
        mlen += nl;
        meta[mlen++] = 0, meta[mlen++] = 0, meta[mlen++] = 0, meta[mlen++] = KC_CERT_KEY_LEN;
        memcpy(meta + mlen, key, KC_CERT_KEY_LEN);
        mlen += KC_CERT_KEY_LEN;
    }
    const void *data[6] = {"1.0", nf > 1 ? zmq_msg_data(&f[1]) : "", status,
                           text,  ok ? e->producer_id : "",          meta};
    size_t len[6] = {
        3,   nf > 1 ? zmq_msg_size(&f[1]) : 0, 3, strlen(text), ok ? strlen(e->producer_id) : 0,
        mlen};
    /* counted before the answer goes out: once a client's handshake has
     * finished, kc_auth_counts() already includes it (a count after the send
     * raced with a reader that waited for the handshake) */
    atomic_fetch_add(ok ? &self->accepted : &self->refused, 1);
    if (s_send_frames(self->zap, data, len, 6) != 0)
        kc_error("KC-SEC-001 cannot answer a ZAP request: %s", zmq_strerror(errno));
    if (ok) {
        kc_info("KC-SEC-011 connection from %s authenticated: producer=%s key=%s", address,
                e->producer_id, key);
    } else {
        kc_warn("KC-SEC-001 connection from %s refused: %s (mechanism=%s domain=%s key=%s)",
                address, text, mech, domain, key[0] ? key : "-");
    }
    for (int i = 0; i < nf; i++)
        zmq_msg_close(&f[i]);
}

/* A pipe command: "SWAP" + pointer, or "TERM". Returns false on TERM. */
static bool s_command(kc_auth_t *self)
{
    char cmd[8] = "";
    void *ptr = NULL;
    int n = zmq_recv(self->thr_pipe, cmd, sizeof cmd - 1, 0);
    int more = 0;
    size_t ms = sizeof more;
    zmq_getsockopt(self->thr_pipe, ZMQ_RCVMORE, &more, &ms);
    if (more)
        zmq_recv(self->thr_pipe, &ptr, sizeof ptr, 0);
    if (n >= 4 && strncmp(cmd, "SWAP", 4) == 0 && ptr)
        self->treg = ptr;
    bool term = n >= 4 && strncmp(cmd, "TERM", 4) == 0;
    zmq_send(self->thr_pipe, "OK", 2, 0);
    return !term;
}

static void *s_thread(void *arg)
{
    kc_auth_t *self = arg;
    for (;;) {
        zmq_pollitem_t items[2] = {{.socket = self->thr_pipe, .events = ZMQ_POLLIN},
                                   {.socket = self->zap, .events = ZMQ_POLLIN}};
        if (zmq_poll(items, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            kc_error("KC-SEC-001 the ZAP handler stops: %s (every handshake now fails)",
                     zmq_strerror(errno));
            break;
        }
        if (items[0].revents & ZMQ_POLLIN) {
            if (!s_command(self))
                break;
            continue; /* the owner waits for us: serve it first */
        }
        if (items[1].revents & ZMQ_POLLIN)
            s_zap_one(self);
    }
    return NULL;
}

/* Send a command and wait for the handler's answer. */
static int s_call(kc_auth_t *self, const char *cmd, void *ptr)
{
    if (zmq_send(self->pipe, cmd, strlen(cmd), ptr ? ZMQ_SNDMORE : 0) < 0 ||
        (ptr && zmq_send(self->pipe, &ptr, sizeof ptr, 0) < 0))
        return KC_EIO;
    char ok[4];
    for (;;) {
        if (zmq_recv(self->pipe, ok, sizeof ok, 0) >= 0)
            return 0;
        if (errno != EINTR)
            return KC_EIO;
    }
}

int kc_auth_new(kc_auth_t **out, void *zctx, kc_auth_registry_t *reg)
{
    *out = NULL;
    kc_auth_t *self = calloc(1, sizeof *self);
    if (!self) {
        kc_auth_registry_free(&reg);
        return KC_ENOMEM;
    }
    self->reg = self->treg = reg;
    int rc = KC_EIO;
    int linger = 0;
    char pipe_ep[64];
    snprintf(pipe_ep, sizeof pipe_ep, "inproc://kc-auth-pipe-%p", (void *)self);
    self->zap = zmq_socket(zctx, ZMQ_REP);
    self->pipe = zmq_socket(zctx, ZMQ_PAIR);
    self->thr_pipe = zmq_socket(zctx, ZMQ_PAIR);
    if (!self->zap || !self->pipe || !self->thr_pipe)
        goto fail;
    zmq_setsockopt(self->zap, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(self->pipe, ZMQ_LINGER, &linger, sizeof linger);
    zmq_setsockopt(self->thr_pipe, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(self->zap, KC_AUTH_ZAP_ENDPOINT) != 0) {
        rc = errno == EADDRINUSE ? KC_EBUSY : KC_EIO;
        kc_error("cannot bind the ZAP handler at %s: %s", KC_AUTH_ZAP_ENDPOINT,
                 zmq_strerror(errno));
        goto fail;
    }
    if (zmq_bind(self->pipe, pipe_ep) != 0 || zmq_connect(self->thr_pipe, pipe_ep) != 0)
        goto fail;
    /* the sockets move to the handler thread: pthread_create is a full barrier */
    if (pthread_create(&self->thread, NULL, s_thread, self) != 0)
        goto fail;
    self->started = true;
    *out = self;
    return 0;
fail:
    kc_auth_destroy(&self);
    return rc;
}

void kc_auth_destroy(kc_auth_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    kc_auth_t *self = *self_p;
    if (self->started) {
        if (s_call(self, "TERM", NULL) != 0)
            kc_error("cannot stop the ZAP handler cleanly");
        pthread_join(self->thread, NULL);
    }
    if (self->zap)
        zmq_close(self->zap);
    if (self->thr_pipe)
        zmq_close(self->thr_pipe);
    if (self->pipe)
        zmq_close(self->pipe);
    kc_auth_registry_free(&self->reg);
    kc_auth_registry_free(&self->stray);
    free(self);
    *self_p = NULL;
}

int kc_auth_swap(kc_auth_t *self, kc_auth_registry_t *reg)
{
    if (!reg)
        return KC_EINVAL;
    int rc = s_call(self, "SWAP", reg);
    if (rc != 0) {
        /* the handler may hold either registry now: free neither before it stopped */
        kc_auth_registry_free(&self->stray);
        self->stray = reg;
        return rc;
    }
    kc_auth_registry_free(&self->reg);
    self->reg = reg;
    return 0;
}

const kc_auth_registry_t *kc_auth_current(const kc_auth_t *self)
{
    return self->reg;
}

void kc_auth_counts(const kc_auth_t *self, uint64_t *accepted, uint64_t *refused)
{
    kc_auth_t *s = (kc_auth_t *)self;
    *accepted = atomic_load(&s->accepted);
    *refused = atomic_load(&s->refused);
}
