/*
 * See dnssrv.h. The answer is the query with the response bits set and, for
 * "wisp.test", one A record pointing back at the question's name (0xc00c).
 */
#include <string.h>

#include "dnssrv.h"
#include "lwip/dns.h"
#include "lwip/pbuf.h"
#include "lwip/udp.h"

static struct udp_pcb *pcb;
static unsigned queries;

static const uint8_t localhost_qname[] = "\x04wisp\x04test";

static void on_query(void *arg, struct udp_pcb *upcb, struct pbuf *p, const ip_addr_t *addr,
                     u16_t port)
{
    uint8_t q[512], answer[16] = {0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1};
    u16_t len =
        p->tot_len > sizeof(q) - sizeof(answer) ? 0 : pbuf_copy_partial(p, q, p->tot_len, 0);
    int known;
    struct pbuf *r;

    (void)arg;
    pbuf_free(p);
    if (len < 12 + sizeof(localhost_qname) + 4)
        return;
    queries++;
    /* The name, case-insensitively: lwIP may randomise the case (DNS 0x20). */
    known = len == 12 + sizeof(localhost_qname) + 4 &&
            lwip_strnicmp((const char *)q + 12, (const char *)localhost_qname,
                          sizeof(localhost_qname)) == 0;
    q[2] = 0x81;                /* QR, RD */
    q[3] = known ? 0x80 : 0x83; /* RA; NOERROR or NXDOMAIN */
    q[7] = known ? 1 : 0;       /* ANCOUNT */
    q[8] = q[9] = q[10] = q[11] = 0;
    if (known) {
        memcpy(q + len, answer, sizeof(answer));
        len = (u16_t)(len + sizeof(answer));
    }
    r = pbuf_alloc(PBUF_TRANSPORT, len, PBUF_RAM);
    if (!r)
        return;
    pbuf_take(r, q, len);
    udp_sendto(upcb, r, addr, port);
    pbuf_free(r);
}

int dnssrv_start(void)
{
    ip_addr_t lo;

    IP_ADDR4(&lo, 127, 0, 0, 1);
    pcb = udp_new();
    if (!pcb || udp_bind(pcb, &lo, 53) != ERR_OK)
        return -1;
    udp_recv(pcb, on_query, NULL);
    dns_setserver(0, &lo);
    return 0;
}

void dnssrv_stop(void)
{
    if (pcb)
        udp_remove(pcb);
    pcb = NULL;
}

unsigned dnssrv_queries(void)
{
    return queries;
}
