/*
 * Table-driven harness for the HTTP/1.1 parsers (tests/unit/test_http1_*.c).
 *
 * A case is raw input plus what must come of it: the transcript of callbacks, the
 * final result, keep-alive, and how many bytes were left over after the message.
 * h1t_check() feeds the input whole, byte by byte, in two halves and in many random
 * splits with fixed seeds, and fails the test unless every split gives exactly the
 * expected outcome.
 *
 * Transcript lines:  "S <code> <reason>"   on_status
 *                    "R <method> <target>"  on_request
 *                    "H <name>: <value>"    on_header
 *                    "D"                    on_headers_done
 *                    "B <bytes>"            on_body (consecutive calls merged)
 *                    "C"                    on_complete
 * Broken callback contracts (strings not NUL-terminated, an empty body call, a call
 * after on_complete) show up in the transcript as "!" lines.
 */
#ifndef WISP_TEST_H1_TABLE_H
#define WISP_TEST_H1_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "http1/http1-internal.h"

enum { H1T_RESP, H1T_REQ };

/* Extra state checked for requests (bits of h1t_case_t.req_bits). */
enum { H1T_HTTP11 = 1, H1T_EXPECT = 2, H1T_IN_BODY = 4 };

typedef struct h1t_case {
    const char *name;
    const char *in;
    size_t in_len;     /* 0: strlen(in) */
    int eof;           /* signal EOF after the last byte */
    int head;          /* response to a HEAD request */
    uint32_t max_head; /* 0: default */
    uint64_t max_body; /* requests; 0: none */
    const char *want;  /* expected transcript */
    int err;           /* expected result of the feeds and the eof */
    int keepalive;
    size_t leftover; /* bytes not consumed after the message completed */
    int req_bits;    /* requests: expected H1T_* bits */
} h1t_case_t;

/* The callback recorder, usable on its own. */
typedef struct h1t_rec {
    char log[16384];
    size_t len;
    int in_body;
    int done;
    char stop_on; /* event letter whose callback returns stop_ret */
    int stop_ret;
} h1t_rec_t;

extern const wisp__h1_cbs_t h1t_cbs;
void h1t_rec_init(h1t_rec_t *r);

enum { H1T_WHOLE, H1T_BYTES, H1T_HALVES, H1T_RANDOM };

typedef struct h1t_result {
    h1t_rec_t rec;
    int err;
    int keepalive;
    size_t leftover;
    int req_bits;
} h1t_result_t;

/* Run one case with one split (seed is used by H1T_RANDOM). */
void h1t_run(int kind, const h1t_case_t *c, int split, unsigned seed, h1t_result_t *res);

/* Run one case under every split and assert the expected outcome each time. */
void h1t_check(int kind, const h1t_case_t *c);

/* Run a whole table. */
void h1t_check_table(int kind, const h1t_case_t *cases, size_t n);

#endif
