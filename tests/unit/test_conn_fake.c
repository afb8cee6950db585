/*
 * The client connection state machine on a fake network (tests/support/fakenet.h):
 * scripted servers, a virtual clock, no sockets, no sleeps. Each defect of the
 * client-correctness issue has a test here that failed before its fix; every test
 * ends with zero live objects and zero heap.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core-internal.h"
#include "fakenet.h"
#include "testalloc.h"
#include "testfiles.h"
#include "wisp/stream.h"

#define POLICY                                                                                     \
    "{\"schema\":1,"                                                                               \
    "\"retry\":{\"twice\":{\"backoff_ms\":[10],\"conceal\":2}},"                                   \
    "\"streams\":{"                                                                                \
    "\"get\":{\"endpoint\":\"127.0.0.1\",\"tls\":false,\"url\":\"/g\"},"                           \
    "\"get_retry\":{\"endpoint\":\"127.0.0.1\",\"tls\":false,\"url\":\"/r\",\"retry\":"            \
    "\"twice\"},"                                                                                  \
    "\"post\":{\"endpoint\":\"127.0.0.1\",\"tls\":false,\"method\":\"POST\",\"url\":\"/p\"},"      \
    "\"timed\":{\"endpoint\":\"127.0.0.1\",\"tls\":false,\"url\":\"/t\",\"timeout_ms\":500},"      \
    "\"named\":{\"endpoint\":\"host.test\",\"tls\":false,\"url\":\"/n\"},"                         \
    "\"slot\":{\"endpoint\":\"${h}\",\"tls\":false,\"url\":\"/s\",\"metadata\":{\"h\":null}},"     \
    "\"nailed\":{\"endpoint\":\"127.0.0.1\",\"tls\":false,\"url\":\"/nail\",\"nailed_up\":true,"   \
    "\"retry\":\"twice\"},"                                                                        \
    "\"etag\":{\"endpoint\":\"127.0.0.1\",\"tls\":false,\"url\":\"/e\","                           \
    "\"metadata\":{\"tag\":\"ETag\",\"low\":\"etag\"}}"                                            \
    "}}"

#define MAXS 128

typedef struct rec {
    struct fx *x;
    wisp_stream_t *s;
    char seq[512];
    unsigned requests, terminals, destroying;
    size_t rx_bytes;
    /* Scripted reactions. */
    wisp_state_t destroy_self_at, destroy_cx_at, disconnect_at;
    int destroy_cx_in_rx;
    size_t tx_left;
} rec_t;

typedef struct fx {
    testalloc_t ta;
    fakenet_t *fn;
    wisp_context_t *cx;
    rec_t r[MAXS];
    int cx_gone;
    /* server script state */
    int close_at;         /* close conn 0 instead of answering its request #close_at */
    int cut_body;         /* answer with a body cut short, then close */
    int refuse_first;     /* refuse connection 0 */
    int refuse_all;       /* refuse every connection */
    int hang_first;       /* connection 0 never completes its connect */
    int reset_first;      /* connection 0 is reset when its first request arrives */
    fake_conn_t *conn[8]; /* the first connections accepted */
} fx_t;

static fx_t *X; /* the running test's fixture, for the server script */

/* ---- Server scripts ---- */

static int accept_cb(void *user, fake_conn_t *c, unsigned i)
{
    fx_t *x = user;

    if (i < 8)
        x->conn[i] = c;
    if (x->hang_first && i == 0)
        return FN_HANG;
    return (x->refuse_all || (x->refuse_first && i == 0)) ? FN_REFUSE : FN_ACCEPT;
}

static void request_cb(void *user, fake_conn_t *c, const fn_req_t *q)
{
    fx_t *x = user;

    if (x->close_at >= 0 && q->conn_index == 0 && (int)q->index == x->close_at) {
        fake_close(c); /* the keep-alive race: closed on its own clock */
        return;
    }
    if (x->reset_first && q->conn_index == 0) {
        fake_reset(c);
        return;
    }
    if (x->cut_body) {
        fake_send_str(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789");
        fake_close(c);
        return;
    }
    if (!strcmp(q->path, "/e")) {
        fake_respond(c, 200, "eTaG: \"v42\"\r\n", "tagged");
        return;
    }
    fake_respond(c, 200, NULL, "hello");
}

/* ---- Recorder ---- */

static int state_cb(void *user, wisp_state_t st, int arg)
{
    rec_t *r = user;
    char one[160];

    if (st == WISP_STATE_DESTROYING) {
        r->destroying++;
        r->s = NULL;
        return 0;
    }
    if (arg < 0)
        snprintf(one, sizeof(one), "%s:%s ", wisp_state_name(st), wisp_strerror(arg));
    else
        snprintf(one, sizeof(one), "%s ", wisp_state_name(st));
    if (strlen(r->seq) + strlen(one) < sizeof(r->seq))
        strcat(r->seq, one);
    if (st == WISP_STATE_DONE || st == WISP_STATE_ALL_RETRIES_FAILED || st == WISP_STATE_TIMEOUT)
        r->terminals++;
    if (r->destroy_cx_at == st) {
        r->x->cx_gone = 1;
        wisp_context_destroy(r->x->cx);
        return 0;
    }
    if (r->destroy_self_at == st)
        return WISP_CB_DESTROY;
    if (r->disconnect_at == st)
        return WISP_CB_DISCONNECT;
    return 0;
}

static int rx_cb(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    rec_t *r = user;

    (void)buf;
    (void)flags;
    r->rx_bytes += len;
    if (r->destroy_cx_in_rx && len) {
        r->destroy_cx_in_rx = 0;
        r->x->cx_gone = 1;
        wisp_context_destroy(r->x->cx);
    }
    return 0;
}

static int tx_cb(void *user, uint8_t *buf, size_t *len, unsigned *flags)
{
    rec_t *r = user;
    size_t n = *len < r->tx_left ? *len : r->tx_left;

    memset(buf, 'x', n);
    *len = n;
    r->tx_left -= n;
    if (!r->tx_left)
        *flags |= WISP_EOM;
    return 0;
}

static const wisp_stream_ops_t ops_get = {"get", rx_cb, NULL, state_cb};
static const wisp_stream_ops_t ops_get_retry = {"get_retry", rx_cb, NULL, state_cb};
static const wisp_stream_ops_t ops_post = {"post", rx_cb, tx_cb, state_cb};
static const wisp_stream_ops_t ops_timed = {"timed", rx_cb, NULL, state_cb};
static const wisp_stream_ops_t ops_named = {"named", rx_cb, NULL, state_cb};
static const wisp_stream_ops_t ops_slot = {"slot", rx_cb, NULL, state_cb};
static const wisp_stream_ops_t ops_etag = {"etag", rx_cb, NULL, state_cb};
static const wisp_stream_ops_t ops_nailed = {"nailed", rx_cb, NULL, state_cb};

/* ---- Fixture ---- */

static int setup(void **state)
{
    fx_t *x = calloc(1, sizeof(*x));
    fakenet_server_t srv = {accept_cb, request_cb, NULL};

    assert_non_null(x);
    srv.user = x;
    x->close_at = -1;
    x->fn = fakenet_new(&srv, 1);
    testalloc_init(&x->ta, 0);
    assert_int_equal(testalloc_context_plat(&x->ta, POLICY, fakenet_ops(x->fn), &x->cx), 0);
    X = x;
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fx_t *x = *state;

    if (!x->cx_gone)
        wisp_context_destroy(x->cx);
    assert_int_equal(x->ta.live_blocks, 0);
    assert_int_equal(fakenet_open(x->fn), 0);
    fakenet_free(x->fn);
    free(x);
    return 0;
}

static rec_t *mk(fx_t *x, int i, const wisp_stream_ops_t *ops)
{
    rec_t *r = &x->r[i];

    r->x = x;
    assert_int_equal(wisp_stream_create(x->cx, ops, r, &r->s), 0);
    return r;
}

static int req(rec_t *r)
{
    int ret;

    r->requests++; /* first: the cycle may end inside the call */
    ret = wisp_stream_request_tx(r->s);
    if (ret)
        r->requests--;
    return ret;
}

/* Run the loop until nothing is left to do (bounded). */
static void run(fx_t *x, int iterations)
{
    while (iterations-- > 0 && !x->cx_gone) {
        int ret = wisp_service(x->cx, 100);

        if (ret == WISP_ECANCELED)
            return;
        assert_int_equal(ret, 0);
    }
}

static void settled(const rec_t *r)
{
    if (r->s && r->terminals != r->requests)
        fail_msg("%u requests, %u terminal states: %s", r->requests, r->terminals, r->seq);
}

/* ---- Defect 1: the keep-alive race ---- */

static void test_keepalive_race_get_not_lost(void **state)
{
    fx_t *x = *state;
    wisp_stats_t st;
    int i;

    x->close_at = 37; /* answers 37, then closes as request 38 arrives */
    for (i = 0; i < 100; i++)
        assert_int_equal(req(mk(x, i, &ops_get)), 0);
    run(x, 2000);
    for (i = 0; i < 100; i++) {
        settled(&x->r[i]);
        if (!strstr(x->r[i].seq, "DONE") || strstr(x->r[i].seq, "DISCONNECTED"))
            fail_msg("stream %d: %s", i, x->r[i].seq);
    }
    wisp_get_stats(x->cx, &st);
    assert_int_equal(st.transactions, 100);
    assert_int_equal(st.retries, 0);
    assert_int_equal(fakenet_accepted(x->fn), 2);
    assert_int_equal(fakenet_requests(x->fn), 101); /* #38 twice, once unanswered */
    assert_string_equal(x->r[37].seq, "CREATED "
                                      "QUEUED CONNECTED CONNECTING CONNECTED ACK DONE ");
}

static void test_keepalive_race_post_stale(void **state)
{
    fx_t *x = *state;
    rec_t *a = mk(x, 0, &ops_post), *b = mk(x, 1, &ops_post);

    x->close_at = 1;
    a->tx_left = 10;
    b->tx_left = 10;
    assert_int_equal(req(a), 0);
    assert_int_equal(req(b), 0);
    run(x, 200);
    assert_string_equal(a->seq, "CREATED "
                                "CONNECTING CONNECTED ACK DONE ");
    assert_string_equal(b->seq, "CREATED "
                                "QUEUED CONNECTED "
                                "DISCONNECTED:connection closed before the request was answered "
                                "ALL_RETRIES_FAILED:connection closed before the request was "
                                "answered ");
    settled(a);
    settled(b);
    assert_int_equal(fakenet_accepted(x->fn), 1); /* a POST is never resent by wisp */
}

/* ---- Defect 2: every cycle ends in one terminal state ---- */

static void test_drop_mid_body_is_terminal(void **state)
{
    fx_t *x = *state;
    rec_t *r = mk(x, 0, &ops_get);

    x->cut_body = 1;
    assert_int_equal(req(r), 0);
    run(x, 100);
    assert_string_equal(r->seq, "CREATED "
                                "CONNECTING CONNECTED ACK DISCONNECTED:connection closed by peer "
                                "ALL_RETRIES_FAILED:connection closed by peer ");
    settled(r);
}

static void test_drop_mid_body_retries_then_terminal(void **state)
{
    fx_t *x = *state;
    rec_t *r = mk(x, 0, &ops_get_retry);

    x->cut_body = 1;
    assert_int_equal(req(r), 0);
    run(x, 200);
    settled(r);
    assert_int_equal(r->terminals, 1);
    assert_non_null(strstr(r->seq, "RETRYING"));
    assert_non_null(strstr(r->seq, "ALL_RETRIES_FAILED:connection closed by peer "));
    assert_int_equal(fakenet_accepted(x->fn), 3); /* first try + conceal 2 */
}

/* ---- Defect 3: a queued stream destroys itself on promotion ---- */

static void test_promoted_stream_destroys_itself(void **state)
{
    fx_t *x = *state;
    rec_t *a = mk(x, 0, &ops_get), *b = mk(x, 1, &ops_get), *c = mk(x, 2, &ops_get);

    x->refuse_first = 1;
    b->destroy_self_at = WISP_STATE_CONNECTING;
    assert_int_equal(req(a), 0);
    assert_int_equal(req(b), 0);
    assert_int_equal(req(c), 0);
    run(x, 100);
    assert_string_equal(a->seq, "CREATED "
                                "CONNECTING CONNECTION_FAILED:connection refused "
                                "ALL_RETRIES_FAILED:connection refused ");
    assert_string_equal(b->seq, "CREATED "
                                "QUEUED CONNECTING ");
    assert_int_equal(b->destroying, 1);
    assert_string_equal(c->seq, "CREATED "
                                "QUEUED CONNECTING CONNECTED ACK DONE ");
}

/* SPEC §7: a leader that fails fails alone; the next queued stream becomes leader
 * and the others stay queued on it: one more connection, not one per stream. */
/* n streams of ops created and asked at once: the first leads, the rest queue. */
static void queue(fx_t *x, rec_t **r, int n, const wisp_stream_ops_t *ops)
{
    int i;

    for (i = 0; i < n; i++) {
        r[i] = mk(x, i, ops);
        assert_int_equal(req(r[i]), 0);
    }
}

static void test_failed_leader_promotes_one(void **state)
{
    fx_t *x = *state;
    rec_t *r[5];
    int i;

    x->refuse_first = 1;
    queue(x, r, 5, &ops_get);
    run(x, 200);
    assert_string_equal(r[0]->seq, "CREATED "
                                   "CONNECTING CONNECTION_FAILED:connection refused "
                                   "ALL_RETRIES_FAILED:connection refused ");
    assert_string_equal(r[1]->seq, "CREATED QUEUED CONNECTING CONNECTED ACK DONE ");
    for (i = 2; i < 5; i++)
        assert_string_equal(r[i]->seq, "CREATED QUEUED CONNECTED ACK DONE ");
    /* The refused connection and the new leader's, which the other three share. */
    {
        wisp_stats_t st;

        wisp_get_stats(x->cx, &st);
        assert_int_equal(st.conns_opened, 2);
        assert_int_equal(st.transactions, 4);
        assert_int_equal(st.reuses, 3);
    }
}

/* The other ways a leader fails (SPEC §7: DNS, refused, reset, timeout): each time
 * the leader fails alone, the next queued stream leads on a connection of its own,
 * and the rest share that one. */
static void expect_promoted(fx_t *x, rec_t **r, int n, unsigned conns)
{
    wisp_stats_t st;
    int i;

    assert_string_equal(r[1]->seq, "CREATED QUEUED CONNECTING CONNECTED ACK DONE ");
    for (i = 2; i < n; i++)
        assert_string_equal(r[i]->seq, "CREATED QUEUED CONNECTED ACK DONE ");
    for (i = 0; i < n; i++)
        settled(r[i]);
    wisp_get_stats(x->cx, &st);
    assert_int_equal(st.conns_opened, conns);
    assert_int_equal(st.transactions, n - 1);
    assert_int_equal(st.reuses, n - 2);
}

/* Five GETs queued with the server scripted by the caller's flags; the leader's
 * states must be leader_seq, then expect_promoted(). */
static void leader_fails(fx_t *x, int iterations, const char *leader_seq)
{
    rec_t *r[5];

    queue(x, r, 5, &ops_get);
    run(x, iterations);
    assert_string_equal(r[0]->seq, leader_seq);
    expect_promoted(x, r, 5, 2);
}

static void test_leader_connect_timeout_promotes_one(void **state)
{
    fx_t *x = *state;

    x->hang_first = 1;
    leader_fails(x, 400,
                 "CREATED CONNECTING CONNECTION_FAILED:timed out ALL_RETRIES_FAILED:timed out ");
}

static void test_leader_reset_promotes_one(void **state)
{
    fx_t *x = *state;

    /* A fresh connection reset before any byte of the answer is not the keep-alive
     * race (nothing was reused): the leader's cycle ends, failed. */
    x->reset_first = 1;
    leader_fails(x, 200,
                 "CREATED CONNECTING CONNECTED DISCONNECTED:connection reset by peer "
                 "ALL_RETRIES_FAILED:connection reset by peer ");
}

#define TLS_POLICY_FMT                                                                             \
    "{\"schema\":1,\"certs\":{\"ca\":\"%s\"},\"trust_stores\":{\"ts\":{\"certs\":[\"ca\"]}},"      \
    "\"streams\":{\"tls\":{\"endpoint\":\"127.0.0.1\",\"trust_store\":\"ts\",\"url\":\"/t\","      \
    "\"connect_timeout_ms\":700}}}"

/* A TLS leader whose server accepts and never answers the ClientHello: the connect
 * timeout, which runs across resolve, TCP and the TLS handshake, fails the leader in
 * the middle of its handshake, alone, and the next queued stream leads on a
 * connection of its own, with a timer of its own. The fake server speaks no TLS, so
 * each leader in turn meets the same: three connections, a ClientHello written on
 * each and nothing back, one terminal state per stream, each at its own deadline. */
static void test_leader_tls_handshake_timeout_promotes_one(void **state)
{
    fx_t *x = *state;
    static const wisp_stream_ops_t ops_tls = {"tls", rx_cb, NULL, state_cb};
    char *ca = test_cert_json("ca.pem"), *pol;
    rec_t *r[3];
    wisp_stats_t st;
    uint64_t t0;
    size_t cap, len;
    const uint8_t *hello;
    int i;

    assert_non_null(ca);
    cap = sizeof(TLS_POLICY_FMT) + strlen(ca);
    pol = malloc(cap);
    assert_non_null(pol);
    snprintf(pol, cap, TLS_POLICY_FMT, ca);
    wisp_context_destroy(x->cx);
    assert_int_equal(testalloc_context_plat(&x->ta, pol, fakenet_ops(x->fn), &x->cx), 0);
    free(pol);
    free(ca);

    t0 = fakenet_now(x->fn);
    queue(x, r, 3, &ops_tls);
    run(x, 200);
    assert_string_equal(
        r[0]->seq, "CREATED CONNECTING CONNECTION_FAILED:timed out ALL_RETRIES_FAILED:timed out ");
    for (i = 1; i < 3; i++)
        assert_string_equal(r[i]->seq, "CREATED QUEUED CONNECTING CONNECTION_FAILED:timed out "
                                       "ALL_RETRIES_FAILED:timed out ");
    for (i = 0; i < 3; i++)
        settled(r[i]);
    /* Each leader had its own 700 ms: a follower that inherited the first deadline
     * would have failed with it. */
    assert_true(fakenet_now(x->fn) - t0 >= 3 * 700);
    assert_int_equal(fakenet_accepted(x->fn), 3);
    for (i = 0; i < 3; i++) {
        hello = fake_written(x->conn[i], &len);
        assert_true(len > 5 && hello[0] == 0x16 && hello[1] == 0x03); /* a handshake record */
    }
    wisp_get_stats(x->cx, &st);
    assert_int_equal(st.conns_opened, 3);
    assert_int_equal(st.handshakes_full, 0);
    assert_int_equal(st.transactions, 0);
}

static void test_leader_dns_failure_fails_alone(void **state)
{
    fx_t *x = *state;
    rec_t *r[3];
    wisp_stats_t st;
    int i;

    fakenet_dns_fail(x->fn, "host.test");
    queue(x, r, 3, &ops_named);
    run(x, 100);
    /* Each stream leads in turn, resolves once, and fails on its own retry policy
     * (none): three lookups, no connection, one terminal state each. */
    assert_string_equal(r[0]->seq, "CREATED "
                                   "CONNECTING CONNECTION_FAILED:name resolution failed "
                                   "ALL_RETRIES_FAILED:name resolution failed ");
    for (i = 1; i < 3; i++)
        assert_string_equal(r[i]->seq, "CREATED QUEUED "
                                       "CONNECTING CONNECTION_FAILED:name resolution failed "
                                       "ALL_RETRIES_FAILED:name resolution failed ");
    for (i = 0; i < 3; i++)
        settled(r[i]);
    wisp_get_stats(x->cx, &st);
    assert_int_equal(st.conns_opened, 0);
    assert_int_equal(fakenet_dns_pending(x->fn), 0);
}

/* ---- nailed_up: connected with no request, reconnected when lost, paced ---- */

static void close_now(fake_conn_t *c, void *arg)
{
    (void)arg;
    fake_close(c);
}

static int close_first_on_accept(void *user, fake_conn_t *c, unsigned i)
{
    (void)user;
    if (i == 0)
        fake_later(c, 100, close_now, NULL); /* the server drops the idle connection */
    return FN_ACCEPT;
}

static void test_nailed_reconnects_when_dropped(void **state)
{
    fx_t *x = *state;
    rec_t *r;
    wisp_stats_t st;
    fakenet_server_t srv = {close_first_on_accept, request_cb, NULL};

    wisp_context_destroy(x->cx); /* this test's server drops connection 0 after 100 ms */
    fakenet_free(x->fn);
    srv.user = x;
    x->fn = fakenet_new(&srv, 1);
    assert_int_equal(testalloc_context_plat(&x->ta, POLICY, fakenet_ops(x->fn), &x->cx), 0);
    r = mk(x, 0, &ops_nailed);
    run(x, 30);
    assert_int_equal(fakenet_accepted(x->fn), 2); /* dropped once, reconnected once */
    assert_int_equal(fakenet_open(x->fn), 1);
    assert_int_equal(fakenet_requests(x->fn), 0); /* held up, nothing asked */
    assert_int_equal(req(r), 0);
    run(x, 30);
    settled(r);
    assert_string_equal(r->seq, "CREATED CONNECTED ACK DONE ");
    wisp_get_stats(x->cx, &st);
    assert_int_equal(st.reuses, 0);
}

static void test_nailed_refused_is_paced(void **state)
{
    fx_t *x = *state;
    uint64_t t0 = fakenet_now(x->fn);

    x->refuse_all = 1;
    (void)mk(x, 0, &ops_nailed);
    run(x, 100);
    /* One attempt per retry delay (10 ms) of virtual time, never a tight loop. */
    assert_true(fakenet_accepted(x->fn) >= 2);
    assert_true(fakenet_accepted(x->fn) <= (fakenet_now(x->fn) - t0) / 10 + 1);
}

/* ---- Defect 5: the context destroyed from inside callbacks ---- */

static void destroy_cx_from(wisp_state_t at, int in_rx, int queued)
{
    fx_t *x = X;
    rec_t *a = mk(x, 0, &ops_get), *b = mk(x, 1, &ops_get);
    int i, ret = 0;

    if (queued)
        b->destroy_cx_at = at;
    else
        a->destroy_cx_at = at;
    a->destroy_cx_in_rx = in_rx;
    (void)req(a);
    if (!x->cx_gone)
        (void)req(b);
    for (i = 0; i < 100 && !x->cx_gone; i++) {
        ret = wisp_service(x->cx, 100);
        /* Destroyed inside wisp_service: that call says so, no other failure. */
        assert_int_equal(ret, x->cx_gone ? WISP_ECANCELED : 0);
    }
    assert_true(x->cx_gone);
    assert_int_equal(a->destroying, 1);
    assert_int_equal(b->destroying, 1);
    assert_int_equal(x->ta.live_blocks, 0);
}

static void test_cx_destroy_in_connecting(void **state)
{
    (void)state;
    destroy_cx_from(WISP_STATE_CONNECTING, 0, 0); /* inside request_tx */
}

static void test_cx_destroy_in_queued(void **state)
{
    (void)state;
    destroy_cx_from(WISP_STATE_QUEUED, 0, 1);
}

static void test_cx_destroy_in_connected(void **state)
{
    (void)state;
    destroy_cx_from(WISP_STATE_CONNECTED, 0, 0);
}

static void test_cx_destroy_in_ack(void **state)
{
    (void)state;
    destroy_cx_from(WISP_STATE_ACK, 0, 0);
}

static void test_cx_destroy_in_done(void **state)
{
    (void)state;
    destroy_cx_from(WISP_STATE_DONE, 0, 0);
}

static void test_cx_destroy_in_rx(void **state)
{
    (void)state;
    destroy_cx_from(0, 1, 0);
}

static void test_cx_destroy_returns_ecanceled(void **state)
{
    fx_t *x = *state;
    rec_t *a = mk(x, 0, &ops_get);
    int ret = 0, i;

    a->destroy_cx_at = WISP_STATE_ACK;
    assert_int_equal(req(a), 0);
    for (i = 0; i < 100 && !x->cx_gone; i++)
        ret = wisp_service(x->cx, 100);
    assert_true(x->cx_gone);
    assert_int_equal(ret, WISP_ECANCELED);
    assert_int_equal(a->destroying, 1);
}

/* ---- Defect 7: the smaller ones ---- */

static void test_now_ms_null(void **state)
{
    (void)state;
    assert_int_equal(wisp_now_ms(NULL), 0);
}

static void test_metadata_length_checked_first(void **state)
{
    fx_t *x = *state;
    rec_t *r = mk(x, 0, &ops_slot);
    char small[4] = "abc";

    /* A length far past the buffer: must be refused before a byte is read. */
    assert_int_equal(wisp_stream_set_metadata(r->s, "h", small, (size_t)1 << 40), WISP_ETOOBIG);
}

static void test_request_len_without_tx(void **state)
{
    fx_t *x = *state;
    rec_t *r = mk(x, 0, &ops_get);

    assert_int_equal(wisp_stream_request_tx_len(r->s, 10), WISP_EINVAL);
    assert_int_equal(wisp_stream_request_tx_len(r->s, 0), 0);
    r->requests++;
    run(x, 50);
    settled(r);
}

static void test_endpoint_slot_crlf_refused_now(void **state)
{
    fx_t *x = *state;
    rec_t *r = mk(x, 0, &ops_slot);

    assert_int_equal(wisp_stream_set_metadata(r->s, "h", "a\r\nb", 4), 0); /* not a header slot */
    assert_int_equal(wisp_stream_request_tx(r->s), WISP_EHEADER);
    assert_string_equal(r->seq, "CREATED "); /* no callback for a refused call */
    assert_int_equal(wisp_stream_set_metadata(r->s, "h", "127.0.0.1", 9), 0);
    assert_int_equal(req(r), 0);
    run(x, 50);
    assert_string_equal(r->seq, "CREATED CONNECTING CONNECTED ACK DONE ");
}

/* Defect 6: a slot bound to "ETag" (the policy's spelling) fills from any spelling
 * of the response header; so does one bound to "etag". */
static void test_mixed_case_header_slot_fills(void **state)
{
    fx_t *x = *state;
    rec_t *r = mk(x, 0, &ops_etag);
    const void *v = NULL;
    size_t len = 0;

    assert_int_equal(req(r), 0);
    run(x, 50);
    assert_string_equal(r->seq, "CREATED CONNECTING CONNECTED ACK DONE ");
    assert_int_equal(wisp_stream_get_metadata(r->s, "tag", &v, &len), 0);
    assert_int_equal(len, 5);
    assert_memory_equal(v, "\"v42\"", 5);
    assert_int_equal(wisp_stream_get_metadata(r->s, "low", &v, &len), 0);
    assert_int_equal(len, 5);
}

/* SPEC §8: a ${slot} that makes the endpoint a short IPv4 spelling is refused at
 * request_tx, before anything resolves it as a number. */
static void test_endpoint_slot_short_ipv4_refused(void **state)
{
    fx_t *x = *state;
    rec_t *r = mk(x, 0, &ops_slot);
    const char *const bad[] = {"127.1", "2130706433", "0x7f.1", "0177.0.0.1"};
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(wisp_stream_set_metadata(r->s, "h", bad[i], strlen(bad[i])), 0);
        assert_int_equal(wisp_stream_request_tx(r->s), WISP_EINVAL);
    }
    assert_int_equal(fakenet_accepted(x->fn), 0);
    assert_string_equal(r->seq, "CREATED ");
}

static void stop_in_ack_cb(wisp_context_t *cx, void *arg)
{
    (void)arg;
    wisp_stop(cx);
}

static void test_stop_from_callback_ends_this_iteration(void **state)
{
    fx_t *x = *state;

    assert_int_equal(wisp_post(x->cx, stop_in_ack_cb, NULL), 0);
    assert_int_equal(wisp_service(x->cx, 0), WISP_ECANCELED);
    assert_int_equal(wisp_service(x->cx, 0), 0);
    wisp_stop(x->cx);
    assert_int_equal(wisp_service(x->cx, 0), WISP_ECANCELED);
}

static void test_one_pending_request_at_most(void **state)
{
    fx_t *x = *state;
    rec_t *r = mk(x, 0, &ops_get);

    assert_int_equal(req(r), 0);
    assert_int_equal(req(r), 0); /* remembered */
    assert_int_equal(wisp_stream_request_tx(r->s), WISP_EBUSY);
    run(x, 100);
    settled(r);
    assert_int_equal(r->terminals, 2);
    assert_int_equal(fakenet_requests(x->fn), 2);
}

static void test_timeout_needs_a_transaction(void **state)
{
    fx_t *x = *state;
    rec_t *r = mk(x, 0, &ops_get);

    assert_int_equal(wisp_stream_start_timeout(r->s, 10), WISP_ESTATE);
    run(x, 20);
    assert_null(strstr(r->seq, "TIMEOUT"));
}

static int zero_runs;
static wisp_context_t *zero_cx;

static void zero_timer(wisp__timer_t *t)
{
    zero_runs++;
    wisp__timer_start(zero_cx, t, 0); /* re-armed for "now" from its own callback */
}

static void test_zero_timer_rearmed_waits(void **state)
{
    fx_t *x = *state;
    wisp__timer_t t;

    zero_cx = x->cx;
    zero_runs = 0;
    wisp__timer_init(&t, zero_timer);
    wisp__timer_start(x->cx, &t, 0);
    assert_int_equal(wisp_service(x->cx, 0), 0);
    assert_int_equal(zero_runs, 1);
    assert_int_equal(wisp_service(x->cx, 0), 0);
    assert_int_equal(zero_runs, 2);
    wisp__timer_stop(x->cx, &t);
}

static void test_destroy_while_resolving_connects_nothing(void **state)
{
    fx_t *x = *state;
    rec_t *r = mk(x, 0, &ops_named);
    wisp_stats_t st;

    assert_int_equal(req(r), 0);
    wisp_stream_destroy(r->s);
    run(x, 20);
    assert_int_equal(fakenet_accepted(x->fn), 0);
    wisp_get_stats(x->cx, &st);
    assert_int_equal(st.conns_opened, 0);
    assert_int_equal(st.conns_live, 0);
}

static void test_close_idle(void **state)
{
    fx_t *x = *state;
    rec_t *r = mk(x, 0, &ops_get);
    wisp_stats_t st;

    assert_int_equal(req(r), 0);
    run(x, 20);
    wisp_get_stats(x->cx, &st);
    assert_int_equal(st.conns_live, 1); /* kept alive for keepalive_ms */
    assert_int_equal(wisp_context_close_idle(x->cx), 1);
    wisp_get_stats(x->cx, &st);
    assert_int_equal(st.conns_live, 0);
    assert_int_equal(fakenet_open(x->fn), 0);
}

static void test_timeout_covers_retries_and_ends_once(void **state)
{
    fx_t *x = *state;
    rec_t *r = mk(x, 0, &ops_timed);

    x->close_at = 0; /* never answered: closed on arrival */
    assert_int_equal(req(r), 0);
    run(x, 200);
    settled(r);
    assert_int_equal(r->terminals, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_keepalive_race_get_not_lost),
        T(test_keepalive_race_post_stale),
        T(test_drop_mid_body_is_terminal),
        T(test_drop_mid_body_retries_then_terminal),
        T(test_promoted_stream_destroys_itself),
        T(test_failed_leader_promotes_one),
        T(test_leader_connect_timeout_promotes_one),
        T(test_leader_reset_promotes_one),
        T(test_leader_tls_handshake_timeout_promotes_one),
        T(test_leader_dns_failure_fails_alone),
        T(test_nailed_reconnects_when_dropped),
        T(test_nailed_refused_is_paced),
        T(test_cx_destroy_in_connecting),
        T(test_cx_destroy_in_queued),
        T(test_cx_destroy_in_connected),
        T(test_cx_destroy_in_ack),
        T(test_cx_destroy_in_done),
        T(test_cx_destroy_in_rx),
        T(test_cx_destroy_returns_ecanceled),
        T(test_now_ms_null),
        T(test_metadata_length_checked_first),
        T(test_request_len_without_tx),
        T(test_endpoint_slot_crlf_refused_now),
        T(test_mixed_case_header_slot_fills),
        T(test_endpoint_slot_short_ipv4_refused),
        T(test_stop_from_callback_ends_this_iteration),
        T(test_one_pending_request_at_most),
        T(test_timeout_needs_a_transaction),
        T(test_zero_timer_rearmed_waits),
        T(test_destroy_while_resolving_connects_nothing),
        T(test_close_idle),
        T(test_timeout_covers_retries_and_ends_once),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
