/*
 * lwIP compiler/platform glue shared by every wisp build of lwIP (host and
 * Cortex-M, both flavours): a C99 compiler with <stdint.h>, <errno.h> and
 * <sys/time.h> (glibc or newlib).
 */
#ifndef WISP_LWIP_ARCH_CC_H
#define WISP_LWIP_ARCH_CC_H

#include <stdint.h>
#include <stdlib.h>
#include <sys/time.h>

/* struct timeval comes from the C library, errno and its codes too. */
#define LWIP_TIMEVAL_PRIVATE 0
#define LWIP_ERRNO_STDINCLUDE 1

/* The saved interrupt state of SYS_ARCH_PROTECT (e.g. PRIMASK on Cortex-M). */
typedef uint32_t sys_prot_t;

/* Random numbers (TCP ports and ISNs, DNS ids) from the board's entropy source. */
uint32_t wisp_lwip_rand(void);
#define LWIP_RAND() ((u32_t)wisp_lwip_rand())

#ifdef WISP_LWIP_HOSTED
#include <stdio.h>
#define LWIP_PLATFORM_DIAG(x)                                                                      \
    do {                                                                                           \
        printf x;                                                                                  \
    } while (0)
#define LWIP_PLATFORM_ASSERT(x)                                                                    \
    do {                                                                                           \
        fprintf(stderr, "lwIP assertion \"%s\" failed at %s:%d\n", x, __FILE__, __LINE__);         \
        abort();                                                                                   \
    } while (0)
#else
/* Firmware: no stdio. An assertion stops the program where a debugger sees it. */
#define LWIP_PLATFORM_DIAG(x)                                                                      \
    do {                                                                                           \
    } while (0)
#define LWIP_PLATFORM_ASSERT(x)                                                                    \
    do {                                                                                           \
        (void)(x);                                                                                 \
        abort();                                                                                   \
    } while (0)
#endif

#endif /* WISP_LWIP_ARCH_CC_H */
