/*
 * Shared by fuzz_client_stream.c and fuzz_client_schedule.c: a whole client (JSON
 * policy -> context -> streams -> vhost -> h1 -> callbacks) on the fake network of
 * tests/support/fakenet.h, whose server plays a script taken from the fuzz input.
 *
 * Input layout:
 *
 *   byte 0    configuration: bits 0-1 streams - 1 (1..4), bit 2 TLS on, bits 3-4
 *             the method of every stream type (GET, POST, HEAD, GET with retries),
 *             bit 5 pipeline_depth 2, bit 6 reuse off, bit 7 first connect refused
 *   byte 1    schedule length S (fuzz_client_schedule only, else absent)
 *   S bytes   the schedule (fuzz_client_schedule only): one byte per callback, see
 *             act() there
 *   the rest  the server script, read by one cursor shared by every connection:
 *             each request runs ops until a NEXT op (or the end of the script):
 *               0x00 L1 L0 <L bytes>  send L bytes (big-endian L, cut at the end)
 *               0x01                  close (FIN after what was sent)
 *               0x02                  reset (RST)
 *               0x03 D                run the rest later, D*32 ms on the virtual clock
 *               0x04                  NEXT: this answer ends here
 *               0x05                  the next connection is refused
 *               0x06                  the next connection hangs (never completes)
 *               0x07                  a canned 200 with the body "hello"
 *               other byte b          send b alone (so raw HTTP text mostly passes
 *                                     through as itself)
 *             With TLS on, the script runs when a connection is accepted (the
 *             server speaks first: it never sees an HTTP request inside TLS) and
 *             its bytes go to the TLS client as they are: "garbage instead of a
 *             handshake"; a TLS server inside the target would cost a handshake per
 *             input (see README.md).
 *
 * Invariants checked (abort() on a break, as libFuzzer expects):
 *   - each request_tx that returned 0 opens a cycle that ends in exactly one of
 *     DONE, ALL_RETRIES_FAILED, TIMEOUT, or DESTROYING (SPEC §6); a terminal state
 *     with no open cycle, a second DESTROYING, or any callback after DESTROYING
 *     aborts; so does a cycle still open when everything has gone quiet;
 *   - CONNECTION_FAILED and DISCONNECTED are never terminal: RETRYING,
 *     ALL_RETRIES_FAILED (or DESTROYING) follows before control returns to the
 *     application (SPEC 6: "followed by ALL_RETRIES_FAILED at once");
 *   - DONE carries an HTTP status (100..999); the request line the server gets
 *     carries slot 0's value (space, '/', '%', CR, LF) percent-encoded;
 *   - no wisp_service() call runs away (callbacks per call bounded) and the whole
 *     run ends within a bound of loop iterations;
 *   - after wisp_context_destroy() the counting allocator holds zero blocks and the
 *     fake network has zero sockets open.
 */
#ifndef WISP_FUZZ_CLIENT_WORLD_H
#define WISP_FUZZ_CLIENT_WORLD_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakenet.h"
#include "testalloc.h"
#include "testfiles.h"
#include "wisp/core.h"
#include "wisp/error.h"
#include "wisp/stream.h"

#define CW_NS 4              /* stream slots */
#define CW_CALLBACKS 4000    /* more in one wisp_service() is a runaway */
#define CW_ITERATIONS 3000   /* loop iterations before everything must be quiet */
#define CW_SETTLE_MS 120000u /* virtual time by which every cycle must have ended */

typedef struct cw_slot {
    wisp_stream_t *s;
    wisp_stream_ops_t ops;
    unsigned requests, terminals, destroying;
    /* CONNECTION_FAILED or DISCONNECTED was the last state: RETRYING,
     * ALL_RETRIES_FAILED or DESTROYING must follow before control returns. */
    wisp_state_t must_follow;
    size_t tx_left;
} cw_slot_t;

typedef struct cw_world {
    const uint8_t *script, *sched;
    size_t script_len, script_pos, sched_len, sched_pos;
    int refuse_next, hang_next;
    int tls, method, cx_gone, quiet;
    unsigned callbacks, nslots;
    testalloc_t ta;
    fakenet_t *fn;
    wisp_context_t *cx;
    cw_slot_t slot[CW_NS];
    /* fuzz_client_schedule's callback action; NULL: none. */
    int (*act)(struct cw_world *w, int i, int cb_kind);
} cw_world_t;

enum { CW_CB_STATE, CW_CB_RX, CW_CB_TX };

static cw_world_t *cw_W;

#define CW_CHECK(cond, ...)                                                                        \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "client fuzz: " __VA_ARGS__);                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* ---- The scripted server ---- */

static void cw_run_script(fake_conn_t *c, cw_world_t *w);

static void cw_later(fake_conn_t *c, void *arg)
{
    cw_run_script(c, arg);
}

static void cw_run_script(fake_conn_t *c, cw_world_t *w)
{
    while (w->script_pos < w->script_len) {
        uint8_t op = w->script[w->script_pos++];
        size_t left = w->script_len - w->script_pos, n;

        switch (op) {
        case 0x00:
            n = left >= 2 ? ((size_t)w->script[w->script_pos] << 8) | w->script[w->script_pos + 1]
                          : 0;
            w->script_pos += left >= 2 ? 2 : left;
            left = w->script_len - w->script_pos;
            n = n < left ? n : left;
            fake_send(c, w->script + w->script_pos, n);
            w->script_pos += n;
            break;
        case 0x01:
            fake_close(c);
            break;
        case 0x02:
            fake_reset(c);
            break;
        case 0x03:
            n = left ? w->script[w->script_pos++] : 0;
            fake_later(c, (uint32_t)n * 32u, cw_later, w);
            return;
        case 0x04:
            return;
        case 0x05:
            w->refuse_next = 1;
            break;
        case 0x06:
            w->hang_next = 1;
            break;
        case 0x07:
            fake_respond(c, 200, NULL, "hello");
            break;
        default:
            fake_send(c, &op, 1);
            break;
        }
    }
}

static int cw_on_accept(void *user, fake_conn_t *c, unsigned i)
{
    cw_world_t *w = user;

    (void)i;
    if (w->refuse_next) {
        w->refuse_next = 0;
        return FN_REFUSE;
    }
    if (w->hang_next) {
        w->hang_next = 0;
        return FN_HANG;
    }
    /* The server never sees an HTTP request inside TLS: it talks first. */
    if (w->tls)
        cw_run_script(c, w);
    return FN_ACCEPT;
}

static void cw_on_request(void *user, fake_conn_t *c, const fn_req_t *q)
{
    cw_world_t *w = user;

    if (w->tls)
        return; /* bytes of TLS records that happened to hold a blank line */
    /* The request line as sent: slot 0's "q" percent-encoded, the others unset. */
    CW_CHECK(!strcmp(q->path, "/f/") || !strcmp(q->path, "/f/a%20b%2F%25%0D%0A"),
             "request path \"%s\"", q->path);
    cw_run_script(c, user);
}

/* ---- Streams and their callbacks ---- */

static int cw_request(cw_world_t *w, int i)
{
    cw_slot_t *s = &w->slot[i];
    int ret;

    if (!s->s)
        return 0;
    s->requests++; /* first: the cycle may end inside the call */
    if (w->method == 1) {
        s->tx_left = 1 + (w->script_len + (size_t)i * 977) % 3000;
        ret = wisp_stream_request_tx_len(s->s, s->tx_left);
    } else {
        ret = wisp_stream_request_tx(s->s);
    }
    if (ret)
        s->requests--;
    CW_CHECK(!ret || ret == WISP_EBUSY, "request_tx on %d: %s", i, wisp_errname(ret));
    return ret;
}

static int cw_call(cw_world_t *w, int i, int kind)
{
    if (w->cx_gone)
        return 0;
    CW_CHECK(++w->callbacks <= CW_CALLBACKS, "runaway: %u callbacks in one wisp_service()",
             w->callbacks);
    if (w->quiet || !w->act)
        return 0;
    return w->act(w, i, kind);
}

static int cw_state(void *user, wisp_state_t st, int arg)
{
    cw_slot_t *s = user;
    cw_world_t *w = cw_W;
    int i = (int)(s - w->slot);

    CW_CHECK(!s->destroying, "slot %d: %s after DESTROYING", i, wisp_state_name(st));
    if (s->must_follow)
        CW_CHECK(st == WISP_STATE_RETRYING || st == WISP_STATE_ALL_RETRIES_FAILED ||
                     st == WISP_STATE_DESTROYING,
                 "slot %d: %s after %s (SPEC 6: RETRYING or ALL_RETRIES_FAILED at once)", i,
                 wisp_state_name(st), wisp_state_name(s->must_follow));
    s->must_follow = st == WISP_STATE_CONNECTION_FAILED || st == WISP_STATE_DISCONNECTED ? st : 0;
    if (st == WISP_STATE_DESTROYING) {
        s->destroying++;
        s->s = NULL;
        return 0;
    }
    if (st == WISP_STATE_DONE)
        CW_CHECK(arg >= 100 && arg <= 999, "slot %d: DONE with arg %d", i, arg);
    if (st == WISP_STATE_DONE || st == WISP_STATE_ALL_RETRIES_FAILED || st == WISP_STATE_TIMEOUT) {
        CW_CHECK(s->terminals < s->requests, "slot %d: %s ends no cycle (%u requests, %u ends)", i,
                 wisp_state_name(st), s->requests, s->terminals);
        s->terminals++;
    }
    if (st == WISP_STATE_CREATED)
        return 0; /* inside wisp_stream_create: s->s is not set yet */
    return cw_call(w, i, CW_CB_STATE);
}

static int cw_rx(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    cw_slot_t *s = user;
    cw_world_t *w = cw_W;
    int i = (int)(s - w->slot);
    volatile uint8_t sink = 0;
    size_t k;

    CW_CHECK(!s->destroying, "slot %d: rx after DESTROYING", i);
    CW_CHECK(len == 0 || buf, "slot %d: rx of %zu bytes from NULL", i, len);
    for (k = 0; k < len; k++) /* every byte handed over must be readable (ASan) */
        sink ^= buf[k];
    (void)sink;
    (void)flags;
    return cw_call(w, i, CW_CB_RX);
}

static int cw_tx(void *user, uint8_t *buf, size_t *len, unsigned *flags)
{
    cw_slot_t *s = user;
    cw_world_t *w = cw_W;
    int i = (int)(s - w->slot);
    size_t n;
    int r;

    CW_CHECK(!s->destroying, "slot %d: tx after DESTROYING", i);
    r = cw_call(w, i, CW_CB_TX);
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

static int cw_create(cw_world_t *w, int i)
{
    static const char *const types[] = {"a", "a", "b", "d"};
    cw_slot_t *s = &w->slot[i];
    wisp_stream_t *h = NULL;
    int ret;

    memset(s, 0, sizeof(*s));
    /* Slots 0 and 1 share a type; "b" may have reuse off (byte 0 bit 6); "d" never
     * reuses a connection. Types with one endpoint queue on one leader. */
    s->ops.type = types[i];
    s->ops.rx = cw_rx;
    s->ops.tx = w->method == 1 ? cw_tx : NULL;
    s->ops.state = cw_state;
    ret = wisp_stream_create(w->cx, &s->ops, s, &h);
    if (ret == WISP_ESTATE)
        return ret; /* the context is being destroyed */
    CW_CHECK(!ret, "wisp_stream_create: %s", wisp_errname(ret));
    s->s = h;
    return 0;
}

/* ---- One run ---- */

static char *cw_policy(const cw_world_t *w, uint8_t cfg)
{
    static const char *const methods[] = {"GET", "POST", "HEAD", "GET"};
    char *ca = w->tls ? test_cert_json("ca.pem") : NULL;
    size_t cap = 4096 + (ca ? strlen(ca) : 0);
    char *p = malloc(cap), common[512];
    const char *m = methods[(cfg >> 3) & 3];

    if (!p)
        abort();
    snprintf(common, sizeof(common),
             "\"endpoint\":\"%s\",\"tls\":%s%s,\"timeout_ms\":2000,"
             "\"connect_timeout_ms\":1000,\"keepalive_ms\":300,\"method\":\"%s\","
             "\"url\":\"/f/${q}\",\"metadata\":{\"q\":null,\"ct\":\"content-type\"},"
             "\"pipeline_depth\":%d%s",
             w->tls ? "localhost" : "127.0.0.1", w->tls ? "true" : "false",
             w->tls ? ",\"trust_store\":\"ts\"" : "", m, (cfg & 0x20) && m[0] != 'P' ? 2 : 1,
             ((cfg >> 3) & 3) == 3 ? ",\"retry\":\"r\"" : "");
    snprintf(p, cap,
             "{\"schema\":1,%s%s%s"
             "\"retry\":{\"r\":{\"backoff_ms\":[20,50],\"conceal\":2}},"
             "\"streams\":{\"a\":{%s},\"b\":{%s%s},\"d\":{%s,\"reuse\":false}}}",
             ca ? "\"certs\":{\"ca\":\"" : "", ca ? ca : "",
             ca ? "\"},\"trust_stores\":{\"ts\":{\"certs\":[\"ca\"]}}," : "", common, common,
             (cfg & 0x40) ? ",\"reuse\":false" : "", common);
    free(ca);
    return p;
}

static int cw_busy(const cw_world_t *w)
{
    unsigned i;

    for (i = 0; i < CW_NS; i++)
        if (w->slot[i].s && w->slot[i].terminals != w->slot[i].requests)
            return 1;
    return 0;
}

/* Control is back with the application: nothing may be left half-failed. */
static void cw_check_followed(const cw_world_t *w)
{
    unsigned i;

    for (i = 0; i < CW_NS; i++)
        CW_CHECK(!w->slot[i].s || !w->slot[i].must_follow,
                 "slot %u: %s not followed by RETRYING or ALL_RETRIES_FAILED", i,
                 wisp_state_name(w->slot[i].must_follow));
}

static void cw_check_idle(const cw_world_t *w)
{
    unsigned i;

    for (i = 0; i < CW_NS; i++) {
        const cw_slot_t *s = &w->slot[i];

        CW_CHECK(s->destroying <= 1, "slot %u: %u DESTROYING", i, s->destroying);
        if (!s->s)
            continue;
        CW_CHECK(s->terminals == s->requests,
                 "slot %u: %u requests but %u terminal states, now %s (virtual %llu ms)", i,
                 s->requests, s->terminals, wisp_state_name(wisp_stream_state(s->s)),
                 (unsigned long long)fakenet_now(w->fn));
    }
}

static void cw_service(cw_world_t *w, int timeout_ms)
{
    int ret;

    w->callbacks = 0;
    ret = wisp_service(w->cx, timeout_ms);
    CW_CHECK(w->cx_gone ? ret == WISP_ECANCELED : ret == 0, "wisp_service: %s", wisp_errname(ret));
    if (!w->cx_gone)
        cw_check_followed(w);
}

/* The whole scenario for one input; sched may be NULL. */
static void cw_run(const uint8_t *data, size_t size, int with_schedule,
                   int (*act)(cw_world_t *w, int i, int cb_kind))
{
    fakenet_server_t srv = {cw_on_accept, cw_on_request, NULL};
    cw_world_t *w;
    uint8_t cfg;
    uint64_t start;
    char *policy;
    unsigned i, it;
    int ret;

    if (size < 1 + (with_schedule ? 1u : 0u))
        return;
    w = calloc(1, sizeof(*w));
    if (!w)
        abort();
    cw_W = w;
    cfg = data[0];
    data++, size--;
    if (with_schedule) {
        size_t n = data[0] < size - 1 ? data[0] : size - 1;

        w->sched = data + 1;
        w->sched_len = n;
        data += 1 + n, size -= 1 + n;
        w->act = act;
    }
    w->script = data;
    w->script_len = size;
    w->nslots = (cfg & 3) + 1u;
    w->tls = (cfg >> 2) & 1;
    w->method = ((cfg >> 3) & 3) == 1 ? 1 : 0;
    w->refuse_next = cfg >> 7;
    srv.user = w;
    w->fn = fakenet_new(&srv, 1);
    testalloc_init(&w->ta, 0);
    policy = cw_policy(w, cfg);
    ret = testalloc_context_plat(&w->ta, policy, fakenet_ops(w->fn), &w->cx);
    CW_CHECK(!ret, "wisp_context_create: %s\n%s", wisp_errname(ret), policy);
    free(policy);
    for (i = 0; i < w->nslots; i++)
        (void)cw_create(w, (int)i);
    /* Slot 0 sends a templated path segment with characters that need encoding. */
    if (w->slot[0].s) {
        ret = wisp_stream_set_metadata(w->slot[0].s, "q", "a b/%\r\n", 7);
        CW_CHECK(!ret, "wisp_stream_set_metadata: %s", wisp_errname(ret));
    }
    for (i = 0; i < w->nslots && !w->cx_gone; i++)
        (void)cw_request(w, (int)i);
    if (!w->cx_gone)
        cw_check_followed(w);
    start = fakenet_now(w->fn);
    for (it = 0; !w->cx_gone && it < CW_ITERATIONS; it++) {
        cw_service(w, 100);
        if (!cw_busy(w) && w->sched_pos >= w->sched_len)
            break;
        if (fakenet_now(w->fn) - start > CW_SETTLE_MS)
            break;
    }
    if (!w->cx_gone) {
        /* Drain: no more actions; every open cycle must reach its end by timeouts. */
        w->quiet = 1;
        for (it = 0; it < 200 && cw_busy(w); it++)
            cw_service(w, 1000);
        cw_check_idle(w);
        for (i = 0; i < CW_NS; i++)
            wisp_stream_destroy(w->slot[i].s);
        cw_service(w, 0);
        for (i = 0; i < CW_NS; i++)
            CW_CHECK(!w->slot[i].s, "slot %u: destroyed but no DESTROYING", i);
        wisp_context_destroy(w->cx);
    }
    for (i = 0; i < CW_NS; i++)
        CW_CHECK(!w->slot[i].s, "slot %u: never got DESTROYING", i);
    CW_CHECK(w->ta.live_blocks == 0, "%zu heap blocks left after wisp_context_destroy",
             w->ta.live_blocks);
    CW_CHECK(fakenet_open(w->fn) == 0, "%u sockets left open", fakenet_open(w->fn));
    fakenet_free(w->fn);
    free(w);
    cw_W = NULL;
}

#endif /* WISP_FUZZ_CLIENT_WORLD_H */
