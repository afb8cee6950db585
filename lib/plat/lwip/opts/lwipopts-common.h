/*
 * lwIP options both wisp flavours share. Every option is #ifndef-guarded so a board
 * (or the host tests, through WISP_LWIP_OPTS_EXTRA) can override it first.
 */
#ifndef WISP_LWIPOPTS_COMMON_H
#define WISP_LWIPOPTS_COMMON_H

#ifdef WISP_LWIP_OPTS_EXTRA
#include WISP_LWIP_OPTS_EXTRA
#endif

/* IPv4 over TCP, UDP for DNS, the loopback netif (tests, and wisp on the device
 * talking to itself). */
#ifndef LWIP_IPV4
#define LWIP_IPV4 1
#endif
#ifndef LWIP_IPV6
#define LWIP_IPV6 0
#endif
#ifndef LWIP_TCP
#define LWIP_TCP 1
#endif
#ifndef LWIP_UDP
#define LWIP_UDP 1
#endif
#ifndef LWIP_DNS
#define LWIP_DNS 1
#endif
#ifndef LWIP_NETIF_LOOPBACK
#define LWIP_NETIF_LOOPBACK 1
#endif
#ifndef LWIP_ARP
#define LWIP_ARP 0
#endif
#ifndef LWIP_ETHERNET
#define LWIP_ETHERNET 0
#endif

/* Memory: one TLS record (16 KiB + overhead) in flight each way per connection.
 * MEM_SIZE is lwIP's own heap (PBUF_RAM for tcp_write copies and loopback). */
#ifndef MEM_ALIGNMENT
#define MEM_ALIGNMENT 4
#endif
#ifndef MEM_SIZE
#define MEM_SIZE (24 * 1024)
#endif
#ifndef TCP_MSS
#define TCP_MSS 1460
#endif
#ifndef TCP_WND
#define TCP_WND (4 * TCP_MSS)
#endif
#ifndef TCP_SND_BUF
#define TCP_SND_BUF (4 * TCP_MSS)
#endif
#ifndef TCP_SND_QUEUELEN
#define TCP_SND_QUEUELEN (4 * TCP_SND_BUF / TCP_MSS)
#endif
#ifndef MEMP_NUM_TCP_SEG
#define MEMP_NUM_TCP_SEG (2 * TCP_SND_QUEUELEN)
#endif
#ifndef MEMP_NUM_TCP_PCB
#define MEMP_NUM_TCP_PCB 8
#endif
#ifndef MEMP_NUM_TCP_PCB_LISTEN
#define MEMP_NUM_TCP_PCB_LISTEN 2
#endif
#ifndef PBUF_POOL_SIZE
#define PBUF_POOL_SIZE 16
#endif

/* The core's poll table never needs more than this; lwIP's default (1) is too few
 * for DNS plus wisp's own UDP use. */
#ifndef MEMP_NUM_UDP_PCB
#define MEMP_NUM_UDP_PCB 4
#endif

#ifndef LWIP_STATS
#define LWIP_STATS 0
#endif

#endif /* WISP_LWIPOPTS_COMMON_H */
