/* faultproxy.c - kc-faultproxy: a TCP relay on loopback that injects link
 * faults between producers and the aggregator (fault scenario 4).
 *
 * Usage: kc-faultproxy --listen PORT --target PORT --control FIFO --status FILE
 *                      [--record FILE]
 *
 * DESIGN
 * One thread, one poll loop. Every accepted client connection gets its own
 * connection to 127.0.0.1:TARGET (refused: the client is closed at once, as a
 * down aggregator would). Bytes read from one side are queued for the other
 * side as chunks with a release time; what happens to them depends on the
 * mode in force when they were read:
 *   pass        forwarded at once
 *   blackhole   connections are accepted, everything read is discarded (both
 *               directions): batches and acknowledgements vanish
 *   noack       producer -> aggregator forwarded, aggregator -> producer
 *               discarded: lost acknowledgements after a durable commit
 *   reset N     each connection forwards N bytes upstream (counted from
 *               connection start), then both sockets are closed with RST
 *               (SO_LINGER 0): the stream breaks in the middle of a frame
 *   latency MS  every chunk is released MS after it was read
 *   trickle     both directions forward at most 1 byte per ms
 * A direction reads only while less than S_QUEUE_MAX bytes are queued, so a
 * slow mode pushes back on the sender through TCP. A side's EOF is passed on
 * (shutdown SHUT_WR) once its queue has drained.
 * Control: the test writes one command per line into the FIFO (opened O_RDWR
 * here, so it never sees EOF). After applying each command the proxy rewrites
 * the status file (temporary file + rename) with "gen=N mode=M conns=C
 * accepted=A resets=R up=U down=D dropped=X"; gen counts applied commands, so
 * the test waits for gen to reach its command count before relying on the new
 * mode. The status file is also refreshed every 100 ms.
 *
 * ACKNOWLEDGEMENT RECORD (--record FILE, issue 13)
 * The proxy also decodes the ZMTP 3 streams it relays (greeting, then frames;
 * commands such as READY and PING skipped) and writes, per event, what the
 * aggregator acknowledged: an independent record for the oracle (oracle.h).
 *   - upstream, a message is parsed from the bytes actually written to the
 *     aggregator (a Batch cut by `reset` or swallowed by `blackhole` never
 *     counts); its last frame is decoded as a Batch and (seq, province,
 *     event_id) of each of its events is queued on the connection;
 *   - downstream, a message is parsed from the bytes read from the aggregator,
 *     before the mode may drop them (an Ack lost by `noack` was still sent
 *     after a durable commit); its last frame is decoded as an Ack. The
 *     aggregator answers every Batch of a connection with exactly one Ack, in
 *     order (docs/PROTOCOL.md), so each Ack answers the oldest queued Batch of
 *     its connection, which names the events of its seqs.
 * Per Ack with STATUS_OK and a range, one line per seq in acked_from..acked_to,
 * tab-separated:
 *   ack TIME_MS PRODUCER EPOCH SEQ OUTCOME REASON PROVINCE EVENT_ID DELIVERY
 * TIME_MS is CLOCK_MONOTONIC in ms (kc_harness_now_ms()'s clock), OUTCOME is
 * accepted, duplicate or rejected (REASON: the lower-case reason name, "ok"
 * when accepted), DELIVERY is dropped (the mode discarded the Ack) or fwd
 * (queued for the producer; a producer killed meanwhile never reads it).
 * Other lines report what the record cannot vouch for, and fail the oracle:
 *   undecoded TIME_MS DIR WHY         a stream that is not plaintext ZMTP 3
 *                                     (CURVE, garbage): its Acks go unrecorded
 *   unmatched TIME_MS PRODUCER WHY    an Ack with no queued Batch, of another
 *                                     producer, or naming a seq not in it
 * All lines of one Ack are written by one write(2) on an O_APPEND descriptor
 * (no user-space buffer), before the Ack's bytes are forwarded: when a
 * producer holds an Ack, its lines are in the file. A reader takes only
 * complete lines (ending in a newline), so it never sees a torn one.
 */
#include "kcpipe/v1/kcpipe.pb-c.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_CONNS 64
#define S_QUEUE_MAX (1 << 20)
#define S_READ_MAX  65536
#define S_FRAME_MAX ((uint64_t)64 << 20) /* a larger frame: the stream is not ours */

enum { M_PASS, M_BLACKHOLE, M_NOACK, M_RESET, M_LATENCY, M_TRICKLE };
static const char *const s_mode_names[] = {"pass",  "blackhole", "noack",
                                           "reset", "latency",   "trickle"};

typedef struct chunk {
    struct chunk *next;
    int64_t release_ms;
    size_t len, off;
    uint8_t data[];
} chunk_t;

typedef struct {
    chunk_t *head, *tail;
    size_t queued; /* bytes queued */
    bool eof;      /* source ended: shut the destination once drained */
    bool shut;     /* destination shut for writing */
    int64_t tick;  /* trickle: ms up to which bytes were allowed */
} dir_t;

/* ZMTP 3 decoder of one direction of a connection (see ACKNOWLEDGEMENT RECORD). */
typedef struct {
    int state;       /* Z_GREETING, Z_HEAD, Z_SIZE, Z_BODY, Z_DEAD */
    uint8_t hdr[64]; /* greeting, then a frame's flags and size bytes */
    size_t hlen;     /* bytes of hdr filled */
    size_t need;     /* bytes hdr must hold (Z_SIZE) */
    uint8_t flags;   /* current frame's flags */
    uint64_t size;   /* current frame's body size */
    uint8_t *body;   /* current frame's body (the last frame of a message is decoded) */
    size_t blen, bcap;
} zmtp_t;

enum { Z_GREETING, Z_HEAD, Z_SIZE, Z_BODY, Z_DEAD };

/* One Batch forwarded upstream and not answered yet: its events' identities. */
typedef struct batch {
    struct batch *next;
    char producer[72];
    uint64_t epoch;
    size_t n;
    struct {
        uint64_t seq;
        char province[8];
        char event_id[72];
    } ev[];
} batch_t;

typedef struct {
    bool used;
    int fd[2];              /* 0 client (producer), 1 server (aggregator) */
    dir_t dir[2];           /* 0 up: client -> server, 1 down: server -> client */
    uint64_t up_seen;       /* bytes forwarded upstream on this connection */
    zmtp_t z[2];            /* --record: decoders of the forwarded up / read down bytes */
    batch_t *bhead, *btail; /* --record: Batches awaiting their Ack, oldest first */
} conn_t;

static conn_t s_conns[S_MAX_CONNS];
static int s_mode = M_PASS;
static long s_arg;
static uint64_t s_gen, s_accepted, s_resets, s_bytes[2], s_dropped;
static volatile sig_atomic_t s_stop;
static int s_rec = -1; /* --record descriptor, -1 = no record */
static uint64_t s_acks, s_undecoded, s_unmatched;

static int64_t s_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void s_on_term(int sig)
{
    (void)sig;
    s_stop = 1;
}

static void s_status(const char *path)
{
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f)
        return;
    int conns = 0;
    for (int i = 0; i < S_MAX_CONNS; i++)
        conns += s_conns[i].used;
    fprintf(f,
            "gen=%llu mode=%s conns=%d accepted=%llu resets=%llu up=%llu down=%llu dropped=%llu "
            "acks=%llu undecoded=%llu unmatched=%llu\n",
            (unsigned long long)s_gen, s_mode_names[s_mode], conns, (unsigned long long)s_accepted,
            (unsigned long long)s_resets, (unsigned long long)s_bytes[0],
            (unsigned long long)s_bytes[1], (unsigned long long)s_dropped,
            (unsigned long long)s_acks, (unsigned long long)s_undecoded,
            (unsigned long long)s_unmatched);
    if (fclose(f) == 0)
        rename(tmp, path);
}

/* Copy text into dst (cap bytes), tabs, newlines and other control bytes as '?'. */
static void s_field(char *dst, size_t cap, const char *text)
{
    size_t i = 0;
    for (; text && text[i] && i + 1 < cap; i++)
        dst[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? '?' : text[i];
    dst[i] = '\0';
    if (i == 0 && cap > 1)
        snprintf(dst, cap, "-");
}

/* Append a formatted piece to a growing line buffer (lost on ENOMEM: the
 * writer then reports the Ack as unmatched). */
typedef struct {
    char *p;
    size_t len, cap;
    bool oom;
} sbuf_t;

static void s_put(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void s_put(sbuf_t *b, const char *fmt, ...)
{
    for (int pass = 0; pass < 2 && !b->oom; pass++) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = true;
        } else if (b->p && (size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        } else {
            size_t cap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
            char *np = realloc(b->p, cap);
            if (!np)
                b->oom = true;
            else {
                b->p = np;
                b->cap = cap;
            }
        }
    }
}

/* One write(2) for all lines of one Ack (O_APPEND): see ACKNOWLEDGEMENT RECORD. */
static void s_rec_write(sbuf_t *b)
{
    size_t off = 0;
    while (off < b->len) {
        ssize_t n = write(s_rec, b->p + off, b->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            perror("kc-faultproxy: write the record");
            exit(70); /* a record with a hole would vouch for nothing */
        }
        off += (size_t)n;
    }
    free(b->p);
}

static void s_rec_line(const char *tag, int64_t now, const char *a, const char *why)
{
    char fa[80], fw[160];
    s_field(fa, sizeof fa, a);
    s_field(fw, sizeof fw, why);
    sbuf_t b = {0};
    s_put(&b, "%s\t%lld\t%s\t%s\n", tag, (long long)now, fa, fw);
    if (!b.oom)
        s_rec_write(&b);
    else
        free(b.p);
}

/* A Batch forwarded upstream: queue its events' identities on the connection. */
static void s_on_batch(conn_t *c, const uint8_t *data, size_t len, int64_t now)
{
    Kcpipe__V1__Batch *bt = kcpipe__v1__batch__unpack(NULL, len, data);
    size_t n = bt ? bt->n_events : 0;
    batch_t *q = calloc(1, sizeof *q + n * sizeof q->ev[0]);
    if (!q) {
        s_rec_line("unmatched", now, "-", "out of memory for a Batch");
        s_unmatched++;
    } else {
        /* an undecodable Batch is queued empty: its Ack (UNDECODABLE) keeps the order */
        if (bt) {
            s_field(q->producer, sizeof q->producer, bt->producer_id);
            q->epoch = bt->has_producer_epoch ? bt->producer_epoch : 0;
        }
        for (size_t i = 0; i < n; i++) {
            Kcpipe__V1__Event *ev =
                kcpipe__v1__event__unpack(NULL, bt->events[i].len, bt->events[i].data);
            if (!ev)
                continue; /* its seq (if any) is unknown: an Ack naming it is unmatched */
            q->ev[q->n].seq = ev->has_seq ? ev->seq : 0;
            s_field(q->ev[q->n].province, sizeof q->ev[0].province, ev->province);
            s_field(q->ev[q->n].event_id, sizeof q->ev[0].event_id, ev->event_id);
            q->n++;
            kcpipe__v1__event__free_unpacked(ev, NULL);
        }
        if (c->btail)
            c->btail->next = q;
        else
            c->bhead = q;
        c->btail = q;
    }
    if (bt)
        kcpipe__v1__batch__free_unpacked(bt, NULL);
}

static const char *s_reason_name(int reason, char *buf, size_t cap)
{
    const ProtobufCEnumValue *v =
        protobuf_c_enum_descriptor_get_value(&kcpipe__v1__reason__descriptor, reason);
    if (!v) {
        snprintf(buf, cap, "reason_%d", reason);
        return buf;
    }
    size_t i = 0;
    const char *name = v->name + (strncmp(v->name, "REASON_", 7) == 0 ? 7 : 0);
    for (; name[i] && i + 1 < cap; i++)
        buf[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
    buf[i] = '\0';
    return buf;
}

/* An Ack read from the aggregator: it answers the oldest queued Batch. */
static void s_on_ack(conn_t *c, const uint8_t *data, size_t len, int64_t now, bool dropped)
{
    batch_t *q = c->bhead;
    if (q) {
        c->bhead = q->next;
        if (!c->bhead)
            c->btail = NULL;
    }
    Kcpipe__V1__Ack *ack = kcpipe__v1__ack__unpack(NULL, len, data);
    s_acks++;
    if (!ack) {
        s_rec_line("unmatched", now, q ? q->producer : "-", "an Ack that does not decode");
        s_unmatched++;
    } else if (!q) {
        s_rec_line("unmatched", now, ack->producer_id, "an Ack without a Batch before it");
        s_unmatched++;
    } else if ((!ack->has_status || ack->status == KCPIPE__V1__STATUS__STATUS_OK) &&
               ack->has_acked_from && ack->has_acked_to) {
        char prod[72];
        s_field(prod, sizeof prod, ack->producer_id);
        uint64_t epoch = ack->has_producer_epoch ? ack->producer_epoch : 0;
        sbuf_t b = {0};
        bool bad =
            strcmp(prod, q->producer) != 0 || epoch != q->epoch || ack->acked_from > ack->acked_to;
        size_t j = 0; /* events of q and results are in seq order */
        for (uint64_t seq = ack->acked_from; !bad && seq <= ack->acked_to; seq++) {
            while (j < q->n && q->ev[j].seq < seq)
                j++;
            if (j == q->n || q->ev[j].seq != seq) {
                bad = true;
                break;
            }
            const char *outcome = "accepted", *reason = "ok";
            char rb[48];
            for (size_t r = 0; r < ack->n_results; r++) {
                const Kcpipe__V1__Result *res = ack->results[r];
                if (res->has_seq && res->seq == seq) {
                    int why = res->has_reason ? (int)res->reason : 0;
                    outcome =
                        why == KCPIPE__V1__REASON__REASON_DUPLICATE ? "duplicate" : "rejected";
                    reason = s_reason_name(why, rb, sizeof rb);
                    break;
                }
            }
            s_put(&b, "ack\t%lld\t%s\t%llu\t%llu\t%s\t%s\t%s\t%s\t%s\n", (long long)now, prod,
                  (unsigned long long)epoch, (unsigned long long)seq, outcome, reason,
                  q->ev[j].province, q->ev[j].event_id, dropped ? "dropped" : "fwd");
            if (seq == UINT64_MAX)
                break;
        }
        if (bad || b.oom) {
            free(b.p);
            char why[160];
            snprintf(why, sizeof why,
                     "an Ack of epoch %llu seqs %llu..%llu answering a Batch of %s",
                     (unsigned long long)epoch, (unsigned long long)ack->acked_from,
                     (unsigned long long)ack->acked_to, q->producer);
            s_rec_line("unmatched", now, prod, why);
            s_unmatched++;
        } else {
            s_rec_write(&b);
        }
    }
    /* an Ack without a range (refused, fenced, unavailable, a gap) acknowledges nothing */
    if (ack)
        kcpipe__v1__ack__free_unpacked(ack, NULL);
    free(q);
}

static void s_zmtp_dead(zmtp_t *z, int k, int64_t now, const char *why)
{
    z->state = Z_DEAD;
    free(z->body);
    z->body = NULL;
    z->blen = z->bcap = 0;
    s_undecoded++;
    s_rec_line("undecoded", now, k == 0 ? "up" : "down", why);
}

/* Feed bytes of direction k to its decoder (see ACKNOWLEDGEMENT RECORD). */
static void s_zmtp_feed(conn_t *c, int k, const uint8_t *p, size_t n, int64_t now, bool dropped)
{
    zmtp_t *z = &c->z[k];
    while (n > 0 && z->state != Z_DEAD) {
        if (z->state == Z_GREETING) {
            size_t take = 64 - z->hlen < n ? 64 - z->hlen : n;
            memcpy(z->hdr + z->hlen, p, take);
            z->hlen += take;
            p += take;
            n -= take;
            if (z->hlen < 64)
                continue;
            if (z->hdr[0] != 0xff || !(z->hdr[9] & 1) || z->hdr[10] < 3)
                s_zmtp_dead(z, k, now, "not a ZMTP 3 greeting");
            else if (memcmp(z->hdr + 12, "NULL\0", 5) != 0)
                s_zmtp_dead(z, k, now, "a security mechanism other than NULL");
            else {
                z->state = Z_HEAD;
                z->hlen = 0;
            }
        } else if (z->state == Z_HEAD) {
            z->flags = *p++;
            n--;
            z->hlen = 0;
            z->need = z->flags & 2 ? 8 : 1;
            z->state = Z_SIZE;
        } else if (z->state == Z_SIZE) {
            z->hdr[z->hlen++] = *p++;
            n--;
            if (z->hlen < z->need)
                continue;
            z->size = 0;
            for (size_t i = 0; i < z->need; i++)
                z->size = z->size << 8 | z->hdr[i];
            if (z->size > S_FRAME_MAX) {
                s_zmtp_dead(z, k, now, "a frame larger than 64 MiB");
                continue;
            }
            z->blen = 0;
            if (z->size > z->bcap) {
                uint8_t *nb = realloc(z->body, (size_t)z->size);
                if (!nb) {
                    s_zmtp_dead(z, k, now, "out of memory for a frame");
                    continue;
                }
                z->body = nb;
                z->bcap = (size_t)z->size;
            }
            z->state = Z_BODY;
        }
        if (z->state == Z_BODY) {
            size_t take = (size_t)z->size - z->blen < n ? (size_t)z->size - z->blen : n;
            if (take)
                memcpy(z->body + z->blen, p, take);
            z->blen += take;
            p += take;
            n -= take;
            if (z->blen < z->size)
                continue;
            z->state = Z_HEAD;
            if (z->flags & 4)
                continue; /* a command (READY, PING, PONG, ...) */
            if (z->flags & 1)
                continue; /* not the last frame (a delimiter): the last one is decoded */
            if (k == 0)
                s_on_batch(c, z->body, z->blen, now);
            else
                s_on_ack(c, z->body, z->blen, now, dropped);
        }
    }
}

static void s_conn_record_free(conn_t *c)
{
    for (int k = 0; k < 2; k++) {
        free(c->z[k].body);
        memset(&c->z[k], 0, sizeof c->z[k]);
    }
    while (c->bhead) {
        batch_t *q = c->bhead;
        c->bhead = q->next;
        free(q);
    }
    c->btail = NULL;
}

static void s_dir_free(dir_t *d)
{
    while (d->head) {
        chunk_t *c = d->head;
        d->head = c->next;
        free(c);
    }
    memset(d, 0, sizeof *d);
}

static void s_close(conn_t *c, bool rst)
{
    for (int k = 0; k < 2; k++) {
        if (c->fd[k] < 0)
            continue;
        if (rst) {
            struct linger lg = {1, 0};
            setsockopt(c->fd[k], SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        }
        close(c->fd[k]);
        c->fd[k] = -1;
    }
    s_dir_free(&c->dir[0]);
    s_dir_free(&c->dir[1]);
    s_conn_record_free(c);
    c->used = false;
}

static void s_accept(int lfd, int target)
{
    int cfd = accept(lfd, NULL, NULL);
    if (cfd < 0)
        return;
    s_accepted++;
    int slot = -1;
    for (int i = 0; i < S_MAX_CONNS && slot < 0; i++)
        if (!s_conns[i].used)
            slot = i;
    int sfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)target)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (slot < 0 || sfd < 0 || connect(sfd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        if (sfd >= 0)
            close(sfd);
        close(cfd); /* no room or nothing listening: as if the peer were down */
        return;
    }
    int one = 1;
    setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(sfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(cfd, F_SETFL, O_NONBLOCK);
    fcntl(sfd, F_SETFL, O_NONBLOCK);
    conn_t *c = &s_conns[slot];
    memset(c, 0, sizeof *c);
    c->used = true;
    c->fd[0] = cfd;
    c->fd[1] = sfd;
}

/* Read from side k (direction k: 0 up, 1 down). false: close the connection. */
static bool s_read(conn_t *c, int k, int64_t now)
{
    uint8_t buf[S_READ_MAX];
    ssize_t n = read(c->fd[k], buf, sizeof buf);
    if (n < 0)
        return errno == EAGAIN || errno == EINTR;
    dir_t *d = &c->dir[k];
    if (n == 0) {
        d->eof = true;
        return true;
    }
    bool drop = s_mode == M_BLACKHOLE || (s_mode == M_NOACK && k == 1);
    if (s_rec >= 0 && k == 1) /* Acks as the aggregator sent them, before any drop */
        s_zmtp_feed(c, 1, buf, (size_t)n, now, drop);
    if (drop) {
        s_dropped += (uint64_t)n;
        return true;
    }
    chunk_t *ch = malloc(sizeof *ch + (size_t)n);
    if (!ch)
        return false;
    ch->next = NULL;
    ch->len = (size_t)n;
    ch->off = 0;
    ch->release_ms = now + (s_mode == M_LATENCY ? s_arg : 0);
    memcpy(ch->data, buf, (size_t)n);
    if (d->tail)
        d->tail->next = ch;
    else
        d->head = ch;
    d->tail = ch;
    d->queued += (size_t)n;
    return true;
}

/* Write what direction k may send now to side 1-k. false: close (or reset). */
static bool s_write(conn_t *c, int k, int64_t now, bool *reset)
{
    dir_t *d = &c->dir[k];
    int out = c->fd[1 - k];
    while (d->head && d->head->release_ms <= now) {
        chunk_t *ch = d->head;
        size_t want = ch->len - ch->off;
        if (s_mode == M_TRICKLE) {
            if (d->tick < now - 5)
                d->tick = now - 5; /* no burst after an idle spell */
            if (d->tick >= now)
                return true;
            if (want > (size_t)(now - d->tick))
                want = (size_t)(now - d->tick);
        }
        if (s_mode == M_RESET && k == 0) {
            if (c->up_seen >= (uint64_t)s_arg) {
                *reset = true;
                return false;
            }
            if (want > (uint64_t)s_arg - c->up_seen)
                want = (size_t)((uint64_t)s_arg - c->up_seen);
        }
        ssize_t n = write(out, ch->data + ch->off, want);
        if (n < 0)
            return errno == EAGAIN || errno == EINTR;
        if (s_rec >= 0 && k == 0) /* Batches as the aggregator receives them */
            s_zmtp_feed(c, 0, ch->data + ch->off, (size_t)n, now, false);
        ch->off += (size_t)n;
        d->queued -= (size_t)n;
        s_bytes[k] += (uint64_t)n;
        if (k == 0)
            c->up_seen += (uint64_t)n;
        if (s_mode == M_TRICKLE)
            d->tick += n;
        if (ch->off == ch->len) {
            d->head = ch->next;
            if (!d->head)
                d->tail = NULL;
            free(ch);
        }
        if ((size_t)n < want)
            return true;
    }
    if (s_mode == M_RESET && k == 0 && c->up_seen >= (uint64_t)s_arg) {
        *reset = true;
        return false;
    }
    if (!d->head && d->eof && !d->shut) {
        shutdown(out, SHUT_WR);
        d->shut = true;
    }
    return true;
}

static void s_command(char *line)
{
    char word[32] = "";
    long arg = 0;
    if (sscanf(line, "%31s %ld", word, &arg) < 1)
        return;
    for (int m = 0; m <= M_TRICKLE; m++)
        if (strcmp(word, s_mode_names[m]) == 0) {
            s_mode = m;
            s_arg = arg;
        }
    s_gen++; /* an unknown word still counts: the test sees it was read */
}

int main(int argc, char **argv)
{
    int port = 0, target = 0;
    const char *control = NULL, *status = NULL, *record = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--listen") == 0)
            port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--target") == 0)
            target = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--control") == 0)
            control = argv[i + 1];
        else if (strcmp(argv[i], "--status") == 0)
            status = argv[i + 1];
        else if (strcmp(argv[i], "--record") == 0)
            record = argv[i + 1];
    }
    if (!port || !target || !control || !status) {
        fprintf(stderr, "usage: kc-faultproxy --listen PORT --target PORT --control FIFO "
                        "--status FILE [--record FILE]\n");
        return 64;
    }
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, s_on_term);
    for (int i = 0; i < S_MAX_CONNS; i++)
        s_conns[i].fd[0] = s_conns[i].fd[1] = -1;
    int lfd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(lfd, 64) != 0) {
        perror("kc-faultproxy: listen");
        return 69;
    }
    if (record) {
        s_rec = open(record, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (s_rec < 0) {
            perror("kc-faultproxy: record file");
            return 73;
        }
    }
    int cfd = open(control, O_RDWR | O_NONBLOCK);
    if (cfd < 0) {
        perror("kc-faultproxy: control fifo");
        return 69;
    }
    char cbuf[1024];
    size_t clen = 0;
    s_status(status);
    int64_t next_status = s_now() + 100;
    while (!s_stop) {
        struct pollfd pf[2 + 2 * S_MAX_CONNS];
        int map[2 + 2 * S_MAX_CONNS];
        int np = 0;
        pf[np++] = (struct pollfd){.fd = lfd, .events = POLLIN};
        pf[np++] = (struct pollfd){.fd = cfd, .events = POLLIN};
        int64_t now = s_now(), wake = now + 100;
        for (int i = 0; i < S_MAX_CONNS; i++) {
            conn_t *c = &s_conns[i];
            if (!c->used)
                continue;
            for (int k = 0; k < 2; k++) {
                short ev = 0;
                if (!c->dir[k].eof && c->dir[k].queued < S_QUEUE_MAX)
                    ev |= POLLIN;          /* read side k */
                dir_t *o = &c->dir[1 - k]; /* what goes out through side k */
                if (o->head) {
                    int64_t due = o->head->release_ms;
                    if (s_mode == M_TRICKLE && due < o->tick + 1)
                        due = o->tick + 1;
                    if (due <= now)
                        ev |= POLLOUT;
                    else if (due < wake)
                        wake = due;
                }
                map[np] = i * 2 + k;
                pf[np++] = (struct pollfd){.fd = c->fd[k], .events = ev};
            }
        }
        int timeout = (int)(wake - now);
        if (poll(pf, (nfds_t)np, timeout < 0 ? 0 : timeout) < 0 && errno != EINTR)
            break;
        now = s_now();
        if (pf[0].revents & POLLIN)
            s_accept(lfd, target);
        if (pf[1].revents & POLLIN) {
            ssize_t n = read(cfd, cbuf + clen, sizeof cbuf - 1 - clen);
            if (n > 0)
                clen += (size_t)n;
            char *nl;
            while ((nl = memchr(cbuf, '\n', clen))) {
                *nl = '\0';
                s_command(cbuf);
                size_t used = (size_t)(nl - cbuf) + 1;
                memmove(cbuf, nl + 1, clen - used);
                clen -= used;
            }
            if (clen == sizeof cbuf - 1)
                clen = 0;
            s_status(status);
        }
        for (int p = 2; p < np; p++) {
            conn_t *c = &s_conns[map[p] / 2];
            int k = map[p] % 2;
            if (!c->used)
                continue;
            bool ok = true, reset = false;
            if (pf[p].revents & (POLLIN | POLLHUP | POLLERR))
                ok = s_read(c, k, now);
            if (ok)
                ok = s_write(c, 1 - k, now, &reset); /* out through side k */
            if (ok && c->dir[0].shut && c->dir[1].shut)
                ok = false; /* both ways ended */
            if (!ok) {
                if (reset)
                    s_resets++;
                s_close(c, reset);
            }
        }
        /* released by time (latency, trickle) with no poll event */
        for (int i = 0; i < S_MAX_CONNS; i++) {
            conn_t *c = &s_conns[i];
            bool reset = false;
            for (int k = 0; k < 2 && c->used; k++)
                if (c->dir[k].head && !s_write(c, k, now, &reset)) {
                    if (reset)
                        s_resets++;
                    s_close(c, reset);
                }
        }
        if (now >= next_status) {
            s_status(status);
            next_status = now + 100;
        }
    }
    for (int i = 0; i < S_MAX_CONNS; i++)
        if (s_conns[i].used)
            s_close(&s_conns[i], false);
    close(lfd);
    close(cfd);
    s_status(status); /* the final counters */
    if (s_rec >= 0)
        close(s_rec);
    return 0;
}
