/*
 * Extra lwIP options of the lwIP firmware image (read first by the raw flavour's
 * lwipopts.h through WISP_LWIP_OPTS_EXTRA): lwIP's own statistics, so the image can
 * print that no PCB, segment, pbuf or heap byte is left, and a TIME_WAIT short
 * enough to wait out on the virtual clock. Everything else is the project's raw
 * options as a board would use them.
 */
#ifndef WISP_FW_LWIPOPTS_H
#define WISP_FW_LWIPOPTS_H

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

/* TIME_WAIT lasts 2 * TCP_MSL (virtual) milliseconds. */
#define TCP_MSL 100UL

#endif
