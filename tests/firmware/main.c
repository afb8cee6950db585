/*
 * The wisp firmware test image (QEMU mps2-an386, Cortex-M4F): one client stream of
 * the static policy fw_policy (policy.json, compiled by wisp_add_static_policy) does
 * a full TLS handshake and an HTTP/1.1 GET against the in-image TLS peer (peer.c),
 * on one loop, over in-memory sockets (plat-mem.c) or, built with FW_LWIP
 * (wisp-fw-lwip.elf), over TCP on lwIP's loopback netif through wisp's raw lwIP
 * port (lib/plat/lwip/raw.c, NO_SYS=1; lwip-board.c). It prints through semihosting:
 * the transaction's result, the client's peak heap with mbedTLS counted, the idle heap
 * before and after the stream, and the stack high-water mark; tests/firmware/check.py
 * compares the transcript with expected.txt (expected-lwip.txt, which adds lwIP's own
 * count of PCBs, segments, pbufs and heap left in use: all must be 0).
 *
 * The application supplies wisp's allocator (newlib's malloc, which the image links
 * for stdio anyway), its log sink and its platform: wisp's defaults are not in this
 * build (WISP_WITH_DEFAULT_ALLOC/LOG = 0, no POSIX port).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wisp.h>

#include "board/board.h"
#include "core/core-internal.h"
#ifdef FW_POLICY_H
#include FW_POLICY_H
#else
#include "fw_policy.h"
#endif
#include "peer.h"
#include "plat-mem.h"
#include <mbedtls/version.h>
#if defined(MBEDTLS_PSA_CRYPTO_C)
#include <psa/crypto.h>
#endif
#ifdef FW_LWIP
#include "lwip-board.h"
#include "lwip/init.h"
#include "wisp-lwip.h"
#endif

/* Loop iterations before the run is declared hung (each advances the virtual clock
 * by at most 10 ms when idle, so the policy's 10 s timeout fires well before). */
#define MAX_ITERATIONS 20000

static void *app_alloc(void *user, size_t size)
{
    (void)user;
    return malloc(size);
}

static void app_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

static const wisp_allocator_t allocator = {app_alloc, app_free, NULL};

static void app_log(void *user, int level, const char *line)
{
    (void)user;
    printf("log %d: %s\n", level, line);
}

/* What one stream saw; its user pointer. */
typedef struct result {
    int finished, status, final_state;
    size_t body_len;
    char body[64];
} result_t;

static int on_rx(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    result_t *r = user;

    (void)flags;
    if (len && r->body_len + len < sizeof(r->body)) {
        memcpy(r->body + r->body_len, buf, len);
        r->body[r->body_len + len] = '\0';
    }
    r->body_len += len;
    return WISP_CB_OK;
}

static int on_state(void *user, wisp_state_t st, int arg)
{
    result_t *r = user;

    if (st == WISP_STATE_ACK || st == WISP_STATE_NACK)
        r->status = arg;
    if (st == WISP_STATE_DONE || st == WISP_STATE_ALL_RETRIES_FAILED || st == WISP_STATE_TIMEOUT ||
        st == WISP_STATE_CONNECTION_FAILED) {
        r->finished = 1;
        r->final_state = (int)st;
        if (st != WISP_STATE_DONE)
            printf("stream: %s (%s)\n", wisp_state_name(st), wisp_strerror(arg));
    }
    return WISP_CB_OK;
}

static const wisp_stream_ops_t stream_ops = {.type = "hello", .rx = on_rx, .state = on_state};
/* The same GET, queued on one connection (the policy's "queued" type reuses). */
static const wisp_stream_ops_t queued_ops = {.type = "queued", .rx = on_rx, .state = on_state};

/*
 * mbedTLS 3.6: PSA's state is process-global (its entropy accumulator alone is a
 * 104-byte SHA-256 context on the heap). lib/tls starts PSA when the first TLS
 * configuration is built and charges it to no context (lib/tls/tls-heap.c), so the
 * first context's idle heap still returns to its starting figure — which this image
 * checks. What PSA holds is the application's to free at shutdown. Nothing on 2.28.
 */
static void global_tls_free(void)
{
#if defined(MBEDTLS_PSA_CRYPTO_C)
    mbedtls_psa_crypto_free();
#endif
}

/* The transport: wisp's platform table, the peer's sockets, and what is left in use
 * by the transport itself at the end (0 when it holds nothing). */
#ifdef FW_LWIP
#define TRANSPORT ", lwIP " LWIP_VERSION_STRING " raw API (NO_SYS=1), loopback netif"
/* After the stream: long enough on the virtual clock for TIME_WAIT and lwIP's slow
 * timer (2 * TCP_MSL + 500 ms). */
#define DRAIN_MS 10
static const wisp_plat_ops_t *transport_init(const peer_io_t **io)
{
    fw_lwip_init();
    *io = fw_lwip_peer_io();
    return wisp_plat_lwip_raw();
}

static unsigned transport_end(void)
{
    fw_lwip_peer_io_close();
    return fw_lwip_report();
}
#else
#define TRANSPORT ""
#define DRAIN_MS 0
static const peer_io_t mem_io = {mem_accept, mem_send, mem_recv, mem_close, mem_entropy};

static const wisp_plat_ops_t *transport_init(const peer_io_t **io)
{
    *io = &mem_io;
    return mem_plat();
}

static unsigned transport_end(void)
{
    return 0;
}
#endif

/* Service wisp and the peer until every stream in R[0..n) has finished (or the run
 * is declared hung), then let the peer and the streams' connections wind down. */
static void run_until_finished(wisp_context_t *cx, const result_t *r, unsigned n)
{
    unsigned long iterations = 0;
    unsigned i, done = 0;

    while (done < n && iterations++ < MAX_ITERATIONS) {
        peer_step();
        if (wisp_service(cx, 10) < 0)
            break;
        for (i = 0, done = 0; i < n; i++)
            done += r[i].finished ? 1u : 0u;
    }
}

static void drain(wisp_context_t *cx)
{
    unsigned i;

    for (i = 0; i < 100; i++) {
        peer_step();
        (void)wisp_service(cx, DRAIN_MS);
    }
}

/*
 * The second run: QUEUED streams created at once, queued on one connection (one
 * handshake), the peer answering them in turn with keep-alive. Its own context, so
 * its peak heap is its own: SPEC section 11's "four streams queued on one connection".
 */
#define QUEUED 4
static int queued_run(const wisp_context_info_t *info)
{
    wisp_context_t *cx = NULL;
    wisp_stream_t *s[QUEUED] = {NULL};
    result_t r[QUEUED];
    wisp_stats_t st;
    size_t heap_before, heap_after;
    unsigned i, done = 0, ok200 = 0;
    int ok;

    memset(r, 0, sizeof(r));
    if (peer_serve(QUEUED) || wisp_context_create(info, &cx)) {
        printf("FAIL: queued setup\n");
        return 0;
    }
    wisp_get_stats(cx, &st);
    heap_before = st.heap_in_use;
    for (i = 0; i < QUEUED; i++)
        if (wisp_stream_create(cx, &queued_ops, &r[i], &s[i]) || wisp_stream_request_tx(s[i])) {
            printf("FAIL: queued stream %u\n", i);
            r[i].finished = 1;
        }
    run_until_finished(cx, r, QUEUED);
    for (i = 0; i < QUEUED; i++) {
        done += r[i].final_state == WISP_STATE_DONE ? 1u : 0u;
        ok200 += r[i].status == 200 ? 1u : 0u;
    }
    wisp_get_stats(cx, &st);
    printf("queued: %u of %u DONE, %u HTTP 200; transactions %lu, conns_opened %lu, "
           "handshakes_full %lu\n",
           done, QUEUED, ok200, (unsigned long)st.transactions, (unsigned long)st.conns_opened,
           (unsigned long)st.handshakes_full);
    printf("heap peak, %u streams queued (client, mbedTLS counted): %lu\n", QUEUED,
           (unsigned long)st.heap_peak);
    ok = done == QUEUED && ok200 == QUEUED && st.conns_opened == 1 && st.handshakes_full == 1;
    for (i = 0; i < QUEUED; i++)
        wisp_stream_destroy(s[i]);
    drain(cx);
    wisp_get_stats(cx, &st);
    heap_after = st.heap_in_use;
    printf("queued heap idle before: %lu, after: %lu\n", (unsigned long)heap_before,
           (unsigned long)heap_after);
    wisp_context_destroy(cx);
    return ok && heap_after == heap_before;
}

int main(void)
{
    wisp_context_info_t info = {0}, peer_info = {0};
    wisp_context_t *cx = NULL, *peer_cx = NULL;
    wisp_stream_t *s = NULL;
    wisp_stats_t st, peer_st;
    const void *meta = NULL;
    size_t meta_len = 0, heap_before, heap_after, heap_peak;
    const wisp_plat_ops_t *plat;
    const peer_io_t *io = NULL;
    result_t run;
    unsigned left;
    int ok, queued_ok;

    memset(&run, 0, sizeof(run));
    printf("wisp firmware test: qemu mps2-an386 (Cortex-M4F), mbedTLS %s%s\n", wisp_tls_version(),
           TRANSPORT);
    plat = transport_init(&io);

    /* The peer's own heap account: a bare context with the same allocator. */
    peer_info.allocator = &allocator;
    peer_info.plat = plat;
    if (!io || wisp__context_new(&peer_info, &peer_cx) || peer_init(peer_cx, io)) {
        printf("FAIL: peer setup\n");
        return 1;
    }

    info.policy = &fw_policy;
    info.allocator = &allocator;
    info.plat = plat;
    info.log = app_log;
    info.log_level = WISP_LOG_WARN;
    info.log_level_set = 1;
    if (wisp_context_create(&info, &cx)) {
        printf("FAIL: wisp_context_create\n");
        return 1;
    }
    wisp_get_stats(cx, &st);
    heap_before = st.heap_in_use;

    if (wisp_stream_create(cx, &stream_ops, &run, &s) || wisp_stream_request_tx(s)) {
        printf("FAIL: stream\n");
        return 1;
    }
    run_until_finished(cx, &run, 1);
    if (wisp_stream_get_metadata(s, "test", &meta, &meta_len))
        meta_len = 0;
    printf("result: %s, HTTP %d, %lu body bytes\n",
           run.final_state == WISP_STATE_DONE ? "DONE" : "FAILED", run.status,
           (unsigned long)run.body_len);
    printf("body: %s", run.body);
    printf("metadata x-wisp-test: %.*s\n", (int)meta_len, meta ? (const char *)meta : "");
    wisp_get_stats(cx, &st);
    heap_peak = st.heap_peak;
    printf("stats: handshakes_full %lu, transactions %lu, conns_opened %lu\n",
           (unsigned long)st.handshakes_full, (unsigned long)st.transactions,
           (unsigned long)st.conns_opened);

    /* Let the peer finish, then the stream go: idle heap must be back where it was. */
    wisp_stream_destroy(s);
    drain(cx);
    wisp_get_stats(cx, &st);
    heap_after = st.heap_in_use;
    printf("peer: %s %s, %s\n", peer_version(), peer_suite(),
           peer_done() ? "closed" : "still open");
    printf("heap idle before: %lu\n", (unsigned long)heap_before);
    printf("heap idle after: %lu\n", (unsigned long)heap_after);
    printf("heap peak (client, mbedTLS counted): %lu\n", (unsigned long)heap_peak);
    wisp_context_destroy(cx);

    queued_ok = queued_run(&info);
    printf("peer after the queued run: %s\n", peer_done() ? "closed" : "still open");

    wisp_get_stats(peer_cx, &peer_st);
    printf("heap peak (peer, not budgeted): %lu\n", (unsigned long)peer_st.heap_peak);
    peer_free();
    wisp__context_free(peer_cx);
    global_tls_free();
    left = transport_end();

    printf("stack high-water: %lu of %lu\n", (unsigned long)board_stack_high_water(),
           (unsigned long)board_stack_size());
    ok = run.final_state == WISP_STATE_DONE && run.status == 200 && heap_after == heap_before &&
         queued_ok && peer_done() && !left;
    printf("%s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
