/*
 * The HTTP/1.1 request parser (server side): the request line, the Host and Expect
 * fields, and the RFC 9112 6.3 rules for request bodies — which are strict, because
 * a server that guesses a request's length differently from a proxy in front of it
 * lets a second request hide inside the first (request smuggling). Lines, fields and
 * body bytes are the shared engine's (parse.c).
 *
 * A wisp__h1_req_t is a wisp__h1_msg_t followed by the Host count and the expect
 * flag; the engine's ops receive the msg, its first member, and cast back.
 */
#include <string.h>

#include "http1/engine.h"

/* A token method, a target of visible ASCII, "HTTP/1.x": exactly one SP between.
 * No version at all would be HTTP/0.9, which is refused. */
static int request_line(wisp__h1_msg_t *m, char *s, size_t n)
{
    char *end = s + n, *target, *version;
    size_t method_len = 0, target_len = 0;

    while (method_len < n && wisp__is_tchar((unsigned char)s[method_len]))
        method_len++;
    if (method_len == 0 || method_len == n || s[method_len] != ' ')
        return WISP_EPROTO;
    target = s + method_len + 1;
    while (target + target_len < end && (unsigned char)target[target_len] > 0x20 &&
           (unsigned char)target[target_len] < 0x7f)
        target_len++;
    version = target + target_len;
    if (target_len == 0 || end - version != 9 || *version != ' ' ||
        memcmp(version + 1, "HTTP/1.", 7) != 0 || version[8] < '0' || version[8] > '9')
        return WISP_EPROTO;
    if (version[8] != '0')
        m->flags |= H1_F_V11;
    s[method_len] = '\0';
    *version = '\0';
    if (m->cb->on_request == NULL)
        return 0;
    return wisp__h1_cb_ret(m->cb->on_request(m->user, s, method_len, target, target_len));
}

static int req_field(wisp__h1_msg_t *m, const char *name, size_t nl, const char *v, size_t vl)
{
    wisp__h1_req_t *q = (wisp__h1_req_t *)m;

    if (wisp__h1_name_eq(name, nl, "host")) {
        if (q->hosts < 2)
            q->hosts++;
    } else if (wisp__h1_name_eq(name, nl, "expect") && wisp__h1_name_eq(v, vl, "100-continue")) {
        q->expect_continue = 1;
    }
    return 0;
}

static int req_head_done(wisp__h1_msg_t *m)
{
    wisp__h1_req_t *q = (wisp__h1_req_t *)m;
    int ret = wisp__h1_msg_framing_check(m);

    if (ret != 0)
        return ret;
    /* RFC 9112 3.2: 400 for an HTTP/1.1 request without Host, and for any request
     * with more than one — two Hosts are two opinions on which site is meant. */
    if (q->hosts > 1 || ((m->flags & H1_F_V11) && q->hosts == 0))
        return WISP_EPROTO;
    /* RFC 9110 10.1.1: a server MUST ignore 100-continue in an HTTP/1.0 request. */
    if (!(m->flags & H1_F_V11))
        q->expect_continue = 0;
    /* A request without either framing field has no body (RFC 9112 6.3 item 6). */
    if (m->flags & H1_F_TE)
        return wisp__h1_msg_body(m, H1_BODY_CHUNKED);
    return wisp__h1_msg_body(m, (m->flags & H1_F_HAVE_CL) ? H1_BODY_LENGTH : H1_BODY_NONE);
}

static const struct wisp__h1_ops req_ops = {request_line, req_field, req_head_done};

void wisp__h1_req_init(wisp__h1_req_t *q, const wisp__h1_req_cfg_t *cfg)
{
    wisp__h1_msg_init(&q->m, &req_ops, cfg->cb, cfg->user, cfg->max_head, cfg->max_body);
    q->hosts = 0;
    q->expect_continue = 0;
}

int wisp__h1_req_feed(wisp__h1_req_t *q, const uint8_t *buf, size_t len, size_t *consumed)
{
    if (consumed != NULL)
        *consumed = 0;
    if (q == NULL || (buf == NULL && len > 0))
        return WISP_EINVAL;
    return wisp__h1_msg_feed(&q->m, buf, len, consumed);
}

int wisp__h1_req_eof(wisp__h1_req_t *q)
{
    return q != NULL ? wisp__h1_msg_eof(&q->m) : WISP_EINVAL;
}

int wisp__h1_req_is_done(const wisp__h1_req_t *q)
{
    return q->m.state == H1_S_DONE;
}

int wisp__h1_req_in_body(const wisp__h1_req_t *q)
{
    return (q->m.flags & H1_F_IN_BODY) != 0;
}

int wisp__h1_req_http11(const wisp__h1_req_t *q)
{
    return (q->m.flags & H1_F_V11) != 0;
}

int wisp__h1_req_expect_continue(const wisp__h1_req_t *q)
{
    return q->expect_continue;
}

int wisp__h1_req_keepalive(const wisp__h1_req_t *q)
{
    return wisp__h1_msg_keepalive(&q->m);
}
