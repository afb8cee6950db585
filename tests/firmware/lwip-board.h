/*
 * The firmware test board for wisp's raw lwIP flavour (lib/plat/lwip/raw.c, NO_SYS=1):
 * lwIP's loopback netif as the network, a virtual clock, and the in-image peer's
 * sockets over the same port.
 */
#ifndef WISP_FW_LWIP_BOARD_H
#define WISP_FW_LWIP_BOARD_H

#include "peer.h"

/** lwip_init() (which brings up the loopback netif, 127.0.0.1). */
void fw_lwip_init(void);
/** The peer's transport: a listener on 127.0.0.1:443 through wisp_plat_lwip_raw(),
 *  opened by the first call. NULL if it cannot listen. */
const peer_io_t *fw_lwip_peer_io(void);
/** Close the peer's listener. */
void fw_lwip_peer_io_close(void);
/** Print lwIP's own counts of what is in use (TCP PCBs, listeners, segments, pbufs,
 *  heap bytes) and return their sum: 0 when nothing is left. */
unsigned fw_lwip_report(void);

#endif
