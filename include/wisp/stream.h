/*
 * wisp secure streams: the application API.
 *
 * A stream is an application handle on a stream *type* named in the policy. Creating
 * it takes a reference on the type's vhost (creating the vhost and parsing its CA
 * chain on first use); wisp_stream_request_tx() runs one transaction, connecting,
 * queueing on a leader connection or reusing a kept-alive one as the policy says.
 * Everything happens on the loop thread, reported through three callbacks.
 *
 * Lifetime: the application owns the handle and destroys it with
 * wisp_stream_destroy(), from anywhere on the loop thread, callbacks included. The
 * stream gets DESTROYING as its last callback and is freed at the end of the loop
 * iteration, so no callback ever runs on freed memory. wisp_context_destroy()
 * destroys any stream left.
 *
 * Threads: every function here is loop-thread only.
 */
#ifndef WISP_STREAM_H
#define WISP_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "wisp/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wisp_stream wisp_stream_t;

/** Stream states (SPEC §6), in the order a client transaction sees them. */
typedef enum wisp_state {
    WISP_STATE_CREATED = 1,
    WISP_STATE_QUEUED,             /**< waiting on a leader connection */
    WISP_STATE_CONNECTING,         /**< DNS + TCP + TLS for this stream */
    WISP_STATE_CONNECTED,          /**< request being sent */
    WISP_STATE_ACK,                /**< status in expect_status; arg = status */
    WISP_STATE_NACK,               /**< status outside it; arg = status */
    WISP_STATE_DONE,               /**< transaction complete, stream idle */
    WISP_STATE_CONNECTION_FAILED,  /**< arg = WISP_E* reason */
    WISP_STATE_RETRYING,           /**< arg = backoff delay in ms */
    WISP_STATE_ALL_RETRIES_FAILED, /**< arg = last WISP_E* reason */
    WISP_STATE_TIMEOUT,            /**< arg = WISP_ETIMEDOUT */
    WISP_STATE_DISCONNECTED,       /**< lost mid-transaction; arg = WISP_E* reason */
    WISP_STATE_DESTROYING,         /**< last callback */
    WISP_STATE_SERVER_REQUEST      /**< server side: a request arrived */
} wisp_state_t;

/** rx/tx flags. */
#define WISP_SOM 1u /**< first bytes of a message */
#define WISP_EOM 2u /**< last bytes of a message */

/** Callback return values. */
#define WISP_CB_OK 0
#define WISP_CB_DISCONNECT 1 /**< close the stream's connection (as a failure) */
#define WISP_CB_DESTROY 2    /**< destroy the stream (deferred to a safe point) */

/** Body bytes of the response. The last call may carry len 0 (buf NULL) and
 *  WISP_EOM alone. */
typedef int (*wisp_rx_cb)(void *user, const uint8_t *buf, size_t len, unsigned flags);
/** Fill buf with up to *len body bytes, set *len to what was written and set
 *  WISP_EOM in *flags with the last bytes. Called until EOM. Returning
 *  WISP_EAGAIN means no data yet (call wisp_stream_tx_resume() when there is). */
typedef int (*wisp_tx_cb)(void *user, uint8_t *buf, size_t *len, unsigned *flags);
/** A state change; arg as documented on each state. */
typedef int (*wisp_state_cb)(void *user, wisp_state_t state, int arg);

typedef struct wisp_stream_ops {
    const char *type;    /**< stream type name in the policy */
    wisp_rx_cb rx;       /**< may be NULL: the body is discarded */
    wisp_tx_cb tx;       /**< NULL: no request body (server: no response body) */
    wisp_state_cb state; /**< may be NULL */
} wisp_stream_ops_t;

/**
 * \brief  Create a stream of a policy stream type.
 * \param  ops   callbacks and type; the struct must outlive the stream
 * \param  user  passed to every callback
 * \return 0, WISP_EINVAL, WISP_ENOTFOUND (no such type), WISP_ENOMEM,
 *         WISP_ECERTPARSE (its trust store's CA, or a server's certificate or key,
 *         does not parse; the context carries on), WISP_EUNSUPPORTED (a client or
 *         server type in a build without that side), or for a server type the
 *         platform's listen error (WISP_EEXIST when the port is taken, ...).
 */
WISP_API WISP_NODISCARD int wisp_stream_create(wisp_context_t *cx, const wisp_stream_ops_t *ops,
                                               void *user, wisp_stream_t **out);

/**
 * \brief  Start a transaction; a request body, if any, comes from tx (chunked).
 *         In an active state the request is remembered and served when the stream
 *         is next idle.
 * \return 0, WISP_EINVAL, WISP_ESTATE (destroying).
 */
WISP_API WISP_NODISCARD int wisp_stream_request_tx(wisp_stream_t *s);
/** \brief As wisp_stream_request_tx(), announcing a body of len bytes (Content-Length). */
WISP_API WISP_NODISCARD int wisp_stream_request_tx_len(wisp_stream_t *s, size_t len);
/** \brief tx returned WISP_EAGAIN earlier and now has data. */
WISP_API void wisp_stream_tx_resume(wisp_stream_t *s);

/**
 * \brief  Set a metadata slot (copied). A slot bound to a header is sent as that
 *         request header; values with CR, LF or NUL are refused then.
 * \return 0, WISP_EINVAL, WISP_ENOTFOUND (no such slot), WISP_EHEADER, WISP_ETOOBIG
 *         (over WISP_STREAM_META_MAX), WISP_ENOMEM.
 */
WISP_API WISP_NODISCARD int wisp_stream_set_metadata(wisp_stream_t *s, const char *name,
                                                     const void *value, size_t len);
/**
 * \brief  Read a slot: the value set by the app or filled from the last response.
 * \return 0 (value NULL and len 0 when unset), WISP_EINVAL, WISP_ENOTFOUND.
 */
WISP_API WISP_NODISCARD int wisp_stream_get_metadata(const wisp_stream_t *s, const char *name,
                                                     const void **value, size_t *len);

/** \brief (Re)start a timeout of ms for the current transaction; TIMEOUT when it fires. */
WISP_API WISP_NODISCARD int wisp_stream_start_timeout(wisp_stream_t *s, uint32_t ms);
WISP_API void wisp_stream_cancel_timeout(wisp_stream_t *s);

/** \brief The HTTP status of the last response, 0 if none. */
WISP_API int wisp_stream_status(const wisp_stream_t *s);
/** \brief The stream's current state. */
WISP_API wisp_state_t wisp_stream_state(const wisp_stream_t *s);
/** \brief The name of a state ("ACK"), "?" if unknown. */
WISP_API const char *wisp_state_name(wisp_state_t st);

/** \brief Destroy: DESTROYING is the last callback; freed at the end of the iteration.
 *         NULL-safe; a second call does nothing. */
WISP_API void wisp_stream_destroy(wisp_stream_t *s);

/* ---- Server streams ---------------------------------------------------------------
 *
 * Creating a stream of a server type (`"server": true`) starts listening; its
 * `user` is the listener's. Each request then gets a stream of its own, created by
 * wisp with the same ops and wisp_stream_set_user_size() bytes of zeroed app state
 * (0 by default), whose callbacks receive that state as `user`:
 *
 *   SERVER_REQUEST   the head arrived: metadata "method", "path", "query" (without
 *                    the '?', NULL when absent) and the type's declared request
 *                    headers are readable; the body follows through rx
 *                    (WISP_SOM ... WISP_EOM).
 *   answer           set "status" (three digits; default 200) and any declared slot
 *                    (sent as that response header) with wisp_stream_set_metadata,
 *                    then wisp_stream_request_tx_len(rq, len) (Content-Length) or
 *                    wisp_stream_request_tx(rq) (chunked; close-delimited for an
 *                    HTTP/1.0 client); the body is pulled through tx. This may
 *                    happen in a later loop iteration: nothing waits for it.
 *   DONE             (arg: status) the answer went out whole; then DESTROYING.
 *   DISCONNECTED     (arg: WISP_E*) the client went away, or the request broke a
 *                    limit, before the answer was out; then DESTROYING.
 *
 * The listener itself reports CREATED and DESTROYING through the same ops, with
 * its own `user`: compare `user` to tell it from a request.
 *
 * wisp frees request streams itself after DESTROYING; the app may destroy one
 * earlier (its connection is then closed: it cannot be answered). Destroying the
 * listener stops accepting at once; requests in flight finish.
 */

/** \brief Bytes of app state each request of this listener gets (zeroed, freed
 *         with the request). Call it right after wisp_stream_create(): no request
 *         arrives before the loop runs. \return 0, WISP_EINVAL (not a listener),
 *         WISP_ETOOBIG (over 64 KiB). */
WISP_API int wisp_stream_set_user_size(wisp_stream_t *listener, size_t size);
/** \brief The request stream whose app state is `user` (a server request's `user`
 *         argument only; anything else is undefined). */
WISP_API wisp_stream_t *wisp_stream_from_user(void *user);
/** \brief The listener's `user` pointer, for a request stream; NULL otherwise. */
WISP_API void *wisp_stream_parent_user(const wisp_stream_t *s);
/** \brief The TCP port a listening stream is bound to (the policy's, or the one the
 *         system picked for port 0). \return the port, WISP_EINVAL (not a
 *         listener). */
WISP_API int wisp_stream_local_port(const wisp_stream_t *s);

/** Longest metadata value, bytes. */
#define WISP_STREAM_META_MAX 1024

#ifdef __cplusplus
}
#endif

#endif /* WISP_STREAM_H */
