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
#include "tls/tls-heap.h"
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

static struct {
    int finished, status, final_state;
    size_t body_len;
    char body[64];
} run;

static int on_rx(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    (void)user;
    (void)flags;
    if (len && run.body_len + len < sizeof(run.body)) {
        memcpy(run.body + run.body_len, buf, len);
        run.body[run.body_len + len] = '\0';
    }
    run.body_len += len;
    return WISP_CB_OK;
}

static int on_state(void *user, wisp_state_t st, int arg)
{
    (void)user;
    if (st == WISP_STATE_ACK || st == WISP_STATE_NACK)
        run.status = arg;
    if (st == WISP_STATE_DONE || st == WISP_STATE_ALL_RETRIES_FAILED || st == WISP_STATE_TIMEOUT ||
        st == WISP_STATE_CONNECTION_FAILED) {
        run.finished = 1;
        run.final_state = (int)st;
        if (st != WISP_STATE_DONE)
            printf("stream: %s (%s)\n", wisp_state_name(st), wisp_strerror(arg));
    }
    return WISP_CB_OK;
}

static const wisp_stream_ops_t stream_ops = {.type = "hello", .rx = on_rx, .state = on_state};

/*
 * mbedTLS 3.6: PSA's state is process-global (its entropy accumulator alone is a
 * 104-byte SHA-256 context on the heap), and lib/tls initialises PSA when the first
 * TLS configuration is built, so without this the first context would be charged
 * for it for ever: its idle heap would not return to the starting figure and its
 * destruction would report a leak. So the board initialises PSA at boot, charged to
 * an account of its own, and frees it at the end. Nothing to do on 2.28.
 */
#if defined(MBEDTLS_PSA_CRYPTO_C)
static int global_tls_init(wisp_context_t *account)
{
    wisp_context_t *prev = wisp__tls_heap_use(account);
    int ret = psa_crypto_init() == PSA_SUCCESS ? 0 : -1;

    (void)wisp__tls_heap_use(prev);
    return ret;
}

static void global_tls_free(wisp_context_t *account)
{
    wisp_context_t *prev = wisp__tls_heap_use(account);

    mbedtls_psa_crypto_free();
    (void)wisp__tls_heap_use(prev);
}
#else
static int global_tls_init(wisp_context_t *account)
{
    (void)account;
    return 0;
}

static void global_tls_free(wisp_context_t *account)
{
    (void)account;
}
#endif

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

int main(void)
{
    wisp_context_info_t info = {0}, peer_info = {0};
    wisp_context_t *cx = NULL, *peer_cx = NULL, *global_cx = NULL;
    wisp_stream_t *s = NULL;
    wisp_stats_t st, peer_st;
    const void *meta = NULL;
    size_t meta_len = 0, heap_before, heap_after, heap_peak;
    const wisp_plat_ops_t *plat;
    const peer_io_t *io = NULL;
    unsigned long iterations = 0;
    unsigned left;
    int ok;

    printf("wisp firmware test: qemu mps2-an386 (Cortex-M4F), mbedTLS %s%s\n", wisp_tls_version(),
           TRANSPORT);
    plat = transport_init(&io);

    /* The peer's own heap account, and one for process-global TLS state: bare
     * contexts with the same allocator. */
    peer_info.allocator = &allocator;
    peer_info.plat = plat;
    if (!io || wisp__context_new(&peer_info, &peer_cx) || peer_init(peer_cx, io) ||
        wisp__context_new(&peer_info, &global_cx) || global_tls_init(global_cx)) {
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

    if (wisp_stream_create(cx, &stream_ops, NULL, &s) || wisp_stream_request_tx(s)) {
        printf("FAIL: stream\n");
        return 1;
    }
    while (!run.finished && iterations++ < MAX_ITERATIONS) {
        peer_step();
        if (wisp_service(cx, 10) < 0)
            break;
    }
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
    for (iterations = 0; iterations < 100; iterations++) {
        peer_step();
        (void)wisp_service(cx, DRAIN_MS);
    }
    wisp_get_stats(cx, &st);
    heap_after = st.heap_in_use;
    printf("peer: %s %s, %s\n", peer_version(), peer_suite(),
           peer_done() ? "closed" : "still open");
    printf("heap idle before: %lu\n", (unsigned long)heap_before);
    printf("heap idle after: %lu\n", (unsigned long)heap_after);
    printf("heap peak (client, mbedTLS counted): %lu\n", (unsigned long)heap_peak);
    wisp_context_destroy(cx);

    wisp_get_stats(peer_cx, &peer_st);
    printf("heap peak (peer, not budgeted): %lu\n", (unsigned long)peer_st.heap_peak);
    peer_free();
    wisp__context_free(peer_cx);
    global_tls_free(global_cx);
    wisp__context_free(global_cx);
    left = transport_end();

    printf("stack high-water: %lu of %lu\n", (unsigned long)board_stack_high_water(),
           (unsigned long)board_stack_size());
    ok = run.final_state == WISP_STATE_DONE && run.status == 200 && heap_after == heap_before &&
         peer_done() && !left;
    printf("%s\n", ok ? "PASS" : "FAIL");
    return ok ? 0 : 1;
}
