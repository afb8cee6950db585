/*
 * wisp error codes.
 *
 * Every fallible wisp function returns int: 0 on success or one negative code from
 * the single table below. The table is an X-macro so that the enum and
 * wisp_strerror() can never drift apart. Codes are stable within a major version.
 */
#ifndef WISP_ERROR_H
#define WISP_ERROR_H

#include "wisp/config.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(name, value, text) */
#define WISP_ERRORS(X)                                                                             \
    X(WISP_OK, 0, "success")                                                                       \
    X(WISP_EINTERNAL, -1, "internal error")                                                        \
    X(WISP_EINVAL, -2, "invalid argument")                                                         \
    X(WISP_ENOMEM, -3, "out of memory or heap limit reached")                                      \
    X(WISP_ETOOBIG, -4, "value exceeds a fixed limit")                                             \
    X(WISP_EAGAIN, -5, "operation would block")                                                    \
    X(WISP_EWANTREAD, -6, "TLS wants to read")                                                     \
    X(WISP_EWANTWRITE, -7, "TLS wants to write")                                                   \
    X(WISP_EINPROGRESS, -8, "operation in progress")                                               \
    X(WISP_ENOTFOUND, -9, "not found")                                                             \
    X(WISP_ESTATE, -10, "operation not valid in this state")                                       \
    X(WISP_EBUSY, -11, "queue full, try again")                                                    \
    X(WISP_ECLOSED, -12, "connection closed by peer")                                              \
    X(WISP_ERESET, -13, "connection reset by peer")                                                \
    X(WISP_EREFUSED, -14, "connection refused")                                                    \
    X(WISP_EUNREACH, -15, "host or network unreachable")                                           \
    X(WISP_ETIMEDOUT, -16, "timed out")                                                            \
    X(WISP_EDNS, -17, "name resolution failed")                                                    \
    X(WISP_ESOCKET, -18, "socket error")                                                           \
    X(WISP_ETLS, -19, "TLS protocol error")                                                        \
    X(WISP_ETLSALERT, -20, "TLS alert received from peer")                                         \
    X(WISP_ECERT, -21, "certificate verification failed")                                          \
    X(WISP_ECERTPARSE, -22, "certificate or key could not be parsed")                              \
    X(WISP_EPROTO, -23, "malformed protocol data")                                                 \
    X(WISP_EPOLICY, -24, "policy is invalid")                                                      \
    X(WISP_ESYNTAX, -25, "syntax error")                                                           \
    X(WISP_EUNSUPPORTED, -26, "not supported by this build")                                       \
    X(WISP_ECANCELED, -27, "operation canceled")                                                   \
    X(WISP_EHEADER, -28, "header value refused (CR, LF or NUL)")                                   \
    X(WISP_ERANGE, -29, "value out of range")                                                      \
    X(WISP_EEXIST, -30, "already exists")                                                          \
    X(WISP_ESTALE, -31, "connection closed before the request was answered")                       \
    X(WISP_ETRUNCATED, -32, "TLS connection closed without close_notify")                          \
    X(WISP_ECORRUPT, -33, "saved data truncated or corrupt")                                       \
    X(WISP_EMISMATCH, -34, "saved data from another format or mbedTLS")                            \
    X(WISP_ECERTUNTRUSTED, -35, "certificate not issued by a trusted CA")                          \
    X(WISP_ECERTSELFSIGNED, -36, "certificate is self-signed and not trusted")                     \
    X(WISP_ECERTNAME, -37, "certificate does not match the host name or address")                  \
    X(WISP_ECERTEXPIRED, -38, "certificate has expired")                                           \
    X(WISP_ECERTFUTURE, -39, "certificate is not valid yet")                                       \
    X(WISP_ECERTUSAGE, -40, "certificate key usage does not allow this use")                       \
    X(WISP_ECERTWEAK, -41, "certificate signature hash or key too weak")                           \
    X(WISP_ECERTCHAIN, -42, "certificate chain too long")

/*
 * Certificate failures. A peer certificate that does not verify gives one code for
 * its first reason in this order (a certificate can fail for several):
 *   WISP_ECERTCHAIN      more than MBEDTLS_X509_MAX_INTERMEDIATE_CA intermediates
 *   WISP_ECERTWEAK       signed with SHA-1 or SHA-224, an RSA key under 2048 bits, or
 *                        a curve other than P-256/P-384 (SPEC section 8)
 *   WISP_ECERTSELFSIGNED a self-signed leaf that is not in the trust store
 *   WISP_ECERTUNTRUSTED  no path to a trusted CA (unknown issuer, bad signature)
 *   WISP_ECERTNAME       the host name (SNI) or the IP address (iPAddress SAN) differs
 *   WISP_ECERTUSAGE      keyUsage / extendedKeyUsage forbid this use (e.g. a server
 *                        presenting a clientAuth-only certificate)
 *   WISP_ECERTEXPIRED    notAfter has passed (of any certificate in the chain)
 *   WISP_ECERTFUTURE     notBefore is still ahead
 *   WISP_ECERT           verification failed for another reason (also: a server that
 *                        requires a client certificate got none or a bad one)
 * None of them is retried. WISP_IS_ECERT(e) is true for all of them.
 */
#define WISP_IS_ECERT(e)                                                                           \
    ((e) == WISP_ECERT || ((e) <= WISP_ECERTUNTRUSTED && (e) >= WISP_ECERTCHAIN))

enum wisp_error {
#define WISP_X_ENUM(name, value, text) name = (value),
    WISP_ERRORS(WISP_X_ENUM)
#undef WISP_X_ENUM
};

/**
 * \brief  Name an error code.
 * \param  err  a value returned by a wisp function (0 or a negative WISP_E* code)
 * \return a static, NUL-terminated English description; "unknown error" for values
 *         outside the table. Never NULL. Thread-safe.
 */
WISP_API const char *wisp_strerror(int err);

/**
 * \brief  The symbolic name of an error code ("WISP_ETIMEDOUT"), or "WISP_E?" if unknown.
 */
WISP_API const char *wisp_errname(int err);

#ifdef __cplusplus
}
#endif

#endif /* WISP_ERROR_H */
