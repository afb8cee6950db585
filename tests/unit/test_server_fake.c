/*
 * wisp's server streams on the fake network (tests/support/fakenet.h): a listener of
 * wisp's, a scripted client per connection (bytes in with splits and pauses on the
 * virtual clock, a half-close or a reset at a point), and what the server wrote
 * captured and parsed. No sockets, no wall time: an idle timeout of 3 s takes
 * microseconds, and every run takes the same path.
 *
 * The app is tests/support/srvapp.c (routes by path; it checks on every callback
 * that each request cycle has SERVER_REQUEST first, at most one DONE or
 * DISCONNECTED, DESTROYING once and last). Each test ends with the listener
 * destroyed, zero live connections and streams, the heap back where it was before
 * the listener, the context destroyed with zero blocks and zero fake sockets left.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fakenet.h"
#include "srvapp.h"
#include "testalloc.h"
#include "wisp.h"

#define IDLE_MS 3000
#define POLICY                                                                                     \
    "{\"schema\": 1, \"streams\": {\"srv\": {\"server\": true, \"bind\": \"127.0.0.1\","           \
    " \"port\": 0, \"tls\": false, \"max_connections\": 2, \"header_limit\": 512,"                 \
    " \"body_limit\": 5000, \"idle_timeout_ms\": 3000, \"metadata\": {\"ua\": \"user-agent\"}}}}"

typedef struct fx {
    testalloc_t ta;
    fakenet_t *fn;
    wisp_context_t *cx;
    srvapp_t app;
    wisp_stream_ops_t ops;
    wisp_stream_t *l;
    uint16_t port;
    size_t heap0;
} fx_t;

static wisp_stats_t stats(const fx_t *f)
{
    wisp_stats_t st;

    wisp_get_stats(f->cx, &st);
    return st;
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    int port;

    assert_non_null(f);
    f->fn = fakenet_new(NULL, 1);
    testalloc_init(&f->ta, 0);
    assert_int_equal(testalloc_context_plat(&f->ta, POLICY, fakenet_ops(f->fn), &f->cx), 0);
    f->heap0 = stats(f).heap_in_use;
    srvapp_init(&f->app, "srv", &f->ops);
    assert_int_equal(wisp_stream_create(f->cx, &f->ops, &f->app, &f->l), 0);
    assert_int_equal(wisp_stream_set_user_size(f->l, srvapp_user_size()), 0);
    port = wisp_stream_local_port(f->l);
    assert_true(port > 0);
    f->port = (uint16_t)port;
    assert_int_equal(fakenet_listening(f->fn), 1);
    *state = f;
    return 0;
}

/* Service for ms of virtual time (the fake poll jumps to the next event). */
static void settle(fx_t *f, uint32_t ms)
{
    uint64_t end = fakenet_now(f->fn) + ms;
    unsigned it = 0;

    while (fakenet_now(f->fn) < end) {
        assert_int_equal(wisp_service(f->cx, 50), 0);
        assert_true(++it < 100000);
    }
}

static void no_violations(fx_t *f)
{
    if (f->app.violations)
        fail_msg("%u violations, first: %s", f->app.violations, f->app.why);
}

static int teardown(void **state)
{
    fx_t *f = *state;
    wisp_stats_t st;

    if (f->cx) {
        wisp_stream_destroy(f->l);
        settle(f, 3000); /* CLOSE_LINGER_MS at most for a closing connection */
        st = stats(f);
        assert_int_equal(st.conns_live, 0);
        assert_int_equal(st.streams_live, 0);
        assert_int_equal(st.heap_in_use, f->heap0);
        assert_int_equal(fakenet_listening(f->fn), 0);
        wisp_context_destroy(f->cx);
    }
    srvapp_check_end(&f->app);
    no_violations(f);
    assert_int_equal(f->ta.live_blocks, 0);
    assert_int_equal(fakenet_open(f->fn), 0);
    testalloc_done(&f->ta);
    fakenet_free(f->fn);
    free(f);
    return 0;
}

/* ---- Helpers ---- */

static fake_conn_t *dial(fx_t *f)
{
    fake_conn_t *c = fakenet_dial(f->fn, f->port);

    assert_non_null(c);
    return c;
}

/* The responses c got so far (they must parse); the count. */
static size_t responses(const fake_conn_t *c, int *status, size_t max)
{
    size_t len, n;
    const uint8_t *p = fake_written(c, &len);
    char why[128];

    if (srvapp_check_http(p, len, status, max, &n, why, sizeof(why)))
        fail_msg("the server wrote no HTTP/1.1: %s: \"%.*s\"", why, (int)len, (const char *)p);
    return n;
}

/* What c got, as a NUL-terminated string (static). */
static const char *written(const fake_conn_t *c)
{
    static char buf[16384];
    size_t len;
    const uint8_t *p = fake_written(c, &len);

    if (len >= sizeof(buf))
        len = sizeof(buf) - 1;
    if (len)
        memcpy(buf, p, len); /* p may be NULL when nothing was written */
    buf[len] = '\0';
    return buf;
}

static void get(fake_conn_t *c, const char *path)
{
    char req[256];

    snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: a\r\n\r\n", path);
    fake_send_str(c, req);
}

/* ---- Tests ---- */

static void test_get(void **state)
{
    fx_t *f = *state;
    fake_conn_t *c = dial(f);
    int st[4];

    get(c, "/hello");
    settle(f, 100);
    assert_int_equal(responses(c, st, 4), 1);
    assert_int_equal(st[0], 200);
    assert_non_null(strstr(written(c), "Content-Length: 5\r\n"));
    assert_non_null(strstr(written(c), "\r\n\r\nhello"));
    assert_false(fake_wisp_closed(c)); /* kept alive */
    assert_int_equal(f->app.requests, 1);
    assert_int_equal(f->app.done, 1);
    assert_int_equal(f->app.destroyed, 1);
    fake_close(c);
    settle(f, 100);
    assert_true(fake_wisp_closed(c));
    assert_int_equal(stats(f).conns_live, 0);
    no_violations(f);
}

static void test_keepalive_three(void **state)
{
    fx_t *f = *state;
    fake_conn_t *c = dial(f);
    int st[4];
    unsigned i, eagain0 = 0;

    for (i = 0; i < 3; i++) {
        char path[16];

        snprintf(path, sizeof(path), "/k%u", i);
        get(c, path);
        settle(f, 50);
        assert_int_equal(responses(c, st, 4), i + 1);
        assert_non_null(strstr(written(c), path));
        assert_false(fake_wisp_closed(c));
        if (i == 0)
            eagain0 = fakenet_recv_eagain(f->fn);
    }
    /* A request read short drained the socket: after its answer the server waits for
     * poll instead of reading into EAGAIN (one syscall less per kept-alive request). */
    assert_int_equal(fakenet_recv_eagain(f->fn) - eagain0, 0);
    assert_int_equal(fakenet_server_accepted(f->fn), 1);
    assert_int_equal(stats(f).reuses, 2);
    assert_int_equal(f->app.done, 3);
    fake_close(c);
    settle(f, 50);
    assert_true(fake_wisp_closed(c));
    no_violations(f);
}

static void test_pipelined(void **state)
{
    fx_t *f = *state;
    fake_conn_t *c = dial(f);
    const char *w, *p1, *p2, *p3;
    int st[4];

    /* Three at once, the middle one with a chunked answer; answers in order. */
    fake_send_str(c, "GET /p1 HTTP/1.1\r\nHost: a\r\n\r\n"
                     "GET /chunked HTTP/1.1\r\nHost: a\r\n\r\n"
                     "GET /p3 HTTP/1.1\r\nHost: a\r\n\r\n");
    settle(f, 100);
    assert_int_equal(responses(c, st, 4), 3);
    w = written(c);
    p1 = strstr(w, "\r\n\r\n/p1");
    p2 = strstr(w, "Transfer-Encoding: chunked");
    p3 = strstr(w, "\r\n\r\n/p3");
    assert_true(p1 && p2 && p3 && p1 < p2 && p2 < p3);
    assert_int_equal(f->app.done, 3);
    fake_close(c);
    settle(f, 50);
    no_violations(f);
}

/* HEAD on a route a GET would get chunked (its length unknown): the GET's head,
 * Transfer-Encoding included (RFC 9110 9.3.2: the same fields as for GET), no body,
 * and the pipelined GET behind it answered right after the blank line. Before, the
 * head carried no framing at all, which a reader that does not know the method
 * takes for a close-delimited body (fuzz_server_conn found it). */
static void test_head_unknown_length(void **state)
{
    fx_t *f = *state;
    fake_conn_t *c = dial(f);
    const char *w, *end, *te;
    int st[4];

    fake_send_str(c, "HEAD /chunked HTTP/1.1\r\nHost: a\r\n\r\n"
                     "GET /p2 HTTP/1.1\r\nHost: a\r\n\r\n");
    settle(f, 100);
    w = written(c);
    end = strstr(w, "\r\n\r\n");
    te = strstr(w, "Transfer-Encoding: chunked\r\n");
    assert_int_equal(strncmp(w, "HTTP/1.1 200 ", 13), 0);
    assert_true(end && te && te < end);
    assert_int_equal(strncmp(end + 4, "HTTP/1.1 200 ", 13), 0); /* no body */
    assert_non_null(strstr(end + 4, "\r\n\r\n/p2"));
    assert_int_equal(responses(c, st, 4), 2);
    assert_false(fake_wisp_closed(c));
    assert_int_equal(f->app.done, 2);
    fake_close(c);
    settle(f, 50);
    no_violations(f);
}

static void test_post_body_split(void **state)
{
    fx_t *f = *state;
    fake_conn_t *c = dial(f);
    static const char req[] = "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n"
                              "hello world"
                              "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                              "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    size_t i, n = sizeof(req) - 1;
    int st[4];

    /* Three bytes at a time, 7 ms apart: every split of head, body and chunks. */
    for (i = 0; i < n; i += 3)
        fake_send_later(c, (uint32_t)(i / 3 * 7), req + i, n - i < 3 ? n - i : 3);
    settle(f, (uint32_t)(n / 3 * 7 + 100));
    assert_int_equal(responses(c, st, 4), 2);
    assert_int_equal(f->app.done, 2);
    assert_int_equal(f->app.req[0].rx_bytes, 11);
    assert_int_equal(f->app.req[1].rx_bytes, 11);
    assert_non_null(strstr(written(c), "\r\n\r\n11HTTP/1.1 200"));
    fake_close(c);
    settle(f, 50);
    no_violations(f);
}

static void test_close_mid_request(void **state)
{
    fx_t *f = *state;
    fake_conn_t *c = dial(f), *d = dial(f);

    /* c: the request line and half a header; d: half a request line. */
    fake_send_str(c, "GET /hello HTTP/1.1\r\nHo");
    fake_send_str(d, "GET /hel");
    settle(f, 50);
    fake_close(c);
    fake_close(d);
    settle(f, 50);
    assert_true(fake_wisp_closed(c));
    assert_true(fake_wisp_closed(d));
    /* The app never heard of either request, and no callback tells it otherwise. */
    assert_int_equal(f->app.requests, 0);
    assert_int_equal(f->app.destroyed, 0);
    assert_int_equal(stats(f).streams_live, 1); /* the listener */
    no_violations(f);
}

static void test_close_mid_body(void **state)
{
    fx_t *f = *state;
    fake_conn_t *c = dial(f);

    fake_send_str(c, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789");
    settle(f, 50);
    assert_int_equal(f->app.requests, 1);
    fake_close(c);
    settle(f, 50);
    assert_true(fake_wisp_closed(c));
    assert_int_equal(f->app.req[0].rx_bytes, 10);
    assert_int_equal(f->app.req[0].end, WISP_STATE_DISCONNECTED);
    assert_int_equal(f->app.lost, 1);
    assert_int_equal(f->app.destroyed, 1);
    no_violations(f);
}

static void test_reset_before_answer(void **state)
{
    fx_t *f = *state;
    fake_conn_t *c = dial(f);

    get(c, "/slow");
    settle(f, 50);
    assert_int_equal(f->app.requests, 1);
    fake_reset(c);
    settle(f, 50);
    assert_true(fake_wisp_closed(c));
    assert_int_equal(f->app.lost, 1);
    assert_int_equal(f->app.destroyed, 1);
    srvapp_answer_slow(&f->app); /* nothing left to answer */
    settle(f, 50);
    assert_int_equal(f->app.done, 0);
    no_violations(f);
}

/* The client sends its request and half-closes at once (a one-shot client):
 * the answer must still go out, then the connection closes. */
static void test_close_right_after_sending(void **state)
{
    fx_t *f = *state;
    fake_conn_t *c = dial(f), *d = dial(f);
    int st[4];

    get(c, "/hello");
    fake_close(c);
    get(d, "/slow");
    fake_close(d);
    settle(f, 50);
    assert_int_equal(responses(c, st, 4), 1);
    assert_int_equal(st[0], 200);
    assert_true(fake_wisp_closed(c));
    /* The slow one: answered later, still delivered. */
    assert_int_equal(responses(d, st, 4), 0);
    srvapp_answer_slow(&f->app);
    settle(f, 50);
    assert_int_equal(responses(d, st, 4), 1);
    assert_non_null(strstr(written(d), "\r\n\r\n/slow"));
    assert_true(fake_wisp_closed(d));
    assert_int_equal(f->app.done, 2);
    assert_int_equal(f->app.lost, 0);
    no_violations(f);
}

/* An answer held back, a second request cut short behind it, then the FIN: the
 * first answer must still go out whole before the close (found by
 * fuzz_server_conn: the failed second request closed at once and dropped it). */
static void test_answer_before_partial_pipelined(void **state)
{
    fx_t *f = *state;
    fake_conn_t *c = dial(f);
    int st[4];

    fake_send_str(c, "GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /chun");
    fake_close(c);
    settle(f, 50);
    srvapp_answer_slow(&f->app);
    settle(f, 50);
    assert_true(fake_wisp_closed(c));
    assert_int_equal(responses(c, st, 4), 1);
    assert_int_equal(st[0], 200);
    assert_non_null(strstr(written(c), "\r\n\r\n/slow"));
    assert_int_equal(f->app.done, 1);
    no_violations(f);
}

/* The app gives up on a pipelined request (destroys it or disconnects from
 * SERVER_REQUEST): the answer before it, reported DONE, must still arrive (found
 * by fuzz_server_conn: the cancel closed the socket with that answer in its
 * buffer). */
static void test_cancel_behind_answered(void **state)
{
    fx_t *f = *state;
    static const char *const paths[] = {"/destroy-req", "/disc-req"};
    size_t i;

    for (i = 0; i < 2; i++) {
        fake_conn_t *c = dial(f);
        char req[128];
        int st[4];

        snprintf(req, sizeof(req),
                 "GET /p1 HTTP/1.1\r\nHost: a\r\n\r\nGET %s HTTP/1.1\r\n"
                 "Host: a\r\n\r\n",
                 paths[i]);
        fake_send_str(c, req);
        settle(f, 50);
        assert_true(fake_wisp_closed(c));
        if (responses(c, st, 4) != 1 || st[0] != 200)
            fail_msg("%s: the answer before it is lost: \"%s\"", paths[i], written(c));
        assert_non_null(strstr(written(c), "\r\n\r\n/p1"));
    }
    assert_int_equal(f->app.done, 2);
    no_violations(f);
}

/* The app's callbacks give up: every way ends in one terminal state, closes the
 * connection and leaves nothing behind. */
static void test_app_gives_up(void **state)
{
    fx_t *f = *state;
    static const char *const paths[] = {"/destroy-req", "/disc-req",   "/destroy-rx",
                                        "/disc-rx",     "/destroy-tx", "/disc-tx"};
    size_t i;

    for (i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        fake_conn_t *c = dial(f);
        srvapp_req_t *r;
        int st[4];

        get(c, paths[i]);
        settle(f, 50);
        r = &f->app.req[f->app.nreq - 1];
        if (!fake_wisp_closed(c))
            fail_msg("%s: the connection hangs (app state %s, %u ends)", paths[i],
                     r->ends ? wisp_state_name(r->end) : "-", r->ends);
        assert_int_equal(r->destroying, 1);
        assert_true(r->ends <= 1);
        if (strstr(paths[i], "disc"))
            assert_int_equal(r->end, WISP_STATE_DISCONNECTED);
        (void)responses(c, st, 4); /* whatever went out parses */
        assert_int_equal(stats(f).conns_live, 0);
    }
    no_violations(f);
}

static void test_too_big(void **state)
{
    fx_t *f = *state;
    fake_conn_t *c = dial(f), *d = dial(f);
    char big[700];
    int st[4];

    memset(big, 'x', sizeof(big));
    big[sizeof(big) - 1] = '\0';
    fake_send_str(c, "GET /hello HTTP/1.1\r\nHost: a\r\nX-Big: ");
    fake_send_str(c, big);
    fake_send_str(c, "\r\n\r\n");
    fake_send_str(d, "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 6000\r\n\r\nabc");
    settle(f, 3000);
    assert_int_equal(responses(c, st, 4), 1);
    assert_int_equal(st[0], 431);
    assert_int_equal(responses(d, st, 4), 1);
    assert_int_equal(st[0], 413);
    assert_true(fake_wisp_closed(c));
    assert_true(fake_wisp_closed(d));
    assert_int_equal(f->app.done, 0);
    no_violations(f);
}

/* Requests the server refuses itself: the status, a close, the app never hears. */
static void test_bad_requests(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *req;
        int status;
    } cases[] = {
        {"GET ?q HTTP/1.1\r\nHost: a\r\n\r\n", 400}, /* origin-form starts with '/' */
        {"GET hello HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        {"GET /hello HTTP/1.1\r\n\r\n", 400}, /* no Host */
        {"BREW /pot HTTP/1.1\r\nHost: a\r\n\r\n", 501},
        {"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"
         "0\r\n\r\n",
         400},
        {"GET /hello HTTP/1.1\rHost: a\r\n\r\n", 400},
        {"GET /hello HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n", 400},
        {"GET /hello\r\n\r\n", 400},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        fake_conn_t *c = dial(f);
        size_t len = strlen(cases[i].req);
        int st[4];

        if (strstr(cases[i].req, "X: a"))
            len += strlen(cases[i].req + len + 1) + 1; /* the NUL is part of it */
        fake_send(c, cases[i].req, len);
        settle(f, 50);
        if (responses(c, st, 4) != 1 || st[0] != cases[i].status)
            fail_msg("case %zu: wanted %d, the server wrote \"%s\"", i, cases[i].status,
                     written(c));
        settle(f, 2100);
        assert_true(fake_wisp_closed(c));
    }
    assert_int_equal(f->app.requests, 0);
    no_violations(f);
}

/* Over max_connections 2 with both requests with the app: the third client waits
 * in the backlog, not accepted and not closed, however long the app takes (a
 * request the app has heard of is never evicted), and is served when a slot
 * frees. */
static void test_max_connections(void **state)
{
    fx_t *f = *state;
    fake_conn_t *a = dial(f), *b = dial(f), *c, *d;
    int st[4];

    get(a, "/slow");
    get(b, "/slow");
    settle(f, 50);
    assert_int_equal(f->app.requests, 2);
    c = dial(f);
    get(c, "/hello");
    settle(f, 2 * IDLE_MS);
    assert_int_equal(fakenet_server_accepted(f->fn), 2);
    assert_false(fake_wisp_closed(c));
    assert_int_equal(responses(c, st, 4), 0);
    assert_int_equal(stats(f).conns_refused, 0);
    assert_int_equal(f->app.requests, 2);
    srvapp_answer_slow(&f->app);
    settle(f, 50);
    assert_int_equal(responses(a, st, 4), 1);
    assert_int_equal(responses(b, st, 4), 1);
    /* Both idle now: a quarter of the idle deadline later one of them is evicted
     * for the waiting client, although nothing was evictable when it came. */
    settle(f, IDLE_MS / 4 - 100);
    assert_int_equal(fakenet_server_accepted(f->fn), 2);
    settle(f, 200);
    assert_int_equal(fakenet_server_accepted(f->fn), 3);
    assert_int_equal(responses(c, st, 4), 1);
    assert_int_equal(st[0], 200);
    assert_int_equal(stats(f).conns_refused, 1);
    assert_true(fake_wisp_closed(a) != fake_wisp_closed(b));
    /* The other one has been idle that long too: the next client takes its slot at
     * once. */
    d = dial(f);
    get(d, "/hello");
    settle(f, 10);
    assert_int_equal(responses(d, st, 4), 1);
    assert_true(fake_wisp_closed(a) && fake_wisp_closed(b));
    assert_false(fake_wisp_closed(c));
    assert_int_equal(stats(f).conns_refused, 2);
    fake_close(c);
    fake_close(d);
    no_violations(f);
}

/* At max_connections, a held connection that has given the app nothing for a
 * quarter of its deadline (IDLE_MS / 4) is closed for a client in the backlog, the
 * longest-waiting first: one that never spoke, an idle keep-alive (its answer
 * intact), a head trickling in (slowloris). Not before the quarter. */
static void test_max_connections_evict(void **state)
{
    fx_t *f = *state;
    fake_conn_t *a = dial(f), *b, *c, *d, *e;
    int st[4];

    settle(f, 10); /* a: connected, silent */
    b = dial(f);
    get(b, "/hello");
    settle(f, 10); /* b: answered, kept alive */
    assert_int_equal(responses(b, st, 4), 1);
    c = dial(f);
    get(c, "/hello");
    settle(f, IDLE_MS / 4 - 100);
    assert_int_equal(fakenet_server_accepted(f->fn), 2); /* c waits */
    assert_false(fake_wisp_closed(a));
    settle(f, 150);
    /* a waited longest: it goes, c is served. */
    assert_true(fake_wisp_closed(a));
    assert_string_equal(written(a), "");
    assert_false(fake_wisp_closed(b));
    assert_int_equal(responses(c, st, 4), 1);
    assert_int_equal(stats(f).conns_refused, 1);
    /* Next the idle keep-alive b (idle since before c was accepted), its answer
     * whole; c stays. */
    d = dial(f);
    fake_send_str(d, "GET /hello HTTP/1.1\r\n"); /* d will trickle */
    settle(f, IDLE_MS / 4);
    assert_true(fake_wisp_closed(b));
    assert_int_equal(responses(b, st, 4), 1);
    assert_false(fake_wisp_closed(c));
    assert_false(fake_wisp_closed(d));
    assert_int_equal(stats(f).conns_refused, 2);
    assert_int_equal(f->app.requests, 2);
    /* Then c (idle after its answer) goes for e, before d, whose wait began
     * later; and then d's trickled head for the next one: the app never hears of
     * it. */
    e = dial(f);
    get(e, "/hello");
    settle(f, IDLE_MS / 4);
    assert_true(fake_wisp_closed(c));
    assert_int_equal(responses(e, st, 4), 1);
    fake_send_str(d, "Ho");
    assert_false(fake_wisp_closed(d));
    a = dial(f);
    get(a, "/hello");
    settle(f, IDLE_MS / 4);
    assert_true(fake_wisp_closed(d));
    assert_string_equal(written(d), "");
    assert_int_equal(responses(a, st, 4), 1);
    assert_int_equal(stats(f).conns_refused, 4);
    assert_int_equal(f->app.requests, 4);
    assert_int_equal(f->app.done, 4);
    /* Two more take e's and a's slots (both idle a quarter by now); with both
     * fresh, the next waits: the listener is paused with its timer armed and a
     * client in its backlog when the teardown destroys it. */
    settle(f, 20);
    b = dial(f);
    c = dial(f);
    settle(f, 10);
    assert_int_equal(stats(f).conns_refused, 6);
    d = dial(f);
    get(d, "/hello");
    settle(f, 10);
    assert_int_equal(fakenet_server_accepted(f->fn), 8);
    assert_int_equal(responses(d, st, 4), 0);
    assert_int_equal(stats(f).conns_refused, 6);
    no_violations(f);
}

static void test_idle_timeout(void **state)
{
    fx_t *f = *state;
    fake_conn_t *a = dial(f), *b;
    uint64_t t0 = fakenet_now(f->fn);
    int st[4];

    /* A connection that never sends closes after idle_timeout_ms. */
    settle(f, IDLE_MS - 100);
    assert_false(fake_wisp_closed(a));
    settle(f, 200);
    assert_true(fake_wisp_closed(a));
    assert_true(fakenet_now(f->fn) - t0 >= IDLE_MS);
    /* So does one idle after an answer, and a head that trickles in (slowloris:
     * the deadline runs for the whole head, each byte buys nothing). */
    b = dial(f);
    get(b, "/hello");
    settle(f, 50);
    assert_int_equal(responses(b, st, 4), 1);
    fake_send_later(b, 1000, "GET /hello HTTP/1.1\r\n", 21);
    fake_send_later(b, 2000, "Ho", 2);
    fake_send_later(b, 2900, "s", 1);
    settle(f, IDLE_MS - 100);
    assert_false(fake_wisp_closed(b));
    settle(f, 200);
    assert_true(fake_wisp_closed(b));
    assert_int_equal(f->app.requests, 1);
    no_violations(f);
}

/* Destroying the listener stops accepting; a request in flight still finishes. */
static void test_listener_destroyed_in_flight(void **state)
{
    fx_t *f = *state;
    fake_conn_t *a = dial(f), *b = dial(f);
    int st[4];

    get(a, "/slow");
    settle(f, 50);
    wisp_stream_destroy(f->l);
    f->l = NULL;
    settle(f, 50);
    assert_int_equal(fakenet_listening(f->fn), 0);
    assert_true(fake_wisp_closed(b)); /* never accepted */
    srvapp_answer_slow(&f->app);
    settle(f, 50);
    assert_int_equal(responses(a, st, 4), 1);
    assert_non_null(strstr(written(a), "Connection: close"));
    assert_true(fake_wisp_closed(a));
    assert_int_equal(f->app.done, 1);
    no_violations(f);
}

/* The listener goes while an answered connection's last answer still waits for a
 * client that is slow to read: the answer must still leave before the close. */
static void test_listener_destroyed_answer_unsent(void **state)
{
    fx_t *f = *state;
    fake_conn_t *c = dial(f);
    int st[4];

    fake_stall(c, 1);
    get(c, "/hello");
    settle(f, 50);
    assert_int_equal(f->app.done, 1); /* answered: it sits in wisp's socket buffer */
    assert_int_equal(responses(c, st, 4), 0);
    wisp_stream_destroy(f->l);
    f->l = NULL;
    settle(f, 50);
    fake_stall(c, 0);
    settle(f, 50);
    assert_int_equal(responses(c, st, 4), 1);
    assert_int_equal(st[0], 200);
    assert_true(fake_wisp_closed(c));
    no_violations(f);
}

/* The context goes with connections in every phase: an answer pending, a head
 * half read, a body half read. Each request the app heard of gets DESTROYING once;
 * the one it never heard of gets nothing; nothing leaks. */
static void test_context_destroyed_live(void **state)
{
    fx_t *f = *state;
    fake_conn_t *a = dial(f), *b = dial(f);

    get(a, "/slow");
    fake_send_str(b, "GET /hello HTTP/1.1\r\nHo");
    settle(f, 50);
    assert_int_equal(f->app.requests, 1);
    wisp_context_destroy(f->cx);
    f->cx = NULL;
    assert_int_equal(f->app.destroyed, 1);
    assert_int_equal(f->app.req[0].destroying, 1);
    no_violations(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_get, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keepalive_three, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_unknown_length, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_body_split, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_mid_request, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_mid_body, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reset_before_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_right_after_sending, setup, teardown),
        cmocka_unit_test_setup_teardown(test_answer_before_partial_pipelined, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cancel_behind_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_app_gives_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_too_big, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_connections, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_connections_evict, setup, teardown),
        cmocka_unit_test_setup_teardown(test_idle_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_destroyed_in_flight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_destroyed_answer_unsent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_context_destroyed_live, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
