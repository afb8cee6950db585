/*
 * The fake network of fakenet.h. Test code: plain malloc, no limits worth a cap.
 *
 * Each client socket is a fake_conn with two byte queues (client to server, server
 * to client), a state, and the server's request parser position. The server runs
 * inside poll(): before readiness is computed, due scheduled actions run, finished
 * connects complete, name lookups are answered, and complete requests in each
 * client-to-server queue are handed to the script.
 */
#include "fakenet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wisp/error.h"

#define WAKE_FD 3
#define FD_BASE 100
#define LFD_BASE 50 /* listening sockets: 50..50+MAX_LISTEN-1 */
#define MAX_LISTEN 8
#define PORT_BASE 20000

typedef struct bytes {
    uint8_t *p;
    size_t len, cap;
} bytes_t;

enum { C_CONNECTING, C_REFUSED, C_HANG, C_UP };

struct fake_conn {
    fake_conn_t *next;
    fakenet_t *fn;
    int fd;
    unsigned index;
    int state;
    int client_closed; /* wisp closed its fd */
    int server_closed; /* FIN sent: EOF after s2c drains */
    int reset;         /* RST: every call fails */
    unsigned requests;
    int accepted;     /* wisp's server side: dialled by fakenet_dial() */
    int pending;      /* dialled, not yet accepted (listener index + 1) */
    int stalled;      /* the client reads nothing: no room for wisp's sends */
    bytes_t c2s, s2c; /* from wisp, to wisp */
};

typedef struct flisten {
    int open;
    uint16_t port;
} flisten_t;

typedef struct event {
    struct event *next;
    uint64_t due;
    fake_conn_t *c;
    void (*cb)(fake_conn_t *c, void *arg);
    void *arg;
    uint8_t *data; /* fake_send_later's copy, freed with the event */
    size_t len;
} event_t;

typedef struct dnsjob {
    struct dnsjob *next;
    wisp_resolve_job_t *job;
} dnsjob_t;

struct fakenet {
    wisp_plat_ops_t ops;
    fakenet_server_t server;
    uint64_t now;
    uint32_t rnd;
    int wake;
    fake_conn_t *conns, *conns_tail;
    unsigned nconns, nclient, open, requests;
    unsigned send_calls, recv_calls, recv_eagain;
    event_t *events;
    dnsjob_t *dns;
    char dns_fail[8][64];
    unsigned ndns_fail;
    flisten_t listen[MAX_LISTEN];
    unsigned nlisten, naccepted_srv, next_port;
};

/* ---- Byte queues ---- */

static void bytes_put(bytes_t *b, const void *p, size_t len)
{
    if (!len)
        return; /* b->p may still be NULL */
    if (b->len + len > b->cap) {
        size_t ncap = b->cap ? b->cap : 256;

        while (ncap < b->len + len)
            ncap *= 2;
        b->p = realloc(b->p, ncap);
        if (!b->p)
            abort();
        b->cap = ncap;
    }
    memcpy(b->p + b->len, p, len);
    b->len += len;
}

static void bytes_take(bytes_t *b, size_t n)
{
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
}

/* ---- The server's request parser ---- */

static const uint8_t *find(const uint8_t *p, size_t len, const char *pat)
{
    size_t n = strlen(pat), i;

    for (i = 0; i + n <= len; i++)
        if (!memcmp(p + i, pat, n))
            return p + i;
    return NULL;
}

/* The value of header name in head[0..len), or NULL; copied into out. */
static const char *header(const uint8_t *head, size_t len, const char *name, char *out, size_t cap)
{
    const char *p = (const char *)head, *end = p + len;
    size_t nl = strlen(name);

    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t l;

        if (!eol)
            break;
        l = (size_t)(eol - p);
        if (l > nl && p[nl] == ':' && !strncasecmp(p, name, nl)) {
            const char *v = p + nl + 1;
            size_t vl;

            while (*v == ' ')
                v++;
            vl = (size_t)(eol - v);
            if (vl && v[vl - 1] == '\r')
                vl--;
            if (vl >= cap)
                vl = cap - 1;
            memcpy(out, v, vl);
            out[vl] = '\0';
            return out;
        }
        p = eol + 1;
    }
    return NULL;
}

/* Length of a complete chunked body at p (0 if incomplete), its decoded size in *n. */
static size_t chunked_len(const uint8_t *p, size_t len, size_t *n)
{
    size_t off = 0;

    *n = 0;
    for (;;) {
        const uint8_t *eol = find(p + off, len - off, "\r\n");
        unsigned long sz;

        if (!eol)
            return 0;
        sz = strtoul((const char *)p + off, NULL, 16);
        off = (size_t)(eol - p) + 2;
        if (!sz)
            return off + 2 <= len ? off + 2 : 0; /* no trailers: just the CRLF */
        if (off + sz + 2 > len)
            return 0;
        off += sz + 2;
        *n += sz;
    }
}

static void serve_one(fake_conn_t *c, const fn_req_t *req)
{
    fakenet_t *fn = c->fn;

    if (fn->server.on_request)
        fn->server.on_request(fn->server.user, c, req);
    else
        fake_respond(c, 200, NULL, "hello");
}

/* Hand every complete request in c2s to the script. */
static void serve(fake_conn_t *c)
{
    while (!c->server_closed && !c->reset && c->c2s.len) {
        const uint8_t *p = c->c2s.p, *end = find(p, c->c2s.len, "\r\n\r\n");
        size_t head, total;
        char v[64];
        fn_req_t req;

        if (!end)
            return;
        head = (size_t)(end - p) + 4;
        memset(&req, 0, sizeof(req));
        {
            char line[300];
            size_t l = head < sizeof(line) - 1 ? head : sizeof(line) - 1;

            memcpy(line, p, l); /* the queue is not NUL-terminated */
            line[l] = '\0';
            if (sscanf(line, "%15s %255s", req.method, req.path) != 2)
                strcpy(req.method, "?");
        }
        if (header(p, head, "transfer-encoding", v, sizeof(v))) {
            size_t n = chunked_len(p + head, c->c2s.len - head, &req.body_len);

            if (!n)
                return;
            req.chunked = 1;
            total = head + n;
        } else {
            size_t cl = header(p, head, "content-length", v, sizeof(v)) ? strtoul(v, NULL, 10) : 0;

            if (c->c2s.len < head + cl)
                return;
            req.body_len = cl;
            total = head + cl;
        }
        req.conn_index = c->index;
        req.index = c->requests++;
        req.global_index = c->fn->requests++;
        req.behind = c->c2s.len - total;
        bytes_take(&c->c2s, total);
        serve_one(c, &req);
    }
}

/* ---- Server actions ---- */

void fake_send(fake_conn_t *c, const void *buf, size_t len)
{
    if (!c->server_closed && !c->reset)
        bytes_put(&c->s2c, buf, len);
}

void fake_send_str(fake_conn_t *c, const char *s)
{
    fake_send(c, s, strlen(s));
}

void fake_respond(fake_conn_t *c, int status, const char *extra, const char *body)
{
    char head[512];
    size_t blen = body ? strlen(body) : 0;

    snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n%s\r\n", status, blen,
             extra ? extra : "");
    fake_send_str(c, head);
    if (blen)
        fake_send(c, body, blen);
}

void fake_close(fake_conn_t *c)
{
    c->server_closed = 1;
}

void fake_reset(fake_conn_t *c)
{
    c->reset = 1;
    c->s2c.len = 0;
}

static event_t *later(fake_conn_t *c, uint32_t ms, void (*cb)(fake_conn_t *c, void *arg), void *arg)
{
    fakenet_t *fn = c->fn;
    event_t *e = calloc(1, sizeof(*e)), **pp;

    if (!e)
        abort();
    e->due = fn->now + ms;
    e->c = c;
    e->cb = cb;
    e->arg = arg;
    for (pp = &fn->events; *pp && (*pp)->due <= e->due; pp = &(*pp)->next)
        ;
    e->next = *pp;
    *pp = e;
    return e;
}

void fake_later(fake_conn_t *c, uint32_t ms, void (*cb)(fake_conn_t *c, void *arg), void *arg)
{
    (void)later(c, ms, cb, arg);
}

static void ev_close(fake_conn_t *c, void *arg)
{
    (void)arg;
    fake_close(c);
}

static void ev_reset(fake_conn_t *c, void *arg)
{
    (void)arg;
    fake_reset(c);
}

static void ev_send(fake_conn_t *c, void *arg)
{
    event_t *e = arg;

    fake_send(c, e->data, e->len);
}

void fake_send_later(fake_conn_t *c, uint32_t ms, const void *buf, size_t len)
{
    event_t *e = later(c, ms, ev_send, NULL);

    e->arg = e;
    if (len) {
        e->data = malloc(len);
        if (!e->data)
            abort();
        memcpy(e->data, buf, len);
        e->len = len;
    }
}

void fake_close_later(fake_conn_t *c, uint32_t ms)
{
    (void)later(c, ms, ev_close, NULL);
}

void fake_reset_later(fake_conn_t *c, uint32_t ms)
{
    (void)later(c, ms, ev_reset, NULL);
}

void fake_stall(fake_conn_t *c, int on)
{
    c->stalled = on;
}

const uint8_t *fake_written(const fake_conn_t *c, size_t *len)
{
    *len = c->c2s.len;
    return c->c2s.p;
}

size_t fake_unread(const fake_conn_t *c)
{
    return c->s2c.len;
}

int fake_wisp_closed(const fake_conn_t *c)
{
    return c->client_closed;
}

unsigned fake_conn_index(const fake_conn_t *c)
{
    return c->index;
}

/* ---- Platform ops ---- */

static fake_conn_t *conn_of(fakenet_t *fn, int fd)
{
    fake_conn_t *c;

    for (c = fn->conns; c; c = c->next)
        if (c->fd == fd && !c->client_closed && !c->pending)
            return c;
    return NULL;
}

static uint64_t f_now(void *u)
{
    return ((fakenet_t *)u)->now;
}

static int f_entropy(void *u, void *buf, size_t len)
{
    fakenet_t *fn = u;
    uint8_t *b = buf;
    size_t i;

    for (i = 0; i < len; i++) {
        fn->rnd ^= fn->rnd << 13;
        fn->rnd ^= fn->rnd >> 17;
        fn->rnd ^= fn->rnd << 5;
        b[i] = (uint8_t)fn->rnd;
    }
    return 0;
}

static int f_connect(void *u, const wisp_addr_t *to, int *fd)
{
    fakenet_t *fn = u;
    fake_conn_t *c = calloc(1, sizeof(*c));
    int how = FN_ACCEPT;

    (void)to;
    if (!c)
        return WISP_ENOMEM;
    c->fn = fn;
    fn->nclient++;
    c->index = fn->nconns++;
    c->fd = FD_BASE + (int)c->index;
    if (fn->conns_tail)
        fn->conns_tail->next = c;
    else
        fn->conns = c;
    fn->conns_tail = c;
    if (fn->server.on_accept)
        how = fn->server.on_accept(fn->server.user, c, c->index);
    c->state = how == FN_REFUSE ? C_REFUSED : how == FN_HANG ? C_HANG : C_CONNECTING;
    fn->open++;
    *fd = c->fd;
    return 0;
}

static int f_send(void *u, int fd, const void *buf, size_t len)
{
    fake_conn_t *c = conn_of(u, fd);

    ((fakenet_t *)u)->send_calls++;
    if (!c || c->reset)
        return WISP_ERESET;
    if (c->state != C_UP || c->stalled)
        return WISP_EAGAIN;
    /* After a fake server's FIN, bytes go nowhere; a fake client's FIN is a
     * half-close, and it still reads what wisp answers. */
    if (!c->server_closed || c->accepted)
        bytes_put(&c->c2s, buf, len);
    return (int)(len > 0x7fffffff ? 0x7fffffff : len);
}

static int f_recv(void *u, int fd, void *buf, size_t len)
{
    fake_conn_t *c = conn_of(u, fd);
    size_t n;

    ((fakenet_t *)u)->recv_calls++;
    if (!c || c->reset)
        return WISP_ERESET;
    if (!c->s2c.len) {
        if (c->server_closed)
            return 0;
        ((fakenet_t *)u)->recv_eagain++;
        return WISP_EAGAIN;
    }
    n = c->s2c.len < len ? c->s2c.len : len;
    memcpy(buf, c->s2c.p, n);
    bytes_take(&c->s2c, n);
    return (int)n;
}

static int f_sock_error(void *u, int fd)
{
    fake_conn_t *c = conn_of(u, fd);

    return !c ? WISP_ESOCKET : c->state == C_REFUSED ? WISP_EREFUSED : 0;
}

static void f_close(void *u, int fd)
{
    fakenet_t *fn = u;
    fake_conn_t *c;

    if (fd >= LFD_BASE && fd < LFD_BASE + MAX_LISTEN) {
        flisten_t *l = &fn->listen[fd - LFD_BASE];

        if (l->open) {
            l->open = 0;
            fn->open--;
            /* Dialled and never accepted: the client sees a reset. */
            for (c = fn->conns; c; c = c->next) {
                if (c->pending == fd - LFD_BASE + 1) {
                    c->pending = 0;
                    c->client_closed = 1;
                    c->reset = 1;
                }
            }
        }
        return;
    }
    c = conn_of(fn, fd);
    if (c) {
        c->client_closed = 1;
        fn->open--;
    }
}

static int f_listen(void *u, const wisp_addr_t *at, int backlog, int *fd, wisp_addr_t *bound)
{
    fakenet_t *fn = u;
    unsigned i;
    uint16_t port = at->port;

    (void)backlog;
    for (i = 0; i < MAX_LISTEN; i++)
        if (fn->listen[i].open && port && fn->listen[i].port == port)
            return WISP_EEXIST;
    for (i = 0; i < MAX_LISTEN && fn->listen[i].open; i++)
        ;
    if (i == MAX_LISTEN)
        return WISP_ESOCKET;
    if (!port)
        port = (uint16_t)(PORT_BASE + fn->next_port++);
    fn->listen[i].open = 1;
    fn->listen[i].port = port;
    fn->open++;
    fn->nlisten++;
    if (bound) {
        *bound = *at;
        bound->port = port;
    }
    *fd = LFD_BASE + (int)i;
    return 0;
}

static int f_accept(void *u, int lfd, int *fd, wisp_addr_t *peer)
{
    fakenet_t *fn = u;
    fake_conn_t *c;

    if (lfd < LFD_BASE || lfd >= LFD_BASE + MAX_LISTEN || !fn->listen[lfd - LFD_BASE].open)
        return WISP_ESOCKET;
    for (c = fn->conns; c; c = c->next) {
        if (c->pending == lfd - LFD_BASE + 1) {
            c->pending = 0;
            c->state = C_UP;
            fn->open++;
            fn->naccepted_srv++;
            *fd = c->fd;
            if (peer)
                (void)wisp_addr_parse("127.0.0.1", (uint16_t)(40000 + c->index), peer);
            return 0;
        }
    }
    return WISP_EAGAIN;
}

fake_conn_t *fakenet_dial(fakenet_t *fn, uint16_t port)
{
    fake_conn_t *c;
    unsigned i;

    for (i = 0; i < MAX_LISTEN; i++)
        if (fn->listen[i].open && fn->listen[i].port == port)
            break;
    if (i == MAX_LISTEN)
        return NULL;
    c = calloc(1, sizeof(*c));
    if (!c)
        abort();
    c->fn = fn;
    c->index = fn->nconns++;
    c->fd = FD_BASE + (int)c->index;
    c->accepted = 1;
    c->pending = (int)i + 1;
    c->state = C_CONNECTING;
    if (fn->conns_tail)
        fn->conns_tail->next = c;
    else
        fn->conns = c;
    fn->conns_tail = c;
    return c;
}

unsigned fakenet_listening(const fakenet_t *fn)
{
    unsigned i, n = 0;

    for (i = 0; i < MAX_LISTEN; i++)
        n += fn->listen[i].open != 0;
    return n;
}

unsigned fakenet_server_accepted(const fakenet_t *fn)
{
    return fn->naccepted_srv;
}

static uint8_t readiness(fakenet_t *fn, const wisp_pollfd_t *p)
{
    fake_conn_t *c;
    uint8_t r = 0;

    if (p->fd == WAKE_FD)
        return fn->wake ? WISP_POLLIN : 0;
    if (p->fd >= LFD_BASE && p->fd < LFD_BASE + MAX_LISTEN) {
        unsigned li = (unsigned)(p->fd - LFD_BASE);

        if (!fn->listen[li].open)
            return 0;
        for (c = fn->conns; c; c = c->next)
            if (c->pending == (int)li + 1)
                return (uint8_t)(WISP_POLLIN & p->events);
        return 0;
    }
    c = conn_of(fn, p->fd);
    if (!c)
        return 0;
    if (c->reset)
        return (uint8_t)(WISP_POLLERR | WISP_POLLHUP | (p->events & WISP_POLLIN));
    if (c->state == C_REFUSED)
        return WISP_POLLOUT | WISP_POLLERR;
    if (c->state != C_UP)
        return 0;
    if (!c->stalled)
        r |= WISP_POLLOUT;
    if (c->s2c.len || c->server_closed)
        r |= WISP_POLLIN;
    return (uint8_t)(r & (p->events | WISP_POLLERR | WISP_POLLHUP));
}

/* Everything the network does at the current virtual time. */
static void step(fakenet_t *fn)
{
    fake_conn_t *c;
    dnsjob_t **pp;

    while (fn->events && fn->events->due <= fn->now) {
        event_t *e = fn->events;

        fn->events = e->next;
        e->cb(e->c, e->arg);
        free(e->data);
        free(e);
    }
    for (pp = &fn->dns; *pp;) {
        dnsjob_t *d = *pp;
        wisp_resolve_job_t *job = d->job;
        unsigned i;

        job->status = 0;
        job->count = 1;
        for (i = 0; i < fn->ndns_fail; i++)
            if (!strcmp(job->host, fn->dns_fail[i]))
                job->status = WISP_EDNS, job->count = 0;
        (void)wisp_addr_parse("127.0.0.1", job->port, &job->addrs[0]);
        if (job->done(job) == WISP_EBUSY) {
            pp = &d->next;
            continue;
        }
        *pp = d->next;
        free(d);
    }
    for (c = fn->conns; c; c = c->next) {
        if (c->client_closed)
            continue;
        if (c->state == C_CONNECTING)
            c->state = C_UP;
        if (c->state == C_UP && !c->accepted)
            serve(c);
    }
}

static int f_poll(void *u, wisp_pollfd_t *fds, size_t n, int timeout_ms, void *scratch)
{
    fakenet_t *fn = u;
    uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : fn->now + (uint64_t)timeout_ms;

    (void)scratch;
    for (;;) {
        size_t i;
        int ready = 0;

        step(fn);
        for (i = 0; i < n; i++) {
            fds[i].revents = readiness(fn, &fds[i]);
            ready += fds[i].revents != 0;
        }
        if (ready)
            return ready;
        /* Nothing now: jump to the next scheduled action, or to the deadline. */
        if (fn->events && fn->events->due <= deadline) {
            fn->now = fn->events->due > fn->now ? fn->events->due : fn->now;
            continue;
        }
        if (deadline != UINT64_MAX)
            fn->now = deadline;
        return 0;
    }
}

static int f_wake_open(void *u, void *wake, int *fd)
{
    (void)u;
    (void)wake;
    *fd = WAKE_FD;
    return 0;
}

static void f_wake_signal(void *u, void *wake)
{
    (void)wake;
    ((fakenet_t *)u)->wake = 1;
}

static void f_wake_drain(void *u, void *wake)
{
    (void)wake;
    ((fakenet_t *)u)->wake = 0;
}

static void f_nop_wake(void *u, void *wake)
{
    (void)u;
    (void)wake;
}

static int f_lock_create(void *u, void *lock)
{
    (void)u;
    (void)lock;
    return 0;
}

static void f_nop_lock(void *u, void *lock)
{
    (void)u;
    (void)lock;
}

static int f_resolve(void *u, wisp_resolve_job_t *job)
{
    fakenet_t *fn = u;
    dnsjob_t *d = calloc(1, sizeof(*d)), **pp;

    if (!d)
        return WISP_ENOMEM;
    d->job = job;
    for (pp = &fn->dns; *pp; pp = &(*pp)->next)
        ;
    *pp = d;
    return 0;
}

/* ---- Public ---- */

fakenet_t *fakenet_new(const fakenet_server_t *server, uint32_t seed)
{
    fakenet_t *fn = calloc(1, sizeof(*fn));

    if (!fn)
        abort();
    if (server)
        fn->server = *server;
    fn->now = 1000000;
    fn->rnd = seed ? seed : 0x9e3779b9u;
    fn->ops.user = fn;
    fn->ops.now_ms = f_now;
    fn->ops.entropy = f_entropy;
    fn->ops.tcp_connect = f_connect;
    fn->ops.tcp_listen = f_listen;
    fn->ops.tcp_accept = f_accept;
    fn->ops.sock_send = f_send;
    fn->ops.sock_recv = f_recv;
    fn->ops.sock_error = f_sock_error;
    fn->ops.sock_close = f_close;
    fn->ops.poll = f_poll;
    fn->ops.poll_scratch = 0;
    fn->ops.wake_open = f_wake_open;
    fn->ops.wake_signal = f_wake_signal;
    fn->ops.wake_drain = f_wake_drain;
    fn->ops.wake_close = f_nop_wake;
    fn->ops.lock_create = f_lock_create;
    fn->ops.lock = f_nop_lock;
    fn->ops.unlock = f_nop_lock;
    fn->ops.lock_destroy = f_nop_lock;
    fn->ops.resolve = f_resolve;
    return fn;
}

void fakenet_free(fakenet_t *fn)
{
    fake_conn_t *c;

    if (!fn)
        return;
    while (fn->events) {
        event_t *e = fn->events;

        fn->events = e->next;
        free(e->data);
        free(e);
    }
    while (fn->dns) {
        dnsjob_t *d = fn->dns;

        fn->dns = d->next;
        free(d);
    }
    while ((c = fn->conns) != NULL) {
        fn->conns = c->next;
        free(c->c2s.p);
        free(c->s2c.p);
        free(c);
    }
    free(fn);
}

const wisp_plat_ops_t *fakenet_ops(fakenet_t *fn)
{
    return &fn->ops;
}

uint64_t fakenet_now(const fakenet_t *fn)
{
    return fn->now;
}

unsigned fakenet_open(const fakenet_t *fn)
{
    return fn->open;
}

unsigned fakenet_accepted(const fakenet_t *fn)
{
    return fn->nclient;
}

unsigned fakenet_requests(const fakenet_t *fn)
{
    return fn->requests;
}

void fakenet_dns_fail(fakenet_t *fn, const char *name)
{
    if (fn->ndns_fail < 8)
        snprintf(fn->dns_fail[fn->ndns_fail++], sizeof(fn->dns_fail[0]), "%s", name);
}

unsigned fakenet_dns_pending(const fakenet_t *fn)
{
    const dnsjob_t *d;
    unsigned n = 0;

    for (d = fn->dns; d; d = d->next)
        n++;
    return n;
}

unsigned fakenet_send_calls(const fakenet_t *fn)
{
    return fn->send_calls;
}

unsigned fakenet_recv_calls(const fakenet_t *fn)
{
    return fn->recv_calls;
}

unsigned fakenet_recv_eagain(const fakenet_t *fn)
{
    return fn->recv_eagain;
}
