/*
 * The test server application of srvapp.h.
 */
#include "srvapp.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHUNKED_TOTAL 3000
#define PIECE 1000

typedef struct slot {
    unsigned idx; /* record index + 1; 0: the app never heard of this stream */
} slot_t;

void srvapp_violation(srvapp_t *a, const char *fmt, ...)
{
    va_list ap;

    if (!a->violations++) {
        va_start(ap, fmt);
        vsnprintf(a->why, sizeof(a->why), fmt, ap);
        va_end(ap);
    }
}

size_t srvapp_user_size(void)
{
    return sizeof(slot_t);
}

int srvapp_route(srvapp_t *a, unsigned index, const char *path, size_t len)
{
    static const struct {
        const char *p;
        int action;
    } routes[] = {
        {"/hello", SA_HELLO},       {"/echo", SA_ECHO},
        {"/chunked", SA_CHUNKED},   {"/slow", SA_SLOW},
        {"/404", SA_404},           {"/destroy-req", SA_DESTROY_REQ},
        {"/disc-req", SA_DISC_REQ}, {"/destroy-rx", SA_DESTROY_RX},
        {"/disc-rx", SA_DISC_RX},   {"/destroy-tx", SA_DESTROY_TX},
        {"/disc-tx", SA_DISC_TX},   {"/pause", SA_TX_PAUSE},
        {"/204", SA_STATUS_204},
    };
    size_t i;

    (void)a;
    (void)index;
    for (i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        if (len == strlen(routes[i].p) && !memcmp(path, routes[i].p, len))
            return routes[i].action;
    return SA_PATH;
}

static srvapp_req_t *rec_of(srvapp_t *a, void *user, const char *what)
{
    slot_t *sl = user;

    if (!sl->idx || sl->idx > a->nreq) {
        srvapp_violation(a, "%s on a request stream the app never heard of (no SERVER_REQUEST)",
                         what);
        return NULL;
    }
    return &a->req[sl->idx - 1];
}

/* The answer; nonzero (a callback's return) if it failed. */
static int answer(srvapp_t *a, srvapp_req_t *r)
{
    wisp_stream_t *s = r->s;
    int ret = 0;

    (void)a;
    r->asked = 1;
    switch (r->action) {
    case SA_HELLO:
        r->total = 5;
        ret = wisp_stream_request_tx_len(s, r->total);
        break;
    case SA_ECHO:
        r->total = (size_t)snprintf(r->path, sizeof(r->path), "%lu", (unsigned long)r->rx_bytes);
        ret = wisp_stream_request_tx_len(s, r->total);
        break;
    case SA_CHUNKED:
    case SA_DESTROY_TX:
    case SA_DISC_TX:
        r->total = CHUNKED_TOTAL;
        ret = wisp_stream_request_tx(s);
        break;
    case SA_404:
        r->total = 2;
        ret = wisp_stream_set_metadata(s, "status", "404", 3);
        if (!ret)
            ret = wisp_stream_request_tx_len(s, r->total);
        break;
    case SA_STATUS_204:
        r->total = 0;
        ret = wisp_stream_set_metadata(s, "status", "204", 3);
        if (!ret)
            ret = wisp_stream_request_tx_len(s, 0);
        break;
    case SA_TX_PAUSE:
        r->total = 10;
        ret = wisp_stream_request_tx_len(s, r->total);
        break;
    default: /* SA_PATH */
        r->total = strlen(r->path);
        ret = wisp_stream_request_tx_len(s, r->total);
        break;
    }
    if (ret) {
        r->asked = 0;
        return WISP_CB_DISCONNECT; /* e.g. ENOMEM for the status metadata */
    }
    return 0;
}

static int st_cb(void *user, wisp_state_t st, int arg)
{
    srvapp_t *a;
    srvapp_req_t *r;
    wisp_stream_t *s;
    slot_t *sl = user;

    if (((srvapp_t *)user)->magic == SRVAPP_MAGIC) {
        /* The listener's own states: its user is the srvapp_t itself. */
        ((srvapp_t *)user)->listener_states++;
        return 0;
    }
    s = wisp_stream_from_user(user);
    a = wisp_stream_parent_user(s);
    if (st == WISP_STATE_SERVER_REQUEST) {
        const void *p = NULL;
        size_t n = 0;

        if (sl->idx) {
            srvapp_violation(a, "a second SERVER_REQUEST");
            return 0;
        }
        a->requests++;
        if (a->nreq == SRVAPP_MAX) {
            a->overflow++;
            return WISP_CB_DESTROY; /* unrecorded: the app sends it away */
        }
        r = &a->req[a->nreq++];
        memset(r, 0, sizeof(*r));
        sl->idx = a->nreq;
        r->s = s;
        r->requests = 1;
        if (wisp_stream_get_metadata(s, "path", &p, &n) || !p)
            srvapp_violation(a, "SERVER_REQUEST without a path");
        if (n >= sizeof(r->path))
            n = sizeof(r->path) - 1;
        if (p)
            memcpy(r->path, p, n);
        r->path[n] = '\0';
        if (!wisp_stream_get_metadata(s, "method", &p, &n) && n == 4 && !memcmp(p, "HEAD", 4))
            r->head = 1;
        r->action = a->choose ? a->choose(a, a->nreq - 1, r->path, strlen(r->path))
                              : srvapp_route(a, a->nreq - 1, r->path, strlen(r->path));
        switch (r->action) {
        case SA_DESTROY_REQ:
            return WISP_CB_DESTROY;
        case SA_DISC_REQ:
            return WISP_CB_DISCONNECT;
        case SA_HELLO:
        case SA_CHUNKED:
        case SA_404:
        case SA_DESTROY_TX:
        case SA_DISC_TX:
        case SA_STATUS_204:
        case SA_TX_PAUSE:
            return answer(a, r);
        default:
            return 0; /* after the body, or later */
        }
    }
    if (!sl->idx) {
        if (st == WISP_STATE_DESTROYING && a->overflow)
            return 0; /* one of the unrecorded ones */
        srvapp_violation(a, "%s on a request stream the app never heard of (no SERVER_REQUEST)",
                         wisp_state_name(st));
        return 0;
    }
    r = &a->req[sl->idx - 1];
    if (r->destroying) {
        r->after_destroying++;
        srvapp_violation(a, "%s after DESTROYING (request %u)", wisp_state_name(st), sl->idx - 1);
        return 0;
    }
    switch (st) {
    case WISP_STATE_DESTROYING:
        r->destroying++;
        r->s = NULL;
        a->destroyed++;
        break;
    case WISP_STATE_DONE:
    case WISP_STATE_DISCONNECTED:
        if (r->ends++)
            srvapp_violation(a, "request %u: %s after %s", sl->idx - 1, wisp_state_name(st),
                             wisp_state_name(r->end));
        r->end = st;
        r->end_arg = arg;
        if (st == WISP_STATE_DONE) {
            a->done++;
            if (!r->asked)
                srvapp_violation(a, "request %u: DONE without an answer", sl->idx - 1);
            else if (r->sent != r->total && !r->head)
                srvapp_violation(a, "request %u: DONE with %zu of %zu bytes sent", sl->idx - 1,
                                 r->sent, r->total);
        } else {
            a->lost++;
        }
        break;
    default:
        srvapp_violation(a, "request %u: unexpected state %s", sl->idx - 1, wisp_state_name(st));
        break;
    }
    return 0;
}

static int rx_cb(void *user, const uint8_t *buf, size_t len, unsigned flags)
{
    wisp_stream_t *s = wisp_stream_from_user(user);
    srvapp_t *a = wisp_stream_parent_user(s);
    srvapp_req_t *r = rec_of(a, user, "rx");

    (void)buf;
    if (!r)
        return 0;
    if (r->destroying || r->ends || r->rx_eom) {
        srvapp_violation(a, "request %u: rx after its end (eom %d)", (unsigned)(r - a->req),
                         r->rx_eom);
        return 0;
    }
    r->rx_bytes += len;
    if (!(flags & WISP_EOM))
        return 0;
    r->rx_eom = 1;
    switch (r->action) {
    case SA_DESTROY_RX:
        return WISP_CB_DESTROY;
    case SA_DISC_RX:
        return WISP_CB_DISCONNECT;
    case SA_ECHO:
    case SA_PATH:
        return answer(a, r);
    default:
        return 0;
    }
}

static int tx_cb(void *user, uint8_t *buf, size_t *len, unsigned *flags)
{
    wisp_stream_t *s = wisp_stream_from_user(user);
    srvapp_t *a = wisp_stream_parent_user(s);
    srvapp_req_t *r = rec_of(a, user, "tx");
    size_t n;

    if (!r)
        return WISP_CB_DISCONNECT;
    if (!r->asked || r->destroying || r->ends) {
        srvapp_violation(a, "request %u: tx without an answer asked, or after its end",
                         (unsigned)(r - a->req));
        return WISP_CB_DISCONNECT;
    }
    r->tx_calls++;
    if (r->tx_calls == 2 && r->action == SA_DESTROY_TX)
        return WISP_CB_DESTROY;
    if (r->tx_calls == 2 && r->action == SA_DISC_TX)
        return WISP_CB_DISCONNECT;
    if (r->action == SA_TX_PAUSE && r->tx_calls == 1) {
        r->paused = 1;
        *len = 0;
        return 0; /* nothing yet: srvapp_resume() */
    }
    n = r->total - r->sent;
    if (n > *len)
        n = *len;
    if (n > PIECE)
        n = PIECE;
    if (r->action == SA_CHUNKED || r->action == SA_DESTROY_TX || r->action == SA_DISC_TX)
        memset(buf, 'c', n);
    else if (r->action == SA_HELLO)
        memcpy(buf, &"hello"[r->sent], n);
    else if (r->action == SA_404)
        memcpy(buf, &"no"[r->sent], n);
    else if (r->action == SA_TX_PAUSE)
        memset(buf, 'p', n);
    else
        memcpy(buf, r->path + r->sent, n);
    r->sent += n;
    *len = n;
    if (r->sent == r->total)
        *flags |= WISP_EOM;
    return 0;
}

void srvapp_init(srvapp_t *a, const char *type, wisp_stream_ops_t *ops)
{
    memset(a, 0, sizeof(*a));
    a->magic = SRVAPP_MAGIC;
    memset(ops, 0, sizeof(*ops));
    ops->type = type;
    ops->rx = rx_cb;
    ops->tx = tx_cb;
    ops->state = st_cb;
}

void srvapp_answer_slow(srvapp_t *a)
{
    unsigned i;

    for (i = 0; i < a->nreq; i++) {
        srvapp_req_t *r = &a->req[i];

        if (r->s && r->action == SA_SLOW && !r->asked && !r->ends) {
            r->action = SA_PATH;
            if (answer(a, r))
                wisp_stream_destroy(r->s);
        }
    }
}

void srvapp_resume(srvapp_t *a)
{
    unsigned i;

    for (i = 0; i < a->nreq; i++) {
        if (a->req[i].s && a->req[i].paused) {
            a->req[i].paused = 0;
            wisp_stream_tx_resume(a->req[i].s);
        }
    }
}

unsigned srvapp_live(const srvapp_t *a)
{
    unsigned i, n = 0;

    for (i = 0; i < a->nreq; i++)
        n += a->req[i].s != NULL;
    return n;
}

void srvapp_check_end(srvapp_t *a)
{
    unsigned i;

    for (i = 0; i < a->nreq; i++) {
        const srvapp_req_t *r = &a->req[i];

        if (r->destroying != 1)
            srvapp_violation(a, "request %u (%s): %u DESTROYING at the end", i, r->path,
                             r->destroying);
        if (r->ends > 1)
            srvapp_violation(a, "request %u (%s): %u ends", i, r->path, r->ends);
    }
}

/* ---- What the server wrote ---- */

static const uint8_t *find_crlf2(const uint8_t *p, size_t len)
{
    size_t i;

    for (i = 0; i + 4 <= len; i++)
        if (!memcmp(p + i, "\r\n\r\n", 4))
            return p + i;
    return NULL;
}

/* The value of a header in head[0..hl) (case-insensitive name), or NULL. */
static const char *hval(const char *head, size_t hl, const char *name, size_t *vl)
{
    size_t nl = strlen(name), i = 0;

    while (i < hl) {
        const char *line = head + i, *eol = memchr(line, '\n', hl - i);
        size_t l, k;

        if (!eol)
            break;
        l = (size_t)(eol - line);
        if (l > nl && line[nl] == ':') {
            for (k = 0; k < nl; k++)
                if ((line[k] | 0x20) != (name[k] | 0x20))
                    break;
            if (k == nl) {
                const char *v = line + nl + 1;

                while (*v == ' ')
                    v++;
                *vl = (size_t)(eol - v);
                if (*vl && v[*vl - 1] == '\r')
                    (*vl)--;
                return v;
            }
        }
        i += l + 1;
    }
    return NULL;
}

#define WHY(...) (snprintf(why, why_len, __VA_ARGS__), -1)

int srvapp_check_http(const uint8_t *p, size_t len, int *status, size_t max, size_t *n, char *why,
                      size_t why_len)
{
    size_t off = 0;

    *n = 0;
    while (off < len) {
        const uint8_t *h = p + off, *end = find_crlf2(h, len - off);
        size_t hl, vl;
        const char *v;
        int st;

        if (len - off >= 9 && memcmp(h, "HTTP/1.1 ", 9))
            return WHY("response %zu at offset %zu does not start with HTTP/1.1", *n, off);
        if (!end)
            return 0; /* cut short */
        hl = (size_t)(end - h) + 4;
        if (hl < 16 || h[9] < '1' || h[9] > '5' || h[10] < '0' || h[10] > '9' || h[11] < '0' ||
            h[11] > '9' || h[12] != ' ')
            return WHY("response %zu: bad status line", *n);
        st = (h[9] - '0') * 100 + (h[10] - '0') * 10 + (h[11] - '0');
        if (*n < max)
            status[*n] = st;
        off += hl;
        (*n)++;
        if (st < 200 || st == 204 || st == 304)
            continue;
        if ((v = hval((const char *)h, hl, "content-length", &vl)) != NULL) {
            size_t cl = 0, i;

            if (hval((const char *)h, hl, "transfer-encoding", &vl))
                return WHY("response %zu: Content-Length and Transfer-Encoding", *n - 1);
            v = hval((const char *)h, hl, "content-length", &vl);
            for (i = 0; i < vl; i++) {
                if (v[i] < '0' || v[i] > '9')
                    return WHY("response %zu: bad Content-Length", *n - 1);
                cl = cl * 10 + (size_t)(v[i] - '0');
            }
            /* The answer to a HEAD: the length, no body (the next response follows). */
            if (len - off >= 7 && !memcmp(p + off, "HTTP/1.", 7))
                continue;
            if (len - off < cl)
                return 0; /* cut short */
            off += cl;
        } else if ((v = hval((const char *)h, hl, "transfer-encoding", &vl)) != NULL) {
            if (vl != 7 || memcmp(v, "chunked", 7))
                return WHY("response %zu: Transfer-Encoding %.*s", *n - 1, (int)vl, v);
            if (len - off >= 7 && !memcmp(p + off, "HTTP/1.", 7))
                continue; /* HEAD */
            for (;;) {
                size_t sz = 0, digits = 0;

                while (off < len && ((p[off] >= '0' && p[off] <= '9') ||
                                     ((p[off] | 0x20) >= 'a' && (p[off] | 0x20) <= 'f'))) {
                    sz = sz * 16 +
                         (size_t)(p[off] <= '9' ? p[off] - '0' : (p[off] | 0x20) - 'a' + 10);
                    off++;
                    digits++;
                }
                if (off == len)
                    return 0;
                if (!digits || len - off < 2)
                    return digits ? 0 : WHY("response %zu: bad chunk size", *n - 1);
                if (memcmp(p + off, "\r\n", 2))
                    return WHY("response %zu: chunk size line", *n - 1);
                off += 2;
                if (!sz) {
                    if (len - off < 2)
                        return 0;
                    if (memcmp(p + off, "\r\n", 2))
                        return WHY("response %zu: trailers or no final CRLF", *n - 1);
                    off += 2;
                    break;
                }
                if (len - off < sz + 2)
                    return 0;
                if (memcmp(p + off + sz, "\r\n", 2))
                    return WHY("response %zu: chunk without CRLF", *n - 1);
                off += sz + 2;
            }
        } else {
            return 0; /* close-delimited: the rest is its body */
        }
    }
    return 0;
}
