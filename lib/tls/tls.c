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
 * Version differences (2.28 vs 3.6) are confined to the TLS_COMPAT section.
 */
#include <string.h>

#include <mbedtls/asn1.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_cache.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>

#include "tls/tls-heap.h"
#include "tls/tls-internal.h"

/* ---- TLS_COMPAT: the only version-dependent code ---- */

#if MBEDTLS_VERSION_MAJOR >= 3
#define SSL_STATE(ssl) ((ssl)->MBEDTLS_PRIVATE(state))
#define PK_PARSE_KEY(pk, k, kl, rng, prng) mbedtls_pk_parse_key(pk, k, kl, NULL, 0, rng, prng)
static const uint16_t tls_groups[] = {
    MBEDTLS_SSL_IANA_TLS_GROUP_X25519, MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
    MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1, MBEDTLS_SSL_IANA_TLS_GROUP_NONE};
#define CONF_GROUPS(conf) mbedtls_ssl_conf_groups(conf, tls_groups)
#else
#define SSL_STATE(ssl) ((ssl)->state)
#define PK_PARSE_KEY(pk, k, kl, rng, prng) mbedtls_pk_parse_key(pk, k, kl, NULL, 0)
static const mbedtls_ecp_group_id tls_groups[] = {MBEDTLS_ECP_DP_CURVE25519,
                                                  MBEDTLS_ECP_DP_SECP256R1,
                                                  MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_NONE};
#define CONF_GROUPS(conf) mbedtls_ssl_conf_curves(conf, tls_groups)
#endif

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
#if defined(MBEDTLS_SSL_CACHE_C)
    mbedtls_ssl_cache_context cache;
#endif
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
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
    int io_err;      /* transport error behind a BIO failure */
    uint8_t peer_ip; /* peer is numeric: verify iPAddress SANs ourselves */
    uint8_t full;    /* a certificate was exchanged: not a resumption */
    uint8_t done;
    wisp_addr_t ip;
};

struct wisp__tls_session {
    mbedtls_ssl_session s;
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
        return ret == MBEDTLS_ERR_X509_ALLOC_FAILED ? WISP_ENOMEM : WISP_ECERTPARSE;
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
        return WISP_ECERTPARSE;
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
            return WISP_ECERTPARSE;
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
        ret = WISP_ECERTPARSE;
    }
    return ret;
}

static int conf_server_resumption(wisp__tls_conf_t *c)
{
#if defined(MBEDTLS_SSL_CACHE_C)
    mbedtls_ssl_cache_set_max_entries(&c->cache, WISP_TLS_SERVER_CACHE_SIZE);
    mbedtls_ssl_cache_set_timeout(&c->cache, WISP_TLS_SESSION_LIFETIME_S);
    mbedtls_ssl_conf_session_cache(&c->conf, &c->cache, mbedtls_ssl_cache_get,
                                   mbedtls_ssl_cache_set);
#endif
#if defined(MBEDTLS_SSL_SESSION_TICKETS) && defined(MBEDTLS_SSL_TICKET_C)
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
    c = wisp__zalloc(cx, sizeof(*c));
    if (!c)
        return WISP_ENOMEM;
    c->cx = cx;
    c->server = info->server;
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_x509_crt_init(&c->ca);
    mbedtls_x509_crt_init(&c->own);
    mbedtls_pk_init(&c->key);
#if defined(MBEDTLS_SSL_CACHE_C)
    mbedtls_ssl_cache_init(&c->cache);
#endif
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
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
    wisp__tls_conf_t *c;

    if (!cp || !*cp)
        return;
    c = *cp;
    *cp = NULL;
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_x509_crt_free(&c->ca);
    mbedtls_x509_crt_free(&c->own);
    mbedtls_pk_free(&c->key);
#if defined(MBEDTLS_SSL_CACHE_C)
    mbedtls_ssl_cache_free(&c->cache);
#endif
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
    mbedtls_ssl_ticket_free(&c->ticket);
#endif
    rng_put(c->cx, c->rng);
    wisp__free(c->cx, c);
}

/* ---- IP subjectAltName matching (trap 3) ---- */

/* Walk the leaf's extensions for subjectAltName and look for an iPAddress [7]
 * entry equal to the peer address. Only DER structure is trusted here: the
 * signature has already been checked by the time the callback sees depth 0. */
static int san_has_ip(const mbedtls_x509_crt *crt, const wisp_addr_t *ip)
{
    static const unsigned char san_oid[] = {0x55, 0x1d, 0x11}; /* 2.5.29.17 */
    unsigned char *p = crt->v3_ext.p, *end = p + crt->v3_ext.len, *ext_end;
    size_t len, iplen = ip->family == 4 ? 4 : 16;

    if (!p || !crt->v3_ext.len)
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

static int verify_cb(void *arg, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    wisp__tls_t *t = arg;

    if (depth == 0 && t->peer_ip && !san_has_ip(crt, &t->ip))
        *flags |= MBEDTLS_X509_BADCERT_CN_MISMATCH;
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
    case MBEDTLS_ERR_SSL_ALLOC_FAILED:
        return WISP_ENOMEM;
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE:
        log_mbedtls(t->cx, WISP_LOG_INFO, what, ret);
        return WISP_ETLSALERT;
    case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED: {
        char info[160];
        uint32_t flags = mbedtls_ssl_get_verify_result(&t->ssl);
        int n = mbedtls_x509_crt_verify_info(info, sizeof(info), "", flags);

        /* One line: the reasons come newline-separated. */
        if (n > 0 && info[n - 1] == '\n')
            info[--n] = '\0';
        while (n-- > 0)
            if (info[n] == '\n')
                info[n] = ';';
        WISP_LOGN(t->cx, "%s: certificate verification failed (0x%x): %s", what, (unsigned)flags,
                  info);
        return WISP_ECERT;
    }
    default:
        log_mbedtls(t->cx, WISP_LOG_INFO, what, ret);
        return WISP_ETLS;
    }
}

int wisp__tls_create(wisp__tls_conf_t *conf, const char *peer, wisp__tls_send_cb send,
                     wisp__tls_recv_cb recv, void *io, wisp__tls_t **out)
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
    mbedtls_ssl_init(&t->ssl);
    ret = mbedtls_ssl_setup(&t->ssl, &conf->conf);
    if (ret) {
        log_mbedtls(conf->cx, WISP_LOG_ERROR, "ssl_setup", ret);
        ret = ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? WISP_ENOMEM : WISP_ETLS;
        goto fail;
    }
    if (!conf->server) {
        if (wisp_addr_parse(peer, 0, &t->ip) == 0) {
            t->peer_ip = 1;
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
    WISP_LOGD(t->cx, "TLS handshake %s: %s", t->full ? "full" : "resumed",
              mbedtls_ssl_get_ciphersuite(&t->ssl));
    return 0;
}

int wisp__tls_resumed(const wisp__tls_t *t)
{
    return t && t->done && !t->full;
}

int wisp__tls_read(wisp__tls_t *t, void *buf, size_t len)
{
    int ret;

    if (!t || !buf)
        return WISP_EINVAL;
    (void)wisp__tls_heap_use(t->cx);
    ret = mbedtls_ssl_read(&t->ssl, buf, len);
    if (ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
        return 0;
    return map_err(t, ret, "read");
}

int wisp__tls_write(wisp__tls_t *t, const void *buf, size_t len)
{
    if (!t || (!buf && len))
        return WISP_EINVAL;
    (void)wisp__tls_heap_use(t->cx);
    return map_err(t, mbedtls_ssl_write(&t->ssl, buf, len), "write");
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

int wisp__tls_session_save(wisp__tls_t *t, wisp__tls_session_t **out)
{
    wisp__tls_session_t *s;
    int ret;

    if (!out)
        return WISP_EINVAL;
    *out = NULL;
    if (!t || !t->done)
        return WISP_ESTATE;
    (void)wisp__tls_heap_use(t->cx);
    s = wisp__alloc(t->cx, sizeof(*s));
    if (!s)
        return WISP_ENOMEM;
    mbedtls_ssl_session_init(&s->s);
    ret = mbedtls_ssl_get_session(&t->ssl, &s->s);
    if (ret) {
        wisp__tls_session_free(t->cx, &s);
        return map_err(t, ret, "get_session");
    }
    *out = s;
    return 0;
}

void wisp__tls_session_free(wisp_context_t *cx, wisp__tls_session_t **sp)
{
    if (!sp || !*sp)
        return;
    mbedtls_ssl_session_free(&(*sp)->s);
    wisp__free(cx, *sp);
    *sp = NULL;
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
