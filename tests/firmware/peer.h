/* The in-image TLS peer: an HTTPS/1.1 server on mbedTLS's own server API. */
#ifndef WISP_FW_PEER_H
#define WISP_FW_PEER_H

#include "core/core-internal.h"

/** Set up the server config; its mbedTLS heap is charged to heap_owner. 0 or -1. */
int peer_init(wisp_context_t *heap_owner);
/** Run the peer as far as it can go without blocking. */
void peer_step(void);
/** 1 once the peer has served one request and closed. */
int peer_done(void);
/** The negotiated version and suite ("TLSv1.2 TLS-ECDHE-..."), "" before. */
const char *peer_version(void);
const char *peer_suite(void);
void peer_free(void);

#endif
