/*
 * HTTP/1.1 client connections and queueing (SPEC §7).
 *
 * A connection stands for one endpoint key — vhost, host, port, TLS — and outlives
 * the sockets it opens: when the server closes or a leader fails, the same object
 * reconnects for the next transaction in its queue, resuming the TLS session the
 * vhost kept. The context's connections form one list whose head sits in context
 * slot WISP_SLOT_H1.
 *
 *   conn ──> socket + TLS session (while open), parser, request buffer
 *        ──> active: the leader txn (connecting for it, or running its exchange)
 *        ──> queue:  FIFO of txns waiting for the connection
 *
 * Every decision about who runs next is made in one place, kick(), which runs
 * deferred at the end of the loop iteration. So submit, cancel and completion never
 * call back into streams re-entrantly, and a stream callback may submit, cancel or
 * destroy anything.
 *
 * Close order is fixed (SPEC §2): unregister the socket, free the TLS session, close
 * the fd — sock_down() is the only place that closes.
 */
#include <string.h>

#include "http1/http1-internal.h"
#include "vhost/vhost-internal.h"

#define REQ_BUF 2048 /* request head, or one body chunk with its framing */

enum conn_state { C_DOWN, C_RESOLVING, C_CONNECTING, C_HANDSHAKE, C_READY };
enum tx_phase { TX_IDLE, TX_SENDING, TX_BODY, TX_SENT };

struct wisp__h1_conn {
    wisp__h1_conn_t *next;
    wisp_context_t *cx;
    struct wisp__vhost *vhost; /* own reference, NULL for plaintext */
    char *host;
    uint16_t port;
    uint8_t tls_on, reuse;
    uint8_t state;
    uint8_t phase;
    uint8_t in_io; /* inside pump: cancel defers the close to the pump */
    uint8_t kill;  /* close requested while in_io */
    uint8_t body_eom;
    uint8_t naddr, addr_i;
    uint32_t served; /* transactions completed on the current socket */
    uint16_t nailed; /* nailed_up streams holding the connection up */
    uint8_t waiting; /* nailed and down: the timer is the reconnect delay */
    uint32_t nail_connect_ms, nail_retry_ms;
    uint32_t keepalive_ms; /* of the last transaction: how long to keep it idle */
    uint64_t body_left;    /* Content-Length bytes still to come from the app */
    wisp__sock_t sock;
    wisp__tls_t *tls;
    wisp__resolve_t *res;
    wisp_addr_t addr[WISP_RESOLVE_MAX_ADDRS];
    wisp__timer_t timer; /* connect timeout, then keep-alive idle */
    wisp__defer_t kick;
    wisp__h1_txn_t *active, *qhead, *qtail;
    wisp__h1_resp_t resp;
    size_t out_off, out_len;
    uint8_t out[REQ_BUF];
};

static void kick(wisp__defer_t *d);
static void pump(wisp__h1_conn_t *c);

static wisp__h1_conn_t **conns(wisp_context_t *cx)
{
    return (wisp__h1_conn_t **)wisp__slot_ptr(cx, WISP_SLOT_H1);
}

static void schedule(wisp__h1_conn_t *c)
{
    wisp__defer(c->cx, &c->kick);
}

/* ---- Queue ---- */

static void enqueue(wisp__h1_conn_t *c, wisp__h1_txn_t *t, int front)
{
    t->conn = c;
    if (front) {
        t->next = c->qhead;
        c->qhead = t;
        if (!c->qtail)
            c->qtail = t;
        return;
    }
    t->next = NULL;
    if (c->qtail)
        c->qtail->next = t;
    else
        c->qhead = t;
    c->qtail = t;
}

static wisp__h1_txn_t *dequeue(wisp__h1_conn_t *c)
{
    wisp__h1_txn_t *t = c->qhead;

    if (t) {
        c->qhead = t->next;
        if (!c->qhead)
            c->qtail = NULL;
        t->next = NULL;
    }
    return t;
}

static int unqueue(wisp__h1_conn_t *c, wisp__h1_txn_t *t)
{
    wisp__h1_txn_t **pp, *prev = NULL;

    for (pp = &c->qhead; *pp; prev = *pp, pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            if (c->qtail == t)
                c->qtail = prev;
            t->next = NULL;
            return 1;
        }
    }
    return 0;
}

/* ---- Socket lifetime ---- */

static void sock_down(wisp__h1_conn_t *c, int orderly)
{
    wisp_stats_t *st = wisp__stats(c->cx);

    wisp__resolve_cancel(&c->res);
    wisp__timer_stop(c->cx, &c->timer);
    if (c->sock.fd >= 0) {
        if (orderly && c->tls && c->state == C_READY) {
            (void)wisp__tls_close_notify(c->tls);
            (void)wisp__sock_flush(&c->sock);
        }
        /* Unregister first, then free the TLS session, then close the fd. */
        wisp__sock_unregister(&c->sock);
        wisp__tls_destroy(&c->tls);
        wisp__sock_close(&c->sock);
        st->conns_live--;
    }
    c->state = C_DOWN;
    c->phase = TX_IDLE;
    c->served = 0;
    c->kill = 0;
}

static void conn_free(wisp__h1_conn_t *c)
{
    wisp__h1_conn_t **pp;

    for (pp = conns(c->cx); *pp; pp = &(*pp)->next) {
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    }
    sock_down(c, 1);
    wisp__defer_cancel(c->cx, &c->kick);
    wisp__vhost_unref(&c->vhost);
    wisp__free(c->cx, c->host);
    wisp__free(c->cx, c);
}

/* The leader leaves with an error; the queue carries on from kick(). */
static void fail_active(wisp__h1_conn_t *c, int err, int sent)
{
    wisp__h1_txn_t *t = c->active;

    c->active = NULL;
    if (t) {
        t->conn = NULL;
        t->ops->on_failed(t, err, sent);
    }
}

static void conn_error(wisp__h1_conn_t *c, int err)
{
    int sent = c->phase != TX_IDLE;

    WISP_LOGI(c->cx, "%s:%u: connection %s: %s", c->host, c->port,
              c->state == C_READY ? "lost" : "failed", wisp_strerror(err));
    if (err == WISP_ECERT) {
        /* Retrying cannot make a certificate verify: fail everyone on this key. */
        wisp__h1_txn_t *t;

        if (c->vhost)
            wisp__vhost_session_drop(c->vhost, c->host, c->port);
        sock_down(c, 0);
        fail_active(c, err, 0);
        while ((t = dequeue(c)) != NULL) {
            t->conn = NULL;
            t->ops->on_failed(t, err, 0);
        }
    } else {
        sock_down(c, 0);
        fail_active(c, err, sent);
    }
    if (c->nailed && !c->qhead && !c->active) {
        /* Nobody waits: reconnect after a delay, not in a tight loop. */
        c->waiting = 1;
        wisp__timer_start(c->cx, &c->timer, c->nail_retry_ms);
    }
    schedule(c);
}

/* ---- TLS transport over the buffered socket ---- */

static int bio_send(void *io, const uint8_t *buf, size_t len)
{
    return wisp__sock_write(io, buf, len);
}

static int bio_recv(void *io, uint8_t *buf, size_t len)
{
    return wisp__sock_read(io, buf, len);
}

/* TLS has a resumable session (1.2: handshake end; 1.3: each NewSessionTicket). */
static void session_sink(void *user, wisp__tls_session_t *sess)
{
    wisp__h1_conn_t *c = user;

    wisp__vhost_session_put(c->vhost, c->host, c->port, sess);
}

static int raw_write(wisp__h1_conn_t *c, const uint8_t *buf, size_t len)
{
    int n = c->tls ? wisp__tls_write(c->tls, buf, len) : wisp__sock_write(&c->sock, buf, len);

    return (n == WISP_EWANTWRITE || n == WISP_EWANTREAD) ? WISP_EAGAIN : n;
}

static int raw_read(wisp__h1_conn_t *c, uint8_t *buf, size_t len)
{
    int n = c->tls ? wisp__tls_read(c->tls, buf, len) : wisp__sock_read(&c->sock, buf, len);

    return (n == WISP_EWANTWRITE || n == WISP_EWANTREAD) ? WISP_EAGAIN : n;
}

/* ---- Response parser glue: forwards to the leader ---- */

static int p_status(void *u, int status, const char *reason, size_t rlen)
{
    wisp__h1_conn_t *c = u;

    (void)reason;
    (void)rlen;
    return c->active ? c->active->ops->on_status(c->active, status) : WISP_ECANCELED;
}

static int p_header(void *u, const char *n, size_t nl, const char *v, size_t vl)
{
    wisp__h1_conn_t *c = u;

    return c->active ? c->active->ops->on_header(c->active, n, nl, v, vl) : WISP_ECANCELED;
}

static int p_headers_done(void *u)
{
    wisp__h1_conn_t *c = u;

    return c->active ? c->active->ops->on_headers_done(c->active) : WISP_ECANCELED;
}

static int p_body(void *u, const uint8_t *d, size_t len)
{
    wisp__h1_conn_t *c = u;

    return c->active ? c->active->ops->on_data(c->active, d, len) : WISP_ECANCELED;
}

static int p_complete(void *u)
{
    (void)u;
    return 0; /* completion is read from the parser after feed returns */
}

static const wisp__h1_cbs_t resp_cbs = {p_status,       NULL,   p_header,
                                        p_headers_done, p_body, p_complete};

/* ---- One transaction ---- */

static int build_head(wisp__h1_conn_t *c, wisp__h1_txn_t *t)
{
    wisp__h1_out_t w;
    size_t len = 0;
    int ret;

    wisp__h1_out_init(&w, c->out, sizeof(c->out));
    ret = t->ops->on_head(t, &w, c->host);
    if (ret)
        return ret;
    if (t->body_len > 0)
        (void)wisp__h1_out_content_length(&w, (uint64_t)t->body_len);
    else if (t->body_len < 0)
        (void)wisp__h1_out_chunked(&w);
    ret = wisp__h1_out_end(&w, &len);
    if (ret)
        return ret;
    c->out_off = 0;
    c->out_len = len;
    return 0;
}

/*
 * Before a kept-alive socket carries another request: nothing may be waiting on it.
 * Bytes here were never asked for (a server answering twice) and would be taken for
 * the next response; EOF or an error means the server closed it while idle. Either
 * way the socket is dropped before the request is sent, so nothing is lost: the
 * transaction goes out on a fresh connection. Returns nonzero if dropped.
 */
static int drop_if_dirty(wisp__h1_conn_t *c)
{
    uint8_t junk[64];
    int n;

    if (!c->served)
        return 0;
    n = raw_read(c, junk, sizeof(junk));
    if (n == WISP_EAGAIN)
        return 0;
    WISP_LOGI(c->cx, "%s:%u: kept-alive connection %s; reconnecting", c->host, c->port,
              n > 0 ? "had unsolicited bytes" : "was closed by the server");
    sock_down(c, 0);
    return 1;
}

static void begin(wisp__h1_conn_t *c)
{
    wisp__h1_txn_t *t = c->active;
    wisp__h1_resp_cfg_t cfg;
    int ret;

    if (drop_if_dirty(c)) {
        c->active = NULL;
        enqueue(c, t, 1);
        schedule(c);
        return;
    }
    wisp__timer_stop(c->cx, &c->timer);
    memset(&cfg, 0, sizeof(cfg));
    cfg.cb = &resp_cbs;
    cfg.user = c;
    cfg.head_request = t->head_request;
    wisp__h1_resp_init(&c->resp, &cfg);
    c->body_eom = 0;
    if (c->served)
        wisp__stats(c->cx)->reuses++;
    t->ops->on_connected(t);
    if (c->active != t)
        return; /* the stream went away inside its CONNECTED callback */
    ret = build_head(c, t);
    if (ret) {
        WISP_LOGW(c->cx, "%s:%u: request head: %s", c->host, c->port, wisp_strerror(ret));
        /* Nothing was sent: the connection stays good for the next one. */
        c->active = NULL;
        t->conn = NULL;
        t->ops->on_failed(t, ret, 0);
        schedule(c);
        return;
    }
    c->phase = TX_SENDING;
    c->body_left = t->body_len > 0 ? (uint64_t)t->body_len : 0;
    c->keepalive_ms = t->keepalive_ms;
    pump(c);
}

/* Fill c->out with the next body piece, framed for chunked when the length is unknown. */
static int next_body(wisp__h1_conn_t *c)
{
    wisp__h1_txn_t *t = c->active;
    size_t room = sizeof(c->out), len, pre = 0;
    int eom = 0, ret, n;

    if (t->body_len < 0) {
        pre = WISP_H1_CHUNK_HEADER_MAX;
        room -= pre + 2 + WISP_H1_CHUNK_LAST_LEN;
    }
    len = room;
    ret = t->ops->on_body(t, c->out + pre, &len, &eom);
    if (ret)
        return ret;
    if (len > room)
        return WISP_EINVAL;
    if (!len && !eom)
        return WISP_EAGAIN;
    c->body_eom = (uint8_t)(eom != 0);
    if (t->body_len >= 0) {
        /* The app must produce exactly the length it announced. */
        if (len > c->body_left || (eom && len != c->body_left))
            return WISP_EPROTO;
        c->body_left -= len;
        c->out_off = 0;
        c->out_len = len;
        return 0;
    }
    c->out_off = pre;
    c->out_len = pre;
    if (len) {
        uint8_t hdr[WISP_H1_CHUNK_HEADER_MAX];

        n = wisp__h1_chunk_header(hdr, sizeof(hdr), len);
        if (n < 0)
            return n;
        c->out_off = pre - (size_t)n;
        memcpy(c->out + c->out_off, hdr, (size_t)n);
        c->out_len = pre + len;
        memcpy(c->out + c->out_len, WISP_H1_CRLF, 2);
        c->out_len += 2;
    }
    if (eom) {
        n = wisp__h1_chunk_last(c->out + c->out_len, sizeof(c->out) - c->out_len);
        if (n < 0)
            return n;
        c->out_len += (size_t)n;
    }
    return 0;
}

/* Send what is pending of the request; 0 when blocked or finished, else an error. */
static int pump_tx(wisp__h1_conn_t *c)
{
    int ret;

    while (c->active && (c->phase == TX_SENDING || c->phase == TX_BODY)) {
        while (c->out_off < c->out_len) {
            int n = raw_write(c, c->out + c->out_off, c->out_len - c->out_off);

            if (n == WISP_EAGAIN)
                return 0;
            if (n < 0)
                return n;
            c->out_off += (size_t)n;
        }
        if (c->active->body_len == 0 || (c->phase == TX_BODY && c->body_eom)) {
            c->phase = TX_SENT;
            break;
        }
        c->phase = TX_BODY;
        ret = next_body(c);
        if (ret == WISP_EAGAIN)
            return 0; /* the app resumes us */
        if (ret)
            return ret;
    }
    return 0;
}

static void complete(wisp__h1_conn_t *c)
{
    wisp__h1_txn_t *t = c->active;
    int keep = wisp__h1_resp_keepalive(&c->resp) && c->reuse && c->phase == TX_SENT &&
               !(c->tls && wisp__tls_pending(c->tls));

    c->active = NULL;
    c->phase = TX_IDLE;
    c->served++;
    wisp__stats(c->cx)->transactions++;
    if (!keep)
        sock_down(c, 1);
    t->conn = NULL;
    t->ops->on_done(t);
    schedule(c);
}

/* Read and parse until TLS/socket would block. Returns 0 or an error. */
static int pump_rx(wisp__h1_conn_t *c)
{
    uint8_t buf[2048];

    for (;;) {
        size_t off = 0;
        int n = raw_read(c, buf, sizeof(buf));

        if (n == WISP_EAGAIN)
            return 0;
        if (!c->active) {
            /* Bytes or EOF on an idle kept-alive connection: it is done for. */
            return n > 0 ? WISP_EPROTO : WISP_ECLOSED;
        }
        if (n <= 0) {
            int ret = (n == 0 || n == WISP_ECLOSED) ? wisp__h1_resp_eof(&c->resp) : n;

            if (!ret && wisp__h1_resp_is_done(&c->resp)) {
                complete(c); /* close-delimited body: keepalive() says no */
                return 0;
            }
            /* Cut short by the peer closing: say that, not "malformed". */
            if (ret == WISP_EPROTO && (n == 0 || n == WISP_ECLOSED))
                ret = WISP_ECLOSED;
            return ret ? ret : WISP_ECLOSED;
        }
        while (off < (size_t)n) {
            size_t used = 0;
            int ret = wisp__h1_resp_feed(&c->resp, buf + off, (size_t)n - off, &used);

            if (ret)
                return ret;
            off += used;
            if (c->kill || !c->active)
                return 0;
            if (wisp__h1_resp_is_done(&c->resp)) {
                /* Bytes past the response were never asked for: do not reuse. */
                if (off < (size_t)n)
                    c->reuse = 0;
                complete(c);
                return 0;
            }
            if (!used)
                return WISP_EPROTO;
        }
    }
}

static void pump(wisp__h1_conn_t *c)
{
    int ret;

    if (c->state != C_READY)
        return;
    c->in_io = 1;
    ret = pump_tx(c);
    if (!ret && !c->kill)
        ret = pump_rx(c);
    c->in_io = 0;
    if (c->kill) {
        sock_down(c, 0);
        schedule(c);
        return;
    }
    if (!ret)
        return;
    if (!c->active) {
        sock_down(c, 0); /* idle connection closed by the server: normal */
        schedule(c);
        return;
    }
    conn_error(c, ret);
}

/* ---- Connection setup: resolve, connect, handshake ---- */

static void handshake(wisp__h1_conn_t *c)
{
    wisp_stats_t *st = wisp__stats(c->cx);
    int ret = wisp__tls_handshake(c->tls);

    if (ret == WISP_EWANTREAD || ret == WISP_EWANTWRITE)
        return;
    if (ret) {
        conn_error(c, ret);
        return;
    }
    if (wisp__tls_resumed(c->tls))
        st->handshakes_resumed++;
    else
        st->handshakes_full++;
    WISP_LOGD(c->cx, "%s:%u: TLS %s (%s)", c->host, c->port,
              wisp__tls_resumed(c->tls) ? "resumed" : "full handshake",
              wisp__tls_ciphersuite(c->tls));
    c->state = C_READY;
    wisp__timer_stop(c->cx, &c->timer);
    schedule(c);
}

static int connect_next(wisp__h1_conn_t *c);

static void sock_event(wisp__sock_t *s, int ev, int err)
{
    wisp__h1_conn_t *c = s->user;

    if (ev == WISP_SOCK_ERROR) {
        conn_error(c, err);
        return;
    }
    if (ev == WISP_SOCK_CONNECTED) {
        if (err) {
            WISP_LOGD(c->cx, "%s:%u: connect: %s", c->host, c->port, wisp_strerror(err));
            sock_down(c, 0);
            c->state = C_CONNECTING;
            if (++c->addr_i < c->naddr && connect_next(c) == 0)
                return;
            conn_error(c, err);
            return;
        }
        wisp__sock_want_read(s, 1);
        if (!c->tls_on) {
            c->state = C_READY;
            wisp__timer_stop(c->cx, &c->timer);
            schedule(c);
            return;
        }
        c->state = C_HANDSHAKE;
    }
    if (c->state == C_HANDSHAKE)
        handshake(c);
    else if (c->state == C_READY)
        pump(c);
}

static int connect_next(wisp__h1_conn_t *c)
{
    const wisp__tls_session_t *sess;
    int ret;

    wisp__sock_init(c->cx, &c->sock, sock_event, c);
    ret = wisp__sock_connect(&c->sock, &c->addr[c->addr_i]);
    if (ret)
        return ret;
    wisp__stats(c->cx)->conns_opened++;
    wisp__stats(c->cx)->conns_live++;
    c->state = C_CONNECTING;
    if (!c->tls_on)
        return 0;
    ret = wisp__tls_create(wisp__vhost_tls(c->vhost), c->host, bio_send, bio_recv, &c->sock,
                           session_sink, c, &c->tls);
    sess = ret ? NULL : wisp__vhost_session(c->vhost, c->host, c->port);
    if (sess && wisp__tls_set_session(c->tls, sess))
        wisp__vhost_session_drop(c->vhost, c->host, c->port);
    if (ret)
        sock_down(c, 0);
    return ret;
}

static void resolved(void *arg, int status, const wisp_addr_t *addrs, size_t n)
{
    wisp__h1_conn_t *c = arg;
    int ret;

    c->res = NULL;
    if (status || !n) {
        conn_error(c, status ? status : WISP_EDNS);
        return;
    }
    c->naddr = (uint8_t)(n < WISP_RESOLVE_MAX_ADDRS ? n : WISP_RESOLVE_MAX_ADDRS);
    memcpy(c->addr, addrs, c->naddr * sizeof(*addrs));
    c->addr_i = 0;
    while ((ret = connect_next(c)) != 0 && ++c->addr_i < c->naddr)
        ;
    if (ret)
        conn_error(c, ret);
}

static void timer_fired(wisp__timer_t *t)
{
    wisp__h1_conn_t *c = (wisp__h1_conn_t *)((char *)t - offsetof(wisp__h1_conn_t, timer));

    if (c->waiting) {
        c->waiting = 0; /* a nailed connection's reconnect delay is over */
        schedule(c);
        return;
    }
    if (c->state != C_READY) {
        conn_error(c, WISP_ETIMEDOUT);
        return;
    }
    if (!c->active && !c->qhead) {
        WISP_LOGD(c->cx, "%s:%u: keep-alive idle timeout", c->host, c->port);
        sock_down(c, 1);
        schedule(c);
    }
}

static void start_socket(wisp__h1_conn_t *c, uint32_t connect_timeout_ms)
{
    int ret;

    c->state = C_RESOLVING;
    c->waiting = 0;
    wisp__timer_stop(c->cx, &c->timer);
    if (connect_timeout_ms)
        wisp__timer_start(c->cx, &c->timer, connect_timeout_ms);
    ret = wisp__resolve_start(c->cx, c->host, c->port, resolved, c, &c->res);
    if (ret)
        conn_error(c, ret);
}

/* ---- The one place that decides what runs next ---- */

static void kick(wisp__defer_t *d)
{
    wisp__h1_conn_t *c = (wisp__h1_conn_t *)((char *)d - offsetof(wisp__h1_conn_t, kick));

    if (c->active) {
        if (c->state == C_READY && c->phase == TX_IDLE)
            begin(c);
        return;
    }
    if (!c->qhead) {
        if (c->nailed) {
            /* Held up by nailed_up streams: connected or reconnecting, never idle. */
            if (c->state == C_DOWN && !c->waiting)
                start_socket(c, c->nail_connect_ms);
            return;
        }
        if (c->state == C_READY && c->reuse && c->sock.fd >= 0) {
            /* Idle: keep the socket (and the vhost) for keepalive_ms. */
            if (!c->keepalive_ms) {
                conn_free(c);
                return;
            }
            if (!c->timer.armed)
                wisp__timer_start(c->cx, &c->timer, c->keepalive_ms);
            return;
        }
        if (c->state == C_DOWN || c->state == C_READY)
            conn_free(c);
        return;
    }
    c->active = dequeue(c);
    if (c->state == C_READY) {
        begin(c);
        return;
    }
    if (!c->active->told_connecting)
        c->active->ops->on_connecting(c->active);
    c->active->told_connecting = 0;
    if (c->active && c->state == C_DOWN)
        start_socket(c, c->active->connect_timeout_ms);
}

/* ---- Public entry points ---- */

/* Context teardown: the streams are gone; close what is left (idle keep-alives). */
static void conns_destroy_all(wisp_context_t *cx, void *head)
{
    wisp__h1_conn_t *c;

    (void)head;
    while ((c = *conns(cx)) != NULL) {
        wisp__h1_txn_t *t;

        while ((t = dequeue(c)) != NULL)
            t->conn = NULL;
        if (c->active)
            c->active->conn = NULL;
        c->active = NULL;
        conn_free(c);
    }
}

static int same_key(const wisp__h1_conn_t *c, const wisp__h1_key_t *k)
{
    return c->reuse && c->vhost == k->vhost && c->port == k->port && c->tls_on == k->tls &&
           !strcmp(c->host, k->host);
}

static wisp__h1_conn_t *conn_new(wisp_context_t *cx, uint8_t reuse, const wisp__h1_key_t *k)
{
    wisp__h1_conn_t *c = wisp__zalloc(cx, sizeof(*c));

    if (!c)
        return NULL;
    c->host = wisp__strndup(cx, k->host, strlen(k->host));
    if (!c->host) {
        wisp__free(cx, c);
        return NULL;
    }
    c->cx = cx;
    c->port = k->port;
    c->tls_on = k->tls;
    c->reuse = reuse;
    c->vhost = k->vhost;
    wisp__vhost_ref(c->vhost);
    wisp__sock_init(cx, &c->sock, sock_event, c);
    wisp__timer_init(&c->timer, timer_fired);
    wisp__defer_init(&c->kick, kick);
    c->next = *conns(cx);
    *conns(cx) = c;
    wisp__slot_set_destroy(cx, WISP_SLOT_H1, conns_destroy_all);
    return c;
}

int wisp__h1_submit(wisp_context_t *cx, wisp__h1_txn_t *t, const wisp__h1_key_t *key)
{
    wisp__h1_conn_t *c = NULL;
    int queued;

    if (!cx || !t || !t->ops || !key || !key->host || (key->tls && !key->vhost) || t->conn)
        return WISP_EINVAL;
    if (t->reuse)
        for (c = *conns(cx); c && !same_key(c, key); c = c->next)
            ;
    if (!c) {
        c = conn_new(cx, t->reuse, key);
        if (!c)
            return WISP_ENOMEM;
    }
    /* Queued means: someone else leads this connection, or is ahead of us. A
     * transaction first in line on a connection that must be set up leads it: the
     * caller reports CONNECTING now, so the states come in order. */
    queued = c->active != NULL || c->qhead != NULL;
    t->told_connecting = !queued && c->state == C_DOWN;
    enqueue(c, t, 0);
    if (c->state == C_READY && !c->active)
        wisp__timer_stop(cx, &c->timer);
    schedule(c);
    return queued ? 1 : (t->told_connecting ? 2 : 0);
}

void wisp__h1_cancel(wisp__h1_txn_t *t)
{
    wisp__h1_conn_t *c;

    if (!t || !(c = t->conn))
        return;
    t->conn = NULL;
    if (unqueue(c, t)) {
        schedule(c);
        return;
    }
    if (c->active != t)
        return;
    c->active = NULL;
    if (c->state == C_READY && c->phase != TX_IDLE) {
        /* Mid-exchange: the connection cannot carry another request. */
        if (c->in_io)
            c->kill = 1;
        else
            sock_down(c, 0);
    }
    /* A connection still being set up carries on for the next in line. */
    schedule(c);
}

void wisp__h1_resume(wisp__h1_txn_t *t)
{
    if (t && t->conn && t->conn->active == t && t->conn->state == C_READY)
        schedule(t->conn);
}

int wisp__h1_nail(wisp_context_t *cx, const wisp__h1_key_t *key, uint8_t reuse,
                  uint32_t connect_timeout_ms, uint32_t retry_ms, wisp__h1_conn_t **out)
{
    wisp__h1_conn_t *c = NULL;

    if (!out)
        return WISP_EINVAL;
    *out = NULL;
    if (!cx || !key || !key->host || (key->tls && !key->vhost))
        return WISP_EINVAL;
    if (reuse)
        for (c = *conns(cx); c && !same_key(c, key); c = c->next)
            ;
    if (!c && !(c = conn_new(cx, reuse, key)))
        return WISP_ENOMEM;
    c->nailed++;
    c->nail_connect_ms = connect_timeout_ms;
    c->nail_retry_ms = retry_ms ? retry_ms : 1000;
    if (c->state == C_READY && !c->active)
        wisp__timer_stop(cx, &c->timer); /* no idle timeout while nailed */
    schedule(c);
    *out = c;
    return 0;
}

void wisp__h1_unnail(wisp__h1_conn_t **cp)
{
    wisp__h1_conn_t *c;

    if (!cp || !*cp)
        return;
    c = *cp;
    *cp = NULL;
    if (c->nailed && !--c->nailed) {
        if (c->waiting) {
            c->waiting = 0;
            wisp__timer_stop(c->cx, &c->timer);
        }
        schedule(c); /* back to the ordinary keep-alive rules */
    }
}
