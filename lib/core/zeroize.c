/*
 * Zeroizing memory that held a secret (SPEC §8: private keys, and the policy text
 * that held them, are zeroized before they are freed).
 *
 * A memset() just before free() is a dead store the compiler may delete, and does
 * at -O2. Writing through a volatile pointer is a side effect it must keep, in any
 * C99 compiler and without memset_s or explicit_bzero (neither is C99, and
 * lib/policy may not reach for mbedtls_platform_zeroize: it does not link Mbed TLS).
 * It is a byte loop: secrets are a few KiB at most and zeroized once.
 */
#include "core/core-internal.h"

void wisp__zeroize(void *p, size_t len)
{
    volatile unsigned char *v = p;

    if (!p)
        return;
    while (len--)
        *v++ = 0;
}
