/*
 * The firmware test board's platform: everything wisp needs from an OS, in RAM.
 *
 * Sockets. tcp_connect() creates a connected pair of ends; the other end waits in an
 * accept queue for the in-image TLS peer (mem_accept). Each end owns a fixed ring of
 * the bytes sent to it, so a send to a full ring takes what fits and then returns
 * WISP_EAGAIN, as a real socket does. Closing an end gives the other end EOF (and a
 * reset if it sends). fd 0 is the wake primitive; socket ends are 1..MEM_FDS-1.
 *
 * Time. A virtual clock in milliseconds: it advances only when poll() finds nothing
 * ready and would wait, by the time it would have waited. Runs are deterministic, and
 * a timeout still fires if the peer stops answering.
 *
 * Entropy. TEST-ONLY: a xorshift generator with a fixed seed, so the emulator run
 * is repeatable. A real board MUST feed a hardware TRNG here (lib/plat/README.md).
 *
 * Single-threaded by construction (bare metal): the lock is a no-op and there is no
 * name resolution (the test policy's endpoint is numeric).
 */
#include <string.h>

#include "plat-mem.h"

#define MEM_FDS 6
#define MEM_BUF 4096
#define WAKE_FD 0

typedef struct mem_end {
    uint8_t used;
    int peer; /* -1 once the other end closed */
    size_t head, len;
    uint8_t buf[MEM_BUF]; /* bytes sent to this end, not yet read */
} mem_end_t;

static mem_end_t ends[MEM_FDS];
static int accept_q[MEM_FDS];
static unsigned accept_n;
static uint64_t clock_ms;
static uint8_t woken;
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static int end_new(void)
{
    int i;

    for (i = 1; i < MEM_FDS; i++)
        if (!ends[i].used) {
            memset(&ends[i], 0, offsetof(mem_end_t, buf));
            ends[i].used = 1;
            return i;
        }
    return -1;
}

static int valid(int fd)
{
    return fd > 0 && fd < MEM_FDS && ends[fd].used;
}

uint64_t mem_now(void)
{
    return clock_ms;
}

static uint64_t op_now(void *user)
{
    (void)user;
    return clock_ms;
}

int mem_entropy(void *user, void *buf, size_t len)
{
    uint8_t *p = buf;

    (void)user;
    while (len--) {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        *p++ = (uint8_t)(rng_state >> 32);
    }
    return 0;
}

static int op_connect(void *user, const wisp_addr_t *to, int *fd)
{
    int a, b;

    (void)user;
    (void)to;
    a = end_new();
    if (a < 0)
        return WISP_ENOMEM;
    b = end_new();
    if (b < 0) {
        ends[a].used = 0;
        return WISP_ENOMEM;
    }
    ends[a].peer = b;
    ends[b].peer = a;
    accept_q[accept_n++] = b;
    *fd = a;
    return 0;
}

int mem_accept(void)
{
    int fd;

    if (!accept_n)
        return -1;
    fd = accept_q[0];
    memmove(accept_q, accept_q + 1, --accept_n * sizeof(accept_q[0]));
    return fd;
}

int mem_send(int fd, const void *buf, size_t len)
{
    mem_end_t *to;
    size_t n, tail, first;

    if (!valid(fd))
        return WISP_EINVAL;
    if (ends[fd].peer < 0)
        return WISP_ERESET;
    to = &ends[ends[fd].peer];
    n = MEM_BUF - to->len < len ? MEM_BUF - to->len : len;
    if (!n)
        return WISP_EAGAIN;
    tail = (to->head + to->len) % MEM_BUF;
    first = MEM_BUF - tail < n ? MEM_BUF - tail : n;
    memcpy(to->buf + tail, buf, first);
    memcpy(to->buf, (const uint8_t *)buf + first, n - first);
    to->len += n;
    return (int)n;
}

int mem_recv(int fd, void *buf, size_t len)
{
    mem_end_t *e;
    size_t n, first;

    if (!valid(fd))
        return WISP_EINVAL;
    e = &ends[fd];
    if (!e->len)
        return e->peer < 0 ? 0 : WISP_EAGAIN;
    n = e->len < len ? e->len : len;
    first = MEM_BUF - e->head < n ? MEM_BUF - e->head : n;
    memcpy(buf, e->buf + e->head, first);
    memcpy((uint8_t *)buf + first, e->buf, n - first);
    e->head = (e->head + n) % MEM_BUF;
    e->len -= n;
    return (int)n;
}

void mem_close(int fd)
{
    if (!valid(fd))
        return;
    if (ends[fd].peer >= 0)
        ends[ends[fd].peer].peer = -1;
    ends[fd].used = 0;
}

static int op_send(void *user, int fd, const void *buf, size_t len)
{
    (void)user;
    return mem_send(fd, buf, len);
}

static int op_recv(void *user, int fd, void *buf, size_t len)
{
    (void)user;
    return mem_recv(fd, buf, len);
}

static int op_sock_error(void *user, int fd)
{
    (void)user;
    return valid(fd) ? 0 : WISP_ESOCKET;
}

static void op_close(void *user, int fd)
{
    (void)user;
    mem_close(fd);
}

static uint8_t readiness(int fd)
{
    const mem_end_t *e;
    uint8_t r = 0;

    if (fd == WAKE_FD)
        return woken ? WISP_POLLIN : 0;
    if (!valid(fd))
        return WISP_POLLERR;
    e = &ends[fd];
    if (e->len || e->peer < 0)
        r |= WISP_POLLIN;
    if (e->peer < 0)
        r |= WISP_POLLOUT | WISP_POLLHUP;
    else if (ends[e->peer].len < MEM_BUF)
        r |= WISP_POLLOUT;
    return r;
}

static int op_poll(void *user, wisp_pollfd_t *fds, size_t n, int timeout_ms, void *scratch)
{
    size_t i;
    int ready = 0;

    (void)user;
    (void)scratch;
    for (i = 0; i < n; i++) {
        fds[i].revents = fds[i].fd < 0 ? 0 : readiness(fds[i].fd) & (fds[i].events | 0xC);
        if (fds[i].revents)
            ready++;
    }
    if (!ready && timeout_ms)
        clock_ms += timeout_ms > 0 ? (uint64_t)timeout_ms : 10;
    return ready;
}

static int op_wake_open(void *user, void *wake, int *fd)
{
    (void)user;
    (void)wake;
    *fd = WAKE_FD;
    return 0;
}

static void op_wake_signal(void *user, void *wake)
{
    (void)user;
    (void)wake;
    woken = 1;
}

static void op_wake_drain(void *user, void *wake)
{
    (void)user;
    (void)wake;
    woken = 0;
}

static void op_wake_close(void *user, void *wake)
{
    (void)user;
    (void)wake;
}

static int op_lock_create(void *user, void *lock)
{
    (void)user;
    (void)lock;
    return 0;
}

static void op_lock(void *user, void *lock)
{
    (void)user;
    (void)lock;
}

static int op_resolve(void *user, wisp_resolve_job_t *job)
{
    (void)user;
    (void)job;
    return WISP_EUNSUPPORTED;
}

static const wisp_plat_ops_t ops = {
    .now_ms = op_now,
    .entropy = mem_entropy,
    .tcp_connect = op_connect,
    .sock_send = op_send,
    .sock_recv = op_recv,
    .sock_error = op_sock_error,
    .sock_close = op_close,
    .poll = op_poll,
    .poll_scratch = 0,
    .wake_open = op_wake_open,
    .wake_signal = op_wake_signal,
    .wake_drain = op_wake_drain,
    .wake_close = op_wake_close,
    .lock_create = op_lock_create,
    .lock = op_lock,
    .unlock = op_lock,
    .lock_destroy = op_lock,
    .resolve = op_resolve,
};

const wisp_plat_ops_t *mem_plat(void)
{
    return &ops;
}

/* mbedTLS 3.6's hardware entropy hook (MBEDTLS_ENTROPY_HARDWARE_ALT in its embedded
 * profile): the seed of PSA's process-global RNG, in each mbedTLS copy of the image.
 * TEST-ONLY, like mem_entropy: a real board reads its TRNG here. Unused (and dropped
 * by --gc-sections) with 2.28. */
int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen);
int mbedtls_hardware_poll(void *data, unsigned char *output, size_t len, size_t *olen)
{
    *olen = len;
    return mem_entropy(data, output, len);
}
