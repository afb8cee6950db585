/*
 * Link check of the raw flavour on Cortex-M4: lwIP, the port and the example board
 * file resolve every symbol. The table references every op, so all of raw.c links.
 */
#include "lwip/init.h"
#include "wisp-lwip.h"

int main(void)
{
    const wisp_plat_ops_t *p;
    wisp_pollfd_t none;

    lwip_init();
    p = wisp_plat_lwip_raw();
    (void)p->poll(p->user, &none, 0, 0, NULL);
    return (int)p->now_ms(p->user);
}
