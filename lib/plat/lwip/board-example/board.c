/*
 * The smallest board file for wisp's raw lwIP flavour (NO_SYS=1) on a Cortex-M part:
 * a 1 ms SysTick for sys_now(), the MCU's TRNG for entropy, nothing to poll (add
 * ethernetif_input() for a real NIC) and WFI when idle. Replace the two register
 * addresses with your MCU's; everything else is generic Cortex-M.
 *
 * The sockets flavour needs only board_entropy here: its clock is the RTOS port's
 * sys_now(), and the RTOS's sys_arch.c supplies threads, mutexes and mailboxes.
 */
#include <stdint.h>
#include <string.h>

#include "lwip/sys.h"
#include "wisp-lwip.h"

/* Your MCU's TRNG: a status register with a "data ready" bit and a data register. */
#define BOARD_TRNG_STATUS (*(volatile uint32_t *)0x40060000u)
#define BOARD_TRNG_DATA (*(volatile uint32_t *)0x40060004u)
#define BOARD_TRNG_READY 1u

static volatile uint32_t board_ms;

/* Wire to the vector table; SysTick set to 1 kHz at start-up (SysTick_Config()). */
void SysTick_Handler(void);
void SysTick_Handler(void)
{
    board_ms++;
}

u32_t sys_now(void)
{
    return board_ms;
}

int wisp_lwip_board_entropy(void *buf, size_t len)
{
    uint8_t *p = buf;

    while (len) {
        uint32_t word, n = len < 4 ? (uint32_t)len : 4u;

        while (!(BOARD_TRNG_STATUS & BOARD_TRNG_READY))
            ;
        word = BOARD_TRNG_DATA;
        memcpy(p, &word, n);
        p += n;
        len -= n;
    }
    return 0;
}

void wisp_lwip_board_poll(void)
{
}

void wisp_lwip_board_idle(uint32_t ms)
{
    (void)ms; /* the SysTick interrupt ends the WFI within 1 ms */
    __asm volatile("wfi");
}
