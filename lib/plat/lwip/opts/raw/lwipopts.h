/*
 * lwIP options for wisp's raw-API flavour (lib/plat/lwip/raw.c): NO_SYS=1, bare
 * metal, no threads. wisp's poll drives sys_check_timeouts() and the loopback netif.
 */
#ifndef WISP_LWIPOPTS_H
#define WISP_LWIPOPTS_H

#include "lwipopts-common.h"

#define NO_SYS 1
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
/* Loopback packets are delivered by netif_poll_all() from wisp's poll. */
#define LWIP_NETIF_LOOPBACK_MULTITHREADING 0
/* SYS_LIGHTWEIGHT_PROT=1 when interrupts call into lwIP or wisp_post(): the board
 * then supplies sys_arch_protect()/sys_arch_unprotect(). */
#ifndef SYS_LIGHTWEIGHT_PROT
#define SYS_LIGHTWEIGHT_PROT 0
#endif

#endif /* WISP_LWIPOPTS_H */
