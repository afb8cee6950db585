/*
 * Client secure streams: the state machine of SPEC §6 on top of the h1 client
 * (what every stream shares is in stream.c).
 *
 * A client stream holds one embedded h1 transaction that it submits for each
 * request. Its state changes only through notify() (wisp__stream_notify), which
 * logs the move and calls the application. Whether a transaction cycle is open follows from the
 * state: the idle states are CREATED, DONE, ALL_RETRIES_FAILED and TIMEOUT; DESTROYING is last.
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

#include "stream/stream-internal.h"

#define URL_MAX 1024
#define notify wisp__stream_notify

static wisp_stream_t *of_txn(wisp__h1_txn_t *t)
{
    return (wisp_stream_t *)((char *)t - offsetof(wisp_stream_t, x.cl.txn));
}

static int destroying(const wisp_stream_t *s)
{
    return s->state == WISP_STATE_DESTROYING;
}

static void start_txn(wisp_stream_t *s);
static int begin_cycle(wisp_stream_t *s, int64_t len);
static void abort_cycle(wisp_stream_t *s, int err);

/* No transaction cycle open: request_tx may start one now. Besides the state, a
 * transaction on a connection or a backoff timer means a cycle is open (a stream
 * handed an idle kept-alive connection stays DONE until CONNECTED is reported). */
static int idle(const wisp_stream_t *s)
{
    if (s->x.cl.txn.conn || s->x.cl.backoff.armed)
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

/* Serve a request_tx that arrived during the cycle that just ended. */
static void serve_pending(wisp_stream_t *s)
{
    if (s->x.cl.pending_tx && idle(s)) {
        s->x.cl.pending_tx = 0;
        (void)begin_cycle(s, s->x.cl.pending_len);
    }
}

/* The cycle's terminal states. */
static void end_cycle(wisp_stream_t *s, wisp_state_t st, int arg)
{
    wisp__timer_stop(s->cx, &s->timeout);
    wisp__timer_stop(s->cx, &s->x.cl.backoff);
    if (!notify(s, st, arg))
        serve_pending(s);
}

/* WISP_CB_DISCONNECT from a state callback: close the connection as a failure. */
static void abort_cycle(wisp_stream_t *s, int err)
{
    if (s->x.cl.txn.conn) {
        wisp__h1_cancel(&s->x.cl.txn);
        if (notify(s, WISP_STATE_DISCONNECTED, err))
            return;
        end_cycle(s, WISP_STATE_ALL_RETRIES_FAILED, err);
    } else if (s->x.cl.backoff.armed) {
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
    if (!may_retry || !r || (r->conceal != WISP_POLICY_FOREVER && s->x.cl.failures >= r->conceal)) {
        end_cycle(s, WISP_STATE_ALL_RETRIES_FAILED, err);
        return;
    }
    delay = r->backoff_ms[s->x.cl.failures < r->backoff_count ? s->x.cl.failures
                                                              : r->backoff_count - 1];
    if (r->jitter_pct && delay) {
        uint32_t span = (uint32_t)((uint64_t)delay * r->jitter_pct / 100u), rnd = 0;
        const wisp_plat_ops_t *p = wisp__plat(s->cx);

        if (span && p->entropy(p->user, &rnd, sizeof(rnd)) == 0)
            delay = delay - span + rnd % (2 * span + 1);
    }
    if (s->x.cl.failures < 0xffff)
        s->x.cl.failures++;
    wisp__stats(s->cx)->retries++;
    wisp__timer_start(s->cx, &s->x.cl.backoff, delay);
    (void)notify(s, WISP_STATE_RETRYING, (int)delay);
}

static void backoff_done(wisp__timer_t *t)
{
    wisp_stream_t *s = (wisp_stream_t *)((char *)t - offsetof(wisp_stream_t, x.cl.backoff));

    if (!destroying(s))
        start_txn(s);
}

static void timed_out(wisp_stream_t *s)
{
    if (idle(s))
        return;
    wisp__h1_cancel(&s->x.cl.txn);
    WISP_LOGI(s->cx, "stream '%s': timed out", s->ps->name);
    end_cycle(s, WISP_STATE_TIMEOUT, WISP_ETIMEDOUT);
}

/* ---- Templates and metadata ---- */

static int slot_get(void *user, const char *name, size_t name_len, const char **value, size_t *len)
{
    const wisp_stream_t *s = user;
    int i = wisp__stream_meta_index(s, name, name_len);

    if (i < 0)
        return WISP_ENOTFOUND;
    *value = s->meta[i].v;
    *len = s->meta[i].len;
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
    size_t ulen = 0, room, at, i;
    int ret;

    /* The URL is expanded straight into the head (at most URL_MAX bytes), not into a
     * copy on the stack: this frame stays small on an MCU. */
    if (wisp__h1_out_method(w, wisp_policy_method_name(ps->method)))
        return w->err;
    at = w->len;
    room = w->cap - at < URL_MAX + 1 ? w->cap - at : URL_MAX + 1;
    ret = room ? wisp_policy_template_expand(ps->url, WISP_TEMPLATE_URL, slot_get, s, w->buf + at,
                                             room, &ulen)
               : WISP_ETOOBIG;
    if (ret)
        return ret;
    w->len += ulen;
    (void)wisp__h1_out_target_end(w, at);
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
    return wisp__stream_tx(of_txn(t), buf, len, eom);
}

static int t_status(wisp__h1_txn_t *t, int status)
{
    wisp_stream_t *s = of_txn(t);
    size_t i;

    s->status = (uint16_t)status;
    /* Response-bound slots describe this response only. */
    for (i = 0; i < s->ps->metadata_count; i++)
        if (s->ps->metadata[i].header)
            (void)wisp__stream_meta_store(s, (int)i, NULL, 0);
    return 0;
}

static int t_header(wisp__h1_txn_t *t, const char *name, size_t nlen, const char *value,
                    size_t vlen)
{
    wisp_stream_t *s = of_txn(t);
    int ret = wisp__stream_meta_from_header(s, name, nlen, value, vlen);

    if (ret != WISP_ETOOBIG)
        return ret;
    WISP_LOGW(s->cx, "stream '%s': header %.*s over %d bytes ignored", s->ps->name, (int)nlen, name,
              WISP_STREAM_META_MAX);
    return 0;
}

static int t_headers_done(wisp__h1_txn_t *t)
{
    wisp_stream_t *s = of_txn(t);
    int ok = s->status >= s->ps->expect_status_min && s->status <= s->ps->expect_status_max;

    return notify(s, ok ? WISP_STATE_ACK : WISP_STATE_NACK, s->status) ? WISP_ECANCELED : 0;
}

static int t_data(wisp__h1_txn_t *t, const uint8_t *data, size_t len)
{
    return wisp__stream_rx(of_txn(t), data, len, 0);
}

static void t_done(wisp__h1_txn_t *t)
{
    wisp_stream_t *s = of_txn(t);

    if (wisp__stream_rx(s, NULL, 0, WISP_EOM) || destroying(s) || idle(s))
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
    may_retry = err != WISP_ECANCELED && !WISP_IS_ECERT(err) && err != WISP_EINVAL &&
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
    memset(&s->x.cl.txn, 0, sizeof(s->x.cl.txn));
    s->x.cl.txn.ops = &txn_ops;
    s->x.cl.txn.body_len = s->x.cl.req_len;
    s->x.cl.txn.keepalive_ms = ps->keepalive_ms;
    s->x.cl.txn.connect_timeout_ms = ps->connect_timeout_ms;
    s->x.cl.txn.head_request = ps->method == WISP_METHOD_HEAD;
    s->x.cl.txn.reuse = ps->reuse;
    s->x.cl.txn.idempotent = (uint8_t)idempotent(ps);
    s->x.cl.txn.pipeline_depth = ps->method == WISP_METHOD_GET || ps->method == WISP_METHOD_HEAD
                                     ? ps->pipeline_depth
                                     : 1; /* a request with a body is never pipelined */
    if (!ret)
        ret = wisp__h1_submit(s->cx, &s->x.cl.txn, &key);
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
    s->x.cl.failures = 0;
    s->x.cl.req_len = len;
    if (s->ps->timeout_ms)
        wisp__timer_start(s->cx, &s->timeout, s->ps->timeout_ms);
    start_txn(s);
    return 0;
}

/* ---- Lifecycle ---- */

/* nailed_up: connect at create and stay connected (lib/http1 reconnects). With
 * ${slot}s in the endpoint they expand as they are now (unset: empty). */
static int nail_up(wisp_stream_t *s)
{
    char host[WISP_HOSTNAME_MAX];
    wisp__h1_key_t key;
    uint32_t retry_ms = s->ps->retry ? s->ps->retry->backoff_ms[0] : 0;
    int ret = stream_key(s, host, sizeof(host), &key);

    if (!ret)
        ret = wisp__h1_nail(s->cx, &key, s->ps->reuse, s->ps->connect_timeout_ms, retry_ms,
                            &s->x.cl.nail);
    if (ret)
        WISP_LOGE(s->cx, "stream '%s': nailed_up: %s", s->ps->name, wisp_strerror(ret));
    return ret;
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
        if (s->x.cl.pending_tx)
            return WISP_EBUSY; /* one pending request at most (SPEC §6) */
        s->x.cl.pending_tx = 1;
        s->x.cl.pending_len = len;
        return 0;
    }
    cx = s->cx;
    wisp__context_hold(cx); /* QUEUED or CONNECTING is reported from in here */
    ret = begin_cycle(s, len);
    (void)wisp__context_release(cx);
    return ret;
}

static void resume(wisp_stream_t *s)
{
    wisp__h1_resume(&s->x.cl.txn);
}

static void cancel(wisp_stream_t *s)
{
    wisp__h1_cancel(&s->x.cl.txn);
    wisp__timer_stop(s->cx, &s->x.cl.backoff);
    s->x.cl.pending_tx = 0;
}

static void release(wisp_stream_t *s)
{
    wisp__h1_unnail(&s->x.cl.nail);
}

static int active(const wisp_stream_t *s)
{
    return !idle(s);
}

static const wisp__stream_role_t client_role = {request,   resume, abort_cycle, cancel, release,
                                                timed_out, active, NULL,        NULL};

int wisp__client_stream_init(wisp_stream_t *s)
{
    int ret;

    s->role = &client_role;
    wisp__timer_init(&s->x.cl.backoff, backoff_done);
    if (s->ps->tls) {
        ret = wisp__vhost_acquire(s->cx, s->ps, &s->vhost);
        if (ret)
            return ret;
    }
    return s->ps->nailed_up ? nail_up(s) : 0;
}
