/*
 * wisp TLS glue over mbedTLS.
 *
 * lib/tls is the only code that includes mbedTLS headers. It drives client and
 * server sessions non-blocking (WISP_EWANTREAD / WISP_EWANTWRITE), never touches a
 * socket itself (the owner passes send/recv callbacks), always requires peer
 * verification on the client, checks the server name (SNI is sent for names; IP
 * endpoints are matched against iPAddress subjectAltNames by wisp, never the CN),
 * enforces SPEC section 8 (TLS 1.2 at least, ECDHE + AEAD suites, an X.509 profile),
 * and keeps one CTR_DRBG per context. On mbedTLS 3.6 it also starts PSA, whose
 * state is process-global (see README.md).
 *
 * The application-facing part is only the version query in wisp/core.h; everything
 * here is library-internal.
 */
#ifndef WISP_TLS_INTERNAL_H
#define WISP_TLS_INTERNAL_H

#include "core/core-internal.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct wisp__tls_conf wisp__tls_conf_t;
typedef struct wisp__tls wisp__tls_t;
typedef struct wisp__tls_session wisp__tls_session_t;

/** A certificate or key: PEM text (with or without the NUL) or DER bytes. */
typedef struct wisp__tls_blob {
    const uint8_t *data;
    size_t len;
} wisp__tls_blob_t;

typedef struct wisp__tls_conf_info {
    uint8_t server;             /**< 0: client config, 1: server config */
    const wisp__tls_blob_t *ca; /**< trust anchors: client = server CAs; server =
                                    client CAs (then client certs are required) */
    size_t ca_count;
    uint8_t ca_nocopy;         /**< DER that outlives the config (flash): no copy */
    uint8_t system_ca;         /**< client: also load the OS CA bundle (POSIX) */
    wisp__tls_blob_t cert;     /**< own certificate chain (server: required) */
    wisp__tls_blob_t key;      /**< own private key */
    uint16_t max_fragment_len; /**< client: 0, 512, 1024, 2048 or 4096 (RFC 6066) */
} wisp__tls_conf_info_t;

/** Transport callbacks given by the owner: bytes or WISP_EAGAIN or an error;
 *  recv returns 0 at EOF. */
typedef int (*wisp__tls_send_cb)(void *io, const uint8_t *buf, size_t len);
typedef int (*wisp__tls_recv_cb)(void *io, uint8_t *buf, size_t len);

/**
 * \brief  Session sink (client): a resumable session is available.
 *
 * Called from inside wisp__tls_handshake() when a TLS 1.2 handshake completes, and
 * from inside wisp__tls_read() each time a TLS 1.3 NewSessionTicket has been
 * processed (the ticket arrives after the handshake, possibly several times; the
 * latest is the one to keep). The sink takes ownership of sess and MUST eventually
 * free it with wisp__tls_session_free(). It MUST NOT destroy the wisp__tls_t it is
 * called from, nor call into it; it SHOULD only store the session.
 */
typedef void (*wisp__tls_session_cb)(void *user, wisp__tls_session_t *sess);

/**
 * \brief  Parse certificates and keys and build one shared mbedTLS ssl_config.
 * \return 0, WISP_EINVAL, WISP_ENOMEM, WISP_ECERTPARSE (the mbedTLS reason is logged),
 *         WISP_EUNSUPPORTED (system_ca on a port without a bundle).
 */
WISP_NODISCARD int wisp__tls_conf_create(wisp_context_t *cx, const wisp__tls_conf_info_t *info,
                                         wisp__tls_conf_t **out);
/** NULL-safe; sets *c to NULL. Every session made from it must be gone first. */
void wisp__tls_conf_destroy(wisp__tls_conf_t **c);

/**
 * \brief  A session on conf. peer is the endpoint host (client) and NULL (server).
 *         A numeric peer is verified against the certificate's IP SANs.
 * \param  sink  client: receives each resumable session (see wisp__tls_session_cb);
 *               NULL: sessions are not kept. Ignored on a server config.
 * \return 0, WISP_EINVAL, WISP_ENOMEM, WISP_ETLS.
 */
WISP_NODISCARD int wisp__tls_create(wisp__tls_conf_t *conf, const char *peer,
                                    wisp__tls_send_cb send, wisp__tls_recv_cb recv, void *io,
                                    wisp__tls_session_cb sink, void *sink_user, wisp__tls_t **out);
/** Offer a saved session for resumption (client, before the handshake). */
WISP_NODISCARD int wisp__tls_set_session(wisp__tls_t *t, const wisp__tls_session_t *s);

/**
 * \brief  Advance the handshake.
 * \return 0 when complete, WISP_EWANTREAD / WISP_EWANTWRITE to be called again when
 *         the socket is ready, or a failure: a certificate code (WISP_IS_ECERT:
 *         WISP_ECERT or one of WISP_ECERTUNTRUSTED..WISP_ECERTCHAIN, see
 *         wisp__tls_cert_error; the reasons logged), WISP_ETLSALERT, WISP_ECLOSED (EOF), WISP_ETLS,
 *         WISP_ENOMEM, or the transport's own error. On completion of a TLS 1.2
 *         client handshake the session sink is called before this returns 0.
 */
WISP_NODISCARD int wisp__tls_handshake(wisp__tls_t *t);
/** Nonzero once the handshake completed by resumption (no certificate exchange). */
int wisp__tls_resumed(const wisp__tls_t *t);

/**
 * \brief  Read decrypted application data (the truncation contract, SPEC section 8).
 * \return Bytes read (> 0); 0 only after the peer's close_notify (an orderly end:
 *         what was read is all the peer sent); WISP_ETRUNCATED when the transport
 *         reached EOF without close_notify (the data may have been cut by anyone on
 *         the path: the caller MUST NOT treat a close-delimited body as complete);
 *         WISP_EWANTREAD / WISP_EWANTWRITE; or another error (WISP_ETLSALERT,
 *         WISP_ETLS, WISP_ENOMEM, the transport's own error). May call the session
 *         sink (TLS 1.3 NewSessionTicket) before it returns.
 */
int wisp__tls_read(wisp__tls_t *t, void *buf, size_t len);
/** Bytes written (> 0, may be fewer than len), WISP_EWANTWRITE/WANTREAD, or error.
 *  After WISP_EWANTWRITE the caller MUST repeat the call with the same buf and len.
 *  May call the session sink (TLS 1.3 NewSessionTicket). */
int wisp__tls_write(wisp__tls_t *t, const void *buf, size_t len);
/** Decrypted bytes buffered inside TLS that poll() cannot see. */
size_t wisp__tls_pending(const wisp__tls_t *t);
/** Queue a close_notify alert (orderly close). 0 or an error. */
int wisp__tls_close_notify(wisp__tls_t *t);

/**
 * \brief  The iPAddress subjectAltName match of a numeric peer (trap 3 in tls.c).
 * \param  ext  a certificate's extensions as mbedTLS keeps them (crt->v3_ext: the
 *              Extensions SEQUENCE, optionally still inside its [3] tag); any bytes
 * \return 1 if the first subjectAltName extension holds an iPAddress equal to ip
 *         (4 bytes for family 4, else 16), 0 otherwise or on malformed DER. Reads
 *         only ext[0..ext_len).
 */
int wisp__tls_ext_has_ip(const uint8_t *ext, size_t ext_len, const wisp_addr_t *ip);

/**
 * \brief  The wisp code of a failed certificate verification.
 * \param  flags  mbedTLS's verify result (MBEDTLS_X509_BADCERT_* bits, plus tls.c's
 *                self-signed bit 0x00800000)
 * \return WISP_ECERTCHAIN for mbedTLS's "fatal" all-ones result, else the first of
 *         WISP_ECERTWEAK, SELFSIGNED, UNTRUSTED, NAME, USAGE, EXPIRED, FUTURE whose
 *         flags are set (lib/tls/README.md has the table), else WISP_ECERT.
 */
int wisp__tls_cert_error(uint32_t flags);

/** NULL-safe; zeroizes the secrets; sets *s to NULL. */
void wisp__tls_session_free(wisp_context_t *cx, wisp__tls_session_t **s);

/* ---- Saved sessions (tls-session.c): sessions that outlive the process ---- */

/**
 * \brief  Serialise a client session (mbedtls_ssl_session_save: the master secret or
 *         resumption key, the ticket, and the peer certificate when mbedTLS keeps it).
 * \param  buf   where to write, or NULL with cap 0 to ask the size
 * \param  len   set to the bytes written, or needed
 * \return 0, WISP_ETOOBIG (cap < *len; nothing usable written), WISP_EINVAL,
 *         WISP_ETLS (mbedTLS refused, logged).
 */
WISP_NODISCARD int wisp__tls_session_save(wisp_context_t *cx, const wisp__tls_session_t *s,
                                          uint8_t *buf, size_t cap, size_t *len);
/**
 * \brief  Rebuild a session from wisp__tls_session_save() bytes.
 * \return 0; WISP_EMISMATCH (saved by another mbedTLS version or configuration);
 *         WISP_ECORRUPT (mbedTLS could not parse it); WISP_ENOMEM; WISP_EINVAL.
 */
WISP_NODISCARD int wisp__tls_session_load(wisp_context_t *cx, const uint8_t *buf, size_t len,
                                          wisp__tls_session_t **out);
/** MBEDTLS_VERSION_NUMBER of the mbedTLS wisp was built with (0x021C0300: 2.28.3). */
uint32_t wisp__tls_version_number(void);
/**
 * \brief  The wall clock mbedTLS itself uses (mbedtls_time(), seconds since 1970): the
 *         only clock that survives a reboot. A board supplies it through mbedTLS's
 *         platform layer (MBEDTLS_HAVE_TIME, MBEDTLS_PLATFORM_TIME_ALT).
 * \return 0, or WISP_EUNSUPPORTED when mbedTLS was built without MBEDTLS_HAVE_TIME.
 */
WISP_NODISCARD int wisp__tls_wall_time(int64_t *now);
/**
 * \brief  How old a client session is and how long it may live, in seconds.
 *         The age counts from the handshake (TLS 1.2) or from the last ticket
 *         (TLS 1.3); the lifetime is the ticket's (capped at 7 days, RFC 8446), or
 *         WISP_TLS_CLIENT_SESSION_LIFETIME_S for a session without one.
 */
void wisp__tls_session_times(const wisp__tls_session_t *s, int64_t now, int64_t *age_s,
                             uint32_t *lifetime_s);
/**
 * \brief  Tell mbedTLS the session is age_s old, on its own clocks. Needed after a
 *         reboot: mbedTLS 3.6 dates a TLS 1.3 ticket on a monotonic clock that the
 *         reboot reset, and would otherwise judge it expired (or not yet received).
 */
void wisp__tls_session_set_age(wisp__tls_session_t *s, int64_t now, int64_t age_s);
/**
 * \brief  SHA-256 of the concatenation of parts (mbedTLS's message digest layer).
 * \return 0, WISP_ENOMEM, WISP_EUNSUPPORTED (mbedTLS built without SHA-256), WISP_ETLS.
 */
WISP_NODISCARD int wisp__tls_sha256(wisp_context_t *cx, const wisp__tls_blob_t *parts, size_t n,
                                    uint8_t out[32]);

/** The negotiated protocol version ("TLSv1.2", "TLSv1.3"), or "" before the handshake. */
const char *wisp__tls_protocol(const wisp__tls_t *t);
/** The negotiated ciphersuite name, or "" before the handshake. */
const char *wisp__tls_ciphersuite(const wisp__tls_t *t);
/** NULL-safe; frees and zeroizes; sets *t to NULL. Does not touch the transport. */
void wisp__tls_destroy(wisp__tls_t **t);

#ifdef __cplusplus
}
#endif

#endif /* WISP_TLS_INTERNAL_H */
