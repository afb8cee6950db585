/*
 * Sessions that outlive the process (SPEC section 8): wisp_context_sessions_save()
 * from one context after a real full handshake, the context destroyed, a new one
 * loading the blob, and the next handshake to that host:port resumed. The TLS server
 * (tests/support/tlspeer) lives in a context of its own that outlasts both clients,
 * as a real server would, so its session cache and ticket key survive the "reboot".
 *
 * Also: a blob from another policy resumes nothing; every truncation and every
 * single-bit flip is refused cleanly; flips behind a recomputed (valid) hash never
 * crash the parser; a short buffer gets WISP_ETOOBIG with the size needed; loaded
 * sessions wait on the heap for their vhost and leave none behind.
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

typedef struct server {
    testalloc_t ta;
    wisp_context_t *cx;
    wisp__tls_conf_t *conf;
    tlslistener_t l;
    tlspeer_t peers[32];
    char port[8];
} server_t;

static server_t srv;

static char *policy_for(const char *ca_file)
{
    char *ca = test_cert_json(ca_file), *p = malloc(8192);

    assert_non_null(ca);
    assert_non_null(p);
    snprintf(p, 8192,
             "{\"schema\":1,\"certs\":{\"ca\":\"%s\"},\"trust_stores\":{\"ts\":{\"certs\":"
             "[\"ca\"]}},\"streams\":{\"s\":{\"endpoint\":\"localhost\",\"trust_store\":"
             "\"ts\",\"url\":\"/\"}}}",
             ca);
    free(ca);
    return p;
}

static int server_up(void **state)
{
    wisp__tls_conf_info_t in;
    wisp__tls_blob_t c = tlspeer_cert_blob(WISP_TEST_CERTS, "server.pem");
    wisp__tls_blob_t k = tlspeer_cert_blob(WISP_TEST_CERTS, "server.key");

    (void)state;
    memset(&srv, 0, sizeof(srv));
    testalloc_init(&srv.ta, 0);
    assert_int_equal(testalloc_context(&srv.ta, "{\"schema\":1}", &srv.cx), 0);
    memset(&in, 0, sizeof(in));
    in.server = 1;
    in.cert = c;
    in.key = k;
    assert_int_equal(wisp__tls_conf_create(srv.cx, &in, &srv.conf), 0);
    tlspeer_blob_free(&c);
    tlspeer_blob_free(&k);
    assert_int_equal(tlslistener_open(&srv.l, srv.cx, srv.conf, "127.0.0.1", srv.peers, 32), 0);
    srv.l.tx_total = 10;
    srv.l.rx_total = 10;
    return 0;
}

static int server_down(void **state)
{
    (void)state;
    tlslistener_close(&srv.l);
    wisp__tls_conf_destroy(&srv.conf);
    wisp_context_destroy(srv.cx);
    assert_int_equal(srv.ta.live_blocks, 0);
    return 0;
}

/* One connection from cx's vhost v to the server, offering v's session for
 * localhost:port and storing what TLS gives back there. Returns "resumed". */
static int connect_once(wisp_context_t *cx, wisp__vhost_t *v)
{
    size_t n = srv.l.accepted;
    tlspeer_t cli, *sp = &srv.peers[n];
    uint64_t end = wisp_now_ms(cx) + 10000;
    uint16_t port = srv.l.bound.port;
    int resumed;

    assert_true(n < 32);
    memset(&cli, 0, sizeof(cli));
    cli.save_session = 1;
    cli.tx_total = 10;
    cli.rx_total = 10; /* TLS 1.3: the ticket follows the handshake; read on to see it */
    assert_int_equal(tlspeer_connect(&cli, cx, wisp__vhost_tls(v), "localhost", &srv.l.bound,
                                     wisp__vhost_session(v, "localhost", port)),
                     0);
    /* Two contexts, two loops: turn both until client and server are done. */
    while (!(cli.closed && srv.l.accepted > n && sp->closed)) {
        assert_true(wisp_now_ms(cx) < end);
        assert_int_equal(wisp_service(cx, 5), 0);
        assert_int_equal(wisp_service(srv.cx, 5), 0);
    }
    assert_int_equal(cli.err, 0);
    assert_int_equal(sp->err, 0);
    resumed = cli.resumed;
    assert_int_equal(resumed, sp->resumed);
    assert_non_null(cli.session);
    wisp__vhost_session_put(v, "localhost", port, cli.session);
    cli.session = NULL;
    tlspeer_close(&cli);
    tlspeer_close(sp);
    return resumed;
}

static wisp__vhost_t *acquire(wisp_context_t *cx)
{
    wisp__vhost_t *v = NULL;

    assert_int_equal(
        wisp__vhost_acquire(cx, wisp_policy_stream_find(wisp_context_policy(cx), "s"), &v), 0);
    return v;
}

/* A context with one full handshake behind it: its saved blob (malloc'd). */
static uint8_t *saved_blob(size_t *len)
{
    char *policy = policy_for("ca.pem");
    testalloc_t ta;
    wisp_context_t *cx;
    wisp__vhost_t *v;
    uint8_t *blob, small[16];
    size_t need = 0, got = 0;

    testalloc_init(&ta, 0);
    assert_int_equal(testalloc_context(&ta, policy, &cx), 0);
    free(policy);
    /* No vhost, no sessions: a blob with no entries. */
    assert_int_equal(wisp_context_sessions_save(cx, NULL, 0, &need), 0);
    assert_int_equal(need, 20 + 32);
    v = acquire(cx);
    assert_false(connect_once(cx, v));
    /* The size question, a short buffer, then the real thing. */
    assert_int_equal(wisp_context_sessions_save(cx, NULL, 0, &need), 0);
    assert_true(need > 20 + 32 + 60);
    assert_int_equal(wisp_context_sessions_save(cx, small, sizeof(small), &got), WISP_ETOOBIG);
    assert_int_equal(got, need);
    blob = malloc(need);
    assert_non_null(blob);
    assert_int_equal(wisp_context_sessions_save(cx, blob, need - 1, &got), WISP_ETOOBIG);
    assert_int_equal(got, need);
    assert_int_equal(wisp_context_sessions_save(cx, blob, need, &got), 0);
    assert_int_equal(got, need);
    assert_int_equal(wisp_context_sessions_save(NULL, blob, need, &got), WISP_EINVAL);
    assert_int_equal(wisp_context_sessions_save(cx, NULL, 4, &got), WISP_EINVAL);
    print_message("blob: %zu bytes for one session (mbedTLS %s)\n", need, wisp_tls_version());
    wisp__vhost_unref(&v);
    wisp_context_destroy(cx);
    assert_int_equal(ta.live_blocks, 0);
    *len = got;
    return blob;
}

static void test_resumed_after_reboot(void **state)
{
    char *policy = policy_for("ca.pem");
    testalloc_t ta;
    wisp_context_t *cx;
    wisp__vhost_t *v;
    wisp_stats_t st;
    size_t len, heap_before, heap_waiting;
    uint8_t *blob = saved_blob(&len);

    (void)state;
    testalloc_init(&ta, 0);
    assert_int_equal(testalloc_context(&ta, policy, &cx), 0);
    free(policy);
    wisp_get_stats(cx, &st);
    heap_before = st.heap_in_use;
    /* No vhost yet: the session waits, serialised, on the context heap. */
    assert_int_equal(wisp_context_sessions_load(cx, blob, len), 0);
    wisp_get_stats(cx, &st);
    heap_waiting = st.heap_in_use;
    assert_int_equal(st.vhosts_live, 0);
    assert_true(heap_waiting > heap_before);
    assert_true(heap_waiting - heap_before < len + 256);
    print_message("waiting for its vhost: %zu bytes of heap\n", heap_waiting - heap_before);
    /* The vhost takes it when it is created, and the next handshake resumes. */
    v = acquire(cx);
    assert_non_null(wisp__vhost_session(v, "localhost", srv.l.bound.port));
    assert_true(connect_once(cx, v));
    wisp__vhost_unref(&v);
    wisp_get_stats(cx, &st);
    assert_int_equal(st.heap_in_use, heap_before); /* nothing left behind */
    wisp_context_destroy(cx);
    assert_int_equal(ta.live_blocks, 0);
    free(blob);
}

/* A live vhost takes a loaded session directly. */
static void test_load_into_live_vhost(void **state)
{
    char *policy = policy_for("ca.pem");
    testalloc_t ta;
    wisp_context_t *cx;
    wisp__vhost_t *v;
    size_t len;
    uint8_t *blob = saved_blob(&len);

    (void)state;
    testalloc_init(&ta, 0);
    assert_int_equal(testalloc_context(&ta, policy, &cx), 0);
    free(policy);
    v = acquire(cx);
    assert_null(wisp__vhost_session(v, "localhost", srv.l.bound.port));
    assert_int_equal(wisp_context_sessions_load(cx, blob, len), 0);
    assert_non_null(wisp__vhost_session(v, "localhost", srv.l.bound.port));
    assert_true(connect_once(cx, v));
    wisp__vhost_unref(&v);
    wisp_context_destroy(cx);
    assert_int_equal(ta.live_blocks, 0);
    free(blob);
}

/* Same store name, other CA: the fingerprint differs, nothing resumes. */
static void test_other_policy_resumes_nothing(void **state)
{
    char *policy = policy_for("other-ca.pem");
    testalloc_t ta;
    wisp_context_t *cx;
    wisp__vhost_t *v;
    wisp_stats_t st;
    size_t len, heap_before;
    uint8_t *blob = saved_blob(&len);

    (void)state;
    testalloc_init(&ta, 0);
    assert_int_equal(testalloc_context(&ta, policy, &cx), 0);
    free(policy);
    wisp_get_stats(cx, &st);
    heap_before = st.heap_in_use;
    assert_int_equal(wisp_context_sessions_load(cx, blob, len), WISP_ENOTFOUND);
    wisp_get_stats(cx, &st);
    assert_int_equal(st.heap_in_use, heap_before);
    v = acquire(cx);
    assert_null(wisp__vhost_session(v, "localhost", srv.l.bound.port));
    wisp__vhost_unref(&v);
    wisp_context_destroy(cx);
    assert_int_equal(ta.live_blocks, 0);
    free(blob);
}

/* Refused, no heap kept, no session anywhere. */
static void expect_refused(wisp_context_t *cx, const uint8_t *b, size_t len, size_t heap)
{
    wisp_stats_t st;
    int ret = wisp_context_sessions_load(cx, b, len);

    if (ret != WISP_ECORRUPT && ret != WISP_EMISMATCH)
        fail_msg("load of a damaged blob (%zu bytes) returned %d", len, ret);
    wisp_get_stats(cx, &st);
    assert_int_equal(st.heap_in_use, heap);
}

static void test_every_truncation_and_bit_flip(void **state)
{
    char *policy = policy_for("ca.pem");
    testalloc_t ta;
    wisp_context_t *cx;
    wisp_stats_t st;
    size_t len, i, heap;
    unsigned bit;
    uint8_t *blob = saved_blob(&len), *copy = malloc(len);

    (void)state;
    assert_non_null(copy);
    testalloc_init(&ta, 0);
    assert_int_equal(testalloc_context(&ta, policy, &cx), 0);
    free(policy);
    wisp_get_stats(cx, &st);
    heap = st.heap_in_use;
    /* One of each, with its log line; then thousands, quietly. */
    expect_refused(cx, blob, len - 1, heap);
    memcpy(copy, blob, len);
    copy[len / 2] ^= 1;
    expect_refused(cx, copy, len, heap);
    wisp_set_log_level(cx, -1);
    for (i = 0; i < len; i++) {
        memcpy(copy, blob, i); /* a fresh buffer of exactly i bytes' worth */
        expect_refused(cx, copy, i, heap);
    }
    for (i = 0; i < len; i++) {
        for (bit = 0; bit < 8; bit++) {
            memcpy(copy, blob, len);
            copy[i] ^= (uint8_t)(1u << bit);
            expect_refused(cx, copy, len, heap);
        }
    }
    /* The untouched blob still loads (the loop above was not refusing everything). */
    assert_int_equal(wisp_context_sessions_load(cx, blob, len), 0);
    wisp_context_destroy(cx);
    assert_int_equal(ta.live_blocks, 0);
    free(copy);
    free(blob);
}

/* SHA-256 is unkeyed: anyone can write a blob whose hash is right. Flip every bit
 * past the header, fix the hash, and the parser must still refuse or load cleanly. */
static void test_flips_behind_a_valid_hash(void **state)
{
    char *policy = policy_for("ca.pem");
    testalloc_t ta;
    wisp_context_t *cx;
    wisp__vhost_t *v;
    size_t len, i;
    unsigned bit, loaded = 0;
    uint8_t *blob = saved_blob(&len), *copy = malloc(len);
    wisp__tls_blob_t all;

    (void)state;
    assert_non_null(copy);
    testalloc_init(&ta, 0);
    assert_int_equal(testalloc_context(&ta, policy, &cx), 0);
    free(policy);
    wisp_set_log_level(cx, -1);
    for (i = 20; i < len - 32; i++) {
        for (bit = 0; bit < 8; bit++) {
            int ret;

            memcpy(copy, blob, len);
            copy[i] ^= (uint8_t)(1u << bit);
            all.data = copy;
            all.len = len - 32;
            assert_int_equal(wisp__tls_sha256(cx, &all, 1, copy + len - 32), 0);
            ret = wisp_context_sessions_load(cx, copy, len);
            assert_true(ret == 0 || ret == WISP_ECORRUPT || ret == WISP_ENOTFOUND ||
                        ret == WISP_EMISMATCH);
            loaded += ret == 0;
            /* Whatever loaded goes to the vhost and away with it. */
            v = acquire(cx);
            wisp__vhost_unref(&v);
        }
    }
    print_message("%u of %zu altered blobs loaded something\n", loaded, (len - 52) * 8);
    wisp_context_destroy(cx);
    assert_int_equal(ta.live_blocks, 0);
    free(copy);
    free(blob);
}

/* The one entry's "received" field (format 1: header, entry length, fingerprint,
 * "ts", mfl, port, "localhost"), rewritten with the hash made valid again. */
#define RECEIVED_AT (20 + 4 + 32 + 1 + 2 + 2 + 2 + 1 + 9)

static int64_t get_s64(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    unsigned i;

    for (i = 0; i < n; i++)
        v = v << 8 | p[i];
    return (int64_t)v;
}

static void set_received(wisp_context_t *cx, uint8_t *b, size_t len, int64_t when)
{
    wisp__tls_blob_t all = {b, len - 32};
    unsigned i;

    assert_memory_equal(b + RECEIVED_AT - 9, "localhost", 9);
    for (i = 0; i < 8; i++)
        b[RECEIVED_AT + i] = (uint8_t)((uint64_t)when >> (56 - 8 * i));
    assert_int_equal(wisp__tls_sha256(cx, &all, 1, b + len - 32), 0);
}

/* Lifetimes are honoured at load: an entry older than its lifetime, or dated in the
 * future (the wall clock went back), is skipped; one just inside it loads. */
static void test_lifetime_honoured(void **state)
{
    char *policy = policy_for("ca.pem");
    testalloc_t ta;
    wisp_context_t *cx;
    wisp_stats_t st;
    size_t len, heap;
    uint8_t *blob = saved_blob(&len);
    int64_t received, lifetime;

    (void)state;
    testalloc_init(&ta, 0);
    assert_int_equal(testalloc_context(&ta, policy, &cx), 0);
    free(policy);
    wisp_get_stats(cx, &st);
    heap = st.heap_in_use;
    received = get_s64(blob + RECEIVED_AT, 8);
    lifetime = get_s64(blob + RECEIVED_AT + 8, 4);
    print_message("session lifetime: %lld s\n", (long long)lifetime);
    assert_true(lifetime > 60);
    set_received(cx, blob, len, received - lifetime - 5);
    assert_int_equal(wisp_context_sessions_load(cx, blob, len), WISP_ENOTFOUND);
    set_received(cx, blob, len, received + 3600);
    assert_int_equal(wisp_context_sessions_load(cx, blob, len), WISP_ENOTFOUND);
    wisp_get_stats(cx, &st);
    assert_int_equal(st.heap_in_use, heap);
    set_received(cx, blob, len, received - lifetime + 30);
    assert_int_equal(wisp_context_sessions_load(cx, blob, len), 0);
    wisp_context_destroy(cx);
    assert_int_equal(ta.live_blocks, 0);
    free(blob);
}

/* Every allocation of load, the vhost's adoption and save, failed in turn: a clean
 * error or a smaller result each time, never a leak (SPEC section 10). */
static void test_allocation_failures(void **state)
{
    char *policy = policy_for("ca.pem");
    size_t len, n, out_len;
    uint8_t *blob = saved_blob(&len), *out = malloc(len + 64);
    unsigned done = 0;

    (void)state;
    assert_non_null(out);
    for (n = 1; !done && n < 2000; n++) {
        testalloc_t ta;
        wisp_context_t *cx;
        wisp__vhost_t *v = NULL;
        int ret;

        testalloc_init(&ta, n);
        if (testalloc_context(&ta, policy, &cx)) {
            assert_int_equal(ta.live_blocks, 0);
            continue;
        }
        ret = wisp_context_sessions_load(cx, blob, len);
        assert_true(ret == 0 || ret == WISP_ENOMEM);
        ret = wisp__vhost_acquire(cx, wisp_policy_stream_find(wisp_context_policy(cx), "s"), &v);
        assert_true(ret == 0 || ret == WISP_ENOMEM);
        ret = wisp_context_sessions_save(cx, out, len + 64, &out_len);
        assert_true(ret == 0 || ret == WISP_ENOMEM);
        wisp__vhost_unref(&v);
        wisp_context_destroy(cx);
        assert_int_equal(ta.live_blocks, 0);
        done = ta.failed == 0;
        if (done) /* the first run that nothing failed: the whole blob came back */
            assert_int_equal(out_len, len);
    }
    assert_true(done);
    print_message("allocation failures: %zu sites swept\n", n - 2);
    free(policy);
    free(out);
    free(blob);
}

static void test_bad_arguments(void **state)
{
    char *policy = policy_for("ca.pem");
    testalloc_t ta;
    wisp_context_t *cx;
    uint8_t junk[64];

    (void)state;
    testalloc_init(&ta, 0);
    assert_int_equal(testalloc_context(&ta, policy, &cx), 0);
    free(policy);
    memset(junk, 0, sizeof(junk));
    assert_int_equal(wisp_context_sessions_load(NULL, junk, sizeof(junk)), WISP_EINVAL);
    assert_int_equal(wisp_context_sessions_load(cx, NULL, 0), WISP_EINVAL);
    assert_int_equal(wisp_context_sessions_load(cx, junk, 0), WISP_ECORRUPT);
    assert_int_equal(wisp_context_sessions_load(cx, junk, sizeof(junk)), WISP_ECORRUPT);
    wisp_context_destroy(cx);
    assert_int_equal(ta.live_blocks, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_resumed_after_reboot),
        cmocka_unit_test(test_load_into_live_vhost),
        cmocka_unit_test(test_other_policy_resumes_nothing),
        cmocka_unit_test(test_every_truncation_and_bit_flip),
        cmocka_unit_test(test_flips_behind_a_valid_hash),
        cmocka_unit_test(test_lifetime_honoured),
        cmocka_unit_test(test_allocation_failures),
        cmocka_unit_test(test_bad_arguments),
    };

    return cmocka_run_group_tests(tests, server_up, server_down);
}
