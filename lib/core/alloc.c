/*
 * Accounted allocation.
 *
 * Every byte wisp holds comes from wisp__alloc(), which prefixes each block with a
 * header recording its size, so wisp__free() can keep bytes-in-use exact without the
 * user allocator's help. The header is one max-aligned unit, so blocks stay aligned
 * for any type. With a heap limit, an allocation that would pass it fails with NULL
 * (and one warning per context) before the user allocator is asked.
 *
 * This file is the only place under lib/ that may name the C library's allocator: it
 * provides the default when the application supplies none.
 */
#include <string.h>

#include "core/context-private.h"

#if WISP_WITH_DEFAULT_ALLOC
#include <stdlib.h>
#endif

typedef union wisp__blk {
    size_t size;
    long double ld;
    void *p;
    long long ll;
} wisp__blk_t;

#if WISP_WITH_DEFAULT_ALLOC
static void *libc_alloc(void *user, size_t size)
{
    (void)user;
    return malloc(size);
}

static void libc_free(void *user, void *ptr)
{
    (void)user;
    free(ptr);
}

void wisp__alloc_default(wisp_allocator_t *a);
void wisp__alloc_default(wisp_allocator_t *a)
{
    a->alloc = libc_alloc;
    a->free = libc_free;
    a->user = NULL;
}
#endif

void *wisp__alloc(wisp_context_t *cx, size_t size)
{
    wisp__blk_t *b;
    size_t total;

    if (!cx || size == 0 || size > (size_t)-1 - sizeof(*b))
        return NULL;
    total = size + sizeof(*b);
    if (cx->heap_limit && cx->stats.heap_in_use + total > cx->heap_limit) {
        if (!cx->heap_warned) {
            cx->heap_warned = 1;
            WISP_LOGW(cx, "heap limit %lu reached (in use %lu, asked %lu)",
                      (unsigned long)cx->heap_limit, (unsigned long)cx->stats.heap_in_use,
                      (unsigned long)size);
        }
        return NULL;
    }
    b = cx->alloc.alloc(cx->alloc.user, total);
    if (!b)
        return NULL;
    b->size = total;
    cx->stats.heap_in_use += total;
    if (cx->stats.heap_in_use > cx->stats.heap_peak)
        cx->stats.heap_peak = cx->stats.heap_in_use;
    return b + 1;
}

void *wisp__zalloc(wisp_context_t *cx, size_t size)
{
    void *p = wisp__alloc(cx, size);

    if (p)
        memset(p, 0, size);
    return p;
}

void wisp__free(wisp_context_t *cx, void *ptr)
{
    wisp__blk_t *b;

    if (!ptr || !cx)
        return;
    b = (wisp__blk_t *)ptr - 1;
    if (b->size > cx->stats.heap_in_use) {
        /* Accounting underflow means a block from elsewhere or a double free. */
        WISP_LOGE(cx, "wisp__free: block of %lu bytes exceeds heap in use %lu",
                  (unsigned long)b->size, (unsigned long)cx->stats.heap_in_use);
        return;
    }
    cx->stats.heap_in_use -= b->size;
    cx->alloc.free(cx->alloc.user, b);
}

char *wisp__strndup(wisp_context_t *cx, const char *s, size_t len)
{
    char *d;

    if (!s || len == (size_t)-1)
        return NULL;
    d = wisp__alloc(cx, len + 1);
    if (!d)
        return NULL;
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}
