/*
 * A DNS responder on lwIP's raw UDP API for the lwIP host tests: answers A queries
 * for "wisp.test" with 127.0.0.1 and everything else with NXDOMAIN, on
 * 127.0.0.1:53 of the loopback netif, so names go through lwIP's real DNS client
 * (a query, a reply, the callback) in both flavours. Call with lwIP's core lock held
 * (sockets flavour) or from the loop (raw flavour).
 */
#ifndef WISP_TEST_DNSSRV_H
#define WISP_TEST_DNSSRV_H

/** Start answering and point lwIP's DNS client at it. 0 or -1. */
int dnssrv_start(void);
void dnssrv_stop(void);
/** Queries answered so far. */
unsigned dnssrv_queries(void);

#endif
