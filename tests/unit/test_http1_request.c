/*
 * The HTTP/1.1 request parser (lib/http1/server-parse.c + parse.c), table-driven:
 * every case fed whole, byte by byte, in halves and in 40 random splits. The
 * smuggling cases are the point: a server and a proxy must never disagree on where
 * a request ends, so every ambiguous framing is refused.
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

#define GET "GET / HTTP/1.1\r\nHost: a\r\n"
#define GET_WANT "R GET /\nH Host: a\n"
#define POST "POST /up HTTP/1.1\r\nHost: a\r\n"
#define POST_WANT "R POST /up\nH Host: a\n"
#define V11 H1T_HTTP11
#define BODY H1T_IN_BODY

static const h1t_case_t ok_cases[] = {
    {.name = "GET",
     .in = GET "\r\n",
     .want = GET_WANT "D\nC\n",
     .keepalive = 1,
     .req_bits = V11 | BODY},
    {.name = "POST with content-length",
     .in = POST "Content-Length: 5\r\n\r\nhello",
     .want = POST_WANT "H Content-Length: 5\nD\nB hello\nC\n",
     .keepalive = 1,
     .req_bits = V11 | BODY},
    {.name = "POST chunked with extensions and trailers",
     .in = POST "Transfer-Encoding: chunked\r\n\r\n2;x=y\r\nhe\r\n3\r\nllo\r\n0\r\nT: 1\r\n\r\n",
     .want = POST_WANT "H Transfer-Encoding: chunked\nD\nB hello\nC\n",
     .keepalive = 1,
     .req_bits = V11 | BODY},
    {.name = "HTTP/1.0 needs no Host, no keep-alive",
     .in = "GET /x?y=1 HTTP/1.0\r\n\r\n",
     .want = "R GET /x?y=1\nD\nC\n",
     .req_bits = BODY},
    {.name = "HTTP/1.0 keep-alive",
     .in = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
     .want = "R GET /\nH Connection: keep-alive\nD\nC\n",
     .keepalive = 1,
     .req_bits = BODY},
    {.name = "Connection: close",
     .in = GET "Connection: close\r\n\r\n",
     .want = GET_WANT "H Connection: close\nD\nC\n",
     .req_bits = V11 | BODY},
    {.name = "Expect: 100-continue",
     .in = POST "Expect: 100-Continue\r\nContent-Length: 1\r\n\r\nx",
     .want = POST_WANT "H Expect: 100-Continue\nH Content-Length: 1\nD\nB x\nC\n",
     .keepalive = 1,
     .req_bits = V11 | BODY | H1T_EXPECT},
    {.name = "Expect ignored in HTTP/1.0",
     .in = "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx",
     .want = "R POST /\nH Expect: 100-continue\nH Content-Length: 1\nD\nB x\nC\n",
     .req_bits = BODY},
    {.name = "other Expect values are not 100-continue",
     .in = GET "Expect: something-else\r\n\r\n",
     .want = GET_WANT "H Expect: something-else\nD\nC\n",
     .keepalive = 1,
     .req_bits = V11 | BODY},
    {.name = "empty lines before the request line",
     .in = "\r\n\r\n" GET "\r\n",
     .want = GET_WANT "D\nC\n",
     .keepalive = 1,
     .req_bits = V11 | BODY},
    {.name = "absolute-form, asterisk-form and odd methods",
     .in = "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
     .want = "R OPTIONS *\nH Host: a\nD\nC\n",
     .keepalive = 1,
     .req_bits = V11 | BODY},
    {.name = "absolute-form target",
     .in = "M-SEARCH http://a/b?c#d HTTP/1.1\r\nHost: a\r\n\r\n",
     .want = "R M-SEARCH http://a/b?c#d\nH Host: a\nD\nC\n",
     .keepalive = 1,
     .req_bits = V11 | BODY},
    {.name = "pipelined requests: the second is left",
     .in = GET "\r\n" GET "\r\n",
     .want = GET_WANT "D\nC\n",
     .keepalive = 1,
     .leftover = sizeof(GET "\r\n") - 1,
     .req_bits = V11 | BODY},
    {.name = "body at exactly the limit",
     .in = POST "Content-Length: 4\r\n\r\nabcd",
     .max_body = 4,
     .want = POST_WANT "H Content-Length: 4\nD\nB abcd\nC\n",
     .keepalive = 1,
     .req_bits = V11 | BODY},
    {.name = "chunked body at exactly the limit",
     .in = POST "Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n",
     .max_body = 4,
     .want = POST_WANT "H Transfer-Encoding: chunked\nD\nB abcd\nC\n",
     .keepalive = 1,
     .req_bits = V11 | BODY},
    {.name = "content-length zero",
     .in = POST "Content-Length: 0\r\n\r\n",
     .want = POST_WANT "H Content-Length: 0\nD\nC\n",
     .keepalive = 1,
     .req_bits = V11 | BODY},
};

static const h1t_case_t smuggling_cases[] = {
    {.name = "CL then TE",
     .in = POST "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
     .want = POST_WANT "H Content-Length: 3\nH Transfer-Encoding: chunked\n",
     .err = WISP_EPROTO,
     .req_bits = V11},
    {.name = "TE then CL",
     .in = POST "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
     .want = POST_WANT "H Transfer-Encoding: chunked\nH Content-Length: 3\n",
     .err = WISP_EPROTO,
     .req_bits = V11},
    {.name = "differing content-lengths",
     .in = POST "Content-Length: 3\r\nContent-Length: 30\r\n\r\nabc",
     .want = POST_WANT "H Content-Length: 3\n",
     .err = WISP_EPROTO,
     .req_bits = V11},
    {.name = "identical content-lengths are one",
     .in = POST "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
     .want = POST_WANT "H Content-Length: 3\nH Content-Length: 3\nD\nB abc\nC\n",
     .keepalive = 1,
     .req_bits = V11 | BODY},
    {.name = "TE chunked, gzip (chunked not last)",
     .in = POST "Transfer-Encoding: chunked, gzip\r\n\r\n",
     .want = POST_WANT "H Transfer-Encoding: chunked, gzip\n",
     .err = WISP_EPROTO,
     .req_bits = V11},
    {.name = "TE identity",
     .in = POST "Transfer-Encoding: identity\r\n\r\n",
     .want = POST_WANT "H Transfer-Encoding: identity\n",
     .err = WISP_EPROTO,
     .req_bits = V11},
    {.name = "TE gzip, chunked is unsupported",
     .in = POST "Transfer-Encoding: gzip, chunked\r\n\r\n",
     .want = POST_WANT "H Transfer-Encoding: gzip, chunked\n",
     .err = WISP_EUNSUPPORTED,
     .req_bits = V11},
    {.name = "TE chunked in two fields",
     .in = POST "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
     .want = POST_WANT "H Transfer-Encoding: chunked\nH Transfer-Encoding: chunked\n",
     .err = WISP_EPROTO,
     .req_bits = V11},
    {.name = "TE in HTTP/1.0",
     .in = "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     .want = "R POST /\nH Transfer-Encoding: chunked\n",
     .err = WISP_EPROTO},
    {.name = "TE with space before the colon",
     .in = POST "Transfer-Encoding : chunked\r\n\r\n",
     .want = POST_WANT,
     .err = WISP_EPROTO,
     .req_bits = V11},
    {.name = "TE folded onto the next line",
     .in = POST "Transfer-Encoding:\r\n chunked\r\n\r\n",
     .want = POST_WANT "H Transfer-Encoding: \n",
     .err = WISP_EPROTO,
     .req_bits = V11},
    {.name = "TE with a vertical tab",
     .in = POST "Transfer-Encoding:\x0b"
                "chunked\r\n\r\n",
     .want = POST_WANT,
     .err = WISP_EPROTO,
     .req_bits = V11},
    {.name = "TE xchunked",
     .in = POST "Transfer-Encoding: xchunked\r\n\r\n",
     .want = POST_WANT "H Transfer-Encoding: xchunked\n",
     .err = WISP_EPROTO,
     .req_bits = V11},
    {.name = "content-length with a sign",
     .in = POST "Content-Length: +3\r\n\r\nabc",
     .want = POST_WANT,
     .err = WISP_EPROTO,
     .req_bits = V11},
    {.name = "bare CR inside a field (line splitting)",
     .in = POST "X: a\rContent-Length: 3\r\n\r\nabc",
     .want = POST_WANT,
     .err = WISP_EPROTO,
     .req_bits = V11},
    {.name = "chunk size overflow",
     .in = POST "Transfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
     .want = POST_WANT "H Transfer-Encoding: chunked\nD\n",
     .err = WISP_EPROTO,
     .req_bits = V11 | BODY},
    {.name = "no Host in HTTP/1.1",
     .in = "GET / HTTP/1.1\r\n\r\n",
     .want = "R GET /\n",
     .err = WISP_EPROTO,
     .req_bits = V11},
    {.name = "two Hosts",
     .in = GET "host: b\r\n\r\n",
     .want = GET_WANT "H host: b\n",
     .err = WISP_EPROTO,
     .req_bits = V11},
    {.name = "three Hosts in HTTP/1.0",
     .in = "GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\nHost: a\r\n\r\n",
     .want = "R GET /\nH Host: a\nH Host: a\nH Host: a\n",
     .err = WISP_EPROTO},
};

static const h1t_case_t line_cases[] = {
    {.name = "HTTP/0.9", .in = "GET /\r\n\r\n", .want = "", .err = WISP_EPROTO},
    {.name = "two spaces", .in = "GET  / HTTP/1.1\r\n\r\n", .want = "", .err = WISP_EPROTO},
    {.name = "trailing space",
     .in = "GET / HTTP/1.1 \r\nHost: a\r\n\r\n",
     .want = "",
     .err = WISP_EPROTO},
    {.name = "tab separator", .in = "GET\t/ HTTP/1.1\r\n\r\n", .want = "", .err = WISP_EPROTO},
    {.name = "non-token method", .in = "G(T / HTTP/1.1\r\n\r\n", .want = "", .err = WISP_EPROTO},
    {.name = "empty method", .in = " / HTTP/1.1\r\n\r\n", .want = "", .err = WISP_EPROTO},
    {.name = "non-ASCII target",
     .in = "GET /\xc3\xa9 HTTP/1.1\r\n\r\n",
     .want = "",
     .err = WISP_EPROTO},
    {.name = "HTTP/2.0", .in = "GET / HTTP/2.0\r\n\r\n", .want = "", .err = WISP_EPROTO},
    {.name = "HTTP/1.10", .in = "GET / HTTP/1.10\r\n\r\n", .want = "", .err = WISP_EPROTO},
    {.name = "lower-case version", .in = "GET / http/1.1\r\n\r\n", .want = "", .err = WISP_EPROTO},
    {.name = "only a method", .in = "GET\r\n\r\n", .want = "", .err = WISP_EPROTO},
    {.name = "NUL in the target",
     .in = "GET /\0 HTTP/1.1\r\n\r\n",
     .in_len = sizeof("GET /\0 HTTP/1.1\r\n\r\n") - 1,
     .want = "",
     .err = WISP_EPROTO},
    {.name = "field without colon",
     .in = GET "Oops\r\n\r\n",
     .want = GET_WANT,
     .err = WISP_EPROTO,
     .req_bits = V11},
};

static const h1t_case_t limit_cases[] = {
    /* "GET / HTTP/1.1\r\n" 16 + "Host: a\r\n" 9 + "\r\n" 2 = 27 */
    {.name = "head at the cap",
     .in = GET "\r\n",
     .max_head = 27,
     .want = GET_WANT "D\nC\n",
     .keepalive = 1,
     .req_bits = V11 | BODY},
    {.name = "head over the cap (431)",
     .in = GET "\r\n",
     .max_head = 26,
     .want = GET_WANT,
     .err = WISP_ETOOBIG,
     .req_bits = V11},
    {.name = "content-length over the body limit (413)",
     .in = POST "Content-Length: 5\r\n\r\nabcde",
     .max_body = 4,
     .want = POST_WANT "H Content-Length: 5\n",
     .err = WISP_ETOOBIG,
     .req_bits = V11 | BODY},
    {.name = "chunks over the body limit (413)",
     .in = POST "Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n",
     .max_body = 4,
     .want = POST_WANT "H Transfer-Encoding: chunked\nD\nB ab\n",
     .err = WISP_ETOOBIG,
     .req_bits = V11 | BODY},
    {.name = "eof between requests", .in = "", .eof = 1, .want = "", .err = WISP_ECLOSED},
    {.name = "eof in a request", .in = "GET / HT", .eof = 1, .want = "", .err = WISP_EPROTO},
    {.name = "eof in a request body",
     .in = POST "Content-Length: 5\r\n\r\nab",
     .eof = 1,
     .want = POST_WANT "H Content-Length: 5\nD\nB ab\n",
     .err = WISP_EPROTO,
     .req_bits = V11 | BODY},
    {.name = "eof after a complete request",
     .in = GET "\r\n",
     .eof = 1,
     .want = GET_WANT "D\nC\n",
     .keepalive = 1,
     .req_bits = V11 | BODY},
};

static void test_requests(void **state)
{
    (void)state;
    h1t_check_table(H1T_REQ, ok_cases, N(ok_cases));
}

static void test_smuggling(void **state)
{
    (void)state;
    h1t_check_table(H1T_REQ, smuggling_cases, N(smuggling_cases));
}

static void test_request_line(void **state)
{
    (void)state;
    h1t_check_table(H1T_REQ, line_cases, N(line_cases));
}

static void test_limits_and_eof(void **state)
{
    (void)state;
    h1t_check_table(H1T_REQ, limit_cases, N(limit_cases));
}

/* A kept-alive connection: the same parser, re-initialised, takes pipelined
 * requests one after another out of one buffer. */
static void test_pipeline_loop(void **state)
{
    static const char in[] = GET "\r\n" POST "Content-Length: 2\r\n\r\nhi"
                                 "GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
    wisp__h1_req_cfg_t cfg;
    wisp__h1_req_t q;
    h1t_rec_t rec;
    size_t pos = 0, used;
    int n = 0;

    (void)state;
    h1t_rec_init(&rec);
    cfg.cb = &h1t_cbs;
    cfg.user = &rec;
    cfg.max_head = 0;
    cfg.max_body = 0;
    while (pos < sizeof(in) - 1) {
        wisp__h1_req_init(&q, &cfg);
        rec.done = 0;
        assert_int_equal(
            wisp__h1_req_feed(&q, (const uint8_t *)in + pos, sizeof(in) - 1 - pos, &used), 0);
        assert_true(wisp__h1_req_is_done(&q));
        assert_int_equal(wisp__h1_req_keepalive(&q), n < 2);
        pos += used;
        n++;
    }
    assert_int_equal(n, 3);
    assert_string_equal(rec.log, GET_WANT "D\nC\n" POST_WANT "H Content-Length: 2\nD\nB hi\nC\n"
                                          "R GET /last\nH Host: a\nH Connection: close\nD\nC\n");
}

static void test_bad_arguments(void **state)
{
    wisp__h1_req_cfg_t cfg = {NULL, NULL, 0, 0};
    wisp__h1_req_t q;

    (void)state;
    assert_int_equal(wisp__h1_req_feed(NULL, (const uint8_t *)"x", 1, NULL), WISP_EINVAL);
    assert_int_equal(wisp__h1_req_eof(NULL), WISP_EINVAL);
    wisp__h1_req_init(&q, &cfg);
    assert_int_equal(wisp__h1_req_feed(&q, NULL, 3, NULL), WISP_EINVAL);
    assert_int_equal(wisp__h1_req_feed(&q, (const uint8_t *)GET "\r\n", 27, NULL), 0);
    assert_true(wisp__h1_req_is_done(&q));
    assert_int_equal(wisp__h1_req_feed(&q, (const uint8_t *)"x", 1, NULL), WISP_ESTATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_requests),      cmocka_unit_test(test_smuggling),
        cmocka_unit_test(test_request_line),  cmocka_unit_test(test_limits_and_eof),
        cmocka_unit_test(test_pipeline_loop), cmocka_unit_test(test_bad_arguments),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
