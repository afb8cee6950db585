/*
 * wisp-soak: many transactions of every kind through one context, with faults, and
 * the proof that nothing leaks and no stream is lost (issue 12; tests/soak/README.md).
 *
 * One process, one wisp context holding two server streams (plain and TLS listeners
 * on loopback) and the client streams that talk to them, plus a misbehaving raw HTTP
 * server on a thread of its own (fault_*), all from tests/soak/policy.json.in. A fixed
 * number of client streams is kept in flight; each new one picks a kind with a seeded
 * PRNG:
 *
 *   get_q     GET on the plain server, queued on a kept-alive connection
 *   post_q    POST (Content-Length or chunked) on the plain server, queued
 *   get_1c    GET, a connection of its own (reuse false, keepalive 0)
 *   tls_q     GET over TLS, queued
 *   tls_post  POST over TLS, a connection of its own (a resumed handshake each)
 *   destroy   a queued GET the app destroys: at ACK, in rx, or right after request_tx
 *   fault     GET on the raw server, which resets, closes mid-body, stalls, sends bad
 *             framing, closes without answering, or (the control) answers properly;
 *             a stall goes through a type of its own with a 400 ms timeout_ms
 *   refused   GET to a port nobody listens on, with two retries
 *
 * Queued kinds may run up to four transactions on one stream before it is destroyed.
 * Every successful request_tx opens a cycle; the state callback closes it with the
 * first terminal state (DONE, ALL_RETRIES_FAILED, TIMEOUT, or DESTROYING if the stream
 * goes first). A terminal state with no open cycle, a cycle left open, a terminal
 * state other than the one the kind expects, a wrong status or a wrong body byte is a
 * violation. Server requests are checked the same way: each SERVER_REQUEST ends in
 * exactly one DONE or DISCONNECTED, then exactly one DESTROYING.
 *
 * Every SOAK_SAMPLE_MS a line goes to the data file: elapsed seconds, transactions
 * ended, wisp's heap_in_use, live connections (client and server side), open fds, and
 * the process's malloc heap (mbedTLS included). At the end every client stream is
 * destroyed, idle connections closed, and wisp's heap must be back at its figure from
 * before the first client stream; then the context is destroyed, the counting
 * allocator must hold zero bytes and the process the fds it started with.
 *
 * Environment: SOAK_TRANSACTIONS (default 2000), SOAK_SEED (1), SOAK_INFLIGHT (at most
 * this many at once, 32), SOAK_SECONDS (0: as fast as the loop goes; else starts are
 * paced to spread the run over about that long), SOAK_SAMPLE_MS (1000), SOAK_DATA
 * (soak.dat), SOAK_POLICY (the template), SOAK_ONLY (one kind, by name, to chase a
 * finding), SOAK_STUCK_SECONDS (75: no cycle ended for this long means a stream was lost;
 * more than any timeout_ms of the policy). Exit 0 only with no violation. Public headers only
 * (<wisp.h>), and the test certificates.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <wisp.h>

#ifndef SOAK_POLICY_DEFAULT
#define SOAK_POLICY_DEFAULT "tests/soak/policy.json.in"
#endif
#ifndef SOAK_CERTS
#define SOAK_CERTS "tests/certs"
#endif

#define MAX_INFLIGHT 256
#define MAX_VIOLATIONS_SHOWN 20

/* ---- Small helpers ------------------------------------------------------------- */

static uint64_t rng_state = 1;

static uint32_t rnd(void)
{
    /* xorshift64*: fast, seeded, the same run for the same SOAK_SEED. */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 2685821657736338717ull) >> 32);
}

static uint32_t rnd_below(uint32_t n)
{
    return n ? rnd() % n : 0;
}

/* The body byte i of a body seeded by seed: every body is checkable byte by byte. */
static uint8_t pat(size_t i, uint32_t seed)
{
    return (uint8_t)(i * 131u + seed * 7u + (i >> 8) + 1u);
}

static void adler(uint32_t *a, uint32_t *b, const uint8_t *p, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++) {
        *a = (*a + p[i]) % 65521u;
        *b = (*b + *a) % 65521u;
    }
}

static double now_s(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own fd */
}

static size_t malloc_in_use(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    struct mallinfo2 mi = mallinfo2();

    return mi.uordblks + mi.hblkhd;
#else
    return 0;
#endif
}

static unsigned long env_ul(const char *name, unsigned long def)
{
    const char *v = getenv(name);

    return v && *v ? strtoul(v, NULL, 0) : def;
}

static unsigned violations;

static void violation(const char *fmt, ...)
{
    va_list ap;

    if (violations++ >= MAX_VIOLATIONS_SHOWN)
        return;
    va_start(ap, fmt);
    fputs("VIOLATION: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

/* ---- A counting allocator: wisp's blocks, live bytes after the context is gone -- */

typedef union hdr {
    size_t size;
    long double ld;
    void *p;
} hdr_t;

static struct {
    size_t in_use, blocks;
} heap;

static void *cnt_alloc(void *user, size_t size)
{
    hdr_t *h = malloc(sizeof(*h) + size);

    (void)user;
    if (!h)
        return NULL;
    h->size = size;
    heap.in_use += size;
    heap.blocks++;
    return h + 1;
}

static void cnt_free(void *user, void *ptr)
{
    hdr_t *h = ptr;

    (void)user;
    if (!ptr)
        return;
    h--;
    heap.in_use -= h->size;
    heap.blocks--;
    free(h);
}

static const wisp_allocator_t counting = {cnt_alloc, cnt_free, NULL};

static unsigned long log_lines[WISP_LOG_DEBUG + 1];

static void log_sink(void *user, int level, const char *line)
{
    (void)user;
    if (level >= 0 && level <= WISP_LOG_DEBUG)
        log_lines[level]++;
    if (level == WISP_LOG_ERROR && log_lines[level] <= 10)
        fprintf(stderr, "wisp error: %s\n", line);
}

/* ---- The misbehaving raw server (its own thread, its own poll loop) --------------- */

enum fault {
    FK_OK,       /* a proper answer (Connection: close): the control */
    FK_RESET,    /* read the request, then RST */
    FK_MIDBODY,  /* headers with Content-Length, part of the body, then FIN */
    FK_STALL,    /* never answer; the client's timeout_ms ends it */
    FK_BADFRAME, /* a malformed Content-Length, or bad chunked framing */
    FK_NOANSWER, /* read the request, then FIN without a byte */
    FK_COUNT
};

static const char *const fault_names[FK_COUNT] = {"ok",    "reset",     "mid_body",
                                                  "stall", "bad_frame", "no_answer"};

#define FS_MAX 512

typedef struct fconn {
    int fd;
    char req[2048];
    size_t len;
    int stalled;
} fconn_t;

static struct {
    int lfd, port, wake[2];
    pthread_t th;
    fconn_t c[FS_MAX];
    unsigned nconn;
    unsigned long accepted, by_fault[FK_COUNT];
} fs;

static void fs_close(fconn_t *c, int reset)
{
    if (reset) {
        struct linger l = {1, 0};

        (void)setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
    }
    close(c->fd);
    *c = fs.c[--fs.nconn]; /* the caller re-examines this slot */
}

static void fs_send(int fd, const void *p, size_t n)
{
    const char *b = p;

    /* Blocking on purpose for this short write: the socket buffer takes it. */
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        b += w;
        n -= (size_t)w;
    }
}

static void fs_body(int fd, size_t n, uint32_t seed)
{
    uint8_t buf[4096];
    size_t off = 0, k, i;

    while (off < n) {
        k = n - off < sizeof(buf) ? n - off : sizeof(buf);
        for (i = 0; i < k; i++)
            buf[i] = pat(off + i, seed);
        fs_send(fd, buf, k);
        off += k;
    }
}

/* A whole request head arrived: act on /f/<kind>/<n>. 1: the slot was closed. */
static int fs_act(fconn_t *c)
{
    unsigned kind = FK_COUNT, n = 0;
    char head[256];

    if (sscanf(c->req, "GET /f/%u/%u ", &kind, &n) != 2 || kind >= FK_COUNT) {
        fs_send(c->fd, "HTTP/1.1 404 No\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", 58);
        fs_close(c, 0);
        return 1;
    }
    fs.by_fault[kind]++;
    switch (kind) {
    case FK_OK:
        snprintf(head, sizeof(head),
                 "HTTP/1.1 200 OK\r\nContent-Length: %u\r\nConnection: close\r\n\r\n", n);
        fs_send(c->fd, head, strlen(head));
        fs_body(c->fd, n, n);
        fs_close(c, 0);
        return 1;
    case FK_RESET:
        fs_close(c, 1);
        return 1;
    case FK_MIDBODY:
        snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: %u\r\n\r\n", n + 1000);
        fs_send(c->fd, head, strlen(head));
        fs_body(c->fd, n / 2, n);
        fs_close(c, 0);
        return 1;
    case FK_STALL:
        c->stalled = 1;
        return 0;
    case FK_BADFRAME:
        if (n & 1)
            snprintf(head, sizeof(head), "HTTP/1.1 200 OK\r\nContent-Length: 1x2\r\n\r\nabc");
        else
            snprintf(head, sizeof(head),
                     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\nzz\r\n");
        fs_send(c->fd, head, strlen(head));
        fs_close(c, 0);
        return 1;
    default: /* FK_NOANSWER */
        fs_close(c, 0);
        return 1;
    }
}

/* Readable: more of the head, or (stalled) the client went away. 1: slot closed. */
static int fs_read(fconn_t *c)
{
    char tmp[1024];
    ssize_t r = recv(c->fd, c->stalled ? tmp : c->req + c->len,
                     c->stalled ? sizeof(tmp) : sizeof(c->req) - 1 - c->len, 0);

    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    if (r <= 0 || (!c->stalled && c->len + (size_t)r >= sizeof(c->req) - 1)) {
        fs_close(c, 0);
        return 1;
    }
    if (c->stalled)
        return 0; /* nothing a stalled server listens to */
    c->len += (size_t)r;
    c->req[c->len] = '\0';
    return strstr(c->req, "\r\n\r\n") ? fs_act(c) : 0;
}

static void *fs_thread(void *arg)
{
    struct pollfd p[FS_MAX + 2];
    unsigned i, n;

    (void)arg;
    for (;;) {
        p[0].fd = fs.wake[0];
        p[0].events = POLLIN;
        p[1].fd = fs.nconn < FS_MAX ? fs.lfd : -1;
        p[1].events = POLLIN;
        for (i = 0; i < fs.nconn; i++) {
            p[i + 2].fd = fs.c[i].fd;
            p[i + 2].events = POLLIN;
        }
        n = fs.nconn;
        if (poll(p, n + 2, -1) < 0 && errno != EINTR)
            break;
        if (p[0].revents)
            break;
        /* Walk from the end: fs_close moves the last slot into the closed one. */
        for (i = n; i-- > 0;)
            if (p[i + 2].revents)
                (void)fs_read(&fs.c[i]);
        if (p[1].revents & POLLIN) {
            int fd = accept4(fs.lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

            if (fd >= 0) {
                memset(&fs.c[fs.nconn], 0, sizeof(fs.c[0]));
                fs.c[fs.nconn++].fd = fd;
                fs.accepted++;
            }
        }
    }
    while (fs.nconn)
        fs_close(&fs.c[0], 0);
    return NULL;
}

/* A loopback socket on a port the system picks; listening or only bound. */
static int loopback_socket(int do_listen, int *port)
{
    struct sockaddr_in a;
    socklen_t alen = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0)
        return -1;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || (do_listen && listen(fd, 128)) ||
        getsockname(fd, (struct sockaddr *)&a, &alen)) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static int fs_start(void)
{
    fs.lfd = loopback_socket(1, &fs.port);
    if (fs.lfd < 0 || fcntl(fs.lfd, F_SETFL, O_NONBLOCK) || pipe2(fs.wake, O_CLOEXEC))
        return -1;
    return pthread_create(&fs.th, NULL, fs_thread, NULL) ? -1 : 0;
}

static void fs_stop(void)
{
    (void)!write(fs.wake[1], "x", 1);
    pthread_join(fs.th, NULL);
    close(fs.wake[0]);
    close(fs.wake[1]);
    close(fs.lfd);
}

/* ---- The wisp server app: /g/<n> a body of n pattern bytes, /p the POST's digest -- */

typedef struct req {
    int post;
    unsigned n;
    size_t got, sent, total;
    uint32_t a, b;
    char text[48];
    unsigned requests, ends, destroying;
} req_t;

static struct {
    unsigned long requests, done, lost, destroyed, bad;
} srv;

static int srv_answer(req_t *r)
{
    wisp_stream_t *s = wisp_stream_from_user(r);

    if (r->post) {
        r->total = (size_t)snprintf(r->text, sizeof(r->text), "%zu %08" PRIx32, r->got,
                                    (r->b << 16) | r->a);
        return wisp_stream_request_tx_len(s, r->total);
    }
    r->total = r->n;
    /* Half the answers announce their length, half go out chunked. */
    return r->n & 1 ? wisp_stream_request_tx(s) : wisp_stream_request_tx_len(s, r->total);
}

static int srv_rx(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    req_t *r = user;

    if (len)
        adler(&r->a, &r->b, buf, len);
    r->got += len;
    if (!(flags & WISP_EOM))
        return WISP_CB_OK;
    return srv_answer(r) ? WISP_CB_DISCONNECT : WISP_CB_OK;
}

static int srv_tx(void *user, uint8_t *buf, size_t *len, unsigned *flags)
{
    req_t *r = user;
    size_t n = r->total - r->sent, i;

    if (n > *len)
        n = *len;
    if (r->post)
        memcpy(buf, r->text + r->sent, n);
    else
        for (i = 0; i < n; i++)
            buf[i] = pat(r->sent + i, r->n);
    r->sent += n;
    *len = n;
    if (r->sent == r->total)
        *flags |= WISP_EOM;
    return 0;
}

static int srv_state(void *user, wisp_state_t st, int arg)
{
    req_t *r = user;
    const void *p;
    size_t n;
    char path[32];

    (void)arg;
    if (user == &srv)
        return WISP_CB_OK; /* a listener's own CREATED / DESTROYING */
    switch (st) {
    case WISP_STATE_SERVER_REQUEST:
        srv.requests++;
        r->requests++;
        if (wisp_stream_get_metadata(wisp_stream_from_user(r), "path", &p, &n) || n >= sizeof(path))
            return WISP_CB_DISCONNECT;
        memcpy(path, p, n);
        path[n] = '\0';
        r->a = 1;
        r->post = !strcmp(path, "/p");
        if (!r->post && sscanf(path, "/g/%u", &r->n) != 1) {
            srv.bad++;
            return WISP_CB_DISCONNECT;
        }
        break;
    case WISP_STATE_DONE:
        srv.done++;
        r->ends++;
        break;
    case WISP_STATE_DISCONNECTED:
        srv.lost++;
        r->ends++;
        break;
    case WISP_STATE_DESTROYING:
        srv.destroyed++;
        if (++r->destroying != 1 || (r->requests && r->ends != 1) || r->requests > 1)
            violation("server request: %u requests, %u ends, %u DESTROYING", r->requests, r->ends,
                      r->destroying);
        break;
    default:
        break;
    }
    return WISP_CB_OK;
}

static const wisp_stream_ops_t srv_plain_ops = {"srv_plain", srv_rx, srv_tx, srv_state};
static const wisp_stream_ops_t srv_tls_ops = {"srv_tls", srv_rx, srv_tx, srv_state};

/* ---- Client streams ------------------------------------------------------------ */

enum kind { K_GET_Q, K_POST_Q, K_GET_1C, K_TLS_Q, K_TLS_POST, K_DESTROY, K_FAULT, K_REFUSED, K_N };

static const char *const kind_names[K_N] = {"get_q",    "post_q",  "get_1c", "tls_q",
                                            "tls_post", "destroy", "fault",  "refused"};
/* Weights of the mix (per new stream), in percent. */
static const unsigned kind_weight[K_N] = {30, 18, 8, 12, 4, 6, 17, 5};

enum term { T_DONE, T_ALL_RETRIES_FAILED, T_TIMEOUT, T_DESTROYING, T_N };
static const char *const term_names[T_N] = {"DONE", "ALL_RETRIES_FAILED", "TIMEOUT", "DESTROYING"};

enum destroy_how { D_AT_ACK, D_IN_RX, D_AFTER_REQUEST };

typedef struct slot {
    wisp_stream_t *s;
    int kind, fault, how;
    unsigned left;   /* more transactions on this stream after the current one */
    int open;        /* a cycle is open */
    int finished;    /* the cycle ended; the main loop decides what next */
    int destroyed;   /* DESTROYING delivered: the slot is free after this iteration */
    int destroy_now; /* D_AFTER_REQUEST: the main loop destroys it next pass */
    unsigned n;      /* body length asked for (GET) or sent (POST) */
    uint32_t seed;   /* POST body pattern */
    size_t got, sent;
    int rx_bad, status;
    char text[48];
    size_t text_len;
    char expect[48];
} slot_t;

static struct {
    slot_t slot[MAX_INFLIGHT];
    unsigned inflight;
    unsigned long started, ended, by_kind[K_N], term[K_N][T_N], fault_term[FK_COUNT][T_N];
    unsigned long extra_terminals, streams_created, after_destroying;
} cl;

static int expected_term(const slot_t *sl)
{
    switch (sl->kind) {
    case K_DESTROY:
        return T_DESTROYING;
    case K_REFUSED:
        return T_ALL_RETRIES_FAILED;
    case K_FAULT:
        return sl->fault == FK_OK      ? T_DONE
               : sl->fault == FK_STALL ? T_TIMEOUT
                                       : T_ALL_RETRIES_FAILED;
    default:
        return T_DONE;
    }
}

static void check_done(slot_t *sl)
{
    int post = sl->kind == K_POST_Q || sl->kind == K_TLS_POST;

    if (sl->status != 200)
        violation("%s: DONE with status %d", kind_names[sl->kind], sl->status);
    else if (post &&
             (sl->text_len != strlen(sl->expect) || memcmp(sl->text, sl->expect, sl->text_len)))
        violation("%s: digest \"%.*s\", expected \"%s\"", kind_names[sl->kind], (int)sl->text_len,
                  sl->text, sl->expect);
    else if (!post && (sl->rx_bad || sl->got != sl->n))
        violation("%s: %zu body bytes of %u, %d wrong", kind_names[sl->kind], sl->got, sl->n,
                  sl->rx_bad);
}

static void cycle_end(slot_t *sl, int t, int arg)
{
    if (!sl->open) {
        cl.extra_terminals++;
        violation("%s: terminal %s with no open cycle", kind_names[sl->kind], term_names[t]);
        return;
    }
    sl->open = 0;
    sl->finished = 1;
    cl.ended++;
    cl.term[sl->kind][t]++;
    if (sl->kind == K_FAULT)
        cl.fault_term[sl->fault][t]++;
    if (t != expected_term(sl))
        violation("%s%s%s: ended %s (arg %d), expected %s", kind_names[sl->kind],
                  sl->kind == K_FAULT ? "/" : "", sl->kind == K_FAULT ? fault_names[sl->fault] : "",
                  term_names[t], arg, term_names[expected_term(sl)]);
    else if (t == T_DONE)
        check_done(sl);
}

static int cli_rx(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    slot_t *sl = user;
    size_t i;

    if (sl->destroyed)
        cl.after_destroying++;
    if (sl->kind == K_POST_Q || sl->kind == K_TLS_POST) {
        for (i = 0; i < len && sl->text_len < sizeof(sl->text); i++)
            sl->text[sl->text_len++] = (char)buf[i];
    } else {
        for (i = 0; i < len; i++)
            sl->rx_bad += buf[i] != pat(sl->got + i, sl->n);
    }
    sl->got += len;
    if (sl->kind == K_DESTROY && sl->how == D_IN_RX && (len || (flags & WISP_EOM)))
        return WISP_CB_DESTROY;
    return WISP_CB_OK;
}

static int cli_tx(void *user, uint8_t *buf, size_t *len, unsigned *flags)
{
    slot_t *sl = user;
    size_t n = sl->n - sl->sent, i;

    if (n > *len)
        n = *len;
    for (i = 0; i < n; i++)
        buf[i] = pat(sl->sent + i, sl->seed);
    sl->sent += n;
    *len = n;
    if (sl->sent == sl->n)
        *flags |= WISP_EOM;
    return 0;
}

static int cli_state(void *user, wisp_state_t st, int arg)
{
    slot_t *sl = user;

    if (sl->destroyed) {
        cl.after_destroying++;
        violation("%s: state %s after DESTROYING", kind_names[sl->kind], wisp_state_name(st));
        return WISP_CB_OK;
    }
    switch (st) {
    case WISP_STATE_ACK:
        if (sl->kind == K_DESTROY && sl->how == D_AT_ACK)
            return WISP_CB_DESTROY;
        break;
    case WISP_STATE_DONE:
        sl->status = arg;
        cycle_end(sl, T_DONE, arg);
        break;
    case WISP_STATE_ALL_RETRIES_FAILED:
        cycle_end(sl, T_ALL_RETRIES_FAILED, arg);
        break;
    case WISP_STATE_TIMEOUT:
        cycle_end(sl, T_TIMEOUT, arg);
        break;
    case WISP_STATE_DESTROYING:
        if (sl->open)
            cycle_end(sl, T_DESTROYING, arg);
        sl->destroyed = 1;
        sl->s = NULL;
        break;
    default:
        break;
    }
    return WISP_CB_OK;
}

static const wisp_stream_ops_t cli_ops[K_N] = {
    {"get_q", cli_rx, NULL, cli_state},         {"post_q", cli_rx, cli_tx, cli_state},
    {"get_1c", cli_rx, NULL, cli_state},        {"tls_q", cli_rx, NULL, cli_state},
    {"tls_post_1c", cli_rx, cli_tx, cli_state}, {"get_q", cli_rx, NULL, cli_state},
    {"fault", cli_rx, NULL, cli_state},         {"refused", cli_rx, NULL, cli_state},
};

static const wisp_stream_ops_t cli_stall_ops = {"fault_stall", cli_rx, NULL, cli_state};

static int set_meta_u(wisp_stream_t *s, const char *name, unsigned v)
{
    char b[16];
    int n = snprintf(b, sizeof(b), "%u", v);

    return wisp_stream_set_metadata(s, name, b, (size_t)n);
}

/* Start the next transaction on a slot's stream (new or idle). */
static int slot_request(slot_t *sl)
{
    uint32_t a = 1, b = 0;
    size_t i;
    int ret;

    sl->got = sl->sent = sl->text_len = 0;
    sl->rx_bad = sl->status = 0;
    sl->finished = 0;
    switch (sl->kind) {
    case K_POST_Q:
    case K_TLS_POST:
        sl->n = rnd_below(8) ? rnd_below(4096) : rnd_below(65536);
        sl->seed = rnd();
        for (i = 0; i < sl->n; i++) {
            uint8_t c = pat(i, sl->seed);

            adler(&a, &b, &c, 1);
        }
        snprintf(sl->expect, sizeof(sl->expect), "%u %08" PRIx32, sl->n, (b << 16) | a);
        /* Half announce Content-Length, half go chunked. */
        ret =
            rnd_below(2) ? wisp_stream_request_tx_len(sl->s, sl->n) : wisp_stream_request_tx(sl->s);
        break;
    case K_FAULT:
        sl->n = rnd_below(8192);
        ret = set_meta_u(sl->s, "k", (unsigned)sl->fault);
        if (!ret)
            ret = set_meta_u(sl->s, "n", sl->n);
        if (!ret)
            ret = wisp_stream_request_tx(sl->s);
        break;
    case K_REFUSED:
        ret = wisp_stream_request_tx(sl->s);
        break;
    default:
        /* GETs: mostly small, sometimes one that takes many reads. */
        sl->n = rnd_below(10) ? rnd_below(4096) : rnd_below(131072);
        if (sl->kind == K_DESTROY && sl->how == D_IN_RX)
            sl->n = 20000 + rnd_below(40000);
        ret = set_meta_u(sl->s, "n", sl->n);
        if (!ret)
            ret = wisp_stream_request_tx(sl->s);
        break;
    }
    if (ret) {
        violation("%s: request_tx: %s", kind_names[sl->kind], wisp_strerror(ret));
        return ret;
    }
    sl->open = 1;
    cl.started++;
    cl.by_kind[sl->kind]++;
    if (sl->kind == K_DESTROY && sl->how == D_AFTER_REQUEST)
        sl->destroy_now = 1;
    return 0;
}

static int only_kind = -1; /* SOAK_ONLY: one kind by name (to chase a finding) */

static int pick_kind(void)
{
    uint32_t r = rnd_below(100);
    int k;

    if (only_kind >= 0)
        return only_kind;

    for (k = 0; k < K_N - 1; k++) {
        if (r < kind_weight[k])
            return k;
        r -= kind_weight[k];
    }
    return K_N - 1;
}

static int slot_start(wisp_context_t *cx, slot_t *sl)
{
    int ret;

    memset(sl, 0, sizeof(*sl));
    sl->kind = pick_kind();
    sl->how = (int)rnd_below(3);
    if (sl->kind == K_GET_Q || sl->kind == K_POST_Q || sl->kind == K_TLS_Q)
        sl->left = rnd_below(4);
    /* A stall gets the type with the short timeout_ms: the other faults must end as
     * they do however slow a loaded machine makes the loop (no timing in the verdict). */
    if (sl->kind == K_FAULT)
        sl->fault = (int)rnd_below(FK_COUNT);
    ret = wisp_stream_create(
        cx, sl->kind == K_FAULT && sl->fault == FK_STALL ? &cli_stall_ops : &cli_ops[sl->kind], sl,
        &sl->s);
    if (ret) {
        violation("%s: create: %s", kind_names[sl->kind], wisp_strerror(ret));
        sl->s = NULL;
        return ret;
    }
    cl.streams_created++;
    cl.inflight++;
    if (slot_request(sl)) {
        wisp_stream_destroy(sl->s);
        return -1;
    }
    return 0;
}

/* After an iteration: free slots of destroyed streams, go on or destroy finished ones,
 * start new streams while the target is not reached. */
static void slots_step(wisp_context_t *cx, unsigned inflight, unsigned long target,
                       unsigned long allowed)
{
    unsigned i;

    for (i = 0; i < inflight; i++) {
        slot_t *sl = &cl.slot[i];

        if (sl->destroyed) {
            if (sl->open) {
                cl.extra_terminals++;
                violation("%s: destroyed with a cycle open", kind_names[sl->kind]);
            }
            memset(sl, 0, sizeof(*sl));
            cl.inflight--;
        }
        if (sl->s && sl->destroy_now) {
            sl->destroy_now = 0;
            wisp_stream_destroy(sl->s);
            continue;
        }
        if (sl->s && sl->finished) {
            sl->finished = 0;
            if (sl->left && cl.started < target) {
                sl->left--;
                if (!slot_request(sl))
                    continue;
            }
            wisp_stream_destroy(sl->s);
            continue;
        }
        if (!sl->s && cl.started < target && cl.started < allowed)
            (void)slot_start(cx, sl);
    }
}

/* No cycle ended for stuck_s: longer than any timeout_ms of the policy, so a stream
 * was lost (a cycle that no terminal state will ever end). Say which. */
static void report_stuck(unsigned inflight, double secs)
{
    unsigned i;

    violation("no transaction ended for %.0f s: %u streams with a cycle open", secs, cl.inflight);
    for (i = 0; i < inflight; i++) {
        const slot_t *sl = &cl.slot[i];

        if (sl->s && sl->open)
            violation("  open: %s%s%s in state %s, %zu body bytes", kind_names[sl->kind],
                      sl->kind == K_FAULT ? "/" : "",
                      sl->kind == K_FAULT ? fault_names[sl->fault] : "",
                      wisp_state_name(wisp_stream_state(sl->s)), sl->got);
    }
}

/* ---- Set-up, the run, the checks -------------------------------------------------- */

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;

    if (!f)
        return NULL;
    if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0 && !fseek(f, 0, SEEK_SET) &&
        (buf = malloc((size_t)n + 1))) {
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
        }
    }
    fclose(f);
    return buf;
}

/* A PEM file as the body of a JSON string: newlines as \n, CRs dropped. */
static char *cert_json(const char *name)
{
    char path[1024], *raw, *out, *o;
    const char *p;

    snprintf(path, sizeof(path), "%s/%s", SOAK_CERTS, name);
    raw = read_file(path);
    if (!raw) {
        fprintf(stderr, "cannot read %s\n", path);
        return NULL;
    }
    out = malloc(strlen(raw) * 2 + 1);
    for (o = out, p = raw; out && *p; p++) {
        if (*p == '\n') {
            *o++ = '\\';
            *o++ = 'n';
        } else if (*p != '\r') {
            *o++ = *p;
        }
    }
    if (out)
        *o = '\0';
    free(raw);
    return out;
}

/* The template with every @NAME@ replaced. */
static char *fill_policy(const char *tpl, const char *const *names, char *const *values, size_t n)
{
    size_t cap = strlen(tpl) + 1, i, k;
    const char *p;
    char *out, *o;

    for (i = 0; i < n; i++)
        cap += strlen(values[i]) * 4; /* generous: each name appears a few times */
    out = malloc(cap);
    if (!out)
        return NULL;
    for (o = out, p = tpl; *p;) {
        for (i = 0; i < n; i++) {
            k = strlen(names[i]);
            if (!strncmp(p, names[i], k))
                break;
        }
        if (i < n) {
            o = stpcpy(o, values[i]);
            p += strlen(names[i]);
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static wisp_stats_t stats(wisp_context_t *cx)
{
    wisp_stats_t st;

    wisp_get_stats(cx, &st);
    return st;
}

/* The context, the listeners on free ports (tried again when a port is taken in the
 * moment between picking it and listening on it). */
static int setup(const char *tpl, int refused_port, wisp_context_t **cxp, wisp_stream_t **plain,
                 wisp_stream_t **tls)
{
    static const char *const names[] = {"@CA@",          "@SERVER_CERT@", "@SERVER_KEY@",
                                        "@PLAIN_PORT@",  "@TLS_PORT@",    "@FAULT_PORT@",
                                        "@REFUSED_PORT@"};
    char ports[4][16], *values[7], *policy;
    int attempt, ret = -1, pp, tp, fd1, fd2;
    wisp_context_info_t info;

    values[0] = cert_json("ca.pem");
    values[1] = cert_json("server.pem");
    values[2] = cert_json("server.key");
    if (!values[0] || !values[1] || !values[2])
        goto out;
    for (attempt = 0; attempt < 10; attempt++) {
        fd1 = loopback_socket(0, &pp);
        fd2 = loopback_socket(0, &tp);
        if (fd1 >= 0)
            close(fd1);
        if (fd2 >= 0)
            close(fd2);
        if (fd1 < 0 || fd2 < 0)
            continue;
        snprintf(ports[0], sizeof(ports[0]), "%d", pp);
        snprintf(ports[1], sizeof(ports[1]), "%d", tp);
        snprintf(ports[2], sizeof(ports[2]), "%d", fs.port);
        snprintf(ports[3], sizeof(ports[3]), "%d", refused_port);
        values[3] = ports[0];
        values[4] = ports[1];
        values[5] = ports[2];
        values[6] = ports[3];
        policy = fill_policy(tpl, names, values, 7);
        if (!policy)
            goto out;
        memset(&info, 0, sizeof(info));
        info.policy_json = policy;
        info.policy_json_len = strlen(policy);
        info.policy_name = "soak-policy.json";
        info.allocator = &counting;
        info.log = log_sink;
        info.log_level = WISP_LOG_WARN;
        ret = wisp_context_create(&info, cxp);
        free(policy);
        if (ret) {
            fprintf(stderr, "context: %s\n", wisp_strerror(ret));
            goto out;
        }
        ret = wisp_stream_create(*cxp, &srv_plain_ops, &srv, plain);
        if (!ret) {
            ret = wisp_stream_set_user_size(*plain, sizeof(req_t));
            if (!ret)
                ret = wisp_stream_create(*cxp, &srv_tls_ops, &srv, tls);
            if (!ret)
                ret = wisp_stream_set_user_size(*tls, sizeof(req_t));
        }
        if (!ret)
            goto out;
        fprintf(stderr, "listen on %d/%d: %s, again\n", pp, tp, wisp_strerror(ret));
        wisp_context_destroy(*cxp);
        *cxp = NULL;
    }
out:
    free(values[0]);
    free(values[1]);
    free(values[2]);
    return ret;
}

static void sample(FILE *f, double t0, wisp_context_t *cx)
{
    wisp_stats_t st = stats(cx);

    fprintf(f, "%.2f %lu %zu %u %d %zu\n", now_s() - t0, cl.ended, st.heap_in_use, st.conns_live,
            open_fds(), malloc_in_use());
    fflush(f);
}

static void print_summary(double secs, const wisp_stats_t *st)
{
    unsigned long total[T_N] = {0};
    int k, t;

    printf("transactions %lu\nended %lu\nseconds %.1f\nper_second %.0f\nstreams_created %lu\n",
           cl.started, cl.ended, secs, secs > 0 ? (double)cl.ended / secs : 0.0,
           cl.streams_created);
    for (k = 0; k < K_N; k++) {
        printf("kind %-9s %7lu:", kind_names[k], cl.by_kind[k]);
        for (t = 0; t < T_N; t++) {
            printf(" %s %lu", term_names[t], cl.term[k][t]);
            total[t] += cl.term[k][t];
        }
        putchar('\n');
    }
    for (k = 0; k < FK_COUNT; k++) {
        printf("fault %-9s %6lu (raw server saw %lu):", fault_names[k],
               cl.fault_term[k][0] + cl.fault_term[k][1] + cl.fault_term[k][2] +
                   cl.fault_term[k][3],
               fs.by_fault[k]);
        for (t = 0; t < T_N; t++)
            printf(" %s %lu", term_names[t], cl.fault_term[k][t]);
        putchar('\n');
    }
    printf("terminal");
    for (t = 0; t < T_N; t++)
        printf(" %s %lu", term_names[t], total[t]);
    printf("\nextra_terminals %lu\nafter_destroying %lu\n", cl.extra_terminals,
           cl.after_destroying);
    printf("server requests %lu done %lu disconnected %lu destroyed %lu bad %lu\n", srv.requests,
           srv.done, srv.lost, srv.destroyed, srv.bad);
    printf("stats conns_opened %u handshakes_full %u handshakes_resumed %u transactions %u "
           "reuses %u retries %u heap_peak %zu bytes_in %" PRIu64 " bytes_out %" PRIu64 "\n",
           st->conns_opened, st->handshakes_full, st->handshakes_resumed, st->transactions,
           st->reuses, st->retries, st->heap_peak, st->bytes_in, st->bytes_out);
    printf("live vhosts %u conns %u streams %u\n", st->vhosts_live, st->conns_live,
           st->streams_live);
    printf("log warn %lu error %lu\n", log_lines[WISP_LOG_WARN], log_lines[WISP_LOG_ERROR]);
}

int main(void)
{
    unsigned long target = env_ul("SOAK_TRANSACTIONS", 2000);
    unsigned inflight = (unsigned)env_ul("SOAK_INFLIGHT", 32);
    double sample_s = (double)env_ul("SOAK_SAMPLE_MS", 1000) / 1000.0, t0, next_sample, drain;
    double pace_s = (double)env_ul("SOAK_SECONDS", 0), progress;
    double stuck_s = (double)env_ul("SOAK_STUCK_SECONDS", 75);
    unsigned long allowed, ended_before = 0;
    const char *data_path = getenv("SOAK_DATA") ? getenv("SOAK_DATA") : "soak.dat";
    const char *tpl_path = getenv("SOAK_POLICY") ? getenv("SOAK_POLICY") : SOAK_POLICY_DEFAULT;
    wisp_stream_t *plain = NULL, *tls = NULL;
    wisp_context_t *cx = NULL;
    int fd0, refused_fd, refused_port, ret, i;
    size_t heap0, heap_end;
    wisp_stats_t st;
    char *tpl;
    FILE *data;

    rng_state = env_ul("SOAK_SEED", 1) * 0x9E3779B97F4A7C15ull + 1;
    if (inflight < 1 || inflight > MAX_INFLIGHT)
        inflight = 32;
    for (i = 0; getenv("SOAK_ONLY") && i < K_N; i++)
        if (!strcmp(getenv("SOAK_ONLY"), kind_names[i]))
            only_kind = i;
    fd0 = open_fds();
    tpl = read_file(tpl_path);
    data = fopen(data_path, "w");
    if (!tpl || !data) {
        fprintf(stderr, "cannot read %s or write %s\n", tpl_path, data_path);
        return 2;
    }
    fprintf(data, "# seconds transactions_ended wisp_heap_in_use conns_live open_fds "
                  "malloc_in_use\n");
    /* A port bound and never listened on: connecting to it is refused. */
    refused_fd = loopback_socket(0, &refused_port);
    if (refused_fd < 0 || fs_start() || setup(tpl, refused_port, &cx, &plain, &tls)) {
        fprintf(stderr, "set-up failed\n");
        return 2;
    }
    free(tpl);
    st = stats(cx);
    heap0 = st.heap_in_use;
    printf("seed %lu inflight %u target %lu fds_start %d heap_start %zu vhosts %u\n",
           env_ul("SOAK_SEED", 1), inflight, target, fd0, heap0, st.vhosts_live);

    t0 = now_s();
    next_sample = progress = t0;
    while (cl.started < target || cl.inflight) {
        if (now_s() >= next_sample) {
            sample(data, t0, cx);
            next_sample += sample_s;
        }
        /* Paced (SOAK_SECONDS): no more started than the share of the run elapsed. */
        allowed =
            pace_s > 0 ? (unsigned long)((double)target * (now_s() - t0) / pace_s) + 1 : target;
        if (cl.ended != ended_before) {
            ended_before = cl.ended;
            progress = now_s();
        } else if (now_s() - progress > stuck_s) {
            report_stuck(inflight, now_s() - progress);
            break;
        }
        slots_step(cx, inflight, target, allowed);
        ret = wisp_service(cx, pace_s > 0 ? 5 : 50);
        if (ret) {
            violation("wisp_service: %s", wisp_strerror(ret));
            break;
        }
    }
    sample(data, t0, cx);
    for (i = 0; i < (int)inflight; i++)
        wisp_stream_destroy(cl.slot[i].s); /* only after a stuck run: none is left else */
    for (i = 0; i < 5; i++)
        (void)wisp_service(cx, 1);

    /* Drain: idle kept-alive connections close, the server side sees them go. */
    (void)wisp_context_close_idle(cx);
    for (drain = now_s(); now_s() - drain < 10.0;) {
        if (wisp_service(cx, 20))
            break;
        st = stats(cx);
        if (!st.conns_live && st.streams_live == 2)
            break;
    }
    st = stats(cx);
    heap_end = st.heap_in_use;
    sample(data, t0, cx);
    print_summary(now_s() - t0, &st);
    if (st.conns_live || st.streams_live != 2)
        violation("after the drain: %u connections, %u streams live (2 listeners expected)",
                  st.conns_live, st.streams_live);
    if (heap_end != heap0)
        violation("wisp heap %zu at the end, %zu at the start", heap_end, heap0);
    if (cl.started != cl.ended)
        violation("%lu request_tx, %lu terminal states", cl.started, cl.ended);
    if (srv.requests != srv.done + srv.lost || srv.destroyed < srv.requests)
        violation("server: %lu requests, %lu done, %lu disconnected, %lu destroyed", srv.requests,
                  srv.done, srv.lost, srv.destroyed);

    wisp_stream_destroy(plain);
    wisp_stream_destroy(tls);
    for (i = 0; i < 5; i++)
        (void)wisp_service(cx, 1);
    wisp_context_destroy(cx);
    fs_stop();
    close(refused_fd);
    fclose(data);
    printf("heap_end %zu (wisp, before the context went) heap_after_destroy %zu blocks %zu\n",
           heap_end, heap.in_use, heap.blocks);
    printf("fds_end %d\n", open_fds());
    if (heap.in_use || heap.blocks)
        violation("%zu bytes in %zu blocks left after wisp_context_destroy", heap.in_use,
                  heap.blocks);
    /* The data file was open at the start's count; it is closed now, as at the start. */
    if (open_fds() != fd0)
        violation("%d fds open at the end, %d at the start", open_fds(), fd0);
    printf("violations %u\n", violations);
    return violations ? 1 : 0;
}
