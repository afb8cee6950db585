/*
 * HTTP/1.1 pipelining (SPEC §7, issue 13 §1) on the fake network: scripted servers
 * that pipeline correctly, answer only the first request of a pipeline, close after
 * N, break the framing; a POST waiting for an empty pipe; a stream destroyed while
 * its request is in the pipe; and the fallback remembered for the key. And two
 * syscall savings (issue 13 §2): no read that can only find nothing, and pipe refills
 * in batches, counted by the fake network.
 *
 * The server keeps a log of what it saw and did: "GET0.1*" is request 1 on
 * connection 0, a GET, that arrived with more bytes already behind it (the client
 * wrote the next request before this one was answered: it was pipelined); "a0.1" is
 * the answer to it; "close0" a close. Every test reads the feature off that log, so
 * it fails when pipelining is off or the fallback is gone.
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
#include "wisp/stream.h"

#define EP "\"endpoint\":\"127.0.0.1\",\"tls\":false,"
#define POLICY                                                                                     \
    "{\"schema\":1,"                                                                               \
    "\"streams\":{"                                                                                \
    "\"pg\":{" EP "\"url\":\"/g\",\"pipeline_depth\":8},"                                          \
    "\"p4\":{" EP "\"url\":\"/g\",\"pipeline_depth\":4},"                                          \
    "\"ph\":{" EP "\"url\":\"/h\",\"method\":\"HEAD\",\"pipeline_depth\":8},"                      \
    "\"pp\":{" EP "\"url\":\"/p\",\"method\":\"POST\",\"pipeline_depth\":8}"                       \
    "}}"

#define MAXS 16

typedef struct rec {
    struct fx *x;
    wisp_stream_t *s;
    char seq[256];
    char body[64];
    unsigned requests, terminals, destroying;
    size_t tx_left;
    wisp_state_t destroy_self_at;
    wisp_state_t destroy_other_at; /* destroy x->r[other] then */
    int other;
} rec_t;

typedef struct fx {
    testalloc_t ta;
    fakenet_t *fn;
    wisp_context_t *cx;
    rec_t r[MAXS];
    char log[2048];
    /* Server script: connection 0 only, unless said. */
    unsigned hold;  /* every connection: answer nothing until this many arrived */
    int close_at;   /* close instead of answering request #close_at (-1: never) */
    int junk_after; /* after answering request #junk_after, send bytes of no response */
    int stagger;    /* answer each request 1 ms after the previous answer */
    uint64_t next_answer;
    struct {
        fake_conn_t *c;
        fn_req_t q;
    } held[MAXS];
    unsigned nheld;
} fx_t;

static void logf_(fx_t *x, const char *fmt, ...)
{
    va_list ap;
    size_t n = strlen(x->log);

    va_start(ap, fmt);
    vsnprintf(x->log + n, sizeof(x->log) - n, fmt, ap);
    va_end(ap);
}

static void answer(fx_t *x, fake_conn_t *c, const fn_req_t *q)
{
    char body[32];

    snprintf(body, sizeof(body), "r%u.%u", q->conn_index, q->index);
    logf_(x, "a%u.%u ", q->conn_index, q->index);
    if (!strcmp(q->method, "HEAD"))
        fake_send_str(c, "HTTP/1.1 200 X\r\nContent-Length: 5\r\n\r\n"); /* no body */
    else
        fake_respond(c, 200, NULL, body);
    if (q->conn_index == 0 && (int)q->index == x->junk_after)
        fake_send_str(c, "JUNK\r\n");
}

static void answer_later(fake_conn_t *c, void *arg)
{
    (void)arg;
    fake_respond(c, 200, NULL, "ok");
}

static void request_cb(void *user, fake_conn_t *c, const fn_req_t *q)
{
    fx_t *x = user;
    unsigned i;

    logf_(x, "%s%u.%u%s ", q->method, q->conn_index, q->index, q->behind ? "*" : "");
    if (x->stagger) {
        uint64_t now = fakenet_now(x->fn);

        x->next_answer = (x->next_answer > now ? x->next_answer : now) + 1;
        fake_later(c, (uint32_t)(x->next_answer - now), answer_later, NULL);
        return;
    }
    if (q->conn_index == 0 && (int)q->index == x->close_at) {
        logf_(x, "close%u ", q->conn_index);
        fake_close(c);
        return;
    }
    if (q->index + 1 < x->hold) {
        x->held[x->nheld].c = c;
        x->held[x->nheld++].q = *q;
        return;
    }
    for (i = 0; i < x->nheld; i++)
        answer(x, x->held[i].c, &x->held[i].q);
    x->nheld = 0;
    answer(x, c, q);
}

/* ---- Recorder ---- */

static int state_cb(void *user, wisp_state_t st, int arg)
{
    rec_t *r = user;
    char one[96];

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
    if (r->destroy_other_at == st && r->x->r[r->other].s)
        wisp_stream_destroy(r->x->r[r->other].s);
    if (r->destroy_self_at == st)
        return WISP_CB_DESTROY;
    return 0;
}

static int rx_cb(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    rec_t *r = user;
    size_t have = strlen(r->body);

    (void)flags;
    if (len && have + len < sizeof(r->body))
        memcpy(r->body + have, buf, len), r->body[have + len] = '\0';
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

static const wisp_stream_ops_t ops_pg = {"pg", rx_cb, NULL, state_cb};
static const wisp_stream_ops_t ops_p4 = {"p4", rx_cb, NULL, state_cb};
static const wisp_stream_ops_t ops_ph = {"ph", rx_cb, NULL, state_cb};
static const wisp_stream_ops_t ops_pp = {"pp", rx_cb, tx_cb, state_cb};

/* ---- Fixture ---- */

static int setup(void **state)
{
    fx_t *x = calloc(1, sizeof(*x));
    fakenet_server_t srv = {NULL, request_cb, NULL};

    assert_non_null(x);
    srv.user = x;
    x->close_at = -1;
    x->junk_after = -1;
    x->fn = fakenet_new(&srv, 1);
    testalloc_init(&x->ta, 0);
    assert_int_equal(testalloc_context_plat(&x->ta, POLICY, fakenet_ops(x->fn), &x->cx), 0);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fx_t *x = *state;

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

static void req(rec_t *r)
{
    r->requests++;
    r->body[0] = '\0';
    assert_int_equal(wisp_stream_request_tx(r->s), 0);
}

static void run(fx_t *x, int iterations)
{
    while (iterations-- > 0)
        assert_int_equal(wisp_service(x->cx, 100), 0);
}

/* Stream i ended its one cycle in DONE with the body of answer c.n. */
static void done_with(const rec_t *r, unsigned c, unsigned n)
{
    char want[32];

    if (r->terminals != r->requests || !strstr(r->seq, "DONE") || strstr(r->seq, "FAILED") ||
        strstr(r->seq, "DISCONNECTED"))
        fail_msg("%u requests, %u terminal states: %s", r->requests, r->terminals, r->seq);
    snprintf(want, sizeof(want), "r%u.%u", c, n);
    assert_string_equal(r->body, want);
}

/* ---- A server that pipelines correctly ---- */

static void test_pipelined_in_order(void **state)
{
    fx_t *x = *state;
    wisp_stats_t st;
    int i;

    x->hold = 8; /* no answer until all 8 requests are in: only a pipeline gets one */
    for (i = 0; i < 8; i++)
        req(mk(x, i, &ops_pg));
    run(x, 20);
    assert_string_equal(x->log, "GET0.0* GET0.1* GET0.2* GET0.3* GET0.4* GET0.5* GET0.6* GET0.7 "
                                "a0.0 a0.1 a0.2 a0.3 a0.4 a0.5 a0.6 a0.7 ");
    for (i = 0; i < 8; i++)
        done_with(&x->r[i], 0, (unsigned)i); /* answers matched to requests in order */
    assert_string_equal(x->r[0].seq, "CREATED CONNECTING CONNECTED ACK DONE ");
    assert_string_equal(x->r[5].seq, "CREATED QUEUED CONNECTED ACK DONE ");
    wisp_get_stats(x->cx, &st);
    assert_int_equal(st.transactions, 8);
    assert_int_equal(st.reuses, 7);
    assert_int_equal(st.retries, 0);
    assert_int_equal(fakenet_accepted(x->fn), 1);
}

/* No more than pipeline_depth in flight: the 5th waits for the 1st answer. HEAD and
 * GET mixed: a HEAD answer announces a body it does not carry, and the next answer
 * starts right after its head. */
static void test_depth_respected_head_mixed(void **state)
{
    fx_t *x = *state;
    int i;

    x->hold = 4;
    for (i = 0; i < 6; i++)
        req(mk(x, i, i == 1 ? &ops_ph : &ops_p4));
    run(x, 20);
    assert_string_equal(x->log, "GET0.0* HEAD0.1* GET0.2* GET0.3 a0.0 a0.1 a0.2 a0.3 "
                                "GET0.4* a0.4 GET0.5 a0.5 ");
    for (i = 0; i < 6; i++)
        if (i != 1)
            done_with(&x->r[i], 0, (unsigned)i);
    assert_string_equal(x->r[1].seq, "CREATED QUEUED CONNECTED ACK DONE ");
    assert_string_equal(x->r[1].body, "");
}

/* ---- A server that answers only the first request of a pipeline, then closes ---- */

static void test_first_only_then_close(void **state)
{
    fx_t *x = *state;
    wisp_stats_t st;
    int i;

    x->close_at = 1;
    for (i = 0; i < 4; i++)
        req(mk(x, i, &ops_pg));
    run(x, 40);
    /* Connection 1 at depth 1: no request arrives with another behind it. */
    assert_string_equal(x->log, "GET0.0* a0.0 GET0.1* close0 "
                                "GET1.0 a1.0 GET1.1 a1.1 GET1.2 a1.2 ");
    done_with(&x->r[0], 0, 0);
    for (i = 1; i < 4; i++)
        done_with(&x->r[i], 1, (unsigned)i - 1);
    assert_string_equal(x->r[1].seq, "CREATED QUEUED CONNECTED CONNECTING CONNECTED ACK DONE ");
    assert_string_equal(x->r[2].seq, "CREATED QUEUED CONNECTED CONNECTED ACK DONE ");
    wisp_get_stats(x->cx, &st);
    assert_int_equal(st.retries, 0); /* the fallback is not a retry */
    assert_int_equal(st.transactions, 4);
    assert_int_equal(fakenet_accepted(x->fn), 2);
}

/* ---- A server that closes after N answers (keepalive_requests) ---- */

static void test_close_after_n(void **state)
{
    fx_t *x = *state;
    wisp_stats_t st;
    int i;

    x->close_at = 3;
    for (i = 0; i < 8; i++)
        req(mk(x, i, &ops_pg));
    run(x, 60);
    assert_string_equal(x->log, "GET0.0* a0.0 GET0.1* a0.1 GET0.2* a0.2 GET0.3* close0 "
                                "GET1.0 a1.0 GET1.1 a1.1 GET1.2 a1.2 GET1.3 a1.3 GET1.4 a1.4 ");
    for (i = 0; i < 3; i++)
        done_with(&x->r[i], 0, (unsigned)i);
    for (i = 3; i < 8; i++)
        done_with(&x->r[i], 1, (unsigned)i - 3);
    wisp_get_stats(x->cx, &st);
    assert_int_equal(st.retries, 0);
    assert_int_equal(fakenet_accepted(x->fn), 2);
}

/* ---- A server that answers out of framing: bytes after answer 0 that are no answer ---- */

static void test_out_of_framing(void **state)
{
    fx_t *x = *state;
    int i;

    x->junk_after = 0;
    for (i = 0; i < 4; i++)
        req(mk(x, i, &ops_pg));
    run(x, 40);
    /* The junk is taken for answer 1, does not parse: answers 1..3 are sent again at
     * depth 1 on a fresh connection; connection 0's late answers are never read. */
    assert_string_equal(x->log, "GET0.0* a0.0 GET0.1* a0.1 GET0.2* a0.2 GET0.3 a0.3 "
                                "GET1.0 a1.0 GET1.1 a1.1 GET1.2 a1.2 ");
    done_with(&x->r[0], 0, 0);
    for (i = 1; i < 4; i++)
        done_with(&x->r[i], 1, (unsigned)i - 1);
    assert_int_equal(fakenet_accepted(x->fn), 2);
}

/* ---- A request with a body waits for an empty pipe, and nothing is written behind it ---- */

static void test_post_waits_for_empty_pipe(void **state)
{
    fx_t *x = *state;
    rec_t *p;
    int i;

    x->hold = 2; /* the first answer only once two requests are in */
    req(mk(x, 0, &ops_pg));
    req(mk(x, 1, &ops_pg));
    p = mk(x, 2, &ops_pp);
    p->tx_left = 10;
    req(p);
    req(mk(x, 3, &ops_pg));
    req(mk(x, 4, &ops_pg));
    run(x, 40);
    /* POST0.2 came alone (GET0.1 had nothing behind it), GET0.3 only after its answer. */
    assert_string_equal(x->log, "GET0.0* GET0.1 a0.0 a0.1 POST0.2 a0.2 GET0.3* a0.3 GET0.4 a0.4 ");
    for (i = 0; i < 5; i++)
        done_with(&x->r[i], 0, (unsigned)i);
}

/* ---- A stream destroyed while its request is in the pipe ---- */

static void test_destroyed_in_pipe(void **state)
{
    fx_t *x = *state;
    rec_t *a;
    wisp_stats_t st;
    int i;

    x->hold = 4;
    a = mk(x, 0, &ops_pg);
    a->destroy_other_at = WISP_STATE_ACK; /* request 1 is out and unanswered by then */
    a->other = 1;
    req(a);
    for (i = 1; i < 4; i++)
        req(mk(x, i, &ops_pg));
    run(x, 20);
    assert_string_equal(x->log, "GET0.0* GET0.1* GET0.2* GET0.3 a0.0 a0.1 a0.2 a0.3 ");
    assert_int_equal(x->r[1].destroying, 1);
    assert_string_equal(x->r[1].body, "");
    done_with(&x->r[0], 0, 0);
    done_with(&x->r[2], 0, 2); /* answer 1 was read and dropped: 2 gets its own */
    done_with(&x->r[3], 0, 3);
    wisp_get_stats(x->cx, &st);
    assert_int_equal(st.transactions, 3);
    assert_int_equal(fakenet_accepted(x->fn), 1); /* the socket carried on */
    assert_int_equal(st.conns_live, 1);
}

/* Destroyed as it is told CONNECTED, before its request is written: nothing goes. */
static void test_destroyed_before_written(void **state)
{
    fx_t *x = *state;
    int i;

    x->hold = 3;
    for (i = 0; i < 4; i++)
        req(mk(x, i, &ops_pg));
    x->r[1].destroy_self_at = WISP_STATE_CONNECTED;
    run(x, 20);
    assert_string_equal(x->log, "GET0.0* GET0.1* GET0.2 a0.0 a0.1 a0.2 ");
    assert_int_equal(x->r[1].destroying, 1);
    done_with(&x->r[0], 0, 0);
    done_with(&x->r[2], 0, 1);
    done_with(&x->r[3], 0, 2);
}

/* ---- The fallback is remembered for the key ---- */

static void test_fallback_remembered(void **state)
{
    fx_t *x = *state;
    wisp_stats_t st;
    int i;

    x->close_at = 1;
    for (i = 0; i < 3; i++)
        req(mk(x, i, &ops_pg));
    run(x, 40);
    assert_string_equal(x->log, "GET0.0* a0.0 GET0.1* close0 GET1.0 a1.0 GET1.1 a1.1 ");
    /* The connection object goes with its socket; the memory stays with the key. */
    assert_int_equal(wisp_context_close_idle(x->cx), 1);
    wisp_get_stats(x->cx, &st);
    assert_int_equal(st.conns_live, 0);
    x->log[0] = '\0';
    for (i = 0; i < 3; i++)
        req(&x->r[i]);
    run(x, 40);
    assert_string_equal(x->log, "GET2.0 a2.0 GET2.1 a2.1 GET2.2 a2.2 ");
    for (i = 0; i < 3; i++)
        done_with(&x->r[i], 2, (unsigned)i);
}

/* ---- Syscalls (issue 13 §2) ---- */

/* Queued at depth 1: no read that can only find nothing, neither right after a
 * request went out nor before a kept-alive socket carries the next one. The one
 * EAGAIN is the first read on the fresh socket (nothing is known about it yet). */
static void test_no_eagain_reads(void **state)
{
    fx_t *x = *state;
    wisp_stats_t st;
    int i;

    for (i = 0; i < 12; i++)
        req(mk(x, i, &ops_pp)); /* POSTs: never pipelined, each handed over */
    for (i = 0; i < 12; i++)
        x->r[i].tx_left = 100;
    run(x, 60);
    for (i = 0; i < 12; i++)
        done_with(&x->r[i], 0, (unsigned)i);
    wisp_get_stats(x->cx, &st);
    assert_int_equal(st.reuses, 11);
    assert_int_equal(fakenet_recv_eagain(x->fn), 1);
    assert_int_equal(fakenet_recv_calls(x->fn), 1 + 12); /* one read per answer */
}

/* Pipelined against a server that answers one request at a time: the pipe is
 * refilled in batches (when at most half the depth is in flight), so requests leave
 * several per send, not one per answer. */
static void test_refill_in_batches(void **state)
{
    fx_t *x = *state;
    int i;

    x->stagger = 1;
    for (i = 0; i < 16; i++)
        req(mk(x, i, &ops_pg));
    run(x, 200);
    for (i = 0; i < 16; i++)
        if (x->r[i].terminals != 1 || strcmp(x->r[i].body, "ok"))
            fail_msg("stream %d: %s", i, x->r[i].seq);
    /* 8 at once, then 4 each time the pipe is half empty: 8 + 4 + 4 = 16 in 3
     * sends (one request per send would be 9 or more). */
    assert_int_equal(fakenet_send_calls(x->fn), 3);
    assert_int_equal(fakenet_accepted(x->fn), 1);
}

/* ---- Allocation failure at every site of a pipeline and its fallback ---- */

/* One run with allocation n refused: 4 pipelined GETs, the server answers the first
 * and closes (the fallback, which allocates the "does not pipeline" entry). Every
 * stream created must settle in one terminal state, and nothing may leak. Returns
 * the number of allocations refused (0: the run went through whole). */
static size_t allocfail_run(size_t n)
{
    fx_t *x = calloc(1, sizeof(*x));
    fakenet_server_t srv = {NULL, request_cb, NULL};
    size_t failed;
    int i, iter;

    assert_non_null(x);
    srv.user = x;
    x->close_at = 1;
    x->junk_after = -1;
    x->fn = fakenet_new(&srv, 1);
    testalloc_init(&x->ta, n);
    if (testalloc_context_plat(&x->ta, POLICY, fakenet_ops(x->fn), &x->cx) == 0) {
        for (i = 0; i < 4; i++) {
            rec_t *r = &x->r[i];

            r->x = x;
            if (wisp_stream_create(x->cx, &ops_pg, r, &r->s))
                continue;
            r->requests++;
            if (wisp_stream_request_tx(r->s))
                r->requests--;
        }
        for (iter = 0; iter < 200; iter++)
            assert_int_equal(wisp_service(x->cx, 100), 0);
        for (i = 0; i < 4; i++)
            if (x->r[i].s && x->r[i].terminals != x->r[i].requests)
                fail_msg("allocation %zu refused: stream %d: %u requests, %u terminal states: %s",
                         n, i, x->r[i].requests, x->r[i].terminals, x->r[i].seq);
        wisp_context_destroy(x->cx);
    }
    if (x->ta.live_blocks)
        fail_msg("allocation %zu refused: %zu blocks leaked", n, x->ta.live_blocks);
    assert_int_equal(fakenet_open(x->fn), 0);
    failed = x->ta.failed;
    fakenet_free(x->fn);
    free(x);
    return failed;
}

static void test_allocfail_sweep(void **state)
{
    size_t n;

    (void)state;
    for (n = 1; n < 2000; n++) {
        if (!allocfail_run(n)) {
            print_message("allocation failure sweep: %zu runs\n", n);
            assert_true(n > 20); /* the scenario allocates: the sweep went through them */
            return;
        }
    }
    fail_msg("still refusing allocations after %zu runs", n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
        T(test_pipelined_in_order),    T(test_depth_respected_head_mixed),
        T(test_first_only_then_close), T(test_close_after_n),
        T(test_out_of_framing),        T(test_post_waits_for_empty_pipe),
        T(test_destroyed_in_pipe),     T(test_destroyed_before_written),
        T(test_fallback_remembered),   T(test_no_eagain_reads),
        T(test_refill_in_batches),     T(test_allocfail_sweep),
#undef T
    };

#if WISP_H1_PIPELINE_MAX < 2
    (void)tests;
    printf("pipelining compiled out (WISP_H1_PIPELINE_MAX %d): nothing to test\n",
           WISP_H1_PIPELINE_MAX);
    return 0;
#else
    return cmocka_run_group_tests(tests, NULL, NULL);
#endif
}
