/*
 * What both lwIP ports share: the 64-bit clock over lwIP's 32-bit sys_now(), entropy
 * from the board, and LWIP_RAND() from that same entropy.
 *
 * sys_now() wraps every 2^32 ms (49.7 days). The widened clock counts wraps: a
 * reading below the previous one means the counter went round once. That holds while
 * readings are less than one wrap apart, which the ports ensure by never sleeping in
 * poll for longer than WISP_LWIP_MAX_SLEEP_MS (one day) and reading the clock on
 * every poll.
 */
#include "lwip/arch.h"
#include "lwip/sys.h"

#include "wisp-lwip.h"
#include "wisp/error.h"

uint64_t wisp_lwip_clock_widen(wisp_lwip_clock_t *c, uint32_t now32)
{
    if (now32 < c->last)
        c->wraps++;
    c->last = now32;
    return ((uint64_t)c->wraps << 32) | now32;
}

/* One clock for every context: sys_now() is one counter. */
static wisp_lwip_clock_t lwip_clock;

uint64_t wisp__lwip_now_ms(void *user)
{
    uint64_t now;
    SYS_ARCH_DECL_PROTECT(lev);

    (void)user;
    SYS_ARCH_PROTECT(lev);
    now = wisp_lwip_clock_widen(&lwip_clock, (uint32_t)sys_now());
    SYS_ARCH_UNPROTECT(lev);
    return now;
}

int wisp__lwip_entropy(void *user, void *buf, size_t len)
{
    (void)user;
    return wisp_lwip_board_entropy(buf, len) ? WISP_EINTERNAL : 0;
}

uint32_t wisp_lwip_rand(void)
{
    uint32_t r = 0;

    (void)wisp_lwip_board_entropy(&r, sizeof(r));
    return r;
}
