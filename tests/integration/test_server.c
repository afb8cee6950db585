/*
 * Server streams over real loopback sockets: a wisp server context and, where a
 * client is needed, a wisp client context (or a raw socket that misbehaves), both
 * serviced by this thread. Each test ends with no live connection or stream and the
 * server's heap back where it started.
 *
 * The server app (srv_*) routes by path:
 *   /hello      200 "hello" with Content-Length
 *   /chunked    200, a body of unknown length (chunked, or close-delimited on 1.0)
 *   /echo       200 "<bytes received>"
 *   /slow       answered later by the test (slow_answer), not from a callback
 *   /destroy-*  the app destroys its own request stream at a point (torture)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "rawsock.h"
#include "testalloc.h"
#include "testfiles.h"
#include "wisp.h"

/* ---- The server app ---- */

typedef struct req {
    int route;
    int destroy; /* torture: destroy self at app.destroy_at */
    size_t in_bytes;
    size_t sent, total;
    char text[32];
} req_t;

static struct {
    int requests, done, lost, destroyed;
    wisp_stream_t *slow; /* a /slow request waiting for slow_answer() */
    int destroy_at;      /* torture: 1 SERVER_REQUEST, 2 rx EOM, 3 tx */
} app;

enum { R_404, R_HELLO, R_CHUNKED, R_ECHO, R_SLOW, R_DESTROY };

static int respond(req_t *r)
{
    wisp_stream_t *s = wisp_stream_from_user(r);

    switch (r->route) {
    case R_HELLO:
        r->total = (size_t)snprintf(r->text, sizeof(r->text), "hello");
        return wisp_stream_request_tx_len(s, r->total);
    case R_CHUNKED:
        r->total = 3000; /* more than one piece */
        return wisp_stream_request_tx(s);
    case R_ECHO:
        r->total = (size_t)snprintf(r->text, sizeof(r->text), "%lu", (unsigned long)r->in_bytes);
        return wisp_stream_request_tx_len(s, r->total);
    case R_SLOW:
        app.slow = s;
        return 0;
    default:
        r->total = (size_t)snprintf(r->text, sizeof(r->text), "no");
        assert_int_equal(wisp_stream_set_metadata(s, "status", "404", 3), 0);
        return wisp_stream_request_tx_len(s, r->total);
    }
}

static int srv_rx(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    req_t *r = user;

    (void)buf;
    r->in_bytes += len;
    if (!(flags & WISP_EOM))
        return 0;
    if (r->destroy && app.destroy_at == 2)
        return WISP_CB_DESTROY;
    return respond(r) ? WISP_CB_DISCONNECT : 0;
}

static int srv_tx(void *user, uint8_t *buf, size_t *len, unsigned *flags)
{
    req_t *r = user;
    size_t n = r->total - r->sent;

    if (r->destroy && app.destroy_at == 3)
        return WISP_CB_DESTROY;
    if (n > *len)
        n = *len;
    if (n > 1000)
        n = 1000;
    if (r->route == R_CHUNKED)
        memset(buf, 'c', n);
    else
        memcpy(buf, r->text + r->sent, n);
    r->sent += n;
    *len = n;
    if (r->sent == r->total)
        *flags |= WISP_EOM;
    return 0;
}

static int srv_state(void *user, wisp_state_t st, int arg)
{
    req_t *r = user;
    wisp_stream_t *s;
    const void *p;
    size_t n;

    (void)arg;
    if (user == &app)
        return 0; /* the listener's own states (CREATED, DESTROYING) */
    switch (st) {
    case WISP_STATE_SERVER_REQUEST:
        app.requests++;
        s = wisp_stream_from_user(r);
        assert_ptr_equal(wisp_stream_parent_user(s), &app);
        assert_int_equal(wisp_stream_get_metadata(s, "path", &p, &n), 0);
#define IS(lit) (n == sizeof(lit) - 1 && !memcmp(p, lit, n))
        r->route = IS("/hello")                           ? R_HELLO
                   : IS("/chunked")                       ? R_CHUNKED
                   : IS("/echo")                          ? R_ECHO
                   : IS("/slow")                          ? R_SLOW
                   : (n > 8 && !memcmp(p, "/destroy", 8)) ? R_DESTROY
                                                          : R_404;
#undef IS
        if (r->route == R_DESTROY && app.destroy_at == 1)
            return WISP_CB_DESTROY;
        if (r->route == R_DESTROY) {
            r->destroy = 1;
            r->route = R_CHUNKED;
        }
        break;
    case WISP_STATE_DONE:
        app.done++;
        break;
    case WISP_STATE_DISCONNECTED:
        app.lost++;
        break;
    case WISP_STATE_DESTROYING:
        app.destroyed++;
        if (app.slow && wisp_stream_from_user(r) == app.slow)
            app.slow = NULL;
        break;
    default:
        break;
    }
    return 0;
}

static const wisp_stream_ops_t srv_plain = {"plain", srv_rx, srv_tx, srv_state};
static const wisp_stream_ops_t srv_tls = {"tls", srv_rx, srv_tx, srv_state};

/* ---- Fixture: the server context and its listeners ---- */

static wisp_stats_t stats(wisp_context_t *cx);

typedef struct fx {
    testalloc_t ta;
    wisp_context_t *cx;
    wisp_stream_t *plain, *tls;
    int plain_port, tls_port;
    size_t heap0;
} fx_t;

static char *server_policy(void)
{
    char *cert = test_cert_json("server.pem"), *key = test_cert_json("server.key");
    size_t cap = strlen(cert) + strlen(key) + 2048;
    char *p = malloc(cap);

    assert_non_null(p);
    snprintf(p, cap,
             "{\"schema\": 1, \"certs\": {\"c\": \"%s\", \"k\": \"%s\"}, \"streams\": {"
             "\"plain\": {\"server\": true, \"bind\": \"127.0.0.1\", \"port\": 0, \"tls\": false,"
             " \"max_connections\": 4, \"header_limit\": 512, \"body_limit\": 5000,"
             " \"handshake_timeout_ms\": 300, \"idle_timeout_ms\": 300,"
             " \"metadata\": {\"ua\": \"user-agent\"}},"
             "\"tls\": {\"server\": true, \"bind\": \"127.0.0.1\", \"port\": 0, \"cert\": \"c\","
             " \"key\": \"k\", \"handshake_timeout_ms\": 300, \"idle_timeout_ms\": 2000}}}",
             cert, key);
    free(cert);
    free(key);
    return p;
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    char *pol = server_policy();

    assert_non_null(f);
    memset(&app, 0, sizeof(app));
    testalloc_init(&f->ta, 0);
    assert_int_equal(testalloc_context(&f->ta, pol, &f->cx), 0);
    free(pol);
    f->heap0 = stats(f->cx).heap_in_use;
    assert_int_equal(wisp_stream_create(f->cx, &srv_plain, &app, &f->plain), 0);
    assert_int_equal(wisp_stream_set_user_size(f->plain, sizeof(req_t)), 0);
    assert_int_equal(wisp_stream_create(f->cx, &srv_tls, &app, &f->tls), 0);
    assert_int_equal(wisp_stream_set_user_size(f->tls, sizeof(req_t)), 0);
    f->plain_port = wisp_stream_local_port(f->plain);
    f->tls_port = wisp_stream_local_port(f->tls);
    assert_true(f->plain_port > 0 && f->tls_port > 0);
    *state = f;
    return 0;
}

static void service(fx_t *f, wisp_context_t *other, int ms)
{
    struct timespec t0, t;

    clock_gettime(CLOCK_MONOTONIC, &t0);
    do {
        assert_int_equal(wisp_service(f->cx, other ? 0 : 5), 0);
        if (other)
            assert_int_equal(wisp_service(other, 5), 0);
        clock_gettime(CLOCK_MONOTONIC, &t);
    } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
}

static wisp_stats_t stats(wisp_context_t *cx)
{
    wisp_stats_t st;

    wisp_get_stats(cx, &st);
    return st;
}

static int teardown(void **state)
{
    fx_t *f = *state;
    wisp_stats_t st;

    wisp_stream_destroy(f->plain);
    wisp_stream_destroy(f->tls);
    service(f, NULL, 20);
    st = stats(f->cx);
    assert_int_equal(st.conns_live, 0);
    assert_int_equal(st.streams_live, 0);
    assert_int_equal(st.vhosts_live, 0);
    assert_int_equal(st.heap_in_use, f->heap0); /* back to before the first listener */
    wisp_context_destroy(f->cx);
    assert_int_equal(f->ta.live_blocks, 0);
    testalloc_done(&f->ta);
    free(f);
    return 0;
}

/* ---- A raw client: bytes in, everything the server says out, until it closes ---- */

/* Send req, then service until the server closes (or ms passes); the answer. */
static char *raw_exchange(fx_t *f, int port, const char *req, size_t req_len, int ms, int *closed)
{
    static char out[16384];
    size_t len = 0;
    int fd = rawsock_connect(port, 1), waited = 0, c = 0;

    out[0] = '\0';
    if (req_len)
        assert_int_equal(send(fd, req, req_len, 0), (ssize_t)req_len);
    while (!(c = rawsock_read(fd, out, sizeof(out), &len)) && waited < ms) {
        service(f, NULL, 5);
        waited += 5;
    }
    close(fd);
    if (closed)
        *closed = c;
    return out;
}

/* ---- Client side: a wisp client context for the server's ports ---- */

typedef struct cli {
    wisp_stream_t *s;
    int status, done, failed;
    size_t got, body_len, sent;
} cli_t;

static int cli_rx(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    cli_t *c = user;

    (void)buf;
    (void)flags;
    c->got += len;
    return 0;
}

static int cli_tx(void *user, uint8_t *buf, size_t *len, unsigned *flags)
{
    cli_t *c = user;
    size_t n = c->body_len - c->sent;

    if (n > *len)
        n = *len;
    memset(buf, 'b', n);
    c->sent += n;
    *len = n;
    if (c->sent == c->body_len)
        *flags |= WISP_EOM;
    return 0;
}

static int cli_state(void *user, wisp_state_t st, int arg)
{
    cli_t *c = user;

    if (st == WISP_STATE_DONE) {
        c->status = arg;
        c->done++;
    } else if (st == WISP_STATE_ALL_RETRIES_FAILED || st == WISP_STATE_TIMEOUT) {
        c->failed++;
    }
    return 0;
}

static wisp_context_t *client_ctx(testalloc_t *ta, const fx_t *f)
{
    char *ca = test_cert_json("ca.pem"), *p;
    size_t cap = strlen(ca) + 4096;
    wisp_context_t *cx;

    p = malloc(cap);
    assert_non_null(p);
    snprintf(p, cap,
             "{\"schema\": 1, \"certs\": {\"ca\": \"%s\"}, \"trust_stores\": {\"t\": {\"certs\":"
             " [\"ca\"]}}, \"streams\": {"
             "\"hello\": {\"endpoint\": \"127.0.0.1\", \"port\": %d, \"tls\": false, \"url\":"
             " \"/hello\", \"timeout_ms\": 5000},"
             "\"post\": {\"endpoint\": \"127.0.0.1\", \"port\": %d, \"tls\": false, \"url\":"
             " \"/echo\", \"method\": \"POST\", \"timeout_ms\": 5000},"
             "\"chunked\": {\"endpoint\": \"127.0.0.1\", \"port\": %d, \"tls\": false, \"url\":"
             " \"/chunked\", \"timeout_ms\": 5000},"
             "\"tls\": {\"endpoint\": \"localhost\", \"port\": %d, \"trust_store\": \"t\", \"url\":"
             " \"/hello\", \"timeout_ms\": 5000},"
             "\"tls_slow\": {\"endpoint\": \"localhost\", \"port\": %d, \"trust_store\": \"t\","
             " \"url\": \"/slow\", \"timeout_ms\": 5000}}}",
             ca, f->plain_port, f->plain_port, f->plain_port, f->tls_port, f->tls_port);
    free(ca);
    testalloc_init(ta, 0);
    assert_int_equal(testalloc_context(ta, p, &cx), 0);
    free(p);
    return cx;
}

static void run_until(fx_t *f, wisp_context_t *cx, cli_t *c, int n, int ms)
{
    int waited, i, open;

    for (waited = 0; waited < ms; waited += 5) {
        for (open = i = 0; i < n; i++)
            open += !c[i].done && !c[i].failed;
        if (!open)
            return;
        service(f, cx, 5);
    }
}

static void client_done(fx_t *f, wisp_context_t *cx, testalloc_t *ta, cli_t *c, int n)
{
    int i;

    for (i = 0; i < n; i++)
        wisp_stream_destroy(c[i].s);
    (void)wisp_context_close_idle(cx);
    service(f, cx, 30);
    wisp_context_destroy(cx);
    assert_int_equal(ta->live_blocks, 0);
    testalloc_done(ta);
}

/* ---- Tests ---- */

/* Keep-alive: five GETs one after another on one connection, then POSTs with a
 * Content-Length and chunked, and a chunked answer. */
static void test_plain_keepalive_and_bodies(void **state)
{
    fx_t *f = *state;
    static const wisp_stream_ops_t get = {"hello", cli_rx, NULL, cli_state};
    static const wisp_stream_ops_t post = {"post", cli_rx, cli_tx, cli_state};
    static const wisp_stream_ops_t chunk = {"chunked", cli_rx, NULL, cli_state};
    testalloc_t ta;
    wisp_context_t *cx = client_ctx(&ta, f);
    cli_t c[4];
    int i;

    memset(c, 0, sizeof(c));
    assert_int_equal(wisp_stream_create(cx, &get, &c[0], &c[0].s), 0);
    for (i = 0; i < 5; i++) {
        c[0].done = 0;
        assert_int_equal(wisp_stream_request_tx(c[0].s), 0);
        run_until(f, cx, c, 1, 3000);
        assert_int_equal(c[0].done, 1);
        assert_int_equal(c[0].status, 200);
    }
    assert_int_equal(c[0].got, 25);
    assert_int_equal(stats(f->cx).conns_opened, 1); /* one connection for all five */
    assert_int_equal(stats(f->cx).reuses, 4);

    assert_int_equal(wisp_stream_create(cx, &post, &c[1], &c[1].s), 0);
    c[1].body_len = 4000;
    assert_int_equal(wisp_stream_request_tx_len(c[1].s, c[1].body_len), 0);
    assert_int_equal(wisp_stream_create(cx, &post, &c[2], &c[2].s), 0);
    c[2].body_len = 3333;
    assert_int_equal(wisp_stream_request_tx(c[2].s), 0); /* chunked */
    assert_int_equal(wisp_stream_create(cx, &chunk, &c[3], &c[3].s), 0);
    assert_int_equal(wisp_stream_request_tx(c[3].s), 0);
    run_until(f, cx, c + 1, 3, 3000);
    assert_int_equal(c[1].done + c[2].done + c[3].done, 3);
    assert_int_equal(c[1].got, 4);    /* "4000" */
    assert_int_equal(c[2].got, 4);    /* "3333" */
    assert_int_equal(c[3].got, 3000); /* chunked answer */
    assert_int_equal(app.done, 8);
    assert_int_equal(app.lost, 0);
    client_done(f, cx, &ta, c, 4);
}

/* Twenty streams at once over TLS: one handshake, twenty requests on it. */
static void test_tls_twenty_queued(void **state)
{
    fx_t *f = *state;
    static const wisp_stream_ops_t ops = {"tls", cli_rx, NULL, cli_state};
    testalloc_t ta;
    wisp_context_t *cx = client_ctx(&ta, f);
    cli_t c[20];
    int i, done = 0, stall[3];

    memset(c, 0, sizeof(c));
    /* Three clients that connect and stall (one sends half a ClientHello): handshakes
     * run in the loop, so they delay nobody. */
    for (i = 0; i < 3; i++)
        stall[i] = rawsock_connect(f->tls_port, 1);
    assert_int_equal(send(stall[2], "\x16\x03\x01\x00\xff\x01", 6, 0), 6);
    for (i = 0; i < 20; i++) {
        assert_int_equal(wisp_stream_create(cx, &ops, &c[i], &c[i].s), 0);
        assert_int_equal(wisp_stream_request_tx(c[i].s), 0);
    }
    run_until(f, cx, c, 20, 5000);
    for (i = 0; i < 20; i++)
        done += c[i].done && c[i].status == 200 && c[i].got == 5;
    assert_int_equal(done, 20);
    assert_int_equal(stats(f->cx).handshakes_full, 1);
    assert_int_equal(stats(f->cx).transactions, 20);
    assert_int_equal(stats(f->cx).reuses, 19);
    assert_int_equal(stats(f->cx).conns_live, 4); /* the three stalled ones still wait */
    for (i = 0; i < 3; i++)
        close(stall[i]);
    client_done(f, cx, &ta, c, 20);
}

/* SPEC §10: bad requests get their status and a closed connection; no request
 * stream ever reaches the app for them. */
static void test_bad_requests(void **state)
{
    fx_t *f = *state;
    static const struct {
        const char *req;
        const char *status;
    } cases[] = {
        {"GARBAGE\r\n\r\n", "HTTP/1.1 400 "},
        {"GET / HTTP/1.1\r\n\r\n", "HTTP/1.1 400 "}, /* no Host */
        {"GET /hello HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: "
         "chunked\r\n\r\n",
         "HTTP/1.1 400 "},
        {"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 501 "},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
         "HTTP/1.1 501 "},
        {"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 9999\r\n\r\n", "HTTP/1.1 413 "},
    };
    char big[1024];
    size_t i;
    int closed;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *out =
            raw_exchange(f, f->plain_port, cases[i].req, strlen(cases[i].req), 2000, &closed);

        assert_true(closed);
        if (strncmp(out, cases[i].status, strlen(cases[i].status)))
            fail_msg("case %u: got \"%.40s\", want \"%s\"", (unsigned)i, out, cases[i].status);
        assert_non_null(strstr(out, "Connection: close"));
    }
    /* A head over header_limit (512): 431. */
    snprintf(big, sizeof(big), "GET /hello HTTP/1.1\r\nHost: x\r\nX-Pad: %0600d\r\n\r\n", 0);
    assert_int_equal(strncmp(raw_exchange(f, f->plain_port, big, strlen(big), 2000, &closed),
                             "HTTP/1.1 431 ", 13),
                     0);
    /* A chunked body over body_limit (5000): 413 once the limit is passed. */
    {
        static char req[8000];
        size_t n = (size_t)snprintf(req, sizeof(req),
                                    "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                                    "chunked\r\n\r\n1770\r\n");

        memset(req + n, 'z', sizeof(req) - n);
        assert_int_equal(strncmp(raw_exchange(f, f->plain_port, req, sizeof(req), 2000, &closed),
                                 "HTTP/1.1 413 ", 13),
                         0);
        assert_true(closed);
    }
    assert_int_equal(app.done, 0);
    service(f, NULL, 20);
    assert_int_equal(stats(f->cx).conns_live, 0);
    /* The 413 of the chunked case reached the app (head complete): DISCONNECTED. */
    assert_int_equal(app.lost, 1);
    assert_int_equal(app.destroyed, app.requests);
}

/* HTTP/1.0 gets close-delimited answers; pipelined requests are answered in
 * order; Connection: close is honoured; an absolute-form target routes by its path
 * (RFC 9112 3.2.2: "http://x:8080/hello?q=1" is /hello). */
static void test_http10_pipelining_close(void **state)
{
    fx_t *f = *state;
    static const char pipe3[] = "GET http://x:8080/hello?q=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                                "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                                "GET /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    const char *out, *a, *b, *c;
    int closed;

    out = raw_exchange(f, f->plain_port, "GET /chunked HTTP/1.0\r\n\r\n", 25, 2000, &closed);
    assert_true(closed);
    assert_int_equal(strncmp(out, "HTTP/1.1 200 ", 13), 0);
    assert_null(strstr(out, "chunked")); /* a 1.0 client cannot take chunks */
    assert_non_null(strstr(out, "Connection: close"));
    assert_int_equal(strlen(strstr(out, "\r\n\r\n") + 4), 3000);

    out = raw_exchange(f, f->plain_port, pipe3, sizeof(pipe3) - 1, 2000, &closed);
    assert_true(closed); /* the third asked for close */
    a = strstr(out, "HTTP/1.1 200");
    b = strstr(out, "HTTP/1.1 404");
    c = a ? strstr(a + 1, "HTTP/1.1 200") : NULL;
    assert_true(a && b && c && a < b && b < c);
    assert_non_null(strstr(c, "\r\n\r\n0")); /* /echo: no body bytes */
    assert_int_equal(app.done, 4);
}

/* max_connections (4): the fifth and sixth wait in the backlog until two held ones
 * that sent nothing have waited a quarter of idle_timeout_ms; those are closed for
 * them and counted (the timing is test_server_fake's, on a virtual clock). Idle
 * connections close at idle_timeout_ms; a head dribbled a byte at a time does not
 * keep a connection (slowloris); a TLS client that never speaks is cut at
 * handshake_timeout_ms. */
static void test_limits_and_timeouts(void **state)
{
    fx_t *f = *state;
    int fd[6], i, closed = 0;
    char buf[64];
    size_t len = 0;

    for (i = 0; i < 6; i++)
        fd[i] = rawsock_connect(f->plain_port, 1);
    for (i = 0; i < 100 && stats(f->cx).conns_refused < 2; i++)
        service(f, NULL, 10);
    assert_int_equal(stats(f->cx).conns_refused, 2);
    assert_int_equal(stats(f->cx).conns_live, 4);
    for (i = 0; i < 6; i++)
        close(fd[i]);
    service(f, NULL, 50);
    assert_int_equal(stats(f->cx).conns_live, 0);

    /* Idle: nothing sent; closed by the server within idle_timeout_ms (300). */
    (void)raw_exchange(f, f->plain_port, NULL, 0, 2000, &closed);
    assert_true(closed);

    /* Slowloris: one byte every 50 ms never completes a head in time. */
    fd[0] = rawsock_connect(f->plain_port, 1);
    {
        static const char dribble[] =
            "GET /hello HTTP/1.1\r\nHost: x\r\nX-A: aaaaaaaaaaaaaaaaaaa\r\n";

        for (i = 0; i < (int)sizeof(dribble) - 1 && !closed; i++) {
            closed = 0;
            if (send(fd[0], dribble + i, 1, MSG_NOSIGNAL) < 0)
                break;
            service(f, NULL, 50);
            closed = rawsock_read(fd[0], buf, sizeof(buf), &len);
        }
    }
    close(fd[0]);
    assert_true(closed);
    assert_true(i < 40); /* cut long before the head could finish */

    (void)raw_exchange(f, f->tls_port, NULL, 0, 2000, &closed);
    assert_true(closed);
    service(f, NULL, 20);
    assert_int_equal(stats(f->cx).conns_live, 0);
    assert_int_equal(app.requests, 0);
}

/* SPEC §2: destroying a listener stops accepting at once and breaks nothing in
 * flight; its vhost lives until the last connection; a listener created again
 * while the old one drains works. */
static void test_listener_destroy_drains(void **state)
{
    fx_t *f = *state;
    static const wisp_stream_ops_t slow = {"tls_slow", cli_rx, NULL, cli_state};
    testalloc_t ta;
    wisp_context_t *cx = client_ctx(&ta, f);
    wisp_stream_t *again = NULL;
    cli_t c[1];
    int fd;

    memset(c, 0, sizeof(c));
    assert_int_equal(wisp_stream_create(cx, &slow, &c[0], &c[0].s), 0);
    assert_int_equal(wisp_stream_request_tx(c[0].s), 0);
    while (!app.slow)
        service(f, cx, 5);
    assert_int_equal(stats(f->cx).vhosts_live, 1);
    wisp_stream_destroy(f->tls);
    f->tls = NULL;
    service(f, cx, 20);
    assert_int_equal(stats(f->cx).vhosts_live, 1); /* the connection holds it */
    /* The old port accepts no more. */
    {
        struct sockaddr_in a;

        fd = socket(AF_INET, SOCK_STREAM, 0);
        memset(&a, 0, sizeof(a));
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)f->tls_port);
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        assert_true(connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0);
        close(fd);
    }
    /* Listening again while the old vhost drains: a second vhost. */
    assert_int_equal(wisp_stream_create(f->cx, &srv_tls, &app, &again), 0);
    assert_int_equal(stats(f->cx).vhosts_live, 2);
    /* The request in flight is answered now, from outside any callback. */
    assert_null(wisp_stream_from_user(NULL));
    assert_int_equal(wisp_stream_request_tx_len(app.slow, 0), 0);
    assert_int_equal(wisp_stream_request_tx_len(app.slow, 0), WISP_EBUSY); /* once */
    run_until(f, cx, c, 1, 3000);
    assert_int_equal(c[0].done, 1);
    assert_int_equal(c[0].status, 200);
    wisp_stream_destroy(c[0].s);
    (void)wisp_context_close_idle(cx);
    service(f, cx, 50);
    assert_int_equal(stats(f->cx).vhosts_live, 1); /* only the new listener's */
    f->tls = again;
    client_done(f, cx, &ta, c, 0);
}

/* Closing from every kind of place, many times: the app destroying its request at
 * SERVER_REQUEST, at the body's end, and while its answer goes out; clients that
 * reset mid-request. Under ASan this is the double-close hunt of SPEC §2. */
static void test_close_torture(void **state)
{
    fx_t *f = *state;
    int round;

    for (round = 0; round < 60; round++) {
        char req[256];
        int closed, n;

        app.destroy_at = 1 + round % 3;
        n = snprintf(req, sizeof(req),
                     "POST /destroy-%d HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", round);
        (void)raw_exchange(f, f->plain_port, req, (size_t)n, 1000, &closed);
        assert_true(closed);
        /* A client that resets half way through its request. */
        {
            int fd = rawsock_connect(f->plain_port, 1);
            struct linger lg = {1, 0};

            assert_int_equal(send(fd, req, (size_t)n / 2, 0), n / 2);
            service(f, NULL, 5);
            setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
            close(fd); /* RST */
            service(f, NULL, 5);
        }
        /* Every fifth round the listener goes while a request waits for its answer,
         * and a new one takes its place: the old connection is served, then closes. */
        if (round % 5 == 4) {
            static const char slow[] = "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n";
            int fd = rawsock_connect(f->plain_port, 1);
            char out[512];
            size_t len = 0;
            int waited;

            assert_int_equal(send(fd, slow, sizeof(slow) - 1, 0), (ssize_t)(sizeof(slow) - 1));
            for (waited = 0; !app.slow && waited < 2000; waited += 5)
                service(f, NULL, 5);
            assert_non_null(app.slow);
            wisp_stream_destroy(f->plain);
            assert_int_equal(wisp_stream_create(f->cx, &srv_plain, &app, &f->plain), 0);
            assert_int_equal(wisp_stream_set_user_size(f->plain, sizeof(req_t)), 0);
            f->plain_port = wisp_stream_local_port(f->plain);
            if (round % 10 == 4) {
                assert_int_equal(wisp_stream_request_tx_len(app.slow, 0), 0);
            } else {
                /* ...or the client resets while the answer is still to come. */
                struct linger lg = {1, 0};

                setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
                close(fd);
                fd = -1;
                wisp_stream_destroy(app.slow);
            }
            for (waited = 0; fd >= 0 && !rawsock_read(fd, out, sizeof(out), &len) && waited < 2000;
                 waited += 5)
                service(f, NULL, 5);
            if (fd >= 0) {
                assert_int_equal(strncmp(out, "HTTP/1.1 200 ", 13), 0);
                assert_non_null(strstr(out, "Connection: close")); /* the listener drains */
                close(fd);
            }
            app.done = 0;
        }
    }
    service(f, NULL, 30);
    assert_int_equal(stats(f->cx).conns_live, 0);
    assert_int_equal(app.destroyed, app.requests);
    assert_int_equal(app.done, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_plain_keepalive_and_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tls_twenty_queued, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_requests, setup, teardown),
        cmocka_unit_test_setup_teardown(test_http10_pipelining_close, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_and_timeouts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_listener_destroy_drains, setup, teardown),
        cmocka_unit_test_setup_teardown(test_close_torture, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
