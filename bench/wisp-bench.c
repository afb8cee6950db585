/*
 * wisp-bench: the wisp side of the figures in bench/RESULTS.md.
 *
 * Talks to the nginx fixture of tests/interop on loopback (https://localhost:PORT/hello)
 * through a policy built in memory: one trust store (the test CA, linger_ms 0) and a
 * stream type "get" (GET /hello, one metadata slot bound to the response header
 * x-wisp-test, keepalive_ms 0), plus "get_ka", the same with keepalive_ms 300.
 *
 *   wisp-bench get     PORT CA.pem      one GET stream lifecycle (for massif/callgrind)
 *   wisp-bench many    PORT CA.pem N    N streams at once to the endpoint
 *   wisp-bench figures PORT CA.pem      heap accounting through a counting allocator
 *   wisp-bench handshakes PORT CA.pem N [HOST]
 *                                       N lifecycles one after another, each a full
 *                                       handshake (keepalive_ms and linger_ms 0: the
 *                                       vhost and its session cache go with the stream),
 *                                       to HOST (default localhost: looked up, by the
 *                                       resolver's thread; 127.0.0.1 is not looked up,
 *                                       so the process never starts a thread)
 *
 * Every mode prints "key value" lines on stdout (bench/run.sh reads them) and exits 0
 * only when every stream got 200 and wisp's heap came back to its starting figure.
 * Figures are bytes, counts and (under callgrind) instructions; the wall_us and
 * cpu_us lines (getrusage: user + system of every thread, the resolver's included)
 * are read by the scripts that compare times side by side (scaling.sh, handshake.sh).
 *
 * Public headers only (<wisp.h>).
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <wisp.h>

/* ---- A counting allocator (figures mode) ----------------------------------------- */

typedef union hdr {
    size_t size;
    long double ld;
    void *p;
    long long ll;
} hdr_t;

typedef struct counter {
    size_t in_use; /* bytes wisp asked for and still holds (wisp's headers included) */
    size_t peak;   /* most at once since the last window_reset() */
    unsigned long allocs, frees;
} counter_t;

static void *cnt_alloc(void *user, size_t size)
{
    counter_t *c = user;
    hdr_t *h = malloc(sizeof(*h) + size);

    if (!h)
        return NULL;
    h->size = size;
    c->in_use += size;
    if (c->in_use > c->peak)
        c->peak = c->in_use;
    c->allocs++;
    return h + 1;
}

static void cnt_free(void *user, void *ptr)
{
    counter_t *c = user;
    hdr_t *h;

    if (!ptr)
        return;
    h = (hdr_t *)ptr - 1;
    c->in_use -= h->size;
    c->frees++;
    free(h);
}

static counter_t counter;
static const wisp_allocator_t counting = {cnt_alloc, cnt_free, &counter};

static void window_reset(void)
{
    counter.peak = counter.in_use;
    counter.allocs = counter.frees = 0;
}

/* ---- Policy ------------------------------------------------------------------------ */

/* The endpoint of the policy's streams (the test certificate names localhost,
 * 127.0.0.1 and ::1). */
static const char *g_host = "localhost";

/* The policy JSON for port, with the CA PEM of ca_path inlined; malloc'd, or NULL. */
static char *make_policy(const char *ca_path, unsigned port, size_t *out_len)
{
#define POLICY_FMT                                                                                 \
    "{\"schema\":1,\"release\":\"wisp bench\",\n"                                                  \
    "\"certs\":{\"ca\":\"%s\"},\n"                                                                 \
    "\"trust_stores\":{\"test\":{\"certs\":[\"ca\"],\"linger_ms\":0}},\n"                          \
    "\"streams\":{\n"                                                                              \
    "\"get\":{\"endpoint\":\"%s\",\"port\":%u,\"trust_store\":\"test\","                           \
    "\"method\":\"GET\",\"url\":\"/hello\",\"metadata\":{\"test\":\"x-wisp-test\"},"               \
    "\"timeout_ms\":120000,\"keepalive_ms\":0},\n"                                                 \
    "\"get_ka\":{\"endpoint\":\"%s\",\"port\":%u,\"trust_store\":\"test\","                        \
    "\"method\":\"GET\",\"url\":\"/hello\",\"metadata\":{\"test\":\"x-wisp-test\"},"               \
    "\"timeout_ms\":120000,\"keepalive_ms\":300}}}\n"
    FILE *f = fopen(ca_path, "rb");
    char pem[8192], esc[16384], *out;
    size_t n, i, j = 0;
    int len;

    if (!f) {
        fprintf(stderr, "wisp-bench: cannot open %s\n", ca_path);
        return NULL;
    }
    n = fread(pem, 1, sizeof(pem), f);
    fclose(f);
    if (n == 0 || n == sizeof(pem)) {
        fprintf(stderr, "wisp-bench: %s is empty or too big\n", ca_path);
        return NULL;
    }
    for (i = 0; i < n; i++) { /* JSON string escape; PEM is plain ASCII */
        if (pem[i] == '\n') {
            esc[j++] = '\\';
            esc[j++] = 'n';
        } else if (pem[i] == '"' || pem[i] == '\\') {
            esc[j++] = '\\';
            esc[j++] = pem[i];
        } else if (pem[i] != '\r') {
            esc[j++] = pem[i];
        }
    }
    esc[j] = '\0';
    len = snprintf(NULL, 0, POLICY_FMT, esc, g_host, port, g_host, port);
    if (len < 0 || !(out = malloc((size_t)len + 1)))
        return NULL;
    snprintf(out, (size_t)len + 1, POLICY_FMT, esc, g_host, port, g_host, port);
    *out_len = (size_t)len;
    return out;
}

static wisp_context_t *make_context(const char *ca_path, unsigned port,
                                    const wisp_allocator_t *alloc)
{
    wisp_context_info_t info;
    wisp_context_t *cx = NULL;
    char *json;
    int ret;

    memset(&info, 0, sizeof(info));
    json = make_policy(ca_path, port, &info.policy_json_len);
    if (!json)
        return NULL;
    info.policy_json = json;
    info.policy_name = "bench-policy";
    info.allocator = alloc;
    info.log_level = WISP_LOG_WARN;
    ret = wisp_context_create(&info, &cx);
    free(json); /* the context keeps what it needs */
    if (ret) {
        fprintf(stderr, "wisp-bench: wisp_context_create: %s\n", wisp_strerror(ret));
        return NULL;
    }
    return cx;
}

/* ---- Streams ----------------------------------------------------------------------- */

typedef struct bstream {
    wisp_stream_t *s;
    int status; /* of the response, 0 if none */
    int done;   /* the transaction ended, one way or another */
    int failed; /* it ended without a response */
} bstream_t;

static wisp_context_t *g_cx;
static int g_done; /* streams whose transaction ended: no rescan per iteration */
/* Heap samples of the first stream's transaction (figures mode). */
static size_t at_connected, at_ack;
static int sampling;

static size_t heap_now(void)
{
    wisp_stats_t st;

    wisp_get_stats(g_cx, &st);
    return st.heap_in_use;
}

static int on_state(void *user, wisp_state_t state, int arg)
{
    bstream_t *b = user;

    switch (state) {
    case WISP_STATE_CONNECTED:
        if (sampling && !at_connected)
            at_connected = heap_now();
        break;
    case WISP_STATE_ACK:
    case WISP_STATE_NACK:
        b->status = arg;
        if (sampling && !at_ack)
            at_ack = heap_now();
        break;
    case WISP_STATE_DONE:
        g_done += !b->done;
        b->done = 1;
        break;
    case WISP_STATE_CONNECTION_FAILED:
    case WISP_STATE_RETRYING:
    case WISP_STATE_DISCONNECTED: /* never terminal: ALL_RETRIES_FAILED follows */
        break;
    case WISP_STATE_ALL_RETRIES_FAILED:
    case WISP_STATE_TIMEOUT:
        fprintf(stderr, "wisp-bench: stream %s: %s\n", wisp_state_name(state), wisp_strerror(arg));
        g_done += !b->done;
        b->done = b->failed = 1;
        break;
    default:
        break;
    }
    return WISP_CB_OK;
}

static const wisp_stream_ops_t ops_get = {"get", NULL, NULL, on_state};
static const wisp_stream_ops_t ops_get_ka = {"get_ka", NULL, NULL, on_state};

/* Service the loop until every stream of b[0..n) is done (at most max_ms). One scan
 * to count what is open, then a counter: no O(n) check per iteration. */
static int run_streams(bstream_t *b, int n, uint64_t max_ms)
{
    uint64_t end = wisp_now_ms(g_cx) + max_ms;
    int i, target = g_done;

    for (i = 0; i < n; i++)
        target += !b[i].done;
    while (g_done < target) {
        if (wisp_now_ms(g_cx) > end) {
            fprintf(stderr, "wisp-bench: streams not done after %lu ms\n", (unsigned long)max_ms);
            return -1;
        }
        if (wisp_service(g_cx, 100) < 0)
            return -1;
    }
    return 0;
}

/* Service until no stream, connection or vhost is left (at most max_ms). Returns the
 * milliseconds it took, or -1. */
static long settle(uint64_t max_ms)
{
    uint64_t start = wisp_now_ms(g_cx), end = start + max_ms;
    wisp_stats_t st;

    for (;;) {
        wisp_get_stats(g_cx, &st);
        if (!st.streams_live && !st.conns_live && !st.vhosts_live)
            return (long)(wisp_now_ms(g_cx) - start);
        if (wisp_now_ms(g_cx) > end) {
            fprintf(stderr,
                    "wisp-bench: not settled after %lu ms: streams %u conns %u "
                    "vhosts %u\n",
                    (unsigned long)max_ms, (unsigned)st.streams_live, (unsigned)st.conns_live,
                    (unsigned)st.vhosts_live);
            return -1;
        }
        wisp_service(g_cx, 20);
    }
}

static int create(const wisp_stream_ops_t *ops, bstream_t *b)
{
    int ret;

    memset(b, 0, sizeof(*b));
    ret = wisp_stream_create(g_cx, ops, b, &b->s);
    if (ret)
        fprintf(stderr, "wisp-bench: wisp_stream_create: %s\n", wisp_strerror(ret));
    return ret;
}

static void print_stats(const char *prefix, const wisp_stats_t *st)
{
    printf("%shandshakes_full %u\n", prefix, (unsigned)st->handshakes_full);
    printf("%shandshakes_resumed %u\n", prefix, (unsigned)st->handshakes_resumed);
    printf("%stransactions %u\n", prefix, (unsigned)st->transactions);
    printf("%sreuses %u\n", prefix, (unsigned)st->reuses);
    printf("%sconns_opened %u\n", prefix, (unsigned)st->conns_opened);
    printf("%sbytes_in %lu\n", prefix, (unsigned long)st->bytes_in);
    printf("%sbytes_out %lu\n", prefix, (unsigned long)st->bytes_out);
    printf("%sheap_peak %zu\n", prefix, st->heap_peak);
}

/* ---- Modes ------------------------------------------------------------------------- */

/* n streams created at once, each one GET, then destroyed; default allocator. */
static int mode_streams(const char *ca, unsigned port, int n)
{
    bstream_t *b = calloc((size_t)n, sizeof(*b));
    wisp_stats_t before, after;
    int i, ok = 0, bad = 0;
    char json[768];
    struct timespec t0, t1;
    struct rusage ru0, ru1;

    if (!b || !(g_cx = make_context(ca, port, NULL)))
        return 1;
    g_done = 0;
    wisp_get_stats(g_cx, &before);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    getrusage(RUSAGE_SELF, &ru0);
    for (i = 0; i < n; i++)
        if (create(&ops_get, &b[i]))
            return 1;
    for (i = 0; i < n; i++)
        if (wisp_stream_request_tx(b[i].s))
            return 1;
    bad |= run_streams(b, n, 600000) != 0;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    getrusage(RUSAGE_SELF, &ru1);
    /* Creation to the last response: what scaling with the number of streams is
     * about (the handshake is one of them). */
    printf("wall_us %ld\n",
           (long)((t1.tv_sec - t0.tv_sec) * 1000000L + (t1.tv_nsec - t0.tv_nsec) / 1000));
    printf("cpu_us %ld\n", (long)((ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec + ru1.ru_stime.tv_sec -
                                   ru0.ru_stime.tv_sec) *
                                      1000000L +
                                  (ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) +
                                  (ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec)));
    for (i = 0; i < n; i++) {
        ok += b[i].status == 200;
        wisp_stream_destroy(b[i].s);
    }
    bad |= settle(10000) < 0;
    wisp_get_stats(g_cx, &after);
    printf("streams %d\n", n);
    printf("ok_200 %d\n", ok);
    printf("heap_before %zu\n", before.heap_in_use);
    printf("heap_after %zu\n", after.heap_in_use);
    print_stats("", &after);
    if (wisp_stats_json(&after, json, sizeof(json)) > 0)
        printf("stats_json %s\n", json);
    wisp_context_destroy(g_cx);
    free(b);
    return bad || ok != n || after.heap_in_use != before.heap_in_use;
}

static long rusage_us(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (long)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000L + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

/* n full handshakes, one after another: each a whole lifecycle (vhost, resolve,
 * connect, handshake, one GET, teardown down to no vhost), so no session is left to
 * resume. cpu_us is the process's CPU over all n (bench/handshake.sh divides). */
static int mode_handshakes(const char *ca, unsigned port, int n)
{
    bstream_t b;
    wisp_stats_t st;
    long t0, t1;
    int i, ok = 0, bad = 0;

    if (!(g_cx = make_context(ca, port, NULL)))
        return 1;
    g_done = 0;
    t0 = rusage_us();
    for (i = 0; i < n && !bad; i++) {
        if (create(&ops_get, &b) || wisp_stream_request_tx(b.s))
            return 1;
        bad |= run_streams(&b, 1, 120000) != 0;
        ok += b.status == 200;
        wisp_stream_destroy(b.s);
        bad |= settle(10000) < 0;
    }
    t1 = rusage_us();
    wisp_get_stats(g_cx, &st);
    printf("streams %d\n", n);
    printf("ok_200 %d\n", ok);
    printf("cpu_us %ld\n", t1 - t0);
    printf("per_handshake_us %.1f\n", (double)(t1 - t0) / n);
    print_stats("", &st);
    wisp_context_destroy(g_cx);
    return bad || ok != n || st.handshakes_full != (unsigned)n;
}

/* The accounting figures, through the counting allocator. */
static int mode_figures(const char *ca, unsigned port)
{
    enum { IDLE_N = 100 };
    static bstream_t many[IDLE_N];
    size_t h_ctx, h_created, h_idle, h_after, peak_get, h_one, h_two, h_hundred;
    size_t h_ka_idle, h_ka_after, ctx_block;
    unsigned long allocs_get, frees_get;
    bstream_t b;
    wisp_stats_t st;
    long waited;
    int i, bad = 0;

    if (!(g_cx = make_context(ca, port, &counting)))
        return 1;

    /* A. One GET stream lifecycle: create, GET, destroy; heap at each step. The
     * context block itself comes from the allocator but is not in heap_in_use
     * (lib/core/README.md): the counter's figures are shifted by it. */
    h_ctx = heap_now();
    ctx_block = counter.in_use - h_ctx;
    window_reset();
    sampling = 1;
    if (create(&ops_get, &b))
        return 1;
    h_created = heap_now();
    if (wisp_stream_request_tx(b.s) || run_streams(&b, 1, 30000))
        return 1;
    sampling = 0;
    wisp_service(g_cx, 0); /* the connection (keepalive_ms 0) goes at the iteration end */
    h_idle = heap_now();
    wisp_get_stats(g_cx, &st);
    printf("idle_conns_live %u\n", (unsigned)st.conns_live);
    wisp_stream_destroy(b.s);
    bad |= settle(5000) < 0;
    h_after = heap_now();
    peak_get = counter.peak - ctx_block; /* in heap_in_use terms */
    allocs_get = counter.allocs;
    frees_get = counter.frees;
    bad |= b.status != 200 || h_after != h_ctx;
    printf("mbedtls %s\n", wisp_tls_version());
    printf("context_block %zu\n", ctx_block);
    printf("get_status %d\n", b.status);
    printf("heap_context %zu\n", h_ctx);
    printf("heap_stream_created %zu\n", h_created);
    printf("heap_connected %zu\n", at_connected);
    printf("heap_ack %zu\n", at_ack);
    printf("heap_stream_idle_after_get %zu\n", h_idle);
    printf("heap_after %zu\n", h_after);
    printf("heap_peak_get %zu\n", peak_get);
    printf("allocs_get %lu\n", allocs_get);
    printf("frees_get %lu\n", frees_get);

    /* B. What one more stream costs: the first brings its vhost up, the second and
     * the next 98 are the stream alone (struct + metadata slots). */
    if (create(&ops_get, &many[0]))
        return 1;
    h_one = heap_now();
    if (create(&ops_get, &many[1]))
        return 1;
    h_two = heap_now();
    for (i = 2; i < IDLE_N; i++)
        if (create(&ops_get, &many[i]))
            return 1;
    h_hundred = heap_now();
    for (i = 0; i < IDLE_N; i++)
        wisp_stream_destroy(many[i].s);
    bad |= settle(5000) < 0;
    bad |= heap_now() != h_ctx;
    printf("heap_one_stream %zu\n", h_one);
    printf("heap_two_streams %zu\n", h_two);
    printf("heap_hundred_streams %zu\n", h_hundred);
    printf("heap_after_idle_streams %zu\n", heap_now());

    /* C. An idle keep-alive connection holds its vhost for keepalive_ms (300 here). */
    if (create(&ops_get_ka, &b))
        return 1;
    if (wisp_stream_request_tx(b.s) || run_streams(&b, 1, 30000))
        return 1;
    wisp_stream_destroy(b.s);
    wisp_service(g_cx, 0);
    h_ka_idle = heap_now();
    wisp_get_stats(g_cx, &st);
    printf("ka_status %d\n", b.status);
    printf("ka_heap_idle %zu\n", h_ka_idle);
    printf("ka_conns_live %u\n", (unsigned)st.conns_live);
    printf("ka_vhosts_live %u\n", (unsigned)st.vhosts_live);
    waited = settle(5000);
    h_ka_after = heap_now();
    bad |= waited < 0 || b.status != 200 || h_ka_after != h_ctx;
    printf("ka_settle_ms %ld\n", waited);
    printf("ka_heap_after %zu\n", h_ka_after);

    wisp_get_stats(g_cx, &st);
    print_stats("", &st);
    wisp_context_destroy(g_cx);
    printf("heap_after_context_destroy %zu\n", counter.in_use);
    bad |= counter.in_use != 0;
    return bad;
}

int main(int argc, char **argv)
{
    unsigned port;
    int n;

    if (argc < 4 || (port = (unsigned)atoi(argv[2])) == 0 || port > 65535) {
        fprintf(stderr, "usage: wisp-bench get|figures PORT CA.pem\n"
                        "       wisp-bench many PORT CA.pem N\n"
                        "       wisp-bench handshakes PORT CA.pem N [HOST]\n");
        return 2;
    }
    if (!strcmp(argv[1], "get"))
        return mode_streams(argv[3], port, 1);
    if (!strcmp(argv[1], "many")) {
        n = argc > 4 ? atoi(argv[4]) : 100;
        if (n < 1 || n > 100000)
            return 2;
        return mode_streams(argv[3], port, n);
    }
    if (!strcmp(argv[1], "figures"))
        return mode_figures(argv[3], port);
    if (!strcmp(argv[1], "handshakes")) {
        n = argc > 4 ? atoi(argv[4]) : 100;
        if (n < 1 || n > 100000)
            return 2;
        if (argc > 5)
            g_host = argv[5];
        return mode_handshakes(argv[3], port, n);
    }
    fprintf(stderr, "wisp-bench: unknown mode %s\n", argv[1]);
    return 2;
}
