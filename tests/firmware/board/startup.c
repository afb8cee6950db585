/*
 * Start code for QEMU's mps2-an386 (Cortex-M4F), for the wisp firmware test image.
 *
 * Reset: enable the FPU (the C library and the image are hard-float: any FPU
 * instruction before this would fault), copy .data from flash, zero .bss, paint the
 * stack region below the current stack pointer with a pattern, run constructors,
 * open newlib's semihosted stdio (librdimon), call main() and exit through
 * semihosting with its status, which ends QEMU with that status.
 *
 * Faults print their name through semihosting and exit with status 3, so a crash
 * is a failed test, never a hang.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board.h"

extern uint32_t __data_start, __data_end, __data_load, __bss_start__, __bss_end__;
extern uint32_t __stack_bottom, __stack_top;
extern void __libc_init_array(void);
extern void initialise_monitor_handles(void);
int main(void);

#define STACK_PAINT 0x57A5C0DEu
#define CPACR (*(volatile uint32_t *)0xE000ED88u)

void reset_handler(void);
void fault_handler(void);
void _init(void);
void _fini(void);

/* -nostartfiles drops crti/crtn: constructors run from .init_array only. */
void _init(void)
{
}

void _fini(void)
{
}

/* Paint from the bottom of the stack up to a little below the live stack pointer. */
static void __attribute__((noinline)) paint_stack(void)
{
    uint32_t *p = &__stack_bottom;
    uint32_t *sp = (uint32_t *)__builtin_frame_address(0) - 64;

    while (p < sp)
        *p++ = STACK_PAINT;
}

size_t board_stack_high_water(void)
{
    const uint32_t *p = &__stack_bottom;

    while (p < &__stack_top && *p == STACK_PAINT)
        p++;
    return (size_t)((const uint8_t *)&__stack_top - (const uint8_t *)p);
}

size_t board_stack_size(void)
{
    return (size_t)((const uint8_t *)&__stack_top - (const uint8_t *)&__stack_bottom);
}

void __attribute__((noreturn)) reset_handler(void)
{
    CPACR |= 0xFu << 20; /* CP10 and CP11: full access */
    __asm volatile("dsb\n\tisb" ::: "memory");
    memcpy(&__data_start, &__data_load,
           (size_t)((uint8_t *)&__data_end - (uint8_t *)&__data_start));
    memset(&__bss_start__, 0, (size_t)((uint8_t *)&__bss_end__ - (uint8_t *)&__bss_start__));
    paint_stack();
    __libc_init_array();
    initialise_monitor_handles();
    exit(main());
}

void __attribute__((noreturn)) fault_handler(void)
{
    uint32_t ipsr;

    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    printf("FAULT: exception %lu\n", (unsigned long)(ipsr & 0x1ff));
    exit(3);
}

/* Initial stack pointer, reset, then the fault vectors (NMI .. SysTick). */
__attribute__((section(".vectors"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))(uintptr_t)&__stack_top,
    reset_handler,
    fault_handler,
    fault_handler,
    fault_handler,
    fault_handler,
    fault_handler,
    0,
    0,
    0,
    0,
    fault_handler,
    fault_handler,
    0,
    fault_handler,
    fault_handler,
};
