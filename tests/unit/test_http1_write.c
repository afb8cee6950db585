/*
 * The HTTP/1.1 head writers and chunk framing (lib/http1/write.c, client-write.c,
 * server-write.c): exact output, every refusal, the hard cap at every size, and a
 * round trip through the parsers.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "h1_table.h"
#include "http1/http1-internal.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char buf[512];

static void assert_head(const wisp__h1_out_t *w, size_t len, const char *want)
{
    assert_int_equal(len, strlen(want));
    assert_memory_equal(w->buf, want, len);
}

static void test_request_with_length(void **state)
{
    wisp__h1_out_t w;
    size_t len = 0;

    (void)state;
    wisp__h1_out_init(&w, buf, sizeof(buf));
    assert_int_equal(wisp__h1_out_request_line(&w, "POST", "/v1/up?x=%20", 12), 0);
    assert_int_equal(wisp__h1_out_host(&w, "api.example.com", 15, 443, 1), 0);
    assert_int_equal(wisp__h1_out_header(&w, "accept", 6, "application/json", 16), 0);
    assert_int_equal(wisp__h1_out_header(&w, "x-empty", 7, NULL, 0), 0);
    assert_int_equal(wisp__h1_out_content_length(&w, 18446744073709551615u), 0);
    assert_int_equal(wisp__h1_out_end(&w, &len), 0);
    assert_head(&w, len,
                "POST /v1/up?x=%20 HTTP/1.1\r\nHost: api.example.com\r\n"
                "accept: application/json\r\nx-empty: \r\n"
                "Content-Length: 18446744073709551615\r\n\r\n");
}

static void test_request_chunked_close(void **state)
{
    wisp__h1_out_t w;
    size_t len = 0;

    (void)state;
    wisp__h1_out_init(&w, buf, sizeof(buf));
    assert_int_equal(wisp__h1_out_request_line(&w, "PUT", "/", 1), 0);
    assert_int_equal(wisp__h1_out_host(&w, "10.0.0.1", 8, 8080, 0), 0);
    assert_int_equal(wisp__h1_out_chunked(&w), 0);
    assert_int_equal(wisp__h1_out_close(&w), 0);
    assert_int_equal(wisp__h1_out_end(&w, &len), 0);
    assert_head(&w, len,
                "PUT / HTTP/1.1\r\nHost: 10.0.0.1:8080\r\n"
                "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n");
}

static void test_host_forms(void **state)
{
    static const struct {
        const char *host;
        uint16_t port;
        int tls;
        const char *want;
    } t[] = {
        {"a.b", 443, 1, "Host: a.b\r\n"},
        {"a.b", 80, 0, "Host: a.b\r\n"},
        {"a.b", 80, 1, "Host: a.b:80\r\n"},
        {"a.b", 443, 0, "Host: a.b:443\r\n"},
        {"a.b", 0, 1, "Host: a.b:0\r\n"},
        {"a.b", 65535, 1, "Host: a.b:65535\r\n"},
        {"::1", 443, 1, "Host: [::1]\r\n"},
        {"fe80::1", 8443, 1, "Host: [fe80::1]:8443\r\n"},
        {"[::1]", 8080, 0, "Host: [::1]:8080\r\n"},
    };
    size_t i, len;

    (void)state;
    for (i = 0; i < N(t); i++) {
        wisp__h1_out_t w;

        wisp__h1_out_init(&w, buf, sizeof(buf));
        assert_int_equal(wisp__h1_out_host(&w, t[i].host, strlen(t[i].host), t[i].port, t[i].tls),
                         0);
        assert_head(&w, w.len, t[i].want);
        assert_int_equal(wisp__h1_out_end(&w, &len), 0);
    }
}

static void test_response_heads(void **state)
{
    wisp__h1_out_t w;
    size_t len = 0;

    (void)state;
    wisp__h1_out_init(&w, buf, sizeof(buf));
    assert_int_equal(wisp__h1_out_status_line(&w, 200, NULL), 0);
    assert_int_equal(wisp__h1_out_header(&w, "Content-Type", 12, "text/plain", 10), 0);
    assert_int_equal(wisp__h1_out_content_length(&w, 0), 0);
    assert_int_equal(wisp__h1_out_end(&w, &len), 0);
    assert_head(&w, len,
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                "Content-Length: 0\r\n\r\n");

    wisp__h1_out_init(&w, buf, sizeof(buf));
    assert_int_equal(wisp__h1_out_status_line(&w, 299, NULL), 0);
    assert_int_equal(wisp__h1_out_close(&w), 0);
    assert_int_equal(wisp__h1_out_end(&w, &len), 0);
    assert_head(&w, len, "HTTP/1.1 299 \r\nConnection: close\r\n\r\n");

    wisp__h1_out_init(&w, buf, sizeof(buf));
    assert_int_equal(wisp__h1_out_status_line(&w, 404, "Gone\tFishing"), 0);
    assert_int_equal(wisp__h1_out_end(&w, &len), 0);
    assert_head(&w, len, "HTTP/1.1 404 Gone\tFishing\r\n\r\n");

    wisp__h1_out_init(&w, buf, sizeof(buf));
    assert_int_equal(wisp__h1_out_status_line(&w, 100, NULL), 0);
    assert_int_equal(wisp__h1_out_end(&w, &len), 0);
    assert_head(&w, len, "HTTP/1.1 100 Continue\r\n\r\n");
}

/* Each refusal, and that it sticks: later calls change nothing and end() reports it. */
static void test_refusals(void **state)
{
    static const char nul_path[] = "/a\0b";
    wisp__h1_out_t w;
    size_t len = 77;
    int i;

    (void)state;
    for (i = 0; i < 27; i++) {
        int want = WISP_EINVAL, got = 0;

        wisp__h1_out_init(&w, buf, sizeof(buf));
        switch (i) {
        case 0:
            got = wisp__h1_out_request_line(&w, "GE T", "/", 1);
            break;
        case 1:
            got = wisp__h1_out_request_line(&w, "", "/", 1);
            break;
        case 2:
            got = wisp__h1_out_request_line(&w, "GET", "x", 1);
            break;
        case 3:
            got = wisp__h1_out_request_line(&w, "GET", "/a b", 4);
            break;
        case 4:
            got = wisp__h1_out_request_line(&w, "GET", "/\xe9", 2);
            break;
        case 5:
            got = wisp__h1_out_request_line(&w, "GET", "/a\r\nX: y", 8);
            want = WISP_EHEADER;
            break;
        case 6:
            got = wisp__h1_out_request_line(&w, "GET", nul_path, 4);
            want = WISP_EHEADER;
            break;
        case 7:
            got = wisp__h1_out_request_line(&w, "GET", "", 0);
            break;
        case 8:
            got = wisp__h1_out_host(&w, "", 0, 443, 1);
            break;
        case 9:
            got = wisp__h1_out_host(&w, "a\r\nX: y", 7, 443, 1);
            want = WISP_EHEADER;
            break;
        case 10:
            got = wisp__h1_out_host(&w, "a b", 3, 443, 1);
            break;
        case 11:
            got = wisp__h1_out_host(&w, "a/b", 3, 443, 1);
            break;
        case 12:
            got = wisp__h1_out_host(&w, "u@a", 3, 443, 1);
            break;
        case 13:
            got = wisp__h1_out_host(&w, "a?b", 3, 443, 1);
            break;
        case 14:
            got = wisp__h1_out_header(&w, "X Y", 3, "v", 1);
            break;
        case 15:
            got = wisp__h1_out_header(&w, "", 0, "v", 1);
            break;
        case 16:
            got = wisp__h1_out_header(&w, "X:", 2, "v", 1);
            break;
        case 17:
            got = wisp__h1_out_header(&w, "Content-Length", 14, "1", 1);
            break;
        case 18:
            got = wisp__h1_out_header(&w, "transfer-encoding", 17, "chunked", 7);
            break;
        case 19:
            got = wisp__h1_out_header(&w, "HOST", 4, "evil", 4);
            break;
        case 20:
            got = wisp__h1_out_header(&w, "X", 1, "a\r\nEvil: 1", 10);
            want = WISP_EHEADER;
            break;
        case 21:
            got = wisp__h1_out_header(&w, "X", 1, "a\nb", 3);
            want = WISP_EHEADER;
            break;
        case 22:
            got = wisp__h1_out_header(&w, "X", 1, nul_path, 4);
            want = WISP_EHEADER;
            break;
        case 23:
            got = wisp__h1_out_header(&w, "X", 1, NULL, 1);
            break;
        case 24:
            got = wisp__h1_out_status_line(&w, 99, NULL);
            break;
        case 25:
            got = wisp__h1_out_status_line(&w, 200, "O\rK");
            want = WISP_EHEADER;
            break;
        default:
            got = wisp__h1_out_content_length(&w, 1);
            assert_int_equal(got, 0);
            got = wisp__h1_out_chunked(&w);
            break;
        }
        assert_int_equal(got, want);
        len = w.len;
        assert_int_equal(wisp__h1_out_header(&w, "X", 1, "ok", 2), want);
        assert_int_equal(wisp__h1_out_close(&w), want);
        assert_int_equal(w.len, len); /* nothing more written */
        assert_int_equal(wisp__h1_out_end(&w, &len), want);
    }
}

/* At every capacity below the head's size, ETOOBIG and never a byte past cap. */
static void test_cap_every_size(void **state)
{
    static const char want[] = "GET /x HTTP/1.1\r\nHost: [::1]:8443\r\n"
                               "a: b\r\nTransfer-Encoding: chunked\r\n\r\n";
    char out[sizeof(want) + 8];
    size_t cap;

    (void)state;
    for (cap = 0; cap <= sizeof(want) - 1; cap++) {
        wisp__h1_out_t w;
        size_t len = 0;
        int ret;

        memset(out, '#', sizeof(out));
        wisp__h1_out_init(&w, out, cap);
        wisp__h1_out_request_line(&w, "GET", "/x", 2);
        wisp__h1_out_host(&w, "::1", 3, 8443, 1);
        wisp__h1_out_header(&w, "a", 1, "b", 1);
        wisp__h1_out_chunked(&w);
        ret = wisp__h1_out_end(&w, &len);
        assert_true(w.len <= cap);
        assert_int_equal(out[cap], '#');
        if (cap < sizeof(want) - 1) {
            assert_int_equal(ret, WISP_ETOOBIG);
        } else {
            assert_int_equal(ret, 0);
            assert_head(&w, len, want);
        }
    }
    {
        wisp__h1_out_t w;

        wisp__h1_out_init(&w, NULL, 100);
        assert_int_equal(wisp__h1_out_close(&w), WISP_ETOOBIG);
    }
}

static void test_chunk_framing(void **state)
{
    static const struct {
        size_t len;
        const char *want;
    } t[] = {
        {1, "1\r\n"}, {15, "f\r\n"}, {16, "10\r\n"}, {4096, "1000\r\n"}, {0xabcdef, "abcdef\r\n"},
    };
    uint8_t out[WISP_H1_CHUNK_HEADER_MAX];
    size_t i;

    (void)state;
    for (i = 0; i < N(t); i++) {
        size_t n = strlen(t[i].want);

        assert_int_equal(wisp__h1_chunk_header(out, sizeof(out), t[i].len), (int)n);
        assert_memory_equal(out, t[i].want, n);
        assert_int_equal(wisp__h1_chunk_header(out, n - 1, t[i].len), WISP_ETOOBIG);
    }
    assert_int_equal(wisp__h1_chunk_header(out, sizeof(out), SIZE_MAX),
                     (int)WISP_H1_CHUNK_HEADER_MAX);
    assert_int_equal(wisp__h1_chunk_header(out, sizeof(out), 0), WISP_EINVAL);
    assert_int_equal(wisp__h1_chunk_header(NULL, 10, 1), WISP_EINVAL);
    assert_int_equal(wisp__h1_chunk_last(out, sizeof(out)), WISP_H1_CHUNK_LAST_LEN);
    assert_memory_equal(out, "0\r\n\r\n", 5);
    assert_int_equal(wisp__h1_chunk_last(out, 4), WISP_ETOOBIG);
    assert_int_equal(wisp__h1_chunk_last(NULL, 5), WISP_EINVAL);
}

/* What the writers produce, the parsers read back: a chunked request and response. */
static void test_round_trip(void **state)
{
    static char msg[1024];
    static h1t_case_t c;
    wisp__h1_out_t w;
    size_t len = 0, pos;
    int n;

    (void)state;
    wisp__h1_out_init(&w, msg, sizeof(msg));
    wisp__h1_out_request_line(&w, "POST", "/r", 2);
    wisp__h1_out_host(&w, "::1", 3, 8443, 1);
    wisp__h1_out_header(&w, "X-Meta", 6, "v a l", 5);
    wisp__h1_out_chunked(&w);
    assert_int_equal(wisp__h1_out_end(&w, &len), 0);
    pos = len;
    n = wisp__h1_chunk_header((uint8_t *)msg + pos, sizeof(msg) - pos, 17);
    assert_true(n > 0);
    pos += (size_t)n;
    memcpy(msg + pos, "seventeen bytes!!" WISP_H1_CRLF, 19);
    pos += 19;
    n = wisp__h1_chunk_last((uint8_t *)msg + pos, sizeof(msg) - pos);
    pos += (size_t)n;

    c.name = "round trip request";
    c.in = msg;
    c.in_len = pos;
    c.want = "R POST /r\nH Host: [::1]:8443\nH X-Meta: v a l\n"
             "H Transfer-Encoding: chunked\nD\nB seventeen bytes!!\nC\n";
    c.keepalive = 1;
    c.req_bits = H1T_HTTP11 | H1T_IN_BODY;
    h1t_check(H1T_REQ, &c);

    wisp__h1_out_init(&w, msg, sizeof(msg));
    wisp__h1_out_status_line(&w, 201, NULL);
    wisp__h1_out_content_length(&w, 2);
    wisp__h1_out_close(&w);
    assert_int_equal(wisp__h1_out_end(&w, &len), 0);
    memcpy(msg + len, "ok", 2);
    memset(&c, 0, sizeof(c));
    c.name = "round trip response";
    c.in = msg;
    c.in_len = len + 2;
    c.want = "S 201 Created\nH Content-Length: 2\nH Connection: close\nD\nB ok\nC\n";
    h1t_check(H1T_RESP, &c);
}

/* Body pieces framed in place (both connection kinds): chunk framing, the
 * announced length held exactly, nothing yet. */
static void test_piece_frame(void **state)
{
    uint8_t pb[64];
    size_t pre = wisp__h1_piece_pre(1), off, end;
    uint64_t left = 5;

    (void)state;
    /* Chunked: "3\r\nabc\r\n", then the last chunk alone. */
    memcpy(pb + pre, "abc", 3);
    assert_int_equal(wisp__h1_piece_frame(pb, sizeof(pb), 3, 0, 1, NULL, &off, &end), 0);
    assert_int_equal(end - off, 8);
    assert_memory_equal(pb + off, "3\r\nabc\r\n", 8);
    assert_int_equal(wisp__h1_piece_frame(pb, sizeof(pb), 0, 1, 1, NULL, &off, &end), 0);
    assert_memory_equal(pb + off, "0\r\n\r\n", 5);
    /* No bytes and no end: nothing to send yet. */
    assert_int_equal(wisp__h1_piece_frame(pb, sizeof(pb), 0, 0, 1, NULL, &off, &end), WISP_EAGAIN);
    /* Content-Length 5: 3 then 2 with the end is right... */
    assert_int_equal(wisp__h1_piece_frame(pb, sizeof(pb), 3, 0, 0, &left, &off, &end), 0);
    assert_int_equal(left, 2);
    assert_int_equal(end - off, 3);
    assert_int_equal(wisp__h1_piece_frame(pb, sizeof(pb), 2, 1, 0, &left, &off, &end), 0);
    assert_int_equal(left, 0);
    /* ...more than announced, or the end before it, is refused and owes the same. */
    left = 5;
    assert_int_equal(wisp__h1_piece_frame(pb, sizeof(pb), 6, 0, 0, &left, &off, &end), WISP_EPROTO);
    assert_int_equal(wisp__h1_piece_frame(pb, sizeof(pb), 4, 1, 0, &left, &off, &end), WISP_EPROTO);
    assert_int_equal(left, 5);
    /* Over the room. */
    assert_int_equal(wisp__h1_piece_frame(pb, sizeof(pb), wisp__h1_piece_room(sizeof(pb), 1) + 1, 0,
                                          1, NULL, &off, &end),
                     WISP_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_with_length),
        cmocka_unit_test(test_request_chunked_close),
        cmocka_unit_test(test_host_forms),
        cmocka_unit_test(test_response_heads),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_cap_every_size),
        cmocka_unit_test(test_chunk_framing),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_piece_frame),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
