/*
 * The shape of an RTOS sys_arch.h for lwIP (NO_SYS=0): opaque handles, as FreeRTOS'
 * and most RTOS ports of lwIP declare them. Used for the Cortex-M4 compile check of
 * the sockets flavour; a board uses its RTOS's own sys_arch.h and sys_arch.c.
 */
#ifndef WISP_LWIP_RTOS_SYS_ARCH_H
#define WISP_LWIP_RTOS_SYS_ARCH_H

#define SYS_MBOX_NULL NULL
#define SYS_SEM_NULL NULL

typedef void *sys_sem_t;
typedef void *sys_mutex_t;
typedef void *sys_mbox_t;
typedef void *sys_thread_t;

#define sys_sem_valid(s) (((s) != NULL) && (*(s) != NULL))
#define sys_sem_set_invalid(s)                                                                     \
    do {                                                                                           \
        if ((s) != NULL)                                                                           \
            *(s) = NULL;                                                                           \
    } while (0)
#define sys_mutex_valid(m) sys_sem_valid(m)
#define sys_mutex_set_invalid(m) sys_sem_set_invalid(m)
#define sys_mbox_valid(m) sys_sem_valid(m)
#define sys_mbox_set_invalid(m) sys_sem_set_invalid(m)

#endif
