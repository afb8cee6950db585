/*
 * The loop's poll tables give their bytes back while a listener stays open (found by
 * the soak run, tests/soak/). A wisp server context with one plain listener accepts
 * 40 raw loopback connections at once, which grows the tables past their first size;
 * once the clients close and the server has closed its ends, the context's heap must
 * be its figure from before the burst, to the byte, with the listener still
 * listening. Before the tables could shrink they kept their high-water size for as
 * long as any socket was registered, and the heap stayed about 2 KiB higher.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "rawsock.h"
#include "testalloc.h"
#include "wisp.h"

#define BURST 40

static int srv_state(void *user, wisp_state_t st, int arg)
{
    (void)user;
    (void)st;
    (void)arg;
    return WISP_CB_OK;
}

static const wisp_stream_ops_t srv_ops = {"plain", NULL, NULL, srv_state};

static wisp_stats_t stats(wisp_context_t *cx)
{
    wisp_stats_t st;

    wisp_get_stats(cx, &st);
    return st;
}

/* Service until conns_live is want; at most about 5 s (a loaded machine). */
static void service_until_conns(wisp_context_t *cx, uint32_t want)
{
    int i;

    for (i = 0; i < 1000 && stats(cx).conns_live != want; i++)
        assert_int_equal(wisp_service(cx, 5), 0);
    assert_int_equal(stats(cx).conns_live, want);
}

static void test_heap_back_after_burst(void **state)
{
    static const char policy[] =
        "{\"schema\": 1, \"streams\": {\"plain\": {\"server\": true, \"bind\": \"127.0.0.1\","
        " \"port\": 0, \"tls\": false, \"max_connections\": 64, \"idle_timeout_ms\": 5000}}}";
    testalloc_t ta;
    wisp_context_t *cx;
    wisp_stream_t *listener;
    int fds[BURST], port, round, i;
    size_t heap0, peak;

    (void)state;
    testalloc_init(&ta, 0);
    assert_int_equal(testalloc_context(&ta, policy, &cx), 0);
    assert_int_equal(wisp_stream_create(cx, &srv_ops, NULL, &listener), 0);
    port = wisp_stream_local_port(listener);
    assert_true(port > 0);
    assert_int_equal(wisp_service(cx, 0), 0);
    heap0 = stats(cx).heap_in_use;
    /* Twice: the second burst grows the tables again from their shrunk size. */
    for (round = 0; round < 2; round++) {
        for (i = 0; i < BURST; i++)
            fds[i] = rawsock_connect(port, 0);
        service_until_conns(cx, BURST);
        peak = stats(cx).heap_in_use;
        assert_true(peak > heap0);
        for (i = 0; i < BURST; i++)
            close(fds[i]);
        service_until_conns(cx, 0);
        printf("round %d: heap %zu before, %zu with %d connections, %zu after\n", round, heap0,
               peak, BURST, stats(cx).heap_in_use);
        assert_int_equal(stats(cx).heap_in_use, heap0);
    }
    wisp_stream_destroy(listener);
    assert_int_equal(wisp_service(cx, 0), 0);
    assert_int_equal(stats(cx).streams_live, 0);
    wisp_context_destroy(cx);
    assert_int_equal(ta.live_blocks, 0);
    testalloc_done(&ta);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heap_back_after_burst),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
