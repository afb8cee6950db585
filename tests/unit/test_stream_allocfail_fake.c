/*
 * Allocation-failure sweeps on the fake network (issue 12; STYLE.md "Tests": fail the
 * n-th allocation of a whole scenario for every n). tests/faults/test_stream_allocfail.c
 * sweeps a TLS scenario against badserver.py over real sockets; this one is the
 * plaintext scenario on tests/support/fakenet.h, where a run takes microseconds, so
 * it can also sweep heap limits and check the context afterwards.
 *
 * The scenario: a context from a JSON policy (the loader's allocations), a TLS stream
 * whose creation builds its vhost (CA parsed, mbedTLS ssl_config; it never sends),
 * three GET streams of one type queued on one connection (the first leads, the other
 * two inherit it), one of them sending a metadata header and reading an ETag back,
 * and a server request: a listening server stream whose fake client (fakenet_dial)
 * sends a POST with a body that the app (tests/support/srvapp.c) answers after
 * reading it; then teardown of every stream and the listener. After it, on the
 * same context, one clean transaction (a client GET and a server request on a new
 * listener), then wisp_context_destroy().
 *
 *  1. A reference run with nothing refused counts the allocations and the peak.
 *  2. For every k from 1 to that count, the run again with allocation k refused.
 *  3. The run again with a heap limit just below the peak, and at every 1 KiB below
 *     that, down to where not even the context fits.
 *
 * Every run must end cleanly: wisp_context_create() or wisp_stream_create() returns
 * WISP_ENOMEM (and then holds nothing), or each stream's one request_tx cycle ends in
 * exactly one terminal state — DONE with the right status and body, or (only when
 * something was refused) ALL_RETRIES_FAILED or TIMEOUT — with DESTROYING once and
 * last; the server request ends the srvapp way (SERVER_REQUEST first, one DONE or
 * DISCONNECTED, DESTROYING once and last, or no callback at all when the request
 * was refused before its head was whole) and what the server wrote parses as
 * HTTP/1.1 (a 200 with the body length, or a 503, or cut short by the close);
 * nothing is live after teardown; the clean transaction afterwards succeeds
 * (under a heap limit: it succeeds, or fails cleanly and then succeeds once the limit
 * is lifted); and the counting allocator holds zero blocks after the context is
 * destroyed, with no socket left open. mbedTLS's own allocations are counted only in
 * MBEDTLS_PLATFORM_MEMORY builds (the embedded profile); Debian's 2.28 uses calloc.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/context-private.h"
#include "fakenet.h"
#include "srvapp.h"
#include "testalloc.h"
#include "testfiles.h"
#include "wisp/stream.h"

#define NGET 3
#define MAX_RUNS 20000
#define BODY "hello"
#define SRV_REQ "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world"
#define SRV_CLEAN_REQ "GET /hello HTTP/1.1\r\nHost: a\r\n\r\n"

typedef struct rec {
    wisp_stream_t *s;
    wisp_stream_ops_t ops;
    unsigned requests, terminals, destroying, after_destroying;
    wisp_state_t last;
    int last_arg;
    unsigned not_followed; /* CONNECTION_FAILED / DISCONNECTED left standing */
    char body[64];
    size_t body_len;
    char etag[32];
} rec_t;

typedef struct run {
    size_t fail_at, heap_limit;
    testalloc_t ta;
    fakenet_t *fn;
    wisp_context_t *cx;
    rec_t sec, get[NGET], clean;
    /* The server request: a listener, its app, one fake client. */
    srvapp_t app;
    wisp_stream_ops_t sops;
    wisp_stream_t *l;
    fake_conn_t *fc;
    /* What happened, for the summary. */
    int ctx_enomem, stream_enomem, failed_streams, clean_needed_lift;
    size_t allocs, peak;
    unsigned scenario_conns, scenario_vhosts, scenario_reuses;
} run_t;

static char *policy;

static void make_policy(void)
{
    char *ca = test_cert_json("ca.pem");
    size_t cap;

    assert_non_null(ca);
    cap = strlen(ca) + 1024;
    policy = malloc(cap);
    assert_non_null(policy);
    snprintf(policy, cap,
             "{\"schema\":1,\"certs\":{\"ca\":\"%s\"},"
             "\"trust_stores\":{\"ts\":{\"certs\":[\"ca\"]}},"
             "\"streams\":{"
             "\"get\":{\"endpoint\":\"127.0.0.1\",\"tls\":false,\"url\":\"/g/${id}\","
             "\"metadata\":{\"id\":null,\"rid\":\"x-request-id\",\"tag\":\"etag\"},"
             "\"timeout_ms\":2000,\"connect_timeout_ms\":1000,\"keepalive_ms\":500},"
             "\"sec\":{\"endpoint\":\"localhost\",\"trust_store\":\"ts\",\"url\":\"/s\"},"
             "\"srv\":{\"server\":true,\"bind\":\"127.0.0.1\",\"port\":0,\"tls\":false,"
             "\"max_connections\":2,\"idle_timeout_ms\":1000}}}",
             ca);
    free(ca);
}

static void quiet(void *user, int level, const char *line)
{
    (void)user;
    (void)level;
    (void)line;
}

/* ---- The server: 200 with an ETag for every request ---- */

static void on_request(void *user, fake_conn_t *c, const fn_req_t *q)
{
    (void)user;
    (void)q;
    fake_respond(c, 200, "ETag: \"v1\"\r\n", BODY);
}

/* ---- Callbacks ---- */

static int state_cb(void *user, wisp_state_t st, int arg)
{
    rec_t *r = user;

    if (r->destroying) {
        r->after_destroying++;
        return 0;
    }
    if (st == WISP_STATE_DESTROYING) {
        r->destroying++;
        r->s = NULL;
        return 0;
    }
    /* Never terminal (SPEC 6): RETRYING or ALL_RETRIES_FAILED follows at once. */
    if ((r->last == WISP_STATE_CONNECTION_FAILED || r->last == WISP_STATE_DISCONNECTED) &&
        st != WISP_STATE_RETRYING && st != WISP_STATE_ALL_RETRIES_FAILED)
        r->not_followed++;
    r->last = st;
    r->last_arg = arg;
    if (st == WISP_STATE_DONE || st == WISP_STATE_ALL_RETRIES_FAILED || st == WISP_STATE_TIMEOUT)
        r->terminals++;
    if ((st == WISP_STATE_ACK || st == WISP_STATE_NACK) && r->s) {
        const void *v = NULL;
        size_t len = 0;

        if (!wisp_stream_get_metadata(r->s, "tag", &v, &len) && v && len < sizeof(r->etag)) {
            memcpy(r->etag, v, len);
            r->etag[len] = '\0';
        }
    }
    return 0;
}

static int rx_cb(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    rec_t *r = user;

    (void)flags;
    if (r->destroying) {
        r->after_destroying++;
        return 0;
    }
    if (len && r->body_len + len < sizeof(r->body)) { /* the EOM call may be (NULL, 0) */
        memcpy(r->body + r->body_len, buf, len);
        r->body_len += len;
    }
    return 0;
}

static int create(run_t *x, rec_t *r, const char *type)
{
    int ret;

    memset(r, 0, sizeof(*r));
    r->ops.type = type;
    r->ops.rx = rx_cb;
    r->ops.state = state_cb;
    ret = wisp_stream_create(x->cx, &r->ops, r, &r->s);
    if (ret) {
        if (ret != WISP_ENOMEM)
            fail_msg("k=%zu limit=%zu: wisp_stream_create(%s): %s", x->fail_at, x->heap_limit, type,
                     wisp_errname(ret));
        r->s = NULL;
        x->stream_enomem++;
    }
    return ret;
}

static int request(run_t *x, rec_t *r)
{
    int ret;

    if (!r->s)
        return 0;
    r->requests++;
    ret = wisp_stream_request_tx(r->s);
    if (ret) {
        r->requests--;
        fail_msg("k=%zu limit=%zu: request_tx: %s (an allocation failure belongs in the state "
                 "callback)",
                 x->fail_at, x->heap_limit, wisp_errname(ret));
    }
    return ret;
}

/* Something was refused so far: the k-th allocation, or the heap limit. */
static int refused(const run_t *x)
{
    return x->ta.failed || (x->cx && x->cx->heap_warned);
}

static int settled(const rec_t *r)
{
    return !r->s || r->terminals >= r->requests;
}

/* ---- The server request ---- */

/* A listener and a client sending req to it; nothing (and counted) on ENOMEM. */
static void server_start(run_t *x, const char *req)
{
    int ret, port;

    srvapp_init(&x->app, "srv", &x->sops);
    x->fc = NULL;
    ret = wisp_stream_create(x->cx, &x->sops, &x->app, &x->l);
    if (ret) {
        if (ret != WISP_ENOMEM)
            fail_msg("k=%zu limit=%zu: wisp_stream_create(srv): %s", x->fail_at, x->heap_limit,
                     wisp_errname(ret));
        x->l = NULL;
        x->stream_enomem++;
        return;
    }
    assert_int_equal(wisp_stream_set_user_size(x->l, srvapp_user_size()), 0);
    port = wisp_stream_local_port(x->l);
    assert_true(port > 0);
    x->fc = fakenet_dial(x->fn, (uint16_t)port);
    assert_non_null(x->fc);
    fake_send_str(x->fc, req);
}

/* The responses the fake client got (they must parse): the complete ones. */
static size_t server_responses(run_t *x, int *status, size_t max)
{
    size_t len, n;
    const uint8_t *p;
    char why[128];

    if (!x->fc)
        return 0;
    p = fake_written(x->fc, &len);
    if (srvapp_check_http(p, len, status, max, &n, why, sizeof(why)))
        fail_msg("k=%zu limit=%zu: the server wrote no HTTP/1.1: %s", x->fail_at, x->heap_limit,
                 why);
    return n;
}

/* The request has ended and the client has its answer, or wisp closed on it. */
static int server_settled(run_t *x)
{
    int st[4];

    if (!x->fc)
        return 1;
    if (srvapp_live(&x->app))
        return 0;
    return fake_wisp_closed(x->fc) || server_responses(x, st, 4) >= 1;
}

/* After the drain: the srvapp checks, and a real answer when nothing was refused.
 * 0 if the request was answered 200 with want as the body. */
static int server_check(run_t *x, const char *want, int may_fail)
{
    int st[4] = {0};
    size_t n, len, wl = strlen(want);
    const uint8_t *p;

    srvapp_check_end(&x->app);
    if (x->app.violations)
        fail_msg("k=%zu limit=%zu: server request: %s", x->fail_at, x->heap_limit, x->app.why);
    n = server_responses(x, st, 4);
    p = x->fc ? fake_written(x->fc, &len) : NULL;
    if (x->fc && n == 1 && st[0] == 200 && x->app.done == 1 && len > wl &&
        !memcmp(p + len - wl, want, wl))
        return 0;
    if (!may_fail)
        fail_msg("k=%zu limit=%zu: server request with nothing refused: %zu responses (%d), %u "
                 "DONE, %u lost",
                 x->fail_at, x->heap_limit, n, st[0], x->app.done, x->app.lost);
    x->failed_streams++;
    return -1;
}

static void service_until_settled(run_t *x, rec_t *const *rs, size_t n)
{
    unsigned it;
    size_t i;

    for (it = 0; it < 2000; it++) {
        int all = 1;

        for (i = 0; i < n; i++)
            all &= settled(rs[i]);
        all &= server_settled(x);
        if (all)
            return;
        assert_int_equal(wisp_service(x->cx, 200), 0);
    }
    for (i = 0; i < n; i++)
        if (!settled(rs[i]))
            fail_msg("k=%zu limit=%zu: stream %zu hung in %s", x->fail_at, x->heap_limit, i,
                     wisp_state_name(wisp_stream_state(rs[i]->s)));
    if (!server_settled(x))
        fail_msg("k=%zu limit=%zu: the server request hung (%u live)", x->fail_at, x->heap_limit,
                 srvapp_live(&x->app));
}

static void drain(run_t *x)
{
    unsigned it;
    wisp_stats_t st;

    for (it = 0; it < 200; it++) {
        wisp_get_stats(x->cx, &st);
        if (!st.conns_live && !st.streams_live && !st.vhosts_live)
            return;
        assert_int_equal(wisp_service(x->cx, 200), 0);
    }
    fail_msg("k=%zu limit=%zu: still live after teardown: vhosts %u conns %u streams %u",
             x->fail_at, x->heap_limit, st.vhosts_live, st.conns_live, st.streams_live);
}

/* One stream's end: exactly one terminal state; success must be real success. */
static void check_rec(run_t *x, const rec_t *r, const char *what, int may_fail)
{
    if (r->not_followed)
        fail_msg("k=%zu limit=%zu: %s: CONNECTION_FAILED or DISCONNECTED not followed by "
                 "RETRYING or ALL_RETRIES_FAILED",
                 x->fail_at, x->heap_limit, what);
    if (r->destroying != 1 || r->after_destroying)
        fail_msg("k=%zu limit=%zu: %s: %u DESTROYING, %u callbacks after it", x->fail_at,
                 x->heap_limit, what, r->destroying, r->after_destroying);
    if (!r->requests)
        return;
    if (r->terminals != r->requests)
        fail_msg("k=%zu limit=%zu: %s: %u requests, %u terminal states", x->fail_at, x->heap_limit,
                 what, r->requests, r->terminals);
    if (r->last == WISP_STATE_DONE) {
        if (r->last_arg != 200 || r->body_len != strlen(BODY) || memcmp(r->body, BODY, 5) ||
            strcmp(r->etag, "\"v1\""))
            fail_msg("k=%zu limit=%zu: %s: DONE %d with body \"%.*s\" etag %s", x->fail_at,
                     x->heap_limit, what, r->last_arg, (int)r->body_len, r->body, r->etag);
        return;
    }
    if (!may_fail)
        fail_msg("k=%zu limit=%zu: %s ended in %s (%s) with nothing refused", x->fail_at,
                 x->heap_limit, what, wisp_state_name(r->last), wisp_errname(r->last_arg));
    if (r->last != WISP_STATE_ALL_RETRIES_FAILED && r->last != WISP_STATE_TIMEOUT)
        fail_msg("k=%zu limit=%zu: %s ended in %s, not a terminal state", x->fail_at, x->heap_limit,
                 what, wisp_state_name(r->last));
    x->failed_streams++;
}

/* The clean transaction on the context the scenario left. 0 if it succeeded. */
static int clean_transaction(run_t *x, int must)
{
    rec_t *r = &x->clean;
    rec_t *rs[1] = {r};
    int ok;

    if (create(x, r, "get")) {
        if (must)
            fail_msg("k=%zu limit=%zu: the context cannot create a stream afterwards", x->fail_at,
                     x->heap_limit);
        return -1;
    }
    (void)request(x, r);
    service_until_settled(x, rs, 1);
    ok = r->last == WISP_STATE_DONE;
    wisp_stream_destroy(r->s);
    drain(x);
    check_rec(x, r, "the clean transaction", !must);
    if (!ok)
        return -1;
    /* And a server request on a new listener. */
    server_start(x, SRV_CLEAN_REQ);
    if (!x->l) {
        if (must)
            fail_msg("k=%zu limit=%zu: the context cannot listen afterwards", x->fail_at,
                     x->heap_limit);
        return -1;
    }
    service_until_settled(x, rs, 0);
    wisp_stream_destroy(x->l);
    x->l = NULL;
    drain(x);
    if (server_check(x, "hello", !must))
        return -1;
    x->fc = NULL;
    return 0;
}

static void run(run_t *x, size_t fail_at, size_t heap_limit)
{
    fakenet_server_t srv = {NULL, on_request, NULL};
    wisp_context_info_t info;
    rec_t *rs[NGET];
    wisp_stats_t st;
    size_t i, before;
    int ret;

    memset(x, 0, sizeof(*x));
    x->fail_at = fail_at;
    x->heap_limit = heap_limit;
    x->fn = fakenet_new(&srv, 7);
    testalloc_init(&x->ta, fail_at);
    memset(&info, 0, sizeof(info));
    info.allocator = &x->ta.a;
    info.heap_limit = heap_limit;
    info.policy_json = policy;
    info.policy_json_len = strlen(policy);
    info.log_level = WISP_LOG_ERROR;
    info.log_level_set = 1;
    info.log = getenv("WISP_TEST_LOG") ? NULL : quiet;
    if (getenv("WISP_TEST_LOG"))
        info.log_level = WISP_LOG_DEBUG;
    info.plat = fakenet_ops(x->fn);
    ret = wisp_context_create(&info, &x->cx);
    if (ret) {
        if (ret != WISP_ENOMEM || (!x->ta.failed && !heap_limit))
            fail_msg("k=%zu limit=%zu: wisp_context_create: %s", fail_at, heap_limit,
                     wisp_errname(ret));
        if (x->ta.live_blocks)
            fail_msg("k=%zu limit=%zu: failed wisp_context_create left %zu blocks", fail_at,
                     heap_limit, x->ta.live_blocks);
        x->ctx_enomem = 1;
        x->allocs = x->ta.calls;
        fakenet_free(x->fn);
        return;
    }

    /* The scenario. */
    (void)create(x, &x->sec, "sec"); /* builds the vhost; never sends */
    for (i = 0; i < NGET; i++) {
        rs[i] = &x->get[i];
        (void)create(x, rs[i], "get");
    }
    if (x->get[1].s) {
        ret = wisp_stream_set_metadata(x->get[1].s, "rid", "r-1", 3);
        if (ret && ret != WISP_ENOMEM)
            fail_msg("k=%zu limit=%zu: set_metadata: %s", fail_at, heap_limit, wisp_errname(ret));
        ret = wisp_stream_set_metadata(x->get[1].s, "id", "a b", 3);
        if (ret && ret != WISP_ENOMEM)
            fail_msg("k=%zu limit=%zu: set_metadata: %s", fail_at, heap_limit, wisp_errname(ret));
    }
    for (i = 0; i < NGET; i++)
        (void)request(x, rs[i]);
    server_start(x, SRV_REQ);
    service_until_settled(x, rs, NGET);
    for (i = 0; i < NGET; i++)
        wisp_stream_destroy(rs[i]->s);
    wisp_stream_destroy(x->sec.s);
    wisp_stream_destroy(x->l);
    x->l = NULL;
    wisp_get_stats(x->cx, &st);
    x->scenario_conns = fakenet_accepted(x->fn);
    x->scenario_vhosts = st.vhosts_created;
    x->scenario_reuses = st.reuses;
    drain(x);
    for (i = 0; i < NGET; i++)
        if (x->get[i].destroying || x->get[i].requests)
            check_rec(x, &x->get[i], "a queued GET", refused(x));
    if (x->sec.destroying)
        check_rec(x, &x->sec, "the TLS stream", 1);
    if (x->fc)
        (void)server_check(x, "11", refused(x));
    x->fc = NULL;
    if (!refused(x) && (x->stream_enomem || x->failed_streams))
        fail_msg("k=%zu limit=%zu: failures with nothing refused", fail_at, heap_limit);

    /* The context must still work: a clean transaction succeeds, unless an allocation
     * is refused during it (k falls inside it, or the heap limit); then, with the
     * limit lifted, the next one must succeed. */
    before = x->ta.failed;
    if (clean_transaction(x, 0)) {
        if (!heap_limit && x->ta.failed == before)
            fail_msg("k=%zu: the clean transaction afterwards failed with nothing refused in it",
                     fail_at);
        x->cx->heap_limit = 0;
        x->clean_needed_lift = heap_limit != 0;
        (void)clean_transaction(x, 1);
    }
    wisp_get_stats(x->cx, &st);
    x->peak = st.heap_peak;
    x->allocs = x->ta.calls;
    wisp_context_destroy(x->cx);
    x->cx = NULL;
    if (x->ta.live_blocks)
        fail_msg("k=%zu limit=%zu: %zu blocks leaked", fail_at, heap_limit, x->ta.live_blocks);
    if (fakenet_open(x->fn))
        fail_msg("k=%zu limit=%zu: %u sockets left open", fail_at, heap_limit, fakenet_open(x->fn));
    fakenet_free(x->fn);
}

/* The scenario's own count and peak, without the clean transaction after it. */
static size_t ref_allocs, ref_peak;

static void reference(run_t *x)
{
    run(x, 0, 0);
    assert_int_equal(x->ctx_enomem + x->stream_enomem + x->failed_streams, 0);
    assert_int_equal(x->get[0].last, WISP_STATE_DONE);
    /* The scenario is what it claims: one vhost, three GETs on one connection. */
    assert_int_equal(x->scenario_vhosts, 1);
    assert_int_equal(x->scenario_conns, 1);
    assert_int_equal(x->scenario_reuses, NGET - 1);
    ref_allocs = x->allocs;
    ref_peak = x->peak;
}

static void test_fail_every_allocation(void **state)
{
    run_t *x = calloc(1, sizeof(*x));
    unsigned long ctx = 0, streams = 0, failed = 0, runs = 0;
    size_t k;

    (void)state;
    assert_non_null(x);
    reference(x);
    for (k = 1; k <= MAX_RUNS; k++) {
        run(x, k, 0);
        runs++;
        ctx += (unsigned long)x->ctx_enomem;
        streams += (unsigned long)x->stream_enomem;
        failed += (unsigned long)x->failed_streams;
        if (!x->ta.failed)
            break; /* past the last allocation: nothing refused, and it all worked */
    }
    if (k > MAX_RUNS)
        fail_msg("no run got through within %d runs", MAX_RUNS);
    printf("allocfail (fake): %zu allocations in the reference run (clean transaction "
           "included); %lu runs, allocation k refused for k = 1..%zu: %lu context ENOMEM, %lu "
           "stream ENOMEM, %lu streams ended in a failure state\n",
           ref_allocs, runs, k - 1, ctx, streams, failed);
    free(x);
}

static void test_heap_limits(void **state)
{
    run_t *x = calloc(1, sizeof(*x));
    unsigned long runs = 0, ctx = 0, lifts = 0, failed = 0;
    size_t limit;

    (void)state;
    assert_non_null(x);
    reference(x);
    for (limit = ref_peak - 1;; limit = limit > 1024 ? limit - 1024 : 0) {
        if (!limit)
            break;
        run(x, 0, limit);
        runs++;
        ctx += (unsigned long)x->ctx_enomem;
        lifts += (unsigned long)x->clean_needed_lift;
        failed += (unsigned long)(x->stream_enomem + x->failed_streams);
        if (x->ctx_enomem)
            break; /* every lower limit fails the same way */
    }
    printf("heap limits (fake): peak %zu bytes; %lu limits from peak-1 down in 1 KiB steps: "
           "%lu context ENOMEM, %lu stream failures, %lu clean transactions needed the limit "
           "lifted\n",
           ref_peak, runs, ctx, failed, lifts);
    free(x);
}

static int setup(void **state)
{
    (void)state;
    make_policy();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(policy);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_every_allocation),
        cmocka_unit_test(test_heap_limits),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
