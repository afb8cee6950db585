/*
 * wisp vhosts: lazy, refcounted TLS contexts.
 *
 * A client vhost stands for one trust store (plus client identity and fragment
 * length): its parsed CA chain and one mbedTLS ssl_config. It is created when the
 * first stream that needs it is created, holds one reference per live stream and per
 * live connection, and is freed when the last reference goes, after the store's
 * linger_ms. A device that talks to one endpoint at a time holds one X.509 stack,
 * and an idle device none. Everything here is library-internal.
 */
#ifndef WISP_VHOST_INTERNAL_H
#define WISP_VHOST_INTERNAL_H

#include "core/core-internal.h"
#include "wisp/policy.h"
#include "tls/tls-internal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wisp__vhost wisp__vhost_t;

/**
 * \brief  Take a reference on the client vhost a stream type needs, creating it (and
 *         parsing its certificates, without copying the DER) if none is alive.
 * \return 0, WISP_EINVAL (a plaintext type or no trust store), WISP_ENOMEM,
 *         WISP_ECERTPARSE, WISP_EUNSUPPORTED (the system store on a port without one).
 */
WISP_NODISCARD int wisp__vhost_acquire(wisp_context_t *cx, const wisp_policy_stream_t *ps,
                                       wisp__vhost_t **out);
/**
 * \brief  A new server vhost for a server stream type (its certificate, key, one
 *         ssl_config with session cache and tickets, and client_ca if set). Each
 *         listener gets its own; it lives while the listener or any of its
 *         connections holds a reference. No linger.
 * \return 0, WISP_EINVAL (not a TLS server type), WISP_ENOMEM, WISP_ECERTPARSE.
 */
WISP_NODISCARD int wisp__vhost_acquire_server(wisp_context_t *cx, const wisp_policy_stream_t *ps,
                                              wisp__vhost_t **out);
/** Another reference on a live vhost. */
void wisp__vhost_ref(wisp__vhost_t *v);
/** Drop a reference and set *v to NULL; the last one frees the vhost (after linger). */
void wisp__vhost_unref(wisp__vhost_t **v);

/** The vhost's shared TLS configuration. */
wisp__tls_conf_t *wisp__vhost_tls(const wisp__vhost_t *v);
/** The trust store name, for logs. */
const char *wisp__vhost_name(const wisp__vhost_t *v);

/** The last session saved for host:port, or NULL. Owned by the vhost. */
const wisp__tls_session_t *wisp__vhost_session(const wisp__vhost_t *v, const char *host,
                                               uint16_t port);
/** Keep sess (taking ownership) as the session for host:port, replacing any older. */
void wisp__vhost_session_put(wisp__vhost_t *v, const char *host, uint16_t port,
                             wisp__tls_session_t *sess);
/** Forget the session for host:port (a resumption was refused or verification failed). */
void wisp__vhost_session_drop(wisp__vhost_t *v, const char *host, uint16_t port);

/* ---- For saved sessions (lib/vhost/sessions.c) ---- */

/** The context's client vhosts, lingering ones included (server vhosts are skipped):
 *  NULL gives the first; NULL after the last. */
wisp__vhost_t *wisp__vhost_next(wisp_context_t *cx, const wisp__vhost_t *v);
/** What the vhost is keyed by (the client key goes with the certificate). */
void wisp__vhost_key(const wisp__vhost_t *v, const wisp_policy_trust_store_t **store,
                     const wisp_policy_cert_t **client_cert, uint16_t *mfl);
/** The i-th session kept (most recently stored first), or NULL past the last. */
const wisp__tls_session_t *wisp__vhost_session_at(const wisp__vhost_t *v, unsigned i,
                                                  const char **host, uint16_t *port);

/**
 * Context slot WISP_SLOT_SESSIONS, when set, points to a struct that begins with
 * this: wisp__vhost_acquire() calls created() for each vhost it creates, so sessions
 * loaded before the vhost existed move in. A hook rather than a call, so that a
 * firmware that never loads sessions links none of that code.
 */
typedef struct wisp__vhost_hooks {
    void (*created)(wisp_context_t *cx, wisp__vhost_t *v);
} wisp__vhost_hooks_t;

/* ---- A small set of host:port (the h1 client's "does not pipeline" memory) ---- */

typedef struct wisp__hostport wisp__hostport_t;
/** Nonzero when host:port is in the set (NULL is the empty set). */
int wisp__hostport_has(const wisp__hostport_t *set, const char *host, uint16_t port);
/** Add host:port (no-op if present). At most WISP_HOSTPORT_SET_MAX entries: the
 *  oldest goes. \return 0, WISP_ENOMEM (the set is unchanged). */
int wisp__hostport_add(wisp_context_t *cx, wisp__hostport_t **set, const char *host, uint16_t port);
/** Free every entry; *set = NULL. */
void wisp__hostport_free(wisp_context_t *cx, wisp__hostport_t **set);
/** The vhost's set of host:port that do not pipeline (lives and dies with the vhost). */
wisp__hostport_t **wisp__vhost_nopipe(wisp__vhost_t *v);

#ifdef __cplusplus
}
#endif

#endif /* WISP_VHOST_INTERNAL_H */
