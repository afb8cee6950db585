/*
 * The in-image TLS peer of the firmware test: one HTTPS/1.1 server connection on
 * mbedTLS's server API, stepped from the same loop as wisp (main.c calls peer_step()
 * before every wisp_service()), over the in-memory sockets of plat-mem.c.
 *
 * It accepts one connection, completes the handshake with the test server
 * certificate (tests/certs/server.pem, P-256, compiled in as DER), reads a request
 * head and answers 200 with a fixed body and the x-wisp-test header, as many times
 * as it was told (keep-alive between them, Connection: close on the last), sends
 * close_notify and closes. peer_serve() then makes it accept the next connection. Its sockets are
 * whatever transport main.c hands it (peer_io_t): the in-memory pairs of plat-mem.c, or TCP over
 * lwIP's loopback netif.
 *
 * It has an mbedTLS of its own. wisp's client is built against the client-only
 * profile (cmake/mbedtls/wisp-embedded-client-config.h), which has no server side, so
 * this file is compiled against the full embedded profile and linked with that
 * profile's libraries into one relocatable object whose only global symbols are the
 * peer_* functions of peer.h (tests/firmware/CMakeLists.txt). The two mbedTLS copies
 * therefore never see each other, including their process-global calloc/free hooks:
 * this copy's are set here and charge every allocation to the peer's own context, so
 * the client's figures count only the client.
 */
#include <string.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/pk.h>
#include <mbedtls/platform.h>
#include <mbedtls/version.h>
#if defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

#include "peer.h"
#include "server-cert.h"

enum { P_ACCEPT, P_HANDSHAKE, P_REQUEST, P_RESPONSE, P_CLOSE, P_DONE, P_FAILED };

#define RESPONSE(connection)                                                                       \
    "HTTP/1.1 200 OK\r\n"                                                                          \
    "Content-Length: 24\r\n"                                                                       \
    "x-wisp-test: firmware\r\n"                                                                    \
    "Connection: " connection "\r\n"                                                               \
    "\r\n"                                                                                         \
    "hello from the TLS peer\n"
static const char response_last[] = RESPONSE("close");
static const char response_more[] = RESPONSE("keep-alive");

static struct {
    wisp_context_t *owner;
    const peer_io_t *io;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_config conf;
    mbedtls_x509_crt crt;
    mbedtls_pk_context key;
    mbedtls_ssl_context ssl;
    int state, fd;
    unsigned connections, left; /* accepted so far; requests still to answer on this one */
    char head[512];
    size_t head_len, sent;
} p;

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    int n = p.io->send(p.fd, buf, len);

    (void)ctx;
    return n == WISP_EAGAIN ? MBEDTLS_ERR_SSL_WANT_WRITE : n < 0 ? -1 : n;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    int n = p.io->recv(p.fd, buf, len);

    (void)ctx;
    return n == WISP_EAGAIN ? MBEDTLS_ERR_SSL_WANT_READ : n < 0 ? -1 : n;
}

static int entropy(void *ctx, unsigned char *buf, size_t len)
{
    return p.io->entropy(ctx, buf, len);
}

/* This mbedTLS copy's heap: the peer's context, zeroed as calloc must. */
static void *heap_calloc(size_t n, size_t size)
{
    void *b;

    if (!n || !size || n > (size_t)-1 / size)
        return NULL;
    b = wisp__alloc(p.owner, n * size);
    if (b)
        memset(b, 0, n * size);
    return b;
}

static void heap_free(void *ptr)
{
    if (ptr)
        wisp__free(p.owner, ptr);
}

static int blocked(int ret)
{
    return ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE;
}

int peer_init(wisp_context_t *heap_owner, const peer_io_t *io)
{
    int ret;

    memset(&p, 0, sizeof(p));
    p.owner = heap_owner;
    p.io = io;
    p.fd = -1;
    p.left = 1;
    mbedtls_platform_set_calloc_free(heap_calloc, heap_free);
    mbedtls_ctr_drbg_init(&p.drbg);
    mbedtls_ssl_config_init(&p.conf);
    mbedtls_x509_crt_init(&p.crt);
    mbedtls_pk_init(&p.key);
    mbedtls_ssl_init(&p.ssl);
    ret = mbedtls_ctr_drbg_seed(&p.drbg, entropy, NULL, (const unsigned char *)"peer", 4);
    if (!ret)
        ret = mbedtls_x509_crt_parse_der(&p.crt, server_cert_der, sizeof(server_cert_der));
#if defined(MBEDTLS_PSA_CRYPTO_C)
    /* 3.6: TLS 1.3 runs on PSA, whose state is this copy's own (seeded from the
     * board's mbedtls_hardware_poll()). */
    if (!ret && psa_crypto_init() != PSA_SUCCESS)
        ret = -1;
#endif
#if MBEDTLS_VERSION_MAJOR >= 3
    if (!ret)
        ret = mbedtls_pk_parse_key(&p.key, server_key_der, sizeof(server_key_der), NULL, 0,
                                   mbedtls_ctr_drbg_random, &p.drbg);
#else
    if (!ret)
        ret = mbedtls_pk_parse_key(&p.key, server_key_der, sizeof(server_key_der), NULL, 0);
#endif
    if (!ret)
        ret = mbedtls_ssl_config_defaults(&p.conf, MBEDTLS_SSL_IS_SERVER,
                                          MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
    if (!ret) {
        mbedtls_ssl_conf_rng(&p.conf, mbedtls_ctr_drbg_random, &p.drbg);
        ret = mbedtls_ssl_conf_own_cert(&p.conf, &p.crt, &p.key);
    }
    p.state = ret ? P_FAILED : P_ACCEPT;
    return ret ? -1 : 0;
}

static void step_once(void)
{
    int ret;

    switch (p.state) {
    case P_ACCEPT:
        if ((p.fd = p.io->accept()) < 0)
            return;
        if (p.connections++ ? mbedtls_ssl_session_reset(&p.ssl)
                            : mbedtls_ssl_setup(&p.ssl, &p.conf)) {
            p.state = P_FAILED;
            return;
        }
        mbedtls_ssl_set_bio(&p.ssl, NULL, bio_send, bio_recv, NULL);
        p.state = P_HANDSHAKE;
        return;
    case P_HANDSHAKE:
        ret = mbedtls_ssl_handshake(&p.ssl);
        if (!ret)
            p.state = P_REQUEST;
        else if (!blocked(ret))
            p.state = P_FAILED;
        return;
    case P_REQUEST:
        ret = mbedtls_ssl_read(&p.ssl, (unsigned char *)p.head + p.head_len,
                               sizeof(p.head) - 1 - p.head_len);
        if (ret > 0) {
            p.head_len += (size_t)ret;
            p.head[p.head_len] = '\0';
            if (strstr(p.head, "\r\n\r\n"))
                p.state = P_RESPONSE;
            else if (p.head_len == sizeof(p.head) - 1)
                p.state = P_FAILED;
        } else if (!blocked(ret)) {
            p.state = P_FAILED;
        }
        return;
    case P_RESPONSE: {
        const char *r = p.left > 1 ? response_more : response_last;
        size_t len = p.left > 1 ? sizeof(response_more) - 1 : sizeof(response_last) - 1;

        ret = mbedtls_ssl_write(&p.ssl, (const unsigned char *)r + p.sent, len - p.sent);
        if (ret > 0 && (p.sent += (size_t)ret) == len) {
            p.head_len = p.sent = 0;
            p.state = --p.left ? P_REQUEST : P_CLOSE;
        } else if (ret <= 0 && !blocked(ret)) {
            p.state = P_FAILED;
        }
        return;
    }
    case P_CLOSE:
        ret = mbedtls_ssl_close_notify(&p.ssl);
        if (!ret) {
            p.io->close(p.fd);
            p.fd = -1;
            p.state = P_DONE;
        } else if (!blocked(ret)) {
            p.state = P_FAILED;
        }
        return;
    default:
        return;
    }
}

void peer_step(void)
{
    int before;

    do {
        before = p.state;
        step_once();
    } while (p.state != before);
}

int peer_done(void)
{
    return p.state == P_DONE;
}

int peer_serve(unsigned requests)
{
    if (p.state != P_DONE || !requests)
        return -1;
    p.left = requests;
    p.state = P_ACCEPT;
    return 0;
}

/* The handshake finished (P_FAILED sorts after the states that imply it). */
static int handshaken(void)
{
    return p.state >= P_REQUEST && p.state <= P_DONE;
}

const char *peer_version(void)
{
    return handshaken() ? mbedtls_ssl_get_version(&p.ssl) : "";
}

const char *peer_suite(void)
{
    return handshaken() ? mbedtls_ssl_get_ciphersuite(&p.ssl) : "";
}

void peer_free(void)
{
    if (p.fd >= 0)
        p.io->close(p.fd);
    mbedtls_ssl_free(&p.ssl);
    mbedtls_ssl_config_free(&p.conf);
    mbedtls_x509_crt_free(&p.crt);
    mbedtls_pk_free(&p.key);
    mbedtls_ctr_drbg_free(&p.drbg);
#if defined(MBEDTLS_PSA_CRYPTO_C)
    mbedtls_psa_crypto_free();
#endif
}
