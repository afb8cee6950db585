/*
 * One lwIP flavour end to end on the host (built twice: WISP_TEST_RAW for the raw
 * API with NO_SYS=1, else the socket API with NO_SYS=0): wisp client streams and a
 * TLS (and a plain) HTTP/1.1 server (h1srv.c) on one wisp context whose plat ops are the lwIP port,
 * talking over lwIP's loopback netif in one process.
 *
 *   a GET; a GET by name over plain TCP (lwIP's DNS client, answered by dnssrv.c); a chunked POST;
 * 20 streams queued on one connection; a peer reset; a timeout; a name that does not resolve; then,
 * after the context is gone, zero wisp heap and zero lwIP TCP PCBs, segments, pbufs and heap in use
 *   (lwIP's own MEMP/MEM statistics).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "dnssrv.h"
#include "h1srv.h"
#include "testalloc.h"
#include "testfiles.h"
#include "wisp-lwip.h"
#include "wisp.h"

#include "lwip/init.h"
#include "lwip/memp.h"
#include "lwip/stats.h"
#ifndef WISP_TEST_RAW
#include "lwip/tcpip.h"
#endif

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

/* ---- The host "board" ---- */

int wisp_lwip_board_entropy(void *buf, size_t len)
{
    return getrandom(buf, len, 0) == (ssize_t)len ? 0 : -1;
}

#ifdef WISP_TEST_RAW
u32_t sys_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (u32_t)((uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u);
}

void wisp_lwip_board_poll(void)
{
}

void wisp_lwip_board_idle(uint32_t ms)
{
    struct timespec ts = {0, 1000000L * (long)(ms > 5 ? 5 : ms)};

    nanosleep(&ts, NULL);
}
#endif

/* ---- Streams ---- */

typedef struct rec {
    wisp_stream_t *s;
    wisp_stream_ops_t ops;
    wisp_state_t last;
    int arg, status, settled;
    size_t rx;
    char body[128];
    size_t tx_total, tx_sent;
} rec_t;

static int on_rx(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    rec_t *r = user;

    (void)flags;
    if (len && r->rx < sizeof(r->body) - 1) {
        size_t room = sizeof(r->body) - 1 - r->rx;

        memcpy(r->body + r->rx, buf, len < room ? len : room);
    }
    r->rx += len;
    return WISP_CB_OK;
}

static int on_tx(void *user, uint8_t *buf, size_t *len, unsigned *flags)
{
    rec_t *r = user;
    size_t n = r->tx_total - r->tx_sent, i;

    if (n > 700)
        n = 700; /* several chunks */
    if (n > *len)
        n = *len;
    for (i = 0; i < n; i++)
        buf[i] = (uint8_t)('a' + (r->tx_sent + i) % 26);
    r->tx_sent += n;
    *len = n;
    if (r->tx_sent == r->tx_total)
        *flags |= WISP_EOM;
    return 0;
}

static int on_state(void *user, wisp_state_t st, int arg)
{
    rec_t *r = user;

    r->last = st;
    r->arg = arg;
    if (st == WISP_STATE_ACK || st == WISP_STATE_NACK)
        r->status = arg;
    if (st == WISP_STATE_DONE || st == WISP_STATE_TIMEOUT || st == WISP_STATE_DISCONNECTED ||
        st == WISP_STATE_ALL_RETRIES_FAILED)
        r->settled = 1;
    return WISP_CB_OK;
}

static void start(wisp_context_t *cx, rec_t *r, const char *type, size_t tx_total)
{
    memset(r, 0, sizeof(*r));
    r->ops.type = type;
    r->ops.rx = on_rx;
    r->ops.state = on_state;
    r->tx_total = tx_total;
    if (tx_total)
        r->ops.tx = on_tx;
    CHECK(wisp_stream_create(cx, &r->ops, r, &r->s) == 0);
    CHECK(wisp_stream_request_tx(r->s) == 0);
}

static void run_until_settled(wisp_context_t *cx, rec_t *recs, size_t n, int ms)
{
    uint64_t end = wisp_now_ms(cx) + (uint64_t)ms;

    while (wisp_now_ms(cx) < end) {
        size_t i, open = 0;

        for (i = 0; i < n; i++)
            open += !recs[i].settled;
        if (!open)
            return;
        CHECK(wisp_service(cx, 20) == 0);
    }
    fprintf(stderr, "streams not settled after %d ms\n", ms);
    exit(1);
}

static void finish(rec_t *recs, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        wisp_stream_destroy(recs[i].s);
}

static char *policy(int port)
{
    static const char fmt[] =
        "{\"schema\": 1, \"certs\": {\"ca\": \"%s\"},"
        " \"trust_stores\": {\"ts\": {\"certs\": [\"ca\"]}},"
        " \"streams\": {"
        "  \"get\": {\"endpoint\": \"127.0.0.1\", \"port\": %d, \"trust_store\": \"ts\","
        "           \"url\": \"/hello\", \"keepalive_ms\": 100},"
        "  \"byname\": {\"endpoint\": \"wisp.test\", \"port\": %d, \"tls\": false,"
        "           \"url\": \"/hello\", \"keepalive_ms\": 100},"
        "  \"post\": {\"endpoint\": \"127.0.0.1\", \"port\": %d, \"trust_store\": \"ts\","
        "           \"method\": \"POST\", \"url\": \"/echo\", \"keepalive_ms\": 100},"
        "  \"q\": {\"endpoint\": \"127.0.0.1\", \"port\": %d, \"trust_store\": \"ts\","
        "           \"url\": \"/q\", \"keepalive_ms\": 200},"
        "  \"reset\": {\"endpoint\": \"127.0.0.1\", \"port\": %d, \"trust_store\": \"ts\","
        "           \"method\": \"POST\", \"url\": \"/reset\", \"reuse\": false},"
        "  \"slow\": {\"endpoint\": \"127.0.0.1\", \"port\": %d, \"trust_store\": \"ts\","
        "           \"url\": \"/slow\", \"timeout_ms\": 300, \"reuse\": false},"
        "  \"nxdomain\": {\"endpoint\": \"nosuch.invalid\", \"port\": %d,"
        "           \"trust_store\": \"ts\", \"url\": \"/hello\"}"
        " }}";
    char *ca = test_cert_json("ca.pem");
    size_t len = sizeof(fmt) + strlen(ca) + 64;
    char *p = malloc(len);

    CHECK(ca && p);
    snprintf(p, len, fmt, ca, port, port + 1, port, port, port, port, port);
    free(ca);
    return p;
}

/* ---- lwIP ---- */

#ifndef WISP_TEST_RAW
static void tcpip_ready(void *arg)
{
    sys_sem_signal((sys_sem_t *)arg);
}
#endif

static void lwip_start(void)
{
#ifdef WISP_TEST_RAW
    lwip_init();
    CHECK(dnssrv_start() == 0);
#else
    sys_sem_t ready;

    CHECK(sys_sem_new(&ready, 0) == ERR_OK);
    tcpip_init(tcpip_ready, &ready);
    sys_arch_sem_wait(&ready, 0);
    sys_sem_free(&ready);
    LOCK_TCPIP_CORE();
    CHECK(dnssrv_start() == 0);
    UNLOCK_TCPIP_CORE();
#endif
}

static const wisp_plat_ops_t *port(void)
{
#ifdef WISP_TEST_RAW
    return wisp_plat_lwip_raw();
#else
    return wisp_plat_lwip_sockets();
#endif
}

static unsigned lwip_in_use(int verbose)
{
    unsigned n = 0;
    int i;

    for (i = 0; i < MEMP_MAX; i++) {
        const struct stats_mem *m = lwip_stats.memp[i];

        if (!m || !m->used)
            continue;
        /* The DNS module's UDP PCB and the sockets flavour's netconn/tcpip message pools
         * in their resting state are not leaks of ours: count TCP and pbuf pools. */
        if (i == MEMP_TCP_PCB || i == MEMP_TCP_PCB_LISTEN || i == MEMP_TCP_SEG || i == MEMP_PBUF ||
            i == MEMP_PBUF_POOL) {
            if (verbose)
                fprintf(stderr, "lwIP pool %d: %u in use\n", i, (unsigned)m->used);
            n += m->used;
        }
    }
    if (lwip_stats.mem.used) {
        if (verbose)
            fprintf(stderr, "lwIP heap: %u bytes in use\n", (unsigned)lwip_stats.mem.used);
        n++;
    }
    return n;
}

int main(void)
{
    const wisp_plat_ops_t *plat;
    wisp_context_info_t info;
    testalloc_t ta;
    wisp_context_t *cx;
    wisp_stats_t st;
    h1srv_t *srv = calloc(1, sizeof(*srv)), *plain = calloc(1, sizeof(*plain));
    rec_t *r = calloc(24, sizeof(*r));
    char *pol;
    size_t i;
    uint64_t t0;
    size_t heap_base;

    CHECK(srv && plain && r);
    lwip_start();
    plat = port();

    /* The clock widening across sys_now()'s 32-bit wrap. */
    {
        wisp_lwip_clock_t c = {0xfffffff0u, 0};

        CHECK(wisp_lwip_clock_widen(&c, 0xfffffffeu) == 0xfffffffeull);
        CHECK(wisp_lwip_clock_widen(&c, 5) == 0x100000005ull);
        CHECK(wisp_lwip_clock_widen(&c, 5) == 0x100000005ull);
        CHECK(wisp_lwip_clock_widen(&c, 0xffffffffu) == 0x1ffffffffull);
        CHECK(wisp_lwip_clock_widen(&c, 0) == 0x200000000ull);
    }

    /* The server and the client share the context, so the policy names the server's
     * port before it listens: a fixed one (lwIP's loopback netif has nothing else). */
    testalloc_init(&ta, 0);
    memset(&info, 0, sizeof(info));
    info.allocator = &ta.a;
    pol = policy(8443);
    info.policy_json = pol;
    info.policy_json_len = strlen(pol);
    info.log_level = getenv("WISP_TEST_LOG") ? WISP_LOG_DEBUG : WISP_LOG_ERROR;
    info.log_level_set = 1;
    info.plat = plat;
    CHECK(wisp_context_create(&info, &cx) == 0);
    free(pol);
    wisp_get_stats(cx, &st);
    heap_base = st.heap_in_use; /* the loaded policy's own figure */
    CHECK(h1srv_open(srv, cx, 8443, 1) == 0);
    CHECK(h1srv_open(plain, cx, 8444, 0) == 0);

    /* A GET, then the same by name. */
    start(cx, &r[0], "get", 0);
    run_until_settled(cx, r, 1, 5000);
    CHECK(r[0].status == 200 && r[0].last == WISP_STATE_DONE);
    CHECK(strcmp(r[0].body, "hello from lwip\n") == 0);
    start(cx, &r[1], "byname", 0);
    run_until_settled(cx, r + 1, 1, 5000);
    CHECK(r[1].status == 200 && strcmp(r[1].body, "hello from lwip\n") == 0);
    CHECK(dnssrv_queries() >= 1);

    /* A chunked POST of 5000 bytes. */
    start(cx, &r[2], "post", 5000);
    run_until_settled(cx, r + 2, 1, 5000);
    CHECK(r[2].status == 200 && strcmp(r[2].body, "posted 5000") == 0);
    finish(r, 3);

    /* 20 streams at once: one connection, the rest queue on it. */
    wisp_get_stats(cx, &st);
    {
        unsigned before = st.conns_opened, accepted = srv->accepted;
        uint64_t reuses = st.reuses;

        for (i = 0; i < 20; i++)
            start(cx, &r[i], "q", 0);
        run_until_settled(cx, r, 20, 10000);
        for (i = 0; i < 20; i++)
            CHECK(r[i].status == 200 && strcmp(r[i].body, "q") == 0);
        wisp_get_stats(cx, &st);
        fprintf(stderr, "20 streams: %u connections, %u accepted, %u reuses\n",
                st.conns_opened - before, srv->accepted - accepted, (unsigned)st.reuses);
        CHECK(st.conns_opened <= before + 1);
        CHECK(st.reuses - reuses >= 19); /* all but at most the first on one connection */
        CHECK(srv->accepted <= accepted + 1);
        finish(r, 20);
    }

    /* A peer reset mid-request, then a timeout. */
    start(cx, &r[0], "reset", 200000);
    run_until_settled(cx, r, 1, 5000);
    fprintf(stderr, "reset: %s %s\n", wisp_state_name(r[0].last), wisp_strerror(r[0].arg));
    CHECK(r[0].last == WISP_STATE_DISCONNECTED || r[0].last == WISP_STATE_ALL_RETRIES_FAILED);
    CHECK(r[0].arg == WISP_ERESET);
    t0 = wisp_now_ms(cx);
    start(cx, &r[1], "slow", 0);
    run_until_settled(cx, r + 1, 1, 5000);
    fprintf(stderr, "slow: %s %s\n", wisp_state_name(r[1].last), wisp_strerror(r[1].arg));
    CHECK(r[1].last == WISP_STATE_TIMEOUT && r[1].arg == WISP_ETIMEDOUT);
    CHECK(wisp_now_ms(cx) - t0 >= 300);
    finish(r, 2);

    /* A name the DNS server does not know (NXDOMAIN). */
    start(cx, &r[0], "nxdomain", 0);
    run_until_settled(cx, r, 1, 10000);
    fprintf(stderr, "nxdomain: %s %s\n", wisp_state_name(r[0].last), wisp_strerror(r[0].arg));
    CHECK(r[0].last == WISP_STATE_ALL_RETRIES_FAILED && r[0].arg == WISP_EDNS);
    finish(r, 1);

    /* Everything closes: no stream or connection is left, the heap is back to the
     * policy's own figure, and after the context is gone not one block remains. */
    h1srv_close(srv);
    h1srv_close(plain);
    for (i = 0; i < 100; i++) {
        wisp_get_stats(cx, &st);
        if (!st.conns_live && !st.streams_live && !st.vhosts_live)
            break;
        CHECK(wisp_service(cx, 20) == 0);
    }
    wisp_get_stats(cx, &st);
    CHECK(!st.conns_live && !st.streams_live && st.heap_in_use == heap_base);
    wisp_context_destroy(cx);
    CHECK(ta.live_blocks == 0);

    /* lwIP's own view: TIME_WAIT lasts 2 * TCP_MSL (200 ms); wait it out. */
    t0 = wisp__lwip_now_ms(NULL);
    while (lwip_in_use(0) && wisp__lwip_now_ms(NULL) - t0 < 5000) {
#ifdef WISP_TEST_RAW
        wisp_pollfd_t none;

        (void)plat->poll(NULL, &none, 0, 20, NULL);
#else
        sys_msleep(20);
#endif
    }
    CHECK(lwip_in_use(1) == 0);
    free(srv);
    free(plain);
    free(r);
    printf("lwIP %s flavour: all checks passed\n",
#ifdef WISP_TEST_RAW
           "raw"
#else
           "sockets"
#endif
    );
    return 0;
}
