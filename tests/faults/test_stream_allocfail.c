/*
 * Allocation-failure sweep (STYLE.md "Tests", SPEC §10): one whole client scenario —
 * context from a JSON policy, two GET streams of one type at once (the second queues
 * on the first's connection and inherits it), TLS to badserver.py, a metadata slot
 * sent as a request header and refilled from the response, and the first stream
 * asking again from its DONE callback (it queues and reuses the connection) — run
 * again and again with the counting allocator refusing allocation n, for
 * n = 1, 2, ... until a run goes through with nothing refused.
 *
 * Every run must end cleanly: wisp_context_create() or wisp_stream_create() returns
 * WISP_ENOMEM, or each stream settles in a state (a failure state, or DONE with the
 * right answer), within a bound; then nothing is live and, after
 * wisp_context_destroy(), the allocator holds zero blocks. A run that hangs, leaks,
 * returns another error code or reports success with a wrong body fails the test
 * with the n that did it.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "streamtest.h"

#define HELLO "hello from badserver\n"
#define MAX_RUNS 20000
#define NSTREAMS 2

typedef struct outcome {
    int ctx_enomem, stream_enomem, failed_states, all_done;
} outcome_t;

static badserver_t bs = {.stdin_fd = -1};

static char *make_policy(int port)
{
    char *ca = test_cert_json("ca.pem");
    char *p = st_append(NULL,
                        "{\"schema\": 1,\n"
                        " \"certs\": {\"ca\": \"%s\"},\n"
                        " \"trust_stores\": {\"ts\": {\"certs\": [\"ca\"]}},\n"
                        " \"streams\": {\"get\": {\"endpoint\": \"127.0.0.1\", \"port\": %d,"
                        " \"trust_store\": \"ts\", \"url\": \"/hello\","
                        " \"metadata\": {\"ct\": \"content-type\"},"
                        " \"timeout_ms\": 0, \"connect_timeout_ms\": 0,"
                        " \"keepalive_ms\": 20}}}\n",
                        ca, port);

    free(ca);
    return p;
}

static int drained(void *arg)
{
    wisp_stats_t st;

    wisp_get_stats(arg, &st);
    return st.vhosts_live == 0 && st.conns_live == 0 && st.streams_live == 0;
}

/* One run with allocation fail_at refused (0: none). Fails the test on a bad end. */
static void run(stfx_t *f, const char *policy, size_t fail_at, outcome_t *o)
{
    strec_t *r[NSTREAMS];
    size_t i, n = 0;
    int ret;

    memset(f, 0, sizeof(*f));
    testalloc_init(&f->ta, fail_at);
    ret = testalloc_context(&f->ta, policy, &f->cx);
    if (ret) {
        if (ret != WISP_ENOMEM || !f->ta.failed)
            fail_msg("n=%zu: wisp_context_create: %s", fail_at, wisp_errname(ret));
        if (f->ta.live_blocks)
            fail_msg("n=%zu: failed wisp_context_create left %zu blocks", fail_at,
                     f->ta.live_blocks);
        o->ctx_enomem++;
        return;
    }
    for (i = 0; i < NSTREAMS; i++) {
        strec_t *rec;

        ret = st_try_new(f, "get", &rec);
        if (ret) {
            if (ret != WISP_ENOMEM || !f->ta.failed)
                fail_msg("n=%zu: wisp_stream_create: %s", fail_at, wisp_errname(ret));
            o->stream_enomem++;
            continue;
        }
        rec->meta_slot = "ct";
        r[n++] = rec;
    }
    if (n && strcmp(r[0]->type, "get") == 0) {
        ret = wisp_stream_set_metadata(r[0]->s, "ct", "text/x-wisp", 11);
        if (ret && (ret != WISP_ENOMEM || !f->ta.failed))
            fail_msg("n=%zu: wisp_stream_set_metadata: %s", fail_at, wisp_errname(ret));
        r[0]->again = 1;
    }
    for (i = 0; i < n; i++) {
        ret = st_request(r[i]);
        if (ret)
            fail_msg("n=%zu: wisp_stream_request_tx: %s (documented: 0, EINVAL, ESTATE; an "
                     "allocation failure belongs in the state callback)",
                     fail_at, wisp_errname(ret));
    }
    if (!st_wait(f, r, n, 5000, 20))
        for (i = 0; i < n; i++)
            if (!st_settled(r[i]))
                fail_msg("n=%zu: stream %zu hung\n  states: %s", fail_at, i, st_seq(r[i], 0));
    for (i = 0; i < n; i++) {
        unsigned want = i == 0 ? 2 : 1; /* transactions */
        int a = st_find(r[i], WISP_STATE_ACK, 0);

        if (r[i]->again_ret)
            fail_msg("n=%zu: wisp_stream_request_tx from DONE: %s", fail_at,
                     wisp_errname(r[i]->again_ret));
        if (st_last(r[i]) == WISP_STATE_DONE) {
            /* Success must be real success. */
            if (a < 0 || r[i]->arg[a] != 200 || st_count(r[i], WISP_STATE_ACK) != want ||
                st_count(r[i], WISP_STATE_DONE) != want ||
                strcmp(st_body(r[i]), want == 2 ? HELLO HELLO : HELLO) != 0 || r[i]->eom != want)
                fail_msg("n=%zu: stream %zu DONE with a wrong answer (body \"%s\")\n"
                         "  states: %s",
                         fail_at, i, st_body(r[i]), st_seq(r[i], 0));
        } else {
            o->failed_states++;
            if (!f->ta.failed)
                fail_msg("n=%zu: stream %zu failed with nothing refused\n  states: %s", fail_at, i,
                         st_seq(r[i], 0));
        }
    }
    if (n == NSTREAMS && !o->failed_states && !f->ta.failed)
        o->all_done++;
    for (i = 0; i < n; i++)
        st_destroy(r[i]);
    if (!st_run_until(f->cx, drained, f->cx, 3000)) {
        wisp_stats_t st;

        wisp_get_stats(f->cx, &st);
        fail_msg("n=%zu: still live after the run: vhosts %u conns %u streams %u", fail_at,
                 st.vhosts_live, st.conns_live, st.streams_live);
    }
    for (i = 0; i < n; i++)
        if (r[i]->destroying != 1 || r[i]->after_destroying)
            fail_msg("n=%zu: stream %zu: %u DESTROYING, %u callbacks after it", fail_at, i,
                     r[i]->destroying, r[i]->after_destroying);
    wisp_context_destroy(f->cx);
    f->cx = NULL;
    if (f->ta.live_blocks)
        fail_msg("n=%zu: %zu blocks leaked (after wisp_context_destroy)", fail_at,
                 f->ta.live_blocks);
}

static void test_get_allocfail_sweep(void **state)
{
    /* Long enough for a run by hand in the embedded-profile host build
     * (scripts/embedded-host-build.sh), where mbedTLS's allocations are refused too:
     * one handshake per allocation, over ten thousand of them. */
    static const char *const args[] = {"--max-conns", "100000", "--max-seconds", "900", NULL};
    stfx_t *f = calloc(1, sizeof(*f));
    outcome_t o;
    char *policy;
    size_t n, total_allocs;

    (void)state;
    assert_non_null(f);
    badserver_start(&bs, args);
    policy = make_policy(bs.port);

    /* The reference run: nothing refused, everything must work. */
    memset(&o, 0, sizeof(o));
    run(f, policy, 0, &o);
    assert_int_equal(o.all_done, 1);
    total_allocs = f->ta.calls;
    assert_int_equal(badserver_count(&bs, "accept "), 1);
    assert_int_equal(badserver_count(&bs, "request "), 3);

    memset(&o, 0, sizeof(o));
    for (n = 1; n <= MAX_RUNS; n++) {
        outcome_t one;

        memset(&one, 0, sizeof(one));
        run(f, policy, n, &one);
        o.ctx_enomem += one.ctx_enomem;
        o.stream_enomem += one.stream_enomem;
        o.failed_states += one.failed_states != 0;
        if (!f->ta.failed) {
            /* Past the last allocation: this run had nothing refused and passed. */
            if (!one.all_done)
                fail_msg("n=%zu: the run with nothing refused did not succeed", n);
            break;
        }
    }
    if (n > MAX_RUNS)
        fail_msg("no run passed within %d runs", MAX_RUNS);
    print_message("allocfail: %zu allocations in the reference run; %zu runs: "
                  "%d context ENOMEM, %d stream ENOMEM, %d ended in a failure state\n",
                  total_allocs, n, o.ctx_enomem, o.stream_enomem, o.failed_states);
    free(policy);
    free(f);
    badserver_stop(&bs);
}

static int teardown(void **state)
{
    (void)state;
    badserver_stop(&bs);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_get_allocfail_sweep, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
