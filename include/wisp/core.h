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
    uint32_t conns_refused; /**< server: held connections closed at max_connections for a waiting
                               client */
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
    /** sizeof the table plat points to, as the port was compiled (its size
     *  discipline: see "Growing structs" below); 0 means the table of this header's
     *  first version, which is the whole table today. */
    size_t plat_size;
} wisp_context_info_t;

/*
 * Growing structs (SPEC §5). wisp_context_info_t, wisp_stats_t and wisp_plat_ops_t
 * only ever grow at the end, and the library is told the size the application was
 * compiled with: wisp_context_create() and wisp_get_stats() are macros that pass
 * sizeof, and wisp_context_info_t.plat_size does it for the platform table. A
 * library newer than the application treats the fields it was not given as zero
 * (defaults, or "no such op"); an older one refuses an info struct whose unknown
 * tail is not all zero (WISP_EUNSUPPORTED) and fills only the stats it has.
 */

/**
 * \brief  Create a context.
 * \param  info  settings; copied, need not outlive the call. The static policy and
 *               the allocator it points to must outlive the context.
 * \param  out   receives the context on success, NULL on failure
 * \return 0, WISP_EINVAL (NULL arguments, both or neither policy forms are fine but
 *         not both), WISP_ENOMEM, WISP_EPOLICY (the JSON policy has errors: they are
 *         logged), WISP_EUNSUPPORTED (JSON given to a build without the loader),
 *         or a platform error from opening the wake primitive. Through the
 *         sized entry point also WISP_EINVAL for an info_size smaller than this
 *         struct's first version, and WISP_EUNSUPPORTED for fields (a non-zero
 *         tail) this library does not know.
 */
WISP_API WISP_NODISCARD int wisp_context_create_sized(const wisp_context_info_t *info,
                                                      size_t info_size, wisp_context_t **out);
#define wisp_context_create(info, out)                                                             \
    wisp_context_create_sized((info), sizeof(wisp_context_info_t), (out))

/**
 * \brief  Destroy a context: every remaining stream gets DESTROYING, every connection
 *         is closed, every vhost freed. Afterwards wisp holds zero heap. NULL-safe.
 *
 *         From inside a callback of the same context (state, rx, tx, a wisp_post
 *         function) the destruction is deferred: the current callback returns, every
 *         stream gets DESTROYING, the context is freed at the end of that loop
 *         iteration and that wisp_service() returns WISP_ECANCELED. The application
 *         MUST NOT touch the context, or any of its streams, after the call.
 */
WISP_API void wisp_context_destroy(wisp_context_t *cx);

/**
 * \brief  Close idle kept-alive connections now, with close_notify, instead of when
 *         their keepalive_ms runs out (before exit or deep sleep). Connections in use
 *         and nailed_up ones are left alone. With linger 0 their vhosts are freed
 *         when the last stream of the type is gone. Loop thread only; NULL-safe.
 * \return the number of connections closed.
 */
WISP_API int wisp_context_close_idle(wisp_context_t *cx);

/**
 * \brief  Save the client TLS sessions of every vhost (and any loaded sessions still
 *         waiting for theirs) into one blob, so that a process started later (after
 *         a reboot or deep sleep) can resume them with wisp_context_sessions_load()
 *         instead of paying full handshakes.
 *
 *         A session lives in its vhost, and a vhost only as long as a stream or a
 *         connection uses it (plus its trust store's linger_ms): save before the last
 *         stream is destroyed, or give the trust store a linger. Under TLS 1.3 the
 *         session is the server's ticket, which arrives with the first response, so
 *         save after a transaction, not after the handshake alone.
 *
 *         The blob holds session secrets (master secrets, resumption keys, tickets):
 *         anyone who reads it can decrypt the traffic of those sessions, and anyone
 *         who can write it can make the device resume a session they chose, which
 *         skips certificate verification. The application MUST store it as it would
 *         a private key (encrypted or access-protected storage) and SHOULD delete it
 *         once loaded. Its integrity check (SHA-256) detects a torn write or a flipped
 *         bit, not a forgery: it is unkeyed, because wisp holds no device secret to key
 *         it with.
 *
 *         Format: magic, format version, mbedTLS version, then per session: a SHA-256
 *         fingerprint of the vhost's policy parts (trust store name and certificates,
 *         client certificate, max_fragment_len), host, port, the time it was received
 *         and its lifetime, and mbedTLS's own serialisation; a SHA-256 of all of it
 *         last. Measured: about 0.9 KiB per TLS 1.2 session with an ECDSA server
 *         certificate (1.1 KiB with RSA-2048) when mbedTLS keeps the peer certificate
 *         in the session (MBEDTLS_SSL_KEEP_PEER_CERTIFICATE, Debian's 2.28), and
 *         0.3-0.4 KiB per TLS 1.3 session (mbedTLS 3.6).
 *
 *         Loop thread only.
 * \param  buf  where to write, or NULL with cap 0 to ask the size
 * \param  cap  bytes at buf
 * \param  len  set to the blob's size: the bytes written, or the bytes needed
 * \return 0 (also for the size question: buf NULL, cap 0); WISP_ETOOBIG: cap is less
 *         than *len, nothing usable was written; WISP_EINVAL: NULL cx or len, or buf
 *         NULL with cap nonzero; WISP_EUNSUPPORTED: mbedTLS has no wall clock
 *         (MBEDTLS_HAVE_TIME), so lifetimes could not be honoured; WISP_ENOMEM;
 *         WISP_ETLS: mbedTLS refused to serialise a session (logged).
 */
WISP_API WISP_NODISCARD int wisp_context_sessions_save(wisp_context_t *cx, void *buf, size_t cap,
                                                       size_t *len);

/**
 * \brief  Load a blob from wisp_context_sessions_save(), usually written by an
 *         earlier process with the same policy, so the next connection to each saved
 *         host:port resumes its TLS session.
 *
 *         Each session goes only to the vhost it was saved from: same trust store
 *         name and certificates, client certificate and max_fragment_len (compared as
 *         a SHA-256 fingerprint). Sessions older than their lifetime (the server's
 *         ticket lifetime, or WISP_TLS_CLIENT_SESSION_LIFETIME_S; by the wall clock
 *         mbedTLS uses) are skipped, as are sessions matching no trust store of this
 *         policy; the rest load. A session whose vhost exists now goes into it
 *         (unless it already holds a session for that host:port, which is newer). The
 *         others are kept serialised on the context heap, at most
 *         WISP_VHOST_SESSIONS_MAX per vhost, and handed to the vhost when a stream
 *         creates it: no certificate is parsed for a vhost nobody uses. A later load
 *         replaces the sessions an earlier one left waiting. Every refusal is logged
 *         with its reason; nothing in the blob is trusted before its check passes.
 *
 *         Loop thread only.
 * \return 0: at least one session loaded, or the blob held none; WISP_ENOTFOUND:
 *         the blob is intact but no session in it could be used (another policy's,
 *         every one expired, or the wall clock went back); WISP_ECORRUPT: not a wisp
 *         sessions blob, truncated, or the integrity check failed — nothing loaded;
 *         WISP_EMISMATCH: saved by another blob format version or mbedTLS version —
 *         nothing loaded; WISP_EINVAL: NULL cx or buf; WISP_EUNSUPPORTED: mbedTLS
 *         has no wall clock (see above); WISP_ENOMEM (sessions loaded before the
 *         failure stay).
 */
WISP_API int wisp_context_sessions_load(wisp_context_t *cx, const void *buf, size_t len);

/**
 * \brief  Run one loop iteration, in this order: poll sockets for up to timeout_ms
 *         (clipped to the next timer; -1 waits until something happens) and run their
 *         I/O callbacks; run posted calls; run due timers (a timer armed by a timer
 *         callback waits for the next iteration); then free objects marked for
 *         destruction.
 * \return 0; WISP_ECANCELED if wisp_stop() was called before or during the iteration,
 *         or the context was destroyed from one of its callbacks (it is gone);
 *         WISP_ESTATE when called from inside one of the context's own callbacks;
 *         WISP_EINVAL (NULL); or a platform poll error.
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

/** \brief Copy the current statistics (st_size bytes of them at most; a field the
 *         library does not have reads 0). Loop thread only. Use wisp_get_stats(). */
WISP_API void wisp_get_stats_sized(const wisp_context_t *cx, wisp_stats_t *st, size_t st_size);
#define wisp_get_stats(cx, st) wisp_get_stats_sized((cx), (st), sizeof(wisp_stats_t))

/**
 * \brief  Write the statistics as one JSON object with exactly the SPEC §5 keys.
 * \return the length written (excluding NUL), or WISP_ETOOBIG if len is too small.
 */
WISP_API int wisp_stats_json(const wisp_stats_t *st, char *buf, size_t len);

/** \brief Monotonic milliseconds of the context's platform clock; 0 for NULL. */
WISP_API uint64_t wisp_now_ms(const wisp_context_t *cx);

/** \brief Change the runtime log level. */
WISP_API void wisp_set_log_level(wisp_context_t *cx, int level);

/** \brief The policy the context was created with, or NULL. */
WISP_API const struct wisp_policy *wisp_context_policy(const wisp_context_t *cx);

/** \brief The mbedTLS version the library was built against ("2.28.3"). */
WISP_API const char *wisp_tls_version(void);

#ifdef __cplusplus
}
#endif

#endif /* WISP_CORE_H */
