/*
 * HTTP/1.1 client connections and queueing (SPEC §7).
 *
 * A connection stands for one endpoint key — vhost, host, port, TLS — and outlives
 * the sockets it opens: when the server closes or a leader fails, the same object
 * reconnects for the next transaction in its queue, resuming the TLS session the
 * vhost kept. The context's connections form one list whose head sits in context
 * slot WISP_SLOT_H1.
 *
 *   conn ──> socket + TLS session (while open), response parser, request buffer
 *        ──> leader: the txn the socket is being set up for, or whose exchange runs
 *        ──> pipe:   txns whose requests went out behind the leader's, oldest first
 *                    (pipelining: their answers follow the leader's, in order)
 *        ──> queue:  FIFO of txns waiting for the connection (doubly linked)
 *
 * One state enum, one transition function (to(), which logs every move), and the
 * timer's meaning follows from the state:
 *
 *   DOWN ──kick──> RESOLVING ──> CONNECTING ──> HANDSHAKE ──> IDLE <──────────┐
 *    ▲  ▲            [timer: connect timeout, the whole setup]   │ begin      │ complete,
 *    │  │                                                       ▼            │ keepable
 *    │  └─ BACKOFF [timer: nailed reconnect delay]            SENDING ──> RECEIVING
 *    │                                                    [no timer: the stream's
 *    └──── sock_down() from any state with a socket         timeout_ms covers it]
 *                                                  IDLE without leader: [timer: keep-alive]
 *
 * Two flags that are not states: `shareable` belongs to the key (the policy lets
 * transactions share the connection) and `keepable` to the current socket (it may
 * carry another request: cleared when a response leaves doubt).
 *
 * ---- Pipelining (pipeline_depth > 1, SPEC §7) ----
 * The pipe is part of the exchange, not a state of its own: in RECEIVING, queued
 * GET/HEAD txns without a body are taken from the queue head (FIFO, so a request
 * with a body holds everything behind it until the pipe is empty and it leads at
 * IDLE), told CONNECTED, and their heads written — up to the smaller of the leader's
 * and the candidate's depth in flight, leader included. When the leader's answer
 * completes and the socket may be kept, the oldest of the pipe leads (RECEIVING
 * still, parser restarted) and bytes past the answer are its answer's start.
 *  - A txn cancelled while in the pipe is replaced by the connection's ghost txn,
 *    whose answer is parsed and dropped: the socket carries on. Cancelling the
 *    leader still closes the socket (SPEC §7); the pipe goes back to the queue.
 *  - Whenever the socket goes with the pipe non-empty, its txns go back to the front
 *    of the queue, in order (unpipe(), inside sock_down()): none got a byte of its
 *    answer. That is not a retry.
 *  - If the server ended it — close, reset, "Connection: close", framing that does
 *    not parse — while any request written ahead was unanswered, the key is marked
 *    "does not pipeline" (on the vhost for TLS, in the context for plaintext) and
 *    runs at depth 1 from then on; a leader written ahead that got no byte, or
 *    bytes that make no status line, goes again first (pipe_race()). A leader that
 *    got part of its answer follows the normal rules: keep-alive race, or
 *    DISCONNECTED and the stream's retry policy.
 *
 * ---- Calls out to the transaction's owner (the application, in the end) ----
 * Every op of a txn can do anything: cancel itself or any other txn, submit again,
 * destroy its stream, destroy the context (core defers that to the end of the
 * iteration). The rules that keep this file safe:
 *  1. Every call out goes through one of the out_*() helpers, which first detach
 *     what the callee could invalidate: a txn leaves the connection (leader or
 *     queue, t->conn = NULL) before on_done/on_failed, so a cancel from inside is a
 *     no-op, and a submit from inside queues afresh.
 *  2. After any call out — including the response parser's callbacks, which run the
 *     stream's rx — the caller re-reads c->state, c->leader and the pipe and uses
 *     nothing it cached before the call. wisp__h1_cancel() of the leader from inside
 *     closes the socket at once (it frees only the TLS session and fd, never the
 *     connection); of a txn in the pipe, it puts the ghost in its place.
 *  3. Fan-out to many txns (a certificate failure fails the whole key) walks a list
 *     spliced off the connection first, so a txn submitted from one of those
 *     callbacks joins a fresh queue and is attempted on a later iteration: never
 *     failed again in the same pass.
 *  4. A connection is freed only by kick() (deferred work, never inside a call out),
 *     by wisp__h1_close_idle() (idle ones, which have no txn to call), and by
 *     context teardown.
 *
 * Close order is fixed (SPEC §2): unregister the socket, free the TLS session, close
 * the fd — sock_down() is the only place that closes.
 */
#include <string.h>

#include "http1/http1-internal.h"
#include "vhost/vhost-internal.h"

#define REQ_BUF 2048 /* request head, one body chunk with its framing, or response bytes */
#define RX_SMALL 256 /* read buffer while a request is still going out */
/* Requests written ahead behind the leader (wisp/config.h). At 0 every test of the
 * pipe below is constant-false and the compiler drops the pipelining code. */
#define PIPE_MAX (WISP_H1_PIPELINE_MAX - 1)

enum conn_state {
    CS_DOWN,       /* no socket */
    CS_BACKOFF,    /* no socket, nailed: waiting to reconnect */
    CS_RESOLVING,  /* name lookup */
    CS_CONNECTING, /* TCP connect */
    CS_HANDSHAKE,  /* TLS handshake */
    CS_IDLE,       /* socket up, no exchange running */
    CS_SENDING,    /* the leader's request is going out (its answer may start early) */
    CS_RECEIVING   /* the leader's request is sent, its answer is being read; requests
                      written ahead (the pipe) may follow it */
};

#if WISP_LOG_LEVEL >= 3 /* named in info and debug lines only */
static const char *const state_names[] = {"down",      "backoff", "resolving", "connecting",
                                          "handshake", "idle",    "sending",   "receiving"};
#endif

/* What the connection's one timer means in a state. */
enum timer_role { T_NONE, T_CONNECT, T_RETRY, T_IDLE };

struct wisp__h1_conn {
    wisp__h1_conn_t *next;
    wisp_context_t *cx;
    wisp__vhost_t *vhost; /* own reference, NULL for plaintext */
    char *host;
    uint16_t port;
    uint8_t tls_on;
    uint8_t shareable;  /* key: transactions may share this connection */
    uint8_t keepable;   /* socket: it may carry another request */
    uint8_t nopipe;     /* key: the server failed a pipeline, depth 1 from now on */
    uint8_t head_piped; /* socket: the leader's request was written ahead of an answer */
    uint8_t rx_dry;     /* socket: read until drained, and poll has not flagged it since */
    uint8_t pipe_n;     /* requests in pipe[] */
    uint16_t pipe_head; /* bit i: pipe[i] is a HEAD (its answer has no body) */
    uint8_t state;      /* enum conn_state, changed only by to() */
    uint8_t body_eom;   /* the last body piece is in out[] */
    uint8_t naddr, addr_i;
    uint16_t nailed; /* nailed_up streams holding the connection up */
    uint32_t served; /* responses completed on the current socket: > 0 is reuse */
    uint32_t nail_connect_ms, nail_retry_ms;
    uint32_t keepalive_ms; /* of the last transaction: how long to keep it idle */
    uint64_t body_left;    /* Content-Length bytes still to come from the app */
    wisp__h1_link_t link;  /* the socket and TLS session (lib/http1/link.c) */
    wisp__resolve_t *res;
    wisp_addr_t addr[WISP_RESOLVE_MAX_ADDRS];
    wisp__timer_t timer; /* see timer_role() */
    wisp__defer_t kick;
    wisp__h1_txn_t *leader, *qhead, *qtail;
    /* Written ahead, oldest first: their answers follow the leader's, in order. A
     * txn cancelled there is replaced by &ghost, whose answer is read and dropped. */
    wisp__h1_txn_t *pipe[PIPE_MAX > 0 ? PIPE_MAX : 1];
    wisp__h1_txn_t ghost;
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

static enum timer_role timer_role(uint8_t st)
{
    switch (st) {
    case CS_RESOLVING:
    case CS_CONNECTING:
    case CS_HANDSHAKE:
        return T_CONNECT;
    case CS_BACKOFF:
        return T_RETRY;
    case CS_IDLE:
        return T_IDLE;
    default:
        return T_NONE;
    }
}

/* The one transition function. A timer armed for the old state's role is stopped
 * when the role changes (the connect timeout runs across resolve, TCP and TLS). */
static void to(wisp__h1_conn_t *c, enum conn_state st)
{
    if (c->state == st)
        return;
    WISP_LOGD(c->cx, "%s:%u: %s -> %s", c->host, c->port, state_names[c->state], state_names[st]);
    if (timer_role(c->state) != timer_role((uint8_t)st))
        wisp__timer_stop(c->cx, &c->timer);
    c->state = (uint8_t)st;
}

static int exchanging(const wisp__h1_conn_t *c)
{
    return c->state == CS_SENDING || c->state == CS_RECEIVING;
}

/* ---- Queue: doubly linked so that cancelling any txn is O(1) ---- */

static void enqueue(wisp__h1_conn_t *c, wisp__h1_txn_t *t, int front)
{
    t->conn = c;
    if (front) {
        t->prev = NULL;
        t->next = c->qhead;
        if (c->qhead)
            c->qhead->prev = t;
        else
            c->qtail = t;
        c->qhead = t;
        return;
    }
    t->next = NULL;
    t->prev = c->qtail;
    if (c->qtail)
        c->qtail->next = t;
    else
        c->qhead = t;
    c->qtail = t;
}

static void unqueue(wisp__h1_conn_t *c, wisp__h1_txn_t *t)
{
    if (t->prev)
        t->prev->next = t->next;
    else
        c->qhead = t->next;
    if (t->next)
        t->next->prev = t->prev;
    else
        c->qtail = t->prev;
    t->next = t->prev = NULL;
}

static wisp__h1_txn_t *dequeue(wisp__h1_conn_t *c)
{
    wisp__h1_txn_t *t = c->qhead;

    if (t)
        unqueue(c, t);
    return t;
}

/* ---- The pipe: requests written ahead of the leader's answer (SPEC §7) ---- */

static int is_ghost(const wisp__h1_conn_t *c, const wisp__h1_txn_t *t)
{
    return PIPE_MAX > 0 && t == &c->ghost;
}

/* Requests in the pipe (0 when pipelining is compiled out). */
static int pipe_count(const wisp__h1_conn_t *c)
{
    return PIPE_MAX > 0 ? c->pipe_n : 0;
}

static int pipe_slot(const wisp__h1_conn_t *c, const wisp__h1_txn_t *t)
{
    int i;

    for (i = 0; i < pipe_count(c); i++)
        if (c->pipe[i] == t)
            return i;
    return -1;
}

static void pipe_push(wisp__h1_conn_t *c, wisp__h1_txn_t *t)
{
    if (t->head_request)
        c->pipe_head = (uint16_t)(c->pipe_head | (1u << c->pipe_n));
    else
        c->pipe_head = (uint16_t)(c->pipe_head & ~(1u << c->pipe_n));
    c->pipe[c->pipe_n++] = t;
}

/* The oldest written-ahead txn; *head says whether it was a HEAD. */
static wisp__h1_txn_t *pipe_pop(wisp__h1_conn_t *c, uint8_t *head)
{
    wisp__h1_txn_t *t = c->pipe[0];

    *head = (uint8_t)(c->pipe_head & 1u);
    c->pipe_head = (uint16_t)(c->pipe_head >> 1);
    c->pipe_n--;
    memmove(c->pipe, c->pipe + 1, c->pipe_n * sizeof(c->pipe[0]));
    return t;
}

/* The socket is going (or cannot carry the pipe): requests written ahead got no
 * byte of their answer — only the leader's can have started — so they go back to
 * the front of the queue, in order, to be sent again (not counted as retries). */
static void unpipe(wisp__h1_conn_t *c)
{
    while (pipe_count(c)) {
        wisp__h1_txn_t *t = c->pipe[--c->pipe_n];

        if (!is_ghost(c, t))
            enqueue(c, t, 1);
    }
    c->pipe_head = 0;
}

/* How many requests may be in flight with t among them: 1 unless t may be
 * pipelined (a GET or HEAD without body, on a key not known to fail at it). */
static int depth_of(const wisp__h1_conn_t *c, const wisp__h1_txn_t *t)
{
    if (PIPE_MAX == 0 || c->nopipe || t->body_len != 0 || t->pipeline_depth < 2)
        return 1;
    return t->pipeline_depth < PIPE_MAX + 1 ? t->pipeline_depth : PIPE_MAX + 1;
}

/* How many may be in flight with the queue head written ahead: the smaller of its
 * depth and the leader's; 1 when it may not be written ahead now (the leader's
 * request is not out yet, something is half written, the socket may not be kept). */
static int pipe_limit(const wisp__h1_conn_t *c)
{
    const wisp__h1_txn_t *t = c->qhead;
    int d;

    if (!t || !c->leader || c->state != CS_RECEIVING || !c->keepable || !c->shareable ||
        c->out_off < c->out_len)
        return 1;
    d = depth_of(c, t);
    return d < depth_of(c, c->leader) ? d : depth_of(c, c->leader);
}

/* May the queue head be written now, ahead of the answers still to come? */
static int may_pipe(const wisp__h1_conn_t *c)
{
    return 1 + c->pipe_n < pipe_limit(c);
}

/* Start writing ahead? Once a pipe is running, a refill waits until at most half
 * the depth is in flight, then fills it: the requests leave several per send and
 * the server reads them several per read, instead of one each per answer. */
static int may_refill(const wisp__h1_conn_t *c)
{
    return may_pipe(c) && (!c->pipe_n || 2 * (1 + c->pipe_n) <= pipe_limit(c));
}

#if WISP_H1_PIPELINE_MAX > 1
/* The set that remembers "does not pipeline" for this key: the vhost's (TLS), or the
 * context's (plaintext). Compiled (like the set in lib/vhost) only with pipelining. */
static void nopipe_slot_free(wisp_context_t *cx, void *set)
{
    wisp__hostport_t *p = set;

    wisp__hostport_free(cx, &p);
}

static wisp__hostport_t **nopipe_set(wisp__h1_conn_t *c)
{
    if (c->vhost)
        return wisp__vhost_nopipe(c->vhost);
    wisp__slot_set_destroy(c->cx, WISP_SLOT_H1_NOPIPE, nopipe_slot_free);
    return (wisp__hostport_t **)wisp__slot_ptr(c->cx, WISP_SLOT_H1_NOPIPE);
}
#endif

/* A socket ended while requests written ahead were unanswered: the server does not
 * pipeline (or not reliably). The key goes at depth 1 for the rest of the vhost's
 * life (the context's, without TLS). Without memory for the set, the connection
 * object still remembers it while it lives. */
static void no_pipelining(wisp__h1_conn_t *c)
{
    if (c->nopipe)
        return;
    WISP_LOGI(c->cx, "%s:%u: pipeline lost; depth 1 for this server from now on", c->host, c->port);
    c->nopipe = 1;
#if WISP_H1_PIPELINE_MAX > 1
    (void)wisp__hostport_add(c->cx, nopipe_set(c), c->host, c->port);
#endif
}

/* Requests written ahead are in flight: the leader's (unless it was first) and the
 * pipe's. */
static int piped(const wisp__h1_conn_t *c)
{
    return PIPE_MAX > 0 && (c->head_piped || c->pipe_n);
}

#if WISP_H1_PIPELINE_MAX > 1
/* The ghost stands in the pipe for a cancelled txn: its answer is parsed (to find
 * where the next begins) and dropped. None of its ops reaches anyone. */
static void g_void(wisp__h1_txn_t *t)
{
    (void)t;
}

static int g_head(wisp__h1_txn_t *t, wisp__h1_out_t *w, const char *host)
{
    (void)t;
    (void)w;
    (void)host;
    return WISP_EINTERNAL;
}

static int g_body(wisp__h1_txn_t *t, uint8_t *buf, size_t *len, int *eom)
{
    (void)t;
    (void)buf;
    (void)len;
    (void)eom;
    return WISP_EINTERNAL;
}

static int g_status(wisp__h1_txn_t *t, int status)
{
    (void)t;
    (void)status;
    return 0;
}

static int g_header(wisp__h1_txn_t *t, const char *n, size_t nl, const char *v, size_t vl)
{
    (void)t;
    (void)n;
    (void)nl;
    (void)v;
    (void)vl;
    return 0;
}

static int g_done_head(wisp__h1_txn_t *t)
{
    (void)t;
    return 0;
}

static int g_data(wisp__h1_txn_t *t, const uint8_t *d, size_t len)
{
    (void)t;
    (void)d;
    (void)len;
    return 0;
}

static void g_failed(wisp__h1_txn_t *t, int err, int sent)
{
    (void)t;
    (void)err;
    (void)sent;
}

static const wisp__h1_txn_ops_t ghost_ops = {g_void,   g_void,      g_head, g_body, g_status,
                                             g_header, g_done_head, g_data, g_void, g_failed};
#endif

/* ---- Calls out (rule 1: detach first) ---- */

static void out_connecting(wisp__h1_txn_t *t)
{
    t->ops->on_connecting(t);
}

static void out_connected(wisp__h1_txn_t *t)
{
    t->ops->on_connected(t);
}

/* The leader leaves, then hears why. */
static void out_failed(wisp__h1_conn_t *c, int err, int sent)
{
    wisp__h1_txn_t *t = c->leader;

    if (!t)
        return;
    c->leader = NULL;
    t->conn = NULL;
    t->ops->on_failed(t, err, sent);
}

/* t (the leader whose answer completed; the pipe may have moved on) leaves, then
 * hears it. */
static void out_done(wisp__h1_conn_t *c, wisp__h1_txn_t *t)
{
    if (PIPE_MAX == 0 || c->leader == t)
        c->leader = NULL;
    t->conn = NULL;
    t->ops->on_done(t);
}

/* A txn that is not the leader (one taken for the pipe) leaves, then hears why. */
static void out_failed_txn(wisp__h1_txn_t *t, int err)
{
    t->conn = NULL;
    t->ops->on_failed(t, err, 0);
}

/* Rule 3: splice the leader and the whole queue off, then tell each. */
static void out_fail_all(wisp__h1_conn_t *c, int err)
{
    wisp__h1_txn_t *list = c->leader && !is_ghost(c, c->leader) ? c->leader : NULL, *t;

    unpipe(c);
    if (list) {
        list->next = c->qhead;
        if (c->qhead)
            c->qhead->prev = list;
    } else {
        list = c->qhead;
    }
    c->leader = c->qhead = c->qtail = NULL;
    for (t = list; t; t = t->next)
        t->conn = NULL;
    while ((t = list) != NULL) {
        list = t->next;
        t->next = t->prev = NULL;
        t->ops->on_failed(t, err, 0);
    }
}

/* ---- Socket lifetime ---- */

/* Close the socket, if any, in the fixed order of SPEC §2 (wisp__h1_link_close). */
static void close_socket(wisp__h1_conn_t *c)
{
    wisp__h1_link_close(&c->link);
}

static void sock_down(wisp__h1_conn_t *c, int orderly)
{
    wisp__resolve_cancel(&c->res);
    if (orderly && c->link.tls && c->state >= CS_IDLE)
        wisp__h1_link_goodbye(&c->link);
    close_socket(c);
    to(c, CS_DOWN); /* stops a connect, retry or idle timer: down has none */
    unpipe(c);
    if (c->leader && is_ghost(c, c->leader))
        c->leader = NULL; /* a cancelled txn's answer: nobody waits for it */
    c->served = 0;
    c->keepable = 1;
    c->rx_dry = 0;
    if (PIPE_MAX > 0) {
        c->head_piped = 0;
        c->out_off = c->out_len = 0; /* a pipelined head half out goes with the socket */
    }
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

/* After a failure with nobody waiting, a nailed connection waits before trying
 * again, never in a tight loop. */
static void nailed_backoff(wisp__h1_conn_t *c)
{
    if (c->nailed && !c->leader && !c->qhead && c->state == CS_DOWN) {
        to(c, CS_BACKOFF);
        wisp__timer_start(c->cx, &c->timer, c->nail_retry_ms);
    }
}

static int closed_or_reset(int err)
{
    return err == WISP_ECLOSED || err == WISP_ERESET || err == WISP_ETRUNCATED;
}

/*
 * The keep-alive race (SPEC §7): a request sent on a reused socket that is closed
 * or reset before any byte of its answer arrived was most likely never seen by the
 * server (it closed the idle connection on its own clock). An idempotent request
 * goes again, once, on a fresh connection, without counting as a retry; any other
 * gets WISP_ESTALE so the app decides. Returns 1 when the leader was requeued.
 */
static int keepalive_race(wisp__h1_conn_t *c, int *err)
{
    wisp__h1_txn_t *t = c->leader;

    if (!t || is_ghost(c, t) || !exchanging(c) || !c->served || wisp__h1_resp_started(&c->resp) ||
        !closed_or_reset(*err))
        return 0;
    if (!t->idempotent) {
        *err = WISP_ESTALE;
        return 0;
    }
    if (t->resent)
        return 0;
    WISP_LOGI(c->cx, "%s:%u: reused connection closed before any answer; sending again", c->host,
              c->port);
    t->resent = 1;
    c->leader = NULL;
    enqueue(c, t, 1);
    return 1;
}

/*
 * The pipelining fallback (SPEC §7): a leader whose request was written ahead and
 * that got no byte of its answer — or only bytes that do not even make a status
 * line, which a server that mishandles a pipeline sends — goes again at the front,
 * not counted as a retry and whatever its resent flag says. It is a GET or HEAD (the
 * only requests written ahead), and the key is at depth 1 from now on, so this
 * happens once per request. Returns 1 when the leader was requeued.
 */
static int pipe_race(wisp__h1_conn_t *c, int err)
{
    wisp__h1_txn_t *t = c->leader;

    if (PIPE_MAX == 0 || !t || is_ghost(c, t) || !c->head_piped || !exchanging(c))
        return 0;
    /* Nothing of its answer, or nothing that made a status line. */
    if (!((closed_or_reset(err) && !wisp__h1_resp_started(&c->resp)) ||
          (err == WISP_EPROTO && !wisp__h1_resp_status(&c->resp))))
        return 0;
    WISP_LOGI(c->cx, "%s:%u: pipelined request got no answer; sending again", c->host, c->port);
    c->leader = NULL;
    enqueue(c, t, 1);
    return 1;
}

static void conn_error(wisp__h1_conn_t *c, int err)
{
    int sent = exchanging(c);

    WISP_LOGI(c->cx, "%s:%u: connection %s (%s): %s", c->host, c->port,
              c->state >= CS_IDLE ? "lost" : "failed", state_names[c->state], wisp_strerror(err));
    if (WISP_IS_ECERT(err)) {
        /* Retrying cannot make a certificate verify (whatever its reason): fail
         * everyone on this key. */
        if (c->vhost)
            wisp__vhost_session_drop(c->vhost, c->host, c->port);
        sock_down(c, 0);
        out_fail_all(c, err);
    } else {
        /* The server ended the exchange (or broke its framing) with requests written
         * ahead unanswered: no pipelining for this key any more. Those requests go
         * back to the queue first, then the leader, ahead of them, if it may go again. */
        if (sent && piped(c) && (closed_or_reset(err) || err == WISP_EPROTO))
            no_pipelining(c);
        unpipe(c);
        if (pipe_race(c, err) || keepalive_race(c, &err)) {
            sock_down(c, 0);
        } else {
            sock_down(c, 0);
            out_failed(c, err, sent);
        }
    }
    nailed_backoff(c);
    schedule(c);
}

/* ---- TLS sessions ---- */

/* A resumable session exists: at the end of a TLS 1.2 handshake, and under TLS 1.3
 * each time a NewSessionTicket arrives (after the handshake). The vhost keeps the
 * newest per host:port. */
static void session_sink(void *user, wisp__tls_session_t *sess)
{
    wisp__h1_conn_t *c = user;

    wisp__vhost_session_put(c->vhost, c->host, c->port, sess);
}

/* ---- Response parser glue: forwards to the leader (calls out, rule 2) ---- */

static int p_status(void *u, int status, const char *reason, size_t rlen)
{
    wisp__h1_conn_t *c = u;

    (void)reason;
    (void)rlen;
    return c->leader ? c->leader->ops->on_status(c->leader, status) : WISP_ECANCELED;
}

static int p_header(void *u, const char *n, size_t nl, const char *v, size_t vl)
{
    wisp__h1_conn_t *c = u;

    return c->leader ? c->leader->ops->on_header(c->leader, n, nl, v, vl) : WISP_ECANCELED;
}

static int p_headers_done(void *u)
{
    wisp__h1_conn_t *c = u;

    return c->leader ? c->leader->ops->on_headers_done(c->leader) : WISP_ECANCELED;
}

static int p_body(void *u, const uint8_t *d, size_t len)
{
    wisp__h1_conn_t *c = u;

    return c->leader ? c->leader->ops->on_data(c->leader, d, len) : WISP_ECANCELED;
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

/* The socket was read until drained, poll has not flagged it since (it is
 * level-triggered: data or EOF would have), and TLS holds nothing: a read now could
 * only return WISP_EAGAIN. Events are dispatched before deferred work in each loop
 * iteration, so a close that arrived before this iteration's poll was seen. */
static int nothing_to_read(const wisp__h1_conn_t *c)
{
    return c->rx_dry && !wisp__h1_link_pending(&c->link);
}

/*
 * Before a kept-alive socket carries another request: nothing may be waiting on it.
 * Bytes here were never asked for (a server answering twice) and would be taken for
 * the next response; EOF or an error means the server closed it while idle. Either
 * way the socket is dropped before the request is sent. Returns nonzero if dropped.
 */
static int drop_if_dirty(wisp__h1_conn_t *c)
{
    uint8_t junk[64];
    int n;

    if (!c->served || nothing_to_read(c))
        return 0;
    n = wisp__h1_link_read(&c->link, junk, sizeof(junk));
    if (n == WISP_EAGAIN) {
        c->rx_dry = 1;
        return 0;
    }
    WISP_LOGI(c->cx, "%s:%u: kept-alive connection %s; reconnecting", c->host, c->port,
              n > 0 ? "had unsolicited bytes" : "was closed by the server");
    sock_down(c, 0);
    return 1;
}

/* The parser, fresh for the leader's answer. */
static void resp_start(wisp__h1_conn_t *c, uint8_t head_request)
{
    wisp__h1_resp_cfg_t cfg;

    memset(&cfg, 0, sizeof(cfg));
    cfg.cb = &resp_cbs;
    cfg.user = c;
    cfg.head_request = head_request;
    wisp__h1_resp_init(&c->resp, &cfg);
}

/* The leader gets the idle socket: CONNECTED, then its request goes out. */
static void begin(wisp__h1_conn_t *c)
{
    wisp__h1_txn_t *t = c->leader;
    int ret;

    if (drop_if_dirty(c)) {
        c->leader = NULL;
        enqueue(c, t, 1); /* nothing was sent: it leads a fresh socket */
        schedule(c);
        return;
    }
    resp_start(c, t->head_request);
    if (PIPE_MAX > 0)
        c->head_piped = 0;
    if (c->served)
        wisp__stats(c->cx)->reuses++;
    wisp__timer_stop(c->cx, &c->timer); /* no keep-alive countdown under a leader */
    out_connected(t);
    if (c->leader != t || c->state != CS_IDLE)
        return; /* cancelled inside CONNECTED: the socket is still idle, kick decides */
    ret = build_head(c, t);
    if (ret) {
        WISP_LOGW(c->cx, "%s:%u: request head: %s", c->host, c->port, wisp_strerror(ret));
        /* Nothing was sent: the socket stays good for the next one. */
        out_failed(c, ret, 0);
        schedule(c);
        return;
    }
    c->body_left = t->body_len > 0 ? (uint64_t)t->body_len : 0;
    c->body_eom = 0;
    c->keepalive_ms = t->keepalive_ms;
    to(c, CS_SENDING);
    pump(c);
}

/* Fill c->out with the next body piece, framed for chunked when the length is unknown.
 * Calls out (on_body): the caller re-checks the leader. */
static int next_body(wisp__h1_conn_t *c, wisp__h1_txn_t *t)
{
    int chunked = t->body_len < 0, eom = 0, ret;
    size_t len = wisp__h1_piece_room(sizeof(c->out), chunked);

    ret = t->ops->on_body(t, c->out + wisp__h1_piece_pre(chunked), &len, &eom);
    if (c->leader != t)
        return 0;
    if (ret)
        return ret;
    ret = wisp__h1_piece_frame(c->out, sizeof(c->out), len, eom, chunked,
                               chunked ? NULL : &c->body_left, &c->out_off, &c->out_len);
    if (!ret)
        c->body_eom = (uint8_t)(eom != 0);
    return ret;
}

/* Write what out[] holds. 0 when it is all out, WISP_EAGAIN when blocked. */
static int flush_out(wisp__h1_conn_t *c)
{
    while (c->out_off < c->out_len) {
        int n = wisp__h1_link_write(&c->link, c->out + c->out_off, c->out_len - c->out_off);

        if (n < 0)
            return n;
        c->out_off += (size_t)n;
    }
    return 0;
}

/*
 * Pipelining: while the leader's answer is awaited, queued GET/HEAD requests are
 * written ahead, up to the depth (SPEC §7). Each is CONNECTED first (a call out:
 * rule 2), then its head goes into out[] and out. The socket layer coalesces the
 * heads written in one iteration into one send. 0 when done or blocked.
 */
static int fill_pipe(wisp__h1_conn_t *c)
{
    int ret = flush_out(c);

    if (ret)
        return ret == WISP_EAGAIN ? 0 : ret;
    if (!may_refill(c))
        return 0;
    while (may_pipe(c)) {
        wisp__h1_txn_t *t = dequeue(c);
        int n;

        t->conn = c;
        t->told_connecting = 0;
        pipe_push(c, t);
        n = c->pipe_n;
        wisp__stats(c->cx)->reuses++; /* it shares the socket and its handshake */
        out_connected(t);
        /* Re-read (rule 2): cancelled inside CONNECTED, nothing of it was written
         * yet, so its ghost leaves too; or the socket went (the leader cancelled). */
        if (c->state != CS_RECEIVING)
            return 0;
        if (c->pipe_n == n && is_ghost(c, c->pipe[n - 1])) {
            c->pipe_n--;
            continue;
        }
        ret = build_head(c, t);
        if (ret) {
            WISP_LOGW(c->cx, "%s:%u: request head: %s", c->host, c->port, wisp_strerror(ret));
            c->pipe_n--; /* nothing was written: the socket stays good */
            out_failed_txn(t, ret);
            continue;
        }
        WISP_LOGD(c->cx, "%s:%u: request written ahead (%d in flight)", c->host, c->port,
                  1 + c->pipe_n);
        ret = flush_out(c);
        if (ret)
            return ret == WISP_EAGAIN ? 0 : ret;
    }
    return 0;
}

/* Send what is pending of the request, then fill the pipe; 0 when blocked or
 * finished, else an error. */
static int pump_tx(wisp__h1_conn_t *c)
{
    while (c->state == CS_SENDING) {
        wisp__h1_txn_t *t = c->leader;
        int ret = flush_out(c);

        if (ret)
            return ret == WISP_EAGAIN ? 0 : ret;
        if (t->body_len == 0 || c->body_eom) {
            to(c, CS_RECEIVING);
            break;
        }
        ret = next_body(c, t);
        if (c->leader != t)
            return 0; /* cancelled from its tx callback */
        if (ret == WISP_EAGAIN)
            return 0; /* wisp__h1_resume() brings us back */
        if (ret)
            return ret;
    }
    return PIPE_MAX > 0 && c->state == CS_RECEIVING ? fill_pipe(c) : 0;
}

/* The oldest written-ahead request leads now: its answer comes next. */
static void pipe_advance(wisp__h1_conn_t *c)
{
    uint8_t head;
    wisp__h1_txn_t *t = pipe_pop(c, &head);

    c->leader = t;
    c->head_piped = 1;
    if (!is_ghost(c, t))
        c->keepalive_ms = t->keepalive_ms;
    resp_start(c, head);
}

/* The leader's answer is complete. With the pipe non-empty the next answer follows
 * on the same socket (bytes past this one, or held by TLS, are its start). */
static void complete(wisp__h1_conn_t *c)
{
    wisp__h1_txn_t *t = c->leader;
    int more = pipe_count(c) > 0;
    int keep = c->keepable && c->shareable && c->state == CS_RECEIVING &&
               wisp__h1_resp_keepalive(&c->resp) && (more || !wisp__h1_link_pending(&c->link));

    c->served++;
    if (!is_ghost(c, t))
        wisp__stats(c->cx)->transactions++;
    if (keep && more) {
        pipe_advance(c);
    } else if (keep) {
        to(c, CS_IDLE);
    } else {
        if (more)
            no_pipelining(c); /* e.g. "Connection: close" with requests written ahead */
        sock_down(c, 1);      /* they go back to the queue (unpipe) */
    }
    out_done(c, t);
    schedule(c);
}

/* The transport ended (n is 0, an error, or WISP_ETRUNCATED) while a response ran. */
static int rx_end(wisp__h1_conn_t *c, int n)
{
    int eof = n == 0 || n == WISP_ECLOSED;
    int ret = eof ? wisp__h1_resp_eof(&c->resp) : n;

    if (!ret && wisp__h1_resp_is_done(&c->resp)) {
        complete(c); /* a body delimited by the close (over TLS: by close_notify) */
        return 0;
    }
    /* Cut short by the peer closing: say that, not "malformed". */
    if (ret == WISP_EPROTO && eof)
        ret = WISP_ECLOSED;
    return ret ? ret : WISP_ECLOSED;
}

/* A read returned less than asked. Without TLS the socket is drained. With TLS
 * that is one record: mbedTLS reads a record's header, then exactly its body, so
 * only the socket's read-ahead knows whether another waits in the kernel (its last
 * read came back short: WISP_SOCK_READAHEAD); otherwise the socket is not marked (a
 * server's unsolicited answer after the last one must still be found by the
 * kept-alive check before the next request goes). */
static void short_read(wisp__h1_conn_t *c)
{
    if ((!c->link.tls || wisp__sock_drained(&c->link.sock)) && !wisp__h1_link_pending(&c->link))
        c->rx_dry = 1;
}

/* Read and parse until the socket is drained. Returns 0 or an error. */
static int pump_rx(wisp__h1_conn_t *c)
{
    uint8_t small[RX_SMALL];

    for (;;) {
        /* Once no request is going out, out[] is free to take the response (at
         * depth 1 it always is in RECEIVING; a pipelined head may be half out). */
        int big = c->state == CS_RECEIVING && (PIPE_MAX == 0 || c->out_off >= c->out_len);
        /* cppcheck-suppress legacyUninitvar ; small is only read into */
        uint8_t *buf = big ? c->out : small;
        size_t cap = big ? sizeof(c->out) : sizeof(small), off = 0;
        int n;

        if (nothing_to_read(c))
            return 0;
        n = wisp__h1_link_read(&c->link, buf, cap);
        if (n == WISP_EAGAIN) {
            c->rx_dry = 1;
            return 0;
        }
        if (!c->leader || !exchanging(c)) {
            /* Bytes or EOF on a socket with no exchange: it is done for. */
            WISP_LOGD(c->cx, "%s:%u: idle connection %s", c->host, c->port,
                      n > 0 ? "got unsolicited bytes" : "closed");
            sock_down(c, 0);
            schedule(c);
            return 0;
        }
        if (n <= 0)
            return rx_end(c, n);
        while (off < (size_t)n) {
            wisp__h1_txn_t *t = c->leader;
            size_t used = 0;
            int ret = wisp__h1_resp_feed(&c->resp, buf + off, (size_t)n - off, &used);

            if (c->leader != t || !exchanging(c))
                return 0; /* cancelled from a callback: cancel closed what it had to */
            if (ret)
                return ret;
            off += used;
            if (wisp__h1_resp_is_done(&c->resp)) {
                /* Bytes past the response were never asked for, unless a request
                 * was written ahead: then they are its answer. */
                if (off < (size_t)n && !pipe_count(c))
                    c->keepable = 0;
                if (off == (size_t)n && (size_t)n < cap)
                    short_read(c); /* the next request's dirty check need not read */
                complete(c);
                if (c->state != CS_RECEIVING)
                    return 0;
                continue; /* the pipe's next answer; re-read the leader (rule 2) */
            }
            if (!used)
                return WISP_EPROTO;
        }
        /* A short read drained the socket (poll is level-triggered and says when
         * more arrives): reading again now would only cost an EAGAIN. */
        if ((size_t)n < cap && !wisp__h1_link_pending(&c->link)) {
            short_read(c);
            return 0;
        }
    }
}

static void pump(wisp__h1_conn_t *c)
{
    int ret = 0;

    if (exchanging(c))
        ret = pump_tx(c);
    if (!ret && c->state >= CS_IDLE)
        ret = pump_rx(c);
    if (PIPE_MAX > 0 && !ret && c->state == CS_RECEIVING)
        ret = fill_pipe(c); /* answers read: room in the pipe */
    if (ret)
        conn_error(c, ret);
}

/* ---- Connection setup: resolve, connect, handshake ---- */

static void handshake(wisp__h1_conn_t *c)
{
    int ret = wisp__h1_link_handshake(&c->link);

    if (ret == WISP_EAGAIN)
        return;
    if (ret) {
        conn_error(c, ret);
        return;
    }
    WISP_LOGD(c->cx, "%s:%u: TLS %s (%s)", c->host, c->port,
              wisp__tls_resumed(c->link.tls) ? "resumed" : "full handshake",
              wisp__tls_ciphersuite(c->link.tls));
    to(c, CS_IDLE);
    schedule(c);
}

static int connect_next(wisp__h1_conn_t *c);

static void sock_event(wisp__sock_t *s, int ev, int err)
{
    wisp__h1_conn_t *c = s->user;

    if (ev == WISP_SOCK_READABLE)
        c->rx_dry = 0; /* data, EOF or an error waits: the next read sees it */
    if (ev == WISP_SOCK_ERROR) {
        conn_error(c, err);
        return;
    }
    if (ev == WISP_SOCK_CONNECTED) {
        if (err) {
            WISP_LOGD(c->cx, "%s:%u: connect: %s", c->host, c->port, wisp_strerror(err));
            /* Close this attempt without leaving the connect phase (or its timer). */
            close_socket(c);
            while (++c->addr_i < c->naddr)
                if (connect_next(c) == 0)
                    return;
            conn_error(c, err);
            return;
        }
        wisp__sock_want_read(s, 1);
        if (!c->tls_on) {
            to(c, CS_IDLE);
            schedule(c);
            return;
        }
        to(c, CS_HANDSHAKE);
    }
    if (c->state == CS_HANDSHAKE)
        handshake(c);
    else if (c->state >= CS_IDLE)
        pump(c);
}

static int connect_next(wisp__h1_conn_t *c)
{
    const wisp__tls_session_t *sess;
    int ret;

    wisp__h1_link_init(c->cx, &c->link, sock_event, c);
    ret = wisp__h1_link_connect(&c->link, &c->addr[c->addr_i]);
    if (ret)
        return ret;
    to(c, CS_CONNECTING);
    if (!c->tls_on)
        return 0;
    ret = wisp__h1_link_tls(&c->link, wisp__vhost_tls(c->vhost), c->host, session_sink, c);
    if (ret) {
        close_socket(c);
        return ret;
    }
    wisp__sock_readahead(&c->link.sock); /* one recv() per record, and short means drained */
    sess = wisp__vhost_session(c->vhost, c->host, c->port);
    if (sess && wisp__tls_set_session(c->link.tls, sess))
        wisp__vhost_session_drop(c->vhost, c->host, c->port);
    return 0;
}

static void resolved(void *arg, int status, const wisp_addr_t *addrs, size_t n)
{
    wisp__h1_conn_t *c = arg;
    int ret = WISP_EDNS;

    c->res = NULL;
    if (status || !n) {
        conn_error(c, status ? status : WISP_EDNS);
        return;
    }
    c->naddr = (uint8_t)(n < WISP_RESOLVE_MAX_ADDRS ? n : WISP_RESOLVE_MAX_ADDRS);
    memcpy(c->addr, addrs, c->naddr * sizeof(*addrs));
    for (c->addr_i = 0; c->addr_i < c->naddr; c->addr_i++)
        if ((ret = connect_next(c)) == 0)
            return;
    conn_error(c, ret);
}

static void timer_fired(wisp__timer_t *t)
{
    wisp__h1_conn_t *c = (wisp__h1_conn_t *)((char *)t - offsetof(wisp__h1_conn_t, timer));

    switch (timer_role(c->state)) {
    case T_RETRY:
        to(c, CS_DOWN); /* a nailed connection's reconnect delay is over */
        schedule(c);
        break;
    case T_CONNECT:
        conn_error(c, WISP_ETIMEDOUT);
        break;
    case T_IDLE:
        if (!c->leader && !c->qhead) {
            WISP_LOGD(c->cx, "%s:%u: keep-alive idle timeout", c->host, c->port);
            sock_down(c, 1);
            schedule(c);
        }
        break;
    default:
        break;
    }
}

static void start_socket(wisp__h1_conn_t *c, uint32_t connect_timeout_ms)
{
    int ret;

    to(c, CS_RESOLVING);
    if (connect_timeout_ms)
        wisp__timer_start(c->cx, &c->timer, connect_timeout_ms);
    ret = wisp__resolve_start(c->cx, c->host, c->port, resolved, c, &c->res);
    if (ret)
        conn_error(c, ret);
}

/* ---- The one place that decides what runs next (deferred: rule 4) ---- */

/* The queue head leads: CONNECTING (unless its owner said so already), and a socket
 * is set up for it if none is on the way. */
static void promote(wisp__h1_conn_t *c)
{
    wisp__h1_txn_t *t = dequeue(c);
    int tell = !t->told_connecting;

    t->told_connecting = 0;
    t->conn = c;
    c->leader = t;
    if (c->state == CS_IDLE) {
        begin(c);
        return;
    }
    if (tell)
        out_connecting(t);
    /* Re-read (rule 2): the callback may have cancelled t, or destroyed more. */
    if (c->leader && (c->state == CS_DOWN || c->state == CS_BACKOFF))
        start_socket(c, c->leader->connect_timeout_ms);
}

static void kick(wisp__defer_t *d)
{
    wisp__h1_conn_t *c = (wisp__h1_conn_t *)((char *)d - offsetof(wisp__h1_conn_t, kick));

    if (c->leader) {
        if (c->state == CS_IDLE)
            begin(c);
        else if (c->state == CS_SENDING)
            pump(c); /* a body source resumed */
        else if (PIPE_MAX > 0 && c->state == CS_RECEIVING && may_refill(c))
            pump(c); /* queued behind a pipeline with room */
        else if (c->state == CS_DOWN || c->state == CS_BACKOFF)
            start_socket(c, c->leader->connect_timeout_ms); /* lost before its exchange */
        return;
    }
    if (c->qhead) {
        promote(c);
        return;
    }
    if (c->nailed) {
        /* Held up by nailed_up streams: connected or reconnecting, never idle. */
        if (c->state == CS_DOWN)
            start_socket(c, c->nail_connect_ms);
        return;
    }
    if (c->state == CS_IDLE && c->keepable && c->shareable && c->keepalive_ms) {
        /* Idle: keep the socket (and the vhost) for keepalive_ms. */
        if (!c->timer.armed)
            wisp__timer_start(c->cx, &c->timer, c->keepalive_ms);
        return;
    }
    /* Nobody needs it: an idle socket that may not be kept, or a setup whose leader
     * went away (a stream destroyed while its name resolved connects for no one). */
    conn_free(c);
}

/* ---- Public entry points ---- */

/* Context teardown: the streams are gone; close what is left (idle keep-alives). */
static void conns_destroy_all(wisp_context_t *cx, void *head)
{
    wisp__h1_conn_t *c;

    (void)head;
    while ((c = *conns(cx)) != NULL) {
        wisp__h1_txn_t *t;

        unpipe(c);
        while ((t = dequeue(c)) != NULL)
            t->conn = NULL;
        if (c->leader)
            c->leader->conn = NULL;
        c->leader = NULL;
        conn_free(c);
    }
}

static int same_key(const wisp__h1_conn_t *c, const wisp__h1_key_t *k)
{
    return c->shareable && c->vhost == k->vhost && c->port == k->port && c->tls_on == k->tls &&
           !strcmp(c->host, k->host);
}

static wisp__h1_conn_t *find_or_new(wisp_context_t *cx, uint8_t shareable, const wisp__h1_key_t *k)
{
    wisp__h1_conn_t *c = NULL;

    if (shareable)
        for (c = *conns(cx); c && !same_key(c, k); c = c->next)
            ;
    if (c)
        return c;
    c = wisp__zalloc(cx, sizeof(*c));
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
    c->shareable = shareable;
    c->keepable = 1;
    c->vhost = k->vhost;
    wisp__vhost_ref(c->vhost);
#if WISP_H1_PIPELINE_MAX > 1
    c->nopipe = (uint8_t)wisp__hostport_has(*nopipe_set(c), c->host, c->port);
    c->ghost.ops = &ghost_ops;
    c->ghost.pipeline_depth = WISP_POLICY_PIPELINE_MAX; /* a ghost leader holds up no pipe */
#endif
    wisp__h1_link_init(cx, &c->link, sock_event, c);
    wisp__timer_init(&c->timer, timer_fired);
    wisp__defer_init(&c->kick, kick);
    c->next = *conns(cx);
    *conns(cx) = c;
    wisp__slot_set_destroy(cx, WISP_SLOT_H1, conns_destroy_all);
    return c;
}

int wisp__h1_submit(wisp_context_t *cx, wisp__h1_txn_t *t, const wisp__h1_key_t *key)
{
    wisp__h1_conn_t *c;
    int behind;

    if (!cx || !t || !t->ops || !key || !key->host || (key->tls && !key->vhost) || t->conn)
        return WISP_EINVAL;
    c = find_or_new(cx, t->reuse, key);
    if (!c)
        return WISP_ENOMEM;
    /* Queued means: someone else leads this connection, or is ahead of us. A txn
     * first in line on a connection that must be set up leads it, and its owner
     * reports CONNECTING now, so the states come in order (the leader's CONNECTING
     * before any follower's QUEUED). */
    behind = c->leader != NULL || c->qhead != NULL;
    t->told_connecting = !behind && (c->state == CS_DOWN || c->state == CS_BACKOFF);
    enqueue(c, t, 0);
    schedule(c);
    if (behind)
        return WISP__H1_SUBMIT_QUEUED;
    return t->told_connecting ? WISP__H1_SUBMIT_CONNECTING : WISP__H1_SUBMIT_READY;
}

void wisp__h1_cancel(wisp__h1_txn_t *t)
{
    wisp__h1_conn_t *c;
    int i;

    if (!t || !(c = t->conn))
        return;
    i = pipe_slot(c, t);
    if (i >= 0) {
        /* Written ahead: its answer will come, to be read and dropped. */
        c->pipe[i] = &c->ghost;
        t->conn = NULL;
        return;
    }
    if (t != c->leader) {
        unqueue(c, t);
        t->conn = NULL;
        schedule(c);
        return;
    }
    t->conn = NULL;
    c->leader = NULL;
    /* Mid-exchange the socket cannot carry another request. A socket still being
     * set up carries on for the next in line (kick frees it if there is none). */
    if (exchanging(c))
        sock_down(c, 0);
    schedule(c);
}

void wisp__h1_resume(wisp__h1_txn_t *t)
{
    if (t && t->conn && t->conn->leader == t && t->conn->state == CS_SENDING)
        schedule(t->conn);
}

int wisp__h1_nail(wisp_context_t *cx, const wisp__h1_key_t *key, uint8_t reuse,
                  uint32_t connect_timeout_ms, uint32_t retry_ms, wisp__h1_conn_t **out)
{
    wisp__h1_conn_t *c;

    if (!out)
        return WISP_EINVAL;
    *out = NULL;
    if (!cx || !key || !key->host || (key->tls && !key->vhost))
        return WISP_EINVAL;
    c = find_or_new(cx, reuse, key);
    if (!c)
        return WISP_ENOMEM;
    c->nailed++;
    c->nail_connect_ms = connect_timeout_ms;
    c->nail_retry_ms = retry_ms ? retry_ms : 1000;
    if (c->state == CS_IDLE && !c->leader)
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
        if (c->state == CS_BACKOFF)
            to(c, CS_DOWN);
        schedule(c); /* back to the ordinary keep-alive rules */
    }
}

int wisp__h1_close_idle(wisp_context_t *cx)
{
    wisp__h1_conn_t **pp = conns(cx), *c;
    int n = 0;

    /* cppcheck-suppress uninitvar ; pp points at the context's list head */
    while ((c = *pp) != NULL) {
        if (c->state == CS_IDLE && !c->leader && !c->qhead && !c->nailed) {
            conn_free(c); /* unlinks c: *pp is now its successor */
            n++;
            continue;
        }
        pp = &c->next;
    }
    return n;
}
