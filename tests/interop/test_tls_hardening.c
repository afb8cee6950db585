/*
 * The TLS rules of SPEC section 8 against OpenSSL, a peer nobody here wrote:
 *   - `openssl s_server` limited to TLS 1.0 or 1.1, to a static-RSA, a CBC or a DHE
 *     suite, or serving a certificate that must not verify (SHA-1 or SHA-224
 *     signature, RSA-1024, clientAuth-only, unknown CA, self-signed, wrong name,
 *     expired, not yet valid, a chain too long): the wisp client refuses each, and
 *     the error it reports, one code per reason, is asserted;
 *   - `openssl s_client` limited to TLS 1.0 or 1.1 against a wisp server: refused;
 *   - and, so that none of this passes vacuously, the same harness with a default
 *     s_server succeeds, at TLS 1.3 where the mbedTLS build has it.
 * Loopback only, on free ports. s_server runs in the background with its output in
 * a file under the build tree; the test waits for its "ACCEPT" line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include "testalloc.h"
#include "testfiles.h"
#include "shjob.h"
#include "tlspeer.h"

/* OpenSSL 3 allows TLS 1.0/1.1 only at security level 0. */
#define OLD_TLS " -cipher DEFAULT@SECLEVEL=0"

static unsigned free_port(void)
{
    wisp_addr_t at, bound;
    int fd = -1;

    assert_int_equal(wisp_addr_parse("127.0.0.1", 0, &at), 0);
    assert_int_equal(wisp_plat_posix()->tcp_listen(NULL, &at, 1, &fd, &bound), 0);
    wisp_plat_posix()->sock_close(NULL, fd);
    return bound.port;
}

typedef struct sserver {
    long pid;
    unsigned port;
    char log[512];
} sserver_t;

static char *slurp(const char *path)
{
    size_t len = 0;

    return test_read_file(path, &len);
}

/* Start `openssl s_server ARGS` (one connection) and wait until it listens. */
static void sserver_start(sserver_t *s, const char *cert, const char *args)
{
    char cmd[1536];
    FILE *p;
    int i;

    s->port = free_port();
    snprintf(s->log, sizeof(s->log), "%s/tests/interop/s_server-%u.log", WISP_BINARY_DIR, s->port);
    snprintf(cmd, sizeof(cmd),
             "openssl s_server -accept 127.0.0.1:%u -cert %s/%s.pem -key %s/%s.key -www "
             "-naccept 1 %s </dev/null >%s 2>&1 & echo $!",
             s->port, WISP_TEST_CERTS, cert, WISP_TEST_CERTS, cert, args, s->log);
    p = popen(cmd, "r");
    assert_non_null(p);
    assert_int_equal(fscanf(p, "%ld", &s->pid), 1);
    pclose(p);
    for (i = 0; i < 250; i++) {
        char *out = slurp(s->log);
        int up = out && strstr(out, "ACCEPT") != NULL;

        free(out);
        if (up)
            return;
        usleep(20000);
    }
    fail_msg("openssl s_server %s did not start", args);
}

static void sserver_stop(sserver_t *s)
{
    /* Our own background s_server, by its pid; it exits by itself after its one
     * connection, so this only matters when the test failed early. */
    if (s->pid > 0)
        kill((pid_t)s->pid, SIGTERM);
    s->pid = 0;
    unlink(s->log);
}

typedef struct outcome {
    int err;
    char proto[16];
    char suite[64];
} outcome_t;

static void note_handshake(tlspeer_t *p)
{
    outcome_t *o = p->user;

    snprintf(o->proto, sizeof(o->proto), "%s", wisp__tls_protocol(p->tls));
    snprintf(o->suite, sizeof(o->suite), "%s", wisp__tls_ciphersuite(p->tls));
}

/* A wisp client (trusting ca.pem, dialling "localhost") against s_server. */
static outcome_t wisp_client_against(const char *cert, const char *args)
{
    testalloc_t ta;
    wisp_context_t *cx;
    wisp__tls_conf_info_t in;
    wisp__tls_conf_t *conf = NULL;
    wisp__tls_blob_t ca = tlspeer_cert_blob(WISP_TEST_CERTS, "ca.pem");
    tlspeer_t peer, *all[1] = {&peer};
    wisp_addr_t to;
    sserver_t s;
    outcome_t o;

    memset(&o, 0, sizeof(o));
    assert_non_null(ca.data);
    sserver_start(&s, cert, args);
    testalloc_init(&ta, 0);
    assert_int_equal(testalloc_context(&ta, NULL, &cx), 0);
    memset(&in, 0, sizeof(in));
    in.ca = &ca;
    in.ca_count = 1;
    assert_int_equal(wisp__tls_conf_create(cx, &in, &conf), 0);
    memset(&peer, 0, sizeof(peer));
    peer.tx_total = 0;
    peer.on_handshake = note_handshake;
    peer.user = &o;
    assert_int_equal(wisp_addr_parse("127.0.0.1", (uint16_t)s.port, &to), 0);
    assert_int_equal(tlspeer_connect(&peer, cx, conf, "localhost", &to, NULL), 0);
    assert_int_equal(tlspeer_run(cx, all, 1, 10000), 0);
    o.err = peer.err;
    tlspeer_close(&peer);
    wisp__tls_conf_destroy(&conf);
    wisp_context_destroy(cx);
    tlspeer_blob_free(&ca);
    sserver_stop(&s);
    assert_int_equal(ta.live_blocks, 0);
    if (o.err)
        print_message("    s_server %s: wisp client: %s\n", args, wisp_strerror(o.err));
    else
        print_message("    s_server %s: %s %s\n", args, o.proto, o.suite);
    return o;
}

static void test_control_default_server(void **state)
{
    outcome_t o = wisp_client_against("server", "");

    (void)state;
    assert_int_equal(o.err, 0);
    assert_string_equal(o.proto, wisp_tls_version()[0] == '3' ? "TLSv1.3" : "TLSv1.2");
}

/* TLS 1.2 with an RSA certificate, OpenSSL choosing the signature algorithm itself
 * (on 3.6 wisp offers PKCS#1 v1.5 before RSA-PSS for this; see tls.c). */
static void test_control_tls12_ecdhe_rsa_gcm(void **state)
{
    outcome_t o = wisp_client_against("server-rsa", "-tls1_2 -cipher ECDHE-RSA-AES256-GCM-SHA384");

    (void)state;
    assert_int_equal(o.err, 0);
    assert_string_equal(o.proto, "TLSv1.2");
    assert_non_null(strstr(o.suite, "ECDHE-RSA-WITH-AES-256-GCM-SHA384"));
}

/* TLS 1.3 with an RSA certificate: RSA-PSS, the only RSA scheme 1.3 allows. */
static void test_control_rsa_default(void **state)
{
    outcome_t o = wisp_client_against("server-rsa", "");

    (void)state;
    assert_int_equal(o.err, 0);
    assert_string_equal(o.proto, wisp_tls_version()[0] == '3' ? "TLSv1.3" : "TLSv1.2");
}

/* TLS 1.0 and 1.1 cannot carry an AEAD suite, so s_server finds none in wisp's
 * ClientHello and says so with a handshake_failure alert. */
static void test_refuses_tls10(void **state)
{
    (void)state;
    assert_int_equal(wisp_client_against("server", "-tls1" OLD_TLS).err, WISP_ETLSALERT);
}

static void test_refuses_tls11(void **state)
{
    (void)state;
    assert_int_equal(wisp_client_against("server", "-tls1_1" OLD_TLS).err, WISP_ETLSALERT);
}

static void test_refuses_static_rsa(void **state)
{
    (void)state;
    assert_int_equal(wisp_client_against("server-rsa", "-tls1_2 -cipher AES128-GCM-SHA256").err,
                     WISP_ETLSALERT);
}

static void test_refuses_cbc(void **state)
{
    (void)state;
    assert_int_equal(wisp_client_against("server", "-tls1_2 -cipher ECDHE-ECDSA-AES128-SHA256").err,
                     WISP_ETLSALERT);
    assert_int_equal(wisp_client_against("server-rsa", "-tls1_2 -cipher ECDHE-RSA-AES128-SHA").err,
                     WISP_ETLSALERT);
}

static void test_refuses_dhe(void **state)
{
    (void)state;
    assert_int_equal(
        wisp_client_against("server-rsa", "-tls1_2 -cipher DHE-RSA-AES128-GCM-SHA256").err,
        WISP_ETLSALERT);
}

/* The X.509 profile: a SHA-224 signature verifies in OpenSSL but not in wisp. */
static void test_refuses_sha224_leaf(void **state)
{
    (void)state;
    assert_int_equal(wisp_client_against("server-sha224", "").err, WISP_ECERTWEAK);
    assert_int_equal(wisp_client_against("server-sha224", "-tls1_2").err, WISP_ECERTWEAK);
}

/* A SHA-1-signed leaf and an RSA-1024 one, which OpenSSL 3 itself only serves at
 * security level 0. */
static void test_refuses_sha1_leaf(void **state)
{
    (void)state;
    assert_int_equal(wisp_client_against("server-sha1", OLD_TLS).err, WISP_ECERTWEAK);
    assert_int_equal(wisp_client_against("server-sha1", "-tls1_2" OLD_TLS).err, WISP_ECERTWEAK);
}

static void test_refuses_rsa1024_leaf(void **state)
{
    (void)state;
    assert_int_equal(wisp_client_against("server-rsa1024", OLD_TLS).err, WISP_ECERTWEAK);
    assert_int_equal(wisp_client_against("server-rsa1024", "-tls1_2" OLD_TLS).err, WISP_ECERTWEAK);
}

/* A server certificate whose extendedKeyUsage allows clientAuth only: mbedTLS will
 * not serve one (a wisp server has no usable certificate), OpenSSL does. */
static void test_refuses_clientauth_only_leaf(void **state)
{
    (void)state;
    assert_int_equal(wisp_client_against("server-clientauth", "").err, WISP_ECERTUSAGE);
    assert_int_equal(wisp_client_against("server-clientauth", "-tls1_2").err, WISP_ECERTUSAGE);
}

/* Each verification failure has its own code against OpenSSL too, under the
 * version the build negotiates by default and under TLS 1.2. */
static void test_cert_error_codes(void **state)
{
    static const struct {
        const char *cert;
        int err;
    } cases[] = {
        {"other-server", WISP_ECERTUNTRUSTED}, {"server-selfsigned", WISP_ECERTSELFSIGNED},
        {"wronghost", WISP_ECERTNAME},         {"expired", WISP_ECERTEXPIRED},
        {"server-future", WISP_ECERTFUTURE},
    };
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        assert_int_equal(wisp_client_against(cases[i].cert, "").err, cases[i].err);
        assert_int_equal(wisp_client_against(cases[i].cert, "-tls1_2").err, cases[i].err);
    }
}

/* s_server sends the leaf and the 9 intermediates of chain-long.pem, one more than
 * MBEDTLS_X509_MAX_INTERMEDIATE_CA; 8 (chain-long-ok.pem) verify. */
static void test_chain_too_long(void **state)
{
    char args[600];

    (void)state;
    snprintf(args, sizeof(args), "-cert_chain %s/chain-long.pem", WISP_TEST_CERTS);
    assert_int_equal(wisp_client_against("chain-long", args).err, WISP_ECERTCHAIN);
    snprintf(args, sizeof(args), "-cert_chain %s/chain-long-ok.pem", WISP_TEST_CERTS);
    assert_int_equal(wisp_client_against("chain-long-ok", args).err, 0);
}

/* ---- The server side: openssl s_client at TLS 1.0/1.1 against a wisp server ---- */

static void old_client_against_wisp(const char *version)
{
    testalloc_t ta;
    wisp_context_t *cx;
    wisp__tls_conf_info_t in;
    wisp__tls_conf_t *conf = NULL;
    wisp__tls_blob_t crt = tlspeer_cert_blob(WISP_TEST_CERTS, "server.pem");
    wisp__tls_blob_t key = tlspeer_cert_blob(WISP_TEST_CERTS, "server.key");
    tlspeer_t peer;
    tlslistener_t l;
    shjob_t job;
    int spins = 0;

    testalloc_init(&ta, 0);
    assert_int_equal(testalloc_context(&ta, NULL, &cx), 0);
    memset(&in, 0, sizeof(in));
    in.server = 1;
    in.cert = crt;
    in.key = key;
    assert_int_equal(wisp__tls_conf_create(cx, &in, &conf), 0);
    memset(&peer, 0, sizeof(peer));
    memset(&l, 0, sizeof(l));
    assert_int_equal(tlslistener_open(&l, cx, conf, "127.0.0.1", &peer, 1), 0);
    memset(&job, 0, sizeof(job));
    snprintf(job.cmd, sizeof(job.cmd),
             "openssl s_client -connect 127.0.0.1:%u -servername localhost -CAfile %s/ca.pem "
             "%s" OLD_TLS " </dev/null 2>&1",
             l.bound.port, WISP_TEST_CERTS, version);
    assert_int_equal(shjob_start(&job, cx), 0);
    while (!job.done && spins++ < 400)
        assert_int_equal(wisp_service(cx, 50), 0);
    shjob_join(&job);
    tlspeer_close(&peer);
    tlslistener_close(&l);
    wisp__tls_conf_destroy(&conf);
    wisp_context_destroy(cx);
    tlspeer_blob_free(&crt);
    tlspeer_blob_free(&key);
    /* The wisp server refused the ClientHello (bad version: WISP_ETLS) and
     * OpenSSL got no session. (mbedTLS queues a protocol_version alert, but the
     * peer is closed at once, so OpenSSL may see only the end of the stream.) */
    assert_true(l.accepted == 1);
    assert_false(peer.hs_done);
    assert_int_equal(peer.err, WISP_ETLS);
    if (!strstr(job.out, "Cipher is (NONE)"))
        print_error("openssl said:\n%s\n", job.out);
    assert_non_null(strstr(job.out, "Cipher is (NONE)"));
    assert_int_equal(ta.live_blocks, 0);
}

static void test_server_refuses_tls10(void **state)
{
    (void)state;
    old_client_against_wisp("-tls1");
}

static void test_server_refuses_tls11(void **state)
{
    (void)state;
    old_client_against_wisp("-tls1_1");
}

/* argv[1], if given, runs only the tests whose names match it (the client-only
 * check of cmake/mbedtls-client-only-check.cmake runs the control case alone). */
int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control_default_server),
        cmocka_unit_test(test_control_tls12_ecdhe_rsa_gcm),
        cmocka_unit_test(test_control_rsa_default),
        cmocka_unit_test(test_refuses_tls10),
        cmocka_unit_test(test_refuses_tls11),
        cmocka_unit_test(test_refuses_static_rsa),
        cmocka_unit_test(test_refuses_cbc),
        cmocka_unit_test(test_refuses_dhe),
        cmocka_unit_test(test_refuses_sha224_leaf),
        cmocka_unit_test(test_refuses_sha1_leaf),
        cmocka_unit_test(test_refuses_rsa1024_leaf),
        cmocka_unit_test(test_refuses_clientauth_only_leaf),
        cmocka_unit_test(test_cert_error_codes),
        cmocka_unit_test(test_chain_too_long),
        cmocka_unit_test(test_server_refuses_tls10),
        cmocka_unit_test(test_server_refuses_tls11),
    };
    if (argc > 1)
        cmocka_set_test_filter(argv[1]);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
