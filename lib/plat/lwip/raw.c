/*
 * The lwIP raw-API port (NO_SYS=1, bare metal): wisp_plat_ops_t over lwip/tcp.h.
 *
 * There are no threads and no blocking calls. lwIP calls back (recv, sent, err,
 * connected, accept) from inside sys_check_timeouts() and netif input, which run only
 * inside this port's poll(); the callbacks fill a per-socket record and poll() reads
 * readiness from those records, so poll never waits on a socket call:
 *
 *   slot[i]  kind (TCP, LISTEN, WAKE), pcb, rx (a pbuf chain exactly as lwIP gave it),
 *            eof, err, accept ring (listeners), the wake flag (WAKE)
 *   fd       = slot index; slots are static (WISP_LWIP_RAW_SOCKETS), shared by every
 *            context of the program
 *
 * Received pbufs are queued as they arrive (pbuf_cat, no copy) and recv() copies from
 * the chain straight into the caller's buffer, then drops what it consumed with
 * pbuf_free_header() and opens the window by that much (tcp_recved), so the TCP
 * window is the only buffer. send() must copy (TCP_WRITE_FLAG_COPY): the core reuses
 * its buffer as soon as send returns.
 *
 * Readiness is read from lwIP's state at poll time (tcp_sndbuf for room), so the
 * sent and poll callbacks have nothing to add and are not registered: the records
 * the callbacks keep are what cannot be read back later (data, EOF, errors, accepts).
 *
 * Readiness: POLLIN = data, EOF, an error, or a pending accept; POLLOUT = connected
 * with room in the send buffer (tcp_sndbuf), or the connect finished either way;
 * POLLERR = an error from lwIP's err callback (the pcb is gone then).
 *
 * Closing: tcp_close() (tcp_abort() if lwIP is out of memory or unread data remains,
 * which is what a POSIX close does). The slot is free at once: its callbacks are
 * detached first, so lwIP never calls into a reused slot.
 *
 * Names: dns_gethostbyname() with a callback; a finished lookup is offered to the
 * core with job->done() and, if the post ring is full (WISP_EBUSY), offered again on
 * every poll until taken.
 */
#include <string.h>

#include "lwip/dns.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/tcp.h"
#include "lwip/timeouts.h"

#include "wisp-lwip.h"
#include "wisp/error.h"

#ifndef WISP_LWIP_RAW_SOCKETS
#define WISP_LWIP_RAW_SOCKETS 8 /* RAM: ~28 bytes each + the accept ring */
#endif
#ifndef WISP_LWIP_RAW_BACKLOG
#define WISP_LWIP_RAW_BACKLOG 4 /* accepted connections waiting per listener */
#endif
#ifndef WISP_LWIP_RAW_RESOLVES
#define WISP_LWIP_RAW_RESOLVES 2 /* name lookups in flight */
#endif
#define MAX_SLEEP_MS (24u * 3600u * 1000u)

enum { K_FREE, K_TCP, K_LISTEN, K_WAKE, K_ACCEPTED };
enum { F_CONNECTING = 1, F_CONNECTED = 2, F_EOF = 4, F_ERR_SEEN = 8 };

typedef struct raw_sock {
    uint8_t kind, flags;
    int8_t err; /* a WISP_E* code, 0 if none */
    uint8_t nacc;
    union {
        struct tcp_pcb *pcb;
        volatile uint8_t *wake; /* K_WAKE: the flag in the context's wake storage */
    } u;
    struct pbuf *rx;
    int8_t acc[WISP_LWIP_RAW_BACKLOG]; /* K_LISTEN: accepted slots, oldest first */
} raw_sock_t;

static raw_sock_t socks[WISP_LWIP_RAW_SOCKETS];

static int slot_alloc(uint8_t kind)
{
    int i;

    for (i = 0; i < WISP_LWIP_RAW_SOCKETS; i++) {
        if (socks[i].kind == K_FREE) {
            memset(&socks[i], 0, sizeof(socks[i]));
            socks[i].kind = kind;
            return i;
        }
    }
    return -1;
}

static raw_sock_t *get(int fd, uint8_t kind)
{
    if (fd < 0 || fd >= WISP_LWIP_RAW_SOCKETS || socks[fd].kind != kind)
        return NULL;
    return &socks[fd];
}

static int map_err(err_t e)
{
    switch (e) {
    case ERR_OK:
        return 0;
    case ERR_MEM:
    case ERR_BUF:
        return WISP_ENOMEM;
    case ERR_RTE:
        return WISP_EUNREACH;
    case ERR_USE:
    case ERR_ISCONN:
        return WISP_EEXIST;
    case ERR_RST:
    case ERR_ABRT:
        return WISP_ERESET;
    case ERR_CLSD:
        return WISP_ECLOSED;
    case ERR_TIMEOUT:
        return WISP_ETIMEDOUT;
    default:
        return WISP_ESOCKET;
    }
}

static void to_ip(const wisp_addr_t *a, ip_addr_t *ip)
{
    IP_ADDR4(ip, a->ip[0], a->ip[1], a->ip[2], a->ip[3]);
}

static void from_ip(const ip_addr_t *ip, uint16_t port, wisp_addr_t *a)
{
    uint32_t v = lwip_ntohl(ip4_addr_get_u32(ip_2_ip4(ip)));

    memset(a, 0, sizeof(*a));
    a->family = 4;
    a->port = port;
    a->ip[0] = (uint8_t)(v >> 24);
    a->ip[1] = (uint8_t)(v >> 16);
    a->ip[2] = (uint8_t)(v >> 8);
    a->ip[3] = (uint8_t)v;
}

/* ---- lwIP callbacks: they only record, the loop acts on poll ---- */

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    raw_sock_t *s = arg;

    (void)pcb;
    (void)err;
    if (!p) {
        s->flags |= F_EOF;
        return ERR_OK;
    }
    if (s->rx)
        pbuf_cat(s->rx, p);
    else
        s->rx = p;
    return ERR_OK;
}

static void on_err(void *arg, err_t err)
{
    raw_sock_t *s = arg;

    /* The pcb is freed already. A reset while connecting is a refusal. */
    s->u.pcb = NULL;
    s->err = (int8_t)((err == ERR_RST && (s->flags & F_CONNECTING)) ? WISP_EREFUSED : map_err(err));
    if (!s->err)
        s->err = WISP_ESOCKET;
    s->flags &= (uint8_t)~F_CONNECTING;
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    raw_sock_t *s = arg;

    (void)pcb;
    s->flags = (uint8_t)((s->flags & ~F_CONNECTING) | F_CONNECTED);
    if (err != ERR_OK)
        s->err = (int8_t)map_err(err);
    return ERR_OK;
}

static void watch(raw_sock_t *s, struct tcp_pcb *pcb)
{
    s->u.pcb = pcb;
    tcp_arg(pcb, s);
    tcp_recv(pcb, on_recv);
    tcp_err(pcb, on_err);
    tcp_nagle_disable(pcb); /* TCP_NODELAY: one TLS flight, one segment */
}

static err_t on_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    raw_sock_t *l = arg;
    int i;

    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    i = l->nacc < WISP_LWIP_RAW_BACKLOG ? slot_alloc(K_ACCEPTED) : -1;
    if (i < 0) {
        tcp_abort(pcb);
        return ERR_ABRT;
    }
    socks[i].flags = F_CONNECTED;
    watch(&socks[i], pcb);
    l->acc[l->nacc++] = (int8_t)i;
    return ERR_OK;
}

/* ---- Sockets ---- */

/* A slot of the given kind with a fresh IPv4 PCB: the slot index, or a negative
 * WISP_E* code (nothing held then). */
static int slot_with_pcb(uint8_t kind, const wisp_addr_t *a, struct tcp_pcb **pcb)
{
    int i;

    if (a->family != 4)
        return WISP_EUNSUPPORTED;
    i = slot_alloc(kind);
    if (i < 0)
        return WISP_ENOMEM;
    *pcb = tcp_new_ip_type(IPADDR_TYPE_V4);
    if (!*pcb) {
        socks[i].kind = K_FREE;
        return WISP_ENOMEM;
    }
    return i;
}

static int rw_tcp_connect(void *user, const wisp_addr_t *to, int *fdp)
{
    struct tcp_pcb *pcb;
    ip_addr_t ip;
    err_t e;
    int i;

    (void)user;
    i = slot_with_pcb(K_TCP, to, &pcb);
    if (i < 0)
        return i;
    watch(&socks[i], pcb);
    socks[i].flags = F_CONNECTING;
    to_ip(to, &ip);
    e = tcp_connect(pcb, &ip, to->port, on_connected);
    if (e != ERR_OK) {
        tcp_abort(pcb);
        socks[i].kind = K_FREE;
        return map_err(e);
    }
    *fdp = i;
    return 0;
}

static int rw_tcp_listen(void *user, const wisp_addr_t *at, int backlog, int *fdp,
                         wisp_addr_t *bound)
{
    struct tcp_pcb *pcb, *lpcb;
    ip_addr_t ip;
    err_t e;
    int i;

    (void)user;
    i = slot_with_pcb(K_LISTEN, at, &pcb);
    if (i < 0)
        return i;
    ip_set_option(pcb, SOF_REUSEADDR);
    to_ip(at, &ip);
    e = tcp_bind(pcb, &ip, at->port);
    if (e == ERR_OK) {
        if (backlog > 255)
            backlog = 255;
        lpcb = tcp_listen_with_backlog_and_err(pcb, (u8_t)backlog, &e);
        if (lpcb)
            pcb = lpcb;
    }
    if (e != ERR_OK) {
        tcp_close(pcb);
        socks[i].kind = K_FREE;
        return map_err(e);
    }
    socks[i].u.pcb = pcb;
    tcp_arg(pcb, &socks[i]);
    tcp_accept(pcb, on_accept);
    if (bound)
        from_ip(&pcb->local_ip, pcb->local_port, bound);
    *fdp = i;
    return 0;
}

static int rw_tcp_accept(void *user, int lfd, int *fdp, wisp_addr_t *peer)
{
    raw_sock_t *l = get(lfd, K_LISTEN), *s;
    int i;

    (void)user;
    if (!l)
        return WISP_EINVAL;
    if (!l->nacc)
        return WISP_EAGAIN;
    i = l->acc[0];
    l->nacc--;
    memmove(l->acc, l->acc + 1, l->nacc);
    s = &socks[i];
    s->kind = K_TCP;
    if (peer && s->u.pcb)
        from_ip(&s->u.pcb->remote_ip, s->u.pcb->remote_port, peer);
    *fdp = i;
    return 0;
}

static int rw_send(void *user, int fd, const void *buf, size_t len)
{
    raw_sock_t *s = get(fd, K_TCP);
    size_t room;
    err_t e;

    (void)user;
    if (!s)
        return WISP_EINVAL;
    if (s->err)
        return s->err;
    if (!s->u.pcb || !(s->flags & F_CONNECTED))
        return WISP_EAGAIN;
    room = tcp_sndbuf(s->u.pcb);
    if (len > room)
        len = room;
    if (len > 0xffff)
        len = 0xffff;
    /* ERR_MEM means the segment queue or lwIP's heap is full: try half as much. */
    while (len && (e = tcp_write(s->u.pcb, buf, (u16_t)len, TCP_WRITE_FLAG_COPY)) == ERR_MEM)
        len /= 2;
    if (!len)
        return WISP_EAGAIN;
    if (e != ERR_OK)
        return map_err(e);
    tcp_output(s->u.pcb);
    return (int)len;
}

static int rw_recv(void *user, int fd, void *buf, size_t len)
{
    raw_sock_t *s = get(fd, K_TCP);
    u16_t n;

    (void)user;
    if (!s)
        return WISP_EINVAL;
    if (!s->rx) {
        if (s->err)
            return s->err;
        return (s->flags & F_EOF) ? 0 : WISP_EAGAIN;
    }
    if (len > 0xffff)
        len = 0xffff;
    n = pbuf_copy_partial(s->rx, buf, (u16_t)len, 0);
    s->rx = pbuf_free_header(s->rx, n);
    if (s->u.pcb)
        tcp_recved(s->u.pcb, n);
    return n;
}

static int rw_sock_error(void *user, int fd)
{
    raw_sock_t *s = get(fd, K_TCP);

    (void)user;
    if (!s)
        return WISP_EINVAL;
    return s->err;
}

static void rw_close(void *user, int fd)
{
    raw_sock_t *s;

    (void)user;
    if (fd < 0 || fd >= WISP_LWIP_RAW_SOCKETS || socks[fd].kind == K_FREE)
        return;
    s = &socks[fd];
    if (s->kind == K_LISTEN) {
        while (s->nacc)
            rw_close(NULL, s->acc[--s->nacc]);
    }
    if ((s->kind == K_TCP || s->kind == K_ACCEPTED || s->kind == K_LISTEN) && s->u.pcb) {
        struct tcp_pcb *pcb = s->u.pcb;
        int unread = s->rx != NULL;

        /* Detach first: lwIP must never call back into this slot again. */
        tcp_arg(pcb, NULL);
        if (s->kind == K_LISTEN) {
            tcp_accept(pcb, NULL);
        } else {
            tcp_recv(pcb, NULL);
            tcp_err(pcb, NULL);
        }
        if (unread || tcp_close(pcb) != ERR_OK)
            tcp_abort(pcb);
    }
    if (s->rx)
        pbuf_free(s->rx);
    memset(s, 0, sizeof(*s));
}

/* ---- Names ---- */

typedef struct rw_lookup {
    wisp_resolve_job_t *job; /* NULL: slot free */
    uint8_t finished;        /* filled in, waiting for the core to take it */
} rw_lookup_t;

static rw_lookup_t lookups[WISP_LWIP_RAW_RESOLVES];

static void offer(rw_lookup_t *lk)
{
    if (lk->job->done(lk->job) != WISP_EBUSY)
        lk->job = NULL; /* taken: the job is the core's again */
}

static void on_dns(const char *name, const ip_addr_t *ip, void *arg)
{
    rw_lookup_t *lk = arg;
    wisp_resolve_job_t *job = lk->job;

    (void)name;
    job->count = 0;
    job->status = WISP_EDNS;
    if (ip && IP_IS_V4(ip)) {
        from_ip(ip, job->port, &job->addrs[0]);
        job->count = 1;
        job->status = 0;
    }
    lk->finished = 1;
    offer(lk);
}

static int rw_resolve(void *user, wisp_resolve_job_t *job)
{
    rw_lookup_t *lk = NULL;
    ip_addr_t ip;
    err_t e;
    int i;

    (void)user;
    for (i = 0; i < WISP_LWIP_RAW_RESOLVES && !lk; i++)
        if (!lookups[i].job)
            lk = &lookups[i];
    if (!lk)
        return WISP_EBUSY;
    lk->job = job;
    lk->finished = 0;
    e = dns_gethostbyname(job->host, &ip, on_dns, lk);
    if (e == ERR_OK) {
        on_dns(job->host, &ip, lk); /* cached, local or numeric: answered at once */
        return 0;
    }
    if (e == ERR_INPROGRESS)
        return 0;
    lk->job = NULL;
    return WISP_EDNS;
}

/* ---- Poll: drive lwIP, then read readiness from the records ---- */

static uint8_t readiness(const wisp_pollfd_t *f)
{
    raw_sock_t *s;
    uint8_t r = 0;

    if (f->fd < 0 || f->fd >= WISP_LWIP_RAW_SOCKETS || socks[f->fd].kind == K_FREE)
        return WISP_POLLERR;
    s = &socks[f->fd];
    switch (s->kind) {
    case K_WAKE:
        return (*s->u.wake) ? WISP_POLLIN : 0;
    case K_LISTEN:
        return s->nacc ? WISP_POLLIN : 0;
    default:
        break;
    }
    if (s->rx || (s->flags & F_EOF) || s->err)
        r |= WISP_POLLIN;
    if (s->err)
        r |= WISP_POLLERR | WISP_POLLOUT;
    else if ((s->flags & F_CONNECTED) && s->u.pcb && tcp_sndbuf(s->u.pcb) > 0)
        r |= WISP_POLLOUT;
    return (uint8_t)(r & (f->events | WISP_POLLERR));
}

static void drive(void)
{
    int i;

    wisp_lwip_board_poll();
#if LWIP_NETIF_LOOPBACK
    netif_poll_all();
#endif
    sys_check_timeouts();
    for (i = 0; i < WISP_LWIP_RAW_RESOLVES; i++)
        if (lookups[i].job && lookups[i].finished)
            offer(&lookups[i]);
}

/* Loopback packets queued by what the last drive() delivered (ACKs, replies). */
static int loop_pending(void)
{
#if LWIP_NETIF_LOOPBACK
    struct netif *nif;

    NETIF_FOREACH(nif)
    {
        if (nif->loop_first)
            return 1;
    }
#endif
    return 0;
}

static int rw_poll(void *user, wisp_pollfd_t *fds, size_t n, int timeout_ms, void *scratch)
{
    uint64_t end;
    size_t i;

    (void)user;
    (void)scratch;
    if (timeout_ms < 0 || (uint32_t)timeout_ms > MAX_SLEEP_MS)
        timeout_ms = (int)MAX_SLEEP_MS;
    end = wisp__lwip_now_ms(NULL) + (uint32_t)timeout_ms;
    for (;;) {
        uint64_t now;
        uint32_t next;
        int ready = 0;

        drive();
        for (i = 0; i < n; i++) {
            fds[i].revents = readiness(&fds[i]);
            ready += fds[i].revents != 0;
        }
        now = wisp__lwip_now_ms(NULL);
        if (ready || now >= end)
            return ready;
        if (loop_pending())
            continue;
        /* Sleep until lwIP's next timer or the deadline, whichever is first. */
        next = sys_timeouts_sleeptime();
        if ((uint64_t)next > end - now)
            next = (uint32_t)(end - now);
        wisp_lwip_board_idle(next);
    }
}

/* ---- Wake primitive (a flag) and lock (lwIP's SYS_ARCH_PROTECT) ---- */

typedef struct rw_wake {
    volatile uint8_t pending;
    int8_t fd;
} rw_wake_t;

typedef char rw_wake_fits[sizeof(rw_wake_t) <= WISP_PLAT_WAKE_SIZE ? 1 : -1];

static int rw_wake_open(void *user, void *wake, int *fd)
{
    rw_wake_t *w = wake;
    int i = slot_alloc(K_WAKE);

    (void)user;
    if (i < 0)
        return WISP_ENOMEM;
    w->pending = 0;
    w->fd = (int8_t)i;
    socks[i].u.wake = &w->pending;
    *fd = i;
    return 0;
}

static void rw_wake_signal(void *user, void *wake)
{
    (void)user;
    ((rw_wake_t *)wake)->pending = 1; /* one byte store: safe from an interrupt */
}

static void rw_wake_drain(void *user, void *wake)
{
    (void)user;
    ((rw_wake_t *)wake)->pending = 0;
}

static void rw_wake_close(void *user, void *wake)
{
    rw_wake_t *w = wake;

    (void)user;
    if (w->fd >= 0 && socks[w->fd].kind == K_WAKE)
        memset(&socks[w->fd], 0, sizeof(socks[w->fd]));
    w->fd = -1;
}

#if SYS_LIGHTWEIGHT_PROT
typedef char rw_lock_fits[sizeof(sys_prot_t) <= WISP_PLAT_LOCK_SIZE ? 1 : -1];
#endif

static int rw_lock_create(void *user, void *lock)
{
    (void)user;
    (void)lock;
    return 0;
}

/* Interrupts that call wisp_post() need SYS_LIGHTWEIGHT_PROT=1: the lock then masks
 * them exactly as lwIP protects itself. Without it there is nothing to exclude. */
static void rw_lock(void *user, void *lock)
{
    (void)user;
#if SYS_LIGHTWEIGHT_PROT
    *(sys_prot_t *)lock = sys_arch_protect();
#else
    (void)lock;
#endif
}

static void rw_unlock(void *user, void *lock)
{
    (void)user;
#if SYS_LIGHTWEIGHT_PROT
    sys_arch_unprotect(*(sys_prot_t *)lock);
#else
    (void)lock;
#endif
}

static void rw_lock_destroy(void *user, void *lock)
{
    (void)user;
    (void)lock;
}

static const wisp_plat_ops_t rw_ops = {
    NULL,           wisp__lwip_now_ms, wisp__lwip_entropy,
    rw_tcp_connect, rw_tcp_listen,     rw_tcp_accept,
    rw_send,        rw_recv,           rw_sock_error,
    rw_close,       rw_poll,           0,
    rw_wake_open,   rw_wake_signal,    rw_wake_drain,
    rw_wake_close,  rw_lock_create,    rw_lock,
    rw_unlock,      rw_lock_destroy,   rw_resolve,
};

const wisp_plat_ops_t *wisp_plat_lwip_raw(void)
{
    return &rw_ops;
}
