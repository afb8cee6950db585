/*
 * Buffered non-blocking TCP sockets on the loop.
 *
 * Output is coalesced: wisp__sock_write() appends to a per-socket buffer (allocated
 * on demand, capped at WISP_SOCK_OUT_MAX, freed when drained so an idle connection
 * holds none) and a deferred flush sends it at the end of the loop iteration.
 * Keeping a drained 2 KiB buffer would save one same-size alloc/free per request on
 * a kept-alive connection, but measured +2 to +3 KB on the peak heaps of bench/ (one
 * GET; 100 queued streams, already near its 100 KiB budget): the budget wins. A TLS
 * handshake flight written record by record therefore leaves in one send(), which
 * with TCP_NODELAY avoids the ~40 ms delayed-ACK stall of one segment per message.
 *
 * Input is not buffered here, except for a TLS client's small reads: with
 * WISP_SOCK_READAHEAD, a read of fewer bytes than that (mbedTLS asking for a record
 * header) fetches up to WISP_SOCK_READAHEAD bytes into a buffer allocated for it and
 * freed once drained, and serves the next reads from it. Bytes held there are not
 * seen by poll: a read that leaves some queues a READABLE for the end of the
 * iteration (ra_ready), and wisp__sock_buffered() counts them (the h1 link reports
 * them as pending). Larger reads, and reads with the buffer empty, go
 * straight to the socket.
 *
 * Close is one function, once: cancel the pending flush, unregister from the poller
 * (so events already fetched are dropped), free the buffer, close the fd.
 */
#include <string.h>

#include "core/context-private.h"

enum {
    SOCK_CONNECTING = 1, /* async connect not finished */
    SOCK_WANT_ROOM = 2,  /* a write hit the cap: send WRITABLE once there is room */
    SOCK_LISTENING = 4,
    SOCK_WANT_DRAIN = 8, /* the owner waits for the buffer to empty: WRITABLE then */
    SOCK_READAHEAD = 16, /* small reads go through the read-ahead buffer */
    SOCK_SHORT = 32      /* the last read from the kernel returned less than asked */
};

#define SOCK_OUT_STEP 2048u

static void set_want(wisp__sock_t *s, uint8_t want)
{
    if (s->want == want)
        return;
    s->want = want;
    wisp__io_update(s->cx, s);
}

static void out_release(wisp__sock_t *s)
{
    wisp__free(s->cx, s->out);
    s->out = NULL;
    s->out_len = s->out_cap = 0;
}

/* Send what is buffered. 0 when drained, WISP_EAGAIN when some remains. */
static int flush_out(wisp__sock_t *s)
{
    const wisp_plat_ops_t *p = s->cx->plat;
    size_t off = 0;
    int ret = 0;

    while (off < s->out_len) {
        int n = p->sock_send(p->user, s->fd, s->out + off, s->out_len - off);

        if (n < 0) {
            ret = n;
            break;
        }
        off += (size_t)n;
        s->cx->stats.bytes_out += (uint64_t)n;
    }
    if (off && off < s->out_len)
        memmove(s->out, s->out + off, s->out_len - off);
    s->out_len -= off;
    if (ret == WISP_EAGAIN || (!ret && s->out_len)) {
        set_want(s, (uint8_t)(s->want | WISP_POLLOUT));
        return WISP_EAGAIN;
    }
    if (!(s->flags & SOCK_CONNECTING))
        set_want(s, (uint8_t)(s->want & ~WISP_POLLOUT));
    if (!ret)
        out_release(s);
    return ret;
}

/* Flush from the loop (deferred or POLLOUT): report errors and room to the owner. */
static void flush_and_notify(wisp__sock_t *s)
{
    int ret = flush_out(s);

    if (ret && ret != WISP_EAGAIN) {
        s->cb(s, WISP_SOCK_ERROR, ret);
        return;
    }
    if ((s->flags & SOCK_WANT_ROOM) && s->fd >= 0 && s->out_len < WISP_SOCK_OUT_MAX) {
        s->flags &= (uint8_t)~SOCK_WANT_ROOM;
        s->cb(s, WISP_SOCK_WRITABLE, 0);
    }
#if WISP_WITH_SERVER
    else if ((s->flags & SOCK_WANT_DRAIN) && s->fd >= 0 && !s->out_len) {
        s->flags &= (uint8_t)~SOCK_WANT_DRAIN;
        s->cb(s, WISP_SOCK_WRITABLE, 0);
    }
#endif
}

static void deferred_flush(wisp__defer_t *d)
{
    wisp__sock_t *s = (wisp__sock_t *)((char *)d - offsetof(wisp__sock_t, flush));

    if (s->fd >= 0 && !(s->flags & SOCK_CONNECTING))
        flush_and_notify(s);
}

#if WISP_SOCK_READAHEAD > 0
static void ra_ready(wisp__defer_t *d);
#endif

void wisp__sock_init(wisp_context_t *cx, wisp__sock_t *s, wisp__sock_cb cb, void *user)
{
    memset(s, 0, sizeof(*s));
    s->cx = cx;
    s->fd = -1;
    s->io_slot = -1;
    s->cb = cb;
    s->user = user;
    wisp__defer_init(&s->flush, deferred_flush);
#if WISP_SOCK_READAHEAD > 0
    wisp__defer_init(&s->ra_ready, ra_ready);
#endif
}

static int attach(wisp__sock_t *s, int fd, uint8_t want, uint8_t flags)
{
    int ret;

    s->fd = fd;
    s->want = want;
    s->flags = flags;
    ret = wisp__io_add(s->cx, s);
    if (ret) {
        s->cx->plat->sock_close(s->cx->plat->user, fd);
        s->fd = -1;
    }
    return ret;
}

int wisp__sock_connect(wisp__sock_t *s, const wisp_addr_t *to)
{
    const wisp_plat_ops_t *p;
    int fd = -1, ret;

    if (!s || !to || s->fd >= 0)
        return WISP_EINVAL;
    p = s->cx->plat;
    ret = p->tcp_connect(p->user, to, &fd);
    if (ret)
        return ret;
    /* Completion (or failure) always shows as writability, even when the connect
     * finished at once on loopback, so the owner hears of it from the loop. */
    return attach(s, fd, WISP_POLLOUT, SOCK_CONNECTING);
}

int wisp__sock_adopt(wisp__sock_t *s, int fd)
{
    if (!s || fd < 0 || s->fd >= 0)
        return WISP_EINVAL;
    return attach(s, fd, 0, 0);
}

int wisp__sock_listen(wisp__sock_t *s, const wisp_addr_t *at, int backlog, wisp_addr_t *bound)
{
    const wisp_plat_ops_t *p;
    int fd = -1, ret;

    if (!s || !at || s->fd >= 0)
        return WISP_EINVAL;
    p = s->cx->plat;
    ret = p->tcp_listen(p->user, at, backlog, &fd, bound);
    if (ret)
        return ret;
    return attach(s, fd, WISP_POLLIN, SOCK_LISTENING);
}

#if WISP_WITH_SERVER
int wisp__sock_accept(wisp__sock_t *s, int *fd, wisp_addr_t *peer)
{
    const wisp_plat_ops_t *p;

    if (!s || !fd || s->fd < 0 || !(s->flags & SOCK_LISTENING))
        return WISP_EINVAL;
    *fd = -1;
    p = s->cx->plat;
    return p->tcp_accept(p->user, s->fd, fd, peer);
}

void wisp__sock_close_fd(wisp_context_t *cx, int fd)
{
    const wisp_plat_ops_t *p = cx->plat;

    if (fd >= 0)
        p->sock_close(p->user, fd);
}

int wisp__sock_want_drain(wisp__sock_t *s)
{
    int ret;

    if (!s || s->fd < 0)
        return WISP_ESTATE;
    ret = wisp__sock_flush(s);
    if (ret == WISP_EAGAIN)
        s->flags |= SOCK_WANT_DRAIN;
    return ret;
}
#endif /* WISP_WITH_SERVER: accepting and draining are the server's */

void wisp__sock_want_read(wisp__sock_t *s, int on)
{
    if (s->fd < 0)
        return;
    set_want(s, (uint8_t)(on ? (s->want | WISP_POLLIN) : (s->want & ~WISP_POLLIN)));
}

static int out_reserve(wisp__sock_t *s, size_t want)
{
    size_t ncap;
    uint8_t *n;

    if (want <= s->out_cap)
        return 0;
    ncap = (want + SOCK_OUT_STEP - 1) / SOCK_OUT_STEP * SOCK_OUT_STEP;
    if (ncap > WISP_SOCK_OUT_MAX)
        ncap = WISP_SOCK_OUT_MAX;
    n = wisp__alloc(s->cx, ncap);
    if (!n)
        return WISP_ENOMEM;
    if (s->out_len)
        memcpy(n, s->out, s->out_len);
    wisp__free(s->cx, s->out);
    s->out = n;
    s->out_cap = ncap;
    return 0;
}

int wisp__sock_write(wisp__sock_t *s, const void *buf, size_t len)
{
    size_t room, take;
    int ret;

    if (!s || s->fd < 0 || (s->flags & SOCK_LISTENING))
        return WISP_ESTATE;
    if (!len)
        return 0;
    room = WISP_SOCK_OUT_MAX - s->out_len;
    if (!room) {
        s->flags |= SOCK_WANT_ROOM;
        return WISP_EAGAIN;
    }
    take = len < room ? len : room;
    ret = out_reserve(s, s->out_len + take);
    if (ret)
        return ret;
    memcpy(s->out + s->out_len, buf, take);
    s->out_len += take;
    if (!(s->flags & SOCK_CONNECTING))
        wisp__defer(s->cx, &s->flush);
    return (int)take;
}

static int kernel_read(wisp__sock_t *s, void *buf, size_t len)
{
    const wisp_plat_ops_t *p = s->cx->plat;
    int n = p->sock_recv(p->user, s->fd, buf, len);

    if (n > 0)
        s->cx->stats.bytes_in += (uint64_t)n;
#if WISP_SOCK_READAHEAD > 0
    if (n >= 0 && (size_t)n < len)
        s->flags |= SOCK_SHORT;
    else
        s->flags &= (uint8_t)~SOCK_SHORT;
#endif
    return n;
}

#if WISP_SOCK_READAHEAD > 65535
#error "WISP_SOCK_READAHEAD: at most 65535 (ra_len is 16 bits)"
#endif
#if WISP_SOCK_READAHEAD > 0
static void ra_release(wisp__sock_t *s)
{
    wisp__defer_cancel(s->cx, &s->ra_ready);
    wisp__free(s->cx, s->ra);
    s->ra = NULL;
    s->ra_off = s->ra_len = 0;
}

/* Bytes left in the read-ahead after a read are readiness poll cannot report: the
 * owner hears WISP_SOCK_READABLE for them at the end of the iteration, as it would
 * from poll, if it still reads and they are still there. */
static void ra_ready(wisp__defer_t *d)
{
    wisp__sock_t *s = (wisp__sock_t *)((char *)d - offsetof(wisp__sock_t, ra_ready));

    if (s->fd >= 0 && s->ra_len && (s->want & WISP_POLLIN))
        s->cb(s, WISP_SOCK_READABLE, 0);
}

/* Serve a small read from the read-ahead, filling it first if empty. Returns 1 with
 * *n set when it did; 0 to read straight (a large read, or no memory for it). */
static int ra_read(wisp__sock_t *s, uint8_t *buf, size_t len, int *n)
{
    if (!s->ra_len) {
        if (!(s->flags & SOCK_READAHEAD) || len >= WISP_SOCK_READAHEAD)
            return 0;
        if (!s->ra && !(s->ra = wisp__alloc(s->cx, WISP_SOCK_READAHEAD)))
            return 0; /* a direct read works as well, one syscall more */
        *n = kernel_read(s, s->ra, WISP_SOCK_READAHEAD);
        if (*n <= 0) {
            ra_release(s);
            return 1;
        }
        s->ra_off = 0;
        s->ra_len = (uint16_t)*n;
    }
    *n = (int)(len < s->ra_len ? len : s->ra_len);
    memcpy(buf, s->ra + s->ra_off, (size_t)*n);
    s->ra_off = (uint16_t)(s->ra_off + *n);
    s->ra_len = (uint16_t)(s->ra_len - *n);
    if (!s->ra_len)
        ra_release(s);
    else
        wisp__defer(s->cx, &s->ra_ready);
    return 1;
}

void wisp__sock_readahead(wisp__sock_t *s)
{
    s->flags |= SOCK_READAHEAD;
}

size_t wisp__sock_buffered(const wisp__sock_t *s)
{
    return s->ra_len;
}

int wisp__sock_drained(const wisp__sock_t *s)
{
    return (s->flags & SOCK_SHORT) && !s->ra_len;
}
#endif

int wisp__sock_read(wisp__sock_t *s, void *buf, size_t len)
{
    if (!s || s->fd < 0)
        return WISP_ESTATE;
#if WISP_SOCK_READAHEAD > 0
    {
        int n;

        if (ra_read(s, buf, len, &n))
            return n;
    }
#endif
    return kernel_read(s, buf, len);
}

int wisp__sock_flush(wisp__sock_t *s)
{
    if (!s || s->fd < 0)
        return WISP_ESTATE;
    if (s->flags & SOCK_CONNECTING)
        return WISP_EAGAIN;
    return flush_out(s);
}

size_t wisp__sock_pending(const wisp__sock_t *s)
{
    return s ? s->out_len : 0;
}

void wisp__sock_unregister(wisp__sock_t *s)
{
    if (!s || s->fd < 0)
        return;
    wisp__defer_cancel(s->cx, &s->flush);
    wisp__io_del(s->cx, s);
}

void wisp__sock_close(wisp__sock_t *s)
{
    if (!s || s->fd < 0)
        return;
    wisp__defer_cancel(s->cx, &s->flush);
    wisp__io_del(s->cx, s);
    out_release(s);
#if WISP_SOCK_READAHEAD > 0
    ra_release(s);
#endif
    s->cx->plat->sock_close(s->cx->plat->user, s->fd);
    s->fd = -1;
    s->flags = 0;
}

void wisp__sock_dispatch(wisp__sock_t *s, unsigned revents)
{
    if (s->flags & SOCK_CONNECTING) {
        int err;

        if (!(revents & (WISP_POLLOUT | WISP_POLLERR | WISP_POLLHUP)))
            return;
        err = s->cx->plat->sock_error(s->cx->plat->user, s->fd);
        s->flags &= (uint8_t)~SOCK_CONNECTING;
        set_want(s, (uint8_t)(s->want & ~WISP_POLLOUT));
        if (!err && s->out_len)
            wisp__defer(s->cx, &s->flush);
        s->cb(s, WISP_SOCK_CONNECTED, err);
        return;
    }
    if ((revents & WISP_POLLOUT) && s->out_len) {
        flush_and_notify(s);
        if (s->fd < 0)
            return;
    }
    /* Errors and hang-ups go to the owner as readability even when it is not
     * reading, so it sees the failure on its next read instead of the loop spinning
     * on an event nobody consumes. */
    if ((revents & (WISP_POLLERR | WISP_POLLHUP)) ||
        ((revents & WISP_POLLIN) && (s->want & WISP_POLLIN)))
        s->cb(s, WISP_SOCK_READABLE, 0);
}
