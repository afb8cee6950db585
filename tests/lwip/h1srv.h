/*
 * A small HTTP/1.1 server (over TLS, or plain) for the lwIP host tests, on the wisp loop of the
 * context under test (wisp__sock + wisp__tls), so it talks through whichever plat
 * port the context uses. One response per path:
 *   /hello    200, a fixed body         /echo   200, "posted N" (N body bytes read)
 *   /q        200, "q"                  /slow   no answer at all
 *   /reset    read the head, then close at once while the client still sends its
 *             body: lwIP answers the rest with a reset
 */
#ifndef WISP_TEST_H1SRV_H
#define WISP_TEST_H1SRV_H

#include "core/core-internal.h"
#include "tls/tls-internal.h"

#define H1SRV_CONNS 8

typedef struct h1srv_conn {
    struct h1srv *srv;
    wisp__sock_t sock;
    wisp__tls_t *tls;
    uint8_t used, hs_done;
    char in[24576];
    size_t in_len;
    char out[512];
    size_t out_len, out_off;
} h1srv_conn_t;

typedef struct h1srv {
    wisp_context_t *cx;
    wisp__sock_t lsock;
    wisp__tls_conf_t *conf;
    wisp_addr_t bound;
    h1srv_conn_t conns[H1SRV_CONNS];
    unsigned accepted, requests;
} h1srv_t;

/** Listen on 127.0.0.1:port, with TLS (server.pem) or plain. */
int h1srv_open(h1srv_t *s, wisp_context_t *cx, uint16_t port, int tls);
void h1srv_close(h1srv_t *s);

#endif
