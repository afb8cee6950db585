/*
 * No peer: for wisp-fw-client.elf, the size-only image (bench/firmware-sizes.sh).
 * It is main.c linked without the in-image TLS server, so its flash figure is that
 * of a client-only product: wisp, mbedTLS's client side, newlib-nano and the board.
 * It is built, measured and never run (with no peer its stream cannot connect).
 */
#include "peer.h"

int peer_init(wisp_context_t *heap_owner, const peer_io_t *io)
{
    (void)heap_owner;
    (void)io;
    return 0;
}

void peer_step(void)
{
}

int peer_done(void)
{
    return 0;
}

int peer_serve(unsigned requests)
{
    (void)requests;
    return -1;
}

const char *peer_version(void)
{
    return "";
}

const char *peer_suite(void)
{
    return "";
}

void peer_free(void)
{
}
