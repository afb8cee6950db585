/*
 * lib/core: error table, allocator accounting and heap limit, timers, deferred work,
 * posts and stop, numeric addresses, stats JSON, and name resolution off the loop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core-internal.h"
#include "testalloc.h"

static wisp_context_t *new_cx(testalloc_t *ta, size_t heap_limit)
{
    wisp_context_info_t info;
    wisp_context_t *cx = NULL;

    testalloc_init(ta, 0);
    memset(&info, 0, sizeof(info));
    info.allocator = &ta->a;
    info.heap_limit = heap_limit;
    info.log_level = WISP_LOG_ERROR;
    info.log_level_set = 1;
    assert_int_equal(wisp_context_create(&info, &cx), 0);
    return cx;
}

static void test_errors(void **state)
{
    (void)state;
#if WISP_WITH_ERROR_TEXT
    assert_string_equal(wisp_strerror(0), "success");
    assert_string_equal(wisp_strerror(WISP_ETIMEDOUT), "timed out");
#endif
    assert_string_equal(wisp_errname(WISP_ECERT), "WISP_ECERT");
    assert_string_equal(wisp_strerror(-9999), "unknown error");
    assert_string_equal(wisp_errname(12), "WISP_E?");
    assert_string_equal(wisp_errname(1), "WISP_E?");
    /* Every code in the table has its own text and name (error.c walks one blob of
     * each, so an off-by-one there shows as the neighbour's string). */
#if WISP_WITH_ERROR_TEXT
#define X(name, value, text) assert_string_equal(wisp_strerror(value), text);
#else
#define X(name, value, text) assert_string_equal(wisp_strerror(value), #name);
#endif
    WISP_ERRORS(X)
#undef X
#define X(name, value, text) assert_string_equal(wisp_errname(value), #name);
    WISP_ERRORS(X)
#undef X
}

/* The certificate codes: -21 and the contiguous block after -34, each its own
 * name; WISP_IS_ECERT is true for exactly those. */
static void test_cert_errors(void **state)
{
    int e;

    (void)state;
    assert_int_equal(WISP_ECERTUNTRUSTED, -35);
    assert_int_equal(WISP_ECERTSELFSIGNED, -36);
    assert_int_equal(WISP_ECERTNAME, -37);
    assert_int_equal(WISP_ECERTEXPIRED, -38);
    assert_int_equal(WISP_ECERTFUTURE, -39);
    assert_int_equal(WISP_ECERTUSAGE, -40);
    assert_int_equal(WISP_ECERTWEAK, -41);
    assert_int_equal(WISP_ECERTCHAIN, -42);
    assert_string_equal(wisp_errname(WISP_ECERTCHAIN), "WISP_ECERTCHAIN");
    assert_string_equal(wisp_errname(WISP_ECERTCHAIN - 1), "WISP_E?");
#if WISP_WITH_ERROR_TEXT
    assert_string_equal(wisp_strerror(WISP_ECERTSELFSIGNED),
                        "certificate is self-signed and not trusted");
#endif
    for (e = 1; e >= -60; e--) {
        int cert = e == WISP_ECERT || (e <= -35 && e >= -42);

        assert_int_equal(!!WISP_IS_ECERT(e), cert);
    }
}

static void test_alloc_accounting_and_limit(void **state)
{
    testalloc_t ta;
    wisp_context_t *cx = new_cx(&ta, 4096);
    wisp_stats_t st;
    void *a, *b;

    (void)state;
    a = wisp__alloc(cx, 1000);
    assert_non_null(a);
    wisp_get_stats(cx, &st);
    assert_true(st.heap_in_use >= 1000 && st.heap_in_use < 1100);
    /* Past the limit: NULL, and nothing counted. */
    b = wisp__alloc(cx, 4000);
    assert_null(b);
    wisp_get_stats(cx, &st);
    assert_true(st.heap_in_use < 1100);
    b = wisp__zalloc(cx, 64);
    assert_non_null(b);
    assert_int_equal(((unsigned char *)b)[63], 0);
    wisp__free(cx, a);
    wisp__free(cx, b);
    wisp__free(cx, NULL);
    wisp_get_stats(cx, &st);
    assert_int_equal(st.heap_in_use, 0);
    assert_true(st.heap_peak >= 1064);
    assert_null(wisp__alloc(cx, 0));
    wisp_context_destroy(cx);
    assert_int_equal(ta.live_blocks, 0);
}

static void test_context_create_fails_cleanly(void **state)
{
    testalloc_t ta;
    wisp_context_info_t info;
    wisp_context_t *cx = (wisp_context_t *)1;

    (void)state;
    assert_int_equal(wisp_context_create(NULL, &cx), WISP_EINVAL);
    assert_null(cx);
    assert_int_equal(wisp_context_create(&info, NULL), WISP_EINVAL);
    testalloc_init(&ta, 1);
    memset(&info, 0, sizeof(info));
    info.allocator = &ta.a;
    assert_int_equal(wisp_context_create(&info, &cx), WISP_ENOMEM);
    assert_null(cx);
    assert_int_equal(ta.live_blocks, 0);
    wisp_context_destroy(NULL);
}

/* core.h "Growing structs": an application compiled against an older or newer
 * header than the library. */
static void test_struct_sizes(void **state)
{
    struct {
        wisp_context_info_t info;
        uint64_t newer; /* a field a later header added */
    } big;
    struct {
        wisp_stats_t st;
        uint64_t newer;
    } st;
    wisp_plat_ops_t ops;
    wisp_context_t *cx = NULL;
    size_t v1 = offsetof(wisp_context_info_t, plat) + sizeof(void *);

    (void)state;
    memset(&big, 0, sizeof(big));
    /* Newer application, unknown field left zero: accepted. */
    assert_int_equal(wisp_context_create_sized(&big.info, sizeof(big), &cx), 0);
    /* Stats wider than ours: the tail reads 0, nothing past the struct is written. */
    memset(&st, 0xa5, sizeof(st));
    wisp_get_stats_sized(cx, &st.st, sizeof(st));
    assert_int_equal(st.newer, 0);
    assert_int_equal(st.st.streams_live, 0);
    /* Narrower (an older header): only that prefix is written. */
    memset(&st, 0xa5, sizeof(st));
    wisp_get_stats_sized(cx, &st.st, offsetof(wisp_stats_t, streams_live));
    assert_int_equal(st.st.vhosts_live, 0);
    assert_int_equal(st.st.streams_live, 0xa5a5a5a5u);
    wisp_context_destroy(cx);
    /* Newer application using the new field: refused, not misread. */
    big.newer = 1;
    assert_int_equal(wisp_context_create_sized(&big.info, sizeof(big), &cx), WISP_EUNSUPPORTED);
    assert_null(cx);
    /* Smaller than the first version: refused. */
    assert_int_equal(wisp_context_create_sized(&big.info, v1 - 1, &cx), WISP_EINVAL);
    /* The first version's size (no plat_size field): plat_size reads 0. */
    big.newer = 0;
    assert_int_equal(wisp_context_create_sized(&big.info, v1, &cx), 0);
    wisp_context_destroy(cx);
    /* A platform table shorter than ours: the ops it lacks read NULL, so a table
     * that ends before poll is refused instead of called through garbage. */
    memcpy(&ops, wisp_plat_posix(), sizeof(ops));
    big.info.plat = &ops;
    big.info.plat_size = offsetof(wisp_plat_ops_t, poll);
    assert_int_equal(wisp_context_create_sized(&big.info, sizeof(big.info), &cx), WISP_EINVAL);
    big.info.plat_size = sizeof(ops);
    assert_int_equal(wisp_context_create_sized(&big.info, sizeof(big.info), &cx), 0);
    wisp_context_destroy(cx);
}

typedef struct tick {
    wisp__timer_t t;
    int *log, *n, id;
} tick_t;

static void on_tick(wisp__timer_t *t)
{
    tick_t *k = (tick_t *)t;

    k->log[(*k->n)++] = k->id;
}

static void test_timers_fire_in_deadline_order(void **state)
{
    testalloc_t ta;
    wisp_context_t *cx = new_cx(&ta, 0);
    int log[4], n = 0, i;
    tick_t k[4];
    const uint32_t ms[4] = {30, 10, 20, 500};
    uint64_t start = wisp_now_ms(cx);

    (void)state;
    for (i = 0; i < 4; i++) {
        wisp__timer_init(&k[i].t, on_tick);
        k[i].log = log;
        k[i].n = &n;
        k[i].id = i;
        wisp__timer_start(cx, &k[i].t, ms[i]);
    }
    wisp__timer_stop(cx, &k[3].t);
    wisp__timer_stop(cx, &k[3].t); /* twice is harmless */
    while (n < 3)
        assert_int_equal(wisp_service(cx, -1), 0);
    assert_int_equal(log[0], 1);
    assert_int_equal(log[1], 2);
    assert_int_equal(log[2], 0);
    /* The loop slept until the deadlines instead of spinning or oversleeping. */
    assert_true(wisp_now_ms(cx) - start >= 30);
    assert_true(wisp_now_ms(cx) - start < 400);
    wisp_context_destroy(cx);
    assert_int_equal(ta.live_blocks, 0);
}

static int deferred_runs;

static void on_defer(wisp__defer_t *d)
{
    (void)d;
    deferred_runs++;
}

static void test_defer_runs_once_at_end_of_iteration(void **state)
{
    testalloc_t ta;
    wisp_context_t *cx = new_cx(&ta, 0);
    wisp__defer_t a, b;

    (void)state;
    deferred_runs = 0;
    wisp__defer_init(&a, on_defer);
    wisp__defer_init(&b, on_defer);
    wisp__defer(cx, &a);
    wisp__defer(cx, &a);
    wisp__defer(cx, &b);
    wisp__defer_cancel(cx, &b);
    assert_int_equal(deferred_runs, 0);
    assert_int_equal(wisp_service(cx, 1000), 0);
    assert_int_equal(deferred_runs, 1);
    wisp_context_destroy(cx);
}

static int posted;

static void on_post(wisp_context_t *cx, void *arg)
{
    (void)cx;
    posted += *(int *)arg;
}

static void test_post_and_stop(void **state)
{
    testalloc_t ta;
    wisp_context_t *cx = new_cx(&ta, 0);
    int one = 1, i, busy = 0;

    (void)state;
    posted = 0;
    for (i = 0; i < WISP_POST_QUEUE_LEN + 5; i++)
        busy += wisp_post(cx, on_post, &one) == WISP_EBUSY;
    assert_int_equal(busy, 5);
    assert_int_equal(wisp_post(cx, NULL, NULL), WISP_EINVAL);
    assert_int_equal(wisp_service(cx, -1), 0);
    assert_int_equal(posted, WISP_POST_QUEUE_LEN);
    wisp_stop(cx);
    assert_int_equal(wisp_run(cx), 0);
    wisp_context_destroy(cx);
}

static void test_addr_parse_and_format(void **state)
{
    static const struct {
        const char *in, *out;
    } ok[] = {
        {"127.0.0.1", "127.0.0.1"},
        {"::1", "::1"},
        {"[::1]", "::1"},
        {"2001:db8::1", "2001:db8::1"},
        {"::", "::"},
        {"fe80::1:2", "fe80::1:2"},
        {"::ffff:10.0.0.1", "::ffff:a00:1"},
        {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
    };
    static const char *const bad[] = {
        "",        "1.2.3",   "1.2.3.4.5",         "256.0.0.1", "1..2.3",    "localhost", ":::",
        "1::2::3", "12345::", "1:2:3:4:5:6:7:8:9", "[::1",      "01.2.3.4x", "1:",        ":1"};
    wisp_addr_t a;
    char buf[64];
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(wisp_addr_parse(ok[i].in, 443, &a), 0);
        assert_int_equal(a.port, 443);
        assert_string_equal(wisp_addr_str(&a, buf, sizeof(buf)), ok[i].out);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_int_equal(wisp_addr_parse(bad[i], 1, &a), WISP_EINVAL);
    assert_int_equal(wisp_addr_parse(NULL, 1, &a), WISP_EINVAL);
}

static void test_stats_json_has_exactly_the_spec_keys(void **state)
{
    static const char *const keys[] = {
        "heap_in_use",  "heap_peak",    "vhosts_live",     "vhosts_created",     "vhosts_destroyed",
        "conns_live",   "conns_opened", "handshakes_full", "handshakes_resumed", "streams_live",
        "transactions", "reuses",       "retries",         "bytes_in",           "bytes_out",
        "conns_refused"};
    wisp_stats_t st;
    char buf[600], key[40];
    size_t i;
    int n, commas = 0;

    (void)state;
    memset(&st, 0, sizeof(st));
    st.bytes_in = 12345678901ull;
    n = wisp_stats_json(&st, buf, sizeof(buf));
    assert_true(n > 0);
    for (i = 0; buf[i]; i++)
        commas += buf[i] == ',';
    assert_int_equal(commas + 1, sizeof(keys) / sizeof(keys[0]));
    for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        snprintf(key, sizeof(key), "\"%s\":", keys[i]);
        assert_non_null(strstr(buf, key));
    }
    assert_non_null(strstr(buf, "\"bytes_in\":12345678901"));
    assert_int_equal(wisp_stats_json(&st, buf, 20), WISP_ETOOBIG);
}

typedef struct lookup {
    int done, status;
    size_t n;
    wisp_addr_t first;
} lookup_t;

static void on_resolved(void *arg, int status, const wisp_addr_t *addrs, size_t n)
{
    lookup_t *l = arg;

    l->done = 1;
    l->status = status;
    l->n = n;
    if (n)
        l->first = addrs[0];
}

static void test_resolve(void **state)
{
    testalloc_t ta;
    wisp_context_t *cx = new_cx(&ta, 0);
    lookup_t num, name, gone, bad;
    wisp__resolve_t *h = NULL, *h2 = NULL;
    int spins = 0;

    (void)state;
    memset(&num, 0, sizeof(num));
    memset(&name, 0, sizeof(name));
    memset(&gone, 0, sizeof(gone));
    memset(&bad, 0, sizeof(bad));
    /* Numeric: answered on the loop, never from inside the call. */
    assert_int_equal(wisp__resolve_start(cx, "127.0.0.1", 80, on_resolved, &num, &h), 0);
    assert_false(num.done);
    assert_int_equal(wisp_service(cx, 0), 0);
    assert_true(num.done);
    assert_int_equal(num.first.port, 80);
    /* A name goes to a resolver thread and comes back through a post. */
    assert_int_equal(wisp__resolve_start(cx, "localhost", 8080, on_resolved, &name, &h), 0);
    /* A cancelled lookup never calls back, even though its thread finishes. */
    assert_int_equal(wisp__resolve_start(cx, "localhost", 1, on_resolved, &gone, &h2), 0);
    wisp__resolve_cancel(&h2);
    assert_null(h2);
    assert_int_equal(wisp__resolve_start(cx, "no-such-host.invalid", 1, on_resolved, &bad, &h), 0);
    while ((!name.done || !bad.done) && spins++ < 200)
        assert_int_equal(wisp_service(cx, 50), 0);
    assert_true(name.done);
    assert_int_equal(name.status, 0);
    assert_true(name.n >= 1);
    assert_int_equal(name.first.port, 8080);
    assert_true(bad.done);
    assert_int_equal(bad.status, WISP_EDNS);
    assert_false(gone.done);
    assert_int_equal(wisp__resolve_start(cx, "", 1, on_resolved, &bad, &h), WISP_EINVAL);
    wisp_context_destroy(cx); /* waits for the cancelled lookup's thread */
    assert_false(gone.done);
    assert_int_equal(ta.live_blocks, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_cert_errors),
        cmocka_unit_test(test_alloc_accounting_and_limit),
        cmocka_unit_test(test_context_create_fails_cleanly),
        cmocka_unit_test(test_struct_sizes),
        cmocka_unit_test(test_timers_fire_in_deadline_order),
        cmocka_unit_test(test_defer_runs_once_at_end_of_iteration),
        cmocka_unit_test(test_post_and_stop),
        cmocka_unit_test(test_addr_parse_and_format),
        cmocka_unit_test(test_stats_json_has_exactly_the_spec_keys),
        cmocka_unit_test(test_resolve),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
