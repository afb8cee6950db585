/*
 * HTTP/1.1 server: listeners and accepted connections (SPEC §2, §6, §10).
 *
 * A listener belongs to one server stream type. It holds the listening socket, its
 * own vhost reference (TLS: the one ssl_config, session cache and ticket key every
 * connection shares) and the list of its connections; each connection holds one
 * vhost reference too, so closing the listener never pulls a context from under a
 * connection (the field lesson of SPEC §2). The listener object itself lives until
 * its last connection is gone. The context's listeners form one list whose head
 * sits in context slot WISP_SLOT_H1_SERVER.
 *
 * An accepted connection, one state enum changed only by to():
 *
 *   HANDSHAKE ──> WAITING ──request line──> EXCHANGE ──answer out, request read──┐
 *   [handshake     [idle_timeout_ms:        [idle_timeout_ms while the body    │
 *    timeout]       between requests and     is read; none while the app       │
 *                   for the whole head]      prepares its answer]              │
 *                      ▲          keep-alive                                    │
 *                      └────────────────────────────────────────────────────────┤
 *                                                    no keep-alive or an error  ▼
 *   DOWN <── the last bytes have left ─────────────────────────────────── CLOSING
 *   (freed by the deferred reap)      [timer: CLOSE_LINGER_MS at most]
 *
 * Inside EXCHANGE the request has two halves that run at once: `in_done` (the
 * request has been read whole) and `phase` (where the answer is: not asked, asked,
 * the body going out, all out). The exchange ends when both are done. Requests on
 * one connection are served one after the other, so answers go out in request
 * order however the client pipelines: bytes of the next request wait in `in[]`,
 * and no more are read from the socket until the current exchange ends.
 *
 * ---- Calls out to the request's owner (the application, in the end) ----
 * Every op can do anything: cancel its own or another request (which closes that
 * connection at once), close the listener, destroy the context (deferred by core).
 *  1. A request leaves the connection (r->conn = NULL, c->req = NULL) before
 *     on_done / on_failed, so a cancel from inside is a no-op.
 *  2. After any call out — the parser's callbacks included, which run the app's
 *     rx — the caller re-reads c->state and c->req; a closed connection is DOWN and
 *     every loop here stops on it.
 *  3. A connection is freed only by its deferred reap (never inside a call out) and
 *     by context teardown; a listener only when it is closed and has no connection.
 *
 * The one close path is wisp__h1_link_close() (unregister, free the TLS session,
 * close the fd); conn_close() is the only caller here, and it is idempotent.
 */
#include <string.h>

#include "http1/http1-internal.h"
#include "vhost/vhost-internal.h"

#define IN_BUF 2048          /* request bytes read ahead (a pipelined next request waits here) */
#define OUT_BUF 2048         /* the response head, or one body piece with its framing */
#define ACCEPT_BATCH 32      /* accepts per readiness event: fairness to served connections */
#define CLOSE_LINGER_MS 2000 /* longest wait for the last bytes of a closing connection */
#define LISTEN_BACKLOG 64

enum sconn_state { SC_HANDSHAKE, SC_WAITING, SC_EXCHANGE, SC_CLOSING, SC_DOWN };
#if WISP_LOG_LEVEL >= 4 /* named in debug lines only */
static const char *const state_names[] = {"handshake", "waiting", "exchange", "closing", "down"};
#endif

/* Where the answer of the current request is. */
enum out_phase { OUT_NONE, OUT_ASKED, OUT_BODY, OUT_DONE };

struct wisp__h1_srv {
    wisp__h1_srv_t *next;
    wisp_context_t *cx;
    wisp__sock_t sock; /* listening; fd -1 once closed */
    wisp__vhost_t *vhost;
    wisp__h1_srv_cfg_t cfg; /* name and bind point into the policy, which outlives us */
    wisp__h1_sconn_t *conns;
    uint32_t nconns;     /* in the list (a closed one stays until its reap) */
    uint32_t nheld;      /* not closed: what max_connections counts */
    wisp__timer_t admit; /* paused: when the next connection may be evicted */
    uint16_t port;
    uint8_t closed; /* the owner let go: free with the last connection */
    uint8_t paused; /* at max_connections: not accepting, new clients wait in the backlog */
};

struct wisp__h1_sconn {
    wisp__h1_sconn_t *next, *prev;
    wisp__h1_srv_t *srv;
    wisp_context_t *cx;
    wisp__h1_link_t link;
    wisp__vhost_t *vhost;
    wisp__h1_sreq_t *req; /* the request being served */
    uint8_t state;        /* enum sconn_state, changed only by to() */
    uint8_t phase;        /* enum out_phase */
    uint8_t in_done;      /* the current request has been read whole */
    uint8_t keep;         /* another request may follow this one */
    uint8_t chunked;      /* the answer's body is chunked */
    uint8_t body_eom;     /* the last body piece is in out[] */
    uint8_t close_after;  /* the answer said Connection: close (or is unframed) */
    uint8_t heard;        /* the current request's head is complete: the app has it */
    uint8_t rx_dry;       /* last read short, nothing held: no read until poll says so */
    uint32_t served;      /* exchanges completed on this connection */
    uint64_t since;       /* when the handshake or the wait for a head began */
    int64_t body_left;    /* Content-Length still to come from the app; -1 unframed */
    wisp__timer_t timer;
    wisp__defer_t step, reap;
    wisp__h1_req_t parser;
    size_t in_off, in_len, out_off, out_len;
    uint8_t in[IN_BUF];
    uint8_t out[OUT_BUF];
};

static void pump(wisp__h1_sconn_t *c);
static void listen_resume(wisp__h1_srv_t *l);
static uint32_t grace_ms(const wisp__h1_sconn_t *c);

static wisp__h1_srv_t **listeners(wisp_context_t *cx)
{
    return (wisp__h1_srv_t **)wisp__slot_ptr(cx, WISP_SLOT_H1_SERVER);
}

static void to(wisp__h1_sconn_t *c, enum sconn_state st)
{
    uint32_t ms = 0;

    WISP_LOGD(c->cx, "server '%s' conn %p: %s -> %s", c->srv->cfg.name, (void *)c,
              state_names[c->state], state_names[st]);
    c->state = (uint8_t)st;
    switch (st) {
    case SC_HANDSHAKE:
        ms = c->srv->cfg.handshake_timeout_ms;
        c->since = wisp_now_ms(c->cx);
        break;
    case SC_WAITING:
        ms = c->srv->cfg.idle_timeout_ms;
        c->since = wisp_now_ms(c->cx);
        /* Paused with nothing to evict when it stopped (every request heard): this
         * one may be evicted in a quarter of its deadline; look again then. */
        if (c->srv->paused && !c->srv->admit.armed)
            wisp__timer_start(c->cx, &c->srv->admit, grace_ms(c));
        break;
    case SC_EXCHANGE:
        return; /* the head goes on under WAITING's deadline (no slowloris reprieve) */
    case SC_CLOSING:
        ms = CLOSE_LINGER_MS;
        break;
    default:
        break;
    }
    if (ms)
        wisp__timer_start(c->cx, &c->timer, ms);
    else
        wisp__timer_stop(c->cx, &c->timer);
}

/* ---- Lifetimes ---- */

static void srv_free(wisp__h1_srv_t *l)
{
    wisp__h1_srv_t **pp;

    for (pp = listeners(l->cx); *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    }
    wisp__sock_close(&l->sock);
    wisp__timer_stop(l->cx, &l->admit);
    wisp__vhost_unref(&l->vhost);
    wisp__free(l->cx, l);
}

static void conn_free(wisp__h1_sconn_t *c)
{
    wisp__h1_srv_t *l = c->srv;

    wisp__h1_link_close(&c->link);
    wisp__timer_stop(c->cx, &c->timer);
    wisp__defer_cancel(c->cx, &c->step);
    wisp__defer_cancel(c->cx, &c->reap);
    if (c->prev)
        c->prev->next = c->next;
    else
        l->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    l->nconns--;
    wisp__vhost_unref(&c->vhost);
    wisp__free(c->cx, c);
    if (l->closed && !l->nconns)
        srv_free(l);
}

static void reap(wisp__defer_t *d)
{
    conn_free((wisp__h1_sconn_t *)((char *)d - offsetof(wisp__h1_sconn_t, reap)));
}

/* The one close of a connection: the link goes now (events already fetched for it
 * are dropped), the object at the end of the iteration. Idempotent. */
static void conn_close(wisp__h1_sconn_t *c)
{
    wisp__h1_srv_t *l = c->srv;

    if (c->state == SC_DOWN)
        return;
    wisp__h1_link_close(&c->link);
    to(c, SC_DOWN);
    wisp__defer(c->cx, &c->reap);
    if (l->nheld-- == l->cfg.max_connections && l->paused)
        listen_resume(l); /* a slot is free: the backlog's first client takes it */
}

/* ---- Calls out (rule 1: detach first) ---- */

static void out_failed(wisp__h1_sconn_t *c, int err)
{
    wisp__h1_sreq_t *r = c->req;

    if (!r)
        return;
    c->req = NULL;
    r->conn = NULL;
    c->srv->cfg.ops->on_failed(r, err);
}

static void out_done(wisp__h1_sconn_t *c)
{
    wisp__h1_sreq_t *r = c->req;

    c->req = NULL;
    r->conn = NULL;
    c->srv->cfg.ops->on_done(r);
}

/* ---- Closing ---- */

/* Unread request bytes at close() make the kernel send a reset, which can destroy
 * the answer before the client has read it (a 413 sent while the body still
 * arrives). So the input is read away once the answer has left, then we close. */
static void close_drained(wisp__h1_sconn_t *c)
{
    /* in[] holds nothing that matters any more: it takes what is read away. */
    while (wisp__h1_link_read(&c->link, c->in, sizeof(c->in)) > 0)
        ;
    conn_close(c);
}

/* The last bytes are queued: close once they have left (CLOSE_LINGER_MS at most). */
static void closing(wisp__h1_sconn_t *c)
{
    to(c, SC_CLOSING);
    wisp__sock_want_read(&c->link.sock, 0);
    wisp__h1_link_goodbye(&c->link);
    if (wisp__sock_want_drain(&c->link.sock) != WISP_EAGAIN)
        close_drained(c);
}

/* An error the connection answers itself (SPEC §10): the request, if any, fails
 * first; then a short answer with Connection: close, unless an answer already began
 * (then only the close is left) or the error has no status (the peer went away, a
 * timeout with the answer asked: the close waits for earlier answers to leave). */
static void fail_request(wisp__h1_sconn_t *c, int status, int err)
{
    wisp__h1_out_t w;
    size_t len = 0;
    int begun = c->phase >= OUT_BODY;

    WISP_LOGI(c->cx, "server '%s': request refused (%d): %s", c->srv->cfg.name, status,
              wisp_strerror(err));
    out_failed(c, err);
    if (c->state == SC_DOWN)
        return;
    if (begun) {
        conn_close(c);
        return;
    }
    if (!status) {
        /* Nothing of this request's answer is out; what the socket still holds
         * is the whole answer to the one before (pipelined): let it leave. */
        closing(c);
        return;
    }
    wisp__h1_out_init(&w, c->out, sizeof(c->out));
    (void)wisp__h1_out_status_line(&w, status, NULL);
    (void)wisp__h1_out_content_length(&w, 0);
    (void)wisp__h1_out_close(&w);
    if (wisp__h1_out_end(&w, &len) || wisp__h1_link_write(&c->link, c->out, len) != (int)len) {
        conn_close(c);
        return;
    }
    c->phase = OUT_DONE;
    c->out_off = c->out_len = 0;
    closing(c);
}

static int status_of(const wisp__h1_sconn_t *c, int err)
{
    switch (err) {
    case WISP_EPROTO:
        return 400;
    case WISP_ETOOBIG:
        return wisp__h1_req_in_body(&c->parser) ? 413 : 431;
    case WISP_EUNSUPPORTED:
        return 501;
    case WISP_ENOMEM:
        return 503;
    default:
        return 0; /* the peer went away, or the app's own error: just close */
    }
}

/* A failure of the connection as a whole (transport, timeout, or a request the
 * parser refused). */
static void conn_error(wisp__h1_sconn_t *c, int err)
{
    if (c->state == SC_DOWN)
        return;
    if (c->state == SC_CLOSING || c->state == SC_HANDSHAKE) {
        WISP_LOGD(c->cx, "server '%s': connection %s: %s", c->srv->cfg.name, state_names[c->state],
                  wisp_strerror(err));
        conn_close(c);
        return;
    }
    fail_request(c, status_of(c, err), err);
}

/* ---- Request parser glue (calls out, rule 2) ---- */

static int known_method(const char *m)
{
    static const char *const methods[] = {"GET",   "HEAD",   "POST",   "PUT",
                                          "PATCH", "DELETE", "OPTIONS"};
    size_t i;

    for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
        if (!strcmp(m, methods[i]))
            return 1;
    return 0;
}

/* RFC 9112 3.2: origin-form starts with "/"; the asterisk-form is OPTIONS's; a
 * server MUST accept the absolute-form (scheme "://" ...). Anything else ("?q",
 * "hello") is no request target: 400. */
static int target_ok(const char *method, const char *t, size_t len)
{
    size_t i = 0;

    if (t[0] == '/')
        return 1;
    if (len == 1 && t[0] == '*')
        return !strcmp(method, "OPTIONS");
    while (i < len && ((t[i] | 0x20) >= 'a' && (t[i] | 0x20) <= 'z'))
        i++;
    return i > 0 && len - i > 3 && !memcmp(t + i, "://", 3);
}

static int p_request(void *u, const char *method, size_t mlen, const char *target, size_t tlen)
{
    wisp__h1_sconn_t *c = u;
    wisp__h1_sreq_t *r;

    (void)mlen;
    if (!known_method(method))
        return WISP_EUNSUPPORTED; /* 501 */
    if (!target_ok(method, target, tlen))
        return WISP_EPROTO; /* 400 */
    to(c, SC_EXCHANGE);
    c->phase = OUT_NONE;
    c->in_done = 0;
    c->close_after = 0;
    r = c->srv->cfg.ops->on_request(c->srv->cfg.user, method, target, tlen);
    if (c->state == SC_DOWN)
        return WISP_ECANCELED;
    if (!r)
        return WISP_ENOMEM; /* 503 */
    r->conn = c;
    r->head_request = !strcmp(method, "HEAD");
    c->req = r;
    return 0;
}

static int p_header(void *u, const char *n, size_t nl, const char *v, size_t vl)
{
    wisp__h1_sconn_t *c = u;
    int ret = c->req ? c->srv->cfg.ops->on_header(c->req, n, nl, v, vl) : 0;

    return c->state == SC_DOWN ? WISP_ECANCELED : ret;
}

static int p_headers_done(void *u)
{
    wisp__h1_sconn_t *c = u;
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    int ret;

    c->heard = 1;
    if (!c->req)
        return 0;
    if (wisp__h1_req_expect_continue(&c->parser) && c->phase == OUT_NONE &&
        wisp__h1_link_write(&c->link, (const uint8_t *)cont, sizeof(cont) - 1) < 0)
        return WISP_ECLOSED;
    ret = c->srv->cfg.ops->on_headers_done(c->req);
    return c->state == SC_DOWN ? WISP_ECANCELED : ret;
}

static int p_body(void *u, const uint8_t *d, size_t len)
{
    wisp__h1_sconn_t *c = u;
    int ret = c->req ? c->srv->cfg.ops->on_data(c->req, d, len, 0) : 0;

    return c->state == SC_DOWN ? WISP_ECANCELED : ret;
}

static int p_complete(void *u)
{
    wisp__h1_sconn_t *c = u;
    int ret;

    c->in_done = 1;
    c->keep = (uint8_t)wisp__h1_req_keepalive(&c->parser);
    wisp__timer_stop(c->cx, &c->timer); /* the app's answer has no clock of ours */
    ret = c->req ? c->srv->cfg.ops->on_data(c->req, NULL, 0, 1) : 0;
    return c->state == SC_DOWN ? WISP_ECANCELED : ret;
}

static const wisp__h1_cbs_t req_cbs = {NULL,           p_request, p_header,
                                       p_headers_done, p_body,    p_complete};

static void parser_reset(wisp__h1_sconn_t *c)
{
    wisp__h1_req_cfg_t cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.cb = &req_cbs;
    cfg.user = c;
    cfg.max_head = c->srv->cfg.header_limit;
    cfg.max_body = c->srv->cfg.body_limit;
    wisp__h1_req_init(&c->parser, &cfg);
    c->heard = 0;
}

/* ---- Reading ---- */

/* The peer closed (orderly or not) while we read. Between requests that is the
 * normal end of a kept-alive connection; the last answer may still sit in the
 * socket's buffer (a client that half-closes right after its request), so the
 * connection closes the way every answered one does: once that has left. */
static int peer_closed(wisp__h1_sconn_t *c, int n)
{
    int ret = wisp__h1_req_eof(&c->parser);

    if (c->state == SC_WAITING && ret == WISP_ECLOSED) {
        if (n == 0)
            closing(c);
        else
            conn_close(c);
        return 0;
    }
    return n < 0 ? n : WISP_ECLOSED;
}

static int pump_in(wisp__h1_sconn_t *c)
{
    while ((c->state == SC_WAITING || c->state == SC_EXCHANGE) && !c->in_done) {
        size_t used = 0;
        int n, ret;

        if (c->in_off < c->in_len) {
            ret = wisp__h1_req_feed(&c->parser, c->in + c->in_off, c->in_len - c->in_off, &used);
            if (c->state == SC_DOWN)
                return 0;
            c->in_off += used;
            if (ret)
                return ret;
            continue;
        }
        c->in_off = c->in_len = 0;
        if (c->rx_dry)
            return 0; /* the read would find nothing (EAGAIN): wait for poll */
        n = wisp__h1_link_read(&c->link, c->in, sizeof(c->in));
        if (n == WISP_EAGAIN)
            return 0;
        if (n <= 0)
            return peer_closed(c, n);
        c->in_len = (size_t)n;
        /* Short: without TLS the kernel had no more; with TLS that is one record,
         * and only the read-ahead knows whether another waits (as the client's
         * short_read()). Bytes mbedTLS or the read-ahead hold keep it readable. */
        if ((size_t)n < sizeof(c->in) && (!c->link.tls || wisp__sock_drained(&c->link.sock)) &&
            !wisp__h1_link_pending(&c->link))
            c->rx_dry = 1;
        if (c->state == SC_EXCHANGE && wisp__h1_req_in_body(&c->parser))
            wisp__timer_start(c->cx, &c->timer, c->srv->cfg.idle_timeout_ms);
    }
    return 0;
}

/* ---- Writing the answer ---- */

/* The head: the owner's status line and fields, then the framing we choose. */
static int build_head(wisp__h1_sconn_t *c)
{
    wisp__h1_sreq_t *r = c->req;
    wisp__h1_out_t w;
    int http11 = wisp__h1_req_http11(&c->parser), ret;

    wisp__h1_out_init(&w, c->out, sizeof(c->out));
    ret = c->srv->cfg.ops->on_head(r, &w);
    if (c->req != r)
        return WISP_ECANCELED;
    if (ret)
        return ret;
    /* Reuse only after a whole HTTP/1.1 request that allows it, on a listener that
     * is not draining; an answer that starts before the request was read whole
     * closes (we cannot know yet whether its framing holds: see README.md). */
    c->close_after = !c->in_done || !c->keep || !http11 || c->srv->closed;
    /* A HEAD gets the framing fields a GET would (RFC 9110 9.3.2), and no body. */
    c->chunked = 0;
    if (c->body_left >= 0) {
        (void)wisp__h1_out_content_length(&w, (uint64_t)c->body_left);
    } else if (http11) {
        c->chunked = !r->head_request;
        (void)wisp__h1_out_chunked(&w);
    } else if (!r->head_request) {
        c->close_after = 1; /* HTTP/1.0: the body ends with the connection */
    }
    if (c->close_after)
        (void)wisp__h1_out_close(&w);
    c->out_off = 0;
    return wisp__h1_out_end(&w, &c->out_len);
}

static int next_piece(wisp__h1_sconn_t *c)
{
    wisp__h1_sreq_t *r = c->req;
    size_t len = wisp__h1_piece_room(sizeof(c->out), c->chunked);
    uint64_t left = c->body_left >= 0 ? (uint64_t)c->body_left : 0;
    int eom = 0, ret;

    ret = c->srv->cfg.ops->on_body(r, c->out + wisp__h1_piece_pre(c->chunked), &len, &eom);
    if (c->req != r)
        return WISP_ECANCELED;
    if (ret)
        return ret;
    ret = wisp__h1_piece_frame(c->out, sizeof(c->out), len, eom, c->chunked,
                               c->body_left >= 0 ? &left : NULL, &c->out_off, &c->out_len);
    if (ret)
        return ret;
    c->body_eom = (uint8_t)(eom != 0);
    if (c->body_left >= 0)
        c->body_left = (int64_t)left;
    return 0;
}

static int pump_out(wisp__h1_sconn_t *c)
{
    while (c->state == SC_EXCHANGE && (c->phase == OUT_ASKED || c->phase == OUT_BODY)) {
        int ret;

        while (c->out_off < c->out_len) {
            int n = wisp__h1_link_write(&c->link, c->out + c->out_off, c->out_len - c->out_off);

            if (n == WISP_EAGAIN)
                return 0;
            if (n < 0)
                return n;
            c->out_off += (size_t)n;
        }
        if (c->phase == OUT_ASKED) {
            ret = build_head(c);
            if (!ret) {
                c->phase = OUT_BODY;
                c->body_eom = c->req->head_request || c->body_left == 0;
                continue;
            }
        } else if (c->body_eom) {
            c->phase = OUT_DONE;
            return 0;
        } else {
            ret = next_piece(c);
        }
        /* ECANCELED with the request still here is the app's WISP_CB_DISCONNECT
         * from tx: a failure of the exchange like any other (it closes). */
        if (c->state != SC_EXCHANGE || (ret == WISP_ECANCELED && !c->req))
            return 0;
        if (ret == WISP_EAGAIN)
            return 0; /* wisp__h1_sreq_resume() brings us back */
        if (ret)
            return ret;
    }
    return 0;
}

/* Both halves are done: the exchange ends, and the next request (maybe already in
 * in[]) is read, or the connection closes. */
static void finish(wisp__h1_sconn_t *c)
{
    wisp_stats_t *st = wisp__stats(c->cx);
    int keep = c->keep && !c->close_after && !c->srv->closed;

    st->transactions++;
    if (c->served++)
        st->reuses++;
    out_done(c);
    if (c->state != SC_EXCHANGE)
        return;
    c->phase = OUT_NONE;
    c->in_done = 0;
    if (!keep) {
        closing(c);
        return;
    }
    parser_reset(c);
    to(c, SC_WAITING);
}

static void pump(wisp__h1_sconn_t *c)
{
    for (;;) {
        int ret = 0;

        if (c->state != SC_WAITING && c->state != SC_EXCHANGE)
            return;
        ret = pump_out(c);
        if (!ret && c->state != SC_DOWN)
            ret = pump_in(c);
        if (ret) {
            conn_error(c, ret);
            return;
        }
        if (c->state != SC_EXCHANGE || !c->in_done || c->phase != OUT_DONE)
            break;
        finish(c);
    }
    /* Read only while a request is wanted: the next pipelined one waits for us. */
    if (c->state == SC_WAITING || c->state == SC_EXCHANGE)
        wisp__sock_want_read(&c->link.sock, !c->in_done);
}

static void step(wisp__defer_t *d)
{
    pump((wisp__h1_sconn_t *)((char *)d - offsetof(wisp__h1_sconn_t, step)));
}

/* ---- Handshake and events ---- */

static void handshake(wisp__h1_sconn_t *c)
{
    int ret = wisp__h1_link_handshake(&c->link);

    if (ret == WISP_EAGAIN)
        return;
    if (ret) {
        WISP_LOGI(c->cx, "server '%s': handshake failed: %s", c->srv->cfg.name, wisp_strerror(ret));
        conn_close(c);
        return;
    }
    WISP_LOGD(c->cx, "server '%s': TLS %s (%s, %s)", c->srv->cfg.name,
              wisp__tls_resumed(c->link.tls) ? "resumed" : "full handshake",
              wisp__tls_protocol(c->link.tls), wisp__tls_ciphersuite(c->link.tls));
    to(c, SC_WAITING);
    pump(c);
}

/* While the app prepares its answer the socket is not read (the next request
 * waits), so readiness then means an error or a hang-up: find out which. A clean
 * end (the client half-closed, or TLS close_notify) still gets its answer. */
static void read_ahead(wisp__h1_sconn_t *c)
{
    size_t room;
    int n;

    if (c->in_off == c->in_len)
        c->in_off = c->in_len = 0;
    room = sizeof(c->in) - c->in_len;
    if (!room)
        return;
    n = wisp__h1_link_read(&c->link, c->in + c->in_len, room);
    if (n > 0)
        c->in_len += (size_t)n;
    else if (n == 0)
        c->keep = 0;
    else if (n != WISP_EAGAIN)
        conn_error(c, n);
}

static void sock_event(wisp__sock_t *s, int ev, int err)
{
    wisp__h1_sconn_t *c = s->user;

    if (ev == WISP_SOCK_ERROR) {
        conn_error(c, err);
        return;
    }
    if (ev == WISP_SOCK_READABLE)
        c->rx_dry = 0;
    switch (c->state) {
    case SC_HANDSHAKE:
        handshake(c);
        break;
    case SC_CLOSING:
        close_drained(c); /* the last bytes have left, or the peer is gone */
        break;
    case SC_EXCHANGE:
        if (ev == WISP_SOCK_READABLE && c->in_done)
            read_ahead(c);
        pump(c);
        break;
    default:
        pump(c);
        break;
    }
}

static void timer_fired(wisp__timer_t *t)
{
    wisp__h1_sconn_t *c = (wisp__h1_sconn_t *)((char *)t - offsetof(wisp__h1_sconn_t, timer));

    WISP_LOGD(c->cx, "server '%s': %s timed out", c->srv->cfg.name, state_names[c->state]);
    if (c->state == SC_WAITING && !c->req)
        conn_close(c); /* idle, or a head that never completed (slowloris) */
    else if (c->state == SC_EXCHANGE)
        fail_request(c, c->req && c->phase == OUT_NONE ? 408 : 0, WISP_ETIMEDOUT);
    else
        conn_close(c);
}

/* ---- Accepting ---- */

static int conn_new(wisp__h1_srv_t *l, int fd)
{
    wisp__h1_sconn_t *c = wisp__zalloc(l->cx, sizeof(*c));
    int ret;

    if (!c) {
        wisp__sock_close_fd(l->cx, fd);
        return WISP_ENOMEM;
    }
    c->cx = l->cx;
    c->srv = l;
    c->body_left = -1;
    wisp__timer_init(&c->timer, timer_fired);
    wisp__defer_init(&c->step, step);
    wisp__defer_init(&c->reap, reap);
    wisp__h1_link_init(l->cx, &c->link, sock_event, c);
    ret = wisp__h1_link_adopt(&c->link, fd);
    if (ret) {
        wisp__free(l->cx, c); /* the socket layer closed fd */
        return ret;
    }
    if (l->vhost) {
        ret = wisp__h1_link_tls(&c->link, wisp__vhost_tls(l->vhost), NULL, NULL, NULL);
        if (ret) {
            wisp__h1_link_close(&c->link);
            wisp__free(l->cx, c);
            return ret;
        }
        c->vhost = l->vhost;
        wisp__vhost_ref(c->vhost);
        wisp__sock_readahead(&c->link.sock); /* one recv() per record, as the client */
    }
    c->next = l->conns;
    if (c->next)
        c->next->prev = c;
    l->conns = c;
    l->nconns++;
    l->nheld++;
    parser_reset(c);
    wisp__sock_want_read(&c->link.sock, 1);
    to(c, c->link.tls ? SC_HANDSHAKE : SC_WAITING);
    return 0;
}

/* ---- max_connections (SPEC §5: conns_refused) ----
 *
 * At the limit the listener stops accepting: new clients wait in the kernel's
 * backlog, first come first served (nginx does the same when its connections run
 * out). A held connection that has given the app nothing — a handshake, an idle
 * keep-alive, a head still arriving — for a quarter of that state's deadline is
 * closed for the first of them, the longest-waiting first, and counted in
 * conns_refused. A connection whose head is complete is never evicted.
 *
 * Without the eviction, slowloris clients that reconnect the moment a deadline cuts
 * them retake every freed slot at once and a legitimate client gets in only by
 * luck. With it an attacker holds a slot a quarter-deadline at a time, the cut ones
 * queue behind whoever was already waiting, and a legitimate client is admitted
 * within about (clients ahead of it / max_connections + 1) quarter-deadlines — and
 * then has a quarter-deadline to send its head, which is all it needs. */

static uint32_t grace_ms(const wisp__h1_sconn_t *c)
{
    return (c->state == SC_HANDSHAKE ? c->srv->cfg.handshake_timeout_ms
                                     : c->srv->cfg.idle_timeout_ms) /
           4;
}

/* The connection to evict, or NULL; *next_ms: how long until one may be (0: none). */
static wisp__h1_sconn_t *evictable(wisp__h1_srv_t *l, uint64_t now, uint64_t *next_ms)
{
    wisp__h1_sconn_t *c, *best = NULL;
    uint64_t best_at = 0;

    *next_ms = 0;
    for (c = l->conns; c; c = c->next) {
        uint64_t at;

        if (c->state > SC_EXCHANGE || c->heard)
            continue;
        at = c->since + grace_ms(c);
        if (at <= now) {
            if (!best || at < best_at)
                best = c, best_at = at;
        } else if (!*next_ms || at - now < *next_ms) {
            *next_ms = at - now;
        }
    }
    return best;
}

/* Make room for one more, or stop accepting until there may be some. */
static int make_room(wisp__h1_srv_t *l)
{
    uint64_t wait_ms;
    wisp__h1_sconn_t *c;

    if (l->nheld < l->cfg.max_connections)
        return 1;
    c = evictable(l, wisp_now_ms(l->cx), &wait_ms);
    if (c) {
        WISP_LOGI(l->cx, "server '%s': max_connections %lu: closing a connection idle %lu ms",
                  l->cfg.name, (unsigned long)l->cfg.max_connections,
                  (unsigned long)(wisp_now_ms(l->cx) - c->since));
        wisp__stats(l->cx)->conns_refused++;
        if (c->state == SC_WAITING) {
            closing(c); /* an idle keep-alive: its last answer may not have left yet */
        } else {
            out_failed(c, WISP_ECANCELED); /* a head arriving: the app never heard of it */
            conn_close(c);
        }
        if (l->nheld < l->cfg.max_connections)
            return 1;
        /* Still lingering: its close resumes us (conn_close). */
    }
    l->paused = 1;
    wisp__sock_want_read(&l->sock, 0);
    if (wait_ms)
        wisp__timer_start(l->cx, &l->admit, (uint32_t)wait_ms);
    return 0;
}

static void listen_resume(wisp__h1_srv_t *l)
{
    l->paused = 0;
    wisp__timer_stop(l->cx, &l->admit);
    wisp__sock_want_read(&l->sock, 1);
}

static void admit_fired(wisp__timer_t *t)
{
    listen_resume((wisp__h1_srv_t *)((char *)t - offsetof(wisp__h1_srv_t, admit)));
}

static void listen_event(wisp__sock_t *s, int ev, int err)
{
    wisp__h1_srv_t *l = s->user;
    int i;

    (void)ev;
    (void)err;
    for (i = 0; i < ACCEPT_BATCH && l->sock.fd >= 0; i++) {
        wisp_addr_t peer;
        int fd = -1, ret;

        /* Evict only for a client the poll has just reported: at the limit again
         * after an accept, the next readiness tells whether another one waits. */
        if (i && l->nheld >= l->cfg.max_connections)
            return;
        if (!make_room(l))
            return;
        ret = wisp__sock_accept(&l->sock, &fd, &peer);
        if (ret == WISP_EAGAIN)
            return;
        if (ret) {
            WISP_LOGW(l->cx, "server '%s': accept: %s", l->cfg.name, wisp_strerror(ret));
            return;
        }
        ret = conn_new(l, fd); /* closes fd itself on failure */
        if (ret)
            WISP_LOGW(l->cx, "server '%s': cannot take a connection: %s", l->cfg.name,
                      wisp_strerror(ret));
    }
}

/* Context teardown: the streams are gone (they cancelled their requests); free
 * every connection and listener without calling anyone. */
static void servers_destroy_all(wisp_context_t *cx, void *head)
{
    wisp__h1_srv_t *l;

    (void)head;
    while ((l = *listeners(cx)) != NULL) {
        l->closed = 1;
        wisp__sock_close(&l->sock);
        if (!l->conns) {
            srv_free(l);
            continue;
        }
        for (;;) {
            wisp__h1_sconn_t *c = l->conns;
            int last = c->next == NULL;

            c->req = NULL;
            conn_free(c); /* the last one frees l: l is not read after it */
            if (last)
                break;
        }
    }
}

/* ---- Public entry points ---- */

int wisp__h1_listen(wisp_context_t *cx, const wisp__h1_srv_cfg_t *cfg, wisp__h1_srv_t **out)
{
    wisp__h1_srv_t *l;
    wisp_addr_t at, bound;
    int ret;

    if (!out)
        return WISP_EINVAL;
    *out = NULL;
    if (!cx || !cfg || !cfg->ops || !cfg->max_connections)
        return WISP_EINVAL;
    ret = wisp_addr_parse(cfg->bind ? cfg->bind : "0.0.0.0", cfg->port, &at);
    if (ret) {
        WISP_LOGE(cx, "server '%s': bind address '%s' is not numeric", cfg->name,
                  cfg->bind ? cfg->bind : "");
        return WISP_EINVAL;
    }
    l = wisp__zalloc(cx, sizeof(*l));
    if (!l)
        return WISP_ENOMEM;
    l->cx = cx;
    l->cfg = *cfg;
    wisp__timer_init(&l->admit, admit_fired);
    wisp__sock_init(cx, &l->sock, listen_event, l);
    memset(&bound, 0, sizeof(bound));
    ret = wisp__sock_listen(&l->sock, &at, LISTEN_BACKLOG, &bound);
    if (ret) {
        WISP_LOGE(cx, "server '%s': listen on %s:%u: %s", cfg->name, cfg->bind ? cfg->bind : "",
                  cfg->port, wisp_strerror(ret));
        wisp__free(cx, l);
        return ret;
    }
    l->port = bound.port;
    l->vhost = cfg->vhost;
    wisp__vhost_ref(l->vhost);
    l->next = *listeners(cx);
    *listeners(cx) = l;
    wisp__slot_set_destroy(cx, WISP_SLOT_H1_SERVER, servers_destroy_all);
    WISP_LOGN(cx, "server '%s' listening on %s:%u%s", cfg->name, cfg->bind ? cfg->bind : "",
              l->port, l->vhost ? " (TLS)" : "");
    *out = l;
    return 0;
}

uint16_t wisp__h1_srv_port(const wisp__h1_srv_t *l)
{
    return l ? l->port : 0;
}

void wisp__h1_srv_close(wisp__h1_srv_t **lp)
{
    wisp__h1_srv_t *l;
    wisp__h1_sconn_t *c;

    if (!lp || !*lp)
        return;
    l = *lp;
    *lp = NULL;
    l->closed = 1;
    l->paused = 0;
    wisp__sock_close(&l->sock); /* stop accepting at once */
    wisp__timer_stop(l->cx, &l->admit);
    WISP_LOGN(l->cx, "server '%s' stopped listening (%lu connections draining)", l->cfg.name,
              (unsigned long)l->nconns);
    /* Connections with nothing in flight go now; the others after their answer. */
    for (c = l->conns; c; c = c->next) {
        if (c->state == SC_HANDSHAKE)
            conn_close(c);
        else if (c->state == SC_WAITING && !c->req)
            closing(c); /* the last answer may not have left yet */
    }
    if (!l->nconns)
        srv_free(l);
}

uint32_t wisp__h1_sreq_index(const wisp__h1_sreq_t *r)
{
    return r && r->conn ? r->conn->served : 0;
}

int wisp__h1_respond(wisp__h1_sreq_t *r, int64_t body_len)
{
    wisp__h1_sconn_t *c;

    if (!r || !r->conn || r->conn->state != SC_EXCHANGE)
        return WISP_EINVAL;
    c = r->conn;
    if (c->phase != OUT_NONE)
        return WISP_EBUSY;
    c->phase = OUT_ASKED;
    c->body_left = body_len < 0 ? -1 : body_len;
    wisp__defer(c->cx, &c->step);
    return 0;
}

void wisp__h1_sreq_resume(wisp__h1_sreq_t *r)
{
    if (r && r->conn)
        wisp__defer(r->conn->cx, &r->conn->step);
}

void wisp__h1_sreq_cancel(wisp__h1_sreq_t *r)
{
    wisp__h1_sconn_t *c;

    if (!r || !r->conn)
        return;
    c = r->conn;
    r->conn = NULL;
    c->req = NULL;
    /* Without its owner the request cannot be answered: the connection goes. What
     * the socket still holds of the answers before it (pipelined, each reported
     * DONE) is sent first, unless this one's own answer began: cut mid-way, it must
     * not pass for whole. A flush only, no read: this may run inside the parser. */
    if (c->phase < OUT_BODY)
        wisp__h1_link_goodbye(&c->link);
    conn_close(c);
}
