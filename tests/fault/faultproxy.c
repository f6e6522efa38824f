/* faultproxy.c - kc-faultproxy: a TCP relay on loopback that injects link
 * faults between producers and the aggregator (fault scenario 4).
 *
 * Usage: kc-faultproxy --listen PORT --target PORT --control FIFO --status FILE
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
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
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

typedef struct {
    bool used;
    int fd[2];        /* 0 client (producer), 1 server (aggregator) */
    dir_t dir[2];     /* 0 up: client -> server, 1 down: server -> client */
    uint64_t up_seen; /* bytes forwarded upstream on this connection */
} conn_t;

static conn_t s_conns[S_MAX_CONNS];
static int s_mode = M_PASS;
static long s_arg;
static uint64_t s_gen, s_accepted, s_resets, s_bytes[2], s_dropped;
static volatile sig_atomic_t s_stop;

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
            "gen=%llu mode=%s conns=%d accepted=%llu resets=%llu up=%llu down=%llu dropped=%llu\n",
            (unsigned long long)s_gen, s_mode_names[s_mode], conns, (unsigned long long)s_accepted,
            (unsigned long long)s_resets, (unsigned long long)s_bytes[0],
            (unsigned long long)s_bytes[1], (unsigned long long)s_dropped);
    if (fclose(f) == 0)
        rename(tmp, path);
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
    if (s_mode == M_BLACKHOLE || (s_mode == M_NOACK && k == 1)) {
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
    const char *control = NULL, *status = NULL;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--listen") == 0)
            port = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--target") == 0)
            target = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--control") == 0)
            control = argv[i + 1];
        else if (strcmp(argv[i], "--status") == 0)
            status = argv[i + 1];
    }
    if (!port || !target || !control || !status) {
        fprintf(stderr, "usage: kc-faultproxy --listen PORT --target PORT --control FIFO "
                        "--status FILE\n");
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
    return 0;
}
