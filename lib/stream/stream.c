/*
 * Secure streams: what every stream has, whatever its role (stream-internal.h).
 *
 * A stream is the application's handle on one policy stream type: a client stream
 * (client.c), a listening server stream, or one request a listener received
 * (server.c). It holds a vhost reference for as long as it lives (TLS types) and
 * its metadata values. The context's streams are a doubly linked list whose head
 * sits in context slot WISP_SLOT_STREAM.
 *
 * One state field, changed only by wisp__stream_notify(), which logs the move and
 * calls the application. Calls out to the application (the state, rx and tx
 * callbacks) can do anything: destroy this stream or another, request again,
 * destroy the context. Rules:
 *  - every call goes through wisp__stream_notify(), wisp__stream_rx() or
 *    wisp__stream_tx(), and the caller checks the state afterwards (DESTROYING, or
 *    its own expectation), never a value it read before the call;
 *  - destruction marks the stream, takes it off the wire (role->cancel), and frees
 *    it at the end of the loop iteration (deferred reap), so no callback ever runs
 *    on freed memory.
 */
#include <string.h>

#include "stream/stream-internal.h"

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

static int destroying(const wisp_stream_t *s)
{
    return s->state == WISP_STATE_DESTROYING;
}

int wisp__stream_notify(wisp_stream_t *s, wisp_state_t st, int arg)
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
        s->role->abort(s, WISP_ECANCELED);
    return destroying(s);
}

int wisp__stream_rx(wisp_stream_t *s, const uint8_t *data, size_t len, unsigned flags)
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

int wisp__stream_tx(wisp_stream_t *s, uint8_t *buf, size_t *len, int *eom)
{
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

/* ---- Metadata ---- */

int wisp__stream_meta_index(const wisp_stream_t *s, const char *name, size_t len)
{
    size_t i;

    for (i = 0; i < s->ps->metadata_count; i++) {
        const char *n = s->ps->metadata[i].name;

        if (strlen(n) == len && !memcmp(n, name, len))
            return (int)i;
    }
    return -1;
}

int wisp__stream_meta_store(wisp_stream_t *s, int i, const void *value, size_t len)
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

int wisp__stream_meta_from_header(wisp_stream_t *s, const char *name, size_t nlen,
                                  const char *value, size_t vlen)
{
    size_t i;
    int ret = 0;

    for (i = 0; i < s->ps->metadata_count && ret != WISP_ENOMEM; i++) {
        const char *h = s->ps->metadata[i].header;

        if (h && wisp__h1_name_eq(name, nlen, h)) {
            int r = wisp__stream_meta_store(s, (int)i, value, vlen);

            if (r)
                ret = r;
        }
    }
    return ret;
}

int wisp_stream_set_metadata(wisp_stream_t *s, const char *name, const void *value, size_t len)
{
    int i, ret;

    if (!s || !name || (!value && len))
        return WISP_EINVAL;
    if (len > WISP_STREAM_META_MAX)
        return WISP_ETOOBIG; /* before scanning a value that may be huge */
    if (s->role->set_pseudo && (ret = s->role->set_pseudo(s, name, value, len)) != WISP_ENOTFOUND)
        return ret; /* a server request's "status" */
    i = wisp__stream_meta_index(s, name, strlen(name));
    if (i < 0)
        return WISP_ENOTFOUND;
    if (s->ps->metadata[i].header && value &&
        (memchr(value, '\r', len) || memchr(value, '\n', len) || memchr(value, '\0', len)))
        return WISP_EHEADER;
    ret = wisp__stream_meta_store(s, i, value, len);
    if (!ret)
        s->meta[i].set = 1;
    return ret;
}

int wisp_stream_get_metadata(const wisp_stream_t *s, const char *name, const void **value,
                             size_t *len)
{
    int i;

    if (!s || !name || !value || !len)
        return WISP_EINVAL;
    i = wisp__stream_meta_index(s, name, strlen(name));
    if (i < 0)
        return s->role->pseudo ? s->role->pseudo(s, name, value, len) : WISP_ENOTFOUND;
    *value = s->meta[i].v;
    *len = s->meta[i].len;
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
    s->role->release(s);
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

static void timeout_fired(wisp__timer_t *t)
{
    wisp_stream_t *s = (wisp_stream_t *)((char *)t - offsetof(wisp_stream_t, timeout));

    if (!destroying(s))
        s->role->timed_out(s);
}

/* Extra bytes after the slots start on this boundary (app state: any type). The
 * caller bounds extra (wisp_stream_set_user_size: 64 KiB at most). */
#define EXTRA_ALIGN ((size_t)16)

wisp_stream_t *wisp__stream_alloc(wisp_context_t *cx, const wisp_policy_stream_t *ps, size_t extra,
                                  void **extra_out)
{
    size_t base =
        (sizeof(wisp_stream_t) + ps->metadata_count * sizeof(wisp__meta_val_t) + EXTRA_ALIGN - 1) &
        ~(EXTRA_ALIGN - 1);
    wisp_stream_t *s = wisp__zalloc(cx, base + extra);

    if (!s)
        return NULL;
    s->cx = cx;
    s->ps = ps;
    s->state = WISP_STATE_CREATED;
    wisp__timer_init(&s->timeout, timeout_fired);
    wisp__defer_init(&s->reap, reap);
    if (extra_out)
        *extra_out = (char *)s + base;
    return s;
}

/* Before it is linked a stream holds no metadata values yet, only its vhost. */
void wisp__stream_free_unlinked(wisp_stream_t *s)
{
    wisp__vhost_unref(&s->vhost);
    wisp__free(s->cx, s);
}

void wisp__stream_link(wisp_stream_t *s)
{
    wisp_context_t *cx = s->cx;

    s->next = *streams(cx);
    if (s->next)
        s->next->prev = s;
    *streams(cx) = s;
    wisp__slot_set_destroy(cx, WISP_SLOT_STREAM, streams_destroy_all);
    wisp__stats(cx)->streams_live++;
}

int wisp_stream_create(wisp_context_t *cx, const wisp_stream_ops_t *ops, void *user,
                       wisp_stream_t **out)
{
    const wisp_policy_stream_t *ps;
    wisp_stream_t *s;
    int ret = WISP_EUNSUPPORTED;

    if (!out)
        return WISP_EINVAL;
    *out = NULL;
    if (!cx || !ops || !ops->type)
        return WISP_EINVAL;
    if (wisp__context_dying(cx))
        return WISP_ESTATE;
    ps = wisp_policy_stream_find(wisp_context_policy(cx), ops->type);
    if (!ps) {
        WISP_LOGE(cx, "no stream type '%s' in the policy", ops->type);
        return WISP_ENOTFOUND;
    }
    s = wisp__stream_alloc(cx, ps, 0, NULL);
    if (!s)
        return WISP_ENOMEM;
    s->ops = ops;
    s->user = user;
#if WISP_WITH_SERVER
    if (ps->server)
        ret = wisp__server_stream_init(s);
#endif
#if WISP_WITH_CLIENT
    if (!ps->server)
        ret = wisp__client_stream_init(s);
#endif
    if (ret) {
        if (ret == WISP_EUNSUPPORTED)
            WISP_LOGE(cx, "stream type '%s': not in this build", ps->name);
        wisp__stream_free_unlinked(s);
        return ret;
    }
    wisp__stream_link(s);
    *out = s;
    wisp__context_hold(cx);
    if (ops->state && ops->state(user, WISP_STATE_CREATED, 0) == WISP_CB_DESTROY)
        wisp_stream_destroy(s);
    (void)wisp__context_release(cx);
    return 0;
}

int wisp_stream_request_tx_len(wisp_stream_t *s, size_t len)
{
    if (!s)
        return WISP_EINVAL;
    if (len > (size_t)INT64_MAX)
        return WISP_ETOOBIG;
    if (len && !s->ops->tx)
        return WISP_EINVAL; /* a body announced with nothing to produce it */
    if (destroying(s))
        return WISP_ESTATE;
    return s->role->request(s, (int64_t)len);
}

int wisp_stream_request_tx(wisp_stream_t *s)
{
    if (!s)
        return WISP_EINVAL;
    if (destroying(s))
        return WISP_ESTATE;
    return s->role->request(s, s->ops->tx ? -1 : 0); /* unknown length: chunked */
}

void wisp_stream_tx_resume(wisp_stream_t *s)
{
    if (s && !destroying(s))
        s->role->resume(s);
}

int wisp_stream_start_timeout(wisp_stream_t *s, uint32_t ms)
{
    if (!s || !ms)
        return WISP_EINVAL;
    if (destroying(s) || !s->role->active(s))
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
    s->role->cancel(s);
    wisp__timer_stop(cx, &s->timeout);
    wisp__context_hold(cx);
    if (s->unheard)
        s->state = WISP_STATE_DESTROYING; /* the app never had this stream: no callback */
    else
        (void)wisp__stream_notify(s, WISP_STATE_DESTROYING, 0);
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
