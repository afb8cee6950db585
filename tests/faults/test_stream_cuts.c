/*
 * A wisp client against badserver.py's `cut:HOW:FRAMING:N` (issue 12): a fixed 200
 * response, the server closing ("close": close_notify under TLS, then FIN; "bare":
 * FIN alone) or resetting ("rst") after its byte N, for every N of the response
 * (plain) or seeded samples of N (TLS), for each body framing: Content-Length,
 * chunked, and close-delimited (HTTP/1.0).
 *
 * The terminal state and its error are asserted per offset (rules in expect_of(),
 * the table in README.md). One stream is asked again and again (a stream outlives a
 * failed cycle), and every few runs a second stream of another type on the same
 * context must still get its answer. On a connection kept alive, a cut before the
 * first byte of the answer is the keep-alive race (SPEC §7): a GET is sent again
 * once on a fresh connection, a POST ends with WISP_ESTALE. With --raw-tls the cut
 * counts bytes of the TLS stream, so it falls inside records too; and a TLS client
 * that gets plain HTTP instead of a ServerHello fails to connect with WISP_ETLS. A
 * fatal alert mid-response comes from an mbedTLS server on a thread (Python's ssl
 * cannot send one): WISP_ETLSALERT.
 *
 * The per-offset runs tear nothing down between them; the test ends with no live
 * vhost, connection or stream and zero blocks held after wisp_context_destroy().
 * WISP_FAULT_SEED=n changes the TLS sample (the seed is printed).
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crt.h>
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
#include <psa/crypto.h>
#endif

#include "streamtest.h"

#define HELLO "hello from badserver\n"

/* badserver.py's CUT_RESPONSES, byte for byte. */
static const struct framing {
    const char *name;
    const char *whole;
    const char *body; /* the body as rx must deliver it (chunks unframed) */
} framings[] = {
    {"cl", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 21\r\n\r\n" HELLO,
     HELLO},
    {"chunked",
     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
     "6\r\nchunk \r\n4;ext=1\r\none\n\r\n0\r\n\r\n",
     "chunk one\n"},
    {"close", "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n" HELLO, HELLO},
};
enum { F_CL, F_CHUNKED, F_CLOSE, F_N };

#define EXPECT(r, cond, what)                                                                      \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_msg("%s: expected %s\n  states: %s\n  body \"%s\"", (what), #cond,                \
                     st_seq((r), 0), st_body(r));                                                  \
    } while (0)

typedef struct fx {
    badserver_t bs;
    stfx_t *f;
    int tls;
} fx_t;

static int setup(void **state)
{
    fx_t *x = calloc(1, sizeof(*x));

    if (!x)
        return -1;
    x->bs.stdin_fd = -1;
    *state = x;
    return 0;
}

static int teardown(void **state)
{
    fx_t *x = *state;

    stfx_abort(&x->f);
    badserver_stop(&x->bs);
    free(x);
    return 0;
}

/* badserver.py with args (TLS unless "--plain" is first), then the context. */
static void start_args(fx_t *x, const char *const *args)
{
    char *ca = test_cert_json("ca.pem"), *p;
    const char *common;
    int tls = strcmp(args[0], "--plain") != 0;

    x->tls = tls;
    badserver_start(&x->bs, args);
    common = tls ? "\"tls\": true, \"trust_store\": \"ts\"" : "\"tls\": false";
    p = st_append(NULL,
                  "{\"schema\": 1, \"certs\": {\"ca\": \"%s\"},"
                  " \"trust_stores\": {\"ts\": {\"certs\": [\"ca\"]}}, \"streams\": {\n"
                  "\"cut\": {\"endpoint\": \"127.0.0.1\", \"port\": %d, %s, \"url\":"
                  " \"/cut/${spec}\", \"metadata\": {\"spec\": null}, \"timeout_ms\": 4000,"
                  " \"keepalive_ms\": 0},\n"
                  "\"ok\": {\"endpoint\": \"127.0.0.1\", \"port\": %d, %s, \"url\": \"/hello\","
                  " \"timeout_ms\": 4000, \"keepalive_ms\": 0},\n"
                  "\"ka\": {\"endpoint\": \"127.0.0.1\", \"port\": %d, %s, \"url\": \"/hello\","
                  " \"timeout_ms\": 4000, \"keepalive_ms\": 3000},\n"
                  "\"ka_cut\": {\"endpoint\": \"127.0.0.1\", \"port\": %d, %s, \"url\":"
                  " \"/cut/${spec}\", \"metadata\": {\"spec\": null}, \"timeout_ms\": 4000,"
                  " \"keepalive_ms\": 0},\n"
                  "\"ka_cutpost\": {\"endpoint\": \"127.0.0.1\", \"port\": %d, %s, \"method\":"
                  " \"POST\", \"url\": \"/cut/${spec}\", \"metadata\": {\"spec\": null},"
                  " \"timeout_ms\": 4000, \"keepalive_ms\": 0}\n}}\n",
                  ca, x->bs.port, common, x->bs.port, common, x->bs.port, common, x->bs.port,
                  common, x->bs.port, common);
    free(ca);
    x->f = stfx_open(p);
    free(p);
}

static void start(fx_t *x, int tls)
{
    static const char *const plain[] = {"--plain", "--max-conns", "100000", NULL};
    static const char *const secure[] = {"--max-conns", "100000", NULL};

    start_args(x, tls ? secure : plain);
}

static int no_conns(void *arg)
{
    stfx_t *f = arg;

    return stfx_stats(f).conns_live == 0;
}

/* Service until r settles (at most ms): st_wait without its quiet period, which
 * would cost a poll timeout per run. */
static int settle(fx_t *x, strec_t *r, int ms)
{
    uint64_t end = st_now_ms() + (uint64_t)ms;

    while (!st_settled(r)) {
        if (st_now_ms() >= end)
            return 0;
        (void)wisp_service(x->f->cx, 5);
    }
    return 1;
}

/* Ask r again with the cut spec, wait for the end and for its connection to go. */
static void run_cut(fx_t *x, strec_t *r, const char *how, int framing, size_t n)
{
    char spec[64], what[96];
    int len = snprintf(spec, sizeof(spec), "%s:%s:%zu", how, framings[framing].name, n);

    snprintf(what, sizeof(what), "%s %s after %zu", x->tls ? "TLS" : "plain", spec, n);
    st_reset(r);
    assert_int_equal(wisp_stream_set_metadata(r->s, "spec", spec, (size_t)len), 0);
    if (st_request(r))
        fail_msg("%s: request_tx failed", what);
    if (!settle(x, r, 5000))
        fail_msg("%s: did not settle\n  states: %s", what, st_seq(r, 0));
    if (!st_run_until(x->f->cx, no_conns, x->f, 3000))
        fail_msg("%s: the connection stays", what);
}

/* The expected end of a cut after n bytes of framing f's response. */
typedef struct expect {
    int done;     /* DONE:200 (else DISCONNECTED, ALL_RETRIES_FAILED with err) */
    int err;      /* the error when not done; 0: ECLOSED or EPROTO (see below) */
    int ack;      /* ACK:200 came first */
    size_t body;  /* body bytes delivered (exact) */
    int any_body; /* RST: the body is a prefix of at most `body` bytes */
} expect_t;

static size_t head_len(const char *whole)
{
    return (size_t)(strstr(whole, "\r\n\r\n") + 4 - whole);
}

/* Bytes of the unframed body within the first n bytes of a chunked response. */
static size_t chunked_body_in(const char *whole, size_t n)
{
    size_t at = head_len(whole), got = 0;

    for (;;) {
        size_t size = strtoul(whole + at, NULL, 16);
        const char *eol = strstr(whole + at, "\r\n");
        size_t data = (size_t)(eol + 2 - whole);

        if (!size || n <= data)
            return got;
        got += n - data < size ? n - data : size;
        if (n < data + size)
            return got;
        at = data + size + 2;
    }
}

/*
 * The rules (SPEC §6, §8, §10):
 *  - everything arrived (n past the end) and the framing says where the body ends
 *    (Content-Length, chunked): DONE, whatever comes after ("close", "bare" or "rst");
 *  - a close-delimited body ends at the close: plain, or TLS with close_notify, DONE
 *    with the bytes that came (the head must be whole); TLS without close_notify is
 *    WISP_ETRUNCATED (a relay may have cut it); before the head is whole: failure;
 *  - a close (FIN, or close_notify then FIN) before the response is whole, inside
 *    the head or a framed body, or before any byte: DISCONNECTED with WISP_ECLOSED,
 *    the body bytes that came delivered, no EOM;
 *  - TLS without close_notify ("bare") before the response is whole:
 *    WISP_ETRUNCATED, whatever the framing and the offset;
 *  - a reset: WISP_ERESET, unless the response was whole and framed (DONE).
 */
static expect_t expect_of(int tls, const char *how, int f, size_t n)
{
    const char *whole = framings[f].whole;
    size_t len = strlen(whole), head = head_len(whole);
    size_t bodylen = strlen(framings[f].body);
    expect_t e = {0, 0, 0, 0, 0};
    size_t m = n < len ? n : len;

    e.ack = m >= head;
    if (f == F_CHUNKED)
        e.body = chunked_body_in(whole, m);
    else
        e.body = m > head ? m - head : 0;
    if (f != F_CLOSE && n >= len) {
        e.done = 1;
        e.body = bodylen;
        return e;
    }
    if (!strcmp(how, "rst")) {
        e.err = WISP_ERESET;
        e.any_body = 1; /* a reset may overtake bytes not yet read */
        return e;
    }
    if (f == F_CLOSE && e.ack) {
        if (tls && !strcmp(how, "bare")) {
            e.err = WISP_ETRUNCATED;
            return e;
        }
        e.done = 1;
        return e;
    }
    if (tls && !strcmp(how, "bare")) {
        e.err = WISP_ETRUNCATED; /* a TLS stream that ends without close_notify */
        return e;
    }
    e.err = WISP_ECLOSED;
    return e;
}

static void check(const fx_t *x, const strec_t *r, const char *how, int f, size_t n)
{
    expect_t e = expect_of(x->tls, how, f, n);
    char what[96];
    int ack = st_find(r, WISP_STATE_ACK, 0), d = st_find(r, WISP_STATE_DISCONNECTED, 0);

    snprintf(what, sizeof(what), "%s %s:%s:%zu", x->tls ? "TLS" : "plain", how, framings[f].name,
             n);
    EXPECT(r, st_find(r, WISP_STATE_CONNECTED, 0) >= 0, what);
    EXPECT(r, st_find(r, WISP_STATE_NACK, 0) < 0, what);
    EXPECT(r, st_find(r, WISP_STATE_RETRYING, 0) < 0, what);
    EXPECT(r, st_find(r, WISP_STATE_CONNECTION_FAILED, 0) < 0, what);
    EXPECT(r, st_find(r, WISP_STATE_TIMEOUT, 0) < 0, what);
    EXPECT(r, r->rx_bad == 0, what);
    EXPECT(r, r->extra_terminals == 0, what);
    if (!e.any_body) {
        EXPECT(r, (ack >= 0) == e.ack, what);
        EXPECT(r, r->rx_bytes == e.body, what);
    } else {
        EXPECT(r, ack < 0 || e.ack, what);
        EXPECT(r, r->rx_bytes <= e.body, what);
    }
    EXPECT(r, memcmp(st_body(r), framings[f].body, (size_t)r->rx_bytes) == 0, what);
    if (ack >= 0)
        EXPECT(r, r->arg[ack] == 200, what);
    if (e.done) {
        EXPECT(r, st_last(r) == WISP_STATE_DONE && st_last_arg(r) == 200, what);
        EXPECT(r, st_count(r, WISP_STATE_DONE) == 1 && d < 0, what);
        EXPECT(r, r->eom == 1, what);
        return;
    }
    EXPECT(r, d >= 0 && st_count(r, WISP_STATE_DISCONNECTED) == 1, what);
    EXPECT(r, st_find(r, WISP_STATE_ALL_RETRIES_FAILED, 0) == d + 1, what);
    EXPECT(r, st_last(r) == WISP_STATE_ALL_RETRIES_FAILED && st_last_arg(r) == r->arg[d], what);
    EXPECT(r, st_find(r, WISP_STATE_DONE, 0) < 0, what);
    EXPECT(r, r->eom == 0, what);
    if (e.err)
        EXPECT(r, r->arg[d] == e.err, what);
    else
        EXPECT(r, r->arg[d] == WISP_ECLOSED || r->arg[d] == WISP_EPROTO, what);
}

/* A stream of another type on the same context still gets its answer. */
static void other_ok(fx_t *x, strec_t *ok)
{
    st_reset(ok);
    assert_int_equal(st_request(ok), 0);
    if (!settle(x, ok, 5000))
        fail_msg("the other stream did not settle: %s", st_seq(ok, 0));
    EXPECT(ok, st_last(ok) == WISP_STATE_DONE && st_last_arg(ok) == 200, "other stream");
    EXPECT(ok, strcmp(st_body(ok), HELLO) == 0, "other stream");
    assert_true(st_run_until(x->f->cx, no_conns, x->f, 3000));
}

static uint32_t seed_of(void)
{
    const char *s = getenv("WISP_FAULT_SEED");

    return s ? (uint32_t)strtoul(s, NULL, 10) : 20261203u;
}

static void sweep(fx_t *x, const char *const *hows, size_t nhows, size_t samples)
{
    strec_t *r = st_new(x->f, "cut"), *ok = st_new(x->f, "ok");
    uint32_t seed = seed_of(), s = seed;
    unsigned runs = 0;
    size_t h;
    int f;

    for (h = 0; h < nhows; h++) {
        for (f = 0; f < F_N; f++) {
            size_t len = strlen(framings[f].whole), n, i;

            for (i = 0; i <= (samples ? samples : len + 1); i++) {
                if (!samples) {
                    n = i;
                } else if (i < 4) { /* nothing, the head's end, the last byte, all */
                    const size_t edges[4] = {0, head_len(framings[f].whole), len - 1, len};

                    n = edges[i];
                } else {
                    s = s * 1103515245u + 12345u;
                    n = (s >> 8) % (len + 1);
                }
                run_cut(x, r, hows[h], f, n);
                check(x, r, hows[h], f, n);
                if (++runs % 16 == 0)
                    other_ok(x, ok);
            }
        }
    }
    other_ok(x, ok);
    st_destroy(r);
    st_destroy(ok);
    stfx_assert_idle(x->f, 2000);
    print_message("%s: %u cut runs%s (seed %u)\n", x->tls ? "TLS" : "plain", runs,
                  samples ? " sampled" : ", every offset", seed);
}

static void test_response_cut_every_byte_plain(void **state)
{
    static const char *const hows[] = {"close", "rst"};
    fx_t *x = *state;

    start(x, 0);
    sweep(x, hows, 2, 0);
    assert_int_equal(stfx_stats(x->f).retries, 0);
    stfx_finish(&x->f, 3000);
}

static void test_response_cut_sampled_tls(void **state)
{
    static const char *const hows[] = {"close", "bare", "rst"};
    fx_t *x = *state;

    start(x, 1);
    sweep(x, hows, 3, 20);
    assert_int_equal(stfx_stats(x->f).retries, 0);
    stfx_finish(&x->f, 3000);
}

/* ---- Cuts inside TLS records (badserver.py --raw-tls) ---- */

/* Where the records of the last cut answer ended: "cutrec CONN E1,E2[,E3]" in the
 * server's log (written before the bytes went out). Returns how many. */
static int record_ends(const fx_t *x, long ends[3])
{
    FILE *fp = fopen(x->bs.log, "r");
    char line[256];
    int n = 0;

    assert_non_null(fp);
    while (fgets(line, sizeof(line), fp)) {
        const char *p = line;
        char *e;

        if (strncmp(line, "cutrec ", 7))
            continue;
        p = strchr(line + 7, ' ');
        for (n = 0; p && n < 3; n++) {
            ends[n] = strtol(p + 1, &e, 10);
            p = *e == ',' ? e : NULL;
        }
    }
    fclose(fp);
    return n;
}

/*
 * N bytes of the TLS stream of the answer: the head a record, the body a record,
 * then close_notify ("close" only). A record cut short never delivers a byte of its
 * own; what the client makes of the end (rules from the runs, SPEC §8, §10):
 *  - the framed body's record whole: DONE, whatever follows;
 *  - the close-delimited body's record whole and close_notify whole ("close"): DONE;
 *  - otherwise FIN ("close", "bare"): WISP_ETRUNCATED when the stream ends without
 *    close_notify (every cut: close_notify comes last), RST: WISP_ERESET;
 *  - ACK exactly when the head's record was whole; the body all or nothing.
 */
static void check_record_cut(const fx_t *x, const strec_t *r, const char *how, int f, long n,
                             const long *ends, int nends)
{
    int framed = f != F_CLOSE, rst = !strcmp(how, "rst");
    int done = framed ? n >= ends[1] : nends == 3 && n >= ends[2];
    int ack = st_find(r, WISP_STATE_ACK, 0), d = st_find(r, WISP_STATE_DISCONNECTED, 0);
    size_t body = strlen(framings[f].body);
    char what[96];

    snprintf(what, sizeof(what), "TLS record cut %s:%s:%ld (records end %ld,%ld,%ld)", how,
             framings[f].name, n, ends[0], ends[1], nends == 3 ? ends[2] : -1L);
    EXPECT(r, st_find(r, WISP_STATE_NACK, 0) < 0 && st_find(r, WISP_STATE_RETRYING, 0) < 0, what);
    EXPECT(r, r->rx_bad == 0 && r->extra_terminals == 0, what);
    if (!rst || done)
        EXPECT(r, (ack >= 0) == (n >= ends[0]), what);
    EXPECT(r, r->rx_bytes == 0 || r->rx_bytes == body, what);
    EXPECT(r, memcmp(st_body(r), framings[f].body, (size_t)r->rx_bytes) == 0, what);
    if (!rst)
        EXPECT(r, r->rx_bytes == (n >= ends[1] ? body : 0), what);
    if (done) {
        EXPECT(r, st_last(r) == WISP_STATE_DONE && st_last_arg(r) == 200 && d < 0, what);
        EXPECT(r, r->eom == 1 && r->rx_bytes == body, what);
        return;
    }
    EXPECT(r, d >= 0 && st_find(r, WISP_STATE_ALL_RETRIES_FAILED, 0) == d + 1, what);
    EXPECT(r, st_last(r) == WISP_STATE_ALL_RETRIES_FAILED && r->eom == 0, what);
    EXPECT(r, r->arg[d] == (rst ? WISP_ERESET : WISP_ETRUNCATED), what);
}

static void test_response_cut_inside_tls_records(void **state)
{
    static const char *const hows[] = {"close", "bare", "rst"};
    fx_t *x = *state;
    strec_t *r, *ok;
    uint32_t seed = seed_of(), s = seed;
    unsigned runs = 0;
    size_t h;
    int f;

    static const char *const raw[] = {"--raw-tls", "--max-conns", "100000", NULL};

    start_args(x, raw);
    r = st_new(x->f, "cut");
    ok = st_new(x->f, "ok");
    for (h = 0; h < 3; h++) {
        for (f = 0; f < F_N; f++) {
            long ends[3], picks[20], total;
            int nends, i, npick = 0;

            /* Uncut (N past the end) first: where the records end. */
            run_cut(x, r, hows[h], f, 100000);
            nends = record_ends(x, ends);
            assert_true(nends == (strcmp(hows[h], "close") ? 2 : 3));
            total = ends[nends - 1];
            check_record_cut(x, r, hows[h], f, total, ends, nends);
            {
                const long edges[] = {0,           1,           5,       ends[0] - 1, ends[0],
                                      ends[0] + 1, ends[1] - 1, ends[1], total - 1,   total};

                for (i = 0; i < 10; i++)
                    picks[npick++] = edges[i];
            }
            while (npick < 20) {
                s = s * 1103515245u + 12345u;
                picks[npick++] = (long)((s >> 8) % (uint32_t)(total + 1));
            }
            for (i = 0; i < npick; i++) {
                run_cut(x, r, hows[h], f, (size_t)picks[i]);
                check_record_cut(x, r, hows[h], f, picks[i], ends, nends);
                if (++runs % 16 == 0)
                    other_ok(x, ok);
            }
        }
    }
    other_ok(x, ok);
    st_destroy(r);
    st_destroy(ok);
    assert_int_equal(stfx_stats(x->f).retries, 0);
    print_message("TLS record cuts: %u runs (seed %u)\n", runs, seed);
    stfx_finish(&x->f, 3000);
}

/*
 * The keep-alive race (SPEC §7): a connection kept alive after a first answer, the
 * next request on it cut before any byte of its answer (n = 0). A GET is sent again
 * once on a fresh connection (a new CONNECTING, not a retry), where the same cut
 * fails it for good with WISP_ECLOSED; a POST is not resent: WISP_ESTALE. Cut later
 * (inside the head), it is an ordinary loss: no resend, whatever the method.
 */
static void keepalive_race(fx_t *x)
{
    strec_t *ka = st_new(x->f, "ka"), *get = st_new(x->f, "ka_cut"),
            *post = st_new(x->f, "ka_cutpost");
    struct {
        strec_t *r;
        size_t n;
        const char *seq;
    } cases[] = {
        {get, 0,
         "CONNECTED CONNECTING CONNECTED DISCONNECTED:WISP_ECLOSED "
         "ALL_RETRIES_FAILED:WISP_ECLOSED"},
        {post, 0, "CONNECTED DISCONNECTED:WISP_ESTALE ALL_RETRIES_FAILED:WISP_ESTALE"},
        {get, 5, NULL},
        {post, 5, NULL},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        strec_t *r = cases[i].r;
        wisp_stats_t st0;
        char spec[32];
        int len = snprintf(spec, sizeof(spec), "close:cl:%zu", cases[i].n), d;

        st_reset(ka);
        assert_int_equal(st_request(ka), 0);
        assert_true(settle(x, ka, 5000));
        EXPECT(ka, st_last(ka) == WISP_STATE_DONE, "keep-alive first");
        assert_int_equal(stfx_stats(x->f).conns_live, 1); /* kept alive */
        st0 = stfx_stats(x->f);
        st_reset(r);
        assert_int_equal(wisp_stream_set_metadata(r->s, "spec", spec, (size_t)len), 0);
        assert_int_equal(st_request(r), 0);
        assert_true(settle(x, r, 5000));
        assert_true(st_run_until(x->f->cx, no_conns, x->f, 3000));
        d = st_find(r, WISP_STATE_DISCONNECTED, 0);
        EXPECT(r, d >= 0 && st_last(r) == WISP_STATE_ALL_RETRIES_FAILED, spec);
        EXPECT(r, st_find(r, WISP_STATE_RETRYING, 0) < 0, spec);
        EXPECT(r, st_find(r, WISP_STATE_ACK, 0) < 0, spec);
        if (cases[i].n == 0 && r == get) {
            /* Sent on the kept connection, then once more on a fresh one. */
            EXPECT(r, stfx_stats(x->f).conns_opened - st0.conns_opened == 1, spec);
            EXPECT(r, st_count(r, WISP_STATE_CONNECTING) == 1, spec);
        } else {
            EXPECT(r, stfx_stats(x->f).conns_opened == st0.conns_opened, spec);
        }
        if (cases[i].seq) {
            const char *seq = st_seq(r, 0);

            if (strcmp(seq, cases[i].seq))
                fail_msg("%s %s: states %s, want %s", r->type, spec, seq, cases[i].seq);
        } else {
            EXPECT(r, r->arg[d] == WISP_ECLOSED || r->arg[d] == WISP_EPROTO, spec);
        }
        assert_int_equal(stfx_stats(x->f).retries, 0);
    }
    st_destroy(ka);
    st_destroy(get);
    st_destroy(post);
}

static void test_keepalive_race_plain(void **state)
{
    fx_t *x = *state;

    start(x, 0);
    keepalive_race(x);
    stfx_finish(&x->f, 3000);
}

static void test_keepalive_race_tls(void **state)
{
    fx_t *x = *state;

    start(x, 1);
    keepalive_race(x);
    stfx_finish(&x->f, 3000);
}

/* A TLS client answered in plain HTTP (and junk) instead of a ServerHello: the
 * connection fails before the request (CONNECTION_FAILED, never DISCONNECTED), with
 * a TLS error; asked again, the same; no retry policy, so no RETRYING. */
static void test_garbage_instead_of_server_hello(void **state)
{
    static const char *const args[] = {"--scenario", "garbage-on-accept", NULL};
    fx_t *x = *state;
    strec_t *r;
    int round;

    start_args(x, args);
    r = st_new(x->f, "ok");
    for (round = 0; round < 2; round++) {
        st_reset(r);
        assert_int_equal(st_request(r), 0);
        assert_true(settle(x, r, 5000));
        if (strcmp(st_seq(r, 0), "CONNECTING CONNECTION_FAILED:WISP_ETLS "
                                 "ALL_RETRIES_FAILED:WISP_ETLS"))
            fail_msg("garbage instead of a ServerHello: %s", st_seq(r, 0));
        EXPECT(r, r->rx_bytes == 0 && r->rx_bad == 0, "garbage instead of a ServerHello");
        assert_true(st_run_until(x->f->cx, no_conns, x->f, 3000));
    }
    assert_int_equal(stfx_stats(x->f).handshakes_full, 0);
    st_destroy(r);
    stfx_finish(&x->f, 3000);
}

/* ---- A fatal alert in the middle of a response (an mbedTLS server on a thread) ---- */

typedef struct alertsrv {
    int lfd, fd;
    int part; /* 0: alert before the head, 1: after the head, 2: after 5 body bytes */
    int ok;   /* the handshake completed and the alert went out */
    int finished;
} alertsrv_t;

static int as_send(void *ctx, const unsigned char *buf, size_t len)
{
    ssize_t n = send(*(int *)ctx, buf, len, MSG_NOSIGNAL);

    return n < 0 ? MBEDTLS_ERR_NET_SEND_FAILED : (int)n;
}

static int as_recv(void *ctx, unsigned char *buf, size_t len)
{
    ssize_t n = recv(*(int *)ctx, buf, len, 0);

    return n < 0 ? MBEDTLS_ERR_NET_RECV_FAILED : (int)n;
}

static void *as_main(void *arg)
{
    static const char head[] = "HTTP/1.1 200 OK\r\nContent-Length: 21\r\n\r\n";
    alertsrv_t *a = arg;
    mbedtls_entropy_context ent;
    mbedtls_ctr_drbg_context rng;
    mbedtls_x509_crt crt;
    mbedtls_pk_context key;
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    struct timeval tv = {3, 0};
    char req[2048];
    size_t got = 0;
    int ret;

    mbedtls_entropy_init(&ent);
    mbedtls_ctr_drbg_init(&rng);
    mbedtls_x509_crt_init(&crt);
    mbedtls_pk_init(&key);
    mbedtls_ssl_config_init(&conf);
    mbedtls_ssl_init(&ssl);
    a->fd = accept(a->lfd, NULL, NULL);
    if (a->fd < 0)
        goto out;
    setsockopt(a->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (mbedtls_ctr_drbg_seed(&rng, mbedtls_entropy_func, &ent, (const unsigned char *)"as", 2) ||
        mbedtls_x509_crt_parse_file(&crt, WISP_TEST_CERTS "/server.pem") ||
#if MBEDTLS_VERSION_NUMBER >= 0x03000000
        mbedtls_pk_parse_keyfile(&key, WISP_TEST_CERTS "/server.key", NULL, mbedtls_ctr_drbg_random,
                                 &rng) ||
#else
        mbedtls_pk_parse_keyfile(&key, WISP_TEST_CERTS "/server.key", NULL) ||
#endif
        mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                    MBEDTLS_SSL_PRESET_DEFAULT))
        goto out;
    mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &rng);
    if (mbedtls_ssl_conf_own_cert(&conf, &crt, &key) || mbedtls_ssl_setup(&ssl, &conf))
        goto out;
    mbedtls_ssl_set_bio(&ssl, &a->fd, as_send, as_recv, NULL);
    while ((ret = mbedtls_ssl_handshake(&ssl)) != 0)
        if (ret != MBEDTLS_ERR_SSL_WANT_READ && ret != MBEDTLS_ERR_SSL_WANT_WRITE)
            goto out;
    while (got < sizeof(req) - 1) { /* the request head */
        ret = mbedtls_ssl_read(&ssl, (unsigned char *)req + got, sizeof(req) - 1 - got);
        if (ret <= 0)
            goto out;
        got += (size_t)ret;
        req[got] = '\0';
        if (strstr(req, "\r\n\r\n"))
            break;
    }
    if (a->part >= 1 && mbedtls_ssl_write(&ssl, (const unsigned char *)head, sizeof(head) - 1) !=
                            (int)(sizeof(head) - 1))
        goto out;
    if (a->part >= 2 && mbedtls_ssl_write(&ssl, (const unsigned char *)HELLO, 5) != 5)
        goto out;
    if (mbedtls_ssl_send_alert_message(&ssl, MBEDTLS_SSL_ALERT_LEVEL_FATAL,
                                       MBEDTLS_SSL_ALERT_MSG_INTERNAL_ERROR))
        goto out;
    a->ok = 1;
    while (recv(a->fd, req, sizeof(req), 0) > 0) /* until the client goes */
        ;
out:
    if (a->fd >= 0)
        close(a->fd);
    mbedtls_ssl_free(&ssl);
    mbedtls_ssl_config_free(&conf);
    mbedtls_pk_free(&key);
    mbedtls_x509_crt_free(&crt);
    mbedtls_ctr_drbg_free(&rng);
    mbedtls_entropy_free(&ent);
    __atomic_store_n(&a->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* A fatal alert before the head, after it, and after part of the body: the stream
 * ends DISCONNECTED with WISP_ETLSALERT (ACK exactly when the head came, the body
 * bytes that came, no EOM), then ALL_RETRIES_FAILED; the context goes on. */
static void test_alert_mid_response(void **state)
{
    static const char *const seqs[3] = {
        "CONNECTING CONNECTED DISCONNECTED:WISP_ETLSALERT ALL_RETRIES_FAILED:WISP_ETLSALERT",
        "CONNECTING CONNECTED ACK:200 DISCONNECTED:WISP_ETLSALERT "
        "ALL_RETRIES_FAILED:WISP_ETLSALERT",
        "CONNECTING CONNECTED ACK:200 DISCONNECTED:WISP_ETLSALERT "
        "ALL_RETRIES_FAILED:WISP_ETLSALERT",
    };
    fx_t *x = *state;
    struct sockaddr_in sa;
    socklen_t slen = sizeof(sa);
    char *ca = test_cert_json("ca.pem"), *p;
    strec_t *r;
    int lfd = socket(AF_INET, SOCK_STREAM, 0), part;

    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_true(lfd >= 0);
    assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(lfd, 4), 0);
    assert_int_equal(getsockname(lfd, (struct sockaddr *)&sa, &slen), 0);
    p = st_append(NULL,
                  "{\"schema\": 1, \"certs\": {\"ca\": \"%s\"},"
                  " \"trust_stores\": {\"ts\": {\"certs\": [\"ca\"]}}, \"streams\": {"
                  "\"alert\": {\"endpoint\": \"127.0.0.1\", \"port\": %d, \"tls\": true,"
                  " \"trust_store\": \"ts\", \"url\": \"/x\", \"timeout_ms\": 4000,"
                  " \"keepalive_ms\": 0}}}",
                  ca, ntohs(sa.sin_port));
    free(ca);
    x->f = stfx_open(p);
    free(p);
    r = st_new(x->f, "alert");
    for (part = 0; part < 3; part++) {
        alertsrv_t a;
        pthread_t th;

        memset(&a, 0, sizeof(a));
        a.lfd = lfd;
        a.fd = -1;
        a.part = part;
        assert_int_equal(pthread_create(&th, NULL, as_main, &a), 0);
        st_reset(r);
        assert_int_equal(st_request(r), 0);
        if (!settle(x, r, 5000))
            fail_msg("alert %d: did not settle: %s", part, st_seq(r, 0));
        assert_true(st_run_until(x->f->cx, no_conns, x->f, 3000));
        assert_int_equal(pthread_join(th, NULL), 0);
        assert_true(a.ok);
        if (strcmp(st_seq(r, 0), seqs[part]))
            fail_msg("alert %d: %s, want %s", part, st_seq(r, 0), seqs[part]);
        EXPECT(r, r->rx_bytes == (part == 2 ? 5u : 0u) && r->eom == 0 && r->rx_bad == 0,
               "alert mid-response");
        EXPECT(r, memcmp(st_body(r), HELLO, (size_t)r->rx_bytes) == 0, "alert mid-response");
    }
    close(lfd);
    st_destroy(r);
    stfx_finish(&x->f, 3000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_response_cut_every_byte_plain),
        T(test_response_cut_sampled_tls),
        T(test_response_cut_inside_tls_records),
        T(test_keepalive_race_plain),
        T(test_keepalive_race_tls),
        T(test_garbage_instead_of_server_hello),
        T(test_alert_mid_response),
#undef T
    };

#if MBEDTLS_VERSION_NUMBER >= 0x03000000
    if (psa_crypto_init() != PSA_SUCCESS)
        return 1;
#endif
    return cmocka_run_group_tests(tests, NULL, NULL);
}
