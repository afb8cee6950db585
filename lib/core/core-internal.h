/*
 * wisp core's library-internal interface: what the other modules use of lib/core
 * (accounted allocation, logging macros, statistics, module slots, timers, deferred
 * work, buffered sockets, name resolution). Never installed; applications never see
 * it. The context's own layout stays private to lib/core (context-private.h).
 */
#ifndef WISP_CORE_INTERNAL_H
#define WISP_CORE_INTERNAL_H

#include "wisp/core.h"

#include <stdarg.h>

/* ---- Base context lifecycle ----
 * The public wisp_context_create()/destroy() live in lib/stream/context.c, the top of
 * the dependency chain, because creating a context attaches a policy (lib/policy)
 * and destroying one tears down every module's state. Core only offers the base
 * object; the modules register their teardown through the slots below. */
WISP_NODISCARD int wisp__context_new(const wisp_context_info_t *info, wisp_context_t **out);
void wisp__context_free(wisp_context_t *cx);
void wisp__context_set_policy(wisp_context_t *cx, const struct wisp_policy *p);
/** Called by wisp_context_destroy(): inside wisp_service() (a callback is running)
 *  the context is marked and freed when the iteration ends (returns 1); outside,
 *  returns 0 and the caller frees it now. */
int wisp__context_defer_free(wisp_context_t *cx);
/** Around a public call that calls out to the application outside wisp_service()
 *  (wisp_stream_create, request_tx, destroy): a context destroyed from such a
 *  callback is freed by the release of the outermost hold, which returns 1 then
 *  (the caller must touch nothing afterwards). */
void wisp__context_hold(wisp_context_t *cx);
int wisp__context_release(wisp_context_t *cx);
/** Nonzero once a deferred destroy was asked for: create nothing new. */
int wisp__context_dying(const wisp_context_t *cx);

/* ---- Allocation (every byte wisp holds goes through these) ---- */

/** Accounted allocation; NULL on failure or past the heap limit (logged once). */
WISP_NODISCARD void *wisp__alloc(wisp_context_t *cx, size_t size);
/** As wisp__alloc, zero-filled. */
WISP_NODISCARD void *wisp__zalloc(wisp_context_t *cx, size_t size);
/** NULL-safe free of a block from wisp__alloc. */
void wisp__free(wisp_context_t *cx, void *ptr);
/** A copy of len bytes plus a NUL terminator; NULL on failure. */
WISP_NODISCARD char *wisp__strndup(wisp_context_t *cx, const char *s, size_t len);
/** Overwrite len bytes at p with zeros in a way the compiler cannot drop (a dead
 *  store before free() otherwise may be). NULL-safe. For keys and key text. */
void wisp__zeroize(void *p, size_t len);

/* ---- Character classes ---- */

/** Nonzero if c is an RFC 9110 token character (tchar: header names, methods); the
 *  one test for the whole library, shared by the HTTP engine and the policy loader so
 *  a header name the policy accepts is exactly one the writer accepts. c is an
 *  unsigned char value; 0 is not one. Inline: the parser calls it for every byte of
 *  every field name (as a call it was 1.8% of a 10,000-stream run). */
static inline int wisp__is_tchar(int c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
        return 1;
    default:
        return 0;
    }
}

/* ---- Logging: compiled out below WISP_LOG_LEVEL ---- */

void wisp__log(wisp_context_t *cx, int level, const char *fmt, ...) WISP_PRINTF(3, 4);
int wisp__log_enabled(const wisp_context_t *cx, int level);

#if WISP_LOG_LEVEL >= 0
#define WISP_LOGE(cx, ...) wisp__log((cx), WISP_LOG_ERROR, __VA_ARGS__)
#else
#define WISP_LOGE(cx, ...) ((void)(cx))
#endif
#if WISP_LOG_LEVEL >= 1
#define WISP_LOGW(cx, ...) wisp__log((cx), WISP_LOG_WARN, __VA_ARGS__)
#else
#define WISP_LOGW(cx, ...) ((void)(cx))
#endif
#if WISP_LOG_LEVEL >= 2
#define WISP_LOGN(cx, ...) wisp__log((cx), WISP_LOG_NOTICE, __VA_ARGS__)
#else
#define WISP_LOGN(cx, ...) ((void)(cx))
#endif
#if WISP_LOG_LEVEL >= 3
#define WISP_LOGI(cx, ...) wisp__log((cx), WISP_LOG_INFO, __VA_ARGS__)
#else
#define WISP_LOGI(cx, ...) ((void)(cx))
#endif
#if WISP_LOG_LEVEL >= 4
#define WISP_LOGD(cx, ...) wisp__log((cx), WISP_LOG_DEBUG, __VA_ARGS__)
#else
#define WISP_LOGD(cx, ...) ((void)(cx))
#endif

/* ---- Statistics and per-module state ---- */

/** The context's live statistics, for modules to update. */
wisp_stats_t *wisp__stats(wisp_context_t *cx);
const wisp_plat_ops_t *wisp__plat(const wisp_context_t *cx);

/** Module state slots, destroyed at context destruction from the highest slot down,
 *  so streams go before vhosts, vhosts before TLS, and the policy last. */
enum wisp__slot_id {
    WISP_SLOT_POLICY,
    WISP_SLOT_TLS,
    WISP_SLOT_VHOST,
    WISP_SLOT_H1,
    WISP_SLOT_H1_SERVER,
    WISP_SLOT_H1_NOPIPE, /* plaintext host:port that do not pipeline (client-conn.c) */
    WISP_SLOT_STREAM,
    WISP_SLOT_SESSIONS, /* lib/vhost/sessions.c: loaded sessions waiting for their vhost */
    WISP_SLOT_COUNT
};
typedef void (*wisp__slot_destroy_cb)(wisp_context_t *cx, void *state);
void *wisp__slot(const wisp_context_t *cx, int slot);
void wisp__slot_set(wisp_context_t *cx, int slot, void *state, wisp__slot_destroy_cb d);
/** The slot's storage itself, for a module that keeps a list head there (so an idle
 *  module holds no heap), and its destructor, called only while the slot is set. */
void **wisp__slot_ptr(wisp_context_t *cx, int slot);
void wisp__slot_set_destroy(wisp_context_t *cx, int slot, wisp__slot_destroy_cb d);

/* ---- Timers: a sorted list of deadlines, embedded in their owners ---- */

typedef struct wisp__timer wisp__timer_t;
typedef void (*wisp__timer_cb)(wisp__timer_t *t);
struct wisp__timer {
    wisp__timer_t *next, *prev;
    uint64_t deadline;
    wisp__timer_cb cb;
    uint8_t armed;
};
/** Prepare a timer; cannot fail. */
void wisp__timer_init(wisp__timer_t *t, wisp__timer_cb cb);
/** (Re)arm to fire once, ms from now. */
void wisp__timer_start(wisp_context_t *cx, wisp__timer_t *t, uint32_t ms);
/** Disarm; harmless if not armed. */
void wisp__timer_stop(wisp_context_t *cx, wisp__timer_t *t);

/* ---- Deferred work: runs at the end of the current loop iteration ---- */

typedef struct wisp__defer wisp__defer_t;
typedef void (*wisp__defer_cb)(wisp__defer_t *d);
struct wisp__defer {
    wisp__defer_t *next;
    wisp__defer_cb cb;
    uint8_t queued;
};
void wisp__defer_init(wisp__defer_t *d, wisp__defer_cb cb);
/** Queue d (once: queuing a queued item does nothing). */
void wisp__defer(wisp_context_t *cx, wisp__defer_t *d);
/** Unqueue d if queued. */
void wisp__defer_cancel(wisp_context_t *cx, wisp__defer_t *d);

/* ---- Buffered non-blocking TCP socket ----
 * Writes are coalesced in a per-socket buffer (cap WISP_SOCK_OUT_MAX) and flushed at
 * the end of the loop iteration, so a TLS flight leaves in one send(). Reads go
 * straight to the socket. A socket is closed exactly once, by wisp__sock_close(),
 * which unregisters it from the poller before closing the fd; events already fetched
 * for it are dropped.
 */
enum wisp__sock_event {
    WISP_SOCK_CONNECTED, /**< async connect finished (err: 0 or the failure) */
    WISP_SOCK_READABLE,  /**< data or EOF waiting; call wisp__sock_read */
    WISP_SOCK_WRITABLE,  /**< room in the output buffer again after WISP_EAGAIN */
    WISP_SOCK_ERROR      /**< flushing failed (err); the owner must close */
};
typedef struct wisp__sock wisp__sock_t;
typedef void (*wisp__sock_cb)(wisp__sock_t *s, int event, int err);
struct wisp__sock {
    wisp_context_t *cx;
    int fd;       /**< -1 when closed */
    uint8_t want; /**< WISP_POLL* currently registered */
    uint8_t flags;
    int io_slot; /**< index in the loop's registration table, -1 if none */
    wisp__defer_t flush;
    uint8_t *out;
    size_t out_len, out_cap;
#if WISP_SOCK_READAHEAD > 0
    uint8_t *ra; /**< read-ahead (WISP_SOCK_READAHEAD bytes), NULL when drained */
    uint16_t ra_off, ra_len;
    wisp__defer_t ra_ready; /**< READABLE for bytes held there, which poll cannot see */
#endif
    wisp__sock_cb cb;
    void *user;
};
void wisp__sock_init(wisp_context_t *cx, wisp__sock_t *s, wisp__sock_cb cb, void *user);
#if WISP_SOCK_READAHEAD > 0
/** Reads of fewer than WISP_SOCK_READAHEAD bytes go through a read-ahead buffer
 *  (a TLS client link asks for it). */
void wisp__sock_readahead(wisp__sock_t *s);
/** Bytes read from the kernel and not yet taken by wisp__sock_read(). */
size_t wisp__sock_buffered(const wisp__sock_t *s);
/** Nonzero when the last read from the kernel came back short and everything it
 *  brought has been taken: a read now would most likely return WISP_EAGAIN. */
int wisp__sock_drained(const wisp__sock_t *s);
#else /* compiled out: no code at all (the firmware's flash budget) */
static inline void wisp__sock_readahead(wisp__sock_t *s)
{
    (void)s;
}
static inline size_t wisp__sock_buffered(const wisp__sock_t *s)
{
    (void)s;
    return 0;
}
static inline int wisp__sock_drained(const wisp__sock_t *s)
{
    (void)s;
    return 0;
}
#endif
/** Start an async connect; WISP_SOCK_CONNECTED follows (never before this returns). */
WISP_NODISCARD int wisp__sock_connect(wisp__sock_t *s, const wisp_addr_t *to);
/** Take over an accepted fd; it is closed if this fails. */
WISP_NODISCARD int wisp__sock_adopt(wisp__sock_t *s, int fd);
/** Listen; a port of 0 picks one, reported in *bound. */
WISP_NODISCARD int wisp__sock_listen(wisp__sock_t *s, const wisp_addr_t *at, int backlog,
                                     wisp_addr_t *bound);
/** Accept one connection on a listening socket: 0 with *fd (non-blocking) and
 *  *peer (may be NULL) set, WISP_EAGAIN when none is waiting, or an error. The fd
 *  belongs to the caller, who adopts it (wisp__sock_adopt) or closes it. */
WISP_NODISCARD int wisp__sock_accept(wisp__sock_t *s, int *fd, wisp_addr_t *peer);
/** Close an fd that no wisp__sock_t owns (an accepted one refused at once). */
void wisp__sock_close_fd(wisp_context_t *cx, int fd);
/** Flush now: 0 when nothing is left to send; WISP_EAGAIN when bytes remain, and
 *  then one WISP_SOCK_WRITABLE follows once they are all sent; or an error. */
WISP_NODISCARD int wisp__sock_want_drain(wisp__sock_t *s);
/** Ask for (or stop) WISP_SOCK_READABLE events. */
void wisp__sock_want_read(wisp__sock_t *s, int on);
/** Queue bytes: returns how many were taken (> 0), or WISP_EAGAIN when the buffer is
 *  full (a WISP_SOCK_WRITABLE event follows), or WISP_ESTATE if closed. */
int wisp__sock_write(wisp__sock_t *s, const void *buf, size_t len);
/** Bytes read (> 0), 0 at EOF, WISP_EAGAIN, or an error. */
int wisp__sock_read(wisp__sock_t *s, void *buf, size_t len);
/** Try to send buffered bytes now. 0, WISP_EAGAIN (some remain) or an error. */
int wisp__sock_flush(wisp__sock_t *s);
/** Bytes still buffered. */
size_t wisp__sock_pending(const wisp__sock_t *s);
/** Stop polling the socket (first step of a close: events already fetched for it
 *  are dropped). The fd stays open. Idempotent. */
void wisp__sock_unregister(wisp__sock_t *s);
/** Unregister, free the buffer, close the fd. Idempotent. */
void wisp__sock_close(wisp__sock_t *s);

/* ---- Name resolution off the loop thread ---- */

typedef struct wisp__resolve wisp__resolve_t;
typedef void (*wisp__resolve_cb)(void *arg, int status, const wisp_addr_t *addrs, size_t n);
/**
 * Resolve a host name. Numeric addresses are answered without a thread, but always
 * through cb on a later iteration, never from inside this call. On error (returned)
 * cb is never called. *h may be passed to wisp__resolve_cancel until cb runs.
 */
WISP_NODISCARD int wisp__resolve_start(wisp_context_t *cx, const char *host, uint16_t port,
                                       wisp__resolve_cb cb, void *arg, wisp__resolve_t **h);
/** cb will not be called; sets *h to NULL. NULL-safe. */
void wisp__resolve_cancel(wisp__resolve_t **h);

#endif /* WISP_CORE_INTERNAL_H */
