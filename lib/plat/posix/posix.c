/*
 * The POSIX port (Linux, macOS): the reference implementation of wisp_plat_ops_t.
 *
 * Sockets are non-blocking with TCP_NODELAY (one TLS flight, one segment: no
 * delayed-ACK stall) and close-on-exec. Readiness is poll(2). The wake primitive is
 * an eventfd on Linux and a pipe elsewhere. Entropy comes from getrandom(2) on Linux
 * and /dev/urandom elsewhere. Names resolve with getaddrinfo(3) on a small pool of
 * resolver threads shared by every context of the process, which the loop never
 * waits on.
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/random.h>
#endif

#include "wisp/error.h"
#include "wisp/plat.h"

static uint64_t px_now_ms(void *user)
{
    struct timespec ts;

    (void)user;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int px_entropy(void *user, void *buf, size_t len)
{
    uint8_t *p = buf;

    (void)user;
    while (len) {
#ifdef __linux__
        ssize_t n = getrandom(p, len, 0);
#else
        ssize_t n = -1;
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);

        if (fd >= 0) {
            n = read(fd, p, len);
            close(fd);
        }
#endif
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return WISP_EINTERNAL;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int map_errno(int e)
{
    switch (e) {
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
        return WISP_EAGAIN;
    case ECONNRESET:
    case EPIPE:
        return WISP_ERESET;
    case ECONNREFUSED:
        return WISP_EREFUSED;
    case ENETUNREACH:
    case EHOSTUNREACH:
    case EADDRNOTAVAIL:
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

static socklen_t to_sockaddr(const wisp_addr_t *a, struct sockaddr_storage *ss)
{
    memset(ss, 0, sizeof(*ss));
    if (a->family == 6) {
        struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(a->port);
        memcpy(&s6->sin6_addr, a->ip, 16);
        return sizeof(*s6);
    } else {
        struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

        s4->sin_family = AF_INET;
        s4->sin_port = htons(a->port);
        memcpy(&s4->sin_addr, a->ip, 4);
        return sizeof(*s4);
    }
}

static void from_sockaddr(const struct sockaddr *sa, wisp_addr_t *a)
{
    memset(a, 0, sizeof(*a));
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)(const void *)sa;

        a->family = 6;
        a->port = ntohs(s6->sin6_port);
        memcpy(a->ip, &s6->sin6_addr, 16);
    } else if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *s4 = (const struct sockaddr_in *)(const void *)sa;

        a->family = 4;
        a->port = ntohs(s4->sin_port);
        memcpy(a->ip, &s4->sin_addr, 4);
    }
}

static int prepare_fd(int fd, int tcp)
{
    int one = 1, fl = fcntl(fd, F_GETFL, 0);

    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
        return WISP_ESOCKET;
    if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
        return WISP_ESOCKET;
    if (tcp && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
        return WISP_ESOCKET;
#ifdef SO_NOSIGPIPE
    setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one));
#endif
    return 0;
}

static int px_tcp_connect(void *user, const wisp_addr_t *to, int *fdp)
{
    struct sockaddr_storage ss;
    socklen_t sl = to_sockaddr(to, &ss);
    int fd, ret;

    (void)user;
    fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return map_errno(errno);
    ret = prepare_fd(fd, 1);
    if (!ret && connect(fd, (struct sockaddr *)&ss, sl) < 0 && errno != EINPROGRESS)
        ret = map_errno(errno);
    if (ret) {
        close(fd);
        return ret;
    }
    *fdp = fd;
    return 0;
}

static int px_tcp_listen(void *user, const wisp_addr_t *at, int backlog, int *fdp,
                         wisp_addr_t *bound)
{
    struct sockaddr_storage ss;
    socklen_t sl = to_sockaddr(at, &ss);
    int fd, one = 1, ret;

    (void)user;
    fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return map_errno(errno);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
#ifdef SO_REUSEPORT
    /* One context per thread may listen on the same port (SPEC §2): the kernel
     * spreads the accepted connections across them. */
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
#endif
    if (at->family == 6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    ret = prepare_fd(fd, 0);
    if (!ret && (bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, backlog) < 0))
        ret = map_errno(errno);
    if (!ret && bound) {
        sl = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
            ret = map_errno(errno);
        else
            from_sockaddr((struct sockaddr *)&ss, bound);
    }
    if (ret) {
        close(fd);
        return ret;
    }
    *fdp = fd;
    return 0;
}

static int px_tcp_accept(void *user, int lfd, int *fdp, wisp_addr_t *peer)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int fd, ret;

    (void)user;
    do {
        fd = accept(lfd, (struct sockaddr *)&ss, &sl);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0)
        return (errno == ECONNABORTED) ? WISP_EAGAIN : map_errno(errno);
    ret = prepare_fd(fd, 1);
    if (ret) {
        close(fd);
        return ret;
    }
    if (peer)
        from_sockaddr((struct sockaddr *)&ss, peer);
    *fdp = fd;
    return 0;
}

static int px_send(void *user, int fd, const void *buf, size_t len)
{
    ssize_t n;

    (void)user;
    if (len > 0x7fffffff)
        len = 0x7fffffff;
    do {
#ifdef MSG_NOSIGNAL
        n = send(fd, buf, len, MSG_NOSIGNAL);
#else
        n = send(fd, buf, len, 0);
#endif
    } while (n < 0 && errno == EINTR);
    return n < 0 ? map_errno(errno) : (int)n;
}

static int px_recv(void *user, int fd, void *buf, size_t len)
{
    ssize_t n;

    (void)user;
    if (len > 0x7fffffff)
        len = 0x7fffffff;
    do {
        n = recv(fd, buf, len, 0);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? map_errno(errno) : (int)n;
}

static int px_sock_error(void *user, int fd)
{
    int err = 0;
    socklen_t sl = sizeof(err);

    (void)user;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &sl) < 0)
        return map_errno(errno);
    return err ? map_errno(err) : 0;
}

static void px_close(void *user, int fd)
{
    (void)user;
    if (fd >= 0)
        close(fd);
}

static int px_poll(void *user, wisp_pollfd_t *fds, size_t n, int timeout_ms, void *scratch)
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
    do {
        ret = poll(p, (nfds_t)n, timeout_ms);
    } while (ret < 0 && errno == EINTR);
    if (ret < 0) {
        ret = map_errno(errno);
    } else {
        for (i = 0; i < n; i++) {
            short r = p[i].revents;

            fds[i].revents =
                (uint8_t)(((r & POLLIN) ? WISP_POLLIN : 0) | ((r & POLLOUT) ? WISP_POLLOUT : 0) |
                          ((r & (POLLERR | POLLNVAL)) ? WISP_POLLERR : 0) |
                          ((r & POLLHUP) ? WISP_POLLHUP : 0));
        }
    }
    return ret;
}

/* ---- Wake primitive and lock, in storage the core provides ---- */

typedef struct px_wake {
    int rfd, wfd; /* the same eventfd twice on Linux; a pipe's ends elsewhere */
} px_wake_t;

typedef char px_wake_fits[sizeof(px_wake_t) <= WISP_PLAT_WAKE_SIZE ? 1 : -1];
typedef char px_lock_fits[sizeof(pthread_mutex_t) <= WISP_PLAT_LOCK_SIZE ? 1 : -1];

static int px_wake_open(void *user, void *wake, int *fd)
{
    px_wake_t *w = wake;

    (void)user;
#ifdef __linux__
    w->rfd = w->wfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->rfd < 0)
        return map_errno(errno);
#else
    int p[2];

    if (pipe(p) < 0)
        return map_errno(errno);
    prepare_fd(p[0], 0);
    prepare_fd(p[1], 0);
    w->rfd = p[0];
    w->wfd = p[1];
#endif
    *fd = w->rfd;
    return 0;
}

static void px_wake_signal(void *user, void *wake)
{
    const px_wake_t *w = wake;
    uint64_t one = 1;
    ssize_t n;

    (void)user;
    /* A full eventfd or pipe already means "wake up": EAGAIN is success here. */
    do {
        n = write(w->wfd, &one, sizeof(one));
    } while (n < 0 && errno == EINTR);
}

static void px_wake_drain(void *user, void *wake)
{
    const px_wake_t *w = wake;
    uint64_t buf[8];

    (void)user;
    while (read(w->rfd, buf, sizeof(buf)) > 0)
        ;
}

static void px_wake_close(void *user, void *wake)
{
    px_wake_t *w = wake;

    (void)user;
    if (w->wfd != w->rfd)
        close(w->wfd);
    close(w->rfd);
    w->rfd = w->wfd = -1;
}

static int px_lock_create(void *user, void *lock)
{
    (void)user;
    return pthread_mutex_init(lock, NULL) ? WISP_EINTERNAL : 0;
}

static void px_lock(void *user, void *lock)
{
    (void)user;
    pthread_mutex_lock(lock);
}

static void px_unlock(void *user, void *lock)
{
    (void)user;
    pthread_mutex_unlock(lock);
}

static void px_lock_destroy(void *user, void *lock)
{
    (void)user;
    pthread_mutex_destroy(lock);
}

/* ---- Name resolution on a pool of resolver threads ----
 *
 * One queue for the process (every context's lookups), served by at most
 * WISP_POSIX_RESOLVERS detached threads (config.h). A thread starts when a lookup is
 * queued and no thread is idle to take it; one with nothing to do for
 * WISP_POSIX_RESOLVER_IDLE_MS exits, so an idle process has no resolver thread.
 * Before the pool a lookup cost a thread (clone, a stack mapped and unmapped): 10,000
 * connections opened at once meant 10,000 threads. The cap bounds that; its cost is
 * that WISP_POSIX_RESOLVERS slow lookups (an unanswering DNS server) hold up the ones
 * behind them. */

static pthread_mutex_t rs_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rs_cond = PTHREAD_COND_INITIALIZER;
static wisp_resolve_job_t *rs_head, *rs_tail; /* queued, not yet taken by a thread */
static unsigned rs_queued, rs_threads, rs_idle;

static void lookup(wisp_resolve_job_t *job)
{
    struct addrinfo hints, *res = NULL, *ai;
    struct timespec pause = {0, 1000000};

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_ADDRCONFIG;
    job->count = 0;
    job->status = getaddrinfo(job->host, NULL, &hints, &res) ? WISP_EDNS : 0;
    for (ai = res; ai && job->count < WISP_RESOLVE_MAX_ADDRS; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        from_sockaddr(ai->ai_addr, &job->addrs[job->count]);
        job->addrs[job->count].port = job->port;
        job->count++;
    }
    if (res)
        freeaddrinfo(res);
    /* The loop's post ring may be full for a moment: wait and offer it again. */
    while (job->done(job) == WISP_EBUSY)
        nanosleep(&pause, NULL);
}

static void *resolver_main(void *arg)
{
    wisp_resolve_job_t *job;
    struct timespec until;

    (void)arg;
#ifdef __linux__
    prctl(PR_SET_NAME, "wisp-resolve", 0, 0, 0); /* what top -H and /proc show */
#endif
    pthread_mutex_lock(&rs_lock);
    for (;;) {
        if (!rs_head) {
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += WISP_POSIX_RESOLVER_IDLE_MS / 1000;
            until.tv_nsec += (long)(WISP_POSIX_RESOLVER_IDLE_MS % 1000) * 1000000L;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            rs_idle++;
            while (!rs_head && pthread_cond_timedwait(&rs_cond, &rs_lock, &until) == 0) {
            }
            rs_idle--;
            if (!rs_head)
                break; /* idle for WISP_POSIX_RESOLVER_IDLE_MS: leave */
        }
        job = rs_head;
        rs_head = job->port_next;
        if (!rs_head)
            rs_tail = NULL;
        rs_queued--;
        pthread_mutex_unlock(&rs_lock);
        lookup(job); /* the job belongs to the core again once done() returned 0 */
        pthread_mutex_lock(&rs_lock);
    }
    rs_threads--;
    pthread_mutex_unlock(&rs_lock);
    return NULL;
}

/* Called with rs_lock held. */
static int resolver_spawn(void)
{
    pthread_attr_t attr;
    pthread_t t;
    sigset_t all, old;
    int ret;

    if (pthread_attr_init(&attr))
        return -1;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    /* The thread must not take the application's signals. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    ret = pthread_create(&t, &attr, resolver_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    if (ret)
        return -1;
    rs_threads++;
    return 0;
}

static int px_resolve(void *user, wisp_resolve_job_t *job)
{
    int ret = 0;

    (void)user;
    pthread_mutex_lock(&rs_lock);
    /* More queued than idle threads to take them: one more thread, if allowed. A
     * failed start is only an error when no thread at all would serve the job. */
    if (rs_queued + 1 > rs_idle && rs_threads < WISP_POSIX_RESOLVERS && resolver_spawn() &&
        rs_threads == 0)
        ret = WISP_ENOMEM;
    if (!ret) {
        job->port_next = NULL;
        if (rs_tail)
            rs_tail->port_next = job;
        else
            rs_head = job;
        rs_tail = job;
        rs_queued++;
        pthread_cond_signal(&rs_cond);
    }
    pthread_mutex_unlock(&rs_lock);
    return ret;
}

static const wisp_plat_ops_t px_ops = {
    NULL,           px_now_ms,      px_entropy,    px_tcp_connect,
    px_tcp_listen,  px_tcp_accept,  px_send,       px_recv,
    px_sock_error,  px_close,       px_poll,       sizeof(struct pollfd),
    px_wake_open,   px_wake_signal, px_wake_drain, px_wake_close,
    px_lock_create, px_lock,        px_unlock,     px_lock_destroy,
    px_resolve,
};

const wisp_plat_ops_t *wisp_plat_posix(void)
{
    return &px_ops;
}
