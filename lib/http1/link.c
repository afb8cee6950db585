/*
 * The link: one socket and, with TLS, one session over it — the transport that the
 * client's connections (client-conn.c) and the server's accepted connections
 * (server-conn.c) share, so that opening, reading, writing and, above all, closing
 * are written once (SPEC §2: "a connection is closed exactly once, by one function").
 *
 *   wisp__h1_link_connect / _adopt   socket up (counted in conns_opened, conns_live)
 *   wisp__h1_link_tls                TLS session over it (client or server config)
 *   wisp__h1_link_handshake          counted in handshakes_full / handshakes_resumed
 *   wisp__h1_link_read / _write      WANTREAD / WANTWRITE folded into WISP_EAGAIN
 *   wisp__h1_link_goodbye            close_notify and a last flush (orderly close)
 *   wisp__h1_link_close              unregister, free the TLS session, close the fd
 *
 * wisp__h1_link_close() is idempotent: a second call (a reset reported after a
 * timeout, say) finds the fd at -1 and does nothing, and the poller drops events it
 * had already fetched for the socket, so no owner hears of a closed link again.
 */
#include "http1/http1-internal.h"

static int bio_send(void *io, const uint8_t *buf, size_t len)
{
    return wisp__sock_write(io, buf, len);
}

static int bio_recv(void *io, uint8_t *buf, size_t len)
{
    return wisp__sock_read(io, buf, len);
}

static int fold(int n)
{
    return (n == WISP_EWANTWRITE || n == WISP_EWANTREAD) ? WISP_EAGAIN : n;
}

static void opened(wisp__h1_link_t *l)
{
    wisp_stats_t *st = wisp__stats(l->sock.cx);

    st->conns_opened++;
    st->conns_live++;
}

void wisp__h1_link_init(wisp_context_t *cx, wisp__h1_link_t *l, wisp__sock_cb cb, void *user)
{
    wisp__sock_init(cx, &l->sock, cb, user);
    l->tls = NULL;
}

int wisp__h1_link_connect(wisp__h1_link_t *l, const wisp_addr_t *to)
{
    int ret = wisp__sock_connect(&l->sock, to);

    if (!ret)
        opened(l);
    return ret;
}

#if WISP_WITH_SERVER
int wisp__h1_link_adopt(wisp__h1_link_t *l, int fd)
{
    int ret = wisp__sock_adopt(&l->sock, fd);

    if (!ret)
        opened(l);
    return ret;
}
#endif

int wisp__h1_link_tls(wisp__h1_link_t *l, wisp__tls_conf_t *conf, const char *peer,
                      wisp__tls_session_cb sink, void *sink_user)
{
    return wisp__tls_create(conf, peer, bio_send, bio_recv, &l->sock, sink, sink_user, &l->tls);
}

int wisp__h1_link_handshake(wisp__h1_link_t *l)
{
    wisp_stats_t *st;
    int ret = fold(wisp__tls_handshake(l->tls));

    if (ret)
        return ret;
    st = wisp__stats(l->sock.cx);
    if (wisp__tls_resumed(l->tls))
        st->handshakes_resumed++;
    else
        st->handshakes_full++;
    return 0;
}

int wisp__h1_link_read(wisp__h1_link_t *l, uint8_t *buf, size_t len)
{
    return fold(l->tls ? wisp__tls_read(l->tls, buf, len) : wisp__sock_read(&l->sock, buf, len));
}

int wisp__h1_link_write(wisp__h1_link_t *l, const uint8_t *buf, size_t len)
{
    return fold(l->tls ? wisp__tls_write(l->tls, buf, len) : wisp__sock_write(&l->sock, buf, len));
}

size_t wisp__h1_link_pending(const wisp__h1_link_t *l)
{
    /* Decrypted bytes in TLS, and read-ahead bytes poll cannot see. */
    return (l->tls ? wisp__tls_pending(l->tls) : 0) + wisp__sock_buffered(&l->sock);
}

void wisp__h1_link_goodbye(wisp__h1_link_t *l)
{
    if (l->sock.fd < 0)
        return;
    if (l->tls)
        (void)wisp__tls_close_notify(l->tls);
    (void)wisp__sock_flush(&l->sock);
}

void wisp__h1_link_close(wisp__h1_link_t *l)
{
    if (l->sock.fd < 0)
        return;
    wisp__sock_unregister(&l->sock);
    wisp__tls_destroy(&l->tls);
    wisp__sock_close(&l->sock);
    wisp__stats(l->sock.cx)->conns_live--;
}
