/*
 * wisp's client streams against nginx on loopback (the ctest fixture "nginx", see
 * README.md here): GET with a response header in a metadata slot, HEAD, POST with a
 * Content-Length and chunked, 404 as NACK, 16 MiB streamed with bounded heap, 100
 * streams at once on one connection and one handshake (SPEC §7), and a server close
 * that sends the queued stream to a new connection with a resumed TLS session; 50
 * GETs pipelined 8 deep, which nginx's access log shows on one connection, in order,
 * many of them found already buffered behind the previous one ($pipe "p").
 *
 * Every test ends with no live vhost, connection or stream, and zero blocks after
 * wisp_context_destroy() (streamtest.c: stfx_finish).
 *
 * Usage: interop_stream_nginx PORT DIR (the fixture's first port and directory).
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
#include <unistd.h>

#include <cmocka.h>

#include "streamtest.h"

#define HELLO "hello from nginx\n"
#define BIG_BYTES 16777216u
/* wisp's own heap for a whole context streaming 16 MiB (mbedTLS's record buffers are
 * not counted with Debian's mbedTLS): a memory bound, not a timing one. */
#define BIG_HEAP_MAX (64u * 1024u)

#define EXPECT(r, cond)                                                                            \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_msg("%s: expected %s\n  states: %s", (r)->type, #cond, st_seq((r), 0));           \
    } while (0)

static int port;
static const char *dir;

static char *make_policy(void)
{
    char *ca = test_cert_json("ca.pem");
    char *p = st_append(NULL,
                        "{\n  \"schema\": 1,\n"
                        "  \"certs\": {\"ca\": \"%s\"},\n"
                        "  \"trust_stores\": {\"ts\": {\"certs\": [\"ca\"]}},\n"
                        "  \"streams\": {\n",
                        ca);
    static const char *const types[][2] = {
        {"hello", "\"url\": \"/hello\", \"metadata\": {\"tst\": \"x-wisp-test\"}"},
        {"head", "\"method\": \"HEAD\", \"url\": \"/hello\""},
        {"echo", "\"method\": \"POST\", \"url\": \"/echo\""},
        {"notfound", "\"url\": \"/status/404\", \"metadata\": {\"tst\": \"x-wisp-test\"}"},
        {"big", "\"url\": \"/big\", \"timeout_ms\": 60000"},
        {"close", "\"url\": \"/close\""},
        {"chunked", "\"url\": \"/chunked\""},
        {"s204", "\"url\": \"/status/204\""},
        {"s301", "\"url\": \"/status/301\""},
        {"drip", "\"url\": \"/drip?s=3\", \"timeout_ms\": 500"},
        {"piped", "\"url\": \"/1k\", \"pipeline_depth\": 8"},
        {"pclose", "\"url\": \"/close\", \"pipeline_depth\": 8"},
    };
    size_t i;

    for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        p = st_append(p,
                      "%s    \"%s\": {\"endpoint\": \"localhost\", \"port\": %d, "
                      "\"trust_store\": \"ts\", \"keepalive_ms\": 200, %s%s}",
                      i ? ",\n" : "", types[i][0], port,
                      strstr(types[i][1], "\"timeout_ms\"") ? "" : "\"timeout_ms\": 20000, ",
                      types[i][1]);
    p = st_append(p, "\n  }\n}\n");
    free(ca);
    return p;
}

static int setup(void **state)
{
    char *policy = make_policy();

    *state = stfx_open(policy);
    free(policy);
    return 0;
}

static int teardown(void **state)
{
    stfx_t *f = *state;

    stfx_abort(&f);
    return 0;
}

static void request(strec_t *r)
{
    int ret = st_request(r);

    if (ret)
        fail_msg("%s: wisp_stream_request_tx: %s", r->type, wisp_errname(ret));
}

static void wait1(stfx_t *f, strec_t *r, int ms)
{
    if (!st_wait1(f, r, ms))
        fail_msg("%s: did not settle within %d ms\n  states: %s", r->type, ms, st_seq(r, 0));
}

static void finish(void **state)
{
    stfx_t *f = *state;

    stfx_finish(&f, 3000);
    *state = NULL;
}

/* An access.log line for METHOD URI (fields: port method uri status reqlen bytes "te"
 * "cl" conn reqs reused) that contains want, or the last one when want is NULL; polled
 * briefly: nginx logs after it answered. 0 when there is none; 1 with the last line
 * for METHOD URI in out (which then lacks want) when time ran out. */
static int access_line(const char *method, const char *uri, const char *want, char *out, size_t len)
{
    char path[512], needle[256];
    int tries, found = 0;

    snprintf(path, sizeof(path), "%s/access.log", dir);
    snprintf(needle, sizeof(needle), "%d %s %s ", port, method, uri);
    for (tries = 0; tries < 50; tries++) {
        char *text = test_read_file(path, NULL), *line, *save = NULL;

        if (text) {
            for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
                if (strncmp(line, needle, strlen(needle)) == 0) {
                    /* Other tests share the fixture (wisp_stream_nginx posts to
                     * /echo too, maybe at the same moment): with want, a line
                     * that has it; else the last line of this request. */
                    if (want && strstr(line, want)) {
                        snprintf(out, len, "%s", line);
                        free(text);
                        return 1;
                    }
                    snprintf(out, len, "%s", line);
                    found = 1;
                }
            free(text);
        }
        /* nginx logs a request when it ends: ours may not be there yet. */
        if (found && !want)
            return 1;
        usleep(10000);
    }
    return found;
}

/* ---- Tests ---------------------------------------------------------------------------- */

/* GET: ACK 200, the body, nginx's x-wisp-test header in a metadata slot, DONE. The heap
 * comes back to its figure before the first stream (SPEC §11: linger 0). */
static void test_get(void **state)
{
    stfx_t *f = *state;
    strec_t *r = st_new(f, "hello");
    const void *v = NULL;
    size_t vlen = 0;
    wisp_stats_t st;

    r->meta_slot = "tst";
    request(r);
    wait1(f, r, 5000);
    EXPECT(r, strcmp(st_seq(r, 0), "CONNECTING CONNECTED ACK:200 DONE") == 0);
    EXPECT(r, strcmp(st_body(r), HELLO) == 0);
    EXPECT(r, r->som == 1 && r->eom == 1 && r->rx_bad == 0);
    EXPECT(r, r->meta_ret == 0 && strcmp(r->meta, "42") == 0); /* readable at ACK */
    assert_int_equal(wisp_stream_get_metadata(r->s, "tst", &v, &vlen), 0);
    assert_int_equal(vlen, 2);
    assert_memory_equal(v, "42", 2);
    assert_int_equal(wisp_stream_status(r->s), 200);
    st = stfx_stats(f);
    assert_int_equal(st.handshakes_full, 1);
    assert_int_equal(st.transactions, 1);
    assert_int_equal(st.vhosts_created, 1);
    st_destroy(r);
    stfx_assert_idle(f, 3000);
    st = stfx_stats(f);
    assert_int_equal(st.vhosts_destroyed, 1);
    if (st.heap_in_use != f->heap_base)
        fail_msg("heap_in_use %zu after the last stream, %zu before the first", st.heap_in_use,
                 f->heap_base);
    finish(state);
}

/* HEAD: a Content-Length but no body must not be waited for. */
static void test_head(void **state)
{
    stfx_t *f = *state;
    strec_t *r = st_new(f, "head");

    request(r);
    wait1(f, r, 5000);
    EXPECT(r, strcmp(st_seq(r, 0), "CONNECTING CONNECTED ACK:200 DONE") == 0);
    EXPECT(r, r->rx_bytes == 0);
    EXPECT(r, r->rx_bad == 0);
    /* The connection stays usable: a second HEAD on it. */
    st_reset(r);
    request(r);
    wait1(f, r, 5000);
    EXPECT(r, st_find(r, WISP_STATE_ACK, 0) >= 0 && st_last(r) == WISP_STATE_DONE);
    EXPECT(r, st_find(r, WISP_STATE_CONNECTING, 0) < 0);
    assert_int_equal(stfx_stats(f).conns_opened, 1);
    assert_int_equal(stfx_stats(f).reuses, 1);
    finish(state);
}

static void post_echo(stfx_t *f, size_t len, int chunked)
{
    strec_t *r = st_new(f, "echo");
    char line[512], want[128];

    r->tx_total = len;
    r->tx_piece = 7000;
    r->rx_pattern = 1;
    if (chunked)
        request(r);
    else
        assert_int_equal(st_request_len(r, len), 0);
    wait1(f, r, 10000);
    EXPECT(r, st_find(r, WISP_STATE_ACK, 0) >= 0 && st_last(r) == WISP_STATE_DONE);
    EXPECT(r, r->tx_eoms == 1);
    if (r->rx_bytes != len || r->rx_pattern_bad)
        fail_msg("%s: echoed %llu bytes (%llu wrong), sent %zu", chunked ? "chunked" : "length",
                 (unsigned long long)r->rx_bytes, (unsigned long long)r->rx_pattern_bad, len);
    /* nginx logs an empty variable as "-". */
    snprintf(want, sizeof(want), " \"%s\" \"%zu\" ", chunked ? "chunked" : "-", len);
    assert_true(access_line("POST", "/echo", want, line, sizeof(line)));
    if (!strstr(line, want))
        fail_msg("access.log: \"%s\" lacks %s", line, want);
    st_destroy(r);
}

static void test_post_length(void **state)
{
    post_echo(*state, 100000, 0);
    finish(state);
}

static void test_post_chunked(void **state)
{
    post_echo(*state, 50001, 1);
    finish(state);
}

/* 404 is a NACK with the status in arg, body and metadata still delivered. */
static void test_404_nack(void **state)
{
    stfx_t *f = *state;
    strec_t *r = st_new(f, "notfound");

    r->meta_slot = "tst";
    request(r);
    wait1(f, r, 5000);
    EXPECT(r, strcmp(st_seq(r, 0), "CONNECTING CONNECTED NACK:404 DONE") == 0);
    EXPECT(r, strcmp(st_body(r), "not found\n") == 0);
    EXPECT(r, strcmp(r->meta, "42") == 0);
    assert_int_equal(wisp_stream_status(r->s), 404);
    assert_int_equal(stfx_stats(f).retries, 0);
    finish(state);
}

/* /big: 16 MiB streamed through rx, checked by length and Adler-32 against the file
 * nginx serves, with wisp's heap bounded the whole time. */
static void test_big_streamed(void **state)
{
    stfx_t *f = *state;
    strec_t *r = st_new(f, "big");
    char path[512];
    FILE *fp;
    uint8_t buf[65536];
    uint32_t a = 1, b = 0;
    uint64_t total = 0;
    size_t n;
    wisp_stats_t st;

    snprintf(path, sizeof(path), "%s/big.bin", dir);
    fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s", path);
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0) {
        st_adler(&a, &b, buf, n);
        total += n;
    }
    fclose(fp);
    assert_int_equal(total, BIG_BYTES);

    request(r);
    wait1(f, r, 60000);
    EXPECT(r, strcmp(st_seq(r, 0), "CONNECTING CONNECTED ACK:200 DONE") == 0);
    EXPECT(r, r->som == 1 && r->eom == 1 && r->rx_bad == 0);
    if (r->rx_bytes != total || r->adler_a != a || r->adler_b != b)
        fail_msg("got %llu bytes (adler %04x%04x), want %llu (adler %04x%04x)",
                 (unsigned long long)r->rx_bytes, r->adler_b, r->adler_a, (unsigned long long)total,
                 b, a);
    st = stfx_stats(f);
    print_message("big: heap_peak %zu bytes, %u rx callbacks\n", st.heap_peak, r->rx_calls);
    if (st.heap_peak >= BIG_HEAP_MAX)
        fail_msg("heap_peak %zu >= %u while streaming 16 MiB", st.heap_peak, BIG_HEAP_MAX);
    assert_true(st.bytes_in >= total);
    finish(state);
}

static int all_settled(void *arg)
{
    stfx_t *f = arg;
    size_t i;

    for (i = 0; i < f->nrec; i++)
        if (!st_settled(&f->rec[i]))
            return 0;
    return 1;
}

/* 100 streams of one type at once: one connection, one handshake, 100 transactions,
 * 99 of them on the inherited connection (SPEC §7, §11). */
static void test_hundred_queued(void **state)
{
    stfx_t *f = *state;
    wisp_stats_t st;
    size_t i;

    for (i = 0; i < 100; i++)
        (void)st_new(f, "hello");
    for (i = 0; i < 100; i++)
        request(&f->rec[i]);
    if (!st_run_until(f->cx, all_settled, f, 20000))
        for (i = 0; i < 100; i++)
            if (!st_settled(&f->rec[i]))
                fail_msg("stream %zu did not finish\n  states: %s", i, st_seq(&f->rec[i], 0));
    for (i = 0; i < 100; i++) {
        strec_t *r = &f->rec[i];
        int a = st_find(r, WISP_STATE_ACK, 0);

        EXPECT(r, a >= 0 && r->arg[a] == 200 && st_last(r) == WISP_STATE_DONE);
        EXPECT(r, strcmp(st_body(r), HELLO) == 0);
        EXPECT(r, st_count(r, WISP_STATE_DONE) == 1);
        if (i > 0)
            EXPECT(r, st_find(r, WISP_STATE_QUEUED, 0) >= 0);
    }
    st = stfx_stats(f);
    print_message("100 queued: heap_peak %zu bytes\n", st.heap_peak);
    assert_int_equal(st.handshakes_full, 1);
    assert_int_equal(st.handshakes_resumed, 0);
    assert_int_equal(st.conns_opened, 1);
    assert_int_equal(st.transactions, 100);
    assert_int_equal(st.reuses, 99);
    assert_int_equal(st.retries, 0);
    finish(state);
}

/* The access.log lines for GET /1k written since `before` bytes of the log: at most
 * max of them, copied into lines[] (each up to 255 bytes). Returns how many. */
static int pipe_lines(size_t before, char (*lines)[256], int max)
{
    char path[512], needle[64];
    size_t len = 0;
    char *text, *line, *save = NULL;
    int n = 0;

    snprintf(path, sizeof(path), "%s/access.log", dir);
    snprintf(needle, sizeof(needle), "%d GET /1k ", port);
    text = test_read_file(path, &len);
    if (!text)
        return 0;
    for (line = strtok_r(text + (before < len ? before : len), "\n", &save); line && n < max;
         line = strtok_r(NULL, "\n", &save))
        if (!strncmp(line, needle, strlen(needle)))
            snprintf(lines[n++], sizeof(lines[0]), "%s", line);
    free(text);
    return n;
}

static size_t log_size(void)
{
    char path[512];
    size_t len = 0;
    char *text;

    snprintf(path, sizeof(path), "%s/access.log", dir);
    text = test_read_file(path, &len);
    free(text);
    return len;
}

/* Wait for n lines of GET /1k past `before` in the log; each line's $connection and
 * $pipe into conn[] and pipe[]. */
static void pipe_log(size_t before, int n, unsigned long *conn, char *pipe)
{
    char lines[16][256];
    int got = 0, tries, i;

    for (tries = 0; tries < 50 && (got = pipe_lines(before, lines, 16)) < n; tries++)
        usleep(10000);
    assert_int_equal(got, n);
    for (i = 0; i < n; i++)
        if (sscanf(lines[i], "%*d GET /1k 200 %*d 1024 %*s %*s %lu %*u %*s %c", &conn[i],
                   &pipe[i]) != 2)
            fail_msg("access.log: unexpected line \"%s\"", lines[i]);
}

/* 50 GETs with pipeline_depth 8: one connection, one handshake, every answer matched
 * to its request, and nginx's log shows the pipe: one $connection, $connection_requests
 * 1..50 in order, and many requests already buffered behind the previous ($pipe p). */
static void test_pipelined_fifty(void **state)
{
    stfx_t *f = *state;
    char path[512], lines[50][256];
    size_t before = 0, i;
    char *text;
    wisp_stats_t st;
    unsigned long conn0 = 0;
    int n = 0, piped = 0, tries;

    if (WISP_H1_PIPELINE_MAX < 2)
        skip(); /* compiled out */
    snprintf(path, sizeof(path), "%s/access.log", dir);
    text = test_read_file(path, &before);
    free(text);
    for (i = 0; i < 50; i++)
        (void)st_new(f, "piped");
    for (i = 0; i < 50; i++)
        if (st_request_len(&f->rec[i], 0)) /* no body: request_tx() would send it chunked */
            fail_msg("stream %zu: request_tx_len", i);
    if (!st_run_until(f->cx, all_settled, f, 20000))
        fail_msg("the 50 pipelined GETs did not settle");
    for (i = 0; i < 50; i++) {
        strec_t *r = &f->rec[i];

        EXPECT(r, st_last(r) == WISP_STATE_DONE && st_count(r, WISP_STATE_DONE) == 1);
        EXPECT(r, strlen(st_body(r)) == 1024 && st_body(r)[1023] == '\n');
    }
    st = stfx_stats(f);
    assert_int_equal(st.conns_opened, 1);
    assert_int_equal(st.handshakes_full, 1);
    assert_int_equal(st.transactions, 50);
    assert_int_equal(st.reuses, 49);
    assert_int_equal(st.retries, 0);
    for (tries = 0; tries < 50 && (n = pipe_lines(before, lines, 50)) < 50; tries++)
        usleep(10000); /* nginx logs each request once it answered it */
    assert_int_equal(n, 50);
    for (i = 0; i < 50; i++) {
        unsigned long c = 0, reqs = 0;
        char pipe = 0;

        /* port GET /1k status reqlen bytes "te" "cl" conn reqs reused pipe */
        if (sscanf(lines[i], "%*d GET /1k 200 %*d 1024 %*s %*s %lu %lu %*s %c", &c, &reqs, &pipe) !=
            3)
            fail_msg("access.log: unexpected line \"%s\"", lines[i]);
        if (!i)
            conn0 = c;
        if (c != conn0 || reqs != i + 1)
            fail_msg("access.log line %zu: connection %lu request %lu: \"%s\"", i, c, reqs,
                     lines[i]);
        piped += pipe == 'p';
    }
    print_message("50 pipelined: %d of 50 found buffered behind the previous ($pipe p)\n", piped);
    assert_true(piped >= 10); /* 0 at depth 1; about 20 here, the rest refilled one by one */
    finish(state);
}

/* Requests for n streams from `from` with no body (pipelinable), run until all of
 * f's streams settled, each DONE with a 1 KiB body. */
static void piped_burst(stfx_t *f, size_t from, size_t n)
{
    size_t i;

    for (i = from; i < from + n; i++) {
        st_reset(&f->rec[i]);
        if (st_request_len(&f->rec[i], 0))
            fail_msg("stream %zu: request_tx_len", i);
    }
    if (!st_run_until(f->cx, all_settled, f, 20000))
        fail_msg("the burst did not settle");
    for (i = from; i < from + n; i++) {
        strec_t *r = &f->rec[i];

        EXPECT(r, st_last(r) == WISP_STATE_DONE);
        EXPECT(r, strlen(st_body(r)) == 1024);
    }
}

/* The fallback over TLS, remembered on the vhost. /close answers "Connection: close"
 * and nginx closes with the 5 GETs pipelined behind it unanswered: they go again on
 * a fresh (resumed) connection at depth 1, no retry counted. With the connection
 * object gone (close_idle), a second burst on the same key finds "does not pipeline"
 * on the vhost: nginx finds none of its requests buffered behind another. */
static void test_pipeline_fallback_tls(void **state)
{
    stfx_t *f = *state;
    strec_t *c;
    wisp_stats_t st;
    unsigned long conn[5];
    char pipe[5];
    size_t before, i;

    if (WISP_H1_PIPELINE_MAX < 2)
        skip(); /* compiled out */
    c = st_new(f, "pclose");
    for (i = 1; i <= 5; i++)
        (void)st_new(f, "piped");
    before = log_size();
    if (st_request_len(c, 0))
        fail_msg("pclose: request_tx_len");
    piped_burst(f, 1, 5);
    EXPECT(c, st_last(c) == WISP_STATE_DONE && strcmp(st_body(c), "closing\n") == 0);
    st = stfx_stats(f);
    assert_int_equal(st.transactions, 6);
    assert_int_equal(st.retries, 0);
    assert_int_equal(st.conns_opened, 2);
    assert_true(st.handshakes_resumed >= 1);
    pipe_log(before, 5, conn, pipe);
    for (i = 0; i < 5; i++)
        if (conn[i] != conn[0] || pipe[i] != '.')
            fail_msg("first burst, request %zu: connection %lu, $pipe %c", i, conn[i], pipe[i]);
    (void)wisp_context_close_idle(f->cx);
    before = log_size();
    piped_burst(f, 1, 5);
    pipe_log(before, 5, conn, pipe);
    for (i = 0; i < 5; i++)
        if (conn[i] != conn[0] || pipe[i] != '.')
            fail_msg("second burst, request %zu: connection %lu, $pipe %c (pipelined again)", i,
                     conn[i], pipe[i]);
    finish(state);
}

/* /close answers with Connection: close: the stream queued behind it becomes leader
 * and reconnects, resuming the TLS session from the vhost's cache. */
static void test_close_requeues_with_resumption(void **state)
{
    stfx_t *f = *state;
    strec_t *r[2];
    wisp_stats_t st;
    int q, c;

    r[0] = st_new(f, "close");
    r[1] = st_new(f, "hello");
    request(r[0]);
    request(r[1]);
    if (!st_wait(f, r, 2, 10000, 100))
        fail_msg("did not settle\n  close: %s\n  hello: %s", st_seq(r[0], 0), st_seq(r[1], 0));
    EXPECT(r[0], strcmp(st_seq(r[0], 0), "CONNECTING CONNECTED ACK:200 DONE") == 0);
    EXPECT(r[0], strcmp(st_body(r[0]), "closing\n") == 0);
    q = st_find(r[1], WISP_STATE_QUEUED, 0);
    c = st_find(r[1], WISP_STATE_CONNECTING, 0);
    EXPECT(r[1], q >= 0 && c > q);
    EXPECT(r[1], st_find(r[1], WISP_STATE_ACK, c) > c && st_last(r[1]) == WISP_STATE_DONE);
    EXPECT(r[1], strcmp(st_body(r[1]), HELLO) == 0);
    st = stfx_stats(f);
    assert_int_equal(st.conns_opened, 2);
    assert_int_equal(st.handshakes_full, 1);
    assert_true(st.handshakes_resumed >= 1);
    assert_int_equal(st.retries, 0);
    finish(state);
}

/* A chunked response, a 204 without a body and a 301 (a NACK: redirects are not
 * followed), one after the other on one kept-alive connection. */
static void test_chunked_204_301(void **state)
{
    stfx_t *f = *state;
    strec_t *r;

    r = st_new(f, "chunked");
    request(r);
    wait1(f, r, 5000);
    EXPECT(r, strcmp(st_seq(r, 0), "CONNECTING CONNECTED ACK:200 DONE") == 0);
    EXPECT(r, strcmp(st_body(r), "chunk one\nchunk two\nchunk three\n") == 0);
    EXPECT(r, r->eom == 1);
    st_destroy(r);

    r = st_new(f, "s204");
    request(r);
    wait1(f, r, 5000);
    EXPECT(r, st_find(r, WISP_STATE_ACK, 0) >= 0 && r->arg[st_find(r, WISP_STATE_ACK, 0)] == 204);
    EXPECT(r, st_last(r) == WISP_STATE_DONE && r->rx_bytes == 0);
    st_destroy(r);

    r = st_new(f, "s301");
    request(r);
    wait1(f, r, 5000);
    EXPECT(r, st_find(r, WISP_STATE_NACK, 0) >= 0 && r->arg[st_find(r, WISP_STATE_NACK, 0)] == 301);
    EXPECT(r, st_last(r) == WISP_STATE_DONE);
    assert_int_equal(wisp_stream_status(r->s), 301);
    assert_int_equal(stfx_stats(f).conns_opened, 1);
    assert_int_equal(stfx_stats(f).reuses, 2);
    finish(state);
}

/* /drip sends its head and a first chunk, the rest 3 s later: timeout_ms 500 fires
 * mid-body. TIMEOUT after ACK, no DONE, the connection it led closed. */
static void test_timeout_mid_body(void **state)
{
    stfx_t *f = *state;
    strec_t *r = st_new(f, "drip");

    request(r);
    wait1(f, r, 3000);
    EXPECT(r, strcmp(st_seq(r, 0), "CONNECTING CONNECTED ACK:200 TIMEOUT:WISP_ETIMEDOUT") == 0);
    EXPECT(r, strcmp(st_body(r), "drip start\n") == 0);
    EXPECT(r, r->eom == 0);
    assert_int_equal(stfx_stats(f).conns_live, 0);
    finish(state);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_get),
        T(test_head),
        T(test_post_length),
        T(test_post_chunked),
        T(test_404_nack),
        T(test_big_streamed),
        T(test_hundred_queued),
        T(test_pipelined_fifty),
        T(test_pipeline_fallback_tls),
        T(test_close_requeues_with_resumption),
        T(test_chunked_204_301),
        T(test_timeout_mid_body),
#undef T
    };

    if (argc != 3) {
        fprintf(stderr, "usage: %s PORT DIR (the nginx fixture's)\n", argv[0]);
        return 2;
    }
    port = atoi(argv[1]);
    dir = argv[2];
    return cmocka_run_group_tests(tests, NULL, NULL);
}
