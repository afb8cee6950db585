/*
 * See tlspeer.h. Event flow: socket CONNECTED -> handshake; READABLE/WRITABLE ->
 * pump(), which advances the handshake, then writes and reads until TLS would block.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testfiles.h"
#include "tlspeer.h"

static uint8_t pattern(uint8_t seed, size_t i)
{
    return (uint8_t)(seed + i * 31u + (i >> 8));
}

static uint32_t xorshift(uint32_t *s)
{
    uint32_t x = *s;

    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

static int tls_send(void *io, const uint8_t *buf, size_t len)
{
    return wisp__sock_write(io, buf, len);
}

static int tls_recv(void *io, uint8_t *buf, size_t len)
{
    return wisp__sock_read(io, buf, len);
}

/* Keeps the latest session TLS offers (TLS 1.3 may send several tickets). */
static void session_sink(void *user, wisp__tls_session_t *sess)
{
    tlspeer_t *p = user;

    if (!p->save_session) {
        wisp__tls_session_free(p->cx, &sess);
        return;
    }
    wisp__tls_session_free(p->cx, &p->session);
    p->session = sess;
}

static void fail(tlspeer_t *p, int err)
{
    if (!p->err)
        p->err = err;
    tlspeer_close(p);
}

static int do_write(tlspeer_t *p)
{
    uint8_t buf[16384];

    while (p->tx_done < p->tx_total) {
        size_t max = p->max_write ? p->max_write : sizeof(buf);
        size_t n = p->tx_pending, i;
        int w;

        /* After WANTWRITE, TLS must be called again with the same length. */
        if (!n)
            n = 1 + xorshift(&p->rng) % max;
        if (n > p->tx_total - p->tx_done)
            n = p->tx_total - p->tx_done;
        for (i = 0; i < n; i++)
            buf[i] = pattern(p->tx_seed, p->tx_done + i);
        w = wisp__tls_write(p->tls, buf, n);
        if (w == WISP_EWANTWRITE || w == WISP_EWANTREAD) {
            p->tx_pending = n;
            return 0;
        }
        if (w < 0)
            return w;
        p->tx_pending = 0;
        p->tx_done += (size_t)w;
    }
    return 0;
}

static int do_read(tlspeer_t *p)
{
    uint8_t buf[4096];

    for (;;) {
        int n = wisp__tls_read(p->tls, buf, sizeof(buf)), i;

        if (n == WISP_EWANTREAD || n == WISP_EWANTWRITE)
            return 0;
        if (n <= 0)
            p->last_read = n;
        if (n == 0)
            return p->rx_done == p->rx_total ? 1 : WISP_ECLOSED;
        if (n < 0)
            return n;
        for (i = 0; i < n; i++) {
            if (p->rx_done + (size_t)i >= p->rx_total ||
                buf[i] != pattern(p->rx_seed, p->rx_done + (size_t)i))
                return WISP_EPROTO;
        }
        p->rx_done += (size_t)n;
    }
}

static void pump(tlspeer_t *p)
{
    int ret;

    if (p->closed)
        return;
    if (!p->hs_done) {
        ret = wisp__tls_handshake(p->tls);
        if (ret == WISP_EWANTREAD || ret == WISP_EWANTWRITE)
            return;
        if (ret) {
            fail(p, ret);
            return;
        }
        p->hs_done = 1;
        p->resumed = wisp__tls_resumed(p->tls);
        if (p->on_handshake)
            p->on_handshake(p);
    }
    ret = do_write(p);
    if (ret >= 0)
        ret = do_read(p);
    if (ret < 0) {
        fail(p, ret);
        return;
    }
    if (p->tx_done == p->tx_total && p->rx_done == p->rx_total && !p->finished) {
        p->finished = 1;
        /* The client closes first; the server closes when it sees close_notify. */
        if ((!p->server && !p->wait_close) || p->close_done || ret == 1)
            tlspeer_close(p);
    } else if (ret == 1 && p->finished) {
        tlspeer_close(p);
    }
}

static void sock_cb(wisp__sock_t *s, int ev, int err)
{
    tlspeer_t *p = s->user;

    if (ev == WISP_SOCK_CONNECTED && err) {
        fail(p, err);
        return;
    }
    if (ev == WISP_SOCK_ERROR) {
        fail(p, err);
        return;
    }
    if (ev == WISP_SOCK_CONNECTED)
        wisp__sock_want_read(s, 1);
    pump(p);
}

static void init(tlspeer_t *p, wisp_context_t *cx)
{
    p->cx = cx;
    p->rng = p->rng ? p->rng : 0x9e3779b9u;
    wisp__sock_init(cx, &p->sock, sock_cb, p);
}

int tlspeer_connect(tlspeer_t *p, wisp_context_t *cx, wisp__tls_conf_t *conf, const char *host,
                    const wisp_addr_t *addr, const wisp__tls_session_t *resume)
{
    int ret;

    init(p, cx);
    ret = wisp__tls_create(conf, host, tls_send, tls_recv, &p->sock, session_sink, p, &p->tls);
    if (!ret && resume)
        ret = wisp__tls_set_session(p->tls, resume);
    if (!ret)
        ret = wisp__sock_connect(&p->sock, addr);
    if (ret)
        wisp__tls_destroy(&p->tls);
    else
        wisp__stats(cx)->conns_opened++;
    return ret;
}

int tlspeer_accept(tlspeer_t *p, wisp_context_t *cx, wisp__tls_conf_t *conf, int fd)
{
    int ret;

    init(p, cx);
    p->server = 1;
    ret = wisp__tls_create(conf, NULL, tls_send, tls_recv, &p->sock, NULL, NULL, &p->tls);
    if (!ret)
        ret = wisp__sock_adopt(&p->sock, fd);
    if (ret) {
        wisp__tls_destroy(&p->tls);
        return ret;
    }
    wisp__sock_want_read(&p->sock, 1);
    return 0;
}

void tlspeer_close(tlspeer_t *p)
{
    if (p->closed)
        return;
    p->closed = 1;
    if (p->tls && p->hs_done && p->sock.fd >= 0) {
        if (!p->bare_close)
            (void)wisp__tls_close_notify(p->tls);
        (void)wisp__sock_flush(&p->sock);
    }
    /* The one close order: unregister, free the TLS session, close the fd. */
    wisp__tls_destroy(&p->tls);
    wisp__sock_close(&p->sock);
}

static void listen_cb(wisp__sock_t *s, int ev, int err)
{
    tlslistener_t *l = s->user;
    const wisp_plat_ops_t *plat = wisp__plat(s->cx);
    int fd;

    (void)ev;
    (void)err;
    while (plat->tcp_accept(plat->user, s->fd, &fd, NULL) == 0) {
        tlspeer_t *p;

        if (l->accepted == l->npeers) {
            plat->sock_close(plat->user, fd);
            continue;
        }
        p = &l->peers[l->accepted++];
        if (!p->tx_total)
            p->tx_total = l->tx_total;
        if (!p->rx_total)
            p->rx_total = l->rx_total;
        if (tlspeer_accept(p, s->cx, l->conf, fd)) {
            plat->sock_close(plat->user, fd);
            p->err = WISP_EINTERNAL;
            p->closed = 1;
        }
    }
}

int tlslistener_open(tlslistener_t *l, wisp_context_t *cx, wisp__tls_conf_t *conf, const char *ip,
                     tlspeer_t *peers, size_t npeers)
{
    wisp_addr_t at;
    int ret = wisp_addr_parse(ip, 0, &at);

    if (ret)
        return ret;
    l->conf = conf;
    l->peers = peers;
    l->npeers = npeers;
    wisp__sock_init(cx, &l->sock, listen_cb, l);
    return wisp__sock_listen(&l->sock, &at, 16, &l->bound);
}

void tlslistener_close(tlslistener_t *l)
{
    if (l->sock.cx)
        wisp__sock_close(&l->sock);
}

wisp__tls_blob_t tlspeer_cert_blob(const char *dir, const char *name)
{
    wisp__tls_blob_t b = {NULL, 0};
    char path[512];
    size_t len = 0;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    b.data = (const uint8_t *)test_read_file(path, &len);
    b.len = len;
    return b;
}

void tlspeer_blob_free(wisp__tls_blob_t *b)
{
    free((void *)(uintptr_t)b->data);
    b->data = NULL;
    b->len = 0;
}

int tlspeer_run(wisp_context_t *cx, tlspeer_t **peers, size_t n, int ms)
{
    uint64_t end = wisp_now_ms(cx) + (uint64_t)ms;

    while (wisp_now_ms(cx) < end) {
        size_t i, open = 0;

        for (i = 0; i < n; i++)
            open += !peers[i]->closed;
        if (!open)
            return 0;
        if (wisp_service(cx, 50))
            return WISP_EINTERNAL;
    }
    return WISP_ETIMEDOUT;
}
