/*
 * wisp's TLS against OpenSSL, a peer nobody here wrote.
 *
 * Trap 2 of mbedTLS 2.28: with its default curve order, an mbedTLS server picks
 * secp521r1 against OpenSSL clients (5.3 ms of server CPU per handshake instead of
 * 3.2). wisp sets the list explicitly, X25519 and P-256 first:
 *   - a wisp TLS server is asked by `openssl s_client`, which must report X25519;
 *   - a wisp client stream fetches `openssl s_server -www`'s status page, which
 *     lists the groups the client offered, in order.
 * openssl runs on a helper thread that hands its output back with wisp_post().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <unistd.h>

#include "testalloc.h"
#include "testfiles.h"
#include "shjob.h"
#include "tlspeer.h"
#include "wisp/stream.h"

static wisp__tls_blob_t file_blob(const char *name)
{
    wisp__tls_blob_t b = tlspeer_cert_blob(WISP_TEST_CERTS, name);

    assert_non_null(b.data);
    return b;
}

static void test_openssl_client_gets_x25519(void **state)
{
    testalloc_t ta;
    wisp_context_t *cx;
    wisp__tls_conf_info_t in;
    wisp__tls_conf_t *conf = NULL;
    wisp__tls_blob_t crt = file_blob("server.pem"), key = file_blob("server.key");
    tlspeer_t peer;
    tlslistener_t l;
    shjob_t job;
    int spins = 0;

    (void)state;
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
             "-verify_return_error </dev/null 2>&1",
             l.bound.port, WISP_TEST_CERTS);
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
    if (!strstr(job.out, "Server Temp Key: X25519"))
        print_error("openssl said:\n%s\n", job.out);
    assert_non_null(strstr(job.out, "Verify return code: 0 (ok)"));
    assert_non_null(strstr(job.out, "Server Temp Key: X25519"));
    assert_true(peer.hs_done);
    assert_int_equal(ta.live_blocks, 0);
}

/* ---- The client side: a wisp stream against openssl s_server -www ---- */

typedef struct page {
    char body[16384];
    size_t len;
    int status, finished;
} page_t;

static int page_rx(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    page_t *p = user;

    (void)flags;
    if (!len)
        return 0; /* the final call: EOM alone, buf NULL */
    if (len > sizeof(p->body) - 1 - p->len)
        len = sizeof(p->body) - 1 - p->len;
    memcpy(p->body + p->len, buf, len);
    p->len += len;
    p->body[p->len] = '\0';
    return 0;
}

static int page_state(void *user, wisp_state_t st, int arg)
{
    page_t *p = user;

    if (st == WISP_STATE_ACK || st == WISP_STATE_NACK)
        p->status = arg;
    if (st == WISP_STATE_DONE || st == WISP_STATE_ALL_RETRIES_FAILED || st == WISP_STATE_TIMEOUT ||
        st == WISP_STATE_DISCONNECTED)
        p->finished = 1;
    return 0;
}

static unsigned free_port(void)
{
    wisp_addr_t at, bound;
    int fd = -1;

    assert_int_equal(wisp_addr_parse("127.0.0.1", 0, &at), 0);
    assert_int_equal(wisp_plat_posix()->tcp_listen(NULL, &at, 1, &fd, &bound), 0);
    wisp_plat_posix()->sock_close(NULL, fd);
    return bound.port;
}

static char *policy_for(unsigned port)
{
    char *pem = test_cert_json("ca.pem"), *json;
    size_t len;

    assert_non_null(pem);
    len = strlen(pem) + 512;
    json = malloc(len);
    snprintf(json, len,
             "{\"schema\": 1, \"certs\": {\"ca\": \"%s\"},"
             " \"trust_stores\": {\"local\": {\"certs\": [\"ca\"]}},"
             " \"streams\": {\"status\": {\"endpoint\": \"127.0.0.1\", \"port\": %u,"
             " \"trust_store\": \"local\", \"url\": \"/\", \"timeout_ms\": 10000}}}",
             pem, port);
    free(pem);
    return json;
}

static void test_wisp_client_offers_x25519_first(void **state)
{
    static const wisp_stream_ops_t ops = {"status", page_rx, NULL, page_state};
    unsigned port = free_port();
    char *json = policy_for(port);
    testalloc_t ta;
    wisp_context_t *cx;
    wisp_stream_t *s;
    page_t page;
    shjob_t job;
    int spins = 0;

    (void)state;
    memset(&job, 0, sizeof(job));
    snprintf(job.cmd, sizeof(job.cmd),
             "openssl s_server -accept 127.0.0.1:%u -cert %s/server.pem -key %s/server.key "
             "-www -naccept 1 </dev/null 2>&1",
             port, WISP_TEST_CERTS, WISP_TEST_CERTS);
    testalloc_init(&ta, 0);
    assert_int_equal(testalloc_context(&ta, json, &cx), 0);
    assert_int_equal(shjob_start(&job, cx), 0);
    /* Wait until s_server listens: a connect that is refused is instant here. */
    for (;;) {
        wisp_addr_t to;
        int fd = -1;

        assert_int_equal(wisp_addr_parse("127.0.0.1", (uint16_t)port, &to), 0);
        if (system(NULL) && spins++ > 200)
            fail_msg("openssl s_server did not start");
        usleep(20000);
        if (wisp_plat_posix()->tcp_connect(NULL, &to, &fd) == 0) {
            usleep(20000);
            if (wisp_plat_posix()->sock_error(NULL, fd) == 0) {
                wisp_plat_posix()->sock_close(NULL, fd);
                break;
            }
            wisp_plat_posix()->sock_close(NULL, fd);
        }
    }
    /* That probe used up s_server's one accept; start it again for the stream. */
    shjob_join(&job);
    assert_int_equal(shjob_start(&job, cx), 0);
    usleep(300000);
    memset(&page, 0, sizeof(page));
    assert_int_equal(wisp_stream_create(cx, &ops, &page, &s), 0);
    assert_int_equal(wisp_stream_request_tx(s), 0);
    spins = 0;
    while (!page.finished && spins++ < 400)
        assert_int_equal(wisp_service(cx, 50), 0);
    wisp_stream_destroy(s);
    while (!job.done && spins++ < 800)
        assert_int_equal(wisp_service(cx, 50), 0);
    shjob_join(&job);
    wisp_context_destroy(cx);
    free(json);
    assert_int_equal(page.status, 200);
    if (!strstr(page.body, "Supported groups: x25519:secp256r1"))
        print_error("s_server page:\n%s\n", page.body);
    assert_non_null(strstr(page.body, "Supported groups: x25519:secp256r1"));
    assert_int_equal(ta.live_blocks, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_openssl_client_gets_x25519),
        cmocka_unit_test(test_wisp_client_offers_x25519_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
