/*
 * Fuzz target: whole server connections — JSON policy, context, a listening server
 * stream, accepted connections, the h1 server, request streams, the app's callbacks
 * — fed fuzzed client byte streams through the fake network (tests/support/fakenet.h:
 * fakenet_dial, virtual clock, no sockets), in plaintext or into the server's TLS
 * layer. The app is tests/support/srvapp.c; the
 * input decides what the clients send, when they pause, half-close or reset, and
 * what the app does with each request (answer at once, after the body, later,
 * chunked, a paused tx, or WISP_CB_DESTROY / WISP_CB_DISCONNECT at each point).
 *
 * Input layout:
 *
 *   byte 0    bit 0: the context is destroyed with everything still live (else
 *             the listener is destroyed and the connections drain first);
 *             bit 1: the app never answers a request by itself (every action
 *             SA_SLOW until the end);
 *             bit 2: TLS on: the listener serves TLS with tests/certs/server.pem,
 *             and the clients' bytes are what its TLS layer reads: ClientHellos
 *             whole, cut, split or bent, records of every type and length,
 *             garbage, a close or reset at any point of the handshake
 *   byte 1    A, the number of action bytes (0: the app routes by path, see
 *             srvapp_route: /hello, /echo, /chunked, /slow, /disc-tx...)
 *   A bytes   request i gets action byte[i % A] % SA_NACTIONS (srvapp.h)
 *   the rest  the client script, one op after the other on a script clock:
 *               0x00 L <L bytes>  the current client sends L bytes
 *               0x01              the current client half-closes (FIN)
 *               0x02              the current client resets (RST)
 *               0x03 D            the script waits D*16 ms
 *               0x04              the next client becomes current (up to 4; a
 *                                 client connects with its first op)
 *               0x05              the app answers every request it held back
 *               0x06              the app resumes every paused tx
 *               0x07              the app destroys the listener
 *               0x08              the current client stops reading, or reads
 *                                 again (fake_stall: wisp's sends find no room)
 *               other byte b      the current client sends b alone (raw HTTP
 *                                 text mostly passes through as itself)
 *             At the end every client reads again, the app answers and resumes
 *             everything, and the connections get 10 s of virtual time
 *             (idle_timeout_ms 1000).
 *
 * Invariants (abort() on a break, as libFuzzer expects):
 *   - srvapp's: one SERVER_REQUEST first, at most one DONE or DISCONNECTED, then
 *     DESTROYING once and last, no callback for a stream the app never heard of;
 *   - what the server wrote on every connection parses as HTTP/1.1 responses;
 *     with TLS on, as TLS records of the handshake or alerts only (types 21 and
 *     22, versions 3.1-3.3, 1..18432 bytes; only a reset, a stall or the context
 *     destroyed may cut the last one short), and no request ever reaches the app:
 *     a handshake cannot complete without the client's share of the ECDHE
 *     secret, which a script cannot compute;
 *     without a reset or a stall in the script (a client that does not read
 *     may rightly lose its answer to the close linger), no answer is lost: the
 *     complete final responses number at least the DONE states;
 *   - everything settles: no live request, every connection closed by wisp and
 *     zero live connections after the drain (no hang), within a bound of loop
 *     iterations;
 *   - after wisp_context_destroy(): zero heap blocks, zero fake sockets open.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakenet.h"
#include "srvapp.h"
#include "testalloc.h"
#include "testfiles.h"
#include "wisp/core.h"
#include "wisp/error.h"
#include "wisp/stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NCONN 4
#define MAX_EV 512
#define ITERATIONS 20000
#define SETTLE_MS 10000u

#define CHECK(c, ...)                                                                              \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "fuzz_server_conn: " __VA_ARGS__);                                     \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define SERVER_COMMON                                                                              \
    " \"max_connections\": 3, \"header_limit\": 512, \"body_limit\": 4000,"                        \
    " \"idle_timeout_ms\": 1000, \"metadata\": {\"ua\": \"user-agent\", \"ct\": \"content-type\"}"

static const char policy[] =
    "{\"schema\": 1, \"streams\": {\"srv\": {\"server\": true, \"bind\": \"127.0.0.1\","
    " \"port\": 0, \"tls\": false," SERVER_COMMON "}}}";

/* The TLS listener's policy: built once, with the test server's certificate. */
static const char *tls_policy(void)
{
    static char *p;
    char *cert, *key;
    size_t cap;

    if (p)
        return p;
    cert = test_cert_json("server.pem");
    key = test_cert_json("server.key");
    CHECK(cert && key, "tests/certs/server.pem or server.key unreadable");
    cap = strlen(cert) + strlen(key) + 1024;
    p = malloc(cap);
    CHECK(p, "malloc");
    snprintf(p, cap,
             "{\"schema\": 1, \"certs\": {\"c\": \"%s\", \"k\": \"%s\"}, \"streams\": {"
             "\"srv\": {\"server\": true, \"bind\": \"127.0.0.1\", \"port\": 0, \"cert\": \"c\","
             " \"key\": \"k\", \"handshake_timeout_ms\": 1000," SERVER_COMMON "}}}",
             cert, key);
    free(cert);
    free(key);
    return p;
}

enum { E_SEND, E_FIN, E_RST, E_ANSWER, E_RESUME, E_UNLISTEN, E_STALL };

typedef struct ev {
    uint64_t t; /* ms after the start */
    uint8_t kind, conn;
    const uint8_t *p;
    size_t len;
} ev_t;

typedef struct world {
    const uint8_t *actions;
    size_t nactions;
    int slow_only, tls, kill;
    ev_t ev[MAX_EV];
    size_t nev;
    int reset_seen;
    int stall_seen;
} world_t;

static world_t *cur;

static int choose(srvapp_t *a, unsigned index, const char *path, size_t len)
{
    if (cur->slow_only)
        return SA_SLOW;
    if (!cur->nactions)
        return srvapp_route(a, index, path, len);
    return cur->actions[index % cur->nactions] % SA_NACTIONS;
}

static void add(world_t *w, uint64_t t, int kind, unsigned conn, const uint8_t *p, size_t len)
{
    ev_t *e;

    if (w->nev == MAX_EV)
        return;
    e = &w->ev[w->nev++];
    e->t = t;
    e->kind = (uint8_t)kind;
    e->conn = (uint8_t)conn;
    e->p = p;
    e->len = len;
}

static void parse_script(world_t *w, const uint8_t *p, size_t n)
{
    size_t i = 0;
    uint64_t t = 0;
    unsigned k = 0;

    while (i < n) {
        uint8_t op = p[i++];
        size_t len;

        switch (op) {
        case 0x00:
            len = i < n ? p[i++] : 0;
            if (len > n - i)
                len = n - i;
            add(w, t, E_SEND, k, p + i, len);
            i += len;
            break;
        case 0x01:
            add(w, t, E_FIN, k, NULL, 0);
            break;
        case 0x02:
            add(w, t, E_RST, k, NULL, 0);
            w->reset_seen = 1;
            break;
        case 0x03:
            t += 16u * (i < n ? p[i++] : 0);
            break;
        case 0x04:
            k = (k + 1) % NCONN;
            break;
        case 0x05:
            add(w, t, E_ANSWER, k, NULL, 0);
            break;
        case 0x06:
            add(w, t, E_RESUME, k, NULL, 0);
            break;
        case 0x07:
            add(w, t, E_UNLISTEN, k, NULL, 0);
            break;
        case 0x08:
            add(w, t, E_STALL, k, NULL, 0);
            w->stall_seen = 1;
            break;
        default:
            add(w, t, E_SEND, k, p + i - 1, 1);
            break;
        }
    }
}

static void quiet(void *user, int level, const char *line)
{
    (void)user;
    (void)level;
    (void)line;
}

typedef struct run {
    testalloc_t ta;
    fakenet_t *fn;
    wisp_context_t *cx;
    srvapp_t app;
    wisp_stream_ops_t ops;
    wisp_stream_t *l;
    uint16_t port;
    fake_conn_t *conn[NCONN];
    int stalled[NCONN];
    uint64_t t0;
    unsigned iterations;
} run_t;

static void service(run_t *r, int ms)
{
    CHECK(++r->iterations < ITERATIONS, "no end in sight after %u iterations", r->iterations);
    CHECK(wisp_service(r->cx, ms) == 0, "wisp_service failed");
    CHECK(!r->app.violations, "%s", r->app.why);
}

static void play(run_t *r, const ev_t *e)
{
    fake_conn_t **c = &r->conn[e->conn];

    switch (e->kind) {
    case E_ANSWER:
        srvapp_answer_slow(&r->app);
        return;
    case E_RESUME:
        srvapp_resume(&r->app);
        return;
    case E_UNLISTEN:
        wisp_stream_destroy(r->l);
        r->l = NULL;
        return;
    default:
        break;
    }
    if (!*c) {
        *c = fakenet_dial(r->fn, r->port);
        if (!*c)
            return; /* nothing listens any more */
    }
    if (e->kind == E_SEND)
        fake_send(*c, e->p, e->len);
    else if (e->kind == E_STALL)
        fake_stall(*c, r->stalled[e->conn] ^= 1);
    else if (e->kind == E_FIN)
        fake_close(*c);
    else
        fake_reset(*c);
}

/* With TLS on: what a server that cannot finish a handshake may write, records of
 * the handshake or alerts; NULL when p holds only those. */
static const char *tls_records_bad(const uint8_t *p, size_t len, int tail_ok)
{
    size_t off = 0, n;

    while (off < len) {
        if (len - off < 5)
            return tail_ok ? NULL : "a record header cut short";
        if (p[off] != 21 && p[off] != 22)
            return "a record neither handshake nor alert";
        if (p[off + 1] != 3 || p[off + 2] < 1 || p[off + 2] > 3)
            return "a record version not 3.1-3.3";
        n = (size_t)p[off + 3] << 8 | p[off + 4];
        if (n == 0 || n > 16384 + 2048)
            return "a record length out of bounds";
        if (len - off - 5 < n)
            return tail_ok ? NULL : "a record cut short";
        off += 5 + n;
    }
    return NULL;
}

static void check_written(run_t *r, size_t *finals)
{
    size_t i;

    *finals = 0;
    for (i = 0; i < NCONN; i++) {
        int st[64];
        size_t len, n, j;
        const uint8_t *p;
        const char *bad;
        char why[128];

        if (!r->conn[i])
            continue;
        p = fake_written(r->conn[i], &len);
        if (cur->tls) {
            bad = tls_records_bad(p, len, cur->kill || cur->reset_seen || cur->stall_seen);
            CHECK(!bad, "connection %zu: the TLS server wrote %s", i, bad);
            continue;
        }
        CHECK(!srvapp_check_http(p, len, st, 64, &n, why, sizeof(why)),
              "connection %zu: the server wrote no HTTP/1.1: %s", i, why);
        for (j = 0; j < n && j < 64; j++)
            *finals += st[j] >= 200;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static world_t w;
    static run_t r;
    wisp_context_info_t info;
    wisp_stats_t st;
    size_t i, next = 0, finals;
    int port;

    memset(&w, 0, sizeof(w));
    memset(&r, 0, sizeof(r));
    cur = &w;
    if (size >= 1) {
        w.kill = data[0] & 1;
        w.slow_only = (data[0] >> 1) & 1;
        w.tls = (data[0] >> 2) & 1;
    }
    if (size >= 2) {
        w.nactions = data[1];
        if (w.nactions > size - 2)
            w.nactions = size - 2;
        w.actions = data + 2;
        parse_script(&w, data + 2 + w.nactions, size - 2 - w.nactions);
    }

    r.fn = fakenet_new(NULL, 5);
    testalloc_init(&r.ta, 0);
    memset(&info, 0, sizeof(info));
    info.allocator = &r.ta.a;
    info.policy_json = w.tls ? tls_policy() : policy;
    info.policy_json_len = strlen(info.policy_json);
    info.log = getenv("WISP_FUZZ_LOG") ? NULL : quiet;
    info.log_level = getenv("WISP_FUZZ_LOG") ? WISP_LOG_DEBUG : WISP_LOG_ERROR;
    info.log_level_set = 1;
    info.plat = fakenet_ops(r.fn);
    CHECK(!wisp_context_create(&info, &r.cx), "context");
    srvapp_init(&r.app, "srv", &r.ops);
    r.app.choose = choose;
    CHECK(!wisp_stream_create(r.cx, &r.ops, &r.app, &r.l), "listener");
    CHECK(!wisp_stream_set_user_size(r.l, srvapp_user_size()), "user_size");
    port = wisp_stream_local_port(r.l);
    CHECK(port > 0, "port");
    r.port = (uint16_t)port;
    r.t0 = fakenet_now(r.fn);

    /* The script, on the virtual clock. */
    while (next < w.nev) {
        uint64_t now = fakenet_now(r.fn) - r.t0;

        while (next < w.nev && w.ev[next].t <= now)
            play(&r, &w.ev[next++]);
        if (next < w.nev) {
            uint64_t wait = w.ev[next].t - now;

            service(&r, wait > 1000 ? 1000 : (int)wait);
        } else {
            service(&r, 0);
        }
    }
    if (w.kill) {
        /* The context goes with whatever is live: a few iterations, then destroy. */
        for (i = 0; i < 3; i++)
            service(&r, 10);
        check_written(&r, &finals);
        wisp_context_destroy(r.cx);
        goto end;
    }
    /* The end: every client reads, every answer given, then time to close. */
    w.slow_only = 0;
    for (i = 0; i < NCONN; i++)
        if (r.conn[i])
            fake_stall(r.conn[i], 0);
    {
        uint64_t end = fakenet_now(r.fn) + SETTLE_MS;

        while (fakenet_now(r.fn) < end) {
            srvapp_answer_slow(&r.app);
            srvapp_resume(&r.app);
            service(&r, 100);
        }
    }
    check_written(&r, &finals);
    if (!w.reset_seen && !w.stall_seen)
        CHECK(finals >= r.app.done, "answers lost: %u DONE, %zu responses", r.app.done, finals);
    {
        CHECK(!srvapp_live(&r.app), "%u requests still live after the drain", srvapp_live(&r.app));
        for (i = 0; i < NCONN; i++)
            CHECK(!r.conn[i] || fake_wisp_closed(r.conn[i]),
                  "connection %zu still open after the drain", i);
        wisp_stream_destroy(r.l);
        for (i = 0; i < 40; i++)
            service(&r, 100);
        wisp_get_stats(r.cx, &st);
        CHECK(!st.conns_live && !st.streams_live, "live after teardown: conns %u streams %u",
              st.conns_live, st.streams_live);
    }
    wisp_context_destroy(r.cx);
end:
    CHECK(!w.tls || !r.app.requests,
          "%u requests reached the app through a TLS handshake no "
          "script can complete",
          r.app.requests);
    srvapp_check_end(&r.app);
    CHECK(!r.app.violations, "%s", r.app.why);
    CHECK(!r.ta.live_blocks, "%zu blocks leaked", r.ta.live_blocks);
    CHECK(!fakenet_open(r.fn), "%u fake sockets open", fakenet_open(r.fn));
    testalloc_done(&r.ta);
    fakenet_free(r.fn);
    return 0;
}
