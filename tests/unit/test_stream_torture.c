/*
 * The callback torture test (issue: client correctness). On the fake network, with a
 * server that answers, closes, resets, cuts bodies, stays silent or refuses at random,
 * every callback (state, rx, tx) may — seeded — destroy its own stream, destroy
 * another, request again on itself or another, return WISP_CB_DISCONNECT or
 * WISP_CB_DESTROY, create a new stream, or destroy the context. Whatever happens:
 * nothing crashes (run under ASan in the sanitizer build), nothing leaks, no
 * wisp_service() runs away, DESTROYING comes exactly once and last, and every
 * request_tx cycle ends in exactly one terminal state (SPEC §6).
 *
 * WISP_TORTURE_SEEDS=n runs more seeds (make soak); the default keeps make test fast.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fakenet.h"
#include "testalloc.h"
#include "wisp/stream.h"

#define NS 8                    /* stream slots */
#define ITERATIONS 600          /* loop iterations of traffic */
#define CALLBACKS_PER_ITER 4000 /* more in one wisp_service() is a runaway */

#define T_(name, extra)                                                                            \
    "\"" name "\":{\"endpoint\":\"127.0.0.1\",\"tls\":false,\"timeout_ms\":2000,"                  \
    "\"connect_timeout_ms\":1000,\"keepalive_ms\":300" extra "}"
#define POLICY                                                                                                                                                                                                                                                 \
    "{\"schema\":1,\"retry\":{\"r\":{\"backoff_ms\":[20,50],\"conceal\":2}},\"streams\":{" T_(                                                                                                                                                                 \
        "get",                                                                                                                                                                                                                                                 \
        ",\"url\":\"/g\"") "," T_("getr",                                                                                                                                                                                                                      \
                                  ",\"url\":\"/r\",\"retry\":\"r\"") "," T_("post",                                                                                                                                                                            \
                                                                            ",\"url\":\"/"                                                                                                                                                                     \
                                                                            "p\",\"method\":"                                                                                                                                                                  \
                                                                            "\"POST\"") "," T_("p"                                                                                                                                                             \
                                                                                               "o"                                                                                                                                                             \
                                                                                               "s"                                                                                                                                                             \
                                                                                               "t"                                                                                                                                                             \
                                                                                               "r",                                                                                                                                                            \
                                                                                               ","                                                                                                                                                             \
                                                                                               "\"url\":\"/q\",\"method\":\"POST\",\"retry\":\"r\"") "," T_("solo",                                                                                            \
                                                                                                                                                            ",\"url\":\"/s\",\"reuse\":false") "," T_("pget",                                                  \
                                                                                                                                                                                                      ",\"url\":\"/pg\",\"pipeline_depth\":4") "," T_("pgetr", \
                                                                                                                                                                                                                                                      ",\"url\":\"/pr\",\"pipeline_depth\":8,\"retry\":\"r\"") "}}"

/* pget, pgetr: pipelined (until the first fault of a run marks the key). */
static const char *const types[] = {"get", "getr", "post", "postr", "solo", "pget", "pgetr"};

typedef struct slot {
    wisp_stream_t *s;
    wisp_stream_ops_t ops;
    unsigned requests, terminals, destroying, after_destroying, extra_terminals;
    size_t tx_left;
} slot_t;

typedef struct world {
    uint32_t rnd;
    testalloc_t ta;
    fakenet_t *fn;
    wisp_context_t *cx;
    int cx_gone, quiet; /* quiet: drain, no new actions */
    unsigned callbacks;
    slot_t slot[NS];
} world_t;

static world_t *W;
/* Over all seeds, printed at the end so a run shows what it exercised. */
static unsigned long t_seeds_cx_destroyed, t_callbacks, t_requests, t_terminals, t_destroyed;

static uint32_t rnd(world_t *w)
{
    w->rnd ^= w->rnd << 13;
    w->rnd ^= w->rnd >> 17;
    w->rnd ^= w->rnd << 5;
    return w->rnd;
}

static int chance(world_t *w, unsigned per_mille)
{
    return rnd(w) % 1000 < per_mille;
}

/* ---- The server: a random behaviour per request ---- */

static int on_accept(void *user, fake_conn_t *c, unsigned i)
{
    world_t *w = user;

    (void)c;
    (void)i;
    if (chance(w, 60))
        return FN_REFUSE;
    if (chance(w, 15))
        return FN_HANG;
    return FN_ACCEPT;
}

static void later_answer(fake_conn_t *c, void *arg)
{
    (void)arg;
    fake_respond(c, 200, NULL, "late");
}

static void on_request(void *user, fake_conn_t *c, const fn_req_t *q)
{
    world_t *w = user;
    unsigned r = rnd(w) % 100;

    (void)q;
    if (r < 55)
        fake_respond(c, 200, NULL, "hello world");
    else if (r < 62)
        fake_respond(c, 404, NULL, "nope");
    else if (r < 68)
        fake_respond(c, 200, "Connection: close\r\n", "bye");
    else if (r < 76)
        fake_close(c);
    else if (r < 83)
        fake_reset(c);
    else if (r < 89) {
        fake_send_str(c, "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\ncut");
        fake_close(c);
    } else if (r < 94)
        fake_later(c, rnd(w) % 3000, later_answer, NULL);
    else if (r < 97) {
        fake_send_str(c, "HTTP/1.1 200 OK\r\n\r\nuntil close");
        fake_close(c);
    }
    /* else silent: the stream's timeout ends it */
}

/* ---- Actions from inside callbacks ---- */

static void create_in(world_t *w, int i);

static int request_on(world_t *w, int i)
{
    slot_t *s = &w->slot[i];
    int ret;

    if (!s->s)
        return 0;
    s->requests++; /* first: the cycle may end inside the call (a refused submit) */
    if (!strncmp(s->ops.type, "post", 4)) {
        s->tx_left = 1 + rnd(w) % 3000;
        ret = wisp_stream_request_tx_len(s->s, s->tx_left);
    } else {
        ret = wisp_stream_request_tx(s->s);
    }
    if (ret)
        s->requests--;
    if (ret && ret != WISP_EBUSY)
        fail_msg("request_tx on stream %d: %s", i, wisp_strerror(ret));
    return ret;
}

/* Maybe do something nasty from a callback of slot i; returns the callback's value. */
static int act(world_t *w, int i, int may_return_disconnect)
{
    unsigned r;
    int j;

    if (w->cx_gone)
        return 0;
    t_callbacks++;
    if (++w->callbacks > CALLBACKS_PER_ITER)
        fail_msg("runaway: %u callbacks in one wisp_service()", w->callbacks);
    if (w->quiet || !chance(w, 150))
        return 0;
    r = rnd(w) % 100;
    j = (int)(rnd(w) % NS);
    if (r < 1 && chance(w, 300)) {
        w->cx_gone = 1;
        wisp_context_destroy(w->cx);
        return 0;
    }
    if (r < 14)
        return WISP_CB_DESTROY;
    if (r < 24) {
        wisp_stream_destroy(w->slot[i].s);
        return 0;
    }
    if (r < 38) {
        wisp_stream_destroy(w->slot[j].s);
        return 0;
    }
    if (r < 55) {
        (void)request_on(w, i);
        return 0;
    }
    if (r < 72) {
        (void)request_on(w, j);
        return 0;
    }
    if (r < 80) {
        if (!w->slot[j].s && w->slot[j].destroying)
            create_in(w, j);
        return 0;
    }
    return may_return_disconnect ? WISP_CB_DISCONNECT : 0;
}

static slot_t *slot_of(void *user)
{
    return user;
}

static int idx(world_t *w, slot_t *s)
{
    return (int)(s - w->slot);
}

static int state_cb(void *user, wisp_state_t st, int arg)
{
    slot_t *s = slot_of(user);
    world_t *w = W;

    (void)arg;
    if (s->destroying) {
        s->after_destroying++;
        return 0;
    }
    if (st == WISP_STATE_DESTROYING) {
        s->destroying++;
        s->s = NULL;
        return 0;
    }
    if (st == WISP_STATE_DONE || st == WISP_STATE_ALL_RETRIES_FAILED || st == WISP_STATE_TIMEOUT) {
        if (s->terminals >= s->requests)
            s->extra_terminals++;
        s->terminals++;
    }
    if (st == WISP_STATE_CREATED)
        return 0; /* inside wisp_stream_create: s->s is not set yet */
    return act(w, idx(w, s), 1);
}

static int rx_cb(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    slot_t *s = slot_of(user);

    (void)buf;
    (void)len;
    (void)flags;
    if (s->destroying) {
        s->after_destroying++;
        return 0;
    }
    return act(W, idx(W, s), 1);
}

static int tx_cb(void *user, uint8_t *buf, size_t *len, unsigned *flags)
{
    slot_t *s = slot_of(user);
    size_t n;
    int r;

    if (s->destroying) {
        s->after_destroying++;
        return WISP_CB_DISCONNECT;
    }
    r = act(W, idx(W, s), 1);
    if (r)
        return r;
    n = *len < s->tx_left ? *len : s->tx_left;
    memset(buf, 'p', n);
    *len = n;
    s->tx_left -= n;
    if (!s->tx_left)
        *flags |= WISP_EOM;
    return 0;
}

static void create_in(world_t *w, int i)
{
    slot_t *s = &w->slot[i];
    wisp_stream_t *h = NULL;
    int ret;

    memset(s, 0, sizeof(*s));
    s->ops.type = types[rnd(w) % (sizeof(types) / sizeof(types[0]))];
    s->ops.rx = rx_cb;
    s->ops.tx = strncmp(s->ops.type, "post", 4) ? NULL : tx_cb;
    s->ops.state = state_cb;
    ret = wisp_stream_create(w->cx, &s->ops, s, &h);
    if (ret == WISP_ESTATE)
        return; /* the context is being destroyed */
    assert_int_equal(ret, 0);
    s->s = h;
}

/* ---- One seed ---- */

static void check_slots(world_t *w, int settled)
{
    int i;

    for (i = 0; i < NS; i++) {
        slot_t *s = &w->slot[i];

        if (s->after_destroying)
            fail_msg("slot %d: %u callbacks after DESTROYING", i, s->after_destroying);
        if (s->destroying > 1)
            fail_msg("slot %d: %u DESTROYING callbacks", i, s->destroying);
        if (s->extra_terminals)
            fail_msg("slot %d: %u terminal states that ended no cycle", i, s->extra_terminals);
        if (settled && s->s && s->terminals != s->requests)
            fail_msg("slot %d (%s): %u requests but %u terminal states, now %s", i, s->ops.type,
                     s->requests, s->terminals, wisp_state_name(wisp_stream_state(s->s)));
    }
}

static void run_seed(uint32_t seed)
{
    world_t *w = calloc(1, sizeof(*w));
    fakenet_server_t srv = {on_accept, on_request, NULL};
    int it, i;

    assert_non_null(w);
    W = w;
    w->rnd = seed * 2654435761u + 1;
    srv.user = w;
    w->fn = fakenet_new(&srv, seed);
    testalloc_init(&w->ta, 0);
    assert_int_equal(testalloc_context_plat(&w->ta, POLICY, fakenet_ops(w->fn), &w->cx), 0);
    for (i = 0; i < NS; i++)
        create_in(w, i);
    for (it = 0; it < ITERATIONS && !w->cx_gone; it++) {
        int ret;

        if (chance(w, 300))
            (void)request_on(w, (int)(rnd(w) % NS));
        if (!w->cx_gone && chance(w, 20)) { /* request_on may have destroyed it */
            i = (int)(rnd(w) % NS);
            if (w->slot[i].s)
                wisp_stream_destroy(w->slot[i].s);
            else
                create_in(w, i);
        }
        if (w->cx_gone)
            break; /* destroyed from a callback inside one of those calls */
        w->callbacks = 0;
        ret = wisp_service(w->cx, (int)(rnd(w) % 200));
        if (w->cx_gone)
            assert_int_equal(ret, WISP_ECANCELED);
        else
            assert_int_equal(ret, 0);
        check_slots(w, 0);
    }
    if (!w->cx_gone) {
        /* Drain: no new actions; every open cycle must reach its terminal state. */
        w->quiet = 1;
        for (it = 0; it < 400; it++) {
            w->callbacks = 0;
            assert_int_equal(wisp_service(w->cx, 1000), 0);
        }
        check_slots(w, 1);
        wisp_context_destroy(w->cx);
    }
    check_slots(w, 0);
    t_seeds_cx_destroyed += w->cx_gone;
    for (i = 0; i < NS; i++) {
        t_requests += w->slot[i].requests;
        t_terminals += w->slot[i].terminals;
        t_destroyed += w->slot[i].destroying;
    }
    for (i = 0; i < NS; i++)
        if (w->slot[i].s)
            fail_msg("seed %u: slot %d never got DESTROYING", seed, i);
    if (w->ta.live_blocks)
        fail_msg("seed %u: %zu blocks leaked", seed, w->ta.live_blocks);
    assert_int_equal(fakenet_open(w->fn), 0);
    fakenet_free(w->fn);
    free(w);
}

static void test_torture(void **state)
{
    const char *env = getenv("WISP_TORTURE_SEEDS");
    unsigned n = env ? (unsigned)strtoul(env, NULL, 10) : 300, seed;

    (void)state;
    for (seed = 1; seed <= n; seed++)
        run_seed(seed);
    /* (Slots reused after a destroy count only their last stream's cycles.) */
    printf("torture: %u seeds, %lu callbacks, %lu requests, %lu terminal states, %lu "
           "streams destroyed, %lu contexts destroyed from callbacks\n",
           n, t_callbacks, t_requests, t_terminals, t_destroyed, t_seeds_cx_destroyed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_torture)};

    return cmocka_run_group_tests(tests, NULL, NULL);
}
