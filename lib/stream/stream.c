/*
 * Client secure streams: the state machine of SPEC §6 on top of the h1 client.
 *
 * A stream is the application's handle on one policy stream type. It holds a vhost
 * reference for as long as it lives (TLS types), its metadata values, and one
 * embedded h1 transaction that it submits for each request. The context's streams
 * are a doubly linked list whose head sits in context slot WISP_SLOT_STREAM.
 *
 * One state field, changed only by notify(), which logs the move and calls the
 * application. Whether a transaction cycle is open follows from the state: the
 * idle states are CREATED, DONE, ALL_RETRIES_FAILED and TIMEOUT; DESTROYING is last.
 *
 * A cycle: request_tx -> QUEUED or CONNECTING -> CONNECTED -> ACK/NACK -> rx... ->
 * DONE. Failures before the request went out are CONNECTION_FAILED, after it
 * DISCONNECTED; neither is terminal: each is followed by RETRYING (per the retry
 * policy; a lost request only for idempotent methods) or, with no retry left, by
 * ALL_RETRIES_FAILED at once. So every cycle ends in exactly one of DONE,
 * ALL_RETRIES_FAILED, TIMEOUT — or DESTROYING (SPEC §6).
 *
 * Calls out to the application (the state, rx and tx callbacks) can do anything:
 * destroy this stream or another, request again, destroy the context. Rules:
 *  - every call goes through notify() or rx()/t_body(), and the caller checks
 *    s->state == DESTROYING (or its own expectation) afterwards, never a value it
 *    read before the call;
 *  - destruction marks the stream, takes its transaction off its connection, and
 *    frees it at the end of the loop iteration (deferred), so no callback ever runs
 *    on freed memory;
 *  - a request_tx during an open cycle is remembered (one at most; the next gets
 *    WISP_EBUSY) and served by serve_pending() right after the cycle's terminal state.
 */
#include <string.h>

#include "http1/http1-internal.h"
#include "wisp/stream.h"
#include "stream/stream-internal.h"
#include "vhost/vhost-internal.h"

#define URL_MAX 1024

typedef struct meta_val {
    char *v;
    size_t len;
} meta_val_t;

struct wisp_stream {
    wisp_stream_t *next, *prev;
    wisp_context_t *cx;
    const wisp_stream_ops_t *ops;
    void *user;
    const wisp_policy_stream_t *ps;
    wisp__vhost_t *vhost;
    wisp__h1_conn_t *nail; /* nailed_up: the connection this stream holds up */
    wisp__h1_txn_t txn;
    wisp__timer_t timeout, backoff;
    wisp__defer_t reap;
    wisp_state_t state;
    int64_t req_len;     /* body length of the current request: -1 chunked */
    int64_t pending_len; /* of a request_tx remembered while active */
    uint16_t status;
    uint16_t failures;  /* in this cycle, against the retry policy's conceal */
    uint8_t pending_tx; /* a request_tx arrived during an open cycle */
    uint8_t rx_started; /* this response's body has begun (WISP_SOM sent) */
    meta_val_t meta[];  /* one per ps->metadata slot */
};

static const char *const state_names[] = {"?",
                                          "CREATED",
                                          "QUEUED",
                                          "CONNECTING",
                                          "CONNECTED",
                                          "ACK",
                                          "NACK",
                                          "DONE",
                                          "CONNECTION_FAILED",
                                          "RETRYING",
                                          "ALL_RETRIES_FAILED",
                                          "TIMEOUT",
                                          "DISCONNECTED",
                                          "DESTROYING",
                                          "SERVER_REQUEST"};

const char *wisp_state_name(wisp_state_t st)
{
    return (st > 0 && (size_t)st < sizeof(state_names) / sizeof(state_names[0])) ? state_names[st]
                                                                                 : "?";
}

static wisp_stream_t **streams(wisp_context_t *cx)
{
    return (wisp_stream_t **)wisp__slot_ptr(cx, WISP_SLOT_STREAM);
}

static wisp_stream_t *of_txn(wisp__h1_txn_t *t)
{
    return (wisp_stream_t *)((char *)t - offsetof(wisp_stream_t, txn));
}

static void start_txn(wisp_stream_t *s);
static int begin_cycle(wisp_stream_t *s, int64_t len);
static void abort_cycle(wisp_stream_t *s, int err);

static int destroying(const wisp_stream_t *s)
{
    return s->state == WISP_STATE_DESTROYING;
}

/* No transaction cycle open: request_tx may start one now. Besides the state, a
 * transaction on a connection or a backoff timer means a cycle is open (a stream
 * handed an idle kept-alive connection stays DONE until CONNECTED is reported). */
static int idle(const wisp_stream_t *s)
{
    if (s->txn.conn || s->backoff.armed)
        return 0;
    switch (s->state) {
    case WISP_STATE_CREATED:
    case WISP_STATE_DONE:
    case WISP_STATE_ALL_RETRIES_FAILED:
    case WISP_STATE_TIMEOUT:
        return 1;
    default:
        return 0;
    }
}

/* The one transition function: set, log, call out. Returns nonzero when the stream
 * is being destroyed, and the caller must then leave it alone. */
static int notify(wisp_stream_t *s, wisp_state_t st, int arg)
{
    int r = 0;

    if (destroying(s) && st != WISP_STATE_DESTROYING)
        return 1; /* DESTROYING is the last callback, always */
    s->state = st;
    WISP_LOGD(s->cx, "stream '%s': %s (%d)", s->ps->name, wisp_state_name(st), arg);
    if (s->ops->state)
        r = s->ops->state(s->user, st, arg);
    if (st == WISP_STATE_DESTROYING)
        return 1;
    if (r == WISP_CB_DESTROY)
        wisp_stream_destroy(s);
    else if (r == WISP_CB_DISCONNECT && !destroying(s))
        abort_cycle(s, WISP_ECANCELED);
    return destroying(s);
}

/* Serve a request_tx that arrived during the cycle that just ended. */
static void serve_pending(wisp_stream_t *s)
{
    if (s->pending_tx && idle(s)) {
        s->pending_tx = 0;
        (void)begin_cycle(s, s->pending_len);
    }
}

/* The cycle's terminal states. */
static void end_cycle(wisp_stream_t *s, wisp_state_t st, int arg)
{
    wisp__timer_stop(s->cx, &s->timeout);
    wisp__timer_stop(s->cx, &s->backoff);
    if (!notify(s, st, arg))
        serve_pending(s);
}

/* WISP_CB_DISCONNECT from a state callback: close the connection as a failure. */
static void abort_cycle(wisp_stream_t *s, int err)
{
    if (s->txn.conn) {
        wisp__h1_cancel(&s->txn);
        if (notify(s, WISP_STATE_DISCONNECTED, err))
            return;
        end_cycle(s, WISP_STATE_ALL_RETRIES_FAILED, err);
    } else if (s->backoff.armed) {
        end_cycle(s, WISP_STATE_ALL_RETRIES_FAILED, err);
    }
}

static int idempotent(const wisp_policy_stream_t *ps)
{
    return ps->method != WISP_METHOD_POST && ps->method != WISP_METHOD_PATCH;
}

/* After a failure: back off and retry per the policy, or end the cycle. */
static void after_failure(wisp_stream_t *s, int err, int may_retry)
{
    const wisp_policy_retry_t *r = s->ps->retry;
    uint32_t delay;

    if (destroying(s) || idle(s))
        return; /* the callback destroyed the stream, or ended the cycle itself */
    if (!may_retry || !r || (r->conceal != WISP_POLICY_FOREVER && s->failures >= r->conceal)) {
        end_cycle(s, WISP_STATE_ALL_RETRIES_FAILED, err);
        return;
    }
    delay = r->backoff_ms[s->failures < r->backoff_count ? s->failures : r->backoff_count - 1];
    if (r->jitter_pct && delay) {
        uint32_t span = (uint32_t)((uint64_t)delay * r->jitter_pct / 100u), rnd = 0;
        const wisp_plat_ops_t *p = wisp__plat(s->cx);

        if (span && p->entropy(p->user, &rnd, sizeof(rnd)) == 0)
            delay = delay - span + rnd % (2 * span + 1);
    }
    if (s->failures < 0xffff)
        s->failures++;
    wisp__stats(s->cx)->retries++;
    wisp__timer_start(s->cx, &s->backoff, delay);
    (void)notify(s, WISP_STATE_RETRYING, (int)delay);
}

static void backoff_done(wisp__timer_t *t)
{
    wisp_stream_t *s = (wisp_stream_t *)((char *)t - offsetof(wisp_stream_t, backoff));

    if (!destroying(s))
        start_txn(s);
}

static void timeout_fired(wisp__timer_t *t)
{
    wisp_stream_t *s = (wisp_stream_t *)((char *)t - offsetof(wisp_stream_t, timeout));

    if (destroying(s) || idle(s))
        return;
    wisp__h1_cancel(&s->txn);
    WISP_LOGI(s->cx, "stream '%s': timed out", s->ps->name);
    end_cycle(s, WISP_STATE_TIMEOUT, WISP_ETIMEDOUT);
}

/* ---- Templates and metadata ---- */

static int meta_index(const wisp_stream_t *s, const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < s->ps->metadata_count; i++) {
        const char *n = s->ps->metadata[i].name;

        if (strlen(n) == len && !memcmp(n, name, len))
            return (int)i;
    }
    return -1;
}

static int slot_get(void *user, const char *name, size_t name_len, const char **value, size_t *len)
{
    const wisp_stream_t *s = user;
    int i = meta_index(s, name, name_len);

    if (i < 0)
        return WISP_ENOTFOUND;
    *value = s->meta[i].v;
    *len = s->meta[i].len;
    return 0;
}

static int meta_store(wisp_stream_t *s, int i, const void *value, size_t len)
{
    char *copy = NULL;

    if (len > WISP_STREAM_META_MAX)
        return WISP_ETOOBIG;
    if (value) {
        copy = wisp__strndup(s->cx, value, len);
        if (!copy)
            return WISP_ENOMEM;
    }
    wisp__free(s->cx, s->meta[i].v);
    s->meta[i].v = copy;
    s->meta[i].len = copy ? len : 0;
    return 0;
}

/* ---- The transaction, as the h1 client sees it ---- */

static void t_connecting(wisp__h1_txn_t *t)
{
    (void)notify(of_txn(t), WISP_STATE_CONNECTING, 0);
}

static void t_connected(wisp__h1_txn_t *t)
{
    wisp_stream_t *s = of_txn(t);

    s->status = 0;
    s->rx_started = 0;
    (void)notify(s, WISP_STATE_CONNECTED, 0);
}

static int t_head(wisp__h1_txn_t *t, wisp__h1_out_t *w, const char *host)
{
    wisp_stream_t *s = of_txn(t);
    const wisp_policy_stream_t *ps = s->ps;
    char url[URL_MAX];
    size_t ulen = 0, i;
    int ret;

    ret = wisp_policy_template_expand(ps->url, WISP_TEMPLATE_URL, slot_get, s, url, sizeof(url),
                                      &ulen);
    if (ret)
        return ret;
    (void)wisp__h1_out_request_line(w, wisp_policy_method_name(ps->method), url, ulen);
    (void)wisp__h1_out_host(w, host, strlen(host), ps->port, ps->tls);
    for (i = 0; i < ps->header_count; i++)
        (void)wisp__h1_out_header(w, ps->headers[i].name, strlen(ps->headers[i].name),
                                  ps->headers[i].value, strlen(ps->headers[i].value));
    for (i = 0; i < ps->metadata_count; i++) {
        const char *h = ps->metadata[i].header;

        if (h && s->meta[i].v)
            (void)wisp__h1_out_header(w, h, strlen(h), s->meta[i].v, s->meta[i].len);
    }
    if (!ps->reuse)
        (void)wisp__h1_out_close(w);
    return w->err;
}

static int t_body(wisp__h1_txn_t *t, uint8_t *buf, size_t *len, int *eom)
{
    wisp_stream_t *s = of_txn(t);
    unsigned flags = 0;
    int ret;

    if (!s->ops->tx) {
        *len = 0;
        *eom = 1;
        return 0;
    }
    ret = s->ops->tx(s->user, buf, len, &flags);
    if (ret == WISP_CB_DESTROY) {
        wisp_stream_destroy(s);
        return WISP_ECANCELED;
    }
    if (ret == WISP_CB_DISCONNECT)
        return WISP_ECANCELED;
    if (ret)
        return ret < 0 ? ret : WISP_EINVAL;
    *eom = (flags & WISP_EOM) != 0;
    return 0;
}

static int t_status(wisp__h1_txn_t *t, int status)
{
    wisp_stream_t *s = of_txn(t);
    size_t i;

    s->status = (uint16_t)status;
    /* Response-bound slots describe this response only. */
    for (i = 0; i < s->ps->metadata_count; i++)
        if (s->ps->metadata[i].header)
            (void)meta_store(s, (int)i, NULL, 0);
    return 0;
}

static int t_header(wisp__h1_txn_t *t, const char *name, size_t nlen, const char *value,
                    size_t vlen)
{
    wisp_stream_t *s = of_txn(t);
    size_t i;

    for (i = 0; i < s->ps->metadata_count; i++) {
        const char *h = s->ps->metadata[i].header;

        if (h && wisp__h1_name_eq(name, nlen, h)) {
            int ret = meta_store(s, (int)i, value, vlen);

            if (ret == WISP_ETOOBIG)
                WISP_LOGW(s->cx, "stream '%s': header %s over %d bytes ignored", s->ps->name, h,
                          WISP_STREAM_META_MAX);
            else if (ret)
                return ret;
        }
    }
    return 0;
}

static int t_headers_done(wisp__h1_txn_t *t)
{
    wisp_stream_t *s = of_txn(t);
    int ok = s->status >= s->ps->expect_status_min && s->status <= s->ps->expect_status_max;

    return notify(s, ok ? WISP_STATE_ACK : WISP_STATE_NACK, s->status) ? WISP_ECANCELED : 0;
}

static int rx(wisp_stream_t *s, const uint8_t *data, size_t len, unsigned flags)
{
    int r;

    if (!s->rx_started)
        flags |= WISP_SOM;
    s->rx_started = 1;
    if (!s->ops->rx)
        return 0;
    r = s->ops->rx(s->user, data, len, flags);
    if (r == WISP_CB_DESTROY) {
        wisp_stream_destroy(s);
        return WISP_ECANCELED;
    }
    return r == WISP_CB_DISCONNECT ? WISP_ECANCELED : 0;
}

static int t_data(wisp__h1_txn_t *t, const uint8_t *data, size_t len)
{
    return rx(of_txn(t), data, len, 0);
}

static void t_done(wisp__h1_txn_t *t)
{
    wisp_stream_t *s = of_txn(t);

    if (rx(s, NULL, 0, WISP_EOM) || destroying(s) || idle(s))
        return; /* destroyed, or ended by a disconnect, from the last rx */
    end_cycle(s, WISP_STATE_DONE, s->status);
}

static void t_failed(wisp__h1_txn_t *t, int err, int sent)
{
    wisp_stream_t *s = of_txn(t);
    int may_retry;

    if (destroying(s))
        return;
    if (notify(s, sent ? WISP_STATE_DISCONNECTED : WISP_STATE_CONNECTION_FAILED, err))
        return;
    /* Never retried: the app's own disconnect, a certificate that will not verify,
     * a request the stream cannot build, and a lost POST or PATCH (SPEC §6: never
     * resent without the app asking; WISP_ESTALE tells it the server never answered). */
    may_retry = err != WISP_ECANCELED && err != WISP_ECERT && err != WISP_EINVAL &&
                err != WISP_EHEADER && (!sent || idempotent(s->ps));
    after_failure(s, err, may_retry);
}

static const wisp__h1_txn_ops_t txn_ops = {t_connecting, t_connected,    t_head, t_body, t_status,
                                           t_header,     t_headers_done, t_data, t_done, t_failed};

/* The connection key of the stream's type, its host expanded into host[]. */
static int stream_key(wisp_stream_t *s, char *host, size_t len, wisp__h1_key_t *key)
{
    int ret = wisp_policy_template_expand(s->ps->endpoint, WISP_TEMPLATE_HOST, slot_get, s, host,
                                          len, NULL);

    if (!ret && !host[0])
        ret = WISP_EINVAL;
    key->vhost = s->vhost;
    key->host = host;
    key->port = s->ps->port;
    key->tls = s->ps->tls;
    return ret;
}

static void start_txn(wisp_stream_t *s)
{
    const wisp_policy_stream_t *ps = s->ps;
    char host[WISP_HOSTNAME_MAX];
    wisp__h1_key_t key;
    int ret;

    ret = stream_key(s, host, sizeof(host), &key);
    memset(&s->txn, 0, sizeof(s->txn));
    s->txn.ops = &txn_ops;
    s->txn.body_len = s->req_len;
    s->txn.keepalive_ms = ps->keepalive_ms;
    s->txn.connect_timeout_ms = ps->connect_timeout_ms;
    s->txn.head_request = ps->method == WISP_METHOD_HEAD;
    s->txn.reuse = ps->reuse;
    s->txn.idempotent = (uint8_t)idempotent(ps);
    s->txn.pipeline_depth = ps->method == WISP_METHOD_GET || ps->method == WISP_METHOD_HEAD
                                ? ps->pipeline_depth
                                : 1; /* a request with a body is never pipelined */
    if (!ret)
        ret = wisp__h1_submit(s->cx, &s->txn, &key);
    if (ret < 0) {
        WISP_LOGW(s->cx, "stream '%s': cannot start: %s", ps->name, wisp_strerror(ret));
        if (!notify(s, WISP_STATE_CONNECTION_FAILED, ret))
            after_failure(s, ret, ret != WISP_EINVAL && ret != WISP_EHEADER);
        return;
    }
    if (ret == WISP__H1_SUBMIT_QUEUED)
        (void)notify(s, WISP_STATE_QUEUED, 0);
    else if (ret == WISP__H1_SUBMIT_CONNECTING)
        (void)notify(s, WISP_STATE_CONNECTING, 0);
}

/* A new cycle. Its timeout_ms covers the whole cycle, retries included. */
static int begin_cycle(wisp_stream_t *s, int64_t len)
{
    s->failures = 0;
    s->req_len = len;
    if (s->ps->timeout_ms)
        wisp__timer_start(s->cx, &s->timeout, s->ps->timeout_ms);
    start_txn(s);
    return 0;
}

/* ---- Lifecycle ---- */

static void reap(wisp__defer_t *d)
{
    wisp_stream_t *s = (wisp_stream_t *)((char *)d - offsetof(wisp_stream_t, reap));
    size_t i;

    if (s->prev)
        s->prev->next = s->next;
    else
        *streams(s->cx) = s->next;
    if (s->next)
        s->next->prev = s->prev;
    for (i = 0; i < s->ps->metadata_count; i++)
        wisp__free(s->cx, s->meta[i].v);
    wisp__h1_unnail(&s->nail);
    wisp__vhost_unref(&s->vhost);
    wisp__stats(s->cx)->streams_live--;
    wisp__free(s->cx, s);
}

static void streams_destroy_all(wisp_context_t *cx, void *head)
{
    wisp_stream_t *s;

    (void)head;
    while ((s = *streams(cx)) != NULL) {
        wisp_stream_destroy(s);
        wisp__defer_cancel(cx, &s->reap);
        reap(&s->reap);
    }
}

/* nailed_up: connect at create and stay connected (lib/http1 reconnects). With
 * ${slot}s in the endpoint they expand as they are now (unset: empty). */
static int nail_up(wisp_stream_t *s)
{
    char host[WISP_HOSTNAME_MAX];
    wisp__h1_key_t key;
    uint32_t retry_ms = s->ps->retry ? s->ps->retry->backoff_ms[0] : 0;
    int ret = stream_key(s, host, sizeof(host), &key);

    if (!ret)
        ret =
            wisp__h1_nail(s->cx, &key, s->ps->reuse, s->ps->connect_timeout_ms, retry_ms, &s->nail);
    if (ret)
        WISP_LOGE(s->cx, "stream '%s': nailed_up: %s", s->ps->name, wisp_strerror(ret));
    return ret;
}

int wisp_stream_create(wisp_context_t *cx, const wisp_stream_ops_t *ops, void *user,
                       wisp_stream_t **out)
{
    const wisp_policy_stream_t *ps;
    wisp_stream_t *s;
    int ret;

    if (!out)
        return WISP_EINVAL;
    *out = NULL;
    if (!cx || !ops || !ops->type)
        return WISP_EINVAL;
    if (wisp__context_dying(cx))
        return WISP_ESTATE;
    ps = wisp_policy_stream_find(wisp_context_policy(cx), ops->type);
    if (!ps || ps->server) {
        WISP_LOGE(cx, "no client stream type '%s' in the policy", ops->type);
        return WISP_ENOTFOUND;
    }
    s = wisp__zalloc(cx, sizeof(*s) + ps->metadata_count * sizeof(s->meta[0]));
    if (!s)
        return WISP_ENOMEM;
    s->cx = cx;
    s->ops = ops;
    s->user = user;
    s->ps = ps;
    if (ps->tls) {
        ret = wisp__vhost_acquire(cx, ps, &s->vhost);
        if (ret) {
            wisp__free(cx, s);
            return ret;
        }
    }
    wisp__timer_init(&s->timeout, timeout_fired);
    wisp__timer_init(&s->backoff, backoff_done);
    wisp__defer_init(&s->reap, reap);
    if (ps->nailed_up) {
        ret = nail_up(s);
        if (ret) {
            wisp__vhost_unref(&s->vhost);
            wisp__free(cx, s);
            return ret;
        }
    }
    s->state = WISP_STATE_CREATED;
    s->next = *streams(cx);
    if (s->next)
        s->next->prev = s;
    *streams(cx) = s;
    wisp__slot_set_destroy(cx, WISP_SLOT_STREAM, streams_destroy_all);
    wisp__stats(cx)->streams_live++;
    *out = s;
    wisp__context_hold(cx);
    if (ops->state && ops->state(user, WISP_STATE_CREATED, 0) == WISP_CB_DESTROY)
        wisp_stream_destroy(s);
    (void)wisp__context_release(cx);
    return 0;
}

/* A request_tx: refused at once when it cannot work, remembered during an open
 * cycle, else started. */
static int request(wisp_stream_t *s, int64_t len)
{
    wisp_context_t *cx;
    char host[WISP_HOSTNAME_MAX];
    wisp__h1_key_t key;
    int ret;

    if (destroying(s))
        return WISP_ESTATE;
    /* An endpoint that a ${slot} makes unusable (CR, LF, a short IPv4 form) is the
     * caller's error, reported now rather than as CONNECTION_FAILED later. */
    ret = stream_key(s, host, sizeof(host), &key);
    if (ret)
        return ret;
    if (!idle(s)) {
        if (s->pending_tx)
            return WISP_EBUSY; /* one pending request at most (SPEC §6) */
        s->pending_tx = 1;
        s->pending_len = len;
        return 0;
    }
    cx = s->cx;
    wisp__context_hold(cx); /* QUEUED or CONNECTING is reported from in here */
    ret = begin_cycle(s, len);
    (void)wisp__context_release(cx);
    return ret;
}

int wisp_stream_request_tx_len(wisp_stream_t *s, size_t len)
{
    if (!s)
        return WISP_EINVAL;
    if (len > (size_t)INT64_MAX)
        return WISP_ETOOBIG;
    if (len && !s->ops->tx)
        return WISP_EINVAL; /* a body announced with nothing to produce it */
    return request(s, (int64_t)len);
}

int wisp_stream_request_tx(wisp_stream_t *s)
{
    if (!s)
        return WISP_EINVAL;
    return request(s, s->ops->tx ? -1 : 0); /* a body of unknown length goes chunked */
}

void wisp_stream_tx_resume(wisp_stream_t *s)
{
    if (s && !destroying(s))
        wisp__h1_resume(&s->txn);
}

int wisp_stream_set_metadata(wisp_stream_t *s, const char *name, const void *value, size_t len)
{
    int i;

    if (!s || !name || (!value && len))
        return WISP_EINVAL;
    if (len > WISP_STREAM_META_MAX)
        return WISP_ETOOBIG; /* before scanning a value that may be huge */
    i = meta_index(s, name, strlen(name));
    if (i < 0)
        return WISP_ENOTFOUND;
    if (s->ps->metadata[i].header && value &&
        (memchr(value, '\r', len) || memchr(value, '\n', len) || memchr(value, '\0', len)))
        return WISP_EHEADER;
    return meta_store(s, i, value, len);
}

int wisp_stream_get_metadata(const wisp_stream_t *s, const char *name, const void **value,
                             size_t *len)
{
    int i;

    if (!s || !name || !value || !len)
        return WISP_EINVAL;
    i = meta_index(s, name, strlen(name));
    if (i < 0)
        return WISP_ENOTFOUND;
    *value = s->meta[i].v;
    *len = s->meta[i].len;
    return 0;
}

int wisp_stream_start_timeout(wisp_stream_t *s, uint32_t ms)
{
    if (!s || !ms)
        return WISP_EINVAL;
    if (destroying(s) || idle(s))
        return WISP_ESTATE; /* no transaction for it to time */
    wisp__timer_start(s->cx, &s->timeout, ms);
    return 0;
}

void wisp_stream_cancel_timeout(wisp_stream_t *s)
{
    if (s)
        wisp__timer_stop(s->cx, &s->timeout);
}

int wisp_stream_status(const wisp_stream_t *s)
{
    return s ? s->status : 0;
}

wisp_state_t wisp_stream_state(const wisp_stream_t *s)
{
    return s ? s->state : WISP_STATE_DESTROYING;
}

void wisp_stream_destroy(wisp_stream_t *s)
{
    wisp_context_t *cx;

    if (!s || destroying(s))
        return;
    cx = s->cx;
    wisp__h1_cancel(&s->txn);
    wisp__timer_stop(cx, &s->timeout);
    wisp__timer_stop(cx, &s->backoff);
    s->pending_tx = 0;
    wisp__context_hold(cx);
    (void)notify(s, WISP_STATE_DESTROYING, 0);
    wisp__defer(cx, &s->reap);
    (void)wisp__context_release(cx);
}

void wisp__streams_destroy_all(wisp_context_t *cx)
{
    wisp_stream_t *s;

    /* Destruction only marks (reap is deferred) and creation is refused while the
     * context is dying, so the list does not change under this walk. */
    for (s = *streams(cx); s; s = s->next)
        wisp_stream_destroy(s);
}
