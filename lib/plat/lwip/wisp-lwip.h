/*
 * The lwIP ports of wisp: what an application and a board see.
 *
 * Two flavours implement include/wisp/plat.h over lwIP, one per build of lwIP:
 *   sockets.c  over lwip/sockets.h (NO_SYS=0, an RTOS): wisp_plat_lwip_sockets()
 *   raw.c      over lwip/tcp.h (NO_SYS=1, bare metal): wisp_plat_lwip_raw()
 * Pass the table in wisp_context_info_t.plat. lib/plat/README.md is the porting guide.
 *
 * The board supplies the functions declared under "Board hooks" (and lwIP's own
 * sys_now(), plus the RTOS's sys_arch for the sockets flavour).
 */
#ifndef WISP_LWIP_H
#define WISP_LWIP_H

#include <stddef.h>
#include <stdint.h>

#include "wisp/plat.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The socket-API port (NO_SYS=0). lwIP must be running (tcpip_init() done). */
const wisp_plat_ops_t *wisp_plat_lwip_sockets(void);
/** The raw-API port (NO_SYS=1). lwip_init() and the board's netifs must be up. */
const wisp_plat_ops_t *wisp_plat_lwip_raw(void);

/* ---- Board hooks: the board file defines these ---- */

/** Fill buf with len bytes from a cryptographically secure source (a TRNG). 0 on
 *  success, nonzero on failure. Called on the loop thread (and by LWIP_RAND). */
int wisp_lwip_board_entropy(void *buf, size_t len);

/** Raw flavour only: called on every turn of the poll loop before readiness is
 *  checked. Feed received frames to lwIP here (e.g. ethernetif_input()); may be empty. */
void wisp_lwip_board_poll(void);

/** Raw flavour only: nothing is ready; wait for an interrupt or at most ms
 *  milliseconds (e.g. __WFI() with a tick interrupt running). May return at once. */
void wisp_lwip_board_idle(uint32_t ms);

/* ---- Shared by both ports (lib/plat/lwip/clock.c) ---- */

/** 32-bit millisecond counter widened to 64 bits across its 49.7-day wrap. */
typedef struct wisp_lwip_clock {
    uint32_t last; /**< the previous 32-bit reading */
    uint32_t wraps;
} wisp_lwip_clock_t;

/** Widen one reading of a 32-bit counter. Correct as long as it is called at least
 *  once per wrap (49.7 days for milliseconds); the ports guarantee that. */
uint64_t wisp_lwip_clock_widen(wisp_lwip_clock_t *c, uint32_t now32);

/** now_ms of both ports: sys_now() widened (under SYS_ARCH_PROTECT). */
uint64_t wisp__lwip_now_ms(void *user);
/** entropy of both ports: the board hook, mapped to WISP_EINTERNAL on failure. */
int wisp__lwip_entropy(void *user, void *buf, size_t len);
/** LWIP_RAND() of the project's lwipopts.h: 32 bits from the board's entropy. */
uint32_t wisp_lwip_rand(void);

#ifdef __cplusplus
}
#endif

#endif /* WISP_LWIP_H */
