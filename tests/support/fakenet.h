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
 *
 * The other way round, for wisp's servers: tcp_listen() opens a fake listening
 * socket (port 0 picks one from 20000 up) and fakenet_dial() plays a client that
 * connects to it. The accepted connection is the same fake_conn_t, driven by the
 * same calls, now as the client's: fake_send() is what the client sends (wisp reads
 * it), fake_close() its FIN (a half-close: wisp reads EOF and may still answer),
 * fake_reset() its RST, and fake_send_later() / fake_close_later() /
 * fake_reset_later() script them with pauses on the virtual clock. What wisp wrote
 * is captured whole (fake_written()); fake_wisp_closed() tells whether wisp closed
 * its end. No request parsing and no script callbacks run on such a connection.
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

/* ---- A scripted client for wisp's servers ---- */

/* Connect to a fake listener of wisp's on port; NULL when nothing listens there
 * (the listener gets readable; wisp accepts at its next poll). Owned by the net. */
fake_conn_t *fakenet_dial(fakenet_t *fn, uint16_t port);
/* Listening sockets wisp holds open, and the connections it accepted. */
unsigned fakenet_listening(const fakenet_t *fn);
unsigned fakenet_server_accepted(const fakenet_t *fn);
/* The same actions as fake_send / fake_close / fake_reset, ms from now on the
 * virtual clock (the bytes are copied). Events due at the same time run in the
 * order they were scheduled. */
void fake_send_later(fake_conn_t *c, uint32_t ms, const void *buf, size_t len);
void fake_close_later(fake_conn_t *c, uint32_t ms);
void fake_reset_later(fake_conn_t *c, uint32_t ms);
/* A client that stops reading (on) or reads again (off): while stalled, wisp's
 * sends find no room (WISP_EAGAIN, no POLLOUT) and its bytes wait in its buffer. */
void fake_stall(fake_conn_t *c, int on);
/* Everything wisp wrote on the connection so far (not NUL-terminated). */
const uint8_t *fake_written(const fake_conn_t *c, size_t *len);
/* Bytes sent to wisp that it has not read yet. */
size_t fake_unread(const fake_conn_t *c);
/* 1 once wisp closed its end of the connection. */
int fake_wisp_closed(const fake_conn_t *c);

#endif /* WISP_TEST_FAKENET_H */
