/* The in-image TLS peer: an HTTPS/1.1 server on mbedTLS's own server API. */
#ifndef WISP_FW_PEER_H
#define WISP_FW_PEER_H

#include "core/core-internal.h"

/** The peer's transport: the in-memory sockets (plat-mem.c) or lwIP's raw API
 *  (lwip-board.c). Results as the wisp_plat_ops_t socket ops (WISP_EAGAIN...). */
typedef struct peer_io {
    int (*accept)(void); /**< an accepted connection's fd, or -1 for none yet */
    int (*send)(int fd, const void *buf, size_t len);
    int (*recv)(int fd, void *buf, size_t len);
    void (*close)(int fd);
    int (*entropy)(void *user, void *buf, size_t len); /**< seeds the peer's DRBG */
} peer_io_t;

/** Set up the server config over io; its mbedTLS heap is charged to heap_owner.
 *  0 or -1. */
int peer_init(wisp_context_t *heap_owner, const peer_io_t *io);
/** Run the peer as far as it can go without blocking. */
void peer_step(void);
/** 1 once the peer has served one request and closed. */
int peer_done(void);
/** After peer_done(): accept the next connection and answer REQUESTS requests on it
 *  (kept alive between them). 0, or -1 if the last connection is not done. */
int peer_serve(unsigned requests);
/** The negotiated version and suite ("TLSv1.2 TLS-ECDHE-..."), "" before. */
const char *peer_version(void);
const char *peer_suite(void);
void peer_free(void);

#endif
