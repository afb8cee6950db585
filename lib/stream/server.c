/*
 * Server secure streams (SPEC §6): a listening stream per server stream type, and
 * one stream per request it receives, on top of lib/http1/server-conn.c.
 *
 *   listener ──> h1 listener (its own vhost reference; lives until its last
 *                connection closes, so destroying the listener breaks nothing)
 *   request  ──> its h1 request on one connection; app state of the listener's
 *                user_size bytes, zeroed, allocated and freed by wisp with it
 *
 * A request stream is created when the request line arrives, but the application
 * hears of it only at SERVER_REQUEST (the head is complete: method, path, query and
 * the declared request headers are readable as metadata). A request refused before
 * that (a malformed head) is freed without a callback. Then:
 *
 *   SERVER_REQUEST ──rx (body, WISP_SOM .. WISP_EOM)── app answers with
 *   wisp_stream_request_tx(_len) (status and response headers set as metadata,
 *   the body pulled through tx) ──> DONE (arg: status) ──> DESTROYING, freed
 *                      lost before the answer went out whole ──> DISCONNECTED ──┘
 *
 * The app may answer from any later iteration (a slow backend); nothing blocks.
 * Calls out follow stream.c's rules: every one through wisp__stream_notify /
 * _rx / _tx, and the state is read again after each.
 */
#include <stdio.h>
#include <string.h>

#include "stream/stream-internal.h"

/* Before a request's app state: the stream it belongs to (wisp_stream_from_user). */
#define USER_HDR 16u

static wisp_stream_t *of_sreq(wisp__h1_sreq_t *r)
{
    return (wisp_stream_t *)((char *)r - offsetof(wisp_stream_t, x.sv.sreq));
}

static int destroying(const wisp_stream_t *s)
{
    return s->state == WISP_STATE_DESTROYING;
}

/* ---- The request stream's role ---- */

static int rq_request(wisp_stream_t *s, int64_t len)
{
    int ret = wisp__h1_respond(&s->x.sv.sreq, len);

    return ret == WISP_EINVAL ? WISP_ESTATE : ret;
}

static void rq_resume(wisp_stream_t *s)
{
    wisp__h1_sreq_resume(&s->x.sv.sreq);
}

static void rq_cancel(wisp_stream_t *s)
{
    wisp__h1_sreq_cancel(&s->x.sv.sreq);
}

static void rq_abort(wisp_stream_t *s, int err)
{
    if (!s->x.sv.sreq.conn)
        return;
    wisp__h1_sreq_cancel(&s->x.sv.sreq);
    if (!wisp__stream_notify(s, WISP_STATE_DISCONNECTED, err))
        wisp_stream_destroy(s);
}

static void rq_release(wisp_stream_t *s)
{
    wisp__free(s->cx, s->x.sv.target);
}

static void rq_timed_out(wisp_stream_t *s)
{
    WISP_LOGI(s->cx, "server '%s': request timed out", s->ps->name);
    rq_abort(s, WISP_ETIMEDOUT);
}

static int rq_active(const wisp_stream_t *s)
{
    return s->x.sv.sreq.conn != NULL;
}

static int rq_pseudo(const wisp_stream_t *s, const char *name, const void **v, size_t *len)
{
    const wisp__server_part_t *sv = &s->x.sv;
    const char *t = sv->target;

    if (!strcmp(name, "method")) {
        *v = t;
        *len = sv->method_len;
    } else if (!strcmp(name, "path")) {
        *v = t + sv->method_len + 1;
        *len = sv->path_len;
    } else if (!strcmp(name, "query")) {
        *v = sv->query_len ? t + sv->method_len + 1 + sv->path_len + 1 : NULL;
        *len = sv->query_len;
    } else if (!strcmp(name, "status")) {
        *v = sv->status_text[0] ? sv->status_text : NULL;
        *len = sv->status_text[0] ? 3 : 0;
    } else {
        return WISP_ENOTFOUND;
    }
    return 0;
}

/* "status": three digits, 100..599, for the answer's status line. */
static int rq_set_pseudo(wisp_stream_t *s, const char *name, const void *value, size_t len)
{
    const char *v = value;

    if (strcmp(name, "status"))
        return WISP_ENOTFOUND;
    if (len != 3 || v[0] < '1' || v[0] > '5' || v[1] < '0' || v[1] > '9' || v[2] < '0' ||
        v[2] > '9')
        return WISP_ERANGE;
    memcpy(s->x.sv.status_text, v, 3);
    s->status = (uint16_t)((v[0] - '0') * 100 + (v[1] - '0') * 10 + (v[2] - '0'));
    return 0;
}

static const wisp__stream_role_t request_role = {rq_request, rq_resume,  rq_abort,
                                                 rq_cancel,  rq_release, rq_timed_out,
                                                 rq_active,  rq_pseudo,  rq_set_pseudo};

/* ---- The request, as the h1 server sees it ---- */

/* RFC 9112 3.2.2: an absolute-form target ("http://h:8/a?q"; target_ok in the h1
 * server has checked its "scheme://") names the same resource as its origin-form
 * ("/a?q"), which is what path and query hold; an empty path is "/". */
static const char *origin_form(const char *t, size_t *len)
{
    const char *end = t + *len, *p = memchr(t, ':', *len);

    if (t[0] == '/' || t[0] == '*' || !p || end - p < 3)
        return t;
    p += 3;
    while (p < end && *p != '/' && *p != '?')
        p++;
    *len = (size_t)(end - p);
    return p;
}

/* method NUL path NUL query NUL, in one block. */
static int keep_target(wisp_stream_t *s, const char *method, const char *target, size_t tlen)
{
    wisp__server_part_t *sv = &s->x.sv;
    const char *t = origin_form(target, &tlen);
    const char *q = memchr(t, '?', tlen);
    size_t mlen = strlen(method), plen = q ? (size_t)(q - t) : tlen;
    char *b = wisp__alloc(s->cx, mlen + tlen + 4);

    if (!b)
        return WISP_ENOMEM;
    sv->method_len = mlen;
    sv->path_len = plen ? plen : 1;
    sv->query_len = q ? tlen - plen - 1 : 0;
    memcpy(b, method, mlen + 1);
    memcpy(b + mlen + 1, plen ? t : "/", sv->path_len);
    b[mlen + 1 + sv->path_len] = '\0';
    if (q)
        memcpy(b + mlen + 2 + sv->path_len, q + 1, sv->query_len);
    b[mlen + 2 + sv->path_len + sv->query_len] = '\0';
    sv->target = b;
    return 0;
}

static wisp__h1_sreq_t *h_request(void *user, const char *method, const char *target, size_t tlen)
{
    wisp_stream_t *l = user, *s;
    void *extra;

    s = wisp__stream_alloc(l->cx, l->ps, USER_HDR + l->x.sv.user_size, &extra);
    if (!s)
        return NULL;
    s->ops = l->ops;
    s->role = &request_role;
    s->user = (char *)extra + USER_HDR;
    memcpy(extra, &s, sizeof(s));
    s->x.sv.parent_user = l->user;
    s->unheard = 1; /* until SERVER_REQUEST */
    if (keep_target(s, method, target, tlen)) {
        wisp__stream_free_unlinked(s);
        return NULL;
    }
    wisp__stream_link(s);
    return &s->x.sv.sreq;
}

/* A declared header over WISP_STREAM_META_MAX fails the request (431). */
static int h_header(wisp__h1_sreq_t *r, const char *name, size_t nlen, const char *value,
                    size_t vlen)
{
    return wisp__stream_meta_from_header(of_sreq(r), name, nlen, value, vlen);
}

static int h_headers_done(wisp__h1_sreq_t *r)
{
    wisp_stream_t *s = of_sreq(r);

    s->unheard = 0;
    return wisp__stream_notify(s, WISP_STATE_SERVER_REQUEST, 0) ? WISP_ECANCELED : 0;
}

static int h_data(wisp__h1_sreq_t *r, const uint8_t *data, size_t len, int eom)
{
    return wisp__stream_rx(of_sreq(r), data, len, eom ? WISP_EOM : 0);
}

static int h_head(wisp__h1_sreq_t *r, wisp__h1_out_t *w)
{
    wisp_stream_t *s = of_sreq(r);
    size_t i;

    if (!s->status)
        s->status = 200;
    (void)wisp__h1_out_status_line(w, s->status, NULL);
    for (i = 0; i < s->ps->metadata_count; i++) {
        const char *h = s->ps->metadata[i].header;

        if (h && s->meta[i].set && s->meta[i].v)
            (void)wisp__h1_out_header(w, h, strlen(h), s->meta[i].v, s->meta[i].len);
    }
    return w->err;
}

static int h_body(wisp__h1_sreq_t *r, uint8_t *buf, size_t *len, int *eom)
{
    return wisp__stream_tx(of_sreq(r), buf, len, eom);
}

static void h_done(wisp__h1_sreq_t *r)
{
    wisp_stream_t *s = of_sreq(r);

    if (!wisp__stream_notify(s, WISP_STATE_DONE, s->status))
        wisp_stream_destroy(s);
}

static void h_failed(wisp__h1_sreq_t *r, int err)
{
    wisp_stream_t *s = of_sreq(r);

    if (destroying(s))
        return;
    if (s->unheard) {
        /* The app never heard of it: freed without a callback. */
        s->state = WISP_STATE_DESTROYING;
        wisp__defer(s->cx, &s->reap);
        return;
    }
    if (!wisp__stream_notify(s, WISP_STATE_DISCONNECTED, err))
        wisp_stream_destroy(s);
}

static const wisp__h1_srv_ops_t srv_ops = {h_request, h_header, h_headers_done, h_data,
                                           h_head,    h_body,   h_done,         h_failed};

/* ---- The listener's role ---- */

static int ls_request(wisp_stream_t *s, int64_t len)
{
    (void)s;
    (void)len;
    return WISP_ESTATE; /* a listener has no transaction: its requests do */
}

static void ls_nothing(wisp_stream_t *s)
{
    (void)s;
}

static void ls_abort(wisp_stream_t *s, int err)
{
    (void)s;
    (void)err;
}

static void ls_close(wisp_stream_t *s)
{
    wisp__h1_srv_close(&s->x.sv.srv);
}

static int ls_active(const wisp_stream_t *s)
{
    (void)s;
    return 0;
}

static const wisp__stream_role_t listener_role = {
    ls_request, ls_nothing, ls_abort, ls_close, ls_close, ls_nothing, ls_active, NULL, NULL};

int wisp__server_stream_init(wisp_stream_t *s)
{
    const wisp_policy_stream_t *ps = s->ps;
    wisp__h1_srv_cfg_t cfg;
    int ret;

    s->role = &listener_role;
    if (ps->tls) {
        ret = wisp__vhost_acquire_server(s->cx, ps, &s->vhost);
        if (ret)
            return ret;
    }
    memset(&cfg, 0, sizeof(cfg));
    cfg.ops = &srv_ops;
    cfg.user = s;
    cfg.vhost = s->vhost;
    cfg.name = ps->name;
    cfg.bind = ps->bind;
    cfg.port = ps->port;
    cfg.max_connections = ps->max_connections;
    cfg.header_limit = ps->header_limit;
    cfg.body_limit = ps->body_limit;
    cfg.handshake_timeout_ms = ps->handshake_timeout_ms;
    cfg.idle_timeout_ms = ps->idle_timeout_ms;
    return wisp__h1_listen(s->cx, &cfg, &s->x.sv.srv);
}

/* ---- Public ---- */

int wisp_stream_set_user_size(wisp_stream_t *s, size_t size)
{
    if (!s || s->role != &listener_role)
        return WISP_EINVAL;
    if (size > 65536)
        return WISP_ETOOBIG;
    s->x.sv.user_size = size;
    return 0;
}

wisp_stream_t *wisp_stream_from_user(void *user)
{
    wisp_stream_t *s;

    if (!user)
        return NULL;
    memcpy(&s, (char *)user - USER_HDR, sizeof(s));
    return s;
}

void *wisp_stream_parent_user(const wisp_stream_t *s)
{
    return s && s->role == &request_role ? s->x.sv.parent_user : NULL;
}

int wisp_stream_local_port(const wisp_stream_t *s)
{
    if (!s || s->role != &listener_role)
        return WISP_EINVAL;
    return s->x.sv.srv ? wisp__h1_srv_port(s->x.sv.srv) : WISP_ESTATE;
}
