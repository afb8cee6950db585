/*
 * Extra lwIP options of the host tests (both flavours), read first by the project's
 * lwipopts.h through WISP_LWIP_OPTS_EXTRA: lwIP's own statistics (so a test can
 * assert that no PCB or pbuf is left), a TIME_WAIT short enough to wait out, and a
 * local host list so a name resolves without a DNS server.
 */
#ifndef WISP_LWIPOPTS_TEST_H
#define WISP_LWIPOPTS_TEST_H

#define LWIP_STATS 1
#define MEMP_STATS 1
#define MEM_STATS 1
#define LWIP_STATS_DISPLAY 0
#define TCP_STATS 0
#define UDP_STATS 0
#define IP_STATS 0
#define LINK_STATS 0
#define ICMP_STATS 0
#define SYS_STATS 0

/* TIME_WAIT lasts 2 * TCP_MSL. */
#define TCP_MSL 100UL

#define MEM_SIZE (256 * 1024)
#define MEMP_NUM_TCP_PCB 24
#define MEMP_NUM_NETCONN 32
#define PBUF_POOL_SIZE 32

#define DNS_LOCAL_HOSTLIST 1
#define DNS_LOCAL_HOSTLIST_INIT                                                                    \
    {                                                                                              \
        DNS_LOCAL_HOSTLIST_ELEM("localhost", IPADDR4_INIT_BYTES(127, 0, 0, 1))                     \
    }

/* On a 64-bit host lwIP's heap needs 8-byte alignment. */
#define MEM_ALIGNMENT 8

#endif
