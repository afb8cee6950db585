/*
 * A fake network for deterministic tests: a wisp_plat_ops_t whose sockets talk to a
 * scripted in-process HTTP/1.1 server, on a virtual clock.
 *
 * No threads, no real sockets, no wall time: poll() moves the virtual clock forward
 * to the next thing that can happen (a timer of wisp's, clipped by poll's timeout,
 * or a scheduled server action), so a test of a 30 s timeout runs in microseconds
 * and every run of a seed takes exactly the same path.
 *
 * The server side sees whole requests (head parsed for Content-Length or chunked,
 * body collected; pipelined requests one by one, each with how many bytes were
 * already waiting behind it) and answers through fake_*() calls on the connection: send bytes,
 * answer with a canned response, close (FIN after what was sent), reset (RST: what
 * was not yet read is lost), or do any of these later on the virtual clock.
 */
#ifndef WISP_TEST_FAKENET_H
#define WISP_TEST_FAKENET_H

#include <stddef.h>
#include <stdint.h>

#include "wisp/plat.h"

typedef struct fakenet fakenet_t;
typedef struct fake_conn fake_conn_t;

/* What the server does with a new connection. */
enum { FN_ACCEPT, FN_REFUSE, FN_HANG };

typedef struct fn_req {
    unsigned conn_index;   /* which accepted connection (0 first) */
    unsigned index;        /* request number on this connection (0 first) */
    unsigned global_index; /* request number over the whole net (0 first) */
    char method[16];
    char path[256];
    size_t body_len; /* bytes of body received (decoded when chunked) */
    int chunked;
    /* Bytes the client had already sent behind this request when the server took it:
     * > 0 means the next request was written before this one was answered (it was
     * pipelined behind it). */
    size_t behind;
} fn_req_t;

typedef struct fakenet_server {
    /* NULL: accept everything. */
    int (*on_accept)(void *user, fake_conn_t *c, unsigned conn_index);
    /* NULL: answer 200 with "hello". */
    void (*on_request)(void *user, fake_conn_t *c, const fn_req_t *req);
    void *user;
} fakenet_server_t;

fakenet_t *fakenet_new(const fakenet_server_t *server, uint32_t seed);
void fakenet_free(fakenet_t *fn);
const wisp_plat_ops_t *fakenet_ops(fakenet_t *fn);

uint64_t fakenet_now(const fakenet_t *fn);
/* Sockets still open on the client side (wisp's), and counters. */
unsigned fakenet_open(const fakenet_t *fn);
unsigned fakenet_accepted(const fakenet_t *fn);
unsigned fakenet_requests(const fakenet_t *fn);
/* Calls of sock_send and sock_recv wisp made, and the recv calls that returned
 * WISP_EAGAIN (a read that found nothing: the syscalls worth saving). */
unsigned fakenet_send_calls(const fakenet_t *fn);
unsigned fakenet_recv_calls(const fakenet_t *fn);
unsigned fakenet_recv_eagain(const fakenet_t *fn);
/* Name lookups finish at the next poll; names listed here fail (WISP_EDNS). */
void fakenet_dns_fail(fakenet_t *fn, const char *name);
/* Lookups started and not yet answered. */
unsigned fakenet_dns_pending(const fakenet_t *fn);

/* Server actions on a connection. */
void fake_send(fake_conn_t *c, const void *buf, size_t len);
void fake_send_str(fake_conn_t *c, const char *s);
/* "HTTP/1.1 <status> X\r\nContent-Length: <len>\r\n<extra>\r\n<body>"; extra may be
 * NULL or hold more header lines, each ending in \r\n. */
void fake_respond(fake_conn_t *c, int status, const char *extra, const char *body);
void fake_close(fake_conn_t *c);
void fake_reset(fake_conn_t *c);
/* Run fn(c, arg) ms from now on the virtual clock (c stays valid until then). */
void fake_later(fake_conn_t *c, uint32_t ms, void (*cb)(fake_conn_t *c, void *arg), void *arg);
/* The connection's index and its owner net. */
unsigned fake_conn_index(const fake_conn_t *c);

#endif /* WISP_TEST_FAKENET_H */
