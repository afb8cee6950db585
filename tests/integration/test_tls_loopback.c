/*
 * The TLS glue end to end: a wisp TLS client and a wisp TLS server on the same loop
 * over real loopback sockets. Covers the 1 MiB transfer both ways in random-sized
 * writes, session resumption (TLS 1.3 tickets after the handshake on 3.6), the
 * mbedTLS traps (flight coalescing with TCP_NODELAY, per version; IP subjectAltName
 * matching without CN fallback, and without a host name on 3.6.3+) and verification
 * failures, each with its own code (client side: CA, name, dates, self-signed,
 * chain length, X.509 profile; server side with client CAs: no, foreign or expired
 * client certificate). A clientAuth-only server certificate is tested against
 * openssl s_server (tests/interop/test_tls_hardening.c): mbedTLS will not serve it. Every test ends
 * with zero sockets registered and zero heap, checked by a counting allocator after the context is
 * gone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <mbedtls/x509.h>

#include "testalloc.h"
#include "tlspeer.h"

typedef struct fixture {
    testalloc_t ta;
    wisp_context_t *cx;
    wisp__tls_conf_t *server, *client;
    tlslistener_t l;
    tlspeer_t srv[2], cli[2];
} fixture_t;

/* ---- A platform that counts send() calls per fd (for flight coalescing) ---- */

static wisp_plat_ops_t counting_plat;
static unsigned sends_by_fd[4096];

static int counting_send(void *user, int fd, const void *buf, size_t len)
{
    if (fd >= 0 && fd < 4096)
        sends_by_fd[fd]++;
    return wisp_plat_posix()->sock_send(user, fd, buf, len);
}

static wisp__tls_blob_t file_blob(const char *name)
{
    wisp__tls_blob_t b = tlspeer_cert_blob(WISP_TEST_CERTS, name);

    assert_non_null(b.data);
    return b;
}

/* The version a handshake between two wisp peers must reach: TLS 1.3 where the
 * mbedTLS build offers it (3.x, as built by make test), TLS 1.2 on 2.28. */
static const char *expected_protocol(void)
{
    return wisp_tls_version()[0] == '3' ? "TLSv1.3" : "TLSv1.2";
}

static int make_server(fixture_t *f, const char *cert, const char *key)
{
    wisp__tls_conf_info_t in;
    wisp__tls_blob_t c = file_blob(cert), k = file_blob(key);
    int ret;

    memset(&in, 0, sizeof(in));
    in.server = 1;
    in.cert = c;
    in.key = k;
    ret = wisp__tls_conf_create(f->cx, &in, &f->server);
    tlspeer_blob_free(&c);
    tlspeer_blob_free(&k);
    return ret;
}

static int make_client(fixture_t *f, const char *ca)
{
    wisp__tls_conf_info_t in;
    wisp__tls_blob_t c = file_blob(ca);
    int ret;

    memset(&in, 0, sizeof(in));
    in.ca = &c;
    in.ca_count = 1;
    ret = wisp__tls_conf_create(f->cx, &in, &f->client);
    tlspeer_blob_free(&c);
    return ret;
}

/* A server that requires client certificates issued by client_ca (the policy's
 * client_ca), and a client that presents cert/key. */
static int make_server_mtls(fixture_t *f, const char *client_ca)
{
    wisp__tls_conf_info_t in;
    wisp__tls_blob_t c = file_blob("server.pem"), k = file_blob("server.key");
    wisp__tls_blob_t ca = file_blob(client_ca);
    int ret;

    memset(&in, 0, sizeof(in));
    in.server = 1;
    in.cert = c;
    in.key = k;
    in.ca = &ca;
    in.ca_count = 1;
    ret = wisp__tls_conf_create(f->cx, &in, &f->server);
    tlspeer_blob_free(&c);
    tlspeer_blob_free(&k);
    tlspeer_blob_free(&ca);
    return ret;
}

static int make_client_cert(fixture_t *f, const char *cert, const char *key)
{
    wisp__tls_conf_info_t in;
    wisp__tls_blob_t ca = file_blob("ca.pem"), c = file_blob(cert), k = file_blob(key);
    int ret;

    memset(&in, 0, sizeof(in));
    in.ca = &ca;
    in.ca_count = 1;
    in.cert = c;
    in.key = k;
    ret = wisp__tls_conf_create(f->cx, &in, &f->client);
    tlspeer_blob_free(&ca);
    tlspeer_blob_free(&c);
    tlspeer_blob_free(&k);
    return ret;
}

static int setup_plat(void **state, const wisp_plat_ops_t *plat)
{
    fixture_t *f = calloc(1, sizeof(*f));
    wisp_context_info_t info;

    testalloc_init(&f->ta, 0);
    memset(&info, 0, sizeof(info));
    info.allocator = &f->ta.a;
    info.plat = plat;
    info.log_level = getenv("WISP_TEST_LOG") ? WISP_LOG_DEBUG : WISP_LOG_WARN;
    info.log_level_set = 1;
    assert_int_equal(wisp_context_create(&info, &f->cx), 0);
    *state = f;
    return 0;
}

static int setup(void **state)
{
    return setup_plat(state, NULL);
}

static int teardown(void **state)
{
    fixture_t *f = *state;
    wisp_stats_t st;

    tlslistener_close(&f->l);
    wisp__tls_conf_destroy(&f->server);
    wisp__tls_conf_destroy(&f->client);
    wisp_get_stats(f->cx, &st);
    wisp_context_destroy(f->cx);
    /* Nothing of wisp's is left: every block from the allocator came back. */
    assert_int_equal(f->ta.live_blocks, 0);
    free(f);
    return 0;
}

/* Connect one client to the listener and run both sides to completion. */
static void run_pair(fixture_t *f, const char *host, const char *ip, size_t c2s, size_t s2c,
                     const wisp__tls_session_t *resume)
{
    tlspeer_t *all[2] = {&f->cli[0], &f->srv[0]};
    wisp_addr_t to;

    assert_int_equal(tlslistener_open(&f->l, f->cx, f->server, ip, f->srv, 1), 0);
    f->srv[0].tx_total = s2c;
    f->srv[0].rx_total = c2s;
    f->srv[0].tx_seed = 2;
    f->srv[0].rx_seed = 1;
    f->srv[0].rng = 12345;
    f->cli[0].tx_total = c2s;
    f->cli[0].rx_total = s2c;
    f->cli[0].tx_seed = 1;
    f->cli[0].rx_seed = 2;
    f->cli[0].rng = 777;
    to = f->l.bound;
    assert_int_equal(tlspeer_connect(&f->cli[0], f->cx, f->client, host, &to, resume), 0);
    assert_int_equal(tlspeer_run(f->cx, all, 2, 30000), 0);
}

static void assert_idle(fixture_t *f)
{
    wisp_stats_t st;

    tlslistener_close(&f->l);
    wisp__tls_conf_destroy(&f->server);
    wisp__tls_conf_destroy(&f->client);
    wisp_get_stats(f->cx, &st);
    /* With the last config gone the DRBG goes too: an idle context holds nothing. */
    assert_int_equal(st.heap_in_use, 0);
    assert_int_equal(st.conns_live, 0);
}

static void test_one_mib_both_ways(void **state)
{
    fixture_t *f = *state;
    wisp_stats_t st;

    assert_int_equal(make_server(f, "server.pem", "server.key"), 0);
    assert_int_equal(make_client(f, "ca.pem"), 0);
    run_pair(f, "localhost", "127.0.0.1", 1u << 20, 1u << 20, NULL);
    assert_int_equal(f->cli[0].err, 0);
    assert_int_equal(f->srv[0].err, 0);
    assert_int_equal(f->cli[0].rx_done, 1u << 20);
    assert_int_equal(f->srv[0].rx_done, 1u << 20);
    wisp_get_stats(f->cx, &st);
    assert_true(st.bytes_in > 2u << 20);
    assert_true(st.bytes_out > 2u << 20);
    assert_idle(f);
}

static void test_ipv6_and_rsa(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(make_server(f, "server-rsa.pem", "server-rsa.key"), 0);
    assert_int_equal(make_client(f, "ca.pem"), 0);
    run_pair(f, "::1", "::1", 70000, 5000, NULL);
    assert_int_equal(f->cli[0].err, 0);
    assert_int_equal(f->srv[0].err, 0);
    assert_int_equal(f->cli[0].rx_done, 5000);
    assert_idle(f);
}

static void test_resumption(void **state)
{
    fixture_t *f = *state;
    wisp__tls_session_t *sess = NULL;
    tlspeer_t *all[2] = {&f->cli[1], &f->srv[1]};

    assert_int_equal(make_server(f, "server.pem", "server.key"), 0);
    assert_int_equal(make_client(f, "ca.pem"), 0);
    /* First connection: full handshake; the client saves its session. */
    assert_int_equal(tlslistener_open(&f->l, f->cx, f->server, "127.0.0.1", f->srv, 2), 0);
    f->cli[0].tx_total = 10;
    f->cli[0].save_session = 1;
    f->l.rx_total = 10;
    /* Under TLS 1.3 the ticket follows the handshake: the client must read on to
     * see it, so the server sends a little data after it. */
    f->cli[0].rx_total = 10;
    f->srv[0].tx_total = 10;
    assert_int_equal(tlspeer_connect(&f->cli[0], f->cx, f->client, "localhost", &f->l.bound, NULL),
                     0);
    {
        tlspeer_t *first[2] = {&f->cli[0], &f->srv[0]};

        assert_int_equal(tlspeer_run(f->cx, first, 2, 10000), 0);
    }
    assert_int_equal(f->cli[0].err, 0);
    assert_false(f->cli[0].resumed);
    sess = f->cli[0].session;
    assert_non_null(sess);
    /* Second connection offers the session: both sides see a resumption. */
    f->cli[1].tx_total = 10;
    assert_int_equal(tlspeer_connect(&f->cli[1], f->cx, f->client, "localhost", &f->l.bound, sess),
                     0);
    assert_int_equal(tlspeer_run(f->cx, all, 2, 10000), 0);
    assert_int_equal(f->cli[1].err, 0);
    assert_int_equal(f->srv[1].err, 0);
    assert_true(f->cli[1].resumed);
    assert_true(f->srv[1].resumed);
    assert_false(f->srv[0].resumed);
    wisp__tls_session_free(f->cx, &sess);
    assert_null(sess);
    assert_idle(f);
}

/* Trap 1: each handshake flight must leave in one send() on a TCP_NODELAY socket.
 * Without coalescing, mbedTLS writes ServerHello, Certificate, ServerKeyExchange and
 * ServerHelloDone separately, and the client stalls ~40 ms on delayed ACKs. */
static int setup_counting(void **state)
{
    counting_plat = *wisp_plat_posix();
    counting_plat.sock_send = counting_send;
    memset(sends_by_fd, 0, sizeof(sends_by_fd));
    return setup_plat(state, &counting_plat);
}

static unsigned sends_at_handshake[2];
static int nodelay_at_handshake[2];
static char proto_at_handshake[2][16];

static void record_sends(tlspeer_t *p)
{
    int one = 0;
    socklen_t sl = sizeof(one);

    sends_at_handshake[p->server] = sends_by_fd[p->sock.fd];
    if (getsockopt(p->sock.fd, IPPROTO_TCP, TCP_NODELAY, &one, &sl) == 0)
        nodelay_at_handshake[p->server] = one;
    snprintf(proto_at_handshake[p->server], sizeof(proto_at_handshake[0]), "%s",
             wisp__tls_protocol(p->tls));
}

static void test_flights_coalesced_nodelay(void **state)
{
    fixture_t *f = *state;
    tlspeer_t *all[2] = {&f->cli[0], &f->srv[0]};

    assert_int_equal(make_server(f, "server.pem", "server.key"), 0);
    assert_int_equal(make_client(f, "ca.pem"), 0);
    assert_int_equal(tlslistener_open(&f->l, f->cx, f->server, "127.0.0.1", f->srv, 1), 0);
    f->cli[0].tx_total = 1;
    f->l.rx_total = 1;
    f->cli[0].on_handshake = record_sends;
    f->srv[0].on_handshake = record_sends;
    assert_int_equal(tlspeer_connect(&f->cli[0], f->cx, f->client, "localhost", &f->l.bound, NULL),
                     0);
    assert_int_equal(tlspeer_run(f->cx, all, 2, 10000), 0);
    assert_int_equal(f->cli[0].err, 0);
    assert_int_equal(f->srv[0].err, 0);
    assert_int_equal(nodelay_at_handshake[0], 1);
    assert_int_equal(nodelay_at_handshake[1], 1);
    /* Both sides agree, and it is the newest version the build has. */
    assert_string_equal(proto_at_handshake[0], proto_at_handshake[1]);
    assert_string_equal(proto_at_handshake[0], expected_protocol());
    if (!strcmp(proto_at_handshake[0], "TLSv1.2")) {
        /* Full TLS 1.2 handshake. When the client completes it has sent ClientHello
         * and one ClientKeyExchange+ChangeCipherSpec+Finished flight: 2 sends (4 or
         * more uncoalesced). When the server completes it has sent its hello flight
         * (ServerHello..ServerHelloDone, 4 messages) in 1 send, its Finished flight
         * still buffered for the end of the iteration. */
        assert_int_equal(sends_at_handshake[0], 2);
        assert_int_equal(sends_at_handshake[1], 1);
    } else {
        /* Full TLS 1.3 handshake: one round trip. When the client completes it has
         * sent its ClientHello (1 send), its ChangeCipherSpec + Finished flight
         * still buffered for the end of the iteration. When the server completes
         * it has sent ServerHello, ChangeCipherSpec, EncryptedExtensions,
         * Certificate, CertificateVerify and Finished (6 messages) in 1 send, its
         * NewSessionTicket still buffered. */
        assert_int_equal(sends_at_handshake[0], 1);
        assert_int_equal(sends_at_handshake[1], 1);
    }
    assert_idle(f);
}

/* Trap 3 and verification failures: each case is a server certificate, the name the
 * client dials and the one code the handshake must fail with (include/wisp/error.h:
 * the first reason in precedence order). */
static void expect_cert_failure(fixture_t *f, const char *cert, const char *key, const char *host,
                                const char *ip, int want)
{
    tlspeer_t *all[2] = {&f->cli[0], &f->srv[0]};

    assert_int_equal(make_server(f, cert, key), 0);
    assert_int_equal(make_client(f, "ca.pem"), 0);
    assert_int_equal(tlslistener_open(&f->l, f->cx, f->server, ip, f->srv, 1), 0);
    f->cli[0].tx_total = 1;
    f->l.rx_total = 1;
    assert_int_equal(tlspeer_connect(&f->cli[0], f->cx, f->client, host, &f->l.bound, NULL), 0);
    assert_int_equal(tlspeer_run(f->cx, all, 1, 10000), 0);
    if (f->cli[0].err != want)
        print_error("%s: got %s, want %s\n", cert, wisp_errname(f->cli[0].err), wisp_errname(want));
    assert_int_equal(f->cli[0].err, want);
    assert_true(WISP_IS_ECERT(f->cli[0].err));
    assert_false(f->cli[0].hs_done);
    /* The server sees the client's alert or the close; it must end too. */
    assert_int_equal(tlspeer_run(f->cx, all, 2, 10000), 0);
    assert_int_not_equal(f->srv[0].err, 0);
    assert_idle(f);
}

static void test_ip_endpoint_never_matches_cn(void **state)
{
    /* CN=127.0.0.1 and no SAN: mbedTLS alone would accept it by CN. */
    expect_cert_failure(*state, "ipcn.pem", "ipcn.key", "127.0.0.1", "127.0.0.1", WISP_ECERTNAME);
}

static void test_ip_endpoint_needs_ip_san(void **state)
{
    /* DNS SAN only, dialled by IP. */
    expect_cert_failure(*state, "wronghost.pem", "wronghost.key", "127.0.0.1", "127.0.0.1",
                        WISP_ECERTNAME);
}

static void test_ip_endpoint_matches_ip_san(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(make_server(f, "server.pem", "server.key"), 0);
    assert_int_equal(make_client(f, "ca.pem"), 0);
    run_pair(f, "127.0.0.1", "127.0.0.1", 100, 100, NULL);
    assert_int_equal(f->cli[0].err, 0);
    assert_idle(f);
}

static void test_wrong_host_name(void **state)
{
    expect_cert_failure(*state, "wronghost.pem", "wronghost.key", "localhost", "127.0.0.1",
                        WISP_ECERTNAME);
}

static void test_unknown_ca(void **state)
{
    expect_cert_failure(*state, "other-server.pem", "other-server.key", "localhost", "127.0.0.1",
                        WISP_ECERTUNTRUSTED);
}

static void test_expired(void **state)
{
    expect_cert_failure(*state, "expired.pem", "expired.key", "localhost", "127.0.0.1",
                        WISP_ECERTEXPIRED);
}

static void test_not_yet_valid(void **state)
{
    /* notBefore 2099-01-01. */
    expect_cert_failure(*state, "server-future.pem", "server-future.key", "localhost", "127.0.0.1",
                        WISP_ECERTFUTURE);
}

static void test_self_signed_leaf(void **state)
{
    /* Also NOT_TRUSTED in mbedTLS's flags: the self-signed reason is told apart. */
    expect_cert_failure(*state, "server-selfsigned.pem", "server-selfsigned.key", "localhost",
                        "127.0.0.1", WISP_ECERTSELFSIGNED);
}

/* The same self-signed leaf, when it is the trust anchor itself, verifies: the
 * code above is for one that is not in the trust store. */
static void test_self_signed_leaf_trusted(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(make_server(f, "server-selfsigned.pem", "server-selfsigned.key"), 0);
    assert_int_equal(make_client(f, "server-selfsigned.pem"), 0);
    run_pair(f, "localhost", "127.0.0.1", 100, 100, NULL);
    assert_int_equal(f->cli[0].err, 0);
    assert_idle(f);
}

/* One intermediate more than MBEDTLS_X509_MAX_INTERMEDIATE_CA (8 here): refused as
 * a chain, not as an untrusted certificate; 8 intermediates verify. */
static void test_chain_too_long(void **state)
{
    expect_cert_failure(*state, "chain-long.pem", "chain-long.key", "localhost", "127.0.0.1",
                        WISP_ECERTCHAIN);
}

static void test_chain_longest_allowed(void **state)
{
    fixture_t *f = *state;

    assert_int_equal(make_server(f, "chain-long-ok.pem", "chain-long-ok.key"), 0);
    assert_int_equal(make_client(f, "ca.pem"), 0);
    run_pair(f, "localhost", "127.0.0.1", 100, 100, NULL);
    assert_int_equal(f->cli[0].err, 0);
    assert_idle(f);
}

/* The X.509 profile (SPEC section 8): valid chains outside it fail verification. */
static void test_profile_refuses_rsa1024(void **state)
{
    expect_cert_failure(*state, "server-rsa1024.pem", "server-rsa1024.key", "localhost",
                        "127.0.0.1", WISP_ECERTWEAK);
}

static void test_profile_refuses_p521(void **state)
{
    fixture_t *f = *state;
    tlspeer_t *all[2] = {&f->cli[0], &f->srv[0]};
    int err;

    assert_int_equal(make_server(f, "server-p521.pem", "server-p521.key"), 0);
    assert_int_equal(make_client(f, "ca.pem"), 0);
    assert_int_equal(tlslistener_open(&f->l, f->cx, f->server, "127.0.0.1", f->srv, 1), 0);
    f->cli[0].tx_total = 1;
    f->l.rx_total = 1;
    assert_int_equal(tlspeer_connect(&f->cli[0], f->cx, f->client, "localhost", &f->l.bound, NULL),
                     0);
    assert_int_equal(tlspeer_run(f->cx, all, 2, 10000), 0);
    /* TLS 1.3: the certificate arrives and fails the profile (WISP_ECERTWEAK). TLS
     * 1.2: the client offers no P-521 group, so the server cannot use its key at all
     * and gives up first (the client sees the close). Refused either way. */
    err = f->cli[0].err;
    assert_false(f->cli[0].hs_done);
    assert_true(err == WISP_ECERTWEAK || err == WISP_ECLOSED || err == WISP_ETLSALERT);
    assert_idle(f);
}

static void test_profile_refuses_sha224(void **state)
{
    expect_cert_failure(*state, "server-sha224.pem", "server-sha224.key", "localhost", "127.0.0.1",
                        WISP_ECERTWEAK);
}

static void test_profile_refuses_sha1(void **state)
{
    expect_cert_failure(*state, "server-sha1.pem", "server-sha1.key", "localhost", "127.0.0.1",
                        WISP_ECERTWEAK);
}

/* Several reasons at once: the first in include/wisp/error.h's order wins; a flag
 * with no code of its own is WISP_ECERT; mbedTLS's all-ones "fatal" result (the
 * chain walk stopped) is WISP_ECERTCHAIN. */
static void test_cert_error_precedence(void **state)
{
    (void)state;
    assert_int_equal(wisp__tls_cert_error(0xFFFFFFFFu), WISP_ECERTCHAIN);
    assert_int_equal(wisp__tls_cert_error(MBEDTLS_X509_BADCERT_BAD_MD |
                                          MBEDTLS_X509_BADCERT_NOT_TRUSTED |
                                          MBEDTLS_X509_BADCERT_EXPIRED),
                     WISP_ECERTWEAK);
    assert_int_equal(wisp__tls_cert_error(MBEDTLS_X509_BADCERT_NOT_TRUSTED | 0x00800000u),
                     WISP_ECERTSELFSIGNED);
    assert_int_equal(
        wisp__tls_cert_error(MBEDTLS_X509_BADCERT_NOT_TRUSTED | MBEDTLS_X509_BADCERT_CN_MISMATCH),
        WISP_ECERTUNTRUSTED);
    assert_int_equal(wisp__tls_cert_error(MBEDTLS_X509_BADCERT_CN_MISMATCH |
                                          MBEDTLS_X509_BADCERT_EXT_KEY_USAGE |
                                          MBEDTLS_X509_BADCERT_EXPIRED),
                     WISP_ECERTNAME);
    assert_int_equal(
        wisp__tls_cert_error(MBEDTLS_X509_BADCERT_KEY_USAGE | MBEDTLS_X509_BADCERT_FUTURE),
        WISP_ECERTUSAGE);
    assert_int_equal(
        wisp__tls_cert_error(MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE),
        WISP_ECERTEXPIRED);
    assert_int_equal(wisp__tls_cert_error(MBEDTLS_X509_BADCERT_FUTURE), WISP_ECERTFUTURE);
    assert_int_equal(wisp__tls_cert_error(MBEDTLS_X509_BADCERT_BAD_KEY), WISP_ECERTWEAK);
    assert_int_equal(wisp__tls_cert_error(MBEDTLS_X509_BADCERT_OTHER), WISP_ECERT);
    assert_int_equal(wisp__tls_cert_error(MBEDTLS_X509_BADCRL_EXPIRED), WISP_ECERT);
}

/* The server side (client_ca): a client with no certificate, one from another CA, or
 * an expired one is refused with the server reporting the reason; the right
 * certificate is served (control). The client sees the server's alert or close. */
static void run_mtls(fixture_t *f, const char *cert, const char *key)
{
    tlspeer_t *all[2] = {&f->cli[0], &f->srv[0]};

    assert_int_equal(make_server_mtls(f, "ca.pem"), 0);
    if (cert)
        assert_int_equal(make_client_cert(f, cert, key), 0);
    else
        assert_int_equal(make_client(f, "ca.pem"), 0);
    assert_int_equal(tlslistener_open(&f->l, f->cx, f->server, "127.0.0.1", f->srv, 1), 0);
    f->cli[0].tx_total = 10;
    f->cli[0].rx_total = 10;
    f->l.tx_total = 10;
    f->l.rx_total = 10;
    assert_int_equal(tlspeer_connect(&f->cli[0], f->cx, f->client, "localhost", &f->l.bound, NULL),
                     0);
    assert_int_equal(tlspeer_run(f->cx, all, 2, 10000), 0);
}

static void expect_client_refused(fixture_t *f, const char *cert, const char *key, int want)
{
    run_mtls(f, cert, key);
    if (f->srv[0].err != want)
        print_error("client %s: server got %s, want %s\n", cert ? cert : "(none)",
                    wisp_errname(f->srv[0].err), wisp_errname(want));
    assert_int_equal(f->srv[0].err, want);
    assert_false(f->srv[0].hs_done);
    /* TLS 1.3: the client has finished its side before the server looks; it learns
     * of the refusal from its first read. Either way it moved no data. */
    assert_int_not_equal(f->cli[0].err, 0);
    assert_int_equal(f->cli[0].rx_done, 0);
    assert_int_equal(f->srv[0].rx_done, 0);
    assert_idle(f);
}

static void test_mtls_right_client_cert(void **state)
{
    fixture_t *f = *state;

    run_mtls(f, "client.pem", "client.key");
    assert_int_equal(f->srv[0].err, 0);
    assert_int_equal(f->cli[0].err, 0);
    assert_int_equal(f->srv[0].rx_done, 10);
    assert_idle(f);
}

static void test_mtls_no_client_cert(void **state)
{
    expect_client_refused(*state, NULL, NULL, WISP_ECERT);
}

static void test_mtls_other_ca_client_cert(void **state)
{
    expect_client_refused(*state, "other-server.pem", "other-server.key", WISP_ECERTUNTRUSTED);
}

static void test_mtls_expired_client_cert(void **state)
{
    expect_client_refused(*state, "client-expired.pem", "client-expired.key", WISP_ECERTEXPIRED);
}

/* The truncation contract of wisp__tls_read: the server sends 3000 bytes and closes
 * first, with or without close_notify; the client reads to the end. */
static void run_truncation(fixture_t *f, int bare)
{
    tlspeer_t *all[2] = {&f->cli[0], &f->srv[0]};

    assert_int_equal(make_server(f, "server.pem", "server.key"), 0);
    assert_int_equal(make_client(f, "ca.pem"), 0);
    assert_int_equal(tlslistener_open(&f->l, f->cx, f->server, "127.0.0.1", f->srv, 1), 0);
    f->srv[0].tx_total = 3000;
    f->srv[0].close_done = 1;
    f->srv[0].bare_close = (uint8_t)bare;
    f->cli[0].rx_total = 3000;
    f->cli[0].wait_close = 1;
    assert_int_equal(tlspeer_connect(&f->cli[0], f->cx, f->client, "localhost", &f->l.bound, NULL),
                     0);
    assert_int_equal(tlspeer_run(f->cx, all, 2, 10000), 0);
    assert_int_equal(f->srv[0].err, 0);
    /* Every byte arrived either way: only close_notify says it was all. */
    assert_int_equal(f->cli[0].rx_done, 3000);
}

static void test_read_close_notify_is_zero(void **state)
{
    fixture_t *f = *state;

    run_truncation(f, 0);
    assert_int_equal(f->cli[0].last_read, 0);
    assert_int_equal(f->cli[0].err, 0);
    assert_idle(f);
}

static void test_read_bare_eof_is_truncated(void **state)
{
    fixture_t *f = *state;

    run_truncation(f, 1);
    assert_int_equal(f->cli[0].last_read, WISP_ETRUNCATED);
    assert_int_equal(f->cli[0].err, WISP_ETRUNCATED);
    assert_idle(f);
}

static void test_bad_inputs(void **state)
{
    fixture_t *f = *state;
    wisp__tls_conf_info_t in;
    wisp__tls_blob_t junk = {(const uint8_t *)"-----BEGIN CERTIFICATE-----\nAAAA\n", 33};
    wisp__tls_t *t = (wisp__tls_t *)1;

    memset(&in, 0, sizeof(in));
    /* A client without trust anchors is refused: verification is always required. */
    assert_int_equal(wisp__tls_conf_create(f->cx, &in, &f->client), WISP_EINVAL);
    assert_null(f->client);
    in.ca = &junk;
    in.ca_count = 1;
    assert_int_equal(wisp__tls_conf_create(f->cx, &in, &f->client), WISP_ECERTPARSE);
    in.server = 1;
    in.ca_count = 0;
    assert_int_equal(wisp__tls_conf_create(f->cx, &in, &f->server), WISP_EINVAL);
    assert_int_equal(wisp__tls_create(NULL, "x", NULL, NULL, NULL, NULL, NULL, &t), WISP_EINVAL);
    assert_null(t);
    assert_int_equal(wisp__tls_handshake(NULL), WISP_EINVAL);
    wisp__tls_destroy(NULL);
    wisp__tls_conf_destroy(NULL);
    assert_idle(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_one_mib_both_ways, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv6_and_rsa, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resumption, setup, teardown),
        cmocka_unit_test_setup_teardown(test_flights_coalesced_nodelay, setup_counting, teardown),
        cmocka_unit_test_setup_teardown(test_ip_endpoint_never_matches_cn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ip_endpoint_needs_ip_san, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ip_endpoint_matches_ip_san, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wrong_host_name, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_ca, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_yet_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_self_signed_leaf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_self_signed_leaf_trusted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chain_too_long, setup, teardown),
        cmocka_unit_test_setup_teardown(test_chain_longest_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_refuses_rsa1024, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_refuses_p521, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_refuses_sha224, setup, teardown),
        cmocka_unit_test_setup_teardown(test_profile_refuses_sha1, setup, teardown),
        cmocka_unit_test(test_cert_error_precedence),
        cmocka_unit_test_setup_teardown(test_mtls_right_client_cert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mtls_no_client_cert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mtls_other_ca_client_cert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mtls_expired_client_cert, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_close_notify_is_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_bare_eof_is_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_inputs, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
