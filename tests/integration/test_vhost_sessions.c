/*
 * The vhost's client TLS session list is capped (WISP_VHOST_SESSIONS_MAX, the least
 * recently stored out): a device talking to many host:port pairs over one trust
 * store does not grow by a session per pair forever. Real sessions from real
 * loopback handshakes (tests/support/tlspeer), stored under distinct keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testalloc.h"
#include "testfiles.h"
#include "tlspeer.h"
#include "vhost/vhost-internal.h"

#define ROUNDS (WISP_VHOST_SESSIONS_MAX + 4)

static wisp__tls_conf_t *conf(wisp_context_t *cx, int server)
{
    wisp__tls_conf_info_t in;
    wisp__tls_blob_t a = tlspeer_cert_blob(WISP_TEST_CERTS, server ? "server.pem" : "ca.pem");
    wisp__tls_blob_t k = tlspeer_cert_blob(WISP_TEST_CERTS, "server.key");
    wisp__tls_conf_t *c = NULL;

    memset(&in, 0, sizeof(in));
    if (server) {
        in.server = 1;
        in.cert = a;
        in.key = k;
    } else {
        in.ca = &a;
        in.ca_count = 1;
    }
    assert_int_equal(wisp__tls_conf_create(cx, &in, &c), 0);
    tlspeer_blob_free(&a);
    tlspeer_blob_free(&k);
    return c;
}

/* One full handshake; returns the session the client was given (caller owns it). */
static wisp__tls_session_t *one_session(wisp_context_t *cx, wisp__tls_conf_t *srv_conf,
                                        wisp__tls_conf_t *cli_conf)
{
    tlslistener_t l;
    tlspeer_t srv[1], cli;
    tlspeer_t *all[2] = {&cli, &srv[0]};
    wisp__tls_session_t *s;

    memset(&l, 0, sizeof(l));
    memset(srv, 0, sizeof(srv));
    memset(&cli, 0, sizeof(cli));
    assert_int_equal(tlslistener_open(&l, cx, srv_conf, "127.0.0.1", srv, 1), 0);
    cli.save_session = 1;
    cli.tx_total = 10;
    cli.rx_total = 10; /* TLS 1.3: the ticket follows the handshake; read on to see it */
    srv[0].tx_total = 10;
    l.rx_total = 10;
    assert_int_equal(tlspeer_connect(&cli, cx, cli_conf, "localhost", &l.bound, NULL), 0);
    assert_int_equal(tlspeer_run(cx, all, 2, 10000), 0);
    s = cli.session;
    cli.session = NULL;
    assert_non_null(s);
    tlspeer_close(&cli);
    tlspeer_close(&srv[0]);
    tlslistener_close(&l);
    return s;
}

static void test_session_list_capped(void **state)
{
    char *ca = test_cert_json("ca.pem"), policy[8192];
    testalloc_t ta;
    wisp_context_t *cx;
    wisp__vhost_t *v = NULL;
    wisp__tls_conf_t *sc, *cc;
    wisp_stats_t st;
    size_t heap_at_cap = 0;
    char host[32];
    int i;

    (void)state;
    assert_non_null(ca);
    snprintf(policy, sizeof(policy),
             "{\"schema\":1,\"certs\":{\"ca\":\"%s\"},\"trust_stores\":{\"ts\":{\"certs\":"
             "[\"ca\"]}},\"streams\":{\"s\":{\"endpoint\":\"localhost\",\"trust_store\":"
             "\"ts\",\"url\":\"/\"}}}",
             ca);
    free(ca);
    testalloc_init(&ta, 0);
    assert_int_equal(testalloc_context(&ta, policy, &cx), 0);
    assert_int_equal(
        wisp__vhost_acquire(cx, wisp_policy_stream_find(wisp_context_policy(cx), "s"), &v), 0);
    sc = conf(cx, 1);
    cc = conf(cx, 0);
    for (i = 0; i < ROUNDS; i++) {
        snprintf(host, sizeof(host), "h%d.test", i);
        wisp__vhost_session_put(v, host, 443, one_session(cx, sc, cc));
        if (i == WISP_VHOST_SESSIONS_MAX - 1) {
            wisp_get_stats(cx, &st);
            heap_at_cap = st.heap_in_use;
        }
    }
    /* The oldest four went; the newest WISP_VHOST_SESSIONS_MAX are there. */
    for (i = 0; i < ROUNDS; i++) {
        snprintf(host, sizeof(host), "h%d.test", i);
        if (i < ROUNDS - WISP_VHOST_SESSIONS_MAX)
            assert_null(wisp__vhost_session(v, host, 443));
        else
            assert_non_null(wisp__vhost_session(v, host, 443));
    }
    /* Storing again moves a session to the front: it survives the next one in. */
    wisp__vhost_session_put(v, "h4.test", 443, one_session(cx, sc, cc));
    wisp__vhost_session_put(v, "new.test", 443, one_session(cx, sc, cc));
    assert_non_null(wisp__vhost_session(v, "h4.test", 443));
    assert_null(wisp__vhost_session(v, "h5.test", 443));
    /* The heap stays at the cap's figure (give or take a session's size). */
    wisp_get_stats(cx, &st);
    assert_true(st.heap_in_use <= heap_at_cap + heap_at_cap / 8);
    wisp__tls_conf_destroy(&sc);
    wisp__tls_conf_destroy(&cc);
    wisp__vhost_unref(&v);
    wisp_context_destroy(cx);
    assert_int_equal(ta.live_blocks, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_session_list_capped)};

    return cmocka_run_group_tests(tests, NULL, NULL);
}
