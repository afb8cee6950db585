/*
 * The HTTP/1.1 response parser (lib/http1/client-parse.c + parse.c), table-driven:
 * every case is fed whole, byte by byte, in halves and in 40 random splits, and
 * must give the same transcript, result and keep-alive decision each time.
 */
#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "h1_table.h"
#include "http1/http1-internal.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define OK200 "HTTP/1.1 200 OK\r\n"

/* ---- Framing and keep-alive ---------------------------------------------------- */

static const h1t_case_t framing_cases[] = {
    {.name = "content-length",
     .in = OK200 "Content-Length: 5\r\n\r\nhello",
     .want = "S 200 OK\nH Content-Length: 5\nD\nB hello\nC\n",
     .keepalive = 1},
    {.name = "content-length zero",
     .in = OK200 "Content-Length: 0\r\n\r\n",
     .want = "S 200 OK\nH Content-Length: 0\nD\nC\n",
     .keepalive = 1},
    {.name = "chunked",
     .in = OK200 "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n",
     .want = "S 200 OK\nH Transfer-Encoding: chunked\nD\nB hello, world\nC\n",
     .keepalive = 1},
    {.name = "chunked, upper-case hex, leading zeros, extensions",
     .in = OK200 "transfer-encoding: Chunked\r\n\r\n"
                 "000A;name=value\r\n0123456789\r\n"
                 "1 ; a=\"quoted;\" ; b\r\nx\r\n0;last\r\n\r\n",
     .want = "S 200 OK\nH transfer-encoding: Chunked\nD\nB 0123456789x\nC\n",
     .keepalive = 1},
    {.name = "chunked with trailers (checked, not reported)",
     .in = OK200 "Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"
                 "Checksum: 1234\r\nX-Other: y\r\n\r\n",
     .want = "S 200 OK\nH Transfer-Encoding: chunked\nD\nB abc\nC\n",
     .keepalive = 1},
    {.name = "chunked, bare LF everywhere",
     .in = "HTTP/1.1 200 OK\nTransfer-Encoding: chunked\n\n3\nabc\n0\n\n",
     .want = "S 200 OK\nH Transfer-Encoding: chunked\nD\nB abc\nC\n",
     .keepalive = 1},
    {.name = "chunked, trailing whitespace after size",
     .in = OK200 "Transfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n0\t\r\n\r\n",
     .want = "S 200 OK\nH Transfer-Encoding: chunked\nD\nB abc\nC\n",
     .keepalive = 1},
    {.name = "chunked list across fields with empty elements",
     .in = OK200 "Transfer-Encoding: ,\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n",
     .want = "S 200 OK\nH Transfer-Encoding: ,\nH Transfer-Encoding: chunked,\nD\nC\n",
     .keepalive = 1},
    {.name = "read until close",
     .in = OK200 "Content-Type: text/plain\r\n\r\nall of this",
     .eof = 1,
     .want = "S 200 OK\nH Content-Type: text/plain\nD\nB all of this\nC\n"},
    {.name = "read until close, no eof yet",
     .in = OK200 "\r\nsome",
     .want = "S 200 OK\nD\nB some\n"},
    {.name = "read until close, empty body",
     .in = OK200 "\r\n",
     .eof = 1,
     .want = "S 200 OK\nD\nC\n"},
    {.name = "HTTP/1.0 content-length: no keep-alive",
     .in = "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",
     .want = "S 200 OK\nH Content-Length: 2\nD\nB hi\nC\n"},
    {.name = "HTTP/1.0 with keep-alive",
     .in = "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi",
     .want = "S 200 OK\nH Connection: Keep-Alive\nH Content-Length: 2\nD\nB hi\nC\n",
     .keepalive = 1},
    {.name = "HTTP/1.0 keep-alive but close-delimited",
     .in = "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\nhi",
     .eof = 1,
     .want = "S 200 OK\nH Connection: keep-alive\nD\nB hi\nC\n"},
    {.name = "Connection: close",
     .in = OK200 "Connection: close\r\nContent-Length: 1\r\n\r\nx",
     .want = "S 200 OK\nH Connection: close\nH Content-Length: 1\nD\nB x\nC\n"},
    {.name = "Connection list with close in any case",
     .in = OK200 "Connection: Keep-Alive, CLOSE\r\nContent-Length: 0\r\n\r\n",
     .want = "S 200 OK\nH Connection: Keep-Alive, CLOSE\nH Content-Length: 0\nD\nC\n"},
    {.name = "Connection: upgrade is not close",
     .in = OK200 "Connection: upgrade\r\nContent-Length: 0\r\n\r\n",
     .want = "S 200 OK\nH Connection: upgrade\nH Content-Length: 0\nD\nC\n",
     .keepalive = 1},
    {.name = "HTTP/1.2 counts as 1.1",
     .in = "HTTP/1.2 200 OK\r\nContent-Length: 0\r\n\r\n",
     .want = "S 200 OK\nH Content-Length: 0\nD\nC\n",
     .keepalive = 1},
    {.name = "repeated identical content-length",
     .in = OK200 "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
     .want = "S 200 OK\nH Content-Length: 3\nH Content-Length: 3\nD\nB abc\nC\n",
     .keepalive = 1},
    {.name = "content-length list of identical values",
     .in = OK200 "Content-Length: 3 , 3\r\n\r\nabc",
     .want = "S 200 OK\nH Content-Length: 3 , 3\nD\nB abc\nC\n",
     .keepalive = 1},
    {.name = "largest content-length",
     .in = OK200 "Content-Length: 18446744073709551615\r\n\r\nab",
     .want = "S 200 OK\nH Content-Length: 18446744073709551615\nD\nB ab\n"},
    {.name = "pipelined bytes after a length body are left",
     .in = OK200 "Content-Length: 1\r\n\r\nxHTTP/1.1 200 OK\r\n\r\n",
     .want = "S 200 OK\nH Content-Length: 1\nD\nB x\nC\n",
     .keepalive = 1,
     .leftover = 19},
    {.name = "pipelined bytes after a chunked body are left",
     .in = OK200 "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nNEXT",
     .want = "S 200 OK\nH Transfer-Encoding: chunked\nD\nC\n",
     .keepalive = 1,
     .leftover = 4},
};

/* ---- No-body responses and interim responses ------------------------------------- */

static const h1t_case_t nobody_cases[] = {
    /* SPEC §7: no body, and the announced one leaves doubt: never reuse the socket. */
    {.name = "204 ignores content-length",
     .in = "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello",
     .want = "S 204 No Content\nH Content-Length: 5\nD\nC\n",
     .keepalive = 0,
     .leftover = 5},
    {.name = "204 with content-length 0 keeps the connection",
     .in = "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
     .want = "S 204 No Content\nH Content-Length: 0\nD\nC\n",
     .keepalive = 1},
    {.name = "304 ignores chunked",
     .in = "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
     .want = "S 304 Not Modified\nH Transfer-Encoding: chunked\nD\nC\n",
     .keepalive = 0},
    {.name = "HEAD response with content-length",
     .in = OK200 "Content-Length: 1000\r\n\r\n",
     .head = 1,
     .want = "S 200 OK\nH Content-Length: 1000\nD\nC\n",
     .keepalive = 1},
    {.name = "HEAD response, chunked announced",
     .in = OK200 "Transfer-Encoding: chunked\r\n\r\n",
     .head = 1,
     .want = "S 200 OK\nH Transfer-Encoding: chunked\nD\nC\n",
     .keepalive = 1},
    {.name = "HEAD response without framing is still framed",
     .in = OK200 "\r\n",
     .head = 1,
     .want = "S 200 OK\nD\nC\n",
     .keepalive = 1},
    {.name = "100 continue skipped",
     .in = "HTTP/1.1 100 Continue\r\n\r\n" OK200 "Content-Length: 2\r\n\r\nok",
     .want = "S 200 OK\nH Content-Length: 2\nD\nB ok\nC\n",
     .keepalive = 1},
    {.name = "103 early hints with fields skipped, twice",
     .in = "HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n"
           "HTTP/1.1 103 Early Hints\r\nLink: </b.css>\r\n\r\n"
           "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
     .want = "S 404 Not Found\nH Content-Length: 0\nD\nC\n",
     .keepalive = 1},
    {.name = "an interim Connection: close does not stick",
     .in = "HTTP/1.1 100 Continue\r\nConnection: close\r\n\r\n" OK200 "Content-Length: 0\r\n\r\n",
     .want = "S 200 OK\nH Content-Length: 0\nD\nC\n",
     .keepalive = 1},
    {.name = "101 switching protocols refused",
     .in = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
     .want = "",
     .err = WISP_EPROTO},
};

/* ---- Start line and fields -------------------------------------------------------- */

static const h1t_case_t syntax_cases[] = {
    {.name = "no reason phrase",
     .in = "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
     .want = "S 200 \nH Content-Length: 0\nD\nC\n",
     .keepalive = 1},
    {.name = "empty reason phrase",
     .in = "HTTP/1.1 500 \r\nContent-Length: 0\r\n\r\n",
     .want = "S 500 \nH Content-Length: 0\nD\nC\n",
     .keepalive = 1},
    {.name = "reason with spaces, tab and obs-text",
     .in = "HTTP/1.1 200 Very\tFine \xe9t\xe9\r\nContent-Length: 0\r\n\r\n",
     .want = "S 200 Very\tFine \xe9t\xe9\nH Content-Length: 0\nD\nC\n",
     .keepalive = 1},
    {.name = "empty lines before the status line",
     .in = "\r\n\n\r\n" OK200 "Content-Length: 0\r\n\r\n",
     .want = "S 200 OK\nH Content-Length: 0\nD\nC\n",
     .keepalive = 1},
    {.name = "value whitespace trimmed, empty value, tab inside",
     .in = OK200 "X-A: \t spaced out \t\r\nX-Empty:\r\nX-Tab: a\tb\r\n"
                 "Content-Length: 0\r\n\r\n",
     .want = "S 200 OK\nH X-A: spaced out\nH X-Empty: \nH X-Tab: a\tb\n"
             "H Content-Length: 0\nD\nC\n",
     .keepalive = 1},
    {.name = "colon inside value, token punctuation in name",
     .in = OK200 "X-!#$%&'*+-.^_`|~: a:b:c\r\nContent-Length: 0\r\n\r\n",
     .want = "S 200 OK\nH X-!#$%&'*+-.^_`|~: a:b:c\nH Content-Length: 0\nD\nC\n",
     .keepalive = 1},
    {.name = "HTTP/2 status line", .in = "HTTP/2 200 OK\r\n\r\n", .want = "", .err = WISP_EPROTO},
    {.name = "HTTP/2.0 status line",
     .in = "HTTP/2.0 200 OK\r\n\r\n",
     .want = "",
     .err = WISP_EPROTO},
    {.name = "lower-case http", .in = "http/1.1 200 OK\r\n\r\n", .want = "", .err = WISP_EPROTO},
    {.name = "ICY status line", .in = "ICY 200 OK\r\n\r\n", .want = "", .err = WISP_EPROTO},
    {.name = "two-digit status", .in = "HTTP/1.1 20 OK\r\n\r\n", .want = "", .err = WISP_EPROTO},
    {.name = "four-digit status", .in = "HTTP/1.1 2000 OK\r\n\r\n", .want = "", .err = WISP_EPROTO},
    {.name = "status glued to reason",
     .in = "HTTP/1.1 200OK\r\n\r\n",
     .want = "",
     .err = WISP_EPROTO},
    {.name = "status 600", .in = "HTTP/1.1 600 X\r\n\r\n", .want = "", .err = WISP_EPROTO},
    {.name = "status 099", .in = "HTTP/1.1 099 X\r\n\r\n", .want = "", .err = WISP_EPROTO},
    {.name = "two spaces after version",
     .in = "HTTP/1.1  200 OK\r\n\r\n",
     .want = "",
     .err = WISP_EPROTO},
    {.name = "garbage", .in = "<html>\r\n", .want = "", .err = WISP_EPROTO},
    {.name = "obsolete line folding refused",
     .in = OK200 "X-A: one\r\n two\r\nContent-Length: 0\r\n\r\n",
     .want = "S 200 OK\nH X-A: one\n",
     .err = WISP_EPROTO},
    {.name = "folding with a tab refused",
     .in = OK200 "X-A: one\r\n\ttwo\r\n\r\n",
     .want = "S 200 OK\nH X-A: one\n",
     .err = WISP_EPROTO},
    {.name = "whitespace before the first field refused",
     .in = OK200 " Content-Length: 0\r\n\r\n",
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "whitespace before the colon refused",
     .in = OK200 "Content-Length : 5\r\n\r\nhello",
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "field without colon",
     .in = OK200 "NoColon\r\n\r\n",
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "field with empty name",
     .in = OK200 ": value\r\n\r\n",
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "non-token in field name",
     .in = OK200 "X(a): 1\r\n\r\n",
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "NUL in a field value",
     .in = OK200 "X-A: a\0b\r\n\r\n",
     .in_len = sizeof(OK200 "X-A: a\0b\r\n\r\n") - 1,
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "bare CR in a field value",
     .in = OK200 "X-A: a\rb\r\n\r\n",
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "bare CR ending a field",
     .in = OK200 "X-A: a\r\r\n\r\n",
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "DEL in a field value",
     .in = OK200 "X-A: a\x7f\r\n\r\n",
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "escape in the status line",
     .in = "HTTP/1.1 200 O\x1bK\r\n\r\n",
     .want = "",
     .err = WISP_EPROTO},
};

/* ---- Framing errors ----------------------------------------------------------------- */

static const h1t_case_t framing_error_cases[] = {
    {.name = "content-length not a number",
     .in = OK200 "Content-Length: abc\r\n\r\n",
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "content-length negative",
     .in = OK200 "Content-Length: -1\r\n\r\n",
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "content-length with plus",
     .in = OK200 "Content-Length: +5\r\n\r\n",
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "content-length empty",
     .in = OK200 "Content-Length:\r\n\r\n",
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "content-length with inner space",
     .in = OK200 "Content-Length: 1 2\r\n\r\n",
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "content-length hex",
     .in = OK200 "Content-Length: 0x10\r\n\r\n",
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "content-length overflow",
     .in = OK200 "Content-Length: 18446744073709551616\r\n\r\n",
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "content-length huge",
     .in = OK200 "Content-Length: 99999999999999999999999\r\n\r\n",
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "content-length empty list element",
     .in = OK200 "Content-Length: 5,\r\n\r\n",
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "differing content-length fields",
     .in = OK200 "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
     .want = "S 200 OK\nH Content-Length: 5\n",
     .err = WISP_EPROTO},
    {.name = "differing content-length list",
     .in = OK200 "Content-Length: 5, 6\r\n\r\nhello!",
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "content-length and transfer-encoding",
     .in = OK200 "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     .want = "S 200 OK\nH Content-Length: 5\nH Transfer-Encoding: chunked\n",
     .err = WISP_EPROTO},
    {.name = "transfer-encoding in HTTP/1.0",
     .in = "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     .want = "S 200 OK\nH Transfer-Encoding: chunked\n",
     .err = WISP_EPROTO},
    {.name = "transfer-encoding gzip alone",
     .in = OK200 "Transfer-Encoding: gzip\r\n\r\n",
     .want = "S 200 OK\nH Transfer-Encoding: gzip\n",
     .err = WISP_EPROTO},
    {.name = "transfer-encoding empty",
     .in = OK200 "Transfer-Encoding:\r\n\r\n",
     .want = "S 200 OK\nH Transfer-Encoding: \n",
     .err = WISP_EPROTO},
    {.name = "transfer-encoding chunked, gzip",
     .in = OK200 "Transfer-Encoding: chunked, gzip\r\n\r\n",
     .want = "S 200 OK\nH Transfer-Encoding: chunked, gzip\n",
     .err = WISP_EPROTO},
    {.name = "transfer-encoding chunked twice",
     .in = OK200 "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
     .want = "S 200 OK\nH Transfer-Encoding: chunked\nH Transfer-Encoding: chunked\n",
     .err = WISP_EPROTO},
    {.name = "transfer-encoding gzip, chunked",
     .in = OK200 "Transfer-Encoding: gzip, chunked\r\n\r\n",
     .want = "S 200 OK\nH Transfer-Encoding: gzip, chunked\n",
     .err = WISP_EUNSUPPORTED},
    {.name = "transfer-encoding gzip then chunked in two fields",
     .in = OK200 "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n",
     .want = "S 200 OK\nH Transfer-Encoding: gzip\nH Transfer-Encoding: chunked\n",
     .err = WISP_EUNSUPPORTED},
    {.name = "transfer-encoding xchunked",
     .in = OK200 "Transfer-Encoding: xchunked\r\n\r\n",
     .want = "S 200 OK\nH Transfer-Encoding: xchunked\n",
     .err = WISP_EPROTO},
};

/* ---- Chunk errors and limits ---------------------------------------------------------- */

#define TE "Transfer-Encoding: chunked\r\n\r\n"
#define TE_WANT "S 200 OK\nH Transfer-Encoding: chunked\nD\n"

static const h1t_case_t chunk_cases[] = {
    {.name = "chunk size not hex", .in = OK200 TE "zz\r\n", .want = TE_WANT, .err = WISP_EPROTO},
    {.name = "chunk size missing", .in = OK200 TE "\r\n", .want = TE_WANT, .err = WISP_EPROTO},
    {.name = "chunk size with junk",
     .in = OK200 TE "5x\r\nhello\r\n",
     .want = TE_WANT,
     .err = WISP_EPROTO},
    {.name = "chunk size with leading space",
     .in = OK200 TE " 5\r\nhello\r\n",
     .want = TE_WANT,
     .err = WISP_EPROTO},
    {.name = "chunk size negative",
     .in = OK200 TE "-5\r\nhello\r\n",
     .want = TE_WANT,
     .err = WISP_EPROTO},
    {.name = "chunk size 0x prefix",
     .in = OK200 TE "0x5\r\nhello\r\n",
     .want = TE_WANT,
     .err = WISP_EPROTO},
    {.name = "chunk size overflowing 64 bits",
     .in = OK200 TE "10000000000000000\r\n",
     .want = TE_WANT,
     .err = WISP_EPROTO},
    {.name = "largest chunk size, then cut",
     .in = OK200 TE "00ffffffffffffffff\r\nabc",
     .eof = 1,
     .want = TE_WANT "B abc\n",
     .err = WISP_EPROTO},
    {.name = "chunk data longer than its size",
     .in = OK200 TE "3\r\nabcd\r\n0\r\n\r\n",
     .want = TE_WANT "B abc\n",
     .err = WISP_EPROTO},
    {.name = "chunk data followed by CR then junk",
     .in = OK200 TE "3\r\nabc\rX",
     .want = TE_WANT "B abc\n",
     .err = WISP_EPROTO},
    {.name = "control character in a chunk extension",
     .in = OK200 TE "3;a=\x01\r\nabc\r\n",
     .want = TE_WANT,
     .err = WISP_EPROTO},
    {.name = "malformed trailer",
     .in = OK200 TE "0\r\nnot a field\r\n\r\n",
     .want = TE_WANT,
     .err = WISP_EPROTO},
    {.name = "folded trailer",
     .in = OK200 TE "0\r\nA: b\r\n c\r\n\r\n",
     .want = TE_WANT,
     .err = WISP_EPROTO},
    {.name = "trailers over the cap",
     .in = OK200 TE "0\r\nX-Long: 0123456789012345678901234567890123456789\r\n"
                    "X-Long: 0123456789012345678901234567890123456789\r\n\r\n",
     .max_head = 90,
     .want = TE_WANT,
     .err = WISP_ETOOBIG},
    {.name = "trailers just under the cap",
     .in = OK200 TE "0\r\nX-Long: 0123456789012345678901234567890123456789\r\n\r\n",
     .max_head = 90,
     .want = TE_WANT "C\n",
     .keepalive = 1},
};

/* ---- Head limits ------------------------------------------------------------------------ */

/* "HTTP/1.1 200 OK\r\n" (17) + "Content-Length: 0\r\n" (19) + "\r\n" (2) = 38 bytes. */
#define HEAD38 OK200 "Content-Length: 0\r\n\r\n"

static const h1t_case_t limit_cases[] = {
    {.name = "head exactly at the cap",
     .in = HEAD38,
     .max_head = 38,
     .want = "S 200 OK\nH Content-Length: 0\nD\nC\n",
     .keepalive = 1},
    {.name = "head one byte over the cap",
     .in = HEAD38,
     .max_head = 37,
     .want = "S 200 OK\nH Content-Length: 0\n",
     .err = WISP_ETOOBIG},
    {.name = "status line alone over the cap",
     .in = HEAD38,
     .max_head = 10,
     .want = "",
     .err = WISP_ETOOBIG},
    {.name = "never-ending field over the cap",
     .in = OK200 "X-A: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
     .max_head = 64,
     .want = "S 200 OK\n",
     .err = WISP_ETOOBIG},
    {.name = "empty lines before the status line count",
     .in = "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n",
     .max_head = 32,
     .want = "",
     .err = WISP_ETOOBIG},
    {.name = "each interim head has its own cap",
     .in = "HTTP/1.1 100 Continue\r\n\r\n" HEAD38,
     .max_head = 38,
     .want = "S 200 OK\nH Content-Length: 0\nD\nC\n",
     .keepalive = 1},
    {.name = "an interim head over the cap",
     .in = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n" HEAD38,
     .max_head = 38,
     .want = "",
     .err = WISP_ETOOBIG},
};

/* ---- EOF ------------------------------------------------------------------------------------ */

static const h1t_case_t eof_cases[] = {
    {.name = "eof before any byte", .in = "", .eof = 1, .want = "", .err = WISP_ECLOSED},
    {.name = "eof in the status line",
     .in = "HTTP/1.1 2",
     .eof = 1,
     .want = "",
     .err = WISP_EPROTO},
    {.name = "eof in the head",
     .in = OK200 "Content-Len",
     .eof = 1,
     .want = "S 200 OK\n",
     .err = WISP_EPROTO},
    {.name = "eof after empty lines only", .in = "\r\n", .eof = 1, .want = "", .err = WISP_EPROTO},
    {.name = "eof in a length body",
     .in = OK200 "Content-Length: 10\r\n\r\nshort",
     .eof = 1,
     .want = "S 200 OK\nH Content-Length: 10\nD\nB short\n",
     .err = WISP_EPROTO},
    {.name = "eof in chunk data",
     .in = OK200 TE "a\r\nshort",
     .eof = 1,
     .want = TE_WANT "B short\n",
     .err = WISP_EPROTO},
    {.name = "eof in a chunk size line",
     .in = OK200 TE "a",
     .eof = 1,
     .want = TE_WANT,
     .err = WISP_EPROTO},
    {.name = "eof before the last chunk",
     .in = OK200 TE "1\r\nx\r\n",
     .eof = 1,
     .want = TE_WANT "B x\n",
     .err = WISP_EPROTO},
    {.name = "eof in the trailers",
     .in = OK200 TE "0\r\n",
     .eof = 1,
     .want = TE_WANT,
     .err = WISP_EPROTO},
    {.name = "eof after a complete response",
     .in = OK200 "Content-Length: 1\r\n\r\nx",
     .eof = 1,
     .want = "S 200 OK\nH Content-Length: 1\nD\nB x\nC\n",
     .keepalive = 1},
};

static void test_framing(void **state)
{
    (void)state;
    h1t_check_table(H1T_RESP, framing_cases, N(framing_cases));
}

static void test_no_body_and_interim(void **state)
{
    (void)state;
    h1t_check_table(H1T_RESP, nobody_cases, N(nobody_cases));
}

static void test_syntax(void **state)
{
    (void)state;
    h1t_check_table(H1T_RESP, syntax_cases, N(syntax_cases));
}

static void test_framing_errors(void **state)
{
    (void)state;
    h1t_check_table(H1T_RESP, framing_error_cases, N(framing_error_cases));
}

static void test_chunks(void **state)
{
    (void)state;
    h1t_check_table(H1T_RESP, chunk_cases, N(chunk_cases));
}

static void test_limits(void **state)
{
    (void)state;
    h1t_check_table(H1T_RESP, limit_cases, N(limit_cases));
}

static void test_eof(void **state)
{
    (void)state;
    h1t_check_table(H1T_RESP, eof_cases, N(eof_cases));
}

/* A line longer than WISP_H1_LINE_MAX fails even with a generous head cap; one that
 * fits exactly (CR included) passes. */
static void test_line_max(void **state)
{
    static char in[WISP_H1_LINE_MAX + 128], want[WISP_H1_LINE_MAX + 128];
    h1t_case_t c = {.name = "long line", .in = in, .max_head = 4 * WISP_H1_LINE_MAX};
    size_t vlen = WISP_H1_LINE_MAX - 6; /* "X-A: " + value + CR = LINE_MAX */

    (void)state;
    snprintf(in, sizeof(in), OK200 "X-A: %0*d\r\nContent-Length: 0\r\n\r\n", (int)vlen, 7);
    snprintf(want, sizeof(want), "S 200 OK\nH X-A: %0*d\nH Content-Length: 0\nD\nC\n", (int)vlen,
             7);
    c.want = want;
    c.keepalive = 1;
    h1t_check(H1T_RESP, &c);

    snprintf(in, sizeof(in), OK200 "X-A: %0*d\r\nContent-Length: 0\r\n\r\n", (int)vlen + 1, 7);
    c.want = "S 200 OK\n";
    c.keepalive = 0;
    c.err = WISP_ETOOBIG;
    h1t_check(H1T_RESP, &c);

    /* Chunk-size lines are bounded by the line buffer too. */
    snprintf(in, sizeof(in), OK200 TE "1;%0*d\r\n", WISP_H1_LINE_MAX, 0);
    c.want = TE_WANT;
    h1t_check(H1T_RESP, &c);
}

static wisp__h1_resp_cfg_t rec_cfg(h1t_rec_t *rec)
{
    wisp__h1_resp_cfg_t cfg = {&h1t_cbs, rec, 0, 0};

    return cfg;
}

/* Every byte value at every offset of a 20-byte value (the parser checks a word at a
 * time, 4 or 8 bytes: each position in a word, and the tail past the last whole
 * word): controls but TAB fail the head with WISP_EPROTO, everything else passes. */
static void test_control_bytes_everywhere(void **state)
{
    char in[128];
    wisp__h1_resp_t r;
    h1t_rec_t rec;
    wisp__h1_resp_cfg_t cfg;
    size_t used, len, pos;
    unsigned c;
    int bad;

    (void)state;
    for (c = 0; c < 256; c++) {
        bad = (c < 0x20 && c != '\t' && c != '\n') || c == 0x7f;
        for (pos = 0; pos < 20; pos++) {
            if (c == '\n' || ((c == ' ' || c == '\t') && (pos == 0 || pos == 19)))
                continue; /* a line end, or OWS the value loses: not this test's */
            len = (size_t)snprintf(in, sizeof(in), "%s", OK200 "X-A: ");
            memset(in + len, 'v', 20);
            in[len + pos] = (char)c;
            len += 20;
            len += (size_t)snprintf(in + len, sizeof(in) - len, "\r\nContent-Length: 0\r\n\r\n");
            h1t_rec_init(&rec);
            cfg = rec_cfg(&rec);
            wisp__h1_resp_init(&r, &cfg);
            if (wisp__h1_resp_feed(&r, (const uint8_t *)in, len, &used) != (bad ? WISP_EPROTO : 0))
                fail_msg("byte 0x%02x at %u: %s", c, (unsigned)pos, bad ? "passed" : "failed");
            if (!bad && !wisp__h1_resp_is_done(&r))
                fail_msg("byte 0x%02x at %u: response not done", c, (unsigned)pos);
        }
    }
}

/* After completion the parser takes nothing until init; init resets it fully. */
static void test_done_then_reinit(void **state)
{
    static const char a[] = OK200 "Content-Length: 1\r\n\r\nA";
    static const char b[] = "HTTP/1.0 404 Nope\r\n\r\nB";
    wisp__h1_resp_t r;
    h1t_rec_t rec;
    wisp__h1_resp_cfg_t cfg;
    size_t used = 99;

    (void)state;
    h1t_rec_init(&rec);
    cfg = rec_cfg(&rec);
    wisp__h1_resp_init(&r, &cfg);
    assert_int_equal(wisp__h1_resp_status(&r), 0);
    assert_int_equal(wisp__h1_resp_feed(&r, (const uint8_t *)a, strlen(a), &used), 0);
    assert_int_equal(used, strlen(a));
    assert_true(wisp__h1_resp_is_done(&r));
    assert_int_equal(wisp__h1_resp_status(&r), 200);
    assert_int_equal(wisp__h1_resp_feed(&r, (const uint8_t *)b, 1, &used), WISP_ESTATE);
    assert_int_equal(used, 0);
    assert_int_equal(wisp__h1_resp_eof(&r), 0);

    wisp__h1_resp_init(&r, &cfg);
    rec.done = 0;
    assert_int_equal(wisp__h1_resp_status(&r), 0);
    assert_false(wisp__h1_resp_is_done(&r));
    assert_int_equal(wisp__h1_resp_feed(&r, (const uint8_t *)b, strlen(b), &used), 0);
    assert_false(wisp__h1_resp_keepalive(&r));
    assert_int_equal(wisp__h1_resp_eof(&r), 0);
    assert_true(wisp__h1_resp_is_done(&r));
    assert_int_equal(wisp__h1_resp_status(&r), 404);
    assert_false(wisp__h1_resp_keepalive(&r));
    assert_string_equal(rec.log, "S 200 OK\nH Content-Length: 1\nD\nB A\nC\n"
                                 "S 404 Nope\nD\nB B\nC\n");
}

/* A callback's error stops the parser, sticks, and a positive return is ECANCELED. */
static void test_callback_stops(void **state)
{
    static const char in[] = OK200 "X-A: 1\r\nX-B: 2\r\nContent-Length: 3\r\n\r\nabc";
    static const struct {
        char on;
        int ret, want;
        const char *log;
    } t[] = {
        {'S', WISP_ENOMEM, WISP_ENOMEM, "S 200 OK\n"},
        {'H', WISP_ECANCELED, WISP_ECANCELED, "S 200 OK\nH X-A: 1\n"},
        {'D', 7, WISP_ECANCELED, "S 200 OK\nH X-A: 1\nH X-B: 2\nH Content-Length: 3\nD\n"},
        {'B', -1000, -1000, "S 200 OK\nH X-A: 1\nH X-B: 2\nH Content-Length: 3\nD\nB abc"},
        {'C', WISP_EINTERNAL, WISP_EINTERNAL,
         "S 200 OK\nH X-A: 1\nH X-B: 2\nH Content-Length: 3\nD\nB abc\nC\n"},
    };
    size_t i;

    (void)state;
    for (i = 0; i < N(t); i++) {
        wisp__h1_resp_t r;
        h1t_rec_t rec;
        wisp__h1_resp_cfg_t cfg;

        h1t_rec_init(&rec);
        rec.stop_on = t[i].on;
        rec.stop_ret = t[i].ret;
        cfg = rec_cfg(&rec);
        wisp__h1_resp_init(&r, &cfg);
        assert_int_equal(wisp__h1_resp_feed(&r, (const uint8_t *)in, strlen(in), NULL), t[i].want);
        assert_string_equal(rec.log, t[i].log);
        assert_int_equal(wisp__h1_resp_feed(&r, (const uint8_t *)"x", 1, NULL), t[i].want);
        assert_int_equal(wisp__h1_resp_eof(&r), t[i].want);
        assert_false(wisp__h1_resp_keepalive(&r));
        assert_false(wisp__h1_resp_is_done(&r));
    }
}

/* on_complete failing at EOF of a close-delimited body. */
static void test_callback_stops_at_eof(void **state)
{
    static const char in[] = OK200 "\r\nbody";
    wisp__h1_resp_t r;
    h1t_rec_t rec;
    wisp__h1_resp_cfg_t cfg;

    (void)state;
    h1t_rec_init(&rec);
    rec.stop_on = 'C';
    rec.stop_ret = WISP_ECANCELED;
    cfg = rec_cfg(&rec);
    wisp__h1_resp_init(&r, &cfg);
    assert_int_equal(wisp__h1_resp_feed(&r, (const uint8_t *)in, strlen(in), NULL), 0);
    assert_int_equal(wisp__h1_resp_eof(&r), WISP_ECANCELED);
    assert_int_equal(wisp__h1_resp_eof(&r), WISP_ECANCELED);
    assert_int_equal(wisp__h1_resp_feed(&r, (const uint8_t *)"x", 1, NULL), WISP_ECANCELED);
}

static void test_bad_arguments_and_no_callbacks(void **state)
{
    static const char in[] = OK200 "Transfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n";
    wisp__h1_resp_cfg_t cfg = {NULL, NULL, 0, 0};
    wisp__h1_resp_t r;
    size_t used = 5;

    (void)state;
    assert_int_equal(wisp__h1_resp_feed(NULL, (const uint8_t *)"x", 1, &used), WISP_EINVAL);
    assert_int_equal(used, 0);
    assert_int_equal(wisp__h1_resp_eof(NULL), WISP_EINVAL);
    wisp__h1_resp_init(&r, &cfg);
    assert_int_equal(wisp__h1_resp_feed(&r, NULL, 1, NULL), WISP_EINVAL);
    assert_int_equal(wisp__h1_resp_feed(&r, NULL, 0, &used), 0);
    assert_int_equal(used, 0);
    /* NULL callback table: parses, reports nothing. */
    assert_int_equal(wisp__h1_resp_feed(&r, (const uint8_t *)in, strlen(in), &used), 0);
    assert_int_equal(used, strlen(in));
    assert_true(wisp__h1_resp_is_done(&r));
    assert_true(wisp__h1_resp_keepalive(&r));
}

static void test_helpers(void **state)
{
    (void)state;
    assert_true(wisp__h1_name_eq("Content-LENGTH", 14, "content-length"));
    assert_false(wisp__h1_name_eq("Content-Length", 13, "content-length"));
    assert_false(wisp__h1_name_eq("Content-Lengths", 15, "content-length"));
    assert_true(wisp__h1_name_eq("", 0, ""));
    assert_true(wisp__h1_list_has("a, Close ,b", 11, "close"));
    assert_true(wisp__h1_list_has("close", 5, "close"));
    assert_false(wisp__h1_list_has("closed, x", 9, "close"));
    assert_false(wisp__h1_list_has("", 0, "close"));
    assert_true(wisp__h1_list_has(",,", 2, ""));
    assert_true(wisp__is_tchar('~'));
    assert_true(wisp__is_tchar('Z'));
    assert_false(wisp__is_tchar(0));
    assert_false(wisp__is_tchar(':'));
    assert_false(wisp__is_tchar(' '));
    assert_false(wisp__is_tchar(0xe9));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_framing),
        cmocka_unit_test(test_no_body_and_interim),
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_framing_errors),
        cmocka_unit_test(test_chunks),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_eof),
        cmocka_unit_test(test_line_max),
        cmocka_unit_test(test_control_bytes_everywhere),
        cmocka_unit_test(test_done_then_reinit),
        cmocka_unit_test(test_callback_stops),
        cmocka_unit_test(test_callback_stops_at_eof),
        cmocka_unit_test(test_bad_arguments_and_no_callbacks),
        cmocka_unit_test(test_helpers),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
