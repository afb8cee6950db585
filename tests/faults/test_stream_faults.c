/*
 * Client streams against a misbehaving server (badserver.py): every fault reaches the
 * state SPEC §6 documents, with the error code in the state callback's arg, and the
 * stream can then be asked again or destroyed.
 *
 *   before the request is sent (refused, reset, closed, bad certificate, handshake
 *   timeout)           CONNECTION_FAILED, then RETRYING or ALL_RETRIES_FAILED
 *   after it was sent  DISCONNECTED (RETRYING only for idempotent methods)
 *   no answer          TIMEOUT with WISP_ETIMEDOUT
 *   garbage            never NACK: a failure with WISP_EPROTO (WISP_ETOOBIG for a
 *                      response head over the parser's cap)
 *
 * Every test ends with no live vhost, connection or stream, and zero blocks held by
 * the counting allocator after wisp_context_destroy() (streamtest.c: stfx_finish).
 * Each test starts its own badserver.py (bounded: it exits with the test).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "streamtest.h"

#define HELLO "hello from badserver\n"

/* Fail with the stream's whole state history when cond does not hold. */
#define EXPECT(r, cond)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_msg("%s: expected %s\n  states: %s", (r)->type, #cond, st_seq((r), 0));           \
    } while (0)

typedef struct fx {
    badserver_t bs;
    stfx_t *f;
    int refused_fd; /* a bound, never listening socket: connecting to it is refused */
    int refused_port;
} fx_t;

/* ---- The policy: one stream type per scenario -------------------------------------- */

typedef struct ftype {
    const char *name;
    const char *extra; /* more members of the stream object */
} ftype_t;

static const ftype_t types[] = {
    {"ok", "\"url\": \"/hello\""},
    {"ok_solo", "\"url\": \"/hello\", \"reuse\": false"},
    {"nack", "\"url\": \"/status:503\", \"retry\": \"once\""},
    {"rst_head", "\"url\": \"/rst-after:10\""},
    {"rst_body", "\"url\": \"/rst-after:200\""},
    {"rst_solo", "\"url\": \"/rst-after:10\", \"reuse\": false"},
    {"midchunk", "\"url\": \"/close-mid-chunk\""},
    {"badchunk", "\"url\": \"/bad-chunk-size\""},
    {"garbage", "\"url\": \"/garbage\""},
    {"garbage_solo", "\"url\": \"/garbage\", \"reuse\": false"},
    {"huge", "\"url\": \"/huge-headers\""},
    {"noanswer", "\"url\": \"/no-answer\", \"timeout_ms\": 300"},
    {"noanswer_solo", "\"url\": \"/no-answer\", \"timeout_ms\": 600, \"reuse\": false"},
    {"noanswer_long", "\"url\": \"/no-answer\", \"timeout_ms\": 5000"},
    {"slow", "\"url\": \"/slow-headers:100\", \"timeout_ms\": 500"},
    {"slowok", "\"url\": \"/slow-headers:2\", \"timeout_ms\": 5000"},
    {"cbr", "\"url\": \"/close-before-response\""},
    {"cbr_post", "\"method\": \"POST\", \"url\": \"/close-before-response\", "
                 "\"retry\": \"once\""},
    {"kac_get", "\"url\": \"/keepalive-then-close\", \"retry\": \"once\", "
                "\"keepalive_ms\": 600"},
    {"kac_get0", "\"url\": \"/keepalive-then-close\", \"keepalive_ms\": 600"},
    {"kac_post", "\"method\": \"POST\", \"url\": \"/keepalive-then-close\", "
                 "\"retry\": \"once\", \"keepalive_ms\": 600"},
    {"cc", "\"url\": \"/connection-close\""},
    {"closedelim", "\"url\": \"/close-delimited\""},
    {"closebare", "\"url\": \"/close-delimited-bare\""},
    {"retry3", "\"url\": \"/hello\", \"retry\": \"three\""},
    {"big1m", "\"url\": \"/big:1048576\", \"timeout_ms\": 10000"},
    {"extra", "\"url\": \"/extra-response\""},
    {"nxdomain", "\"endpoint\": \"wisp-test.invalid\", \"connect_timeout_ms\": 2000"},
    {"hs_timeout", "\"url\": \"/hello\", \"connect_timeout_ms\": 300"},
};

/* Types that connect to the refused port instead of the server's. */
static const ftype_t refused_types[] = {
    {"refused3", "\"url\": \"/hello\", \"retry\": \"three\""},
    {"refused0", "\"url\": \"/hello\""},
};

static char *add_type(char *p, const ftype_t *t, int port, int tls, int first)
{
    const char *extra = t->extra;

    return st_append(p, "%s    \"%s\": {%s\"port\": %d, \"tls\": %s, %s%s%s%s}", first ? "" : ",\n",
                     t->name, strstr(extra, "\"endpoint\"") ? "" : "\"endpoint\": \"127.0.0.1\", ",
                     port, tls ? "true" : "false", tls ? "\"trust_store\": \"ts\", " : "",
                     strstr(extra, "\"timeout_ms\"") ? "" : "\"timeout_ms\": 4000, ",
                     strstr(extra, "\"keepalive_ms\"") ? "" : "\"keepalive_ms\": 100, ", extra);
}

static char *fault_policy(int port, int refused_port, int tls)
{
    char *ca = test_cert_json("ca.pem");
    char *p;
    size_t i;

    p = st_append(NULL,
                  "{\n  \"schema\": 1,\n"
                  "  \"retry\": {\n"
                  "    \"three\": {\"backoff_ms\": [50, 100], \"jitter_pct\": 0, "
                  "\"conceal\": 3},\n"
                  "    \"once\": {\"backoff_ms\": [50], \"conceal\": 1}\n  },\n"
                  "  \"certs\": {\"ca\": \"%s\"},\n"
                  "  \"trust_stores\": {\"ts\": {\"certs\": [\"ca\"]}},\n"
                  "  \"streams\": {\n",
                  ca);
    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        p = add_type(p, &types[i], port, tls, i == 0);
    for (i = 0; i < sizeof(refused_types) / sizeof(refused_types[0]); i++)
        p = add_type(p, &refused_types[i], refused_port, tls, 0);
    p = st_append(p, "\n  }\n}\n");
    free(ca);
    return p;
}

/* ---- Fixture ------------------------------------------------------------------------ */

static int setup(void **state)
{
    fx_t *x = calloc(1, sizeof(*x));
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    if (!x)
        return -1;
    x->bs.stdin_fd = -1;
    x->refused_fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (x->refused_fd < 0 || bind(x->refused_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(x->refused_fd, (struct sockaddr *)&sa, &len) != 0)
        return -1;
    x->refused_port = ntohs(sa.sin_port);
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fx_t *x = *state;

    stfx_abort(&x->f);
    badserver_stop(&x->bs);
    if (x->refused_fd >= 0)
        close(x->refused_fd);
    free(x);
    return 0;
}

/* Start badserver.py with args (TLS unless "--plain" is among them), then the context
 * (in that order: the server must not inherit the context's descriptors). */
static void start(fx_t *x, const char *const *args)
{
    int tls = 1;
    size_t i;
    char *policy;

    for (i = 0; args && args[i]; i++)
        if (strcmp(args[i], "--plain") == 0)
            tls = 0;
    badserver_start(&x->bs, args);
    policy = fault_policy(x->bs.port, x->refused_port, tls);
    x->f = stfx_open(policy);
    free(policy);
}

static void finish(fx_t *x)
{
    stfx_finish(&x->f, 3000);
}

/* ---- Helpers -------------------------------------------------------------------------- */

static void request(strec_t *r)
{
    int ret = st_request(r);

    if (ret)
        fail_msg("%s: wisp_stream_request_tx: %s", r->type, wisp_errname(ret));
}

static void wait1(fx_t *x, strec_t *r, int ms)
{
    if (!st_wait1(x->f, r, ms))
        fail_msg("%s: did not settle within %d ms\n  states: %s", r->type, ms, st_seq(r, 0));
}

static void waitn(fx_t *x, strec_t **r, size_t n, int ms)
{
    size_t i;

    if (!st_wait(x->f, r, n, ms, 100))
        for (i = 0; i < n; i++)
            if (!st_settled(r[i]))
                fail_msg("%s (#%zu): did not settle within %d ms\n  states: %s", r[i]->type, i, ms,
                         st_seq(r[i], 0));
}

static int arg_in(int arg, const int *allowed)
{
    for (; *allowed; allowed++)
        if (arg == *allowed)
            return 1;
    return 0;
}

/* One successful GET of /hello on a new stream of type: ACK 200, the body, DONE. */
static void expect_ok(fx_t *x, const char *type)
{
    strec_t *r = st_new(x->f, type);
    int ack;

    request(r);
    wait1(x, r, 5000);
    ack = st_find(r, WISP_STATE_ACK, 0);
    EXPECT(r, ack >= 0 && r->arg[ack] == 200);
    EXPECT(r, st_last(r) == WISP_STATE_DONE);
    EXPECT(r, st_count(r, WISP_STATE_DONE) == 1);
    EXPECT(r, st_find(r, WISP_STATE_DISCONNECTED, 0) < 0);
    EXPECT(r, st_find(r, WISP_STATE_CONNECTION_FAILED, 0) < 0);
    EXPECT(r, strcmp(st_body(r), HELLO) == 0);
    EXPECT(r, r->som == 1 && r->eom == 1 && r->rx_bad == 0);
    assert_int_equal(wisp_stream_status(r->s), 200);
    st_destroy(r);
}

/*
 * A fault after the request was sent, on a stream type without retry: CONNECTED, then
 * DISCONNECTED with one of the allowed codes; ACK before it exactly when ack says so
 * (-1: either); never NACK, never DONE, no retry. DISCONNECTED is never terminal: it
 * is followed at once by ALL_RETRIES_FAILED with the same code (SPEC §6).
 */
static void expect_lost(strec_t *r, const int *allowed, int ack)
{
    int c = st_find(r, WISP_STATE_CONNECTED, 0), d = st_find(r, WISP_STATE_DISCONNECTED, 0);
    int a = st_find(r, WISP_STATE_ACK, 0);

    EXPECT(r, c >= 0);
    EXPECT(r, d > c);
    EXPECT(r, st_count(r, WISP_STATE_DISCONNECTED) == 1);
    if (!arg_in(r->arg[d], allowed))
        fail_msg("%s: DISCONNECTED with %s\n  states: %s", r->type, wisp_errname(r->arg[d]),
                 st_seq(r, 0));
    EXPECT(r, st_find(r, WISP_STATE_NACK, 0) < 0);
    EXPECT(r, st_find(r, WISP_STATE_DONE, 0) < 0);
    EXPECT(r, st_find(r, WISP_STATE_RETRYING, 0) < 0);
    EXPECT(r, st_find(r, WISP_STATE_CONNECTION_FAILED, 0) < 0);
    if (ack == 1)
        EXPECT(r, a >= 0 && a < d && r->arg[a] == 200);
    else if (ack == 0)
        EXPECT(r, a < 0);
    EXPECT(r, st_last(r) == WISP_STATE_ALL_RETRIES_FAILED && st_last_arg(r) == r->arg[d]);
    EXPECT(r, st_find(r, WISP_STATE_ALL_RETRIES_FAILED, 0) == d + 1);
    EXPECT(r, r->eom == 0);
    EXPECT(r, r->rx_bad == 0);
}

/* The whole mid-transaction fault check: fail, ask again on the same stream (the same
 * fault again), destroy it, then prove the context still serves a good request. */
static void lost_twice(fx_t *x, const char *type, const int *allowed, int ack)
{
    strec_t *r = st_new(x->f, type);
    int round;

    for (round = 0; round < 2; round++) {
        st_reset(r);
        request(r);
        wait1(x, r, 5000);
        expect_lost(r, allowed, ack);
    }
    assert_int_equal(stfx_stats(x->f).retries, 0);
    st_destroy(r);
    expect_ok(x, "ok");
    assert_int_equal(stfx_stats(x->f).retries, 0);
}

static const int E_RESET[] = {WISP_ERESET, 0};
static const int E_CLOSED[] = {WISP_ECLOSED, 0};
static const int E_PROTO[] = {WISP_EPROTO, 0};
/* A body cut short by a close: the connection's end or the framing's verdict. */
static const int E_TRUNCATED[] = {WISP_ECLOSED, WISP_EPROTO, 0};
/* A response head over the cap: the limit, or a protocol error. */
static const int E_HEADTOOBIG[] = {WISP_ETOOBIG, WISP_EPROTO, 0};

/* ---- Before the request: CONNECTION_FAILED ------------------------------------------ */

#define REFUSED_SEQ                                                                                \
    "CONNECTING CONNECTION_FAILED:WISP_EREFUSED RETRYING:50 "                                      \
    "CONNECTING CONNECTION_FAILED:WISP_EREFUSED RETRYING:100 "                                     \
    "CONNECTING CONNECTION_FAILED:WISP_EREFUSED RETRYING:100 "                                     \
    "CONNECTING CONNECTION_FAILED:WISP_EREFUSED ALL_RETRIES_FAILED:WISP_EREFUSED"

/* backoff_ms [50, 100], conceal 3, no jitter, against a port that refuses: three
 * concealed failures with the table's delays (the last repeating), then the fourth
 * ends the cycle. A new request_tx starts a fresh cycle. */
static void test_refused_backoff_conceal(void **state)
{
    fx_t *x = *state;
    strec_t *r;
    uint64_t t0, took;
    int round;

    start(x, NULL);
    r = st_new(x->f, "refused3");
    for (round = 1; round <= 2; round++) {
        st_reset(r);
        t0 = st_now_ms();
        request(r);
        wait1(x, r, 5000);
        took = st_now_ms() - t0;
        if (strcmp(st_seq(r, 0), REFUSED_SEQ) != 0)
            fail_msg("round %d:\n  got  %s\n  want %s", round, st_seq(r, 0), REFUSED_SEQ);
        assert_int_equal(stfx_stats(x->f).retries, 3 * round);
        /* The backoff was waited (a lower bound only: no timing upper bound). */
        if (took < 250)
            fail_msg("round %d took %llu ms, less than the 250 ms of backoff", round,
                     (unsigned long long)took);
        assert_int_equal(wisp_stream_state(r->s), WISP_STATE_ALL_RETRIES_FAILED);
    }
    assert_int_equal(stfx_stats(x->f).handshakes_full, 0);
    finish(x);
}

/* Without a retry policy a refused connection ends the cycle at once. */
static void test_refused_no_retry(void **state)
{
    fx_t *x = *state;
    strec_t *r;

    start(x, NULL);
    r = st_new(x->f, "refused0");
    request(r);
    wait1(x, r, 3000);
    EXPECT(r, strcmp(st_seq(r, 0), "CONNECTING CONNECTION_FAILED:WISP_EREFUSED "
                                   "ALL_RETRIES_FAILED:WISP_EREFUSED") == 0);
    assert_int_equal(stfx_stats(x->f).retries, 0);
    /* Destroy from inside the next cycle's first callback. */
    st_reset(r);
    r->destroy_at = WISP_STATE_CONNECTING;
    request(r);
    st_run_for(x->f->cx, 100);
    EXPECT(r, r->destroying == 1);
    finish(x);
}

/* The server closes the TCP connection at accept: the handshake fails. */
static void test_close_on_accept(void **state)
{
    static const char *const args[] = {"--scenario", "close-on-accept", NULL};
    static const int allowed[] = {WISP_ECLOSED, WISP_ERESET, 0};
    fx_t *x = *state;
    strec_t *r;
    int cf, round;

    start(x, args);
    r = st_new(x->f, "ok");
    for (round = 0; round < 2; round++) {
        st_reset(r);
        request(r);
        wait1(x, r, 3000);
        cf = st_find(r, WISP_STATE_CONNECTION_FAILED, 0);
        EXPECT(r, cf >= 0 && arg_in(r->arg[cf], allowed));
        EXPECT(r, st_find(r, WISP_STATE_CONNECTED, 0) < 0);
        EXPECT(r, st_last(r) == WISP_STATE_ALL_RETRIES_FAILED);
        EXPECT(r, st_last_arg(r) == r->arg[cf]);
    }
    assert_int_equal(stfx_stats(x->f).retries, 0);
    assert_int_equal(stfx_stats(x->f).handshakes_full, 0);
    finish(x);
    assert_int_equal(badserver_count(&x->bs, "accept "), 2);
}

/* A reset at accept, with a retry policy: every attempt reconnects (4 accepts). */
static void test_rst_on_accept_retried(void **state)
{
    static const char *const args[] = {"--scenario", "rst-on-accept", NULL};
    fx_t *x = *state;
    strec_t *r;

    start(x, args);
    r = st_new(x->f, "retry3");
    request(r);
    wait1(x, r, 5000);
    EXPECT(r, strcmp(st_seq(r, 0), "CONNECTING CONNECTION_FAILED:WISP_ERESET RETRYING:50 "
                                   "CONNECTING CONNECTION_FAILED:WISP_ERESET RETRYING:100 "
                                   "CONNECTING CONNECTION_FAILED:WISP_ERESET RETRYING:100 "
                                   "CONNECTING CONNECTION_FAILED:WISP_ERESET "
                                   "ALL_RETRIES_FAILED:WISP_ERESET") == 0);
    assert_int_equal(stfx_stats(x->f).retries, 3);
    finish(x);
    assert_int_equal(badserver_count(&x->bs, "accept "), 4);
}

/* TCP up, the server never speaks TLS: connect_timeout_ms ends the attempt. */
static void test_handshake_timeout(void **state)
{
    static const char *const args[] = {"--scenario", "no-handshake", NULL};
    fx_t *x = *state;
    strec_t *r;

    start(x, args);
    r = st_new(x->f, "hs_timeout");
    request(r);
    wait1(x, r, 3000);
    EXPECT(r, strcmp(st_seq(r, 0), "CONNECTING CONNECTION_FAILED:WISP_ETIMEDOUT "
                                   "ALL_RETRIES_FAILED:WISP_ETIMEDOUT") == 0);
    assert_int_equal(stfx_stats(x->f).conns_live, 0); /* the attempt's connection closed */
    assert_int_equal(badserver_wait_count(&x->bs, "close ", 1, 2000), 1);
    finish(x);
}

/* A name that does not resolve (.invalid never does, RFC 6761): CONNECTION_FAILED
 * with WISP_EDNS, or WISP_ETIMEDOUT if the resolver itself hangs past the connect
 * timeout on a machine with broken DNS; either way bounded and clean. */
static void test_dns_failure(void **state)
{
    static const int allowed[] = {WISP_EDNS, WISP_ETIMEDOUT, 0};
    fx_t *x = *state;
    strec_t *r;
    int cf;

    start(x, NULL);
    r = st_new(x->f, "nxdomain");
    request(r);
    wait1(x, r, 5000);
    cf = st_find(r, WISP_STATE_CONNECTION_FAILED, 0);
    EXPECT(r, cf >= 0 && arg_in(r->arg[cf], allowed));
    EXPECT(r, st_find(r, WISP_STATE_CONNECTED, 0) < 0);
    EXPECT(r, st_last(r) == WISP_STATE_ALL_RETRIES_FAILED && st_last_arg(r) == r->arg[cf]);
    assert_int_equal(stfx_stats(x->f).conns_live, 0);
    finish(x);
}

/* A certificate that does not verify fails the leader and every stream queued on its
 * key with the code of its reason, without a retry even under a retry policy (SPEC
 * §7): one connection attempt per cycle, whatever the retry table allows (retry3:
 * conceal 3, so a retried failure would make 4). */
static void cert_failure(fx_t *x, const char *cert, int want)
{
    const char *const args[] = {"--cert", cert, NULL};
    strec_t *r[3];
    wisp_stats_t st;
    char seq[160];
    size_t i;

    snprintf(seq, sizeof(seq), "CONNECTING CONNECTION_FAILED:%s ALL_RETRIES_FAILED:%s",
             wisp_errname(want), wisp_errname(want));

    start(x, args);
    for (i = 0; i < 3; i++)
        r[i] = st_new(x->f, "retry3");
    for (i = 0; i < 3; i++)
        request(r[i]);
    waitn(x, r, 3, 3000);
    st_run_for(x->f->cx, 300); /* longer than the first backoff: no retry may start */
    EXPECT(r[0], strcmp(st_seq(r[0], 0), seq) == 0);
    for (i = 1; i < 3; i++) {
        EXPECT(r[i], st_find(r[i], WISP_STATE_QUEUED, 0) >= 0);
        EXPECT(r[i], st_last(r[i]) == WISP_STATE_ALL_RETRIES_FAILED);
        EXPECT(r[i], st_last_arg(r[i]) == want);
        EXPECT(r[i], st_find(r[i], WISP_STATE_RETRYING, 0) < 0);
        EXPECT(r[i], st_find(r[i], WISP_STATE_CONNECTED, 0) < 0);
    }
    st = stfx_stats(x->f);
    assert_int_equal(st.retries, 0);
    assert_int_equal(st.conns_opened, 1);
    assert_int_equal(st.handshakes_full, 0);
    assert_int_equal(badserver_count(&x->bs, "accept "), 1);

    /* Asked again, it fails again the same way: a cycle ends, a new one starts. */
    st_reset(r[0]);
    request(r[0]);
    wait1(x, r[0], 3000);
    EXPECT(r[0], strcmp(st_seq(r[0], 0), seq) == 0);
    assert_int_equal(stfx_stats(x->f).retries, 0);
    finish(x);
    assert_int_equal(badserver_count(&x->bs, "accept "), 2);
}

/* Streams that ask again from the failure callback of a certificate failure get a
 * new connection attempt each round, never a re-failure in the same pass. Before
 * the fix the queue was drained while the callbacks re-queued onto it: they were
 * failed again at once, with no connection attempt, for as long as they asked. */
static void test_cert_failure_requested_again(void **state)
{
    fx_t *x = *state;
    const char *const args[] = {"--cert", "other", NULL};
    strec_t *r[3];
    size_t i;

    start(x, args);
    for (i = 0; i < 3; i++) {
        r[i] = st_new(x->f, "retry3");
        r[i]->again_at = WISP_STATE_ALL_RETRIES_FAILED;
        r[i]->again = 3;
    }
    for (i = 0; i < 3; i++)
        request(r[i]);
    waitn(x, r, 3, 5000);
    for (i = 0; i < 3; i++) {
        EXPECT(r[i], st_count(r[i], WISP_STATE_ALL_RETRIES_FAILED) == 4);
        EXPECT(r[i], r[i]->again_ret == 0);
    }
    /* One attempt for the first round, and one for each round asked again. */
    assert_int_equal(badserver_count(&x->bs, "accept "), 4);
    finish(x);
}

static void test_cert_unknown_ca(void **state)
{
    cert_failure(*state, "other", WISP_ECERTUNTRUSTED);
}

static void test_cert_wrong_host(void **state)
{
    cert_failure(*state, "wronghost", WISP_ECERTNAME);
}

static void test_cert_expired(void **state)
{
    cert_failure(*state, "expired", WISP_ECERTEXPIRED);
}

static void test_cert_not_yet_valid(void **state)
{
    cert_failure(*state, "future", WISP_ECERTFUTURE);
}

static void test_cert_self_signed(void **state)
{
    cert_failure(*state, "selfsigned", WISP_ECERTSELFSIGNED);
}

static void test_cert_clientauth_only(void **state)
{
    cert_failure(*state, "clientauth", WISP_ECERTUSAGE);
}

static void test_cert_chain_too_long(void **state)
{
    cert_failure(*state, "chain-long", WISP_ECERTCHAIN);
}

/* ---- After the request: DISCONNECTED ------------------------------------------------ */

static void test_rst_in_head(void **state)
{
    fx_t *x = *state;

    start(x, NULL);
    lost_twice(x, "rst_head", E_RESET, 0);
    finish(x);
}

static void test_rst_in_body(void **state)
{
    fx_t *x = *state;

    start(x, NULL);
    lost_twice(x, "rst_body", E_RESET, 1);
    finish(x);
}

static void test_close_mid_chunk(void **state)
{
    fx_t *x = *state;

    start(x, NULL);
    lost_twice(x, "midchunk", E_TRUNCATED, 1);
    finish(x);
}

static void test_bad_chunk_size(void **state)
{
    fx_t *x = *state;

    start(x, NULL);
    lost_twice(x, "badchunk", E_PROTO, 1);
    finish(x);
}

static void test_garbage_is_not_nack(void **state)
{
    fx_t *x = *state;

    start(x, NULL);
    lost_twice(x, "garbage", E_PROTO, 0);
    finish(x);
}

static void test_huge_headers(void **state)
{
    fx_t *x = *state;

    start(x, NULL);
    lost_twice(x, "huge", E_HEADTOOBIG, 0);
    finish(x);
}

static void test_close_before_response(void **state)
{
    fx_t *x = *state;

    start(x, NULL);
    lost_twice(x, "cbr", E_CLOSED, 0);
    finish(x);
}

/* The leader of a connection times out: TIMEOUT, and its connection is closed. */
static void test_no_answer_timeout(void **state)
{
    fx_t *x = *state;
    strec_t *r;
    int round, t;

    start(x, NULL);
    r = st_new(x->f, "noanswer");
    for (round = 0; round < 2; round++) {
        st_reset(r);
        request(r);
        wait1(x, r, 3000);
        t = st_find(r, WISP_STATE_TIMEOUT, 0);
        EXPECT(r, t > st_find(r, WISP_STATE_CONNECTED, 0));
        EXPECT(r, st_find(r, WISP_STATE_CONNECTED, 0) >= 0);
        EXPECT(r, r->arg[t] == WISP_ETIMEDOUT);
        EXPECT(r, st_count(r, WISP_STATE_TIMEOUT) == 1);
        EXPECT(r, st_last(r) == WISP_STATE_TIMEOUT);
        EXPECT(r, st_find(r, WISP_STATE_ACK, 0) < 0 && st_find(r, WISP_STATE_NACK, 0) < 0);
        EXPECT(r, st_find(r, WISP_STATE_DISCONNECTED, 0) < 0);
        assert_int_equal(stfx_stats(x->f).conns_live, 0);
    }
    assert_int_equal(stfx_stats(x->f).conns_opened, 2);
    finish(x);
    assert_int_equal(badserver_wait_count(&x->bs, "close ", 2, 2000), 2);
}

/* Headers one byte every 100 ms: the transaction timeout fires mid-head. One byte
 * every 2 ms: the parser and the TLS layer assemble a head from one-byte records. */
static void test_slow_headers(void **state)
{
    fx_t *x = *state;
    strec_t *r;

    start(x, NULL);
    r = st_new(x->f, "slow");
    request(r);
    wait1(x, r, 3000);
    EXPECT(r, st_last(r) == WISP_STATE_TIMEOUT && st_last_arg(r) == WISP_ETIMEDOUT);
    EXPECT(r, st_find(r, WISP_STATE_ACK, 0) < 0);
    st_destroy(r);
    expect_ok(x, "slowok");
    finish(x);
}

/* ---- Retries after a loss: GET yes, POST never without the app asking ---------------- */

/* The keep-alive race (SPEC §7): a kept-alive connection the server closes instead of
 * answering the next request. The GET is sent again once on a fresh connection that
 * resumes TLS, whatever the retry policy, and it is not a retry: the stream sees a new
 * CONNECTING, never DISCONNECTED. Before the fix it was DISCONNECTED (ECLOSED). */
static void keepalive_race_get(fx_t *x, const char *type)
{
    strec_t *r;
    wisp_stats_t st;
    int c, a;

    start(x, NULL);
    r = st_new(x->f, type);
    request(r);
    wait1(x, r, 3000);
    EXPECT(r, st_find(r, WISP_STATE_ACK, 0) >= 0 && st_last(r) == WISP_STATE_DONE);
    st_reset(r);
    request(r);
    wait1(x, r, 3000);
    c = st_find(r, WISP_STATE_CONNECTING, 0);
    a = st_find(r, WISP_STATE_ACK, 0);
    EXPECT(r, st_find(r, WISP_STATE_DISCONNECTED, 0) < 0);
    EXPECT(r, st_find(r, WISP_STATE_RETRYING, 0) < 0);
    EXPECT(r, c >= 0 && a > c && r->arg[a] == 200);
    EXPECT(r, st_last(r) == WISP_STATE_DONE);
    EXPECT(r, strcmp(st_body(r), HELLO) == 0);
    st = stfx_stats(x->f);
    assert_int_equal(st.retries, 0);
    assert_int_equal(st.handshakes_full, 1);
    assert_int_equal(st.handshakes_resumed, 1);
    finish(x);
    assert_int_equal(badserver_count(&x->bs, "accept "), 2);
    assert_int_equal(badserver_count(&x->bs, "request "), 3);
}

static void test_keepalive_then_close_get_retried(void **state)
{
    keepalive_race_get(*state, "kac_get");
}

/* The same without a retry policy (the default): resent all the same. */
static void test_keepalive_then_close_get_no_retry(void **state)
{
    keepalive_race_get(*state, "kac_get0");
}

/* The same loss for a POST with a retry policy: DISCONNECTED with WISP_ESTALE (the
 * server closed before answering), then ALL_RETRIES_FAILED, and nothing resent. When
 * the app asks again, it goes out again (on a new connection). */
static void test_keepalive_then_close_post_not_resent(void **state)
{
    fx_t *x = *state;
    strec_t *r;
    int d, ret;

    start(x, NULL);
    r = st_new(x->f, "kac_post");
    r->tx_total = 1000;
    r->tx_piece = 300;
    ret = st_request_len(r, r->tx_total);
    assert_int_equal(ret, 0);
    wait1(x, r, 3000);
    EXPECT(r, st_find(r, WISP_STATE_ACK, 0) >= 0 && st_last(r) == WISP_STATE_DONE);
    EXPECT(r, r->tx_eoms == 1);

    st_reset(r);
    assert_int_equal(st_request_len(r, r->tx_total), 0);
    wait1(x, r, 3000);
    st_run_for(x->f->cx, 300); /* longer than the backoff: nothing may be resent */
    d = st_find(r, WISP_STATE_DISCONNECTED, 0);
    EXPECT(r, d >= 0 && r->arg[d] == WISP_ESTALE);
    EXPECT(r, st_find(r, WISP_STATE_RETRYING, 0) < 0);
    EXPECT(r, st_find(r, WISP_STATE_CONNECTING, 0) < 0);
    EXPECT(r, st_last(r) == WISP_STATE_ALL_RETRIES_FAILED && st_last_arg(r) == WISP_ESTALE);
    assert_int_equal(stfx_stats(x->f).retries, 0);
    assert_int_equal(badserver_count(&x->bs, "request "), 2);
    assert_int_equal(badserver_count(&x->bs, "accept "), 1);

    /* The app asks: sent again, whole, on a new connection. */
    st_reset(r);
    assert_int_equal(st_request_len(r, r->tx_total), 0);
    wait1(x, r, 3000);
    EXPECT(r, st_find(r, WISP_STATE_ACK, 0) >= 0 && st_last(r) == WISP_STATE_DONE);
    assert_int_equal(stfx_stats(x->f).retries, 0);
    finish(x);
    assert_int_equal(badserver_count(&x->bs, "request 1 POST /keepalive-then-close 1000"), 2);
    assert_int_equal(badserver_count(&x->bs, "request 2 POST /keepalive-then-close 1000"), 1);
}

/* A POST on a fresh connection closed without an answer: not resent either. */
static void test_close_before_response_post_not_resent(void **state)
{
    fx_t *x = *state;
    strec_t *r;
    int d;

    start(x, NULL);
    r = st_new(x->f, "cbr_post");
    r->tx_total = 5000;
    request(r); /* unknown length: chunked */
    wait1(x, r, 3000);
    st_run_for(x->f->cx, 300);
    d = st_find(r, WISP_STATE_DISCONNECTED, 0);
    EXPECT(r, d >= 0 && r->arg[d] == WISP_ECLOSED);
    EXPECT(r, st_find(r, WISP_STATE_RETRYING, 0) < 0);
    EXPECT(r, st_find(r, WISP_STATE_ACK, 0) < 0 && st_find(r, WISP_STATE_NACK, 0) < 0);
    assert_int_equal(stfx_stats(x->f).retries, 0);
    finish(x);
    assert_int_equal(badserver_count(&x->bs, "request 1 POST /close-before-response 5000"), 1);
    assert_int_equal(badserver_count(&x->bs, "request "), 1);
}

/* ---- Responses that end the connection, and queueing across them --------------------- */

/* "Connection: close" on the leader's response: the queued stream becomes leader and
 * reconnects, resuming the TLS session (SPEC §7). */
static void test_connection_close_requeues(void **state)
{
    fx_t *x = *state;
    strec_t *r[2];
    wisp_stats_t st;
    int q, c;

    start(x, NULL);
    r[0] = st_new(x->f, "cc");
    r[1] = st_new(x->f, "ok");
    request(r[0]);
    request(r[1]);
    waitn(x, r, 2, 5000);
    EXPECT(r[0], strcmp(st_seq(r[0], 0), "CONNECTING CONNECTED ACK:200 DONE") == 0);
    EXPECT(r[0], strcmp(st_body(r[0]), HELLO) == 0);
    q = st_find(r[1], WISP_STATE_QUEUED, 0);
    c = st_find(r[1], WISP_STATE_CONNECTING, 0);
    EXPECT(r[1], q >= 0 && c > q);
    EXPECT(r[1], st_find(r[1], WISP_STATE_ACK, 0) > c && st_last(r[1]) == WISP_STATE_DONE);
    EXPECT(r[1], strcmp(st_body(r[1]), HELLO) == 0);
    st = stfx_stats(x->f);
    assert_int_equal(st.conns_opened, 2);
    assert_int_equal(st.handshakes_full, 1);
    assert_int_equal(st.handshakes_resumed, 1);
    assert_int_equal(st.transactions, 2);
    assert_int_equal(st.reuses, 0);
    assert_int_equal(st.retries, 0);
    finish(x);
    assert_int_equal(badserver_count(&x->bs, "accept "), 2);
}

/* An HTTP/1.0 body delimited by the connection's end (after close_notify) is whole. */
static void test_close_delimited_body(void **state)
{
    fx_t *x = *state;

    start(x, NULL);
    expect_ok(x, "closedelim");
    stfx_assert_idle(x->f, 1000);
    expect_ok(x, "closedelim");
    assert_int_equal(stfx_stats(x->f).conns_opened, 2);
    finish(x);
}

/* SPEC §8: with TLS a body delimited by the close is complete only on close_notify.
 * A bare TCP close there (a relay cutting the stream) fails the transaction with
 * WISP_ETRUNCATED: never DONE, no EOM. Before the fix it was DONE with what came. */
static void test_close_delimited_without_close_notify(void **state)
{
    fx_t *x = *state;
    strec_t *r;

    start(x, NULL);
    r = st_new(x->f, "closebare");
    request(r);
    wait1(x, r, 3000);
    EXPECT(r, strcmp(st_seq(r, 0), "CONNECTING CONNECTED ACK:200 DISCONNECTED:WISP_ETRUNCATED "
                                   "ALL_RETRIES_FAILED:WISP_ETRUNCATED") == 0);
    EXPECT(r, r->eom == 0);
    finish(x);
}

/* A NACK is an answer, not a failure: no retry, the body, DONE. */
static void test_nack_is_not_retried(void **state)
{
    fx_t *x = *state;
    strec_t *r;

    start(x, NULL);
    r = st_new(x->f, "nack");
    request(r);
    wait1(x, r, 3000);
    EXPECT(r, strcmp(st_seq(r, 0), "CONNECTING CONNECTED NACK:503 DONE") == 0);
    EXPECT(r, strcmp(st_body(r), "status 503\n") == 0);
    assert_int_equal(wisp_stream_status(r->s), 503);
    assert_int_equal(stfx_stats(x->f).retries, 0);
    finish(x);
}

/* ---- Streams not involved carry on; destruction at awkward moments ------------------- */

/* Three faulty streams and a good one, each on its own connection, at once. */
static void test_faults_are_isolated(void **state)
{
    fx_t *x = *state;
    strec_t *r[4];
    int a;

    start(x, NULL);
    r[0] = st_new(x->f, "garbage_solo");
    r[1] = st_new(x->f, "rst_solo");
    r[2] = st_new(x->f, "noanswer_solo");
    r[3] = st_new(x->f, "ok_solo");
    request(r[0]);
    request(r[1]);
    request(r[2]);
    request(r[3]);
    waitn(x, r, 4, 5000);
    expect_lost(r[0], E_PROTO, 0);
    expect_lost(r[1], E_RESET, 0);
    EXPECT(r[2], st_last(r[2]) == WISP_STATE_TIMEOUT && st_last_arg(r[2]) == WISP_ETIMEDOUT);
    a = st_find(r[3], WISP_STATE_ACK, 0);
    EXPECT(r[3], a >= 0 && r[3]->arg[a] == 200 && st_last(r[3]) == WISP_STATE_DONE);
    EXPECT(r[3], strcmp(st_body(r[3]), HELLO) == 0);
    assert_int_equal(stfx_stats(x->f).conns_opened, 4);
    finish(x);
}

static int connected(void *arg)
{
    strec_t *r = arg;

    return st_find(r, WISP_STATE_CONNECTED, 0) >= 0;
}

/* Destroying a leader while it waits for its answer closes its connection and
 * promotes the queued stream, which connects anew (SPEC §7). The promoted stream
 * destroys itself from its DONE callback. */
static void test_destroy_leader_promotes_queue(void **state)
{
    fx_t *x = *state;
    strec_t *r[2];

    start(x, NULL);
    r[0] = st_new(x->f, "noanswer_long");
    r[1] = st_new(x->f, "ok");
    request(r[0]);
    request(r[1]);
    assert_true(st_run_until(x->f->cx, connected, r[0], 3000));
    st_run_for(x->f->cx, 100); /* the request reaches the server */
    EXPECT(r[1], st_last(r[1]) == WISP_STATE_QUEUED);
    r[1]->destroy_at = WISP_STATE_DONE;
    st_destroy(r[0]);
    waitn(x, &r[1], 1, 3000);
    EXPECT(r[0], r[0]->destroying == 1);
    EXPECT(r[1], st_find(r[1], WISP_STATE_ACK, 0) >= 0);
    EXPECT(r[1], r[1]->destroying == 1);
    EXPECT(r[1], st_find(r[1], WISP_STATE_CONNECTING, st_find(r[1], WISP_STATE_QUEUED, 0)) > 0);
    EXPECT(r[1], strcmp(st_body(r[1]), HELLO) == 0);
    assert_int_equal(stfx_stats(x->f).conns_opened, 2);
    finish(x);
    assert_int_equal(badserver_wait_count(&x->bs, "close 1", 1, 2000), 1);
}

/* A stream that destroys itself from its DISCONNECTED callback. */
static void test_destroy_from_failure_callback(void **state)
{
    fx_t *x = *state;
    strec_t *r;

    start(x, NULL);
    r = st_new(x->f, "rst_body");
    r->destroy_at = WISP_STATE_DISCONNECTED;
    request(r);
    wait1(x, r, 3000);
    EXPECT(r, r->destroying == 1);
    EXPECT(r, st_find(r, WISP_STATE_DISCONNECTED, 0) >= 0);
    EXPECT(r, st_last(r) == WISP_STATE_DISCONNECTED);
    finish(x);
}

/* A request_tx while active is remembered and served when the stream is next idle. */
static void test_request_while_active(void **state)
{
    fx_t *x = *state;
    strec_t *r;

    start(x, NULL);
    r = st_new(x->f, "ok");
    request(r);
    request(r);
    st_run_for(x->f->cx, 20);
    wait1(x, r, 3000);
    EXPECT(r, st_count(r, WISP_STATE_ACK) == 2 && st_count(r, WISP_STATE_DONE) == 2);
    EXPECT(r, st_last(r) == WISP_STATE_DONE);
    finish(x);
    assert_int_equal(badserver_count(&x->bs, "request "), 2);
}

/* A leader lost mid-transaction fails alone: the stream queued behind it becomes
 * leader and connects anew under its own policy (SPEC §7). */
static void promoted_after(fx_t *x, const char *leader_type, wisp_state_t leader_end)
{
    strec_t *r[2];
    int q, c, a;

    start(x, NULL);
    r[0] = st_new(x->f, leader_type);
    r[1] = st_new(x->f, "ok");
    request(r[0]);
    request(r[1]);
    waitn(x, r, 2, 5000);
    EXPECT(r[0], st_last(r[0]) == leader_end);
    EXPECT(r[0], st_find(r[0], WISP_STATE_ACK, 0) < 0);
    q = st_find(r[1], WISP_STATE_QUEUED, 0);
    c = st_find(r[1], WISP_STATE_CONNECTING, 0);
    a = st_find(r[1], WISP_STATE_ACK, 0);
    EXPECT(r[1], q >= 0 && c > q && a > c && r[1]->arg[a] == 200);
    EXPECT(r[1], st_last(r[1]) == WISP_STATE_DONE);
    EXPECT(r[1], st_find(r[1], WISP_STATE_DISCONNECTED, 0) < 0);
    EXPECT(r[1], st_find(r[1], WISP_STATE_TIMEOUT, 0) < 0);
    EXPECT(r[1], strcmp(st_body(r[1]), HELLO) == 0);
    assert_int_equal(stfx_stats(x->f).conns_opened, 2);
    assert_int_equal(stfx_stats(x->f).retries, 0);
    finish(x);
}

static void test_leader_reset_promotes_queue(void **state)
{
    promoted_after(*state, "rst_head", WISP_STATE_ALL_RETRIES_FAILED);
}

static void test_leader_timeout_promotes_queue(void **state)
{
    promoted_after(*state, "noanswer", WISP_STATE_TIMEOUT);
}

/* A queued stream's timeout_ms runs while it waits: it times out alone, its leader
 * and the leader's connection carry on. */
static void test_timeout_while_queued(void **state)
{
    fx_t *x = *state;
    strec_t *r[2];

    start(x, NULL);
    r[0] = st_new(x->f, "noanswer_long");
    r[1] = st_new(x->f, "noanswer");
    request(r[0]);
    request(r[1]);
    wait1(x, r[1], 3000);
    EXPECT(r[1], strcmp(st_seq(r[1], 0), "QUEUED TIMEOUT:WISP_ETIMEDOUT") == 0);
    EXPECT(r[0], st_last(r[0]) == WISP_STATE_CONNECTED);
    assert_int_equal(stfx_stats(x->f).conns_live, 1);
    assert_int_equal(stfx_stats(x->f).conns_opened, 1);
    st_destroy(r[0]);
    st_run_for(x->f->cx, 50);
    assert_int_equal(stfx_stats(x->f).conns_live, 0);
    finish(x);
    assert_int_equal(badserver_count(&x->bs, "request "), 1);
}

/* The body of big:1048576 (byte i is i * 7 mod 251), as badserver.py sends it. */
static void big_checksum(uint32_t *a, uint32_t *b)
{
    uint8_t period[251];
    size_t i, left = 1048576;

    for (i = 0; i < sizeof(period); i++)
        period[i] = (uint8_t)((i * 7) % 251);
    *a = 1;
    *b = 0;
    while (left) {
        size_t n = left < sizeof(period) ? left : sizeof(period);

        st_adler(a, b, period, n);
        left -= n;
    }
}

/* rx returns WISP_CB_DISCONNECT mid-body: DISCONNECTED with WISP_ECANCELED, no rx
 * after it, the connection closed. Asked again, the whole body arrives. */
static void test_rx_disconnect_mid_body(void **state)
{
    fx_t *x = *state;
    strec_t *r;
    uint32_t a, b;
    int d;

    start(x, NULL);
    r = st_new(x->f, "big1m");
    r->rx_action_at = 100000;
    r->rx_action = WISP_CB_DISCONNECT;
    request(r);
    wait1(x, r, 5000);
    d = st_find(r, WISP_STATE_DISCONNECTED, 0);
    EXPECT(r, d > st_find(r, WISP_STATE_ACK, 0) && st_find(r, WISP_STATE_ACK, 0) >= 0);
    EXPECT(r, r->arg[d] == WISP_ECANCELED);
    EXPECT(r, st_find(r, WISP_STATE_DONE, 0) < 0 && st_find(r, WISP_STATE_RETRYING, 0) < 0);
    EXPECT(r, r->rx_calls == r->rx_calls_at_action);
    assert_int_equal(stfx_stats(x->f).conns_live, 0);

    st_reset(r);
    request(r);
    wait1(x, r, 10000);
    EXPECT(r, st_last(r) == WISP_STATE_DONE && r->eom == 1);
    big_checksum(&a, &b);
    if (r->rx_bytes != 1048576 || r->adler_a != a || r->adler_b != b)
        fail_msg("got %llu bytes, checksum %s", (unsigned long long)r->rx_bytes,
                 r->adler_a == a && r->adler_b == b ? "right" : "wrong");
    finish(x);
}

/* The state callback returns WISP_CB_DISCONNECT at ACK: DISCONNECTED with
 * WISP_ECANCELED, then ALL_RETRIES_FAILED (the cycle's one terminal state), no body,
 * the connection closed; the stream can ask again. */
static void test_state_disconnect_at_ack(void **state)
{
    fx_t *x = *state;
    strec_t *r;

    start(x, NULL);
    r = st_new(x->f, "big1m");
    r->disconnect_at = WISP_STATE_ACK;
    request(r);
    wait1(x, r, 5000);
    EXPECT(r, strcmp(st_seq(r, 0), "CONNECTING CONNECTED ACK:200 "
                                   "DISCONNECTED:WISP_ECANCELED "
                                   "ALL_RETRIES_FAILED:WISP_ECANCELED") == 0);
    EXPECT(r, r->eom == 0);
    assert_int_equal(stfx_stats(x->f).conns_live, 0);
    st_reset(r);
    request(r);
    wait1(x, r, 10000);
    EXPECT(r, st_last(r) == WISP_STATE_DONE && r->rx_bytes == 1048576);
    finish(x);
}

static int got_destroying(void *arg)
{
    return ((strec_t *)arg)->destroying != 0;
}

/* rx returns WISP_CB_DESTROY mid-body: DESTROYING next, nothing after, and the
 * connection it led is closed (SPEC §7). */
static void test_rx_destroy_mid_body(void **state)
{
    fx_t *x = *state;
    strec_t *r;

    start(x, NULL);
    r = st_new(x->f, "big1m");
    r->rx_action_at = 100000;
    r->rx_action = WISP_CB_DESTROY;
    request(r);
    assert_true(st_run_until(x->f->cx, got_destroying, r, 5000));
    st_run_for(x->f->cx, 100);
    EXPECT(r, r->destroying == 1 && r->after_destroying == 0);
    EXPECT(r, r->rx_calls == r->rx_calls_at_action);
    EXPECT(r, st_find(r, WISP_STATE_DONE, 0) < 0);
    stfx_assert_idle(x->f, 1000);
    finish(x);
}

static int retrying(void *arg)
{
    return st_find(arg, WISP_STATE_RETRYING, 0) >= 0;
}

/* Destroyed while waiting out a backoff: no further attempt. */
static void test_destroy_during_backoff(void **state)
{
    fx_t *x = *state;
    strec_t *r;
    int rt;

    start(x, NULL);
    r = st_new(x->f, "refused3");
    request(r);
    assert_true(st_run_until(x->f->cx, retrying, r, 3000));
    rt = st_find(r, WISP_STATE_RETRYING, 0);
    st_destroy(r);
    st_run_for(x->f->cx, 300);
    EXPECT(r, r->destroying == 1);
    EXPECT(r, st_find(r, WISP_STATE_CONNECTING, (size_t)rt) < 0);
    finish(x);
}

static int busy(void *arg)
{
    strec_t **r = arg;

    return st_last(r[0]) == WISP_STATE_CONNECTED && st_last(r[1]) == WISP_STATE_QUEUED &&
           st_find(r[2], WISP_STATE_RETRYING, 0) >= 0 && st_last(r[3]) == WISP_STATE_DONE;
}

/* wisp_context_destroy() with streams in every kind of state: each gets DESTROYING
 * exactly once and nothing else, and no block is left (SPEC §5). */
static void test_context_destroy_with_live_streams(void **state)
{
    fx_t *x = *state;
    strec_t *r[4];
    size_t i;

    start(x, NULL);
    r[0] = st_new(x->f, "noanswer_long"); /* leads a connection, waiting */
    r[1] = st_new(x->f, "ok");            /* queued on it */
    r[2] = st_new(x->f, "refused3");      /* in backoff */
    r[3] = st_new(x->f, "ok_solo");       /* done, its connection kept alive */
    for (i = 0; i < 4; i++)
        request(r[i]);
    if (!st_run_until(x->f->cx, busy, r, 3000))
        fail_msg("not all busy:\n  %s\n  %s\n  %s\n  %s", st_seq(r[0], 0), st_seq(r[1], 0),
                 st_seq(r[2], 0), st_seq(r[3], 0));
    wisp_context_destroy(x->f->cx);
    x->f->cx = NULL;
    for (i = 0; i < 4; i++) {
        EXPECT(r[i], r[i]->destroying == 1);
        EXPECT(r[i], r[i]->after_destroying == 0);
    }
    if (x->f->ta.live_blocks)
        fail_msg("%zu blocks left after wisp_context_destroy", x->f->ta.live_blocks);
    stfx_abort(&x->f);
}

/* A server that sends a second, unsolicited response right after the first: the
 * stream queued behind must never be handed that response as its own (a desync); it
 * gets its own answer on a fresh connection. The guarantee covers bytes that have
 * arrived by the time the connection would be reused; a response sent only after the
 * next request went out is indistinguishable from a real one in HTTP/1.1. */
static void test_unsolicited_response_not_delivered(void **state)
{
    fx_t *x = *state;
    strec_t *r[2];
    int a;

    start(x, NULL);
    r[0] = st_new(x->f, "extra");
    r[1] = st_new(x->f, "ok");
    request(r[0]);
    request(r[1]);
    waitn(x, r, 2, 5000);
    EXPECT(r[0], st_find(r[0], WISP_STATE_ACK, 0) >= 0 && st_last(r[0]) == WISP_STATE_DONE);
    EXPECT(r[0], strcmp(st_body(r[0]), HELLO) == 0);
    if (strstr(st_body(r[1]), "unsolicited"))
        fail_msg("the queued stream got the unsolicited response as its own\n  states: %s",
                 st_seq(r[1], 0));
    a = st_find(r[1], WISP_STATE_ACK, 0);
    EXPECT(r[1], a >= 0 && st_last(r[1]) == WISP_STATE_DONE);
    EXPECT(r[1], strcmp(st_body(r[1]), HELLO) == 0);
    finish(x);
}

/* ---- Plain HTTP: the same faults without TLS ------------------------------------------ */

static void test_plain_http_faults(void **state)
{
    static const char *const args[] = {"--plain", NULL};
    fx_t *x = *state;
    wisp_stats_t st;

    start(x, args);
    expect_ok(x, "ok");
    lost_twice(x, "rst_body", E_RESET, 1);
    lost_twice(x, "garbage", E_PROTO, 0);
    lost_twice(x, "midchunk", E_TRUNCATED, 1);
    lost_twice(x, "badchunk", E_PROTO, 1);
    st = stfx_stats(x->f);
    assert_int_equal(st.handshakes_full, 0);
    assert_int_equal(st.handshakes_resumed, 0);
    finish(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_refused_backoff_conceal),
        T(test_refused_no_retry),
        T(test_close_on_accept),
        T(test_rst_on_accept_retried),
        T(test_handshake_timeout),
        T(test_dns_failure),
        T(test_cert_unknown_ca),
        T(test_cert_failure_requested_again),
        T(test_cert_wrong_host),
        T(test_cert_expired),
        T(test_cert_not_yet_valid),
        T(test_cert_self_signed),
        T(test_cert_clientauth_only),
        T(test_cert_chain_too_long),
        T(test_rst_in_head),
        T(test_rst_in_body),
        T(test_close_mid_chunk),
        T(test_bad_chunk_size),
        T(test_garbage_is_not_nack),
        T(test_huge_headers),
        T(test_close_before_response),
        T(test_no_answer_timeout),
        T(test_slow_headers),
        T(test_keepalive_then_close_get_retried),
        T(test_keepalive_then_close_get_no_retry),
        T(test_keepalive_then_close_post_not_resent),
        T(test_close_before_response_post_not_resent),
        T(test_connection_close_requeues),
        T(test_close_delimited_body),
        T(test_close_delimited_without_close_notify),
        T(test_nack_is_not_retried),
        T(test_faults_are_isolated),
        T(test_destroy_leader_promotes_queue),
        T(test_destroy_from_failure_callback),
        T(test_request_while_active),
        T(test_leader_reset_promotes_queue),
        T(test_leader_timeout_promotes_queue),
        T(test_timeout_while_queued),
        T(test_rx_disconnect_mid_body),
        T(test_rx_destroy_mid_body),
        T(test_state_disconnect_at_ack),
        T(test_destroy_during_backoff),
        T(test_context_destroy_with_live_streams),
        T(test_unsolicited_response_not_delivered),
        T(test_plain_http_faults),
#undef T
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
