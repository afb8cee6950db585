/*
 * The lwIP socket-API port (NO_SYS=0, an RTOS): wisp_plat_ops_t over lwip/sockets.h.
 *
 * Sockets are lwIP socket numbers, non-blocking (lwip_fcntl O_NONBLOCK), TCP_NODELAY
 * on every TCP socket. Readiness is lwip_poll(), which never reports POLLHUP: an
 * orderly EOF shows as POLLIN and then lwip_recv() returns 0, which is exactly what
 * the core expects; a reset shows as POLLERR (plus POLLIN/POLLOUT) and the error
 * comes from SO_ERROR or the next recv/send.
 *
 * Wake primitive: there is no pipe or eventfd, and lwip_poll() can only wait on
 * sockets, so the wake "fd" is a UDP socket bound to 127.0.0.1 on the loopback
 * netif; wake_signal() sends one byte to it from a second UDP socket. A pending flag
 * keeps at most one datagram in flight, so a burst of wisp_post() costs one datagram.
 * Cost per context: 2 netconns + 2 UDP PCBs + 2 socket slots (about 200 bytes of lwIP
 * pools on 32-bit), one small PBUF_RAM per wake, and a trip through the tcpip thread.
 * An RTOS semaphore would be cheaper but lwip_poll() cannot wait on it.
 *
 * Lock: an lwIP sys_mutex (the RTOS mutex). Names: lwip_getaddrinfo() blocks, so one
 * resolver task (created on first use, never ends, as RTOS tasks are written) takes
 * jobs from an mbox and hands each back with job->done(), retrying every 1 ms while
 * the loop's post ring is full.
 */
#include <string.h>

#include "lwip/errno.h"
#include "lwip/netdb.h"
#include "lwip/sockets.h"
#include "lwip/sys.h"

#include "wisp-lwip.h"
#include "wisp/error.h"

#ifndef WISP_LWIP_RESOLVER_STACK
#define WISP_LWIP_RESOLVER_STACK 2048 /* in the RTOS's units (lwIP: sys_thread_new) */
#endif
#ifndef WISP_LWIP_RESOLVER_PRIO
#define WISP_LWIP_RESOLVER_PRIO 1
#endif
#ifndef WISP_LWIP_RESOLVER_QUEUE
#define WISP_LWIP_RESOLVER_QUEUE 8 /* lookups waiting for the resolver task */
#endif
/* Longest single sleep in poll: keeps the 32-bit clock read at least once a day. */
#define MAX_SLEEP_MS (24u * 3600u * 1000u)

static int map_errno(int e)
{
    switch (e) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINPROGRESS:
        return WISP_EAGAIN;
    case ECONNRESET:
    case ECONNABORTED:
    case EPIPE:
        return WISP_ERESET;
    case ECONNREFUSED:
        return WISP_EREFUSED;
    case ENOTCONN:
        return WISP_ECLOSED;
    case EHOSTUNREACH:
        return WISP_EUNREACH;
    case ETIMEDOUT:
        return WISP_ETIMEDOUT;
    case ENOMEM:
    case ENOBUFS:
        return WISP_ENOMEM;
    case EADDRINUSE:
        return WISP_EEXIST;
    default:
        return WISP_ESOCKET;
    }
}

static int to_sockaddr(const wisp_addr_t *a, struct sockaddr_in *sa)
{
    if (a->family != 4)
        return WISP_EUNSUPPORTED; /* the project's lwipopts.h builds IPv4 only */
    memset(sa, 0, sizeof(*sa));
    sa->sin_len = sizeof(*sa);
    sa->sin_family = AF_INET;
    sa->sin_port = lwip_htons(a->port);
    memcpy(&sa->sin_addr, a->ip, 4);
    return 0;
}

static void from_sockaddr(const struct sockaddr_in *sa, wisp_addr_t *a)
{
    memset(a, 0, sizeof(*a));
    a->family = 4;
    a->port = lwip_ntohs(sa->sin_port);
    memcpy(a->ip, &sa->sin_addr, 4);
}

static int prepare(int fd, int tcp)
{
    int one = 1;

    if (lwip_fcntl(fd, F_SETFL, O_NONBLOCK) < 0)
        return map_errno(errno);
    if (tcp && lwip_setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
        return map_errno(errno);
    return 0;
}

static int sk_tcp_connect(void *user, const wisp_addr_t *to, int *fdp)
{
    struct sockaddr_in sa;
    int fd, ret = to_sockaddr(to, &sa);

    (void)user;
    if (ret)
        return ret;
    fd = lwip_socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return map_errno(errno);
    ret = prepare(fd, 1);
    if (!ret && lwip_connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
        ret = map_errno(errno);
    if (ret) {
        lwip_close(fd);
        return ret;
    }
    *fdp = fd;
    return 0;
}

static int sk_tcp_listen(void *user, const wisp_addr_t *at, int backlog, int *fdp,
                         wisp_addr_t *bound)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd, one = 1, ret = to_sockaddr(at, &sa);

    (void)user;
    if (ret)
        return ret;
    fd = lwip_socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return map_errno(errno);
    lwip_setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    ret = prepare(fd, 0);
    if (!ret &&
        (lwip_bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || lwip_listen(fd, backlog) < 0))
        ret = map_errno(errno);
    if (!ret && bound) {
        if (lwip_getsockname(fd, (struct sockaddr *)&sa, &sl) < 0)
            ret = map_errno(errno);
        else
            from_sockaddr(&sa, bound);
    }
    if (ret) {
        lwip_close(fd);
        return ret;
    }
    *fdp = fd;
    return 0;
}

static int sk_tcp_accept(void *user, int lfd, int *fdp, wisp_addr_t *peer)
{
    struct sockaddr_in sa;
    socklen_t sl = sizeof(sa);
    int fd, ret;

    (void)user;
    fd = lwip_accept(lfd, (struct sockaddr *)&sa, &sl);
    if (fd < 0)
        return map_errno(errno);
    ret = prepare(fd, 1);
    if (ret) {
        lwip_close(fd);
        return ret;
    }
    if (peer)
        from_sockaddr(&sa, peer);
    *fdp = fd;
    return 0;
}

static int sk_send(void *user, int fd, const void *buf, size_t len)
{
    ssize_t n;

    (void)user;
    if (len > 0x7fffffff)
        len = 0x7fffffff;
    n = lwip_send(fd, buf, len, 0);
    return n < 0 ? map_errno(errno) : (int)n;
}

static int sk_recv(void *user, int fd, void *buf, size_t len)
{
    ssize_t n;

    (void)user;
    if (len > 0x7fffffff)
        len = 0x7fffffff;
    n = lwip_recv(fd, buf, len, 0);
    if (n < 0 && errno == ENOTCONN)
        return 0; /* lwIP reports a read after the peer's FIN was consumed this way */
    return n < 0 ? map_errno(errno) : (int)n;
}

static int sk_sock_error(void *user, int fd)
{
    int err = 0;
    socklen_t sl = sizeof(err);

    (void)user;
    if (lwip_getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
        return map_errno(errno);
    return err ? map_errno(err) : 0;
}

static void sk_close(void *user, int fd)
{
    (void)user;
    if (fd >= 0)
        lwip_close(fd);
}

static int sk_poll(void *user, wisp_pollfd_t *fds, size_t n, int timeout_ms, void *scratch)
{
    struct pollfd *p = scratch;
    size_t i;
    int ret;

    (void)user;
    for (i = 0; i < n; i++) {
        p[i].fd = fds[i].fd;
        p[i].events = (short)(((fds[i].events & WISP_POLLIN) ? POLLIN : 0) |
                              ((fds[i].events & WISP_POLLOUT) ? POLLOUT : 0));
        p[i].revents = 0;
    }
    if (timeout_ms < 0 || (uint32_t)timeout_ms > MAX_SLEEP_MS)
        timeout_ms = (int)MAX_SLEEP_MS;
    ret = lwip_poll(p, (nfds_t)n, timeout_ms);
    if (ret < 0)
        return map_errno(errno);
    for (i = 0; i < n; i++) {
        short r = p[i].revents;

        fds[i].revents =
            (uint8_t)(((r & POLLIN) ? WISP_POLLIN : 0) | ((r & POLLOUT) ? WISP_POLLOUT : 0) |
                      ((r & (POLLERR | POLLNVAL)) ? WISP_POLLERR : 0));
    }
    return ret;
}

/* ---- Wake primitive (UDP to itself over loopback) and lock ---- */

typedef struct sk_wake {
    sys_mutex_t send_lock; /* wake_signal may run on several threads at once */
    int16_t rfd, wfd;      /* the polled receiver; the sender */
    volatile uint8_t pending;
} sk_wake_t;

typedef char sk_wake_fits[sizeof(sk_wake_t) <= WISP_PLAT_WAKE_SIZE ? 1 : -1];
typedef char sk_lock_fits[sizeof(sys_mutex_t) <= WISP_PLAT_LOCK_SIZE ? 1 : -1];

static int udp_loopback(struct sockaddr_in *sa)
{
    socklen_t sl = sizeof(*sa);
    int fd = lwip_socket(AF_INET, SOCK_DGRAM, 0);

    if (fd < 0)
        return map_errno(errno);
    memset(sa, 0, sizeof(*sa));
    sa->sin_len = sizeof(*sa);
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = PP_HTONL(INADDR_LOOPBACK);
    if (lwip_bind(fd, (struct sockaddr *)sa, sizeof(*sa)) < 0 ||
        lwip_getsockname(fd, (struct sockaddr *)sa, &sl) < 0 || prepare(fd, 0)) {
        int ret = map_errno(errno);

        lwip_close(fd);
        return ret < 0 ? ret : WISP_ESOCKET;
    }
    return fd;
}

static int sk_wake_open(void *user, void *wake, int *fd)
{
    sk_wake_t *w = wake;
    struct sockaddr_in ra, wa;
    int r, s;

    (void)user;
    memset(w, 0, sizeof(*w));
    r = udp_loopback(&ra);
    if (r < 0)
        return r;
    s = udp_loopback(&wa);
    if (s < 0) {
        lwip_close(r);
        return s;
    }
    if (lwip_connect(s, (struct sockaddr *)&ra, sizeof(ra)) < 0 ||
        sys_mutex_new(&w->send_lock) != ERR_OK) {
        lwip_close(s);
        lwip_close(r);
        return WISP_ESOCKET;
    }
    w->rfd = (int16_t)r;
    w->wfd = (int16_t)s;
    *fd = r;
    return 0;
}

static void sk_wake_signal(void *user, void *wake)
{
    sk_wake_t *w = wake;
    uint8_t was;
    char one = 1;
    SYS_ARCH_DECL_PROTECT(lev);

    (void)user;
    SYS_ARCH_PROTECT(lev);
    was = w->pending;
    w->pending = 1;
    SYS_ARCH_UNPROTECT(lev);
    if (was)
        return; /* a datagram is already on its way */
    sys_mutex_lock(&w->send_lock);
    /* A full receive mailbox drops the datagram: the loop is awake already. */
    (void)lwip_send(w->wfd, &one, 1, 0);
    sys_mutex_unlock(&w->send_lock);
}

static void sk_wake_drain(void *user, void *wake)
{
    sk_wake_t *w = wake;
    char buf[8];
    SYS_ARCH_DECL_PROTECT(lev);

    (void)user;
    /* Clear first: a signal after this point sends again and wakes the next poll. */
    SYS_ARCH_PROTECT(lev);
    w->pending = 0;
    SYS_ARCH_UNPROTECT(lev);
    while (lwip_recv(w->rfd, buf, sizeof(buf), 0) > 0)
        ;
}

static void sk_wake_close(void *user, void *wake)
{
    sk_wake_t *w = wake;

    (void)user;
    lwip_close(w->wfd);
    lwip_close(w->rfd);
    sys_mutex_free(&w->send_lock);
    w->rfd = w->wfd = -1;
}

static int sk_lock_create(void *user, void *lock)
{
    (void)user;
    return sys_mutex_new((sys_mutex_t *)lock) == ERR_OK ? 0 : WISP_ENOMEM;
}

static void sk_lock(void *user, void *lock)
{
    (void)user;
    sys_mutex_lock((sys_mutex_t *)lock);
}

static void sk_unlock(void *user, void *lock)
{
    (void)user;
    sys_mutex_unlock((sys_mutex_t *)lock);
}

static void sk_lock_destroy(void *user, void *lock)
{
    (void)user;
    sys_mutex_free((sys_mutex_t *)lock);
}

/* ---- Name resolution on one resolver task ---- */

enum { RESOLVER_NONE, RESOLVER_STARTING, RESOLVER_READY };
static volatile uint8_t resolver_state;
static sys_mbox_t resolver_jobs;

static void resolve_one(wisp_resolve_job_t *job)
{
    struct addrinfo hints, *res = NULL, *ai;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    job->count = 0;
    job->status = lwip_getaddrinfo(job->host, NULL, &hints, &res) ? WISP_EDNS : 0;
    for (ai = res; ai && job->count < WISP_RESOLVE_MAX_ADDRS; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET)
            continue;
        from_sockaddr((const struct sockaddr_in *)(const void *)ai->ai_addr,
                      &job->addrs[job->count]);
        job->addrs[job->count].port = job->port;
        job->count++;
    }
    if (res)
        lwip_freeaddrinfo(res);
    /* The loop's post ring may be full for a moment: wait and offer it again. */
    while (job->done(job) == WISP_EBUSY)
        sys_msleep(1);
}

static void resolver_main(void *arg)
{
    (void)arg;
    for (;;) {
        void *msg = NULL;

        if (sys_arch_mbox_fetch(&resolver_jobs, &msg, 0) != SYS_ARCH_TIMEOUT && msg)
            resolve_one(msg);
    }
}

/* Start the resolver task once; contexts on other threads may race to do it. */
static int resolver_start(void)
{
    uint8_t st;
    SYS_ARCH_DECL_PROTECT(lev);

    for (;;) {
        SYS_ARCH_PROTECT(lev);
        st = resolver_state;
        if (st == RESOLVER_NONE)
            resolver_state = RESOLVER_STARTING;
        SYS_ARCH_UNPROTECT(lev);
        if (st == RESOLVER_READY)
            return 0;
        if (st == RESOLVER_NONE)
            break;
        sys_msleep(1);
    }
    if (sys_mbox_new(&resolver_jobs, WISP_LWIP_RESOLVER_QUEUE) != ERR_OK) {
        resolver_state = RESOLVER_NONE;
        return WISP_ENOMEM;
    }
    sys_thread_new("wisp-dns", resolver_main, NULL, WISP_LWIP_RESOLVER_STACK,
                   WISP_LWIP_RESOLVER_PRIO);
    resolver_state = RESOLVER_READY;
    return 0;
}

static int sk_resolve(void *user, wisp_resolve_job_t *job)
{
    int ret;

    (void)user;
    ret = resolver_start();
    if (ret)
        return ret;
    return sys_mbox_trypost(&resolver_jobs, job) == ERR_OK ? 0 : WISP_EBUSY;
}

static const wisp_plat_ops_t sk_ops = {
    NULL,           wisp__lwip_now_ms, wisp__lwip_entropy,
    sk_tcp_connect, sk_tcp_listen,     sk_tcp_accept,
    sk_send,        sk_recv,           sk_sock_error,
    sk_close,       sk_poll,           sizeof(struct pollfd),
    sk_wake_open,   sk_wake_signal,    sk_wake_drain,
    sk_wake_close,  sk_lock_create,    sk_lock,
    sk_unlock,      sk_lock_destroy,   sk_resolve,
};

const wisp_plat_ops_t *wisp_plat_lwip_sockets(void)
{
    return &sk_ops;
}
