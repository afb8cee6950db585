/*
 * Extra lwIP options of the host tests (both flavours), read first by the project's
 * lwipopts.h through WISP_LWIP_OPTS_EXTRA: lwIP's own statistics (so a test can
 * assert that no PCB or pbuf is left) and a TIME_WAIT short enough to wait out.
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

/* Names are answered by the test's own DNS server (dnssrv.c) on the loopback netif;
 * a failed name is not retried for long. */
#define DNS_MAX_RETRIES 2

/* On a 64-bit host lwIP's heap needs 8-byte alignment. */
#define MEM_ALIGNMENT 8

#endif
