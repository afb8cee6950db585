/*
 * wisp platform porting interface.
 *
 * Everything wisp needs from an operating system or IP stack goes through one table
 * of function pointers, wisp_plat_ops_t. The POSIX port (lib/plat/posix) is the
 * reference; an lwIP port implements the same table over lwIP's socket API. The core
 * never includes an OS header: porting wisp means filling in this table.
 *
 * Conventions: every function returns 0 or a negative WISP_E* code. Sockets are small
 * non-negative integers (POSIX fds, lwIP socket numbers) and are always non-blocking.
 * All functions are called on the loop thread, except resolve()'s worker and the
 * wake/lock functions, which are documented where they differ.
 */
#ifndef WISP_PLAT_H
#define WISP_PLAT_H

#include <stddef.h>
#include <stdint.h>

#include "wisp/config.h"

#ifdef __cplusplus
extern "C" {
#endif

/** An IPv4 or IPv6 address and port, in network byte order in ip[]. */
typedef struct wisp_addr {
    uint8_t family; /**< 4 or 6 */
    uint16_t port;  /**< host byte order */
    uint8_t ip[16]; /**< IPv4 uses ip[0..3] */
} wisp_addr_t;

/** Readiness bits for poll(). */
enum { WISP_POLLIN = 1, WISP_POLLOUT = 2, WISP_POLLERR = 4, WISP_POLLHUP = 8 };

/** Bytes the core reserves per context for the port's wake primitive and lock. */
#define WISP_PLAT_WAKE_SIZE 16
#define WISP_PLAT_LOCK_SIZE 64

typedef struct wisp_pollfd {
    int fd;
    uint8_t events;  /**< WISP_POLLIN | WISP_POLLOUT wanted */
    uint8_t revents; /**< filled in by poll() */
} wisp_pollfd_t;

/**
 * One name lookup, owned by the core and handed to the port's resolve(). The port
 * fills status, addrs and count on its own thread, then calls done(job) from that
 * thread; done() returns WISP_EBUSY when the loop cannot take the result yet, and the
 * port MUST then wait a little and call it again. The job stays valid until done()
 * returns 0; the port must not touch it afterwards.
 */
typedef struct wisp_resolve_job wisp_resolve_job_t;
struct wisp_resolve_job {
    const char *host; /**< set by the core; valid until done() returns 0 */
    uint16_t port;
    int status;   /**< set by the port: 0 or WISP_EDNS */
    size_t count; /**< set by the port: addresses in addrs */
    wisp_addr_t addrs[WISP_RESOLVE_MAX_ADDRS];
    int (*done)(wisp_resolve_job_t *job);
    wisp_resolve_job_t *port_next; /**< the port's own (a queue link); the core never reads it */
};

typedef struct wisp_plat_ops {
    void *user; /**< passed back as the first argument of every call */

    /** Monotonic milliseconds since an arbitrary origin. Never goes backwards. */
    uint64_t (*now_ms)(void *user);
    /** Fill buf with len bytes from a cryptographically secure source. */
    int (*entropy)(void *user, void *buf, size_t len);

    /** Start a non-blocking TCP connect with TCP_NODELAY set. 0 with *fd set means
     *  the connect is in progress or done; completion shows as POLLOUT, and
     *  sock_error() then tells the outcome. */
    int (*tcp_connect)(void *user, const wisp_addr_t *to, int *fd);
    /** Bind and listen, non-blocking, SO_REUSEADDR. A port of 0 picks one; the
     *  bound address comes back in *bound when it is not NULL. */
    int (*tcp_listen)(void *user, const wisp_addr_t *at, int backlog, int *fd, wisp_addr_t *bound);
    /** Accept one connection (non-blocking, TCP_NODELAY). WISP_EAGAIN when none. */
    int (*tcp_accept)(void *user, int lfd, int *fd, wisp_addr_t *peer);
    /** Bytes sent (> 0), WISP_EAGAIN, or an error (WISP_ERESET, WISP_ESOCKET...). */
    int (*sock_send)(void *user, int fd, const void *buf, size_t len);
    /** Bytes received (> 0), 0 at orderly EOF, WISP_EAGAIN, or an error. */
    int (*sock_recv)(void *user, int fd, void *buf, size_t len);
    /** The pending error of a socket after an async connect: 0 or a WISP_E* code. */
    int (*sock_error)(void *user, int fd);
    void (*sock_close)(void *user, int fd);

    /** Wait up to timeout_ms (-1 forever) for readiness. Returns the number of fds
     *  with revents set, 0 on timeout, or an error. scratch holds
     *  n * poll_scratch bytes, suitably aligned, for the port's own poll table. */
    int (*poll)(void *user, wisp_pollfd_t *fds, size_t n, int timeout_ms, void *scratch);
    /** Bytes of scratch the port needs per polled fd (e.g. sizeof(struct pollfd)). */
    size_t poll_scratch;

    /** The wake primitive: an fd that becomes readable after wake_signal(). The
     *  core gives the port WISP_PLAT_WAKE_SIZE bytes of storage for it (and
     *  WISP_PLAT_LOCK_SIZE for the lock), so the port allocates nothing.
     *  wake_signal and the lock pair MUST be safe to call from any thread. */
    int (*wake_open)(void *user, void *wake, int *fd);
    void (*wake_signal)(void *user, void *wake);
    void (*wake_drain)(void *user, void *wake);
    void (*wake_close)(void *user, void *wake);

    int (*lock_create)(void *user, void *lock);
    void (*lock)(void *user, void *lock);
    void (*unlock)(void *user, void *lock);
    void (*lock_destroy)(void *user, void *lock);

    /** Start resolving job->host (a name, never numeric: the core parses numeric
     *  addresses itself) without blocking the caller; see wisp_resolve_job_t.
     *  On an error return job->done is never called. */
    int (*resolve)(void *user, wisp_resolve_job_t *job);
} wisp_plat_ops_t;

/** The POSIX port (Linux, macOS). NULL in builds without it. */
WISP_API const wisp_plat_ops_t *wisp_plat_posix(void);

/**
 * \brief  Parse a numeric IPv4 or IPv6 address ("127.0.0.1", "::1", "[::1]").
 * \return 0 and *out filled, or WISP_EINVAL when host is not a numeric address.
 */
WISP_API int wisp_addr_parse(const char *host, uint16_t port, wisp_addr_t *out);

/** Format an address as text ("127.0.0.1", "::1") into buf; returns buf. */
WISP_API const char *wisp_addr_str(const wisp_addr_t *a, char *buf, size_t len);

#ifdef __cplusplus
}
#endif

#endif /* WISP_PLAT_H */
