/*
 * The board file of the lwIP firmware image (wisp-fw-lwip.elf): what a real board
 * supplies for the raw flavour (lib/plat/README.md, "What your board supplies"),
 * here for QEMU's mps2-an386 with no NIC, plus the in-image TLS peer's sockets.
 *
 * - sys_now(): a virtual millisecond clock that advances only when the port's poll
 *   has nothing to do (wisp_lwip_board_idle), by the time it would have slept. The
 *   run is then the same on every machine however fast QEMU is, and lwIP's timers
 *   (retransmission, TIME_WAIT) still fire in order.
 * - wisp_lwip_board_entropy(): the TEST-ONLY fixed-seed generator of plat-mem.c. A
 *   real board must use its TRNG.
 * - wisp_lwip_board_poll(): nothing; the loopback netif is driven by the port.
 *
 * The peer's sockets are the same raw port's (wisp_plat_lwip_raw()): a listener on
 * 127.0.0.1:443 whose accepted connection the peer reads and writes with the table's
 * sock_recv/sock_send. So both ends of the connection are lwIP TCP PCBs on the
 * loopback netif, and every byte crosses lwIP's TCP twice.
 */
#include <stdio.h>

#include "lwip/init.h"
#include "lwip/memp.h"
#include "lwip/stats.h"
#include "lwip/sys.h"

#include "lwip-board.h"
#include "plat-mem.h"
#include "wisp-lwip.h"

static uint32_t board_ms;
static int listen_fd = -1;
static unsigned accepted;

u32_t sys_now(void)
{
    return board_ms;
}

int wisp_lwip_board_entropy(void *buf, size_t len)
{
    return mem_entropy(NULL, buf, len);
}

void wisp_lwip_board_poll(void)
{
}

void wisp_lwip_board_idle(uint32_t ms)
{
    /* At least 1 ms: a due timer (ms 0) must not spin the clock in place. */
    board_ms += ms ? ms : 1u;
}

void fw_lwip_init(void)
{
    lwip_init();
}

static int io_accept(void)
{
    const wisp_plat_ops_t *o = wisp_plat_lwip_raw();
    int fd;

    if (o->tcp_accept(o->user, listen_fd, &fd, NULL))
        return -1;
    accepted++;
    return fd;
}

static int io_send(int fd, const void *buf, size_t len)
{
    const wisp_plat_ops_t *o = wisp_plat_lwip_raw();

    return o->sock_send(o->user, fd, buf, len);
}

static int io_recv(int fd, void *buf, size_t len)
{
    const wisp_plat_ops_t *o = wisp_plat_lwip_raw();

    return o->sock_recv(o->user, fd, buf, len);
}

static void io_close(int fd)
{
    const wisp_plat_ops_t *o = wisp_plat_lwip_raw();

    o->sock_close(o->user, fd);
}

static const peer_io_t io = {io_accept, io_send, io_recv, io_close, mem_entropy};

const peer_io_t *fw_lwip_peer_io(void)
{
    const wisp_plat_ops_t *o = wisp_plat_lwip_raw();
    wisp_addr_t at;

    if (listen_fd < 0 && (wisp_addr_parse("127.0.0.1", 443, &at) ||
                          o->tcp_listen(o->user, &at, 1, &listen_fd, NULL)))
        return NULL;
    return &io;
}

void fw_lwip_peer_io_close(void)
{
    if (listen_fd >= 0)
        io_close(listen_fd);
    listen_fd = -1;
}

unsigned fw_lwip_report(void)
{
    unsigned pcb = lwip_stats.memp[MEMP_TCP_PCB]->used;
    unsigned lis = lwip_stats.memp[MEMP_TCP_PCB_LISTEN]->used;
    unsigned seg = lwip_stats.memp[MEMP_TCP_SEG]->used;
    unsigned pbuf = lwip_stats.memp[MEMP_PBUF]->used + lwip_stats.memp[MEMP_PBUF_POOL]->used;
    unsigned heap = (unsigned)lwip_stats.mem.used;

    /* Proof the bytes went through lwIP: the peer's accept, and both ends' PCBs. */
    printf("lwip: connections accepted %u, peak tcp pcbs %u, peak listeners %u\n", accepted,
           (unsigned)lwip_stats.memp[MEMP_TCP_PCB]->max,
           (unsigned)lwip_stats.memp[MEMP_TCP_PCB_LISTEN]->max);
    printf("lwip in use: tcp pcbs %u, listeners %u, segments %u, pbufs %u, heap %u\n", pcb, lis,
           seg, pbuf, heap);
    return pcb + lis + seg + pbuf + heap;
}
