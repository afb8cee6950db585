/*
 * The HTTP/1.1 response parser (client side): the status line, interim 1xx
 * responses, and the RFC 9112 6.3 rules for where a response body ends. Lines,
 * fields and body bytes are the shared engine's (parse.c).
 *
 * A wisp__h1_resp_t is a wisp__h1_msg_t followed by the final status and the HEAD
 * flag; the engine's ops receive the msg, which is the first member, so the cast
 * back to the response is valid C.
 */
#include <string.h>

#include "http1/engine.h"

static int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

/* "HTTP/1.x SP 3DIGIT [SP reason-phrase]" — the reason may be absent altogether, as
 * some servers send "HTTP/1.1 200" with nothing after the code. */
static int status_line(wisp__h1_msg_t *m, char *s, size_t n)
{
    wisp__h1_resp_t *r = (wisp__h1_resp_t *)m;
    int code;

    if (n < 12 || memcmp(s, "HTTP/1.", 7) != 0 || !is_digit(s[7]) || s[8] != ' ' ||
        !is_digit(s[9]) || !is_digit(s[10]) || !is_digit(s[11]) || (n > 12 && s[12] != ' '))
        return WISP_EPROTO;
    code = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
    /* RFC 9110 15: codes outside 100..599 are invalid. wisp never asks for an upgrade,
     * so a 101 would hand the connection to a protocol nobody here speaks. */
    if (code < 100 || code > 599 || code == 101)
        return WISP_EPROTO;
    if (s[7] != '0')
        m->flags |= H1_F_V11;
    if (code < 200) {
        /* An interim response: parsed for syntax and limits, reported to no one. */
        m->flags |= H1_F_QUIET;
        return 0;
    }
    r->status = (uint16_t)code;
    if (m->cb->on_status == NULL)
        return 0;
    s += n > 12 ? 13 : 12;
    return wisp__h1_cb_ret(m->cb->on_status(m->user, code, s, n > 12 ? n - 13 : 0));
}

static int resp_head_done(wisp__h1_msg_t *m)
{
    wisp__h1_resp_t *r = (wisp__h1_resp_t *)m;
    int ret, mode;

    if (m->flags & H1_F_QUIET) {
        wisp__h1_msg_restart(m);
        return 0;
    }
    ret = wisp__h1_msg_framing_check(m);
    if (ret != 0)
        return ret;
    /* RFC 9112 6.3, in its order: HEAD, 204 and 304 have no body whatever the fields
     * say; then chunked; then Content-Length; else the body runs to the close. */
    if (r->head_request || r->status == 204 || r->status == 304)
        mode = H1_BODY_NONE;
    else if (m->flags & H1_F_TE)
        mode = H1_BODY_CHUNKED;
    else if (m->flags & H1_F_HAVE_CL)
        mode = H1_BODY_LENGTH;
    else
        mode = H1_BODY_UNTIL_CLOSE;
    /* SPEC §7: framing that leaves doubt forbids reusing the socket. A 204 or 304
     * that announces a body may be followed by body bytes the server sends anyway,
     * which would be read as the next response. (A HEAD answer's Content-Length or
     * Transfer-Encoding describe the GET body, RFC 9110 9.3.2, and servers send
     * them: no doubt there.) */
    if ((r->status == 204 || r->status == 304) &&
        ((m->flags & H1_F_TE) || ((m->flags & H1_F_HAVE_CL) && m->remaining > 0)))
        r->doubtful = 1;
    return wisp__h1_msg_body(m, mode);
}

static const struct wisp__h1_ops resp_ops = {status_line, NULL, resp_head_done};

void wisp__h1_resp_init(wisp__h1_resp_t *r, const wisp__h1_resp_cfg_t *cfg)
{
    wisp__h1_msg_init(&r->m, &resp_ops, cfg->cb, cfg->user, cfg->max_head, 0);
    r->status = 0;
    r->head_request = cfg->head_request != 0;
    r->doubtful = 0;
}

int wisp__h1_resp_feed(wisp__h1_resp_t *r, const uint8_t *buf, size_t len, size_t *consumed)
{
    if (consumed != NULL)
        *consumed = 0;
    if (r == NULL || (buf == NULL && len > 0))
        return WISP_EINVAL;
    return wisp__h1_msg_feed(&r->m, buf, len, consumed);
}

int wisp__h1_resp_eof(wisp__h1_resp_t *r)
{
    return r != NULL ? wisp__h1_msg_eof(&r->m) : WISP_EINVAL;
}

int wisp__h1_resp_is_done(const wisp__h1_resp_t *r)
{
    return r->m.state == H1_S_DONE;
}

int wisp__h1_resp_status(const wisp__h1_resp_t *r)
{
    return r->status;
}

int wisp__h1_resp_keepalive(const wisp__h1_resp_t *r)
{
    return !r->doubtful && wisp__h1_msg_keepalive(&r->m);
}

int wisp__h1_resp_started(const wisp__h1_resp_t *r)
{
    return (r->m.flags & H1_F_STARTED) != 0;
}
