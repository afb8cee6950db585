/*
 * lwIP options for wisp's socket-API flavour (lib/plat/lwip/sockets.c): NO_SYS=0, an
 * RTOS, the BSD-style socket API with lwip_poll().
 */
#ifndef WISP_LWIPOPTS_H
#define WISP_LWIPOPTS_H

#include "lwipopts-common.h"

#define NO_SYS 0
#define LWIP_SOCKET 1
#define LWIP_NETCONN 1
/* lwip_poll(), not select(): the port polls a table, like poll(2). */
#define LWIP_SOCKET_POLL 1
#define LWIP_SOCKET_SELECT 1
/* lwip_* names only: no macro may rename send/recv/close in wisp's code. */
#define LWIP_COMPAT_SOCKETS 0
#define LWIP_POSIX_SOCKETS_IO_NAMES 0
/* SO_REUSEADDR for listeners. */
#define SO_REUSE 1
/* The loopback netif is served by the tcpip thread. */
#define LWIP_NETIF_LOOPBACK_MULTITHREADING 1
/* wisp's lock is an lwIP mutex. */
#define LWIP_COMPAT_MUTEX 0
/* Sockets: connections, listeners, the two wake sockets, DNS inside lwIP. */
#ifndef MEMP_NUM_NETCONN
#define MEMP_NUM_NETCONN 12
#endif
#ifndef TCPIP_MBOX_SIZE
#define TCPIP_MBOX_SIZE 16
#endif
#ifndef DEFAULT_TCP_RECVMBOX_SIZE
#define DEFAULT_TCP_RECVMBOX_SIZE 16
#endif
#ifndef DEFAULT_UDP_RECVMBOX_SIZE
#define DEFAULT_UDP_RECVMBOX_SIZE 4
#endif
#ifndef DEFAULT_ACCEPTMBOX_SIZE
#define DEFAULT_ACCEPTMBOX_SIZE 8
#endif
#ifndef TCPIP_THREAD_STACKSIZE
#define TCPIP_THREAD_STACKSIZE 2048
#endif
#ifndef DEFAULT_THREAD_STACKSIZE
#define DEFAULT_THREAD_STACKSIZE 2048
#endif
#ifndef LWIP_NETCONN_SEM_PER_THREAD
#define LWIP_NETCONN_SEM_PER_THREAD 0
#endif
#define LWIP_TCPIP_CORE_LOCKING 1

/* Debian's lwIP (patch "port") reads socket address lengths through these macros,
 * which upstream does not have; with lwIP's own socket headers sin_len exists. */
#ifndef IPADDR_SOCKADDR_GET_LEN
#define IP4ADDR_SOCKADDR_SET_LEN(sin) (sin)->sin_len = sizeof(struct sockaddr_in)
#define IP6ADDR_SOCKADDR_SET_LEN(sin6) (sin6)->sin6_len = sizeof(struct sockaddr_in6)
#define IPADDR_SOCKADDR_GET_LEN(addr) (addr)->sa.sa_len
#endif

#endif /* WISP_LWIPOPTS_H */
