/*
 * wisp core: the context, its event loop, timers, allocator accounting, logging and
 * statistics.
 *
 * A context owns everything wisp allocates; there is no global mutable state, so
 * several contexts may live in one process, one per thread. A context and every
 * object under it belong to the thread that runs its loop: only wisp_post() and
 * wisp_stop() may be called from another thread.
 */
#ifndef WISP_CORE_H
#define WISP_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "wisp/config.h"
#include "wisp/error.h"
#include "wisp/plat.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wisp_context wisp_context_t;
struct wisp_policy; /* lib/policy: see wisp/policy.h */

/** Log levels, most severe first. */
enum wisp_log_level {
    WISP_LOG_ERROR = 0,
    WISP_LOG_WARN = 1,
    WISP_LOG_NOTICE = 2,
    WISP_LOG_INFO = 3,
    WISP_LOG_DEBUG = 4
};

/** A log sink: one formatted line without a trailing newline. */
typedef void (*wisp_log_cb)(void *user, int level, const char *line);

/** A user allocator. alloc() returns NULL on failure; free(NULL) must be harmless. */
typedef struct wisp_allocator {
    void *(*alloc)(void *user, size_t size);
    void (*free)(void *user, void *ptr);
    void *user;
} wisp_allocator_t;

/** Called on the loop thread for each wisp_post(). */
typedef void (*wisp_post_cb)(wisp_context_t *cx, void *arg);

/** Context statistics. Counters only grow; *_live and heap_* are current values. */
typedef struct wisp_stats {
    size_t heap_in_use; /**< bytes wisp holds now (accounted allocator) */
    size_t heap_peak;   /**< most bytes held at once */
    uint32_t vhosts_live;
    uint32_t vhosts_created;
    uint32_t vhosts_destroyed;
    uint32_t conns_live;
    uint32_t conns_opened;
    uint32_t handshakes_full;
    uint32_t handshakes_resumed;
    uint32_t streams_live;
    uint32_t transactions;
    uint32_t reuses; /**< transactions on an inherited or kept-alive conn */
    uint32_t retries;
    uint64_t bytes_in;      /**< bytes read from sockets */
    uint64_t bytes_out;     /**< bytes written to sockets */
    uint32_t conns_refused; /**< server: connections over max_connections */
} wisp_stats_t;

typedef struct wisp_context_info {
    /** A policy as JSON text (needs WISP_WITH_JSON_POLICY), or NULL. */
    const char *policy_json;
    size_t policy_json_len;
    /** Name used in policy error messages ("policy.json"); NULL gives "policy". */
    const char *policy_name;
    /** A static policy from wisp-policy compile, or NULL. At most one of the two. */
    const struct wisp_policy *policy;

    /** Allocator; NULL uses the C library's malloc/free. */
    const wisp_allocator_t *allocator;
    /** Bytes wisp may hold at once; 0 means no limit. */
    size_t heap_limit;

    /** Log sink; NULL writes to stderr on POSIX builds. */
    wisp_log_cb log;
    void *log_user;
    /** Runtime log level (≤ the compile-time WISP_LOG_LEVEL); default WISP_LOG_NOTICE. */
    int log_level;
    /** Nonzero: log_level is used even when it is 0 (errors only). */
    int log_level_set;

    /** Platform; NULL picks the build's default port (POSIX on Linux). */
    const wisp_plat_ops_t *plat;
} wisp_context_info_t;

/**
 * \brief  Create a context.
 * \param  info  settings; copied, need not outlive the call. The static policy and
 *               the allocator it points to must outlive the context.
 * \param  out   receives the context on success, NULL on failure
 * \return 0, WISP_EINVAL (NULL arguments, both or neither policy forms are fine but
 *         not both), WISP_ENOMEM, WISP_EPOLICY (the JSON policy has errors: they are
 *         logged), WISP_EUNSUPPORTED (JSON given to a build without the loader),
 *         or a platform error from opening the wake primitive.
 */
WISP_API WISP_NODISCARD int wisp_context_create(const wisp_context_info_t *info,
                                                wisp_context_t **out);

/**
 * \brief  Destroy a context: every remaining stream gets DESTROYING, every connection
 *         is closed, every vhost freed. Afterwards wisp holds zero heap.
 *         NULL-safe. Must not be called from a callback of the same context.
 */
WISP_API void wisp_context_destroy(wisp_context_t *cx);

/**
 * \brief  Run one loop iteration: poll sockets for up to timeout_ms (clipped to the
 *         next timer; -1 waits until something happens), run due timers, handle
 *         posted calls, run I/O callbacks, then free objects marked for destruction.
 * \return 0, WISP_ECANCELED if wisp_stop() was called, or a platform poll error.
 */
WISP_API int wisp_service(wisp_context_t *cx, int timeout_ms);

/** \brief Loop on wisp_service() until wisp_stop(). Returns 0 or a poll error. */
WISP_API int wisp_run(wisp_context_t *cx);

/** \brief Make wisp_run() return. Safe from any thread and from signal-free contexts. */
WISP_API void wisp_stop(wisp_context_t *cx);

/**
 * \brief  Queue fn(cx, arg) to run on the loop thread and wake the loop.
 *         Safe from any thread. Does not allocate: the queue is a fixed ring of
 *         WISP_POST_QUEUE_LEN slots.
 * \return 0, WISP_EINVAL, or WISP_EBUSY when the ring is full (nothing queued).
 */
WISP_API WISP_NODISCARD int wisp_post(wisp_context_t *cx, wisp_post_cb fn, void *arg);

/** \brief Copy the current statistics. Loop thread only. */
WISP_API void wisp_get_stats(const wisp_context_t *cx, wisp_stats_t *st);

/**
 * \brief  Write the statistics as one JSON object with exactly the SPEC §5 keys.
 * \return the length written (excluding NUL), or WISP_ETOOBIG if len is too small.
 */
WISP_API int wisp_stats_json(const wisp_stats_t *st, char *buf, size_t len);

/** \brief Monotonic milliseconds of the context's platform clock. */
WISP_API uint64_t wisp_now_ms(const wisp_context_t *cx);

/** \brief Change the runtime log level. */
WISP_API void wisp_set_log_level(wisp_context_t *cx, int level);

/** \brief The policy the context was created with, or NULL. */
WISP_API const struct wisp_policy *wisp_context_policy(const wisp_context_t *cx);

/** \brief The mbedTLS version the library was built against ("2.28.3"). */
WISP_API const char *wisp_tls_version(void);

/* ==== Library-internal interface ==============================================
 * Used by the other wisp modules; visible only when WISP_LIBRARY is defined (the
 * library's own build and its tests). Applications never see it.
 */
#ifdef WISP_LIBRARY

#include <stdarg.h>

/* ---- Allocation (every byte wisp holds goes through these) ---- */

/** Accounted allocation; NULL on failure or past the heap limit (logged once). */
WISP_NODISCARD void *wisp__alloc(wisp_context_t *cx, size_t size);
/** As wisp__alloc, zero-filled. */
WISP_NODISCARD void *wisp__zalloc(wisp_context_t *cx, size_t size);
/** NULL-safe free of a block from wisp__alloc. */
void wisp__free(wisp_context_t *cx, void *ptr);
/** A copy of len bytes plus a NUL terminator; NULL on failure. */
WISP_NODISCARD char *wisp__strndup(wisp_context_t *cx, const char *s, size_t len);

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
    WISP_SLOT_STREAM,
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
    wisp__sock_cb cb;
    void *user;
};
void wisp__sock_init(wisp_context_t *cx, wisp__sock_t *s, wisp__sock_cb cb, void *user);
/** Start an async connect; WISP_SOCK_CONNECTED follows (never before this returns). */
WISP_NODISCARD int wisp__sock_connect(wisp__sock_t *s, const wisp_addr_t *to);
/** Take over an accepted fd. */
WISP_NODISCARD int wisp__sock_adopt(wisp__sock_t *s, int fd);
/** Listen; a port of 0 picks one, reported in *bound. */
WISP_NODISCARD int wisp__sock_listen(wisp__sock_t *s, const wisp_addr_t *at, int backlog,
                                     wisp_addr_t *bound);
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

#endif /* WISP_LIBRARY */

#ifdef __cplusplus
}
#endif

#endif /* WISP_CORE_H */
