/*
 * mbedTLS's heap through the context allocator (MBEDTLS_PLATFORM_MEMORY builds, such
 * as the embedded profile in cmake/mbedtls/), so heap_in_use and heap_peak count
 * what mbedTLS holds for a context, and a heap limit bounds it too.
 *
 * How a process-global hook is attributed to a context. mbedTLS 2.28's
 * mbedtls_platform_set_calloc_free() takes two plain functions, with no user pointer,
 * for the whole process. wisp therefore keeps one "owner": the context on whose
 * behalf mbedTLS is running now. Every entry point of lib/tls/tls.c that calls into
 * mbedTLS first makes its context the owner (wisp__tls_heap_use), so an allocation
 * is charged to the context that caused it. Each block carries its owner in a
 * header, so a free returns the bytes to the context they came from whichever
 * context happens to be the owner then (mbedTLS frees from its own objects, e.g. a
 * session freed long after the handshake). With no owner an allocation fails: no
 * mbedTLS memory escapes the accounting, and no malloc is ever linked for it.
 *
 * Process-global state is the exception: PSA's (mbedTLS 3.6), made by the first
 * psa_crypto_init() and kept until mbedtls_psa_crypto_free(), belongs to no context,
 * and charging it to the first one would leave that context's idle heap above its
 * starting figure for ever (and its blocks pointing at a freed context once it is
 * destroyed). So psa_crypto_init() runs in a "global" section (wisp__tls_heap_global):
 * its blocks come from the allocator of the first context that needed PSA, remembered
 * for the process, carry no owner in their header, and count in no context.
 *
 * The owner is per thread where the toolchain has thread-local storage on a hosted
 * system (a context belongs to one loop thread: SPEC §5), and a plain variable on
 * bare metal, where everything runs on one thread. Code outside wisp that uses
 * mbedTLS in the same process (the firmware test's own TLS server) names an owner
 * for its calls with wisp__tls_heap_use() as well.
 */
#include <string.h>

#include <mbedtls/platform.h>

#include "core/context-private.h"
#include "tls/tls-heap.h"

#if defined(MBEDTLS_PLATFORM_MEMORY)

#if WISP_WITH_PLAT_POSIX && defined(__GNUC__)
#define OWNER_STORAGE static __thread
#else
#define OWNER_STORAGE static
#endif

/* One max-aligned header before each block: the owning context. */
typedef union tls_blk {
    wisp_context_t *cx;
    long double ld;
    void *p;
    long long ll;
} tls_blk_t;

OWNER_STORAGE wisp_context_t *owner;
OWNER_STORAGE uint8_t global; /* in a wisp__tls_heap_global() section */
static wisp_allocator_t global_alloc;

static void *heap_calloc(size_t n, size_t size)
{
    tls_blk_t *b;

    if ((!owner && !global) || !n || !size || n > ((size_t)-1 - sizeof(*b)) / size)
        return NULL;
    if (global)
        b = global_alloc.alloc(global_alloc.user, n * size + sizeof(*b));
    else
        b = wisp__alloc(owner, n * size + sizeof(*b));
    if (!b)
        return NULL;
    memset(b + 1, 0, n * size);
    b->cx = owner;
    return b + 1;
}

static void heap_free(void *ptr)
{
    tls_blk_t *b;

    if (!ptr)
        return;
    b = (tls_blk_t *)ptr - 1;
    if (b->cx)
        wisp__free(b->cx, b);
    else
        global_alloc.free(global_alloc.user, b);
}

wisp_context_t *wisp__tls_heap_use(wisp_context_t *cx)
{
    static uint8_t installed;
    wisp_context_t *prev = owner;

    if (!installed) {
        mbedtls_platform_set_calloc_free(heap_calloc, heap_free);
        installed = 1;
    }
    owner = cx;
    global = 0;
    return prev;
}

wisp_context_t *wisp__tls_heap_global(wisp_context_t *cx)
{
    wisp_context_t *prev = wisp__tls_heap_use(NULL);

    if (!global_alloc.alloc && cx)
        global_alloc = cx->alloc;
    global = global_alloc.alloc != NULL;
    return prev;
}

#else

wisp_context_t *wisp__tls_heap_use(wisp_context_t *cx)
{
    (void)cx;
    return NULL;
}

wisp_context_t *wisp__tls_heap_global(wisp_context_t *cx)
{
    (void)cx;
    return NULL;
}

#endif
