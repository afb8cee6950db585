/*
 * The mbedTLS glue: the only file in wisp that includes mbedTLS headers.
 *
 * Objects:
 *   context slot WISP_SLOT_TLS  one CTR_DRBG per context, seeded from the platform
 *                               entropy source, created on first use.
 *   wisp__tls_conf_t             one mbedtls_ssl_config with its trust anchors, own
 *                               certificate and key, and (server) a session cache and
 *                               ticket key. Shared by every session made from it.
 *   wisp__tls_t                  one mbedtls_ssl_context, driven non-blocking.
 *
 * Three traps measured with mbedTLS 2.28 shape this file:
 *   1. Each handshake message leaves through its own f_send call. The BIO callbacks
 *      hand bytes to the owner's buffered socket, which sends a whole flight at once
 *      (see lib/core/sock.c); the socket has TCP_NODELAY.
 *   2. With the default curve order mbedTLS negotiates secp521r1 with OpenSSL peers,
 *      costing ~5 ms of server CPU per handshake: the curve list is set explicitly,
 *      X25519 and P-256 first.
 *   3. mbedTLS 2.28 cannot match iPAddress subjectAltNames, and would fall back to
 *      the CN for a host name that is an IP. For a numeric peer no host name is given
 *      to mbedTLS (so no SNI, as RFC 6066 requires, and no CN check) and the verify
 *      callback matches the leaf's iPAddress SANs itself.
 *
 * mbedTLS 3.6 adds three more:
 *   4. From 3.6.3 a client that gave no host name has its verification refused
 *      (-0x5D80) unless it said "no name" with mbedtls_ssl_set_hostname(ssl, NULL):
 *      IP peers do exactly that, and the IP SAN check of trap 3 stays.
 *   5. In TLS 1.3 the resumption ticket arrives after the handshake, inside
 *      mbedtls_ssl_read(): the session sink is called from there (from the end of
 *      the handshake under TLS 1.2), so the owner never has to guess when to save.
 *   6. TLS 1.3 (and, with MBEDTLS_USE_PSA_CRYPTO, everything down to the ticket key)
 *      runs on PSA, whose state is process-global: psa_crypto_init() is called
 *      before the first configuration is built. It is idempotent; wisp never calls
 *      mbedtls_psa_crypto_free(), because another context or the application may
 *      still be using PSA.
 *
 * Policy (SPEC section 8), the same on both versions: TLS 1.2 at least; ECDHE with
 * ECDSA or RSA and AES-GCM or ChaCha20-Poly1305 only (plus the TLS 1.3 suites on
 * 3.6); an X.509 profile of SHA-256 or better, RSA >= 2048, P-256 or P-384; groups
 * X25519, P-256, P-384 limited to what the mbedTLS build has.
 *
 * Version differences (2.28 vs 3.6) are confined to the TLS_COMPAT section.
 */
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/bignum.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

/* Server-side resumption state exists only in builds with the server and only when
 * mbedTLS has it: a client-only image links no cache or ticket code. */
#if WISP_WITH_SERVER && defined(MBEDTLS_SSL_SRV_C) && defined(MBEDTLS_SSL_CACHE_C)
#define TLS_SERVER_CACHE 1
#include <mbedtls/ssl_cache.h>
#endif
#if WISP_WITH_SERVER && defined(MBEDTLS_SSL_SRV_C) && defined(MBEDTLS_SSL_SESSION_TICKETS) &&      \
    defined(MBEDTLS_SSL_TICKET_C)
#define TLS_SERVER_TICKETS 1
#include <mbedtls/ssl_ticket.h>
#endif

#include "tls/tls-heap.h"
#include "tls/tls-internal.h"
#include "tls/tls-session.h"

/* ---- TLS_COMPAT: the only version-dependent code ---- */

/* Which of X25519, P-256, P-384 this mbedTLS build has (3.x may have a curve
 * through PSA only). A group the build lacks must not be offered: the peer may pick
 * it and the handshake then fails (-0x5E80 with a P-256-only build). */
#if defined(MBEDTLS_ECP_DP_CURVE25519_ENABLED) || defined(PSA_WANT_ECC_MONTGOMERY_255)
#define HAVE_X25519 1
#endif
#if defined(MBEDTLS_ECP_DP_SECP256R1_ENABLED) || defined(PSA_WANT_ECC_SECP_R1_256)
#define HAVE_P256 1
#endif
#if defined(MBEDTLS_ECP_DP_SECP384R1_ENABLED) || defined(PSA_WANT_ECC_SECP_R1_384)
#define HAVE_P384 1
#endif

#if MBEDTLS_VERSION_MAJOR >= 3
#define SSL_STATE(ssl) ((ssl)->MBEDTLS_PRIVATE(state))
#define PK_PARSE_KEY(pk, k, kl, rng, prng) mbedtls_pk_parse_key(pk, k, kl, NULL, 0, rng, prng)
#define GROUP(iana, dp) iana
typedef uint16_t tls_group_t;
#define GROUP_NONE MBEDTLS_SSL_IANA_TLS_GROUP_NONE
#define CONF_GROUPS(conf) mbedtls_ssl_conf_groups(conf, tls_groups)
#define CONF_MIN_TLS12(conf) mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2)
#define IS_TLS13(ssl) (mbedtls_ssl_get_version_number(ssl) == MBEDTLS_SSL_VERSION_TLS1_3)
#define ERR_BAD_VERSION MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION
#define ERR_BAD_CERT MBEDTLS_ERR_SSL_BAD_CERTIFICATE
/* 3.6 offers RSA-PSS (TLS 1.3 needs it) ahead of PKCS#1 v1.5 in TLS 1.2 too, but its
 * TLS 1.2 client then refuses a PSS-signed ServerKeyExchange (-0x6600), which is what
 * OpenSSL sends when it may. Listing PKCS#1 v1.5 first makes a TLS 1.2 server that
 * follows the client's order (OpenSSL does) pick it; TLS 1.3 never uses PKCS#1 v1.5
 * for handshake signatures, so 1.3 still gets PSS. Only SHA-256 and up, matching
 * the X.509 profile; algorithms the build lacks are left out by mbedTLS. */
static const uint16_t tls_sig_algs[] = {MBEDTLS_TLS1_3_SIG_ECDSA_SECP256R1_SHA256,
                                        MBEDTLS_TLS1_3_SIG_ECDSA_SECP384R1_SHA384,
                                        MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA256,
                                        MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA384,
                                        MBEDTLS_TLS1_3_SIG_RSA_PKCS1_SHA512,
                                        MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA256,
                                        MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA384,
                                        MBEDTLS_TLS1_3_SIG_RSA_PSS_RSAE_SHA512,
                                        MBEDTLS_TLS1_3_SIG_NONE};
#define CONF_SIG_ALGS(conf) mbedtls_ssl_conf_sig_algs(conf, tls_sig_algs)
#if defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#define PSA_INIT() (psa_crypto_init() == PSA_SUCCESS ? 0 : -1)
#endif
#if defined(MBEDTLS_SSL_PROTO_TLS1_3) && defined(MBEDTLS_SSL_SESSION_TICKETS) &&                   \
    defined(MBEDTLS_SSL_CLI_C)
/* Without this, a 3.6 client silently drops every TLS 1.3 ticket. */
#define CONF_TLS13_TICKETS(conf)                                                                   \
    mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(                                      \
        conf, MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED)
#define ERR_NEW_TICKET MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET
/* An encrypted record from an earlier WANT_WRITE is still waiting to go out. */
#define OUT_PENDING(ssl) ((ssl)->MBEDTLS_PRIVATE(out_left) != 0)
#endif
#else /* 2.28 */
#define SSL_STATE(ssl) ((ssl)->state)
#define PK_PARSE_KEY(pk, k, kl, rng, prng) mbedtls_pk_parse_key(pk, k, kl, NULL, 0)
#define GROUP(iana, dp) dp
typedef mbedtls_ecp_group_id tls_group_t;
#define GROUP_NONE MBEDTLS_ECP_DP_NONE
#define CONF_GROUPS(conf) mbedtls_ssl_conf_curves(conf, tls_groups)
#define CONF_MIN_TLS12(conf)                                                                       \
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3)
#define IS_TLS13(ssl) 0
#define ERR_BAD_VERSION MBEDTLS_ERR_SSL_BAD_HS_PROTOCOL_VERSION
#define ERR_BAD_CERT MBEDTLS_ERR_SSL_BAD_HS_CERTIFICATE
#define CONF_SIG_ALGS(conf) ((void)(conf)) /* 2.28's defaults offer no PSS in 1.2 */
#endif
#ifndef PSA_INIT
#define PSA_INIT() 0
#endif
#ifndef CONF_TLS13_TICKETS
#define CONF_TLS13_TICKETS(conf) ((void)(conf))
#endif

/* X25519 first (fastest), then P-256, then P-384; never P-521 (trap 2). */
static const tls_group_t tls_groups[] = {
#ifdef HAVE_X25519
    GROUP(MBEDTLS_SSL_IANA_TLS_GROUP_X25519, MBEDTLS_ECP_DP_CURVE25519),
#endif
#ifdef HAVE_P256
    GROUP(MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1, MBEDTLS_ECP_DP_SECP256R1),
#endif
#ifdef HAVE_P384
    GROUP(MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1, MBEDTLS_ECP_DP_SECP384R1),
#endif
    GROUP_NONE};

/* ---- end of TLS_COMPAT ---- */

/* Forward secrecy and AEAD only: no static RSA, no CBC, no DHE. Suites the build
 * lacks are skipped by mbedTLS when it writes the ClientHello. The TLS 1.3 ones
 * (3.6) come first; they are only used when 1.3 is negotiated. */
static const int tls_suites[] = {
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
    MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
    MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,
#endif
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    0};

/* Certificates in a chain: signed with SHA-256 or better, RSA keys of 2048 bits or
 * more, EC keys on P-256 or P-384. A SHA-224 or SHA-1 signature, an RSA-1024 key
 * or a P-521 key fails verification (WISP_ECERT). */
static const mbedtls_x509_crt_profile tls_profile = {
    MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA256) | MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA384) |
        MBEDTLS_X509_ID_FLAG(MBEDTLS_MD_SHA512),
    0xFFFFFFF, /* any public key algorithm; sizes and curves are limited below */
    MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP256R1) | MBEDTLS_X509_ID_FLAG(MBEDTLS_ECP_DP_SECP384R1),
    2048,
};

/* Private BIO failure codes: the real transport error is kept in wisp__tls_t. */
#define BIO_SEND_FAILED (-0x004E)
#define BIO_RECV_FAILED (-0x004C)

/* Shared by the context's configs and freed with the last one, so an idle context
 * holds no TLS state at all. */
typedef struct tls_rng {
    mbedtls_ctr_drbg_context drbg;
    unsigned users;
} tls_rng_t;

struct wisp__tls_conf {
    wisp_context_t *cx;
    tls_rng_t *rng;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt ca;
    mbedtls_x509_crt own;
    mbedtls_pk_context key;
#ifdef TLS_SERVER_CACHE
    mbedtls_ssl_cache_context cache;
#endif
#ifdef TLS_SERVER_TICKETS
    mbedtls_ssl_ticket_context ticket;
#endif
    uint8_t server;
};

struct wisp__tls {
    wisp_context_t *cx;
    wisp__tls_conf_t *conf;
    mbedtls_ssl_context ssl;
    wisp__tls_send_cb send;
    wisp__tls_recv_cb recv;
    void *io;
    wisp__tls_session_cb sink; /* client: where resumable sessions go */
    void *sink_user;
    int io_err;      /* transport error behind a BIO failure */
    uint8_t peer_ip; /* peer is numeric: verify iPAddress SANs ourselves */
    uint8_t full;    /* a certificate was exchanged: not a resumption */
    uint8_t done;
    uint8_t out_wait;    /* 3.6: the last write returned WANT_WRITE */
    uint8_t out_flushed; /* 3.6: ...and its record has gone out since (ticket_step) */
    wisp_addr_t ip;
};

const char *wisp_tls_version(void)
{
    return MBEDTLS_VERSION_STRING;
}

static void log_mbedtls(wisp_context_t *cx, int level, const char *what, int ret)
{
    char buf[96];

#if defined(MBEDTLS_ERROR_C)
    mbedtls_strerror(ret, buf, sizeof(buf));
#else
    buf[0] = '\0';
#endif
    if (level == WISP_LOG_ERROR)
        WISP_LOGE(cx, "%s: mbedTLS -0x%04x %s", what, (unsigned)-ret, buf);
    else
        WISP_LOGI(cx, "%s: mbedTLS -0x%04x %s", what, (unsigned)-ret, buf);
}

/* mbedTLS reports an allocation failure as a module's *_ALLOC_FAILED code, alone or
 * (X.509 over PEM, PK, ASN.1 or bignum) as the sum of a high-level and a low-level
 * code. Both parts are checked, so running out of memory while parsing a good
 * certificate is WISP_ENOMEM, never WISP_ECERTPARSE. */
static int alloc_failed(int ret)
{
    int high, low;

    if (ret >= 0)
        return 0;
    high = -((-ret) & 0xff80);
    low = -((-ret) & 0x7f);
    return high == MBEDTLS_ERR_X509_ALLOC_FAILED || high == MBEDTLS_ERR_PK_ALLOC_FAILED ||
           high == MBEDTLS_ERR_PEM_ALLOC_FAILED || high == MBEDTLS_ERR_ECP_ALLOC_FAILED ||
           high == MBEDTLS_ERR_SSL_ALLOC_FAILED || low == MBEDTLS_ERR_ASN1_ALLOC_FAILED ||
           low == MBEDTLS_ERR_MPI_ALLOC_FAILED;
}

/* ---- Per-context RNG ---- */

static int entropy_cb(void *p, unsigned char *buf, size_t len)
{
    wisp_context_t *cx = p;
    const wisp_plat_ops_t *plat = wisp__plat(cx);

    return plat->entropy(plat->user, buf, len) ? MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED : 0;
}

static void rng_destroy(wisp_context_t *cx, void *state)
{
    tls_rng_t *r = state;

    mbedtls_ctr_drbg_free(&r->drbg);
    wisp__free(cx, r);
}

static tls_rng_t *rng_get(wisp_context_t *cx)
{
    static const unsigned char pers[] = "wisp";
    tls_rng_t *r = wisp__slot(cx, WISP_SLOT_TLS);
    int ret;

    if (r) {
        r->users++;
        return r;
    }
    r = wisp__alloc(cx, sizeof(*r));
    if (!r)
        return NULL;
    r->users = 1;
    mbedtls_ctr_drbg_init(&r->drbg);
    ret = mbedtls_ctr_drbg_seed(&r->drbg, entropy_cb, cx, pers, sizeof(pers) - 1);
    if (ret) {
        log_mbedtls(cx, WISP_LOG_ERROR, "seeding CTR_DRBG", ret);
        rng_destroy(cx, r);
        return NULL;
    }
    wisp__slot_set(cx, WISP_SLOT_TLS, r, rng_destroy);
    return r;
}

static void rng_put(wisp_context_t *cx, tls_rng_t *r)
{
    if (r && !--r->users) {
        wisp__slot_set(cx, WISP_SLOT_TLS, NULL, NULL);
        rng_destroy(cx, r);
    }
}

/* ---- Certificates and keys ---- */

static int is_pem(const wisp__tls_blob_t *b)
{
    static const char tag[] = "-----BEGIN ";
    size_t i = 0;

    while (i < b->len &&
           (b->data[i] == ' ' || b->data[i] == '\n' || b->data[i] == '\r' || b->data[i] == '\t'))
        i++;
    return b->len - i > sizeof(tag) - 1 && !memcmp(b->data + i, tag, sizeof(tag) - 1);
}

/* PEM parsers want the terminating NUL counted in the length. */
static int with_nul(wisp_context_t *cx, const wisp__tls_blob_t *b, const uint8_t **p, size_t *len,
                    uint8_t **owned)
{
    *owned = NULL;
    if (b->len && b->data[b->len - 1] == '\0') {
        *p = b->data;
        *len = b->len;
        return 0;
    }
    *owned = (uint8_t *)wisp__strndup(cx, (const char *)b->data, b->len);
    if (!*owned)
        return WISP_ENOMEM;
    *p = *owned;
    *len = b->len + 1;
    return 0;
}

static int parse_crt(wisp_context_t *cx, mbedtls_x509_crt *crt, const wisp__tls_blob_t *b,
                     int nocopy)
{
    const uint8_t *p;
    uint8_t *owned;
    size_t len;
    int ret;

    if (!b->data || !b->len)
        return WISP_EINVAL;
    if (!is_pem(b)) {
        ret = nocopy ? mbedtls_x509_crt_parse_der_nocopy(crt, b->data, b->len)
                     : mbedtls_x509_crt_parse_der(crt, b->data, b->len);
    } else {
        ret = with_nul(cx, b, &p, &len, &owned);
        if (ret)
            return ret;
        ret = mbedtls_x509_crt_parse(crt, p, len);
        wisp__free(cx, owned);
    }
    if (ret) {
        log_mbedtls(cx, WISP_LOG_ERROR, "certificate", ret);
        return alloc_failed(ret) ? WISP_ENOMEM : WISP_ECERTPARSE;
    }
    return 0;
}

static int parse_key(wisp__tls_conf_t *c, const wisp__tls_blob_t *b)
{
    const uint8_t *p = b->data;
    uint8_t *owned = NULL;
    size_t len = b->len;
    int ret;

    if (!b->data || !b->len)
        return WISP_EINVAL;
    if (is_pem(b)) {
        ret = with_nul(c->cx, b, &p, &len, &owned);
        if (ret)
            return ret;
    }
    ret = PK_PARSE_KEY(&c->key, p, len, mbedtls_ctr_drbg_random, &c->rng->drbg);
    if (owned) {
        mbedtls_platform_zeroize(owned, len);
        wisp__free(c->cx, owned);
    }
    if (ret) {
        log_mbedtls(c->cx, WISP_LOG_ERROR, "private key", ret);
        return alloc_failed(ret) ? WISP_ENOMEM : WISP_ECERTPARSE;
    }
    return 0;
}

/* ---- Configurations ---- */

static int conf_trust(wisp__tls_conf_t *c, const wisp__tls_conf_info_t *info)
{
    size_t i;
    int ret;

    for (i = 0; i < info->ca_count; i++) {
        ret = parse_crt(c->cx, &c->ca, &info->ca[i], info->ca_nocopy);
        if (ret)
            return ret;
    }
    if (info->system_ca) {
#if defined(MBEDTLS_FS_IO) && defined(WISP_SYSTEM_CA_FILE)
        ret = mbedtls_x509_crt_parse_file(&c->ca, WISP_SYSTEM_CA_FILE);
        if (ret < 0) {
            log_mbedtls(c->cx, WISP_LOG_ERROR, "system CA bundle " WISP_SYSTEM_CA_FILE, ret);
            return alloc_failed(ret) ? WISP_ENOMEM : WISP_ECERTPARSE;
        }
#else
        WISP_LOGE(c->cx, "the system CA bundle is not available in this build");
        return WISP_EUNSUPPORTED;
#endif
    }
    if (info->ca_count || info->system_ca)
        mbedtls_ssl_conf_ca_chain(&c->conf, &c->ca, NULL);
    return 0;
}

static int conf_identity(wisp__tls_conf_t *c, const wisp__tls_conf_info_t *info)
{
    int ret;

    if (!info->cert.data && !info->key.data)
        return info->server ? WISP_EINVAL : 0;
    ret = parse_crt(c->cx, &c->own, &info->cert, 0);
    if (!ret)
        ret = parse_key(c, &info->key);
    if (!ret && (ret = mbedtls_ssl_conf_own_cert(&c->conf, &c->own, &c->key)) != 0) {
        log_mbedtls(c->cx, WISP_LOG_ERROR, "certificate and key", ret);
        ret = alloc_failed(ret) ? WISP_ENOMEM : WISP_ECERTPARSE;
    }
    return ret;
}

static int conf_server_resumption(wisp__tls_conf_t *c)
{
#ifdef TLS_SERVER_CACHE
    mbedtls_ssl_cache_set_max_entries(&c->cache, WISP_TLS_SERVER_CACHE_SIZE);
    mbedtls_ssl_cache_set_timeout(&c->cache, WISP_TLS_SESSION_LIFETIME_S);
    mbedtls_ssl_conf_session_cache(&c->conf, &c->cache, mbedtls_ssl_cache_get,
                                   mbedtls_ssl_cache_set);
#endif
#ifdef TLS_SERVER_TICKETS
    {
        int ret = mbedtls_ssl_ticket_setup(&c->ticket, mbedtls_ctr_drbg_random, &c->rng->drbg,
                                           MBEDTLS_CIPHER_AES_256_GCM, WISP_TLS_SESSION_LIFETIME_S);

        if (ret) {
            log_mbedtls(c->cx, WISP_LOG_ERROR, "session ticket key", ret);
            return WISP_ETLS;
        }
        mbedtls_ssl_conf_session_tickets_cb(&c->conf, mbedtls_ssl_ticket_write,
                                            mbedtls_ssl_ticket_parse, &c->ticket);
    }
#endif
    (void)c;
    return 0;
}

static int mfl_code(uint16_t len, unsigned char *code)
{
    switch (len) {
    case 0:
        *code = MBEDTLS_SSL_MAX_FRAG_LEN_NONE;
        return 0;
    case 512:
        *code = MBEDTLS_SSL_MAX_FRAG_LEN_512;
        return 0;
    case 1024:
        *code = MBEDTLS_SSL_MAX_FRAG_LEN_1024;
        return 0;
    case 2048:
        *code = MBEDTLS_SSL_MAX_FRAG_LEN_2048;
        return 0;
    case 4096:
        *code = MBEDTLS_SSL_MAX_FRAG_LEN_4096;
        return 0;
    default:
        return WISP_ERANGE;
    }
}

static int conf_setup(wisp__tls_conf_t *c, const wisp__tls_conf_info_t *info)
{
    unsigned char mfl;
    int ret;

    ret = mbedtls_ssl_config_defaults(&c->conf,
                                      info->server ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
                                      MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (ret) {
        log_mbedtls(c->cx, WISP_LOG_ERROR, "ssl_config_defaults", ret);
        return WISP_ETLS;
    }
    mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->rng->drbg);
    CONF_GROUPS(&c->conf);
    CONF_MIN_TLS12(&c->conf);
    mbedtls_ssl_conf_ciphersuites(&c->conf, tls_suites);
    mbedtls_ssl_conf_cert_profile(&c->conf, &tls_profile);
    CONF_SIG_ALGS(&c->conf);
    if (!info->server)
        CONF_TLS13_TICKETS(&c->conf);
    /* Verification is always required of a server; a server requires client
     * certificates exactly when it was given client CAs. */
    if (!info->server)
        mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    else
        mbedtls_ssl_conf_authmode(&c->conf, info->ca_count ? MBEDTLS_SSL_VERIFY_REQUIRED
                                                           : MBEDTLS_SSL_VERIFY_NONE);
    if (mfl_code(info->max_fragment_len, &mfl))
        return WISP_ERANGE;
#if defined(MBEDTLS_SSL_MAX_FRAGMENT_LENGTH)
    if (!info->server && mfl != MBEDTLS_SSL_MAX_FRAG_LEN_NONE &&
        mbedtls_ssl_conf_max_frag_len(&c->conf, mfl))
        return WISP_ERANGE;
#endif
    ret = conf_trust(c, info);
    if (!ret)
        ret = conf_identity(c, info);
    if (!ret && info->server)
        ret = conf_server_resumption(c);
    return ret;
}

int wisp__tls_conf_create(wisp_context_t *cx, const wisp__tls_conf_info_t *info,
                          wisp__tls_conf_t **out)
{
    wisp__tls_conf_t *c;
    int ret;

    if (!out)
        return WISP_EINVAL;
    *out = NULL;
    if (!cx || !info || (info->ca_count && !info->ca))
        return WISP_EINVAL;
    (void)wisp__tls_heap_use(cx);
    if (!info->server && !info->ca_count && !info->system_ca) {
        WISP_LOGE(cx, "TLS client config without trust anchors: verification is required");
        return WISP_EINVAL;
    }
    if (info->server && !WISP_WITH_SERVER)
        return WISP_EUNSUPPORTED;
    /* Trap 6: process-global and idempotent; needed before any key is parsed. Its
     * state is the process's, so no context is charged for it (tls-heap.c). */
    (void)wisp__tls_heap_global(cx);
    ret = PSA_INIT();
    (void)wisp__tls_heap_use(cx);
    if (ret) {
        WISP_LOGE(cx, "psa_crypto_init failed");
        return WISP_ETLS;
    }
    c = wisp__zalloc(cx, sizeof(*c));
    if (!c)
        return WISP_ENOMEM;
    c->cx = cx;
    c->server = info->server;
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_x509_crt_init(&c->ca);
    mbedtls_x509_crt_init(&c->own);
    mbedtls_pk_init(&c->key);
#ifdef TLS_SERVER_CACHE
    mbedtls_ssl_cache_init(&c->cache);
#endif
#ifdef TLS_SERVER_TICKETS
    mbedtls_ssl_ticket_init(&c->ticket);
#endif
    c->rng = rng_get(cx);
    ret = c->rng ? conf_setup(c, info) : WISP_ENOMEM;
    if (ret) {
        wisp__tls_conf_destroy(&c);
        return ret;
    }
    *out = c;
    return 0;
}

void wisp__tls_conf_destroy(wisp__tls_conf_t **cp)
{
    wisp_context_t *cx;
    wisp__tls_conf_t *c;

    if (!cp || !*cp)
        return;
    c = *cp;
    *cp = NULL;
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_x509_crt_free(&c->ca);
    mbedtls_x509_crt_free(&c->own);
    mbedtls_pk_free(&c->key);
#ifdef TLS_SERVER_CACHE
    mbedtls_ssl_cache_free(&c->cache);
#endif
#ifdef TLS_SERVER_TICKETS
    mbedtls_ssl_ticket_free(&c->ticket);
#endif
    rng_put(c->cx, c->rng);
    cx = c->cx;
    /* The key context and the ticket key are freed above (mbedTLS zeroizes them);
     * this clears what is left, pointers to them included. */
    mbedtls_platform_zeroize(c, sizeof(*c));
    wisp__free(cx, c);
}

/* ---- IP subjectAltName matching (trap 3) ---- */

/* Walk the leaf's extensions for subjectAltName and look for an iPAddress [7]
 * entry equal to the peer address. Only DER structure is trusted here: the
 * signature has already been checked by the time the callback sees depth 0. */
int wisp__tls_ext_has_ip(const uint8_t *ext, size_t ext_len, const wisp_addr_t *ip)
{
    static const unsigned char san_oid[] = {0x55, 0x1d, 0x11}; /* 2.5.29.17 */
    /* mbedTLS's ASN.1 readers take non-const pointers but only read. */
    unsigned char *p = (unsigned char *)(uintptr_t)ext, *end = p + ext_len, *ext_end;
    size_t len, iplen = ip->family == 4 ? 4 : 16;

    if (!p || !ext_len)
        return 0;
    if (*p == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_ASN1_CONSTRUCTED | 3) &&
        mbedtls_asn1_get_tag(&p, end, &len, *p))
        return 0;
    if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
        return 0;
    end = p + len;
    while (p < end) {
        unsigned char *oid;
        size_t oidlen;
        int crit;

        if (mbedtls_asn1_get_tag(&p, end, &len, MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
            return 0;
        ext_end = p + len;
        if (mbedtls_asn1_get_tag(&p, ext_end, &oidlen, MBEDTLS_ASN1_OID))
            return 0;
        oid = p;
        p += oidlen;
        (void)mbedtls_asn1_get_bool(&p, ext_end, &crit);
        if (oidlen != sizeof(san_oid) || memcmp(oid, san_oid, oidlen)) {
            p = ext_end;
            continue;
        }
        if (mbedtls_asn1_get_tag(&p, ext_end, &len, MBEDTLS_ASN1_OCTET_STRING) ||
            mbedtls_asn1_get_tag(&p, ext_end, &len,
                                 MBEDTLS_ASN1_CONSTRUCTED | MBEDTLS_ASN1_SEQUENCE))
            return 0;
        while (p < ext_end) {
            unsigned char tag = *p++;
            size_t glen;

            if (mbedtls_asn1_get_len(&p, ext_end, &glen))
                return 0;
            if (tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | 7) && glen == iplen &&
                !memcmp(p, ip->ip, iplen))
                return 1;
            p += glen;
        }
        return 0;
    }
    return 0;
}

/* ---- Verification results ---- */

/* Set by verify_cb on a self-signed leaf that mbedTLS found no trusted issuer for. A
 * bit mbedTLS never uses (its flags end at 0x080000 on 2.28 and 3.6), below bit 24,
 * so that cert_map entries can hold it. */
#define FLAG_SELF_SIGNED 0x00800000u

/* A chain longer than MBEDTLS_X509_MAX_INTERMEDIATE_CA ends mbedTLS's walk with
 * MBEDTLS_ERR_X509_FATAL_ERROR and the verify result (uint32_t)-1, the verify
 * callback not called (measured on 2.28.3; the same code in 3.6.6's
 * x509_crt_verify_restartable). Another bit mbedTLS never uses, and verify_cb never
 * sets, is therefore set only then. */
#define FLAG_ALL_SET 0x00400000u

/* Verification flags -> wisp code, first match wins, in precedence order. Each entry
 * is flags | -code << 24: no strings and 4 bytes an entry, for the firmware's flash
 * budget. */
#define CERT_MAP(flags, err) ((uint32_t)(flags) | (uint32_t)(-(err)) << 24)
static const uint32_t cert_map[] = {
    CERT_MAP(FLAG_ALL_SET, WISP_ECERTCHAIN),
    CERT_MAP(MBEDTLS_X509_BADCERT_BAD_MD | MBEDTLS_X509_BADCERT_BAD_PK |
                 MBEDTLS_X509_BADCERT_BAD_KEY,
             WISP_ECERTWEAK),
    CERT_MAP(FLAG_SELF_SIGNED, WISP_ECERTSELFSIGNED),
    CERT_MAP(MBEDTLS_X509_BADCERT_NOT_TRUSTED, WISP_ECERTUNTRUSTED),
    CERT_MAP(MBEDTLS_X509_BADCERT_CN_MISMATCH, WISP_ECERTNAME),
    CERT_MAP(MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_EXT_KEY_USAGE |
                 MBEDTLS_X509_BADCERT_NS_CERT_TYPE,
             WISP_ECERTUSAGE),
    CERT_MAP(MBEDTLS_X509_BADCERT_EXPIRED, WISP_ECERTEXPIRED),
    CERT_MAP(MBEDTLS_X509_BADCERT_FUTURE, WISP_ECERTFUTURE),
};

int wisp__tls_cert_error(uint32_t flags)
{
    size_t i;

    for (i = 0; i < sizeof(cert_map) / sizeof(cert_map[0]); i++)
        if (flags & cert_map[i] & 0xFFFFFFu)
            return -(int)(cert_map[i] >> 24);
    return WISP_ECERT;
}

static int verify_cb(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    wisp__tls_t *t = arg;

    if (depth != 0)
        return 0;
    if (t->peer_ip && !wisp__tls_ext_has_ip(crt->v3_ext.p, crt->v3_ext.len, &t->ip))
        *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
    /* Not trusted, and its own issuer: a self-signed leaf (one in the trust store
     * would have verified). */
    if ((*flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) && crt->issuer_raw.len &&
        crt->issuer_raw.len == crt->subject_raw.len &&
        !memcmp(crt->issuer_raw.p, crt->subject_raw.p, crt->issuer_raw.len))
        *flags |= FLAG_SELF_SIGNED;
    return 0;
}

/* ---- Sessions ---- */

static int bio_send(void *p, const unsigned char *buf, size_t len)
{
    wisp__tls_t *t = p;
    int n = t->send(t->io, buf, len);

    if (n >= 0)
        return n;
    if (n == WISP_EAGAIN)
        return MBEDTLS_ERR_SSL_WANT_WRITE;
    t->io_err = n;
    return BIO_SEND_FAILED;
}

static int bio_recv(void *p, unsigned char *buf, size_t len)
{
    wisp__tls_t *t = p;
    int n = t->recv(t->io, buf, len);

    if (n >= 0)
        return n;
    if (n == WISP_EAGAIN)
        return MBEDTLS_ERR_SSL_WANT_READ;
    t->io_err = n;
    return BIO_RECV_FAILED;
}

/* The code of a failed verification, its reasons logged on one line (only in
 * builds that log notices: the text costs flash). */
static int cert_failed(wisp__tls_t *t, const char *what)
{
    uint32_t flags = mbedtls_ssl_get_verify_result(&t->ssl);
    int err = wisp__tls_cert_error(flags);
#if WISP_LOG_LEVEL >= 2
    char info[160];
    size_t n;

    info[0] = '\0';
    if (err != WISP_ECERTCHAIN) /* all flags set: there are no reasons to list */
        (void)mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags & ~FLAG_SELF_SIGNED);
    /* The reasons come newline-separated (and may be cut short). */
    n = strlen(info);
    if (n > 0 && info[n - 1] == '\n')
        info[--n] = '\0';
    while (n-- > 0)
        if (info[n] == '\n')
            info[n] = ';';
    WISP_LOGN(t->cx, "%s: certificate verification failed (0x%x): %s: %s", what, (unsigned)flags,
              wisp_errname(err), info);
#else
    (void)t;
    (void)what;
#endif
    return err;
}

static int map_err(wisp__tls_t *t, int ret, const char *what)
{
    if (ret >= 0)
        return ret;
    switch (ret) {
    case MBEDTLS_ERR_SSL_WANT_READ:
        return WISP_EWANTREAD;
    case MBEDTLS_ERR_SSL_WANT_WRITE:
        return WISP_EWANTWRITE;
    case BIO_SEND_FAILED:
    case BIO_RECV_FAILED:
        ret = t->io_err ? t->io_err : WISP_ESOCKET;
        t->io_err = 0;
        return ret;
    case MBEDTLS_ERR_SSL_CONN_EOF:
        return WISP_ECLOSED;
    case ERR_BAD_VERSION:
        WISP_LOGN(t->cx, "%s: the peer offers no TLS version wisp accepts (1.2 at least)", what);
        return WISP_ETLS;
    case MBEDTLS_ERR_SSL_ALLOC_FAILED:
        return WISP_ENOMEM;
#if WISP_WITH_SERVER
    case MBEDTLS_ERR_SSL_NO_CLIENT_CERTIFICATE: /* server with client CAs: none came */
        WISP_LOGN(t->cx, "%s: the client sent no certificate", what);
        return WISP_ECERT;
#endif
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
        log_mbedtls(t->cx, WISP_LOG_INFO, what, ret);
        return WISP_ETLSALERT;
    /* A usage (keyUsage, extendedKeyUsage) failure comes as BAD_(HS_)CERTIFICATE
     * with its flags in the verify result like the others; the same code with no
     * flag is a malformed Certificate message (WISP_ETLS). */
    case ERR_BAD_CERT:
        if (!mbedtls_ssl_get_verify_result(&t->ssl))
            goto other;
        return cert_failed(t, what);
    case MBEDTLS_ERR_X509_FATAL_ERROR: /* the chain is too long (verify_cb never fails) */
    case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
        return cert_failed(t, what);
    default:
    other:
        log_mbedtls(t->cx, WISP_LOG_INFO, what, ret);
        return WISP_ETLS;
    }
}

/* Hand a copy of the current session to the owner (trap 5). Failing here only costs
 * the next connection a full handshake, so it is logged, not returned. */
static void session_offer(wisp__tls_t *t)
{
    wisp__tls_session_t *s;
    int ret;

    if (!t->sink)
        return;
    s = wisp__alloc(t->cx, sizeof(*s));
    if (!s)
        return;
    mbedtls_ssl_session_init(&s->s);
    ret = mbedtls_ssl_get_session(&t->ssl, &s->s);
    if (ret) {
        log_mbedtls(t->cx, WISP_LOG_INFO, "get_session", ret);
        wisp__tls_session_free(t->cx, &s);
        return;
    }
    t->sink(t->sink_user, s);
}

int wisp__tls_create(wisp__tls_conf_t *conf, const char *peer, wisp__tls_send_cb send,
                     wisp__tls_recv_cb recv, void *io, wisp__tls_session_cb sink, void *sink_user,
                     wisp__tls_t **out)
{
    wisp__tls_t *t;
    int ret;

    if (!out)
        return WISP_EINVAL;
    *out = NULL;
    if (!conf || !send || !recv || (!conf->server && !peer))
        return WISP_EINVAL;
    (void)wisp__tls_heap_use(conf->cx);
    t = wisp__zalloc(conf->cx, sizeof(*t));
    if (!t)
        return WISP_ENOMEM;
    t->cx = conf->cx;
    t->conf = conf;
    t->send = send;
    t->recv = recv;
    t->io = io;
    t->sink = conf->server ? NULL : sink;
    t->sink_user = sink_user;
    mbedtls_ssl_init(&t->ssl);
    ret = mbedtls_ssl_setup(&t->ssl, &conf->conf);
    if (ret) {
        log_mbedtls(conf->cx, WISP_LOG_ERROR, "ssl_setup", ret);
        ret = ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? WISP_ENOMEM : WISP_ETLS;
        goto fail;
    }
    if (!conf->server) {
        if (wisp_addr_parse(peer, 0, &t->ip) == 0) {
            /* Trap 4: "no host name" said explicitly; verify_cb checks the IP. */
            t->peer_ip = 1;
            if ((ret = mbedtls_ssl_set_hostname(&t->ssl, NULL)) != 0) {
                ret = WISP_EINVAL;
                goto fail;
            }
        } else if ((ret = mbedtls_ssl_set_hostname(&t->ssl, peer)) != 0) {
            ret = WISP_EINVAL;
            goto fail;
        }
        mbedtls_ssl_set_verify(&t->ssl, verify_cb, t);
    }
    mbedtls_ssl_set_bio(&t->ssl, t, bio_send, bio_recv, NULL);
    *out = t;
    return 0;
fail:
    wisp__tls_destroy(&t);
    return ret;
}

int wisp__tls_set_session(wisp__tls_t *t, const wisp__tls_session_t *s)
{
    int ret;

    if (!t || !s)
        return WISP_EINVAL;
    (void)wisp__tls_heap_use(t->cx);
    ret = mbedtls_ssl_set_session(&t->ssl, &s->s);
    return ret ? map_err(t, ret, "set_session") : 0;
}

int wisp__tls_handshake(wisp__tls_t *t)
{
    int ret = 0;

    if (!t)
        return WISP_EINVAL;
    if (t->done)
        return 0;
    (void)wisp__tls_heap_use(t->cx);
    /* Step by step so we can see whether a certificate is exchanged: a resumed
     * handshake goes from the hellos straight to ChangeCipherSpec. */
    while (SSL_STATE(&t->ssl) != MBEDTLS_SSL_HANDSHAKE_OVER) {
        ret = mbedtls_ssl_handshake_step(&t->ssl);
        if (SSL_STATE(&t->ssl) == MBEDTLS_SSL_SERVER_CERTIFICATE)
            t->full = 1;
        if (ret)
            return map_err(t, ret, "handshake");
    }
    t->done = 1;
    WISP_LOGD(t->cx, "TLS handshake %s: %s %s", t->full ? "full" : "resumed",
              mbedtls_ssl_get_version(&t->ssl), mbedtls_ssl_get_ciphersuite(&t->ssl));
    /* TLS 1.3 sessions come later, with each NewSessionTicket (wisp__tls_read). */
    if (!IS_TLS13(&t->ssl))
        session_offer(t);
    return 0;
}

int wisp__tls_resumed(const wisp__tls_t *t)
{
    return t && t->done && !t->full;
}

#ifdef ERR_NEW_TICKET
/*
 * Trap 5, second half. mbedTLS 3.6 stops a read at a NewSessionTicket (WANT_READ)
 * and finishes it in whichever of read or write comes next, which then returns
 * ERR_NEW_TICKET. That path first flushes any record an earlier write left pending
 * after WANT_WRITE, without telling the writer; out_flushed remembers it, so the
 * repeated write (same buf and len, as the contract says) is reported written
 * instead of being encrypted a second time.
 */
static int ticket_step(wisp__tls_t *t, int ret)
{
    if (ret != ERR_NEW_TICKET)
        return ret;
    if (t->out_wait && !OUT_PENDING(&t->ssl))
        t->out_flushed = 1;
    session_offer(t);
    return ret;
}
#endif

int wisp__tls_read(wisp__tls_t *t, void *buf, size_t len)
{
    int ret;

    if (!t || !buf)
        return WISP_EINVAL;
    (void)wisp__tls_heap_use(t->cx);
#ifdef ERR_NEW_TICKET
    do
        ret = ticket_step(t, mbedtls_ssl_read(&t->ssl, buf, len));
    while (ret == ERR_NEW_TICKET);
#else
    ret = mbedtls_ssl_read(&t->ssl, buf, len);
#endif
    if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
        return 0;
    /* The transport ended without close_notify: whatever was cut off, the peer did
     * not say this is the end (mbedTLS documents a bare 0 for the same case). */
    if (ret == MBEDTLS_ERR_SSL_CONN_EOF || (ret == 0 && len))
        return WISP_ETRUNCATED;
    return map_err(t, ret, "read");
}

int wisp__tls_write(wisp__tls_t *t, const void *buf, size_t len)
{
    int ret;

    if (!t || (!buf && len))
        return WISP_EINVAL;
    (void)wisp__tls_heap_use(t->cx);
#ifdef ERR_NEW_TICKET
    for (;;) {
        if (t->out_flushed) {
            /* What mbedTLS returns for a flushed pending record. */
            int max = mbedtls_ssl_get_max_out_record_payload(&t->ssl);

            t->out_flushed = 0;
            t->out_wait = 0;
            return max > 0 && len > (size_t)max ? max : (int)len;
        }
        ret = ticket_step(t, mbedtls_ssl_write(&t->ssl, buf, len));
        if (ret != ERR_NEW_TICKET)
            break;
    }
    t->out_wait = ret == MBEDTLS_ERR_SSL_WANT_WRITE;
#else
    ret = mbedtls_ssl_write(&t->ssl, buf, len);
#endif
    return map_err(t, ret, "write");
}

size_t wisp__tls_pending(const wisp__tls_t *t)
{
    return t ? mbedtls_ssl_get_bytes_avail(&t->ssl) : 0;
}

int wisp__tls_close_notify(wisp__tls_t *t)
{
    int ret;

    if (!t)
        return WISP_EINVAL;
    (void)wisp__tls_heap_use(t->cx);
    ret = mbedtls_ssl_close_notify(&t->ssl);
    return ret ? map_err(t, ret, "close_notify") : 0;
}

void wisp__tls_session_free(wisp_context_t *cx, wisp__tls_session_t **sp)
{
    if (!sp || !*sp)
        return;
    mbedtls_ssl_session_free(&(*sp)->s);
    mbedtls_platform_zeroize(*sp, sizeof(**sp));
    wisp__free(cx, *sp);
    *sp = NULL;
}

const char *wisp__tls_protocol(const wisp__tls_t *t)
{
    return t && t->done ? mbedtls_ssl_get_version(&t->ssl) : "";
}

const char *wisp__tls_ciphersuite(const wisp__tls_t *t)
{
    const char *cs = t && t->done ? mbedtls_ssl_get_ciphersuite(&t->ssl) : NULL;

    return cs ? cs : "";
}

void wisp__tls_destroy(wisp__tls_t **tp)
{
    wisp_context_t *cx;
    wisp__tls_t *t;

    if (!tp || !*tp)
        return;
    t = *tp;
    *tp = NULL;
    cx = t->cx;
    mbedtls_ssl_free(&t->ssl);
    mbedtls_platform_zeroize(t, sizeof(*t));
    wisp__free(cx, t);
}
