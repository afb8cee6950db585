/*
 * wisp policy: the in-memory model of a policy (SPEC §4), its lookups, the ${slot}
 * template expander and, when WISP_WITH_JSON_POLICY is 1, the JSON loader.
 *
 * One model serves both kinds of policy. A *static* policy is a tree of const
 * initialisers written by `wisp-policy compile` and kept in flash; a *loaded* policy
 * is the same tree built on the context heap by the JSON loader. Code that reads a
 * policy never knows which it has.
 *
 * The model is immutable once built. Every default is already applied (the values
 * are listed next to each field), every name reference is already a pointer, and
 * every certificate is already DER. Pointers inside a policy point into the same
 * policy and live as long as it does.
 *
 * Thread-safety: a policy is read-only, so any number of threads may read one. The
 * loader belongs to the thread of the context it allocates from.
 */
#ifndef WISP_POLICY_H
#define WISP_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "wisp/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Fixed limits (SPEC §4: exceeding one is an error naming the limit) ---------- */

/** Longest name of a stream, trust store, retry, certificate or metadata slot. */
#define WISP_POLICY_NAME_MAX 63
/** Entries per top-level map ("retry", "certs", "trust_stores", "streams"). */
#define WISP_POLICY_MAP_MAX 64
/** Delays in one retry's "backoff_ms". */
#define WISP_POLICY_BACKOFF_MAX 16
/** Certificates in one trust store. */
#define WISP_POLICY_TRUST_CERTS_MAX 16
/** Entries in one stream's "headers", and in one stream's "metadata". */
#define WISP_POLICY_HEADERS_MAX 16
#define WISP_POLICY_METADATA_MAX 16
/** Largest certificate or key, in DER bytes. */
#define WISP_POLICY_DER_MAX 8192
/** Longest "certs" value in a JSON policy (PEM or base64 text), in bytes. */
#define WISP_POLICY_CERT_TEXT_MAX 16384
/** Longest endpoint or bind address (before ${slot} expansion). */
#define WISP_POLICY_HOST_MAX 253
/** Largest "conceal" count; the string "forever" is stored as WISP_POLICY_FOREVER. */
#define WISP_POLICY_CONCEAL_MAX 65534
#define WISP_POLICY_FOREVER 0xffffu
/** Largest value of any *_ms duration: one day. */
#define WISP_POLICY_MS_MAX 86400000u
/** Largest "pipeline_depth": GET/HEAD requests written ahead on one connection. */
#define WISP_POLICY_PIPELINE_MAX 16

/* ---- Enumerations --------------------------------------------------------------- */

/** Application protocol of a stream. Only h1 exists in schema 1. */
typedef enum wisp_proto { WISP_PROTO_H1 = 1 } wisp_proto_t;

/** The HTTP methods a client stream may use, in enum order: the one method table of
 *  the library (the enum below, wisp_policy_method_name() and the loader's names). */
#define WISP_POLICY_METHODS(X) X(GET) X(HEAD) X(POST) X(PUT) X(PATCH) X(DELETE) X(OPTIONS)

#define WISP_METHOD_ENUM_(m) WISP_METHOD_##m,
/** HTTP request method of a client stream: WISP_METHOD_GET (1) .. WISP_METHOD_OPTIONS.
 *  0 (WISP_METHOD_NONE) is a server stream's, which has no method. */
typedef enum wisp_method {
    WISP_METHOD_NONE = 0,
    WISP_POLICY_METHODS(WISP_METHOD_ENUM_) WISP_METHOD_END_ /**< past the last; not a method */
} wisp_method_t;
#undef WISP_METHOD_ENUM_

/** What a "certs" entry holds, told from the DER structure at load time. */
typedef enum wisp_cert_kind {
    WISP_CERT_X509 = 1, /**< an X.509 certificate */
    WISP_CERT_KEY       /**< a private key (PKCS#8, SEC1 EC or PKCS#1 RSA) */
} wisp_cert_kind_t;

/* ---- The stream keys: one table ------------------------------------------------
 *
 * Every key of a "streams" entry, once: X(key, kind, roles, min, max, dflt). The key
 * is also the name of its field in wisp_policy_stream_t (expect_status fills
 * expect_status_min and _max). This table drives the JSON loader (key recognition,
 * ranges, defaults, role and TLS checks, references), wisp-policy's emitter, the
 * tests' model comparer and the test that holds policies/wisp-policy.schema.json to
 * the same keys, types and ranges. Adding a key is a row here, its field below,
 * and its docs: see CONTRIBUTING.md.
 *
 * kind   BOOL, UINT (an integer min..max; dflt applies when absent), ENUM (protocol,
 *        method), HOST (endpoint, bind), URL, TRUST (a trust store name), CERT (a
 *        certificate name), KEY (a private key name), RETRY (a retry name), HEADERS,
 *        METADATA (maps), STATUS ([min, max]). TRUST, CERT and KEY need "tls": true.
 * roles  CLIENT, SERVER or BOTH: the streams it is valid in.
 * min, max, dflt  for BOOL and UINT only (0 elsewhere). Defaults that depend on
 *        other keys (port, url, bind, expect_status, protocol, method) are applied
 *        by the loader when the stream closes; their dflt here is 0.
 */
#define WISP_POLICY_STREAM_KEYS(X)                                                                 \
    X(server, BOOL, BOTH, 0, 1, 0)                                                                 \
    X(tls, BOOL, BOTH, 0, 1, 1)                                                                    \
    X(port, UINT, BOTH, 0, 65535, 0)                                                               \
    X(metadata, METADATA, BOTH, 0, 0, 0)                                                           \
    X(endpoint, HOST, CLIENT, 0, 0, 0)                                                             \
    X(protocol, ENUM, CLIENT, 0, 0, 0)                                                             \
    X(method, ENUM, CLIENT, 0, 0, 0)                                                               \
    X(url, URL, CLIENT, 0, 0, 0)                                                                   \
    X(trust_store, TRUST, CLIENT, 0, 0, 0)                                                         \
    X(client_cert, CERT, CLIENT, 0, 0, 0)                                                          \
    X(client_key, KEY, CLIENT, 0, 0, 0)                                                            \
    X(headers, HEADERS, CLIENT, 0, 0, 0)                                                           \
    X(retry, RETRY, CLIENT, 0, 0, 0)                                                               \
    X(timeout_ms, UINT, CLIENT, 0, WISP_POLICY_MS_MAX, 10000)                                      \
    X(connect_timeout_ms, UINT, CLIENT, 0, WISP_POLICY_MS_MAX, 5000)                               \
    X(keepalive_ms, UINT, CLIENT, 0, WISP_POLICY_MS_MAX, 5000)                                     \
    X(expect_status, STATUS, CLIENT, 0, 0, 0)                                                      \
    X(max_fragment_len, UINT, CLIENT, 0, 4096, 0)                                                  \
    X(reuse, BOOL, CLIENT, 0, 1, 1)                                                                \
    X(pipeline_depth, UINT, CLIENT, 1, WISP_POLICY_PIPELINE_MAX, 1)                                \
    X(nailed_up, BOOL, CLIENT, 0, 1, 0)                                                            \
    X(bind, HOST, SERVER, 0, 0, 0)                                                                 \
    X(cert, CERT, SERVER, 0, 0, 0)                                                                 \
    X(key, KEY, SERVER, 0, 0, 0)                                                                   \
    X(client_ca, TRUST, SERVER, 0, 0, 0)                                                           \
    X(max_connections, UINT, SERVER, 1, 65535, 32)                                                 \
    X(header_limit, UINT, SERVER, 256, 65536, 4096)                                                \
    X(body_limit, UINT, SERVER, 0, 1073741824u, 1048576)                                           \
    X(handshake_timeout_ms, UINT, SERVER, 0, WISP_POLICY_MS_MAX, 5000)                             \
    X(idle_timeout_ms, UINT, SERVER, 0, WISP_POLICY_MS_MAX, 10000)

/* The keys of a "retry" entry and of a "trust_stores" entry, the same way:
 * X(key, kind, min, max, dflt), the key also naming its field. Kinds: UINT as above;
 * DELAYS (backoff_ms: 1..WISP_POLICY_BACKOFF_MAX delays, each min..max ms, filling
 * backoff_ms and backoff_count); CONCEAL (an integer min..max or "forever"; absent,
 * one per delay); CERTS (1..WISP_POLICY_TRUST_CERTS_MAX certificate names, filling
 * certs and cert_count). */
#define WISP_POLICY_RETRY_KEYS(X)                                                                  \
    X(backoff_ms, DELAYS, 0, WISP_POLICY_MS_MAX, 0)                                                \
    X(jitter_pct, UINT, 0, 100, 0)                                                                 \
    X(conceal, CONCEAL, 0, WISP_POLICY_CONCEAL_MAX, 0)
#define WISP_POLICY_TRUST_STORE_KEYS(X)                                                            \
    X(certs, CERTS, 0, 0, 0)                                                                       \
    X(linger_ms, UINT, 0, WISP_POLICY_MS_MAX, 0)

/* ---- The model ------------------------------------------------------------------ */

/** One "certs" entry: a certificate or private key, always DER. */
typedef struct wisp_policy_cert {
    const char *name;
    wisp_cert_kind_t kind;
    const uint8_t *der; /**< DER bytes; in flash for a static policy */
    size_t len;         /**< 1..WISP_POLICY_DER_MAX */
} wisp_policy_cert_t;

/** One "retry" entry. */
typedef struct wisp_policy_retry {
    const char *name;
    const uint32_t *backoff_ms; /**< delays before each retry; the last repeats */
    size_t backoff_count;       /**< 1..WISP_POLICY_BACKOFF_MAX */
    uint8_t jitter_pct;         /**< 0..100, default 0 (none) */
    /** Failures hidden before ALL_RETRIES_FAILED: 0..WISP_POLICY_CONCEAL_MAX, or
     *  WISP_POLICY_FOREVER. Default: backoff_count (one retry per listed delay). */
    uint16_t conceal;
} wisp_policy_retry_t;

/** One "trust_stores" entry, or the reserved "system" store (the OS CA bundle). */
typedef struct wisp_policy_trust_store {
    const char *name;
    /** CA certificates, each a WISP_CERT_X509 entry of the same policy. */
    const wisp_policy_cert_t *const *certs;
    size_t cert_count;  /**< 1..WISP_POLICY_TRUST_CERTS_MAX; 0 for the system store */
    uint32_t linger_ms; /**< keep the vhost this long after its last ref; default 0 */
    /** 1 for the store named "system": no certs, the TLS glue loads the OS bundle
     *  (POSIX builds only). It exists in the model only when a stream names it. */
    uint8_t system;
} wisp_policy_trust_store_t;

/** A fixed request header of a client stream ("headers"). */
typedef struct wisp_policy_header {
    /** An HTTP token, as written: it is only ever sent, never compared with a
     *  received name, so its case is the policy author's choice. */
    const char *name;
    const char *value; /**< no CR, LF, NUL or other control character but TAB */
} wisp_policy_header_t;

/** A metadata slot ("metadata"). */
typedef struct wisp_policy_meta {
    const char *name; /**< slot name, usable as ${name} in endpoint and url */
    /** The HTTP header it is sent as and filled from, or NULL. Always lower case
     *  ("ETag" in the JSON is stored as "etag"), so it can be compared with a
     *  received header name without folding both sides. */
    const char *header;
} wisp_policy_meta_t;

/**
 * One "streams" entry: a client stream type (server == 0) or a server stream type
 * (server == 1). Fields that do not apply to the role hold zero / NULL.
 */
typedef struct wisp_policy_stream {
    const char *name;
    uint8_t server; /**< "server", default 0 */
    uint8_t tls;    /**< "tls", default 1 */
    uint16_t port;  /**< default 443 with TLS, 80 without; a server may use 0 (any) */
    const wisp_policy_meta_t *metadata; /**< "metadata", in document order */
    size_t metadata_count;              /**< 0..WISP_POLICY_METADATA_MAX */

    /* -- client streams -- */
    wisp_proto_t protocol; /**< "protocol", default WISP_PROTO_H1 */
    wisp_method_t method;  /**< "method", default WISP_METHOD_GET */
    const char *endpoint;  /**< host name template ("${slot}" allowed), required */
    const char *url;       /**< path template starting with '/', default "/" */
    /** Trust store checking the server (required with TLS; may be the system one). */
    const wisp_policy_trust_store_t *trust_store;
    const wisp_policy_cert_t *client_cert; /**< mutual TLS, with client_key, or NULL */
    const wisp_policy_cert_t *client_key;
    const wisp_policy_header_t *headers; /**< "headers", in document order */
    size_t header_count;                 /**< 0..WISP_POLICY_HEADERS_MAX */
    const wisp_policy_retry_t *retry;    /**< NULL: no retry (the default) */
    uint32_t timeout_ms;                 /**< whole transaction, 0 = none; default 10000 */
    uint32_t connect_timeout_ms;         /**< DNS + TCP + TLS, 0 = none; default 5000 */
    uint32_t keepalive_ms;               /**< idle connection kept this long; default 5000 */
    uint16_t expect_status_min;          /**< success range, default 200 .. 299 */
    uint16_t expect_status_max;
    uint16_t max_fragment_len; /**< 0 (off), 512, 1024, 2048 or 4096; default 0 */
    uint8_t reuse;             /**< queue on a leader connection (h1); default 1 */
    /** GET/HEAD requests written ahead on one connection, 1..WISP_POLICY_PIPELINE_MAX;
     *  default 1 (no pipelining). */
    uint8_t pipeline_depth;
    uint8_t nailed_up; /**< connect at create, reconnect on loss; default 0 */

    /* -- server streams -- */
    const char *bind;                           /**< listen address, default "0.0.0.0" */
    const wisp_policy_cert_t *cert;             /**< server certificate (TLS: required) */
    const wisp_policy_cert_t *key;              /**< its private key (TLS: required) */
    const wisp_policy_trust_store_t *client_ca; /**< require client certs, or NULL */
    uint32_t max_connections;                   /**< 1..65535, default 32 */
    uint32_t header_limit;                      /**< 256..65536 bytes, default 4096 */
    uint32_t body_limit;                        /**< 0..1073741824 bytes, default 1048576 */
    uint32_t handshake_timeout_ms;              /**< default 5000 */
    uint32_t idle_timeout_ms;                   /**< default 10000 */
} wisp_policy_stream_t;

/**
 * Layout version of the model structs (every struct in this header). A static
 * policy is compiled against the header of the library it links with, but its
 * initialisers were written by one wisp-policy: if that tool knew another layout,
 * fields land in the wrong places. So the emitter stamps each static policy with
 * the number it was built with (as a literal, not this macro), and context creation
 * refuses a policy whose stamp differs (WISP_EPOLICY, logged with both numbers).
 * Bump it whenever a model struct gains, loses or reorders a field.
 *
 * 1 is the unstamped layout before the stamp existed: its first field is schema,
 * always 1, which reads as layout 1 and so is refused too.
 */
#define WISP_POLICY_LAYOUT 2

/** A whole policy. Arrays hold their entries in document order. */
typedef struct wisp_policy {
    /** WISP_POLICY_LAYOUT of the library (loaded) or wisp-policy (static) that built
     *  it. First, so that every layout finds it at the same place. */
    uint32_t layout;
    uint32_t schema;     /**< always 1 */
    const char *release; /**< "release", or NULL */
    const wisp_policy_retry_t *retries;
    size_t retry_count;
    const wisp_policy_cert_t *certs;
    size_t cert_count;
    /** The "trust_stores" entries, then the system store if any stream names it. */
    const wisp_policy_trust_store_t *trust_stores;
    size_t trust_store_count;
    const wisp_policy_stream_t *streams;
    size_t stream_count;
    /** 0 in a static policy. Nonzero when the JSON loader built it on the heap:
     *  wisp_policy_free() then releases it. Never set it by hand. */
    uint8_t allocated;
} wisp_policy_t;

/* ---- Lookups: linear scans, NULL when absent or on NULL arguments --------------- */

WISP_API const wisp_policy_stream_t *wisp_policy_stream_find(const wisp_policy_t *p,
                                                             const char *name);
WISP_API const wisp_policy_trust_store_t *wisp_policy_trust_store_find(const wisp_policy_t *p,
                                                                       const char *name);
WISP_API const wisp_policy_retry_t *wisp_policy_retry_find(const wisp_policy_t *p,
                                                           const char *name);
WISP_API const wisp_policy_cert_t *wisp_policy_cert_find(const wisp_policy_t *p, const char *name);
/** The slot of a stream's metadata with this name, or NULL. */
WISP_API const wisp_policy_meta_t *wisp_policy_meta_find(const wisp_policy_stream_t *s,
                                                         const char *name, size_t len);

/** The method as sent on the request line ("GET"), or NULL if out of range. */
WISP_API const char *wisp_policy_method_name(wisp_method_t m);

/**
 * \brief  Free a policy built by the JSON loader and set *p to NULL.
 *         NULL-safe; does nothing but clear *p for a static policy.
 * \param  cx  the context the policy was loaded with
 */
WISP_API void wisp_policy_free(wisp_context_t *cx, wisp_policy_t **p);

/* ---- Templates ------------------------------------------------------------------ */

/** Where an expanded template goes, which decides how slot values are treated. */
typedef enum wisp_template_mode {
    /** A URL path: slot values are percent-encoded (all but A-Z a-z 0-9 - . _ ~). */
    WISP_TEMPLATE_URL = 1,
    /** A header value: slot values holding CR, LF or NUL are refused. */
    WISP_TEMPLATE_HEADER,
    /** A host name (an endpoint): as WISP_TEMPLATE_HEADER, and the expanded result
     *  is refused if it is an IPv4 address in any spelling but the dotted quad
     *  ("127.1", "2130706433", "0x7f.1", "0177.0.0.1"), or numeric labels that are
     *  no address at all ("1.2.3.256"): such a host would be connected to as a
     *  number but verified as a name (SPEC §8). Names and IPv6 literals pass. */
    WISP_TEMPLATE_HOST
} wisp_template_mode_t;

/**
 * Looks up a slot for wisp_policy_template_expand(). Set *value and *len and return
 * 0; an unset slot sets *value to NULL (or returns WISP_ENOTFOUND) and expands to
 * the empty string. Any other negative return aborts the expansion with that code.
 */
typedef int (*wisp_policy_slot_cb)(void *user, const char *name, size_t name_len,
                                   const char **value, size_t *len);

/**
 * \brief  Expand the ${slot} references of a policy template into out.
 *
 * Literal text is copied as is; "${name}" is replaced by the slot's value, treated
 * as mode says. A '$' not followed by '{' is literal. The template must be well
 * formed (the loader guarantees it for policy templates).
 *
 * \param  tmpl     NUL-terminated template, e.g. "/v1/time?tz=${tz}"
 * \param  mode     WISP_TEMPLATE_URL, WISP_TEMPLATE_HEADER or WISP_TEMPLATE_HOST
 * \param  get      slot lookup callback
 * \param  out      output buffer; always NUL-terminated when out_size > 0
 * \param  out_size its size: the hard cap on the expansion, NUL included
 * \param  out_len  receives the expanded length (without NUL); may be NULL
 * \return 0, WISP_EINVAL (NULL arguments, bad mode, malformed template),
 *         WISP_ETOOBIG (the expansion does not fit out_size),
 *         WISP_EHEADER (a header- or host-bound value holds CR, LF or NUL),
 *         WISP_EINVAL also for a WISP_TEMPLATE_HOST result that is a short or odd
 *         IPv4 spelling (out is then empty),
 *         or the callback's own negative code.
 */
WISP_API WISP_NODISCARD int wisp_policy_template_expand(const char *tmpl, wisp_template_mode_t mode,
                                                        wisp_policy_slot_cb get, void *user,
                                                        char *out, size_t out_size,
                                                        size_t *out_len);

/* ---- JSON loader (WISP_WITH_JSON_POLICY) ---------------------------------------- */

/** Most errors one load reports; past it the loader stops and sets truncated. */
#define WISP_POLICY_ERRORS_MAX 16
/** Longest error line kept, NUL included (longer lines are truncated). */
#define WISP_POLICY_ERROR_LEN 384

/** One error: text is exactly "FILE:LINE:COL: path.to.key: message". */
typedef struct wisp_policy_error {
    uint32_t line; /**< 1-based */
    uint32_t col;  /**< 1-based, counted in characters (UTF-8 code points) */
    char text[WISP_POLICY_ERROR_LEN];
} wisp_policy_error_t;

/** The errors of one load, in the order found: everything found while reading, in
 *  document order, then the name references checked at the end. */
typedef struct wisp_policy_errors {
    unsigned count;    /**< entries used in e[] */
    uint8_t truncated; /**< 1: the loader stopped after WISP_POLICY_ERRORS_MAX */
    wisp_policy_error_t e[WISP_POLICY_ERRORS_MAX];
} wisp_policy_errors_t;

#if WISP_WITH_JSON_POLICY

/** A loader fed in fragments (for a policy arriving over a UART or a download). */
typedef struct wisp_policy_loader wisp_policy_loader_t;

/**
 * \brief  Start loading a JSON policy.
 * \param  cx        context to allocate from and to log to
 * \param  filename  name used in error lines ("policy.json"); NULL gives "policy".
 *                   Copied.
 * \param  errs      where errors are listed (cleared here), or NULL; it must stay
 *                   valid until wisp_policy_loader_destroy(). Every error is also
 *                   logged at error level either way.
 * \param  out       receives the loader
 * \return 0, WISP_EINVAL, WISP_ENOMEM.
 */
WISP_API WISP_NODISCARD int wisp_policy_loader_create(wisp_context_t *cx, const char *filename,
                                                      wisp_policy_errors_t *errs,
                                                      wisp_policy_loader_t **out);

/**
 * \brief  Feed the next fragment, of any size (0 included), split anywhere.
 * \return 0 (keep feeding, even if errors were found: all of them are wanted),
 *         WISP_EPOLICY when reading cannot go on (a syntax error, or too many
 *         errors: feeding more does nothing), WISP_ENOMEM, WISP_EINVAL.
 */
WISP_API WISP_NODISCARD int wisp_policy_loader_feed(wisp_policy_loader_t *l, const void *buf,
                                                    size_t len);

/**
 * \brief  End of input: finish reading, resolve names, hand over the policy.
 * \param  out  receives the policy on success (free with wisp_policy_free()), else NULL
 * \return 0, WISP_EPOLICY (errors: listed in errs and logged), WISP_ENOMEM,
 *         WISP_EINVAL, WISP_ESTATE (finished twice).
 */
WISP_API WISP_NODISCARD int wisp_policy_loader_finish(wisp_policy_loader_t *l, wisp_policy_t **out);

/** \brief Free a loader and whatever it built that was not handed over; *l = NULL. */
WISP_API void wisp_policy_loader_destroy(wisp_policy_loader_t **l);

/**
 * \brief  Load a whole JSON policy in one call (create, feed, finish, destroy).
 * \return as wisp_policy_loader_finish(), plus WISP_EINVAL for NULL cx/text/out.
 */
WISP_API WISP_NODISCARD int wisp_policy_load_json(wisp_context_t *cx, const char *filename,
                                                  const char *text, size_t len, wisp_policy_t **out,
                                                  wisp_policy_errors_t *errs);

#endif /* WISP_WITH_JSON_POLICY */

#ifdef __cplusplus
}
#endif

#endif /* WISP_POLICY_H */
