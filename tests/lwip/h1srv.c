/*
 * See h1srv.h. Requests are buffered whole (head, then a Content-Length or chunked
 * body) and answered once complete; the connection stays open for the next one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "h1srv.h"
#include "tlspeer.h"

static int tls_send(void *io, const uint8_t *buf, size_t len)
{
    return wisp__sock_write(io, buf, len);
}

static int tls_recv(void *io, uint8_t *buf, size_t len)
{
    return wisp__sock_read(io, buf, len);
}

/* TLS, or the socket itself on a plain listener. */
static int c_read(h1srv_conn_t *c, void *buf, size_t len)
{
    return c->tls ? wisp__tls_read(c->tls, buf, len) : wisp__sock_read(&c->sock, buf, len);
}

static int c_write(h1srv_conn_t *c, const void *buf, size_t len)
{
    return c->tls ? wisp__tls_write(c->tls, buf, len) : wisp__sock_write(&c->sock, buf, len);
}

static void conn_close(h1srv_conn_t *c)
{
    if (!c->used)
        return;
    wisp__tls_destroy(&c->tls);
    wisp__sock_close(&c->sock);
    c->used = 0;
}

/* Length of a complete chunked body at p (n bytes), its payload size in *payload;
 * 0 if incomplete. */
static size_t chunked_len(const char *p, size_t n, size_t *payload)
{
    size_t off = 0;

    *payload = 0;
    for (;;) {
        const char *eol = NULL;
        size_t i, sz;

        for (i = off; i + 1 < n; i++) {
            if (p[i] == '\r' && p[i + 1] == '\n') {
                eol = p + i;
                break;
            }
        }
        if (!eol)
            return 0;
        sz = strtoul(p + off, NULL, 16);
        off = (size_t)(eol - p) + 2;
        if (!sz)
            return off + 2 <= n ? off + 2 : 0; /* no trailers */
        if (off + sz + 2 > n)
            return 0;
        off += sz + 2;
        *payload += sz;
    }
}

static void respond(h1srv_conn_t *c, const char *body)
{
    c->out_len =
        (size_t)snprintf(c->out, sizeof(c->out), "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n%s",
                         strlen(body), body);
    c->out_off = 0;
}

/* One complete request at the start of in[]? Answer it and drop it from in[].
 * Returns 1 if one was handled, 0 if more bytes are needed, -1 to close. */
static int handle(h1srv_conn_t *c)
{
    char *head_end, path[64], body[64];
    size_t head_len, total, payload = 0;
    const char *cl;

    c->in[c->in_len] = 0;
    head_end = strstr(c->in, "\r\n\r\n");
    if (!head_end)
        return 0;
    head_len = (size_t)(head_end - c->in) + 4;
    if (sscanf(c->in, "%*s %63s", path) != 1)
        return -1;
    if (strcmp(path, "/reset") == 0)
        return -1;
    if (strcmp(path, "/slow") == 0) {
        c->in_len = 0;
        return 0;
    }
    total = head_len;
    if (strstr(c->in, "\r\nTransfer-Encoding: chunked") ||
        strstr(c->in, "\r\ntransfer-encoding: chunked")) {
        size_t blen = chunked_len(c->in + head_len, c->in_len - head_len, &payload);

        if (!blen)
            return 0;
        total += blen;
    } else if ((cl = strstr(c->in, "ontent-Length: ")) || (cl = strstr(c->in, "ontent-length: "))) {
        payload = strtoul(cl + 15, NULL, 10);
        if (c->in_len < head_len + payload)
            return 0;
        total += payload;
    }
    c->srv->requests++;
    if (strcmp(path, "/echo") == 0) {
        snprintf(body, sizeof(body), "posted %zu", payload);
        respond(c, body);
    } else if (strcmp(path, "/q") == 0) {
        respond(c, "q");
    } else {
        respond(c, "hello from lwip\n");
    }
    memmove(c->in, c->in + total, c->in_len - total);
    c->in_len -= total;
    return 1;
}

static void pump(h1srv_conn_t *c)
{
    for (;;) {
        int n;

        if (!c->hs_done && c->tls) {
            n = wisp__tls_handshake(c->tls);
            if (n == WISP_EWANTREAD || n == WISP_EWANTWRITE)
                return;
            if (n) {
                conn_close(c);
                return;
            }
            c->hs_done = 1;
        }
        while (c->out_off < c->out_len) {
            n = c_write(c, c->out + c->out_off, c->out_len - c->out_off);
            if (n == WISP_EWANTREAD || n == WISP_EWANTWRITE || n == WISP_EAGAIN)
                return;
            if (n < 0) {
                conn_close(c);
                return;
            }
            c->out_off += (size_t)n;
        }
        c->out_len = c->out_off = 0;
        n = handle(c);
        if (n < 0) {
            conn_close(c);
            return;
        }
        if (n > 0)
            continue;
        if (c->in_len + 1 >= sizeof(c->in)) {
            conn_close(c);
            return;
        }
        n = c_read(c, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len);
        if (n == WISP_EWANTREAD || n == WISP_EWANTWRITE || n == WISP_EAGAIN)
            return;
        if (n <= 0) {
            conn_close(c);
            return;
        }
        c->in_len += (size_t)n;
    }
}

static void conn_cb(wisp__sock_t *s, int ev, int err)
{
    h1srv_conn_t *c = s->user;

    (void)err;
    if (ev == WISP_SOCK_ERROR) {
        conn_close(c);
        return;
    }
    pump(c);
}

static void listen_cb(wisp__sock_t *ls, int ev, int err)
{
    h1srv_t *s = ls->user;
    const wisp_plat_ops_t *plat = wisp__plat(s->cx);
    int fd;

    (void)ev;
    (void)err;
    while (plat->tcp_accept(plat->user, ls->fd, &fd, NULL) == 0) {
        h1srv_conn_t *c = NULL;
        size_t i;

        for (i = 0; i < H1SRV_CONNS && !c; i++)
            if (!s->conns[i].used)
                c = &s->conns[i];
        if (!c) {
            plat->sock_close(plat->user, fd);
            continue;
        }
        memset(c, 0, sizeof(*c));
        c->srv = s;
        c->used = 1;
        s->accepted++;
        wisp__sock_init(s->cx, &c->sock, conn_cb, c);
        if ((s->conf &&
             wisp__tls_create(s->conf, NULL, tls_send, tls_recv, &c->sock, NULL, NULL, &c->tls)) ||
            wisp__sock_adopt(&c->sock, fd)) {
            wisp__tls_destroy(&c->tls);
            if (c->sock.fd < 0)
                plat->sock_close(plat->user, fd);
            conn_close(c);
            c->used = 0;
            continue;
        }
        wisp__sock_want_read(&c->sock, 1);
    }
}

int h1srv_open(h1srv_t *s, wisp_context_t *cx, uint16_t port, int tls)
{
    wisp__tls_conf_info_t in;
    wisp__tls_blob_t cert = tlspeer_cert_blob(WISP_TEST_CERTS, "server.pem");
    wisp__tls_blob_t key = tlspeer_cert_blob(WISP_TEST_CERTS, "server.key");
    wisp_addr_t at;
    int ret;

    memset(s, 0, sizeof(*s));
    s->cx = cx;
    if (!tls) {
        tlspeer_blob_free(&cert);
        tlspeer_blob_free(&key);
        goto listen;
    }
    memset(&in, 0, sizeof(in));
    in.server = 1;
    in.cert = cert;
    in.key = key;
    ret = wisp__tls_conf_create(cx, &in, &s->conf);
    tlspeer_blob_free(&cert);
    tlspeer_blob_free(&key);
    if (ret)
        return ret;
listen:
    (void)wisp_addr_parse("127.0.0.1", port, &at);
    wisp__sock_init(cx, &s->lsock, listen_cb, s);
    return wisp__sock_listen(&s->lsock, &at, 8, &s->bound);
}

void h1srv_close(h1srv_t *s)
{
    size_t i;

    for (i = 0; i < H1SRV_CONNS; i++)
        conn_close(&s->conns[i]);
    if (s->lsock.cx)
        wisp__sock_close(&s->lsock);
    wisp__tls_conf_destroy(&s->conf);
}
