/*
 * SPEC §10, "a peer reset at any byte": one GET stream against nginx, run again and
 * again with the connection cut after N bytes, for every N from 0 to past the whole
 * exchange — once on the receive side (the server's bytes stop and the socket
 * reports a reset), once on the send side. Each run must end in a terminal state
 * with a negative error (or DONE once N covers everything), never crash, deliver
 * DESTROYING exactly once, and leave no block behind after the context is gone.
 *
 * A third sweep flips one bit of the N-th received byte instead (a corrupt TLS
 * record): the stream must fail with an error, or — if the byte came after the
 * response — complete with the body intact, never deliver altered data.
 *
 * The cut is a platform wrapper: wisp's own socket calls see WISP_ERESET, exactly as
 * they would from a real peer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testalloc.h"
#include "testfiles.h"
#include "wisp/stream.h"

static unsigned port;
static wisp_plat_ops_t cut_plat;
static long budget_in, budget_out; /* bytes left before the cut; < 0: no cut */
static long flip_at;               /* received byte to corrupt; < 0: none */
static size_t seen_in, seen_out;

static int cut_recv(void *user, int fd, void *buf, size_t len)
{
    int n;

    if (budget_in == 0)
        return WISP_ERESET;
    if (budget_in > 0 && len > (size_t)budget_in)
        len = (size_t)budget_in;
    n = wisp_plat_posix()->sock_recv(user, fd, buf, len);
    if (n > 0 && flip_at >= 0 && (size_t)flip_at >= seen_in &&
        (size_t)flip_at < seen_in + (size_t)n)
        ((uint8_t *)buf)[(size_t)flip_at - seen_in] ^= 0x10;
    if (n > 0) {
        seen_in += (size_t)n;
        if (budget_in > 0)
            budget_in -= n;
    }
    return n;
}

static int cut_send(void *user, int fd, const void *buf, size_t len)
{
    int n;

    if (budget_out == 0)
        return WISP_ERESET;
    if (budget_out > 0 && len > (size_t)budget_out)
        len = (size_t)budget_out;
    n = wisp_plat_posix()->sock_send(user, fd, buf, len);
    if (n > 0) {
        seen_out += (size_t)n;
        if (budget_out > 0)
            budget_out -= n;
    }
    return n;
}

typedef struct run {
    int done, failed, destroying, last_err;
    size_t body;
    char text[64];
} run_t;

static int on_rx(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    run_t *r = user;

    (void)flags;
    if (len && r->body + len < sizeof(r->text))
        memcpy(r->text + r->body, buf, len);
    r->body += len;
    return 0;
}

static int on_state(void *user, wisp_state_t st, int arg)
{
    run_t *r = user;

    switch (st) {
    case WISP_STATE_DONE:
        r->done = 1;
        break;
    case WISP_STATE_ALL_RETRIES_FAILED:
    case WISP_STATE_TIMEOUT:
    case WISP_STATE_DISCONNECTED:
        r->failed = 1;
        r->last_err = arg;
        break;
    case WISP_STATE_DESTROYING:
        r->destroying++;
        break;
    default:
        break;
    }
    return 0;
}

static char *policy_text(void)
{
    char *pem = test_cert_json("ca.pem"), *json;
    size_t len;

    assert_non_null(pem);
    len = strlen(pem) + 512;
    json = malloc(len);
    snprintf(json, len,
             "{\"schema\": 1, \"certs\": {\"ca\": \"%s\"},"
             " \"trust_stores\": {\"t\": {\"certs\": [\"ca\"]}},"
             " \"streams\": {\"get\": {\"endpoint\": \"127.0.0.1\", \"port\": %u,"
             " \"trust_store\": \"t\", \"url\": \"/hello\", \"timeout_ms\": 5000,"
             " \"connect_timeout_ms\": 5000, \"keepalive_ms\": 0}}}",
             pem, port);
    free(pem);
    return json;
}

/* One GET with the given cuts; returns 1 if it completed (DONE). */
static int one_run(const char *json, long in, long out)
{
    static const wisp_stream_ops_t ops = {"get", on_rx, NULL, on_state};
    wisp_context_info_t info;
    wisp_context_t *cx;
    wisp_stream_t *s;
    testalloc_t ta;
    run_t r;
    int spins = 0;

    budget_in = in;
    budget_out = out;
    seen_in = seen_out = 0;
    memset(&r, 0, sizeof(r));
    testalloc_init(&ta, 0);
    memset(&info, 0, sizeof(info));
    info.allocator = &ta.a;
    info.policy_json = json;
    info.plat = &cut_plat;
    info.log_level = WISP_LOG_ERROR;
    info.log_level_set = 1;
    assert_int_equal(wisp_context_create(&info, &cx), 0);
    assert_int_equal(wisp_stream_create(cx, &ops, &r, &s), 0);
    assert_int_equal(wisp_stream_request_tx(s), 0);
    while (!r.done && !r.failed && spins++ < 1000)
        assert_int_equal(wisp_service(cx, 10), 0);
    if (!r.done && !r.failed)
        fail_msg("cut in=%ld out=%ld: no terminal state", in, out);
    if (r.failed && r.last_err >= 0)
        fail_msg("cut in=%ld out=%ld: failure without an error code", in, out);
    if (r.done && (r.body != 17 || memcmp(r.text, "hello from nginx\n", 17)))
        fail_msg("cut in=%ld out=%ld flip %ld: completed with an altered body", in, out, flip_at);
    wisp_stream_destroy(s);
    assert_int_equal(wisp_service(cx, 0), 0);
    wisp_context_destroy(cx);
    assert_int_equal(r.destroying, 1);
    if (ta.live_blocks)
        fail_msg("cut in=%ld out=%ld: %zu blocks left", in, out, ta.live_blocks);
    return r.done;
}

static void sweep(int receive_side)
{
    char *json = policy_text();
    size_t total, n, step;
    unsigned completed = 0;

    /* An uncut run measures the exchange. */
    assert_true(one_run(json, -1, -1));
    total = receive_side ? seen_in : seen_out;
    assert_true(total > 100);
    /* Every byte through the handshake's first flights, then a stride. A run cut a
     * little past the end (ECDSA signatures vary by a byte or two between runs) must
     * complete like the uncut one: a reset after the response changes nothing. */
    for (n = 0; n < total; n += step) {
        completed += one_run(json, receive_side ? (long)n : -1, receive_side ? -1 : (long)n);
        step = n < 200 ? 1 : 7;
    }
    n = total + 8;
    assert_true(one_run(json, receive_side ? (long)n : -1, receive_side ? -1 : (long)n));
    print_message("%s cut: %zu byte exchange; %u of the cut runs still completed\n",
                  receive_side ? "receive" : "send", total, completed);
    free(json);
}

static void test_corrupt_every_received_byte(void **state)
{
    char *json = policy_text();
    size_t total, n, step = 1;
    unsigned completed = 0;

    (void)state;
    flip_at = -1;
    assert_true(one_run(json, -1, -1));
    total = seen_in;
    for (n = 0; n < total; n += step) {
        flip_at = (long)n;
        completed += one_run(json, -1, -1);
        step = n < 200 ? 1 : 5;
    }
    flip_at = -1;
    print_message("corrupt: %zu byte exchange; %u runs completed with the body intact\n", total,
                  completed);
    free(json);
}

static void test_reset_at_every_received_byte(void **state)
{
    (void)state;
    sweep(1);
}

static void test_reset_at_every_sent_byte(void **state)
{
    (void)state;
    sweep(0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_at_every_received_byte),
        cmocka_unit_test(test_reset_at_every_sent_byte),
        cmocka_unit_test(test_corrupt_every_received_byte),
    };

    if (argc < 2)
        return 2;
    port = (unsigned)strtoul(argv[1], NULL, 10);
    flip_at = -1;
    cut_plat = *wisp_plat_posix();
    cut_plat.sock_recv = cut_recv;
    cut_plat.sock_send = cut_send;
    return cmocka_run_group_tests(tests, NULL, NULL);
}
