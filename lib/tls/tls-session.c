/*
 * Client sessions that outlive the process: the mbedTLS half of
 * wisp_context_sessions_save/load (lib/vhost/sessions.c holds the other half, the
 * blob format and the matching to vhosts).
 *
 * Serialising is mbedTLS's own mbedtls_ssl_session_save/load, whose output starts
 * with mbedTLS's version and a bitmap of the configuration options that shape a
 * session, so bytes from another build are refused by mbedTLS itself (reported here
 * as WISP_EMISMATCH, never parsed as something they are not).
 *
 * Clocks. A saved session is dated on the wall clock mbedTLS already uses for
 * sessions (mbedtls_time(): time() on POSIX, the board's RTC through
 * MBEDTLS_PLATFORM_TIME_ALT on firmware), because nothing else survives a reboot:
 * the platform's now_ms is monotonic and restarts at zero. mbedTLS 3.6 dates TLS 1.3
 * tickets on mbedtls_ms_time(), which is CLOCK_BOOTTIME on Linux and also restarts:
 * after a reboot a loaded ticket would look received in the future and mbedTLS
 * would quietly skip resumption. wisp__tls_session_set_age() therefore re-dates a
 * loaded session on both of mbedTLS's clocks. Without MBEDTLS_HAVE_TIME there is no
 * wall clock, lifetimes cannot be honoured, and saving and loading are refused
 * (WISP_EUNSUPPORTED) rather than done blind.
 */
#include <string.h>

#include <mbedtls/md.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509.h>
#if defined(MBEDTLS_HAVE_TIME)
#include <mbedtls/platform_time.h>
#endif

#include "tls/tls-heap.h"
#include "tls/tls-session.h"

/* ---- TLS_COMPAT: the only version-dependent code of this file ---- */
#if MBEDTLS_VERSION_MAJOR >= 3
#define SESS(s, f) ((s)->MBEDTLS_PRIVATE(f))
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
#define SESS_IS_TLS13(s) (SESS(s, tls_version) == MBEDTLS_SSL_VERSION_TLS1_3)
#endif
#if defined(MBEDTLS_SSL_PROTO_TLS1_3) && defined(MBEDTLS_SSL_SESSION_TICKETS) &&                   \
    defined(MBEDTLS_HAVE_TIME) && defined(MBEDTLS_SSL_CLI_C)
/* TLS 1.3 tickets are dated in milliseconds on mbedtls_ms_time(). */
#define HAVE_TICKET_MS_CLOCK 1
#endif
#if defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
/* The digest may be served by PSA (MBEDTLS_USE_PSA_CRYPTO builds): start it first.
 * Idempotent; see tls.c, trap 6. */
#define PSA_INIT() (void)psa_crypto_init()
#endif
#else /* 2.28 */
#define SESS(s, f) ((s)->f)
#endif
#ifndef SESS_IS_TLS13
#define SESS_IS_TLS13(s) 0
#endif
#ifndef PSA_INIT
#define PSA_INIT() ((void)0)
#endif
/* ---- end of TLS_COMPAT ---- */

/* RFC 8446 section 4.6.1: no ticket lives longer than 7 days. */
#define TICKET_LIFETIME_MAX_S (7u * 24u * 3600u)

int wisp__tls_session_save(wisp_context_t *cx, const wisp__tls_session_t *s, uint8_t *buf,
                           size_t cap, size_t *len)
{
    size_t olen = 0;
    int ret;

    if (!s || !len || (!buf && cap))
        return WISP_EINVAL;
    (void)wisp__tls_heap_use(cx);
    ret = mbedtls_ssl_session_save(&s->s, buf, cap, &olen);
    *len = olen;
    if (ret == MBEDTLS_ERR_SSL_BUFFER_TOO_SMALL)
        return WISP_ETOOBIG;
    if (ret) {
        WISP_LOGI(cx, "session_save: mbedTLS -0x%04x", (unsigned)-ret);
        return WISP_ETLS;
    }
    return 0;
}

int wisp__tls_session_load(wisp_context_t *cx, const uint8_t *buf, size_t len,
                           wisp__tls_session_t **out)
{
    wisp__tls_session_t *s;
    int ret;

    if (!out)
        return WISP_EINVAL;
    *out = NULL;
    if (!buf || !len)
        return WISP_EINVAL;
    (void)wisp__tls_heap_use(cx);
    s = wisp__alloc(cx, sizeof(*s));
    if (!s)
        return WISP_ENOMEM;
    mbedtls_ssl_session_init(&s->s);
    ret = mbedtls_ssl_session_load(&s->s, buf, len);
    if (ret) {
        /* mbedTLS leaves a failed load half-built: free whatever it allocated. */
        wisp__tls_session_free(cx, &s);
        WISP_LOGI(cx, "session_load: mbedTLS -0x%04x", (unsigned)-ret);
        if (ret == MBEDTLS_ERR_SSL_VERSION_MISMATCH)
            return WISP_EMISMATCH;
        if (ret == MBEDTLS_ERR_SSL_ALLOC_FAILED || ret == MBEDTLS_ERR_X509_ALLOC_FAILED)
            return WISP_ENOMEM;
        return WISP_ECORRUPT;
    }
    *out = s;
    return 0;
}

uint32_t wisp__tls_version_number(void)
{
    return (uint32_t)MBEDTLS_VERSION_NUMBER;
}

int wisp__tls_wall_time(int64_t *now)
{
    if (!now)
        return WISP_EINVAL;
#if defined(MBEDTLS_HAVE_TIME)
    *now = (int64_t)mbedtls_time(NULL);
    return 0;
#else
    *now = 0;
    return WISP_EUNSUPPORTED;
#endif
}

static uint32_t ticket_lifetime(const mbedtls_ssl_session *s)
{
    uint32_t life = 0;

#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_CLI_C)
    if (SESS(s, ticket) && SESS(s, ticket_len))
        life = SESS(s, ticket_lifetime);
#else
    (void)s;
#endif
    /* 0 is "unspecified" (RFC 5077 section 3.3), and a session ID has no hint. */
    if (!life)
        life = WISP_TLS_CLIENT_SESSION_LIFETIME_S;
    return life < TICKET_LIFETIME_MAX_S ? life : TICKET_LIFETIME_MAX_S;
}

void wisp__tls_session_times(const wisp__tls_session_t *sess, int64_t now, int64_t *age_s,
                             uint32_t *lifetime_s)
{
    const mbedtls_ssl_session *s = &sess->s;
    int64_t age = 0;

#if defined(HAVE_TICKET_MS_CLOCK)
    if (SESS_IS_TLS13(s)) {
        age = (int64_t)(mbedtls_ms_time() - SESS(s, ticket_reception_time)) / 1000;
        (void)now;
    } else
#endif
    {
#if defined(MBEDTLS_HAVE_TIME)
        age = now - (int64_t)SESS(s, start);
#else
        (void)now;
#endif
    }
    *age_s = age;
    *lifetime_s = ticket_lifetime(s);
}

void wisp__tls_session_set_age(wisp__tls_session_t *sess, int64_t now, int64_t age_s)
{
    mbedtls_ssl_session *s = &sess->s;

#if defined(HAVE_TICKET_MS_CLOCK)
    if (SESS_IS_TLS13(s))
        SESS(s, ticket_reception_time) = mbedtls_ms_time() - (mbedtls_ms_time_t)age_s * 1000;
#endif
#if defined(MBEDTLS_HAVE_TIME)
    SESS(s, start) = (mbedtls_time_t)(now - age_s);
#else
    (void)s;
    (void)now;
    (void)age_s;
#endif
}

int wisp__tls_sha256(wisp_context_t *cx, const wisp__tls_blob_t *parts, size_t n, uint8_t out[32])
{
    const mbedtls_md_info_t *md;
    mbedtls_md_context_t ctx;
    int ret = WISP_ETLS;
    size_t i;

    if (!parts && n)
        return WISP_EINVAL;
    (void)wisp__tls_heap_use(cx);
    PSA_INIT();
    md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    if (!md)
        return WISP_EUNSUPPORTED;
    mbedtls_md_init(&ctx);
    if (mbedtls_md_setup(&ctx, md, 0)) {
        ret = WISP_ENOMEM;
        goto out;
    }
    if (mbedtls_md_starts(&ctx))
        goto out;
    for (i = 0; i < n; i++)
        if (parts[i].len && mbedtls_md_update(&ctx, parts[i].data, parts[i].len))
            goto out;
    if (mbedtls_md_finish(&ctx, out))
        goto out;
    ret = 0;
out:
    mbedtls_md_free(&ctx);
    return ret;
}
