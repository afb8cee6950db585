/*
 * Streams and vhosts without a network: lazy vhost creation and sharing, linger and
 * revival, heap back to its starting figure, metadata rules, bad arguments, and
 * destruction from inside a callback. Transactions against real servers are in
 * tests/interop and tests/faults.
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
#include "wisp/stream.h"

/* Three trust stores (one lingers 50 ms), a plaintext type and a server type. */
static char *policy(void)
{
    char *ca = test_cert_json("ca.pem"), *json;

    assert_non_null(ca);
    json = malloc(strlen(ca) + 2048);

    sprintf(json,
            "{\"schema\": 1, \"certs\": {\"ca\": \"%s\"},"
            " \"trust_stores\": {\"a\": {\"certs\": [\"ca\"]}, \"b\": {\"certs\": [\"ca\"]},"
            "   \"slow\": {\"certs\": [\"ca\"], \"linger_ms\": 50}},"
            " \"streams\": {"
            "  \"a1\": {\"endpoint\": \"localhost\", \"trust_store\": \"a\","
            "          \"url\": \"/x?q=${q}\", \"metadata\": {\"q\": null, \"tok\": \"x-token\"}},"
            "  \"a2\": {\"endpoint\": \"localhost\", \"trust_store\": \"a\"},"
            "  \"b1\": {\"endpoint\": \"localhost\", \"trust_store\": \"b\"},"
            "  \"s1\": {\"endpoint\": \"localhost\", \"trust_store\": \"slow\"},"
            "  \"plain\": {\"endpoint\": \"127.0.0.1\", \"port\": 9, \"tls\": false},"
            "  \"srv\": {\"server\": true, \"bind\": \"127.0.0.1\", \"port\": 0, \"tls\": false}"
            " }}",
            ca);
    free(ca);
    return json;
}

typedef struct fx {
    testalloc_t ta;
    wisp_context_t *cx;
    char *json;
} fx_t;

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));

    f->json = policy();
    testalloc_init(&f->ta, 0);
    assert_int_equal(testalloc_context(&f->ta, f->json, &f->cx), 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;

    wisp_context_destroy(f->cx);
    assert_int_equal(f->ta.live_blocks, 0);
    free(f->json);
    free(f);
    return 0;
}

static wisp_stats_t stats(wisp_context_t *cx)
{
    wisp_stats_t st;

    wisp_get_stats(cx, &st);
    return st;
}

static const wisp_stream_ops_t ops_a1 = {"a1", NULL, NULL, NULL};
static const wisp_stream_ops_t ops_a2 = {"a2", NULL, NULL, NULL};
static const wisp_stream_ops_t ops_b1 = {"b1", NULL, NULL, NULL};
static const wisp_stream_ops_t ops_s1 = {"s1", NULL, NULL, NULL};

static void test_vhosts_are_lazy_shared_and_freed(void **state)
{
    fx_t *f = *state;
    size_t before = stats(f->cx).heap_in_use;
    wisp_stream_t *x, *y, *z;

    assert_int_equal(stats(f->cx).vhosts_live, 0);
    assert_int_equal(wisp_stream_create(f->cx, &ops_a1, NULL, &x), 0);
    assert_int_equal(stats(f->cx).vhosts_created, 1);
    /* Same trust store: the vhost is shared, not parsed again. */
    assert_int_equal(wisp_stream_create(f->cx, &ops_a2, NULL, &y), 0);
    assert_int_equal(stats(f->cx).vhosts_created, 1);
    assert_int_equal(wisp_stream_create(f->cx, &ops_b1, NULL, &z), 0);
    assert_int_equal(stats(f->cx).vhosts_live, 2);
    assert_int_equal(stats(f->cx).streams_live, 3);
    wisp_stream_destroy(x);
    assert_int_equal(wisp_service(f->cx, 0), 0);
    assert_int_equal(stats(f->cx).vhosts_live, 2); /* y still holds "a" */
    wisp_stream_destroy(y);
    wisp_stream_destroy(z);
    wisp_stream_destroy(z); /* twice is harmless */
    assert_int_equal(wisp_service(f->cx, 0), 0);
    assert_int_equal(stats(f->cx).vhosts_live, 0);
    assert_int_equal(stats(f->cx).vhosts_destroyed, 2);
    assert_int_equal(stats(f->cx).streams_live, 0);
    /* Idle heap is exactly what it was before the first stream. */
    assert_int_equal(stats(f->cx).heap_in_use, before);
}

static void test_linger_and_revival(void **state)
{
    fx_t *f = *state;
    size_t before = stats(f->cx).heap_in_use;
    wisp_stream_t *s;
    int spins = 0;

    assert_int_equal(wisp_stream_create(f->cx, &ops_s1, NULL, &s), 0);
    wisp_stream_destroy(s);
    assert_int_equal(wisp_service(f->cx, 0), 0);
    assert_int_equal(stats(f->cx).vhosts_live, 1); /* lingering */
    /* A stream created during the linger revives it without re-creating it. */
    assert_int_equal(wisp_stream_create(f->cx, &ops_s1, NULL, &s), 0);
    assert_int_equal(stats(f->cx).vhosts_created, 1);
    wisp_stream_destroy(s);
    while (stats(f->cx).vhosts_live && spins++ < 100)
        assert_int_equal(wisp_service(f->cx, 20), 0);
    assert_int_equal(stats(f->cx).vhosts_live, 0);
    assert_int_equal(stats(f->cx).vhosts_destroyed, 1);
    assert_int_equal(stats(f->cx).heap_in_use, before);
}

static void test_bad_arguments(void **state)
{
    fx_t *f = *state;
    static const wisp_stream_ops_t nope = {"nope", NULL, NULL, NULL};
    static const wisp_stream_ops_t srv = {"srv", NULL, NULL, NULL};
    static const wisp_stream_ops_t notype = {NULL, NULL, NULL, NULL};
    wisp_stream_t *s = (wisp_stream_t *)1;
    const void *v;
    size_t len;

    assert_int_equal(wisp_stream_create(f->cx, &nope, NULL, &s), WISP_ENOTFOUND);
    assert_null(s);
    /* A server type listens (port 0: the system picks one); a listener has no
     * transaction of its own. */
    assert_int_equal(wisp_stream_create(f->cx, &srv, NULL, &s), 0);
    assert_true(wisp_stream_local_port(s) > 0);
    assert_int_equal(wisp_stream_request_tx(s), WISP_ESTATE);
    assert_int_equal(wisp_stream_set_user_size(s, 65537), WISP_ETOOBIG);
    wisp_stream_destroy(s);
    assert_int_equal(wisp_stream_local_port(NULL), WISP_EINVAL);
    assert_int_equal(wisp_stream_create(f->cx, &notype, NULL, &s), WISP_EINVAL);
    assert_int_equal(wisp_stream_create(NULL, &ops_a1, NULL, &s), WISP_EINVAL);
    assert_int_equal(wisp_stream_create(f->cx, NULL, NULL, &s), WISP_EINVAL);
    assert_int_equal(wisp_stream_create(f->cx, &ops_a1, NULL, NULL), WISP_EINVAL);
    assert_int_equal(wisp_stream_request_tx(NULL), WISP_EINVAL);
    assert_int_equal(wisp_stream_set_metadata(NULL, "q", "1", 1), WISP_EINVAL);
    assert_int_equal(wisp_stream_get_metadata(NULL, "q", &v, &len), WISP_EINVAL);
    assert_int_equal(wisp_stream_start_timeout(NULL, 5), WISP_EINVAL);
    wisp_stream_destroy(NULL);
    wisp_stream_cancel_timeout(NULL);
    assert_string_equal(wisp_state_name(WISP_STATE_ALL_RETRIES_FAILED), "ALL_RETRIES_FAILED");
    assert_string_equal(wisp_state_name((wisp_state_t)99), "?");
    assert_int_equal(wisp_service(f->cx, 0), 0); /* the listener is reaped */
    assert_int_equal(stats(f->cx).streams_live, 0);
}

static void test_metadata_rules(void **state)
{
    fx_t *f = *state;
    wisp_stream_t *s;
    const void *v;
    size_t len;
    char big[WISP_STREAM_META_MAX + 1];

    assert_int_equal(wisp_stream_create(f->cx, &ops_a1, NULL, &s), 0);
    assert_int_equal(wisp_stream_get_metadata(s, "q", &v, &len), 0);
    assert_null(v);
    assert_int_equal(len, 0);
    assert_int_equal(wisp_stream_set_metadata(s, "q", "a b/c", 5), 0);
    assert_int_equal(wisp_stream_get_metadata(s, "q", &v, &len), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(v, "a b/c", 5);
    /* A url-only slot may hold anything (it is percent-encoded); a header-bound slot
     * refuses CR, LF and NUL: no header injection. */
    assert_int_equal(wisp_stream_set_metadata(s, "q", "a\r\nb", 4), 0);
    assert_int_equal(wisp_stream_set_metadata(s, "tok", "a\r\nX-Evil: 1", 12), WISP_EHEADER);
    assert_int_equal(wisp_stream_set_metadata(s, "tok", "a\0b", 3), WISP_EHEADER);
    assert_int_equal(wisp_stream_set_metadata(s, "tok", "secret", 6), 0);
    assert_int_equal(wisp_stream_set_metadata(s, "nope", "1", 1), WISP_ENOTFOUND);
    memset(big, 'x', sizeof(big));
    assert_int_equal(wisp_stream_set_metadata(s, "q", big, sizeof(big)), WISP_ETOOBIG);
    assert_int_equal(wisp_stream_set_metadata(s, "q", NULL, 0), 0);
    assert_int_equal(wisp_stream_get_metadata(s, "q", &v, &len), 0);
    assert_null(v);
    wisp_stream_destroy(s);
    assert_int_equal(wisp_stream_request_tx(s), WISP_ESTATE);
    assert_int_equal(wisp_service(f->cx, 0), 0);
}

typedef struct seen {
    wisp_stream_t *self;
    int states[16];
    int n;
} seen_t;

static int destroy_self(void *user, wisp_state_t st, int arg)
{
    seen_t *s = user;

    (void)arg;
    if (s->n < 16)
        s->states[s->n++] = st;
    if (st == WISP_STATE_CONNECTION_FAILED)
        wisp_stream_destroy(s->self); /* from inside its own callback */
    return 0;
}

static void test_destroy_from_own_callback(void **state)
{
    fx_t *f = *state;
    static const wisp_stream_ops_t ops = {"plain", NULL, NULL, destroy_self};
    seen_t seen;
    int spins = 0;

    memset(&seen, 0, sizeof(seen));
    /* Port 9 (discard) on 127.0.0.1 with nothing listening: refused at once. */
    assert_int_equal(wisp_stream_create(f->cx, &ops, &seen, &seen.self), 0);
    assert_int_equal(wisp_stream_request_tx(seen.self), 0);
    while (stats(f->cx).streams_live && spins++ < 100)
        assert_int_equal(wisp_service(f->cx, 20), 0);
    assert_int_equal(stats(f->cx).streams_live, 0);
    assert_true(seen.n >= 4);
    assert_int_equal(seen.states[0], WISP_STATE_CREATED);
    assert_int_equal(seen.states[1], WISP_STATE_CONNECTING);
    assert_int_equal(seen.states[2], WISP_STATE_CONNECTION_FAILED);
    assert_int_equal(seen.states[3], WISP_STATE_DESTROYING);
    assert_int_equal(seen.n, 4); /* nothing after DESTROYING, no ALL_RETRIES_FAILED */
    assert_int_equal(stats(f->cx).conns_live, 0);
}

static void test_allocation_failure_sweep_create(void **state)
{
    char *json = ((fx_t *)*state)->json;
    size_t n;

    /* Fail each allocation of context + policy + stream + vhost creation in turn. */
    for (n = 1; n < 2000; n++) {
        testalloc_t ta;
        wisp_context_t *cx = NULL;
        wisp_stream_t *s = NULL;
        int ret;

        testalloc_init(&ta, n);
        ret = testalloc_context(&ta, json, &cx);
        if (!ret) {
            ret = wisp_stream_create(cx, &ops_a1, NULL, &s);
            if (!ret)
                wisp_stream_destroy(s);
            (void)wisp_service(cx, 0);
            wisp_context_destroy(cx);
        }
        assert_int_equal(ta.live_blocks, 0);
        if (!ta.failed)
            break; /* the whole scenario ran without reaching allocation n */
        assert_true(ret == 0 || ret == WISP_ENOMEM || ret == WISP_EPOLICY);
    }
    assert_true(n > 10 && n < 2000);
}

/* nailed_up: connected at create without a request, reconnected when the server
 * drops it, retried at the policy's pace (not in a tight loop) while the server is
 * gone, and let go when the stream is destroyed. */
static int accept_one(int lfd)
{
    int fd = -1;

    return wisp_plat_posix()->tcp_accept(NULL, lfd, &fd, NULL) == 0 ? fd : -1;
}

static int serve_until_accept(wisp_context_t *cx, int lfd)
{
    int fd = -1, spins = 0;

    while ((fd = accept_one(lfd)) < 0 && spins++ < 200)
        assert_int_equal(wisp_service(cx, 10), 0);
    return fd;
}

static void test_nailed_up(void **state)
{
    static const wisp_stream_ops_t ops = {"nail", NULL, NULL, NULL};
    const wisp_plat_ops_t *px = wisp_plat_posix();
    wisp_addr_t at, bound;
    testalloc_t ta;
    wisp_context_t *cx;
    wisp_stream_t *s;
    char json[512];
    int lfd = -1, fd, spins = 0;
    size_t before;

    (void)state;
    assert_int_equal(wisp_addr_parse("127.0.0.1", 0, &at), 0);
    assert_int_equal(px->tcp_listen(NULL, &at, 4, &lfd, &bound), 0);
    snprintf(json, sizeof(json),
             "{\"schema\": 1, \"retry\": {\"r\": {\"backoff_ms\": [50]}},"
             " \"streams\": {\"nail\": {\"endpoint\": \"127.0.0.1\", \"port\": %u,"
             " \"tls\": false, \"nailed_up\": true, \"retry\": \"r\","
             " \"keepalive_ms\": 0}}}",
             bound.port);
    testalloc_init(&ta, 0);
    assert_int_equal(testalloc_context(&ta, json, &cx), 0);
    before = stats(cx).heap_in_use;
    assert_int_equal(wisp_stream_create(cx, &ops, NULL, &s), 0);
    fd = serve_until_accept(cx, lfd);
    assert_true(fd >= 0);
    while (stats(cx).conns_live != 1 && spins++ < 100)
        assert_int_equal(wisp_service(cx, 10), 0);
    assert_int_equal(stats(cx).conns_opened, 1);
    assert_int_equal(stats(cx).transactions, 0);
    /* The server drops it: wisp connects again by itself. */
    px->sock_close(NULL, fd);
    fd = serve_until_accept(cx, lfd);
    assert_true(fd >= 0);
    assert_int_equal(stats(cx).conns_opened, 2);
    /* The server goes away: refused, retried every 50 ms, not in a tight loop. */
    px->sock_close(NULL, lfd);
    px->sock_close(NULL, fd);
    for (spins = 0; spins < 30; spins++)
        assert_int_equal(wisp_service(cx, 10), 0);
    assert_true(stats(cx).conns_opened >= 3);
    assert_true(stats(cx).conns_opened < 20);
    /* Destroyed: the connection is let go (keepalive_ms 0: freed at once). */
    wisp_stream_destroy(s);
    for (spins = 0; spins < 10; spins++)
        assert_int_equal(wisp_service(cx, 10), 0);
    assert_int_equal(stats(cx).conns_live, 0);
    assert_int_equal(stats(cx).heap_in_use, before);
    wisp_context_destroy(cx);
    assert_int_equal(ta.live_blocks, 0);
}

/* A kept-alive connection with bytes nobody asked for waiting on it must not carry
 * the next request: those bytes would be read as its response. The first response
 * is exactly 2048 bytes (the client's read size), so the unsolicited one stays in
 * the socket after it and is found by the check before reuse. */
typedef struct body {
    char text[64]; /* the first bytes */
    size_t len;    /* all bytes */
    int done;
} body_t;

static int body_rx(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    body_t *b = user;

    (void)flags;
    if (len && b->len + len < sizeof(b->text))
        memcpy(b->text + b->len, buf, len);
    b->len += len;
    return 0;
}

static int body_state(void *user, wisp_state_t st, int arg)
{
    (void)arg;
    if (st == WISP_STATE_DONE || st == WISP_STATE_ALL_RETRIES_FAILED ||
        st == WISP_STATE_DISCONNECTED || st == WISP_STATE_TIMEOUT)
        ((body_t *)user)->done = 1;
    return 0;
}

/* Read one request head from fd (blocking briefly via the loop), then answer. */
static void answer(wisp_context_t *cx, int fd, const char *resp, size_t len)
{
    char req[1024];
    size_t got = 0;
    int spins = 0, n;

    while (!strstr(req, "\r\n\r\n") && spins++ < 200) {
        n = wisp_plat_posix()->sock_recv(NULL, fd, req + got, sizeof(req) - 1 - got);
        if (n > 0)
            got += (size_t)n;
        req[got] = '\0';
        if (n <= 0)
            assert_int_equal(wisp_service(cx, 5), 0);
    }
    assert_non_null(strstr(req, "\r\n\r\n"));
    assert_int_equal(wisp_plat_posix()->sock_send(NULL, fd, resp, len), (int)len);
}

static void test_unsolicited_bytes_forbid_reuse(void **state)
{
    static const wisp_stream_ops_t ops = {"kq", body_rx, NULL, body_state};
    static const char extra[] = "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nunsolicited";
    static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    const wisp_plat_ops_t *px = wisp_plat_posix();
    char json[512], first[2048 + sizeof(extra)];
    wisp_addr_t at, bound;
    testalloc_t ta;
    wisp_context_t *cx;
    wisp_stream_t *a, *b;
    body_t ba, bb;
    int lfd = -1, fd1, fd2, head, spins = 0;

    (void)state;
    assert_int_equal(wisp_addr_parse("127.0.0.1", 0, &at), 0);
    assert_int_equal(px->tcp_listen(NULL, &at, 4, &lfd, &bound), 0);
    snprintf(json, sizeof(json),
             "{\"schema\": 1, \"streams\": {\"kq\": {\"endpoint\": \"127.0.0.1\","
             " \"port\": %u, \"tls\": false, \"keepalive_ms\": 0}}}",
             bound.port);
    testalloc_init(&ta, 0);
    assert_int_equal(testalloc_context(&ta, json, &cx), 0);
    memset(&ba, 0, sizeof(ba));
    memset(&bb, 0, sizeof(bb));
    assert_int_equal(wisp_stream_create(cx, &ops, &ba, &a), 0);
    assert_int_equal(wisp_stream_create(cx, &ops, &bb, &b), 0);
    assert_int_equal(wisp_stream_request_tx(a), 0);
    assert_int_equal(wisp_stream_request_tx(b), 0); /* queued behind a */
    fd1 = serve_until_accept(cx, lfd);
    assert_true(fd1 >= 0);
    /* A 2048-byte response ("x" padding in the body), then the unsolicited one. */
    head =
        snprintf(first, sizeof(first), "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", 2048 - 41);
    assert_int_equal(head, 41);
    memset(first + head, 'x', (size_t)(2048 - head));
    memcpy(first + 2048, extra, sizeof(extra) - 1);
    answer(cx, fd1, first, 2048 + sizeof(extra) - 1);
    /* b must come on a fresh connection and get its own answer. */
    fd2 = serve_until_accept(cx, lfd);
    assert_true(fd2 >= 0);
    answer(cx, fd2, ok, sizeof(ok) - 1);
    while ((!ba.done || !bb.done) && spins++ < 200)
        assert_int_equal(wisp_service(cx, 10), 0);
    assert_int_equal(ba.len, 2048 - 41);
    assert_int_equal(bb.len, 2);
    assert_memory_equal(bb.text, "ok", 2);
    assert_int_equal(stats(cx).conns_opened, 2);
    assert_int_equal(stats(cx).transactions, 2);
    assert_int_equal(stats(cx).reuses, 0);
    wisp_stream_destroy(a);
    wisp_stream_destroy(b);
    px->sock_close(NULL, fd1);
    px->sock_close(NULL, fd2);
    px->sock_close(NULL, lfd);
    wisp_context_destroy(cx);
    assert_int_equal(ta.live_blocks, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_vhosts_are_lazy_shared_and_freed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_linger_and_revival, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metadata_rules, setup, teardown),
        cmocka_unit_test_setup_teardown(test_destroy_from_own_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocation_failure_sweep_create, setup, teardown),
        cmocka_unit_test(test_nailed_up),
        cmocka_unit_test(test_unsolicited_bytes_forbid_reuse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
