/*
 * A TLS endpoint on the wisp loop for tests: a buffered socket plus a TLS session,
 * sending tx_total bytes of a seeded pattern in random-sized writes while checking
 * that it receives rx_total bytes of the peer's pattern.
 */
#ifndef WISP_TEST_TLSPEER_H
#define WISP_TEST_TLSPEER_H

#include "core/core-internal.h"
#include "tls/tls-internal.h"

typedef struct tlspeer {
    wisp_context_t *cx;
    wisp__sock_t sock;
    wisp__tls_t *tls;
    const char *name;
    uint8_t server, hs_done, finished, closed;
    int err; /* first failure, 0 if none */
    size_t tx_total, tx_done, rx_total, rx_done;
    uint8_t tx_seed, rx_seed;
    uint32_t rng;       /* write sizes */
    size_t max_write;   /* largest single write; 0 = 16384 */
    size_t tx_pending;  /* length of a write TLS asked to repeat */
    int resumed;        /* handshake outcome */
    uint8_t wait_close; /* client: finish only at the peer's close (read to the end) */
    uint8_t close_done; /* server: close as soon as done, before the client does */
    uint8_t bare_close; /* close the TCP connection without close_notify */
    int last_read;      /* the wisp__tls_read result that ended reading (0 or error) */
    /* Called once when the handshake completes (before any application data). */
    void (*on_handshake)(struct tlspeer *p);
    void *user;
    /* Nonzero: keep the latest resumable session TLS offers in *session (client;
     * under TLS 1.3 it arrives after the handshake, with the first read). */
    int save_session;
    wisp__tls_session_t *session;
} tlspeer_t;

/** Start a client: connect to addr, TLS with peer name host. */
int tlspeer_connect(tlspeer_t *p, wisp_context_t *cx, wisp__tls_conf_t *conf, const char *host,
                    const wisp_addr_t *addr, const wisp__tls_session_t *resume);
/** Start a server side on an accepted fd. */
int tlspeer_accept(tlspeer_t *p, wisp_context_t *cx, wisp__tls_conf_t *conf, int fd);
/** Close (close_notify if established) and free the TLS session. Idempotent. */
void tlspeer_close(tlspeer_t *p);

/** A listener that accepts one connection into *peer (configured by the caller). */
typedef struct tlslistener {
    wisp__sock_t sock;
    wisp__tls_conf_t *conf;
    tlspeer_t *peers;
    size_t npeers, accepted;
    wisp_addr_t bound;
    /* copied into each accepted peer */
    size_t tx_total, rx_total;
} tlslistener_t;

int tlslistener_open(tlslistener_t *l, wisp_context_t *cx, wisp__tls_conf_t *conf, const char *ip,
                     tlspeer_t *peers, size_t npeers);
void tlslistener_close(tlslistener_t *l);

/** DIR/NAME as a blob (data from malloc; NULL if unreadable); free with
 *  tlspeer_blob_free(). */
wisp__tls_blob_t tlspeer_cert_blob(const char *dir, const char *name);
void tlspeer_blob_free(wisp__tls_blob_t *b);

/** Run the loop until every peer in the array is finished or failed, or ms pass. */
int tlspeer_run(wisp_context_t *cx, tlspeer_t **peers, size_t n, int ms);

#endif
