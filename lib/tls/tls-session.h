/*
 * The body of wisp__tls_session_t, shared by the two files that touch its mbedTLS
 * insides: tls.c (get, set, free) and tls-session.c (save, load, clocks). Private to
 * lib/tls, like every mbedTLS header.
 */
#ifndef WISP_TLS_SESSION_H
#define WISP_TLS_SESSION_H

#include <mbedtls/ssl.h>

#include "tls/tls-internal.h"

struct wisp__tls_session {
    mbedtls_ssl_session s;
};

#endif /* WISP_TLS_SESSION_H */
